/*
 * ElastiCache IAM authentication for the runtime (iam.h): the process's
 * AWS credentials, and per service name a token source the workers copy
 * tokens from.  All state changes happen on the main loop; one mutex
 * guards what the workers (and cluster discovery) read, held only to copy
 * strings.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "aws_creds.h"
#include "conf.h"
#include "iam.h"
#include "log.h"
#include "sigv4.h"

#define IAM_WHY_MAX	160		/* what a client may read */
#define IAM_FETCH_MS	2000		/* per credential HTTP request */
#define IAM_BACKOFF_MAX	60		/* s between failed fetches */

struct iam_svc {
	struct iam_svc *next;
	struct iam *iam;
	char *name;
	/* Under the iam's mutex. */
	int active;			/* configured with iamUser now */
	char *user, *cache, *region;	/* settings copies */
	int serverless;
	unsigned int refresh;		/* iamTokenRefresh, s */
	char token[SIGV4_TOKEN_MAX];	/* "" when none */
	int64_t made;			/* sigv4_now() when signed */
	char why[IAM_WHY_MAX];		/* why there is no token */
};

/* What iam_read_static found, for the next commit. */
enum { ST_NONE_READ = 0, ST_CREDS, ST_UNSET, ST_ERROR };

struct iam {
	uv_loop_t *loop;
	uv_mutex_t lock;
	struct iam_svc *svcs;		/* under lock; never shrinks */
	/* Under lock: written by any thread, taken by iam_commit. */
	int st;
	struct aws_creds *st_creds;
	char st_why[256];
	/* Main loop only. */
	struct aws_creds *creds;	/* in use, or NULL */
	char cred_why[200];		/* why there are none */
	uv_timer_t cred_timer;		/* refresh before expiry; retries */
	uv_timer_t token_timer;		/* remake every token */
	int timers;			/* the timers are initialised */
	int stopped;
	struct aws_fetch *fetch;	/* container / IMDSv2, or NULL */
	unsigned int backoff;		/* s; 0 after a success */
	char last_err[256];		/* the failure logged last */
};

static void fetch_start(struct iam *);

/* snprintf that cuts long reasons silently (they are for people). */
static void say(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

/* "2026-12-04T19:00:00Z" for logs and messages. */
static const char *
iso(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
	return (buf);
}

static void
wipe(void *p, size_t len)
{
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
}

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
	say(iam->cred_why, sizeof(iam->cred_why), "not read yet");
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
	say(s->why, sizeof(s->why), "IAM: no token yet");
	s->iam = iam;
	s->next = iam->svcs;
	iam->svcs = s;
out:
	uv_mutex_unlock(&iam->lock);
	return (s);
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
	say(iam->st_why, sizeof(iam->st_why), "%s", why);
	uv_mutex_unlock(&iam->lock);
}

/* Sign ${s}'s token from the credentials in use (main loop). */
static void
make_token(struct iam *iam, struct iam_svc *s, int64_t now, char *buf)
{
	struct sigv4_req rq;
	char t[32], why[IAM_WHY_MAX] = "";
	int n = -1;

	buf[0] = '\0';
	uv_mutex_lock(&iam->lock);
	memset(&rq, 0, sizeof(rq));
	if (iam->creds == NULL)
		say(why, sizeof(why), "IAM: no AWS credentials (%s)",
		    iam->cred_why);
	else if (iam->creds->expiration != 0 &&
	    now >= iam->creds->expiration)
		say(why, sizeof(why), "IAM: AWS credentials from %s "
		    "expired at %s", iam->creds->source,
		    iso(iam->creds->expiration, t, sizeof(t)));
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
			say(why, sizeof(why), "IAM: cannot make a token "
			    "(a field is empty or the token is too long)");
	}
	if (n >= 0) {
		memcpy(s->token, buf, (size_t)n + 1);
		s->made = now;
		s->why[0] = '\0';
	} else {
		wipe(s->token, sizeof(s->token));
		s->made = 0;
		say(s->why, sizeof(s->why), "%s", why);
	}
	uv_mutex_unlock(&iam->lock);
	wipe(buf, SIGV4_TOKEN_MAX);
	if (n < 0)
		log_msg(LOG_LVL_ERR, s->name, "%s", why);
	else
		log_msg(LOG_LVL_DEBUG, s->name, "IAM: new token for user %s",
		    s->user);
}

