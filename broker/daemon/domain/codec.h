/*
 * codec.h - the strict reading of stored JSON records.
 *
 * Every table that stores JSON (opt-outs, flags, approvals, reviews,
 * policies) decodes through these: the value must be one JSON object, of
 * the version this build writes, with exactly the keys its table names
 * and each of the right type (json_unpack_ex with JSON_STRICT).  A record
 * that does not decode is an error the caller propagates: the decision
 * that needed it is refused, never made as if the record were absent.
 */
#ifndef BRK_CODEC_H
#define BRK_CODEC_H

#include <stddef.h>

#include <jansson.h>

/*
 * Parse data as a stored record into *out (a new reference; NULL on
 * entry, set only on success).  BRK_ERR_INVALID when it is not one JSON
 * object or repeats a key.
 */
int codec_load(const void *data, size_t len, json_t **out);

/*
 * json_unpack_ex(j, JSON_STRICT, fmt, ...): every key of j must be named
 * in fmt and every value of its type.  BRK_ERR_INVALID otherwise.
 */
int codec_unpack(json_t *j, const char *fmt, ...);

/* Copy s into dst (size n); BRK_ERR_INVALID when s does not fit (a stored
 * field is never truncated into a different value). */
int codec_str(char *dst, size_t n, const char *s);

/* Like codec_str for a value that may be JSON null (then ""). */
int codec_nstr(char *dst, size_t n, const json_t *v);

/* The index of s in the NULL-terminated names; -1 when not there. */
int codec_enum(const char *s, const char *const *names);

/* The record as stored (JSON_COMPACT, malloc'd) into *out; NULL on entry.
 * Consumes j, even on failure (NULL j is BRK_ERR_NOMEM). */
int codec_dump_take(json_t *j, char **out);

#endif
