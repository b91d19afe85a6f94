/*
 * closechurn.c - test tool: clients that close between a reply and the
 * daemon's next event on their connection.
 *
 *   closechurn SOCKET ROUNDS [WIDTH]
 *
 * Each round opens WIDTH connections (default 32), sends a request that
 * the writer thread answers (cancel of a request that does not exist) on
 * each, waits a few microseconds (varied per round) and closes them all
 * without reading.  The daemon then finds, in one epoll batch, both the
 * reply to flush (which fails: the peer is gone) and the hang-up of the
 * same connection: the pattern that once freed a connection inside the
 * batch and used it again.  Meanwhile a thread keeps the daemon's I/O
 * thread busy with status requests on 16 other connections, so that its
 * batches are long and the hang-ups land inside them.  Finally a fresh connection must still get an
 * answer.  Prints "rounds=N alive=yes|no" and exits 0 when alive.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char req[] = "{\"v\":1,\"id\":\"c\",\"op\":\"status\"}\n";
/* answered by the writer thread, so the reply comes back through the
 * done queue while the connection is otherwise idle */
static const char slow[] = "{\"v\":1,\"id\":\"c\",\"op\":\"cancel\","
    "\"args\":{\"id\":\"r999999999\"}}\n";

static int
dial(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void
pause_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	if (us > 0)
		nanosleep(&ts, NULL);
}

/* Whether a fresh connection is answered within 5 s. */
static int
alive(const char *path)
{
	struct pollfd p = { .events = POLLIN };
	char buf[4096];
	ssize_t n;
	int fd, ok = 0, tries;

	/* the hung-up connections whose calls are still with the writer
	 * count against max_connections for a moment: retry a "busy" */
	for (tries = 0; tries < 50 && !ok; tries++) {
		if (tries > 0)
			pause_us(100000);
		if ((fd = dial(path)) < 0)
			return 0;
		p.fd = fd;
		if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) ==
		    (ssize_t)(sizeof(req) - 1) && poll(&p, 1, 5000) > 0 &&
		    (n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = '\0';
			ok = strstr(buf, "\"ok\":true") != NULL;
		}
		close(fd);
	}
	return ok;
}

static atomic_bool stop;

/* Keep the I/O thread busy: 16 connections, each one request at a time. */
static void *
busy(void *arg)
{
	const char *path = arg;
	struct pollfd p[16];
	char buf[8192];
	int i;

	for (i = 0; i < 16; i++) {
		p[i].fd = dial(path);
		p[i].events = POLLIN;
		if (p[i].fd >= 0)
			send(p[i].fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
	}
	while (!atomic_load(&stop) && poll(p, 16, 100) >= 0)
		for (i = 0; i < 16; i++)
			if (p[i].revents & POLLIN && recv(p[i].fd, buf,
			    sizeof(buf), MSG_DONTWAIT) > 0)
				send(p[i].fd, req, sizeof(req) - 1,
				    MSG_NOSIGNAL);
	for (i = 0; i < 16; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th;
	int rounds, width = 32, i, j, *fds, up;

	if (argc < 3 || strlen(argv[1]) >= 108) {
		fprintf(stderr, "usage: closechurn SOCKET ROUNDS [WIDTH]\n");
		return 2;
	}
	rounds = atoi(argv[2]);
	if (argc > 3)
		width = atoi(argv[3]);
	if (rounds < 1 || width < 1 || width > 4096 ||
	    (fds = calloc((size_t)width, sizeof(int))) == NULL)
		return 2;
	if (pthread_create(&th, NULL, busy, argv[1]) != 0)
		return 2;
	for (i = 0; i < rounds; i++) {
		for (j = 0; j < width; j++)
			if ((fds[j] = dial(argv[1])) >= 0 && send(fds[j], slow,
			    sizeof(slow) - 1, MSG_NOSIGNAL) < 0) {
				close(fds[j]);
				fds[j] = -1;
			}
		/* from "before the daemon read it" to "after the reply":
		 * varied so that some closes land between the two */
		pause_us((i * 37) % 1500);
		for (j = 0; j < width; j++)
			if (fds[j] >= 0)
				close(fds[j]);
	}
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	up = alive(argv[1]);
	printf("rounds=%d alive=%s\n", rounds, up ? "yes" : "no");
	free(fds);
	return up ? 0 : 1;
}
