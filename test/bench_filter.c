/*
 * A micro-benchmark of the RESP filter (not part of make check): the
 * redis-benchmark workload -P 16 -d 64 with GET and SET, through a relay
 * with null sinks, in batches of 1,000 commands then their replies, fed in
 * 16 KiB chunks; with cluster on, replies that name no node must cost
 * nothing measurable (compare instruction counts under callgrind).
 * Usage: bench_filter on|off [rounds]
 * Build: cc -std=c11 -D_GNU_SOURCE -O2 -Isrc -o bench_filter \
 *   test/bench_filter.c src/resp*.c src/relay.c src/log.c src/cluster_map.c \
 *   src/cluster_rewrite.c src/cluster_nodes.c src/cluster_topo.c \
 *   src/cluster_rw.c src/cluster_resp.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster_map.h"
#include "conf.h"
#include "relay.h"
#include "resp_filter.h"

#define CHUNK	16384
#define BATCH	1000

static size_t out;

static int s_write(void *a, const char *d, size_t n)
{
	(void)a;
	(void)d;
	out += n;
	return (0);
}
static size_t s_queued(void *a) { (void)a; return (0); }
static void s_eof(void *a) { (void)a; }
static void s_why(void *a, const char *w) { (void)a; (void)w; }
static void h_prepared(void *a, int r, const char *w)
{
	(void)a;
	(void)r;
	(void)w;
}
static void h_void(void *a) { (void)a; }
static int h_eof(void *a) { (void)a; return (0); }

static struct cmap *map;
static const struct cmap *h_map(void *a) { (void)a; return (map); }

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static void
feed(struct relay *r, int dir, const char *p, size_t len)
{
	size_t off, n;

	for (off = 0; off < len; off += n) {
		n = len - off < CHUNK ? len - off : CHUNK;
		relay_input(r, dir, p + off, n);
	}
}

int
main(int argc, char **argv)
{
	struct relay_sink sk = { s_write, s_queued, s_eof, s_why, s_why,
	    NULL };
	int cluster = argc > 1 && strcmp(argv[1], "on") == 0;
	int rounds = argc > 2 ? atoi(argv[2]) : 20, i, k;
	struct rf_hooks h = { h_prepared, h_void, h_prepared, h_void, h_eof,
	    NULL, cluster ? h_map : NULL, NULL, NULL, NULL, NULL };
	char *req = malloc(BATCH * 128), *rep = malloc(BATCH * 128);
	size_t rl = 0, pl = 0;
	struct svc_conf sc;
	struct relay *r;
	double t0;

	if (req == NULL || rep == NULL || (map = cmap_new("127.0.0.1")) ==
	    NULL || cmap_add(map, "node1.test", 10, 6379, 7001))
		return (1);
	for (i = 0; i < BATCH; i++) {
		if (i % 2) {
			rl += (size_t)sprintf(req + rl, "*3\r\n$3\r\nSET\r\n"
			    "$16\r\nkey:%012d\r\n$64\r\n%064d\r\n", i, i);
			pl += (size_t)sprintf(rep + pl, "+OK\r\n");
		} else {
			rl += (size_t)sprintf(req + rl, "*2\r\n$3\r\nGET\r\n"
			    "$16\r\nkey:%012d\r\n", i);
			pl += (size_t)sprintf(rep + pl, "$64\r\n%064d\r\n", i);
		}
	}
	memset(&sc, 0, sizeof(sc));
	sc.cluster = cluster;
	if ((r = relay_new(&sk, &sk)) == NULL ||
	    resp_filter_attach(r, &sc, &h, "bench") == NULL)
		return (1);
	t0 = now();
	for (k = 0; k < rounds * 100; k++) {
		feed(r, RELAY_UP, req, rl);
		feed(r, RELAY_DOWN, rep, pl);
	}
	printf("cluster %-3s %8.1f MB/s of replies (%zu bytes out)\n",
	    cluster ? "on" : "off", (double)pl * rounds * 100 /
	    (now() - t0) / 1e6, out);
	relay_free(r);
	resp_filter_release_cache();
	cmap_free(map);
	free(req);
	free(rep);
	return (0);
}
