/*
 * ops_session.c - the login sessions hosts report, and the stream that
 * tells hosts which of them to end.
 *
 * Ops: session.open / session.close (pam_broker.so's session stack,
 * audited session.opened / session.closed), session.terminated (the
 * agent's report after ending one), session.list ("broker sessions") and
 * session.watch (the agent's subscription).
 *
 * The table of open sessions is soft state in memory: hosts are the truth
 * (their records under /run/broker/sessions), PAM reports each open and
 * close, and every watching agent announces its host's sessions in each
 * session.watch, so after a restart the table fills again within one poll.
 * The audit trail keeps the history.
 *
 * session.watch is a long poll: the agent names the grants it holds
 * sessions for; the broker answers at once when one of them no longer
 * stands, else parks the call (no thread waits: the call simply has not
 * been answered yet) until something that can end a grant is committed or
 * the wait runs out.  The audit feed (committed records only) is the one
 * place that learns of every end, whoever caused it: grant.revoked (revoke
 * and freeze --revoke-active), grant.expired, flag.added, optout.added,
 * freeze.on.  Each wakes every parked watch, which is judged again on the
 * worker pool: the grant's state and the blocks that cover it now, by the
 * rule the account check follows.  The agent re-polls at once, so the
 * stream stays open; a timed-out poll is the timer fallback.
 *
 * Who may call: a host over TLS (its certificate names it) or local root
 * (the broker's own machine: it names its host); nobody else reports or
 * watches sessions.  Listing is for them and for auditors and policy
 * admins; a user sees their own.
 */
#include "ops.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "deadline.h"
#include "escalate.h"
#include "log.h"
#include "names.h"
#include "notify.h"
#include "reqstore.h"
#include "timefmt.h"
#include "workpool.h"

#define WATCH_WAIT_DEFAULT 25 /* seconds a watch is parked at most */
#define WATCH_WAIT_MAX 60
#define WATCH_GRANTS_MAX 1024
#define TABLE_MAX 100000

struct sess_entry {
	char host[256];
	uint64_t grant;
	char user[REC_NAME]; /* the grant's user */
	char resource[REC_RESOURCE];
	char account[65], ruser[65], tty[64];
	long long pid;
	uint64_t start;
	int64_t opened_at;
};

struct sess_watch {
	struct brokerd *d;
	struct call *c;
	char host[256];
	uint64_t *grants;
	size_t ngrants;
	long long until_ms;
	bool rescan; /* a session opened on its host: answer now */
	struct sess_watch *next;
};

struct sess_hub {
	pthread_mutex_t lock;
	struct sess_entry *v;
	size_t n, cap;
	struct sess_watch *parked;
	uint64_t gen; /* bumped by every event that may end a grant */
	bool stopping;
};

int
ops_sessions_new(struct brokerd *d)
{
	struct sess_hub *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return BRK_ERR_NOMEM;
	pthread_mutex_init(&h->lock, NULL);
	d->sessions = h;
	return 0;
}

static void
watch_free(struct sess_watch *w)
{
	if (w == NULL)
		return;
	call_free(w->c);
	free(w->grants);
	free(w);
}

void
ops_sessions_stop(struct brokerd *d)
{
	struct sess_hub *h = d->sessions;
	struct sess_watch *w, *next;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	w = h->parked;
	h->parked = NULL;
	pthread_mutex_unlock(&h->lock);
	for (; w != NULL; w = next) {
		next = w->next;
		call_fail(w->c, BRK_ERR_UNREACHABLE, "the broker is stopping");
		watch_free(w);
	}
}

void
ops_sessions_free(struct brokerd *d)
{
	struct sess_hub *h = d->sessions;

	if (h == NULL)
		return;
	ops_sessions_stop(d);
	pthread_mutex_destroy(&h->lock);
	free(h->v);
	free(h);
	d->sessions = NULL;
}

/* ---- arguments ---- */

/* An optional string argument, "" when absent or empty (a host without
 * a tty or a remote user sends ""), printable, at most max bytes. */
