/*
 * A micro-benchmark of the RESP scanner (not part of make check): the
 * redis-benchmark GET workload (-P 16 -d 64), pipelined GET requests on
 * one side and 64-byte bulk replies on the other, fed in 16 KiB chunks.
 * Usage: bench_resp [rounds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resp.h"

#define CHUNK	16384

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Scan ${buf} ${rounds} times in chunks; print the rate; frames seen. */
static long long
run(const char *name, int side, const char *buf, size_t len, int rounds)
{
	struct resp_scan *s = resp_scan_new(side);
	long long frames = 0;
	size_t off, n, pos, used;
	double t0 = now(), dt;
	int r, rc;

	for (r = 0; r < rounds; r++) {
		for (off = 0; off < len; off += n) {
			n = len - off < CHUNK ? len - off : CHUNK;
			for (pos = 0; pos < n; pos += used) {
				rc = resp_scan(s, buf + off + pos, n - pos,
				    &used);
				if (rc == RESP_BAD) {
					fprintf(stderr, "%s: %s\n", name,
					    resp_scan_error(s));
					exit(1);
				}
				frames += rc == RESP_FRAME;
			}
		}
	}
	dt = now() - t0;
	printf("%-8s %8.1f MB/s %10.0f frames/s (%lld frames)\n", name,
	    (double)len * rounds / dt / 1e6, frames / dt, frames);
	resp_scan_free(s);
	return (frames);
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 50, i, n = 100000;
	char *req = malloc((size_t)n * 64), *rep = malloc((size_t)n * 80);
	size_t rl = 0, pl = 0;

	if (req == NULL || rep == NULL)
		return (1);
	for (i = 0; i < n; i++) {
		rl += (size_t)sprintf(req + rl,
		    "*2\r\n$3\r\nGET\r\n$16\r\nkey:%012d\r\n", i * 7 % 100000);
		pl += (size_t)sprintf(rep + pl, "$64\r\n%064d\r\n", i);
	}
	run("requests", RESP_REQUESTS, req, rl, rounds);
	run("replies", RESP_REPLIES, rep, pl, rounds);
	free(req);
	free(rep);
	return (0);
}
