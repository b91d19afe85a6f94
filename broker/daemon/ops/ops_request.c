/*
 * ops_request.c - asking for access and ending it: request, cancel, revoke,
 * and the expiry sweep.
 *
 * The decision is made on the I/O thread from the policy in force; the
 * writer stores it with its audit record in one transaction, and the reply
 * goes out only after that transaction is durable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "audit.h"
#include "cred.h"
#include "credkind.h"
#include "duplicates.h"
#include "duration.h"
#include "escalate.h"
#include "optouts.h"
#include "log.h"
#include "quota.h"
#include "names.h"
#include "ops.h"
#include "reqstore.h"
#include "reviews.h"
#include "timefmt.h"
#include "workpool.h"

static const char *
created_action(enum req_state s)
{
	return s == ST_ACTIVE || s == ST_SCHEDULED ? "request.granted" :
	    s == ST_PENDING ? "request.pending" : "request.denied";
}

int
audit_request(struct store_txn *t, struct req_op *op, const char *action,
    const char *reason)
{
	char id[24];
	json_t *details;
	int r;

	req_id(op->rec.serial, id);
	details = json_pack("{s:s, s:s, s:s, s:I, s:s}", "state",
	    req_state_name(op->rec.state), "role", op->rec.role, "rules",
	    op->rec.rules, "ttl", (json_int_t)op->rec.ttl, "decision",
	    op->rec.decision);
	r = audit_append(t, op->now, &(struct audit_event){
	    .action = action, .actor = op->c->who.name,
	    .caller = op->c->caller.name, .target = id, .user = op->rec.user,
	    .resource = op->rec.resource, .reason = reason,
	    .details = details }, NULL);
	json_decref(details);
	return r;
}

/*
 * Break-glass is an emergency path, not a bypass.  Under a manual cause it
 * goes ahead only where the rule's break_glass object allows that cause
 * (during_freeze, during_optout); a review flag always holds it.  A held
 * request becomes the ordinary pending request the rule asks for, with
 * the rule's approvers, duration and requirements.  (Block causes deny it
 * like any other request.)
 */
static void
hold_break_glass(struct req_op *op, const struct escalation *esc)
{
	struct request *rec = &op->rec;
	const char *cause = esc->flag_review ? "a review flag" :
	    esc->freeze_manual && !op->bg.during_freeze ? "a freeze" :
	    esc->optout_manual && !op->bg.during_optout ? "an opt-out" : NULL;

	if (cause == NULL)
		return;		/* the rule lets break-glass through these */
	rec->state = ST_PENDING;
	rec->break_glass = rec->automatic = false;
	rec->decided_at = rec->starts_at = 0;
	rec->ttl = op->bg.ttl;
	rec->clamped = op->bg.clamped;
	rec->require_reason = op->bg.require_reason;
	rec->require_ticket = op->bg.require_ticket;
	rec->expires_at = op->now + policy_limits(op->pref->policy)->pending_ttl;
	snprintf(rec->decision, sizeof(rec->decision), "break-glass held for "
	    "approval by %s: %.400s", cause, esc->why);
}

/* Route an automatic grant to people (manual) or deny it (block) when an
 * opt-out or flag covers it; checked in the transaction that stores it. */
static int
apply_escalation(struct store_txn *t, struct req_op *op,
    struct escalation *e)
{
	struct request *rec = &op->rec;
	const struct policy *p = op->pref->policy;
	const char *const *g = NULL, *const *u = NULL;
	size_t ng = 0, nu = 0;
	struct escalation esc;
	struct cover cv = {
		.policy = p, .user = rec->user,
		.groups = ident_groups(&op->c->who),
		.ngroups = op->c->who.ngroups, .resource = rec->resource,
		.rules = rec->rules,
	};
	int r;

