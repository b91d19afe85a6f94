/*
 * quota.c - counting a user's recent and pending requests.
 *
 * Recent requests are found through the by-user index, newest first, so a
 * count stops at the first request older than the window (or at max):
 * the cost is bounded by the limit, not by the user's history.  Pending
 * requests are found through the by-state index, whose size the
 * per-user cap itself bounds.
 */
#include "quota.h"

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
		return 1;	/* newest first: the rest are older */
	if (!c->break_glass_only || r.break_glass)
		c->n++;
	return c->n >= c->max ? 1 : 0;
}

int
quota_recent(struct store_txn *t, const char *user, int64_t since,
    bool break_glass_only, int max, int *n)
{
	struct counter c = { .t = t, .user = user, .since = since,
	    .break_glass_only = break_glass_only, .max = max };
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
quota_pending(struct store_txn *t, const char *user, int64_t now, int max,
    int *n)
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
