/*
 * quota.h - what one user has asked for lately: the counts behind the
 * per-user limits (requests a minute, break-glass grants a day, pending
 * requests at once), so that no requester can flood the approvers or the
 * store.  Counted inside the writer's transaction that would add one
 * more, so requests racing each other are counted too.
 */
#ifndef BRK_QUOTA_H
#define BRK_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/*
 * Whether one more request of user at now would exceed limit requests in
 * the last 60 seconds (denied ones included): sets *over.  When it would
 * not, the request is counted (call it in the transaction that stores the
 * request, so a rolled-back request is not counted).  Exact: per-user
 * counters of the current and the previous minute bucket bound the count
 * from above, and only when they reach the limit is the limit-th newest
 * request looked at, so the cost is O(1) well under the limit.  Store
 * errors are returned (the caller refuses).
 */
int quota_rate(
    struct store_txn *t, const char *user, int64_t now, int limit, bool *over);

/*
 * How many of user's requests were created after since (every state,
 * denied ones included; with break_glass_only, only break-glass grants),
 * counting up to max and stopping there.  Returns 0 and sets *n, or a
 * store error (BRK_ERR_INVALID when a record does not decode: the caller
 * refuses rather than count short).
 */
int quota_recent(struct store_txn *t, const char *user, int64_t since,
    bool break_glass_only, int max, int *n);

/* How many of user's requests are pending at now, counting up to max. */
int quota_pending(
    struct store_txn *t, const char *user, int64_t now, int max, int *n);

#endif
