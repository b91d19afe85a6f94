/*
 * test_codecs.c - the stored JSON records (opt-outs, flags, approvals,
 * reviews, policy versions) decode strictly, and a record that does not
 * decode refuses what needed it.
 *
 * Each codec gets a valid record (made by the module's own encoder where
 * it has one) and every corruption of it: a key missing, each key of the
 * wrong type, an extra key, an unknown enum value, not an object at all.
 * Fails when a codec stops being strict: checked by dropping JSON_STRICT
 * from codec_unpack(), which made every *_strict test fail ("an extra key
 * decodes"), and (below) by letting optouts_live() skip what it cannot
 * read, as it used to.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "escalate.h"
#include "flags.h"
#include "optouts.h"
#include "policystate.h"
#include "record.h"
#include "reviews.h"
#include "store.h"
#include "storetest.h"

STORE_TEST_SUITE(codec);

/* A decoder under test: 0 when data decodes. */
typedef int (*decode_fn)(const char *data, size_t len);

static int
dec_optout(const char *data, size_t len)
{
	struct optout o;

	return optout_decode(data, len, &o);
}

static int
dec_flag(const char *data, size_t len)
{
	struct flag f;

	return flag_decode(data, len, &f);
}

static int
dec_approval(const char *data, size_t len)
{
	struct approval a;
	json_t *o = NULL;
	int r = approval_decode(data, len, &a, &o);

	json_decref(o);
	return r;
}

static int
dec_review(const char *data, size_t len)
{
	json_t *o = NULL;
	int r = review_decode(data, len, &o);

	json_decref(o);
	return r;
}

static int
dec_policy(const char *data, size_t len)
{
	json_t *o = NULL;
	int r = policy_record_decode(data, len, &o);

	json_decref(o);
	return r;
}

static int
dec_json(decode_fn fn, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	int r;

	cr_assert_not_null(s);
	r = fn(s, strlen(s));
	free(s);
	return r;
}

/*
 * Every corruption of the valid record good: each key dropped, each key
 * given a value of another type, an extra key, and the shapes that are
 * not a record.  nullable names the keys whose value may be null.
 */
static void
check_strict(const char *what, decode_fn fn, const char *good,
    const char *const *nullable)
{
	static const char *const junk[] = { "", "null", "[]", "\"x\"", "{",
		"{\"v\":1}", "{}", NULL };
	json_t *base, *j, *v;
	const char *key;
	size_t i;

	cr_assert_eq(fn(good, strlen(good)), 0, "%s: the good record", what);
	base = json_loads(good, 0, NULL);
	cr_assert_not_null(base);
	json_object_foreach(base, key, v) {
		j = json_deep_copy(base);
		json_object_del(j, key);
		cr_expect_eq(dec_json(fn, j), BRK_ERR_INVALID,
		    "%s: without \"%s\" decodes", what, key);
		json_decref(j);
		j = json_deep_copy(base);
		json_object_set_new(j, key, json_is_string(v) ||
		    json_is_null(v) ? json_integer(7) : json_string("7"));
		cr_expect_eq(dec_json(fn, j), BRK_ERR_INVALID,
		    "%s: \"%s\" of the wrong type decodes", what, key);
		json_decref(j);
		j = json_deep_copy(base);
		json_object_set_new(j, key, json_array());
		cr_expect_eq(dec_json(fn, j), BRK_ERR_INVALID,
		    "%s: \"%s\" as an array decodes", what, key);
		json_decref(j);
		for (i = 0; nullable != NULL && nullable[i] != NULL; i++)
			if (strcmp(nullable[i], key) == 0)
				break;
		if (nullable == NULL || nullable[i] == NULL) {
			j = json_deep_copy(base);
			json_object_set_new(j, key, json_null());
			cr_expect_eq(dec_json(fn, j), BRK_ERR_INVALID,
			    "%s: \"%s\": null decodes", what, key);
			json_decref(j);
		}
	}
	j = json_deep_copy(base);
	json_object_set_new(j, "extra", json_string("x"));
	cr_expect_eq(dec_json(fn, j), BRK_ERR_INVALID, "%s: an extra key "
	    "decodes", what);
	json_decref(j);
	j = json_deep_copy(base);
	json_object_set_new(j, "v", json_integer(2));
	cr_expect_eq(dec_json(fn, j), BRK_ERR_INVALID, "%s: v 2 decodes", what);
	json_decref(j);
	for (i = 0; junk[i] != NULL; i++)
		cr_expect_eq(fn(junk[i], strlen(junk[i])), BRK_ERR_INVALID,
		    "%s: '%s' decodes", what, junk[i]);
	/* a key given twice is not a record either */
	{
		char twice[4096];

		snprintf(twice, sizeof(twice), "%.*s,\"v\":1}",
		    (int)strlen(good) - 1, good);
		cr_expect_eq(fn(twice, strlen(twice)), BRK_ERR_INVALID,
		    "%s: a repeated key decodes", what);
	}
	json_decref(base);
}

