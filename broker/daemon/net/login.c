/*
 * login.c - "broker login" on the broker's side (see login.h).
 *
 * A session is shared by two owners: the TLS connection (until
 * login_drop()) and the conversation thread (until it has handed its last
 * reply on).  The one idea: while the thread runs, s->step holds the one
 * call that is waiting for a reply; the thread answers it with a prompt
 * and then waits for login_answer() to hand it the next call, so every
 * request line gets exactly one reply and the connection reads nothing
 * while a call is in flight.
 *
 * Back-off: failed logins are counted per user name (whether or not it
 * exists, so the back-off says nothing about existence) and per source
 * address; past a few failures each new failure doubles the wait, up to
 * LOGIN_BACKOFF_MAX.  A success clears the user's count.
 */
#include "login.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_appl.h>

#include "audit.h"
#include "call.h"
#include "daemon.h"
#include "deadline.h"
#include "duration.h"
#include "fileio.h"
#include "log.h"
#include "names.h"
#include "timefmt.h"
#include "userca.h"
#include "writer.h"

#define LOGIN_TTL_DEFAULT (12 * 3600)
#define LOGIN_TTL_MAX (24 * 3600)
#define LOGIN_CSR_MAX 8192
#define LOGIN_ANSWER_MAX 1024
#define LOGIN_FREE_USER 3     /* failures before a user's back-off */
#define LOGIN_FREE_SOURCE 10  /* failures before a source's back-off */
#define LOGIN_BACKOFF_MAX 900 /* seconds */
#define LOGIN_FORGET_MS (3600 * 1000LL)
#define LOGIN_SLOTS 1024

struct fail_slot {
	char key[80]; /* "u:NAME" or "s:ADDR"; "" when free */
	int fails;
	long long until_ms; /* back-off ends */
	long long last_ms;
};

struct login_ctx {
	struct brokerd *d;
	struct userca *uca;
	pthread_mutex_t lock;
	pthread_cond_t gone;
	int sessions; /* conversation threads alive */
	struct fail_slot slots[LOGIN_SLOTS];
};

struct login_session {
	struct login_ctx *l;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int refs;	   /* the connection and the thread */
	bool aborted;	   /* the connection went away */
	bool done;	   /* the thread has sent its last reply */
	struct call *step; /* the call waiting for our reply */
	char *answer;	   /* handed in with step */
	json_t *info;	   /* PAM's messages for the next reply */
	char user[65];
	char addr[64];
	char *csr; /* NULL for a web sign-in: nothing is issued */
};

/* ---- configuration ---------------------------------------------------- */

int
login_config_parse(
    json_t *section, struct login_config **out, struct brk_error *err)
{
	struct login_config *c = NULL;
	const char *key;
	json_t *v;
	int64_t ttl;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if (!json_is_object(section))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: \"login\" "
		    "must be an object");
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->pam_service = strdup("broker")) == NULL)
		goto out;
	c->cert_ttl = LOGIN_TTL_DEFAULT;
	c->max_sessions = 32;
	c->answer_timeout = 60;
	json_object_foreach (section, key, v) {
		if (strcmp(key, "pam_service") == 0)
			r = config_get_str(
			    "login", v, key, &c->pam_service, err);
		else if (strcmp(key, "cert_ttl") == 0 && json_is_string(v)) {
			r = 0;
			if (duration_parse(json_string_value(v), &ttl) != 0 ||
			    ttl < 60 || ttl > LOGIN_TTL_MAX)
				r = brk_error_set(err, BRK_ERR_INVALID,
				    "config: login.cert_ttl must be a duration "
				    "from 1m to 24h");
			else
				c->cert_ttl = ttl;
		} else if (strcmp(key, "cert_ttl") == 0)
			r = config_get_int64("login", v, key, 60, LOGIN_TTL_MAX,
			    &c->cert_ttl, err);
		else if (strcmp(key, "max_sessions") == 0)
			r = config_get_int(
			    "login", v, key, 1, 1000, &c->max_sessions, err);
		else if (strcmp(key, "answer_timeout") == 0)
			r = config_get_int(
			    "login", v, key, 1, 600, &c->answer_timeout, err);
		else
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "config: "
			    "unknown key login.%s",
			    key);
		if (r != 0)
			goto out;
	}
	if (strchr(c->pam_service, '/') != NULL) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "config: "
		    "login.pam_service is a name, not a path");
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	login_config_free(c);
	return r;
}

void
login_config_free(struct login_config *c)
{
	if (c == NULL)
		return;
	free(c->pam_service);
	free(c);
}

