/*
 * rules.c - parse the "rules" array into struct pol_rule.
 *
 * Which keys a rule may carry depends on its grant (max_ttl for auto and
 * approve, approvers and break_glass for approve only, nothing credential-
 * related for deny), so "grant" is read first and the rest checked against
 * it.  Duplicate ids are found at the end by sorting, which also gives the
 * id lookup table that policy_rule_cert_options() uses.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "duration.h"
#include "errors.h"
#include "names.h"
#include "policy_int.h"

#define OPTION_MAX POLICY_OPTION_MAX

static const char *const ext_names[] = { "permit-pty", "permit-port-forwarding",
	"permit-agent-forwarding", "permit-X11-forwarding", "permit-user-rc",
	NULL };

const char *
policy_cert_extension_name(unsigned bit)
{
	size_t i;

	for (i = 0; ext_names[i] != NULL; i++)
		if (bit == (1u << i))
			return ext_names[i];
	return NULL;
}

static int
parse_grant(struct pol_pctx *c, json_t *rule, struct pol_rule *r)
{
	json_t *v = json_object_get(rule, "grant");
	const char *s;

	if (v == NULL)
		return pol_fail_key(c, "grant",
		    "missing: \"auto\", "
		    "\"approve\" or \"deny\"");
	s = json_is_string(v) ? json_string_value(v) : "";
	if (strcmp(s, "auto") == 0)
		r->grant = POLICY_AUTO;
	else if (strcmp(s, "approve") == 0)
		r->grant = POLICY_APPROVE;
	else if (strcmp(s, "deny") == 0)
		r->grant = POLICY_DENY;
	else
		return pol_fail_key(c, "grant",
		    "must be \"auto\", "
		    "\"approve\" or \"deny\"");
	return 0;
}

static int
parse_when(struct pol_pctx *c, json_t *v, struct pol_rule *r)
{
	static const char *const keys[] = { "users", "groups", "resources",
		"labels", "roles", "max_duration", NULL };
	int rc;

	pol_push_key(c, "when");
	if (!json_is_object(v)) {
		rc = pol_fail(c, "must be an object");
		goto out;
	}
	if ((rc = pol_check_keys(c, v, keys)) != 0 ||
	    (rc = pol_get_names(c, v, "users", POL_USER, true, &r->users)) !=
		0 ||
	    (rc = pol_get_names(c, v, "groups", POL_GROUP, true, &r->groups)) !=
		0 ||
	    (rc = pol_get_names(
		 c, v, "resources", POL_PATTERN, true, &r->resources)) != 0 ||
	    (rc = pol_get_labels(c, v, "labels", true, &r->labels)) != 0 ||
	    (rc = pol_get_names(c, v, "roles", POL_USER, true, &r->roles)) !=
		0 ||
	    (rc = pol_get_duration(c, v, "max_duration", &r->max_duration)) !=
		0)
		goto out;
out:
	pol_pop(c);
	return rc;
}

static int
parse_approvers(struct pol_pctx *c, json_t *v, struct pol_rule *r)
{
	static const char *const keys[] = { "groups", "users", "quorum", NULL };
	int rc;

	pol_push_key(c, "approvers");
	r->quorum = 1;
	if (!json_is_object(v)) {
		rc = pol_fail(c, "must be an object");
		goto out;
	}
	if ((rc = pol_check_keys(c, v, keys)) != 0 ||
	    (rc = pol_get_names(
		 c, v, "groups", POL_GROUP, false, &r->appr_groups)) != 0 ||
	    (rc = pol_get_names(
		 c, v, "users", POL_USER, false, &r->appr_users)) != 0 ||
	    (rc = pol_get_quorum(c, v, &r->quorum)) != 0)
		goto out;
	if (r->appr_groups.n + r->appr_users.n == 0)
		rc = pol_fail(c, "name at least one approver group or user");
out:
	pol_pop(c);
	return rc;
}

/*
 * "break_glass": true, false, or an object saying where the emergency path
 * still works: { "during_freeze": bool, "during_optout": bool } (both
 * false by default: a manual freeze or opt-out holds break-glass for
 * approval).  The object form allows break-glass.
 */
static int
parse_break_glass(struct pol_pctx *c, json_t *rule, struct pol_rule *r)
{
	static const char *const keys[] = { "during_freeze", "during_optout",
		NULL };
	json_t *v = json_object_get(rule, "break_glass");
	int rc;

	if (v == NULL || json_is_boolean(v))
		return pol_get_bool(c, rule, "break_glass", &r->break_glass);
	pol_push_key(c, "break_glass");
	if (!json_is_object(v)) {
		rc = pol_fail(c,
		    "must be true, false or an object with "
		    "during_freeze and during_optout");
		goto out;
	}
	if ((rc = pol_check_keys(c, v, keys)) != 0 ||
	    (rc = pol_get_bool(c, v, "during_freeze", &r->bg_during_freeze)) !=
		0 ||
	    (rc = pol_get_bool(c, v, "during_optout", &r->bg_during_optout)) !=
		0)
		goto out;
	r->break_glass = true;
out:
	pol_pop(c);
	return rc;
}

