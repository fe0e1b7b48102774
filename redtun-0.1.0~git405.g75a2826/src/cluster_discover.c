/*
 * Cluster discovery: one short blocking conversation with a node over TLS,
 * off the loops (at start, on a reload's or a refresh's pool thread).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "addr.h"
#include "cluster_discover.h"
#include "cluster_rewrite.h"
#include "conf.h"
#include "iam.h"
#include "log.h"
#include "net.h"
#include "resp.h"
#include "service.h"
#include "sigv4.h"
#include "tls.h"
#include "tls_verify.h"

/* A topology reply larger than this is not a cluster we can serve. */
#define REPLY_MAX	(4 * 1024 * 1024)

/*
 * Reads straight from the socket: the service's context stores sessions
 * for tunnels (handshake_on_session looks for one in the read context),
 * so this connection's read context stays NULL.
 */
static int
sock_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	ssize_t n;

	(void)ctx;
	do
		n = recv(wolfSSL_get_fd(ssl), buf, (size_t)sz, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return ((int)n);
	return (n == 0 ? WOLFSSL_CBIO_ERR_CONN_CLOSE :
	    WOLFSSL_CBIO_ERR_GENERAL);
}

struct conv {
	WOLFSSL *ssl;
	struct resp_scan *scan;
	char *buf;
	size_t len, cap, off;	/* bytes read; start of the next frame */
};

/* Send one command given as ${argc} words. */
static int
send_cmd(struct conv *cv, int argc, const char *const *argv)
{
	char head[32];
	int i, n;

	n = snprintf(head, sizeof(head), "*%d\r\n", argc);
	if (wolfSSL_write(cv->ssl, head, n) != n)
		return (-1);
	for (i = 0; i < argc; i++) {
		n = snprintf(head, sizeof(head), "$%zu\r\n", strlen(argv[i]));
		if (wolfSSL_write(cv->ssl, head, n) != n ||
		    wolfSSL_write(cv->ssl, argv[i], (int)strlen(argv[i])) !=
		    (int)strlen(argv[i]) || wolfSSL_write(cv->ssl, "\r\n", 2) != 2)
			return (-1);
	}
	return (0);
}

/* The next reply: its bytes at *frame, its summary at *f. */
static int
read_reply(struct conv *cv, const char **frame, size_t *flen,
    const struct resp_frame **f, char *why, size_t whylen)
{
	size_t used, start = cv->off;
	char *nb;
	int rc, n;

	for (;;) {
		if (cv->off < cv->len) {
			rc = resp_scan(cv->scan, cv->buf + cv->off,
			    cv->len - cv->off, &used);
			cv->off += used;
			if (rc == RESP_FRAME) {
				*frame = cv->buf + start;
				*flen = cv->off - start;
				*f = resp_scan_frame(cv->scan);
				return (0);
			}
			if (rc == RESP_BAD) {
				snprintf(why, whylen, "not a Redis reply: %s",
				    resp_scan_error(cv->scan));
				return (-1);
			}
		}
		if (cv->len == cv->cap) {
			if (cv->cap >= REPLY_MAX) {
				snprintf(why, whylen, "reply over %d bytes",
				    REPLY_MAX);
				return (-1);
			}
			if ((nb = realloc(cv->buf, cv->cap ? cv->cap * 2 :
			    16384)) == NULL) {
				snprintf(why, whylen, "out of memory");
				return (-1);
			}
			cv->buf = nb;
			cv->cap = cv->cap ? cv->cap * 2 : 16384;
		}
		n = wolfSSL_read(cv->ssl, cv->buf + cv->len,
		    (int)(cv->cap - cv->len));
		if (n <= 0) {
			snprintf(why, whylen, "connection closed or timed out "
			    "(TIMEOUTconnect) before the reply");
			return (-1);
		}
		cv->len += (size_t)n;
	}
}

/* An error reply's text, escaped, into ${why}. */
static void
error_text(const char *frame, size_t len, const char *what, char *why,
    size_t whylen)
{
	char esc[300];

	while (len > 0 && (frame[len - 1] == '\n' || frame[len - 1] == '\r'))
		len--;
	if (len > 0)
		frame++, len--;
	snprintf(why, whylen, "%s: %s", what, log_escape(esc, sizeof(esc),
	    frame, len > 200 ? 200 : len));
}

