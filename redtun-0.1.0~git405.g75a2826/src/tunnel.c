/*
 * A tunnel joins one accepted client connection to one upstream server
 * connection.  This file owns its life: the registry of a loop's tunnels,
 * the phases (which one follows which, and each one's timeout), and the
 * teardown.  The phases' work is elsewhere: upstream.c (connect),
 * handshake.c (sniff, TLS), tunnel_io.c and relay.c (moving bytes),
 * tunnel_pool.c (pre-warmed tunnels); each reports back here when done.
 *
 * Lifetime: tunnel_finish() marks the tunnel dead and closes its handles;
 * the memory (and the WOLFSSL objects, so that no wolfSSL frame is ever on
 * the stack when they go) is freed once every close callback and lookup
 * has come back.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "relay.h"
#include "service.h"
#include "tunnel.h"
#include "tunnel_priv.h"

/* ---- teardown ----------------------------------------------------------- */

static void
tunnel_free_if_done(struct tunnel *t)
{
	struct tunnels *set = t->set;

	if (t->state != T_DEAD || t->pending > 0)
		return;
	if (t->cli.ssl != NULL)
		wolfSSL_free(t->cli.ssl);
	if (t->srv.ssl != NULL)
		wolfSSL_free(t->srv.ssl);
	end_release_input(&t->cli, 1);
	end_release_input(&t->srv, 1);
	relay_free(t->relay);
	free(t->refusal);
	if (t->ai_owned != NULL)
		uv_freeaddrinfo(t->ai_owned);
	svc_unref(t->svc);
	tunnels_remove(set, t);
	free(t);
}

/* A callback the tunnel was waiting for has come back. */
void
tunnel_unpend(struct tunnel *t)
{

	t->pending--;
	tunnel_free_if_done(t);
}

static void
on_timer_closed(uv_handle_t *h)
{
	struct tunnel *t = h->data;

	t->pending--;
	tunnel_free_if_done(t);
}

static void
on_end_closed(uv_handle_t *h)
{
	struct end *e = h->data;

	e->t->cli_closing &= (e != &e->t->cli) ? 1 : 0;
	e->t->pending--;
	tunnel_free_if_done(e->t);
}


static void
close_end(struct end *e)
{

	if (!e->open)
		return;
	e->open = 0;
	e->t->pending++;
	uv_close((uv_handle_t *)&e->tcp, on_end_closed);
}

/* Close everything on the upstream side: lookup, probe, server end. */
static void
drop_upstream(struct tunnel *t)
{

	if (t->gai_active)
		uv_cancel((uv_req_t *)&t->gai);
	handshake_probe_close(t);
	close_end(&t->srv);
}

void
tunnel_finish(struct tunnel *t, int level, const char *fmt, ...)
{
	char why[256];
	uint64_t up, down;
	va_list ap;
	int was;

	if (t->state == T_DEAD)
		return;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		/* Errors and warnings are failures; the rest (idle
		 * timeouts, pool recycling, a peer's close) end normally. */
		log_ev(level, svc_name(t->svc), t->peer, level <=
		    LOG_LVL_WARNING ? "failed" : "ended", why, "%s: %s",
		    t->peer, why);
	}
	was = t->state;
	t->state = T_DEAD;
	tunnel_stats_phase(t, was, T_DEAD);
	if (was == T_REFUSE)
		tunnels_note_refusing(t->set, -1);
	if (t->pool_cb != NULL) {
		tunnel_pool_cb *cb = t->pool_cb;

		t->pool_cb = NULL;
		cb(t, was == T_POOLED ? POOL_LOST : POOL_FAILED, t->pool_arg);
	}
	up = relay_bytes_out(t->relay, RELAY_UP);
	down = relay_bytes_out(t->relay, RELAY_DOWN);
	/* A refused over-limit client: the listener's line says it. */
	log_ev(t->quiet ? LOG_LVL_DEBUG : up + down > 0 || t->cli.open ?
	    LOG_LVL_NOTICE : LOG_LVL_INFO, svc_name(t->svc), t->peer,
	    "closed", NULL, "%s: closed: "
	    "%llu bytes to server, %llu bytes to client, %.3f s", t->peer,
	    (unsigned long long)up, (unsigned long long)down,
	    (double)(uv_now(t->loop) - t->t_start) / 1000.0);
	drop_upstream(t);
	close_end(&t->cli);
	t->pending++;
	uv_close((uv_handle_t *)&t->timer, on_timer_closed);
}

/* ---- phases ------------------------------------------------------------ */

