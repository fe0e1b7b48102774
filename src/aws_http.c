/*
 * A one-shot HTTP/1.1 client on libuv (see aws_http.h): resolve in the
 * pool, connect, write the request, read the answer through http-parser.
 * One timer bounds the whole exchange and also defers a failure found
 * inside aws_http_request.  The struct lives until every handle is closed
 * and the lookup has returned; the callback fires once, before that.
 * Each resolved address is tried in turn, within that one deadline.  The
 * request holds tokens and the answer credentials: every buffer is wiped
 * before it is freed.
 */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netdb.h>

#include <http_parser.h>
#include <uv.h>

#include "config.h"
#include "aws_http.h"
#include "log.h"


#define AWS_HTTP_HOST_MAX	255
#define AWS_HTTP_PATH_MAX	2048
#define AWS_HTTP_HEAD_MAX	8192	/* status line and header fields */
#define AWS_HTTP_REQ_MAX	16384
#define AWS_HTTP_READ		4096

struct aws_http {
	uv_loop_t *loop;
	uv_timer_t timer;
	uv_getaddrinfo_t gai;
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_write_t wr;
	http_parser parser;
	char host[AWS_HTTP_HOST_MAX + 1];	/* without brackets */
	char port[8];
	char peer[64];			/* "ADDR:PORT" once resolved */
	struct addrinfo *res;		/* the lookup's answer */
	struct addrinfo *ai;		/* the address being tried */
	int tried;			/* addresses tried */
	char *req;			/* the request bytes (secret) */
	size_t reqlen;
	char *body;			/* (secret) */
	size_t bodylen, bodycap, body_max;
	size_t head;			/* bytes of status + fields */
	unsigned int timeout_ms;
	int refs;			/* timer, tcp, lookup in flight */
	int gai_pending, tcp_open;
	int done;			/* callback fired or cancelled */
	int complete;			/* on_message_complete */
	const char *perr;		/* set by the parser callbacks */
	char err[192];			/* failure found before the loop ran */
	aws_http_cb *cb;
	void *arg;
	char rbuf[AWS_HTTP_READ];
};

static void finish(struct aws_http *, int, const char *);

/* Free ${h} once nothing refers to it. */
static void
unref(struct aws_http *h)
{

	if (--h->refs > 0)
		return;
	if (h->res != NULL)
		uv_freeaddrinfo(h->res);
	if (h->req != NULL)
		explicit_bzero(h->req, AWS_HTTP_REQ_MAX);
	free(h->req);
	if (h->body != NULL)
		explicit_bzero(h->body, h->bodycap);
	free(h->body);
	explicit_bzero(h, sizeof(*h));	/* rbuf held the answer */
	free(h);
}

static void
on_close(uv_handle_t *hd)
{

	unref(hd->data);
}

/* Close what is open; the lookup, if running, is dropped on return. */
static void
teardown(struct aws_http *h)
{

	if (h->gai_pending)
		(void)uv_cancel((uv_req_t *)&h->gai);
	if (h->tcp_open && !uv_is_closing((uv_handle_t *)&h->tcp))
		uv_close((uv_handle_t *)&h->tcp, on_close);
	if (!uv_is_closing((uv_handle_t *)&h->timer))
		uv_close((uv_handle_t *)&h->timer, on_close);
}

/* The outcome: the callback once, then the teardown. */
static void
finish(struct aws_http *h, int status, const char *err)
{

	if (h->done)
		return;
	h->done = 1;
	if (status > 0)
		h->cb(h->arg, status, h->body != NULL ? h->body : "",
		    h->bodylen, NULL);
	else
		h->cb(h->arg, 0, NULL, 0, err);
	teardown(h);
}

static void
on_timer(uv_timer_t *t)
{
	struct aws_http *h = t->data;
	char msg[64];

	if (h->err[0] != '\0') {
		finish(h, 0, h->err);
		return;
	}
	log_fmt(msg, sizeof(msg), "timed out after %u ms", h->timeout_ms);
	finish(h, 0, msg);
}

/* A libuv error in words: "connect to 127.0.0.1:80: connection refused". */
static void
fail_uv(struct aws_http *h, const char *what, int rc)
{
	char msg[192];

	char n[40] = "";

	if (h->tried > 1)
		log_fmt(n, sizeof(n), " (%d addresses tried)", h->tried);
	log_fmt(msg, sizeof(msg), "%s %s: %s%s", what,
	    h->peer[0] != '\0' ? h->peer : h->host, uv_strerror(rc), n);
	finish(h, 0, msg);
}

