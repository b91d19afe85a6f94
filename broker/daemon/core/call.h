/*
 * call.h - the life of one call: one request line, from the transport
 * that read it, through its op's handler, to its one reply.
 *
 * Below both the transports (net/) and the ops (ops/): a transport makes a
 * call and sets how its reply is delivered; a handler answers it with
 * call_reply()/call_fail(), at once or later from another thread.
 */
#ifndef BRK_CALL_H
#define BRK_CALL_H

#include <stdarg.h>
#include <stdbool.h>

#include <jansson.h>

#include "identity.h"
#include "proto.h"
#include "store.h"

struct brokerd;

struct call {
	struct brokerd *d;
	struct proto_req *req;
	struct ident caller; /* who connected (SO_PEERCRED) */
	struct ident who;    /* who the call is for ("as"), else caller */
	bool delegated;
	/* The read transaction of the thread that runs the handler, reused
	 * call after call; only the handler itself may use it. */
	struct store_txn **rtxn;
	void *conn; /* the transport's connection; opaque */
	/* Delivers the reply line (consumed; NULL when out of memory) and
	 * ends the call; called once, from any thread.  Set by the transport
	 * that made the call (the unix socket server or the TLS listener). */
	void (*deliver)(struct call *c, char *line, size_t len);
	char host[256];	      /* TLS callers: the host their certificate
				 * names; "" for local callers */
	char host_serial[48]; /* a host enrolled with "broker host enroll":
			       * its certificate's serial (hex), checked
			       * against the store on every call; "" for
			       * hosts of tls.client_ca and for people */
	char addr[64];	      /* TLS callers: the peer's address; "" for
			       * local callers */
	void *op_state;	      /* the handler's own state while async */
	/* kept by call.c (atomics; zero in a calloc'd call) */
	int replies; /* replies so far: never more than one */
	int holds;   /* references besides the transport's */
};

/* Reply with result (consumed; NULL means an empty object). Thread-safe. */
void call_reply(struct call *c, json_t *result);

/* Reply with a line made by proto_reply_ok() for this call's id, built
 * ahead of time (consumed).  Thread-safe. */
void call_reply_line(struct call *c, char *line, size_t len);
/* Reply with an error; thread-safe. */
void call_fail(struct call *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether the call has been answered (a reply was handed to deliver). */
bool call_replied(struct call *c);

/* Begin the call's read transaction (renewed per call). */
int call_read(struct call *c, struct store_txn **t);

/* Keep c alive across a call_free() by its transport; each hold is
 * released by one more call_free(). */
void call_hold(struct call *c);

/* Release the transport's reference (or a hold); the last one frees the
 * call (its request and identities).  NULL is fine. */
void call_free(struct call *c);

#endif
