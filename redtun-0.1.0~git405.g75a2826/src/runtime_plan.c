/*
 * The runtime's plans: what a start, a reload or a cluster refresh
 * prepares off the loops (cluster nodes, bound listeners, one plan per
 * worker) and the commit that hands it to the workers; and the timer and
 * wake-up that start cluster refreshes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#include "cluster.h"
#include "conf.h"
#include "iam.h"
#include "listener.h"
#include "log.h"
#include "reload.h"
#include "runtime_priv.h"
#include "service.h"
#include "stats.h"
#include "worker.h"

static void
warn_unverified(struct svc *svc)
{

	if (svc_conf(svc)->client && !svc_conf(svc)->verify_chain)
		log_msg(LOG_LVL_WARNING, svc_name(svc), "certificate "
		    "verification is disabled (verifyChain = false): this "
		    "tunnel is open to man-in-the-middle attacks");
}

/*
 * Every tunnel needs two descriptors, so unless told otherwise stop
 * accepting well before the process runs out of them.
 */
size_t
rt_limit(const struct conf *cf)
{
	struct rlimit rl;

	if (cf->max_connections > 0)
		return (cf->max_connections);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		return (rl.rlim_cur > 64 ? (size_t)(rl.rlim_cur - 32) / 2 : 16);
	return (0);
}

static void
free_plans(struct worker_plan **plans, size_t n)
{
	size_t k;

	if (plans == NULL)
		return;
	for (k = 0; k < n; k++)
		worker_plan_free(plans[k]);
	free(plans);
}

/* Does one of the listeners now serving overlap ${svc}'s address? */
static int
overlaps_current(const struct runtime *rt, struct svc *svc)
{
	size_t j;

	for (j = 0; j < rt->ncur; j++)
		if (listener_overlaps(svc_conf(rt->cur[j]), svc_conf(svc)))
			return (1);
	return (0);
}

/*
 * One plan per worker for serving ${svcs}: listeners whose accept address
 * stays are kept, new ones are bound here (SO_REUSEPORT with several
 * workers).  NULL with the reason in ${why} if any socket cannot be bound.
 * On a reload this runs on a pool thread: it reads rt->cur, rt->ncur and
 * rt->nworkers, which only commit() changes, and no commit runs meanwhile.
 */
static struct worker_plan **
prepare(struct runtime *rt, struct svc **svcs, size_t n, size_t max_total,
    char *why, size_t whylen)
{
	struct worker_plan **plans;
	struct worker_plan *p;
	char *taken;
	size_t i, j, k;

	plans = calloc(rt->nworkers, sizeof(*plans));
	taken = calloc(rt->ncur ? rt->ncur : 1, 1);
	if (plans == NULL || taken == NULL)
		goto oom;
	for (k = 0; k < rt->nworkers; k++) {
		if ((p = plans[k] = calloc(1, sizeof(*p))) == NULL ||
		    (p->svcs = calloc(n ? n : 1, sizeof(*p->svcs))) == NULL ||
		    (p->keep = calloc(n ? n : 1, sizeof(*p->keep))) == NULL ||
		    (p->fds = calloc(n ? n : 1, sizeof(*p->fds))) == NULL)
			goto oom;
		p->announce = (k == 0);
		p->max_connections = max_total == 0 ? 0 :
		    (max_total + rt->nworkers - 1) / rt->nworkers;
		for (i = 0; i < n; i++)
			p->fds[i] = -1;
	}
	for (i = 0; i < n; i++) {
		long keep = -1;

		for (j = 0; j < rt->ncur && keep < 0; j++) {
			if (!taken[j] && svc_conf_same_accept(
			    svc_conf(rt->cur[j]), svc_conf(svcs[i]))) {
				taken[j] = 1;
				keep = (long)j;
			}
		}
		/*
		 * A SO_REUSEPORT group would silently take in another
		 * process's sockets: first make sure the address is free.
		 * Listeners kept across a reload are ours and not checked,
		 * nor are addresses our current listeners overlap.
		 */
		if (keep < 0 && rt->nworkers > 1 &&
		    !overlaps_current(rt, svcs[i]) &&
		    listener_check_free(svc_conf(svcs[i]), why, whylen) != 0)
			goto err;
		for (k = 0; k < rt->nworkers; k++) {
			p = plans[k];
			p->svcs[i] = svc_ref(svcs[i]);
			p->n = i + 1;
			p->keep[i] = keep;
			if (keep >= 0)
				continue;
			p->fds[i] = listener_bind(svc_conf(svcs[i]),
			    rt->nworkers > 1, why, whylen);
			if (p->fds[i] < 0)
				goto err;
		}
	}
	free(taken);
	return (plans);
oom:
	snprintf(why, whylen, "out of memory");
err:
	free(taken);
	free_plans(plans, rt->nworkers);
	return (NULL);
}