/* The record with key set to v (consumed), decoded. */
static int
with(decode_fn fn, const char *good, const char *key, json_t *v)
{
	json_t *j = json_loads(good, 0, NULL);
	int r;

	cr_assert_not_null(j);
	json_object_set_new(j, key, v);
	r = dec_json(fn, j);
	json_decref(j);
	return r;
}

/* The stored value of key in tbl, as a string. */
static char *
stored(enum store_table tbl, const void *key, size_t klen)
{
	struct store_txn *t;
	struct store_val v;
	char *s;

	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_assert_eq(store_get(t, tbl, key, klen, &v), 0);
	s = strndup(v.data, v.len);
	store_abort(t);
	cr_assert_not_null(s);
	return s;
}

static void
put_raw(enum store_table tbl, const void *key, size_t klen, const char *s)
{
	struct store_txn *t;

	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(store_put(t, tbl, key, klen, s, strlen(s)), 0);
	cr_assert_eq(store_commit(t), 0);
}

static uint64_t
add_optout(const char *scope, enum optout_mode mode, int64_t until)
{
	struct brk_error err;
	struct store_txn *t;
	struct optout o;

	memset(&o, 0, sizeof(o));
	cr_assert_eq(optout_parse_scope(scope, &o, &err), 0, "%s", err.msg);
	o.mode = mode;
	o.at = 1000;
	o.until = until;
	snprintf(o.tag, sizeof(o.tag), "incident");
	snprintf(o.reason, sizeof(o.reason), "database migration");
	snprintf(o.by, sizeof(o.by), "alice");
	snprintf(o.caller, sizeof(o.caller), "alice");
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(optouts_create(t, &o), 0);
	cr_assert_eq(store_commit(t), 0);
	return o.id;
}

static char *
optout_stored(uint64_t id)
{
	uint8_t key[8];

	store_be64(key, id);
	return stored(TBL_OPTOUTS, key, 8);
}

Test(codec, optout_strict)
{
	uint64_t id = add_optout("resource:host:db-*", OPT_BLOCK, 5000);
	char *good = optout_stored(id);
	struct optout o;

	check_strict("optout", dec_optout, good, NULL);
	cr_assert_eq(optout_decode(good, strlen(good), &o), 0);
	cr_expect_eq(o.mode, OPT_BLOCK);
	cr_expect_str_eq(o.pattern, "host:db-*");
	/* an unknown mode is an error, never the weaker "manual" */
	cr_expect_eq(with(dec_optout, good, "mode", json_string("blockade")),
	    BRK_ERR_INVALID);
	cr_expect_eq(with(dec_optout, good, "mode", json_string("")),
	    BRK_ERR_INVALID);
	cr_expect_eq(with(dec_optout, good, "end_kind",
	    json_string("vanished")), BRK_ERR_INVALID);
	cr_expect_eq(with(dec_optout, good, "tag", json_string("whim")),
	    BRK_ERR_INVALID);
	cr_expect_eq(with(dec_optout, good, "scope", json_string("planet:x")),
	    BRK_ERR_INVALID);
	cr_expect_eq(with(dec_optout, good, "id", json_integer(0)),
	    BRK_ERR_INVALID);
	cr_expect_eq(with(dec_optout, good, "freeze", json_integer(1)),
	    BRK_ERR_INVALID);
	/* a string over its field is refused, not cut short */
	{
		char big[400];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		cr_expect_eq(with(dec_optout, good, "by", json_string(big)),
		    BRK_ERR_INVALID);
	}
	free(good);
}

