/*
 * httpd.h - what the two HTTP endpoints (metrics_http.c, web.c) share:
 * parsing a "HOST:PORT" listen address and binding it.  Both serve
 * through libmicrohttpd, on a socket bound here so that a bad address or
 * a busy port is a clear config error naming the key.
 */
#ifndef BRK_HTTPD_H
#define BRK_HTTPD_H

#include <stdbool.h>

#include "errors.h"

/*
 * Whether spec ("127.0.0.1:9469", "[::1]:9469", "localhost:9469",
 * ":9469" for loopback) is a listen address; err names key when not.
 * *loopback (may be NULL) says whether it is a loopback address.
 */
int httpd_addr_ok(
    const char *key, const char *spec, bool *loopback, struct brk_error *err);

/*
 * Bind and listen on spec (non-blocking, close-on-exec).  Sets *fd (-1
 * on entry) and *loopback.  Errors: BRK_ERR_INVALID (address, err names
 * key), BRK_ERR_IO (socket, bind or listen, with errno's words).
 */
int httpd_listen(const char *key, const char *spec, int *fd, bool *loopback,
    struct brk_error *err);

#endif
