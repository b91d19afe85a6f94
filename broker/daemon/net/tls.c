/*
 * tls.c - the TLS 1.3 listener that remote hosts' PAM modules talk to.
 *
 * One thread runs an epoll loop over nonblocking sockets and SSL objects:
 * the listening socket, every connection, an eventfd that worker and writer
 * threads use to hand replies back, and the stop eventfd.  Only this thread
 * ever touches a connection; other threads only queue replies.  A
 * connection closed while a batch of events is handled is unlinked at once
 * but freed after the batch (or, with a call in flight, when its reply
 * comes back), so no event and no reply ever points at freed memory.
 *
 * Unauthenticated peers cannot starve hosts:
 *  - a handshake must finish within handshake_timeout_ms of the accept;
 *  - each source (IPv4 address, IPv6 /64) may hold only
 *    max_unauthenticated_per_source handshakes; more are closed at accept;
 *  - at most max_unauthenticated handshakes in all: when full, the oldest
 *    is dropped for the newcomer (a stalled peer is older than a live one);
 *  - authenticated connections have their own cap (max_connections) and
 *    are never dropped for a handshake;
 *  - in every batch of events, authenticated connections and replies are
 *    served first, then at most TLS_HS_PER_BATCH handshake steps and
 *    TLS_ACCEPT_PER_BATCH accepts (level-triggered epoll brings the rest
 *    back on the next turn).
 * Connections in each state sit in a list ordered by deadline (handshakes
 * by accept time, open connections by last activity), so the timers cost
 * one look at each list's head.
 *
 * A host's identity is its certificate, never its words: the host name H
 * is the subject CN (or the single DNS SAN of a certificate without CN),
 * and the only questions allowed are op "check" about resource "host:H",
 * op "snapshot" for host H, "host.sync", "krl" and "ca.show".  Every peer
 * is classified by its certificate once (enum peer_kind): the CA that
 * signed it decides between a host (client_ca, or the host CA that signs
 * enrolled hosts) and a person (the user CA).  An enrolled host's
 * certificate is checked against the store on every call, resumed
 * sessions included, so a removed host is refused at once; a person's calls
 * are resolved on the worker pool like a local caller's (identity/) and
 * run with the full op set; a peer without a certificate may only log in
 * (login.c).
 */
#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "deadline.h"
#include "daemon.h"
#include "hosts.h"
#include "log.h"
#include "login.h"
#include "names.h"
#include "timefmt.h"
#include "userca.h"
#include "workpool.h"
#include "writer.h"

#define TLS_MAX_CONNS_LIMIT 10000
#define TLS_MAX_UNAUTH_LIMIT 100000
#define TLS_IN_CAP (PROTO_MAX_LINE + 1 + 16384)
#define TLS_IN_FIRST 4096 /* the input buffer grows to TLS_IN_CAP */
#define TLS_OUT_MAX (32 * 1024 * 1024)
#define TLS_CALLER "tls-host"
#define TLS_SID_CTX "brokerd-tls-v1"
#define TLS_EVENTS 256	    /* epoll events per batch */
#define TLS_HS_PER_BATCH 64 /* handshake steps per batch */
#define TLS_ACCEPT_PER_BATCH 64
#define TLS_SRC_BUCKETS 1024
#define TLS_LOG_PER_SEC 20 /* per-peer log lines, then a count */
#define TLS_EMFILE_PAUSE_MS 100
#define TLS_SESSION_CACHE 4096 /* resumable sessions kept (memory) */
/* TLS 1.3 suites, in our order of preference (make_ctx) */
#define TLS_SUITES                                       \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
	"TLS_CHACHA20_POLY1305_SHA256"

/* What a verified client certificate makes its peer. */
enum peer_kind {
	PEER_HOST,  /* a host's PAM module: check and snapshot */
	PEER_USER,  /* a person's login certificate: every op,
				 * authorised as for a local caller */
	PEER_ANON,  /* no certificate: op "login" only */
	PEER_STALE, /* a login certificate of ours that no longer
				 * verifies (expired): told to log in again,
				 * nothing else */
};

/* Handshakes from one source (IPv4 address or IPv6 /64). */
struct src {
	unsigned char key[8];
	size_t keylen;
	int count;
	struct src *next;
};

struct tconn;

/* A list of connections in deadline order. */
struct tlist {
	struct tconn *head, *tail;
	int n;
};

/* A reply handed back by another thread (or by ops_dispatch itself). */
struct tdone {
	struct tconn *tc;
	struct call *call;
	char *line; /* NULL: out of memory, no reply */
	size_t len;
	struct tdone *next;
};

struct tls_server {
	struct brokerd *d;
	const struct tls_config *cfg;
	SSL_CTX *ctx;
	struct login_ctx *login; /* borrowed: the user CA and "broker login" */
	int lfd, stopfd, evfd, epfd;
	pthread_t loop;
	bool started;
	/* the loop thread's alone */
	struct tlist hs, open; /* handshaking; authenticated */
	struct tconn *reap;    /* closed in this batch, freed after it */
	struct src *srcs[TLS_SRC_BUCKETS];
	struct store_txn *rtxn;
	int inflight; /* calls dispatched, reply not yet back */
	int nunauth;  /* open, without a good certificate */
	bool stopping, accepting;
	long long accept_resume_ms; /* out of descriptors: pause */
	long long log_sec;
	long long drops_logged_ms;
	int log_n;
	unsigned long dropped_timeout, dropped_full, refused_source;
	/* hosts refused by enrolled_ok(): audited at most once a second each,
	 * so a removed host resuming sessions in a loop cannot flood the
	 * trail (a few slots, the oldest reused) */
	struct {
		char host[64];
		long long at_ms;
	} refused[16];
	/* shared with the threads that deliver replies */
	pthread_mutex_t lock;
	struct tdone *done_head, *done_tail;
};

enum tstate {
	TC_HANDSHAKE,
	TC_OPEN,
	TC_CLOSED
};

struct tconn {
	struct tls_server *srv;
	int fd;
	SSL *ssl;
	enum tstate st;
	enum peer_kind kind;
	struct tconn *prev, *next; /* in srv->hs or srv->open */
	struct tconn *reap_next;
	struct src *src; /* while handshaking */
	char addr[64];	 /* the peer's address, for logs */
	long long deadline;
	uint32_t events;		/* the epoll interest set now */
	char host[256];			/* H, from the certificate */
	char user[65];			/* PEER_USER: the certificate's CN */
	char serial[USERCA_SERIAL_LEN]; /* its serial (hex): a person's
					 * or an enrolled host's, checked
					 * against the store each call */
	struct login_session *login;	/* PEER_ANON: a login under way */
	char *in;
	size_t inlen, incap;
	char *out;
	size_t outlen, outoff;
	bool busy;	   /* a call is in flight */
	bool close_after;  /* close once out is written */
	bool reaped;	   /* closed, past reap(), call in flight */
	bool enroll_tried; /* PEER_ANON: its one host.enroll */
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
	c->listen_port = NULL; /* not freed twice if strndup() fails */
	if (!(hend - h == 1 && *h == '*') &&
	    (c->listen_host = strndup(h, (size_t)(hend - h))) == NULL)
		return BRK_ERR_NOMEM;
	if ((c->listen_port = strdup(port)) == NULL)
		return BRK_ERR_NOMEM;
	return 0;
bad:
	return brk_error_set(err, BRK_ERR_INVALID,
	    "config: tls.listen must be "
	    "\"HOST:PORT\" (HOST a name, an address, [v6] or *)");
}

