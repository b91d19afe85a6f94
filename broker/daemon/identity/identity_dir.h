/*
 * identity_dir.h - the directory as an identity source: cached, refreshed
 * in the background, failing closed.
 *
 * Answers come from the cache while younger than cache_ttl (a background
 * thread refreshes entries in use once they pass half of it, so a healthy
 * directory's changes show within cache_ttl without callers waiting).  An
 * older or missing answer is fetched synchronously, bounded by the
 * configured timeout.  When the directory cannot answer, a cached answer
 * is used until cache_stale_max after it was fetched; past that the
 * directory vouches for no one and the user's groups are unknown
 * (complete false), which refuses every decision about them.  After a
 * failure, callers stop waiting on the directory for a few seconds (they
 * use what the cache allows) while the background thread keeps trying.
 */
#ifndef BRK_IDENTITY_DIR_H
#define BRK_IDENTITY_DIR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "errors.h"
#include "identity_ldap.h"

struct iddir;

/* What the directory contributes to one identity. */
struct iddir_result {
	bool found;    /* the directory holds the user */
	bool stale;    /* from an answer older than cache_ttl */
	bool complete; /* groups is all the directory's groups for
				 * the user (or found is false and the
				 * directory said so); false until it did */
	char why[96];  /* when not complete: why */
	char *mail;    /* the user's address (iddir_user), or NULL */
	char **groups; /* iddir_members: the members' names */
	size_t ngroups;
};

/* Start the source and its refresh thread; lc must outlive it. */
int iddir_new(
    const struct ldap_config *lc, struct iddir **out, struct brk_error *err);

/* Stop the thread (waits for a lookup in progress) and free; NULL ok. */
void iddir_free(struct iddir *d);

/*
 * The directory's answer for a canonical user name, as the rules above
 * allow.  Returns 0 (with complete false and why set when the directory
 * could not say, or said there are too many groups to keep) or
 * BRK_ERR_NOMEM.  Thread-safe.
 */
int iddir_lookup(struct iddir *d, const char *name, struct iddir_result *out);

/*
 * The same for a user, with their mail address; without wait the
 * directory is not asked on this thread (for the I/O thread): a missing
 * or expired answer is fetched in the background, and meanwhile the
 * cache answers as while the directory is down (complete false when it
 * cannot).
 */
int iddir_user(
    struct iddir *d, const char *name, bool wait, struct iddir_result *out);

/*
 * The directory's members of group (idldap_group_members: candidates, to
 * be checked the user's way), cached like users under the same rules;
 * found says the directory holds a group of that name.
 */
int iddir_members(
    struct iddir *d, const char *group, bool wait, struct iddir_result *out);

void iddir_result_clear(struct iddir_result *r);

/* A new object: configured, uri, reachable, last_error, last_success,
 * last_failure, counters {lookups, cache_hits, stale_uses, failures},
 * cache_entries. */
json_t *iddir_health(struct iddir *d);

#endif
