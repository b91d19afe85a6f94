/*
 * test_signer.c - the CA signer process: what it signs is byte for byte
 * what the in-process key signs, it signs nothing but the broker's three
 * documents, its sandbox holds, and losing it fails closed.
 *
 * Ed25519 is deterministic, so the same body signed in-process (ca_open)
 * and through the signer (ca_open_separated) on the same key directory
 * gives the same signature, hence the same certificate, snapshot or anchor.
 */
#include "sshtest.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/evp.h>

#include "ca.h"
#include "errors.h"
#include "signer.h"
#include "snapshot.h"
#include "snapshot_sign.h"
#include "sshbuf.h"
#include "sshcert.h"
#include "sshkey.h"

#define ANCHOR "broker-audit-anchor-v1\n{\"hash\":\"00\",\"key_id\":\"x\"," \
    "\"seq\":1,\"ts\":1,\"v\":1}\n"

static struct ca *
open_local(const char *dir)
{
	struct brk_error err = { "" };
	struct ca *ca = NULL;

	cr_assert_eq(ca_open(dir, &ca, &err), 0, "%s", err.msg);
	return ca;
}

static void
set_flag(void *arg)
{
	atomic_store((atomic_int *)arg, 1);
}

static struct ca *
open_separated(const char *dir, atomic_int *lost)
{
	struct brk_error err = { "" };
	struct ca *ca = NULL;
	int r = ca_open_separated(dir, lost ? set_flag : NULL, lost, &ca,
	    &err);

	cr_assert_eq(r, 0, "ca_open_separated: %s: %s", brk_strerror(r),
	    err.msg);
	cr_assert_gt(ca_signer_pid(ca), 0);
	return ca;
}

static struct sshkey *
user_key(const char *dir, const char *name, const char *type,
    const char *bits)
{
	char *pub = keygen(dir, name, type, bits), *line;
	struct sshkey *k = NULL;

	line = slurp(pub, NULL);
	cr_assert_eq(sshkey_parse(line, strlen(line), &k, NULL), 0);
	free(line);
	free(pub);
	return k;
}

/* The body and signature of a certificate line: blob = tbs || sig. */
static void
cert_split(const char *line, struct sshbuf **blob, size_t *tbslen,
    const uint8_t **sig)
{
	const char *b64 = strchr(line, ' ') + 1;
	size_t n = (size_t)(strchr(b64, ' ') - b64);

	cr_assert_not_null(*blob = sshbuf_new());
	cr_assert_eq(sshbuf_put_base64_decoded(*blob, b64, n), 0);
	/* trailer: u32 len, string "ssh-ed25519", string sig[64] */
	*tbslen = sshbuf_len(*blob) - (4 + 4 + 11 + 4 + 64);
	*sig = sshbuf_ptr(*blob) + sshbuf_len(*blob) - 64;
}

static struct sshcert_params
params(const char *const *principals, size_t n)
{
	time_t now = time(NULL);

	return (struct sshcert_params){
		.serial = 7, .key_id = "broker:r7:alice",
		.principals = principals, .nprincipals = n,
		.valid_after = (uint64_t)now - 60,
		.valid_before = (uint64_t)now + 3600,
		.extensions = sshcert_default_extensions,
		.nextensions = sshcert_ndefault_extensions,
		.force_command = "/bin/true", .source_address = "10.0.0.0/8",
	};
}

/* Fails when the signer signs with another key, hashes the body, or signs
 * anything but the exact bytes: checked by breaking signer_sign to send
 * len - 1 bytes (every comparison below went red). */
