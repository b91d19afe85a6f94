/*
 * test_policy.c - the policy engine: parse errors (path and line) over
 * tests/data/{valid,invalid}, evaluation order, TTL clamping, principals,
 * labels, combination of approve rules, roles, explain, warnings.
 * Run from the repository root.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "policy.h"
#include "policy_int.h"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	cr_assert_not_null(f, "open %s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static struct policy *
load(const char *text)
{
	struct policy_error err;
	struct policy *p = NULL;
	int r = policy_parse(text, strlen(text), &p, &err);

	cr_assert_eq(r, 0, "parse failed: %s (line %d): %s", err.path,
	    err.line, err.msg);
	return p;
}

static struct policy *
load_file(const char *path)
{
	struct policy_error err;
	struct policy *p = NULL;
	size_t len;
	char *text = slurp(path, &len);
	int r = policy_parse(text, len, &p, &err);

	cr_assert_eq(r, 0, "%s: %s (line %d): %s", path, err.path, err.line,
	    err.msg);
	free(text);
	return p;
}

static void
ask(const struct policy *p, const char *user, const char *const *groups,
    const char *resource, const char *role, int64_t dur,
    struct policy_decision *d)
{
	struct policy_query q = { .user = user, .groups = groups,
	    .resource = resource, .role = role, .duration = dur };
	size_t n = 0;

	while (groups != NULL && groups[n] != NULL)
		n++;
	q.ngroups = n;
	policy_evaluate(p, &q, d);
}

static bool
has(const char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Names in dir ending in suffix, sorted, NULL-terminated. */
static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **
list_dir(const char *dir, const char *suffix, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t len, slen = strlen(suffix);

	*n = 0;
	cr_assert_not_null(d, "opendir %s (run from the repo root)", dir);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= slen || strcmp(de->d_name + len - slen, suffix) != 0)
			continue;
		v = realloc(v, (*n + 2) * sizeof(*v));
		cr_assert_not_null(v);
		if (asprintf(&v[*n], "%s/%s", dir, de->d_name) < 0)
			cr_assert_fail("asprintf");
		(*n)++;
	}
	closedir(d);
	if (v != NULL)
		qsort(v, *n, sizeof(*v), cmpstr);
	return v;
}

static void
free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

Test(data, valid_files_parse)
{
	const char *dirs[] = { "tests/data/valid", "policy/examples" };
	size_t i, k, n;
	char **files;

	for (k = 0; k < 2; k++) {
		files = list_dir(dirs[k], ".json", &n);
		cr_expect_geq(n, 2, "%s", dirs[k]);
		for (i = 0; i < n; i++)
			policy_free(load_file(files[i]));
		free_list(files, n);
	}
}

/* Each invalid file has a .expect sidecar: "path=..." and "line=N". */
Test(data, invalid_files_fail_with_path_and_line)
{
	struct policy_error err;
	struct policy *p;
	char **files, *text, *exp, *epath, *eline, *nl;
	size_t i, n, len, elen;
	int r;

	files = list_dir("tests/data/invalid", ".json", &n);
	cr_expect_geq(n, 40);
	for (i = 0; i < n; i++) {
		char ename[1024];

		text = slurp(files[i], &len);
		snprintf(ename, sizeof(ename), "%.*s.expect",
		    (int)(strlen(files[i]) - 5), files[i]);
		exp = slurp(ename, &elen);
		epath = strstr(exp, "path=");
		eline = strstr(exp, "line=");
		cr_assert(epath != NULL && eline != NULL, "%s", ename);
		epath += 5;
		if ((nl = strchr(epath, '\n')) != NULL)
			*nl = '\0';
		p = (struct policy *)0x1;
		r = policy_parse(text, len, &p, &err);
		cr_expect_eq(r, BRK_ERR_INVALID, "%s: accepted", files[i]);
		cr_expect_null(p, "%s: *out not NULL", files[i]);
		cr_expect_str_eq(err.path, epath, "%s: path %s, msg %s",
		    files[i], err.path, err.msg);
		cr_expect_eq(err.line, atoi(eline + 5), "%s: line %d, msg %s",
		    files[i], err.line, err.msg);
		cr_expect_neq(err.msg[0], '\0', "%s: no message", files[i]);
		free(text);
		free(exp);
	}
	free_list(files, n);
}

Test(parse, arguments_and_limits)
{
	struct policy_error err;
	struct policy *p = (struct policy *)0x1;
	const struct policy_limits *l;

	cr_expect_eq(policy_parse(NULL, 0, &p, &err), BRK_ERR_INVALID);
	cr_expect_null(p);
	cr_expect_eq(policy_parse("", 0, &p, NULL), BRK_ERR_INVALID);
	cr_expect_eq(policy_parse("{\"version\":1,\"rules\":[]}garbage", 29,
	    &p, &err), BRK_ERR_INVALID);
	cr_expect_eq(err.line, 1);
	/* Only len bytes are read: the text need not be terminated. */
	cr_expect_eq(policy_parse("{\"version\":1,\"rules\":[]}XXX", 24, &p,
	    &err), 0);
	cr_expect_eq(policy_rule_count(p), 0);
	l = policy_limits(p);
	cr_expect_eq(l->pending_ttl, 86400);
	cr_expect_eq(l->optout_max, 86400);
	cr_expect_eq(l->break_glass_max_ttl, 3600);
	cr_expect_eq(l->clock_skew, 60);
	cr_expect_eq(l->schedule_max, 7 * 86400);
	cr_expect(!l->rule_authors_may_approve);
	cr_expect_eq(l->audit_min_retention, 90 * 86400);
	policy_free(p);
	policy_free(NULL);
}

