/* Listening sockets, one per service. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "listener.h"
#include "log.h"
#include "net.h"
#include "service.h"
#include "stats.h"
#include "tunnel.h"

struct listener {
	uv_tcp_t tcp;
	uv_timer_t refill;	/* tops up the pre-warmed pool */
	int handles;		/* open handles; freed when 0 */
	int closing;
	struct tunnel **pool;	/* pre-warmed: handshaking or ready */
	size_t npool, pool_cap;
	struct tunnels *set;
	struct svc *svc;
	struct stats_cell *st;	/* svc's counters on this worker */
	int listening;		/* counted in st->listening */
	size_t global_max;
	int accept_failing;	/* log a failing accept once, not per try */
	int reserve_fd;		/* spent to shed connections on EMFILE */
	uint64_t refused_logged_at;	/* uv_now() of the last refusal line */
	unsigned long refused;		/* refusals since that line */
};

static void pool_schedule(struct listener *, uint64_t);

/* One connection turned away by a limit (or for want of descriptors). */
static void
count_rejection(struct listener *l)
{

	STATS_INC(l->st, limit_rejections);
	STATS_INC(l->st, fail[ST_FAIL_LIMIT]);
}

/* Count ${l} as listening for ${svc}'s entry (a reload may rename it). */
static void
count_listening(struct listener *l, int on)
{

	if (l->listening) {
		STATS_DEC(l->st, listening);
		l->listening = 0;
	}
	l->st = stats_cell(svc_stats(l->svc), (size_t)tunnels_worker(l->set));
	if (on) {
		STATS_INC(l->st, listening);
		l->listening = 1;
	}
}

static void
free_handle(uv_handle_t *h)
{

	free(h);
}

/* Take a connection off the queue and close it; returns its peer. */
static const char *
shed(uv_stream_t *server)
{
	static _Thread_local char peer[64];
	struct sockaddr_storage ss;
	uv_tcp_t *c;
	int len = sizeof(ss);

	snprintf(peer, sizeof(peer), "unknown peer");
	if ((c = malloc(sizeof(*c))) == NULL)
		return (peer);
	uv_tcp_init(server->loop, c);
	if (uv_accept(server, (uv_stream_t *)c) == 0 &&
	    uv_tcp_getpeername(c, (struct sockaddr *)&ss, &len) == 0)
		addr_format((struct sockaddr *)&ss, peer, sizeof(peer));
	uv_close((uv_handle_t *)c, free_handle);
	return (peer);
}

/*
 * Over a limit: refuse the connection, and say so at most once a second.
 * Client mode tells the client why in a Redis error (a few connections
 * at a time, see tunnel_accept_refused); otherwise, or beyond those, the
 * connection is shed.
 */
static void
refuse(struct listener *l, uv_stream_t *server, unsigned int limit,
    int global)
{
	uint64_t now = uv_now(server->loop);
	char why[96], peer[64];

	snprintf(why, sizeof(why), "connection limit reached (%smaxConnections "
	    "= %u)", global ? "global " : "", limit);
	if (!svc_conf(l->svc)->client || tunnel_accept_refused(l->set, server,
	    l->svc, why, peer, sizeof(peer)) != 0)
		snprintf(peer, sizeof(peer), "%s", shed(server));
	count_rejection(l);
	l->refused++;
	if (l->refused_logged_at != 0 && now - l->refused_logged_at < 1000)
		return;
	log_msg(LOG_LVL_WARNING, svc_name(l->svc), "%s: refusing %s (%lu "
	    "refused since the last message)", why, peer, l->refused);
	l->refused_logged_at = now;
	l->refused = 0;
}

/* ---- the pre-warmed pool --------------------------------------------- */

static void
pool_remove(struct listener *l, struct tunnel *t)
{
	size_t i;

	for (i = 0; i < l->npool; i++) {
		if (l->pool[i] == t) {
			l->pool[i] = l->pool[--l->npool];
			return;
		}
	}
}

static void
on_pool_event(struct tunnel *t, int event, void *arg)
{
	struct listener *l = arg;

	if (event == POOL_READY)
		return;
	pool_remove(l, t);
	/* A failing upstream must not be hammered: wait before retrying. */
	pool_schedule(l, event == POOL_FAILED ? 1000 : 0);
}

