/*
 * quota.c - counting a user's recent and pending requests.
 *
 * Recent requests are found through the by-user index, newest first, so a
 * count stops at the first request older than the window (or at max):
 * the cost is bounded by the limit, not by the user's history.  Pending
 * requests are found through the by-state index, whose size the
 * per-user cap itself bounds.  The request rate, checked on every
 * request, keeps two minute-bucket counters per user in the meta table
 * ("rate/USER": be64 bucket, be32 this bucket, be32 the one before), so
 * that a user far under the limit costs one read and one write.
 */
#include "quota.h"

#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "reqstore.h"

struct counter {
	struct store_txn *t;
	const char *user;
	int64_t since, now;
	bool break_glass_only;
	int max, n;
};

static int
count_recent(uint64_t serial, void *arg)
{
	struct counter *c = arg;
	struct request r;
	int rc;

	if ((rc = reqstore_load(c->t, serial, &r)) != 0)
		return rc;
	if (r.created_at <= c->since)
		return 1; /* newest first: the rest are older */
	if (!c->break_glass_only || r.break_glass)
		c->n++;
	return c->n >= c->max ? 1 : 0;
}

int
quota_recent(struct store_txn *t, const char *user, int64_t since,
    bool break_glass_only, int max, int *n)
{
	struct counter c = { .t = t,
		.user = user,
		.since = since,
		.break_glass_only = break_glass_only,
		.max = max };
	int r;

	*n = 0;
	if (max <= 0)
		return 0;
	if ((r = reqstore_by_user(t, user, true, count_recent, &c)) != 0)
		return r;
	*n = c.n;
	return 0;
}

static int
count_pending(uint64_t serial, void *arg)
{
	struct counter *c = arg;
	struct request r;
	int rc;

	if ((rc = reqstore_load(c->t, serial, &r)) != 0)
		return rc;
	if (strcmp(r.user, c->user) == 0 && reqstore_is_live(&r, c->now))
		c->n++;
	return c->n >= c->max ? 1 : 0;
}

int
quota_pending(
    struct store_txn *t, const char *user, int64_t now, int max, int *n)
{
	struct counter c = { .t = t, .user = user, .now = now, .max = max };
	int r;

	*n = 0;
	if (max <= 0)
		return 0;
	if ((r = reqstore_by_state(t, ST_PENDING, count_pending, &c)) != 0)
		return r;
	*n = c.n;
	return 0;
}

/* The limit-th newest request of the user: is it inside the window? */
struct nth {
	struct store_txn *t;
	int want, seen;
	int64_t since;
	bool inside;
};

static int
nth_newest(uint64_t serial, void *arg)
{
	struct nth *x = arg;
	struct request r;
	int rc;

	if (++x->seen < x->want)
		return 0;
	if ((rc = reqstore_load(x->t, serial, &r)) != 0)
		return rc;
	x->inside = r.created_at > x->since;
	return 1;
}

int
quota_rate(
    struct store_txn *t, const char *user, int64_t now, int limit, bool *over)
{
	struct nth x = { .t = t, .want = limit, .since = now - 60 };
	struct store_val v;
	char key[80];
	uint8_t val[16];
	uint64_t bucket = (uint64_t)now / 60, was = 0;
	uint32_t cur = 0, prev = 0;
	int klen, r;

	*over = true;
	klen = snprintf(key, sizeof(key), "rate/%s", user);
	if (klen < 0 || (size_t)klen >= sizeof(key))
		return BRK_ERR_INVALID;
	if ((r = store_get(t, TBL_META, key, (size_t)klen, &v)) == 0) {
		if (v.len != sizeof(val))
			return BRK_ERR_INVALID; /* not ours: refuse */
		memcpy(val, v.data, sizeof(val));
		was = store_get_be64(val);
		cur = (uint32_t)(store_get_be64(val + 8) >> 32);
		prev = (uint32_t)store_get_be64(val + 8);
	} else if (r != BRK_ERR_NOTFOUND)
		return r;
	if (was + 1 == bucket) {
		prev = cur;
		cur = 0;
	} else if (was != bucket)
		prev = cur = 0;
	/* the window (now-60, now] lies within this bucket and the last */
	if ((uint64_t)prev + cur >= (uint64_t)limit) {
		if ((r = reqstore_by_user(t, user, true, nth_newest, &x)) != 0)
			return r;
		if (x.seen >= limit && x.inside)
			return 0; /* over: counted nothing */
	}
	store_be64(val, bucket);
	store_be64(val + 8, ((uint64_t)(cur + 1) << 32) | prev);
	if ((r = store_put(t, TBL_META, key, (size_t)klen, val, sizeof(val))) !=
	    0)
		return r;
	*over = false;
	return 0;
}
