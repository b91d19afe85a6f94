/*
 * ops_optout.c - opting out of automation: optout add/list/show/remove/
 * extend, freeze/unfreeze.  Here the arguments are read and checked, the
 * caller's rights decided and the reply written; the changes themselves,
 * each with its audit record in the same transaction, are the domain's
 * (optouts_add, optouts_remove, optouts_extend in domain/optouts.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "duration.h"
#include "ops.h"
#include "optouts.h"
#include "reqstore.h"
#include "timefmt.h"

struct optout_op {
	struct call *c;
	struct actor actor;
	struct optout o;
	bool revoke_active;	  /* freeze --revoke-active */
	uint64_t revoked;	  /* how many grants that revoked */
	struct serial_list ended; /* which (for their sessions) */
	int64_t now;
};

static bool
tag_known(const char *tag)
{
	size_t i;

	for (i = 0; optout_tags[i] != NULL; i++)
		if (strcmp(optout_tags[i], tag) == 0)
			return true;
	return false;
}

static size_t
count_words(const char *s)
{
	size_t n = 0;
	bool in = false;

	for (; *s != '\0'; s++) {
		if (isspace((unsigned char)*s))
			in = false;
		else if (!in) {
			in = true;
			n++;
		}
	}
	return n;
}

/* Who may add or remove opt-outs of this scope (global: policy admins). */
static bool
may_manage(struct call *c, struct policy_ref *p, const struct optout *o)
{
	if (call_has_role(c, p, ROLE_POLICY_ADMINS) &&
	    (o->kind == OPT_GLOBAL || o->freeze))
		return true;
	if (o->kind == OPT_GLOBAL || o->freeze)
		return false;
	return call_has_role(c, p, ROLE_OPTOUT_MANAGERS) &&
	    policy_optout_scope_allowed(p->policy, c->who.name,
		ident_groups(&c->who), c->who.ngroups, o->scope);
}

/* Whether an opt-out manager's scopes cover one concrete scope of a grant. */
static bool
scope_ok(
    struct call *c, struct policy_ref *p, const char *kind, const char *value)
{
	char scope[REC_RESOURCE + 16];

	snprintf(scope, sizeof(scope), "%s:%s", kind, value);
	return policy_optout_scope_allowed(p->policy, c->who.name,
	    ident_groups(&c->who), c->who.ngroups, scope);
}

bool
ops_may_manage_grant(
    struct call *c, struct policy_ref *p, const struct request *r)
{
	const char *const *g, *const *u, *const *sc;
	size_t i, j, ng, nu, ns;
	char id[24], kv[REC_RESOURCE], *eq;

	if (!call_has_role(c, p, ROLE_OPTOUT_MANAGERS))
		return false;
	req_id(r->serial, id);
	if (scope_ok(c, p, "request", id) ||
	    scope_ok(c, p, "resource", r->resource) ||
	    scope_ok(c, p, "user", r->user) ||
	    (r->rule[0] != '\0' && scope_ok(c, p, "rule", r->rule)))
		return true;
	/* label scopes: a literal key=value the grant's resource carries */
	for (i = 0; policy_optout_manager_entry(
			p->policy, i, &g, &ng, &u, &nu, &sc, &ns) == 0;
	     i++)
		for (j = 0; j < ns; j++) {
			if (strncmp(sc[j], "label:", 6) != 0 ||
			    strpbrk(sc[j], "*?[") != NULL)
				continue;
			snprintf(kv, sizeof(kv), "%s", sc[j] + 6);
			if ((eq = strchr(kv, '=')) == NULL)
				continue;
			*eq = '\0';
			if (policy_resource_label(
				p->policy, r->resource, kv, eq + 1) &&
			    scope_ok(c, p, "label", sc[j] + 6))
				return true;
		}
	return false;
}

static int
apply_add(struct store_txn *t, void *arg)
{
	struct optout_op *op = arg;

	return optouts_add(t, &op->actor, &op->o, op->revoke_active, op->now,
	    &op->revoked, &op->ended);
}

