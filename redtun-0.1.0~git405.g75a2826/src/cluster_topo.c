/*
 * The nodes of a CLUSTER SHARDS or CLUSTER SLOTS reply, for discovery
 * (see cluster_rewrite.h).  Each node once: by id, or by endpoint and
 * port when the reply has no ids (Redis before 7 sends [ip, port] in
 * SLOTS).  In SLOTS the preferred endpoint is one of the node's names and
 * the metadata map holds the others: with no "ip" in it the endpoint is
 * the IP; with an "ip" but no "hostname" a known endpoint is the host name.
 * An unknown endpoint is "?" (preferred type hostname, none announced) or
 * "" (type unknown-endpoint: null in SLOTS, "" in SHARDS and MOVED).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_resp.h"
#include "cluster_rewrite.h"

/* Most nodes in a reply (Redis Cluster's recommended maximum is 1000). */
#define CTOPO_MAX	16384
/* Longest name or id kept. */
#define CTOPO_NAME	255

struct tp {
	const char *f;
	size_t len;
	struct ctopo_node *v;
	size_t n, cap;
	char *why;
	size_t whylen;
};

/* A node as read, pointing into the frame. */
struct tn {
	const char *s[4];	/* id, endpoint, ip, hostname */
	size_t l[4];
	unsigned int port;
	int primary, failed;
};

static int
fail(struct tp *t, const char *why)
{

	snprintf(t->why, t->whylen, "%s", why);
	return (-1);
}

static int
rd(struct tp *t, size_t off, struct cresp *v)
{
	const char *why;

	if (cresp_read(t->f, t->len, off, v, &why) != 0)
		return (fail(t, why));
	return (0);
}

static char *
dup(const char *p, size_t n)
{
	char *s;

	if ((s = malloc(n + 1)) == NULL)
		return (NULL);
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return (s);
}

static int
same(const char *s, const char *p, size_t n)
{

	return (strlen(s) == n && (n == 0 || memcmp(s, p, n) == 0));
}

/* Enter ${x} unless it is there already (then merge its role). */
static int
add(struct tp *t, const struct tn *x)
{
	struct ctopo_node *e, *nv;
	size_t i;
	int j;

	for (j = 0; j < 4; j++)
		if (x->l[j] > CTOPO_NAME || (x->s[j] != NULL &&
		    memchr(x->s[j], '\0', x->l[j]) != NULL))
			return (fail(t, "node name too long or with a NUL"));
	for (i = 0; i < t->n; i++) {
		e = &t->v[i];
		if (x->l[0] > 0 ? same(e->id, x->s[0], x->l[0]) :
		    (e->id[0] == '\0' && e->port == x->port &&
		    same(e->endpoint, x->s[1], x->l[1]))) {
			e->primary |= x->primary;
			e->failed |= x->failed;
			return (0);
		}
	}
	if (t->n == CTOPO_MAX)
		return (fail(t, "too many nodes"));
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		if ((nv = realloc(t->v, t->cap * sizeof(*nv))) == NULL)
			return (fail(t, "out of memory"));
		t->v = nv;
	}
	e = &t->v[t->n];
	memset(e, 0, sizeof(*e));
	e->port = x->port;
	e->primary = x->primary;
	e->failed = x->failed;
	t->n++;
	if ((e->id = dup(x->s[0], x->l[0])) == NULL ||
	    (e->endpoint = dup(x->s[1], x->l[1])) == NULL ||
	    (e->ip = dup(x->s[2], x->l[2])) == NULL ||
	    (e->hostname = dup(x->s[3], x->l[3])) == NULL)
		return (fail(t, "out of memory"));
	return (0);
}

/* ${v}'s text in x->s[j] if it is a string ("" if null), else -1. */
static int
take(struct tp *t, const struct cresp *v, struct tn *x, int j)
{

	if (cresp_isnull(v)) {
		x->s[j] = NULL;
		x->l[j] = 0;
		return (0);
	}
	if (cresp_text(t->f, v, &x->s[j], &x->l[j]) != 0)
		return (fail(t, "node name is not a string"));
	return (0);
}

