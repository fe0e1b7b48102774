/*
 * A tunnel joins one accepted client connection to one upstream server
 * connection and moves bytes both ways with bounded buffering.  Either end
 * may carry TLS (wolfSSL driven through memory callbacks over libuv
 * streams); the other is plaintext.
 *
 * Lifetime: tunnel_finish() marks the tunnel dead and closes its handles;
 * the memory (and the WOLFSSL objects, so that no wolfSSL frame is ever on
 * the stack when they go) is freed once every close callback and lookup
 * has come back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "service.h"
#include "tunnel.h"
#include "tunnel_priv.h"

/* A pre-warmed connection older than this is replaced. */
#define PREWARM_MAX_IDLE_MS (60 * 1000)

struct tunnels {
	struct tunnel *head;
	size_t count;
	int worker;		/* for log lines */
	int out_of_fds;		/* until a tunnel closes */
	int exhaustion_logged;	/* until a tunnel gets going again */
	uint64_t exhaustion_at;	/* uv_now() of that message */
	unsigned long shed;	/* connections shed meanwhile */
	void (*on_empty)(void *);
	void *on_empty_arg;
};

/* Plaintext read from a socket or out of wolfSSL is consumed before the
 * callback returns, so one buffer per loop (thread) suffices. */
static _Thread_local char plain_buf[64 * 1024];
static _Thread_local char tls_plain_buf[64 * 1024];

/*
 * Ciphertext buffers are taken only while data moves and go back to a
 * small per-loop free list, so idle connections hold none and busy ones
 * do not churn malloc.
 */
#define BUF_POOL_MAX 32
static _Thread_local struct {
	char *bufs[BUF_POOL_MAX];
	int n;
} buf_pool;

static char *
buf_get(void)
{

	if (buf_pool.n > 0)
		return (buf_pool.bufs[--buf_pool.n]);
	return (malloc(CIPHER_IN_CAP));
}

static void
buf_put(char *b)
{

	if (b == NULL)
		return;
	if (buf_pool.n < BUF_POOL_MAX)
		buf_pool.bufs[buf_pool.n++] = b;
	else
		free(b);
}

void
tunnel_buffers_release(void)
{

	while (buf_pool.n > 0)
		free(buf_pool.bufs[--buf_pool.n]);
}

struct wreq {
	uv_write_t req;
	struct end *end;
	char data[];
};

static void drain_tls(struct end *e);

static int
alive(const struct end *e)
{

	return (e->t->state != T_DEAD);
}

/* ---- registry --------------------------------------------------------- */

struct tunnels *
tunnels_new(int worker)
{
	struct tunnels *set = calloc(1, sizeof(struct tunnels));

	if (set != NULL)
		set->worker = worker;
	return (set);
}

void
tunnels_free(struct tunnels *set)
{

	free(set);
}

size_t
tunnels_count(const struct tunnels *set)
{

	return (set->count);
}

void
tunnels_fd_exhausted(struct tunnels *set, uv_loop_t *loop)
{
	uint64_t now = uv_now(loop);

	set->out_of_fds = 1;
	/* Once per episode, and an episode lasts at least ten seconds. */
	if (set->exhaustion_logged ||
	    (set->exhaustion_at != 0 && now - set->exhaustion_at < 10000))
		return;
	set->exhaustion_logged = 1;
	set->exhaustion_at = now;
	set->shed = 0;
	log_msg(LOG_LVL_ERR, NULL, "out of file descriptors (too many open "
	    "files) with %zu connections open: shedding new connections "
	    "until some close (raise the open-file limit or lower "
	    "maxConnections)", set->count);
}

int
tunnels_fd_trouble(const struct tunnels *set)
{

	return (set->out_of_fds || set->exhaustion_logged);
}

int
tunnels_out_of_fds(const struct tunnels *set)
{

	return (set->out_of_fds);
}

void
tunnels_note_shed(struct tunnels *set)
{

	set->shed++;
}