void
rt_prep_free(struct runtime *rt, struct rt_prep *pp)
{
	size_t i;

	if (pp == NULL)
		return;
	free_plans(pp->plans, rt->nworkers);
	clusters_discard(pp->cprep);
	for (i = 0; i < pp->nall; i++)
		svc_unref(pp->all[i]);
	free(pp->all);
	free(pp);
}

/*
 * IAM services find their name's token source (a cluster node's is its
 * service's), set before the generations are shared: the configured ones
 * before cluster discovery (which authenticates with it), the nodes after.
 * A start or a reload reads the environment and the shared credentials
 * file here: at start before privileges are dropped, on a reload off the
 * loops.  -1 when out of memory.
 */
static int
set_iam(struct runtime *rt, struct svc **svcs, size_t n, int fresh)
{
	struct iam_svc *s;
	size_t i;
	int any = 0;

	for (i = 0; i < n; i++) {
		char name[256];
		const char *at;

		if (svc_conf(svcs[i])->iam_user == NULL)
			continue;
		any = 1;
		if (svc_iam(svcs[i]) != NULL)
			continue;
		snprintf(name, sizeof(name), "%s", svc_name(svcs[i]));
		if ((at = strchr(name, '@')) != NULL)
			name[at - name] = '\0';
		if ((s = iam_service(rt->iam, name)) == NULL)
			return (-1);
		svc_set_iam(svcs[i], s);
	}
	if (any && fresh)
		iam_read_static(rt->iam);
	return (0);
}

/*
 * Off the loops (or before they run): the cluster nodes of ${svcs}
 * (${fresh}: new generations) and the plans that serve them all.
 */