static const struct login_config *
cfg_of(const struct login_ctx *l, struct login_config *defaults)
{
	if (l->d->cfg->login != NULL)
		return l->d->cfg->login;
	defaults->pam_service = "broker";
	defaults->cert_ttl = LOGIN_TTL_DEFAULT;
	defaults->max_sessions = 32;
	defaults->answer_timeout = 60;
	return defaults;
}

/* ---- context and back-off --------------------------------------------- */

int
login_ctx_new(struct brokerd *d, struct login_ctx **out, struct brk_error *err)
{
	struct login_ctx *l = NULL;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return brk_error_set(err, r, "out of memory");
	l->d = d;
	if ((r = userca_open(d->cfg->state_dir, &l->uca, err)) != 0) {
		free(l);
		return r;
	}
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->gone, NULL);
	*out = l;
	return 0;
}

void
login_ctx_free(struct login_ctx *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	while (l->sessions > 0)
		pthread_cond_wait(&l->gone, &l->lock);
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->gone);
	userca_free(l->uca);
	explicit_bzero(l->slots, sizeof(l->slots));
	free(l);
}

struct userca *
login_userca(struct login_ctx *l)
{
	return l->uca;
}

/* The slot of key (made when make), under l->lock; NULL when absent. */
static struct fail_slot *
slot_find(struct login_ctx *l, const char *key, bool make, long long now)
{
	struct fail_slot *s, *victim = NULL;
	size_t i;

	for (i = 0; i < LOGIN_SLOTS; i++) {
		s = &l->slots[i];
		if (s->key[0] != '\0' && now - s->last_ms > LOGIN_FORGET_MS &&
		    now >= s->until_ms)
			s->key[0] = '\0'; /* forgotten */
		if (strcmp(s->key, key) == 0 && s->key[0] != '\0')
			return s;
		if (s->key[0] == '\0' ? victim == NULL || victim->key[0] :
					victim == NULL ||
			    (victim->key[0] != '\0' &&
				s->last_ms < victim->last_ms))
			victim = s;
	}
	if (!make)
		return NULL;
	/* full: the slot failed least recently goes (a flood of new names
	 * cannot clear an active back-off faster than it waits) */
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	return victim;
}

/* Seconds of back-off left for user or addr (0: none). */
static long long
backoff_left(struct login_ctx *l, const char *user, const char *addr)
{
	long long now = deadline_now_ms(), left = 0;
	struct fail_slot *s;
	char key[80];
	int i;

	pthread_mutex_lock(&l->lock);
	for (i = 0; i < 2; i++) {
		snprintf(key, sizeof(key), i == 0 ? "u:%s" : "s:%s",
		    i == 0 ? user : addr);
		if ((s = slot_find(l, key, false, now)) != NULL &&
		    s->until_ms - now > left)
			left = s->until_ms - now;
	}
	pthread_mutex_unlock(&l->lock);
	return (left + 999) / 1000;
}

static void
backoff_note(struct login_ctx *l, const char *user, const char *addr, bool ok)
{
	long long now = deadline_now_ms(), wait;
	struct fail_slot *s;
	char key[80];
	int i, free_n;

	pthread_mutex_lock(&l->lock);
	for (i = user == NULL ? 1 : 0; i < 2; i++) {
		snprintf(key, sizeof(key), i == 0 ? "u:%s" : "s:%s",
		    i == 0 ? user : addr);
		if (ok) {
			if (i == 0 &&
			    (s = slot_find(l, key, false, now)) != NULL)
				memset(s, 0, sizeof(*s));
			continue;
		}
		s = slot_find(l, key, true, now);
		s->fails++;
		s->last_ms = now;
		free_n = i == 0 ? LOGIN_FREE_USER : LOGIN_FREE_SOURCE;
		if (s->fails >= free_n) {
			wait = s->fails - free_n >= 10 ?
			    LOGIN_BACKOFF_MAX :
			    1LL << (s->fails - free_n);
			if (wait > LOGIN_BACKOFF_MAX)
				wait = LOGIN_BACKOFF_MAX;
			s->until_ms = now + wait * 1000;
		}
	}
	pthread_mutex_unlock(&l->lock);
}

/* ---- audit, then the reply -------------------------------------------- */

struct login_audit {
	struct call *c; /* replied to when the record is durable */
	bool ok;
	bool refused; /* a certificate, not a password */
	bool web;     /* a web sign-in: no certificate */
	int64_t now;
	char user[65], addr[64], why[160];
	char *cert, *serial, *ca;
	int64_t expires;
};

static void
login_audit_free(struct login_audit *a)
{
	if (a == NULL)
		return;
	free(a->cert);
	free(a->serial);
	free(a->ca);
	free(a);
}

