/*
 * Client mode: when a client cannot be given a working upstream, tell it
 * why in a form every Redis client prints.  The tunnel waits (briefly) for
 * the client's first command and answers it with a RESP error carrying
 * the reason redtun logs, instead of a bare close that redis-cli can only
 * report as "Connection reset by peer".  No RESP parsing is needed: any
 * bytes count as "the first command", and everything the client sends is
 * read into one scratch buffer and dropped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "relay.h"
#include "service.h"
#include "tunnel.h"
#include "tunnel_priv.h"

/* Bounds of the reply: the reason and the service name, once escaped. */
#define REASON_MAX	400
#define NAME_MAX_ESC	100

struct refusal {
	uv_write_t wreq;	/* what uv_try_write could not send */
	int replied;		/* the reply is sent or queued */
	size_t len;
	char msg[sizeof("-CLUSTERDOWN redtun []: \r\n") + NAME_MAX_ESC + REASON_MAX];
};

/* What the client sends is read here and dropped. */
static _Thread_local char discard[16 * 1024];

/*
 * Copy ${src} into ${dst} as a RESP simple-error-safe string, escaped as
 * log_msg() escapes a line (control bytes, DEL and non-ASCII as \xNN, a
 * backslash kept), so that the client reads the log's very words; cut with
 * "..." to fit ${dstlen}.
 */
static void
escape_line(char *dst, size_t dstlen, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;

	for (; *s != '\0'; s++) {
		int plain = *s >= 0x20 && *s < 0x7f;
		size_t need = plain ? 1 : 4;

		/* Room for this byte, the "..." if more follow, and the NUL. */
		if (o + need + (s[1] != '\0' ? 3 : 0) >= dstlen) {
			if (o + 3 < dstlen) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (plain) {
			dst[o++] = (char)*s;
			continue;
		}
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[*s >> 4];
		dst[o++] = hex[*s & 15];
	}
	dst[o] = '\0';
}

/* May ${t} answer its client rather than close it at once? */
static int
can_refuse(const struct tunnel *t)
{

	if (!t->sc->client || !t->cli.open || t->cli_closing ||
	    t->cli.read_done || t->pool_cb != NULL)
		return (0);
	switch (t->state) {
	case T_NEW:
	case T_CONNECT:
	case T_HANDSHAKE:
	case T_PREPARE:
		break;
	default:
		return (0);
	}
	/* A reply already on its way would be corrupted by ours. */
	if (relay_bytes_out(t->relay, RELAY_DOWN) > t->down_before)
		return (0);
	return (tunnels_refusing(t->set) < REFUSING_MAX);
}

/* Prepare the reply to ${why} and enter T_REFUSE (reason logged). */
static void
refuse(struct tunnel *t, const char *why)
{
	struct refusal *rf;
	char name[NAME_MAX_ESC], reason[REASON_MAX];
	int n;

	if ((rf = calloc(1, sizeof(*rf))) == NULL) {
		tunnel_finish(t, 0, NULL);
		return;
	}
	escape_line(name, sizeof(name), svc_name(t->svc));
	escape_line(reason, sizeof(reason), why);
	/*
	 * A cluster client retries CLUSTERDOWN after re-reading the
	 * topology (a node killed: its replica takes over); ERR it would
	 * just return to its caller.
	 */
	n = snprintf(rf->msg, sizeof(rf->msg), "-%s redtun [%s]: %s\r\n",
	    t->sc->cluster ? "CLUSTERDOWN" : "ERR", name, reason);
	rf->len = (n > 0 && (size_t)n < sizeof(rf->msg)) ? (size_t)n : 0;
	if (rf->len == 0) {
		free(rf);
		tunnel_finish(t, 0, NULL);
		return;
	}
	t->refusal = rf;
	tunnel_refusing(t);
}

void
tunnel_refuse(struct tunnel *t, int level, const char *fmt, ...)
{
	char why[256];		/* as tunnel_finish() formats it */
	va_list ap;

	if (t->state == T_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!can_refuse(t)) {
		tunnel_finish(t, level, "%s", why);
		return;
	}
	log_ev(level, svc_name(t->svc), t->peer, "failed", why, "%s: %s",
	    t->peer, why);
	refuse(t, why);
}

int
tunnel_accept_refused(struct tunnels *set, uv_stream_t *listener,
    struct svc *svc, const char *why, char *peer, size_t peerlen)
{
	struct tunnel *t;

	if (tunnels_refusing(set) >= REFUSING_MAX)
		return (UV_EBUSY);
	if ((t = tunnel_new(set, listener->loop, svc)) == NULL)
		return (UV_ENOMEM);
	t->quiet = 1;
	if (tunnel_attach_client(t, listener) < 0) {
		/* Nothing was accepted: nothing is left to shed. */
		snprintf(peer, peerlen, "unknown peer");
		tunnel_finish(t, 0, NULL);
		return (0);
	}
	snprintf(peer, peerlen, "%s", t->peer);
	refuse(t, why);		/* the caller logs why, rate limited */
	return (0);
}

/* ---- the T_REFUSE phase ------------------------------------------------ */

static void
on_reply_written(uv_write_t *req, int status)
{
	struct tunnel *t = ((struct end *)req->handle->data)->t;

	if (status < 0 && status != UV_ECANCELED && t->state == T_REFUSE)
		tunnel_finish(t, 0, NULL);
}

static void
on_reply_shut(uv_shutdown_t *req, int status)
{
	struct end *e = req->data;

	if (status == UV_ECANCELED || e->t->state != T_REFUSE)
		return;
	e->shut_complete = 1;
	if (status < 0)
		tunnel_finish(e->t, 0, NULL);
}

/*
 * The client's first bytes came: answer, then shut writes (FIN after the
 * reply).  The tunnel lingers, reading and dropping, until the client
 * closes or REFUSE_WAIT_MS pass, so that a client whose command is still
 * arriving gets a FIN rather than a reset that could destroy the reply.
 */
static void
reply(struct tunnel *t)
{
	struct refusal *rf = t->refusal;
	uv_stream_t *s = (uv_stream_t *)&t->cli.tcp;
	uv_buf_t b = uv_buf_init(rf->msg, (unsigned int)rf->len);
	int n;

	rf->replied = 1;
	if ((n = uv_try_write(s, &b, 1)) < 0 && n != UV_EAGAIN)
		goto err;
	if (n > 0) {
		b.base += n;
		b.len -= (size_t)n;
	}
	if (b.len > 0 && uv_write(&rf->wreq, s, &b, 1, on_reply_written) < 0)
		goto err;
	t->cli.sreq.data = &t->cli;
	if (uv_shutdown(&t->cli.sreq, s, on_reply_shut) < 0)
		goto err;
	t->cli.write_done = 1;
	tunnel_phase_restart(t);
	return;
err:
	tunnel_finish(t, 0, NULL);
}

static void
refuse_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(discard, sizeof(discard));
}

