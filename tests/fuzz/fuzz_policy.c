/*
 * fuzz_policy.c - fuzz target for the policy engine (policy/).
 *
 * The input is a policy document.  When it parses, a few typical queries
 * are evaluated and explained, and the accessors a daemon calls after a
 * load are exercised, so that a document the parser accepts can never
 * crash evaluation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const g_dev[] = { "dev" };
static const char *const g_many[] = { "dba-leads", "secops", "sre",
	"contractors", "dev" };

static const struct policy_query queries[] = {
	{ "alice", g_dev, 1, "host:web-1", NULL, 0 },
	{ "alice", g_dev, 1, "host:web-2", NULL, 12 * 3600 },
	{ "carol", g_many, 5, "host:db-prod-1", "postgres", 3600 },
	{ "mallory", NULL, 0, "host:db-prod-1", "root", 60 },
	{ "bob", g_many, 5, "db:orders", "alice", 366 * 86400 },
	{ "bad name", g_dev, 1, "host:*", NULL, -1 },
};

static void
use_decision(const struct policy *p, const struct policy_decision *d)
{
	const struct policy_rule_cert *rc;
	size_t i;

	for (i = 0; i < d->nmatched; i++)
		(void)strlen(d->matched[i]);
	for (i = 0; i < d->napprover_groups; i++)
		(void)strlen(d->approver_groups[i]);
	for (i = 0; i < d->napprover_users; i++)
		(void)strlen(d->approver_users[i]);
	if (d->deciding_rule != NULL &&
	    (rc = policy_rule_cert_options(p, d->deciding_rule)) != NULL) {
		if (rc->force_command != NULL)
			(void)strlen(rc->force_command);
		if (rc->source_address != NULL)
			(void)strlen(rc->source_address);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_error err;
	struct policy_decision d;
	struct policy *p = NULL;
	const char *const *warn, *const *gs, *const *us, *const *ss;
	size_t i, n, ng, nu, ns;
	json_t *j;
	int r;

	memset(&err, 0, sizeof(err));
	if (policy_parse((const char *)data, size, &p, &err) != 0)
		return 0;
	(void)policy_rule_count(p);
	(void)policy_limits(p);
	n = policy_warnings(p, &warn);
	for (i = 0; i < n; i++)
		(void)strlen(warn[i]);
	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		memset(&d, 0, sizeof(d));
		policy_evaluate(p, &queries[i], &d);
		use_decision(p, &d);
		json_decref(policy_explain(p, &queries[i]));
	}
	for (r = 0; r < ROLE__COUNT; r++) {
		(void)policy_has_role(p, (enum policy_role)r, "erin", g_many,
		    5);
		policy_role_members(p, (enum policy_role)r, &gs, &ng, &us,
		    &nu);
	}
	(void)policy_optout_scope_allowed(p, "frank", g_many, 5,
	    "resource:host:db-prod-1");
	(void)policy_optout_scope_allowed(p, "frank", g_many, 5, "global");
	n = policy_optout_manager_count(p);
	for (i = 0; i <= n; i++)
		(void)policy_optout_manager_entry(p, i, &gs, &ng, &us, &nu,
		    &ss, &ns);
	(void)policy_optout_quorum(p);
	if ((j = policy_document(p)) != NULL)
		json_decref(j);
	policy_free(p);
	return 0;
}
