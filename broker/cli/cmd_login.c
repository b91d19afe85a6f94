/*
 * cmd_login.c - broker login / logout, the saved login in $BROKER_HOME,
 * and how the CLI reaches the broker (cli_connect).
 *
 * The one idea: the client's private key is made here and never leaves
 * this machine; the broker signs a certificate for it after PAM said yes.
 * $BROKER_HOME (default ~/.config/broker, 0700) holds key.pem, cert.pem,
 * and login.json (the url, how the broker is trusted, the user, expiry),
 * each 0600, plus server-ca.pem when --ca was given.
 *
 * Transport: --socket (the unix socket, kernel identity), else --url
 * (TLS, with the saved login certificate), else $BROKER_SOCKET, else
 * $BROKER_URL, else the saved login's url, else the default socket: a
 * flag beats the environment, and the environment beats the saved login.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli.h"
#include "fileio.h"
#include "timefmt.h"
#include "userdb.h"

#define DEFAULT_SOCKET "/run/broker/broker.sock"
#define LOGIN_STEPS 16 /* prompts in one login, at most */

static int login_revoke(struct cli *cli, int argc, char **argv);

static const char *const home_files[] = { "key.pem", "cert.pem", "login.json",
	"server-ca.pem", NULL };

/* $BROKER_HOME, else ~/.config/broker, into buf. */
static int
home_dir(char *buf, size_t len)
{
	const char *h = secure_getenv("BROKER_HOME");
	struct passwd *pw = NULL;
	int r = -1;

	if (h != NULL && h[0] != '\0')
		return snprintf(buf, len, "%s", h) < (int)len ? 0 : -1;
	if ((h = secure_getenv("HOME")) == NULL || h[0] == '\0')
		h = userdb_pwuid(getuid(), &pw, NULL) == 0 ? pw->pw_dir : NULL;
	if (h != NULL)
		r = snprintf(buf, len, "%s/.config/broker", h) < (int)len ? 0 :
									    -1;
	free(pw);
	return r;
}

static int
home_path(char *buf, size_t len, const char *name)
{
	char dir[3072];

	if (home_dir(dir, sizeof(dir)) != 0)
		return -1;
	return snprintf(buf, len, "%s/%s", dir, name) < (int)len ? 0 : -1;
}

/* "tls://HOST:PORT" (HOST may be [v6]) into host and port. */
static int
parse_url(const char *url, char *host, size_t hlen, char *port, size_t plen)
{
	const char *h, *colon;

	if (strncmp(url, "tls://", 6) != 0)
		return -1;
	h = url + 6;
	if (*h == '[') {
		if ((colon = strchr(h, ']')) == NULL || colon[1] != ':')
			return -1;
		snprintf(host, hlen, "%.*s", (int)(colon - h - 1), h + 1);
		colon++;
	} else {
		if ((colon = strrchr(h, ':')) == NULL || colon == h)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(colon - h), h);
	}
	if (colon[1] == '\0' || strlen(colon + 1) >= plen ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	snprintf(port, plen, "%s", colon + 1);
	return host[0] != '\0' ? 0 : -1;
}

/* The saved login (new reference) or NULL when there is none. */
static json_t *
saved_login(void)
{
	char path[4096];

	if (home_path(path, sizeof(path), "login.json") != 0)
		return NULL;
	return json_load_file(path, 0, NULL);
}

