/*
 * web_int.h - between web.c (server, sessions, sign-in, calls) and
 * web_pages.c (the pages).  Not for other files.
 */
#ifndef BRK_WEB_INT_H
#define BRK_WEB_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "html.h"
#include "policy.h"

struct web;

/* One HTTP request from a signed-in person. */
struct wreq {
	struct web *w;
	const char *method; /* "GET" or "POST" */
	const char *path;   /* without the query */
	json_t *form;	    /* POST fields, or the query's for GET */
	char user[65];	    /* who is signed in */
	char csrf[48];	    /* their session's form token */
};

/* What a page answers. */
struct wresp {
	unsigned int status; /* 200 unless set */
	struct html body;
	char location[256]; /* a redirect (303) when set */
};

/* A form or query field (a string), or NULL when absent or empty. */
const char *web_field(const struct wreq *q, const char *key);

/*
 * Run op with args (consumed) as the signed-in person, exactly as a CLI
 * call of theirs: the same handler, authorisation and audit.  On success
 * *res is the reply's result; else the error code, with its message in
 * msg.
 */
int web_op(const struct wreq *q, const char *op, json_t *args, json_t **res,
    char *msg, size_t msglen);

/* Whether the person holds role now, by the ops' own check
 * (call_has_role()): only to leave out forms its op would refuse. */
bool web_has_role(const struct wreq *q, enum policy_role role);

/*
 * What automation did in the last hour, for "Now": counts[0] requests
 * granted automatically (request.granted), [1] sent to a person
 * (request.pending), [2] approved by people (request.approved); each at
 * most WEB_COUNT_MAX (then "or more").  Counts only, no names: the same
 * that status shows everyone.  0 or a store error.
 */
#define WEB_COUNT_MAX 10000
int web_last_hour(const struct wreq *q, size_t counts[3]);

/* The pages (web_pages.c): fill out for a signed-in request; false when
 * no page has that path. */
bool web_pages_route(struct wreq *q, struct wresp *out);

/* The page frame. */
void web_page_begin(const struct wreq *q, struct html *h, const char *title);
void web_page_end(struct html *h);

/* HTTP status for a BRK_ERR_* code. */
unsigned int web_status_of(int rc);

#endif