static int
arg_str(struct call *c, const char *key, size_t max, const char **out,
    struct brk_error *err)
{
	json_t *v = json_object_get(c->req->args, key);
	const char *s;
	size_t i;

	*out = "";
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "\"%s\" must be a string of at most %zu bytes", key, max);
	s = json_string_value(v);
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "\"%s\" has a control character", key);
	if (i != json_string_length(v))
		return brk_error_set(
		    err, BRK_ERR_INVALID, "\"%s\" has a NUL byte", key);
	*out = s;
	return 0;
}

static int
arg_int(struct call *c, const char *key, bool required, int64_t min,
    int64_t max, int64_t *out, struct brk_error *err)
{
	int r = proto_arg_int(c->req->args, key, required, min, max, out, err);

	return r == BRK_ERR_NOTFOUND && !required ? 0 : r;
}

static int
bool_arg(struct call *c, const char *key, bool *out, struct brk_error *err)
{
	int r = proto_arg_bool(c->req->args, key, out, err);

	return r == BRK_ERR_NOTFOUND ? 0 : r;
}

/* A host name as hosts are named: letters, digits, '.', '-', '_'. */
static bool
host_ok(const char *h)
{
	size_t n = strlen(h);

	return n > 0 && n < 254 && h[0] != '-' && h[0] != '.' &&
	    strspn(h,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789.-_") == n;
}

/* ---- who may report and watch, and for which host ---- */

/* The host a session call speaks for: a TLS host's certificate, or for
 * local root the host it names.  Fails the call otherwise. */
static int
session_host(struct call *c, char *host, size_t len)
{
	struct brk_error err = { { 0 } };
	const char *h = NULL;
	int r;

	if ((r = arg_str(c, "host", 255, &h, &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	if (c->host[0] != '\0') {
		/* a host speaks for itself only */
		snprintf(host, len, "%s", c->host);
		return 0;
	}
	if (c->delegated || c->caller.uid != 0) {
		call_fail(c, BRK_ERR_DENIED,
		    "only root on a host (or a host over TLS) reports or "
		    "watches sessions");
		return BRK_ERR_DENIED;
	}
	if (!host_ok(h)) {
		call_fail(c, BRK_ERR_INVALID, "a valid \"host\" is required");
		return BRK_ERR_INVALID;
	}
	snprintf(host, len, "%s", h);
	return 0;
}

/* ---- the table ---- */

static size_t
table_find(struct sess_hub *h, const char *host, long long pid, uint64_t start)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->v[i].pid == pid && h->v[i].start == start &&
		    strcmp(h->v[i].host, host) == 0)
			return i;
	return h->n;
}

static int
table_put(struct sess_hub *h, const struct sess_entry *e)
{
	struct sess_entry *nv;
	size_t i;
	int r = 0;

	pthread_mutex_lock(&h->lock);
	if ((i = table_find(h, e->host, e->pid, e->start)) < h->n) {
		h->v[i] = *e;
		goto out;
	}
	r = BRK_ERR_FULL;
	if (h->n >= TABLE_MAX)
		goto out;
	if (h->n == h->cap) {
		r = BRK_ERR_NOMEM;
		if ((nv = realloc(h->v,
			 (h->cap ? h->cap * 2 : 64) * sizeof(*nv))) == NULL)
			goto out;
		h->v = nv;
		h->cap = h->cap ? h->cap * 2 : 64;
	}
	h->v[h->n++] = *e;
	r = 0;
out:
	pthread_mutex_unlock(&h->lock);
	return r;
}

/* Remove a session; true when it was there. */
static bool
table_del(struct sess_hub *h, const char *host, long long pid, uint64_t start)
{
	size_t i;
	bool found;

	pthread_mutex_lock(&h->lock);
	if ((found = (i = table_find(h, host, pid, start)) < h->n))
		h->v[i] = h->v[--h->n];
	pthread_mutex_unlock(&h->lock);
	return found;
}

static json_t *
entry_json(const struct sess_entry *e)
{
	char id[24], at[TIMEFMT_LEN];

	req_id(e->grant, id);
	time_rfc3339(e->opened_at, at);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}",
	    "host", e->host, "grant", id, "user", e->user, "resource",
	    e->resource, "account", e->account, "ruser", e->ruser, "tty",
	    e->tty, "pid", (json_int_t)e->pid, "opened_at", at);
}

