/*
 * test_audit.c - the audit trail: the stored form, the fast verifier
 * (valid, every byte of a record altered, reordered, missing, truncated
 * against an anchor), search with its indexes, export and prune.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "auditfeed.h"
#include "auditidx.h"
#include "store.h"

static char dir[64];
static struct store *st;

static void
setup(void)
{
	struct brk_error err;

	snprintf(dir, sizeof(dir), "/tmp/brokeraudit.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(store_open(dir, 1 << 26, &st, &err), 0, "%s", err.msg);
}

static void
teardown(void)
{
	char cmd[128];

	store_free(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(audit, .init = setup, .fini = teardown);

/* n records: user u<i%users>, resource host:h<i%7>, action a<i%3>,
 * target r<i>, ts 1000+i*10, actor = user except every 5th (carol). */
static void
seed(int n, int users)
{
	struct store_txn *t;
	char user[16], res[16], act[16], tgt[16], why[32];
	json_t *d;
	int i;

	cr_assert_eq(store_begin(st, true, &t), 0);
	for (i = 1; i <= n; i++) {
		snprintf(user, sizeof(user), "u%d", i % users);
		snprintf(res, sizeof(res), "host:h%d", i % 7);
		snprintf(act, sizeof(act), "a%d", i % 3);
		snprintf(tgt, sizeof(tgt), "r%d", i);
		snprintf(why, sizeof(why), "reason \xc3\xa9 %d\n", i);
		d = json_pack("{s:i, s:s}", "n", i, "x", "\"quoted\"");
		cr_assert_eq(audit_append(t, 1000 + i * 10, &(struct audit_event){
		    .action = act, .actor = i % 5 == 0 ? "carol" : user,
		    .caller = "root", .target = tgt, .user = user,
		    .resource = res, .reason = why, .details = d }, NULL), 0);
		json_decref(d);
	}
	cr_assert_eq(store_commit(t), 0);
}

static int
verify(uint64_t *count, uint64_t *bad, struct brk_error *err)
{
	struct store_txn *t;
	int r;

	cr_assert_eq(store_begin(st, false, &t), 0);
	r = audit_verify(t, count, bad, err);
	store_abort(t);
	return r;
}

static void
get(uint64_t seq, char **text, size_t *len)
{
	struct store_txn *t;
	struct store_val v;
	uint8_t key[8];

	store_be64(key, seq);
	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_assert_eq(store_get(t, TBL_AUDIT, key, 8, &v), 0);
	*text = malloc(v.len);
	memcpy(*text, v.data, v.len);
	*len = v.len;
	store_abort(t);
}

static void
put(uint64_t seq, const char *text, size_t len)
{
	struct store_txn *t;
	uint8_t key[8];

	store_be64(key, seq);
	cr_assert_eq(store_begin(st, true, &t), 0);
	if (text != NULL)
		cr_assert_eq(store_put(t, TBL_AUDIT, key, 8, text, len), 0);
	else
		cr_assert_eq(store_del(t, TBL_AUDIT, key, 8), 0);
	cr_assert_eq(store_commit(t), 0);
}

Test(audit, stored_form_is_canonical_plus_hash)
{
	char *text, *canon;
	size_t len;
	json_t *rec;
	const char *at;

	seed(3, 2);
	get(2, &text, &len);
	rec = json_loadb(text, len, 0, NULL);
	cr_assert_not_null(rec);
	cr_assert_eq(json_string_length(json_object_get(rec, "hash")), 64);
	/* the hash member sits right before ,"prev":" */
	at = memmem(text, len, ",\"hash\":\"", 9);
	cr_assert_not_null(at);
	cr_assert_eq(memcmp(at + 74, ",\"prev\":\"", 9), 0);
	/* stored minus the member == the canonical form of the rest */
	json_object_del(rec, "hash");
	canon = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENSURE_ASCII);
	cr_assert_eq(strlen(canon), len - 74);
	cr_assert_eq(memcmp(canon, text, (size_t)(at - text)), 0);
	cr_assert_eq(memcmp(canon + (at - text), at + 74,
	    len - (size_t)(at - text) - 74), 0);
	free(canon);
	free(text);
	json_decref(rec);
}

/* Records written as text (ASCII, no real numbers) hold the same
 * canonical form as those written from a tree: every member, absent ones
 * as null, keys sorted at every level.  Fails when the text's members
 * leave byte order (checked by writing "resource" before "reason") or a
 * NULL member is left out (checked by skipping a null "caller"). */
