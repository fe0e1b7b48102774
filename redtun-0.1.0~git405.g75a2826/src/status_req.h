#ifndef REDTUN_STATUS_REQ_H
#define REDTUN_STATUS_REQ_H

/*
 * The status endpoint's request reader: Node's http-parser over the
 * request head, fed in any split, and the verdict (what to answer).  No
 * I/O: the server (status_http.c) feeds it, the fuzz harness (fuzz_http)
 * and the unit test feed it too.
 */
#include <stddef.h>

#include <http_parser.h>

/* What a complete request asks for (with verdict 200). */
enum status_route {
	STATUS_ROUTE_NONE, STATUS_ROUTE_METRICS, STATUS_ROUTE_STATUS,
	STATUS_ROUTE_HEALTHZ
};

/* Bytes of the path kept; a longer path matches no route (404). */
#define STATUS_PATH_MAX	32

struct status_req {
	http_parser p;
	size_t head;		/* bytes given to the parser so far */
	int verdict;		/* 0 while reading; then an HTTP status */
	int complete;		/* the head ended (on_headers_complete) */
	int head_only;		/* HEAD: no body in the answer */
	enum status_route route;
	char path[STATUS_PATH_MAX + 1];
	size_t pathlen;
	int path_long;		/* the path did not fit */
	int in_query;		/* past '?' or '#': ignored */
};

/* status_req_init(r): ready for a new request's first byte. */
void status_req_init(struct status_req *r);

/**
 * status_req_feed(r, buf, len):
 * Feed the next ${len} bytes.  Returns 0 while the head is incomplete,
 * else the verdict, which then stays and later bytes are ignored (a
 * pipelined request is not read):
 *   200 a GET or HEAD of an exact known path (${r->route}; a query string
 *       is ignored), HTTP/1.x;
 *   400 not HTTP/1.x, or a parse error; 404 any other path ("/metrics/",
 *   "//metrics", "/%6detrics", an absolute URI...); 405 another method;
 *   431 no end of head within STATUS_HEAD_MAX bytes.
 * The verdict depends only on the bytes, never on how they were split.
 */
int status_req_feed(struct status_req *r, const char *buf, size_t len);

/* status_reason(code): "Not Found" for 404...; "Error" if unknown. */
const char *status_reason(int code);

#endif