json_t *
ops_sessions_of(struct brokerd *d, uint64_t grant)
{
	struct sess_hub *h = d->sessions;
	json_t *a = json_array();
	size_t i;

	if (h == NULL || a == NULL)
		return a;
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < h->n; i++)
		if (h->v[i].grant == grant)
			json_array_append_new(a, entry_json(&h->v[i]));
	pthread_mutex_unlock(&h->lock);
	return a;
}

void
ops_sessions_count(struct brokerd *d, const uint64_t *grants, size_t n,
    size_t *sessions, size_t *hosts)
{
	struct sess_hub *h = d->sessions;
	size_t i, j, k;
	bool seen, match;

	*sessions = *hosts = 0;
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < h->n; i++) {
		for (match = false, j = 0; j < n && !match; j++)
			match = h->v[i].grant == grants[j];
		if (!match)
			continue;
		(*sessions)++;
		/* a host counts once: seen among earlier matching entries? */
		for (seen = false, k = 0; k < i && !seen; k++)
			for (j = 0; j < n && !seen; j++)
				seen = h->v[k].grant == grants[j] &&
				    strcmp(h->v[k].host, h->v[i].host) == 0;
		if (!seen)
			(*hosts)++;
	}
	pthread_mutex_unlock(&h->lock);
}

/* ---- the audit records, through the writer ---- */

struct sess_op {
	struct call *c;
	const char *action; /* session.opened, .closed, .terminated */
	int64_t now;
	struct sess_entry e;
	char actor[REC_NAME], caller[REC_NAME];
	char reason[REC_TEXT];
	json_t *details; /* owned */
};

static int
apply_audit(struct store_txn *t, void *arg)
{
	struct sess_op *op = arg;
	char id[24];

	req_id(op->e.grant, id);
	return audit_append(t, op->now,
	    &(struct audit_event){ .action = op->action,
		.actor = op->actor,
		.caller = op->caller,
		.target = id,
		.user = op->e.user,
		.resource = op->e.resource,
		.reason = op->reason[0] ? op->reason : NULL,
		.details = op->details },
	    NULL);
}

static void
done_audit(void *arg, int rc)
{
	struct sess_op *op = arg;
	struct call *c = op->c;

	json_decref(op->details);
	free(op);
	if (rc == 0)
		call_reply(c, json_pack("{s:b}", "recorded", 1));
	else
		call_fail(
		    c, rc, "cannot record the session: %s", brk_strerror(rc));
}

/* Wake every parked watch of host ("" : all). */
static void wake(struct brokerd *d, const char *host);

/* Read the arguments shared by the reports into op->e (grant loaded). */
static int
report_args(
    struct call *c, struct sess_op *op, bool need_grant, struct brk_error *err)
{
	const char *grant = "", *account = "", *ruser = "", *tty = "";
	int64_t pid = 0, start = 0;
	struct store_txn *t = NULL;
	struct request rq;
	int r;

