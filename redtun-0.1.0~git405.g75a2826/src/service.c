/* Service generations: settings, TLS context and resolved targets. */
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

#include "conf.h"
#include "log.h"
#include "net.h"
#include "service.h"
#include "tls.h"
#include "tls_trust.h"
#include "tls_verify.h"
#include "tunnel_priv.h"

struct target_state {
	uint64_t failed_at;	/* uv_now() ms; 0: healthy */
	char why[64];
	WOLFSSL_SESSION *session;	/* to resume; NULL: none yet */
	int flags;			/* SVC_T_*, atomic */
	int state;			/* SVC_UP/DOWN, 0: unknown; locked */
};

/*
 * Workers share generations: the reference count is atomic and the
 * per-target state and counters (touched per connection, never per byte)
 * sit behind a mutex.
 */
struct svc {
	int refs;
	uv_mutex_t lock;
	struct target_state *targets;
	struct svc_conf *conf;
	WOLFSSL_CTX *ctx;
	struct tls_trust *trust;	/* anchors for redtun's policy */
	struct addrinfo **resolved;	/* per target; NULL: resolve later */
	size_t next_target;
	unsigned int plaintext_count;	/* atomic */
	unsigned long handshakes, resumed;	/* under lock */
	int inherited;		/* under lock: counters carried over */
	uint64_t trust_hash;	/* contents of the files sessions rest on */
	struct svc *parent;	/* a cluster node's: owns ctx and trust */
	struct cluster *cluster;	/* cluster = true: its node map */
	struct stats_svc *stats;	/* its name's counters, or NULL */
	struct iam_svc *iam;	/* its name's IAM token source, or NULL */
};

/* FNV-1a over a file's bytes (or its absence), folded into ${h}. */
static uint64_t
hash_file(uint64_t h, const char *path)
{
	unsigned char buf[4096];
	size_t n, i;
	FILE *f;

	if (path == NULL)
		return (h * 1099511628211ULL);
	if ((f = fopen(path, "rb")) == NULL)
		return (h ^ 0x5bd1e995ULL);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ULL;
	fclose(f);
	return (h);
}

/*
 * Sessions were verified against these files: a reload may carry them
 * over only if the files still hold the same bytes, not just the same
 * names (a CA rotated in place must end resumption).
 */
static uint64_t
trust_hash(const struct svc_conf *sc, const struct tls_trust *trust)
{
	uint64_t h = 14695981039346656037ULL;

	/* The anchors as read (CAfile, every CApath file, or the system
	 * bundle); without verification the files by name. */
	if (trust != NULL)
		h = tls_trust_fingerprint(trust, h);
	else
		h = hash_file(h, sc->cafile);
	h = hash_file(h, sc->cert);
	return (hash_file(h, sc->key));
}

static void
resolve_targets(struct svc *svc)
{
	const struct svc_conf *sc = svc->conf;
	struct addrinfo hints;
	char port[8];
	size_t i;
	int rc;

	net_hints(&hints, AI_ADDRCONFIG);
	for (i = 0; i < sc->nconnect; i++) {
		snprintf(port, sizeof(port), "%d", sc->connect[i].port);
		rc = getaddrinfo(sc->connect[i].host, port, &hints,
		    &svc->resolved[i]);
		if (rc != 0) {
			svc->resolved[i] = NULL;
			log_msg(LOG_LVL_NOTICE, sc->name, "cannot resolve %s: "
			    "%s; resolving it on every connection instead",
			    sc->connect[i].host, gai_strerror(rc));
		}
	}
}

struct svc *
svc_new(struct svc_conf *sc, char *why, size_t whylen)
{
	struct svc *svc;

	if ((svc = calloc(1, sizeof(*svc))) == NULL) {
		snprintf(why, whylen, "%s:%d: out of memory", sc->file,
		    sc->line);
		svc_conf_free(sc);
		return (NULL);
	}
	svc->refs = 1;
	svc->conf = sc;
	if (uv_mutex_init(&svc->lock) != 0) {
		snprintf(why, whylen, "%s:%d: cannot create a mutex", sc->file,
		    sc->line);
		svc_conf_free(sc);
		free(svc);
		return (NULL);
	}
	if ((svc->resolved = calloc(sc->nconnect,
	    sizeof(*svc->resolved))) == NULL ||
	    (svc->targets = calloc(sc->nconnect,
	    sizeof(*svc->targets))) == NULL) {
		snprintf(why, whylen, "%s:%d: out of memory", sc->file,
		    sc->line);
		goto err;
	}
	if ((svc->ctx = tls_ctx_new(sc, handshake_on_session, &svc->trust,
	    why, whylen)) == NULL)
		goto err;
	if (sc->client && sc->session_resume)
		svc->trust_hash = trust_hash(sc, svc->trust);
	if (!sc->delay)
		resolve_targets(svc);
	return (svc);
err:
	svc_unref(svc);
	return (NULL);
}