static int
on_head(http_parser *p, const char *at, size_t len)
{
	struct aws_http *h = p->data;

	(void)at;
	h->head += len;
	if (h->head > AWS_HTTP_HEAD_MAX) {
		h->perr = "response headers larger than 8192 bytes";
		return (1);
	}
	return (0);
}

static int
on_headers_complete(http_parser *p)
{
	struct aws_http *h = p->data;

	/* Refuse a declared size over the bound before reading it (1
	 * would mean "no body" to http-parser: an error is -1). */
	if (p->content_length != ULLONG_MAX &&
	    p->content_length > (uint64_t)h->body_max) {
		h->perr = "body";
		return (-1);
	}
	return (0);
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct aws_http *h = p->data;
	size_t cap;
	char *nb;

	if (len > h->body_max - h->bodylen) {
		h->perr = "body";
		return (1);
	}
	if (h->bodylen + len + 1 > h->bodycap) {
		cap = h->bodycap ? h->bodycap : 1024;
		while (cap < h->bodylen + len + 1)
			cap *= 2;
		if (cap > h->body_max + 1)
			cap = h->body_max + 1;
		/* Not realloc: the old block would be freed unwiped. */
		if ((nb = malloc(cap)) == NULL) {
			h->perr = "out of memory";
			return (1);
		}
		if (h->body != NULL) {
			memcpy(nb, h->body, h->bodylen);
			explicit_bzero(h->body, h->bodycap);
			free(h->body);
		}
		h->body = nb;
		h->bodycap = cap;
	}
	memcpy(h->body + h->bodylen, at, len);
	h->bodylen += len;
	h->body[h->bodylen] = '\0';
	return (0);
}

static int
on_message_complete(http_parser *p)
{
	struct aws_http *h = p->data;

	h->complete = 1;
	http_parser_pause(p, 1);	/* anything after it is not ours */
	return (0);
}

