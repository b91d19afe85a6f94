/*
 * main.c - brokerd: start-up, the run, and a clean stop.
 *
 *   brokerd --dev DIR     the embedded default in DIR (foreground, stderr)
 *   brokerd -c FILE       run from a config file
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auditfeed.h"
#include "ca.h"
#include "daemon.h"
#include "log.h"
#include "metrics_http.h"
#include "notify.h"
#include "policystate.h"
#include "sdnotify.h"
#include "server.h"
#include "timefmt.h"
#include "workpool.h"
#include "tls.h"

/* The notification sinks there are; the notifier knows them only so. */
static const struct nsink_kind *const sink_kinds[] = { &nsink_exec_kind,
	&nsink_webhook_kind };

static void
usage(FILE *f)
{
	fprintf(f, "usage: brokerd --dev DIR\n"
	    "       brokerd -c FILE [--rotate-ca]\n"
	    "\n"
	    "  --dev DIR    run the embedded default in DIR (created if missing):\n"
	    "               state, example policy, socket DIR/broker.sock\n"
	    "  -c FILE      run from a JSON config (see deploy/brokerd.json)\n"
	    "  --rotate-ca  make a new CA key current and exit (previous keys\n"
	    "               stay listed by `broker ca show --all`); restart\n"
	    "               the daemon to sign with it\n"
	    "  -h, --help   this text\n");
}

static int
check_state_dir(const char *dir, struct brk_error *err)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return brk_error_set(err, BRK_ERR_IO, "state_dir %s: %s", dir,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode) || (st.st_mode & 077) != 0 ||
	    st.st_uid != geteuid())
		return brk_error_set(err, BRK_ERR_PERM, "state_dir %s must be "
		    "a directory owned by us with mode 0700", dir);
	return 0;
}

static int
run(struct config *cfg, struct brk_error *err)
{
	struct brokerd d = { .cfg = cfg };
	struct tls_server *tls = NULL;
	sigset_t set;
	int r;

	pthread_mutex_init(&d.policy_lock, NULL);
	d.started_at = time_now();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	/* blocked before any thread starts, so only the signalfd sees them */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((r = identity_new(cfg, &d.ident, err)) != 0 ||
	    (r = check_state_dir(cfg->state_dir, err)) != 0 ||
	    (r = ca_open(cfg->state_dir, &d.ca, err)) != 0 ||
	    (r = store_open(cfg->state_dir, cfg->mapsize, &d.store, err)) != 0)
		goto out;
	/* the audit follower: the syslog mirror now, others may subscribe
	 * until it starts once the server is up */
	if ((r = auditfeed_new(d.store, &d.feed)) != 0 ||
	    (r = auditfeed_subscribe(d.feed, auditfeed_syslog, NULL)) != 0) {
		brk_error_set(err, r, "cannot set up the audit feed");
		goto out;
	}
	/* notifications: sinks on their own threads, fed by the audit feed */
	if ((r = notify_new(cfg->notify, sink_kinds, sizeof(sink_kinds) /
	    sizeof(sink_kinds[0]), &d.notify, err)) != 0)
		goto out;
	if ((r = notify_subscribe(d.notify, d.feed)) != 0) {
		brk_error_set(err, r, "cannot subscribe notifications to the "
		    "audit feed");
		goto out;
	}
	if ((r = workpool_new((size_t)sysconf(_SC_NPROCESSORS_ONLN), &d.pool))
	    != 0) {
		brk_error_set(err, r, "cannot start the worker threads");
		goto out;
	}
	if ((r = writer_new(d.store, cfg->group_commit, &d.writer)) != 0) {
		brk_error_set(err, r, "cannot start the writer thread");
		goto out;
	}
	if ((r = policystate_boot(&d, err)) != 0 ||
	    (r = server_new(&d, &d.server, err)) != 0)
		goto out;
	if (cfg->tls != NULL && (r = tls_start(&d, &tls, err)) != 0)
		goto out;
	if ((r = metrics_http_start(&d, &d.metrics, err)) != 0)	/* optional */
		goto out;
	if ((r = auditfeed_start(d.feed)) != 0) {	/* audit follower */
		brk_error_set(err, r, "cannot start the audit feed");
		goto out;
	}
	log_info("event=ready socket=%s state_dir=%s group_commit=%s",
	    cfg->socket, cfg->state_dir, cfg->group_commit ? "on" : "off");
	sd_ready();
	r = server_run(d.server);
	log_info("event=stopping");
	sd_stopping();
out:
	metrics_http_stop(d.metrics);	/* it reads the store and counters */
	tls_stop(tls);		/* its calls in flight may wait on the writer */
	writer_free(d.writer);	/* finishes queued work first */
	workpool_free(d.pool);	/* then the replies it handed on */
	server_free(d.server);
	policystate_free(&d);
	auditfeed_free(d.feed);	/* delivers what was committed first */
	notify_free(d.notify);	/* after the feed: a short grace, then drops */
	store_free(d.store);
	identity_free(d.ident);
	ca_free(d.ca);
	pthread_mutex_destroy(&d.policy_lock);
	return r;
}

int
main(int argc, char **argv)
{
	struct brk_error err = { { 0 } };
	struct config *cfg = NULL;
	int r;

	log_setup(LOG_LVL_INFO, 0);
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 3 && !(argc == 4 && strcmp(argv[3], "--rotate-ca") == 0)) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--dev") == 0)
		r = config_dev(argv[2], &cfg, &err);
	else if (strcmp(argv[1], "-c") == 0)
		r = config_load(argv[2], &cfg, &err);
	else {
		usage(stderr);
		return 2;
	}
	if (r == 0 && argc == 4) {
		/* argv[3] is --rotate-ca: a key change, not a run */
		if ((r = ca_rotate(cfg->state_dir, &err)) == 0)
			printf("brokerd: a new CA key is current in %s/ca; "
			    "restart brokerd, then publish `broker ca show --all` "
			    "to every host's TrustedUserCAKeys\n", cfg->state_dir);
	} else if (r == 0) {
		log_setup((enum log_level)cfg->log_level, cfg->log_syslog);
		r = run(cfg, &err);
	}
	config_free(cfg);
	if (r != 0) {
		fprintf(stderr, "brokerd: %s\n",
		    err.msg[0] ? err.msg : brk_strerror(r));
		return 1;
	}
	return 0;
}
