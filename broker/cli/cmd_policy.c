/*
 * cmd_policy.c - policy check (offline), load, show, explain.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fileio.h"
#include "policy.h"

#define POLICY_FILE_MAX (16 * 1024 * 1024)

static int
read_policy(struct cli *cli, const char *path, char **text, size_t *len)
{
	struct brk_error err = { { 0 } };

	if (file_read_all(path, POLICY_FILE_MAX, 0, text, len, &err) != 0)
		return cli_fail(cli, EX_ERROR, "io", "%s", err.msg);
	return 0;
}

static void
print_warnings(json_t *w)
{
	size_t i;
	json_t *v;

	json_array_foreach (w, i, v) {
		printf("warning: ");
		cli_print_safe(stdout, json_string_value(v));
		printf("\n");
	}
}

/* Offline: the same parser the daemon runs, with no broker needed. */
static int
check_cmd(struct cli *cli, const char *path)
{
	struct policy_error pe = { { 0 }, 0, { 0 } };
	const char *const *w = NULL;
	struct policy *p = NULL;
	size_t len = 0, n, i;
	json_t *out, *wa;
	char *text = NULL;
	int r;

	if ((r = read_policy(cli, path, &text, &len)) != 0)
		return r;
	if (policy_parse(text, len, &p, &pe) != 0) {
		free(text);
		return cli_fail(cli, EX_USAGE, "invalid", "%s: %s: line %d: %s",
		    path, pe.path[0] ? pe.path : "$", pe.line, pe.msg);
	}
	n = policy_warnings(p, &w);
	if (cli->json) {
		wa = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(wa, json_string(w[i]));
		out = json_pack("{s:b, s:I, s:o}", "valid", 1, "rules",
		    (json_int_t)policy_rule_count(p), "warnings", wa);
		cli_print_json(out);
		json_decref(out);
	} else {
		printf("%s: valid, %zu rules\n", path, policy_rule_count(p));
		for (i = 0; i < n; i++) {
			printf("warning: ");
			cli_print_safe(stdout, w[i]);
			printf("\n");
		}
	}
	policy_free(p);
	free(text);
	return EX_DONE;
}

static int
load_cmd(struct cli *cli, const char *path, const char *reason)
{
	json_t *args, *res = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = read_policy(cli, path, &text, &len)) != 0)
		return r;
	if (strlen(text) != len) {
		free(text);
		return cli_fail(cli, EX_USAGE, "invalid",
		    "%s contains a NUL "
		    "byte",
		    path);
	}
	args = json_pack("{s:s, s:s}", "text", text, "reason", reason);
	free(text);
	if (args == NULL)
		return cli_fail(cli, EX_USAGE, "invalid",
		    "%s is not valid "
		    "UTF-8",
		    path);
	if ((r = cli_call(cli, "policy.load", args, &res)) == 0) {
		if (cli->json)
			cli_print_json(res);
		else {
			printf("policy v%lld in force: %lld rules, sha256 %s\n",
			    (long long)json_integer_value(
				json_object_get(res, "version")),
			    (long long)json_integer_value(
				json_object_get(res, "rules")),
			    cli_str(res, "sha256"));
			print_warnings(json_object_get(res, "warnings"));
		}
	}
	json_decref(args);
	json_decref(res);
	return r;
}

static int
show_cmd(struct cli *cli)
{
	json_t *res = NULL;
	int r;

	if ((r = cli_call(cli, "policy.show", NULL, &res)) != 0)
		return r;
	if (cli->json)
		cli_print_json(res);
	else {
		json_t *l = json_object_get(res, "loaded");
		printf("# policy v%lld, sha256 %s, loaded %s by %s (%s): ",
		    (long long)json_integer_value(
			json_object_get(res, "version")),
		    cli_str(res, "sha256"), cli_str(l, "loaded_at"),
		    cli_str(l, "loaded_by"), cli_str(l, "source"));
		cli_print_safe(stdout, cli_str(l, "reason"));
		printf("\n");
		cli_print_json(json_object_get(res, "document"));
		print_warnings(json_object_get(res, "warnings"));
	}
	json_decref(res);
	return EX_DONE;
}

/* The outcome that holds now: policy, then opt-outs, flags, freezes. */
static const char *
effective(json_t *res)
{
	return json_is_string(json_object_get(res, "effective_outcome")) ?
	    cli_str(res, "effective_outcome") :
	    cli_str(res, "outcome");
}

/* As check answers: 0 automatic, 3 needs approval, 4 refused. */
static int
explain_exit(json_t *res)
{
	const char *e = effective(res);

	return strcmp(e, "auto") == 0 ? EX_DONE :
	    strcmp(e, "approve") == 0 ? EX_PENDING :
					EX_REFUSED;
}

