/*
 * cmd_sessions.c - "broker sessions": what is open now, and the host's
 * agent that ends the sessions of grants that ended.
 *
 * The agent (cli_sessions_watch, also meant for "broker host sync
 * --watch") reads the host's session records (sessions.h), asks the broker
 * with session.watch about the grants they belong to, and ends the
 * sessions of every grant the broker says no longer stands: a message to
 * the terminal, SIGHUP, SIGKILL after the record's grace, then a
 * session.terminated report.  The watch is a long poll the broker answers
 * as soon as a grant ends; the wait running out is the timer fallback, and
 * each answer re-confirms every grant.  When the broker cannot be reached,
 * sessions are kept while the last confirmation is younger than
 * --offline-grace (a broker restart ends nobody), then ended unless their
 * record says keep_offline.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "deadline.h"
#include "sessions.h"

static void
print_sessions(json_t *a)
{
	json_t *s;
	size_t i;

	if (json_array_size(a) == 0) {
		printf("no open sessions\n");
		return;
	}
	printf("%-8s %-12s %-12s %-16s %-8s %s\n", "GRANT", "USER", "ACCOUNT",
	    "HOST", "PID", "OPENED");
	json_array_foreach (a, i, s) {
		printf("%-8s %-12s %-12s %-16s %-8lld %s\n",
		    cli_str(s, "grant"), cli_str(s, "user"),
		    cli_str(s, "account"), cli_str(s, "host"),
		    (long long)json_integer_value(json_object_get(s, "pid")),
		    cli_str(s, "opened_at"));
	}
}

static int
sessions_list(struct cli *cli, const char *host, const char *user)
{
	json_t *args = json_object(), *res = NULL;
	int r;

	if (host != NULL)
		json_object_set_new(args, "host", json_string(host));
	if (user != NULL)
		json_object_set_new(args, "user", json_string(user));
	r = cli_call(cli, "session.list", args, &res);
	json_decref(args);
	if (r != EX_DONE)
		return r;
	if (cli->json)
		cli_print_json(json_object_get(res, "sessions"));
	else
		print_sessions(json_object_get(res, "sessions"));
	json_decref(res);
	return EX_DONE;
}

/* ---- the agent ---- */

struct watcher {
	struct cli *cli;
	const struct sess_watch_opts *o;
	char **bad; /* record names already reported */
	size_t nbad;
	long long confirmed_ms; /* last answer from the broker */
	bool offline;		/* said so once; said again when back */
	char snap_err[256];	/* the last snapshot error said */
	json_t *unsent;		/* session.terminated reports kept while
				 * the broker could not be reached */
};

#define UNSENT_MAX 10000 /* reports kept offline; the oldest are dropped */

/* Keep a report for when the broker is back (takes args). */
static void
keep_report(struct watcher *w, json_t *args)
{
	if (args == NULL)
		return;
	if (w->unsent == NULL && (w->unsent = json_array()) == NULL) {
		json_decref(args);
		return;
	}
	if (json_array_size(w->unsent) >= UNSENT_MAX) {
		fprintf(stderr,
		    "broker: over %d unsent session reports: the "
		    "oldest is dropped\n",
		    UNSENT_MAX);
		json_array_remove(w->unsent, 0);
	}
	json_array_append_new(w->unsent, args);
}

static void
report_bad(const char *name, const char *why, void *arg)
{
	struct watcher *w = arg;
	char **nb;
	size_t i;

	for (i = 0; i < w->nbad; i++)
		if (strcmp(w->bad[i], name) == 0)
			return;
	fprintf(stderr, "broker: session record %s ignored: ", name);
	cli_print_safe(stderr, why);
	fputc('\n', stderr);
	if ((nb = realloc(w->bad, (w->nbad + 1) * sizeof(*nb))) == NULL)
		return;
	w->bad = nb;
	if ((w->bad[w->nbad] = strdup(name)) != NULL)
		w->nbad++;
}

