/*
 * login.h - "broker login" on the broker's side: the PAM conversation that
 * authenticates a person over a TLS connection that has no client
 * certificate yet, the back-off after failed logins, the audit records,
 * and the short-lived client certificate from the user CA (userca.h).
 *
 * The wire (one reply per request line, like every other op):
 *   {"op":"login","args":{"user":U,"csr":PEM}}  and then, for every PAM
 *   prompt, {"op":"login.answer","args":{"answer":TEXT}}.
 * A reply is either a question {"prompt":TEXT,"echo":BOOL,"info":[...]}
 * or the end: {"user":U,"cert":PEM,"ca":PEM,"serial":HEX,"expires_at":T}
 * or the error "denied" ("login failed", never whether the user exists).
 *
 * Each conversation runs on a thread of its own (capped by max_sessions):
 * PAM waits on a person, and a person must never hold a worker of the
 * pool that signs and looks identities up for everyone else.
 */
#ifndef BRK_LOGIN_H
#define BRK_LOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "errors.h"

struct brokerd;
struct call;
struct userca;

/* The config's "login" section. */
struct login_config {
	char *pam_service;  /* default "broker" */
	int64_t cert_ttl;   /* seconds; default 12h, at most 24h */
	int max_sessions;   /* conversations at once; default 32 */
	int answer_timeout; /* seconds to answer a prompt; default 60 */
};

/* {"pam_service": NAME, "cert_ttl": "12h" | seconds, "max_sessions": N,
 * "answer_timeout": seconds}; strict. */
int login_config_parse(
    json_t *section, struct login_config **out, struct brk_error *err);
void login_config_free(struct login_config *c);

struct login_ctx;
struct login_session;

/* Open the user CA (state_dir) and the back-off tables. */
int
login_ctx_new(struct brokerd *d, struct login_ctx **out, struct brk_error *err);
/* Wait for every conversation thread to end (each was aborted by
 * login_drop()), then free; NULL is fine. */
void login_ctx_free(struct login_ctx *l);

struct userca *login_userca(struct login_ctx *l);

/*
 * Start a login for call c (op "login") from source address addr.  The
 * call is answered later, from another thread (a prompt, the certificate,
 * or a refusal, each after its audit record is durable).  Sets *out to the
 * session, which the connection releases with login_drop().  On failure
 * (bad arguments, too many conversations) the call is answered here and
 * *out stays NULL.
 */
void login_begin(struct login_ctx *l, struct call *c, const char *addr,
    struct login_session **out);

/*
 * The same for a web sign-in (web.c): args {"user"} only; the end is
 * {"user":U,"expires":T,"expires_at":N} and nothing is issued (the web
 * session is the web's).  Same PAM service, back-off and audit records
 * ("login.ok" etc. with details.via "web").
 */
void login_begin_web(struct login_ctx *l, struct call *c, const char *addr,
    struct login_session **out);

/* Hand the answer in call c (op "login.answer") to the session's waiting
 * prompt; c is answered with the next prompt or the end. */
void login_answer(struct login_session *s, struct call *c);

/*
 * A client certificate refused (at the handshake: expired, another CA; or
 * a host's certificate asking for a person's op): audited as
 * "login.refused" with the source, the certificate's subject and why, and counted as a failure of the source, whose back-off then
 * stops the audit records (a flood of bad handshakes cannot fill the
 * trail; they are still logged).  Any thread.
 */
void login_refused(struct login_ctx *l, const char *addr, const char *subject,
    const char *why);

/* Whether s is still talking with its person (its idle time is bounded
 * by answer_timeout, not by the connection's timeout). */
bool login_waiting(struct login_session *s);

/* The connection is done with s: a conversation still waiting for an
 * answer is aborted (counted as a failed login).  NULL is fine. */
void login_drop(struct login_session *s);

#endif
