/*
 * ca.c - the CA's Ed25519 keys: creation, rotation, loading and signing.
 *
 * The one idea: private key bytes exist in exactly two places, the 0600 PEM
 * file and the EVP_PKEY of the current key, which is parsed once in
 * ca_open() and then only read, so ca_sign() from many threads needs no
 * lock.  brokerd itself never calls ca_open(): it calls ca_open_separated(),
 * which forks the signer (signer.c); the signer calls ca_open(), and the
 * daemon's struct ca holds only public keys and the channel, through which
 * ca_sign() goes.  Every file is written to a temporary name (O_EXCL, 0600), synced,
 * renamed into place and the directory synced, so a crash leaves either the
 * old state or the new one.  Files are opened O_NOFOLLOW and checked for
 * owner and mode before a byte is read: a key others can read is treated as
 * compromised and the daemon refuses to start rather than sign with it.
 */
#include "ca.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fileio.h"
#include "signdoc.h"
#include "signer.h"
#include "sshkey.h"

#define LIST_NAME "current"
#define KEY_FILE_MAX 16384
#define LIST_FILE_MAX 4096
#define ED25519_BLOB_LEN 51 /* string "ssh-ed25519" + string pk[32] */
#define LINE_SIZE 128	    /* type + 68 base64 + " broker-ca-" + id */

struct ca_pub {
	char id[CA_KEY_ID_SIZE];
	uint8_t blob[ED25519_BLOB_LEN];
	char line[LINE_SIZE];
};

struct ca {
	EVP_PKEY *pkey;	       /* current key; read-only once opened */
	struct signer *signer; /* or the process that holds it */
	size_t nkeys;
	struct ca_pub keys[CA_MAX_KEYS];
	const char *lines[CA_MAX_KEYS];
};

typedef char key_id[CA_KEY_ID_SIZE];

static int
path_join(char *buf, size_t len, const char *dir, const char *name,
    struct brk_error *err)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		return brk_error_set(
		    err, BRK_ERR_TOOBIG, "path too long: %s", dir);
	return 0;
}

/* Create dir 0700 if missing, then insist it is ours and private. */
static int
ensure_dir(const char *dir, struct brk_error *err)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return brk_error_set(
		    err, -errno, "mkdir %s: %s", dir, strerror(errno));
	if (lstat(dir, &st) != 0)
		return brk_error_set(
		    err, -errno, "stat %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return brk_error_set(
		    err, BRK_ERR_PERM, "%s is not a directory", dir);
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0)
		return brk_error_set(err, BRK_ERR_PERM,
		    "CA directory %s has mode %04o and owner uid %u; it must "
		    "be 0700 and owned by uid %u",
		    dir, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
		    (unsigned)geteuid());
	return 0;
}

/*
 * Read a whole small file of ours (fileio.h): not group/other-accessible at
 * all when secret, not writable by others otherwise.  BRK_ERR_NOTFOUND when
 * it does not exist.  Secret buffers must be wiped by the caller.
 */
static int
read_checked(const char *path, int secret, size_t max, char **bufp,
    size_t *lenp, struct brk_error *err)
{
	return file_read_checked(path, secret ? "CA key file" : "CA file",
	    FILE_NOFOLLOW | FILE_OURS | FILE_ABSENT_OK |
		(secret ? FILE_PRIVATE : FILE_NO_WRITERS),
	    max, bufp, lenp, err);
}

static int
fsync_dir(const char *dir, struct brk_error *err)
{
	int fd, r = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) <
	    0)
		return brk_error_set(
		    err, -errno, "open %s: %s", dir, strerror(errno));
	if (fsync(fd) != 0)
		r = brk_error_set(
		    err, -errno, "fsync %s: %s", dir, strerror(errno));
	close(fd);
	return r;
}

/* Write dir/name atomically with mode 0600. */
static int
write_atomic(const char *dir, const char *name, const void *data, size_t len,
    struct brk_error *err)
{
	char dst[4096];
	int r;

	if ((r = path_join(dst, sizeof(dst), dir, name, err)) != 0)
		return r;
	return file_write_atomic(dst, "CA", data, len, 0600, err);
}

static const uint8_t ed25519_hdr[] = { 0, 0, 0, 11, 's', 's', 'h', '-', 'e',
	'd', '2', '5', '5', '1', '9', 0, 0, 0, 32 };