static const http_parser_settings settings = {
	.on_status = on_head,
	.on_header_field = on_head,
	.on_header_value = on_head,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* Feed ${len} bytes (0: EOF) to the parser; finish when it has decided. */
static void
feed(struct aws_http *h, const char *buf, size_t len)
{
	char msg[192];
	enum http_errno e;

	(void)http_parser_execute(&h->parser, &settings, buf, len);
	if (h->complete) {
		finish(h, h->parser.status_code > 0 ?
		    (int)h->parser.status_code : 1, NULL);
		return;
	}
	e = HTTP_PARSER_ERRNO(&h->parser);
	if (h->perr != NULL && strcmp(h->perr, "body") == 0) {
		log_fmt(msg, sizeof(msg), "response larger than %zu bytes",
		    h->body_max);
		finish(h, 0, msg);
	} else if (h->perr != NULL) {
		finish(h, 0, h->perr);
	} else if (len == 0) {
		log_fmt(msg, sizeof(msg), "%s closed the connection before "
		    "the response ended", h->peer);
		finish(h, 0, msg);
	} else if (e != HPE_OK) {
		log_fmt(msg, sizeof(msg), "malformed response from %s: %s",
		    h->peer, http_errno_description(e));
		finish(h, 0, msg);
	}
}

static void
on_alloc(uv_handle_t *hd, size_t want, uv_buf_t *buf)
{
	struct aws_http *h = hd->data;

	(void)want;
	*buf = uv_buf_init(h->rbuf, sizeof(h->rbuf));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct aws_http *h = s->data;

	if (h->done || nread == 0)	/* 0 is not EOF */
		return;
	if (nread == UV_EOF)
		feed(h, NULL, 0);
	else if (nread < 0)
		fail_uv(h, "read from", (int)nread);
	else
		feed(h, buf->base, (size_t)nread);
}

static void
on_write(uv_write_t *w, int status)
{
	struct aws_http *h = w->data;

	if (h->done || status == 0)
		return;
	fail_uv(h, "write to", status);
}

static void connect_next(struct aws_http *);

/* The socket of a failed address is closed: on to the next one. */
static void
on_retry_close(uv_handle_t *hd)
{
	struct aws_http *h = hd->data;

	h->tcp_open = 0;
	if (!h->done)
		connect_next(h);	/* takes its own reference */
	unref(h);
}

/* ${rc}: connecting to ${h->ai} failed; the next address, or the end. */
static void
connect_failed(struct aws_http *h, int rc)
{

	if (h->ai->ai_next == NULL) {
		fail_uv(h, "connect to", rc);
		return;
	}
	h->ai = h->ai->ai_next;
	uv_close((uv_handle_t *)&h->tcp, on_retry_close);
}

static void
on_connect(uv_connect_t *c, int status)
{
	struct aws_http *h = c->data;
	uv_buf_t b;
	int rc;

	if (h->done)
		return;
	if (status < 0) {
		connect_failed(h, status);
		return;
	}
	b = uv_buf_init(h->req, (unsigned int)h->reqlen);
	h->wr.data = h;
	if ((rc = uv_write(&h->wr, (uv_stream_t *)&h->tcp, &b, 1,
	    on_write)) != 0 ||
	    (rc = uv_read_start((uv_stream_t *)&h->tcp, on_alloc,
	    on_read)) != 0)
		fail_uv(h, "write to", rc);
}

/* "ADDR:PORT" or "[ADDR]:PORT" of ${sa}, for messages. */
static void
peer_name(struct aws_http *h, const struct sockaddr *sa)
{
	char a[48] = "?";

	if (sa->sa_family == AF_INET6) {
		(void)uv_ip6_name((const struct sockaddr_in6 *)sa, a,
		    sizeof(a));
		log_fmt(h->peer, sizeof(h->peer), "[%s]:%s", a, h->port);
	} else {
		(void)uv_ip4_name((const struct sockaddr_in *)sa, a,
		    sizeof(a));
		log_fmt(h->peer, sizeof(h->peer), "%s:%s", a, h->port);
	}
}

/* Connect to ${h->ai}: a socket of its own for each address. */
static void
connect_next(struct aws_http *h)
{
	int rc;

	h->tried++;
	peer_name(h, h->ai->ai_addr);
	if ((rc = uv_tcp_init(h->loop, &h->tcp)) != 0) {
		fail_uv(h, "connect to", rc);
		return;
	}
	h->tcp.data = h;
	h->tcp_open = 1;
	h->refs++;
	h->conn.data = h;
	if ((rc = uv_tcp_connect(&h->conn, &h->tcp, h->ai->ai_addr,
	    on_connect)) != 0)
		connect_failed(h, rc);
}

static void
on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
	struct aws_http *h = g->data;
	char msg[AWS_HTTP_HOST_MAX + 64];

	h->gai_pending = 0;
	if (h->done) {
		uv_freeaddrinfo(res);
		unref(h);
		return;
	}
	h->refs--;		/* the timer still holds h */
	if (status < 0 || res == NULL) {
		log_fmt(msg, sizeof(msg), "resolve %s: %s", h->host,
		    uv_strerror(status < 0 ? status : UV_EAI_NONAME));
		uv_freeaddrinfo(res);
		finish(h, 0, msg);
		return;
	}
	h->res = h->ai = res;	/* freed with ${h} */
	connect_next(h);
}

/* Split ${url} into host, port and path; 0 or -1 with ${why}. */
static int
url_split(const char *url, char *host, char *port, const char **path,
    char *why, size_t whylen)
{
	const char *p, *hs, *he, *ps;
	size_t i, n;

	if (strncmp(url, "http://", 7) != 0) {
		log_fmt(why, whylen, "%s", strncmp(url, "https://", 8) == 0 ?
		    "https:// is not supported (http:// only)" :
		    "not an http:// URL");
		return (-1);
	}
	for (i = 0; url[i] != '\0'; i++)
		if (!isgraph((unsigned char)url[i])) {
			log_fmt(why, whylen, "space or control character "
			    "in the URL");
			return (-1);
		}
	if (i > 7 + AWS_HTTP_HOST_MAX + 8 + AWS_HTTP_PATH_MAX) {
		log_fmt(why, whylen, "URL too long");
		return (-1);
	}
	hs = url + 7;
	if (*hs == '[') {
		if ((he = strchr(hs, ']')) == NULL) {
			log_fmt(why, whylen, "unterminated [IPv6 address]");
			return (-1);
		}
		p = he + 1;
		hs++;
	} else {
		he = hs + strcspn(hs, ":/?#@");
		p = he;
		if (*p == '@') {
			log_fmt(why, whylen, "user info in the URL");
			return (-1);
		}
	}
	n = (size_t)(he - hs);
	if (n == 0 || n > AWS_HTTP_HOST_MAX) {
		log_fmt(why, whylen, "bad host in the URL");
		return (-1);
	}
	memcpy(host, hs, n);
	host[n] = '\0';
	log_fmt(port, 8, "80");
	if (*p == ':') {
		ps = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		n = (size_t)(p - ps);
		if (n == 0 || n > 5 || atoi(ps) < 1 || atoi(ps) > 65535) {
			log_fmt(why, whylen, "bad port in the URL");
			return (-1);
		}
		memcpy(port, ps, n);
		port[n] = '\0';
	}
	if (*p != '\0' && *p != '/') {
		log_fmt(why, whylen, "bad URL after the host");
		return (-1);
	}
	*path = *p == '\0' ? "/" : p;
	return (0);
}

