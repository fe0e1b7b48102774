/*
 * TLS handshakes.  Client mode: TLS to the upstream server, whose chain,
 * host name and SNI are checked.  Server mode: look at the client's first
 * bytes (a TLS record or, with encryption = "preferred", plaintext), then
 * TLS with the client, optionally demanding a client certificate.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "net.h"
#include "service.h"
#include "tls.h"
#include "tls_verify.h"
#include "tunnel.h"
#include "tunnel_priv.h"

#define TLS_RECORD_HANDSHAKE 0x16

static WOLFSSL *
new_session(struct tunnel *t, struct end *e)
{
	WOLFSSL *ssl;

	errno = 0;
	if ((ssl = wolfSSL_new(svc_tls_ctx(t->svc))) == NULL)
		return (NULL);
	e->ssl = ssl;
	e->buffered = 1;
	wolfSSL_SSLSetIORecv(ssl, end_tls_recv);
	wolfSSL_SSLSetIOSend(ssl, end_tls_send);
	wolfSSL_SetIOReadCtx(ssl, e);
	wolfSSL_SetIOWriteCtx(ssl, e);
	/* redtun's policy decides; t->expected is set by the caller. */
	if (t->sc->verify_chain)
		tls_verify_attach(ssl, &t->vi, svc_tls_trust(t->svc),
		    t->sc->client ? t->expected : NULL, t->sc->client ?
		    TLS_PURPOSE_SERVER : TLS_PURPOSE_CLIENT);
	t->hs_end = e;
	return (ssl);
}

/* wolfSSL_new() opens the random device: it fails when fds run out. */
static void
session_failed(struct tunnel *t)
{

	if (net_out_of_fds(errno)) {
		tunnels_fd_exhausted(t->set, t->loop);
		tunnel_fail(t, ST_FAIL_LIMIT);
		tunnel_finish(t, LOG_LVL_DEBUG, "no descriptor for a TLS "
		    "session");
		return;
	}
	tunnel_refuse(t, LOG_LVL_ERR, "cannot create a TLS session: %s",
	    errno ? strerror(errno) : "out of memory");
}

void
handshake_upstream(struct tunnel *t)
{
	const struct svc_conf *sc = t->sc;
	const char *sni;
	WOLFSSL *ssl;

	t->expected = sc->check_host ? sc->check_host : t->uphost;
	if ((ssl = new_session(t, &t->srv)) == NULL) {
		session_failed(t);
		return;
	}
	/* RFC 6066: SNI carries host names only, never IP literals. */
	sni = sc->sni_set ? sc->sni : (addr_is_ip(t->uphost) ? NULL :
	    t->uphost);
	if (sni != NULL && sni[0] != '\0' && wolfSSL_UseSNI(ssl,
	    WOLFSSL_SNI_HOST_NAME, sni, (unsigned short)strlen(sni)) !=
	    WOLFSSL_SUCCESS) {
		tunnel_refuse(t, LOG_LVL_ERR, "upstream %s:%d: cannot set SNI "
		    "\"%s\"", t->uphost, t->upport, sni);
		return;
	}
	if (sc->session_resume)
		(void)svc_session_resume(t->svc, t->target, ssl);
	end_read_start(&t->srv);
	handshake_step(t);
}

/*
 * A new session (TLS 1.2: at the end of the handshake; TLS 1.3: a ticket
 * read after it): keep it for the next connection to the same target.
 */
int
handshake_on_session(WOLFSSL *ssl, WOLFSSL_SESSION *session)
{
	struct end *e = wolfSSL_GetIOReadCtx(ssl);

	if (e == NULL || e->t->state == T_DEAD || e != &e->t->srv)
		return (0);
	svc_session_store(e->t->svc, e->t->target, session);
	return (1);
}

