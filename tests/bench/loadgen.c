/*
 * loadgen.c - benchmark driver for brokerd over its unix socket.
 *
 *   loadgen issue SOCK CONNS SECONDS AS PUBKEYFILE [ACKFILE]
 *       CONNS connections at once (non-blocking, one epoll loop), each
 *       sending auto-approved "request" calls with a public key, one in
 *       flight per connection (the daemon serves one call per connection
 *       at a time), for SECONDS.  Counts replies that carry a certificate.
 *       With ACKFILE: writes the request id of every successful reply
 *       (certificate or not: each is an acknowledged grant) to ACKFILE,
 *       and a daemon that goes away mid-load (kill -9) ends the run
 *       instead of failing it; "in_flight" then says how many requests
 *       were sent and not answered when it went.
 *   loadgen verify SOCK AS ACKFILE
 *       "show" each request id in ACKFILE on one connection; prints how
 *       many are there and active.
 *   loadgen check SOCK N AS USER RESOURCE
 *       N sequential "check" calls on one connection; latency per call.
 *   loadgen call SOCK TIMEOUT_S OP [ARGS_JSON]
 *       one call; prints the elapsed time, then the reply line.
 *   loadgen start TIMEOUT_S LOG SOCK BROKERD [ARG...]
 *       fork and exec BROKERD ARG... (output to LOG), then poll SOCK until
 *       a "status" call is answered; prints the daemon's pid, when the
 *       socket first accepted a connection and when status answered, in
 *       milliseconds from the exec.  The daemon is left running.
 *   loadgen runs N INPUT CMD [ARG...]
 *       run CMD N times one after the other, each with INPUT as its
 *       standard input and its output to /dev/null (errors to ours);
 *       prints one line per run: the microseconds from the fork to the
 *       exit, or "failed RC".  A shell loop timing each run with
 *       $(date) added two process starts (about 10 ms here) to each
 *       sample.
 *   loadgen pingpong N
 *       a child process and this one pass one byte back and forth over
 *       two pipes N times (after 100 unrecorded); prints the round trip's
 *       p50 and p99 in microseconds.  Each round trip is two wake-ups of
 *       a sleeping process: what a call to a PostgreSQL backend pays
 *       twice over, and what a busy or contended virtual machine makes
 *       dear (tests/bench/pgfigures.sh prints it beside its figures).
 *
 * Results are printed as one line of key=value pairs on stdout.  Exit 0 on
 * success, 1 when the run could not be made.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
connect_unix(const char *path, bool quiet)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "loadgen: socket path too long\n");
		exit(1);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		if (!quiet)
			fprintf(stderr, "loadgen: connect %s: %s\n", path,
			    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Latencies in microseconds, growing as needed. */
struct lat {
	double *v;
	size_t n, cap;
};

static void
lat_add(struct lat *l, double us)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 65536;
		if ((l->v = realloc(l->v, l->cap * sizeof(*l->v))) == NULL)
			die("realloc");
	}
	l->v[l->n++] = us;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const struct lat *l, double p)
{
	size_t i;

	if (l->n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)l->n);
	return l->v[i < l->n ? i : l->n - 1];
}

static void
lat_print(struct lat *l)
{
	qsort(l->v, l->n, sizeof(*l->v), cmp_double);
	printf(" p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f", pct(l, 50),
	    pct(l, 90), pct(l, 99), l->n ? l->v[l->n - 1] : 0.0);
}

/* Blocking: write all of buf. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A buffered line reader for blocking sockets. */
struct reader {
	int fd;
	char *buf;
	size_t len, cap, off;
};

