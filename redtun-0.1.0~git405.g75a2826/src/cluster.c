/*
 * Redis Cluster services: node discovery, stable local ports, node
 * generations and the published node map.  A change is prepared off the
 * loops into new tables (nothing shared is touched), committed on the main
 * loop, and its map published when every worker listens on its ports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "addr.h"
#include "cluster.h"
#include "cluster_priv.h"
#include "cluster_discover.h"
#include "cluster_map.h"
#include "cluster_rewrite.h"
#include "conf.h"
#include "log.h"
#include "net.h"
#include "service.h"

/* gone_at while a discovery runs: present before it, not seen yet. */
#define PRESENT_MARK	((uint64_t)-1)

static uint64_t
now_ms(void)
{

	return (uv_hrtime() / 1000000);
}

static void
slot_clear(struct slot *s)
{

	free(s->key);
	free(s->endpoint);
	free(s->ip);
	free(s->hostname);
	svc_unref(s->svc);
	memset(s, 0, sizeof(*s));
}

void
table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		slot_clear(&t->v[i]);
	free(t->v);
	free(t->host);
	memset(t, 0, sizeof(*t));
}

struct clusters *
clusters_new(void (*want_refresh)(void *), void *arg, const int *cancel)
{
	struct clusters *cs;

	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return (NULL);
	if (uv_mutex_init(&cs->lock) != 0) {
		free(cs);
		return (NULL);
	}
	cs->want_refresh = want_refresh;
	cs->arg = arg;
	cs->cancel = cancel;
	return (cs);
}

/* The cluster object of service ${name}, made on first use. */
static struct cluster *
get_cluster(struct clusters *cs, const char *name)
{
	struct cluster *cl = NULL, **nv;
	size_t i;

	uv_mutex_lock(&cs->lock);
	for (i = 0; i < cs->n; i++)
		if (strcmp(cs->v[i]->name, name) == 0) {
			cl = cs->v[i];
			goto out;
		}
	if ((nv = realloc(cs->v, (cs->n + 1) * sizeof(*nv))) == NULL)
		goto out;
	cs->v = nv;
	if ((cl = calloc(1, sizeof(*cl))) == NULL ||
	    (cl->name = strdup(name)) == NULL) {
		free(cl);
		cl = NULL;
		goto out;
	}
	cl->cs = cs;
	cs->v[cs->n++] = cl;
out:
	uv_mutex_unlock(&cs->lock);
	return (cl);
}

static char *
sdup(const char *s, int *fail)
{
	char *d = strdup(s ? s : "");

	if (d == NULL)
		*fail = 1;
	return (d);
}

/* Where clients' connections to the node go, and the name it proves. */
static const char *
node_host(const struct ctopo_node *nd)
{

	if (nd->hostname[0] != '\0')
		return (nd->hostname);
	if (nd->endpoint[0] != '\0' && strcmp(nd->endpoint, "?") != 0)
		return (nd->endpoint);
	return (nd->ip);
}

/* A copy of ${t} for the next state; node generations shared (ref). */
static int
table_copy(struct table *dst, const struct table *t)
{
	size_t i;
	int fail = 0;

	memset(dst, 0, sizeof(*dst));
	if (t->n > 0 && (dst->v = calloc(t->n, sizeof(*dst->v))) == NULL)
		return (-1);
	for (i = 0; i < t->n; i++) {
		const struct slot *s = &t->v[i];
		struct slot *d = &dst->v[i];

		*d = *s;
		d->key = sdup(s->key, &fail);
		d->endpoint = sdup(s->endpoint, &fail);
		d->ip = sdup(s->ip, &fail);
		d->hostname = sdup(s->hostname, &fail);
		if (s->svc != NULL)
			svc_ref(s->svc);
		dst->n++;
	}
	return (fail ? -1 : 0);
}

static int
port_taken(const struct table *t, unsigned int p)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].lport == p)
			return (1);
	return (0);
}

/*
 * Whether ${host}:${p} can be bound now: a port another program holds is
 * skipped rather than failing the whole refresh at bind time.
 */
