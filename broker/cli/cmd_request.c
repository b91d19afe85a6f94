/*
 * cmd_request.c - request, cancel, revoke, and how a request is printed.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "duration.h"
#include "timefmt.h"

static void
print_list(const char *label, json_t *a)
{
	size_t i;
	json_t *v;

	if (json_array_size(a) == 0)
		return;
	printf("%s", label);
	json_array_foreach (a, i, v) {
		printf("%s", i ? ", " : "");
		cli_print_safe(stdout, json_string_value(v));
	}
}

/* Whether name is among r's approvers so far. */
static bool
approved_by(json_t *r, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach (json_object_get(r, "approvals"), i, v)
		if (strcmp(cli_str(v, "approver"), name) == 0)
			return true;
	return false;
}

/* The named approvers who may still approve: not those who did. */
static void
print_users_left(json_t *r, json_t *users)
{
	const char *sep = " users: ";
	json_t *v;
	size_t i;

	json_array_foreach (users, i, v) {
		if (approved_by(r, json_string_value(v)))
			continue;
		printf("%s", sep);
		cli_print_safe(stdout, json_string_value(v));
		sep = ", ";
	}
}

/* The approvers who already said yes, by name. */
static void
print_approved(json_t *r)
{
	json_t *a = json_object_get(r, "approvals"), *v;
	size_t i;

	if (!json_is_array(a))
		return;
	printf("  approved so far: %s", json_array_size(a) ? "" : "nobody");
	json_array_foreach (a, i, v) {
		printf("%s", i ? ", " : "");
		cli_print_safe(stdout, cli_str(v, "approver"));
	}
	printf("\n");
}

/* The people who can still approve (the daemon resolves the groups), or
 * why they are not known: never an empty "nobody" for an unknown list. */
static void
print_people(json_t *ap)
{
	json_t *people = json_object_get(ap, "people"), *v;
	const char *mail;
	size_t i;

	if (json_is_string(json_object_get(ap, "people_unknown"))) {
		printf("  who can approve: unknown (");
		cli_print_safe(stdout, cli_str(ap, "people_unknown"));
		printf(")\n");
		return;
	}
	if (!json_is_array(people))
		return; /* an older daemon: the groups above say it */
	printf("  who can approve: %s",
	    json_array_size(people) ? "" : "no one listed");
	json_array_foreach (people, i, v) {
		printf("%s", i ? ", " : "");
		cli_print_safe(stdout, cli_str(v, "name"));
		if ((mail = json_string_value(json_object_get(v, "mail"))) !=
		    NULL) {
			printf(" <");
			cli_print_safe(stdout, mail);
			printf(">");
		}
	}
	printf("%s\n",
	    json_is_true(json_object_get(ap, "people_more")) ? ", ..." : "");
}

void
cli_print_approvals(json_t *r)
{
	json_t *ap = json_object_get(r, "approval");
	long long need = json_integer_value(
	    json_object_get(r, "approvals_needed"));

	printf("  needs %lld more approval%s (%lld of %lld so far) from", need,
	    need == 1 ? "" : "s",
	    (long long)json_integer_value(json_object_get(ap, "approvals")),
	    (long long)json_integer_value(json_object_get(ap, "quorum")));
	print_list(" groups: ", json_object_get(ap, "groups"));
	print_users_left(r, json_object_get(ap, "users"));
	printf(" (not ");
	cli_print_safe(stdout, cli_str(r, "user"));
	if (strcmp(cli_str(r, "user"), cli_str(r, "caller")) != 0) {
		printf(" or ");
		cli_print_safe(stdout, cli_str(r, "caller"));
	}
	printf(", who asked)\n");
	print_people(ap);
	print_approved(r);
}

