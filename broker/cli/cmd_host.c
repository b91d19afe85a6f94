/*
 * cmd_host.c - broker host token create / enroll / sync / list / remove.
 *
 * The one idea: a host enrolls once with a join token and from then on
 * proves who it is with its own certificate from the broker's host CA.
 * The key is made here and never leaves the host.  Everything a host
 * needs lives in one directory (default /etc/broker/host):
 *
 *   host.key   the host's private key (0600)
 *   host.crt   its certificate from the host CA (renewed by sync)
 *   host.json  the broker's url, how it is trusted (fingerprint or
 *              broker-ca.pem), the host name, the certificate's end
 *   snapshot   the signed snapshot pam_broker.so decides from offline
 *   krl        the OpenSSH KRL, for sshd's RevokedKeys
 *   ca.pub     the SSH CA keys, for TrustedUserCAKeys and ca_keys=
 *   tls.session  the TLS session the next sync resumes (0600, used once:
 *              a resumed handshake costs the broker no certificate
 *              checks and no signature)
 *
 * Each file is written through a temporary file that is synced and then
 * renamed, and the directory is synced after: a reader (sshd, the PAM
 * module) sees the old file or the new one, never half of one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli.h"
#include "deadline.h"
#include "fileio.h"
#include "sessions.h"
#include "timefmt.h"

#define HOST_DIR_DEFAULT "/etc/broker/host"
#define HOST_FILE_MAX (1 << 20)

static int
dir_path(
    struct cli *cli, char *buf, size_t len, const char *dir, const char *name)
{
	if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
		return cli_fail(cli, EX_USAGE, "usage", "--dir is too long");
	return EX_DONE;
}

static int
write_in(struct cli *cli, const char *dir, const char *name, const void *data,
    size_t len, mode_t mode)
{
	char path[4096];
	int r;

	if ((r = dir_path(cli, path, sizeof(path), dir, name)) != EX_DONE)
		return r;
	if ((r = cli_write_file(cli, path, data, len, mode)) != 0)
		return r;
	/* cli_write_file creates with mode & ~umask: say it exactly */
	if (chmod(path, mode) != 0)
		return cli_fail(cli, EX_ERROR, "io", "cannot chmod %s: %s",
		    path, strerror(errno));
	return EX_DONE;
}