/* Fill pub's id and line from its blob. */
static int
pub_from_blob(struct ca_pub *pub, struct brk_error *err)
{
	unsigned char b64[4 * ((ED25519_BLOB_LEN + 2) / 3) + 1];

	if (memcmp(pub->blob, ed25519_hdr, sizeof(ed25519_hdr)) != 0 ||
	    sshkey_short_id(pub->blob, sizeof(pub->blob), pub->id) != 0)
		return brk_error_set(
		    err, BRK_ERR_CRYPTO, "cannot derive the CA public key");
	EVP_EncodeBlock(b64, pub->blob, sizeof(pub->blob));
	snprintf(pub->line, sizeof(pub->line), "ssh-ed25519 %s broker-ca-%s",
	    (char *)b64, pub->id);
	return 0;
}

/* Fill pub (blob, id, line) from the public half of an Ed25519 key. */
static int
pub_from_pkey(EVP_PKEY *pkey, struct ca_pub *pub, struct brk_error *err)
{
	size_t pklen = 32;

	memcpy(pub->blob, ed25519_hdr, sizeof(ed25519_hdr));
	if (EVP_PKEY_get_raw_public_key(
		pkey, pub->blob + sizeof(ed25519_hdr), &pklen) != 1 ||
	    pklen != 32)
		return brk_error_set(
		    err, BRK_ERR_CRYPTO, "cannot derive the CA public key");
	return pub_from_blob(pub, err);
}

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	/* Our keys are never encrypted; never prompt on a terminal. */
	return -1;
}

/* Load dir/key-<id>.pem; keep the private key in *pkeyp when non-NULL. */
static int
load_key(const char *dir, const char *id, EVP_PKEY **pkeyp, struct ca_pub *pub,
    struct brk_error *err)
{
	char path[4096], name[64];
	char *pem = NULL;
	size_t pemlen = 0;
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	int r = BRK_ERR_INTERNAL;

	if (pkeyp != NULL)
		*pkeyp = NULL;
	snprintf(name, sizeof(name), "key-%.16s.pem", id);
	if ((r = path_join(path, sizeof(path), dir, name, err)) != 0)
		goto out;
	if ((r = read_checked(path, 1, KEY_FILE_MAX, &pem, &pemlen, err)) !=
	    0) {
		if (r == BRK_ERR_NOTFOUND)
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "CA key file %s is missing", path);
		goto out;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)pemlen)) == NULL) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) ==
		NULL ||
	    EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "%s is not an Ed25519 private key in PEM", path);
		goto out;
	}
	if ((r = pub_from_pkey(pkey, pub, err)) != 0)
		goto out;
	if (strcmp(pub->id, id) != 0) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "%s holds key %s, not %s", path, pub->id, id);
		goto out;
	}
	if (pkeyp != NULL) {
		*pkeyp = pkey;
		pkey = NULL;
	}
	r = 0;
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	file_free_secret(pem, pemlen);
	return r;
}

/* Read the key list; BRK_ERR_NOTFOUND when there is none yet. */
static int
read_list(const char *dir, key_id *ids, size_t *np, struct brk_error *err)
{
	char path[4096];
	char *buf = NULL, *p, *nl;
	size_t len, i, n = 0;
	int r = BRK_ERR_INTERNAL;

	*np = 0;
	if ((r = path_join(path, sizeof(path), dir, LIST_NAME, err)) != 0 ||
	    (r = read_checked(path, 0, LIST_FILE_MAX, &buf, &len, err)) != 0)
		goto out;
	/* read_checked() returns 0 only with a buffer (the analyser thinks
	 * errno may be 0 after a failed open()) */
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	for (p = buf; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL ||
		    !signdoc_key_id_valid(p, (size_t)(nl - p)) ||
		    n == CA_MAX_KEYS) {
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "%s is corrupt (line %zu)", path, n + 1);
			goto out;
		}
		memcpy(ids[n], p, CA_KEY_ID_SIZE - 1);
		ids[n][CA_KEY_ID_SIZE - 1] = '\0';
		for (i = 0; i < n; i++) {
			if (strcmp(ids[i], ids[n]) == 0) {
				r = brk_error_set(err, BRK_ERR_INVALID,
				    "%s lists key %s twice", path, ids[n]);
				goto out;
			}
		}
		n++;
	}
	if (n == 0) {
		r = brk_error_set(err, BRK_ERR_INVALID, "%s is empty", path);
		goto out;
	}
	*np = n;
	r = 0;
out:
	free(buf);
	return r;
}

