/*
 * test_writer.c - the writer thread: batching, a failing mutation rolled
 * back alone, and no acknowledgement before the sync that makes a batch
 * durable (the empty-commit case).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "storetest.h"
#include "writer.h"

STORE_TEST_SUITE(writer);

/* A gate the first mutation waits at, so that the test can queue more
 * behind it while the writer is busy. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_reached;

struct op {
	uint64_t key;
	int fail;		/* returned after the put, if not 0 */
	bool wait;		/* wait at the gate first */
	int rc;			/* as done was told */
	bool done;
	uint64_t committed, durable;	/* the store's, when done ran */
	uint64_t syncs;
	int applies;		/* apply ran this many times */
	int applied;		/* the applied callback ran this many times */
	int applied_at_done;	/* ... of which before done */
};

static int
apply_put(struct store_txn *t, void *arg)
{
	struct op *op = arg;
	uint8_t k[8];
	int r;

	op->applies++;
	if (op->wait) {
		pthread_mutex_lock(&gate_lock);
		gate_reached = true;
		pthread_cond_broadcast(&gate_cond);
		while (!gate_open)
			pthread_cond_wait(&gate_cond, &gate_lock);
		pthread_mutex_unlock(&gate_lock);
	}
	store_be64(k, op->key);
	if (op->key != 0 && (r = store_put(t, TBL_META, k, 8, "v", 1)) != 0)
		return r;
	return op->fail;
}

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int ndone;

static void
done_put(void *arg, int rc)
{
	struct op *op = arg;

	pthread_mutex_lock(&done_lock);
	op->rc = rc;
	op->done = true;
	op->applied_at_done = op->applied;
	store_durability(st, &op->committed, &op->durable);
	op->syncs = store_syncs(st);
	ndone++;
	pthread_cond_broadcast(&done_cond);
	pthread_mutex_unlock(&done_lock);
}

static void
applied_put(void *arg)
{
	((struct op *)arg)->applied++;
}

static void
wait_done(int n)
{
	pthread_mutex_lock(&done_lock);
	while (ndone < n)
		pthread_cond_wait(&done_cond, &done_lock);
	pthread_mutex_unlock(&done_lock);
}

