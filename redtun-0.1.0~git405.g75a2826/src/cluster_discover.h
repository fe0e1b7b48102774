#ifndef REDTUN_CLUSTER_DISCOVER_H
#define REDTUN_CLUSTER_DISCOVER_H

#include <stddef.h>

struct addr_spec;
struct ctopo_node;
struct svc;

/**
 * cluster_discover(svc, known, nknown, cancel, nodes, n, why, whylen):
 * Read the topology of the cluster service ${svc}: a blocking TLS
 * connection with the service's own context and redtun's verification
 * to its connect targets in turn, then to the ${nknown} nodes ${known}
 * (the map in force, for when the seeds are gone); AUTH when the service
 * has a password; CLUSTER SHARDS, or CLUSTER SLOTS on a server older
 * than 7.0.  Returns 0 with the nodes (free with ctopo_free), or -1 with
 * the last reason in ${why} ("HOST:PORT: reason").  Blocks for up to
 * TIMEOUTconnect per address, at most DISCOVER_KNOWN_MAX known nodes:
 * run it off the loops; it gives up between addresses once *${cancel}
 * (atomic) is set.
 */
#define DISCOVER_KNOWN_MAX	3
int cluster_discover(struct svc *svc, const struct addr_spec *known,
    size_t nknown, const int *cancel, struct ctopo_node **nodes, size_t *n, char *why,
    size_t whylen);

#endif