/* limits.audit_min_retention: a duration, 90d when absent; anything else
 * is refused with its path.  Fails when the key is left out of
 * parse_limits (the known-key check then refuses it). */
Test(parse, audit_min_retention)
{
	struct policy_error err;
	struct policy *p = load("{\"version\":1,\"rules\":[],\"limits\":"
	    "{\"audit_min_retention\":\"30d\"}}");
	const char *bad = "{\"version\":1,\"rules\":[],\"limits\":"
	    "{\"audit_min_retention\":90}}";

	cr_expect_eq(policy_limits(p)->audit_min_retention, 30 * 86400);
	policy_free(p);
	p = NULL;
	cr_expect_eq(policy_parse(bad, strlen(bad), &p, &err),
	    BRK_ERR_INVALID);
	cr_expect(strstr(err.path, "audit_min_retention") != NULL, "path %s",
	    err.path);
	cr_expect_null(p);
}

Test(parse, nul_inside_string_refused)
{
	static const char text[] = "{\"version\":1,\"rules\":[],"
	    "\"description\":\"a\\u0000b\"}";
	struct policy_error err;
	struct policy *p;

	cr_expect_eq(policy_parse(text, sizeof(text) - 1, &p, &err),
	    BRK_ERR_INVALID);
}

Test(parse, deep_nesting_refused)
{
	size_t n = 5000, i;
	char *t = malloc(2 * n + 64);
	struct policy_error err;
	struct policy *p;
	size_t len = 0;

	len += (size_t)sprintf(t, "{\"version\":1,\"rules\":[],\"x\":");
	for (i = 0; i < n; i++)
		t[len++] = '[';
	for (i = 0; i < n; i++)
		t[len++] = ']';
	t[len++] = '}';
	cr_expect_eq(policy_parse(t, len, &p, &err), BRK_ERR_INVALID);
	free(t);
}

Test(parse, document_and_rule_count)
{
	struct policy *p = load_file("policy/examples/dev.json");
	json_t *doc = policy_document(p);

	cr_expect_eq(policy_rule_count(p), 6);
	cr_assert_not_null(doc);
	cr_expect_eq(json_integer_value(json_object_get(doc, "version")), 1);
	cr_expect_eq(json_array_size(json_object_get(doc, "rules")), 6);
	json_decref(doc);
	policy_free(p);
}

