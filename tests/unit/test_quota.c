/*
 * test_quota.c - the counts behind the per-user limits (domain/quota.c):
 * the request rate over a sliding minute, across the minute buckets that
 * make it cheap, and the pending count.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "quota.h"
#include "reqstore.h"
#include "store.h"
#include "storetest.h"

STORE_TEST_SUITE(quota);

/* One request of user at now, as apply_create() does: the rate first,
 * the record only when under it.  Returns whether it was over. */
static bool
ask(const char *user, int64_t now, int limit, enum req_state state)
{
	struct store_txn *t;
	struct request r;
	bool over = false;

	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(quota_rate(t, user, now, limit, &over), 0);
	if (!over) {
		memset(&r, 0, sizeof(r));
		r.state = state;
		snprintf(r.user, sizeof(r.user), "%s", user);
		snprintf(r.caller, sizeof(r.caller), "%s", user);
		snprintf(r.resource, sizeof(r.resource), "host:x");
		snprintf(r.role, sizeof(r.role), "%s", user);
		r.created_at = now;
		r.expires_at = now + 3600;
		r.cert_known = true;
		cr_assert_eq(reqstore_create(t, &r), 0);
	}
	cr_assert_eq(store_commit(t), 0);
	return over;
}

/*
 * At most limit requests in any 60 seconds, whatever the bucket edges.
 * Fails when quota_rate() trusts the bucket counters alone (checked by
 * returning "over" whenever prev + cur >= limit: the request at 1060
 * went red) or counts nothing (the fourth at 1003 went red).
 */
Test(quota, rate_is_a_sliding_minute)
{
	cr_expect(!ask("alice", 1000, 3, ST_ACTIVE));
	cr_expect(!ask("alice", 1001, 3, ST_DENIED), "denied ones count too");
	cr_expect(!ask("alice", 1002, 3, ST_PENDING));
	cr_expect(ask("alice", 1003, 3, ST_ACTIVE), "a fourth in the minute");
	cr_expect(ask("alice", 1019, 3, ST_ACTIVE));
	cr_expect(!ask("bob", 1019, 3, ST_ACTIVE), "others are not slowed");
	/* the next bucket: 1000 has left the window (1000, 1060] */
	cr_expect(ask("alice", 1059, 3, ST_ACTIVE), "1000, 1001, 1002 in");
	cr_expect(!ask("alice", 1060, 3, ST_ACTIVE), "1001, 1002: room");
	cr_expect(!ask("alice", 1061, 3, ST_ACTIVE), "1002, 1060: room");
	cr_expect(ask("alice", 1061, 3, ST_ACTIVE), "1002, 1060, 1061");
	cr_expect(!ask("alice", 1063, 3, ST_ACTIVE), "1002 has left");
	/* much later: the counters start again */
	cr_expect(!ask("alice", 9000, 3, ST_ACTIVE));
	cr_expect(!ask("alice", 9001, 3, ST_ACTIVE));
	cr_expect(!ask("alice", 9002, 3, ST_ACTIVE));
	cr_expect(ask("alice", 9003, 3, ST_ACTIVE));
}

Test(quota, pending_and_recent_counts)
{
	struct store_txn *t;
	int n = -1;

	ask("carol", 2000, 100, ST_PENDING);
	ask("carol", 2001, 100, ST_ACTIVE);
	ask("carol", 2002, 100, ST_PENDING);
	ask("dave", 2003, 100, ST_PENDING);
	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_expect_eq(quota_pending(t, "carol", 2010, 20, &n), 0);
	cr_expect_eq(n, 2);
	cr_expect_eq(quota_pending(t, "carol", 2010, 1, &n), 0);
	cr_expect_eq(n, 1, "counting stops at max");
	cr_expect_eq(quota_pending(t, "carol", 9999, 20, &n), 0);
	cr_expect_eq(n, 0, "expired ones are not pending");
	cr_expect_eq(quota_recent(t, "carol", 2000, false, 10, &n), 0);
	cr_expect_eq(n, 2, "after 2000: 2001 and 2002");
	store_abort(t);
}

Test(quota, a_counter_that_does_not_decode_refuses)
{
	struct store_txn *t;
	bool over = false;

	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(store_put(t, TBL_META, "rate/erin", 9, "x", 1), 0);
	cr_expect_eq(quota_rate(t, "erin", 100, 5, &over), BRK_ERR_INVALID);
	cr_expect(over, "refused, not let through");
	store_abort(t);
}
