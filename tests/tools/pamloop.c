/*
 * pamloop.c - test tool: run pam_acct_mgmt many times through the real
 * libpam and check that nothing grows: every result as expected, and the
 * same number of open descriptors after the loop as after the first call.
 * Meant to run under valgrind (leaks) as well as on its own (descriptors).
 *
 *   pamloop CONFDIR SERVICE USER N allow|deny
 *
 * CONFDIR holds the service file (pam_start_confdir, Linux-PAM >= 1.4).
 * libpam is opened with dlopen() because test tools are linked without it.
 * Exit 0 when all went as expected, 1 otherwise.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

typedef int (*start_fn)(const char *, const char *, const struct pam_conv *,
    const char *, pam_handle_t **);
typedef int (*acct_fn)(pam_handle_t *, int);
typedef int (*end_fn)(pam_handle_t *, int);

/* Answer every message with nothing, as a non-interactive service does. */
static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	*resp = calloc((size_t)n, sizeof(**resp));
	return *resp != NULL ? PAM_SUCCESS : PAM_BUF_ERR;
}

static int
count_fds(void)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
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
	int want, rc, fds0, fds1;

	if (argc != 6) {
		fprintf(stderr, "usage: pamloop CONFDIR SERVICE USER N "
		    "allow|deny\n");
		return 2;
	}
	n = atol(argv[4]);
	want = strcmp(argv[5], "allow") == 0 ? PAM_SUCCESS : PAM_PERM_DENIED;
	if ((lib = dlopen("libpam.so.0", RTLD_NOW)) == NULL ||
	    (start = (start_fn)dlsym(lib, "pam_start_confdir")) == NULL ||
	    (acct = (acct_fn)dlsym(lib, "pam_acct_mgmt")) == NULL ||
	    (end = (end_fn)dlsym(lib, "pam_end")) == NULL) {
		fprintf(stderr, "pamloop: %s\n", dlerror());
		return 1;
	}
	if ((rc = start(argv[2], argv[3], &pc, argv[1], &pamh)) !=
	    PAM_SUCCESS) {
		fprintf(stderr, "pamloop: pam_start_confdir: %d\n", rc);
		return 1;
	}
	/* the first call loads the module and its libraries */
	if ((rc = acct(pamh, 0)) != want)
		bad++;
	fds0 = count_fds();
	for (i = 1; i < n; i++)
		if ((rc = acct(pamh, 0)) != want && bad++ < 5)
			fprintf(stderr, "pamloop: call %ld returned %d\n", i,
			    rc);
	fds1 = count_fds();
	end(pamh, PAM_SUCCESS);
	dlclose(lib);
	printf("calls=%ld unexpected=%ld fds_before=%d fds_after=%d\n", n, bad,
	    fds0, fds1);
	return bad == 0 && fds0 == fds1 && fds0 > 0 ? 0 : 1;
}