int
cli_connect(struct cli *cli)
{
	struct brk_error err = { { 0 } };
	struct client_tls tls = { NULL, NULL, NULL, NULL, NULL };
	char host[256], port[16], cert[4096], key[4096], ca[4096], when[40];
	uid_t server_uid = CLIENT_NO_UID;
	const char *sv, *url = cli->url, *saved_url, *user;
	json_t *login = NULL;
	json_int_t exp;
	int r;

	/* flags first, then the environment, then the saved login */
	if (cli->socket == NULL && url == NULL &&
	    (sv = secure_getenv("BROKER_SOCKET")) != NULL && sv[0] != '\0')
		cli->socket = sv;
	if (cli->socket == NULL && url == NULL &&
	    (sv = secure_getenv("BROKER_URL")) != NULL && sv[0] != '\0')
		url = sv;
	if (cli->socket == NULL && (login = saved_login()) != NULL &&
	    url == NULL &&
	    (saved_url = json_string_value(json_object_get(login, "url"))) !=
		NULL)
		url = saved_url;
	if (cli->socket != NULL || url == NULL) {
		if (cli->socket == NULL)
			cli->socket = DEFAULT_SOCKET;
		/* the broker may run as a daemon user: BROKER_SERVER_UID */
		if ((sv = getenv("BROKER_SERVER_UID")) != NULL &&
		    sv[0] != '\0' &&
		    (r = client_parse_uid(sv, &server_uid, &err)) != 0) {
			json_decref(login);
			return cli_fail(cli, EX_USAGE, "usage",
			    "BROKER_SERVER_UID: %s", err.msg);
		}
		json_decref(login);
		if ((r = client_open_as(cli->socket, server_uid,
			 cli->timeout_ms, &cli->client, &err)) != 0)
			return cli_fail(cli, EX_UNREACHABLE, "unreachable",
			    "broker unreachable: %s", err.msg);
		snprintf(cli->via, sizeof(cli->via),
		    "unix socket %s (kernel "
		    "identity)",
		    cli->socket);
		return EX_DONE;
	}
	r = EX_USAGE;
	if (parse_url(url, host, sizeof(host), port, sizeof(port)) != 0) {
		cli_fail(cli, r, "usage",
		    "%s is not a url like "
		    "tls://HOST:PORT",
		    url);
		goto out;
	}
	r = EX_REFUSED;
	if (login == NULL) {
		cli_fail(cli, r, "denied",
		    "not logged in to %s: run broker "
		    "login --url %s",
		    url, url);
		goto out;
	}
	exp = json_integer_value(json_object_get(login, "expires_at"));
	user = json_string_value(json_object_get(login, "user"));
	if (exp <= (json_int_t)time(NULL)) {
		time_rfc3339((int64_t)exp, when);
		cli_fail(cli, r, "denied",
		    "the login of %s expired at %s: log "
		    "in again (broker login --url %s)",
		    user ? user : "?", when, url);
		goto out;
	}
	if (home_path(cert, sizeof(cert), "cert.pem") != 0 ||
	    home_path(key, sizeof(key), "key.pem") != 0 ||
	    home_path(ca, sizeof(ca), "server-ca.pem") != 0) {
		cli_fail(cli, EX_ERROR, "error", "BROKER_HOME is too long");
		r = EX_ERROR;
		goto out;
	}
	tls.cert = cert;
	tls.key = key;
	tls.pin = json_string_value(json_object_get(login, "ca_fingerprint"));
	tls.ca = tls.pin == NULL ? ca : NULL;
	if ((r = client_open_tls(
		 host, port, &tls, cli->timeout_ms, &cli->client, &err)) != 0) {
		/* the broker refuses a certificate it no longer trusts at
		 * the handshake: say what to do */
		r = cli_fail(cli, EX_UNREACHABLE, "unreachable",
		    "broker "
		    "unreachable at %s: %s (if the login is no longer "
		    "accepted, log in again)",
		    url, err.msg);
		goto out;
	}
	time_rfc3339((int64_t)exp, when);
	snprintf(cli->via, sizeof(cli->via),
	    "%s (login certificate of %s, "
	    "expires %s)",
	    url, user ? user : "?", when);
	cli->login_expires = (long long)exp;
	snprintf(cli->login_serial, sizeof(cli->login_serial), "%s",
	    json_string_value(json_object_get(login, "serial")) ?: "");
	r = EX_DONE;
out:
	json_decref(login);
	return r;
}

/* A new Ed25519 key and a CSR for it; PEM texts (malloc'd). */
int
cli_make_key(char **key_pem, char **csr_pem)
{
	EVP_PKEY_CTX *kc = NULL;
	EVP_PKEY *k = NULL;
	X509_REQ *req = NULL;
	BIO *b = NULL;
	char *p;
	long n;
	int r = -1;

	*key_pem = *csr_pem = NULL;
	if ((kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(kc) != 1 || EVP_PKEY_keygen(kc, &k) != 1 ||
	    (req = X509_REQ_new()) == NULL ||
	    X509_REQ_set_pubkey(req, k) != 1 ||
	    X509_REQ_sign(req, k, NULL) <= 0)
		goto out;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0 ||
	    (*key_pem = strndup(p, (size_t)n)) == NULL)
		goto out;
	OPENSSL_cleanse(p, (size_t)n);
	BIO_free(b);
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_REQ(b, req) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0 ||
	    (*csr_pem = strndup(p, (size_t)n)) == NULL)
		goto out;
	r = 0;
out:
	if (r != 0) {
		secret_free(*key_pem);
		*key_pem = NULL;
	}
	EVP_PKEY_CTX_free(kc);
	EVP_PKEY_free(k);
	X509_REQ_free(req);
	BIO_free(b);
	ERR_clear_error();
	return r;
}