size_t
tunnels_count_service(const struct tunnels *set, const char *name)
{
	const struct tunnel *t;
	size_t n = 0;

	for (t = set->head; t != NULL; t = t->next)
		n += (t->state != T_DEAD && strcmp(svc_name(t->svc), name) == 0);
	return (n);
}

void
tunnels_on_empty(struct tunnels *set, void (*cb)(void *), void *arg)
{

	set->on_empty = cb;
	set->on_empty_arg = arg;
	if (set->count == 0 && cb != NULL)
		cb(arg);
}

void
tunnels_close_all(struct tunnels *set, const char *why)
{
	struct tunnel *t;

	for (t = set->head; t != NULL; t = t->next)
		tunnel_finish(t, LOG_LVL_NOTICE, "%s", why);
}

void
tunnels_close_plaintext(struct tunnels *set, const char *name,
    const char *why)
{
	struct tunnel *t;

	for (t = set->head; t != NULL; t = t->next)
		if (t->plaintext && strcmp(svc_name(t->svc), name) == 0)
			tunnel_finish(t, LOG_LVL_NOTICE, "%s", why);
}

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
	buf_put(t->cli.in);
	buf_put(t->srv.in);
	if (t->ai_owned != NULL)
		uv_freeaddrinfo(t->ai_owned);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		set->head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	svc_unref(t->svc);
	free(t);
	/* Descriptors came back: let the next connection try. */
	set->out_of_fds = 0;
	if (--set->count == 0 && set->on_empty != NULL)
		set->on_empty(set->on_empty_arg);
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

void
tunnel_finish(struct tunnel *t, int level, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	int was;

	if (t->state == T_DEAD)
		return;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		log_msg(level, svc_name(t->svc), "%s: %s", t->peer, why);
	}
	was = t->state;
	t->state = T_DEAD;
	if (t->pool_cb != NULL) {
		tunnel_pool_cb *cb = t->pool_cb;

		t->pool_cb = NULL;
		cb(t, was == T_POOLED ? POOL_LOST : POOL_FAILED, t->pool_arg);
	}
	log_msg(t->cli.bytes + t->srv.bytes > 0 || t->cli.open ?
	    LOG_LVL_NOTICE : LOG_LVL_INFO, svc_name(t->svc), "%s: closed: %llu "
	    "bytes to server, %llu bytes to client, %.3f s", t->peer,
	    (unsigned long long)t->cli.bytes, (unsigned long long)t->srv.bytes,
	    (double)(uv_now(t->loop) - t->t_start) / 1000.0);
	if (t->gai_active)
		uv_cancel((uv_req_t *)&t->gai);
	handshake_probe_close(t);
	close_end(&t->cli);
	close_end(&t->srv);
	t->pending++;
	uv_close((uv_handle_t *)&t->timer, on_timer_closed);
}

/* ---- timers ------------------------------------------------------------- */

/* The deadline for the current phase, or 0 for none. */
static uint64_t
deadline(const struct tunnel *t)
{
	const struct svc_conf *sc = t->sc;
	uint64_t due, probe;

	switch (t->state) {
	case T_HANDSHAKE:
		/* Client mode: a silent server may be a plaintext Redis. */
		due = t->t_phase + (uint64_t)sc->timeout_connect * 1000;
		probe = handshake_probe_due(t);
		return (probe != 0 && probe < due ? probe : due);
	case T_SNIFF: case T_RESOLVING: case T_CONNECTING:
		return (t->t_phase + (uint64_t)sc->timeout_connect * 1000);
	case T_POOLED:
		/* Recycle, so that the pool follows DNS and server changes. */
		return (t->t_phase + PREWARM_MAX_IDLE_MS);
	case T_RELAY:
		if (t->cli.read_done || t->srv.read_done)
			return (t->t_active + (uint64_t)sc->timeout_close *
			    1000 + 1);
		if (sc->timeout_idle > 0)
			return (t->t_active + (uint64_t)sc->timeout_idle *
			    1000);
		return (0);
	default:
		return (0);
	}
}

