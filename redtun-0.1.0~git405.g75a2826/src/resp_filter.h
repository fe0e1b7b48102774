#ifndef REDTUN_RESP_FILTER_H
#define REDTUN_RESP_FILTER_H

/*
 * The Redis-aware filter on a tunnel's relay: it scans both directions with
 * resp.c, matches each reply to the command it answers, and on that
 * matching builds the service's Redis features: AUTH and ROLE before the
 * first client byte (the prepare phase), READONLY on a primary service,
 * and RESET so that an upstream connection can serve another client.
 *
 * Where matching cannot be exact (RESP2 UNSUBSCRIBE of everything, a
 * command queue over MATCH_QUEUE_MAX (resp_match.h), a client protocol error...) the
 * connection is marked unsynchronised: bytes still flow, nothing that
 * needs matching is attempted, and a debug line says why.
 *
 * On a cluster service (hooks->cluster_map set) replies that name nodes
 * (MOVED/ASK, CLUSTER SLOTS/SHARDS/NODES/REPLICAS, also inside EXEC) are
 * rewritten to the nodes' local listeners (resp_cluster.c).
 */

#include <stddef.h>

struct cmap;
struct relay;
struct svc_conf;
struct resp_filter;

/* Outcomes of the prepare conversation and of a recycle. */
enum rf_result {
	RF_OK = 0,
	RF_FAIL = 1,	/* give up: ${why} is for the log and the client */
	RF_RETRY = 2,	/* wrong node (role): try another connection */
	RF_SENT = 3	/* hooks->reauthed: a deferred AUTH went out now */
};

/*
 * What the filter tells its tunnel.  Each runs from inside relay input
 * (never from within another call the tunnel made into the filter, but
 * for resp_filter_cluster_retry, which feeds held server bytes), and
 * ${why} is only valid during the call; it may hold bytes from the server.
 */
struct rf_hooks {
	/* resp_filter_prepare() is done: RF_OK, RF_FAIL or RF_RETRY. */
	void (*prepared)(void *arg, int result, const char *why);
	/*
	 * After resp_filter_recycle(): every reply the client was owed is
	 * sent (the client may be let go: ${client_done} 1 once), then the
	 * connection is clean again (RF_OK) or must be closed (RF_FAIL).
	 */
	void (*client_done)(void *arg);
	void (*recycled)(void *arg, int result, const char *why);
	/* A primary service's server said READONLY: a failover happened. */
	void (*readonly)(void *arg);
	/*
	 * The client has sent its last command: return 1 to start a
	 * recycle (the caller calls resp_filter_recycle), 0 to half-close
	 * upstream as usual.
	 */
	int (*client_eof)(void *arg);
	void *arg;
	/*
	 * A cluster service (NULL: not one): the node map now in force, or
	 * NULL before the first discovery (every node is then unknown).  The
	 * map must stay valid until the filter's next call into the tunnel
	 * or return; it is read again at each use, never kept.
	 */
	const struct cmap *(*cluster_map)(void *arg);
	/*
	 * A reply names node ${host}:${port} (NUL-terminated, as the server
	 * announced it), which the map in force does not have: the reply
	 * and every later server byte are held.  The tunnel asks for a
	 * topology refresh and calls resp_filter_cluster_retry from a timer
	 * until it returns 0.  Once per held reply.  May be NULL.
	 */
	void (*cluster_miss)(void *arg, const char *host, unsigned int port);
	/* A cluster reply was sent on rewritten (counters).  May be NULL. */
	void (*cluster_rewritten)(void *arg);
	/*
	 * Where AUTH's user and password come from (NULL: the service's
	 * username and password): fill ${user} (ulen bytes; "" for none)
	 * and ${pass} (plen bytes), NUL-terminated; 0, or -1 with the reason
	 * in ${why}.  Called at each AUTH the filter sends (prepare, after
	 * RESET, re-authentication), from the call that sends it: never
	 * touch the filter from here.  The filter wipes the buffers.
	 */
	int (*auth)(void *arg, char *user, size_t ulen, char *pass,
	    size_t plen, char *why, size_t whylen);
	/*
	 * A re-authentication (resp_filter_reauth) went on: RF_SENT when a
	 * deferred AUTH was sent at a safe point; then RF_OK (the server
	 * said +OK) or RF_FAIL (its error, or the auth hook failed at the
	 * safe point: nothing sent) with ${why}, which may hold server text.
	 * Nothing of it reaches the client.  May be NULL.
	 */
	void (*reauthed)(void *arg, int result, const char *why);
};