int
tls_config_parse(
    json_t *section, struct tls_config **out, struct brk_error *err)
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
	c->max_connections = 256;
	c->timeout = 10;
	c->handshake_timeout_ms = 2000;
	c->max_unauthenticated = 512;
	c->max_unauthenticated_per_source = 16;
	c->ticket_lifetime = 300;
	json_object_foreach (section, key, v) {
		if (strcmp(key, "listen") == 0)
			r = parse_listen(v, c, err);
		else if (strcmp(key, "cert") == 0)
			r = config_get_str("tls", v, key, &c->cert, err);
		else if (strcmp(key, "key") == 0)
			r = config_get_str("tls", v, key, &c->key, err);
		else if (strcmp(key, "client_ca") == 0)
			r = config_get_str("tls", v, key, &c->client_ca, err);
		else if (strcmp(key, "max_connections") == 0)
			r = config_get_int("tls", v, key, 1,
			    TLS_MAX_CONNS_LIMIT, &c->max_connections, err);
		else if (strcmp(key, "timeout") == 0)
			r = config_get_int(
			    "tls", v, key, 1, 300, &c->timeout, err);
		else if (strcmp(key, "handshake_timeout_ms") == 0)
			r = config_get_int("tls", v, key, 100, 60000,
			    &c->handshake_timeout_ms, err);
		else if (strcmp(key, "max_unauthenticated") == 0)
			r = config_get_int("tls", v, key, 1,
			    TLS_MAX_UNAUTH_LIMIT, &c->max_unauthenticated, err);
		else if (strcmp(key, "max_unauthenticated_per_source") == 0)
			r = config_get_int("tls", v, key, 1,
			    TLS_MAX_UNAUTH_LIMIT,
			    &c->max_unauthenticated_per_source, err);
		else if (strcmp(key, "ticket_lifetime") == 0)
			r = config_get_int(
			    "tls", v, key, 0, 86400, &c->ticket_lifetime, err);
		else
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "config: tls: unknown key \"%.64s\"", key);
		if (r != 0)
			goto out;
	}
	r = BRK_ERR_INVALID;
	if (c->listen_port == NULL || c->cert == NULL || c->key == NULL ||
	    c->client_ca == NULL) {
		brk_error_set(err, r,
		    "config: tls needs \"listen\", \"cert\", "
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
		return brk_error_set(
		    err, BRK_ERR_IO, "tls key %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0)
		return brk_error_set(err, BRK_ERR_PERM,
		    "tls key %s must be a "
		    "regular file with mode 0600 or stricter (it is %04o)",
		    path, (unsigned)(st.st_mode & 07777));
	return 0;
}

/*
 * Finish the handshake whatever the chain's verdict, which OpenSSL keeps
 * (SSL_get_verify_result): hs_done() refuses every peer whose verdict is
 * not X509_V_OK, after recording it, and tells a person whose login
 * certificate expired to log in again instead of cutting the line.
 */
static int
verify_note(int ok, X509_STORE_CTX *x)
{
	return 1;
}

static int
make_ctx(const struct tls_config *cfg, struct userca *uca, struct userca *hca,
    SSL_CTX **out, struct brk_error *err)
{
	STACK_OF(X509_NAME) *names = NULL;
	STACK_OF(X509) *chain = NULL;
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
		brk_error_set(
		    err, r, "tls: cannot load certificate %s", cfg->cert);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		brk_error_set(err, r,
		    "tls: %s is not an unencrypted key "
		    "matching %s",
		    cfg->key, cfg->cert);
		goto out;
	}
	if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(cfg->client_ca)) == NULL) {
		brk_error_set(
		    err, r, "tls: cannot load client_ca %s", cfg->client_ca);
		goto out;
	}
	SSL_CTX_set_client_CA_list(ctx, names); /* takes names */
	/*
	 * People's login certificates chain to the user CA, hosts' to
	 * client_ca; which one signed a peer decides its kind (hs_done).  A
	 * peer without a certificate is let in to run "login" alone, under
	 * the caps of unauthenticated peers.
	 */
	if (X509_STORE_add_cert(
		SSL_CTX_get_cert_store(ctx), userca_cert(uca)) != 1 ||
	    SSL_CTX_add_client_CA(ctx, userca_cert(uca)) != 1)
		goto out;
	/* enrolled hosts' certificates chain to the host CA */
	if (hca != NULL &&
	    (X509_STORE_add_cert(
		 SSL_CTX_get_cert_store(ctx), userca_cert(hca)) != 1 ||
		SSL_CTX_add_client_CA(ctx, userca_cert(hca)) != 1))
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_note);
	SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	/*
	 * Our certificate's chain, built once: a certificate file without
	 * its chain made OpenSSL build it from the verify store on every
	 * handshake (a chain verification, some 150 us each).  The same
	 * certificates go out as before: those of the file, else what the
	 * store completes (partial if it cannot, as before).
	 */
	if (SSL_CTX_get0_chain_certs(ctx, &chain) != 1)
		goto out;
	if (sk_X509_num(chain) <= 0)
		(void)SSL_CTX_build_cert_chain(
		    ctx, SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR);
	ERR_clear_error();
	/* partial writes: a reply leaves as the socket takes it; released
	 * buffers: an idle or handshaking peer costs no 16k record buffers */
	SSL_CTX_set_mode(ctx,
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
		SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS |
		SSL_MODE_NO_AUTO_CHAIN);
	/*
	 * Read ahead: one read() takes what the socket holds (a client's
	 * Finished and its request come together) instead of two per record
	 * (header, then body): about half the reads of a connection.  Safe
	 * with this loop: open_pump() calls SSL_read() until it wants more
	 * from the socket, so nothing buffered waits for an epoll event that
	 * never comes; while a call is in flight, what is buffered is at most
	 * OpenSSL's one read buffer.
	 */
	SSL_CTX_set_read_ahead(ctx, 1);
	/*
	 * AES-128-GCM with SHA-256 first, and our order over the client's
	 * (OpenSSL's clients put AES-256 with SHA-384 first).  A resumed
	 * handshake's key schedule is some 60 HMACs: with SHA-384 they ran
	 * SHA-512 blocks in software, a seventh of the daemon's
	 * instructions per resumed check, where SHA-256 runs on the CPU's
	 * SHA instructions: about 30 us of CPU less per handshake on each
	 * side (tests/bench/README.md).  Nothing weaker than what the
	 * connection already rests on: X25519 and P-256 give 128-bit
	 * security, as AES-128 does; the other suites stay for clients that
	 * want them.
	 */
	if (SSL_CTX_set_ciphersuites(ctx, TLS_SUITES) != 1)
		goto out;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* 0-RTT data could be replayed; a check must be asked afresh */
	SSL_CTX_set_max_early_data(ctx, 0);
	if (cfg->ticket_lifetime > 0) {
		/*
		 * Stateful TLS 1.3 tickets: the session, with the verified
		 * client certificate, stays in this process's memory and the
		 * ticket is only its random 32-byte id (so a restart ends
		 * every session, and nothing the client holds can be
		 * decrypted or forged).  A resumed session is the same peer
		 * without a new signature.  Stateless tickets cost more than
		 * the rest of a resumed call: OpenSSL 3.0 decodes the
		 * certificate out of the ticket (its decoder framework, some
		 * 400 us) and encodes it into the next one.  Each id resumes
		 * once and is replaced by a new ticket; at most
		 * TLS_SESSION_CACHE sessions are kept, the oldest dropped
		 * first (a dropped peer does a full handshake).  The lifetime
		 * bounds how long a peer goes without showing its
		 * certificate again.  Tickets are sent by hs_done(), to
		 * authenticated peers only, after the handshake (num_tickets
		 * 0 here).  The session id context must be set for
		 * resumption with client certificates.
		 */
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_timeout(ctx, (long)cfg->ticket_lifetime);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_sess_set_cache_size(ctx, TLS_SESSION_CACHE);
		if (SSL_CTX_set_session_id_context(ctx,
			(const unsigned char *)TLS_SID_CTX,
			sizeof(TLS_SID_CTX) - 1) != 1)
			goto out;
	} else {
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	}
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
	if ((g = getaddrinfo(
		 cfg->listen_host, cfg->listen_port, &hints, &res)) != 0) {
		brk_error_set(err, r, "tls: cannot resolve %s: %s",
		    cfg->listen_host ? cfg->listen_host : "*", gai_strerror(g));
		goto out;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
		if (fd >= 0 &&
		    setsockopt(
			fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1024) == 0)
			break;
		e = errno;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (fd < 0) {
		brk_error_set(err, r, "tls: cannot listen on %s:%s: %s",
		    cfg->listen_host ? cfg->listen_host : "*", cfg->listen_port,
		    strerror(e));
		goto out;
	}
	*out = fd;
	r = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	return r;
}

