/*
 * common.c - connection, options, errors and printing for every command.
 */
#include "cli.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "errors.h"

int
cli_exit_code(int rc)
{
	switch (rc) {
	case 0:
		return EX_DONE;
	case BRK_ERR_UNREACHABLE:
		return EX_UNREACHABLE;
	case BRK_ERR_INVALID:
	case BRK_ERR_TOOBIG:
	case BRK_ERR_USAGE:
		return EX_USAGE;
	case BRK_ERR_DENIED:
	case BRK_ERR_PERM:
		return EX_REFUSED;
	default:
		return EX_ERROR;
	}
}

int
cli_fail(struct cli *cli, int code, const char *errcode, const char *fmt, ...)
{
	char msg[2048];
	json_t *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cli != NULL && cli->json) {
		o = json_pack("{s:{s:s, s:s}}", "error", "code", errcode,
		    "message", msg);
		if (o != NULL) {
			json_dumpf(o, stderr, JSON_COMPACT);
			fputc('\n', stderr);
			json_decref(o);
		}
	} else {
		fputs("broker: ", stderr);
		cli_print_safe(stderr, msg);
		fputc('\n', stderr);
	}
	return code;
}

int
cli_call(struct cli *cli, const char *op, json_t *args, json_t **result)
{
	struct brk_error err = { { 0 } };
	uid_t server_uid = CLIENT_NO_UID;
	const char *sv;
	int r;

	*result = NULL;
	/* the broker may run as a daemon user: BROKER_SERVER_UID names it */
	if (cli->client == NULL && (sv = getenv("BROKER_SERVER_UID")) !=
	    NULL && sv[0] != '\0' &&
	    (r = client_parse_uid(sv, &server_uid, &err)) != 0)
		return cli_fail(cli, EX_USAGE, "usage", "BROKER_SERVER_UID: %s",
		    err.msg);
	if (cli->client == NULL &&
	    (r = client_open_as(cli->socket, server_uid, cli->timeout_ms,
	    &cli->client, &err)) != 0)
		return cli_fail(cli, EX_UNREACHABLE, "unreachable",
		    "broker unreachable: %s", err.msg);
	r = client_call(cli->client, op, args, cli->as, cli->timeout_ms,
	    result, &err);
	if (r == 0)
		return EX_DONE;
	if (r == BRK_ERR_TIMEOUT || r == BRK_ERR_UNREACHABLE ||
	    r == BRK_ERR_PROTOCOL)
		return cli_fail(cli, EX_UNREACHABLE, "unreachable",
		    "broker unreachable: %s", err.msg);
	return cli_fail(cli, cli_exit_code(r), brk_errcode_name(r), "%s",
	    err.msg);
}

static void
print_usage(FILE *f, const struct cli_cmd *cmd)
{
	fprintf(f, "usage: broker [--socket PATH] [--as USER] [--json] %s\n",
	    cmd->usage);
}

int
cli_parse(const struct cli_cmd *cmd, int argc, char **argv,
    const struct cli_opt *opts, const char **pos, int npos)
{
	int i, got = 0;
	const struct cli_opt *o;
	const char *name;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			print_usage(stdout, cmd);
			printf("\n%s\n", cmd->help);
			return -1;
		}
		/* --name, or a one-letter -x (like -o FILE) */
		if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0')
			name = argv[i] + 2;
		else if (argv[i][0] == '-' && argv[i][1] != '\0' &&
		    argv[i][1] != '-' && argv[i][2] == '\0')
			name = argv[i] + 1;
		else {
			if (got >= npos)
				goto extra;
			pos[got++] = argv[i];
			continue;
		}
		for (o = opts; o != NULL && o->name != NULL; o++)
			if (strcmp(name, o->name) == 0)
				break;
		if (o == NULL || o->name == NULL) {
			fprintf(stderr, "broker: %s: unknown option %s\n",
			    cmd->name, argv[i]);
			goto usage;
		}
		if (o->flag != NULL) {
			*o->flag = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "broker: %s: %s needs a value\n",
			    cmd->name, argv[i]);
			goto usage;
		}
		*o->str = argv[++i];
	}
	if (got == npos)
		return 0;
	fprintf(stderr, "broker: %s: missing argument\n", cmd->name);
	goto usage;
extra:
	fprintf(stderr, "broker: %s: unexpected argument \"%s\"\n", cmd->name,
	    argv[i]);
usage:
	print_usage(stderr, cmd);
	return EX_USAGE;
}

int
cli_duration(struct cli *cli, const char *opt, const char *s, int64_t *out)
{
	if (duration_parse(s, out) != 0)
		return cli_fail(cli, EX_USAGE, "usage", "%s: \"%s\" is not a "
		    "duration like 90s, 15m, 8h or 2d (at most 366d)", opt, s);
	return 0;
}

void
cli_print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
}

void
cli_print_safe(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; p != NULL && *p != '\0'; p++) {
		if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

const char *
cli_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "-";
}

const char *
cli_color(struct cli *cli, const char *which)
{
	if (!cli->color)
		return "";
	if (strcmp(which, "green") == 0)
		return "\033[32m";
	if (strcmp(which, "red") == 0)
		return "\033[31m";
	if (strcmp(which, "yellow") == 0)
		return "\033[33m";
	if (strcmp(which, "bold") == 0)
		return "\033[1m";
	return "\033[0m";
}

int
cli_state_exit(json_t *r)
{
	const char *st = cli_str(r, "state");

	/* a scheduled grant is granted: its window opens later */
	if (strcmp(st, "active") == 0 || strcmp(st, "scheduled") == 0)
		return EX_DONE;
	if (strcmp(st, "pending") == 0)
		return EX_PENDING;
	if (strcmp(st, "denied") == 0)
		return EX_REFUSED;
	return EX_ERROR;
}

const struct cli_cmd *
cli_cmd(const char *name)
{
	const struct cli_cmd *c;

	for (c = cli_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	abort();	/* a command asked for a table entry that is missing */
}
