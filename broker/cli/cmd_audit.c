/*
 * cmd_audit.c - the audit trail from the command line.
 *
 *   audit [--since T] [--until T] [--user U] [--resource R] [--action A]
 *         [--request ID] [--limit N] [--json]      search, newest first
 *   audit verify [--anchor FILE]                   walk the hash chain
 *   audit export [--since SEQ]                     NDJSON for a SIEM
 *   audit anchor [-o FILE] [--new]                 the latest signed anchor
 *   audit prune --before DATE                      file a prune of old records
 *   audit prune confirm ID                         a second person runs it
 *   audit prune list                               prunes awaiting a second
 *
 * Whatever came from a user (reasons, names) is printed with control
 * characters escaped.  Long operations get a long timeout; export is paged
 * (10,000 records a call) and resumable by sequence number.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "duration.h"
#include "fileio.h"
#include "timefmt.h"

#define LONG_TIMEOUT_MS (10 * 60 * 1000)

/* s with C0/C1 controls and DEL escaped, into buf (truncated to len). */
static const char *
safe(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t used = 0;
	char esc[8];
	const char *add;
	size_t n;

	for (; *p != '\0' && used + 1 < len; p++) {
		if (*p == '\n')
			add = "\\n";
		else if (*p == '\t')
			add = "\\t";
		else if (*p < 0x20 || *p == 0x7f ||
		    (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
			snprintf(esc, sizeof(esc), "\\x%02x",
			    *p == 0xc2 ? *++p : *p);
			add = esc;
		} else {
			buf[used++] = (char)*p;
			continue;
		}
		n = strlen(add);
		if (used + n + 1 > len)
			break;
		memcpy(buf + used, add, n);
		used += n;
	}
	buf[used] = '\0';
	return buf;
}

/* A time option: RFC 3339, a date (YYYY-MM-DD), or a duration ago. */
static int
parse_when(struct cli *cli, const char *opt, const char *s, int64_t *out)
{
	char buf[40];
	int64_t d;

	if (time_parse_rfc3339(s, out) == 0)
		return 0;
	if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
		snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
		if (time_parse_rfc3339(buf, out) == 0)
			return 0;
	}
	if (duration_parse(s, &d) == 0) {
		*out = (int64_t)time(NULL) - d;
		return 0;
	}
	return cli_fail(cli, EX_USAGE, "usage",
	    "%s: \"%s\" is neither a time "
	    "(2026-01-31T12:00:00Z, 2026-01-31) nor a duration ago (2h, 7d)",
	    opt, s);
}

static int
parse_count(struct cli *cli, const char *opt, const char *s, long long min,
    long long max, long long *out)
{
	char *end = NULL;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *out < min || *out > max)
		return cli_fail(cli, EX_USAGE, "usage",
		    "%s takes a number "
		    "from %lld to %lld",
		    opt, min, max);
	return 0;
}

static void
print_row(json_t *e)
{
	char ts[TIMEFMT_LEN], a[64], b[64], c[64], u[64], r[256], why[1024];
	const char *actor = cli_str(e, "actor"), *caller = cli_str(e, "caller");

	time_rfc3339((int64_t)json_integer_value(json_object_get(e, "ts")), ts);
	safe(actor, a, sizeof(a));
	if (strcmp(actor, caller) != 0) {
		size_t n = strlen(a);
		snprintf(
		    a + n, sizeof(a) - n, "(%s)", safe(caller, b, sizeof(b)));
	}
	printf("%s %7lld  %-20s %-16s %-8s %-10s %-16s %s\n", ts,
	    (long long)json_integer_value(json_object_get(e, "seq")),
	    safe(cli_str(e, "action"), b, sizeof(b)), a,
	    safe(cli_str(e, "target"), c, sizeof(c)),
	    safe(cli_str(e, "user"), u, sizeof(u)),
	    safe(cli_str(e, "resource"), r, sizeof(r)),
	    safe(cli_str(e, "reason"), why, sizeof(why)));
}

