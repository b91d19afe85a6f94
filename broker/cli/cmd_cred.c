/*
 * cmd_cred.c - credentials: cert, krl, ca show, snapshot, and the
 * certificate that comes with `request --pubkey`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli.h"
#include "fileio.h"

#define PUBKEY_FILE_MAX (16 * 1024)

int
cli_read_pubkey(struct cli *cli, const char *path, char **text)
{
	struct brk_error err = { { 0 } };
	size_t len = 0;

	if (file_read_all(path, PUBKEY_FILE_MAX, 0, text, &len, &err) != 0)
		return cli_fail(
		    cli, EX_USAGE, "usage", "--pubkey: %s", err.msg);
	if (strlen(*text) != len) {
		free(*text);
		*text = NULL;
		return cli_fail(cli, EX_USAGE, "usage",
		    "--pubkey: %s holds a "
		    "NUL byte",
		    path);
	}
	return 0;
}

/*
 * Where a certificate for grant id goes next to pubkey: id_ed25519.pub ->
 * id_ed25519-r7-cert.pub, one file per grant, so that two grants never
 * overwrite each other's certificate; with id NULL ssh-keygen's own name,
 * id_ed25519-cert.pub, which ssh picks up by itself (--default-cert).
 */
static void
cli_cert_path(const char *pubkey, const char *id, char *out, size_t len)
{
	size_t n = strlen(pubkey);

	if (n > 4 && strcmp(pubkey + n - 4, ".pub") == 0)
		n -= 4;
	if (id != NULL)
		snprintf(out, len, "%.*s-%s-cert.pub", (int)n, pubkey, id);
	else
		snprintf(out, len, "%.*s-cert.pub", (int)n, pubkey);
}

/* Write data to path through a temporary file and rename. */
int
cli_write_file(struct cli *cli, const char *path, const void *data, size_t len,
    mode_t mode)
{
	struct brk_error err = { "" };

	if (strcmp(path, "-") == 0) {
		if (fwrite(data, 1, len, stdout) != len)
			return cli_fail(cli, EX_ERROR, "io",
			    "cannot write to "
			    "standard output");
		return 0;
	}
	switch (file_write_atomic(path, NULL, data, len, mode, &err)) {
	case 0:
		return 0;
	case BRK_ERR_TOOBIG:
		return cli_fail(cli, EX_USAGE, "usage", "%s", err.msg);
	default:
		return cli_fail(cli, EX_ERROR, "io", "%s", err.msg);
	}
}

/*
 * Save the certificate of a reply: to out when given, else next to the
 * public key under the grant's own name and, with dflt, also under
 * ssh-keygen's.  The paths go into res ("cert_file", "default_cert_file")
 * for --json and for cli_print_cert_files().
 */
int
cli_save_cert(struct cli *cli, json_t *res, const char *pubkey, const char *out,
    bool dflt)
{
	const char *cert = json_string_value(json_object_get(res, "cert"));
	const char *id = json_string_value(json_object_get(res, "id"));
	char path[4096], *line = NULL;
	size_t n;
	int r = EX_ERROR;

	if (cert == NULL)
		return 0;
	if (id == NULL || strchr(id, '/') != NULL)
		return cli_fail(cli, EX_ERROR, "protocol",
		    "the broker sent "
		    "a certificate without a grant id");
	n = strlen(cert);
	if ((line = malloc(n + 2)) == NULL)
		return cli_fail(cli, EX_ERROR, "internal", "out of memory");
	memcpy(line, cert, n);
	line[n] = '\n';
	if (out != NULL)
		snprintf(path, sizeof(path), "%s", out);
	else
		cli_cert_path(pubkey, id, path, sizeof(path));
	if ((r = cli_write_file(cli, path, line, n + 1, 0644)) != 0)
		goto done;
	if (strcmp(path, "-") != 0)
		json_object_set_new(res, "cert_file", json_string(path));
	if (out == NULL && dflt) {
		cli_cert_path(pubkey, NULL, path, sizeof(path));
		if ((r = cli_write_file(cli, path, line, n + 1, 0644)) != 0)
			goto done;
		json_object_set_new(
		    res, "default_cert_file", json_string(path));
	}
done:
	free(line);
	return r;
}