Test(signer, byte_identical_to_in_process, .timeout = 120)
{
	static const char *const types[][2] = { { "ed25519", NULL },
	    { "ecdsa", "256" }, { "rsa", "2048" } };
	static const char *const principals[] = { "alice", "deploy" };
	char *dir = tmpdir_new(), *line, *t1, *t2, name[16];
	struct brk_error err = { "" };
	struct ca *loc = open_local(dir), *sep = open_separated(dir, NULL);
	struct sshcert_params p = params(principals, 2);
	struct snapshot *s;
	struct sshbuf *blob;
	struct sshkey *k;
	const uint8_t *sig;
	uint8_t s1[CA_SIG_SIZE], s2[CA_SIG_SIZE];
	size_t i, tbslen;

	cr_assert_str_eq(ca_public_line(loc), ca_public_line(sep));
	cr_assert_str_eq(ca_key_id(loc), ca_key_id(sep));
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "u%zu", i);
		k = user_key(dir, name, types[i][0], types[i][1]);
		/* issued through the signer, re-signed in process */
		cr_assert_eq(sshcert_issue(sep, k, &p, &line, &err), 0, "%s",
		    err.msg);
		cert_split(line, &blob, &tbslen, &sig);
		cr_assert_eq(ca_sign(loc, sshbuf_ptr(blob), tbslen, s1), 0);
		cr_assert(memcmp(s1, sig, CA_SIG_SIZE) == 0, "%s cert differs",
		    types[i][0]);
		sshbuf_free(blob);
		free(line);
		/* issued in process, re-signed through the signer */
		cr_assert_eq(sshcert_issue(loc, k, &p, &line, &err), 0);
		cert_split(line, &blob, &tbslen, &sig);
		cr_assert_eq(ca_sign(sep, sshbuf_ptr(blob), tbslen, s2), 0);
		cr_assert(memcmp(s2, sig, CA_SIG_SIZE) == 0);
		sshbuf_free(blob);
		free(line);
		sshkey_free(k);
	}
	/* snapshots: the whole signed text */
	cr_assert_eq(snapshot_new("host:web-1", 1700000000, 1700000300, &s,
	    &err), 0);
	cr_assert_eq(snapshot_add_grant(s, "alice", "alice", 1700003600, 41,
	    &err), 0);
	cr_assert_eq(snapshot_add_block(s, "user:carol", "carol", 1700000600,
	    "r\xc3\xa9son \"q\"", &err), 0);
	cr_assert_eq(snapshot_sign(loc, s, &t1), 0);
	cr_assert_eq(snapshot_sign(sep, s, &t2), 0);
	cr_assert_str_eq(t1, t2);
	free(t1);
	free(t2);
	snapshot_free(s);
	/* audit anchors */
	cr_assert_eq(ca_sign(loc, (const uint8_t *)ANCHOR, strlen(ANCHOR),
	    s1), 0);
	cr_assert_eq(ca_sign(sep, (const uint8_t *)ANCHOR, strlen(ANCHOR),
	    s2), 0);
	cr_assert(memcmp(s1, s2, CA_SIG_SIZE) == 0);
	ca_free(sep);
	ca_free(loc);
	tmpdir_free(dir);
}

/* A certificate body the daemon could build, then bent one way or another;
 * each bent one is refused and the channel still works afterwards.
 * Fails when a check is dropped from signer_check.c: checked by removing
 * the user-type check and the empty-principals check in turn. */
Test(signer, refuses_what_the_broker_does_not_make, .timeout = 60)
{
	static const char *const principals[] = { "alice" };
	char *dir = tmpdir_new(), *line, *dir2 = tmpdir_new();
	struct brk_error err = { "" };
	struct ca *sep = open_separated(dir, NULL), *other = open_local(dir2);
	struct sshcert_params p = params(principals, 1);
	struct sshbuf *blob;
	struct sshkey *k = user_key(dir, "u", "ed25519", NULL);
	const uint8_t *sig, *cablob;
	uint8_t s[CA_SIG_SIZE], *m;
	size_t tbslen, cal, typeoff;

	cr_assert_eq(sshcert_issue(sep, k, &p, &line, &err), 0, "%s", err.msg);
	cert_split(line, &blob, &tbslen, &sig);
	m = malloc(tbslen + 1);
	memcpy(m, sshbuf_ptr(blob), tbslen);
	cr_assert_eq(ca_sign(sep, m, tbslen, s), 0);
	/* arbitrary bytes, and the other documents' magic with junk */
	cr_assert_eq(ca_sign(sep, (const uint8_t *)"m", 1, s), BRK_ERR_DENIED);
	cr_assert_eq(ca_sign(sep, (const uint8_t *)SNAPSHOT_MAGIC "\n{\n}\n",
	    23, s), BRK_ERR_DENIED);
	cr_assert_eq(ca_sign(sep, (const uint8_t *)"broker-audit-anchor-v1\n"
	    "{}\nsig\n", 30, s), BRK_ERR_DENIED);
	/* trailing byte */
	m[tbslen] = 0;
	cr_assert_eq(ca_sign(sep, m, tbslen + 1, s), BRK_ERR_DENIED);
	/* truncated */
	cr_assert_eq(ca_sign(sep, m, tbslen - 1, s), BRK_ERR_DENIED);
	/* host certificate: the u32 type follows type, nonce, pk, serial */
	typeoff = 4 + 32 + 4 + 32 + 4 + 32 + 8;
	cr_assert_eq(m[typeoff + 3], 1);
	m[typeoff + 3] = 2;
	cr_assert_eq(ca_sign(sep, m, tbslen, s), BRK_ERR_DENIED);
	m[typeoff + 3] = 1;
	/* another CA key as the signing key */
	cablob = ca_public_blob(other, 0, &cal);
	memcpy(m + tbslen - cal, cablob, cal);
	cr_assert_eq(ca_sign(sep, m, tbslen, s), BRK_ERR_DENIED);
	/* and a valid body still signs: the channel is intact */
	memcpy(m, sshbuf_ptr(blob), tbslen);
	cr_assert_eq(ca_sign(sep, m, tbslen, s), 0);
	cr_assert(memcmp(s, sig, CA_SIG_SIZE) == 0);
	free(m);
	sshbuf_free(blob);
	free(line);
	sshkey_free(k);
	ca_free(other);
	ca_free(sep);
	tmpdir_free(dir);
	tmpdir_free(dir2);
}

