/*
 * test_policy_scale.c - 10,000 generated rules (exact, glob, label, user,
 * group and unconstrained) must parse quickly, and the compiled index must
 * give exactly the answers of a brute-force walk over every rule.
 *
 * Two workloads: "dense" is adversarial for the index (globs such as
 * "*-3" and "host:*3", hundreds of rules per label value, ~160 genuine
 * matches per query) and exists to prove the index exact; "sparse" looks
 * like a real organisation's policy (rules about specific hosts, teams and
 * people, a few broad ones) and is where the latency target applies.
 * The brute force below is written from the semantics in policy.h, not
 * from the library's code, so the two can disagree only through a bug.
 * Timings are logged, never asserted (sanitizers and valgrind are slow),
 * except the parse bound, which is generous.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "glob.h"
#include "policy.h"

#define NRULES		10000
#define NQUERIES	4000
#define NEXACT		500

struct grule {
	char id[24];
	enum policy_outcome grant;
	int64_t max_ttl, max_dur;
	char res[2][48];
	int nres;
	char lk[2][16], lv[2][16];
	int nl;
	char users[2][16], groups[2][16], roles[2][16];
	int nusers, ngroups, nroles;
	int quorum;
};

struct gentry {
	char name[48];
	char env[16], tier[16];
	bool principals;
};

static struct grule rules[NRULES];
static struct gentry entries[NEXACT + 64];
static int nentries;

static unsigned seed = 12345;
static bool sparse;

static int
rnd(int n)
{
	return (int)(rand_r(&seed) % (unsigned)n);
}

static void
gen_entries_sparse(void)
{
	int i;

	for (i = 0; i < NEXACT; i++) {
		struct gentry *e = &entries[nentries++];

		snprintf(e->name, sizeof(e->name), "host:app%d", i * 7);
		snprintf(e->env, sizeof(e->env), "e%d", i % 3);
		snprintf(e->tier, sizeof(e->tier), "t%d", i % 700);
		e->principals = i % 50 == 0;
	}
	for (i = 0; i < 40; i++) {
		struct gentry *e = &entries[nentries++];

		snprintf(e->name, sizeof(e->name), "host:team%d-*", i * 3);
		snprintf(e->env, sizeof(e->env), "e%d", i % 3);
		snprintf(e->tier, sizeof(e->tier), "t%d", i);
	}
}

static void
gen_entries(void)
{
	int i;

	if (sparse) {
		gen_entries_sparse();
		return;
	}
	for (i = 0; i < NEXACT; i++) {
		struct gentry *e = &entries[nentries++];

		snprintf(e->name, sizeof(e->name), "host:svc%d-%d", i / 5, i % 5);
		snprintf(e->env, sizeof(e->env), "e%d", i % 5);
		snprintf(e->tier, sizeof(e->tier), "t%d", i % 3);
		e->principals = i % 7 == 0;
	}
	for (i = 100; i < 150; i++) {
		struct gentry *e = &entries[nentries++];

		snprintf(e->name, sizeof(e->name), "host:svc%d-*", i);
		snprintf(e->env, sizeof(e->env), "e%d", i % 5);
	}
	snprintf(entries[nentries].name, 48, "host:svc1?" "?-?");
	snprintf(entries[nentries++].env, 16, "e1");
	snprintf(entries[nentries].name, 48, "host:*");
	snprintf(entries[nentries++].env, 16, "other");
}

static void
gen_resource(char *buf, size_t len)
{
	int r = rnd(250), s = rnd(10);

	switch (rnd(7)) {
	case 0:
		snprintf(buf, len, "host:svc%d-*", r);
		break;
	case 1:
		snprintf(buf, len, "host:svc%d*", r);
		break;
	case 2:
		snprintf(buf, len, "host:svc%d-?", r);
		break;
	case 3:
		snprintf(buf, len, "*-%d", s);
		break;
	case 4:
		snprintf(buf, len, "host:*%d", s);
		break;
	default:
		snprintf(buf, len, "host:svc%d-%d", r, s);
		break;
	}
}

/* Specific rules, and one broad rule in a thousand. */
static void
gen_rule_sparse(int i, struct grule *g)
{
	int kind = i % 10;

	if (i % 1000 == 999) {
		snprintf(g->res[0], 48, "host:*");
		snprintf(g->groups[0], 16, "g%d", rnd(500));
		g->nres = g->ngroups = 1;
	} else if (i % 1000 == 998) {
		snprintf(g->lk[0], 16, "env");
		snprintf(g->lv[0], 16, "e%d", rnd(3));
		snprintf(g->groups[0], 16, "g%d", rnd(500));
		g->nl = g->ngroups = 1;
	} else if (kind <= 3) {
		snprintf(g->res[0], 48, "host:app%d", rnd(5000));
		g->nres = 1;
	} else if (kind <= 5) {
		snprintf(g->res[0], 48, "host:team%d-*", rnd(150));
		g->nres = 1;
	} else if (kind <= 7) {
		snprintf(g->lk[0], 16, "tier");
		snprintf(g->lv[0], 16, "t%d", rnd(700));
		g->nl = 1;
	} else if (kind == 8) {
		snprintf(g->users[0], 16, "u%d", rnd(2000));
		g->nusers = 1;
	} else {
		snprintf(g->groups[0], 16, "g%d", rnd(500));
		g->ngroups = 1;
	}
	if (g->ngroups == 0 && rnd(10) < 3)
		snprintf(g->groups[g->ngroups++], 16, "g%d", rnd(500));
	if (rnd(10) == 0)
		snprintf(g->roles[g->nroles++], 16, "p%d", rnd(4));
}

