/*
 * What a missed phase deadline means (tunnel.c's table of phases points
 * here): each phase's own words, and the failure reason for the counters.
 */
#include <stdint.h>

#include "conf.h"
#include "log.h"
#include "stats.h"
#include "tunnel.h"
#include "tunnel_priv.h"

void
tunnel_expire_sniff(struct tunnel *t)
{

	tunnel_finish(t, LOG_LVL_ERR, "client sent nothing for %u s",
	    t->sc->timeout_connect);
}

void
tunnel_expire_handshake(struct tunnel *t)
{

	tunnel_fail(t, ST_FAIL_TIMEOUT);
	if (t->sc->client)
		tunnel_refuse(t, LOG_LVL_ERR, "upstream %s:%d: handshake timed "
		    "out after %u s", t->uphost, t->upport,
		    t->sc->timeout_connect);
	else
		tunnel_finish(t, LOG_LVL_ERR, "client TLS handshake timed out "
		    "after %u s", t->sc->timeout_connect);
}

void
tunnel_expire_prepare(struct tunnel *t)
{

	tunnel_fail(t, ST_FAIL_TIMEOUT);
	tunnel_refuse(t, LOG_LVL_ERR, "upstream %s:%d: preparing the "
	    "connection timed out after %u s", t->uphost, t->upport,
	    t->sc->timeout_connect);
}

void
tunnel_expire_pooled(struct tunnel *t)
{

	if (t->reused)
		tunnel_finish(t, LOG_LVL_INFO, "kept connection closed after "
		    "%u s idle (reuseIdle)", t->sc->reuse_idle);
	else
		tunnel_finish(t, LOG_LVL_INFO, "pre-warmed connection recycled "
		    "after %d s idle", PREWARM_MAX_IDLE_MS / 1000);
}

void
tunnel_expire_recycle(struct tunnel *t)
{

	if (t->released == 0)
		tunnel_finish(t, LOG_LVL_INFO, "TIMEOUTclose exceeded after %u "
		    "s while the client was owed replies; connection not "
		    "reused", t->sc->timeout_close);
	else
		tunnel_finish(t, LOG_LVL_INFO, "RESET not answered within %d "
		    "ms: connection not reused", RECYCLE_MAX_MS);
}

void
tunnel_expire_relay(struct tunnel *t)
{

	tunnel_finish(t, LOG_LVL_INFO, "TIMEOUTidle exceeded after %u s",
	    t->sc->timeout_idle);
}

void
tunnel_expire_drain(struct tunnel *t)
{

	tunnel_finish(t, LOG_LVL_INFO, "TIMEOUTclose exceeded after %u s",
	    t->sc->timeout_close);
}