static int
write_list(const char *dir, const key_id *ids, size_t n, struct brk_error *err)
{
	char buf[CA_MAX_KEYS * CA_KEY_ID_SIZE];
	size_t i;

	for (i = 0; i < n && i < CA_MAX_KEYS; i++) {
		memcpy(buf + i * CA_KEY_ID_SIZE, ids[i], CA_KEY_ID_SIZE - 1);
		buf[i * CA_KEY_ID_SIZE + CA_KEY_ID_SIZE - 1] = '\n';
	}
	return write_atomic(dir, LIST_NAME, buf, i * CA_KEY_ID_SIZE, err);
}

/* Generate a key and store it as dir/key-<id>.pem; its id goes to id. */
static int
new_key(const char *dir, char id[CA_KEY_ID_SIZE], struct brk_error *err)
{
	EVP_PKEY_CTX *kctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	struct ca_pub pub;
	char name[64], *pem = NULL;
	long pemlen = 0;
	int r = BRK_ERR_INTERNAL;

	id[0] = '\0';
	if ((kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(kctx) != 1 ||
	    EVP_PKEY_keygen(kctx, &pkey) != 1) {
		r = brk_error_set(
		    err, BRK_ERR_CRYPTO, "cannot generate an Ed25519 key");
		goto out;
	}
	if ((r = pub_from_pkey(pkey, &pub, err)) != 0)
		goto out;
	/* Secure-heap BIO: the PEM text is wiped when the BIO is freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(
		bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (pemlen = BIO_get_mem_data(bio, &pem)) <= 0) {
		r = brk_error_set(
		    err, BRK_ERR_CRYPTO, "cannot encode the CA key");
		goto out;
	}
	snprintf(name, sizeof(name), "key-%.16s.pem", pub.id);
	if ((r = write_atomic(dir, name, pem, (size_t)pemlen, err)) != 0)
		goto out;
	memcpy(id, pub.id, CA_KEY_ID_SIZE);
	r = 0;
out:
	if (pem != NULL && pemlen > 0)
		OPENSSL_cleanse(pem, (size_t)pemlen);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(kctx);
	return r;
}

static int
ca_dir(const char *state_dir, char *buf, size_t len, struct brk_error *err)
{
	int r;

	if (state_dir == NULL || *state_dir == '\0')
		return brk_error_set(
		    err, BRK_ERR_INVALID, "no state directory");
	/* The state directory is shared; create it private if missing but
	 * leave judging it to its owner (the store). */
	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST)
		return brk_error_set(
		    err, -errno, "mkdir %s: %s", state_dir, strerror(errno));
	if ((r = path_join(buf, len, state_dir, "ca", err)) != 0)
		return r;
	if (mkdir(buf, 0700) == 0 && (r = fsync_dir(state_dir, err)) != 0)
		return r; /* a new ca dir must survive a crash too */
	return ensure_dir(buf, err);
}

static int
rotate_in(const char *dir, struct brk_error *err)
{
	key_id ids[CA_MAX_KEYS + 1];
	size_t n = 0;
	int r;

	if ((r = read_list(dir, ids + 1, &n, err)) != 0 &&
	    r != BRK_ERR_NOTFOUND)
		return r;
	if ((r = new_key(dir, ids[0], err)) != 0)
		return r;
	return write_list(dir, (const key_id *)ids, n + 1, err);
}

int
ca_rotate(const char *state_dir, struct brk_error *err)
{
	char dir[4096];
	int r;

	if ((r = ca_dir(state_dir, dir, sizeof(dir), err)) != 0)
		return r;
	return rotate_in(dir, err);
}

int
ca_open(const char *state_dir, struct ca **out, struct brk_error *err)
{
	char dir[4096];
	key_id ids[CA_MAX_KEYS];
	struct ca *ca = NULL;
	size_t i, n = 0;
	int r = BRK_ERR_INTERNAL;

	if (out == NULL)
		return BRK_ERR_INTERNAL;
	*out = NULL;
	if ((r = ca_dir(state_dir, dir, sizeof(dir), err)) != 0)
		goto out;
	if ((r = read_list(dir, ids, &n, err)) == BRK_ERR_NOTFOUND) {
		if ((r = rotate_in(dir, err)) != 0)
			goto out;
		r = read_list(dir, ids, &n, err);
	}
	if (r != 0)
		goto out;
	if ((ca = calloc(1, sizeof(*ca))) == NULL) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = load_key(dir, ids[i], i == 0 ? &ca->pkey : NULL,
			 &ca->keys[i], err)) != 0)
			goto out;
		ca->lines[i] = ca->keys[i].line;
	}
	ca->nkeys = n;
	*out = ca;
	ca = NULL;
	r = 0;