	if ((r = escalate_find(t, &cv, op->now, &esc)) != 0)
		return r;
	*e = esc;
	escalate_ids(&esc, rec->optouts, sizeof(rec->optouts));
	if (esc.level == ESC_MANUAL && rec->state == ST_ACTIVE &&
	    rec->break_glass) {
		hold_break_glass(op, &esc);
		return 0;
	}
	if (esc.level == ESC_BLOCK && rec->state != ST_DENIED) {
		rec->state = ST_DENIED;
		rec->ttl = 0;
		rec->break_glass = rec->automatic = rec->clamped = false;
		rec->decided_at = op->now;
		rec->starts_at = rec->expires_at = 0;
		snprintf(rec->decision, sizeof(rec->decision), "blocked by "
		    "%.480s", esc.why);
	} else if (esc.level == ESC_MANUAL && (rec->state == ST_ACTIVE ||
	    rec->state == ST_SCHEDULED) && rec->automatic) {
		policy_role_members(p, ROLE_OPTOUT_APPROVERS, &g, &ng, &u, &nu);
		if (ng + nu == 0) {	/* nobody may approve: fail closed */
			rec->state = ST_DENIED;
			rec->automatic = rec->clamped = false;
			snprintf(rec->decision, sizeof(rec->decision), "%.400s; "
			    "the policy names no optout_approvers", esc.why);
			return 0;
		}
		rec->state = ST_PENDING;
		rec->automatic = false;
		rec->decided_at = rec->starts_at = 0;
		rec->expires_at = op->now + policy_limits(p)->pending_ttl;
		rec->quorum = policy_optout_quorum(p);
		ops_join(rec->approver_groups, sizeof(rec->approver_groups), g,
		    ng);
		ops_join(rec->approver_users, sizeof(rec->approver_users), u,
		    nu);
		snprintf(rec->decision, sizeof(rec->decision), "taken out of "
		    "automation by %.440s", esc.why);
	}
	return 0;
}

static void sign_early(void *arg);

/*
 * limits.requests_per_minute: new requests of the user in the last minute,
 * denied ones included.  The refused request itself is not stored, so a
 * flood costs the store nothing.
 */
static int
check_rate(struct store_txn *t, struct req_op *op)
{
	int lim = policy_limits(op->pref->policy)->requests_per_minute;
	bool over;
	int r;

	if ((r = quota_rate(t, op->rec.user, op->now, lim, &over)) != 0)
		return r;
	if (!over)
		return 0;
	snprintf(op->msg, sizeof(op->msg), "rate limit: %s made %d requests "
	    "in the last minute, the most limits.requests_per_minute allows; "
	    "try again in a minute", op->rec.user, lim);
	return BRK_ERR_DENIED;
}

/*
 * The caps that depend on the outcome: limits.break_glass_per_day for a
 * break-glass grant (any 24 hours), limits.pending_per_user for a request
 * that would wait for approval.
 */
static int
check_caps(struct store_txn *t, struct req_op *op)
{
	const struct policy_limits *lim = policy_limits(op->pref->policy);
	int n, r;

	if (op->rec.state == ST_ACTIVE && op->rec.break_glass) {
		if ((r = quota_recent(t, op->rec.user, op->now - 86400, true,
		    lim->break_glass_per_day, &n)) != 0)
			return r;
		if (n >= lim->break_glass_per_day) {
			snprintf(op->msg, sizeof(op->msg), "break-glass limit: "
			    "%s used break-glass %d times in the last 24 "
			    "hours, the most limits.break_glass_per_day "
			    "allows; ask for approval instead", op->rec.user,
			    n);
			return BRK_ERR_DENIED;
		}
	}
	if (op->rec.state == ST_PENDING) {
		if ((r = quota_pending(t, op->rec.user, op->now,
		    lim->pending_per_user, &n)) != 0)
			return r;
		if (n >= lim->pending_per_user) {
			snprintf(op->msg, sizeof(op->msg), "pending limit: %s "
			    "has %d pending requests, the most "
			    "limits.pending_per_user allows; cancel one or "
			    "wait for a decision", op->rec.user, n);
			return BRK_ERR_DENIED;
		}
	}
	return 0;
}

/* Asking again for what is already open answers with that request
 * (unless --new): a grant always, a pending request when the new one would
 * wait too.  A refusal is never replaced by an earlier grant. */
static int
find_repeat(struct store_txn *t, struct req_op *op)
{
	struct request dup;
	int r;

	if (op->fresh || op->rec.state == ST_DENIED)
		return BRK_ERR_NOTFOUND;
	/* a pending request answers only what would wait anyway: one that
	 * policy now grants at once (or break-glass) is not held back */
	if ((r = dup_find(t, &op->rec, op->now,
	    policy_limits(op->pref->policy)->pending_ttl,
	    op->rec.state != ST_PENDING, &dup)) != 0)
		return r;
	op->rec = dup;
	op->duplicate = true;
	return 0;
}

