/*
 * metrics_http.c - the Prometheus endpoint, served by libmicrohttpd.
 *
 * libmicrohttpd parses HTTP; this file only decides: "GET /metrics" (and
 * HEAD) is answered with the text that main.c's function renders in a
 * read transaction of its own, so a scraper never slows a grant;
 * everything else gets a short error status.  Each connection has its own
 * thread and at most 5 seconds, and only a few may be open at once, so a
 * silent client delays nobody and a crowd cannot pile threads up.  Every
 * answer closes its connection (a scrape is one request).
 */
#include "metrics_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon.h"
#include "httpd.h"
#include "log.h"

#define REQ_MAX 8192 /* request head, bytes */
#define IO_S 5	     /* seconds to send a request */
#define CONN_MAX 8   /* connections at once */

struct metrics_http {
	struct brokerd *d;
	metrics_text_fn text;
	int lfd;
	struct MHD_Daemon *mhd;
};

int
metrics_http_addr_ok(const char *spec, struct brk_error *err)
{
	return httpd_addr_ok("metrics_listen", spec, NULL, err);
}

/* Queue status with body (copied) and the headers every answer has. */
static enum MHD_Result
respond(struct MHD_Connection *conn, unsigned int status, const char *type,
    const char *body, size_t len, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(
	    len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "Connection", "close");
	if (allow != NULL)
		MHD_add_response_header(resp, "Allow", allow);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

#define PLAIN "text/plain; charset=utf-8"

static enum MHD_Result
serve_metrics(struct metrics_http *m, struct MHD_Connection *conn)
{
	struct store_txn *t = NULL;
	enum MHD_Result ret;
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = store_begin(m->d->store, false, &t)) == 0) {
		r = m->text(m->d, t, &text, &len);
		store_abort(t);
	}
	if (r != 0) {
		log_warn("event=metrics_failed error=\"%s\"", brk_strerror(r));
		return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, PLAIN,
		    "cannot gather the metrics\n", 26, NULL);
	}
	ret = respond(conn, MHD_HTTP_OK,
	    "text/plain; version=0.0.4; charset=utf-8", text, len, NULL);
	free(text);
	return ret;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	static int first;
	struct metrics_http *m = cls;

	if (*state == NULL) { /* the head is in: answer after the body */
		*state = &first;
		return MHD_YES;
	}
	if (*upload_len > 0) { /* a body is not wanted: drop it */
		*upload_len = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, PLAIN,
		    "only GET\n", 9, "GET, HEAD");
	if (strcmp(url, "/metrics") != 0)
		return respond(conn, MHD_HTTP_NOT_FOUND, PLAIN,
		    "only /metrics\n", 14, NULL);
	return serve_metrics(m, conn);
}

/* libmicrohttpd's own complaints (bad requests, too big) go to our log,
 * rate-free: it logs at most one line per bad connection. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\r\n")] = '\0';
	log_debug("event=%s detail=\"%s\"", (const char *)cls, line);
}

int
metrics_http_start(struct brokerd *d, metrics_text_fn text,
    struct metrics_http **out, struct brk_error *err)
{
	struct metrics_http *m;
	bool loopback = true;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if (d->cfg->metrics_listen == NULL)
		return 0;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return brk_error_set(err, r, "out of memory");
	m->d = d;
	m->text = text;
	m->lfd = -1;
	if ((r = httpd_listen("metrics_listen", d->cfg->metrics_listen, &m->lfd,
		 &loopback, err)) != 0)
		goto out;
	if (!loopback)
		log_warn("event=metrics_listen addr=%s note=\"not loopback: "
			 "anyone who reaches it reads the metrics\"",
		    d->cfg->metrics_listen);
	m->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
		MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handle, m, MHD_OPTION_LISTEN_SOCKET, m->lfd,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)IO_S,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONN_MAX,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)REQ_MAX,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, "metrics_http",
	    MHD_OPTION_END);
	if (m->mhd == NULL) {
		r = brk_error_set(err, BRK_ERR_INTERNAL,
		    "metrics_listen: cannot start the HTTP server");
		goto out;
	}
	log_info("event=metrics_ready listen=%s", d->cfg->metrics_listen);
	*out = m;
	m = NULL;
	r = 0;
out:
	metrics_http_stop(m);
	return r;
}

void
metrics_http_stop(struct metrics_http *m)
{
	if (m == NULL)
		return;
	if (m->mhd != NULL)
		MHD_stop_daemon(m->mhd);
	if (m->lfd >= 0)
		close(m->lfd);
	free(m);
}
