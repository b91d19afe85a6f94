/*
 * reqstore.c - storing requests and keeping their indexes true.
 */
#include "reqstore.h"

#include "sshbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char serial_key[] = "req_serial";

static bool
is_open(enum req_state s)
{
	return s == ST_PENDING || s == ST_ACTIVE || s == ST_SCHEDULED;
}

/* A grant, whether or not its window has opened. */
static bool
is_grant(enum req_state s)
{
	return s == ST_ACTIVE || s == ST_SCHEDULED;
}

bool
reqstore_is_live(const struct request *r, int64_t now)
{
	return is_open(r->state) && now < r->expires_at;
}

bool
reqstore_in_window(const struct request *r, int64_t now)
{
	return is_grant(r->state) && r->starts_at <= now && now < r->expires_at;
}

void
reqstore_effective(struct request *r, int64_t now)
{
	if (is_open(r->state) && now >= r->expires_at)
		r->state = ST_EXPIRED;
	else if (is_grant(r->state)) /* the window opens by itself */
		r->state = r->starts_at > now ? ST_SCHEDULED : ST_ACTIVE;
}

int
reqstore_load(struct store_txn *t, uint64_t serial, struct request *r)
{
	struct store_val v;
	uint8_t key[8];
	int rc;

	store_be64(key, serial);
	if ((rc = store_get(t, TBL_REQUESTS, key, 8, &v)) != 0)
		return rc;
	return record_decode(v.data, v.len, r);
}

static int
put_record(struct store_txn *t, const struct request *r)
{
	struct sshbuf *b = sshbuf_new();
	uint8_t key[8];
	int rc;

	if (b == NULL)
		return BRK_ERR_NOMEM;
	if ((rc = record_encode(r, b)) == 0) {
		store_be64(key, r->serial);
		rc = store_put(
		    t, TBL_REQUESTS, key, 8, sshbuf_ptr(b), sshbuf_len(b));
	}
	sshbuf_free(b);
	return rc;
}

/* user \0 [resource \0] be64 serial */
static size_t
name_key(uint8_t *key, const char *a, const char *b, uint64_t serial)
{
	size_t n = strlen(a) + 1;

	memcpy(key, a, n);
	if (b != NULL) {
		memcpy(key + n, b, strlen(b) + 1);
		n += strlen(b) + 1;
	}
	store_be64(key + n, serial);
	return n + 8;
}

static size_t
state_key(uint8_t key[9], enum req_state s, uint64_t serial)
{
	key[0] = (uint8_t)s;
	store_be64(key + 1, serial);
	return 9;
}

static size_t
expiry_key(uint8_t key[16], int64_t at, uint64_t serial)
{
	store_be64(key, (uint64_t)at);
	store_be64(key + 8, serial);
	return 16;
}

/* Per-state counters in the meta table, kept in the same transaction. */
static int
count_add(struct store_txn *t, enum req_state st, int delta)
{
	char key[24];
	uint8_t buf[8];
	struct store_val v;
	uint64_t n = 0;
	int rc;

	snprintf(key, sizeof(key), "count_%s", req_state_name(st));
	rc = store_get(t, TBL_META, key, strlen(key), &v);
	if (rc == 0 && v.len == 8)
		n = store_get_be64(v.data);
	else if (rc != BRK_ERR_NOTFOUND)
		return rc != 0 ? rc : BRK_ERR_INTERNAL;
	n = delta < 0 && n == 0 ? 0 : n + (uint64_t)(int64_t)delta;
	store_be64(buf, n);
	return store_put(t, TBL_META, key, strlen(key), buf, 8);
}

int
reqstore_count(struct store_txn *t, enum req_state st, uint64_t *n)
{
	char key[24];
	struct store_val v;
	int rc;

	*n = 0;
	snprintf(key, sizeof(key), "count_%s", req_state_name(st));
	rc = store_get(t, TBL_META, key, strlen(key), &v);
	if (rc == 0 && v.len == 8)
		*n = store_get_be64(v.data);
	return rc == BRK_ERR_NOTFOUND ? 0 : rc;
}

/* Add (add=true) or remove the state-dependent index entries of r. */
static int
index_state(struct store_txn *t, const struct request *r, bool add)
{
	uint8_t key[REC_NAME + REC_RESOURCE + 16], end[8];
	size_t n;
	int rc;

	n = state_key(key, r->state, r->serial);
	rc = add ? store_put(t, TBL_BY_STATE, key, n, "", 0) :
		   store_del(t, TBL_BY_STATE, key, n);
	if (rc != 0 || !is_open(r->state))
		return rc;
	/* keyed by the next change: a scheduled grant's start, else its end,
	 * so that the sweep records both */
	n = expiry_key(key,
	    r->state == ST_SCHEDULED ? r->starts_at : r->expires_at, r->serial);
	rc = add ? store_put(t, TBL_BY_EXPIRY, key, n, "", 0) :
		   store_del(t, TBL_BY_EXPIRY, key, n);
	if (rc != 0 || !is_grant(r->state))
		return rc;
	/* hosts ask about the login account: the grant's principal */
	store_be64(end, (uint64_t)r->expires_at);
	n = name_key(key, r->role, r->resource, r->serial);
	return add ? store_put(t, TBL_ACTIVE, key, n, end, 8) :
		     store_del(t, TBL_ACTIVE, key, n);
}