void
cli_print_cert_files(json_t *res)
{
	if (json_is_string(json_object_get(res, "cert_file"))) {
		printf("  certificate written to ");
		cli_print_safe(stdout, cli_str(res, "cert_file"));
		printf("\n");
	}
	if (json_is_string(json_object_get(res, "default_cert_file"))) {
		printf("  and to ");
		cli_print_safe(stdout, cli_str(res, "default_cert_file"));
		printf(" (ssh's default name: --default-cert)\n");
	}
}

int
cmd_cert(struct cli *cli, int argc, char **argv)
{
	const char *id = NULL, *pub = NULL, *out = NULL;
	bool dflt = false;
	const struct cli_opt opts[] = {
		{ "pubkey", &pub, NULL },
		{ "o", &out, NULL },
		{ "default-cert", NULL, &dflt },
		{ NULL, NULL, NULL },
	};
	json_t *args = NULL, *res = NULL;
	char *text = NULL;
	int r;

	if ((r = cli_parse(cli, cli_cmd("cert"), argc, argv, opts, &id, 1)) !=
	    0)
		return r;
	if (pub == NULL)
		return cli_fail(
		    cli, EX_USAGE, "usage", "cert: --pubkey FILE is required");
	if ((r = cli_read_pubkey(cli, pub, &text)) != 0)
		return r;
	args = json_pack("{s:s, s:s}", "id", id, "pubkey", text);
	free(text);
	if (out != NULL && dflt) {
		json_decref(args);
		return cli_fail(cli, EX_USAGE, "usage",
		    "cert: -o FILE and "
		    "--default-cert name two different files: pick one");
	}
	if ((r = cli_call(cli, "cert", args, &res)) == 0 &&
	    (r = cli_save_cert(cli, res, pub, out, dflt)) == 0) {
		if (cli->json)
			cli_print_json(res);
		else if (out == NULL || strcmp(out, "-") != 0) {
			printf("%s: certificate for %s\n", cli_str(res, "id"),
			    cli_str(res, "role"));
			cli_print_cert_files(res);
		}
	}
	json_decref(args);
	json_decref(res);
	return r;
}

int
cmd_krl(struct cli *cli, int argc, char **argv)
{
	const char *out = NULL;
	const struct cli_opt opts[] = { { "o", &out, NULL },
		{ NULL, NULL, NULL } };
	json_t *res = NULL;
	const char *b64;
	unsigned char *bin = NULL;
	size_t n;
	int len, r;

	if ((r = cli_parse(cli, cli_cmd("krl"), argc, argv, opts, NULL, 0)) !=
	    0)
		return r;
	if (out == NULL && cli->tty)
		return cli_fail(cli, EX_USAGE, "usage",
		    "krl: the KRL is "
		    "binary: give -o FILE (or redirect standard output)");
	if (cli->json && (out == NULL || strcmp(out, "-") == 0))
		return cli_fail(cli, EX_USAGE, "usage",
		    "krl: the KRL is "
		    "binary and has no JSON form: give -o FILE (--json then "
		    "says what was written)");
	if ((r = cli_call(cli, "krl", NULL, &res)) != 0)
		return r;
	b64 = cli_str(res, "krl");
	n = strlen(b64);
	if ((bin = malloc(n)) == NULL ||
	    (len = EVP_DecodeBlock(bin, (const unsigned char *)b64, (int)n)) <
		0) {
		r = cli_fail(cli, EX_ERROR, "protocol", "bad KRL from broker");
		goto out;
	}
	while (n > 0 && b64[--n] == '=')
		len--; /* EVP_DecodeBlock counts the padding */
	r = cli_write_file(
	    cli, out != NULL ? out : "-", bin, (size_t)len, 0644);
	if (r == 0 && cli->json) {
		json_t *o = json_pack("{s:s, s:I, s:I}", "file", out, "revoked",
		    json_integer_value(json_object_get(res, "revoked")),
		    "bytes", (json_int_t)len);

		cli_print_json(o);
		json_decref(o);
	} else if (r == 0 && out != NULL && cli->tty)
		printf("KRL with %lld revoked grants written "
		       "to %s\n",
		    (long long)json_integer_value(
			json_object_get(res, "revoked")),
		    out);
out:
	free(bin);
	json_decref(res);
	return r;
}