Test(audit, text_written_records_are_canonical)
{
	struct brk_error err = { { 0 } };
	uint64_t count, bad;
	struct store_txn *t;
	char *text, *canon;
	size_t len;
	json_t *d, *rec;
	const char *at;
	uint64_t seq;
	int i;

	d = json_pack("{s:i, s:[s, {s:b, s:n, s:I}], s:{}, s:s}", "zz", 1,
	    "a", "x\"y\n", "k2", 1, "k1", "k10", (json_int_t)-7, "m", "B",
	    "b\tc");
	cr_assert_not_null(d);
	cr_assert_eq(store_begin(st, true, &t), 0);
	for (i = 0; i < 4; i++)
		cr_assert_eq(audit_append(t, 1000 + i,
				 &(struct audit_event){ .action = "grant.x",
				     .actor = i & 1 ? "bob" : NULL,
				     .caller = i & 2 ? "root" : NULL,
				     .target = i == 3 ? NULL : "r9",
				     .user = i == 2 ? NULL : "alice",
				     .resource = i == 1 ? NULL : "host:h/1",
				     .reason = i == 0 ? NULL : "why \"not\"",
				     .details = i == 3 ? NULL : d },
				 &seq),
		    0);
	cr_assert_eq(store_commit(t), 0);
	json_decref(d);
	for (seq = 1; seq <= 4; seq++) {
		get(seq, &text, &len);
		rec = json_loadb(text, len, 0, NULL);
		cr_assert_not_null(rec);
		cr_assert_eq(json_object_size(rec), 13);
		at = memmem(text, len, ",\"hash\":\"", 9);
		cr_assert_not_null(at);
		json_object_del(rec, "hash");
		canon = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS |
		    JSON_ENSURE_ASCII);
		cr_assert_eq(strlen(canon), len - 74, "%s", text);
		cr_assert_eq(memcmp(canon, text, (size_t)(at - text)), 0, "%s",
		    text);
		cr_assert_eq(memcmp(canon + (at - text), at + 74,
				 len - (size_t)(at - text) - 74),
		    0, "%s", text);
		free(canon);
		free(text);
		json_decref(rec);
	}
	cr_assert_eq(verify(&count, &bad, &err), 0, "%s", err.msg);
	cr_assert_eq(count, 4);
}

Test(audit, valid_chain_verifies)
{
	struct brk_error err = { { 0 } };
	uint64_t count, bad;

	cr_assert_eq(verify(&count, &bad, &err), 0);
	cr_assert_eq(count, 0);
	seed(50, 4);
	cr_assert_eq(verify(&count, &bad, &err), 0, "%s", err.msg);
	cr_assert_eq(count, 50);
}

Test(audit, any_altered_byte_is_found_at_its_record)
{
	struct brk_error err = { { 0 } };
	uint64_t count, bad;
	char *text, *copy;
	size_t len, i;

	seed(10, 3);
	get(5, &text, &len);
	copy = malloc(len);
	for (i = 0; i < len; i++) {
		memcpy(copy, text, len);
		copy[i] ^= 0x01;
		put(5, copy, len);
		cr_assert_eq(verify(&count, &bad, &err), BRK_ERR_VERIFY,
		    "byte %zu", i);
		cr_assert_eq(bad, 5, "byte %zu: bad %llu (%s)", i,
		    (unsigned long long)bad, err.msg);
	}
	put(5, text, len);
	cr_assert_eq(verify(&count, &bad, &err), 0);
	free(copy);
	free(text);
}

Test(audit, reordered_records_are_found)
{
	struct brk_error err = { { 0 } };
	uint64_t count, bad;
	char *a, *b;
	size_t la, lb;

	seed(10, 3);
	get(4, &a, &la);
	get(6, &b, &lb);
	put(4, b, lb);
	put(6, a, la);
	cr_assert_eq(verify(&count, &bad, &err), BRK_ERR_VERIFY);
	cr_assert_eq(bad, 4, "%s", err.msg);
	cr_assert(strstr(err.msg, "order") != NULL, "%s", err.msg);
	free(a);
	free(b);
}

Test(audit, missing_records_are_found)
{
	struct brk_error err = { { 0 } };
	uint64_t count, bad;

	seed(10, 3);
	put(7, NULL, 0);
	cr_assert_eq(verify(&count, &bad, &err), BRK_ERR_VERIFY);
	cr_assert_eq(bad, 7, "%s", err.msg);
	put(1, NULL, 0);
	cr_assert_eq(verify(&count, &bad, &err), BRK_ERR_VERIFY);
	cr_assert_eq(bad, 1, "%s", err.msg);
}