void
cli_print_request(struct cli *cli, json_t *r)
{
	const char *st = cli_str(r, "state");
	const char *col = strcmp(st, "active") == 0 ? "green" :
	    strcmp(st, "pending") == 0 || strcmp(st, "scheduled") == 0 ?
						      "yellow" :
						      "red";

	printf("%s%s%s %s%s%s: ", cli_color(cli, "bold"), cli_str(r, "id"),
	    cli_color(cli, "reset"), cli_color(cli, col), st,
	    cli_color(cli, "reset"));
	cli_print_safe(stdout, cli_str(r, "resource"));
	printf(" as ");
	cli_print_safe(stdout, cli_str(r, "role"));
	printf(" for ");
	cli_print_safe(stdout, cli_str(r, "user"));
	if (strcmp(st, "scheduled") == 0)
		printf(", from %s until %s", cli_str(r, "starts_at"),
		    cli_str(r, "expires_at"));
	else if (strcmp(st, "active") == 0)
		printf(", until %s", cli_str(r, "expires_at"));
	else if (strcmp(st, "pending") == 0)
		printf(", request expires %s", cli_str(r, "pending_until"));
	printf("\n  ");
	cli_print_safe(stdout, cli_str(r, "decision"));
	printf("\n");
	if (strcmp(st, "scheduled") == 0)
		printf("  not usable before %s: check and logins refuse it "
		       "until then\n",
		    cli_str(r, "starts_at"));
	/* a refusal grants nothing, so no duration is worth a note */
	if (json_is_true(json_object_get(r, "clamped")) &&
	    strcmp(st, "denied") != 0) {
		char asked[32], got[32];

		duration_format(
		    json_integer_value(json_object_get(r, "requested_ttl_s")),
		    asked, sizeof(asked));
		duration_format(json_integer_value(json_object_get(r, "ttl_s")),
		    got, sizeof(got));
		printf("  note: asked for %s, granted %s (capped by %s)\n",
		    asked, got,
		    json_is_string(json_object_get(r, "clamped_by")) ?
			cli_str(r, "clamped_by") :
			"the rule's max_ttl");
	}
	if (strcmp(st, "pending") == 0)
		cli_print_approvals(r);
	/* a person ended it (denied, revoked, cancelled): who, and why */
	if (json_is_string(json_object_get(r, "ended_by"))) {
		printf("  %s by ", st);
		cli_print_safe(stdout, cli_str(r, "ended_by"));
		if (json_is_string(json_object_get(r, "end_reason"))) {
			printf(": ");
			cli_print_safe(stdout, cli_str(r, "end_reason"));
		}
		printf("\n");
	}
	if (json_is_true(json_object_get(r, "duplicate")))
		printf(
		    "  already open: this is your earlier request, not a new "
		    "one (request --new files another)\n");
}

static int
print_reply(struct cli *cli, json_t *res)
{
	int code = cli_state_exit(res);

	if (cli->json)
		cli_print_json(res);
	else
		cli_print_request(cli, res);
	return code;
}

/*
 * --wait: poll until the request is decided, at most timeout seconds (0:
 * no limit).  The id and state are printed at once, terminal or not, so a
 * script or a person who stops waiting knows what stays behind.  SIGINT
 * and SIGTERM are blocked and taken with sigtimedwait() as the poll's
 * sleep: no handler, no global flag, and an interrupted wait still says
 * which request stays pending.  Returns 0 when decided, EX_PENDING when
 * the wait ended first (printed), or a call's error.
 */
int
cli_wait_decision(struct cli *cli, json_t **res, int64_t timeout)
{
	json_t *args, *cur = NULL;
	time_t start = time(NULL);
	struct timespec tick = { 1, 0 };
	sigset_t stop, old;
	int r = 0, sig = -1;
	char id[32], d[32];

	snprintf(id, sizeof(id), "%s", cli_str(*res, "id"));
	if (!cli->json) {
		printf("%s pending: waiting for a decision (Ctrl-C stops "
		       "waiting; the request stays pending)\n",
		    id);
		fflush(stdout);
	}
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, &old);
	args = json_pack("{s:s}", "id", id);
	while (cli_state_exit(*res) == EX_PENDING) {
		if (cli->tty && !cli->json) {
			printf("\r%s pending: %lld more approval(s) needed, "
			       "waited %llds ",
			    id,
			    (long long)json_integer_value(
				json_object_get(*res, "approvals_needed")),
			    (long long)(time(NULL) - start));
			fflush(stdout);
		}
		if (timeout > 0 && time(NULL) - start >= timeout) {
			sig = 0;
			break;
		}
		if ((sig = sigtimedwait(&stop, NULL, &tick)) > 0)
			break;
		if ((r = cli_call(cli, "show", args, &cur)) != 0)
			break;
		json_decref(*res);
		*res = cur;
		cur = NULL;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (cli->tty && !cli->json)
		printf("\r\033[K");
	json_decref(args);
	if (r == 0 && sig >= 0 && cli_state_exit(*res) == EX_PENDING) {
		duration_format(timeout, d, sizeof(d));
		fflush(stdout);
		fprintf(stderr,
		    "broker: %s; %s stays pending (broker show %s; "
		    "broker cancel %s withdraws it)\n",
		    sig > 0 ? "stopped waiting" : "no decision within", id, id,
		    id);
		if (sig == 0)
			fprintf(stderr, "broker: (waited %s, --timeout)\n", d);
		return EX_PENDING;
	}
	return r;
}

/* --start: RFC 3339, or a duration from now ("2h" or "+2h"). */
static int
parse_start(struct cli *cli, const char *s, int64_t *out)
{
	int64_t d;

	if (time_parse_rfc3339(s, out) == 0)
		return 0;
	if (duration_parse(s[0] == '+' ? s + 1 : s, &d) == 0) {
		*out = (int64_t)time(NULL) + d;
		return 0;
	}
	return cli_fail(cli, EX_USAGE, "usage",
	    "--start: \"%s\" is neither "
	    "a time (2026-01-31T09:00:00Z) nor a duration from now (+2h)",
	    s);
}

