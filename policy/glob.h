/*
 * glob.h - resource patterns: '*' matches any run (also empty), '?' one
 * character; every other character is literal.  '[', ']', '{', '}', '\\'
 * and control characters are refused so that a pattern means one thing.
 */
#ifndef BRK_GLOB_H
#define BRK_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* 0 when pat is a valid non-empty pattern of at most 255 bytes, else BRK_ERR_INVALID. */
int glob_validate(const char *pat);

/* Whether s matches pat.  Linear-time in practice (no backtracking blowup). */
bool glob_match(const char *pat, const char *s);

/* Length of the literal prefix before the first '*' or '?'. */
size_t glob_literal_prefix(const char *pat);

#endif
