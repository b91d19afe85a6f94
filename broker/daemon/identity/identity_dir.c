/*
 * identity_dir.c - the directory source: cache policy, background
 * refresh, health.
 *
 * The daemon resolves identities on its single I/O thread, so the rule is
 * that a caller waits on the directory only when it must: never for a
 * fresh answer, never while the directory is known to be failing (then
 * the cache decides, within cache_stale_max), and otherwise at most the
 * configured timeout.  A refresh thread takes names from a small queue:
 * entries in use past half their TTL (refresh-ahead), and names asked for
 * while the directory is failing.  Answers carry the time their lookup
 * started, and the cache keeps the newest, so the thread and a caller can
 * race on one name harmlessly.
 */
#include "identity_dir.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity_cache.h"
#include "log.h"
#include "timefmt.h"

#define QUEUE_MAX 256 /* names waiting for a refresh; more wait */
#define RETRY_MS 5000 /* callers skip the directory after a failure */

struct iddir {
	const struct ldap_config *lc;
	struct idldap *ldap;
	struct idcache *cache;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	bool stop;
	char *queue[QUEUE_MAX]; /* ring */
	size_t qhead, qlen;
	char *inflight;	    /* the name the thread is fetching */
	int64_t down_until; /* monotonic ms */
	int reachable;	    /* -1 unknown, 0 no, 1 yes */
	char last_error[sizeof(((struct brk_error *)0)->msg)];
	int64_t last_success, last_failure; /* wall clock, 0 = never */
	uint64_t lookups, cache_hits, stale_uses, failures;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ask the directory and record the answer and the directory's health.
 * key is a user name, or "@" and a group name for the group's members
 * (held in the same cache under that key: no user name starts so). */
static int
fetch(struct iddir *d, const char *key)
{
	struct brk_error err = { { 0 } };
	int64_t start = mono_ms();
	char **groups = NULL, *mail = NULL;
	size_t n = 0;
	bool was_up;
	int r;

	if (key[0] == '@')
		r = idldap_group_members(d->ldap, key + 1, &groups, &n, &err);
	else
		r = idldap_lookup_user(d->ldap, key, &groups, &n, &mail, &err);
	/* TOOBIG is an answer too: the user is there, in too many groups
	 * to keep them all (a group with too many members), which is
	 * remembered as "groups unknown" */
	if (r == 0 || r == BRK_ERR_NOTFOUND || r == BRK_ERR_INVALID ||
	    r == BRK_ERR_TOOBIG) {
		struct idcache_val v = { .found = r == 0 || r == BRK_ERR_TOOBIG,
			.complete = r != BRK_ERR_TOOBIG,
			.mail = mail,
			.groups = groups,
			.ngroups = n,
			.fetched_ms = start };

		if (r != BRK_ERR_INVALID && idcache_put(d->cache, key, &v) != 0)
			log_warn("event=ldap_cache_full error=nomem");
		pthread_mutex_lock(&d->lock);
		d->lookups++;
		if (d->reachable != 1)
			log_info("event=ldap_reachable uri=%s", d->lc->uri);
		d->reachable = 1;
		d->down_until = 0;
		d->last_success = time_now();
		pthread_mutex_unlock(&d->lock);
		idldap_groups_free(groups, n);
		free(mail);
		return 0;
	}
	pthread_mutex_lock(&d->lock);
	d->lookups++;
	d->failures++;
	was_up = d->reachable != 0;
	d->reachable = 0;
	d->down_until = mono_ms() + RETRY_MS;
	d->last_failure = time_now();
	snprintf(d->last_error, sizeof(d->last_error), "%s", err.msg);
	pthread_mutex_unlock(&d->lock);
	if (was_up)
		log_warn("event=ldap_unreachable uri=%s error=\"%s\"",
		    d->lc->uri, err.msg);
	else
		log_debug("event=ldap_lookup_failed key=%s error=\"%s\"", key,
		    err.msg);
	return r;
}

static bool
queued(struct iddir *d, const char *name)
{
	size_t i;

	if (d->inflight != NULL && strcmp(d->inflight, name) == 0)
		return true;
	for (i = 0; i < d->qlen; i++)
		if (strcmp(d->queue[(d->qhead + i) % QUEUE_MAX], name) == 0)
			return true;
	return false;
}

/* Ask the thread to refresh name; dropped when the queue is full. */
static void
enqueue(struct iddir *d, const char *name)
{
	char *copy;

	pthread_mutex_lock(&d->lock);
	if (!d->stop && d->qlen < QUEUE_MAX && !queued(d, name) &&
	    (copy = strdup(name)) != NULL) {
		d->queue[(d->qhead + d->qlen) % QUEUE_MAX] = copy;
		d->qlen++;
		pthread_cond_signal(&d->cond);
	}
	pthread_mutex_unlock(&d->lock);
}

static void *
refresher(void *arg)
{
	struct iddir *d = arg;
	char *name;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		if (d->qlen == 0) {
			pthread_cond_wait(&d->cond, &d->lock);
			continue;
		}
		name = d->queue[d->qhead];
		d->qhead = (d->qhead + 1) % QUEUE_MAX;
		d->qlen--;
		d->inflight = name;
		pthread_mutex_unlock(&d->lock);
		fetch(d, name);
		pthread_mutex_lock(&d->lock);
		d->inflight = NULL;
		free(name);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int
iddir_new(
    const struct ldap_config *lc, struct iddir **out, struct brk_error *err)
{
	struct iddir *d;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return brk_error_set(err, r, "out of memory");
	d->lc = lc;
	d->reachable = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	if ((r = idcache_new((size_t)lc->cache_size, &d->cache)) != 0 ||
	    (r = idldap_new(lc, &d->ldap, err)) != 0) {
		brk_error_set(err, r, "cannot set up the directory source");
		goto fail;
	}
	if (pthread_create(&d->thread, NULL, refresher, d) != 0) {
		r = brk_error_set(err, BRK_ERR_INTERNAL,
		    "cannot start the directory refresh thread");
		goto fail;
	}
	d->started = true;
	*out = d;
	return 0;
fail:
	iddir_free(d);
	return r;
}

void
iddir_free(struct iddir *d)
{
	size_t i;

	if (d == NULL)
		return;
	if (d->started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->thread, NULL);
	}
	for (i = 0; i < d->qlen; i++)
		free(d->queue[(d->qhead + i) % QUEUE_MAX]);
	idldap_free(d->ldap);
	idcache_free(d->cache);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void
iddir_result_clear(struct iddir_result *r)
{
	struct idcache_val v = { 0 };

	if (r == NULL)
		return;
	v.groups = r->groups;
	v.ngroups = r->ngroups;
	v.mail = r->mail;
	idcache_val_clear(&v);
	memset(r, 0, sizeof(*r));
}

/* Hand v's groups over to out. */
static void
take(struct iddir_result *out, struct idcache_val *v, bool stale,
    const char *key)
{
	out->found = v->found;
	out->stale = stale;
	out->complete = v->complete;
	out->why[0] = '\0';
	if (!v->complete)
		snprintf(out->why, sizeof(out->why), "%s",
		    key[0] == '@' ? "more members in the directory than the "
				    "broker lists" :
				    "more groups in the directory than the "
				    "broker tracks");
	out->groups = v->groups;
	out->ngroups = v->ngroups;
	out->mail = v->mail;
	v->groups = NULL;
	v->ngroups = 0;
	v->mail = NULL;
}

/*
 * The cache policy (identity_dir.h) for one key.  Without wait, the
 * directory is never asked here: a missing or expired answer is asked for
 * in the background and the cache answers as it would while the
 * directory is down.
 */
static int
lookup_key(
    struct iddir *d, const char *key, bool wait, struct iddir_result *out)
{
	struct idcache_val v = { 0 };
	int64_t now = mono_ms(), ttl = (int64_t)d->lc->cache_ttl * 1000;
	int64_t stale = (int64_t)d->lc->cache_stale_max * 1000;
	bool have, down;
	int r;

	memset(out, 0, sizeof(*out));
	/* until an answer is taken, the directory has not said */
	snprintf(out->why, sizeof(out->why), "directory unreachable");
	if ((r = idcache_get(d->cache, key, &v)) == BRK_ERR_NOMEM)
		return r;
	have = r == 0;
	if (have && now - v.fetched_ms < ttl) {
		pthread_mutex_lock(&d->lock);
		d->cache_hits++;
		pthread_mutex_unlock(&d->lock);
		if (now - v.fetched_ms >= ttl / 2)
			enqueue(d, key); /* refresh ahead of expiry */
		take(out, &v, false, key);
		r = 0;
		goto out;
	}
	pthread_mutex_lock(&d->lock);
	down = now < d->down_until;
	pthread_mutex_unlock(&d->lock);
	if (down || !wait) {
		enqueue(d, key); /* the thread asks; we do not wait */
		if (!down)
			snprintf(out->why, sizeof(out->why),
			    "directory not asked yet (asking in the "
			    "background)");
	} else if (fetch(d, key) == 0) {
		idcache_val_clear(&v);
		if ((r = idcache_get(d->cache, key, &v)) == 0)
			take(out, &v, false, key);
		else /* answered, but the answer could not be kept */
			snprintf(out->why, sizeof(out->why),
			    "directory answer "
			    "lost (out of memory)");
		r = r == BRK_ERR_NOMEM ? r : 0;
		goto out;
	}
	/* the directory cannot answer: the cache may, for a while */
	if (have && now - v.fetched_ms <= stale) {
		pthread_mutex_lock(&d->lock);
		d->stale_uses++;
		pthread_mutex_unlock(&d->lock);
		take(out, &v, true, key);
	}
	r = 0;
out:
	idcache_val_clear(&v);
	return r;
}

int
iddir_lookup(struct iddir *d, const char *name, struct iddir_result *out)
{
	return lookup_key(d, name, true, out);
}

int
iddir_user(
    struct iddir *d, const char *name, bool wait, struct iddir_result *out)
{
	memset(out, 0, sizeof(*out));
	if (name[0] == '@') /* not a user name: never a group's key */
		return 0;
	return lookup_key(d, name, wait, out);
}

int
iddir_members(
    struct iddir *d, const char *group, bool wait, struct iddir_result *out)
{
	char key[72];

	memset(out, 0, sizeof(*out));
	if (strlen(group) > 64) {
		snprintf(out->why, sizeof(out->why), "group name too long");
		return 0;
	}
	snprintf(key, sizeof(key), "@%s", group);
	return lookup_key(d, key, wait, out);
}

json_t *
iddir_health(struct iddir *d)
{
	json_t *o;

	pthread_mutex_lock(&d->lock);
	o = json_pack("{s:b, s:s, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I},"
		      " s:I, s:i, s:i, s:I}",
	    "configured", 1, "uri", d->lc->uri, "reachable",
	    d->reachable < 0 ? json_null() : json_boolean(d->reachable),
	    "last_error",
	    d->last_error[0] != '\0' ? json_string(d->last_error) : json_null(),
	    "last_success", time_json(d->last_success), "last_failure",
	    time_json(d->last_failure), "counters", "lookups",
	    (json_int_t)d->lookups, "cache_hits", (json_int_t)d->cache_hits,
	    "stale_uses", (json_int_t)d->stale_uses, "failures",
	    (json_int_t)d->failures, "cache_entries",
	    (json_int_t)idcache_size(d->cache), "cache_ttl", d->lc->cache_ttl,
	    "cache_stale_max", d->lc->cache_stale_max, "refresh_queue",
	    (json_int_t)d->qlen);
	pthread_mutex_unlock(&d->lock);
	return o;
}
