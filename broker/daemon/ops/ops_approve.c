/*
 * ops_approve.c - deciding by people: pending, approve, deny.
 *
 * Every separation-of-duties check runs inside the write transaction that
 * records the approval, so no race between two approvers, a cancel or a
 * revoke can slip past it.  Each refusal names the rule it enforces.
 *
 * Two ideas carry the rest.  A connection principal counts once: approvals
 * that arrive through one delegate (a chat bot acting with --as) count as
 * one toward a quorum, whoever they are made for, and a delegate that filed
 * a request may not decide it for anyone.  And an approval is judged when
 * it counts, not only when it is given: each earlier approver's groups are
 * resolved again (through identity) when a later approval is evaluated, and
 * one who has left the approver groups, been flagged with block, or whose
 * groups cannot be known no longer counts.  Under `brokerd --dev` one
 * operator plays every part through one delegate, so only there approvals
 * count per approver instead of per connection principal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "audit.h"
#include "duration.h"
#include "flags.h"
#include "log.h"
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
	struct brk_error gerr = { { 0 } };
	struct policy_ref *p;
	json_t *ver;
	const char *author;
	bool authors_may, blocked;
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
	if (ident_require_groups(&c->who, &gerr) != 0) {
		snprintf(op->msg, sizeof(op->msg), "%.400s; %s may not decide "
		    "%s", gerr.msg, c->who.name, id);
		return rc;
	}
	if (!c->d->cfg->dev && strcmp(c->caller.name, r->caller) == 0) {
		/* a delegate that filed for someone decides for no one */
		snprintf(op->msg, sizeof(op->msg), "separation of duties "
		    "(filer-not-approver): %s filed %s (for %s) and may not "
		    "decide it, for anyone", c->caller.name, id, r->user);
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
	if (flags_blocks(t, c->who.name, op->now, &blocked) != 0) {
		snprintf(op->msg, sizeof(op->msg), "the flag of %s cannot be "
		    "read: %s may not decide %s", c->who.name, c->who.name, id);
		return rc;
	}
	if (blocked) {
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
	if ((ver = policystate_version(c->d, t, r->policy_version,
	    false)) == NULL) {
		/* who wrote the rule cannot be known: refuse */
		snprintf(op->msg, sizeof(op->msg), "policy v%llu, which routed "
		    "%s, cannot be read: %s may not decide it",
		    (unsigned long long)r->policy_version, id, c->who.name);
		return rc;
	}
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

/* An earlier approver, resolved off the writer thread before submitting. */
struct prior {
	struct approval_who w;
	struct ident id;
	bool known;		/* identity resolved */
};

/* An approval on its way to the writer.  op comes first: done_reply()
 * frees it, and with it the whole (the priors are cleared before). */
struct approve_op {
	struct req_op op;
	struct prior *prior;
	size_t nprior;
	json_t *counted;	/* the approvals as judged, for the audit */
};

/* The identity of approver w now: the caller's own, a prior resolved before
 * submitting, or (an approval that landed since) resolved here.  Returns
 * false when it cannot be known. */
static bool
approver_now(struct approve_op *a, const struct approval_who *w,
    struct ident *tmp, const struct ident **out)
{
	struct brk_error err = { { 0 } };
	size_t i;

	*out = NULL;
	if (strcmp(w->approver, a->op.c->who.name) == 0) {
		*out = &a->op.c->who;
		return true;
	}
	for (i = 0; i < a->nprior; i++)
		if (strcmp(a->prior[i].w.approver, w->approver) == 0) {
			if (!a->prior[i].known)
				return false;
			*out = &a->prior[i].id;
			return true;
		}
	if (ident_from_name(a->op.c->d->ident, w->approver, tmp, &err) != 0)
		return false;
	*out = tmp;
	return true;
}

/*
 * How many of r's approvals count now: each approver still eligible and not
 * flagged with block, and one per connection principal (per approver under
 * --dev).  a->counted receives each approval as judged.
 */
static int
count_approvals(struct store_txn *t, struct approve_op *a,
    const struct request *r, int *count)
{
	struct approval_who *w = NULL;
	const struct ident *who;
	struct ident tmp;
	const char *why;
	bool blocked;
	size_t i, j, n = 0;
	json_t *e;
	int rc = BRK_ERR_NOMEM;

	*count = 0;
	json_decref(a->counted);
	if ((a->counted = json_array()) == NULL ||
	    (w = calloc(APPROVALS_MAX, sizeof(*w))) == NULL)
		goto out;
	if ((rc = approvals_who(t, r->serial, w, APPROVALS_MAX, &n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		memset(&tmp, 0, sizeof(tmp));
		why = NULL;
		if (!approver_now(a, &w[i], &tmp, &who))
			why = "groups cannot be known";
		else if (!ops_is_approver(who, r))
			why = "no longer an eligible approver";
		else if (flags_blocks(t, w[i].approver, a->op.now,
		    &blocked) != 0)
			why = "flag cannot be read";
		else if (blocked)
			why = "flagged with severity block";
		ident_clear(&tmp);
		for (j = 0; why == NULL && !a->op.c->d->cfg->dev && j < i; j++)
			if (strcmp(w[j].caller, w[i].caller) == 0 &&
			    json_is_true(json_object_get(json_array_get(
			    a->counted, j), "counted")))
				why = "same connection principal as an "
				    "earlier approval";
		if ((e = json_pack("{s:s, s:s, s:b}", "approver",
		    w[i].approver, "caller", w[i].caller, "counted",
		    why == NULL)) == NULL) {
			rc = BRK_ERR_NOMEM;
			goto out;
		}
		if (why != NULL)
			json_object_set_new(e, "why", json_string(why));
		json_array_append_new(a->counted, e);
		if (why == NULL)
			(*count)++;
	}
	rc = 0;
out:
	free(w);
	return rc;
}

/* The audit record of an approval: audit_request's, with the approvals as
 * judged and, under --as, the delegate that carried it. */
static int
audit_approval(struct store_txn *t, struct approve_op *a, const char *action,
    const char *reason)
{
	struct req_op *op = &a->op;
	char id[24];
	json_t *details;
	int r;

	req_id(op->rec.serial, id);
	details = json_pack("{s:s, s:s, s:s, s:I, s:s, s:O, s:i, s:i}",
	    "state", req_state_name(op->rec.state), "role", op->rec.role,
	    "rules", op->rec.rules, "ttl", (json_int_t)op->rec.ttl,
	    "decision", op->rec.decision, "approvals", a->counted,
	    "counted", op->rec.approvals, "quorum", op->rec.quorum);
	if (details == NULL)
		return BRK_ERR_NOMEM;
	if (op->c->delegated)
		json_object_set_new(details, "delegate",
		    json_string(op->c->caller.name));
	r = audit_append(t, op->now, &(struct audit_event){
	    .action = action, .actor = op->c->who.name,
	    .caller = op->c->caller.name, .target = id, .user = op->rec.user,
	    .resource = op->rec.resource, .reason = reason,
	    .details = details }, NULL);
	json_decref(details);
	return r;
}

/* Refuse a second approval carried by the same connection principal. */
static int
check_once_per_caller(struct store_txn *t, struct req_op *op,
    const struct request *r, const char *id)
{
	struct approval_who *w;
	size_t i, n = 0;
	int rc = BRK_ERR_NOMEM;

	if (op->c->d->cfg->dev)
		return 0;
	if ((w = calloc(APPROVALS_MAX, sizeof(*w))) == NULL)
		return rc;
	if ((rc = approvals_who(t, r->serial, w, APPROVALS_MAX, &n)) != 0) {
		snprintf(op->msg, sizeof(op->msg), "the approvals of %s "
		    "cannot be read: %s", id, brk_strerror(rc));
		goto out;
	}
	for (i = 0; i < n; i++)
		if (strcmp(w[i].caller, op->c->caller.name) == 0 &&
		    strcmp(w[i].approver, op->c->who.name) != 0) {
			rc = BRK_ERR_DENIED;
			snprintf(op->msg, sizeof(op->msg), "separation of "
			    "duties (one-delegate-counts-once): %s already "
			    "carried %s's approval of %s and may not carry "
			    "%s's", op->c->caller.name, w[i].approver, id,
			    op->c->who.name);
			goto out;
		}
	rc = 0;
out:
	free(w);
	return rc;
}

static int
apply_approve(struct store_txn *t, void *arg)
{
	struct approve_op *a = arg;
	struct req_op *op = &a->op;
	struct request old, *r = &op->rec;
	int64_t min_ttl = 0;
	char id[24], reason[REC_TEXT];
	int rc, counted = 0;

	memcpy(reason, op->rec.end_reason, sizeof(reason));
	if ((rc = load_decidable(t, op, &old, id)) != 0)
		return rc;
	if (op->ttl > old.ttl) {
		snprintf(op->msg, sizeof(op->msg), "an approver may shorten, "
		    "never lengthen: %s asked for %llds", id,
		    (long long)old.ttl);
		return BRK_ERR_DENIED;
	}
	if ((rc = check_once_per_caller(t, op, &old, id)) != 0)
		return rc;
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
	if ((rc = count_approvals(t, a, &old, &counted)) != 0) {
		snprintf(op->msg, sizeof(op->msg), "the approvals of %s "
		    "cannot be judged: %s", id, brk_strerror(rc));
		return rc;
	}
	r->approvals = counted;
	if ((rc = audit_approval(t, a, "request.approval", reason)) != 0)
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
		if ((rc = audit_approval(t, a, "request.approved", NULL)) != 0)
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

/* Free what a holds besides its req_op; NULL is fine. */
static void
approve_op_clear(struct approve_op *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->nprior; i++)
		ident_clear(&a->prior[i].id);
	free(a->prior);
	a->prior = NULL;
	a->nprior = 0;
	json_decref(a->counted);
	a->counted = NULL;
}

static void
done_approve(void *arg, int rc)
{
	approve_op_clear(arg);
	done_reply(arg, rc);
}

/*
 * Resolve the request's earlier approvers now, on this thread, so the
 * writer judges them without waiting on a directory.  One whose identity
 * cannot be had is kept as unknown: that approval will not count.
 */
static int
resolve_priors(struct call *c, uint64_t serial, struct approve_op *a)
{
	struct brk_error err = { { 0 } };
	struct approval_who *w = NULL;
	struct store_txn *t = NULL;
	size_t i, n = 0;
	int r = BRK_ERR_NOMEM;

	if ((w = calloc(APPROVALS_MAX, sizeof(*w))) == NULL)
		goto out;
	if ((r = call_read(c, &t)) != 0 ||
	    (r = approvals_who(t, serial, w, APPROVALS_MAX, &n)) != 0)
		goto out;
	r = BRK_ERR_NOMEM;
	if (n > 0 && (a->prior = calloc(n, sizeof(*a->prior))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		a->prior[i].w = w[i];
		a->prior[i].known = ident_from_name(c->d->ident,
		    w[i].approver, &a->prior[i].id, &err) == 0;
		if (!a->prior[i].known)
			log_info("event=approver_unknown approver=%s "
			    "error=\"%s\"", w[i].approver, err.msg);
		a->nprior++;
	}
	r = 0;
out:
	free(w);
	return r;
}

static int
submit_decision(struct call *c, bool approve)
{
	static const char *const keys[] = { "id", "reason", "for", "role",
		NULL };
	struct brk_error err = { { 0 } };
	const char *reason = NULL, *role = NULL, *idstr = NULL;
	struct req_op *op = NULL;
	struct approve_op *a = NULL;
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
	if (approve) {
		if ((a = calloc(1, sizeof(*a))) == NULL)
			goto fail;
		op = &a->op;
	} else if ((op = calloc(1, sizeof(*op))) == NULL)
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
	if (approve && (r = resolve_priors(c, serial, a)) != 0)
		goto fail;
	if ((r = writer_submit(c->d->writer, approve ? apply_approve :
	    apply_deny, approve ? done_approve : done_reply, op)) != 0)
		goto fail;
	return 0;
fail:
	approve_op_clear(a);
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
	uint64_t after;		/* page: only serials after this one */
	size_t limit;		/* page size */
	json_t *out;
};

static int
add_pending(uint64_t serial, void *arg)
{
	struct pending_scan *ps = arg;
	struct request r;
	json_t *o, *approvals;
	int64_t min_ttl;

	if (serial <= ps->after)
		return 0;
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
	return json_array_size(ps->out) >= ps->limit ? 1 : 0;
}

#define PENDING_PAGE 100
#define PENDING_PAGE_MAX 1000

/*
 * Oldest first (the by-state index is in serial order), a page at a time:
 * "limit" (default 100, at most 1000) and "after" (a request id) page on,
 * so the requests of many users cannot push one out of sight.
 */
int
op_pending(struct call *c)
{
	static const char *const keys[] = { "limit", "after", NULL };
	struct brk_error err = { { 0 } };
	struct pending_scan ps = { .c = c, .now = time_now(),
	    .limit = PENDING_PAGE };
	const char *after = NULL;
	int64_t limit = PENDING_PAGE;
	int r;

	if ((r = proto_args_only(c->req->args, keys, &err)) != 0 ||
	    ((r = proto_arg_int(c->req->args, "limit", false, 1,
	    PENDING_PAGE_MAX, &limit, &err)) != 0 && r != BRK_ERR_NOTFOUND) ||
	    ((r = proto_arg_str(c->req->args, "after", false, 23, &after,
	    &err)) != 0 && r != BRK_ERR_NOTFOUND)) {
		call_fail(c, r, "%s", err.msg);
		return 0;
	}
	if (after != NULL && req_id_parse(after, &ps.after) != 0) {
		call_fail(c, BRK_ERR_INVALID, "after: \"%.30s\" is not a "
		    "request id", after);
		return 0;
	}
	ps.limit = (size_t)limit;
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
