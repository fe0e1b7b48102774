/*
 * The RESP scanner (src/resp.c): every type on both sides, attributes,
 * bounds and every violation, each stream written out as a summary of
 * its frames (type, count, size, captures) and its end (idle, inside a
 * frame, or the violation's reason and offset) and compared with the
 * expected summary; then fed one byte at a time and split at every point
 * (random points for long streams): the summary must not change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#include "unit_check.h"

static int cases;

#define OUTMAX	(64 * 1024)

/* Append to the summary ${out}. */
#define PUT(out, ...) do {						\
	size_t n_ = strlen(out);					\
	snprintf((out) + n_, OUTMAX - n_, __VA_ARGS__);			\
} while (0)

/* Summarize one frame into ${out}: "Tcount/size 'arg' ~ 'long'+70". */
static void
put_frame(char *out, const struct resp_frame *f)
{
	size_t j;
	int i, c;

	PUT(out, "%s%c", out[0] ? " | " : "", f->type);
	PUT(out, "%lld/%llu", f->count, (unsigned long long)f->size);
	for (i = 0; i < f->nargs; i++) {
		if (!f->arg[i].isstr) {
			CHECK(f->arg[i].len == 0);
			PUT(out, " ~");
			continue;
		}
		PUT(out, " '");
		for (j = 0; j < f->arg[i].len && j < RESP_CAP_LEN; j++) {
			c = (unsigned char)f->arg[i].p[j];
			if (c >= 0x20 && c < 0x7f && c != '\\')
				PUT(out, "%c", c);
			else
				PUT(out, "\\x%02x", c);
		}
		PUT(out, "'");
		if (f->arg[i].len > RESP_CAP_LEN)
			PUT(out, "+%zu", f->arg[i].len);
	}
}

/*
 * Scan ${in} cut at the ${ncut} offsets ${cut} (ascending) into ${out}.
 * Checks the contract on the way: RESP_MORE consumes its whole chunk,
 * sizes add up to what was consumed, a broken scanner stays broken.
 */
static void
scan(int side, const char *in, size_t len, const size_t *cut, size_t ncut,
    char *out)
{
	struct resp_scan *s;
	size_t a = 0, b, used, sum = 0, k;
	int rc = RESP_MORE;

	out[0] = '\0';
	if ((s = resp_scan_new(side)) == NULL)
		abort();
	CHECK(resp_scan_idle(s));
	for (k = 0; k <= ncut && rc != RESP_BAD; k++) {
		b = k < ncut ? cut[k] : len;
		while (a < b) {
			rc = resp_scan(s, in + a, b - a, &used);
			CHECK(used <= b - a);
			a += used;
			if (rc == RESP_FRAME) {
				sum += resp_scan_frame(s)->size;
				CHECK(sum == a);
				CHECK(resp_scan_idle(s));
				put_frame(out, resp_scan_frame(s));
				continue;
			}
			if (rc == RESP_MORE)
				CHECK(a == b);
			break;
		}
	}
	if (rc == RESP_BAD) {
		PUT(out, "%sBAD %zu %s", out[0] ? " | " : "| ", a,
		    resp_scan_error(s));
		CHECK(!resp_scan_idle(s));
		CHECK(resp_scan(s, "+OK\r\n", 5, &used) == RESP_BAD &&
		    used == 0);
		resp_scan_reset(s);
		CHECK(resp_scan_idle(s));
	} else {
		CHECK(a == len);
		PUT(out, "%s%s", out[0] ? " | " : "| ",
		    resp_scan_idle(s) ? "idle" : "more");
	}
	CHECK(resp_scan(s, in, 0, &used) != RESP_FRAME && used == 0);
	resp_scan_free(s);
}

/* ${in} must give ${want} whole, byte by byte and split anywhere. */
static void
t(int side, const char *in, size_t len, const char *want)
{
	static char whole[OUTMAX], other[OUTMAX];
	static size_t cut[1 << 17];
	size_t i, n;
	unsigned r = 12345;

	cases++;
	scan(side, in, len, NULL, 0, whole);
	if (strcmp(whole, want) != 0) {
		fprintf(stderr, "case %d: got  %s\n        want %s\n", cases,
		    whole, want);
		failures++;
	}
	n = len < sizeof(cut) / sizeof(cut[0]) ? len : 0;
	for (i = 0; i < n; i++)
		cut[i] = i + 1;
	scan(side, in, len, cut, n, other);
	if (strcmp(whole, other) != 0) {
		fprintf(stderr, "case %d: byte by byte: %s\n", cases, other);
		failures++;
	}
	for (i = 1; i < len; i++) {
		if (len > 4096) {	/* 64 random cuts in long streams */
			if (i > 64)
				break;
			r = r * 1103515245u + 12345u;
			cut[0] = 1 + (r >> 8) % (len - 1);
		} else
			cut[0] = i;
		scan(side, in, len, cut, 1, other);
		if (strcmp(whole, other) != 0) {
			fprintf(stderr, "case %d: cut at %zu: %s\n", cases,
			    cut[0], other);
			failures++;
			break;
		}
	}
}

