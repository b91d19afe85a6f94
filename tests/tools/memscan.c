/*
 * memscan.c - look for a CA private key in another process's memory.
 *
 *   memscan PID KEY.pem
 *
 * Reads the Ed25519 private key (its 32-byte seed) from KEY.pem, then every
 * writable mapping of PID through /proc/PID/mem (a key loaded at run time
 * lives in the heap, a stack or .bss), and looks for the seed.  Mappings
 * with nothing resident (smaps Rss: 0) are skipped, and so are those over
 * 64 GiB and, in a process that maps libasan, those inside ASan's shadow
 * (x86_64: 0x7fff8000 to 0x10007fff8000): terabytes reserved, split in
 * parts of random size around the shadow of what is mapped, some under
 * 64 GiB (reading one took longer than the test's patience, and the scan
 * then missed the key in the signer).
 * Prints "found ADDR PERMS PATH" for each hit and a summary line
 * "mappings=N bytes=N unreadable=N skipped=N hits=N".  Exit status: 0 when the seed is
 * nowhere, 1 when it was found, 2 when the scan could not be made.  Used by
 * t_signer.sh to show that brokerd holds no private key while its signer
 * does (the same scan finds it there, which shows the scan works).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define CHUNK (1u << 20)
#define HUGE_MAP (64ull << 30)
#define ASAN_SHADOW_LO 0x7fff8000ull
#define ASAN_SHADOW_HI 0x10007fff8000ull

/* Whether PID maps libasan (its shadow then holds no data of its own). */
static int
maps_asan(const char *pid)
{
	char path[64], line[512];
	FILE *f;
	int asan = 0;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (!asan && fgets(line, sizeof(line), f) != NULL)
		asan = strstr(line, "/libasan.so") != NULL;
	fclose(f);
	return asan;
}

static int
read_seed(const char *path, uint8_t seed[32])
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;
	size_t len = 32;
	int ok;

	if (f == NULL)
		return -1;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ok = k != NULL && EVP_PKEY_get_raw_private_key(k, seed, &len) == 1 &&
	    len == 32;
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

int
main(int argc, char **argv)
{
	char path[64], line[512], perms[8], name[256];
	uint8_t seed[32], *buf = NULL;
	uint64_t lo = 0, hi = 0, a, bytes = 0;
	unsigned long mappings = 0, unreadable = 0, skipped = 0, hits = 0;
	unsigned long rss;
	int have = 0;
	ssize_t n;
	size_t want;
	FILE *maps = NULL;
	int mem = -1, rc = 2, asan;

	if (argc != 3) {
		fprintf(stderr, "usage: memscan PID KEY.pem\n");
		return 2;
	}
	if (read_seed(argv[2], seed) != 0) {
		fprintf(stderr, "memscan: %s: not an Ed25519 private key\n",
		    argv[2]);
		return 2;
	}
	asan = maps_asan(argv[1]);
	snprintf(path, sizeof(path), "/proc/%s/smaps", argv[1]);
	if ((maps = fopen(path, "r")) == NULL)
		goto fail;
	snprintf(path, sizeof(path), "/proc/%s/mem", argv[1]);
	if ((mem = open(path, O_RDONLY)) < 0 ||
	    (buf = malloc(CHUNK + 31)) == NULL)
		goto fail;
	/* smaps: a header line per mapping, then "Key: value" lines */
	while (fgets(line, sizeof(line), maps) != NULL) {
		name[0] = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %255s",
		    &lo, &hi, perms, name) >= 3) {
			have = perms[0] == 'r' && perms[1] == 'w' &&
			    strcmp(name, "[vvar]") != 0;
			continue;
		}
		if (!have || sscanf(line, "Rss: %lu kB", &rss) != 1)
			continue;
		have = 0;
		if (rss == 0 || hi - lo > HUGE_MAP ||
		    (asan && lo >= ASAN_SHADOW_LO && hi <= ASAN_SHADOW_HI)) {
			skipped++;
			continue;
		}
		mappings++;
		/* chunks overlap by 31 bytes so a seed across a border shows */
		for (a = lo; a < hi; a += CHUNK) {
			want = (size_t)(hi - a < CHUNK + 31 ? hi - a : CHUNK + 31);
			if ((n = pread(mem, buf, want, (off_t)a)) <= 0) {
				unreadable++;
				break;
			}
			bytes += (uint64_t)n;
			if (memmem(buf, (size_t)n, seed, sizeof(seed)) != NULL) {
				printf("found %" PRIx64 " %s %s\n", a, perms, name);
				hits++;
			}
		}
	}
	printf("mappings=%lu bytes=%" PRIu64 " unreadable=%lu skipped=%lu "
	    "hits=%lu\n", mappings, bytes, unreadable, skipped, hits);
	rc = hits > 0 ? 1 : (bytes == 0 ? 2 : 0);
	goto out;
 fail:
	fprintf(stderr, "memscan: %s: %s\n", path, strerror(errno));
 out:
	OPENSSL_cleanse(seed, sizeof(seed));
	free(buf);
	if (mem >= 0)
		close(mem);
	if (maps != NULL)
		fclose(maps);
	return rc;
}