static int
apply_audit(struct store_txn *t, void *arg)
{
	struct login_audit *a = arg;
	struct audit_event ev = { 0 };
	json_t *det;
	int r;

	/* registered with its record: a certificate the register does not
	 * know is refused (userca.h), so none can be revoked too late; a
	 * web sign-in issues none */
	if (a->ok && a->serial != NULL &&
	    (r = userca_note_issued(
		 t, a->serial, a->user, a->now, a->expires)) != 0)
		return r;
	if ((det = json_pack("{s:s}", "source", a->addr)) == NULL)
		return BRK_ERR_NOMEM;
	if ((a->ok &&
		json_object_set_new(det, "expires_at",
		    json_integer((json_int_t)a->expires)) != 0) ||
	    (a->web &&
		json_object_set_new(det, "via", json_string("web")) != 0)) {
		json_decref(det);
		return BRK_ERR_NOMEM;
	}
	ev.action = a->ok ? "login.ok" :
	    a->refused	  ? "login.refused" :
			    "login.failed";
	ev.actor = a->ok ? a->user : "brokerd";
	ev.caller = a->ok ? a->user : NULL;
	ev.target = a->ok ? a->serial : NULL;
	ev.user = a->user;
	ev.reason = a->why[0] != '\0' ? a->why : NULL;
	ev.details = det;
	r = audit_append(t, a->now, &ev, NULL);
	json_decref(det);
	return r;
}

static void
done_audit(void *arg, int rc)
{
	struct login_audit *a = arg;
	char when[TIMEFMT_LEN];

	if (rc != 0)
		call_fail(a->c, rc,
		    "login: the audit record could not be "
		    "written (%s); nothing was issued",
		    brk_strerror(rc));
	else if (!a->ok)
		call_fail(a->c, BRK_ERR_DENIED, "%s",
		    a->why[0] != '\0' && strncmp(a->why, "too many", 8) == 0 ?
			a->why :
			"login failed");
	else if (a->web) {
		time_rfc3339(a->expires, when);
		call_reply(a->c,
		    json_pack("{s:s, s:s, s:I}", "user", a->user, "expires",
			when, "expires_at", (json_int_t)a->expires));
	} else {
		time_rfc3339(a->expires, when);
		call_reply(a->c,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "user", a->user,
			"cert", a->cert, "ca", a->ca, "serial", a->serial,
			"expires", when, "expires_at", (json_int_t)a->expires));
	}
	log_info("event=%s user=%s addr=%s%s%s",
	    a->ok ? "login_ok" : "login_failed", a->user, a->addr,
	    a->why[0] ? " why=" : "", a->why[0] ? a->why : "");
	login_audit_free(a);
}

/* The audit of a login whose connection went away: nobody to answer. */
static void
done_orphan(void *arg, int rc)
{
	struct login_audit *a = arg;

	log_info("event=%s user=%s addr=%s why=\"%s\" audit=%s",
	    a->ok	   ? "login_ok_gone" :
		a->refused ? "login_refused" :
			     "login_failed",
	    a->user, a->addr, a->why, rc == 0 ? "ok" : brk_strerror(rc));
	login_audit_free(a);
}

/* Record the outcome, then answer c (consumed: answered in every case). */
static void
finish(struct login_ctx *l, struct call *c, struct login_audit *a)
{
	int r;

	a->c = c;
	a->now = time_now();
	if ((r = writer_submit(l->d->writer, apply_audit, done_audit, a)) !=
	    0) {
		call_fail(c, r, "login: %s", brk_strerror(r));
		login_audit_free(a);
	}
}

static struct login_audit *
audit_new(const char *user, const char *addr, bool ok, const char *why)
{
	struct login_audit *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->ok = ok;
	snprintf(a->user, sizeof(a->user), "%s", user);
	snprintf(a->addr, sizeof(a->addr), "%s", addr);
	snprintf(a->why, sizeof(a->why), "%s", why);
	return a;
}

void
login_refused(
    struct login_ctx *l, const char *addr, const char *subject, const char *why)
{
	struct login_audit *a;
	char text[160];

	if (backoff_left(l, "", addr) > 0)
		return;
	backoff_note(l, NULL, addr, false);
	snprintf(text, sizeof(text), "%.150s", why);
	if ((a = audit_new(subject, addr, false, text)) == NULL)
		return;
	a->refused = true;
	a->now = time_now();
	if (writer_submit(l->d->writer, apply_audit, done_orphan, a) != 0)
		login_audit_free(a);
}

/* ---- the session ------------------------------------------------------ */

