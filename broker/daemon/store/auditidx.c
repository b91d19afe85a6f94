/*
 * auditidx.c - the audit index's keys (layout 2: auditidx.h) and the
 * upgrade of a layout-1 index when a store opens.
 *
 * The upgrade works on the index alone: a layout-1 key holds the field,
 * the value and the seq, all a layout-2 key needs, so converting one is a
 * delete and a put, with no record read or parsed.  It goes in batches of
 * UPGRADE_BATCH keys, one write transaction each: a crash in between
 * leaves keys of both layouts, which the next open finishes (the layout
 * key is written only once none of layout 1 is left, and searches never
 * run before that).  With PostgreSQL, brokers opening at once may collide:
 * a batch that loses a conflict runs again.
 */
#include "auditidx.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char layout_key[] = "audit_index";

#define UPGRADE_BATCH 20000
#define UPGRADE_TRIES 50
#define OLD_MIN 11 /* field, \0, value (may be empty), \0, be64 seq */

/* the bucket size; only tests change it (auditidx_test_bits) */
static unsigned bucket_bits = AUDITIDX_BITS;

void
auditidx_test_bits(unsigned bits)
{
	bucket_bits = bits < 63 ? bits : 63;
}

uint64_t
auditidx_bucket(uint64_t seq)
{
	uint64_t b = seq >> bucket_bits;

	return b < UINT32_MAX ? b : UINT32_MAX;
}

