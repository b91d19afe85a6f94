/*
 * notify_webhook.c - the "webhook" sink: POST each event as JSON.
 *
 * libcurl does the HTTP and the TLS (peer and host name verified, TLS 1.2
 * at least, the system's CAs or the configured "ca"); retries are ours: a
 * failed attempt (no connection, a timeout, HTTP 408, 429 or 5xx) is
 * retried after 0.5 s, 1 s, 2 s, ... (at most 30 s) up to `retries` times;
 * any other answer is final.  One thread delivers in order.  Redirects are
 * not followed.  Plain http:// is accepted only to a loopback address, for
 * tests and local relays.  The optional header (a bearer token, say) is
 * sent, never logged.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "log.h"
#include "notify_sink.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000

struct webhook {
	CURL *curl;
	bool plain_http; /* http:// to loopback */
};

static bool
loopback_host(const char *h)
{
	struct in_addr a4;

	if (strcmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0)
		return true;
	return inet_pton(AF_INET, h, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}

int
nsink_webhook_url_ok(const char *url, struct brk_error *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int r = BRK_ERR_INVALID;

	if (u == NULL)
		return BRK_ERR_NOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		brk_error_set(
		    err, r, "config: notify.webhook.url is not a URL");
		goto out;
	}
	if (strcmp(scheme, "https") != 0 &&
	    !(strcmp(scheme, "http") == 0 && loopback_host(host))) {
		brk_error_set(err, r,
		    "config: notify.webhook.url must be "
		    "https:// (http:// only to a loopback address)");
		goto out;
	}
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* Abort a transfer in progress once the daemon stops. */
static int
on_progress(
    void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	return nqueue_should_stop(arg) ? 1 : 0;
}

static struct curl_slist *
add_header(struct curl_slist *h, const char *line, bool *ok)
{
	struct curl_slist *nh;

	if (!*ok || (nh = curl_slist_append(h, line)) == NULL) {
		*ok = false;
		return h;
	}
	return nh;
}

/* One POST; 0 with *status set when an HTTP answer came. */
static int
post_once(struct nsink *s, const struct nevent *ev, long *status, char *errbuf)
{
	const struct notify_webhook_config *c = s->cfg;
	struct webhook *w = s->impl;
	struct curl_slist *h = NULL;
	char evh[96];
	bool ok = true;
	CURLcode cc;
	int r = BRK_ERR_NOMEM;

	snprintf(evh, sizeof(evh), "X-Broker-Event: %s", ev->name);
	h = add_header(h, "Content-Type: application/json", &ok);
	h = add_header(h, evh, &ok);
	h = add_header(h, "Expect:", &ok); /* no 100-continue round trip */
	if (c->header != NULL)
		h = add_header(h, c->header, &ok);
	if (!ok)
		goto out;
	curl_easy_reset(w->curl);
	errbuf[0] = '\0';
	curl_easy_setopt(w->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(
	    w->curl, CURLOPT_PROTOCOLS_STR, w->plain_http ? "http" : "https");
	curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(w->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(w->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(
	    w->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (c->ca != NULL)
		curl_easy_setopt(w->curl, CURLOPT_CAINFO, c->ca);
	if (w->plain_http)
		curl_easy_setopt(w->curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "brokerd");
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, (const char *)ev->json);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)ev->len);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)c->timeout * 1000);
	curl_easy_setopt(
	    w->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout * 1000);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(w->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(w->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(w->curl, CURLOPT_XFERINFODATA, &s->q);
	curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, errbuf);
	r = BRK_ERR_UNREACHABLE;
	if ((cc = curl_easy_perform(w->curl)) != CURLE_OK) {
		if (errbuf[0] == '\0')
			snprintf(errbuf, CURL_ERROR_SIZE, "%s",
			    curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, status);
	r = 0;
out:
	curl_slist_free_all(h);
	return r;
}

static bool
retryable(int r, long status)
{
	return r != 0 || status == 408 || status == 429 || status >= 500;
}

static int
webhook_deliver(struct nsink *s, const struct nevent *ev)
{
	const struct notify_webhook_config *c = s->cfg;
	char errbuf[CURL_ERROR_SIZE];
	int64_t delay = BACKOFF_FIRST_MS;
	long status = 0;
	int attempt, r;

	for (attempt = 0;; attempt++) {
		status = 0;
		r = post_once(s, ev, &status, errbuf);
		if (r == 0 && status >= 200 && status < 300)
			return 0;
		if (!retryable(r, status) || attempt >= c->retries ||
		    nqueue_should_stop(&s->q))
			break;
		if (nqueue_sleep(&s->q, delay))
			break; /* stopping: no more retries */
		nqueue_count_retry(&s->q);
		delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
	}
	if (r != 0)
		log_warn("event=notify_failed sink=webhook notify_event=%s "
			 "attempts=%d error=\"%.200s\"",
		    ev->name, attempt + 1, errbuf);
	else
		log_warn("event=notify_failed sink=webhook notify_event=%s "
			 "attempts=%d status=%ld",
		    ev->name, attempt + 1, status);
	return BRK_ERR_IO;
}

static void
webhook_fini(struct nsink *s)
{
	struct webhook *w = s->impl;

	if (w == NULL)
		return;
	curl_easy_cleanup(w->curl);
	free(w);
	s->impl = NULL;
	curl_global_cleanup();
}

static int
webhook_init(struct nsink *s, const void *section)
{
	const struct notify_webhook_config *c = section;
	struct webhook *w;

	s->cfg = c;
	s->deliver = webhook_deliver;
	s->nthreads = 1; /* in order */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return BRK_ERR_INTERNAL;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->curl = curl_easy_init()) == NULL) {
		free(w);
		curl_global_cleanup();
		return BRK_ERR_NOMEM;
	}
	w->plain_http = strncasecmp(c->url, "http://", 7) == 0;
	s->impl = w;
	s->fini = webhook_fini;
	return 0;
}

static const void *
webhook_section(const struct notify_config *c)
{
	return c->webhook;
}

static size_t
webhook_queue_max(const void *section)
{
	return (size_t)((const struct notify_webhook_config *)section)->queue;
}

const struct nsink_kind nsink_webhook_kind = { .name = "webhook",
	.section = webhook_section,
	.queue_max = webhook_queue_max,
	.init = webhook_init };
