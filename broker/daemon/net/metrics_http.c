/*
 * metrics_http.c - a tiny HTTP/1.1 server for Prometheus scrapes.
 *
 * One thread, one connection at a time: accept, read the request head
 * (at most 8 KiB, within 5 seconds), answer, close.  Only "GET /metrics"
 * (and HEAD) is served; everything else gets a short error status.
 * Nothing here touches the broker's state but through the text function
 * that main.c passes (ops_metrics_text())
 * in a read transaction of its own, so a scraper never slows a grant; a
 * slow scraper only delays the next scrape, by 5 seconds at most.
 */
#include "metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

#define REQ_MAX 8192
#define IO_MS 5000

struct metrics_http {
	struct brokerd *d;
	metrics_text_fn text;
	int lfd;
	int stop[2]; /* a byte on stop[1] ends the thread */
	pthread_t thread;
	bool started;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Split "HOST:PORT" ("[v6]:PORT", ":PORT") into host (loopback when
 * empty) and port; host and port are at least 256 and 8 bytes. */
static int
split(const char *spec, char *host, char *port)
{
	const char *h = spec, *hend, *p;
	char *end = NULL;
	long n;

	if (strlen(spec) > 255)
		return -1;
	if (*h == '[') {
		h++;
		if ((hend = strchr(h, ']')) == NULL || hend[1] != ':')
			return -1;
		p = hend + 2;
	} else {
		if ((hend = strrchr(h, ':')) == NULL ||
		    memchr(h, ':', (size_t)(hend - h)) != NULL)
			return -1;
		p = hend + 1;
	}
	if (p[0] < '0' || p[0] > '9')
		return -1;
	n = strtol(p, &end, 10);
	if (*end != '\0' || n < 1 || n > 65535)
		return -1;
	if (hend == h)
		snprintf(host, 256, "127.0.0.1");
	else if (hend - h == 9 && strncmp(h, "localhost", 9) == 0)
		snprintf(host, 256, "127.0.0.1");
	else
		snprintf(host, 256, "%.*s", (int)(hend - h), h);
	snprintf(port, 8, "%ld", n);
	return 0;
}

static int
resolve(const char *spec, struct addrinfo **res, struct brk_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	char host[256], port[8];

	*res = NULL;
	if (split(spec, host, port) != 0 ||
	    getaddrinfo(host, port, &hints, res) != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: "
		    "\"metrics_listen\" must be \"HOST:PORT\" with HOST an IP "
		    "address, [v6], localhost or empty (loopback)");
	return 0;
}

int
metrics_http_addr_ok(const char *spec, struct brk_error *err)
{
	struct addrinfo *res = NULL;
	int r = resolve(spec, &res, err);

	freeaddrinfo(res);
	return r;
}

static bool
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)
				  ->sin_addr.s_addr) >>
			   24) == 127;
	return sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* Read the request head into buf; its length, or -1 (late, too big,
 * closed). */