static void
session_unref(struct login_session *s)
{
	struct login_ctx *l = s->l;
	bool last;

	pthread_mutex_lock(&s->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (!last)
		return;
	if (s->answer != NULL)
		secret_free(s->answer);
	json_decref(s->info);
	free(s->csr);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cv);
	free(s);
	(void)l;
}

/* Ask the person one question; the answer (malloc'd) or NULL. */
static char *
ask(struct login_session *s, const char *prompt, bool echo, int timeout)
{
	struct timespec until;
	json_t *res;
	char *ans = NULL;

	/* "o" takes the info array over, even when the pack fails */
	res = json_pack("{s:s, s:b, s:o}", "prompt", prompt, "echo", echo,
	    "info", s->info != NULL ? s->info : json_array());
	s->info = NULL;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout;
	pthread_mutex_lock(&s->lock);
	if (s->aborted || s->step == NULL) {
		pthread_mutex_unlock(&s->lock);
		json_decref(res);
		return NULL;
	}
	call_reply(s->step, res);
	s->step = NULL;
	while (!s->aborted && s->step == NULL)
		if (pthread_cond_timedwait(&s->cv, &s->lock, &until) ==
		    ETIMEDOUT)
			break;
	if (s->step != NULL) {
		ans = s->answer;
		s->answer = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	return ans;
}

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	struct login_session *s = arg;
	struct login_config dflt;
	const struct login_config *cfg = cfg_of(s->l, &dflt);
	struct pam_response *rs;
	int i;

	*resp = NULL;
	if (n <= 0 || n > PAM_MAX_NUM_MSG ||
	    (rs = calloc((size_t)n, sizeof(*rs))) == NULL)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			rs[i].resp = ask(s,
			    msg[i]->msg != NULL ? msg[i]->msg : "",
			    msg[i]->msg_style == PAM_PROMPT_ECHO_ON,
			    cfg->answer_timeout);
			if (rs[i].resp == NULL)
				goto fail;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			if (s->info == NULL)
				s->info = json_array();
			json_array_append_new(s->info,
			    json_string(
				msg[i]->msg != NULL ? msg[i]->msg : ""));
			break;
		default:
			goto fail;
		}
	}
	*resp = rs;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++)
		if (rs[i].resp != NULL)
			secret_free(rs[i].resp);
	free(rs);
	return PAM_CONV_ERR;
}

