/*
 * jsonpos.c - find the line of a value in JSON text, given its path.
 *
 * jansson keeps no positions, so to report "rules[2].max_ttl at line 14" we
 * walk the raw text again, following object keys and array indices and
 * skipping everything else.  The walk is only asked about text jansson has
 * accepted, but it must be safe on any bytes: every read is bounds-checked,
 * containers are skipped by counting brackets (no recursion), and when the
 * path cannot be followed the line of the deepest value found is returned.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "policy_int.h"

static size_t
skip_ws(const char *t, size_t len, size_t i)
{
	while (i < len &&
	    (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
		i++;
	return i;
}

/* t[i] is '"'; returns the index after the closing quote (or len). */
static size_t
skip_string(const char *t, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (t[i] == '\\')
			i++;
		else if (t[i] == '"')
			return i + 1;
	}
	return len;
}

static size_t
skip_value(const char *t, size_t len, size_t i)
{
	size_t depth = 0;

	if (i >= len)
		return len;
	if (t[i] == '"')
		return skip_string(t, len, i);
	if (t[i] != '{' && t[i] != '[') {
		while (i < len && strchr(",}] \t\r\n", t[i]) == NULL)
			i++;
		return i;
	}
	while (i < len) {
		if (t[i] == '"') {
			i = skip_string(t, len, i);
			continue;
		}
		if (t[i] == '{' || t[i] == '[')
			depth++;
		else if ((t[i] == '}' || t[i] == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return len;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at t[i..i+4) below end, or -1. */
static long
hex4(const char *t, size_t end, size_t i)
{
	long v = 0;
	int k, h;

	if (i + 4 > end)
		return -1;
	for (k = 0; k < 4; k++) {
		if ((h = hexval(t[i + k])) < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t
utf8_put(unsigned char *b, long cp)
{
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (unsigned char)(0xf0 | (cp >> 18));
	b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	b[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode one (possibly escaped) character at t[*i], advancing *i. */
static size_t
decode_char(const char *t, size_t end, size_t *i, unsigned char *b)
{
	static const char esc_in[] = "\"\\/bfnrt";
	static const char esc_out[] = "\"\\/\b\f\n\r\t";
	const char *e;
	long cp, lo;

	if (t[*i] != '\\' || *i + 1 >= end) {
		b[0] = (unsigned char)t[(*i)++];
		return 1;
	}
	if (t[*i + 1] != 'u') {
		if ((e = strchr(esc_in, t[*i + 1])) == NULL || *e == '\0')
			return 0;
		b[0] = (unsigned char)esc_out[e - esc_in];
		*i += 2;
		return 1;
	}
	if ((cp = hex4(t, end, *i + 2)) < 0)
		return 0;
	*i += 6;
	if (cp >= 0xd800 && cp <= 0xdbff && *i + 1 < end && t[*i] == '\\' &&
	    t[*i + 1] == 'u' && (lo = hex4(t, end, *i + 2)) >= 0xdc00 &&
	    lo <= 0xdfff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		*i += 6;
	}
	return utf8_put(b, cp);
}

/* Whether the string token t[start..end) (quotes included) spells key. */
static bool
key_equals(const char *t, size_t start, size_t end, const char *key)
{
	unsigned char b[4];
	size_t i = start + 1, k = 0, n, j;
	size_t klen = strlen(key);

	if (end < start + 2 || t[end - 1] != '"')
		return false;
	end--;
	while (i < end) {
		if ((n = decode_char(t, end, &i, b)) == 0)
			return false;
		for (j = 0; j < n; j++, k++)
			if (k >= klen || (unsigned char)key[k] != b[j])
				return false;
	}
	return k == klen;
}

/* t[i] is '{': the index of the value under key, or SIZE_MAX. */
static size_t
find_key(const char *t, size_t len, size_t i, const char *key)
{
	size_t kstart;
	bool hit;

	for (i = skip_ws(t, len, i + 1); i < len && t[i] == '"';) {
		kstart = i;
		i = skip_string(t, len, i);
		hit = key_equals(t, kstart, i, key);
		i = skip_ws(t, len, i);
		if (i >= len || t[i] != ':')
			break;
		i = skip_ws(t, len, i + 1);
		if (hit)
			return i < len ? i : SIZE_MAX;
		i = skip_ws(t, len, skip_value(t, len, i));
		if (i >= len || t[i] != ',')
			break;
		i = skip_ws(t, len, i + 1);
	}
	return SIZE_MAX;
}

/* t[i] is '[': the index of element n, or SIZE_MAX. */
static size_t
find_index(const char *t, size_t len, size_t i, size_t n)
{
	size_t k;

	i = skip_ws(t, len, i + 1);
	if (i >= len || t[i] == ']')
		return SIZE_MAX;
	for (k = 0; i < len; k++) {
		if (k == n)
			return i;
		i = skip_ws(t, len, skip_value(t, len, i));
		if (i >= len || t[i] != ',')
			break;
		i = skip_ws(t, len, i + 1);
	}
	return SIZE_MAX;
}

int
jsonpos_line(
    const char *text, size_t len, const struct pol_step *steps, size_t nsteps)
{
	size_t i, s, next, line = 1;

	if (text == NULL || len == 0)
		return 0;
	i = skip_ws(text, len, 0);
	if (i >= len)
		i = len - 1;
	for (s = 0; s < nsteps; s++) {
		next = SIZE_MAX;
		if (steps[s].key != NULL && text[i] == '{')
			next = find_key(text, len, i, steps[s].key);
		else if (steps[s].key == NULL && text[i] == '[')
			next = find_index(text, len, i, steps[s].index);
		if (next == SIZE_MAX || next >= len)
			break;
		i = next;
	}
	for (s = 0; s < i; s++)
		if (text[s] == '\n')
			line++;
	return line > INT32_MAX ? 0 : (int)line;
}
