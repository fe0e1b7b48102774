/*
 * Cluster replies rewritten toward the local listeners (see
 * cluster_rewrite.h): MOVED/ASK redirects, CLUSTER SLOTS and CLUSTER
 * SHARDS here; NODES and REPLICAS lines in cluster_nodes.c.  A node is
 * looked up under each name it is announced by; when found, all of them
 * become the local host and its port the local port.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_map.h"
#include "cluster_rw.h"

/* ---- MOVED / ASK ---------------------------------------------------- */

/* Digits only, 1..5 of them, at most ${max}: the value, else -1. */
static long
small_number(const char *p, size_t n, long max)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return (-1);
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return (-1);
		v = v * 10 + (p[i] - '0');
	}
	return (v > max ? -1 : v);
}

int
crw_redirect(const char *frame, size_t len, const struct cmap *m,
    char **out, size_t *outlen, struct crw_miss *miss)
{
	const char *t, *sp1, *sp2, *colon, *host;
	size_t tn, i, hostn, kindn;
	long slot, port;
	unsigned int lport;
	char text[400], *o;
	int k, h;

	/* Every error reply comes here: decide on the first bytes. */
	if (len < 8 || (frame[0] != '-' && frame[0] != '!'))
		return (CRW_SAME);
	if (frame[0] == '-') {
		t = frame + 1;
		tn = len - 3;
	} else {
		/* "!N\r\n...\r\n": a redirect is far shorter than 6 digits. */
		for (i = 1; i < 7 && frame[i] >= '0' && frame[i] <= '9'; i++)
			;
		if (i == 1 || len < i + 4 || frame[i] != '\r' ||
		    frame[i + 1] != '\n')
			return (CRW_SAME);
		t = frame + i + 2;
		tn = len - (i + 4);
		if ((long)tn != small_number(frame + 1, i - 1, 99999))
			return (CRW_SAME);
	}
	if (tn >= 6 && memcmp(t, "MOVED ", 6) == 0)
		kindn = 5;
	else if (tn >= 4 && memcmp(t, "ASK ", 4) == 0)
		kindn = 3;
	else
		return (CRW_SAME);
	if (frame[len - 2] != '\r' || frame[len - 1] != '\n' ||
	    memchr(t, '\r', tn) != NULL || memchr(t, '\n', tn) != NULL)
		return (CRW_SAME);

	/* "KIND SLOT HOST:PORT": the host is what precedes the last ':'
	 * (IPv6 addresses are not bracketed). */
	sp1 = t + kindn;
	if ((sp2 = memchr(sp1 + 1, ' ', tn - kindn - 1)) == NULL ||
	    memchr(sp2 + 1, ' ', (size_t)(t + tn - sp2 - 1)) != NULL)
		return (CRW_SAME);
	slot = small_number(sp1 + 1, (size_t)(sp2 - sp1 - 1), 16383);
	host = sp2 + 1;
	for (colon = t + tn - 1; colon > host && *colon != ':'; colon--)
		;
	if (slot < 0 || *colon != ':')
		return (CRW_SAME);
	hostn = (size_t)(colon - host);
	port = small_number(colon + 1, (size_t)(t + tn - colon - 1), 65535);
	if (port < 0)
		return (CRW_SAME);
	if ((lport = cmap_lookup(m, host, hostn, (unsigned int)port)) == 0) {
		crw_set_miss(miss, host, hostn, (unsigned int)port);
		return (CRW_UNKNOWN);
	}
	/* An unknown endpoint ("?") stays unknown: the client keeps the
	 * host it used, which is the local listeners' host. */
	k = snprintf(text, sizeof(text), "%.*s %ld %s:%u", (int)kindn, t,
	    slot, hostn == 1 && host[0] == '?' ? "?" : cmap_local_host(m),
	    lport);
	if (k < 0 || (size_t)k >= sizeof(text))
		return (CRW_SAME);
	if ((o = malloc((size_t)k + 16)) == NULL)
		return (CRW_BAD);
	if (frame[0] == '-')
		h = snprintf(o, (size_t)k + 16, "-%s\r\n", text);
	else
		h = snprintf(o, (size_t)k + 16, "!%d\r\n%s\r\n", k, text);
	*out = o;
	*outlen = (size_t)h;
	return (CRW_DONE);
}

/* ---- CLUSTER SLOTS -------------------------------------------------- */

#define META_IP		1
#define META_HOSTNAME	2

/* The element after ${prev} in the frame. */
static int
next(struct crw *c, size_t off, struct cresp *v)
{
	const char *why;

	if (cresp_read(c->f, c->len, off, v, &why) != 0)
		return (crw_bad(c, why));
	return (0);
}

/*
 * Walk the map ${mp}: each key/value pair whose key is "ip" or "hostname"
 * goes to ${names} (first one of each) when ${put} is 0, or is replaced
 * by the local host when ${put} is 1.
 */