Test(audit, truncation_is_found_with_an_anchor)
{
	struct brk_error err = { { 0 } };
	struct store_txn *t;
	uint64_t head, count, bad;
	char hash[65];

	seed(10, 3);
	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_assert_eq(audit_head(t, &head, hash), 0);
	cr_assert_eq(head, 10);
	cr_assert_eq(audit_check_anchor(t, 10, hash, &err), 0, "%s", err.msg);
	cr_assert_eq(audit_check_anchor(t, 9, hash, &err), BRK_ERR_VERIFY);
	store_abort(t);
	/* drop the last two records and move the head back: the chain alone
	 * looks intact, the anchor does not */
	put(10, NULL, 0);
	put(9, NULL, 0);
	{
		char *text;
		size_t len;
		uint8_t h[8 + 65];
		const char *p;

		get(8, &text, &len);
		p = memmem(text, len, ",\"hash\":\"", 9);
		store_be64(h, 8);
		memcpy(h + 8, p + 9, 64);
		h[8 + 64] = '\0';
		cr_assert_eq(store_begin(st, true, &t), 0);
		cr_assert_eq(store_put(t, TBL_META, "audit_head", 10, h,
		    sizeof(h)), 0);
		cr_assert_eq(store_commit(t), 0);
		free(text);
	}
	cr_assert_eq(verify(&count, &bad, &err), 0, "%s", err.msg);
	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_assert_eq(audit_check_anchor(t, 10, hash, &err), BRK_ERR_VERIFY);
	cr_assert(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
	store_abort(t);
}

static json_t *
search(const struct audit_query *q)
{
	struct store_txn *t;
	json_t *a = json_array();

	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_assert_eq(audit_search(t, q, a), 0);
	store_abort(t);
	return a;
}

static int64_t
seq_of(json_t *a, size_t i)
{
	return json_integer_value(json_object_get(json_array_get(a, i),
	    "seq"));
}

/* The expected answer, by brute force over the seed's pattern. */
static size_t
brute(const struct audit_query *q, int n, int users, int64_t *want)
{
	char user[16], res[16], act[16], tgt[16];
	size_t got = 0;
	int i;

	for (i = n; i >= 1 && got < q->limit; i--) {
		int64_t ts = 1000 + i * 10;
		const char *actor;
		snprintf(user, sizeof(user), "u%d", i % users);
		snprintf(res, sizeof(res), "host:h%d", i % 7);
		snprintf(act, sizeof(act), "a%d", i % 3);
		snprintf(tgt, sizeof(tgt), "r%d", i);
		actor = i % 5 == 0 ? "carol" : user;
		if ((q->since && ts < q->since) || (q->until && ts > q->until) ||
		    (q->user && strcmp(q->user, user)) ||
		    (q->resource && strcmp(q->resource, res)) ||
		    (q->action && strcmp(q->action, act)) ||
		    (q->target && strcmp(q->target, tgt)) ||
		    (q->visible_to && strcmp(q->visible_to, user) &&
		    strcmp(q->visible_to, actor)))
			continue;
		want[got++] = i;
	}
	return got;
}

static const struct audit_query qs[] = {
	{ .limit = 10 },
	{ .user = "u3", .limit = 1000 },
	{ .user = "u3", .action = "a1", .limit = 1000 },
	{ .resource = "host:h2", .action = "a0", .limit = 5 },
	{ .target = "r77", .limit = 10 },
	{ .since = 3000, .until = 4000, .limit = 1000 },
	{ .since = 3000, .user = "u1", .resource = "host:h6", .limit = 1000 },
	{ .until = 1500, .limit = 1000 },
	{ .visible_to = "u2", .limit = 1000 },
	{ .visible_to = "carol", .limit = 1000 },
	{ .visible_to = "u2", .action = "a2", .since = 2000, .limit = 1000 },
	{ .user = "nobody", .limit = 10 },
	{ .since = 999999, .limit = 10 },
	{ .resource = "host:h3", .limit = 7 },
	{ .visible_to = "carol", .until = 2500, .limit = 3 },
};

/* Every query of qs against the brute force over n seeded records. */
static void
check_queries(int n, int users)
{
	int64_t want[1000];
	size_t i, j, got;
	json_t *a;

	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		got = brute(&qs[i], n, users, want);
		a = search(&qs[i]);
		cr_assert_eq(json_array_size(a), got,
		    "query %zu: %zu, want %zu", i, json_array_size(a), got);
		for (j = 0; j < got; j++)
			cr_assert_eq(seq_of(a, j), want[j], "query %zu row %zu",
			    i, j);
		cr_assert_null(json_object_get(json_array_get(a, 0), "hash"));
		json_decref(a);
	}
}

