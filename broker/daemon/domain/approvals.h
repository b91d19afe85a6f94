/*
 * approvals.h - who approved which request, in the store.
 *
 * One entry per (request, approver): the key is the request serial and the
 * approver's name, so one person can never count twice.
 */
#ifndef BRK_APPROVALS_H
#define BRK_APPROVALS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

struct approval {
	const char *approver;
	const char *caller;
	const char *reason;
	const char *role; /* the role approved (the requested one) */
	int64_t ttl;	  /* shortened duration, 0 when not shortened */
	int64_t at;
};

/* BRK_ERR_EXISTS when this approver already approved. */
int
approvals_put(struct store_txn *t, uint64_t serial, const struct approval *a);

bool approvals_has(struct store_txn *t, uint64_t serial, const char *who);

/* The most approvals one request may hold; past it a decision is refused
 * rather than made on a partial list. */
#define APPROVALS_MAX 128

/* Who approved and through which connection principal (the caller). */
struct approval_who {
	char approver[65];
	char caller[65];
};

/*
 * The approvals of a request into out (up to max), oldest key first; *n is
 * how many.  BRK_ERR_TOOBIG past max; BRK_ERR_INVALID when a stored
 * approval does not decode (a decision needing the list is then refused).
 */
int approvals_who(struct store_txn *t, uint64_t serial,
    struct approval_who *out, size_t max, size_t *n);

/* The approvals of a request, oldest key first, appended to out (NULL: just
 * the ttl); *min_ttl is the shortest non-zero ttl among them (0 when none
 * shortened).  BRK_ERR_INVALID when one does not decode. */
int approvals_list(
    struct store_txn *t, uint64_t serial, json_t *out, int64_t *min_ttl);

/*
 * One stored approval, strictly (codec.h): a missing or extra key, a wrong
 * type or an empty or over-long name is BRK_ERR_INVALID.  On success *out
 * (NULL on entry) holds the decoded object, and a's strings point into it
 * until it is released.
 */
int
approval_decode(const void *data, size_t len, struct approval *a, json_t **out);

#endif