static void
on_timer(uv_timer_t *timer)
{
	struct tunnel *t = timer->data;
	uint64_t now = uv_now(t->loop), due = deadline(t);

	if (due == 0)
		return;
	if (now < due) {
		/* Activity moved the deadline; sleep for the rest. */
		uv_timer_start(&t->timer, on_timer, due - now, 0);
		return;
	}
	if (t->state == T_HANDSHAKE && (due = handshake_probe_due(t)) != 0 &&
	    now >= due) {
		handshake_probe_start(t);
		tunnel_arm_timer(t);
		return;
	}
	if (t->state == T_POOLED)
		tunnel_finish(t, LOG_LVL_INFO, "pre-warmed connection recycled "
		    "after %d s idle", PREWARM_MAX_IDLE_MS / 1000);
	else if (t->state == T_SNIFF)
		tunnel_finish(t, LOG_LVL_ERR, "client sent nothing for %u s",
		    t->sc->timeout_connect);
	else if (t->state == T_HANDSHAKE && t->sc->client)
		tunnel_finish(t, LOG_LVL_ERR, "upstream %s:%d: handshake timed "
		    "out after %u s", t->uphost, t->upport,
		    t->sc->timeout_connect);
	else if (t->state == T_HANDSHAKE)
		tunnel_finish(t, LOG_LVL_ERR, "client TLS handshake timed out "
		    "after %u s", t->sc->timeout_connect);
	else if (t->state != T_RELAY)
		upstream_timeout(t);
	else if (t->cli.read_done || t->srv.read_done)
		tunnel_finish(t, LOG_LVL_INFO, "TIMEOUTclose exceeded after "
		    "%u s", t->sc->timeout_close);
	else
		tunnel_finish(t, LOG_LVL_INFO, "TIMEOUTidle exceeded after "
		    "%u s", t->sc->timeout_idle);
}

void
tunnel_begin_phase(struct tunnel *t, int state)
{

	t->state = state;
	t->t_phase = uv_now(t->loop);
	tunnel_arm_timer(t);
}

void
tunnel_arm_timer(struct tunnel *t)
{
	uint64_t now = uv_now(t->loop), due = deadline(t);

	if (due == 0) {
		uv_timer_stop(&t->timer);
		return;
	}
	uv_timer_start(&t->timer, on_timer, due > now ? due - now : 0, 0);
}

/* ---- writing ------------------------------------------------------------ */

static void
queue_drained(struct end *dst)
{
	struct end *src = dst->peer;

	if (!src->paused ||
	    uv_stream_get_write_queue_size((uv_stream_t *)&dst->tcp) >
	    QUEUE_LOW)
		return;
	src->paused = 0;
	if (src->ssl != NULL)
		drain_tls(src);		/* it may hold decrypted data */
	if (alive(src) && !src->paused)
		end_read_start(src);
}

static void
on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct end *dst = w->end;

	free(w);
	if (status == UV_ECANCELED || !alive(dst))
		return;
	if (status < 0) {
		tunnel_finish(dst->t, LOG_LVL_ERR, "write to %s failed: %s",
		    dst == &dst->t->cli ? "client" : "server",
		    uv_strerror(status));
		return;
	}
	queue_drained(dst);
}

/*
 * Send ${len} bytes on ${dst}'s socket: straight away if nothing is queued,
 * the rest as a copy on libuv's write queue.  The caller bounds the queue
 * through backpressure.  Returns 0 or a negative libuv error.
 */
static int
raw_write(struct end *dst, const char *data, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)data, (unsigned int)len);
	struct wreq *w;
	int n;

	if (!dst->open)
		return (UV_EPIPE);
	if (uv_stream_get_write_queue_size((uv_stream_t *)&dst->tcp) == 0) {
		n = uv_try_write((uv_stream_t *)&dst->tcp, &b, 1);
		if (n < 0 && n != UV_EAGAIN)
			return (n);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		}
		if (len == 0)
			return (0);
	}
	if ((w = malloc(sizeof(*w) + len)) == NULL)
		return (UV_ENOMEM);
	w->end = dst;
	memcpy(w->data, data, len);
	b = uv_buf_init(w->data, (unsigned int)len);
	if ((n = uv_write(&w->req, (uv_stream_t *)&dst->tcp, &b, 1,
	    on_written)) < 0) {
		free(w);
		return (n);
	}
	return (0);
}

