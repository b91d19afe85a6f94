/*
 * userca.c - the user CA (see userca.h): one Ed25519 key that signs
 * people's TLS client certificates, never OpenSSH ones.
 *
 * Why X.509 and not the SSH CA: the TLS listener verifies peers with
 * OpenSSL's chain building, and a key of its own means a leaked login
 * certificate can never be turned into a host login, nor the reverse.
 */
#include "userca.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "fileio.h"

#define USERCA_KEY "user_ca.key"
#define USERCA_CRT "user_ca.crt"
#define USERCA_YEARS 10

struct userca {
	EVP_PKEY *key;
	X509 *cert;
};

void
userca_free(struct userca *u)
{
	if (u == NULL)
		return;
	EVP_PKEY_free(u->key);
	X509_free(u->cert);
	free(u);
}

X509 *
userca_cert(const struct userca *u)
{
	return u->cert;
}

/* Write dir/name (mode) through a temporary file, synced, then renamed. */
static int
write_file(const char *dir, const char *name, mode_t mode, const char *buf,
    size_t len, struct brk_error *err)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return file_write_atomic(path, "user CA", buf, len, mode, err);
}

static int
set_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	int r = -1;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[0] &= 0x7f; /* positive */
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) != NULL &&
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_set_serialNumber(x, ai) == 1)
		r = 0;
	BN_free(bn);
	ASN1_INTEGER_free(ai);
	return r;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int r;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	r = X509_add_ext(x, e, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(e);
	return r;
}

/* A new key and self-signed CA certificate, written to state_dir. */
static int
make_ca(const char *dir, struct userca *u, struct brk_error *err)
{
	EVP_PKEY_CTX *kc = NULL;
	X509_NAME *nm;
	BIO *b = NULL;
	char *p;
	long n;
	int r = BRK_ERR_CRYPTO;

	if ((kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(kc) != 1 || EVP_PKEY_keygen(kc, &u->key) != 1)
		goto out;
	if ((u->cert = X509_new()) == NULL ||
	    X509_set_version(u->cert, 2) != 1 || set_serial(u->cert) != 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(u->cert), -60) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(u->cert),
		(long)USERCA_YEARS * 365 * 86400) == NULL ||
	    X509_set_pubkey(u->cert, u->key) != 1)
		goto out;
	nm = X509_get_subject_name(u->cert);
	if (X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
		(const unsigned char *)"brokerd user CA", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(u->cert, nm) != 1 ||
	    add_ext(u->cert, u->cert, NID_basic_constraints,
		"critical,CA:TRUE,pathlen:0") != 0 ||
	    add_ext(u->cert, u->cert, NID_key_usage,
		"critical,keyCertSign,cRLSign") != 0 ||
	    add_ext(u->cert, u->cert, NID_subject_key_identifier, "hash") !=
		0 ||
	    X509_sign(u->cert, u->key, NULL) <= 0)
		goto out;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(b, u->key, NULL, NULL, 0, NULL, NULL) !=
		1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0)
		goto out;
	if ((r = write_file(dir, USERCA_KEY, 0600, p, (size_t)n, err)) != 0)
		goto out;
	OPENSSL_cleanse(p, (size_t)n);
	BIO_free(b);
	r = BRK_ERR_CRYPTO;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(b, u->cert) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0)
		goto out;
	r = write_file(dir, USERCA_CRT, 0644, p, (size_t)n, err);
out:
	if (r == BRK_ERR_CRYPTO)
		brk_error_set(err, r, "user CA: cannot make a key");
	EVP_PKEY_CTX_free(kc);
	BIO_free(b);
	ERR_clear_error();
	return r;
}

