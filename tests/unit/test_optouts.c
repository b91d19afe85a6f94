/*
 * test_optouts.c - opt-out changes in the domain (domain/optouts.c):
 * optouts_add, optouts_remove (and unfreeze), optouts_extend.
 *
 * Every allowed move must leave its audit record in the same transaction;
 * every refused one must change nothing.  Refusals are committed here, not
 * aborted, so that a function that wrote before it refused is caught.
 *
 * Fails when: optouts_remove() drops the rights check (a manager removes a
 * global opt-out: refusals_change_nothing), or writes the end before it
 * checks that the opt-out is still in force (remove of an ended one changed
 * the audit head), or optouts_extend() accepts an earlier end (extend's
 * INVALID case).  Each was broken once that way and seen red.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "optouts.h"
#include "requests.h"
#include "store.h"
#include "storetest.h"

#define NOW 1800000000LL

STORE_TEST_SUITE(optouts);

static const struct actor admin = { .user = "root_admin",
	.caller = "root_admin" };
static const struct optout_rights as_admin = { .admin = true };
static const struct optout_rights as_manager = { .manager = true };
static const struct optout_rights as_nobody = { 0 };

/* What a refusal must leave alone: the audit head, and every opt-out. */
struct snap {
	uint64_t seq;
	char action[64];
	char details[1024];
	size_t live;
	int64_t until[8];
};

static int
count_live(const struct optout *o, void *arg)
{
	struct snap *s = arg;

	if (s->live < 8)
		s->until[s->live] = o->until;
	s->live++;
	return 0;
}

static void
snapshot(struct snap *s)
{
	struct store_txn *t;
	struct store_val v;
	char hash[65], *d;
	uint8_t key[8];
	json_t *o;

	memset(s, 0, sizeof(*s));
	cr_assert_eq(store_begin(st, false, &t), 0);
	cr_assert_eq(audit_head(t, &s->seq, hash), 0);
	if (s->seq != 0) {
		store_be64(key, s->seq);
		cr_assert_eq(store_get(t, TBL_AUDIT, key, 8, &v), 0);
		o = audit_record_json(&v);
		cr_assert_not_null(o);
		snprintf(s->action, sizeof(s->action), "%s",
		    json_string_value(json_object_get(o, "action")));
		d = json_dumps(json_object_get(o, "details"), JSON_SORT_KEYS);
		snprintf(s->details, sizeof(s->details), "%s", d ? d : "");
		free(d);
		json_decref(o);
	}
	cr_assert_eq(optouts_live(t, count_live, s), 0);
	store_abort(t);
}

static struct optout
optout_of(const char *scope, bool freeze, int64_t until, uint64_t extends)
{
	struct brk_error err = { { 0 } };
	struct optout o;

	memset(&o, 0, sizeof(o));
	cr_assert_eq(optout_parse_scope(scope, &o, &err), 0, "%s", err.msg);
	o.mode = OPT_BLOCK;
	o.freeze = freeze;
	o.extends = extends;
	snprintf(o.tag, sizeof(o.tag), "incident");
	snprintf(o.reason, sizeof(o.reason), "testing opt-outs");
	snprintf(o.by, sizeof(o.by), "%s", admin.user);
	snprintf(o.caller, sizeof(o.caller), "%s", admin.caller);
	o.at = NOW;
	o.until = until;
	return o;
}

/* Add one, committed; its id. */
static uint64_t
added(const char *scope, bool freeze, uint64_t extends)
{
	struct optout o = optout_of(scope, freeze, NOW + 3600, extends);
	struct store_txn *t;
	uint64_t revoked = 9;

	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(optouts_add(t, &admin, &o, false, NOW, &revoked, NULL), 0);
	cr_assert_eq(store_commit(t), 0);
	cr_expect_eq(revoked, 0);
	cr_assert_neq(o.id, 0);
	return o.id;
}

Test(optouts, add_is_audited)
{
	struct snap s;
	uint64_t id;

	id = added("user:bob", false, 0);
	snapshot(&s);
	cr_expect_eq(s.seq, 1);
	cr_expect_str_eq(s.action, "optout.added");
	cr_expect_eq(s.live, 1);
	added("global", true, 0);
	snapshot(&s);
	cr_expect_eq(s.seq, 2);
	cr_expect_str_eq(s.action, "freeze.on");
	cr_expect_eq(s.live, 2);
	cr_expect_neq(id, 0);
}

