/*
 * The running daemon, main-thread side: configuration, signals, reload
 * and stop.  The event loops that carry connections are workers
 * (worker.c); worker 0 shares the main loop.  A reload is
 * commit-or-rollback: the new file is read, every service generation is
 * built and every new listening socket is bound for every worker, and
 * only when all of that succeeded do the workers get the new plan.  That
 * preparation runs off the loops (reload.c); only the commit runs here.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include "config.h"

#include "cluster.h"
#include "conf.h"
#include "daemon.h"
#include "iam.h"
#include "listener.h"
#include "log.h"
#include "log_json.h"
#include "notify.h"
#include "reload.h"
#include "runtime.h"
#include "runtime_priv.h"
#include "service.h"
#include "stats.h"
#include "status.h"
#include "tunnel.h"
#include "worker.h"


static int
same_str(const char *a, const char *b)
{

	return ((a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0));
}

static void
swap_str(char **a, char **b)
{
	char *tmp = *a;

	*a = *b;
	*b = tmp;
}


/*
 * reload.c, on a pool thread: discover the clusters and bind what the
 * services need; ${cf} NULL: a refresh of the services in force.
 */
static void *
reload_prepare(void *arg, const struct conf *cf, struct svc **svcs, size_t n,
    char *why, size_t whylen)
{
	struct runtime *rt = arg;

	if (cf == NULL)
		return (rt_prepare(rt, rt->cur, rt->ncfg, 0,
		    rt_limit(rt->cf), why, whylen));
	return (rt_prepare(rt, svcs, n, 1, rt_limit(cf), why, whylen));
}

static void
reload_discard(void *arg, void *pp)
{

	rt_prep_free(arg, pp);
}

/* reload.c, on the main loop: everything is ready; swap it in. */
static void
reload_commit(void *arg, struct conf *cf, struct svc **svcs, size_t n,
    void *plans)
{
	struct runtime *rt = arg;
	size_t i;

	if (cf == NULL) {		/* a cluster refresh */
		rt_commit(rt, plans, rt->ncfg, RT_REFRESH);
		return;
	}
	rt_commit(rt, plans, n, RT_RELOAD);
	rt->generation++;
	rt->reloads_ok++;
	rt->last_reload_time = rt_now();
	rt->last_reload_ok = 1;
	free(rt->last_reload_error);
	rt->last_reload_error = NULL;
	/* rt->cur holds its own references. */
	for (i = 0; i < n; i++)
		svc_unref(svcs[i]);
	free(svcs);

	if (!same_str(cf->pid, rt->cf->pid) ||
	    !same_str(cf->setuid, rt->cf->setuid) ||
	    !same_str(cf->setgid, rt->cf->setgid) ||
	    !same_str(cf->chroot, rt->cf->chroot) ||
	    cf->workers != rt->cf->workers ||
	    cf->foreground != rt->cf->foreground ||
	    cf->syslog != rt->cf->syslog || cf->facility != rt->cf->facility)
		log_msg(LOG_LVL_WARNING, NULL, "pid, setuid, setgid, chroot, "
		    "workers, foreground, syslog and the syslog facility take "
		    "effect only after a restart");
	for (i = 0; i < cf->nnotices; i++)
		log_msg(LOG_LVL_NOTICE, NULL, "%s", cf->notices[i]);
	if (!same_str(cf->output, rt->cf->output) &&
	    log_open(cf->output, 0, rt->debug_override >= 0 ?
	    rt->debug_override : cf->debug) != 0) {
		log_msg(LOG_LVL_ERR, NULL, "cannot open the new log file %s; "
		    "keeping the old one", cf->output);
		swap_str(&cf->output, &rt->cf->output);
	}
	if (rt->debug_override < 0)
		log_set_level(cf->debug);
	log_set_formatter(cf->log_json ? log_json_line : NULL);
	/* The pidfile stays where this process wrote it. */
	swap_str(&cf->pid, &rt->cf->pid);
	cf->workers = rt->cf->workers;
	conf_free(rt->cf);
	rt->cf = cf;
	rt_status_follow(rt);
	log_ev(LOG_LVL_NOTICE, NULL, NULL, "reload", NULL, "configuration "
	    "reloaded: %zu services", n);
	notify_ready(NULL);
}

static void
add_active(void *arg, const char *name, const struct stats_svc *e)
{
	struct stats_cell c;

	if (name[0] == '\0')
		return;
	stats_sum(e, &c);
	*(int64_t *)arg += c.conn_active;
}

