/*
 * identity.c - who a caller is: NSS, config-defined local groups, and the
 * directory (identity_dir.c) when the config has an "ldap" section.
 *
 * The sources are merged: a user is known when any of them knows the
 * name, and their groups are the union.  Every name is checked against
 * the canonical form (names.h) before any source is asked.  A source
 * that cannot answer, or whose answer would have to be cut, leaves the
 * groups unknown (identity.h): never a shorter list.
 *
 * NSS's whole answers for a user name are kept for NSS_KEEP_MS: a check
 * or a host's sync that named a user NSS does not hold cost ~150 us of
 * system calls (nss_systemd walks its userdb directories), more than the
 * rest of the call.  A user added to NSS, or to or out of a group there,
 * shows within that time, as the socket's per-connection identities
 * (server.c) and check's kept replies (checkcache.h) do; an answer NSS
 * could not give whole is never kept, and is asked for again.
 */
#include "identity.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "identity_cache.h"
#include "identity_dir.h"
#include "names.h"
#include "userdb.h"

#define NSS_KEEP_MS 2000
#define NSS_KEEP_MAX 1024 /* user names: at most 256 groups each */

/* Why groups are unknown, as said to the caller */
#define WHY_TOO_MANY "more groups than the broker tracks (256)"
#define WHY_NSS_FAILED "NSS lookup failed"

struct identity {
	const struct config *cfg;
	struct iddir *dir;   /* NULL without an "ldap" section */
	struct idcache *nss; /* NSS's answers by user name */
};

