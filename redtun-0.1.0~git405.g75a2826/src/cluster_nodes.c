/*
 * CLUSTER NODES and CLUSTER REPLICAS replies rewritten toward the local
 * listeners (see cluster_rewrite.h).  Each node line is
 *
 *   ID IP:PORT@CPORT[,HOSTNAME[,...]] FLAGS PRIMARY PING PONG EPOCH LINK ...
 *
 * and becomes ID LOCAL:LPORT@CPORT[,LOCAL[,...]] FLAGS ...: the bus port
 * and everything after the address are kept.  A node without an address
 * (flag noaddr, or an empty IP) is kept as it is, and so is a node that
 * is not mapped when it is failed or still in handshake: clients do not
 * use those.  The string holding the lines is re-encoded in its own type
 * with its new length, found by a counting pass first.
 */
#include <stdio.h>
#include <string.h>

#include "cluster_rw.h"

/* Whether the comma-separated ${flags} hold ${word}. */
static int
has_flag(const char *flags, size_t n, const char *word)
{
	size_t wl = strlen(word), i = 0, j;

	while (i < n) {
		for (j = i; j < n && flags[j] != ','; j++)
			;
		if (j - i == wl && memcmp(flags + i, word, wl) == 0)
			return (1);
		i = j + 1;
	}
	return (0);
}

/* The first ${c} in [p, end), else end. */
static const char *
find(const char *p, const char *end, char c)
{
	const char *q = memchr(p, c, (size_t)(end - p));

	return (q != NULL ? q : end);
}

/* One node line ${p} of ${n} bytes (no '\n'). */
static int
line(struct crw *c, const char *p, size_t n)
{
	const char *end = p + n, *addr, *aend, *hp, *colon, *flags, *fend;
	const char *h = NULL, *hend = NULL;
	struct crw_name names[2];
	unsigned int port = 0, lport;
	char num[16];
	size_t i;
	int k;

	if (n == 0)
		return (0);
	addr = find(p, end, ' ');
	if (addr == end)
		return (crw_bad(c, "node line without an address"));
	addr++;
	aend = find(addr, end, ' ');
	if (aend == end)
		return (crw_bad(c, "node line without flags"));
	flags = aend + 1;
	fend = find(flags, end, ' ');

	/* IP:PORT ends at '@' (the bus port) or ',' (no bus port). */
	hp = find(addr, aend, '@');
	if (find(addr, hp, ',') < hp)
		hp = find(addr, hp, ',');
	for (colon = hp; colon > addr && colon[-1] != ':'; colon--)
		;
	if (colon == addr || hp - colon < 1 || hp - colon > 5)
		return (crw_bad(c, "node address without a port"));
	for (i = 0; colon + i < hp; i++) {
		if (colon[i] < '0' || colon[i] > '9')
			return (crw_bad(c, "node address without a port"));
		port = port * 10 + (unsigned int)(colon[i] - '0');
	}
	if (port > 65535)
		return (crw_bad(c, "node address without a port"));
	colon--;
	/* ",HOSTNAME" after the bus port, up to the next ',' if any. */
	if ((h = find(hp, aend, ',')) < aend) {
		h++;
		hend = find(h, aend, ',');
	} else {
		h = NULL;
	}
	names[0].p = addr;
	names[0].n = (size_t)(colon - addr);
	names[1].p = h;
	names[1].n = h != NULL ? (size_t)(hend - h) : 0;

	if (names[0].n == 0 || has_flag(flags, (size_t)(fend - flags),
	    "noaddr"))
		return (crw_emit(c, p, n));
	if ((lport = crw_find(c, names, 2, &port, 1)) == 0) {
		if (has_flag(flags, (size_t)(fend - flags), "fail") ||
		    has_flag(flags, (size_t)(fend - flags), "handshake"))
			return (crw_emit(c, p, n));
		return (crw_unknown(c, names, 2, port));
	}
	k = snprintf(num, sizeof(num), ":%u", lport);
	c->changed = 1;
	if (crw_emit(c, p, (size_t)(addr - p)) != 0 ||
	    crw_emit(c, c->lh, c->lhlen) != 0 ||
	    crw_emit(c, num, (size_t)k) != 0)
		return (-1);
	if (h == NULL || h == hend)
		return (crw_emit(c, hp, (size_t)(end - hp)));
	if (crw_emit(c, hp, (size_t)(h - hp)) != 0 ||
	    crw_emit(c, c->lh, c->lhlen) != 0)
		return (-1);
	return (crw_emit(c, hend, (size_t)(end - hend)));
}

/* The lines of ${p} (${n} bytes), each ended by '\n' but maybe the last. */
static int
lines(struct crw *c, const char *p, size_t n)
{
	const char *nl;
	size_t k;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) : n;
		if (line(c, p, k) != 0)
			return (-1);
		if (nl != NULL) {
			if (crw_emit(c, "\n", 1) != 0)
				return (-1);
			k++;
		}
		p += k;
		n -= k;
	}
	return (0);
}

/* The string ${v} of node lines, rewritten and re-encoded. */
static int
text(struct crw *c, const struct cresp *v)
{
	const char *p;
	size_t n, before, newlen;
	char h[32];
	int k;

	if (cresp_text(c->f, v, &p, &n) != 0 || v->type == '+')
		return (crw_bad(c, "node lines are not a bulk or verbatim "
		    "string"));
	if (crw_upto(c, v->start) != 0)
		return (-1);
	before = c->blen;
	c->counting = 1;
	if (lines(c, p, n) != 0)
		return (-1);
	c->counting = 0;
	newlen = c->blen - before;
	c->blen = before;
	/* A verbatim string's "txt:" is copied as bytes: not trusted to be
	 * text. */
	if (v->type == '=')
		k = snprintf(h, sizeof(h), "=%zu\r\n", newlen + 4);
	else
		k = snprintf(h, sizeof(h), "$%zu\r\n", newlen);
	if (crw_emit(c, h, (size_t)k) != 0 || (v->type == '=' &&
	    crw_emit(c, c->f + v->body, 4) != 0) || lines(c, p, n) != 0 ||
	    crw_emit(c, "\r\n", 2) != 0)
		return (-1);
	c->copied = v->end;
	return (0);
}

int
crw_nodes(struct crw *c, const struct cresp *v)
{

	return (text(c, v));
}

int
crw_replicas(struct crw *c, const struct cresp *top)
{
	struct cresp v;
	const char *why;
	long long i;
	size_t off;

	if (!cresp_isarray(top))
		return (crw_bad(c, "CLUSTER REPLICAS reply is not an array"));
	for (i = 0, off = top->body; i < top->n; i++, off = v.end) {
		if (cresp_read(c->f, c->len, off, &v, &why) != 0)
			return (crw_bad(c, why));
		if (text(c, &v) != 0)
			return (-1);
	}
	return (0);
}
