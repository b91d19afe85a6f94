/*
 * tlsbench.c - `check` over mutual TLS, one connection per call, with TLS
 * 1.3 session resumption: what a host that keeps its session ticket pays
 * per decision.
 *
 *   tlsbench SERVERNAME PORT CA CERT KEY RESOURCE USER N
 *
 * One client context for the run (CA, certificate and key read once).
 * Each call: TCP connect to 127.0.0.1:PORT, a TLS 1.3 handshake offering
 * the last ticket the broker sent (the first call has none), one "check"
 * line, its reply, close.  Timed from connect() to the reply's newline.
 * After 20 warm-up calls, N calls.  Prints one line: calls=.. resumed=..
 * allowed=.. failed=.. p50_us=.. p90_us=.. p99_us=.. max_us=..
 * Exits 0 when every call was answered.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define WARMUP 20

static double
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One call; 0 with *allowed and *resumed set, or -1.  *sess: the ticket to
 * offer, replaced by the newest one received. */
static int
one_call(SSL_CTX *ctx, const char *name, int port, const char *line,
    SSL_SESSION **sess, int *allowed, int *resumed)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char buf[4096];
	size_t used = 0;
	SSL *ssl = NULL;
	int fd, one = 1, r = -1, n;

	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_tlsext_host_name(ssl, name) != 1 ||
	    SSL_set1_host(ssl, name) != 1)
		goto out;
	if (*sess != NULL)
		SSL_set_session(ssl, *sess);
	if (SSL_connect(ssl) != 1 ||
	    SSL_write(ssl, line, (int)strlen(line)) != (int)strlen(line))
		goto out;
	while (used < sizeof(buf) - 1) {
		if ((n = SSL_read(ssl, buf + used,
			 (int)(sizeof(buf) - 1 - used))) <= 0)
			goto out;
		used += (size_t)n;
		buf[used] = '\0';
		if (strchr(buf, '\n') != NULL)
			break;
	}
	if (strchr(buf, '\n') == NULL || strstr(buf, "\"ok\":true") == NULL)
		goto out;
	*allowed = strstr(buf, "\"allowed\":true") != NULL;
	*resumed = SSL_session_reused(ssl);
	/* the ticket came before the reply: keep the newest one */
	if (SSL_get0_session(ssl) != NULL &&
	    SSL_SESSION_is_resumable(SSL_get0_session(ssl))) {
		SSL_SESSION_free(*sess);
		*sess = SSL_get1_session(ssl);
	}
	(void)SSL_shutdown(ssl);
	r = 0;
out:
	SSL_free(ssl);
	close(fd);
	return r;
}

int
main(int argc, char **argv)
{
	SSL_SESSION *sess = NULL;
	SSL_CTX *ctx;
	char line[512];
	double *lat, t0;
	long i, n, got = 0, resumed = 0, allowed = 0, failed = 0;
	int a, rs;

	if (argc != 9 || (n = atol(argv[8])) < 1 || n > 10000000) {
		fprintf(stderr, "usage: tlsbench SERVERNAME PORT CA CERT KEY "
				"RESOURCE USER N\n");
		return 2;
	}
	if ((lat = calloc((size_t)n, sizeof(*lat))) == NULL)
		return 1;
	snprintf(line, sizeof(line),
	    "{\"v\":1,\"id\":\"1\",\"op\":\"check\",\"args\":{\"user\":\"%s\","
	    "\"resource\":\"%s\"}}\n",
	    argv[7], argv[6]);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, argv[4]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[5], SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	for (i = 0; i < n + WARMUP; i++) {
		t0 = now_us();
		if (one_call(ctx, argv[1], atoi(argv[2]), line, &sess, &a,
			&rs) != 0) {
			if (failed++ < 3) {
				fprintf(stderr, "tlsbench: call %ld failed\n",
				    i);
				ERR_print_errors_fp(stderr);
			}
			continue;
		}
		if (i < WARMUP)
			continue;
		lat[got++] = now_us() - t0;
		resumed += rs;
		allowed += a;
	}
	printf("calls=%ld resumed=%ld allowed=%ld failed=%ld", n, resumed,
	    allowed, failed);
	if (got > 0) {
		qsort(lat, (size_t)got, sizeof(*lat), cmp_double);
		printf(" p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f",
		    lat[got / 2], lat[got * 90 / 100], lat[got * 99 / 100],
		    lat[got - 1]);
	}
	printf("\n");
	SSL_SESSION_free(sess);
	SSL_CTX_free(ctx);
	free(lat);
	return failed == 0 ? 0 : 1;
}
