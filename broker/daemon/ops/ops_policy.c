/*
 * ops_policy.c - policy check, load, show and explain.
 *
 * The CLI sends the policy text, never a path: the daemon may not be able to
 * read the user's files, and must not be made to read anyone else's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "escalate.h"
#include "flags.h"
#include "strlist.h"
#include "timefmt.h"
#include "names.h"
#include "ops.h"
#include "policystate.h"

#define POLICY_TEXT_MAX (60 * 1024) /* what fits in one protocol line */

static json_t *
warnings_json(const struct policy *p)
{
	const char *const *w = NULL;
	size_t n = policy_warnings(p, &w), i;
	json_t *a = json_array();

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(w[i]));
	return a;
}

int
op_policy_check(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_error pe = { { 0 }, 0, { 0 } };
	struct policy *p = NULL;
	const char *text = NULL;
	int r;

	if ((r = proto_arg_str(c->req->args, "text", true, POLICY_TEXT_MAX,
		 &text, &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	if ((r = policy_parse(text, strlen(text), &p, &pe)) != 0) {
		call_fail(c, r, "%s: line %d: %s", pe.path[0] ? pe.path : "$",
		    pe.line, pe.msg);
		return r;
	}
	call_reply(c,
	    json_pack("{s:b, s:I, s:o}", "valid", 1, "rules",
		(json_int_t)policy_rule_count(p), "warnings",
		warnings_json(p)));
	policy_free(p);
	return 0;
}

int
op_policy_load(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_error pe = { { 0 }, 0, { 0 } };
	struct policy_ref *p = policy_get(c->d);
	const char *text = NULL, *reason = NULL;
	uint64_t version = 0;
	int r;

	if ((r = proto_arg_str(c->req->args, "text", true, POLICY_TEXT_MAX,
		 &text, &err)) != 0 ||
	    (r = proto_arg_str(
		 c->req->args, "reason", true, 4096, &reason, &err)) != 0)
		goto fail;
	r = BRK_ERR_DENIED;
	if (!call_has_role(c, p, ROLE_POLICY_ADMINS)) {
		brk_error_set(&err, r, "%s is not a policy admin", c->who.name);
		goto fail;
	}
	/* writer_run waits for the commit; policy loads are rare */
	if ((r = policystate_load(c->d, text, strlen(text), c->who.name,
		 c->caller.name, reason, "cli", &version, &pe, &err)) != 0)
		goto fail;
	policy_put(c->d, p);
	p = policy_get(c->d);
	call_reply(c,
	    json_pack("{s:I, s:I, s:s, s:o}", "version", (json_int_t)version,
		"rules", (json_int_t)policy_rule_count(p->policy), "sha256",
		p->sha256, "warnings", warnings_json(p->policy)));
	policy_put(c->d, p);
	return 0;
fail:
	policy_put(c->d, p);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

int
op_policy_show(struct call *c)
{
	struct policy_ref *p = policy_get(c->d);
	struct store_txn *t = NULL;
	json_t *o = NULL, *ver = NULL;
	int r;

	if ((r = call_read(c, &t)) == 0)
		ver = policystate_version(c->d, t, p->version, false);
	o = json_pack("{s:I, s:s, s:o, s:o, s:o}", "version",
	    (json_int_t)p->version, "sha256", p->sha256, "loaded",
	    ver != NULL ? ver : json_null(), "document",
	    policy_document(p->policy), "warnings", warnings_json(p->policy));
	policy_put(c->d, p);
	if (o == NULL) {
		call_fail(c, BRK_ERR_NOMEM, "out of memory");
		return BRK_ERR_NOMEM;
	}
	call_reply(c, o);
	return 0;
}

struct causes {
	const struct cover *cv;
	int64_t now;
	json_t *out;
};

static int
add_cause(const struct optout *o, void *arg)
{
	struct causes *cs = arg;
	json_t *j;

	if (!optout_active(o, cs->now) || !optout_covers(o, cs->cv))
		return 0;
	if ((j = optout_json(o, cs->now)) == NULL)
		return BRK_ERR_NOMEM;
	json_object_set_new(
	    j, "kind", json_string(o->freeze ? "freeze" : "optout"));
	json_array_append_new(cs->out, j);
	return 0;
}

/* Every opt-out, freeze and flag in force that covers the query: the
 * text names each of them, not only the strictest. */
static int
explain_causes(
    struct store_txn *t, const struct cover *cv, int64_t now, json_t *o)
{
	struct causes cs = { .cv = cv, .now = now, .out = json_array() };
	struct flag fl;
	json_t *j;
	int r;

	if (cs.out == NULL)
		return BRK_ERR_NOMEM;
	if ((r = optouts_live(t, add_cause, &cs)) != 0) {
		json_decref(cs.out);
		return r;
	}
	if (flags_get(t, cv->user, now, &fl) == 0 &&
	    (j = flag_json(&fl, now)) != NULL) {
		json_object_set_new(j, "kind", json_string("flag"));
		json_object_set_new(j, "mode",
		    json_string(
			fl.severity == FLAG_BLOCK ? "block" : "manual"));
		json_array_append_new(cs.out, j);
	}
	json_object_set_new(o, "causes", cs.out);
	return 0;
}

/* What opt-outs and flags in force would do to this decision now. */
static int
explain_escalation(struct call *c, struct policy_ref *p,
    const struct policy_query *q, json_t *o)
{
	const char *outcome = json_string_value(json_object_get(o, "outcome"));
	struct store_txn *t = NULL;
	struct escalation esc;
	char rules[1024], ids[256];
	const char *ids_v[POLICY_MAX_MATCHES];
	json_t *m = json_object_get(o, "matched"), *v;
	size_t i, n = 0;
	int r;

	json_array_foreach (m, i, v)
		if (n < POLICY_MAX_MATCHES && json_is_string(v))
			ids_v[n++] = json_string_value(v);
	strlist_join(rules, sizeof(rules), ids_v, n);
	struct cover cv = { .policy = p->policy,
		.user = q->user,
		.groups = q->groups,
		.ngroups = q->ngroups,
		.resource = q->resource,
		.rules = rules };
	if ((r = call_read(c, &t)) != 0 ||
	    (r = escalate_find(t, &cv, time_now(), &esc)) != 0 ||
	    (r = explain_causes(t, &cv, time_now(), o)) != 0)
		return r;
	/* always an array of opt-out ids, empty when none applies */
	json_object_set_new(o, "optouts", json_array());
	for (size_t k = 0; k < esc.nids; k++) {
		optout_id(esc.ids[k], ids);
		json_array_append_new(
		    json_object_get(o, "optouts"), json_string(ids));
	}
	json_object_set_new(o, "escalation",
	    json_string(esc.level == ESC_BLOCK ? "block" :
		    esc.level == ESC_MANUAL    ? "manual" :
						 "none"));
	if (esc.level != ESC_NONE)
		json_object_set_new(
		    o, "escalation_reason", json_string(esc.why));
	if (outcome == NULL)
		return 0;
	if (esc.level == ESC_BLOCK)
		outcome = "deny";
	else if (esc.level == ESC_MANUAL && strcmp(outcome, "auto") == 0)
		outcome = "approve";
	json_object_set_new(o, "effective_outcome", json_string(outcome));
	return 0;
}

int
op_policy_explain(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct ident subject = { .name = { 0 } };
	const char *user = NULL, *resource = NULL, *role = NULL;
	struct policy_query q = { 0 };
	int64_t dur = 0;
	const struct proto_arg spec[] = {
		{ "resource", PA_STR, true, 0, 255, &resource },
		{ "user", PA_STR, false, 0, 64, &user },
		{ "role", PA_STR, false, 0, 64, &role },
		{ "for", PA_INT, false, 1, DURATION_MAX, &dur },
	};
	json_t *o;
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	if (user == NULL)
		user = c->who.name;
	/* another user's decision tells who may reach what: only those who
	 * read the policy's effect on everyone may ask */
	if (!name_user_valid(user)) {
		r = brk_error_set(&err, BRK_ERR_INVALID,
		    "\"%.64s\" is not a "
		    "valid user name",
		    user);
		goto fail;
	}
	if (strcmp(user, c->who.name) != 0 &&
	    !call_has_role(c, p, ROLE_POLICY_ADMINS) &&
	    !call_has_role(c, p, ROLE_AUDITORS)) {
		r = brk_error_set(&err, BRK_ERR_DENIED,
		    "%s may explain only "
		    "their own decisions: explaining %s's needs the "
		    "policy-admin or auditor role",
		    c->who.name, user);
		goto fail;
	}
	if ((r = ident_from_name(c->d->ident, user, &subject, &err)) != 0)
		goto fail;
	q = (struct policy_query){ .user = user,
		.groups = ident_groups(&subject),
		.ngroups = subject.ngroups,
		.resource = resource,
		.role = role,
		.duration = dur };
	if ((o = policy_explain(p->policy, &q)) == NULL) {
		r = BRK_ERR_NOMEM;
		goto fail;
	}
	json_object_set_new(
	    o, "policy_version", json_integer((json_int_t)p->version));
	if ((r = explain_escalation(c, p, &q, o)) != 0)
		goto fail;
	if (ident_require_groups(&subject, &err) != 0) {
		/* the rules above ran on the groups known so far; the
		 * decision itself is refused, and says why */
		json_object_set_new(o, "outcome", json_string("deny"));
		json_object_set_new(
		    o, "effective_outcome", json_string("deny"));
		json_object_set_new(o, "reason", json_string(err.msg));
		json_object_set_new(o, "deciding_rule", json_null());
	}
	json_object_set_new(
	    o, "groups_complete", json_boolean(subject.groups_complete));
	json_object_set_new(o, "groups_unknown",
	    subject.groups_complete ? json_null() :
				      json_string(subject.groups_unknown));
	json_object_set_new(o, "user", json_string(user));
	json_object_set_new(o, "groups", json_pack("[]"));
	for (size_t i = 0; i < subject.ngroups; i++)
		json_array_append_new(json_object_get(o, "groups"),
		    json_string(subject.groups[i]));
	ident_clear(&subject);
	policy_put(c->d, p);
	call_reply(c, o);
	return 0;
fail:
	ident_clear(&subject);
	policy_put(c->d, p);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}
