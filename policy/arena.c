/*
 * arena.c - one allocator for everything a compiled policy owns.
 *
 * A policy is built once and freed whole, so its arrays come from a chain of
 * large chunks and policy_free() releases the chain: no per-array free code
 * to get wrong, and parsing 10,000 rules costs a few hundred mallocs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy_int.h"

#define CHUNK_SIZE (64 * 1024)
#define ALIGN 16

struct pol_chunk {
	struct pol_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

void *
pol_alloc(struct policy *p, size_t n)
{
	struct pol_chunk *c = p->arena;
	size_t cap;
	void *ret;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (n == 0)
		n = ALIGN;
	if (c == NULL || c->cap - c->used < n) {
		cap = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
		if ((c = calloc(1, sizeof(*c) + cap)) == NULL)
			return NULL;
		c->cap = cap;
		if (n > CHUNK_SIZE / 4 && p->arena != NULL) {
			/* A big block goes behind the current chunk. */
			c->next = p->arena->next;
			p->arena->next = c;
		} else {
			c->next = p->arena;
			p->arena = c;
		}
	}
	ret = (unsigned char *)c->data + c->used;
	c->used += n;
	return ret;
}

void *
pol_allocarray(struct policy *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / 2 / size)
		return NULL;
	return pol_alloc(p, n * size);
}

char *
pol_printf(struct policy *p, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = pol_alloc(p, (size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

void
pol_arena_free(struct policy *p)
{
	struct pol_chunk *c, *next;

	for (c = p->arena; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	p->arena = NULL;
}
