/*
 * pipeflood.c - test tool: a complete request line, then one line that
 * never ends.
 *
 *   pipeflood SOCKET MB
 *
 * Sends {"op":"status"} and its newline, then MB MiB of 'a' with no
 * newline, as fast as the daemon takes them: the request and the start of
 * the endless line go in one write, so that the daemon reads both before
 * it has a call in flight, and blocking writes of 1 MiB keep its socket
 * full from then on.  Replies are read at the end.  The daemon must answer the first line, refuse the
 * endless one, and hold no more than a line and a bit of it in memory.
 * Prints "sent=BYTES replies=N" and exits 0 when everything was sent.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char req[] = "{\"v\":1,\"id\":\"p\",\"op\":\"status\"}\n";

static size_t
count_lines(const char *b, ssize_t n)
{
	size_t k = 0;
	ssize_t i;

	for (i = 0; i < n; i++)
		k += b[i] == '\n';
	return k;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct pollfd p = { .events = POLLIN };
	static char chunk[1024 * 1024], buf[65536];
	size_t total, sent = 0, replies = 0, want;
	ssize_t n;
	int fd, deep = 64 * 1024 * 1024;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: pipeflood SOCKET MB\n");
		return 2;
	}
	total = (size_t)atol(argv[2]) * 1024 * 1024;
	memset(chunk, 'a', sizeof(chunk));
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror("pipeflood");
		return 1;
	}
	/* a deep send queue (root may force it) keeps data waiting for the
	 * daemon at every read, as a fast client on a busy host would */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &deep, sizeof(deep)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &deep, sizeof(deep));
	memcpy(chunk, req, sizeof(req) - 1);	/* the first write only */
	while (sent < total) {
		want = total - sent < sizeof(chunk) ? total - sent :
		    sizeof(chunk);
		if ((n = send(fd, chunk, want, MSG_NOSIGNAL)) <= 0)
			break;
		if (sent == 0)
			memset(chunk, 'a', sizeof(req) - 1);
		sent += (size_t)n;
	}
	send(fd, "\n", 1, MSG_NOSIGNAL);	/* end the line: it is refused */
	p.fd = fd;
	while (poll(&p, 1, 5000) > 0 && (n = recv(fd, buf, sizeof(buf), 0)) > 0)
		if ((replies += count_lines(buf, n)) >= 2)
			break;
	printf("sent=%zu replies=%zu\n", sent, replies);
	close(fd);
	return sent == total ? 0 : 1;
}
