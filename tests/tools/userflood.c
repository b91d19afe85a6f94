/*
 * userflood.c - test tool: one user holding as many connections as the
 * daemon lets it, each flooding requests.
 *
 *   userflood SOCKET N SECONDS [noread]
 *
 * Opens N connections (those refused get one error line, which is kept
 * for the report), then for SECONDS writes status requests on every open
 * connection as fast as the daemon takes them, reading replies on only
 * every other connection (the rest leave theirs unread: back-pressure);
 * with "noread", on none.
 * Prints "open=O refused=R refusal=LINE sent=S" and exits 0.
 */
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

static const char req[] = "{\"v\":1,\"id\":\"f\",\"op\":\"status\"}\n";

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char refusal[512] = "", buf[65536], batch[64 * sizeof(req)];
	struct pollfd *p;
	int n, i, secs, open = 0, refused = 0, k;
	long long end, sent = 0;
	ssize_t r;

	if (argc < 4 || argc > 5 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: userflood SOCKET N SECONDS [noread]\n");
		return 2;
	}
	n = atoi(argv[2]);
	secs = atoi(argv[3]);
	if (n < 1 || (p = calloc((size_t)n, sizeof(*p))) == NULL)
		return 2;
	for (k = 0; k < 64; k++)
		memcpy(batch + k * (sizeof(req) - 1), req, sizeof(req) - 1);
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);
	for (i = 0; i < n; i++) {
		/* a blocking connect waits for room in the listen queue */
		p[i].fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (p[i].fd < 0 || connect(p[i].fd, (struct sockaddr *)&sun,
		    sizeof(sun)) != 0 || fcntl(p[i].fd, F_SETFL, O_NONBLOCK)
		    != 0) {
			if (p[i].fd >= 0)
				close(p[i].fd);
			p[i].fd = -1;
		}
	}
	/* a refused connection gets its error line and is closed at once */
	usleep(300000);
	for (i = 0; i < n; i++) {
		if (p[i].fd < 0)
			continue;
		r = recv(p[i].fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (r > 0 || r == 0) {
			if (r > 0 && refusal[0] == '\0') {
				buf[r] = '\0';
				buf[strcspn(buf, "\n")] = '\0';
				buf[sizeof(refusal) - 1] = '\0';
				memcpy(refusal, buf, strlen(buf) + 1);
			}
			refused++;
			close(p[i].fd);
			p[i].fd = -1;
			continue;
		}
		open++;
		p[i].events = POLLOUT | (i % 2 == 0 && argc == 4 ? POLLIN : 0);
	}
	end = now_ms() + secs * 1000LL;
	while (now_ms() < end) {
		if (poll(p, (nfds_t)n, 100) < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			if (p[i].fd < 0)
				continue;
			if (p[i].revents & POLLIN)
				while (recv(p[i].fd, buf, sizeof(buf),
				    MSG_DONTWAIT) > 0)
					;
			if (p[i].revents & POLLOUT && (r = send(p[i].fd,
			    batch, sizeof(batch), MSG_NOSIGNAL |
			    MSG_DONTWAIT)) > 0)
				sent += r / (ssize_t)(sizeof(req) - 1);
		}
	}
	printf("open=%d refused=%d refusal=%s sent=%lld\n", open, refused,
	    refusal, sent);
	for (i = 0; i < n; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	free(p);
	return 0;
}
