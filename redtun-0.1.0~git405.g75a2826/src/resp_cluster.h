#ifndef REDTUN_RESP_CLUSTER_H
#define REDTUN_RESP_CLUSTER_H

/*
 * The RESP filter's cluster part (resp_cluster.c), for a service whose
 * Redis Cluster nodes each have a local listener: replies that name nodes
 * are rewritten to those listeners with the rewriters of
 * cluster_rewrite.c.  resp_filter.c scans and matches; at the start of a
 * reply frame it asks rcl_start whether the frame is one to hold (a
 * MOVED/ASK error, a reply to CLUSTER SLOTS/SHARDS/NODES/REPLICAS, an
 * EXEC reply holding such replies), feeds the held frame's bytes to
 * rcl_feed, and once it is complete calls rcl_done, which sends it on,
 * rewritten or not, or starts waiting for a node map that has the node.
 * While waiting, every later server byte is kept (rcl_wait_add), in order,
 * until rcl_retry sends the frame and feeds them through the filter again.
 * Every other reply passes by the filter untouched.
 */

#include <stddef.h>

struct cmap;
struct relay;
struct resp_frame;
struct resp_match;

/* The cluster state of one connection. */
struct rcl;

/* Largest error reply held as a possible MOVED/ASK; longer ones pass. */
#define RCL_REDIRECT_MAX	1024

/* CLUSTER commands inside one MULTI whose replies in EXEC's array are
 * rewritten; later ones pass unchanged. */
#define RCL_PLAN_MAX		16

/*
 * Server bytes kept while waiting; past this the wait is given up (every
 * node not mapped yet is answered TRYAGAIN).  The relay pauses the server
 * at RELAY_HIGH, so only a last read goes beyond that.
 */
#define RCL_WAIT_MAX		(256 * 1024)

/**
 * rcl_new(name, r, map, miss, arg, feed, fst):
 * Cluster state for a connection of the service ${name} (kept, for log
 * lines) whose relay is ${r}: frames are sent on its RELAY_DOWN, failures
 * end it.  ${map}(${arg}) returns the node map in force (NULL before the
 * first discovery: then every node is unknown); ${miss}(${arg}, host,
 * port) is called when a reply names a node the map does not have, as the
 * wait for it starts (NULL: nobody is told).  ${feed}(${fst}, p, n) takes
 * server bytes kept while waiting back through the filter, in order (0,
 * or -1 if the tunnel is closing).  NULL on allocation failure.
 */
struct rcl *rcl_new(const char *name, struct relay *r,
    const struct cmap *(*map)(void *),
    void (*miss)(void *, const char *, unsigned int), void *arg,
    int (*feed)(void *, const char *, size_t), void *fst);

/**
 * rcl_start(c, p, n, m):
 * A reply frame starts at ${p}, of which ${n} >= 1 bytes are at hand; ${m}
 * is the matching (which command it answers).  Returns 1 if the frame is
 * to be held (its bytes go to rcl_feed from ${p} on, then rcl_done), 0 if
 * it passes.  Decides on the first bytes: an error that is not MOVED/ASK
 * is never held.
 */
int rcl_start(struct rcl *c, const char *p, size_t n,
    const struct resp_match *m);

/**
 * rcl_feed(c, p, n):
 * ${n} more bytes of the held frame.  Returns 0 (kept), 1: not kept, the
 * frame is not to be rewritten after all (a longer error than MOVED/ASK,
 * a reply over CRW_OUT_MAX): the caller sends what rcl_release sends, then
 * passes these ${n} bytes and the rest of the frame on; -1: out of memory
 * (the tunnel is failed).
 */
int rcl_feed(struct rcl *c, const char *p, size_t n);

/**
 * rcl_release(c):
 * Send what is held of a partial frame on unchanged and stop holding;
 * nothing held (or waiting) is a no-op.  0, or -1 if the tunnel is closing.
 */
int rcl_release(struct rcl *c);

/* rcl_on_rewrite(c, fn): ${fn}(arg) (rcl_new's ${arg}) each time a frame
 * is sent on rewritten (the counters); ${fn} may be NULL. */
void rcl_on_rewrite(struct rcl *c, void (*rewritten)(void *));

/* rcl_drop(c): the held frame is not for the client: forget it. */
void rcl_drop(struct rcl *c);

/**
 * rcl_reply(c, kind, fr):
 * A reply ${fr} matched to a client's command (${kind} from match_pop, -1
 * if unknown), before rcl_done: tracks which commands of a transaction are
 * CLUSTER ones, from MULTI's +OK and the +QUEUED replies.  Returns whether
 * the server is in a transaction now: until it is, only replies of a kind
 * other than Q_REPLY need to come here.
 */
int rcl_reply(struct rcl *c, int kind, const struct resp_frame *fr);

/**
 * rcl_done(c, kind):
 * The held frame is complete and answers ${kind} (-1: a push, or not
 * matched).  Sends it on, rewritten when the map has every node it
 * names.  Returns 0, -1 if the tunnel is closing, or 1: a node is not
 * mapped, ${miss} was called and the frame is kept; the caller hands
 * every later server byte to rcl_wait_add until rcl_retry delivers.
 */
int rcl_done(struct rcl *c, int kind);

/* rcl_waiting(c): a frame waits for the node map. */
int rcl_waiting(const struct rcl *c);

/**
 * rcl_wait_add(c, p, n):
 * While waiting: keep ${n} server bytes after the waiting frame; over
 * RCL_WAIT_MAX the wait is given up (logged; rcl_retry with give_up).
 * Returns 0, or -1 if the tunnel is closing (failed if out of memory).
 */
int rcl_wait_add(struct rcl *c, const char *p, size_t n);

/**
 * rcl_retry(c, give_up):
 * Try the waiting frame again with the map now in force.  Returns 1 if a
 * node is still unknown and ${give_up} is 0 (nothing sent).  Else sends
 * the frame (with ${give_up}: an unmapped MOVED/ASK as -TRYAGAIN, a
 * topology reply unchanged, both logged) and feeds the bytes kept after
 * it through the filter (${feed}), which may wait again (1; never with
 * ${give_up}); 0 once nothing waits, -1 if the tunnel is closing.  0 at
 * once when nothing waits.
 */
int rcl_retry(struct rcl *c, int give_up);

/*
 * rcl_held(c): server bytes held, for the relay's watermark: all of them
 * while waiting (the server is to pause), else at most RELAY_HOLD_MAX of a
 * frame being held (a topology reply up to CRW_OUT_MAX must not pause the
 * server it is still coming from).
 */
size_t rcl_held(const struct rcl *c);

/* rcl_reset(c): a new client on the connection: nothing held or known. */
void rcl_reset(struct rcl *c);

/* rcl_free(c): NULL-safe. */
void rcl_free(struct rcl *c);

#endif
