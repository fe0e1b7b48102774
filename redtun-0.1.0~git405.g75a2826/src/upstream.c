/*
 * The upstream half of a tunnel: resolve the connect targets (per
 * connection when delay = true) and connect with failover across targets
 * and addresses.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "net.h"
#include "service.h"
#include "tls.h"
#include "tunnel.h"
#include "tunnel_priv.h"

static void try_next_target(struct tunnel *);
static void try_next_address(struct tunnel *);

/*
 * glibc reports a lookup that could not open /etc/hosts for lack of
 * descriptors as "unknown name": check whether descriptors are short.
 */
static int
short_of_fds(void)
{
	int a, b, short_of;

	a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	b = open("/dev/null", O_RDONLY | O_CLOEXEC);
	short_of = (a < 0 || b < 0) && net_out_of_fds(errno);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return (short_of);
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct tunnel *t = req->data;

	t->gai_active = 0;
	if (TUNNEL_UPSTREAM_GONE(t)) {
		if (res != NULL)
			uv_freeaddrinfo(res);
		tunnel_unpend(t);
		return;
	}
	t->pending--;
	if (net_out_of_fds(status) || (status < 0 && short_of_fds())) {
		tunnels_fd_exhausted(t->set, t->loop);
		tunnel_fail(t, ST_FAIL_LIMIT);
		tunnel_finish(t, LOG_LVL_DEBUG, "upstream %s:%d: no descriptor "
		    "to resolve the name", t->uphost, t->upport);
		return;
	}
	if (status < 0) {
		tunnel_fail(t, ST_FAIL_DNS);
		snprintf(t->last_err, sizeof(t->last_err), "cannot resolve "
		    "%s: %s", t->uphost, uv_strerror(status));
		log_msg(LOG_LVL_INFO, svc_name(t->svc), "%s: %s", t->peer,
		    t->last_err);
		t->tried++;
		try_next_target(t);
		return;
	}
	t->ai_owned = res;
	t->ai_next = res;
	try_next_address(t);
}

/* Is an untried target not backing off still ahead in this pass? */
static int
healthy_left(const struct tunnel *t)
{
	char why[64];
	size_t k, n = t->sc->nconnect, i;

	for (k = t->tried + 1; k < n; k++) {
		i = (t->first + k) % n;
		if (!(t->tried_mask & ((uint64_t)1 << i)) &&
		    svc_target_backoff(t->svc, i, uv_now(t->loop), why,
		    sizeof(why)) == 0)
			return (1);
	}
	return (0);
}

/* Only the target's own fault starts a back-off, not ours. */
static void
remote_failure(struct tunnel *t)
{

	svc_target_failed(t->svc, t->target, uv_now(t->loop), t->last_err);
}

static void
try_next_target(struct tunnel *t)
{
	const struct svc_conf *sc = t->sc;
	const struct addr_spec *a;
	struct addrinfo hints;
	char port[8];
	size_t i;
	int r;

	if (t->ai_owned != NULL) {
		uv_freeaddrinfo(t->ai_owned);
		t->ai_owned = NULL;
	}
	/* Two passes: healthy targets first, then those backing off. */
	for (;; t->tried++) {
		char why[64] = "";
		unsigned int wait;

		if (t->tried >= 2 * sc->nconnect) {
			/* Out of descriptors, lookups fail too: said once. */
			tunnel_refuse(t, tunnels_fd_trouble(t->set) ?
			    LOG_LVL_INFO : LOG_LVL_ERR, "upstream %s:%d: %s",
			    t->uphost, t->upport, t->last_err);
			return;
		}
		i = (t->first + t->tried) % sc->nconnect;
		if (t->tried_mask & ((uint64_t)1 << i))
			continue;
		wait = svc_target_backoff(t->svc, i, uv_now(t->loop), why,
		    sizeof(why));
		if (t->tried >= sc->nconnect || wait == 0 ||
		    !healthy_left(t))
			break;
		log_msg(LOG_LVL_INFO, svc_name(t->svc), "%s: skipping %s:%d "
		    "for %us more (it failed: %s)", t->peer,
		    sc->connect[i].host, sc->connect[i].port, wait, why);
	}
	t->tried_mask |= (uint64_t)1 << i;
	t->target = i;
	a = &sc->connect[i];
	t->uphost = a->host;
	t->upport = a->port;
	if ((t->ai_next = svc_resolved(t->svc, i)) != NULL) {
		try_next_address(t);
		return;
	}
	net_hints(&hints, AI_ADDRCONFIG);
	snprintf(port, sizeof(port), "%d", a->port);
	t->gai.data = t;
	t->resolving = 1;
	tunnel_phase_restart(t);	/* TIMEOUTconnect per attempt */
	r = uv_getaddrinfo(t->loop, &t->gai, on_resolved, a->host, port,
	    &hints);
	if (r < 0) {
		tunnel_fail(t, ST_FAIL_DNS);
		snprintf(t->last_err, sizeof(t->last_err), "cannot resolve "
		    "%s: %s", a->host, uv_strerror(r));
		t->tried++;
		try_next_target(t);
		return;
	}
	t->gai_active = 1;
	t->pending++;
}

