/*
 * web.h - the web pages of brokerd (config "web"): approvers, requesters
 * and admins in a browser, with the same ops, authorisation and audit as
 * the CLI.
 *
 * Served by libmicrohttpd over HTTPS (web.cert, web.key); plain HTTP only
 * when web.listen is a loopback address, for a reverse proxy that does
 * TLS in front.  Sign-in goes through the login PAM service (login.c:
 * the same conversation, back-off and login.* audit records); a session
 * is a random id in a cookie (HttpOnly; Secure; SameSite=Strict) with an
 * idle and an absolute timeout, held in memory only (a restart signs
 * everyone out).  Every page is rendered from the reply of an op called
 * as the signed-in person: the page shows what that op shows them and
 * nothing else, and every change is that op's, refused or audited by it.
 */
#ifndef BRK_WEB_H
#define BRK_WEB_H

#include <stdint.h>

#include <jansson.h>

#include "errors.h"

struct brokerd;
struct login_ctx;
struct web;

/* The config's "web" section. */
struct web_config {
	char *listen;	     /* "HOST:PORT" */
	char *cert;	     /* PEM chain; NULL: plain HTTP (loopback only) */
	char *key;	     /* PEM key */
	char *base_url;	     /* e.g. "https://broker.example.com" (no
			   * trailing slash); NULL when absent */
	int idle_timeout;    /* seconds; default 15m */
	int session_max;     /* seconds from sign-in; default 8h */
	int max_connections; /* default 64 */
};

/*
 * {"listen": "HOST:PORT", "cert": FILE, "key": FILE, "base_url": URL,
 *  "idle_timeout": "15m", "session_max": "8h", "max_connections": N};
 * strict.  cert and key are required unless listen is a loopback address.
 */
int web_config_parse(
    json_t *section, struct web_config **out, struct brk_error *err);
void web_config_free(struct web_config *c);

/* The link template "BASE_URL/r/{id}" for notify.link (malloc'd), or
 * NULL without base_url. */
char *web_link_template(const struct web_config *c);

/*
 * Start serving d->cfg->web (nothing when NULL: *out stays NULL).  Call
 * after the store, writer and pool are up.  login is the daemon's one login
 * context, borrowed (it must outlive web_stop()): sign-in failures here and
 * through "broker login" count in the same back-off.  Errors: BRK_ERR_IO
 * (files, bind), BRK_ERR_INVALID, BRK_ERR_NOMEM, BRK_ERR_INTERNAL.
 */
int web_start(struct brokerd *d, struct login_ctx *login, struct web **out,
    struct brk_error *err);

/* Stop serving (waits for the pages in progress), free; NULL is fine. */
void web_stop(struct web *w);

#endif
