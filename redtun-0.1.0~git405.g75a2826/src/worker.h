#ifndef REDTUN_WORKER_H
#define REDTUN_WORKER_H

#include <stddef.h>

#include <uv.h>

struct svc;

/*
 * A worker is one event loop with its own listeners (SO_REUSEPORT when
 * there are several) and its own tunnels.  Worker 0 runs on the main
 * thread beside the signal handlers; the others each have a thread.  The
 * data path never takes a lock: workers share only service generations.
 */
struct worker;

/* What a worker does on a (re)configuration; built by the main thread. */
struct worker_plan {
	size_t n;
	struct svc **svcs;	/* new generations; references owned here */
	long *keep;		/* index of the listener to keep, or -1 */
	int *fds;		/* listening socket for a new listener, or -1 */
	int announce;		/* log "listening on" (one worker does) */
	size_t max_connections;	/* this worker's share of the limit */
	/* Called once when the plan is done with (applied or not). */
	void (*applied)(void *);
	void *applied_arg;
};

/*
 * worker_plan_free(p): free a plan and close its sockets, after calling
 * its applied callback; NULL-safe.
 */
void worker_plan_free(struct worker_plan *p);

/**
 * worker_new(id, loop):
 * A worker on ${loop} (an initialised loop it does not own), or, if
 * ${loop} is NULL, on a loop of its own for worker_start_thread().
 * Returns NULL on failure.
 */
struct worker *worker_new(int id, uv_loop_t *loop);

/*
 * worker_set_stats(w, global): ${w}'s daemon-wide counters (its cell of
 * the "" entry: fd_exhaustion); before its loop runs.
 */
struct stats_cell;
void worker_set_stats(struct worker *w, struct stats_cell *global);

/* worker_start_thread(w): run ${w}'s loop on a new thread; 0 or -1. */
int worker_start_thread(struct worker *w);

/**
 * worker_apply(w, p):
 * Hand the plan ${p} (ownership passes) to ${w}, which applies it on its
 * own thread: keep, retarget, open and close listeners.  Safe from any
 * thread.
 */
void worker_apply(struct worker *w, struct worker_plan *p);

/**
 * worker_stop(w):
 * Ask ${w} to stop accepting and to end once its tunnels are done, at the
 * latest after TIMEOUTclose; a second call closes them at once, one after
 * the worker has stopped does nothing.  Safe from any thread.
 */
void worker_stop(struct worker *w);

/**
 * worker_on_done(w, cb, arg):
 * Call ${cb}(${arg}) on ${w}'s thread once it has stopped and closed its
 * handles (its loop then has nothing left but what the caller owns).
 */
void worker_on_done(struct worker *w, void (*cb)(void *), void *arg);

/* worker_free(w): join ${w}'s thread (if any) and free it. */
void worker_free(struct worker *w);

#endif
