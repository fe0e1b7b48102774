#ifndef REDTUN_SERVICE_H
#define REDTUN_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

struct addrinfo;
struct svc_conf;

/*
 * A service generation: one service section together with the TLS context
 * and name lookups built from it.  Its settings are immutable once made;
 * it is reference-counted (atomically: worker threads share it), so a reload swaps in a new generation while open
 * tunnels finish on the one they started with.
 */
struct svc;
struct tls_trust;

/**
 * svc_new(sc, why, whylen):
 * Build a generation from ${sc}, taking ownership of it (also on failure).
 * Builds the TLS context and, when delay = false, resolves the connect
 * targets once (a name that does not resolve falls back to resolving per
 * connection, as stunnel does).  Returns a generation with one reference,
 * or NULL with "FILE:LINE: SETTING: problem" in ${why}.  It blocks (files,
 * key check, getaddrinfo): call it before the loops run or off them, as
 * reload.c does, never on a loop that carries connections.
 */
struct svc *svc_new(struct svc_conf *sc, char *why, size_t whylen);

/**
 * svc_new_node(parent, sc, why, whylen):
 * A generation for one node of the cluster service ${parent} (settings
 * ${sc} from svc_conf_node, ownership passes, also on failure): it shares
 * ${parent}'s TLS context, anchors and cluster, holding a reference to
 * ${parent}.  Nothing blocks.  NULL with the reason in ${why}.
 */
struct svc *svc_new_node(struct svc *parent, struct svc_conf *sc, char *why,
    size_t whylen);

/*
 * svc_set_cluster(svc, cl): ${svc} (cluster = true) gets its node map
 * from ${cl}, which outlives it; set before the generation is shared.
 * svc_cluster(svc): that, or NULL.
 */
struct cluster;
void svc_set_cluster(struct svc *svc, struct cluster *cl);
struct cluster *svc_cluster(const struct svc *svc);

/*
 * svc_set_stats(svc, e): ${svc}'s counters are the entry ${e} of its name
 * (stats.h); set before the generation is shared.  svc_stats(svc): that,
 * or NULL (nothing counted).
 */
struct stats_svc;
void svc_set_stats(struct svc *svc, struct stats_svc *e);
struct stats_svc *svc_stats(const struct svc *svc);

/*
 * svc_set_iam(svc, s): ${svc} (iamUser set) authenticates with the tokens
 * of the IAM token source ${s} of its name (iam.h), which outlives it; set
 * before the generation is shared.  svc_iam(svc): that, or NULL.
 */
struct iam_svc;
void svc_set_iam(struct svc *svc, struct iam_svc *s);
struct iam_svc *svc_iam(const struct svc *svc);

/* svc_ref(svc): take a reference; returns ${svc}. */
struct svc *svc_ref(struct svc *svc);

/* svc_unref(svc): drop a reference, freeing at zero; NULL-safe. */
void svc_unref(struct svc *svc);

/* svc_conf(svc): the service's settings. */
const struct svc_conf *svc_conf(const struct svc *svc);

/* svc_name(svc): the service's name, for log lines. */
const char *svc_name(const struct svc *svc);

/* svc_tls_ctx(svc): the TLS context to create connections from. */
WOLFSSL_CTX *svc_tls_ctx(const struct svc *svc);

/* svc_tls_trust(svc): the anchors of redtun's verification policy, or
 * NULL without verifyChain; valid while the generation is referenced. */
const struct tls_trust *svc_tls_trust(const struct svc *svc);

/**
 * svc_first_target(svc):
 * Index of the connect target a new connection tries first: always 0 for
 * failover = "prio", rotating for "rr".
 */
size_t svc_first_target(struct svc *svc);

/**
 * svc_resolved(svc, i):
 * Addresses resolved at load time for connect target ${i}, or NULL when
 * the target must be resolved per connection (delay = true).  Owned by the
 * generation.
 */
const struct addrinfo *svc_resolved(const struct svc *svc, size_t i);

/**
 * svc_target_failed(svc, i, now, why):
 * Connecting to target ${i} failed at ${now} (uv_now ms) because of ${why};
 * it is skipped for failoverBackoff seconds while others are available.
 */
void svc_target_failed(struct svc *svc, size_t i, uint64_t now,
    const char *why);

/*
 * Facts learnt about target ${i} once, for the life of the generation:
 * svc_target_set_flag() sets ${flag} and returns whether it was set
 * already; svc_target_flag() reads it.  No lock (atomic).
 */
#define SVC_T_NO_RESET		1	/* answered RESET with an error */
#define SVC_T_MASTER_NOTED	2	/* role = replica found a master */
int svc_target_flag(struct svc *svc, size_t i, int flag);
int svc_target_set_flag(struct svc *svc, size_t i, int flag);

/* svc_target_ok(svc, i): target ${i} works again; stop skipping it. */
void svc_target_ok(struct svc *svc, size_t i);

/*
 * svc_target_state(svc, i): how the last connect to target ${i} of this
 * generation went: 1 up (svc_target_ok), 0 down (svc_target_failed), -1
 * unknown (none yet).  Any thread.
 */
#define SVC_UP		1
#define SVC_DOWN	2
int svc_target_state(struct svc *svc, size_t i);

/**
 * svc_target_backoff(svc, i, now, why, whylen):
 * Seconds (rounded up) target ${i} is still to be skipped, 0 if it is not
 * backing off; then ${why} gets the failure that started the back-off.
 */
unsigned int svc_target_backoff(struct svc *svc, size_t i, uint64_t now,
    char *why, size_t whylen);

/**
 * svc_count_plaintext(svc):
 * Count one more plaintext connection (server mode, encryption =
 * "preferred"); returns the service's total, which survives reloads
 * through svc_inherit().
 */
unsigned int svc_count_plaintext(struct svc *svc);

/**
 * svc_inherit(svc, old):
 * A reload replaced ${old} by ${svc}: add ${old}'s counters to ${svc}'s
 * (on the first call only: every worker calls it), and move the resumable
 * TLS sessions of every target whose address and TLS
 * settings are unchanged (a session must not outlive a change of trust).
 */
void svc_inherit(struct svc *svc, struct svc *old);

/**
 * svc_session_resume(svc, i, ssl): offer the session kept for target ${i}
 * to ${ssl} before its handshake; returns 1 if there was one to offer.
 */
int svc_session_resume(struct svc *svc, size_t i, WOLFSSL *ssl);

/* svc_session_store(svc, i, s): keep ${s} (ownership passes) for ${i}. */
void svc_session_store(struct svc *svc, size_t i, WOLFSSL_SESSION *s);

/**
 * svc_count_handshake(svc, resumed, n_resumed):
 * Count an upstream handshake; returns the total so far and sets
 * ${*n_resumed} to how many of them resumed a session.
 */
unsigned long svc_count_handshake(struct svc *svc, int resumed,
    unsigned long *n_resumed);

#endif
