/*
 * writer.c - one thread owns every write transaction.
 *
 * Batching is what makes durable writes fast: a sync costs the same for one
 * mutation as for sixty-four, so everything that queued up while the last
 * sync ran goes into the next transaction.
 */
#include "writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

#define BATCH_MAX 1024
/* A batch that lost a serialization conflict to another broker
 * (PostgreSQL) runs again whole, at most this many times. */
#define CONFLICT_RETRIES 20

struct wop {
	writer_apply_fn apply;
	writer_applied_fn applied;
	writer_done_fn done;
	void *arg;
	int rc;
	struct wop *next;
};

struct writer {
	struct store *store;
	bool group_commit;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct wop *head, *tail;
	bool stopping;
	uint64_t commits, mutations, max_batch;
	uint64_t commit_ns, commit_ns_max; /* metrics: apply + commit */
};

/* Take up to max queued mutations off the queue, in order. */
static struct wop *
take_batch(struct writer *w, size_t max, size_t *n)
{
	struct wop *first, *last;

	*n = 0;
	first = last = w->head;
	if (first == NULL)
		return NULL;
	*n = 1;
	while (last->next != NULL && *n < max) {
		last = last->next;
		(*n)++;
	}
	w->head = last->next;
	if (w->head == NULL)
		w->tail = NULL;
	last->next = NULL;
	return first;
}

/*
 * Apply the mutations of batch in txn, in order: each straight in it
 * (alone = false), stopping at the first that fails, since what it wrote
 * before failing cannot be taken out; or each in a nested transaction of
 * its own, rolled back alone when it fails.  Whether all succeeded.
 */
static bool
apply_ops(struct wop *batch, struct store_txn *txn, bool alone)
{
	struct store_txn *child;
	struct wop *op;
	bool all = true;

	for (op = batch; op != NULL; op = op->next) {
		if (!alone) {
			if ((op->rc = op->apply(txn, op->arg)) != 0)
				return false;
			continue;
		}
		if ((op->rc = store_child(txn, &child)) == 0) {
			op->rc = op->apply(child, op->arg);
			if (op->rc == 0)
				op->rc = store_commit(child);
			else
				store_abort(child);
		}
		all = all && op->rc == 0;
	}
	return all;
}

/*
 * Apply a batch in one transaction and commit it; *synced as
 * store_commit_ex() says.  BRK_ERR_BUSY: it lost a conflict and was rolled
 * back whole.  txn: begun already (begin_rc its store_begin()), or NULL.
 * A nested transaction costs each mutation 4 to 6 us of the writer's
 * CPU (LMDB allocates 3 MB for it and merges its pages back), so the
 * batch first runs without them, and only when one of its mutations
 * fails does it run again from the start, each mutation in its own.
 */
static int
apply_once(struct writer *w, struct wop *batch, struct store_txn *txn,
    int begin_rc, bool *synced)
{
	struct wop *op;
	int rc = begin_rc;

	*synced = false;
	if (rc == 0 && txn == NULL)
		rc = store_begin(w->store, true, &txn);
	if (rc == 0 && !apply_ops(batch, txn, false) &&
	    !store_conflicted(txn)) {
		store_abort(txn);
		txn = NULL;
		if ((rc = store_begin(w->store, true, &txn)) == 0)
			(void)apply_ops(batch, txn, true);
	}
	if (rc != 0) {
		for (op = batch; op != NULL; op = op->next)
			op->rc = rc;
		return rc;
	}
	if (store_conflicted(txn)) {
		/* what the ops read may be stale: nothing of it counts */
		store_abort(txn);
		return BRK_ERR_BUSY;
	}
	for (op = batch; op != NULL; op = op->next)
		if (op->rc == 0 && op->applied != NULL)
			op->applied(op->arg);
	rc = store_commit_ex(txn, synced);
	if (rc != 0 && rc != BRK_ERR_BUSY) {
		log_error("event=commit_failed error=\"%s\"", brk_strerror(rc));
		for (op = batch; op != NULL; op = op->next)
			if (op->rc == 0)
				op->rc = rc;
	}
	return rc;
}

/*
 * Apply a batch; one that lost a serialization conflict (another broker
 * wrote what it read: a request both approve, a counter, the audit chain
 * head) runs again, after a short random pause so that two brokers do not
 * collide in step.  Only a write transaction of PostgreSQL conflicts.
 */
