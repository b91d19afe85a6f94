/*
 * rawsend.c - test tool: send raw bytes to a broker socket, print replies.
 *
 *   rawsend SOCKET [TIMEOUT_MS] < bytes
 *
 * Sends stdin as-is (NULs, invalid UTF-8 and all), then prints every reply
 * line received until the peer closes or TIMEOUT_MS (default 2000) passes
 * without data.  Exit 0 if at least one reply came, 1 otherwise.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[65536];
	size_t total = 0;
	ssize_t n;
	int fd, timeout = argc > 2 ? atoi(argv[2]) : 2000;
	struct pollfd p;

	if (argc < 2 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: rawsend SOCKET [TIMEOUT_MS]\n");
		return 2;
	}
	strcpy(sun.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror("connect");
		return 2;
	}
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n) {
			perror("send");
			break;
		}
	p.fd = fd;
	p.events = POLLIN;
	while (poll(&p, 1, timeout) > 0) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
		total += (size_t)n;
	}
	close(fd);
	return total > 0 ? 0 : 1;
}
