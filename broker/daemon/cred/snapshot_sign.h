/*
 * snapshot_sign.h - sign documents (host snapshots, audit anchors) with the
 * CA's current key.
 *
 * The framing is signdoc.h's; the snapshot's body is described in
 * snapshot.h (client side), which also builds the struct snapshot to sign.
 */
#ifndef BRK_SNAPSHOT_SIGN_H
#define BRK_SNAPSHOT_SIGN_H

#include "ca.h"
#include "snapshot.h"

/*
 * Encode s naming ca's current key id, sign it, and return the three-line
 * text form in *text (a new NUL-terminated string ending in "\n"; free()).
 * s->key_id is ignored.  Errors: BRK_ERR_INVALID (NULL arguments),
 * BRK_ERR_TOOBIG, BRK_ERR_NOMEM, BRK_ERR_CRYPTO.  Thread-safe.
 */
int snapshot_sign(const struct ca *ca, const struct snapshot *s, char **text);

/*
 * Frame magic and the bodylen bytes of body (one line, no newline) as a
 * signed document (signdoc.h) signed by ca's current key; *text is new
 * (free()).  Verify with signdoc_verify() against ca_all_public_lines().
 * Errors: BRK_ERR_INVALID (NULL ca, a newline in magic or body),
 * BRK_ERR_NOMEM, ca_sign()'s codes.  Thread-safe.
 */
int ca_sign_doc(const struct ca *ca, const char *magic, const char *body,
    size_t bodylen, char **text);

#endif
