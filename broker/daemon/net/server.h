/*
 * server.h - the unix socket server and its event loop.
 */
#ifndef BRK_SERVER_H
#define BRK_SERVER_H

#include "daemon.h"

/*
 * What the server calls above it, given by main.c: the server includes no
 * op header.  dispatch runs on the I/O thread and must not block: it hands
 * slow work to the worker pool (ops.h says which op runs where).
 */
struct server_ops {
	void (*dispatch)(struct call *c); /* answer c, now or later */
	/* once a second, with the I/O thread's read transaction */
	void (*tick)(struct brokerd *d, struct store_txn **rtxn);
	void (*reload)(struct brokerd *d); /* SIGHUP */
	/* On a worker thread, where a new connection's identities were just
	 * resolved: run c right there when its op runs on the worker pool
	 * anyway (true), which spares it the trip through the I/O thread and
	 * back to the pool; false when it must be dispatched from the I/O
	 * thread (nothing done).  NULL: always through the I/O thread. */
	bool (*run_pooled)(struct call *c);
};

/* Bind and listen on d->cfg->socket; refuses to steal a live socket.
 * ops must outlive the server. */
int server_new(struct brokerd *d, const struct server_ops *ops,
    struct server **out, struct brk_error *err);

/*
 * Serve until SIGTERM or SIGINT (which must be blocked in every thread
 * before the call).  SIGHUP calls ops->reload.  Returns 0 on a clean stop.
 */
int server_run(struct server *s);

/* How long a call may stay unanswered before its connection is told so
 * and closed (default SERVER_CALL_DEADLINE_MS); for tests. */
#define SERVER_CALL_DEADLINE_MS (5 * 60 * 1000)
void server_set_call_deadline(struct server *s, long long ms);

/* Call after the writer and the worker pool have stopped: every call they
 * had is answered by then. */
void server_free(struct server *s);

#endif
