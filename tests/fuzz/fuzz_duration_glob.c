/*
 * fuzz_duration_glob.c - fuzz target for durations and resource globs
 * (policy/duration.c, policy/glob.c).
 *
 * The input is split at the first NUL (or newline) into a pattern and a
 * subject.  Properties checked, besides memory safety:
 *  - a parsed duration is in 1..DURATION_MAX, and formatting it and
 *    parsing the result gives the same number (round trip);
 *  - a valid pattern matches itself when it has no wildcards, matches
 *    every string when it is "*", and its literal prefix is a prefix of
 *    every subject it matches.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "errors.h"
#include "glob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *pat, *subj, *cut, out[64];
	int64_t secs = 0, again = 0;
	size_t pre;

	if (size > 4096 || (buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	pat = buf;
	subj = buf + strlen(buf);	/* "" unless split below */
	if ((cut = strchr(buf, '\n')) != NULL) {
		*cut = '\0';
		subj = cut + 1;
	}

	/* durations: the whole first part */
	if (duration_parse(pat, &secs) == 0) {
		if (secs < 1 || secs > DURATION_MAX)
			abort();
		duration_format(secs, out, sizeof(out));
		if (duration_parse(out, &again) != 0 || again != secs)
			abort();
	}
	/* formatting any number must stay in the buffer and NUL-terminate */
	if (size >= 8) {
		memcpy(&secs, data, sizeof(secs));
		duration_format(secs, out, sizeof(out));
		if (memchr(out, '\0', sizeof(out)) == NULL)
			abort();
		duration_format(secs, out, 4);
		if (memchr(out, '\0', 4) == NULL)
			abort();
	}

	/* globs */
	if (glob_validate(pat) == 0) {
		pre = glob_literal_prefix(pat);
		if (pre > strlen(pat))
			abort();
		if (glob_match(pat, subj) && strncmp(pat, subj, pre) != 0)
			abort();
		if (strpbrk(pat, "*?") == NULL && !glob_match(pat, pat))
			abort();
		if (strcmp(pat, "*") == 0 && !glob_match(pat, subj))
			abort();
	}
	(void)glob_match(pat, subj);
	(void)glob_match(subj, pat);
	free(buf);
	return 0;
}
