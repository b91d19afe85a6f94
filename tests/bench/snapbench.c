/*
 * snapbench.c - latency of the offline decision path: what pam_broker.so
 * does with snapshot= when the broker is away.  Each iteration checks the
 * signature and parses the snapshot (snapshot_verify) and decides one login
 * (snapshot_decide), as one login would.
 *
 *   snapbench SNAPSHOT_FILE CA_KEYS_FILE HOST USER N
 *
 * CA_KEYS_FILE holds the CA public key lines (`broker ca show`).  Prints one
 * line: calls=.. grants=.. allowed=.. p50_us=.. p99_us=..
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snapshot.h"

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

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) ==
	    NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "snapbench: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

int
main(int argc, char **argv)
{
	struct brk_error err = { { 0 } };
	const char *keys[16], *why;
	struct snapshot *s;
	size_t len, klen, nkeys = 0, grants = 0;
	char *text, *ktext, *line, *save = NULL;
	long i, n, allowed = 0;
	double *lat, t0;
	bool ok;

	if (argc != 6 || atol(argv[5]) < 1) {
		fprintf(stderr, "usage: snapbench SNAPSHOT CA_KEYS HOST USER "
		    "N\n");
		return 2;
	}
	n = atol(argv[5]);
	text = slurp(argv[1], &len);
	ktext = slurp(argv[2], &klen);
	for (line = strtok_r(ktext, "\n", &save); line != NULL && nkeys < 16;
	    line = strtok_r(NULL, "\n", &save))
		keys[nkeys++] = line;
	if ((lat = malloc((size_t)n * sizeof(*lat))) == NULL)
		return 1;
	for (i = -20; i < n; i++) {	/* 20 warm-up rounds */
		t0 = now_us();
		if (snapshot_verify(text, len, keys, nkeys, argv[3],
		    time(NULL), &s, &err) != 0) {
			fprintf(stderr, "snapbench: %s\n", err.msg);
			return 1;
		}
		snapshot_decide(s, argv[4], time(NULL), &ok, &why);
		grants = s->ngrants;
		snapshot_free(s);
		if (i >= 0) {
			lat[i] = now_us() - t0;
			allowed += ok;
		}
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("calls=%ld bytes=%zu grants=%zu allowed=%ld p50_us=%.1f "
	    "p90_us=%.1f p99_us=%.1f max_us=%.1f\n", n, len, grants, allowed,
	    lat[n / 2], lat[n * 90 / 100], lat[n * 99 / 100], lat[n - 1]);
	free(lat);
	free(text);
	free(ktext);
	return allowed == n ? 0 : 1;
}
