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

#include "policygen.h"


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
	/* a granting rule naming no roles grants only the user's own name */
	if (g->grant != POLICY_DENY && g->nroles == 0 &&
	    (strcmp(role, q->user) != 0 || strcmp(role, "root") == 0))
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