/*
 * Every phase and its clock, in one table.  A deadline runs from the start
 * of the phase (PH_FROM_START: the phase must end in time) or from the last
 * byte relayed (PH_FROM_ACTIVITY: silence is what is bounded).  expire()
 * says what a missed deadline means.
 */
enum phase_clock { PH_NONE, PH_CONNECT, PH_POOL, PH_IDLE, PH_CLOSE,
	PH_RECYCLE, PH_REFUSE };

static const struct phase {
	const char *name;
	enum phase_clock clock;
	int from_activity;
	void (*expire)(struct tunnel *);
} phases[] = {
	[T_NEW] =	{ "new", PH_NONE, 0, NULL },
	[T_SNIFF] =	{ "sniff", PH_CONNECT, 0, tunnel_expire_sniff },
	[T_CONNECT] =	{ "connect", PH_CONNECT, 0, upstream_timeout },
	[T_HANDSHAKE] =	{ "handshake", PH_CONNECT, 0, tunnel_expire_handshake },
	[T_PREPARE] =	{ "prepare", PH_CONNECT, 0, tunnel_expire_prepare },
	[T_POOLED] =	{ "pooled", PH_POOL, 0, tunnel_expire_pooled },
	[T_RELAY] =	{ "relay", PH_IDLE, 1, tunnel_expire_relay },
	[T_DRAIN] =	{ "drain", PH_CLOSE, 1, tunnel_expire_drain },
	[T_RECYCLE] =	{ "recycle", PH_RECYCLE, 0, tunnel_expire_recycle },
	[T_REFUSE] =	{ "refuse", PH_REFUSE, 0, refuse_expire },
	[T_DEAD] =	{ "closed", PH_NONE, 0, NULL },
};

/* The deadline for the current phase (uv_now() ms), or 0 for none. */
static uint64_t
phase_deadline(const struct tunnel *t)
{
	const struct phase *ph = &phases[t->state];
	const struct svc_conf *sc = t->sc;
	uint64_t base = ph->from_activity ? t->t_active : t->t_phase;
	uint64_t due, probe;

	switch (ph->clock) {
	case PH_CONNECT:
		due = base + (uint64_t)sc->timeout_connect * 1000;
		break;
	case PH_POOL:
		/* Recycle, so that the pool follows DNS and server changes. */
		due = base + (t->reused ? (uint64_t)sc->reuse_idle * 1000 :
		    PREWARM_MAX_IDLE_MS);
		break;
	case PH_RECYCLE:
		/*
		 * The client is owed replies: TIMEOUTclose since the last
		 * byte, as in DRAIN; from then on, 1 s for RESET (and AUTH).
		 */
		if (t->released == 0)
			due = t->t_active + (uint64_t)sc->timeout_close * 1000 +
			    1;
		else
			due = t->released + RECYCLE_MAX_MS;
		break;
	case PH_IDLE:
		if (sc->timeout_idle == 0)
			return (0);
		due = base + (uint64_t)sc->timeout_idle * 1000;
		break;
	case PH_CLOSE:
		due = base + (uint64_t)sc->timeout_close * 1000 + 1;
		break;
	case PH_REFUSE:
		/* Long enough for a client's first command, no longer. */
		due = base + REFUSE_WAIT_MS;
		break;
	default:
		return (0);
	}
	/* Client mode: a silent server may be a plaintext Redis. */
	if (t->state == T_HANDSHAKE && (probe = handshake_probe_due(t)) != 0 &&
	    probe < due)
		due = probe;
	return (due);
}

/* The timer's next wake: the phase's deadline or the AUTH clock's. */
static uint64_t
deadline(const struct tunnel *t)
{
	uint64_t due = phase_deadline(t), re = tunnel_reauth_due(t);

	return (re != 0 && (due == 0 || re < due) ? re : due);
}

static void
on_timer(uv_timer_t *timer)
{
	struct tunnel *t = timer->data;
	uint64_t now = uv_now(t->loop), due;

	if (t->deferred) {
		tunnel_redis_deferred(t);	/* re-arms the timer */
		return;
	}
	if (tunnel_reauth_tick(t)) {
		if (t->state != T_DEAD)
			tunnel_arm_timer(t);
		return;
	}
	if ((due = phase_deadline(t)) == 0 || now < due) {
		/* Activity moved the deadline; sleep for the rest. */
		tunnel_arm_timer(t);
		return;
	}
	if (t->state == T_HANDSHAKE && (due = handshake_probe_due(t)) != 0 &&
	    now >= due) {
		handshake_probe_start(t);
		tunnel_arm_timer(t);
		return;
	}
	phases[t->state].expire(t);
}

