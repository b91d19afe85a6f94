/*
 * main.c - brokerd: start-up, the run, and a clean stop.
 *
 *   brokerd --dev DIR     the embedded default in DIR (foreground, stderr)
 *   brokerd -c FILE       run from a config file
 *
 * The CA signer (cred/signer.c) is forked first, while brokerd is one
 * thread that has read only its config: before LDAP, TLS, libcurl or any
 * worker starts.  It alone reads the CA's private key.  If it dies, the
 * daemon stops and exits 1 (systemd restarts both); signing meanwhile
 * fails closed.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auditfeed.h"
#include "ca.h"
#include "checkcache.h"
#include "daemon.h"
#include "log.h"
#include "login.h"
#include "metrics_http.h"
#include "notify.h"
#include "ops.h"
#include "policystate.h"
#include "sdnotify.h"
#include "server.h"
#include "timefmt.h"
#include "workpool.h"
#include "tls.h"
#include "web.h"
#include "userca.h"
#include "version.h"

/* The notification sinks there are; the notifier knows them only so. */
static const struct nsink_kind *const sink_kinds[] = { &nsink_exec_kind,
	&nsink_webhook_kind };

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: brokerd --dev DIR\n"
	    "       brokerd -c FILE [--rotate-ca | --migrate]\n"
	    "       brokerd -c FILE --export-store OUT | --import-store IN\n"
	    "       brokerd --version\n"
	    "\n"
	    "  --dev DIR    run the embedded default in DIR (created if missing):\n"
	    "               state, example policy, socket DIR/broker.sock\n"
	    "  -c FILE      run from a JSON config (see deploy/brokerd.json)\n"
	    "  --rotate-ca  make a new CA key current and exit (previous keys\n"
	    "               stay listed by `broker ca show --all`); restart\n"
	    "               the daemon to sign with it\n"
	    "  --migrate    create or migrate the PostgreSQL schema of\n"
	    "               store.backend \"postgres\" and exit\n"
	    "  --export-store OUT  write the whole state of the config's store\n"
	    "               (LMDB or PostgreSQL) to the new file OUT and exit\n"
	    "  --import-store IN   load such a file into the config's store,\n"
	    "               which must be empty (run --migrate first for\n"
	    "               PostgreSQL), and exit\n"
	    "  -h, --help   this text\n");
}

static int
check_state_dir(const char *dir, struct brk_error *err)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return brk_error_set(
		    err, BRK_ERR_IO, "state_dir %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || (st.st_mode & 077) != 0 ||
	    st.st_uid != geteuid())
		return brk_error_set(err, BRK_ERR_PERM,
		    "state_dir %s must be "
		    "a directory owned by us with mode 0700",
		    dir);
	return 0;
}

/* What the unix socket server calls above it: the ops. */
static const struct server_ops server_ops = {
	.dispatch = ops_dispatch,
	.run_pooled = ops_run_pooled,
	.tick = ops_tick,
	.reload = ops_reload,
};

/* The signer is gone: stop the daemon the way SIGTERM does (the signal is
 * blocked in every thread and read by the server's signalfd). */
static void
signer_lost(void *arg)
{
	atomic_int *lost = arg;

	atomic_store(lost, 1);
	kill(getpid(), SIGTERM);
}

/* The backend the config names: LMDB in state_dir, or PostgreSQL. */
static int
open_store(struct config *cfg, struct store **out, struct brk_error *err)
{
	if (cfg->store_pg)
		return store_open_pg(
		    cfg->store_conninfo, cfg->store_timeout * 1000, out, err);
	return store_open(cfg->state_dir, cfg->mapsize, out, err);
}

/* --export-store / --import-store: the whole state to a file or back. */
static int
move_store(struct config *cfg, const char *opt, const char *path,
    struct brk_error *err)
{
	struct store *s = NULL;
	bool out = strcmp(opt, "--export-store") == 0;
	uint64_t rows = 0;
	int r;