struct svc *
svc_new_node(struct svc *parent, struct svc_conf *sc, char *why,
    size_t whylen)
{
	struct svc *svc;

	if ((svc = calloc(1, sizeof(*svc))) == NULL ||
	    uv_mutex_init(&svc->lock) != 0) {
		snprintf(why, whylen, "%s: out of memory", sc->name);
		free(svc);
		svc_conf_free(sc);
		return (NULL);
	}
	svc->refs = 1;
	svc->conf = sc;
	svc->parent = svc_ref(parent);
	svc->ctx = parent->ctx;
	svc->trust = parent->trust;
	svc->trust_hash = parent->trust_hash;
	svc->cluster = parent->cluster;
	if ((svc->resolved = calloc(sc->nconnect,
	    sizeof(*svc->resolved))) == NULL ||
	    (svc->targets = calloc(sc->nconnect,
	    sizeof(*svc->targets))) == NULL) {
		snprintf(why, whylen, "%s: out of memory", sc->name);
		svc_unref(svc);
		return (NULL);
	}
	return (svc);
}

void
svc_set_cluster(struct svc *svc, struct cluster *cl)
{

	svc->cluster = cl;
}

struct cluster *
svc_cluster(const struct svc *svc)
{

	return (svc->cluster);
}

void
svc_set_stats(struct svc *svc, struct stats_svc *e)
{

	svc->stats = e;
}

struct stats_svc *
svc_stats(const struct svc *svc)
{

	return (svc->stats);
}

void
svc_set_iam(struct svc *svc, struct iam_svc *s)
{

	svc->iam = s;
}

struct iam_svc *
svc_iam(const struct svc *svc)
{

	return (svc->iam);
}

struct svc *
svc_ref(struct svc *svc)
{

	__atomic_add_fetch(&svc->refs, 1, __ATOMIC_RELAXED);
	return (svc);
}

