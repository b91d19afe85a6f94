/*
 * cmd_query.c - status, list, show, check, whoami.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "duration.h"

/* Print s (made safe) and pad it to width columns. */
static void
print_cell(const char *s, int width)
{
	char buf[1024];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	int n;

	if (f == NULL) {
		printf("%-*s", width, s);
		return;
	}
	cli_print_safe(f, s);
	n = (int)ftell(f);
	fclose(f);
	buf[n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1] = '\0';
	printf("%s%*s", buf, width > n ? width - n : 0, "");
}

/* The width of the widest value of key in a (at least min). */
static int
column_width(json_t *a, const char *key, int min)
{
	size_t i;
	json_t *r;
	int w = min, n;

	json_array_foreach (a, i, r)
		if ((n = (int)strlen(cli_str(r, key))) > w)
			w = n;
	return w > 200 ? 200 : w;
}

/* When a request's window ends: its grant's end, or (pending) when
 * the request itself lapses. */
static const char *
ends(json_t *r)
{
	if (json_is_string(json_object_get(r, "pending_until")) &&
	    !json_is_string(json_object_get(r, "expires_at")))
		return cli_str(r, "pending_until");
	return cli_str(r, "expires_at");
}

/* Columns as wide as their widest value, so long names stay aligned. */
static void
print_table(json_t *a)
{
	int wi = column_width(a, "id", 2), ws = column_width(a, "state", 5),
	    wu = column_width(a, "user", 4),
	    wr = column_width(a, "resource", 8),
	    wo = column_width(a, "role", 4);
	size_t i;
	json_t *r;

	printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", wi, "ID", ws, "STATE", wu,
	    "USER", wr, "RESOURCE", wo, "ROLE", "ENDS");
	json_array_foreach (a, i, r) {
		print_cell(cli_str(r, "id"), wi + 2);
		print_cell(cli_str(r, "state"), ws + 2);
		print_cell(cli_str(r, "user"), wu + 2);
		print_cell(cli_str(r, "resource"), wr + 2);
		print_cell(cli_str(r, "role"), wo + 2);
		printf("%s\n", ends(r));
	}
}

/* For an approver: how many requests wait for them, the oldest first. */
static void
print_waiting(json_t *w)
{
	int64_t age;
	char d[32];

	if (!json_is_object(w) ||
	    json_integer_value(json_object_get(w, "count")) == 0)
		return;
	age = json_integer_value(json_object_get(w, "oldest_age_s"));
	duration_format(age > 0 ? age : 1, d, sizeof(d));
	printf("waiting for your approval: %lld (oldest %s, %s ago): broker "
	       "pending\n",
	    (long long)json_integer_value(json_object_get(w, "count")),
	    cli_str(w, "oldest"), d);
}

/* What a freeze stops and what it leaves alone, in its own mode. */
static void
print_freeze_effect(json_t *f)
{
	if (strcmp(cli_str(f, "mode"), "block") == 0) {
		printf("    stops: every new request (denied) and every login "
		       "on an existing grant\n");
		return;
	}
	printf("    stops: automatic grants; requests that policy would grant "
	       "at once wait for opt-out approvers\n"
	       "    does not stop: grants already given, which keep working "
	       "until they end or are revoked (freeze --revoke-active ends the "
	       "automatic ones), nor requests for approval\n");
}