static int
load_ca(const char *dir, struct userca *u, struct brk_error *err)
{
	char path[4096], *pem = NULL;
	size_t pemlen = 0;
	BIO *bio = NULL;
	FILE *f = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, USERCA_KEY);
	if ((r = file_read_checked(path, "user CA",
		 FILE_NOFOLLOW | FILE_OURS | FILE_PRIVATE, 65536, &pem, &pemlen,
		 err)) != 0)
		goto out;
	r = BRK_ERR_CRYPTO;
	if ((bio = BIO_new_mem_buf(pem, (int)pemlen)) == NULL ||
	    (u->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		brk_error_set(err, r, "user CA: %s is not a key", path);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, USERCA_CRT);
	if ((f = fopen(path, "re")) == NULL ||
	    (u->cert = PEM_read_X509(f, NULL, NULL, NULL)) == NULL ||
	    X509_check_private_key(u->cert, u->key) != 1) {
		brk_error_set(err, r,
		    "user CA: %s is missing or does not "
		    "match %s",
		    path, USERCA_KEY);
		goto out;
	}
	r = 0;
out:
	if (f != NULL)
		fclose(f);
	BIO_free(bio);
	file_free_secret(pem, pemlen);
	ERR_clear_error();
	return r;
}

int
userca_open(const char *state_dir, struct userca **out, struct brk_error *err)
{
	struct userca *u = NULL;
	char path[4096];
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", state_dir, USERCA_KEY);
	if (access(path, F_OK) != 0 && errno == ENOENT)
		r = make_ca(state_dir, u, err);
	else
		r = load_ca(state_dir, u, err);
	if (r != 0)
		goto out;
	*out = u;
	u = NULL;
out:
	userca_free(u);
	return r;
}

int
userca_cert_pem(const struct userca *u, char **out)
{
	BIO *b = NULL;
	char *p;
	long n;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(b, u->cert) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0 ||
	    (*out = strndup(p, (size_t)n)) == NULL)
		goto out;
	r = 0;
out:
	BIO_free(b);
	return r;
}

int
userca_issued(const struct userca *u, X509 *x)
{
	EVP_PKEY *k;

	if (X509_check_issued(u->cert, x) != X509_V_OK)
		return 0;
	k = X509_get0_pubkey(u->cert);
	return k != NULL && X509_verify(x, k) == 1;
}

int
userca_issue(const struct userca *u, const char *csr_pem, const char *user,
    int64_t now, int64_t ttl, char **pem, char **serial, struct brk_error *err)
{
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	X509 *x = NULL;
	BIO *b = NULL;
	BIGNUM *bn = NULL;
	char *p, *hex = NULL;
	long n;
	int r = BRK_ERR_INVALID;

	*pem = *serial = NULL;
	if ((b = BIO_new_mem_buf(csr_pem, -1)) == NULL ||
	    (req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL)) == NULL ||
	    (pub = X509_REQ_get0_pubkey(req)) == NULL ||
	    X509_REQ_verify(req, pub) != 1) {
		brk_error_set(err, r,
		    "the certificate request does not parse "
		    "or its signature does not verify");
		goto out;
	}
	r = BRK_ERR_CRYPTO;
	if ((x = X509_new()) == NULL || X509_set_version(x, 2) != 1 ||
	    set_serial(x) != 0 ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, -60,
		(time_t *)&(time_t){ (time_t)now }) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), 0, (long)ttl,
		(time_t *)&(time_t){ (time_t)now }) == NULL ||
	    X509_set_pubkey(x, pub) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(u->cert)) != 1 ||
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
		MBSTRING_ASC, (const unsigned char *)user, -1, -1, 0) != 1 ||
	    add_ext(x, u->cert, NID_basic_constraints, "critical,CA:FALSE") !=
		0 ||
	    add_ext(x, u->cert, NID_key_usage, "critical,digitalSignature") !=
		0 ||
	    add_ext(x, u->cert, NID_ext_key_usage, "clientAuth") != 0 ||
	    add_ext(x, u->cert, NID_authority_key_identifier, "keyid") != 0 ||
	    X509_sign(x, u->key, NULL) <= 0)
		goto out;
	BIO_free(b);
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(b, x) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0 ||
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ==
		NULL ||
	    (hex = BN_bn2hex(bn)) == NULL)
		goto out;
	r = BRK_ERR_NOMEM;
	if ((*pem = strndup(p, (size_t)n)) == NULL ||
	    (*serial = strdup(hex)) == NULL) {
		free(*pem);
		*pem = NULL;
		goto out;
	}
	r = 0;
out:
	if (r == BRK_ERR_CRYPTO)
		brk_error_set(err, r, "cannot sign the login certificate");
	OPENSSL_free(hex);
	BN_free(bn);
	X509_REQ_free(req);
	X509_free(x);
	BIO_free(b);
	ERR_clear_error();
	return r;
}
