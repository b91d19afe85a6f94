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

#define POLICYGEN_MAX_RULES	100000	/* the scale curve goes to 100k */
#define MAX_RULES	POLICYGEN_MAX_RULES
#define NQ		4096

#include "../unit/policygen.h"

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