out:
	ca_free(ca);
	return r;
}

int
ca_open_separated(const char *state_dir, void (*lost)(void *), void *arg,
    struct ca **out, struct brk_error *err)
{
	uint8_t blobs[SIGNER_MAX_KEYS][SIGNER_BLOB_LEN];
	struct ca *ca = NULL;
	size_t i, n = 0;
	int r = BRK_ERR_INTERNAL;

	if (out == NULL)
		return BRK_ERR_INTERNAL;
	*out = NULL;
	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
	if ((r = signer_start(
		 state_dir, lost, arg, &ca->signer, blobs, &n, err)) != 0)
		goto out;
	for (i = 0; i < n && i < CA_MAX_KEYS; i++) {
		memcpy(ca->keys[i].blob, blobs[i], ED25519_BLOB_LEN);
		if ((r = pub_from_blob(&ca->keys[i], err)) != 0)
			goto out;
		ca->lines[i] = ca->keys[i].line;
	}
	ca->nkeys = i;
	*out = ca;
	ca = NULL;
	r = 0;
out:
	ca_free(ca);
	return r;
}

pid_t
ca_signer_pid(const struct ca *ca)
{
	return ca == NULL ? 0 : signer_pid(ca->signer);
}

const char *
ca_sign_strerror(int r)
{
	switch (r) {
	case BRK_ERR_UNREACHABLE:
		return "the CA signer process is gone; nothing can be signed "
		       "until brokerd restarts";
	case BRK_ERR_DENIED:
		return "the CA signer refused the document (see brokerd's log)";
	default:
		return brk_strerror(r);
	}
}

void
ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	signer_free(ca->signer);
	EVP_PKEY_free(ca->pkey); /* OpenSSL wipes the private key */
	OPENSSL_cleanse(ca, sizeof(*ca));
	free(ca);
}

const char *
ca_key_id(const struct ca *ca)
{
	return ca == NULL ? NULL : ca->keys[0].id;
}

const char *
ca_public_line(const struct ca *ca)
{
	return ca == NULL ? NULL : ca->keys[0].line;
}

size_t
ca_all_public_lines(const struct ca *ca, const char *const **lines)
{
	if (lines != NULL)
		*lines = ca == NULL ? NULL : ca->lines;
	return ca == NULL ? 0 : ca->nkeys;
}

const uint8_t *
ca_public_blob(const struct ca *ca, size_t i, size_t *lenp)
{
	if (lenp != NULL)
		*lenp = 0;
	if (ca == NULL || i >= ca->nkeys)
		return NULL;
	if (lenp != NULL)
		*lenp = sizeof(ca->keys[i].blob);
	return ca->keys[i].blob;
}

int
ca_sign(const struct ca *ca, const uint8_t *msg, size_t len,
    uint8_t sig[CA_SIG_SIZE])
{
	EVP_MD_CTX *md = NULL;
	size_t siglen = CA_SIG_SIZE;
	int r = BRK_ERR_INTERNAL;

	if (ca != NULL && ca->signer != NULL)
		return signer_sign(ca->signer, msg, len, sig);
	if (ca == NULL || ca->pkey == NULL || sig == NULL ||
	    (msg == NULL && len != 0)) {
		r = BRK_ERR_INVALID;
		goto out;
	}
	/* A context per call: contexts are not shareable, the key is. */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, NULL, NULL, ca->pkey) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, msg, len) != 1 ||
	    siglen != CA_SIG_SIZE) {
		r = BRK_ERR_CRYPTO;
		goto out;
	}
	r = 0;
out:
	EVP_MD_CTX_free(md);
	return r;
}

void
ca_sign_many(const struct ca *ca, size_t n, const uint8_t *const *msgs,
    const size_t *lens, uint8_t (*sigs)[CA_SIG_SIZE], int *rcs)
{
	size_t i, j, k;
	int r;

	if (ca == NULL || ca->signer == NULL) {
		for (i = 0; i < n; i++)
			rcs[i] = ca_sign(ca, msgs[i], lens[i], sigs[i]);
		return;
	}
	for (i = 0; i < n; i += k) {
		k = n - i < SIGNER_BATCH_MAX ? n - i : SIGNER_BATCH_MAX;
		if ((r = signer_sign_many(ca->signer, k, msgs + i, lens + i,
			 sigs + i, rcs + i)) != 0)
			for (j = i; j < i + k; j++) /* none was signed */
				rcs[j] = r;
	}
}
