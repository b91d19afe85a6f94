/*
 * ops_optout.c - opting out of automation: optout add/list/show/remove,
 * freeze/unfreeze.  Every change is one audit record in the transaction
 * that makes it.
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
	struct optout o;
	bool revoke_active; /* freeze --revoke-active */
	uint64_t revoked;   /* how many grants that revoked */
	uint64_t *ended;    /* which (for their sessions); freed in done */
	size_t nended, capended;
	int64_t now;
	char msg[512];
	const char *action;
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
audit_optout(struct store_txn *t, struct optout_op *op, const char *action,
    const char *reason)
{
	char id[24];
	json_t *d = optout_json(&op->o, op->now);
	int r;

	optout_id(op->o.id, id);
	if (op->revoked > 0)
		json_object_set_new(
		    d, "revoked_grants", json_integer((json_int_t)op->revoked));
	r = audit_append(t, op->now,
	    &(struct audit_event){ .action = action,
		.actor = op->c->who.name,
		.caller = op->c->caller.name,
		.target = id,
		.user = op->o.kind == OPT_USER ? op->o.pattern : NULL,
		.resource = op->o.kind == OPT_RESOURCE ? op->o.pattern : NULL,
		.reason = reason,
		.details = d },
	    NULL);
	json_decref(d);
	return r;
}

struct revoker {
	struct store_txn *t;
	struct optout_op *op;
	uint64_t serials[4096];
	size_t n;
};

static int
collect_auto(uint64_t serial, void *arg)
{
	struct revoker *rv = arg;
	struct request r;

	if (reqstore_load(rv->t, serial, &r) != 0 || !r.automatic ||
	    !reqstore_is_live(&r, rv->op->now))
		return 0;
	rv->serials[rv->n++] = serial;
	return rv->n == sizeof(rv->serials) / sizeof(rv->serials[0]);
}

/* freeze --revoke-active: end every automatic grant (active or
 * scheduled), in this txn.  Grants people approved stay. */
static int
revoke_automatic(struct store_txn *t, struct optout_op *op)
{
	struct revoker *rv = calloc(1, sizeof(*rv));
	struct request old, nr;
	char id[24], fid[24];
	size_t i;
	int r;

	if (rv == NULL)
		return BRK_ERR_NOMEM;
	rv->t = t;
	rv->op = op;
	op->nended = 0; /* apply may run again */
	optout_id(op->o.id, fid);
	do {
		rv->n = 0;
		if ((r = reqstore_by_state(t, ST_ACTIVE, collect_auto, rv)) !=
			0 ||
		    (rv->n < sizeof(rv->serials) / sizeof(rv->serials[0]) &&
			(r = reqstore_by_state(
			     t, ST_SCHEDULED, collect_auto, rv)) != 0))
			break;
		for (i = 0; i < rv->n && r == 0; i++) {
			if ((r = reqstore_load(t, rv->serials[i], &old)) != 0)
				break;
			nr = old;
			nr.state = ST_REVOKED;
			nr.ended_at = nr.expires_at = op->now;
			snprintf(nr.ended_by, sizeof(nr.ended_by), "%s",
			    op->c->who.name);
			snprintf(nr.end_reason, sizeof(nr.end_reason),
			    "freeze %s: %.4000s", fid, op->o.reason);
			req_id(nr.serial, id);
			if ((r = reqstore_update(t, &old, &nr)) == 0)
				r = audit_append(t, op->now,
				    &(struct audit_event){
					.action = "grant.revoked",
					.actor = op->c->who.name,
					.caller = op->c->caller.name,
					.target = id,
					.user = nr.user,
					.resource = nr.resource,
					.reason = nr.end_reason },
				    NULL);
			op->revoked++;
			if (r == 0 && op->nended == op->capended) {
				uint64_t *ne = realloc(op->ended,
				    (op->capended ? op->capended * 2 : 64) *
					sizeof(*ne));
				if (ne == NULL) {
					r = BRK_ERR_NOMEM;
					break;
				}
				op->ended = ne;
				op->capended = op->capended ? op->capended * 2 :
							      64;
			}
			if (r == 0)
				op->ended[op->nended++] = nr.serial;
		}
	} while (
	    r == 0 && rv->n == sizeof(rv->serials) / sizeof(rv->serials[0]));
	free(rv);
	return r;
}

