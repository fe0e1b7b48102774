/*
 * The status endpoint's request reader (see status_req.h).  http-parser
 * does the grammar; this file bounds the head, keeps the path and turns
 * the outcome into a status code.  The parser only ever sees the first
 * STATUS_HEAD_MAX bytes, so the verdict cannot depend on the split.
 */
#include <string.h>

#include <http_parser.h>

#include "status.h"
#include "status_req.h"

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct status_req *r = p->data;
	size_t i;

	/* The URL may come in pieces; keep the path, drop the query. */
	for (i = 0; i < len && !r->in_query; i++) {
		if (at[i] == '?' || at[i] == '#')
			r->in_query = 1;
		else if (r->pathlen < STATUS_PATH_MAX)
			r->path[r->pathlen++] = at[i];
		else
			r->path_long = 1;
	}
	return (0);
}

static int
on_headers_complete(http_parser *p)
{
	struct status_req *r = p->data;

	r->complete = 1;
	/* Stop here: a body or a pipelined request is not ours to read. */
	http_parser_pause(p, 1);
	return (0);
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_headers_complete = on_headers_complete,
};

/* status_req_init(r): see status_req.h. */
void
status_req_init(struct status_req *r)
{

	memset(r, 0, sizeof(*r));
	http_parser_init(&r->p, HTTP_REQUEST);
	r->p.data = r;
}

/* The verdict of a complete head. */
static int
judge(struct status_req *r)
{
	static const struct {
		const char *path;
		enum status_route route;
	} routes[] = {
		{ "/metrics", STATUS_ROUTE_METRICS },
		{ "/status", STATUS_ROUTE_STATUS },
		{ "/healthz", STATUS_ROUTE_HEALTHZ },
	};
	size_t i;

	if (r->p.http_major != 1)
		return (400);
	if (r->p.method != HTTP_GET && r->p.method != HTTP_HEAD)
		return (405);
	r->head_only = r->p.method == HTTP_HEAD;
	r->path[r->pathlen] = '\0';
	if (r->path_long)
		return (404);
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(r->path, routes[i].path) == 0) {
			r->route = routes[i].route;
			return (200);
		}
	return (404);
}

/* status_req_feed(r, buf, len): see status_req.h. */
int
status_req_feed(struct status_req *r, const char *buf, size_t len)
{
	size_t n;

	if (r->verdict != 0)
		return (r->verdict);
	if (len > STATUS_HEAD_MAX - r->head)
		len = STATUS_HEAD_MAX - r->head;
	if (len == 0)		/* to http-parser, 0 bytes would mean EOF */
		return (0);
	n = http_parser_execute(&r->p, &settings, buf, len);
	r->head += len;
	if (r->complete)
		r->verdict = judge(r);
	else if (HTTP_PARSER_ERRNO(&r->p) != HPE_OK || n != len)
		r->verdict = 400;
	else if (r->head >= STATUS_HEAD_MAX)
		r->verdict = 431;
	return (r->verdict);
}

/* status_reason(code): see status_req.h. */
const char *
status_reason(int code)
{

	switch (code) {
	case 200: return ("OK");
	case 400: return ("Bad Request");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 408: return ("Request Timeout");
	case 431: return ("Request Header Fields Too Large");
	case 500: return ("Internal Server Error");
	case 503: return ("Service Unavailable");
	default: return ("Error");
	}
}
