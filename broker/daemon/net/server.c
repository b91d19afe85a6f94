/*
 * server.c - accepts local connections and moves request lines in and
 * reply lines out.  The only file that touches the daemon's sockets.
 *
 * One I/O thread runs an epoll loop.  Each connection has at most one call
 * in flight; further lines wait in its buffer, so one client cannot flood
 * the writer.  Replies come back through a queue and an eventfd, from the
 * I/O thread itself or from the writer after its commit.  Slow clients only
 * hold their own buffers: reads and writes never block, and idle or
 * half-sent connections are closed on a timer.
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

#define OUT_MAX (32 * 1024 * 1024)	/* unread replies before we give up */
#define IDENT_REUSE_MS 5000		/* group changes show within this */

struct conn {
	int fd;
	uid_t uid;
	pid_t pid;
	char *in;
	size_t inlen, incap;
	bool discarding;	/* dropping an oversized line up to its newline */
	char *out;
	size_t outlen, outoff;
	long long last_ms;	/* last byte in or out */
	long long line_ms;	/* when the pending partial line began; 0 none */
	bool busy;		/* a call is in flight */
	bool dead;		/* peer gone: free when the call returns */
	bool kill;		/* close once the current step is done */
	/* identities resolved for this connection: the peer never changes,
	 * so lookups are reused for IDENT_REUSE_MS, then done afresh */
	struct ident caller, as;
	long long caller_ms, as_ms;
	size_t slot;		/* index in server.conns */
};

struct done {
	struct conn *conn;
	struct call *call;	/* NULL for a reply with no call */
	char *line;
	size_t len;
	struct done *next;
};

struct server {
	struct brokerd *d;
	int epfd, lfd, evfd, sigfd;
	struct conn **conns;
	size_t nconns, capconns;
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
		return brk_error_set(err, BRK_ERR_EXISTS,
		    "%s exists and is not a socket", path);
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
		return brk_error_set(err, BRK_ERR_INVALID,
		    "socket path too long: %s", path);
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
server_new(struct brokerd *d, struct server **out, struct brk_error *err)
{
	struct server *s;
	sigset_t set;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return r;
	s->d = d;
	s->epfd = s->lfd = s->evfd = s->sigfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	if ((r = listen_unix(d->cfg->socket, d->cfg->socket_mode, &s->lfd,
	    err)) != 0)
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

static void
conn_free(struct server *s, struct conn *c)
{
	struct conn *last;

	if (c->fd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->busy) {		/* the call still owns c; finish later */
		c->dead = true;
		return;
	}
	last = s->conns[--s->nconns];
	s->conns[c->slot] = last;
	last->slot = c->slot;
	ident_clear(&c->caller);
	ident_clear(&c->as);
	free(c->in);
	free(c->out);
	free(c);
}

/* Queue a finished reply; safe from any thread. */
static void
post_done(struct server *s, struct conn *conn, struct call *call, char *line,
    size_t len)
{
	struct done *dn = calloc(1, sizeof(*dn));
	uint64_t one = 1;
	bool wake;

	if (dn == NULL) {	/* cannot reply: the client will time out */
		free(line);
		log_error("event=reply_dropped error=nomem");
		line = NULL;
		len = 0;
		if ((dn = calloc(1, sizeof(*dn))) == NULL)
			abort();	/* we would leak a busy connection */
	}
	dn->conn = conn;
	dn->call = call;
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
	post_done(c->d->server, c->conn, c, line, len);
}

void
call_reply(struct call *c, json_t *result)
{
	size_t len = 0;
	char *line = proto_reply_ok(c->req->id, result, &len);

	if (line == NULL)
		line = proto_reply_error(c->req->id, BRK_ERR_NOMEM, NULL, &len);
	c->deliver(c, line, len);
}

void
call_fail(struct call *c, int rc, const char *fmt, ...)
{
	char msg[1024], *line;
	size_t len = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line = proto_reply_error(c->req->id, rc, msg, &len);
	c->deliver(c, line, len);
}

int
call_read(struct call *c, struct store_txn **t)
{
	int r = store_read_begin(c->d->store, c->rtxn);

	*t = r == 0 ? *c->rtxn : NULL;
	return r;
}

void
call_free(struct call *c)
{
	if (c == NULL)
		return;
	proto_req_free(c->req);
	ident_clear(&c->caller);
	ident_clear(&c->who);
	free(c);
}

static void
queue_out(struct server *s, struct conn *c, const char *line, size_t len)
{
	char *nb;

	if (c->dead || c->fd < 0 || line == NULL)
		return;
	if (c->outlen - c->outoff + len > OUT_MAX) {
		log_warn("event=conn_closed uid=%u why=unread_replies",
		    (unsigned)c->uid);
		c->kill = true;
		return;
	}
	if ((nb = realloc(c->out, c->outlen + len)) == NULL) {
		c->kill = true;
		return;
	}
	c->out = nb;
	memcpy(c->out + c->outlen, line, len);
	c->outlen += len;
}

/* Write what we can; returns false when the connection was closed. */
static bool
flush_out(struct server *s, struct conn *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->outoff += (size_t)n;
			c->last_ms = deadline_now_ms();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			watch(s, c->fd, EPOLLIN | EPOLLOUT, c, EPOLL_CTL_MOD);
			return true;
		}
		conn_free(s, c);
		return false;
	}
	c->outoff = c->outlen = 0;
	watch(s, c->fd, EPOLLIN, c, EPOLL_CTL_MOD);
	return true;
}