/* Run a refused change, commit, and check that nothing moved. */
static void
refused(int want, int got, const char *msg, const char *words,
    struct store_txn *t, const struct snap *before)
{
	struct snap after;

	cr_expect_eq(got, want, "got %d, want %d (%s)", got, want, msg);
	if (words != NULL)
		cr_expect(strstr(msg, words) != NULL, "\"%s\" lacks \"%s\"",
		    msg, words);
	cr_assert_eq(store_commit(t), 0);
	snapshot(&after);
	cr_expect_eq(after.seq, before->seq);
	cr_expect_eq(after.live, before->live);
	cr_expect_eq(
	    memcmp(after.until, before->until, sizeof(after.until)), 0);
}

Test(optouts, refusals_change_nothing)
{
	char msg[REQ_MSG_LEN];
	struct optout o = optout_of("user:bob", false, NOW + 60, 0);
	struct store_txn *t;
	struct snap before;
	uint64_t g, u, revoked = 0;
	json_t *ended = json_array();

	g = added("global", false, 0);
	u = added("user:bob", false, 0);
	snapshot(&before);

	/* revoke_active is for freezes */
	cr_assert_eq(store_begin(st, true, &t), 0);
	refused(BRK_ERR_INVALID,
	    optouts_add(t, &admin, &o, true, NOW, &revoked, NULL), "", NULL, t,
	    &before);
	/* a manager may not remove or extend a global one; nobody may
	 * touch a scoped one without rights */
	cr_assert_eq(store_begin(st, true, &t), 0);
	refused(BRK_ERR_DENIED,
	    optouts_remove(t, &admin, &as_manager, g, "r", NOW, ended, msg),
	    msg, "policy admins only", t, &before);
	cr_assert_eq(store_begin(st, true, &t), 0);
	refused(BRK_ERR_DENIED,
	    optouts_remove(t, &admin, &as_nobody, u, "r", NOW, ended, msg), msg,
	    "optout_managers only", t, &before);
	cr_assert_eq(store_begin(st, true, &t), 0);
	refused(BRK_ERR_DENIED,
	    optouts_extend(
		t, &admin, &as_manager, g, NOW + 7200, "r", NOW, &o, msg),
	    msg, "may not extend", t, &before);
	/* unknown ids; unfreeze by a non-admin; unfreeze with none */
	cr_assert_eq(store_begin(st, true, &t), 0);
	refused(BRK_ERR_NOTFOUND,
	    optouts_remove(t, &admin, &as_admin, 999, "r", NOW, ended, msg),
	    msg, "no opt-out o999", t, &before);
	cr_assert_eq(store_begin(st, true, &t), 0);
	refused(BRK_ERR_NOTFOUND,
	    optouts_extend(
		t, &admin, &as_admin, 999, NOW + 7200, "r", NOW, &o, msg),
	    msg, "no opt-out o999", t, &before);
	cr_assert_eq(store_begin(st, true, &t), 0);
	refused(BRK_ERR_DENIED,
	    optouts_remove(t, &admin, &as_manager, 0, "r", NOW, ended, msg),
	    msg, "may not unfreeze", t, &before);
	cr_assert_eq(store_begin(st, true, &t), 0);
	refused(BRK_ERR_STATE,
	    optouts_remove(t, &admin, &as_admin, 0, "r", NOW, ended, msg), msg,
	    "no freeze is in force", t, &before);
	/* extend only moves the end later */
	cr_assert_eq(store_begin(st, true, &t), 0);
	refused(BRK_ERR_INVALID,
	    optouts_extend(
		t, &admin, &as_manager, u, NOW + 3600, "r", NOW, &o, msg),
	    msg, "extend only moves its end later", t, &before);
	cr_expect_eq(json_array_size(ended), 0);

	/* an ended one: neither removed again nor extended */
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(
	    optouts_remove(t, &admin, &as_manager, u, "r", NOW, ended, msg), 0,
	    "%s", msg);
	cr_assert_eq(store_commit(t), 0);
	snapshot(&before);
	cr_assert_eq(store_begin(st, true, &t), 0);
	refused(BRK_ERR_STATE,
	    optouts_remove(t, &admin, &as_manager, u, "r", NOW, ended, msg),
	    msg, "already ended", t, &before);
	cr_assert_eq(store_begin(st, true, &t), 0);
	refused(BRK_ERR_STATE,
	    optouts_extend(
		t, &admin, &as_manager, u, NOW + 7200, "r", NOW, &o, msg),
	    msg, "already ended", t, &before);
	json_decref(ended);
}

