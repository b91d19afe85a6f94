/*
 * test_sshbuf.c - the byte buffer: wire encodings round-trip, every reader
 * refuses truncated input without consuming, base64 has one encoding.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "sshbuf.h"

Test(sshbuf, roundtrip)
{
	struct sshbuf *b = sshbuf_new();
	const uint8_t *p;
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	size_t len;
	char *s;

	cr_assert_not_null(b);
	cr_assert_eq(sshbuf_put_u8(b, 0xab), 0);
	cr_assert_eq(sshbuf_put_u32(b, 0x01020304), 0);
	cr_assert_eq(sshbuf_put_u64(b, 0x1122334455667788ULL), 0);
	cr_assert_eq(sshbuf_put_string(b, "abc", 3), 0);
	cr_assert_eq(sshbuf_put_cstring(b, "hello"), 0);
	cr_assert_eq(sshbuf_put_string(b, NULL, 0), 0);
	cr_assert_eq(sshbuf_len(b), 1 + 4 + 8 + 7 + 9 + 4);
	cr_assert_eq(memcmp(sshbuf_ptr(b), "\xab\x01\x02\x03\x04\x11\x22\x33"
	    "\x44\x55\x66\x77\x88\0\0\0\x03" "abc", 20), 0);

	cr_assert_eq(sshbuf_get_u8(b, &u8), 0);
	cr_assert_eq(u8, 0xab);
	cr_assert_eq(sshbuf_get_u32(b, &u32), 0);
	cr_assert_eq(u32, 0x01020304);
	cr_assert_eq(sshbuf_get_u64(b, &u64), 0);
	cr_assert_eq(u64, 0x1122334455667788ULL);
	cr_assert_eq(sshbuf_get_string_direct(b, &p, &len), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(p, "abc", 3), 0);
	cr_assert_eq(sshbuf_get_cstring(b, &s, &len), 0);
	cr_assert_str_eq(s, "hello");
	cr_assert_eq(len, 5);
	free(s);
	cr_assert_eq(sshbuf_get_string_direct(b, &p, &len), 0);
	cr_assert_eq(len, 0);
	cr_assert_eq(sshbuf_len(b), 0);
	cr_assert_eq(sshbuf_get_u8(b, &u8), BRK_ERR_INVALID);
	sshbuf_free(b);
	sshbuf_free(NULL);
}

/* Every prefix of a valid encoding fails every reader, consuming nothing. */
Test(sshbuf, truncation)
{
	struct sshbuf *w = sshbuf_new(), *v;
	const uint8_t *p;
	size_t i, len, total;
	uint64_t u64;
	uint32_t u32;
	char *s;

	cr_assert_eq(sshbuf_put_cstring(w, "0123456789"), 0);
	total = sshbuf_len(w);
	for (i = 0; i < total; i++) {
		v = sshbuf_from(sshbuf_ptr(w), i);
		cr_assert_not_null(v);
		cr_assert_eq(sshbuf_get_string_direct(v, &p, &len),
		    BRK_ERR_INVALID);
		cr_assert_null(p);
		cr_assert_eq(sshbuf_get_cstring(v, &s, NULL), BRK_ERR_INVALID);
		cr_assert_null(s);
		cr_assert_eq(sshbuf_get_mpint_direct(v, &p, &len),
		    BRK_ERR_INVALID);
		if (i < 8)
			cr_assert_eq(sshbuf_get_u64(v, &u64), BRK_ERR_INVALID);
		if (i < 4)
			cr_assert_eq(sshbuf_get_u32(v, &u32), BRK_ERR_INVALID);
		cr_assert_eq(sshbuf_len(v), i, "a failed read consumed");
		sshbuf_free(v);
	}
	/* A length field far past the end. */
	v = sshbuf_from("\xff\xff\xff\xff" "ab", 6);
	cr_assert_eq(sshbuf_get_string_direct(v, &p, &len), BRK_ERR_INVALID);
	cr_assert_eq(sshbuf_consume(v, 7), BRK_ERR_INVALID);
	cr_assert_eq(sshbuf_consume(v, 6), 0);
	sshbuf_free(v);
	sshbuf_free(w);
}

Test(sshbuf, views_are_read_only)
{
	struct sshbuf *v = sshbuf_from("abc", 3);

	cr_assert_eq(sshbuf_put_u8(v, 1), BRK_ERR_READONLY);
	cr_assert_eq(sshbuf_len(v), 3);
	sshbuf_free(v);
}

Test(sshbuf, cstring_refuses_nul)
{
	struct sshbuf *v = sshbuf_from("\0\0\0\x03" "a\0b", 7);
	char *s;

	cr_assert_eq(sshbuf_get_cstring(v, &s, NULL), BRK_ERR_INVALID);
	cr_assert_null(s);
	cr_assert_eq(sshbuf_len(v), 7);
	sshbuf_free(v);
}

