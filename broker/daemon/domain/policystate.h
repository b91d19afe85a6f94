/*
 * policystate.h - which policy is in force, and its stored versions.
 *
 * Every loaded policy is a numbered version in the store (text, sha256, who,
 * why, from where), written with its audit record.  The newest version is
 * the one in force.  The configured file is loaded at start and on SIGHUP
 * only when its content changed since it was last loaded from the file, so
 * a SIGHUP never undoes a `policy load` done through the CLI.  A file that
 * does not parse never replaces the policy in force.
 */
#ifndef BRK_POLICYSTATE_H
#define BRK_POLICYSTATE_H

#include "daemon.h"

/* At start: install the stored or file policy.  Errors are fatal.  With
 * the PostgreSQL store it also starts following the versions other
 * brokers store (installed here within about 200 ms). */
int policystate_boot(struct brokerd *d, struct brk_error *err);

/* SIGHUP: reload the file if it changed; failures are logged only. */
void policystate_reload(struct brokerd *d);

/* Parse and store text as a new version, then install it (writer thread
 * runs the store part; this waits).  source is "file" or "cli". */
int policystate_load(struct brokerd *d, const char *text, size_t len,
    const char *actor, const char *caller, const char *reason,
    const char *source, uint64_t *version, struct policy_error *perr,
    struct brk_error *err);

/* The stored version record (without its text when !with_text); NULL when
 * it is not stored or does not decode (policy_record_decode). */
json_t *policystate_version(
    struct brokerd *d, struct store_txn *t, uint64_t version, bool with_text);

/* One stored version record strictly (codec.h): a missing or extra key, a
 * wrong type or an unknown source is BRK_ERR_INVALID.  *out: NULL on entry,
 * the object on success. */
int policy_record_decode(const void *data, size_t len, json_t **out);

/* Stop following and release everything at exit. */
void policystate_free(struct brokerd *d);

#endif
