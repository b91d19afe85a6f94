/*
 * pamlat.c - latency of the PAM account path: pam_acct_mgmt() through the
 * real libpam with pam_broker.so in the stack, timed call by call.
 * Adapted from tests/tools/pamloop.c.
 *
 *   pamlat CONFDIR SERVICE USER N allow|deny
 *
 * CONFDIR holds the service file (pam_start_confdir, Linux-PAM >= 1.4), so
 * no system PAM configuration is touched.  libpam is opened with dlopen()
 * so that the tool builds without libpam's development files.  The first
 * 50 calls warm up (the module and its libraries load on the first one).
 * Prints one line: calls=.. unexpected=.. p50_us=.. p99_us=..
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_appl.h>

typedef int (*start_fn)(const char *, const char *, const struct pam_conv *,
    const char *, pam_handle_t **);
typedef int (*acct_fn)(pam_handle_t *, int);
typedef int (*end_fn)(pam_handle_t *, int);

#define WARMUP 50

/* Answer every message with nothing, as a non-interactive service does. */
static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	*resp = calloc((size_t)n, sizeof(**resp));
	return *resp != NULL ? PAM_SUCCESS : PAM_BUF_ERR;
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

int
main(int argc, char **argv)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *pamh = NULL;
	start_fn start;
	acct_fn acct;
	end_fn end;
	void *lib;
	long i, n, bad = 0;
	double *lat, t0;
	int want, rc;

	if (argc != 6 || atol(argv[4]) < 1) {
		fprintf(stderr, "usage: pamlat CONFDIR SERVICE USER N "
		    "allow|deny\n");
		return 2;
	}
	n = atol(argv[4]);
	want = strcmp(argv[5], "allow") == 0 ? PAM_SUCCESS : PAM_PERM_DENIED;
	if ((lib = dlopen("libpam.so.0", RTLD_NOW)) == NULL ||
	    (start = (start_fn)dlsym(lib, "pam_start_confdir")) == NULL ||
	    (acct = (acct_fn)dlsym(lib, "pam_acct_mgmt")) == NULL ||
	    (end = (end_fn)dlsym(lib, "pam_end")) == NULL) {
		fprintf(stderr, "pamlat: %s\n", dlerror());
		return 1;
	}
	if ((lat = malloc((size_t)n * sizeof(*lat))) == NULL)
		return 1;
	if ((rc = start(argv[2], argv[3], &pc, argv[1], &pamh)) !=
	    PAM_SUCCESS) {
		fprintf(stderr, "pamlat: pam_start_confdir: %d\n", rc);
		return 1;
	}
	for (i = -WARMUP; i < n; i++) {
		t0 = now_us();
		rc = acct(pamh, 0);
		if (i >= 0)
			lat[i] = now_us() - t0;
		if (rc != want && bad++ < 3)
			fprintf(stderr, "pamlat: call %ld returned %d\n", i, rc);
	}
	end(pamh, PAM_SUCCESS);
	dlclose(lib);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("calls=%ld unexpected=%ld p50_us=%.1f p90_us=%.1f p99_us=%.1f "
	    "max_us=%.1f\n", n, bad, lat[n / 2], lat[n * 90 / 100],
	    lat[n * 99 / 100], lat[n - 1]);
	free(lat);
	return bad == 0 ? 0 : 1;
}
