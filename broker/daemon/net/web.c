/*
 * web.c - the web server of brokerd (see web.h): libmicrohttpd, the
 * sessions, the sign-in through login.c, and the bridge that runs an op
 * as the signed-in person.  The pages themselves are in web_pages.c.
 *
 * Threads: libmicrohttpd gives each connection a thread of its own
 * (capped by max_connections), and a page waits there for its op's
 * reply: an op is answered exactly once (call.h), from whichever thread
 * finishes it, so the wait always ends.
 *
 * Sessions and sign-ins in progress live in two small tables under one
 * lock; ids and form tokens are 32 random bytes (base64url), compared in
 * constant time.  A sign-in has its own cookie and form token until PAM
 * says yes; then the person gets a fresh session id (never one that
 * existed before the password was typed).
 */
#include "web.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "audit.h"
#include "call.h"
#include "config.h"
#include "daemon.h"
#include "duration.h"
#include "httpd.h"
#include "log.h"
#include "login.h"
#include "timefmt.h"
#include "web_int.h"

#define WEB_SESSIONS 4096
#define WEB_SIGNINS 64
#define WEB_BODY_MAX 16384
#define WEB_PEM_MAX 65536
#define WEB_IO_S 30
#define COOKIE_S "__Host-broker"
#define COOKIE_SI "__Host-broker-signin"
#define CSP "default-src 'self'; frame-ancestors 'none'"

struct wsess {
	char id[48]; /* "" when free */
	char csrf[48];
	char user[65];
	int64_t created, seen;
};

struct wsignin {
	char id[48]; /* "" when free */
	char csrf[48];
	char user[65];
	char next[200]; /* where to go after */
	struct login_session *ls;
	bool busy; /* a thread waits on its login call */
	int64_t seen;
	char prompt[200];
	bool echo;
	char info[400];
};

struct web {
	struct brokerd *d;
	const struct web_config *cfg;
	struct login_ctx *login;
	struct MHD_Daemon *mhd;
	int lfd;
	bool tls;
	char *cert_pem, *key_pem;
	size_t key_len;
	pthread_mutex_t lock;
	struct wsess sess[WEB_SESSIONS];
	struct wsignin si[WEB_SIGNINS];
};

/* ---- configuration ---------------------------------------------------- */

static int
get_secs(json_t *v, const char *key, int min, int max, int *out,
    struct brk_error *err)
{
	int64_t s;

	if (json_is_string(v)) {
		if (duration_parse(json_string_value(v), &s) != 0 || s < min ||
		    s > max)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: web.%s must be a duration from %ds to "
			    "%ds",
			    key, min, max);
		*out = (int)s;
		return 0;
	}
	return config_get_int("web", v, key, min, max, out, err);
}

