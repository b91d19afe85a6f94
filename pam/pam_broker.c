/*
 * pam_broker.c - host logins honour the broker's state.
 *
 * In the account stack (the enforcement point) a login is allowed only
 * while the broker says the user holds an active grant for this host's
 * resource and nothing blocks it.  In the auth stack the same question is
 * asked early so a refused user hears why before typing a password:
 * pam_sm_authenticate returns PAM_IGNORE when allowed (it never
 * authenticates anyone) and PAM_AUTH_ERR when denied; pam_sm_setcred has
 * nothing to set and returns PAM_IGNORE.
 *
 * In the session stack (session.c) each session the account check allowed
 * is recorded on the host under its grant, so that ending the grant can
 * end the session; closing it removes the record.
 *
 * Order of sources: the broker (unix socket, or url=tls://), then the
 * signed snapshot when configured, then failmode (secure: deny).  Every
 * path starts from the refusal and reaches success only on its last line.
 * The module keeps no state in memory: options live in argv, everything
 * else on the stack or freed before return, so calls may run in parallel.
 * The one thing kept between calls is on disk and under a lock: the
 * issued_at of the newest snapshot accepted (decide.c), so that an older
 * one cannot be replayed.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "decide.h"
#include "options.h"
#include "session.h"
#include "userdb.h"

static void
log_unknown(void *ctx, const char *arg)
{
	pam_syslog((pam_handle_t *)ctx, LOG_WARNING,
	    "unknown option \"%.200s\" ignored", arg);
}

/* A copy of s safe to show and log: printable ASCII, '"' replaced. */
static void
printable(char *dst, size_t dstlen, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < dstlen; i++)
		dst[i] = (s[i] >= ' ' && s[i] <= '~' && s[i] != '"') ? s[i] :
								       '?';
	dst[i] = '\0';
}

/* Whether user is a member (primary or supplementary) of group.  Any
 * lookup that fails (userdb.c retries ERANGE) means "not exempt". */
static bool
is_exempt(pam_handle_t *pamh, const struct pb_opts *o, const char *user)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	gid_t *gids = NULL;
	size_t n = 0, i;
	bool member = false;

	if (o->exempt_group == NULL)
		return false;
	if (userdb_grnam(o->exempt_group, &gr, NULL) != 0) {
		pam_syslog(pamh, LOG_WARNING, "exempt_group %s does not exist",
		    o->exempt_group);
		goto out;
	}
	if (userdb_pwnam(user, &pw, NULL) != 0 ||
	    userdb_grouplist(
		user, pw->pw_gid, USERDB_GROUPS_MAX, &gids, &n, NULL) != 0)
		goto out;
	for (i = 0; i < n && !member; i++)
		member = gids[i] == gr->gr_gid;
out:
	free(gids);
	free(pw);
	free(gr);
	return member;
}

/* Tell the user why and what to run, unless the application asked for
 * silence.  A failing conversation changes nothing: we deny anyway. */
static void
tell_denied(pam_handle_t *pamh, int flags, const char *resource,
    const struct pb_answer *a, bool decided)
{
	if (flags & PAM_SILENT)
		return;
	if (!decided) {
		pam_error(
		    pamh, "Access to %s denied: %s.", resource, a->reason);
		pam_info(pamh, "Try again later, or ask an administrator.");
		return;
	}
	pam_error(pamh, "Access to %s denied: %s.", resource, a->reason);
	pam_info(pamh,
	    "To ask for access, run: broker request %s --reason "
	    "\"<why you need it>\"",
	    resource);
}

