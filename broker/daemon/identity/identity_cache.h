/*
 * identity_cache.h - a bounded, thread-safe cache of identity answers.
 *
 * Maps a user name to what a source (the directory, or NSS) said about it
 * (known or not, the groups, the mail address or the uid) and when it said
 * so; the directory's cache also maps a group name to its members (in
 * "groups").  It knows nothing of TTLs: callers judge an answer's age.
 * Full, it evicts the answer fetched longest ago.
 */
#ifndef BRK_IDENTITY_CACHE_H
#define BRK_IDENTITY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct idcache;

/* One answer, owned by whoever holds it (idcache_val_clear). */
struct idcache_val {
	bool found;    /* the source holds the user */
	bool complete; /* groups is all of them (else: too many) */
	char *mail;    /* the user's address, or NULL */
	int64_t uid;   /* NSS's answers: the user's uid */
	char **groups;
	size_t ngroups;
	int64_t fetched_ms; /* monotonic time of the source's answer */
};

/* A cache of at most max entries (>= 1).  BRK_ERR_NOMEM. */
int idcache_new(size_t max, struct idcache **out);

/* NULL is fine. */
void idcache_free(struct idcache *c);

/*
 * Store a copy of answer v for name; v->complete is false when the source
 * holds more groups for the user than were kept.  An answer older than the
 * one held for name is ignored, so a slow lookup never overwrites a newer
 * one.  BRK_ERR_NOMEM (the cache is unchanged).
 */
int
idcache_put(struct idcache *c, const char *name, const struct idcache_val *v);

/* A copy of the answer for name into *out; BRK_ERR_NOTFOUND, NOMEM. */
int idcache_get(struct idcache *c, const char *name, struct idcache_val *out);

void idcache_val_clear(struct idcache_val *v);

/* Number of entries held. */
size_t idcache_size(struct idcache *c);

#endif
