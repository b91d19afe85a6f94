/*
 * ca.h - the broker's certificate authority: its Ed25519 keys and signing.
 *
 * This is the only module that touches private key material.  Keys live in
 * STATE_DIR/ca/ (mode 0700) as PEM PKCS#8 files "key-<keyid>.pem" (0600);
 * STATE_DIR/ca/current lists key ids one per line, the current key first and
 * previous keys after it, newest first.  A key id is the first 16 lowercase
 * hex digits of SHA-256 over the key's SSH wire blob.
 *
 * brokerd holds no private key: it opens the CA with ca_open_separated(),
 * which forks the signer process (signer.h) that alone reads the key files;
 * the daemon's struct ca has the public keys and a channel, and ca_sign()
 * goes through it.  ca_open() loads the key in the calling process: the
 * signer uses it, and so do tests and tools that sign on their own.
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
#include <sys/types.h>

#include "errors.h"

/* At most this many keys (current + previous) are listed and loaded;
 * rotation drops the oldest id from the list but leaves its file alone. */
#define CA_MAX_KEYS 16
#define CA_KEY_ID_SIZE 17 /* 16 hex digits + NUL */
#define CA_SIG_SIZE 64	  /* an Ed25519 signature */

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
 * Open the CA as brokerd does: fork the signer, which opens the CA under
 * state_dir as ca_open() does and keeps the private key; *out gets the
 * public keys and the channel.  Call while the process has one thread.
 * lost (may be NULL) is called once, from another thread, if the signer
 * dies while *out is open; from then on ca_sign() fails with
 * BRK_ERR_UNREACHABLE.  Errors: as ca_open() (err carries the signer's
 * message), BRK_ERR_PERM also when the sandbox cannot be installed,
 * BRK_ERR_PROTOCOL, negated errno values.
 */
int ca_open_separated(const char *state_dir, void (*lost)(void *), void *arg,
    struct ca **out, struct brk_error *err);

/* The signer's pid for a separated CA, 0 for one opened by ca_open(). */
pid_t ca_signer_pid(const struct ca *ca);

/* Words for a ca_sign() failure, for the message a caller returns. */
const char *ca_sign_strerror(int r);

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
 * Thread-safe; no key parsing per call.  With a separated CA the signer
 * signs only a user certificate body, a snapshot body or an audit anchor
 * body (signer_check()).  Errors: BRK_ERR_INVALID (NULL arguments),
 * BRK_ERR_CRYPTO; separated: BRK_ERR_DENIED (the signer refused msg),
 * BRK_ERR_UNREACHABLE (the signer is gone).
 */
int ca_sign(const struct ca *ca, const uint8_t *msg, size_t len,
    uint8_t sig[CA_SIG_SIZE]);

/*
 * Sign n documents: rcs[i] and sigs[i] as ca_sign(msgs[i], lens[i]) would
 * give them.  With a separated CA they go to the signer in batches of
 * SIGNER_BATCH_MAX, one round trip each (ca_sign() makes one per
 * document); in-process they are signed one after the other.
 */
void ca_sign_many(const struct ca *ca, size_t n, const uint8_t *const *msgs,
    const size_t *lens, uint8_t (*sigs)[CA_SIG_SIZE], int *rcs);

#endif