/* aws_http_url_ok(url, why, whylen): see aws_http.h. */
int
aws_http_url_ok(const char *url, char *why, size_t whylen)
{
	char host[AWS_HTTP_HOST_MAX + 1], port[8];
	const char *path;

	return (url_split(url, host, port, &path, why, whylen));
}

/* The request bytes; -1 if a header line is unsafe or it is too big. */
static int
build_request(struct aws_http *h, const char *method, const char *url,
    const char *path, const char *const *headers)
{
	const char *hostpart = url + 7;
	size_t hostlen = strcspn(hostpart, "/");
	size_t i, n;
	int k;

	if ((h->req = malloc(AWS_HTTP_REQ_MAX)) == NULL)
		return (-1);
	k = snprintf(h->req, AWS_HTTP_REQ_MAX, "%s %s HTTP/1.1\r\n"
	    "Host: %.*s\r\nUser-Agent: redtun/%s\r\nAccept: */*\r\n"
	    "Connection: close\r\n%s", method, path, (int)hostlen, hostpart,
	    PACKAGE_VERSION, strcmp(method, "PUT") == 0 ||
	    strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
	if (k < 0 || k >= AWS_HTTP_REQ_MAX)
		return (-1);
	n = (size_t)k;
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		if (strpbrk(headers[i], "\r\n") != NULL)
			return (-1);
		k = snprintf(h->req + n, AWS_HTTP_REQ_MAX - n, "%s\r\n",
		    headers[i]);
		if (k < 0 || (size_t)k >= AWS_HTTP_REQ_MAX - n)
			return (-1);
		n += (size_t)k;
	}
	if (n + 3 > AWS_HTTP_REQ_MAX)
		return (-1);
	memcpy(h->req + n, "\r\n", 3);
	h->reqlen = n + 2;
	return (0);
}

/* aws_http_request(...): see aws_http.h. */
struct aws_http *
aws_http_request(uv_loop_t *loop, const char *method, const char *url,
    const char *const *headers, unsigned int timeout_ms, size_t body_max,
    aws_http_cb *cb, void *arg)
{
	struct addrinfo hints;
	struct aws_http *h;
	const char *path;
	char why[96];
	int rc;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return (NULL);
	if (url_split(url, h->host, h->port, &path, why, sizeof(why)) != 0 ||
	    build_request(h, method, url, path, headers) != 0) {
		if (h->req != NULL)
			explicit_bzero(h->req, AWS_HTTP_REQ_MAX);
		free(h->req);
		explicit_bzero(h, sizeof(*h));
		free(h);
		return (NULL);
	}
	h->loop = loop;
	h->timeout_ms = timeout_ms;
	h->body_max = body_max;
	h->cb = cb;
	h->arg = arg;
	http_parser_init(&h->parser, HTTP_RESPONSE);
	h->parser.data = h;
	(void)uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	h->refs = 1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	h->gai.data = h;
	rc = uv_getaddrinfo(loop, &h->gai, on_resolved, h->host, h->port,
	    &hints);
	if (rc != 0) {
		/* Reported from the loop, as the contract says. */
		log_fmt(h->err, sizeof(h->err), "resolve %s: %s", h->host,
		    uv_strerror(rc));
		timeout_ms = 0;
	} else {
		h->gai_pending = 1;
		h->refs++;
	}
	(void)uv_timer_start(&h->timer, on_timer, timeout_ms, 0);
	return (h);
}

/* aws_http_cancel(h): see aws_http.h. */
void
aws_http_cancel(struct aws_http *h)
{

	if (h == NULL || h->done)
		return;
	h->done = 1;
	teardown(h);
}
