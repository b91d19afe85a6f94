/*
 * store.c - store.h's calls, dispatched to the backend that opened the
 * store: LMDB (store_lmdb.c, the embedded default) or PostgreSQL
 * (store_pg.c).  Callers never know which.
 */
#include "store.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auditidx.h"
#include "store_be.h"

struct store {
	const struct store_backend *be;
	void *h;
	uint64_t gen;	  /* store_generation (atomic) */
	int64_t fresh_ms; /* its last good poll (atomic) */
	char snap[1024];  /* the follower thread's alone */
};

struct store_txn {
	struct store *s;
	void *h;
};

struct store_cursor {
	struct store *s;
	void *h;
};

/* Wrap an opened backend; an older audit index is upgraded here, before
 * any caller can search it (auditidx.h). */
static int
wrap(const struct store_backend *be, void *h, struct store **out,
    struct brk_error *err)
{
	struct store *s;
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		be->free(h);
		return brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
	}
	s->be = be;
	s->h = h;
	if ((r = auditidx_upgrade(s, err)) != 0) {
		store_free(s);
		return r;
	}
	*out = s;
	return 0;
}

int
store_open(const char *dir, uint64_t mapsize, struct store **out,
    struct brk_error *err)
{
	void *h = NULL;
	int r;

	*out = NULL;
	if ((r = store_lmdb_open(dir, mapsize, &h, err)) != 0)
		return r;
	return wrap(&store_lmdb_backend, h, out, err);
}

int
store_open_pg(const char *conninfo, int timeout_ms, struct store **out,
    struct brk_error *err)
{
	void *h = NULL;
	int r;

	*out = NULL;
	if ((r = store_pg_open(conninfo, timeout_ms, &h, err)) != 0)
		return r;
	return wrap(&store_pg_backend, h, out, err);
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	s->be->free(s->h);
	free(s);
}

const char *
store_backend_name(struct store *s)
{
	return s->be->name;
}

static int
begin(struct store *s, struct store_txn *parent, bool write,
    struct store_txn **out)
{
	struct store_txn *t;
	int r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return BRK_ERR_NOMEM;
	t->s = s;
	if ((r = s->be->begin(
		 s->h, parent != NULL ? parent->h : NULL, write, &t->h)) != 0) {
		free(t);
		return r;
	}
	*out = t;
	return 0;
}

int
store_begin(struct store *s, bool write, struct store_txn **out)
{
	return begin(s, NULL, write, out);
}

int
store_child(struct store_txn *parent, struct store_txn **out)
{
	return begin(parent->s, parent, true, out);
}

int
store_commit_ex(struct store_txn *t, bool *synced)
{
	int r;

	*synced = false;
	r = t->s->be->commit(t->h, synced);
	/* a copy read before this commit must not outlive it */
	if (r == 0)
		__atomic_fetch_add(&t->s->gen, 1, __ATOMIC_ACQ_REL);
	free(t);
	return r;
}

int
store_commit(struct store_txn *t)
{
	bool synced;

	return store_commit_ex(t, &synced);
}

void
store_abort(struct store_txn *t)
{
	if (t == NULL)
		return;
	t->s->be->abort(t->h);
	free(t);
}

bool
store_conflicted(struct store_txn *t)
{
	return t->s->be->conflicted(t->h);
}

bool
store_may_conflict(const struct store_txn *t)
{
	return t->s->be->snapshot != NULL; /* other writers (store_be.h) */
}

int
store_read_begin(struct store *s, struct store_txn **t)
{
	if (*t == NULL)
		return store_begin(s, false, t);
	return s->be->renew((*t)->h);
}

void
store_read_end(struct store_txn *t)
{
	if (t != NULL)
		t->s->be->reset(t->h);
}

void
store_read_free(struct store_txn *t)
{
	store_abort(t);
}

int
store_get(struct store_txn *t, enum store_table tbl, const void *key,
    size_t klen, struct store_val *val)
{
	return t->s->be->get(t->h, tbl, key, klen, val);
}

int
store_put(struct store_txn *t, enum store_table tbl, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	return t->s->be->put(t->h, tbl, key, klen, val, vlen);
}

int
store_del(
    struct store_txn *t, enum store_table tbl, const void *key, size_t klen)
{
	return t->s->be->del(t->h, tbl, key, klen);
}

