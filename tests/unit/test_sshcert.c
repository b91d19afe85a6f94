/*
 * test_sshcert.c - certificates for every user key type, read back by
 * ssh-keygen -L (which also checks the CA signature); parameter checks; a
 * throughput figure.
 */
#include "sshtest.h"

#include <pthread.h>
#include <time.h>

#include "ca.h"
#include "errors.h"
#include "sshcert.h"
#include "sshkey.h"

struct kt {
	const char *type, *bits, *cert;
};

static const struct kt types[] = {
	{ "ed25519", NULL, "ssh-ed25519-cert-v01@openssh.com" },
	{ "ecdsa", "256", "ecdsa-sha2-nistp256-cert-v01@openssh.com" },
	{ "ecdsa", "384", "ecdsa-sha2-nistp384-cert-v01@openssh.com" },
	{ "ecdsa", "521", "ecdsa-sha2-nistp521-cert-v01@openssh.com" },
	{ "rsa", "2048", "ssh-rsa-cert-v01@openssh.com" },
	{ "rsa", "3072", "ssh-rsa-cert-v01@openssh.com" },
};

static struct ca *
open_ca(const char *dir)
{
	struct brk_error err = { "" };
	struct ca *ca = NULL;
	char *state = path_in(dir, "state");

	cr_assert_eq(ca_open(state, &ca, &err), 0, "%s", err.msg);
	free(state);
	return ca;
}

static struct sshkey *
user_key(const char *dir, const struct kt *t)
{
	char *pub = keygen(dir, "user", t->type, t->bits), *line;
	struct sshkey *k = NULL;

	line = slurp(pub, NULL);
	cr_assert_eq(sshkey_parse(line, strlen(line), &k, NULL), 0);
	free(line);
	free(pub);
	return k;
}

/* The indented items under heading in ssh-keygen -L output, "a,b,c". */
static char *
items(const char *out, const char *heading)
{
	const char *p = strstr(out, heading), *nl, *s;
	char *res = calloc(1, strlen(out) + 1);

	cr_assert_not_null(p, "no %s in %s", heading, out);
	p = strchr(p, '\n') + 1;
	while (strncmp(p, "                ", 16) == 0) {
		s = p + 16;
		nl = strchr(s, '\n');
		if (res[0] != '\0')
			strcat(res, ",");
		strncat(res, s, (size_t)(nl - s));
		p = nl + 1;
	}
	return res;
}

static char *
keygen_L(const char *dir, const char *cert, int *rc)
{
	char *path = path_in(dir, "user-cert.pub"), *out;
	char *argv[] = { "ssh-keygen", "-L", "-f", path, NULL };

	spew(path, cert, strlen(cert));
	*rc = run(argv, &out);
	free(path);
	return out;
}

static void
want(const char *out, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cr_assert_not_null(strstr(out, buf), "\"%s\" not in:\n%s", buf, out);
}

static void
isotime(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
}