/*
 * AUTH iamUser TOKEN for an IAM service: the runtime's token, or at start
 * (no token yet: discovery comes before the first commit) one made now
 * from the credential chain; this thread may block.
 */
static int
auth_iam(struct conv *cv, struct svc *svc, char *why, size_t whylen)
{
	const struct svc_conf *sc = svc_conf(svc);
	const struct resp_frame *f;
	const char *frame, *argv[3];
	char *tok, w[256], user[256];
	size_t flen;
	int r = -1;

	if ((tok = malloc(SIGV4_TOKEN_MAX)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	if ((svc_iam(svc) == NULL || iam_auth(svc_iam(svc), user, sizeof(user),
	    tok, SIGV4_TOKEN_MAX, w, sizeof(w)) != 0) &&
	    iam_token_once(sc, 2000, tok, SIGV4_TOKEN_MAX, w,
	    sizeof(w)) != 0) {
		snprintf(why, whylen, "IAM: %s", w);
		goto out;
	}
	argv[0] = "AUTH";
	argv[1] = sc->iam_user;
	argv[2] = tok;
	if (send_cmd(cv, 3, argv) != 0 ||
	    read_reply(cv, &frame, &flen, &f, why, whylen) != 0)
		goto out;
	if (f->type == '-' || f->type == '!') {
		error_text(frame, flen, "AUTH refused", why, whylen);
		goto out;
	}
	r = 0;
out:
	memset(tok, 0, SIGV4_TOKEN_MAX);
	free(tok);
	return (r);
}

/* The conversation on a handshaken connection. */
static int
converse(struct conv *cv, struct svc *svc, struct ctopo_node **nodes,
    size_t *n, char *why, size_t whylen)
{
	const struct svc_conf *sc = svc_conf(svc);
	const char *shards[] = { "CLUSTER", "SHARDS" };
	const char *slots[] = { "CLUSTER", "SLOTS" };
	const char *auth[] = { "AUTH", sc->username ? sc->username :
	    sc->password, sc->password };
	const struct resp_frame *f;
	const char *frame;
	size_t flen;
	int kind = CRW_SHARDS;

	if (sc->iam_user != NULL && auth_iam(cv, svc, why, whylen) != 0)
		return (-1);
	if (sc->password != NULL) {
		if (send_cmd(cv, sc->username ? 3 : 2, auth) != 0 ||
		    read_reply(cv, &frame, &flen, &f, why, whylen) != 0)
			return (-1);
		if (f->type == '-' || f->type == '!') {
			error_text(frame, flen, "AUTH refused", why, whylen);
			return (-1);
		}
	}
	if (send_cmd(cv, 2, shards) != 0 ||
	    read_reply(cv, &frame, &flen, &f, why, whylen) != 0)
		return (-1);
	if (f->type == '-' && f->nargs > 0 && f->arg[0].len > 4 &&
	    memmem(f->arg[0].p, f->arg[0].len < RESP_CAP_LEN ? f->arg[0].len :
	    RESP_CAP_LEN, "ubcommand", 9) != NULL) {
		/* Before 7.0: no SHARDS. */
		kind = CRW_SLOTS;
		if (send_cmd(cv, 2, slots) != 0 ||
		    read_reply(cv, &frame, &flen, &f, why, whylen) != 0)
			return (-1);
	}
	if (f->type == '-' || f->type == '!') {
		error_text(frame, flen, "not a usable cluster node (cluster = "
		    "true)", why, whylen);
		return (-1);
	}
	if (ctopo_parse(kind, frame, flen, nodes, n, why, whylen) != 0)
		return (-1);
	if (*n == 0) {
		snprintf(why, whylen, "the cluster has no nodes yet");
		return (-1);
	}
	return (0);
}

/* One address of one node: 0 with the nodes, or -1 with ${why}. */
static int
ask_one(struct svc *svc, const char *host, const struct addrinfo *ai,
    struct ctopo_node **nodes, size_t *n, char *why, size_t whylen)
{
	const struct svc_conf *sc = svc_conf(svc);
	struct tls_verify_info vi;
	struct conv cv;
	const char *expected;
	int fd, rc, err, ok = -1;

	memset(&cv, 0, sizeof(cv));
	if ((fd = net_connect_timeout(ai, sc->timeout_connect ?
	    sc->timeout_connect : 10, why, whylen)) < 0)
		return (-1);
	if ((cv.scan = resp_scan_new(RESP_REPLIES)) == NULL ||
	    (cv.ssl = wolfSSL_new(svc_tls_ctx(svc))) == NULL ||
	    wolfSSL_set_fd(cv.ssl, fd) != WOLFSSL_SUCCESS) {
		snprintf(why, whylen, "cannot create a TLS session");
		goto out;
	}
	wolfSSL_SSLSetIORecv(cv.ssl, sock_recv);
	wolfSSL_SetIOReadCtx(cv.ssl, NULL);
	if (!addr_is_ip(host))
		(void)wolfSSL_UseSNI(cv.ssl, WOLFSSL_SNI_HOST_NAME, host,
		    (unsigned short)strlen(host));
	expected = sc->check_host ? sc->check_host : host;
	memset(&vi, 0, sizeof(vi));
	if (sc->verify_chain)
		tls_verify_attach(cv.ssl, &vi, svc_tls_trust(svc), expected,
		    TLS_PURPOSE_SERVER);
	if ((rc = wolfSSL_connect(cv.ssl)) != WOLFSSL_SUCCESS) {
		err = wolfSSL_get_error(cv.ssl, rc);
		tls_describe_failure(cv.ssl, err, &vi, why, whylen);
		goto out;
	}
	if (sc->verify_chain && vi.verdict != 1) {
		snprintf(why, whylen, "certificate verify failed: %s",
		    vi.reason[0] ? vi.reason : "no verdict");
		goto out;
	}
	ok = converse(&cv, svc, nodes, n, why, whylen);
	(void)wolfSSL_shutdown(cv.ssl);
out:
	if (cv.buf != NULL)
		explicit_bzero(cv.buf, cv.cap);
	free(cv.buf);
	resp_scan_free(cv.scan);
	if (cv.ssl != NULL)
		wolfSSL_free(cv.ssl);
	close(fd);
	return (ok);
}

static int
ask_target(struct svc *svc, const struct addr_spec *t, const int *cancel,
    struct ctopo_node **nodes, size_t *n, char *why, size_t whylen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16], r[400];
	int rc;

	snprintf(port, sizeof(port), "%d", t->port);
	if ((rc = getaddrinfo(t->host, port, net_hints(&hints, AI_ADDRCONFIG),
	    &res)) != 0) {
		snprintf(why, whylen, "%s:%d: cannot resolve: %s", t->host,
		    t->port, gai_strerror(rc));
		return (-1);
	}
	snprintf(r, sizeof(r), "no address");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (cancel != NULL && __atomic_load_n(cancel,
		    __ATOMIC_RELAXED)) {
			snprintf(r, sizeof(r), "shutting down");
			break;
		}
		if (ask_one(svc, t->host, ai, nodes, n, r,
		    sizeof(r)) == 0) {
			freeaddrinfo(res);
			return (0);
		}
	}
	freeaddrinfo(res);
	snprintf(why, whylen, "%s:%d: %s", t->host, t->port, r);
	return (-1);
}

int
cluster_discover(struct svc *svc, const struct addr_spec *known,
    size_t nknown, const int *cancel, struct ctopo_node **nodes, size_t *n, char *why,
    size_t whylen)
{
	const struct svc_conf *sc = svc_conf(svc);
	size_t i;

	*nodes = NULL;
	*n = 0;
	snprintf(why, whylen, "no connect target");
	for (i = 0; i < sc->nconnect; i++)
		if (ask_target(svc, &sc->connect[i], cancel, nodes, n, why,
		    whylen) == 0)
			return (0);
	for (i = 0; i < nknown && i < DISCOVER_KNOWN_MAX; i++)
		if (ask_target(svc, &known[i], cancel, nodes, n, why,
		    whylen) == 0)
			return (0);
	return (-1);
}
