/*
 * The I/O of a tunnel's two ends: reading (plaintext, or ciphertext for
 * wolfSSL), wolfSSL's memory callbacks, writing with libuv's queue, and
 * half-close.  Plaintext read from an end goes into the relay
 * (relay.c), which gives it back through the sinks below; this file
 * never decides what the bytes mean.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "relay.h"
#include "resp_filter.h"
#include "service.h"
#include "tunnel.h"
#include "tunnel_priv.h"

/* Plaintext read from a socket or out of wolfSSL is consumed before the
 * callback returns (relay_input's contract), so one buffer per loop. */
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
	resp_filter_release_cache();
}

void
end_forget(struct end *e)
{

	end_release_input(e, 1);
	e->buffered = e->paused = e->read_done = e->transport_eof = 0;
	e->write_done = e->shut_complete = e->first_seen = 0;
}

void
end_release_input(struct end *e, int force)
{

	if (e->in == NULL || (!force && e->in_off != e->in_len))
		return;
	buf_put(e->in);
	e->in = NULL;
	e->in_off = e->in_len = 0;
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

/* The direction whose source is ${e}. */
static int
dir_from(const struct end *e)
{

	return (e == &e->t->cli ? RELAY_UP : RELAY_DOWN);
}

static const char *
side(const struct end *e)
{

	return (e == &e->t->cli ? "client" : "server");
}

/* ---- writing ------------------------------------------------------------ */

static size_t
queued(const struct end *dst)
{

	return (dst->open ? uv_stream_get_write_queue_size((const uv_stream_t *)
	    &dst->tcp) : 0);
}

/* ${src} was paused for its destination's backlog: resume if it shrank. */
static void
maybe_resume(struct end *src)
{
	struct tunnel *t = src->t;

	if (!src->paused || t->close_after ||
	    !relay_resumable(t->relay, dir_from(src)))
		return;
	src->paused = 0;
	if (src->ssl != NULL)
		drain_tls(src);		/* it may hold decrypted data */
	if (alive(src) && !src->paused)
		end_read_start(src);
}

void
end_maybe_resume(struct end *e)
{

	if (alive(e))
		maybe_resume(e);
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
		    side(dst), uv_strerror(status));
		return;
	}
	maybe_resume(dst->peer);
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

/* The relay's sink: plaintext to ${dst}, encrypted if it is the TLS end. */
static int
deliver(void *arg, const char *data, size_t len)
{
	struct end *dst = arg;
	struct tunnel *t = dst->t;
	int r, err = 0;

	if (!alive(dst))
		return (-1);
	t->t_active = uv_now(t->loop);
	STATS_ADD(t->st, bytes[dst == &t->srv ? ST_TO_SERVER : ST_TO_CLIENT],
	    len);
	if (dst->ssl == NULL) {
		if ((r = raw_write(dst, data, len)) < 0) {
			tunnel_finish(t, LOG_LVL_ERR, "write to %s failed: %s",
			    side(dst), uv_strerror(r));
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
		    side(dst), err ? tls_error_text(err) : "connection lost");
		return (-1);
	}
	return (0);
}

