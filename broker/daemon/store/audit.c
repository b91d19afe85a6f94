/*
 * audit.c - appending to, verifying, searching and pruning the hash-chained
 * audit trail.
 *
 * The chain head (last seq and hash) lives in the meta table and is updated
 * in the same transaction as each record, so a crash can never leave a
 * record without its head or the reverse.  Secondary index entries
 * (by user, resource, action, request, actor) are written alongside.
 *
 * The one idea: a record is stored as its canonical form with the hash
 * member spliced in (audit.h), so the hot paths work on bytes at known
 * places.  Verifying hashes the stored text with that member cut out and
 * compares prev at its fixed offset; only a record that fails is parsed,
 * to say how it is broken.
 */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auditidx.h"
#include "jsonout.h"

static const char head_key[] = "audit_head";
static const char floor_key[] = "audit_floor";
static const char anchor_key[] = "audit_anchor";

/* ,"hash":"<64 hex>" then ,"prev":"<64 hex>" */
#define HASH_TAG ",\"hash\":\""
#define PREV_TAG "\",\"prev\":\""
#define TAG_LEN 9			       /* both tags are 9 bytes */
#define CUT_LEN (TAG_LEN + AUDIT_HASH_LEN + 1) /* the hash member */
#define SPAN (CUT_LEN + TAG_LEN + AUDIT_HASH_LEN + 1) /* to prev's " */
#define TS_SLACK 300 /* seconds ts may run backwards between records */

static const char zeros[AUDIT_HASH_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

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

/* Where the parts of a stored record are (offsets into its text). */
struct loc {
	size_t cut;	  /* the hash member: [cut, cut + CUT_LEN) */
	const char *hash; /* 64 hex digits */
	const char *prev; /* 64 hex digits */
	uint64_t seq;
	int64_t ts;
};

/* A top-level integer member ,"name":N after from (scalars only there). */
static bool
int_after(const char *p, size_t n, size_t from, const char *tag, int64_t *out)
{
	const char *q = memmem(p + from, n - from, tag, strlen(tag));
	int64_t v = 0;
	bool neg = false;

	if (q == NULL)
		return false;
	q += strlen(tag);
	if (q < p + n && *q == '-') {
		neg = true;
		q++;
	}
	if (q >= p + n || *q < '0' || *q > '9')
		return false;
	while (q < p + n && *q >= '0' && *q <= '9' && v < INT64_MAX / 10)
		v = v * 10 + (*q++ - '0');
	*out = neg ? -v : v;
	return true;
}

/*
 * Find the top-level hash and prev members of a stored record: the last
 * ,"hash":" (scanning back from the end, over the short scalar tail).
 * The hex digits are not checked here: callers compare them with hex they
 * trust.  ts is read only when want_ts.
 */
static bool
locate(const char *p, size_t n, struct loc *l, bool want_ts)
{
	const char *q;
	int64_t v;

	if (n < SPAN + 2)
		return false;
	for (q = p + n - SPAN; q > p; q--) {
		if (*q != ',' || q[2] != 'h' ||
		    memcmp(q, HASH_TAG, TAG_LEN) != 0)
			continue;
		if (memcmp(q + TAG_LEN + AUDIT_HASH_LEN, PREV_TAG,
			TAG_LEN + 1) != 0 ||
		    q[SPAN - 1] != '"')
			return false;
		l->cut = (size_t)(q - p);
		l->hash = q + TAG_LEN;
		l->prev = q + CUT_LEN + TAG_LEN;
		if (!int_after(p, n, l->cut + SPAN, ",\"seq\":", &v) || v < 1)
			return false;
		l->seq = (uint64_t)v;
		l->ts = 0;
		return !want_ts ||
		    int_after(p, n, l->cut + SPAN, ",\"ts\":", &l->ts);
	}
	return false;
}

/* hex(SHA-256(text without the hash member)) into out. */
static int
stored_hash(EVP_MD_CTX *ctx, const EVP_MD *md, const char *p, size_t n,
    const struct loc *l, char out[65])
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;

	if (EVP_DigestInit_ex2(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, p, l->cut) != 1 ||
	    EVP_DigestUpdate(ctx, p + l->cut + CUT_LEN, n - l->cut - CUT_LEN) !=
		1 ||
	    EVP_DigestFinal_ex(ctx, d, &dl) != 1 || dl != 32)
		return BRK_ERR_CRYPTO;
	hex(d, 32, out);
	return 0;
}

