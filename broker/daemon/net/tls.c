/*
 * tls.c - the TLS 1.3 listener that remote hosts' PAM modules talk to.
 *
 * One acceptor thread, and one thread per connection up to a fixed cap
 * (max_connections, at most 100, so LMDB's reader slots are never
 * exhausted).  A connection thread owns its socket and SSL object outright:
 * it does the handshake, reads a request line, checks that the host asks
 * only about itself, builds a struct call like server.c's start_call(),
 * dispatches it, and sleeps until the reply is delivered (the handler may
 * answer from this thread or, later, from the writer thread); then it
 * writes the reply and reads the next line.  Every wait is a poll() on the
 * socket and the stop eventfd with the configured timeout, so a silent or
 * slow peer holds one thread for at most `timeout` seconds and stopping the
 * daemon never waits on a peer.
 *
 * A host's identity is its certificate, never its words: the host name H
 * is the subject CN (or the single DNS SAN of a certificate without CN),
 * and the only questions allowed are op "check" about resource "host:H"
 * and op "snapshot" for host H.
 */
#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "deadline.h"
#include "daemon.h"
#include "log.h"
#include "names.h"

#define TLS_MAX_CONNS_LIMIT 100
#define TLS_IN_CAP (PROTO_MAX_LINE + 1 + 16384)
#define TLS_CALLER "tls-host"

struct tls_server {
	struct brokerd *d;
	const struct tls_config *cfg;
	SSL_CTX *ctx;
	int lfd, stopfd;
	pthread_t acceptor;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t idle;	/* signalled when nconns drops to 0 */
	int nconns;
};

struct tconn {
	struct tls_server *srv;
	int fd;
	SSL *ssl;
	char host[256];		/* H, from the certificate */
	char *in;
	size_t inlen;
	struct store_txn *rtxn;	/* this thread's reusable read txn */
	pthread_mutex_t lock;	/* guards the delivery below */
	pthread_cond_t cond;
	bool delivered;
	char *reply;
	size_t replylen;
};

/* ---- configuration ---------------------------------------------------- */

/* "HOST:PORT", "[V6]:PORT" or "*:PORT". */
static int
parse_listen(json_t *v, struct tls_config *c, struct brk_error *err)
{
	const char *s = json_string_value(v), *h, *hend, *port;
	char *end = NULL;
	long p;

	if (s == NULL || strlen(s) > 300)
		goto bad;
	h = s;
	if (*h == '[') {
		h++;
		if ((hend = strchr(h, ']')) == NULL || hend[1] != ':')
			goto bad;
		port = hend + 2;
	} else {
		if ((hend = strrchr(h, ':')) == NULL ||
		    memchr(h, ':', (size_t)(hend - h)) != NULL)
			goto bad;
		port = hend + 1;
	}
	if (hend == h || port[0] < '0' || port[0] > '9')
		goto bad;
	p = strtol(port, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535)
		goto bad;
	free(c->listen_host);
	free(c->listen_port);
	c->listen_host = NULL;
	c->listen_port = NULL;	/* not freed twice if strndup() fails */
	if (!(hend - h == 1 && *h == '*') &&
	    (c->listen_host = strndup(h, (size_t)(hend - h))) == NULL)
		return BRK_ERR_NOMEM;
	if ((c->listen_port = strdup(port)) == NULL)
		return BRK_ERR_NOMEM;
	return 0;
bad:
	return brk_error_set(err, BRK_ERR_INVALID, "config: tls.listen must be "
	    "\"HOST:PORT\" (HOST a name, an address, [v6] or *)");
}

int
tls_config_parse(json_t *section, struct tls_config **out,
    struct brk_error *err)
{
	struct tls_config *c = NULL;
	const char *key;
	json_t *v;
	int r = BRK_ERR_INVALID;

