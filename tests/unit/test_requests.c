/*
 * test_requests.c - the request state machine (domain/requests.c).
 *
 * The test keeps its own list of the moves a request may make (expected[]
 * below, written from the documented lifecycle, not copied from the
 * module).  Every move on that list must succeed through the function that
 * makes it and leave its audit record; every other (state, action) must be
 * refused and change nothing: not the record, not the audit chain.
 *
 * Fails when the table is widened: checked by adding
 * { ST_EXPIRED, ST_REVOKED, RA_REVOKE, G_NONE, "grant.revoked" } to
 * requests.c's transitions[], which made table_is_exactly_the_lifecycle
 * and every_move (revoke of an expired grant went through) fail; and by
 * dropping the G_BEFORE_START guard, which made a started scheduled grant
 * cancellable (every_move, cancel of scheduled_started).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "flags.h"
#include "policy.h"
#include "reqstore.h"
#include "requests.h"
#include "reviews.h"
#include "store.h"
#include "storetest.h"

#define NOW 1800000000LL

STORE_TEST_SUITE(requests);

/* The lifecycle, as documented: (from, action, to, audit action). */
static const struct move {
	int from;		/* REQ_NEW for a new request */
	enum req_action action;
	enum req_state to;
	const char *audit;
} expected[] = {
	{ REQ_NEW, RA_CREATE, ST_PENDING, "request.pending" },
	{ REQ_NEW, RA_CREATE, ST_ACTIVE, "request.granted" },
	{ REQ_NEW, RA_CREATE, ST_SCHEDULED, "request.granted" },
	{ REQ_NEW, RA_CREATE, ST_DENIED, "request.denied" },
	{ ST_PENDING, RA_CANCEL, ST_CANCELLED, "request.cancelled" },
	{ ST_SCHEDULED, RA_CANCEL, ST_CANCELLED, "request.cancelled" },
	{ ST_ACTIVE, RA_REVOKE, ST_REVOKED, "grant.revoked" },
	{ ST_SCHEDULED, RA_REVOKE, ST_REVOKED, "grant.revoked" },
	{ ST_PENDING, RA_APPROVE, ST_PENDING, "request.approval" },
	{ ST_PENDING, RA_APPROVE, ST_ACTIVE, "request.approved" },
	{ ST_PENDING, RA_APPROVE, ST_SCHEDULED, "request.approved" },
	{ ST_PENDING, RA_DENY, ST_DENIED, "request.denied" },
	{ ST_SCHEDULED, RA_START, ST_ACTIVE, "grant.started" },
	{ ST_PENDING, RA_EXPIRE, ST_EXPIRED, "request.expired" },
	{ ST_ACTIVE, RA_EXPIRE, ST_EXPIRED, "grant.expired" },
	{ ST_SCHEDULED, RA_EXPIRE, ST_EXPIRED, "grant.expired" },
};
#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

static const char *
expected_audit(int from, enum req_action action, enum req_state to)
{
	size_t i;

	for (i = 0; i < NEXPECTED; i++)
		if (expected[i].from == from && expected[i].action == action &&
		    expected[i].to == to)
			return expected[i].audit;
	return NULL;
}

Test(requests, table_is_exactly_the_lifecycle)
{
	struct request r = { .starts_at = NOW + 600 };	/* not started */
	const char *got, *want;
	int from, to, a;

	for (from = 0; from <= REQ_NEW; from++)
		for (to = 0; to < ST__COUNT; to++)
			for (a = 0; a < RA__COUNT; a++) {
				got = requests_allowed((enum req_state)from,
				    (enum req_state)to, (enum req_action)a, &r,
				    NOW);
				want = expected_audit(from, (enum req_action)a,
				    (enum req_state)to);
				cr_expect((got == NULL) == (want == NULL),
				    "%s -%d-> %s: table says %s, lifecycle %s",
				    from == REQ_NEW ? "new" :
				    req_state_name((enum req_state)from), a,
				    req_state_name((enum req_state)to),
				    got ? got : "refused",
				    want ? want : "refused");
				if (got != NULL && want != NULL)
					cr_expect_str_eq(got, want);
			}
	/* a scheduled grant is cancelled only before it starts */
	r.starts_at = NOW;
	cr_expect_null(requests_allowed(ST_SCHEDULED, ST_CANCELLED, RA_CANCEL,
	    &r, NOW));
	cr_expect_null(requests_allowed(ST_SCHEDULED, ST_CANCELLED, RA_CANCEL,
	    NULL, NOW));
}

