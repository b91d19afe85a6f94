/*
 * store.h - the broker's durable state, as ordered key/value tables.
 *
 * The only interface to storage.  It names no backend type: LMDB
 * (store_lmdb.c, the embedded default) and PostgreSQL (store_pg.c) both sit
 * behind it (store_be.h).  Keys order bytewise.  One thread per process
 * writes (write transactions are never concurrent in a process); any thread
 * may read.  With PostgreSQL several brokers may write at once: their write
 * transactions are SERIALIZABLE, and one that loses a conflict says so
 * (store_conflicted()) and must be run again whole.
 *
 * Errors: 0, BRK_ERR_NOTFOUND, BRK_ERR_FULL (map full: the write transaction
 * must be aborted), BRK_ERR_IO (sync or disk failure), BRK_ERR_READONLY,
 * BRK_ERR_INTERNAL; with PostgreSQL also BRK_ERR_UNREACHABLE (no
 * connection) and BRK_ERR_TIMEOUT (store.timeout passed).
 */
#ifndef BRK_STORE_H
#define BRK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

enum store_table {
	TBL_META,	 /* "k" -> value: counters, heads, versions */
	TBL_REQUESTS,	 /* be64 serial -> request record (binary, record.h) */
	TBL_BY_USER,	 /* user \0 be64 serial -> "" */
	TBL_BY_STATE,	 /* state byte, be64 serial -> "" */
	TBL_BY_EXPIRY,	 /* be64 time, be64 serial -> "" (open requests) */
	TBL_ACTIVE,	 /* role \0 resource \0 be64 serial -> be64 end */
	TBL_AUDIT,	 /* be64 seq -> audit record (JSON) */
	TBL_AUDIT_IDX,	 /* field, bucket, value, seq -> "" (auditidx.h) */
	TBL_POLICIES,	 /* be64 version -> policy version (JSON) */
	TBL_APPROVALS,	 /* be64 serial, approver -> approval (JSON) */
	TBL_OPTOUTS,	 /* be64 id -> opt-out (JSON) */
	TBL_FLAGS,	 /* user -> flag (JSON) */
	TBL_REVIEWS,	 /* be64 serial -> review item (JSON) */
	TBL_OPTOUT_LIVE, /* be64 id -> "" (opt-outs not yet ended) */
	TBL_OPTOUT_HITS, /* be64 id, be64 serial -> "" (requests hit) */
	TBL_LOGINS,	 /* login certificates issued (cred/userca.c) */
	TBL_HOSTS,	 /* host name -> enrolled host (JSON, hosts.h) */
	TBL_HOST_TOKENS, /* SHA-256 of a join token (hex) -> token (JSON) */
	TBL__COUNT
};

struct store;
struct store_txn;
struct store_cursor;

/* A borrowed view into the store, valid until the transaction ends. */
struct store_val {
	const void *data;
	size_t len;
};

/*
 * Open (creating if needed) the store in directory dir, which must exist and
 * be private (0700).  mapsize is the largest size the store may reach.
 */
int store_open(const char *dir, uint64_t mapsize, struct store **out,
    struct brk_error *err);
void store_free(struct store *s);

/*
 * Open a store kept in PostgreSQL: conninfo_file holds a libpq conninfo
 * string or URI and must be a regular file owned by us, mode 0600 (it may
 * hold a password).  timeout_ms bounds connecting and each statement.  The
 * schema must be at the version this build knows: on an empty or older
 * database the error says to run `brokerd --migrate`; a newer one is
 * refused (a newer broker migrated it).
 */
int store_open_pg(const char *conninfo_file, int timeout_ms, struct store **out,
    struct brk_error *err);
/* Create or migrate the PostgreSQL schema to this build's version. */
int store_pg_migrate(
    const char *conninfo_file, int timeout_ms, struct brk_error *err);
/* "lmdb" or "postgres". */
const char *store_backend_name(struct store *s);

/*
 * Begin a transaction.  A write transaction may only be begun by the single
 * writer thread.  store_child() nests a write transaction whose changes
 * vanish if it is aborted and join the parent if committed.
 */
