/*
 * store_be.h - what a storage backend implements behind store.h.
 *
 * Private to store/: store.c dispatches each store.h call through a
 * backend's table; store_lmdb.c and store_pg.c fill one each.  Handles are
 * the backend's own (void * here so that no backend type leaks out).
 */
#ifndef BRK_STORE_BE_H
#define BRK_STORE_BE_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

enum store_seek {
	SEEK_GE, /* first key >= key */
	SEEK_FIRST,
	SEEK_LAST,
	SEEK_NEXT,
	SEEK_PREV,
};

struct store_backend {
	const char *name;
	void (*free)(void *env);
	/* parent NULL: a top-level transaction */
	int (*begin)(void *env, void *parent, bool write, void **out);
	int (*commit)(void *txn, bool *synced);
	void (*abort)(void *txn);
	/* a reusable read transaction: take a new snapshot / release it */
	int (*renew)(void *txn);
	void (*reset)(void *txn);
	/* the transaction lost a serialization conflict (store.h) */
	bool (*conflicted)(void *txn);
	int (*get)(void *txn, enum store_table tbl, const void *key,
	    size_t klen, struct store_val *val);
	int (*put)(void *txn, enum store_table tbl, const void *key,
	    size_t klen, const void *val, size_t vlen);
	int (*del)(
	    void *txn, enum store_table tbl, const void *key, size_t klen);
	int (*cursor_open)(void *txn, enum store_table tbl, void **out);
	void (*cursor_close)(void *cur);
	int (*cursor_get)(void *cur, enum store_seek op, const void *key,
	    size_t klen, struct store_val *k, struct store_val *v);
	int (*set_lazy_meta)(void *env, bool on);
	int (*sync)(void *env);
	uint64_t (*syncs)(void *env);
	void (*durability)(void *env, uint64_t *committed, uint64_t *durable);
	/* cluster chores (store.h); NULL: one broker alone leads */
	void (*leader_poll)(void *env);
	bool (*leader)(void *env);
	int (*mark_get)(void *env, const char *name, uint64_t *seq);
	int (*mark_put)(void *env, const char *name, uint64_t seq);
	/* text that changes whenever a commit becomes visible; NULL: no
	 * other writer (store_follow_poll) */
	int (*snapshot)(void *env, char *buf, size_t len);
	/* wait up to timeout_ms for another session's commit to be
	 * announced (1), or wake_fd readable or the time up (0); NULL: no
	 * other writer (store_follow_wait) */
	int (*wait)(void *env, int wake_fd, int timeout_ms);
};

extern const struct store_backend store_lmdb_backend;
extern const struct store_backend store_pg_backend;

/* Open the backends' environments (store.c wraps them). */
int store_lmdb_open(
    const char *dir, uint64_t mapsize, void **out, struct brk_error *err);
int store_pg_open(
    const char *conninfo, int timeout_ms, void **out, struct brk_error *err);

#endif