static void
gen_rule(int i, struct grule *g)
{
	int kind = i % 10, k = rnd(100);

	snprintf(g->id, sizeof(g->id), "r%d", i);
	g->grant = k < 3 ? POLICY_DENY : k < 30 ? POLICY_APPROVE : POLICY_AUTO;
	g->max_ttl = g->grant == POLICY_DENY ? 0 : 60 * (1 + rnd(600));
	g->quorum = 1 + rnd(3);
	if (sparse) {
		gen_rule_sparse(i, g);
		return;
	}
	if (kind <= 2) {
		snprintf(g->res[0], 48, "host:svc%d-%d", rnd(250), rnd(10));
		g->nres = 1;
	} else if (kind <= 4) {
		gen_resource(g->res[0], 48);
		g->nres = 1 + rnd(2);
		if (g->nres == 2)
			gen_resource(g->res[1], 48);
	} else if (kind <= 6) {
		snprintf(g->lk[0], 16, "env");
		snprintf(g->lv[0], 16, "e%d", rnd(6));
		g->nl = 1;
		if (rnd(2)) {
			snprintf(g->lk[1], 16, "tier");
			snprintf(g->lv[1], 16, "t%d", rnd(3));
			g->nl = 2;
		}
	} else if (kind == 7) {
		snprintf(g->users[0], 16, "u%d", rnd(60));
		g->nusers = 1;
	} else if (kind == 8) {
		snprintf(g->groups[0], 16, "g%d", rnd(30));
		g->ngroups = 1;
	} else if (i % 500 != 9) {
		snprintf(g->groups[0], 16, "g%d", rnd(30));
		snprintf(g->res[0], 48, "host:svc%d*", rnd(25));
		g->ngroups = g->nres = 1;
	}
	/* Extra constraints on top of the indexed one. */
	if (g->ngroups == 0 && rnd(10) < 3) {
		snprintf(g->groups[g->ngroups++], 16, "g%d", rnd(30));
		snprintf(g->groups[g->ngroups++], 16, "g%d", rnd(30));
	}
	if (rnd(10) == 0)
		g->max_dur = 600 * (1 + rnd(20));
	if (rnd(10) == 0 || i % 500 == 9) {
		snprintf(g->roles[g->nroles++], 16, "p%d", rnd(4));
		if (rnd(2))
			snprintf(g->roles[g->nroles++], 16, "u%d", rnd(60));
	}
}

static void
put_list(FILE *f, const char *key, char (*v)[16], int n, bool *first)
{
	int i;

	if (n == 0)
		return;
	fprintf(f, "%s\"%s\":[", *first ? "" : ",", key);
	for (i = 0; i < n; i++)
		fprintf(f, "%s\"%s\"", i ? "," : "", v[i]);
	fprintf(f, "]");
	*first = false;
}

static void
put_rule(FILE *f, const struct grule *g)
{
	bool first = true;
	int i;

	fprintf(f, "{\"id\":\"%s\",\"when\":{", g->id);
	put_list(f, "users", (char (*)[16])g->users, g->nusers, &first);
	put_list(f, "groups", (char (*)[16])g->groups, g->ngroups, &first);
	put_list(f, "roles", (char (*)[16])g->roles, g->nroles, &first);
	if (g->nres > 0) {
		fprintf(f, "%s\"resources\":[", first ? "" : ",");
		for (i = 0; i < g->nres; i++)
			fprintf(f, "%s\"%s\"", i ? "," : "", g->res[i]);
		fprintf(f, "]");
		first = false;
	}
	if (g->nl > 0) {
		fprintf(f, "%s\"labels\":{", first ? "" : ",");
		for (i = 0; i < g->nl; i++)
			fprintf(f, "%s\"%s\":\"%s\"", i ? "," : "", g->lk[i],
			    g->lv[i]);
		fprintf(f, "}");
		first = false;
	}
	if (g->max_dur > 0)
		fprintf(f, "%s\"max_duration\":\"%llds\"", first ? "" : ",",
		    (long long)g->max_dur);
	fprintf(f, "},\"grant\":\"%s\"", g->grant == POLICY_DENY ? "deny" :
	    g->grant == POLICY_APPROVE ? "approve" : "auto");
	if (g->grant != POLICY_DENY)
		fprintf(f, ",\"max_ttl\":\"%llds\"", (long long)g->max_ttl);
	if (g->grant == POLICY_APPROVE)
		fprintf(f, ",\"approvers\":{\"groups\":[\"a%d\"],\"quorum\":%d}",
		    g->quorum % 2, g->quorum);
	fprintf(f, "}");
}

