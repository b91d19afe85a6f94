/*
 * roles.c - the administrative roles: who may load policy, opt out of
 * automation, approve opt-outs, flag users, review and audit.
 *
 * Each role is an object {groups, users}.  optout_managers may also be an
 * array of such objects, each with "scopes" limiting what its members may
 * opt out of, so "sre may pause staging, secops anything" is expressible.
 * For membership questions every role keeps the union of its entries.
 */
#include <string.h>

#include <jansson.h>

#include "errors.h"
#include "names.h"
#include "policy_int.h"

static const char *const role_names[ROLE__COUNT] = {
	[ROLE_POLICY_ADMINS] = "policy_admins",
	[ROLE_OPTOUT_MANAGERS] = "optout_managers",
	[ROLE_OPTOUT_APPROVERS] = "optout_approvers",
	[ROLE_FLAGGERS] = "flaggers",
	[ROLE_REVIEWERS] = "reviewers",
	[ROLE_AUDITORS] = "auditors",
};

static int
parse_entry(struct pol_pctx *c, enum policy_role role, json_t *v,
    struct pol_role *out, struct pol_role_entry *e)
{
	static const char *const plain[] = { "groups", "users", NULL };
	static const char *const approvers[] = { "groups", "users", "quorum",
		NULL };
	static const char *const managers[] = { "groups", "users", "scopes",
		NULL };
	const char *const *keys = role == ROLE_OPTOUT_APPROVERS ? approvers :
	    role == ROLE_OPTOUT_MANAGERS			? managers :
								  plain;
	int r;

	if (!json_is_object(v))
		return pol_fail(c,
		    "must be an object {\"groups\": [...], "
		    "\"users\": [...]}");
	if ((r = pol_check_keys(c, v, keys)) != 0 ||
	    (r = pol_get_names(c, v, "groups", POL_GROUP, false, &e->groups)) !=
		0 ||
	    (r = pol_get_names(c, v, "users", POL_USER, false, &e->users)) !=
		0 ||
	    (r = pol_get_names(c, v, "scopes", POL_SCOPE, true, &e->scopes)) !=
		0)
		return r;
	if (role == ROLE_OPTOUT_APPROVERS)
		return pol_get_quorum(c, v, &out->quorum);
	return 0;
}

/* An absent list has v == NULL, which memcpy may not be given. */
static void
append(struct pol_names *to, const struct pol_names *from)
{
	if (from->n == 0)
		return;
	memcpy(to->v + to->n, from->v, from->n * sizeof(*from->v));
	to->n += from->n;
}

/* Concatenate the entries' lists (duplicates are harmless). */
static int
union_of(struct pol_pctx *c, struct pol_role *role)
{
	size_t i, ng = 0, nu = 0;

	for (i = 0; i < role->nentries; i++) {
		ng += role->entries[i].groups.n;
		nu += role->entries[i].users.n;
	}
	if ((role->groups.v = pol_allocarray(c->p, ng + 1, sizeof(char *))) ==
		NULL ||
	    (role->users.v = pol_allocarray(c->p, nu + 1, sizeof(char *))) ==
		NULL)
		return pol_nomem(c);
	for (i = 0; i < role->nentries; i++) {
		append(&role->groups, &role->entries[i].groups);
		append(&role->users, &role->entries[i].users);
	}
	return 0;
}

static int
parse_role(struct pol_pctx *c, enum policy_role which, json_t *v)
{
	struct pol_role *role = &c->p->roles[which];
	bool many = json_is_array(v) && which == ROLE_OPTOUT_MANAGERS;
	size_t i, n = many ? json_array_size(v) : 1;
	int r = 0;

	role->present = true;
	role->quorum = 1;
	if ((role->entries = pol_allocarray(
		 c->p, n + 1, sizeof(*role->entries))) == NULL)
		return pol_nomem(c);
	for (i = 0; i < n; i++) {
		if (many)
			pol_push_idx(c, i);
		r = parse_entry(c, which, many ? json_array_get(v, i) : v, role,
		    &role->entries[i]);
		if (many)
			pol_pop(c);
		if (r != 0)
			return r;
		role->nentries++;
	}
	return union_of(c, role);
}

