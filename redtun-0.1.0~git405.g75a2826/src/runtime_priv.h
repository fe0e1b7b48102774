#ifndef REDTUN_RUNTIME_PRIV_H
#define REDTUN_RUNTIME_PRIV_H

/*
 * Shared by runtime.c (signals, reload hooks, start) and runtime_plan.c
 * (plans, commit, cluster refreshes); not for other modules.
 */
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct conf;
struct iam;
struct svc;
struct clusters;
struct cluster_prep;
struct reloader;
struct stats;
struct stats_svc;
struct status_server;
struct status_snap;
struct worker;
struct worker_plan;

struct runtime {
	uv_loop_t loop;			/* main thread; worker 0's loop */
	const char *path;
	int debug_override;
	struct conf *cf;		/* globals; services moved out */
	struct worker **workers;
	size_t nworkers;
	struct svc **cur;		/* generations the workers serve */
	size_t ncur;
	size_t ncfg;			/* of those, the configured services;
					   then cluster nodes (cluster.c) */
	struct clusters *clusters;
	uv_timer_t refresh_timer;	/* cluster topology refreshes */
	uv_async_t refresh_async;	/* a worker asks for one now */
	int refresh_init;
	int refresh_closed;		/* atomic: no more async sends */
	uint64_t last_refresh;		/* uv_now() of the last one started */
	uv_signal_t sig_hup, sig_term, sig_int, sig_usr1;
	int signals;			/* the handles above are initialised */
	int stopping;
	int cancel;			/* atomic copy of stopping, for pool
					   threads (cluster discovery) */
	struct reloader *reloader;	/* SIGHUP: prepared off the loops */
	uv_async_t drained;		/* the last worker has stopped */
	int drained_init;
	int all_drained;		/* on_drained() has run */
	size_t nrunning;		/* workers whose loop runs (atomic) */
	size_t ndone;			/* of those, stopped (atomic) */
	/* Counters and what the status endpoint reports (main thread). */
	struct stats *stats;		/* for the life of the process */
	struct stats_svc *global;	/* its "" entry */
	struct status_server *status;	/* the endpoint, or NULL */
	char *status_addr;		/* where it listens */
	uint64_t generation;		/* 1 at start, +1 per reload */
	double start_time;		/* unix seconds */
	uint64_t reloads_ok, reloads_failed;
	double last_reload_time;	/* unix seconds; 0: never */
	int last_reload_ok;
	char *last_reload_error;	/* the last failure, if it failed */
	/* ElastiCache IAM: credentials and tokens (iam.h). */
	struct iam *iam;		/* for the life of the process */
};

/* What a start, reload or refresh has made ready for commit(). */
struct rt_prep {
	struct worker_plan **plans;
	struct svc **all;		/* configured services, then nodes */
	size_t nall;
	struct cluster_prep *cprep;
};

/**
 * rt_status_snap(rt):
 * The status endpoint's snapshot (a status_snap_fn; main thread only):
 * the runtime's state, one status_service per generation in force
 * (configured first, then cluster nodes) and one per counter entry of a
 * service no longer configured; counters summed over the workers.  NULL
 * on allocation failure; free with status_snap_free().
 */
struct status_snap *rt_status_snap(void *rt);

/* rt_now(): the wall clock, unix seconds. */
double rt_now(void);

/* rt_limit(cf): connections at once over all services; 0: no limit. */
size_t rt_limit(const struct conf *cf);

/**
 * rt_prepare(rt, svcs, n, fresh, max_total, why, whylen):
 * Off the loops (or before they run): the cluster nodes of ${svcs}
 * (${fresh}: new generations, start or reload) and one plan per worker
 * serving them all, new listeners bound.  NULL with ${why}.
 */
struct rt_prep *rt_prepare(struct runtime *rt, struct svc **svcs, size_t n,
    int fresh, size_t max_total, char *why, size_t whylen);

/* rt_prep_free(rt, pp): release a prepared change never committed. */
void rt_prep_free(struct runtime *rt, struct rt_prep *pp);

/**
 * rt_commit(rt, pp, ncfg, fresh):
 * On the main loop: hand the plans of ${pp} (consumed) to the workers;
 * the first ${ncfg} generations are configured services; ${fresh}
 * (RT_START, RT_RELOAD; RT_REFRESH for a cluster refresh): warn about
 * unverified services and put the IAM settings in force (a reload also
 * fetches the AWS credentials again).  Cluster maps are published when
 * every worker has applied its plan.
 */
#define RT_REFRESH	0
#define RT_START	1
#define RT_RELOAD	2
void rt_commit(struct runtime *rt, struct rt_prep *pp, size_t ncfg,
    int fresh);

/*
 * Cluster refreshes on the main loop: rt_refresh_arm(rt, soon) sets the
 * next one (after ${soon} ms, else clusterRefresh); the timer and async
 * callbacks start one; rt_refresh_want(rt) asks for one from any thread.
 */
void rt_refresh_arm(struct runtime *rt, uint64_t soon);
void rt_refresh_timer_cb(uv_timer_t *h);
void rt_refresh_async_cb(uv_async_t *a);
void rt_refresh_want(void *arg);

/*
 * The status endpoint (runtime_status.c), main loop only:
 * rt_status_start(rt, addr, why, whylen): listen on ${addr} (the start's
 * bind, before privileges go); -1 with the reason in ${why}.
 * rt_status_stop(rt): close it (NULL-safe state).
 * rt_status_follow(rt): after a reload, follow rt->cf->status: a new IP
 * address binds at once (failure: logged, the old endpoint kept; the
 * reload stands); a host name waits for a restart (no lookup on the
 * loop); no setting closes it.
 */
int rt_status_start(struct runtime *rt, const char *addr, char *why,
    size_t whylen);
void rt_status_stop(struct runtime *rt);
void rt_status_follow(struct runtime *rt);

#endif
