/*
 * snapshot_sign.h - sign host snapshots with the CA's current key.
 *
 * The format is described in snapshot.h (client side), which also builds
 * the struct snapshot to sign.
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

#endif
