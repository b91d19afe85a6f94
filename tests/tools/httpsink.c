/*
 * httpsink.c - test tool: a small HTTP/1.1 server that records what is
 * POSTed to it, for the webhook tests.
 *
 *   httpsink DIR
 *   httpsink -c PORT
 *
 * Binds 127.0.0.1 on a free port, prints the port on standard output, and
 * serves until killed, one thread per connection (keep-alive honoured).
 * Request N (from 1) is recorded as DIR/head.N (request line and headers)
 * and then DIR/body.N (the body), each written whole under a temporary
 * name and renamed.  The answer is decided per request by files in DIR:
 *   DIR/hang    exists: never answer (the connection is held open until
 *               the file goes away; then the request is answered)
 *   DIR/status  holds a number: answer with that status (default 200)
 *
 * With -c it is a raw client instead: it connects to 127.0.0.1:PORT, copies
 * standard input to the connection as it comes, and the answer to
 * standard output until the server closes (at most 30 seconds).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define BODY_MAX (1 << 20)

static const char *dir;
static int counter;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void
save(const char *name, int n, const char *data, size_t len)
{
	char tmp[4096], path[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.%d.tmp", dir, name, n);
	snprintf(path, sizeof(path), "%s/%s.%d", dir, name, n);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fwrite(data, 1, len, f);
	fclose(f);
	rename(tmp, path);
}

static bool
exists(const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

static int
status_wanted(void)
{
	char path[4096];
	FILE *f;
	int code = 200;

	snprintf(path, sizeof(path), "%s/status", dir);
	if ((f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%d", &code) != 1 || code < 100 || code > 599)
			code = 200;
		fclose(f);
	}
	return code;
}

/* Read until "\r\n\r\n"; returns the head length (with the blank line)
 * and leaves any extra bytes in buf after it; -1 on EOF/error. */
static ssize_t
read_head(int fd, char *buf, size_t *have)
{
	char *end;
	ssize_t n;

	for (;;) {
		buf[*have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			return end + 4 - buf;
		if (*have >= HEAD_MAX)
			return -1;
		n = read(fd, buf + *have, HEAD_MAX - *have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		*have += (size_t)n;
	}
}

static size_t
content_length(const char *head)
{
	const char *p = head;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			return strtoul(p + 15, NULL, 10);
	}
	return 0;
}

static void *
serve(void *arg)
{
	int fd = (int)(intptr_t)arg, n, code;
	char *buf = malloc(HEAD_MAX + 1), *body = NULL, reply[256];
	size_t have = 0, clen, got;
	ssize_t hlen, r;

	while (buf != NULL) {
		if ((hlen = read_head(fd, buf, &have)) < 0)
			break;
		clen = content_length(buf);
		if (clen > BODY_MAX || (body = malloc(clen + 1)) == NULL)
			break;
		got = have - (size_t)hlen < clen ? have - (size_t)hlen : clen;
		memcpy(body, buf + hlen, got);
		while (got < clen) {
			r = read(fd, body + got, clen - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				goto out;
			got += (size_t)r;
		}
		pthread_mutex_lock(&lock);
		n = ++counter;
		pthread_mutex_unlock(&lock);
		save("head", n, buf, (size_t)hlen);
		save("body", n, body, clen);
		/* keep what followed this request for the next one */
		if (have - (size_t)hlen > clen) {
			memmove(buf, buf + hlen + clen, have - (size_t)hlen -
			    clen);
			have = have - (size_t)hlen - clen;
		} else
			have = 0;
		free(body);
		body = NULL;
		while (exists("hang"))
			usleep(50 * 1000);
		code = status_wanted();
		n = snprintf(reply, sizeof(reply), "HTTP/1.1 %d X\r\n"
		    "Content-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n",
		    code);
		if (send(fd, reply, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	}
out:
	free(body);
	free(buf);
	close(fd);
	return NULL;
}

static int
client(const char *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct pollfd pfd[2];
	char buf[65536];
	ssize_t n;
	int fd, nfds = 2;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)atoi(port));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		perror("httpsink: connect");
		return 1;
	}
	pfd[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = 0, .events = POLLIN };
	for (;;) {
		if (poll(pfd, (nfds_t)nfds, 30000) <= 0)
			return 1;
		if (pfd[0].revents != 0) {
			if ((n = read(fd, buf, sizeof(buf))) <= 0)
				return 0;
			fwrite(buf, 1, (size_t)n, stdout);
			fflush(stdout);
		}
		if (nfds == 2 && pfd[1].revents != 0) {
			if ((n = read(0, buf, sizeof(buf))) <= 0)
				nfds = 1;
			else if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
				nfds = 1;
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	pthread_t t;
	int lfd, fd;

	if (argc == 3 && strcmp(argv[1], "-c") == 0)
		return client(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: httpsink DIR | httpsink -c PORT\n");
		return 2;
	}
	dir = argv[1];
	signal(SIGPIPE, SIG_IGN);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 64) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) != 0) {
		perror("httpsink");
		return 1;
	}
	printf("%u\n", (unsigned)ntohs(sin.sin_port));
	fflush(stdout);
	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("httpsink: accept");
			return 1;
		}
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0)
			close(fd);
		else
			pthread_detach(t);
	}
}
