/*
 * libFuzzer harness: the RESP filter (src/resp_filter.c) on a relay with
 * memory sinks, driven by a script.  Input layout:
 *
 *   SEED[4] CONF OP...
 *
 * CONF bit 0: a password (AUTH in the prepare phase), (CONF >> 1) % 3:
 * the role, bit 7: a cluster service (MOVED/ASK and CLUSTER replies
 * rewritten with a node map of a few nodes: a:1, node1.test:27101 and
 * 127.0.0.1:27101, later also b:2 and node4.test:27104).
 * Each OP is a byte K and, for K & 3 < 2, a length byte L and L bytes:
 * K & 3 == 0 client bytes (RELAY_UP), 1 server bytes (RELAY_DOWN), 2 the
 * client's EOF (recycled when the filter says it may be), 3 the server's
 * EOF.  On a cluster service, K & 3 == 2 with K & 4 is not an EOF but
 * resp_filter_cluster_retry (give_up: K & 16), after the map gains b and
 * node4 if K & 8.  The script runs twice: bytes fed whole, and in pieces
 * of 1..16 bytes drawn from SEED.
 *
 * Invariants: both runs give the same output both ways, the same hook
 * calls and results, the same failure; the filter never sends a client
 * more bytes than the server sent (without cluster), and passes every
 * client byte on.  A cluster service whose server never says MOVED or ASK
 * and whose client never says CLUSTER passes the same bytes as a service
 * without cluster (but for a line held at the end of the script: the
 * start of an error that may be a MOVED, or without cluster a line that
 * may answer redtun's RESET).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_map.h"
#include "conf.h"
#include "log.h"
#include "relay.h"
#include "resp_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	char out[1 << 16];
	size_t len;
	int eofs, failed, closed;
};

struct run {
	struct sink way[2];
	struct resp_filter *f;
	int prepared, prep_result, client_done, recycled, recycle_result;
	int readonly, reusable_at_eof;
	int eof[2], restart;	/* as the tunnel: restart after the hook */
	uint64_t in[2];
	const struct cmap *map;	/* in force */
	int misses;
	uint32_t retries;	/* retry results, hashed */
};

/* The node maps: a few nodes, and the same with two more. */
static struct cmap *map_part, *map_full;

static const struct cmap *
h_map(void *arg)
{
	return (((struct run *)arg)->map);
}

static void
h_miss(void *arg, const char *host, unsigned int port)
{
	(void)host;
	(void)port;
	((struct run *)arg)->misses++;
}

static struct cmap *
map_make(int full)
{
	struct cmap *m = cmap_new("127.0.0.1");

	if (m == NULL || cmap_add(m, "a", 1, 1, 7001) ||
	    cmap_add(m, "node1.test", 10, 27101, 7002) ||
	    cmap_add(m, "127.0.0.1", 9, 27101, 7002) || (full &&
	    (cmap_add(m, "b", 1, 2, 7003) ||
	    cmap_add(m, "node4.test", 10, 27104, 7004))))
		abort();
	return (m);
}

static int
s_write(void *arg, const char *d, size_t n)
{
	struct sink *s = arg;

	if (n > sizeof(s->out) - s->len)
		n = sizeof(s->out) - s->len;	/* keep a prefix */
	memcpy(s->out + s->len, d, n);
	s->len += n;
	return (0);
}

static size_t s_queued(void *arg) { (void)arg; return (0); }
static void s_eof(void *arg) { ((struct sink *)arg)->eofs++; }

static void
s_close_after(void *arg, const char *why)
{
	(void)why;
	((struct sink *)arg)->closed++;
}

static void
s_fail(void *arg, const char *why)
{
	(void)why;
	((struct sink *)arg)->failed++;
}

static void
h_prepared(void *arg, int result, const char *why)
{
	struct run *r = arg;

	(void)why;
	r->prepared++;
	r->prep_result = result;
}