int
identity_new(
    const struct config *cfg, struct identity **out, struct brk_error *err)
{
	struct identity *id;
	int r;

	*out = NULL;
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
	id->cfg = cfg;
	if (idcache_new(NSS_KEEP_MAX, &id->nss) != 0) {
		identity_free(id);
		return brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
	}
	if (cfg->ldap != NULL &&
	    (r = iddir_new(cfg->ldap, &id->dir, err)) != 0) {
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
	idcache_free(id->nss);
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

/* Record the first reason the groups cannot be known completely. */
static void
groups_unknown(struct ident *id, const char *why)
{
	if (id->groups_unknown[0] == '\0')
		snprintf(
		    id->groups_unknown, sizeof(id->groups_unknown), "%s", why);
}

static int
add_group(struct ident *id, const char *g)
{
	if (!name_group_valid(g) || has_group(id, g))
		return 0; /* no rule can name it, or held already */
	if (id->ngroups >= IDENT_MAX_GROUPS) {
		/* cutting the list could drop the group a deny is keyed on */
		groups_unknown(id, WHY_TOO_MANY);
		return 0;
	}
	if ((id->groups[id->ngroups] = strdup(g)) == NULL)
		return BRK_ERR_NOMEM;
	id->ngroups++;
	return 0;
}

/* Marks NSS's answer v incomplete, keeping the first reason (as
 * groups_unknown() does for an identity). */
static void
nss_incomplete(
    struct idcache_val *v, char *why, size_t whylen, const char *reason)
{
	if (v->complete)
		snprintf(why, whylen, "%s", reason);
	v->complete = false;
}

/* Appends group name g to v unless no rule can name it; a list longer
 * than the broker tracks leaves v incomplete (add_group's rule). */
static int
nss_add_name(struct idcache_val *v, const char *g, char *why, size_t whylen)
{
	if (!name_group_valid(g))
		return 0;
	if (v->ngroups >= IDENT_MAX_GROUPS) {
		nss_incomplete(v, why, whylen, WHY_TOO_MANY);
		return 0;
	}
	if ((v->groups[v->ngroups] = strdup(g)) == NULL)
		return BRK_ERR_NOMEM;
	v->ngroups++;
	return 0;
}

/* The names of the groups of user name, whose primary group is base,
 * afresh from NSS into v; v->complete false and why set when NSS cannot
 * list them all. */
static int
nss_read_groups(const char *name, gid_t base, struct idcache_val *v, char *why,
    size_t whylen)
{
	struct brk_error err = { { 0 } };
	struct group *gr = NULL;
	gid_t *gids = NULL;
	size_t n = 0, i;
	int r;

	v->complete = true;
	r = userdb_grouplist(name, base, USERDB_GROUPS_MAX, &gids, &n, &err);
	if (r == BRK_ERR_NOMEM)
		goto out;
	if (r != 0) {
		nss_incomplete(v, why, whylen,
		    r == BRK_ERR_TOOBIG ? WHY_TOO_MANY : WHY_NSS_FAILED);
		r = 0;
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if (n > 0 &&
	    (v->groups = calloc(n < IDENT_MAX_GROUPS ? n : IDENT_MAX_GROUPS,
		 sizeof(char *))) == NULL)
		goto out;
	r = 0;
	for (i = 0; i < n; i++) {
		r = userdb_grgid(gids[i], &gr, &err);
		if (r == BRK_ERR_NOTFOUND) {
			r = 0; /* a gid without a name: no rule names it */
			continue;
		}
		if (r == BRK_ERR_NOMEM)
			goto out;
		if (r != 0) {
			nss_incomplete(v, why, whylen, WHY_NSS_FAILED);
			r = 0;
			continue;
		}
		r = nss_add_name(v, gr->gr_name, why, whylen);
		free(gr);
		gr = NULL;
		if (r != 0)
			goto out;
	}
out:
	free(gids);
	return r;
}

/* What NSS says of user name, afresh, into v (its time first, so that
 * its age is never under-counted). */
static int
nss_read(const char *name, struct idcache_val *v, char *why, size_t whylen)
{
	struct brk_error err = { { 0 } };
	struct passwd *pw = NULL;
	int r;

	memset(v, 0, sizeof(*v));
	v->fetched_ms = deadline_now_ms();
	v->uid = -1;
	v->complete = true; /* until NSS fails to say */
	r = userdb_pwnam(name, &pw, &err);
	if (r == BRK_ERR_NOTFOUND)
		return 0;
	if (r != 0) {
		nss_incomplete(v, why, whylen, WHY_NSS_FAILED);
		return r == BRK_ERR_NOMEM ? r : 0;
	}
	v->found = true;
	v->uid = pw->pw_uid;
	r = nss_read_groups(name, pw->pw_gid, v, why, whylen);
	free(pw);
	return r;
}

/* What NSS says of user name into v: the answer kept for it while younger
 * than NSS_KEEP_MS, else afresh (and kept when whole). */
static int
nss_user(struct identity *ids, const char *name, struct idcache_val *v,
    char *why, size_t whylen)
{
	int r;

	if ((r = idcache_get(ids->nss, name, v)) == BRK_ERR_NOMEM)
		return r;
	if (r == 0 && deadline_now_ms() - v->fetched_ms < NSS_KEEP_MS)
		return 0;
	idcache_val_clear(v);
	if ((r = nss_read(name, v, why, whylen)) != 0)
		return r;
	/* out of memory keeps nothing, which only costs the next lookup */
	if (v->complete)
		(void)idcache_put(ids->nss, name, v);
	return 0;
}

/* Adds NSS's groups for the user (nss_user) to id. */
static int
nss_apply(struct ident *id, const struct idcache_val *v, const char *why)
{
	size_t i;
	int r;

	/* never an empty reason: groups_unknown() would record none */
	if (!v->complete)
		groups_unknown(id, why[0] != '\0' ? why : WHY_NSS_FAILED);
	for (i = 0; i < v->ngroups; i++)
		if ((r = add_group(id, v->groups[i])) != 0)
			return r;
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
				if ((r = add_group(id, cfg->groups[i].name)) !=
				    0)
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
	if (!res.complete)
		groups_unknown(
		    id, res.why[0] != '\0' ? res.why : "directory unreachable");
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

/* nss is what NSS said of the user (why: why it is not whole). */
static int
finish(struct identity *ids, struct ident *id, const struct idcache_val *nss,
    const char *why, struct brk_error *err)
{
	bool local = false, dir = false;
	int r;

	id->groups_complete = false;
	if ((r = nss_apply(id, nss, why)) != 0)
		return r;
	if ((r = local_groups(ids->cfg, id, &local)) != 0)
		return r;
	if ((r = dir_groups(ids, id, &dir)) != 0)
		return r;
	if (!nss->found && !local && !dir) {
		/* whether the user exists depends on a source that did not
		 * answer: neither "unknown user" nor an identity */
		if (id->groups_unknown[0] != '\0')
			return brk_error_set(err, BRK_ERR_DENIED,
			    "%s: user and "
			    "groups unknown: %s",
			    id->name, id->groups_unknown);
		return brk_error_set(
		    err, BRK_ERR_NOTFOUND, "unknown user \"%s\"", id->name);
	}
	id->sources[0] = '\0';
	if (nss->found)
		add_source(id, "nss");
	if (local)
		add_source(id, "local");
	if (dir)
		add_source(id, "ldap");
	if (id->groups_unknown[0] == '\0')
		id->groups_complete = true;
	return 0;
}

int
ident_from_uid(
    struct identity *ids, uid_t uid, struct ident *out, struct brk_error *err)
{
	struct idcache_val nss = { .found = true };
	struct passwd *pw = NULL;
	char why[sizeof(out->groups_unknown)] = "";
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = userdb_pwuid(uid, &pw, err)) != 0) {
		if (r == BRK_ERR_NOTFOUND)
			brk_error_set(
			    err, r, "uid %u has no user name", (unsigned)uid);
		goto out;
	}
	r = BRK_ERR_INVALID;
	if (!name_user_valid(pw->pw_name)) {
		brk_error_set(err, r,
		    "uid %u has a user name the broker "
		    "does not accept",
		    (unsigned)uid);
		goto out;
	}
	snprintf(out->name, sizeof(out->name), "%s", pw->pw_name);
	out->uid = uid;
	out->in_nss = true;
	if ((r = nss_read_groups(
		 pw->pw_name, pw->pw_gid, &nss, why, sizeof(why))) != 0 ||
	    (r = finish(ids, out, &nss, why, err)) != 0)
		ident_clear(out);
out:
	idcache_val_clear(&nss);
	free(pw);
	return r;
}

int
ident_from_name(struct identity *ids, const char *name, struct ident *out,
    struct brk_error *err)
{
	struct idcache_val nss = { 0 };
	char why[sizeof(out->groups_unknown)] = "";
	int r;

	memset(out, 0, sizeof(*out));
	if (!name_user_valid(name))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "\"%.64s\" is not a valid user name", name);
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->uid = (uid_t)-1;
	if ((r = nss_user(ids, name, &nss, why, sizeof(why))) != 0) {
		brk_error_set(err, r, "out of memory");
		goto out;
	}
	if (nss.found) {
		out->uid = (uid_t)nss.uid;
		out->in_nss = true;
	}
	if ((r = finish(ids, out, &nss, why, err)) != 0)
		ident_clear(out);
out:
	idcache_val_clear(&nss);
	return r;
}

static void
add_member(json_t *out, const char *name)
{
	size_t i;
	json_t *v;

	if (!name_user_valid(name))
		return;
	json_array_foreach (out, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return;
	json_array_append_new(out, json_string(name));
}

/* The members of group from the config's local_groups and NSS. */
static int
local_members(struct identity *ids, const char *group, json_t *out)
{
	struct group gr, *res = NULL;
	char *buf = NULL;
	size_t i, j, len = 16384;

	for (i = 0; i < ids->cfg->ngroups; i++)
		if (strcmp(ids->cfg->groups[i].name, group) == 0)
			for (j = 0; j < ids->cfg->groups[i].nusers; j++)
				add_member(out, ids->cfg->groups[i].users[j]);
	if ((buf = malloc(len)) == NULL)
		return BRK_ERR_NOMEM;
	if (getgrnam_r(group, &gr, buf, len, &res) == 0 && res != NULL)
		for (i = 0; gr.gr_mem[i] != NULL; i++)
			add_member(out, gr.gr_mem[i]);
	free(buf);
	return 0;
}

/* Whether the directory's groups for a user hold group. */
static bool
dir_has(const struct iddir_result *u, const char *group)
{
	size_t i;

	for (i = 0; i < u->ngroups; i++)
		if (strcmp(u->groups[i], group) == 0)
			return true;
	return false;
}

/*
 * The directory's members of group into out, each checked the user's
 * way (their groups hold it), so that both directions agree.  Sets why
 * (and adds nothing more) when the members cannot be known.
 */
static int
dir_members(struct identity *ids, const char *group, bool wait, json_t *out,
    char *why, size_t whylen)
{
	struct iddir_result g = { 0 }, u = { 0 };
	size_t i;
	int r;

	if ((r = iddir_members(ids->dir, group, wait, &g)) != 0)
		return r;
	if (!g.complete) {
		snprintf(why, whylen, "members of %.64s unknown: %.90s", group,
		    g.why);
		goto out;
	}
	for (i = 0; i < g.ngroups; i++) {
		if ((r = iddir_user(ids->dir, g.groups[i], wait, &u)) != 0)
			goto out;
		if (!u.complete) {
			snprintf(why, whylen, "members of %.64s unknown: %.90s",
			    group, u.why);
			goto out;
		}
		if (u.found && dir_has(&u, group))
			add_member(out, g.groups[i]);
		iddir_result_clear(&u);
	}
out:
	iddir_result_clear(&u);
	iddir_result_clear(&g);
	return r;
}

/* The next item of a comma-separated list into buf; false at the end.
 * Items that do not fit are skipped (no canonical name is that long). */
static bool
next_item(const char **p, char *buf, size_t buflen)
{
	const char *c;
	size_t len;

	while (*p != NULL && **p != '\0') {
		c = strchr(*p, ',');
		len = c != NULL ? (size_t)(c - *p) : strlen(*p);
		if (len > 0 && len < buflen) {
			memcpy(buf, *p, len);
			buf[len] = '\0';
		}
		*p = c != NULL ? c + 1 : NULL;
		if (len > 0 && len < buflen)
			return true;
	}
	return false;
}

static bool
excluded(const char *const *exclude, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (exclude[i] != NULL && strcmp(exclude[i], name) == 0)
			return true;
	return false;
}

/* {"name", "mail"}: mail from the directory when it holds the user and
 * answers now, else null (an address is only ever informational). */
static json_t *
person_json(struct identity *ids, const char *name, bool wait)
{
	struct iddir_result u = { 0 };
	json_t *o;

	if (ids->dir != NULL && iddir_user(ids->dir, name, wait, &u) == 0 &&
	    u.found && u.mail != NULL)
		o = json_pack("{s:s, s:s}", "name", name, "mail", u.mail);
	else
		o = json_pack("{s:s, s:n}", "name", name, "mail");
	iddir_result_clear(&u);
	return o;
}

json_t *
ident_person(struct identity *ids, const char *name, bool wait)
{
	return person_json(ids, name, wait);
}

int
ident_people(struct identity *ids, const char *groups, const char *users,
    const char *const *exclude, size_t nexclude, bool wait,
    struct ident_people *out)
{
	char item[72];
	json_t *names = NULL, *v, *p;
	const char *at;
	size_t i;
	int r = BRK_ERR_NOMEM;

	memset(out, 0, sizeof(*out));
	if ((names = json_array()) == NULL)
		goto out;
	for (at = users; next_item(&at, item, sizeof(item));)
		add_member(names, item);
	for (at = groups;
	     out->why[0] == '\0' && next_item(&at, item, sizeof(item));) {
		if ((r = local_members(ids, item, names)) != 0)
			goto out;
		if (ids->dir != NULL &&
		    (r = dir_members(ids, item, wait, names, out->why,
			 sizeof(out->why))) != 0)
			goto out;
	}
	r = 0;
	if (out->why[0] != '\0')
		goto out; /* unknown: never a list that may be wrong */
	r = BRK_ERR_NOMEM;
	if ((out->people = json_array()) == NULL)
		goto out;
	json_array_foreach (names, i, v) {
		if (excluded(exclude, nexclude, json_string_value(v)))
			continue;
		if (json_array_size(out->people) >= IDENT_PEOPLE_MAX) {
			out->more = true;
			break;
		}
		if ((p = person_json(ids, json_string_value(v), wait)) ==
			NULL ||
		    json_array_append_new(out->people, p) != 0)
			goto out;
	}
	r = 0;
out:
	if (r != 0 || out->why[0] != '\0') {
		json_decref(out->people);
		out->people = NULL;
	}
	json_decref(names);
	return r;
}

int
ident_require_groups(const struct ident *id, struct brk_error *err)
{
	if (id->groups_complete)
		return 0;
	return brk_error_set(err, BRK_ERR_DENIED, "%s: groups unknown: %s",
	    id->name[0] != '\0' ? id->name : "caller",
	    id->groups_unknown[0] != '\0' ? id->groups_unknown :
					    "not resolved");
}

void
ident_clear(struct ident *id)
{
	size_t i;

	for (i = 0; i < id->ngroups; i++)
		free(id->groups[i]);
	id->ngroups = 0;
	id->groups_complete = false;
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
