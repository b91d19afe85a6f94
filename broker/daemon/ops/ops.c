/*
 * ops.c - the op table, shared checks, and the daemon's periodic work.
 */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "identity.h"
#include "log.h"
#include "notify.h"
#include "reqstore.h"
#include "strlist.h"
#include "timefmt.h"
#include "policystate.h"
#include "workpool.h"

/* Where a handler runs (see ops.h). */
enum op_thread {
	OP_IO,
	OP_POOL
};

/*
 * The arguments each op takes, by name: one list per op, checked before
 * any handler runs, so an argument no op knows is refused the same way
 * everywhere (the handlers check types and bounds).
 */
static const char *const a_none[] = { NULL };
static const char *const a_request[] = { "resource", "role", "for", "start",
	"reason", "ticket", "incident", "break_glass", "pubkey", "new", NULL };
static const char *const a_end[] = { "id", "reason", NULL };
static const char *const a_id[] = { "id", NULL };
static const char *const a_all[] = { "all", NULL };
static const char *const a_since[] = { "since", NULL };
static const char *const a_list[] = { "all", "state", "limit", "user", NULL };
static const char *const a_check[] = { "user", "resource", NULL };
static const char *const a_text[] = { "text", NULL };
static const char *const a_load[] = { "text", "reason", NULL };
static const char *const a_explain[] = { "user", "resource", "role", "for",
	NULL };
static const char *const a_verify[] = { "anchor", NULL };
static const char *const a_search[] = { "since", "until", "user", "resource",
	"action", "request", "limit", NULL };
static const char *const a_export[] = { "since", "limit", NULL };
static const char *const a_anchor[] = { "new", NULL };
static const char *const a_prune[] = { "before", "confirm", "list", NULL };
static const char *const a_cert[] = { "id", "pubkey", NULL };
static const char *const a_decide[] = { "id", "reason", "for", "role", NULL };
static const char *const a_pending[] = { "limit", "after", NULL };
static const char *const a_optout[] = { "scope", "tag", "reason", "for", "mode",
	"incident", "revoke_active", "extends", NULL };
static const char *const a_extend[] = { "id", "for", "reason", NULL };
static const char *const a_flag[] = { "user", "reason", "for", "severity",
	NULL };
static const char *const a_ack[] = { "id", "note", NULL };
static const char *const a_snapshot[] = { "host", "for", NULL };
static const char *const a_lrevoke[] = { "user", "serial", "reason", NULL };
static const char *const a_sess[] = { "host", "grant", "account", "ruser",
	"tty", "pid", "start", NULL };
static const char *const a_sess_end[] = { "host", "grant", "account", "ruser",
	"tty", "pid", "start", "cause", "by", "why", "processes",
	"grace_needed", "refused", NULL };
static const char *const a_sess_list[] = { "host", "user", NULL };
static const char *const a_sess_watch[] = { "host", "grants", "wait", NULL };
static const char *const a_host_token[] = { "host", "for", NULL };
static const char *const a_host_enroll[] = { "token", "csr", NULL };
static const char *const a_host_sync[] = { "csr", "include", NULL };
static const char *const a_host_remove[] = { "host", "reason", NULL };

