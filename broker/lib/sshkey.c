/*
 * sshkey.c - parse and check OpenSSH public keys.
 *
 * The one idea: we never keep a key in any form but its wire blob.  Parsing
 * walks the blob with bounds-checked sshbuf reads, hands the key material to
 * OpenSSL once to prove it is a real key (an EC point on the named curve, an
 * RSA modulus OpenSSL accepts), then keeps the blob itself.  A certificate
 * embeds the blob's fields verbatim, so what we checked is what we sign.
 *
 * RSA checks are the cheap structural ones (size, odd modulus, odd exponent
 * between 3 and n) plus an OpenSSL import; EVP_PKEY_public_check() would add
 * a primality test of n costing about a millisecond per key, which the
 * issuance path cannot afford.  NIST curves have cofactor 1, so a point that
 * decodes onto the curve and is not the identity has the full group order.
 */
#include "sshkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "sshbuf.h"

struct keytype {
	const char *name;
	const char *cert;
	enum sshkey_kind kind;
	const char *curve; /* the SSH curve identifier, for ECDSA */
	int nid;
};

static const struct keytype keytypes[] = {
	{ "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com", SSHKEY_ED25519,
	    NULL, 0 },
	{ "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256-cert-v01@openssh.com",
	    SSHKEY_ECDSA_P256, "nistp256", NID_X9_62_prime256v1 },
	{ "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384-cert-v01@openssh.com",
	    SSHKEY_ECDSA_P384, "nistp384", NID_secp384r1 },
	{ "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521-cert-v01@openssh.com",
	    SSHKEY_ECDSA_P521, "nistp521", NID_secp521r1 },
	{ "ssh-rsa", "ssh-rsa-cert-v01@openssh.com", SSHKEY_RSA, NULL, 0 },
};

struct sshkey {
	const struct keytype *kt;
	uint8_t *blob; /* these point into the same allocation */
	size_t bloblen;
	size_t fields_off;
	char *comment;
};

static const struct keytype *
keytype_by_name(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++)
		if (strlen(keytypes[i].name) == len &&
		    memcmp(keytypes[i].name, name, len) == 0)
			return &keytypes[i];
	return NULL;
}

/* Refused types get a message that says why, not just "unknown". */
static int
refuse_type(const char *name, size_t len, struct brk_error *err)
{
	static const char cert_sfx[] = "-cert-v01@openssh.com";
	const size_t sfx = sizeof(cert_sfx) - 1;
	int shown = len > 64 ? 64 : (int)len;
	size_t i;

	if (len == 0)
		return brk_error_set(err, BRK_ERR_INVALID, "empty key type");
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] <= ' ' ||
		    (unsigned char)name[i] >= 0x7f)
			return brk_error_set(
			    err, BRK_ERR_INVALID, "key type is not printable");
	if (len == 7 && memcmp(name, "ssh-dss", 7) == 0)
		return brk_error_set(err, BRK_ERR_UNSUPPORTED,
		    "DSA keys are not accepted; use ssh-ed25519");
	if (len >= 3 && memcmp(name, "sk-", 3) == 0)
		return brk_error_set(err, BRK_ERR_UNSUPPORTED,
		    "security-key (sk-) keys are not supported");
	if (len > sfx && memcmp(name + len - sfx, cert_sfx, sfx) == 0)
		return brk_error_set(err, BRK_ERR_UNSUPPORTED,
		    "a certificate is not a public key; give the plain key");
	return brk_error_set(err, BRK_ERR_UNSUPPORTED,
	    "unsupported key type \"%.*s\"", shown, name);
}

static int
check_ec_point(int nid, const uint8_t *q, size_t qlen, struct brk_error *err)
{
	EC_GROUP *g = NULL;
	EC_POINT *p = NULL;
	size_t fieldlen;
	int r = BRK_ERR_INTERNAL;

	if ((g = EC_GROUP_new_by_curve_name(nid)) == NULL ||
	    (p = EC_POINT_new(g)) == NULL) {
		r = brk_error_set(err, BRK_ERR_CRYPTO, "EC setup failed");
		goto out;
	}
	fieldlen = ((size_t)EC_GROUP_get_degree(g) + 7) / 8;
	/* OpenSSH writes uncompressed points only. */
	if (qlen != 1 + 2 * fieldlen || q[0] != POINT_CONVERSION_UNCOMPRESSED) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "EC point has the wrong length or encoding");
		goto out;
	}
	/* oct2point refuses coordinates >= p and points off the curve. */
	if (EC_POINT_oct2point(g, p, q, qlen, NULL) != 1 ||
	    EC_POINT_is_at_infinity(g, p) ||
	    EC_POINT_is_on_curve(g, p, NULL) != 1) {
		r = brk_error_set(
		    err, BRK_ERR_INVALID, "EC point is not on the curve");
		goto out;
	}
	r = 0;