/* Pooled connections that are pre-warmed (the rest were kept after use). */
static size_t
pool_warm(const struct listener *l)
{
	size_t i, n = 0;

	for (i = 0; i < l->npool; i++)
		n += !tunnel_reused(l->pool[i]);
	return (n);
}

static int
pool_grow(struct listener *l, size_t cap)
{
	struct tunnel **p;

	if (cap <= l->pool_cap)
		return (0);
	if ((p = realloc(l->pool, cap * sizeof(*p))) == NULL)
		return (-1);
	l->pool = p;
	l->pool_cap = cap;
	return (0);
}

int
listener_keep(struct listener *l, struct tunnel *t)
{
	const struct svc_conf *sc = svc_conf(l->svc);
	size_t i, same = 0;

	if (l->closing || !sc->reuse)
		return (-1);
	for (i = 0; i < l->npool; i++)
		same += tunnel_reused(l->pool[i]) &&
		    tunnel_target(l->pool[i]) == tunnel_target(t);
	if (same >= sc->reuse_max || (l->npool == l->pool_cap &&
	    pool_grow(l, l->pool_cap * 2 + 4) != 0))
		return (-1);
	l->pool[l->npool++] = t;
	tunnel_park(t, on_pool_event, l);
	return (0);
}

static void
on_refill(uv_timer_t *timer)
{
	struct listener *l = timer->data;
	struct tunnel *t;

	while (!l->closing && pool_warm(l) < svc_conf(l->svc)->prewarm) {
		/* Kept connections share the array: room for both. */
		if (l->npool == l->pool_cap &&
		    pool_grow(l, l->pool_cap * 2 + 4) != 0)
			break;
		t = tunnel_prewarm(l->set, l->tcp.loop, l->svc, on_pool_event,
		    l);
		/* It may have failed at once (and scheduled a retry). */
		if (t == NULL || !tunnel_pooled(t))
			break;
		l->pool[l->npool++] = t;
	}
}

static void
pool_schedule(struct listener *l, uint64_t delay_ms)
{

	if (!l->closing && svc_conf(l->svc)->prewarm > 0)
		uv_timer_start(&l->refill, on_refill, delay_ms, 0);
}

/* Hand a ready pre-warmed connection to the new client, if there is one. */
static int
pool_take(struct listener *l, uv_stream_t *server)
{
	size_t i;

	for (i = 0; i < l->npool; i++) {
		struct tunnel *t = l->pool[i];

		if (!tunnel_pool_ready(t))
			continue;
		if (tunnel_adopt(t, server) != 0)
			return (-1);
		l->pool[i] = l->pool[--l->npool];
		pool_schedule(l, 0);
		return (0);
	}
	return (-1);
}

/* Close every pooled connection (reload, stop); no callbacks follow. */
static void
pool_drain(struct listener *l, const char *why)
{

	while (l->npool > 0)
		tunnel_discard(l->pool[--l->npool], why);
}

static int
pool_size(struct listener *l)
{

	return (pool_grow(l, svc_conf(l->svc)->prewarm));
}

/* ---- accepting -------------------------------------------------------- */

/*
 * libuv sheds connections on EMFILE with a spare descriptor of its own,
 * but if another thread takes that descriptor back (the resolver pool
 * opening /etc/hosts), it calls us with UV_EMFILE in a tight loop until a
 * descriptor frees up.  Our own spare breaks that loop: close it, accept
 * and drop what is pending, take it back.
 */