/* One call to the broker; a broken connection is dropped for the next. */
static int
call(struct watcher *w, const char *op, json_t *args, json_t **res,
    struct brk_error *err)
{
	int r;

	*res = NULL;
	if (w->cli->client == NULL &&
	    (r = w->o->connect(w->cli, w->o->arg, err)) != 0)
		return r;
	r = client_call(w->cli->client, op, args, w->cli->as,
	    (w->o->interval + 10) * 1000, res, err);
	if (r == BRK_ERR_UNREACHABLE || r == BRK_ERR_TIMEOUT ||
	    r == BRK_ERR_PROTOCOL) {
		client_free(w->cli->client);
		w->cli->client = NULL;
	}
	return r;
}

/* A session to end, and why. */
struct due {
	const struct sess_rec *rec;
	char cause[32];
	char by[128];
	char why[512];
};

static void
due_add(struct due *d, size_t *n, const struct sess_rec *rec, const char *cause,
    const char *by, const char *why)
{
	struct due *x = &d[(*n)++];

	x->rec = rec;
	snprintf(x->cause, sizeof(x->cause), "%s", cause);
	snprintf(x->by, sizeof(x->by), "%s", by);
	snprintf(x->why, sizeof(x->why), "%s", why);
}

/* End the due sessions together (sess_terminate_all: SIGHUP to all, one
 * grace, SIGKILL the survivors), then tell the broker who, why, and how
 * each went. */
static void
end_sessions(struct watcher *w, const struct due *d, size_t n)
{
	struct brk_error err = { { 0 } };
	struct sess_rec *recs = NULL;
	struct sess_end *ends = NULL;
	char(*msg)[768] = NULL;
	const char **msgs = NULL;
	json_t *args, *res = NULL;
	size_t i;

	if (n == 0)
		return;
	if ((recs = calloc(n, sizeof(*recs))) == NULL ||
	    (ends = calloc(n, sizeof(*ends))) == NULL ||
	    (msg = calloc(n, sizeof(*msg))) == NULL ||
	    (msgs = calloc(n, sizeof(*msgs))) == NULL) {
		fprintf(stderr, "broker: out of memory ending sessions\n");
		goto out;
	}
	for (i = 0; i < n; i++) {
		recs[i] = *d[i].rec;
		snprintf(msg[i], sizeof(msg[i]),
		    "broker: access to %.200s (grant %s) has ended (%s%s%.64s): "
		    "this session is being closed.",
		    recs[i].resource, recs[i].grant, d[i].cause,
		    d[i].by[0] ? " by " : "", d[i].by);
		msgs[i] = msg[i];
	}
	if (sess_terminate_all(recs, n, msgs, ends, &err) != 0) {
		fprintf(stderr, "broker: cannot end sessions: %s\n", err.msg);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (ends[i].refused)
			fprintf(stderr,
			    "broker: session %s: pid %ld is no longer the "
			    "process recorded; not signalled\n",
			    recs[i].name, (long)recs[i].pid);
		else {
			printf("ended session %s of grant %s (%s): %d "
			       "process(es)%s: ",
			    recs[i].name, recs[i].grant, d[i].cause,
			    ends[i].processes,
			    ends[i].grace_needed ?
				", SIGKILL after the grace period" :
				"");
			cli_print_safe(stdout, d[i].why);
			fputc('\n', stdout);
		}
		fflush(stdout);
		(void)sess_record_remove(w->o->dir, recs[i].pid, recs[i].start);
		args = json_pack(
		    "{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, "
		    "s:i, s:b, s:b}",
		    "host", w->o->host, "grant", recs[i].grant, "account",
		    recs[i].account, "tty", recs[i].tty, "pid",
		    (json_int_t)recs[i].pid, "start", (json_int_t)recs[i].start,
		    "cause", d[i].cause, "by", d[i].by, "why", d[i].why,
		    "processes", ends[i].processes, "grace_needed",
		    ends[i].grace_needed, "refused", ends[i].refused);
		memset(&err, 0, sizeof(err));
		/* offline, one failed connect per session would only delay
		 * the next end: the report waits for the broker instead */
		if (w->offline ||
		    (args != NULL &&
			call(w, "session.terminated", args, &res, &err) != 0)) {
			fprintf(stderr,
			    "broker: session.terminated kept until the broker "
			    "can be reached%s%s\n",
			    err.msg[0] ? ": " : "", err.msg);
			keep_report(w, args);
			args = NULL;
		}
		json_decref(args);
		json_decref(res);
		res = NULL;
	}
out:
	free(msgs);
	free(msg);
	free(ends);
	free(recs);
}

