/*
 * sshcert.h - OpenSSH user certificates signed by the broker's CA.
 *
 * The certificate type follows the user's key: an ssh-ed25519 key gets an
 * ssh-ed25519-cert-v01@openssh.com certificate, ecdsa-sha2-nistp256 gets
 * ecdsa-sha2-nistp256-cert-v01@openssh.com, ssh-rsa gets
 * ssh-rsa-cert-v01@openssh.com.  The signature is always the CA's Ed25519
 * one.  The layout is that of OpenSSH's PROTOCOL.certkeys.
 */
#ifndef BRK_SSHCERT_H
#define BRK_SSHCERT_H

#include <stddef.h>
#include <stdint.h>

#include "ca.h"
#include "errors.h"
#include "sshkey.h"

#define SSHCERT_MAX_PRINCIPALS 256
#define SSHCERT_PRINCIPAL_MAX 256 /* bytes per principal */
#define SSHCERT_KEY_ID_MAX 256
#define SSHCERT_COMMAND_MAX 4096
#define SSHCERT_SOURCE_MAX 1024

/*
 * What goes into a certificate.  Strings are ASCII without control
 * characters.  principals: 1..SSHCERT_MAX_PRINCIPALS names, no blanks or
 * commas.  extensions: names from permit-X11-forwarding,
 * permit-agent-forwarding, permit-port-forwarding, permit-pty,
 * permit-user-rc, in any order, no repeats (written sorted, with empty
 * values); none at all gives a certificate that allows no pty.
 * force_command and source_address are optional (NULL); source_address is
 * a comma-separated list of addresses or CIDR blocks.  Times are seconds
 * since the epoch, valid_after < valid_before.
 */
struct sshcert_params {
	uint64_t serial;
	const char *key_id;
	const char *const *principals;
	size_t nprincipals;
	uint64_t valid_after;
	uint64_t valid_before;
	const char *const *extensions;
	size_t nextensions;
	const char *force_command;
	const char *source_address;
};

/* The extensions ssh-keygen grants by default (all five, sorted). */
extern const char *const sshcert_default_extensions[];
extern const size_t sshcert_ndefault_extensions;

/*
 * Issue a certificate for user's key under ca's current key.
 *
 * On success *cert_line is a new string (free()) in the one-line text form
 * "<cert-type> <base64> <key_id>", with no trailing newline, as sshd and
 * ssh-keygen -L read it from a "-cert.pub" file.  Errors: BRK_ERR_INVALID
 * (bad parameters; err says which), BRK_ERR_TOOBIG, BRK_ERR_CRYPTO (random
 * or signing failed), BRK_ERR_NOMEM.  Thread-safe: any number of threads may
 * issue with the same ca at once.
 */
int sshcert_issue(const struct ca *ca, const struct sshkey *user,
    const struct sshcert_params *p, char **cert_line, struct brk_error *err);

/*
 * sshcert_issue() in two halves, for callers that sign many bodies in one
 * go (ca_sign_many()): sshcert_prepare() checks p and builds the body to
 * be signed into *tbs (a new buffer, sshbuf_free()), with the errors of
 * sshcert_issue(); sshcert_finish() appends the signature of that body and
 * writes the certificate line into *cert_line.  Prepare, sign, finish gives
 * what sshcert_issue() gives.
 */
struct sshbuf;
int sshcert_prepare(const struct ca *ca, const struct sshkey *user,
    const struct sshcert_params *p, struct sshbuf **tbs, struct brk_error *err);
int sshcert_finish(struct sshbuf *tbs, const struct sshkey *user,
    const char *key_id, const uint8_t sig[CA_SIG_SIZE], char **cert_line,
    struct brk_error *err);

#endif
