/*
 * The cluster rewriters' shared parts (see cluster_rw.h): the output
 * buffer, replacing a value, and looking a node up by its names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_map.h"
#include "cluster_rw.h"

int
crw_bad(struct crw *c, const char *why)
{

	if (c->rc == CRW_DONE) {
		c->rc = CRW_BAD;
		snprintf(c->why, c->whylen, "%s", why);
	}
	return (-1);
}

int
crw_emit(struct crw *c, const void *p, size_t n)
{
	size_t ncap;
	char *nb;

	if (n > CRW_OUT_MAX - c->blen)
		return (crw_bad(c, "rewritten reply too large"));
	if (c->counting || n == 0) {
		c->blen += n;
		return (0);
	}
	if (n > c->bcap - c->blen) {
		ncap = c->bcap ? c->bcap : 256;
		while (ncap - c->blen < n)
			ncap *= 2;
		if (ncap > CRW_OUT_MAX)
			ncap = CRW_OUT_MAX;
		if ((nb = realloc(c->b, ncap)) == NULL)
			return (crw_bad(c, "out of memory"));
		c->b = nb;
		c->bcap = ncap;
	}
	memcpy(c->b + c->blen, p, n);
	c->blen += n;
	return (0);
}

int
crw_upto(struct crw *c, size_t off)
{

	if (off < c->copied || off > c->len)
		return (crw_bad(c, "values out of order"));
	if (crw_emit(c, c->f + c->copied, off - c->copied) != 0)
		return (-1);
	c->copied = off;
	return (0);
}

int
crw_put_text(struct crw *c, const struct cresp *v, const char *t, size_t n)
{
	char h[32];
	int k;

	if (crw_upto(c, v->start) != 0)
		return (-1);
	switch (v->type) {
	case '$':
		k = snprintf(h, sizeof(h), "$%zu\r\n", n);
		break;
	case '=':
		/* "txt:" follows as bytes: not trusted to be text. */
		k = snprintf(h, sizeof(h), "=%zu\r\n", n + 4);
		break;
	case '+':
		if (memchr(t, '\r', n) != NULL || memchr(t, '\n', n) != NULL)
			return (crw_bad(c, "line break in a simple string"));
		k = snprintf(h, sizeof(h), "+");
		break;
	default:
		return (crw_bad(c, "not a string"));
	}
	if (crw_emit(c, h, (size_t)k) != 0 || (v->type == '=' &&
	    crw_emit(c, c->f + v->body, 4) != 0) || crw_emit(c, t, n) != 0 ||
	    crw_emit(c, "\r\n", 2) != 0)
		return (-1);
	c->copied = v->end;
	c->changed = 1;
	return (0);
}

int
crw_put_local(struct crw *c, const struct cresp *v)
{
	const char *p;
	size_t n;

	if (cresp_text(c->f, v, &p, &n) != 0 || n == 0 ||
	    (n == 1 && p[0] == '?'))
		return (0);
	return (crw_put_text(c, v, c->lh, c->lhlen));
}

int
crw_put_port(struct crw *c, const struct cresp *v, unsigned int port)
{
	char h[32];
	int k;

	if (v->type != ':')
		return (crw_bad(c, "port is not an integer"));
	if (crw_upto(c, v->start) != 0)
		return (-1);
	k = snprintf(h, sizeof(h), ":%u\r\n", port);
	if (crw_emit(c, h, (size_t)k) != 0)
		return (-1);
	c->copied = v->end;
	c->changed = 1;
	return (0);
}

static int
usable(const struct crw_name *nm)
{

	return (nm->n > 0 && !(nm->n == 1 && nm->p[0] == '?'));
}

unsigned int
crw_find(const struct crw *c, const struct crw_name *names, int nn,
    const unsigned int *ports, int np)
{
	unsigned int lport;
	int i, j;

	for (j = 0; j < np; j++) {
		if (ports[j] == 0)
			continue;
		for (i = 0; i < nn; i++) {
			if (!usable(&names[i]))
				continue;
			lport = cmap_lookup(c->m, names[i].p, names[i].n,
			    ports[j]);
			if (lport != 0)
				return (lport);
		}
	}
	return (0);
}

void
crw_set_miss(struct crw_miss *miss, const char *p, size_t n, unsigned int port)
{

	if (miss == NULL)
		return;
	if (n > sizeof(miss->host) - 1)
		n = sizeof(miss->host) - 1;
	if (n > 0)
		memcpy(miss->host, p, n);
	miss->host[n] = '\0';
	miss->port = port;
}

int
crw_unknown(struct crw *c, const struct crw_name *names, int nn,
    unsigned int port)
{
	int i;

	for (i = 0; i < nn && !usable(&names[i]); i++)
		;
	if (i == nn)
		i = 0;
	if (c->rc == CRW_DONE) {
		c->rc = CRW_UNKNOWN;
		crw_set_miss(c->miss, nn > 0 ? names[i].p : "",
		    nn > 0 ? names[i].n : 0, port);
	}
	return (-1);
}
