/*
 * cmd_optout.c - opting out of automation: optout, freeze, unfreeze, flag.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "duration.h"

static void
print_left(long long s)
{
	if (s >= 3600)
		printf("%lldh%02lldm left", s / 3600, s / 60 % 60);
	else
		printf("%lldm%02llds left", s / 60, s % 60);
}

void
cli_print_optout(struct cli *cli, json_t *o)
{
	bool active = json_is_true(json_object_get(o, "active"));

	printf("%s%s%s %-6s %-7s ", cli_color(cli, "bold"), cli_str(o, "id"),
	    cli_color(cli, "reset"), cli_str(o, "mode"),
	    json_is_true(json_object_get(o, "freeze")) ? "FREEZE" : "");
	cli_print_safe(stdout, cli_str(o, "scope"));
	printf("  [%s] by %s, ", cli_str(o, "tag"), cli_str(o, "by"));
	if (active)
		print_left(json_integer_value(json_object_get(o, "left_s")));
	else
		printf("ended %s (%s)", cli_str(o, "ended_at"),
		    cli_str(o, "end_kind"));
	printf("\n    ");
	cli_print_safe(stdout, cli_str(o, "reason"));
	printf("\n");
}

static int
print_result(struct cli *cli, json_t *res)
{
	if (cli->json)
		cli_print_json(res);
	else
		cli_print_optout(cli, res);
	return EX_DONE;
}

/* optout extend ID --for DUR --reason TEXT: the same opt-out, ending
 * DUR from now. */
