/* Worker event loops: listeners and tunnels, one set per thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "conf.h"
#include "listener.h"
#include "log.h"
#include "service.h"
#include "tunnel.h"
#include "worker.h"

enum job_type { JOB_APPLY, JOB_STOP };

struct job {
	int type;
	struct worker_plan *plan;
	struct job *next;
};

struct worker {
	int id;
	uv_loop_t own_loop;
	uv_loop_t *loop;
	uv_thread_t thread;
	int threaded;
	uv_async_t wake;	/* jobs are waiting */
	uv_mutex_t lock;	/* guards the job queue */
	struct job *head, *tail;
	struct tunnels *tunnels;
	struct listener **lst;	/* by plan index; NULL: failed to open */
	size_t nlst;
	uv_timer_t stop_timer;
	int stopping;
	int done;		/* under lock: wake is closed, post no more */
	void (*on_done)(void *);
	void *on_done_arg;
	int closing_handles;
};

/* A connection cleaned for reuse goes to its generation's listener. */
static int
worker_keep(void *arg, struct tunnel *t, struct svc *svc)
{
	struct worker *w = arg;
	size_t i;

	for (i = 0; i < w->nlst; i++)
		if (w->lst[i] != NULL && listener_svc(w->lst[i]) == svc)
			return (listener_keep(w->lst[i], t));
	return (-1);
}

void
worker_plan_free(struct worker_plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	if (p->applied != NULL)
		p->applied(p->applied_arg);
	for (i = 0; i < p->n; i++) {
		svc_unref(p->svcs[i]);
		if (p->fds[i] >= 0)
			close(p->fds[i]);
	}
	free(p->svcs);
	free(p->keep);
	free(p->fds);
	free(p);
}

/* preferred -> required: plaintext clients of that service must go. */
static void
close_plaintext(struct worker *w, const struct svc_conf *was,
    const struct svc_conf *now)
{

	if (!was->client && !now->client &&
	    was->encryption == ENCRYPTION_PREFERRED &&
	    now->encryption == ENCRYPTION_REQUIRED)
		tunnels_close_plaintext(w->tunnels, was->name, "encryption is "
		    "now \"required\": closing this plaintext connection");
}

/*
 * The listener array stays parallel to the plan (a listener that failed
 * to open leaves a NULL slot): the next plan's keep indices are the
 * main thread's service indices, which know nothing of the failure.
 */
static void
apply(struct worker *w, struct worker_plan *p)
{
	struct listener **lst;
	char why[512];
	char *used;
	size_t i;

	lst = calloc(p->n ? p->n : 1, sizeof(*lst));
	used = calloc(w->nlst ? w->nlst : 1, 1);
	if (lst == NULL || used == NULL) {
		log_msg(LOG_LVL_ERR, NULL, "worker %d: out of memory applying "
		    "the configuration; keeping the old one", w->id);
		goto out;
	}
	for (i = 0; i < p->n; i++) {
		if (p->keep[i] >= 0) {
			if ((size_t)p->keep[i] < w->nlst) {
				lst[i] = w->lst[p->keep[i]];
				used[p->keep[i]] = 1;
			}
			if (lst[i] == NULL) {
				log_msg(LOG_LVL_ERR, svc_name(p->svcs[i]),
				    "worker %d: not listening (the listener "
				    "failed to open earlier); change the accept"
				    " address to retry", w->id);
				continue;
			}
			close_plaintext(w, svc_conf(listener_svc(lst[i])),
			    svc_conf(p->svcs[i]));
			listener_set_svc(lst[i], p->svcs[i]);
			continue;
		}
		lst[i] = listener_open(w->loop, w->tunnels, p->svcs[i],
		    p->fds[i], p->announce, why, sizeof(why));
		p->fds[i] = -1;		/* listener_open owns it now */
		if (lst[i] == NULL)
			log_msg(LOG_LVL_ERR, NULL, "worker %d: %s", w->id, why);
	}
	for (i = 0; i < w->nlst; i++)
		if (!used[i] && w->lst[i] != NULL)
			listener_close(w->lst[i]);
	free(w->lst);
	w->lst = lst;
	w->nlst = p->n;
	lst = NULL;
	for (i = 0; i < w->nlst; i++)
		if (w->lst[i] != NULL)
			listener_set_global_limit(w->lst[i],
			    p->max_connections);
out:
	free(lst);
	free(used);
	worker_plan_free(p);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct worker *w = h->data;

	if (--w->closing_handles == 0 && w->on_done != NULL)
		w->on_done(w->on_done_arg);
}

static void
on_tunnels_gone(void *arg)
{
	struct worker *w = arg;

	/* A late worker_stop() (a second SIGTERM) must not wake a closed async. */
	uv_mutex_lock(&w->lock);
	w->done = 1;
	uv_mutex_unlock(&w->lock);
	w->closing_handles = 2;
	uv_close((uv_handle_t *)&w->wake, on_handle_closed);
	uv_close((uv_handle_t *)&w->stop_timer, on_handle_closed);
}

static void
on_stop_timeout(uv_timer_t *timer)
{
	struct worker *w = timer->data;

	log_msg(LOG_LVL_NOTICE, NULL, "%zu connections still open after "
	    "TIMEOUTclose; closing them", tunnels_count(w->tunnels));
	tunnels_close_all(w->tunnels, "shutting down");
}

