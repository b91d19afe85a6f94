/*
 * audit.c - appending to and verifying the hash-chained audit trail.
 *
 * The chain head (last seq and hash) lives in the meta table and is updated
 * in the same transaction as each record, so a crash can never leave a
 * record without its head or the reverse.  Secondary index entries
 * (by user, resource, action, request) are written alongside for search.
 */
#include "audit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

static const char head_key[] = "audit_head";

static void
hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* hash = hex(SHA-256(canonical form of rec without "hash")). */
static int
record_hash(json_t *rec, char out[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	char *canon;

	canon = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENSURE_ASCII);
	if (canon == NULL)
		return BRK_ERR_NOMEM;
	SHA256((const uint8_t *)canon, strlen(canon), md);
	free(canon);
	hex(md, sizeof(md), out);
	return 0;
}

static int
index_put(struct store_txn *t, char field, const char *value, uint64_t seq)
{
	uint8_t key[320];
	size_t n;

	if (value == NULL || value[0] == '\0')
		return 0;
	n = strlen(value);
	if (n > 256)
		n = 256;
	key[0] = (uint8_t)field;
	key[1] = 0;
	memcpy(key + 2, value, n);
	key[2 + n] = 0;
	store_be64(key + 3 + n, seq);
	return store_put(t, TBL_AUDIT_IDX, key, n + 11, "", 0);
}

static json_t *
nullable(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

int
audit_append(struct store_txn *t, int64_t now, const struct audit_event *ev,
    uint64_t *seq)
{
	struct store_val v;
	uint8_t head[8 + 65], key[8];
	char prev[65], hash[65];
	uint64_t next = 1;
	json_t *rec = NULL;
	char *text = NULL;
	int r;

	memset(prev, '0', 64);
	prev[64] = '\0';
	r = store_get(t, TBL_META, head_key, sizeof(head_key) - 1, &v);
	if (r == 0 && v.len == sizeof(head)) {
		next = store_get_be64(v.data) + 1;
		memcpy(prev, (const uint8_t *)v.data + 8, 65);
	} else if (r != BRK_ERR_NOTFOUND) {
		r = r != 0 ? r : BRK_ERR_INTERNAL;
		goto out;
	}
	r = BRK_ERR_NOMEM;
	rec = json_pack("{s:i, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:O, s:s}", "v", 1, "seq", (json_int_t)next, "ts",
	    (json_int_t)now, "action", ev->action, "actor", nullable(ev->actor),
	    "caller", nullable(ev->caller), "target", nullable(ev->target),
	    "user", nullable(ev->user), "resource", nullable(ev->resource),
	    "reason", nullable(ev->reason),
	    "details", ev->details != NULL ? ev->details : json_null(),
	    "prev", prev);
	if (rec == NULL || (r = record_hash(rec, hash)) != 0)
		goto out;
	r = BRK_ERR_NOMEM;
	if (json_object_set_new(rec, "hash", json_string(hash)) != 0 ||
	    (text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENSURE_ASCII)) == NULL)
		goto out;
	store_be64(key, next);
	store_be64(head, next);
	memcpy(head + 8, hash, 65);
	if ((r = store_put(t, TBL_AUDIT, key, 8, text, strlen(text))) != 0 ||
	    (r = store_put(t, TBL_META, head_key, sizeof(head_key) - 1, head,
	    sizeof(head))) != 0 ||
	    (r = index_put(t, 'u', ev->user, next)) != 0 ||
	    (r = index_put(t, 'r', ev->resource, next)) != 0 ||
	    (r = index_put(t, 'a', ev->action, next)) != 0 ||
	    (r = index_put(t, 't', ev->target, next)) != 0)
		goto out;
	if (seq != NULL)
		*seq = next;
	r = 0;
out:
	free(text);
	json_decref(rec);
	return r;
}

