/*
 * The socket layer's shared rules, so that the listener, the upstream side,
 * the service's resolver and the -t probe agree on them.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "net.h"

struct addrinfo *
net_hints(struct addrinfo *hints, int flags)
{

	memset(hints, 0, sizeof(*hints));
	hints->ai_family = AF_UNSPEC;
	hints->ai_socktype = SOCK_STREAM;
	hints->ai_flags = flags;
	return (hints);
}

int
net_out_of_fds(int err)
{

	/* libuv's codes are negated errno values on Unix; take both forms. */
	return (err == EMFILE || err == ENFILE || err == UV_EMFILE ||
	    err == UV_ENFILE);
}

int
net_connect_timeout(const struct addrinfo *ai, unsigned int secs, char *why,
    size_t whylen)
{
	struct timeval tv = { (time_t)secs, 0 };
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, e = 0, fl;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol)) < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return (-1);
	}
	fl = fcntl(fd, F_GETFL);
	(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			e = errno;
		} else {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, (int)secs * 1000) <= 0)
				e = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e,
			    &sl) != 0)
				e = errno;
		}
	}
	if (e != 0) {
		snprintf(why, whylen, "cannot connect: %s", e == ETIMEDOUT ?
		    "timed out (TIMEOUTconnect)" : strerror(e));
		close(fd);
		return (-1);
	}
	(void)fcntl(fd, F_SETFL, fl);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return (fd);
}