/* audit_by, oldest first: user u<k> holds records k, k + users, ... */
static void
check_by_user(int n, int users, int k, size_t limit)
{
	struct store_txn *t;
	char user[16];
	json_t *a = json_array();
	size_t j, want = 0;

	snprintf(user, sizeof(user), "u%d", k);
	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_assert_eq(audit_by(t, 'u', user, limit, a), 0);
	store_abort(t);
	for (j = 0; (k == 0 ? users : k) + (int)j * users <= n && want < limit;
	     j++)
		want++;
	cr_assert_eq(json_array_size(a), want, "by %s: %zu, want %zu", user,
	    json_array_size(a), want);
	for (j = 0; j < want; j++)
		cr_assert_eq(seq_of(a, j),
		    (k == 0 ? users : k) + (int64_t)j * users, "by %s row %zu",
		    user, j);
	json_decref(a);
}

Test(audit, search_matches_brute_force)
{
	seed(400, 11);
	check_queries(400, 11);
	check_by_user(400, 11, 3, 1000);
}

/*
 * Buckets of 8 records: 400 records span 51 of them, so every search and
 * audit_by crosses bucket borders (limits stopping inside a bucket, terms
 * whose next match is several buckets down, since/until cutting buckets).
 * Seen failing: prefix_le looking in bound's bucket only (searches lost
 * every older match), and audit_by starting at hi's bucket (lost rows).
 */
Test(audit, search_spans_buckets)
{
	auditidx_test_bits(3);
	seed(400, 11);
	check_queries(400, 11);
	check_by_user(400, 11, 3, 1000);
	check_by_user(400, 11, 5, 4);
	check_by_user(400, 11, 0, 1000);
}

/* Rewrite the whole index in layout 1 (field \0 value \0 be64 seq), as
 * a broker of before layout 2 left it, and forget the layout key. */
static void
index_to_layout1(void)
{
	struct store_cursor *c;
	struct store_txn *t;
	struct store_val k;
	uint8_t (*keys)[AUDITIDX_KEY_MAX], old[AUDITIDX_KEY_MAX];
	size_t lens[4096], n = 0, i, vlen;

	keys = malloc(4096 * sizeof(*keys));
	cr_assert_not_null(keys);
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(store_cursor_open(t, TBL_AUDIT_IDX, &c), 0);
	for (int r = store_cursor_first(c, &k, NULL); r == 0;
	     r = store_cursor_next(c, &k, NULL)) {
		cr_assert_lt(n, 4096);
		memcpy(keys[n], k.data, k.len);
		lens[n++] = k.len;
	}
	store_cursor_close(c);
	cr_assert_gt(n, 0);
	for (i = 0; i < n; i++) {
		cr_assert_eq(keys[i][1], AUDITIDX_LAYOUT);
		vlen = lens[i] - 15; /* field, 2, be32 bucket, \0, be64 */
		old[0] = keys[i][0];
		old[1] = 0;
		memcpy(old + 2, keys[i] + 6, vlen);
		old[2 + vlen] = 0;
		memcpy(old + 3 + vlen, keys[i] + lens[i] - 8, 8);
		cr_assert_eq(store_del(t, TBL_AUDIT_IDX, keys[i], lens[i]), 0);
		cr_assert_eq(store_put(t, TBL_AUDIT_IDX, old, vlen + 11, "", 0),
		    0);
	}
	cr_assert_eq(store_del(t, TBL_META, "audit_index", 11), 0);
	cr_assert_eq(store_commit(t), 0);
	free(keys);
}

static void
reopen(int want)
{
	struct brk_error err;

	store_free(st);
	st = NULL;
	cr_assert_eq(store_open(dir, 1 << 26, &st, &err), want, "%s", err.msg);
}

/*
 * A store written with the layout-1 index opens, converts it and answers
 * every search as before; what it writes next is found too.  Seen failing:
 * with the upgrade call taken out of the store's open (no result for any
 * indexed query), and with convert() putting the bucket of seq 0.
 */
