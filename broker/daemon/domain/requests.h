/*
 * requests.h - the request state machine: every change of a request's
 * state, each checked against one table and written with its audit record
 * in the caller's transaction.
 *
 *   (new)     -> pending | active | scheduled | denied   requests_create
 *   pending   -> cancelled                 requests_transition (cancel)
 *   scheduled -> cancelled (before start)  requests_transition (cancel)
 *   active | scheduled -> revoked          requests_transition (revoke)
 *   pending   -> pending | active | scheduled   requests_approve
 *   pending   -> denied                    requests_deny
 *   scheduled -> active (window opens)     requests_sweep
 *   pending | active | scheduled -> expired     requests_sweep
 *
 * Nothing here knows a transport: the acting identity comes in as a
 * struct actor, copied by the op that builds it; refusals come back as a
 * BRK_ERR_* code with the reason in words in msg.
 */
#ifndef BRK_REQUESTS_H
#define BRK_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "identity.h"
#include "policy.h"
#include "record.h"
#include "store.h"

/* What may happen to a request: one action per row of the table. */
enum req_action {
	RA_CREATE,
	RA_CANCEL,
	RA_REVOKE,
	RA_APPROVE,
	RA_DENY,
	RA_START,
	RA_EXPIRE,
	RA__COUNT
};

/* The state a request is in before it exists, for the table's create
 * rows (not a stored state). */
#define REQ_NEW ST__COUNT

/*
 * Whether action may move request r (NULL for a new one, whose state is
 * REQ_NEW) from `from` to `to` at now, and the audit action it records
 * then; NULL when the table does not allow it.  r is needed only for rows
 * with a condition (a scheduled grant is cancelled only before it starts).
 */
const char *requests_allowed(enum req_state from, enum req_state to,
    enum req_action action, const struct request *r, int64_t now);

/* Who acts: the user the change is for or by ("as"), the connection
 * principal that carried it, and what the op found them allowed to do. */
struct actor {
	char user[REC_NAME];
	char caller[REC_NAME];
	bool delegated;	 /* user differs from caller (--as) */
	bool privileged; /* may end others' requests */
	/* The user's identity, groups included, for eligibility; owned by
	 * the call that made the op, which outlives it. */
	const struct ident *who;
};

/* Why a change was refused, in words ("" when the code says it all). */
#define REQ_MSG_LEN 512

/*
 * The audit record of a change to rec: state, role, rules, ttl, decision,
 * and extra's keys (borrowed; may be NULL).
 */
int requests_audit(struct store_txn *t, const struct actor *a,
    const struct request *rec, const char *action, const char *reason,
    json_t *extra, int64_t now);

/* What a new request needs besides itself (requests_create). */
struct create_in {
	const struct policy *policy; /* the policy that decided it */
	bool fresh;		     /* request --new: never a repeat */
	/* the approval a break-glass request falls back to when a review
	 * flag, a freeze or an opt-out holds it */
	struct {
		bool during_freeze, during_optout;
		bool require_reason, require_ticket, clamped;
		int64_t ttl;
	} bg;
};

/*
 * Store request decided (state pending, active, scheduled or denied) as a
 * new request, *rec as stored (or the open request that answers instead);
 * *rec depends on decided and the store alone, so a writer batch that runs
 * again gets the same answer.  In this order: the user's request rate
 * (limits.requests_per_minute); the opt-outs and flags in force
 * (escalate.h), which may take an automatic grant out of automation, hold
 * a break-glass one for approval, or deny it; an open request it repeats,
 * which answers instead (*duplicate; not with in->fresh); the per-user
 * caps; then the record, which opt-outs it hit, the review of a
 * break-glass grant and its audit record.  A refusal by a limit is
 * BRK_ERR_DENIED with msg.
 */
int requests_create(struct store_txn *t, const struct actor *a,
    const struct create_in *in, const struct request *decided,
    struct request *rec, int64_t now, bool *duplicate, char msg[REQ_MSG_LEN]);

/*
 * End request serial by action (RA_CANCEL: pending, or scheduled before it
 * starts, -> cancelled; RA_REVOKE: active or scheduled -> revoked) for a,
 * with reason (may be NULL).  Refused unless a
 * is privileged, is the request's user or filer, or (revoke) approved it:
 * BRK_ERR_DENIED; BRK_ERR_STATE when it is not in the from state or has
 * run out.  *out is the request as stored after the change.
 */
int requests_transition(struct store_txn *t, const struct actor *a,
    uint64_t serial, enum req_action action, const char *reason, int64_t now,
    struct request *out, char msg[REQ_MSG_LEN]);

/* An earlier approver of a request, resolved before the transaction so
 * the writer does not wait on a directory. */
struct prior_approver {
	char approver[REC_NAME];
	struct ident id;
	bool known; /* identity resolved */
};

/*
 * Resolve the identities of serial's approvers so far, read in t, into
 * *out (NULL on entry; free with requests_priors_free).  One that cannot
 * be resolved is kept as unknown: that approval will not count.
 */
int requests_resolve_priors(struct store_txn *t, struct identity *ids,
    uint64_t serial, struct prior_approver **out, size_t *n);
void requests_priors_free(struct prior_approver *p, size_t n);

/* Inputs of a decision by people besides the actor. */
struct decide_in {
	bool dev;		       /* brokerd --dev: count per approver */
	bool rule_authors_may_approve; /* the policy's limit */
	const char *reason;
	int64_t ttl; /* approve: shortened duration or 0 */
	const struct prior_approver *prior;
	size_t nprior;
	struct identity *ids; /* for approvers not among prior */
};

/*
 * Approve or deny pending request serial as a, after every separation of
 * duties check (in the order a refusal reports them).  An approval that
 * reaches the quorum makes the request active (scheduled when the window
 * asked for starts later).  *out is the request as
 * stored; *counted (approve only; a new array, NULL on entry) the
 * approvals as judged.
 */
int requests_approve(struct store_txn *t, const struct actor *a,
    uint64_t serial, const struct decide_in *in, int64_t now,
    struct request *out, json_t **counted, char msg[REQ_MSG_LEN]);
int requests_deny(struct store_txn *t, const struct actor *a, uint64_t serial,
    const struct decide_in *in, int64_t now, struct request *out,
    char msg[REQ_MSG_LEN]);

/*
 * For each of serials[0..n): a scheduled grant whose window has opened at
 * now becomes active; one pending, active or scheduled past its end
 * expires.  The others are left alone.
 */
int requests_sweep(
    struct store_txn *t, const uint64_t *serials, size_t n, int64_t now);

/* Whether who is named among r's eligible approvers (user or group); a
 * user whose groups are unknown approves nothing. */
bool requests_is_approver(const struct ident *who, const struct request *r);

#endif
