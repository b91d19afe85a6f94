/*
 * requests.c - the request state machine (requests.h).
 *
 * Every function here runs inside one write transaction: it loads the
 * request, checks the move against the one table below, applies it and
 * appends its audit record, so a change is never stored without its
 * record nor recorded without being stored.
 *
 * Separation of duties for decisions by people rests on two ideas.  A
 * connection principal counts once: approvals that arrive through one
 * delegate (a chat bot acting with --as) count as one toward a quorum,
 * whoever they are made for, and a delegate that filed a request may not
 * decide it for anyone.  And an approval is judged when it counts, not only
 * when it is given: each earlier approver's groups are resolved again when
 * a later approval is evaluated, and one who has left the approver groups,
 * been flagged with block, or whose groups cannot be known no longer
 * counts.  Under `brokerd --dev` one operator plays every part through one
 * delegate, so only there approvals count per approver.
 */
#include "requests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "audit.h"
#include "duration.h"
#include "duplicates.h"
#include "escalate.h"
#include "flags.h"
#include "log.h"
#include "optouts.h"
#include "policystate.h"
#include "quota.h"
#include "reqstore.h"
#include "reviews.h"
#include "strlist.h"

/* A condition on a row besides its states. */
enum guard {
	G_NONE,
	G_BEFORE_START
};

/*
 * The allowed moves, and nothing else: a (from, to, action) not listed is
 * refused before anything is written.
 */
static const struct transition {
	enum req_state from, to;
	enum req_action action;
	enum guard guard;
	const char *audit;
} transitions[] = {
	{ REQ_NEW, ST_PENDING, RA_CREATE, G_NONE, "request.pending" },
	{ REQ_NEW, ST_ACTIVE, RA_CREATE, G_NONE, "request.granted" },
	{ REQ_NEW, ST_SCHEDULED, RA_CREATE, G_NONE, "request.granted" },
	{ REQ_NEW, ST_DENIED, RA_CREATE, G_NONE, "request.denied" },
	{ ST_PENDING, ST_CANCELLED, RA_CANCEL, G_NONE, "request.cancelled" },
	{ ST_SCHEDULED, ST_CANCELLED, RA_CANCEL, G_BEFORE_START,
	    "request.cancelled" },
	{ ST_ACTIVE, ST_REVOKED, RA_REVOKE, G_NONE, "grant.revoked" },
	{ ST_SCHEDULED, ST_REVOKED, RA_REVOKE, G_NONE, "grant.revoked" },
	{ ST_PENDING, ST_PENDING, RA_APPROVE, G_NONE, "request.approval" },
	{ ST_PENDING, ST_ACTIVE, RA_APPROVE, G_NONE, "request.approved" },
	{ ST_PENDING, ST_SCHEDULED, RA_APPROVE, G_NONE, "request.approved" },
	{ ST_PENDING, ST_DENIED, RA_DENY, G_NONE, "request.denied" },
	{ ST_SCHEDULED, ST_ACTIVE, RA_START, G_NONE, "grant.started" },
	{ ST_PENDING, ST_EXPIRED, RA_EXPIRE, G_NONE, "request.expired" },
	{ ST_ACTIVE, ST_EXPIRED, RA_EXPIRE, G_NONE, "grant.expired" },
	{ ST_SCHEDULED, ST_EXPIRED, RA_EXPIRE, G_NONE, "grant.expired" },
};

const char *
requests_allowed(enum req_state from, enum req_state to, enum req_action action,
    const struct request *r, int64_t now)
{
	const struct transition *tr;
	size_t i;

	for (i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++) {
		tr = &transitions[i];
		if (tr->from != from || tr->to != to || tr->action != action)
			continue;
		if (tr->guard == G_BEFORE_START &&
		    (r == NULL || now >= r->starts_at))
			return NULL;
		return tr->audit;
	}
	return NULL;
}

/* The one state action leads to from `from` when it has one (cancel,
 * revoke, deny), else ST__COUNT. */