/* The README walk-through depends on these answers. */
Test(examples, dev_policy)
{
	struct policy *p = load_file("policy/examples/dev.json");
	const char *dev[] = { "dev", NULL }, *con[] = { "contractors", NULL };
	const char *sre[] = { "sre", NULL };
	const char *const *w;
	struct policy_decision d;

	ask(p, "alice", dev, "host:web-1", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	cr_expect_eq(d.ttl, 8 * 3600);
	cr_expect_str_eq(d.deciding_rule, "staging-auto");
	cr_expect_str_eq(d.reason,
	    "rule staging-auto grants automatically for up to 8h");

	ask(p, "alice", dev, "host:db-prod-1", "postgres", 0, &d);
	cr_expect_eq(d.outcome, POLICY_APPROVE);
	cr_expect_str_eq(d.deciding_rule, "db-prod-postgres");
	cr_expect_eq(d.quorum, 1);
	cr_expect(has(d.approver_groups, d.napprover_groups, "dba-leads"));
	cr_expect(d.require_reason);
	cr_expect(d.break_glass);

	ask(p, "bob", dev, "host:db-prod-1", "root", 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	cr_expect_not_null(strstr(d.reason, "principals"), "%s", d.reason);
	ask(p, "bob", dev, "host:db-prod-1", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_APPROVE, "one's own name");
	cr_expect_str_eq(d.deciding_rule, "db-prod-approval");
	ask(p, "bob", dev, "host:db-prod-1", "alice", 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY, "another user's name: %s",
	    d.reason);
	ask(p, "alice", dev, "host:web-1", "root", 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY, "root on staging: %s", d.reason);
	ask(p, "alice", dev, "host:web-1", "deploy", 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY, "any role on staging: %s",
	    d.reason);

	ask(p, "mallory", con, "host:db-prod-1", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	cr_expect_str_eq(d.reason, "denied by rule no-contractors-prod");

	ask(p, "alice", dev, "host:app-prod-3", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_APPROVE);
	cr_expect_eq(d.quorum, 2);
	cr_expect(d.require_ticket);

	ask(p, "frank", sre, "host:bastion", NULL, 1800, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	cr_expect_eq(d.ttl, 1800);
	cr_expect_eq(policy_rule_cert_options(p, "sre-bastion-auto")->extensions,
	    POLICY_EXT_PTY);
	ask(p, "frank", sre, "host:bastion", NULL, 7200, &d);
	cr_expect_eq(d.outcome, POLICY_DENY, "over max_duration: no rule");
	ask(p, "bob", NULL, "host:bastion", NULL, 1800, &d);
	cr_expect_str_eq(d.reason, "no rule matches user bob on "
	    "host:bastion", "a covered resource names the user");

	ask(p, "alice", dev, "host:nowhere", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	/* Fails when rule_covers() says yes to everything: checked by
	 * replacing its body with "return true" */
	cr_expect_str_eq(d.reason, "no rule covers host:nowhere: the policy "
	    "grants it to no one (check the name)");

	cr_expect(policy_has_role(p, ROLE_OPTOUT_APPROVERS, "erin",
	    (const char *[]){ "secops" }, 1));
	cr_expect(policy_has_role(p, ROLE_FLAGGERS, "monitor", NULL, 0));
	cr_expect(policy_has_role(p, ROLE_FLAGGERS, "frank", sre, 1));
	cr_expect(!policy_has_role(p, ROLE_POLICY_ADMINS, "frank", sre, 1));
	cr_expect_eq(policy_warnings(p, &w), 0);
	policy_free(p);
}

static const char order_policy[] =
    "{ \"version\": 1,"
    "  \"resources\": { \"host:db-1\": { \"labels\": { \"env\": \"prod\", \"tier\": \"db\" } },"
    "                   \"host:db-*\": { \"labels\": { \"env\": \"staging\" } },"
    "                   \"host:*\":    { \"labels\": { \"env\": \"other\" } } },"
    "  \"rules\": ["
    "    { \"id\": \"a-long\", \"when\": { \"groups\": [\"dev\"] }, \"grant\": \"auto\", \"max_ttl\": \"8h\","
    "      \"require\": [\"reason\"] },"
    "    { \"id\": \"a-short\", \"when\": { \"resources\": [\"host:db-*\"] }, \"grant\": \"auto\", \"max_ttl\": \"2h\" },"
    "    { \"id\": \"p1\", \"when\": { \"labels\": { \"env\": \"prod\" } }, \"grant\": \"approve\", \"max_ttl\": \"4h\","
    "      \"approvers\": { \"groups\": [\"dba\"], \"users\": [\"carol\"] }, \"require\": [\"reason\"], \"break_glass\": true },"
    "    { \"id\": \"p2\", \"when\": { \"labels\": { \"env\": \"prod\", \"tier\": \"db\" } }, \"grant\": \"approve\", \"max_ttl\": \"1h\","
    "      \"approvers\": { \"groups\": [\"dba\", \"sec\"], \"quorum\": 3 }, \"require\": [\"ticket\"], \"break_glass\": false },"
    "    { \"id\": \"d-mal\", \"when\": { \"users\": [\"mallory\"] }, \"grant\": \"deny\" },"
    "    { \"id\": \"p-mal\", \"when\": { \"users\": [\"mallory\"] }, \"grant\": \"approve\", \"max_ttl\": \"1h\","
    "      \"approvers\": { \"users\": [\"carol\"] } }"
    "  ] }";

Test(evaluate, order_deny_approve_auto)
{
	struct policy *p = load(order_policy);
	const char *dev[] = { "dev", NULL };
	struct policy_decision d;

	/* auto only */
	ask(p, "alice", dev, "host:web-1", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	cr_expect_str_eq(d.deciding_rule, "a-long");
	cr_expect(d.require_reason, "auto rules' requirements are reported");
	cr_expect_eq(d.quorum, 0);
	/* approve beats auto */
	ask(p, "alice", dev, "host:db-1", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_APPROVE);
	cr_expect_eq(d.nmatched, 4);
	cr_expect_str_eq(d.matched[0], "a-long");
	cr_expect_str_eq(d.matched[3], "p2");
	/* deny beats approve, even listed first and for the same user */
	ask(p, "mallory", dev, "host:web-1", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	cr_expect_str_eq(d.deciding_rule, "d-mal");
	cr_expect_eq(d.ttl, 0);
	cr_expect_eq(d.napprover_users, 0, "no approval fields on deny");
	cr_expect_str_eq(d.reason, "denied by rule d-mal");
	/* no group: only the glob rule */
	ask(p, "bob", NULL, "host:db-2", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	cr_expect_str_eq(d.deciding_rule, "a-short");
	cr_expect_eq(d.ttl, 7200);
	policy_free(p);
}

Test(evaluate, clamping)
{
	struct policy *p = load(order_policy);
	const char *dev[] = { "dev", NULL };
	struct policy_decision d;

	/* two auto rules: the smaller max_ttl wins */
	ask(p, "alice", dev, "host:db-2", NULL, 12 * 3600, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	cr_expect_str_eq(d.deciding_rule, "a-short");
	cr_expect_eq(d.ttl, 7200);
	cr_expect(d.clamped);
	cr_expect_str_eq(d.reason, "rule a-short grants automatically for "
	    "up to 2h (12h requested, 2h granted)");
	ask(p, "alice", dev, "host:db-2", NULL, 3600, &d);
	cr_expect_eq(d.ttl, 3600);
	cr_expect(!d.clamped);
	ask(p, "alice", dev, "host:db-2", NULL, 7200, &d);
	cr_expect_eq(d.ttl, 7200);
	cr_expect(!d.clamped);
	ask(p, "alice", dev, "host:db-2", NULL, 0, &d);
	cr_expect_eq(d.ttl, 7200);
	cr_expect(!d.clamped, "an unstated duration is not clamped");
	/* approve: smallest among approve rules */
	ask(p, "alice", dev, "host:db-1", NULL, 5 * 3600, &d);
	cr_expect_eq(d.outcome, POLICY_APPROVE);
	cr_expect_eq(d.ttl, 3600);
	cr_expect(d.clamped);
	cr_expect_str_eq(d.deciding_rule, "p2");
	policy_free(p);
}

Test(evaluate, approve_combination)
{
	struct policy *p = load(order_policy);
	const char *dev[] = { "dev", NULL };
	struct policy_decision d;

	ask(p, "alice", dev, "host:db-1", NULL, 0, &d);
	cr_assert_eq(d.outcome, POLICY_APPROVE);
	cr_expect_eq(d.quorum, 3, "strictest quorum");
	cr_expect_eq(d.napprover_groups, 2, "union without duplicates");
	cr_expect(has(d.approver_groups, d.napprover_groups, "dba"));
	cr_expect(has(d.approver_groups, d.napprover_groups, "sec"));
	cr_expect_eq(d.napprover_users, 1);
	cr_expect_str_eq(d.approver_users[0], "carol");
	cr_expect(d.require_reason && d.require_ticket, "union of require");
	cr_expect(!d.break_glass, "break-glass only if every rule allows it");
	cr_expect_str_eq(d.reason, "rule p2 needs 3 approvals for up to 1h");
	policy_free(p);
}

Test(evaluate, resource_entry_and_labels)
{
	struct policy *p = load(order_policy);
	struct policy_decision d;

	/* exact entry beats glob: host:db-1 is prod, so p1 and p2 */
	ask(p, "zed", NULL, "host:db-1", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_APPROVE);
	/* longest literal prefix: host:db-9 is staging, not other */
	ask(p, "zed", NULL, "host:db-9", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	cr_expect_eq(d.nmatched, 1);
	policy_free(p);

	p = load("{\"version\":1,\"resources\":{\"host:a\":{\"labels\":"
	    "{\"env\":\"prod\"}}},\"rules\":[{\"id\":\"both\",\"when\":"
	    "{\"labels\":{\"env\":\"prod\",\"tier\":\"db\"}},\"grant\":\"deny\"},"
	    "{\"id\":\"one\",\"when\":{\"labels\":{\"env\":\"prod\"}},"
	    "\"grant\":\"auto\",\"max_ttl\":\"1h\"}]}");
	ask(p, "zed", NULL, "host:a", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO, "labels are all-of");
	ask(p, "zed", NULL, "host:b", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY, "no entry: label rules miss");
	cr_expect_eq(d.nmatched, 0);
	policy_free(p);
}

Test(evaluate, principals_and_roles)
{
	struct policy *p = load("{\"version\":1,\"resources\":{\"host:db\":"
	    "{\"principals\":[\"postgres\",\"alice\"]}},\"rules\":["
	    "{\"id\":\"pg\",\"when\":{\"roles\":[\"postgres\"]},\"grant\":"
	    "\"auto\",\"max_ttl\":\"1h\"},{\"id\":\"self\",\"when\":{\"users\":"
	    "[\"alice\"],\"roles\":[\"alice\"]},\"grant\":\"auto\",\"max_ttl\":"
	    "\"2h\"}]}");
	struct policy_decision d;

	ask(p, "bob", NULL, "host:db", "postgres", 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	ask(p, "bob", NULL, "host:db", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY, "role defaults to bob");
	cr_expect_str_eq(d.reason, "role bob is not among the principals "
	    "allowed on host:db");
	cr_expect_null(d.deciding_rule);
	ask(p, "alice", NULL, "host:db", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	cr_expect_str_eq(d.deciding_rule, "self");
	ask(p, "alice", NULL, "host:db", "root", 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	/* no entry: roles still filter rules */
	ask(p, "bob", NULL, "host:other", "postgres", 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	ask(p, "bob", NULL, "host:other", "root", 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	policy_free(p);
}

Test(evaluate, max_duration)
{
	struct policy *p = load("{\"version\":1,\"rules\":[{\"id\":\"short\","
	    "\"when\":{\"max_duration\":\"1h\"},\"grant\":\"auto\","
	    "\"max_ttl\":\"8h\"}]}");
	struct policy_decision d;

	ask(p, "bob", NULL, "host:x", NULL, 3600, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	ask(p, "bob", NULL, "host:x", NULL, 3601, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	ask(p, "bob", NULL, "host:x", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO, "unstated duration matches");
	cr_expect_eq(d.ttl, 8 * 3600);
	policy_free(p);
}

Test(evaluate, invalid_queries_deny)
{
	struct policy *p = load("{\"version\":1,\"rules\":[{\"id\":\"all\","
	    "\"grant\":\"auto\",\"max_ttl\":\"1h\"}]}");
	struct policy_query q = { .user = "bob", .resource = "host:x" };
	struct policy_decision d;
	const char *bad_users[] = { "Bob", "bob ", "b\nob", "", NULL };
	size_t i;

	policy_evaluate(p, &q, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	for (i = 0; bad_users[i] != NULL; i++) {
		ask(p, bad_users[i], NULL, "host:x", NULL, 0, &d);
		cr_expect_eq(d.outcome, POLICY_DENY);
		cr_expect_str_eq(d.reason, "the user name is not valid");
	}
	ask(p, NULL, NULL, "host:x", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	ask(p, "bob", NULL, "host x", NULL, 0, &d);
	cr_expect_str_eq(d.reason, "the resource name is not valid");
	ask(p, "bob", NULL, "host:*", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	ask(p, "bob", NULL, "host:x", "Root", 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	ask(p, "bob", NULL, "host:x", NULL, -5, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	q.ngroups = 2;
	q.groups = NULL;
	policy_evaluate(p, &q, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	policy_evaluate(NULL, &q, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	policy_free(p);
}

Test(evaluate, empty_rules_deny_everything)
{
	struct policy *p = load("{\"version\":1,\"rules\":[]}");
	const char *const *w;
	struct policy_decision d;

	ask(p, "bob", NULL, "host:x", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	cr_expect_str_eq(d.reason, "no rule covers host:x: the policy grants "
	    "it to no one (check the name)");
	cr_expect_geq(policy_warnings(p, &w), 2);
	cr_expect_str_eq(w[0], "rules is empty: every request is denied");
	cr_expect(has(w, policy_warnings(p, &w), "roles.optout_approvers is "
	    "missing: manual opt-outs cannot be used"));
	policy_free(p);
}

Test(explain, keys)
{
	struct policy *p = load_file("policy/examples/dev.json");
	struct policy_query q = { .user = "alice",
	    .groups = (const char *[]){ "dev" }, .ngroups = 1,
	    .resource = "host:db-prod-1", .role = "postgres",
	    .duration = 3 * 3600 };
	json_t *e = policy_explain(p, &q), *rules, *r;
	size_t i;
	bool seen_miss = false;

	cr_assert_not_null(e);
	cr_expect_str_eq(json_string_value(json_object_get(e, "outcome")),
	    "approve");
	cr_expect_eq(json_integer_value(json_object_get(e, "ttl")), 7200);
	cr_expect(json_is_true(json_object_get(e, "clamped")));
	cr_expect_not_null(json_object_get(e, "reason"));
	cr_expect(json_is_array(json_object_get(e, "matched")));
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(e,
	    "resource"), "entry")), "host:db-prod-1");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(
	    json_object_get(e, "resource"), "labels"), "tier")), "db");
	cr_expect_eq(json_array_size(json_object_get(json_object_get(e,
	    "resource"), "principals")), 3);
	cr_expect_eq(json_integer_value(json_object_get(e, "quorum")), 1);
	cr_expect(json_is_object(json_object_get(e, "approvers")));
	cr_expect(json_is_array(json_object_get(e, "require")));
	rules = json_object_get(e, "rules");
	cr_expect_geq(json_array_size(rules), 2);
	json_array_foreach(rules, i, r) {
		cr_expect(json_is_string(json_object_get(r, "id")));
		cr_expect(json_is_boolean(json_object_get(r, "matched")));
		cr_expect(json_is_string(json_object_get(r, "why")));
		if (json_is_false(json_object_get(r, "matched")))
			seen_miss = true;
	}
	cr_expect(seen_miss, "the contractors rule is considered, not matched");
	json_decref(e);

	q.resource = "host:none";
	e = policy_explain(p, &q);
	cr_assert_not_null(e);
	cr_expect_str_eq(json_string_value(json_object_get(e, "outcome")),
	    "deny");
	cr_expect(json_is_null(json_object_get(json_object_get(e, "resource"),
	    "entry")));
	json_decref(e);
	q.user = "Not Valid";
	e = policy_explain(p, &q);
	cr_assert_not_null(e);
	cr_expect_eq(json_array_size(json_object_get(e, "rules")), 0);
	json_decref(e);
	policy_free(p);
}

Test(roles, members_scopes_quorum)
{
	struct policy *p = load_file("policy/examples/production.json");
	const char *leads[] = { "sre-leads" }, *sec[] = { "secops" };
	const char *const *g, *const *u, *const *s;
	size_t ng, nu, ns;

	policy_role_members(p, ROLE_OPTOUT_MANAGERS, &g, &ng, &u, &nu);
	cr_expect_eq(ng, 2);
	cr_expect_eq(nu, 0);
	cr_expect_eq(policy_optout_manager_count(p), 2);
	cr_expect_eq(policy_optout_manager_entry(p, 1, &g, &ng, &u, &nu, &s,
	    &ns), 0);
	cr_expect_eq(ns, 3);
	cr_expect_eq(policy_optout_manager_entry(p, 2, &g, &ng, &u, &nu, &s,
	    &ns), BRK_ERR_NOTFOUND);
	cr_expect(policy_optout_scope_allowed(p, "x", sec, 1, "global"));
	cr_expect(policy_optout_scope_allowed(p, "x", sec, 1, "user:bob"));
	cr_expect(policy_optout_scope_allowed(p, "x", leads, 1,
	    "resource:host:web-prod-1"));
	cr_expect(policy_optout_scope_allowed(p, "x", leads, 1,
	    "resource:host:web-*"));
	cr_expect(!policy_optout_scope_allowed(p, "x", leads, 1,
	    "resource:host:*"));
	cr_expect(!policy_optout_scope_allowed(p, "x", leads, 1,
	    "resource:host:db-1"));
	cr_expect(policy_optout_scope_allowed(p, "x", leads, 1,
	    "label:env=staging"));
	cr_expect(!policy_optout_scope_allowed(p, "x", leads, 1,
	    "label:env=prod"));
	cr_expect(!policy_optout_scope_allowed(p, "x", leads, 1, "global"));
	cr_expect(!policy_optout_scope_allowed(p, "x", leads, 1, "nonsense"));
	cr_expect(!policy_optout_scope_allowed(p, "x", NULL, 0, "global"));
	cr_expect_eq(policy_optout_quorum(p), 2);
	cr_expect(policy_has_role(p, ROLE_AUDITORS, "ciso", NULL, 0));
	cr_expect(!policy_has_role(p, ROLE_AUDITORS, "CISO", NULL, 0));
	cr_expect(!policy_has_role(p, (enum policy_role)99, "ciso", NULL, 0));
	policy_free(p);

	p = load("{\"version\":1,\"rules\":[]}");
	policy_role_members(p, ROLE_REVIEWERS, &g, &ng, &u, &nu);
	cr_expect_eq(ng + nu, 0);
	cr_expect_not_null(g);
	cr_expect_eq(policy_optout_quorum(p), 1);
	cr_expect(!policy_optout_scope_allowed(p, "root", NULL, 0, "global"));
	policy_free(p);
}

Test(cert, options)
{
	struct policy *p = load_file("policy/examples/production.json");
	const struct policy_rule_cert *c;

	c = policy_rule_cert_options(p, "pay-deploy");
	cr_assert_not_null(c);
	cr_expect_eq(c->extensions, 0);
	cr_expect_str_eq(c->force_command, "/usr/local/bin/deploy-payments");
	cr_expect_str_eq(c->source_address, "10.30.1.5,10.30.1.6");
	c = policy_rule_cert_options(p, "stg-auto");
	cr_assert_not_null(c);
	cr_expect_eq(c->extensions, POLICY_EXT_ALL);
	cr_expect_null(c->force_command);
	cr_expect_null(policy_rule_cert_options(p, "frozen-hosts"));
	cr_expect_null(policy_rule_cert_options(p, "no-such-rule"));
	cr_expect_null(policy_rule_cert_options(p, NULL));
	cr_expect_str_eq(policy_cert_extension_name(POLICY_EXT_X11_FORWARDING),
	    "permit-X11-forwarding");
	cr_expect_null(policy_cert_extension_name(0x20));
	policy_free(p);
}

/* The position locator must survive any bytes, not only jansson's. */
Test(jsonpos, robust_on_garbage)
{
	struct pol_step steps[] = { { "rules", 0 }, { NULL, 3 }, { "id", 0 } };
	const char *doc = "{\"rules\": [1, \"a\\\"]\", {\"x\": [{}]},\n"
	    " {\"id\"\n: \"r\"}]}";
	char buf[256];
	unsigned seed = 1;
	size_t i, k, n;

	cr_expect_eq(jsonpos_line(doc, strlen(doc), steps, 3), 3);
	for (n = 0; n <= strlen(doc); n++)
		(void)jsonpos_line(doc, n, steps, 3);
	for (i = 0; i < 20000; i++) {
		n = (size_t)(rand_r(&seed) % sizeof(buf));
		for (k = 0; k < n; k++)
			buf[k] = "{}[]\":,\\u0a \n"[rand_r(&seed) % 14];
		(void)jsonpos_line(buf, n, steps, 3);
	}
	cr_expect_eq(jsonpos_line("", 0, steps, 3), 0);
	cr_expect_eq(jsonpos_line("\n\n{\"a\":1}", 9, NULL, 0), 3);
}

/*
 * Safe principals: a rule grants the role the user asked for only when it
 * lists it (principals, else when.roles); without either only the user's
 * own login name, and root never by default.  Fails when grants_role() in
 * evaluate.c returns true for every role, as before (checked: "deploy on
 * a rule without principals" and the root cases went red).
 */
Test(evaluate, safe_principals_by_default)
{
	struct policy *p = load("{\"version\":1,\"rules\":["
	    "{\"id\":\"plain\",\"when\":{\"resources\":[\"host:a\"]},"
	    "\"grant\":\"auto\",\"max_ttl\":\"1h\"},"
	    "{\"id\":\"listed\",\"when\":{\"resources\":[\"host:b\"]},"
	    "\"principals\":[\"deploy\"],\"grant\":\"auto\",\"max_ttl\":\"1h\"},"
	    "{\"id\":\"rooted\",\"when\":{\"resources\":[\"host:c\"]},"
	    "\"principals\":[\"root\"],\"grant\":\"approve\",\"max_ttl\":\"1h\","
	    "\"approvers\":{\"users\":[\"carol\"]}},"
	    "{\"id\":\"roles\",\"when\":{\"resources\":[\"host:d\"],"
	    "\"roles\":[\"viewer\"]},\"grant\":\"auto\",\"max_ttl\":\"1h\"},"
	    "{\"id\":\"no-x\",\"when\":{\"resources\":[\"host:x\"]},"
	    "\"grant\":\"deny\"}]}");
	struct policy_decision d;
	json_t *e, *r;
	struct policy_query q = { .user = "bob", .resource = "host:a",
	    .role = "deploy" };
	size_t i;
	bool seen = false;

	ask(p, "bob", NULL, "host:a", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO, "own name: %s", d.reason);
	ask(p, "bob", NULL, "host:a", "bob", 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	ask(p, "bob", NULL, "host:a", "deploy", 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY, "another role: %s", d.reason);
	ask(p, "bob", NULL, "host:a", "root", 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	ask(p, "root", NULL, "host:a", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY, "root only when listed");
	ask(p, "bob", NULL, "host:b", "deploy", 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO);
	ask(p, "bob", NULL, "host:b", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY, "principals replace own name");
	ask(p, "bob", NULL, "host:c", "root", 0, &d);
	cr_expect_eq(d.outcome, POLICY_APPROVE, "root listed explicitly");
	ask(p, "bob", NULL, "host:d", "viewer", 0, &d);
	cr_expect_eq(d.outcome, POLICY_AUTO, "when.roles names roles too");
	ask(p, "bob", NULL, "host:d", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY);
	/* explain says why */
	e = policy_explain(p, &q);
	cr_assert_not_null(e);
	json_array_foreach(json_object_get(e, "rules"), i, r)
		if (strcmp(json_string_value(json_object_get(r, "id")),
		    "plain") == 0) {
			seen = true;
			cr_expect(json_is_false(json_object_get(r, "matched")));
			cr_expect_not_null(strstr(json_string_value(
			    json_object_get(r, "why")), "own name"));
		}
	cr_expect(seen);
	json_decref(e);
	policy_free(p);
}

static const char bg_policy[] =
    "{ \"version\": 1, \"rules\": ["
    "  { \"id\": \"old\", \"when\": { \"resources\": [\"host:*\"] }, \"grant\": \"approve\","
    "    \"max_ttl\": \"1h\", \"approvers\": { \"users\": [\"carol\"] }, \"break_glass\": true },"
    "  { \"id\": \"frz\", \"when\": { \"resources\": [\"host:f*\"] }, \"grant\": \"approve\","
    "    \"max_ttl\": \"1h\", \"approvers\": { \"users\": [\"carol\"] },"
    "    \"break_glass\": { \"during_freeze\": true, \"during_optout\": true } } ] }";

/*
 * The break_glass object form: during_freeze and during_optout, and true
 * only when every matching approve rule says so.  Fails when fold() in
 * evaluate.c ORs the flags instead of ANDing them (checked: host:f1 and
 * host:h went red).
 */
Test(evaluate, break_glass_object_form)
{
	struct policy *p = load(bg_policy);
	struct policy_decision d;

	cr_expect_eq(policy_limits(p)->break_glass_per_day, 3);
	cr_expect_eq(policy_limits(p)->pending_per_user, 20);
	cr_expect_eq(policy_limits(p)->requests_per_minute, 60);
	ask(p, "bob", NULL, "host:a", NULL, 0, &d);
	cr_expect(d.break_glass);
	cr_expect(!d.break_glass_during_freeze, "true keeps the old meaning");
	cr_expect(!d.break_glass_during_optout);
	ask(p, "bob", NULL, "host:f1", NULL, 0, &d);
	cr_expect(d.break_glass);
	cr_expect(!d.break_glass_during_freeze, "rule old says nothing");
	policy_free(p);
	p = load("{\"version\":1,\"rules\":[{\"id\":\"a\",\"grant\":\"approve\","
	    "\"max_ttl\":\"1h\",\"approvers\":{\"users\":[\"c\"]},\"break_glass\":"
	    "{\"during_freeze\":true,\"during_optout\":true}},{\"id\":\"b\","
	    "\"when\":{\"resources\":[\"host:h\"]},\"grant\":\"approve\","
	    "\"max_ttl\":\"1h\",\"approvers\":{\"users\":[\"c\"]},\"break_glass\":"
	    "{\"during_freeze\":true}}],\"limits\":{\"break_glass_per_day\":0,"
	    "\"pending_per_user\":5,\"requests_per_minute\":7}}");
	ask(p, "bob", NULL, "host:g", NULL, 0, &d);
	cr_expect(d.break_glass && d.break_glass_during_freeze &&
	    d.break_glass_during_optout);
	ask(p, "bob", NULL, "host:h", NULL, 0, &d);
	cr_expect(d.break_glass && d.break_glass_during_freeze);
	cr_expect(!d.break_glass_during_optout, "every rule must say so");
	cr_expect_eq(policy_limits(p)->break_glass_per_day, 0);
	cr_expect_eq(policy_limits(p)->pending_per_user, 5);
	cr_expect_eq(policy_limits(p)->requests_per_minute, 7);
	policy_free(p);
}

/*
 * Certificate restrictions of several matching rules combine so that the
 * most restrictive wins, and what cannot be combined denies.  Fails when
 * the restrictions come from the deciding rule only (checked by making
 * fold_cert() keep only the first rule: the extensions and the source
 * intersection went red).
 */
Test(cert, most_restrictive_wins)
{
	struct policy *p = load("{\"version\":1,\"rules\":["
	    "{\"id\":\"wide\",\"grant\":\"auto\",\"max_ttl\":\"1h\","
	    "\"extensions\":[\"permit-pty\",\"permit-port-forwarding\"],"
	    "\"critical_options\":{\"source-address\":\"10.0.0.0/8,192.0.2.1\"}},"
	    "{\"id\":\"narrow\",\"when\":{\"resources\":[\"host:n*\"]},"
	    "\"grant\":\"auto\",\"max_ttl\":\"2h\",\"extensions\":[\"permit-pty\","
	    "\"permit-user-rc\"],\"critical_options\":{\"force-command\":"
	    "\"/bin/run\",\"source-address\":\"10.1.0.0/16,10.2.3.4,172.16.0.1\"}},"
	    "{\"id\":\"other-cmd\",\"when\":{\"resources\":[\"host:nc\"]},"
	    "\"grant\":\"auto\",\"max_ttl\":\"2h\",\"critical_options\":"
	    "{\"force-command\":\"/bin/other\"}},"
	    "{\"id\":\"disjoint\",\"when\":{\"resources\":[\"host:nd\"]},"
	    "\"grant\":\"auto\",\"max_ttl\":\"2h\",\"critical_options\":"
	    "{\"source-address\":\"192.168.0.0/16\"}}]}");
	struct policy_query q = { .user = "bob", .resource = "host:n1" };
	struct policy_decision d;
	json_t *e, *c;

	ask(p, "bob", NULL, "host:a", NULL, 0, &d);
	cr_assert_eq(d.outcome, POLICY_AUTO);
	cr_expect_eq(d.cert_extensions, POLICY_EXT_PTY |
	    POLICY_EXT_PORT_FORWARDING);
	cr_expect_str_eq(d.force_command, "");
	cr_expect_str_eq(d.source_address, "10.0.0.0/8,192.0.2.1");
	ask(p, "bob", NULL, "host:n1", NULL, 0, &d);
	cr_assert_eq(d.outcome, POLICY_AUTO);
	cr_expect_str_eq(d.deciding_rule, "wide", "smallest max_ttl decides");
	cr_expect_eq(d.cert_extensions, POLICY_EXT_PTY, "only what both allow");
	cr_expect_str_eq(d.force_command, "/bin/run", "any command forced");
	cr_expect_str_eq(d.source_address, "10.1.0.0/16,10.2.3.4",
	    "addresses both accept");
	e = policy_explain(p, &q);
	cr_assert_not_null(e);
	c = json_object_get(e, "cert_options");
	cr_expect_str_eq(json_string_value(json_object_get(c,
	    "force-command")), "/bin/run", "explain shows the combination");
	cr_expect_str_eq(json_string_value(json_object_get(c,
	    "source-address")), "10.1.0.0/16,10.2.3.4");
	cr_expect_eq(json_array_size(json_object_get(c, "extensions")), 1);
	json_decref(e);
	ask(p, "bob", NULL, "host:nc", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY, "two commands: %s", d.reason);
	cr_expect_not_null(strstr(d.reason, "different commands"));
	cr_expect_str_eq(d.force_command, "");
	ask(p, "bob", NULL, "host:nd", NULL, 0, &d);
	cr_expect_eq(d.outcome, POLICY_DENY, "nothing in common: %s", d.reason);
	cr_expect_not_null(strstr(d.reason, "no address in common"));
	policy_free(p);
}
