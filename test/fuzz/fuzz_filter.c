/*
 * libFuzzer harness: the RESP filter (src/resp_filter.c) on a relay with
 * memory sinks, driven by a script.  Input layout:
 *
 *   SEED[4] CONF OP...
 *
 * CONF bit 0: a password (AUTH in the prepare phase), bits 1-2: the role.
 * Each OP is a byte K and, for K & 3 < 2, a length byte L and L bytes:
 * K & 3 == 0 client bytes (RELAY_UP), 1 server bytes (RELAY_DOWN), 2 the
 * client's EOF (recycled when the filter says it may be), 3 the server's
 * EOF.  The script runs twice: bytes fed whole, and in pieces of 1..16
 * bytes drawn from SEED.
 *
 * Invariants: both runs give the same output both ways, the same hook
 * calls and results, the same failure; the filter never sends a client
 * more bytes than the server sent, and passes every client byte on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
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
};

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
	    h_readonly, h_client_eof, run };
	struct relay *r;
	size_t i = 0, len, off, k;
	int op, dir;

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
		op = p[i++] & 3;
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run a, b;
	struct svc_conf sc;
	uint32_t seed;

	if (size < 5)
		return (0);
	memset(&sc, 0, sizeof(sc));
	sc.reuse = 1;
	sc.password = (data[4] & 1) ? (char *)"pw" : NULL;
	sc.role = (data[4] >> 1) % 3;
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
	    a.way[1].closed != b.way[1].closed)
		abort();	/* so do the decisions */
	if (a.way[RELAY_DOWN].len > a.in[RELAY_DOWN])
		abort();	/* reply bytes made up */
	if (a.way[0].closed + a.way[1].closed + a.way[0].failed +
	    a.way[1].failed == 0 && a.way[RELAY_UP].len < a.in[RELAY_UP] &&
	    a.way[RELAY_UP].len < sizeof(a.way[0].out))
		abort();	/* client bytes lost */
	return (0);
}
