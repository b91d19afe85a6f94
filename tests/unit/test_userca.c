/*
 * test_userca.c - the user CA (login certificates) and the "login" config
 * section: first start and reopening, a looser key file refused, a CSR
 * whose signature does not verify refused, what an issued certificate
 * says, and strict config parsing.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "errors.h"
#include "login.h"
#include "userca.h"

static char *
tmpdir(void)
{
	char *d = strdup("/tmp/test_userca.XXXXXX");

	cr_assert_not_null(mkdtemp(d));
	return d;
}

static void
rmdir_all(const char *d)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	cr_assert_eq(system(cmd), 0);
}

/* A CSR for a new Ed25519 key; bad: sign it with another key. */
static char *
make_csr(bool bad)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509_REQ *req = X509_REQ_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	cr_assert(X509_REQ_set_pubkey(req, k) == 1);
	cr_assert(X509_REQ_sign(req, bad ? other : k, NULL) > 0);
	cr_assert(PEM_write_bio_X509_REQ(b, req) == 1);
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	BIO_free(b);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	return out;
}

Test(userca, first_start_reopen_and_issue)
{
	struct brk_error err = { "" };
	struct userca *u = NULL, *u2 = NULL;
	char *d = tmpdir(), path[512], *csr = make_csr(false), *pem = NULL;
	char *serial = NULL, cn[80];
	struct stat st;
	X509 *x;
	BIO *b;

	cr_assert_eq(userca_open(d, &u, &err), 0, "%s", err.msg);
	snprintf(path, sizeof(path), "%s/user_ca.key", d);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(userca_open(d, &u2, &err), 0, "reopen: %s", err.msg);
	cr_assert_eq(X509_cmp(userca_cert(u), userca_cert(u2)), 0);
	cr_assert_eq(userca_issue(u, csr, "alice", 1700000000, 3600, &pem,
	    &serial, &err), 0, "%s", err.msg);
	b = BIO_new_mem_buf(pem, -1);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	cr_assert_not_null(x);
	cr_assert(userca_issued(u2, x), "issued by the (reopened) CA");
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
	    sizeof(cn));
	cr_assert_str_eq(cn, "alice");
	cr_assert_eq(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0), 1,
	    "a client certificate");
	cr_assert_eq(X509_check_ca(x), 0, "never a CA");
	cr_assert_eq(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x),
	    1700000000 + 3600), 0, "valid for the ttl");
	X509_free(x);
	BIO_free(b);
	free(pem);
	free(serial);
	free(csr);
	userca_free(u);
	userca_free(u2);
	rmdir_all(d);
	free(d);
}

/* The host CA sits beside the user CA in the same directory, with files
 * and a key of its own: what one issues the other never claims.  Fails
 * when both open the same files: checked by ignoring base in
 * userca_open_named (the user CA "issued" the host certificate). */
Test(userca, host_ca_apart)
{
	struct brk_error err = { "" };
	struct userca *u = NULL, *h = NULL;
	char *d = tmpdir(), path[512], *csr = make_csr(false), *pem = NULL;
	char *serial = NULL, hex[64], cn[80];
	struct stat st;
	X509 *x;
	BIO *b;

	cr_assert_eq(userca_open(d, &u, &err), 0, "%s", err.msg);
	cr_assert_eq(userca_open_named(d, "host_ca", "brokerd host CA",
			 "host CA", &h, &err),
	    0, "%s", err.msg);
	snprintf(path, sizeof(path), "%s/host_ca.key", d);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_neq(X509_cmp(userca_cert(u), userca_cert(h)), 0);
	cr_assert_eq(userca_issue(h, csr, "web-1", 1700000000, 3600, &pem,
			 &serial, &err),
	    0, "%s", err.msg);
	b = BIO_new_mem_buf(pem, -1);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	cr_assert_not_null(x);
	cr_assert(userca_issued(h, x));
	cr_assert(!userca_issued(u, x), "a host certificate is no person's");
	X509_NAME_get_text_by_NID(X509_get_issuer_name(x), NID_commonName, cn,
	    sizeof(cn));
	cr_assert_str_eq(cn, "brokerd host CA");
	cr_assert_eq(userca_serial(x, hex, sizeof(hex)), 0);
	cr_assert_str_eq(hex, serial);
	cr_assert_eq(userca_serial(x, hex, 4), BRK_ERR_INVALID);
	X509_free(x);
	BIO_free(b);
	free(pem);
	free(serial);
	free(csr);
	userca_free(u);
	userca_free(h);
	rmdir_all(d);
	free(d);
}

