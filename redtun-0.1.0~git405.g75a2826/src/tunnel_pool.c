/*
 * Pre-warmed tunnels: the upstream connection and TLS handshake are made
 * before any client exists (listener.c keeps a pool of them), and a new
 * client is handed one that is ready, so it never waits for a handshake.
 */
#include <stdio.h>

#include "log.h"
#include "service.h"
#include "tunnel.h"
#include "tunnel_priv.h"

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
	tunnel_begin(t);
	return (t);
}

int
tunnel_pool_ready(const struct tunnel *t)
{

	/* After a failed adopt the client handle may still be closing. */
	return (t->state == T_POOLED && !t->cli_closing);
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

	if (!tunnel_pool_ready(t))
		return (UV_EBUSY);
	snprintf(was, sizeof(was), "%s", t->peer);
	if ((r = tunnel_attach_client(t, listener)) < 0)
		return (r);
	t->pool_cb = NULL;
	t->t_start = uv_now(t->loop);
	log_msg(LOG_LVL_INFO, svc_name(t->svc), "%s: %s %s (%s %s), "
	    "no handshake wait", t->peer, t->reused ? "reused the connection "
	    "of" : "handed", was, wolfSSL_get_version(t->srv.ssl),
	    wolfSSL_get_cipher_name(t->srv.ssl));
	tunnel_client_adopted(t);
	return (0);
}

void
tunnel_discard(struct tunnel *t, const char *why)
{

	t->pool_cb = NULL;
	tunnel_finish(t, LOG_LVL_INFO, "%s", why);
}

/*
 * An idle pre-warmed connection: TLS 1.3 tickets are fine, anything the
 * server says or a close means it cannot be handed to a client.
 */
void
tunnel_pool_read(struct end *e)
{
	struct tunnel *t = e->t;
	char text[160], scratch[512];
	int n, err = 0;

	n = wolfSSL_read(e->ssl, scratch, sizeof(scratch));
	if (n > 0) {
		tunnel_finish(t, LOG_LVL_INFO, "pre-warmed connection: the "
		    "server sent unexpected bytes; discarded");
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
	end_release_input(e, 0);
}

int
tunnel_reused(const struct tunnel *t)
{

	return (t->reused);
}

size_t
tunnel_target(const struct tunnel *t)
{

	return (t->target);
}