static int
port_bindable(const char *host, unsigned int p)
{
	struct addrinfo hints, *res = NULL;
	char port[16];
	int fd, ok = 0, one = 1;

	snprintf(port, sizeof(port), "%u", p);
	if (getaddrinfo(host, port, net_hints(&hints, AI_PASSIVE), &res) != 0)
		return (1);	/* the bind will say what is wrong */
	if ((fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
	    res->ai_protocol)) >= 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		ok = bind(fd, res->ai_addr, res->ai_addrlen) == 0;
		close(fd);
	}
	freeaddrinfo(res);
	return (ok);
}

/*
 * A free port of the range: never one a node has had this process's
 * life, unless the range is full; then the one of the node gone longest
 * (past its grace).  0 if none.
 */
static unsigned int
pick_port(struct table *t, uint64_t now, unsigned int grace)
{
	struct slot *old = NULL;
	unsigned int p;
	size_t i;

	for (p = t->lo; p != 0 && p <= t->hi; p++)
		if (!port_taken(t, p) && port_bindable(t->host, p))
			return (p);
	for (i = 0; i < t->n; i++) {
		struct slot *s = &t->v[i];

		if (s->lport != 0 && s->gone_at != 0 && s->svc == NULL &&
		    now - s->gone_at >= (uint64_t)grace * 1000 &&
		    (old == NULL || s->gone_at < old->gone_at))
			old = s;
	}
	if (old == NULL)
		return (0);
	p = old->lport;
	old->lport = 0;
	return (p);
}

/* Add "${a}${b}${c}" to what the commit will log as changed. */
static void
note(struct prep_one *po, const char *a, const char *b, const char *c)
{
	size_t len = strlen(po->note);

	if (len + 80 < sizeof(po->note))
		snprintf(po->note + len, sizeof(po->note) - len, "%s%s%s", a,
		    b, c);
	po->changed = 1;
}

/* Enter discovered node ${nd} into ${t}; -1 only when out of memory. */
static int
take_node(struct prep_one *po, const struct ctopo_node *nd, uint64_t now,
    unsigned int grace)
{
	struct table *t = &po->t;
	struct slot *s = NULL, *nv;
	char key[320];
	size_t i;
	int fail = 0, arriving;

	snprintf(key, sizeof(key), "%s:%u", node_host(nd), nd->port);
	for (i = 0; i < t->n && s == NULL; i++)
		if (strcasecmp(t->v[i].key, key) == 0)
			s = &t->v[i];
	if (s == NULL) {
		if ((nv = realloc(t->v, (t->n + 1) * sizeof(*nv))) == NULL)
			return (-1);
		t->v = nv;
		s = &t->v[t->n++];
		memset(s, 0, sizeof(*s));
		s->key = sdup(key, &fail);
		s->port = nd->port;
		s->gone_at = 1;	/* new: logged as arriving */
	}
	arriving = s->gone_at != PRESENT_MARK;
	if (arriving)
		note(po, " +", key, "");
	s->gone_at = 0;
	s->primary = nd->primary;
	/* Names may change under a stable endpoint (a new IP). */
	free(s->endpoint);
	free(s->ip);
	free(s->hostname);
	s->endpoint = sdup(nd->endpoint, &fail);
	s->ip = sdup(nd->ip, &fail);
	s->hostname = sdup(nd->hostname, &fail);
	if (s->lport == 0) {
		/* Said when it arrives portless, or gets a port later. */
		if ((s->lport = pick_port(t, now, grace)) == 0 && arriving)
			note(po, " (no port)", "", "");
		else if (s->lport != 0 && !arriving)
			note(po, " (port for ", key, ")");
	}
	return (fail ? -1 : 0);
}

/* The names a node is announced by, as map entries. */
static int
map_slot(struct cmap *m, const struct slot *s)
{
	const char *names[3] = { s->endpoint, s->ip, s->hostname };
	size_t i;

	for (i = 0; i < 3; i++)
		if (names[i][0] != '\0' && strcmp(names[i], "?") != 0 &&
		    cmap_add(m, names[i], strlen(names[i]), s->port,
		    s->lport) != 0)
			return (-1);
	return (0);
}