int
store_cursor_open(
    struct store_txn *t, enum store_table tbl, struct store_cursor **out)
{
	struct store_cursor *c;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return BRK_ERR_NOMEM;
	c->s = t->s;
	if ((r = t->s->be->cursor_open(t->h, tbl, &c->h)) != 0) {
		free(c);
		return r;
	}
	*out = c;
	return 0;
}

void
store_cursor_close(struct store_cursor *c)
{
	if (c == NULL)
		return;
	c->s->be->cursor_close(c->h);
	free(c);
}

int
store_cursor_seek(struct store_cursor *c, const void *key, size_t klen,
    struct store_val *k, struct store_val *v)
{
	return c->s->be->cursor_get(c->h, SEEK_GE, key, klen, k, v);
}

int
store_cursor_first(
    struct store_cursor *c, struct store_val *k, struct store_val *v)
{
	return c->s->be->cursor_get(c->h, SEEK_FIRST, NULL, 0, k, v);
}

int
store_cursor_last(
    struct store_cursor *c, struct store_val *k, struct store_val *v)
{
	return c->s->be->cursor_get(c->h, SEEK_LAST, NULL, 0, k, v);
}

int
store_cursor_next(
    struct store_cursor *c, struct store_val *k, struct store_val *v)
{
	return c->s->be->cursor_get(c->h, SEEK_NEXT, NULL, 0, k, v);
}

int
store_cursor_prev(
    struct store_cursor *c, struct store_val *k, struct store_val *v)
{
	return c->s->be->cursor_get(c->h, SEEK_PREV, NULL, 0, k, v);
}

int
store_set_lazy_meta(struct store *s, bool on)
{
	return s->be->set_lazy_meta(s->h, on);
}

int
store_sync(struct store *s)
{
	return s->be->sync(s->h);
}

uint64_t
store_syncs(struct store *s)
{
	return s->be->syncs(s->h);
}

void
store_durability(struct store *s, uint64_t *committed, uint64_t *durable)
{
	s->be->durability(s->h, committed, durable);
}

void
store_be64(uint8_t out[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

uint64_t
store_get_be64(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
store_follow_poll(struct store *s)
{
	char snap[sizeof(s->snap)];
	int64_t began = mono_ms();
	int r;

	if (s->be->snapshot == NULL)
		return 0;
	if ((r = s->be->snapshot(s->h, snap, sizeof(snap))) != 0)
		return r;
	/* equal snapshots see the same commits; a snapshot too long to
	 * keep counts as a change every time (never a stale copy) */
	if (strlen(snap) + 1 >= sizeof(snap) || strcmp(snap, s->snap) != 0) {
		__atomic_fetch_add(&s->gen, 1, __ATOMIC_ACQ_REL);
		memcpy(s->snap, snap, sizeof(snap));
	}
	__atomic_store_n(&s->fresh_ms, began, __ATOMIC_RELEASE);
	return 0;
}

uint64_t
store_generation(struct store *s, int64_t *fresh_ms)
{
	*fresh_ms = __atomic_load_n(&s->fresh_ms, __ATOMIC_ACQUIRE);
	if (s->be->snapshot == NULL)
		return 0;
	/* never 0 for a tracked backend */
	return __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) + 1;
}

int
store_follow_wait(struct store *s, int wake_fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = wake_fd, .events = POLLIN };
	int r;

	if (s->be->wait == NULL) {
		r = poll(&pfd, 1, timeout_ms);
		(void)r; /* either way the caller looks again */
		return 0;
	}
	if ((r = s->be->wait(s->h, wake_fd, timeout_ms)) > 0)
		/* before the caller's re-read: copies end at once */
		__atomic_fetch_add(&s->gen, 1, __ATOMIC_ACQ_REL);
	return r > 0 ? 1 : 0;
}

void
store_leader_poll(struct store *s)
{
	if (s->be->leader_poll != NULL)
		s->be->leader_poll(s->h);
}

bool
store_leader(struct store *s)
{
	return s->be->leader == NULL || s->be->leader(s->h);
}

int
store_mark_get(struct store *s, const char *name, uint64_t *seq)
{
	*seq = 0;
	if (s->be->mark_get == NULL)
		return BRK_ERR_NOTFOUND;
	return s->be->mark_get(s->h, name, seq);
}

int
store_mark_put(struct store *s, const char *name, uint64_t seq)
{
	if (s->be->mark_put == NULL)
		return 0;
	return s->be->mark_put(s->h, name, seq);
}
