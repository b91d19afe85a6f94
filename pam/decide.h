/*
 * decide.h - where pam_broker.so gets a decision from: the broker (over its
 * unix socket or TLS) or, while the broker is away, a signed host snapshot.
 *
 * Both functions either fill a decision (return 0) or say that none could
 * be had (a negative BRK_ERR_* code, err saying why); pam_broker.c then
 * tries the next source and finally applies failmode.  Neither keeps state
 * between calls; both are thread-safe.
 */
#ifndef PB_DECIDE_H
#define PB_DECIDE_H

#include <stdbool.h>
#include <time.h>

#include "errors.h"
#include "options.h"

struct pb_answer {
	bool allowed;
	const char *source; /* "broker", "snapshot", "failmode" (static) */
	char reason[512];   /* for the user and the log; printable */
	char grant[32];	    /* the grant id when the broker named one */
};

/*
 * Ask the broker op "check" {user, resource} within o->timeout_ms (connect,
 * handshake and reply together).  A reply {"allowed": bool, ...} that
 * echoes user and resource is a decision; so is an error reply that refuses
 * the question itself (denied, invalid, not found...), which is a denial
 * with the broker's message.  No decision (non-zero return): unreachable,
 * timeout, busy, a broken or garbage reply (BRK_ERR_PROTOCOL), a TLS
 * failure, or the broker's own internal error.
 */
struct client;
/*
 * Connect to the broker as o says (url= over TLS, else socket= with the
 * server_uid= check) within o->timeout_ms.  Returns 0 and *out
 * (client_free()), or the client library's error with err saying why.
 */
int
pb_connect(const struct pb_opts *o, struct client **out, struct brk_error *err);

int pb_ask_broker(const struct pb_opts *o, const char *user,
    const char *resource, struct pb_answer *a, struct brk_error *err);

/*
 * Decide from the signed snapshot o->snapshot, verified against the keys in
 * o->ca_keys for the host that resource names ("host:NAME" only) and fresh
 * at now.  The ca_keys file must be a regular file, not a symlink, owned by
 * root or the effective uid, and not writable by group or others: it is
 * what every offline decision trusts.  No decision (non-zero return): files
 * missing or unsafe, signature, host or freshness not verifying.
 */
int
pb_ask_snapshot(const struct pb_opts *o, const char *user, const char *resource,
    time_t now, struct pb_answer *a, struct brk_error *err);

#endif