static const struct op {
	const char *name;
	int (*fn)(struct call *c);
	enum op_thread thread;
	const char *const *args; /* the argument names it takes */
} op_table[] = {
	{ "request", op_request, OP_IO, a_request },
	{ "cancel", op_cancel, OP_IO, a_end },
	{ "revoke", op_revoke, OP_IO, a_end },
	{ "status", op_status, OP_IO, a_none },
	{ "list", op_list, OP_POOL, a_list },
	{ "show", op_show, OP_POOL, a_id }, /* people: may ask the directory */
	{ "check", op_check, OP_POOL, a_check },
	{ "whoami", op_whoami, OP_IO, a_none },
	{ "policy.check", op_policy_check, OP_POOL, a_text },
	{ "policy.load", op_policy_load, OP_POOL, a_load },
	{ "policy.show", op_policy_show, OP_IO, a_none },
	{ "policy.explain", op_policy_explain, OP_POOL, a_explain },
	{ "audit.verify", op_audit_verify, OP_IO, a_verify },
	{ "audit.search", op_audit_search, OP_IO,
	    a_search }, /* audit trail (ops_audit.c) */
	{ "audit.export", op_audit_export, OP_IO, a_export },
	{ "audit.anchor", op_audit_anchor, OP_IO, a_anchor },
	{ "audit.prune", op_audit_prune, OP_IO, a_prune },
	{ "cert", op_cert, OP_POOL, a_cert },
	{ "cred", op_cred, OP_POOL, a_cert },
	{ "approve", op_approve, OP_IO, a_decide },
	{ "deny", op_deny, OP_IO, a_decide },
	{ "pending", op_pending, OP_POOL, a_pending },
	{ "review.list", op_review_list, OP_POOL, a_all },
	{ "optout.add", op_optout_add, OP_IO, a_optout },
	{ "optout.remove", op_optout_remove, OP_IO, a_end },
	{ "optout.extend", op_optout_extend, OP_IO, a_extend },
	{ "optout.list", op_optout_list, OP_POOL, a_all },
	{ "optout.show", op_optout_show, OP_IO, a_id },
	{ "optout.report", op_optout_report, OP_POOL, a_since },
	{ "freeze", op_optout_add, OP_IO, a_optout },
	{ "unfreeze", op_optout_remove, OP_IO, a_end },
	{ "flag.add", op_flag_change, OP_IO, a_flag },
	{ "flag.remove", op_flag_change, OP_IO, a_flag },
	{ "flag.list", op_flag_list, OP_POOL, a_all },
	{ "review.ack", op_review_ack, OP_IO, a_ack },
	{ "krl", op_krl, OP_POOL, a_none },
	{ "ca.show", op_ca_show, OP_IO, a_none },
	{ "snapshot", op_snapshot, OP_POOL, a_snapshot },
	{ "metrics", op_metrics, OP_POOL, a_none },
	{ "login.revoke", op_login_revoke, OP_IO, a_lrevoke }, /* ops_login.c */
	{ "session.open", op_session_open, OP_IO, a_sess },
	{ "session.close", op_session_close, OP_IO, a_sess },
	{ "session.terminated", op_session_terminated, OP_IO, a_sess_end },
	{ "session.list", op_session_list, OP_IO, a_sess_list },
	/* judges grants (directory lookups); a parked watch holds no thread */
	{ "session.watch", op_session_watch, OP_POOL, a_sess_watch },
	{ "host.token.create", op_host_token_create, OP_IO, a_host_token },
	{ "host.enroll", op_host_enroll, OP_POOL, a_host_enroll },
	{ "host.sync", op_host_sync, OP_POOL, a_host_sync },
	{ "host.list", op_host_list, OP_POOL, a_all },
	{ "host.remove", op_host_remove, OP_IO, a_host_remove },
};

/* Run a handler and act on its status: a failure it did not answer is
 * answered here.  The hold keeps c readable after a reply. */
static void
run_op(const struct op *op, struct call *c)
{
	int r;

	call_hold(c);
	if ((r = op->fn(c)) != 0 && !call_replied(c))
		call_fail(c, r, "%s: %s", op->name, brk_strerror(r));
	call_free(c);
}

struct pool_job {
	const struct op *op;
	struct call *c;
};

/* On the worker pool, with a read transaction of the worker's own: the
 * transport's (c->rtxn) belongs to its thread. */
static void
run_pooled_job(const struct pool_job *j)
{
	struct store_txn *rtxn = NULL;
	struct call *c = j->c;

	/* handlers read through c->rtxn only while they run (their writer
	 * and pool callbacks open their own), so the local slot is enough */
	c->rtxn = &rtxn;
	run_op(j->op, c);
	store_read_free(rtxn);
}

static void
run_pooled(void *arg)
{
	run_pooled_job(arg);
	free(arg);
}