static int
audit_search(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *since = NULL, *until = NULL, *user = NULL, *res = NULL,
		   *action = NULL, *req = NULL, *limit = NULL;
	bool json = false;
	const struct cli_opt opts[] = {
		{ "since", &since, NULL },
		{ "until", &until, NULL },
		{ "user", &user, NULL },
		{ "resource", &res, NULL },
		{ "action", &action, NULL },
		{ "request", &req, NULL },
		{ "limit", &limit, NULL },
		{ "json", NULL, &json },
		{ NULL, NULL, NULL },
	};
	json_t *args = NULL, *out = NULL, *e;
	int64_t t0 = 0, t1 = 0;
	long long n = 100;
	size_t i;
	int r;

	if ((r = cli_parse(cli, cmd, argc, argv, opts, NULL, 0)) != 0)
		return r;
	if (json)
		cli->json = true;
	if ((since != NULL &&
		(r = parse_when(cli, "--since", since, &t0)) != 0) ||
	    (until != NULL &&
		(r = parse_when(cli, "--until", until, &t1)) != 0) ||
	    (limit != NULL &&
		(r = parse_count(cli, "--limit", limit, 1, 10000, &n)) != 0))
		return r;
	args = json_pack("{s:I, s:s?, s:s?, s:s?, s:s?}", "limit",
	    (json_int_t)n, "user", user, "resource", res, "action", action,
	    "request", req);
	if (args == NULL)
		return cli_fail(cli, EX_ERROR, "nomem", "out of memory");
	if (since != NULL)
		json_object_set_new(
		    args, "since", json_integer(t0 > 0 ? t0 : 1));
	if (until != NULL)
		json_object_set_new(
		    args, "until", json_integer(t1 > 0 ? t1 : 1));
	cli->timeout_ms = LONG_TIMEOUT_MS;
	if ((r = cli_call(cli, "audit.search", args, &out)) == 0) {
		if (cli->json)
			cli_print_json(out);
		else {
			printf("%-20s %7s  %-20s %-16s %-8s %-10s %-16s %s\n",
			    "TIME", "SEQ", "ACTION", "ACTOR(CALLER)", "TARGET",
			    "USER", "RESOURCE", "REASON");
			json_array_foreach (out, i, e)
				print_row(e);
		}
	}
	json_decref(args);
	json_decref(out);
	return r;
}

