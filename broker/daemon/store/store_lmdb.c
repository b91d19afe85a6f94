/*
 * store_lmdb.c - the LMDB backend of store.h (store_be.h); the only file
 * that calls mdb_*.
 *
 * One environment with a named database per table.  MDB_NOTLS lets a
 * read transaction be reset on one thread and renewed on another.
 *
 * Durability.  Syncs are on (no MDB_NOSYNC).  Without lazy meta sync a
 * commit that wrote returns after its data and its meta page are on disk
 * (fdatasync, then the meta page through LMDB's O_DSYNC descriptor).  With
 * lazy meta sync (MDB_NOMETASYNC) a commit fdatasyncs its data, which also
 * makes the previous commit's meta page durable, and then writes its own
 * meta page without a sync: the commit is visible but not durable until the
 * next commit that writes, or store_sync().  A commit that wrote nothing is
 * skipped by LMDB whole, sync included.  The store counts which commit is
 * durable (durable_txn) so that:
 *   - store_commit_ex() tells the writer whether its commit synced, and
 *   - readers never act on a commit that is not yet durable: a read
 *     transaction whose snapshot is newer than durable_txn waits for the
 *     writer's sync (or syncs itself) before it is handed out.
 */
#include "store_be.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "log.h"

/* How long a reader waits for the writer's sync before it syncs itself:
 * the writer syncs at once whenever it holds a commit, so this is only
 * reached when no writer runs (tools, tests) or its sync failed. */
#define READER_WAIT_MS 200

static const char *const table_names[TBL__COUNT] = {
	"meta",
	"requests",
	"by_user",
	"by_state",
	"by_expiry",
	"active",
	"audit",
	"audit_idx",
	"policies",
	"approvals",
	"optouts",
	"flags",
	"reviews",
	"optout_live",
	"optout_hits",
	"logins",
	"hosts",
	"host_tokens",
};

struct lenv {
	MDB_env *env;
	MDB_dbi dbi[TBL__COUNT];
	bool nosync;	       /* test knob: BROKER_STORE_UNSAFE_NOSYNC */
	pthread_mutex_t lock;  /* guards what follows */
	pthread_cond_t synced; /* durable_txn moved */
	bool lazy;	       /* MDB_NOMETASYNC is set */
	uint64_t last_txn;     /* the newest commit that wrote */
	uint64_t durable_txn;  /* the newest commit known to be on disk */
	uint64_t syncs;	       /* syncs done (by commits or store_sync) */
};

struct ltxn {
	struct lenv *s;
	MDB_txn *txn;
	bool top_write; /* a write transaction without a parent */
};

struct lcur {
	MDB_cursor *cur;
};

static int
map_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return BRK_ERR_NOTFOUND;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case MDB_PAGE_FULL:
	case ENOSPC:
		return BRK_ERR_FULL;
	case EACCES:
	case EROFS:
		return BRK_ERR_READONLY;
	case ENOMEM:
		return BRK_ERR_NOMEM;
	case EIO:
		return BRK_ERR_IO;
	default:
		return rc > 0 ? BRK_ERR_IO : BRK_ERR_INTERNAL;
	}
}

static uint64_t
env_txnid(MDB_env *env)
{
	MDB_envinfo info;

	if (mdb_env_info(env, &info) != 0)
		return 0;
	return (uint64_t)info.me_last_txnid;
}

static int
init_cond(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int r = -1;

	if (pthread_condattr_init(&a) != 0)
		return -1;
	if (pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(c, &a) == 0)
		r = 0;
	pthread_condattr_destroy(&a);
	return r;
}

/* Record that every commit up to txn is on disk. */
static void
mark_durable(struct lenv *s, uint64_t txn)
{
	pthread_mutex_lock(&s->lock);
	if (txn > s->durable_txn) {
		s->durable_txn = txn;
		pthread_cond_broadcast(&s->synced);
	}
	pthread_mutex_unlock(&s->lock);
}

static void l_free(void *env);

int
store_lmdb_open(
    const char *dir, uint64_t mapsize, void **out, struct brk_error *err)
{
	struct lenv *s = NULL;
	MDB_txn *txn = NULL;
	const char *knob;
	int r = BRK_ERR_NOMEM, rc, i;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		s = NULL;
		goto out;
	}
	if (init_cond(&s->synced) != 0) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		s = NULL;
		goto out;
	}
	/* A test knob, never set in production: lets the power-loss test
	 * (tests/integration/t_powerloss.sh) prove that it detects lost
	 * writes.  Read here only. */
	knob = getenv("BROKER_STORE_UNSAFE_NOSYNC");
	s->nosync = knob != NULL && strcmp(knob, "1") == 0;
	r = BRK_ERR_IO;
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, TBL__COUNT)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)mapsize)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, 256)) != 0 ||
	    (rc = mdb_env_open(s->env, dir,
		 MDB_NOTLS | MDB_NORDAHEAD | (s->nosync ? MDB_NOSYNC : 0),
		 0600)) != 0) {
		r = map_err(rc);
		brk_error_set(err, r, "cannot open the store in %s: %s", dir,
		    mdb_strerror(rc));
		goto out;
	}
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		goto fail;
	for (i = 0; i < TBL__COUNT; i++)
		if ((rc = mdb_dbi_open(
			 txn, table_names[i], MDB_CREATE, &s->dbi[i])) != 0)
			goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	/*
	 * What a killed daemon committed may still be only in the page cache
	 * (lazy meta sync): make it durable before anyone reads it.
	 */
	if (!s->nosync && (rc = mdb_env_sync(s->env, 1)) != 0)
		goto fail;
	if (s->nosync)
		log_warn("event=store_unsafe_nosync dir=\"%s\" why=\"test knob "
			 "BROKER_STORE_UNSAFE_NOSYNC: nothing is synced\"",
		    dir);
	s->last_txn = s->durable_txn = env_txnid(s->env);
	*out = s;
	s = NULL;
	r = 0;
	goto out;
