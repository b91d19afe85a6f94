/*
 * sshkey.h - OpenSSH public keys, parsed and checked at the edge.
 *
 * A struct sshkey is what a user hands us in "ssh-ed25519 AAAA... comment"
 * form, reduced to its type and the raw wire blob, after the blob has been
 * checked field by field and the key material by OpenSSL (EC points on the
 * named curve, RSA modulus size and shape).  Accepted: ssh-ed25519,
 * ecdsa-sha2-nistp256/384/521, ssh-rsa of 2048..16384 bits.  Refused with
 * BRK_ERR_UNSUPPORTED: ssh-dss, certificates, security-key (sk-) keys, short
 * RSA; anything malformed is BRK_ERR_INVALID.
 *
 * Keys are immutable after parsing; several threads may read one.
 */
#ifndef BRK_SSHKEY_H
#define BRK_SSHKEY_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* Longest key line accepted, in bytes (a 16384-bit RSA key fits). */
#define SSHKEY_LINE_MAX (16 * 1024)
/* Room for "SHA256:" + 43 base64 characters + NUL. */
#define SSHKEY_FP_SIZE 51
/* Room for a short key id: 16 lowercase hex digits + NUL. */
#define SSHKEY_SHORT_ID_SIZE 17
#define SSHKEY_RSA_MIN_BITS 2048
#define SSHKEY_RSA_MAX_BITS 16384

enum sshkey_kind {
	SSHKEY_ED25519 = 1,
	SSHKEY_ECDSA_P256,
	SSHKEY_ECDSA_P384,
	SSHKEY_ECDSA_P521,
	SSHKEY_RSA
};

struct sshkey;

/*
 * Parse one public key line of len bytes: "TYPE BASE64 [COMMENT]", with
 * optional surrounding blanks and one trailing "\n" or "\r\n".  There are no
 * authorized_keys options.  The comment may not hold control characters
 * other than tab.  The type word must match the type inside the blob, and the
 * blob must end where its last field does.
 *
 * On success *out is a new key (sshkey_free()).  Errors: BRK_ERR_TOOBIG
 * (len > SSHKEY_LINE_MAX), BRK_ERR_INVALID (malformed text, base64 or blob,
 * invalid EC point or RSA values), BRK_ERR_UNSUPPORTED (a key type we refuse,
 * RSA < 2048 bits), BRK_ERR_NOMEM, BRK_ERR_CRYPTO.  err (may be NULL) says
 * what was wrong, never with key material.
 */
int sshkey_parse(
    const char *line, size_t len, struct sshkey **out, struct brk_error *err);

/* The same from a bare wire blob (no text, no comment). */
int sshkey_from_blob(const uint8_t *blob, size_t len, struct sshkey **out,
    struct brk_error *err);

/* Free k; NULL is fine. */
void sshkey_free(struct sshkey *k);

/* The key's kind, its SSH type name ("ssh-ed25519"), the matching user
 * certificate type ("ssh-ed25519-cert-v01@openssh.com"), and the comment
 * ("" when none).  Strings live as long as k (type names are static). */
enum sshkey_kind sshkey_kind(const struct sshkey *k);
const char *sshkey_type(const struct sshkey *k);
const char *sshkey_cert_type(const struct sshkey *k);
const char *sshkey_comment(const struct sshkey *k);

/* The whole wire blob. */
const uint8_t *sshkey_blob(const struct sshkey *k, size_t *lenp);

/* The key fields after the type string: what a certificate embeds. */
const uint8_t *sshkey_fields(const struct sshkey *k, size_t *lenp);

/* The 32-byte Ed25519 public key, or NULL if k is not Ed25519. */
const uint8_t *sshkey_ed25519_pk(const struct sshkey *k);

/* 1 if a and b are the same public key, else 0. */
int sshkey_equal(const struct sshkey *a, const struct sshkey *b);

/*
 * "SHA256:<base64 of SHA-256(blob), no padding>", as ssh-keygen -l prints,
 * into buf of len >= SSHKEY_FP_SIZE.  Errors: BRK_ERR_INVALID (NULL key),
 * BRK_ERR_TOOBIG (buf too small), BRK_ERR_CRYPTO.
 */
int sshkey_fingerprint(const struct sshkey *k, char *buf, size_t len);

/*
 * The first 16 lowercase hex digits of SHA-256(blob): the CA's key id.
 * buf must hold SSHKEY_SHORT_ID_SIZE bytes.  Errors: BRK_ERR_CRYPTO.
 */
int sshkey_short_id(
    const uint8_t *blob, size_t bloblen, char buf[SSHKEY_SHORT_ID_SIZE]);

#endif
