/*
 * pipeflood.c - test tool: a complete request line, then one line that
 * never ends.
 *
 *   pipeflood SOCKET MB
 *
 * Sends {"op":"status"} and its newline, then MB MiB of 'a' with no
 * newline, as fast as the daemon takes them (replies are read and
 * dropped on the way).  The daemon must answer the first line, refuse the
 * endless one, and hold no more than a line and a bit of it in memory.
 * Prints "sent=BYTES replies=N" and exits 0 when everything was sent.
 */
#include <errno.h>
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
	struct pollfd p = { .events = POLLIN | POLLOUT };
	static char chunk[65536], buf[65536];
	size_t total, sent = 0, replies = 0;
	ssize_t n;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: pipeflood SOCKET MB\n");
		return 2;
	}
	total = (size_t)atol(argv[2]) * 1024 * 1024;
	memset(chunk, 'a', sizeof(chunk));
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0) {
		perror("pipeflood");
		return 1;
	}
	p.fd = fd;
	while (sent < total) {
		if (poll(&p, 1, 10000) <= 0)
			break;		/* the daemon stopped reading: stuck */
		if (p.revents & POLLIN) {
			if ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) == 0)
				break;
			if (n > 0)
				replies += count_lines(buf, n);
		}
		if (p.revents & POLLOUT) {
			n = send(fd, chunk, total - sent < sizeof(chunk) ?
			    total - sent : sizeof(chunk),
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				break;
			if (n > 0)
				sent += (size_t)n;
		}
		if (p.revents & (POLLHUP | POLLERR))
			break;
	}
	send(fd, "\n", 1, MSG_NOSIGNAL);	/* end the line: it is refused */
	p.events = POLLIN;
	while (poll(&p, 1, 2000) > 0 && (n = recv(fd, buf, sizeof(buf), 0)) > 0)
		if ((replies += count_lines(buf, n)) >= 2)
			break;
	printf("sent=%zu replies=%zu\n", sent, replies);
	close(fd);
	return sent == total ? 0 : 1;
}