/* The people in the tests. */
static char g_approvers[] = "approvers", g_dev[] = "dev";

static struct ident
person(const char *name, char *group)
{
	struct ident id;

	memset(&id, 0, sizeof(id));
	snprintf(id.name, sizeof(id.name), "%s", name);
	id.groups[0] = group;
	id.ngroups = 1;
	id.groups_complete = true;
	return id;
}

static struct actor
acting(const struct ident *who)
{
	struct actor a;

	memset(&a, 0, sizeof(a));
	snprintf(a.user, sizeof(a.user), "%s", who->name);
	snprintf(a.caller, sizeof(a.caller), "%s", who->name);
	a.who = who;
	return a;
}

/* A request of alice's for host:db-1 in state s, times and all else 0. */
static void
alices(enum req_state s, struct request *r)
{
	memset(r, 0, sizeof(*r));
	r->state = s;
	snprintf(r->user, sizeof(r->user), "alice");
	snprintf(r->caller, sizeof(r->caller), "alice");
	snprintf(r->resource, sizeof(r->resource), "host:db-1");
	snprintf(r->role, sizeof(r->role), "alice");
}

/* A request of alice's in state s, stored; its serial. */
static uint64_t
stored_in(enum req_state s, int64_t starts_at, int64_t expires_at,
    int quorum)
{
	struct store_txn *t;
	struct request r;

	alices(s, &r);
	snprintf(r.approver_groups, sizeof(r.approver_groups), "approvers");
	snprintf(r.decision, sizeof(r.decision), "test");
	r.created_at = NOW - 100;
	r.starts_at = starts_at;
	r.expires_at = expires_at;
	r.ttl = r.requested_ttl = 3600;
	r.quorum = quorum;
	r.policy_version = 1;
	if (s == ST_SCHEDULED)
		r.requested_start = starts_at;
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(reqstore_create(t, &r), 0);
	cr_assert_eq(store_commit(t), 0);
	return r.serial;
}

/* What a refusal must leave alone: the record and the audit head. */
struct snap {
	struct request r;
	uint64_t seq;
	char action[64];
};

static void
snapshot(uint64_t serial, struct snap *s)
{
	struct store_txn *t;
	struct store_val v;
	char hash[65];
	uint8_t key[8];
	json_t *o;

	memset(s, 0, sizeof(*s));
	cr_assert_eq(store_begin(st, false, &t), 0);
	if (serial != 0)
		cr_assert_eq(reqstore_load(t, serial, &s->r), 0);
	cr_assert_eq(audit_head(t, &s->seq, hash), 0);
	if (s->seq != 0) {
		store_be64(key, s->seq);
		cr_assert_eq(store_get(t, TBL_AUDIT, key, 8, &v), 0);
		o = audit_record_json(&v);
		cr_assert_not_null(o);
		snprintf(s->action, sizeof(s->action), "%s",
		    json_string_value(json_object_get(o, "action")));
		json_decref(o);
	}
	store_abort(t);
}

/* The fixtures: a state, and the times that put it where a move needs. */
static const struct fixture {
	const char *name;
	enum req_state state;
	int64_t starts_at, expires_at;
} fixtures[] = {
	{ "pending", ST_PENDING, 0, NOW + 3600 },
	{ "active", ST_ACTIVE, NOW - 10, NOW + 3600 },
	{ "scheduled", ST_SCHEDULED, NOW + 600, NOW + 4200 },
	{ "scheduled_started", ST_SCHEDULED, NOW - 5, NOW + 3600 },
	/* ended ones, with time left on the clock, so that only the table
	 * (not the expiry check) keeps them ended */
	{ "denied", ST_DENIED, 0, NOW + 3600 },
	{ "cancelled", ST_CANCELLED, 0, NOW + 3600 },
	{ "expired", ST_EXPIRED, NOW - 10, NOW + 3600 },
	{ "revoked", ST_REVOKED, NOW - 10, NOW + 3600 },
	{ "expired_past", ST_EXPIRED, NOW - 4000, NOW - 400 },
};
#define NFIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

