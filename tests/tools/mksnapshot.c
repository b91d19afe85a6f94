/*
 * mksnapshot.c - test tool: sign host snapshots with a CA of its own, so
 * the PAM module's offline path is tested without the broker's CLI.
 *
 *   mksnapshot CADIR keys                    print the CA's public key lines
 *   mksnapshot CADIR sign HOST FROM TO [USER [GRANT_TO [BLOCK_USER]]]
 *
 * CADIR is a state directory for ca_open() (created 0700 when missing).
 * FROM and TO are the snapshot's issued_at and expires_at as offsets in
 * seconds from now (e.g. -60 3600); USER gets a grant until GRANT_TO
 * (offset, default TO); BLOCK_USER gets a block until TO.  USER may be
 * USER:SERIAL for the grant's serial (default 1: "r1").  The signed
 * snapshot goes to stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

#include "ca.h"
#include "snapshot_sign.h"

int
main(int argc, char **argv)
{
	struct brk_error err = { { 0 } };
	struct snapshot *s = NULL;
	const char *const *lines;
	struct ca *ca = NULL;
	char *text = NULL;
	time_t now = time(NULL);
	unsigned long long serial = 1;
	char *colon;
	size_t i, n;
	int r = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: mksnapshot CADIR keys | sign HOST FROM "
		    "TO [USER [GRANT_TO [BLOCK_USER]]]\n");
		return 2;
	}
	mkdir(argv[1], 0700);
	if (ca_open(argv[1], &ca, &err) != 0) {
		fprintf(stderr, "mksnapshot: %s\n", err.msg);
		return 1;
	}
	if (strcmp(argv[2], "keys") == 0) {
		n = ca_all_public_lines(ca, &lines);
		for (i = 0; i < n; i++)
			printf("%s\n", lines[i]);
		r = 0;
		goto out;
	}
	if (strcmp(argv[2], "sign") != 0 || argc < 6)
		goto out;
	if (argc > 6 && (colon = strchr(argv[6], ':')) != NULL) {
		*colon = '\0';
		serial = strtoull(colon + 1, NULL, 10);
	}
	if (snapshot_new(argv[3], now + atol(argv[4]), now + atol(argv[5]),
	    &s, &err) != 0 ||
	    (argc > 6 && snapshot_add_grant(s, argv[6], argv[6],
	    now + (argc > 7 ? atol(argv[7]) : atol(argv[5])), serial, &err) != 0) ||
	    (argc > 8 && snapshot_add_block(s, "global", argv[8],
	    now + atol(argv[5]), "blocked by a test", &err) != 0) ||
	    snapshot_sign(ca, s, &text) != 0) {
		fprintf(stderr, "mksnapshot: %s\n", err.msg[0] ? err.msg :
		    "cannot sign");
		goto out;
	}
	fputs(text, stdout);
	r = 0;
out:
	free(text);
	snapshot_free(s);
	ca_free(ca);
	return r;
}
