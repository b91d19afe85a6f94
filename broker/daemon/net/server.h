/*
 * server.h - the unix socket server and its event loop.
 */
#ifndef BRK_SERVER_H
#define BRK_SERVER_H

#include "daemon.h"

/* Bind and listen on d->cfg->socket; refuses to steal a live socket. */
int server_new(struct brokerd *d, struct server **out, struct brk_error *err);

/*
 * Serve until SIGTERM or SIGINT (which must be blocked in every thread
 * before the call).  SIGHUP calls ops_reload().  Returns 0 on a clean stop.
 */
int server_run(struct server *s);

void server_free(struct server *s);

/* Per-second housekeeping and SIGHUP, implemented by the ops layer. */
void ops_tick(struct brokerd *d, struct store_txn **rtxn);
void ops_reload(struct brokerd *d);

#endif