/*
 * While deliver() encrypts a chunk, the records wolfSSL emits for that end
 * are gathered here and sent with one write instead of one per record.
 */
static _Thread_local struct {
	char buf[4 * (TLS_RECORD_MAX + 64)];
	size_t len;
	struct end *owner;
	int err;
} stage;

static void
stage_flush(void)
{
	int r;

	if (stage.owner != NULL && stage.len > 0 &&
	    (r = raw_write(stage.owner, stage.buf, stage.len)) < 0)
		stage.err = r;
	stage.len = 0;
}

/* wolfSSL send callback: ciphertext out through the socket. */
int
end_tls_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct end *e = ctx;

	(void)ssl;
	if (stage.owner == e) {
		if ((size_t)sz > sizeof(stage.buf) - stage.len)
			stage_flush();
		if (stage.err != 0)
			return (WOLFSSL_CBIO_ERR_CONN_RST);
		if ((size_t)sz <= sizeof(stage.buf)) {
			memcpy(stage.buf + stage.len, buf, (size_t)sz);
			stage.len += (size_t)sz;
			return (sz);
		}
	}
	if (raw_write(e, buf, (size_t)sz) < 0)
		return (WOLFSSL_CBIO_ERR_CONN_RST);
	return (sz);
}

/* wolfSSL receive callback: ciphertext from the buffer read_cb filled. */
int
end_tls_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct end *e = ctx;
	size_t avail = e->in_len - e->in_off, n;

	(void)ssl;
	if (avail == 0)
		return (e->transport_eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE :
		    WOLFSSL_CBIO_ERR_WANT_READ);
	n = avail < (size_t)sz ? avail : (size_t)sz;
	memcpy(buf, e->in + e->in_off, n);
	e->in_off += n;
	return ((int)n);
}

/* Pass plaintext to ${dst}, encrypting if it is the TLS end. */
static int
deliver(struct end *dst, const char *data, size_t len)
{
	struct tunnel *t = dst->t;
	int r, err = 0;

	t->t_active = uv_now(t->loop);
	if (dst->ssl == NULL) {
		if ((r = raw_write(dst, data, len)) < 0) {
			tunnel_finish(t, LOG_LVL_ERR, "write to %s failed: %s",
			    dst == &t->cli ? "client" : "server",
			    uv_strerror(r));
			return (-1);
		}
		return (0);
	}
	stage.owner = dst;
	stage.err = 0;
	r = wolfSSL_write(dst->ssl, data, (int)len);
	stage_flush();
	if (r == (int)len && stage.err < 0)
		r = -1;
	stage.owner = NULL;
	stage.err = 0;
	if (r != (int)len) {
		tls_status(dst->ssl, r, &err);
		tunnel_finish(t, LOG_LVL_ERR, "TLS write to %s failed: %s",
		    dst == &t->cli ? "client" : "server",
		    err ? tls_error_text(err) : "connection lost");
		return (-1);
	}
	return (0);
}

void
end_read_start(struct end *e)
{

	if (e->reading || e->read_done || e->transport_eof || !e->open)
		return;
	e->reading = 1;
	uv_read_start((uv_stream_t *)&e->tcp, end_on_alloc, end_on_read);
}

void
end_read_stop(struct end *e)
{

	if (!e->reading)
		return;
	e->reading = 0;
	uv_read_stop((uv_stream_t *)&e->tcp);
}

static void
pause_reading(struct end *e)
{

	e->paused = 1;
	end_read_stop(e);
}

static int
backlogged(const struct end *dst)
{

	return (uv_stream_get_write_queue_size((const uv_stream_t *)
	    &dst->tcp) > QUEUE_HIGH);
}

/* ---- half-close --------------------------------------------------------- */

