/*
 * session.c - pam_broker.so in the session stack: every session the
 * account check allowed is written down on the host, so that ending the
 * grant can end it ("broker sessions watch", sessions.h).
 *
 * The record is the part that must not fail: without it nothing could end
 * the session later, so a session whose record cannot be written is refused
 * (PAM_SESSION_ERR), fail closed.  Telling the broker (session.open /
 * session.close, audited as session.opened / session.closed) is best
 * effort: the account check already decided, and a broker that cannot be
 * reached never fails a login here.  The agent re-announces the host's
 * sessions every time it asks the broker anyway.
 *
 * The grant id comes from the account check of the same PAM handle
 * (pam_set_data), or, when the application opened the session on another
 * handle, from asking the broker again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include <jansson.h>

#include "client.h"
#include "decide.h"
#include "sessions.h"
#include "session.h"

#define PB_GRANT_DATA "pam_broker_grant"

static void
free_data(pam_handle_t *pamh, void *data, int status)
{
	(void)pamh;
	(void)status;
	free(data);
}

void
pb_session_remember(pam_handle_t *pamh, const char *grant)
{
	char *copy;

	if (grant == NULL || grant[0] == '\0' || (copy = strdup(grant)) == NULL)
		return;
	if (pam_set_data(pamh, PB_GRANT_DATA, copy, free_data) != PAM_SUCCESS)
		free(copy);
}

/* Best effort: one call to the broker, its failure only logged. */
static void
tell_broker(
    pam_handle_t *pamh, const struct pb_opts *o, const char *op, json_t *args)
{
	struct brk_error err = { { 0 } };
	struct client *c = NULL;
	json_t *res = NULL;
	int r;

	if (args == NULL)
		return;
	if ((r = pb_connect(o, &c, &err)) == 0)
		r = client_call(c, op, args, NULL, o->timeout_ms, &res, &err);
	if (r != 0)
		pam_syslog(pamh, LOG_NOTICE,
		    "%s not reported to the broker: %s (the session record "
		    "stands)",
		    op, err.msg[0] ? err.msg : brk_strerror(r));
	json_decref(res);
	client_free(c);
}

static void
item(pam_handle_t *pamh, int type, char *dst, size_t len)
{
	const void *v = NULL;

	dst[0] = '\0';
	if (pam_get_item(pamh, type, &v) == PAM_SUCCESS && v != NULL &&
	    strlen(v) < len)
		memcpy(dst, v, strlen(v) + 1);
}

int
pb_session_open(pam_handle_t *pamh, const struct pb_opts *o, const char *user,
    const char *resource, const char *host)
{
	struct brk_error err = { { 0 } };
	struct pb_answer a = { .source = "broker" };
	struct sess_rec rec;
	const void *data = NULL;
	int retval = PAM_SESSION_ERR;

	memset(&rec, 0, sizeof(rec));
	if (pam_get_data(pamh, PB_GRANT_DATA, &data) == PAM_SUCCESS &&
	    data != NULL)
		snprintf(a.grant, sizeof(a.grant), "%s", (const char *)data);
	else if (pb_ask_broker(o, user, resource, &a, &err) != 0 || !a.allowed)
		a.grant[0] = '\0';
	if (a.grant[0] == '\0') {
		/* exempt, or allowed offline without a grant we can name:
		 * there is no grant whose end could end this session */
		pam_syslog(pamh, LOG_INFO,
		    "user=%s: no grant to record this session under", user);
		return PAM_SUCCESS;
	}
	if (strlen(a.grant) >= sizeof(rec.grant) ||
	    strlen(user) >= sizeof(rec.account))
		goto out;
	memcpy(rec.grant, a.grant, strlen(a.grant) + 1);
	memcpy(rec.account, user, strlen(user) + 1);
	snprintf(rec.resource, sizeof(rec.resource), "%s", resource);
	item(pamh, PAM_RUSER, rec.ruser, sizeof(rec.ruser));
	item(pamh, PAM_TTY, rec.tty, sizeof(rec.tty));
	rec.pid = getpid();
	rec.opened_at = (int64_t)time(NULL);
	rec.grace = o->session_grace;
	rec.keep_offline = o->keep_sessions_offline;
	if (sess_proc_stat(rec.pid, &rec.start, &rec.uid, NULL) != 0 ||
	    sess_record_write(o->session_dir, &rec, &err) != 0) {
		pam_syslog(pamh, LOG_ERR,
		    "user=%s grant=%s: cannot record the session, refusing "
		    "it: %s",
		    user, rec.grant,
		    err.msg[0] ? err.msg :
				 "cannot read "
				 "/proc/self/stat");
		goto out;
	}
	pam_syslog(pamh, LOG_INFO, "user=%s grant=%s session=%s recorded", user,
	    rec.grant, rec.name);
	{
		json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
		    "grant", rec.grant, "account", rec.account, "ruser",
		    rec.ruser, "tty", rec.tty, "pid", (json_int_t)rec.pid,
		    "start", (json_int_t)rec.start, "host", host);

		tell_broker(pamh, o, "session.open", args);
		json_decref(args);
	}
	retval = PAM_SUCCESS;
out:
	return retval;
}

int
pb_session_close(pam_handle_t *pamh, const struct pb_opts *o, const char *host)
{
	const void *data = NULL;
	uint64_t start = 0;
	pid_t pid = getpid();
	json_t *args;

	if (pam_get_data(pamh, PB_GRANT_DATA, &data) != PAM_SUCCESS ||
	    data == NULL)
		data = "";
	if (sess_proc_stat(pid, &start, NULL, NULL) != 0)
		return PAM_SUCCESS;
	if (sess_record_remove(o->session_dir, pid, start) != 0)
		pam_syslog(pamh, LOG_WARNING,
		    "cannot remove the session record %ld-%llu: %s", (long)pid,
		    (unsigned long long)start, strerror(errno));
	args = json_pack("{s:s, s:I, s:I, s:s}", "grant", (const char *)data,
	    "pid", (json_int_t)pid, "start", (json_int_t)start, "host", host);
	tell_broker(pamh, o, "session.close", args);
	json_decref(args);
	return PAM_SUCCESS;
}