static void
be32(uint8_t *p, uint64_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* value as n bytes (cut at AUDITIDX_VALUE_MAX) */
static size_t
prefix_n(uint8_t *key, char field, uint64_t bucket, const char *value, size_t n)
{
	if (n > AUDITIDX_VALUE_MAX)
		n = AUDITIDX_VALUE_MAX;
	key[0] = (uint8_t)field;
	key[1] = AUDITIDX_LAYOUT;
	be32(key + 2, bucket < UINT32_MAX ? bucket : UINT32_MAX);
	memcpy(key + 6, value, n);
	key[6 + n] = 0;
	return n + 7;
}

size_t
auditidx_prefix(uint8_t *key, char field, uint64_t bucket, const char *value)
{
	return prefix_n(key, field, bucket, value, strlen(value));
}

size_t
auditidx_key(uint8_t *key, char field, const char *value, uint64_t seq)
{
	size_t n = auditidx_prefix(key, field, auditidx_bucket(seq), value);

	store_be64(key + n, seq);
	return n + 8;
}

int
auditidx_mark(struct store_txn *t)
{
	uint8_t v[2] = { AUDITIDX_LAYOUT, (uint8_t)bucket_bits };

	return store_put(t, TBL_META, layout_key, sizeof(layout_key) - 1, v, 2);
}

/* The layout key, if any, is this build's: 1; absent: 0; else an error. */
static int
check_mark(struct store_txn *t, struct brk_error *err)
{
	struct store_val v;
	const uint8_t *p;
	int r;

	r = store_get(t, TBL_META, layout_key, sizeof(layout_key) - 1, &v);
	if (r == BRK_ERR_NOTFOUND)
		return 0;
	if (r != 0)
		return brk_error_set(err, r,
		    "store: cannot read the audit "
		    "index layout");
	p = v.data;
	if (v.len != 2 || p[0] != AUDITIDX_LAYOUT || p[1] != bucket_bits)
		return brk_error_set(err, BRK_ERR_INTERNAL,
		    "store: the audit index has layout %u with %u-bit "
		    "buckets; this broker reads layout %u with %u-bit buckets",
		    v.len > 0 ? p[0] : 0, v.len > 1 ? p[1] : 0, AUDITIDX_LAYOUT,
		    bucket_bits);
	return 1;
}

/* Whether the index has any key. */
static int
index_empty(struct store_txn *t, bool *empty)
{
	struct store_cursor *c = NULL;
	struct store_val k;
	int r;

	*empty = false;
	if ((r = store_cursor_open(t, TBL_AUDIT_IDX, &c)) != 0)
		return r;
	r = store_cursor_first(c, &k, NULL);
	store_cursor_close(c);
	if (r == BRK_ERR_NOTFOUND)
		*empty = true;
	return r == BRK_ERR_NOTFOUND ? 0 : r;
}

/* Layout-1 keys gathered for one batch, back to back. */
struct batch {
	uint8_t *buf;
	size_t used, n;
};

/*
 * Gather up to UPGRADE_BATCH layout-1 keys.  In each field they sort
 * before the layout-2 ones (second byte 0 < 2), so a layout-2 key sends
 * the cursor on to the next field.
 */
static int
gather(struct store_txn *t, struct batch *b, struct brk_error *err)
{
	struct store_cursor *c = NULL;
	struct store_val k;
	const uint8_t *p;
	uint8_t skip[2];
	int r;

	b->used = b->n = 0;
	if ((r = store_cursor_open(t, TBL_AUDIT_IDX, &c)) != 0)
		return r;
	for (r = store_cursor_first(c, &k, NULL);
	     r == 0 && b->n < UPGRADE_BATCH;) {
		p = k.data;
		if (k.len >= 2 && p[1] == AUDITIDX_LAYOUT && p[0] != 0xff) {
			skip[0] = p[0];
			skip[1] = 0xff;
			r = store_cursor_seek(c, skip, 2, &k, NULL);
			continue;
		}
		if (k.len < OLD_MIN || k.len > OLD_MIN + AUDITIDX_VALUE_MAX ||
		    p[1] != 0 || p[k.len - 9] != 0 ||
		    memchr(p + 2, 0, k.len - OLD_MIN) != NULL) {
			r = brk_error_set(err, BRK_ERR_INTERNAL,
			    "store: an audit index key of no known layout "
			    "(%zu bytes, field 0x%02x)",
			    k.len, p[0]);
			break;
		}
		/* the value's length (0 to 256) in two bytes, then the key */
		b->buf[b->used] = (uint8_t)((k.len - OLD_MIN) >> 8);
		b->buf[b->used + 1] = (uint8_t)(k.len - OLD_MIN);
		memcpy(b->buf + b->used + 2, p, k.len);
		b->used += 2 + k.len;
		b->n++;
		r = store_cursor_next(c, &k, NULL);
	}
	store_cursor_close(c);
	return r == 0 || r == BRK_ERR_NOTFOUND ? 0 : r;
}

/* Replace the gathered keys by their layout-2 form. */
static int
convert(struct store_txn *t, const struct batch *b)
{
	uint8_t key[AUDITIDX_KEY_MAX];
	const uint8_t *p;
	size_t off, vlen, n;
	int r;

	for (off = 0; off < b->used; off += 2 + OLD_MIN + vlen) {
		vlen = (size_t)b->buf[off] << 8 | b->buf[off + 1];
		p = b->buf + off + 2;
		n = prefix_n(key, (char)p[0],
		    auditidx_bucket(store_get_be64(p + 3 + vlen)),
		    (const char *)p + 2, vlen);
		memcpy(key + n, p + 3 + vlen, 8);
		if ((r = store_del(t, TBL_AUDIT_IDX, p, OLD_MIN + vlen)) != 0 ||
		    (r = store_put(t, TBL_AUDIT_IDX, key, n + 8, "", 0)) != 0)
			return r;
	}
	return 0;
}

/* One batch in one write transaction; *done when none was left (the
 * layout key is then written).  BRK_ERR_BUSY: it lost a conflict. */
static int
one_batch(struct store *s, struct batch *b, bool *done, struct brk_error *err)
{
	struct store_txn *t = NULL;
	bool lost;
	int r;

	*done = false;
	if ((r = store_begin(s, true, &t)) != 0)
		return r;
	if ((r = check_mark(t, err)) == 1) { /* another broker finished */
		store_abort(t);
		*done = true;
		return 0;
	}
	if (r == 0 && (r = gather(t, b, err)) == 0)
		r = b->n > 0 ? convert(t, b) : auditidx_mark(t);
	if ((lost = store_conflicted(t)) || r != 0) {
		store_abort(t);
		return lost ? BRK_ERR_BUSY : r;
	}
	if ((r = store_commit(t)) == 0)
		*done = b->n == 0;
	return r;
}

int
auditidx_upgrade(struct store *s, struct brk_error *err)
{
	struct store_txn *t = NULL;
	struct batch b = { 0 };
	bool empty = false, done = false;
	int r, tries = 0;

	err->msg[0] = '\0';
	if ((r = store_begin(s, false, &t)) != 0)
		return brk_error_set(err, r,
		    "store: cannot read the audit "
		    "index layout");
	if ((r = check_mark(t, err)) == 0 && (r = index_empty(t, &empty)) != 0)
		brk_error_set(err, r, "store: cannot read the audit index");
	store_abort(t);
	/* this layout; or a new store, whose first record writes the key */
	if (r != 0 || empty)
		return r == 1 ? 0 : r;
	if ((b.buf = malloc((size_t)UPGRADE_BATCH *
		 (2 + OLD_MIN + AUDITIDX_VALUE_MAX))) == NULL)
		return brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
	while (!done) {
		r = one_batch(s, &b, &done, err);
		if (r == BRK_ERR_BUSY && ++tries < UPGRADE_TRIES)
			continue;
		if (r != 0) {
			if (err->msg[0] == '\0') /* a store error */
				brk_error_set(err, r,
				    "store: the upgrade of "
				    "the audit index failed");
			break;
		}
	}
	free(b.buf);
	return r;
}
