/*
 * ElastiCache IAM authentication for the runtime (iam.h): per service
 * name a token source the workers copy tokens from, remade on the main
 * loop every iamTokenRefresh s and when the credentials (iam_creds.c)
 * change.  One mutex guards what the workers and cluster discovery read,
 * held only to copy strings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "aws_creds.h"
#include "conf.h"
#include "iam.h"
#include "iam_priv.h"
#include "log.h"
#include "sigv4.h"


struct iam *
iam_new(uv_loop_t *loop)
{
	struct iam *iam;

	if ((iam = calloc(1, sizeof(*iam))) == NULL)
		return (NULL);
	if (uv_mutex_init(&iam->lock) != 0) {
		free(iam);
		return (NULL);
	}
	iam->loop = loop;
	iam_say(iam->cred_why, sizeof(iam->cred_why), "not read yet");
	return (iam);
}

struct iam_svc *
iam_service(struct iam *iam, const char *name)
{
	struct iam_svc *s;

	uv_mutex_lock(&iam->lock);
	for (s = iam->svcs; s != NULL; s = s->next)
		if (strcmp(s->name, name) == 0)
			goto out;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->name = strdup(name)) == NULL) {
		free(s);
		s = NULL;
		goto out;
	}
	iam_say(s->why, sizeof(s->why), "IAM: no token yet");
	s->iam = iam;
	s->next = iam->svcs;
	iam->svcs = s;
out:
	uv_mutex_unlock(&iam->lock);
	return (s);
}

/* Sign ${s}'s token from the credentials in use (main loop). */
static void
make_token(struct iam *iam, struct iam_svc *s, int64_t now, char *buf)
{
	struct sigv4_req rq;
	char t[32], why[IAM_WHY_MAX] = "";
	int n = -1, again = 0;

	buf[0] = '\0';
	uv_mutex_lock(&iam->lock);
	memset(&rq, 0, sizeof(rq));
	if (iam->creds == NULL)
		iam_say(why, sizeof(why), "IAM: no AWS credentials (%s)",
		    iam->cred_why);
	else if (iam->creds->expiration != 0 &&
	    now >= iam->creds->expiration)
		iam_say(why, sizeof(why), "IAM: AWS credentials from %s "
		    "expired at %s", iam->creds->source,
		    iam_iso(iam->creds->expiration, t, sizeof(t)));
	else {
		rq.access_key_id = iam->creds->access_key_id;
		rq.secret_access_key = iam->creds->secret_access_key;
		rq.session_token = iam->creds->session_token;
		rq.region = s->region;
		rq.cache = s->cache;
		rq.user = s->user;
		rq.serverless = s->serverless;
		rq.now = now;
		/* Signing is pure CPU, microseconds: fine under the lock. */
		if ((n = sigv4_elasticache_token(&rq, buf,
		    SIGV4_TOKEN_MAX)) < 0)
			iam_say(why, sizeof(why), "IAM: cannot make a token "
			    "(a field is empty or the token is too long)");
	}
	if (n >= 0) {
		memcpy(s->token, buf, (size_t)n + 1);
		s->made = now;
		/* A token is no better than the session it was signed in. */
		s->until = iam->creds->expiration;
		iam_say(s->why, sizeof(s->why), "IAM: AWS credentials from %s "
		    "expired at %s", iam->creds->source,
		    iam_iso(s->until, t, sizeof(t)));
	} else {
		/* The same failure again (retries, renewals): logged once. */
		again = s->token[0] == '\0' && strcmp(s->why, why) == 0;
		iam_wipe(s->token, sizeof(s->token));
		s->made = s->until = 0;
		iam_say(s->why, sizeof(s->why), "%s", why);
	}
	uv_mutex_unlock(&iam->lock);
	iam_wipe(buf, SIGV4_TOKEN_MAX);
	if (n < 0 && !again)
		log_msg(LOG_LVL_ERR, s->name, "%s", why);
	else if (n >= 0)
		log_msg(LOG_LVL_DEBUG, s->name, "IAM: new token for user %s",
		    s->user);
}

/* Remake the token of every active source (main loop). */
void
iam_remake_all(struct iam *iam)
{
	struct iam_svc *s, *head;
	int64_t now = sigv4_now();
	char *buf;

	if ((buf = malloc(SIGV4_TOKEN_MAX)) == NULL) {
		log_msg(LOG_LVL_ERR, NULL, "IAM: out of memory making tokens");
		return;
	}
	/* The list only grows at its head: walk what is there now. */
	uv_mutex_lock(&iam->lock);
	head = iam->svcs;
	uv_mutex_unlock(&iam->lock);
	for (s = head; s != NULL; s = s->next)
		if (s->active)
			make_token(iam, s, now, buf);
	free(buf);
}

static void
token_timer_cb(uv_timer_t *h)
{

	iam_remake_all(h->data);
}

