/*
 * The RESP filter's side of a tunnel (resp_filter.c does the protocol):
 * the prepare phase's AUTH and ROLE, dropping pooled connections after a
 * READONLY, and keeping a connection for the next client after RESET.
 *
 * The filter reports from inside a read (a relay input).  Moving to another
 * phase there would re-enter the read path, so a report only records what
 * to do, and the phase timer, fired at once, does it (tunnel_defer).
 */
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "conf.h"
#include "iam.h"
#include "log.h"
#include "relay.h"
#include "resp_filter.h"
#include "service.h"
#include "tunnel.h"
#include "tunnel_priv.h"

enum { D_NONE, D_PREPARED, D_RECYCLED, D_RECONNECT, D_CLUSTER };

/* A reply held for an unmapped cluster node: how often to look again. */
#define CLUSTER_POLL_MS	20

/* role = primary: pauses between connections to a node that is not. */
#define ROLE_RETRY_MIN_MS	100
#define ROLE_RETRY_MAX_MS	1000

static void
on_prepared(void *arg, int result, const char *why)
{
	struct tunnel *t = arg;

	t->rf_result = result;
	snprintf(t->last_err, sizeof(t->last_err), "%s", why);
	tunnel_defer(t, D_PREPARED);
}

static void
on_recycled(void *arg, int result, const char *why)
{
	struct tunnel *t = arg;

	t->rf_result = result;
	snprintf(t->last_err, sizeof(t->last_err), "%s", why);
	tunnel_defer(t, D_RECYCLED);
}

/* Every reply the client was owed is out: let it go (FIN after them). */
static void
on_client_done(void *arg)
{
	struct tunnel *t = arg;

	t->released = uv_now(t->loop);
	(void)relay_eof(t->relay, RELAY_DOWN);
	tunnel_arm_timer(t);	/* now 1 s for RESET and AUTH */
}

static void
on_readonly(void *arg)
{
	struct tunnel *t = arg;

	log_msg(LOG_LVL_NOTICE, svc_name(t->svc), "%s: upstream %s answered "
	    "READONLY: it is no longer the primary", t->peer, t->upaddr);
	tunnels_drop_pooled(t->set, t->svc, t->upaddr, "pooled connection "
	    "dropped: its server answered READONLY (failover)");
}

/* Cluster services: the node map replies are rewritten with. */
static const struct cmap *
on_cluster_map(void *arg)
{
	struct tunnel *t = arg;

	return (cluster_map(svc_cluster(t->svc)));
}

/*
 * A reply names a node the map lacks: the filter holds it; ask for a
 * refresh and look again from the timer until the map has the node.
 */
static void
on_cluster_miss(void *arg, const char *host, unsigned int port)
{
	struct tunnel *t = arg;

	cluster_request_refresh(svc_cluster(t->svc), host, port);
	t->cluster_wait = uv_now(t->loop);	/* this reply's wait */
	tunnel_defer_after(t, D_CLUSTER, CLUSTER_POLL_MS);
}

/* Deliver what a cluster miss held, once the map has the node or time
 * is up (TIMEOUTconnect, at least 1 s: a refresh takes a discovery). */
static void
cluster_retry(struct tunnel *t)
{
	uint64_t limit = (uint64_t)t->sc->timeout_connect * 1000;
	int rc;

	if (limit < 1000)
		limit = 1000;
	rc = resp_filter_cluster_retry(t->rf,
	    uv_now(t->loop) - t->cluster_wait >= limit);
	if (rc == 1) {
		tunnel_defer_after(t, D_CLUSTER, CLUSTER_POLL_MS);
		return;
	}
	t->cluster_wait = 0;
	if (rc == 0) {
		end_maybe_resume(&t->srv);
		tunnel_arm_timer(t);
	}
}

static void
on_cluster_rewritten(void *arg)
{
	struct tunnel *t = arg;

	STATS_INC(t->st, redirects_rewritten);
}

