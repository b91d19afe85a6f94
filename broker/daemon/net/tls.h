/*
 * tls.h - brokerd's TLS 1.3 listener for remote hosts' PAM modules and
 * for people who logged in with "broker login" (login.h).
 *
 * A person's login certificate (from the user CA, userca.h) makes its peer
 * that user, with every op and the same authorisation as a local caller;
 * a peer without a client certificate may only run op "login".
 *
 * A host proves who it is with a client certificate issued by client_ca;
 * the certificate's subject CN (or, without a CN, its single DNS SAN) is
 * the host name H.  Over TLS a host may only ask op "check" (and op
 * "snapshot") about its own resource "host:H", sync (host.sync, krl,
 * ca.show) and report and watch its own sessions (session.open, .close,
 * .terminated, .watch: the host is the certificate's); every other request
 * is refused with code "denied" before any op runs.  The listener runs one
 * thread of its own with an event loop (no thread per connection), and is
 * the only file of the daemon that touches OpenSSL's TLS.
 *
 * Peers that have not finished a handshake are cheap and bounded: a
 * handshake deadline, a cap per source address, and a total cap that drops
 * the oldest handshake first.  Authenticated connections have a cap of their
 * own and are never dropped to make room for handshakes.
 */
#ifndef BRK_TLS_H
#define BRK_TLS_H

#include <jansson.h>

#include "errors.h"

struct brokerd;
struct login_ctx;
struct tls_server;

/* The config's "tls" section (see tls_config_parse). */
struct tls_config {
	char *listen_host; /* NULL: every address */
	char *listen_port;
	char *cert;		  /* PEM certificate (chain) of the broker */
	char *key;		  /* PEM private key (not encrypted) */
	char *client_ca;	  /* PEM CA(s) that issue host certificates */
	int max_connections;	  /* authenticated connections, default 256 */
	int timeout;		  /* seconds for a request line or a reply;
				 * idle authenticated connections close
				 * after it too.  Default 10 */
	int handshake_timeout_ms; /* accept to verified client
					 * certificate; default 2000 */
	int max_unauthenticated;  /* handshakes in progress, all
					 * sources; default 512 */
	int max_unauthenticated_per_source; /* per IPv4 address or IPv6
						 * /64; default 16 */
	int ticket_lifetime; /* seconds a TLS 1.3 session ticket may be
				 * resumed; 0: no tickets.  Default 300 */
};

/*
 * Parse the "tls" section: {"listen": "HOST:PORT", "cert": PATH, "key":
 * PATH, "client_ca": PATH} (all required), plus optional "max_connections"
 * (1..10000), "timeout" (1..300 seconds), "handshake_timeout_ms"
 * (100..60000), "max_unauthenticated" (1..100000),
 * "max_unauthenticated_per_source" (1..100000) and "ticket_lifetime"
 * (0..86400 seconds).  HOST may be a name, an IPv4
 * address, "[v6]", or "*" for every address.  Strict: unknown keys and
 * wrong types are errors naming the key.  Returns 0 and sets *out
 * (tls_config_free()), or BRK_ERR_INVALID / BRK_ERR_NOMEM with err filled.
 */
int tls_config_parse(
    json_t *section, struct tls_config **out, struct brk_error *err);

void tls_config_free(struct tls_config *c);

/*
 * Load the certificates and key, bind and listen on d->cfg->tls->listen,
 * raise the soft descriptor limit towards what the caps need, and start the
 * listener thread.  Call after server_new() (calls are
 * dispatched with ops_dispatch(), which needs the store, writer and
 * policy).  login is the daemon's one "broker login" context (its user CA
 * and back-off, shared with the web sign-in), borrowed: it must outlive
 * tls_stop().  Errors: BRK_ERR_IO (bind/listen), BRK_ERR_CRYPTO (files),
 * BRK_ERR_NOMEM, with err filled.
 */
int tls_start(struct brokerd *d, struct login_ctx *login,
    struct tls_server **out, struct brk_error *err);

/*
 * Stop accepting, close every connection once its call in flight has been
 * answered, wait for all the listener's threads, and free; NULL is fine.
 * Call before writer_free(), since a call in flight may wait on the writer.
 */
void tls_stop(struct tls_server *t);

#endif
