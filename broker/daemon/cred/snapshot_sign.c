/*
 * snapshot_sign.c - sign host snapshots with the CA's current key.
 *
 * The signature covers the exact bytes snapshot_encode_unsigned() returns
 * (magic line and payload line, newlines included); the sig line appended
 * here names the key so a host holding several CA keys picks the right one.
 */
#include "snapshot_sign.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "errors.h"

int
snapshot_sign(const struct ca *ca, const struct snapshot *s, char **text)
{
	static const char prefix[] = "sig ed25519 ";
	uint8_t sig[CA_SIG_SIZE];
	char *body = NULL, *t = NULL, *p;
	const char *id;
	size_t len, need, plen = sizeof(prefix) - 1;
	int r = BRK_ERR_INTERNAL;

	if (text == NULL)
		return BRK_ERR_INTERNAL;
	*text = NULL;
	if (ca == NULL || s == NULL || (id = ca_key_id(ca)) == NULL) {
		r = BRK_ERR_INVALID;
		goto out;
	}
	if ((r = snapshot_encode_unsigned(s, id, &body, &len)) != 0 ||
	    (r = ca_sign(ca, (const uint8_t *)body, len, sig)) != 0)
		goto out;
	/* body + prefix + id + ' ' + base64(64) + '\n' + NUL */
	need = len + plen + strlen(id) + 1 + 4 * ((CA_SIG_SIZE + 2) / 3) + 2;
	if ((t = malloc(need)) == NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	memcpy(t, body, len);
	p = t + len;
	memcpy(p, prefix, plen);
	p += plen;
	memcpy(p, id, strlen(id));
	p += strlen(id);
	*p++ = ' ';
	p += EVP_EncodeBlock((unsigned char *)p, sig, sizeof(sig));
	*p++ = '\n';
	*p = '\0';
	*text = t;
	t = NULL;
	r = 0;
out:
	free(t);
	free(body);
	return r;
}
