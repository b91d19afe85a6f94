/*
 * test_jsonout.c - jsonout_dumps() writes what json_dumps() writes.
 *
 * Fails when the writer strays from jansson in any detail it handles
 * (checked by writing the \u escapes' hex in lower case, by sorting keys
 * with strcmp on a shorter length, by dropping the comma between array
 * elements, and by leaving out the minus sign of negative integers:
 * each made these tests red).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"

static void
same(const json_t *v, bool sorted)
{
	size_t flags = JSON_COMPACT | JSON_ENSURE_ASCII |
	    (sorted ? JSON_SORT_KEYS : 0);
	char *want = json_dumps(v, flags), *got;
	bool unsupported = true;
	size_t len = 0;

	cr_assert_not_null(want);
	got = jsonout_dumps(v, sorted, &len, &unsupported);
	cr_assert_not_null(got, "unsupported=%d for %s", unsupported, want);
	cr_assert_not(unsupported);
	cr_assert_str_eq(got, want);
	cr_assert_eq(len, strlen(want));
	free(got);
	free(want);
}

Test(jsonout, plain_values_and_escapes)
{
	json_t *v = json_pack(
	    "{s:i, s:I, s:I, s:b, s:b, s:n, s:s, s:[], s:{}, s:[i,s,[],{}]}",
	    "v", 1, "min", (json_int_t)INT64_MIN, "max",
	    (json_int_t)INT64_MAX, "t", 1, "f", 0, "nothing", "s",
	    "a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f end", "empty", "obj", "arr", -5,
	    "x", "q\"uo\\te");

	cr_assert_not_null(v);
	json_object_set_new(v, "ke\"y\n", json_string("k"));
	json_object_set_new(v, "", json_string(""));
	same(v, false);
	same(v, true);
	json_decref(v);
	v = json_array();
	same(v, false);
	json_array_append_new(v, json_object());
	same(v, true);
	json_decref(v);
}

Test(jsonout, integers)
{
	json_t *v = json_array();
	json_int_t p = 1;
	int i;

	json_array_append_new(v, json_integer(0));
	json_array_append_new(v, json_integer(INT64_MIN));
	json_array_append_new(v, json_integer(INT64_MIN + 1));
	json_array_append_new(v, json_integer(INT64_MAX));
	for (i = 0;; i++) { /* 10^0 .. 10^18, the largest in int64 */
		json_array_append_new(v, json_integer(p));
		json_array_append_new(v, json_integer(p - 1));
		json_array_append_new(v, json_integer(-p));
		json_array_append_new(v, json_integer(-p + 1));
		if (i == 18)
			break;
		p *= 10;
	}
	same(v, false);
	json_decref(v);
}

Test(jsonout, sorted_keys_in_byte_order)
{
	json_t *v = json_object();
	const char *keys[] = { "b", "ab", "a", "abc", "B", "_", "a b", "z",
		"prev", "hash", "details" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_set_new(v, keys[i], json_integer((json_int_t)i));
	json_object_set_new(
	    v, "nested", json_pack("{s:i, s:i, s:{s:i, s:i}}", "y", 1, "x", 2,
			     "w", "d", 1, "c", 2));
	same(v, false);
	same(v, true);
	json_decref(v);
}

/* A random tree of ASCII strings, integers, literals, arrays and objects:
 * the same generator seeded the same way each run. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void
rnd_text(char *s, size_t max)
{
	size_t n = rnd((unsigned)max), i;

	for (i = 0; i < n; i++)
		s[i] = (char)(1 + rnd(127)); /* 0x01..0x7f */
	s[n] = '\0';
}

static json_t *
rnd_value(int depth)
{
	char s[80];
	json_t *v;
	unsigned i, n;

	switch (depth > 4 ? rnd(4) : rnd(6)) {
	case 0:
		rnd_text(s, sizeof(s));
		return json_string(s);
	case 1:
		return json_integer((json_int_t)rnd(2000000) - 1000000);
	case 2:
		return rnd(3) == 0 ? json_null() : json_boolean(rnd(2));
	case 3:
		rnd_text(s, 40);
		return json_string(s);
	case 4:
		v = json_array();
		for (n = rnd(6), i = 0; i < n; i++)
			json_array_append_new(v, rnd_value(depth + 1));
		return v;
	default:
		v = json_object();
		for (n = rnd(8), i = 0; i < n; i++) {
			rnd_text(s, 12);
			json_object_set_new(v, s, rnd_value(depth + 1));
		}
		return v;
	}
}

Test(jsonout, random_trees)
{
	int i;

	for (i = 0; i < 2000; i++) {
		json_t *v = json_object();

		json_object_set_new(v, "a", rnd_value(0));
		json_object_set_new(v, "b", rnd_value(1));
		same(v, false);
		same(v, true);
		json_decref(v);
	}
}

Test(jsonout, leaves_reals_and_non_ascii_to_jansson)
{
	json_t *vs[] = {
		json_pack("{s:f}", "r", 1.5),
		json_pack("{s:s}", "u", "caf\xc3\xa9"),
		json_pack("{s:[s]}", "u", "\xf0\x9f\x94\x91 key"),
		json_pack("{s:i}", "\xc3\xa9", 1),
	};
	char *got, *want;
	bool unsupported = false;
	size_t i, len;

	for (i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
		cr_assert_not_null(vs[i]);
		cr_assert_null(jsonout_dumps(vs[i], false, &len, &unsupported));
		cr_assert(unsupported);
		want = json_dumps(vs[i], JSON_COMPACT | JSON_ENSURE_ASCII);
		got = jsonout_dumps_any(vs[i], false, &len);
		cr_assert_str_eq(got, want);
		cr_assert_eq(len, strlen(want));
		free(got);
		free(want);
		json_decref(vs[i]);
	}
	/* not a container */
	vs[0] = json_string("x");
	cr_assert_null(jsonout_dumps(vs[0], false, &len, &unsupported));
	json_decref(vs[0]);
}

Test(jsonout, too_deep_is_left_to_jansson)
{
	json_t *v = json_array(), *top = v;
	char *got, *want;
	int i;

	for (i = 0; i < JSONOUT_MAX_DEPTH + 5; i++) {
		json_t *a = json_array();

		json_array_append_new(v, a);
		v = a;
	}
	got = jsonout_dumps_any(top, false, NULL);
	want = json_dumps(top, JSON_COMPACT | JSON_ENSURE_ASCII);
	cr_assert_str_eq(got, want);
	free(got);
	free(want);
	json_decref(top);
}
