/*
 * ops_approve.c - deciding by people: pending, approve, deny.
 *
 * Every separation-of-duties check runs inside the write transaction that
 * records the approval, so no race between two approvers, a cancel or a
 * revoke can slip past it.  Each refusal names the rule it enforces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "audit.h"
#include "duration.h"
#include "flags.h"
#include "names.h"
#include "ops.h"
#include "policystate.h"
#include "reqstore.h"
#include "timefmt.h"

/* Separation of duties, in the order a refusal reports them. */
static int
check_duties(struct store_txn *t, struct req_op *op, const struct request *r,
    const char *id)
{
	struct call *c = op->c;
	struct policy_ref *p;
	json_t *ver;
	const char *author;
	bool authors_may;
	int rc = BRK_ERR_DENIED;

	if (strcmp(c->who.name, r->user) == 0 ||
	    strcmp(c->who.name, r->caller) == 0 ||
	    strcmp(c->caller.name, r->user) == 0) {
		snprintf(op->msg, sizeof(op->msg), "separation of duties "
		    "(requester-not-approver): %s asked for %s and may not "
		    "decide it", strcmp(c->who.name, r->user) == 0 ||
		    strcmp(c->who.name, r->caller) == 0 ? c->who.name :
		    c->caller.name, id);
		return rc;
	}
	if (!ops_is_approver(&c->who, r)) {
		snprintf(op->msg, sizeof(op->msg), "separation of duties "
		    "(eligible-approvers): %s is not an approver of %s "
		    "(groups: %.150s; users: %.150s)", c->who.name, id,
		    r->approver_groups[0] ? r->approver_groups : "-",
		    r->approver_users[0] ? r->approver_users : "-");
		return rc;
	}
	if (flags_blocks(t, c->who.name, op->now)) {
		snprintf(op->msg, sizeof(op->msg), "separation of duties "
		    "(active-approver): %s is flagged with severity block and "
		    "may not approve", c->who.name);
		return rc;
	}
	p = policy_get(c->d);
	authors_may = policy_limits(p->policy)->rule_authors_may_approve;
	policy_put(c->d, p);
	if (authors_may)
		return 0;
	ver = policystate_version(c->d, t, r->policy_version, false);
	author = json_string_value(json_object_get(ver, "loaded_by"));
	if (author != NULL && strcmp(author, c->who.name) == 0) {
		snprintf(op->msg, sizeof(op->msg), "separation of duties "
		    "(rule-authors-may-not-approve): %s loaded policy v%llu, "
		    "which routed %s", c->who.name,
		    (unsigned long long)r->policy_version, id);
		json_decref(ver);
		return rc;
	}
	json_decref(ver);
	return 0;
}

/* Load the request and check it can still be decided by this person. */
static int
load_decidable(struct store_txn *t, struct req_op *op, struct request *r,
    char id[24])
{
	int rc;

	req_id(op->rec.serial, id);
	if ((rc = reqstore_load(t, op->rec.serial, r)) != 0) {
		snprintf(op->msg, sizeof(op->msg), "no request %s", id);
		return rc;
	}
	if (r->state != ST_PENDING || op->now >= r->expires_at) {
		snprintf(op->msg, sizeof(op->msg), "request %s is %s: nothing "
		    "to decide", id, r->state == ST_PENDING ? "expired" :
		    req_state_name(r->state));
		return BRK_ERR_STATE;
	}
	return check_duties(t, op, r, id);
}

static int
apply_approve(struct store_txn *t, void *arg)
{
	struct req_op *op = arg;
	struct request old, *r = &op->rec;
	int64_t min_ttl = 0;
	char id[24], reason[REC_TEXT];
	int rc;

	memcpy(reason, op->rec.end_reason, sizeof(reason));
	if ((rc = load_decidable(t, op, &old, id)) != 0)
		return rc;
	if (op->ttl > old.ttl) {
		snprintf(op->msg, sizeof(op->msg), "an approver may shorten, "
		    "never lengthen: %s asked for %llds", id,
		    (long long)old.ttl);
		return BRK_ERR_DENIED;
	}
	rc = approvals_put(t, old.serial, &(struct approval){
	    .approver = op->c->who.name, .caller = op->c->caller.name,
	    .reason = reason, .role = old.role, .ttl = op->ttl,
	    .at = op->now });
	if (rc == BRK_ERR_EXISTS) {
		snprintf(op->msg, sizeof(op->msg), "separation of duties "
		    "(one-person-counts-once): %s already approved %s",
		    op->c->who.name, id);
		return BRK_ERR_DENIED;
	}
	if (rc != 0)
		return rc;
	*r = old;
	r->approvals++;
	if ((rc = audit_request(t, op, "request.approval", reason)) != 0)
		return rc;
	if (r->approvals >= r->quorum) {
		/* the window starts now (or at the start asked for), not
		 * at request time */
		if ((rc = approvals_list(t, r->serial, NULL, &min_ttl)) != 0)
			return rc;
		if (min_ttl > 0 && min_ttl < r->ttl)
			r->ttl = min_ttl;
		r->decided_at = op->now;
		r->starts_at = r->requested_start > op->now ?
		    r->requested_start : op->now;
		r->state = r->starts_at > op->now ? ST_SCHEDULED : ST_ACTIVE;
		r->expires_at = r->starts_at + r->ttl;
		if ((rc = audit_request(t, op, "request.approved", NULL)) != 0)
			return rc;
	}
	/* the reply names who approved so far */
	json_decref(op->approvals);
	if ((op->approvals = json_array()) != NULL &&
	    (rc = approvals_list(t, r->serial, op->approvals, &min_ttl)) != 0)
		return rc;
	return reqstore_update(t, &old, r);
}