json_t *
audit_record_json(const struct store_val *v)
{
	json_t *o = json_loadb(v->data, v->len, 0, NULL);

	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* Check one record against the expected seq and prev; fills hash. */
static int
verify_one(const struct store_val *k, const struct store_val *v,
    uint64_t want_seq, const char *prev, char hash[65],
    struct brk_error *err)
{
	json_t *rec = NULL, *h;
	char calc[65];
	int r = BRK_ERR_VERIFY;

	if (k->len != 8 || store_get_be64(k->data) != want_seq) {
		brk_error_set(err, r, "record %llu is missing or out of order",
		    (unsigned long long)want_seq);
		goto out;
	}
	if ((rec = audit_record_json(v)) == NULL) {
		brk_error_set(err, r, "record %llu is not valid JSON",
		    (unsigned long long)want_seq);
		goto out;
	}
	h = json_object_get(rec, "hash");
	if (!json_is_string(h) || json_string_length(h) != 64 ||
	    json_integer_value(json_object_get(rec, "seq")) !=
	    (json_int_t)want_seq ||
	    !json_is_string(json_object_get(rec, "prev")) ||
	    strcmp(json_string_value(json_object_get(rec, "prev")), prev) != 0) {
		brk_error_set(err, r, "record %llu does not follow record %llu",
		    (unsigned long long)want_seq,
		    (unsigned long long)want_seq - 1);
		goto out;
	}
	memcpy(hash, json_string_value(h), 65);
	json_object_del(rec, "hash");
	if (record_hash(rec, calc) != 0 || strcmp(calc, hash) != 0) {
		brk_error_set(err, r, "record %llu was altered (hash mismatch)",
		    (unsigned long long)want_seq);
		goto out;
	}
	r = 0;
out:
	json_decref(rec);
	return r;
}

/* After a prune the first kept record's prev is the trusted start. */
static int
pruned_prev(const struct store_val *v, char prev[65])
{
	json_t *rec = audit_record_json(v);
	const char *p = json_string_value(json_object_get(rec, "prev"));
	int r = BRK_ERR_VERIFY;

	if (p != NULL && strlen(p) == 64) {
		memcpy(prev, p, 65);
		r = 0;
	}
	json_decref(rec);
	return r;
}

int
audit_verify(struct store_txn *t, uint64_t *count, uint64_t *bad_seq,
    struct brk_error *err)
{
	struct store_cursor *c = NULL;
	struct store_val k, v, head;
	char prev[65], hash[65];
	uint64_t seq = 0, last = 0;
	bool first = true;
	int r, rc;

	*count = 0;
	*bad_seq = 0;
	memset(prev, '0', 64);
	prev[64] = '\0';
	rc = store_get(t, TBL_META, head_key, sizeof(head_key) - 1, &head);
	if (rc == 0 && head.len == 8 + 65)
		last = store_get_be64(head.data);
	if ((r = store_cursor_open(t, TBL_AUDIT, &c)) != 0)
		goto out;
	for (rc = store_cursor_first(c, &k, &v); rc == 0;
	    rc = store_cursor_next(c, &k, &v)) {
		if (first && k.len == 8) {
			first = false;
			seq = store_get_be64(k.data) - 1;
			if (seq != 0 && (r = pruned_prev(&v, prev)) != 0)
				goto out;
		}
		seq++;
		if ((r = verify_one(&k, &v, seq, prev, hash, err)) != 0) {
			*bad_seq = seq;
			goto out;
		}
		memcpy(prev, hash, 65);
		(*count)++;
	}
	if (rc != BRK_ERR_NOTFOUND) {
		r = rc;
		goto out;
	}
	r = BRK_ERR_VERIFY;
	if (seq != last) {
		*bad_seq = seq + 1;
		brk_error_set(err, r, "the chain ends at %llu but its head "
		    "says %llu", (unsigned long long)seq,
		    (unsigned long long)last);
		goto out;
	}
	if (last != 0 && memcmp((const uint8_t *)head.data + 8, prev, 65) != 0) {
		*bad_seq = last;
		brk_error_set(err, r, "the last record does not match the "
		    "chain head");
		goto out;
	}
	r = 0;
out:
	store_cursor_close(c);
	return r;
}

int
audit_by(struct store_txn *t, char field, const char *value, size_t limit,
    json_t *out)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	uint8_t prefix[260], key[8];
	size_t n = strlen(value), got = 0;
	json_t *rec;
	int r, rc;

	if (n > 256)
		n = 256;
	prefix[0] = (uint8_t)field;
	prefix[1] = 0;
	memcpy(prefix + 2, value, n);
	prefix[2 + n] = 0;
	if ((r = store_cursor_open(t, TBL_AUDIT_IDX, &c)) != 0)
		return r;
	for (rc = store_cursor_seek(c, prefix, n + 3, &k, NULL);
	    rc == 0 && got < limit; rc = store_cursor_next(c, &k, NULL)) {
		if (k.len != n + 11 || memcmp(k.data, prefix, n + 3) != 0)
			break;
		memcpy(key, (const uint8_t *)k.data + n + 3, 8);
		if (store_get(t, TBL_AUDIT, key, 8, &v) != 0)
			continue;	/* pruned */
		if ((rec = audit_record_json(&v)) != NULL) {
			json_object_del(rec, "prev");
			json_object_del(rec, "hash");
			json_array_append_new(out, rec);
			got++;
		}
	}
	r = rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}