static void
check_done(struct tunnel *t)
{

	if (t->cli.read_done && t->srv.read_done && t->cli.shut_complete &&
	    t->srv.shut_complete)
		tunnel_finish(t, 0, NULL);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct end *e = req->data;

	if (status == UV_ECANCELED || !alive(e))
		return;
	e->shut_complete = 1;
	check_done(e->t);
}

/* Nothing more will be written to ${e}: close_notify, then FIN. */
static void
shutdown_writes(struct end *e)
{

	if (e->write_done || !alive(e))
		return;
	e->write_done = 1;
	if (!e->open) {
		e->shut_complete = 1;
		check_done(e->t);
		return;
	}
	if (e->ssl != NULL)
		(void)wolfSSL_shutdown(e->ssl);
	e->sreq.data = e;
	if (uv_shutdown(&e->sreq, (uv_stream_t *)&e->tcp, on_shutdown) < 0)
		e->shut_complete = 1;
	tunnel_arm_timer(e->t);
	check_done(e->t);
}

static void
read_finished(struct end *e)
{

	e->read_done = 1;
	end_read_stop(e);
	shutdown_writes(e->peer);
}

/* ---- reading ------------------------------------------------------------ */

/*
 * Decrypt everything wolfSSL can give from what has arrived and pass it on.
 * Called after each read and whenever a paused destination drains, because
 * data wolfSSL already holds would otherwise never wake us.
 */
static void
drain_tls(struct end *e)
{
	struct tunnel *t = e->t;
	char text[160];
	int n, err = 0;

	size_t used = 0;

	/*
	 * Decrypt records back to back into one buffer and pass them on with
	 * one write: a 64 KiB reply is four records but one syscall.
	 */
	while (alive(e) && !e->read_done) {
		if (used == 0 && backlogged(e->peer)) {
			pause_reading(e);
			return;
		}
		n = wolfSSL_read(e->ssl, tls_plain_buf + used,
		    (int)(sizeof(tls_plain_buf) - used));
		if (n > 0) {
			e->bytes += (uint64_t)n;
			used += (size_t)n;
			if (sizeof(tls_plain_buf) - used < TLS_RECORD_MAX) {
				if (deliver(e->peer, tls_plain_buf, used))
					return;
				used = 0;
			}
			continue;
		}
		/* Whatever happens next, what came first goes out first. */
		if (used > 0) {
			if (deliver(e->peer, tls_plain_buf, used))
				return;
			used = 0;
		}
		switch (tls_status(e->ssl, n, &err)) {
		case TLS_TRUNCATED:
			/*
			 * After our close_notify a bare FIN is normal (Redis
			 * does that); before it, the stream was cut short.
			 * Pass on what came either way.  A TLS client (server
			 * mode) closing without close_notify is how most
			 * clients leave (redis-cli --tls does): info, not an
			 * error; a server cutting a reply short stays one.
			 */
			if (!e->write_done)
				log_msg(e == &t->cli ? LOG_LVL_INFO :
				    LOG_LVL_ERR, svc_name(t->svc), "%s: the "
				    "%s closed the connection without TLS "
				    "close_notify: the data may be truncated",
				    t->peer, e == &t->cli ? "client" : "server");
			/* FALLTHROUGH */
		case TLS_CLOSED:
			read_finished(e);
			break;
		case TLS_FATAL:
			tunnel_finish(t, LOG_LVL_ERR, "TLS error from %s: %s",
			    e == &t->cli ? "client" : "server",
			    tls_fatal_text(e->ssl, err, text, sizeof(text)));
			return;
		default:
			break;
		}
		break;
	}
	if (!alive(e))
		return;
	/* An idle connection keeps no ciphertext buffer. */
	if (e->in != NULL && e->in_off == e->in_len) {
		buf_put(e->in);
		e->in = NULL;
		e->in_off = e->in_len = 0;
	}
	/* Reading stopped on a full buffer; there is room again. */
	if (e->paused && !backlogged(e->peer)) {
		e->paused = 0;
		end_read_start(e);
	}
}

/*
 * An idle pre-warmed connection: TLS 1.3 tickets are fine, anything the
 * server says or a close means it cannot be handed to a client.
 */
