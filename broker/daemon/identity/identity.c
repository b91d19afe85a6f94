/*
 * identity.c - who a caller is: NSS, config-defined local groups, and the
 * directory (identity_dir.c) when the config has an "ldap" section.
 *
 * The sources are merged: a user is known when any of them knows the
 * name, and their groups are the union.  Every name is checked against
 * the canonical form (names.h) before any source is asked.
 */
#include "identity.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity_dir.h"
#include "names.h"

struct identity {
	const struct config *cfg;
	struct iddir *dir;	/* NULL without an "ldap" section */
};

int
identity_new(const struct config *cfg, struct identity **out,
    struct brk_error *err)
{
	struct identity *id;
	int r;

	*out = NULL;
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
	id->cfg = cfg;
	if (cfg->ldap != NULL && (r = iddir_new(cfg->ldap, &id->dir,
	    err)) != 0) {
		identity_free(id);
		return r;
	}
	*out = id;
	return 0;
}

void
identity_free(struct identity *id)
{
	if (id == NULL)
		return;
	iddir_free(id->dir);
	free(id);
}

json_t *
identity_health(struct identity *id)
{
	if (id == NULL || id->dir == NULL)
		return json_pack("{s:b}", "configured", 0);
	return iddir_health(id->dir);
}

static bool
has_group(const struct ident *id, const char *g)
{
	size_t i;

	for (i = 0; i < id->ngroups; i++)
		if (strcmp(id->groups[i], g) == 0)
			return true;
	return false;
}

static int
add_group(struct ident *id, const char *g)
{
	if (!name_group_valid(g) || has_group(id, g))
		return 0;
	if (id->ngroups >= IDENT_MAX_GROUPS)
		return 0;	/* more groups than we track: fewer rights */
	if ((id->groups[id->ngroups] = strdup(g)) == NULL)
		return BRK_ERR_NOMEM;
	id->ngroups++;
	return 0;
}

static int
nss_groups(struct ident *id, gid_t base)
{
	gid_t gids[IDENT_MAX_GROUPS];
	int n = IDENT_MAX_GROUPS, i, r;
	struct group gr, *res;
	char buf[16384];

	if (getgrouplist(id->name, base, gids, &n) < 0)
		n = IDENT_MAX_GROUPS;	/* truncated: keep what fit */
	for (i = 0; i < n; i++) {
		res = NULL;
		if (getgrgid_r(gids[i], &gr, buf, sizeof(buf), &res) != 0 ||
		    res == NULL)
			continue;
		if ((r = add_group(id, res->gr_name)) != 0)
			return r;
	}
	return 0;
}

/* Adds local groups; returns whether the user appears in any. */
static int
local_groups(const struct config *cfg, struct ident *id, bool *found)
{
	size_t i, j;
	int r;

	*found = false;
	for (i = 0; i < cfg->ngroups; i++)
		for (j = 0; j < cfg->groups[i].nusers; j++)
			if (strcmp(cfg->groups[i].users[j], id->name) == 0) {
				*found = true;
				if ((r = add_group(id, cfg->groups[i].name)) != 0)
					return r;
			}
	return 0;
}

/* Adds the directory's groups; returns whether it knows the user. */
static int
dir_groups(struct identity *ids, struct ident *id, bool *found)
{
	struct iddir_result res = { 0 };
	size_t i;
	int r;

	*found = false;
	if (ids->dir == NULL)
		return 0;
	if ((r = iddir_lookup(ids->dir, id->name, &res)) != 0)
		return r;
	*found = res.found;
	for (i = 0; r == 0 && i < res.ngroups; i++)
		r = add_group(id, res.groups[i]);
	iddir_result_clear(&res);
	return r;
}

static void
add_source(struct ident *id, const char *s)
{
	size_t len = strlen(id->sources);

	snprintf(id->sources + len, sizeof(id->sources) - len, "%s%s",
	    len > 0 ? "+" : "", s);
}

static int
finish(struct identity *ids, struct ident *id, const struct passwd *pw,
    struct brk_error *err)
{
	bool local = false, dir = false;
	int r;

	if (pw != NULL && (r = nss_groups(id, pw->pw_gid)) != 0)
		return r;
	if ((r = local_groups(ids->cfg, id, &local)) != 0)
		return r;
	if ((r = dir_groups(ids, id, &dir)) != 0)
		return r;
	if (pw == NULL && !local && !dir)
		return brk_error_set(err, BRK_ERR_NOTFOUND,
		    "unknown user \"%s\"", id->name);
	id->sources[0] = '\0';
	if (pw != NULL)
		add_source(id, "nss");
	if (local)
		add_source(id, "local");
	if (dir)
		add_source(id, "ldap");
	return 0;
}

int
ident_from_uid(struct identity *ids, uid_t uid, struct ident *out,
    struct brk_error *err)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int r;

	memset(out, 0, sizeof(*out));
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return brk_error_set(err, BRK_ERR_NOTFOUND,
		    "uid %u has no user name", (unsigned)uid);
	if (!name_user_valid(res->pw_name))
		return brk_error_set(err, BRK_ERR_INVALID, "uid %u has a user "
		    "name the broker does not accept", (unsigned)uid);
	snprintf(out->name, sizeof(out->name), "%s", res->pw_name);
	out->uid = uid;
	out->in_nss = true;
	if ((r = finish(ids, out, res, err)) != 0)
		ident_clear(out);
	return r;
}

int
ident_from_name(struct identity *ids, const char *name,
    struct ident *out, struct brk_error *err)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int r;

	memset(out, 0, sizeof(*out));
	if (!name_user_valid(name))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "\"%.64s\" is not a valid user name", name);
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->uid = (uid_t)-1;
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0)
		res = NULL;
	if (res != NULL) {
		out->uid = res->pw_uid;
		out->in_nss = true;
	}
	if ((r = finish(ids, out, res, err)) != 0)
		ident_clear(out);
	return r;
}

void
ident_clear(struct ident *id)
{
	size_t i;

	for (i = 0; i < id->ngroups; i++)
		free(id->groups[i]);
	id->ngroups = 0;
}

int
ident_copy(struct ident *dst, const struct ident *src)
{
	size_t i;

	memcpy(dst, src, sizeof(*dst));
	for (i = 0; i < src->ngroups; i++)
		if ((dst->groups[i] = strdup(src->groups[i])) == NULL) {
			dst->ngroups = i;
			ident_clear(dst);
			return BRK_ERR_NOMEM;
		}
	return 0;
}
