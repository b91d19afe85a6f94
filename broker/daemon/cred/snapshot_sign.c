/*
 * snapshot_sign.c - sign documents (host snapshots, audit anchors) with
 * the CA's current key, in the one format of signdoc.h.
 *
 * The signature covers the exact bytes snapshot_encode_unsigned() (or
 * signdoc_unsigned()) returns, magic line and body line, newlines
 * included; the sig line appended names the key so a host holding several
 * CA keys picks the right one.
 */
#include "snapshot_sign.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "signdoc.h"

static int
sign_with_ca(const void *ctx, const uint8_t *msg, size_t len, uint8_t *sig)
{
	return ca_sign(ctx, msg, len, sig);
}

int
ca_sign_doc(const struct ca *ca, const char *magic, const char *body,
    size_t bodylen, char **text)
{
	char *unsig = NULL;
	size_t ulen = 0;
	int r;

	*text = NULL;
	if (ca == NULL || ca_key_id(ca) == NULL)
		return BRK_ERR_INVALID;
	if ((r = signdoc_unsigned(magic, body, bodylen, &unsig, &ulen)) == 0)
		r = signdoc_sign(
		    unsig, ulen, ca_key_id(ca), sign_with_ca, ca, text);
	free(unsig);
	return r;
}

int
snapshot_sign(const struct ca *ca, const struct snapshot *s, char **text)
{
	char *body = NULL;
	const char *id;
	size_t len;
	int r = BRK_ERR_INTERNAL;

	if (text == NULL)
		return BRK_ERR_INTERNAL;
	*text = NULL;
	if (ca == NULL || s == NULL || (id = ca_key_id(ca)) == NULL) {
		r = BRK_ERR_INVALID;
		goto out;
	}
	if ((r = snapshot_encode_unsigned(s, id, &body, &len)) != 0)
		goto out;
	r = signdoc_sign(body, len, id, sign_with_ca, ca, text);
out:
	free(body);
	return r;
}
