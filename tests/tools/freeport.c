/*
 * freeport.c - test tool: print a TCP port on 127.0.0.1 that was free a
 * moment ago (bound to port 0 and released), so tests never hard-code one.
 *
 *   freeport
 *
 * Another process may take the port before the test binds it; tests that
 * use it retry with a new port when their server fails to start.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int
main(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		perror("freeport");
		return 1;
	}
	printf("%u\n", (unsigned)ntohs(sin.sin_port));
	close(fd);
	return 0;
}
