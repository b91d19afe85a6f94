/*
 * policy_bench.c - policy evaluation latency at a given number of rules.
 *
 *   policy_bench NRULES sparse|dense NEVALS
 *
 * The policy is generated the way tests/unit/test_policy_scale.c does it
 * (that test proves the index exact against a brute force; this tool only
 * times it): "sparse" looks like a real organisation's policy (rules about
 * specific hosts, teams and people: exact resources, team globs, label
 * rules, user and group rules, a few broad ones) and is where the latency
 * target applies; "dense" is adversarial for the index (broad globs,
 * hundreds of rules per label value, ~160 matches per query).
 * 4,096 generated queries are evaluated round-robin, NEVALS times in all,
 * after one warm-up pass; each evaluation is timed on its own.
 * Prints one line: rules=.. parse_ms=.. evals=.. p50_us=.. p99_us=..
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"

#define MAX_RULES	10000
#define NEXACT		500
#define NQ		4096

static int nrules;

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

static struct grule rules[MAX_RULES];
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

	if (f == NULL)
		abort();
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
	for (i = 0; i < nrules; i++) {
		gen_rule(i, &rules[i]);
		fprintf(f, "%s", i ? ",\n" : "");
		put_rule(f, &rules[i]);
	}
	fprintf(f, "]}\n");
	fclose(f);
	return text;
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

struct q {
	struct policy_query q;
	char user[16], res[48], gs[4][16], role[16];
	const char *gp[4];
};

int
main(int argc, char **argv)
{
	static struct q qs[NQ];
	struct policy_decision d;
	struct policy_error err;
	struct policy *p = NULL;
	double t0, t1, *lat;
	long i, n;
	size_t len;
	char *text;
	int outcomes[3] = { 0, 0, 0 };

	if (argc != 4 || atoi(argv[1]) < 1 || atoi(argv[1]) > MAX_RULES ||
	    atol(argv[3]) < 1) {
		fprintf(stderr, "usage: policy_bench NRULES sparse|dense "
		    "NEVALS\n");
		return 2;
	}
	nrules = atoi(argv[1]);
	sparse = strcmp(argv[2], "sparse") == 0;
	n = atol(argv[3]);
	text = gen_policy(&len);
	t0 = now_us();
	if (policy_parse(text, len, &p, &err) != 0) {
		fprintf(stderr, "policy_bench: %s line %d: %s\n", err.path,
		    err.line, err.msg);
		return 1;
	}
	t1 = now_us();
	for (i = 0; i < NQ; i++) {
		struct q *x = &qs[i];

		gen_query(&x->q, x->user, x->res, x->gs, x->gp, x->role);
		policy_evaluate(p, &x->q, &d);	/* warm-up */
		outcomes[d.outcome]++;
	}
	if ((lat = malloc((size_t)n * sizeof(*lat))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		double a = now_us();

		policy_evaluate(p, &qs[i % NQ].q, &d);
		lat[i] = now_us() - a;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("rules=%zu kind=%s bytes=%zu parse_ms=%.1f evals=%ld "
	    "deny=%d approve=%d auto=%d p50_us=%.2f p90_us=%.2f p99_us=%.2f "
	    "max_us=%.2f\n", policy_rule_count(p), argv[2], len,
	    (t1 - t0) / 1e3, n, outcomes[0], outcomes[1], outcomes[2],
	    lat[n / 2], lat[n * 90 / 100], lat[n * 99 / 100], lat[n - 1]);
	free(lat);
	policy_free(p);
	free(text);
	return 0;
}
