/*
 * jsonout.c - compact JSON text of a jansson tree (see jsonout.h).
 *
 * The output must equal jansson 2.14's dump.c: separators "," and ":"
 * without spaces, keys in insertion order (or sorted by memcmp, then
 * length), integers as JSON_INTEGER_FORMAT ("%lld") writes them, and in
 * strings \" \\ \b \f \n \r \t, \u00XX (upper-case hex) for the other
 * controls, DEL and '/' as they are.  tests/unit/test_jsonout.c compares it with json_dumps().
 */
#include "jsonout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
grow(struct jsonout *o, size_t n)
{
	size_t cap = o->cap != 0 ? o->cap : 1024;
	char *p;

	if (o->fail)
		return;
	while (cap - o->len < n + 1) {
		if (cap > ((size_t)-1) / 2) {
			o->fail = true;
			return;
		}
		cap *= 2;
	}
	if (cap == o->cap)
		return;
	if ((p = realloc(o->p, cap)) == NULL) {
		o->fail = true;
		return;
	}
	o->p = p;
	o->cap = cap;
}

static inline void
put(struct jsonout *o, const char *s, size_t n)
{
	if (o->cap - o->len < n + 1)
		grow(o, n);
	if (o->fail)
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* 1 for the bytes a string holds as they are: printable ASCII but " \ */
static const unsigned char plain[256] = {
	[0x20] = 1,
	[0x21] = 1,
	[0x23 ... 0x5b] = 1,
	[0x5d ... 0x7f] = 1,
};

static void
put_string(struct jsonout *o, const char *s, size_t n)
{
	static const char hexd[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run;
	char esc[6];

	put(o, "\"", 1);
	for (;;) {
		unsigned char c;

		for (run = i; i < n && plain[u[i]]; i++)
			;
		put(o, s + run, i - run);
		if (i == n)
			break;
		c = u[i++];
		if (c >= 0x80) { /* \uXXXX of a code point: jansson's job */
			o->unsupported = true;
			return;
		}
		esc[0] = '\\';
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hexd[c >> 4];
			esc[5] = hexd[c & 15];
			put(o, esc, 6);
			continue;
		}
		put(o, esc, 2);
	}
	put(o, "\"", 1);
}

/* The decimal text of v into num (at least 21 bytes), as "%lld" writes
 * it; its length.  snprintf() costs more than the rest of a value. */
static size_t
put_int(char *num, json_int_t v)
{
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v :
				       (unsigned long long)v;
	char tmp[24];
	size_t n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		num[i++] = '-';
	while (n > 0)
		num[i++] = tmp[--n];
	return i;
}

struct kv {
	const char *key;
	size_t len;
	json_t *val;
};

static int
kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int r = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	if (r != 0)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

static void
put_value(struct jsonout *o, const json_t *v, bool sorted, int depth);

static void
put_object(struct jsonout *o, const json_t *v, bool sorted, int depth)
{
	struct kv *kv = NULL;
	size_t n = json_object_size(v), i = 0;
	void *it;

	put(o, "{", 1);
	if (sorted && n > 1) {
		if ((kv = calloc(n, sizeof(*kv))) == NULL) {
			o->fail = true;
			return;
		}
		for (it = json_object_iter((json_t *)v); it != NULL && i < n;
		     it = json_object_iter_next((json_t *)v, it), i++) {
			kv[i].key = json_object_iter_key(it);
			kv[i].len = json_object_iter_key_len(it);
			kv[i].val = json_object_iter_value(it);
		}
		qsort(kv, i, sizeof(*kv), kv_cmp);
		for (n = i, i = 0; i < n && !o->fail && !o->unsupported; i++) {
			if (i > 0)
				put(o, ",", 1);
			put_string(o, kv[i].key, kv[i].len);
			put(o, ":", 1);
			put_value(o, kv[i].val, sorted, depth + 1);
		}
		free(kv);
	} else {
		for (it = json_object_iter((json_t *)v);
		     it != NULL && !o->fail && !o->unsupported;
		     it = json_object_iter_next((json_t *)v, it), i++) {
			if (i > 0)
				put(o, ",", 1);
			put_string(o, json_object_iter_key(it),
			    json_object_iter_key_len(it));
			put(o, ":", 1);
			put_value(
			    o, json_object_iter_value(it), sorted, depth + 1);
		}
	}
	put(o, "}", 1);
}

static void
put_value(struct jsonout *o, const json_t *v, bool sorted, int depth)
{
	char num[32];
	size_t i, n;

	if (o->fail || o->unsupported)
		return;
	if (depth > JSONOUT_MAX_DEPTH) {
		o->unsupported = true;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		put_object(o, v, sorted, depth);
		break;
	case JSON_ARRAY:
		put(o, "[", 1);
		n = json_array_size(v);
		for (i = 0; i < n && !o->fail && !o->unsupported; i++) {
			if (i > 0)
				put(o, ",", 1);
			put_value(o, json_array_get(v, i), sorted, depth + 1);
		}
		put(o, "]", 1);
		break;
	case JSON_STRING:
		put_string(o, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		put(o, num, put_int(num, json_integer_value(v)));
		break;
	case JSON_TRUE:
		put(o, "true", 4);
		break;
	case JSON_FALSE:
		put(o, "false", 5);
		break;
	case JSON_NULL:
		put(o, "null", 4);
		break;
	default: /* JSON_REAL: jansson's %.17g and its ".0" rules */
		o->unsupported = true;
		break;
	}
}

char *
jsonout_dumps(const json_t *v, bool sorted, size_t *len, bool *unsupported)
{
	struct jsonout o = { NULL, 0, 0, false, false, false };

	*unsupported = false;
	if (len != NULL)
		*len = 0;
	if (v == NULL || (!json_is_object(v) && !json_is_array(v))) {
		*unsupported = true;
		return NULL;
	}
	grow(&o, 0);
	put_value(&o, v, sorted, 0);
	if (o.fail || o.unsupported) {
		*unsupported = o.unsupported && !o.fail;
		free(o.p);
		return NULL;
	}
	o.p[o.len] = '\0';
	if (len != NULL)
		*len = o.len;
	return o.p;
}

char *
jsonout_dumps_any(const json_t *v, bool sorted, size_t *len)
{
	bool unsupported;
	char *s = jsonout_dumps(v, sorted, len, &unsupported);

	if (s != NULL || !unsupported)
		return s;
	s = json_dumps(v,
	    JSON_COMPACT | JSON_ENSURE_ASCII | (sorted ? JSON_SORT_KEYS : 0));
	if (s != NULL && len != NULL)
		*len = strlen(s);
	return s;
}

void
jsonout_init(struct jsonout *o)
{
	*o = (struct jsonout){ NULL, 0, 0, false, false, false };
	grow(o, 0);
}

/* the comma before a value or key that follows another */
static void
sep(struct jsonout *o)
{
	if (o->comma)
		put(o, ",", 1);
	o->comma = true;
}

void
jsonout_open(struct jsonout *o, char bracket)
{
	sep(o);
	put(o, &bracket, 1);
	o->comma = false;
}

void
jsonout_close(struct jsonout *o, char bracket)
{
	put(o, &bracket, 1);
	o->comma = true;
}

void
jsonout_key(struct jsonout *o, const char *key)
{
	sep(o);
	put_string(o, key, strlen(key));
	put(o, ":", 1);
	o->comma = false;
}

void
jsonout_strn(struct jsonout *o, const char *s, size_t n)
{
	sep(o);
	put_string(o, s, n);
}

void
jsonout_str(struct jsonout *o, const char *s)
{
	jsonout_strn(o, s, strlen(s));
}

void
jsonout_int(struct jsonout *o, json_int_t v)
{
	char num[32];

	sep(o);
	put(o, num, put_int(num, v));
}

void
jsonout_bool(struct jsonout *o, bool v)
{
	sep(o);
	put(o, v ? "true" : "false", v ? 4 : 5);
}

void
jsonout_null(struct jsonout *o)
{
	sep(o);
	put(o, "null", 4);
}

void
jsonout_tree(struct jsonout *o, const json_t *v, bool sorted)
{
	sep(o);
	put_value(o, v, sorted, 1);
}

char *
jsonout_finish(struct jsonout *o, size_t *len, bool *unsupported)
{
	char *p = o->p;

	*unsupported = o->unsupported && !o->fail;
	if (len != NULL)
		*len = 0;
	o->p = NULL;
	if (o->fail || o->unsupported || p == NULL) {
		free(p);
		return NULL;
	}
	p[o->len] = '\0';
	if (len != NULL)
		*len = o->len;
	return p;
}
