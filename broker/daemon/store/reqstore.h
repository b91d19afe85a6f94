/*
 * reqstore.h - requests in the store, with their secondary indexes.
 *
 * Every function works inside a caller's transaction; writers keep the
 * record and every index entry consistent in that one transaction.
 */
#ifndef BRK_REQSTORE_H
#define BRK_REQSTORE_H

#include <stdbool.h>

#include "record.h"
#include "store.h"

/* BRK_ERR_NOTFOUND when there is no such request. */
int reqstore_load(struct store_txn *t, uint64_t serial, struct request *r);

/* Assign the next serial to r, store it and index it. */
int reqstore_create(struct store_txn *t, struct request *r);

/* Store nr over old (same serial), moving index entries as needed. */
int reqstore_update(
    struct store_txn *t, const struct request *old, const struct request *nr);

/* How many requests are stored in state st (expiry as of the last sweep). */
int reqstore_count(struct store_txn *t, enum req_state st, uint64_t *n);

/* Whether the request counts as open (pending, scheduled or active) at
 * time now. */
bool reqstore_is_live(const struct request *r, int64_t now);
/* A grant (active or scheduled) whose window holds now. */
bool reqstore_in_window(const struct request *r, int64_t now);

/* Apply read-time expiry: an open request past its end is reported as
 * expired even before the sweeper has recorded it; a grant is reported as
 * scheduled before starts_at and active from then on. */
void reqstore_effective(struct request *r, int64_t now);

/*
 * Iterate serials by index.  The callback returns 0 to go on, 1 to stop, or
 * a negative error that is returned.
 */
typedef int (*reqstore_fn)(uint64_t serial, void *arg);
int reqstore_by_user(struct store_txn *t, const char *user, bool newest_first,
    reqstore_fn fn, void *arg);
int reqstore_by_state(
    struct store_txn *t, enum req_state st, reqstore_fn fn, void *arg);
/* Open requests whose next change (a scheduled grant's start, else
 * expires_at) is due by until, oldest first. */
int reqstore_due(struct store_txn *t, int64_t until, reqstore_fn fn, void *arg);
/* Every request, by serial. */
int
reqstore_all(struct store_txn *t, bool newest_first, reqstore_fn fn, void *arg);
/* Grants (active or scheduled) for resource whose role (the login account, the
 * certificate principal) is name; fn gets the serial. */
int reqstore_active_for(struct store_txn *t, const char *user,
    const char *resource, reqstore_fn fn, void *arg);

#endif
