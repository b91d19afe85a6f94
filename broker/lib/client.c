/*
 * client.c - a blocking-with-deadline client for the broker's unix socket.
 *
 * The socket is non-blocking and every read or write waits with poll() on
 * the time left until the deadline, so no signal or alarm is ever needed.
 * The same client speaks over a unix socket or, through tls_client.c, over
 * TLS to a remote broker: only send_all()/recv_some() tell them apart.
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "proto.h"
#include "tls_client.h"

/* Replies may be large (a list of 10,000 requests); requests may not. */
#define CLIENT_MAX_REPLY (32 * 1024 * 1024)

struct client {
	int fd;
	struct tls_conn *tls; /* NULL on a unix socket */
	unsigned long next_id;
	char *buf; /* bytes read past the last reply */
	size_t len, cap;
};

int
client_parse_uid(const char *s, uid_t *out, struct brk_error *err)
{
	struct passwd pw, *res = NULL;
	unsigned long long n;
	char *end = NULL, *buf = NULL;
	size_t len = 16384;
	int e, r = BRK_ERR_INVALID;

	if (s == NULL || s[0] == '\0' || strlen(s) > 64) {
		brk_error_set(err, r,
		    "a server uid must be a number or a "
		    "user name");
		goto out;
	}
	if (s[0] >= '0' && s[0] <= '9') {
		errno = 0;
		n = strtoull(s, &end, 10);
		if (errno != 0 || *end != '\0' || n >= (uid_t)-1) {
			brk_error_set(err, r, "bad server uid \"%s\"", s);
			goto out;
		}
		*out = (uid_t)n;
		r = 0;
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((buf = malloc(len)) == NULL)
		goto out;
	e = getpwnam_r(s, &pw, buf, len, &res);
	r = BRK_ERR_NOTFOUND;
	if (e != 0 || res == NULL) {
		brk_error_set(err, r, "server user \"%s\" does not exist", s);
		goto out;
	}
	*out = pw.pw_uid;
	r = 0;
out:
	free(buf);
	return r;
}

/* Who listens on fd, by the kernel's word; 0 when one we trust. */
static int
check_server(int fd, const char *path, uid_t server_uid, struct brk_error *err)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    len != sizeof(cr))
		return brk_error_set(err, BRK_ERR_VERIFY,
		    "cannot tell who "
		    "serves %s: %s",
		    path, strerror(errno));
	if (cr.uid == 0 || cr.uid == geteuid() ||
	    (server_uid != CLIENT_NO_UID && cr.uid == server_uid))
		return 0;
	return brk_error_set(err, BRK_ERR_VERIFY,
	    "%s is served by uid %lu, "
	    "not by root, uid %lu (ours) or the configured server uid: not "
	    "trusting it",
	    path, (unsigned long)cr.uid, (unsigned long)geteuid());
}

int
client_open(const char *path, int timeout_ms, struct client **out,
    struct brk_error *err)
{
	return client_open_as(path, CLIENT_NO_UID, timeout_ms, out, err);
}

int
client_open_as(const char *path, uid_t server_uid, int timeout_ms,
    struct client **out, struct brk_error *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	long long deadline = deadline_now_ms() + timeout_ms;
	struct client *c = NULL;
	socklen_t elen = sizeof(int);
	int r = BRK_ERR_UNREACHABLE, fd = -1, soerr = 0;

	*out = NULL;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		brk_error_set(err, r, "socket path too long: %s", path);
		goto out;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		brk_error_set(err, r, "socket: %s", strerror(errno));
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			brk_error_set(err, r, "cannot connect to %s: %s", path,
			    strerror(errno));
			goto out;
		}
		if ((r = deadline_wait_fd(fd, POLLOUT, deadline)) != 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0 ||
		    soerr != 0) {
			r = r == BRK_ERR_TIMEOUT ? r : BRK_ERR_UNREACHABLE;
			brk_error_set(err, r, "cannot connect to %s: %s", path,
			    soerr ? strerror(soerr) : brk_strerror(r));
			goto out;
		}
	}
	if ((r = check_server(fd, path, server_uid, err)) != 0)
		goto out;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	c->fd = fd;
	fd = -1;
	*out = c;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* A non-blocking TCP connection to one address, within the deadline. */
static int
tcp_connect(const struct addrinfo *ai, long long deadline, int *out)
{
	socklen_t elen = sizeof(int);
	int fd, r = BRK_ERR_UNREACHABLE, soerr = 0;

	*out = -1;
	fd = socket(ai->ai_family,
	    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return r;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			close(fd);
			return r;
		}
		if ((r = deadline_wait_fd(fd, POLLOUT, deadline)) != 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0 ||
		    soerr != 0) {
			close(fd);
			return r == BRK_ERR_TIMEOUT ? r : BRK_ERR_UNREACHABLE;
		}
	}
	*out = fd;
	return 0;
}

