/*
 * The status endpoint's HTTP server on a libuv loop (see status.h).
 *
 * One request per connection: the head is read (status_req.c judges it),
 * reading stops, the answer is written with "Connection: close", then the
 * write side is shut down and the socket drained for a moment before it
 * is closed, so that a client still sending (a body, a pipelined request,
 * an oversized head) reads its answer instead of a reset.  Pipelined
 * requests: only the first is answered.
 *
 * Connection slots are preallocated (STATUS_MAX_CLIENTS), so a request
 * needs no allocation but its answer.  A connection beyond them is
 * accepted on a spare handle and closed at once; while that handle is
 * closing, further ones wait in the kernel's backlog (libuv stops polling
 * the listener until the next uv_accept).
 *
 * Each connection has one timer: STATUS_TIMEOUT_MS for the whole head
 * (then 408), as long again for the answer to be written, LINGER_MS for
 * the drain.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "addr.h"
#include "log.h"
#include "net.h"
#include "status.h"
#include "status_req.h"

#define LINGER_MS	1000	/* drain after the answer, before close */
#define READ_BUF	2048

enum conn_phase { C_FREE, C_READ, C_WRITE, C_LINGER, C_CLOSING };

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t sd;
	struct status_server *srv;
	enum conn_phase phase;
	int handles;		/* of tcp and timer, still open */
	struct status_req req;
	char *out;		/* the answer being written */
	char buf[READ_BUF];
};

struct status_server {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	uv_tcp_t spare;		/* accepts and closes the excess */
	int spare_busy;		/* ${spare} is closing */
	int pending;		/* a connection waits for uv_accept */
	int handles;		/* every handle open, connections' too */
	int stopping;
	status_snap_fn *snap;
	void *arg;
	struct conn conns[STATUS_MAX_CLIENTS];
};

static void on_connection(uv_stream_t *, int);

static void
server_maybe_free(struct status_server *srv)
{

	if (srv->stopping && srv->handles == 0)
		free(srv);
}

/* ---- one connection ---------------------------------------------------- */

static void accept_pending(struct status_server *);

static void
conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct status_server *srv = c->srv;

	srv->handles--;
	if (--c->handles > 0)
		return;
	free(c->out);
	c->out = NULL;
	c->phase = C_FREE;
	if (srv->stopping)
		server_maybe_free(srv);
	else
		accept_pending(srv);
}

/* Close from any phase; the slot is free once both handles closed. */
static void
conn_close(struct conn *c)
{

	if (c->phase == C_FREE || c->phase == C_CLOSING)
		return;
	c->phase = C_CLOSING;
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
	uv_close((uv_handle_t *)&c->timer, conn_closed);
}

static void
conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = h->data;

	*b = uv_buf_init(c->buf, sizeof(c->buf));
}

/* Debug only: who sent a request we refused, and why. */
static void
log_refusal(struct conn *c, int code)
{
	struct sockaddr_storage ss;
	char peer[80], esc[160];
	int len = sizeof(ss);

	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
		snprintf(peer, sizeof(peer), "unknown peer");
	else
		addr_format((struct sockaddr *)&ss, peer, sizeof(peer));
	log_escape(esc, sizeof(esc), peer, strlen(peer));
	log_msg(LOG_LVL_DEBUG, NULL, "status endpoint: %d %s for %s%s%s", code,
	    status_reason(code), esc, code == 400 ? ": " : "",
	    code == 400 ? http_errno_name(HTTP_PARSER_ERRNO(&c->req.p)) : "");
}

/*
 * The answer for ${code} (and, for 200, the route): a new buffer with the
 * head and (unless HEAD) the body; its length in ${*len}.  NULL on
 * allocation failure.
 */
