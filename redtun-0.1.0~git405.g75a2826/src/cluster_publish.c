/*
 * Cluster changes taking effect: the commit on the main loop (node tables
 * swapped in, what changed logged), the publish once every worker listens
 * on the new ports, and the data path's side: the map in force and
 * requests for a refresh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cluster.h"
#include "cluster_map.h"
#include "cluster_priv.h"
#include "log.h"
#include "service.h"

struct cluster_pub *
clusters_commit(struct clusters *cs, struct cluster_prep *p)
{
	struct cluster_pub *pub;
	size_t i, j, nodes, prim, ports;

	if ((pub = calloc(1, sizeof(*pub))) == NULL ||
	    (pub->cl = calloc(p->n ? p->n : 1, sizeof(*pub->cl))) == NULL ||
	    (pub->map = calloc(p->n ? p->n : 1, sizeof(*pub->map))) == NULL) {
		/* Keep going without publishing: the old maps stay. */
		log_msg(LOG_LVL_ERR, NULL, "cluster: out of memory publishing "
		    "the node maps");
		if (pub != NULL)
			free(pub->cl);
		free(pub);
		pub = NULL;
	}
	if (pub != NULL) {
		pub->cs = cs;
		pub->gen = __atomic_add_fetch(&cs->next_gen, 1,
		    __ATOMIC_ACQ_REL);
	}
	cs->period = 0;
	for (i = 0; i < p->n; i++)
		if (cs->period == 0 || p->v[i].refresh < cs->period)
			cs->period = p->v[i].refresh;
	for (i = 0; i < p->n; i++) {
		struct prep_one *po = &p->v[i];
		struct cluster *cl = po->cl;

		if (po->map == NULL)
			continue;	/* its refresh failed */
		nodes = prim = ports = 0;
		for (j = 0; j < po->t.n; j++) {
			const struct slot *s = &po->t.v[j];

			if (s->gone_at == 0) {
				nodes++;
				prim += s->primary != 0;
			}
			ports += s->svc != NULL;
		}
		if (po->changed || cl->t.n == 0)
			log_msg(LOG_LVL_NOTICE, cl->name, "cluster: %zu nodes "
			    "(%zu primaries), %zu node listeners on %s:%u-%u;"
			    "%s", nodes, prim, ports, po->t.host, po->t.lo,
			    po->t.hi, po->note[0] ? po->note : " no change");
		for (j = 0; j < po->t.n; j++) {
			const struct slot *s = &po->t.v[j];

			if (!po->changed)
				continue;
			if (s->gone_at == 0 && s->lport == 0)
				log_msg(LOG_LVL_ERR, cl->name, "cluster: "
				    "clusterPorts %s:%u-%u is full: node %s "
				    "has no local port, and redirects to it "
				    "cannot be followed", po->t.host,
				    po->t.lo, po->t.hi, s->key);
			else if (s->svc != NULL)
				log_msg(LOG_LVL_INFO, cl->name, "cluster: node "
				    "%s (%s%s) on %s:%u", s->key,
				    s->gone_at ? "leaving" : s->primary ?
				    "primary" : "replica", "", po->t.host,
				    s->lport);
		}
		table_free(&cl->t);
		cl->t = po->t;
		memset(&po->t, 0, sizeof(po->t));
		if (pub != NULL) {
			pub->cl[pub->n] = cl;
			pub->map[pub->n++] = po->map;
		} else
			cmap_free(po->map);
		po->map = NULL;
	}
	/* Services no longer cluster ones: their nodes' generations go. */
	for (i = 0; i < cs->n; i++) {
		for (j = 0; j < p->n && p->v[j].cl != cs->v[i]; j++)
			;
		if (j == p->n)
			table_free(&cs->v[i]->t);
	}
	clusters_discard(p);
	return (pub);
}

void
clusters_published(struct cluster_pub *pub)
{
	struct clusters *cs;
	struct retired *nr;
	struct cmap *old;
	uint64_t committed;
	size_t i, k;

	if (pub == NULL)
		return;
	cs = pub->cs;
	uv_mutex_lock(&cs->lock);
	for (i = k = 0; i < cs->nretired; i++) {
		if (cs->retired[i].until < pub->gen)
			cmap_free(cs->retired[i].map);
		else
			cs->retired[k++] = cs->retired[i];
	}
	cs->nretired = k;
	/* Commits made so far may still be queued for some worker. */
	committed = __atomic_load_n(&cs->next_gen, __ATOMIC_ACQUIRE);
	if (pub->gen > cs->published_gen) {
		cs->published_gen = pub->gen;
		for (i = 0; i < pub->n; i++) {
			if (cs->nretired == cs->cretired) {
				k = cs->cretired ? cs->cretired * 2 : 8;
				if ((nr = realloc(cs->retired, k *
				    sizeof(*nr))) == NULL)
					break;	/* keep the old map in force */
				cs->retired = nr;
				cs->cretired = k;
			}
			old = __atomic_exchange_n(&pub->cl[i]->map,
			    pub->map[i], __ATOMIC_ACQ_REL);
			pub->map[i] = NULL;
			if (old != NULL) {
				cs->retired[cs->nretired].map = old;
				cs->retired[cs->nretired++].until = committed;
			}
		}
	}
	uv_mutex_unlock(&cs->lock);
	for (i = 0; i < pub->n; i++)
		cmap_free(pub->map[i]);
	free(pub->cl);
	free(pub->map);
	free(pub);
}

unsigned int
clusters_refresh_period(const struct clusters *cs)
{

	return (cs == NULL ? 0 : cs->period);
}

void
clusters_free(struct clusters *cs)
{
	size_t i;

	if (cs == NULL)
		return;
	for (i = 0; i < cs->n; i++) {
		table_free(&cs->v[i]->t);
		cmap_free(cs->v[i]->map);
		free(cs->v[i]->name);
		free(cs->v[i]);
	}
	for (i = 0; i < cs->nretired; i++)
		cmap_free(cs->retired[i].map);
	free(cs->retired);
	free(cs->v);
	uv_mutex_destroy(&cs->lock);
	free(cs);
}

const struct cmap *
cluster_map(const struct cluster *cl)
{

	return (cl == NULL ? NULL : __atomic_load_n(&cl->map,
	    __ATOMIC_ACQUIRE));
}

void
cluster_request_refresh(struct cluster *cl, const char *host,
    unsigned int port)
{
	char esc[300];

	if (cl == NULL || __atomic_exchange_n(&cl->asked, 1, __ATOMIC_ACQ_REL))
		return;
	log_msg(LOG_LVL_INFO, cl->name, "cluster: a reply names %s:%u, "
	    "which has no local port yet; refreshing the topology",
	    log_escape(esc, sizeof(esc), host, strlen(host)), port);
	cl->cs->want_refresh(cl->cs->arg);
}