/* ---- bookkeeping ------------------------------------------------------- */

static void
list_add(struct tlist *l, struct tconn *tc)
{
	tc->next = NULL;
	tc->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = tc;
	else
		l->head = tc;
	l->tail = tc;
	l->n++;
}

static void
list_del(struct tlist *l, struct tconn *tc)
{
	if (tc->prev != NULL)
		tc->prev->next = tc->next;
	else
		l->head = tc->next;
	if (tc->next != NULL)
		tc->next->prev = tc->prev;
	else
		l->tail = tc->prev;
	tc->prev = tc->next = NULL;
	l->n--;
}

/* An open connection showed life: its idle deadline starts again. */
static void
touch(struct tconn *tc)
{
	struct tls_server *t = tc->srv;

	tc->deadline = deadline_now_ms() + t->cfg->timeout * 1000LL;
	if (t->open.tail != tc) {
		list_del(&t->open, tc);
		list_add(&t->open, tc);
	}
}

/*
 * Lines about unauthenticated peers are rate-limited: a flood must not
 * become a flood of log lines.  Returns whether one more may be logged.
 */
static bool
log_ok(struct tls_server *t)
{
	long long sec = deadline_now_ms() / 1000;

	if (sec != t->log_sec) {
		if (t->log_n > TLS_LOG_PER_SEC)
			log_warn("event=tls_log_suppressed count=%d",
			    t->log_n - TLS_LOG_PER_SEC);
		t->log_sec = sec;
		t->log_n = 0;
	}
	return ++t->log_n <= TLS_LOG_PER_SEC;
}

/* Once a second at most: what the caps dropped, as counts. */
static void
log_drops(struct tls_server *t)
{
	long long now = deadline_now_ms();

	if ((t->dropped_timeout == 0 && t->dropped_full == 0 &&
		t->refused_source == 0) ||
	    now - t->drops_logged_ms < 1000)
		return;
	t->drops_logged_ms = now;
	log_warn("event=tls_dropped handshake_timeout=%lu "
		 "max_unauthenticated=%lu max_unauthenticated_per_source=%lu",
	    t->dropped_timeout, t->dropped_full, t->refused_source);
	t->dropped_timeout = t->dropped_full = t->refused_source = 0;
}

/* The source a peer is counted under: its IPv4 address (also when mapped
 * into IPv6) or its IPv6 /64, which one party usually holds whole. */
static void
src_of(const struct sockaddr_storage *ss, unsigned char key[8], size_t *keylen,
    char *addr, size_t addrlen)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	*keylen = 0;
	snprintf(addr, addrlen, "?");
	if (ss->ss_family == AF_INET) {
		memcpy(key, &s4->sin_addr, 4);
		*keylen = 4;
		inet_ntop(AF_INET, &s4->sin_addr, addr, (socklen_t)addrlen);
	} else if (ss->ss_family == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(key, s6->sin6_addr.s6_addr + 12, 4);
			*keylen = 4;
		} else {
			memcpy(key, s6->sin6_addr.s6_addr, 8);
			*keylen = 8;
		}
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, (socklen_t)addrlen);
	}
}

static size_t
src_bucket(const unsigned char *key, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % TLS_SRC_BUCKETS;
}

/* The entry for key, made (with count 0) when missing; NULL: no memory. */
static struct src *
src_get(struct tls_server *t, const unsigned char *key, size_t len)
{
	size_t b = src_bucket(key, len);
	struct src *s;

	for (s = t->srcs[b]; s != NULL; s = s->next)
		if (s->keylen == len && memcmp(s->key, key, len) == 0)
			return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	memcpy(s->key, key, len);
	s->keylen = len;
	s->next = t->srcs[b];
	t->srcs[b] = s;
	return s;
}

/* Drop one handshake from s; the entry goes with its last one. */
static void
src_put(struct tls_server *t, struct src *s)
{
	struct src **pp;

	if (s == NULL || --s->count > 0)
		return;
	for (pp = &t->srcs[src_bucket(s->key, s->keylen)]; *pp != NULL;
	     pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s);
}

/* Whether tc is open without a good certificate (login only). */
static bool
unauth(const struct tconn *tc)
{
	return tc->kind == PEER_ANON || tc->kind == PEER_STALE;
}

static void
set_interest(struct tconn *tc, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = tc };

	if (tc->events == events)
		return;
	if (epoll_ctl(tc->srv->epfd, EPOLL_CTL_MOD, tc->fd, &ev) != 0)
		log_error("event=tls_epoll error=\"%s\"", strerror(errno));
	tc->events = events;
}

/*
 * Close a connection now: out of the lists and the epoll set, its SSL and
 * socket released.  The struct itself is freed by reap() after the batch of
 * events (one of which may still name it), or, when a call is in flight,
 * once its reply comes back.
 */
static void
conn_close(struct tconn *tc)
{
	struct tls_server *t = tc->srv;

	if (tc->st == TC_CLOSED)
		return;
	if (tc->st == TC_HANDSHAKE) {
		list_del(&t->hs, tc);
		src_put(t, tc->src);
		tc->src = NULL;
	} else {
		list_del(&t->open, tc);
		if (unauth(tc))
			t->nunauth--;
		src_put(t, tc->src); /* a PEER_ANON still counts */
		tc->src = NULL;
	}
	login_drop(tc->login);
	tc->login = NULL;
	tc->st = TC_CLOSED;
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, tc->fd, NULL);
	if (tc->ssl != NULL) {
		if (SSL_is_init_finished(tc->ssl))
			SSL_shutdown(tc->ssl); /* one try, never a wait */
		SSL_free(tc->ssl);
		tc->ssl = NULL;
	}
	close(tc->fd);
	tc->fd = -1;
	free(tc->in);
	free(tc->out);
	tc->in = tc->out = NULL;
	tc->inlen = tc->incap = tc->outlen = tc->outoff = 0;
	tc->reap_next = t->reap;
	t->reap = tc;
	ERR_clear_error();
}

/* After a batch: free what was closed in it, unless a call still owns it. */
static void
reap(struct tls_server *t)
{
	struct tconn *tc;

	while ((tc = t->reap) != NULL) {
		t->reap = tc->reap_next;
		tc->reap_next = NULL;
		if (tc->busy)
			tc->reaped = true; /* drain_done() frees it */
		else
			free(tc);
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
			goto out; /* two CNs: ambiguous */
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
			r = BRK_ERR_INVALID; /* several: ambiguous */
			goto out;
		}
		r = take_name(ASN1_STRING_get0_data(gn->d.dNSName),
		    ASN1_STRING_length(gn->d.dNSName), out, outlen);
	}
out:
	GENERAL_NAMES_free(sans);
	return r;
}

/* A login certificate's user: its one CN, a valid user name. */
static int
cert_user(X509 *x, char *out, size_t outlen)
{
	X509_NAME *subj = X509_get_subject_name(x);
	ASN1_STRING *d;
	int idx, len;

	if ((idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1)) < 0 ||
	    X509_NAME_get_index_by_NID(subj, NID_commonName, idx) >= 0)
		return BRK_ERR_INVALID;
	d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
	len = ASN1_STRING_length(d);
	if (len <= 0 || (size_t)len >= outlen ||
	    memchr(ASN1_STRING_get0_data(d), '\0', (size_t)len) != NULL)
		return BRK_ERR_INVALID;
	memcpy(out, ASN1_STRING_get0_data(d), (size_t)len);
	out[len] = '\0';
	return name_user_valid(out) ? 0 : BRK_ERR_INVALID;
}