out:
	EC_POINT_free(p);
	EC_GROUP_free(g);
	return r;
}

static int
check_rsa(const uint8_t *e, size_t elen, const uint8_t *n, size_t nlen,
    struct brk_error *err)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn_e = NULL, *bn_n = NULL;
	int bits, r = BRK_ERR_INTERNAL;

	if (nlen == 0 || elen == 0 || (n[nlen - 1] & 1) == 0 ||
	    (e[elen - 1] & 1) == 0 || (elen == 1 && e[0] < 3)) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "RSA modulus or exponent is malformed");
		goto out;
	}
	if ((bn_e = BN_bin2bn(e, (int)elen, NULL)) == NULL ||
	    (bn_n = BN_bin2bn(n, (int)nlen, NULL)) == NULL) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	bits = BN_num_bits(bn_n);
	if (bits < SSHKEY_RSA_MIN_BITS || bits > SSHKEY_RSA_MAX_BITS) {
		r = brk_error_set(err, BRK_ERR_UNSUPPORTED,
		    "RSA key of %d bits; %d to %d are accepted", bits,
		    SSHKEY_RSA_MIN_BITS, SSHKEY_RSA_MAX_BITS);
		goto out;
	}
	if (BN_cmp(bn_e, bn_n) >= 0) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "RSA exponent is not below the modulus");
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1) {
		r = brk_error_set(err, BRK_ERR_CRYPTO, "RSA setup failed");
		goto out;
	}
	if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 ||
	    EVP_PKEY_get_bits(pkey) != bits) {
		r = brk_error_set(
		    err, BRK_ERR_INVALID, "OpenSSL refused the RSA key");
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_e);
	BN_free(bn_n);
	return r;
}

/* Walk the blob; on success *ktp is its type and *fields_off where the key
 * fields start. */
static int
check_blob(const uint8_t *blob, size_t len, const struct keytype **ktp,
    size_t *fields_off, struct brk_error *err)
{
	struct sshbuf *b = NULL;
	const struct keytype *kt;
	const uint8_t *name, *a, *c;
	size_t namelen, alen, clen;
	int r = BRK_ERR_INTERNAL;

	*ktp = NULL;
	*fields_off = 0;
	if (len > SSHKEY_LINE_MAX) {
		r = brk_error_set(err, BRK_ERR_TOOBIG, "key blob too large");
		goto out;
	}
	if ((b = sshbuf_from(blob, len)) == NULL) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (sshbuf_get_string_direct(b, &name, &namelen) != 0) {
		r = brk_error_set(err, BRK_ERR_INVALID, "key blob truncated");
		goto out;
	}
	if ((kt = keytype_by_name((const char *)name, namelen)) == NULL) {
		r = refuse_type((const char *)name, namelen, err);
		goto out;
	}
	*fields_off = len - sshbuf_len(b);
	switch (kt->kind) {
	case SSHKEY_ED25519:
		if (sshbuf_get_string_direct(b, &a, &alen) != 0 || alen != 32) {
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "Ed25519 key is truncated or not 32 bytes");
			goto out;
		}
		break;
	case SSHKEY_ECDSA_P256:
	case SSHKEY_ECDSA_P384:
	case SSHKEY_ECDSA_P521:
		if (sshbuf_get_string_direct(b, &c, &clen) != 0 ||
		    sshbuf_get_string_direct(b, &a, &alen) != 0) {
			r = brk_error_set(
			    err, BRK_ERR_INVALID, "ECDSA key blob truncated");
			goto out;
		}
		if (clen != strlen(kt->curve) ||
		    memcmp(c, kt->curve, clen) != 0) {
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "ECDSA curve does not match the key type");
			goto out;
		}
		if ((r = check_ec_point(kt->nid, a, alen, err)) != 0)
			goto out;
		break;
	case SSHKEY_RSA:
		if (sshbuf_get_mpint_direct(b, &a, &alen) != 0 ||
		    sshbuf_get_mpint_direct(b, &c, &clen) != 0) {
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "RSA key blob truncated or malformed");
			goto out;
		}
		if ((r = check_rsa(a, alen, c, clen, err)) != 0)
			goto out;
		break;
	}
	if (sshbuf_len(b) != 0) {
		r = brk_error_set(
		    err, BRK_ERR_INVALID, "trailing data after the key");
		goto out;
	}
	*ktp = kt;
	r = 0;
