/*
 * client.c - a blocking-with-deadline client for the broker's unix socket.
 *
 * The socket is non-blocking and every read or write waits with poll() on
 * the time left until the deadline, so no signal or alarm is ever needed.
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

struct client {
	int fd;
	unsigned long next_id;
	char *buf;		/* bytes read past the last reply */
	size_t len, cap;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline; 0 ready, BRK_ERR_TIMEOUT, or IO. */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return BRK_ERR_TIMEOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return BRK_ERR_TIMEOUT;
		if (errno != EINTR)
			return BRK_ERR_IO;
	}
}

int
client_open(const char *path, int timeout_ms, struct client **out,
    struct brk_error *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	long long deadline = now_ms() + timeout_ms;
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
		if ((r = wait_fd(fd, POLLOUT, deadline)) != 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0 ||
		    soerr != 0) {
			r = r == BRK_ERR_TIMEOUT ? r : BRK_ERR_UNREACHABLE;
			brk_error_set(err, r, "cannot connect to %s: %s", path,
			    soerr ? strerror(soerr) : brk_strerror(r));
			goto out;
		}
	}
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

static int
send_all(int fd, const char *p, size_t len, long long deadline)
{
	ssize_t n;
	int r;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return BRK_ERR_UNREACHABLE;
		if ((r = wait_fd(fd, POLLOUT, deadline)) != 0)
			return r;
	}
	return 0;
}

/* Read until a newline is buffered; returns the line length (no newline). */
static int
read_line(struct client *c, size_t *linelen, long long deadline)
{
	char *nl, *nb;
	ssize_t n;
	int r;

	for (;;) {
		if (c->len > 0 && (nl = memchr(c->buf, '\n', c->len)) != NULL) {
			*linelen = (size_t)(nl - c->buf);
			return 0;
		}
		if (c->len > PROTO_MAX_LINE * 16)
			return BRK_ERR_PROTOCOL;
		if (c->cap - c->len < 4096) {
			nb = realloc(c->buf, c->cap + 65536);
			if (nb == NULL)
				return BRK_ERR_NOMEM;
			c->buf = nb;
			c->cap += 65536;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return BRK_ERR_UNREACHABLE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return BRK_ERR_UNREACHABLE;
		if ((r = wait_fd(c->fd, POLLIN, deadline)) != 0)
			return r;
	}
}

int
client_call(struct client *c, const char *op, json_t *args, const char *as,
    int timeout_ms, json_t **result, struct brk_error *err)
{
	long long deadline = now_ms() + timeout_ms;
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
	line[linelen] = '\n';	/* json_dumps leaves room for the NUL */
	if ((r = send_all(c->fd, line, linelen + 1, deadline)) != 0 ||
	    (r = read_line(c, &linelen, deadline)) != 0) {
		brk_error_set(err, r, "%s", r == BRK_ERR_TIMEOUT ?
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

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}