static void
stop(struct worker *w)
{
	unsigned int wait_s = 0;
	size_t i;

	if (w->stopping) {
		tunnels_close_all(w->tunnels, "shutting down");
		return;
	}
	w->stopping = 1;
	for (i = 0; i < w->nlst; i++) {
		const struct svc_conf *sc;

		if (w->lst[i] == NULL)
			continue;
		sc = svc_conf(listener_svc(w->lst[i]));
		if (sc->timeout_close > wait_s)
			wait_s = sc->timeout_close;
		listener_close(w->lst[i]);
	}
	w->nlst = 0;
	uv_timer_start(&w->stop_timer, on_stop_timeout,
	    (uint64_t)wait_s * 1000, 0);
	tunnels_on_empty(w->tunnels, on_tunnels_gone, w);
}

static void
on_wake(uv_async_t *async)
{
	struct worker *w = async->data;
	struct job *j, *next;

	uv_mutex_lock(&w->lock);
	j = w->head;
	w->head = w->tail = NULL;
	uv_mutex_unlock(&w->lock);
	for (; j != NULL; j = next) {
		next = j->next;
		if (j->type == JOB_APPLY && !w->stopping)
			apply(w, j->plan);
		else if (j->type == JOB_APPLY)
			worker_plan_free(j->plan);
		else
			stop(w);
		free(j);
	}
}

static void
post(struct worker *w, int type, struct worker_plan *p)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		log_msg(LOG_LVL_ERR, NULL, "worker %d: out of memory", w->id);
		worker_plan_free(p);
		return;
	}
	j->type = type;
	j->plan = p;
	uv_mutex_lock(&w->lock);
	if (w->done) {
		/* Nothing left to apply or stop. */
		uv_mutex_unlock(&w->lock);
		worker_plan_free(p);
		free(j);
		return;
	}
	if (w->tail != NULL)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	/* Under the lock: the async cannot be closed before this returns. */
	uv_async_send(&w->wake);
	uv_mutex_unlock(&w->lock);
}

struct worker *
worker_new(int id, uv_loop_t *loop)
{
	struct worker *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (NULL);
	w->id = id;
	w->loop = loop;
	if (loop == NULL) {
		if (uv_loop_init(&w->own_loop) != 0)
			goto err0;
		w->loop = &w->own_loop;
	}
	if ((w->tunnels = tunnels_new(id)) != NULL)
		tunnels_set_keeper(w->tunnels, worker_keep, w);
	if (w->tunnels == NULL)
		goto err1;
	if (uv_mutex_init(&w->lock) != 0)
		goto err2;
	if (uv_async_init(w->loop, &w->wake, on_wake) != 0)
		goto err3;
	w->wake.data = w;
	uv_timer_init(w->loop, &w->stop_timer);
	w->stop_timer.data = w;
	return (w);
err3:
	uv_mutex_destroy(&w->lock);
err2:
	tunnels_free(w->tunnels);
err1:
	if (loop == NULL)
		(void)uv_loop_close(&w->own_loop);	/* nothing on it yet */
err0:
	free(w);
	return (NULL);
}

static void
run_thread(void *arg)
{
	struct worker *w = arg;

	uv_run(w->loop, UV_RUN_DEFAULT);
	tunnel_buffers_release();
#ifdef FP_ECC
	wc_ecc_fp_free();	/* per-thread ECC caches (Debian's build) */
#endif
}

void
worker_set_stats(struct worker *w, struct stats_cell *global)
{

	tunnels_set_stats(w->tunnels, global);
}

int
worker_start_thread(struct worker *w)
{

	if (uv_thread_create(&w->thread, run_thread, w) != 0)
		return (-1);
	w->threaded = 1;
	return (0);
}

void
worker_apply(struct worker *w, struct worker_plan *p)
{

	post(w, JOB_APPLY, p);
}

void
worker_stop(struct worker *w)
{

	post(w, JOB_STOP, NULL);
}

void
worker_on_done(struct worker *w, void (*cb)(void *), void *arg)
{

	w->on_done = cb;
	w->on_done_arg = arg;
}

void
worker_free(struct worker *w)
{
	struct job *j, *next;

	if (w == NULL)
		return;
	if (w->threaded)
		uv_thread_join(&w->thread);
	for (j = w->head; j != NULL; j = next) {
		next = j->next;
		worker_plan_free(j->plan);
		free(j);
	}
	free(w->lst);
	tunnels_free(w->tunnels);
	uv_mutex_destroy(&w->lock);
	if (w->loop == &w->own_loop && !w->threaded) {
		/* Never started (a failed start): its handles are still open. */
		if (!uv_is_closing((uv_handle_t *)&w->wake))
			uv_close((uv_handle_t *)&w->wake, NULL);
		if (!uv_is_closing((uv_handle_t *)&w->stop_timer))
			uv_close((uv_handle_t *)&w->stop_timer, NULL);
		(void)uv_run(&w->own_loop, UV_RUN_DEFAULT);
	}
	/* Everything was closed above or by the drain; say so if not. */
	if (w->loop == &w->own_loop && uv_loop_close(&w->own_loop) != 0)
		log_msg(LOG_LVL_WARNING, NULL, "worker %d: handles still open "
		    "at exit", w->id);
	free(w);
}