	*out = NULL;
	if (!json_is_object(section)) {
		brk_error_set(err, r, "config: \"tls\" must be an object");
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto out;
	c->max_connections = 32;
	c->timeout = 10;
	json_object_foreach(section, key, v) {
		if (strcmp(key, "listen") == 0)
			r = parse_listen(v, c, err);
		else if (strcmp(key, "cert") == 0)
			r = config_get_str("tls", v, key, &c->cert, err);
		else if (strcmp(key, "key") == 0)
			r = config_get_str("tls", v, key, &c->key, err);
		else if (strcmp(key, "client_ca") == 0)
			r = config_get_str("tls", v, key, &c->client_ca, err);
		else if (strcmp(key, "max_connections") == 0)
			r = config_get_int("tls", v, key, 1, TLS_MAX_CONNS_LIMIT,
			    &c->max_connections, err);
		else if (strcmp(key, "timeout") == 0)
			r = config_get_int("tls", v, key, 1, 300, &c->timeout, err);
		else
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "config: tls: unknown key \"%.64s\"", key);
		if (r != 0)
			goto out;
	}
	r = BRK_ERR_INVALID;
	if (c->listen_port == NULL || c->cert == NULL || c->key == NULL ||
	    c->client_ca == NULL) {
		brk_error_set(err, r, "config: tls needs \"listen\", \"cert\", "
		    "\"key\" and \"client_ca\"");
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	tls_config_free(c);
	return r;
}

void
tls_config_free(struct tls_config *c)
{
	if (c == NULL)
		return;
	free(c->listen_host);
	free(c->listen_port);
	free(c->cert);
	free(c->key);
	free(c->client_ca);
	free(c);
}

/* ---- set-up ------------------------------------------------------------ */

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/* The key must be ours alone, like the CA key. */
static int
check_key_file(const char *path, struct brk_error *err)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return brk_error_set(err, BRK_ERR_IO, "tls key %s: %s", path,
		    strerror(errno));
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0)
		return brk_error_set(err, BRK_ERR_PERM, "tls key %s must be a "
		    "regular file with mode 0600 or stricter (it is %04o)",
		    path, (unsigned)(st.st_mode & 07777));
	return 0;
}

static int
make_ctx(const struct tls_config *cfg, SSL_CTX **out, struct brk_error *err)
{
	STACK_OF(X509_NAME) *names = NULL;
	SSL_CTX *ctx = NULL;
	int r;

	*out = NULL;
	if ((r = check_key_file(cfg->key, err)) != 0)
		goto out;
	r = BRK_ERR_CRYPTO;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		goto out;
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
		brk_error_set(err, r, "tls: cannot load certificate %s",
		    cfg->cert);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		brk_error_set(err, r, "tls: %s is not an unencrypted key "
		    "matching %s", cfg->key, cfg->cert);
		goto out;
	}
	if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(cfg->client_ca)) == NULL) {
		brk_error_set(err, r, "tls: cannot load client_ca %s",
		    cfg->client_ca);
		goto out;
	}
	SSL_CTX_set_client_CA_list(ctx, names);	/* takes names */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	*out = ctx;
	ctx = NULL;
	r = 0;
out:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

static int
listen_tcp(const struct tls_config *cfg, int *out, struct brk_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	int fd = -1, one = 1, g, r = BRK_ERR_IO, e = 0;

	*out = -1;
	if ((g = getaddrinfo(cfg->listen_host, cfg->listen_port, &hints,
	    &res)) != 0) {
		brk_error_set(err, r, "tls: cannot resolve %s: %s",
		    cfg->listen_host ? cfg->listen_host : "*",
		    gai_strerror(g));
		goto out;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one)) == 0 && bind(fd, ai->ai_addr,
		    ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		e = errno;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (fd < 0) {
		brk_error_set(err, r, "tls: cannot listen on %s:%s: %s",
		    cfg->listen_host ? cfg->listen_host : "*",
		    cfg->listen_port, strerror(e));
		goto out;
	}
	*out = fd;
	r = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	return r;
}

/* ---- one connection ---------------------------------------------------- */

