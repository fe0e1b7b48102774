/*
 * The RESP scanner (src/resp.c, reply side) against hiredis's redisReader
 * (Debian's libhiredis 0.14.1, a test-only oracle): shared by
 * test/resp_diff.c and test/fuzz/fuzz_resp_diff.c.  Header-only.
 *
 * hiredis is fed one byte at a time; after each byte, every reply
 * redisReaderGetReply() yields is a frame end at that offset, and an
 * error ends its run.  The scanner gets the stream whole.  Both must give
 * the same frame ends and the same verdict (error or not); where each
 * notices an error may differ, but not the frames before it.
 *
 * They agree only on part of the protocol; diff_common() cuts each input
 * to the part where they must (an independent reading of the stream, in
 * this file).  Excluded, each because the two rightly differ:
 *   - RESP3 types (_ , # ( = ! % ~ > |): hiredis 0.14 knows RESP2 only;
 *   - a 9th nested array: hiredis stops at depth > 7 (its rstack[9]);
 *     the scanner allows RESP_MAX_DEPTH;
 *   - bulk lengths over RESP_MAX_BULK (hiredis allows up to SIZE_MAX),
 *     and arrays of over DIFF_MAX_ELEMS elements (hiredis allows INT_MAX
 *     but allocates them at the header: a fuzzer's "*188888883" took
 *     1.5 GB);
 *   - a bulk payload not followed by CRLF: hiredis skips 2 bytes unread;
 *   - a lone CR or LF in a status or error line: hiredis reads it as text
 *     (a line ends at its first CRLF), the scanner rejects it;
 *   - a number line that is wrong before its CRLF came: the scanner fails
 *     at once, hiredis waits for the CRLF (the cut keeps what is before).
 * Both reject: a byte that is no type at all, a header or ':' line that is
 * not a number ("0" or -?[1-9][0-9]*, a long long: both use Redis's
 * string2ll rules), a length below -1.
 */
#ifndef REDTUN_RESP_DIFF_H
#define REDTUN_RESP_DIFF_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "resp.h"

/* Where frames ended, and whether (and where) an error stopped the run. */
struct diff_run {
	size_t *end;
	size_t n, cap;
	int bad;
	size_t at;
};

static void
diff_add(struct diff_run *d, size_t off)
{

	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		if ((d->end = realloc(d->end, d->cap * sizeof(*d->end))) ==
		    NULL)
			abort();
	}
	d->end[d->n++] = off;
}

static void
diff_hiredis(const unsigned char *p, size_t n, struct diff_run *d)
{
	redisReader *r;
	void *rep;
	size_t i;

	d->n = 0;
	d->bad = 0;
	if ((r = redisReaderCreate()) == NULL)
		abort();
	for (i = 0; i < n && !d->bad; i++) {
		if (redisReaderFeed(r, (const char *)p + i, 1) != REDIS_OK)
			abort();
		for (;;) {
			if (redisReaderGetReply(r, &rep) != REDIS_OK) {
				d->bad = 1;
				d->at = i;
				break;
			}
			if (rep == NULL)
				break;
			freeReplyObject(rep);
			diff_add(d, i + 1);
		}
	}
	redisReaderFree(r);
}

static void
diff_scanner(const unsigned char *p, size_t n, struct diff_run *d)
{
	struct resp_scan *s;
	size_t off = 0, used;
	int rc = RESP_FRAME;

	d->n = 0;
	d->bad = 0;
	if ((s = resp_scan_new(RESP_REPLIES)) == NULL)
		abort();
	while (off < n && rc == RESP_FRAME) {
		rc = resp_scan(s, (const char *)p + off, n - off, &used);
		off += used;
		if (rc == RESP_FRAME)
			diff_add(d, off);
	}
	if (rc == RESP_BAD) {
		d->bad = 1;
		d->at = off;
	}
	resp_scan_free(s);
}

/* ---- the common part ----------------------------------------------------- */

enum { V_OK, V_MORE, V_BOTH, V_EXCL };

/* hiredis allocates an array's elements at its header: keep it small. */
#define DIFF_MAX_ELEMS	65536

