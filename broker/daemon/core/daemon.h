/*
 * daemon.h - brokerd's context and the life of one call.
 *
 * struct brokerd is the daemon's only mutable state; everything else is
 * reached from it.  The life of one call (struct call, call_reply(),
 * call_fail(), ...) is in call.h, included here for daemon.h's users.
 */
#ifndef BRK_DAEMON_H
#define BRK_DAEMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "call.h"
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
struct req_op;
struct auditfeed;
struct notify;
struct metrics_http;
struct userca;
struct policy_follow;
struct checkcache;

/* A loaded policy version, shared by reference. */
struct policy_ref {
	struct policy *policy;
	uint64_t version;
	char sha256[65];
	int refs; /* guarded by brokerd.policy_lock */
};

struct brokerd {
	struct config *cfg;
	struct store *store;
	struct writer *writer;
	struct server *server;
	struct identity *ident;
	struct ca *ca;	       /* the signing key; read-only once open */
	struct workpool *pool; /* signing and reply building */
	pthread_mutex_t policy_lock;
	struct policy_ref *policy;    /* current; guarded by policy_lock */
	struct policy_follow *follow; /* policystate.c: other brokers' loads
				       * (PostgreSQL store); NULL otherwise */
	int64_t started_at;
	uint64_t counters[8];	/* requests by outcome, see ops */
	int sweep_queued;	/* a sweep is with the writer */
	struct auditfeed *feed; /* audit follower (auditfeed.h):
					 * subscribe before main() starts it */
	/* notifications and metrics (notify.h, metrics_http.h, ops_metrics.c) */
	struct notify *notify;	      /* NULL without a "notify" section */
	struct metrics_http *metrics; /* NULL without metrics_listen */
	uint64_t checks[2];	      /* op check: allowed, refused (atomic) */
	struct sess_hub *sessions;    /* open login sessions (ops_session.c) */
	struct userca *hostca;	      /* signs enrolled hosts' TLS certificates
				* (userca.h); NULL without a "tls" section */
	/* op check's remembered answers (ops/checkcache.h), own lock */
	struct checkcache *checks_kept;
	/* new grants' certificates waiting for the CA signer
	 * (ops_request.c), signed in batches by one pool job at a time */
	struct {
		pthread_mutex_t lock;
		struct req_op *head, *tail;
		bool running; /* a signing job is on the pool */
	} signq;
};

/* The current policy, referenced; release with policy_put(). */
struct policy_ref *policy_get(struct brokerd *d);
void policy_put(struct brokerd *d, struct policy_ref *ref);

/* Whether the call's user holds a role in the current policy. */
bool call_has_role(struct call *c, struct policy_ref *p, enum policy_role r);

/* Dispatch a parsed call to its op handler (ops.c); for the TLS
 * listener, which calls it directly.  The unix socket server reaches the
 * ops only through the struct server_ops that main.c gives it. */
void ops_dispatch(struct call *c);

#endif