static char *
answer(struct conn *c, int code, size_t *len)
{
	struct status_snap *s = NULL;
	const char *type = "text/plain; charset=utf-8";
	char *body = NULL, *out, why[256];
	size_t blen = 0, clen;
	int hlen;

	if (code == 200) {
		if ((s = c->srv->snap(c->srv->arg)) == NULL)
			code = 500;
	}
	if (s != NULL) {
		switch (c->req.route) {
		case STATUS_ROUTE_METRICS:
			type = "text/plain; version=0.0.4; charset=utf-8";
			body = status_render_metrics(s, &blen);
			break;
		case STATUS_ROUTE_STATUS:
			type = "application/json";
			body = status_render_json(s, &blen);
			break;
		default:
			if (!status_healthy(s, why, sizeof(why)))
				code = 503;
			else
				snprintf(why, sizeof(why), "ok");
			if (asprintf(&body, "%s\n", why) < 0)
				body = NULL;
			else
				blen = strlen(body);
			break;
		}
		status_snap_free(s);
		if (body == NULL)
			code = 500;
	}
	if (body == NULL) {
		if (asprintf(&body, "%d %s\n", code, status_reason(code)) < 0)
			return (NULL);
		blen = strlen(body);
	}
	/* HEAD: the length of what GET would send, and no body. */
	clen = blen;
	if (c->req.head_only)
		blen = 0;
	hlen = snprintf(NULL, 0, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%s"
	    "Connection: close\r\n\r\n", code, status_reason(code), type,
	    clen,
	    code == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (hlen < 0 || (out = malloc((size_t)hlen + blen + 1)) == NULL) {
		free(body);
		return (NULL);
	}
	snprintf(out, (size_t)hlen + 1, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%s"
	    "Connection: close\r\n\r\n", code, status_reason(code), type,
	    clen,
	    code == 405 ? "Allow: GET, HEAD\r\n" : "");
	memcpy(out + hlen, body, blen);
	*len = (size_t)hlen + blen;
	free(body);
	return (out);
}

static void
conn_drain(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct conn *c = st->data;

	/* Bytes after the answer are dropped; EOF or error ends it. */
	if (nread < 0)
		conn_close(c);
}

static void
conn_shut(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	if (c->phase != C_LINGER)
		return;
	if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, conn_alloc,
	    conn_drain) != 0)
		conn_close(c);
}

static void
conn_written(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	if (c->phase != C_WRITE)
		return;
	c->phase = C_LINGER;
	uv_timer_again(&c->timer);	/* repeat: LINGER_MS, set below */
	c->sd.data = c;
	if (status < 0 || uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp,
	    conn_shut) != 0)
		conn_close(c);
}

static void conn_timeout(uv_timer_t *);

/* Stop reading, write the answer for ${code}, then close. */
static void
respond(struct conn *c, int code)
{
	uv_buf_t b;
	size_t len;

	uv_read_stop((uv_stream_t *)&c->tcp);
	if (code != 200)
		log_refusal(c, code);
	if ((c->out = answer(c, code, &len)) == NULL) {
		conn_close(c);
		return;
	}
	c->phase = C_WRITE;
	uv_timer_start(&c->timer, conn_timeout, STATUS_TIMEOUT_MS, LINGER_MS);
	b = uv_buf_init(c->out, (unsigned int)len);
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, conn_written) != 0)
		conn_close(c);
}

static void
conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct conn *c = st->data;
	int v;

	if (nread < 0) {	/* EOF or error before a whole head */
		conn_close(c);
		return;
	}
	if (nread == 0)
		return;
	if ((v = status_req_feed(&c->req, b->base, (size_t)nread)) != 0)
		respond(c, v);
}

static void
conn_timeout(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->phase == C_READ)
		respond(c, 408);
	else
		conn_close(c);	/* a client not reading, or the drain ended */
}

/* Serve the connection waiting in libuv on slot ${c}. */
static void
conn_start(struct status_server *srv, struct conn *c)
{

	c->srv = srv;
	c->phase = C_READ;
	c->out = NULL;
	status_req_init(&c->req);
	uv_tcp_init(srv->loop, &c->tcp);
	uv_timer_init(srv->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->handles = 2;
	srv->handles += 2;
	if (uv_accept((uv_stream_t *)&srv->tcp, (uv_stream_t *)&c->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) != 0) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, conn_timeout, STATUS_TIMEOUT_MS, 0);
}

/* ---- the listener ------------------------------------------------------ */

static void
spare_closed(uv_handle_t *h)
{
	struct status_server *srv = h->data;

	srv->handles--;
	srv->spare_busy = 0;
	if (srv->stopping)
		server_maybe_free(srv);
	else
		accept_pending(srv);
}