static void
reply_now(struct server *s, struct conn *c, const char *id, int rc,
    const char *msg)
{
	size_t len = 0;
	char *line = proto_reply_error(id, rc, msg, &len);

	queue_out(s, c, line, len);
	free(line);
}

/* The identity of name (or of the peer uid when name is NULL), from the
 * connection's recent lookup or afresh; copied into out. */
static int
conn_ident(struct server *s, struct conn *c, const char *name,
    struct ident *out, struct brk_error *err)
{
	struct ident *slot = name == NULL ? &c->caller : &c->as;
	long long *at = name == NULL ? &c->caller_ms : &c->as_ms;
	long long now = deadline_now_ms();
	int r;

	if (*at == 0 || now - *at > IDENT_REUSE_MS ||
	    (name != NULL && strcmp(slot->name, name) != 0)) {
		ident_clear(slot);
		*at = 0;
		r = name == NULL ? ident_from_uid(s->d->ident, c->uid, slot,
		    err) : ident_from_name(s->d->ident, name, slot, err);
		if (r != 0)
			return r;
		*at = now;
	}
	return ident_copy(out, slot);
}

/* Resolve caller and "as", then hand the call to its op. */
static void
start_call(struct server *s, struct conn *c, struct proto_req *req)
{
	struct brk_error err = { { 0 } };
	struct call *call;
	size_t i;
	bool may;
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
	if ((r = conn_ident(s, c, NULL, &call->caller, &err)) != 0)
		goto refuse;
	if (req->as != NULL && strcmp(req->as, call->caller.name) != 0) {
		may = c->uid == 0;
		for (i = 0; i < s->d->cfg->ndelegates; i++)
			may = may || s->d->cfg->delegates[i] == c->uid;
		if (!may) {
			r = brk_error_set(&err, BRK_ERR_DENIED, "%s may not act "
			    "as another user (not a delegate)",
			    call->caller.name);
			goto refuse;
		}
		if ((r = conn_ident(s, c, req->as, &call->who, &err)) != 0) {
			r = r == BRK_ERR_NOTFOUND ? BRK_ERR_DENIED : r;
			goto refuse;
		}
		call->delegated = true;
	} else if ((r = conn_ident(s, c, call->caller.name, &call->who,
	    &err)) != 0)
		goto refuse;
	c->busy = true;
	ops_dispatch(call);
	store_read_end(s->rtxn);	/* never pin a snapshot between calls */
	return;
refuse:
	reply_now(s, c, req->id, r, err.msg);
	call_free(call);
}

