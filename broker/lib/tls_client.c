/*
 * tls_client.c - TLS 1.3 with mutual authentication, client side.
 *
 * Loaded into host processes through pam_broker.so, so it must behave like a
 * guest: a fresh SSL_CTX per connection (no library-wide state of ours), the
 * files read by us with O_CLOEXEC instead of OpenSSL's fopen(), a socket BIO
 * of our own that sends with MSG_NOSIGNAL (OpenSSL's write() could raise
 * SIGPIPE in sshd), and OpenSSL's per-thread error queue left empty on every
 * return so the host's own use of libcrypto never sees our errors.
 */
#include "tls_client.h"

#include <ctype.h>
#include <stdbool.h>
#include <strings.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "deadline.h"
#include "fileio.h"

#define TLS_FILE_MAX (1024 * 1024)
/* An arbitrary source/sink type number for our socket BIO. */
#define BRK_BIO_TYPE (0x70 | BIO_TYPE_SOURCE_SINK)

struct tls_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	BIO_METHOD *meth;
};

/* The socket BIO: recv()/send(MSG_NOSIGNAL) on the fd in BIO data. */
static int
bio_write(BIO *b, const char *in, int inl)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = send(fd, in, (size_t)inl, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static int
bio_read(BIO *b, char *out, int outl)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = recv(fd, out, (size_t)outl, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)n;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/* Encrypted keys are refused rather than prompting on a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static int
load_ca(SSL_CTX *ctx, const char *path, struct brk_error *err)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	char *text = NULL;
	size_t len = 0, n = 0;
	BIO *bio = NULL;
	X509 *x;
	int r;

	if ((r = file_read_all(path, TLS_FILE_MAX, 0, &text, &len, err)) != 0)
		goto out;
	r = BRK_ERR_CRYPTO;
	if ((bio = BIO_new_mem_buf(text, (int)len)) == NULL)
		goto out;
	while (
	    (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
		if (X509_STORE_add_cert(st, x) == 1)
			n++;
		X509_free(x);
	}
	if (n == 0) {
		brk_error_set(err, r, "%s holds no CA certificate", path);
		goto out;
	}
	r = 0;
out:
	BIO_free(bio);
	free(text);
	return r;
}

static int
load_cert_key(
    SSL_CTX *ctx, const char *cert, const char *key, struct brk_error *err)
{
	char *text = NULL, *ktext = NULL;
	size_t len = 0, klen = 0;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	X509 *x = NULL;
	int r;

	if ((r = file_read_all(cert, TLS_FILE_MAX, 0, &text, &len, err)) != 0)
		goto out;
	r = BRK_ERR_CRYPTO;
	if ((bio = BIO_new_mem_buf(text, (int)len)) == NULL)
		goto out;
	if ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1) {
		brk_error_set(err, r, "%s holds no usable certificate", cert);
		goto out;
	}
	X509_free(x);
	while (
	    (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
			goto out;
		x = NULL; /* the context owns it now */
	}
	BIO_free(bio);
	bio = NULL;
	if ((r = file_read_all(key, TLS_FILE_MAX, 0, &ktext, &klen, err)) != 0)
		goto out;
	r = BRK_ERR_CRYPTO;
	if ((bio = BIO_new_mem_buf(ktext, (int)klen)) == NULL)
		goto out;
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) ==
		NULL ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		brk_error_set(err, r,
		    "%s: no unencrypted private key that "
		    "matches %s",
		    key, cert);
		goto out;
	}
	r = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	BIO_free(bio);
	free(text);
	if (ktext != NULL) {
		OPENSSL_cleanse(ktext, klen);
		free(ktext);
	}
	return r;
}

/* With a pin, the chain is judged after the handshake (pin_matches). */
static int
verify_later(int ok, X509_STORE_CTX *x)
{
	return 1;
}

/* Whether a certificate the broker presented has SHA-256 fingerprint pin
 * (hex digits, colons allowed, any case, after an optional "SHA256:"). */
static bool
pin_matches(SSL *ssl, const char *pin)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	char want[2 * EVP_MAX_MD_SIZE + 1], got[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int mdlen, k;
	size_t n = 0;
	const char *p;
	int i;

	if (strncasecmp(pin, "SHA256:", 7) == 0)
		pin += 7;
	for (p = pin; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n + 1 >= sizeof(want))
			return false;
		want[n++] = (char)tolower((unsigned char)*p);
	}
	want[n] = '\0';
	if (n != 64)
		return false;
	for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		if (X509_digest(
			sk_X509_value(chain, i), EVP_sha256(), md, &mdlen) != 1)
			continue;
		for (k = 0; k < mdlen; k++)
			snprintf(got + 2 * k, 3, "%02x", md[k]);
		if (strcmp(got, want) == 0)
			return true;
	}
	return false;
}