fail:
	r = map_err(rc);
	brk_error_set(err, r, "cannot initialise the store in %s: %s", dir,
	    mdb_strerror(rc));
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	l_free(s);
	return r;
}

static void
l_free(void *env)
{
	struct lenv *s = env;

	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->synced);
	free(s);
}

/*
 * Sync, then record every commit up to upto as durable: upto is a commit
 * whose meta page was written before the sync began (the caller saw it),
 * and so is every commit the writer had finished by then.  One that
 * finishes while the sync runs may or may not be covered: not counted.
 */
static int
sync_upto(struct lenv *s, uint64_t upto)
{
	int rc;

	if (s->nosync)
		return 0;
	pthread_mutex_lock(&s->lock);
	if (s->last_txn > upto)
		upto = s->last_txn;
	pthread_mutex_unlock(&s->lock);
	if ((rc = mdb_env_sync(s->env, 1)) != 0) {
		log_error(
		    "event=store_sync_failed error=\"%s\"", mdb_strerror(rc));
		return map_err(rc);
	}
	pthread_mutex_lock(&s->lock);
	s->syncs++;
	pthread_mutex_unlock(&s->lock);
	mark_durable(s, upto);
	return 0;
}

/*
 * A reader's snapshot txn may be a commit that is visible but not yet
 * durable (lazy meta sync).  Acting on it (granting a check, showing a
 * state, sending a notification) could act on something a power loss then
 * undoes, so wait until the writer's sync covers it; if that does not come
 * in READER_WAIT_MS, sync here.  With the test knob nothing is durable and
 * readers do not wait.
 */
static int
wait_durable(struct lenv *s, uint64_t txn)
{
	struct timespec ts;
	bool durable;
	int rc = 0;

	if (s->nosync)
		return 0;
	pthread_mutex_lock(&s->lock);
	if (txn > s->durable_txn) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += READER_WAIT_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (txn > s->durable_txn && rc == 0)
			rc = pthread_cond_timedwait(&s->synced, &s->lock, &ts);
	}
	durable = txn <= s->durable_txn;
	pthread_mutex_unlock(&s->lock);
	return durable ? 0 : sync_upto(s, txn);
}

static int
begin(struct lenv *s, MDB_txn *parent, unsigned flags, struct ltxn **out)
{
	struct ltxn *t;
	int rc, r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return BRK_ERR_NOMEM;
	t->s = s;
	t->top_write = parent == NULL && (flags & MDB_RDONLY) == 0;
	if ((rc = mdb_txn_begin(s->env, parent, flags, &t->txn)) != 0) {
		free(t);
		return map_err(rc);
	}
	if ((flags & MDB_RDONLY) != 0 &&
	    (r = wait_durable(s, (uint64_t)mdb_txn_id(t->txn))) != 0) {
		mdb_txn_abort(t->txn);
		free(t);
		return r;
	}
	*out = t;
	return 0;
}

static int
l_begin(void *env, void *parent, bool write, void **out)
{
	struct ltxn *t = NULL;
	int r;

	*out = NULL;
	if (parent != NULL)
		r = begin(env, ((struct ltxn *)parent)->txn, 0, &t);
	else
		r = begin(env, NULL, write ? 0 : MDB_RDONLY, &t);
	*out = t;
	return r;
}

static int
l_commit(void *txn, bool *synced)
{
	struct ltxn *t = txn;
	struct lenv *s = t->s;
	uint64_t id = t->top_write ? (uint64_t)mdb_txn_id(t->txn) : 0, upto;
	bool top = t->top_write;
	int rc = mdb_txn_commit(t->txn);

	free(t);
	*synced = false;
	if (rc != 0)
		return map_err(rc);
	/*
	 * LMDB skips a commit that wrote nothing, sync included: then the
	 * newest commit is still the one before, whose id is not ours.
	 */
	if (!top || env_txnid(s->env) != id)
		return 0;
	pthread_mutex_lock(&s->lock);
	s->last_txn = id;
	if (!s->nosync)
		s->syncs++;
	/* its fdatasync covered the commits before it; its own meta page
	 * went out with O_DSYNC unless the meta sync is lazy */
	upto = s->lazy ? id - 1 : id;
	pthread_mutex_unlock(&s->lock);
	if (s->nosync)
		return 0;
	*synced = true;
	mark_durable(s, upto);
	return 0;
}