/*
 * Run action on a request made from f (for the sweep actions, with its
 * times moved so that the move is due); returns the function's result.
 */
static int
run(enum req_action action, const struct fixture *f, int quorum,
    int64_t requested_start, uint64_t *serial)
{
	static struct ident alice, bob;
	struct decide_in in = { .rule_authors_may_approve = true,
		.reason = "ok" };
	char msg[REQ_MSG_LEN];
	struct store_txn *t;
	struct actor a;
	struct request out;
	json_t *counted = NULL;
	int64_t starts = f->starts_at, ends = f->expires_at;
	int r;

	alice = person("alice", g_dev);
	bob = person("bob", g_approvers);
	if (action == RA_EXPIRE)
		ends = NOW - 1;		/* past its end */
	*serial = stored_in(f->state, starts, ends, quorum);
	if (requested_start != 0) {
		/* approve: the window asked for starts later */
		cr_assert_eq(store_begin(st, true, &t), 0);
		cr_assert_eq(reqstore_load(t, *serial, &out), 0);
		struct request nr = out;
		nr.requested_start = requested_start;
		cr_assert_eq(reqstore_update(t, &out, &nr), 0);
		cr_assert_eq(store_commit(t), 0);
	}
	cr_assert_eq(store_begin(st, true, &t), 0);
	switch (action) {
	case RA_CANCEL:
	case RA_REVOKE:
		a = acting(&alice);
		r = requests_transition(t, &a, *serial, action, "done", NOW,
		    &out, msg);
		break;
	case RA_APPROVE:
		a = acting(&bob);
		r = requests_approve(t, &a, *serial, &in, NOW, &out, &counted,
		    msg);
		break;
	case RA_DENY:
		a = acting(&bob);
		r = requests_deny(t, &a, *serial, &in, NOW, &out, msg);
		break;
	default:	/* RA_START, RA_EXPIRE: the sweep */
		r = requests_sweep(t, serial, 1, NOW);
		break;
	}
	json_decref(counted);
	if (r == 0)
		cr_assert_eq(store_commit(t), 0);
	else
		store_abort(t);
	return r;
}

/* What the lifecycle says action does to f, as (to, audit). */
static const char *
want_move(enum req_action action, const struct fixture *f, int quorum,
    int64_t requested_start, enum req_state *to)
{
	bool started = f->starts_at <= NOW;

	switch (action) {
	case RA_APPROVE:
		*to = quorum > 1 ? ST_PENDING : requested_start > NOW ?
		    ST_SCHEDULED : ST_ACTIVE;
		break;
	case RA_CANCEL:
		*to = ST_CANCELLED;
		if (f->state == ST_SCHEDULED && started)
			return NULL;	/* only before it starts */
		break;
	case RA_REVOKE:
		*to = ST_REVOKED;
		break;
	case RA_DENY:
		*to = ST_DENIED;
		break;
	case RA_START:
		*to = ST_ACTIVE;
		if (f->state == ST_SCHEDULED && !started)
			return NULL;	/* not due yet */
		break;
	default:
		*to = ST_EXPIRED;
		break;
	}
	return expected_audit(f->state, action, *to);
}

