/*
 * index.c - compile rules and resource entries into lookup tables.
 *
 * Each rule is filed under its most selective constraint: its resource
 * patterns (exact names in a sorted table, globs under their literal prefix,
 * or under their reversed literal suffix when that is longer, so "*-db" is
 * not tried on every resource), else its first label "k=v", else its users,
 * else its groups, else in the short list of rules that are always
 * candidates.  A query collects candidates from the few tables it can hit,
 * puts them in file order (a bitmap when there are many), and checks only
 * those fully.

 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "errors.h"
#include "glob.h"
#include "policy_int.h"

/* "kind:name": at most 32 + 1 + 255 bytes (names.h). */
#define POL_RESOURCE_MAX 288

static int
cmp_kv(const void *a, const void *b)
{
	const struct pol_kv *x = a, *y = b;
	int d = strcmp(x->key, y->key);

	if (d != 0)
		return d;
	return x->item < y->item ? -1 : x->item > y->item;
}

/* The table was sized by alloc_tables(); sorted once filled. */
static void
keyidx_add(struct pol_keyidx *ix, const char *key, uint32_t item)
{
	ix->v[ix->n].key = key;
	ix->v[ix->n++].item = item;
}

/* First position of key in the sorted table, or ix->n. */
static size_t
keyidx_find(const struct pol_keyidx *ix, const char *key)
{
	size_t lo = 0, hi = ix->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(ix->v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ix->n && strcmp(ix->v[lo].key, key) == 0 ? lo : ix->n;
}

/* Room for every pattern, label, user and group of every rule. */
static int
alloc_tables(
    struct policy *p, struct pol_pfx_in **globs, struct pol_pfx_in **sfx)
{
	struct pol_index *ix = &p->idx;
	size_t i, nres = 0, nl = 0, nu = 0, ng = 0;

	for (i = 0; i < p->nrules; i++) {
		nres += p->rules[i].resources.n;
		nl += p->rules[i].labels.n;
		nu += p->rules[i].users.n;
		ng += p->rules[i].groups.n;
	}
	if ((ix->res_exact.v = pol_allocarray(
		 p, nres + 1, sizeof(struct pol_kv))) == NULL ||
	    (ix->labels.v = pol_allocarray(p, nl + 1, sizeof(struct pol_kv))) ==
		NULL ||
	    (ix->users.v = pol_allocarray(p, nu + 1, sizeof(struct pol_kv))) ==
		NULL ||
	    (ix->groups.v = pol_allocarray(p, ng + 1, sizeof(struct pol_kv))) ==
		NULL ||
	    (ix->always = pol_allocarray(p, p->nrules + 1, sizeof(uint32_t))) ==
		NULL ||
	    (*globs = calloc(nres + 1, sizeof(**globs))) == NULL ||
	    (*sfx = calloc(nres + 1, sizeof(**sfx))) == NULL)
		return BRK_ERR_NOMEM;
	return 0;
}

/* The literal suffix of a glob after its last wildcard, reversed. */
static char *
reversed_suffix(struct policy *p, const char *pat, size_t *len)
{
	size_t n = strlen(pat), k = 0;
	char *rev;

	while (k < n && pat[n - 1 - k] != '*' && pat[n - 1 - k] != '?')
		k++;
	if ((rev = pol_alloc(p, k + 1)) == NULL)
		return NULL;
	for (*len = 0; *len < k; (*len)++)
		rev[*len] = pat[n - 1 - *len];
	return rev;
}

static int
file_glob(struct policy *p, uint32_t i, const char *pat, struct pol_pfx_in *in,
    size_t *nin, struct pol_pfx_in *sfx, size_t *nsfx)
{
	size_t plen = glob_literal_prefix(pat), slen;
	char *rev;

	if ((rev = reversed_suffix(p, pat, &slen)) == NULL)
		return BRK_ERR_NOMEM;
	if (slen > plen) {
		sfx[*nsfx].s = rev;
		sfx[*nsfx].len = slen;
		sfx[(*nsfx)++].item = i;
	} else {
		in[*nin].s = pat;
		in[*nin].len = plen;
		in[(*nin)++].item = i;
	}
	return 0;
}

static int
file_rule(struct policy *p, uint32_t i, struct pol_pfx_in *globs,
    size_t *nglobs, struct pol_pfx_in *sfx, size_t *nsfx)
{
	const struct pol_rule *r = &p->rules[i];
	struct pol_index *ix = &p->idx;
	const char *kv, *pat;
	size_t k;

	if (r->resources.n > 0) {
		for (k = 0; k < r->resources.n; k++) {
			pat = r->resources.v[k];
			if (pat[glob_literal_prefix(pat)] == '\0')
				keyidx_add(&ix->res_exact, pat, i);
			else if (file_glob(
				     p, i, pat, globs, nglobs, sfx, nsfx) != 0)
				return BRK_ERR_NOMEM;
		}
	} else if (r->labels.n > 0) {
		if ((kv = pol_printf(p, "%s=%s", r->labels.v[0].key,
			 r->labels.v[0].value)) == NULL)
			return BRK_ERR_NOMEM;
		keyidx_add(&ix->labels, kv, i);
	} else if (r->users.n > 0) {
		for (k = 0; k < r->users.n; k++)
			keyidx_add(&ix->users, r->users.v[k], i);
	} else if (r->groups.n > 0) {
		for (k = 0; k < r->groups.n; k++)
			keyidx_add(&ix->groups, r->groups.v[k], i);
	} else
		ix->always[ix->nalways++] = i;
	return 0;
}

static int
build_entries(struct policy *p)
{
	struct pol_pfx_in *globs = NULL;
	size_t i, n = 0;
	int r = BRK_ERR_NOMEM;

	if ((p->idx.ent_exact.v = pol_allocarray(
		 p, p->nres + 1, sizeof(struct pol_kv))) == NULL ||
	    (globs = calloc(p->nres + 1, sizeof(*globs))) == NULL)
		goto out;
	for (i = 0; i < p->nres; i++) {
		if (!p->res[i].is_glob) {
			keyidx_add(
			    &p->idx.ent_exact, p->res[i].name, (uint32_t)i);
			continue;
		}
		globs[n].s = p->res[i].name;
		globs[n].len = glob_literal_prefix(p->res[i].name);
		globs[n++].item = (uint32_t)i;
	}
	qsort(p->idx.ent_exact.v, p->idx.ent_exact.n, sizeof(struct pol_kv),
	    cmp_kv);
	r = pol_pfx_build(p, globs, n, &p->idx.ent_glob);
out:
	free(globs);
	return r;
}

int
pol_index_build(struct policy *p)
{
	struct pol_index *ix = &p->idx;
	struct pol_pfx_in *globs = NULL, *sfx = NULL;
	size_t nglobs = 0, nsfx = 0;
	uint32_t i;
	int r;

	if ((r = alloc_tables(p, &globs, &sfx)) != 0)
		goto out;
	for (i = 0; i < p->nrules; i++)
		if ((r = file_rule(p, i, globs, &nglobs, sfx, &nsfx)) != 0)
			goto out;
	qsort(ix->res_exact.v, ix->res_exact.n, sizeof(struct pol_kv), cmp_kv);
	qsort(ix->labels.v, ix->labels.n, sizeof(struct pol_kv), cmp_kv);
	qsort(ix->users.v, ix->users.n, sizeof(struct pol_kv), cmp_kv);
	qsort(ix->groups.v, ix->groups.n, sizeof(struct pol_kv), cmp_kv);
	if ((r = pol_pfx_build(p, globs, nglobs, &ix->res_glob)) != 0 ||
	    (r = pol_pfx_build(p, sfx, nsfx, &ix->res_sfx)) != 0 ||
	    (r = build_entries(p)) != 0)
		goto out;
	r = 0;
out:
	free(globs);
	free(sfx);
	return r;
}

const struct pol_resource *
pol_index_entry(const struct policy *p, const char *resource)
{
	const uint32_t *slices[POL_PFX_MAX];
	size_t lens[POL_PFX_MAX], n, i, k;
	size_t at = keyidx_find(&p->idx.ent_exact, resource);

	if (at < p->idx.ent_exact.n)
		return &p->res[p->idx.ent_exact.v[at].item];
	/* Longest literal prefix first; items within one are in file order. */
	n = pol_pfx_lookup(&p->idx.ent_glob, resource, strlen(resource), slices,
	    lens, POL_PFX_MAX);
	for (i = 0; i < n; i++)
		for (k = 0; k < lens[i]; k++)
			if (glob_match(p->res[slices[i][k]].name, resource))
				return &p->res[slices[i][k]];
	return NULL;
}

const struct pol_rule *
pol_index_rule(const struct policy *p, const char *id)
{
	size_t lo = 0, hi = p->nrules, mid;
	int d;

	while (id != NULL && lo < hi) {
		mid = lo + (hi - lo) / 2;
		d = strcmp(p->rules[p->idx.byid[mid]].id, id);
		if (d == 0)
			return &p->rules[p->idx.byid[mid]];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
cand_add(struct pol_eval *ev, const uint32_t *items, size_t n)
{
	uint32_t *nv;
	size_t cap;

	if (ev->cap - ev->ncand < n) {
		cap = ev->cap * 2 > ev->ncand + n ? ev->cap * 2 : ev->ncand + n;
		if ((nv = calloc(cap, sizeof(*nv))) == NULL)
			return BRK_ERR_NOMEM;
		memcpy(nv, ev->cand, ev->ncand * sizeof(*nv));
		if (ev->cand != ev->buf)
			free(ev->cand);
		ev->cand = nv;
		ev->cap = cap;
	}
	if (n > 0)
		memcpy(ev->cand + ev->ncand, items, n * sizeof(*items));
	ev->ncand += n;
	return 0;
}

static int
cand_key(const struct pol_keyidx *ix, const char *key, struct pol_eval *ev)
{
	size_t at = keyidx_find(ix, key);
	int r = 0;

	for (; r == 0 && at < ix->n && strcmp(ix->v[at].key, key) == 0; at++)
		r = cand_add(ev, &ix->v[at].item, 1);
	return r;
}

/* Labels are looked up as "k=v"; keys cannot hold '=' so this is exact. */
static int
cand_labels(const struct policy *p, struct pol_eval *ev)
{
	char kv[512];
	size_t i;
	int r = 0, n;

	for (i = 0; r == 0 && ev->entry != NULL && i < ev->entry->labels.n;
	     i++) {
		n = snprintf(kv, sizeof(kv), "%s=%s",
		    ev->entry->labels.v[i].key, ev->entry->labels.v[i].value);
		if (n > 0 && (size_t)n < sizeof(kv))
			r = cand_key(&p->idx.labels, kv, ev);
	}
	return r;
}

/* Rules filed under a glob prefix or (reversed) suffix of the resource. */
static int
cand_globs(const struct policy *p, struct pol_eval *ev)
{
	const uint32_t *slices[POL_PFX_MAX];
	size_t lens[POL_PFX_MAX], n, i, len = strlen(ev->q->resource);
	char rev[POL_RESOURCE_MAX + 1];
	int r = 0;

	n = pol_pfx_lookup(
	    &p->idx.res_glob, ev->q->resource, len, slices, lens, POL_PFX_MAX);
	for (i = 0; r == 0 && i < n; i++)
		r = cand_add(ev, slices[i], lens[i]);
	if (r != 0 || p->idx.res_sfx.n == 0 || len > POL_RESOURCE_MAX)
		return r;
	for (i = 0; i < len; i++)
		rev[i] = ev->q->resource[len - 1 - i];
	n = pol_pfx_lookup(
	    &p->idx.res_sfx, rev, len, slices, lens, POL_PFX_MAX);
	for (i = 0; r == 0 && i < n; i++)
		r = cand_add(ev, slices[i], lens[i]);
	return r;
}

/* Few candidates: insertion sort.  Many: a bitmap, read back in order. */
static int
cand_order(const struct policy *p, struct pol_eval *ev)
{
	uint64_t stackmap[512], *map = stackmap, w;
	size_t i, k, out, words = p->nrules / 64 + 1;
	uint32_t v;

	if (ev->ncand <= 32) {
		for (i = 1; i < ev->ncand; i++) {
			v = ev->cand[i];
			for (k = i; k > 0 && ev->cand[k - 1] > v; k--)
				ev->cand[k] = ev->cand[k - 1];
			ev->cand[k] = v;
		}
		for (out = 0, k = 0; k < ev->ncand; k++)
			if (out == 0 || ev->cand[out - 1] != ev->cand[k])
				ev->cand[out++] = ev->cand[k];
		ev->ncand = out;
		return 0;
	}
	if (words > sizeof(stackmap) / sizeof(stackmap[0]) &&
	    (map = calloc(words, sizeof(*map))) == NULL)
		return BRK_ERR_NOMEM;
	if (map == stackmap)
		memset(map, 0, words * sizeof(*map));
	for (i = 0; i < ev->ncand; i++)
		map[ev->cand[i] / 64] |= (uint64_t)1 << (ev->cand[i] % 64);
	for (out = 0, i = 0; i < words; i++)
		for (w = map[i]; w != 0; w &= w - 1)
			ev->cand[out++] = (uint32_t)(i * 64 +
			    (size_t)__builtin_ctzll(w));
	ev->ncand = out;
	if (map != stackmap)
		free(map);
	return 0;
}

int
pol_index_candidates(const struct policy *p, struct pol_eval *ev)
{
	const struct policy_query *q = ev->q;
	size_t i;
	int r;

	ev->cand = ev->buf;
	ev->cap = sizeof(ev->buf) / sizeof(ev->buf[0]);
	ev->ncand = 0;
	if ((r = cand_globs(p, ev)) != 0 ||
	    (r = cand_key(&p->idx.res_exact, q->resource, ev)) != 0 ||
	    (r = cand_labels(p, ev)) != 0 ||
	    (r = cand_key(&p->idx.users, q->user, ev)) != 0 ||
	    (r = cand_add(ev, p->idx.always, p->idx.nalways)) != 0)
		return r;
	for (i = 0; i < q->ngroups; i++)
		if (q->groups[i] != NULL &&
		    (r = cand_key(&p->idx.groups, q->groups[i], ev)) != 0)
			return r;
	return cand_order(p, ev);
}
