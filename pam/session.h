/*
 * session.h - the session stack of pam_broker.so (session.c).
 */
#ifndef PB_SESSION_H
#define PB_SESSION_H

#include <security/pam_modules.h>

#include "options.h"

/* Keep the grant id the account check found, for the session stack of
 * the same handle.  Failing to keep it only means asking again. */
void pb_session_remember(pam_handle_t *pamh, const char *grant);

/* Record the session (a PAM code: PAM_SESSION_ERR when no record could
 * be written) and tell the broker when it can be reached. */
int pb_session_open(pam_handle_t *pamh, const struct pb_opts *o,
    const char *user, const char *resource, const char *host);

/* Remove this process's record and tell the broker; always PAM_SUCCESS. */
int
pb_session_close(pam_handle_t *pamh, const struct pb_opts *o, const char *host);

#endif
