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

/*
 * Sign a token for these settings from the credentials in use into
 * ${out}: its length, or -1 with the reason in ${why}.  With the lock held
 * (signing is pure CPU, microseconds); any thread.
 */
static int
sign_locked(struct iam *iam, const char *user, const char *cache,
    const char *region, int serverless, int64_t now, char *out,
    size_t outlen, char *why, size_t whylen)
{
	struct sigv4_req rq;
	char t[32];
	int n;

	out[0] = '\0';
	if (iam->creds == NULL) {
		iam_say(why, whylen, "IAM: no AWS credentials (%s)",
		    iam->cred_why);
		return (-1);
	}
	if (iam->creds->expiration != 0 && now >= iam->creds->expiration) {
		iam_say(why, whylen, "IAM: AWS credentials from %s expired at "
		    "%s", iam->creds->source, iam_iso(iam->creds->expiration,
		    t, sizeof(t)));
		return (-1);
	}
	memset(&rq, 0, sizeof(rq));
	rq.access_key_id = iam->creds->access_key_id;
	rq.secret_access_key = iam->creds->secret_access_key;
	rq.session_token = iam->creds->session_token;
	rq.region = region;
	rq.cache = cache;
	rq.user = user;
	rq.serverless = serverless;
	rq.now = now;
	if ((n = sigv4_elasticache_token(&rq, out, outlen)) < 0)
		iam_say(why, whylen, "IAM: cannot make a token (a field is "
		    "empty or the token is too long)");
	return (n);
}

/*
 * Sign ${s}'s token anew (lock held); on failure the source has no token
 * and says why.  Returns the length or -1; ${why} gets the reason.
 */
static int
resign_locked(struct iam *iam, struct iam_svc *s, int64_t now, char *why,
    size_t whylen)
{
	char t[32];
	int n;

	n = sign_locked(iam, s->user, s->cache, s->region, s->serverless,
	    now, s->token, sizeof(s->token), why, whylen);
	if (n >= 0) {
		s->made = now;
		/* A token is no better than the session it was signed in. */
		s->until = iam->creds->expiration;
		iam_say(s->why, sizeof(s->why), "IAM: AWS credentials from %s "
		    "expired at %s", iam->creds->source,
		    iam_iso(s->until, t, sizeof(t)));
	} else {
		iam_wipe(s->token, sizeof(s->token));
		s->made = s->until = 0;
		iam_say(s->why, sizeof(s->why), "%s", why);
	}
	return (n);
}

/* Sign ${s}'s token from the credentials in use (main loop). */
static void
make_token(struct iam *iam, struct iam_svc *s, int64_t now)
{
	char why[IAM_WHY_MAX] = "", was[IAM_WHY_MAX];
	int n, again;

	uv_mutex_lock(&iam->lock);
	/* The same failure again (retries, renewals): logged once. */
	again = s->token[0] == '\0';
	memcpy(was, s->why, sizeof(was));
	n = resign_locked(iam, s, now, why, sizeof(why));
	again = again && strcmp(was, why) == 0;
	uv_mutex_unlock(&iam->lock);
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

	/* The list only grows at its head: walk what is there now. */
	uv_mutex_lock(&iam->lock);
	head = iam->svcs;
	uv_mutex_unlock(&iam->lock);
	for (s = head; s != NULL; s = s->next)
		if (s->active)
			make_token(iam, s, now);
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
	char *r = strdup(sc->iam_region), why[IAM_WHY_MAX];
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
	/*
	 * A token for the new settings at once, so that no connection made
	 * after this finds none (or one for the old settings); without
	 * credentials the source says why.
	 */
	if (changed)
		(void)resign_locked(iam, s, sigv4_now(), why, sizeof(why));
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

/* ${s} (lock held) is in force with ${sc}'s settings. */
static int
same_settings(const struct iam_svc *s, const struct svc_conf *sc)
{

	return (s->active > 0 && same(s->user, sc->iam_user) &&
	    same(s->cache, sc->iam_cache) && same(s->region, sc->iam_region) &&
	    s->serverless == sc->iam_serverless);
}

int
iam_auth(struct iam_svc *s, const struct svc_conf *sc, char *user,
    size_t ulen, char *token, size_t tlen, char *why, size_t whylen)
{
	int64_t now = sigv4_now(), age;
	int r = -1;

	user[0] = token[0] = '\0';
	if (sc->iam_user == NULL) {
		iam_say(why, whylen, "IAM: the service is not configured for "
		    "IAM");
		return (-1);
	}
	if (strlen(sc->iam_user) >= ulen) {
		iam_say(why, whylen, "IAM: the user id is too long");
		return (-1);
	}
	uv_mutex_lock(&s->iam->lock);
	if (!same_settings(s, sc)) {
		/*
		 * A connection of an older (or newer, during a reload's
		 * prepare) generation: a token for its own settings, signed
		 * now from the credentials in use.  Rare: only around a
		 * reload that changed the IAM settings.
		 */
		if (sign_locked(s->iam, sc->iam_user, sc->iam_cache,
		    sc->iam_region, sc->iam_serverless, now, token, tlen, why,
		    whylen) >= 0)
			r = 0;
	} else if (s->token[0] == '\0' || (s->until != 0 && now >= s->until))
		iam_say(why, whylen, "%s", s->why[0] != '\0' ? s->why :
		    "IAM: no token yet");
	else if ((age = now - s->made) > SIGV4_EXPIRES - 60)
		iam_say(why, whylen, "IAM token is stale (no renewal for "
		    "%lld s)", (long long)age);
	else if (strlen(s->token) >= tlen)
		iam_say(why, whylen, "IAM: the token is too long");
	else {
		memcpy(token, s->token, strlen(s->token) + 1);
		r = 0;
	}
	uv_mutex_unlock(&s->iam->lock);
	if (r == 0)
		memcpy(user, sc->iam_user, strlen(sc->iam_user) + 1);
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

