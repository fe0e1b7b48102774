#ifndef REDTUN_AWS_HTTP_H
#define REDTUN_AWS_HTTP_H

/*
 * A minimal HTTP/1.1 client on libuv for the AWS credential endpoints
 * (EC2 instance metadata, container credentials): plain http:// only, one
 * request per connection (Connection: close), a deadline for the whole
 * exchange, the response read with http-parser and bounded in size.
 * Non-blocking: name lookups go through libuv's pool.
 */

#include <stddef.h>

#include <uv.h>

struct aws_http;

/*
 * The outcome of one request.  ${status} is the HTTP status (> 0) when a
 * whole response arrived (${body}, ${len}: its body, NUL-terminated, valid
 * only during the call); otherwise 0 and ${err} says why in words ("connect
 * to 127.0.0.1:80: connection refused", "timed out after 1000 ms",
 * "response larger than 65536 bytes", "malformed response: ...").
 */
typedef void aws_http_cb(void *arg, int status, const char *body,
    size_t len, const char *err);

/**
 * aws_http_request(loop, method, url, headers, timeout_ms, body_max, cb,
 *     arg):
 * Start ${method} ${url} ("http://HOST[:PORT]/PATH", HOST a name, an IPv4
 * address or [IPv6]) on ${loop}, with the extra header lines ${headers}
 * ("Name: value", NULL-terminated array, may be NULL; copied).  ${cb}
 * fires exactly once, from the loop (never from inside this call), unless
 * aws_http_cancel is called first.  The whole exchange must finish within
 * ${timeout_ms}; a body over ${body_max} bytes fails.  Returns the
 * request, or NULL (out of memory, or ${url} not http://: ${err} is not
 * reported then; the caller words it).
 */
struct aws_http *aws_http_request(uv_loop_t *loop, const char *method,
    const char *url, const char *const *headers, unsigned int timeout_ms,
    size_t body_max, aws_http_cb *cb, void *arg);

/**
 * aws_http_cancel(h):
 * Abandon ${h}: its callback will not fire; its memory is freed once its
 * handles are closed.  Only before the callback has fired.  NULL-safe.
 */
void aws_http_cancel(struct aws_http *h);

/**
 * aws_http_url_ok(url, why, whylen):
 * Whether ${url} is one aws_http_request takes; 0, or -1 with the reason.
 */
int aws_http_url_ok(const char *url, char *why, size_t whylen);

#endif