static void
pooled_read(struct end *e)
{
	struct tunnel *t = e->t;
	char text[160];
	int n, err = 0;

	n = wolfSSL_read(e->ssl, tls_plain_buf, sizeof(tls_plain_buf));
	if (n > 0) {
		tunnel_finish(t, LOG_LVL_INFO, "pre-warmed connection: the "
		    "server sent %d unexpected bytes; discarded", n);
		return;
	}
	switch (tls_status(e->ssl, n, &err)) {
	case TLS_CLOSED:
	case TLS_TRUNCATED:
		tunnel_finish(t, LOG_LVL_INFO, "pre-warmed connection closed "
		    "by the server");
		return;
	case TLS_FATAL:
		tunnel_finish(t, LOG_LVL_INFO, "pre-warmed connection lost: %s",
		    tls_fatal_text(e->ssl, err, text, sizeof(text)));
		return;
	default:
		break;
	}
	if (e->in != NULL && e->in_off == e->in_len) {
		buf_put(e->in);
		e->in = NULL;
		e->in_off = e->in_len = 0;
	}
}

void
end_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct end *e = h->data;

	(void)suggested;
	if (!e->buffered) {
		*buf = uv_buf_init(plain_buf, sizeof(plain_buf));
		return;
	}
	if (e->in == NULL && (e->in = buf_get()) == NULL) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	if (e->in_off > 0) {
		memmove(e->in, e->in + e->in_off, e->in_len - e->in_off);
		e->in_len -= e->in_off;
		e->in_off = 0;
	}
	*buf = uv_buf_init(e->in + e->in_len,
	    (unsigned int)(CIPHER_IN_CAP - e->in_len));
}

void
end_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct end *e = s->data;
	struct tunnel *t = e->t;

	if (!alive(e) || nread == 0)
		return;		/* 0 is EAGAIN, not EOF */
	if (nread == UV_EOF) {
		e->reading = 0;	/* libuv stopped reading */
		if (!e->buffered) {
			read_finished(e);
			return;
		}
		e->transport_eof = 1;
	} else if (nread == UV_ENOBUFS) {
		pause_reading(e);	/* ${in} is full: wait for TLS */
		return;
	} else if (nread < 0) {
		tunnel_finish(t, LOG_LVL_ERR, "read from %s failed: %s",
		    e == &t->cli ? "client" : "server", uv_strerror((int)nread));
		return;
	} else if (e->buffered) {
		e->in_len += (size_t)nread;
	} else {
		e->bytes += (uint64_t)nread;
		if (deliver(e->peer, buf->base, (size_t)nread) == 0 &&
		    backlogged(e->peer))
			pause_reading(e);
		return;
	}
	switch (t->state) {
	case T_SNIFF:
		handshake_sniff(t);
		break;
	case T_HANDSHAKE:
		if (e == t->hs_end)
			handshake_step(t);
		break;
	case T_RELAY:
		drain_tls(e);
		break;
	case T_POOLED:
		pooled_read(e);
		break;
	default:
		break;	/* kept in ${in} until the relay starts */
	}
}

/* ---- start ------------------------------------------------------------ */

/* Both connections are up: start moving data both ways. */
void
tunnel_start_relay(struct tunnel *t)
{
	struct end *cli = &t->cli;

	if (t->set->exhaustion_logged) {
		t->set->exhaustion_logged = 0;
		log_msg(LOG_LVL_NOTICE, NULL, "accepting connections again (%lu "
		    "shed while out of descriptors)", t->set->shed);
	}

	t->state = T_RELAY;
	t->t_active = uv_now(t->loop);
	tunnel_arm_timer(t);
	/* Plaintext a preferred-mode client sent while we sniffed. */
	if (cli->ssl == NULL && cli->in != NULL) {
		cli->bytes += cli->in_len - cli->in_off;
		if (deliver(&t->srv, cli->in + cli->in_off,
		    cli->in_len - cli->in_off))
			return;
		buf_put(cli->in);
		cli->in = NULL;
		cli->in_off = cli->in_len = 0;
	}
	end_read_start(&t->cli);
	end_read_start(&t->srv);
	/* Records that came with the handshake will not wake us again. */
	if (t->cli.ssl != NULL)
		drain_tls(&t->cli);
	if (t->srv.ssl != NULL && alive(&t->srv))
		drain_tls(&t->srv);
}

