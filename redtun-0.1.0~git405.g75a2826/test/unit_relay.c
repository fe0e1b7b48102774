/*
 * The relay seam, without sockets: memory sinks on both directions, the
 * bare relay (zero-copy) and the "lines" test filter, fed every 1-byte
 * and 2-byte split and 300 random splits of each stream.  Whatever the
 * split, the output must equal what an independent model of the filter
 * computes from the whole stream, and the held bytes must be the
 * unfinished line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"
#include "filter_lines.h"

#include "unit_check.h"

/* A destination in memory. */
struct sink {
	char out[256 * 1024];
	size_t len;
	size_t queued;		/* what queued() reports */
	int eofs;		/* eof() calls */
	const char *input;	/* the caller's buffer, to see copies */
	size_t input_len;
	int copies;		/* writes not pointing into ${input} */
	char closed[128];	/* close_after / fail reason */
	int failed;
};

static int
s_write(void *arg, const char *data, size_t len)
{
	struct sink *s = arg;

	if (s->input != NULL && (data < s->input ||
	    data + len > s->input + s->input_len))
		s->copies++;
	if (len > sizeof(s->out) - s->len)
		return (-1);
	memcpy(s->out + s->len, data, len);
	s->len += len;
	return (0);
}

static size_t
s_queued(void *arg)
{

	return (((struct sink *)arg)->queued);
}

static void
s_eof(void *arg)
{

	((struct sink *)arg)->eofs++;
}

static void
s_close_after(void *arg, const char *why)
{
	struct sink *s = arg;

	snprintf(s->closed, sizeof(s->closed), "%s", why);
}

static void
s_fail(void *arg, const char *why)
{
	struct sink *s = arg;

	s->failed = 1;
	snprintf(s->closed, sizeof(s->closed), "%s", why);
}

static struct sink up, down;

static struct relay *
new_relay(void)
{
	struct relay_sink u = { s_write, s_queued, s_eof, s_close_after,
	    s_fail, &up };
	struct relay_sink d = { s_write, s_queued, s_eof, s_close_after,
	    s_fail, &down };

	memset(&up, 0, sizeof(up));
	memset(&down, 0, sizeof(down));
	return (relay_new(&u, &d));
}

/* Split kinds: every 1 byte, every 2 bytes, random. */
static size_t
next_cut(int kind, size_t left)
{
	size_t n;

	if (kind == 1 || kind == 2)
		n = (size_t)kind;
	else
		n = 1 + (size_t)rand() % 97;
	return (n < left ? n : left);
}

/*
 * The model: what the lines filter must turn a whole stream into, written
 * independently of the filter.  Returns the output length; *${partial}
 * gets the length of the unterminated tail.
 */
static size_t
model_down(const char *in, size_t len, char *out, size_t *partial)
{
	size_t i = 0, o = 0, end, k;

	while (i < len) {
		for (end = i; end < len && in[end] != '\n'; end++)
			;
		if (end == len)
			break;
		end++;
		for (k = i; k < end && in[i] != '#'; k++)
			out[o++] = (in[i] == '+' && in[k] >= 'a' &&
			    in[k] <= 'z') ? (char)(in[k] - 32) : in[k];
		i = end;
	}
	*partial = len - i;
	return (o);
}

static const char replies[] =
    "+ok\r\n$5\r\nhello\r\n#comment\r\n+Mixed case\r\n-ERR no\r\n"
    ":42\r\n*2\r\n+a\r\n$-1\r\n#x\r\n+end\r\n+unfinished";

/* No filter: every split comes out whole, and never copied. */
static void
test_bare(void)
{
	static char in[64 * 1024];
	size_t i, off, n;
	int kind, round;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)rand();
	for (round = 0; round < 302; round++) {
		struct relay *r = new_relay();

		kind = round < 2 ? round + 1 : 3;
		up.input = in;
		up.input_len = sizeof(in);
		for (off = 0; off < sizeof(in); off += n) {
			n = next_cut(kind, sizeof(in) - off);
			CHECK(relay_input(r, RELAY_UP, in + off, n) == 0);
		}
		CHECK(up.len == sizeof(in) && memcmp(up.out, in, up.len) == 0);
		CHECK(up.copies == 0);
		CHECK(relay_bytes_in(r, RELAY_UP) == sizeof(in));
		CHECK(relay_bytes_out(r, RELAY_UP) == sizeof(in));
		CHECK(!relay_filtered(r));
		CHECK(relay_eof(r, RELAY_UP) == 0 && up.eofs == 1);
		CHECK(relay_eof(r, RELAY_UP) == 0 && up.eofs == 1);
		relay_free(r);
		if (failures)
			return;
	}
}

