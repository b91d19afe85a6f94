/*
 * server.c - accepts local connections and moves request lines in and
 * reply lines out on the unix socket (tls.c does the same for TLS,
 * metrics_http.c serves HTTP).
 *
 * One I/O thread runs an epoll loop.  Each connection has at most one call
 * in flight; further lines wait in its buffer, so one client cannot flood
 * the writer.  Replies come back through a queue and an eventfd, from the
 * I/O thread itself, the worker pool or the writer after its commit.
 *
 * A connection is never freed inside an epoll batch: a later event of the
 * same batch may name it.  Closing marks it closed (fd gone, out of epoll)
 * and reap() frees it after the batch, once no call holds it.
 *
 * Memory per connection is bounded: at most IN_MAX bytes of input (reading
 * stops until lines are handled) and, once its unread replies pass
 * OUT_PAUSE, no more lines are read or handled until the client drains
 * them (back-pressure).  No uid holds more than a quarter of
 * max_connections (root and delegates excepted).  Slow clients only hold
 * their own buffers: reads and writes never block, and idle, half-sent or
 * unanswered connections are closed on a timer.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "log.h"
#include "workpool.h"

/* input held per connection: a full line and the start of the next */
#define IN_MAX (2 * (PROTO_MAX_LINE + 1))
#define OUT_PAUSE (1024 * 1024) /* unread replies: stop reading */
/* all connections' unread replies together: past it, any connection
 * with more than OUT_SLACK unread is held back too */
#define OUT_BUDGET (32 * 1024 * 1024)
#define OUT_SLACK (16 * 1024)
#define OUT_MAX (32 * 1024 * 1024) /* one reply larger than this: drop */
#define IDENT_REUSE_MS 5000	   /* group changes show within this */
#define UID_SHARE 4		   /* a uid holds 1/UID_SHARE at most */
#define UID_TURN 8		   /* calls a uid starts per loop turn */

struct conn {
	int fd;
	uid_t uid;
	pid_t pid;
	char *in;
	size_t inlen, incap;
	bool discarding; /* dropping an oversized line up to its newline */
	char *out;
	size_t outlen, outoff;
	uint32_t events;   /* the epoll interest set now */
	long long last_ms; /* last byte in or out */
	long long line_ms; /* when the pending partial line began; 0 none */
	long long call_ms; /* when the call in flight began */
	struct call *call; /* the call in flight, or NULL */
	bool busy;	   /* a call is in flight and holds this conn */
	bool closed;	   /* fd closed: reap() frees it once !busy */
	bool kill;	   /* close once the current step is done */
	bool queued;	   /* in server.runq: has lines to handle */
	/* identities resolved for this connection: the peer never changes,
	 * so lookups are reused for IDENT_REUSE_MS, then done afresh (on
	 * the worker pool: a directory lookup may be slow).  Written only
	 * while busy, by whoever runs the call's resolution. */
	struct ident caller, as;
	long long caller_ms, as_ms;
	size_t slot; /* index in server.conns */
};

struct done {
	struct conn *conn;
	struct call *call; /* NULL for a reply with no call */
	bool resume;	   /* identities resolved: dispatch call */
	char *line;
	size_t len;
	struct done *next;
};

struct server {
	struct brokerd *d;
	const struct server_ops *ops;
	int epfd, lfd, evfd, sigfd;
	struct conn **conns;
	size_t nconns, capconns;
	size_t nopen;	 /* conns not closed */
	size_t nclosed;	 /* closed, not yet reaped */
	size_t outbytes; /* unread replies of all conns */
	/* connections with lines to handle, served a few per uid per turn
	 * of the loop, so that one user's many connections cannot make
	 * another user's call wait behind all of theirs */
	struct conn **runq;
	size_t nrunq, caprunq;
	long long call_deadline_ms;
	pthread_mutex_t lock;
	struct done *done_head, *done_tail;
	struct store_txn *rtxn;
	bool stop;
};