static void
end_init(struct tunnel *t, struct end *e, struct end *peer)
{

	e->t = t;
	e->peer = peer;
	e->tcp.data = e;
}

static struct tunnel *
tunnel_new(struct tunnels *set, uv_loop_t *loop, struct svc *svc)
{
	struct tunnel *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	t->loop = loop;
	end_init(t, &t->cli, &t->srv);
	end_init(t, &t->srv, &t->cli);
	t->set = set;
	t->svc = svc_ref(svc);
	t->sc = svc_conf(svc);
	t->next = set->head;
	if (set->head != NULL)
		set->head->prev = t;
	set->head = t;
	set->count++;
	uv_timer_init(loop, &t->timer);
	t->timer.data = t;
	t->t_start = t->t_active = uv_now(loop);
	return (t);
}

/* Take the next connection from ${listener} as ${t}'s client. */
static int
attach_client(struct tunnel *t, uv_stream_t *listener)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss), r;

	if ((r = uv_tcp_init(t->loop, &t->cli.tcp)) < 0)
		return (r);
	t->cli.tcp.data = &t->cli;
	t->cli.open = 1;
	if ((r = uv_accept(listener, (uv_stream_t *)&t->cli.tcp)) < 0) {
		/* The handle is ours to close; the tunnel goes on. */
		t->cli.open = 0;
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
	log_msg(LOG_LVL_INFO, svc_name(t->svc), "%s: accepted by worker %d",
	    t->peer, t->set->worker);
	return (0);
}

int
tunnel_accept(struct tunnels *set, uv_stream_t *listener, struct svc *svc)
{
	struct tunnel *t;
	int r;

	if ((t = tunnel_new(set, listener->loop, svc)) == NULL)
		return (UV_ENOMEM);
	if ((r = attach_client(t, listener)) < 0) {
		tunnel_finish(t, 0, NULL);
		return (r);
	}
	if (t->sc->client) {
		upstream_start(t);
	} else {
		t->cli.buffered = 1;
		tunnel_begin_phase(t, T_SNIFF);
		end_read_start(&t->cli);
	}
	return (0);
}

struct tunnel *
tunnel_prewarm(struct tunnels *set, uv_loop_t *loop, struct svc *svc,
    tunnel_pool_cb *cb, void *arg)
{
	static unsigned long serial;
	struct tunnel *t;

	if ((t = tunnel_new(set, loop, svc)) == NULL)
		return (NULL);
	snprintf(t->peer, sizeof(t->peer), "pre-warmed #%lu",
	    __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED));
	t->pool_cb = cb;
	t->pool_arg = arg;
	upstream_start(t);
	return (t);
}

int
tunnel_pool_ready(const struct tunnel *t)
{

	return (t->state == T_POOLED);
}

int
tunnel_pooled(const struct tunnel *t)
{

	return (t->pool_cb != NULL);
}

int
tunnel_adopt(struct tunnel *t, uv_stream_t *listener)
{
	char was[64];
	int r;

	snprintf(was, sizeof(was), "%s", t->peer);
	if ((r = attach_client(t, listener)) < 0)
		return (r);
	t->pool_cb = NULL;
	t->t_start = uv_now(t->loop);
	log_msg(LOG_LVL_INFO, svc_name(t->svc), "%s: handed %s (%s %s), "
	    "no handshake wait", t->peer, was, wolfSSL_get_version(t->srv.ssl),
	    wolfSSL_get_cipher_name(t->srv.ssl));
	tunnel_start_relay(t);
	return (0);
}

void
tunnel_discard(struct tunnel *t, const char *why)
{

	t->pool_cb = NULL;
	tunnel_finish(t, LOG_LVL_INFO, "%s", why);
}
