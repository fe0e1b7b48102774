#ifndef REDTUN_LISTENER_H
#define REDTUN_LISTENER_H

#include <stddef.h>

#include <uv.h>

struct svc;
struct svc_conf;
struct tunnels;

/* A listening socket that hands connections to a service generation. */
struct listener;

/**
 * listener_new(loop, set, svc, why, whylen):
 * Bind and listen on the accept address of ${svc} (taking a reference).
 * Accepted connections become tunnels registered in ${set}, unless the
 * service's maxConnections or the global limit is reached: then they are
 * refused (logged at most once a second): in client mode the client's
 * first command is answered with the reason as a Redis error
 * (tunnel_accept_refused, a bounded number at a time), otherwise, or
 * beyond that bound, they are closed at once.  Returns the
 * listener, or NULL with "cannot listen on ADDR: reason" in ${why}.
 */
struct listener *listener_new(uv_loop_t *loop, struct tunnels *set,
    struct svc *svc, char *why, size_t whylen);

/**
 * listener_bind(sc, reuseport, why, whylen):
 * A listening socket on the accept address of ${sc} (SO_REUSEPORT if
 * ${reuseport}, so that every worker thread can have its own).  Returns
 * the descriptor, or -1 with "cannot listen on ADDR: reason" in ${why}
 * ("already in use by another process" for EADDRINUSE).
 */
int listener_bind(const struct svc_conf *sc, int reuseport, char *why,
    size_t whylen);

/**
 * listener_check_free(sc, why, whylen):
 * Check that no socket (of this or any other process) holds the accept
 * address of ${sc}, by binding one without SO_REUSEPORT and closing it;
 * call it before binding a SO_REUSEPORT group.  Returns 0, or -1 with
 * "cannot listen on ADDR: already in use by another process" (or another
 * reason) in ${why}.
 */
int listener_check_free(const struct svc_conf *sc, char *why, size_t whylen);

/**
 * listener_overlaps(a, b):
 * Whether the accept addresses of ${a} and ${b} resolve to the same port
 * on the same or a wildcard address (a reload moving a listener from
 * "127.0.0.1:P" to "localhost:P" or "0.0.0.0:P": redtun's own socket is
 * still bound there, so listener_check_free would blame another process).
 */
int listener_overlaps(const struct svc_conf *a, const struct svc_conf *b);

/**
 * listener_open(loop, set, svc, fd, announce, why, whylen):
 * As listener_new, on the listening socket ${fd} from listener_bind
 * (ownership passes, also on failure); logs "listening on" if
 * ${announce}.
 */
struct listener *listener_open(uv_loop_t *loop, struct tunnels *set,
    struct svc *svc, int fd, int announce, char *why, size_t whylen);

/**
 * listener_set_global_limit(l, max):
 * Refuse new connections while ${max} tunnels (all services) are open;
 * 0 means no limit.
 */
void listener_set_global_limit(struct listener *l, size_t max);

/* listener_svc(l): the generation new connections currently get. */
struct svc *listener_svc(const struct listener *l);

/**
 * listener_set_svc(l, svc):
 * Hand new connections to ${svc} from now on (reload); takes a reference
 * to ${svc} and drops the one on the previous generation.
 */
void listener_set_svc(struct listener *l, struct svc *svc);

/**
 * listener_keep(l, t):
 * Pool the connection ${t}, cleaned after its client left, for the next
 * client of ${l} (tunnel_park).  Returns 0, or -1 if the service does not
 * reuse connections or already keeps reuseMax of them to that target.
 */
struct tunnel;
int listener_keep(struct listener *l, struct tunnel *t);

/**
 * listener_close(l):
 * Stop accepting; the memory and the service reference are released in
 * the close callback.  Open tunnels are not affected.
 */
void listener_close(struct listener *l);

#endif
