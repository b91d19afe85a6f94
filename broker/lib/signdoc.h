/*
 * signdoc.h - signed documents: the one format of host snapshots and audit
 * anchors, three lines:
 *
 *   <magic>
 *   <body: one line of JSON>
 *   sig ed25519 <16 hex key id> <base64 of the Ed25519 signature>
 *
 * The signature covers lines 1 and 2 with their newlines; the key id
 * (sshkey_short_id() of the key's wire blob) says which of the CA's keys
 * signed, so a verifier holding several picks the right one.  What the
 * body means is the caller's (snapshot.c, ops_audit.c); this module only
 * frames, signs and verifies.
 */
#ifndef BRK_SIGNDOC_H
#define BRK_SIGNDOC_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#define SIGNDOC_KEY_ID_LEN 16
#define SIGNDOC_SIG_SIZE 64

/* Whether the len bytes at id are a key id: 16 lower-case hex digits. */
int signdoc_key_id_valid(const char *id, size_t len);

/* Sign len bytes of msg into sig; 0 or a BRK_ERR_* code. */
typedef int
signdoc_signer(const void *ctx, const uint8_t *msg, size_t len, uint8_t *sig);

/*
 * The unsigned part: magic "\n" body "\n" as a new NUL-terminated string
 * *text of *len bytes (free()).  magic and body must hold no newline.
 * Errors: BRK_ERR_INVALID (a newline or NUL inside), BRK_ERR_NOMEM.
 */
int signdoc_unsigned(const char *magic, const char *body, size_t bodylen,
    char **text, size_t *len);

/*
 * Sign the ulen bytes of unsig (from signdoc_unsigned()) with sign(ctx)
 * and append the signature line naming key_id (16 lower-case hex digits).
 * *text is a new NUL-terminated string (free()).  Errors: BRK_ERR_INVALID
 * (bad key id), BRK_ERR_NOMEM, or the signer's code.
 */
int signdoc_sign(const char *unsig, size_t ulen, const char *key_id,
    signdoc_signer *sign, const void *ctx, char **text);

/*
 * Check that the len bytes of text are a document with this magic, signed
 * by one of the nkeys OpenSSH public key lines.  On success *body points
 * into text at line 2 (*bodylen bytes, no newline) and key_id holds the
 * signer's id; only then may the body be trusted.  what names the document
 * in messages ("snapshot", "anchor").
 * Errors: BRK_ERR_INVALID (not such a document, malformed signature line),
 * BRK_ERR_VERIFY (signed by an unknown key, or the signature does not
 * verify), BRK_ERR_CRYPTO, BRK_ERR_NOMEM; err says which.
 */
int signdoc_verify(const char *text, size_t len, const char *magic,
    const char *what, const char *const *lines, size_t nkeys, const char **body,
    size_t *bodylen, char key_id[SIGNDOC_KEY_ID_LEN + 1],
    struct brk_error *err);

#endif
