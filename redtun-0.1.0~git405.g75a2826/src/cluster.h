#ifndef REDTUN_CLUSTER_H
#define REDTUN_CLUSTER_H

/*
 * Redis Cluster services: the nodes behind each one, the local port each
 * node gets (stable for the life of the process), and the node map the
 * data path rewrites replies with.  The runtime runs it in its
 * commit-or-rollback steps: clusters_prepare() discovers and builds node
 * generations off the loops (nothing changes), clusters_commit() takes
 * them on the main loop, and the map is published once every worker has
 * opened the new listeners (clusters_published()), so a client never
 * gets sent to a port that is not listening yet.
 */

#include <stddef.h>

struct cmap;
struct svc;

struct clusters;		/* every cluster service of the process */
struct cluster;			/* one, by service name */
struct cluster_prep;		/* a prepared change, not yet committed */

/**
 * clusters_new(want_refresh, arg, cancel):
 * An empty registry; ${want_refresh}(${arg}) is called from any thread
 * when a worker asks for a refresh (cluster_request_refresh); discoveries
 * give up once *${cancel} (atomic, outlives the registry) is set.  NULL
 * if out of memory.
 */
struct clusters *clusters_new(void (*want_refresh)(void *), void *arg,
    const int *cancel);

/**
 * clusters_prepare(cs, svcs, n, fresh, all, nall, prep, why, whylen):
 * For the configured services ${svcs} (${fresh}: new generations, at
 * start or on a reload, so every node gets a new generation too; else
 * the generations in force, for a refresh), discover every cluster
 * service's nodes and build their generations.  *all gets ${svcs}
 * followed by the node generations (one reference each, caller frees the
 * array), *prep what clusters_commit needs.  Blocks (discovery): call it
 * off the loops.  With ${fresh}, a failed discovery fails it (-1, the
 * reason in ${why}); on a refresh, the failed cluster keeps what it has.
 */
int clusters_prepare(struct clusters *cs, struct svc **svcs, size_t n,
    int fresh, struct svc ***all, size_t *nall, struct cluster_prep **prep,
    char *why, size_t whylen);

/* clusters_discard(prep): free a prepared change never committed. */
void clusters_discard(struct cluster_prep *prep);

/**
 * clusters_commit(cs, prep):
 * On the main loop, with the plans that open the listeners posted: take
 * the prepared node tables and log what changed.  Returns the maps to
 * publish (ownership passes to clusters_published, which must follow
 * exactly once, from any thread, when every worker has applied its plan).
 */
struct cluster_pub *clusters_commit(struct clusters *cs,
    struct cluster_prep *prep);

/* clusters_published(pub): publish the maps of one commit. */
struct cluster_pub;
void clusters_published(struct cluster_pub *pub);

/* clusters_refresh_period(cs): the shortest clusterRefresh, s; 0: none. */
unsigned int clusters_refresh_period(const struct clusters *cs);

/* clusters_free(cs): at exit, every loop done; NULL-safe. */
void clusters_free(struct clusters *cs);

/**
 * cluster_map(cl):
 * The node map in force for ${cl} (NULL-safe; NULL before the first
 * publish).  Any thread, no lock; valid until the caller returns to its
 * loop (a replaced map is freed one publish later).
 */
const struct cmap *cluster_map(const struct cluster *cl);

/**
 * cluster_request_refresh(cl, host, port):
 * A reply named ${host}:${port}, which the map lacks: ask for a refresh
 * now (coalesced; at most one a second).  Any thread.
 */
void cluster_request_refresh(struct cluster *cl, const char *host,
    unsigned int port);

#endif
