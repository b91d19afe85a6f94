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
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify_sink.h"

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

/* Wait for pid until deadline, then kill its group; the wait status. */
static int
reap(pid_t pid, int64_t deadline, struct nqueue *q, bool *killed)
{
	struct timespec nap = { 0, 2 * 1000000 };
	int status = 0;
	pid_t w;

	*killed = false;
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return status;
		if (notify_mono_ms() >= deadline || nqueue_should_stop(q))
			break;
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 50 * 1000000)
			nap.tv_nsec *= 2;
	}
	*killed = true;
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

static int
spawn(const struct notify_exec_config *c, const struct nevent *ev, int in_fd,
    int null_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dflt;
	char evenv[96];
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", evenv, NULL };
	int r;

	snprintf(evenv, sizeof(evenv), "BROKER_EVENT=%s", ev->name);
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGHUP);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if ((r = posix_spawn_file_actions_adddup2(&fa, in_fd, 0)) == 0 &&
	    (r = posix_spawn_file_actions_adddup2(&fa, null_fd, 1)) == 0 &&
	    (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
	    (r = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
	    (r = posix_spawnattr_setsigdefault(&at, &dflt)) == 0 &&
	    (r = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
	    (r = posix_spawnattr_setflags(&at,
		 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
		     POSIX_SPAWN_SETPGROUP)) == 0)
		r = posix_spawn(pid, c->argv[0], &fa, &at, c->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return r;
}

static int
exec_deliver(struct nsink *s, const struct nevent *ev)
{
	const struct notify_exec_config *c = s->cfg;
	int in[2] = { -1, -1 }, null_fd = -1, status, r = BRK_ERR_IO;
	int64_t deadline = notify_mono_ms() + (int64_t)c->timeout * 1000;
	bool killed = false;
	pid_t pid = -1;

	if (pipe2(in, O_CLOEXEC) != 0 ||
	    (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		log_warn("event=notify_failed sink=exec notify_event=%s "
			 "error=\"%s\"",
		    ev->name, strerror(errno));
		goto out;
	}
	if ((errno = spawn(c, ev, in[0], null_fd, &pid)) != 0) {
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
	status = reap(pid, deadline, &s->q, &killed);
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