static ssize_t
read_head(int fd, char *buf, size_t max, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;
	int64_t left;

	while (len < max) {
		if ((left = deadline - mono_ms()) <= 0 ||
		    poll(&pfd, 1, (int)left) <= 0)
			return -1;
		if ((n = read(fd, buf + len, max - len)) < 0 &&
		    (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL ||
		    strstr(buf, "\n\n") != NULL)
			return (ssize_t)len;
	}
	return -2; /* too big */
}

static void
write_all(int fd, const char *p, size_t len, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t n;
	int64_t left;

	while (len > 0) {
		if ((left = deadline - mono_ms()) <= 0 ||
		    poll(&pfd, 1, (int)left) <= 0)
			return;
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void
respond(int fd, int64_t deadline, const char *status, const char *extra,
    const char *body, size_t blen, bool head_only)
{
	char hdr[512];
	int n;

	n = snprintf(hdr, sizeof(hdr),
	    "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n"
	    "Cache-Control: no-store\r\n%s\r\n",
	    status,
	    strncmp(status, "200", 3) == 0 ?
		"text/plain; version=0.0.4; charset=utf-8" :
		"text/plain; charset=utf-8",
	    blen, extra);
	write_all(fd, hdr, (size_t)n, deadline);
	if (!head_only)
		write_all(fd, body, blen, deadline);
}

static void
serve_metrics(struct metrics_http *m, int fd, int64_t deadline, bool head_only)
{
	struct store_txn *t = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = store_begin(m->d->store, false, &t)) == 0) {
		r = m->text(m->d, t, &text, &len);
		store_abort(t);
	}
	if (r != 0) {
		log_warn("event=metrics_failed error=\"%s\"", brk_strerror(r));
		respond(fd, deadline, "500 Internal Server Error", "",
		    "cannot gather the metrics\n", 26, head_only);
	} else
		respond(fd, deadline, "200 OK", "", text, len, head_only);
	free(text);
}

static void
handle(struct metrics_http *m, int fd)
{
	int64_t deadline = mono_ms() + IO_MS;
	char buf[REQ_MAX + 1], method[8], target[64], version[16];
	ssize_t n = read_head(fd, buf, REQ_MAX, deadline);
	bool head;

	if (n == -2) {
		respond(fd, deadline, "431 Request Header Fields Too Large", "",
		    "request too large\n", 18, false);
		return;
	}
	if (n < 0)
		return; /* too slow or gone: just close */
	if (sscanf(buf, "%7[A-Z] %63[^ \r\n] %15[^ \r\n]", method, target,
		version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0) {
		respond(fd, deadline, "400 Bad Request", "", "bad request\n",
		    12, false);
		return;
	}
	head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head)
		respond(fd, deadline, "405 Method Not Allowed",
		    "Allow: GET, HEAD\r\n", "only GET\n", 9, false);
	else if (strcmp(target, "/metrics") != 0 &&
	    strncmp(target, "/metrics?", 9) != 0)
		respond(fd, deadline, "404 Not Found", "", "only /metrics\n",
		    14, head);
	else
		serve_metrics(m, fd, deadline, head);
}

static void *
http_main(void *arg)
{
	struct metrics_http *m = arg;
	struct pollfd pfd[2] = { { .fd = m->lfd, .events = POLLIN },
		{ .fd = m->stop[0], .events = POLLIN } };
	int fd;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents != 0)
			break;
		if ((fd = accept4(
			 m->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
			continue;
		handle(m, fd);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

static int
listen_on(struct metrics_http *m, const char *spec, struct brk_error *err)
{
	struct addrinfo *res = NULL;
	int one = 1, r;

	if ((r = resolve(spec, &res, err)) != 0)
		return r;
	r = BRK_ERR_IO;
	m->lfd = socket(
	    res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->lfd < 0 ||
	    setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) !=
		0 ||
	    bind(m->lfd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(m->lfd, 16) != 0) {
		brk_error_set(
		    err, r, "metrics_listen %s: %s", spec, strerror(errno));
		goto out;
	}
	if (!is_loopback(res->ai_addr))
		log_warn("event=metrics_listen addr=%s note=\"not loopback: "
			 "anyone who reaches it reads the metrics\"",
		    spec);
	r = 0;
out:
	freeaddrinfo(res);
	return r;
}

int
metrics_http_start(struct brokerd *d, metrics_text_fn text,
    struct metrics_http **out, struct brk_error *err)
{
	struct metrics_http *m;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if (d->cfg->metrics_listen == NULL)
		return 0;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return brk_error_set(err, r, "out of memory");
	m->d = d;
	m->text = text;
	m->lfd = m->stop[0] = m->stop[1] = -1;
	if ((r = listen_on(m, d->cfg->metrics_listen, err)) != 0)
		goto out;
	r = BRK_ERR_INTERNAL;
	if (pipe2(m->stop, O_CLOEXEC) != 0 ||
	    pthread_create(&m->thread, NULL, http_main, m) != 0) {
		brk_error_set(
		    err, r, "metrics_listen: cannot start the thread");
		goto out;
	}
	m->started = true;
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
	if (m->started) {
		(void)!write(m->stop[1], "x", 1);
		pthread_join(m->thread, NULL);
	}
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->stop[0] >= 0)
		close(m->stop[0]);
	if (m->stop[1] >= 0)
		close(m->stop[1]);
	free(m);
}
