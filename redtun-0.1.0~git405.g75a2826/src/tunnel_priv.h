#ifndef REDTUN_TUNNEL_PRIV_H
#define REDTUN_TUNNEL_PRIV_H

/*
 * Shared by the parts of a tunnel: tunnel.c (life and phases), tunnel_io.c
 * (the ends' I/O), tunnel_pool.c (pre-warmed), upstream.c (connect) and
 * handshake.c (sniff, TLS).
 */

#include <stdint.h>

#include <uv.h>

#include "stats.h"
#include "tls.h"
#include "tunnel.h"

/*
 * Per-direction bounds: the relay's watermarks (relay.h) pause a source
 * whose destination is backlogged.  Received ciphertext waits in at most
 * CIPHER_IN_CAP bytes (more than one maximal TLS record).
 */
#define CIPHER_IN_CAP	(20 * 1024)
#define TLS_RECORD_MAX	(16 * 1024)	/* plaintext bytes per record */

/*
 * The phases, in the order tunnel.c runs them (its table gives each one's
 * timeout).  Client mode: CONNECT (resolve, connect, fail over) ->
 * HANDSHAKE (TLS to the server) -> PREPARE -> RELAY -> DRAIN (one side
 * finished) -> DEAD; pre-warmed: ... PREPARE -> POOLED -> RELAY once a
 * client is handed over.  Server mode: SNIFF (TLS or plaintext?) ->
 * HANDSHAKE (TLS with the client) -> CONNECT -> PREPARE -> RELAY ...
 * Client mode, from any phase before RELAY: REFUSE (tunnel_refuse.c: the
 * upstream is gone, the client's first command gets the reason).
 */
enum tunnel_state {
	T_NEW, T_SNIFF, T_CONNECT, T_HANDSHAKE, T_PREPARE, T_POOLED, T_RELAY,
	T_DRAIN, T_RECYCLE, T_REFUSE, T_DEAD
};

/* RECYCLE (RESET after the client left) is bounded by this. */
#define RECYCLE_MAX_MS	1000
/* A pre-warmed connection older than this is replaced. */
#define PREWARM_MAX_IDLE_MS (60 * 1000)

struct refusal;

struct tunnel;

/* One side of a tunnel: the accepted client or the upstream server. */
struct end {
	uv_tcp_t tcp;
	struct tunnel *t;
	struct end *peer;
	WOLFSSL *ssl;		/* NULL on a plaintext end */
	char *in;		/* ciphertext received, not yet taken by TLS */
	size_t in_off, in_len;
	uv_shutdown_t sreq;
	unsigned int open:1;	/* tcp initialised and not being closed */
	unsigned int buffered:1;	/* reads go to ${in} (TLS, sniffing) */
	unsigned int reading:1;
	unsigned int paused:1;	/* reading held back by backpressure */
	unsigned int read_done:1;	/* the end will send nothing more */
	unsigned int transport_eof:1;	/* TCP FIN seen on a TLS end */
	unsigned int write_done:1;	/* we started shutting down writes */
	unsigned int shut_complete:1;	/* queued data flushed, FIN sent */
	unsigned int first_seen:1;	/* first handshake bytes checked */
};

