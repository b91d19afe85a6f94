/*
 * test_krl.c - KRLs as ssh-keygen -Q reads them: revoked serials REVOKED,
 * others ok, across a CA rotation; and the encoding read back strictly.
 */
#include "sshtest.h"

#include <openssl/rand.h>

#include "ca.h"
#include "errors.h"
#include "krl.h"
#include "sshbuf.h"
#include "sshcert.h"
#include "sshkey.h"

static struct ca *
open_ca(const char *state)
{
	struct brk_error err = { "" };
	struct ca *ca = NULL;

	cr_assert_eq(ca_open(state, &ca, &err), 0, "%s", err.msg);
	return ca;
}

/* Write a certificate with this serial to DIR/cert-N.pub. */
static char *
cert_file(const char *dir, const struct ca *ca, const struct sshkey *uk,
    uint64_t serial)
{
	static const char *const pr[] = { "alice" };
	struct sshcert_params p = {
		.serial = serial, .key_id = "k", .principals = pr,
		.nprincipals = 1, .valid_after = 0, .valid_before = UINT64_MAX,
	};
	char *cert, *path, name[64];

	cr_assert_eq(sshcert_issue(ca, uk, &p, &cert, NULL), 0);
	snprintf(name, sizeof(name), "cert-%llu.pub",
	    (unsigned long long)serial);
	path = path_in(dir, name);
	spew(path, cert, strlen(cert));
	free(cert);
	return path;
}

/* 1 when ssh-keygen -Q says REVOKED, 0 when ok. */
static int
revoked(const char *krl, const char *cert)
{
	char *argv[] = { "ssh-keygen", "-Q", "-f", (char *)krl, (char *)cert,
	    NULL };
	char *out;
	int rc, res;

	rc = run(argv, &out);
	if (strstr(out, ": REVOKED") != NULL) {
		cr_assert_neq(rc, 0, "REVOKED but exit 0");
		res = 1;
	} else {
		cr_assert_not_null(strstr(out, ": ok"), "ssh-keygen: %s", out);
		cr_assert_eq(rc, 0);
		res = 0;
	}
	free(out);
	return res;
}

static char *
write_krl(const char *dir, const struct ca *ca, const uint64_t *s, size_t n)
{
	uint8_t *krl;
	size_t len;
	char *path = path_in(dir, "krl");

	cr_assert_eq(krl_build(ca, s, n, 7, 1700000000, &krl, &len), 0);
	spew(path, krl, len);
	free(krl);
	return path;
}

static struct sshkey *
user_key(const char *dir)
{
	char *pub = keygen(dir, "user", "ed25519", NULL), *line;
	struct sshkey *k;

	line = slurp(pub, NULL);
	cr_assert_eq(sshkey_parse(line, strlen(line), &k, NULL), 0);
	free(line);
	free(pub);
	return k;
}

Test(krl, ssh_keygen_agrees, .timeout = 60)
{
	static const uint64_t rev[] = { 11, 3, 5, 6, 7, 8, 5, 3, 1000 };
	char *dir = tmpdir_new(), *state = path_in(dir, "state"), *krl;
	char *certs[13];
	struct ca *ca = open_ca(state);
	struct sshkey *uk = user_key(dir);
	uint64_t i;
	int want;

	for (i = 1; i <= 12; i++)
		certs[i] = cert_file(dir, ca, uk, i);
	krl = write_krl(dir, ca, rev, sizeof(rev) / sizeof(rev[0]));
	for (i = 1; i <= 12; i++) {
		want = i == 3 || (i >= 5 && i <= 8) || i == 11;
		cr_assert_eq(revoked(krl, certs[i]), want, "serial %llu",
		    (unsigned long long)i);
	}
	free(krl);
	/* An empty KRL revokes nothing. */
	krl = write_krl(dir, ca, NULL, 0);
	cr_assert_eq(revoked(krl, certs[3]), 0);
	free(krl);
	for (i = 1; i <= 12; i++)
		free(certs[i]);
	sshkey_free(uk);
	ca_free(ca);
	free(state);
	tmpdir_free(dir);
}

/* Certificates signed before a rotation are still revocable. */
Test(krl, covers_previous_ca_keys)
{
	char *dir = tmpdir_new(), *state = path_in(dir, "state"), *krl;
	char *old3, *old5, *new4;
	struct ca *a = open_ca(state), *b;
	struct sshkey *uk = user_key(dir);
	uint64_t rev[] = { 3, 4 };

	old3 = cert_file(dir, a, uk, 3);
	old5 = cert_file(dir, a, uk, 5);
	cr_assert_eq(ca_rotate(state, NULL), 0);
	b = open_ca(state);
	new4 = cert_file(dir, b, uk, 4);
	krl = write_krl(dir, b, rev, 2);
	cr_assert_eq(revoked(krl, old3), 1);
	cr_assert_eq(revoked(krl, new4), 1);
	cr_assert_eq(revoked(krl, old5), 0);
	free(krl);
	free(old3);
	free(old5);
	free(new4);
	sshkey_free(uk);
	ca_free(a);
	ca_free(b);
	free(state);
	tmpdir_free(dir);
}