void
tunnel_arm_timer(struct tunnel *t)
{
	uint64_t now = uv_now(t->loop), due = deadline(t);

	if (t->deferred) {
		/* A filter's report waits to run: keep it at once. */
		uv_timer_start(&t->timer, on_timer, 0, 0);
		return;
	}
	if (due == 0) {
		uv_timer_stop(&t->timer);
		return;
	}
	uv_timer_start(&t->timer, on_timer, due > now ? due - now : 0, 0);
}

void
tunnel_phase_restart(struct tunnel *t)
{

	t->t_phase = uv_now(t->loop);
	tunnel_arm_timer(t);
}

static void start_prepare(struct tunnel *);
static void start_relay(struct tunnel *);

/* Enter ${phase} and start its work; the work reports back below. */
static void
enter(struct tunnel *t, int phase)
{

	if (t->state == T_DEAD)
		return;
	log_msg(LOG_LVL_DEBUG, svc_name(t->svc), "%s: phase %s -> %s",
	    t->peer, phases[t->state].name, phases[phase].name);
	tunnel_stats_phase(t, t->state, phase);
	t->state = phase;
	t->t_phase = t->t_active = uv_now(t->loop);
	tunnel_arm_timer(t);
	switch (phase) {
	case T_SNIFF:
		t->cli.buffered = 1;
		end_read_start(&t->cli);
		break;
	case T_CONNECT:
		upstream_start(t);
		break;
	case T_HANDSHAKE:
		if (t->sc->client)
			handshake_upstream(t);
		else
			handshake_client(t);
		break;
	case T_PREPARE:
		start_prepare(t);
		break;
	case T_POOLED:
		/* Idle until a client is handed over (tunnel_adopt). */
		end_read_start(&t->srv);
		if (t->state != T_DEAD)	/* a failed read start ends it */
			t->pool_cb(t, POOL_READY, t->pool_arg);
		break;
	case T_RELAY:
		start_relay(t);
		break;
	case T_REFUSE:
		tunnels_note_refusing(t->set, 1);
		drop_upstream(t);
		refuse_start(t);
		break;
	default:
		break;
	}
}

/*
 * The order of the phases.  Client mode: connect -> handshake (with the
 * server) -> prepare -> relay, or -> pooled -> relay when pre-warmed.
 * Server mode: sniff -> handshake (with the client) -> connect -> prepare
 * -> relay; a plaintext client ("preferred") skips the handshake.
 */
void
tunnel_begin(struct tunnel *t)
{

	enter(t, t->sc->client ? T_CONNECT : T_SNIFF);
}

void
tunnel_sniffed(struct tunnel *t, int tls)
{

	enter(t, tls ? T_HANDSHAKE : T_CONNECT);
}

void
tunnel_connected(struct tunnel *t)
{

	enter(t, t->sc->client ? T_HANDSHAKE : T_PREPARE);
}

void
tunnel_handshaken(struct tunnel *t)
{

	enter(t, t->sc->client ? T_PREPARE : T_CONNECT);
}

void
tunnel_prepared(struct tunnel *t)
{

	enter(t, t->pool_cb != NULL ? T_POOLED : T_RELAY);
}

void
tunnel_client_adopted(struct tunnel *t)
{

	enter(t, T_RELAY);
}

void
tunnel_defer_after(struct tunnel *t, int what, uint64_t ms)
{

	t->deferred = what;
	uv_timer_start(&t->timer, on_timer, ms, 0);
}

void
tunnel_defer(struct tunnel *t, int what)
{

	tunnel_defer_after(t, what, 0);
}

/* Until tunnel_refuse (client-readable errors) lands: close. */
void __attribute__((weak))
tunnel_refuse(struct tunnel *t, int level, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	tunnel_finish(t, level, "%s", why);
}

/*
 * The client of a kept connection is done: close its handle (a new client
 * may be attached once it is closed: cli_closing) and forget its state.
 */
void
tunnel_detach_client(struct tunnel *t)
{
	struct end *e = &t->cli;

	t->cli_closing = 1;
	tunnel_stats_client(t, 0);
	end_read_stop(e);
	close_end(e);
	end_forget(e);
}

/* The client left a connection that can be cleaned: RESET, then reuse. */
void
tunnel_reconnect(struct tunnel *t)
{

	enter(t, T_CONNECT);
}

void
tunnel_enter_recycle(struct tunnel *t)
{

	t->released = 0;
	t->state = T_RECYCLE;
	t->t_phase = t->t_active = uv_now(t->loop);
	tunnel_arm_timer(t);
}