static void
check_move(enum req_action action, const struct fixture *f, int quorum,
    int64_t requested_start)
{
	struct snap before, after;
	enum req_state to;
	const char *audit = want_move(action, f, quorum, requested_start, &to);
	uint64_t serial;
	int r;

	snapshot(0, &before);
	r = run(action, f, quorum, requested_start, &serial);
	snapshot(serial, &after);
	if (audit != NULL) {
		cr_expect_eq(r, 0, "%s of %s refused (%d)", audit, f->name, r);
		cr_expect_eq(after.r.state, to, "%s of %s: state %s, not %s",
		    audit, f->name, req_state_name(after.r.state),
		    req_state_name(to));
		cr_expect_gt(after.seq, before.seq, "%s of %s: no audit record",
		    audit, f->name);
		cr_expect_str_eq(after.action, audit, "%s of %s: recorded %s",
		    audit, f->name, after.action);
		return;
	}
	/* refused: the function says so (the sweep just passes it by) and
	 * nothing changed */
	if (action != RA_START && action != RA_EXPIRE)
		cr_expect_neq(r, 0, "action %d on %s went through", action,
		    f->name);
	cr_expect_eq(after.r.state, f->state, "action %d on %s changed it to "
	    "%s", action, f->name, req_state_name(after.r.state));
	cr_expect_eq(after.seq, before.seq, "action %d on %s was audited",
	    action, f->name);
}

Test(requests, every_move)
{
	static const enum req_action actions[] = { RA_CANCEL, RA_REVOKE,
		RA_APPROVE, RA_DENY, RA_START, RA_EXPIRE };
	size_t i, j;

	for (i = 0; i < NFIXTURES; i++)
		for (j = 0; j < sizeof(actions) / sizeof(actions[0]); j++)
			check_move(actions[j], &fixtures[i], 1, 0);
}

Test(requests, approvals_short_of_quorum_and_scheduled)
{
	size_t i;

	for (i = 0; i < NFIXTURES; i++) {
		check_move(RA_APPROVE, &fixtures[i], 2, 0);
		check_move(RA_APPROVE, &fixtures[i], 1, NOW + 900);
	}
}

/* A refusal by the rules around the table changes nothing either. */
Test(requests, refused_by_who_changes_nothing)
{
	struct ident mallory = person("mallory", g_dev);
	struct ident alice = person("alice", g_approvers);
	struct decide_in in = { .rule_authors_may_approve = true,
		.reason = "x" };
	char msg[REQ_MSG_LEN];
	struct snap before, after;
	struct store_txn *t;
	struct request out;
	struct actor a;
	json_t *counted = NULL;
	uint64_t serial = stored_in(ST_ACTIVE, NOW - 10, NOW + 3600, 1);

	snapshot(serial, &before);
	cr_assert_eq(store_begin(st, true, &t), 0);
	a = acting(&mallory);
	cr_expect_eq(requests_transition(t, &a, serial, RA_REVOKE, NULL, NOW,
	    &out, msg), BRK_ERR_DENIED);
	cr_expect(strstr(msg, "may not revoke") != NULL, "%s", msg);
	store_abort(t);
	serial = stored_in(ST_PENDING, 0, NOW + 3600, 1);
	cr_assert_eq(store_begin(st, true, &t), 0);
	a = acting(&alice);	/* her own request */
	cr_expect_eq(requests_approve(t, &a, serial, &in, NOW, &out, &counted,
	    msg), BRK_ERR_DENIED);
	cr_expect(strstr(msg, "requester-not-approver") != NULL, "%s", msg);
	a = acting(&mallory);	/* not an approver */
	cr_expect_eq(requests_deny(t, &a, serial, &in, NOW, &out, msg),
	    BRK_ERR_DENIED);
	cr_expect(strstr(msg, "eligible-approvers") != NULL, "%s", msg);
	store_abort(t);
	json_decref(counted);
	snapshot(serial, &after);
	cr_expect_eq(after.seq, before.seq);
	cr_expect_eq(after.r.state, ST_PENDING);
}

static struct policy *
small_policy(void)
{
	static const char text[] = "{\"version\":1,\"rules\":[{\"id\":\"r\","
	    "\"when\":{\"groups\":[\"dev\"],\"resources\":[\"host:*\"]},"
	    "\"grant\":\"auto\",\"max_ttl\":\"1h\"}]}";
	struct policy_error err;
	struct policy *p = NULL;

	cr_assert_eq(policy_parse(text, strlen(text), &p, &err), 0, "%s",
	    err.msg);
	return p;
}

