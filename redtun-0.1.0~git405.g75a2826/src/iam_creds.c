/*
 * ElastiCache IAM authentication for the runtime (iam.h): the AWS
 * credentials in use, from iam_read_static or the HTTP providers, fetched
 * again before they expire and retried with back-off.  Main loop, but
 * iam_read_static (any thread).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "aws_creds.h"
#include "iam.h"
#include "iam_priv.h"
#include "log.h"
#include "sigv4.h"

static void fetch_start(struct iam *);

void
iam_say(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

const char *
iam_iso(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
	return (buf);
}

void
iam_wipe(void *p, size_t len)
{
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
}

void
iam_read_static(struct iam *iam)
{
	struct aws_creds *c = NULL;
	char why[256] = "";
	int r;

	r = aws_creds_static(&c, why, sizeof(why));
	uv_mutex_lock(&iam->lock);
	aws_creds_free(iam->st_creds);
	iam->st_creds = r == 1 ? c : NULL;
	iam->st = r == 1 ? ST_CREDS : r == 0 ? ST_UNSET : ST_ERROR;
	iam_say(iam->st_why, sizeof(iam->st_why), "%s", why);
	uv_mutex_unlock(&iam->lock);
}

static void
cred_timer_cb(uv_timer_t *h)
{
	struct iam *iam = h->data;

	if (!iam->stopped && iam->fetch == NULL)
		fetch_start(iam);
}

/* Log the credentials now in use: their source and key id, no secret. */
static void
adopt(struct iam *iam, struct aws_creds *c)
{
	char t[32], exp[64] = "";

	if (c->expiration != 0)
		iam_say(exp, sizeof(exp), ", expiring at %s",
		    iam_iso(c->expiration, t, sizeof(t)));
	log_msg(LOG_LVL_NOTICE, NULL, "IAM: AWS credentials from %s (key id "
	    "%.8s...%s)%s", c->source, c->access_key_id, c->session_token ?
	    ", with a session token" : "", exp);
	uv_mutex_lock(&iam->lock);
	aws_creds_free(iam->creds);
	iam->creds = c;
	uv_mutex_unlock(&iam->lock);
	iam->last_err[0] = '\0';
	iam->backoff = 0;
}

/*
 * Fetch again before temporary credentials expire: at the latest 5
 * minutes before, half-way for short-lived ones, never sooner than 1 s.
 */
static void
arm_refresh(struct iam *iam)
{
	int64_t now = sigv4_now(), left, at;

	(void)uv_timer_stop(&iam->cred_timer);
	if (iam->creds == NULL || iam->creds->expiration == 0 ||
	    strncmp(iam->creds->source, "environment", 11) == 0 ||
	    strncmp(iam->creds->source, "shared file", 11) == 0)
		return;
	left = iam->creds->expiration - now;
	at = left / 2 < 300 ? left / 2 : 300;
	at = left - at;
	if (at < 1)
		at = 1;
	(void)uv_timer_start(&iam->cred_timer, cred_timer_cb,
	    (uint64_t)at * 1000, 0);
}

static void
fetched(void *arg, struct aws_creds *c, const char *why)
{
	struct iam *iam = arg;
	char t[32];
	int64_t now = sigv4_now();

	iam->fetch = NULL;
	if (c != NULL) {
		adopt(iam, c);
		arm_refresh(iam);
		iam_remake_all(iam);
		return;
	}
	iam->backoff = iam->backoff == 0 ? 1 : iam->backoff * 2;
	if (iam->backoff > IAM_BACKOFF_MAX)
		iam->backoff = IAM_BACKOFF_MAX;
	if (strcmp(iam->last_err, why) != 0) {
		iam_say(iam->last_err, sizeof(iam->last_err), "%s", why);
		if (iam->creds != NULL && iam->creds->expiration == 0)
			log_msg(LOG_LVL_ERR, NULL, "IAM: cannot get AWS "
			    "credentials: %s; retrying in %u s (keeping those "
			    "from %s)", why, iam->backoff, iam->creds->source);
		else if (iam->creds != NULL && now < iam->creds->expiration)
			log_msg(LOG_LVL_ERR, NULL, "IAM: cannot refresh AWS "
			    "credentials: %s; retrying in %u s (those from %s "
			    "are valid until %s)", why, iam->backoff,
			    iam->creds->source, iam_iso(iam->creds->expiration,
			    t, sizeof(t)));
		else
			log_msg(LOG_LVL_ERR, NULL, "IAM: cannot get AWS "
			    "credentials: %s; retrying in %u s", why,
			    iam->backoff);
	}
	if (iam->creds == NULL) {
		/* Said once: "IAM: no AWS credentials (no credentials: ...)" */
		if (strncmp(why, "no credentials: ", 16) == 0)
			why += 16;
		iam_say(iam->cred_why, sizeof(iam->cred_why), "%s", why);
		iam_remake_all(iam);	/* the sources say why */
	}
	(void)uv_timer_start(&iam->cred_timer, cred_timer_cb,
	    (uint64_t)iam->backoff * 1000, 0);
}

static void
fetch_start(struct iam *iam)
{

	if ((iam->fetch = aws_creds_fetch(iam->loop, IAM_FETCH_MS, fetched,
	    iam)) == NULL) {
		log_msg(LOG_LVL_ERR, NULL, "IAM: out of memory fetching AWS "
		    "credentials; retrying in 1 s");
		(void)uv_timer_start(&iam->cred_timer, cred_timer_cb, 1000, 0);
	}
}

void
iam_creds_commit(struct iam *iam, int reread)
{
	struct aws_creds *c;
	char why[256];
	int st;

	uv_mutex_lock(&iam->lock);
	st = iam->st;
	c = iam->st_creds;
	iam_say(why, sizeof(why), "%s", iam->st_why);
	iam->st = ST_NONE_READ;
	iam->st_creds = NULL;
	uv_mutex_unlock(&iam->lock);
	switch (st) {
	case ST_CREDS:
		if (iam->fetch != NULL)
			aws_creds_cancel(iam->fetch);
		iam->fetch = NULL;
		adopt(iam, c);
		arm_refresh(iam);
		break;
	case ST_ERROR:
		if (iam->creds != NULL)
			log_msg(LOG_LVL_ERR, NULL, "IAM: cannot read AWS "
			    "credentials: %s; keeping those from %s", why,
			    iam->creds->source);
		else {
			log_msg(LOG_LVL_ERR, NULL, "IAM: cannot read AWS "
			    "credentials: %s", why);
			iam_say(iam->cred_why, sizeof(iam->cred_why), "%s",
			    why);
		}
		break;
	case ST_UNSET:
		if (iam->creds == NULL)
			iam_say(iam->cred_why, sizeof(iam->cred_why),
			    "%s; asking the container endpoint or IMDSv2",
			    why);
		if ((iam->creds == NULL || reread) && iam->fetch == NULL) {
			(void)uv_timer_stop(&iam->cred_timer);
			iam->backoff = 0;
			iam->last_err[0] = '\0';
			fetch_start(iam);
		}
		break;
	default:
		break;
	}
}

void
iam_creds_stop(struct iam *iam)
{

	if (iam->fetch != NULL)
		aws_creds_cancel(iam->fetch);
	iam->fetch = NULL;
}