	if ((r = arg_str(c, "grant", 23, &grant, err)) != 0 ||
	    (r = arg_str(c, "account", 64, &account, err)) != 0 ||
	    (r = arg_str(c, "ruser", 64, &ruser, err)) != 0 ||
	    (r = arg_str(c, "tty", 63, &tty, err)) != 0 ||
	    (r = arg_int(c, "pid", true, 1, 0x7fffffff, &pid, err)) != 0 ||
	    (r = arg_int(c, "start", true, 0, INT64_MAX, &start, err)) != 0)
		return r;
	if (need_grant && grant[0] == '\0')
		return brk_error_set(
		    err, BRK_ERR_INVALID, "\"grant\" is required");
	if ((account[0] != '\0' && !name_user_valid(account)) ||
	    (ruser[0] != '\0' && !name_user_valid(ruser)) ||
	    strspn(tty, "/abcdefghijklmnopqrstuvwxyz0123456789") != strlen(tty))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "invalid account, remote user or tty");
	snprintf(op->e.account, sizeof(op->e.account), "%s", account);
	snprintf(op->e.ruser, sizeof(op->e.ruser), "%s", ruser);
	snprintf(op->e.tty, sizeof(op->e.tty), "%s", tty);
	op->e.pid = pid;
	op->e.start = (uint64_t)start;
	if (grant[0] == '\0')
		return 0;
	if (req_id_parse(grant, &op->e.grant) != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "\"%.32s\" is not a request id", grant);
	if ((r = call_read(c, &t)) != 0 ||
	    (r = reqstore_load(t, op->e.grant, &rq)) != 0)
		return brk_error_set(err, r, "no grant %s", grant);
	snprintf(op->e.user, sizeof(op->e.user), "%s", rq.user);
	snprintf(op->e.resource, sizeof(op->e.resource), "%s", rq.resource);
	return 0;
}

static struct sess_op *
sess_op_new(struct call *c, const char *action)
{
	struct sess_op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->c = c;
	op->action = action;
	op->now = time_now();
	snprintf(op->actor, sizeof(op->actor), "%s", c->who.name);
	snprintf(op->caller, sizeof(op->caller), "%s", c->caller.name);
	return op;
}

int
op_session_open(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct sess_op *op;
	int r;

	if ((op = sess_op_new(c, "session.opened")) == NULL)
		return BRK_ERR_NOMEM;
	if ((r = session_host(c, op->e.host, sizeof(op->e.host))) != 0) {
		free(op);
		return r;
	}
	if ((r = report_args(c, op, true, &err)) == 0) {
		op->e.opened_at = op->now;
		if ((r = table_put(c->d->sessions, &op->e)) != 0)
			brk_error_set(&err, r, "the session table is full");
		op->details = json_pack("{s:s, s:s, s:s, s:s, s:I}", "host",
		    op->e.host, "account", op->e.account, "ruser", op->e.ruser,
		    "tty", op->e.tty, "pid", (json_int_t)op->e.pid);
	}
	if (r == 0)
		wake(c->d, op->e.host); /* its agent re-announces at once */
	else
		json_decref(op->details);
	return ops_submit(c, NULL, apply_audit, done_audit, op, r, &err);
}

int
op_session_close(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct sess_op *op;
	int r;

	if ((op = sess_op_new(c, "session.closed")) == NULL)
		return BRK_ERR_NOMEM;
	if ((r = session_host(c, op->e.host, sizeof(op->e.host))) != 0) {
		free(op);
		return r;
	}
	if ((r = report_args(c, op, false, &err)) == 0) {
		(void)table_del(
		    c->d->sessions, op->e.host, op->e.pid, op->e.start);
		if (op->e.grant == 0) { /* nothing to say it belonged to */
			free(op);
			call_reply(c, json_pack("{s:b}", "recorded", 0));
			return 0;
		}
		op->details = json_pack("{s:s, s:I}", "host", op->e.host, "pid",
		    (json_int_t)op->e.pid);
	}
	return ops_submit(c, NULL, apply_audit, done_audit, op, r, &err);
}

