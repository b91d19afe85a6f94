/*
 * policygen.h - generated policies of up to 10,000 rules (exact, glob,
 * label, user, group and unconstrained) and queries against them.
 *
 * Shared by tests/unit/test_policy_scale.c, which proves the compiled index
 * exact against a brute force, and tests/bench/policy_bench.c, which times
 * it.  Header-only (static functions) because both are single-file
 * programs built by their own rules; include it once per program.
 */
#ifndef BRK_POLICYGEN_H
#define BRK_POLICYGEN_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#ifndef POLICYGEN_MAX_RULES /* tests/bench/policy_bench.c wants more */
#define POLICYGEN_MAX_RULES	10000
#endif
#ifndef NEXACT
#define NEXACT		500
#endif

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

static struct grule rules[POLICYGEN_MAX_RULES];
static int nrules = POLICYGEN_MAX_RULES;	/* how many gen_policy() writes */
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

#endif
