/*
 * Reloads off the loops: conf_load, svc_new (TLS contexts, key checks,
 * blocking getaddrinfo for delay = false) and the caller's prepare step run
 * as a job on libuv's thread pool; only the commit runs on the loop.
 *
 * Threads: a job reads the file and builds new objects that nobody else
 * sees until it is done; the caller guarantees that what prepare() reads
 * does not change meanwhile.  The results reach the loop through libuv's
 * work queue (a mutex, then uv_async), and the caller's commit hands them
 * on to the workers through their job queues (a mutex, then uv_async):
 * release/acquire pairs, so a WOLFSSL_CTX built on a pool thread is
 * complete before any worker thread first uses it, and the data path
 * still takes no lock.  Only ${cancel} is shared while the job runs
 * (atomic; the loop sets it, the job reads it).  log_msg has its own lock.
 */
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "conf.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "service.h"

struct job {
	uv_work_t req;
	struct reloader *r;
	int cancel;		/* shutting down: give up early (atomic) */
	int refresh;		/* a topology refresh: no file, no services */
	struct conf *cf;
	struct svc **svcs;
	size_t n;
	void *prepared;		/* non-NULL once everything is ready */
	char why[512];
};

struct reloader {
	uv_loop_t *loop;
	const char *path;
	int format;		/* enum conf_format, as on the command line */
	const struct reloader_ops *ops;
	void *arg;
	struct job *job;	/* the reload being prepared, or NULL */
	int again;		/* a request came in during it */
	int again_refresh;	/* a refresh was asked for during one */
	int stopped;
};

/*
 * Build generations for every service in ${cf}; NULL on any failure, or as
 * soon as ${*cancel} is set (each generation may wait for name lookups).
 */
static struct svc **
build_svcs(struct conf *cf, const int *cancel, char *why, size_t whylen)
{
	struct svc **svcs;
	size_t i;

	if ((svcs = calloc(cf->nsvcs ? cf->nsvcs : 1, sizeof(*svcs))) ==
	    NULL) {
		snprintf(why, whylen, "out of memory");
		return (NULL);
	}
	for (i = 0; i < cf->nsvcs; i++) {
		if (__atomic_load_n(cancel, __ATOMIC_RELAXED)) {
			snprintf(why, whylen, "shutting down");
			goto err;
		}
		svcs[i] = svc_new(cf->svcs[i], why, whylen);
		cf->svcs[i] = NULL;	/* owned by the generation now */
		if (svcs[i] == NULL)
			goto err;
	}
	return (svcs);
err:
	while (i-- > 0)
		svc_unref(svcs[i]);
	for (i = 0; i < cf->nsvcs; i++)
		svc_conf_free(cf->svcs[i]), cf->svcs[i] = NULL;
	free(svcs);
	return (NULL);
}

/* Free a job in any state: whatever it still holds is released. */
static void
job_free(struct job *j)
{
	size_t i;

	if (j->prepared != NULL)
		j->r->ops->discard(j->r->arg, j->prepared);
	if (j->svcs != NULL)
		for (i = 0; i < j->n; i++)
			svc_unref(j->svcs[i]);
	free(j->svcs);
	conf_free(j->cf);
	free(j);
}

/* On a pool thread: everything that can fail, nothing that changes. */
static void
work(uv_work_t *req)
{
	struct job *j = req->data;
	const size_t len = sizeof(j->why);

	if (j->refresh) {
		j->prepared = j->r->ops->prepare(j->r->arg, NULL, NULL, 0,
		    j->why, len);
		goto out;
	}
	if ((j->cf = conf_load(j->r->path, j->r->format, j->why, len)) == NULL)
		goto out;
	j->n = j->cf->nsvcs;
	if ((j->svcs = build_svcs(j->cf, &j->cancel, j->why, len)) == NULL)
		goto out;
	if (__atomic_load_n(&j->cancel, __ATOMIC_RELAXED)) {
		snprintf(j->why, len, "shutting down");
		goto out;
	}
	j->prepared = j->r->ops->prepare(j->r->arg, j->cf, j->svcs, j->n,
	    j->why, len);
out:
#ifdef FP_ECC
	wc_ecc_fp_free();	/* this thread's ECC caches (Debian's build) */
#endif
	return;
}