int
cmd_ca(struct cli *cli, int argc, char **argv)
{
	bool all = false;
	const struct cli_opt opts[] = { { "all", NULL, &all },
		{ NULL, NULL, NULL } };
	json_t *res = NULL, *v;
	size_t i;
	int r;

	if (argc < 1 || strcmp(argv[0], "show") != 0) {
		if (argc > 0 &&
		    (strcmp(argv[0], "--help") == 0 ||
			strcmp(argv[0], "-h") == 0))
			return cli_parse(
			    cli, cli_cmd("ca"), argc, argv, opts, NULL, 0);
		return cli_fail(cli, EX_USAGE, "usage", "ca: expected show");
	}
	if ((r = cli_parse(
		 cli, cli_cmd("ca"), argc - 1, argv + 1, opts, NULL, 0)) != 0)
		return r;
	if ((r = cli_call(cli, "ca.show", NULL, &res)) != 0)
		return r;
	if (cli->json)
		cli_print_json(res);
	else if (all)
		json_array_foreach (json_object_get(res, "all"), i, v)
			printf("%s\n", json_string_value(v));
	else
		printf("%s\n", cli_str(res, "public"));
	json_decref(res);
	return EX_DONE;
}

int
cmd_snapshot(struct cli *cli, int argc, char **argv)
{
	const char *host = NULL, *out = NULL, *dur = NULL;
	const struct cli_opt opts[] = {
		{ "host", &host, NULL },
		{ "o", &out, NULL },
		{ "for", &dur, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args = NULL, *res = NULL;
	const char *text;
	int64_t secs = 0;
	int r;

	if ((r = cli_parse(
		 cli, cli_cmd("snapshot"), argc, argv, opts, NULL, 0)) != 0)
		return r;
	if (host == NULL)
		return cli_fail(
		    cli, EX_USAGE, "usage", "snapshot: --host H is required");
	if (dur != NULL && (r = cli_duration(cli, "--for", dur, &secs)) != 0)
		return r;
	args = json_pack("{s:s}", "host", host);
	if (secs > 0)
		json_object_set_new(args, "for", json_integer(secs));
	if ((r = cli_call(cli, "snapshot", args, &res)) == 0) {
		text = cli_str(res, "snapshot");
		if (cli->json && out == NULL)
			cli_print_json(res);
		else
			r = cli_write_file(cli, out != NULL ? out : "-", text,
			    strlen(text), 0644);
	}
	json_decref(args);
	json_decref(res);
	return r;
}

void
cli_print_db(struct cli *cli, json_t *res)
{
	json_t *db = json_object_get(res, "db");
	char *text;

	if (cli->json)
		return;
	if (json_is_string(json_object_get(res, "cred_pending")))
		printf("  credentials pending: %s\n",
		    cli_str(res, "cred_pending"));
	else if (json_is_string(json_object_get(res, "cred_error")))
		printf("  no credentials: %s\n", cli_str(res, "cred_error"));
	if ((text = json_dumps(json_object_get(res, "credential"),
		 JSON_COMPACT | JSON_SORT_KEYS)) != NULL) {
		/* a credentials.exec program's: shown once, as it gave it */
		printf("  credential (shown once): %s\n", text);
		secret_free(text);
	}
	if (!json_is_object(db))
		return;
	/* shown once: the broker keeps no copy of the password */
	printf(
	    "  database login (valid until %s; shown once):\n"
	    "    postgresql://%s@/%s?host=%s&port=%s\n"
	    "    PGHOST=%s PGPORT=%s PGDATABASE=%s PGUSER=%s PGPASSWORD=%s\n",
	    cli_str(db, "expires_at"), cli_str(db, "user"),
	    cli_str(db, "dbname"), cli_str(db, "host"), cli_str(db, "port"),
	    cli_str(db, "host"), cli_str(db, "port"), cli_str(db, "dbname"),
	    cli_str(db, "user"), cli_str(db, "password"));
}

int
cmd_cred(struct cli *cli, int argc, char **argv)
{
	const char *id = NULL, *pub = NULL;
	const struct cli_opt opts[] = {
		{ "pubkey", &pub, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args = NULL, *res = NULL;
	char *text = NULL;
	int r;

	if ((r = cli_parse(cli, cli_cmd("cred"), argc, argv, opts, &id, 1)) !=
	    0)
		return r;
	if (id == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "cred: a request ID "
		    "is required");
	if (pub != NULL && (r = cli_read_pubkey(cli, pub, &text)) != 0)
		return r;
	args = json_pack("{s:s}", "id", id);
	if (args != NULL && text != NULL)
		json_object_set_new(args, "pubkey", json_string(text));
	free(text);
	if ((r = cli_call(cli, "cred", args, &res)) == 0) {
		if (cli->json)
			cli_print_json(res);
		else
			printf("%s: credentials for %s (%s)\n",
			    cli_str(res, "id"), cli_str(res, "resource"),
			    cli_str(res, "role"));
		cli_print_db(cli, res);
		if (pub != NULL && json_is_string(json_object_get(res, "cert")))
			r = cli_save_cert(cli, res, pub, NULL, false);
	}
	json_decref(args);
	json_decref(res);
	return r;
}

/*
 * psql NAME [--role R] [--for D] [-- ARGS]: request (or reuse: the broker
 * answers a repeat with the open grant) db:NAME and exec psql with the
 * login in its environment, where other users cannot read it (unlike a
 * command line, which ps shows).
 */
int
cmd_psql(struct cli *cli, int argc, char **argv)
{
	const char *name = NULL, *role = "readonly", *dur = NULL;
	const char *reason = NULL;
	const struct cli_opt opts[] = {
		{ "role", &role, NULL },
		{ "for", &dur, NULL },
		{ "reason", &reason, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args = NULL, *res = NULL, *db;
	char resource[300], **pargv = NULL;
	int64_t secs = 0;
	int i, n, r, dash = argc;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dash = i;
			break;
		}
	if ((r = cli_parse(cli, cli_cmd("psql"), dash, argv, opts, &name, 1)) !=
	    0)
		return r;
	if (name == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "psql: a database NAME "
		    "is required");
	if (dur != NULL && (r = cli_duration(cli, "for", dur, &secs)) != 0)
		return r;
	snprintf(resource, sizeof(resource), "db:%s", name);
	if ((args = json_pack(
		 "{s:s, s:s}", "resource", resource, "role", role)) == NULL)
		return cli_fail(cli, EX_ERROR, "internal", "out of memory");
	if (secs > 0)
		json_object_set_new(args, "for", json_integer(secs));
	if (reason != NULL)
		json_object_set_new(args, "reason", json_string(reason));
	if ((r = cli_call(cli, "request", args, &res)) != 0)
		goto out;
	if ((r = cli_state_exit(res)) != EX_DONE) {
		r = cli_fail(cli, r, "state", "%s: %s", resource,
		    cli_str(res, "decision"));
		goto out;
	}
	db = json_object_get(res, "db");
	if (!json_is_object(db)) {
		r = cli_fail(cli, EX_ERROR, "credentials",
		    "granted (%s) but "
		    "no login yet: %s",
		    cli_str(res, "id"),
		    json_is_string(json_object_get(res, "cred_pending")) ?
			cli_str(res, "cred_pending") :
			cli_str(res, "cred_error"));
		goto out;
	}
	if (setenv("PGHOST", cli_str(db, "host"), 1) != 0 ||
	    setenv("PGPORT", cli_str(db, "port"), 1) != 0 ||
	    setenv("PGDATABASE", cli_str(db, "dbname"), 1) != 0 ||
	    setenv("PGUSER", cli_str(db, "user"), 1) != 0 ||
	    setenv("PGPASSWORD", cli_str(db, "password"), 1) != 0) {
		r = cli_fail(cli, EX_ERROR, "internal", "out of memory");
		goto out;
	}
	n = dash < argc ? argc - dash - 1 : 0;
	if ((pargv = calloc((size_t)n + 2, sizeof(*pargv))) == NULL) {
		r = cli_fail(cli, EX_ERROR, "internal", "out of memory");
		goto out;
	}
	pargv[0] = (char *)"psql";
	for (i = 0; i < n; i++)
		pargv[i + 1] = argv[dash + 1 + i];
	fflush(stdout);
	execvp("psql", pargv);
	r = cli_fail(
	    cli, EX_ERROR, "exec", "cannot run psql: %s", strerror(errno));
out:
	free(pargv);
	json_decref(args);
	json_decref(res);
	return r;
}