/* Where a slot's listener connects: its name, else endpoint, else IP. */
static const char *
slot_host(const struct slot *s)
{

	if (s->hostname[0] != '\0')
		return (s->hostname);
	if (s->endpoint[0] != '\0' && strcmp(s->endpoint, "?") != 0)
		return (s->endpoint);
	return (s->ip);
}

/* Slots that may go: gone past their grace, and without a port. */
static void
table_trim(struct table *t)
{
	size_t i, k;

	for (i = k = 0; i < t->n; i++) {
		if (t->v[i].gone_at != 0 && t->v[i].svc == NULL &&
		    t->v[i].lport == 0)
			slot_clear(&t->v[i]);
		else
			t->v[k++] = t->v[i];
	}
	t->n = k;
}

/*
 * Give listening slots a generation; build the map: departed nodes (in
 * their grace) first, so that a present node sharing a name (a reused
 * IP) wins.
 */
static int
finish_table(struct prep_one *po, struct svc *parent, int fresh,
    uint64_t now, char *why, size_t whylen)
{
	const struct svc_conf *sc = svc_conf(parent);
	struct table *t = &po->t;
	struct svc_conf *nc;
	const char *host, *check;
	size_t i;
	int pass;

	if ((po->map = cmap_new(t->host)) == NULL)
		goto oom;
	for (i = 0; i < t->n; i++) {
		struct slot *s = &t->v[i];
		int listen = s->lport != 0 && (s->gone_at == 0 ||
		    now - s->gone_at < (uint64_t)sc->cluster_grace * 1000);

		if (!listen) {
			if (s->svc != NULL)
				note(po, " -", s->key,
				    " (closed after clusterGrace)");
			svc_unref(s->svc);
			s->svc = NULL;
			continue;
		}
		if (s->svc != NULL && !fresh)
			continue;
		svc_unref(s->svc);
		s->svc = NULL;
		host = slot_host(s);
		/* A node known only by IP proves checkHost, else its IP. */
		check = s->hostname[0] || !addr_is_ip(host) ? host :
		    sc->check_host;
		if ((nc = svc_conf_node(sc, host, s->port, check, s->lport)) ==
		    NULL)
			goto oom;
		if ((s->svc = svc_new_node(parent, nc, why, whylen)) == NULL)
			return (-1);
	}
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < t->n; i++)
			if (t->v[i].svc != NULL &&
			    (t->v[i].gone_at == 0) == (pass == 1) &&
			    map_slot(po->map, &t->v[i]) != 0)
				goto oom;
	table_trim(t);
	return (0);
oom:
	snprintf(why, whylen, "%s: out of memory", sc->name);
	return (-1);
}