Test(audit, layout1_index_is_upgraded_at_open)
{
	struct store_txn *t;
	struct store_val v;
	struct store_cursor *c;
	struct store_val k;
	int r;

	auditidx_test_bits(4);
	seed(300, 11);
	index_to_layout1();
	reopen(0);
	check_queries(300, 11);
	check_by_user(300, 11, 7, 1000);
	/* no layout-1 key is left, and the layout is recorded */
	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_assert_eq(store_get(t, TBL_META, "audit_index", 11, &v), 0);
	cr_assert_eq(v.len, 2);
	cr_assert_eq(((const uint8_t *)v.data)[0], AUDITIDX_LAYOUT);
	cr_assert_eq(store_cursor_open(t, TBL_AUDIT_IDX, &c), 0);
	for (r = store_cursor_first(c, &k, NULL); r == 0;
	     r = store_cursor_next(c, &k, NULL))
		cr_assert_eq(((const uint8_t *)k.data)[1], AUDITIDX_LAYOUT);
	store_cursor_close(c);
	store_abort(t);
	/* opening again changes nothing */
	reopen(0);
	check_queries(300, 11);
}

/* Another bucket size than the store's is refused, not misread.  Seen
 * failing with check_mark() comparing the layout byte only. */
Test(audit, other_bucket_size_is_refused)
{
	auditidx_test_bits(4);
	seed(20, 3);
	auditidx_test_bits(5);
	reopen(BRK_ERR_INTERNAL);
}

Test(audit, export_pages_and_resumes)
{
	struct store_txn *t;
	uint64_t last;
	bool more;
	json_t *a;
	json_t *rec;

	seed(25, 3);
	cr_assert_eq(store_begin(st, false, &t), 0);
	a = json_array();
	cr_assert_eq(audit_export(t, 0, 10, 1 << 20, a, &last, &more), 0);
	cr_assert_eq(json_array_size(a), 10);
	cr_assert_eq(last, 10);
	cr_assert(more);
	json_array_clear(a);
	cr_assert_eq(audit_export(t, 20, 10, 1 << 20, a, &last, &more), 0);
	cr_assert_eq(json_array_size(a), 5);
	cr_assert_eq(last, 25);
	cr_assert_not(more);
	rec = json_loads(json_string_value(json_array_get(a, 0)), 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(rec, "seq")), 21);
	json_decref(rec);
	json_array_clear(a);
	cr_assert_eq(audit_export(t, 0, 100, 1, a, &last, &more), 0);
	cr_assert_eq(json_array_size(a), 1);	/* at least one */
	json_decref(a);
	store_abort(t);
}

Test(audit, prune_keeps_the_chain_verifiable)
{
	struct brk_error err = { { 0 } };
	struct store_txn *t;
	uint64_t pruned, last, count, bad, head;
	char hash[65];
	bool more, blocked;
	json_t *a;

	seed(100, 3);
	cr_assert_eq(store_begin(st, true, &t), 0);
	/* nothing anchored: nothing pruned */
	cr_assert_eq(audit_prune(t, 1500, 0, 1000, &pruned, &last, &more,
	    &blocked), 0);
	cr_assert_eq(pruned, 0);
	cr_assert(blocked);
	/* anchored at 30: records 1..30 of ts < 1500 (i < 50) go */
	cr_assert_eq(audit_prune(t, 1500, 30, 20, &pruned, &last, &more,
	    &blocked), 0);
	cr_assert_eq(pruned, 20);
	cr_assert(more);
	cr_assert_eq(audit_prune(t, 1500, 30, 1000, &pruned, &last, &more,
	    &blocked), 0);
	cr_assert_eq(pruned, 10);
	cr_assert_eq(last, 30);
	cr_assert(blocked);
	cr_assert_eq(store_commit(t), 0);
	cr_assert_eq(verify(&count, &bad, &err), 0, "%s", err.msg);
	cr_assert_eq(count, 70);
	/* their index entries are gone too */
	cr_assert_eq(store_begin(st, false, &t), 0);
	a = json_array();
	cr_assert_eq(audit_search(t, &(struct audit_query){ .target = "r3",
	    .limit = 10 }, a), 0);
	cr_assert_eq(json_array_size(a), 0);
	cr_assert_eq(audit_by(t, 't', "r3", 10, a), 0);
	cr_assert_eq(json_array_size(a), 0);
	json_decref(a);
	cr_assert_eq(audit_head(t, &head, hash), 0);
	cr_assert_eq(head, 100);
	store_abort(t);
	/* deleting the first kept record is still noticed */
	put(31, NULL, 0);
	cr_assert_eq(verify(&count, &bad, &err), BRK_ERR_VERIFY);
	cr_assert_eq(bad, 31, "%s", err.msg);
}