Test(sshcert, every_key_type_read_by_ssh_keygen, .timeout = 120)
{
	static const char *const principals[] = { "alice", "deploy" };
	char *dir = tmpdir_new(), *cert, *out, *got;
	char cafp[SSHKEY_FP_SIZE], ufp[SSHKEY_FP_SIZE], from[32], to[32];
	struct brk_error err = { "" };
	struct sshkey *cak, *uk;
	struct ca *ca = open_ca(dir);
	size_t i;
	int rc;

	cr_assert_eq(sshkey_parse(ca_public_line(ca),
	    strlen(ca_public_line(ca)), &cak, NULL), 0);
	cr_assert_eq(sshkey_fingerprint(cak, cafp, sizeof(cafp)), 0);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct sshcert_params p = {
			.serial = 1000 + i,
			.key_id = "grant-17 alice@host:web-1",
			.principals = principals,
			.nprincipals = 2,
			.valid_after = 1700000000 + i,
			.valid_before = 1700003600 + i,
			.extensions = sshcert_default_extensions,
			.nextensions = sshcert_ndefault_extensions,
		};

		uk = user_key(dir, &types[i]);
		cr_assert_eq(sshkey_fingerprint(uk, ufp, sizeof(ufp)), 0);
		cr_assert_eq(sshcert_issue(ca, uk, &p, &cert, &err), 0, "%s",
		    err.msg);
		cr_assert_eq(strncmp(cert, types[i].cert,
		    strlen(types[i].cert)), 0);
		cr_assert_null(strchr(cert, '\n'));
		out = keygen_L(dir, cert, &rc);
		cr_assert_eq(rc, 0, "ssh-keygen -L failed: %s", out);
		want(out, "Type: %s user certificate", types[i].cert);
		want(out, "-CERT %s\n", ufp);
		want(out, "Signing CA: ED25519 %s (using ssh-ed25519)", cafp);
		want(out, "Key ID: \"%s\"", p.key_id);
		want(out, "Serial: %zu\n", 1000 + i);
		isotime(p.valid_after, from, sizeof(from));
		isotime(p.valid_before, to, sizeof(to));
		want(out, "Valid: from %s to %s\n", from, to);
		got = items(out, "Principals:");
		cr_assert_str_eq(got, "alice,deploy");
		free(got);
		got = items(out, "Critical Options:");
		cr_assert_str_eq(got, "");
		free(got);
		want(out, "Critical Options: (none)");
		got = items(out, "Extensions:");
		cr_assert_str_eq(got, "permit-X11-forwarding,"
		    "permit-agent-forwarding,permit-port-forwarding,permit-pty,"
		    "permit-user-rc");
		free(got);
		free(out);
		free(cert);
		sshkey_free(uk);
	}
	sshkey_free(cak);
	ca_free(ca);
	tmpdir_free(dir);
}

Test(sshcert, options_sorted_and_signature_checked)
{
	static const char *const principals[] = { "root" };
	static const char *const ext[] = { "permit-pty",
	    "permit-X11-forwarding" };
	char *dir = tmpdir_new(), *cert, *out, *got, *b64;
	struct brk_error err = { "" };
	struct ca *ca = open_ca(dir);
	struct sshkey *uk = user_key(dir, &types[0]);
	struct sshcert_params p = {
		.serial = UINT64_MAX - 1,
		.key_id = "k",
		.principals = principals,
		.nprincipals = 1,
		.valid_after = 0,
		.valid_before = UINT64_MAX,
		.extensions = ext,
		.nextensions = 2,
		.force_command = "/usr/bin/uptime -p",
		.source_address = "192.0.2.0/24,2001:db8::/32",
	};
	int rc;

	cr_assert_eq(sshcert_issue(ca, uk, &p, &cert, &err), 0, "%s", err.msg);
	out = keygen_L(dir, cert, &rc);
	cr_assert_eq(rc, 0, "%s", out);
	want(out, "Serial: %llu\n", (unsigned long long)(UINT64_MAX - 1));
	want(out, "Valid: forever");
	got = items(out, "Critical Options:");
	cr_assert_str_eq(got, "force-command /usr/bin/uptime -p,"
	    "source-address 192.0.2.0/24,2001:db8::/32");
	free(got);
	got = items(out, "Extensions:");
	cr_assert_str_eq(got, "permit-X11-forwarding,permit-pty");
	free(got);
	free(out);
	/* A flipped byte in the signed part fails the CA signature. */
	b64 = strchr(cert, ' ') + 1;
	b64[200] = b64[200] == 'A' ? 'B' : 'A';
	out = keygen_L(dir, cert, &rc);
	cr_assert_neq(rc, 0, "ssh-keygen accepted a forged cert: %s", out);
	free(out);
	free(cert);
	/* No extensions at all. */
	p.nextensions = 0;
	p.force_command = p.source_address = NULL;
	cr_assert_eq(sshcert_issue(ca, uk, &p, &cert, &err), 0, "%s", err.msg);
	out = keygen_L(dir, cert, &rc);
	cr_assert_eq(rc, 0, "%s", out);
	want(out, "Extensions: (none)");
	free(out);
	free(cert);
	sshkey_free(uk);
	ca_free(ca);
	tmpdir_free(dir);
}