static void
shed_without_fds(struct listener *l)
{
	uv_os_fd_t lfd;
	int fd;

	if (uv_fileno((uv_handle_t *)&l->tcp, &lfd) != 0)
		return;
	if (l->reserve_fd >= 0) {
		close(l->reserve_fd);
		l->reserve_fd = -1;
	}
	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(fd);
		count_rejection(l);
	}
	l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	tunnels_fd_exhausted(l->set, l->tcp.loop);
	tunnels_note_shed(l->set);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	const struct svc_conf *sc = svc_conf(l->svc);
	int r = 0;

	/* A pooled connection is already counted: hand it over first. */
	if (status == 0 && pool_take(l, server) == 0)
		return;
	if (status == 0 && tunnels_out_of_fds(l->set)) {
		shed(server);
		count_rejection(l);
		tunnels_note_shed(l->set);
		return;
	}
	if (status == 0 && sc->max_connections > 0 &&
	    tunnels_count_service(l->set, sc->name) >= sc->max_connections) {
		refuse(l, server, sc->max_connections, 0);
		return;
	}
	/* Refusing tunnels are bounded apart (tunnels_refusing). */
	if (status == 0 && l->global_max > 0 &&
	    tunnels_count(l->set) - tunnels_refusing(l->set) >= l->global_max) {
		refuse(l, server, (unsigned int)l->global_max, 1);
		return;
	}
	if (status == 0 && (r = tunnel_accept(l->set, server, l->svc)) == 0) {
		if (l->accept_failing)
			log_msg(LOG_LVL_NOTICE, svc_name(l->svc), "accepting "
			    "connections again");
		l->accept_failing = 0;
		return;
	}
	if (net_out_of_fds(status))
		shed_without_fds(l);
	if (status < 0)
		r = status;
	/* Descriptor exhaustion has its own once-per-episode message. */
	if (!l->accept_failing && !net_out_of_fds(r))
		log_msg(LOG_LVL_ERR, svc_name(l->svc), "cannot accept a "
		    "connection: %s", uv_strerror(r));
	l->accept_failing = 1;
}

static int
resolve_accept(const struct addr_spec *a, struct sockaddr_storage *ss)
{
	struct addrinfo hints, *res;
	char port[8];

	if (uv_ip4_addr(a->host, a->port, (struct sockaddr_in *)ss) == 0 ||
	    uv_ip6_addr(a->host, a->port, (struct sockaddr_in6 *)ss) == 0)
		return (0);
	snprintf(port, sizeof(port), "%d", a->port);
	if (getaddrinfo(a->host, port, net_hints(&hints, AI_PASSIVE),
	    &res) != 0)
		return (UV_EAI_NONAME);
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return (0);
}

static void
on_listener_closed(uv_handle_t *h)
{
	struct listener *l = h->data;

	if (--l->handles > 0)
		return;
	if (l->reserve_fd >= 0)
		close(l->reserve_fd);
	svc_unref(l->svc);
	free(l->pool);
	free(l);
}

static void
format_where(const struct svc_conf *sc, char *where, size_t len)
{

	snprintf(where, len, strchr(sc->accept.host, ':') ? "[%s]:%d" :
	    "%s:%d", sc->accept.host, sc->accept.port);
}

/* "cannot listen on ADDR: reason", naming another holder plainly. */
static void
bind_error(const struct svc_conf *sc, const char *where, int err, char *why,
    size_t whylen)
{

	snprintf(why, whylen, "[%s] cannot listen on %s: %s", sc->name, where,
	    err == EADDRINUSE ? "already in use by another process" :
	    strerror(err));
}

/*
 * A socket bound to the accept address of ${sc}, listening if ${backlog}
 * > 0.  Returns the descriptor, or -1 with the reason in ${why}.
 */
static int
bind_accept(const struct svc_conf *sc, int reuseport, int backlog,
    char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	char where[80];
	int fd, on = 1, err;

	format_where(sc, where, sizeof(where));
	if (resolve_accept(&sc->accept, &ss) < 0) {
		snprintf(why, whylen, "[%s] cannot listen on %s: cannot "
		    "resolve %s", sc->name, where, sc->accept.host);
		return (-1);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
	    sizeof(on)) != 0) ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
	    bind(fd, (struct sockaddr *)&ss, ss.ss_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) != 0 ||
	    (backlog > 0 && listen(fd, backlog) != 0)) {
		err = errno;
		bind_error(sc, where, err, why, whylen);
		if (fd >= 0)
			close(fd);
		return (-1);
	}
	return (fd);
}

int
listener_bind(const struct svc_conf *sc, int reuseport, char *why,
    size_t whylen)
{

	return (bind_accept(sc, reuseport, 511, why, whylen));
}

/* Is ${ss} the wildcard address (0.0.0.0 or ::)? */
static int
is_any(const struct sockaddr_storage *ss)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (ss->ss_family == AF_INET)
		return (((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY));
	return (memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, &any6,
	    sizeof(any6)) == 0);
}

