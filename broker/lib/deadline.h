/*
 * deadline.h - monotonic milliseconds and bounded waits, for everything
 * that must give up in time (clients, the PAM module, the servers' timers).
 */
#ifndef BRK_DEADLINE_H
#define BRK_DEADLINE_H

/* Milliseconds on the monotonic clock. */
long long deadline_now_ms(void);

/*
 * Wait with poll() for events on fd until the deadline (deadline_now_ms()
 * time).  Returns 0 when ready, BRK_ERR_TIMEOUT, or BRK_ERR_IO.
 */
int deadline_wait_fd(int fd, short events, long long deadline);

#endif
