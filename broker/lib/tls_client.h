/*
 * tls_client.h - the client half of the broker's TLS 1.3 transport.
 *
 * client.c owns the socket (connect, deadlines); this file owns everything
 * OpenSSL on the client side: loading the CA, certificate and key, the
 * handshake with the broker's certificate checked against the CA and the
 * expected host name, and record I/O.  No globals, no signals: the socket is
 * non-blocking and every wait is a poll() bounded by the caller's deadline
 * (CLOCK_MONOTONIC milliseconds); writes use send(MSG_NOSIGNAL) so a closed
 * peer can never raise SIGPIPE in the host process (a PAM application).
 */
#ifndef BRK_TLS_CLIENT_H
#define BRK_TLS_CLIENT_H

#include <stddef.h>

#include "errors.h"

struct tls_conn;

/*
 * Run a TLS 1.3 handshake on the connected non-blocking socket fd (which
 * stays the caller's: tls_conn_free() does not close it).  The broker's
 * certificate must chain to the certificates in the PEM file ca and name
 * servername (a DNS name, or an IP literal); or, when ca is NULL, one
 * certificate of the chain it presents must have the SHA-256 fingerprint
 * pin ("SHA256:" and 64 hex digits, colons allowed).  cert and key (PEM;
 * cert may hold a chain) are presented as our identity; both NULL: none
 * (a connection that may only log in).  Files are read with
 * O_CLOEXEC and the key's bytes are wiped after parsing.
 *
 * Returns 0 and sets *out, or: BRK_ERR_TIMEOUT (deadline passed),
 * BRK_ERR_VERIFY (the broker's certificate did not verify, or the broker
 * refused ours), BRK_ERR_IO (a file could not be read), BRK_ERR_CRYPTO (a
 * file did not parse, or the key does not match the certificate),
 * BRK_ERR_UNREACHABLE (the connection broke), BRK_ERR_NOMEM.  err says
 * which.  Thread-safe; each call builds its own context.
 */
int tls_conn_connect(int fd, const char *servername, const char *ca,
    const char *pin, const char *cert, const char *key, const char *session,
    long long deadline, struct tls_conn **out, struct brk_error *err);

/*
 * session (may be NULL) above: a file that tls_conn_save_session() wrote.
 * Its session is offered for resumption and the file removed (a ticket
 * resumes once; a file that is missing, not ours, not private or does not
 * parse is only a full handshake).  A resumed session skips the name and
 * pin checks: only the broker that passed them when the session was made
 * knows its secret.
 *
 * Write the session of the broker's latest ticket to path (0600, replaced
 * atomically) for the next tls_conn_connect().  Returns 0,
 * BRK_ERR_NOTFOUND when the broker sent no ticket, BRK_ERR_IO, or
 * BRK_ERR_NOMEM.
 */
int tls_conn_save_session(
    struct tls_conn *t, const char *path, struct brk_error *err);

/*
 * Read up to len bytes.  Returns the count (> 0), 0 when the peer closed,
 * BRK_ERR_TIMEOUT, or BRK_ERR_UNREACHABLE.
 */
int
tls_conn_read(struct tls_conn *t, void *buf, size_t len, long long deadline);

/* Write all len bytes.  Returns 0, BRK_ERR_TIMEOUT or BRK_ERR_UNREACHABLE. */
int tls_conn_write(
    struct tls_conn *t, const void *buf, size_t len, long long deadline);

/* Send close_notify if it goes out at once, then free; NULL is fine. */
void tls_conn_free(struct tls_conn *t);

#endif
