/*
 * LD_PRELOAD shim for test/listener-fail.sh: makes the opening of a
 * listener in a worker fail for one port, the way the kernel or libuv
 * could, while the file $REDTUN_SHIM_ARMED holds "MODE PORT" (read on
 * every call, so a running daemon can be armed and disarmed):
 *   listen PORT    the worker's listen() (uv_listen) fails; the main
 *                  thread's first listen() on that socket passes
 *   nonblock PORT  ioctl(FIONBIO) (uv_tcp_open) fails on a listening
 *                  socket
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 65536

static unsigned char listened[MAXFD];	/* first listen() seen on this fd */

/* The port to fail for ${mode}, or -1. */
static int
armed(const char *mode)
{
	const char *f = getenv("REDTUN_SHIM_ARMED");
	char m[16];
	int port = -1;
	FILE *fp;

	if (f == NULL || (fp = fopen(f, "r")) == NULL)
		return (-1);
	if (fscanf(fp, "%15s %d", m, &port) != 2 || strcmp(m, mode) != 0)
		port = -1;
	fclose(fp);
	return (port);
}

static int
on_port(int fd, int want)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int port;

	if (want < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return (0);
	if (ss.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		return (0);
	return (port == want);
}

int
listen(int fd, int backlog)
{
	static int (*real)(int, int);

	if (real == NULL)
		real = (int (*)(int, int))dlsym(RTLD_NEXT, "listen");
	if (fd >= 0 && fd < MAXFD && on_port(fd, armed("listen"))) {
		if (__atomic_exchange_n(&listened[fd], 0, __ATOMIC_SEQ_CST)) {
			errno = EADDRINUSE;
			return (-1);
		}
		__atomic_store_n(&listened[fd], 1, __ATOMIC_SEQ_CST);
	}
	return (real(fd, backlog));
}

int
ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	int acc = 0;
	socklen_t len = sizeof(acc);
	va_list ap;
	void *arg;

	if (real == NULL)
		real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT,
		    "ioctl");
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == FIONBIO && on_port(fd, armed("nonblock")) &&
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 &&
	    acc) {
		errno = EINVAL;
		return (-1);
	}
	return (real(fd, req, arg));
}
