/*
 * strlist.h - comma-separated lists of names, as records store them.
 */
#ifndef BRK_STRLIST_H
#define BRK_STRLIST_H

#include <stdbool.h>

/* Whether s is one of the items of the comma-separated list. */
bool strlist_has(const char *list, const char *s);

#endif