static void h_client_done(void *arg) { ((struct run *)arg)->client_done++; }

static void
h_recycled(void *arg, int result, const char *why)
{
	struct run *r = arg;

	(void)why;
	r->recycled++;
	r->recycle_result = result;
	r->restart = result == RF_OK;
}

static void h_readonly(void *arg) { ((struct run *)arg)->readonly++; }

static int
h_client_eof(void *arg)
{
	struct run *r = arg;

	if (!resp_filter_reusable(r->f))
		return (0);
	r->reusable_at_eof++;
	resp_filter_recycle(r->f);
	return (1);
}

static void
play(struct run *run, const struct svc_conf *sc, const uint8_t *p,
    size_t n, uint32_t seed)
{
	struct relay_sink su = { s_write, s_queued, s_eof, s_close_after,
	    s_fail, &run->way[RELAY_UP] };
	struct relay_sink sd = { s_write, s_queued, s_eof, s_close_after,
	    s_fail, &run->way[RELAY_DOWN] };
	struct rf_hooks h = { h_prepared, h_client_done, h_recycled,
	    h_readonly, h_client_eof, run, sc->cluster ? h_map : NULL,
	    sc->cluster ? h_miss : NULL, NULL, NULL, NULL };
	struct relay *r;
	size_t i = 0, len, off, k;
	int op, dir;

	run->map = map_part;
	if ((r = relay_new(&su, &sd)) == NULL ||
	    (run->f = resp_filter_attach(r, sc, &h, "fuzz")) == NULL)
		abort();
	resp_filter_prepare(run->f);
	while (i < n) {
		if (run->restart) {
			/* A new client on the kept connection. */
			relay_restart(r);
			resp_filter_restart(run->f);
			run->restart = run->eof[0] = run->eof[1] = 0;
		}
		op = p[i++];
		if (sc->cluster && (op & 7) == 6) {
			if (op & 8)
				run->map = map_full;
			run->retries = run->retries * 31 + (uint32_t)(2 +
			    resp_filter_cluster_retry(run->f, (op & 16) != 0));
			continue;
		}
		op &= 3;
		if (op >= 2) {
			dir = op == 2 ? RELAY_UP : RELAY_DOWN;
			if (!run->eof[dir])
				relay_eof(r, dir);
			run->eof[dir] = 1;
			continue;
		}
		if (i >= n)
			break;
		len = p[i++];
		if (len > n - i)
			len = n - i;
		dir = op == 0 ? RELAY_UP : RELAY_DOWN;
		if (run->eof[dir]) {
			i += len;	/* nothing is read after EOF */
			continue;
		}
		run->in[dir] += len;
		for (off = 0; off < len; off += k) {
			k = len - off;
			if (seed != 0) {
				seed = seed * 1103515245u + 12345u;
				k = 1 + (seed >> 16) % 16;
				if (k > len - off)
					k = len - off;
			}
			relay_input(r, dir, (const char *)p + i + off, k);
		}
		i += len;
	}
	relay_free(r);
}

/* Whether ${n} bytes at ${p} hold ${w} (lower case), ignoring case. */
static int
has(const uint8_t *p, size_t n, const char *w)
{
	size_t i, k, len = strlen(w);

	for (i = 0; i + len <= n; i++) {
		for (k = 0; k < len && (p[i + k] | 0x20) == w[k]; k++)
			;
		if (k == len)
			return (1);
	}
	return (0);
}

/*
 * Whether the script has a cluster op, or its server bytes (all of them in
 * a row: a word may span ops) say MOVED or ASK, or its client's CLUSTER.
 */
