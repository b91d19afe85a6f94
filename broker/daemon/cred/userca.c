/*
 * userca.c - the user CA (see userca.h): one Ed25519 key that signs
 * people's TLS client certificates, never OpenSSH ones.
 *
 * Why X.509 and not the SSH CA: the TLS listener verifies peers with
 * OpenSSL's chain building, and a key of its own means a leaked login
 * certificate can never be turned into a host login, nor the reverse.
 *
 * Revocation: every certificate issued is registered (TBL_LOGINS, in the
 * transaction of its login.ok record) and every call over TLS looks its
 * serial up, so a revoked one is refused from the next call on, after a
 * restart too.  A certificate the register does not know is refused:
 * nothing issued bypasses it.  Records go a day after their certificate
 * expires, a few per login.
 */
#include "userca.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "fileio.h"

#define USERCA_YEARS 10

struct userca {
	EVP_PKEY *key;
	X509 *cert;
	char keyfile[64], crtfile[64]; /* "user_ca.key", "host_ca.key" */
	char cn[64];		       /* "brokerd user CA" */
	const char *what;	       /* "user CA", for messages */
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
write_file(const struct userca *u, const char *dir, const char *name,
    mode_t mode, const char *buf, size_t len, struct brk_error *err)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return file_write_atomic(path, u->what, buf, len, mode, err);
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
		(const unsigned char *)u->cn, -1, -1, 0) != 1 ||
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
	if ((r = write_file(u, dir, u->keyfile, 0600, p, (size_t)n, err)) != 0)
		goto out;
	OPENSSL_cleanse(p, (size_t)n);
	BIO_free(b);
	r = BRK_ERR_CRYPTO;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(b, u->cert) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0)
		goto out;
	r = write_file(u, dir, u->crtfile, 0644, p, (size_t)n, err);