/* Refuse to replace a socket that a live broker still answers on. */
static int
clear_stale_socket(const char *path, struct brk_error *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, live;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return brk_error_set(
		    err, BRK_ERR_EXISTS, "%s exists and is not a socket", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return BRK_ERR_IO;
	live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	if (live)
		return brk_error_set(err, BRK_ERR_EXISTS,
		    "another broker is listening on %s", path);
	unlink(path);
	return 0;
}

static int
listen_unix(const char *path, mode_t mode, int *out, struct brk_error *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = -1, r;

	if (strlen(path) >= sizeof(sun.sun_path))
		return brk_error_set(
		    err, BRK_ERR_INVALID, "socket path too long: %s", path);
	if ((r = clear_stale_socket(path, err)) != 0)
		return r;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, mode) != 0 || listen(fd, 512) != 0) {
		r = brk_error_set(err, BRK_ERR_IO, "cannot listen on %s: %s",
		    path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

static int
watch(struct server *s, int fd, uint32_t events, void *ptr, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(s->epfd, op, fd, &ev) == 0 ? 0 : BRK_ERR_IO;
}

int
server_new(struct brokerd *d, const struct server_ops *ops, struct server **out,
    struct brk_error *err)
{
	struct server *s;
	sigset_t set;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return r;
	s->d = d;
	s->ops = ops;
	s->call_deadline_ms = SERVER_CALL_DEADLINE_MS;
	s->epfd = s->lfd = s->evfd = s->sigfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	if ((r = listen_unix(
		 d->cfg->socket, d->cfg->socket_mode, &s->lfd, err)) != 0)
		goto fail;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	r = BRK_ERR_IO;
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    watch(s, s->lfd, EPOLLIN, &s->lfd, EPOLL_CTL_ADD) != 0 ||
	    watch(s, s->evfd, EPOLLIN, &s->evfd, EPOLL_CTL_ADD) != 0 ||
	    watch(s, s->sigfd, EPOLLIN, &s->sigfd, EPOLL_CTL_ADD) != 0) {
		brk_error_set(err, r, "event loop set-up: %s", strerror(errno));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	server_free(s);
	return r;
}

void
server_set_call_deadline(struct server *s, long long ms)
{
	s->call_deadline_ms = ms;
}

static size_t
unread(const struct conn *c)
{
	return c->outlen - c->outoff;
}

/* Close the socket now; the struct stays until reap() (after the batch)
 * and until the call in flight, if any, has returned. */
static void
conn_close(struct server *s, struct conn *c)
{
	if (c->closed)
		return;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->closed = true;
	s->outbytes -= unread(c);
	c->outlen = c->outoff = 0;
	s->nopen--;
	s->nclosed++;
}

static void
conn_destroy(struct conn *c)
{
	ident_clear(&c->caller);
	ident_clear(&c->as);
	free(c->in);
	free(c->out);
	free(c);
}

/* Free the closed connections that no call holds; after each batch. */
static void
reap(struct server *s)
{
	struct conn *c;
	size_t i;

	for (i = s->nconns; s->nclosed > 0 && i-- > 0;) {
		c = s->conns[i];
		if (!c->closed || c->busy || c->queued)
			continue;
		s->conns[i] = s->conns[--s->nconns];
		s->conns[i]->slot = i;
		s->nclosed--;
		conn_destroy(c);
	}
}

/* Whether c must wait for its client to read before it gets more work. */
static bool
held_back(const struct server *s, const struct conn *c)
{
	return unread(c) > OUT_PAUSE ||
	    (s->outbytes > OUT_BUDGET && unread(c) > OUT_SLACK);
}

/* Read while there is room and no back-pressure; write while unread. */
static void
set_interest(struct server *s, struct conn *c)
{
	uint32_t ev = 0;

	if (c->closed)
		return;
	if (c->inlen < IN_MAX && !held_back(s, c))
		ev |= EPOLLIN;
	if (unread(c) > 0)
		ev |= EPOLLOUT;
	if (ev != c->events && watch(s, c->fd, ev, c, EPOLL_CTL_MOD) == 0)
		c->events = ev;
}

/* Queue a finished reply; safe from any thread. */
static void
post(struct server *s, struct conn *conn, struct call *call, bool resume,
    char *line, size_t len)
{
	struct done *dn = calloc(1, sizeof(*dn));
	uint64_t one = 1;
	bool wake;

	if (dn == NULL) { /* cannot reply: the call deadline ends it */
		free(line);
		log_error("event=reply_dropped error=nomem");
		return;
	}
	dn->conn = conn;
	dn->call = call;
	dn->resume = resume;
	dn->line = line;
	dn->len = len;
	pthread_mutex_lock(&s->lock);
	/* only the first reply into an empty queue needs to wake the loop:
	 * it drains the whole queue at once */
	wake = s->done_head == NULL;
	if (s->done_tail != NULL)
		s->done_tail->next = dn;
	else
		s->done_head = dn;
	s->done_tail = dn;
	pthread_mutex_unlock(&s->lock);
	if (wake && write(s->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error("event=eventfd_write error=\"%s\"", strerror(errno));
}

static void
deliver_local(struct call *c, char *line, size_t len)
{
	post(c->d->server, c->conn, c, false, line, len);
}

static void
queue_out(struct server *s, struct conn *c, const char *line, size_t len)
{
	char *nb;

	if (c->closed || line == NULL)
		return;
	if (len > OUT_MAX) {
		log_warn("event=conn_closed uid=%u why=reply_too_large",
		    (unsigned)c->uid);
		c->kill = true;
		return;
	}
	if (c->outoff > 0) { /* keep the unread part at the front */
		memmove(c->out, c->out + c->outoff, unread(c));
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if ((nb = realloc(c->out, c->outlen + len)) == NULL) {
		c->kill = true;
		return;
	}
	c->out = nb;
	memcpy(c->out + c->outlen, line, len);
	c->outlen += len;
	s->outbytes += len;
}

/* Write what we can; returns false when the connection was closed. */
static bool
flush_out(struct server *s, struct conn *c)
{
	ssize_t n;

	while (!c->closed && c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->outoff += (size_t)n;
			s->outbytes -= (size_t)n;
			c->last_ms = deadline_now_ms();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		conn_close(s, c);
		return false;
	}
	if (c->outoff == c->outlen) { /* all read: give the memory back */
		free(c->out);
		c->out = NULL;
		c->outoff = c->outlen = 0;
	}
	set_interest(s, c);
	return true;
}

static void
reply_now(
    struct server *s, struct conn *c, const char *id, int rc, const char *msg)
{
	size_t len = 0;
	char *line = proto_reply_error(id, rc, msg, &len);

	queue_out(s, c, line, len);
	free(line);
}

/* The identity of name (or of the peer uid when name is NULL), from the
 * connection's recent lookup or afresh; copied into out. */
static int
conn_ident(struct server *s, struct conn *c, const char *name, long long now,
    struct ident *out, struct brk_error *err)
{
	struct ident *slot = name == NULL ? &c->caller : &c->as;
	long long *at = name == NULL ? &c->caller_ms : &c->as_ms;
	int r;

	if (*at == 0 || now - *at > IDENT_REUSE_MS ||
	    (name != NULL && strcmp(slot->name, name) != 0)) {
		ident_clear(slot);
		*at = 0;
		r = name == NULL ?
		    ident_from_uid(s->d->ident, c->uid, slot, err) :
		    ident_from_name(s->d->ident, name, slot, err);
		if (r != 0)
			return r;
		*at = now;
	}
	return ident_copy(out, slot);
}

/* Whether resolve() at now needs no lookup (every identity is recent). */
static bool
idents_fresh(const struct conn *c, const struct proto_req *req, long long now)
{
	if (c->caller_ms == 0 || now - c->caller_ms > IDENT_REUSE_MS)
		return false;
	if (req->as == NULL || strcmp(req->as, c->caller.name) == 0)
		return true;
	return c->as_ms != 0 && now - c->as_ms <= IDENT_REUSE_MS &&
	    strcmp(c->as.name, req->as) == 0;
}

/* The kernel's overflow uid, which NSS names "nobody". */
#define OVERFLOW_UID ((uid_t)65534)

/* Resolve the call's caller and "as"; 0 or an error with err set. */
static int
resolve(struct server *s, struct conn *c, struct call *call, long long now,
    struct brk_error *err)
{
	const struct proto_req *req = call->req;
	size_t i;
	bool may;
	int r;

	if ((r = conn_ident(s, c, NULL, now, &call->caller, err)) != 0)
		return r;
	/* for oneself: the identity just resolved from the kernel's uid, not
	 * a second lookup of the same user by name (the TLS listener does
	 * the same for people) */
	if (req->as == NULL || strcmp(req->as, call->caller.name) == 0)
		return ident_copy(&call->who, &call->caller);
	may = c->uid == 0;
	for (i = 0; i < s->d->cfg->ndelegates; i++)
		may = may || s->d->cfg->delegates[i] == c->uid;
	if (!may)
		return brk_error_set(err, BRK_ERR_DENIED,
		    "%s may not act as "
		    "another user (not a delegate)",
		    call->caller.name);
	if ((r = conn_ident(s, c, req->as, now, &call->who, err)) != 0)
		return r == BRK_ERR_NOTFOUND ? BRK_ERR_DENIED : r;
	/* NSS knows "nobody" (the kernel's overflow uid), but it stands for
	 * no one: acting as it would file requests no person owns */
	if (call->who.uid == OVERFLOW_UID || strcmp(req->as, "nobody") == 0)
		return brk_error_set(err, BRK_ERR_DENIED,
		    "\"%s\" is the "
		    "system's placeholder account, not a person: no one acts "
		    "as it",
		    req->as);
	call->delegated = true;
	return 0;
}

static void
log_call(const struct call *call)
{
	const struct conn *c = call->conn;

	log_debug("event=call uid=%u op=%s id=%s as=%s", (unsigned)c->uid,
	    call->req->op, call->req->id, call->req->as ? call->req->as : "");
}

/* Hand a call whose identities are resolved (and logged by log_call) to
 * its op; I/O thread. */
static void
dispatch(struct server *s, struct call *call)
{
	s->ops->dispatch(call);
	store_read_end(s->rtxn); /* never pin a snapshot between calls */
}

/* On the worker pool: identities that may need a directory lookup; then
 * the op itself when it runs on the pool anyway (a new connection's first
 * call, such as the PAM module's check, takes one trip through the pool,
 * not two), else back to the I/O thread to be dispatched there. */
static void
resolve_job(void *arg)
{
	struct brk_error err = { { 0 } };
	struct call *call = arg;
	struct conn *c = call->conn;
	struct server *s = call->d->server;
	int r;

	if ((r = resolve(s, c, call, deadline_now_ms(), &err)) != 0) {
		call_fail(
		    call, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
		return;
	}
	log_call(call);
	if (s->ops->run_pooled == NULL || !s->ops->run_pooled(call))
		post(s, c, call, true, NULL, 0);
}

/* Start a call for req: resolved and dispatched here when the
 * connection's identities are recent, else resolved on the pool first. */
static void
start_call(struct server *s, struct conn *c, struct proto_req *req)
{
	struct brk_error err = { { 0 } };
	long long now = deadline_now_ms();
	struct call *call;
	int r;

	if ((call = calloc(1, sizeof(*call))) == NULL) {
		reply_now(s, c, req->id, BRK_ERR_NOMEM, NULL);
		proto_req_free(req);
		return;
	}
	call->d = s->d;
	call->req = req;
	call->conn = c;
	call->deliver = deliver_local;
	call->rtxn = &s->rtxn;
	c->busy = true; /* until its reply is drained */
	c->call = call;
	c->call_ms = now;
	if (!idents_fresh(c, req, now)) {
		workpool_submit(s->d->pool, resolve_job, call);
		return;
	}
	if ((r = resolve(s, c, call, now, &err)) != 0)
		call_fail(
		    call, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	else {
		log_call(call);
		dispatch(s, call);
	}
}

/* Handle complete lines while no call is in flight, then flush. */
static void
process_lines(struct server *s, struct conn *c)
{
	struct brk_error err = { { 0 } };
	struct proto_req *req;
	char id[PROTO_MAX_ID + 1];
	char *nl;
	size_t linelen;
	int r;

	while (!c->busy && !c->closed && !c->kill && !held_back(s, c) &&
	    c->inlen > 0 && (nl = memchr(c->in, '\n', c->inlen)) != NULL) {
		linelen = (size_t)(nl - c->in);
		if (c->discarding) {
			c->discarding = false;
			reply_now(s, c, "", BRK_ERR_TOOBIG,
			    "line longer than 65536 bytes");
		} else if (linelen > 0) {
			r = proto_parse_request(c->in, linelen, &req, id, &err);
			if (r != 0)
				reply_now(s, c, id, r, err.msg);
			else
				start_call(s, c, req);
		}
		memmove(c->in, nl + 1, c->inlen - linelen - 1);
		c->inlen -= linelen + 1;
		c->line_ms = c->inlen > 0 ? deadline_now_ms() : 0;
	}
	/* what is left after the complete lines is the start of one line:
	 * past the cap it is refused, and dropped up to its newline */
	if (!c->closed && c->inlen > PROTO_MAX_LINE + 1 &&
	    memchr(c->in, '\n', c->inlen) == NULL) {
		c->discarding = true;
		c->inlen = 0;
	}
	if (c->kill)
		conn_close(s, c);
	else
		flush_out(s, c);
}

/* Let c's buffered lines be handled in its uid's turn (run_queue()). */
static void
enqueue(struct server *s, struct conn *c)
{
	struct conn **nq;

	if (c->queued || c->closed)
		return;
	if (s->nrunq == s->caprunq) {
		nq = realloc(s->runq, (s->caprunq + 64) * sizeof(*nq));
		if (nq == NULL) { /* serve it now rather than never */
			process_lines(s, c);
			return;
		}
		s->runq = nq;
		s->caprunq += 64;
	}
	s->runq[s->nrunq++] = c;
	c->queued = true;
}

/*
 * One turn: each uid with queued connections gets up to UID_TURN of them
 * handled (each starts at most one call), in queue order; the rest wait
 * for the next turn.  Returns whether any are left.
 */
static bool
run_queue(struct server *s)
{
	struct {
		uid_t uid;
		unsigned n;
	} seen[64];
	size_t i, j, keep = 0, nseen = 0, n = s->nrunq;
	struct conn *c;

	for (i = 0; i < n; i++) {
		c = s->runq[i];
		for (j = 0; j < nseen && seen[j].uid != c->uid; j++)
			;
		if (j == nseen && nseen < 64) {
			seen[nseen].uid = c->uid;
			seen[nseen++].n = 0;
		}
		if (j < nseen && seen[j].n >= UID_TURN) {
			s->runq[keep++] = c; /* next turn */
			continue;
		}
		if (j < nseen)
			seen[j].n++;
		c->queued = false;
		process_lines(s, c);
	}
	/* process_lines() queues nothing, so the tail is untouched */
	s->nrunq = keep;
	return keep > 0;
}

static void
on_readable(struct server *s, struct conn *c)
{
	size_t want;
	ssize_t n;
	char *nb;

	while (!c->closed && c->inlen < IN_MAX) {
		if (c->incap - c->inlen < 4096 && c->incap < IN_MAX) {
			want = c->incap + 16384 > IN_MAX ? IN_MAX :
							   c->incap + 16384;
			if ((nb = realloc(c->in, want)) == NULL) {
				conn_close(s, c);
				return;
			}
			c->in = nb;
			c->incap = want;
		}
		want = c->incap - c->inlen;
		n = recv(c->fd, c->in + c->inlen, want, MSG_DONTWAIT);
		if (n > 0) {
			if (c->inlen == 0)
				c->line_ms = deadline_now_ms();
			c->inlen += (size_t)n;
			c->last_ms = deadline_now_ms();
			if (c->inlen > PROTO_MAX_LINE + 1 &&
			    memchr(c->in, '\n', c->inlen) == NULL) {
				/* keep the tail only: the line is refused */
				c->discarding = true;
				c->inlen = 0;
			}
			/* a short read emptied the socket: asking again
			 * would only say EAGAIN (epoll is level-triggered:
			 * what comes later wakes us) */
			if ((size_t)n < want)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		conn_close(s, c); /* EOF or error */
		return;
	}
	/* full (IN_MAX): set_interest() stops reading until lines are
	 * handled; nothing past one line and the start of the next waits */
	if (c->closed)
		return;
	if (!c->busy && memchr(c->in, '\n', c->inlen) != NULL)
		enqueue(s, c);
	else
		process_lines(s, c); /* the discard check, the flush */
}

/* Refuse a connection with one error line, then close it. */
static void
refuse(int fd, const char *msg)
{
	char line[512];
	int n;

	n = snprintf(line, sizeof(line),
	    "{\"v\":1,\"id\":\"\",\"ok\":false,"
	    "\"error\":{\"code\":\"busy\",\"message\":\"%s\"}}\n",
	    msg);
	if (n > 0 && send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("event=refuse_send_failed");
	close(fd);
}

/* Whether uid may open one more connection: a quarter of the limit,
 * except root and the delegates (the PAM module and services). */
static bool
uid_may_connect(struct server *s, uid_t uid)
{
	const struct config *cfg = s->d->cfg;
	size_t i, n = 0, share;

	if (uid == 0)
		return true;
	for (i = 0; i < cfg->ndelegates; i++)
		if (cfg->delegates[i] == uid)
			return true;
	share = (size_t)cfg->max_connections / UID_SHARE;
	if (share < 1)
		share = 1;
	for (i = 0; i < s->nconns; i++)
		if (!s->conns[i]->closed && s->conns[i]->uid == uid)
			n++;
	return n < share;
}

static void
on_accept(struct server *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c, **nc;
	char msg[160];
	int fd;

	while ((fd = accept4(
		    s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
			close(fd);
			continue;
		}
		if (s->nopen >= (size_t)s->d->cfg->max_connections) {
			refuse(fd, "too many connections; try again");
			continue;
		}
		if (!uid_may_connect(s, cred.uid)) {
			snprintf(msg, sizeof(msg),
			    "too many connections from "
			    "uid %u (at most %d per user); try again",
			    (unsigned)cred.uid,
			    s->d->cfg->max_connections / UID_SHARE);
			log_warn("event=conn_refused uid=%u why=uid_share",
			    (unsigned)cred.uid);
			refuse(fd, msg);
			continue;
		}
		if (s->nconns == s->capconns) {
			nc = realloc(
			    s->conns, (s->capconns + 64) * sizeof(*nc));
			if (nc == NULL) {
				close(fd);
				continue;
			}
			s->conns = nc;
			s->capconns += 64;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->uid = cred.uid;
		c->pid = cred.pid;
		c->last_ms = deadline_now_ms();
		c->slot = s->nconns;
		c->events = EPOLLIN;
		s->conns[s->nconns++] = c;
		s->nopen++;
		if (watch(s, fd, EPOLLIN, c, EPOLL_CTL_ADD) != 0)
			conn_close(s, c);
	}
}

static void
drain_done(struct server *s)
{
	struct done *list, *dn;
	struct conn *c;
	uint64_t v;

	if (read(s->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_error("event=eventfd_read error=\"%s\"", strerror(errno));
	pthread_mutex_lock(&s->lock);
	list = s->done_head;
	s->done_head = s->done_tail = NULL;
	pthread_mutex_unlock(&s->lock);
	while ((dn = list) != NULL) {
		list = dn->next;
		c = dn->conn;
		if (dn->resume) { /* identities resolved on the pool */
			if (c->closed)
				call_fail(dn->call, BRK_ERR_IO,
				    "the client "
				    "has gone");
			else
				dispatch(s, dn->call);
		} else {
			if (dn->call != NULL) {
				call_free(dn->call);
				c->busy = false;
				c->call = NULL;
			}
			if (!c->closed) {
				queue_out(s, c, dn->line, dn->len);
				if (c->kill)
					conn_close(s, c);
				else if (flush_out(s, c) && c->inlen > 0)
					enqueue(s, c);
			}
		}
		free(dn->line);
		free(dn);
	}
}

static void
check_timeouts(struct server *s)
{
	long long now = deadline_now_ms();
	struct conn *c;
	size_t i;
	bool budget = s->outbytes > OUT_BUDGET;

	for (i = s->nconns; i-- > 0;) {
		c = s->conns[i];
		if (c->closed)
			continue;
		if (c->busy) {
			/* a reply that never comes must not wedge the
			 * connection: tell the client, close; the call
			 * keeps the struct until (if ever) it returns */
			if (now - c->call_ms > s->call_deadline_ms) {
				log_error("event=call_unanswered uid=%u op=%s "
					  "ms=%lld",
				    (unsigned)c->uid, c->call->req->op,
				    now - c->call_ms);
				reply_now(s, c, c->call->req->id,
				    BRK_ERR_TIMEOUT,
				    "the broker did not "
				    "answer in time");
				flush_out(s, c);
				conn_close(s, c);
			}
			continue;
		}
		if (c->line_ms != 0 &&
		    now - c->line_ms > s->d->cfg->read_timeout * 1000LL) {
			reply_now(s, c, "", BRK_ERR_TIMEOUT,
			    "request line not completed in time");
			flush_out(s, c);
			conn_close(s, c);
		} else if (now - c->last_ms > s->d->cfg->idle_timeout * 1000LL)
			conn_close(s, c);
		else if (!budget && flush_out(s, c) && c->inlen > 0)
			enqueue(s, c); /* held back by the budget before? */
	}
}

static void
on_signal(struct server *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("event=reload signal=SIGHUP");
			s->ops->reload(s->d);
		} else
			s->stop = true;
	}
}

int
server_run(struct server *s)
{
	struct epoll_event evs[64];
	long long last_tick = 0;
	struct conn *c;
	bool more = false;
	int n, i;

	while (!s->stop) {
		n = epoll_wait(s->epfd, evs, 64, more ? 0 : 250);
		if (n < 0 && errno != EINTR)
			return BRK_ERR_IO;
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &s->lfd) {
				on_accept(s);
				continue;
			}
			if (p == &s->evfd) {
				drain_done(s);
				continue;
			}
			if (p == &s->sigfd) {
				on_signal(s);
				continue;
			}
			c = p;
			if (c->closed) /* closed earlier in this batch */
				continue;
			if (evs[i].events & (EPOLLERR | EPOLLHUP) &&
			    !(evs[i].events & EPOLLIN)) {
				conn_close(s, c);
				continue;
			}
			if (evs[i].events & EPOLLOUT && flush_out(s, c) &&
			    c->inlen > 0)
				enqueue(s, c);
			if (!c->closed && evs[i].events & EPOLLIN)
				on_readable(s, c);
		}
		more = run_queue(s);
		reap(s); /* no event of this batch is left to name them */
		if (deadline_now_ms() - last_tick >= 1000) {
			last_tick = deadline_now_ms();
			check_timeouts(s);
			s->ops->tick(s->d, &s->rtxn);
			reap(s);
		}
	}
	return 0;
}

void
server_free(struct server *s)
{
	struct done *dn;
	size_t i, lost = 0;

	if (s == NULL)
		return;
	for (i = 0; i < s->nconns; i++)
		conn_close(s, s->conns[i]);
	/* the writer and the pool have stopped: every reply they made is
	 * queued; calls still waiting for identities are failed (which
	 * queues their replies too) */
	while ((dn = s->done_head) != NULL) {
		s->done_head = dn->next;
		if (s->done_head == NULL)
			s->done_tail = NULL;
		if (dn->resume)
			call_fail(dn->call, BRK_ERR_IO, "shutting down");
		else if (dn->call != NULL) {
			call_free(dn->call);
			dn->conn->busy = false;
		}
		free(dn->line);
		free(dn);
	}
	for (i = 0; i < s->nconns; i++)
		lost += s->conns[i]->busy;
	if (lost > 0) {
		/* a handler that never answers: a bug the deadline only
		 * contains; the test suite's sanitizer builds stop on it */
		log_error("event=calls_unanswered count=%zu", lost);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
		abort();
#endif
	}
	for (i = 0; i < s->nconns; i++)
		if (!s->conns[i]->busy) /* a lost call may still name it */
			conn_destroy(s->conns[i]);
	free(s->conns);
	free(s->runq);
	if (s->lfd >= 0) {
		close(s->lfd);
		unlink(s->d->cfg->socket);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->evfd >= 0)
		close(s->evfd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	store_read_free(s->rtxn);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