/* The op c names, or NULL. */
static const struct op *
find_op(const struct call *c)
{
	size_t i;

	for (i = 0; i < sizeof(op_table) / sizeof(op_table[0]); i++)
		if (strcmp(op_table[i].name, c->req->op) == 0)
			return &op_table[i];
	return NULL;
}

void
ops_dispatch(struct call *c)
{
	struct brk_error err = { { 0 } };
	const struct op *op = find_op(c);
	struct pool_job *j;

	if (op == NULL) {
		call_fail(
		    c, BRK_ERR_INVALID, "unknown op \"%.64s\"", c->req->op);
		return;
	}
	if (proto_args_only(c->req->args, op->args, &err) != 0) {
		call_fail(c, BRK_ERR_INVALID, "%s: %s", op->name, err.msg);
		return;
	}
	if (op->thread == OP_IO || c->d->pool == NULL) {
		run_op(op, c);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		call_fail(c, BRK_ERR_NOMEM, "out of memory");
		return;
	}
	j->op = op;
	j->c = c;
	workpool_submit(c->d->pool, run_pooled, j);
}

bool
ops_run_pooled(struct call *c)
{
	const struct op *op = find_op(c);
	struct pool_job j = { op, c };

	if (op == NULL || op->thread != OP_POOL || c->d->pool == NULL ||
	    proto_args_only(c->req->args, op->args, NULL) != 0)
		return false;
	run_pooled_job(&j);
	return true;
}

size_t
ops_count(void)
{
	return sizeof(op_table) / sizeof(op_table[0]);
}

const char *
ops_name(size_t i)
{
	return i < ops_count() ? op_table[i].name : NULL;
}

/* A user whose groups are unknown holds no role, even one named for
 * them: every decision about them is refused (identity.h). */
bool
call_has_role(struct call *c, struct policy_ref *p, enum policy_role r)
{
	return p != NULL && c->who.groups_complete &&
	    policy_has_role(p->policy, r, c->who.name, ident_groups(&c->who),
		c->who.ngroups);
}

bool
call_may_see_all(struct call *c, struct policy_ref *p)
{
	return call_has_role(c, p, ROLE_POLICY_ADMINS) ||
	    call_has_role(c, p, ROLE_AUDITORS) ||
	    call_has_role(c, p, ROLE_REVIEWERS);
}

void
ops_answer(struct call *c, int rc, json_t *result, const char *msg)
{
	if (rc == 0) {
		call_reply(c, result);
		return;
	}
	json_decref(result);
	call_fail(c, rc, "%s", msg[0] != '\0' ? msg : brk_strerror(rc));
}

bool
call_in_role(struct call *c, enum policy_role r)
{
	struct policy_ref *p = policy_get(c->d);
	bool ok = call_has_role(c, p, r);

	policy_put(c->d, p);
	return ok;
}

int
ops_list(struct call *c, int (*may)(struct call *, struct brk_error *),
    int (*list)(struct store_txn *, bool all, int64_t now, json_t *out))
{
	struct brk_error err = { { 0 } };
	struct store_txn *t = NULL;
	json_t *out = NULL;
	bool all = false;
	const struct proto_arg spec[] = {
		{ "all", PA_BOOL, false, 0, 0, &all },
	};
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0 ||
	    (r = may(c, &err)) != 0)
		goto fail;
	r = BRK_ERR_NOMEM;
	if ((out = json_array()) == NULL || (r = call_read(c, &t)) != 0 ||
	    (r = list(t, all, time_now(), out)) != 0)
		goto fail;
	call_reply(c, out);
	return 0;
fail:
	json_decref(out);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