/*
 * A batch (ca_sign_many(): all requests in one write, the replies in one)
 * is checked document by document: valid bodies among refused ones sign
 * byte for byte as in process, each refused one fails alone, a batch
 * larger than SIGNER_BATCH_MAX goes in several, and the channel is intact
 * afterwards.  Fails when the signer checks only the first document of
 * what it read: checked by skipping signer_check() for every frame but the
 * first of a read (the junk in slots 1 and 3 was signed); fails when the
 * replies come back out of order: checked by writing each batch's replies
 * reversed.
 */
Test(signer, batch_checks_each_document, .timeout = 120)
{
	static const char *const principals[] = { "alice" };
	char *dir = tmpdir_new(), *line;
	struct brk_error err = { "" };
	struct ca *loc = open_local(dir), *sep = open_separated(dir, NULL);
	struct sshcert_params p = params(principals, 1);
	struct sshkey *k = user_key(dir, "u", "ed25519", NULL);
	enum { N = SIGNER_BATCH_MAX + 6 };
	struct sshbuf *blobs[N];
	const uint8_t *msgs[N], *sig;
	size_t lens[N], i, tbslen;
	uint8_t (*sigs)[CA_SIG_SIZE] = calloc(N, CA_SIG_SIZE), one[CA_SIG_SIZE];
	int rcs[N];

	for (i = 0; i < N; i++) {
		blobs[i] = NULL;
		if (i % 4 == 1) { /* junk */
			msgs[i] = (const uint8_t *)"m";
			lens[i] = 1;
			continue;
		}
		if (i % 4 == 3) { /* an anchor's magic with junk */
			msgs[i] = (const uint8_t *)"broker-audit-anchor-v1\n"
						    "{}\nsig\n";
			lens[i] = 30;
			continue;
		}
		p.serial = 100 + i; /* each body its own */
		cr_assert_eq(sshcert_issue(loc, k, &p, &line, &err), 0);
		cert_split(line, &blobs[i], &tbslen, &sig);
		free(line);
		msgs[i] = sshbuf_ptr(blobs[i]);
		lens[i] = tbslen;
	}
	ca_sign_many(sep, N, msgs, lens, sigs, rcs);
	for (i = 0; i < N; i++) {
		if (i % 4 == 1 || i % 4 == 3) {
			cr_assert_eq(rcs[i], BRK_ERR_DENIED, "slot %zu: %d", i,
			    rcs[i]);
			continue;
		}
		cr_assert_eq(rcs[i], 0, "slot %zu: %d", i, rcs[i]);
		/* the trailer's signature is the in-process one */
		cr_assert(memcmp(sigs[i], sshbuf_ptr(blobs[i]) +
		    sshbuf_len(blobs[i]) - CA_SIG_SIZE, CA_SIG_SIZE) == 0,
		    "slot %zu signed differently", i);
	}
	/* bad arguments: refused before anything is sent */
	cr_assert_eq(signer_sign_many(NULL, 1, msgs, lens, sigs, rcs),
	    BRK_ERR_INVALID);
	lens[0] = 0;
	ca_sign_many(sep, 1, msgs, lens, sigs, rcs);
	cr_assert_eq(rcs[0], BRK_ERR_INVALID);
	/* and one at a time still works */
	cr_assert_eq(ca_sign(sep, (const uint8_t *)ANCHOR, strlen(ANCHOR),
	    one), 0);
	for (i = 0; i < N; i++)
		sshbuf_free(blobs[i]);
	free(sigs);
	sshkey_free(k);
	ca_free(sep);
	ca_free(loc);
	tmpdir_free(dir);
}

