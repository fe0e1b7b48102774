/*
 * The RESP scanner's reply side against hiredis (see test/resp_diff.h for
 * the comparison and what is excluded from it, and why).  Inputs: the
 * fuzz_resp corpus and regressions (reply side; their 5-byte header
 * dropped), the fuzz_resp_diff corpus, and 20,000 RESP2 reply streams
 * from a fixed-seed generator, each valid, cut short, with a type byte
 * replaced by a byte that is no type, or with a digit of a length or
 * integer replaced by a letter.  Generated streams stay inside the common
 * part (checked: diff_common must keep all of each).  Skipped (77) when
 * configure found no hiredis.
 */
#include <stdio.h>

#ifndef HAVE_HIREDIS
int
main(void)
{

	printf("no hiredis (libhiredis-dev) at configure time: skipped\n");
	return (77);
}
#else
#include <dirent.h>
#include <stdint.h>
#include <sys/types.h>

#include "resp_diff.h"

#define NGEN	20000

static struct diff_run h, s;
static int failures;
static unsigned long inputs, frames, errors, bytes, cut;

static void
one(const char *name, const unsigned char *p, size_t n, int whole)
{
	char why[160];
	size_t m = diff_common(p, n);

	inputs++;
	cut += n - m;
	if (whole && m != n) {
		fprintf(stderr, "%s: generated, yet only %zu of %zu bytes are "
		    "in the common part\n", name, m, n);
		failures++;
	}
	if (diff_compare(p, m, &h, &s, why, sizeof(why)) != 0) {
		fprintf(stderr, "%s (%zu bytes): %s\n", name, m, why);
		failures++;
		return;
	}
	bytes += m;
	frames += s.n;
	errors += s.bad;
}

/* Every file of ${dir}, after its first ${skip} bytes. */
static void
dir(const char *top, const char *sub, size_t skip)
{
	static unsigned char buf[1 << 20];
	char path[4096];
	struct dirent *de;
	size_t n;
	FILE *f;
	DIR *d;

	snprintf(path, sizeof(path), "%s/test/fuzz/%s", top, sub);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/test/fuzz/%s/%s", top, sub,
		    de->d_name);
		if ((f = fopen(path, "rb")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		/* fuzz_resp's layout: SEED[4] SIDE; side 0 is replies. */
		if (n < skip || (skip > 0 && (buf[4] & 1)))
			continue;
		one(path, buf + skip, n - skip, 0);
	}
	closedir(d);
}

/* ---- the generator ------------------------------------------------------ */

static uint64_t rs = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{

	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (rs);
}

struct gen {
	unsigned char *b;
	size_t len, cap;
	size_t types[4096], ntypes;	/* offsets of type bytes */
	size_t digits[4096], ndigits;	/* of digits in numbers */
};

static void
g_put(struct gen *g, const void *p, size_t n)
{

	if (n > g->cap - g->len) {
		g->cap = 2 * (g->cap + n);
		if ((g->b = realloc(g->b, g->cap)) == NULL)
			abort();
	}
	memcpy(g->b + g->len, p, n);
	g->len += n;
}

/* Type byte ${t}, then the number ${v} and CRLF. */
static void
g_head(struct gen *g, int t, long long v)
{
	char num[32];
	size_t i, k;

	if (g->ntypes < 4096)
		g->types[g->ntypes++] = g->len;
	k = (size_t)snprintf(num, sizeof(num), "%c%lld\r\n", t, v);
	for (i = 1; i + 2 < k; i++)
		if (num[i] >= '0' && num[i] <= '9' && g->ndigits < 4096)
			g->digits[g->ndigits++] = g->len + i;
	g_put(g, num, k);
}

static void
g_value(struct gen *g, int depth)
{
	static const long long ints[] = { 0, 1, -1, 42, -42, 1000000,
	    LLONG_MAX, LLONG_MIN, LLONG_MIN + 1, 2147483648LL };
	unsigned char c;
	long long k, n;
	int r = (int)(rnd() % 100);

	if (r < 22 && depth < 8) {	/* hiredis: 8 nested arrays */
		n = rnd() % 10 == 0 ? -1 : (long long)(rnd() % 5);
		g_head(g, '*', n);
		for (k = 0; k < n; k++)
			g_value(g, depth + 1);
	} else if (r < 40) {	/* status or error: no CR, no LF */
		if (g->ntypes < 4096)
			g->types[g->ntypes++] = g->len;
		g_put(g, r < 32 ? "+" : "-ERR ", r < 32 ? 1 : 5);
		for (n = (long long)(rnd() % 24); n > 0; n--) {
			do
				c = (unsigned char)rnd();
			while (c == '\r' || c == '\n');
			g_put(g, &c, 1);
		}
		g_put(g, "\r\n", 2);
	} else if (r < 60) {
		g_head(g, ':', rnd() % 2 ? ints[rnd() % 10] :
		    (long long)(rnd() >> (rnd() % 64)) * (rnd() % 2 ? 1 : -1));
	} else if (r < 70) {
		g_head(g, '$', -1);
	} else {		/* a bulk, CRLF and type bytes inside */
		n = rnd() % 20 == 0 ? (long long)(rnd() % 3000) :
		    (long long)(rnd() % 24);
		g_head(g, '$', n);
		for (k = 0; k < n; k++) {
			c = rnd() % 3 ? (unsigned char)"\r\n*$+:-x"[rnd() % 8] :
			    (unsigned char)rnd();
			g_put(g, &c, 1);
		}
		g_put(g, "\r\n", 2);
	}
}

static void
generated(void)
{
	static const char types[] = "+-:$*_,#(=!%~>|";
	struct gen g = { 0 };
	char name[64];
	size_t k;
	int i, v;

	for (i = 0; i < NGEN; i++) {
		g.len = g.ntypes = g.ndigits = 0;
		for (v = 1 + (int)(rnd() % 6); v > 0; v--)
			g_value(&g, 0);
		switch (i % 4) {
		case 1:		/* cut short */
			g.len = (size_t)(rnd() % g.len);
			break;
		case 2:		/* a type byte that is no type */
			k = g.types[rnd() % g.ntypes];
			do
				g.b[k] = (unsigned char)rnd();
			while (g.b[k] != 0 && strchr(types, g.b[k]) != NULL);
			break;
		case 3:		/* a letter in a number */
			if (g.ndigits > 0)
				g.b[g.digits[rnd() % g.ndigits]] =
				    (unsigned char)('a' + rnd() % 26);
			break;
		}
		snprintf(name, sizeof(name), "generated #%d", i);
		one(name, g.b, g.len, 1);
	}
	free(g.b);
}

int
main(void)
{
	const char *top = getenv("top_srcdir");
	unsigned long before;

	if (top == NULL)
		top = ".";
	dir(top, "corpus/resp", 5);
	dir(top, "regress/resp", 5);
	dir(top, "corpus/resp_diff", 0);
	dir(top, "regress/resp_diff", 0);
	if (inputs < 10) {
		fprintf(stderr, "only %lu corpus inputs (top_srcdir?)\n",
		    inputs);
		failures++;
	}
	before = inputs;
	generated();
	printf("%lu corpus and %lu generated inputs: %lu bytes, %lu frames "
	    "and %lu errors agreed; %lu bytes outside the common part\n",
	    before, inputs - before, bytes, frames, errors, cut);
	free(h.end);
	free(s.end);
	return (failures ? 1 : 0);
}
#endif
