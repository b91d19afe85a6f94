/*
 * notify_exec.c - the "exec" sink: run a program with the event on stdin.
 *
 * No shell: the configured argv is run with posix_spawn(), in a process
 * group of its own, with a clean signal state, a minimal environment
 * (PATH, BROKER_EVENT), standard output to /dev/null, standard error
 * inherited (it lands in the daemon's log), and no other descriptor.  The
 * program gets the event's JSON and a newline on standard input and has
 * `timeout` seconds to exit 0; past that its process group is killed.
 * `concurrency` threads each run one program at a time, which bounds how
 * many run at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify_sink.h"
#include "progrun.h"

/* Write all of buf to fd (non-blocking) before deadline; false when not. */
static bool
feed_stdin(
    int fd, const char *buf, size_t len, int64_t deadline, struct nqueue *q)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t n;
	int64_t left;

	while (len > 0) {
		left = deadline - notify_mono_ms();
		if (left <= 0 || nqueue_should_stop(q))
			return false;
		if (poll(&pfd, 1, left > 100 ? 100 : (int)left) < 0 &&
		    errno != EINTR)
			return false;
		n = write(fd, buf, len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return false; /* EPIPE: it does not read; fine */
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* progrun_reap()'s stop: the sink is shutting down. */
static bool
queue_stopping(void *q)
{
	return nqueue_should_stop(q);
}

static int
exec_deliver(struct nsink *s, const struct nevent *ev)
{
	const struct notify_exec_config *c = s->cfg;
	int in[2] = { -1, -1 }, null_fd = -1, status, r = BRK_ERR_IO;
	int64_t deadline = notify_mono_ms() + (int64_t)c->timeout * 1000;
	bool killed = false;
	pid_t pid = -1;
	char evenv[96];

	if (pipe2(in, O_CLOEXEC) != 0 ||
	    (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		log_warn("event=notify_failed sink=exec notify_event=%s "
			 "error=\"%s\"",
		    ev->name, strerror(errno));
		goto out;
	}
	snprintf(evenv, sizeof(evenv), "BROKER_EVENT=%s", ev->name);
	if ((errno = progrun_spawn(
		 c->argv, evenv, in[0], null_fd, null_fd, &pid)) != 0) {
		log_warn("event=notify_failed sink=exec notify_event=%s "
			 "error=\"cannot run %s: %s\"",
		    ev->name, c->argv[0], strerror(errno));
		pid = -1;
		goto out;
	}
	close(in[0]);
	in[0] = -1;
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	/* the newline ends the event for line-reading hooks */
	if (feed_stdin(in[1], ev->json, ev->len, deadline, &s->q))
		feed_stdin(in[1], "\n", 1, deadline, &s->q);
	close(in[1]);
	in[1] = -1;
	status = progrun_reap(pid, deadline, queue_stopping, &s->q, &killed);
	if (killed)
		log_warn("event=notify_failed sink=exec notify_event=%s "
			 "error=\"killed after %ds\"",
		    ev->name, c->timeout);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warn("event=notify_failed sink=exec notify_event=%s "
			 "error=\"%s %d\"",
		    ev->name, WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	else
		r = 0;
out:
	if (in[0] >= 0)
		close(in[0]);
	if (in[1] >= 0)
		close(in[1]);
	if (null_fd >= 0)
		close(null_fd);
	return r;
}

static int
exec_init(struct nsink *s, const void *section)
{
	const struct notify_exec_config *c = section;

	s->cfg = c;
	s->deliver = exec_deliver;
	s->nthreads = (size_t)c->concurrency;
	return 0;
}

static const void *
exec_section(const struct notify_config *c)
{
	return c->exec;
}

static size_t
exec_queue_max(const void *section)
{
	return (size_t)((const struct notify_exec_config *)section)->queue;
}

const struct nsink_kind nsink_exec_kind = { .name = "exec",
	.section = exec_section,
	.queue_max = exec_queue_max,
	.init = exec_init };
