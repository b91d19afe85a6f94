/*
 * notifylisten.c - play systemd's side of the sd_notify protocol in tests.
 *
 *   notifylisten [-c SOCKET] [-t SECONDS] NOTIFY_ADDR -- COMMAND [ARG...]
 *
 * Binds a datagram socket at NOTIFY_ADDR (a path, or "@name" for an
 * abstract one), runs COMMAND with NOTIFY_SOCKET=NOTIFY_ADDR, and prints one
 * line per event on stdout: "pid N" once the child runs, "msg: TEXT" per
 * datagram (newlines shown as spaces), and "exit N" (or "signal N") when the
 * child ends.  With -c, each datagram holding READY=1 is followed at once by
 * a connect() to the unix stream SOCKET and "connect ok" or "connect
 * failed: ...", which is how a test proves that readiness is announced only
 * after the broker answers.  After -t SECONDS (default 30) the child is
 * killed and "timeout" printed.  Exits 0 when the child exited 0.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int
make_addr(const char *s, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(s);

	if (n < 2 || n >= sizeof(sun->sun_path) || (s[0] != '/' && s[0] != '@'))
		return -1;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, s, n);
	if (s[0] == '@')
		sun->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (s[0] == '/'));
	return 0;
}

static void
try_connect(const char *path)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (make_addr(path, &sun, &len) != 0 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		printf("connect failed: bad address\n");
		return;
	}
	if (connect(fd, (struct sockaddr *)&sun, len) == 0)
		printf("connect ok\n");
	else
		printf("connect failed: %s\n", strerror(errno));
	close(fd);
}

/* Print every queued datagram; returns how many. */
static int
drain(int fd, const char *check)
{
	char buf[4096];
	ssize_t n;
	int got = 0;
	size_t i;

	while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0) {
		buf[n] = '\0';
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] == '\n' || buf[i] == '\0')
				buf[i] = ' ';
		printf("msg: %s\n", buf);
		if (check != NULL && strstr(buf, "READY=1") != NULL)
			try_connect(check);
		fflush(stdout);
		got++;
	}
	return got;
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: notifylisten [-c SOCKET] [-t SECONDS] "
	    "NOTIFY_ADDR -- COMMAND [ARG...]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *check = NULL, *addr;
	struct sockaddr_un sun;
	struct pollfd pfd;
	socklen_t len;
	time_t deadline;
	int fd, opt, status, secs = 30;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+c:t:")) != -1) {
		if (opt == 'c')
			check = optarg;
		else if (opt == 't' &&
		    (secs = (int)strtol(optarg, NULL, 10)) > 0)
			continue;
		else
			return usage();
	}
	if (optind + 2 > argc || strcmp(argv[optind + 1], "--") != 0 ||
	    optind + 2 >= argc)
		return usage();
	addr = argv[optind];
	if (make_addr(addr, &sun, &len) != 0)
		return usage();
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, len) != 0) {
		fprintf(
		    stderr, "notifylisten: %s: %s\n", addr, strerror(errno));
		return 1;
	}
	if (setenv("NOTIFY_SOCKET", addr, 1) != 0)
		return 1;
	fflush(stdout);
	if ((pid = fork()) < 0)
		return 1;
	if (pid == 0) {
		execv(argv[optind + 2], argv + optind + 2);
		fprintf(stderr, "notifylisten: %s: %s\n", argv[optind + 2],
		    strerror(errno));
		_exit(127);
	}
	printf("pid %ld\n", (long)pid);
	fflush(stdout);
	deadline = time(NULL) + secs;
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			drain(fd, check);
			if (WIFEXITED(status))
				printf("exit %d\n", WEXITSTATUS(status));
			else
				printf("signal %d\n", WTERMSIG(status));
			break;
		}
		if (time(NULL) > deadline) {
			printf("timeout\n");
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = 1 << 8;
			break;
		}
		if (poll(&pfd, 1, 50) > 0)
			drain(fd, check);
	}
	fflush(stdout);
	close(fd);
	if (addr[0] == '/')
		unlink(addr);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