out:
	if (r == BRK_ERR_CRYPTO)
		brk_error_set(err, r, "%s: cannot make a key", u->what);
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

	snprintf(path, sizeof(path), "%s/%s", dir, u->keyfile);
	if ((r = file_read_checked(path, u->what,
		 FILE_NOFOLLOW | FILE_OURS | FILE_PRIVATE, 65536, &pem, &pemlen,
		 err)) != 0)
		goto out;
	r = BRK_ERR_CRYPTO;
	if ((bio = BIO_new_mem_buf(pem, (int)pemlen)) == NULL ||
	    (u->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		brk_error_set(err, r, "%s: %s is not a key", u->what, path);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, u->crtfile);
	if ((f = fopen(path, "re")) == NULL ||
	    (u->cert = PEM_read_X509(f, NULL, NULL, NULL)) == NULL ||
	    X509_check_private_key(u->cert, u->key) != 1) {
		brk_error_set(err, r,
		    "%s: %s is missing or does not "
		    "match %s",
		    u->what, path, u->keyfile);
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
	return userca_open_named(
	    state_dir, "user_ca", "brokerd user CA", "user CA", out, err);
}

int
userca_open_named(const char *state_dir, const char *base, const char *cn,
    const char *what, struct userca **out, struct brk_error *err)
{
	struct userca *u = NULL;
	char path[4096];
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		goto out;
	snprintf(u->keyfile, sizeof(u->keyfile), "%s.key", base);
	snprintf(u->crtfile, sizeof(u->crtfile), "%s.crt", base);
	snprintf(u->cn, sizeof(u->cn), "%s", cn);
	u->what = what;
	snprintf(path, sizeof(path), "%s/%s", state_dir, u->keyfile);
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

int
userca_serial(X509 *x, char *buf, size_t len)
{
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int r = BRK_ERR_INVALID;

	buf[0] = '\0';
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) !=
		NULL &&
	    (hex = BN_bn2hex(bn)) != NULL && strlen(hex) < len &&
	    strlen(hex) < USERCA_SERIAL_LEN) {
		snprintf(buf, len, "%s", hex);
		r = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	ERR_clear_error();
	return r;
}

/* ---- the register of login certificates ------------------------------ */

#define REG_FORGET 86400 /* seconds past expiry before a record goes */
#define REG_SWEEP 32	 /* records forgotten per login, at most */

/* key = tag + a + (sep, b when b != NULL) into buf; its length. */
static size_t
reg_key(char *buf, size_t len, char tag, const char *a, const char *b)
{
	size_t n = 0, la = strlen(a), lb = b != NULL ? strlen(b) : 0;

	if (1 + la + 1 + lb > len)
		return 0;
	buf[n++] = tag;
	memcpy(buf + n, a, la);
	n += la;
	if (b != NULL) {
		buf[n++] = '\0';
		memcpy(buf + n, b, lb);
		n += lb;
	}
	return n;
}

/* The record of serial (a new reference), or NULL with *r set. */
static json_t *
reg_get(struct store_txn *t, const char *serial, int *r)
{
	struct store_val v;
	json_t *o;
	char key[USERCA_SERIAL_LEN + 2];
	size_t kl = reg_key(key, sizeof(key), 's', serial, NULL);

	if (kl == 0) {
		*r = BRK_ERR_NOTFOUND;
		return NULL;
	}
	if ((*r = store_get(t, TBL_LOGINS, key, kl, &v)) != 0)
		return NULL;
	/* a record that does not decode refuses, never defaults */
	if ((o = json_loadb(v.data, v.len, 0, NULL)) == NULL ||
	    !json_is_string(json_object_get(o, "user")) ||
	    !json_is_integer(json_object_get(o, "expires_at"))) {
		json_decref(o);
		*r = BRK_ERR_INTERNAL;
		return NULL;
	}
	return o;
}

static int
reg_put(struct store_txn *t, const char *serial, json_t *o)
{
	char key[USERCA_SERIAL_LEN + 2], *text;
	size_t kl = reg_key(key, sizeof(key), 's', serial, NULL);
	int r;

	if ((text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		return BRK_ERR_NOMEM;
	r = store_put(t, TBL_LOGINS, key, kl, text, strlen(text));
	free(text);
	return r;
}

/* Forget up to REG_SWEEP records that expired more than REG_FORGET ago. */
static int
reg_sweep(struct store_txn *t, int64_t now)
{
	struct store_cursor *cur = NULL;
	struct store_val k, v;
	char keys[REG_SWEEP][USERCA_SERIAL_LEN + 12], key[200];
	size_t kl, i, n = 0;
	json_t *o;
	int r, rr;

	if ((r = store_cursor_open(t, TBL_LOGINS, &cur)) != 0)
		return r;
	for (r = store_cursor_seek(cur, "e", 1, &k, &v);
	     r == 0 && n < REG_SWEEP; r = store_cursor_next(cur, &k, &v)) {
		if (k.len < 10 || k.len >= sizeof(keys[0]) ||
		    ((const char *)k.data)[0] != 'e' ||
		    (int64_t)store_get_be64((const uint8_t *)k.data + 1) >
			now - REG_FORGET)
			break;
		memcpy(keys[n], k.data, k.len);
		keys[n++][k.len] = '\0'; /* serials are hex: no NUL */
	}
	store_cursor_close(cur);
	if (r != 0 && r != BRK_ERR_NOTFOUND)
		return r;
	for (i = 0; i < n; i++) {
		const char *serial = keys[i] + 9;

		if ((o = reg_get(t, serial, &rr)) != NULL) {
			kl = reg_key(key, sizeof(key), 'u',
			    json_string_value(json_object_get(o, "user")),
			    serial);
			if (kl > 0 &&
			    (rr = store_del(t, TBL_LOGINS, key, kl)) != 0 &&
			    rr != BRK_ERR_NOTFOUND) {
				json_decref(o);
				return rr;
			}
			json_decref(o);
		}
		kl = reg_key(key, sizeof(key), 's', serial, NULL);
		if ((rr = store_del(t, TBL_LOGINS, key, kl)) != 0 &&
		    rr != BRK_ERR_NOTFOUND)
			return rr;
		if ((rr = store_del(
			 t, TBL_LOGINS, keys[i], 9 + strlen(serial))) != 0 &&
		    rr != BRK_ERR_NOTFOUND)
			return rr;
	}
	return 0;
}

int
userca_note_issued(struct store_txn *t, const char *serial, const char *user,
    int64_t now, int64_t expires)
{
	char key[200];
	size_t kl;
	json_t *o;
	int r;

	if (strlen(serial) >= USERCA_SERIAL_LEN || strlen(user) > 64)
		return BRK_ERR_INVALID;
	if ((r = reg_sweep(t, now)) != 0)
		return r;
	if ((o = json_pack("{s:i, s:s, s:I, s:I}", "v", 1, "user", user,
		 "issued_at", (json_int_t)now, "expires_at",
		 (json_int_t)expires)) == NULL)
		return BRK_ERR_NOMEM;
	r = reg_put(t, serial, o);
	json_decref(o);
	if (r != 0)
		return r;
	kl = reg_key(key, sizeof(key), 'u', user, serial);
	if ((r = store_put(t, TBL_LOGINS, key, kl, "", 0)) != 0)
		return r;
	key[0] = 'e';
	store_be64((uint8_t *)key + 1, (uint64_t)expires);
	memcpy(key + 9, serial, strlen(serial));
	return store_put(t, TBL_LOGINS, key, 9 + strlen(serial), "", 0);
}

int
userca_login_check(struct store_txn *t, const char *serial, const char *user,
    int64_t now, char *why, size_t whylen)
{
	char when[32];
	json_t *o;
	time_t at;
	struct tm tm;
	int r;

	why[0] = '\0';
	if ((o = reg_get(t, serial, &r)) == NULL) {
		if (r == BRK_ERR_NOTFOUND) {
			snprintf(why, whylen,
			    "your login certificate is not "
			    "in this broker's register");
			return BRK_ERR_DENIED;
		}
		snprintf(why, whylen,
		    "the register of login certificates "
		    "cannot be read (%s)",
		    brk_strerror(r));
		return r;
	}
	r = BRK_ERR_DENIED;
	if (strcmp(json_string_value(json_object_get(o, "user")), user) != 0)
		snprintf(why, whylen,
		    "your login certificate names another "
		    "user than the one it was issued to");
	else if (json_is_integer(json_object_get(o, "revoked_at"))) {
		at = (time_t)json_integer_value(
		    json_object_get(o, "revoked_at"));
		gmtime_r(&at, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(why, whylen,
		    "your login certificate was revoked by %s at %s%s%.80s",
		    json_string_value(json_object_get(o, "revoked_by")) ?: "?",
		    when,
		    json_is_string(json_object_get(o, "reason")) ? ": " : "",
		    json_string_value(json_object_get(o, "reason")) ?: "");
	} else if (json_integer_value(json_object_get(o, "expires_at")) <= now)
		snprintf(why, whylen, "your login certificate has expired");
	else
		r = 0;
	json_decref(o);
	return r;
}

int
userca_login_user(struct store_txn *t, const char *serial, char **user)
{
	json_t *o;
	int r;

	*user = NULL;
	if ((o = reg_get(t, serial, &r)) == NULL)
		return r;
	*user = strdup(json_string_value(json_object_get(o, "user")));
	json_decref(o);
	return *user != NULL ? 0 : BRK_ERR_NOMEM;
}

/* Mark the record of serial revoked, when it is in force. */
static int
revoke_one(struct store_txn *t, const char *serial, const char *by,
    const char *reason, int64_t now, json_t *out)
{
	json_t *o;
	int r;

	if ((o = reg_get(t, serial, &r)) == NULL)
		return r;
	if (json_object_get(o, "revoked_at") != NULL ||
	    json_integer_value(json_object_get(o, "expires_at")) <= now)
		r = BRK_ERR_STATE;
	else if (json_object_set_new(o, "revoked_at", json_integer(now)) != 0 ||
	    json_object_set_new(o, "revoked_by", json_string(by)) != 0 ||
	    (reason != NULL &&
		json_object_set_new(o, "reason", json_string(reason)) != 0))
		r = BRK_ERR_NOMEM;
	else if ((r = reg_put(t, serial, o)) == 0 &&
	    json_array_append_new(out, json_string(serial)) != 0)
		r = BRK_ERR_NOMEM;
	json_decref(o);
	return r;
}

int
userca_revoke(struct store_txn *t, const char *serial, const char *user,
    const char *by, const char *reason, int64_t now, json_t **revoked,
    char **owner)
{
	struct store_cursor *cur = NULL;
	struct store_val k, v;
	json_t *out = NULL, *serials = NULL, *s;
	char key[200];
	size_t kl, i;
	int r = BRK_ERR_NOMEM;

	*revoked = NULL;
	*owner = NULL;
	if ((out = json_array()) == NULL || (serials = json_array()) == NULL)
		goto out;
	if (serial != NULL) {
		if ((r = userca_login_user(t, serial, owner)) != 0 ||
		    (r = revoke_one(t, serial, by, reason, now, out)) != 0)
			goto out;
	} else {
		/* the user's certificates: "u" USER \0 SERIAL */
		kl = reg_key(key, sizeof(key), 'u', user, "");
		r = BRK_ERR_INVALID;
		if (kl == 0)
			goto out;
		if ((r = store_cursor_open(t, TBL_LOGINS, &cur)) != 0)
			goto out;
		for (r = store_cursor_seek(cur, key, kl, &k, &v); r == 0;
		     r = store_cursor_next(cur, &k, &v)) {
			if (k.len <= kl || k.len - kl >= USERCA_SERIAL_LEN ||
			    memcmp(k.data, key, kl) != 0)
				break;
			if (json_array_append_new(serials,
				json_stringn((const char *)k.data + kl,
				    k.len - kl)) != 0) {
				r = BRK_ERR_NOMEM;
				break;
			}
		}
		store_cursor_close(cur);
		if (r != 0 && r != BRK_ERR_NOTFOUND)
			goto out;
		json_array_foreach (serials, i, s) {
			r = revoke_one(
			    t, json_string_value(s), by, reason, now, out);
			if (r != 0 && r != BRK_ERR_STATE)
				goto out;
		}
		r = BRK_ERR_NOTFOUND;
		if (json_array_size(out) == 0 ||
		    (*owner = strdup(user)) == NULL)
			goto out;
	}
	*revoked = out;
	out = NULL;
	r = 0;
out:
	if (r != 0) {
		free(*owner);
		*owner = NULL;
	}
	json_decref(out);
	json_decref(serials);
	return r;
}
