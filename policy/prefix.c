/*
 * prefix.c - a table of literal prefixes: which of them begin a string.
 *
 * The distinct prefixes are sorted, and each records its nearest ancestor
 * (the longest other prefix that is a prefix of it).  Every prefix of a
 * string s that is in the table is an ancestor-or-self of the greatest entry
 * e <= s (anything between a prefix of s and s itself starts with that
 * prefix), so one binary search plus a walk up e's ancestors no longer than
 * lcp(e, s) finds them all: O(log n + matches), whatever the patterns.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "errors.h"
#include "policy_int.h"

static int
cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int d = memcmp(a, b, alen < blen ? alen : blen);

	if (d != 0)
		return d;
	return alen < blen ? -1 : alen > blen;
}

static int
cmp_pfx_in(const void *a, const void *b)
{
	const struct pol_pfx_in *x = a, *y = b;
	int d = cmp_bytes(x->s, x->len, y->s, y->len);

	if (d != 0)
		return d;
	return x->item < y->item ? -1 : x->item > y->item;
}

/* Sort the pairs, then group them under distinct prefixes with parents. */
int
pol_pfx_build(
    struct policy *p, struct pol_pfx_in *in, size_t n, struct pol_pfxidx *ix)
{
	int32_t *stack = NULL, top = 0;
	struct pol_pfx *e;
	size_t i;
	int r = BRK_ERR_NOMEM;

	qsort(in, n, sizeof(*in), cmp_pfx_in);
	if ((ix->v = pol_allocarray(p, n + 1, sizeof(*ix->v))) == NULL ||
	    (ix->items = pol_allocarray(p, n + 1, sizeof(uint32_t))) == NULL ||
	    (stack = calloc(n + 1, sizeof(*stack))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		ix->items[i] = in[i].item;
		if (ix->n > 0 &&
		    cmp_bytes(ix->v[ix->n - 1].s, ix->v[ix->n - 1].len, in[i].s,
			in[i].len) == 0) {
			ix->v[ix->n - 1].n++;
			continue;
		}
		e = &ix->v[ix->n];
		e->s = in[i].s;
		e->len = in[i].len;
		e->start = (uint32_t)i;
		e->n = 1;
		/* Pop entries that are not prefixes of this one. */
		while (top > 0 &&
		    (ix->v[stack[top - 1]].len > e->len ||
			memcmp(ix->v[stack[top - 1]].s, e->s,
			    ix->v[stack[top - 1]].len) != 0))
			top--;
		e->parent = top > 0 ? stack[top - 1] : -1;
		stack[top++] = (int32_t)ix->n++;
	}
	r = 0;
out:
	free(stack);
	return r;
}

/*
 * The item slices of every table prefix that is a prefix of s, longest
 * first.  At most one per length of s, so max = PFX_MAX always suffices.
 */
size_t
pol_pfx_lookup(const struct pol_pfxidx *ix, const char *s, size_t slen,
    const uint32_t **slices, size_t *lens, size_t max)
{
	size_t lo = 0, hi = ix->n, mid, lcp, found = 0;
	const struct pol_pfx *e;
	int32_t cur;

	/* Greatest entry <= s. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cmp_bytes(ix->v[mid].s, ix->v[mid].len, s, slen) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return 0;
	e = &ix->v[lo - 1];
	for (lcp = 0; lcp < e->len && lcp < slen && e->s[lcp] == s[lcp]; lcp++)
		;
	for (cur = (int32_t)(lo - 1); cur >= 0 && found < max;
	     cur = ix->v[cur].parent) {
		if (ix->v[cur].len > lcp)
			continue;
		slices[found] = ix->items + ix->v[cur].start;
		lens[found++] = ix->v[cur].n;
	}
	return found;
}
