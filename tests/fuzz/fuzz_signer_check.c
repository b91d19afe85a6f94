/*
 * fuzz_signer_check.c - fuzz target for what the CA signer agrees to sign
 * (broker/daemon/cred/signer_check.c): the bytes a compromised daemon could
 * send it.  The CA key is a fixed blob (the one in the seed certificates);
 * the user key inside a certificate goes through sshkey.c.  Checks that a
 * document is accepted only as one of the three kinds, each recognised by
 * its first bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signer.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* string "ssh-ed25519", string pk = 0x01 0x02 ... 0x20 */
static const uint8_t ca_blob[SIGNER_BLOB_LEN] = {
	0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '9',
	0, 0, 0, 32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum signer_kind kind = SIGNER_KIND_CERT;
	const char *why = NULL;
	int r;

	r = signer_check(data, size, ca_blob, sizeof(ca_blob), 1700000000,
	    &kind, &why);
	if (r == 0) {
		if (why != NULL || size == 0)
			abort();
		if ((kind == SIGNER_KIND_CERT) != (data[0] == 0))
			abort();
		if (kind == SIGNER_KIND_SNAPSHOT &&
		    memcmp(data, SNAPSHOT_MAGIC "\n",
		    sizeof(SNAPSHOT_MAGIC)) != 0)
			abort();
		if (kind == SIGNER_KIND_ANCHOR &&
		    memcmp(data, "broker-audit-anchor-v1\n", 23) != 0)
			abort();
		if (kind == SIGNER_KIND_NONE)
			abort();
	} else if (r != BRK_ERR_DENIED || kind != SIGNER_KIND_NONE ||
	    why == NULL || strlen(why) == 0)
		abort();
	return 0;
}