int store_begin(struct store *s, bool write, struct store_txn **out);
int store_child(struct store_txn *parent, struct store_txn **out);
/* Commit and free.  On failure the transaction is freed too. */
int store_commit(struct store_txn *t);
/*
 * store_commit(), and for a top-level write transaction *synced tells
 * whether the commit wrote and synced: true exactly when the commit put
 * pages on disk and synced them, which also makes every earlier commit
 * durable (with lazy meta sync, every commit before this one; without it,
 * this one too).  False when the transaction wrote nothing (the backend
 * skips such a commit whole, sync included), for a nested transaction,
 * on failure, and always with the test knob BROKER_STORE_UNSAFE_NOSYNC.
 */
int store_commit_ex(struct store_txn *t, bool *synced);
/* Abort and free; NULL is fine. */
void store_abort(struct store_txn *t);
/*
 * A top-level write transaction lost a serialization conflict with another
 * broker (PostgreSQL only; never with LMDB): whatever its calls returned,
 * it must be aborted and run again from the start.
 */
bool store_conflicted(struct store_txn *t);
/*
 * Whether t's top-level transaction may lose such a conflict and run again
 * (a backend that other brokers write to): work with effects outside the
 * transaction must then wait for its commit.
 */
bool store_may_conflict(const struct store_txn *t);

/*
 * Read transactions see only durable commits: store_begin(s, false, ..) and
 * store_read_begin() return a snapshot once it is on disk, waiting (briefly:
 * the writer syncs at once when it holds a commit) for the sync that makes
 * it so, or syncing themselves after a while; BRK_ERR_IO if that sync
 * fails.  So no reader acts on a commit that a power loss could undo.
 * Write transactions (the writer) do see commits not yet durable: what
 * they build on becomes durable with or before their own commit.  Except
 * with the test knob BROKER_STORE_UNSAFE_NOSYNC, where nothing is ever
 * durable and readers do not wait.
 *
 * Reusable read transactions: store_read_begin() renews *t if it is set,
 * else begins a new one; store_read_end() releases its snapshot but keeps
 * the handle for the next store_read_begin().  store_read_free() ends it.
 */
int store_read_begin(struct store *s, struct store_txn **t);
void store_read_end(struct store_txn *t);
void store_read_free(struct store_txn *t);

int store_get(struct store_txn *t, enum store_table tbl, const void *key,
    size_t klen, struct store_val *val);
int store_put(struct store_txn *t, enum store_table tbl, const void *key,
    size_t klen, const void *val, size_t vlen);
/* Deleting a missing key is BRK_ERR_NOTFOUND. */
int store_del(
    struct store_txn *t, enum store_table tbl, const void *key, size_t klen);

/* Cursors: positioned by seek (first key >= key), first or last. */
int store_cursor_open(
    struct store_txn *t, enum store_table tbl, struct store_cursor **out);
void store_cursor_close(struct store_cursor *c);
int store_cursor_seek(struct store_cursor *c, const void *key, size_t klen,
    struct store_val *k, struct store_val *v);
int store_cursor_first(
    struct store_cursor *c, struct store_val *k, struct store_val *v);
int store_cursor_last(
    struct store_cursor *c, struct store_val *k, struct store_val *v);
int store_cursor_next(
    struct store_cursor *c, struct store_val *k, struct store_val *v);
int store_cursor_prev(
    struct store_cursor *c, struct store_val *k, struct store_val *v);

/*
 * Lazy meta sync: a commit then syncs its data pages but not its meta page,
 * so it may be undone by a power loss until the next commit that writes (or
 * store_sync()) makes it durable.  The writer acknowledges a batch only
 * after that: one sync per batch instead of two.  (kill -9 undoes nothing:
 * the page cache keeps every commit; store_open() syncs what it finds.)
 */