/* Next line (NUL-terminated, without '\n') or NULL on EOF/timeout. */
static char *
read_line(struct reader *r, int timeout_ms)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	char *nl, *line;
	ssize_t n;

	for (;;) {
		if (r->len > r->off &&
		    (nl = memchr(r->buf + r->off, '\n', r->len - r->off)) !=
		    NULL) {
			*nl = '\0';
			line = r->buf + r->off;
			r->off = (size_t)(nl - r->buf) + 1;
			return line;
		}
		if (r->off > 0) {
			memmove(r->buf, r->buf + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		if (r->cap - r->len < 65536) {
			r->cap = r->cap ? r->cap * 2 : 1 << 20;
			if ((r->buf = realloc(r->buf, r->cap)) == NULL)
				die("realloc");
		}
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return NULL;
		n = recv(r->fd, r->buf + r->len, r->cap - r->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		r->len += (size_t)n;
	}
}

/* ---- issue ---------------------------------------------------------- */

struct conn {
	int fd;
	char out[4096];
	size_t outlen, outoff;
	char in[65536 + 16];
	size_t inlen;
	double sent_at;
	bool busy;
};

struct issue {
	const char *as, *pubkey;
	unsigned long long seq;
	double start, end;
	struct lat lat;
	unsigned long long replies, certs, nocert, errors, late;
	unsigned long long acked, in_flight;
	bool stopping;
	bool gone;		/* the daemon closed a connection */
	FILE *ack;		/* ACKFILE, or NULL */
	int epfd;
};

static void
conn_send(struct issue *g, struct conn *c)
{
	ssize_t n;
	int k = (int)(g->seq % 1000);

	c->outlen = (size_t)snprintf(c->out, sizeof(c->out),
	    "{\"v\":1,\"id\":\"%llu\",\"op\":\"request\",\"as\":\"%s\","
	    "\"args\":{\"resource\":\"host:web-%d\",\"pubkey\":\"%s\",\"new\":true}}\n",
	    g->seq++, g->as, k, g->pubkey);
	c->outoff = 0;
	c->busy = true;
	c->sent_at = now_s();
	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->outoff += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT,
				.data.ptr = c };
			epoll_ctl(g->epfd, EPOLL_CTL_MOD, c->fd, &ev);
			return;
		}
		if (n < 0 && g->ack != NULL && (errno == EPIPE ||
		    errno == ECONNRESET)) {	/* killed mid-load */
			g->gone = true;
			g->stopping = true;
			c->busy = false;	/* never sent whole */
			return;
		}
		die("send");
	}
}

static void
on_reply(struct issue *g, struct conn *c, const char *line)
{
	double t = now_s();
	bool ok = strstr(line, "\"ok\":true") != NULL;

	c->busy = false;
	if (ok && g->ack != NULL) {	/* the request id: "result":{"id":"rN" */
		const char *p = strstr(line, "\"result\":{\"id\":\"");

		if (p != NULL) {
			p += strlen("\"result\":{\"id\":\"");
			fprintf(g->ack, "%.*s\n", (int)strcspn(p, "\""), p);
			g->acked++;
		}
	}
	if (t > g->end) {
		g->late++;
		return;
	}
	g->replies++;
	lat_add(&g->lat, (t - c->sent_at) * 1e6);
	if (ok && strstr(line, "\"cert\":\"") != NULL)
		g->certs++;
	else if (ok)
		g->nocert++;
	else if (g->errors++ < 3)
		fprintf(stderr, "loadgen: error reply: %.300s\n", line);
}

static void
conn_readable(struct issue *g, struct conn *c)
{
	ssize_t n;
	char *nl;
	size_t used;

	for (;;) {
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen,
		    MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 && g->ack != NULL) {	/* killed: stop here */
			g->gone = true;
			if (c->busy)
				g->in_flight++;
			c->busy = false;
			epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL);
			return;
		}
		if (n <= 0) {
			fprintf(stderr, "loadgen: connection closed by the "
			    "broker\n");
			exit(1);
		}
		c->inlen += (size_t)n;
		while ((nl = memchr(c->in, '\n', c->inlen)) != NULL) {
			*nl = '\0';
			on_reply(g, c, c->in);
			used = (size_t)(nl - c->in) + 1;
			memmove(c->in, nl + 1, c->inlen - used);
			c->inlen -= used;
			if (!g->stopping)
				conn_send(g, c);
		}
		if (c->inlen >= sizeof(c->in) - 1) {
			fprintf(stderr, "loadgen: reply line too long\n");
			exit(1);
		}
	}
}