static int
apply_create(struct store_txn *t, void *arg)
{
	struct req_op *op = arg;
	struct escalation esc;
	size_t i;
	int r;

	if ((r = check_rate(t, op)) != 0 ||
	    (r = apply_escalation(t, op, &esc)) != 0)
		return r;
	if ((r = find_repeat(t, op)) == 0)
		goto sign;
	if (r != BRK_ERR_NOTFOUND || (r = check_caps(t, op)) != 0 ||
	    (r = reqstore_create(t, &op->rec)) != 0)
		return r;
	/* which requests each opt-out affected, for `optout show` */
	for (i = 0; i < esc.nids; i++)
		if ((r = optouts_hit(t, esc.ids[i], op->rec.serial)) != 0)
			return r;
	if (op->rec.break_glass &&
	    (r = reviews_open(t, &op->rec, op->now)) != 0)
		return r;
	if ((r = audit_request(t, op, op->rec.break_glass ? "breakglass.used" :
	    created_action(op->rec.state),
	    op->rec.reason[0] ? op->rec.reason : NULL)) != 0)
		return r;
sign:
	/* op->rec is final: sign while the batch commits and syncs; a kind
	 * with effects outside the broker waits for the commit */
	if (!cred_kind_for(op->rec.resource)->early)
		op->issue_late = op->rec.state == ST_ACTIVE;
	else if (op->key != NULL && (op->rec.state == ST_ACTIVE ||
	    op->rec.state == ST_SCHEDULED)) {
		op->early = true;
		op->parts = 2;
		workpool_submit(op->c->d->pool, sign_early, op);
	}
	return 0;
}

/* The reply: the record, what capped it, who approved so far, and
 * whether it is an open request returned instead of a new one. */
static json_t *
reply_json(struct req_op *op)
{
	const struct request *r = &op->rec;
	/* transitions hold no policy of their own: the one in force */
	struct policy_ref *p = op->pref != NULL ? NULL : policy_get(op->c->d);
	const struct policy_ref *in = op->pref != NULL ? op->pref : p;
	const struct policy_limits *lim = in != NULL ?
	    policy_limits(in->policy) : NULL;
	json_t *o = record_to_json(r);
	char cap[REC_NAME + 32];

	record_clamped_by(r, lim != NULL ? lim->break_glass_max_ttl : 0, cap,
	    sizeof(cap));
	if (p != NULL)
		policy_put(op->c->d, p);
	if (o == NULL)
		return NULL;
	if (cap[0] != '\0')
		json_object_set_new(o, "clamped_by", json_string(cap));
	if (op->approvals != NULL) {
		json_object_set_new(o, "approvals", op->approvals);
		op->approvals = NULL;
	} else if (r->state == ST_PENDING && r->approvals == 0)
		json_object_set_new(o, "approvals", json_array());
	if (op->duplicate)
		json_object_set_new(o, "duplicate", json_true());
	return o;
}

void
req_op_free(struct req_op *op)
{
	if (op == NULL)
		return;
	sshkey_free(op->key);
	json_decref(op->approvals);
	if (op->pref != NULL)
		policy_put(op->c->d, op->pref);
	json_decref(op->creds);
	free(op);
}

/* Reply with op->rec (and its certificate), or with why it failed. */
static void
send_reply(void *arg)
{
	struct req_op *op = arg;
	struct call *c = op->c;
	int rc = op->rc;
	char msg[600];
	json_t *o;

	if (rc != 0) {
		if (op->msg[0] != '\0')
			snprintf(msg, sizeof(msg), "%s", op->msg);
		else
			snprintf(msg, sizeof(msg), "not recorded: %s",
			    brk_strerror(rc));
		req_op_free(op);
		call_fail(c, rc, "%s", msg);
		return;
	}
	o = reply_json(op);
	if (o != NULL && op->issue_late)	/* after the commit, here */
		(void)ops_cred_issue_into(c->d, &op->rec, op->key, false, o,
		    &(struct brk_error){ { 0 } });
	if (o != NULL && op->creds != NULL)
		json_object_update(o, op->creds);
	else if (o != NULL && op->cert_err[0] != '\0')
		json_object_set_new(o, "cert_error",
		    json_string(op->cert_err));
	/* the reply ends the call: nothing of it may be touched after */
	req_op_free(op);
	call_reply(c, o);
}

