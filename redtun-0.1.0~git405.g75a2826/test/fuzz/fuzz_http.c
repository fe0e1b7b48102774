/*
 * libFuzzer harness: the status endpoint's request reader
 * (src/status_req.c over http-parser).  Input layout:
 *
 *   SEED STREAM...
 *
 * STREAM is fed whole, in pieces of 1..16 bytes drawn from SEED (1..1024
 * when SEED is odd), and one byte at a time.
 *
 * Invariants: the parse never crashes and always ends with a verdict
 * from the small set (0: head incomplete, 200, 400, 404, 405, 431),
 * never 0 once STATUS_HEAD_MAX bytes came; the verdict, route and HEAD
 * flag are the same whatever the split (differential); at most
 * STATUS_HEAD_MAX bytes reach the parser; a 200 names a route whose path
 * is exactly /metrics, /status or /healthz.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "status_req.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
	int verdict, route, head_only;
};

static struct out
run(const uint8_t *s, size_t len, unsigned int seed, int mode)
{
	struct status_req r;
	struct out o;
	size_t off = 0, n;
	int v = 0, prev = 0;

	status_req_init(&r);
	while (off < len) {
		if (mode == 0)
			n = len - off;
		else if (mode == 1)
			n = 1;
		else {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % ((seed & 1) ? 1024 : 16);
		}
		if (n > len - off)
			n = len - off;
		v = status_req_feed(&r, (const char *)s + off, n);
		/* A verdict is final. */
		CHECK(prev == 0 || v == prev);
		prev = v;
		off += n;
	}
	CHECK(r.head <= STATUS_HEAD_MAX);
	CHECK(r.pathlen <= STATUS_PATH_MAX);
	CHECK(v == 0 || v == 200 || v == 400 || v == 404 || v == 405 ||
	    v == 431);
	if (len >= STATUS_HEAD_MAX)
		CHECK(v != 0);
	if (v == 200) {
		CHECK(r.route != STATUS_ROUTE_NONE);
		CHECK(strcmp(r.path, "/metrics") == 0 ||
		    strcmp(r.path, "/status") == 0 ||
		    strcmp(r.path, "/healthz") == 0);
	} else
		CHECK(r.route == STATUS_ROUTE_NONE);
	o.verdict = v;
	o.route = r.route;
	o.head_only = v == 200 ? r.head_only : 0;
	return (o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct out whole, bytes, pieces;
	unsigned int seed;

	if (size < 1)
		return (0);
	seed = data[0];
	data++;
	size--;
	if (size > 3 * STATUS_HEAD_MAX)	/* nothing past the cap is read */
		size = 3 * STATUS_HEAD_MAX;
	whole = run(data, size, seed, 0);
	bytes = run(data, size, seed, 1);
	pieces = run(data, size, seed, 2);
	CHECK(whole.verdict == bytes.verdict && whole.verdict == pieces.verdict);
	CHECK(whole.route == bytes.route && whole.route == pieces.route);
	CHECK(whole.head_only == bytes.head_only &&
	    whole.head_only == pieces.head_only);
	return (0);
}