static int
audit_verify(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct brk_error err = { { 0 } };
	const char *anchor = NULL;
	const struct cli_opt opts[] = {
		{ "anchor", &anchor, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args = NULL, *res = NULL, *a;
	char *text = NULL;
	size_t len = 0;
	bool intact;
	int r;

	if ((r = cli_parse(cli, cmd, argc, argv, opts, NULL, 0)) != 0)
		return r;
	if (anchor != NULL) {
		if (file_read_all(anchor, 8192, 0, &text, &len, &err) != 0)
			return cli_fail(cli, EX_USAGE, "usage", "%s", err.msg);
		args = json_pack("{s:s}", "anchor", text);
		free(text);
	}
	cli->timeout_ms = LONG_TIMEOUT_MS;
	r = cli_call(cli, "audit.verify", args, &res);
	json_decref(args);
	if (r != 0)
		return r;
	intact = json_is_true(json_object_get(res, "ok"));
	if (cli->json)
		cli_print_json(res);
	else {
		printf("%s: %lld records checked: %s\n",
		    intact ? "intact" : "BROKEN",
		    (long long)json_integer_value(
			json_object_get(res, "records")),
		    cli_str(res, "message"));
		if (!intact &&
		    json_integer_value(json_object_get(res, "first_bad")) > 0)
			printf("first bad record: %lld\n",
			    (long long)json_integer_value(
				json_object_get(res, "first_bad")));
		if ((a = json_object_get(res, "anchor")) != NULL)
			printf("anchor at record %lld: %s\n",
			    (long long)json_integer_value(
				json_object_get(a, "seq")),
			    cli_str(a, "message"));
	}
	json_decref(res);
	return intact ? EX_DONE : EX_REFUSED;
}

static int
audit_export(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *since = NULL;
	const struct cli_opt opts[] = {
		{ "since", &since, NULL },
		{ NULL, NULL, NULL },
	};
	long long after = 0;
	json_t *args, *res = NULL, *s;
	bool more = true;
	size_t i;
	int r;

	if ((r = cli_parse(cli, cmd, argc, argv, opts, NULL, 0)) != 0)
		return r;
	if (since != NULL &&
	    (r = parse_count(cli, "--since", since, 0, INT64_MAX, &after)) != 0)
		return r;
	cli->timeout_ms = LONG_TIMEOUT_MS;
	while (more) {
		args = json_pack("{s:I}", "since", (json_int_t)after);
		r = cli_call(cli, "audit.export", args, &res);
		json_decref(args);
		if (r != 0)
			return r;
		json_array_foreach (json_object_get(res, "records"), i, s) {
			fwrite(json_string_value(s), 1, json_string_length(s),
			    stdout);
			fputc('\n', stdout);
		}
		more = json_is_true(json_object_get(res, "more")) &&
		    json_integer_value(json_object_get(res, "last")) > after;
		after = json_integer_value(json_object_get(res, "last"));
		json_decref(res);
		res = NULL;
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return cli_fail(cli, EX_ERROR, "io", "cannot write the export");
	return EX_DONE;
}

static int
audit_anchor(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *out = NULL;
	bool fresh = false;
	const struct cli_opt opts[] = {
		{ "o", &out, NULL },
		{ "new", NULL, &fresh },
		{ NULL, NULL, NULL },
	};
	json_t *args, *res = NULL;
	const char *text;
	int r;

	if ((r = cli_parse(cli, cmd, argc, argv, opts, NULL, 0)) != 0)
		return r;
	args = fresh ? json_pack("{s:b}", "new", 1) : NULL;
	r = cli_call(cli, "audit.anchor", args, &res);
	json_decref(args);
	if (r != 0)
		return r;
	text = cli_str(res, "anchor");
	if (cli->json && out == NULL)
		cli_print_json(res);
	else if ((r = cli_write_file(cli, out != NULL ? out : "-", text,
		      strlen(text), 0644)) == 0 &&
	    out != NULL && strcmp(out, "-") != 0 && !cli->json)
		printf("anchor for record %lld written to %s\n",
		    (long long)json_integer_value(json_object_get(res, "seq")),
		    out);
	json_decref(res);
	return r;
}

/* audit prune list: the prunes waiting for a second person. */
static int
prune_list(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	json_t *args, *res = NULL, *e;
	size_t i;
	int r;

	if ((r = cli_parse(cli, cmd, argc, argv, NULL, NULL, 0)) != 0)
		return r;
	args = json_pack("{s:b}", "list", 1);
	r = cli_call(cli, "audit.prune", args, &res);
	json_decref(args);
	if (r != 0)
		return r;
	if (cli->json)
		cli_print_json(res);
	else if (json_array_size(res) == 0)
		printf("no prune is waiting for confirmation\n");
	else
		json_array_foreach (res, i, e) {
			printf("%s  records before %s, filed by ",
			    cli_str(e, "id"), cli_str(e, "before"));
			cli_print_safe(stdout, cli_str(e, "filed_by"));
			printf(", expires %s\n", cli_str(e, "expires_at"));
		}
	json_decref(res);
	return EX_DONE;
}

/* audit prune confirm ID: a second policy admin or auditor runs it. */
static int
prune_confirm(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *id = NULL;
	json_t *args, *res = NULL;
	long long total, last, anchor;
	bool blocked;
	int r;

	if ((r = cli_parse(cli, cmd, argc, argv, NULL, &id, 1)) != 0)
		return r;
	cli->timeout_ms = LONG_TIMEOUT_MS;
	args = json_pack("{s:s}", "confirm", id);
	r = cli_call(cli, "audit.prune", args, &res);
	json_decref(args);
	if (r != 0)
		return r;
	total = json_integer_value(json_object_get(res, "pruned"));
	last = json_integer_value(json_object_get(res, "last_pruned"));
	anchor = json_integer_value(json_object_get(res, "anchor_seq"));
	blocked = json_is_true(json_object_get(res, "blocked"));
	if (cli->json)
		cli_print_json(res);
	else if (total > 0)
		printf(
		    "pruned %lld records (through record %lld)\n", total, last);
	else if (!blocked)
		printf("nothing to prune\n");
	json_decref(res);
	if (blocked)
		return cli_fail(cli, EX_REFUSED, "denied",
		    "audit prune: "
		    "records after %lld are old enough but no exported anchor "
		    "covers them (make one with 'broker audit anchor --new')",
		    anchor);
	return EX_DONE;
}

/*
 * audit prune --before DATE files a prune; it runs only once a different
 * policy admin or auditor confirms it (exit 3 until then).
 */
static int
audit_prune(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *before = NULL;
	const struct cli_opt opts[] = {
		{ "before", &before, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args, *res = NULL;
	int64_t t = 0;
	int r;

	if (argc >= 1 && strcmp(argv[0], "confirm") == 0)
		return prune_confirm(cli, cmd, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return prune_list(cli, cmd, argc - 1, argv + 1);
	if ((r = cli_parse(cli, cmd, argc, argv, opts, NULL, 0)) != 0)
		return r;
	if (before == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "audit prune: --before "
		    "DATE is required (or: audit prune confirm ID, audit "
		    "prune list)");
	if ((r = parse_when(cli, "--before", before, &t)) != 0)
		return r;
	args = json_pack("{s:I}", "before", (json_int_t)(t > 0 ? t : 1));
	r = cli_call(cli, "audit.prune", args, &res);
	json_decref(args);
	if (r != 0)
		return r;
	if (cli->json)
		cli_print_json(res);
	else
		printf(
		    "%s pending: prune of the records before %s; another "
		    "policy admin or auditor runs it with: broker audit prune "
		    "confirm %s\n",
		    cli_str(res, "id"), cli_str(res, "before"),
		    cli_str(res, "id"));
	json_decref(res);
	return EX_PENDING;
}

int
cmd_audit(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd *cmd = cli_cmd("audit");

	if (argc >= 1 && strcmp(argv[0], "verify") == 0)
		return audit_verify(cli, cmd, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "export") == 0)
		return audit_export(cli, cmd, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "anchor") == 0)
		return audit_anchor(cli, cmd, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "prune") == 0)
		return audit_prune(cli, cmd, argc - 1, argv + 1);
	if (argc >= 1 && argv[0][0] != '-')
		return cli_fail(cli, EX_USAGE, "usage",
		    "audit: unknown "
		    "subcommand \"%s\" (verify, export, anchor, prune, or "
		    "search options)",
		    argv[0]);
	return audit_search(cli, cmd, argc, argv);
}
