#ifndef REDTUN_NET_H
#define REDTUN_NET_H

/*
 * The socket layer's small shared rules: how names are looked up and what
 * counts as running out of descriptors.
 */
#include <stddef.h>

struct addrinfo;

/**
 * net_hints(hints, flags):
 * Fill ${hints} for a TCP lookup in any address family (AF_UNSPEC,
 * SOCK_STREAM) with the getaddrinfo flags ${flags}: AI_ADDRCONFIG for a
 * connect target (no IPv6 answer on a host without IPv6), AI_PASSIVE for an
 * address to listen on, 0 for every address.  Returns ${hints}.
 */
struct addrinfo *net_hints(struct addrinfo *hints, int flags);

/**
 * net_out_of_fds(err):
 * True if ${err} means that the process or the system has no descriptor
 * left: EMFILE or ENFILE as an errno value, or libuv's UV_EMFILE or
 * UV_ENFILE as a libuv status.  Callers shed load instead of logging each
 * failure.
 */
int net_out_of_fds(int err);

/**
 * net_connect_timeout(ai, secs, why, whylen):
 * A blocking TCP connection to ${ai} within ${secs} seconds, with ${secs}
 * as its send and receive timeouts; for the blocking clients that run off
 * the loops (--probe, cluster discovery).  Returns the descriptor, or -1
 * with "cannot connect: reason" in ${why}.
 */
int net_connect_timeout(const struct addrinfo *ai, unsigned int secs,
    char *why, size_t whylen);

#endif