/* Fails when the CSR's self-signature is not checked: checked by dropping
 * X509_REQ_verify() in userca_issue(), which issued a certificate. */
Test(userca, bad_csr_refused)
{
	struct brk_error err = { "" };
	struct userca *u = NULL;
	char *d = tmpdir(), *csr = make_csr(true), *pem = NULL, *serial = NULL;

	cr_assert_eq(userca_open(d, &u, &err), 0, "%s", err.msg);
	cr_assert_eq(userca_issue(u, csr, "alice", 1700000000, 3600, &pem,
	    &serial, &err), BRK_ERR_INVALID);
	cr_assert_null(pem);
	cr_assert_eq(userca_issue(u, "not a csr", "alice", 1700000000, 3600,
	    &pem, &serial, &err), BRK_ERR_INVALID);
	cr_assert_null(pem);
	free(csr);
	userca_free(u);
	rmdir_all(d);
	free(d);
}

Test(userca, loose_key_refused)
{
	struct brk_error err = { "" };
	struct userca *u = NULL;
	char *d = tmpdir(), path[512];

	cr_assert_eq(userca_open(d, &u, &err), 0, "%s", err.msg);
	userca_free(u);
	u = NULL;
	snprintf(path, sizeof(path), "%s/user_ca.key", d);
	cr_assert_eq(chmod(path, 0640), 0);
	cr_assert_eq(userca_open(d, &u, &err), BRK_ERR_PERM);
	cr_assert_null(u);
	cr_assert(strstr(err.msg, "0600") != NULL, "%s", err.msg);
	rmdir_all(d);
	free(d);
}

static int
parse(const char *text, struct login_config **c, struct brk_error *err)
{
	json_t *v = json_loads(text, 0, NULL);
	int r;

	cr_assert_not_null(v, "%s", text);
	r = login_config_parse(v, c, err);
	json_decref(v);
	return r;
}

Test(login_config, defaults_and_values)
{
	struct brk_error err = { "" };
	struct login_config *c = NULL;

	cr_assert_eq(parse("{}", &c, &err), 0, "%s", err.msg);
	cr_assert_str_eq(c->pam_service, "broker");
	cr_assert_eq(c->cert_ttl, 12 * 3600);
	login_config_free(c);
	cr_assert_eq(parse("{\"pam_service\": \"sso\", \"cert_ttl\": \"90m\"}",
	    &c, &err), 0, "%s", err.msg);
	cr_assert_str_eq(c->pam_service, "sso");
	cr_assert_eq(c->cert_ttl, 5400);
	login_config_free(c);
}

Test(login_config, bad_input_refused)
{
	static const char *const bad[] = {
		"{\"cert_ttl\": \"25h\"}",	/* over 24h */
		"{\"cert_ttl\": \"10s\"}",
		"{\"cert_ttl\": \"forever\"}",
		"{\"cert_ttl\": 999999}",
		"{\"pam_service\": \"../etc/x\"}",
		"{\"pam_service\": 3}",
		"{\"max_sessions\": 0}",
		"{\"answer_timeout\": 10000}",
		"{\"nope\": 1}",
		"[]",
	};
	struct brk_error err = { "" };
	struct login_config *c = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		cr_expect_eq(parse(bad[i], &c, &err), BRK_ERR_INVALID, "%s",
		    bad[i]);
		cr_expect_null(c, "%s", bad[i]);
		cr_expect(strstr(err.msg, "login") != NULL, "%s: %s", bad[i],
		    err.msg);
	}
}

/* ---- the register of login certificates (revocation) ----------------- */

#include "storetest.h"