static int
apply_add(struct store_txn *t, void *arg)
{
	struct optout_op *op = arg;
	int r;

	if ((r = optouts_create(t, &op->o)) != 0)
		return r;
	if (op->revoke_active && (r = revoke_automatic(t, op)) != 0)
		return r;
	return audit_optout(t, op, op->action, op->o.reason);
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
			    c->d, op->ended, op->nended, &ns, &nh);
			json_object_set_new(o, "revoked_grants",
			    json_integer((json_int_t)op->revoked));
			json_object_set_new(
			    o, "sessions_to_end", json_integer((json_int_t)ns));
			json_object_set_new(
			    o, "session_hosts", json_integer((json_int_t)nh));
		}
	} else
		snprintf(msg, sizeof(msg), "%s",
		    op->msg[0] ? op->msg : brk_strerror(rc));
	free(op->ended);
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

static int
submit_add(struct call *c, bool freeze)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct optout_op *op = calloc(1, sizeof(*op));
	int r = BRK_ERR_NOMEM;

	if (op == NULL)
		goto fail;
	op->c = c;
	op->now = time_now();
	op->action = freeze ? "freeze.on" : "optout.added";
	if ((r = add_args(c, p, op, freeze, &err)) != 0)
		goto fail;
	r = 0;
fail:
	return ops_submit(c, p, apply_add, done_optout, op, r, &err);
}

int
op_optout_add(struct call *c)
{
	return submit_add(c, false);
}

int
op_freeze(struct call *c)
{
	return submit_add(c, true);
}

/* End one opt-out early (remove) or every freeze (unfreeze). */
struct end_op {
	struct call *c;
	uint64_t id; /* 0: every freeze in force */
	char reason[4097];
	int64_t now;
	bool manager, admin;  /* the caller's roles, at submission */
	uint64_t freezes[64]; /* unfreeze: the freezes found */
	size_t nfreezes;
	json_t *ended;
	char msg[512];
};

static int
end_one(struct store_txn *t, struct end_op *op, const struct optout *o,
    const char *action)
{
	struct optout_op aop = { .c = op->c, .now = op->now, .o = *o };
	int r;

	aop.o.ended_at = op->now;
	snprintf(aop.o.ended_by, sizeof(aop.o.ended_by), "%s", op->c->who.name);
	snprintf(aop.o.end_kind, sizeof(aop.o.end_kind), "removed");
	snprintf(aop.o.end_reason, sizeof(aop.o.end_reason), "%s", op->reason);
	if ((r = optouts_end(t, &aop.o)) != 0 ||
	    (r = audit_optout(t, &aop, action, op->reason)) != 0)
		return r;
	json_array_append_new(op->ended, optout_json(&aop.o, op->now));
	return 0;
}

static int
find_freezes(const struct optout *o, void *arg)
{
	struct end_op *op = arg;

	if (o->freeze && optout_active(o, op->now))
		op->freezes[op->nfreezes++] = o->id;
	return op->nfreezes == sizeof(op->freezes) / sizeof(op->freezes[0]);
}

static int
apply_unfreeze(struct store_txn *t, struct end_op *op)
{
	struct optout o;
	size_t i;
	int r;

	/* collect first: ending an opt-out changes the live table */
	if ((r = optouts_live(t, find_freezes, op)) != 0)
		return r;
	if (op->nfreezes == 0) {
		snprintf(op->msg, sizeof(op->msg), "no freeze is in force");
		return BRK_ERR_STATE;
	}
	for (i = 0; i < op->nfreezes; i++)
		if ((r = optouts_load(t, op->freezes[i], &o)) != 0 ||
		    (r = end_one(t, op, &o, "freeze.off")) != 0)
			return r;
	return 0;
}