/* Offline past --offline-grace: what the host's snapshot says about each
 * session; those it does not confirm (and not keep_offline) are due. */
static void
offline_due(struct watcher *w, const struct sess_rec *recs, size_t n,
    struct due *d, size_t *nd)
{
	struct brk_error err = { { 0 } };
	struct snapshot *snap = NULL;
	const char *why = "no offline snapshot is configured";
	char text[512];
	size_t i;

	if (w->o->snapshot != NULL &&
	    sess_snapshot_load(w->o->snapshot, w->o->ca_keys, w->o->host,
		time(NULL), &snap, &err) != 0) {
		if (strncmp(w->snap_err, err.msg, 250) != 0) {
			fprintf(stderr, "broker: offline snapshot not used: ");
			cli_print_safe(stderr, err.msg);
			fputc('\n', stderr);
			snprintf(w->snap_err, sizeof(w->snap_err), "%.250s",
			    err.msg);
		}
		why = "the offline snapshot cannot be used";
	} else
		w->snap_err[0] = '\0';
	for (i = 0; i < n; i++) {
		if (recs[i].keep_offline)
			continue;
		if (snap != NULL &&
		    sess_snapshot_has(snap, recs[i].grant, time(NULL), &why))
			continue;
		snprintf(text, sizeof(text),
		    "the broker cannot be reached to confirm the grant, and %s",
		    why);
		due_add(d, nd, &recs[i], "unconfirmed", "", text);
	}
	snapshot_free(snap);
}

/* The reports kept while offline, oldest first; stops at the first that
 * cannot be sent (the rest wait for the next answer). */
static void
send_unsent(struct watcher *w)
{
	struct brk_error err = { { 0 } };
	json_t *res = NULL;
	size_t sent = 0;
	int r;

	while (sent < json_array_size(w->unsent)) {
		r = call(w, "session.terminated",
		    json_array_get(w->unsent, sent), &res, &err);
		json_decref(res);
		res = NULL;
		if (r == 0 && w->offline) {
			fprintf(stderr, "broker: reachable again\n");
			w->offline = false;
		}
		if (r != 0) {
			/* the connection lost: the rest wait; the broker
			 * refusing one must not hold the others back */
			if (w->cli->client == NULL)
				break;
			fprintf(stderr,
			    "broker: a kept session.terminated was refused: "
			    "%s\n",
			    err.msg);
			memset(&err, 0, sizeof(err));
		}
		sent++;
	}
	while (sent-- > 0)
		json_array_remove(w->unsent, 0);
}

/* Scan the records: the live ones into *out; stale ones (leader gone, or
 * its pid now another process) are left alone and never signalled. */
static int
scan(struct watcher *w, struct sess_rec **out, size_t *n)
{
	struct brk_error err = { { 0 } };
	size_t i, k;
	int r;

	if ((r = sess_scan(w->o->dir, out, n, report_bad, w, &err)) != 0) {
		fprintf(stderr, "broker: %s\n", err.msg);
		return r;
	}
	for (i = k = 0; i < *n; i++) {
		if (!sess_alive(&(*out)[i])) {
			report_bad((*out)[i].name,
			    "its leader is gone or its pid is another process "
			    "now",
			    w);
			continue;
		}
		(*out)[k++] = (*out)[i];
	}
	*n = k;
	return 0;
}