/* One answer to a prompt: from the terminal (echo as asked), or a line of
 * standard input when it is not one.  NULL at end of input. */
static char *
read_answer(const char *prompt, bool echo)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO), restore = false;
	char buf[1024], *nl, *ans;

	if (tty) {
		fputs(prompt, stderr);
		fflush(stderr);
		if (!echo && tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) ==
			    0;
		}
	}
	ans = fgets(buf, sizeof(buf), stdin);
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (ans == NULL) {
		explicit_bzero(buf, sizeof(buf));
		return NULL;
	}
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	ans = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return ans;
}

static int
save_home(struct cli *cli, const char *name, const char *text)
{
	char path[4096];

	if (home_path(path, sizeof(path), name) != 0)
		return cli_fail(cli, EX_ERROR, "error",
		    "BROKER_HOME is too "
		    "long");
	return cli_write_file(cli, path, text, strlen(text), 0600);
}

/* mkdir -p of $BROKER_HOME, the last part 0700 (and made so). */
static int
make_home(struct cli *cli)
{
	char dir[3072], *p;

	if (home_dir(dir, sizeof(dir)) != 0)
		return cli_fail(cli, EX_ERROR, "error",
		    "no home directory "
		    "for the login (set BROKER_HOME)");
	for (p = dir + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || chmod(dir, 0700) != 0)
		goto fail;
	return EX_DONE;
fail:
	return cli_fail(
	    cli, EX_ERROR, "error", "cannot make %s: %s", dir, strerror(errno));
}

int
cli_home_subdir(struct cli *cli, const char *sub, char *buf, size_t len)
{
	int r;

	if ((r = make_home(cli)) != EX_DONE)
		return r;
	if (home_path(buf, len, sub) != 0)
		return cli_fail(cli, EX_ERROR, "error",
		    "BROKER_HOME is too "
		    "long");
	if ((mkdir(buf, 0700) != 0 && errno != EEXIST) || chmod(buf, 0700) != 0)
		return cli_fail(cli, EX_ERROR, "error", "cannot make %s: %s",
		    buf, strerror(errno));
	return EX_DONE;
}

static void
print_info(json_t *res)
{
	json_t *m;
	size_t i;

	json_array_foreach (json_object_get(res, "info"), i, m) {
		cli_print_safe(stderr, json_string_value(m));
		fputc('\n', stderr);
	}
}

/* broker login --url tls://HOST:PORT [--ca FILE | --ca-fingerprint FP]
 * [--user NAME] */
int
cli_key_and_connect(struct cli *cli, const char *url, const char *ca,
    const char *fp, char **key_pem, char **csr_pem)
{
	struct brk_error err = { { 0 } };
	struct client_tls tls = { ca, NULL, NULL, fp, NULL };
	char host[256], port[16];

	/* explicit codes on failure: the callers use *key_pem after EX_DONE */
	if (parse_url(url, host, sizeof(host), port, sizeof(port)) != 0) {
		cli_fail(cli, EX_USAGE, "usage", "--url is tls://HOST:PORT");
		return EX_USAGE;
	}
	if (cli_make_key(key_pem, csr_pem) != 0 || *key_pem == NULL ||
	    *csr_pem == NULL) {
		cli_fail(cli, EX_ERROR, "error", "cannot make a key");
		return EX_ERROR;
	}
	client_free(cli->client);
	cli->client = NULL;
	if (client_open_tls(
		host, port, &tls, cli->timeout_ms, &cli->client, &err) != 0)
		return cli_fail(cli, EX_UNREACHABLE, "unreachable",
		    "broker unreachable at %s: %s", url, err.msg);
	return EX_DONE;
}

