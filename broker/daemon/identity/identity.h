/*
 * identity.h - who a caller is: user name and groups.
 *
 * Local callers are identified by the kernel (SO_PEERCRED uid), never by
 * their word.  Names and groups come from NSS (getpwuid_r, getgrouplist),
 * the config's local_groups and, with an "ldap" section, the directory
 * (identity_dir.c, docs/ldap.md); a user is known when any names them.
 * Group names that are not in canonical form are dropped, never guessed
 * at (no rule can name them).
 *
 * A user's groups are either known completely or not known: when a source
 * cannot answer (the directory down past cache_stale_max, an NSS error) or
 * would have to cut the list (more than IDENT_MAX_GROUPS), the identity
 * says so (groups_complete false, groups_unknown the reason), and every
 * decision about that user is refused (ident_require_groups): a missing
 * group could be the one a deny rule, an opt-out or a block is keyed on.
 */
#ifndef BRK_IDENTITY_H
#define BRK_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "config.h"
#include "errors.h"

#define IDENT_MAX_GROUPS 256

struct ident {
	char name[65];
	uid_t uid; /* (uid_t)-1 when the user is not in NSS */
	bool in_nss;
	size_t ngroups;
	char *groups[IDENT_MAX_GROUPS];
	char sources[64]; /* "nss", "local", "ldap" joined by "+" */
	/* Set only by ident_from_*() once every source has answered in
	 * full; a zeroed or hand-built ident has unknown groups. */
	bool groups_complete;
	char groups_unknown[128]; /* why not, when not ("" if known) */
};

/* The identity sources (NSS, local groups, and later the directory) and
 * their caches.  Thread-safe: any thread may resolve identities at once. */
struct identity;

int identity_new(
    const struct config *cfg, struct identity **out, struct brk_error *err);
void identity_free(struct identity *id);

/* Health of the sources, for status and metrics (a new object). */
json_t *identity_health(struct identity *id);

/*
 * The identity of a connected uid.  BRK_ERR_NOTFOUND for unknown uids,
 * BRK_ERR_IO when NSS cannot say.  Succeeds with groups_complete false
 * when the user's groups cannot be known completely.
 */
int ident_from_uid(
    struct identity *ids, uid_t uid, struct ident *out, struct brk_error *err);

/*
 * The identity of a user by name (for "as" and check --user).
 * BRK_ERR_INVALID for non-canonical names, BRK_ERR_NOTFOUND when every
 * source answered and none knows the user, BRK_ERR_DENIED (err says why)
 * when none knows the user but one could not answer (whether the user
 * exists is then unknown).  Succeeds with groups_complete false when a
 * source that knows the user, or one that could not answer, leaves the
 * groups incomplete.
 */
int ident_from_name(struct identity *ids, const char *name, struct ident *out,
    struct brk_error *err);

/*
 * 0 when id's groups are known completely; else BRK_ERR_DENIED with err
 * saying "USER: groups unknown: WHY".  Every decision that depends on who
 * a user is (request, check, approve, roles, explain) calls this first.
 */
int ident_require_groups(const struct ident *id, struct brk_error *err);

/*
 * Who can approve, as people: the named users and the members of the
 * groups (comma-separated lists, as records hold them), from the config's
 * local_groups, NSS's member lists and the directory (whose members are
 * each checked the user's way, so that both directions agree), without
 * the names in exclude (the requester, the filer, those who approved).
 * people is a new JSON array of {"name", "mail"} (mail from the
 * directory's mail_attr, else null), at most IDENT_PEOPLE_MAX (more says
 * there were more).  When a group's members cannot be known (the
 * directory down past cache_stale_max, a group over the limit, or, without
 * wait, not looked up yet) people is NULL and why says so: an empty or
 * short list would tell a hook that nobody (or only some) can approve.
 * wait false never asks the directory on this thread (the lookups go to
 * the background).  NSS is asked either way.  For telling people, never
 * for deciding.  Returns 0 or BRK_ERR_NOMEM.
 */
#define IDENT_PEOPLE_MAX 100
struct ident_people {
	json_t *people; /* owned by the caller; NULL when unknown */
	bool more;	/* more than IDENT_PEOPLE_MAX */
	char why[192];	/* when unknown: why */
};
int ident_people(struct identity *ids, const char *groups, const char *users,
    const char *const *exclude, size_t nexclude, bool wait,
    struct ident_people *out);

/* {"name", "mail"} for one user (mail as ident_people's), a new object;
 * NULL when out of memory. */
json_t *ident_person(struct identity *ids, const char *name, bool wait);

/* A deep copy of src into dst (which holds nothing yet). */
int ident_copy(struct ident *dst, const struct ident *src);

/* Free the groups; the struct may be reused. */
void ident_clear(struct ident *id);

/* The groups as a const array for the policy engine. */
static inline const char *const *
ident_groups(const struct ident *id)
{
	return (const char *const *)id->groups;
}

#endif
