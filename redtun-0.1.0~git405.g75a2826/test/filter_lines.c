/*
 * A test filter for the relay seam (compiled into tests only): line-based,
 * it exercises everything a Redis filter will need.
 *
 * - Replies (RELAY_DOWN): a line starting with '+' is upper-cased, a line
 *   starting with '#' is dropped (output of another length), others pass.
 * - Commands (RELAY_UP): "PING" (any case) is answered by the filter itself with
 *   "+PONG" injected into the other direction and never reaches the
 *   server; "QUIT" gets "+BYE" and the tunnel closes once it is sent.
 * - A partial line is held (copied) until its end arrives, up to
 *   RELAY_HOLD_MAX bytes (more fails the tunnel); at EOF it is flushed.
 * Complete lines that pass unchanged are emitted straight from the input.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay.h"
#include "filter_lines.h"

struct lines {
	char hold[2][RELAY_HOLD_MAX];
	size_t held[2];
	unsigned long nlines[2];
	int done;			/* QUIT seen: ignore the rest */
};

/* One complete line (with its '\n') of direction ${dir}. */
static int
line(struct lines *f, struct relay *r, int dir, const char *p, size_t n)
{
	char up[RELAY_HOLD_MAX];
	size_t i;

	f->nlines[dir]++;
	if (dir == RELAY_UP) {
		if (n == 6 && strncasecmp(p, "PING\r\n", 6) == 0)
			return (relay_emit(r, RELAY_DOWN, "+PONG\r\n", 7));
		if (n == 6 && strncasecmp(p, "QUIT\r\n", 6) == 0) {
			f->done = 1;
			if (relay_emit(r, RELAY_DOWN, "+BYE\r\n", 6))
				return (-1);
			relay_close_after(r, RELAY_DOWN, "the client said QUIT");
			return (0);
		}
		return (relay_emit(r, dir, p, n));
	}
	if (p[0] == '#')
		return (0);
	if (p[0] != '+' || n > sizeof(up))
		return (relay_emit(r, dir, p, n));
	for (i = 0; i < n; i++)
		up[i] = (p[i] >= 'a' && p[i] <= 'z') ? p[i] - 'a' + 'A' : p[i];
	return (relay_emit(r, dir, up, n));
}

static int
lines_input(void *st, struct relay *r, int dir, const char *data, size_t len)
{
	struct lines *f = st;
	const char *nl;
	size_t n;

	while (len > 0 && !f->done) {
		nl = memchr(data, '\n', len);
		n = nl != NULL ? (size_t)(nl - data) + 1 : len;
		if (f->held[dir] + n > RELAY_HOLD_MAX) {
			relay_fail(r, dir, "test filter: line too long");
			return (-1);
		}
		if (nl == NULL) {
			/* A partial line: keep it until its end comes. */
			memcpy(f->hold[dir] + f->held[dir], data, n);
			f->held[dir] += n;
			return (0);
		}
		if (f->held[dir] > 0) {
			memcpy(f->hold[dir] + f->held[dir], data, n);
			n = f->held[dir] + n;
			f->held[dir] = 0;
			if (line(f, r, dir, f->hold[dir], n))
				return (-1);
			n = (size_t)(nl - data) + 1;	/* input used */
		} else if (line(f, r, dir, data, n)) {
			return (-1);
		}
		data += n;
		len -= n;
	}
	return (0);
}

static int
lines_eof(void *st, struct relay *r, int dir)
{
	struct lines *f = st;
	size_t n = f->held[dir];

	f->held[dir] = 0;
	return (f->done ? 0 : relay_emit(r, dir, f->hold[dir], n));
}

static size_t
lines_held(const void *st, int dir)
{
	const struct lines *f = st;

	return (f->held[dir]);
}

static void
lines_free(void *st)
{

	free(st);
}

static const struct relay_filter_ops lines_ops = {
	"lines", lines_input, lines_eof, lines_held, lines_free
};

struct lines *
filter_lines_attach(struct relay *r)
{
	struct lines *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return (NULL);
	relay_set_filter(r, &lines_ops, f);
	return (f);
}

int
tunnel_test_filter(struct relay *r)
{

	if (getenv("REDTUN_TEST_FILTER") == NULL)
		return (0);
	return (filter_lines_attach(r) == NULL ? -1 : 0);
}

unsigned long
filter_lines_count(const struct lines *f, int dir)
{

	return (f->nlines[dir]);
}