static void
done_optout(void *arg, int rc)
{
	struct optout_op *op = arg;
	struct call *c = op->c;
	json_t *o = NULL;
	char msg[600];

	if (rc == 0) {
		o = optout_json(&op->o, op->now);
		if (op->revoke_active) {
			size_t ns = 0, nh = 0;

			/* the sessions those grants have open now: what the
			 * hosts' agents are asked to end (ops_session.c) */
			ops_sessions_count(
			    c->d, op->ended.serials, op->ended.n, &ns, &nh);
			json_object_set_new(o, "revoked_grants",
			    json_integer((json_int_t)op->revoked));
			json_object_set_new(
			    o, "sessions_to_end", json_integer((json_int_t)ns));
			json_object_set_new(
			    o, "session_hosts", json_integer((json_int_t)nh));
		}
	} else
		snprintf(msg, sizeof(msg), "%s", brk_strerror(rc));
	free(op->ended.serials);
	free(op);
	if (rc == 0) /* a block or a revoke ends credentials outside */
		ops_cred_sync(c->d);
	if (rc == 0)
		call_reply(c, o);
	else
		call_fail(c, rc, "%s", msg);
}

/* Read the add arguments shared by optout add and freeze. */
static int
add_args(struct call *c, struct policy_ref *p, struct optout_op *op,
    bool freeze, struct brk_error *err)
{
	const char *scope = "global", *tag = "incident", *reason = NULL,
		   *mode = NULL, *incident = NULL, *extends = NULL;
	const char *scope_arg = NULL, *tag_arg = NULL;
	const struct policy_limits *lim = policy_limits(p->policy);
	int64_t dur = 0;
	/* a freeze is global and tagged incident: scope and tag are the
	 * opt-out's own */
	const struct proto_arg spec[] = {
		{ "scope", PA_STR, !freeze, 0, 300, &scope_arg },
		{ "tag", PA_STR, !freeze, 0, 31, &tag_arg },
		{ "reason", PA_STR, true, 0, 4096, &reason },
		{ "for", PA_INT, !freeze, 1, INT64_MAX / 2, &dur },
		{ "mode", PA_STR, false, 0, 16, &mode },
		{ "incident", PA_STR, false, 0, 255, &incident },
		{ "extends", PA_STR, false, 0, 24, &extends },
		{ "revoke_active", PA_BOOL, false, 0, 0, &op->revoke_active },
	};
	int r;

	if ((r = proto_args_parse(
		 c->req->args, spec, sizeof(spec) / sizeof(spec[0]), err)) != 0)
		return r;
	if (!freeze) {
		scope = scope_arg;
		tag = tag_arg;
	}
	if ((r = optout_parse_scope(scope, &op->o, err)) != 0)
		return r;
	if (!tag_known(tag))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "unknown tag "
		    "\"%.31s\": use debugging, false-positive, incident, "
		    "sensitive-change, compliance-exception, maintenance or "
		    "other",
		    tag);
	if (strcmp(tag, "other") == 0 &&
	    (count_words(reason) < 3 || strlen(reason) < 15))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "tag other needs a "
		    "reason of at least a few words");
	if (mode != NULL && strcmp(mode, "manual") != 0 &&
	    strcmp(mode, "block") != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "mode is manual or "
		    "block");
	if (dur == 0)
		dur = lim->optout_max; /* freeze without --for */
	if (dur > lim->optout_max) {
		char cap[32], asked[32];

		duration_format(lim->optout_max, cap, sizeof(cap));
		duration_format(dur, asked, sizeof(asked));
		return brk_error_set(err, BRK_ERR_INVALID,
		    "opt-outs last at "
		    "most %s (limits.optout_max); asked for %s",
		    cap, asked);
	}
	op->o.mode = mode != NULL && strcmp(mode, "block") == 0 ? OPT_BLOCK :
								  OPT_MANUAL;
	if (op->o.mode == OPT_MANUAL) {
		const char *const *g, *const *u;
		size_t ng = 0, nu = 0;
		policy_role_members(
		    p->policy, ROLE_OPTOUT_APPROVERS, &g, &ng, &u, &nu);
		if (ng + nu == 0)
			return brk_error_set(err, BRK_ERR_DENIED,
			    "the policy "
			    "names no roles.optout_approvers, so manual opt-outs "
			    "cannot be used; use --mode block");
	}
	if (extends != NULL && optout_id_parse(extends, &op->o.extends) != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "extends: not an "
		    "opt-out id");
	snprintf(op->o.tag, sizeof(op->o.tag), "%s", tag);
	snprintf(op->o.reason, sizeof(op->o.reason), "%s", reason);
	snprintf(op->o.incident, sizeof(op->o.incident), "%s",
	    incident != NULL ? incident : "");
	snprintf(op->o.by, sizeof(op->o.by), "%s", c->who.name);
	snprintf(op->o.caller, sizeof(op->o.caller), "%s", c->caller.name);
	op->o.at = op->now;
	op->o.until = op->now + dur;
	op->o.freeze = freeze;
	if (op->revoke_active && !freeze)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "revoke_active is "
		    "for freeze");
	if (!may_manage(c, p, &op->o))
		return brk_error_set(err, BRK_ERR_DENIED,
		    "%s may not opt "
		    "out %s (%s)",
		    c->who.name, op->o.scope,
		    op->o.kind == OPT_GLOBAL ? "global opt-outs and freezes "
					       "are for policy admins" :
					       "optout_managers only, within "
					       "their scopes");
	return 0;
}

