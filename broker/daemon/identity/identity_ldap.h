/*
 * identity_ldap.h - the directory (LDAP) as a source of users and groups.
 *
 * The only module that talks LDAP.  It parses the config's "ldap" section
 * into a typed struct, builds search filters with every caller-supplied
 * value escaped per RFC 4515, and answers one question: is NAME a user in
 * the directory, and which groups hold them?  It keeps no cache (see
 * identity_dir.c); each lookup is bounded by the configured timeout.
 */
#ifndef BRK_IDENTITY_LDAP_H
#define BRK_IDENTITY_LDAP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "errors.h"

#define LDAP_CFG_TTL_DEFAULT 60	   /* seconds */
#define LDAP_CFG_STALE_DEFAULT 600 /* seconds */
#define LDAP_CFG_TIMEOUT_DEFAULT 2 /* seconds */
#define LDAP_CFG_TIMEOUT_MAX 30
#define LDAP_CFG_CACHE_DEFAULT 10000 /* entries */
#define LDAP_NEST_MAX 3		     /* levels of nested groups followed */

enum ldap_starttls {
	LDAP_STARTTLS_OFF,
	LDAP_STARTTLS_ON,
	LDAP_STARTTLS_REQUIRED
};

struct ldap_config {
	char *uri; /* ldap://, ldaps:// or ldapi:// */
	enum ldap_starttls starttls;
	char *ca;	     /* CA file for TLS; NULL = system default */
	char *bind_dn;	     /* NULL = anonymous */
	char *bind_password; /* read from bind_password_file; wiped */
	size_t bind_password_len;
	char *user_base;
	char *user_filter;   /* "%u" is the escaped user name */
	char *user_attr;     /* must equal the name exactly; "uid" */
	char *mail_attr;     /* the user's address, for notifications;
			      * "mail" */
	char *group_base;    /* default user_base */
	bool nested_groups;  /* follow groups in groups, LDAP_NEST_MAX */
	int cache_ttl;	     /* seconds */
	int cache_stale_max; /* seconds after a fetch, >= cache_ttl */
	int timeout;	     /* seconds, 1..LDAP_CFG_TIMEOUT_MAX */
	int cache_size;	     /* entries */
};

/*
 * Parse the "ldap" section.  Unknown keys, wrong types, malformed URIs,
 * DNs and filters are BRK_ERR_INVALID; a bind password file that is not a
 * regular file owned by the effective uid with mode 0600 or stricter is
 * BRK_ERR_PERM.  err names the key.  *out is set only on success and is
 * freed with ldap_config_free().
 */
int ldap_config_parse(
    json_t *section, struct ldap_config **out, struct brk_error *err);

/* Free a parsed section (wipes the password); NULL is fine. */
void ldap_config_free(struct ldap_config *lc);

/*
 * Escape len bytes of s as an RFC 4515 assertion value (every byte that
 * is not printable ASCII, and "*", "(", ")", "\" become "\XX").  *out is
 * malloc'd.  BRK_ERR_NOMEM.
 */
int idldap_filter_escape(const char *s, size_t len, char **out);

/*
 * Expand a filter template: "%u" becomes the escaped name, "%%" a "%".
 * BRK_ERR_INVALID for any other "%" sequence, BRK_ERR_NOMEM.
 */
int idldap_filter_expand(const char *tmpl, const char *name, char **out);

/* libldap's view of the syntax of a URI and a DN (for the parser). */
bool idldap_uri_ok(const char *uri);
bool idldap_dn_ok(const char *dn);

/* A pool of directory connections; thread-safe. */
struct idldap;

/* lc must outlive the pool.  Connects lazily: never fails for a down
 * directory. */
int idldap_new(
    const struct ldap_config *lc, struct idldap **out, struct brk_error *err);
void idldap_free(struct idldap *l);

/*
 * Look NAME up: 0 with *groups (a malloc'd array of *ngroups malloc'd
 * canonical group names) when the directory holds exactly one entry whose
 * user_attr equals NAME byte for byte; BRK_ERR_NOTFOUND when it holds
 * none (or several: ambiguous names are no one); BRK_ERR_TOOBIG when the
 * user is in more groups than the broker tracks or than one search
 * returns, or nested deeper than LDAP_NEST_MAX levels follow (a cut list
 * is never returned); BRK_ERR_INVALID for a non-canonical name (never
 * sent).  Any other code means the directory
 * could not answer (BRK_ERR_UNREACHABLE, BRK_ERR_TIMEOUT, BRK_ERR_CRYPTO,
 * BRK_ERR_DENIED for a refused bind, BRK_ERR_PROTOCOL) and err says why.
 * The whole lookup ends within the configured timeout (plus scheduling).
 * Any thread may call it.
 */
int idldap_lookup(struct idldap *l, const char *name, char ***groups,
    size_t *ngroups, struct brk_error *err);

/*
 * idldap_lookup(), and the user's mail_attr value in *mail (malloc'd;
 * NULL when the entry has none, or one that is not a plain address).
 */
int idldap_lookup_user(struct idldap *l, const char *name, char ***groups,
    size_t *ngroups, char **mail, struct brk_error *err);

/*
 * The other way round: the user names the directory's group GROUP (every
 * entry under group_base whose name, as idldap_lookup() derives it, is
 * GROUP) lists: posixGroup memberUid values, and for member/uniqueMember
 * DNs the user_attr of the entry named; with nested_groups, the members
 * of groups in the group too, LDAP_NEST_MAX levels deep.  These are
 * candidates: a caller that must be exact checks each one the user's way
 * (idldap_lookup() names GROUP).  0 with *names (as idldap_lookup's
 * groups; *n may be 0: an empty group, or none of that name),
 * BRK_ERR_TOOBIG when there are more than IDLDAP_MEMBERS_MAX or nesting
 * goes deeper (never a cut list), BRK_ERR_INVALID for a non-canonical
 * group name (never sent), else the directory could not answer (as
 * idldap_lookup).
 */
#define IDLDAP_MEMBERS_MAX 256
int idldap_group_members(struct idldap *l, const char *group, char ***names,
    size_t *n, struct brk_error *err);

/* Free what idldap_lookup returned. */
void idldap_groups_free(char **groups, size_t n);

#endif