Test(codec, flag_strict)
{
	struct store_txn *t;
	struct flag f = { .severity = FLAG_BLOCK, .at = 1000, .until = 9000 };
	char *good;

	snprintf(f.user, sizeof(f.user), "mallory");
	snprintf(f.reason, sizeof(f.reason), "odd logins");
	snprintf(f.by, sizeof(f.by), "soc");
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(flags_put(t, &f), 0);
	cr_assert_eq(store_commit(t), 0);
	good = stored(TBL_FLAGS, "mallory", 7);
	check_strict("flag", dec_flag, good, NULL);
	cr_expect_eq(with(dec_flag, good, "severity", json_string("blok")),
	    BRK_ERR_INVALID);
	free(good);
}

Test(codec, approval_strict)
{
	static const char *const nullable[] = { "reason", NULL };
	struct store_txn *t;
	uint8_t key[8 + 64];
	char *good;

	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(approvals_put(t, 3, &(struct approval){
	    .approver = "bob", .caller = "chatbot", .reason = "ok",
	    .role = "deploy", .ttl = 60, .at = 1000 }), 0);
	cr_assert_eq(store_commit(t), 0);
	store_be64(key, 3);
	memcpy(key + 8, "bob", 3);
	good = stored(TBL_APPROVALS, key, 11);
	check_strict("approval", dec_approval, good, nullable);
	cr_expect_eq(with(dec_approval, good, "reason", json_null()), 0);
	cr_expect_eq(with(dec_approval, good, "approver", json_string("")),
	    BRK_ERR_INVALID);
	cr_expect_eq(with(dec_approval, good, "ttl", json_integer(-1)),
	    BRK_ERR_INVALID);
	free(good);
}

Test(codec, review_strict)
{
	struct store_txn *t;
	struct request r;
	uint8_t key[8];
	char *good;

	memset(&r, 0, sizeof(r));
	r.serial = 9;
	snprintf(r.user, sizeof(r.user), "alice");
	snprintf(r.caller, sizeof(r.caller), "alice");
	snprintf(r.resource, sizeof(r.resource), "host:db-1");
	snprintf(r.role, sizeof(r.role), "alice");
	snprintf(r.reason, sizeof(r.reason), "outage");
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(reviews_open(t, &r, 1000), 0);
	cr_assert_eq(store_commit(t), 0);
	store_be64(key, 9);
	good = stored(TBL_REVIEWS, key, 8);
	check_strict("review", dec_review, good, NULL);
	cr_expect_eq(with(dec_review, good, "id", json_string("x9")),
	    BRK_ERR_INVALID);
	/* acknowledged with nobody named: half a record */
	cr_expect_eq(with(dec_review, good, "acked_at", json_integer(5)),
	    BRK_ERR_INVALID);
	free(good);
}

Test(codec, policy_record_strict)
{
	static const char *const nullable[] = { "reason", NULL };
	const char *good = "{\"v\":1,\"version\":2,\"loaded_at\":1000,"
	    "\"loaded_by\":\"alice\",\"caller\":\"alice\",\"reason\":null,"
	    "\"source\":\"cli\",\"sha256\":\"0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef\",\"text\":\"{}\"}";

	check_strict("policy", dec_policy, good, nullable);
	cr_expect_eq(with(dec_policy, good, "source", json_string("web")),
	    BRK_ERR_INVALID);
	cr_expect_eq(with(dec_policy, good, "sha256", json_string("abc")),
	    BRK_ERR_INVALID);
}

/* The decision that needs a corrupt record is refused, never made as if
 * it were not there. */

static void
corrupt_optout(uint64_t id, const char *key, json_t *v)
{
	char *good = optout_stored(id), *s;
	uint8_t k[8];
	json_t *j = json_loads(good, 0, NULL);

	cr_assert_not_null(j);
	if (v == NULL)
		json_object_del(j, key);
	else
		json_object_set_new(j, key, v);
	s = json_dumps(j, JSON_COMPACT);
	store_be64(k, id);
	put_raw(TBL_OPTOUTS, k, 8, s);
	free(s);
	free(good);
	json_decref(j);
}

