/*
 * deadline.c - every wait is bounded by a deadline on the monotonic clock,
 * so no signal or alarm is ever needed to give up.
 */
#include "deadline.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

#include "errors.h"

long long
deadline_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
deadline_wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left;
	int n;

	for (;;) {
		if ((left = deadline - deadline_now_ms()) <= 0)
			return BRK_ERR_TIMEOUT;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return BRK_ERR_TIMEOUT;
		if (errno != EINTR)
			return BRK_ERR_IO;
	}
}