/* On the loop: commit, or keep the old configuration. */
static void
done(uv_work_t *req, int status)
{
	struct job *j = req->data;
	struct reloader *r = j->r;

	r->job = NULL;
	if (r->stopped || status != 0) {
		log_msg(LOG_LVL_NOTICE, NULL, "reload abandoned: shutting "
		    "down");
	} else if (j->prepared == NULL && j->refresh) {
		log_msg(LOG_LVL_WARNING, NULL, "cluster refresh failed, "
		    "keeping the node listeners in force: %s", j->why);
	} else if (j->prepared == NULL) {
		log_ev(LOG_LVL_ERR, NULL, NULL, "reload_failed", j->why,
		    "reload failed, keeping the old configuration: %s",
		    j->why);
		notify_ready(j->why);
		if (r->ops->failed != NULL)
			r->ops->failed(r->arg, j->why);
	} else {
		r->ops->commit(r->arg, j->cf, j->svcs, j->n, j->prepared);
		j->cf = NULL;
		j->svcs = NULL;
		j->prepared = NULL;
	}
	job_free(j);
	if (r->stopped) {
		r->ops->idle(r->arg);
		return;
	}
	if (r->again) {
		/* The file may have changed since that job read it. */
		r->again = 0;
		reloader_request(r);
	} else if (r->again_refresh) {
		r->again_refresh = 0;
		reloader_refresh(r);
	}
}

int
reloader_busy(const struct reloader *r)
{

	return (r != NULL && r->job != NULL);
}

struct reloader *
reloader_new(uv_loop_t *loop, const char *path, int format,
    const struct reloader_ops *ops, void *arg)
{
	struct reloader *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->loop = loop;
	r->path = path;
	r->format = format;
	r->ops = ops;
	r->arg = arg;
	return (r);
}

static int start_job(struct reloader *, int);

void
reloader_refresh(struct reloader *r)
{

	if (r->stopped)
		return;
	if (r->job != NULL) {
		/* A reload discovers too, but may have read the topology
		 * before what prompted this request. */
		r->again_refresh = 1;
		return;
	}
	(void)start_job(r, 1);
}

void
reloader_request(struct reloader *r)
{

	if (r->stopped)
		return;
	if (r->job != NULL) {
		if (!r->again)
			log_msg(LOG_LVL_NOTICE, NULL, "SIGHUP: a reload is in "
			    "progress; reloading again after it");
		r->again = 1;
		return;
	}
	log_ev(LOG_LVL_NOTICE, NULL, NULL, "reloading", NULL, "SIGHUP: "
	    "reloading %s", r->path);
	notify_reloading();
	(void)start_job(r, 0);
}

static int
start_job(struct reloader *r, int refresh)
{
	struct job *j;
	int rc;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		rc = UV_ENOMEM;
		goto err;
	}
	j->req.data = j;
	j->r = r;
	j->refresh = refresh;
	if ((rc = uv_queue_work(r->loop, &j->req, work, done)) != 0)
		goto err;
	r->job = j;
	return (0);
err:
	free(j);
	log_ev(LOG_LVL_ERR, NULL, NULL, refresh ? "refresh_failed" :
	    "reload_failed", uv_strerror(rc), "%s: %s", refresh ? "cluster "
	    "refresh failed" : "reload failed, keeping the old configuration",
	    uv_strerror(rc));
	if (!refresh)
		notify_ready(uv_strerror(rc));
	if (!refresh && r->ops->failed != NULL)
		r->ops->failed(r->arg, uv_strerror(rc));
	return (-1);
}

void
reloader_stop(struct reloader *r)
{

	r->stopped = 1;
	r->again = 0;
	if (r->job == NULL)
		return;
	__atomic_store_n(&r->job->cancel, 1, __ATOMIC_RELAXED);
	/* Fails (EBUSY) once the job runs; done() then comes after it. */
	(void)uv_cancel((uv_req_t *)&r->job->req);
}

int
reloader_reloading(const struct reloader *r)
{

	return (r->job != NULL && !r->job->refresh);
}

void
reloader_free(struct reloader *r)
{

	free(r);
}
