/*
 * libFuzzer harness: the relay seam with the test-only "lines" filter
 * (test/filter_lines.c).  Input layout:
 *
 *   SEED[4] DIR STREAM...
 *
 * DIR & 1 picks the direction STREAM is read in (RELAY_UP: commands, with
 * injections into RELAY_DOWN; RELAY_DOWN: replies).  STREAM is fed to one
 * relay in a single call and to another in pieces of 1..64 bytes drawn
 * from SEED; then both get EOF (unless the filter failed).
 *
 * Invariants (differential, split against whole): both directions' output,
 * the failure (a line over RELAY_HOLD_MAX), the close-after reason and the
 * byte counts are the same whatever the split; output never exceeds what
 * the filter may make of the input (input + 7 bytes per injected line).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"
#include "../filter_lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	char *out;
	size_t len, cap;
	int eofs, failed;
	char reason[96];
};

static int
s_write(void *arg, const char *d, size_t n)
{
	struct sink *s = arg;

	if (n > s->cap - s->len)
		abort();	/* more output than the filter can make */
	memcpy(s->out + s->len, d, n);
	s->len += n;
	return (0);
}

static size_t
s_queued(void *arg)
{

	(void)arg;
	return (0);
}

static void
s_eof(void *arg)
{

	((struct sink *)arg)->eofs++;
}

static void
s_close_after(void *arg, const char *why)
{

	snprintf(((struct sink *)arg)->reason, 96, "close: %s", why);
}

static void
s_fail(void *arg, const char *why)
{
	struct sink *s = arg;

	s->failed = 1;
	snprintf(s->reason, sizeof(s->reason), "fail: %s", why);
}

struct run {
	struct sink way[2];
	uint64_t in, out[2];
};

static void
run(struct run *res, int dir, const uint8_t *p, size_t n, uint32_t seed,
    size_t cap)
{
	struct relay_sink u = { s_write, s_queued, s_eof, s_close_after,
	    s_fail, &res->way[RELAY_UP] };
	struct relay_sink d = { s_write, s_queued, s_eof, s_close_after,
	    s_fail, &res->way[RELAY_DOWN] };
	struct relay *r;
	size_t off = 0, k;
	int rc = 0, i;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < 2; i++) {
		res->way[i].cap = cap;
		if ((res->way[i].out = malloc(cap ? cap : 1)) == NULL)
			abort();
	}
	if ((r = relay_new(&u, &d)) == NULL ||
	    filter_lines_attach(r) == NULL)
		abort();
	while (off < n && rc == 0) {
		if (seed == 0) {
			k = n - off;
		} else {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 64;
			if (k > n - off)
				k = n - off;
		}
		rc = relay_input(r, dir, (const char *)p + off, k);
		off += k;
	}
	if (rc == 0)
		(void)relay_eof(r, dir);
	res->in = relay_bytes_in(r, dir);
	res->out[0] = relay_bytes_out(r, RELAY_UP);
	res->out[1] = relay_bytes_out(r, RELAY_DOWN);
	relay_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, split;
	uint32_t seed;
	size_t cap;
	int dir, i;

	if (size < 5)
		return (0);
	seed = ((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
	    (uint32_t)data[2] << 8 | data[3]) | 1;
	dir = data[4] & 1;
	data += 5;
	size -= 5;
	/* Each line of >= 6 bytes may add a 7-byte reply: at most 2x + 7. */
	cap = 2 * size + 16;
	run(&whole, dir, data, size, 0, cap);
	run(&split, dir, data, size, seed, cap);
	for (i = 0; i < 2; i++) {
		if (whole.way[i].len != split.way[i].len ||
		    memcmp(whole.way[i].out, split.way[i].out,
		    whole.way[i].len) != 0 ||
		    whole.way[i].failed != split.way[i].failed ||
		    whole.way[i].eofs != split.way[i].eofs ||
		    strcmp(whole.way[i].reason, split.way[i].reason) != 0 ||
		    whole.out[i] != split.out[i] ||
		    whole.out[i] != whole.way[i].len)
			abort();
		free(whole.way[i].out);
		free(split.way[i].out);
	}
	/* Input is counted as read, up to a failure, whatever the split. */
	if (!whole.way[dir].failed && whole.in != size)
		abort();
	return (0);
}
