/*
 * sdnotify.c - the sd_notify(3) datagram protocol in a few lines.
 *
 * One idea: systemd learns that a Type=notify service is ready from a
 * datagram, not from the process forking or the socket appearing, so
 * brokerd says READY=1 only once its socket answers, and units ordered
 * after it (or `systemctl start` itself) never see a broker that refuses
 * connections.  An abstract socket name is given as "@name" and sent with
 * its leading NUL, and its length is exact (abstract names are not
 * NUL-terminated).
 */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"

int
sd_notify_send(const char *msg)
{
	struct sockaddr_un sun;
	const char *path;
	socklen_t alen;
	size_t len;
	int fd = -1, r = BRK_ERR_INVALID;

	if (msg == NULL)
		goto out;
	if ((path = secure_getenv("NOTIFY_SOCKET")) == NULL || *path == '\0') {
		r = 0;
		goto out;
	}
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len < 2 ||
	    len >= sizeof(sun.sun_path))
		goto out;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (path[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		r = -errno;
		goto out;
	}
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
		(const struct sockaddr *)&sun, alen) < 0) {
		r = -errno;
		goto out;
	}
	r = 1;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static void
notify(const char *msg, const char *what)
{
	const char *why;
	int r = sd_notify_send(msg);

	if (r >= 0)
		return;
	why = r == BRK_ERR_INVALID ? "NOTIFY_SOCKET is no socket address" :
				     strerror(-r);
	log_warn("event=sd_notify_failed state=%s error=\"%s\"", what, why);
}

void
sd_ready(void)
{
	notify("READY=1", "ready");
}

void
sd_stopping(void)
{
	notify("STOPPING=1", "stopping");
}