static int
parse_require(struct pol_pctx *c, json_t *v, struct pol_rule *r)
{
	json_t *e;
	const char *s;
	size_t i;
	bool *flag;
	int rc = 0;

	pol_push_key(c, "require");
	if (!json_is_array(v)) {
		rc = pol_fail(c, "must be an array of \"reason\"/\"ticket\"");
		goto out;
	}
	json_array_foreach (v, i, e) {
		s = json_is_string(e) ? json_string_value(e) : "";
		flag = strcmp(s, "reason") == 0 ? &r->require_reason :
		    strcmp(s, "ticket") == 0	? &r->require_ticket :
						  NULL;
		pol_push_idx(c, i);
		if (flag == NULL)
			rc = pol_fail(c, "must be \"reason\" or \"ticket\"");
		else if (*flag)
			rc = pol_fail(c, "\"%s\" is listed twice", s);
		pol_pop(c);
		if (rc != 0)
			goto out;
		*flag = true;
	}
out:
	pol_pop(c);
	return rc;
}

static int
parse_extensions(struct pol_pctx *c, json_t *v, struct pol_rule *r)
{
	json_t *e;
	const char *s;
	size_t i, k;
	int rc = 0;

	pol_push_key(c, "extensions");
	r->cert.extensions = 0;
	if (!json_is_array(v)) {
		rc = pol_fail(c, "must be an array of extension names");
		goto out;
	}
	json_array_foreach (v, i, e) {
		s = json_is_string(e) ? json_string_value(e) : "";
		for (k = 0; ext_names[k] != NULL; k++)
			if (strcmp(s, ext_names[k]) == 0)
				break;
		pol_push_idx(c, i);
		if (ext_names[k] == NULL)
			rc = pol_fail(c,
			    "unknown extension (use permit-pty, "
			    "permit-port-forwarding, permit-agent-forwarding, "
			    "permit-X11-forwarding or permit-user-rc)");
		else if (r->cert.extensions & (1u << k))
			rc = pol_fail(c, "\"%s\" is listed twice", s);
		pol_pop(c);
		if (rc != 0)
			goto out;
		r->cert.extensions |= 1u << k;
	}
out:
	pol_pop(c);
	return rc;
}

static bool
force_command_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return i > 0 && i <= OPTION_MAX;
}

static int
parse_critical(struct pol_pctx *c, json_t *v, struct pol_rule *r)
{
	static const char *const keys[] = { "force-command", "source-address",
		NULL };
	struct policy_rule_cert *cert = &r->cert;
	int rc;

	pol_push_key(c, "critical_options");
	if (!json_is_object(v)) {
		rc = pol_fail(c, "must be an object");
		goto out;
	}
	if ((rc = pol_check_keys(c, v, keys)) != 0 ||
	    (rc = pol_get_string(
		 c, v, "force-command", &cert->force_command)) != 0 ||
	    (rc = pol_get_string(
		 c, v, "source-address", &cert->source_address)) != 0)
		goto out;
	if (cert->force_command != NULL &&
	    !force_command_valid(cert->force_command))
		rc = pol_fail_key(c, "force-command",
		    "must be 1-%d "
		    "characters without control characters",
		    OPTION_MAX);
	else if (cert->source_address != NULL &&
	    !pol_source_address_valid(cert->source_address))
		rc = pol_fail_key(c, "source-address",
		    "must be a "
		    "comma-separated list of addresses or CIDRs");
out:
	pol_pop(c);
	return rc;
}

/* Keys that depend on the grant: present where required, absent elsewhere. */
static int
check_grant_keys(struct pol_pctx *c, json_t *rule, struct pol_rule *r)
{
	static const char *const not_deny[] = { "max_ttl", "require",
		"extensions", "critical_options", "principals", NULL };
	static const char *const approve_only[] = { "approvers", "break_glass",
		NULL };
	size_t i;

	if (r->grant == POLICY_DENY)
		for (i = 0; not_deny[i] != NULL; i++)
			if (json_object_get(rule, not_deny[i]) != NULL)
				return pol_fail_key(c, not_deny[i],
				    "not "
				    "allowed in a deny rule");
	if (r->grant != POLICY_APPROVE)
		for (i = 0; approve_only[i] != NULL; i++)
			if (json_object_get(rule, approve_only[i]) != NULL)
				return pol_fail_key(c, approve_only[i],
				    "only allowed with grant \"approve\"");
	if (r->grant != POLICY_DENY && json_object_get(rule, "max_ttl") == NULL)
		return pol_fail_key(c, "max_ttl",
		    "missing: required with "
		    "grant \"%s\"",
		    pol_outcome_name(r->grant));
	if (r->grant == POLICY_APPROVE &&
	    json_object_get(rule, "approvers") == NULL)
		return pol_fail_key(c, "approvers",
		    "missing: required with "
		    "grant \"approve\"");
	return 0;
}

