/*
 * audit.h - the audit trail: one hash-chained record per state change.
 *
 * audit_append() is called inside the same write transaction as the change
 * it records, so both are durable together or neither is (fail closed: when
 * the record cannot be written, e.g. BRK_ERR_FULL, the change is refused).
 *
 * Canonical form (what the hash covers; docs/audit.md has the details and a
 * worked example): the record as a JSON object without its "hash" key,
 * serialised compactly with keys sorted and non-ASCII escaped (jansson
 * JSON_COMPACT|JSON_SORT_KEYS|JSON_ENSURE_ASCII).  "prev" is the previous
 * record's hash in hex (64 zeros for the first record); "hash" =
 * hex(SHA-256(canonical form)).
 *
 * Stored form: the canonical form with the member ,"hash":"<64 hex>"
 * inserted just before ,"prev":" (where sorted keys put it).  So the stored
 * bytes with that member cut out are the canonical form, and verification
 * hashes them without parsing.  The top-level members after "hash" (prev,
 * reason, resource, seq, target, ts, user, v) are all scalars, so the last
 * ,"hash":" in the text is the top-level one (a JSON string cannot hold the
 * two bytes ," unescaped).
 *
 * Tables: TBL_AUDIT (be64 seq -> stored record), TBL_AUDIT_IDX (field,
 * seq bucket, value, seq -> "", auditidx.h has the layout: 'u' user, 'r' resource, 'a' action, 't' target,
 * 'A' actor when it differs from the user), and in TBL_META the chain head
 * ("audit_head": be64 seq + 65 bytes hash), the first kept seq after a
 * prune ("audit_floor": be64) and the latest signed anchor ("audit_anchor":
 * be64 seq, be64 time, anchor text).
 *
 * Thread-safety: the functions take a transaction and keep no state; read
 * functions may run on any thread with its own read transaction.
 */
#ifndef BRK_AUDIT_H
#define BRK_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

#define AUDIT_HASH_LEN 64 /* hex digits of a SHA-256 */

struct audit_event {
	const char *action; /* "request.created", "grant.revoked", ... */
	const char *actor;  /* the effective user ("brokerd" for the daemon) */
	const char *caller; /* who connected (differs under --as) */
	const char *target; /* "r42", a policy version, an opt-out id */
	const char *user;   /* the user the change concerns, or NULL */
	const char *resource; /* the resource it concerns, or NULL */
	const char *reason;   /* free text, or NULL */
	json_t *details;      /* borrowed; NULL for none */
};

/*
 * Append one record (serialised once) with its index entries and the new
 * chain head; sets *seq when seq is not NULL.  t must be a write
 * transaction.  Errors: those of store_put (BRK_ERR_FULL, BRK_ERR_IO, ...),
 * BRK_ERR_NOMEM, BRK_ERR_INTERNAL (a corrupt head).
 */
int audit_append(struct store_txn *t, int64_t now, const struct audit_event *ev,
    uint64_t *seq);

/*
 * Walk the chain from the first kept record, hashing the stored bytes
 * (no parsing unless a record fails, to explain how).  Returns 0 when
 * intact, else BRK_ERR_VERIFY with *bad_seq the first broken, missing or
 * out-of-order record and err saying how; other codes are read errors.
 * *count receives the number of records checked.
 */
int audit_verify(struct store_txn *t, uint64_t *count, uint64_t *bad_seq,
    struct brk_error *err);

/*
 * Check that the chain holds record seq with hash (an anchor): either the
 * record is kept and its stored hash is hash, or it is the last pruned one
 * and the first kept record's prev is hash.  0, or BRK_ERR_VERIFY with err
 * saying why (missing: truncated; other hash; pruned beyond).
 */
int audit_check_anchor(
    struct store_txn *t, uint64_t seq, const char *hash, struct brk_error *err);

/* The chain head: *seq 0 and hash of 64 zeros when the log is empty. */
int audit_head(struct store_txn *t, uint64_t *seq, char hash[65]);

/* Parse a stored record into a new JSON object (NULL on garbage). */
json_t *audit_record_json(const struct store_val *v);

/*
 * Append to out (a JSON array) the records whose field ('u' user,
 * 'r' resource, 'a' action, 't' target) equals value, oldest first, at most
 * limit of them.
 */
int audit_by(struct store_txn *t, char field, const char *value, size_t limit,
    json_t *out);

/* A search: every set field must hold. */
struct audit_query {
	int64_t since; /* ts >= since; 0 for none */
	int64_t until; /* ts <= until; 0 for none */
	const char *user, *resource, *action, *target; /* NULL: any */
	const char *visible_to; /* NULL: all; else actor or user is this */
	size_t limit;		/* at most this many (>= 1) */
};

/*
 * Append to out (a JSON array) the matching records, newest first, without
 * "prev" and "hash".  The indexes are intersected (each candidate seq is
 * found by seeking every index involved), and since/until become a seq
 * range by binary search on ts, so a selective query reads few records
 * whatever the size of the log.  Errors: store errors, BRK_ERR_NOMEM.
 */
int audit_search(struct store_txn *t, const struct audit_query *q, json_t *out);

/*
 * Append to out (a JSON array of strings: the stored bytes) the records
 * with seq > after, oldest first, at most max_records of them and stopping
 * once max_bytes are taken (at least one record).  *last is the seq of the
 * last one appended (after when none); *more says whether records follow.
 */
int audit_export(struct store_txn *t, uint64_t after, size_t max_records,
    size_t max_bytes, json_t *out, uint64_t *last, bool *more);

/*
 * The latest signed anchor: *seq it covers, *at when it was made, *text a
 * new NUL-terminated copy (free()).  BRK_ERR_NOTFOUND when none yet.
 */
int
audit_anchor_get(struct store_txn *t, uint64_t *seq, int64_t *at, char **text);
/* Remember an anchor as the latest (write transaction). */
int audit_anchor_put(
    struct store_txn *t, uint64_t seq, int64_t at, const char *text);

/*
 * Delete, oldest first, at most max records whose ts < before and whose
 * seq <= covered (the latest exported anchor's seq), with their index
 * entries; the first kept record's prev becomes the chain's trusted start
 * ("audit_floor").  The newest record is never deleted.  *pruned counts
 * them, *last_pruned is the last deleted seq (0 when none); *more is set
 * when more records older than before remain and may be pruned by another
 * call; *blocked when a record older than before is newer than covered.
 * t must be a write transaction.
 */
int
audit_prune(struct store_txn *t, int64_t before, uint64_t covered, size_t max,
    uint64_t *pruned, uint64_t *last_pruned, bool *more, bool *blocked);

#endif
