/*
 * A tunnel's re-authentication clock, for services that authenticate with
 * ElastiCache IAM tokens: the server closes a connection iamLifetime after
 * its last AUTH, so every iamReauth the tunnel asks the RESP filter to
 * send AUTH again at a safe point (resp_filter_reauth).  A connection
 * that reaches none by the deadline W (iamLifetime less a margin) is
 * logged once; a RESP2 subscriber (or MONITOR), which never reaches one,
 * is then closed cleanly so that its client reconnects.  Pooled
 * connections past iamReauth are closed instead of being handed out.
 *
 * All times are uv_now() ms.  The tunnel's single timer wakes for the
 * clock too (tunnel.c: deadline() takes the earlier of the phase's and
 * tunnel_reauth_due()); the work runs from that timer, never from a read.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "relay.h"
#include "resp_filter.h"
#include "service.h"
#include "tunnel.h"
#include "tunnel_priv.h"

/* After a failure: try again in half the time left, at most this. */
#define RETRY_MAX_MS	(60 * 1000)
#define RETRY_MIN_MS	1000
/* W is iamLifetime less min(this, (iamLifetime - iamReauth) / 2). */
#define MARGIN_MAX_MS	(300 * 1000)

static int
iam(const struct tunnel *t)
{

	return (t->sc->iam_user != NULL && t->rf != NULL && t->auth_at != 0);
}

/* The deadline W: past it the server may close the connection soon. */
static uint64_t
deadline_w(const struct tunnel *t)
{
	uint64_t life = (uint64_t)t->sc->iam_lifetime * 1000;
	uint64_t margin = (life - (uint64_t)t->sc->iam_reauth * 1000) / 2;

	if (margin > MARGIN_MAX_MS)
		margin = MARGIN_MAX_MS;
	if (margin < 1000)
		margin = 1000;
	return (t->auth_at + (life > margin ? life - margin : 0));
}

/* A failed attempt: the next one in half the time left to W, bounded. */
static void
retry_later(struct tunnel *t, uint64_t now)
{
	uint64_t w = deadline_w(t), delay;

	delay = w > now ? (w - now) / 2 : RETRY_MIN_MS;
	if (delay > RETRY_MAX_MS)
		delay = RETRY_MAX_MS;
	if (delay < RETRY_MIN_MS)
		delay = RETRY_MIN_MS;
	t->reauth_next = now + delay;
}

void
tunnel_reauth_start(struct tunnel *t, uint64_t at)
{

	if (t->sc->iam_user == NULL)
		return;
	t->auth_at = at;
	t->reauth_next = at + (uint64_t)t->sc->iam_reauth * 1000;
	t->reauth_sent = t->reauth_asked = 0;
	t->reauth_warned = 0;
}

uint64_t
tunnel_reauth_due(const struct tunnel *t)
{
	uint64_t w;

	if (!iam(t))
		return (0);
	if (t->state == T_POOLED)
		return (t->auth_at + (uint64_t)t->sc->iam_reauth * 1000);
	if (t->state != T_RELAY)
		return (0);
	w = t->reauth_warned ? 0 : deadline_w(t);
	if (t->reauth_next != 0 && (w == 0 || t->reauth_next < w))
		return (t->reauth_next);
	return (w);
}

/* Ask the filter for AUTH now or at its next safe point. */
static void
ask(struct tunnel *t, uint64_t now)
{
	char why[160], esc[200];

	t->reauth_next = 0;
	if (t->reauth_asked == 0)
		t->reauth_asked = now;
	switch (resp_filter_reauth(t->rf, why, sizeof(why))) {
	case 1:
		t->reauth_sent = now;
		break;
	case 0:
		log_msg(LOG_LVL_DEBUG, svc_name(t->svc), "%s: re-authentication "
		    "waits for a safe point (%s)", t->peer,
		    resp_filter_unsafe(t->rf));
		break;
	default:
		log_msg(LOG_LVL_WARNING, svc_name(t->svc), "%s: IAM "
		    "re-authentication failed: %s", t->peer,
		    log_escape(esc, sizeof(esc), why, strlen(why)));
		retry_later(t, now);
		break;
	}
}

/* At W, not re-authenticated: say so once; a subscriber is let go. */
static void
at_deadline(struct tunnel *t, uint64_t now)
{
	const char *why = resp_filter_unsafe(t->rf);

	t->reauth_warned = 1;
	log_msg(LOG_LVL_WARNING, svc_name(t->svc), "%s: no safe point to "
	    "re-authenticate since %.1f s ago (%s); the server closes "
	    "connections %u s after AUTH", t->peer, t->reauth_asked != 0 ?
	    (double)(now - t->reauth_asked) / 1000.0 : 0.0, why != NULL ?
	    why : t->reauth_sent != 0 ? "no reply to AUTH yet" :
	    "the token source failed", t->sc->iam_lifetime);
	if (!resp_filter_stuck(t->rf))
		return;
	log_msg(LOG_LVL_NOTICE, svc_name(t->svc), "%s: closing a RESP2 "
	    "subscriber before the IAM connection limit so that it "
	    "reconnects", t->peer);
	relay_close_after(t->relay, RELAY_DOWN, "closed before the IAM "
	    "connection limit (iamLifetime) so that the client reconnects");
}

int
tunnel_reauth_tick(struct tunnel *t)
{
	uint64_t now = uv_now(t->loop), due = tunnel_reauth_due(t);

	if (due == 0 || now < due)
		return (0);
	if (t->state == T_POOLED) {
		tunnel_finish(t, LOG_LVL_INFO, "pooled connection closed: its "
		    "AUTH is older than iamReauth (%u s)", t->sc->iam_reauth);
		return (1);
	}
	if (t->reauth_next != 0 && now >= t->reauth_next)
		ask(t, now);
	if (!t->reauth_warned && now >= deadline_w(t))
		at_deadline(t, now);
	return (1);
}

void
tunnel_reauth_report(void *arg, int result, const char *why)
{
	struct tunnel *t = arg;
	uint64_t now = uv_now(t->loop);
	char esc[200];

	if (t->state == T_DEAD || t->sc->iam_user == NULL)
		return;
	if (result == RF_SENT) {
		t->reauth_sent = now;
		return;
	}
	if (result == RF_OK) {
		log_msg(LOG_LVL_INFO, svc_name(t->svc), "%s: re-authenticated "
		    "(IAM) after %.1f s", t->peer,
		    (double)(now - t->auth_at) / 1000.0);
		tunnel_reauth_start(t, t->reauth_sent != 0 ? t->reauth_sent :
		    now);
	} else {
		log_msg(LOG_LVL_WARNING, svc_name(t->svc), "%s: IAM "
		    "re-authentication failed: %s", t->peer,
		    log_escape(esc, sizeof(esc), why, strlen(why)));
		t->reauth_sent = 0;
		retry_later(t, now);
	}
	tunnel_arm_timer(t);	/* the clock moved */
}