static int
mentions(const uint8_t *p, size_t n)
{
	static uint8_t way[2][1 << 16];
	size_t i = 0, len[2] = { 0, 0 }, l;
	int op;

	while (i < n) {
		op = p[i++];
		if ((op & 7) == 6)
			return (1);
		if ((op & 3) >= 2 || i >= n)
			continue;
		l = p[i++];
		if (l > n - i)
			l = n - i;
		if (l > sizeof(way[0]) - len[op & 1])
			return (1);
		memcpy(way[op & 1] + len[op & 1], p + i, l);
		len[op & 1] += l;
		i += l;
	}
	return (has(way[1], len[1], "moved") || has(way[1], len[1], "ask") ||
	    has(way[0], len[0], "cluster"));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run a, b, c;
	struct svc_conf sc;
	uint32_t seed;
	size_t n;

	if (size < 5)
		return (0);
	if (map_part == NULL) {
		log_open(NULL, 1, LOG_LVL_EMERG);	/* quiet: a line a run */
		map_part = map_make(0);
		map_full = map_make(1);
	}
	memset(&sc, 0, sizeof(sc));
	sc.reuse = 1;
	sc.password = (data[4] & 1) ? (char *)"pw" : NULL;
	sc.role = (data[4] >> 1) % 3;
	sc.cluster = (data[4] & 0x80) != 0;
	seed = ((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
	    (uint32_t)data[2] << 8 | data[3]) | 1;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	play(&a, &sc, data + 5, size - 5, 0);
	play(&b, &sc, data + 5, size - 5, seed);
	resp_filter_release_cache();
	/*
	 * A server's protocol violation ends the tunnel where it is found:
	 * how much of that chunk was passed on before depends on the split
	 * (bytes are not held), so then only the verdict must agree.
	 */
	if (a.way[1].failed != b.way[1].failed)
		abort();
	if (!a.way[1].failed && (a.way[1].len != b.way[1].len ||
	    memcmp(a.way[1].out, b.way[1].out, a.way[1].len) != 0))
		abort();	/* replies depend on the split */
	if (a.way[0].len != b.way[0].len ||
	    memcmp(a.way[0].out, b.way[0].out, a.way[0].len) != 0) {
		fprintf(stderr, "commands, whole: %.*s\nsplit: %.*s\n",
		    (int)a.way[0].len, a.way[0].out, (int)b.way[0].len,
		    b.way[0].out);
		abort();	/* commands depend on the split */
	}
	if (a.prepared != b.prepared || a.prep_result != b.prep_result ||
	    a.client_done != b.client_done || a.recycled != b.recycled ||
	    a.recycle_result != b.recycle_result || a.readonly != b.readonly ||
	    a.reusable_at_eof != b.reusable_at_eof ||
	    a.way[1].closed != b.way[1].closed || a.misses != b.misses ||
	    a.retries != b.retries)
		abort();	/* so do the decisions */
	if (!sc.cluster && a.way[RELAY_DOWN].len > a.in[RELAY_DOWN])
		abort();	/* reply bytes made up */
	if (sc.cluster && !mentions(data + 5, size - 5)) {
		/* Nothing to rewrite: as without cluster, byte for byte. */
		memset(&c, 0, sizeof(c));
		sc.cluster = 0;
		play(&c, &sc, data + 5, size - 5, 0);
		resp_filter_release_cache();
		/*
		 * But for a line held at the end: the start of an error by
		 * cluster ("-MO"), a client's line after its EOF without; and
		 * after a protocol violation only the verdict (as above).
		 */
		n = a.way[1].len < c.way[1].len ? a.way[1].len : c.way[1].len;
		if (a.way[1].failed != c.way[1].failed || a.misses != 0 ||
		    (!a.way[1].failed && (memcmp(a.way[1].out, c.way[1].out,
		    n) != 0 || a.way[1].len + c.way[1].len - 2 * n > 64)))
			abort();	/* cluster changed a plain reply */
	}
	if (a.way[0].closed + a.way[1].closed + a.way[0].failed +
	    a.way[1].failed == 0 && a.way[RELAY_UP].len < a.in[RELAY_UP] &&
	    a.way[RELAY_UP].len < sizeof(a.way[0].out))
		abort();	/* client bytes lost */
	return (0);
}
