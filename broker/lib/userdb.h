/*
 * userdb.h - users and groups from NSS, whole or not at all.
 *
 * The reentrant NSS calls (getpwnam_r, getgrgid_r, ...) fail with ERANGE
 * when the caller's buffer is too small for the entry, and getgrouplist
 * reports a list that did not fit; neither says "this is all of it"
 * unless asked again with more room.  These wrappers ask again, doubling,
 * up to a hard limit, so a caller gets the whole answer, a clear "no such
 * entry", or an error: never a silently shortened one.  Shared by the
 * daemon (identity.c) and the PAM module.  No state; thread-safe.
 */
#ifndef BRK_USERDB_H
#define BRK_USERDB_H

#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/types.h>

#include "errors.h"

#define USERDB_BUF_MAX (1024 * 1024) /* one entry's strings */
#define USERDB_GROUPS_MAX 65536	     /* gids of one user */

/*
 * One passwd or group entry: *out is one malloc'd block holding the
 * struct and its strings (free() it).  Returns 0; BRK_ERR_NOTFOUND when
 * NSS holds no such entry; BRK_ERR_TOOBIG when the entry needs more than
 * USERDB_BUF_MAX bytes; BRK_ERR_IO when NSS could not answer (err, if not
 * NULL, says why); BRK_ERR_NOMEM.  *out is NULL on failure.
 */
int userdb_pwnam(const char *name, struct passwd **out, struct brk_error *err);
int userdb_pwuid(uid_t uid, struct passwd **out, struct brk_error *err);
int userdb_grnam(const char *name, struct group **out, struct brk_error *err);
int userdb_grgid(gid_t gid, struct group **out, struct brk_error *err);

/*
 * Every gid of user (base included, as getgrouplist does): *gids is a
 * malloc'd array of *n.  BRK_ERR_TOOBIG when the user has more than max
 * (at most USERDB_GROUPS_MAX) gids; BRK_ERR_IO when NSS could not say;
 * BRK_ERR_NOMEM.  *gids is NULL and *n 0 on failure.
 */
int userdb_grouplist(const char *user, gid_t base, size_t max, gid_t **gids,
    size_t *n, struct brk_error *err);

#endif
