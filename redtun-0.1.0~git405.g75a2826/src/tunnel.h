#ifndef REDTUN_TUNNEL_H
#define REDTUN_TUNNEL_H

#include <stddef.h>

#include <uv.h>

struct svc;
struct tunnels;

/**
 * tunnels_new(worker):
 * A registry of the open tunnels of one event loop (worker ${worker}, for
 * log lines), so that a shutdown can wait for them or close them.
 * Returns NULL on allocation failure.
 */
struct tunnels *tunnels_new(int worker);

/**
 * tunnels_free(set): free an empty registry; NULL-safe.  Tunnels must have
 * finished (tunnels_count(set) == 0) first.
 */
void tunnels_free(struct tunnels *set);

/*
 * tunnels_set_stats(set, global): count the out-of-descriptors episodes
 * of ${set} in ${global} (this worker's cell of the "" entry; NULL: not
 * counted).  Set before the loop runs.
 */
struct stats_cell;
void tunnels_set_stats(struct tunnels *set, struct stats_cell *global);

/* tunnels_worker(set): the worker index given to tunnels_new(). */
int tunnels_worker(const struct tunnels *set);

/* tunnels_count(set): the number of tunnels not yet fully freed. */
size_t tunnels_count(const struct tunnels *set);

/**
 * tunnels_fd_exhausted(set, loop):
 * A descriptor could not be had.  Logged once per episode (at most every
 * ten seconds); until a tunnel closes, tunnels_out_of_fds() is true and
 * listeners shed new connections instead of failing each one.  The first
 * tunnel to reach the relay afterwards logs the recovery.
 */
void tunnels_fd_exhausted(struct tunnels *set, uv_loop_t *loop);
int tunnels_out_of_fds(const struct tunnels *set);

/* tunnels_fd_trouble(set): an exhaustion episode is on (or not over). */
int tunnels_fd_trouble(const struct tunnels *set);
void tunnels_note_shed(struct tunnels *set);

/* tunnels_count_service(set, name): open tunnels of the service ${name},
 * not counting those refusing a client (tunnels_refusing). */
size_t tunnels_count_service(const struct tunnels *set, const char *name);

/**
 * tunnels_refusing(set):
 * Tunnels of ${set} that only answer their client with the reason they
 * failed (client mode, tunnel_refuse): at most REFUSING_MAX (32), each for
 * at most about two seconds.  They count in tunnels_count() but not
 * towards the connection limits.
 */
size_t tunnels_refusing(const struct tunnels *set);

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
 * tunnel_buffers_release(void):
 * Free the calling thread's pool of idle ciphertext buffers; call when a
 * loop has ended.
 */
void tunnel_buffers_release(void);

/**
 * tunnel_accept(set, listener, svc):
 * Accept one pending connection on ${listener} and start forwarding it for
 * the service ${svc} (a reference is taken; the tunnel keeps using this
 * service generation until it ends, whatever reloads happen).  Returns 0,
 * or a negative libuv error if nothing could be accepted.
 */
int tunnel_accept(struct tunnels *set, uv_stream_t *listener,
    struct svc *svc);

/**
 * tunnels_set_keeper(set, keep, arg):
 * Where a connection cleaned for reuse goes: ${keep}(${arg}, t, svc)
 * returns 0 once it has put the tunnel ${t} of the service generation
 * ${svc} in a pool (tunnel_park), or -1 (no such listener, pool full):
 * the tunnel is then closed.
 */
struct tunnel;
typedef int tunnels_keep_fn(void *arg, struct tunnel *t, struct svc *svc);
void tunnels_set_keeper(struct tunnels *set, tunnels_keep_fn *keep,
    void *arg);

/**
 * tunnel_accept_refused(set, listener, svc, why, peer, peerlen):
 * Accept one pending connection on ${listener} for the client-mode service
 * ${svc} only to answer its first command with "-ERR redtun [SERVICE]:
 * ${why}" and close it (the connection limits: the caller logs, rate
 * limited, so this tunnel's own lines are at debug level).  Its peer
 * address goes to ${peer}.  Returns 0, or a negative libuv error with
 * nothing accepted (UV_EBUSY: REFUSING_MAX tunnels are refusing already;
 * the caller then sheds the connection as before).
 */
int tunnel_accept_refused(struct tunnels *set, uv_stream_t *listener,
    struct svc *svc, const char *why, char *peer, size_t peerlen);

/* Events of a pre-warmed tunnel, reported to its pool. */
enum tunnel_pool_event {
	POOL_READY,	/* handshaken and idle: may be handed out */
	POOL_LOST,	/* closed while idle (server closed, expired) */
	POOL_FAILED	/* could not be established */
};
struct tunnel;
typedef void tunnel_pool_cb(struct tunnel *t, int event, void *arg);

/**
 * tunnel_prewarm(set, loop, svc, cb, arg):
 * Start an upstream connection and TLS handshake for the client-mode
 * service ${svc} without a client, to be handed to one later.  ${cb} gets
 * POOL_READY once, then POOL_LOST if it dies idle; or POOL_FAILED.  The
 * callback may run before this returns.  Returns the tunnel or NULL.
 */
struct tunnel *tunnel_prewarm(struct tunnels *set, uv_loop_t *loop,
    struct svc *svc, tunnel_pool_cb *cb, void *arg);

/* tunnel_pool_ready(t): true if ${t} is pre-warmed and idle. */
int tunnel_pool_ready(const struct tunnel *t);

/* tunnel_pooled(t): true while ${t} is pre-warmed (pending or ready). */
int tunnel_pooled(const struct tunnel *t);

/**
 * tunnel_adopt(t, listener):
 * Accept a pending connection on ${listener} as the client of the ready
 * pre-warmed tunnel ${t}, which starts relaying at once.  No more pool
 * callbacks follow.  Returns 0, or a negative libuv error (${t} stays in
 * the pool).
 */
int tunnel_adopt(struct tunnel *t, uv_stream_t *listener);

/* tunnel_discard(t, why): close an unused pre-warmed tunnel, no callback. */
void tunnel_discard(struct tunnel *t, const char *why);

/**
 * tunnel_park(t, cb, arg):
 * Put the connection ${t}, cleaned for reuse, in a pool: idle until
 * tunnel_adopt, with the same callbacks as a pre-warmed one (${cb} gets
 * POOL_READY at once, POOL_LOST if it dies idle or after reuseIdle).
 */
void tunnel_park(struct tunnel *t, tunnel_pool_cb *cb, void *arg);

/* tunnel_reused(t): ${t} is a kept connection (not a pre-warmed one). */
int tunnel_reused(const struct tunnel *t);

/* tunnel_target(t): the index of the connect target ${t} is on. */
size_t tunnel_target(const struct tunnel *t);

#endif