/* Wait for the socket until deadline; BRK_ERR_STATE when stopping. */
static int
wait_io(struct tconn *tc, short events, long long deadline)
{
	struct pollfd p[2] = { { .fd = tc->fd, .events = events },
		{ .fd = tc->srv->stopfd, .events = POLLIN } };
	long long left;
	int n;

	for (;;) {
		if ((left = deadline - deadline_now_ms()) <= 0)
			return BRK_ERR_TIMEOUT;
		n = poll(p, 2, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return BRK_ERR_IO;
		if (n == 0)
			return BRK_ERR_TIMEOUT;
		if (p[1].revents != 0)
			return BRK_ERR_STATE;
		return 0;
	}
}

/* Retry an SSL call's WANT_READ/WANT_WRITE; 0 to retry, else an error. */
static int
ssl_wait(struct tconn *tc, int ret, long long deadline)
{
	switch (SSL_get_error(tc->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return wait_io(tc, POLLIN, deadline);
	case SSL_ERROR_WANT_WRITE:
		return wait_io(tc, POLLOUT, deadline);
	default:
		return BRK_ERR_UNREACHABLE;
	}
}

static bool
host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
}

/* Copy a certificate name into out if it is a plausible host name. */
static int
take_name(const unsigned char *p, int len, char *out, size_t outlen)
{
	char res[300];
	int i;

	if (p == NULL || len <= 0 || len > 253 || (size_t)len >= outlen)
		return BRK_ERR_INVALID;
	for (i = 0; i < len; i++)
		if (!host_char((char)p[i]))
			return BRK_ERR_INVALID;
	snprintf(res, sizeof(res), "host:%.*s", len, (const char *)p);
	if (!name_resource_valid(res))
		return BRK_ERR_INVALID;
	memcpy(out, p, (size_t)len);
	out[len] = '\0';
	return 0;
}

/* H: the one subject CN, else the one DNS SAN. */
static int
cert_host(X509 *x, char *out, size_t outlen)
{
	X509_NAME *subj = X509_get_subject_name(x);
	GENERAL_NAMES *sans = NULL;
	const GENERAL_NAME *gn;
	ASN1_STRING *d;
	int idx, i, n = 0, r = BRK_ERR_INVALID;

	idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (idx >= 0) {
		if (X509_NAME_get_index_by_NID(subj, NID_commonName, idx) >= 0)
			goto out;	/* two CNs: ambiguous */
		d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
		r = take_name(ASN1_STRING_get0_data(d), ASN1_STRING_length(d),
		    out, outlen);
		goto out;
	}
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type != GEN_DNS)
			continue;
		if (n++ > 0) {
			r = BRK_ERR_INVALID;	/* several: ambiguous */
			goto out;
		}
		r = take_name(ASN1_STRING_get0_data(gn->d.dNSName),
		    ASN1_STRING_length(gn->d.dNSName), out, outlen);
	}
out:
	GENERAL_NAMES_free(sans);
	return r;
}

static int
handshake(struct tconn *tc)
{
	long long deadline = deadline_now_ms() + tc->srv->cfg->timeout * 1000LL;
	X509 *peer;
	int n, r;

	if ((tc->ssl = SSL_new(tc->srv->ctx)) == NULL ||
	    SSL_set_fd(tc->ssl, tc->fd) != 1)
		return BRK_ERR_NOMEM;
	while ((n = SSL_accept(tc->ssl)) != 1)
		if ((r = ssl_wait(tc, n, deadline)) != 0) {
			log_info("event=tls_handshake_failed why=\"%s\"",
			    r == BRK_ERR_UNREACHABLE &&
			    ERR_peek_last_error() != 0 ?
			    ERR_reason_error_string(ERR_peek_last_error()) :
			    brk_strerror(r));
			return r;
		}
	if ((peer = SSL_get0_peer_certificate(tc->ssl)) == NULL ||
	    SSL_get_verify_result(tc->ssl) != X509_V_OK ||
	    cert_host(peer, tc->host, sizeof(tc->host)) != 0) {
		log_warn("event=tls_refused why=\"no usable host name in the "
		    "client certificate\"");
		return BRK_ERR_DENIED;
	}
	return 0;
}