int
cmd_status(struct cli *cli, int argc, char **argv)
{
	json_t *res = NULL, *b, *me, *o;
	size_t i;
	int r;

	if ((r = cli_parse(
		 cli, cli_cmd("status"), argc, argv, NULL, NULL, 0)) != 0)
		return r;
	if ((r = cli_call(cli, "status", NULL, &res)) != 0)
		return r;
	if (cli->json) {
		cli_print_json(res);
		goto out;
	}
	b = json_object_get(res, "broker");
	me = json_object_get(res, "me");
	printf("broker: %s, up since %s, policy v%lld (%lld rules)\n",
	    cli_str(b, "health"), cli_str(b, "started_at"),
	    (long long)json_integer_value(json_object_get(b, "policy_version")),
	    (long long)json_integer_value(json_object_get(b, "policy_rules")));
	if (json_is_null(json_object_get(res, "freeze")))
		printf("freeze: off\n");
	else {
		printf("%sfreeze: ON%s  ", cli_color(cli, "red"),
		    cli_color(cli, "reset"));
		cli_print_optout(cli, json_object_get(res, "freeze"));
		print_freeze_effect(json_object_get(res, "freeze"));
	}
	printf("grants active: %lld, scheduled: %lld, requests pending: "
	       "%lld\n",
	    (long long)json_integer_value(
		json_object_get(json_object_get(res, "counts"), "active")),
	    (long long)json_integer_value(
		json_object_get(json_object_get(res, "counts"), "scheduled")),
	    (long long)json_integer_value(
		json_object_get(json_object_get(res, "counts"), "pending")));
	printf("opt-outs in force: %zu%s\n",
	    json_array_size(json_object_get(res, "optouts")),
	    json_is_null(json_object_get(res, "freeze")) ?
		"" :
		" (the freeze above among them)");
	json_array_foreach (json_object_get(res, "optouts"), i, o)
		if (!json_is_true(json_object_get(o, "freeze")))
			cli_print_optout(cli, o);
	printf("flags in force: %zu\n",
	    json_array_size(json_object_get(res, "flags")));
	json_array_foreach (json_object_get(res, "flags"), i, o) {
		printf(
		    "  %s (%s): ", cli_str(o, "user"), cli_str(o, "severity"));
		cli_print_safe(stdout, cli_str(o, "reason"));
		printf("\n");
	}
	print_waiting(json_object_get(res, "waiting"));
	/* an empty table says nothing a line cannot */
	if (json_array_size(json_object_get(me, "active")) > 0) {
		printf("\nmy grants (%s):\n", cli_str(me, "user"));
		print_table(json_object_get(me, "active"));
	} else
		printf("my grants (%s): none\n", cli_str(me, "user"));
	if (json_array_size(json_object_get(me, "pending")) > 0) {
		printf("\nmy pending requests:\n");
		print_table(json_object_get(me, "pending"));
	} else
		printf("my pending requests: none\n");
out:
	json_decref(res);
	return EX_DONE;
}

#define STATES                                                     \
	"pending, scheduled, active, denied, cancelled, expired, " \
	"revoked"

static bool
state_known(const char *s)
{
	static const char *const names[] = { "pending", "scheduled", "active",
		"denied", "cancelled", "expired", "revoked", NULL };
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return true;
	return false;
}