void
handshake_sniff(struct tunnel *t)
{
	struct end *e = &t->cli;
	unsigned int n;

	if (e->in_len == e->in_off) {
		if (e->transport_eof)
			tunnel_finish(t, LOG_LVL_INFO, "client closed the "
			    "connection before sending anything");
		return;
	}
	if ((unsigned char)e->in[e->in_off] == TLS_RECORD_HANDSHAKE) {
		tunnel_sniffed(t, 1);
		return;
	}
	if (t->sc->encryption != ENCRYPTION_PREFERRED) {
		tunnel_fail(t, ST_FAIL_OTHER);
		tunnel_finish(t, LOG_LVL_ERR, "refused a plaintext connection "
		    "(first byte 0x%02x is not a TLS handshake; encryption = "
		    "\"required\")", (unsigned char)e->in[e->in_off]);
		return;
	}
	/* The bytes read so far wait in e->in until the relay starts. */
	t->plaintext = 1;
	e->buffered = 0;
	end_read_stop(e);
	n = svc_count_plaintext(t->svc);
	log_msg(LOG_LVL_NOTICE, svc_name(t->svc), "%s: plaintext connection "
	    "(encryption = \"preferred\"; %u plaintext so far)", t->peer, n);
	tunnel_sniffed(t, 0);
}

void
handshake_client(struct tunnel *t)
{

	if (new_session(t, &t->cli) == NULL) {
		session_failed(t);
		return;
	}
	handshake_step(t);
}

/*
 * The handshake finished: refuse it unless redtun's policy verified the
 * chain on this very handshake.  Only client mode resumes sessions (to
 * its own upstreams, per target); a server-mode context never does, so a
 * resumed session there is refused outright.
 */
static int
peer_ok(struct tunnel *t, struct end *e)
{
	WOLFSSL_X509 *peer = wolfSSL_get_peer_certificate(e->ssl);
	int has_cert = (peer != NULL);

	if (peer != NULL)
		wolfSSL_X509_free(peer);
	if (wolfSSL_session_reused(e->ssl)) {
		if (t->sc->client)
			return (1);
		tunnel_finish(t, LOG_LVL_ERR, "client TLS handshake failed: "
		    "the client resumed a session, which server mode never "
		    "offers");
		return (0);
	}
	if (t->sc->verify_chain && t->vi.verdict < 0) {
		tunnel_fail(t, tunnel_fail_tls(t, e->ssl, 0));
		tunnel_refuse(t, LOG_LVL_ERR, "%scertificate verify failed: %s",
		    t->sc->client ? "" : "client ", t->vi.reason);
		return (0);
	}
	/*
	 * The verdict is made from the raw chain, so it implies a
	 * certificate; without verification a client still wants one (an
	 * anonymous suite must never pass).
	 */
	if (t->sc->verify_chain ? t->vi.verdict != 1 : (t->sc->client &&
	    !has_cert)) {
		tunnel_fail(t, ST_FAIL_VERIFY_CHAIN);
		tunnel_refuse(t, LOG_LVL_ERR, "%s: the %s sent no certificate",
		    t->sc->client ? "upstream" : "client TLS handshake failed",
		    t->sc->client ? "server" : "client");
		return (0);
	}
	return (1);
}

static void
handshake_done(struct tunnel *t)
{
	struct end *e = t->hs_end;

	handshake_probe_close(t);	/* the server speaks TLS */
	if (!peer_ok(t, e))
		return;
	tunnel_stats_handshake(t, e->ssl);
	if (t->sc->client) {
		unsigned long n, resumed;
		int reused = wolfSSL_session_reused(e->ssl);

		n = svc_count_handshake(t->svc, reused, &resumed);
		log_ev(LOG_LVL_INFO, svc_name(t->svc), t->peer, "connected",
		    NULL, "%s: connected to %s:%d (%s) %s %s%s%s", t->peer,
		    t->uphost, t->upport, t->upaddr, wolfSSL_get_version(e->ssl),
		    wolfSSL_get_cipher_name(e->ssl), !t->sc->verify_chain ?
		    ", certificate NOT verified" : reused ? "" :
		    ", certificate verified", reused ? ", session resumed" :
		    "");
		log_msg(LOG_LVL_DEBUG, svc_name(t->svc), "%s: %s; %lu of %lu "
		    "upstream handshakes resumed a session", t->peer, reused ?
		    "TLS session resumed" : "full TLS handshake", resumed, n);
		tunnel_handshaken(t);
		return;
	}
	log_msg(LOG_LVL_INFO, svc_name(t->svc), "%s: TLS handshake done: %s "
	    "%s%s", t->peer, wolfSSL_get_version(e->ssl),
	    wolfSSL_get_cipher_name(e->ssl), t->sc->verify_chain ?
	    ", client certificate verified" : "");
	/* Hold the client until the backend is there; TCP buffers for us. */
	end_read_stop(e);
	tunnel_handshaken(t);
}