static int
make_ctx(const char *ca, const char *cert, const char *key, SSL_CTX **out,
    struct brk_error *err)
{
	SSL_CTX *ctx;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto out;
	r = BRK_ERR_CRYPTO;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		goto out;
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_verify(
	    ctx, SSL_VERIFY_PEER, ca != NULL ? NULL : verify_later);
	if ((ca != NULL && (r = load_ca(ctx, ca, err)) != 0) ||
	    (cert != NULL && (r = load_cert_key(ctx, cert, key, err)) != 0))
		goto out;
	*out = ctx;
	ctx = NULL;
	r = 0;
out:
	SSL_CTX_free(ctx);
	return r;
}

/* Check the broker's certificate names servername (DNS name or IP). */
static int
set_peer_name(SSL *ssl, const char *name)
{
	unsigned char ip[16];

	if (inet_pton(AF_INET, name, ip) == 1 ||
	    inet_pton(AF_INET6, name, ip) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(
			   SSL_get0_param(ssl), name) == 1 ?
		    0 :
		    BRK_ERR_CRYPTO;
	if (SSL_set_tlsext_host_name(ssl, name) != 1 ||
	    SSL_set1_host(ssl, name) != 1)
		return BRK_ERR_CRYPTO;
	return 0;
}

#define TLS_SESSION_MAX 16384

/* Offer the session kept in path, and remove the file (see the header):
 * any trouble with it only means a full handshake. */
static void
offer_session(SSL *ssl, const char *path)
{
	struct brk_error ferr = { { 0 } };
	SSL_SESSION *sess = NULL;
	char *buf = NULL;
	size_t len = 0;
	BIO *b = NULL;

	if (file_read_checked(path, "TLS session",
		FILE_NOFOLLOW | FILE_OURS | FILE_PRIVATE | FILE_ABSENT_OK,
		TLS_SESSION_MAX, &buf, &len, &ferr) != 0)
		return;
	(void)unlink(path);
	if ((b = BIO_new_mem_buf(buf, (int)len)) != NULL &&
	    (sess = PEM_read_bio_SSL_SESSION(b, NULL, NULL, NULL)) != NULL &&
	    SSL_SESSION_is_resumable(sess))
		(void)SSL_set_session(ssl, sess);
	SSL_SESSION_free(sess);
	BIO_free(b);
	file_free_secret(buf, len);
	ERR_clear_error();
}

int
tls_conn_save_session(
    struct tls_conn *t, const char *path, struct brk_error *err)
{
	SSL_SESSION *sess = SSL_get1_session(t->ssl);
	BIO *b = NULL;
	char *data;
	long len;
	int r = BRK_ERR_NOTFOUND;

	if (sess == NULL || !SSL_SESSION_is_resumable(sess)) {
		brk_error_set(err, r, "the broker sent no session ticket");
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((b = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_SSL_SESSION(b, sess) != 1 ||
	    (len = BIO_get_mem_data(b, &data)) <= 0)
		goto out;
	r = file_write_atomic(
	    path, "TLS session", data, (size_t)len, 0600, err);
out:
	BIO_free(b);
	SSL_SESSION_free(sess);
	ERR_clear_error();
	return r;
}

int
tls_conn_connect(int fd, const char *servername, const char *ca,
    const char *pin, const char *cert, const char *key, const char *session,
    long long deadline, struct tls_conn **out, struct brk_error *err)
{
	struct tls_conn *t = NULL;
	BIO *bio = NULL;
	long vr;
	int r = BRK_ERR_NOMEM, n, e;

	*out = NULL;
	ERR_clear_error();
	/* the request follows the handshake's last flight at once: without
	 * this, Nagle holds it until the broker ACKs that flight, which a
	 * broker with nothing to send (no ticket) delays by ~40 ms */
	(void)setsockopt(
	    fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if ((t = calloc(1, sizeof(*t))) == NULL)
		goto out;
	t->fd = fd;
	if ((r = make_ctx(ca, cert, key, &t->ctx, err)) != 0)
		goto out;
	r = BRK_ERR_NOMEM;
	if ((t->meth = BIO_meth_new(BRK_BIO_TYPE, "brk-socket")) == NULL ||
	    BIO_meth_set_write(t->meth, bio_write) != 1 ||
	    BIO_meth_set_read(t->meth, bio_read) != 1 ||
	    BIO_meth_set_ctrl(t->meth, bio_ctrl) != 1 ||
	    BIO_meth_set_create(t->meth, bio_create) != 1 ||
	    (t->ssl = SSL_new(t->ctx)) == NULL ||
	    (bio = BIO_new(t->meth)) == NULL)
		goto out;
	BIO_set_data(bio, (void *)(intptr_t)fd);
	SSL_set_bio(t->ssl, bio, bio); /* the SSL owns the BIO now */
	if (ca != NULL && (r = set_peer_name(t->ssl, servername)) != 0) {
		brk_error_set(
		    err, r, "cannot check for the name %s", servername);
		goto out;
	}
	if (session != NULL)
		offer_session(t->ssl, session);
	for (;;) {
		if ((n = SSL_connect(t->ssl)) == 1)
			break;
		e = SSL_get_error(t->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			r = deadline_wait_fd(fd, POLLIN, deadline);
		else if (e == SSL_ERROR_WANT_WRITE)
			r = deadline_wait_fd(fd, POLLOUT, deadline);
		else if ((vr = SSL_get_verify_result(t->ssl)) != X509_V_OK) {
			r = brk_error_set(err, BRK_ERR_VERIFY,
			    "the broker's "
			    "certificate does not verify: %s",
			    X509_verify_cert_error_string(vr));
			goto out;
		} else {
			r = brk_error_set(err, BRK_ERR_UNREACHABLE,
			    "TLS "
			    "handshake with the broker failed: %s",
			    ERR_reason_error_string(ERR_peek_last_error()) ?
				ERR_reason_error_string(ERR_peek_last_error()) :
				"connection closed");
			goto out;
		}
		if (r != 0) {
			brk_error_set(err, r,
			    "TLS handshake with the broker: "
			    "%s",
			    brk_strerror(r));
			goto out;
		}
	}
	if (ca == NULL && !SSL_session_reused(t->ssl) &&
	    (pin == NULL || !pin_matches(t->ssl, pin))) {
		r = brk_error_set(err, BRK_ERR_VERIFY,
		    "the broker's "
		    "certificate does not match the fingerprint %s",
		    pin != NULL ? pin : "(none)");
		goto out;
	}
	*out = t;
	t = NULL;
	r = 0;
out:
	if (t != NULL) {
		SSL_free(t->ssl);
		SSL_CTX_free(t->ctx);
		BIO_meth_free(t->meth);
		free(t);
	}
	ERR_clear_error();
	return r;
}

int
tls_conn_read(struct tls_conn *t, void *buf, size_t len, long long deadline)
{
	int n, e, r = BRK_ERR_UNREACHABLE;

	for (;;) {
		n = SSL_read(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
		if (n > 0) {
			r = n;
			break;
		}
		e = SSL_get_error(t->ssl, n);
		if (e == SSL_ERROR_ZERO_RETURN)
			r = 0;
		else if (e == SSL_ERROR_WANT_READ &&
		    (r = deadline_wait_fd(t->fd, POLLIN, deadline)) == 0)
			continue;
		else if (e == SSL_ERROR_WANT_WRITE &&
		    (r = deadline_wait_fd(t->fd, POLLOUT, deadline)) == 0)
			continue;
		else if (r != BRK_ERR_TIMEOUT)
			r = BRK_ERR_UNREACHABLE;
		break;
	}
	ERR_clear_error();
	return r;
}

int
tls_conn_write(
    struct tls_conn *t, const void *buf, size_t len, long long deadline)
{
	const char *p = buf;
	int n, e, r = 0;

	while (len > 0) {
		n = SSL_write(t->ssl, p, len > INT_MAX ? INT_MAX : (int)len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		e = SSL_get_error(t->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			r = deadline_wait_fd(t->fd, POLLIN, deadline);
		else if (e == SSL_ERROR_WANT_WRITE)
			r = deadline_wait_fd(t->fd, POLLOUT, deadline);
		else
			r = BRK_ERR_UNREACHABLE;
		if (r != 0) {
			r = r == BRK_ERR_TIMEOUT ? r : BRK_ERR_UNREACHABLE;
			break;
		}
	}
	ERR_clear_error();
	return r;
}

void
tls_conn_free(struct tls_conn *t)
{
	if (t == NULL)
		return;
	SSL_shutdown(t->ssl); /* one try: never wait on a peer here */
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	BIO_meth_free(t->meth);
	free(t);
	ERR_clear_error();
}
