/*
 * ops.c - the op table, shared checks, and the daemon's periodic work.
 */
#include "ops.h"

#include <string.h>

#include "log.h"
#include "notify.h"
#include "reqstore.h"
#include "strlist.h"
#include "timefmt.h"
#include "policystate.h"
#include "server.h"

static const struct {
	const char *name;
	int (*fn)(struct call *c);
} op_table[] = {
	{ "request", op_request },
	{ "cancel", op_cancel },
	{ "revoke", op_revoke },
	{ "status", op_status },
	{ "list", op_list },
	{ "show", op_show },
	{ "check", op_check },
	{ "whoami", op_whoami },
	{ "policy.check", op_policy_check },
	{ "policy.load", op_policy_load },
	{ "policy.show", op_policy_show },
	{ "policy.explain", op_policy_explain },
	{ "audit.verify", op_audit_verify },
	{ "audit.search", op_audit_search },	/* audit trail (ops_audit.c) */
	{ "audit.export", op_audit_export },
	{ "audit.anchor", op_audit_anchor },
	{ "audit.prune", op_audit_prune },
	{ "cert", op_cert },
	{ "approve", op_approve },
	{ "deny", op_deny },
	{ "pending", op_pending },
	{ "review.list", op_review_list },
	{ "optout.add", op_optout_add },
	{ "optout.remove", op_optout_remove },
	{ "optout.extend", op_optout_extend },
	{ "optout.list", op_optout_list },
	{ "optout.show", op_optout_show },
	{ "optout.report", op_optout_report },
	{ "freeze", op_freeze },
	{ "unfreeze", op_unfreeze },
	{ "flag.add", op_flag_add },
	{ "flag.remove", op_flag_remove },
	{ "flag.list", op_flag_list },
	{ "review.ack", op_review_ack },
	{ "krl", op_krl },
	{ "ca.show", op_ca_show },
	{ "snapshot", op_snapshot },
	{ "metrics", op_metrics },
};

void
ops_dispatch(struct call *c)
{
	size_t i;

	for (i = 0; i < sizeof(op_table) / sizeof(op_table[0]); i++)
		if (strcmp(op_table[i].name, c->req->op) == 0) {
			op_table[i].fn(c);
			return;
		}
	call_fail(c, BRK_ERR_INVALID, "unknown op \"%.64s\"", c->req->op);
}

bool
call_has_role(struct call *c, struct policy_ref *p, enum policy_role r)
{
	return p != NULL && policy_has_role(p->policy, r, c->who.name,
	    ident_groups(&c->who), c->who.ngroups);
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
	ops_audit_tick(d, rtxn);	/* periodic signed anchors (ops_audit.c) */
	notify_tick(d, rtxn);	/* review.overdue, once a minute */
}

void
ops_reload(struct brokerd *d)
{
	policystate_reload(d);
}