Test(krl, bad_arguments)
{
	char *dir = tmpdir_new();
	struct ca *ca = open_ca(dir);
	uint64_t zero[] = { 5, 0 };
	uint8_t *out = (uint8_t *)1;
	size_t len = 1;

	cr_assert_eq(krl_build(ca, zero, 2, 1, 1, &out, &len), BRK_ERR_INVALID);
	cr_assert_null(out);
	cr_assert_eq(len, 0);
	cr_assert_eq(krl_build(ca, NULL, 1, 1, 1, &out, &len), BRK_ERR_INVALID);
	cr_assert_eq(krl_build(NULL, zero, 1, 1, 1, &out, &len),
	    BRK_ERR_INVALID);
	cr_assert_eq(krl_build(ca, zero, KRL_MAX_SERIALS + 1, 1, 1, &out,
	    &len), BRK_ERR_TOOBIG);
	ca_free(ca);
	tmpdir_free(dir);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Read our KRL back with bounds-checked reads and list what it revokes. */
static size_t
read_back(const uint8_t *krl, size_t len, const struct ca *ca, uint64_t *got,
    size_t max)
{
	struct sshbuf *b = sshbuf_from(krl, len), *sect, *sub;
	const uint8_t *data, *key;
	size_t dlen, klen, n = 0, nsect = 0;
	uint64_t u64, lo, hi, prev;
	uint32_t u32;
	uint8_t type;

	cr_assert_eq(sshbuf_get_u64(b, &u64), 0);
	cr_assert_eq(u64, 0x5353484b524c0a00ULL);
	cr_assert_eq(memcmp(krl, "SSHKRL\n\0", 8), 0);
	cr_assert_eq(sshbuf_get_u32(b, &u32), 0);
	cr_assert_eq(u32, 1);
	cr_assert_eq(sshbuf_get_u64(b, &u64), 0);
	cr_assert_eq(u64, 7);
	cr_assert_eq(sshbuf_get_u64(b, &u64), 0);
	cr_assert_eq(u64, 1700000000);
	cr_assert_eq(sshbuf_get_u64(b, &u64), 0);
	cr_assert_eq(u64, 0);
	cr_assert_eq(sshbuf_get_string_direct(b, NULL, NULL), 0);
	cr_assert_eq(sshbuf_get_string_direct(b, NULL, NULL), 0);
	while (sshbuf_len(b) > 0) {
		cr_assert_eq(sshbuf_get_u8(b, &type), 0);
		cr_assert_eq(type, 1);
		cr_assert_eq(sshbuf_get_string_direct(b, &data, &dlen), 0);
		sect = sshbuf_from(data, dlen);
		cr_assert_eq(sshbuf_get_string_direct(sect, &key, &klen), 0);
		cr_assert_eq(memcmp(key, ca_public_blob(ca, nsect, NULL), klen),
		    0);
		cr_assert_eq(sshbuf_get_string_direct(sect, NULL, NULL), 0);
		prev = 0;
		while (sshbuf_len(sect) > 0) {
			cr_assert_eq(sshbuf_get_u8(sect, &type), 0);
			cr_assert_eq(sshbuf_get_string_direct(sect, &data,
			    &dlen), 0);
			sub = sshbuf_from(data, dlen);
			if (type == 0x21) {
				cr_assert_eq(sshbuf_get_u64(sub, &lo), 0);
				cr_assert_eq(sshbuf_get_u64(sub, &hi), 0);
				cr_assert_geq(hi - lo, 2);
				for (; nsect == 0 && lo <= hi; lo++)
					got[n++] = lo;
			} else {
				cr_assert_eq(type, 0x20);
				prev = 0;
				while (sshbuf_len(sub) > 0) {
					cr_assert_eq(sshbuf_get_u64(sub, &u64),
					    0);
					cr_assert_gt(u64, prev,
					    "not ascending");
					prev = u64;
					if (nsect == 0)
						got[n++] = u64;
				}
			}
			cr_assert_leq(n, max);
			sshbuf_free(sub);
		}
		sshbuf_free(sect);
		nsect++;
	}
	sshbuf_free(b);
	qsort(got, n, sizeof(*got), cmp_u64);
	return n;
}

Test(krl, many_serials_sorted_and_deduplicated)
{
	char *dir = tmpdir_new();
	struct ca *ca = open_ca(dir);
	size_t n = 50000, i, m, got_n;
	uint64_t *s = malloc(n * sizeof(*s)), *want, *got;
	uint8_t *krl;
	size_t len;

	cr_assert_eq(RAND_bytes((uint8_t *)s, n * sizeof(*s)), 1);
	for (i = 0; i < n; i++)
		s[i] = 1 + s[i] % 40000;	/* repeats and runs */
	cr_assert_eq(krl_build(ca, s, n, 7, 1700000000, &krl, &len), 0);
	want = malloc(n * sizeof(*want));
	memcpy(want, s, n * sizeof(*s));
	qsort(want, n, sizeof(*want), cmp_u64);
	for (i = 0, m = 0; i < n; i++)
		if (m == 0 || want[m - 1] != want[i])
			want[m++] = want[i];
	got = malloc(n * sizeof(*got));
	got_n = read_back(krl, len, ca, got, n);
	cr_assert_eq(got_n, m);
	cr_assert_eq(memcmp(got, want, m * sizeof(*got)), 0);
	free(krl);
	free(s);
	free(want);
	free(got);
	ca_free(ca);
	tmpdir_free(dir);
}
