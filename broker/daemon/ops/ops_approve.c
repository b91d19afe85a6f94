/*
 * ops_approve.c - deciding by people: pending, approve, deny.
 *
 * The decision itself, with every separation-of-duties check, is the
 * state machine's (domain/requests.c): it runs inside the write
 * transaction that records the approval, so no race between two approvers,
 * a cancel or a revoke can slip past it.  Here the arguments are read, the
 * earlier approvers resolved off the writer thread, and the answer sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "duration.h"
#include "names.h"
#include "ops.h"
#include "policystate.h"
#include "reqstore.h"
#include "timefmt.h"

/* A decision on its way to the writer.  op comes first: done_reply()
 * frees it, and with it the whole (the rest is cleared before). */
struct decide_op {
	struct req_op op;
	bool approve;
	struct prior_approver *prior; /* approve: resolved before */
	size_t nprior;
	json_t *counted; /* the approvals as judged */
};

/* On the writer thread: the state machine decides (requests.c). */
static int
apply_decision(struct store_txn *t, void *arg)
{
	struct decide_op *a = arg;
	struct req_op *op = &a->op;
	struct policy_ref *p = policy_get(op->c->d);
	struct decide_in in = {
		.dev = op->c->d->cfg->dev,
		.rule_authors_may_approve =
		    policy_limits(p->policy)->rule_authors_may_approve,
		.reason = op->reason,
		.ttl = op->ttl,
		.prior = a->prior,
		.nprior = a->nprior,
		.ids = op->c->d->ident,
	};
	uint64_t serial = op->rec.serial;
	int64_t min_ttl;
	int rc;

	policy_put(op->c->d, p);
	if (!a->approve) {
		rc = requests_deny(
		    t, &op->actor, serial, &in, op->now, &op->rec, op->msg);
		op->rec.serial = serial; /* for the reply */
		return rc;
	}
	/* a batch run again (writer.h) applies this a second time */
	json_decref(a->counted);
	a->counted = NULL;
	json_decref(op->approvals);
	op->approvals = NULL;
	rc = requests_approve(t, &op->actor, serial, &in, op->now, &op->rec,
	    &a->counted, op->msg);
	op->rec.serial = serial;
	if (rc != 0)
		return rc;
	/* the reply names who approved so far */
	if ((op->approvals = json_array()) != NULL &&
	    (rc = approvals_list(t, serial, op->approvals, &min_ttl)) != 0)
		return rc;
	return 0;
}

/* Free what a holds besides its req_op; NULL is fine. */
static void
decide_op_clear(struct decide_op *a)
{
	if (a == NULL)
		return;
	requests_priors_free(a->prior, a->nprior);
	a->prior = NULL;
	a->nprior = 0;
	json_decref(a->counted);
	a->counted = NULL;
}

static void
done_decision(void *arg, int rc)
{
	decide_op_clear(arg);
	done_reply(arg, rc);
}

static int
submit_decision(struct call *c, bool approve)
{
	struct brk_error err = { { 0 } };
	const char *reason = NULL, *role = NULL, *idstr = NULL;
	struct store_txn *t = NULL;
	struct decide_op *a = NULL;
	struct req_op *op = NULL;
	uint64_t serial;
	int64_t ttl = 0;
	const struct proto_arg spec[] = {
		{ "id", PA_STR, true, 0, 32, &idstr },
		{ "reason", PA_STR, true, 0, REC_TEXT - 1, &reason },
		{ "for", PA_INT, false, 1, DURATION_MAX, &ttl },
		{ "role", PA_STR, false, 0, REC_NAME - 1, &role },
	};
	int r;

	if (ops_arg_id(c, &serial, &idstr) != 0)
		return 0;
	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	r = BRK_ERR_NOMEM;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto fail;
	op = &a->op;
	a->approve = approve;
	op->c = c;
	ops_actor(c, &op->actor);
	op->rec.serial = serial;
	op->now = time_now();
	op->ttl = approve ? ttl : 0;
	snprintf(op->reason, sizeof(op->reason), "%s", reason);
	if (approve && role != NULL) {
		/* a grant has one principal: the only narrower role is the
		 * requested one, so anything else would widen or change it */
		struct request cur;
		if ((r = call_read(c, &t)) != 0 ||
		    (r = reqstore_load(t, serial, &cur)) != 0)
			goto fail;
		r = BRK_ERR_DENIED;
		if (strcmp(cur.role, role) != 0) {
			brk_error_set(&err, r,
			    "an approver may narrow, never "
			    "widen or change: %s was requested as %s, not %s",
			    idstr, cur.role, role);
			goto fail;
		}
	}
	/* earlier approvers are resolved here, so the writer judges them
	 * without waiting on a directory */
	if (approve &&
	    ((t == NULL && (r = call_read(c, &t)) != 0) || /* once: renewing
							    * an open read is
							    * an error */
		(r = requests_resolve_priors(
		     t, c->d->ident, serial, &a->prior, &a->nprior)) != 0))
		goto fail;
	if ((r = writer_submit(
		 c->d->writer, apply_decision, done_decision, a)) != 0)
		goto fail;
	return 0;
fail:
	decide_op_clear(a);
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
	uint64_t after; /* page: only serials after this one */
	size_t limit;	/* page size */
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
	    !reqstore_is_live(&r, ps->now) ||
	    !requests_is_approver(&ps->c->who, &r) ||
	    strcmp(r.user, ps->c->who.name) == 0 ||
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
	json_object_set_new(o, "i_approved",
	    json_boolean(approvals_has(ps->t, serial, ps->c->who.name)));
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
	struct brk_error err = { { 0 } };
	struct pending_scan ps = {
		.c = c, .now = time_now(), .limit = PENDING_PAGE
	};
	const char *after = NULL;
	int64_t limit = PENDING_PAGE;
	const struct proto_arg spec[] = {
		{ "limit", PA_INT, false, 1, PENDING_PAGE_MAX, &limit },
		{ "after", PA_STR, false, 0, 23, &after },
	};
	json_t *o;
	size_t i;
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		return 0;
	}
	if (after != NULL && req_id_parse(after, &ps.after) != 0) {
		call_fail(c, BRK_ERR_INVALID,
		    "after: \"%.30s\" is not a "
		    "request id",
		    after);
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
	/* the directory may be asked next: hold no snapshot meanwhile */
	store_read_end(ps.t);
	json_array_foreach (ps.out, i, o)
		ops_add_people(c->d, o);
	call_reply(c, ps.out);
	return 0;
}
