/*
 * jsonout.h - compact JSON text of a jansson tree, byte for byte what
 * json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII [| JSON_SORT_KEYS]) gives,
 * in one pass with a memcpy per run of plain characters.
 *
 * Why: every grant serialises its reply and two audit records, and
 * jansson's dumper decodes each string one code point at a time through a
 * callback; that was a quarter of the daemon's instructions per grant
 * (tests/bench/README.md).  Only the common case is written here: a tree
 * with a real number, a non-ASCII string, or deeper than JSONOUT_MAX_DEPTH
 * makes jsonout_dumps() return NULL with *unsupported set, and the caller
 * uses json_dumps() for that tree.
 */
#ifndef BRK_JSONOUT_H
#define BRK_JSONOUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define JSONOUT_MAX_DEPTH 64

/* The text of v (an object or an array), malloc'ed and NUL-terminated,
 * with *len its length.  sorted: keys in byte order (JSON_SORT_KEYS).
 * NULL when out of memory, or with *unsupported set when v has something
 * this writer leaves to jansson (see above). */
char *
jsonout_dumps(const json_t *v, bool sorted, size_t *len, bool *unsupported);

/* jsonout_dumps(), else json_dumps() with the same flags: always the same
 * text.  NULL when out of memory (or v is not an object or array). */
char *jsonout_dumps_any(const json_t *v, bool sorted, size_t *len);

/*
 * Writing the same text without a tree, for a hot reply that would build
 * one only to serialise it.  Values follow each other with the commas put
 * in: jsonout_open('{'), then key, value, key, value..., jsonout_close('}').
 * Strings take the same escapes as jsonout_dumps(); a byte over 0x7f sets
 * unsupported (jansson's \uXXXX, and its refusal of bad UTF-8, stay with
 * the tree: the caller builds it instead).  The fields are private.
 */
struct jsonout {
	char *p;
	size_t len, cap;
	bool fail;	  /* out of memory */
	bool unsupported; /* left to jansson */
	bool comma;	  /* a value was written: a comma before the next */
};

void jsonout_init(struct jsonout *o);
void jsonout_open(struct jsonout *o, char bracket);  /* '{' or '[' */
void jsonout_close(struct jsonout *o, char bracket); /* '}' or ']' */
void jsonout_key(struct jsonout *o, const char *key);
void jsonout_str(struct jsonout *o, const char *s);
void jsonout_strn(struct jsonout *o, const char *s, size_t n);
void jsonout_int(struct jsonout *o, json_int_t v);
void jsonout_bool(struct jsonout *o, bool v);
void jsonout_null(struct jsonout *o);
/* A tree as one value, as jsonout_dumps() writes it (sorted: its keys). */
void jsonout_tree(struct jsonout *o, const json_t *v, bool sorted);
/* The text, malloc'ed and NUL-terminated, with *len its length; NULL when
 * out of memory or unsupported (*unsupported says which).  Frees what o
 * held either way. */
char *jsonout_finish(struct jsonout *o, size_t *len, bool *unsupported);

#endif
