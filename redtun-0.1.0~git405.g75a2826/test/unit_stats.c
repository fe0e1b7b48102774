/*
 * The counters' registry: single-writer updates, sums across workers,
 * entries found again by name (as a reload's new generation finds them),
 * histogram bucket edges, and two writer threads on their own cells with
 * a reader summing meanwhile (run under ThreadSanitizer in CI's pass).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "stats.h"
#include "../test/unit_check.h"

static void
test_cells(void)
{
	struct stats *st = stats_new(2);
	struct stats_svc *a, *b, *g;
	struct stats_cell *c0, *c1, sum;

	CHECK(st != NULL);
	a = stats_service(st, "redis");
	b = stats_service(st, "other");
	g = stats_service(st, "");
	CHECK(a != NULL && b != NULL && g != NULL && a != b && a != g);
	/* A reload's new generation of "redis" gets the same entry. */
	CHECK(stats_service(st, "redis") == a);
	c0 = stats_cell(a, 0);
	c1 = stats_cell(a, 1);
	CHECK(c0 != NULL && c1 != NULL && c0 != c1);
	CHECK(stats_cell(a, 2) == NULL);
	CHECK(stats_cell(NULL, 0) == NULL);
	/* Cells never share a cache line. */
	CHECK(((uintptr_t)c0 % 64) == 0 && ((uintptr_t)c1 % 64) == 0);

	STATS_INC(c0, conn_total);
	STATS_INC(c0, conn_active);
	STATS_INC(c1, conn_total);
	STATS_INC(c1, conn_active);
	STATS_DEC(c1, conn_active);
	STATS_ADD(c0, bytes[ST_TO_SERVER], 100);
	STATS_ADD(c1, bytes[ST_TO_SERVER], 23);
	STATS_ADD(c1, bytes[ST_TO_CLIENT], 7);
	STATS_INC(c0, handshakes[ST_TLS13][1]);
	STATS_INC(c1, fail[ST_FAIL_HOSTNAME]);
	STATS_INC(c1, fail[ST_FAIL_HOSTNAME]);
	STATS_INC(c0, pool[ST_POOL_PREWARM]);
	STATS_DEC(c1, pool[ST_POOL_PREWARM]);	/* left on another worker */
	STATS_INC(c0, listening);
	STATS_INC(c1, listening);
	STATS_INC((struct stats_cell *)NULL, conn_total);	/* NULL-safe */

	stats_sum(a, &sum);
	CHECK(sum.conn_total == 2);
	CHECK(sum.conn_active == 1);
	CHECK(sum.bytes[ST_TO_SERVER] == 123);
	CHECK(sum.bytes[ST_TO_CLIENT] == 7);
	CHECK(sum.handshakes[ST_TLS13][1] == 1);
	CHECK(sum.handshakes[ST_TLS12][0] == 0);
	CHECK(sum.fail[ST_FAIL_HOSTNAME] == 2);
	CHECK(sum.fail[ST_FAIL_VERIFY_CHAIN] == 0);
	CHECK(sum.pool[ST_POOL_PREWARM] == 0);
	CHECK(sum.listening == 2);

	/* Other entries are untouched. */
	stats_sum(b, &sum);
	CHECK(sum.conn_total == 0 && sum.listening == 0);
	stats_sum(NULL, &sum);
	CHECK(sum.conn_total == 0);
	stats_free(st);
	stats_free(NULL);
}

struct each {
	const char *names[4];
	size_t n;
};

static void
each_cb(void *arg, const char *name, const struct stats_svc *e)
{
	struct each *x = arg;

	(void)e;
	if (x->n < 4)
		x->names[x->n] = name;
	x->n++;
}

static void
test_each(void)
{
	struct stats *st = stats_new(1);
	struct each x;

	memset(&x, 0, sizeof(x));
	(void)stats_service(st, "");
	(void)stats_service(st, "b");
	(void)stats_service(st, "a");
	(void)stats_service(st, "b");
	stats_each(st, each_cb, &x);
	CHECK(x.n == 3);
	CHECK(x.n == 3 && strcmp(x.names[0], "") == 0 &&
	    strcmp(x.names[1], "b") == 0 && strcmp(x.names[2], "a") == 0);
	stats_free(st);
	CHECK(stats_new(0) == NULL);
}