static int
slot_meta(struct crw *c, const struct cresp *mp, struct crw_name *names,
    int put)
{
	struct cresp k, v;
	size_t off = mp->body;
	long long i;
	int which;

	for (i = 0; i < mp->n; i += 2) {
		if (next(c, off, &k) != 0 || next(c, k.end, &v) != 0)
			return (-1);
		off = v.end;
		which = cresp_eq(c->f, &k, "ip") ? META_IP :
		    cresp_eq(c->f, &k, "hostname") ? META_HOSTNAME : 0;
		if (which == 0)
			continue;
		if (!cresp_isstr(&v) && !cresp_isnull(&v))
			return (crw_bad(c, "node metadata is not a string"));
		if (put && crw_put_local(c, &v) != 0)
			return (-1);
		if (!put && names[which].n == 0 && cresp_isstr(&v))
			(void)cresp_text(c->f, &v, &names[which].p,
			    &names[which].n);
	}
	return (0);
}

/* One node of a slot range: [endpoint, port, id, metadata, ...]. */
static int
slot_node(struct crw *c, const struct cresp *nd)
{
	struct crw_name names[3] = { { NULL, 0 }, { NULL, 0 }, { NULL, 0 } };
	struct cresp ep, port, id, meta;
	unsigned int lport, p;
	int hasmeta = 0;

	if (!cresp_isarray(nd) || nd->n < 2)
		return (crw_bad(c, "slot node is not an array of 2 or more"));
	if (next(c, nd->body, &ep) != 0 || next(c, ep.end, &port) != 0)
		return (-1);
	if (!cresp_isstr(&ep) && !cresp_isnull(&ep))
		return (crw_bad(c, "slot node endpoint is not a string"));
	if (cresp_port(&port) < 0)
		return (crw_bad(c, "slot node port is not a port"));
	p = (unsigned int)cresp_port(&port);
	if (nd->n >= 4) {
		if (next(c, port.end, &id) != 0 || next(c, id.end, &meta) != 0)
			return (-1);
		if (!cresp_ismap(&meta))
			return (crw_bad(c, "slot node metadata is not a map"));
		hasmeta = 1;
		if (slot_meta(c, &meta, names, 0) != 0)
			return (-1);
	}
	if (cresp_isstr(&ep))
		(void)cresp_text(c->f, &ep, &names[0].p, &names[0].n);
	if ((lport = crw_find(c, names, 3, &p, 1)) == 0)
		return (crw_unknown(c, names, 3, p));
	if (crw_put_local(c, &ep) != 0 || crw_put_port(c, &port, lport) != 0)
		return (-1);
	if (hasmeta && slot_meta(c, &meta, names, 1) != 0)
		return (-1);
	return (0);
}

/* CLUSTER SLOTS: [[start, end, primary, replica...]...]. */
static int
slots(struct crw *c, const struct cresp *top)
{
	struct cresp r, a, b, nd;
	long long i, j;
	size_t off;

	if (!cresp_isarray(top))
		return (crw_bad(c, "CLUSTER SLOTS reply is not an array"));
	for (i = 0, off = top->body; i < top->n; i++, off = r.end) {
		if (next(c, off, &r) != 0)
			return (-1);
		if (!cresp_isarray(&r) || r.n < 3)
			return (crw_bad(c, "slot range is not an array of 3 "
			    "or more"));
		if (next(c, r.body, &a) != 0 || next(c, a.end, &b) != 0)
			return (-1);
		if (a.type != ':' || b.type != ':')
			return (crw_bad(c, "slot range bounds are not "
			    "integers"));
		for (j = 2, nd.end = b.end; j < r.n; j++)
			if (next(c, nd.end, &nd) != 0 || slot_node(c, &nd) != 0)
				return (-1);
	}
	return (0);
}

/* ---- CLUSTER SHARDS ------------------------------------------------- */

enum { F_OTHER, F_ENDPOINT, F_IP, F_HOSTNAME, F_PORT, F_TLSPORT };

static int
field(const struct crw *c, const struct cresp *k)
{

	return (cresp_eq(c->f, k, "endpoint") ? F_ENDPOINT :
	    cresp_eq(c->f, k, "ip") ? F_IP :
	    cresp_eq(c->f, k, "hostname") ? F_HOSTNAME :
	    cresp_eq(c->f, k, "port") ? F_PORT :
	    cresp_eq(c->f, k, "tls-port") ? F_TLSPORT : F_OTHER);
}

/*
 * One node of a shard: a map with endpoint, ip, hostname, port and
 * tls-port among its fields.  Looked up with tls-port first (this tunnel
 * reaches the nodes over TLS: MOVED and SLOTS name their TLS ports),
 * then port.  "port" becomes the local port and "tls-port" 0; a node of
 * a TLS-only cluster has no "port" (Redis omits a port 0), so its
 * "tls-port" is renamed "port": the client reaches the local listeners
 * in plaintext, and the reply keeps its size and order.
 */
