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

#include "ca.h"
#include "daemon.h"
#include "log.h"
#include "policystate.h"
#include "sdnotify.h"
#include "server.h"
#include "timefmt.h"
#include "workpool.h"
#include "tls.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: brokerd --dev DIR\n"
	    "       brokerd -c FILE\n"
	    "\n"
	    "  --dev DIR   run the embedded default in DIR (created if missing):\n"
	    "              state, example policy, socket DIR/broker.sock\n"
	    "  -c FILE     run from a JSON config (see deploy/brokerd.json)\n"
	    "  -h, --help  this text\n");
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
	log_info("event=ready socket=%s state_dir=%s group_commit=%s",
	    cfg->socket, cfg->state_dir, cfg->group_commit ? "on" : "off");
	sd_ready();
	r = server_run(d.server);
	log_info("event=stopping");
	sd_stopping();
out:
	tls_stop(tls);		/* its calls in flight may wait on the writer */
	writer_free(d.writer);	/* finishes queued work first */
	workpool_free(d.pool);	/* then the replies it handed on */
	server_free(d.server);
	policystate_free(&d);
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
	if (argc != 3) {
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
	if (r == 0) {
		log_setup((enum log_level)cfg->log_level, 0);
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