static char *
read_pubkey(const char *path)
{
	static char key[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		die(path);
	n = fread(key, 1, sizeof(key) - 1, f);
	fclose(f);
	key[n] = '\0';
	key[strcspn(key, "\r\n")] = '\0';
	if (strchr(key, '"') != NULL || strchr(key, '\\') != NULL) {
		fprintf(stderr, "loadgen: unexpected characters in %s\n",
		    path);
		exit(1);
	}
	return key;
}

static int
cmd_issue(int argc, char **argv)
{
	struct issue g = { 0 };
	struct epoll_event evs[128], ev;
	struct conn *conns;
	int nconns, i, n, busy;
	double secs, drain_until;

	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: loadgen issue SOCK CONNS SECONDS AS "
		    "PUBKEYFILE [ACKFILE]\n");
		return 2;
	}
	if (argc == 8 && (g.ack = fopen(argv[7], "w")) == NULL)
		die(argv[7]);
	nconns = atoi(argv[3]);
	secs = atof(argv[4]);
	g.as = argv[5];
	g.pubkey = read_pubkey(argv[6]);
	if (nconns < 1 || nconns > 4096 || secs <= 0)
		return 2;
	if ((conns = calloc((size_t)nconns, sizeof(*conns))) == NULL)
		die("calloc");
	if ((g.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	for (i = 0; i < nconns; i++) {
		if ((conns[i].fd = connect_unix(argv[2], false)) < 0)
			return 1;
		ev = (struct epoll_event){ .events = EPOLLIN,
			.data.ptr = &conns[i] };
		if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0)
			die("epoll_ctl");
	}
	g.start = now_s();
	g.end = g.start + secs;
	for (i = 0; i < nconns; i++)
		conn_send(&g, &conns[i]);
	drain_until = g.end + 15;
	for (;;) {
		double t = now_s();

		if (!g.stopping && (t >= g.end || g.gone))
			g.stopping = true;
		if (g.stopping) {
			for (busy = 0, i = 0; i < nconns; i++)
				busy += conns[i].busy;
			if (busy == 0 || t > drain_until)
				break;	/* killed: once every connection closed */
		}
		n = epoll_wait(g.epfd, evs, 128, 50);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (evs[i].events & EPOLLOUT) {
				ssize_t w = send(c->fd, c->out + c->outoff,
				    c->outlen - c->outoff,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
				if (w > 0)
					c->outoff += (size_t)w;
				if (c->outoff == c->outlen) {
					ev = (struct epoll_event){
						.events = EPOLLIN,
						.data.ptr = c };
					epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->fd,
					    &ev);
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				conn_readable(&g, c);
		}
	}
	printf("conns=%d seconds=%.2f replies=%llu certs=%llu ok_nocert=%llu "
	    "errors=%llu late=%llu certs_per_s=%.1f", nconns, secs, g.replies,
	    g.certs, g.nocert, g.errors, g.late, (double)g.certs / secs);
	if (g.ack != NULL)
		printf(" acked=%llu killed=%d in_flight=%llu", g.acked,
		    g.gone, g.in_flight);
	lat_print(&g.lat);
	printf("\n");
	if (g.ack != NULL && fclose(g.ack) != 0)
		die("ACKFILE");
	if (g.gone) {	/* the kill was the point */
		for (i = 0; i < nconns; i++)
			close(conns[i].fd);
		free(conns);
		free(g.lat.v);
		return g.acked > 0 ? 0 : 1;
	}
	for (i = 0; i < nconns; i++)
		close(conns[i].fd);
	free(conns);
	free(g.lat.v);
	return g.replies > 0 && g.errors == 0 ? 0 : 1;
}

/* ---- check ---------------------------------------------------------- */

static int
cmd_check(int argc, char **argv)
{
	struct reader r = { 0 };
	struct lat l = { 0 };
	char line[1024];
	long i, n, allowed = 0, bad = 0;
	size_t len;
	double t0;
	char *reply;

	if (argc != 7) {
		fprintf(stderr, "usage: loadgen check SOCK N AS USER "
		    "RESOURCE\n");
		return 2;
	}
	n = atol(argv[3]);
	if ((r.fd = connect_unix(argv[2], false)) < 0)
		return 1;
	for (i = 0; i < n + 100; i++) {	/* the first 100 warm up */
		len = (size_t)snprintf(line, sizeof(line), "{\"v\":1,\"id\":"
		    "\"%ld\",\"op\":\"check\",\"as\":\"%s\",\"args\":{\"user\":"
		    "\"%s\",\"resource\":\"%s\"}}\n", i, argv[4], argv[5],
		    argv[6]);
		t0 = now_s();
		if (write_all(r.fd, line, len) != 0 ||
		    (reply = read_line(&r, 10000)) == NULL) {
			fprintf(stderr, "loadgen: check call %ld failed\n", i);
			return 1;
		}
		if (i >= 100)
			lat_add(&l, (now_s() - t0) * 1e6);
		if (strstr(reply, "\"allowed\":true") != NULL)
			allowed++;
		else if (bad++ < 3)
			fprintf(stderr, "loadgen: not allowed: %.300s\n", reply);
	}
	printf("calls=%ld allowed=%ld", n, allowed);
	lat_print(&l);
	printf("\n");
	close(r.fd);
	free(r.buf);
	free(l.v);
	return bad == 0 ? 0 : 1;
}

/* ---- verify --------------------------------------------------------- */

static int
cmd_verify(int argc, char **argv)
{
	struct reader r = { 0 };
	char id[64], line[256];
	long n = 0, found = 0, missing = 0;
	size_t len;
	char *reply;
	FILE *f;

	if (argc != 5) {
		fprintf(stderr, "usage: loadgen verify SOCK AS ACKFILE\n");
		return 2;
	}
	if ((f = fopen(argv[4], "r")) == NULL)
		die(argv[4]);
	if ((r.fd = connect_unix(argv[2], false)) < 0)
		return 1;
	while (fscanf(f, "%63s", id) == 1) {
		n++;
		len = (size_t)snprintf(line, sizeof(line), "{\"v\":1,\"id\":"
		    "\"%ld\",\"op\":\"show\",\"as\":\"%s\",\"args\":"
		    "{\"id\":\"%s\"}}\n", n, argv[3], id);
		if (write_all(r.fd, line, len) != 0 ||
		    (reply = read_line(&r, 10000)) == NULL) {
			fprintf(stderr, "loadgen: show %s failed\n", id);
			return 1;
		}
		if (strstr(reply, "\"ok\":true") != NULL &&
		    strstr(reply, "\"state\":\"active\"") != NULL)
			found++;
		else if (missing++ < 3)
			fprintf(stderr, "loadgen: %s: %.200s\n", id, reply);
	}
	fclose(f);
	printf("acked=%ld found=%ld missing=%ld\n", n, found, missing);
	close(r.fd);
	free(r.buf);
	return 0;
}

/* ---- call ----------------------------------------------------------- */

static int
cmd_call(int argc, char **argv)
{
	struct reader r = { 0 };
	char *line, *reply;
	size_t len;
	double t0;
	int timeout_ms;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: loadgen call SOCK TIMEOUT_S OP "
		    "[ARGS_JSON]\n");
		return 2;
	}
	timeout_ms = atoi(argv[3]) * 1000;
	if ((r.fd = connect_unix(argv[2], false)) < 0)
		return 1;
	len = strlen(argv[4]) + (argc == 6 ? strlen(argv[5]) : 2) + 64;
	if ((line = malloc(len)) == NULL)
		die("malloc");
	len = (size_t)snprintf(line, len, "{\"v\":1,\"id\":\"1\",\"op\":\"%s\","
	    "\"args\":%s}\n", argv[4], argc == 6 ? argv[5] : "{}");
	t0 = now_s();
	if (write_all(r.fd, line, len) != 0 ||
	    (reply = read_line(&r, timeout_ms)) == NULL) {
		fprintf(stderr, "loadgen: no reply to %s within %s s\n",
		    argv[4], argv[3]);
		return 1;
	}
	printf("elapsed_ms=%.3f ok=%d\n%s\n", (now_s() - t0) * 1e3,
	    strstr(reply, "\"ok\":true") != NULL, reply);
	free(line);
	free(r.buf);
	close(r.fd);
	return 0;
}

