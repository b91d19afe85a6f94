/*
 * fakebroker.c - test tool: a broker that misbehaves on a unix socket.
 *
 *   fakebroker MODE SOCKET [LIFETIME_S]
 *
 * MODE is "hang" (accept, read, never answer), "garbage" (answer every
 * line with bytes that are not a reply), "wrong" (a well-formed reply
 * about another user) or "close" (accept and close at once).  Serves one
 * connection at a time until LIFETIME_S (default 60) seconds have passed,
 * then exits by itself, so a test that forgets it leaves nothing behind.
 * Prints "ready" on stdout once listening.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void
serve(int fd, const char *mode, time_t end)
{
	static const char garbage[] = "\x01\x02this is not json}}\n";
	char buf[4096], out[512], *id, *q;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	while (time(NULL) < end && poll(&p, 1, 200) >= 0) {
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
			return;
		buf[n] = '\0';
		if (strcmp(mode, "garbage") == 0)
			send(fd, garbage, sizeof(garbage) - 1, MSG_NOSIGNAL);
		else if (strcmp(mode, "wrong") == 0) {
			/* echo the id so only the content is wrong */
			id = strstr(buf, "\"id\":\"");
			q = id != NULL ? strchr(id + 6, '"') : NULL;
			if (q == NULL)
				return;
			snprintf(out, sizeof(out), "{\"v\":1,\"id\":\"%.*s\","
			    "\"ok\":true,\"result\":{\"allowed\":true,"
			    "\"user\":\"someone-else\",\"resource\":"
			    "\"host:elsewhere\"}}\n", (int)(q - id - 6), id + 6);
			send(fd, out, strlen(out), MSG_NOSIGNAL);
		}
		/* "hang": read and say nothing */
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct pollfd p;
	time_t end;
	int lfd, fd;

	if (argc < 3 || strlen(argv[2]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: fakebroker hang|garbage|wrong|close "
		    "SOCKET [LIFETIME_S]\n");
		return 2;
	}
	end = time(NULL) + (argc > 3 ? atoi(argv[3]) : 60);
	strcpy(sun.sun_path, argv[2]);
	unlink(argv[2]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(lfd, 16) != 0) {
		perror("fakebroker");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	p.fd = lfd;
	p.events = POLLIN;
	while (time(NULL) < end) {
		if (poll(&p, 1, 200) <= 0)
			continue;
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		if (strcmp(argv[1], "close") != 0)
			serve(fd, argv[1], end);
		close(fd);
	}
	close(lfd);
	unlink(argv[2]);
	return 0;
}
