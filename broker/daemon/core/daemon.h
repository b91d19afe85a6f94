/*
 * daemon.h - brokerd's context and the life of one call.
 *
 * struct brokerd is the daemon's only mutable state; everything else is
 * reached from it.  A call is one request line from a connection: the
 * server parses it, resolves the caller's identity, and hands it to the
 * op's handler.  A handler answers with call_reply()/call_fail(), at once
 * or later from the writer thread after a commit.
 */
#ifndef BRK_DAEMON_H
#define BRK_DAEMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "errors.h"
#include "identity.h"
#include "policy.h"
#include "proto.h"
#include "store.h"
#include "writer.h"

struct server;
struct ca;
struct workpool;
struct auditfeed;
struct notify;
struct metrics_http;

/* A loaded policy version, shared by reference. */
struct policy_ref {
	struct policy *policy;
	uint64_t version;
	char sha256[65];
	int refs;		/* guarded by brokerd.policy_lock */
};

struct brokerd {
	struct config *cfg;
	struct store *store;
	struct writer *writer;
	struct server *server;
	struct identity *ident;
	struct ca *ca;			/* the signing key; read-only once open */
	struct workpool *pool;		/* signing and reply building */
	pthread_mutex_t policy_lock;
	struct policy_ref *policy;	/* current; guarded by policy_lock */
	int64_t started_at;
	uint64_t counters[8];		/* requests by outcome, see ops */
	int sweep_queued;		/* a sweep is with the writer */
	struct auditfeed *feed;		/* audit follower (auditfeed.h):
					 * subscribe before main() starts it */
	/* notifications and metrics (notify.h, metrics_http.h, ops_metrics.c) */
	struct notify *notify;		/* NULL without a "notify" section */
	struct metrics_http *metrics;	/* NULL without metrics_listen */
	uint64_t checks[2];		/* op check: allowed, refused (atomic) */
};

struct call {
	struct brokerd *d;
	struct proto_req *req;
	struct ident caller;	/* who connected (SO_PEERCRED) */
	struct ident who;	/* who the call is for ("as"), else caller */
	bool delegated;
	struct store_txn **rtxn;	/* the I/O thread's reusable read txn */
	void *conn;		/* the transport's connection; opaque */
	/* Delivers the reply line (consumed; NULL when out of memory) and
	 * ends the call; called once, from any thread.  Set by the transport
	 * that made the call (the unix socket server or the TLS listener). */
	void (*deliver)(struct call *c, char *line, size_t len);
	char host[256];		/* TLS callers: the host their certificate
				 * names; "" for local callers */
	void *op_state;		/* the handler's own state while async */
};

/* Reply with result (consumed; NULL means an empty object). Thread-safe. */
void call_reply(struct call *c, json_t *result);
/* Reply with an error; thread-safe. */
void call_fail(struct call *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The current policy, referenced; release with policy_put(). */
struct policy_ref *policy_get(struct brokerd *d);
void policy_put(struct brokerd *d, struct policy_ref *ref);

/* Whether the call's user holds a role in the current policy. */
bool call_has_role(struct call *c, struct policy_ref *p, enum policy_role r);

/* Begin the call's read transaction (renewed per call). */
int call_read(struct call *c, struct store_txn **t);

/* Free a finished call (its request and identities); NULL is fine. */
void call_free(struct call *c);

/* Dispatch a parsed call to its op handler (ops.c). */
void ops_dispatch(struct call *c);

#endif