STORE_TEST_SUITE(userca_register);

static void
note(const char *serial, const char *user, int64_t now, int64_t until)
{
	struct store_txn *t = NULL;

	cr_assert_eq(store_begin(st, true, &t), 0);
	cr_assert_eq(userca_note_issued(t, serial, user, now, until), 0);
	cr_assert_eq(store_commit(t), 0);
}

static int
check(const char *serial, const char *user, int64_t now, char *why)
{
	struct store_txn *t = NULL;
	int r;

	cr_assert_eq(store_begin(st, false, &t), 0);
	r = userca_login_check(t, serial, user, now, why, 200);
	store_abort(t);
	return r;
}

static int
reg_revoke(const char *serial, const char *user, int64_t now, size_t *n)
{
	struct store_txn *t = NULL;
	json_t *out = NULL;
	char *owner = NULL;
	int r;

	cr_assert_eq(store_begin(st, true, &t), 0);
	r = userca_revoke(t, serial, user, "erin", "lost", now, &out, &owner);
	if (r == 0) {
		*n = json_array_size(out);
		cr_assert_str_eq(owner, user != NULL ? user : "alice");
		cr_assert_eq(store_commit(t), 0);
	} else {
		cr_assert_null(out);
		cr_assert_null(owner);
		store_abort(t);
	}
	json_decref(out);
	free(owner);
	return r;
}

/* Fails when a revocation is not written, when a user's revocation takes
 * another's certificates, or when the sweep forgets records too early:
 * checked by making reg_sweep() ignore the REG_FORGET margin, which made
 * the "still known after expiry" assertion fail. */
Test(userca_register, issued_checked_revoked_forgotten)
{
	char why[200];
	size_t n = 0;

	note("AA01", "alice", 1000, 4600);
	note("AA02", "alice", 1000, 4600);
	note("BB01", "bob", 1000, 4600);
	cr_assert_eq(check("AA01", "alice", 2000, why), 0);
	cr_assert_eq(check("AA01", "bob", 2000, why), BRK_ERR_DENIED);
	cr_assert_eq(check("CC01", "alice", 2000, why), BRK_ERR_DENIED);
	cr_assert(strstr(why, "not in this broker's register") != NULL);
	cr_assert_eq(check("AA01", "alice", 4600, why), BRK_ERR_DENIED);
	cr_assert(strstr(why, "expired") != NULL);

	cr_assert_eq(reg_revoke(NULL, "alice", 2000, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(check("AA02", "alice", 2001, why), BRK_ERR_DENIED);
	cr_assert(strstr(why, "revoked by erin at 1970-01-01T00:33:20Z: lost") !=
	    NULL, "%s", why);
	cr_assert_eq(check("BB01", "bob", 2001, why), 0, "bob untouched");
	cr_assert_eq(reg_revoke("AA01", NULL, 2001, &n), BRK_ERR_STATE);
	cr_assert_eq(reg_revoke(NULL, "alice", 2001, &n), BRK_ERR_NOTFOUND);
	cr_assert_eq(reg_revoke("FFFF", NULL, 2001, &n), BRK_ERR_NOTFOUND);
	cr_assert_eq(reg_revoke(NULL, "bob", 4600, &n), BRK_ERR_NOTFOUND,
	    "an expired certificate is not revoked again");

	/* a login a day after they all expired forgets them */
	note("DD01", "dave", 4600 + 86400 - 1, 4600 + 2 * 86400);
	cr_assert_eq(check("BB01", "bob", 2001, why), 0,
	    "still known until a day after expiry");
	note("DD02", "dave", 4600 + 86400 + 1, 4600 + 2 * 86400);
	cr_assert_eq(check("BB01", "bob", 2001, why), BRK_ERR_DENIED);
	cr_assert(strstr(why, "not in this broker's register") != NULL);
	cr_assert_eq(check("DD01", "dave", 4600 + 86400 + 2, why), 0);
	cr_assert_eq(reg_revoke(NULL, "bob", 2001, &n), BRK_ERR_NOTFOUND,
	    "the by-user index went with the record");
}