struct chain {
	struct end_op *op;
	uint64_t ids[64], extends[64];
	size_t n;
};

static int
collect_chain(const struct optout *o, void *arg)
{
	struct chain *ch = arg;

	if (optout_active(o, ch->op->now)) {
		ch->ids[ch->n] = o->id;
		ch->extends[ch->n++] = o->extends;
	}
	return ch->n == sizeof(ch->ids) / sizeof(ch->ids[0]);
}

/*
 * Renewals made before `optout extend` changed the opt-out itself were
 * new opt-outs naming the one they renew (o4 extends o3).  Removing any
 * of them ends the whole chain, so no renewal keeps a removed block.
 */
static int
end_renewals(struct store_txn *t, struct end_op *op, const struct optout *rm,
    const char *action)
{
	struct chain ch = { .op = op };
	bool in[64] = { false }, grew = true;
	struct optout o;
	size_t i, k;
	int r;

	if ((r = optouts_live(t, collect_chain, &ch)) != 0)
		return r;
	/* rm itself has left the live set: start from its neighbours */
	for (i = 0; i < ch.n; i++)
		in[i] = ch.ids[i] == rm->id || ch.extends[i] == rm->id ||
		    (rm->extends != 0 && ch.ids[i] == rm->extends);
	while (grew) {
		grew = false;
		for (i = 0; i < ch.n; i++)
			for (k = 0; k < ch.n && !in[i]; k++)
				if (in[k] &&
				    (ch.extends[i] == ch.ids[k] ||
					ch.extends[k] == ch.ids[i]))
					grew = in[i] = true;
	}
	for (i = 0; i < ch.n; i++) {
		if (!in[i] || ch.ids[i] == rm->id)
			continue;
		if ((r = optouts_load(t, ch.ids[i], &o)) != 0)
			return r;
		/* a renewal is of the same scope; the remover was checked
		 * against that scope, never against another */
		if (strcmp(o.scope, rm->scope) == 0 &&
		    (r = end_one(t, op, &o, action)) != 0)
			return r;
	}
	return 0;
}

static int
apply_end(struct store_txn *t, void *arg)
{
	struct end_op *op = arg;
	struct optout o;
	char id[24];
	int r;

	if (op->id == 0)
		return apply_unfreeze(t, op);
	optout_id(op->id, id);
	if ((r = optouts_load(t, op->id, &o)) != 0) {
		snprintf(op->msg, sizeof(op->msg), "no opt-out %s", id);
		return r;
	}
	if (!((o.kind == OPT_GLOBAL || o.freeze) ? op->admin : op->manager)) {
		snprintf(op->msg, sizeof(op->msg),
		    "%s may not remove %s "
		    "(%s)",
		    op->c->who.name, id,
		    o.kind == OPT_GLOBAL || o.freeze ? "policy admins only" :
						       "optout_managers only, "
						       "within their scopes");
		return BRK_ERR_DENIED;
	}
	/* an ended one's renewals may still be in force */
	if (optout_active(&o, op->now) &&
	    (r = end_one(
		 t, op, &o, o.freeze ? "freeze.off" : "optout.removed")) != 0)
		return r;
	if ((r = end_renewals(
		 t, op, &o, o.freeze ? "freeze.off" : "optout.removed")) != 0)
		return r;
	if (json_array_size(op->ended) == 0) {
		snprintf(op->msg, sizeof(op->msg),
		    "opt-out %s has already "
		    "ended",
		    id);
		return BRK_ERR_STATE;
	}
	return 0;
}