Test(requests, create_only_into_a_first_state)
{
	struct policy *p = small_policy();
	struct ident alice = person("alice", g_dev);
	struct actor a = acting(&alice);
	struct create_in in = { .policy = p, .fresh = true };
	char msg[REQ_MSG_LEN];
	struct snap before, after;
	struct store_txn *t;
	struct request rec, out;
	const char *want;
	bool dup;
	int s, r;

	for (s = 0; s < ST__COUNT; s++) {
		memset(&rec, 0, sizeof(rec));
		rec.state = (enum req_state)s;
		snprintf(rec.user, sizeof(rec.user), "alice");
		snprintf(rec.caller, sizeof(rec.caller), "alice");
		snprintf(rec.resource, sizeof(rec.resource), "host:web-%d", s);
		snprintf(rec.role, sizeof(rec.role), "alice");
		rec.created_at = NOW;
		rec.starts_at = s == ST_SCHEDULED ? NOW + 60 : NOW;
		rec.expires_at = rec.starts_at + 600;
		rec.ttl = 600;
		rec.quorum = 1;
		snprintf(rec.approver_groups, sizeof(rec.approver_groups),
		    "approvers");
		want = expected_audit(REQ_NEW, RA_CREATE, (enum req_state)s);
		snapshot(0, &before);
		cr_assert_eq(store_begin(st, true, &t), 0);
		r = requests_create(t, &a, &in, &rec, &out, NOW, &dup, msg);
		if (r == 0)
			cr_assert_eq(store_commit(t), 0);
		else
			store_abort(t);
		snapshot(r == 0 ? out.serial : 0, &after);
		if (want != NULL) {
			cr_expect_eq(r, 0, "create %s: %d %s",
			    req_state_name((enum req_state)s), r, msg);
			cr_expect_eq(after.r.state, s);
			cr_expect_str_eq(after.action, want);
		} else {
			cr_expect_eq(r, BRK_ERR_STATE, "create %s went through",
			    req_state_name((enum req_state)s));
			cr_expect_eq(after.seq, before.seq);
		}
	}
	policy_free(p);
}

/*
 * A writer batch that runs again (writer.h) calls requests_create() again
 * with what the policy decided, after other commits may have changed the
 * store: its answer comes from that input and the store alone.  The first
 * run answers with alice's open grant (a repeat); that grant is revoked;
 * the second run, handed the first run's answer as the output to fill,
 * stores a new grant instead of bringing the revoked one back.  Fails when
 * the output starts from what the caller left in it (checked: with
 * requests_create()'s copy of decided dropped, the second run stored a
 * new grant with the revoked one's window, expires_at NOW + 3000).
 */
Test(requests, create_run_again_answers_from_its_input)
{
	struct policy *p = small_policy();
	struct ident alice = person("alice", g_dev);
	struct actor a = acting(&alice);
	struct create_in in = { .policy = p };
	struct request decided, out, ended;
	char msg[REQ_MSG_LEN];
	struct store_txn *t;
	uint64_t open = stored_in(ST_ACTIVE, NOW - 10, NOW + 3000, 1);
	bool dup;

	alices(ST_ACTIVE, &decided);
	decided.created_at = decided.starts_at = NOW;
	decided.expires_at = NOW + 600;
	decided.ttl = decided.requested_ttl = 600;
	decided.quorum = 1;
	out = decided; /* as the request op's reply record starts */
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(
	    requests_create(t, &a, &in, &decided, &out, NOW, &dup, msg), 0,
	    "%s", msg);
	cr_expect(dup, "the open grant answers the first run");
	cr_expect_eq(out.serial, open);
	store_abort(t); /* the batch runs again, after the revoke below */
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(requests_transition(
			 t, &a, open, RA_REVOKE, "done", NOW, &ended, msg),
	    0, "%s", msg);
	cr_assert_eq(store_commit(t), 0);

	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(
	    requests_create(t, &a, &in, &decided, &out, NOW, &dup, msg), 0,
	    "%s", msg);
	cr_assert_eq(store_commit(t), 0);
	cr_expect_not(dup, "the revoked grant answers nothing");
	cr_expect_neq(out.serial, open);
	cr_expect_eq(out.state, ST_ACTIVE);
	cr_expect_eq(out.ended_at, 0);
	cr_expect_str_eq(out.end_reason, "");
	cr_expect_eq(out.expires_at, NOW + 600);
	cr_expect_eq(decided.serial, 0, "the input is left as it was");
	policy_free(p);
}

