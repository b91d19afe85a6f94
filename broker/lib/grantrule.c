/*
 * grantrule.c - the login rule shared by the live check and snapshots.
 */
#include "grantrule.h"

#include <string.h>

bool
grant_admits(
    const char *role, int64_t expires_at, const char *login, int64_t now)
{
	return role != NULL && login != NULL && now < expires_at &&
	    strcmp(role, login) == 0;
}

bool
grant_blocked_by(
    const char *block_user, int64_t until, const char *grant_user, int64_t now)
{
	return block_user != NULL && grant_user != NULL && now < until &&
	    (strcmp(block_user, "*") == 0 ||
		strcmp(block_user, grant_user) == 0);
}
