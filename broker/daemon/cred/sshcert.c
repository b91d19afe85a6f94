/*
 * sshcert.c - build and sign OpenSSH user certificates.
 *
 * The one idea: a certificate is the user's key fields wrapped between a
 * header (type, nonce) and a trailer (serial, validity, principals,
 * options, CA key) in one buffer; the CA signs the buffer and the signature
 * is appended.  Sizes of the nested strings are computed up front so the
 * buffer is written front to back in one pass with one allocation sized for
 * it, then base64-encoded straight into the returned line.
 *
 * Parameters are checked before anything is built; a certificate is a
 * security statement, so whatever we would not want sshd to see is refused
 * rather than cleaned up.
 */
#include "sshcert.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sshbuf.h"

#define SSH2_CERT_TYPE_USER 1
#define NONCE_LEN 32

/* Sorted by strcmp(): OpenSSH expects extensions in this order. */
static const char *const known_ext[] = {
	"permit-X11-forwarding",
	"permit-agent-forwarding",
	"permit-port-forwarding",
	"permit-pty",
	"permit-user-rc",
};
#define NKNOWN_EXT (sizeof(known_ext) / sizeof(known_ext[0]))

const char *const sshcert_default_extensions[] = {
	"permit-X11-forwarding",
	"permit-agent-forwarding",
	"permit-port-forwarding",
	"permit-pty",
	"permit-user-rc",
};
const size_t sshcert_ndefault_extensions = NKNOWN_EXT;

/* Printable ASCII, 1..max bytes; blanks and commas only if allowed. */
static int
check_text(const char *s, size_t max, int allow_sep)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max || s[i] < 0x20 || s[i] > 0x7e)
			return 0;
		if (!allow_sep && (s[i] == ' ' || s[i] == ','))
			return 0;
	}
	return 1;
}

static int
check_source(const char *s)
{
	size_t i;

	if (!check_text(s, SSHCERT_SOURCE_MAX, 1) || s[0] == ',')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (strchr("0123456789abcdefABCDEF.:/,", s[i]) == NULL)
			return 0;
		if (s[i] == ',' && (s[i + 1] == ',' || s[i + 1] == '\0'))
			return 0;
	}
	return 1;
}

/* Validate p; *extmask gets one bit per known_ext entry asked for. */
static int
check_params(
    const struct sshcert_params *p, unsigned *extmask, struct brk_error *err)
{
	size_t i, j;

	*extmask = 0;
	if (!check_text(p->key_id, SSHCERT_KEY_ID_MAX, 1))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "certificate key "
		    "id must be 1..%d printable ASCII characters",
		    SSHCERT_KEY_ID_MAX);
	if (p->nprincipals == 0 || p->principals == NULL)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "a certificate needs at least one principal");
	if (p->nprincipals > SSHCERT_MAX_PRINCIPALS)
		return brk_error_set(err, BRK_ERR_TOOBIG,
		    "more than %d principals", SSHCERT_MAX_PRINCIPALS);
	for (i = 0; i < p->nprincipals; i++)
		if (!check_text(p->principals[i], SSHCERT_PRINCIPAL_MAX, 0))
			return brk_error_set(err, BRK_ERR_INVALID,
			    "principal %zu is empty, too long or holds "
			    "blanks, commas or control characters",
			    i + 1);
	if (p->valid_after >= p->valid_before)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "valid_after must be before valid_before");
	if (p->nextensions > 0 && p->extensions == NULL)
		return brk_error_set(err, BRK_ERR_INVALID, "no extensions");
	for (i = 0; i < p->nextensions; i++) {
		for (j = 0; j < NKNOWN_EXT; j++)
			if (p->extensions[i] != NULL &&
			    strcmp(p->extensions[i], known_ext[j]) == 0)
				break;
		if (j == NKNOWN_EXT)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "unknown certificate extension %zu", i + 1);
		if (*extmask & (1u << j))
			return brk_error_set(err, BRK_ERR_INVALID,
			    "extension %s given twice", known_ext[j]);
		*extmask |= 1u << j;
	}
	if (p->force_command != NULL &&
	    !check_text(p->force_command, SSHCERT_COMMAND_MAX, 1))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "force-command "
		    "must be 1..%d printable ASCII characters",
		    SSHCERT_COMMAND_MAX);
	if (p->source_address != NULL && !check_source(p->source_address))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "source-address "
		    "must be a comma-separated list of addresses or CIDRs");
	return 0;
}

/* One critical option: string name, string(string value). */
static int
put_option(struct sshbuf *b, const char *name, const char *value)
{
	size_t vlen = strlen(value);
	int r;

	if ((r = sshbuf_put_cstring(b, name)) != 0 ||
	    (r = sshbuf_put_u32(b, (uint32_t)(4 + vlen))) != 0 ||
	    (r = sshbuf_put_string(b, value, vlen)) != 0)
		return r;
	return 0;
}

static size_t
option_size(const char *name, const char *value)
{
	return value == NULL ? 0 : 4 + strlen(name) + 4 + 4 + strlen(value);
}