int
client_open_tls(const char *host, const char *port,
    const struct client_tls *tls, int timeout_ms, struct client **out,
    struct brk_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
	long long deadline = deadline_now_ms() + timeout_ms;
	struct addrinfo *res = NULL, *ai;
	struct client *c = NULL;
	int r = BRK_ERR_UNREACHABLE, fd = -1, g;

	*out = NULL;
	if (host == NULL || port == NULL || tls == NULL ||
	    (tls->ca == NULL && tls->pin == NULL) ||
	    (tls->cert == NULL) != (tls->key == NULL)) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "TLS client needs a "
		    "host, a port, ca (or a pin), and cert with key or "
		    "neither");
		goto out;
	}
	if ((g = getaddrinfo(host, port, &hints, &res)) != 0) {
		brk_error_set(
		    err, r, "cannot resolve %s: %s", host, gai_strerror(g));
		goto out;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		if ((r = tcp_connect(ai, deadline, &fd)) == BRK_ERR_TIMEOUT)
			break;
	if (fd < 0) {
		brk_error_set(err, r, "cannot connect to %s port %s: %s", host,
		    port, brk_strerror(r));
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto out;
	c->fd = fd;
	fd = -1;
	if ((r = tls_conn_connect(c->fd, host, tls->ca, tls->pin, tls->cert,
		 tls->key, tls->session, deadline, &c->tls, err)) != 0)
		goto out;
	*out = c;
	c = NULL;
	r = 0;
out:
	client_free(c);
	if (fd >= 0)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	return r;
}

static int
send_all(struct client *c, const char *p, size_t len, long long deadline)
{
	ssize_t n;
	int r;

	if (c->tls != NULL)
		return tls_conn_write(c->tls, p, len, deadline);
	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return BRK_ERR_UNREACHABLE;
		if ((r = deadline_wait_fd(c->fd, POLLOUT, deadline)) != 0)
			return r;
	}
	return 0;
}

/* Read some bytes: the count, 0 at EOF, or a BRK_ERR_* code.  wait_first:
 * nothing can have come yet (the request has just left), so wait before
 * the first read instead of trying a read that would find nothing. */
static ssize_t
recv_some(struct client *c, char *buf, size_t len, long long deadline,
    bool wait_first)
{
	ssize_t n;
	int r;

	if (c->tls != NULL)
		return tls_conn_read(c->tls, buf, len, deadline);
	if (wait_first && (r = deadline_wait_fd(c->fd, POLLIN, deadline)) != 0)
		return r;
	for (;;) {
		n = recv(c->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return BRK_ERR_UNREACHABLE;
		if ((r = deadline_wait_fd(c->fd, POLLIN, deadline)) != 0)
			return r;
	}
}

/* Read until a newline is buffered; returns the line length (no newline).
 * The request has just been sent: the first read waits for the reply. */
static int
read_line(struct client *c, size_t *linelen, long long deadline)
{
	bool first = true;
	char *nl, *nb;
	ssize_t n;

	for (;;) {
		if (c->len > 0 && (nl = memchr(c->buf, '\n', c->len)) != NULL) {
			*linelen = (size_t)(nl - c->buf);
			return 0;
		}
		if (c->len > CLIENT_MAX_REPLY)
			return BRK_ERR_PROTOCOL;
		if (c->cap - c->len < 4096) {
			nb = realloc(c->buf, c->cap + 65536);
			if (nb == NULL)
				return BRK_ERR_NOMEM;
			c->buf = nb;
			c->cap += 65536;
		}
		n = recv_some(
		    c, c->buf + c->len, c->cap - c->len, deadline, first);
		first = false;
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		return n == 0 ? BRK_ERR_UNREACHABLE : (int)n;
	}
}

int
client_call(struct client *c, const char *op, json_t *args, const char *as,
    int timeout_ms, json_t **result, struct brk_error *err)
{
	long long deadline = deadline_now_ms() + timeout_ms;
	json_t *req = NULL;
	char id[32], *line = NULL;
	size_t linelen = 0;
	int r = BRK_ERR_NOMEM;

	*result = NULL;
	snprintf(id, sizeof(id), "c%lu", ++c->next_id);
	req = json_pack("{s:i, s:s, s:s, s:o}", "v", 1, "id", id, "op", op,
	    "args", args != NULL ? json_incref(args) : json_object());
	if (req == NULL)
		goto out;
	if (as != NULL && json_object_set_new(req, "as", json_string(as)) != 0)
		goto out;
	if ((line = json_dumps(req, JSON_COMPACT)) == NULL)
		goto out;
	linelen = strlen(line);
	line[linelen] = '\n'; /* json_dumps leaves room for the NUL */
	if ((r = send_all(c, line, linelen + 1, deadline)) != 0 ||
	    (r = read_line(c, &linelen, deadline)) != 0) {
		brk_error_set(err, r, "%s",
		    r == BRK_ERR_TIMEOUT ?
			"the broker did not answer in time" :
			"the connection to the broker broke");
		goto out;
	}
	r = proto_parse_reply(c->buf, linelen, id, result, err);
	memmove(c->buf, c->buf + linelen + 1, c->len - linelen - 1);
	c->len -= linelen + 1;
out:
	free(line);
	json_decref(req);
	return r;
}

int
client_save_session(struct client *c, const char *path, struct brk_error *err)
{
	if (c == NULL || c->tls == NULL)
		return brk_error_set(
		    err, BRK_ERR_INVALID, "not a TLS connection");
	return tls_conn_save_session(c->tls, path, err);
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	tls_conn_free(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}
