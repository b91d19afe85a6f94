/*
 * parse.c - the top of a version-1 policy document: version, resources,
 * limits; rules and roles have files of their own.
 *
 * Everything is strict: a key we do not know is an error rather than a
 * silently ignored typo, because an ignored "deny" is an open door.
 */
#include <string.h>

#include <jansson.h>

#include "duration.h"
#include "errors.h"
#include "glob.h"
#include "names.h"
#include "policy_int.h"

#define CLOCK_SKEW_MAX 3600
#define COUNT_MAX 100000  /* per-user limits: enough, and never unbounded */
#define RATE_MAX 10000000 /* requests a minute: room for load tests */

static int
parse_resource(
    struct pol_pctx *c, const char *name, json_t *v, struct pol_resource *res)
{
	static const char *const keys[] = { "labels", "principals", NULL };
	int r;

	res->name = name;
	res->is_glob = name[glob_literal_prefix(name)] != '\0';
	if (res->is_glob ? !pol_pattern_valid(name) :
			   !name_resource_valid(name))
		return pol_fail(c,
		    "\"%.64s\" is not a valid resource name or "
		    "pattern (kind:name, printable, '*' and '?' only)",
		    name);
	if (!json_is_object(v))
		return pol_fail(c, "must be an object");
	if ((r = pol_check_keys(c, v, keys)) != 0 ||
	    (r = pol_get_labels(c, v, "labels", false, &res->labels)) != 0 ||
	    (r = pol_get_names(
		 c, v, "principals", POL_USER, false, &res->principals)) != 0)
		return r;
	res->has_principals = json_object_get(v, "principals") != NULL;
	return 0;
}

static int
parse_resources(struct pol_pctx *c, json_t *v)
{
	const char *name;
	json_t *e;
	int r = 0;

	pol_push_key(c, "resources");
	if (!json_is_object(v)) {
		r = pol_fail(c, "must be an object of resource entries");
		goto out;
	}
	if ((c->p->res = pol_allocarray(
		 c->p, json_object_size(v) + 1, sizeof(*c->p->res))) == NULL) {
		r = pol_nomem(c);
		goto out;
	}
	json_object_foreach (v, name, e) {
		pol_push_key(c, name);
		r = parse_resource(c, name, e, &c->p->res[c->p->nres]);
		pol_pop(c);
		if (r != 0)
			goto out;
		c->p->nres++;
	}
out:
	pol_pop(c);
	return r;
}

/* An integer limit between lo and hi; absent keeps the default. */
static int
get_count(
    struct pol_pctx *c, json_t *obj, const char *key, int lo, int hi, int *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return pol_fail_key(c, key,
		    "must be an integer between %d and "
		    "%d",
		    lo, hi);
	*out = (int)json_integer_value(v);
	return 0;
}

static int
parse_limits(struct pol_pctx *c, json_t *v)
{
	static const char *const keys[] = { "pending_ttl", "optout_max",
		"break_glass_max_ttl", "clock_skew", "rule_authors_may_approve",
		"schedule_max", "audit_min_retention", "break_glass_per_day",
		"pending_per_user", "requests_per_minute", NULL };
	struct policy_limits *l = &c->p->limits;
	int r;

	pol_push_key(c, "limits");
	if (!json_is_object(v)) {
		r = pol_fail(c, "must be an object");
		goto out;
	}
	if ((r = pol_check_keys(c, v, keys)) != 0 ||
	    (r = pol_get_duration(c, v, "pending_ttl", &l->pending_ttl)) != 0 ||
	    (r = pol_get_duration(c, v, "optout_max", &l->optout_max)) != 0 ||
	    (r = pol_get_duration(
		 c, v, "break_glass_max_ttl", &l->break_glass_max_ttl)) != 0 ||
	    (r = pol_get_duration(c, v, "clock_skew", &l->clock_skew)) != 0 ||
	    (r = pol_get_duration(c, v, "schedule_max", &l->schedule_max)) !=
		0 ||
	    (r = pol_get_bool(c, v, "rule_authors_may_approve",
		 &l->rule_authors_may_approve)) != 0 ||
	    (r = pol_get_duration(
		 c, v, "audit_min_retention", &l->audit_min_retention)) != 0 ||
	    (r = get_count(c, v, "break_glass_per_day", 0, COUNT_MAX,
		 &l->break_glass_per_day)) != 0 ||
	    (r = get_count(c, v, "pending_per_user", 1, COUNT_MAX,
		 &l->pending_per_user)) != 0 ||
	    (r = get_count(c, v, "requests_per_minute", 1, RATE_MAX,
		 &l->requests_per_minute)) != 0)
		goto out;
	/* A large skew would silently lengthen every certificate. */
	if (l->clock_skew > CLOCK_SKEW_MAX)
		r = pol_fail_key(c, "clock_skew", "must be at most 1h");
out:
	pol_pop(c);
	return r;
}

static int
parse_version(struct pol_pctx *c, json_t *doc)
{
	json_t *v = json_object_get(doc, "version");

	if (v == NULL)
		return pol_fail_key(c, "version",
		    "missing: write "
		    "\"version\": 1");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return pol_fail_key(c, "version",
		    "unknown version (only 1 "
		    "is supported)");
	return 0;
}

int
pol_parse_document(struct pol_pctx *c, json_t *doc)
{
	static const char *const keys[] = { "version", "description",
		"resources", "rules", "roles", "limits", NULL };
	const char *desc = NULL;
	json_t *v;
	int r;

	c->p->limits.pending_ttl = 24 * 3600;
	c->p->limits.optout_max = 24 * 3600;
	c->p->limits.break_glass_max_ttl = 3600;
	c->p->limits.clock_skew = 60;
	c->p->limits.schedule_max = 7 * 24 * 3600;
	c->p->limits.rule_authors_may_approve = false;
	c->p->limits.audit_min_retention = 90 * 24 * 3600;
	c->p->limits.break_glass_per_day = 3;
	c->p->limits.pending_per_user = 20;
	c->p->limits.requests_per_minute = 60;
	if (!json_is_object(doc))
		return pol_fail(c, "the policy must be a JSON object");
	if ((r = pol_check_keys(c, doc, keys)) != 0 ||
	    (r = parse_version(c, doc)) != 0 ||
	    (r = pol_get_string(c, doc, "description", &desc)) != 0)
		return r;
	if ((v = json_object_get(doc, "resources")) != NULL &&
	    (r = parse_resources(c, v)) != 0)
		return r;
	if ((v = json_object_get(doc, "rules")) == NULL)
		return pol_fail_key(c, "rules",
		    "missing: write \"rules\": [] "
		    "to deny everything");
	if ((r = pol_parse_rules(c, v)) != 0)
		return r;
	if ((v = json_object_get(doc, "roles")) != NULL &&
	    (r = pol_parse_roles(c, v)) != 0)
		return r;
	if ((v = json_object_get(doc, "limits")) != NULL &&
	    (r = parse_limits(c, v)) != 0)
		return r;
	return 0;
}