static int
parse_rule(struct pol_pctx *c, json_t *v, struct pol_rule *r)
{
	static const char *const keys[] = { "id", "description", "when",
		"grant", "max_ttl", "approvers", "require", "break_glass",
		"extensions", "critical_options", "principals", NULL };
	json_t *e;
	int rc;

	r->cert.extensions = POLICY_EXT_ALL;
	if (!json_is_object(v))
		return pol_fail(c, "a rule must be an object");
	if ((rc = pol_check_keys(c, v, keys)) != 0)
		return rc;
	if ((rc = pol_get_string(c, v, "id", &r->id)) != 0)
		return rc;
	if (r->id == NULL)
		return pol_fail_key(c, "id", "missing: every rule needs an id");
	if (!name_id_valid(r->id))
		return pol_fail_key(c, "id",
		    "\"%.64s\" is not a valid id "
		    "([A-Za-z0-9_.:-], at most 64)",
		    r->id);
	if ((rc = pol_get_string(c, v, "description", &r->description)) != 0 ||
	    (rc = parse_grant(c, v, r)) != 0 ||
	    (rc = check_grant_keys(c, v, r)) != 0 ||
	    (rc = pol_get_duration(c, v, "max_ttl", &r->max_ttl)) != 0 ||
	    (rc = parse_break_glass(c, v, r)) != 0 ||
	    (rc = pol_get_names(
		 c, v, "principals", POL_USER, true, &r->principals)) != 0)
		return rc;
	if ((e = json_object_get(v, "when")) != NULL &&
	    (rc = parse_when(c, e, r)) != 0)
		return rc;
	if ((e = json_object_get(v, "approvers")) != NULL &&
	    (rc = parse_approvers(c, e, r)) != 0)
		return rc;
	if ((e = json_object_get(v, "require")) != NULL &&
	    (rc = parse_require(c, e, r)) != 0)
		return rc;
	if ((e = json_object_get(v, "extensions")) != NULL &&
	    (rc = parse_extensions(c, e, r)) != 0)
		return rc;
	if ((e = json_object_get(v, "critical_options")) != NULL &&
	    (rc = parse_critical(c, e, r)) != 0)
		return rc;
	return 0;
}

/* qsort has no context argument, so ids are sorted through pointers. */
static int
cmp_id(const void *a, const void *b)
{
	const struct pol_rule *const *ra = a, *const *rb = b;
	int d = strcmp((*ra)->id, (*rb)->id);

	if (d != 0)
		return d;
	return *ra < *rb ? -1 : *ra > *rb;
}

/* Called with "rules" on the path stack. */
static int
check_ids(struct pol_pctx *c)
{
	struct policy *p = c->p;
	const struct pol_rule **sorted = NULL;
	size_t i, dup;
	int r = BRK_ERR_INTERNAL;

	if ((p->idx.byid = pol_allocarray(
		 p, p->nrules + 1, sizeof(*p->idx.byid))) == NULL ||
	    (sorted = calloc(p->nrules + 1, sizeof(*sorted))) == NULL) {
		r = pol_nomem(c);
		goto out;
	}
	for (i = 0; i < p->nrules; i++)
		sorted[i] = &p->rules[i];
	qsort(sorted, p->nrules, sizeof(*sorted), cmp_id);
	for (i = 0; i < p->nrules; i++) {
		if (i > 0 && strcmp(sorted[i]->id, sorted[i - 1]->id) == 0) {
			/* Sorted by address too: sorted[i] is the later. */
			dup = (size_t)(sorted[i] - p->rules);
			pol_push_idx(c, dup);
			r = pol_fail_key(c, "id",
			    "duplicate rule id \"%s\" "
			    "(first used at rules[%zu])",
			    sorted[i]->id, (size_t)(sorted[i - 1] - p->rules));
			pol_pop(c);
			goto out;
		}
		p->idx.byid[i] = (uint32_t)(sorted[i] - p->rules);
	}
	r = 0;
out:
	free(sorted);
	return r;
}

int
pol_parse_rules(struct pol_pctx *c, json_t *rules)
{
	json_t *v;
	size_t i;
	int r = 0;

	pol_push_key(c, "rules");
	if (!json_is_array(rules)) {
		r = pol_fail(c, "must be an array of rules");
		goto out;
	}
	if (json_array_size(rules) > UINT32_MAX / 2) {
		r = pol_fail(c, "too many rules");
		goto out;
	}
	if ((c->p->rules = pol_allocarray(c->p, json_array_size(rules) + 1,
		 sizeof(*c->p->rules))) == NULL) {
		r = pol_nomem(c);
		goto out;
	}
	json_array_foreach (rules, i, v) {
		pol_push_idx(c, i);
		r = parse_rule(c, v, &c->p->rules[i]);
		pol_pop(c);
		if (r != 0)
			goto out;
		c->p->nrules++;
	}
	/* Inside "rules" so a duplicate is reported as rules[i].id. */
	r = check_ids(c);
out:
	pol_pop(c);
	return r;
}
