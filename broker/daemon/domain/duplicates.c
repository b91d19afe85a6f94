/*
 * duplicates.c - finding the open request that a new one repeats.
 *
 * Grants are found through the index hosts use (role, resource), however
 * old; pending requests through the user's index, newest first, which can
 * stop once requests are older than any pending one can be.
 */
#include "duplicates.h"

#include <string.h>

#include "errors.h"
#include "reqstore.h"

#define DUP_SCAN_MAX 4096 /* user index entries looked at, at most */

struct dup_scan {
	struct store_txn *t;
	const struct request *rec;
	int64_t now, start, end; /* rec's window */
	int64_t oldest;		 /* pending: created no earlier */
	size_t seen;
	bool found;
	struct request *out;
};

/* The window a request asks for or holds. */
static void
window(const struct request *r, int64_t now, int64_t *start, int64_t *end)
{
	int64_t len = r->ttl > 0 ? r->ttl :
	    r->requested_ttl > 0 ? r->requested_ttl :
				   1;

	if (r->state == ST_ACTIVE || r->state == ST_SCHEDULED) {
		*start = r->starts_at;
		*end = r->expires_at;
		return;
	}
	*start = r->requested_start > now ? r->requested_start : now;
	*end = *start + len;
}

static bool
repeats(struct dup_scan *s, struct request *r)
{
	int64_t start, end;

	if (strcmp(r->user, s->rec->user) != 0 ||
	    strcmp(r->resource, s->rec->resource) != 0 ||
	    strcmp(r->role, s->rec->role) != 0 || !reqstore_is_live(r, s->now))
		return false;
	reqstore_effective(r, s->now);
	window(r, s->now, &start, &end);
	return start < s->end && s->start < end;
}

static int
check_grant(uint64_t serial, void *arg)
{
	struct dup_scan *s = arg;

	if (reqstore_load(s->t, serial, s->out) != 0 || !repeats(s, s->out))
		return 0;
	s->found = true;
	return 1;
}

static int
check_pending(uint64_t serial, void *arg)
{
	struct dup_scan *s = arg;

	if (++s->seen > DUP_SCAN_MAX)
		return 1;
	if (reqstore_load(s->t, serial, s->out) != 0)
		return 0;
	if (s->out->created_at < s->oldest)
		return 1; /* serials grow with time: none older is live */
	if (s->out->state != ST_PENDING || !repeats(s, s->out))
		return 0;
	s->found = true;
	return 1;
}

int
dup_find(struct store_txn *t, const struct request *rec, int64_t now,
    int64_t pending_ttl, bool grants_only, struct request *out)
{
	struct dup_scan s = { .t = t,
		.rec = rec,
		.now = now,
		.out = out,
		.oldest = now - pending_ttl };
	int r;

	window(rec, now, &s.start, &s.end);
	if ((r = reqstore_active_for(
		 t, rec->role, rec->resource, check_grant, &s)) != 0)
		return r;
	if (!s.found && !grants_only &&
	    (r = reqstore_by_user(t, rec->user, true, check_pending, &s)) != 0)
		return r;
	return s.found ? 0 : BRK_ERR_NOTFOUND;
}