Test(sshbuf, mpint)
{
	struct sshbuf *b = sshbuf_new();
	const uint8_t *p;
	size_t len;

	cr_assert_eq(sshbuf_put_mpint_bytes(b, (const uint8_t *)"\0\0", 2), 0);
	cr_assert_eq(sshbuf_put_mpint_bytes(b, (const uint8_t *)"\0\x80", 2),
	    0);
	cr_assert_eq(sshbuf_put_mpint_bytes(b, (const uint8_t *)"\x7f\x01", 2),
	    0);
	cr_assert_eq(sshbuf_len(b), 4 + 4 + 2 + 4 + 2);
	cr_assert_eq(memcmp(sshbuf_ptr(b), "\0\0\0\0" "\0\0\0\x02\0\x80"
	    "\0\0\0\x02\x7f\x01", 16), 0);
	cr_assert_eq(sshbuf_get_mpint_direct(b, &p, &len), 0);
	cr_assert_eq(len, 0);
	cr_assert_eq(sshbuf_get_mpint_direct(b, &p, &len), 0);
	cr_assert_eq(len, 1);
	cr_assert_eq(p[0], 0x80);
	cr_assert_eq(sshbuf_get_mpint_direct(b, &p, &len), 0);
	cr_assert_eq(len, 2);
	sshbuf_free(b);

	/* Negative, and needlessly padded, are refused. */
	b = sshbuf_from("\0\0\0\x01\x80", 5);
	cr_assert_eq(sshbuf_get_mpint_direct(b, &p, &len), BRK_ERR_INVALID);
	sshbuf_free(b);
	b = sshbuf_from("\0\0\0\x02\0\x7f", 6);
	cr_assert_eq(sshbuf_get_mpint_direct(b, &p, &len), BRK_ERR_INVALID);
	sshbuf_free(b);
	b = sshbuf_from("\0\0\0\x01\0", 5);
	cr_assert_eq(sshbuf_get_mpint_direct(b, &p, &len), BRK_ERR_INVALID);
	sshbuf_free(b);
}

static void
check_b64(const char *in, const char *want)
{
	struct sshbuf *b = sshbuf_new();
	char *s;

	cr_assert_eq(sshbuf_put_base64(b, in, strlen(in)), 0);
	cr_assert_eq(sshbuf_dup_string(b, &s), 0);
	cr_assert_str_eq(s, want);
	free(s);
	sshbuf_reset(b);
	cr_assert_eq(sshbuf_put_base64_decoded(b, want, strlen(want)), 0);
	cr_assert_eq(sshbuf_len(b), strlen(in));
	cr_assert_eq(memcmp(sshbuf_ptr(b), in, strlen(in)), 0);
	sshbuf_free(b);
}

Test(sshbuf, base64_vectors)
{
	/* RFC 4648 section 10. */
	check_b64("", "");
	check_b64("f", "Zg==");
	check_b64("fo", "Zm8=");
	check_b64("foo", "Zm9v");
	check_b64("foob", "Zm9vYg==");
	check_b64("fooba", "Zm9vYmE=");
	check_b64("foobar", "Zm9vYmFy");
}

Test(sshbuf, base64_nopad)
{
	struct sshbuf *b = sshbuf_new();
	char *s;

	cr_assert_eq(sshbuf_put_base64_nopad(b, "fo", 2), 0);
	cr_assert_eq(sshbuf_dup_string(b, &s), 0);
	cr_assert_str_eq(s, "Zm8");
	free(s);
	sshbuf_free(b);
}

Test(sshbuf, base64_strict)
{
	static const char *bad[] = {
		"Zg=", "Zh==", "Zm9=", "Zm8", "Z===", "====", "Zg==Zg==",
		"Zm 9v", "Zm9v\n", "Zm-v", "Zm_v", "=Zm9", "Zm=v",
	};
	struct sshbuf *b = sshbuf_new();
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(sshbuf_put_base64_decoded(b, bad[i],
		    strlen(bad[i])), BRK_ERR_INVALID, "accepted \"%s\"",
		    bad[i]);
		cr_assert_eq(sshbuf_len(b), 0, "left bytes for \"%s\"", bad[i]);
	}
	sshbuf_free(b);
}

Test(sshbuf, growth_and_limits)
{
	struct sshbuf *b = sshbuf_new();
	uint8_t *p;
	size_t i;

	for (i = 0; i < 100000; i++)
		cr_assert_eq(sshbuf_put_u32(b, (uint32_t)i), 0);
	cr_assert_eq(sshbuf_len(b), 400000);
	for (i = 0; i < 100000; i++) {
		uint32_t v;

		cr_assert_eq(sshbuf_get_u32(b, &v), 0);
		cr_assert_eq(v, i);
	}
	cr_assert_eq(sshbuf_reserve(b, SSHBUF_SIZE_MAX + 1, &p),
	    BRK_ERR_TOOBIG);
	cr_assert_null(p);
	sshbuf_reset(b);
	cr_assert_eq(sshbuf_len(b), 0);
	sshbuf_free(b);
}