/* STATUS= for the service manager (notify.c), on the main thread:
 * "3 services, 12 connections" (summed from the workers' counters). */
static void
notify_state(void *arg, char *buf, size_t len)
{
	struct runtime *rt = arg;
	int64_t active = 0;

	if (rt->stats != NULL)
		stats_each(rt->stats, add_active, &active);
	snprintf(buf, len, "%zu service%s, %lld connection%s", rt->ncfg,
	    rt->ncfg == 1 ? "" : "s", (long long)active, active == 1 ? "" :
	    "s");
}

/* reload.c, on the main loop: a reload failed; the old one stays. */
static void
reload_failed(void *arg, const char *why)
{
	struct runtime *rt = arg;

	rt->reloads_failed++;
	rt->last_reload_time = rt_now();
	rt->last_reload_ok = 0;
	free(rt->last_reload_error);
	rt->last_reload_error = strdup(why);
}

static void reload_idle(void *);

static const struct reloader_ops reload_ops = {
	reload_prepare, reload_commit, reload_discard, reload_idle,
	reload_failed
};

/* ---- signals ------------------------------------------------------------ */

static void
close_signals(struct runtime *rt)
{

	if (!rt->signals)
		return;
	uv_close((uv_handle_t *)&rt->sig_hup, NULL);
	uv_close((uv_handle_t *)&rt->sig_term, NULL);
	uv_close((uv_handle_t *)&rt->sig_int, NULL);
	uv_close((uv_handle_t *)&rt->sig_usr1, NULL);
	rt->signals = 0;
	notify_watchdog_stop();
	iam_stop(rt->iam);
	if (rt->refresh_init) {
		__atomic_store_n(&rt->refresh_closed, 1, __ATOMIC_RELEASE);
		uv_close((uv_handle_t *)&rt->refresh_timer, NULL);
		uv_close((uv_handle_t *)&rt->refresh_async, NULL);
		rt->refresh_init = 0;
	}
}

/*
 * A worker has stopped (on its own thread).  The signal handlers stay
 * until the last one has: without a handler SIGUSR1 would kill the
 * process in the middle of another worker's drain.
 */
static void
on_worker_done(void *arg)
{
	struct runtime *rt = arg;

	if (__atomic_add_fetch(&rt->ndone, 1, __ATOMIC_ACQ_REL) ==
	    __atomic_load_n(&rt->nrunning, __ATOMIC_ACQUIRE))
		uv_async_send(&rt->drained);
}

/*
 * Let the main loop end once every worker has stopped and no reload job
 * is out: a job blocked in DNS keeps the loop running, and closing the
 * last handle of a signal restores its default action (SIGHUP or SIGUSR1
 * would then kill the process and leave the pidfile).
 */
static void
maybe_close_signals(struct runtime *rt)
{

	if (rt->all_drained && !reloader_busy(rt->reloader))
		close_signals(rt);
}

static void
reload_idle(void *arg)
{

	maybe_close_signals(arg);
}

/* Every worker has stopped. */
static void
on_drained(uv_async_t *async)
{
	struct runtime *rt = async->data;

	rt->all_drained = 1;
	maybe_close_signals(rt);
	uv_close((uv_handle_t *)&rt->drained, NULL);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct runtime *rt = h->data;
	size_t k;

	switch (signum) {
	case SIGHUP:
		if (!rt->stopping)
			reloader_request(rt->reloader);
		break;
	case SIGUSR1:
		if (log_reopen() == 0)
			log_msg(LOG_LVL_NOTICE, NULL, "log file reopened");
		else
			log_msg(LOG_LVL_ERR, NULL, "cannot reopen the log file;"
			    " still writing to the old one");
		break;
	default:
		if (!rt->stopping)
			notify_stopping();
		log_ev(LOG_LVL_NOTICE, NULL, NULL, "stop", NULL, "%s%s: %s",
		    signum == SIGTERM ? "SIGTERM" : "SIGINT",
		    rt->stopping ? " again" : "", rt->stopping ?
		    "closing all connections now" : "shutting down");
		rt->stopping = 1;
		__atomic_store_n(&rt->cancel, 1, __ATOMIC_RELAXED);
		rt_status_stop(rt);
		reloader_stop(rt->reloader);
		for (k = 0; k < rt->nworkers; k++)
			worker_stop(rt->workers[k]);
		break;
	}
}

