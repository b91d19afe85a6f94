/*
 * optouts.h - opt-outs of automation, in the store, and what they cover.
 *
 * An opt-out takes part of the automated path out of automation for a
 * while: mode "manual" sends what it covers to people, mode "block" denies
 * it and refuses logins.  Every opt-out ends: at `until` (enforced at read
 * time) or when removed.  Ended opt-outs stay in the store for history.
 */
#ifndef BRK_OPTOUTS_H
#define BRK_OPTOUTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "errors.h"
#include "policy.h"
#include "requests.h"
#include "store.h"

enum optout_kind {
	OPT_GLOBAL,
	OPT_RESOURCE,
	OPT_LABEL,
	OPT_USER,
	OPT_GROUP,
	OPT_RULE,
	OPT_REQUEST
};
enum optout_mode {
	OPT_MANUAL,
	OPT_BLOCK
};

struct optout {
	uint64_t id;
	enum optout_kind kind;
	enum optout_mode mode;
	char scope[320];   /* as given: "resource:host:db-*" */
	char pattern[256]; /* after the kind: "host:db-*" */
	char label_key[128], label_value[256];
	char tag[32];
	char reason[4097];
	char incident[256];
	char by[65], caller[65];
	int64_t at, until;
	bool freeze;
	uint64_t extends; /* the opt-out this one renews, or 0 */
	int64_t ended_at; /* 0 while in force or until expiry */
	char ended_by[65];
	char end_kind[16]; /* "removed", "expired", "" */
	char end_reason[4097];
};

/* The fixed tag vocabulary, NULL-terminated. */
extern const char *const optout_tags[];

/* Parse SCOPE into o->kind/pattern/label; BRK_ERR_INVALID with err. */
int
optout_parse_scope(const char *scope, struct optout *o, struct brk_error *err);

/* "o12" */
void optout_id(uint64_t id, char buf[24]);
int optout_id_parse(const char *s, uint64_t *id);

/* Assign an id, store, and mark live. */
int optouts_create(struct store_txn *t, struct optout *o);
/* BRK_ERR_NOTFOUND, or BRK_ERR_INVALID when the stored record does not
 * decode (optout_decode). */
int optouts_load(struct store_txn *t, uint64_t id, struct optout *o);
/* The stored form of one opt-out into o, strictly (codec.h): a missing or
 * extra key, a wrong type, an unknown mode, end kind or tag, or a scope
 * that does not parse is BRK_ERR_INVALID (o zeroed). */
int optout_decode(const void *data, size_t len, struct optout *o);
/* Store o (ended) and drop it from the live set. */
int optouts_end(struct store_txn *t, const struct optout *o);
/* Store o, still live, over its earlier form (optout extend). */
int optouts_update(struct store_txn *t, const struct optout *o);

/* Record the expiry of ids[0..n) that are live and past their end at now
 * (each stored ended, with its audit record); others, and any that does
 * not decode, are left alone. */
int
optouts_expire(struct store_txn *t, const uint64_t *ids, size_t n, int64_t now);

/* Whether o is in force at now. */
bool optout_active(const struct optout *o, int64_t now);

/* Iterate live (not yet ended) opt-outs, in force or not; fn returns 0 to
 * go on, 1 to stop, or an error.  An entry that does not decode stops the
 * walk with BRK_ERR_INVALID (so does optouts_all): what needed the list
 * is refused, never decided without the opt-out. */
typedef int (*optout_fn)(const struct optout *o, void *arg);
int optouts_live(struct store_txn *t, optout_fn fn, void *arg);
/* Every opt-out, oldest first. */
int optouts_all(struct store_txn *t, optout_fn fn, void *arg);

/* What an opt-out may cover. */
struct cover {
	const struct policy *policy; /* for labels */
	const char *user;
	const char *const *groups;
	size_t ngroups;
	const char *resource;
	const char *rules; /* comma-separated matched rule ids */
	uint64_t serial;   /* the request, 0 before it has one */
};
bool optout_covers(const struct optout *o, const struct cover *cv);

/* Record that opt-out id affected request serial; list those requests. */
int optouts_hit(struct store_txn *t, uint64_t id, uint64_t serial);
int optouts_hits(struct store_txn *t, uint64_t id, json_t *out);

json_t *optout_json(const struct optout *o, int64_t now);

/* --- changes, each with its audit record in the same transaction ---- */

/* Who may change an existing opt-out, decided by the op before the
 * transaction (roles, and for managers whether their scopes cover the
 * target's): global ones and freezes are the admins', others the
 * managers'. */
struct optout_rights {
	bool admin;   /* a policy admin */
	bool manager; /* an optout_manager whose scopes cover the target */
};

/*
 * Store the new opt-out or freeze *o (filled and authorised by the op: its
 * scope, mode, tag, reason, by, at, until) as a, with its audit record
 * ("optout.added", "freeze.on").  revoke_active (freezes only, else
 * BRK_ERR_INVALID and nothing changes): also end every automatic grant in
 * force, each with a "grant.revoked" record; *revoked counts them.  o->id
 * is set.
 */
int optouts_add(struct store_txn *t, const struct actor *a, struct optout *o,
    bool revoke_active, int64_t now, uint64_t *revoked);

/*
 * End opt-out id now as a, with reason, and every renewal of it still in
 * force (o4 extends o3); id 0 ends every freeze in force (unfreeze: admins
 * only).  Each ended one is appended to ended (optout_json) and audited
 * ("optout.removed", "freeze.off").  Refusals change nothing and say why
 * in msg: BRK_ERR_NOTFOUND (no such opt-out), BRK_ERR_DENIED (rights),
 * BRK_ERR_STATE (already ended; no freeze in force).
 */
int optouts_remove(struct store_txn *t, const struct actor *a,
    const struct optout_rights *rights, uint64_t id, const char *reason,
    int64_t now, json_t *ended, char msg[REQ_MSG_LEN]);

/*
 * Move the end of opt-out id, in force, to until (later than its end) as
 * a, with its audit record ("optout.extended", "freeze.extended", with
 * previous_until).  *o is the opt-out as stored after.  Refusals change
 * nothing and say why in msg: BRK_ERR_NOTFOUND, BRK_ERR_STATE (ended),
 * BRK_ERR_DENIED (rights), BRK_ERR_INVALID (not later).
 */
int optouts_extend(struct store_txn *t, const struct actor *a,
    const struct optout_rights *rights, uint64_t id, int64_t until,
    const char *reason, int64_t now, struct optout *o, char msg[REQ_MSG_LEN]);

#endif