out:
	if (r != 0)
		*fields_off = 0;
	sshbuf_free(b);
	return r;
}

static int
key_new(const struct keytype *kt, const uint8_t *blob, size_t len,
    size_t fields_off, const char *comment, size_t clen, struct sshkey **out)
{
	struct sshkey *k;

	/* One allocation: struct, blob, comment. */
	if ((k = malloc(sizeof(*k) + len + clen + 1)) == NULL)
		return BRK_ERR_NOMEM;
	k->kt = kt;
	k->blob = (uint8_t *)(k + 1);
	k->bloblen = len;
	k->fields_off = fields_off;
	memcpy(k->blob, blob, len);
	k->comment = (char *)k->blob + len;
	if (clen > 0)
		memcpy(k->comment, comment, clen);
	k->comment[clen] = '\0';
	*out = k;
	return 0;
}

int
sshkey_from_blob(
    const uint8_t *blob, size_t len, struct sshkey **out, struct brk_error *err)
{
	const struct keytype *kt;
	size_t off;
	int r = BRK_ERR_INTERNAL;

	if (out == NULL)
		return BRK_ERR_INTERNAL;
	*out = NULL;
	if (blob == NULL)
		return brk_error_set(err, BRK_ERR_INVALID, "no key");
	if ((r = check_blob(blob, len, &kt, &off, err)) != 0)
		return r;
	if ((r = key_new(kt, blob, len, off, NULL, 0, out)) != 0)
		return brk_error_set(err, r, "out of memory");
	return 0;
}

static int
isblank_c(char c)
{
	return c == ' ' || c == '\t';
}

int
sshkey_parse(
    const char *line, size_t len, struct sshkey **out, struct brk_error *err)
{
	struct sshbuf *raw = NULL;
	const struct keytype *kt, *blobkt;
	const char *p, *end, *type, *b64, *comment;
	size_t typelen, b64len, clen, off;
	int r = BRK_ERR_INTERNAL;

	if (out == NULL)
		return BRK_ERR_INTERNAL;
	*out = NULL;
	if (line == NULL) {
		r = brk_error_set(err, BRK_ERR_INVALID, "no key");
		goto out;
	}
	if (len > SSHKEY_LINE_MAX) {
		r = brk_error_set(err, BRK_ERR_TOOBIG,
		    "key line longer than %d bytes", SSHKEY_LINE_MAX);
		goto out;
	}
	end = line + len;
	if (end > line && end[-1] == '\n')
		end--;
	if (end > line && end[-1] == '\r')
		end--;
	if (memchr(line, '\0', (size_t)(end - line)) != NULL) {
		r = brk_error_set(err, BRK_ERR_INVALID, "key line holds a NUL");
		goto out;
	}
	for (p = line; p < end && isblank_c(*p); p++)
		;
	for (type = p; p < end && !isblank_c(*p); p++)
		;
	typelen = (size_t)(p - type);
	for (; p < end && isblank_c(*p); p++)
		;
	for (b64 = p; p < end && !isblank_c(*p); p++)
		;
	b64len = (size_t)(p - b64);
	for (; p < end && isblank_c(*p); p++)
		;
	comment = p;
	while (end > comment && isblank_c(end[-1]))
		end--;
	clen = (size_t)(end - comment);
	if (typelen == 0 || b64len == 0) {
		r = brk_error_set(
		    err, BRK_ERR_INVALID, "expected \"TYPE BASE64 [COMMENT]\"");
		goto out;
	}
	for (p = comment; p < end; p++) {
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f) {
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "key comment holds a control character");
			goto out;
		}
	}
	if ((kt = keytype_by_name(type, typelen)) == NULL) {
		r = refuse_type(type, typelen, err);
		goto out;
	}
	if ((raw = sshbuf_new()) == NULL) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (sshbuf_put_base64_decoded(raw, b64, b64len) != 0) {
		r = brk_error_set(
		    err, BRK_ERR_INVALID, "key is not valid base64");
		goto out;
	}
	if ((r = check_blob(
		 sshbuf_ptr(raw), sshbuf_len(raw), &blobkt, &off, err)) != 0)
		goto out;
	if (blobkt != kt) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "key type \"%s\" does not match the key inside (\"%s\")",
		    /* check_blob() sets blobkt whenever it returns 0 */
		    /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
		    kt->name, blobkt->name);
		goto out;
	}
	if ((r = key_new(kt, sshbuf_ptr(raw), sshbuf_len(raw), off, comment,
		 clen, out)) != 0) {
		r = brk_error_set(err, r, "out of memory");
		goto out;
	}
	r = 0;
