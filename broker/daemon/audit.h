/*
 * audit.h - the audit trail: one hash-chained record per state change.
 *
 * audit_append() is called inside the same write transaction as the change
 * it records, so both are durable together or neither is.
 *
 * Canonical form (what the hash covers): the record as a JSON object without
 * its "hash" key, serialised compactly with keys sorted and non-ASCII
 * escaped (jansson JSON_COMPACT|JSON_SORT_KEYS|JSON_ENSURE_ASCII).  "prev" is
 * the previous record's hash in hex (64 zeros for the first record);
 * "hash" = hex(SHA-256(canonical form)).
 */
#ifndef BRK_AUDIT_H
#define BRK_AUDIT_H

#include <stdint.h>

#include <jansson.h>

#include "store.h"

struct audit_event {
	const char *action;	/* "request.created", "grant.revoked", ... */
	const char *actor;	/* the effective user ("brokerd" for the daemon) */
	const char *caller;	/* who connected (differs under --as) */
	const char *target;	/* "r42", a policy version, an opt-out id */
	const char *user;	/* the user the change concerns, or NULL */
	const char *resource;	/* the resource it concerns, or NULL */
	const char *reason;	/* free text, or NULL */
	json_t *details;	/* borrowed; NULL for none */
};

/* Append one record; sets *seq when seq is not NULL. */
int audit_append(struct store_txn *t, int64_t now,
    const struct audit_event *ev, uint64_t *seq);

/*
 * Walk the chain from the first record.  Returns 0 when intact, else
 * BRK_ERR_VERIFY with *bad_seq the first broken record and err saying how.
 * *count receives the number of records checked.
 */
int audit_verify(struct store_txn *t, uint64_t *count, uint64_t *bad_seq,
    struct brk_error *err);

/* Parse a stored record into a new JSON object (NULL on garbage). */
json_t *audit_record_json(const struct store_val *v);



/*
 * Append to out (a JSON array) the records whose field ('u' user,
 * 'r' resource, 'a' action, 't' target) equals value, oldest first, at most
 * limit of them.
 */
int audit_by(struct store_txn *t, char field, const char *value,
    size_t limit, json_t *out);
#endif