/* Build a certificate body by hand for signer_check(). */
struct tbs {
	uint32_t type;
	const char *principals[3];
	size_t np;
	uint64_t va, vb;
	const char *opt, *optval;
	const char *ext;
	int extval;	/* an extension with a value */
};

static struct sshbuf *
tbs_build(const struct tbs *t, const uint8_t *pk, const uint8_t *ca,
    size_t calen)
{
	struct sshbuf *b = sshbuf_new(), *p = sshbuf_new(), *o = sshbuf_new(),
	    *e = sshbuf_new(), *v = sshbuf_new();
	uint8_t nonce[32] = { 1 };
	size_t i;

	for (i = 0; i < t->np; i++)
		sshbuf_put_cstring(p, t->principals[i]);
	if (t->opt != NULL) {
		sshbuf_put_cstring(v, t->optval);
		sshbuf_put_cstring(o, t->opt);
		sshbuf_put_stringb(o, v);
	}
	if (t->ext != NULL) {
		sshbuf_put_cstring(e, t->ext);
		sshbuf_put_string(e, "x", t->extval ? 1 : 0);
	}
	sshbuf_put_cstring(b, "ssh-ed25519-cert-v01@openssh.com");
	sshbuf_put_string(b, nonce, sizeof(nonce));
	sshbuf_put_string(b, pk, 32);
	sshbuf_put_u64(b, 5);
	sshbuf_put_u32(b, t->type);
	sshbuf_put_cstring(b, "broker:r5:alice");
	sshbuf_put_stringb(b, p);
	sshbuf_put_u64(b, t->va);
	sshbuf_put_u64(b, t->vb);
	sshbuf_put_stringb(b, o);
	sshbuf_put_stringb(b, e);
	sshbuf_put_string(b, NULL, 0);
	sshbuf_put_string(b, ca, calen);
	sshbuf_free(p);
	sshbuf_free(o);
	sshbuf_free(e);
	sshbuf_free(v);
	return b;
}

static int
tbs_check(const struct tbs *t, const uint8_t *ca, size_t calen,
    const char **why)
{
	uint8_t pk[32];
	struct sshbuf *b;
	enum signer_kind kind;
	int r;

	/* a valid Ed25519 public key: the CA's own */
	memcpy(pk, ca + calen - 32, 32);
	b = tbs_build(t, pk, ca, calen);
	r = signer_check(sshbuf_ptr(b), sshbuf_len(b), ca, calen, 1700000000,
	    &kind, why);
	cr_assert_eq(kind, r == 0 ? SIGNER_KIND_CERT : SIGNER_KIND_NONE);
	sshbuf_free(b);
	return r;
}

/* Fails when a bound is widened in signer_check.c: checked by raising
 * VALID_SPAN_MAX to UINT64_MAX (the long-validity cases went red). */
Test(signer, check_bounds_certificates)
{
	char *dir = tmpdir_new();
	struct ca *ca = open_local(dir);
	const uint8_t *cab;
	const char *why;
	size_t cal;
	const uint64_t now = 1700000000, year = 366 * 86400;
	struct tbs ok = { .type = 1, .principals = { "alice" }, .np = 1,
	    .va = now - 60, .vb = now + 3600, .opt = "force-command",
	    .optval = "/bin/true", .ext = "permit-pty" }, t;

	cab = ca_public_blob(ca, 0, &cal);
	cr_assert_eq(tbs_check(&ok, cab, cal, &why), 0, "%s", why);
	t = ok, t.type = 2;
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	cr_assert_str_eq(why, "not a user certificate");
	t = ok, t.np = 0;	/* OpenSSH: valid for any principal */
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	t = ok, t.principals[0] = "a,b";
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	t = ok, t.principals[0] = "";
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	t = ok, t.vb = t.va;
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	t = ok, t.vb = t.va + year + 3600;	/* the most a grant can ask */
	cr_assert_eq(tbs_check(&t, cab, cal, &why), 0, "%s", why);
	t = ok, t.vb = t.va + year + 3601;
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	t = ok, t.va = 0, t.vb = UINT64_MAX;	/* "forever" */
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	t = ok, t.va = now + 2 * year, t.vb = t.va + 60;
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	t = ok, t.opt = "no-touch-required";
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	t = ok, t.optval = "a\nb";
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	t = ok, t.ext = "permit-everything";
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	t = ok, t.extval = 1;
	cr_assert_eq(tbs_check(&t, cab, cal, &why), BRK_ERR_DENIED);
	ca_free(ca);
	tmpdir_free(dir);
}