static char *
gen_policy(size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	int i;

	cr_assert_not_null(f);
	gen_entries();
	fprintf(f, "{\"version\":1,\"resources\":{");
	for (i = 0; i < nentries; i++) {
		fprintf(f, "%s\"%s\":{\"labels\":{\"env\":\"%s\"", i ? "," : "",
		    entries[i].name, entries[i].env);
		if (entries[i].tier[0] != '\0')
			fprintf(f, ",\"tier\":\"%s\"", entries[i].tier);
		fprintf(f, "}%s}", entries[i].principals ?
		    ",\"principals\":[\"p0\",\"p1\",\"u1\"]" : "");
	}
	fprintf(f, "},\"rules\":[\n");
	for (i = 0; i < NRULES; i++) {
		gen_rule(i, &rules[i]);
		fprintf(f, "%s", i ? ",\n" : "");
		put_rule(f, &rules[i]);
	}
	fprintf(f, "]}\n");
	fclose(f);
	return text;
}

/* The semantics of policy.h, the slow and obvious way. */
static const struct gentry *
brute_entry(const char *res)
{
	const struct gentry *best = NULL;
	size_t bl = 0, l;
	int i;

	for (i = 0; i < nentries; i++)
		if (strcmp(entries[i].name, res) == 0)
			return &entries[i];
	for (i = 0; i < nentries; i++) {
		l = glob_literal_prefix(entries[i].name);
		if (entries[i].name[l] != '\0' &&
		    glob_match(entries[i].name, res) && (best == NULL || l > bl)) {
			best = &entries[i];
			bl = l;
		}
	}
	return best;
}