/* The last of the signing and the commit to finish replies. */
static bool
last_part(struct req_op *op)
{
	return __atomic_sub_fetch(&op->parts, 1, __ATOMIC_ACQ_REL) == 0;
}

/* On a worker thread, during the commit. */
static void
sign_early(void *arg)
{
	struct brk_error err = { { 0 } };
	struct req_op *op = arg;

	if ((op->creds = json_object()) == NULL ||
	    cred_issue(op->c->d, &op->rec, op->key, false, op->creds,
	    &err) != 0) {
		snprintf(op->cert_err, sizeof(op->cert_err), "%s", err.msg[0] ?
		    err.msg : "out of memory");
		json_decref(op->creds);
		op->creds = NULL;
	}
	if (last_part(op))
		send_reply(op);
}

/* On the writer thread, after the commit: hand the reply on. */
void
done_reply(void *arg, int rc)
{
	struct req_op *op = arg;

	op->rc = rc;
	if (rc == 0 && op->to == ST_REVOKED)
		ops_cred_sync(op->c->d);	/* end its credentials now */
	if (rc == 0 && !op->duplicate)
		__atomic_fetch_add(&op->c->d->counters[op->rec.state ==
		    ST_ACTIVE || op->rec.state == ST_SCHEDULED ? CNT_AUTO :
		    op->rec.state == ST_PENDING ?
		    CNT_PENDING : CNT_DENIED], 1, __ATOMIC_RELAXED);
	if (op->early && !last_part(op))
		return;		/* sign_early replies */
	if (rc == 0)	/* building the reply is work for a worker */
		workpool_submit(op->c->d->pool, send_reply, op);
	else
		send_reply(op);
}

static const char *const request_keys[] = { "resource", "role", "for",
	"start", "reason", "ticket", "incident", "break_glass", "pubkey",
	"new", NULL };

/* The latest start a request may name: the year 9999. */
#define START_MAX 253402300799LL

/* Read and check the arguments into op->rec. */
static int
request_args(struct call *c, struct request *rec, struct brk_error *err)
{
	const char *resource = NULL, *role = NULL, *s;
	json_t *a = c->req->args;
	bool bg = false;
	int64_t dur = 0, start = 0;
	int r;

	if ((r = proto_args_only(a, request_keys, err)) != 0 ||
	    (r = proto_arg_str(a, "resource", true, REC_RESOURCE - 1,
	    &resource, err)) != 0)
		return r;
	if (!name_resource_valid(resource))
		return brk_error_set(err, BRK_ERR_INVALID, "\"%.64s\" is not "
		    "a valid resource (kind:name)", resource);
	r = proto_arg_str(a, "role", false, REC_NAME - 1, &role, err);
	if (r == 0 && !name_user_valid(role))
		return brk_error_set(err, BRK_ERR_INVALID, "\"%.64s\" is not "
		    "a valid role", role);
	if ((r != 0 && r != BRK_ERR_NOTFOUND) ||
	    ((r = proto_arg_int(a, "for", false, 1, DURATION_MAX, &dur,
	    err)) != 0 && r != BRK_ERR_NOTFOUND) ||
	    ((r = proto_arg_int(a, "start", false, 0, START_MAX, &start,
	    err)) != 0 && r != BRK_ERR_NOTFOUND) ||
	    ((r = proto_arg_bool(a, "break_glass", &bg, err)) != 0 &&
	    r != BRK_ERR_NOTFOUND))
		return r;
	rec->break_glass = bg;	/* asked for; decide() says if it applies */
	rec->requested_start = start;	/* decide() checks it */
	snprintf(rec->user, sizeof(rec->user), "%s", c->who.name);
	snprintf(rec->caller, sizeof(rec->caller), "%s", c->caller.name);
	snprintf(rec->resource, sizeof(rec->resource), "%s", resource);
	snprintf(rec->role, sizeof(rec->role), "%s",
	    role != NULL ? role : c->who.name);
	rec->requested_ttl = dur;
	if (proto_arg_str(a, "reason", false, REC_TEXT - 1, &s, err) == 0)
		snprintf(rec->reason, sizeof(rec->reason), "%s", s);
	if (proto_arg_str(a, "ticket", false, sizeof(rec->ticket) - 1, &s,
	    err) == 0)
		snprintf(rec->ticket, sizeof(rec->ticket), "%s", s);
	if (proto_arg_str(a, "incident", false, sizeof(rec->incident) - 1, &s,
	    err) == 0)
		snprintf(rec->incident, sizeof(rec->incident), "%s", s);
	/* a string argument over its bound is an error, not a truncation */
	return proto_arg_str(a, "reason", false, REC_TEXT - 1, &s, err) ==
	    BRK_ERR_INVALID || proto_arg_str(a, "ticket", false,
	    sizeof(rec->ticket) - 1, &s, err) == BRK_ERR_INVALID ||
	    proto_arg_str(a, "incident", false, sizeof(rec->incident) - 1, &s,
	    err) == BRK_ERR_INVALID ? BRK_ERR_INVALID : 0;
}