Test(signer, check_text_documents)
{
	static const uint8_t cab[51] = { 0 };
	enum signer_kind kind;
	const char *why;
	const char *good_snap = SNAPSHOT_MAGIC "\n{\"a\":1}\n";

#define CHECK(s) signer_check((const uint8_t *)(s), strlen(s), cab, \
    sizeof(cab), 1700000000, &kind, &why)
	cr_assert_eq(CHECK(good_snap), 0);
	cr_assert_eq(kind, SIGNER_KIND_SNAPSHOT);
	cr_assert_eq(CHECK(ANCHOR), 0);
	cr_assert_eq(kind, SIGNER_KIND_ANCHOR);
	/* a second line, a control character, no final newline, a signed
	 * document signed again, a line that is not an object */
	cr_assert_eq(CHECK(SNAPSHOT_MAGIC "\n{}\n{}\n"), BRK_ERR_DENIED);
	cr_assert_eq(CHECK(SNAPSHOT_MAGIC "\n{\"a\":\"\t\"}\n"),
	    BRK_ERR_DENIED);
	cr_assert_eq(CHECK(SNAPSHOT_MAGIC "\n{}"), BRK_ERR_DENIED);
	cr_assert_eq(CHECK(SNAPSHOT_MAGIC "\n{}\nsig ed25519 x y\n"),
	    BRK_ERR_DENIED);
	cr_assert_eq(CHECK("broker-audit-anchor-v1\n[1]\n"), BRK_ERR_DENIED);
	cr_assert_eq(CHECK("broker-snapshot-v0\n{}\n"), BRK_ERR_DENIED);
	cr_assert_eq(CHECK("SSH-2.0-x\r\n"), BRK_ERR_DENIED);
	cr_assert_eq(kind, SIGNER_KIND_NONE);
#undef CHECK
	cr_assert_eq(signer_check((const uint8_t *)"", 0, cab, sizeof(cab), 0,
	    &kind, &why), BRK_ERR_DENIED);
}

static void
status_field(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], line[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	cr_assert_not_null(f = fopen(path, "r"));
	val[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, strlen(key)) != 0)
			continue;
		p = line + strlen(key);
		while (*p == ' ' || *p == '\t')
			p++;
		snprintf(val, len, "%.*s", (int)strcspn(p, "\n"), p);
	}
	fclose(f);
	cr_assert_neq(val[0], '\0', "no %s in %s", key, path);
}

/* Fails when the filter or a prctl is dropped from signer_sandbox():
 * checked by removing the PR_SET_SECCOMP call (socket() succeeded,
 * Seccomp: 0) and the DENY(__NR_socket) line (the child was killed). */
Test(signer, sandbox_refuses_network_and_files, .timeout = 30)
{
	char val[64], buf[64];
	int sv[2], n, status, res[3];
	pid_t pid;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_geq(pid = fork(), 0);
	if (pid == 0) {
		close(sv[0]);
		if (signer_sandbox(sv[1]) != 0)
			_exit(2);
		res[0] = socket(AF_INET, SOCK_STREAM, 0) < 0 ? errno : 0;
		res[1] = open("/etc/hostname", O_RDONLY) < 0 ? errno : 0;
		res[2] = 0;
		if (write(sv[1], res, sizeof(res)) != sizeof(res))
			_exit(3);
		if (read(sv[1], buf, 1) != 1)	/* until the parent looked */
			_exit(4);
		/* anything off the list kills the whole process */
		(void)getppid();
		_exit(0);
	}
	close(sv[1]);
	cr_assert_eq(read(sv[0], res, sizeof(res)), (ssize_t)sizeof(res));
	cr_assert_eq(res[0], EACCES, "socket() was not refused: %d", res[0]);
	cr_assert_eq(res[1], EACCES, "open() was not refused: %d", res[1]);
	status_field(pid, "Seccomp:", val, sizeof(val));
	cr_assert_str_eq(val, "2");
	status_field(pid, "NoNewPrivs:", val, sizeof(val));
	cr_assert_str_eq(val, "1");
	/* descriptors: the channel and stderr, nothing else */
	snprintf(buf, sizeof(buf), "ls /proc/%ld/fd | wc -l", (long)pid);
	{
		FILE *f = popen(buf, "r");

		cr_assert_not_null(f);
		cr_assert_eq(fscanf(f, "%d", &n), 1);
		pclose(f);
	}
	cr_assert_eq(n, 2, "the sandboxed child has %d descriptors", n);
	cr_assert_eq(write(sv[0], "x", 1), 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	    "getppid() did not kill the sandboxed child (status %#x)", status);
	close(sv[0]);
}

