/*
 * userca.h - the user CA: short-lived X.509 client certificates for people
 * who logged in with "broker login".
 *
 * Kept apart from the SSH CA (ca.c): its own Ed25519 key in
 * STATE_DIR/user_ca.key (0600, made at first start, refused when looser)
 * and its self-signed certificate in STATE_DIR/user_ca.crt.  A certificate
 * it issues names the user in its subject CN, is for clientAuth only, and
 * is never a CA.  The client's key never reaches the broker: it sends a
 * CSR, whose self-signature proves it holds the key.
 *
 * Thread-safety: after userca_open() every function may be called from any
 * thread (the key is only read).
 */
#ifndef BRK_USERCA_H
#define BRK_USERCA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "errors.h"

struct userca;

/* Load the user CA from state_dir, or make it when neither file exists.
 * Errors: BRK_ERR_PERM (a key file readable by others), BRK_ERR_IO,
 * BRK_ERR_CRYPTO, BRK_ERR_NOMEM; err says which. */
int
userca_open(const char *state_dir, struct userca **out, struct brk_error *err);

/*
 * The same for another CA of the same kind: files STATE_DIR/BASE.key and
 * BASE.crt, subject CN cn, and what (static) naming it in messages.  The
 * host CA is one ("host_ca", for "broker host enroll"): a CA of its own,
 * so that a host's certificate is never a person's, nor the reverse.
 */
int userca_open_named(const char *state_dir, const char *base, const char *cn,
    const char *what, struct userca **out, struct brk_error *err);

void userca_free(struct userca *u);

/* The CA certificate (borrowed, lives as long as u). */
X509 *userca_cert(const struct userca *u);

/* The CA certificate in PEM (malloc'd). */
int userca_cert_pem(const struct userca *u, char **out);

/* Whether x was issued (and signed) by this CA. */
int userca_issued(const struct userca *u, X509 *x);

/* x's serial number in upper-case hex (as userca_issue() gives it) into
 * out; 0, or BRK_ERR_INVALID when it does not fit. */
int userca_serial_hex(X509 *x, char *out, size_t outlen);

/*
 * Issue a certificate for user, valid from now - 60s to now + ttl, for the
 * key in csr_pem (whose self-signature must verify).  *pem (malloc'd) and
 * *serial (hex, malloc'd) are set on success.  BRK_ERR_INVALID for a CSR
 * that does not parse or verify, BRK_ERR_CRYPTO, BRK_ERR_NOMEM.
 */
int userca_issue(const struct userca *u, const char *csr_pem, const char *user,
    int64_t now, int64_t ttl, char **pem, char **serial, struct brk_error *err);

#endif