static void fill_decision(struct request *rec,
    const struct policy_decision *dec, uint64_t version, int64_t now);

/* An approve decision taken at once, capped, and marked for review; the
 * writer may still hold it for approval (hold_break_glass). */
static int
break_glass(struct req_op *op, const struct policy_decision *dec,
    const struct policy_limits *lim, int64_t now, struct brk_error *err)
{
	struct request *rec = &op->rec;

	if (!dec->break_glass)
		return brk_error_set(err, BRK_ERR_DENIED, "rule %s does not "
		    "allow break-glass: ask for approval instead",
		    dec->deciding_rule);
	if (rec->reason[0] == '\0')
		return brk_error_set(err, BRK_ERR_INVALID, "break-glass needs "
		    "a reason: add --reason TEXT");
	if (lim->break_glass_per_day == 0)
		return brk_error_set(err, BRK_ERR_DENIED, "break-glass is off "
		    "(limits.break_glass_per_day is 0): ask for approval "
		    "instead");
	fill_decision(rec, dec, rec->policy_version, now);
	op->bg.during_freeze = dec->break_glass_during_freeze;
	op->bg.during_optout = dec->break_glass_during_optout;
	op->bg.require_reason = dec->require_reason;
	op->bg.require_ticket = dec->require_ticket;
	op->bg.clamped = dec->clamped;
	op->bg.ttl = dec->ttl;
	rec->state = ST_ACTIVE;
	rec->automatic = false;
	rec->decided_at = rec->starts_at = now;
	if (rec->ttl > lim->break_glass_max_ttl) {
		rec->ttl = lim->break_glass_max_ttl;
		rec->clamped = true;
	}
	rec->expires_at = now + rec->ttl;
	snprintf(rec->decision, sizeof(rec->decision), "break-glass under "
	    "rule %s for up to %llds; a reviewer will look at it",
	    dec->deciding_rule, (long long)rec->ttl);
	return 0;
}

/* The parts of a decision every outcome records. */
static void
fill_decision(struct request *rec, const struct policy_decision *dec,
    uint64_t version, int64_t now)
{
	ops_join(rec->rules, sizeof(rec->rules), dec->matched, dec->nmatched);
	if (dec->deciding_rule != NULL)
		snprintf(rec->rule, sizeof(rec->rule), "%s",
		    dec->deciding_rule);
	snprintf(rec->decision, sizeof(rec->decision), "%s", dec->reason);
	rec->policy_version = version;
	rec->created_at = now;
	rec->ttl = dec->ttl;
	rec->clamped = dec->clamped;
	rec->quorum = dec->quorum;
	ops_join(rec->approver_groups, sizeof(rec->approver_groups),
	    dec->approver_groups, dec->napprover_groups);
	ops_join(rec->approver_users, sizeof(rec->approver_users),
	    dec->approver_users, dec->napprover_users);
	/* what its certificates may carry, fixed now: a later policy edit
	 * never changes an issued grant */
	rec->cert_known = true;
	rec->cert_extensions = dec->cert_extensions;
	snprintf(rec->force_command, sizeof(rec->force_command), "%s",
	    dec->force_command);
	snprintf(rec->source_address, sizeof(rec->source_address), "%s",
	    dec->source_address);
}

