#ifndef REDTUN_CLUSTER_RW_H
#define REDTUN_CLUSTER_RW_H

/*
 * Shared by the cluster rewriters (cluster_rewrite.c: redirects, SLOTS,
 * SHARDS; cluster_nodes.c: NODES and REPLICAS lines).  Private.
 *
 * A rewrite copies the frame to a new buffer, replacing values in the
 * order they come: crw_upto() copies the bytes up to a value, crw_put_*()
 * write its replacement and skip the original.  A "counting" pass only
 * adds up lengths (a string's length is written before its text).
 */

#include <stddef.h>

#include "cluster_resp.h"
#include "cluster_rewrite.h"

struct crw {
	const char *f;		/* the frame */
	size_t len;
	const struct cmap *m;
	const char *lh;		/* cmap_local_host(m) */
	size_t lhlen;
	char *b;		/* the output (malloc'd) */
	size_t blen, bcap;
	size_t copied;		/* bytes of f copied or replaced so far */
	int counting;		/* add to blen, write nothing */
	int changed;		/* a value was replaced */
	int rc;			/* CRW_DONE while fine, else the outcome */
	struct crw_miss *miss;
	char *why;
	size_t whylen;
};

/* A name a node is announced by: ${p}, ${n} bytes (n 0: none). */
struct crw_name {
	const char *p;
	size_t n;
};

/* crw_bad(c, why): the shape is wrong (CRW_BAD, ${why}); returns -1. */
int crw_bad(struct crw *c, const char *why);

/* crw_emit(c, p, n): append ${n} bytes; -1 (CRW_BAD) past CRW_OUT_MAX or
 * out of memory. */
int crw_emit(struct crw *c, const void *p, size_t n);

/* crw_upto(c, off): copy the frame's bytes up to ${off}. */
int crw_upto(struct crw *c, size_t off);

/* crw_put_text(c, v, t, n): replace the string ${v} by ${t} (${n}
 * bytes), same type ('=' keeps its "txt:" prefix). */
int crw_put_text(struct crw *c, const struct cresp *v, const char *t,
    size_t n);

/* crw_put_local(c, v): replace the string ${v} by the local host, unless
 * it is empty or "?" (unknown stays unknown). */
int crw_put_local(struct crw *c, const struct cresp *v);

/* crw_put_port(c, v, port): replace the integer ${v} by ${port}. */
int crw_put_port(struct crw *c, const struct cresp *v, unsigned int port);

/**
 * crw_find(c, names, nn, ports, np):
 * The local port of the first of ${names} (empty ones and "?" skipped)
 * mapped with one of ${ports} (0s skipped; ports outer), or 0.
 */
unsigned int crw_find(const struct crw *c, const struct crw_name *names,
    int nn, const unsigned int *ports, int np);

/* crw_unknown(c, names, nn, port): no mapping: CRW_UNKNOWN with the first
 * usable of ${names} (else the first) and ${port}; returns -1. */
int crw_unknown(struct crw *c, const struct crw_name *names, int nn,
    unsigned int port);

/* crw_set_miss(miss, p, n, port): ${miss} (NULL-safe) names ${p}:${port},
 * cut to fit. */
void crw_set_miss(struct crw_miss *miss, const char *p, size_t n,
    unsigned int port);

/* crw_nodes(c, v) and crw_replicas(c, v): the CLUSTER NODES reply ${v}
 * (one string), the REPLICAS reply (an array of strings).  0 or -1. */
int crw_nodes(struct crw *c, const struct cresp *v);
int crw_replicas(struct crw *c, const struct cresp *v);

#endif
