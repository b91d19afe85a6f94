/*
 * snapshot.h - signed host snapshots: what a host needs to decide a login
 * on its own while the broker is away.
 *
 * A snapshot lists, for one host, the grants active when it was issued
 * (user, role, expiry, serial) and the blocks in force (scope, user or "*",
 * until, reason), and is signed by the broker's CA key.  The text form is
 * exactly three lines, each ending in "\n":
 *
 *   broker-snapshot-v2
 *   {"v":2,"host":"web-1","issued_at":..,"expires_at":..,"key_id":"..",
 *    "grants":[{"user":..,"role":..,"expires_at":..,"serial":..}],
 *    "blocks":[{"scope":..,"user":..,"until":..,"reason":..}]}
 *   sig ed25519 <keyid> <base64 Ed25519 signature>
 *
 * What the broker puts in (op_snapshot): only grants no block refused when
 * it was issued (a grant of a blocked user is left out), and every login
 * block that applies to the host: global and freeze, resource and label
 * blocks matching it as user "*"; user opt-outs and block flags by name;
 * and group blocks expanded by the broker, which alone knows the groups,
 * into one entry per grant user in the group ("group:ops", "alice").  A
 * host therefore never needs a directory to honour a block.
 *
 * Version 1 had the same shape but was issued without blocks; it is
 * refused by name, and any other magic or "v" is refused too.
 *
 * The payload is compact ASCII JSON on one line (all keys required, no
 * others).  The signature covers the bytes of lines 1 and 2 including their
 * newlines, so the magic line is signed too and nothing is re-encoded
 * before verifying.  <keyid> is the CA key id (16 hex digits of SHA-256
 * over the key's wire blob) and must equal the payload's key_id.  Times are
 * seconds since the epoch.
 *
 * This file is client-side (the PAM module links it); signing lives in the
 * daemon (snapshot_sign.h).  The functions here keep no state and are
 * thread-safe on distinct snapshots.
 */
#ifndef BRK_SNAPSHOT_H
#define BRK_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "errors.h"

#define SNAPSHOT_MAGIC "broker-snapshot-v2"
#define SNAPSHOT_MAGIC_V1 "broker-snapshot-v1" /* refused: no blocks */
#define SNAPSHOT_VERSION 2
#define SNAPSHOT_MAX_SIZE (8u * 1024 * 1024)
#define SNAPSHOT_MAX_GRANTS 20000
#define SNAPSHOT_MAX_BLOCKS 10000
#define SNAPSHOT_NAME_MAX 256 /* host, user, role, scope */
#define SNAPSHOT_REASON_MAX 1024
#define SNAPSHOT_CLOCK_SKEW 60 /* seconds issued_at may be ahead */

struct snapshot_grant {
	char *user; /* who was granted */
	char *role; /* the principal / login account */
	int64_t expires_at;
	uint64_t serial; /* at most INT64_MAX */
};

struct snapshot_block {
	char *scope; /* e.g. "global", "resource:host:web-*" */
	char *user;  /* a user name, or "*" for everyone */
	int64_t until;
	char *reason; /* UTF-8, no control characters */
};

/* Read-only to callers; build one with the functions below. */
struct snapshot {
	char *host; /* bare host name, without "host:" */
	int64_t issued_at;
	int64_t expires_at;
	char key_id[17]; /* set by snapshot_verify(); "" when built */
	struct snapshot_grant *grants;
	size_t ngrants;
	struct snapshot_block *blocks;
	size_t nblocks;
	size_t grants_cap, blocks_cap; /* internal: allocated slots */
};

/*
 * A new empty snapshot for host ("web-1" or "host:web-1"; stored bare),
 * valid from issued_at until expires_at (issued_at < expires_at, both >= 0).
 * Errors: BRK_ERR_INVALID, BRK_ERR_NOMEM.  Free with snapshot_free().
 */
int snapshot_new(const char *host, int64_t issued_at, int64_t expires_at,
    struct snapshot **out, struct brk_error *err);

/* Add a grant (strings copied; names are printable ASCII without blanks,
 * at most SNAPSHOT_NAME_MAX bytes; serial <= INT64_MAX).  Errors:
 * BRK_ERR_INVALID, BRK_ERR_TOOBIG (over SNAPSHOT_MAX_GRANTS),
 * BRK_ERR_NOMEM; s is unchanged on error. */
int snapshot_add_grant(struct snapshot *s, const char *user, const char *role,
    int64_t expires_at, uint64_t serial, struct brk_error *err);

/* Add a block; user is a name or "*"; scope is printable ASCII; reason is
 * UTF-8 without control characters (may be empty).  Errors as above. */
int snapshot_add_block(struct snapshot *s, const char *scope, const char *user,
    int64_t until, const char *reason, struct brk_error *err);

/* Free s and everything in it; NULL is fine. */
void snapshot_free(struct snapshot *s);

/*
 * The exact bytes to sign: lines 1 and 2 of the text form, payload naming
 * key_id.  *text is a new NUL-terminated string (free()) of *len bytes.
 * For snapshot_sign(); callers append the "sig" line.  Errors:
 * BRK_ERR_INVALID, BRK_ERR_TOOBIG, BRK_ERR_NOMEM.
 */
int snapshot_encode_unsigned(
    const struct snapshot *s, const char *key_id, char **text, size_t *len);

/*
 * Check a signed snapshot of len bytes and parse it.
 *
 * ca_public_lines are the trusted CA keys ("ssh-ed25519 AAAA... comment",
 * as ca show prints them; other key types are skipped).  The snapshot must
 * be signed by the one whose key id the sig line names, be for host (bare
 * or "host:"-prefixed; compared exactly), have issued_at <= now +
 * SNAPSHOT_CLOCK_SKEW and now < expires_at, and parse strictly.  The
 * signature is checked before the payload is parsed.
 *
 * On success *out is the parsed snapshot (snapshot_free()).  Errors:
 * BRK_ERR_TOOBIG (over SNAPSHOT_MAX_SIZE or a count limit),
 * BRK_ERR_INVALID (not a well-formed snapshot), BRK_ERR_VERIFY (unknown
 * key, bad signature, another host, not yet valid, expired), BRK_ERR_NOMEM,
 * BRK_ERR_CRYPTO.  err says which.
 */
int snapshot_verify(const char *text, size_t len,
    const char *const *ca_public_lines, size_t nkeys, const char *host,
    time_t now, struct snapshot **out, struct brk_error *err);

/*
 * Decide a login by user at now from a verified snapshot, by the rule the
 * live check follows (grantrule.h): a grant counts when unexpired and its
 * role (the login account) equals user; a block counts when unexpired and
 * its user is "*" or the grant's user.  *allowed is true when some counted
 * grant has no counted block; *why is a short reason (static, or a block's
 * reason text owned by s).  A snapshot past its expires_at allows nothing.
 * Returns 0, or BRK_ERR_INVALID for NULL arguments.
 */
int snapshot_decide(const struct snapshot *s, const char *user, time_t now,
    bool *allowed, const char **why);

#endif