/* The one rule of this transport: a host asks only about itself. */
static int
host_may(
    const struct tconn *tc, const struct proto_req *req, struct brk_error *err)
{
	const char *res = NULL, *host = NULL;
	char want[300];

	snprintf(want, sizeof(want), "host:%s", tc->host);
	if (req->as != NULL)
		return brk_error_set(err, BRK_ERR_DENIED,
		    "a host may not act "
		    "as a user (\"as\")");
	if (strcmp(req->op, "check") == 0) {
		if (proto_arg_str(
			req->args, "resource", true, 300, &res, NULL) != 0 ||
		    strcmp(res, want) != 0)
			return brk_error_set(err, BRK_ERR_DENIED,
			    "host %s may "
			    "only check resource %s",
			    tc->host, want);
		if (proto_arg_str(req->args, "user", true, 64, &res, NULL) != 0)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "a host's "
			    "check names the \"user\"");
		return 0;
	}
	if (strcmp(req->op, "snapshot") == 0) {
		if (proto_arg_str(req->args, "host", true, 300, &host, NULL) !=
			0 ||
		    strcmp(host, tc->host) != 0)
			return brk_error_set(err, BRK_ERR_DENIED,
			    "host %s may "
			    "only ask for its own snapshot",
			    tc->host);
		return 0;
	}
	/* what "broker host sync" fetches besides the snapshot: public
	 * keys and the revocation list; host.sync itself refuses a host
	 * that did not enroll */
	if (strcmp(req->op, "host.sync") == 0 || strcmp(req->op, "krl") == 0 ||
	    strcmp(req->op, "ca.show") == 0)
		return 0;
	/* its login sessions (pam_broker.so's session stack, the agent of
	 * "host sync --watch"): the ops take the host from the certificate
	 * (ops_session.c), whatever "host" the request names */
	if (strcmp(req->op, "session.open") == 0 ||
	    strcmp(req->op, "session.close") == 0 ||
	    strcmp(req->op, "session.terminated") == 0 ||
	    strcmp(req->op, "session.watch") == 0)
		return 0;
	return brk_error_set(err, BRK_ERR_DENIED,
	    "over TLS a host may only "
	    "use the ops check and snapshot (and, to sync, krl, ca.show and "
	    "host.sync; for its sessions, session.open, session.close, "
	    "session.terminated and session.watch), not \"%.64s\"",
	    req->op);
}

/* ---- one connection ---------------------------------------------------- */

/* Where an SSL call that returned n wants to go on: the epoll events to
 * wait for, or 0 when the connection is finished (closed, broken). */
