#ifndef REDTUN_NET_H
#define REDTUN_NET_H

/*
 * The socket layer's small shared rules: how names are looked up and what
 * counts as running out of descriptors.
 */
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

#endif