static int
apply_batch(struct writer *w, struct wop *batch, struct store_txn *txn,
    int begin_rc, bool *synced)
{
	struct timespec ts;
	struct wop *op;
	int rc, i;

	for (i = 0;; i++) {
		rc = apply_once(w, batch, txn, begin_rc, synced);
		txn = NULL; /* a run again begins anew */
		begin_rc = 0;
		if (rc != BRK_ERR_BUSY)
			return rc;
		if (i == CONFLICT_RETRIES) {
			log_error("event=commit_failed error=\"serialization "
				  "conflicts %d times\"",
			    i + 1);
			for (op = batch; op != NULL; op = op->next)
				op->rc = BRK_ERR_BUSY;
			return rc;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(random() % 2000 + 200) * 1000L * (i + 1);
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_nsec = 999999999L;
		nanosleep(&ts, NULL);
	}
}

/* Tell each mutation of a durable batch its result; sync_rc != 0 means
 * the batch could not be made durable after all. */
static void
finish(struct wop *batch, int sync_rc)
{
	struct wop *op, *next;

	for (op = batch; op != NULL; op = next) {
		next = op->next;
		if (op->rc == 0)
			op->rc = sync_rc;
		if (op->done != NULL)
			op->done(op->arg, op->rc);
		free(op);
	}
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * With group commit on, commits sync their data but not their meta page
 * (store_set_lazy_meta): a batch is held until a later sync has made it
 * durable.  That is the next commit only if that commit synced: one that
 * wrote nothing (every op in it failed, a sweep with nothing due) is
 * skipped by the store, sync included, so the held batch is then synced
 * here.  The invariant is in writer.h.
 */
static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct wop *batch, *held = NULL;
	struct store_txn *txn;
	uint64_t t0, took;
	bool synced;
	size_t n;
	int rc, brc;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (w->head == NULL && !w->stopping && held == NULL)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->head == NULL) {
			pthread_mutex_unlock(&w->lock);
			if (held == NULL)
				break; /* stopping, and nothing owed */
			finish(held, store_sync(w->store));
			held = NULL;
			continue;
		}
		/* begin, then take the batch: on PostgreSQL the begin
		 * waits while another broker's writer holds the table lock,
		 * and what queued meanwhile joins this batch instead of
		 * waiting for the next one (the queue is not empty: only
		 * this thread takes from it) */
		pthread_mutex_unlock(&w->lock);
		t0 = now_ns();
		txn = NULL;
		brc = store_begin(w->store, true, &txn);
		pthread_mutex_lock(&w->lock);
		batch = take_batch(w, w->group_commit ? BATCH_MAX : 1, &n);
		w->commits++;
		w->mutations += n;
		if (n > w->max_batch)
			w->max_batch = n;
		pthread_mutex_unlock(&w->lock);
		rc = apply_batch(w, batch, txn, brc, &synced);
		took = now_ns() - t0; /* metrics (ops_metrics.c) */
		pthread_mutex_lock(&w->lock);
		w->commit_ns += took;
		if (took > w->commit_ns_max)
			w->commit_ns_max = took;
		pthread_mutex_unlock(&w->lock);
		if (held != NULL) /* durable only if this commit synced */
			finish(held, synced ? 0 : store_sync(w->store));
		held = NULL;
		if (w->group_commit && rc == 0)
			held = batch; /* committed, not durable: readers wait */
		else /* synced in full (meta page with O_DSYNC), wrote
			 * nothing after durable commits, or failed: each op
			 * has its rc */
			finish(batch, 0);
	}
	return NULL;
}

int
writer_new(struct store *s, bool group_commit, struct writer **out)
{
	struct writer *w;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return BRK_ERR_NOMEM;
	w->store = s;
	w->group_commit = group_commit;
	if (group_commit && store_set_lazy_meta(s, true) != 0) {
		free(w);
		return BRK_ERR_INTERNAL;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		free(w);
		return BRK_ERR_INTERNAL;
	}
	*out = w;
	return 0;
}

void
writer_free(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

int
writer_submit(
    struct writer *w, writer_apply_fn apply, writer_done_fn done, void *arg)
{
	return writer_submit_applied(w, apply, NULL, done, arg);
}

int
writer_submit_applied(struct writer *w, writer_apply_fn apply,
    writer_applied_fn applied, writer_done_fn done, void *arg)
{
	struct wop *op;
	int r = 0;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return BRK_ERR_NOMEM;
	op->apply = apply;
	op->applied = applied;
	op->done = done;
	op->arg = arg;
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		r = BRK_ERR_STATE;
		free(op);
	} else {
		if (w->tail != NULL)
			w->tail->next = op;
		else
			w->head = op;
		w->tail = op;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool finished;
	int rc;
	writer_apply_fn apply;
	void *arg;
};

static int
waiter_apply(struct store_txn *t, void *arg)
{
	struct waiter *wt = arg;

	return wt->apply(t, wt->arg);
}

static void
waiter_done(void *arg, int rc)
{
	struct waiter *wt = arg;

	pthread_mutex_lock(&wt->lock);
	wt->rc = rc;
	wt->finished = true;
	pthread_cond_signal(&wt->cond);
	pthread_mutex_unlock(&wt->lock);
}

int
writer_run(struct writer *w, writer_apply_fn apply, void *arg)
{
	struct waiter wt = { .apply = apply, .arg = arg };
	int r;

	pthread_mutex_init(&wt.lock, NULL);
	pthread_cond_init(&wt.cond, NULL);
	if ((r = writer_submit(w, waiter_apply, waiter_done, &wt)) == 0) {
		pthread_mutex_lock(&wt.lock);
		while (!wt.finished)
			pthread_cond_wait(&wt.cond, &wt.lock);
		pthread_mutex_unlock(&wt.lock);
		r = wt.rc;
	}
	pthread_mutex_destroy(&wt.lock);
	pthread_cond_destroy(&wt.cond);
	return r;
}

void
writer_stats(struct writer *w, uint64_t *commits, uint64_t *mutations,
    uint64_t *max_batch)
{
	pthread_mutex_lock(&w->lock);
	*commits = w->commits;
	*mutations = w->mutations;
	*max_batch = w->max_batch;
	pthread_mutex_unlock(&w->lock);
}

void
writer_latency(struct writer *w, uint64_t *total_ns, uint64_t *max_ns)
{
	pthread_mutex_lock(&w->lock);
	*total_ns = w->commit_ns;
	*max_ns = w->commit_ns_max;
	pthread_mutex_unlock(&w->lock);
}