/**
 * resp_filter_attach(r, sc, hooks, name):
 * Put a RESP filter on the relay ${r} for a service configured as ${sc}
 * (which must outlive the relay), reporting through ${hooks} (copied);
 * ${name} (the service) prefixes debug lines.  Returns the filter, owned
 * by the relay (freed by relay_free), or NULL on allocation failure.
 */
struct resp_filter *resp_filter_attach(struct relay *r,
    const struct svc_conf *sc, const struct rf_hooks *hooks,
    const char *name);

/**
 * resp_filter_prepare(f):
 * Start the prepare conversation on a new upstream connection: AUTH when
 * a password is set or hooks->auth is, ROLE when a role is wanted, sent
 * upstream at once.  hooks->prepared follows once the replies are in; at
 * once (before this returns) when there is nothing to ask, or with
 * RF_FAIL and hooks->auth's reason when that fails (nothing is sent).
 */
void resp_filter_prepare(struct resp_filter *f);

/**
 * resp_filter_reusable(f):
 * Whether the connection can be cleaned for another client: the client
 * has sent its last command; nothing RESET cannot undo (CLIENT NO-EVICT,
 * a pending blocking command, QUIT, a protocol error) happened; the
 * server knows RESET; no reply waits for the node map.  Call after the
 * client's EOF reached the filter.
 */
int resp_filter_reusable(const struct resp_filter *f);

/**
 * resp_filter_recycle(f):
 * Send RESET (and AUTH again, as in prepare) upstream; replies the client
 * is still owed
 * go on to it, then hooks->client_done, then hooks->recycled.  The caller
 * bounds the time.
 */
void resp_filter_recycle(struct resp_filter *f);

/**
 * resp_filter_restart(f):
 * After RF_OK from a recycle: the connection starts again for a new
 * client, with the per-client state of a fresh connection.
 */
void resp_filter_restart(struct resp_filter *f);

/*
 * resp_filter_release_cache(): free the calling thread's idle scanners
 * (kept for the next busy connection); call when a loop has ended.
 */
void resp_filter_release_cache(void);

/* resp_filter_no_reset(f): the server answered RESET with an error. */
int resp_filter_no_reset(const struct resp_filter *f);

/**
 * resp_filter_cluster_retry(f, give_up):
 * For a cluster service whose filter holds replies after
 * hooks->cluster_miss: try again with the map hooks->cluster_map returns
 * now.  If every node is mapped (or ${give_up}), the held reply is sent,
 * rewritten (with ${give_up}, a MOVED/ASK to a node still unknown becomes
 * "-TRYAGAIN redtun [SERVICE]: no local port for node HOST:PORT yet" and
 * a topology reply naming one passes unchanged, both logged), then the
 * server bytes held behind it go through the filter in order: they may
 * hold again at another unknown node (never with ${give_up}), and the
 * hooks may run from inside this call as from relay input.  Returns 1 if
 * still waiting, 0 once nothing is held (the tunnel may read the server
 * again: relay_resumable tells), -1 if the tunnel is closing.  0 at once
 * when nothing waits.  The server's EOF gives up by itself.
 */
int resp_filter_cluster_retry(struct resp_filter *f, int give_up);

/**
 * resp_filter_reauth(f, why, whylen):
 * Authenticate again (AUTH from hooks->auth or the password) while a
 * client is on the connection, at a safe point: no reply owed, no
 * partial client command, not in MULTI, not RESP2 subscribed, not
 * MONITOR, replies not switched off, matching exact, no held cluster
 * reply.  The reply is dropped and reported through hooks->reauthed
 * (from relay input, never from inside this call).  Returns 1 if AUTH
 * was sent now; 0 if it is due and goes out at the first safe point
 * reached while relaying (hooks->reauthed RF_SENT then); -1 with the
 * reason in ${why} if it cannot be sent (not relaying, one already in
 * flight, or the auth hook failed).  resp_filter_restart cancels it.
 */
int resp_filter_reauth(struct resp_filter *f, char *why, size_t whylen);

/**
 * resp_filter_unsafe(f):
 * NULL at a safe point for resp_filter_reauth, else why not, for a log
 * line (a constant string: "outstanding replies", "MULTI", "RESP2
 * pub/sub", "MONITOR", ...).
 */
const char *resp_filter_unsafe(const struct resp_filter *f);

/**
 * resp_filter_stuck(f):
 * The client is a RESP2 subscriber or in MONITOR: no safe point comes
 * unless the client leaves that mode.
 */
int resp_filter_stuck(const struct resp_filter *f);

#endif