static void
print_cause(json_t *c)
{
	const char *kind = cli_str(c, "kind");

	if (strcmp(kind, "flag") == 0)
		printf("  flag on %s (%s, by %s, until %s): ",
		    cli_str(c, "user"), cli_str(c, "severity"),
		    cli_str(c, "by"), cli_str(c, "until"));
	else {
		printf("  %s %s (%s, ",
		    strcmp(kind, "freeze") == 0 ? "freeze" : "opt-out",
		    cli_str(c, "id"), cli_str(c, "mode"));
		cli_print_safe(stdout, cli_str(c, "scope"));
		printf(", %s, by %s, until %s): ", cli_str(c, "tag"),
		    cli_str(c, "by"), cli_str(c, "until"));
	}
	cli_print_safe(stdout, cli_str(c, "reason"));
	printf("\n");
}

static void
print_explain(json_t *res)
{
	json_t *rules = json_object_get(res, "rules"), *rule;
	json_t *causes = json_object_get(res, "causes");
	const char *e = effective(res), *o = cli_str(res, "outcome");
	size_t i;

	/* the answer that holds leads; the policy's own comes second */
	if (strcmp(e, o) == 0) {
		printf("%s: ", e);
		cli_print_safe(stdout, cli_str(res, "reason"));
	} else {
		printf("%s: %s ", e,
		    strcmp(e, "deny") == 0 ?
			"refused, "
			"blocked by" :
			"needs approval, taken out of automation "
			"by");
		cli_print_safe(stdout, cli_str(res, "escalation_reason"));
		printf("\n  policy alone: %s: ", o);
		cli_print_safe(stdout, cli_str(res, "reason"));
	}
	printf("\n");
	if (json_array_size(causes) > 0)
		printf("  in force for this request (opt-outs, freezes, "
		       "flags):\n");
	json_array_foreach (causes, i, rule) {
		printf("  ");
		print_cause(rule);
	}
	json_array_foreach (rules, i, rule) {
		printf("  %s %-24s ",
		    json_is_true(json_object_get(rule, "matched")) ? "+" : "-",
		    cli_str(rule, "id"));
		cli_print_safe(stdout, cli_str(rule, "why"));
		printf("\n");
	}
}

static int
explain_cmd(struct cli *cli, const char *user, const char *resource,
    const char *role, const char *dur)
{
	json_t *args, *res = NULL;
	int64_t secs = 0;
	int r;

	if (resource == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "policy explain: --resource R is required");
	if (dur != NULL && (r = cli_duration(cli, "--for", dur, &secs)) != 0)
		return r;
	args = json_pack("{s:s, s:s?, s:s?}", "resource", resource, "user",
	    user, "role", role);
	if (secs > 0)
		json_object_set_new(args, "for", json_integer(secs));
	if ((r = cli_call(cli, "policy.explain", args, &res)) == 0) {
		if (cli->json)
			cli_print_json(res);
		else
			print_explain(res);
		r = explain_exit(res);
	}
	json_decref(args);
	json_decref(res);
	return r;
}

int
cmd_policy(struct cli *cli, int argc, char **argv)
{
	const char *pos[1] = { NULL }, *reason = NULL, *user = NULL,
		   *resource = NULL, *role = NULL, *dur = NULL;
	const struct cli_opt opts[] = {
		{ "reason", &reason, NULL },
		{ "user", &user, NULL },
		{ "resource", &resource, NULL },
		{ "role", &role, NULL },
		{ "for", &dur, NULL },
		{ NULL, NULL, NULL },
	};
	const struct cli_cmd *cmd = cli_cmd("policy");
	const char *sub = argc > 0 ? argv[0] : "";
	int npos = strcmp(sub, "check") == 0 || strcmp(sub, "load") == 0;
	int r;

	if (argc > 0 && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0))
		return cli_parse(cli, cmd, argc, argv, opts, pos, 0);
	if (!npos && strcmp(sub, "show") != 0 && strcmp(sub, "explain") != 0)
		return cli_fail(cli, EX_USAGE, "usage",
		    "policy: expected "
		    "check, load, show or explain");
	if ((r = cli_parse(cli, cmd, argc - 1, argv + 1, opts, pos, npos)) != 0)
		return r;
	if (strcmp(sub, "check") == 0)
		return check_cmd(cli, pos[0]);
	if (strcmp(sub, "load") == 0) {
		if (reason == NULL)
			return cli_fail(cli, EX_USAGE, "usage",
			    "policy load: --reason TEXT is required");
		return load_cmd(cli, pos[0], reason);
	}
	if (strcmp(sub, "show") == 0)
		return show_cmd(cli);
	return explain_cmd(cli, user, resource, role, dur);
}
