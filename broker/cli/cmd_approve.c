/*
 * cmd_approve.c - the approver's commands: pending, approve, deny.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "duration.h"

int
cmd_pending(struct cli *cli, int argc, char **argv)
{
	const char *limit = NULL, *after = NULL;
	const struct cli_opt opts[] = {
		{ "limit", &limit, NULL },
		{ "after", &after, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *res = NULL, *r, *args;
	char d[32], a[32];
	int64_t age;
	long n = 100;
	size_t i;
	int rc;

	if ((rc = cli_parse(
		 cli, cli_cmd("pending"), argc, argv, opts, NULL, 0)) != 0)
		return rc;
	if (limit != NULL &&
	    (rc = cli_number(cli, "--limit", "a number", limit, 1, 1000, &n)) !=
		EX_DONE)
		return rc;
	if ((args = json_pack("{s:I, s:s?}", "limit", (json_int_t)n, "after",
		 after)) == NULL)
		return cli_fail(cli, EX_ERROR, "nomem", "out of memory");
	rc = cli_call(cli, "pending", args, &res);
	json_decref(args);
	if (rc != 0)
		return rc;
	if (cli->json) {
		cli_print_json(res);
		goto out;
	}
	if (json_array_size(res) == 0)
		printf("nothing waits for you\n");
	json_array_foreach (res, i, r) {
		printf("%s%s%s  ", cli_color(cli, "bold"), cli_str(r, "id"),
		    cli_color(cli, "reset"));
		cli_print_safe(stdout, cli_str(r, "user"));
		printf(" wants ");
		cli_print_safe(stdout, cli_str(r, "resource"));
		printf(" as ");
		cli_print_safe(stdout, cli_str(r, "role"));
		duration_format(json_integer_value(json_object_get(r, "ttl_s")),
		    d, sizeof(d));
		age = json_integer_value(json_object_get(r, "age_s"));
		duration_format(age > 0 ? age : 1, a, sizeof(a));
		printf(" for %s (asked %s ago)\n", d, a);
		/* why no rule could decide alone: the approve rule, the
		 * opt-out (id, scope, reason) or the flag that escalated */
		printf("    why a person decides: ");
		cli_print_safe(stdout, cli_str(r, "decision"));
		printf("\n");
		printf("    reason: ");
		cli_print_safe(stdout, cli_str(r, "reason"));
		printf("   ticket: ");
		cli_print_safe(stdout, cli_str(r, "ticket"));
		printf("\n    rule: %s   request expires %s%s\n",
		    cli_str(r, "rule"), cli_str(r, "pending_until"),
		    json_is_true(json_object_get(r, "i_approved")) ?
			"   (you approved it)" :
			"");
		cli_print_approvals(r);
	}
	/* a full page: there may be more, oldest first after the last */
	if (json_array_size(res) == (size_t)n)
		printf("more may wait: broker pending --after %s\n",
		    cli_str(
			json_array_get(res, json_array_size(res) - 1), "id"));
out:
	json_decref(res);
	return EX_DONE;
}

static int
decide(struct cli *cli, const char *cmd, int argc, char **argv)
{
	const char *id = NULL, *reason = NULL, *dur = NULL, *role = NULL;
	const struct cli_opt approve_opts[] = {
		{ "reason", &reason, NULL },
		{ "for", &dur, NULL },
		{ "role", &role, NULL },
		{ NULL, NULL, NULL },
	};
	const struct cli_opt deny_opts[] = {
		{ "reason", &reason, NULL },
		{ NULL, NULL, NULL },
	};
	bool approve = strcmp(cmd, "approve") == 0;
	json_t *args;
	int64_t secs = 0;
	int r;

	if ((r = cli_parse(cli, cli_cmd(cmd), argc, argv,
		 approve ? approve_opts : deny_opts, &id, 1)) != 0)
		return r;
	if (reason == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "%s: --reason TEXT is required", cmd);
	if (dur != NULL && (r = cli_duration(cli, "--for", dur, &secs)) != 0)
		return r;
	args = json_pack(
	    "{s:s, s:s, s:s?}", "id", id, "reason", reason, "role", role);
	if (secs > 0)
		json_object_set_new(args, "for", json_integer(secs));
	return cli_call_request(cli, cmd, args);
}

int
cmd_approve(struct cli *cli, int argc, char **argv)
{
	return decide(cli, "approve", argc, argv);
}

int
cmd_deny(struct cli *cli, int argc, char **argv)
{
	return decide(cli, "deny", argc, argv);
}

static void
print_review(json_t *it)
{
	printf("%-8s %-10s %-12s ", cli_str(it, "id"),
	    json_is_true(json_object_get(it, "overdue"))  ? "OVERDUE" :
		json_is_true(json_object_get(it, "open")) ? "open" :
							    "closed",
	    cli_str(it, "user"));
	cli_print_safe(stdout, cli_str(it, "resource"));
	printf("  at %s, due %s\n    reason: ", cli_str(it, "at"),
	    cli_str(it, "due"));
	cli_print_safe(stdout, cli_str(it, "reason"));
	if (!json_is_true(json_object_get(it, "open"))) {
		printf("\n    reviewed by %s: ", cli_str(it, "acked_by"));
		cli_print_safe(stdout, cli_str(it, "note"));
	}
	printf("\n");
}

int
cmd_review(struct cli *cli, int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "", *id = NULL, *note = NULL;
	bool all = false;
	const struct cli_opt list_opts[] = { { "all", NULL, &all },
		{ NULL, NULL, NULL } };
	const struct cli_opt ack_opts[] = { { "note", &note, NULL },
		{ NULL, NULL, NULL } };
	json_t *args = NULL, *res = NULL, *it;
	size_t i;
	int r;

	if (strcmp(sub, "list") == 0) {
		if ((r = cli_parse(cli, cli_cmd("review"), argc - 1, argv + 1,
			 list_opts, NULL, 0)) != 0)
			return r;
		args = json_pack("{s:b}", "all", all);
		if ((r = cli_call(cli, "review.list", args, &res)) == 0) {
			if (cli->json)
				cli_print_json(res);
			else if (json_array_size(res) == 0)
				printf("no reviews open\n");
			json_array_foreach (res, i, it)
				if (!cli->json)
					print_review(it);
		}
	} else if (strcmp(sub, "ack") == 0) {
		if ((r = cli_parse(cli, cli_cmd("review"), argc - 1, argv + 1,
			 ack_opts, &id, 1)) != 0)
			return r;
		if (note == NULL)
			return cli_fail(cli, EX_USAGE, "usage",
			    "review ack: --note TEXT is required");
		args = json_pack("{s:s, s:s}", "id", id, "note", note);
		if ((r = cli_call(cli, "review.ack", args, &res)) == 0) {
			if (cli->json)
				cli_print_json(res);
			else
				printf("%s reviewed\n", cli_str(res, "id"));
		}
	} else if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
		return cli_parse(
		    cli, cli_cmd("review"), argc, argv, NULL, NULL, 0);
	else
		return cli_fail(
		    cli, EX_USAGE, "usage", "review: expected list or ack");
	json_decref(args);
	json_decref(res);
	return r;
}