int
cmd_list(struct cli *cli, int argc, char **argv)
{
	const char *state = NULL, *user = NULL, *limit = NULL;
	bool all = false;
	const struct cli_opt opts[] = {
		{ "all", NULL, &all },
		{ "state", &state, NULL },
		{ "user", &user, NULL },
		{ "limit", &limit, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args, *res = NULL;
	long n = 0;
	int r;

	if ((r = cli_parse(cli, cli_cmd("list"), argc, argv, opts, NULL, 0)) !=
	    0)
		return r;
	if (state != NULL && !state_known(state))
		return cli_fail(cli, EX_USAGE, "usage",
		    "list: --state is one "
		    "of %s",
		    STATES);
	if (limit != NULL &&
	    (r = cli_number(cli, "--limit", "a number", limit, 1, 10000, &n)) !=
		EX_DONE)
		return r;
	args = json_pack(
	    "{s:b, s:s?, s:s?}", "all", all, "state", state, "user", user);
	if (n > 0)
		json_object_set_new(args, "limit", json_integer(n));
	if ((r = cli_call(cli, "list", args, &res)) == 0) {
		if (cli->json)
			cli_print_json(res);
		else
			print_table(res);
	}
	json_decref(args);
	json_decref(res);
	return r;
}

static void
print_timeline(json_t *tl)
{
	size_t i;
	json_t *e, *d;

	printf("timeline:\n");
	json_array_foreach (tl, i, e) {
		printf(
		    "  %s  %-18s by ", cli_str(e, "ts"), cli_str(e, "action"));
		cli_print_safe(stdout, cli_str(e, "actor"));
		if (strcmp(cli_str(e, "actor"), cli_str(e, "caller")) != 0) {
			printf(" (via ");
			cli_print_safe(stdout, cli_str(e, "caller"));
			printf(")");
		}
		if (json_is_string(json_object_get(e, "reason"))) {
			printf(": ");
			cli_print_safe(stdout, cli_str(e, "reason"));
		}
		d = json_object_get(e, "details");
		if (json_is_string(json_object_get(d, "key_fingerprint")))
			printf(": serial %lld, key %s, valid %s to %s",
			    (long long)json_integer_value(
				json_object_get(d, "serial")),
			    cli_str(d, "key_fingerprint"),
			    cli_str(d, "valid_after"),
			    cli_str(d, "valid_before"));
		printf("\n");
	}
}

/* "alice (via root)" under --as, as the timeline names them. */
static void
print_requester(json_t *res)
{
	printf("  requested by ");
	cli_print_safe(stdout, cli_str(res, "user"));
	if (strcmp(cli_str(res, "user"), cli_str(res, "caller")) != 0) {
		printf(" (via ");
		cli_print_safe(stdout, cli_str(res, "caller"));
		printf(")");
	}
	printf(" at %s", cli_str(res, "created_at"));
}

int
cmd_show(struct cli *cli, int argc, char **argv)
{
	const char *id = NULL;
	json_t *args, *res = NULL;
	int r;

	if ((r = cli_parse(cli, cli_cmd("show"), argc, argv, NULL, &id, 1)) !=
	    0)
		return r;
	args = json_pack("{s:s}", "id", id);
	if ((r = cli_call(cli, "show", args, &res)) == 0) {
		if (cli->json)
			cli_print_json(res);
		else {
			cli_print_request(cli, res);
			print_requester(res);
			if (json_is_string(json_object_get(res, "reason"))) {
				printf(", reason: ");
				cli_print_safe(stdout, cli_str(res, "reason"));
			}
			printf("\n  rules: ");
			for (size_t i = 0;
			     i < json_array_size(json_object_get(res, "rules"));
			     i++)
				printf("%s%s", i ? ", " : "",
				    json_string_value(json_array_get(
					json_object_get(res, "rules"), i)));
			printf("\n");
			print_timeline(json_object_get(res, "timeline"));
		}
	}
	json_decref(args);
	json_decref(res);
	return r;
}

int
cmd_check(struct cli *cli, int argc, char **argv)
{
	const char *user = NULL, *resource = NULL;
	const struct cli_opt opts[] = {
		{ "user", &user, NULL },
		{ "resource", &resource, NULL },
		{ NULL, NULL, NULL },
	};
	json_t *args, *res = NULL;
	bool allowed;
	int r;

	if ((r = cli_parse(cli, cli_cmd("check"), argc, argv, opts, NULL, 0)) !=
	    0)
		return r;
	if (resource == NULL)
		return cli_fail(
		    cli, EX_USAGE, "usage", "check: --resource R is required");
	args = json_pack("{s:s, s:s?}", "resource", resource, "user", user);
	if ((r = cli_call(cli, "check", args, &res)) == 0) {
		allowed = json_is_true(json_object_get(res, "allowed"));
		if (cli->json)
			cli_print_json(res);
		else {
			printf("%s%s%s: ",
			    cli_color(cli, allowed ? "green" : "red"),
			    allowed ? "allowed" : "refused",
			    cli_color(cli, "reset"));
			cli_print_safe(stdout, cli_str(res, "reason"));
			printf("\n");
			if (!allowed &&
			    json_is_true(json_object_get(res, "blocked")))
				printf("  a request would be refused too: ask "
				       "whoever set the block\n");
			else if (!allowed) {
				printf("  to get access: broker request ");
				cli_print_safe(stdout, resource);
				printf(" --reason TEXT\n");
			}
		}
		r = allowed ? EX_DONE : EX_REFUSED;
	}
	json_decref(args);
	json_decref(res);
	return r;
}

int
cmd_whoami(struct cli *cli, int argc, char **argv)
{
	json_t *res = NULL, *g;
	size_t i;
	int r;

	if ((r = cli_parse(
		 cli, cli_cmd("whoami"), argc, argv, NULL, NULL, 0)) != 0)
		return r;
	if ((r = cli_call(cli, "whoami", NULL, &res)) != 0)
		return r;
	json_object_set_new(res, "via", json_string(cli->via));
	if (cli->login_expires > 0)
		json_object_set_new(res, "login_expires_at",
		    json_integer((json_int_t)cli->login_expires));
	if (cli->login_serial[0] != '\0') /* for broker login revoke */
		json_object_set_new(
		    res, "login_serial", json_string(cli->login_serial));
	if (cli->json)
		cli_print_json(res);
	else {
		printf("via: ");
		cli_print_safe(stdout, cli->via);
		printf("\n");
		printf("user: %s (from %s)%s%s\ngroups:", cli_str(res, "user"),
		    cli_str(res, "sources"),
		    json_is_true(json_object_get(res, "delegated")) ?
			", acting through " :
			"",
		    json_is_true(json_object_get(res, "delegated")) ?
			cli_str(res, "caller") :
			"");
		json_array_foreach (json_object_get(res, "groups"), i, g)
			printf(" %s", json_string_value(g));
		printf("\n");
		/* an older broker sends no groups_complete: say nothing */
		if (json_is_false(json_object_get(res, "groups_complete"))) {
			printf("groups unknown: ");
			cli_print_safe(stdout, cli_str(res, "groups_unknown"));
			printf(
			    " (every decision about this user is refused)\n");
		}
	}
	json_decref(res);
	return EX_DONE;
}