void
end_read_start(struct end *e)
{
	int r;

	if (e->reading || e->read_done || e->transport_eof || !e->open)
		return;
	if ((r = uv_read_start((uv_stream_t *)&e->tcp, end_on_alloc,
	    end_on_read)) < 0) {
		tunnel_finish(e->t, LOG_LVL_ERR, "cannot read from the %s: %s",
		    side(e), uv_strerror(r));
		return;
	}
	e->reading = 1;
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

/* ---- half-close --------------------------------------------------------- */

static void
check_done(struct tunnel *t)
{

	if (t->cli.read_done && t->srv.read_done && t->cli.shut_complete &&
	    t->srv.shut_complete)
		tunnel_finish(t, 0, NULL);
}

/*
 * ${e}'s writes are shut and flushed: a filter's close_after waits for
 * exactly that end (the other one finishing proves nothing about it);
 * otherwise the tunnel ends when both directions are done.
 */
static void
finish_if_closing(struct end *e)
{
	struct tunnel *t = e->t;

	if (t->close_after && e == t->close_end)
		tunnel_finish(t, LOG_LVL_INFO, "%s", t->last_err);
	else
		check_done(t);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct end *e = req->data;

	if (status == UV_ECANCELED || !alive(e))
		return;
	e->shut_complete = 1;
	finish_if_closing(e);
}

/* The relay's sink: nothing more will be written to ${e} (close_notify,
 * then FIN once the queue is flushed). */
static void
shutdown_writes(void *arg)
{
	struct end *e = arg;

	if (e->write_done || !alive(e))
		return;
	e->write_done = 1;
	if (!e->open) {
		e->shut_complete = 1;
		finish_if_closing(e);
		return;
	}
	if (e->ssl != NULL)
		(void)wolfSSL_shutdown(e->ssl);
	e->sreq.data = e;
	if (uv_shutdown(&e->sreq, (uv_stream_t *)&e->tcp, on_shutdown) < 0)
		e->shut_complete = 1;
	tunnel_arm_timer(e->t);
	finish_if_closing(e);
}

/* The relay's sink: a filter ends the tunnel once ${arg} has its output. */
static void
close_after(void *arg, const char *why)
{
	struct end *dst = arg;
	struct tunnel *t = dst->t;

	if (!alive(dst))
		return;
	snprintf(t->last_err, sizeof(t->last_err), "%s", why);
	t->close_after = 1;
	t->close_end = dst;
	end_read_stop(&t->cli);
	end_read_stop(&t->srv);
	tunnel_half_closed(t);		/* TIMEOUTclose bounds the flush */
	if (dst->shut_complete)		/* shut and flushed already */
		tunnel_finish(t, LOG_LVL_INFO, "%s", t->last_err);
	else
		shutdown_writes(dst);
}

/* The relay's sink: a filter found an error. */
static void
fail(void *arg, const char *why)
{
	struct end *dst = arg;

	tunnel_finish(dst->t, LOG_LVL_ERR, "%s", why);
}

static size_t
sink_queued(void *arg)
{

	return (queued(arg));
}

int
tunnel_relay_new(struct tunnel *t)
{
	struct relay_sink up = { deliver, sink_queued, shutdown_writes,
	    close_after, fail, &t->srv };
	struct relay_sink down = { deliver, sink_queued, shutdown_writes,
	    close_after, fail, &t->cli };

	return ((t->relay = relay_new(&up, &down)) == NULL ? -1 : 0);
}

static void
read_finished(struct end *e)
{

	struct tunnel *t = e->t;

	e->read_done = 1;
	end_read_stop(e);
	tunnel_half_closed(t);
	(void)relay_eof(t->relay, dir_from(e));
	/* The server left while being cleaned: the client gets what came. */
	if (t->state == T_RECYCLE && e == &t->srv)
		relay_close_after(t->relay, RELAY_DOWN, "the server closed the "
		    "connection while it was being cleaned for reuse");
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
	int dir = dir_from(e);
	char text[160];
	int n, err = 0, status;
	size_t used = 0;

	/*
	 * Decrypt records back to back into one buffer and pass them on with
	 * one write: a 64 KiB reply is four records but one syscall.
	 */
	while (alive(e) && !e->read_done) {
		if (used == 0 && relay_backlogged(t->relay, dir)) {
			pause_reading(e);
			return;
		}
		n = wolfSSL_read(e->ssl, tls_plain_buf + used,
		    (int)(sizeof(tls_plain_buf) - used));
		if (n > 0) {
			used += (size_t)n;
			if (sizeof(tls_plain_buf) - used < TLS_RECORD_MAX) {
				if (relay_input(t->relay, dir, tls_plain_buf,
				    used))
					return;
				used = 0;
			}
			continue;
		}
		/*
		 * The status first: a filter may write to this same
		 * connection while it takes the data, which resets
		 * wolfSSL's last error.  Then what came first goes out
		 * first, whatever the status says.
		 */
		status = tls_status(e->ssl, n, &err);
		if (used > 0) {
			if (relay_input(t->relay, dir, tls_plain_buf, used))
				return;
			used = 0;
		}
		switch (status) {
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
				    t->peer, side(e));
			/* FALLTHROUGH */
		case TLS_CLOSED:
			read_finished(e);
			break;
		case TLS_FATAL:
			/* Before the relay, the client can be told. */
			tunnel_refuse(t, LOG_LVL_ERR, "TLS error from %s: %s",
			    side(e), tls_fatal_text(e->ssl, err, text,
			    sizeof(text)));
			return;
		default:
			break;
		}
		break;
	}
	if (!alive(e))
		return;
	end_release_input(e, 0);	/* an idle end keeps no buffer */
	/* Reading stopped on a full buffer; there is room again. */
	if (e->paused && !t->close_after &&
	    !relay_backlogged(t->relay, dir)) {
		e->paused = 0;
		end_read_start(e);
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

/* Does the phase pass plaintext through the relay? */
static int
relaying(const struct tunnel *t)
{

	return (t->state == T_PREPARE || t->state == T_RELAY ||
	    t->state == T_DRAIN || t->state == T_RECYCLE);
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
		tunnel_refuse(t, LOG_LVL_ERR, "read from %s failed: %s",
		    side(e), uv_strerror((int)nread));
		return;
	} else if (e->buffered) {
		e->in_len += (size_t)nread;
	} else {
		if (relay_input(t->relay, dir_from(e), buf->base,
		    (size_t)nread) == 0 && alive(e) &&
		    relay_backlogged(t->relay, dir_from(e)))
			pause_reading(e);
		return;
	}
	if (relaying(t)) {
		drain_tls(e);
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
	case T_POOLED:
		tunnel_pool_read(e);
		break;
	default:
		break;	/* kept in ${in} until the relay starts */
	}
}

void
end_start_relay(struct end *e)
{
	struct tunnel *t = e->t;

	/* Plaintext a preferred-mode client sent while we sniffed. */
	if (e->ssl == NULL && e->in != NULL) {
		if (relay_input(t->relay, dir_from(e), e->in + e->in_off,
		    e->in_len - e->in_off))
			return;
		end_release_input(e, 1);
	}
	end_read_start(e);
	/* Records that came with the handshake will not wake us again. */
	if (e->ssl != NULL && alive(e))
		drain_tls(e);
}
