/*
 * signdoc.c - frame, sign and verify signed documents (signdoc.h).
 */
#include "signdoc.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sshbuf.h"
#include "sshkey.h"

#define SIG_PREFIX "sig ed25519 "
#define SIG_B64_LEN 88 /* 64 bytes, padded */

int
signdoc_key_id_valid(const char *id, size_t len)
{
	size_t i;

	if (id == NULL || len != SIGNDOC_KEY_ID_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
			(id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

int
signdoc_unsigned(const char *magic, const char *body, size_t bodylen,
    char **text, size_t *len)
{
	size_t mlen;
	char *t;

	*text = NULL;
	*len = 0;
	mlen = strlen(magic);
	if (memchr(magic, '\n', mlen) != NULL ||
	    memchr(body, '\n', bodylen) != NULL ||
	    memchr(body, '\0', bodylen) != NULL)
		return BRK_ERR_INVALID;
	if ((t = malloc(mlen + bodylen + 3)) == NULL)
		return BRK_ERR_NOMEM;
	memcpy(t, magic, mlen);
	t[mlen] = '\n';
	memcpy(t + mlen + 1, body, bodylen);
	t[mlen + 1 + bodylen] = '\n';
	t[mlen + bodylen + 2] = '\0';
	*text = t;
	*len = mlen + bodylen + 2;
	return 0;
}

int
signdoc_sign(const char *unsig, size_t ulen, const char *key_id,
    signdoc_signer *sign, const void *ctx, char **text)
{
	uint8_t sig[SIGNDOC_SIG_SIZE];
	struct sshbuf *b = NULL;
	int r;

	*text = NULL;
	if (key_id == NULL || !signdoc_key_id_valid(key_id, strlen(key_id)))
		return BRK_ERR_INVALID;
	if ((b = sshbuf_new()) == NULL)
		return BRK_ERR_NOMEM;
	if ((r = sign(ctx, (const uint8_t *)unsig, ulen, sig)) != 0 ||
	    (r = sshbuf_put(b, unsig, ulen)) != 0 ||
	    (r = sshbuf_put(b, SIG_PREFIX, strlen(SIG_PREFIX))) != 0 ||
	    (r = sshbuf_put(b, key_id, SIGNDOC_KEY_ID_LEN)) != 0 ||
	    (r = sshbuf_put(b, " ", 1)) != 0 ||
	    (r = sshbuf_put_base64(b, sig, sizeof(sig))) != 0 ||
	    (r = sshbuf_put(b, "\n", 1)) != 0 ||
	    (r = sshbuf_dup_string(b, text)) != 0)
		goto out;
	r = 0;
out:
	sshbuf_free(b);
	return r;
}

/* The raw Ed25519 key among lines whose key id is id, or -1. */
static int
find_key(const char *const *lines, size_t n, const char *id, uint8_t pk[32])
{
	struct sshkey *k;
	char kid[SSHKEY_SHORT_ID_SIZE];
	const uint8_t *blob;
	size_t i, bloblen;
	int found = -1;

	for (i = 0; lines != NULL && i < n && found < 0; i++) {
		if (lines[i] == NULL ||
		    sshkey_parse(lines[i], strlen(lines[i]), &k, NULL) != 0)
			continue;
		blob = sshkey_blob(k, &bloblen);
		if (sshkey_ed25519_pk(k) != NULL &&
		    sshkey_short_id(blob, bloblen, kid) == 0 &&
		    strcmp(kid, id) == 0) {
			memcpy(pk, sshkey_ed25519_pk(k), 32);
			found = 0;
		}
		sshkey_free(k);
	}
	return found;
}

static int
check_sig(const uint8_t pk[32], const uint8_t *sig, size_t siglen,
    const char *msg, size_t len)
{
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	int r = BRK_ERR_CRYPTO;

	if ((key = EVP_PKEY_new_raw_public_key(
		 EVP_PKEY_ED25519, NULL, pk, 32)) == NULL ||
	    (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) != 1)
		goto out;
	r = EVP_DigestVerify(
		md, sig, siglen, (const unsigned char *)msg, len) == 1 ?
	    0 :
	    BRK_ERR_VERIFY;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	return r;
}

int
signdoc_verify(const char *text, size_t len, const char *magic,
    const char *what, const char *const *lines, size_t nkeys, const char **body,
    size_t *bodylen, char key_id[SIGNDOC_KEY_ID_LEN + 1], struct brk_error *err)
{
	struct sshbuf *sig = NULL;
	const char *l2, *l3, *end, *nl;
	uint8_t pk[32];
	size_t mlen = strlen(magic), plen = sizeof(SIG_PREFIX) - 1;
	int r = BRK_ERR_INTERNAL;

	*body = NULL;
	*bodylen = 0;
	key_id[0] = '\0';
	end = text + len;
	if (len < mlen + 1 || memcmp(text, magic, mlen) != 0 ||
	    text[mlen] != '\n' || memchr(text, '\0', len) != NULL) {
		r = brk_error_set(
		    err, BRK_ERR_INVALID, "not a %s document", magic);
		goto out;
	}
	/* Line 2: the body; line 3: the signature, ending the text. */
	l2 = text + mlen + 1;
	if ((nl = memchr(l2, '\n', (size_t)(end - l2))) == NULL) {
		r = brk_error_set(err, BRK_ERR_INVALID, "%s truncated", what);
		goto out;
	}
	l3 = nl + 1;
	if ((size_t)(end - l3) !=
		plen + SIGNDOC_KEY_ID_LEN + 1 + SIG_B64_LEN + 1 ||
	    memcmp(l3, SIG_PREFIX, plen) != 0 ||
	    !signdoc_key_id_valid(l3 + plen, SIGNDOC_KEY_ID_LEN) ||
	    l3[plen + SIGNDOC_KEY_ID_LEN] != ' ' || end[-1] != '\n') {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "%s signature line is malformed", what);
		goto out;
	}
	memcpy(key_id, l3 + plen, SIGNDOC_KEY_ID_LEN);
	key_id[SIGNDOC_KEY_ID_LEN] = '\0';
	if ((sig = sshbuf_new()) == NULL) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (sshbuf_put_base64_decoded(
		sig, l3 + plen + SIGNDOC_KEY_ID_LEN + 1, SIG_B64_LEN) != 0 ||
	    sshbuf_len(sig) != SIGNDOC_SIG_SIZE) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "%s signature is not base64 of 64 bytes", what);
		goto out;
	}
	if (find_key(lines, nkeys, key_id, pk) != 0) {
		r = brk_error_set(err, BRK_ERR_VERIFY,
		    "%s signed by key %s, which is not trusted", what, key_id);
		goto out;
	}
	if ((r = check_sig(pk, sshbuf_ptr(sig), sshbuf_len(sig), text,
		 (size_t)(l3 - text))) != 0) {
		r = brk_error_set(err, r,
		    "%s signature does not verify (altered or forged)", what);
		goto out;
	}
	*body = l2;
	*bodylen = (size_t)(nl - l2);
	r = 0;
out:
	if (r != 0)
		key_id[0] = '\0';
	sshbuf_free(sig);
	return r;
}