int
ops_arg_id(struct call *c, uint64_t *serial, const char **idstr)
{
	struct brk_error err = { { 0 } };
	const char *id = NULL;
	int r;

	if ((r = proto_arg_str(c->req->args, "id", true, 32, &id, &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	if (req_id_parse(id, serial) != 0) {
		call_fail(c, BRK_ERR_INVALID,
		    "\"%.32s\" is not a request id "
		    "(like r42)",
		    id);
		return BRK_ERR_INVALID;
	}
	if (idstr != NULL)
		*idstr = id;
	return 0;
}

int
ops_load_request(
    struct call *c, struct store_txn *t, const char *id, struct request *r)
{
	uint64_t serial;
	int rc;

	if (req_id_parse(id, &serial) != 0)
		return BRK_ERR_INVALID;
	if ((rc = reqstore_load(t, serial, r)) != 0)
		return rc;
	reqstore_effective(r, time_now());
	return 0;
}

void
ops_actor(struct call *c, struct actor *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->user, sizeof(a->user), "%s", c->who.name);
	snprintf(a->caller, sizeof(a->caller), "%s", c->caller.name);
	a->delegated = c->delegated;
	a->who = &c->who;
}

int
ops_submit(struct call *c, struct policy_ref *p, writer_apply_fn apply,
    writer_done_fn done, void *op, int r, const struct brk_error *err)
{
	if (r == 0 && (r = writer_submit(c->d->writer, apply, done, op)) == 0) {
		policy_put(c->d, p);
		return 0;
	}
	policy_put(c->d, p);
	free(op);
	call_fail(c, r, "%s", err->msg[0] ? err->msg : brk_strerror(r));
	return r;
}

void
ops_tick(struct brokerd *d, struct store_txn **rtxn)
{
	ops_cred_tick(d); /* credentials outside (ops_credsync.c) */
	/* once for the cluster: with brokers sharing a PostgreSQL store,
	 * only the leader sweeps, anchors and reminds (store.h) */
	if (!store_leader(d->store))
		return;
	ops_sweep(d, rtxn);
	ops_audit_tick(d, rtxn); /* periodic signed anchors (ops_audit.c) */
	notify_tick(d, rtxn);	 /* review.overdue, once a minute */
	ops_sessions_tick(d);	 /* session watches whose wait ran out */
}

static void
reload_job(void *arg)
{
	policystate_reload(arg);
}

/* SIGHUP: the reload waits for a sync, so it runs on the worker pool. */
void
ops_reload(struct brokerd *d)
{
	workpool_submit(d->pool, reload_job, d);
}

/* A JSON array of strings as a comma-separated list (as records hold). */
static void
join_json(const json_t *a, char *buf, size_t len)
{
	const char *v[256];
	size_t i, n = 0;
	json_t *x;

	json_array_foreach ((json_t *)a, i, x)
		if (n < 256 && json_is_string(x))
			v[n++] = json_string_value(x);
	strlist_join(buf, len, v, n);
}

void
ops_add_people(struct brokerd *d, json_t *o)
{
	json_t *ap = json_object_get(o, "approval"), *x;
	const char *exclude[2 + APPROVALS_MAX];
	struct ident_people ip = { 0 };
	char groups[1024], users[1024];
	size_t n = 0, i;

	if (!json_is_object(ap) ||
	    strcmp(json_string_value(json_object_get(o, "state")) != NULL ?
		    json_string_value(json_object_get(o, "state")) :
		    "",
		"pending") != 0)
		return;
	exclude[n++] = json_string_value(json_object_get(o, "user"));
	exclude[n++] = json_string_value(json_object_get(o, "caller"));
	json_array_foreach (json_object_get(o, "approvals"), i, x)
		if (n < 2 + APPROVALS_MAX)
			exclude[n++] = json_string_value(
			    json_object_get(x, "approver"));
	join_json(json_object_get(ap, "groups"), groups, sizeof(groups));
	join_json(json_object_get(ap, "users"), users, sizeof(users));
	if (ident_people(d->ident, groups, users, exclude, n, true, &ip) != 0)
		snprintf(ip.why, sizeof(ip.why), "out of memory");
	json_object_set_new(
	    ap, "people", ip.people != NULL ? ip.people : json_null());
	json_object_set_new(ap, "people_unknown",
	    ip.people != NULL ? json_null() : json_string(ip.why));
	json_object_set_new(ap, "people_more", json_boolean(ip.more));
}