static void
wait_gate_reached(void)
{
	pthread_mutex_lock(&gate_lock);
	while (!gate_reached)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void
open_gate(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

static bool
stored(uint64_t key)
{
	struct store_txn *t;
	struct store_val v;
	uint8_t k[8];
	int r;

	store_be64(k, key);
	cr_assert_eq(store_begin(st, false, &t), 0);
	r = store_get(t, TBL_META, k, 8, &v);
	store_abort(t);
	return r == 0;
}

/* Queue first (which waits at the gate, keeping the writer busy), then
 * n more behind it, then open the gate; each with applied (NULL: none). */
static void
run_behind_first(struct writer *w, struct op *first, struct op *ops, int n,
    writer_applied_fn applied)
{
	int i;

	cr_assert_eq(
	    writer_submit_applied(w, apply_put, applied, done_put, first), 0);
	wait_gate_reached();
	for (i = 0; i < n; i++)
		cr_assert_eq(writer_submit_applied(
				 w, apply_put, applied, done_put, &ops[i]),
		    0);
	open_gate();
	wait_done(n + 1);
}

/* Fails when the writer takes one mutation at a time (checked by
 * passing take_batch() max 1: 6 commits, batch 1). */
Test(writer, what_queues_while_busy_goes_into_one_commit)
{
	struct writer *w;
	struct op first = { .key = 100, .wait = true }, ops[5];
	uint64_t commits, mutations, max_batch;
	int i;

	memset(ops, 0, sizeof(ops));
	for (i = 0; i < 5; i++)
		ops[i].key = 200 + (uint64_t)i;
	cr_assert_eq(writer_new(st, true, &w), 0);
	run_behind_first(w, &first, ops, 5, NULL);
	writer_stats(w, &commits, &mutations, &max_batch);
	cr_assert_eq(commits, 2, "the first alone, then the five together");
	cr_assert_eq(mutations, 6);
	cr_assert_eq(max_batch, 5);
	writer_free(w);
	cr_assert_eq(first.rc, 0);
	cr_assert(stored(100));
	for (i = 0; i < 5; i++) {
		cr_assert_eq(ops[i].rc, 0);
		cr_assert(stored(ops[i].key));
	}
}

/*
 * Another broker's writer holds the table lock (PostgreSQL; a second
 * store here): the first mutation submitted finds this writer waiting
 * for it, and what is submitted meanwhile joins the same commit.  Fails
 * when the writer takes its batch before it begins (checked: 2 commits,
 * the first mutation alone: red).
 */
Test(writer, what_queues_while_another_broker_writes_goes_into_one_commit)
{
	const char *pg = getenv("BROKER_TEST_PG_CONNINFO");
	struct brk_error err;
	struct store *other = NULL;
	struct store_txn *t;
	struct writer *w;
	struct op ops[6];
	uint64_t commits, mutations, max_batch;
	int i;

	memset(ops, 0, sizeof(ops));
	if (pg == NULL) {
		/* LMDB: one writer, nobody else holds a lock, and a write
		 * transaction never conflicts (t_pgstore runs this test on
		 * PostgreSQL) */
		cr_assert_eq(store_begin(st, true, &t), 0);
		cr_assert_not(store_may_conflict(t));
		cr_assert_not(store_conflicted(t));
		store_abort(t);
		return;
	}
	for (i = 0; i < 6; i++)
		ops[i].key = 400 + (uint64_t)i;
	cr_assert_eq(store_open_pg(pg, 5000, &other, &err), 0, "%s", err.msg);
	cr_assert_eq(store_begin(other, true, &t), 0);
	cr_assert_eq(writer_new(st, true, &w), 0);
	cr_assert_eq(writer_submit(w, apply_put, done_put, &ops[0]), 0);
	usleep(300 * 1000); /* the writer waits at its begin */
	for (i = 1; i < 6; i++)
		cr_assert_eq(writer_submit(w, apply_put, done_put, &ops[i]),
		    0);
	store_abort(t);
	wait_done(6);
	writer_stats(w, &commits, &mutations, &max_batch);
	cr_assert_eq(commits, 1, "one commit, not %lu",
	    (unsigned long)commits);
	cr_assert_eq(max_batch, 6);
	writer_free(w);
	for (i = 0; i < 6; i++) {
		cr_assert_eq(ops[i].rc, 0);
		cr_assert(stored(ops[i].key));
	}
	store_free(other);
}

/* Fails when a failing mutation's nested transaction is committed rather
 * than aborted (checked: key 302 was stored) or when its failure aborts
 * the whole batch (checked: 301 and 303 missing). */
Test(writer, a_failing_mutation_is_rolled_back_alone)
{
	struct writer *w;
	struct op first = { .key = 100, .wait = true }, ops[3] = {
		{ .key = 301 },
		{ .key = 302, .fail = BRK_ERR_DENIED },
		{ .key = 303 },
	};
	uint64_t commits, mutations, max_batch;

	cr_assert_eq(writer_new(st, true, &w), 0);
	run_behind_first(w, &first, ops, 3, NULL);
	writer_stats(w, &commits, &mutations, &max_batch);
	cr_assert_eq(commits, 2);
	cr_assert_eq(max_batch, 3, "the failure shared the batch");
	writer_free(w);
	cr_assert_eq(ops[0].rc, 0);
	cr_assert_eq(ops[1].rc, BRK_ERR_DENIED);
	cr_assert_eq(ops[2].rc, 0);
	cr_assert(stored(301));
	cr_assert_not(stored(302), "the failed mutation left nothing");
	cr_assert(stored(303));
}

/*
 * The empty-commit hole: a held batch (committed, meta page not synced)
 * followed by a batch that writes nothing.  LMDB skips that commit, sync
 * included, so the held batch must be synced explicitly before it is
 * acknowledged.  Fails when writer_main() finishes the held batch without
 * a sync after such a commit (checked by treating every successful commit
 * as synced, the old code: done ran with durable < committed and one sync
 * fewer: red).
 */
Test(writer, a_held_batch_is_synced_even_if_the_next_commit_writes_nothing)
{
	struct writer *w;
	struct op first = { .key = 100, .wait = true }, ops[2] = {
		{ .key = 0, .fail = BRK_ERR_STATE },	/* writes nothing */
		{ .key = 0, .fail = BRK_ERR_DENIED },
	};
	uint64_t before = store_syncs(st);

	cr_assert_eq(writer_new(st, true, &w), 0);
	run_behind_first(w, &first, ops, 2, NULL);
	writer_free(w);
	cr_assert_eq(first.rc, 0);
	cr_assert_eq(ops[0].rc, BRK_ERR_STATE);
	cr_assert_eq(ops[1].rc, BRK_ERR_DENIED);
	cr_assert_gt(first.committed, 0);
	cr_assert_eq(first.durable, first.committed,
	    "acknowledged before its commit was durable (durable %llu < "
	    "committed %llu)", (unsigned long long)first.durable,
	    (unsigned long long)first.committed);
	/* its own commit's sync covered what came before; a second sync
	 * covered its meta page */
	cr_assert_geq(first.syncs, before + 2);
	cr_assert(stored(100));
}

/* Without group commit every commit syncs its meta page too: done runs
 * with the commit durable and no held batch. */
Test(writer, without_group_commit_each_commit_is_durable_at_once)
{
	struct writer *w;
	struct op first = { .key = 100, .wait = true }, ops[1] = {
		{ .key = 401 },
	};

	cr_assert_eq(writer_new(st, false, &w), 0);
	run_behind_first(w, &first, ops, 1, NULL);
	writer_free(w);
	cr_assert_eq(first.durable, first.committed);
	cr_assert_eq(ops[0].durable, ops[0].committed);
	cr_assert(stored(401));
}

/*
 * Without a failure each mutation is applied once; with one, the batch
 * runs again from the start, and the applied callback still runs once
 * for each mutation that succeeded, before its done, and never for the
 * one that failed.  Fails when applied runs in the first pass as well
 * (checked by calling it right after each apply there too: the first
 * mutation counted 2).
 */
Test(writer, applied_runs_once_for_each_mutation_that_counts)
{
	struct writer *w;
	struct op first = { .key = 100, .wait = true }, ops[3] = {
		{ .key = 501 },
		{ .key = 502, .fail = BRK_ERR_DENIED },
		{ .key = 503 },
	}, lone = { .key = 504 };

	cr_assert_eq(writer_new(st, true, &w), 0);
	run_behind_first(w, &first, ops, 3, applied_put);
	cr_assert_eq(first.applies, 1, "the first batch had no failure");
	cr_assert_eq(ops[0].applies, 2, "the failure ran the batch again");
	cr_assert_eq(ops[2].applies, 1, "the first run stopped at 502");
	cr_assert_eq(first.applied, 1);
	cr_assert_eq(ops[0].applied, 1, "applied %d times", ops[0].applied);
	cr_assert_eq(ops[1].applied, 0, "not for the one that failed");
	cr_assert_eq(ops[2].applied, 1);
	cr_assert_eq(ops[0].applied_at_done, 1, "applied before done");
	cr_assert_eq(ops[0].rc, 0);
	cr_assert_eq(ops[1].rc, BRK_ERR_DENIED);
	cr_assert_eq(ops[2].rc, 0);
	cr_assert(stored(501));
	cr_assert_not(stored(502));
	cr_assert(stored(503));
	cr_assert_eq(writer_submit(w, apply_put, done_put, &lone), 0);
	wait_done(5);
	cr_assert_eq(lone.applies, 1);
	cr_assert_eq(lone.applied, 0, "writer_submit() has no applied");
	writer_free(w);
}
