/*
 * approvals.c - storing and reading approvals.
 */
#include "approvals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "timefmt.h"

/*
 * The stored form strictly (codec.h): v, approver, caller, reason (a
 * string or null), role, ttl, at; nothing else.  On success *out is the
 * record (a new reference) and a->approver..role point into it.
 */
int
approval_decode(const void *data, size_t len, struct approval *a, json_t **out)
{
	json_int_t ver, ttl, at;
	json_t *o = NULL, *reason;
	int r;

	memset(a, 0, sizeof(*a));
	*out = NULL;
	if ((r = codec_load(data, len, &o)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	if (codec_unpack(o, "{s:I, s:s, s:s, s:o, s:s, s:I, s:I}", "v", &ver,
		"approver", &a->approver, "caller", &a->caller, "reason",
		&reason, "role", &a->role, "ttl", &ttl, "at", &at) != 0 ||
	    ver != 1 || (!json_is_null(reason) && !json_is_string(reason)) ||
	    strlen(a->approver) == 0 || strlen(a->approver) > 64 ||
	    strlen(a->caller) == 0 || strlen(a->caller) > 64 || ttl < 0)
		goto out;
	a->reason = json_string_value(reason);
	a->ttl = ttl;
	a->at = at;
	*out = o;
	o = NULL;
	r = 0;
out:
	if (r != 0)
		memset(a, 0, sizeof(*a));
	json_decref(o);
	return r;
}

static size_t
approval_key(uint8_t *key, uint64_t serial, const char *who)
{
	size_t n = strlen(who);

	store_be64(key, serial);
	memcpy(key + 8, who, n);
	return 8 + n;
}

bool
approvals_has(struct store_txn *t, uint64_t serial, const char *who)
{
	struct store_val v;
	uint8_t key[8 + 65];

	if (strlen(who) > 64)
		return false;
	return store_get(t, TBL_APPROVALS, key, approval_key(key, serial, who),
		   &v) == 0;
}

int
approvals_put(struct store_txn *t, uint64_t serial, const struct approval *a)
{
	uint8_t key[8 + 65];
	json_t *o;
	char *s;
	int r;

	if (strlen(a->approver) > 64)
		return BRK_ERR_INVALID;
	if (approvals_has(t, serial, a->approver))
		return BRK_ERR_EXISTS;
	o = json_pack("{s:i, s:s, s:s, s:s?, s:s, s:I, s:I}", "v", 1,
	    "approver", a->approver, "caller", a->caller, "reason", a->reason,
	    "role", a->role, "ttl", (json_int_t)a->ttl, "at",
	    (json_int_t)a->at);
	if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		return BRK_ERR_NOMEM;
	}
	r = store_put(t, TBL_APPROVALS, key,
	    approval_key(key, serial, a->approver), s, strlen(s));
	free(s);
	json_decref(o);
	return r;
}

/* Called for each approval of a request: a decoded (its strings in o), o
 * the record (the callback's to keep or release); 0 goes on. */
typedef int (*approval_fn)(const struct approval *a, json_t *o, void *arg);

/*
 * Walk the approvals of serial, oldest key first, each decoded strictly
 * and filed under its own approver's name: one that is not stops the walk
 * with BRK_ERR_INVALID (refused, never skipped).
 */
static int
each(struct store_txn *t, uint64_t serial, approval_fn fn, void *arg)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	uint8_t prefix[8];
	struct approval a;
	json_t *o;
	int r, rc;

	store_be64(prefix, serial);
	if ((r = store_cursor_open(t, TBL_APPROVALS, &c)) != 0)
		return r;
	for (rc = store_cursor_seek(c, prefix, 8, &k, &v); rc == 0;
	     rc = store_cursor_next(c, &k, &v)) {
		if (k.len < 8 || memcmp(k.data, prefix, 8) != 0)
			break;
		if (k.len < 9 || k.len > 8 + 64 ||
		    approval_decode(v.data, v.len, &a, &o) != 0) {
			rc = BRK_ERR_INVALID;
			break;
		}
		if (k.len - 8 != strlen(a.approver) ||
		    memcmp((const uint8_t *)k.data + 8, a.approver,
			k.len - 8) != 0) {
			json_decref(o);
			rc = BRK_ERR_INVALID; /* filed under another name */
			break;
		}
		if ((rc = fn(&a, o, arg)) != 0)
			break;
	}
	r = rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}

struct lister {
	json_t *out;
	int64_t *min_ttl;
};

static int
list_one(const struct approval *a, json_t *o, void *arg)
{
	struct lister *l = arg;

	if (a->ttl > 0 && (*l->min_ttl == 0 || a->ttl < *l->min_ttl))
		*l->min_ttl = a->ttl;
	if (strcmp(a->caller, a->approver) != 0)
		/* carried by a delegate: say which */
		json_object_set(o, "via", json_object_get(o, "caller"));
	json_object_set_new(o, "at", time_json(a->at));
	json_object_set_new(o, "ttl_s", json_integer((json_int_t)a->ttl));
	json_object_del(o, "ttl"); /* the stored name; shown as _s */
	json_object_del(o, "v");
	if (l->out != NULL)
		json_array_append_new(l->out, o);
	else
		json_decref(o);
	return 0;
}

int
approvals_list(
    struct store_txn *t, uint64_t serial, json_t *out, int64_t *min_ttl)
{
	struct lister l = { .out = out, .min_ttl = min_ttl };

	*min_ttl = 0;
	return each(t, serial, list_one, &l);
}

struct whos {
	struct approval_who *out;
	size_t max, *n;
};

static int
who_one(const struct approval *a, json_t *o, void *arg)
{
	struct whos *w = arg;
	struct approval_who *e;

	if (*w->n >= w->max) {
		json_decref(o);
		return BRK_ERR_TOOBIG;
	}
	e = &w->out[(*w->n)++];
	snprintf(e->approver, sizeof(e->approver), "%s", a->approver);
	snprintf(e->caller, sizeof(e->caller), "%s", a->caller);
	json_decref(o);
	return 0;
}

int
approvals_who(struct store_txn *t, uint64_t serial, struct approval_who *out,
    size_t max, size_t *n)
{
	struct whos w = { .out = out, .max = max, .n = n };

	*n = 0;
	return each(t, serial, who_one, &w);
}