int
op_session_terminated(struct call *c)
{
	struct brk_error err = { { 0 } };
	const char *cause = "", *by = "", *why = "";
	int64_t procs = 0;
	bool grace = false, refused = false;
	struct sess_op *op;
	int r;

	if ((op = sess_op_new(c, "session.terminated")) == NULL)
		return BRK_ERR_NOMEM;
	if ((r = session_host(c, op->e.host, sizeof(op->e.host))) != 0) {
		free(op);
		return r;
	}
	if ((r = report_args(c, op, true, &err)) == 0 &&
	    (r = arg_str(c, "cause", 32, &cause, &err)) == 0 &&
	    (r = arg_str(c, "by", REC_NAME - 1, &by, &err)) == 0 &&
	    (r = arg_str(c, "why", 1000, &why, &err)) == 0 &&
	    (r = arg_int(c, "processes", true, 0, 1000000, &procs, &err)) ==
		0 &&
	    (r = bool_arg(c, "grace_needed", &grace, &err)) == 0 &&
	    (r = bool_arg(c, "refused", &refused, &err)) == 0) {
		(void)table_del(
		    c->d->sessions, op->e.host, op->e.pid, op->e.start);
		snprintf(op->reason, sizeof(op->reason), "%s", why);
		op->details = json_pack(
		    "{s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:b}", "host",
		    op->e.host, "account", op->e.account, "cause", cause,
		    "ended_by", by, "pid", (json_int_t)op->e.pid, "processes",
		    (json_int_t)procs, "grace_needed", grace, "refused",
		    refused);
	}
	return ops_submit(c, NULL, apply_audit, done_audit, op, r, &err);
}