/* Fails when a dead signer is not noticed or a failed exchange passes for
 * a signature: checked by making signer_sign skip its `dead` checks and
 * start from r = 0 (the UNREACHABLE assertion went red). */
Test(signer, killed_signer_fails_closed, .timeout = 30)
{
	static const char *const principals[] = { "alice" };
	char *dir = tmpdir_new(), *line = NULL;
	struct brk_error err = { "" };
	atomic_int lost = 0;
	struct ca *sep = open_separated(dir, &lost);
	struct sshcert_params p = params(principals, 1);
	struct sshkey *k = user_key(dir, "u", "ed25519", NULL);
	uint8_t s[CA_SIG_SIZE];
	int i;

	cr_assert_eq(sshcert_issue(sep, k, &p, &line, &err), 0, "%s", err.msg);
	free(line);
	line = NULL;
	cr_assert_eq(lost, 0);
	cr_assert_eq(kill(ca_signer_pid(sep), SIGKILL), 0);
	for (i = 0; i < 500 && !atomic_load(&lost); i++)
		poll(NULL, 0, 10);
	cr_assert_eq(atomic_load(&lost), 1, "the loss was not reported");
	cr_assert_eq(ca_sign(sep, (const uint8_t *)ANCHOR, strlen(ANCHOR), s),
	    BRK_ERR_UNREACHABLE);
	cr_assert_eq(sshcert_issue(sep, k, &p, &line, &err),
	    BRK_ERR_UNREACHABLE);
	cr_assert_null(line);
	cr_assert(strstr(err.msg, "CA signer process is gone") != NULL,
	    "unclear error: %s", err.msg);
	sshkey_free(k);
	ca_free(sep);
	tmpdir_free(dir);
}

/* The signer reports why it cannot start: a key file others can read. */
Test(signer, start_errors_reach_the_daemon, .timeout = 30)
{
	char *dir = tmpdir_new(), *kp;
	struct brk_error err = { "" };
	struct ca *ca = open_local(dir), *sep = NULL;

	cr_assert_gt(asprintf(&kp, "%s/ca/key-%s.pem", dir, ca_key_id(ca)), 0);
	cr_assert_eq(chmod(kp, 0644), 0);
	cr_assert_eq(ca_open_separated(dir, NULL, NULL, &sep, &err),
	    BRK_ERR_PERM);
	cr_assert_null(sep);
	cr_assert(strstr(err.msg, "key-") != NULL, "%s", err.msg);
	free(kp);
	ca_free(ca);
	tmpdir_free(dir);
}

/* A signer that stops answering is as good as gone: after SIGNER_TIMEOUT_MS
 * the request fails, the signer is killed and its loss reported.  Fails
 * when the daemon waits forever: checked by dropping the SO_RCVTIMEO
 * setsockopt (the test hit its own timeout). */
Test(signer, hung_signer_times_out, .timeout = 60)
{
	char *dir = tmpdir_new();
	atomic_int lost = 0;
	struct ca *sep = open_separated(dir, &lost);
	uint8_t s[CA_SIG_SIZE];
	time_t t0;
	int i;

	cr_assert_eq(ca_sign(sep, (const uint8_t *)ANCHOR, strlen(ANCHOR), s),
	    0);
	cr_assert_eq(kill(ca_signer_pid(sep), SIGSTOP), 0);
	t0 = time(NULL);
	cr_assert_eq(ca_sign(sep, (const uint8_t *)ANCHOR, strlen(ANCHOR), s),
	    BRK_ERR_UNREACHABLE);
	cr_assert_geq(time(NULL) - t0, SIGNER_TIMEOUT_MS / 1000 - 1);
	for (i = 0; i < 500 && !atomic_load(&lost); i++)
		poll(NULL, 0, 10);
	cr_assert_eq(atomic_load(&lost), 1, "the hung signer was not reaped");
	ca_free(sep);
	tmpdir_free(dir);
}