static int
same(const char *a, const char *b)
{

	return (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Settings of ${sc} into ${s}; 1 if they changed the token's input. */
static int
take_settings(struct iam *iam, struct iam_svc *s, const struct svc_conf *sc)
{
	char *u = strdup(sc->iam_user), *c = strdup(sc->iam_cache);
	char *r = strdup(sc->iam_region);
	int changed;

	if (u == NULL || c == NULL || r == NULL) {
		free(u), free(c), free(r);
		return (-1);
	}
	uv_mutex_lock(&iam->lock);
	changed = !s->active || !same(u, s->user) || !same(c, s->cache) ||
	    !same(r, s->region) || s->serverless != sc->iam_serverless;
	free(s->user), free(s->cache), free(s->region);
	s->user = u, s->cache = c, s->region = r;
	s->serverless = sc->iam_serverless;
	s->refresh = sc->iam_token_refresh;
	s->active = 1;
	if (changed) {
		iam_wipe(s->token, sizeof(s->token));
		s->made = 0;
	}
	uv_mutex_unlock(&iam->lock);
	return (changed);
}

void
iam_commit(struct iam *iam, const struct svc_conf *const *scs, size_t n,
    int reread)
{
	struct iam_svc *s, *head;
	unsigned int every = 0;
	size_t i;
	int any = 0;

	if (iam->stopped)
		return;
	if (!iam->timers) {
		if (uv_timer_init(iam->loop, &iam->cred_timer) != 0 ||
		    uv_timer_init(iam->loop, &iam->token_timer) != 0) {
			log_msg(LOG_LVL_ERR, NULL, "IAM: cannot create timers");
			return;
		}
		iam->cred_timer.data = iam->token_timer.data = iam;
		iam->timers = 1;
	}
	uv_mutex_lock(&iam->lock);
	head = iam->svcs;
	for (s = head; s != NULL; s = s->next)
		s->active = -s->active;	/* -1: was, unless seen */
	uv_mutex_unlock(&iam->lock);
	for (i = 0; i < n; i++) {
		if (scs[i]->iam_user == NULL ||
		    (s = iam_service(iam, scs[i]->name)) == NULL)
			continue;
		if (take_settings(iam, s, scs[i]) < 0)
			log_msg(LOG_LVL_ERR, scs[i]->name, "IAM: out of "
			    "memory");
		if (every == 0 || s->refresh < every)
			every = s->refresh;
		any = 1;
	}
	uv_mutex_lock(&iam->lock);
	for (s = iam->svcs; s != NULL; s = s->next)
		if (s->active < 0) {
			s->active = 0;
			iam_wipe(s->token, sizeof(s->token));
			s->made = 0;
			iam_say(s->why, sizeof(s->why), "IAM: the service "
			    "is no longer configured for IAM");
		}
	uv_mutex_unlock(&iam->lock);
	if (!any) {
		/* No IAM service left: nothing to renew or fetch for. */
		(void)uv_timer_stop(&iam->token_timer);
		(void)uv_timer_stop(&iam->cred_timer);
		iam_creds_stop(iam);
		return;
	}
	iam_creds_commit(iam, reread);
	iam_remake_all(iam);
	(void)uv_timer_start(&iam->token_timer, token_timer_cb,
	    (uint64_t)every * 1000, (uint64_t)every * 1000);
}

int
iam_auth(struct iam_svc *s, char *user, size_t ulen, char *token,
    size_t tlen, char *why, size_t whylen)
{
	int64_t now = sigv4_now(), age;
	int r = -1;

	user[0] = token[0] = '\0';
	uv_mutex_lock(&s->iam->lock);
	if (!s->active || s->token[0] == '\0' ||
	    (s->until != 0 && now >= s->until))
		iam_say(why, whylen, "%s", s->why[0] != '\0' ? s->why :
		    "IAM: no token yet");
	else if ((age = now - s->made) > SIGV4_EXPIRES - 60)
		iam_say(why, whylen, "IAM token is stale (no renewal for "
		    "%lld s)", (long long)age);
	else if (strlen(s->user) >= ulen || strlen(s->token) >= tlen)
		iam_say(why, whylen, "IAM: the token is too long");
	else {
		memcpy(user, s->user, strlen(s->user) + 1);
		memcpy(token, s->token, strlen(s->token) + 1);
		r = 0;
	}
	uv_mutex_unlock(&s->iam->lock);
	return (r);
}

void
iam_stop(struct iam *iam)
{

	if (iam == NULL || iam->stopped)
		return;
	iam->stopped = 1;
	iam_creds_stop(iam);
	if (iam->timers) {
		uv_close((uv_handle_t *)&iam->cred_timer, NULL);
		uv_close((uv_handle_t *)&iam->token_timer, NULL);
	}
}

void
iam_free(struct iam *iam)
{
	struct iam_svc *s;

	if (iam == NULL)
		return;
	while ((s = iam->svcs) != NULL) {
		iam->svcs = s->next;
		iam_wipe(s->token, sizeof(s->token));
		free(s->name), free(s->user), free(s->cache), free(s->region);
		free(s);
	}
	aws_creds_free(iam->creds);
	aws_creds_free(iam->st_creds);
	uv_mutex_destroy(&iam->lock);
	free(iam);
}