static void
done_end(void *arg, int rc)
{
	struct end_op *op = arg;
	struct call *c = op->c;
	json_t *ended = op->ended;
	char msg[600];

	snprintf(
	    msg, sizeof(msg), "%s", op->msg[0] ? op->msg : brk_strerror(rc));
	free(op);
	if (rc == 0)
		call_reply(c, json_pack("{s:o}", "ended", ended));
	else {
		json_decref(ended);
		call_fail(c, rc, "%s", msg);
	}
}

static int
submit_end(struct call *c, bool unfreeze)
{
	static const char *const keys[] = { "id", "reason", NULL };
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct end_op *op = calloc(1, sizeof(*op));
	const char *id = NULL, *reason = NULL;
	struct optout probe;
	int r = BRK_ERR_NOMEM;

	if (op == NULL || (op->ended = json_array()) == NULL)
		goto fail;
	if ((r = proto_args_only(c->req->args, keys, &err)) != 0 ||
	    (!unfreeze &&
		(r = proto_arg_str(c->req->args, "id", true, 24, &id, &err)) !=
		    0) ||
	    (r = proto_arg_str(
		 c->req->args, "reason", true, 4096, &reason, &err)) != 0)
		goto fail;
	r = BRK_ERR_INVALID;
	if (!unfreeze && optout_id_parse(id, &op->id) != 0) {
		brk_error_set(&err, r,
		    "\"%.24s\" is not an opt-out id (like "
		    "o3)",
		    id);
		goto fail;
	}
	op->c = c;
	op->now = time_now();
	snprintf(op->reason, sizeof(op->reason), "%s", reason);
	op->admin = call_has_role(c, p, ROLE_POLICY_ADMINS);
	op->manager = call_has_role(c, p, ROLE_OPTOUT_MANAGERS);
	if (!unfreeze && op->manager) {
		/* managers act within their scopes: check the target's */
		struct store_txn *t = NULL;
		if (call_read(c, &t) == 0 &&
		    optouts_load(t, op->id, &probe) == 0)
			op->manager = policy_optout_scope_allowed(p->policy,
			    c->who.name, ident_groups(&c->who), c->who.ngroups,
			    probe.scope);
	}
	r = BRK_ERR_DENIED;
	if (unfreeze && !op->admin) {
		brk_error_set(&err, r,
		    "%s may not unfreeze (policy admins "
		    "only)",
		    c->who.name);
		goto fail;
	}
	if ((r = writer_submit(c->d->writer, apply_end, done_end, op)) != 0)
		goto fail;
	policy_put(c->d, p);
	return 0;
fail:
	policy_put(c->d, p);
	if (op != NULL)
		json_decref(op->ended);
	free(op);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

/* optout extend: the same opt-out, ending later. */
struct extend_op {
	struct call *c;
	uint64_t id;
	int64_t now, until; /* the new end */
	char reason[4097];
	bool manager, admin;
	struct optout o; /* as extended, for the reply */
	char msg[512];
};

static int
apply_extend(struct store_txn *t, void *arg)
{
	struct extend_op *op = arg;
	struct optout_op aop = { .c = op->c, .now = op->now };
	char id[24], was[TIMEFMT_LEN];
	json_t *d;
	int r;

	optout_id(op->id, id);
	if ((r = optouts_load(t, op->id, &aop.o)) != 0) {
		snprintf(op->msg, sizeof(op->msg), "no opt-out %s", id);
		return r;
	}
	if (!optout_active(&aop.o, op->now)) {
		snprintf(op->msg, sizeof(op->msg),
		    "opt-out %s has already "
		    "ended: add a new one",
		    id);
		return BRK_ERR_STATE;
	}
	if (!((aop.o.kind == OPT_GLOBAL || aop.o.freeze) ? op->admin :
							   op->manager)) {
		snprintf(op->msg, sizeof(op->msg), "%s may not extend %s (%s)",
		    op->c->who.name, id,
		    aop.o.kind == OPT_GLOBAL || aop.o.freeze ?
			"policy admins only" :
			"optout_managers "
			"only, within their scopes");
		return BRK_ERR_DENIED;
	}
	time_rfc3339(aop.o.until, was);
	if (op->until <= aop.o.until) {
		snprintf(op->msg, sizeof(op->msg),
		    "opt-out %s already lasts "
		    "until %s: extend only moves its end later (optout remove "
		    "ends it)",
		    id, was);
		return BRK_ERR_INVALID;
	}
	aop.o.until = op->until;
	if ((r = optouts_update(t, &aop.o)) != 0)
		return r;
	d = optout_json(&aop.o, op->now);
	json_object_set_new(d, "previous_until", json_string(was));
	r = audit_append(t, op->now,
	    &(struct audit_event){
		.action = aop.o.freeze ? "freeze.extended" : "optout.extended",
		.actor = op->c->who.name,
		.caller = op->c->caller.name,
		.target = id,
		.reason = op->reason,
		.details = d },
	    NULL);
	json_decref(d);
	op->o = aop.o;
	return r;
}

static void
done_extend(void *arg, int rc)
{
	struct extend_op *op = arg;
	struct call *c = op->c;
	json_t *o = rc == 0 ? optout_json(&op->o, op->now) : NULL;
	char msg[600];

	snprintf(
	    msg, sizeof(msg), "%s", op->msg[0] ? op->msg : brk_strerror(rc));
	free(op);
	if (rc == 0)
		call_reply(c, o);
	else
		call_fail(c, rc, "%s", msg);
}

int
op_optout_extend(struct call *c)
{
	static const char *const keys[] = { "id", "for", "reason", NULL };
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct extend_op *op = calloc(1, sizeof(*op));
	const char *id = NULL, *reason = NULL;
	int64_t dur = 0, max = policy_limits(p->policy)->optout_max;
	struct store_txn *t = NULL;
	struct optout probe;
	int r = BRK_ERR_NOMEM;

	if (op == NULL)
		goto fail;
	if ((r = proto_args_only(c->req->args, keys, &err)) != 0 ||
	    (r = proto_arg_str(c->req->args, "id", true, 24, &id, &err)) != 0 ||
	    (r = proto_arg_int(c->req->args, "for", true, 1, INT64_MAX / 2,
		 &dur, &err)) != 0 ||
	    (r = proto_arg_str(
		 c->req->args, "reason", true, 4096, &reason, &err)) != 0)
		goto fail;
	r = BRK_ERR_INVALID;
	if (optout_id_parse(id, &op->id) != 0) {
		brk_error_set(&err, r,
		    "\"%.24s\" is not an opt-out id (like "
		    "o3)",
		    id);
		goto fail;
	}
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
	op->now = time_now();
	op->until = op->now + dur;
	snprintf(op->reason, sizeof(op->reason), "%s", reason);
	op->admin = call_has_role(c, p, ROLE_POLICY_ADMINS);
	op->manager = call_has_role(c, p, ROLE_OPTOUT_MANAGERS);
	/* managers act within their scopes: check the target's */
	if (op->manager && call_read(c, &t) == 0 &&
	    optouts_load(t, op->id, &probe) == 0)
		op->manager = policy_optout_scope_allowed(p->policy,
		    c->who.name, ident_groups(&c->who), c->who.ngroups,
		    probe.scope);
	r = 0;
fail:
	return ops_submit(c, p, apply_extend, done_extend, op, r, &err);
}

int
op_optout_remove(struct call *c)
{
	return submit_end(c, false);
}

int
op_unfreeze(struct call *c)
{
	return submit_end(c, true);
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
	static const char *const keys[] = { "id", NULL };
	struct brk_error err = { { 0 } };
	struct store_txn *t = NULL;
	const char *id = NULL;
	struct optout o;
	uint64_t oid;
	json_t *j, *hits;
	int r;

	if ((r = proto_args_only(c->req->args, keys, &err)) != 0 ||
	    (r = proto_arg_str(c->req->args, "id", true, 24, &id, &err)) != 0) {
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