/* The client sent its last command: clean the connection for reuse? */
static int
on_client_eof(void *arg)
{
	struct tunnel *t = arg;

	if (!t->sc->reuse || (t->state != T_RELAY && t->state != T_DRAIN))
		return (0);
	if (t->cluster_wait != 0 ||
	    svc_target_flag(t->svc, t->target, SVC_T_NO_RESET) ||
	    t->close_after || !t->srv.open || t->srv.read_done ||
	    t->srv.write_done || !resp_filter_reusable(t->rf)) {
		STATS_INC(t->st, reuse[ST_REUSE_DISCARDED]);
		t->st_reuse = 1;
		return (0);
	}
	t->st_reuse = 1;	/* kept or discarded, from RECYCLE on */
	resp_filter_recycle(t->rf);
	tunnel_enter_recycle(t);
	return (1);
}

/* An IAM service's AUTH: iamUser and the token source's current token. */
static int
on_auth(void *arg, char *user, size_t ulen, char *pass, size_t plen,
    char *why, size_t whylen)
{
	struct tunnel *t = arg;
	struct iam_svc *s = svc_iam(t->svc);

	if (s == NULL) {
		snprintf(why, whylen, "no IAM token source for the service");
		return (-1);
	}
	return (iam_auth(s, user, ulen, pass, plen, why, whylen));
}

void
tunnel_redis_prepare(struct tunnel *t)
{
	struct rf_hooks h = { on_prepared, on_client_done, on_recycled,
	    on_readonly, on_client_eof, t, NULL, NULL, NULL, NULL, NULL };

	if (t->sc->iam_user != NULL) {
		h.auth = on_auth;
		h.reauthed = tunnel_reauth_report;
	}

	if (t->sc->cluster) {
		h.cluster_map = on_cluster_map;
		h.cluster_miss = on_cluster_miss;
		h.cluster_rewritten = on_cluster_rewritten;
	}

	if (t->rf == NULL &&
	    (t->rf = resp_filter_attach(t->relay, t->sc, &h,
	    svc_name(t->svc))) == NULL) {
		tunnel_finish(t, LOG_LVL_ERR, "out of memory for the RESP "
		    "filter");
		return;
	}
	tunnel_reauth_start(t, uv_now(t->loop));
	resp_filter_prepare(t->rf);
}

static void
keep(struct tunnel *t)
{
	static unsigned long serial;
	char was[64];

	snprintf(was, sizeof(was), "%s", t->peer);
	log_msg(LOG_LVL_NOTICE, svc_name(t->svc), "%s: client done: %llu "
	    "bytes to server, %llu bytes to client, %.3f s", t->peer,
	    (unsigned long long)relay_bytes_out(t->relay, RELAY_UP),
	    (unsigned long long)relay_bytes_out(t->relay, RELAY_DOWN),
	    (double)(uv_now(t->loop) - t->t_start) / 1000.0);
	tunnel_detach_client(t);
	relay_restart(t->relay);
	resp_filter_restart(t->rf);
	tunnel_reauth_start(t, t->released);	/* AUTH went after RESET */
	t->reused = 1;
	t->uses++;
	t->close_after = 0;
	t->close_end = NULL;
	snprintf(t->peer, sizeof(t->peer), "kept #%lu",
	    __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED));
	log_msg(LOG_LVL_INFO, svc_name(t->svc), "%s: after RESET, the "
	    "connection of %s to %s is kept for reuse (%lu clients so far)",
	    t->peer, was, t->upaddr, t->uses);
	if (tunnels_keep(t->set, t) != 0)
		tunnel_finish(t, LOG_LVL_INFO, "not kept: no room (reuseMax) "
		    "or the service was reloaded");
}

/*
 * The old connection is closed: forget it and connect again (re-resolving
 * the name, which a failover moves) after a pause.
 */
