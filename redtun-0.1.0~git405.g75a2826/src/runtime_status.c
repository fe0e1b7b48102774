/*
 * The status endpoint's snapshot: what the runtime knows (generation,
 * reloads, the generations in force and their targets) and the counters
 * summed over the workers, copied into plain data (status.h) that the
 * renderers use without touching anything shared.  Main thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "config.h"

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "reload.h"
#include "runtime_priv.h"
#include "service.h"
#include "stats.h"
#include "status.h"

#ifdef WOLFSSL_AESNI
#define AESNI_BUILD 1
#else
#define AESNI_BUILD 0
#endif

double
rt_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (0);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

void
status_snap_free(struct status_snap *s)
{
	size_t i, k;

	if (s == NULL)
		return;
	for (i = 0; i < s->nsvcs; i++) {
		struct status_service *v = &s->svcs[i];

		for (k = 0; k < v->ntargets; k++) {
			free(v->targets[k].name);
			free(v->targets[k].why);
		}
		free(v->targets);
		free(v->name);
		free(v->accept);
	}
	free(s->svcs);
	free(s->config);
	free(s->last_reload_error);
	free(s);
}

/* "host:port", bracketing an IPv6 literal; NULL if out of memory. */
static char *
host_port(const char *host, int port)
{
	char buf[300];

	snprintf(buf, sizeof(buf), strchr(host, ':') != NULL ? "[%s]:%d" :
	    "%s:%d", host, port);
	return (strdup(buf));
}

static char *
dup_or_null(const char *s)
{

	return (s != NULL ? strdup(s) : NULL);
}

/* Append the connect targets of ${svc}, as its generation last saw
 * them, to ${v}'s (a cluster's nodes go after its seeds). */
static int
add_targets(struct status_service *v, struct svc *svc)
{
	const struct svc_conf *sc = svc_conf(svc);
	uint64_t now = uv_hrtime() / 1000000;	/* uv_now()'s clock */
	struct status_target *t;
	char why[80];
	size_t i;

	if (sc->nconnect == 0)
		return (0);
	if ((t = realloc(v->targets, (v->ntargets + sc->nconnect) *
	    sizeof(*t))) == NULL)
		return (-1);
	v->targets = t;
	for (i = 0; i < sc->nconnect; i++) {
		struct status_target *tg = &v->targets[v->ntargets++];

		memset(tg, 0, sizeof(*tg));
		if ((tg->name = host_port(sc->connect[i].host,
		    sc->connect[i].port)) == NULL)
			return (-1);
		tg->state = svc_target_state(svc, i);
		why[0] = '\0';
		tg->backoff = svc_target_backoff(svc, i, now, why, sizeof(why));
		if (tg->backoff > 0 && (tg->why = strdup(why)) == NULL)
			return (-1);
	}
	return (0);
}

static int
fill_service(struct runtime *rt, struct status_service *v, struct svc *svc,
    int configured)
{
	const struct svc_conf *sc = svc_conf(svc);
	struct stats_cell sum;

	(void)rt;
	v->configured = configured;
	v->client = sc->client;
	if ((v->name = strdup(svc_name(svc))) == NULL ||
	    (v->accept = host_port(sc->accept.host, sc->accept.port)) == NULL)
		return (-1);
	stats_sum(svc_stats(svc), &sum);
	v->sum = sum;
	v->listening = sum.listening > 0 ? (size_t)sum.listening : 0;
	return (add_targets(v, svc));
}

/*
 * Cluster nodes (the generations after the configured ones, named
 * "svc@host:port") are folded into their service: their targets after
 * the seeds; their counters are already in its entry (rt_prepare), and so
 * are their listeners, so "workers listening" is the share of the
 * service's 1 + nodes listeners that are open (a node port missing on
 * one worker makes the service short of a full set).
 */
static int
add_nodes(struct runtime *rt, struct status_snap *s)
{
	size_t i, k, len, *nodes;
	const char *name, *at;

	if (rt->ncur <= rt->ncfg)
		return (0);
	if ((nodes = calloc(rt->ncfg + 1, sizeof(*nodes))) == NULL)
		return (-1);
	for (i = rt->ncfg; i < rt->ncur; i++) {
		name = svc_name(rt->cur[i]);
		if ((at = strchr(name, '@')) == NULL)
			continue;
		len = (size_t)(at - name);
		for (k = 0; k < rt->ncfg && k < s->nsvcs; k++)
			if (strlen(s->svcs[k].name) == len &&
			    strncmp(s->svcs[k].name, name, len) == 0)
				break;
		if (k == rt->ncfg || k == s->nsvcs)
			continue;
		if (add_targets(&s->svcs[k], rt->cur[i]) != 0) {
			free(nodes);
			return (-1);
		}
		nodes[k]++;
	}
	/* The nodes served: the map may hold a node under several names. */
	for (k = 0; k < rt->ncfg && k < s->nsvcs; k++)
		if (nodes[k] > 0) {
			s->svcs[k].listening /= 1 + nodes[k];
			s->svcs[k].cluster_nodes = nodes[k];
		}
	free(nodes);
	return (0);
}

struct gone {
	struct runtime *rt;
	struct status_snap *s;
	size_t cap;		/* of s->svcs */
	int failed;
};

static int
in_force(const struct runtime *rt, const char *name)
{
	size_t i;

	for (i = 0; i < rt->ncur; i++)
		if (strcmp(svc_name(rt->cur[i]), name) == 0)
			return (1);
	return (0);
}

