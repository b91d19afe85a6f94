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
		if ((p == list || p[-1] == ',') &&
		    (p[n] == ',' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

void
strlist_join(char *dst, size_t dstlen, const char *const *v, size_t n)
{
	size_t i, used = 0, l;

	if (dstlen == 0)
		return;
	dst[0] = '\0';
	for (i = 0; i < n; i++) {
		l = strlen(v[i]);
		if (used + l + 2 > dstlen)
			break;
		if (used > 0)
			dst[used++] = ',';
		memcpy(dst + used, v[i], l + 1);
		used += l;
	}
}