/* p[a, b) by Redis's string2ll: "0" or -?[1-9][0-9]*, in a long long. */
static int
diff_ll(const unsigned char *p, size_t a, size_t b, long long *v)
{
	char buf[24], *end;
	size_t i, k = b - a;

	if (k == 0 || k > 20)
		return (0);
	memcpy(buf, p + a, k);
	buf[k] = '\0';
	i = buf[0] == '-';
	if (buf[i] < '1' || buf[i] > '9')
		return (k == 1 && buf[0] == '0' ? (*v = 0, 1) : 0);
	for (; i < k; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return (0);
	errno = 0;
	*v = strtoll(buf, &end, 10);
	return (errno == 0);
}

/*
 * The value at p[*i] (${depth} arrays around it): V_OK (*i moved past
 * it), V_MORE (the input ends inside it, both wait), V_BOTH (both must
 * fail in it), V_EXCL (outside the common part).
 */
static int
diff_value(const unsigned char *p, size_t n, size_t *i, int depth)
{
	size_t j, cr = 0;
	long long v, k;
	int c, crlf = 0, lone = 0, r;

	if (*i >= n)
		return (V_MORE);
	c = p[*i];
	if (c != 0 && strchr("_,#(=!%~>|", c) != NULL)
		return (V_EXCL);
	if (c == 0 || strchr("+-:$*", c) == NULL)
		return (V_BOTH);
	if (c == '*' && depth == 8)
		return (V_EXCL);
	for (j = *i + 1; j < n && !crlf; j++) {
		if (p[j] == '\r' && j + 1 < n && p[j + 1] == '\n')
			crlf = 1, cr = j;
		else if (p[j] == '\n' || (p[j] == '\r' && j + 1 < n))
			lone = 1;
	}
	if (c == '+' || c == '-') {
		if (lone)
			return (V_EXCL);
		if (!crlf)
			return (V_MORE);
		*i = cr + 2;
		return (V_OK);
	}
	if (!crlf) {
		/*
		 * The scanner fails at once on what cannot become a number
		 * (hiredis waits for the CRLF): "" and "-" still can, but
		 * not with a CR after them.
		 */
		j = n > *i + 1 && p[n - 1] == '\r' ? n - 1 : n;
		if (lone || (!diff_ll(p, *i + 1, j, &v) && (j < n ||
		    !(j == *i + 1 || (j == *i + 2 && p[*i + 1] == '-')))))
			return (V_EXCL);
		return (V_MORE);
	}
	if (!diff_ll(p, *i + 1, cr, &v))
		return (V_BOTH);
	*i = cr + 2;
	if (c == ':' || v == -1)
		return (V_OK);
	if (v < -1)
		return (V_BOTH);
	if (c == '$') {
		if (v > RESP_MAX_BULK)
			return (V_EXCL);
		if ((long long)(n - *i) > v && p[*i + v] != '\r')
			return (V_EXCL);
		if ((long long)(n - *i) > v + 1 && p[*i + v + 1] != '\n')
			return (V_EXCL);
		if ((long long)(n - *i) < v + 2)
			return (V_MORE);
		*i += (size_t)v + 2;
		return (V_OK);
	}
	if (v > DIFF_MAX_ELEMS)
		return (V_EXCL);
	for (k = 0; k < v; k++)
		if ((r = diff_value(p, n, i, depth + 1)) != V_OK)
			return (r);
	return (V_OK);
}

/* How much of p[0, n) is in the common part (whole frames, or all). */
static size_t
diff_common(const unsigned char *p, size_t n)
{
	size_t i = 0, start;
	int r = V_OK;

	while (i < n && r == V_OK) {
		start = i;
		if ((r = diff_value(p, n, &i, 0)) == V_EXCL)
			return (start);
	}
	return (n);	/* all, or up to a fault both find, or the end */
}

/*
 * Compare the two on p[0, n) (already cut to the common part); 0 if they
 * agree, else -1 with the difference in ${why}.
 */
static int
diff_compare(const unsigned char *p, size_t n, struct diff_run *h,
    struct diff_run *s, char *why, size_t whylen)
{
	size_t i;

	diff_hiredis(p, n, h);
	diff_scanner(p, n, s);
	if (h->bad != s->bad) {
		snprintf(why, whylen, "hiredis %s (at %zu), the scanner %s "
		    "(at %zu)", h->bad ? "fails" : "does not fail", h->at,
		    s->bad ? "fails" : "does not fail", s->at);
		return (-1);
	}
	for (i = 0; i < h->n && i < s->n; i++)
		if (h->end[i] != s->end[i])
			break;
	if (i < h->n || i < s->n) {
		snprintf(why, whylen, "frame %zu ends at %zd (hiredis), "
		    "%zd (the scanner); %zu and %zu frames", i,
		    i < h->n ? (ssize_t)h->end[i] : -1,
		    i < s->n ? (ssize_t)s->end[i] : -1, h->n, s->n);
		return (-1);
	}
	return (0);
}

#endif