static int
find(const char *user, const char *resource, struct escalation *e)
{
	const char *groups[] = { "dev" };
	struct cover cv = { .user = user, .groups = groups, .ngroups = 1,
		.resource = resource, .rules = "r1" };
	struct store_txn *t;
	int r;

	cr_assert_eq(store_begin(st, false, &t), 0);
	r = escalate_find(t, &cv, 2000, e);
	store_abort(t);
	return r;
}

/*
 * Fails when optouts_live() skips an entry that does not decode (as it
 * did): checked by restoring its "continue", which made escalate_find
 * return 0 with level none, i.e. the request went through unblocked.
 */
Test(codec, corrupt_block_optout_refuses)
{
	struct escalation e;
	uint64_t id = add_optout("resource:host:db-*", OPT_BLOCK, 5000);

	cr_assert_eq(find("alice", "host:db-1", &e), 0);
	cr_assert_eq(e.level, ESC_BLOCK);
	corrupt_optout(id, "mode", NULL);	/* no "mode" at all */
	cr_expect_eq(find("alice", "host:db-1", &e), BRK_ERR_INVALID);
	cr_expect_eq(find("alice", "host:web-1", &e), BRK_ERR_INVALID);
	corrupt_optout(id, "mode", json_string("blocking"));
	cr_expect_eq(find("alice", "host:db-1", &e), BRK_ERR_INVALID);
	corrupt_optout(id, "mode", json_string("block"));
	corrupt_optout(id, "until", json_string("5000"));
	cr_expect_eq(find("alice", "host:db-1", &e), BRK_ERR_INVALID);
	corrupt_optout(id, "until", json_integer(5000));
	cr_expect_eq(find("alice", "host:db-1", &e), 0);
	cr_expect_eq(e.level, ESC_BLOCK);
}

Test(codec, live_entry_without_record_refuses)
{
	struct escalation e;
	uint8_t k[8];

	store_be64(k, 77);
	put_raw(TBL_OPTOUT_LIVE, k, 8, "");
	cr_expect_eq(find("alice", "host:db-1", &e), BRK_ERR_INVALID);
}

Test(codec, corrupt_flag_refuses)
{
	struct escalation e;
	struct store_txn *t;
	bool blocked = true;

	put_raw(TBL_FLAGS, "alice", 5, "{\"v\":1,\"user\":\"alice\","
	    "\"severity\":\"blocked\",\"reason\":\"x\",\"by\":\"soc\","
	    "\"at\":1,\"until\":99999}");
	cr_expect_eq(find("alice", "host:db-1", &e), BRK_ERR_INVALID);
	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_expect_eq(flags_blocks(t, "alice", 2000, &blocked),
	    BRK_ERR_INVALID);
	cr_expect_not(blocked);
	cr_expect_eq(flags_blocks(t, "bob", 2000, &blocked), 0);
	store_abort(t);
	/* filed under another user */
	put_raw(TBL_FLAGS, "bob", 3, "{\"v\":1,\"user\":\"alice\","
	    "\"severity\":\"review\",\"reason\":\"x\",\"by\":\"soc\","
	    "\"at\":1,\"until\":99999}");
	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_expect_eq(flags_blocks(t, "bob", 2000, &blocked), BRK_ERR_INVALID);
	store_abort(t);
}

Test(codec, corrupt_approval_refuses_the_list)
{
	struct approval_who w[4];
	struct store_txn *t;
	uint8_t key[8 + 64];
	int64_t min_ttl;
	size_t n;

	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(approvals_put(t, 3, &(struct approval){
	    .approver = "bob", .caller = "bob", .reason = "ok",
	    .role = "deploy", .at = 1000 }), 0);
	cr_assert_eq(store_commit(t), 0);
	store_be64(key, 3);
	memcpy(key + 8, "carol", 5);
	put_raw(TBL_APPROVALS, key, 13, "{\"v\":1,\"approver\":\"carol\"}");
	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_expect_eq(approvals_who(t, 3, w, 4, &n), BRK_ERR_INVALID);
	cr_expect_eq(approvals_list(t, 3, NULL, &min_ttl), BRK_ERR_INVALID);
	store_abort(t);
}
