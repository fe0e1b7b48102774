/*
 * The socket layer's shared rules, so that the listener, the upstream side,
 * the service's resolver and the -t probe agree on them.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

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