static bool
in8(char (*v)[16], int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static bool
brute_match(const struct grule *g, const struct policy_query *q,
    const struct gentry *e, const char *role)
{
	const char *val;
	size_t i;
	int k;
	bool ok;

	if (g->nusers > 0 && !in8((char (*)[16])g->users, g->nusers, q->user))
		return false;
	if (g->ngroups > 0) {
		for (ok = false, i = 0; i < q->ngroups; i++)
			ok |= in8((char (*)[16])g->groups, g->ngroups,
			    q->groups[i]);
		if (!ok)
			return false;
	}
	if (g->nres > 0) {
		for (ok = false, k = 0; k < g->nres; k++)
			ok |= glob_match(g->res[k], q->resource);
		if (!ok)
			return false;
	}
	for (k = 0; k < g->nl; k++) {
		if (e == NULL)
			return false;
		val = strcmp(g->lk[k], "env") == 0 ? e->env : e->tier;
		if (strcmp(val, g->lv[k]) != 0)
			return false;
	}
	if (g->nroles > 0 && !in8((char (*)[16])g->roles, g->nroles, role))
		return false;
	return g->max_dur == 0 || q->duration <= g->max_dur;
}

static void
check_one(const struct policy *p, const struct policy_query *q)
{
	const struct gentry *e = brute_entry(q->resource);
	const char *role = q->role != NULL ? q->role : q->user;
	const struct grule *best[3] = { NULL, NULL, NULL };
	struct policy_decision d;
	enum policy_outcome want;
	size_t nm = 0;
	int64_t ttl = 0;
	int i, quorum = 0;

	policy_evaluate(p, q, &d);
	for (i = 0; i < NRULES; i++) {
		const struct grule *g = &rules[i];

		if (!brute_match(g, q, e, role))
			continue;
		if (nm < POLICY_MAX_MATCHES)
			cr_assert_str_eq(d.matched[nm], g->id,
			    "match %zu for %s %s", nm, q->user, q->resource);
		nm++;
		if (best[g->grant] == NULL || (g->grant != POLICY_DENY &&
		    g->max_ttl < best[g->grant]->max_ttl))
			best[g->grant] = g;
		if (g->grant == POLICY_APPROVE && g->quorum > quorum)
			quorum = g->quorum;
	}
	want = best[POLICY_DENY] ? POLICY_DENY : (e != NULL && e->principals &&
	    strcmp(role, "p0") && strcmp(role, "p1") && strcmp(role, "u1")) ?
	    POLICY_DENY : best[POLICY_APPROVE] ? POLICY_APPROVE :
	    best[POLICY_AUTO] ? POLICY_AUTO : POLICY_DENY;
	cr_assert_eq(d.nmatched, nm < POLICY_MAX_MATCHES ? nm :
	    POLICY_MAX_MATCHES, "%s on %s", q->user, q->resource);
	cr_assert_eq(d.outcome, want, "%s on %s: %s", q->user, q->resource,
	    d.reason);
	if (want == POLICY_DENY)
		return;
	cr_assert_str_eq(d.deciding_rule, best[want]->id);
	ttl = q->duration > 0 && q->duration < best[want]->max_ttl ?
	    q->duration : best[want]->max_ttl;
	cr_assert_eq(d.ttl, ttl);
	cr_assert_eq(d.clamped, q->duration > best[want]->max_ttl);
	if (want == POLICY_APPROVE)
		cr_assert_eq(d.quorum, quorum);
}

static void
gen_query(struct policy_query *q, char *user, char *res, char (*gs)[16],
    const char **gp, char *role)
{
	int i, n = rnd(4);

	snprintf(user, 16, "u%d", rnd(sparse ? 2000 : 60));
	for (i = 0; i < n; i++) {
		snprintf(gs[i], 16, "g%d", rnd(sparse ? 500 : 30));
		gp[i] = gs[i];
	}
	if (sparse)
		switch (rnd(3)) {
		case 0:
			snprintf(res, 48, "%s", entries[rnd(NEXACT)].name);
			break;
		case 1:
			snprintf(res, 48, "host:app%d", rnd(5000));
			break;
		default:
			snprintf(res, 48, "host:team%d-%d", rnd(150), rnd(9));
			break;
		}
	else switch (rnd(5)) {
	case 0:
		snprintf(res, 48, "%s", entries[rnd(NEXACT)].name);
		break;
	case 1:
		snprintf(res, 48, "db:x%d", rnd(10));
		break;
	case 2:
		snprintf(res, 48, "host:svc%d-%d%d", rnd(250), rnd(10), rnd(3));
		break;
	default:
		snprintf(res, 48, "host:svc%d-%d", rnd(250), rnd(10));
		break;
	}
	snprintf(role, 16, "p%d", rnd(4));
	q->user = user;
	q->groups = gp;
	q->ngroups = (size_t)n;
	q->resource = res;
	q->role = rnd(3) == 0 ? role : NULL;
	q->duration = rnd(2) ? 0 : 60 + rnd(36000);
}

static double
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
run(const char *name)
{
	struct policy_error err;
	struct policy_decision d;
	struct policy_query q;
	struct policy *p = NULL;
	static double lat[NQUERIES];
	char user[16], res[48], gs[4][16], role[16];
	const char *gp[4];
	size_t len;
	double t0, t1;
	char *text;
	int i;

	/* Fresh state even when criterion runs tests without forking. */
	memset(rules, 0, sizeof(rules));
	memset(entries, 0, sizeof(entries));
	nentries = 0;
	seed = 12345;
	text = gen_policy(&len);
	t0 = now_us();
	cr_assert_eq(policy_parse(text, len, &p, &err), 0, "%s line %d: %s",
	    err.path, err.line, err.msg);
	t1 = now_us();
	cr_log_info("%s: parse of %d rules (%zu bytes): %.0f ms", name, NRULES,
	    len, (t1 - t0) / 1e3);
	if (getenv("POLICY_SCALE_NO_TIMING") == NULL)
		cr_expect_lt(t1 - t0, 2e6, "parse took %.0f ms", (t1 - t0) / 1e3);
	cr_assert_eq(policy_rule_count(p), NRULES);
	for (i = 0; i < NQUERIES; i++) {
		gen_query(&q, user, res, gs, gp, role);
		check_one(p, &q);
		t0 = now_us();
		policy_evaluate(p, &q, &d);
		lat[i] = now_us() - t0;
	}
	qsort(lat, NQUERIES, sizeof(lat[0]), cmp_double);
	cr_log_info("%s: evaluate p50 %.2f us, p99 %.2f us, max %.2f us",
	    name, lat[NQUERIES / 2], lat[NQUERIES * 99 / 100],
	    lat[NQUERIES - 1]);
	policy_free(p);
	free(text);
}

Test(scale, dense_index_equals_brute_force, .timeout = 300)
{
	sparse = false;
	run("dense");
}

Test(scale, sparse_index_equals_brute_force, .timeout = 300)
{
	sparse = true;
	run("sparse");
}
