/*
 * duplicates.h - the open request that a new one would repeat.
 *
 * Asking again for what one already holds, or already waits for, files
 * nothing new: the broker answers with that request.  A repeat is the same
 * user, resource and role with an overlapping window, still open.
 */
#ifndef BRK_DUPLICATES_H
#define BRK_DUPLICATES_H

#include <stdbool.h>
#include <stdint.h>

#include "record.h"
#include "store.h"

/*
 * Find an open request (pending, scheduled or active at now) that rec
 * repeats; rec is decided but not stored.  grants_only limits the search
 * to grants (a request that would be granted at once is not answered with
 * a pending one).
 * pending_ttl bounds how far back a pending request can have been filed.
 * Returns 0 and sets *out (its state as of now), BRK_ERR_NOTFOUND when
 * there is none, or a store error.
 */
int dup_find(struct store_txn *t, const struct request *rec, int64_t now,
    int64_t pending_ttl, bool grants_only, struct request *out);

#endif
