/*
 * sdnotify.h - telling the service manager that brokerd is ready or
 * stopping (systemd's Type=notify), without libsystemd.
 *
 * The protocol is one datagram of "KEY=VALUE" lines sent to the AF_UNIX
 * socket named by $NOTIFY_SOCKET: a path, or an abstract name written with
 * a leading '@'.  When the variable is unset (not started by systemd, or a
 * Type other than notify) the functions do nothing.
 */
#ifndef BRK_SDNOTIFY_H
#define BRK_SDNOTIFY_H

/*
 * Send "READY=1": the socket answers and start-up is over.  Call once,
 * after the listening socket is bound and the policy is loaded.  A failure
 * to send is logged (systemd will then time the start out) and otherwise
 * ignored.  Thread-safe; reads the environment, never changes it.
 */
void sd_ready(void);

/* Send "STOPPING=1": a clean stop has begun.  As sd_ready(). */
void sd_stopping(void);

/*
 * Send msg (e.g. "READY=1\nSTATUS=serving") to $NOTIFY_SOCKET.  Returns 1
 * when sent, 0 when NOTIFY_SOCKET is unset or empty, BRK_ERR_INVALID when
 * it is not an absolute path or '@' name that fits a sockaddr_un, or a
 * negated errno value when the socket cannot be created or the datagram
 * not sent.
 */
int sd_notify_send(const char *msg);

#endif