out:
	sshbuf_free(raw);
	return r;
}

void
sshkey_free(struct sshkey *k)
{
	free(k);
}

enum sshkey_kind
sshkey_kind(const struct sshkey *k)
{
	return k == NULL ? 0 : k->kt->kind;
}

const char *
sshkey_type(const struct sshkey *k)
{
	return k == NULL ? NULL : k->kt->name;
}

const char *
sshkey_cert_type(const struct sshkey *k)
{
	return k == NULL ? NULL : k->kt->cert;
}

const char *
sshkey_comment(const struct sshkey *k)
{
	return k == NULL ? NULL : k->comment;
}

const uint8_t *
sshkey_blob(const struct sshkey *k, size_t *lenp)
{
	if (lenp != NULL)
		*lenp = k == NULL ? 0 : k->bloblen;
	return k == NULL ? NULL : k->blob;
}

const uint8_t *
sshkey_fields(const struct sshkey *k, size_t *lenp)
{
	if (lenp != NULL)
		*lenp = k == NULL ? 0 : k->bloblen - k->fields_off;
	return k == NULL ? NULL : k->blob + k->fields_off;
}

const uint8_t *
sshkey_ed25519_pk(const struct sshkey *k)
{
	if (k == NULL || k->kt->kind != SSHKEY_ED25519)
		return NULL;
	/* Checked at parse time: the fields are exactly string(32 bytes). */
	return k->blob + k->fields_off + 4;
}

int
sshkey_equal(const struct sshkey *a, const struct sshkey *b)
{
	if (a == NULL || b == NULL)
		return 0;
	return a->bloblen == b->bloblen &&
	    memcmp(a->blob, b->blob, a->bloblen) == 0;
}

int
sshkey_fingerprint(const struct sshkey *k, char *buf, size_t len)
{
	uint8_t md[32];
	unsigned char b64[4 * ((sizeof(md) + 2) / 3) + 1];
	int n;

	if (buf != NULL && len > 0)
		buf[0] = '\0';
	if (k == NULL || buf == NULL)
		return BRK_ERR_INVALID;
	if (len < SSHKEY_FP_SIZE)
		return BRK_ERR_TOOBIG;
	if (EVP_Digest(k->blob, k->bloblen, md, NULL, EVP_sha256(), NULL) != 1)
		return BRK_ERR_CRYPTO;
	n = EVP_EncodeBlock(b64, md, sizeof(md));
	while (n > 0 && b64[n - 1] == '=')
		n--;
	b64[n] = '\0';
	snprintf(buf, len, "SHA256:%s", (char *)b64);
	return 0;
}

int
sshkey_short_id(
    const uint8_t *blob, size_t bloblen, char buf[SSHKEY_SHORT_ID_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[32];
	int i;

	buf[0] = '\0';
	if (blob == NULL ||
	    EVP_Digest(blob, bloblen, md, NULL, EVP_sha256(), NULL) != 1)
		return BRK_ERR_CRYPTO;
	for (i = 0; i < (SSHKEY_SHORT_ID_SIZE - 1) / 2; i++) {
		buf[2 * i] = hex[md[i] >> 4];
		buf[2 * i + 1] = hex[md[i] & 0xf];
	}
	buf[SSHKEY_SHORT_ID_SIZE - 1] = '\0';
	return 0;
}