static int
write_all(struct tconn *tc, const char *p, size_t len)
{
	long long deadline = deadline_now_ms() + tc->srv->cfg->timeout * 1000LL;
	int n, r;

	while (len > 0) {
		n = SSL_write(tc->ssl, p, len > INT_MAX ? INT_MAX : (int)len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if ((r = ssl_wait(tc, n, deadline)) != 0)
			return r;
	}
	return 0;
}

/* Read until a full line is buffered; *len is its length. */
static int
read_line(struct tconn *tc, size_t *len)
{
	long long deadline = deadline_now_ms() + tc->srv->cfg->timeout * 1000LL;
	char *nl;
	int n, r;

	for (;;) {
		if ((nl = memchr(tc->in, '\n', tc->inlen)) != NULL) {
			*len = (size_t)(nl - tc->in);
			return 0;
		}
		if (tc->inlen >= TLS_IN_CAP)
			return BRK_ERR_TOOBIG;
		n = SSL_read(tc->ssl, tc->in + tc->inlen,
		    (int)(TLS_IN_CAP - tc->inlen));
		if (n > 0)
			tc->inlen += (size_t)n;
		else if ((r = ssl_wait(tc, n, deadline)) != 0)
			return r;
	}
}

static int
reply_error(struct tconn *tc, const char *id, int rc, const char *msg)
{
	size_t len = 0;
	char *line = proto_reply_error(id, rc, msg, &len);
	int r = line != NULL ? write_all(tc, line, len) : BRK_ERR_NOMEM;

	free(line);
	return r;
}

/* The one rule of this transport: a host asks only about itself. */
static int
host_may(const struct tconn *tc, const struct proto_req *req,
    struct brk_error *err)
{
	const char *res = NULL, *host = NULL;
	char want[300];

	snprintf(want, sizeof(want), "host:%s", tc->host);
	if (req->as != NULL)
		return brk_error_set(err, BRK_ERR_DENIED, "a host may not act "
		    "as a user (\"as\")");
	if (strcmp(req->op, "check") == 0) {
		if (proto_arg_str(req->args, "resource", true, 300, &res,
		    NULL) != 0 || strcmp(res, want) != 0)
			return brk_error_set(err, BRK_ERR_DENIED, "host %s may "
			    "only check resource %s", tc->host, want);
		if (proto_arg_str(req->args, "user", true, 64, &res,
		    NULL) != 0)
			return brk_error_set(err, BRK_ERR_INVALID, "a host's "
			    "check names the \"user\"");
		return 0;
	}
	if (strcmp(req->op, "snapshot") == 0) {
		if (proto_arg_str(req->args, "host", true, 300, &host,
		    NULL) != 0 || strcmp(host, tc->host) != 0)
			return brk_error_set(err, BRK_ERR_DENIED, "host %s may "
			    "only ask for its own snapshot", tc->host);
		return 0;
	}
	return brk_error_set(err, BRK_ERR_DENIED, "over TLS a host may only "
	    "use the ops check and snapshot, not \"%.64s\"", req->op);
}

/* call->deliver: hand the reply to the connection's thread. */
static void
deliver_tls(struct call *c, char *line, size_t len)
{
	struct tconn *tc = c->conn;

	pthread_mutex_lock(&tc->lock);
	tc->reply = line;
	tc->replylen = len;
	tc->delivered = true;
	pthread_cond_signal(&tc->cond);
	pthread_mutex_unlock(&tc->lock);
}

/* Run one request; returns 0 to keep the connection, else an error. */
static int
run_line(struct tconn *tc, const char *line, size_t len)
{
	struct brk_error err = { { 0 } };
	struct proto_req *req = NULL;
	char id[PROTO_MAX_ID + 1] = "";
	struct call *call = NULL;
	char *reply;
	size_t replylen;
	int r;

	if ((r = proto_parse_request(line, len, &req, id, &err)) != 0)
		return reply_error(tc, id, r, err.msg);
	if ((r = host_may(tc, req, &err)) != 0) {
		log_warn("event=tls_refused host=%s op=%.64s why=\"%s\"",
		    tc->host, req->op, err.msg);
		r = reply_error(tc, req->id, r, err.msg);
		proto_req_free(req);
		return r;
	}
	if ((call = calloc(1, sizeof(*call))) == NULL) {
		r = reply_error(tc, req->id, BRK_ERR_NOMEM, NULL);
		proto_req_free(req);
		return r;
	}
	call->d = tc->srv->d;
	call->req = req;
	call->conn = tc;
	call->deliver = deliver_tls;
	call->rtxn = &tc->rtxn;
	snprintf(call->host, sizeof(call->host), "%s", tc->host);
	/* not a user: a fixed name that is never in a policy role, no uid,
	 * no groups; op_check lets host callers ask about any user */
	snprintf(call->caller.name, sizeof(call->caller.name), TLS_CALLER);
	call->caller.uid = (uid_t)-1;
	snprintf(call->caller.sources, sizeof(call->caller.sources), "tls");
	call->who = call->caller;
	ops_dispatch(call);
	pthread_mutex_lock(&tc->lock);
	while (!tc->delivered)
		pthread_cond_wait(&tc->cond, &tc->lock);
	reply = tc->reply;
	replylen = tc->replylen;
	tc->reply = NULL;
	tc->delivered = false;
	pthread_mutex_unlock(&tc->lock);
	call_free(call);
	store_read_end(tc->rtxn);	/* never pin a snapshot between calls */
	if (reply == NULL)
		return BRK_ERR_NOMEM;
	r = write_all(tc, reply, replylen);
	free(reply);
	return r;
}

static void *
conn_main(void *arg)
{
	struct tconn *tc = arg;
	struct tls_server *srv = tc->srv;
	size_t len;
	int r;

	if ((tc->in = malloc(TLS_IN_CAP)) == NULL ||
	    handshake(tc) != 0)
		goto out;
	log_debug("event=tls_connected host=%s", tc->host);
	for (;;) {
		if ((r = read_line(tc, &len)) != 0) {
			if (r == BRK_ERR_TOOBIG)
				reply_error(tc, "", r, "line longer than 65536 "
				    "bytes");
			break;
		}
		r = len > 0 ? run_line(tc, tc->in, len) : 0;
		memmove(tc->in, tc->in + len + 1, tc->inlen - len - 1);
		tc->inlen -= len + 1;
		if (r != 0)
			break;
	}
out:
	if (tc->ssl != NULL) {
		SSL_shutdown(tc->ssl);	/* one try; never wait for the peer */
		SSL_free(tc->ssl);
	}
	close(tc->fd);
	store_read_free(tc->rtxn);
	pthread_mutex_destroy(&tc->lock);
	pthread_cond_destroy(&tc->cond);
	free(tc->in);
	free(tc);
	ERR_clear_error();
	pthread_mutex_lock(&srv->lock);
	if (--srv->nconns == 0)
		pthread_cond_broadcast(&srv->idle);
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

static void
start_conn(struct tls_server *t, int fd)
{
	pthread_attr_t attr;
	struct tconn *tc;
	pthread_t th;
	bool full;

	pthread_mutex_lock(&t->lock);
	if (!(full = t->nconns >= t->cfg->max_connections))
		t->nconns++;
	pthread_mutex_unlock(&t->lock);
	if (full) {
		log_warn("event=tls_busy why=\"max_connections reached\"");
		close(fd);
		return;
	}
	if ((tc = calloc(1, sizeof(*tc))) != NULL) {
		tc->srv = t;
		tc->fd = fd;
		pthread_mutex_init(&tc->lock, NULL);
		pthread_cond_init(&tc->cond, NULL);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &attr, conn_main, tc) == 0) {
			pthread_attr_destroy(&attr);
			return;
		}
		pthread_attr_destroy(&attr);
		pthread_mutex_destroy(&tc->lock);
		pthread_cond_destroy(&tc->cond);
		free(tc);
	}
	log_error("event=tls_conn_failed why=\"cannot start a thread\"");
	close(fd);
	pthread_mutex_lock(&t->lock);
	if (--t->nconns == 0)
		pthread_cond_broadcast(&t->idle);
	pthread_mutex_unlock(&t->lock);
}

