/*
 * latency.c - test tool: how long one request takes, on a fresh
 * connection each time (as pam_broker.so makes them).
 *
 *   latency SOCKET COUNT LINE
 *
 * Sends LINE (a request, without its newline) COUNT times, each on a new
 * connection, 20 ms apart, and waits up to 5 s for each reply.  Prints
 * "ok=N failed=F p90_ms=P max_ms=M" and exits 0 when every reply was
 * "ok":true.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char line[4096], buf[65536];
	int i, count, fd, good = 0, bad = 0;
	double t0, ms, max = 0, *all, p90;
	struct pollfd p = { .events = POLLIN };
	size_t len, got;
	ssize_t n;

	if (argc != 4 || strlen(argv[1]) >= sizeof(sun.sun_path) ||
	    strlen(argv[3]) + 2 > sizeof(line)) {
		fprintf(stderr, "usage: latency SOCKET COUNT LINE\n");
		return 2;
	}
	count = atoi(argv[2]);
	if (count < 1 || (all = calloc((size_t)count, sizeof(*all))) == NULL)
		return 2;
	len = (size_t)snprintf(line, sizeof(line), "%s\n", argv[3]);
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);
	for (i = 0; i < count; i++) {
		usleep(20000);
		t0 = now_ms();
		got = 0;
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0 && send(fd, line, len, MSG_NOSIGNAL) ==
		    (ssize_t)len) {
			p.fd = fd;
			while (got < sizeof(buf) - 1 && poll(&p, 1, 5000) > 0 &&
			    (n = recv(fd, buf + got, sizeof(buf) - 1 - got,
			    0)) > 0) {
				got += (size_t)n;
				if (memchr(buf, '\n', got) != NULL)
					break;
			}
		}
		ms = now_ms() - t0;
		buf[got] = '\0';
		if (strstr(buf, "\"ok\":true") != NULL)
			good++;
		else {
			bad++;
			fprintf(stderr, "latency: %s\n", got ? buf : "no reply");
		}
		all[i] = ms;
		if (ms > max)
			max = ms;
		if (fd >= 0)
			close(fd);
	}
	qsort(all, (size_t)count, sizeof(*all), cmp);
	p90 = all[(count * 9) / 10 - (count >= 10)];
	printf("ok=%d failed=%d p90_ms=%.1f max_ms=%.1f\n", good, bad, p90,
	    max);
	free(all);
	return bad == 0 ? 0 : 1;
}