int
listener_overlaps(const struct svc_conf *a, const struct svc_conf *b)
{
	struct sockaddr_storage x, y;

	if (a->accept.port != b->accept.port)
		return (0);
	if (resolve_accept(&a->accept, &x) < 0 ||
	    resolve_accept(&b->accept, &y) < 0 || x.ss_family != y.ss_family)
		return (0);
	if (is_any(&x) || is_any(&y))
		return (1);
	if (x.ss_family == AF_INET)
		return (((struct sockaddr_in *)&x)->sin_addr.s_addr ==
		    ((struct sockaddr_in *)&y)->sin_addr.s_addr);
	return (memcmp(&((struct sockaddr_in6 *)&x)->sin6_addr,
	    &((struct sockaddr_in6 *)&y)->sin6_addr,
	    sizeof(struct in6_addr)) == 0);
}

/*
 * SO_REUSEPORT lets any socket of the same user join the group, so a
 * second redtun would share the port silently.  A socket bound without
 * SO_REUSEPORT succeeds only if nobody holds the address.
 */
int
listener_check_free(const struct svc_conf *sc, char *why, size_t whylen)
{
	int fd;

	if ((fd = bind_accept(sc, 0, 0, why, whylen)) < 0)
		return (-1);
	close(fd);
	return (0);
}

struct listener *
listener_open(uv_loop_t *loop, struct tunnels *set, struct svc *svc, int fd,
    int announce, char *why, size_t whylen)
{
	const struct svc_conf *sc = svc_conf(svc);
	struct listener *l;
	char where[80];
	int r;

	format_where(sc, where, sizeof(where));
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(why, whylen, "[%s] cannot listen on %s: out of memory",
		    sc->name, where);
		close(fd);
		return (NULL);
	}
	l->set = set;
	l->svc = svc_ref(svc);
	l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	uv_tcp_init(loop, &l->tcp);
	l->tcp.data = l;
	uv_timer_init(loop, &l->refill);
	l->refill.data = l;
	l->handles = 2;
	if ((r = uv_tcp_open(&l->tcp, fd)) < 0) {
		/* The handle did not take ${fd}: closing it will not close it. */
		close(fd);
		goto err;
	}
	if ((r = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection)) < 0)
		goto err;
	if (pool_size(l) != 0) {
		snprintf(why, whylen, "[%s] out of memory", sc->name);
		listener_close(l);
		return (NULL);
	}
	count_listening(l, 1);
	pool_schedule(l, 0);
	if (!announce)
		return (l);
	log_msg(LOG_LVL_NOTICE, sc->name, "listening on %s", where);
	if (sc->client && !addr_is_loopback(sc->accept.host))
		log_msg(LOG_LVL_WARNING, sc->name, "accepting on %s, which is "
		    "not a loopback address: the plaintext side of this tunnel"
		    " is reachable from the network", where);
	return (l);
err:
	snprintf(why, whylen, "[%s] cannot listen on %s: %s", sc->name, where,
	    uv_strerror(r));
	listener_close(l);
	return (NULL);
}

struct listener *
listener_new(uv_loop_t *loop, struct tunnels *set, struct svc *svc,
    char *why, size_t whylen)
{
	int fd;

	if ((fd = listener_bind(svc_conf(svc), 0, why, whylen)) < 0)
		return (NULL);
	return (listener_open(loop, set, svc, fd, 1, why, whylen));
}

void
listener_set_global_limit(struct listener *l, size_t max)
{

	l->global_max = max;
}

struct svc *
listener_svc(const struct listener *l)
{

	return (l->svc);
}

void
listener_set_svc(struct listener *l, struct svc *svc)
{

	if (svc == l->svc)
		return;		/* a listener made for this generation */
	svc_ref(svc);
	svc_inherit(svc, l->svc);
	svc_unref(l->svc);
	l->svc = svc;
	count_listening(l, l->listening);
	/* Pooled connections belong to the old settings: start afresh. */
	pool_drain(l, "pre-warmed connection replaced after a reload");
	if (pool_size(l) == 0)
		pool_schedule(l, 0);
}

void
listener_close(struct listener *l)
{

	l->closing = 1;
	count_listening(l, 0);
	pool_drain(l, "pre-warmed connection closed: service stopped");
	uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
	uv_close((uv_handle_t *)&l->refill, on_listener_closed);
}