static uint32_t
ssl_want(struct tconn *tc, int n)
{
	switch (SSL_get_error(tc->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		return EPOLLIN;
	case SSL_ERROR_WANT_WRITE:
		return EPOLLOUT;
	default:
		return 0;
	}
}

/* Queue a reply line (consumed) for writing. */
static void
queue_out(struct tconn *tc, char *line, size_t len)
{
	char *nb;

	if (line == NULL) {
		tc->close_after = true;
		return;
	}
	if (tc->outoff == tc->outlen) { /* the usual case: nothing queued */
		free(tc->out);
		tc->out = line;
		tc->outlen = len;
		tc->outoff = 0;
		return;
	}
	if (tc->outlen + len > TLS_OUT_MAX ||
	    (nb = realloc(tc->out, tc->outlen + len)) == NULL) {
		free(line);
		tc->close_after = true;
		return;
	}
	tc->out = nb;
	memcpy(tc->out + tc->outlen, line, len);
	tc->outlen += len;
	free(line);
}

static void
queue_error(struct tconn *tc, const char *id, int rc, const char *msg)
{
	size_t len = 0;
	char *line = proto_reply_error(id, rc, msg, &len);

	queue_out(tc, line, len);
}

static void open_pump(struct tconn *tc);

/* call->deliver, from any thread: queue the reply for the loop.  Reads
 * only tc->srv, which never changes; the loop alone touches the rest. */
static void
deliver_tls(struct call *c, char *line, size_t len)
{
	struct tconn *tc = c->conn;
	struct tls_server *t = tc->srv;
	struct tdone *dn;
	uint64_t one = 1;
	bool wake;

	if ((dn = calloc(1, sizeof(*dn))) == NULL) {
		/* a reply we cannot queue would leave a call in flight
		 * forever, and stopping would wait on it */
		log_error("event=tls_reply_dropped error=nomem");
		abort();
	}
	dn->tc = tc;
	dn->call = c;
	dn->line = line;
	dn->len = len;
	pthread_mutex_lock(&t->lock);
	wake = t->done_head == NULL; /* the loop drains all at once */
	if (t->done_tail != NULL)
		t->done_tail->next = dn;
	else
		t->done_head = dn;
	t->done_tail = dn;
	pthread_mutex_unlock(&t->lock);
	if (wake && write(t->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error("event=tls_eventfd error=\"%s\"", strerror(errno));
}

/* Replies handed back: write them, and go on with each connection. */
static void
drain_done(struct tls_server *t)
{
	struct tdone *dn, *next;
	struct tconn *tc;
	uint64_t v;

	if (read(t->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_error("event=tls_eventfd error=\"%s\"", strerror(errno));
	pthread_mutex_lock(&t->lock);
	dn = t->done_head;
	t->done_head = t->done_tail = NULL;
	pthread_mutex_unlock(&t->lock);
	for (; dn != NULL; dn = next) {
		next = dn->next;
		tc = dn->tc;
		call_free(dn->call);
		t->inflight--;
		tc->busy = false;
		if (tc->st == TC_CLOSED) {
			free(dn->line);
			if (tc->reaped) /* else reap() frees it */
				free(tc);
		} else {
			queue_out(tc, dn->line, dn->len);
			if (t->stopping)
				tc->close_after = true;
			open_pump(tc);
		}
		free(dn);
	}
}

/* A call from tc for req (consumed), counted in flight; NULL when out of
 * memory (answered, req freed). */
static struct call *
new_call(struct tconn *tc, struct proto_req *req)
{
	struct tls_server *t = tc->srv;
	struct call *call;

	if ((call = calloc(1, sizeof(*call))) == NULL) {
		queue_error(tc, req->id, BRK_ERR_NOMEM, NULL);
		proto_req_free(req);
		return NULL;
	}
	call->d = t->d;
	call->req = req;
	call->conn = tc;
	call->deliver = deliver_tls;
	call->rtxn = &t->rtxn;
	call->caller.uid = (uid_t)-1;
	snprintf(call->addr, sizeof(call->addr), "%s", tc->addr);
	tc->busy = true;
	t->inflight++;
	touch(tc);
	return call;
}

/*
 * On the worker pool: who a person is, resolved as for a local caller
 * (names and groups from NSS, local_groups and the directory), and "as"
 * for delegates only; then the op, with a read transaction of this
 * thread's own (the loop's belongs to the loop).
 */
static void
user_job(void *arg)
{
	struct brk_error err = { { 0 } };
	struct call *call = arg;
	struct tconn *tc = call->conn; /* tc->user is fixed while busy */
	struct store_txn *rtxn = NULL;
	const char *as = call->req->as;
	size_t i;
	bool may;
	int r;

	/* revoked, or not in the register: refused on every call, so a
	 * revocation holds from the next call of a connection already open
	 * and of a resumed session alike */
	if ((r = store_read_begin(call->d->store, &rtxn)) != 0 ||
	    (r = userca_login_check(rtxn, tc->serial, tc->user, time_now(),
		 err.msg, sizeof(err.msg))) != 0) {
		store_read_free(rtxn);
		if (r !=
		    BRK_ERR_DENIED) { /* refused too, but not their fault */
			call_fail(call, r,
			    "the broker cannot check login certificates now: "
			    "%s",
			    err.msg[0] ? err.msg : brk_strerror(r));
			return;
		}
		login_refused(tc->srv->login, tc->addr, tc->user, err.msg);
		call_fail(call, r, "%s: log in again (broker login)", err.msg);
		return;
	}
	store_read_end(rtxn);
	if ((r = ident_from_name(
		 call->d->ident, tc->user, &call->caller, &err)) != 0) {
		call_fail(call, r == BRK_ERR_NOTFOUND ? BRK_ERR_DENIED : r,
		    "%s", err.msg[0] ? err.msg : "unknown user");
		goto out;
	}
	if (as == NULL || strcmp(as, call->caller.name) == 0)
		r = ident_copy(&call->who, &call->caller);
	else {
		may = call->caller.in_nss && call->caller.uid == 0;
		for (i = 0; call->caller.in_nss && i < call->d->cfg->ndelegates;
		     i++)
			may = may ||
			    call->d->cfg->delegates[i] == call->caller.uid;
		if (!may) {
			call_fail(call, BRK_ERR_DENIED,
			    "%s may not act as "
			    "another user (not a delegate)",
			    call->caller.name);
			goto out;
		}
		r = ident_from_name(call->d->ident, as, &call->who, &err);
		if (r == BRK_ERR_NOTFOUND)
			r = BRK_ERR_DENIED;
		call->delegated = true;
	}
	if (r != 0) {
		call_fail(
		    call, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
		goto out;
	}
	call->rtxn = &rtxn;
	ops_dispatch(call);
out:
	store_read_free(rtxn);
}

/* A person's call: resolved and run on the pool. */
static void
start_user_call(struct tconn *tc, struct proto_req *req)
{
	struct call *call;

	if (strcmp(req->op, "login") == 0 ||
	    strcmp(req->op, "login.answer") == 0) {
		queue_error(tc, req->id, BRK_ERR_STATE,
		    "already logged in "
		    "(this connection has a login certificate)");
		proto_req_free(req);
		return;
	}
	if ((call = new_call(tc, req)) == NULL)
		return;
	workpool_submit(tc->srv->d->pool, user_job, call);
}

/* A peer without a certificate: "login", then its answers, and nothing
 * else. */
static void
start_login_call(struct tconn *tc, struct proto_req *req)
{
	struct tls_server *t = tc->srv;
	struct call *call;
	bool first = strcmp(req->op, "login") == 0;

	/* a host trading its join token for a certificate (the host comes
	 * back with it on a new connection); the token is the credential, so
	 * this stays under the caps of unauthenticated peers */
	if (strcmp(req->op, "host.enroll") == 0 && req->as == NULL &&
	    tc->login == NULL) {
		if (tc->enroll_tried) {
			/* one try per handshake: a flood of tries costs the
			 * sender a handshake each */
			queue_error(tc, req->id, BRK_ERR_DENIED,
			    "one host enroll per connection");
			tc->close_after = true;
			proto_req_free(req);
			return;
		}
		tc->enroll_tried = true;
		if ((call = new_call(tc, req)) == NULL)
			return;
		snprintf(call->caller.name, sizeof(call->caller.name), "-");
		call->who = call->caller;
		ops_dispatch(call);
		store_read_end(t->rtxn);
		return;
	}
	if (req->as != NULL ||
	    !(first ? tc->login == NULL :
		      strcmp(req->op, "login.answer") == 0 &&
			tc->login != NULL)) {
		if (log_ok(t))
			log_warn("event=tls_refused addr=%s op=%.64s why=\"no "
				 "client certificate\"",
			    tc->addr, req->op);
		queue_error(tc, req->id, BRK_ERR_DENIED,
		    first ?
			"one login per connection" :
			"not logged in: run "
			"broker login (a connection without a login certificate "
			"may only log in)");
		tc->close_after = true;
		proto_req_free(req);
		return;
	}
	if ((call = new_call(tc, req)) == NULL)
		return;
	snprintf(call->caller.name, sizeof(call->caller.name), "-");
	call->who = call->caller;
	if (first)
		login_begin(t->login, call, tc->addr, &tc->login);
	else
		login_answer(tc->login, call);
}

struct host_refusal {
	char subject[256], addr[64], op[65], why[REQ_MSG_LEN];
	int64_t now;
};

static int
apply_refusal(struct store_txn *txn, void *arg)
{
	struct host_refusal *h = arg;

	return hosts_audit_refused(
	    txn, h->subject, h->addr, h->op, h->why, h->now);
}

static void
done_refusal(void *arg, int rc)
{
	struct host_refusal *h = arg;

	log_warn("event=host_refused host=%s addr=%s op=%s why=\"%s\" "
		 "audit=%s",
	    h->subject, h->addr, h->op, h->why,
	    rc == 0 ? "ok" : brk_strerror(rc));
	free(h);
}

/* Whether a refusal of host h is to be audited now (loop thread only). */
static bool
refusal_due(struct tls_server *t, const char *h)
{
	long long now = deadline_now_ms();
	size_t i, old = 0;

	for (i = 0; i < sizeof(t->refused) / sizeof(t->refused[0]); i++) {
		if (t->refused[i].at_ms != 0 &&
		    strncmp(t->refused[i].host, h,
			sizeof(t->refused[i].host) - 1) == 0) {
			if (now - t->refused[i].at_ms < 1000)
				return false;
			t->refused[i].at_ms = now;
			return true;
		}
		if (t->refused[i].at_ms < t->refused[old].at_ms)
			old = i;
	}
	snprintf(
	    t->refused[old].host, sizeof(t->refused[old].host), "%.63s", h);
	t->refused[old].at_ms = now;
	return true;
}

/*
 * An enrolled host's certificate against the store, on every call: the
 * host must still be enrolled and this must be its certificate in force
 * (hosts_cert_ok).  A refusal is audited (host.refused) and said in err.
 */
static int
enrolled_ok(
    struct tconn *tc, const struct proto_req *req, struct brk_error *err)
{
	struct tls_server *t = tc->srv;
	struct host_refusal *h;
	char why[REQ_MSG_LEN] = "";
	int r;

	if ((r = store_read_begin(t->d->store, &t->rtxn)) == 0)
		r = hosts_cert_ok(
		    t->rtxn, tc->host, tc->serial, why, sizeof(why));
	store_read_end(t->rtxn);
	if (r == 0)
		return 0;
	/* a record that cannot be read refuses too (fail closed) */
	r = brk_error_set(err, BRK_ERR_DENIED, "%s",
	    why[0] != '\0' ? why : "the host's record cannot be read");
	if (!refusal_due(t, tc->host))
		return r;
	if ((h = calloc(1, sizeof(*h))) != NULL) {
		snprintf(h->subject, sizeof(h->subject), "%s", tc->host);
		snprintf(h->addr, sizeof(h->addr), "%s", tc->addr);
		snprintf(h->op, sizeof(h->op), "%.64s", req->op);
		snprintf(h->why, sizeof(h->why), "%s", why);
		h->now = time_now();
		if (writer_submit(
			t->d->writer, apply_refusal, done_refusal, h) != 0)
			free(h);
	}
	return r;
}

/* Run the request line in tc->in[0..len). */
static void
run_line(struct tconn *tc, size_t len)
{
	struct tls_server *t = tc->srv;
	struct brk_error err = { { 0 } };
	struct proto_req *req = NULL;
	char id[PROTO_MAX_ID + 1] = "";
	struct call *call = NULL;
	int r;

	if ((r = proto_parse_request(tc->in, len, &req, id, &err)) != 0) {
		queue_error(tc, id, r, err.msg);
		return;
	}
	switch (tc->kind) {
	case PEER_HOST:
		if ((r = host_may(tc, req, &err)) == 0 &&
		    tc->serial[0] != '\0' &&
		    (r = enrolled_ok(tc, req, &err)) != 0) {
			/* removed or replaced: every call refused, and the
			 * connection closed (a resumed one too) */
			queue_error(tc, req->id, r, err.msg);
			tc->close_after = true;
			proto_req_free(req);
			return;
		}
		break;
	case PEER_USER:
		start_user_call(tc, req);
		return;
	case PEER_ANON:
		start_login_call(tc, req);
		return;
	case PEER_STALE:
		queue_error(tc, req->id, BRK_ERR_DENIED,
		    tc->host[0] != '\0' && strstr(tc->host, "expired") != NULL ?
			"your login "
			"certificate has expired: log in again (broker login)" :
			"your login certificate is no longer accepted: log in "
			"again (broker login)");
		tc->close_after = true;
		proto_req_free(req);
		return;
	default:
		r = brk_error_set(&err, BRK_ERR_DENIED, "unknown peer");
		break;
	}
	if (r != 0) {
		log_warn("event=tls_refused host=%s op=%.64s why=\"%s\"",
		    tc->host, req->op, err.msg);
		/* a host's certificate used for what only people may do */
		if (strcmp(req->op, "check") != 0 &&
		    strcmp(req->op, "snapshot") != 0)
			login_refused(t->login, tc->addr, tc->host, err.msg);
		queue_error(tc, req->id, r, err.msg);
		proto_req_free(req);
		return;
	}
	if ((call = calloc(1, sizeof(*call))) == NULL) {
		queue_error(tc, req->id, BRK_ERR_NOMEM, NULL);
		proto_req_free(req);
		return;
	}
	call->d = t->d;
	call->req = req;
	call->conn = tc;
	call->deliver = deliver_tls;
	call->rtxn = &t->rtxn;
	snprintf(call->host, sizeof(call->host), "%s", tc->host);
	/* the host CA's serials are 32 hex digits (cred/userca.c) */
	snprintf(
	    call->host_serial, sizeof(call->host_serial), "%.47s", tc->serial);
	snprintf(call->addr, sizeof(call->addr), "%s", tc->addr);
	/* not a user: a fixed name that is never in a policy role, no uid,
	 * no groups; op_check lets host callers ask about any user */
	snprintf(call->caller.name, sizeof(call->caller.name), TLS_CALLER);
	call->caller.uid = (uid_t)-1;
	snprintf(call->caller.sources, sizeof(call->caller.sources), "tls");
	call->who = call->caller;
	tc->busy = true;
	t->inflight++;
	touch(tc);
	ops_dispatch(call);	 /* the reply comes back through drain_done() */
	store_read_end(t->rtxn); /* never pin a snapshot between calls */
}

/*
 * Move an authenticated connection on as far as it goes without waiting:
 * write what is queued, run the next buffered line, read more.  One call
 * at a time: while it is in flight nothing is read, so a host cannot queue
 * work (TCP holds the rest).
 */
static void
open_pump(struct tconn *tc)
{
	uint32_t want = 0;
	size_t len, ncap;
	char *nl, *nb;
	int n;

	while (tc->st == TC_OPEN) {
		if (tc->outoff < tc->outlen) {
			n = SSL_write(tc->ssl, tc->out + tc->outoff,
			    tc->outlen - tc->outoff > INT_MAX ?
				INT_MAX :
				(int)(tc->outlen - tc->outoff));
			if (n > 0) {
				tc->outoff += (size_t)n;
				touch(tc);
				continue;
			}
			if ((want = ssl_want(tc, n)) == 0)
				goto close;
			break;
		}
		tc->outoff = tc->outlen = 0;
		if (tc->close_after)
			goto close;
		if (tc->busy) {
			/* nothing is read while a call runs, but the socket
			 * stays watched for input: a peer that waits quietly
			 * costs no epoll_ctl() now and none after the reply,
			 * and one that sends more wakes the loop once
			 * (loop_main then stops watching it) */
			want = tc->events & EPOLLIN;
			break;
		}
		if ((nl = memchr(tc->in, '\n', tc->inlen)) != NULL) {
			len = (size_t)(nl - tc->in);
			if (len > 0)
				run_line(tc, len);
			memmove(tc->in, nl + 1, tc->inlen - len - 1);
			tc->inlen -= len + 1;
			continue;
		}
		if (tc->inlen >= TLS_IN_CAP) {
			queue_error(tc, "", BRK_ERR_TOOBIG,
			    "line longer than "
			    "65536 bytes");
			tc->close_after = true;
			continue;
		}
		if (tc->inlen == tc->incap) {
			ncap = tc->incap * 2 > TLS_IN_CAP ? TLS_IN_CAP :
							    tc->incap * 2;
			if ((nb = realloc(tc->in, ncap)) == NULL)
				goto close;
			tc->in = nb;
			tc->incap = ncap;
		}
		n = SSL_read(
		    tc->ssl, tc->in + tc->inlen, (int)(tc->incap - tc->inlen));
		if (n > 0) {
			tc->inlen += (size_t)n;
			touch(tc);
			continue;
		}
		if ((want = ssl_want(tc, n)) == 0)
			goto close; /* closed by the peer, or broken */
		break;
	}
	if (tc->st == TC_OPEN)
		set_interest(tc, want);
	ERR_clear_error();
	return;
close:
	conn_close(tc);
}

/* Which of our CAs signed a session's certificate (ex_data of the
 * session, in this process's memory only; set once by tls_start). */
enum {
	SIGNER_NONE,
	SIGNER_USERCA,
	SIGNER_HOSTCA
};
static int signer_idx = -1;
static pthread_once_t signer_once = PTHREAD_ONCE_INIT;

static void
signer_idx_init(void)
{
	signer_idx = SSL_SESSION_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/*
 * Whether ca (which, SIGNER_*) signed the peer's certificate, whose chain
 * verified.  After a full handshake the chain OpenSSL built says it
 * without a second signature check: the certificate and ca as its trust
 * anchor, nothing between (our CAs sign no CA); the answer is kept with
 * the session.  A resumed session has no chain: the answer kept is used,
 * and without one the signature is checked again.
 */
static bool
signed_by(struct tconn *tc, X509 *peer, const struct userca *ca, int which)
{
	STACK_OF(X509) *chain = SSL_get0_verified_chain(tc->ssl);
	SSL_SESSION *sess = SSL_get_session(tc->ssl);
	intptr_t kept;
	bool yes;

	if (SSL_session_reused(tc->ssl) || chain == NULL) {
		kept = sess != NULL && signer_idx >= 0 ?
		    (intptr_t)SSL_SESSION_get_ex_data(sess, signer_idx) :
		    SIGNER_NONE;
		return kept != SIGNER_NONE ? kept == which :
					     userca_issued(ca, peer) != 0;
	}
	yes = sk_X509_num(chain) == 2 &&
	    X509_cmp(sk_X509_value(chain, 0), peer) == 0 &&
	    X509_cmp(sk_X509_value(chain, 1), userca_cert(ca)) == 0;
	if (yes && sess != NULL && signer_idx >= 0)
		(void)SSL_SESSION_set_ex_data(
		    sess, signer_idx, (void *)(intptr_t)which);
	return yes;
}

/* The handshake finished: who is it, and is there room? */
static void
hs_done(struct tconn *tc)
{
	struct tls_server *t = tc->srv;
	char who[65], why[160];
	X509 *peer;
	long vr;

	peer = SSL_get0_peer_certificate(tc->ssl);
	if (peer == NULL)
		tc->kind = PEER_ANON;
	else if ((vr = SSL_get_verify_result(tc->ssl)) != X509_V_OK) {
		if (cert_user(peer, who, sizeof(who)) != 0 &&
		    cert_host(peer, who, sizeof(who)) != 0)
			snprintf(who, sizeof(who), "?");
		snprintf(why, sizeof(why), "certificate refused: %s",
		    X509_verify_cert_error_string(vr));
		login_refused(t->login, tc->addr, who, why);
		if (!userca_issued(login_userca(t->login), peer))
			goto refuse;
		snprintf(tc->user, sizeof(tc->user), "%s", who);
		snprintf(tc->host, sizeof(tc->host), "%s",
		    X509_verify_cert_error_string(vr));
		tc->kind = PEER_STALE;
	} else if (signed_by(tc, peer, login_userca(t->login), SIGNER_USERCA)) {
		/* a person: the CN names them, as the user CA wrote it */
		if (cert_user(peer, tc->user, sizeof(tc->user)) != 0 ||
		    userca_serial(peer, tc->serial, sizeof(tc->serial)) != 0)
			goto refuse;
		tc->kind = PEER_USER;
	} else if (t->d->hostca != NULL &&
	    signed_by(tc, peer, t->d->hostca, SIGNER_HOSTCA)) {
		/* an enrolled host: never a person, whatever its CN says */
		if (cert_host(peer, tc->host, sizeof(tc->host)) != 0 ||
		    userca_serial(peer, tc->serial, sizeof(tc->serial)) != 0)
			goto refuse;
		tc->kind = PEER_HOST;
	} else if (cert_host(peer, tc->host, sizeof(tc->host)) != 0)
		goto refuse;
	else
		tc->kind = PEER_HOST;
	/* peers without a (good) certificate never take the places of
	 * authenticated ones: they have max_unauthenticated of their own */
	if (unauth(tc) ? t->nunauth >= t->cfg->max_unauthenticated :
			 t->open.n - t->nunauth >= t->cfg->max_connections) {
		if (log_ok(t))
			log_warn("event=tls_busy host=%s addr=%s why=\"%s "
				 "reached\"",
			    tc->host, tc->addr,
			    unauth(tc) ? "max_unauthenticated" :
					 "max_connections");
		conn_close(tc);
		return;
	}
	if ((tc->in = malloc(TLS_IN_FIRST)) == NULL) {
		conn_close(tc);
		return;
	}
	tc->incap = TLS_IN_FIRST;
	list_del(&t->hs, tc);
	if (tc->kind != PEER_ANON && tc->kind != PEER_STALE) {
		/* an unauthenticated peer keeps its place in its source's
		 * cap */
		src_put(t, tc->src);
		tc->src = NULL;
	}
	tc->st = TC_OPEN;
	tc->deadline = deadline_now_ms() + t->cfg->timeout * 1000LL;
	list_add(&t->open, tc);
	if (unauth(tc))
		t->nunauth++;
	log_debug("event=tls_connected host=%s user=%s addr=%s resumed=%s",
	    tc->host, tc->user, tc->addr,
	    SSL_session_reused(tc->ssl) ? "yes" : "no");
	/*
	 * A ticket for the next connection (make_ctx), to authenticated
	 * peers only: a peer without a certificate has nothing to resume,
	 * and must not fill the session cache.  It leaves at the next read
	 * or write.  (Corking the socket so that it shares a segment with
	 * the first reply cost more CPU than it saved: measured.)
	 */
	if (SSL_session_reused(tc->ssl))
		/* each ticket resumes once: a copied or stolen one is
		 * worth a single connection within its lifetime */
		SSL_CTX_remove_session(t->ctx, SSL_get_session(tc->ssl));
	if (!unauth(tc) && t->cfg->ticket_lifetime > 0)
		(void)SSL_new_session_ticket(tc->ssl);
	open_pump(tc); /* the request may have come with the handshake */
	return;
refuse:
	if (log_ok(t))
		log_warn("event=tls_refused addr=%s why=\"%s\"", tc->addr,
		    X509_verify_cert_error_string(
			SSL_get_verify_result(tc->ssl)));
	conn_close(tc);
}

static void
hs_step(struct tconn *tc)
{
	struct tls_server *t = tc->srv;
	const char *why;
	unsigned long e;
	uint32_t want;
	int n;

	ERR_clear_error();
	if ((n = SSL_accept(tc->ssl)) == 1) {
		hs_done(tc);
		return;
	}
	if ((want = ssl_want(tc, n)) != 0) {
		set_interest(tc, want);
		return;
	}
	if (log_ok(t)) {
		e = ERR_peek_last_error();
		why = e != 0 ? ERR_reason_error_string(e) : NULL;
		log_info("event=tls_handshake_failed addr=%s why=\"%s\"",
		    tc->addr, why != NULL ? why : "connection closed");
	}
	conn_close(tc);
}

/* ---- the loop ---------------------------------------------------------- */

static void
new_conn(struct tls_server *t, int fd, const struct sockaddr_storage *ss)
{
	unsigned char key[8];
	struct epoll_event ev = { .events = EPOLLIN };
	struct tconn *tc = NULL;
	struct src *s = NULL;
	char addr[64];
	size_t keylen;
	int one = 1;

	src_of(ss, key, &keylen, addr, sizeof(addr));
	if ((s = src_get(t, key, keylen)) == NULL)
		goto fail;
	if (s->count >= t->cfg->max_unauthenticated_per_source) {
		t->refused_source++;
		close(fd);
		return;
	}
	s->count++;
	if (t->hs.n >= t->cfg->max_unauthenticated) {
		/* the oldest has had the longest to finish; a live peer
		 * finishes in a round trip or two */
		t->dropped_full++;
		conn_close(t->hs.head);
	}
	if ((tc = calloc(1, sizeof(*tc))) == NULL)
		goto fail;
	tc->srv = t;
	tc->fd = fd;
	tc->src = s;
	snprintf(tc->addr, sizeof(tc->addr), "%s", addr);
	/* replies and handshake flights are whole messages: send them now */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((tc->ssl = SSL_new(t->ctx)) == NULL || SSL_set_fd(tc->ssl, fd) != 1)
		goto fail;
	SSL_set_accept_state(tc->ssl);
	ev.data.ptr = tc;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		goto fail;
	tc->events = EPOLLIN;
	tc->st = TC_HANDSHAKE;
	tc->deadline = deadline_now_ms() + t->cfg->handshake_timeout_ms;
	list_add(&t->hs, tc);
	return;
fail:
	if (log_ok(t))
		log_error("event=tls_conn_failed addr=%s why=\"out of memory\"",
		    addr);
	if (tc != NULL)
		SSL_free(tc->ssl);
	free(tc);
	src_put(t, s); /* counted above whenever s is set */
	close(fd);
	ERR_clear_error();
}

static void
accept_some(struct tls_server *t)
{
	struct sockaddr_storage ss = { 0 }; /* accept4() fills it */
	socklen_t sl;
	int i, fd;

	for (i = 0; i < TLS_ACCEPT_PER_BATCH; i++) {
		sl = sizeof(ss);
		fd = accept4(t->lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			new_conn(t, fd, &ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if ((errno == EMFILE || errno == ENFILE) &&
		    t->hs.head != NULL) {
			t->dropped_full++; /* a descriptor for a newcomer */
			conn_close(t->hs.head);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE) {
			/* every descriptor is an authenticated connection:
			 * stop listening a moment rather than spin */
			if (log_ok(t))
				log_warn("event=tls_busy why=\"out of file "
					 "descriptors\"");
			epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->lfd, NULL);
			t->accepting = false;
			t->accept_resume_ms = deadline_now_ms() +
			    TLS_EMFILE_PAUSE_MS;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_error(
			    "event=tls_accept error=\"%s\"", strerror(errno));
		return;
	}
}

/* Close what ran out of time; the wait until the next deadline. */
static int
expire(struct tls_server *t)
{
	long long now = deadline_now_ms(), next = now + 1000;
	struct tconn *tc;
	int guard;

	while ((tc = t->hs.head) != NULL && tc->deadline <= now) {
		t->dropped_timeout++;
		conn_close(tc);
	}
	for (guard = t->open.n;
	     (tc = t->open.head) != NULL && tc->deadline <= now && guard > 0;
	     guard--) {
		if (tc->busy || (tc->login != NULL && login_waiting(tc->login)))
			touch(tc); /* waiting on us, or on a person
					 * (answer_timeout bounds that) */
		else {
			log_debug("event=tls_idle_closed host=%s", tc->host);
			conn_close(tc);
		}
	}
	if (!t->accepting && !t->stopping && now >= t->accept_resume_ms) {
		struct epoll_event ev = { .events = EPOLLIN,
			.data.ptr = &t->lfd };

		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->lfd, &ev) == 0)
			t->accepting = true;
	}
	if (t->hs.head != NULL && t->hs.head->deadline < next)
		next = t->hs.head->deadline;
	if (t->open.head != NULL && t->open.head->deadline < next)
		next = t->open.head->deadline;
	if (!t->accepting && t->accept_resume_ms < next)
		next = t->accept_resume_ms;
	return next <= now ? 0 : (int)(next - now);
}

/* Stop accepting; close what has no call in flight. */
static void
begin_stop(struct tls_server *t)
{
	struct tconn *tc, *next;

	t->stopping = true;
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->stopfd, NULL);
	if (t->accepting)
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->lfd, NULL);
	t->accepting = false;
	while (t->hs.head != NULL)
		conn_close(t->hs.head);
	for (tc = t->open.head; tc != NULL; tc = next) {
		next = tc->next;
		if (tc->busy)
			tc->close_after = true; /* after its reply */
		else
			conn_close(tc);
	}
}

static void *
loop_main(void *arg)
{
	struct tls_server *t = arg;
	struct epoll_event ev[TLS_EVENTS];
	struct tconn *tc;
	int n, i, wait_ms, hs_steps;
	bool accept_now, done_now;
	uint32_t e;

	for (;;) {
		wait_ms = expire(t);
		reap(t);
		log_drops(t);
		if (t->stopping && t->inflight == 0)
			break;
		n = epoll_wait(t->epfd, ev, TLS_EVENTS, wait_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error(
			    "event=tls_epoll error=\"%s\"", strerror(errno));
			break;
		}
		/* first replies, the stop signal and authenticated hosts */
		accept_now = done_now = false;
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == &t->stopfd)
				begin_stop(t);
			else if (ev[i].data.ptr == &t->evfd)
				done_now = true;
			else if (ev[i].data.ptr == &t->lfd)
				accept_now = true;
		}
		if (done_now)
			drain_done(t);
		for (i = 0; i < n; i++) {
			tc = ev[i].data.ptr;
			if (tc == (void *)&t->stopfd ||
			    tc == (void *)&t->evfd || tc == (void *)&t->lfd ||
			    tc->st != TC_OPEN)
				continue;
			e = ev[i].events;
			if ((e & (EPOLLERR | EPOLLHUP)) != 0 &&
			    (e & EPOLLIN) == 0)
				conn_close(tc);
			else if (tc->busy) /* until the reply: errors and
					    * hang-ups only */
				set_interest(tc, 0);
			else
				open_pump(tc);
		}
		/* then handshakes, a bounded number; the rest come back */
		hs_steps = 0;
		for (i = 0; i < n && hs_steps < TLS_HS_PER_BATCH; i++) {
			tc = ev[i].data.ptr;
			if (tc == (void *)&t->stopfd ||
			    tc == (void *)&t->evfd || tc == (void *)&t->lfd ||
			    tc->st != TC_HANDSHAKE)
				continue;
			hs_steps++;
			hs_step(tc);
		}
		if (accept_now && t->accepting)
			accept_some(t);
		reap(t);
	}
	return NULL;
}

/* Make sure the caps fit under the descriptor limit, raising it towards
 * the hard limit if need be. */
static void
raise_nofile(const struct tls_config *cfg)
{
	rlim_t need = (rlim_t)cfg->max_connections +
	    (rlim_t)cfg->max_unauthenticated + 256;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ?
	    need :
	    rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
		log_warn(
		    "event=tls_nofile limit=%llu need=%llu why=\"the "
		    "descriptor limit is below the TLS caps; handshakes are "
		    "dropped early when it runs out\"",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)need);
}

int
tls_start(struct brokerd *d, struct login_ctx *login, struct tls_server **out,
    struct brk_error *err)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct tls_server *t;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if (d->cfg->tls == NULL)
		return brk_error_set(
		    err, BRK_ERR_INVALID, "tls: not configured");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return r;
	t->d = d;
	t->cfg = d->cfg->tls;
	t->lfd = t->stopfd = t->evfd = t->epfd = -1;
	pthread_mutex_init(&t->lock, NULL);
	t->login = login;
	pthread_once(&signer_once, signer_idx_init);
	if ((r = make_ctx(t->cfg, login_userca(t->login), d->hostca, &t->ctx,
		 err)) != 0 ||
	    (r = listen_tcp(t->cfg, &t->lfd, err)) != 0)
		goto fail;
	raise_nofile(t->cfg);
	r = BRK_ERR_IO;
	if ((t->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    (t->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    (t->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		goto io;
	ev.data.ptr = &t->lfd;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->lfd, &ev) != 0)
		goto io;
	ev.data.ptr = &t->stopfd;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stopfd, &ev) != 0)
		goto io;
	ev.data.ptr = &t->evfd;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->evfd, &ev) != 0)
		goto io;
	t->accepting = true;
	if (pthread_create(&t->loop, NULL, loop_main, t) != 0)
		goto io;
	t->started = true;
	log_info("event=tls_ready listen=%s:%s max_connections=%d "
		 "max_unauthenticated=%d max_unauthenticated_per_source=%d "
		 "handshake_timeout_ms=%d ticket_lifetime=%d",
	    t->cfg->listen_host ? t->cfg->listen_host : "*",
	    t->cfg->listen_port, t->cfg->max_connections,
	    t->cfg->max_unauthenticated, t->cfg->max_unauthenticated_per_source,
	    t->cfg->handshake_timeout_ms, t->cfg->ticket_lifetime);
	*out = t;
	return 0;