/* Replies through the filter: same output for every split. */
static void
test_replies(void)
{
	char want[sizeof(replies)];
	size_t wlen, partial, off, n, len = sizeof(replies) - 1;
	int kind, round;

	wlen = model_down(replies, len, want, &partial);
	CHECK(partial == strlen("+unfinished"));
	for (round = 0; round < 302; round++) {
		struct relay *r = new_relay();
		struct lines *f = filter_lines_attach(r);

		kind = round < 2 ? round + 1 : 3;
		for (off = 0; off < len; off += n) {
			n = next_cut(kind, len - off);
			CHECK(relay_input(r, RELAY_DOWN, replies + off, n) == 0);
		}
		CHECK(down.len == wlen && memcmp(down.out, want, wlen) == 0);
		CHECK(filter_lines_count(f, RELAY_DOWN) == 12);
		/* The unfinished line is held, and counts as backlog. */
		down.queued = RELAY_HIGH - partial;
		CHECK(!relay_backlogged(r, RELAY_DOWN));
		down.queued++;
		CHECK(relay_backlogged(r, RELAY_DOWN));
		down.queued = RELAY_LOW - partial;
		CHECK(relay_resumable(r, RELAY_DOWN));
		down.queued++;
		CHECK(!relay_resumable(r, RELAY_DOWN));
		/* EOF flushes it, then half-closes once. */
		CHECK(relay_eof(r, RELAY_DOWN) == 0 && down.eofs == 1);
		CHECK(down.len == wlen + partial &&
		    memcmp(down.out + wlen, "+unfinished", partial) == 0);
		CHECK(relay_bytes_in(r, RELAY_DOWN) == len);
		CHECK(relay_bytes_out(r, RELAY_DOWN) == wlen + partial);
		/* Nothing is sent past the half-close. */
		CHECK(relay_emit(r, RELAY_DOWN, "x", 1) == 0 &&
		    down.len == wlen + partial);
		CHECK(up.len == 0 && up.eofs == 0 && !down.failed);
		relay_free(r);
		if (failures)
			return;
	}
}

/* Commands: answered and injected the other way; QUIT ends the tunnel. */
static void
test_commands(void)
{
	static const char cmds[] = "SET a b\r\nPING\r\nGET a\r\nPING\r\n"
	    "QUIT\r\nGET never\r\n";
	size_t off, n, len = sizeof(cmds) - 1;
	int kind, round;

	for (round = 0; round < 302; round++) {
		struct relay *r = new_relay();

		(void)filter_lines_attach(r);
		kind = round < 2 ? round + 1 : 3;
		for (off = 0; off < len; off += n) {
			n = next_cut(kind, len - off);
			CHECK(relay_input(r, RELAY_UP, cmds + off, n) == 0);
		}
		CHECK(up.len == 16 &&
		    memcmp(up.out, "SET a b\r\nGET a\r\n", 16) == 0);
		CHECK(down.len == 20 &&
		    memcmp(down.out, "+PONG\r\n+PONG\r\n+BYE\r\n", 20) == 0);
		CHECK(strcmp(down.closed, "the client said QUIT") == 0);
		CHECK(strcmp(up.closed, "") == 0 && !down.failed);
		/* Nothing more goes the way that is closing. */
		CHECK(relay_emit(r, RELAY_DOWN, "+late\r\n", 7) == 0 &&
		    down.len == 20);
		/* Once closing, input is counted but goes nowhere. */
		CHECK(relay_input(r, RELAY_UP, "GET x\r\n", 7) == 0 &&
		    up.len == 16);
		CHECK(relay_bytes_in(r, RELAY_UP) == len + 7);
		relay_free(r);
		if (failures)
			return;
	}
}

/* A partial line over the hold limit fails the tunnel, in that way. */
static void
test_hold_limit(void)
{
	static char big[RELAY_HOLD_MAX + 1];
	struct relay *r = new_relay();
	size_t off;

	(void)filter_lines_attach(r);
	memset(big, 'x', sizeof(big));
	for (off = 0; off + 1000 < sizeof(big); off += 1000)
		CHECK(relay_input(r, RELAY_DOWN, big + off, 1000) == 0);
	CHECK(!down.failed);
	CHECK(relay_input(r, RELAY_DOWN, big + off, sizeof(big) - off) == -1);
	CHECK(down.failed && strstr(down.closed, "line too long") != NULL);
	relay_free(r);
}

int
main(void)
{

	srand(20261203);
	test_bare();
	test_replies();
	test_commands();
	test_hold_limit();
	if (failures) {
		fprintf(stderr, "%d relay checks failed\n", failures);
		return (1);
	}
	printf("relay: zero-copy bare path, lines filter over 1-byte, 2-byte "
	    "and 300 random splits: all checks passed\n");
	return (0);
}
