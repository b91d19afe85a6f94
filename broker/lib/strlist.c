/*
 * strlist.c - membership in comma-separated lists.
 */
#include "strlist.h"

#include <string.h>

bool
strlist_has(const char *list, const char *s)
{
	size_t n = strlen(s);
	const char *p = list;

	if (list == NULL || n == 0)
		return false;
	while ((p = strstr(p, s)) != NULL) {
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}