/*
 * The other state in the domain: a review is acknowledged once, never by
 * its own user; a flag in force is weakened only by an admin.  Fails when
 * the rules go: checked by dropping the no-self-review test from
 * reviews_acknowledge() (alice's ack went through) and the severity test
 * from flags_change() (bob's weaker flag replaced the block).
 */
Test(requests, review_and_flag_rules)
{
	struct ident alice = person("alice", g_dev);
	struct ident bob = person("bob", g_approvers);
	struct actor aa = acting(&alice), ab = acting(&bob);
	char msg[REQ_MSG_LEN];
	struct store_txn *t;
	struct request r;
	struct flag f, out;
	struct snap before, after;

	memset(&r, 0, sizeof(r));
	r.serial = 5;
	snprintf(r.user, sizeof(r.user), "alice");
	snprintf(r.caller, sizeof(r.caller), "alice");
	snprintf(r.resource, sizeof(r.resource), "host:db-1");
	snprintf(r.role, sizeof(r.role), "alice");
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(reviews_open(t, &r, NOW), 0);
	cr_assert_eq(store_commit(t), 0);
	snapshot(0, &before);
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_expect_eq(reviews_acknowledge(t, &aa, 5, "fine", NOW, msg),
	    BRK_ERR_DENIED);
	cr_expect(strstr(msg, "no-self-review") != NULL, "%s", msg);
	store_abort(t);
	snapshot(0, &after);
	cr_expect_eq(after.seq, before.seq);
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_expect_eq(reviews_acknowledge(t, &ab, 5, "fine", NOW, msg), 0,
	    "%s", msg);
	cr_expect_eq(reviews_acknowledge(t, &ab, 5, "again", NOW, msg),
	    BRK_ERR_STATE);
	cr_expect_eq(reviews_acknowledge(t, &ab, 6, "none", NOW, msg),
	    BRK_ERR_NOTFOUND);
	cr_assert_eq(store_commit(t), 0);
	snapshot(0, &after);
	cr_expect_str_eq(after.action, "review.acked");

	memset(&f, 0, sizeof(f));
	snprintf(f.user, sizeof(f.user), "mallory");
	snprintf(f.reason, sizeof(f.reason), "odd logins");
	snprintf(f.by, sizeof(f.by), "bob");
	f.severity = FLAG_BLOCK;
	f.at = NOW;
	f.until = NOW + 3600;
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_expect_eq(flags_change(t, &ab, false, false, &f, &out, NOW, msg), 0);
	f.severity = FLAG_REVIEW;	/* weaker */
	cr_expect_eq(flags_change(t, &ab, false, false, &f, &out, NOW, msg),
	    BRK_ERR_DENIED);
	cr_expect(strstr(msg, "as severe") != NULL, "%s", msg);
	cr_expect_eq(flags_change(t, &ab, true, false, &f, &out, NOW, msg), 0,
	    "an admin may weaken it");
	snprintf(f.reason, sizeof(f.reason), "cleared");
	cr_expect_eq(flags_change(t, &ab, false, true, &f, &out, NOW, msg), 0);
	cr_expect_str_eq(out.reason, "odd logins", "the flag that ended");
	cr_expect_str_eq(out.end_reason, "cleared", "why it ended");
	cr_expect_str_eq(f.reason, "cleared", "the input is left as it was");
	cr_expect_eq(flags_change(t, &ab, false, true, &f, &out, NOW, msg),
	    BRK_ERR_NOTFOUND);
	cr_assert_eq(store_commit(t), 0);
	snapshot(0, &after);
	cr_expect_str_eq(after.action, "flag.removed");
}
