/*
 * client.h - talk to brokerd: connect, send one request, read its reply.
 *
 * Shared by the CLI and the PAM module, so it keeps no global state, uses no
 * signals, and every descriptor it makes is O_CLOEXEC.  Every wait is bounded
 * by the caller's deadline: a hung broker costs at most timeout_ms.
 */
#ifndef BRK_CLIENT_H
#define BRK_CLIENT_H

#include <sys/types.h>

#include <jansson.h>

#include "errors.h"

struct client;

/* No extra uid may serve the socket (client_open_as). */
#define CLIENT_NO_UID ((uid_t)-1)

/*
 * Connect to the broker's unix socket at path within timeout_ms, and
 * trust what answers only when the kernel says (SO_PEERCRED) that the
 * process listening runs as root, as our own effective uid (a broker we
 * started ourselves: tests, "make run"), or as server_uid when that is not
 * CLIENT_NO_UID (a daemon user configured by the caller: BROKER_SERVER_UID
 * for the CLI, server_uid= for the PAM module).  Anything else is an
 * impostor that took the socket path: refused before a byte is sent.
 * Returns 0 and sets *out, or BRK_ERR_UNREACHABLE / BRK_ERR_TIMEOUT, or
 * BRK_ERR_VERIFY for a server running as another uid.
 */
int client_open_as(const char *path, uid_t server_uid, int timeout_ms,
    struct client **out, struct brk_error *err);

/* client_open_as(path, CLIENT_NO_UID, ...): root or ourselves only. */
int client_open(const char *path, int timeout_ms, struct client **out,
    struct brk_error *err);

/*
 * The uid that s names: decimal digits, or a user name NSS knows.
 * Returns 0, or BRK_ERR_INVALID (malformed, or (uid_t)-1) /
 * BRK_ERR_NOTFOUND (no such user) with err saying which.  Thread-safe.
 */
int client_parse_uid(const char *s, uid_t *out, struct brk_error *err);

/* The files of a TLS client (PEM): the CA that signed the broker's
 * certificate, and this host's certificate (chain) and private key. */
struct client_tls {
	const char *ca;
	const char *cert; /* NULL with key: no client certificate */
	const char *key;
	const char *pin;     /* with ca NULL: the broker's certificate's
				 * SHA-256 fingerprint (tls_client.h) */
	const char *session; /* NULL, or a file with a session to resume
			      * (tls_conn_connect) */
};

/*
 * Connect to the broker's TLS listener at host:port (TLS 1.3, mutual
 * authentication) within timeout_ms, which bounds the TCP connect and the
 * handshake together.  The broker's certificate must chain to tls->ca and
 * name host (a DNS name or an IP literal).  host is resolved with
 * getaddrinfo(), which no deadline can bound: use an address or a name from
 * /etc/hosts on hosts where DNS may hang.  The returned client works with
 * client_call() and client_free() like a unix one.
 * Returns 0 and sets *out, or BRK_ERR_UNREACHABLE / BRK_ERR_TIMEOUT /
 * BRK_ERR_VERIFY (the broker's certificate) / BRK_ERR_IO / BRK_ERR_CRYPTO
 * (our files) / BRK_ERR_NOMEM, with err saying which.
 */
int client_open_tls(const char *host, const char *port,
    const struct client_tls *tls, int timeout_ms, struct client **out,
    struct brk_error *err);

/*
 * Send {"op":op,"args":args,"as":as} and wait for the reply.  args is
 * borrowed (NULL for none); as may be NULL.  On success *result is a new
 * reference.  On a refusal returns the broker's code (BRK_ERR_DENIED, ...)
 * with err->msg the broker's message; BRK_ERR_TIMEOUT when no reply came in
 * timeout_ms; BRK_ERR_UNREACHABLE when the connection broke.
 */
int client_call(struct client *c, const char *op, json_t *args, const char *as,
    int timeout_ms, json_t **result, struct brk_error *err);

/* A TLS connection's latest session, kept in path for the next
 * client_open_tls() with tls->session (tls_conn_save_session). */
int
client_save_session(struct client *c, const char *path, struct brk_error *err);

void client_free(struct client *c);

#endif
