/*
 * ops.c - the op table, shared checks, and the daemon's periodic work.
 */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "reqstore.h"
#include "strlist.h"
#include "timefmt.h"
#include "policystate.h"
#include "workpool.h"

/* Where a handler runs (see ops.h). */
enum op_thread { OP_IO, OP_POOL };

static const struct op {
	const char *name;
	int (*fn)(struct call *c);
	enum op_thread thread;
} op_table[] = {
	{ "request", op_request, OP_IO },
	{ "cancel", op_cancel, OP_IO },
	{ "revoke", op_revoke, OP_IO },
	{ "status", op_status, OP_IO },
	{ "list", op_list, OP_POOL },
	{ "show", op_show, OP_IO },
	{ "check", op_check, OP_POOL },
	{ "whoami", op_whoami, OP_IO },
	{ "policy.check", op_policy_check, OP_POOL },
	{ "policy.load", op_policy_load, OP_POOL },
	{ "policy.show", op_policy_show, OP_IO },
	{ "policy.explain", op_policy_explain, OP_POOL },
	{ "audit.verify", op_audit_verify, OP_IO },
	{ "audit.search", op_audit_search, OP_IO },	/* audit trail (ops_audit.c) */
	{ "audit.export", op_audit_export, OP_IO },
	{ "audit.anchor", op_audit_anchor, OP_IO },
	{ "audit.prune", op_audit_prune, OP_IO },
	{ "cert", op_cert, OP_POOL },
	{ "cred", op_cred, OP_POOL },
	{ "approve", op_approve, OP_IO },
	{ "deny", op_deny, OP_IO },
	{ "pending", op_pending, OP_POOL },
	{ "review.list", op_review_list, OP_POOL },
	{ "optout.add", op_optout_add, OP_IO },
	{ "optout.remove", op_optout_remove, OP_IO },
	{ "optout.extend", op_optout_extend, OP_IO },
	{ "optout.list", op_optout_list, OP_POOL },
	{ "optout.show", op_optout_show, OP_IO },
	{ "optout.report", op_optout_report, OP_POOL },
	{ "freeze", op_freeze, OP_IO },
	{ "unfreeze", op_unfreeze, OP_IO },
	{ "flag.add", op_flag_add, OP_IO },
	{ "flag.remove", op_flag_remove, OP_IO },
	{ "flag.list", op_flag_list, OP_POOL },
	{ "review.ack", op_review_ack, OP_IO },
	{ "krl", op_krl, OP_POOL },
	{ "ca.show", op_ca_show, OP_IO },
	{ "snapshot", op_snapshot, OP_POOL },
	{ "metrics", op_metrics, OP_POOL },
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
run_pooled(void *arg)
{
	struct pool_job *j = arg;
	struct store_txn *rtxn = NULL;
	struct call *c = j->c;

	/* handlers read through c->rtxn only while they run (their writer
	 * and pool callbacks open their own), so the local slot is enough */
	c->rtxn = &rtxn;
	run_op(j->op, c);
	store_read_free(rtxn);
	free(j);
}

void
ops_dispatch(struct call *c)
{
	const struct op *op = NULL;
	struct pool_job *j;
	size_t i;

	for (i = 0; i < sizeof(op_table) / sizeof(op_table[0]); i++)
		if (strcmp(op_table[i].name, c->req->op) == 0)
			op = &op_table[i];
	if (op == NULL) {
		call_fail(c, BRK_ERR_INVALID, "unknown op \"%.64s\"",
		    c->req->op);
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
		call_fail(c, BRK_ERR_INVALID, "\"%.32s\" is not a request id "
		    "(like r42)", id);
		return BRK_ERR_INVALID;
	}
	if (idstr != NULL)
		*idstr = id;
	return 0;
}

int
ops_load_request(struct call *c, struct store_txn *t, const char *id,
    struct request *r)
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

bool
ops_is_approver(const struct ident *who, const struct request *r)
{
	size_t i;

	if (!who->groups_complete)
		return false;	/* groups unknown: approves nothing */
	if (strlist_has(r->approver_users, who->name))
		return true;
	for (i = 0; i < who->ngroups; i++)
		if (strlist_has(r->approver_groups, who->groups[i]))
			return true;
	return false;
}

void
ops_join(char *dst, size_t dstlen, const char *const *v, size_t n)
{
	size_t i, used = 0, l;

	dst[0] = '\0';
	for (i = 0; i < n; i++) {
		l = strlen(v[i]);
		if (used + l + 2 > dstlen)
			break;
		if (used > 0)
			dst[used++] = ',';
		memcpy(dst + used, v[i], l + 1);
		used += l;
	}
}

void
ops_tick(struct brokerd *d, struct store_txn **rtxn)
{
	ops_sweep(d, rtxn);
	ops_cred_tick(d);	/* credentials outside (ops_credsync.c) */
	ops_audit_tick(d, rtxn);	/* periodic signed anchors (ops_audit.c) */
	notify_tick(d, rtxn);	/* review.overdue, once a minute */
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