/* Take the connection libuv holds: into a free slot, else close it. */
static void
take(struct status_server *srv)
{
	size_t i;

	for (i = 0; i < STATUS_MAX_CLIENTS; i++)
		if (srv->conns[i].phase == C_FREE) {
			conn_start(srv, &srv->conns[i]);
			return;
		}
	if (srv->spare_busy) {
		srv->pending = 1;	/* libuv polls again after uv_accept */
		return;
	}
	uv_tcp_init(srv->loop, &srv->spare);
	srv->spare.data = srv;
	srv->spare_busy = 1;
	srv->handles++;
	(void)uv_accept((uv_stream_t *)&srv->tcp, (uv_stream_t *)&srv->spare);
	uv_close((uv_handle_t *)&srv->spare, spare_closed);
}

static void
accept_pending(struct status_server *srv)
{

	if (srv->pending && !srv->stopping) {
		srv->pending = 0;
		take(srv);
	}
}

static void
on_connection(uv_stream_t *st, int status)
{
	struct status_server *srv = st->data;

	if (status < 0) {
		log_msg(LOG_LVL_DEBUG, NULL, "status endpoint: accept: %s",
		    uv_strerror(status));
		return;
	}
	if (!srv->stopping)
		take(srv);
}

static void
listener_closed(uv_handle_t *h)
{
	struct status_server *srv = h->data;

	srv->handles--;
	server_maybe_free(srv);
}

/* A listening socket for the first address of ${addr} that binds. */
static int
bind_addr(const char *addr, char *why, size_t whylen)
{
	struct addr_spec spec;
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int fd = -1, one = 1, err = 0, rc;

	if (addr_parse(addr, "127.0.0.1", &spec, why, whylen) != 0)
		return (-1);
	snprintf(port, sizeof(port), "%d", spec.port);
	if ((rc = getaddrinfo(spec.host, port, net_hints(&hints, AI_PASSIVE),
	    &res)) != 0) {
		snprintf(why, whylen, "%s", gai_strerror(rc));
		addr_spec_free(&spec);
		return (-1);
	}
	addr_spec_free(&spec);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		/* A restart must not wait for the old TIME_WAIT sockets. */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one)) == 0 && bind(fd, ai->ai_addr,
		    ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(why, whylen, "%s",
		    strerror(err != 0 ? err : EADDRNOTAVAIL));
	return (fd);
}

/**
 * status_server_start(loop, addr, snap, arg, why, whylen):
 * See status.h; ${why} gets the bare reason ("Address already in use"),
 * the caller names the setting.  On a failure after the libuv handle
 * exists, the memory
 * goes in its close callback (the loop must run once more).
 */
struct status_server *
status_server_start(uv_loop_t *loop, const char *addr, status_snap_fn *snap,
    void *arg, char *why, size_t whylen)
{
	struct status_server *srv;
	size_t i;
	int fd, rc;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		snprintf(why, whylen, "status endpoint: out of memory");
		return (NULL);
	}
	if ((fd = bind_addr(addr, why, whylen)) < 0) {
		free(srv);
		return (NULL);
	}
	srv->loop = loop;
	srv->snap = snap;
	srv->arg = arg;
	for (i = 0; i < STATUS_MAX_CLIENTS; i++)
		srv->conns[i].phase = C_FREE;
	uv_tcp_init(loop, &srv->tcp);
	srv->tcp.data = srv;
	srv->handles = 1;
	if ((rc = uv_tcp_open(&srv->tcp, fd)) != 0) {
		close(fd);
		goto err;
	}
	if ((rc = uv_listen((uv_stream_t *)&srv->tcp, 64, on_connection)) != 0)
		goto err;
	return (srv);

err:
	snprintf(why, whylen, "%s", uv_strerror(rc));
	srv->stopping = 1;
	uv_close((uv_handle_t *)&srv->tcp, listener_closed);
	return (NULL);
}

/* status_server_stop(srv): see status.h. */
void
status_server_stop(struct status_server *srv)
{
	size_t i;

	if (srv == NULL || srv->stopping)
		return;
	srv->stopping = 1;
	uv_close((uv_handle_t *)&srv->tcp, listener_closed);
	for (i = 0; i < STATUS_MAX_CLIENTS; i++)
		conn_close(&srv->conns[i]);
}