int
op_session_list(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct sess_hub *h = c->d->sessions;
	const char *host = "", *user = "";
	json_t *a = NULL;
	bool all;
	size_t i;
	int r;

	if ((r = arg_str(c, "host", 255, &host, &err)) != 0 ||
	    (r = arg_str(c, "user", 64, &user, &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		goto out;
	}
	all = c->host[0] != '\0' || (!c->delegated && c->caller.uid == 0) ||
	    call_has_role(c, p, ROLE_AUDITORS) ||
	    call_has_role(c, p, ROLE_POLICY_ADMINS);
	if ((a = json_array()) == NULL) {
		call_fail(c, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < h->n; i++) {
		const struct sess_entry *e = &h->v[i];

		if ((host[0] != '\0' && strcmp(e->host, host) != 0) ||
		    (user[0] != '\0' && strcmp(e->user, user) != 0 &&
			strcmp(e->account, user) != 0) ||
		    (!all && strcmp(e->user, c->who.name) != 0) ||
		    (c->host[0] != '\0' && strcmp(e->host, c->host) != 0))
			continue;
		json_array_append_new(a, entry_json(e));
	}
	pthread_mutex_unlock(&h->lock);
	call_reply(c, json_pack("{s:o}", "sessions", a));
	a = NULL;
out:
	json_decref(a);
	policy_put(c->d, p);
	return 0;
}

/* ---- judging grants, and the watch ---- */

/*
 * Whether grant serial still stands at now, by the account check's rule:
 * active and in its window, and no block (flag, block opt-out, freeze in
 * block mode) covers it.  When it does not: *cause (revoke, freeze,
 * expiry, flag, optout, ended, unknown, unconfirmed), *by (who ended it)
 * and why.
 */
static bool
grant_stands(struct brokerd *d, struct store_txn *t, uint64_t serial,
    int64_t now, const char **cause, char *by, size_t bylen, char *why,
    size_t whylen)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = NULL;
	struct escalation esc;
	struct ident subject;
	struct cover cv;
	struct request r;
	bool stands = false;
	int ir;

	memset(&subject, 0, sizeof(subject));
	by[0] = why[0] = '\0';
	*cause = "unknown";
	if (reqstore_load(t, serial, &r) != 0) {
		snprintf(why, whylen, "the broker knows no such grant");
		goto out;
	}
	reqstore_effective(&r, now);
	if (r.state != ST_ACTIVE || !reqstore_in_window(&r, now)) {
		*cause = r.state == ST_REVOKED ?
		    (strncmp(r.end_reason, "freeze ", 7) == 0 ? "freeze" :
								"revoke") :
		    r.state == ST_EXPIRED ? "expiry" :
					    "ended";
		snprintf(
		    by, bylen, "%s", r.ended_by[0] ? r.ended_by : "broker");
		snprintf(why, whylen, "%.900s",
		    r.end_reason[0] ? r.end_reason : req_state_name(r.state));
		goto out;
	}
	ir = ident_from_name(d->ident, r.user, &subject, &err);
	if (ir == BRK_ERR_NOTFOUND) {
		snprintf(subject.name, sizeof(subject.name), "%s", r.user);
		subject.groups_complete = true;
		ir = 0;
	} else if (ir == 0)
		ir = ident_require_groups(&subject, &err);
	if (ir != 0) {
		*cause = "unconfirmed";
		snprintf(by, bylen, "broker");
		snprintf(why, whylen, "%.900s", err.msg);
		goto out;
	}
	p = policy_get(d);
	memset(&cv, 0, sizeof(cv));
	cv.policy = p != NULL ? p->policy : NULL;
	cv.user = r.user;
	cv.groups = ident_groups(&subject);
	cv.ngroups = subject.ngroups;
	cv.resource = r.resource;
	cv.rules = r.rules;
	cv.serial = r.serial;
	if (escalate_find(t, &cv, now, &esc) != 0) {
		*cause = "unconfirmed";
		snprintf(by, bylen, "broker");
		snprintf(why, whylen, "cannot read opt-outs and flags");
		goto out;
	}
	if (esc.level == ESC_BLOCK) {
		*cause = strstr(esc.why, "flagged by monitoring") != NULL ?
		    "flag" :
		    "optout";
		snprintf(by, bylen, "broker");
		snprintf(why, whylen, "blocked by %.900s", esc.why);
		goto out;
	}
	stands = true;
out:
	if (p != NULL)
		policy_put(d, p);
	ident_clear(&subject);
	return stands;
}

static void watch_job(void *arg);

/*
 * Judge w's grants now: answer the call when one ended or its wait is
 * over, else park it.  An event committed while judging (gen moved)
 * judges again, so none is missed between the look and the park.
 */
static void
watch_judge(struct sess_watch *w)
{
	struct sess_hub *h = w->d->sessions;
	struct store_txn *t = NULL;
	json_t *ended = NULL, *active = NULL, *e;
	char id[24], by[REC_NAME], why[1024];
	const char *cause;
	uint64_t gen;
	size_t i;
	int r;

	for (;;) {
		pthread_mutex_lock(&h->lock);
		gen = h->gen;
		pthread_mutex_unlock(&h->lock);
		json_decref(ended);
		json_decref(active);
		ended = json_array();
		active = json_array();
		if (ended == NULL || active == NULL ||
		    (r = store_read_begin(w->d->store, &t)) != 0) {
			call_fail(w->c, BRK_ERR_NOMEM, "cannot judge grants");
			goto done;
		}
		for (i = 0; i < w->ngrants; i++) {
			req_id(w->grants[i], id);
			if (grant_stands(w->d, t, w->grants[i], time_now(),
				&cause, by, sizeof(by), why, sizeof(why))) {
				json_array_append_new(active, json_string(id));
				continue;
			}
			e = json_pack("{s:s, s:s, s:s, s:s}", "grant", id,
			    "cause", cause, "by", by, "why", why);
			json_array_append_new(ended, e);
		}
		store_read_end(t);
		if (json_array_size(ended) > 0 || w->rescan ||
		    deadline_now_ms() >= w->until_ms)
			break;
		pthread_mutex_lock(&h->lock);
		if (h->gen == gen && !h->stopping) {
			w->next = h->parked;
			h->parked = w;
			pthread_mutex_unlock(&h->lock);
			store_read_free(t);
			json_decref(ended);
			json_decref(active);
			return;
		}
		pthread_mutex_unlock(&h->lock);
		if (h->stopping)
			break;
	}
	call_reply(w->c,
	    json_pack("{s:o, s:o, s:b}", "ended", ended, "active", active,
		"rescan", w->rescan));
	ended = active = NULL;
done:
	store_read_free(t);
	json_decref(ended);
	json_decref(active);
	watch_free(w);
}

static void
watch_job(void *arg)
{
	watch_judge(arg);
}

/* Take the parked watches matching host ("": all, NULL: only those whose
 * wait ran out) and judge each again on the worker pool. */
static void
requeue(struct brokerd *d, const char *host, bool bump)
{
	struct sess_hub *h = d->sessions;
	struct sess_watch *w, **pp, *take = NULL;
	long long now = deadline_now_ms();

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	if (bump)
		h->gen++;
	for (pp = &h->parked; (w = *pp) != NULL;) {
		if ((host == NULL && now < w->until_ms) ||
		    (host != NULL && host[0] != '\0' &&
			strcmp(host, w->host) != 0)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->rescan = host != NULL && host[0] != '\0';
		w->next = take;
		take = w;
	}
	pthread_mutex_unlock(&h->lock);
	while ((w = take) != NULL) {
		take = w->next;
		workpool_submit(d->pool, watch_job, w);
	}
}

static void
wake(struct brokerd *d, const char *host)
{
	requeue(d, host, host[0] == '\0');
}

void
ops_sessions_tick(struct brokerd *d)
{
	requeue(d, NULL, false);
}

/* The audit feed's subscriber: records that can end a grant wake every
 * watch (feed thread; the judging runs on the worker pool). */
void
ops_sessions_on_record(const json_t *rec, void *arg)
{
	static const char *const ends[] = { "grant.revoked", "grant.expired",
		"flag.added", "optout.added", "freeze.on", "optout.extended",
		"freeze.extended" };
	const char *action = json_string_value(json_object_get(rec, "action"));
	size_t i;

	if (action == NULL)
		return;
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (strcmp(action, ends[i]) == 0) {
			wake(arg, "");
			return;
		}
}

bool
ops_sessions_wanted(void *arg)
{
	struct brokerd *d = arg;
	struct sess_hub *h = d->sessions;
	bool want;

	/* with no session and no watch nothing can need waking, and a
	 * watch that arrives later judges its grants from the store first */
	pthread_mutex_lock(&h->lock);
	want = h->n > 0 || h->parked != NULL;
	pthread_mutex_unlock(&h->lock);
	return want;
}

int
op_session_watch(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct sess_watch *w = NULL;
	json_t *grants = NULL, *v;
	int64_t wait = WATCH_WAIT_DEFAULT;
	size_t i;
	int r;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return BRK_ERR_NOMEM;
	if ((r = session_host(c, w->host, sizeof(w->host))) != 0)
		goto fail;
	if ((r = arg_int(c, "wait", false, 0, WATCH_WAIT_MAX, &wait, &err)) !=
	    0)
		goto failmsg;
	grants = json_object_get(c->req->args, "grants");
	r = BRK_ERR_INVALID;
	if (grants != NULL &&
	    (!json_is_array(grants) ||
		json_array_size(grants) > WATCH_GRANTS_MAX)) {
		brk_error_set(&err, r,
		    "\"grants\" is an array of at most %d "
		    "request ids",
		    WATCH_GRANTS_MAX);
		goto failmsg;
	}
	r = BRK_ERR_NOMEM;
	if ((w->grants = calloc(
		 json_array_size(grants) + 1, sizeof(*w->grants))) == NULL)
		goto fail;
	json_array_foreach (grants, i, v) {
		if (!json_is_string(v) ||
		    req_id_parse(json_string_value(v), &w->grants[i]) != 0) {
			r = brk_error_set(&err, BRK_ERR_INVALID,
			    "grants[%zu] is not a request id", i);
			goto failmsg;
		}
	}
	w->ngrants = json_array_size(grants);
	w->d = c->d;
	w->c = c;
	w->until_ms = deadline_now_ms() + wait * 1000LL;
	call_hold(c); /* answered later, maybe after the dispatcher's free */
	watch_judge(w);
	return 0;
failmsg:
	call_fail(c, r, "%s", err.msg);
fail:
	free(w->grants);
	free(w);
	return r;
}