static int
pb_check(pam_handle_t *pamh, int flags, int argc, const char **argv, bool auth)
{
	const int deny = auth ? PAM_AUTH_ERR : PAM_PERM_DENIED;
	int retval = deny, pr, r;
	struct brk_error err = { { 0 } }, serr = { { 0 } };
	struct pb_answer a = { .source = "failmode" };
	char host[256], resource[PB_RESOURCE_MAX], shown_user[128];
	const char *user = NULL;
	bool decided = true;
	struct pb_opts o;

	if (pb_opts_parse(argc, argv, &o, log_unknown, pamh, &err) != 0) {
		pam_syslog(
		    pamh, LOG_ERR, "configuration error, denying: %s", err.msg);
		goto out;
	}
	if ((pr = pam_get_user(pamh, &user, NULL)) != PAM_SUCCESS ||
	    user == NULL || user[0] == '\0') {
		pam_syslog(pamh, LOG_ERR, "cannot get the user name");
		retval = pr == PAM_CONV_AGAIN ? PAM_INCOMPLETE :
						PAM_USER_UNKNOWN;
		goto out;
	}
	printable(shown_user, sizeof(shown_user), user);
	if (is_exempt(pamh, &o, user)) {
		pam_syslog(pamh, LOG_INFO,
		    "user=%s decision=allow "
		    "source=exempt_group group=%s",
		    shown_user, o.exempt_group);
		retval = auth ? PAM_IGNORE : PAM_SUCCESS;
		goto out;
	}
	if (pb_short_hostname(host, sizeof(host)) != 0 ||
	    pb_expand_resource(
		o.resource, user, host, resource, sizeof(resource)) != 0) {
		pam_syslog(pamh, LOG_ERR,
		    "user=%s decision=deny reason=\"cannot "
		    "build the resource name from %s\"",
		    shown_user, o.resource);
		goto out;
	}
	if ((r = pb_ask_broker(&o, user, resource, &a, &err)) != 0) {
		pam_syslog(pamh, LOG_WARNING, "no decision from the broker: %s",
		    err.msg[0] ? err.msg : brk_strerror(r));
		if (o.snapshot != NULL &&
		    (r = pb_ask_snapshot(
			 &o, user, resource, time(NULL), &a, &serr)) != 0)
			pam_syslog(pamh, LOG_WARNING,
			    "snapshot %s not used: %s", o.snapshot,
			    serr.msg[0] ? serr.msg : brk_strerror(r));
	}
	if (r != 0) {
		decided = false;
		a.source = "failmode";
		a.allowed = o.failmode == PB_FAIL_OPEN;
		snprintf(a.reason, sizeof(a.reason),
		    "the access broker cannot "
		    "be reached (failmode=%s)",
		    a.allowed ? "open" : "secure");
	}
	pam_syslog(pamh, a.allowed ? LOG_INFO : LOG_NOTICE,
	    "user=%s "
	    "resource=%s decision=%s source=%s reason=\"%s\"",
	    shown_user, resource, a.allowed ? "allow" : "deny", a.source,
	    a.reason);
	if (!a.allowed) {
		tell_denied(pamh, flags, resource, &a, decided);
		goto out;
	}
	pb_session_remember(pamh, a.grant);
	if (o.debug && a.grant[0] != '\0')
		pam_syslog(
		    pamh, LOG_DEBUG, "user=%s grant=%s", shown_user, a.grant);
	retval = auth ? PAM_IGNORE : PAM_SUCCESS;
out:
	return retval;
}

PAM_EXTERN int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return pb_check(pamh, flags, argc, argv, false);
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return pb_check(pamh, flags, argc, argv, true);
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}

/* The options, user, resource and host name a session call needs; a PAM
 * code, PAM_SUCCESS when all are known. */
static int
session_args(pam_handle_t *pamh, int argc, const char **argv, struct pb_opts *o,
    const char **user, char *host, size_t hostlen, char *resource)
{
	struct brk_error err = { { 0 } };

	if (pb_opts_parse(argc, argv, o, log_unknown, pamh, &err) != 0) {
		pam_syslog(pamh, LOG_ERR, "configuration error: %s", err.msg);
		return PAM_SESSION_ERR;
	}
	if (pam_get_user(pamh, user, NULL) != PAM_SUCCESS || *user == NULL ||
	    (*user)[0] == '\0') {
		pam_syslog(pamh, LOG_ERR, "cannot get the user name");
		return PAM_SESSION_ERR;
	}
	if (pb_short_hostname(host, hostlen) != 0 ||
	    pb_expand_resource(
		o->resource, *user, host, resource, PB_RESOURCE_MAX) != 0) {
		pam_syslog(pamh, LOG_ERR, "cannot build the resource name");
		return PAM_SESSION_ERR;
	}
	return PAM_SUCCESS;
}

PAM_EXTERN int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	char host[256], resource[PB_RESOURCE_MAX];
	const char *user = NULL;
	struct pb_opts o;
	int r;

	(void)flags;
	if ((r = session_args(pamh, argc, argv, &o, &user, host, sizeof(host),
		 resource)) != PAM_SUCCESS)
		return r;
	if (is_exempt(pamh, &o, user))
		return PAM_SUCCESS;
	return pb_session_open(pamh, &o, user, resource, host);
}

PAM_EXTERN int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	char host[256], resource[PB_RESOURCE_MAX];
	const char *user = NULL;
	struct pb_opts o;
	int r;

	(void)flags;
	if ((r = session_args(pamh, argc, argv, &o, &user, host, sizeof(host),
		 resource)) != PAM_SUCCESS)
		return PAM_SUCCESS; /* nothing we could have opened */
	return pb_session_close(pamh, &o, host);
}