/* The renames in dir are durable once this returns. */
static int
sync_dir(struct cli *cli, const char *dir)
{
	int fd, r = EX_DONE;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(fd) != 0)
		r = cli_fail(cli, EX_ERROR, "io", "cannot sync %s: %s", dir,
		    strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

/* mkdir -p dir; the last part 0755 (what is secret in it is 0600). */
static int
make_dir(struct cli *cli, const char *dir)
{
	char buf[3072], *p;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return cli_fail(cli, EX_USAGE, "usage", "--dir is too long");
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		goto fail;
	return EX_DONE;
fail:
	return cli_fail(
	    cli, EX_ERROR, "io", "cannot make %s: %s", buf, strerror(errno));
}

/* ---- host token create, list, remove (policy admins) ----------------- */

static int
host_token(struct cli *cli, int argc, char **argv)
{
	const char *dur = NULL, *pos[2] = { NULL, NULL };
	const struct cli_opt opts[] = {
		{ "for", &dur, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args = NULL, *res = NULL;
	int64_t secs = 3600;
	int r;

	if ((r = cli_parse(cli, cli_cmd("host"), argc, argv, opts, pos, 2)) !=
	    0)
		return r;
	if (strcmp(pos[0], "create") != 0)
		return cli_fail(cli, EX_USAGE, "usage",
		    "host token create "
		    "HOST [--for DUR]");
	if (dur != NULL && (r = cli_duration(cli, "--for", dur, &secs)) != 0)
		return r;
	args = json_pack("{s:s, s:I}", "host", pos[1], "for", (json_int_t)secs);
	if ((r = cli_call(cli, "host.token.create", args, &res)) == EX_DONE) {
		if (cli->json)
			cli_print_json(res);
		else {
			printf("%s\n", cli_str(res, "token"));
			fprintf(stderr,
			    "join token for host %s, usable once until "
			    "%s:\n  broker host enroll --url URL --token "
			    "TOKEN --ca-fingerprint SHA256:...\n",
			    cli_str(res, "host"), cli_str(res, "expires"));
		}
	}
	json_decref(args);
	json_decref(res);
	return r;
}

static int
host_list(struct cli *cli, int argc, char **argv)
{
	bool all = false;
	const struct cli_opt opts[] = {
		{ "all", NULL, &all },
		{ NULL, NULL, NULL },
	};
	json_t *args, *res = NULL, *h;
	size_t i;
	int r;

	if ((r = cli_parse(cli, cli_cmd("host"), argc, argv, opts, NULL, 0)) !=
	    0)
		return r;
	args = json_pack("{s:b}", "all", all);
	if ((r = cli_call(cli, "host.list", args, &res)) == EX_DONE) {
		if (cli->json)
			cli_print_json(res);
		else if (json_array_size(res) == 0)
			printf("no hosts enrolled\n");
		else
			printf("%-24s %-9s %-21s %-21s %s\n", "HOST", "STATE",
			    "CERT EXPIRES", "LAST SYNC", "SOURCE");
		json_array_foreach (cli->json ? NULL : res, i, h) {
			printf("%-24s %-9s %-21s %-21s ", cli_str(h, "host"),
			    cli_str(h, "state"), cli_str(h, "cert_expires"),
			    cli_str(h, "last_sync"));
			cli_print_safe(stdout, cli_str(h, "source"));
			printf("\n");
		}
	}
	json_decref(args);
	json_decref(res);
	return r;
}

static int
host_remove(struct cli *cli, int argc, char **argv)
{
	const char *reason = NULL, *pos[1] = { NULL };
	const struct cli_opt opts[] = {
		{ "reason", &reason, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args, *res = NULL;
	int r;

	if ((r = cli_parse(cli, cli_cmd("host"), argc, argv, opts, pos, 1)) !=
	    0)
		return r;
	args = json_pack("{s:s}", "host", pos[0]);
	if (args != NULL && reason != NULL)
		json_object_set_new(args, "reason", json_string(reason));
	if ((r = cli_call(cli, "host.remove", args, &res)) == EX_DONE) {
		if (cli->json)
			cli_print_json(res);
		else
			printf("host %s removed: its certificate is refused "
			       "from now on\n",
			    cli_str(res, "host"));
	}
	json_decref(args);
	json_decref(res);
	return r;
}

/* ---- enroll ------------------------------------------------------------ */

static int
host_enroll(struct cli *cli, int argc, char **argv)
{
	const char *token = NULL, *fp = NULL, *ca = NULL,
		   *dir = HOST_DIR_DEFAULT;
	const struct cli_opt opts[] = {
		{ "token", &token, NULL },
		{ "ca-fingerprint", &fp, NULL },
		{ "ca", &ca, NULL },
		{ "dir", &dir, NULL },
		{ NULL, NULL, NULL },
	};
	struct brk_error err = { { 0 } };
	char host[256], port[16], path[4096], *key_pem = NULL, *csr_pem = NULL;
	char *catext = NULL, *conf = NULL;
	json_t *args = NULL, *res = NULL, *saved = NULL;
	size_t calen = 0;
	int r;

	if ((r = cli_parse(cli, cli_cmd("host"), argc, argv, opts, NULL, 0)) !=
	    0)
		return r;
	if (cli->url == NULL ||
	    cli_parse_url(cli->url, host, sizeof(host), port, sizeof(port)) !=
		0)
		return cli_fail(cli, EX_USAGE, "usage",
		    "host enroll needs "
		    "--url tls://HOST:PORT");
	if (token == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "host enroll needs "
		    "--token TOKEN (from broker host token create)");
	if ((ca == NULL) == (fp == NULL))
		return cli_fail(cli, EX_USAGE, "usage",
		    "host enroll needs "
		    "one of --ca-fingerprint SHA256:HEX or --ca FILE");
	if (ca != NULL &&
	    file_read_all(ca, HOST_FILE_MAX, 0, &catext, &calen, &err) != 0)
		return cli_fail(cli, EX_ERROR, "io", "%s", err.msg);
	if ((r = cli_key_and_connect(
		 cli, cli->url, ca, fp, &key_pem, &csr_pem)) != EX_DONE)
		goto out;
	args = json_pack("{s:s, s:s}", "token", token, "csr", csr_pem);
	if ((r = cli_call(cli, "host.enroll", args, &res)) != EX_DONE)
		goto out;
	r = EX_ERROR;
	if (!json_is_string(json_object_get(res, "cert")) ||
	    !json_is_string(json_object_get(res, "host"))) {
		cli_fail(cli, r, "protocol", "the broker sent no certificate");
		goto out;
	}
	saved = json_pack("{s:s, s:s, s:O, s:O, s:O}", "url", cli->url, "host",
	    json_string_value(json_object_get(res, "host")), "serial",
	    json_object_get(res, "serial"), "expires_at",
	    json_object_get(res, "expires_at"), "expires",
	    json_object_get(res, "expires"));
	if (saved == NULL ||
	    json_object_set_new(saved, fp != NULL ? "ca_fingerprint" : "ca",
		json_string(fp != NULL ? fp : "broker-ca.pem")) != 0 ||
	    (conf = json_dumps(saved, JSON_INDENT(2))) == NULL) {
		cli_fail(cli, r, "error", "out of memory");
		goto out;
	}
	if ((r = make_dir(cli, dir)) != EX_DONE ||
	    (catext != NULL &&
		(r = write_in(cli, dir, "broker-ca.pem", catext, calen,
		     0644)) != EX_DONE) ||
	    (r = write_in(cli, dir, "host.key", key_pem, strlen(key_pem),
		 0600)) != EX_DONE ||
	    (r = write_in(cli, dir, "host.crt",
		 json_string_value(json_object_get(res, "cert")),
		 strlen(json_string_value(json_object_get(res, "cert"))),
		 0644)) != EX_DONE ||
	    (r = write_in(cli, dir, "host.json", conf, strlen(conf), 0644)) !=
		EX_DONE ||
	    (r = sync_dir(cli, dir)) != EX_DONE)
		goto out;
	/* a session kept from an earlier enrollment is another certificate's */
	if (dir_path(cli, path, sizeof(path), dir, "tls.session") == EX_DONE)
		(void)unlink(path);
	if (cli->json)
		cli_print_json(saved);
	else
		printf("enrolled as host %s until %s (in %s); next: broker "
		       "host sync --dir %s\n",
		    cli_str(saved, "host"), cli_str(saved, "expires"), dir,
		    dir);
	r = EX_DONE;
out:
	secret_free(key_pem);
	free(csr_pem);
	free(catext);
	free(conf);
	json_decref(args);
	json_decref(res);
	json_decref(saved);
	return r;
}

/* ---- sync -------------------------------------------------------------- */

/* The certificate's window, from its PEM file. */
static int
cert_window(const char *path, time_t *nb, time_t *na)
{
	struct tm tm;
	X509 *x = NULL;
	FILE *f;
	int r = -1;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	if ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL &&
	    ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) == 1 &&
	    (*nb = timegm(&tm)) != (time_t)-1 &&
	    ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1 &&
	    (*na = timegm(&tm)) != (time_t)-1)
		r = 0;
	X509_free(x);
	fclose(f);
	ERR_clear_error();
	return r;
}

/* A CSR for the key in path (PEM, malloc'd); NULL on failure. */
static char *
csr_for(const char *path)
{
	EVP_PKEY *k = NULL;
	X509_REQ *req = NULL;
	BIO *b = NULL;
	char *p, *out = NULL;
	FILE *f;
	long n;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k != NULL && (req = X509_REQ_new()) != NULL &&
	    X509_REQ_set_pubkey(req, k) == 1 &&
	    X509_REQ_sign(req, k, NULL) > 0 &&
	    (b = BIO_new(BIO_s_mem())) != NULL &&
	    PEM_write_bio_X509_REQ(b, req) == 1 &&
	    (n = BIO_get_mem_data(b, &p)) > 0)
		out = strndup(p, (size_t)n);
	EVP_PKEY_free(k);
	X509_REQ_free(req);
	BIO_free(b);
	ERR_clear_error();
	return out;
}

/* The KRL from its base64 in res ("krl") into dir/krl. */
static int
save_krl(struct cli *cli, const char *dir, json_t *res)
{
	const char *b64 = json_string_value(json_object_get(res, "krl"));
	unsigned char *bin = NULL;
	size_t len;
	int n, r;

	if (b64 == NULL || (len = strlen(b64)) % 4 != 0 ||
	    (bin = malloc(len / 4 * 3 + 1)) == NULL ||
	    (n = EVP_DecodeBlock(bin, (const unsigned char *)b64, (int)len)) <
		0) {
		free(bin);
		return cli_fail(cli, EX_ERROR, "protocol",
		    "the broker sent a KRL that is not base64");
	}
	/* EVP_DecodeBlock counts the padding as zero bytes */
	if (len >= 1 && b64[len - 1] == '=')
		n--;
	if (len >= 2 && b64[len - 2] == '=')
		n--;
	r = write_in(cli, dir, "krl", bin, (size_t)n, 0644);
	free(bin);
	return r;
}

/* The CA keys from ca.show ("all", else "public") into dir/ca.pub. */
static int
save_ca(struct cli *cli, const char *dir, json_t *res, size_t *nkeys)
{
	json_t *all = json_object_get(res, "all"), *v;
	size_t i, len = 0;
	char *buf = NULL, *nb;
	const char *line;
	int r;

	*nkeys = 0;
	if (!json_is_array(all) || json_array_size(all) == 0)
		all = json_pack("[O]", json_object_get(res, "public"));
	else
		json_incref(all);
	json_array_foreach (all, i, v) {
		if ((line = json_string_value(v)) == NULL ||
		    strchr(line, '\n') != NULL ||
		    (nb = realloc(buf, len + strlen(line) + 2)) == NULL) {
			free(buf);
			json_decref(all);
			return cli_fail(cli, EX_ERROR, "protocol",
			    "the broker sent no usable CA key");
		}
		buf = nb;
		len += (size_t)sprintf(buf + len, "%s\n", line);
		(*nkeys)++;
	}
	json_decref(all);
	if (buf == NULL)
		return cli_fail(
		    cli, EX_ERROR, "protocol", "the broker sent no CA key");
	r = write_in(cli, dir, "ca.pub", buf, len, 0644);
	free(buf);
	return r;
}

/* A renewed certificate (res) into host.crt, and host.json (conf) updated
 * to name it; both written atomically. */
static int
save_renewal(struct cli *cli, const char *dir, json_t *conf, json_t *res)
{
	const char *cert = json_string_value(json_object_get(res, "cert"));
	char *text = NULL;
	int r;

	if ((r = write_in(cli, dir, "host.crt", cert, strlen(cert), 0644)) !=
	    EX_DONE)
		return r;
	if (json_object_set(conf, "serial", json_object_get(res, "serial")) !=
		0 ||
	    json_object_set(conf, "expires_at",
		json_object_get(res, "cert_expires_at")) != 0 ||
	    json_object_set(
		conf, "expires", json_object_get(res, "cert_expires")) != 0 ||
	    (text = json_dumps(conf, JSON_INDENT(2))) == NULL)
		return cli_fail(cli, EX_ERROR, "error", "out of memory");
	r = write_in(cli, dir, "host.json", text, strlen(text), 0644);
	free(text);
	return r;
}

/* Connect to the broker (cli->client) as the host enrolled in dir, conf
 * its host.json: its own certificate, the broker trusted by the pinned
 * fingerprint or by broker-ca.pem.  0 or the client error (err). */
static int
host_open(struct cli *cli, const char *dir, json_t *conf, struct brk_error *err)
{
	struct client_tls tls = { NULL, NULL, NULL, NULL, NULL };
	char crt[4096], key[4096], ca[4096], sess[4096], host[256], port[16];
	const char *url = json_string_value(json_object_get(conf, "url"));

	if (snprintf(crt, sizeof(crt), "%s/host.crt", dir) >=
		(int)sizeof(crt) ||
	    snprintf(key, sizeof(key), "%s/host.key", dir) >=
		(int)sizeof(key) ||
	    snprintf(ca, sizeof(ca), "%s/broker-ca.pem", dir) >=
		(int)sizeof(ca) ||
	    snprintf(sess, sizeof(sess), "%s/tls.session", dir) >=
		(int)sizeof(sess))
		return brk_error_set(err, BRK_ERR_INVALID, "--dir is too long");
	if (url == NULL ||
	    cli_parse_url(url, host, sizeof(host), port, sizeof(port)) != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "%s/host.json names no broker url", dir);
	tls.cert = crt;
	tls.key = key;
	tls.session = sess;
	tls.pin = json_string_value(json_object_get(conf, "ca_fingerprint"));
	tls.ca = tls.pin == NULL ? ca : NULL;
	client_free(cli->client);
	cli->client = NULL;
	return client_open_tls(
	    host, port, &tls, cli->timeout_ms, &cli->client, err);
}

/*
 * host.sync's arguments: the CSR if any, and with one the parts the sync
 * needs ("include"), so that the whole sync is one round trip.  A broker
 * from before "include" refuses it; the sync then makes the four calls
 * (host.sync, snapshot, krl, ca.show), as does
 * BROKER_HOST_SYNC_CALLS=4 (for comparing the two).
 */
static json_t *
sync_args(const char *csr, bool one)
{
	json_t *a = csr != NULL ? json_pack("{s:s}", "csr", csr) :
				  json_object();

	if (a != NULL && one)
		json_object_set_new(a, "include",
		    json_pack("[s,s,s]", "snapshot", "krl", "ca"));
	return a;
}

int
cli_host_sync(struct cli *cli, const char *dir, json_t **summary)
{
	struct brk_error err = { { 0 } };
	char path[4096], crt[4096], key[4096], host[256], port[16];
	char when[TIMEFMT_LEN], *csr = NULL;
	json_t *conf = NULL, *args = NULL, *res = NULL, *snap = NULL,
	       *krl = NULL, *cas = NULL;
	const char *url, *name;
	time_t nb = 0, na = 0, now = time(NULL);
	size_t nkeys = 0;
	const char *calls = secure_getenv("BROKER_HOST_SYNC_CALLS");
	bool one = calls == NULL || strcmp(calls, "4") != 0;
	int r;

	*summary = NULL;
	if ((r = dir_path(cli, path, sizeof(path), dir, "host.json")) !=
		EX_DONE ||
	    (r = dir_path(cli, crt, sizeof(crt), dir, "host.crt")) != EX_DONE ||
	    (r = dir_path(cli, key, sizeof(key), dir, "host.key")) != EX_DONE)
		return r;
	r = EX_ERROR;
	if ((conf = json_load_file(path, 0, NULL)) == NULL ||
	    (url = json_string_value(json_object_get(conf, "url"))) == NULL ||
	    (name = json_string_value(json_object_get(conf, "host"))) == NULL ||
	    cli_parse_url(url, host, sizeof(host), port, sizeof(port)) != 0) {
		cli_fail(cli, r, "error",
		    "%s is missing or unreadable: enroll "
		    "first (broker host enroll --dir %s)",
		    path, dir);
		goto out;
	}
	if (cert_window(crt, &nb, &na) != 0) {
		cli_fail(
		    cli, r, "error", "%s is missing or not a certificate", crt);
		goto out;
	}
	if (now >= na) {
		time_rfc3339((int64_t)na, when);
		r = cli_fail(cli, EX_REFUSED, "denied",
		    "the certificate of host %s expired at %s: enroll again "
		    "with a new join token",
		    name, when);
		goto out;
	}
	/* the last third of its life: ask for a new one, same key */
	if (na - now < (na - nb) / 3 && (csr = csr_for(key)) == NULL) {
		cli_fail(cli, r, "error", "cannot read the host key %s", key);
		goto out;
	}
	if ((r = host_open(cli, dir, conf, &err)) != 0) {
		r = cli_fail(cli, EX_UNREACHABLE, "unreachable",
		    "broker unreachable at %s: %s%s", url, err.msg,
		    r == BRK_ERR_VERIFY ?
			" (a certificate from another CA, or an expired one, "
			"is refused at the handshake)" :
			"");
		goto out;
	}
	args = sync_args(csr, one);
	/* TLS 1.3: a client certificate the broker refuses shows only as a
	 * connection closed at the first read */
	r = client_call(
	    cli->client, "host.sync", args, NULL, cli->timeout_ms, &res, &err);
	if (r == BRK_ERR_INVALID && strstr(err.msg, "\"include\"") != NULL) {
		/* a broker from before "include": the four calls */
		one = false;
		json_decref(args);
		args = sync_args(csr, one);
		r = client_call(cli->client, "host.sync", args, NULL,
		    cli->timeout_ms, &res, &err);
	}
	if (r == BRK_ERR_UNREACHABLE || r == BRK_ERR_PROTOCOL) {
		r = cli_fail(cli, EX_UNREACHABLE, "unreachable",
		    "the broker at %s closed the connection: it refused this "
		    "host's certificate (from another CA, or expired), or it "
		    "is going away (%s)",
		    url, err.msg);
		goto out;
	}
	if (r != 0) {
		r = r == BRK_ERR_TIMEOUT ?
		    cli_fail(cli, EX_UNREACHABLE, "unreachable",
			"broker unreachable: %s", err.msg) :
		    cli_fail(cli, cli_exit_code(r), brk_errcode_name(r), "%s",
			err.msg);
		goto out;
	}
	/* the broker may want a renewal sooner than our own rule (its
	 * hosts.cert_ttl is longer than this certificate's life) */
	if (csr == NULL && json_is_true(json_object_get(res, "renew_due"))) {
		r = EX_ERROR;
		if ((csr = csr_for(key)) == NULL) {
			cli_fail(cli, r, "error", "cannot read the host key %s",
			    key);
			goto out;
		}
		json_decref(args);
		json_decref(res);
		res = NULL;
		args = sync_args(csr, one);
		if ((r = cli_call(cli, "host.sync", args, &res)) != EX_DONE)
			goto out;
	}
	json_decref(args);
	args = NULL;
	if (one) {
		/* everything came with host.sync */
		snap = json_incref(json_object_get(res, "snapshot"));
		krl = json_incref(json_object_get(res, "krl"));
		cas = json_incref(json_object_get(res, "ca"));
		r = EX_ERROR;
		if (!json_is_object(snap) || !json_is_object(krl) ||
		    !json_is_object(cas)) {
			cli_fail(cli, r, "protocol",
			    "the broker's host.sync left out a part it was "
			    "asked to include");
			goto out;
		}
	} else {
		args = json_pack("{s:s}", "host", name);
		if ((r = cli_call(cli, "snapshot", args, &snap)) != EX_DONE ||
		    (r = cli_call(cli, "krl", NULL, &krl)) != EX_DONE ||
		    (r = cli_call(cli, "ca.show", NULL, &cas)) != EX_DONE)
			goto out;
	}
	/* the session for the next sync, unless the certificate changes
	 * (a session is bound to the certificate it began with) */
	if (!json_is_string(json_object_get(res, "cert")) &&
	    dir_path(cli, path, sizeof(path), dir, "tls.session") == EX_DONE)
		(void)client_save_session(cli->client, path, &err);
	r = EX_ERROR;
	if (!json_is_string(json_object_get(snap, "snapshot"))) {
		cli_fail(cli, r, "protocol", "the broker sent no snapshot");
		goto out;
	}
	/* the renewed certificate first: the broker already counts it */
	if (json_is_string(json_object_get(res, "cert")) &&
	    (r = save_renewal(cli, dir, conf, res)) != EX_DONE)
		goto out;
	if ((r = write_in(cli, dir, "snapshot", cli_str(snap, "snapshot"),
		 strlen(cli_str(snap, "snapshot")), 0644)) != EX_DONE ||
	    (r = save_krl(cli, dir, krl)) != EX_DONE ||
	    (r = save_ca(cli, dir, cas, &nkeys)) != EX_DONE ||
	    (r = sync_dir(cli, dir)) != EX_DONE)
		goto out;
	*summary = json_pack("{s:s, s:b, s:O, s:O, s:O, s:O, s:O, s:I}", "host",
	    name, "renewed", json_is_string(json_object_get(res, "cert")),
	    "cert_expires", json_object_get(res, "cert_expires"),
	    "cert_expires_at", json_object_get(res, "cert_expires_at"),
	    "grants", json_object_get(snap, "grants"), "blocks",
	    json_object_get(snap, "blocks"), "revoked",
	    json_object_get(krl, "revoked"), "ca_keys", (json_int_t)nkeys);
	r = *summary != NULL ?
	    EX_DONE :
	    cli_fail(cli, EX_ERROR, "error", "out of memory");
out:
	client_free(cli->client);
	cli->client = NULL;
	free(csr);
	json_decref(conf);
	json_decref(args);
	json_decref(res);
	json_decref(snap);
	json_decref(krl);
	json_decref(cas);
	return r;
}

static void
print_sync(struct cli *cli, const char *dir, json_t *s)
{
	if (cli->json) {
		cli_print_json(s);
		return;
	}
	printf("host %s synced into %s: %lld grants, %lld blocks, "
	       "%lld revoked, %lld CA keys; certificate %still %s\n",
	    cli_str(s, "host"), dir,
	    (long long)json_integer_value(json_object_get(s, "grants")),
	    (long long)json_integer_value(json_object_get(s, "blocks")),
	    (long long)json_integer_value(json_object_get(s, "revoked")),
	    (long long)json_integer_value(json_object_get(s, "ca_keys")),
	    json_is_true(json_object_get(s, "renewed")) ? "renewed, " : "",
	    cli_str(s, "cert_expires"));
	fflush(stdout);
}

/* ---- sync --watch: the session agent as this host ---- */

#define SYNC_PERIOD 60 /* seconds between regular syncs (--sync-every) */

struct host_watch {
	const char *dir;
	long long next_ms; /* the next regular sync */
	long period;	   /* seconds between regular syncs */
};

/* The agent's connection: this host's certificate over TLS, so the broker
 * takes the host's name from the certificate, never from the request. */
static int
watch_connect(struct cli *cli, void *arg, struct brk_error *err)
{
	struct host_watch *hw = arg;
	char path[4096];
	json_t *conf;
	int r;

	if (snprintf(path, sizeof(path), "%s/host.json", hw->dir) >=
	    (int)sizeof(path))
		return brk_error_set(err, BRK_ERR_INVALID, "--dir is too long");
	if ((conf = json_load_file(path, 0, NULL)) == NULL)
		return brk_error_set(
		    err, BRK_ERR_UNREACHABLE, "cannot read %s", path);
	r = host_open(cli, hw->dir, conf, err);
	json_decref(conf);
	return r;
}

/*
 * Before each round of the agent: the regular sync (snapshot, KRL, CA
 * keys, renewal) once a minute (--sync-every).  One process, one thread: the sync opens
 * its own connection, so the agent's held one is set aside and given back
 * (a held watch is at most --interval long, so a sync is at most that
 * late).  A failed sync has said why and keeps the previous files: the
 * agent's offline rules read whatever snapshot is there.
 */
static int
watch_tick(struct cli *cli, void *arg)
{
	struct host_watch *hw = arg;
	struct client *held = cli->client;
	long long now = deadline_now_ms();
	json_t *s = NULL;

	if (now >= hw->next_ms) {
		cli->client = NULL;
		if (cli_host_sync(cli, hw->dir, &s) == EX_DONE)
			print_sync(cli, hw->dir, s);
		json_decref(s);
		cli->client = held;
		hw->next_ms = now + hw->period * 1000LL;
	}
	return (int)((hw->next_ms - now + 999) / 1000);
}

static int
host_watch(struct cli *cli, const char *dir, const char *sdir,
    const char *interval, const char *grace, const char *every)
{
	struct host_watch hw = { dir, 0, SYNC_PERIOD };
	struct sess_watch_opts o = { .dir = sdir != NULL ? sdir :
							   SESS_DEFAULT_DIR,
		.interval = 25,
		.offline_grace = 60,
		.connect = watch_connect,
		.tick = watch_tick,
		.arg = &hw };
	char path[4096], snap[4096], keys[4096], name[256];
	const char *n;
	json_t *conf = NULL, *s = NULL;
	int r;

	if ((r = cli_sessions_timing(cli, interval, grace, &o)) != EX_DONE ||
	    (every != NULL &&
		(r = cli_number(cli, "--sync-every", "seconds", every, 1, 3600,
		     &hw.period)) != EX_DONE))
		return r;
	if (geteuid() != 0)
		return cli_fail(cli, EX_REFUSED, "denied",
		    "host sync --watch runs as root (it signals other users' "
		    "processes)");
	if ((r = dir_path(cli, path, sizeof(path), dir, "host.json")) !=
		EX_DONE ||
	    (r = dir_path(cli, snap, sizeof(snap), dir, "snapshot")) !=
		EX_DONE ||
	    (r = dir_path(cli, keys, sizeof(keys), dir, "ca.pub")) != EX_DONE)
		return r;
	if ((conf = json_load_file(path, 0, NULL)) == NULL ||
	    (n = json_string_value(json_object_get(conf, "host"))) == NULL) {
		json_decref(conf);
		return cli_fail(cli, EX_ERROR, "error",
		    "%s is missing or unreadable: enroll first (broker host "
		    "enroll --dir %s)",
		    path, dir);
	}
	snprintf(name, sizeof(name), "%s", n);
	json_decref(conf);
	/* the first sync before anything: a host its broker refuses (removed,
	 * certificate expired) stops here with the reason */
	if ((r = cli_host_sync(cli, dir, &s)) != EX_DONE)
		return r;
	print_sync(cli, dir, s);
	json_decref(s);
	hw.next_ms = deadline_now_ms() + hw.period * 1000LL;
	o.host = name;
	o.snapshot = snap;
	o.ca_keys = keys;
	return cli_sessions_watch(cli, &o);
}

static int
host_sync(struct cli *cli, int argc, char **argv)
{
	const char *dir = HOST_DIR_DEFAULT, *sdir = NULL, *interval = NULL,
		   *grace = NULL, *every = NULL;
	bool watch = false;
	const struct cli_opt opts[] = {
		{ "dir", &dir, NULL },
		{ "watch", NULL, &watch },
		{ "session-dir", &sdir, NULL },
		{ "interval", &interval, NULL },
		{ "offline-grace", &grace, NULL },
		{ "sync-every", &every, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *s = NULL;
	int r;

	if ((r = cli_parse(cli, cli_cmd("host"), argc, argv, opts, NULL, 0)) !=
	    0)
		return r;
	if (!watch &&
	    (sdir != NULL || interval != NULL || grace != NULL ||
		every != NULL))
		return cli_fail(cli, EX_USAGE, "usage",
		    "--session-dir, --interval, --offline-grace and "
		    "--sync-every go with --watch");
	if (watch)
		return host_watch(cli, dir, sdir, interval, grace, every);
	if ((r = cli_host_sync(cli, dir, &s)) != EX_DONE)
		return r;
	print_sync(cli, dir, s);
	json_decref(s);
	return EX_DONE;
}

int
cmd_host(struct cli *cli, int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "", *v = NULL;
	bool flag = false;
	/* every option of every sub-command, for --help */
	const struct cli_opt opts[] = {
		{ "for", &v, NULL },
		{ "token", &v, NULL },
		{ "ca-fingerprint", &v, NULL },
		{ "ca", &v, NULL },
		{ "dir", &v, NULL },
		{ "all", NULL, &flag },
		{ "reason", &v, NULL },
		{ "watch", NULL, &flag },
		{ "session-dir", &v, NULL },
		{ "interval", &v, NULL },
		{ "offline-grace", &v, NULL },
		{ NULL, NULL, NULL },
	};

	if (strcmp(sub, "token") == 0)
		return host_token(cli, argc - 1, argv + 1);
	if (strcmp(sub, "enroll") == 0)
		return host_enroll(cli, argc - 1, argv + 1);
	if (strcmp(sub, "sync") == 0)
		return host_sync(cli, argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0)
		return host_list(cli, argc - 1, argv + 1);
	if (strcmp(sub, "remove") == 0)
		return host_remove(cli, argc - 1, argv + 1);
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
		return cli_parse(
		    cli, cli_cmd("host"), argc, argv, opts, NULL, 0);
	return cli_fail(cli, EX_USAGE, "usage",
	    "host: expected token create, enroll, sync, list or remove");
}
