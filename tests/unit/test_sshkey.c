/*
 * test_sshkey.c - public key parsing: every accepted type from ssh-keygen,
 * every refused one, and fuzz-style abuse (each truncation of each valid
 * blob, byte flips, random bytes, oversized lines).
 */
#include "sshtest.h"

#include <openssl/rand.h>

#include "errors.h"
#include "sshbuf.h"
#include "sshkey.h"

struct kt {
	const char *type, *bits, *name;
	enum sshkey_kind kind;
};

static const struct kt types[] = {
	{ "ed25519", NULL, "ssh-ed25519", SSHKEY_ED25519 },
	{ "ecdsa", "256", "ecdsa-sha2-nistp256", SSHKEY_ECDSA_P256 },
	{ "ecdsa", "384", "ecdsa-sha2-nistp384", SSHKEY_ECDSA_P384 },
	{ "ecdsa", "521", "ecdsa-sha2-nistp521", SSHKEY_ECDSA_P521 },
	{ "rsa", "2048", "ssh-rsa", SSHKEY_RSA },
	{ "rsa", "3072", "ssh-rsa", SSHKEY_RSA },
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

static struct sshkey *
parse_ok(const char *line)
{
	struct brk_error err = { "" };
	struct sshkey *k = NULL;
	int r = sshkey_parse(line, strlen(line), &k, &err);

	cr_assert_eq(r, 0, "parse failed (%s): %s", brk_strerror(r), err.msg);
	cr_assert_not_null(k);
	return k;
}

static int
parse_rc(const char *line, size_t len)
{
	struct brk_error err = { "" };
	struct sshkey *k = (struct sshkey *)1;
	int r = sshkey_parse(line, len, &k, &err);

	if (r != 0) {
		cr_assert_null(k, "out-param set on failure");
		cr_assert_neq(err.msg[0], '\0', "no error message");
	}
	sshkey_free(k);
	return r;
}

/* "TYPE BASE64(blob) COMMENT" */
static char *
make_line(const char *type, const uint8_t *blob, size_t len)
{
	struct sshbuf *b = sshbuf_new();
	char *s;

	cr_assert_eq(sshbuf_put(b, type, strlen(type)), 0);
	cr_assert_eq(sshbuf_put_u8(b, ' '), 0);
	cr_assert_eq(sshbuf_put_base64(b, blob, len), 0);
	cr_assert_eq(sshbuf_put(b, " c", 2), 0);
	cr_assert_eq(sshbuf_dup_string(b, &s), 0);
	sshbuf_free(b);
	return s;
}

static char *
gen_line(const char *dir, const struct kt *t, const char *name)
{
	char *pub = keygen(dir, name, t->type, t->bits), *line;

	line = slurp(pub, NULL);
	free(pub);
	return line;
}

Test(sshkey, parses_every_type)
{
	char *dir = tmpdir_new(), *line, *pub, *out, fp[SSHKEY_FP_SIZE];
	struct sshkey *k, *k2;
	size_t i, flen, blen;
	const uint8_t *f, *b;

	for (i = 0; i < NTYPES; i++) {
		pub = keygen(dir, "k", types[i].type, types[i].bits);
		line = slurp(pub, NULL);
		k = parse_ok(line);
		cr_assert_str_eq(sshkey_type(k), types[i].name);
		cr_assert_eq(sshkey_kind(k), types[i].kind);
		cr_assert_str_eq(sshkey_comment(k), "test@example");
		cr_assert_not_null(strstr(sshkey_cert_type(k),
		    "-cert-v01@openssh.com"));
		cr_assert_eq(strncmp(sshkey_cert_type(k), types[i].name,
		    strlen(types[i].name)), 0);
		/* The fingerprint is ssh-keygen's. */
		cr_assert_eq(sshkey_fingerprint(k, fp, sizeof(fp)), 0);
		char *argv[] = { "ssh-keygen", "-l", "-E", "sha256", "-f", pub,
		    NULL };
		cr_assert_eq(run(argv, &out), 0);
		cr_assert_not_null(strstr(out, fp), "%s not in %s", fp, out);
		free(out);
		cr_assert_eq(sshkey_fingerprint(k, fp, SSHKEY_FP_SIZE - 1),
		    BRK_ERR_TOOBIG);
		/* Fields are the blob after its type string. */
		b = sshkey_blob(k, &blen);
		f = sshkey_fields(k, &flen);
		cr_assert_eq(blen, flen + 4 + strlen(types[i].name));
		cr_assert_eq(f, b + 4 + strlen(types[i].name));
		cr_assert_eq(sshkey_from_blob(b, blen, &k2, NULL), 0);
		cr_assert(sshkey_equal(k, k2));
		cr_assert_str_eq(sshkey_comment(k2), "");
		cr_assert_eq(sshkey_ed25519_pk(k) != NULL,
		    types[i].kind == SSHKEY_ED25519);
		sshkey_free(k2);
		sshkey_free(k);
		free(line);
		unlink(pub);
		pub[strlen(pub) - 4] = '\0';
		unlink(pub);
		free(pub);
	}
	tmpdir_free(dir);
}

Test(sshkey, blanks_and_line_endings)
{
	char *dir = tmpdir_new(), *line, *b64, *s;
	struct sshkey *k;

	line = gen_line(dir, &types[0], "k");
	b64 = strtok(strchr(line, ' ') + 1, " ");
	cr_assert_gt(asprintf(&s, "  ssh-ed25519\t%s \t hello world \r\n",
	    b64), 0);
	k = parse_ok(s);
	cr_assert_str_eq(sshkey_comment(k), "hello world");
	sshkey_free(k);
	free(s);
	cr_assert_gt(asprintf(&s, "ssh-ed25519 %s", b64), 0);
	k = parse_ok(s);
	cr_assert_str_eq(sshkey_comment(k), "");
	sshkey_free(k);
	free(s);
	/* Control characters, NULs, a second line: refused. */
	cr_assert_gt(asprintf(&s, "ssh-ed25519 %s a\x01z", b64), 0);
	cr_assert_eq(parse_rc(s, strlen(s)), BRK_ERR_INVALID);
	free(s);
	cr_assert_gt(asprintf(&s, "ssh-ed25519 %s a\nssh-ed25519 %s", b64,
	    b64), 0);
	cr_assert_eq(parse_rc(s, strlen(s)), BRK_ERR_INVALID);
	free(s);
	cr_assert_gt(asprintf(&s, "ssh-ed25519 %s abc", b64), 0);
	s[strlen(s) - 2] = '\0';
	cr_assert_eq(parse_rc(s, strlen(s) + 2), BRK_ERR_INVALID);
	free(s);
	/* authorized_keys options are not a key line. */
	cr_assert_gt(asprintf(&s, "no-pty ssh-ed25519 %s", b64), 0);
	cr_assert_neq(parse_rc(s, strlen(s)), 0);
	free(s);
	cr_assert_eq(parse_rc("", 0), BRK_ERR_INVALID);
	cr_assert_eq(parse_rc("ssh-ed25519", 11), BRK_ERR_INVALID);
	cr_assert_eq(parse_rc("ssh-ed25519 !!!!", 16), BRK_ERR_INVALID);
	free(line);
	tmpdir_free(dir);
}

/* Every proper prefix of every valid blob is refused, as text and raw. */
Test(sshkey, every_truncation_refused, .timeout = 120)
{
	char *dir = tmpdir_new(), *line, *l2;
	struct sshkey *k;
	const uint8_t *blob;
	size_t i, j, len, b64end;

	for (i = 0; i < NTYPES; i++) {
		line = gen_line(dir, &types[i], "k");
		k = parse_ok(line);
		blob = sshkey_blob(k, &len);
		for (j = 0; j < len; j++) {
			struct sshkey *t = (struct sshkey *)1;

			cr_assert_neq(sshkey_from_blob(blob, j, &t, NULL), 0,
			    "%s: prefix %zu accepted", types[i].name, j);
			cr_assert_null(t);
			l2 = make_line(types[i].name, blob, j);
			cr_assert_neq(parse_rc(l2, strlen(l2)), 0);
			free(l2);
		}
		/* Cutting the base64 text anywhere is refused too. */
		b64end = strchr(strchr(line, ' ') + 1, ' ') - line;
		for (j = 0; j < b64end; j++)
			cr_assert_neq(parse_rc(line, j), 0, "%s: text cut at "
			    "%zu accepted", types[i].name, j);
		sshkey_free(k);
		free(line);
	}
	tmpdir_free(dir);
}

Test(sshkey, trailing_garbage_refused)
{
	char *dir = tmpdir_new(), *line, *l2;
	struct sshkey *k;
	const uint8_t *blob;
	uint8_t *ext;
	size_t i, len;

	for (i = 0; i < NTYPES; i++) {
		line = gen_line(dir, &types[i], "k");
		k = parse_ok(line);
		blob = sshkey_blob(k, &len);
		ext = malloc(len + 4);
		memcpy(ext, blob, len);
		memset(ext + len, 0, 4);
		cr_assert_eq(sshkey_from_blob(ext, len + 1, &(struct sshkey *){
		    NULL }, NULL), BRK_ERR_INVALID);
		l2 = make_line(types[i].name, ext, len + 4);
		cr_assert_eq(parse_rc(l2, strlen(l2)), BRK_ERR_INVALID);
		free(l2);
		free(ext);
		sshkey_free(k);
		free(line);
	}
	tmpdir_free(dir);
}

/* Flip each byte of each blob: no crash, and a success is a real key. */
Test(sshkey, byte_flips, .timeout = 120)
{
	char *dir = tmpdir_new(), *line;
	struct sshkey *k, *t;
	uint8_t *m;
	size_t i, j, len;

	for (i = 0; i < NTYPES; i++) {
		line = gen_line(dir, &types[i], "k");
		k = parse_ok(line);
		sshkey_blob(k, &len);
		m = malloc(len);
		for (j = 0; j < len; j++) {
			memcpy(m, sshkey_blob(k, NULL), len);
			m[j] ^= 0x41;
			if (sshkey_from_blob(m, len, &t, NULL) == 0) {
				cr_assert_eq(memcmp(sshkey_blob(t, NULL), m,
				    len), 0);
				sshkey_free(t);
			}
		}
		free(m);
		sshkey_free(k);
		free(line);
	}
	tmpdir_free(dir);
}

Test(sshkey, random_bytes)
{
	uint8_t buf[512];
	struct sshkey *k;
	char *line;
	size_t i, len;

	for (i = 0; i < 20000; i++) {
		cr_assert_eq(RAND_bytes(buf, sizeof(buf)), 1);
		len = buf[0] % sizeof(buf);
		if (i % 2 == 0) {
			/* A plausible header makes the parser go deeper. */
			memcpy(buf, "\0\0\0\x0bssh-ed25519", 15);
		}
		cr_assert_neq(sshkey_from_blob(buf, len, &k, NULL), 0);
		cr_assert_null(k);
		line = make_line("ssh-ed25519", buf, len);
		cr_assert_neq(parse_rc(line, strlen(line)), 0);
		free(line);
		cr_assert_neq(parse_rc((const char *)buf, len), 0);
	}
}

Test(sshkey, oversized)
{
	size_t n = SSHKEY_LINE_MAX + 1;
	char *big = malloc(n + 1);

	memcpy(big, "ssh-rsa ", 8);
	memset(big + 8, 'A', n - 8);
	big[n] = '\0';
	cr_assert_eq(parse_rc(big, n), BRK_ERR_TOOBIG);
	/* At the limit it is merely not a key. */
	cr_assert_eq(parse_rc(big, SSHKEY_LINE_MAX), BRK_ERR_INVALID);
	free(big);
}

Test(sshkey, refused_types)
{
	char *dir = tmpdir_new(), *line, *pub, *out, *cert, *ca;
	uint8_t sk[4 + 26 + 4 + 32 + 4 + 4];
	struct sshkey *k;

	/* RSA below 2048 bits. */
	line = gen_line(dir, &(struct kt){ "rsa", "1024", "ssh-rsa",
	    SSHKEY_RSA }, "small");
	cr_assert_eq(parse_rc(line, strlen(line)), BRK_ERR_UNSUPPORTED);
	free(line);
	/* Certificates. */
	pub = keygen(dir, "user", "ed25519", NULL);
	ca = path_in(dir, "ca");
	free(keygen(dir, "ca", "ed25519", NULL));
	char *argv[] = { "ssh-keygen", "-q", "-s", ca, "-I", "id", "-n", "u",
	    pub, NULL };
	cr_assert_eq(run(argv, &out), 0, "%s", out);
	free(out);
	cert = path_in(dir, "user-cert.pub");
	line = slurp(cert, NULL);
	cr_assert_eq(parse_rc(line, strlen(line)), BRK_ERR_UNSUPPORTED);
	free(line);
	/* DSA and security keys, by name and by blob. */
	cr_assert_eq(parse_rc("ssh-dss AAAAB3NzaC1kc3M= x", 26),
	    BRK_ERR_UNSUPPORTED);
	memcpy(sk, "\0\0\0\x1ask-ssh-ed25519@openssh.com\0\0\0\x20", 34);
	memset(sk + 34, 7, 32);
	memcpy(sk + 66, "\0\0\0\x04ssh:", 8);
	line = make_line("sk-ssh-ed25519@openssh.com", sk, sizeof(sk));
	cr_assert_eq(parse_rc(line, strlen(line)), BRK_ERR_UNSUPPORTED);
	free(line);
	cr_assert_eq(sshkey_from_blob(sk, sizeof(sk), &k, NULL),
	    BRK_ERR_UNSUPPORTED);
	line = make_line("ssh-ed25519", sk, sizeof(sk));
	cr_assert_eq(parse_rc(line, strlen(line)), BRK_ERR_UNSUPPORTED);
	free(line);
	cr_assert_eq(parse_rc("ssh-xmss@openssh.com AAAA", 25),
	    BRK_ERR_UNSUPPORTED);
	free(cert);
	free(ca);
	free(pub);
	tmpdir_free(dir);
}

Test(sshkey, type_mismatch)
{
	char *dir = tmpdir_new(), *l1, *l2, *s;
	struct sshkey *k1, *k2;
	const uint8_t *b;
	size_t len;

	l1 = gen_line(dir, &types[0], "a");
	l2 = gen_line(dir, &types[1], "b");
	k1 = parse_ok(l1);
	k2 = parse_ok(l2);
	b = sshkey_blob(k1, &len);
	s = make_line("ssh-rsa", b, len);
	cr_assert_eq(parse_rc(s, strlen(s)), BRK_ERR_INVALID);
	free(s);
	b = sshkey_blob(k2, &len);
	s = make_line("ecdsa-sha2-nistp384", b, len);
	cr_assert_eq(parse_rc(s, strlen(s)), BRK_ERR_INVALID);
	free(s);
	cr_assert(!sshkey_equal(k1, k2));
	sshkey_free(k1);
	sshkey_free(k2);
	free(l1);
	free(l2);
	tmpdir_free(dir);
}

Test(sshkey, bad_ec_points)
{
	char *dir = tmpdir_new(), *line;
	struct sshkey *k, *t;
	uint8_t *m;
	size_t len, q;

	line = gen_line(dir, &types[1], "k");
	k = parse_ok(line);
	sshkey_blob(k, &len);
	m = malloc(len);
	/* name(4+19) curve(4+8) point(4+65) */
	q = 4 + 19 + 4 + 8 + 4;
	cr_assert_eq(len, q + 65);
	memcpy(m, sshkey_blob(k, NULL), len);
	m[len - 1] ^= 1;			/* off the curve */
	cr_assert_eq(sshkey_from_blob(m, len, &t, NULL), BRK_ERR_INVALID);
	memcpy(m, sshkey_blob(k, NULL), len);
	m[q] = 0x02;				/* compressed */
	cr_assert_eq(sshkey_from_blob(m, len, &t, NULL), BRK_ERR_INVALID);
	memcpy(m, sshkey_blob(k, NULL), len);
	memcpy(m + 4 + 19 + 4, "nistp384", 8);	/* curve mismatch */
	cr_assert_eq(sshkey_from_blob(m, len, &t, NULL), BRK_ERR_INVALID);
	memcpy(m, sshkey_blob(k, NULL), len);
	memset(m + q + 1, 0, 64);		/* the point (0,0) */
	cr_assert_eq(sshkey_from_blob(m, len, &t, NULL), BRK_ERR_INVALID);
	memset(m + q + 1, 0xff, 64);		/* coordinates >= p */
	cr_assert_eq(sshkey_from_blob(m, len, &t, NULL), BRK_ERR_INVALID);
	free(m);
	sshkey_free(k);
	free(line);
	tmpdir_free(dir);
}

Test(sshkey, bad_rsa_values)
{
	char *dir = tmpdir_new(), *line;
	struct sshkey *k, *t;
	uint8_t *m;
	size_t len;

	line = gen_line(dir, &types[4], "k");
	k = parse_ok(line);
	sshkey_blob(k, &len);
	m = malloc(len);
	memcpy(m, sshkey_blob(k, NULL), len);
	m[len - 1] &= 0xfe;			/* even modulus */
	cr_assert_eq(sshkey_from_blob(m, len, &t, NULL), BRK_ERR_INVALID);
	free(m);
	/* e = 1 and n = a 2048-bit odd number */
	{
		struct sshbuf *b = sshbuf_new();
		uint8_t n[256];

		memset(n, 0xab, sizeof(n));
		cr_assert_eq(sshbuf_put_cstring(b, "ssh-rsa"), 0);
		cr_assert_eq(sshbuf_put_mpint_bytes(b, (uint8_t *)"\x01", 1),
		    0);
		cr_assert_eq(sshbuf_put_mpint_bytes(b, n, sizeof(n)), 0);
		cr_assert_eq(sshkey_from_blob(sshbuf_ptr(b), sshbuf_len(b),
		    &t, NULL), BRK_ERR_INVALID);
		sshbuf_reset(b);
		/* e >= n */
		cr_assert_eq(sshbuf_put_cstring(b, "ssh-rsa"), 0);
		cr_assert_eq(sshbuf_put_mpint_bytes(b, n, sizeof(n)), 0);
		cr_assert_eq(sshbuf_put_mpint_bytes(b, n, sizeof(n)), 0);
		cr_assert_eq(sshkey_from_blob(sshbuf_ptr(b), sshbuf_len(b),
		    &t, NULL), BRK_ERR_INVALID);
		sshbuf_free(b);
	}
	sshkey_free(k);
	free(line);
	tmpdir_free(dir);
}

Test(sshkey, short_id)
{
	char id[SSHKEY_SHORT_ID_SIZE];

	/* SHA-256("abc") = ba7816bf8f01cfea... */
	cr_assert_eq(sshkey_short_id((const uint8_t *)"abc", 3, id), 0);
	cr_assert_str_eq(id, "ba7816bf8f01cfea");
}