/* One round: scan, ask, end what ended.  Returns 0, or the broker's
 * error (the caller handles being offline). */
static int
round_trip(struct watcher *w, int wait)
{
	struct brk_error err = { { 0 } };
	struct sess_rec *recs = NULL;
	struct due *due = NULL;
	json_t *args = NULL, *grants = json_array(), *res = NULL, *e;
	size_t n = 0, nd = 0, i, j;
	bool seen;
	int r;

	/* what was ended offline is reported first: the watch below may
	 * be held for a whole interval */
	if (json_array_size(w->unsent) > 0)
		send_unsent(w);
	if ((r = scan(w, &recs, &n)) != 0)
		goto out;
	r = BRK_ERR_NOMEM;
	if (n > 0 && (due = calloc(n, sizeof(*due))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		for (seen = false, j = 0; j < i && !seen; j++)
			seen = strcmp(recs[j].grant, recs[i].grant) == 0;
		if (!seen)
			json_array_append_new(
			    grants, json_string(recs[i].grant));
	}
	args = json_pack("{s:s, s:O, s:i}", "host", w->o->host, "grants",
	    grants, "wait", wait);
	if ((r = call(w, "session.watch", args, &res, &err)) != 0) {
		if (r != BRK_ERR_UNREACHABLE && r != BRK_ERR_TIMEOUT &&
		    r != BRK_ERR_PROTOCOL)
			fprintf(stderr, "broker: session.watch: %s\n", err.msg);
		else if (!w->offline)
			fprintf(stderr,
			    "broker: unreachable (%s): sessions are kept for "
			    "%d s, then as the offline snapshot says\n",
			    err.msg, w->o->offline_grace);
		w->offline = true;
		goto offline;
	}
	if (w->offline)
		fprintf(stderr, "broker: reachable again\n");
	w->offline = false;
	w->confirmed_ms = deadline_now_ms();
	json_array_foreach (json_object_get(res, "ended"), i, e) {
		for (j = 0; j < n; j++)
			if (strcmp(recs[j].grant, cli_str(e, "grant")) == 0)
				due_add(due, &nd, &recs[j], cli_str(e, "cause"),
				    cli_str(e, "by"), cli_str(e, "why"));
	}
	end_sessions(w, due, nd);
	goto out;
offline:
	/* the broker cannot confirm anything: keep sessions while the last
	 * confirmation is recent (a broker restart ends nobody), then keep
	 * those the host's snapshot confirms or marked keep_offline */
	if (deadline_now_ms() - w->confirmed_ms >
	    (long long)w->o->offline_grace * 1000) {
		offline_due(w, recs, n, due, &nd);
		end_sessions(w, due, nd);
	}
out:
	json_decref(res);
	json_decref(args);
	json_decref(grants);
	free(due);
	free(recs);
	return r;
}

int
cli_sessions_watch(struct cli *cli, const struct sess_watch_opts *o)
{
	struct watcher w = { .cli = cli, .o = o };
	size_t i;
	int r, wait, t;

	w.confirmed_ms = deadline_now_ms();
	for (;;) {
		wait = o->interval;
		if (o->tick != NULL && (t = o->tick(cli, o->arg)) < wait)
			wait = t < 1 ? 1 : t;
		r = round_trip(&w, o->once || o->timer ? 0 : wait);
		if (o->once)
			break;
		if (o->timer)
			sleep((unsigned)wait);
		else if (r != 0)
			sleep(1); /* offline: retry, never spin */
	}
	for (i = 0; i < w.nbad; i++)
		free(w.bad[i]);
	free(w.bad);
	json_decref(w.unsent);
	return r == 0 ? EX_DONE : cli_exit_code(r);
}

static int
connect_cli(struct cli *cli, void *arg, struct brk_error *err)
{
	json_t *res = NULL;
	int r;

	(void)arg;
	/* cli_call connects as the global options say (socket, url, login) */
	r = cli_call(cli, "whoami", NULL, &res);
	json_decref(res);
	if (r != EX_DONE)
		return brk_error_set(
		    err, BRK_ERR_UNREACHABLE, "cannot connect");
	return 0;
}

static int
short_host(char *out, size_t len)
{
	char *dot;

	if (gethostname(out, len) != 0)
		return -1;
	out[len - 1] = '\0';
	if ((dot = strchr(out, '.')) != NULL)
		*dot = '\0';
	return out[0] != '\0' ? 0 : -1;
}

int
cli_sessions_timing(struct cli *cli, const char *interval, const char *grace,
    struct sess_watch_opts *o)
{
	long n;
	int r;

	if (interval != NULL) {
		if ((r = cli_number(cli, "--interval", "seconds", interval, 1,
			 60, &n)) != EX_DONE)
			return r;
		o->interval = (int)n;
	}
	if (grace != NULL) {
		if ((r = cli_number(cli, "--offline-grace", "seconds", grace, 0,
			 86400, &n)) != EX_DONE)
			return r;
		o->offline_grace = (int)n;
	}
	return EX_DONE;
}

int
cmd_sessions(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd list_cmd = { "sessions", cmd_sessions,
		"sessions [--host H] [--user U]",
		"The login sessions open now on hosts." };
	static const struct cli_cmd watch_cmd = { "sessions", cmd_sessions,
		"sessions watch [--dir DIR] [--host H] [--interval SECONDS] "
		"[--timer] [--offline-grace SECONDS] [--snapshot FILE "
		"--ca-keys FILE] [--once]",
		"Run as root on a host: end the sessions of grants that end." };
	const char *host = NULL, *user = NULL, *dir = NULL, *interval = NULL,
		   *grace = NULL, *snap = NULL, *keys = NULL;
	bool once = false, timer = false;
	struct sess_watch_opts o = { .dir = SESS_DEFAULT_DIR,
		.interval = 25,
		.offline_grace = 60,
		.connect = connect_cli };
	char hn[256];
	int r;

	if (argc > 0 && strcmp(argv[0], "watch") == 0) {
		const struct cli_opt opts[] = { { "dir", &dir, NULL },
			{ "host", &host, NULL },
			{ "interval", &interval, NULL },
			{ "offline-grace", &grace, NULL },
			{ "once", NULL, &once }, { "timer", NULL, &timer },
			{ "snapshot", &snap, NULL }, { "ca-keys", &keys, NULL },
			{ NULL, NULL, NULL } };

		if ((r = cli_parse(cli, &watch_cmd, argc - 1, argv + 1, opts,
			 NULL, 0)) != 0)
			return r;
		if (dir != NULL)
			o.dir = dir;
		if ((r = cli_sessions_timing(cli, interval, grace, &o)) !=
		    EX_DONE)
			return r;
		if ((snap == NULL) != (keys == NULL))
			return cli_fail(cli, EX_USAGE, "usage",
			    "--snapshot and --ca-keys go together");
		if (host == NULL) {
			if (short_host(hn, sizeof(hn)) != 0)
				return cli_fail(cli, EX_ERROR, "host",
				    "cannot read this host's name");
			host = hn;
		}
		if (geteuid() != 0)
			return cli_fail(cli, EX_REFUSED, "denied",
			    "sessions watch runs as root (it signals other "
			    "users' processes)");
		o.host = host;
		o.once = once;
		o.timer = timer;
		o.snapshot = snap;
		o.ca_keys = keys;
		return cli_sessions_watch(cli, &o);
	}
	{
		const struct cli_opt opts[] = { { "host", &host, NULL },
			{ "user", &user, NULL }, { NULL, NULL, NULL } };

		if ((r = cli_parse(
			 cli, &list_cmd, argc, argv, opts, NULL, 0)) != 0)
			return r;
	}
	return sessions_list(cli, host, user);
}