/* Decide op->rec by policy; fails when required fields are missing. */
static int
decide(struct req_op *op, struct brk_error *err)
{
	struct call *c = op->c;
	struct policy_ref *p = op->pref;
	struct request *rec = &op->rec;
	int64_t now = op->now;
	const struct policy_limits *lim = policy_limits(p->policy);
	struct policy_decision dec;
	struct policy_query q = {
		.user = rec->user, .groups = ident_groups(&c->who),
		.ngroups = c->who.ngroups, .resource = rec->resource,
		.role = rec->role, .duration = rec->requested_ttl,
	};
	int r;

	/* groups unknown: no decision at all, break-glass included */
	if ((r = ident_require_groups(&c->who, err)) != 0)
		return r;
	if (rec->requested_start <= now)
		rec->requested_start = 0;	/* a start in the past: now */
	if (rec->requested_start > now + lim->schedule_max)
		return brk_error_set(err, BRK_ERR_INVALID, "--start may be at "
		    "most %llds ahead (limits.schedule_max)",
		    (long long)lim->schedule_max);
	if (rec->requested_start != 0 && rec->break_glass)
		return brk_error_set(err, BRK_ERR_INVALID, "break-glass "
		    "access starts now: drop --start");
	policy_evaluate(p->policy, &q, &dec);
	rec->policy_version = p->version;
	if (dec.outcome == POLICY_APPROVE && rec->break_glass)
		return break_glass(op, &dec, lim, now, err);
	rec->break_glass = false;	/* auto and deny ignore the flag */
	if (dec.outcome == POLICY_APPROVE) {
		if (dec.require_reason && rec->reason[0] == '\0')
			return brk_error_set(err, BRK_ERR_INVALID, "rule %s "
			    "requires a reason: add --reason TEXT",
			    dec.deciding_rule);
		if (dec.require_ticket && rec->ticket[0] == '\0')
			return brk_error_set(err, BRK_ERR_INVALID, "rule %s "
			    "requires a ticket: add --ticket ID",
			    dec.deciding_rule);
	}
	fill_decision(rec, &dec, p->version, now);
	switch (dec.outcome) {
	case POLICY_AUTO:
		/* a later window is scheduled until it opens */
		rec->state = rec->requested_start ? ST_SCHEDULED : ST_ACTIVE;
		rec->automatic = true;
		rec->decided_at = now;
		rec->starts_at = rec->requested_start ? rec->requested_start : now;
		rec->expires_at = rec->starts_at + dec.ttl;
		break;
	case POLICY_APPROVE:
		rec->state = ST_PENDING;
		rec->expires_at = now + lim->pending_ttl;
		rec->require_reason = dec.require_reason;
		rec->require_ticket = dec.require_ticket;
		break;
	default:
		rec->state = ST_DENIED;
		rec->decided_at = now;
		rec->ttl = 0;
		break;
	}
	return 0;
}

