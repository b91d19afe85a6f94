/*
 * tlsflood.c - test tool: many unauthenticated TCP peers on a TLS port.
 *
 *   tlsflood PORT N SOURCES MODE HOLD_MS [FIRST]
 *
 * Opens N TCP connections to 127.0.0.1:PORT, spread round-robin over
 * SOURCES source addresses 127.0.1.1+FIRST, 127.0.1.2+FIRST, ... (all of
 * 127/8 is loopback on Linux; FIRST defaults to 0), and holds them for
 * HOLD_MS.  MODE "idle" sends
 * nothing; "partial" sends the first 64 bytes of a 512-byte ClientHello
 * record and stalls.  Prints "opened=N" once every connection is up (on
 * stdout, flushed), then, at the end, "closed=C still_open=O
 * first_close_ms=F last_close_ms=L": how many the server closed during the
 * hold and when (ms after the last one opened; -1 when none).  SIGTERM
 * ends the hold early (and still prints the counts).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	stop = 1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A ClientHello's start: record header (handshake, 512 bytes), handshake
 * header (client_hello, 508 bytes), legacy version, then random bytes. */
static void
partial_hello(unsigned char *b, size_t len)
{
	static const unsigned char head[] = { 0x16, 0x03, 0x01, 0x02, 0x00,
		0x01, 0x00, 0x01, 0xfc, 0x03, 0x03 };
	size_t i;

	memcpy(b, head, sizeof(head));
	for (i = sizeof(head); i < len; i++)
		b[i] = (unsigned char)(i * 37 + 11);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET }, src = {
		.sin_family = AF_INET };
	unsigned char hello[64];
	struct pollfd *p;
	long long t0, now, end, first = -1, last = -1;
	int n, sources, hold, i, partial, closed = 0, open_n = 0, first_src;
	char buf[256];

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: tlsflood PORT N SOURCES idle|partial "
		    "HOLD_MS [FIRST]\n");
		return 2;
	}
	dst.sin_port = htons((unsigned short)atoi(argv[1]));
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = atoi(argv[2]);
	sources = atoi(argv[3]);
	partial = strcmp(argv[4], "partial") == 0;
	hold = atoi(argv[5]);
	first_src = argc > 6 ? atoi(argv[6]) : 0;
	if (n < 1 || sources < 1 || first_src < 0 ||
	    sources + first_src > 60000 ||
	    (p = calloc((size_t)n, sizeof(*p))) == NULL)
		return 2;
	partial_hello(hello, sizeof(hello));
	signal(SIGTERM, on_term);
	for (i = 0; i < n; i++) {
		p[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		p[i].events = POLLIN;
		/* 127.0.1.1 + i % sources */
		src.sin_addr.s_addr = htonl((127u << 24) + 257u +
		    (unsigned)(first_src + i % sources));
		if (p[i].fd < 0 || bind(p[i].fd, (struct sockaddr *)&src,
		    sizeof(src)) != 0 || connect(p[i].fd,
		    (struct sockaddr *)&dst, sizeof(dst)) != 0) {
			fprintf(stderr, "tlsflood: connection %d: %s\n", i,
			    strerror(errno));
			return 1;
		}
		if (partial && send(p[i].fd, hello, sizeof(hello),
		    MSG_NOSIGNAL) != (ssize_t)sizeof(hello)) {
			fprintf(stderr, "tlsflood: send: %s\n",
			    strerror(errno));
			return 1;
		}
	}
	printf("opened=%d\n", n);
	fflush(stdout);
	t0 = now_ms();
	end = t0 + hold;
	while ((now = now_ms()) < end && !stop) {
		if (poll(p, (nfds_t)n, (int)(end - now)) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			/* the server closed it (a handshake failure alert
			 * may come first: read until EOF or an error) */
			if (recv(p[i].fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				continue;
			close(p[i].fd);
			p[i].fd = -1;	/* poll ignores it from now on */
			closed++;
			if (first < 0)
				first = now_ms() - t0;
			last = now_ms() - t0;
		}
	}
	for (i = 0; i < n; i++)
		if (p[i].fd >= 0) {
			open_n++;
			close(p[i].fd);
		}
	printf("closed=%d still_open=%d first_close_ms=%lld "
	    "last_close_ms=%lld\n", closed, open_n, first, last);
	free(p);
	return 0;
}
