/*
 * metrics_http.h - an optional HTTP/1.1 endpoint for Prometheus: GET
 * /metrics only, served by libmicrohttpd (a thread per connection, a few
 * connections at most).
 *
 * The config's "metrics_listen" names the address: "127.0.0.1:9469",
 * "[::1]:9469", "localhost:9469", or ":9469" (loopback).  A non-loopback
 * address is allowed but logged: the metrics carry no secrets, yet say a
 * lot about who uses the broker how much.  A request is read within 5
 * seconds and 8 KiB, answered, and the connection closed.
 */
#ifndef BRK_METRICS_HTTP_H
#define BRK_METRICS_HTTP_H

#include "errors.h"

#include <stddef.h>

struct brokerd;
struct metrics_http;
struct store_txn;

/* Renders the metrics (malloc'd) read in t: ops_metrics_text(), given by
 * main.c so that this transport includes no op header. */
typedef int (*metrics_text_fn)(
    struct brokerd *d, struct store_txn *t, char **out, size_t *len);

/* Whether spec is a listen address this file accepts; err says why not. */
int metrics_http_addr_ok(const char *spec, struct brk_error *err);

/*
 * Bind d->cfg->metrics_listen and start the thread, which answers with
 * text().  Call after the store and writer are up.  Errors: BRK_ERR_IO (bind/listen, with err),
 * BRK_ERR_INVALID, BRK_ERR_NOMEM, BRK_ERR_INTERNAL (thread).
 */
int metrics_http_start(struct brokerd *d, metrics_text_fn text,
    struct metrics_http **out, struct brk_error *err);

/* Stop the thread, close the socket, free; NULL is fine. */
void metrics_http_stop(struct metrics_http *m);

#endif