/* An entry whose service a reload removed: its counters stay. */
static void
add_gone(void *arg, const char *name, const struct stats_svc *e)
{
	struct gone *g = arg;
	struct status_service *v;

	/* An entry made since the count (a reload's pool thread) waits. */
	if (g->failed || name[0] == '\0' || in_force(g->rt, name) ||
	    g->s->nsvcs >= g->cap)
		return;
	v = &g->s->svcs[g->s->nsvcs];
	memset(v, 0, sizeof(*v));
	g->s->nsvcs++;
	if ((v->name = strdup(name)) == NULL) {
		g->failed = 1;
		return;
	}
	stats_sum(e, &v->sum);
	v->listening = v->sum.listening > 0 ? (size_t)v->sum.listening : 0;
}

static void
count_entry(void *arg, const char *name, const struct stats_svc *e)
{

	(void)name;
	(void)e;
	(*(size_t *)arg)++;
}

struct status_snap *
rt_status_snap(void *arg)
{
	struct runtime *rt = arg;
	struct status_snap *s;
	struct gone g;
	size_t i, nentries = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	s->version = PACKAGE_VERSION;
	s->wolfssl = wolfSSL_lib_version();
	s->libuv = uv_version_string();
	s->aesni = AESNI_BUILD;
	s->format_stunnel = rt->cf->stunnel;
	s->generation = rt->generation;
	s->start_time = rt->start_time;
	s->now = rt_now();
	s->nworkers = rt->nworkers;
	s->reloads_ok = rt->reloads_ok;
	s->reloads_failed = rt->reloads_failed;
	s->last_reload_time = rt->last_reload_time;
	s->last_reload_ok = rt->last_reload_ok;
	s->reloading = rt->reloader != NULL &&
	    reloader_reloading(rt->reloader);
	if ((s->config = dup_or_null(rt->path)) == NULL && rt->path != NULL)
		goto err;
	if (rt->last_reload_error != NULL && (s->last_reload_error =
	    strdup(rt->last_reload_error)) == NULL)
		goto err;
	stats_sum(rt->global, &s->global);
	/* Room for every generation and every entry (more than needed). */
	stats_each(rt->stats, count_entry, &nentries);
	if ((s->svcs = calloc(rt->ncur + nentries + 1,
	    sizeof(*s->svcs))) == NULL)
		goto err;
	for (i = 0; i < rt->ncur && i < rt->ncfg; i++)
		if (fill_service(rt, &s->svcs[s->nsvcs++], rt->cur[i], 1) != 0)
			goto err;
	if (add_nodes(rt, s) != 0)
		goto err;
	g.rt = rt;
	g.s = s;
	g.cap = rt->ncur + nentries + 1;
	g.failed = 0;
	stats_each(rt->stats, add_gone, &g);
	if (g.failed)
		goto err;
	return (s);
err:
	status_snap_free(s);
	return (NULL);
}

/* ---- the endpoint's life (runtime_priv.h) ---- */

int
rt_status_start(struct runtime *rt, const char *addr, char *why, size_t whylen)
{
	char reason[256] = "";
	char *copy;

	if ((copy = strdup(addr)) == NULL) {
		snprintf(why, whylen, "status: out of memory");
		return (-1);
	}
	if ((rt->status = status_server_start(&rt->loop, addr, rt_status_snap,
	    rt, reason, sizeof(reason))) == NULL) {
		snprintf(why, whylen, "status: cannot listen on %s: %s", addr,
		    reason);
		free(copy);
		return (-1);
	}
	free(rt->status_addr);
	rt->status_addr = copy;
	return (0);
}

void
rt_status_stop(struct runtime *rt)
{

	status_server_stop(rt->status);
	rt->status = NULL;
	free(rt->status_addr);
	rt->status_addr = NULL;
}

/* status_addr_numeric(addr): "host:port" with an IP literal host. */
static int
status_addr_numeric(const char *addr)
{
	struct addr_spec spec;
	char why[128];
	int ip;

	if (addr_parse(addr, NULL, &spec, why, sizeof(why)) != 0)
		return (0);
	ip = spec.is_ip;
	addr_spec_free(&spec);
	return (ip);
}

void
rt_status_follow(struct runtime *rt)
{
	const char *want = rt->cf->status;
	struct status_server *old = rt->status;
	char *old_addr = rt->status_addr;
	char why[512];

	if (want == NULL || want[0] == '\0') {
		if (old != NULL) {
			log_msg(LOG_LVL_NOTICE, NULL, "status endpoint on %s "
			    "closed", old_addr);
			rt_status_stop(rt);
		}
		return;
	}
	if (old != NULL && strcmp(old_addr, want) == 0)
		return;
	/*
	 * This runs on the main loop, which carries worker 0's tunnels: a
	 * host name would be a blocking lookup here.  An IP literal binds at
	 * once; a name applies at the next start.
	 */
	if (!status_addr_numeric(want)) {
		log_msg(LOG_LVL_WARNING, NULL, "status = \"%s\": a host name "
		    "takes effect at restart, not on reload%s%s", want,
		    old != NULL ? "; still serving on " : "",
		    old != NULL ? old_addr : "");
		return;
	}
	/* Start the new one first: a failure keeps the old one serving. */
	rt->status = NULL;
	rt->status_addr = NULL;
	if (rt_status_start(rt, want, why, sizeof(why)) != 0) {
		rt->status = old;
		rt->status_addr = old_addr;
		log_msg(LOG_LVL_ERR, NULL, "%s%s%s", why, old != NULL ?
		    "; still serving on " : "", old != NULL ? old_addr : "");
		return;
	}
	status_server_stop(old);
	free(old_addr);
	log_msg(LOG_LVL_NOTICE, NULL, "status endpoint on %s", want);
}
