#ifndef REDTUN_CLUSTER_REWRITE_H
#define REDTUN_CLUSTER_REWRITE_H

/*
 * Redis Cluster replies rewritten for a client behind the tunnel, and the
 * topology read for discovery.  Pure functions over one complete RESP
 * frame (as resp.c delimits it), RESP2 or RESP3: no I/O, no allocation
 * beyond the output.  A reply that does not have the expected shape is
 * never "fixed": CRW_BAD, and the caller passes it on unchanged and logs
 * ${why}.
 */

#include <stddef.h>

struct cmap;

/* Which command a topology reply answers. */
enum crw_kind {
	CRW_SLOTS = 0,		/* CLUSTER SLOTS */
	CRW_SHARDS = 1,		/* CLUSTER SHARDS */
	CRW_NODES = 2,		/* CLUSTER NODES (one bulk/verbatim string) */
	CRW_REPLICAS = 3	/* CLUSTER REPLICAS / SLAVES (array of lines) */
};

/* Outcomes. */
enum crw_result {
	CRW_SAME = 0,		/* nothing to rewrite: pass the frame on */
	CRW_DONE = 1,		/* *out holds the rewritten frame */
	CRW_UNKNOWN = 2,	/* names a node not in the map: see *miss */
	CRW_BAD = 3		/* not the expected shape: ${why} */
};

/* The first node a reply names that the map does not have. */
struct crw_miss {
	char host[256];		/* NUL-terminated, as announced */
	unsigned int port;
};

/* Largest rewritten frame (a bigger reply is passed on unchanged, BAD). */
#define CRW_OUT_MAX	(1024 * 1024)

/**
 * crw_redirect(frame, len, m, out, outlen, miss):
 * ${frame} is one complete error reply ("-MOVED 3999 host:6379\r\n",
 * "-ASK ...", or a RESP3 blob error "!N\r\nMOVED ...\r\n").  If it is a
 * MOVED or ASK whose node ${m} maps, *out gets a malloc'd frame of the
 * same type pointing at the local listener (caller frees) and CRW_DONE;
 * CRW_UNKNOWN with ${miss} filled if the node is not mapped; CRW_SAME for
 * any other error.  CRW_BAD only on allocation failure.
 */
int crw_redirect(const char *frame, size_t len, const struct cmap *m,
    char **out, size_t *outlen, struct crw_miss *miss);

/**
 * crw_topology(kind, frame, len, m, out, outlen, miss, why, whylen):
 * ${frame} is a complete reply to the command ${kind}.  On CRW_DONE *out
 * gets the same reply (same RESP types, same order) with every node's
 * endpoint, IP and host name replaced by cmap_local_host(m) and its port
 * by its local port; "tls-port" fields are set to 0 (in SHARDS, a node
 * with a "tls-port" and no "port" gets its "tls-port" renamed "port",
 * set to the local port).  CRW_UNKNOWN (with
 * ${miss}) if a node is not mapped; CRW_SAME for an error reply or a null,
 * or a reply that names no node (e.g. no slots yet); CRW_BAD (${why}) when
 * the shape is not what the command returns or the output would exceed
 * CRW_OUT_MAX.  An unknown endpoint ("?", "", null) stays as it is.  A
 * node is looked up under its endpoint, IP and host name in turn (NODES
 * lines: IP, host name), with its port (SHARDS: tls-port first, then
 * port).  NODES lines of nodes flagged noaddr, or failed / in handshake
 * and not mapped, are kept as they are.
 */
int crw_topology(int kind, const char *frame, size_t len,
    const struct cmap *m, char **out, size_t *outlen, struct crw_miss *miss,
    char *why, size_t whylen);

/* A node read from a topology reply, for discovery. */
struct ctopo_node {
	char *id;		/* node id; "" when the reply has none */
	char *endpoint;		/* preferred endpoint: what MOVED names
				 * ("?": no host name; "": unknown) */
	char *ip;		/* "" when not announced */
	char *hostname;		/* "" when not announced */
	unsigned int port;	/* client port as seen on this connection
				 * (SHARDS: tls-port, else port); > 0 */
	int primary;		/* 1 primary, 0 replica */
	int failed;		/* SHARDS health "fail"/NODES flag "fail" */
};

/**
 * ctopo_parse(kind, frame, len, nodes, n, why, whylen):
 * Read the nodes out of a reply to CLUSTER SHARDS or CLUSTER SLOTS
 * (${kind} CRW_SHARDS or CRW_SLOTS), each node once (by id, else by
 * endpoint and port).  Returns 0 with a malloc'd array in *nodes (free
 * with ctopo_free), or -1 with the reason in ${why} (an error reply's
 * text, or what is wrong with the shape).
 */
int ctopo_parse(int kind, const char *frame, size_t len,
    struct ctopo_node **nodes, size_t *n, char *why, size_t whylen);

/* ctopo_free(nodes, n): free what ctopo_parse returned; NULL-safe. */
void ctopo_free(struct ctopo_node *nodes, size_t n);

#endif