static int
optout_extend(struct cli *cli, const char *id, int argc, char **argv)
{
	const char *reason = NULL, *dur = NULL;
	const struct cli_opt opts[] = {
		{ "reason", &reason, NULL },
		{ "for", &dur, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args, *res = NULL;
	int64_t secs = 0;
	int r;

	if ((r = cli_parse(
		 cli, cli_cmd("optout"), argc, argv, opts, NULL, 0)) != 0)
		return r;
	if (reason == NULL || dur == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "optout extend: "
		    "--reason TEXT and --for DUR are required (every opt-out "
		    "ends)");
	if ((r = cli_duration(cli, "--for", dur, &secs)) != 0)
		return r;
	args = json_pack("{s:s, s:s, s:I}", "id", id, "reason", reason, "for",
	    (json_int_t)secs);
	if ((r = cli_call(cli, "optout.extend", args, &res)) == 0)
		r = print_result(cli, res);
	json_decref(args);
	json_decref(res);
	return r;
}

static int
optout_add(struct cli *cli, int argc, char **argv)
{
	const char *scope = NULL, *tag = NULL, *reason = NULL, *dur = NULL,
		   *mode = NULL, *incident = NULL;
	const struct cli_opt opts[] = {
		{ "tag", &tag, NULL },
		{ "reason", &reason, NULL },
		{ "for", &dur, NULL },
		{ "mode", &mode, NULL },
		{ "incident", &incident, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args = NULL, *res = NULL;
	int64_t secs = 0;
	int r;

	if ((r = cli_parse(
		 cli, cli_cmd("optout"), argc, argv, opts, &scope, 1)) != 0)
		return r;
	if (reason == NULL || dur == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "optout add: --reason "
		    "TEXT and --for DUR are required (every opt-out ends)");
	if (tag == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "optout add: --tag TAG "
		    "is required (see broker optout --help)");
	if ((r = cli_duration(cli, "--for", dur, &secs)) != 0)
		return r;
	args = json_pack("{s:s, s:s, s:s, s:I, s:s?, s:s?}", "scope", scope,
	    "tag", tag, "reason", reason, "for", (json_int_t)secs, "mode", mode,
	    "incident", incident);
	if ((r = cli_call(cli, "optout.add", args, &res)) == 0)
		r = print_result(cli, res);
	json_decref(args);
	json_decref(res);
	return r;
}

static int
simple(struct cli *cli, const char *op, json_t *args, bool list)
{
	json_t *res = NULL, *o, *arr;
	size_t i;
	int r;

	r = cli_call(cli, op, args, &res);
	json_decref(args);
	if (r != 0)
		return r;
	arr = json_is_array(res) ? res : json_object_get(res, "ended");
	if (cli->json)
		cli_print_json(res);
	else if (list || arr != NULL) {
		if (json_array_size(arr) == 0)
			printf("none\n");
		json_array_foreach (arr, i, o)
			cli_print_optout(cli, o);
	} else {
		cli_print_optout(cli, res);
		if (json_is_array(json_object_get(res, "affected"))) {
			printf("    affected requests:");
			json_array_foreach (
			    json_object_get(res, "affected"), i, o)
				printf(" %s", json_string_value(o));
			printf("\n");
		}
	}
	json_decref(res);
	return EX_DONE;
}

/* A total time as typed (2h, 1h30m), "0s" for none. */
static void
fmt_total(int64_t secs, char *buf, size_t len)
{
	if (secs <= 0)
		snprintf(buf, len, "0s");
	else
		duration_format(secs, buf, len);
}

static void
print_tally(const char *title, json_t *obj)
{
	const char *k;
	json_t *v;

	char d[32];

	printf("%s\n", title);
	if (json_object_size(obj) == 0)
		printf("  (none)\n");
	json_object_foreach (obj, k, v) {
		fmt_total(json_integer_value(json_object_get(v, "seconds")), d,
		    sizeof(d));
		printf("  %6lld  %9s  ",
		    (long long)json_integer_value(json_object_get(v, "count")),
		    d);
		cli_print_safe(stdout, k);
		printf("\n");
	}
}

static int
report(struct cli *cli, int argc, char **argv)
{
	const char *since = NULL;
	const struct cli_opt opts[] = { { "since", &since, NULL },
		{ NULL, NULL, NULL } };
	json_t *args = json_object(), *res = NULL, *w;
	int64_t secs = 0;
	size_t i;
	int r;

	if ((r = cli_parse(
		 cli, cli_cmd("optout"), argc, argv, opts, NULL, 0)) != 0 ||
	    (since != NULL &&
		(r = cli_duration(cli, "--since", since, &secs)) != 0)) {
		json_decref(args);
		return r;
	}
	if (secs > 0)
		json_object_set_new(args, "since", json_integer(secs));
	r = cli_call(cli, "optout.report", args, &res);
	json_decref(args);
	if (r != 0)
		return r;
	if (cli->json)
		cli_print_json(res);
	else {
		char d[32];

		fmt_total(json_integer_value(json_object_get(res, "total_s")),
		    d, sizeof(d));
		printf("opt-outs since %s: %lld, %s in all\n",
		    cli_str(res, "since"),
		    (long long)json_integer_value(
			json_object_get(res, "count")),
		    d);
		print_tally("by scope:   count       time  scope",
		    json_object_get(res, "by_scope"));
		print_tally("by tag:     count       time  tag",
		    json_object_get(res, "by_tag"));
		print_tally("by person:  count       time  person",
		    json_object_get(res, "by_person"));
		json_array_foreach (json_object_get(res, "warnings"), i, w) {
			printf("%swarning:%s ", cli_color(cli, "yellow"),
			    cli_color(cli, "reset"));
			cli_print_safe(stdout, json_string_value(w));
			printf("\n");
		}
	}
	json_decref(res);
	return EX_DONE;
}

int
cmd_optout(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd *cmd = cli_cmd("optout");
	const char *sub = argc > 0 ? argv[0] : "", *id = NULL, *reason = NULL,
		   *dur = NULL;
	bool all = false;
	const struct cli_opt list_opts[] = { { "all", NULL, &all },
		{ NULL, NULL, NULL } };
	const struct cli_opt rm_opts[] = { { "reason", &reason, NULL },
		{ NULL, NULL, NULL } };
	int r;

	(void)dur;
	if (strcmp(sub, "add") == 0)
		return optout_add(cli, argc - 1, argv + 1);
	if (strcmp(sub, "extend") == 0) {
		if (argc < 2 || argv[1][0] == '-')
			return cli_fail(cli, EX_USAGE, "usage",
			    "optout extend "
			    "ID --for DUR --reason TEXT");
		return optout_extend(cli, argv[1], argc - 2, argv + 2);
	}
	if (strcmp(sub, "list") == 0) {
		if ((r = cli_parse(cli, cmd, argc - 1, argv + 1, list_opts,
			 NULL, 0)) != 0)
			return r;
		return simple(
		    cli, "optout.list", json_pack("{s:b}", "all", all), true);
	}
	if (strcmp(sub, "show") == 0) {
		if ((r = cli_parse(
			 cli, cmd, argc - 1, argv + 1, NULL, &id, 1)) != 0)
			return r;
		return simple(
		    cli, "optout.show", json_pack("{s:s}", "id", id), false);
	}
	if (strcmp(sub, "remove") == 0) {
		if ((r = cli_parse(
			 cli, cmd, argc - 1, argv + 1, rm_opts, &id, 1)) != 0)
			return r;
		if (reason == NULL)
			return cli_fail(cli, EX_USAGE, "usage",
			    "optout remove: --reason TEXT is required");
		return simple(cli, "optout.remove",
		    json_pack("{s:s, s:s}", "id", id, "reason", reason), true);
	}
	if (strcmp(sub, "report") == 0)
		return report(cli, argc - 1, argv + 1);
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
		return cli_parse(cli, cmd, argc, argv, NULL, NULL, 0);
	return cli_fail(cli, EX_USAGE, "usage",
	    "optout: expected add, "
	    "extend, list, show, remove or report");
}

int
cmd_freeze(struct cli *cli, int argc, char **argv)
{
	const char *reason = NULL, *dur = NULL;
	bool revoke = false;
	const struct cli_opt opts[] = {
		{ "reason", &reason, NULL },
		{ "for", &dur, NULL },
		{ "revoke-active", NULL, &revoke },
		{ NULL, NULL, NULL },
	};
	json_t *args, *res = NULL;
	int64_t secs = 0;
	int r;

	if ((r = cli_parse(
		 cli, cli_cmd("freeze"), argc, argv, opts, NULL, 0)) != 0)
		return r;
	if (reason == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "freeze: --reason TEXT is required");
	if (dur != NULL && (r = cli_duration(cli, "--for", dur, &secs)) != 0)
		return r;
	args = json_pack(
	    "{s:s, s:b}", "reason", reason, "revoke_active", revoke);
	if (secs > 0)
		json_object_set_new(args, "for", json_integer(secs));
	r = cli_call(cli, "freeze", args, &res);
	json_decref(args);
	if (r != 0)
		return r;
	print_result(cli, res);
	if (!cli->json && revoke)
		printf("    revoked %lld automatic grant(s); their %lld open "
		       "session(s) on %lld host(s) are being ended\n",
		    (long long)json_integer_value(
			json_object_get(res, "revoked_grants")),
		    (long long)json_integer_value(
			json_object_get(res, "sessions_to_end")),
		    (long long)json_integer_value(
			json_object_get(res, "session_hosts")));
	json_decref(res);
	return EX_DONE;
}

int
cmd_unfreeze(struct cli *cli, int argc, char **argv)
{
	const char *reason = NULL;
	const struct cli_opt opts[] = { { "reason", &reason, NULL },
		{ NULL, NULL, NULL } };
	int r;

	if ((r = cli_parse(
		 cli, cli_cmd("unfreeze"), argc, argv, opts, NULL, 0)) != 0)
		return r;
	if (reason == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "unfreeze: --reason TEXT is required");
	return simple(
	    cli, "unfreeze", json_pack("{s:s}", "reason", reason), true);
}

static void
print_flag(json_t *f)
{
	printf("%-12s %-7s by %s, ", cli_str(f, "user"), cli_str(f, "severity"),
	    cli_str(f, "by"));
	if (json_is_true(json_object_get(f, "active")))
		print_left(json_integer_value(json_object_get(f, "left_s")));
	else
		printf("ended %s", cli_str(f, "until"));
	if (json_is_string(json_object_get(f, "ended_by"))) {
		printf(" (removed by ");
		cli_print_safe(stdout, cli_str(f, "ended_by"));
		printf(": ");
		cli_print_safe(stdout, cli_str(f, "end_reason"));
		printf(")");
	}
	printf("\n    ");
	cli_print_safe(stdout, cli_str(f, "reason"));
	printf("\n");
}

int
cmd_flag(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd *cmd = cli_cmd("flag");
	const char *sub = argc > 0 ? argv[0] : "", *user = NULL, *reason = NULL,
		   *dur = NULL, *sev = NULL;
	bool all = false;
	const struct cli_opt opts[] = {
		{ "reason", &reason, NULL },
		{ "for", &dur, NULL },
		{ "severity", &sev, NULL },
		{ "all", NULL, &all },
		{ NULL, NULL, NULL },
	};
	json_t *args = NULL, *res = NULL, *f;
	int64_t secs = 0;
	size_t i;
	int r;

	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
		return cli_parse(cli, cmd, argc, argv, NULL, NULL, 0);
	if (strcmp(sub, "list") == 0) {
		if ((r = cli_parse(
			 cli, cmd, argc - 1, argv + 1, opts, NULL, 0)) != 0)
			return r;
		args = json_pack("{s:b}", "all", all);
		if ((r = cli_call(cli, "flag.list", args, &res)) == 0) {
			if (cli->json)
				cli_print_json(res);
			else if (json_array_size(res) == 0)
				printf("no flags\n");
			json_array_foreach (res, i, f)
				if (!cli->json)
					print_flag(f);
		}
		goto out;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0)
		return cli_fail(cli, EX_USAGE, "usage",
		    "flag: expected add, "
		    "list or remove");
	if ((r = cli_parse(cli, cmd, argc - 1, argv + 1, opts, &user, 1)) != 0)
		return r;
	if (reason == NULL || (sub[0] == 'a' && dur == NULL))
		return cli_fail(cli, EX_USAGE, "usage",
		    "flag %s: --reason TEXT"
		    "%s is required",
		    sub, sub[0] == 'a' ? " and --for DUR" : "");
	if (dur != NULL && (r = cli_duration(cli, "--for", dur, &secs)) != 0)
		return r;
	args = json_pack("{s:s, s:s, s:s?}", "user", user, "reason", reason,
	    "severity", sev);
	if (secs > 0)
		json_object_set_new(args, "for", json_integer(secs));
	if ((r = cli_call(cli, sub[0] == 'a' ? "flag.add" : "flag.remove", args,
		 &res)) == 0) {
		if (cli->json)
			cli_print_json(res);
		else
			print_flag(res);
	}
out:
	json_decref(args);
	json_decref(res);
	return r;
}
