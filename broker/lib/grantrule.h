/*
 * grantrule.h - the one rule a login is decided by, live or offline.
 *
 * The broker's live check (op "check") and a host deciding from a signed
 * snapshot (snapshot_decide) both call these, so the two cannot drift
 * apart: a grant lets in exactly one login account, its role (the
 * principal the certificate names), never the requester's own name when
 * that differs; and a block concerns the grant's user (whose groups the
 * broker resolves), whichever account that user logs in as.
 */
#ifndef BRK_GRANTRULE_H
#define BRK_GRANTRULE_H

#include <stdbool.h>
#include <stdint.h>

/* Whether a grant for role, ending at expires_at, admits login at now. */
bool grant_admits(
    const char *role, int64_t expires_at, const char *login, int64_t now);

/* Whether a block naming block_user ("*" for everyone), in force until
 * until, refuses a grant of grant_user at now. */
bool grant_blocked_by(
    const char *block_user, int64_t until, const char *grant_user, int64_t now);

#endif
