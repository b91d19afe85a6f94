/*
 * identity_cache.c - a bounded, thread-safe cache of identity answers.
 *
 * A chained hash table (FNV-1a, power-of-two buckets sized for max) for
 * lookups, and a doubly linked list in order of fetch time for eviction:
 * storing an answer moves its entry to the tail, and when the cache is
 * full the head (the answer fetched longest ago) goes.  One mutex guards
 * both; every operation is O(1) on average and copies data in or out, so
 * no caller ever holds a pointer into the cache.
 */
#include "identity_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	char *name;
	struct idcache_val val;
	struct entry *hnext;	   /* bucket chain */
	struct entry *prev, *next; /* fetch order */
};

struct idcache {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t nbuckets; /* power of two */
	size_t n, max;
	struct entry *head, *tail; /* oldest, newest */
};

static uint32_t
hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void
idcache_val_clear(struct idcache_val *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v->groups != NULL && i < v->ngroups; i++)
		free(v->groups[i]);
	free(v->groups);
	free(v->mail);
	memset(v, 0, sizeof(*v));
}

static int
val_copy(struct idcache_val *dst, const struct idcache_val *src)
{
	size_t i;

	memset(dst, 0, sizeof(*dst));
	dst->found = src->found;
	dst->complete = src->complete;
	dst->uid = src->uid;
	dst->fetched_ms = src->fetched_ms;
	if (src->mail != NULL && (dst->mail = strdup(src->mail)) == NULL)
		return BRK_ERR_NOMEM;
	if (src->ngroups == 0)
		return 0;
	if ((dst->groups = calloc(src->ngroups, sizeof(char *))) == NULL) {
		idcache_val_clear(dst);
		return BRK_ERR_NOMEM;
	}
	for (i = 0; i < src->ngroups; i++) {
		if ((dst->groups[i] = strdup(src->groups[i])) == NULL) {
			dst->ngroups = i;
			idcache_val_clear(dst);
			return BRK_ERR_NOMEM;
		}
	}
	dst->ngroups = src->ngroups;
	return 0;
}

int
idcache_new(size_t max, struct idcache **out)
{
	struct idcache *c;

	*out = NULL;
	if (max == 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return max == 0 ? BRK_ERR_INVALID : BRK_ERR_NOMEM;
	c->max = max;
	for (c->nbuckets = 16; c->nbuckets < max && c->nbuckets < (1u << 20);)
		c->nbuckets <<= 1;
	if ((c->buckets = calloc(c->nbuckets, sizeof(*c->buckets))) == NULL) {
		free(c);
		return BRK_ERR_NOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

static void
entry_free(struct entry *e)
{
	idcache_val_clear(&e->val);
	free(e->name);
	free(e);
}

void
idcache_free(struct idcache *c)
{
	struct entry *e, *next;

	if (c == NULL)
		return;
	for (e = c->head; e != NULL; e = next) {
		next = e->next;
		entry_free(e);
	}
	free(c->buckets);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The entry for name and the link that points at it. */
static struct entry *
find(struct idcache *c, const char *name, struct entry ***linkp)
{
	struct entry **link = &c->buckets[hash(name) & (c->nbuckets - 1)];

	for (; *link != NULL; link = &(*link)->hnext)
		if (strcmp((*link)->name, name) == 0)
			break;
	if (linkp != NULL)
		*linkp = link;
	return *link;
}

static void
list_unlink(struct idcache *c, struct entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
list_append(struct idcache *c, struct entry *e)
{
	e->prev = c->tail;
	e->next = NULL;
	if (c->tail != NULL)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
}

static void
evict_oldest(struct idcache *c)
{
	struct entry *e = c->head, **link;

	if (e == NULL)
		return;
	find(c, e->name, &link);
	*link = e->hnext;
	list_unlink(c, e);
	entry_free(e);
	c->n--;
}

int
idcache_put(struct idcache *c, const char *name, const struct idcache_val *in)
{
	struct idcache_val v;
	struct entry *e, **link;
	int r;

	if ((r = val_copy(&v, in)) != 0)
		return r;
	pthread_mutex_lock(&c->lock);
	if ((e = find(c, name, &link)) != NULL) {
		if (e->val.fetched_ms > v.fetched_ms) {
			idcache_val_clear(&v); /* we hold a newer answer */
			goto out;
		}
		idcache_val_clear(&e->val);
		e->val = v;
		list_unlink(c, e);
		list_append(c, e);
		goto out;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->name = strdup(name)) == NULL) {
		free(e);
		idcache_val_clear(&v);
		r = BRK_ERR_NOMEM;
		goto out;
	}
	e->val = v;
	if (c->n >= c->max) {
		evict_oldest(c);
		find(c, name, &link); /* the chain may have changed */
	}
	*link = e;
	list_append(c, e);
	c->n++;
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

int
idcache_get(struct idcache *c, const char *name, struct idcache_val *out)
{
	struct entry *e;
	int r = BRK_ERR_NOTFOUND;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	if ((e = find(c, name, NULL)) != NULL)
		r = val_copy(out, &e->val);
	pthread_mutex_unlock(&c->lock);
	return r;
}

size_t
idcache_size(struct idcache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}