static void *
session_main(void *arg)
{
	struct login_session *s = arg;
	struct login_ctx *l = s->l;
	struct brk_error err = { { 0 } };
	struct login_config dflt;
	const struct login_config *cfg = cfg_of(l, &dflt);
	struct pam_conv pc = { conv, s };
	pam_handle_t *ph = NULL;
	struct login_audit *a = NULL;
	struct call *c;
	char why[160] = "";
	int pr, r;

	pr = pam_start(cfg->pam_service, s->user, &pc, &ph);
	if (pr == PAM_SUCCESS)
		pr = pam_authenticate(ph, PAM_DISALLOW_NULL_AUTHTOK);
	if (pr == PAM_SUCCESS)
		pr = pam_acct_mgmt(ph, PAM_DISALLOW_NULL_AUTHTOK);
	if (pr != PAM_SUCCESS) /* for the audit record only */
		snprintf(why, sizeof(why), "pam: %s",
		    ph != NULL ? pam_strerror(ph, pr) : "cannot start");
	if (ph != NULL)
		pam_end(ph, pr);
	pthread_mutex_lock(&s->lock);
	c = s->step;
	s->step = NULL;
	s->done = true;
	pthread_mutex_unlock(&s->lock);
	backoff_note(l, s->user, s->addr, pr == PAM_SUCCESS);
	if ((a = audit_new(s->user, s->addr, pr == PAM_SUCCESS, why)) == NULL) {
		if (c != NULL)
			call_fail(c, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	a->web = s->csr == NULL;
	if (pr == PAM_SUCCESS && a->web) {
		a->now = time_now();
		a->expires = a->now + cfg->cert_ttl;
	} else if (pr == PAM_SUCCESS) {
		a->now = time_now();
		a->expires = a->now + cfg->cert_ttl;
		if ((r = userca_issue(l->uca, s->csr, s->user, a->now,
			 cfg->cert_ttl, &a->cert, &a->serial, &err)) != 0 ||
		    (r = userca_cert_pem(l->uca, &a->ca)) != 0) {
			a->ok = false;
			snprintf(a->why, sizeof(a->why), "%.150s",
			    err.msg[0] ? err.msg : brk_strerror(r));
		}
	}
	if (c == NULL) { /* the connection went away: still audited */
		if (writer_submit(l->d->writer, apply_audit, done_orphan, a) !=
		    0)
			login_audit_free(a);
		goto out;
	}
	finish(l, c, a);
out:
	session_unref(s);
	pthread_mutex_lock(&l->lock);
	if (--l->sessions == 0)
		pthread_cond_broadcast(&l->gone);
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

static void
begin(struct login_ctx *l, struct call *c, const char *addr, bool web,
    struct login_session **out)
{
	static const char *const keys[] = { "user", "csr", NULL };
	struct brk_error err = { { 0 } };
	struct login_config dflt;
	const struct login_config *cfg = cfg_of(l, &dflt);
	struct login_session *s = NULL;
	struct login_audit *a;
	const char *user = NULL, *csr = NULL;
	pthread_attr_t at;
	pthread_t th;
	long long left;
	char why[160];
	int r;

	*out = NULL;
	if ((r = proto_args_only(c->req->args, keys, &err)) != 0 ||
	    (r = proto_arg_str(c->req->args, "user", true, 64, &user, &err)) !=
		0 ||
	    (r = proto_arg_str(c->req->args, "csr", !web, LOGIN_CSR_MAX, &csr,
		 &err)) != (web ? BRK_ERR_NOTFOUND : 0)) {
		if (r == 0) /* web: a certificate is never issued */
			r = brk_error_set(&err, BRK_ERR_INVALID,
			    "a web sign-in takes no csr");
		call_fail(c, r, "%s", err.msg);
		return;
	}
	if (!name_user_valid(user)) {
		call_fail(c, BRK_ERR_INVALID,
		    "\"%.64s\" is not a valid user "
		    "name",
		    user);
		return;
	}
	if ((left = backoff_left(l, user, addr)) > 0) {
		snprintf(why, sizeof(why),
		    "too many failed logins; try again "
		    "in %llds",
		    left);
		if ((a = audit_new(user, addr, false, why)) == NULL)
			call_fail(c, BRK_ERR_NOMEM, "out of memory");
		else
			finish(l, c, a);
		return;
	}
	pthread_mutex_lock(&l->lock);
	if (l->sessions >= cfg->max_sessions) {
		pthread_mutex_unlock(&l->lock);
		call_fail(c, BRK_ERR_BUSY,
		    "too many logins in progress; try "
		    "again shortly");
		return;
	}
	l->sessions++;
	pthread_mutex_unlock(&l->lock);
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (!web && (s->csr = strdup(csr)) == NULL))
		goto fail;
	s->l = l;
	s->refs = 2;
	s->step = c;
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&th, &at, session_main, s);
	pthread_attr_destroy(&at);
	if (r != 0) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cv);
		goto fail;
	}
	*out = s;
	return;
fail:
	if (s != NULL)
		free(s->csr);
	free(s);
	pthread_mutex_lock(&l->lock);
	if (--l->sessions == 0)
		pthread_cond_broadcast(&l->gone);
	pthread_mutex_unlock(&l->lock);
	call_fail(c, BRK_ERR_NOMEM, "cannot start the login");
}

void
login_begin(struct login_ctx *l, struct call *c, const char *addr,
    struct login_session **out)
{
	begin(l, c, addr, false, out);
}

void
login_begin_web(struct login_ctx *l, struct call *c, const char *addr,
    struct login_session **out)
{
	begin(l, c, addr, true, out);
}

void
login_answer(struct login_session *s, struct call *c)
{
	struct brk_error err = { { 0 } };
	const char *ans = NULL;
	static const char *const keys[] = { "answer", NULL };
	char *copy;
	int r;

	if ((r = proto_args_only(c->req->args, keys, &err)) != 0 ||
	    (r = proto_arg_str(c->req->args, "answer", true, LOGIN_ANSWER_MAX,
		 &ans, &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		return;
	}
	if ((copy = strdup(ans)) == NULL) {
		call_fail(c, BRK_ERR_NOMEM, "out of memory");
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (s->done || s->step != NULL) {
		pthread_mutex_unlock(&s->lock);
		secret_free(copy);
		call_fail(c, BRK_ERR_STATE,
		    "no login question is waiting for "
		    "an answer");
		return;
	}
	s->answer = copy;
	s->step = c;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->lock);
}

bool
login_waiting(struct login_session *s)
{
	bool w;

	pthread_mutex_lock(&s->lock);
	w = !s->done && !s->aborted;
	pthread_mutex_unlock(&s->lock);
	return w;
}

void
login_drop(struct login_session *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->aborted = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->lock);
	session_unref(s);
}