struct rt_prep *
rt_prepare(struct runtime *rt, struct svc **svcs, size_t n, int fresh,
    size_t max_total, char *why, size_t whylen)
{
	struct rt_prep *pp;
	size_t i;

	if ((pp = calloc(1, sizeof(*pp))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (NULL);
	}
	if (set_iam(rt, svcs, n, fresh) != 0) {
		snprintf(why, whylen, "out of memory");
		free(pp);
		return (NULL);
	}
	if (clusters_prepare(rt->clusters, svcs, n, fresh, &pp->all,
	    &pp->nall, &pp->cprep, why, whylen) != 0 ||
	    (pp->plans = prepare(rt, pp->all, pp->nall, max_total, why,
	    whylen)) == NULL) {
		rt_prep_free(rt, pp);
		return (NULL);
	}
	/*
	 * New generations find their name's counters (set before shared).
	 * A cluster node ("svc@host:port") counts into its service's entry:
	 * one series per configured service, and no entry left behind by
	 * every node a cluster ever replaced.
	 */
	for (i = 0; i < pp->nall; i++) {
		char name[256];
		const char *at;

		if (svc_stats(pp->all[i]) != NULL)
			continue;
		snprintf(name, sizeof(name), "%s", svc_name(pp->all[i]));
		if ((at = strchr(name, '@')) != NULL)
			name[at - name] = '\0';
		svc_set_stats(pp->all[i], stats_service(rt->stats, name));
	}
	if (set_iam(rt, pp->all, pp->nall, 0) != 0) {
		snprintf(why, whylen, "out of memory");
		rt_prep_free(rt, pp);
		return (NULL);
	}
	return (pp);
}

/* Counts workers done with one commit's plans; the last publishes. */
struct rt_ack {
	size_t left;			/* atomic */
	struct cluster_pub *pub;
};

static void
on_applied(void *arg)
{
	struct rt_ack *ack = arg;

	if (__atomic_sub_fetch(&ack->left, 1, __ATOMIC_ACQ_REL) == 0) {
		clusters_published(ack->pub);
		free(ack);
	}
}


/*
 * The configured services' IAM settings in force (main loop), before the
 * workers take the new generations, so that their first connections find
 * tokens for their settings.
 */
static void
commit_iam(struct runtime *rt, struct svc **svcs, size_t n, int reread)
{
	const struct svc_conf **scs;
	size_t i;

	if ((scs = calloc(n ? n : 1, sizeof(*scs))) == NULL) {
		log_msg(LOG_LVL_ERR, NULL, "IAM: out of memory");
		return;
	}
	for (i = 0; i < n; i++)
		scs[i] = svc_conf(svcs[i]);
	iam_commit(rt->iam, scs, n, reread);
	free(scs);
}

/*
 * Hand the plans to the workers and remember what they now serve; the
 * first ${ncfg} are configured services.  Cluster maps are published
 * once every worker has applied its plan (its node listeners open).
 */
void
rt_commit(struct runtime *rt, struct rt_prep *pp, size_t ncfg, int fresh)
{
	struct cluster_pub *pub;
	struct rt_ack *ack;
	size_t k, i;

	if (fresh)
		commit_iam(rt, pp->all, ncfg, fresh == RT_RELOAD);
	pub = clusters_commit(rt->clusters, pp->cprep);
	pp->cprep = NULL;
	if ((ack = calloc(1, sizeof(*ack))) == NULL)
		clusters_published(pub);	/* at once rather than never */
	else {
		ack->left = rt->nworkers;
		ack->pub = pub;
	}
	for (k = 0; k < rt->nworkers; k++) {
		pp->plans[k]->applied = ack != NULL ? on_applied : NULL;
		pp->plans[k]->applied_arg = ack;
		worker_apply(rt->workers[k], pp->plans[k]);
	}
	free(pp->plans);
	for (i = 0; i < rt->ncur; i++)
		svc_unref(rt->cur[i]);
	free(rt->cur);
	rt->cur = pp->all;
	rt->ncur = pp->nall;
	rt->ncfg = ncfg;
	free(pp);
	for (i = 0; fresh && i < ncfg; i++)
		warn_unverified(rt->cur[i]);
	if (rt->refresh_init)
		rt_refresh_arm(rt, 0);
}

/* ---- cluster refreshes --------------------------------------------------- */

void
rt_refresh_timer_cb(uv_timer_t *h)
{
	struct runtime *rt = h->data;

	if (rt->stopping)
		return;
	rt->last_refresh = uv_now(&rt->loop);
	reloader_refresh(rt->reloader);
	rt_refresh_arm(rt, 0);
}

/*
 * The next refresh: after ${soon} ms if not 0 (at most one a second),
 * else after the shortest clusterRefresh; none without cluster services.
 */
void
rt_refresh_arm(struct runtime *rt, uint64_t soon)
{
	uint64_t period = (uint64_t)clusters_refresh_period(rt->clusters) *
	    1000;

	if (period == 0 || rt->stopping) {
		(void)uv_timer_stop(&rt->refresh_timer);
		return;
	}
	if (soon == 0)
		soon = period;
	/* A refresh asked for soon stays soon. */
	if (uv_is_active((uv_handle_t *)&rt->refresh_timer) &&
	    uv_timer_get_due_in(&rt->refresh_timer) < soon)
		return;
	(void)uv_timer_start(&rt->refresh_timer, rt_refresh_timer_cb, soon, 0);
}

/* A worker's reply named an unmapped node: refresh now, or soon. */
void
rt_refresh_async_cb(uv_async_t *a)
{
	struct runtime *rt = a->data;
	uint64_t now = uv_now(&rt->loop), since = now - rt->last_refresh;

	if (rt->stopping)
		return;
	if (rt->last_refresh != 0 && since < 1000) {
		rt_refresh_arm(rt, 1000 - since);
		return;
	}
	rt->last_refresh = now;
	reloader_refresh(rt->reloader);
	rt_refresh_arm(rt, 0);
}

/* clusters_new's hook: any thread. */
void
rt_refresh_want(void *arg)
{
	struct runtime *rt = arg;

	if (!__atomic_load_n(&rt->refresh_closed, __ATOMIC_ACQUIRE))
		uv_async_send(&rt->refresh_async);
}