static void
on_srv_closed(uv_handle_t *h)
{
	struct end *e = h->data;
	struct tunnel *t = e->t;
	uint64_t pause;

	if (TUNNEL_UPSTREAM_GONE(t)) {
		tunnel_unpend(t);
		return;
	}
	t->pending--;
	wolfSSL_free(e->ssl);
	e->ssl = NULL;
	end_forget(e);
	t->probed = 0;
	relay_restart(t->relay);
	resp_filter_restart(t->rf);
	pause = (uint64_t)ROLE_RETRY_MIN_MS << (t->uses < 4 ? t->uses : 4);
	tunnel_defer_after(t, D_RECONNECT, pause < ROLE_RETRY_MAX_MS ? pause :
	    ROLE_RETRY_MAX_MS);
}

/* role = primary and the node is not: another connection, in time. */
static void
role_retry(struct tunnel *t)
{
	uint64_t spent = uv_now(t->loop) - t->t_start;

	if (!t->cli.open) {
		tunnel_finish(t, LOG_LVL_NOTICE, "%s", t->last_err);
		return;		/* pre-warmed: the pool tries again */
	}
	if (spent + ROLE_RETRY_MIN_MS >= (uint64_t)t->sc->timeout_connect *
	    1000) {
		tunnel_refuse(t, LOG_LVL_ERR, "%s; gave up after %.1f s "
		    "(TIMEOUTconnect)", t->last_err, (double)spent / 1000.0);
		return;
	}
	log_msg(LOG_LVL_NOTICE, svc_name(t->svc), "%s: %s %s; connecting "
	    "again", t->peer, t->upaddr, t->last_err);
	t->uses++;	/* counts attempts until a client is served */
	end_read_stop(&t->srv);
	t->srv.open = 0;
	t->pending++;
	uv_close((uv_handle_t *)&t->srv.tcp, on_srv_closed);
}

void
tunnel_redis_deferred(struct tunnel *t)
{
	int what = t->deferred;

	t->deferred = D_NONE;
	if (what == D_PREPARED && t->state == T_PREPARE) {
		if (t->rf_result == RF_OK) {
			/* role = replica found a master: said once a target. */
			if (t->last_err[0] != '\0' && !svc_target_set_flag(t->svc,
			    t->target, SVC_T_MASTER_NOTED))
				log_msg(LOG_LVL_NOTICE, svc_name(t->svc),
				    "%s: %s %s", t->peer, t->upaddr, t->last_err);
			t->last_err[0] = '\0';
			t->uses = 0;
			tunnel_prepared(t);
		} else if (t->rf_result == RF_RETRY)
			role_retry(t);
		else
			tunnel_refuse(t, LOG_LVL_ERR, "%s", t->last_err);
		return;
	}
	if (what == D_CLUSTER && t->cluster_wait != 0 && t->state != T_DEAD) {
		cluster_retry(t);
		return;
	}
	if (what == D_RECONNECT && t->state == T_PREPARE) {
		tunnel_reconnect(t);
		return;
	}
	if (what == D_RECYCLED && t->state == T_RECYCLE) {
		if (t->rf_result == RF_OK && (!t->srv.open || t->srv.read_done ||
		    t->srv.transport_eof || t->srv.write_done || t->close_after))
			tunnel_finish(t, LOG_LVL_INFO, "the server closed its "
			    "side: connection not reused");
		else if (t->rf_result == RF_OK && t->cli.open &&
		    !t->cli.shut_complete) {
			/* The client's last bytes are still queued: wait. */
			tunnel_defer_after(t, D_RECYCLED, 5);
			if (uv_now(t->loop) > t->released + RECYCLE_MAX_MS)
				tunnel_finish(t, LOG_LVL_INFO, "the client did "
				    "not take its last replies: connection not "
				    "reused");
		} else if (t->rf_result == RF_OK)
			keep(t);
		else if (resp_filter_no_reset(t->rf) &&
		    !svc_target_set_flag(t->svc, t->target, SVC_T_NO_RESET))
			tunnel_finish(t, LOG_LVL_NOTICE, "%s: %s", t->upaddr,
			    t->last_err);	/* once per target */
		else
			tunnel_finish(t, LOG_LVL_INFO, "%s", t->last_err);
		return;
	}
	tunnel_arm_timer(t);
}