Test(audit, syslog_line_escapes_values)
{
	json_t *rec = json_pack("{s:i, s:i, s:s, s:s, s:s}", "seq", 7, "ts", 0,
	    "action", "request.granted", "user", "alice",
	    "reason", "evil \x1b[31m\"x\"\nnext \xc2\x9b");
	char line[512];

	auditfeed_format(rec, line, sizeof(line));
	cr_assert(strstr(line, "audit seq=7 ") == line, "%s", line);
	cr_assert(strstr(line, " action=request.granted") != NULL, "%s", line);
	cr_assert(strstr(line, " reason=\"evil \\x1b[31m\\\"x\\\"\\nnext "
	    "\\x9b\"") != NULL, "%s", line);
	cr_assert(strchr(line, '\n') == NULL);
	cr_assert(strchr(line, '\x1b') == NULL);
	json_decref(rec);
}

static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;

static void
collect(const json_t *rec, void *arg)
{
	pthread_mutex_lock(&got_lock);
	json_array_append_new(arg, json_deep_copy(rec));
	pthread_mutex_unlock(&got_lock);
}

static size_t
got_size(json_t *got)
{
	size_t n;

	pthread_mutex_lock(&got_lock);
	n = json_array_size(got);
	pthread_mutex_unlock(&got_lock);
	return n;
}

Test(audit, feed_delivers_new_records_in_order)
{
	struct auditfeed *f = NULL;
	json_t *got = json_array();
	int i;

	seed(5, 2);
	cr_assert_eq(auditfeed_new(st, &f), 0);
	cr_assert_eq(auditfeed_subscribe(f, collect, got), 0);
	cr_assert_eq(auditfeed_start(f), 0);
	cr_assert_eq(auditfeed_subscribe(f, collect, got), BRK_ERR_STATE);
	seed(3, 2);		/* seq 6..8 */
	auditfeed_wake(f);
	for (i = 0; i < 100 && got_size(got) < 3; i++)
		usleep(20000);
	auditfeed_free(f);
	cr_assert_eq(json_array_size(got), 3);
	for (i = 0; i < 3; i++)
		cr_assert_eq(seq_of(got, (size_t)i), 6 + i);
	json_decref(got);
}

static int wants_flag, wants_calls;

static bool
wants_if_flag(void *arg)
{
	bool w;

	(void)arg;
	pthread_mutex_lock(&got_lock);
	wants_calls++;
	w = wants_flag != 0;
	pthread_mutex_unlock(&got_lock);
	return w;
}

static int
calls_now(void)
{
	int n;

	pthread_mutex_lock(&got_lock);
	n = wants_calls;
	pthread_mutex_unlock(&got_lock);
	return n;
}

/* Fails when read_batch() ignores the predicate (the three records written
 * while nobody wanted them reach the subscriber): checked by dropping the
 * any_wanted() test. */
Test(audit, feed_skips_records_nobody_wants)
{
	struct auditfeed *f = NULL;
	json_t *got = json_array();
	int i, c0;

	seed(2, 2);
	cr_assert_eq(auditfeed_new(st, &f), 0);
	cr_assert_eq(
	    auditfeed_subscribe_when(f, collect, wants_if_flag, got), 0);
	cr_assert_eq(auditfeed_start(f), 0);
	seed(3, 2); /* seq 3..5, while nobody wants them */
	c0 = calls_now();
	auditfeed_wake(f);
	/* two looks after the commit: the second began after it */
	for (i = 0; i < 200 && calls_now() < c0 + 2; i++) {
		auditfeed_wake(f);
		usleep(10000);
	}
	cr_assert_geq(calls_now(), c0 + 2);
	pthread_mutex_lock(&got_lock);
	wants_flag = 1;
	pthread_mutex_unlock(&got_lock);
	seed(2, 2); /* seq 6..7 */
	auditfeed_wake(f);
	for (i = 0; i < 100 && got_size(got) < 2; i++)
		usleep(20000);
	auditfeed_free(f);
	cr_assert_eq(json_array_size(got), 2);
	cr_assert_eq(seq_of(got, 0), 6);
	cr_assert_eq(seq_of(got, 1), 7);
	json_decref(got);
}
