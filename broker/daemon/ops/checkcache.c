/*
 * checkcache.c - op check's remembered answers (checkcache.h): a table
 * of CHECKCACHE_SLOTS slots, one reply each, chosen by a hash of user and
 * resource; a newer reply for another pair in the same slot replaces the
 * older one (a miss costs one read transaction, never a wrong answer).
 */
#include "checkcache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "record.h"

struct kept {
	uint64_t gen; /* 0: empty */
	uint64_t policy;
	int64_t made_ms, until; /* until: time_now() seconds */
	char user[65];
	char resource[REC_RESOURCE];
	bool allowed;
	json_t *reply;
};

struct checkcache {
	pthread_mutex_t lock; /* guards slots */
	struct kept slots[CHECKCACHE_SLOTS];
};

int
checkcache_new(struct checkcache **out)
{
	struct checkcache *cc;

	*out = NULL;
	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		return BRK_ERR_NOMEM;
	pthread_mutex_init(&cc->lock, NULL);
	*out = cc;
	return 0;
}

void
checkcache_free(struct checkcache *cc)
{
	size_t i;

	if (cc == NULL)
		return;
	for (i = 0; i < CHECKCACHE_SLOTS; i++)
		json_decref(cc->slots[i].reply);
	pthread_mutex_destroy(&cc->lock);
	free(cc);
}

static struct kept *
slot(struct checkcache *cc, const char *user, const char *resource)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	const char *s;

	for (s = user; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (s = resource; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return &cc->slots[h % CHECKCACHE_SLOTS];
}

json_t *
checkcache_recall(struct checkcache *cc, uint64_t gen, uint64_t policy,
    const char *user, const char *resource, int64_t mono_ms, int64_t now,
    bool *allowed)
{
	struct kept *k;
	json_t *o = NULL;

	*allowed = false;
	if (cc == NULL || gen == 0)
		return NULL;
	k = slot(cc, user, resource);
	pthread_mutex_lock(&cc->lock);
	if (k->gen == gen && k->policy == policy &&
	    mono_ms - k->made_ms < CHECKCACHE_KEEP_MS && now < k->until &&
	    strcmp(k->user, user) == 0 && strcmp(k->resource, resource) == 0) {
		o = json_deep_copy(k->reply);
		*allowed = k->allowed;
	}
	pthread_mutex_unlock(&cc->lock);
	return o;
}

void
checkcache_keep(struct checkcache *cc, uint64_t gen, uint64_t policy,
    int64_t mono_ms, int64_t until, const char *user, const char *resource,
    bool allowed, const json_t *o)
{
	struct kept *k;
	json_t *copy, *old;

	if (cc == NULL || gen == 0 || strlen(user) >= sizeof(k->user) ||
	    strlen(resource) >= sizeof(k->resource) ||
	    (copy = json_deep_copy(o)) == NULL)
		return;
	k = slot(cc, user, resource);
	pthread_mutex_lock(&cc->lock);
	old = k->reply;
	k->gen = gen;
	k->policy = policy;
	k->made_ms = mono_ms;
	k->until = until;
	snprintf(k->user, sizeof(k->user), "%s", user);
	snprintf(k->resource, sizeof(k->resource), "%s", resource);
	k->allowed = allowed;
	k->reply = copy;
	pthread_mutex_unlock(&cc->lock);
	json_decref(old); /* outside the lock */
}
