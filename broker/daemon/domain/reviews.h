/*
 * reviews.h - post-hoc review items for break-glass grants.
 *
 * A break-glass grant opens a review item in the same transaction; it is
 * due REVIEW_DUE after the grant and stays open until a reviewer who is
 * not the grant's user acknowledges it.
 */
#ifndef BRK_REVIEWS_H
#define BRK_REVIEWS_H

#include <stdbool.h>

#include <jansson.h>

#include "record.h"
#include "requests.h"
#include "store.h"

#define REVIEW_DUE (24 * 3600)

/* Seconds from a break-glass grant to its review's due time: REVIEW_DUE,
 * or the test knob BROKER_REVIEW_UNSAFE_DUE (1 to REVIEW_DUE; never set
 * in production: t_pgcluster makes reviews overdue in seconds). */
int64_t reviews_due_after(void);

/* Open the review item of break-glass grant r. */
int reviews_open(struct store_txn *t, const struct request *r, int64_t now);

/* The item of serial as JSON (a new object) into *out, NULL on entry;
 * BRK_ERR_NOTFOUND when there is none, BRK_ERR_INVALID when it does not
 * decode (review_decode). */
int reviews_get(struct store_txn *t, uint64_t serial, json_t **out);

/* One stored item strictly (codec.h): a missing or extra key, a wrong type,
 * a bad id or an acknowledgement half recorded is BRK_ERR_INVALID. */
int review_decode(const void *data, size_t len, json_t **out);

/* Close it; BRK_ERR_NOTFOUND, BRK_ERR_INVALID (does not decode), or
 * BRK_ERR_STATE when already closed. */
int reviews_ack(struct store_txn *t, uint64_t serial, const char *by,
    const char *note, int64_t now);

/*
 * Acknowledge the review of serial as a (open -> closed), with its audit
 * record: refused (BRK_ERR_DENIED, msg) when a is the grant's user or its
 * filer, or carries the user's own connection (no self-review);
 * BRK_ERR_STATE when it is already closed; BRK_ERR_NOTFOUND, or
 * BRK_ERR_INVALID when the item does not decode.
 */
int reviews_acknowledge(struct store_txn *t, const struct actor *a,
    uint64_t serial, const char *note, int64_t now, char msg[REQ_MSG_LEN]);

/* Open items (all: closed ones too), oldest first, with "overdue";
 * BRK_ERR_INVALID when one does not decode. */
int reviews_list(struct store_txn *t, bool all, int64_t now, json_t *out);

#endif
