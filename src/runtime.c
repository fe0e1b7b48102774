/*
 * The running daemon: listeners, signals, reload and graceful stop, all
 * on one libuv loop.  A reload is commit-or-rollback: the new file is read,
 * every service generation and every new listener is built, and only when
 * all of that succeeded does anything change.
 */
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "config.h"

#include "conf.h"
#include "daemon.h"
#include "listener.h"
#include "log.h"
#include "runtime.h"
#include "service.h"
#include "tunnel.h"

struct runtime {
	uv_loop_t loop;
	const char *path;
	int debug_override;
	struct conf *cf;		/* globals; services moved out */
	struct listener **lst;
	size_t nlst;
	struct tunnels *tunnels;
	uv_signal_t sig_hup, sig_term, sig_int, sig_usr1;
	uv_timer_t stop_timer;
	int stopping;
};

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
static void
apply_limits(struct runtime *rt, int announce)
{
	struct rlimit rl;
	size_t max = rt->cf->max_connections, i;

	if (max == 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur > 64 ? (size_t)(rl.rlim_cur - 32) / 2 : 16;
	for (i = 0; i < rt->nlst; i++)
		listener_set_global_limit(rt->lst[i], max);
	if (announce)
		log_msg(LOG_LVL_INFO, NULL, "at most %zu connections at once "
		    "(%s)", max, rt->cf->max_connections ? "maxConnections" :
		    "from the open-file limit");
}

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

/* Build generations for every service in ${cf}; NULL on any failure. */
static struct svc **
build_svcs(struct conf *cf, char *why, size_t whylen)
{
	struct svc **svcs;
	size_t i;

	if ((svcs = calloc(cf->nsvcs, sizeof(*svcs))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (NULL);
	}
	for (i = 0; i < cf->nsvcs; i++) {
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

static void
reload(struct runtime *rt)
{
	char why[512];
	struct conf *cf;
	struct svc **svcs = NULL;
	struct listener **lst = NULL, **keep = NULL;
	size_t i, j, n;

	log_msg(LOG_LVL_NOTICE, NULL, "SIGHUP: reloading %s", rt->path);
	if ((cf = conf_load(rt->path, why, sizeof(why))) == NULL)
		goto fail;
	n = cf->nsvcs;
	if ((svcs = build_svcs(cf, why, sizeof(why))) == NULL)
		goto fail;
	if ((lst = calloc(n, sizeof(*lst))) == NULL ||
	    (keep = calloc(rt->nlst, sizeof(*keep))) == NULL) {
		snprintf(why, sizeof(why), "out of memory");
		goto fail;
	}
	/* Keep the socket of every service whose accept address stays. */
	for (i = 0; i < n; i++) {
		for (j = 0; j < rt->nlst; j++) {
			if (keep[j] == NULL && svc_conf_same_accept(
			    svc_conf(listener_svc(rt->lst[j])),
			    svc_conf(svcs[i]))) {
				keep[j] = lst[i] = rt->lst[j];
				break;
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (lst[i] != NULL)
			continue;
		if ((lst[i] = listener_new(&rt->loop, rt->tunnels, svcs[i],
		    why, sizeof(why))) == NULL)
			goto rollback;
	}

	/* Commit. */
	for (j = 0; j < rt->nlst; j++)
		if (keep[j] == NULL)
			listener_close(rt->lst[j]);
	for (i = 0; i < n; i++) {
		const struct svc_conf *was = svc_conf(listener_svc(lst[i]));

		/* preferred -> required: plaintext clients must go now. */
		if (!svc_conf(svcs[i])->client && !was->client &&
		    was->encryption == ENCRYPTION_PREFERRED &&
		    svc_conf(svcs[i])->encryption == ENCRYPTION_REQUIRED)
			tunnels_close_plaintext(rt->tunnels, was->name,
			    "encryption is now \"required\": closing this "
			    "plaintext connection");
		listener_set_svc(lst[i], svcs[i]);
		warn_unverified(svcs[i]);
		svc_unref(svcs[i]);
	}
	free(rt->lst);
	rt->lst = lst;
	rt->nlst = n;
	if (!same_str(cf->pid, rt->cf->pid) ||
	    !same_str(cf->setuid, rt->cf->setuid) ||
	    !same_str(cf->setgid, rt->cf->setgid) ||
	    !same_str(cf->chroot, rt->cf->chroot))
		log_msg(LOG_LVL_WARNING, NULL, "pid, setuid, setgid and chroot "
		    "changes take effect only after a restart");
	if (!same_str(cf->output, rt->cf->output) &&
	    log_open(cf->output, 0, rt->debug_override >= 0 ?
	    rt->debug_override : cf->debug) != 0) {
		log_msg(LOG_LVL_ERR, NULL, "cannot open the new log file %s; "
		    "keeping the old one", cf->output);
		swap_str(&cf->output, &rt->cf->output);
	}
	if (rt->debug_override < 0)
		log_set_level(cf->debug);
	/* The pidfile stays where this process wrote it. */
	swap_str(&cf->pid, &rt->cf->pid);
	conf_free(rt->cf);
	rt->cf = cf;
	free(keep);
	free(svcs);
	apply_limits(rt, 0);
	log_msg(LOG_LVL_NOTICE, NULL, "configuration reloaded: %zu services",
	    n);
	return;

rollback:
	for (i = 0; i < n; i++) {
		int kept = 0;

		for (j = 0; j < rt->nlst; j++)
			kept |= (keep[j] != NULL && keep[j] == lst[i]);
		if (lst[i] != NULL && !kept)
			listener_close(lst[i]);
	}
fail:
	if (svcs != NULL)
		for (i = 0; i < cf->nsvcs; i++)
			svc_unref(svcs[i]);
	free(svcs);
	free(lst);
	free(keep);
	conf_free(cf);
	log_msg(LOG_LVL_ERR, NULL, "reload failed, keeping the old "
	    "configuration: %s", why);
}

/* ---- stopping ----------------------------------------------------------- */

static void
close_loop_handles(struct runtime *rt)
{

	uv_close((uv_handle_t *)&rt->sig_hup, NULL);
	uv_close((uv_handle_t *)&rt->sig_term, NULL);
	uv_close((uv_handle_t *)&rt->sig_int, NULL);
	uv_close((uv_handle_t *)&rt->sig_usr1, NULL);
	uv_close((uv_handle_t *)&rt->stop_timer, NULL);
}

static void
on_tunnels_gone(void *arg)
{

	close_loop_handles(arg);
}

static void
on_stop_timeout(uv_timer_t *timer)
{
	struct runtime *rt = timer->data;

	log_msg(LOG_LVL_NOTICE, NULL, "%zu connections still open after "
	    "TIMEOUTclose; closing them", tunnels_count(rt->tunnels));
	tunnels_close_all(rt->tunnels, "shutting down");
}

static void
stop(struct runtime *rt, const char *signame)
{
	unsigned int wait_s = 0;
	size_t i;

	if (rt->stopping) {
		log_msg(LOG_LVL_NOTICE, NULL, "%s again: closing all "
		    "connections now", signame);
		tunnels_close_all(rt->tunnels, "shutting down");
		return;
	}
	rt->stopping = 1;
	log_msg(LOG_LVL_NOTICE, NULL, "%s: shutting down, %zu connections "
	    "open", signame, tunnels_count(rt->tunnels));
	for (i = 0; i < rt->nlst; i++) {
		const struct svc_conf *sc = svc_conf(listener_svc(rt->lst[i]));

		if (sc->timeout_close > wait_s)
			wait_s = sc->timeout_close;
		listener_close(rt->lst[i]);
	}
	rt->nlst = 0;
	uv_signal_stop(&rt->sig_hup);
	uv_timer_start(&rt->stop_timer, on_stop_timeout,
	    (uint64_t)wait_s * 1000, 0);
	tunnels_on_empty(rt->tunnels, on_tunnels_gone, rt);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct runtime *rt = h->data;

	switch (signum) {
	case SIGHUP:
		if (!rt->stopping)
			reload(rt);
		break;
	case SIGUSR1:
		if (log_reopen() == 0)
			log_msg(LOG_LVL_NOTICE, NULL, "log file reopened");
		else
			log_msg(LOG_LVL_ERR, NULL, "cannot reopen the log file;"
			    " still writing to the old one");
		break;
	default:
		stop(rt, signum == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
}

/* ---- startup ------------------------------------------------------------ */

static void
startup_error(const char *why)
{

	fprintf(stderr, "redtun: %s\n", why);
	log_msg(LOG_LVL_ERR, NULL, "%s", why);
}

static int
start_listeners(struct runtime *rt, struct svc **svcs, size_t n)
{
	char why[512];
	size_t i;

	if ((rt->lst = calloc(n, sizeof(*rt->lst))) == NULL)
		return (-1);
	for (i = 0; i < n; i++) {
		rt->lst[i] = listener_new(&rt->loop, rt->tunnels, svcs[i], why,
		    sizeof(why));
		if (rt->lst[i] == NULL) {
			startup_error(why);
			return (-1);
		}
		rt->nlst++;
		warn_unverified(svcs[i]);
	}
	return (0);
}

static void
init_signal(struct runtime *rt, uv_signal_t *h, int signum)
{

	uv_signal_init(&rt->loop, h);
	h->data = rt;
	uv_signal_start(h, on_signal, signum);
}

int
runtime_run(const char *path, struct conf *cf, struct svc **svcs,
    int foreground, int debug_override)
{
	struct runtime rt;
	char why[512];
	size_t i, n = cf->nsvcs;
	int status = 2, pid_written = 0;

	memset(&rt, 0, sizeof(rt));
	rt.path = path;
	rt.cf = cf;
	rt.debug_override = debug_override;
	if (uv_loop_init(&rt.loop) != 0 ||
	    (rt.tunnels = tunnels_new()) == NULL) {
		startup_error("cannot create the event loop");
		goto out;
	}
	if (start_listeners(&rt, svcs, n))
		goto out;
	apply_limits(&rt, 1);
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
	init_signal(&rt, &rt.sig_hup, SIGHUP);
	init_signal(&rt, &rt.sig_term, SIGTERM);
	init_signal(&rt, &rt.sig_int, SIGINT);
	init_signal(&rt, &rt.sig_usr1, SIGUSR1);
	uv_timer_init(&rt.loop, &rt.stop_timer);
	rt.stop_timer.data = &rt;
	log_msg(LOG_LVL_NOTICE, NULL, "redtun %s started: %zu services, pid "
	    "%ld%s", PACKAGE_VERSION, n, (long)getpid(),
	    foreground ? ", foreground" : "");
	daemon_ready();
	uv_run(&rt.loop, UV_RUN_DEFAULT);
	status = 0;
	log_msg(LOG_LVL_NOTICE, NULL, "exiting");
out:
	for (i = 0; i < n; i++)
		svc_unref(svcs[i]);
	if (status != 0) {
		/* Startup failed: close what was opened and let it settle. */
		for (i = 0; i < rt.nlst; i++)
			listener_close(rt.lst[i]);
		uv_run(&rt.loop, UV_RUN_NOWAIT);
		daemon_fail(status);
	}
	if (pid_written)
		daemon_pidfile_remove(rt.cf->pid);
	free(rt.lst);
	tunnels_free(rt.tunnels);
	(void)uv_loop_close(&rt.loop);
	conf_free(rt.cf);
	return (status);
}
