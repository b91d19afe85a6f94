/*
 * common.c - connection, options, errors and printing for every command.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
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
cli_number(struct cli *cli, const char *opt, const char *what, const char *s,
    long min, long max, long *out)
{
	char *end = NULL;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < min || n > max)
		return cli_fail(cli, EX_USAGE, "usage",
		    "%s takes %s from %ld to %ld", opt, what, min, max);
	*out = n;
	return EX_DONE;
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
		o = json_pack(
		    "{s:{s:s, s:s}}", "error", "code", errcode, "message", msg);
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
	int r;

	*result = NULL;
	if (cli->client == NULL && (r = cli_connect(cli)) != EX_DONE)
		return r;
	r = client_call(
	    cli->client, op, args, cli->as, cli->timeout_ms, result, &err);
	if (r == 0)
		return EX_DONE;
	if (r == BRK_ERR_UNREACHABLE && cli->login_expires > 0)
		return cli_fail(cli, EX_UNREACHABLE, "unreachable",
		    "broker unreachable: %s (if it refused the login "
		    "certificate, log in again)",
		    err.msg);
	if (r == BRK_ERR_TIMEOUT || r == BRK_ERR_UNREACHABLE ||
	    r == BRK_ERR_PROTOCOL)
		return cli_fail(cli, EX_UNREACHABLE, "unreachable",
		    "broker unreachable: %s", err.msg);
	return cli_fail(
	    cli, cli_exit_code(r), brk_errcode_name(r), "%s", err.msg);
}

static void
print_usage(FILE *f, const struct cli_cmd *cmd)
{
	fprintf(f, "usage: broker [--socket PATH] [--as USER] [--json] %s\n",
	    cmd->usage);
}

/* The options every command takes, wherever they stand. */
static const char *const global_opts[] = { "json", "socket", "url", "as",
	NULL };

void
cli_print_help(FILE *f, const struct cli_cmd *cmd, const struct cli_opt *opts)
{
	const struct cli_opt *o;
	const char *arg, *help;
	char left[40];
	size_t i;

	print_usage(f, cmd);
	fprintf(f, "\n%s\n\noptions:\n", cmd->help);
	for (o = opts; o != NULL && o->name != NULL; o++) {
		cli_opt_help(cmd->name, o->name, &arg, &help);
		snprintf(left, sizeof(left), "%s%s%s%s",
		    o->name[1] == '\0' ? "-" : "--", o->name,
		    o->flag == NULL ? " " : "", o->flag == NULL ? arg : "");
		fprintf(f, "  %-22s %s\n", left, help);
	}
	for (i = 0; global_opts[i] != NULL; i++) {
		cli_opt_help(NULL, global_opts[i], &arg, &help);
		snprintf(left, sizeof(left), "--%s%s%s", global_opts[i],
		    arg[0] != '\0' ? " " : "", arg);
		fprintf(f, "  %-22s %s\n", left, help);
	}
	fprintf(f, "  %-22s %s\n", "-h, --help", "this text");
	if (opts == NULL && strchr(cmd->usage, '|') != NULL)
		fprintf(f,
		    "\nRun 'broker %s SUBCOMMAND --help' for a "
		    "subcommand's options.\n",
		    cmd->name);
}

/* A global option at argv[*i] (--json, --socket[=]P, --as[=]U): 1 when it
 * was one, 0 when not, EX_USAGE (printed) when its value is missing. */
static int
global_opt(struct cli *cli, const char *cmd, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *eq, **dst;
	size_t n;

	if (strcmp(a, "--json") == 0) {
		cli->json = true;
		return 1;
	}
	if (strncmp(a, "--socket", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
		dst = &cli->socket;
		n = 8;
	} else if (strncmp(a, "--url", 5) == 0 &&
	    (a[5] == '\0' || a[5] == '=')) {
		dst = &cli->url;
		n = 5;
	} else if (strncmp(a, "--as", 4) == 0 &&
	    (a[4] == '\0' || a[4] == '=')) {
		dst = &cli->as;
		n = 4;
	} else
		return 0;
	if ((eq = a[n] == '=' ? a + n + 1 : NULL) != NULL)
		*dst = eq;
	else if (*i + 1 < argc)
		*dst = argv[++*i];
	else {
		fprintf(stderr, "broker: %s%s%s needs a value\n",
		    cmd != NULL ? cmd : "", cmd != NULL ? ": " : "", a);
		return EX_USAGE;
	}
	return 1;
}

int
cli_global_opt(struct cli *cli, int argc, char **argv, int *i)
{
	return global_opt(cli, NULL, argc, argv, i);
}

int
cli_parse(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv,
    const struct cli_opt *opts, const char **pos, int npos)
{
	int i, got = 0, g;
	const struct cli_opt *o;
	const char *name, *value;
	char opt[64];
	bool dashes = false; /* after "--" everything is positional */

	for (i = 0; i < argc; i++) {
		value = NULL;
		if (dashes || argv[i][0] != '-' || argv[i][1] == '\0') {
			if (strcmp(argv[i], "--") == 0 && !dashes) {
				dashes = true;
				continue;
			}
			if (got >= npos)
				goto extra;
			pos[got++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			dashes = true;
			continue;
		}
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			cli_print_help(stdout, cmd, opts);
			return -1;
		}
		/* --name, --name=value, or a one-letter -x (like -o FILE) */
		if (argv[i][1] == '-') {
			name = argv[i] + 2;
			snprintf(opt, sizeof(opt), "%.*s",
			    (int)strcspn(name, "="), name);
			if (name[strlen(opt)] == '=')
				value = name + strlen(opt) + 1;
			name = opt;
		} else if (argv[i][2] == '\0')
			name = argv[i] + 1;
		else {
			fprintf(stderr, "broker: %s: unknown option %s\n",
			    cmd->name, argv[i]);
			goto usage;
		}
		for (o = opts; o != NULL && o->name != NULL; o++)
			if (strcmp(name, o->name) == 0)
				break;
		if (o == NULL || o->name == NULL) {
			if ((g = global_opt(cli, cmd->name, argc, argv, &i)) ==
			    1)
				continue;
			if (g != 0)
				goto usage;
			fprintf(stderr, "broker: %s: unknown option %s\n",
			    cmd->name, argv[i]);
			goto usage;
		}
		if (o->flag != NULL) {
			if (value != NULL) {
				fprintf(stderr,
				    "broker: %s: --%s takes no "
				    "value\n",
				    cmd->name, o->name);
				goto usage;
			}
			*o->flag = true;
			continue;
		}
		if (value == NULL) {
			if (i + 1 >= argc) {
				fprintf(stderr,
				    "broker: %s: %s needs a value\n", cmd->name,
				    argv[i]);
				goto usage;
			}
			value = argv[++i];
		}
		*o->str = value;
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
	fprintf(stderr, "Run 'broker %s --help' for its options.\n", cmd->name);
	return EX_USAGE;
}

int
cli_duration(struct cli *cli, const char *opt, const char *s, int64_t *out)
{
	if (duration_parse(s, out) != 0)
		return cli_fail(cli, EX_USAGE, "usage",
		    "%s: \"%s\" is not a "
		    "duration like 90s, 15m, 8h or 2d (at most 366d)",
		    opt, s);
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
	abort(); /* a command asked for a table entry that is missing */
}