/* optout add, and freeze (a global opt-out tagged incident). */
int
op_optout_add(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct optout_op *op = calloc(1, sizeof(*op));
	bool freeze = strcmp(c->req->op, "freeze") == 0;
	int r = BRK_ERR_NOMEM;

	if (op == NULL)
		goto fail;
	op->c = c;
	ops_actor(c, &op->actor);
	op->now = time_now();
	if ((r = add_args(c, p, op, freeze, &err)) != 0)
		goto fail;
	r = 0;
fail:
	return ops_submit(c, p, apply_add, done_optout, op, r, &err);
}

/* optout remove, and unfreeze (every freeze in force). */
struct end_op {
	struct call *c;
	struct actor actor;
	struct optout_rights rights; /* the caller's, at submission */
	uint64_t id;		     /* 0: every freeze in force */
	char reason[4097];
	int64_t now;
	json_t *ended;
	char msg[REQ_MSG_LEN];
};

static int
apply_end(struct store_txn *t, void *arg)
{
	struct end_op *op = arg;

	/* made here, so that an op that never reaches the writer owns none
	 * (and a batch applied again starts afresh) */
	json_decref(op->ended);
	if ((op->ended = json_array()) == NULL)
		return BRK_ERR_NOMEM;
	return optouts_remove(t, &op->actor, &op->rights, op->id, op->reason,
	    op->now, op->ended, op->msg);
}

static void
done_end(void *arg, int rc)
{
	struct end_op *op = arg;

	/* "o" takes the reference to ended; a failure drops it */
	ops_answer(op->c, rc,
	    rc == 0 ? json_pack("{s:o}", "ended", op->ended) : op->ended,
	    op->msg);
	free(op);
}

/* The caller's rights over opt-out id (0: the freezes): managers act
 * within their scopes, so the target's scope is checked here. */
static void
rights_of(struct call *c, struct policy_ref *p, uint64_t id,
    struct optout_rights *rights)
{
	struct store_txn *t = NULL;
	struct optout probe;

	rights->admin = call_has_role(c, p, ROLE_POLICY_ADMINS);
	rights->manager = call_has_role(c, p, ROLE_OPTOUT_MANAGERS);
	if (id != 0 && rights->manager && call_read(c, &t) == 0 &&
	    optouts_load(t, id, &probe) == 0)
		rights->manager = policy_optout_scope_allowed(p->policy,
		    c->who.name, ident_groups(&c->who), c->who.ngroups,
		    probe.scope);
}

/* The "id" argument as an opt-out id into *id. */
static int
arg_optout_id(struct call *c, uint64_t *id, struct brk_error *err)
{
	const char *s = NULL;
	int r;

	if ((r = proto_arg_str(c->req->args, "id", true, 24, &s, err)) != 0)
		return r;
	if (optout_id_parse(s, id) != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "\"%.24s\" is not an opt-out id (like o3)", s);
	return 0;
}

int
op_optout_remove(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct end_op *op = calloc(1, sizeof(*op));
	bool unfreeze = strcmp(c->req->op, "unfreeze") == 0;
	const char *reason = NULL;
	int r = BRK_ERR_NOMEM;

	if (op == NULL)
		goto fail;
	if ((!unfreeze && (r = arg_optout_id(c, &op->id, &err)) != 0) ||
	    (r = proto_arg_str(
		 c->req->args, "reason", true, 4096, &reason, &err)) != 0)
		goto fail;
	op->c = c;
	ops_actor(c, &op->actor);
	op->now = time_now();
	snprintf(op->reason, sizeof(op->reason), "%s", reason);
	rights_of(c, p, op->id, &op->rights);
	r = 0;
fail:
	return ops_submit(c, p, apply_end, done_end, op, r, &err);
}