int
pol_parse_roles(struct pol_pctx *c, json_t *roles)
{
	const char *key;
	json_t *v;
	int i, r = 0;

	pol_push_key(c, "roles");
	if (!json_is_object(roles)) {
		r = pol_fail(c, "must be an object");
		goto out;
	}
	json_object_foreach (roles, key, v) {
		for (i = 0; i < ROLE__COUNT; i++)
			if (strcmp(key, role_names[i]) == 0)
				break;
		if (i == ROLE__COUNT) {
			r = pol_fail_key(c, key, "unknown role \"%.64s\"", key);
			goto out;
		}
		pol_push_key(c, key);
		r = parse_role(c, (enum policy_role)i, v);
		pol_pop(c);
		if (r != 0)
			goto out;
	}
out:
	pol_pop(c);
	return r;
}

static bool
in_names(const struct pol_names *l, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

/* Membership by user name or any of the caller's groups. */
static bool
member(const struct pol_names *users, const struct pol_names *groups,
    const char *user, const char *const *ugroups, size_t nugroups)
{
	size_t i;

	if (user != NULL && in_names(users, user))
		return true;
	for (i = 0; ugroups != NULL && i < nugroups; i++)
		if (in_names(groups, ugroups[i]))
			return true;
	return false;
}

bool
policy_has_role(const struct policy *p, enum policy_role role, const char *user,
    const char *const *groups, size_t ngroups)
{
	if (p == NULL || (int)role < 0 || role >= ROLE__COUNT || user == NULL ||
	    !name_user_valid(user))
		return false;
	return member(&p->roles[role].users, &p->roles[role].groups, user,
	    groups, ngroups);
}

void
policy_role_members(const struct policy *p, enum policy_role role,
    const char *const **groups, size_t *ngroups, const char *const **users,
    size_t *nusers)
{
	static const char *const none[1] = { NULL };
	const struct pol_role *r;

	*groups = *users = none;
	*ngroups = *nusers = 0;
	if (p == NULL || (int)role < 0 || role >= ROLE__COUNT)
		return;
	r = &p->roles[role];
	if (r->groups.v != NULL) {
		*groups = r->groups.v;
		*ngroups = r->groups.n;
	}
	if (r->users.v != NULL) {
		*users = r->users.v;
		*nusers = r->users.n;
	}
}

static bool
scope_covered(const struct pol_names *scopes, const char *scope)
{
	size_t i;

	if (scopes->n == 0)
		return true;
	for (i = 0; i < scopes->n; i++)
		if (strcmp(scopes->v[i], "global") == 0 ||
		    glob_covers(scopes->v[i], scope))
			return true;
	return false;
}

bool
policy_optout_scope_allowed(const struct policy *p, const char *user,
    const char *const *groups, size_t ngroups, const char *scope)
{
	const struct pol_role *r;
	size_t i;

	if (p == NULL || user == NULL || !name_user_valid(user) ||
	    !pol_scope_valid(scope))
		return false;
	r = &p->roles[ROLE_OPTOUT_MANAGERS];
	for (i = 0; i < r->nentries; i++)
		if (member(&r->entries[i].users, &r->entries[i].groups, user,
			groups, ngroups) &&
		    scope_covered(&r->entries[i].scopes, scope))
			return true;
	return false;
}

size_t
policy_optout_manager_count(const struct policy *p)
{
	return p == NULL ? 0 : p->roles[ROLE_OPTOUT_MANAGERS].nentries;
}

int
policy_optout_manager_entry(const struct policy *p, size_t i,
    const char *const **groups, size_t *ngroups, const char *const **users,
    size_t *nusers, const char *const **scopes, size_t *nscopes)
{
	static const char *const none[1] = { NULL };
	const struct pol_role_entry *e;

	*groups = *users = *scopes = none;
	*ngroups = *nusers = *nscopes = 0;
	if (p == NULL || i >= p->roles[ROLE_OPTOUT_MANAGERS].nentries)
		return BRK_ERR_NOTFOUND;
	e = &p->roles[ROLE_OPTOUT_MANAGERS].entries[i];
	if (e->groups.v != NULL) {
		*groups = e->groups.v;
		*ngroups = e->groups.n;
	}
	if (e->users.v != NULL) {
		*users = e->users.v;
		*nusers = e->users.n;
	}
	if (e->scopes.v != NULL) {
		*scopes = e->scopes.v;
		*nscopes = e->scopes.n;
	}
	return 0;
}

int
policy_optout_quorum(const struct policy *p)
{
	if (p == NULL || !p->roles[ROLE_OPTOUT_APPROVERS].present)
		return 1;
	return p->roles[ROLE_OPTOUT_APPROVERS].quorum;
}