int
op_request(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct req_op *op = NULL;
	int r = BRK_ERR_NOMEM;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		goto fail;
	op->c = c;
	op->now = time_now();
	op->pref = p;
	p = NULL;	/* op holds the reference until the writer is done */
	if ((r = request_args(c, &op->rec, &err)) != 0 ||
	    ((r = proto_arg_bool(c->req->args, "new", &op->fresh, &err)) != 0 &&
	    r != BRK_ERR_NOTFOUND) ||
	    (r = cred_arg_pubkey(c->req->args, &op->key, &err)) != 0 ||
	    (r = decide(op, &err)) != 0)
		goto fail;
	if ((r = writer_submit(c->d->writer, apply_create, done_reply,
	    op)) != 0)
		goto fail;
	policy_put(c->d, p);
	return 0;
fail:
	policy_put(c->d, p);
	req_op_free(op);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

/* Move a request between states, checked inside the write transaction. */
static int
apply_transition(struct store_txn *t, void *arg)
{
	struct req_op *op = arg;
	struct request old;
	char id[24], reason[REC_TEXT];
	int r;

	req_id(op->rec.serial, id);
	if ((r = reqstore_load(t, op->rec.serial, &old)) != 0) {
		snprintf(op->msg, sizeof(op->msg), "no request %s", id);
		return r;
	}
	/* an approver may end what they approved */
	if (!op->privileged && strcmp(old.user, op->c->who.name) != 0 &&
	    strcmp(old.caller, op->c->who.name) != 0 &&
	    !(op->to == ST_REVOKED && approvals_has(t, old.serial,
	    op->c->who.name))) {
		snprintf(op->msg, sizeof(op->msg), "%s may not %s request %s "
		    "of %s", op->c->who.name, op->to == ST_CANCELLED ?
		    "cancel" : "revoke", id, old.user);
		return BRK_ERR_DENIED;
	}
	/* a scheduled grant may be revoked, or cancelled before it starts */
	if ((old.state != op->from && !(old.state == ST_SCHEDULED &&
	    (op->to == ST_REVOKED || op->now < old.starts_at))) ||
	    op->now >= old.expires_at) {
		snprintf(op->msg, sizeof(op->msg), "request %s is %s, not %s",
		    id, op->now >= old.expires_at && (old.state == ST_ACTIVE ||
		    old.state == ST_PENDING || old.state == ST_SCHEDULED) ?
		    "expired" : req_state_name(old.state),
		    req_state_name(op->from));
		return BRK_ERR_STATE;
	}
	memcpy(reason, op->rec.end_reason, sizeof(reason));
	op->rec = old;
	memcpy(op->rec.end_reason, reason, sizeof(reason));
	op->rec.state = op->to;
	op->rec.ended_at = op->now;
	if (op->to == ST_REVOKED || op->to == ST_CANCELLED)
		op->rec.expires_at = op->now < old.expires_at ? op->now :
		    old.expires_at;
	snprintf(op->rec.ended_by, sizeof(op->rec.ended_by), "%s",
	    op->c->who.name);
	if ((r = reqstore_update(t, &old, &op->rec)) != 0)
		return r;
	return audit_request(t, op, op->action,
	    op->rec.end_reason[0] ? op->rec.end_reason : NULL);
}

static int
submit_transition(struct call *c, enum req_state from, enum req_state to,
    const char *action, bool reason_required, bool privileged)
{
	struct brk_error err = { { 0 } };
	struct req_op *op;
	const char *reason = NULL;
	uint64_t serial;
	int r;

	if (ops_arg_id(c, &serial, NULL) != 0)
		return BRK_ERR_INVALID;
	static const char *const keys[] = { "id", "reason", NULL };
	if ((r = proto_args_only(c->req->args, keys, &err)) != 0 ||
	    ((r = proto_arg_str(c->req->args, "reason", reason_required,
	    REC_TEXT - 1, &reason, &err)) != 0 && r != BRK_ERR_NOTFOUND)) {
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		call_fail(c, BRK_ERR_NOMEM, "out of memory");
		return BRK_ERR_NOMEM;
	}
	op->c = c;
	op->rec.serial = serial;
	op->from = from;
	op->to = to;
	op->action = action;
	op->privileged = privileged;
	op->now = time_now();
	if (reason != NULL)
		snprintf(op->rec.end_reason, sizeof(op->rec.end_reason), "%s",
		    reason);
	if ((r = writer_submit(c->d->writer, apply_transition, done_reply,
	    op)) != 0) {
		req_op_free(op);
		call_fail(c, r, "%s", brk_strerror(r));
	}
	return r;
}

int
op_cancel(struct call *c)
{
	return submit_transition(c, ST_PENDING, ST_CANCELLED,
	    "request.cancelled", false, false);
}

int
op_revoke(struct call *c)
{
	struct policy_ref *p = policy_get(c->d);
	struct store_txn *t = NULL;
	struct request r;
	const char *id = NULL;
	bool priv = call_has_role(c, p, ROLE_POLICY_ADMINS);

	/* an opt-out manager reaches only the grants within its scopes (a
	 * grant's resource, user and rule never change, so reading it here
	 * is as good as in the writer); one that cannot be read is not */
	if (!priv && proto_arg_str(c->req->args, "id", true, 32, &id,
	    NULL) == 0 && call_read(c, &t) == 0 &&
	    ops_load_request(c, t, id, &r) == 0)
		priv = ops_may_manage_grant(c, p, &r);
	policy_put(c->d, p);
	return submit_transition(c, ST_ACTIVE, ST_REVOKED, "grant.revoked",
	    true, priv);
}

/* The sweep: record the expiry of everything past its end. */
#define SWEEP_MAX 256

struct sweep {
	struct brokerd *d;
	uint64_t serials[SWEEP_MAX];
	size_t n;
	uint64_t optouts[SWEEP_MAX];	/* opt-outs past their end */
	size_t nopt;
	int64_t now;
};

static int
collect_optouts(const struct optout *o, void *arg)
{
	struct sweep *sw = arg;

	if (o->ended_at == 0 && o->until <= sw->now)
		sw->optouts[sw->nopt++] = o->id;
	return sw->nopt == SWEEP_MAX ? 1 : 0;
}

/* Automation comes back by itself: record each opt-out's expiry. */
static int
sweep_optouts(struct store_txn *t, struct sweep *sw)
{
	struct optout o;
	char id[24];
	json_t *d;
	size_t i;
	int r;

	for (i = 0; i < sw->nopt; i++) {
		if (optouts_load(t, sw->optouts[i], &o) != 0 ||
		    o.ended_at != 0)
			continue;
		o.ended_at = o.until;
		snprintf(o.end_kind, sizeof(o.end_kind), "expired");
		optout_id(o.id, id);
		d = optout_json(&o, sw->now);
		if ((r = optouts_end(t, &o)) == 0)
			r = audit_append(t, sw->now, &(struct audit_event){
			    .action = o.freeze ? "freeze.expired" :
			    "optout.expired", .actor = "brokerd",
			    .caller = "brokerd", .target = id, .details = d },
			    NULL);
		json_decref(d);
		if (r != 0)
			return r;
	}
	return 0;
}

static int
collect_due(uint64_t serial, void *arg)
{
	struct sweep *sw = arg;

	sw->serials[sw->n++] = serial;
	return sw->n == SWEEP_MAX ? 1 : 0;
}

/* A scheduled grant's window has opened: record it as active. */
static int
sweep_start(struct store_txn *t, struct sweep *sw, const struct request *old)
{
	struct request nr = *old;
	char id[24];
	int r;

	nr.state = ST_ACTIVE;
	if ((r = reqstore_update(t, old, &nr)) != 0)
		return r;
	req_id(nr.serial, id);
	return audit_append(t, sw->now, &(struct audit_event){
	    .action = "grant.started", .actor = "brokerd", .caller = "brokerd",
	    .target = id, .user = nr.user, .resource = nr.resource }, NULL);
}

static int
apply_sweep(struct store_txn *t, void *arg)
{
	struct sweep *sw = arg;
	struct request old, nr;
	char id[24];
	size_t i;
	int r;

	if ((r = sweep_optouts(t, sw)) != 0)
		return r;
	for (i = 0; i < sw->n; i++) {
		if ((r = reqstore_load(t, sw->serials[i], &old)) != 0)
			continue;
		if (old.state == ST_SCHEDULED && old.starts_at <= sw->now &&
		    old.expires_at > sw->now) {
			if ((r = sweep_start(t, sw, &old)) != 0)
				return r;
			continue;
		}
		if ((old.state != ST_ACTIVE && old.state != ST_PENDING &&
		    old.state != ST_SCHEDULED) || old.expires_at > sw->now)
			continue;
		nr = old;
		nr.state = ST_EXPIRED;
		nr.ended_at = old.expires_at;
		if ((r = reqstore_update(t, &old, &nr)) != 0)
			return r;
		req_id(nr.serial, id);
		r = audit_append(t, sw->now, &(struct audit_event){
		    .action = old.state != ST_PENDING ? "grant.expired" :
		    "request.expired", .actor = "brokerd", .caller = "brokerd",
		    .target = id, .user = nr.user, .resource = nr.resource },
		    NULL);
		if (r != 0)
			return r;
	}
	return 0;
}

static void
done_sweep(void *arg, int rc)
{
	struct sweep *sw = arg;

	if (rc != 0)
		log_error("event=sweep_failed error=\"%s\"", brk_strerror(rc));
	__atomic_store_n(&sw->d->sweep_queued, 0,
	    __ATOMIC_RELEASE);
	free(sw);
}

void
ops_sweep(struct brokerd *d, struct store_txn **rtxn)
{
	struct sweep *sw;
	int r;

	if (__atomic_load_n(&d->sweep_queued, __ATOMIC_ACQUIRE))
		return;
	if ((sw = calloc(1, sizeof(*sw))) == NULL)
		return;
	sw->d = d;
	sw->now = time_now();
	if ((r = store_read_begin(d->store, rtxn)) == 0) {
		r = reqstore_due(*rtxn, sw->now, collect_due, sw);
		if (r == 0)
			r = optouts_live(*rtxn, collect_optouts, sw);
		store_read_end(*rtxn);
	}
	if (r != 0 || (sw->n == 0 && sw->nopt == 0)) {
		free(sw);
		return;
	}
	__atomic_store_n(&d->sweep_queued, 1, __ATOMIC_RELEASE);
	if (writer_submit(d->writer, apply_sweep, done_sweep, sw) != 0) {
		__atomic_store_n(&d->sweep_queued, 0,
		    __ATOMIC_RELEASE);
		free(sw);
	}
}
