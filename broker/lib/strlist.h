/*
 * strlist.h - comma-separated lists of names, as records store them.
 */
#ifndef BRK_STRLIST_H
#define BRK_STRLIST_H

#include <stdbool.h>
#include <stddef.h>

/* Whether s is one of the items of the comma-separated list. */
bool strlist_has(const char *list, const char *s);

/* Join up to n strings with commas into dst (dstlen bytes): the items that
 * fit whole, never a cut one. */
void strlist_join(char *dst, size_t dstlen, const char *const *v, size_t n);

#endif