	if ((!cfg->store_pg &&
		(r = check_state_dir(cfg->state_dir, err)) != 0) ||
	    (r = open_store(cfg, &s, err)) != 0)
		goto out;
	r = out ? store_export(s, path, &rows, err) :
		  store_import(s, path, &rows, err);
	if (r == 0)
		printf("brokerd: %s %llu keys %s %s (store %s)\n",
		    out ? "exported" : "imported", (unsigned long long)rows,
		    out ? "to" : "from", path, store_backend_name(s));
out:
	store_free(s);
	return r;
}

/* Runs the daemon; takes over ca. */
static int
run(struct config *cfg, struct ca *ca, struct brk_error *err)
{
	struct brokerd d = { .cfg = cfg, .ca = ca };
	struct tls_server *tls = NULL;
	struct web *web = NULL;
	struct auditfeed *nfeed = NULL;
	struct login_ctx *login = NULL;
	int r;

	pthread_mutex_init(&d.policy_lock, NULL);
	pthread_mutex_init(&d.signq.lock, NULL);
	d.started_at = time_now();
	signal(SIGPIPE, SIG_IGN);
	if ((r = identity_new(cfg, &d.ident, err)) != 0 ||
	    (r = open_store(cfg, &d.store, err)) != 0)
		goto out;
	/* the audit follower: the syslog mirror now, others may subscribe
	 * until it starts once the server is up */
	if ((r = auditfeed_new(d.store, &d.feed)) != 0 ||
	    (r = auditfeed_subscribe_when(d.feed, auditfeed_syslog,
		 auditfeed_syslog_wants, NULL)) != 0) {
		brk_error_set(err, r, "cannot set up the audit feed");
		goto out;
	}
	/* notifications: sinks on their own threads, fed by the audit feed */
	if ((r = notify_new(cfg->notify, sink_kinds,
		 sizeof(sink_kinds) / sizeof(sink_kinds[0]), &d.notify, err)) !=
	    0)
		goto out;
	notify_bind(d.notify, &d);
	/* a feed of its own: sent once for brokers sharing a store (by
	 * their leader), where the syslog mirror is every broker's */
	if ((r = auditfeed_new(d.store, &nfeed)) != 0 ||
	    (r = auditfeed_cluster(nfeed, "notify")) != 0 ||
	    (r = notify_subscribe(d.notify, nfeed)) != 0) {
		brk_error_set(err, r,
		    "cannot subscribe notifications to the "
		    "audit feed");
		goto out;
	}
	if ((r = checkcache_new(&d.checks_kept)) != 0) {
		brk_error_set(err, r, "out of memory");
		goto out;
	}
	if ((r = ops_sessions_new(&d)) != 0 ||
	    (r = auditfeed_subscribe_when(d.feed, ops_sessions_on_record,
		 ops_sessions_wanted, &d)) != 0) {
		brk_error_set(err, r, "cannot set up the session table");
		goto out;
	}
	if ((r = workpool_new(
		 (size_t)sysconf(_SC_NPROCESSORS_ONLN), &d.pool)) != 0) {
		brk_error_set(err, r, "cannot start the worker threads");
		goto out;
	}
	if ((r = writer_new(d.store, cfg->group_commit, &d.writer)) != 0) {
		brk_error_set(err, r, "cannot start the writer thread");
		goto out;
	}
	if ((r = policystate_boot(&d, err)) != 0 ||
	    (r = server_new(&d, &server_ops, &d.server, err)) != 0)
		goto out;
	/* the host CA (ops_host.c, tls.c): before the listener that trusts
	 * it, and before any call that may enroll a host */
	if (cfg->tls != NULL &&
	    (r = userca_open_named(cfg->state_dir, "host_ca", "brokerd host CA",
		 "host CA", &d.hostca, err)) != 0)
		goto out;
	/* one login context for both doors, so that failed sign-ins on
	 * either count in the same back-off */
	if ((cfg->tls != NULL || cfg->web != NULL) &&
	    (r = login_ctx_new(&d, &login, err)) != 0)
		goto out;
	if (cfg->tls != NULL && (r = tls_start(&d, login, &tls, err)) != 0)
		goto out;
	if ((r = web_start(&d, login, &web, err)) != 0) /* optional */
		goto out;
	if ((r = metrics_http_start(&d, ops_metrics_text, &d.metrics, err)) !=
	    0) /* optional */
		goto out;
	if ((r = auditfeed_start(d.feed)) != 0 || /* audit follower */
	    (r = auditfeed_start(nfeed)) != 0) {
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
	ops_sessions_stop(&d);	      /* parked watches get their answer */
	metrics_http_stop(d.metrics); /* it reads the store and counters */
	web_stop(web);	       /* its pages in flight wait on the writer */
	tls_stop(tls);	       /* its calls in flight may wait on the writer */
	login_ctx_free(login); /* waits for login threads (they audit) */
	ops_cred_stop(&d);     /* credential jobs stop writing audit */
	writer_free(d.writer); /* finishes queued work first */
	workpool_free(d.pool); /* then the replies it handed on */
	server_free(d.server);
	policystate_free(&d);
	auditfeed_free(d.feed); /* delivers what was committed first */
	auditfeed_free(nfeed);
	ops_sessions_free(&d); /* after the pool and the feed */
	/* after every op that may recall or keep a check answer */
	checkcache_free(d.checks_kept);
	notify_free(d.notify); /* after the feed: a short grace, then drops */
	store_free(d.store);
	identity_free(d.ident);
	ca_free(d.ca);
	userca_free(d.hostca);
	pthread_mutex_destroy(&d.policy_lock);
	return r;
}

/* Start the signer, then run; *lost is set when the signer died. */
static int
start(struct config *cfg, atomic_int *lost, struct brk_error *err)
{
	struct ca *ca = NULL;
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* blocked before any thread starts (the signer's watcher is the
	 * first), so only the server's signalfd sees them */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	log_setup((enum log_level)cfg->log_level, cfg->log_syslog);
	if ((r = check_state_dir(cfg->state_dir, err)) != 0 ||
	    (r = ca_open_separated(
		 cfg->state_dir, signer_lost, lost, &ca, err)) != 0)
		return r;
	log_info("event=signer_started pid=%ld key_id=%s",
	    (long)ca_signer_pid(ca), ca_key_id(ca));
	return run(cfg, ca, err);
}

int
main(int argc, char **argv)
{
	struct brk_error err = { { 0 } };
	struct config *cfg = NULL;
	atomic_int lost = 0;
	int r;

	log_setup(LOG_LVL_INFO, 0);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("brokerd %s\n", BROKER_VERSION);
		return 0;
	}
	if (argc == 2 &&
	    (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 3 &&
	    !(argc == 5 &&
		(strcmp(argv[3], "--export-store") == 0 ||
		    strcmp(argv[3], "--import-store") == 0)) &&
	    !(argc == 4 &&
		(strcmp(argv[3], "--rotate-ca") == 0 ||
		    strcmp(argv[3], "--migrate") == 0))) {
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
	if (r == 0 && argc == 5)
		r = move_store(cfg, argv[3], argv[4], &err);
	else if (r == 0 && argc == 4 && strcmp(argv[3], "--migrate") == 0) {
		if (!cfg->store_pg)
			r = brk_error_set(&err, BRK_ERR_USAGE,
			    "--migrate: the store is LMDB (store.backend), "
			    "which needs no migration");
		else
			r = store_pg_migrate(cfg->store_conninfo,
			    cfg->store_timeout * 1000, &err);
	} else if (r == 0 && argc == 4) {
		/* argv[3] is --rotate-ca: a key change, not a run */
		if ((r = ca_rotate(cfg->state_dir, &err)) == 0)
			printf(
			    "brokerd: a new CA key is current in %s/ca; "
			    "restart brokerd, then publish `broker ca show --all` "
			    "to every host's TrustedUserCAKeys\n",
			    cfg->state_dir);
	} else if (r == 0) {
		r = start(cfg, &lost, &err);
		if (r == 0 && atomic_load(&lost))
			r = brk_error_set(&err, BRK_ERR_UNREACHABLE,
			    "the CA "
			    "signer process died; brokerd stopped so that it "
			    "starts again with a new one");
	}
	config_free(cfg);
	if (r != 0) {
		fprintf(stderr, "brokerd: %s\n",
		    err.msg[0] ? err.msg : brk_strerror(r));
		return 1;
	}
	return 0;
}
