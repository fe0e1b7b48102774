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

#include "conf.h"
#include "log.h"
#include "relay.h"
#include "resp_filter.h"
#include "service.h"
#include "tunnel.h"
#include "tunnel_priv.h"

enum { D_NONE, D_PREPARED, D_RECYCLED };

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

	(void)relay_eof(t->relay, RELAY_DOWN);
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

/* The client sent its last command: clean the connection for reuse? */
static int
on_client_eof(void *arg)
{
	struct tunnel *t = arg;

	if (!t->sc->reuse || (t->state != T_RELAY && t->state != T_DRAIN) ||
	    t->close_after || !t->srv.open || t->srv.read_done ||
	    t->srv.write_done || !resp_filter_reusable(t->rf))
		return (0);
	resp_filter_recycle(t->rf);
	tunnel_enter_recycle(t);
	return (1);
}

void
tunnel_redis_prepare(struct tunnel *t)
{
	struct rf_hooks h = { on_prepared, on_client_done, on_recycled,
	    on_readonly, on_client_eof, t };

	if (t->rf == NULL &&
	    (t->rf = resp_filter_attach(t->relay, t->sc, &h,
	    svc_name(t->svc))) == NULL) {
		tunnel_finish(t, LOG_LVL_ERR, "out of memory for the RESP "
		    "filter");
		return;
	}
	resp_filter_prepare(t->rf);
}

static void
keep(struct tunnel *t)
{
	static unsigned long serial;
	char was[64];

	snprintf(was, sizeof(was), "%s", t->peer);
	tunnel_detach_client(t);
	relay_restart(t->relay);
	resp_filter_restart(t->rf);
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

void
tunnel_redis_deferred(struct tunnel *t)
{
	int what = t->deferred;

	t->deferred = D_NONE;
	if (what == D_PREPARED && t->state == T_PREPARE) {
		if (t->rf_result == RF_OK) {
			if (t->last_err[0] != '\0')
				log_msg(LOG_LVL_NOTICE, svc_name(t->svc),
				    "%s: %s", t->peer, t->last_err);
			t->last_err[0] = '\0';
			tunnel_prepared(t);
		} else
			tunnel_refuse(t, LOG_LVL_ERR, "%s", t->last_err);
		return;
	}
	if (what == D_RECYCLED && t->state == T_RECYCLE) {
		if (t->rf_result == RF_OK)
			keep(t);
		else
			tunnel_finish(t, LOG_LVL_NOTICE, "%s", t->last_err);
		return;
	}
	tunnel_arm_timer(t);
}
