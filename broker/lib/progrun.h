/*
 * progrun.h - run a configured program (a notification hook, a credential
 * program) the one careful way: no shell, a two-variable environment, the
 * given descriptors as 0/1/2 and nothing else open, default signal
 * dispositions, a process group of its own so that a timeout kills all of
 * it.
 */
#ifndef BRK_PROGRUN_H
#define BRK_PROGRUN_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Start argv[0] (an absolute path) with argv, PATH=/usr/local/bin:
 * /usr/bin:/bin and envvar ("NAME=value", or NULL) as its environment,
 * in_fd, out_fd and err_fd as its standard input, output and error.
 * Returns 0 with *pid set, or an errno value.
 */
int progrun_spawn(char *const argv[], const char *envvar, int in_fd, int out_fd,
    int err_fd, pid_t *pid);

/*
 * Wait for pid until deadline (deadline_now_ms() time) or until stop(arg)
 * says so (stop may be NULL), then kill its process group.  Returns the
 * wait status; *killed says whether it had to be killed.
 */
int progrun_reap(pid_t pid, long long deadline, bool (*stop)(void *arg),
    void *arg, bool *killed);

#endif