io:
	brk_error_set(
	    err, r, "tls: cannot start the listener: %s", strerror(errno));
fail:
	tls_stop(t);
	return r;
}

void
tls_stop(struct tls_server *t)
{
	struct tconn *tc, *next;
	struct src *s, *snext;
	uint64_t one = 1;
	size_t b;

	if (t == NULL)
		return;
	if (t->stopfd >= 0 && write(t->stopfd, &one, sizeof(one)) < 0)
		log_error("event=tls_stop error=\"%s\"", strerror(errno));
	if (t->started)
		pthread_join(t->loop, NULL); /* waits for calls in flight */
	/* the loop left with nothing in flight; close what remains */
	for (tc = t->open.head; tc != NULL; tc = next) {
		next = tc->next;
		conn_close(tc);
	}
	while (t->hs.head != NULL)
		conn_close(t->hs.head);
	reap(t);
	t->drops_logged_ms = 0; /* the last counts, whatever the time */
	log_drops(t);
	for (b = 0; b < TLS_SRC_BUCKETS; b++)
		for (s = t->srcs[b]; s != NULL; s = snext) {
			snext = s->next;
			free(s);
		}
	store_read_free(t->rtxn);
	SSL_CTX_free(t->ctx);
	if (t->lfd >= 0)
		close(t->lfd);
	if (t->stopfd >= 0)
		close(t->stopfd);
	if (t->evfd >= 0)
		close(t->evfd);
	if (t->epfd >= 0)
		close(t->epfd);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