static enum req_state
target_of(enum req_action action)
{
	return action == RA_CANCEL ? ST_CANCELLED :
	    action == RA_REVOKE	   ? ST_REVOKED :
	    action == RA_DENY	   ? ST_DENIED :
				     ST__COUNT;
}

int
requests_audit(struct store_txn *t, const struct actor *a,
    const struct request *rec, const char *action, const char *reason,
    json_t *extra, int64_t now)
{
	char id[24];
	json_t *details;
	int r;

	req_id(rec->serial, id);
	details = json_pack("{s:s, s:s, s:s, s:I, s:s}", "state",
	    req_state_name(rec->state), "role", rec->role, "rules", rec->rules,
	    "ttl", (json_int_t)rec->ttl, "decision", rec->decision);
	if (details == NULL)
		return BRK_ERR_NOMEM;
	if (extra != NULL && json_object_update(details, extra) != 0) {
		json_decref(details);
		return BRK_ERR_NOMEM;
	}
	/* who may decide it, for the record and for notifications */
	if (rec->state == ST_PENDING &&
	    json_object_set_new(details, "approvers",
		json_pack("{s:s, s:s, s:i, s:i}", "groups",
		    rec->approver_groups, "users", rec->approver_users,
		    "quorum", rec->quorum, "approvals", rec->approvals)) != 0) {
		json_decref(details);
		return BRK_ERR_NOMEM;
	}
	r = audit_append(t, now,
	    &(struct audit_event){ .action = action,
		.actor = a->user,
		.caller = a->caller,
		.target = id,
		.user = rec->user,
		.resource = rec->resource,
		.reason = reason,
		.details = details },
	    NULL);
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
hold_break_glass(const struct create_in *in, struct request *rec,
    const struct escalation *esc, int64_t now)
{
	const char *cause = esc->flag_review		? "a review flag" :
	    esc->freeze_manual && !in->bg.during_freeze ? "a freeze" :
	    esc->optout_manual && !in->bg.during_optout ? "an opt-out" :
							  NULL;

	if (cause == NULL)
		return; /* the rule lets break-glass through these */
	rec->state = ST_PENDING;
	rec->break_glass = rec->automatic = false;
	rec->decided_at = rec->starts_at = 0;
	rec->ttl = in->bg.ttl;
	rec->clamped = in->bg.clamped;
	rec->require_reason = in->bg.require_reason;
	rec->require_ticket = in->bg.require_ticket;
	rec->expires_at = now + policy_limits(in->policy)->pending_ttl;
	snprintf(rec->decision, sizeof(rec->decision),
	    "break-glass held for "
	    "approval by %s: %.400s",
	    cause, esc->why);
}

/* Route an automatic grant to people (manual) or deny it (block) when an
 * opt-out or flag covers it; checked in the transaction that stores it. */
static int
escalation(struct store_txn *t, const struct actor *a,
    const struct create_in *in, struct request *rec, int64_t now,
    struct escalation *e)
{
	const struct policy *p = in->policy;
	const char *const *g = NULL, *const *u = NULL;
	size_t ng = 0, nu = 0;
	struct cover cv = {
		.policy = p,
		.user = rec->user,
		.groups = ident_groups(a->who),
		.ngroups = a->who->ngroups,
		.resource = rec->resource,
		.rules = rec->rules,
	};
	int r;

	if ((r = escalate_find(t, &cv, now, e)) != 0)
		return r;
	escalate_ids(e, rec->optouts, sizeof(rec->optouts));
	if (e->level == ESC_MANUAL && rec->state == ST_ACTIVE &&
	    rec->break_glass) {
		hold_break_glass(in, rec, e, now);
		return 0;
	}
	if (e->level == ESC_BLOCK && rec->state != ST_DENIED) {
		rec->state = ST_DENIED;
		rec->ttl = 0;
		rec->break_glass = rec->automatic = rec->clamped = false;
		rec->decided_at = now;
		rec->starts_at = rec->expires_at = 0;
		snprintf(rec->decision, sizeof(rec->decision),
		    "blocked by "
		    "%.480s",
		    e->why);
	} else if (e->level == ESC_MANUAL &&
	    (rec->state == ST_ACTIVE || rec->state == ST_SCHEDULED) &&
	    rec->automatic) {
		policy_role_members(p, ROLE_OPTOUT_APPROVERS, &g, &ng, &u, &nu);
		if (ng + nu == 0) { /* nobody may approve: fail closed */
			rec->state = ST_DENIED;
			rec->automatic = rec->clamped = false;
			snprintf(rec->decision, sizeof(rec->decision),
			    "%.400s; "
			    "the policy names no optout_approvers",
			    e->why);
			return 0;
		}
		rec->state = ST_PENDING;
		rec->automatic = false;
		rec->decided_at = rec->starts_at = 0;
		rec->expires_at = now + policy_limits(p)->pending_ttl;
		rec->quorum = policy_optout_quorum(p);
		strlist_join(
		    rec->approver_groups, sizeof(rec->approver_groups), g, ng);
		strlist_join(
		    rec->approver_users, sizeof(rec->approver_users), u, nu);
		snprintf(rec->decision, sizeof(rec->decision),
		    "taken out of "
		    "automation by %.440s",
		    e->why);
	}
	return 0;
}

/*
 * limits.requests_per_minute: new requests of the user in the last minute,
 * denied ones included.  The refused request itself is not stored, so a
 * flood costs the store nothing.
 */
static int
check_rate(struct store_txn *t, const struct create_in *in,
    const struct request *rec, int64_t now, char msg[REQ_MSG_LEN])
{
	int lim = policy_limits(in->policy)->requests_per_minute;
	bool over;
	int r;

	if ((r = quota_rate(t, rec->user, now, lim, &over)) != 0)
		return r;
	if (!over)
		return 0;
	snprintf(msg, REQ_MSG_LEN,
	    "rate limit: %s made %d requests in the "
	    "last minute, the most limits.requests_per_minute allows; try "
	    "again in a minute",
	    rec->user, lim);
	return BRK_ERR_DENIED;
}

/*
 * The caps that depend on the outcome: limits.break_glass_per_day for a
 * break-glass grant (any 24 hours), limits.pending_per_user for a request
 * that would wait for approval.
 */
static int
check_caps(struct store_txn *t, const struct create_in *in,
    const struct request *rec, int64_t now, char msg[REQ_MSG_LEN])
{
	const struct policy_limits *lim = policy_limits(in->policy);
	int n, r;

	if (rec->state == ST_ACTIVE && rec->break_glass) {
		if ((r = quota_recent(t, rec->user, now - 86400, true,
			 lim->break_glass_per_day, &n)) != 0)
			return r;
		if (n >= lim->break_glass_per_day) {
			snprintf(msg, REQ_MSG_LEN,
			    "break-glass limit: %s used "
			    "break-glass %d times in the last 24 hours, the "
			    "most limits.break_glass_per_day allows; ask for "
			    "approval instead",
			    rec->user, n);
			return BRK_ERR_DENIED;
		}
	}
	if (rec->state == ST_PENDING) {
		if ((r = quota_pending(
			 t, rec->user, now, lim->pending_per_user, &n)) != 0)
			return r;
		if (n >= lim->pending_per_user) {
			snprintf(msg, REQ_MSG_LEN,
			    "pending limit: %s has %d "
			    "pending requests, the most limits.pending_per_user "
			    "allows; cancel one or wait for a decision",
			    rec->user, n);
			return BRK_ERR_DENIED;
		}
	}
	return 0;
}

/* Asking again for what is already open answers with that request
 * (unless --new): a grant always, a pending request when the new one would
 * wait too.  A refusal is never replaced by an earlier grant. */
static int
find_repeat(struct store_txn *t, const struct create_in *in,
    struct request *rec, int64_t now)
{
	struct request dup;
	int r;

	if (in->fresh || rec->state == ST_DENIED)
		return BRK_ERR_NOTFOUND;
	/* a pending request answers only what would wait anyway: one that
	 * policy now grants at once (or break-glass) is not held back */
	if ((r = dup_find(t, rec, now, policy_limits(in->policy)->pending_ttl,
		 rec->state != ST_PENDING, &dup)) != 0)
		return r;
	*rec = dup;
	return 0;
}

int
requests_create(struct store_txn *t, const struct actor *a,
    const struct create_in *in, const struct request *decided,
    struct request *rec, int64_t now, bool *duplicate, char msg[REQ_MSG_LEN])
{
	struct escalation esc;
	const char *action;
	size_t i;
	int r;

	msg[0] = '\0';
	*duplicate = false;
	*rec = *decided; /* escalation, a repeat and the serial rewrite it */
	if ((r = check_rate(t, in, rec, now, msg)) != 0 ||
	    (r = escalation(t, a, in, rec, now, &esc)) != 0)
		return r;
	if ((r = find_repeat(t, in, rec, now)) == 0) {
		*duplicate = true;
		return 0;
	}
	if (r != BRK_ERR_NOTFOUND ||
	    (r = check_caps(t, in, rec, now, msg)) != 0)
		return r;
	if ((action = requests_allowed(
		 REQ_NEW, rec->state, RA_CREATE, rec, now)) == NULL)
		return BRK_ERR_STATE;
	if ((r = reqstore_create(t, rec)) != 0)
		return r;
	/* which requests each opt-out affected, for `optout show` */
	for (i = 0; i < esc.nids; i++)
		if ((r = optouts_hit(t, esc.ids[i], rec->serial)) != 0)
			return r;
	if (rec->break_glass && (r = reviews_open(t, rec, now)) != 0)
		return r;
	return requests_audit(t, a, rec,
	    rec->break_glass ? "breakglass.used" : action,
	    rec->reason[0] ? rec->reason : NULL, NULL, now);
}

int
requests_transition(struct store_txn *t, const struct actor *a, uint64_t serial,
    enum req_action action, const char *reason, int64_t now,
    struct request *out, char msg[REQ_MSG_LEN])
{
	enum req_state to = target_of(action);
	const char *audit;
	struct request old;
	char id[24];
	int r;

	msg[0] = '\0';
	req_id(serial, id);
	if (action != RA_CANCEL && action != RA_REVOKE)
		return BRK_ERR_INTERNAL;
	if ((r = reqstore_load(t, serial, &old)) != 0) {
		snprintf(msg, REQ_MSG_LEN, "no request %s", id);
		return r;
	}
	/* an approver may end what they approved */
	if (!a->privileged && strcmp(old.user, a->user) != 0 &&
	    strcmp(old.caller, a->user) != 0 &&
	    !(action == RA_REVOKE && approvals_has(t, old.serial, a->user))) {
		snprintf(msg, REQ_MSG_LEN, "%s may not %s request %s of %s",
		    a->user, action == RA_CANCEL ? "cancel" : "revoke", id,
		    old.user);
		return BRK_ERR_DENIED;
	}
	audit = requests_allowed(old.state, to, action, &old, now);
	if (audit == NULL || now >= old.expires_at) {
		snprintf(msg, REQ_MSG_LEN, "request %s is %s, not %s", id,
		    now >= old.expires_at &&
			    (old.state == ST_ACTIVE ||
				old.state == ST_PENDING ||
				old.state == ST_SCHEDULED) ?
			"expired" :
			req_state_name(old.state),
		    action == RA_CANCEL ? req_state_name(ST_PENDING) :
					  req_state_name(ST_ACTIVE));
		return BRK_ERR_STATE;
	}
	*out = old;
	snprintf(out->end_reason, sizeof(out->end_reason), "%s",
	    reason != NULL ? reason : "");
	out->state = to;
	out->ended_at = now;
	out->expires_at = now < old.expires_at ? now : old.expires_at;
	snprintf(out->ended_by, sizeof(out->ended_by), "%s", a->user);
	if ((r = reqstore_update(t, &old, out)) != 0)
		return r;
	return requests_audit(t, a, out, audit,
	    out->end_reason[0] ? out->end_reason : NULL, NULL, now);
}

bool
requests_is_approver(const struct ident *who, const struct request *r)
{
	size_t i;

	if (!who->groups_complete)
		return false; /* groups unknown: approves nothing */
	if (strlist_has(r->approver_users, who->name))
		return true;
	for (i = 0; i < who->ngroups; i++)
		if (strlist_has(r->approver_groups, who->groups[i]))
			return true;
	return false;
}

/* Separation of duties, in the order a refusal reports them. */
static int
check_duties(struct store_txn *t, const struct actor *a,
    const struct decide_in *in, const struct request *r, const char *id,
    int64_t now, char msg[REQ_MSG_LEN])
{
	struct brk_error gerr = { { 0 } };
	const char *author;
	bool blocked;
	json_t *ver;
	int rc = BRK_ERR_DENIED;

	if (strcmp(a->user, r->user) == 0 || strcmp(a->user, r->caller) == 0 ||
	    strcmp(a->caller, r->user) == 0) {
		snprintf(msg, REQ_MSG_LEN,
		    "separation of duties "
		    "(requester-not-approver): %s asked for %s and may not "
		    "decide it",
		    strcmp(a->user, r->user) == 0 ||
			    strcmp(a->user, r->caller) == 0 ?
			a->user :
			a->caller,
		    id);
		return rc;
	}
	if (ident_require_groups(a->who, &gerr) != 0) {
		snprintf(msg, REQ_MSG_LEN, "%.400s; %s may not decide %s",
		    gerr.msg, a->user, id);
		return rc;
	}
	if (!in->dev && strcmp(a->caller, r->caller) == 0) {
		/* a delegate that filed for someone decides for no one */
		snprintf(msg, REQ_MSG_LEN,
		    "separation of duties "
		    "(filer-not-approver): %s filed %s (for %s) and may not "
		    "decide it, for anyone",
		    a->caller, id, r->user);
		return rc;
	}
	if (!requests_is_approver(a->who, r)) {
		snprintf(msg, REQ_MSG_LEN,
		    "separation of duties "
		    "(eligible-approvers): %s is not an approver of %s "
		    "(groups: %.150s; users: %.150s)",
		    a->user, id,
		    r->approver_groups[0] ? r->approver_groups : "-",
		    r->approver_users[0] ? r->approver_users : "-");
		return rc;
	}
	if (flags_blocks(t, a->user, now, &blocked) != 0) {
		snprintf(msg, REQ_MSG_LEN,
		    "the flag of %s cannot be read: %s "
		    "may not decide %s",
		    a->user, a->user, id);
		return rc;
	}
	if (blocked) {
		snprintf(msg, REQ_MSG_LEN,
		    "separation of duties "
		    "(active-approver): %s is flagged with severity block and "
		    "may not approve",
		    a->user);
		return rc;
	}
	if (in->rule_authors_may_approve)
		return 0;
	if ((ver = policystate_version(NULL, t, r->policy_version, false)) ==
	    NULL) {
		/* who wrote the rule cannot be known: refuse */
		snprintf(msg, REQ_MSG_LEN,
		    "policy v%llu, which routed %s, "
		    "cannot be read: %s may not decide it",
		    (unsigned long long)r->policy_version, id, a->user);
		return rc;
	}
	author = json_string_value(json_object_get(ver, "loaded_by"));
	if (author != NULL && strcmp(author, a->user) == 0) {
		snprintf(msg, REQ_MSG_LEN,
		    "separation of duties "
		    "(rule-authors-may-not-approve): %s loaded policy v%llu, "
		    "which routed %s",
		    a->user, (unsigned long long)r->policy_version, id);
		json_decref(ver);
		return rc;
	}
	json_decref(ver);
	return 0;
}

/* Load the request and check it can still be decided by this person. */
static int
load_decidable(struct store_txn *t, const struct actor *a,
    const struct decide_in *in, uint64_t serial, int64_t now, struct request *r,
    char id[24], char msg[REQ_MSG_LEN])
{
	int rc;

	req_id(serial, id);
	if ((rc = reqstore_load(t, serial, r)) != 0) {
		snprintf(msg, REQ_MSG_LEN, "no request %s", id);
		return rc;
	}
	if (r->state != ST_PENDING || now >= r->expires_at) {
		snprintf(msg, REQ_MSG_LEN,
		    "request %s is %s: nothing to "
		    "decide",
		    id,
		    r->state == ST_PENDING ? "expired" :
					     req_state_name(r->state));
		return BRK_ERR_STATE;
	}
	return check_duties(t, a, in, r, id, now, msg);
}

/* The identity of approver name now: the actor's own, a prior resolved
 * before the transaction, or (an approval that landed since) resolved
 * here.  Returns false when it cannot be known. */
static bool
approver_now(const struct actor *a, const struct decide_in *in,
    const char *name, struct ident *tmp, const struct ident **out)
{
	struct brk_error err = { { 0 } };
	size_t i;

	*out = NULL;
	if (strcmp(name, a->user) == 0) {
		*out = a->who;
		return true;
	}
	for (i = 0; i < in->nprior; i++)
		if (strcmp(in->prior[i].approver, name) == 0) {
			if (!in->prior[i].known)
				return false;
			*out = &in->prior[i].id;
			return true;
		}
	if (in->ids == NULL || ident_from_name(in->ids, name, tmp, &err) != 0)
		return false;
	*out = tmp;
	return true;
}

/*
 * How many of r's approvals count now: each approver still eligible and not
 * flagged with block, and one per connection principal (per approver under
 * --dev).  *counted receives each approval as judged.
 */
static int
count_approvals(struct store_txn *t, const struct actor *a,
    const struct decide_in *in, const struct request *r, int64_t now,
    json_t **counted, int *count)
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
	json_decref(*counted);
	if ((*counted = json_array()) == NULL ||
	    (w = calloc(APPROVALS_MAX, sizeof(*w))) == NULL)
		goto out;
	if ((rc = approvals_who(t, r->serial, w, APPROVALS_MAX, &n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		memset(&tmp, 0, sizeof(tmp));
		why = NULL;
		if (!approver_now(a, in, w[i].approver, &tmp, &who))
			why = "groups cannot be known";
		else if (!requests_is_approver(who, r))
			why = "no longer an eligible approver";
		else if (flags_blocks(t, w[i].approver, now, &blocked) != 0)
			why = "flag cannot be read";
		else if (blocked)
			why = "flagged with severity block";
		ident_clear(&tmp);
		for (j = 0; why == NULL && !in->dev && j < i; j++)
			if (strcmp(w[j].caller, w[i].caller) == 0 &&
			    json_is_true(json_object_get(
				json_array_get(*counted, j), "counted")))
				why = "same connection principal as an "
				      "earlier approval";
		if ((e = json_pack("{s:s, s:s, s:b}", "approver", w[i].approver,
			 "caller", w[i].caller, "counted", why == NULL)) ==
		    NULL) {
			rc = BRK_ERR_NOMEM;
			goto out;
		}
		if (why != NULL)
			json_object_set_new(e, "why", json_string(why));
		json_array_append_new(*counted, e);
		if (why == NULL)
			(*count)++;
	}
	rc = 0;
out:
	free(w);
	return rc;
}

/* The audit record of an approval: the request's, with the approvals as
 * judged and, under --as, the delegate that carried it. */
static int
audit_approval(struct store_txn *t, const struct actor *a,
    const struct request *rec, json_t *counted, const char *action,
    const char *reason, int64_t now)
{
	json_t *extra;
	int r;

	extra = json_pack("{s:O, s:i, s:i}", "approvals", counted, "counted",
	    rec->approvals, "quorum", rec->quorum);
	if (extra == NULL)
		return BRK_ERR_NOMEM;
	if (a->delegated)
		json_object_set_new(extra, "delegate", json_string(a->caller));
	r = requests_audit(t, a, rec, action, reason, extra, now);
	json_decref(extra);
	return r;
}

/* Refuse a second approval carried by the same connection principal. */
static int
check_once_per_caller(struct store_txn *t, const struct actor *a,
    const struct decide_in *in, const struct request *r, const char *id,
    char msg[REQ_MSG_LEN])
{
	struct approval_who *w;
	size_t i, n = 0;
	int rc = BRK_ERR_NOMEM;

	if (in->dev)
		return 0;
	if ((w = calloc(APPROVALS_MAX, sizeof(*w))) == NULL)
		return rc;
	if ((rc = approvals_who(t, r->serial, w, APPROVALS_MAX, &n)) != 0) {
		snprintf(msg, REQ_MSG_LEN,
		    "the approvals of %s cannot be "
		    "read: %s",
		    id, brk_strerror(rc));
		goto out;
	}
	for (i = 0; i < n; i++)
		if (strcmp(w[i].caller, a->caller) == 0 &&
		    strcmp(w[i].approver, a->user) != 0) {
			rc = BRK_ERR_DENIED;
			snprintf(msg, REQ_MSG_LEN,
			    "separation of duties "
			    "(one-delegate-counts-once): %s already carried "
			    "%s's approval of %s and may not carry %s's",
			    a->caller, w[i].approver, id, a->user);
			goto out;
		}
	rc = 0;
out:
	free(w);
	return rc;
}

int
requests_approve(struct store_txn *t, const struct actor *a, uint64_t serial,
    const struct decide_in *in, int64_t now, struct request *out,
    json_t **counted, char msg[REQ_MSG_LEN])
{
	struct request old, *r = out;
	const char *audit;
	int64_t min_ttl = 0;
	char id[24];
	int rc, n = 0;

	msg[0] = '\0';
	*counted = NULL;
	if ((rc = load_decidable(t, a, in, serial, now, &old, id, msg)) != 0)
		return rc;
	if (in->ttl > old.ttl) {
		char asked[32];

		duration_format(old.ttl, asked, sizeof(asked));
		snprintf(msg, REQ_MSG_LEN,
		    "an approver may shorten, never "
		    "lengthen: %s asked for %s",
		    id, asked);
		return BRK_ERR_DENIED;
	}
	if ((rc = check_once_per_caller(t, a, in, &old, id, msg)) != 0)
		return rc;
	rc = approvals_put(t, old.serial,
	    &(struct approval){ .approver = a->user,
		.caller = a->caller,
		.reason = in->reason,
		.role = old.role,
		.ttl = in->ttl,
		.at = now });
	if (rc == BRK_ERR_EXISTS) {
		snprintf(msg, REQ_MSG_LEN,
		    "separation of duties "
		    "(one-person-counts-once): %s already approved %s",
		    a->user, id);
		return BRK_ERR_DENIED;
	}
	if (rc != 0)
		return rc;
	*r = old;
	if ((rc = count_approvals(t, a, in, &old, now, counted, &n)) != 0) {
		snprintf(msg, REQ_MSG_LEN,
		    "the approvals of %s cannot be "
		    "judged: %s",
		    id, brk_strerror(rc));
		return rc;
	}
	r->approvals = n;
	if ((audit = requests_allowed(
		 old.state, ST_PENDING, RA_APPROVE, &old, now)) == NULL)
		return BRK_ERR_STATE;
	if ((rc = audit_approval(t, a, r, *counted, audit, in->reason, now)) !=
	    0)
		return rc;
	if (r->approvals >= r->quorum) {
		/* the window starts now (or at the start asked for), not
		 * at request time */
		if ((rc = approvals_list(t, r->serial, NULL, &min_ttl)) != 0)
			return rc;
		if (min_ttl > 0 && min_ttl < r->ttl)
			r->ttl = min_ttl;
		r->decided_at = now;
		r->starts_at = r->requested_start > now ? r->requested_start :
							  now;
		r->state = r->starts_at > now ? ST_SCHEDULED : ST_ACTIVE;
		r->expires_at = r->starts_at + r->ttl;
		if ((audit = requests_allowed(
			 old.state, r->state, RA_APPROVE, &old, now)) == NULL)
			return BRK_ERR_STATE;
		if ((rc = audit_approval(
			 t, a, r, *counted, audit, NULL, now)) != 0)
			return rc;
	}
	return reqstore_update(t, &old, r);
}

int
requests_deny(struct store_txn *t, const struct actor *a, uint64_t serial,
    const struct decide_in *in, int64_t now, struct request *out,
    char msg[REQ_MSG_LEN])
{
	struct request old;
	const char *audit;
	char id[24];
	int rc;

	msg[0] = '\0';
	if ((rc = load_decidable(t, a, in, serial, now, &old, id, msg)) != 0)
		return rc;
	if ((audit = requests_allowed(
		 old.state, ST_DENIED, RA_DENY, &old, now)) == NULL)
		return BRK_ERR_STATE;
	*out = old;
	out->state = ST_DENIED;
	out->decided_at = out->ended_at = now;
	snprintf(out->ended_by, sizeof(out->ended_by), "%s", a->user);
	snprintf(out->end_reason, sizeof(out->end_reason), "%s",
	    in->reason != NULL ? in->reason : "");
	if ((rc = requests_audit(t, a, out, audit, in->reason, NULL, now)) != 0)
		return rc;
	return reqstore_update(t, &old, out);
}

int
requests_sweep(
    struct store_txn *t, const uint64_t *serials, size_t n, int64_t now)
{
	static const struct actor broker = { .user = "brokerd",
		.caller = "brokerd" };
	struct request old, nr;
	const char *audit;
	char id[24];
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (reqstore_load(t, serials[i], &old) != 0)
			continue; /* gone since it was collected */
		nr = old;
		if (old.state == ST_SCHEDULED && old.starts_at <= now &&
		    old.expires_at > now) {
			/* the window has opened */
			if ((audit = requests_allowed(old.state, ST_ACTIVE,
				 RA_START, &old, now)) == NULL)
				continue;
			nr.state = ST_ACTIVE;
		} else {
			if (old.expires_at > now ||
			    (audit = requests_allowed(old.state, ST_EXPIRED,
				 RA_EXPIRE, &old, now)) == NULL)
				continue;
			nr.state = ST_EXPIRED;
			nr.ended_at = old.expires_at;
		}
		if ((r = reqstore_update(t, &old, &nr)) != 0)
			return r;
		req_id(nr.serial, id);
		r = audit_append(t, now,
		    &(struct audit_event){ .action = audit,
			.actor = broker.user,
			.caller = broker.caller,
			.target = id,
			.user = nr.user,
			.resource = nr.resource },
		    NULL);
		if (r != 0)
			return r;
	}
	return 0;
}

int
requests_resolve_priors(struct store_txn *t, struct identity *ids,
    uint64_t serial, struct prior_approver **out, size_t *n)
{
	struct brk_error err = { { 0 } };
	struct approval_who *w = NULL;
	struct prior_approver *p = NULL;
	size_t i, nw = 0;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	*n = 0;
	if ((w = calloc(APPROVALS_MAX, sizeof(*w))) == NULL)
		goto out;
	if ((r = approvals_who(t, serial, w, APPROVALS_MAX, &nw)) != 0)
		goto out;
	r = BRK_ERR_NOMEM;
	if (nw > 0 && (p = calloc(nw, sizeof(*p))) == NULL)
		goto out;
	for (i = 0; i < nw; i++) {
		snprintf(
		    p[i].approver, sizeof(p[i].approver), "%s", w[i].approver);
		p[i].known = ident_from_name(
				 ids, w[i].approver, &p[i].id, &err) == 0;
		if (!p[i].known)
			log_info("event=approver_unknown approver=%s "
				 "error=\"%s\"",
			    w[i].approver, err.msg);
	}
	*out = p;
	*n = nw;
	p = NULL;
	r = 0;
out:
	free(w);
	free(p);
	return r;
}

void
requests_priors_free(struct prior_approver *p, size_t n)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < n; i++)
		ident_clear(&p[i].id);
	free(p);
}