int
reqstore_create(struct store_txn *t, struct request *r)
{
	uint8_t key[REC_NAME + 8], buf[8];
	struct store_val v;
	uint64_t serial = 1;
	size_t n;
	int rc;

	rc = store_get(t, TBL_META, serial_key, sizeof(serial_key) - 1, &v);
	if (rc == 0 && v.len == 8)
		serial = store_get_be64(v.data) + 1;
	else if (rc != BRK_ERR_NOTFOUND)
		return rc != 0 ? rc : BRK_ERR_INTERNAL;
	store_be64(buf, serial);
	if ((rc = store_put(
		 t, TBL_META, serial_key, sizeof(serial_key) - 1, buf, 8)) != 0)
		return rc;
	r->serial = serial;
	n = name_key(key, r->user, NULL, serial);
	if ((rc = put_record(t, r)) != 0 ||
	    (rc = store_put(t, TBL_BY_USER, key, n, "", 0)) != 0 ||
	    (rc = count_add(t, r->state, 1)) != 0)
		return rc;
	return index_state(t, r, true);
}

int
reqstore_update(
    struct store_txn *t, const struct request *old, const struct request *nr)
{
	int rc;

	if (old->serial != nr->serial)
		return BRK_ERR_INTERNAL;
	if ((rc = index_state(t, old, false)) != 0 && rc != BRK_ERR_NOTFOUND)
		return rc;
	if (old->state != nr->state &&
	    ((rc = count_add(t, old->state, -1)) != 0 ||
		(rc = count_add(t, nr->state, 1)) != 0))
		return rc;
	if ((rc = put_record(t, nr)) != 0)
		return rc;
	return index_state(t, nr, true);
}

/* Walk keys starting with prefix; serial is the last 8 bytes of the key. */
static int
walk_prefix(struct store_txn *t, enum store_table tbl, const void *prefix,
    size_t plen, bool reverse, reqstore_fn fn, void *arg)
{
	struct store_cursor *c = NULL;
	struct store_val k;
	uint8_t end[REC_NAME + REC_RESOURCE + 2];
	int r, rc;

	if ((r = store_cursor_open(t, tbl, &c)) != 0)
		return r;
	if (!reverse)
		rc = store_cursor_seek(c, prefix, plen, &k, NULL);
	else {
		/* position after the last key with the prefix */
		memcpy(end, prefix, plen);
		end[plen] = 0xff;
		rc = store_cursor_seek(c, end, plen + 1, &k, NULL);
		rc = rc == 0 ? store_cursor_prev(c, &k, NULL) :
			       store_cursor_last(c, &k, NULL);
	}
	for (; rc == 0; rc = reverse ? store_cursor_prev(c, &k, NULL) :
				       store_cursor_next(c, &k, NULL)) {
		if (k.len < plen + 8 || memcmp(k.data, prefix, plen) != 0)
			break;
		rc = fn(
		    store_get_be64((const uint8_t *)k.data + k.len - 8), arg);
		if (rc != 0)
			break;
	}
	r = rc == BRK_ERR_NOTFOUND || rc == 1 || rc == 0 ? 0 : rc;
	store_cursor_close(c);
	return r;
}

int
reqstore_by_user(struct store_txn *t, const char *user, bool newest_first,
    reqstore_fn fn, void *arg)
{
	return walk_prefix(
	    t, TBL_BY_USER, user, strlen(user) + 1, newest_first, fn, arg);
}

int
reqstore_all(struct store_txn *t, bool newest_first, reqstore_fn fn, void *arg)
{
	return walk_prefix(t, TBL_REQUESTS, "", 0, newest_first, fn, arg);
}

int
reqstore_by_state(
    struct store_txn *t, enum req_state st, reqstore_fn fn, void *arg)
{
	uint8_t p = (uint8_t)st;

	return walk_prefix(t, TBL_BY_STATE, &p, 1, false, fn, arg);
}

int
reqstore_due(struct store_txn *t, int64_t until, reqstore_fn fn, void *arg)
{
	struct store_cursor *c = NULL;
	struct store_val k;
	int r, rc;

	if ((r = store_cursor_open(t, TBL_BY_EXPIRY, &c)) != 0)
		return r;
	for (rc = store_cursor_first(c, &k, NULL); rc == 0;
	     rc = store_cursor_next(c, &k, NULL)) {
		if (k.len != 16 || (int64_t)store_get_be64(k.data) > until)
			break;
		if ((rc = fn(store_get_be64((const uint8_t *)k.data + 8),
			 arg)) != 0)
			break;
	}
	r = rc == BRK_ERR_NOTFOUND || rc == 1 || rc == 0 ? 0 : rc;
	store_cursor_close(c);
	return r;
}

int
reqstore_active_for(struct store_txn *t, const char *user, const char *resource,
    reqstore_fn fn, void *arg)
{
	uint8_t key[REC_NAME + REC_RESOURCE + 2];
	size_t n = strlen(user) + 1, m = strlen(resource) + 1;

	if (n + m > sizeof(key))
		return BRK_ERR_INVALID;
	memcpy(key, user, n);
	memcpy(key + n, resource, m);
	return walk_prefix(t, TBL_ACTIVE, key, n + m, false, fn, arg);
}
