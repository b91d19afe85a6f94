/*
 * fuzz_sshkey.c - fuzz target for OpenSSH public key parsing
 * (broker/lib/sshkey.c, sshbuf.c): the text form and the bare wire blob.
 * A key that parses is fingerprinted and compared, as the CA does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
use_key(const struct sshkey *k)
{
	char fp[SSHKEY_FP_SIZE], id[SSHKEY_SHORT_ID_SIZE];
	const uint8_t *p;
	struct sshkey *k2 = NULL;
	size_t len;

	(void)sshkey_kind(k);
	(void)strlen(sshkey_type(k));
	(void)strlen(sshkey_cert_type(k));
	(void)strlen(sshkey_comment(k));
	(void)sshkey_fields(k, &len);
	(void)sshkey_ed25519_pk(k);
	(void)sshkey_fingerprint(k, fp, sizeof(fp));
	p = sshkey_blob(k, &len);
	(void)sshkey_short_id(p, len, id);
	/* the blob of a parsed key parses again, to the same key */
	if (sshkey_from_blob(p, len, &k2, NULL) != 0 ||
	    !sshkey_equal(k, k2))
		abort();
	sshkey_free(k2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct brk_error err = { { 0 } };
	struct sshkey *k = NULL;

	if (sshkey_parse((const char *)data, size, &k, &err) == 0) {
		use_key(k);
		sshkey_free(k);
	}
	k = NULL;
	if (sshkey_from_blob(data, size, &k, &err) == 0) {
		use_key(k);
		sshkey_free(k);
	}
	return 0;
}