static void
l_abort(void *txn)
{
	struct ltxn *t = txn;

	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

static int
l_renew(void *txn)
{
	struct ltxn *t = txn;
	int rc;

	if ((rc = mdb_txn_renew(t->txn)) != 0)
		return map_err(rc);
	if ((rc = wait_durable(t->s, (uint64_t)mdb_txn_id(t->txn))) != 0) {
		mdb_txn_reset(t->txn);
		return rc;
	}
	return 0;
}

static void
l_reset(void *txn)
{
	mdb_txn_reset(((struct ltxn *)txn)->txn);
}

/* LMDB has one writer: nothing to conflict with. */
static bool
l_conflicted(void *txn)
{
	(void)txn;
	return false;
}

static int
l_get(void *txn, enum store_table tbl, const void *key, size_t klen,
    struct store_val *val)
{
	struct ltxn *t = txn;
	MDB_val k = { klen, (void *)key }, v;
	int rc;

	if ((rc = mdb_get(t->txn, t->s->dbi[tbl], &k, &v)) != 0)
		return map_err(rc);
	val->data = v.mv_data;
	val->len = v.mv_size;
	return 0;
}

static int
l_put(void *txn, enum store_table tbl, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	struct ltxn *t = txn;
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };

	return map_err(mdb_put(t->txn, t->s->dbi[tbl], &k, &v, 0));
}

static int
l_del(void *txn, enum store_table tbl, const void *key, size_t klen)
{
	struct ltxn *t = txn;
	MDB_val k = { klen, (void *)key };

	return map_err(mdb_del(t->txn, t->s->dbi[tbl], &k, NULL));
}

static int
l_cursor_open(void *txn, enum store_table tbl, void **out)
{
	struct ltxn *t = txn;
	struct lcur *c;
	int rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return BRK_ERR_NOMEM;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[tbl], &c->cur)) != 0) {
		free(c);
		return map_err(rc);
	}
	*out = c;
	return 0;
}

static void
l_cursor_close(void *cur)
{
	struct lcur *c = cur;

	if (c == NULL)
		return;
	mdb_cursor_close(c->cur);
	free(c);
}

static int
cursor_get(struct lcur *c, MDB_val *k, MDB_cursor_op op, struct store_val *ko,
    struct store_val *vo)
{
	MDB_val v;
	int rc;

	if ((rc = mdb_cursor_get(c->cur, k, &v, op)) != 0)
		return map_err(rc);
	if (ko != NULL) {
		ko->data = k->mv_data;
		ko->len = k->mv_size;
	}
	if (vo != NULL) {
		vo->data = v.mv_data;
		vo->len = v.mv_size;
	}
	return 0;
}

static int
l_cursor_get(void *cur, enum store_seek op, const void *key, size_t klen,
    struct store_val *k, struct store_val *v)
{
	static const MDB_cursor_op ops[] = { [SEEK_GE] = MDB_SET_RANGE,
		[SEEK_FIRST] = MDB_FIRST,
		[SEEK_LAST] = MDB_LAST,
		[SEEK_NEXT] = MDB_NEXT,
		[SEEK_PREV] = MDB_PREV };
	MDB_val mk = { klen, (void *)key };

	return cursor_get(cur, &mk, ops[op], k, v);
}

static int
l_set_lazy_meta(void *env, bool on)
{
	struct lenv *s = env;
	int rc;

	/* commits before this one were synced in full */
	if ((rc = mdb_env_set_flags(s->env, MDB_NOMETASYNC, on ? 1 : 0)) != 0)
		return map_err(rc);
	pthread_mutex_lock(&s->lock);
	s->lazy = on;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int
l_sync(void *env)
{
	return sync_upto(env, 0);
}

static uint64_t
l_syncs(void *env)
{
	struct lenv *s = env;
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->syncs;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void
l_durability(void *env, uint64_t *committed, uint64_t *durable)
{
	struct lenv *s = env;

	pthread_mutex_lock(&s->lock);
	*committed = s->last_txn;
	*durable = s->durable_txn;
	pthread_mutex_unlock(&s->lock);
}

const struct store_backend store_lmdb_backend = {
	.name = "lmdb",
	.free = l_free,
	.begin = l_begin,
	.commit = l_commit,
	.abort = l_abort,
	.renew = l_renew,
	.reset = l_reset,
	.conflicted = l_conflicted,
	.get = l_get,
	.put = l_put,
	.del = l_del,
	.cursor_open = l_cursor_open,
	.cursor_close = l_cursor_close,
	.cursor_get = l_cursor_get,
	.set_lazy_meta = l_set_lazy_meta,
	.sync = l_sync,
	.syncs = l_syncs,
	.durability = l_durability,
};