#define R(lit, want)	t(RESP_REPLIES, lit, sizeof(lit) - 1, want)
#define Q(lit, want)	t(RESP_REQUESTS, lit, sizeof(lit) - 1, want)

static char big[1 << 20];

/* ${n} copies of ${unit} then ${tail}, in big[]; the length. */
static size_t
rep(const char *unit, size_t n, const char *tail)
{
	size_t len = 0, u = strlen(unit);

	while (n-- > 0) {
		memcpy(big + len, unit, u);
		len += u;
	}
	memcpy(big + len, tail, strlen(tail));
	return (len + strlen(tail));
}

static void
replies(void)
{
	char want[256];
	size_t n;

	R("+OK\r\n", "+0/5 'OK' | idle");
	R("+\r\n", "+0/3 '' | idle");
	R("-ERR no such key\r\n", "-0/18 'ERR no such key' | idle");
	R(":123\r\n:-5\r\n:0\r\n",
	    ":0/6 '123' | :0/5 '-5' | :0/4 '0' | idle");
	R(":9223372036854775807\r\n", ":0/22 '9223372036854775807' | idle");
	R(":-9223372036854775808\r\n", ":0/23 '-9223372036854775808' | idle");
	R(":-9223372036854775809\r\n", "| BAD 20 bad number");
	R(":9223372036854775808\r\n", "| BAD 19 bad number");
	R("$-9223372036854775808\r\n", "| BAD 23 bad length");
	R("$3\r\nfoo\r\n", "$3/9 'foo' | idle");
	R("$0\r\n\r\n", "$0/6 '' | idle");
	R("$2\r\n\r\n\r\n", "$2/8 '\\x0d\\x0a' | idle");
	R("$-1\r\n", "$-1/5 | idle");
	R("*-1\r\n", "*-1/5 | idle");
	R("*0\r\n", "*0/4 | idle");
	R("*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n", "*2/22 'GET' 'foo' | idle");
	R("*4\r\n:1\r\n*1\r\n+x\r\n$-1\r\n*-1\r\n",
	    "*4/26 '1' ~ ~ ~ | idle");
	R("*6\r\n+a\r\n+b\r\n+c\r\n+d\r\n+e\r\n+f\r\n",
	    "*6/28 'a' 'b' 'c' 'd' | idle");
	R("_\r\n", "_0/3 | idle");
	R("#t\r\n#f\r\n", "#0/4 | #0/4 | idle");
	R(",1.5\r\n,inf\r\n,-inf\r\n,nan\r\n,1e+300\r\n",
	    ",0/6 '1.5' | ,0/6 'inf' | ,0/7 '-inf' | ,0/6 'nan' | "
	    ",0/9 '1e+300' | idle");
	R("(-12345678901234567890123\r\n",
	    "(0/27 '-12345678901234567890123' | idle");
	R("=15\r\ntxt:Some string\r\n", "=15/22 'txt:Some string' | idle");
	R("!21\r\nSYNTAX invalid syntax\r\n",
	    "!21/28 'SYNTAX invalid syntax' | idle");
	R("%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n", "%2/20 'a' '1' 'b' '2' | idle");
	R("%0\r\n~0\r\n", "%0/4 | ~0/4 | idle");
	R("~2\r\n+a\r\n#t\r\n", "~2/12 'a' ~ | idle");
	R(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
	    ">3/33 'message' 'ch' 'hi' | idle");
	/* Attributes: part of the next value, never captured or counted. */
	R("|1\r\n+ttl\r\n:3600\r\n+OK\r\n", "+0/22 'OK' | idle");
	R("|0\r\n:1\r\n", ":0/8 '1' | idle");
	R("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", "*2/24 '1' '2' | idle");
	R("|1\r\n+k\r\n|1\r\n+x\r\n+y\r\n+v\r\n*1\r\n:7\r\n",
	    "*1/32 '7' | idle");
	R("*1\r\n|1\r\n*1\r\n|1\r\n+x\r\n+y\r\n+z\r\n+w\r\n+v\r\n",
	    "*1/36 'v' | idle");
	R(">2\r\n|1\r\n+a\r\n+b\r\n+x\r\n+y\r\n", ">2/24 'x' 'y' | idle");
	R("|1\r\n+a\r\n+b\r\n", "| more");
	/* Pipelined, and a frame left open. */
	R("+OK\r\n:1\r\n$1\r\na\r\n*2\r\n:1\r\n",
	    "+0/5 'OK' | :0/4 '1' | $1/7 'a' | more");
	/* Captures keep RESP_CAP_LEN bytes and the full length. */
	n = rep("a", 70, "");
	snprintf(want, sizeof(want), "$70/%d '%.64s'+70 | idle", 70 + 7, big);
	memmove(big + 5, big, n);
	memcpy(big, "$70\r\n", 5);
	memcpy(big + 75, "\r\n", 2);
	t(RESP_REPLIES, big, 77, want);
	/* Bounds: depth, bulk length, elements. */
	n = rep("*1\r\n", 31, "*0\r\n");
	t(RESP_REPLIES, big, n, "*1/128 ~ | idle");
	n = rep("*1\r\n", 33, "");
	t(RESP_REPLIES, big, n, "| BAD 128 nesting too deep");
	n = rep("|1\r\n", 33, "");
	t(RESP_REPLIES, big, n, "| BAD 128 nesting too deep");
	R("$536870912\r\n", "| more");
	R("$536870913\r\n", "| BAD 12 bulk too large");
	R("*1073741824\r\n", "| more");
	R("*1073741825\r\n", "| BAD 13 aggregate too large");
	R("%1073741825\r\n", "| BAD 13 aggregate too large");
	R(":99999999999999999999\r\n", "| BAD 19 bad number");
	/* Every violation. */
	R("+OK\r\n?x", "+0/5 'OK' | BAD 5 unknown type byte");
	R("*1\r\n;2\r\nab\r\n", "| BAD 4 unknown type byte");
	R("$abc\r\n", "| BAD 1 bad length");
	R("$01\r\nx\r\n", "| BAD 2 bad length");
	R("$-0\r\n", "| BAD 2 bad length");
	R("$\r\n", "| BAD 1 bad length");
	R("$-2\r\n", "| BAD 5 bad length");
	R("!-1\r\n", "| BAD 5 bad length");
	R("%-1\r\n", "| BAD 5 bad length");
	R("*-2\r\n", "| BAD 5 bad length");
	R("$?\r\n;3\r\nabc\r\n;0\r\n", "| BAD 1 bad length");
	R("*?\r\n", "| BAD 1 bad length");
	R("$3\r\nfooX\r\n", "| BAD 7 bulk not followed by CRLF");
	R("$3\r\nfoo\rX", "| BAD 8 bulk not followed by CRLF");
	R("$3\r\r", "| BAD 3 line not ended by CRLF");
	R("+OK\rX\r\n", "| BAD 4 line not ended by CRLF");
	R("+O\nK\r\n", "| BAD 2 line not ended by CRLF");
	R(":12a\r\n", "| BAD 3 bad number");
	R(":\r\n", "| BAD 1 bad number");
	R(":-\r\n", "| BAD 2 bad number");
	R("(12-\r\n", "| BAD 3 bad number");
	R(",1.5x\r\n", "| BAD 4 bad number");
	R(",\r\n", "| BAD 1 bad number");
	R("#x\r\n", "| BAD 1 bad boolean");
	R("#tt\r\n", "| BAD 2 bad boolean");
	R("#\r\n", "| BAD 1 bad boolean");
	R("_x\r\n", "| BAD 1 bad null");
	R("\0", "| BAD 0 unknown type byte");
}

