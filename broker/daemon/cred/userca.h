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

#include <jansson.h>
#include <openssl/x509.h>

#include "errors.h"
#include "store.h"

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

/*
 * Issue a certificate for user, valid from now - 60s to now + ttl, for the
 * key in csr_pem (whose self-signature must verify).  *pem (malloc'd) and
 * *serial (hex, malloc'd) are set on success.  BRK_ERR_INVALID for a CSR
 * that does not parse or verify, BRK_ERR_CRYPTO, BRK_ERR_NOMEM.
 */
int userca_issue(const struct userca *u, const char *csr_pem, const char *user,
    int64_t now, int64_t ttl, char **pem, char **serial, struct brk_error *err);

/* The serial of x in hex, as userca_issue() gives it, into buf (at least
 * USERCA_SERIAL_LEN bytes); 0 or BRK_ERR_INVALID. */
#define USERCA_SERIAL_LEN 80
int userca_serial(X509 *x, char *buf, size_t len);

/*
 * The register of login certificates (table TBL_LOGINS), so that one can
 * be revoked before it expires.  Keys: "s" SERIAL -> the record (JSON:
 * user, issued_at, expires_at, and revoked_at/revoked_by/reason once
 * revoked); "u" USER \0 SERIAL and "e" be64(expires_at) SERIAL -> "" (for
 * revoking by user and for forgetting expired ones).  A certificate not in
 * the register is refused: every one issued is written there in the same
 * transaction as its login.ok audit record.
 */

/* Register a certificate just issued, and forget a few that expired more
 * than a day ago (a revocation need not outlive its certificate).  t is a
 * write transaction.  Store errors, BRK_ERR_NOMEM. */
int userca_note_issued(struct store_txn *t, const char *serial,
    const char *user, int64_t now, int64_t expires);

/*
 * Whether the certificate with serial, presented by user, is still
 * accepted: 0 when it is; BRK_ERR_DENIED with why set ("revoked by erin
 * at ...: reason", "not issued by this broker") when it is not; store
 * errors (refuse then too).
 */
int userca_login_check(struct store_txn *t, const char *serial,
    const char *user, int64_t now, char *why, size_t whylen);

/*
 * Revoke one certificate (serial) or every unexpired one of user (exactly
 * one of the two non-NULL), by whom, for reason (may be NULL).  *revoked
 * (a new array) lists the serials revoked now; *owner the certificate's
 * user (malloc'd; user itself when by user).  Errors: BRK_ERR_NOTFOUND
 * (no such certificate, or none of user's in force), BRK_ERR_STATE (that
 * one is already revoked or expired), store errors, BRK_ERR_NOMEM.
 */
int userca_revoke(struct store_txn *t, const char *serial, const char *user,
    const char *by, const char *reason, int64_t now, json_t **revoked,
    char **owner);

/* The user a registered certificate was issued to (malloc'd), or
 * BRK_ERR_NOTFOUND. */
int userca_login_user(struct store_txn *t, const char *serial, char **user);

#endif