static void *
acceptor_main(void *arg)
{
	struct tls_server *t = arg;
	struct pollfd p[2] = { { .fd = t->lfd, .events = POLLIN },
		{ .fd = t->stopfd, .events = POLLIN } };
	int fd;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("event=tls_poll error=\"%s\"",
			    strerror(errno));
			break;
		}
		if (p[1].revents != 0)
			break;
		while ((fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) >= 0)
			start_conn(t, fd);
	}
	return NULL;
}

int
tls_start(struct brokerd *d, struct tls_server **out, struct brk_error *err)
{
	struct tls_server *t;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if (d->cfg->tls == NULL)
		return brk_error_set(err, BRK_ERR_INVALID, "tls: not configured");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return r;
	t->d = d;
	t->cfg = d->cfg->tls;
	t->lfd = t->stopfd = -1;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->idle, NULL);
	if ((r = make_ctx(t->cfg, &t->ctx, err)) != 0 ||
	    (r = listen_tcp(t->cfg, &t->lfd, err)) != 0)
		goto fail;
	r = BRK_ERR_IO;
	if ((t->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    pthread_create(&t->acceptor, NULL, acceptor_main, t) != 0) {
		brk_error_set(err, r, "tls: cannot start the listener");
		goto fail;
	}
	t->started = true;
	log_info("event=tls_ready listen=%s:%s max_connections=%d",
	    t->cfg->listen_host ? t->cfg->listen_host : "*",
	    t->cfg->listen_port, t->cfg->max_connections);
	*out = t;
	return 0;
fail:
	tls_stop(t);
	return r;
}

void
tls_stop(struct tls_server *t)
{
	uint64_t one = 1;

	if (t == NULL)
		return;
	/* the eventfd stays readable: every thread's poll sees it */
	if (t->stopfd >= 0 && write(t->stopfd, &one, sizeof(one)) < 0)
		log_error("event=tls_stop error=\"%s\"", strerror(errno));
	if (t->started)
		pthread_join(t->acceptor, NULL);
	pthread_mutex_lock(&t->lock);
	while (t->nconns > 0)
		pthread_cond_wait(&t->idle, &t->lock);
	pthread_mutex_unlock(&t->lock);
	SSL_CTX_free(t->ctx);
	if (t->lfd >= 0)
		close(t->lfd);
	if (t->stopfd >= 0)
		close(t->stopfd);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->idle);
	free(t);
}