Test(optouts, remove_is_audited)
{
	char msg[REQ_MSG_LEN];
	struct store_txn *t;
	struct snap s;
	uint64_t u, f;
	json_t *ended = json_array();

	u = added("user:bob", false, 0);
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(
	    optouts_remove(t, &admin, &as_manager, u, "done", NOW, ended, msg),
	    0, "%s", msg);
	cr_assert_eq(store_commit(t), 0);
	snapshot(&s);
	cr_expect_str_eq(s.action, "optout.removed");
	cr_expect_eq(s.live, 0);
	cr_expect_eq(json_array_size(ended), 1);

	/* unfreeze ends every freeze in force, each audited */
	f = added("global", true, 0);
	added("global", true, 0);
	json_array_clear(ended);
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(
	    optouts_remove(t, &admin, &as_admin, 0, "over", NOW, ended, msg), 0,
	    "%s", msg);
	cr_assert_eq(store_commit(t), 0);
	snapshot(&s);
	cr_expect_str_eq(s.action, "freeze.off");
	cr_expect_eq(s.seq, 6); /* 3 added, 3 ended */
	cr_expect_eq(s.live, 0);
	cr_expect_eq(json_array_size(ended), 2);
	cr_expect_neq(f, 0);
	json_decref(ended);
}

Test(optouts, remove_ends_the_renewals)
{
	char msg[REQ_MSG_LEN];
	struct store_txn *t;
	struct snap s;
	uint64_t a, b;
	json_t *ended = json_array();

	a = added("user:bob", false, 0);
	b = added("user:bob", false, a); /* a renewal of a */
	added("user:carol", false, 0);	 /* another scope stays */
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(
	    optouts_remove(t, &admin, &as_manager, a, "done", NOW, ended, msg),
	    0, "%s", msg);
	cr_assert_eq(store_commit(t), 0);
	snapshot(&s);
	cr_expect_eq(json_array_size(ended), 2);
	cr_expect_eq(s.live, 1);
	cr_expect_eq(s.seq, 5);
	cr_expect_neq(b, 0);
	json_decref(ended);
}

Test(optouts, extend_is_audited)
{
	char msg[REQ_MSG_LEN];
	struct store_txn *t;
	struct optout o;
	struct snap s;
	uint64_t u;

	u = added("user:bob", false, 0);
	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(optouts_extend(t, &admin, &as_manager, u, NOW + 7200,
			 "longer", NOW, &o, msg),
	    0, "%s", msg);
	cr_assert_eq(store_commit(t), 0);
	cr_expect_eq(o.until, NOW + 7200);
	cr_expect_eq(o.id, u);
	snapshot(&s);
	cr_expect_str_eq(s.action, "optout.extended");
	cr_expect(strstr(s.details, "previous_until") != NULL, "%s", s.details);
	cr_expect_eq(s.live, 1);
	cr_expect_eq(s.until[0], NOW + 7200);
}

/* A scope of one name is checked as that name and refused in words that
 * say which; a good one parses.  Fails when a kind checks the wrong name:
 * checked by giving OPT_GROUP the rule id check ("-ops" accepted). */
Test(optouts, scope_names_checked)
{
	static const struct {
		const char *scope, *msg;
	} bad[] = {
		{ "user:-x", "scope user: \"-x\" is not a valid user name" },
		{ "group:-ops",
		    "scope group: \"-ops\" is not a valid group name" },
		{ "rule:a b", "scope rule: \"a b\" is not a valid rule id" },
	};
	struct brk_error err;
	struct optout o;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		cr_assert_eq(optout_parse_scope(bad[i].scope, &o, &err),
		    BRK_ERR_INVALID, "%s", bad[i].scope);
		cr_assert_str_eq(err.msg, bad[i].msg);
	}
	memset(&err, 0, sizeof(err));
	cr_assert_eq(optout_parse_scope("user:alice", &o, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(o.kind, OPT_USER);
	cr_assert_eq(optout_parse_scope("group:ops", &o, &err), 0, "%s", err.msg);
	cr_assert_eq(optout_parse_scope("rule:db:rw", &o, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(o.kind, OPT_RULE);
}