/* A SLOTS node: [endpoint, port, id, {ip, hostname}]. */
static int
slot_node(struct tp *t, const struct cresp *nd, int primary)
{
	struct cresp ep, port, id, meta, k, v;
	struct tn x;
	int hasip = 0, hashost = 0;
	long long i;
	size_t off;

	memset(&x, 0, sizeof(x));
	memset(&id, 0, sizeof(id));
	x.primary = primary;
	if (!cresp_isarray(nd) || nd->n < 2)
		return (fail(t, "slot node is not an array of 2 or more"));
	if (rd(t, nd->body, &ep) != 0 || rd(t, ep.end, &port) != 0)
		return (-1);
	/* A null endpoint (unknown-endpoint) is "", as MOVED names it. */
	if (take(t, &ep, &x, 1) != 0)
		return (-1);
	if (cresp_port(&port) < 0)
		return (fail(t, "slot node port is not a port"));
	if ((x.port = (unsigned int)cresp_port(&port)) == 0)
		return (fail(t, "slot node without a port"));
	if (nd->n >= 3) {
		if (rd(t, port.end, &id) != 0 || take(t, &id, &x, 0) != 0)
			return (-1);
	}
	if (nd->n >= 4) {
		if (rd(t, id.end, &meta) != 0)
			return (-1);
		if (!cresp_ismap(&meta))
			return (fail(t, "slot node metadata is not a map"));
		for (i = 0, off = meta.body; i < meta.n; i += 2, off = v.end) {
			if (rd(t, off, &k) != 0 || rd(t, k.end, &v) != 0)
				return (-1);
			if (cresp_eq(t->f, &k, "ip")) {
				hasip = 1;
				if (take(t, &v, &x, 2) != 0)
					return (-1);
			} else if (cresp_eq(t->f, &k, "hostname")) {
				hashost = 1;
				if (take(t, &v, &x, 3) != 0)
					return (-1);
			}
		}
	}
	/* The endpoint is also the IP or the host name unless unknown. */
	if (x.l[1] > 0 && !(x.l[1] == 1 && x.s[1][0] == '?')) {
		if (!hasip) {
			x.s[2] = x.s[1];
			x.l[2] = x.l[1];
		} else if (!hashost) {
			x.s[3] = x.s[1];
			x.l[3] = x.l[1];
		}
	}
	return (add(t, &x));
}

static int
slots(struct tp *t, const struct cresp *top)
{
	struct cresp r, a, b, nd;
	long long i, j;
	size_t off;

	if (!cresp_isarray(top))
		return (fail(t, "CLUSTER SLOTS reply is not an array"));
	for (i = 0, off = top->body; i < top->n; i++, off = r.end) {
		if (rd(t, off, &r) != 0)
			return (-1);
		if (!cresp_isarray(&r) || r.n < 3)
			return (fail(t, "slot range is not an array of 3 or "
			    "more"));
		if (rd(t, r.body, &a) != 0 || rd(t, a.end, &b) != 0)
			return (-1);
		if (a.type != ':' || b.type != ':')
			return (fail(t, "slot range bounds are not integers"));
		for (j = 2, nd.end = b.end; j < r.n; j++)
			if (rd(t, nd.end, &nd) != 0 ||
			    slot_node(t, &nd, j == 2) != 0)
				return (-1);
	}
	return (0);
}

/* A SHARDS node: a map of id, port, tls-port, ip, endpoint, hostname,
 * role, health and more.  Its port: tls-port when it has one (the tunnel
 * reaches the nodes over TLS), else port. */