int
cmd_request(struct cli *cli, int argc, char **argv)
{
	const char *resource = NULL, *role = NULL, *dur = NULL, *reason = NULL,
		   *ticket = NULL, *incident = NULL, *pub = NULL, *start = NULL,
		   *timeout = NULL;
	bool bg = false, wait = false, fresh = false, dflt = false, saved;
	const struct cli_opt opts[] = {
		{ "role", &role, NULL },
		{ "for", &dur, NULL },
		{ "start", &start, NULL },
		{ "reason", &reason, NULL },
		{ "ticket", &ticket, NULL },
		{ "incident", &incident, NULL },
		{ "pubkey", &pub, NULL },
		{ "break-glass", NULL, &bg },
		{ "wait", NULL, &wait },
		{ "new", NULL, &fresh },
		{ "timeout", &timeout, NULL },
		{ "default-cert", NULL, &dflt },
		{ NULL, NULL, NULL },
	};
	json_t *args = NULL, *res = NULL;
	char *key = NULL;
	int64_t secs = 0, at = 0, tmo = 0;
	int r;

	if ((r = cli_parse(
		 cli, cli_cmd("request"), argc, argv, opts, &resource, 1)) != 0)
		return r;
	if (dur != NULL && (r = cli_duration(cli, "--for", dur, &secs)) != 0)
		return r;
	if (start != NULL && (r = parse_start(cli, start, &at)) != 0)
		return r;
	if (timeout != NULL &&
	    (r = cli_duration(cli, "--timeout", timeout, &tmo)) != 0)
		return r;
	if (dflt && pub == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "request: "
		    "--default-cert goes with --pubkey");
	if (timeout != NULL && !wait)
		return cli_fail(cli, EX_USAGE, "usage",
		    "request: --timeout "
		    "goes with --wait");
	if (pub != NULL && (r = cli_read_pubkey(cli, pub, &key)) != 0)
		return r;
	args = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?}", "resource",
	    resource, "role", role, "reason", reason, "ticket", ticket,
	    "incident", incident, "pubkey", key);
	free(key);
	if (args == NULL)
		return cli_fail(cli, EX_ERROR, "internal", "out of memory");
	if (secs > 0)
		json_object_set_new(args, "for", json_integer(secs));
	if (at > 0)
		json_object_set_new(args, "start", json_integer(at));
	if (bg)
		json_object_set_new(args, "break_glass", json_true());
	if (fresh)
		json_object_set_new(args, "new", json_true());
	if ((r = cli_call(cli, "request", args, &res)) == 0) {
		if (wait && cli_state_exit(res) == EX_PENDING &&
		    (r = cli_wait_decision(cli, &res, tmo)) != 0) {
			if (r == EX_PENDING && cli->json)
				cli_print_json(res);
			goto out;
		}
		/* the file first, so that --json can name it */
		saved = pub == NULL ||
		    cli_save_cert(cli, res, pub, NULL, dflt) == 0;
		r = print_reply(cli, res);
		if (!cli->json)
			cli_print_cert_files(res);
		if (json_is_string(json_object_get(res, "cert_error")))
			r = cli_fail(cli, EX_ERROR, "crypto",
			    "granted, but "
			    "no certificate: %s",
			    cli_str(res, "cert_error"));
		else if (!saved)
			r = EX_ERROR;
		cli_print_db(cli, res);
	}
out:
	json_decref(args);
	json_decref(res);
	return r;
}

int
cli_call_request(struct cli *cli, const char *op, json_t *args)
{
	json_t *res = NULL;
	int r;

	if ((r = cli_call(cli, op, args, &res)) == 0) {
		if (cli->json)
			cli_print_json(res);
		else
			cli_print_request(cli, res);
	}
	json_decref(args);
	json_decref(res);
	return r;
}

static int
end_request(
    struct cli *cli, const char *cmd, const char *op, int argc, char **argv)
{
	const char *id = NULL, *reason = NULL;
	const struct cli_opt opts[] = {
		{ "reason", &reason, NULL },
		{ NULL, NULL, NULL },
	};
	int r;

	if ((r = cli_parse(cli, cli_cmd(cmd), argc, argv, opts, &id, 1)) != 0)
		return r;
	if (strcmp(cmd, "revoke") == 0 && reason == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "revoke: --reason TEXT is required");
	return cli_call_request(
	    cli, op, json_pack("{s:s, s:s?}", "id", id, "reason", reason));
}

int
cmd_cancel(struct cli *cli, int argc, char **argv)
{
	return end_request(cli, "cancel", "cancel", argc, argv);
}

int
cmd_revoke(struct cli *cli, int argc, char **argv)
{
	return end_request(cli, "revoke", "revoke", argc, argv);
}
