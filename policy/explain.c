/*
 * explain.c - the decision of policy_evaluate(), as a JSON object a person
 * can read: which resource entry applied, every rule the index proposed
 * with whether it matched and why not, and the outcome.
 *
 * It runs the very same pol_decide() as policy_evaluate(), so an
 * explanation can never disagree with the decision it explains.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "duration.h"
#include "policy_int.h"

static json_t *
names_json(const char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
entry_json(const struct pol_resource *e)
{
	json_t *o = NULL, *labels = NULL;
	size_t i;

	/* principals is always an array; principals_listed says whether
	 * the resource names any (else a rule's own or the login name) */
	if (e == NULL)
		return json_pack("{s:n,s:{},s:[],s:b}", "entry", "labels",
		    "principals", "principals_listed", 0);
	if ((labels = json_object()) == NULL)
		return NULL;
	for (i = 0; i < e->labels.n; i++)
		if (json_object_set_new(labels, e->labels.v[i].key,
			json_string(e->labels.v[i].value)) != 0)
			goto out;
	o = json_pack("{s:s,s:O,s:o,s:b}", "entry", e->name, "labels", labels,
	    "principals",
	    e->has_principals ? names_json(e->principals.v, e->principals.n) :
				json_array(),
	    "principals_listed", e->has_principals);
out:
	json_decref(labels);
	return o;
}

/* One short sentence: why this rule did or did not match. */
static void
why(const struct pol_rule *r, const struct pol_eval *ev, char *buf, size_t len)
{
	const struct pol_label *l;
	char a[32], b[32];
	size_t which;

	switch (pol_rule_check(r, ev, &which)) {
	case POL_MISS_NONE:
		duration_format(r->max_ttl, a, sizeof(a));
		if (r->grant == POLICY_DENY)
			snprintf(buf, len, "matches: deny");
		else
			snprintf(buf, len, "matches: %s for up to %s",
			    pol_outcome_name(r->grant), a);
		return;
	case POL_MISS_USER:
		snprintf(buf, len, "user %s is not in when.users", ev->q->user);
		return;
	case POL_MISS_GROUP:
		snprintf(buf, len,
		    "none of the user's groups is in "
		    "when.groups");
		return;
	case POL_MISS_RESOURCE:
		snprintf(buf, len, "%s matches none of when.resources",
		    ev->q->resource);
		return;
	case POL_MISS_LABEL:
		l = &r->labels.v[which];
		snprintf(buf, len, "the resource has no label %s=%s", l->key,
		    l->value);
		return;
	case POL_MISS_ROLE:
		snprintf(buf, len, "role %s is not in when.roles", ev->role);
		return;
	case POL_MISS_PRINCIPAL:
		if (r->principals.n > 0)
			snprintf(
			    buf, len, "role %s is not in principals", ev->role);
		else
			snprintf(buf, len,
			    "role %s: without principals the "
			    "rule grants only the user's own name (never "
			    "root)",
			    ev->role);
		return;
	case POL_MISS_DURATION:
		duration_format(ev->q->duration, a, sizeof(a));
		duration_format(r->max_duration, b, sizeof(b));
		snprintf(buf, len, "%s requested is over when.max_duration %s",
		    a, b);
		return;
	}
	snprintf(buf, len, "unknown");
}

static json_t *
rules_json(const struct policy *p, const struct pol_eval *ev)
{
	const struct pol_rule *r;
	json_t *a = json_array(), *o;
	char text[256];
	size_t i, which;

	for (i = 0; a != NULL && i < ev->ncand; i++) {
		r = &p->rules[ev->cand[i]];
		why(r, ev, text, sizeof(text));
		o = json_pack("{s:s,s:s,s:b,s:s}", "id", r->id, "grant",
		    pol_outcome_name(r->grant), "matched",
		    pol_rule_check(r, ev, &which) == POL_MISS_NONE, "why",
		    text);
		if (json_array_append_new(a, o) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int
add_approval(json_t *o, const struct policy_decision *d)
{
	json_t *req = json_array();

	if (req == NULL)
		return -1;
	if ((d->require_reason &&
		json_array_append_new(req, json_string("reason")) != 0) ||
	    (d->require_ticket &&
		json_array_append_new(req, json_string("ticket")) != 0) ||
	    json_object_set_new(o, "require", req) != 0)
		return -1;
	if (d->outcome != POLICY_APPROVE)
		return 0;
	return json_object_set_new(o, "approvers",
		   json_pack("{s:o,s:o,s:i}", "groups",
		       names_json(d->approver_groups, d->napprover_groups),
		       "users",
		       names_json(d->approver_users, d->napprover_users),
		       "quorum", d->quorum)) != 0 ||
		json_object_set_new(o, "quorum", json_integer(d->quorum)) !=
		    0 ||
		json_object_set_new(
		    o, "break_glass", json_boolean(d->break_glass)) != 0 ||
		json_object_set_new(o, "break_glass_during",
		    json_pack("{s:b,s:b}", "freeze",
			d->break_glass_during_freeze, "optout",
			d->break_glass_during_optout)) != 0 ?
	    -1 :
	    0;
}

/* What a certificate for the grant would carry (not for a deny). */
static int
add_cert(json_t *o, const struct policy_decision *d)
{
	json_t *exts = json_array();
	unsigned bit;

	if (exts == NULL)
		return -1;
	for (bit = 1; bit <= POLICY_EXT_ALL; bit <<= 1)
		if ((d->cert_extensions & bit) &&
		    json_array_append_new(exts,
			json_string(policy_cert_extension_name(bit))) != 0) {
			json_decref(exts);
			return -1;
		}
	return json_object_set_new(o, "cert_options",
		   json_pack("{s:o,s:s?,"
			     "s:s?}",
		       "extensions", exts, "force-command",
		       d->force_command[0] ? d->force_command : NULL,
		       "source-address",
		       d->source_address[0] ? d->source_address : NULL)) != 0 ?
	    -1 :
	    0;
}

json_t *
policy_explain(const struct policy *p, const struct policy_query *q)
{
	struct policy_decision d;
	struct pol_eval ev;
	json_t *o = NULL, *ret = NULL;
	char ttl[32];

	pol_decide(p, q, &d, &ev);
	duration_format(d.ttl, ttl, sizeof(ttl));
	o = json_pack("{s:s,s:I,s:s,s:b,s:s,s:s?,s:o,s:o,s:o}", "outcome",
	    pol_outcome_name(d.outcome), "ttl", (json_int_t)d.ttl, "ttl_text",
	    ttl, "clamped", d.clamped, "reason", d.reason, "deciding_rule",
	    d.deciding_rule, "matched", names_json(d.matched, d.nmatched),
	    "resource", entry_json(ev.entry), "rules",
	    p == NULL ? json_array() : rules_json(p, &ev));
	if (o == NULL || add_approval(o, &d) != 0 ||
	    (d.outcome != POLICY_DENY && add_cert(o, &d) != 0))
		goto out;
	ret = o;
	o = NULL;
out:
	json_decref(o);
	pol_eval_free(&ev);
	return ret;
}