/* Handle complete lines while no call is in flight. */
static void
process_lines(struct server *s, struct conn *c)
{
	struct brk_error err = { { 0 } };
	struct proto_req *req;
	char id[PROTO_MAX_ID + 1];
	char *nl;
	size_t linelen;
	int r;

	while (!c->busy && !c->dead && !c->kill && c->inlen > 0 &&
	    (nl = memchr(c->in, '\n', c->inlen)) != NULL) {
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
	if (c->kill)
		conn_free(s, c);
	else if (c->fd >= 0 && !c->dead)
		flush_out(s, c);
}

static void
on_readable(struct server *s, struct conn *c)
{
	ssize_t n;
	char *nb;

	for (;;) {
		if (c->incap - c->inlen < 4096) {
			if (c->inlen > PROTO_MAX_LINE + 1 &&
			    memchr(c->in, '\n', c->inlen) == NULL) {
				/* keep the tail only: the line is refused */
				c->discarding = true;
				c->inlen = 0;
			}
			if (c->incap - c->inlen < 4096) {
				if ((nb = realloc(c->in, c->incap + 16384)) ==
				    NULL) {
					conn_free(s, c);
					return;
				}
				c->in = nb;
				c->incap += 16384;
			}
		}
		if (c->busy && c->inlen > 4 * PROTO_MAX_LINE) {
			/* pipelined too far ahead: stop reading until the
			 * reply goes out (flush_out turns EPOLLIN back on) */
			watch(s, c->fd, 0, c, EPOLL_CTL_MOD);
			break;
		}
		n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen,
		    MSG_DONTWAIT);
		if (n > 0) {
			if (c->inlen == 0)
				c->line_ms = deadline_now_ms();
			c->inlen += (size_t)n;
			c->last_ms = deadline_now_ms();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		conn_free(s, c);	/* EOF or error */
		return;
	}
	process_lines(s, c);
}

static void
on_accept(struct server *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c, **nc;
	int fd;

	while ((fd = accept4(s->lfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
			close(fd);
			continue;
		}
		if (s->nconns >= (size_t)s->d->cfg->max_connections) {
			static const char busy[] = "{\"v\":1,\"id\":\"\","
			    "\"ok\":false,\"error\":{\"code\":\"busy\","
			    "\"message\":\"too many connections; try again\"}}\n";
			if (send(fd, busy, sizeof(busy) - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				log_debug("event=refuse_send_failed");
			close(fd);
			continue;
		}
		if (s->nconns == s->capconns) {
			nc = realloc(s->conns, (s->capconns + 64) * sizeof(*nc));
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
		s->conns[s->nconns++] = c;
		if (watch(s, fd, EPOLLIN, c, EPOLL_CTL_ADD) != 0)
			conn_free(s, c);
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
		if (dn->call != NULL) {
			call_free(dn->call);
			c->busy = false;
		}
		if (c->dead)
			conn_free(s, c);
		else {
			queue_out(s, c, dn->line, dn->len);
			process_lines(s, c);
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

	for (i = s->nconns; i-- > 0;) {
		c = s->conns[i];
		if (c->busy || c->dead)
			continue;
		if (c->line_ms != 0 &&
		    now - c->line_ms > s->d->cfg->read_timeout * 1000LL) {
			reply_now(s, c, "", BRK_ERR_TIMEOUT,
			    "request line not completed in time");
			send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			conn_free(s, c);
		} else if (now - c->last_ms > s->d->cfg->idle_timeout * 1000LL)
			conn_free(s, c);
	}
}

static void
on_signal(struct server *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("event=reload signal=SIGHUP");
			ops_reload(s->d);
		} else
			s->stop = true;
	}
}

int
server_run(struct server *s)
{
	struct epoll_event evs[64];
	long long last_tick = 0;
	int n, i;

	while (!s->stop) {
		n = epoll_wait(s->epfd, evs, 64, 250);
		if (n < 0 && errno != EINTR)
			return BRK_ERR_IO;
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &s->lfd)
				on_accept(s);
			else if (p == &s->evfd)
				drain_done(s);
			else if (p == &s->sigfd)
				on_signal(s);
			else if (evs[i].events & (EPOLLERR | EPOLLHUP) &&
			    !(evs[i].events & EPOLLIN))
				conn_free(s, p);
			else {
				struct conn *c = p;
				if (evs[i].events & EPOLLOUT &&
				    !flush_out(s, c))
					continue;
				if (evs[i].events & EPOLLIN)
					on_readable(s, c);
			}
		}
		if (deadline_now_ms() - last_tick >= 1000) {
			last_tick = deadline_now_ms();
			check_timeouts(s);
			ops_tick(s->d, &s->rtxn);
		}
	}
	return 0;
}

void
server_free(struct server *s)
{
	struct done *dn;
	size_t i;

	if (s == NULL)
		return;
	for (i = s->nconns; i-- > 0;) {
		s->conns[i]->busy = false;	/* the writer has stopped */
		conn_free(s, s->conns[i]);
	}
	free(s->conns);
	while ((dn = s->done_head) != NULL) {	/* replies nobody will read */
		s->done_head = dn->next;
		call_free(dn->call);
		free(dn->line);
		free(dn);
	}
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
