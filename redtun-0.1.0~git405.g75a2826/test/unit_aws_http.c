/*
 * Unit tests of the AWS HTTP client (src/aws_http.c) against a libuv
 * server in this program on 127.0.0.1: a canned answer per case (whole,
 * to EOF, too big, garbage, cut short, none at all), the request's bytes,
 * cancels in flight, and every handle closed after each case
 * (uv_loop_close succeeds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "aws_http.h"
#include "unit_check.h"

static uv_loop_t loop;
static uv_tcp_t server;
static int port;
static const char *answer;	/* NULL: never answer */
static char request[4096];
static size_t reqlen;

struct conn {
	uv_tcp_t tcp;
	uv_write_t wr;
};

struct result {
	int fired, status;
	char body[512];
	char err[256];
};

static void
on_conn_close(uv_handle_t *h)
{

	free(h->data);
}

static void
on_written(uv_write_t *w, int status)
{
	struct conn *c = w->data;

	(void)status;
	uv_close((uv_handle_t *)&c->tcp, on_conn_close);
}

static void
on_salloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
	static char buf[4096];

	(void)h;
	(void)n;
	*b = uv_buf_init(buf, sizeof(buf));
}

static void
on_sread(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;
	uv_buf_t out;

	if (n < 0) {
		if (!uv_is_closing((uv_handle_t *)s))
			uv_close((uv_handle_t *)s, on_conn_close);
		return;
	}
	if (n == 0 || reqlen + (size_t)n >= sizeof(request))
		return;
	memcpy(request + reqlen, b->base, (size_t)n);
	reqlen += (size_t)n;
	request[reqlen] = '\0';
	if (strstr(request, "\r\n\r\n") == NULL || answer == NULL)
		return;
	uv_read_stop(s);
	out = uv_buf_init((char *)answer, (unsigned int)strlen(answer));
	c->wr.data = c;
	uv_write(&c->wr, s, &out, 1, on_written);
}