static int
apply_deny(struct store_txn *t, void *arg)
{
	struct req_op *op = arg;
	struct request old;
	char id[24], reason[REC_TEXT];
	int rc;

	if ((rc = load_decidable(t, op, &old, id)) != 0)
		return rc;
	memcpy(reason, op->rec.end_reason, sizeof(reason));
	op->rec = old;
	op->rec.state = ST_DENIED;
	op->rec.decided_at = op->rec.ended_at = op->now;
	snprintf(op->rec.ended_by, sizeof(op->rec.ended_by), "%s",
	    op->c->who.name);
	memcpy(op->rec.end_reason, reason, sizeof(reason));
	if ((rc = audit_request(t, op, "request.denied", reason)) != 0)
		return rc;
	return reqstore_update(t, &old, &op->rec);
}

static int
submit_decision(struct call *c, bool approve)
{
	static const char *const keys[] = { "id", "reason", "for", "role",
		NULL };
	struct brk_error err = { { 0 } };
	const char *reason = NULL, *role = NULL, *idstr = NULL;
	struct req_op *op = NULL;
	uint64_t serial;
	int64_t ttl = 0;
	int r;

	if (ops_arg_id(c, &serial, &idstr) != 0)
		return 0;
	if ((r = proto_args_only(c->req->args, keys, &err)) != 0 ||
	    (r = proto_arg_str(c->req->args, "reason", true, REC_TEXT - 1,
	    &reason, &err)) != 0 ||
	    ((r = proto_arg_int(c->req->args, "for", false, 1, DURATION_MAX,
	    &ttl, &err)) != 0 && r != BRK_ERR_NOTFOUND) ||
	    ((r = proto_arg_str(c->req->args, "role", false, REC_NAME - 1,
	    &role, &err)) != 0 && r != BRK_ERR_NOTFOUND))
		goto fail;
	r = BRK_ERR_NOMEM;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		goto fail;
	op->c = c;
	op->rec.serial = serial;
	op->now = time_now();
	op->ttl = approve ? ttl : 0;
	snprintf(op->rec.end_reason, sizeof(op->rec.end_reason), "%s", reason);
	if (approve && role != NULL) {
		/* a grant has one principal: the only narrower role is the
		 * requested one, so anything else would widen or change it */
		struct store_txn *t = NULL;
		struct request cur;
		if ((r = call_read(c, &t)) != 0 ||
		    (r = reqstore_load(t, serial, &cur)) != 0)
			goto fail;
		r = BRK_ERR_DENIED;
		if (strcmp(cur.role, role) != 0) {
			brk_error_set(&err, r, "an approver may narrow, never "
			    "widen or change: %s was requested as %s, not %s",
			    idstr, cur.role, role);
			goto fail;
		}
	}
	if ((r = writer_submit(c->d->writer, approve ? apply_approve :
	    apply_deny, done_reply, op)) != 0)
		goto fail;
	return 0;
fail:
	req_op_free(op);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

int
op_approve(struct call *c)
{
	return submit_decision(c, true);
}

int
op_deny(struct call *c)
{
	return submit_decision(c, false);
}

struct pending_scan {
	struct call *c;
	struct store_txn *t;
	int64_t now;
	json_t *out;
};

static int
add_pending(uint64_t serial, void *arg)
{
	struct pending_scan *ps = arg;
	struct request r;
	json_t *o, *approvals;
	int64_t min_ttl;

	if (reqstore_load(ps->t, serial, &r) != 0 ||
	    !reqstore_is_live(&r, ps->now) || !ops_is_approver(&ps->c->who,
	    &r) || strcmp(r.user, ps->c->who.name) == 0 ||
	    strcmp(r.caller, ps->c->who.name) == 0)
		return 0;
	if ((o = record_to_json(&r)) == NULL ||
	    (approvals = json_array()) == NULL) {
		json_decref(o);
		return BRK_ERR_NOMEM;
	}
	approvals_list(ps->t, serial, approvals, &min_ttl);
	json_object_set_new(o, "approvals", approvals);
	json_object_set_new(o, "age_s", json_integer(ps->now - r.created_at));
	json_object_set_new(o, "i_approved", json_boolean(approvals_has(ps->t,
	    serial, ps->c->who.name)));
	json_array_append_new(ps->out, o);
	return json_array_size(ps->out) >= 1000 ? 1 : 0;
}

int
op_pending(struct call *c)
{
	struct pending_scan ps = { .c = c, .now = time_now() };
	int r;

	ps.out = json_array();
	if (ps.out == NULL || (r = call_read(c, &ps.t)) != 0 ||
	    (r = reqstore_by_state(ps.t, ST_PENDING, add_pending, &ps)) != 0) {
		json_decref(ps.out);
		call_fail(c, BRK_ERR_IO, "cannot read pending requests");
		return 0;
	}
	call_reply(c, ps.out);
	return 0;
}
