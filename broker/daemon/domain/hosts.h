/*
 * hosts.h - enrolled hosts and their one-time join tokens, in the store.
 *
 * A policy admin makes a join token for host H ("broker host token
 * create"); the store keeps only its SHA-256, never the token.  The host
 * trades the token, once and before it expires, for a certificate of the
 * host CA naming H ("broker host enroll"); the host record then names the
 * serial of the certificate in force (and the one before it, so a host
 * that lost the reply of a renewal is not locked out).  Every call from an
 * enrolled host is checked against the record (hosts_cert_ok): a removed
 * host, or a certificate that is not the record's, is refused even before
 * the certificate expires.
 *
 * Every change and every refusal is written with its audit record in the
 * same write transaction.  Threads: the writer for changes, any thread
 * for reads.
 */
#ifndef BRK_HOSTS_H
#define BRK_HOSTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "requests.h"
#include "store.h"

#define HOST_NAME_MAX_LEN 253
#define HOST_SERIAL_LEN 48
#define HOST_TOKEN_HASH_LEN 64 /* hex digits of a SHA-256 */

struct host_rec {
	char host[256];
	char serial[HOST_SERIAL_LEN];	   /* the certificate in force */
	char prev_serial[HOST_SERIAL_LEN]; /* the one it renewed; "" */
	char enrolled_by[REC_NAME];	   /* who made the join token */
	int64_t enrolled_at, cert_expires_at;
	int64_t last_sync_at; /* 0: never synced */
	char source[64];      /* the address of the last enroll or sync */
	int64_t removed_at;   /* 0: enrolled */
	char removed_by[REC_NAME];
	char removed_reason[1025];
};

struct host_token {
	char host[256];
	char by[REC_NAME];
	int64_t at, until;
	int64_t used_at; /* 0: not used */
	char used_from[64];
};

/* Whether h is a host name as resources name hosts (host:H): letters,
 * digits, '.', '-' and '_', not starting with '-' or '.', at most 253. */
bool hosts_name_valid(const char *h);

/* The hex SHA-256 of token into hash (HOST_TOKEN_HASH_LEN + 1 bytes). */
int hosts_token_hash(const char *token, char *hash);

/* Host h's record; BRK_ERR_NOTFOUND, BRK_ERR_INVALID when it does not
 * decode. */
int hosts_get(struct store_txn *t, const char *h, struct host_rec *out);

/* The token whose hash is hash; BRK_ERR_NOTFOUND, BRK_ERR_INVALID. */
int
hosts_token_get(struct store_txn *t, const char *hash, struct host_token *out);

/* Store a new join token (hash -> tk) and audit host.token_created, as a.
 * The token itself is never passed here. */
int hosts_token_create(struct store_txn *t, const struct actor *a,
    const char *hash, const struct host_token *tk, int64_t now);

/*
 * Trade the token hash for an enrollment, from address addr: when the
 * token exists, has not been used and has not expired, mark it used,
 * write the host record (serial, cert_expires_at; a removed or earlier
 * enrollment of the host is replaced) and audit host.enrolled; *out is the
 * record.  Otherwise audit host.enroll_failed, put the reason in msg and
 * set *refused (still returning 0: the refusal's audit record must
 * commit).  Returns store errors only.
 */
int hosts_enroll(struct store_txn *t, const char *hash, const char *addr,
    const char *serial, int64_t cert_expires_at, int64_t now,
    struct host_rec *out, bool *refused, char msg[REQ_MSG_LEN]);

/*
 * Join tokens used, or expired unused, more than keep seconds before now
 * (hosts.token_retention): cb(hash, arg) for each, in key order, until cb
 * returns nonzero.  Records that do not decode are passed over.
 */
int hosts_tokens_stale(struct store_txn *t, int64_t now, int64_t keep,
    int (*cb)(const char *hash, void *arg), void *arg);

/* Delete token hash if it is still stale as above (judged again in t) and
 * audit host.token_purged (the host, a short id of the hash, when it was
 * used or expired); 0 and nothing written when it is gone or not stale.
 * A later try of the token is refused as unknown. */
int hosts_token_purge(
    struct store_txn *t, const char *hash, int64_t now, int64_t keep);

/*
 * Whether a call from host h holding the certificate with serial may
 * proceed: h is enrolled, not removed, and serial is its certificate in
 * force (or the one before it).  0, or BRK_ERR_DENIED with why saying
 * which (in words a host admin can act on), or a read error.
 */
int hosts_cert_ok(struct store_txn *t, const char *h, const char *serial,
    char *why, size_t whylen);

/* The same, with the host's record left in *rec when it returns 0 (what
 * *rec holds otherwise is not to be used): a caller that needs the
 * record too reads and decodes it once. */
int hosts_cert_check(struct store_txn *t, const char *h, const char *serial,
    struct host_rec *rec, char *why, size_t whylen);

/*
 * A sync of host h with the certificate serial from addr: checked again
 * as hosts_cert_ok (a removal may have committed since), then last sync
 * and source recorded; with new_serial (not NULL) the host's certificate
 * is renewed (the old serial kept as prev_serial) and host.cert_renewed
 * audited.  A refusal is audited (host.refused) and reported through
 * *refused and msg, returning 0 so that the record commits.
 */
int hosts_sync(struct store_txn *t, const char *h, const char *serial,
    const char *addr, const char *new_serial, int64_t new_expires, int64_t now,
    struct host_rec *out, bool *refused, char msg[REQ_MSG_LEN]);

/* End host h's enrollment as a (host.removed): its certificates are
 * refused from then on.  BRK_ERR_NOTFOUND (not enrolled) or
 * BRK_ERR_STATE (already removed) with msg. */
int hosts_remove(struct store_txn *t, const struct actor *a, const char *h,
    const char *reason, int64_t now, char msg[REQ_MSG_LEN]);

/* Audit a refused call from a host or about hosts (host.refused):
 * subject names who (a host, or a user holding a login certificate),
 * addr where from, op what was asked, why the refusal. */
int hosts_audit_refused(struct store_txn *t, const char *subject,
    const char *addr, const char *op, const char *why, int64_t now);

/* Every host record (removed ones only when all), as JSON into out. */
int hosts_list(struct store_txn *t, bool all, int64_t now, json_t *out);

json_t *host_json(const struct host_rec *h, int64_t now);

#endif