/*
 * Client mode: the first bytes a TLS server sends are a TLS record (type
 * 0x14 to 0x18).  Anything else means a plaintext server (Redis without
 * TLS answers "-ERR ..." or, when probed, "+PONG"): say so, quoting the
 * first line (escaped, at most PLAIN_QUOTE_MAX bytes).
 */
#define PLAIN_QUOTE_MAX 60

static int
is_tls_record_type(unsigned char c)
{

	return (c >= 0x14 && c <= 0x18);
}

void
handshake_plaintext_reply(struct tunnel *t, const char *data, size_t len,
    const char *context)
{
	char quoted[4 * PLAIN_QUOTE_MAX + 8];
	size_t n;
	int cut;

	for (n = 0; n < len && data[n] != '\r' && data[n] != '\n'; n++)
		;
	cut = n > PLAIN_QUOTE_MAX;
	if (cut)
		n = PLAIN_QUOTE_MAX;
	log_escape(quoted, sizeof(quoted), data, n);
	tunnel_refuse(t, LOG_LVL_ERR, "upstream %s:%d: TLS handshake failed: "
	    "the server answered in plaintext (\"%s%s\"%s): is TLS enabled on "
	    "it?", t->uphost, t->upport, quoted, cut ? "..." : "", context);
}

/* ---- plaintext probe -------------------------------------------------- */

struct plain_probe {
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_write_t wreq;
	struct tunnel *t;	/* pending until this closes */
	char buf[128];
	size_t len;
};

static const char probe_ping[] = "PING\r\n";

uint64_t
handshake_probe_due(const struct tunnel *t)
{
	const struct end *e = &t->srv;

	if (!t->sc->client || t->probed || t->state != T_HANDSHAKE ||
	    e->first_seen || (e->in != NULL && e->in_len > e->in_off))
		return (0);
	return (t->t_phase + PLAIN_PROBE_AFTER_MS);
}

static void
probe_closed(uv_handle_t *h)
{
	struct plain_probe *p = h->data;
	struct tunnel *t = p->t;

	free(p);
	t->probe = NULL;
	tunnel_unpend(t);
}

static void
probe_close(struct plain_probe *p)
{

	if (!uv_is_closing((uv_handle_t *)&p->tcp))
		uv_close((uv_handle_t *)&p->tcp, probe_closed);
}

void
handshake_probe_close(struct tunnel *t)
{

	if (t->probe != NULL)
		probe_close(t->probe);
}

static void
probe_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct plain_probe *p = h->data;

	(void)suggested;
	*buf = uv_buf_init(p->buf + p->len, (unsigned int)(sizeof(p->buf) -
	    p->len));
}

static void
probe_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct plain_probe *p = s->data;
	struct tunnel *t = p->t;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0 || t->state != T_HANDSHAKE) {
		/* A TLS server closes on "PING": nothing learnt. */
		probe_close(p);
		return;
	}
	p->len += (size_t)nread;
	if (is_tls_record_type((unsigned char)p->buf[0])) {
		probe_close(p);		/* an alert: TLS after all */
		return;
	}
	/* Wait for the end of the line (or a full buffer). */
	if (memchr(p->buf, '\n', p->len) == NULL && p->len < sizeof(p->buf))
		return;
	handshake_plaintext_reply(t, p->buf, p->len, " to a PING");
}

