/*
 * test_ca.c - the CA: first start, reopening, refusing unsafe files,
 * rotation keeping previous public keys, and signing from many threads.
 */
#include "sshtest.h"

#include <pthread.h>

#include <openssl/evp.h>

#include "ca.h"
#include "errors.h"
#include "sshkey.h"

static struct ca *
open_ok(const char *dir)
{
	struct brk_error err = { "" };
	struct ca *ca = NULL;
	int r = ca_open(dir, &ca, &err);

	cr_assert_eq(r, 0, "ca_open: %s: %s", brk_strerror(r), err.msg);
	cr_assert_not_null(ca);
	return ca;
}

static char *
key_path(const char *dir, const struct ca *ca)
{
	char *p;

	cr_assert_gt(asprintf(&p, "%s/ca/key-%s.pem", dir, ca_key_id(ca)), 0);
	return p;
}

/* Ed25519-verify sig over msg with the key in an "ssh-ed25519" line. */
static int
verify(const char *line, const uint8_t *msg, size_t len, const uint8_t *sig)
{
	struct sshkey *k;
	EVP_PKEY *pk;
	EVP_MD_CTX *md;
	int ok;

	cr_assert_eq(sshkey_parse(line, strlen(line), &k, NULL), 0);
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
	    sshkey_ed25519_pk(k), 32);
	md = EVP_MD_CTX_new();
	cr_assert_eq(EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk), 1);
	ok = EVP_DigestVerify(md, sig, 64, msg, len) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	sshkey_free(k);
	return ok;
}