void
svc_unref(struct svc *svc)
{
	size_t i;

	if (svc == NULL ||
	    __atomic_sub_fetch(&svc->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	uv_mutex_destroy(&svc->lock);
	if (svc->resolved != NULL) {
		for (i = 0; i < svc->conf->nconnect; i++)
			if (svc->resolved[i] != NULL)
				freeaddrinfo(svc->resolved[i]);
		free(svc->resolved);
	}
	for (i = 0; svc->targets != NULL && i < svc->conf->nconnect; i++)
		if (svc->targets[i].session != NULL)
			wolfSSL_SESSION_free(svc->targets[i].session);
	free(svc->targets);
	if (svc->parent != NULL) {
		svc_unref(svc->parent);
	} else {
		if (svc->ctx != NULL)
			wolfSSL_CTX_free(svc->ctx);
		tls_trust_free(svc->trust);
	}
	svc_conf_free(svc->conf);
	free(svc);
}

const struct svc_conf *
svc_conf(const struct svc *svc)
{

	return (svc->conf);
}

const char *
svc_name(const struct svc *svc)
{

	return (svc->conf->name);
}

WOLFSSL_CTX *
svc_tls_ctx(const struct svc *svc)
{

	return (svc->ctx);
}

const struct tls_trust *
svc_tls_trust(const struct svc *svc)
{

	return (svc->trust);
}

size_t
svc_first_target(struct svc *svc)
{

	if (svc->conf->failover == FAILOVER_PRIO)
		return (0);
	return (__atomic_fetch_add(&svc->next_target, 1, __ATOMIC_RELAXED) %
	    svc->conf->nconnect);
}

const struct addrinfo *
svc_resolved(const struct svc *svc, size_t i)
{

	return (svc->resolved[i]);
}

unsigned int
svc_count_plaintext(struct svc *svc)
{

	return (__atomic_add_fetch(&svc->plaintext_count, 1,
	    __ATOMIC_RELAXED));
}

static int
same(const char *a, const char *b)
{

	return ((a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0));
}

/* Would a session verified under ${a} be acceptable under ${b}? */
static int
same_trust(const struct svc_conf *a, const struct svc_conf *b)
{

	return (a->client && b->client && a->session_resume &&
	    b->session_resume && a->verify_chain == b->verify_chain &&
	    same(a->cafile, b->cafile) && same(a->capath, b->capath) &&
	    same(a->check_host, b->check_host) && same(a->sni, b->sni) &&
	    a->sni_set == b->sni_set && same(a->cert, b->cert) &&
	    same(a->key, b->key) && same(a->ciphers, b->ciphers) &&
	    same(a->ciphersuites, b->ciphersuites) &&
	    a->version_min == b->version_min &&
	    a->version_max == b->version_max);
}

/*
 * Every worker calls this for its own listener, and ${svc} is live from
 * the first call on (other workers count on it).  So the counters are
 * added, once, under ${svc}'s own lock, never overwritten.  Locks are
 * taken older generation first, which no other path reverses.
 */
void
svc_inherit(struct svc *svc, struct svc *old)
{
	const struct svc_conf *a = old->conf, *b = svc->conf;
	size_t i, j;
	int carry;

	uv_mutex_lock(&old->lock);
	uv_mutex_lock(&svc->lock);
	if (!svc->inherited) {
		svc->inherited = 1;
		svc->handshakes += old->handshakes;
		svc->resumed += old->resumed;
		__atomic_add_fetch(&svc->plaintext_count, __atomic_load_n(
		    &old->plaintext_count, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
	}
	/* What is known of a target stays known (status), if not newer. */
	for (i = 0; i < b->nconnect; i++)
		for (j = 0; j < a->nconnect && svc->targets[i].state == 0; j++)
			if (a->connect[j].port == b->connect[i].port &&
			    strcmp(a->connect[j].host, b->connect[i].host) == 0)
				svc->targets[i].state = old->targets[j].state;
	carry = same_trust(a, b) && svc->trust_hash == old->trust_hash;
	for (i = 0; carry && i < b->nconnect; i++) {
		for (j = 0; j < a->nconnect; j++) {
			if (old->targets[j].session == NULL ||
			    a->connect[j].port != b->connect[i].port ||
			    strcmp(a->connect[j].host, b->connect[i].host) != 0)
				continue;
			if (svc->targets[i].session != NULL)
				wolfSSL_SESSION_free(svc->targets[i].session);
			svc->targets[i].session = old->targets[j].session;
			old->targets[j].session = NULL;
			break;
		}
	}
	uv_mutex_unlock(&svc->lock);
	uv_mutex_unlock(&old->lock);
}

int
svc_session_resume(struct svc *svc, size_t i, WOLFSSL *ssl)
{
	int ok = 0;

	/* wolfSSL_set_session copies what it needs, under our lock. */
	uv_mutex_lock(&svc->lock);
	if (svc->targets[i].session != NULL)
		ok = wolfSSL_set_session(ssl, svc->targets[i].session) ==
		    WOLFSSL_SUCCESS;
	uv_mutex_unlock(&svc->lock);
	return (ok);
}

void
svc_session_store(struct svc *svc, size_t i, WOLFSSL_SESSION *s)
{
	WOLFSSL_SESSION *old;

	uv_mutex_lock(&svc->lock);
	old = svc->targets[i].session;
	svc->targets[i].session = s;
	uv_mutex_unlock(&svc->lock);
	if (old != NULL)
		wolfSSL_SESSION_free(old);
}

unsigned long
svc_count_handshake(struct svc *svc, int resumed, unsigned long *n_resumed)
{
	unsigned long n;

	uv_mutex_lock(&svc->lock);
	svc->resumed += (resumed != 0);
	*n_resumed = svc->resumed;
	n = ++svc->handshakes;
	uv_mutex_unlock(&svc->lock);
	return (n);
}

void
svc_target_failed(struct svc *svc, size_t i, uint64_t now, const char *why)
{

	uv_mutex_lock(&svc->lock);
	svc->targets[i].failed_at = now > 0 ? now : 1;
	svc->targets[i].state = SVC_DOWN;
	snprintf(svc->targets[i].why, sizeof(svc->targets[i].why), "%s", why);
	uv_mutex_unlock(&svc->lock);
}

void
svc_target_ok(struct svc *svc, size_t i)
{

	uv_mutex_lock(&svc->lock);
	svc->targets[i].failed_at = 0;
	svc->targets[i].state = SVC_UP;
	uv_mutex_unlock(&svc->lock);
}

int
svc_target_state(struct svc *svc, size_t i)
{
	int s;

	uv_mutex_lock(&svc->lock);
	s = svc->targets[i].state;
	uv_mutex_unlock(&svc->lock);
	return (s == SVC_UP ? 1 : s == SVC_DOWN ? 0 : -1);
}

unsigned int
svc_target_backoff(struct svc *svc, size_t i, uint64_t now, char *why,
    size_t whylen)
{
	const struct target_state *ts = &svc->targets[i];
	unsigned int left = 0;
	uint64_t until;

	uv_mutex_lock(&svc->lock);
	until = ts->failed_at + (uint64_t)svc->conf->failover_backoff * 1000;
	if (ts->failed_at != 0 && svc->conf->failover_backoff != 0 &&
	    now < until) {
		snprintf(why, whylen, "%s", ts->why);
		left = (unsigned int)((until - now + 999) / 1000);
	}
	uv_mutex_unlock(&svc->lock);
	return (left);
}

int
svc_target_flag(struct svc *svc, size_t i, int flag)
{

	return ((__atomic_load_n(&svc->targets[i].flags, __ATOMIC_RELAXED) &
	    flag) != 0);
}

int
svc_target_set_flag(struct svc *svc, size_t i, int flag)
{

	return ((__atomic_fetch_or(&svc->targets[i].flags, flag,
	    __ATOMIC_RELAXED) & flag) != 0);
}