static void
requests(void)
{
	size_t n;

	Q("*1\r\n$4\r\nPING\r\n", "*1/14 'PING' | idle");
	Q("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
	    "*3/27 'SET' 'k' 'v' | idle");
	Q("*0\r\n*-1\r\n*-5\r\n", "*0/4 | *-1/5 | *-5/5 | idle");
	Q("*2\r\n$0\r\n\r\n$1\r\n\0\r\n", "*2/17 '' '\\x00' | idle");
	Q("PING\r\n", "i0/6 'PING' | idle");
	Q("PING\n", "i0/5 'PING' | idle");
	Q("set  a\tb\r\n", "i0/10 'set' 'a' 'b' | idle");
	Q("a b c d e f\n", "i0/12 'a' 'b' 'c' 'd' | idle");
	Q("\r\n\n   \r\n", "i0/2 | i0/1 | i0/5 | idle");
	Q("$3\r\n", "i0/4 '$3' | idle");
	Q("GET k\rx\r\n", "i0/9 'GET' 'k' 'x' | idle");
	Q("PING\r\n*1\r\n$4\r\nPING\r\n\nPI", "i0/6 'PING' | *1/14 'PING' |"
	    " i0/1 | more");
	/* Redis skips the byte after a header's CR and after a payload. */
	Q("*1\r\n$4\r\nPINGxx", "*1/14 'PING' | idle");
	Q("*1\rx$4\rxPING\r\n", "*1/14 'PING' | idle");
	/* Violations. */
	Q("*1\r\n+PING\r\n", "| BAD 4 bulk expected");
	Q("*1\r\n$-1\r\n", "| BAD 9 bad length");
	Q("*01\r\n", "| BAD 2 bad length");
	Q("*\r\n", "| BAD 1 bad length");
	Q("*1\r\n$536870913\r\n", "| BAD 16 bulk too large");
	Q("*1\r\n$536870912\r\n", "| more");
	Q("*1073741825\r\n", "| BAD 13 aggregate too large");
	Q("GE\0T\r\n", "| BAD 2 NUL in inline command");
	n = rep("a", RESP_MAX_INLINE, "\r\n");
	t(RESP_REQUESTS, big, n - 2, "| more");
	t(RESP_REQUESTS, big, n - 1, "| BAD 65536 inline command too long");
	big[n - 1] = '\0';	/* the first fault wins, whatever the split */
	t(RESP_REQUESTS, big, n, "| BAD 65536 inline command too long");
	big[n - 2] = '\0';
	t(RESP_REQUESTS, big, n, "| BAD 65536 NUL in inline command");
	n = rep("a", RESP_MAX_INLINE, "\n");
	t(RESP_REQUESTS, big, n, "i0/65537 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'+65536 | idle");
}