Test(ca, first_start_and_reopen)
{
	char *dir = tmpdir_new(), *kp, *cur, *pem, id[SSHKEY_SHORT_ID_SIZE];
	char want[128];
	struct ca *ca, *ca2;
	struct sshkey *k;
	struct stat st;
	const uint8_t *blob;
	const char *const *lines;
	size_t len;

	ca = open_ok(dir);
	cr_assert_eq(strlen(ca_key_id(ca)), 16);
	/* Modes: ca dir 0700, key 0600, PKCS#8 PEM. */
	kp = path_in(dir, "ca");
	cr_assert_eq(stat(kp, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	free(kp);
	kp = key_path(dir, ca);
	cr_assert_eq(stat(kp, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	pem = slurp(kp, NULL);
	cr_assert_eq(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
	free(pem);
	cur = path_in(dir, "ca/current");
	pem = slurp(cur, NULL);
	snprintf(want, sizeof(want), "%s\n", ca_key_id(ca));
	cr_assert_str_eq(pem, want);
	free(pem);
	/* The public line: parseable, named for its id, id = SHA-256(blob). */
	k = NULL;
	cr_assert_eq(sshkey_parse(ca_public_line(ca),
	    strlen(ca_public_line(ca)), &k, NULL), 0);
	cr_assert_str_eq(sshkey_type(k), "ssh-ed25519");
	snprintf(want, sizeof(want), "broker-ca-%s", ca_key_id(ca));
	cr_assert_str_eq(sshkey_comment(k), want);
	blob = sshkey_blob(k, &len);
	cr_assert_eq(sshkey_short_id(blob, len, id), 0);
	cr_assert_str_eq(id, ca_key_id(ca));
	cr_assert_eq(ca_public_blob(ca, 0, &len) != NULL, 1);
	cr_assert_eq(memcmp(ca_public_blob(ca, 0, NULL), blob, len), 0);
	cr_assert_null(ca_public_blob(ca, 1, &len));
	cr_assert_eq(ca_all_public_lines(ca, &lines), 1);
	cr_assert_str_eq(lines[0], ca_public_line(ca));
	sshkey_free(k);
	/* Reopening loads the same key. */
	ca2 = open_ok(dir);
	cr_assert_str_eq(ca_key_id(ca2), ca_key_id(ca));
	cr_assert_str_eq(ca_public_line(ca2), ca_public_line(ca));
	ca_free(ca2);
	ca_free(ca);
	ca_free(NULL);
	free(cur);
	free(kp);
	tmpdir_free(dir);
}

Test(ca, refuses_loose_key_file)
{
	char *dir = tmpdir_new(), *kp;
	struct brk_error err = { "" };
	struct ca *ca;
	mode_t modes[] = { 0644, 0640, 0604, 0660, 0601 };
	size_t i;

	ca = open_ok(dir);
	kp = key_path(dir, ca);
	ca_free(ca);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		cr_assert_eq(chmod(kp, modes[i]), 0);
		ca = (struct ca *)1;
		cr_assert_eq(ca_open(dir, &ca, &err), BRK_ERR_PERM);
		cr_assert_null(ca);
		cr_assert_not_null(strstr(err.msg, kp), "%s", err.msg);
		char m[8];
		snprintf(m, sizeof(m), "%04o", (unsigned)modes[i]);
		cr_assert_not_null(strstr(err.msg, m), "%s", err.msg);
	}
	cr_assert_eq(chmod(kp, 0400), 0);
	ca_free(open_ok(dir));
	free(kp);
	tmpdir_free(dir);
}

Test(ca, refuses_loose_dir_and_symlinks)
{
	char *dir = tmpdir_new(), *cadir, *kp, *moved;
	struct brk_error err = { "" };
	struct ca *ca;

	ca = open_ok(dir);
	kp = key_path(dir, ca);
	ca_free(ca);
	cadir = path_in(dir, "ca");
	cr_assert_eq(chmod(cadir, 0755), 0);
	cr_assert_eq(ca_open(dir, &ca, &err), BRK_ERR_PERM);
	cr_assert_not_null(strstr(err.msg, "0755"), "%s", err.msg);
	cr_assert_eq(chmod(cadir, 0700), 0);
	/* A key file replaced by a symlink is refused, not followed. */
	moved = path_in(dir, "elsewhere.pem");
	cr_assert_eq(rename(kp, moved), 0);
	cr_assert_eq(symlink(moved, kp), 0);
	cr_assert_eq(ca_open(dir, &ca, &err), BRK_ERR_PERM);
	cr_assert_not_null(strstr(err.msg, "symlink"), "%s", err.msg);
	cr_assert_eq(unlink(kp), 0);
	/* A missing key file is an error, never a silent new key. */
	cr_assert_eq(ca_open(dir, &ca, &err), BRK_ERR_INVALID);
	cr_assert_eq(rename(moved, kp), 0);
	ca_free(open_ok(dir));
	free(moved);
	free(kp);
	free(cadir);
	tmpdir_free(dir);
}

Test(ca, refuses_corrupt_files)
{
	char *dir = tmpdir_new(), *kp, *cur, *good;
	struct brk_error err = { "" };
	struct ca *ca;

	ca = open_ok(dir);
	kp = key_path(dir, ca);
	cur = path_in(dir, "ca/current");
	good = slurp(cur, NULL);
	ca_free(ca);
	spew(cur, "not-an-id\n", 10);
	cr_assert_eq(chmod(cur, 0600), 0);
	cr_assert_eq(ca_open(dir, &ca, &err), BRK_ERR_INVALID);
	spew(cur, "0123456789abcdef\n", 17);
	cr_assert_eq(ca_open(dir, &ca, &err), BRK_ERR_INVALID);
	cr_assert_not_null(strstr(err.msg, "missing"), "%s", err.msg);
	spew(cur, good, strlen(good));
	spew(kp, "garbage", 7);
	cr_assert_eq(ca_open(dir, &ca, &err), BRK_ERR_INVALID);
	cr_assert_not_null(strstr(err.msg, "not an Ed25519"), "%s", err.msg);
	free(good);
	free(cur);
	free(kp);
	tmpdir_free(dir);
}

Test(ca, rotation_keeps_previous_keys)
{
	char *dir = tmpdir_new(), *cur, *text;
	char id1[CA_KEY_ID_SIZE], id2[CA_KEY_ID_SIZE], line1[256];
	struct brk_error err = { "" };
	const char *const *lines;
	struct ca *ca;
	uint8_t sig[64];
	size_t i;

	ca = open_ok(dir);
	snprintf(id1, sizeof(id1), "%s", ca_key_id(ca));
	snprintf(line1, sizeof(line1), "%s", ca_public_line(ca));
	ca_free(ca);
	cr_assert_eq(ca_rotate(dir, &err), 0, "%s", err.msg);
	ca = open_ok(dir);
	snprintf(id2, sizeof(id2), "%s", ca_key_id(ca));
	cr_assert_str_neq(id1, id2);
	cr_assert_eq(ca_all_public_lines(ca, &lines), 2);
	cr_assert_str_eq(lines[0], ca_public_line(ca));
	cr_assert_str_eq(lines[1], line1);
	cr_assert_not_null(ca_public_blob(ca, 1, NULL));
	/* Signing uses the new key. */
	cr_assert_eq(ca_sign(ca, (const uint8_t *)"m", 1, sig), 0);
	cr_assert(verify(lines[0], (const uint8_t *)"m", 1, sig));
	cr_assert(!verify(lines[1], (const uint8_t *)"m", 1, sig));
	ca_free(ca);
	cur = path_in(dir, "ca/current");
	text = slurp(cur, NULL);
	cr_assert_eq(strncmp(text, id2, 16), 0);
	cr_assert_eq(strncmp(text + 17, id1, 16), 0);
	free(text);
	/* The list is capped; the newest keys stay. */
	for (i = 0; i < CA_MAX_KEYS + 2; i++)
		cr_assert_eq(ca_rotate(dir, &err), 0, "%s", err.msg);
	ca = open_ok(dir);
	cr_assert_eq(ca_all_public_lines(ca, &lines), CA_MAX_KEYS);
	ca_free(ca);
	free(cur);
	tmpdir_free(dir);
}

struct job {
	const struct ca *ca;
	int id;
	int failures;
};

#define PER_THREAD 300

static void *
signer(void *arg)
{
	struct job *j = arg;
	uint8_t msg[64], sig[64];
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		memset(msg, 0, sizeof(msg));
		snprintf((char *)msg, sizeof(msg), "thread %d message %d",
		    j->id, i);
		if (ca_sign(j->ca, msg, sizeof(msg), sig) != 0 ||
		    !verify(ca_public_line(j->ca), msg, sizeof(msg), sig))
			j->failures++;
	}
	return NULL;
}

Test(ca, sign_from_threads)
{
	char *dir = tmpdir_new();
	struct ca *ca = open_ok(dir);
	struct job jobs[4];
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++) {
		jobs[i] = (struct job){ ca, i, 0 };
		cr_assert_eq(pthread_create(&t[i], NULL, signer, &jobs[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		cr_assert_eq(pthread_join(t[i], NULL), 0);
		cr_assert_eq(jobs[i].failures, 0, "thread %d: %d bad", i,
		    jobs[i].failures);
	}
	cr_assert_eq(ca_sign(NULL, (const uint8_t *)"", 0, (uint8_t[64]){ 0 }),
	    BRK_ERR_INVALID);
	ca_free(ca);
	tmpdir_free(dir);
}