static int
shard_node(struct crw *c, const struct cresp *nd)
{
	struct crw_name names[3] = { { NULL, 0 }, { NULL, 0 }, { NULL, 0 } };
	unsigned int ports[2] = { 0, 0 }, lport = 0;
	struct cresp k, v;
	long long i;
	size_t off;
	int pass, f, hasport = 0;

	if (!cresp_ismap(nd))
		return (crw_bad(c, "shard node is not a map"));
	for (pass = 0; pass < 2; pass++) {
		for (i = 0, off = nd->body; i < nd->n; i += 2, off = v.end) {
			if (next(c, off, &k) != 0 || next(c, k.end, &v) != 0)
				return (-1);
			if ((f = field(c, &k)) == F_OTHER)
				continue;
			if (f == F_PORT || f == F_TLSPORT) {
				if (cresp_port(&v) < 0)
					return (crw_bad(c, "shard node port "
					    "is not a port"));
				if (pass == 0) {
					ports[f == F_PORT] =
					    (unsigned int)cresp_port(&v);
					hasport |= f == F_PORT;
					continue;
				}
				/* TLS only: "tls-port" becomes "port". */
				if (f == F_TLSPORT && !hasport) {
					hasport = 1;
					if (crw_put_text(c, &k, "port", 4) != 0)
						return (-1);
					f = F_PORT;
				}
				if (crw_put_port(c, &v,
				    f == F_PORT ? lport : 0) != 0)
					return (-1);
				continue;
			}
			if (!cresp_isstr(&v) && !cresp_isnull(&v))
				return (crw_bad(c, "shard node address is not "
				    "a string"));
			if (pass == 1 && crw_put_local(c, &v) != 0)
				return (-1);
			if (pass == 0 && cresp_isstr(&v) &&
			    names[f - F_ENDPOINT].n == 0)
				(void)cresp_text(c->f, &v,
				    &names[f - F_ENDPOINT].p,
				    &names[f - F_ENDPOINT].n);
		}
		if (pass == 1)
			break;
		if (ports[0] == 0 && ports[1] == 0)
			return (crw_bad(c, "shard node without a port"));
		if ((lport = crw_find(c, names, 3, ports, 2)) == 0)
			return (crw_unknown(c, names, 3,
			    ports[0] ? ports[0] : ports[1]));
	}
	return (0);
}

/* CLUSTER SHARDS: [{slots: [...], nodes: [{...}...]}...]. */
static int
shards(struct crw *c, const struct cresp *top)
{
	struct cresp s, k, v, nd;
	long long i, j, e;
	size_t off, o;

	if (!cresp_isarray(top))
		return (crw_bad(c, "CLUSTER SHARDS reply is not an array"));
	for (i = 0, off = top->body; i < top->n; i++, off = s.end) {
		if (next(c, off, &s) != 0)
			return (-1);
		if (!cresp_ismap(&s))
			return (crw_bad(c, "shard is not a map"));
		for (e = 0, o = s.body; e < s.n; e += 2, o = v.end) {
			if (next(c, o, &k) != 0 || next(c, k.end, &v) != 0)
				return (-1);
			if (!cresp_eq(c->f, &k, "nodes"))
				continue;
			if (!cresp_isarray(&v))
				return (crw_bad(c, "shard nodes are not an "
				    "array"));
			for (j = 0, nd.end = v.body; j < v.n; j++)
				if (next(c, nd.end, &nd) != 0 ||
				    shard_node(c, &nd) != 0)
					return (-1);
		}
	}
	return (0);
}

/* ---- the entry point ------------------------------------------------ */

int
crw_topology(int kind, const char *frame, size_t len,
    const struct cmap *m, char **out, size_t *outlen, struct crw_miss *miss,
    char *why, size_t whylen)
{
	struct crw c;
	struct cresp top;
	const char *w;
	int rc;

	memset(&c, 0, sizeof(c));
	c.f = frame;
	c.len = len;
	c.m = m;
	c.rc = CRW_DONE;
	c.miss = miss;
	c.why = why;
	c.whylen = whylen;
	if (whylen > 0)
		why[0] = '\0';
	*out = NULL;
	*outlen = 0;
	if (m == NULL)
		return (crw_bad(&c, "no node map"), CRW_BAD);
	c.lh = cmap_local_host(m);
	c.lhlen = strlen(c.lh);
	if (cresp_check(frame, len, &w) != 0 ||
	    cresp_read(frame, len, 0, &top, &w) != 0)
		return (crw_bad(&c, w), CRW_BAD);
	if (top.type == '-' || top.type == '!' || cresp_isnull(&top))
		return (CRW_SAME);
	switch (kind) {
	case CRW_SLOTS:
		(void)slots(&c, &top);
		break;
	case CRW_SHARDS:
		(void)shards(&c, &top);
		break;
	case CRW_NODES:
		(void)crw_nodes(&c, &top);
		break;
	case CRW_REPLICAS:
		(void)crw_replicas(&c, &top);
		break;
	default:
		(void)crw_bad(&c, "unknown topology command");
		break;
	}
	if (c.rc == CRW_DONE && c.changed)
		(void)crw_upto(&c, len);
	if (c.rc != CRW_DONE || !c.changed) {
		rc = c.rc == CRW_DONE ? CRW_SAME : c.rc;
		free(c.b);
		return (rc);
	}
	*out = c.b;
	*outlen = c.blen;
	return (CRW_DONE);
}