static void
probe_written(uv_write_t *req, int status)
{
	struct plain_probe *p = req->data;

	if (status < 0 && status != UV_ECANCELED)
		probe_close(p);
}

static void
probe_connected(uv_connect_t *req, int status)
{
	struct plain_probe *p = req->data;
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)probe_ping,
	    sizeof(probe_ping) - 1);

	if (status == UV_ECANCELED)
		return;
	if (status < 0 || p->t->state != T_HANDSHAKE ||
	    uv_write(&p->wreq, (uv_stream_t *)&p->tcp, &b, 1,
	    probe_written) < 0 ||
	    uv_read_start((uv_stream_t *)&p->tcp, probe_alloc, probe_read) < 0)
		probe_close(p);
}

void
handshake_probe_start(struct tunnel *t)
{
	struct sockaddr_storage ss;
	struct plain_probe *p;
	int len = sizeof(ss);

	t->probed = 1;
	if (uv_tcp_getpeername(&t->srv.tcp, (struct sockaddr *)&ss,
	    &len) != 0 || (p = calloc(1, sizeof(*p))) == NULL)
		return;
	if (uv_tcp_init(t->loop, &p->tcp) != 0) {
		free(p);
		return;
	}
	p->t = t;
	p->tcp.data = p;
	p->creq.data = p;
	p->wreq.data = p;
	t->probe = p;
	t->pending++;
	log_msg(LOG_LVL_DEBUG, svc_name(t->svc), "%s: upstream %s:%d silent "
	    "for %d ms in the TLS handshake: checking whether it speaks "
	    "plaintext", t->peer, t->uphost, t->upport, PLAIN_PROBE_AFTER_MS);
	if (uv_tcp_connect(&p->creq, &p->tcp, (struct sockaddr *)&ss,
	    probe_connected) != 0)
		probe_close(p);
}

void
handshake_step(struct tunnel *t)
{
	struct end *e = t->hs_end;
	char why[384];
	int r, err = 0;

	if (t->sc->client && !e->first_seen && e->in != NULL &&
	    e->in_len > e->in_off) {
		e->first_seen = 1;
		if (!is_tls_record_type((unsigned char)e->in[e->in_off])) {
			handshake_plaintext_reply(t, e->in + e->in_off,
			    e->in_len - e->in_off, "");
			return;
		}
	}
	r = t->sc->client ? wolfSSL_connect(e->ssl) : wolfSSL_accept(e->ssl);
	switch (tls_status(e->ssl, r, &err)) {
	case TLS_DONE:
		handshake_done(t);
		return;
	case TLS_WANT_READ:
	case TLS_WANT_WRITE:
		if (!e->transport_eof)
			return;
		/* FALLTHROUGH */
	case TLS_CLOSED:
	case TLS_TRUNCATED:
		snprintf(why, sizeof(why), "TLS handshake failed: the %s "
		    "closed the connection", t->sc->client ? "server" :
		    "client");
		break;
	case TLS_FATAL:
		if (e->transport_eof && t->vi.error == 0 &&
		    t->vi.verdict == 0) {
			snprintf(why, sizeof(why), "TLS handshake failed: the "
			    "%s closed the connection", t->sc->client ?
			    "server" : "client");
			break;
		}
		tls_describe_failure(e->ssl, err, &t->vi, why, sizeof(why));
		tunnel_fail(t, tunnel_fail_tls(t, e->ssl, err));
		break;
	}
	if (t->sc->client)
		tunnel_refuse(t, LOG_LVL_ERR, "upstream %s:%d: %s", t->uphost,
		    t->upport, why);
	else
		tunnel_finish(t, LOG_LVL_ERR, "client %s", why);
}