static int
index_put(struct store_txn *t, char field, const char *value, uint64_t seq)
{
	uint8_t key[AUDITIDX_KEY_MAX];
	size_t n;

	if (value == NULL || value[0] == '\0')
		return 0;
	n = auditidx_key(key, field, value, seq);
	return store_put(t, TBL_AUDIT_IDX, key, n, "", 0);
}

static json_t *
nullable(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

int
audit_head(struct store_txn *t, uint64_t *seq, char hash[65])
{
	struct store_val v;
	int r;

	*seq = 0;
	memcpy(hash, zeros, 65);
	r = store_get(t, TBL_META, head_key, sizeof(head_key) - 1, &v);
	if (r == BRK_ERR_NOTFOUND)
		return 0;
	if (r != 0)
		return r;
	if (v.len != 8 + 65 || ((const char *)v.data)[8 + 64] != '\0')
		return BRK_ERR_INTERNAL;
	*seq = store_get_be64(v.data);
	memcpy(hash, (const uint8_t *)v.data + 8, 65);
	return 0;
}

static void
put_nullable(struct jsonout *o, const char *key, const char *s)
{
	jsonout_key(o, key);
	if (s != NULL)
		jsonout_str(o, s);
	else
		jsonout_null(o);
}

/* The canonical text written directly: the members of the tree below in
 * byte order of their keys, as JSON_SORT_KEYS puts them.  NULL with
 * *unsupported for what only jansson writes (jsonout.h). */
static char *
canon_text(uint64_t next, int64_t now, const struct audit_event *ev,
    const char *prev, size_t *n, bool *unsupported)
{
	struct jsonout o;

	if (ev->action == NULL) { /* json_pack() refuses it */
		*unsupported = true;
		return NULL;
	}
	jsonout_init(&o);
	jsonout_open(&o, '{');
	jsonout_key(&o, "action");
	jsonout_str(&o, ev->action);
	put_nullable(&o, "actor", ev->actor);
	put_nullable(&o, "caller", ev->caller);
	jsonout_key(&o, "details");
	if (ev->details != NULL)
		jsonout_tree(&o, ev->details, true);
	else
		jsonout_null(&o);
	jsonout_key(&o, "prev");
	jsonout_str(&o, prev);
	put_nullable(&o, "reason", ev->reason);
	put_nullable(&o, "resource", ev->resource);
	jsonout_key(&o, "seq");
	jsonout_int(&o, (json_int_t)next);
	put_nullable(&o, "target", ev->target);
	jsonout_key(&o, "ts");
	jsonout_int(&o, (json_int_t)now);
	put_nullable(&o, "user", ev->user);
	jsonout_key(&o, "v");
	jsonout_int(&o, 1);
	jsonout_close(&o, '}');
	return jsonout_finish(&o, n, unsupported);
}

/* The canonical text of the record: json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENSURE_ASCII) of its tree, byte for byte, as
 * verification recomputes it; written directly unless jansson must. */
static char *
canon_record(uint64_t next, int64_t now, const struct audit_event *ev,
    const char *prev, size_t *n)
{
	bool unsupported;
	char *canon = canon_text(next, now, ev, prev, n, &unsupported);
	json_t *rec;

	if (canon != NULL || !unsupported)
		return canon;
	rec = json_pack("{s:i, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o,"
			" s:O, s:s}",
	    "v", 1, "seq", (json_int_t)next, "ts", (json_int_t)now, "action",
	    ev->action, "actor", nullable(ev->actor), "caller",
	    nullable(ev->caller), "target", nullable(ev->target), "user",
	    nullable(ev->user), "resource", nullable(ev->resource), "reason",
	    nullable(ev->reason), "details",
	    ev->details != NULL ? ev->details : json_null(), "prev", prev);
	if (rec != NULL)
		canon = jsonout_dumps_any(rec, true, n);
	json_decref(rec);
	return canon;
}

int
audit_append(struct store_txn *t, int64_t now, const struct audit_event *ev,
    uint64_t *seq)
{
	uint8_t head[8 + 65], key[8], d[32];
	char prev[65], hash[65], *canon = NULL, *text = NULL, *at;
	uint64_t last = 0, next;
	size_t n;
	int r;

	if ((r = audit_head(t, &last, prev)) != 0)
		goto out;
	next = last + 1;
	r = BRK_ERR_NOMEM;
	if ((canon = canon_record(next, now, ev, prev, &n)) == NULL)
		goto out;
	if (EVP_Digest(canon, n, d, NULL, EVP_sha256(), NULL) != 1) {
		r = BRK_ERR_CRYPTO;
		goto out;
	}
	hex(d, sizeof(d), hash);
	/* splice ,"hash":"..." in before the top-level ,"prev":" (the last
	 * one: only scalars follow it) */
	r = BRK_ERR_INTERNAL;
	at = NULL;
	for (size_t end = n; end > 0;) {
		char *q = memrchr(canon, ',', end);
		if (q == NULL)
			break;
		end = (size_t)(q - canon);
		/* the last comma may have fewer than TAG_LEN bytes after it */
		if (n - end >= TAG_LEN &&
		    memcmp(q, &PREV_TAG[1], TAG_LEN) == 0) { /* ,"prev":" */
			at = q;
			break;
		}
	}
	if (at == NULL)
		goto out;
	r = BRK_ERR_NOMEM;
	if ((text = malloc(n + CUT_LEN + 1)) == NULL)
		goto out;
	memcpy(text, canon, (size_t)(at - canon));
	memcpy(text + (at - canon), HASH_TAG, TAG_LEN);
	memcpy(text + (at - canon) + TAG_LEN, hash, AUDIT_HASH_LEN);
	text[(at - canon) + TAG_LEN + AUDIT_HASH_LEN] = '"';
	memcpy(text + (at - canon) + CUT_LEN, at, n - (size_t)(at - canon) + 1);
	store_be64(key, next);
	store_be64(head, next);
	memcpy(head + 8, hash, 65);
	if ((r = store_put(t, TBL_AUDIT, key, 8, text, n + CUT_LEN)) != 0 ||
	    (r = store_put(t, TBL_META, head_key, sizeof(head_key) - 1, head,
		 sizeof(head))) != 0 ||
	    (r = index_put(t, 'u', ev->user, next)) != 0 ||
	    (r = index_put(t, 'r', ev->resource, next)) != 0 ||
	    (r = index_put(t, 'a', ev->action, next)) != 0 ||
	    (r = index_put(t, 't', ev->target, next)) != 0)
		goto out;
	if (ev->actor != NULL &&
	    (ev->user == NULL || strcmp(ev->actor, ev->user) != 0) &&
	    (r = index_put(t, 'A', ev->actor, next)) != 0)
		goto out;
	/* a new store's index starts in this layout (auditidx.h) */
	if (next == 1 && (r = auditidx_mark(t)) != 0)
		goto out;
	if (seq != NULL)
		*seq = next;
	r = 0;
out:
	free(text);
	free(canon);
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

/* The slow path: parse a record that failed the fast check, to say how. */
static void
explain(const struct store_val *v, uint64_t want_seq, const char *prev,
    struct brk_error *err)
{
	json_t *rec = audit_record_json(v), *h;
	const char *p;
	char *canon = NULL;
	uint8_t d[32];
	char calc[65], stored[65];

	if (rec == NULL) {
		brk_error_set(err, BRK_ERR_VERIFY,
		    "record %llu is not valid "
		    "JSON",
		    (unsigned long long)want_seq);
		return;
	}
	h = json_object_get(rec, "hash");
	p = json_string_value(json_object_get(rec, "prev"));
	if (json_integer_value(json_object_get(rec, "seq")) !=
	    (json_int_t)want_seq) {
		brk_error_set(err, BRK_ERR_VERIFY,
		    "record %llu is out of "
		    "order (it says it is record %lld)",
		    (unsigned long long)want_seq,
		    (long long)json_integer_value(json_object_get(rec, "seq")));
	} else if (!json_is_string(h) || json_string_length(h) != 64 ||
	    p == NULL || strcmp(p, prev) != 0) {
		brk_error_set(err, BRK_ERR_VERIFY,
		    "record %llu does not "
		    "follow record %llu",
		    (unsigned long long)want_seq,
		    (unsigned long long)want_seq - 1);
	} else {
		memcpy(stored, json_string_value(h), 65);
		json_object_del(rec, "hash");
		canon = json_dumps(
		    rec, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
		if (canon != NULL &&
		    EVP_Digest(canon, strlen(canon), d, NULL, EVP_sha256(),
			NULL) == 1) {
			hex(d, sizeof(d), calc);
			if (strcmp(calc, stored) != 0)
				brk_error_set(err, BRK_ERR_VERIFY,
				    "record %llu "
				    "was altered (hash mismatch)",
				    (unsigned long long)want_seq);
			else
				brk_error_set(err, BRK_ERR_VERIFY,
				    "record %llu "
				    "was altered (not stored in canonical "
				    "form)",
				    (unsigned long long)want_seq);
		} else
			brk_error_set(err, BRK_ERR_VERIFY,
			    "record %llu "
			    "cannot be checked",
			    (unsigned long long)want_seq);
	}
	free(canon);
	json_decref(rec);
}

static uint64_t
get_floor(struct store_txn *t)
{
	struct store_val v;

	if (store_get(t, TBL_META, floor_key, sizeof(floor_key) - 1, &v) == 0 &&
	    v.len == 8)
		return store_get_be64(v.data);
	return 1;
}

/* Check one record (key k, text v) fast; on failure explain it. */
static int
verify_one(EVP_MD_CTX *ctx, const EVP_MD *md, const struct store_val *k,
    const struct store_val *v, uint64_t want, const char *prev, char hash[65],
    struct brk_error *err)
{
	struct loc l;
	char calc[65];
	uint64_t ks;
	int r;

	if (k->len != 8 || (ks = store_get_be64(k->data)) != want)
		return brk_error_set(err, BRK_ERR_VERIFY,
		    "record %llu is "
		    "missing",
		    (unsigned long long)want);
	if (!locate(v->data, v->len, &l, false) || l.seq != want ||
	    memcmp(l.prev, prev, AUDIT_HASH_LEN) != 0)
		goto bad;
	if ((r = stored_hash(ctx, md, v->data, v->len, &l, calc)) != 0)
		return r;
	if (memcmp(calc, l.hash, AUDIT_HASH_LEN) != 0)
		goto bad;
	memcpy(hash, l.hash, AUDIT_HASH_LEN);
	hash[AUDIT_HASH_LEN] = '\0';
	return 0;
bad:
	explain(v, want, prev, err);
	return BRK_ERR_VERIFY;
}

int
audit_verify(struct store_txn *t, uint64_t *count, uint64_t *bad_seq,
    struct brk_error *err)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	EVP_MD_CTX *ctx = NULL;
	EVP_MD *md = NULL;
	struct loc l;
	char prev[65], hash[65], head[65];
	uint64_t seq = 0, last = 0, floor;
	bool first = true;
	int r, rc;

	*count = 0;
	*bad_seq = 0;
	memcpy(prev, zeros, 65);
	if ((r = audit_head(t, &last, head)) != 0)
		goto out;
	floor = get_floor(t);
	r = BRK_ERR_CRYPTO;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    (md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		goto out;
	if ((r = store_cursor_open(t, TBL_AUDIT, &c)) != 0)
		goto out;
	for (rc = store_cursor_first(c, &k, &v); rc == 0;
	     rc = store_cursor_next(c, &k, &v)) {
		if (first && k.len == 8) {
			first = false;
			seq = store_get_be64(k.data);
			/* after a prune the first kept record's prev is the
			 * trusted start; otherwise the log starts at 1 */
			if (seq > 1 && seq == floor &&
			    locate(v.data, v.len, &l, false)) {
				memcpy(prev, l.prev, AUDIT_HASH_LEN);
				prev[AUDIT_HASH_LEN] = '\0';
			} else if (seq > 1 && seq != floor) {
				r = BRK_ERR_VERIFY;
				*bad_seq = floor < seq ? floor : seq;
				brk_error_set(err, r,
				    "record %llu is missing: "
				    "the log starts at %llu, it should start "
				    "at %llu",
				    (unsigned long long)*bad_seq,
				    (unsigned long long)seq,
				    (unsigned long long)floor);
				goto out;
			}
			seq--;
		}
		seq++;
		if ((r = verify_one(ctx, md, &k, &v, seq, prev, hash, err)) !=
		    0) {
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
		*bad_seq = seq < last ? seq + 1 : last + 1;
		brk_error_set(err, r,
		    "the chain ends at %llu but its head "
		    "says %llu",
		    (unsigned long long)seq, (unsigned long long)last);
		goto out;
	}
	if (last != 0 && memcmp(head, prev, 65) != 0) {
		*bad_seq = last;
		brk_error_set(err, r,
		    "the last record does not match the "
		    "chain head");
		goto out;
	}
	r = 0;
out:
	EVP_MD_free(md);
	EVP_MD_CTX_free(ctx);
	store_cursor_close(c);
	return r;
}

/* The stored record seq, located.  BRK_ERR_NOTFOUND, BRK_ERR_VERIFY. */
static int
get_loc(struct store_txn *t, uint64_t seq, struct store_val *v, struct loc *l)
{
	uint8_t key[8];
	int r;

	store_be64(key, seq);
	if ((r = store_get(t, TBL_AUDIT, key, 8, v)) != 0)
		return r;
	return locate(v->data, v->len, l, true) ? 0 : BRK_ERR_VERIFY;
}

/* The first and last kept seq (0 and 0 when empty). */
static int
bounds(struct store_txn *t, uint64_t *lo, uint64_t *hi)
{
	struct store_cursor *c = NULL;
	struct store_val k;
	int r;

	*lo = *hi = 0;
	if ((r = store_cursor_open(t, TBL_AUDIT, &c)) != 0)
		return r;
	if ((r = store_cursor_first(c, &k, NULL)) == 0 && k.len == 8) {
		*lo = store_get_be64(k.data);
		if ((r = store_cursor_last(c, &k, NULL)) == 0 && k.len == 8)
			*hi = store_get_be64(k.data);
	}
	store_cursor_close(c);
	return r == BRK_ERR_NOTFOUND ? 0 : r;
}

int
audit_check_anchor(
    struct store_txn *t, uint64_t seq, const char *hash, struct brk_error *err)
{
	struct store_val v;
	struct loc l;
	uint64_t lo, hi;
	int r;

	if (hash == NULL || strlen(hash) != AUDIT_HASH_LEN || seq == 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "the anchor names "
		    "no record");
	if ((r = bounds(t, &lo, &hi)) != 0)
		return r;
	if (seq > hi)
		return brk_error_set(err, BRK_ERR_VERIFY,
		    "record %llu of the "
		    "anchor is missing: the log ends at %llu (truncated)",
		    (unsigned long long)seq, (unsigned long long)hi);
	if (seq + 1 == lo) {
		if ((r = get_loc(t, lo, &v, &l)) != 0)
			return brk_error_set(err, BRK_ERR_VERIFY,
			    "record %llu "
			    "cannot be read",
			    (unsigned long long)lo);
		if (memcmp(l.prev, hash, AUDIT_HASH_LEN) != 0)
			return brk_error_set(err, BRK_ERR_VERIFY,
			    "record %llu "
			    "does not follow the anchor's record %llu",
			    (unsigned long long)lo, (unsigned long long)seq);
		return 0;
	}
	if (seq < lo)
		return brk_error_set(err, BRK_ERR_VERIFY,
		    "record %llu of the "
		    "anchor was pruned (the log starts at %llu): use a newer "
		    "anchor",
		    (unsigned long long)seq, (unsigned long long)lo);
	if ((r = get_loc(t, seq, &v, &l)) != 0)
		return brk_error_set(err, BRK_ERR_VERIFY,
		    "record %llu of the "
		    "anchor is missing or unreadable",
		    (unsigned long long)seq);
	if (memcmp(l.hash, hash, AUDIT_HASH_LEN) != 0)
		return brk_error_set(err, BRK_ERR_VERIFY,
		    "record %llu does "
		    "not match the anchor (the chain was rewritten)",
		    (unsigned long long)seq);
	return 0;
}

int
audit_by(struct store_txn *t, char field, const char *value, size_t limit,
    json_t *out)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	uint8_t prefix[AUDITIDX_PREFIX_MAX], key[8];
	uint64_t lo, hi, b;
	size_t pl, got = 0;
	json_t *rec;
	int r, rc = 0;

	if ((r = bounds(t, &lo, &hi)) != 0 || hi == 0)
		return r;
	if ((r = store_cursor_open(t, TBL_AUDIT_IDX, &c)) != 0)
		return r;
	/* oldest first: the buckets in turn, each in seq order */
	for (b = auditidx_bucket(lo);
	     rc == 0 && got < limit && b <= auditidx_bucket(hi); b++) {
		pl = auditidx_prefix(prefix, field, b, value);
		for (rc = store_cursor_seek(c, prefix, pl, &k, NULL);
		     rc == 0 && got < limit;
		     rc = store_cursor_next(c, &k, NULL)) {
			if (k.len != pl + 8 || memcmp(k.data, prefix, pl) != 0)
				break;
			memcpy(key, (const uint8_t *)k.data + pl, 8);
			if (store_get(t, TBL_AUDIT, key, 8, &v) != 0)
				continue; /* pruned */
			if ((rec = audit_record_json(&v)) != NULL) {
				json_object_del(rec, "prev");
				json_object_del(rec, "hash");
				json_array_append_new(out, rec);
				got++;
			}
		}
		if (rc == BRK_ERR_NOTFOUND)
			rc = 0;
	}
	store_cursor_close(c);
	return rc;
}

/* --- search ------------------------------------------------------------ */

/* One condition: an index value, or either of two (the visibility), with
 * the bucket of the lowest seq wanted. */
struct term {
	struct store_cursor *c;
	char field[2];
	const char *value[2];
	uint64_t floor;
	int n;
};

static int
term_init(struct store_txn *t, struct term *tm, uint64_t lo, char field,
    const char *v, char field2, const char *v2)
{
	tm->n = field2 != 0 && v2 != NULL ? 2 : 1;
	tm->field[0] = field;
	tm->value[0] = v != NULL ? v : "";
	tm->field[1] = field2;
	tm->value[1] = v2 != NULL ? v2 : "";
	tm->floor = auditidx_bucket(lo);
	return store_cursor_open(t, TBL_AUDIT_IDX, &tm->c);
}

/* The largest seq <= bound under one value: in bound's bucket, else in the
 * next older one that has any, down to the floor; BRK_ERR_NOTFOUND if
 * none. */
static int
prefix_le(struct term *tm, int i, uint64_t bound, uint64_t *out)
{
	uint8_t key[AUDITIDX_KEY_MAX + 1];
	struct store_val k;
	uint64_t b = auditidx_bucket(bound);
	size_t pl;
	int r;

	for (;; b--) {
		pl = auditidx_prefix(key, tm->field[i], b, tm->value[i]);
		/* just past (value, bound): the first key after it, back one */
		store_be64(key + pl, bound);
		key[pl + 8] = 0;
		r = store_cursor_seek(tm->c, key, pl + 9, &k, NULL);
		if (r == 0)
			r = store_cursor_prev(tm->c, &k, NULL);
		else if (r == BRK_ERR_NOTFOUND)
			r = store_cursor_last(tm->c, &k, NULL);
		if (r != 0)
			return r;
		if (k.len == pl + 8 && memcmp(k.data, key, pl) == 0) {
			*out = store_get_be64((const uint8_t *)k.data + pl);
			return 0;
		}
		if (b <= tm->floor)
			return BRK_ERR_NOTFOUND;
		bound = UINT64_MAX;
	}
}

static int
term_le(struct term *tm, uint64_t bound, uint64_t *out)
{
	uint64_t best = 0, x;
	bool found = false;
	int i, r;

	for (i = 0; i < tm->n; i++) {
		r = prefix_le(tm, i, bound, &x);
		if (r == BRK_ERR_NOTFOUND)
			continue;
		if (r != 0)
			return r;
		if (!found || x > best)
			best = x;
		found = true;
	}
	if (!found)
		return BRK_ERR_NOTFOUND;
	*out = best;
	return 0;
}

/* ts of the first record at or after seq (seeking over gaps). */
static int
ts_at(struct store_cursor *c, uint64_t seq, int64_t *ts)
{
	struct store_val k, v;
	uint8_t key[8];
	struct loc l;
	int r;

	store_be64(key, seq);
	if ((r = store_cursor_seek(c, key, 8, &k, &v)) != 0)
		return r;
	if (!locate(v.data, v.len, &l, true))
		return BRK_ERR_VERIFY;
	*ts = l.ts;
	return 0;
}

/* The first seq in [lo, hi] whose ts >= when (hi + 1 when none),
 * assuming ts grows with seq (callers allow TS_SLACK). */
static int
seq_for_time(
    struct store_txn *t, uint64_t lo, uint64_t hi, int64_t when, uint64_t *out)
{
	struct store_cursor *c = NULL;
	uint64_t a = lo, b = hi + 1, mid;
	int64_t ts = 0;
	int r;

	if ((r = store_cursor_open(t, TBL_AUDIT, &c)) != 0)
		return r;
	while (a < b) {
		mid = a + (b - a) / 2;
		r = ts_at(c, mid, &ts);
		if (r == BRK_ERR_NOTFOUND || (r == 0 && ts >= when))
			b = mid;
		else if (r == 0 || r == BRK_ERR_VERIFY)
			a = mid + 1;
		else
			goto out;
	}
	*out = a;
	r = 0;
out:
	store_cursor_close(c);
	return r;
}

static bool
str_is(json_t *rec, const char *key, const char *want)
{
	const char *s = json_string_value(json_object_get(rec, key));

	return s != NULL && strcmp(s, want) == 0;
}

/* The exact test, on the parsed record. */
static bool
matches(const struct audit_query *q, json_t *rec)
{
	json_int_t ts = json_integer_value(json_object_get(rec, "ts"));

	if ((q->since != 0 && ts < q->since) ||
	    (q->until != 0 && ts > q->until))
		return false;
	if ((q->user != NULL && !str_is(rec, "user", q->user)) ||
	    (q->resource != NULL && !str_is(rec, "resource", q->resource)) ||
	    (q->action != NULL && !str_is(rec, "action", q->action)) ||
	    (q->target != NULL && !str_is(rec, "target", q->target)))
		return false;
	if (q->visible_to != NULL && !str_is(rec, "actor", q->visible_to) &&
	    !str_is(rec, "user", q->visible_to))
		return false;
	return true;
}

/* Fetch, test and append candidate seq; *got counts appended ones. */
static int
take(struct store_txn *t, const struct audit_query *q, uint64_t seq,
    json_t *out, size_t *got)
{
	struct store_val v;
	uint8_t key[8];
	json_t *rec;
	int r;

	store_be64(key, seq);
	if ((r = store_get(t, TBL_AUDIT, key, 8, &v)) != 0)
		return r == BRK_ERR_NOTFOUND ? 0 : r;
	if ((rec = audit_record_json(&v)) == NULL)
		return 0;
	if (!matches(q, rec)) {
		json_decref(rec);
		return 0;
	}
	json_object_del(rec, "prev");
	json_object_del(rec, "hash");
	if (json_array_append_new(out, rec) != 0)
		return BRK_ERR_NOMEM;
	(*got)++;
	return 0;
}

int
audit_search(struct store_txn *t, const struct audit_query *q, json_t *out)
{
	struct term tm[5];
	uint64_t lo, hi, cand, x;
	size_t nt = 0, i, agree = 0, got = 0;
	int r;

	memset(tm, 0, sizeof(tm));
	if ((r = bounds(t, &lo, &hi)) != 0 || hi == 0)
		goto out;
	if (q->since != 0 &&
	    (r = seq_for_time(t, lo, hi, q->since - TS_SLACK, &lo)) != 0)
		goto out;
	if (q->until != 0) {
		if ((r = seq_for_time(
			 t, lo, hi, q->until + TS_SLACK + 1, &x)) != 0)
			goto out;
		hi = x - 1;
	}
	if (lo == 0)
		lo = 1;
	if ((q->user != NULL &&
		(r = term_init(t, &tm[nt++], lo, 'u', q->user, 0, NULL)) !=
		    0) ||
	    (q->target != NULL &&
		(r = term_init(t, &tm[nt++], lo, 't', q->target, 0, NULL)) !=
		    0) ||
	    (q->resource != NULL &&
		(r = term_init(t, &tm[nt++], lo, 'r', q->resource, 0, NULL)) !=
		    0) ||
	    (q->action != NULL &&
		(r = term_init(t, &tm[nt++], lo, 'a', q->action, 0, NULL)) !=
		    0) ||
	    (q->visible_to != NULL &&
		(r = term_init(t, &tm[nt++], lo, 'u', q->visible_to, 'A',
		     q->visible_to)) != 0))
		goto out;
	/* leapfrog: every term must agree on the candidate, newest first */
	cand = hi;
	i = 0;
	while (cand >= lo && cand > 0 && got < q->limit) {
		if (nt == 0) {
			if ((r = take(t, q, cand, out, &got)) != 0)
				goto out;
			cand--;
			continue;
		}
		r = term_le(&tm[i], cand, &x);
		if (r == BRK_ERR_NOTFOUND)
			break;
		if (r != 0)
			goto out;
		if (x == cand)
			agree++;
		else {
			cand = x;
			agree = 1;
		}
		if (agree == nt) {
			if (cand < lo)
				break;
			if ((r = take(t, q, cand, out, &got)) != 0)
				goto out;
			cand--;
			agree = 0;
		}
		i = (i + 1) % nt;
	}
	r = 0;
out:
	for (i = 0; i < sizeof(tm) / sizeof(tm[0]); i++)
		store_cursor_close(tm[i].c);
	return r;
}

/* --- export, anchors, prune ------------------------------------------- */

int
audit_export(struct store_txn *t, uint64_t after, size_t max_records,
    size_t max_bytes, json_t *out, uint64_t *last, bool *more)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	uint8_t key[8];
	size_t n = 0, bytes = 0;
	int r, rc;

	*last = after;
	*more = false;
	if ((r = store_cursor_open(t, TBL_AUDIT, &c)) != 0)
		return r;
	store_be64(key, after + 1);
	for (rc = store_cursor_seek(c, key, 8, &k, &v); rc == 0;
	     rc = store_cursor_next(c, &k, &v)) {
		if (k.len != 8)
			continue;
		if (n >= max_records || (n > 0 && bytes + v.len > max_bytes)) {
			*more = true;
			break;
		}
		if (json_array_append_new(out, json_stringn(v.data, v.len)) !=
		    0) {
			rc = BRK_ERR_NOMEM;
			break;
		}
		*last = store_get_be64(k.data);
		bytes += v.len;
		n++;
	}
	r = rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}

int
audit_anchor_get(struct store_txn *t, uint64_t *seq, int64_t *at, char **text)
{
	struct store_val v;
	int r;

	*text = NULL;
	if ((r = store_get(
		 t, TBL_META, anchor_key, sizeof(anchor_key) - 1, &v)) != 0)
		return r;
	if (v.len < 16)
		return BRK_ERR_INTERNAL;
	if ((*text = strndup((const char *)v.data + 16, v.len - 16)) == NULL)
		return BRK_ERR_NOMEM;
	*seq = store_get_be64(v.data);
	*at = (int64_t)store_get_be64((const uint8_t *)v.data + 8);
	return 0;
}

int
audit_anchor_put(
    struct store_txn *t, uint64_t seq, int64_t at, const char *text)
{
	size_t n = strlen(text);
	uint8_t *buf = malloc(16 + n);
	int r;

	if (buf == NULL)
		return BRK_ERR_NOMEM;
	store_be64(buf, seq);
	store_be64(buf + 8, (uint64_t)at);
	memcpy(buf + 16, text, n);
	r = store_put(
	    t, TBL_META, anchor_key, sizeof(anchor_key) - 1, buf, 16 + n);
	free(buf);
	return r;
}

/* Delete the index entries of one parsed record. */
static int
unindex(struct store_txn *t, json_t *rec, uint64_t seq)
{
	static const struct {
		char f;
		const char *k;
	} idx[] = {
		{ 'u', "user" },
		{ 'r', "resource" },
		{ 'a', "action" },
		{ 't', "target" },
		{ 'A', "actor" },
	};
	uint8_t key[AUDITIDX_KEY_MAX];
	const char *s;
	size_t i, n;
	int r;

	for (i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		if ((s = json_string_value(json_object_get(rec, idx[i].k))) ==
			NULL ||
		    s[0] == '\0')
			continue;
		n = auditidx_key(key, idx[i].f, s, seq);
		r = store_del(t, TBL_AUDIT_IDX, key, n);
		if (r != 0 && r != BRK_ERR_NOTFOUND)
			return r;
	}
	return 0;
}

int
audit_prune(struct store_txn *t, int64_t before, uint64_t covered, size_t max,
    uint64_t *pruned, uint64_t *last_pruned, bool *more, bool *blocked)
{
	struct store_val v;
	struct loc l;
	uint64_t lo, hi, seq;
	uint8_t key[8];
	json_t *rec;
	int r;

	*pruned = *last_pruned = 0;
	*more = *blocked = false;
	if ((r = bounds(t, &lo, &hi)) != 0 || hi == 0)
		return r;
	for (seq = lo; seq <= hi; seq++) {
		if ((r = get_loc(t, seq, &v, &l)) != 0)
			return r == BRK_ERR_NOTFOUND ? BRK_ERR_VERIFY : r;
		if (l.ts >= before)
			break;
		if (seq > covered) {
			*blocked = true;
			break;
		}
		if (seq == hi) /* the newest record always stays */
			break;
		if (*pruned >= max) {
			*more = true;
			break;
		}
		if ((rec = audit_record_json(&v)) == NULL)
			return BRK_ERR_VERIFY;
		r = unindex(t, rec, seq);
		json_decref(rec);
		store_be64(key, seq);
		if (r != 0 || (r = store_del(t, TBL_AUDIT, key, 8)) != 0)
			return r;
		*last_pruned = seq;
		(*pruned)++;
	}
	if (*pruned == 0)
		return 0;
	store_be64(key, *last_pruned + 1);
	return store_put(t, TBL_META, floor_key, sizeof(floor_key) - 1, key, 8);
}