/* ---- start ---------------------------------------------------------- */

static int
cmd_start(int argc, char **argv)
{
	static const char status[] = "{\"v\":1,\"id\":\"s\",\"op\":\"status\"}\n";
	struct reader r = { 0 };
	double t0, listen_ms = -1, timeout;
	pid_t pid;
	int fd, st;
	char *reply;

	if (argc < 6) {
		fprintf(stderr, "usage: loadgen start TIMEOUT_S LOG SOCK "
		    "BROKERD [ARG...]\n");
		return 2;
	}
	timeout = atof(argv[2]);
	t0 = now_s();
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		if ((fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0644))
		    < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		setpgid(0, 0);	/* not in the caller's job: killed by pid */
		execv(argv[5], argv + 5);
		_exit(127);
	}
	while (now_s() - t0 < timeout) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "loadgen: %s exited before it was "
			    "ready\n", argv[5]);
			return 1;
		}
		if ((r.fd = connect_unix(argv[4], true)) < 0) {
			usleep(200);
			continue;
		}
		if (listen_ms < 0)
			listen_ms = (now_s() - t0) * 1e3;
		if (write_all(r.fd, status, sizeof(status) - 1) == 0 &&
		    (reply = read_line(&r, (int)(timeout * 1000))) != NULL &&
		    strstr(reply, "\"ok\":true") != NULL) {
			printf("pid=%d listen_ms=%.1f ready_ms=%.1f\n",
			    (int)pid, listen_ms, (now_s() - t0) * 1e3);
			close(r.fd);
			free(r.buf);
			return 0;
		}
		close(r.fd);
		r.len = r.off = 0;
		usleep(1000);
	}
	fprintf(stderr, "loadgen: %s not ready within %s s\n", argv[5],
	    argv[2]);
	printf("pid=%d\n", (int)pid);
	return 1;
}