/* Install the four handlers; on failure close what was installed. */
static int
init_signals(struct runtime *rt, char *why, size_t whylen)
{
	static const int nums[4] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1 };
	uv_signal_t *h[4] = { &rt->sig_hup, &rt->sig_term, &rt->sig_int,
	    &rt->sig_usr1 };
	size_t i;
	int r;

	for (i = 0; i < 4; i++) {
		if ((r = uv_signal_init(&rt->loop, h[i])) != 0)
			goto err;
		h[i]->data = rt;
		if ((r = uv_signal_start(h[i], on_signal, nums[i])) != 0) {
			uv_close((uv_handle_t *)h[i], NULL);
			goto err;
		}
	}
	rt->signals = 1;
	return (0);

err:
	snprintf(why, whylen, "cannot handle signal %d: %s", nums[i],
	    uv_strerror(r));
	while (i-- > 0)
		uv_close((uv_handle_t *)h[i], NULL);
	return (-1);
}

/* ---- startup ------------------------------------------------------------ */

static void
startup_error(const char *why)
{

	fprintf(stderr, "redtun: %s\n", why);
	log_msg(LOG_LVL_ERR, NULL, "%s", why);
}

static size_t
worker_count(const struct conf *cf)
{
	uv_cpu_info_t *cpus;
	int n;

	if (cf->workers > 0)
		return (cf->workers);
	if (uv_cpu_info(&cpus, &n) != 0 || n < 1)
		return (1);
	uv_free_cpu_info(cpus, n);
	return ((size_t)n);
}

static int
start_workers(struct runtime *rt, size_t n)
{
	struct worker *w;

	if ((rt->workers = calloc(n, sizeof(*rt->workers))) == NULL)
		return (-1);
	if ((w = worker_new(0, &rt->loop)) == NULL)
		return (-1);
	worker_set_stats(w, stats_cell(rt->global, 0));
	rt->workers[rt->nworkers++] = w;
	worker_on_done(w, on_worker_done, rt);
	while (rt->nworkers < n) {
		if ((w = worker_new((int)rt->nworkers, NULL)) == NULL)
			return (-1);
		worker_set_stats(w, stats_cell(rt->global, rt->nworkers));
		rt->workers[rt->nworkers++] = w;
		worker_on_done(w, on_worker_done, rt);
	}
	return (0);
}