/* Cleaned and kept: idle in a pool until the next client. */
void
tunnel_park(struct tunnel *t, tunnel_pool_cb *cb, void *arg)
{

	t->pool_cb = cb;
	t->pool_arg = arg;
	enter(t, T_POOLED);
}

void
tunnel_refusing(struct tunnel *t)
{

	enter(t, T_REFUSE);
}

void
tunnel_half_closed(struct tunnel *t)
{

	/* From here TIMEOUTclose, from the last byte, bounds the rest. */
	if (t->state != T_RELAY)
		return;
	t->state = T_DRAIN;
	tunnel_arm_timer(t);
}

/*
 * The filter seam end to end, in test builds only: test/redtun_filtered
 * links test/filter_lines.c, which defines this; the daemon has no such
 * symbol, so nothing at run time can switch it on.
 */
int tunnel_test_filter(struct relay *r) __attribute__((weak));

/*
 * The upstream connection is up (and verified): the place for a filter
 * and for AUTH/HELLO through it, before any client byte.
 */
static void
start_prepare(struct tunnel *t)
{

	if (svc_conf_redis(t->sc)) {
		tunnel_redis_prepare(t);
		return;
	}
	if (tunnel_test_filter != NULL && tunnel_test_filter(t->relay) != 0) {
		tunnel_finish(t, LOG_LVL_ERR, "cannot set up the test filter");
		return;
	}
	tunnel_prepared(t);
}

/* Both connections are ready: move data both ways. */
static void
start_relay(struct tunnel *t)
{

	tunnels_note_relay(t->set);
	end_start_relay(&t->cli);
	if (t->state != T_DEAD)
		end_start_relay(&t->srv);
}

/* ---- creation ----------------------------------------------------------- */

static void
end_init(struct tunnel *t, struct end *e, struct end *peer)
{

	e->t = t;
	e->peer = peer;
	e->tcp.data = e;
}

struct tunnel *
tunnel_new(struct tunnels *set, uv_loop_t *loop, struct svc *svc)
{
	struct tunnel *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	end_init(t, &t->cli, &t->srv);
	end_init(t, &t->srv, &t->cli);
	if (tunnel_relay_new(t) != 0 || uv_timer_init(loop, &t->timer) != 0) {
		relay_free(t->relay);
		free(t);
		return (NULL);
	}
	t->loop = loop;
	t->set = set;
	t->svc = svc_ref(svc);
	t->sc = svc_conf(svc);
	tunnel_stats_init(t);
	tunnels_add(set, t);
	t->timer.data = t;
	t->t_start = t->t_active = uv_now(loop);
	return (t);
}

int
tunnel_attach_client(struct tunnel *t, uv_stream_t *listener)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss), r;

	if ((r = uv_tcp_init(t->loop, &t->cli.tcp)) < 0)
		return (r);
	t->cli.tcp.data = &t->cli;
	t->cli.open = 1;
	t->down_before = relay_bytes_out(t->relay, RELAY_DOWN);
	if ((r = uv_accept(listener, (uv_stream_t *)&t->cli.tcp)) < 0) {
		/* The handle is ours to close; the tunnel goes on. */
		t->cli.open = 0;
		t->cli_closing = 1;
		t->pending++;
		uv_close((uv_handle_t *)&t->cli.tcp, on_end_closed);
		return (r);
	}
	if (uv_tcp_getpeername(&t->cli.tcp, (struct sockaddr *)&ss, &len) == 0)
		addr_format((struct sockaddr *)&ss, t->peer, sizeof(t->peer));
	else
		snprintf(t->peer, sizeof(t->peer), "unknown peer");
	uv_tcp_nodelay(&t->cli.tcp, 1);
	uv_tcp_keepalive(&t->cli.tcp, 1, 60);
	tunnel_stats_client(t, 1);
	/* Over a limit (quiet): refused, never "accepted". */
	if (!t->quiet)
		log_ev(LOG_LVL_INFO, svc_name(t->svc), t->peer, "accepted",
		    NULL, "%s: accepted by worker %d", t->peer,
		    tunnels_worker(t->set));
	return (0);
}

int
tunnel_accept(struct tunnels *set, uv_stream_t *listener, struct svc *svc)
{
	struct tunnel *t;
	int r;

	if ((t = tunnel_new(set, listener->loop, svc)) == NULL)
		return (UV_ENOMEM);
	if ((r = tunnel_attach_client(t, listener)) < 0) {
		tunnel_finish(t, 0, NULL);
		return (r);
	}
	tunnel_begin(t);
	return (0);
}
