/*
 * glob.c - resource patterns with '*' and '?' only.
 *
 * Matching is the classic iterative algorithm that remembers only the last
 * '*': when a later literal fails, it retries from that star one character
 * further on.  Earlier stars never need revisiting (the last star can absorb
 * anything they could), so the cost is at most pattern x subject steps and
 * patterns like "a*a*a*a*b" cannot blow up exponentially.
 */
#include "glob.h"

#include <string.h>

#include "errors.h"
#include "policy.h"
#include "policy_int.h"

#define GLOB_MAX 255

int
glob_validate(const char *pat)
{
	size_t i, len;

	if (pat == NULL || (len = strnlen(pat, GLOB_MAX + 1)) == 0 ||
	    len > GLOB_MAX)
		return BRK_ERR_INVALID;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pat[i];

		if (c < 0x20 || c == 0x7f || c == '[' || c == ']' || c == '{' ||
		    c == '}' || c == '\\')
			return BRK_ERR_INVALID;
	}
	return 0;
}

/*
 * When subject is itself a pattern (covering), a '?' in pat must not match
 * its '*', which stands for many characters.
 */
static bool
match(const char *pat, const char *s, bool covering)
{
	const char *star = NULL, *retry = NULL;

	if (pat == NULL || s == NULL)
		return false;
	while (*s != '\0') {
		if (*pat == '*') {
			while (*pat == '*')
				pat++;
			star = pat;
			retry = s;
			continue;
		}
		if (*pat != '\0' &&
		    (*pat == *s || (*pat == '?' && !(covering && *s == '*')))) {
			pat++;
			s++;
			continue;
		}
		if (star == NULL)
			return false;
		pat = star;
		s = ++retry;
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

bool
glob_match(const char *pat, const char *s)
{
	return match(pat, s, false);
}

bool
glob_covers(const char *pat, const char *subject)
{
	return match(pat, subject, true);
}

size_t
glob_literal_prefix(const char *pat)
{
	return pat == NULL ? 0 : strcspn(pat, "*?");
}