int
cmd_login(struct cli *cli, int argc, char **argv)
{
	const char *url = NULL, *ca = NULL, *fp = NULL, *user = NULL;
	const struct cli_opt opts[] = {
		{ "ca", &ca, NULL },
		{ "ca-fingerprint", &fp, NULL },
		{ "user", &user, NULL },
		{ NULL, NULL, NULL },
	};
	struct brk_error err = { { 0 } };
	char host[256], port[16];
	char *key_pem = NULL, *csr_pem = NULL, *ans = NULL, *catext = NULL;
	json_t *args = NULL, *res = NULL, *login = NULL;
	struct passwd *pw = NULL;
	size_t calen = 0;
	int r, i;

	if (argc > 0 && strcmp(argv[0], "revoke") == 0)
		return login_revoke(cli, argc - 1, argv + 1);
	if ((r = cli_parse(cli, cli_cmd("login"), argc, argv, opts, NULL, 0)) !=
	    0)
		return r;
	url = cli->url; /* --url is a global option */
	if (url == NULL ||
	    parse_url(url, host, sizeof(host), port, sizeof(port)) != 0)
		return cli_fail(cli, EX_USAGE, "usage",
		    "login needs --url "
		    "tls://HOST:PORT");
	if ((ca == NULL) == (fp == NULL))
		return cli_fail(cli, EX_USAGE, "usage",
		    "login needs one of "
		    "--ca FILE or --ca-fingerprint SHA256:HEX");
	if (user == NULL)
		user = userdb_pwuid(getuid(), &pw, NULL) == 0 ? pw->pw_name :
								NULL;
	if (user == NULL)
		return cli_fail(cli, EX_USAGE, "usage", "who? (--user NAME)");
	if ((r = cli_key_and_connect(cli, url, ca, fp, &key_pem, &csr_pem)) !=
	    EX_DONE)
		goto out;
	args = json_pack("{s:s, s:s}", "user", user, "csr", csr_pem);
	if ((r = cli_call(cli, "login", args, &res)) != EX_DONE)
		goto out;
	for (i = 0; json_object_get(res, "prompt") != NULL; i++) {
		print_info(res);
		if (i >= LOGIN_STEPS ||
		    (ans = read_answer(
			 json_string_value(json_object_get(res, "prompt")) ?:
									     "",
			 json_is_true(json_object_get(res, "echo")))) == NULL) {
			r = cli_fail(cli, EX_REFUSED, "denied",
			    "login "
			    "abandoned (no answer)");
			goto out;
		}
		json_decref(args);
		json_decref(res);
		res = NULL;
		args = json_pack("{s:s}", "answer", ans);
		secret_free(ans);
		ans = NULL;
		if ((r = cli_call(cli, "login.answer", args, &res)) != EX_DONE)
			goto out;
	}
	r = EX_ERROR;
	if (!json_is_string(json_object_get(res, "cert")) ||
	    !json_is_string(json_object_get(res, "user"))) {
		cli_fail(cli, r, "protocol", "the broker sent no certificate");
		goto out;
	}
	if ((r = make_home(cli)) != EX_DONE)
		goto out;
	if (ca != NULL) {
		if (file_read_all(ca, 1 << 20, 0, &catext, &calen, &err) != 0) {
			r = cli_fail(cli, EX_ERROR, "error", "%s", err.msg);
			goto out;
		}
		if ((r = save_home(cli, "server-ca.pem", catext)) != EX_DONE)
			goto out;
	}
	login = json_pack("{s:s, s:s, s:O, s:O, s:O}", "url", url, "user",
	    json_string_value(json_object_get(res, "user")), "expires_at",
	    json_object_get(res, "expires_at"), "serial",
	    json_object_get(res, "serial") ?: json_null(), "expires",
	    json_object_get(res, "expires") ?: json_null());
	if (login == NULL ||
	    (fp != NULL &&
		json_object_set_new(login, "ca_fingerprint", json_string(fp)) !=
		    0)) {
		r = cli_fail(cli, EX_ERROR, "error", "out of memory");
		goto out;
	}
	free(catext);
	catext = json_dumps(login, JSON_INDENT(2));
	if ((r = save_home(cli, "key.pem", key_pem)) != EX_DONE ||
	    (r = save_home(cli, "cert.pem",
		 json_string_value(json_object_get(res, "cert")))) != EX_DONE ||
	    (r = save_home(cli, "login.json", catext)) != EX_DONE)
		goto out;
	if (cli->json)
		cli_print_json(login);
	else
		printf("logged in as %s until %s\n", cli_str(login, "user"),
		    cli_str(login, "expires"));
	r = EX_DONE;
out:
	secret_free(key_pem);
	free(csr_pem);
	free(catext);
	json_decref(args);
	json_decref(res);
	json_decref(login);
	free(pw);
	return r;
}

