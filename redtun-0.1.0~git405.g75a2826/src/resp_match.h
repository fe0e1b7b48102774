#ifndef REDTUN_RESP_MATCH_H
#define REDTUN_RESP_MATCH_H

/*
 * Which reply answers which command on one connection (resp_match.c).
 * The state is embedded in the RESP filter (no allocation until the first
 * command is in flight); its fields are the filter's to read, the
 * functions' to change.
 */

#include <stddef.h>
#include <stdint.h>

struct resp_frame;

/* Commands in flight per connection, beyond which matching stops. */
#define MATCH_QUEUE_MAX	65536

/*
 * What a command in flight expects; the OWN kinds are redtun's own.  The
 * transaction and CLUSTER kinds are pushed only with ${cluster} set (a
 * cluster service, whose topology replies are rewritten): MULTI, EXEC or
 * DISCARD inside MULTI, and CLUSTER SLOTS/SHARDS/NODES/REPLICAS (SLAVES),
 * in the order of enum crw_kind (cluster_rewrite.h).  Elsewhere they are
 * Q_REPLY.
 */
enum q_kind {
	Q_REPLY, Q_BLOCK, Q_HELLO, Q_MONITOR, Q_RESET, Q_SUB,
	Q_MULTI, Q_TXEND,
	Q_CL_SLOTS, Q_CL_SHARDS, Q_CL_NODES, Q_CL_REPLICAS,
	Q_OWN_AUTH, Q_OWN_ROLE, Q_OWN_RESET
};

/* Whether ${k} is a CLUSTER topology kind. */
#define Q_IS_CL(k)	((k) >= Q_CL_SLOTS && (k) <= Q_CL_REPLICAS)

struct resp_match {
	const char *name;		/* the service, for debug lines */
	uint8_t *q;			/* ring of enum q_kind */
	size_t qhead, qlen, qcap;
	size_t nblock, nsub, nhello, nmonitor;	/* entries of those kinds */
	size_t ncl;			/* Q_TXEND and Q_CL_* entries */
	unsigned int proto3:1;		/* HELLO 3 */
	unsigned int sub2:1;		/* RESP2 subscribed */
	unsigned int monitor:1;
	unsigned int multi:1;
	unsigned int reply_off:1, skip_next:1;
	unsigned int unsync:1;		/* matching has stopped */
	unsigned int noevict:1, quit:1, client_bad:1;
	unsigned int cluster:1;		/* push the cluster kinds */
};

/**
 * match_request(m, fr): the client sent the complete command ${fr}.
 * match_unsolicited(m, fr): the reply ${fr} answers no command (a push,
 * a RESP2 message, MONITOR output).
 * match_pop(m): the kind the next reply answers (-1: none, or unsynced).
 * match_reply(m, kind, fr): the reply ${fr} of ${kind} changes the state
 * (HELLO, MONITOR, RESET, (un)subscribe confirmations).
 */
void match_request(struct resp_match *m, const struct resp_frame *fr);
int match_unsolicited(const struct resp_match *m,
    const struct resp_frame *fr);
int match_pop(struct resp_match *m);
void match_reply(struct resp_match *m, int kind, const struct resp_frame *fr);

/* match_push(m, kind): a command of redtun's own (or a client's). */
void match_push(struct resp_match *m, int kind);

/* match_head(m): the kind the next reply answers, not popped; -1. */
int match_head(const struct resp_match *m);

/* match_unsync(m, why): stop matching; logged at debug once. */
void match_unsync(struct resp_match *m, const char *why);

/*
 * match_clean(m): nothing RESET cannot undo happened (CLIENT NO-EVICT,
 * a pending blocking command, QUIT, CLIENT REPLY SKIP, a protocol error)
 * and matching is exact.
 */
int match_clean(const struct resp_match *m);

/* match_client_reset(m): what RESET resets (RESP2, no pub/sub...). */
void match_client_reset(struct resp_match *m);

/* match_clear(m): a fresh connection's state; the ring is kept. */
void match_clear(struct resp_match *m);

/* match_free(m): free the ring. */
void match_free(struct resp_match *m);

#endif
