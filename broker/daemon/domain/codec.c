/*
 * codec.c - strict decoding helpers for the JSON tables (codec.h).
 */
#include "codec.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

int
codec_load(const void *data, size_t len, json_t **out)
{
	json_t *j;

	*out = NULL;
	if (data == NULL || len == 0)
		return BRK_ERR_INVALID;
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return BRK_ERR_INVALID;
	}
	*out = j;
	return 0;
}

int
codec_unpack(json_t *j, const char *fmt, ...)
{
	json_error_t jerr;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = json_vunpack_ex(j, &jerr, JSON_STRICT, fmt, ap);
	va_end(ap);
	return r == 0 ? 0 : BRK_ERR_INVALID;
}

int
codec_str(char *dst, size_t n, const char *s)
{
	size_t l;

	if (s == NULL || (l = strlen(s)) >= n)
		return BRK_ERR_INVALID;
	memcpy(dst, s, l + 1);
	return 0;
}

int
codec_nstr(char *dst, size_t n, const json_t *v)
{
	if (json_is_null(v)) {
		if (n == 0)
			return BRK_ERR_INVALID;
		dst[0] = '\0';
		return 0;
	}
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return BRK_ERR_INVALID; /* not a string, or holds a NUL */
	return codec_str(dst, n, json_string_value(v));
}

int
codec_enum(const char *s, const char *const *names)
{
	int i;

	for (i = 0; s != NULL && names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int
codec_dump_take(json_t *j, char **out)
{
	*out = NULL;
	if (j == NULL)
		return BRK_ERR_NOMEM;
	*out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return *out == NULL ? BRK_ERR_NOMEM : 0;
}