/* broker login revoke USER | --serial S [--reason TEXT] */
static int
login_revoke(struct cli *cli, int argc, char **argv)
{
	const char *user = NULL, *serial = NULL, *reason = NULL;
	const struct cli_opt opts[] = {
		{ "serial", &serial, NULL },
		{ "reason", &reason, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args, *res = NULL, *v;
	size_t i;
	int r, npos = 1;

	for (i = 0; i < (size_t)argc; i++)
		if (strncmp(argv[i], "--serial", 8) == 0 &&
		    (argv[i][8] == '\0' || argv[i][8] == '='))
			npos = 0; /* by serial: no USER */
	if ((r = cli_parse(cli, cli_cmd("login"), argc, argv, opts,
		 npos ? &user : NULL, npos)) != 0)
		return r;
	if ((user == NULL) == (serial == NULL))
		return cli_fail(cli, EX_USAGE, "usage",
		    "login revoke: give "
		    "a USER or --serial S (one of them)");
	if ((args = json_pack("{s:s?, s:s?, s:s?}", "user", user, "serial",
		 serial, "reason", reason)) == NULL)
		return cli_fail(cli, EX_ERROR, "internal", "out of memory");
	if ((r = cli_call(cli, "login.revoke", args, &res)) == 0) {
		if (cli->json)
			cli_print_json(res);
		else {
			printf("revoked %lld login certificate%s of ",
			    (long long)json_integer_value(
				json_object_get(res, "count")),
			    json_integer_value(json_object_get(res, "count")) ==
				    1 ?
				"" :
				"s");
			cli_print_safe(stdout, cli_str(res, "user"));
			printf(" (they must log in again):");
			json_array_foreach (
			    json_object_get(res, "revoked"), i, v) {
				putchar(' ');
				cli_print_safe(stdout, json_string_value(v));
			}
			putchar('\n');
		}
	}
	json_decref(args);
	json_decref(res);
	return r;
}

/*
 * Before logout forgets a login still in force, the broker revokes its
 * certificate, so a copy of the files left behind (a backup, a shared
 * machine) logs in no more.  The files go in any case; when the broker
 * could not be told, the exit code says so.
 */
static int
revoke_own(struct cli *cli, json_t *login)
{
	const char *url = json_string_value(json_object_get(login, "url"));
	const char *serial = json_string_value(
	    json_object_get(login, "serial"));
	json_t *args, *res = NULL;
	int r;

	if (url == NULL || serial == NULL ||
	    json_integer_value(json_object_get(login, "expires_at")) <=
		(json_int_t)time(NULL))
		return EX_DONE; /* nothing in force to revoke */
	cli->socket = NULL;
	cli->url = url;
	if ((args = json_pack(
		 "{s:s, s:s}", "serial", serial, "reason", "logout")) == NULL)
		return cli_fail(cli, EX_ERROR, "internal", "out of memory");
	r = cli_call(cli, "login.revoke", args, &res);
	cli->url = NULL; /* it was login's */
	json_decref(args);
	json_decref(res);
	/* refused: the broker no longer accepts this certificate at all
	 * (revoked already), which is what logout wants */
	if (r == EX_REFUSED)
		r = EX_DONE;
	else if (r != EX_DONE)
		fprintf(stderr,
		    "broker: the broker could not revoke this login's "
		    "certificate (serial %s); it stays valid until %s unless "
		    "a policy admin revokes it (broker login revoke --serial "
		    "%s)\n",
		    serial, cli_str(login, "expires"), serial);
	return r;
}

/* broker logout: revoke the saved login on the broker, then forget it. */
int
cmd_logout(struct cli *cli, int argc, char **argv)
{
	char path[4096];
	bool had = false;
	json_t *login;
	int r, i, told = EX_DONE;

	if ((r = cli_parse(
		 cli, cli_cmd("logout"), argc, argv, NULL, NULL, 0)) != 0)
		return r;
	if ((login = saved_login()) != NULL) {
		told = revoke_own(cli, login);
		client_free(cli->client);
		cli->client = NULL;
	}
	for (i = 0; home_files[i] != NULL; i++) {
		if (home_path(path, sizeof(path), home_files[i]) != 0)
			return cli_fail(cli, EX_ERROR, "error",
			    "BROKER_HOME "
			    "is too long");
		if (unlink(path) == 0)
			had = true;
		else if (errno != ENOENT)
			return cli_fail(cli, EX_ERROR, "error",
			    "cannot "
			    "remove %s: %s",
			    path, strerror(errno));
	}
	json_decref(login);
	if (!cli->json)
		printf("%s\n", had ? "logged out" : "not logged in");
	return told;
}

int
cli_login_describe(json_t *out)
{
	json_t *login = saved_login();

	if (login == NULL)
		return 0;
	json_object_set(out, "login_url", json_object_get(login, "url"));
	json_object_set(
	    out, "login_expires", json_object_get(login, "expires"));
	json_object_set(
	    out, "login_expires_at", json_object_get(login, "expires_at"));
	json_object_set(out, "login_serial", json_object_get(login, "serial"));
	json_decref(login);
	return 1;
}

int
cli_parse_url(const char *url, char *host, size_t hlen, char *port, size_t plen)
{
	return parse_url(url, host, hlen, port, plen);
}