/* Everything the CA signs: the certificate minus its signature. */
static int
put_tbs(struct sshbuf *b, const struct ca *ca, const struct sshkey *user,
    const struct sshcert_params *p, unsigned extmask)
{
	uint8_t nonce[NONCE_LEN];
	const uint8_t *fields, *cakey;
	size_t i, flen, calen, plen = 0, olen, elen = 0;
	int r;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return BRK_ERR_CRYPTO;
	fields = sshkey_fields(user, &flen);
	if ((cakey = ca_public_blob(ca, 0, &calen)) == NULL)
		return BRK_ERR_INVALID;
	for (i = 0; i < p->nprincipals; i++)
		plen += 4 + strlen(p->principals[i]);
	/* Critical options sorted by name: force-command < source-address. */
	olen = option_size("force-command", p->force_command) +
	    option_size("source-address", p->source_address);
	for (i = 0; i < NKNOWN_EXT; i++)
		if (extmask & (1u << i))
			elen += 4 + strlen(known_ext[i]) + 4;
	if ((r = sshbuf_put_cstring(b, sshkey_cert_type(user))) != 0 ||
	    (r = sshbuf_put_string(b, nonce, sizeof(nonce))) != 0 ||
	    (r = sshbuf_put(b, fields, flen)) != 0 ||
	    (r = sshbuf_put_u64(b, p->serial)) != 0 ||
	    (r = sshbuf_put_u32(b, SSH2_CERT_TYPE_USER)) != 0 ||
	    (r = sshbuf_put_cstring(b, p->key_id)) != 0 ||
	    (r = sshbuf_put_u32(b, (uint32_t)plen)) != 0)
		return r;
	for (i = 0; i < p->nprincipals; i++)
		if ((r = sshbuf_put_cstring(b, p->principals[i])) != 0)
			return r;
	if ((r = sshbuf_put_u64(b, p->valid_after)) != 0 ||
	    (r = sshbuf_put_u64(b, p->valid_before)) != 0 ||
	    (r = sshbuf_put_u32(b, (uint32_t)olen)) != 0)
		return r;
	if (p->force_command != NULL &&
	    (r = put_option(b, "force-command", p->force_command)) != 0)
		return r;
	if (p->source_address != NULL &&
	    (r = put_option(b, "source-address", p->source_address)) != 0)
		return r;
	if ((r = sshbuf_put_u32(b, (uint32_t)elen)) != 0)
		return r;
	for (i = 0; i < NKNOWN_EXT; i++)
		if ((extmask & (1u << i)) != 0 &&
		    ((r = sshbuf_put_cstring(b, known_ext[i])) != 0 ||
			(r = sshbuf_put_string(b, NULL, 0)) != 0))
			return r;
	if ((r = sshbuf_put_string(b, NULL, 0)) != 0 || /* reserved */
	    (r = sshbuf_put_string(b, cakey, calen)) != 0)
		return r;
	return 0;
}

int
sshcert_prepare(const struct ca *ca, const struct sshkey *user,
    const struct sshcert_params *p, struct sshbuf **tbs, struct brk_error *err)
{
	struct sshbuf *b = NULL;
	size_t flen;
	unsigned extmask;
	int r = BRK_ERR_INTERNAL;

	if (tbs == NULL)
		return BRK_ERR_INTERNAL;
	*tbs = NULL;
	if (ca == NULL || user == NULL || p == NULL) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "no CA, key or "
		    "parameters");
		goto out;
	}
	if ((r = check_params(p, &extmask, err)) != 0)
		goto out;
	sshkey_fields(user, &flen);
	if ((b = sshbuf_new()) == NULL ||
	    sshbuf_allocate(b, 512 + flen + 4 * SSHCERT_PRINCIPAL_MAX) != 0) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = put_tbs(b, ca, user, p, extmask)) != 0) {
		r = brk_error_set(err, r, "cannot build the certificate: %s",
		    brk_strerror(r));
		goto out;
	}
	*tbs = b;
	b = NULL;
	r = 0;
out:
	sshbuf_free(b);
	return r;
}

int
sshcert_finish(struct sshbuf *tbs, const struct sshkey *user,
    const char *key_id, const uint8_t sig[CA_SIG_SIZE], char **cert_line,
    struct brk_error *err)
{
	static const char sigtype[] = "ssh-ed25519";
	const char *type;
	size_t tlen, klen, b64len;
	char *line = NULL;
	int r;

	*cert_line = NULL;
	if ((r = sshbuf_put_u32(tbs,
		 (uint32_t)(4 + strlen(sigtype) + 4 + CA_SIG_SIZE))) != 0 ||
	    (r = sshbuf_put_cstring(tbs, sigtype)) != 0 ||
	    (r = sshbuf_put_string(tbs, sig, CA_SIG_SIZE)) != 0)
		return brk_error_set(err, r, "cannot build the certificate");
	type = sshkey_cert_type(user);
	tlen = strlen(type);
	klen = strlen(key_id);
	b64len = (sshbuf_len(tbs) + 2) / 3 * 4;
	if ((line = malloc(tlen + 1 + b64len + 1 + klen + 1)) == NULL)
		return brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
	memcpy(line, type, tlen);
	line[tlen] = ' ';
	EVP_EncodeBlock((unsigned char *)line + tlen + 1, sshbuf_ptr(tbs),
	    (int)sshbuf_len(tbs));
	line[tlen + 1 + b64len] = ' ';
	memcpy(line + tlen + 1 + b64len + 1, key_id, klen + 1);
	*cert_line = line;
	return 0;
}

int
sshcert_issue(const struct ca *ca, const struct sshkey *user,
    const struct sshcert_params *p, char **cert_line, struct brk_error *err)
{
	struct sshbuf *b = NULL;
	uint8_t sig[CA_SIG_SIZE];
	int r;

	if (cert_line == NULL)
		return BRK_ERR_INTERNAL;
	*cert_line = NULL;
	if ((r = sshcert_prepare(ca, user, p, &b, err)) != 0)
		goto out;
	if ((r = ca_sign(ca, sshbuf_ptr(b), sshbuf_len(b), sig)) != 0) {
		r = brk_error_set(err, r, "signing the certificate failed: %s",
		    ca_sign_strerror(r));
		goto out;
	}
	r = sshcert_finish(b, user, p->key_id, sig, cert_line, err);
out:
	sshbuf_free(b);
	return r;
}