/* Remake the token of every active source (main loop). */
static void
remake_all(struct iam *iam)
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

	remake_all(h->data);
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
		say(exp, sizeof(exp), ", expiring at %s",
		    iso(c->expiration, t, sizeof(t)));
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
		remake_all(iam);
		return;
	}
	iam->backoff = iam->backoff == 0 ? 1 : iam->backoff * 2;
	if (iam->backoff > IAM_BACKOFF_MAX)
		iam->backoff = IAM_BACKOFF_MAX;
	if (strcmp(iam->last_err, why) != 0) {
		say(iam->last_err, sizeof(iam->last_err), "%s", why);
		if (iam->creds != NULL && (iam->creds->expiration == 0 ||
		    now < iam->creds->expiration))
			log_msg(LOG_LVL_ERR, NULL, "IAM: cannot refresh AWS "
			    "credentials: %s; retrying in %u s (those from %s "
			    "are valid until %s)", why, iam->backoff,
			    iam->creds->source, iso(iam->creds->expiration, t,
			    sizeof(t)));
		else
			log_msg(LOG_LVL_ERR, NULL, "IAM: cannot get AWS "
			    "credentials: %s; retrying in %u s", why,
			    iam->backoff);
	}
	if (iam->creds == NULL) {
		say(iam->cred_why, sizeof(iam->cred_why), "%s", why);
		remake_all(iam);	/* the sources say why */
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
		wipe(s->token, sizeof(s->token));
		s->made = 0;
	}
	uv_mutex_unlock(&iam->lock);
	return (changed);
}

/* What iam_read_static found decides, or the HTTP providers. */
static void
use_static(struct iam *iam, int reread)
{
	struct aws_creds *c;
	char why[256];
	int st;

	uv_mutex_lock(&iam->lock);
	st = iam->st;
	c = iam->st_creds;
	say(why, sizeof(why), "%s", iam->st_why);
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
			say(iam->cred_why, sizeof(iam->cred_why), "%s", why);
		}
		break;
	case ST_UNSET:
		if (iam->creds == NULL)
			say(iam->cred_why, sizeof(iam->cred_why),
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
		s->active = -s->active;		/* -1: was, unless seen */
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
			wipe(s->token, sizeof(s->token));
			s->made = 0;
			say(s->why, sizeof(s->why), "IAM: the service "
			    "is no longer configured for IAM");
		}
	uv_mutex_unlock(&iam->lock);
	if (!any) {
		(void)uv_timer_stop(&iam->token_timer);
		return;
	}
	use_static(iam, reread);
	remake_all(iam);
	(void)uv_timer_start(&iam->token_timer, token_timer_cb,
	    (uint64_t)every * 1000, (uint64_t)every * 1000);
}

int
iam_auth(struct iam_svc *s, char *user, size_t ulen, char *token,
    size_t tlen, char *why, size_t whylen)
{
	int64_t age;
	int r = -1;

	user[0] = token[0] = '\0';
	uv_mutex_lock(&s->iam->lock);
	if (!s->active || s->token[0] == '\0')
		say(why, whylen, "%s", s->why[0] != '\0' ? s->why :
		    "IAM: no token yet");
	else if ((age = sigv4_now() - s->made) > SIGV4_EXPIRES - 60)
		say(why, whylen, "IAM token is stale (no renewal for "
		    "%lld s)", (long long)age);
	else if (strlen(s->user) >= ulen || strlen(s->token) >= tlen)
		say(why, whylen, "IAM: the token is too long");
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
	if (iam->fetch != NULL)
		aws_creds_cancel(iam->fetch);
	iam->fetch = NULL;
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
		wipe(s->token, sizeof(s->token));
		free(s->name), free(s->user), free(s->cache), free(s->region);
		free(s);
	}
	aws_creds_free(iam->creds);
	aws_creds_free(iam->st_creds);
	uv_mutex_destroy(&iam->lock);
	free(iam);
}
