/*
 * tlsask.c - test tool: time a host's check over TLS, as pam_broker does.
 *
 *   tlsask SERVERNAME PORT CA CERT KEY RESOURCE USER COUNT [TIMEOUT_MS]
 *
 * COUNT times in a row: connect to SERVERNAME:PORT (TCP and the TLS 1.3
 * handshake with a fresh context and the files read anew, like the PAM
 * module), ask op "check" for USER on RESOURCE, and close.  Prints one line
 * per check ("ms=M rc=R"), then "answered=A of=COUNT median_ms=X max_ms=Y".
 * A check is answered when the broker decided (allowed or not).  Exits 0
 * when every check was answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "client.h"
#include "deadline.h"

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct client_tls tls = { NULL, NULL, NULL, NULL, NULL };
	struct brk_error err;
	struct client *c;
	json_t *args, *res;
	long long *ms, t0;
	int count, i, r, answered = 0, timeout;

	if (argc < 9 || (count = atoi(argv[8])) < 1 || count > 10000) {
		fprintf(stderr, "usage: tlsask SERVERNAME PORT CA CERT KEY "
		    "RESOURCE USER COUNT [TIMEOUT_MS]\n");
		return 2;
	}
	timeout = argc > 9 ? atoi(argv[9]) : 5000;
	tls.ca = argv[3];
	tls.cert = argv[4];
	tls.key = argv[5];
	if ((ms = calloc((size_t)count, sizeof(*ms))) == NULL ||
	    (args = json_pack("{s:s, s:s}", "user", argv[7], "resource",
	    argv[6])) == NULL)
		return 2;
	for (i = 0; i < count; i++) {
		memset(&err, 0, sizeof(err));
		c = NULL;
		res = NULL;
		t0 = deadline_now_ms();
		r = client_open_tls(argv[1], argv[2], &tls, timeout, &c, &err);
		if (r == 0)
			r = client_call(c, "check", args, NULL, timeout, &res,
			    &err);
		client_free(c);
		ms[i] = deadline_now_ms() - t0;
		if (r == 0)
			answered++;
		printf("ms=%lld rc=%d%s%s\n", ms[i], r, r != 0 ? " " : "",
		    r != 0 ? err.msg : "");
		json_decref(res);
	}
	qsort(ms, (size_t)count, sizeof(*ms), cmp_ll);
	printf("answered=%d of=%d median_ms=%lld max_ms=%lld\n", answered,
	    count, ms[count / 2], ms[count - 1]);
	json_decref(args);
	free(ms);
	return answered == count ? 0 : 1;
}