static void
refuse_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct end *e = s->data;
	struct tunnel *t = e->t;

	(void)buf;
	if (t->state != T_REFUSE || nread == 0)
		return;		/* 0 is EAGAIN, not EOF */
	if (nread < 0) {
		/* Closed or broken: no one is left to tell. */
		e->reading = 0;
		if (t->refusal->replied || nread != UV_EOF)
			tunnel_finish(t, 0, NULL);
		else
			tunnel_finish(t, LOG_LVL_DEBUG, "the client closed "
			    "the connection without sending a command: no "
			    "reply");
		return;
	}
	if (!t->refusal->replied)
		reply(t);
}

void
refuse_start(struct tunnel *t)
{
	struct end *e = &t->cli;

	/* Our callbacks, not the relay's: nothing is kept or passed on. */
	end_read_stop(e);
	if (uv_read_start((uv_stream_t *)&e->tcp, refuse_alloc,
	    refuse_read) < 0) {
		tunnel_finish(t, 0, NULL);
		return;
	}
	e->reading = 1;
}

void
refuse_expire(struct tunnel *t)
{

	if (t->refusal->replied)
		tunnel_finish(t, 0, NULL);
	else
		tunnel_finish(t, LOG_LVL_DEBUG, "the client sent no command "
		    "within %d ms: closed without a reply", REFUSE_WAIT_MS);
}
