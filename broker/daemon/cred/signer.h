/*
 * signer.h - the CA signer: a small process that alone holds the CA's
 * private key (privilege separation, as OpenSSH's monitor keeps the host
 * key away from the network-facing code).
 *
 * brokerd forks it in main() before any thread starts and before LDAP, TLS
 * or libcurl are set up.  The child opens the CA (ca_open(), which reads
 * the key files), closes every descriptor but its end of a socketpair and
 * stderr, sets PR_SET_NO_NEW_PRIVS and PR_SET_DUMPABLE 0, installs a
 * seccomp filter (signer_sandbox()), sends the daemon the public halves of
 * the CA keys and then answers signing requests until the daemon closes its
 * end.  The daemon never reads a key file and never holds a private key.
 *
 * The wire protocol, both directions big-endian, one request in flight:
 *
 *   hello     signer -> daemon: u32 status; status 0: u32 n, then n
 *             51-byte SSH wire blobs of the CA keys, current first;
 *             otherwise u32 len, len bytes of error text
 *   request   daemon -> signer: u32 len, len bytes to sign (1..SIGNER_MSG_MAX)
 *   reply     signer -> daemon: u32 status (a BRK_ERR_* code, 0 on
 *             success), 64 bytes of Ed25519 signature (zero on refusal)
 *
 * The signer signs only the three documents the broker makes, each checked
 * in full first (signer_check()): an OpenSSH *user* certificate body
 * carrying the current CA key, a host snapshot body, an audit anchor body.
 * Their first bytes differ, so no document of one kind is also another.
 * What a compromised daemon can still get signed is in SECURITY.md.
 */
#ifndef BRK_SIGNER_H
#define BRK_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "errors.h"

#define SIGNER_MSG_MAX (8u * 1024 * 1024) /* a snapshot's limit */
#define SIGNER_MAX_KEYS 16
#define SIGNER_BLOB_LEN 51 /* string "ssh-ed25519" + string pk[32] */
/* How long a signing request may take before the signer is held dead. */
#define SIGNER_TIMEOUT_MS 10000
/* Requests in one signer_sign_many() call, and replies in one write. */
#define SIGNER_BATCH_MAX 64
/* A reply: u32 status, then the 64-byte signature (zeros on failure). */
#define SIGNER_REPLY_LEN (4 + 64)

struct signer;

/* What signer_check() recognised. */
enum signer_kind {
	SIGNER_KIND_NONE = 0,
	SIGNER_KIND_CERT,     /* an OpenSSH user certificate body */
	SIGNER_KIND_SNAPSHOT, /* SNAPSHOT_MAGIC "\n" + one JSON line */
	SIGNER_KIND_ANCHOR    /* "broker-audit-anchor-v1\n" + one JSON line */
};

/*
 * Fork the signer for the CA under state_dir and wait for its hello.
 *
 * lost (may be NULL) is called once, from a thread of the signer's own, when
 * the signer process exits or stops answering while the daemon still needs
 * it (not after signer_free() began); arg is passed to it.  From then on
 * every signer_sign() fails with BRK_ERR_UNREACHABLE.
 *
 * On success *out is the channel (signer_free()) and blobs[0..*nkeys-1]
 * the keys' wire blobs, current first.  Must be called while the process
 * has one thread: the child runs OpenSSL after fork().  Errors: whatever
 * ca_open() returns in the child (err carries its message: a key file with
 * a loose mode, a corrupt list), BRK_ERR_PERM (the sandbox could not be
 * installed), BRK_ERR_PROTOCOL (a malformed hello), BRK_ERR_NOMEM, negated
 * errno values (socketpair, fork, pthread_create).
 */
int signer_start(const char *state_dir, void (*lost)(void *), void *arg,
    struct signer **out, uint8_t blobs[SIGNER_MAX_KEYS][SIGNER_BLOB_LEN],
    size_t *nkeys, struct brk_error *err);

/*
 * Have the signer sign len bytes at msg with the current key.  Thread-safe:
 * requests from many threads are serialised on the channel.  Errors:
 * BRK_ERR_INVALID (NULL or empty msg, len > SIGNER_MSG_MAX), BRK_ERR_DENIED
 * (the signer refused the document: not one of the three kinds, or
 * malformed; the signer logs why), BRK_ERR_UNREACHABLE (the signer is
 * gone or timed out; it stays gone), BRK_ERR_CRYPTO.
 */
int
signer_sign(struct signer *s, const uint8_t *msg, size_t len, uint8_t sig[64]);

/*
 * Sign n (1..SIGNER_BATCH_MAX) documents in one round trip: the requests go
 * out in one write and the signer answers them in order in one write.  The
 * signer checks and signs each on its own, exactly as signer_sign() does;
 * rcs[i] is signer_sign()'s result for msgs[i] (sigs[i] set when 0).
 * Returns 0 when the replies came back (each rcs[i] says how its document
 * fared), or the channel's error, BRK_ERR_UNREACHABLE, with every rcs[i]
 * set to it; BRK_ERR_INVALID for a NULL, empty or oversized document or a
 * bad n, before anything is sent.
 */
int signer_sign_many(struct signer *s, size_t n, const uint8_t *const *msgs,
    const size_t *lens, uint8_t (*sigs)[64], int *rcs);

/* The signer's pid (for logs and tests). */
pid_t signer_pid(const struct signer *s);

/* Close the channel, let the signer exit, reap it; NULL is fine. */
void signer_free(struct signer *s);

/*
 * What may be signed: 0 when msg is one of the three documents, well
 * formed, and (for a certificate) names ca_blob as its signing key, is a
 * user certificate with at least one principal and a validity of at most
 * DURATION_MAX plus the largest clock skew, starting no later than that
 * after now.  *kind says which document it is.  Otherwise BRK_ERR_DENIED,
 * with *why (static text) saying what was wrong.
 */
int signer_check(const uint8_t *msg, size_t len, const uint8_t *ca_blob,
    size_t ca_len, int64_t now, enum signer_kind *kind, const char **why);

/*
 * Confine the calling process as the signer is confined: close every
 * descriptor except keep_fd and stderr, PR_SET_NO_NEW_PRIVS,
 * PR_SET_DUMPABLE 0, and a seccomp filter that allows only reading and
 * writing open descriptors, memory management, futexes, getrandom, the
 * clocks and exiting.  open(), openat() and socket() fail with EACCES;
 * any other system call kills the process (SIGSYS).  Irreversible.
 * Returns 0 or a negated errno value (the kernel refused a step), or
 * BRK_ERR_UNSUPPORTED (no filter for this architecture).
 */
int signer_sandbox(int keep_fd);

#endif
