#ifndef REDTUN_TUNNEL_H
#define REDTUN_TUNNEL_H

#include <stddef.h>

#include <uv.h>

struct svc;
struct tunnels;

/**
 * tunnels_new(void):
 * A registry of the open tunnels of one event loop, so that a shutdown can
 * wait for them or close them.  Returns NULL on allocation failure.
 */
struct tunnels *tunnels_new(void);

/**
 * tunnels_free(set): free an empty registry; NULL-safe.  Tunnels must have
 * finished (tunnels_count(set) == 0) first.
 */
void tunnels_free(struct tunnels *set);

/* tunnels_count(set): the number of tunnels not yet fully freed. */
size_t tunnels_count(const struct tunnels *set);

/* tunnels_count_service(set, name): open tunnels of the service ${name}. */
size_t tunnels_count_service(const struct tunnels *set, const char *name);

/**
 * tunnels_on_empty(set, cb, arg):
 * Call ${cb}(${arg}) once the registry becomes empty (from a libuv
 * callback), or at once if it already is.  Used for a graceful stop.
 */
void tunnels_on_empty(struct tunnels *set, void (*cb)(void *), void *arg);

/* tunnels_close_all(set, why): abort every open tunnel, logging ${why}. */
void tunnels_close_all(struct tunnels *set, const char *why);

/**
 * tunnels_close_plaintext(set, name, why):
 * Abort the plaintext tunnels (encryption = "preferred") of the service
 * called ${name}, logging ${why}; TLS tunnels are left alone.
 */
void tunnels_close_plaintext(struct tunnels *set, const char *name,
    const char *why);

/**
 * tunnel_accept(set, listener, svc):
 * Accept one pending connection on ${listener} and start forwarding it for
 * the service ${svc} (a reference is taken; the tunnel keeps using this
 * service generation until it ends, whatever reloads happen).  Returns 0,
 * or a negative libuv error if nothing could be accepted.
 */
int tunnel_accept(struct tunnels *set, uv_stream_t *listener,
    struct svc *svc);

#endif
