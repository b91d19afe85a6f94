/*
 * progrun.c - see progrun.h.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <sys/wait.h>
#include <time.h>

#include "deadline.h"
#include "progrun.h"

int
progrun_spawn(char *const argv[], const char *envvar, int in_fd, int out_fd,
    int err_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dflt;
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL, NULL };
	int r;

	/* posix_spawn() takes char *const[]; the string is never written */
	envp[1] = (char *)envvar;
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGHUP);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if ((r = posix_spawn_file_actions_adddup2(&fa, in_fd, 0)) == 0 &&
	    (r = posix_spawn_file_actions_adddup2(&fa, out_fd, 1)) == 0 &&
	    (r = posix_spawn_file_actions_adddup2(&fa, err_fd, 2)) == 0 &&
	    (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
	    (r = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
	    (r = posix_spawnattr_setsigdefault(&at, &dflt)) == 0 &&
	    (r = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
	    (r = posix_spawnattr_setflags(&at,
		 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
		     POSIX_SPAWN_SETPGROUP)) == 0)
		r = posix_spawn(pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return r;
}

int
progrun_reap(pid_t pid, long long deadline, bool (*stop)(void *arg), void *arg,
    bool *killed)
{
	struct timespec nap = { 0, 1000000 };
	int status = 0;
	pid_t w;

	*killed = false;
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return status;
		if (deadline_now_ms() >= deadline ||
		    (stop != NULL && stop(arg)))
			break;
		/* short naps first: most programs end within milliseconds */
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