static int
shard_node(struct tp *t, const struct cresp *nd)
{
	static const char *const keys[4] = { "id", "endpoint", "ip",
	    "hostname" };
	unsigned int port = 0, tport = 0;
	struct cresp k, v;
	struct tn x;
	long long i;
	size_t off;
	int j;

	memset(&x, 0, sizeof(x));
	if (!cresp_ismap(nd))
		return (fail(t, "shard node is not a map"));
	for (i = 0, off = nd->body; i < nd->n; i += 2, off = v.end) {
		if (rd(t, off, &k) != 0 || rd(t, k.end, &v) != 0)
			return (-1);
		for (j = 0; j < 4; j++)
			if (cresp_eq(t->f, &k, keys[j]))
				break;
		if (j < 4) {
			if (take(t, &v, &x, j) != 0)
				return (-1);
		} else if (cresp_eq(t->f, &k, "port") ||
		    cresp_eq(t->f, &k, "tls-port")) {
			if (cresp_port(&v) < 0)
				return (fail(t, "shard node port is not a "
				    "port"));
			if (cresp_eq(t->f, &k, "port"))
				port = (unsigned int)cresp_port(&v);
			else
				tport = (unsigned int)cresp_port(&v);
		} else if (cresp_eq(t->f, &k, "role")) {
			x.primary = cresp_eq(t->f, &v, "master") ||
			    cresp_eq(t->f, &v, "primary");
		} else if (cresp_eq(t->f, &k, "health")) {
			x.failed = cresp_eq(t->f, &v, "fail");
		}
	}
	if ((x.port = tport ? tport : port) == 0)
		return (fail(t, "shard node without a port"));
	return (add(t, &x));
}

static int
shards(struct tp *t, const struct cresp *top)
{
	struct cresp s, k, v, nd;
	long long i, j, e;
	size_t off, o;

	if (!cresp_isarray(top))
		return (fail(t, "CLUSTER SHARDS reply is not an array"));
	for (i = 0, off = top->body; i < top->n; i++, off = s.end) {
		if (rd(t, off, &s) != 0)
			return (-1);
		if (!cresp_ismap(&s))
			return (fail(t, "shard is not a map"));
		for (e = 0, o = s.body; e < s.n; e += 2, o = v.end) {
			if (rd(t, o, &k) != 0 || rd(t, k.end, &v) != 0)
				return (-1);
			if (!cresp_eq(t->f, &k, "nodes"))
				continue;
			if (!cresp_isarray(&v))
				return (fail(t, "shard nodes are not an "
				    "array"));
			for (j = 0, nd.end = v.body; j < v.n; j++)
				if (rd(t, nd.end, &nd) != 0 ||
				    shard_node(t, &nd) != 0)
					return (-1);
		}
	}
	return (0);
}

/* An error reply's text as the reason, printable ASCII only. */
static void
error_text(struct tp *t, const struct cresp *v)
{
	size_t i, j = 0;
	int ch;

	for (i = 0; i < (size_t)v->n && j + 1 < t->whylen; i++) {
		ch = (unsigned char)t->f[v->body + i];
		t->why[j++] = (char)(ch >= 0x20 && ch < 0x7f ? ch : '?');
	}
	if (t->whylen > 0)
		t->why[j] = '\0';
}

int
ctopo_parse(int kind, const char *frame, size_t len,
    struct ctopo_node **nodes, size_t *n, char *why, size_t whylen)
{
	struct tp t;
	struct cresp top;
	const char *w;
	int rc;

	memset(&t, 0, sizeof(t));
	t.f = frame;
	t.len = len;
	t.why = why;
	t.whylen = whylen;
	if (whylen > 0)
		why[0] = '\0';
	*nodes = NULL;
	*n = 0;
	if (cresp_check(frame, len, &w) != 0 ||
	    cresp_read(frame, len, 0, &top, &w) != 0)
		return (fail(&t, w));
	if (top.type == '-' || top.type == '!') {
		error_text(&t, &top);
		return (-1);
	}
	if (cresp_isnull(&top))
		return (fail(&t, "null reply"));
	if (kind == CRW_SLOTS)
		rc = slots(&t, &top);
	else if (kind == CRW_SHARDS)
		rc = shards(&t, &top);
	else
		rc = fail(&t, "discovery reads CLUSTER SHARDS or SLOTS only");
	if (rc != 0) {
		ctopo_free(t.v, t.n);
		return (-1);
	}
	*nodes = t.v;
	*n = t.n;
	return (0);
}

void
ctopo_free(struct ctopo_node *nodes, size_t n)
{
	size_t i;

	if (nodes == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(nodes[i].id);
		free(nodes[i].endpoint);
		free(nodes[i].ip);
		free(nodes[i].hostname);
	}
	free(nodes);
}