/* optout extend: the same opt-out, ending later. */
struct extend_op {
	struct call *c;
	struct actor actor;
	struct optout_rights rights;
	uint64_t id;
	int64_t now, until; /* the new end */
	char reason[4097];
	struct optout o; /* as extended, for the reply */
	char msg[REQ_MSG_LEN];
};

static int
apply_extend(struct store_txn *t, void *arg)
{
	struct extend_op *op = arg;

	return optouts_extend(t, &op->actor, &op->rights, op->id, op->until,
	    op->reason, op->now, &op->o, op->msg);
}

static void
done_extend(void *arg, int rc)
{
	struct extend_op *op = arg;

	ops_answer(
	    op->c, rc, rc == 0 ? optout_json(&op->o, op->now) : NULL, op->msg);
	free(op);
}

int
op_optout_extend(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct extend_op *op = calloc(1, sizeof(*op));
	const char *reason = NULL;
	int64_t dur = 0, max = policy_limits(p->policy)->optout_max;
	int r = BRK_ERR_NOMEM;

	if (op == NULL)
		goto fail;
	if ((r = arg_optout_id(c, &op->id, &err)) != 0 ||
	    (r = proto_arg_int(c->req->args, "for", true, 1, INT64_MAX / 2,
		 &dur, &err)) != 0 ||
	    (r = proto_arg_str(
		 c->req->args, "reason", true, 4096, &reason, &err)) != 0)
		goto fail;
	/* nothing is unlimited: each extension is capped like a new one */
	r = BRK_ERR_INVALID; /* over a limit: invalid input, as for add */
	if (dur > max) {
		char cap[32], asked[32];

		duration_format(max, cap, sizeof(cap));
		duration_format(dur, asked, sizeof(asked));
		brk_error_set(&err, r,
		    "opt-outs last at most %s "
		    "(limits.optout_max); asked for %s",
		    cap, asked);
		goto fail;
	}
	op->c = c;
	ops_actor(c, &op->actor);
	op->now = time_now();
	op->until = op->now + dur;
	snprintf(op->reason, sizeof(op->reason), "%s", reason);
	rights_of(c, p, op->id, &op->rights);
	r = 0;
fail:
	return ops_submit(c, p, apply_extend, done_extend, op, r, &err);
}

struct lister {
	struct store_txn *t;
	json_t *out;
	int64_t now;
	bool all;
};

static int
list_one(const struct optout *o, void *arg)
{
	struct lister *l = arg;

	if (l->all || optout_active(o, l->now))
		json_array_append_new(l->out, optout_json(o, l->now));
	return 0;
}

int
op_optout_list(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct lister l = { .now = time_now() };
	const struct proto_arg spec[] = {
		{ "all", PA_BOOL, false, 0, 0, &l.all },
	};
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	if ((l.out = json_array()) == NULL || (r = call_read(c, &l.t)) != 0 ||
	    (r = l.all ? optouts_all(l.t, list_one, &l) :
			 optouts_live(l.t, list_one, &l)) != 0) {
		json_decref(l.out);
		call_fail(c, BRK_ERR_IO, "cannot read opt-outs");
		return BRK_ERR_IO;
	}
	call_reply(c, l.out);
	return 0;
}

int
op_optout_show(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct store_txn *t = NULL;
	const char *id = NULL;
	struct optout o;
	uint64_t oid;
	json_t *j, *hits;
	int r;

	if ((r = proto_arg_str(c->req->args, "id", true, 24, &id, &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	if (optout_id_parse(id, &oid) != 0 || call_read(c, &t) != 0 ||
	    optouts_load(t, oid, &o) != 0) {
		call_fail(c, BRK_ERR_NOTFOUND, "no opt-out %.24s", id);
		return BRK_ERR_NOTFOUND;
	}
	j = optout_json(&o, time_now());
	hits = json_array();
	optouts_hits(t, oid, hits);
	json_object_set_new(j, "affected", hits);
	call_reply(c, j);
	return 0;
}