/* A reply line of RESP_MAX_LINE bytes passes; one more does not. */
static void
long_line(void)
{
	struct resp_scan *s;
	long long left;
	size_t used, n;
	int rc = RESP_MORE;

	if ((s = resp_scan_new(RESP_REPLIES)) == NULL)
		abort();
	memset(big, 'x', sizeof(big));
	big[0] = '+';
	for (left = RESP_MAX_LINE + 1; left > 0 && rc == RESP_MORE;
	    left -= (long long)n) {
		n = left < (long long)sizeof(big) ? (size_t)left : sizeof(big);
		rc = resp_scan(s, big, n, &used);
	}
	CHECK(rc == RESP_MORE);
	rc = resp_scan(s, "\r\n", 2, &used);
	CHECK(rc == RESP_FRAME && resp_scan_frame(s)->size ==
	    (uint64_t)RESP_MAX_LINE + 3);
	CHECK(resp_scan_frame(s)->arg[0].len == (size_t)RESP_MAX_LINE);
	for (left = RESP_MAX_LINE + 2; left > 0 && rc != RESP_BAD;
	    left -= (long long)n) {
		n = left < (long long)sizeof(big) ? (size_t)left : sizeof(big);
		rc = resp_scan(s, big, n, &used);
	}
	CHECK(rc == RESP_BAD && used == n - 1 &&
	    strcmp(resp_scan_error(s), "line too long") == 0);
	resp_scan_free(s);
}

static void
arg_is(void)
{
	struct resp_scan *s;
	const struct resp_frame *f;
	const char *in = "*4\r\n$3\r\ngEt\r\n*0\r\n$65\r\n"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\r\n+OK\r\n";
	size_t used;

	if ((s = resp_scan_new(RESP_REPLIES)) == NULL)
		abort();
	CHECK(resp_scan(s, in, strlen(in), &used) == RESP_FRAME);
	f = resp_scan_frame(s);
	CHECK(f->nargs == 4);
	CHECK(resp_arg_is(&f->arg[0], "GET"));
	CHECK(resp_arg_is(&f->arg[0], "get"));
	CHECK(!resp_arg_is(&f->arg[0], "ge"));
	CHECK(!resp_arg_is(&f->arg[0], "gets"));
	CHECK(!resp_arg_is(&f->arg[1], ""));
	CHECK(!resp_arg_is(&f->arg[2], "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	CHECK(resp_arg_is(&f->arg[3], "ok"));
	CHECK(!resp_arg_is(&f->arg[3], "o\x0b"));
	resp_scan_free(s);
}

int
main(void)
{

	replies();
	requests();
	long_line();
	arg_is();
	printf("%d cases, %d failures\n", cases, failures);
	return (failures ? 1 : 0);
}