int
web_config_parse(
    json_t *section, struct web_config **out, struct brk_error *err)
{
	struct web_config *c = NULL;
	const char *key, *p;
	bool loopback = false;
	size_t n;
	json_t *v;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if (!json_is_object(section))
		return brk_error_set(
		    err, BRK_ERR_INVALID, "config: \"web\" must be an object");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return brk_error_set(err, r, "out of memory");
	c->idle_timeout = 15 * 60;
	c->session_max = 8 * 3600;
	c->max_connections = 64;
	json_object_foreach (section, key, v) {
		if (strcmp(key, "listen") == 0)
			r = config_get_str("web", v, key, &c->listen, err);
		else if (strcmp(key, "cert") == 0)
			r = config_get_str("web", v, key, &c->cert, err);
		else if (strcmp(key, "key") == 0)
			r = config_get_str("web", v, key, &c->key, err);
		else if (strcmp(key, "base_url") == 0)
			r = config_get_str("web", v, key, &c->base_url, err);
		else if (strcmp(key, "idle_timeout") == 0)
			r = get_secs(v, key, 60, 86400, &c->idle_timeout, err);
		else if (strcmp(key, "session_max") == 0)
			r = get_secs(
			    v, key, 60, 7 * 86400, &c->session_max, err);
		else if (strcmp(key, "max_connections") == 0)
			r = config_get_int(
			    "web", v, key, 1, 1024, &c->max_connections, err);
		else
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "config: unknown key web.%s", key);
		if (r != 0)
			goto out;
	}
	r = BRK_ERR_INVALID;
	if (c->listen == NULL) {
		brk_error_set(err, r, "config: web.listen is required");
		goto out;
	}
	if ((r = httpd_addr_ok("web.listen", c->listen, &loopback, err)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	if ((c->cert == NULL) != (c->key == NULL)) {
		brk_error_set(
		    err, r, "config: web.cert and web.key go together");
		goto out;
	}
	if (c->cert == NULL && !loopback) {
		brk_error_set(err, r,
		    "config: web.cert and web.key are required: plain HTTP "
		    "only on a loopback web.listen (behind a reverse proxy)");
		goto out;
	}
	if (c->base_url != NULL) {
		n = strlen(c->base_url);
		while (n > 0 && c->base_url[n - 1] == '/')
			c->base_url[--n] = '\0';
		for (p = c->base_url; *p != '\0'; p++)
			if (*p <= ' ' || *p > '~' || *p == '"' || *p == '<' ||
			    *p == '>' || *p == '{' || *p == '}')
				break;
		if (*p != '\0' ||
		    (strncmp(c->base_url, "https://", 8) != 0 &&
			strncmp(c->base_url, "http://", 7) != 0) ||
		    n < 9 || n > 200) {
			brk_error_set(err, r,
			    "config: web.base_url must be an http(s):// URL "
			    "of printable ASCII, at most 200 bytes");
			goto out;
		}
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	web_config_free(c);
	return r;
}

void
web_config_free(struct web_config *c)
{
	if (c == NULL)
		return;
	free(c->listen);
	free(c->cert);
	free(c->key);
	free(c->base_url);
	free(c);
}

char *
web_link_template(const struct web_config *c)
{
	char *s = NULL;

	if (c == NULL || c->base_url == NULL ||
	    asprintf(&s, "%s/r/{id}", c->base_url) < 0)
		return NULL;
	return s;
}

/* ---- small helpers ---------------------------------------------------- */

/* 32 random bytes as base64url (43 characters) in out (48 bytes). */
static int
random_id(char *out)
{
	unsigned char raw[32];
	char b64[48];
	int n, i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	n = EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	for (i = 0; i < n && b64[i] != '='; i++)
		out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	out[i] = '\0';
	OPENSSL_cleanse(b64, sizeof(b64));
	return 0;
}

/* Constant-time equality of two tokens (a and b NUL-terminated). */
static bool
token_eq(const char *a, const char *b)
{
	size_t la, lb;

	if (a == NULL || b == NULL || a[0] == '\0')
		return false;
	la = strlen(a);
	lb = strlen(b);
	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

unsigned int
web_status_of(int rc)
{
	switch (rc) {
	case 0:
		return MHD_HTTP_OK;
	case BRK_ERR_DENIED:
		return MHD_HTTP_FORBIDDEN;
	case BRK_ERR_NOTFOUND:
		return MHD_HTTP_NOT_FOUND;
	case BRK_ERR_INVALID:
		return MHD_HTTP_BAD_REQUEST;
	case BRK_ERR_STATE:
		return MHD_HTTP_CONFLICT;
	case BRK_ERR_BUSY:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

const char *
web_field(const struct wreq *q, const char *key)
{
	const char *s = json_string_value(json_object_get(q->form, key));

	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* ---- calls ------------------------------------------------------------- */

struct wwait {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
	char *line;
	size_t len;
};

static void
deliver_web(struct call *c, char *line, size_t len)
{
	struct wwait *ww = c->conn;

	pthread_mutex_lock(&ww->m);
	ww->line = line;
	ww->len = len;
	ww->done = true;
	pthread_cond_signal(&ww->cv);
	pthread_mutex_unlock(&ww->m);
}

/* A call of op with args (consumed); NULL when out of memory. */
static struct call *
wcall_new(struct web *w, struct wwait *ww, const char *op, json_t *args)
{
	struct proto_req *req = NULL;
	struct call *c = NULL;

	if (args == NULL || (req = calloc(1, sizeof(*req))) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		json_decref(args);
		free(req);
		return NULL;
	}
	snprintf(req->id, sizeof(req->id), "web");
	snprintf(req->op, sizeof(req->op), "%s", op);
	req->args = args;
	c->d = w->d;
	c->req = req;
	c->conn = ww;
	c->deliver = deliver_web;
	c->caller.uid = (uid_t)-1;
	pthread_mutex_init(&ww->m, NULL);
	pthread_cond_init(&ww->cv, NULL);
	ww->done = false;
	ww->line = NULL;
	return c;
}

/* Wait for c's reply, free c, parse the reply into *res or msg. */
static int
wcall_wait(
    struct call *c, struct wwait *ww, json_t **res, char *msg, size_t msglen)
{
	struct brk_error err = { { 0 } };
	int r;

	*res = NULL;
	pthread_mutex_lock(&ww->m);
	while (!ww->done)
		pthread_cond_wait(&ww->cv, &ww->m);
	pthread_mutex_unlock(&ww->m);
	call_free(c);
	pthread_mutex_destroy(&ww->m);
	pthread_cond_destroy(&ww->cv);
	if (ww->line == NULL) {
		snprintf(msg, msglen, "out of memory");
		return BRK_ERR_NOMEM;
	}
	r = proto_parse_reply(ww->line, ww->len, "web", res, &err);
	free(ww->line);
	ww->line = NULL;
	if (r != 0)
		snprintf(
		    msg, msglen, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

int
web_op(const struct wreq *q, const char *op, json_t *args, json_t **res,
    char *msg, size_t msglen)
{
	struct brk_error err = { { 0 } };
	struct store_txn *rtxn = NULL;
	struct wwait ww;
	struct call *c;
	int r;

	*res = NULL;
	if ((c = wcall_new(q->w, &ww, op, args)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return BRK_ERR_NOMEM;
	}
	if ((r = ident_from_name(q->w->d->ident, q->user, &c->caller, &err)) !=
		0 ||
	    (r = ident_copy(&c->who, &c->caller)) != 0) {
		snprintf(
		    msg, msglen, "%s", err.msg[0] ? err.msg : brk_strerror(r));
		call_free(c);
		pthread_mutex_destroy(&ww.m);
		pthread_cond_destroy(&ww.cv);
		return r == BRK_ERR_NOTFOUND ? BRK_ERR_DENIED : r;
	}
	c->rtxn = &rtxn;
	ops_dispatch(c);
	r = wcall_wait(c, &ww, res, msg, msglen);
	store_read_free(rtxn);
	return r;
}

bool
web_has_role(const struct wreq *q, enum policy_role role)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p;
	struct call c = { 0 };
	bool has = false;

	c.d = q->w->d;
	if (ident_from_name(q->w->d->ident, q->user, &c.who, &err) != 0)
		return false;
	if ((p = policy_get(q->w->d)) != NULL) {
		has = call_has_role(&c, p, role);
		policy_put(q->w->d, p);
	}
	ident_clear(&c.who);
	return has;
}

int
web_last_hour(const struct wreq *q, size_t counts[3])
{
	static const char *const actions[3] = { "request.granted",
		"request.pending", "request.approved" };
	struct audit_query aq = { 0 };
	struct store_txn *t = NULL;
	json_t *out = NULL;
	size_t i;
	int r;

	if ((r = store_begin(q->w->d->store, false, &t)) != 0)
		return r;
	aq.since = time_now() - 3600;
	aq.limit = WEB_COUNT_MAX;
	for (i = 0; i < 3 && r == 0; i++) {
		counts[i] = 0;
		aq.action = actions[i];
		if ((out = json_array()) == NULL)
			r = BRK_ERR_NOMEM;
		else if ((r = audit_search(t, &aq, out)) == 0)
			counts[i] = json_array_size(out);
		json_decref(out);
	}
	store_abort(t);
	return r;
}

/* ---- sessions ---------------------------------------------------------- */

/* The live session of cookie id, copied into q; false when none. */
static bool
session_find(struct web *w, const char *id, struct wreq *q)
{
	int64_t now = time_now();
	struct wsess *s;
	bool found = false;
	size_t i;

	if (id == NULL || strlen(id) != 43)
		return false;
	pthread_mutex_lock(&w->lock);
	for (i = 0; i < WEB_SESSIONS; i++) {
		s = &w->sess[i];
		if (s->id[0] == '\0' || !token_eq(s->id, id))
			continue;
		if (now - s->seen > w->cfg->idle_timeout ||
		    now - s->created > w->cfg->session_max) {
			log_info("event=web_session_expired user=%s", s->user);
			explicit_bzero(s, sizeof(*s));
			break;
		}
		s->seen = now;
		snprintf(q->user, sizeof(q->user), "%s", s->user);
		snprintf(q->csrf, sizeof(q->csrf), "%s", s->csrf);
		found = true;
		break;
	}
	pthread_mutex_unlock(&w->lock);
	return found;
}

/* A fresh session for user; its id in id (48 bytes). */
static int
session_new(struct web *w, const char *user, char *id)
{
	int64_t now = time_now();
	struct wsess *s, *free_s = NULL;
	size_t i;
	int r = BRK_ERR_BUSY;

	pthread_mutex_lock(&w->lock);
	for (i = 0; i < WEB_SESSIONS; i++) {
		s = &w->sess[i];
		if (s->id[0] != '\0' &&
		    (now - s->seen > w->cfg->idle_timeout ||
			now - s->created > w->cfg->session_max))
			explicit_bzero(s, sizeof(*s));
		if (s->id[0] == '\0' && free_s == NULL)
			free_s = s;
	}
	if (free_s != NULL) {
		r = BRK_ERR_INTERNAL;
		if (random_id(free_s->id) == 0 &&
		    random_id(free_s->csrf) == 0) {
			snprintf(
			    free_s->user, sizeof(free_s->user), "%s", user);
			free_s->created = free_s->seen = now;
			snprintf(id, 48, "%s", free_s->id);
			r = 0;
		} else
			explicit_bzero(free_s, sizeof(*free_s));
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

static void
session_end(struct web *w, const char *id)
{
	size_t i;

	pthread_mutex_lock(&w->lock);
	for (i = 0; i < WEB_SESSIONS; i++)
		if (w->sess[i].id[0] != '\0' && token_eq(w->sess[i].id, id)) {
			log_info("event=web_signout user=%s", w->sess[i].user);
			explicit_bzero(&w->sess[i], sizeof(w->sess[i]));
		}
	pthread_mutex_unlock(&w->lock);
}

/* ---- HTTP plumbing ------------------------------------------------------ */

struct wconn {
	char body[WEB_BODY_MAX + 1];
	size_t blen;
	bool too_big;
};

struct wout {
	unsigned int status;
	struct html body;
	const char *type;
	char location[256];
	char cookie[2][160];
	bool cache; /* a static asset */
};

static enum MHD_Result
send_out(struct web *w, struct MHD_Connection *conn, struct wout *o)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (o->body.oom) {
		html_free(&o->body);
		o->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		html_raw(&o->body, "out of memory\n");
	}
	resp = MHD_create_response_from_buffer(o->body.len,
	    o->body.p != NULL ? o->body.p : (char *)"", MHD_RESPMEM_MUST_COPY);
	html_free(&o->body);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
	    o->type != NULL ? o->type : "text/html; charset=utf-8");
	MHD_add_response_header(resp, "Content-Security-Policy", CSP);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(
	    resp, "Cache-Control", o->cache ? "max-age=3600" : "no-store");
	if (w->tls)
		MHD_add_response_header(
		    resp, "Strict-Transport-Security", "max-age=31536000");
	if (o->location[0] != '\0')
		MHD_add_response_header(resp, "Location", o->location);
	if (o->cookie[0][0] != '\0')
		MHD_add_response_header(resp, "Set-Cookie", o->cookie[0]);
	if (o->cookie[1][0] != '\0')
		MHD_add_response_header(resp, "Set-Cookie", o->cookie[1]);
	ret = MHD_queue_response(conn, o->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
set_cookie(struct wout *o, int i, const char *name, const char *value)
{
	snprintf(o->cookie[i], sizeof(o->cookie[i]),
	    "%s=%s; Path=/; HttpOnly; Secure; SameSite=Strict%s", name,
	    value != NULL ? value : "", value != NULL ? "" : "; Max-Age=0");
}

static void
redirect(struct wout *o, const char *to)
{
	o->status = MHD_HTTP_SEE_OTHER;
	snprintf(o->location, sizeof(o->location), "%s", to);
	html_raw(&o->body, "see other\n");
}

/* A plain page for errors before or without a session. */
static void
bare_page(
    struct wout *o, unsigned int status, const char *title, const char *msg)
{
	o->status = status;
	html_fmt(&o->body,
	    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>%s · broker</title>"
	    "<link rel=\"stylesheet\" href=\"/static/broker.css\"></head>"
	    "<body><main><h1>%s</h1><p class=\"error\">%s</p>"
	    "<p><a href=\"/\">Home</a> · <a href=\"/login\">Sign in</a></p>"
	    "</main></body></html>\n",
	    title, title, msg);
}

/* The value of hex digit c, or 0x100 (too big for a byte) when c is not
 * one. */
static unsigned int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned int)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (unsigned int)(c - 'A' + 10);
	return 0x100;
}

/* Decode application/x-www-form-urlencoded into an object of strings;
 * NULL on bad input (bad escapes, NUL, invalid UTF-8). */
static json_t *
parse_form(const char *body, size_t len)
{
	json_t *o = json_object(), *v;
	char *buf = NULL, *k, *val, *p, *q, *amp, *eq;
	unsigned int hex;
	bool bad = false;

	if (o == NULL || (buf = malloc(len + 1)) == NULL)
		goto fail;
	memcpy(buf, body, len);
	buf[len] = '\0';
	for (k = buf; k != NULL && *k != '\0'; k = amp) {
		if ((amp = strchr(k, '&')) != NULL)
			*amp++ = '\0';
		if ((eq = strchr(k, '=')) == NULL)
			continue;
		*eq = '\0';
		val = eq + 1;
		for (p = q = val; *p != '\0'; p++) {
			if (*p == '+')
				*q++ = ' ';
			else if (*p == '%') {
				if (p[1] == '\0' ||
				    (hex = hexval(p[1]) << 4 | hexval(p[2])) >
					0xff ||
				    hex == 0) { /* a bad escape, or NUL */
					bad = true;
					break;
				}
				*q++ = (char)hex;
				p += 2;
			} else
				*q++ = *p;
		}
		*q = '\0';
		if (bad || strlen(k) > 32 || (v = json_string(val)) == NULL ||
		    json_object_set_new(o, k, v) != 0)
			goto fail;
	}
	explicit_bzero(buf, len);
	free(buf);
	return o;
fail:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	json_decref(o);
	return NULL;
}

/* Wipe every string of the form (it may hold a password) and free it. */
static void
form_free(json_t *form)
{
	const char *k;
	json_t *v;

	json_object_foreach (form, k, v)
		if (json_is_string(v))
			explicit_bzero((char *)json_string_value(v),
			    json_string_length(v));
	json_decref(form);
}

static enum MHD_Result
add_query(
    void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	json_t *form = cls, *v;

	if (key == NULL || strlen(key) > 32 || value == NULL)
		return MHD_YES;
	if ((v = json_string(value)) == NULL) {
		json_object_set_new(form,
		    "\001"
		    "bad",
		    json_true());
		return MHD_NO;
	}
	json_object_set_new(form, key, v);
	return MHD_YES;
}

/* ---- sign-in ---------------------------------------------------------- */

/* Free signin slot s (under w->lock): its PAM conversation is dropped. */
static void
signin_clear(struct wsignin *s)
{
	login_drop(s->ls);
	explicit_bzero(s, sizeof(*s));
}

static void
signin_form(
    struct web *w, struct wout *o, const struct wsignin *s, const char *error)
{
	html_fmt(&o->body,
	    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>Sign in · broker</title>"
	    "<link rel=\"stylesheet\" href=\"/static/broker.css\"></head>"
	    "<body><main class=\"narrow\"><h1>Sign in</h1>");
	if (error != NULL)
		html_fmt(
		    &o->body, "<p class=\"error\" id=\"error\">%s</p>", error);
	if (s->info[0] != '\0')
		html_fmt(&o->body, "<p class=\"info\">%s</p>", s->info);
	html_fmt(&o->body,
	    "<form method=\"post\" action=\"/login\" id=\"signin\">"
	    "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
	    s->csrf);
	if (s->ls == NULL)
		html_raw(&o->body,
		    "<label>User name <input name=\"user\" id=\"user\" "
		    "autocomplete=\"username\" autocapitalize=\"none\" "
		    "required autofocus></label>");
	else
		html_fmt(&o->body,
		    "<p>Signing in as <b>%s</b></p><label>%s <input "
		    "name=\"answer\" id=\"answer\" type=\"%R\" "
		    "autocomplete=\"%R\" required autofocus></label>",
		    s->user, s->prompt, s->echo ? "text" : "password",
		    s->echo ? "one-time-code" : "current-password");
	html_raw(&o->body,
	    "<button id=\"go\">Continue</button></form></main></body></html>\n");
}

/* GET /login: a new sign-in (its own cookie and form token). */
static void
signin_start(struct web *w, struct wout *o, const char *next)
{
	int64_t now = time_now();
	struct wsignin *s, *slot = NULL;
	struct wsignin copy;
	size_t i;

	pthread_mutex_lock(&w->lock);
	for (i = 0; i < WEB_SIGNINS; i++) {
		s = &w->si[i];
		if (s->id[0] != '\0' && !s->busy && now - s->seen > 300)
			signin_clear(s);
		if (s->id[0] == '\0' && slot == NULL)
			slot = s;
	}
	if (slot != NULL &&
	    (random_id(slot->id) != 0 || random_id(slot->csrf) != 0)) {
		explicit_bzero(slot, sizeof(*slot));
		slot = NULL;
	}
	if (slot != NULL) {
		slot->seen = now;
		snprintf(slot->next, sizeof(slot->next), "%s",
		    next != NULL && next[0] == '/' && next[1] != '/' &&
			    next[1] != '\\' &&
			    strspn(next,
				"abcdefghijklmnopqrstuvwxyz0123456789/?=&_-") ==
				strlen(next) ?
			next :
			"/");
		copy = *slot;
	}
	pthread_mutex_unlock(&w->lock);
	if (slot == NULL) {
		bare_page(o, MHD_HTTP_SERVICE_UNAVAILABLE, "Sign in",
		    "Too many sign-ins in progress; try again shortly.");
		return;
	}
	set_cookie(o, 0, COOKIE_SI, copy.id);
	o->status = MHD_HTTP_OK;
	signin_form(w, o, &copy, NULL);
	explicit_bzero(&copy, sizeof(copy));
}

/* POST /login: the user name, or the answer to PAM's prompt. */
static void
signin_step(struct web *w, struct MHD_Connection *conn, struct wout *o,
    json_t *form, const char *addr)
{
	struct wsignin *s = NULL, copy;
	const char *cookie, *user, *answer, *k;
	json_t *res = NULL, *v;
	char msg[256], sid[48];
	struct wwait ww;
	struct call *c;
	size_t i, n;
	int r;

	cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE_SI);
	pthread_mutex_lock(&w->lock);
	for (i = 0; cookie != NULL && i < WEB_SIGNINS; i++)
		if (w->si[i].id[0] != '\0' && token_eq(w->si[i].id, cookie))
			s = &w->si[i];
	if (s == NULL || s->busy ||
	    !token_eq(
		s->csrf, json_string_value(json_object_get(form, "csrf")))) {
		pthread_mutex_unlock(&w->lock);
		bare_page(o, MHD_HTTP_FORBIDDEN, "Sign in",
		    "This sign-in form has expired or was not ours; start "
		    "again.");
		return;
	}
	s->busy = true;
	s->seen = time_now();
	copy = *s;
	pthread_mutex_unlock(&w->lock);

	user = json_string_value(json_object_get(form, "user"));
	answer = json_string_value(json_object_get(form, "answer"));
	if (copy.ls == NULL) {
		c = wcall_new(w, &ww, "login",
		    json_pack("{s:s}", "user", user != NULL ? user : ""));
		if (c != NULL) {
			snprintf(c->caller.name, sizeof(c->caller.name), "-");
			c->who = c->caller;
			login_begin_web(w->login, c, addr, &copy.ls);
			snprintf(copy.user, sizeof(copy.user), "%s",
			    user != NULL ? user : "");
		}
	} else {
		c = wcall_new(w, &ww, "login.answer",
		    json_pack("{s:s}", "answer", answer != NULL ? answer : ""));
		if (c != NULL) {
			snprintf(c->caller.name, sizeof(c->caller.name), "-");
			c->who = c->caller;
			login_answer(copy.ls, c);
		}
	}
	if (c == NULL) {
		r = BRK_ERR_NOMEM;
		snprintf(msg, sizeof(msg), "out of memory");
	} else
		r = wcall_wait(c, &ww, &res, msg, sizeof(msg));

	pthread_mutex_lock(&w->lock);
	s->ls = copy.ls;
	snprintf(s->user, sizeof(s->user), "%s", copy.user);
	s->busy = false;
	if (r == 0 && json_object_get(res, "prompt") != NULL) {
		/* PAM asks again: show its question */
		snprintf(s->prompt, sizeof(s->prompt), "%s",
		    json_string_value(json_object_get(res, "prompt")) ?: "");
		s->echo = json_is_true(json_object_get(res, "echo"));
		s->info[0] = '\0';
		json_array_foreach (json_object_get(res, "info"), i, v) {
			n = strlen(s->info);
			snprintf(s->info + n, sizeof(s->info) - n, "%s%s",
			    n ? " " : "", json_string_value(v) ?: "");
		}
		copy = *s;
		pthread_mutex_unlock(&w->lock);
		o->status = MHD_HTTP_OK;
		signin_form(w, o, &copy, NULL);
		goto out;
	}
	if (r != 0 ||
	    (k = json_string_value(json_object_get(res, "user"))) == NULL ||
	    strcmp(k, copy.user) != 0) {
		/* refused (audited by login.c): start over */
		signin_clear(s);
		pthread_mutex_unlock(&w->lock);
		set_cookie(o, 0, COOKIE_SI, NULL);
		bare_page(o,
		    r == BRK_ERR_BUSY ? MHD_HTTP_SERVICE_UNAVAILABLE :
					MHD_HTTP_FORBIDDEN,
		    "Sign in",
		    strncmp(msg, "too many", 8) == 0 || r == BRK_ERR_BUSY ||
			    r == BRK_ERR_INVALID ?
			msg :
			"Sign-in failed.");
		goto out;
	}
	snprintf(copy.next, sizeof(copy.next), "%s", s->next);
	signin_clear(s); /* PAM is done with it */
	pthread_mutex_unlock(&w->lock);
	if (session_new(w, copy.user, sid) != 0) {
		bare_page(o, MHD_HTTP_SERVICE_UNAVAILABLE, "Sign in",
		    "Too many sessions; try again later.");
		goto out;
	}
	log_info("event=web_signin user=%s addr=%s", copy.user, addr);
	set_cookie(o, 0, COOKIE_S, sid);
	set_cookie(o, 1, COOKIE_SI, NULL);
	explicit_bzero(sid, sizeof(sid));
	redirect(o, copy.next);
out:
	json_decref(res);
	explicit_bzero(&copy, sizeof(copy));
}

/* ---- the stylesheet ----------------------------------------------------- */

static const char css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.45 system-ui,sans-serif;color:#1d2330;"
    "background:#f5f6f8}"
    "header{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;"
    "justify-content:space-between;background:#1d2f4f;color:#fff;"
    "padding:.5em 1em}"
    "header nav a{color:#fff;margin-right:1em;text-decoration:none;"
    "font-weight:600;white-space:nowrap;display:inline-block}"
    "header form{margin:0}header span{margin-right:.5em}"
    "main{max-width:60em;margin:0 auto;padding:1em}"
    "main.narrow{max-width:26em}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}"
    ".card{background:#fff;border:1px solid #d8dce3;border-radius:6px;"
    "padding:.8em 1em;margin:.7em 0}"
    ".card h3{margin:0 0 .3em;font-size:1.05em}"
    ".meta{color:#566;font-size:.9em}"
    ".why{background:#fff7e0;border-left:3px solid #e0a800;padding:.2em .5em}"
    ".error{background:#fde8e8;border-left:3px solid #c62828;"
    "padding:.5em .8em}"
    ".notice{background:#e6f4ea;border-left:3px solid #2e7d32;"
    "padding:.5em .8em}"
    ".info{background:#e8f0fe;padding:.5em .8em}"
    "table{border-collapse:collapse;width:100%;background:#fff;"
    "font-size:.92em}"
    "td,th{border-bottom:1px solid #e3e6ea;padding:.35em .5em;"
    "text-align:left;vertical-align:top}"
    "form.act{margin:.6em 0;display:grid;gap:.5em}"
    "label{display:block;margin:.4em 0}"
    "input,select,textarea{font:inherit;padding:.45em;width:100%;"
    "max-width:32em;border:1px solid #aab;border-radius:4px}"
    "button{font:inherit;padding:.5em 1.1em;border:0;border-radius:4px;"
    "background:#1d5fbf;color:#fff;cursor:pointer;margin:.2em .3em .2em 0}"
    "button.deny{background:#b3261e}button.plain{background:#5c6573}"
    "header button{padding:.3em .8em;background:#42577d}"
    ".tl{font-size:.9em}"
    "@media(max-width:40em){th{display:none}td{display:block;border:0}"
    "tr{display:block;border-bottom:1px solid #dde}}\n";

/* ---- dispatch ----------------------------------------------------------- */

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	struct web *w = cls;
	struct wconn *wc = *state;
	struct wout o = { .status = MHD_HTTP_OK };
	struct wreq q = { 0 };
	struct wresp pr = { 0 };
	const union MHD_ConnectionInfo *ci;
	json_t *form = NULL;
	bool post = strcmp(method, "POST") == 0;
	char addr[64] = "-";
	const char *cookie;
	enum MHD_Result ret;

	if (wc == NULL) { /* the head is in */
		if ((wc = calloc(1, sizeof(*wc))) == NULL)
			return MHD_NO;
		*state = wc;
		return MHD_YES;
	}
	if (*upload_len > 0) { /* a piece of the body */
		if (wc->blen + *upload_len > WEB_BODY_MAX)
			wc->too_big = true;
		else {
			memcpy(wc->body + wc->blen, upload, *upload_len);
			wc->blen += *upload_len;
		}
		*upload_len = 0;
		return MHD_YES;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL) {
		if (ci->client_addr->sa_family == AF_INET)
			inet_ntop(AF_INET,
			    &((const struct sockaddr_in *)ci->client_addr)
				 ->sin_addr,
			    addr, sizeof(addr));
		else if (ci->client_addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
			    &((const struct sockaddr_in6 *)ci->client_addr)
				 ->sin6_addr,
			    addr, sizeof(addr));
	}
	if (!post && strcmp(method, "GET") != 0 &&
	    strcmp(method, "HEAD") != 0) {
		bare_page(&o, MHD_HTTP_METHOD_NOT_ALLOWED, "Not allowed",
		    "Only GET and POST.");
		goto send;
	}
	if (wc->too_big) {
		bare_page(&o, MHD_HTTP_CONTENT_TOO_LARGE, "Too large",
		    "The form is too large.");
		goto send;
	}
	if (post)
		form = parse_form(wc->body, wc->blen);
	else if ((form = json_object()) != NULL)
		MHD_get_connection_values(
		    conn, MHD_GET_ARGUMENT_KIND, add_query, form);
	explicit_bzero(wc->body, wc->blen);
	if (form == NULL ||
	    json_object_get(form,
		"\001"
		"bad") != NULL) {
		bare_page(&o, MHD_HTTP_BAD_REQUEST, "Bad request",
		    "The form could not be read (bad encoding).");
		goto send;
	}
	if (strcmp(url, "/static/broker.css") == 0 && !post) {
		html_raw(&o.body, css);
		o.type = "text/css; charset=utf-8";
		o.cache = true;
		goto send;
	}
	if (strcmp(url, "/favicon.ico") == 0) { /* asked by every browser:
						   * not a page to sign in for */
		o.status = MHD_HTTP_NOT_FOUND;
		o.type = "text/plain; charset=utf-8";
		html_raw(&o.body, "no icon\n");
		goto send;
	}
	if (strcmp(url, "/login") == 0) {
		if (post)
			signin_step(w, conn, &o, form, addr);
		else
			signin_start(w, &o,
			    json_string_value(json_object_get(form, "next")));
		goto send;
	}
	q.w = w;
	q.method = post ? "POST" : "GET";
	q.path = url;
	q.form = form;
	cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE_S);
	if (!session_find(w, cookie, &q)) {
		if (post)
			bare_page(&o, MHD_HTTP_FORBIDDEN, "Signed out",
			    "Not signed in (or the session ended): sign in "
			    "again.");
		else {
			char to[256];

			snprintf(to, sizeof(to), "/login?next=%s",
			    strspn(url,
				"abcdefghijklmnopqrstuvwxyz0123456789/"
				"_-") == strlen(url) &&
				    strlen(url) < 200 ?
				url :
				"/");
			redirect(&o, to);
		}
		goto send;
	}
	if (post && !token_eq(q.csrf, web_field(&q, "csrf"))) {
		log_warn("event=web_csrf_refused user=%s addr=%s path=%.64s",
		    q.user, addr, url);
		bare_page(&o, MHD_HTTP_FORBIDDEN, "Refused",
		    "The form token is missing or wrong; reload the page and "
		    "try again.");
		goto send;
	}
	if (post && strcmp(url, "/logout") == 0) {
		session_end(w, cookie);
		set_cookie(&o, 0, COOKIE_S, NULL);
		redirect(&o, "/login");
		goto send;
	}
	pr.status = MHD_HTTP_OK;
	if (!web_pages_route(&q, &pr)) {
		html_free(&pr.body);
		bare_page(&o, MHD_HTTP_NOT_FOUND, "Not found", "No such page.");
		goto send;
	}
	o.status = pr.status;
	o.body = pr.body;
	if (pr.location[0] != '\0') {
		o.status = MHD_HTTP_SEE_OTHER;
		snprintf(o.location, sizeof(o.location), "%s", pr.location);
	}
send:
	ret = send_out(w, conn, &o);
	form_free(form);
	return ret;
}

static void
completed(void *cls, struct MHD_Connection *conn, void **state,
    enum MHD_RequestTerminationCode toe)
{
	struct wconn *wc = *state;

	if (wc != NULL) {
		explicit_bzero(wc, sizeof(*wc));
		free(wc);
	}
	*state = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\r\n")] = '\0';
	log_debug("event=web_http detail=\"%s\"", line);
}

/* Read a PEM file (at most 64 KiB) into *out. */
static int
read_pem(const char *path, char **out, size_t *len, struct brk_error *err)
{
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd, r = BRK_ERR_IO;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return brk_error_set(
		    err, r, "web: %s: %s", path, strerror(errno));
	if ((buf = malloc(WEB_PEM_MAX + 1)) == NULL) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	while (got < WEB_PEM_MAX &&
	    (n = read(fd, buf + got, WEB_PEM_MAX - got)) > 0)
		got += (size_t)n;
	if (got == 0 || got >= WEB_PEM_MAX) {
		brk_error_set(err, r, "web: %s: empty or too large", path);
		goto out;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
	r = 0;
out:
	if (buf != NULL) {
		explicit_bzero(buf, WEB_PEM_MAX + 1);
		free(buf);
	}
	close(fd);
	return r;
}

int
web_start(struct brokerd *d, struct login_ctx *login, struct web **out,
    struct brk_error *err)
{
	const struct web_config *cfg = d->cfg->web;
	struct web *w = NULL;
	size_t clen = 0;
	bool loopback = false;
	unsigned int flags;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if (cfg == NULL)
		return 0;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return brk_error_set(err, r, "out of memory");
	w->d = d;
	w->cfg = cfg;
	w->lfd = -1;
	pthread_mutex_init(&w->lock, NULL);
	w->login = login;
	if (cfg->cert != NULL &&
	    ((r = read_pem(cfg->cert, &w->cert_pem, &clen, err)) != 0 ||
		(r = read_pem(cfg->key, &w->key_pem, &w->key_len, err)) != 0))
		goto out;
	w->tls = cfg->cert != NULL;
	if ((r = httpd_listen(
		 "web.listen", cfg->listen, &w->lfd, &loopback, err)) != 0)
		goto out;
	flags = MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG;
	if (w->tls)
		w->mhd = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL,
		    handle, w, MHD_OPTION_LISTEN_SOCKET, w->lfd,
		    MHD_OPTION_HTTPS_MEM_CERT, w->cert_pem,
		    MHD_OPTION_HTTPS_MEM_KEY, w->key_pem,
		    MHD_OPTION_HTTPS_PRIORITIES,
		    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)WEB_IO_S,
		    MHD_OPTION_CONNECTION_LIMIT,
		    (unsigned int)cfg->max_connections,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    (unsigned int)(cfg->max_connections / 2 + 1),
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
		    MHD_OPTION_NOTIFY_COMPLETED, completed, w,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w, MHD_OPTION_END);
	else
		w->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, w,
		    MHD_OPTION_LISTEN_SOCKET, w->lfd,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)WEB_IO_S,
		    MHD_OPTION_CONNECTION_LIMIT,
		    (unsigned int)cfg->max_connections,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
		    MHD_OPTION_NOTIFY_COMPLETED, completed, w,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w, MHD_OPTION_END);
	if (w->mhd == NULL) {
		r = brk_error_set(err, BRK_ERR_INTERNAL,
		    "web: cannot start the HTTP server (a bad web.cert or "
		    "web.key?)");
		goto out;
	}
	log_info("event=web_ready listen=%s tls=%s", cfg->listen,
	    w->tls ? "on" : "off (loopback, behind a reverse proxy)");
	*out = w;
	w = NULL;
	r = 0;
out:
	web_stop(w);
	return r;
}

void
web_stop(struct web *w)
{
	size_t i;

	if (w == NULL)
		return;
	if (w->mhd != NULL)
		MHD_stop_daemon(w->mhd);
	if (w->lfd >= 0)
		close(w->lfd);
	for (i = 0; i < WEB_SIGNINS; i++)
		if (w->si[i].id[0] != '\0')
			signin_clear(&w->si[i]);
	free(w->cert_pem);
	if (w->key_pem != NULL) {
		explicit_bzero(w->key_pem, w->key_len);
		free(w->key_pem);
	}
	explicit_bzero(w->sess, sizeof(w->sess));
	pthread_mutex_destroy(&w->lock);
	free(w);
}