static void
on_accept(uv_stream_t *s, int status)
{
	struct conn *c;

	if (status != 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return;
	uv_tcp_init(&loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(s, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, on_conn_close);
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, on_salloc, on_sread);
}

static void
on_result(void *arg, int status, const char *body, size_t len,
    const char *err)
{
	struct result *r = arg;

	r->fired++;
	r->status = status;
	if (body != NULL)
		snprintf(r->body, sizeof(r->body), "%.*s", (int)len, body);
	if (err != NULL)
		snprintf(r->err, sizeof(r->err), "%s", err);
	/* A silent connection of the server's stays open: end the case. */
	uv_stop(&loop);
}

/* One request; the result after the loop ran. */
static struct result
run(const char *method, const char *path, const char *ans,
    const char *const *hdrs, unsigned int tmo, size_t max)
{
	struct result r;
	struct aws_http *h;
	char url[128];

	memset(&r, 0, sizeof(r));
	answer = ans;
	reqlen = 0;
	request[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	h = aws_http_request(&loop, method, url, hdrs, tmo, max, on_result,
	    &r);
	CHECK(h != NULL);
	CHECK(r.fired == 0);	/* never from inside the call */
	uv_run(&loop, UV_RUN_DEFAULT);
	/* Let the close callbacks run. */
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_run(&loop, UV_RUN_NOWAIT);
	CHECK(r.fired == 1);
	return (r);
}

static void
test_answers(void)
{
	const char *hdrs[] = { "X-aws-ec2-metadata-token: T", NULL };
	static char big[10000];
	struct result r;

	r = run("PUT", "/latest/api/token", "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 5\r\n\r\nhello", hdrs, 1000, 64);
	CHECK(r.status == 200 && strcmp(r.body, "hello") == 0);
	CHECK(strncmp(request, "PUT /latest/api/token HTTP/1.1\r\n", 32) == 0);
	CHECK(strstr(request, "\r\nHost: 127.0.0.1:") != NULL);
	CHECK(strstr(request, "\r\nContent-Length: 0\r\n") != NULL);
	CHECK(strstr(request, "\r\nConnection: close\r\n") != NULL);
	CHECK(strstr(request, "\r\nUser-Agent: redtun/") != NULL);
	CHECK(strstr(request, "\r\nX-aws-ec2-metadata-token: T\r\n") != NULL);

	/* Connection: close, no length: the body ends at EOF. */
	r = run("GET", "/", "HTTP/1.1 404 Not Found\r\nConnection: close\r\n"
	    "\r\nnot here", NULL, 1000, 64);
	CHECK(r.status == 404 && strcmp(r.body, "not here") == 0);
	CHECK(strstr(request, "Content-Length") == NULL);

	r = run("GET", "/", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
	    NULL, 1000, 10);

	CHECK(r.status == 0 && strcmp(r.err, "response larger than 10 bytes")
	    == 0);
	r = run("GET", "/", "HTTP/1.1 200 OK\r\n\r\n0123456789abc", NULL,
	    1000, 10);
	CHECK(r.status == 0 && strcmp(r.err, "response larger than 10 bytes")
	    == 0);

	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(big + 20, 'a', sizeof(big) - 30);
	memcpy(big + sizeof(big) - 10, "\r\n\r\n", 5);
	r = run("GET", "/", big, NULL, 1000, 10);
	CHECK(r.status == 0 && strstr(r.err, "headers larger") != NULL);

	r = run("GET", "/", "SSH-2.0-OpenSSH\r\n\r\n", NULL, 1000, 10);
	CHECK(r.status == 0 && strncmp(r.err, "malformed response from "
	    "127.0.0.1:", 24) == 0);
	r = run("GET", "/", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
	    NULL, 1000, 64);
	CHECK(r.status == 0 && strstr(r.err, "closed the connection before "
	    "the response ended") != NULL);
	r = run("GET", "/", NULL, NULL, 200, 64);
	CHECK(r.status == 0 && strcmp(r.err, "timed out after 200 ms") == 0);
}

static void
on_never(void *arg, int status, const char *body, size_t len,
    const char *err)
{

	(void)status;
	(void)body;
	(void)len;
	(void)err;
	(*(int *)arg)++;
}

static void
on_cancel_timer(uv_timer_t *t)
{

	aws_http_cancel(t->data);
	uv_close((uv_handle_t *)t, NULL);
}

static void
on_stop(uv_timer_t *t)
{

	uv_close((uv_handle_t *)t, NULL);
	uv_stop(&loop);
}

static void
test_cancel(void)
{
	struct aws_http *h;
	uv_timer_t t, stop;
	char url[64];
	int fired = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	/* At once (the lookup in flight), then once connected. */
	h = aws_http_request(&loop, "GET", url, NULL, 1000, 64, on_never,
	    &fired);
	aws_http_cancel(h);
	answer = NULL;
	h = aws_http_request(&loop, "GET", url, NULL, 1000, 64, on_never,
	    &fired);
	uv_timer_init(&loop, &t);
	t.data = h;
	uv_timer_start(&t, on_cancel_timer, 100, 0);
	uv_timer_init(&loop, &stop);
	uv_timer_start(&stop, on_stop, 300, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(fired == 0);
	/* A name that does not resolve, cancelled at once too. */
	h = aws_http_request(&loop, "GET", "http://no-such-host.invalid/",
	    NULL, 1000, 64, on_never, &fired);
	aws_http_cancel(h);
	aws_http_cancel(NULL);
	uv_close((uv_handle_t *)&server, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(fired == 0);
}

static void
test_urls(void)
{
	const char *bad_hdr[] = { "X: a\r\nInjected: 1", NULL };
	char why[128];
	int fired = 0;

	CHECK(aws_http_url_ok("http://169.254.169.254", why, 128) == 0);
	CHECK(aws_http_url_ok("http://[fd00:ec2::254]:80/x", why, 128) == 0);
	CHECK(aws_http_url_ok("https://x/", why, 128) == -1);
	CHECK(strcmp(why, "https:// is not supported (http:// only)") == 0);
	CHECK(aws_http_url_ok("http://a b/", why, 128) == -1);
	CHECK(aws_http_url_ok("http://x:99999/", why, 128) == -1);
	CHECK(aws_http_url_ok("http://u@x/", why, 128) == -1);
	CHECK(aws_http_url_ok("http:///", why, 128) == -1);
	CHECK(aws_http_url_ok("http://[::1/", why, 128) == -1);
	CHECK(aws_http_request(&loop, "GET", "ftp://x/", NULL, 100, 10,
	    on_never, &fired) == NULL);
	CHECK(aws_http_request(&loop, "GET", "http://x/", bad_hdr, 100, 10,
	    on_never, &fired) == NULL);
	CHECK(fired == 0);
}

int
main(void)
{
	struct sockaddr_in sa;
	struct sockaddr_storage ss;
	int n = sizeof(ss);

	uv_loop_init(&loop);
	uv_tcp_init(&loop, &server);
	uv_ip4_addr("127.0.0.1", 0, &sa);
	if (uv_tcp_bind(&server, (struct sockaddr *)&sa, 0) != 0 ||
	    uv_listen((uv_stream_t *)&server, 16, on_accept) != 0 ||
	    uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &n) != 0) {
		fprintf(stderr, "unit_aws_http: cannot listen\n");
		return (99);
	}
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	test_answers();
	test_urls();
	test_cancel();	/* closes the server */
	CHECK(uv_loop_close(&loop) == 0);
	if (failures != 0) {
		fprintf(stderr, "unit_aws_http: %d failures\n", failures);
		return (1);
	}
	printf("unit_aws_http: all passed\n");
	return (0);
}
