/*
 * test_checkcache.c - op check's remembered answers (checkcache.h): a
 * kept reply answers again only at its generation and policy version,
 * before its end and for CHECKCACHE_KEEP_MS at most, for its own user and
 * resource; a new table, or none, answers nothing.
 *
 * Fails when a rule is dropped: checked by leaving the generation out of
 * checkcache_recall()'s test (gen_moved red), the keep time (aged red)
 * and the user/resource comparison (other_pair red).
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "checkcache.h"

static struct checkcache *cc;
static json_t *reply;
static bool allowed;

static void
setup(void)
{
	cr_assert_eq(checkcache_new(&cc), 0);
	reply = json_pack("{s:b, s:s}", "allowed", 1, "reason", "grant r1");
	/* made at gen 7, policy 3, mono 1000 ms, until second 500 */
	checkcache_keep(cc, 7, 3, 1000, 500, "alice", "host:a", true, reply);
}

static void
teardown(void)
{
	checkcache_free(cc);
	json_decref(reply);
}

TestSuite(checkcache, .init = setup, .fini = teardown);

static json_t *
recall(uint64_t gen, uint64_t policy, const char *user, const char *res,
    int64_t mono, int64_t now)
{
	return checkcache_recall(
	    cc, gen, policy, user, res, mono, now, &allowed);
}

Test(checkcache, same_answer_while_nothing_moved)
{
	json_t *o = recall(7, 3, "alice", "host:a", 1500, 100);

	cr_assert_not_null(o);
	cr_assert(json_equal(o, reply));
	cr_assert(o != reply, "a copy, not the kept object");
	cr_assert(allowed);
	json_decref(o);
}

Test(checkcache, gen_moved)
{
	cr_assert_null(recall(8, 3, "alice", "host:a", 1500, 100));
}

Test(checkcache, policy_changed)
{
	cr_assert_null(recall(7, 4, "alice", "host:a", 1500, 100));
}

Test(checkcache, aged)
{
	cr_assert_null(
	    recall(7, 3, "alice", "host:a", 1000 + CHECKCACHE_KEEP_MS, 100));
}

Test(checkcache, grant_ended)
{
	cr_assert_null(recall(7, 3, "alice", "host:a", 1500, 500));
}

Test(checkcache, other_pair)
{
	cr_assert_null(recall(7, 3, "bob", "host:a", 1500, 100));
	cr_assert_null(recall(7, 3, "alice", "host:b", 1500, 100));
	/* these two share alice/host:a's slot (FNV-1a mod 1024) */
	cr_assert_null(recall(7, 3, "u2894", "host:a", 1500, 100));
	cr_assert_null(recall(7, 3, "alice", "host:1864", 1500, 100));
}

Test(checkcache, replaced_and_empty)
{
	json_t *no = json_pack("{s:b}", "allowed", 0), *o;
	struct checkcache *none = NULL;

	checkcache_keep(cc, 9, 3, 1600, 500, "alice", "host:a", false, no);
	cr_assert_null(recall(7, 3, "alice", "host:a", 1700, 100));
	o = recall(9, 3, "alice", "host:a", 1700, 100);
	cr_assert_not_null(o);
	cr_assert_not(allowed);
	json_decref(o);
	json_decref(no);
	/* generation 0 (LMDB) keeps nothing; no table answers nothing */
	checkcache_keep(cc, 0, 3, 1600, 500, "carol", "host:c", true, reply);
	cr_assert_null(recall(0, 3, "carol", "host:c", 1700, 100));
	cr_assert_null(checkcache_recall(
	    none, 9, 3, "alice", "host:a", 1700, 100, &allowed));
	checkcache_keep(none, 9, 3, 1600, 500, "alice", "host:a", true, reply);
	checkcache_free(none);
}
