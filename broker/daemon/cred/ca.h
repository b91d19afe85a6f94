/*
 * ca.h - the broker's certificate authority: its Ed25519 keys and signing.
 *
 * This is the only module that touches private key material.  Keys live in
 * STATE_DIR/ca/ (mode 0700) as PEM PKCS#8 files "key-<keyid>.pem" (0600);
 * STATE_DIR/ca/current lists key ids one per line, the current key first and
 * previous keys after it, newest first.  A key id is the first 16 lowercase
 * hex digits of SHA-256 over the key's SSH wire blob.
 *
 * A struct ca is immutable once opened: every function below that takes a
 * const struct ca may be called from any number of threads at once.
 * Rotation writes files; a running daemon sees the new key after it opens
 * the CA again.
 */
#ifndef BRK_CA_H
#define BRK_CA_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* At most this many keys (current + previous) are listed and loaded;
 * rotation drops the oldest id from the list but leaves its file alone. */
#define CA_MAX_KEYS 16
#define CA_KEY_ID_SIZE 17	/* 16 hex digits + NUL */
#define CA_SIG_SIZE 64		/* an Ed25519 signature */

struct ca;

/*
 * Open the CA under state_dir, creating state_dir/ca and a first key when
 * there is none.  The private part of the current key is loaded once and
 * kept; previous keys are read for their public halves only.
 *
 * On success *out is the CA (ca_free()).  Errors: BRK_ERR_PERM (the ca
 * directory or a key file is group/other-accessible, not owned by the
 * effective uid, or a symlink; err names the file and its mode),
 * BRK_ERR_INVALID (a corrupt key or list file, a key whose id does not match
 * its name), BRK_ERR_IO (negated errno values are possible too),
 * BRK_ERR_CRYPTO, BRK_ERR_NOMEM.
 */
int ca_open(const char *state_dir, struct ca **out, struct brk_error *err);

/*
 * Create a new key and make it current; the old keys stay listed as
 * previous ones (up to CA_MAX_KEYS in all).  Creates the CA if none exists.
 * Not safe against a concurrent ca_rotate() on the same directory.
 * Errors: as ca_open().
 */
int ca_rotate(const char *state_dir, struct brk_error *err);

/* Wipe and free; NULL is fine. */
void ca_free(struct ca *ca);

/* The current key's id (16 hex digits). */
const char *ca_key_id(const struct ca *ca);

/* "ssh-ed25519 AAAA... broker-ca-<keyid>" for the current key: a line for
 * sshd's TrustedUserCAKeys. */
const char *ca_public_line(const struct ca *ca);

/* Every listed key's public line, current first, then previous keys newest
 * first; *lines points into ca.  Returns how many. */
size_t ca_all_public_lines(const struct ca *ca, const char *const **lines);

/* The SSH wire blob of key i (0 = current; same order as above), or NULL
 * when i is out of range. */
const uint8_t *ca_public_blob(const struct ca *ca, size_t i, size_t *lenp);

/*
 * Sign len bytes at msg with the current key (pure Ed25519) into sig.
 * Thread-safe; no key parsing per call.  Errors: BRK_ERR_INVALID (NULL
 * arguments), BRK_ERR_CRYPTO.
 */
int ca_sign(const struct ca *ca, const uint8_t *msg, size_t len,
    uint8_t sig[CA_SIG_SIZE]);

#endif