static int
cmd_runs(int argc, char **argv)
{
	long n, i;
	pid_t pid;
	double t0;
	int st, fd;

	if (argc < 5 || (n = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: loadgen runs N INPUT CMD [ARG...]\n");
		return 2;
	}
	for (i = 0; i < n; i++) {
		t0 = now_s();
		if ((pid = fork()) < 0)
			return 1;
		if (pid == 0) {
			if ((fd = open(argv[3], O_RDONLY)) < 0)
				_exit(127);
			dup2(fd, 0);
			close(fd);
			if ((fd = open("/dev/null", O_WRONLY)) >= 0) {
				dup2(fd, 1);
				close(fd);
			}
			execvp(argv[4], argv + 4);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) != pid)
			return 1;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			printf("%.0f\n", (now_s() - t0) * 1e6);
		else
			printf("failed %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		fflush(stdout);
	}
	return 0;
}

static int
cmd_pingpong(int argc, char **argv)
{
	int to[2], from[2], st;
	long n, i;
	struct lat l = { 0 };
	double t0;
	char b = 0;
	pid_t pid;

	if (argc < 3 || (n = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: loadgen pingpong N\n");
		return 2;
	}
	if (pipe(to) != 0 || pipe(from) != 0 || (pid = fork()) < 0)
		return 1;
	if (pid == 0) {
		close(to[1]); /* so that our parent's close is our EOF */
		close(from[0]);
		while (read(to[0], &b, 1) == 1 && write(from[1], &b, 1) == 1)
			;
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	for (i = -100; i < n; i++) {
		t0 = now_s();
		if (write(to[1], &b, 1) != 1 || read(from[0], &b, 1) != 1)
			break;
		if (i >= 0)
			lat_add(&l, (now_s() - t0) * 1e6);
	}
	close(to[1]); /* the child reads EOF and ends */
	close(from[0]);
	waitpid(pid, &st, 0);
	if (i == n) {
		printf("pingpongs=%ld", n);
		lat_print(&l);
		printf("\n");
	}
	free(l.v);
	return i == n ? 0 : 1;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "issue") == 0)
		return cmd_issue(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return cmd_check(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "call") == 0)
		return cmd_call(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "start") == 0)
		return cmd_start(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "runs") == 0)
		return cmd_runs(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "pingpong") == 0)
		return cmd_pingpong(argc, argv);
	fprintf(stderr, "usage: loadgen "
			"issue|check|verify|call|start|runs|pingpong ...\n");
	return 2;
}