Test(sshcert, parameters_checked)
{
	static const char *const ok[] = { "alice" };
	static const char *const bad_pr[][1] = { { "" }, { "a b" }, { "a,b" },
	    { "a\nb" }, { "a\x7f" } };
	static const char *const unknown[] = { "permit-everything" };
	static const char *const twice[] = { "permit-pty", "permit-pty" };
	char *dir = tmpdir_new(), *cert;
	struct brk_error err;
	struct ca *ca = open_ca(dir);
	struct sshkey *uk = user_key(dir, &types[0]);
	struct sshcert_params base = {
		.serial = 1, .key_id = "id", .principals = ok, .nprincipals = 1,
		.valid_after = 10, .valid_before = 20,
	}, p;
	size_t i;

#define BAD(expr, code) do {						\
		p = base;						\
		expr;							\
		cert = (char *)1;					\
		err.msg[0] = '\0';					\
		cr_assert_eq(sshcert_issue(ca, uk, &p, &cert, &err), code, \
		    #expr);						\
		cr_assert_null(cert);					\
		cr_assert_neq(err.msg[0], '\0');			\
	} while (0)

	BAD(p.nprincipals = 0, BRK_ERR_INVALID);
	BAD(p.principals = NULL, BRK_ERR_INVALID);
	BAD(p.nprincipals = SSHCERT_MAX_PRINCIPALS + 1, BRK_ERR_TOOBIG);
	for (i = 0; i < sizeof(bad_pr) / sizeof(bad_pr[0]); i++)
		BAD(p.principals = bad_pr[i], BRK_ERR_INVALID);
	BAD(p.valid_before = 10, BRK_ERR_INVALID);
	BAD(p.valid_before = 5, BRK_ERR_INVALID);
	BAD(p.key_id = NULL, BRK_ERR_INVALID);
	BAD(p.key_id = "", BRK_ERR_INVALID);
	BAD(p.key_id = "a\tb", BRK_ERR_INVALID);
	BAD((p.extensions = unknown, p.nextensions = 1), BRK_ERR_INVALID);
	BAD((p.extensions = twice, p.nextensions = 2), BRK_ERR_INVALID);
	BAD(p.nextensions = 1, BRK_ERR_INVALID);
	BAD(p.force_command = "", BRK_ERR_INVALID);
	BAD(p.force_command = "rm -rf /\n", BRK_ERR_INVALID);
	BAD(p.source_address = "10.0.0.0/8;", BRK_ERR_INVALID);
	BAD(p.source_address = "10.0.0.1,", BRK_ERR_INVALID);
	BAD(p.source_address = ",10.0.0.1", BRK_ERR_INVALID);
	BAD(p.source_address = "", BRK_ERR_INVALID);
	cr_assert_eq(sshcert_issue(NULL, uk, &base, &cert, &err),
	    BRK_ERR_INVALID);
	cr_assert_eq(sshcert_issue(ca, NULL, &base, &cert, &err),
	    BRK_ERR_INVALID);
	cr_assert_eq(sshcert_issue(ca, uk, &base, &cert, &err), 0);
	free(cert);
	sshkey_free(uk);
	ca_free(ca);
	tmpdir_free(dir);
}

struct bench {
	const struct ca *ca;
	const struct sshkey *uk;
	int n, failures;
};

static void *
issue_many(void *arg)
{
	static const char *const pr[] = { "alice" };
	struct bench *b = arg;
	struct sshcert_params p = {
		.key_id = "grant", .principals = pr, .nprincipals = 1,
		.valid_after = 1, .valid_before = 2,
		.extensions = sshcert_default_extensions,
		.nextensions = sshcert_ndefault_extensions,
	};
	char *cert;
	int i;

	for (i = 0; i < b->n; i++) {
		p.serial = (uint64_t)i + 1;
		if (sshcert_issue(b->ca, b->uk, &p, &cert, NULL) != 0)
			b->failures++;
		free(cert);
	}
	return NULL;
}

/* Throughput on two threads, logged (sanitizers make a floor meaningless). */
Test(sshcert, throughput)
{
	char *dir = tmpdir_new();
	struct ca *ca = open_ca(dir);
	struct sshkey *uk = user_key(dir, &types[0]);
	struct bench b[2] = { { ca, uk, 2000, 0 }, { ca, uk, 2000, 0 } };
	struct timespec t0, t1;
	pthread_t t[2];
	double secs;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, issue_many, &b[i]), 0);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(pthread_join(t[i], NULL), 0);
		cr_assert_eq(b[i].failures, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_log_info("sshcert: %.0f ed25519 certificates/s on 2 threads",
	    4000 / secs);
	sshkey_free(uk);
	ca_free(ca);
	tmpdir_free(dir);
}
