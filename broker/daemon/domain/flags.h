/*
 * flags.h - monitoring flags on users, in the store.
 *
 * A flag names a user, a severity ("review": their requests go to people;
 * "block": their requests are denied and their logins refused), a reason,
 * who set it and when it ends.  Expiry is enforced at read time.
 */
#ifndef BRK_FLAGS_H
#define BRK_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "requests.h"
#include "store.h"

enum flag_severity {
	FLAG_REVIEW,
	FLAG_BLOCK
};

struct flag {
	char user[65];
	enum flag_severity severity;
	char reason[4097];
	char by[65];
	int64_t at, until;
	/* a flag removed before its end stays listed (flag list --all):
	 * until is then the removal time; "" while not removed */
	char ended_by[65];
	char end_reason[4097];
};

/* The user's flag in force at now; BRK_ERR_NOTFOUND when none,
 * BRK_ERR_INVALID when the stored flag does not decode. */
int
flags_get(struct store_txn *t, const char *user, int64_t now, struct flag *out);

/* *blocked: whether a block flag is in force on user.  An error (a flag
 * that does not decode) leaves *blocked false: the caller refuses. */
int
flags_blocks(struct store_txn *t, const char *user, int64_t now, bool *blocked);

/* The stored form strictly (codec.h): BRK_ERR_INVALID on a missing or
 * extra key, a wrong type or an unknown severity. */
int flag_decode(const void *data, size_t len, struct flag *f);

/* Set (or replace) the user's flag. */
int flags_put(struct store_txn *t, const struct flag *f);

/* Delete the user's flag record (removal keeps it: flags_put with until
 * now and ended_by set); BRK_ERR_NOTFOUND when there is none. */
int flags_del(struct store_txn *t, const char *user);

/* Every flag (expired ones only when all), as JSON objects into out;
 * BRK_ERR_INVALID when one does not decode. */
int flags_list(struct store_txn *t, int64_t now, bool all, json_t *out);

/*
 * Set f (remove: end the flag of f->user, recording f->reason) as a, with
 * its audit record; *out is the flag as stored (on remove, the flag that
 * ended).  A flag in force is replaced only by one at least as severe that
 * ends no sooner, unless admin (BRK_ERR_DENIED, msg); one that cannot be
 * read is replaced only by an admin.  *out depends on f and the store
 * alone, so a writer batch that runs again gets the same answer.
 */
int flags_change(struct store_txn *t, const struct actor *a, bool admin,
    bool remove, const struct flag *f, struct flag *out, int64_t now,
    char msg[REQ_MSG_LEN]);

json_t *flag_json(const struct flag *f, int64_t now);
const char *flag_severity_name(enum flag_severity s);

#endif
