/*
 * httpd.c - listen addresses for the HTTP endpoints (see httpd.h).
 *
 * Only numeric addresses (and "localhost"): a listen address that needs
 * a resolver at start-up would make the daemon's start depend on DNS.
 */
#include "httpd.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Split "HOST:PORT" ("[v6]:PORT", ":PORT") into host (loopback when
 * empty) and port; host and port are at least 256 and 8 bytes. */
static int
split(const char *spec, char *host, char *port)
{
	const char *h = spec, *hend, *p;
	char *end = NULL;
	long n;

	if (strlen(spec) > 255)
		return -1;
	if (*h == '[') {
		h++;
		if ((hend = strchr(h, ']')) == NULL || hend[1] != ':')
			return -1;
		p = hend + 2;
	} else {
		if ((hend = strrchr(h, ':')) == NULL ||
		    memchr(h, ':', (size_t)(hend - h)) != NULL)
			return -1;
		p = hend + 1;
	}
	if (p[0] < '0' || p[0] > '9')
		return -1;
	n = strtol(p, &end, 10);
	if (*end != '\0' || n < 1 || n > 65535)
		return -1;
	if (hend == h)
		snprintf(host, 256, "127.0.0.1");
	else if (hend - h == 9 && strncmp(h, "localhost", 9) == 0)
		snprintf(host, 256, "127.0.0.1");
	else
		snprintf(host, 256, "%.*s", (int)(hend - h), h);
	snprintf(port, 8, "%ld", n);
	return 0;
}

static bool
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)
				  ->sin_addr.s_addr) >>
			   24) == 127;
	return sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static int
resolve(const char *key, const char *spec, struct addrinfo **res,
    struct brk_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	char host[256], port[8];

	*res = NULL;
	if (split(spec, host, port) != 0 ||
	    getaddrinfo(host, port, &hints, res) != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: "
		    "\"%s\" must be \"HOST:PORT\" with HOST an IP "
		    "address, [v6], localhost or empty (loopback)",
		    key);
	return 0;
}

int
httpd_addr_ok(
    const char *key, const char *spec, bool *loopback, struct brk_error *err)
{
	struct addrinfo *res = NULL;
	int r = resolve(key, spec, &res, err);

	if (r == 0 && loopback != NULL)
		*loopback = is_loopback(res->ai_addr);
	freeaddrinfo(res);
	return r;
}

int
httpd_listen(const char *key, const char *spec, int *fd, bool *loopback,
    struct brk_error *err)
{
	struct addrinfo *res = NULL;
	int one = 1, r, s = -1;

	*fd = -1;
	if ((r = resolve(key, spec, &res, err)) != 0)
		return r;
	r = BRK_ERR_IO;
	s = socket(
	    res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(s, res->ai_addr, res->ai_addrlen) != 0 || listen(s, 64) != 0) {
		brk_error_set(err, r, "%s %s: %s", key, spec, strerror(errno));
		goto out;
	}
	*loopback = is_loopback(res->ai_addr);
	*fd = s;
	s = -1;
	r = 0;
out:
	if (s >= 0)
		close(s);
	freeaddrinfo(res);
	return r;
}
