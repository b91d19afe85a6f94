/*
 * connflood.c - test tool: many connections and slow clients at once.
 *
 *   connflood SOCKET N [STALL]
 *
 * Opens N connections and keeps them open.  With STALL, each connection
 * first sends half a request line and stops (a slow-loris client).  Then a
 * fresh connection sends {"op":"status"} and must be answered within 2 s
 * despite the others; finally each of the N connections that is still
 * open (without STALL) sends a status request and must be answered.
 * Prints "answered=A refused=R fresh=ok|late" and exits 0 when the fresh
 * request was answered in time.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char req[] = "{\"v\":1,\"id\":\"x\",\"op\":\"status\"}\n";

static int
dial(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* 1 answered ok, 0 refused (busy) or closed, -1 no answer in time. */
static int
ask(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[8192];
	ssize_t n;

	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0) {
		if (poll(&p, 1, 100) > 0 && (n = recv(fd, buf, sizeof(buf) - 1,
		    0)) > 0) {
			buf[n] = '\0';
			return strstr(buf, "\"ok\":true") ? 1 : 0;
		}
		return 0;
	}
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "\"ok\":true") != NULL ? 1 : 0;
}

int
main(int argc, char **argv)
{
	int n, i, *fds, answered = 0, refused = 0, fresh, stall;

	if (argc < 3 || strlen(argv[1]) >= 108) {
		fprintf(stderr, "usage: connflood SOCKET N [STALL]\n");
		return 2;
	}
	n = atoi(argv[2]);
	stall = argc > 3;
	if (n < 1 || (fds = calloc((size_t)n, sizeof(int))) == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		fds[i] = dial(argv[1]);
		if (fds[i] >= 0 && stall)
			send(fds[i], "{\"v\":1,\"id\":", 12, MSG_NOSIGNAL);
	}
	usleep(200000);
	i = dial(argv[1]);
	fresh = i >= 0 ? ask(i, 2000) : 0;
	if (i >= 0)
		close(i);
	for (i = 0; i < n && !stall; i++) {
		if (fds[i] < 0) {
			refused++;
			continue;
		}
		if (ask(fds[i], 5000) == 1)
			answered++;
		else
			refused++;
	}
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	printf("answered=%d refused=%d fresh=%s\n", answered, refused,
	    fresh == 1 ? "ok" : "late");
	free(fds);
	return fresh == 1 ? 0 : 1;
}