struct tunnel {
	struct tunnels *set;
	struct tunnel *prev, *next;
	struct svc *svc;
	const struct svc_conf *sc;
	uv_loop_t *loop;
	struct end cli, srv;
	struct relay *relay;		/* both directions, filter */
	struct resp_filter *rf;		/* the RESP filter, if switched on */
	int deferred;			/* tunnel_redis: work for the timer */
	int rf_result;			/* ... its result */
	uint64_t cluster_wait;		/* uv_now() a cluster miss began
					   holding replies; 0: none */
	int reused;			/* kept after RESET for a new client */
	uint64_t released;		/* RECYCLE: uv_now() when the client
					 * had all its replies; 0 before */
	unsigned long uses;		/* clients served on this upstream */
	uv_timer_t timer;
	uv_getaddrinfo_t gai;
	uv_connect_t creq;
	struct addrinfo *ai_owned;	/* from uv_getaddrinfo */
	const struct addrinfo *ai_next;	/* next address to try */
	size_t first, tried;		/* connect targets: start, steps */
	size_t target;			/* the one being tried */
	uint64_t tried_mask;		/* targets tried (at most 64) */
	const char *uphost;
	int upport;
	const char *expected;		/* host name the cert must match */
	struct end *hs_end;		/* the end doing the TLS handshake */
	int plaintext;			/* server mode, encryption = preferred */
	struct plain_probe *probe;	/* handshake.c: is the server plaintext? */
	int probed;			/* that probe was started */
	tunnel_pool_cb *pool_cb;	/* set while pre-warmed, unused */
	void *pool_arg;
	int state;			/* enum tunnel_state */
	int resolving;			/* CONNECT: looking up, not connecting */
	int cli_closing;		/* a failed adopt's handle closes */
	int close_after;		/* a filter ends it: see last_err */
	int quiet;			/* over a limit: per-connection lines
					   at debug level (listener logs) */
	struct refusal *refusal;	/* T_REFUSE: the reply to the client */
	uint64_t down_before;		/* bytes to earlier clients (reuse) */
	struct end *close_end;		/* ... once this end is flushed */
	int pending;			/* close callbacks and lookups due */
	int gai_active;
	uint64_t t_start, t_phase, t_active;	/* uv_now() stamps, ms */
	struct tls_verify_info vi;
	struct stats_cell *st;		/* this worker's counters of svc */
	uint64_t connect_ns;		/* uv_hrtime(): this connect began */
	int fail;			/* enum stats_fail + 1 of the last
					   failure of this attempt; 0: none */
	unsigned int st_client:1;	/* counted in conn_active */
	unsigned int st_pool:2;		/* counted in pool[st_pool - 1] */
	unsigned int st_reuse:1;	/* this client's reuse verdict counted */
	unsigned int reauth_warned:1;	/* tunnel_reauth.c: W was logged */
	/* tunnel_reauth.c: an IAM service's AUTH clock, uv_now() ms */
	uint64_t auth_at;		/* the last AUTH went out; 0: none */
	uint64_t reauth_next;		/* ask for AUTH again; 0: asked */
	uint64_t reauth_asked;		/* first asked since auth_at; 0 */
	uint64_t reauth_sent;		/* the re-AUTH in flight went out */
	char peer[64];
	char upaddr[64];
	char last_err[160];
};

/* tunnel.c: life and phases.  The phases' work reports back with
 * tunnel_sniffed/connected/handshaken/prepared, and tunnel.c picks the
 * next phase; tunnel_half_closed() moves RELAY to DRAIN. */
struct tunnel *tunnel_new(struct tunnels *set, uv_loop_t *loop,
    struct svc *svc);