static void
on_retry_closed(uv_handle_t *h)
{
	struct end *e = h->data;
	struct tunnel *t = e->t;

	if (TUNNEL_UPSTREAM_GONE(t)) {
		tunnel_unpend(t);
		return;
	}
	t->pending--;
	try_next_address(t);
}

/* This address failed: close the socket, then try the next one. */
static void
retry(struct tunnel *t)
{

	log_msg(LOG_LVL_INFO, svc_name(t->svc), "%s: upstream %s:%d (%s): %s",
	    t->peer, t->uphost, t->upport, t->upaddr, t->last_err);
	t->srv.open = 0;
	t->pending++;
	uv_close((uv_handle_t *)&t->srv.tcp, on_retry_closed);
}

static void
on_connected(uv_connect_t *req, int status)
{
	struct tunnel *t = req->data;

	if (status == UV_ECANCELED || TUNNEL_UPSTREAM_GONE(t))
		return;
	if (status < 0) {
		tunnel_fail(t, tunnel_fail_uv(status));
		snprintf(t->last_err, sizeof(t->last_err), "%s",
		    status == UV_ECONNREFUSED ? "connection refused" :
		    uv_strerror(status));
		if (status == UV_ECONNREFUSED || status == UV_ETIMEDOUT ||
		    status == UV_EHOSTUNREACH || status == UV_ENETUNREACH ||
		    status == UV_ECONNRESET)
			remote_failure(t);
		retry(t);
		return;
	}
	svc_target_ok(t->svc, t->target);
	tunnel_stats_connected(t);
	uv_tcp_nodelay(&t->srv.tcp, 1);
	uv_tcp_keepalive(&t->srv.tcp, 1, 60);
	tunnel_connected(t);
}

static void
try_next_address(struct tunnel *t)
{
	const struct addrinfo *ai = t->ai_next;
	int r;

	while (ai != NULL && ai->ai_family != AF_INET &&
	    ai->ai_family != AF_INET6)
		ai = ai->ai_next;
	if (ai == NULL) {
		t->tried++;
		try_next_target(t);
		return;
	}
	t->ai_next = ai->ai_next;
	addr_format(ai->ai_addr, t->upaddr, sizeof(t->upaddr));
	if ((r = uv_tcp_init(t->loop, &t->srv.tcp)) < 0) {
		tunnel_refuse(t, LOG_LVL_ERR, "upstream %s:%d: cannot create "
		    "a socket: %s", t->uphost, t->upport, uv_strerror(r));
		return;
	}
	t->srv.tcp.data = &t->srv;
	t->srv.open = 1;
	t->creq.data = t;
	t->resolving = 0;
	tunnel_phase_restart(t);
	t->connect_ns = uv_hrtime();
	if ((r = uv_tcp_connect(&t->creq, &t->srv.tcp, ai->ai_addr,
	    on_connected)) < 0) {
		if (net_out_of_fds(r)) {
			/* Logged once for all tunnels, not per connection. */
			tunnels_fd_exhausted(t->set, t->loop);
			tunnel_fail(t, ST_FAIL_LIMIT);
			tunnel_finish(t, LOG_LVL_DEBUG, "upstream %s:%d: no "
			    "descriptor for the socket", t->uphost, t->upport);
			return;
		}
		tunnel_fail(t, tunnel_fail_uv(r));
		snprintf(t->last_err, sizeof(t->last_err), "%s",
		    uv_strerror(r));
		retry(t);
	}
}

void
upstream_start(struct tunnel *t)
{

	t->first = svc_first_target(t->svc);
	t->tried = 0;
	t->tried_mask = 0;
	snprintf(t->last_err, sizeof(t->last_err), "no usable address");
	try_next_target(t);
}

void
upstream_timeout(struct tunnel *t)
{

	tunnel_fail(t, ST_FAIL_TIMEOUT);
	if (t->resolving) {
		tunnel_refuse(t, LOG_LVL_ERR, "upstream %s:%d: name resolution "
		    "timed out", t->uphost, t->upport);
		return;
	}
	snprintf(t->last_err, sizeof(t->last_err), "connect timed out");
	remote_failure(t);
	retry(t);
}
