/*
 * pruneq.h - audit prunes waiting for a second person.
 *
 * Deleting audit history needs two people: one policy admin files a prune
 * (`audit prune --before DATE`), a different policy admin or auditor
 * confirms it (`audit prune confirm ID`), and only then are records
 * deleted.  A pending prune lives in TBL_META under "prune:" + be64 id,
 * where id is the seq of the audit record that filed it (shown as "p<id>"),
 * as versioned JSON.  Expiry is enforced at read time by the caller.
 *
 * Thread-safety: functions take a transaction and keep no state.
 */
#ifndef BRK_PRUNEQ_H
#define BRK_PRUNEQ_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

#define PRUNEQ_MAX 64 /* pending prunes at once */

struct prune_req {
	uint64_t id;
	int64_t before; /* delete records older than this */
	int64_t at, expires_at;
	char by[65];	 /* who filed it */
	char caller[65]; /* through which connection principal */
};

/* Store p (write transaction).  BRK_ERR_BUSY at PRUNEQ_MAX pending. */
int pruneq_put(struct store_txn *t, const struct prune_req *p);

/* The pending prune id; BRK_ERR_NOTFOUND when none, BRK_ERR_INVALID when
 * its record does not decode. */
int pruneq_get(struct store_txn *t, uint64_t id, struct prune_req *out);

/* Remove prune id (write transaction); BRK_ERR_NOTFOUND when none. */
int pruneq_del(struct store_txn *t, uint64_t id);

/* Those not expired at now, as JSON objects appended to out. */
int pruneq_list(struct store_txn *t, int64_t now, json_t *out);

/* The public view of p. */
json_t *pruneq_json(const struct prune_req *p);

/* "p12" for 12. */
void pruneq_id(uint64_t id, char buf[24]);
/* Accepts "p12"; BRK_ERR_INVALID otherwise. */
int pruneq_id_parse(const char *s, uint64_t *id);

#endif