int tunnel_attach_client(struct tunnel *t, uv_stream_t *listener);
void tunnel_begin(struct tunnel *t);
void tunnel_sniffed(struct tunnel *t, int tls);
void tunnel_connected(struct tunnel *t);
void tunnel_handshaken(struct tunnel *t);
void tunnel_prepared(struct tunnel *t);
void tunnel_client_adopted(struct tunnel *t);
void tunnel_half_closed(struct tunnel *t);
void tunnel_finish(struct tunnel *t, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* tunnel_refusing(t): enter T_REFUSE (from tunnel_refuse.c only): the
 * upstream end, lookup and probe are closed, refuse_start() runs. */
void tunnel_refusing(struct tunnel *t);

/*
 * tunnel_refuse.c: finish with a reason the client can read.
 *
 * tunnel_refuse(t, level, fmt, ...) logs "PEER: REASON" at ${level} exactly
 * as tunnel_finish() does.  Then, in client mode, with a client attached
 * (not a pre-warmed tunnel), before RELAY and before any byte went to the
 * client, the tunnel enters T_REFUSE instead of ending: the upstream side
 * is closed, the client is read (what it sends is discarded, never
 * buffered), and its first bytes are answered "-ERR redtun [SERVICE]:
 * REASON\r\n" (REASON escaped like the log line, bounded), then writes
 * are shut and the tunnel ends when the client closes, or REFUSE_WAIT_MS
 * after the reply.  A client silent for REFUSE_WAIT_MS is closed without
 * a reply.  Otherwise (server mode, relaying, over REFUSING_MAX refusing
 * tunnels on this loop) it is tunnel_finish().  The tunnel may be dead or
 * refusing on return: the caller must not touch its upstream side again.
 * May be called from any callback of the tunnel's loop.
 */
#define REFUSE_WAIT_MS	1000
#define REFUSING_MAX	32	/* refusing tunnels per loop */
void tunnel_refuse(struct tunnel *t, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The T_REFUSE phase's start (from enter()) and missed deadline. */
void refuse_start(struct tunnel *t);
void refuse_expire(struct tunnel *t);
/* Is ${t} past its upstream (T_REFUSE or T_DEAD)?  Late callbacks of the
 * upstream side (lookup, connect, retry close) then only unpend. */
#define TUNNEL_UPSTREAM_GONE(t) \
	((t)->state == T_REFUSE || (t)->state == T_DEAD)
void tunnel_arm_timer(struct tunnel *t);
void tunnel_phase_restart(struct tunnel *t);
void tunnel_unpend(struct tunnel *t);

/* tunnel_timeout.c: a missed deadline of a phase (tunnel.c's table). */
void tunnel_expire_sniff(struct tunnel *t);
void tunnel_expire_handshake(struct tunnel *t);
void tunnel_expire_prepare(struct tunnel *t);
void tunnel_expire_pooled(struct tunnel *t);
void tunnel_expire_relay(struct tunnel *t);
void tunnel_expire_drain(struct tunnel *t);
void tunnel_expire_recycle(struct tunnel *t);

/*
 * tunnel_stats.c: the counters of ${t}'s service on its worker (t->st),
 * on the tunnel's loop only.  tunnel_stats_init() finds the cell (at
 * creation); tunnel_stats_client() counts a client attached (1: once
 * per client, not for over-limit ones) or gone (0); tunnel_stats_phase()
 * is told every phase change (pools, reuse, and the failure of an attempt
 * that ends before RELAY, counted once with the reason given last by
 * tunnel_fail(), else "other"); tunnel_stats_handshake() counts a TLS
 * handshake that succeeded, tunnel_stats_connected() an upstream connect
 * (from t->connect_ns).  tunnel_fail_uv() and tunnel_fail_tls() classify
 * a libuv error or a failed handshake (wolfSSL error ${err}, with redtun's
 * verdict in t->vi) as an enum stats_fail reason.
 */
void tunnel_stats_init(struct tunnel *t);
void tunnel_stats_client(struct tunnel *t, int attached);
void tunnel_stats_phase(struct tunnel *t, int from, int to);
void tunnel_stats_handshake(struct tunnel *t, WOLFSSL *ssl);
void tunnel_stats_connected(struct tunnel *t);
void tunnel_fail(struct tunnel *t, int reason);
int tunnel_fail_uv(int status);
int tunnel_fail_tls(const struct tunnel *t, WOLFSSL *ssl, int err);

/* tunnels.c: the registry.  tunnels_remove() may run the on_empty
 * callback; tunnels_note_relay() ends an out-of-descriptors episode once
 * a tunnel gets going. */
void tunnels_add(struct tunnels *set, struct tunnel *t);
void tunnels_remove(struct tunnels *set, struct tunnel *t);
void tunnels_note_relay(struct tunnels *set);
void tunnels_note_refusing(struct tunnels *set, int delta);

/* tunnel_io.c: the ends' reads, writes and wolfSSL callbacks; the relay's
 * sinks.  tunnel_relay_new() gives ${t} its relay (-1: no memory). */
int tunnel_relay_new(struct tunnel *t);
void end_start_relay(struct end *e);
void end_release_input(struct end *e, int force);
/* end_forget(e): a closed end is ready to be opened again (state reset). */
void end_forget(struct end *e);
void end_read_start(struct end *e);
void end_read_stop(struct end *e);
/* end_maybe_resume(e): ${e} was paused for the relay's backlog: read
 * again if that has shrunk (a filter released what it held). */
void end_maybe_resume(struct end *e);
void end_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void end_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
int end_tls_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx);
int end_tls_send(WOLFSSL *ssl, char *buf, int sz, void *ctx);

/*
 * tunnel_redis.c: the RESP filter's side of a tunnel.  tunnel_redis_prepare
 * runs the prepare phase (AUTH, ROLE) and ends it with tunnel_prepared or
 * a failure; tunnel_redis_deferred runs from the phase timer what the
 * filter reported from inside a read (tunnel.c calls it when t->deferred).
 */
void tunnel_redis_prepare(struct tunnel *t);
void tunnel_redis_deferred(struct tunnel *t);
void tunnel_enter_recycle(struct tunnel *t);
void tunnel_reconnect(struct tunnel *t);

/*
 * tunnel_reauth.c: re-authentication of IAM services (nothing for others).
 * tunnel_reauth_start(t, at): an AUTH went out at ${at} (prepare, after
 * RESET): the clock starts again.  tunnel_reauth_due(t): when the timer
 * must wake for the clock (0: never), taken with the phase's deadline.
 * tunnel_reauth_tick(t): from the timer: 1 if it acted (the tunnel may
 * be dead or closing; re-arm the timer if not), 0 if nothing was due.
 * tunnel_reauth_report(): the filter's hooks->reauthed (arg: the tunnel).
 */
void tunnel_reauth_start(struct tunnel *t, uint64_t at);
uint64_t tunnel_reauth_due(const struct tunnel *t);
int tunnel_reauth_tick(struct tunnel *t);
void tunnel_reauth_report(void *arg, int result, const char *why);

/* tunnel.c: run tunnel_redis_deferred(t) for ${what} from the timer, at
 * once; tunnel_detach_client() closes the client of a kept connection. */
void tunnel_defer(struct tunnel *t, int what);
void tunnel_defer_after(struct tunnel *t, int what, uint64_t ms);
void tunnel_detach_client(struct tunnel *t);

/* tunnels.c: tunnels_keep() offers a cleaned connection to the keeper;
 * tunnels_drop_pooled() closes idle pooled connections of ${svc} to
 * ${upaddr}. */
int tunnels_keep(struct tunnels *set, struct tunnel *t);
void tunnels_drop_pooled(struct tunnels *set, const struct svc *svc,
    const char *upaddr, const char *why);

/* tunnel_pool.c: an idle pre-warmed connection's server spoke. */
void tunnel_pool_read(struct end *e);

/* upstream.c: resolve, connect, fail over; tunnel_connected() when up. */
void upstream_start(struct tunnel *t);
void upstream_timeout(struct tunnel *t);

/* handshake.c: tunnel_sniffed() after the first client bytes;
 * tunnel_handshaken() once the peer is verified. */
void handshake_sniff(struct tunnel *t);
void handshake_upstream(struct tunnel *t);
void handshake_client(struct tunnel *t);
void handshake_step(struct tunnel *t);
int handshake_on_session(WOLFSSL *ssl, WOLFSSL_SESSION *session);
void handshake_plaintext_reply(struct tunnel *t, const char *data,
    size_t len, const char *context);
/*
 * A client-mode handshake silent for PLAIN_PROBE_AFTER_MS: ask the same
 * address "PING" on a second connection; a plaintext Redis (which waits
 * forever on a ClientHello) answers it, and the tunnel then fails at once
 * with the plaintext hint.  handshake_probe_due() says when (0: never),
 * handshake_probe_start() starts it, handshake_probe_close() (from
 * tunnel_finish) closes it; the tunnel stays pending until it is closed.
 */
#define PLAIN_PROBE_AFTER_MS	1000
uint64_t handshake_probe_due(const struct tunnel *t);
void handshake_probe_start(struct tunnel *t);
void handshake_probe_close(struct tunnel *t);

#endif
