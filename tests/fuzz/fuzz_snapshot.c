/*
 * fuzz_snapshot.c - fuzz target for signed host snapshots
 * (broker/lib/snapshot.c), as the PAM module verifies them offline.
 *
 * A fixed Ed25519 CA key (seed bytes 0x01..0x20) is trusted.  The first
 * input byte picks the mode:
 *   even: the rest is a whole snapshot text, verified as-is (magic, line
 *         split, sig line, base64, key lookup, signature);
 *   odd:  the rest is a payload line; the harness wraps it in the magic
 *         line, signs it with the CA key and appends the sig line, so the
 *         fuzzer reaches the JSON parser and the checks that only run on
 *         authentic input (what a compromised or buggy broker could send).
 * Verification is at a fixed time (FUZZ_NOW) for host "web-1"; a snapshot
 * that verifies is decided for a few users and re-encoded.
 *
 * The CA key id (for hand-written seeds) is printed by running a build of
 * this target with FUZZ_SNAPSHOT_PRINT_KEY=1 set (see tests/fuzz/README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "snapshot.h"

#define FUZZ_NOW ((time_t)1700000000)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *ca_key;
static char ca_line[256];
static char ca_id[17];

static void
put_string(uint8_t *p, const void *s, uint32_t n)
{
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	memcpy(p + 4, s, n);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[32], pk[32], blob[4 + 11 + 4 + 32], h[32];
	char b64[128];
	size_t pklen = sizeof(pk);
	int i;

	for (i = 0; i < 32; i++)
		seed[i] = (uint8_t)(i + 1);
	if ((ca_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    seed, sizeof(seed))) == NULL ||
	    EVP_PKEY_get_raw_public_key(ca_key, pk, &pklen) != 1)
		abort();
	put_string(blob, "ssh-ed25519", 11);
	put_string(blob + 15, pk, 32);
	EVP_EncodeBlock((unsigned char *)b64, blob, sizeof(blob));
	snprintf(ca_line, sizeof(ca_line), "ssh-ed25519 %s fuzz-ca", b64);
	SHA256(blob, sizeof(blob), h);
	for (i = 0; i < 8; i++)
		snprintf(ca_id + 2 * i, 3, "%02x", h[i]);
	if (getenv("FUZZ_SNAPSHOT_PRINT_KEY") != NULL)
		printf("%s\nkey_id %s\n", ca_line, ca_id);
	return 0;
}

/* magic + payload + sig line over both, as snapshot_sign() writes it. */
static char *
sign_payload(const uint8_t *p, size_t n, size_t *outlen)
{
	static const char magic[] = SNAPSHOT_MAGIC "\n";
	size_t mlen = sizeof(magic) - 1, siglen = 64, off;
	uint8_t sig[64];
	EVP_MD_CTX *md = NULL;
	char *t;

	if ((t = malloc(mlen + n + 1 + 200)) == NULL)
		return NULL;
	memcpy(t, magic, mlen);
	memcpy(t + mlen, p, n);
	t[mlen + n] = '\n';
	off = mlen + n + 1;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, NULL, NULL, ca_key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (unsigned char *)t, off) != 1)
		abort();
	EVP_MD_CTX_free(md);
	off += (size_t)sprintf(t + off, "sig ed25519 %s ", ca_id);
	off += (size_t)EVP_EncodeBlock((unsigned char *)t + off, sig, 64);
	t[off++] = '\n';
	*outlen = off;
	return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *keys[2] = { ca_line, "ssh-ed25519 AAAA broken" };
	struct brk_error err = { { 0 } };
	struct snapshot *s = NULL;
	const char *why = NULL;
	char *text = NULL, *enc = NULL;
	size_t len, elen;
	bool allowed;

	if (size < 1 || size > 1024 * 1024)
		return 0;
	if (data[0] & 1) {
		if ((text = sign_payload(data + 1, size - 1, &len)) == NULL)
			return 0;
	} else {
		if ((text = malloc(size - 1 + 1)) == NULL)
			return 0;
		memcpy(text, data + 1, size - 1);
		len = size - 1;
	}
	if (snapshot_verify(text, len, keys, 2, "host:web-1", FUZZ_NOW, &s,
	    &err) == 0) {
		(void)snapshot_decide(s, "alice", FUZZ_NOW, &allowed, &why);
		(void)snapshot_decide(s, "root", FUZZ_NOW + 3600, &allowed,
		    &why);
		if (why == NULL)
			abort();
		if (snapshot_encode_unsigned(s, ca_id, &enc, &elen) == 0)
			free(enc);
		snapshot_free(s);
	}
	free(text);
	return 0;
}