static void
test_histogram(void)
{
	struct stats *st = stats_new(1);
	struct stats_cell *c = stats_cell(stats_service(st, "h"), 0), sum;
	size_t b;

	CHECK(stats_connect_bounds[0] == 0.0005);
	CHECK(stats_connect_bounds[ST_CONNECT_BUCKETS - 1] == 2.5);
	for (b = 1; b < ST_CONNECT_BUCKETS; b++)
		CHECK(stats_connect_bounds[b] > stats_connect_bounds[b - 1]);
	/* An upper bound is inclusive (Prometheus' le). */
	stats_note_connect(c, 0);		/* bucket 0 */
	stats_note_connect(c, 500);		/* 0.0005 s: bucket 0 */
	stats_note_connect(c, 501);		/* bucket 1 */
	stats_note_connect(c, 1000);		/* 0.001 s: bucket 1 */
	stats_note_connect(c, 2500000);		/* 2.5 s: last bound */
	stats_note_connect(c, 2500001);		/* +Inf */
	stats_note_connect(NULL, 1);
	stats_sum(stats_service(st, "h"), &sum);
	CHECK(sum.connect_bucket[0] == 2);
	CHECK(sum.connect_bucket[1] == 2);
	CHECK(sum.connect_bucket[2] == 0);
	CHECK(sum.connect_bucket[ST_CONNECT_BUCKETS - 1] == 1);
	CHECK(sum.connect_bucket[ST_CONNECT_BUCKETS] == 1);
	CHECK(sum.connect_count == 6);
	CHECK(sum.connect_usec_sum == 500 + 501 + 1000 + 2500000 + 2500001);
	stats_free(st);
}

/* ---- threads: one writer per cell, a reader summing meanwhile -------- */

#define ROUNDS 200000

struct writer {
	struct stats_svc *e;
	size_t worker;
};

static void
write_loop(void *arg)
{
	struct writer *w = arg;
	struct stats_cell *c = stats_cell(w->e, w->worker);
	int i;

	for (i = 0; i < ROUNDS; i++) {
		STATS_INC(c, conn_total);
		STATS_INC(c, conn_active);
		STATS_ADD(c, bytes[ST_TO_CLIENT], 3);
		STATS_DEC(c, conn_active);
	}
}

static void
test_threads(void)
{
	struct stats *st = stats_new(2);
	struct stats_svc *e = stats_service(st, "t");
	struct writer w[2] = { { e, 0 }, { e, 1 } };
	struct stats_cell sum;
	uv_thread_t th[2];
	uint64_t last = 0;
	int k, monotonic = 1, bounded = 1;

	CHECK(uv_thread_create(&th[0], write_loop, &w[0]) == 0);
	CHECK(uv_thread_create(&th[1], write_loop, &w[1]) == 0);
	for (k = 0; k < 2000; k++) {
		stats_sum(e, &sum);
		/* A counter never goes back; a gauge stays within bounds. */
		monotonic &= sum.conn_total >= last;
		bounded &= sum.conn_active >= 0 && sum.conn_active <= 2;
		last = sum.conn_total;
	}
	uv_thread_join(&th[0]);
	uv_thread_join(&th[1]);
	CHECK(monotonic);
	CHECK(bounded);
	stats_sum(e, &sum);
	CHECK(sum.conn_total == 2 * ROUNDS);
	CHECK(sum.conn_active == 0);
	CHECK(sum.bytes[ST_TO_CLIENT] == 6 * ROUNDS);
	stats_free(st);
}

int
main(void)
{

	test_cells();
	test_each();
	test_histogram();
	test_threads();
	if (failures == 0)
		printf("unit_stats: all checks passed\n");
	return (failures != 0);
}
