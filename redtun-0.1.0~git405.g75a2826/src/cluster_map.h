#ifndef REDTUN_CLUSTER_MAP_H
#define REDTUN_CLUSTER_MAP_H

/*
 * A snapshot of one cluster service's node map: which local listener
 * stands for each node of the Redis Cluster.  Built by the main thread
 * (cluster.c) from a discovery, then published and never changed: workers
 * look it up on the data path without locks.  A node is entered under
 * every name it is announced by (endpoint, IP, host name, each with its
 * port) so that MOVED, CLUSTER SLOTS, SHARDS and NODES all find it.
 */

#include <stddef.h>

struct cmap;

/* Most (name, port) entries a map holds. */
#define CMAP_MAX	65536

/**
 * cmap_new(local_host):
 * An empty map whose listeners are on ${local_host} (the text written
 * into rewritten replies, e.g. "127.0.0.1"; copied).  NULL on allocation
 * failure.
 */
struct cmap *cmap_new(const char *local_host);

/**
 * cmap_add(m, name, namelen, port, lport):
 * Enter the node announced as ${name}:${port} (a host name, an IP address
 * or an endpoint; compared case-insensitively) as listening locally on
 * ${lport}.  A name already entered with the same port is replaced.
 * Returns 0, or -1 on allocation failure or when ${m} already holds
 * CMAP_MAX entries.
 */
int cmap_add(struct cmap *m, const char *name, size_t namelen,
    unsigned int port, unsigned int lport);

/**
 * cmap_lookup(m, name, namelen, port):
 * The local port of the node announced as ${name}:${port}, or 0 if it is
 * not mapped.  ${m} may be NULL (0).  Safe from any thread.
 */
unsigned int cmap_lookup(const struct cmap *m, const char *name,
    size_t namelen, unsigned int port);

/* cmap_local_host(m): the local listeners' host, as given to cmap_new. */
const char *cmap_local_host(const struct cmap *m);

/* cmap_count(m): how many (name, port) entries ${m} has. */
size_t cmap_count(const struct cmap *m);

/* cmap_free(m): free ${m}; NULL-safe. */
void cmap_free(struct cmap *m);

#endif
