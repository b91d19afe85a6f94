/*
 * ops_flag.c - monitoring flags: flag add/list/remove (flaggers and
 * opt-out managers).  "review" sends the user's requests to people,
 * "block" denies them and refuses their logins.
 *
 * Who may touch a flag: flaggers, and opt-out managers only for users
 * their scopes cover ("user:NAME"); nobody their own flag, not even through
 * a delegate.  A flag in force is changed only by replacing it with one at
 * least as severe that ends no sooner; weakening one is for policy admins
 * (or an explicit, audited flag remove).  Checked in the write transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "flags.h"
#include "names.h"
#include "ops.h"
#include "timefmt.h"

struct flag_op {
	struct call *c;
	struct actor actor;
	struct flag in; /* as asked */
	struct flag f;	/* as stored */
	bool remove;
	bool admin; /* a policy admin: may weaken a flag */
	int64_t now;
	char msg[REQ_MSG_LEN];
};

static bool
may_flag(struct call *c, struct policy_ref *p, const char *user)
{
	char scope[80];

	snprintf(scope, sizeof(scope), "user:%s", user);
	return call_has_role(c, p, ROLE_FLAGGERS) ||
	    (call_has_role(c, p, ROLE_OPTOUT_MANAGERS) &&
		policy_optout_scope_allowed(p->policy, c->who.name,
		    ident_groups(&c->who), c->who.ngroups, scope));
}

/* On the writer thread: the flag's rules are the domain's (flags.c). */
static int
apply_flag(struct store_txn *t, void *arg)
{
	struct flag_op *op = arg;

	return flags_change(t, &op->actor, op->admin, op->remove, &op->in,
	    &op->f, op->now, op->msg);
}

static void
done_flag(void *arg, int rc)
{
	struct flag_op *op = arg;

	ops_answer(
	    op->c, rc, rc == 0 ? flag_json(&op->f, op->now) : NULL, op->msg);
	free(op);
}

/* flag add, and flag remove. */
int
op_flag_change(struct call *c)
{
	bool remove = strcmp(c->req->op, "flag.remove") == 0;
	struct brk_error err = { { 0 } };
	struct policy_ref *p = NULL;
	struct flag_op *op = calloc(1, sizeof(*op));
	const char *user = NULL, *reason = NULL, *sev = NULL;
	int64_t dur = 0;
	const struct proto_arg spec[] = {
		{ "user", PA_STR, true, 0, 64, &user },
		{ "reason", PA_STR, true, 0, 4096, &reason },
		{ "for", PA_INT, !remove, 1, INT64_MAX / 2, &dur },
		{ "severity", PA_STR, false, 0, 16, &sev },
	};
	int r = BRK_ERR_NOMEM;

	if (op == NULL)
		goto fail;
	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	r = BRK_ERR_INVALID;
	if (!name_user_valid(user)) {
		brk_error_set(
		    &err, r, "\"%.64s\" is not a valid user name", user);
		goto fail;
	}
	if (sev != NULL && strcmp(sev, "review") != 0 &&
	    strcmp(sev, "block") != 0) {
		brk_error_set(&err, r, "severity is review or block");
		goto fail;
	}
	p = policy_get(c->d);
	if (!remove && dur > policy_limits(p->policy)->optout_max) {
		char cap[32];

		duration_format(
		    policy_limits(p->policy)->optout_max, cap, sizeof(cap));
		r = brk_error_set(&err, BRK_ERR_INVALID,
		    "flags last at most "
		    "%s (limits.optout_max)",
		    cap);
		goto fail;
	}
	r = BRK_ERR_DENIED;
	if (strcmp(c->who.name, user) == 0 ||
	    strcmp(c->caller.name, user) == 0) {
		brk_error_set(&err, r,
		    "separation of duties (no-self-flag): "
		    "%s may not add, change or remove a flag on %s",
		    c->caller.name, user);
		goto fail;
	}
	if (!may_flag(c, p, user)) {
		brk_error_set(&err, r,
		    "%s may not flag %s (flaggers may; "
		    "optout_managers only within their scopes)",
		    c->who.name, user);
		goto fail;
	}
	op->admin = call_has_role(c, p, ROLE_POLICY_ADMINS);
	op->c = c;
	ops_actor(c, &op->actor);
	op->remove = remove;
	op->now = time_now();
	snprintf(op->in.user, sizeof(op->in.user), "%s", user);
	snprintf(op->in.reason, sizeof(op->in.reason), "%s", reason);
	snprintf(op->in.by, sizeof(op->in.by), "%s", c->who.name);
	op->in.severity = sev != NULL && strcmp(sev, "block") == 0 ?
	    FLAG_BLOCK :
	    FLAG_REVIEW;
	op->in.at = op->now;
	op->in.until = op->now + dur;
	r = 0;
fail:
	return ops_submit(c, p, apply_flag, done_flag, op, r, &err);
}

int
op_flag_list(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct store_txn *t = NULL;
	json_t *out = json_array();
	bool all = false;
	const struct proto_arg spec[] = {
		{ "all", PA_BOOL, false, 0, 0, &all },
	};
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0 ||
	    (r = call_read(c, &t)) != 0 ||
	    (r = flags_list(t, time_now(), all, out)) != 0) {
		json_decref(out);
		call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
		return r;
	}
	call_reply(c, out);
	return 0;
}
