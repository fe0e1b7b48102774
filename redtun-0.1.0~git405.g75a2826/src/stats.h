#ifndef REDTUN_STATS_H
#define REDTUN_STATS_H

/*
 * Counters for the status endpoint, with no lock on the data path.
 *
 * One registry per process (made by runtime before the workers start);
 * one entry per service *name* (so counters survive reloads: a new
 * generation of "redis" finds the same entry), created on first use and
 * kept until the process ends (a service removed by a reload keeps its
 * counters, reported as not configured); one cell per worker in each
 * entry.  A cell has a single writer, the thread of its worker's loop,
 * which updates with relaxed atomic load+store (plain moves on x86); the
 * status endpoint, on the main thread, sums the cells with relaxed
 * atomic loads when asked.  Cells are cache-line aligned so that workers
 * never share a line.
 */
#include <stddef.h>
#include <stdint.h>

/* redtun_handshake_failures_total{reason}: a small closed set. */
enum stats_fail {
	ST_FAIL_VERIFY_CHAIN,	/* chain did not verify (untrusted, bad path) */
	ST_FAIL_HOSTNAME,	/* chain fine, identity (checkHost/IP) wrong */
	ST_FAIL_EXPIRED,	/* a certificate expired or not yet valid */
	ST_FAIL_PROTOCOL_VERSION,	/* no common TLS version */
	ST_FAIL_ALERT,		/* the peer sent a fatal alert */
	ST_FAIL_TIMEOUT,	/* TIMEOUTconnect (connect, TLS or PREPARE) */
	ST_FAIL_REFUSED,	/* TCP refused / reset / unreachable */
	ST_FAIL_DNS,		/* the name did not resolve */
	ST_FAIL_LIMIT,		/* maxConnections or out of descriptors */
	ST_FAIL_OTHER,
	ST_FAIL_N
};

/* redtun_handshakes_total{tls_version}: */
enum stats_tlsver { ST_TLS12, ST_TLS13, ST_TLSV_N };

/* redtun_reuse_total{result}: */
enum stats_reuse {
	ST_REUSE_KEPT,		/* cleaned after the client left, pooled */
	ST_REUSE_REUSED,	/* a new client got a kept connection */
	ST_REUSE_DISCARDED,	/* not kept: unclean, no room, RESET failed */
	ST_REUSE_N
};

/* redtun_pool_connections{kind}: */
enum stats_pool { ST_POOL_PREWARM, ST_POOL_REUSE, ST_POOL_N };

/* redtun_bytes_total{direction}: */
enum stats_dir { ST_TO_SERVER, ST_TO_CLIENT, ST_DIR_N };

/*
 * redtun_upstream_connect_seconds buckets (upper bounds, seconds), the
 * last one +Inf.  Kept as a table so renderers and cells agree.
 */
#define ST_CONNECT_BUCKETS 12
extern const double stats_connect_bounds[ST_CONNECT_BUCKETS];	/* +Inf implied */

/* One worker's counters for one service.  Gauges are signed (a tunnel
 * started before a reload may end after it: same cell, same worker). */
struct stats_cell {
	uint64_t conn_total;			/* accepted (and pre-warmed) */
	int64_t conn_active;			/* gauge */
	uint64_t bytes[ST_DIR_N];
	uint64_t handshakes[ST_TLSV_N][2];	/* ok: [version][resumed] */
	uint64_t handshakes_failed;		/* the TLS handshake failed */
	uint64_t fail[ST_FAIL_N];
	uint64_t connect_bucket[ST_CONNECT_BUCKETS + 1];	/* last: +Inf;
					   per bucket, not cumulative */
	uint64_t connect_usec_sum;
	uint64_t connect_count;
	int64_t pool[ST_POOL_N];		/* gauges */
	uint64_t reuse[ST_REUSE_N];
	uint64_t redirects_rewritten;		/* cluster MOVED/ASK/topology */
	uint64_t fd_exhaustion;			/* episodes (the "" entry) */
	uint64_t limit_rejections;		/* shed: maxConnections, fds */
	int64_t listening;			/* 1 while this worker listens */
} __attribute__((aligned(64)));

/*
 * Updates, for the owning worker's thread only (single writer; a relaxed
 * load and store, no lock, no read-modify-write bus lock).  NULL-safe in
 * ${c} so that code paths without a registry (unit tests, -t) need no
 * checks.
 */
#define STATS_ADD(c, field, n) do {					\
	if ((c) != NULL)						\
		__atomic_store_n(&(c)->field,				\
		    __atomic_load_n(&(c)->field, __ATOMIC_RELAXED) + (n),	\
		    __ATOMIC_RELAXED);					\
} while (0)
#define STATS_INC(c, field)	STATS_ADD(c, field, 1)
#define STATS_DEC(c, field)	STATS_ADD(c, field, -1)

struct stats;		/* the registry */
struct stats_svc;	/* one service name's entry */

/**
 * stats_new(nworkers):
 * A registry for ${nworkers} worker loops.  Returns NULL on allocation
 * failure.  Made once per process: its counters outlive every reload.
 */
struct stats *stats_new(size_t nworkers);

/* stats_free(st): free the registry and every entry; NULL-safe.  Only
 * after every worker has stopped. */
void stats_free(struct stats *st);

/**
 * stats_service(st, name):
 * The entry for service ${name}, created on first use (any thread: a
 * mutex guards creation; called when a generation is built, never per
 * connection).  Returns NULL on allocation failure (counting is then
 * skipped for it).  The entry lives as long as ${st}.
 */
struct stats_svc *stats_service(struct stats *st, const char *name);
/* The entry named "" holds daemon-wide counters (fd_exhaustion): per
 * worker, not per service; renderers skip it as a service. */

/* stats_cell(e, worker): worker ${worker}'s cell of ${e}; NULL if ${e} is
 * NULL or ${worker} is out of range. */
struct stats_cell *stats_cell(struct stats_svc *e, size_t worker);

/* stats_note_connect(c, usec): one upstream TCP connect took ${usec}
 * microseconds (histogram); owning worker only. */
void stats_note_connect(struct stats_cell *c, uint64_t usec);

/**
 * stats_sum(e, out):
 * Sum ${e}'s cells into ${*out} (relaxed atomic loads; any thread; a
 * consistent total per field, not across fields).
 */
void stats_sum(const struct stats_svc *e, struct stats_cell *out);

/*
 * stats_each(st, cb, arg): ${cb}(arg, name, e) for every entry in the
 * order they were created (main thread, for the renderers).
 */
void stats_each(struct stats *st,
    void (*cb)(void *arg, const char *name, const struct stats_svc *e),
    void *arg);

/* Names for labels, index by the enums above. */
extern const char *const stats_fail_names[ST_FAIL_N];
extern const char *const stats_reuse_names[ST_REUSE_N];
extern const char *const stats_pool_names[ST_POOL_N];
extern const char *const stats_dir_names[ST_DIR_N];
extern const char *const stats_tlsver_names[ST_TLSV_N];

#endif