/* One cluster service: the next table, from a discovery. */
static int
prepare_one(struct prep_one *po, struct svc *svc, int fresh, char *why,
    size_t whylen)
{
	const struct svc_conf *sc = svc_conf(svc);
	struct cluster *cl = po->cl;
	struct ctopo_node *nodes = NULL;
	struct addr_spec *known = NULL;
	size_t nn = 0, nk = 0, i;
	uint64_t now = now_ms();
	char r[512];
	int same_range, rc = -1;

	po->refresh = sc->cluster_refresh;
	__atomic_store_n(&cl->asked, 0, __ATOMIC_RELEASE);
	same_range = cl->t.host != NULL && strcmp(cl->t.host,
	    sc->cluster_host) == 0 && cl->t.lo == sc->cluster_port_lo &&
	    cl->t.hi == sc->cluster_port_hi;
	if (same_range) {
		if (table_copy(&po->t, &cl->t) != 0)
			goto oom;
	} else if (cl->t.n > 0) {
		note(po, " (clusterPorts changed: ports assigned anew)", "",
		    "");
	}
	if (po->t.host == NULL && (po->t.host = strdup(sc->cluster_host)) ==
	    NULL)
		goto oom;
	po->t.lo = sc->cluster_port_lo;
	po->t.hi = sc->cluster_port_hi;
	/*
	 * On a refresh the nodes known now are seeds too, for when the
	 * seeds are gone; not at start or reload, where connect may now
	 * name another cluster.
	 */
	if (!fresh && cl->t.n > 0 && (known = calloc(cl->t.n, sizeof(*known))) == NULL)
		goto oom;
	for (i = 0; known != NULL && i < cl->t.n; i++)
		if (cl->t.v[i].gone_at == 0) {
			known[nk].host = (char *)(uintptr_t)slot_host(
			    &cl->t.v[i]);
			known[nk++].port = (int)cl->t.v[i].port;
		}
	if (cluster_discover(svc, known, nk, cl->cs->cancel, &nodes, &nn, r,
	    sizeof(r)) != 0) {
		snprintf(why, whylen, "%s: cluster discovery failed: %s",
		    sc->name, r);
		goto out;
	}
	for (i = 0; i < po->t.n; i++)
		if (po->t.v[i].gone_at == 0)	/* absent unless seen below */
			po->t.v[i].gone_at = PRESENT_MARK;
	for (i = 0; i < nn; i++)
		if (node_host(&nodes[i])[0] != '\0' && nodes[i].port != 0 &&
		    take_node(po, &nodes[i], now, sc->cluster_grace) != 0)
			goto oom;
	for (i = 0; i < po->t.n; i++)
		if (po->t.v[i].gone_at == PRESENT_MARK) {
			po->t.v[i].gone_at = now;
			note(po, " -", po->t.v[i].key,
			    " (listener kept for clusterGrace)");
		}
	rc = finish_table(po, svc, fresh, now, why, whylen);
	goto out;
oom:
	snprintf(why, whylen, "%s: out of memory", sc->name);
out:
	free(known);
	ctopo_free(nodes, nn);
	return (rc);
}

int
clusters_prepare(struct clusters *cs, struct svc **svcs, size_t n, int fresh,
    struct svc ***all, size_t *nall, struct cluster_prep **prep, char *why,
    size_t whylen)
{
	struct cluster_prep *p;
	struct svc **v;
	size_t i, j, k, nv;

	*all = NULL;
	*nall = 0;
	if ((p = *prep = calloc(1, sizeof(*p))) == NULL ||
	    (p->v = calloc(n ? n : 1, sizeof(*p->v))) == NULL)
		goto oom;
	p->cs = cs;
	for (i = 0; i < n; i++) {
		struct prep_one *po = &p->v[p->n];

		if (!svc_conf(svcs[i])->cluster)
			continue;
		if ((po->cl = get_cluster(cs, svc_name(svcs[i]))) == NULL)
			goto oom;
		if (svc_cluster(svcs[i]) != po->cl)
			svc_set_cluster(svcs[i], po->cl);
		p->n++;
		if (prepare_one(po, svcs[i], fresh, why, whylen) == 0)
			continue;
		if (fresh)
			goto err;
		/* A refresh that failed: this cluster stays as it is. */
		log_msg(LOG_LVL_WARNING, svc_name(svcs[i]), "%s; keeping the "
		    "node map in force", why);
		table_free(&po->t);
		cmap_free(po->map);
		po->map = NULL;		/* nothing to commit or publish */
		if (table_copy(&po->t, &po->cl->t) != 0)
			goto oom;
	}
	nv = n;
	for (j = 0; j < p->n; j++)
		nv += p->v[j].t.n;
	if ((v = *all = calloc(nv ? nv : 1, sizeof(*v))) == NULL)
		goto oom;
	for (i = 0; i < n; i++)
		v[(*nall)++] = svc_ref(svcs[i]);
	for (j = 0; j < p->n; j++) {
		const struct table *t = &p->v[j].t;

		for (k = 0; k < t->n; k++)
			if (t->v[k].svc != NULL)
				v[(*nall)++] = svc_ref(t->v[k].svc);
	}
	return (0);
oom:
	snprintf(why, whylen, "out of memory");
err:
	clusters_discard(p);
	*prep = NULL;
	if (*all != NULL) {
		for (i = 0; i < *nall; i++)
			svc_unref((*all)[i]);
		free(*all);
		*all = NULL;
		*nall = 0;
	}
	return (-1);
}

void
clusters_discard(struct cluster_prep *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		table_free(&p->v[i].t);
		cmap_free(p->v[i].map);
	}
	free(p->v);
	free(p);
}
