/*
 * libFuzzer harness: the RESP scanner (src/resp.c).  Input layout:
 *
 *   SEED[4] SIDE STREAM...
 *
 * SIDE & 1 picks the side (0: replies, 1: requests).  STREAM is scanned
 * whole (one resp_scan() call per frame), in pieces of 1..64 bytes drawn
 * from SEED (1..4096 when SEED's low byte is odd), and one byte at a time
 * (up to 8 KiB of STREAM: longer inputs are there to cross the bounds).
 *
 * Invariants (differential, split against whole): the same frames (type,
 * count, size, captures: text, length, string or not) and the same end
 * (the violation's offset and reason, or idle / inside a frame) whatever
 * the split.  Within each run: RESP_MORE consumes its whole chunk, frame
 * sizes add up to the bytes consumed, a frame leaves the scanner idle, a
 * violation is sticky until reset, captures are bytes of their frame and
 * at most RESP_CAP_ARGS, and resp_arg_is() agrees with the capture.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A run's summary: every frame and the end, serialized. */
struct sum {
	unsigned char *b;
	size_t len, cap;
};

static void
add(struct sum *m, const void *p, size_t n)
{

	if (n > m->cap - m->len) {
		m->cap = 2 * (m->cap + n);
		if ((m->b = realloc(m->b, m->cap)) == NULL)
			abort();
	}
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void
add_frame(struct sum *m, const struct resp_frame *f, const uint8_t *fr)
{
	const struct resp_arg *a;
	char word[RESP_CAP_LEN + 1];
	size_t k;
	int i;

	add(m, &f->type, 1);
	add(m, &f->count, sizeof(f->count));
	add(m, &f->size, sizeof(f->size));
	CHECK(f->nargs >= 0 && f->nargs <= RESP_CAP_ARGS);
	add(m, &f->nargs, sizeof(f->nargs));
	for (i = 0; i < f->nargs; i++) {
		a = &f->arg[i];
		k = a->len < RESP_CAP_LEN ? a->len : RESP_CAP_LEN;
		CHECK(a->isstr || a->len == 0);
		CHECK(a->len < f->size);
		/* The kept bytes are the string's first bytes, in the frame
		 * (searched for in frames up to 16 KiB: speed). */
		CHECK(k == 0 || f->size > 16384 ||
		    memmem(fr, f->size, a->p, k) != NULL);
		memcpy(word, a->p, k);
		word[k] = '\0';
		CHECK(resp_arg_is(a, word) == (a->isstr &&
		    a->len <= RESP_CAP_LEN && strlen(word) == a->len));
		add(m, &a->isstr, sizeof(a->isstr));
		add(m, &a->len, sizeof(a->len));
		add(m, a->p, k);
	}
}

/* Scan ${p} in pieces (${mode} 0: whole, 1: SEED's, 2: bytes). */
static void
run(struct sum *m, int side, const uint8_t *p, size_t n, uint32_t seed,
    int mode)
{
	struct resp_scan *s;
	size_t off = 0, k, used, sum = 0, start = 0;
	int rc = RESP_MORE;
	char tail[64];

	m->len = 0;
	if ((s = resp_scan_new(side)) == NULL)
		abort();
	while (off < n && rc != RESP_BAD) {
		if (mode == 0) {
			k = n - off;
		} else if (mode == 2) {
			k = 1;
		} else {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % ((seed & 0x100) ? 4096 : 64);
			if (k > n - off)
				k = n - off;
		}
		while (k > 0) {
			rc = resp_scan(s, (const char *)p + off, k, &used);
			CHECK(used <= k);
			off += used;
			k -= used;
			if (rc == RESP_MORE)
				CHECK(k == 0 && !(used > 0 &&
				    resp_scan_idle(s)));
			if (rc != RESP_FRAME)
				break;
			CHECK(resp_scan_idle(s));
			sum += resp_scan_frame(s)->size;
			CHECK(sum == off && resp_scan_frame(s)->size > 0);
			add_frame(m, resp_scan_frame(s), p + start);
			start = off;
		}
	}
	if (rc == RESP_BAD) {
		CHECK(resp_scan_error(s) != NULL && !resp_scan_idle(s));
		CHECK(resp_scan(s, "+OK\r\n", 5, &used) == RESP_BAD &&
		    used == 0);
		snprintf(tail, sizeof(tail), "BAD %zu %s", off,
		    resp_scan_error(s));
	} else {
		CHECK(off == n);
		snprintf(tail, sizeof(tail), "%s",
		    resp_scan_idle(s) ? "idle" : "more");
	}
	add(m, tail, strlen(tail));
	resp_scan_reset(s);
	CHECK(resp_scan_idle(s) && resp_scan_error(s) == NULL);
	resp_scan_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sum m[3];
	uint32_t seed;
	int side, i, n;

	if (size < 5)
		return (0);
	seed = ((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
	    (uint32_t)data[2] << 8 | data[3]) | 1;
	side = data[4] & 1 ? RESP_REQUESTS : RESP_REPLIES;
	data += 5;
	size -= 5;
	n = size > 8192 ? 2 : 3;
	for (i = 0; i < n; i++) {
		m[i].b = NULL;
		m[i].cap = 0;
		run(&m[i], side, data, size, seed, i);
	}
	for (i = 1; i < n; i++)
		CHECK(m[i].len == m[0].len &&
		    memcmp(m[i].b, m[0].b, m[0].len) == 0);
	for (i = 0; i < n; i++)
		free(m[i].b);
	return (0);
}