int
runtime_run(const char *path, struct conf *cf, struct svc **svcs,
    int foreground, int debug_override)
{
	struct runtime rt;
	struct rt_prep *pp = NULL;
	char why[512];
	size_t i, k, n = cf->nsvcs, nw;
	int status = 2, pid_written = 0;

	memset(&rt, 0, sizeof(rt));
	rt.path = path;
	rt.cf = cf;
	rt.debug_override = debug_override;
	/* Worker 0 (the main loop) runs from the start; threads count later. */
	rt.nrunning = 1;
	if (uv_loop_init(&rt.loop) != 0 ||
	    uv_async_init(&rt.loop, &rt.drained, on_drained) != 0) {
		startup_error("cannot create the event loops");
		goto out;
	}
	rt.drained.data = &rt;
	rt.drained_init = 1;
	rt.generation = 1;
	rt.start_time = rt_now();
	nw = worker_count(cf);
	/* Counters outlive every reload: made once, before any worker. */
	if ((rt.stats = stats_new(nw)) == NULL ||
	    (rt.global = stats_service(rt.stats, "")) == NULL ||
	    (rt.iam = iam_new(&rt.loop)) == NULL) {
		startup_error("out of memory");
		goto out;
	}
	if ((rt.reloader = reloader_new(&rt.loop, path, cf->format,
	    &reload_ops, &rt)) == NULL || (rt.clusters = clusters_new(rt_refresh_want,
	    &rt, &rt.cancel)) == NULL ||
	    start_workers(&rt, nw) != 0) {
		startup_error("cannot create the event loops");
		goto out;
	}
	if (uv_timer_init(&rt.loop, &rt.refresh_timer) != 0 ||
	    uv_async_init(&rt.loop, &rt.refresh_async,
	    rt_refresh_async_cb) != 0) {
		startup_error("cannot create the event loops");
		goto out;
	}
	rt.refresh_timer.data = rt.refresh_async.data = &rt;
	rt.refresh_init = 1;
	if ((pp = rt_prepare(&rt, svcs, n, 1, rt_limit(cf), why,
	    sizeof(why))) == NULL) {
		startup_error(why);
		goto out;
	}
	/* Bound with the listeners: before privileges are dropped. */
	if (cf->status != NULL && cf->status[0] != '\0' &&
	    rt_status_start(&rt, cf->status, why, sizeof(why)) != 0) {
		startup_error(why);
		goto out;
	}
	if (daemon_drop_privileges(cf->chroot, cf->setuid, cf->setgid, why,
	    sizeof(why))) {
		startup_error(why);
		goto out;
	}
	if (cf->pid != NULL && cf->pid[0] != '\0') {
		if (daemon_pidfile_write(cf->pid, why, sizeof(why))) {
			startup_error(why);
			goto out;
		}
		pid_written = 1;
	}
	for (k = 1; k < rt.nworkers; k++) {
		if (worker_start_thread(rt.workers[k]) != 0) {
			startup_error("cannot start a worker thread");
			goto out;
		}
		__atomic_add_fetch(&rt.nrunning, 1, __ATOMIC_RELEASE);
	}
	/* rt.cur holds references of its own; the caller's are dropped below. */
	rt_commit(&rt, pp, n, RT_START);
	pp = NULL;
	for (i = 0; i < n; i++)
		svc_unref(svcs[i]);
	svcs = NULL;
	if (init_signals(&rt, why, sizeof(why)) != 0) {
		startup_error(why);
		goto out;
	}
	log_msg(LOG_LVL_INFO, NULL, "at most %zu connections at once (%s), "
	    "%zu worker%s", rt_limit(cf), cf->max_connections ?
	    "maxConnections" : "from the open-file limit", rt.nworkers,
	    rt.nworkers == 1 ? "" : "s");
	log_ev(LOG_LVL_NOTICE, NULL, NULL, "start", NULL, "redtun %s started: "
	    "%zu services, pid %ld%s", PACKAGE_VERSION, n, (long)getpid(),
	    foreground ? ", foreground" : "");
	daemon_ready();
	notify_set_status_cb(notify_state, &rt);
	notify_ready(NULL);
	(void)notify_watchdog_start(&rt.loop);
	uv_run(&rt.loop, UV_RUN_DEFAULT);
	notify_set_status_cb(NULL, NULL);
	tunnel_buffers_release();
	status = 0;
out:
	rt_prep_free(&rt, pp);
	if (status != 0) {
		rt_status_stop(&rt);
		/* Startup failed: stop what started and let it settle. */
		for (k = 0; k < rt.nworkers; k++)
			worker_stop(rt.workers[k]);
		/* No worker to report (none was created): close it here. */
		if (rt.nworkers == 0 && rt.drained_init)
			uv_close((uv_handle_t *)&rt.drained, NULL);
		if (rt.refresh_init) {
			uv_close((uv_handle_t *)&rt.refresh_timer, NULL);
			uv_close((uv_handle_t *)&rt.refresh_async, NULL);
			rt.refresh_init = 0;
		}
		iam_stop(rt.iam);
		if (rt.nworkers > 0 || rt.drained_init)
			uv_run(&rt.loop, UV_RUN_DEFAULT);
		daemon_fail(status);
	}
	for (k = 0; k < rt.nworkers; k++)
		worker_free(rt.workers[k]);
	/* The loop has run to its end: no reload job is out. */
	reloader_free(rt.reloader);
	if (status == 0)
		log_ev(LOG_LVL_NOTICE, NULL, NULL, "exit", NULL, "exiting");
	for (i = 0; svcs != NULL && i < n; i++)
		svc_unref(svcs[i]);
	for (i = 0; i < rt.ncur; i++)
		svc_unref(rt.cur[i]);
	free(rt.cur);
	clusters_free(rt.clusters);
	free(rt.workers);
	/* Every worker has stopped: no cell is written any more. */
	stats_free(rt.stats);
	/* The loop has run its close callbacks: the IAM timers are gone. */
	iam_free(rt.iam);
	free(rt.status_addr);
	free(rt.last_reload_error);
	if (pid_written)
		daemon_pidfile_remove(rt.cf->pid);
	if (uv_loop_close(&rt.loop) != 0 && status == 0)
		log_msg(LOG_LVL_WARNING, NULL, "handles still open at exit");
	conf_free(rt.cf);
	return (status);
}
