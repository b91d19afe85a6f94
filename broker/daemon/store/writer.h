/*
 * writer.h - the single writer thread and its group commit.
 *
 * Every mutation is queued here.  The writer takes everything queued, runs
 * the mutations in one write transaction (a failing mutation is rolled back
 * alone: the batch then runs again from the start, each mutation in a
 * nested transaction of its own), commits once and syncs once, and only
 * then calls each mutation's done callback with its result.  With group
 * commit off it commits (and syncs) after every mutation: the naive
 * baseline.
 *
 * So an apply callback may run more than once for one mutation, each time
 * on the store as it was before the batch: it must start from the
 * mutation's input, never from what an earlier run wrote into it (the
 * domain's calls take a const input and a separate output for that), and
 * must not do what cannot be done twice outside the store.  That goes
 * into the applied callback, called once the batch's mutations are
 * applied for good, just before the commit, for each one that
 * succeeded.  With a store whose commits may lose a conflict
 * (store_may_conflict(), PostgreSQL) even that can run again: the whole
 * batch does, after the conflict.
 *
 * The invariant: when a done callback is called with rc 0, the mutation's
 * changes are on disk, and so is every change the mutation read (a power
 * loss after the callback cannot undo them), except
 *   - with the test knob BROKER_STORE_UNSAFE_NOSYNC (store.c), which turns
 *     every sync into nothing so that the power-loss test can show that it
 *     detects loss;
 *   - when the disk lies about a completed sync (a volatile write cache
 *     without flushes, or fdatasync on a filesystem that does not honour it).
 * With group commit, a batch's commit syncs its data but not its meta page,
 * so the batch is held, its callbacks not yet called, until a later sync:
 * the next batch's commit if that commit wrote and synced
 * (store_commit_ex() says so), else an explicit store_sync() (the next
 * batch wrote nothing, its commit failed, or nothing else was queued).  A
 * callback with rc != 0 promises nothing: the mutation was rolled back,
 * or (BRK_ERR_IO) it may or may not survive a power loss, except that it
 * is never half applied.
 *
 * Readers see a batch only once it is durable (store.h): between its commit
 * and its sync a batch is visible to nobody but the writer.
 */
#ifndef BRK_WRITER_H
#define BRK_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct writer;

/* Runs on the writer thread inside the batch's write transaction (or a
 * nested one); maybe more than once (above). */
typedef int (*writer_apply_fn)(struct store_txn *t, void *arg);
/* Runs on the writer thread before the commit, after the apply that
 * counts succeeded (above). */
typedef void (*writer_applied_fn)(void *arg);
/* Runs on the writer thread after the commit and its sync; rc is the final
 * result (see the invariant above). */
typedef void (*writer_done_fn)(void *arg, int rc);

int writer_new(struct store *s, bool group_commit, struct writer **out);

/* Stops the thread after it has finished what is queued; NULL is fine. */
void writer_free(struct writer *w);

/* Queue a mutation; thread-safe.  BRK_ERR_NOMEM or BRK_ERR_STATE (stopped). */
int writer_submit(
    struct writer *w, writer_apply_fn apply, writer_done_fn done, void *arg);
/* The same with an applied callback (NULL: none). */
int writer_submit_applied(struct writer *w, writer_apply_fn apply,
    writer_applied_fn applied, writer_done_fn done, void *arg);

/* Queue and wait for the result (for start-up and maintenance work). */
int writer_run(struct writer *w, writer_apply_fn apply, void *arg);

/* Counters for metrics: commits, mutations, and the largest batch. */
void writer_stats(struct writer *w, uint64_t *commits, uint64_t *mutations,
    uint64_t *max_batch);

/* Time spent applying and committing batches (total, and the longest one),
 * in nanoseconds, for metrics. */
void writer_latency(struct writer *w, uint64_t *total_ns, uint64_t *max_ns);

#endif
