/*
 * test_glob.c - resource patterns (policy/glob.c), including the
 * pathological ones that make naive backtracking exponential.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "glob.h"

Test(glob, match)
{
	cr_expect(glob_match("host:web-*", "host:web-1"));
	cr_expect(glob_match("host:web-*", "host:web-"));
	cr_expect(!glob_match("host:web-*", "host:web"));
	cr_expect(glob_match("host:web-?", "host:web-1"));
	cr_expect(!glob_match("host:web-?", "host:web-12"));
	cr_expect(!glob_match("host:web-?", "host:web-"));
	cr_expect(glob_match("*", ""));
	cr_expect(glob_match("*", "anything"));
	cr_expect(glob_match("**", "x"));
	cr_expect(glob_match("a*b*c", "aXXbYYc"));
	cr_expect(glob_match("a*b*c", "abc"));
	cr_expect(!glob_match("a*b*c", "aXXbYY"));
	cr_expect(glob_match("*-prod-*", "host:db-prod-1"));
	cr_expect(glob_match("exact", "exact"));
	cr_expect(!glob_match("exact", "exactly"));
	cr_expect(!glob_match("exactly", "exact"));
	cr_expect(glob_match("a*", "a*"));
	cr_expect(!glob_match(NULL, "x"));
	cr_expect(!glob_match("x", NULL));
	cr_expect(glob_match("*a", "aaaa"));
	cr_expect(glob_match("?*?", "ab"));
	cr_expect(!glob_match("?*?", "a"));
}

Test(glob, validate)
{
	char big[300];

	cr_expect_eq(glob_validate("host:web-*"), 0);
	cr_expect_eq(glob_validate("*"), 0);
	cr_expect_eq(glob_validate(""), BRK_ERR_INVALID);
	cr_expect_eq(glob_validate(NULL), BRK_ERR_INVALID);
	cr_expect_eq(glob_validate("host:[ab]"), BRK_ERR_INVALID);
	cr_expect_eq(glob_validate("host:{a,b}"), BRK_ERR_INVALID);
	cr_expect_eq(glob_validate("host:a\\*"), BRK_ERR_INVALID);
	cr_expect_eq(glob_validate("host:a\nb"), BRK_ERR_INVALID);
	cr_expect_eq(glob_validate("host:a]"), BRK_ERR_INVALID);
	memset(big, 'a', 255);
	big[255] = '\0';
	cr_expect_eq(glob_validate(big), 0);
	big[255] = 'a';
	big[256] = '\0';
	cr_expect_eq(glob_validate(big), BRK_ERR_INVALID);
}

Test(glob, prefix)
{
	cr_expect_eq(glob_literal_prefix("host:web-*"), 9);
	cr_expect_eq(glob_literal_prefix("host:w?b"), 6);
	cr_expect_eq(glob_literal_prefix("*"), 0);
	cr_expect_eq(glob_literal_prefix("exact"), 5);
}

/* Exponential matchers take minutes here; ours must take milliseconds. */
Test(glob, pathological, .timeout = 10)
{
	size_t n = 100000;
	char *s = malloc(n + 2);
	struct timespec a, b;
	double ms;

	cr_assert_not_null(s);
	memset(s, 'a', n);
	s[n] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &a);
	cr_expect(!glob_match("a*a*a*a*a*b", s));
	cr_expect(!glob_match("*a*a*a*a*a*a*a*a*a*a*b", s));
	cr_expect(glob_match("a*a*a*a*a*a", s));
	s[n] = 'b';
	s[n + 1] = '\0';
	cr_expect(glob_match("a*a*a*a*a*b", s));
	cr_expect(!glob_match("?*?*?*?*c", s));
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	cr_log_info("pathological globs: %.1f ms", ms);
	free(s);
}