int store_set_lazy_meta(struct store *s, bool on);
/* Make every committed transaction durable now; any thread.  BRK_ERR_IO. */
int store_sync(struct store *s);
/* How many syncs the store has done (commits that synced, store_sync()). */
uint64_t store_syncs(struct store *s);
/* The newest commit that wrote, and the newest known to be on disk (for
 * tests and metrics); durable <= committed. */
void store_durability(struct store *s, uint64_t *committed, uint64_t *durable);

/*
 * Cluster chores.  Expiry sweeps, notifications, reminders and audit
 * anchors must run once for all the brokers sharing a store, not once per
 * broker: one broker leads and does them, the others stand by.  With LMDB
 * the broker is alone and always leads.  With PostgreSQL the leader holds
 * a session-level advisory lock on a connection of its own; when that
 * session dies (the broker was killed, its connection broke) the server
 * drops the lock and the next broker to poll takes it.
 *
 * store_leader_poll() checks the lock (takes it when free, checks the
 * session when held), at most every LEADER_POLL_MS; it may block up to
 * store.timeout, so call it from a background thread, never the I/O loop.
 * store_leader() answers from the last poll without blocking.
 *
 * Marks: a named position (an audit seq) the leader keeps in the store
 * outside the audit chain, so that the next leader resumes where it left
 * off.  store_mark_put() succeeds only while this broker leads (on the
 * leader's session); store_mark_get() is BRK_ERR_NOTFOUND when none was
 * kept (and always with LMDB).
 */
void store_leader_poll(struct store *s);
bool store_leader(struct store *s);
int store_mark_get(struct store *s, const char *name, uint64_t *seq);
int store_mark_put(struct store *s, const char *name, uint64_t seq);

/*
 * Change tracking, for answers kept in memory while several brokers write
 * (PostgreSQL).  store_follow_poll() asks the backend whether anything was
 * committed since its last poll (any broker); call it from a background
 * thread, it may block up to store.timeout.  store_generation() returns a
 * number that grows with every change seen, by a poll or by a commit
 * through this process, and in *fresh_ms the CLOCK_MONOTONIC millisecond
 * at which the last successful poll began (0: none yet).  An answer
 * computed from reads begun at generation G stays true while the
 * generation is G.  Returns 0 when the backend has nothing to track (LMDB:
 * one broker, whose reads are as fast as a copy's).
 */
int store_follow_poll(struct store *s);
uint64_t store_generation(struct store *s, int64_t *fresh_ms);

/*
 * Wait, in the follower thread, for the next change: returns 1 as soon as
 * the backend announces that another broker committed (PostgreSQL: LISTEN
 * on the channel every write transaction NOTIFYs at its commit; the
 * generation is moved before it returns), or when the listening
 * connection was made anew (what was announced while it was away is
 * lost: re-read); 0 when timeout_ms passed or wake_fd became readable
 * (the follower stops).  Without a backend to listen to (LMDB), it waits
 * for the time or wake_fd only.  The periodic re-read after a 0 stays the
 * safety net (store_follow_poll()).
 */
int store_follow_wait(struct store *s, int wake_fd, int timeout_ms);

/*
 * Move a whole state between stores of any backend (store_move.c):
 * store_export() writes every table of one consistent snapshot to a new
 * file (mode 0600, never over an existing one; removed if it fails);
 * store_import() checks a whole file (structure and SHA-256) and then
 * writes it in one transaction into a store that must be empty.  Keys and
 * values move byte for byte: serials, counters and the audit chain
 * continue.  *rows: how many keys moved.  Errors: BRK_ERR_EXISTS (the
 * file exists; the store is not empty), BRK_ERR_INVALID (not an export,
 * cut or altered), BRK_ERR_IO, store errors; err says which.  Not while a
 * broker writes to the destination (the import refuses a store in use:
 * one that is not empty).
 */
int store_export(
    struct store *s, const char *path, uint64_t *rows, struct brk_error *err);
int store_import(
    struct store *s, const char *path, uint64_t *rows, struct brk_error *err);

/* Helpers for the big-endian keys the tables use. */
void store_be64(uint8_t out[8], uint64_t v);
uint64_t store_get_be64(const void *p);

#endif
