/*
 * The provider chain's HTTP steps (see aws_creds.h): container credentials
 * (ECS, EKS Pod Identity), else EC2 instance metadata, IMDSv2 only: a
 * session token first (PUT), then the role name and its credentials with
 * that token.  One request at a time (aws_http.c); a timer at 0 delivers
 * an outcome found before any request started, so the callback never
 * fires inside aws_creds_fetch.
 * The container URL's path can be a secret (ECS: /v2/credentials/<id>):
 * messages and the source name only the scheme and host ("container
 * credentials (http://169.254.170.2, RELATIVE_URI)").
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "aws_creds.h"
#include "aws_http.h"
#include "aws_profile.h"
#include "log.h"


#define FETCH_BODY_MAX	65536
#define IMDS_TOKEN_MAX	4096
#define ROLE_MAX	128
#define ECS_HOST	"http://169.254.170.2"
#define IMDS_HOST	"http://169.254.169.254"
#define IMDS_HOST6	"http://[fd00:ec2::254]"
#define IMDS_TOKEN_PATH	"/latest/api/token"
#define IMDS_ROLE_PATH	"/latest/meta-data/iam/security-credentials/"

enum step { S_CONTAINER, S_TOKEN, S_ROLE, S_CREDS };

struct aws_fetch {
	uv_loop_t *loop;
	uv_timer_t defer;
	unsigned int timeout_ms;
	enum step step;
	struct aws_http *req;		/* in flight, or NULL */
	int done;
	char base[512];			/* endpoint, no trailing '/' */
	char url[1024];			/* of the request in flight */
	char what[120];			/* the container endpoint, no path */
	char token[IMDS_TOKEN_MAX + 1];	/* IMDSv2 session token (secret) */
	char *auth;			/* "Authorization: ..." (secret) */
	char role[ROLE_MAX + 1];
	char why[512];			/* an outcome to deliver */
	aws_creds_cb *cb;
	void *arg;
};

static void
on_defer_close(uv_handle_t *h)
{
	struct aws_fetch *f = h->data;

	if (f->auth != NULL) {
		explicit_bzero(f->auth, strlen(f->auth));
		free(f->auth);
	}
	explicit_bzero(f, sizeof(*f));	/* the IMDSv2 token */
	free(f);
}

/* The outcome, once; then ${f} goes once its timer is closed. */
static void
deliver(struct aws_fetch *f, struct aws_creds *c, const char *why)
{

	if (f->done) {
		aws_creds_free(c);
		return;
	}
	f->done = 1;
	f->req = NULL;
	f->cb(f->arg, c, c != NULL ? NULL : why);
	uv_close((uv_handle_t *)&f->defer, on_defer_close);
}

static void
on_defer(uv_timer_t *t)
{
	struct aws_fetch *f = t->data;

	deliver(f, NULL, f->why);
}

/* Fail later, from the loop. */
static void
fail_soon(struct aws_fetch *f, const char *why)
{

	log_fmt(f->why, sizeof(f->why), "%s", why);
	(void)uv_timer_start(&f->defer, on_defer, 0, 0);
}

static void on_http(void *, int, const char *, size_t, const char *);

/* Start ${method} ${f->url}; 0, or -1 having arranged the failure. */
static int
send_req(struct aws_fetch *f, const char *method, const char *hdr)
{
	const char *hdrs[3] = { hdr, NULL, NULL };
	char why[600];

	if (f->step == S_TOKEN)
		hdrs[0] = "X-aws-ec2-metadata-token-ttl-seconds: 21600";
	f->req = aws_http_request(f->loop, method, f->url, hdrs,
	    f->timeout_ms, FETCH_BODY_MAX, on_http, f);
	if (f->req != NULL)
		return (0);
	log_fmt(why, sizeof(why), "%s: cannot start the request (out of "
	    "memory, or a bad URL or header)", f->step == S_CONTAINER ?
	    f->what : f->url);
	fail_soon(f, why);
	return (-1);
}

/* The IMDSv2 GET after the token. */
static void
imds_get(struct aws_fetch *f, enum step step)
{
	char hdr[IMDS_TOKEN_MAX + 40];

	f->step = step;
	log_fmt(f->url, sizeof(f->url), "%s%s%s", f->base, IMDS_ROLE_PATH,
	    step == S_CREDS ? f->role : "");
	log_fmt(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", f->token);
	(void)send_req(f, "GET", hdr);
	explicit_bzero(hdr, sizeof(hdr));
}

/* The credentials JSON of the last step. */
static void
got_json(struct aws_fetch *f, const char *body, size_t len)
{
	struct aws_creds *c;
	char why[400], pwhy[160];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		deliver(f, NULL, "out of memory");
		return;
	}
	if (aws_creds_parse_json(body, len, c, pwhy, sizeof(pwhy)) != 0) {
		free(c);
		if (f->step == S_CONTAINER)
			log_fmt(why, sizeof(why), "%s: %s", f->what, pwhy);
		else
			log_fmt(why, sizeof(why), "IMDSv2 credentials from %s: %s",
			    f->url, pwhy);
		deliver(f, NULL, why);
		return;
	}
	if (f->step == S_CONTAINER)
		log_fmt(c->source, sizeof(c->source), "%s", f->what);
	else
		log_fmt(c->source, sizeof(c->source), "IMDSv2 role %s",
		    f->role);
	deliver(f, c, NULL);
}

/* The first line of the role list, checked: 0, or -1 with ${why}. */
static int
got_role(struct aws_fetch *f, const char *body, size_t len)
{
	size_t n = strcspn(body, "\r\n");

	if (n > len)
		n = len;
	if (n == 0 || n > ROLE_MAX || !aws_creds_printable(body, n) ||
	    memchr(body, '/', n) != NULL || memchr(body, ' ', n) != NULL)
		return (-1);
	memcpy(f->role, body, n);
	f->role[n] = '\0';
	return (0);
}

static void
on_http(void *arg, int status, const char *body, size_t len, const char *err)
{
	struct aws_fetch *f = arg;
	char why[900], esc[64];
	const char *what;

	f->req = NULL;
	what = f->step == S_TOKEN ? "IMDSv2 token request failed" :
	    f->step == S_ROLE ? "IMDSv2 role name" : "IMDSv2 credentials";
	if (f->step == S_CONTAINER && status != 200) {
		if (status == 0)
			log_fmt(why, sizeof(why), "%s: %s", f->what, err);
		else
			log_fmt(why, sizeof(why), "%s: HTTP %d", f->what, status);
		deliver(f, NULL, why);
		return;
	}
	if (status == 0) {
		log_fmt(why, sizeof(why), "%s (%s %s): %s", what,
		    f->step == S_TOKEN ? "PUT" : "GET", f->url, err);
		deliver(f, NULL, why);
		return;
	}
	if (status == 404 && f->step == S_ROLE) {
		log_fmt(why, sizeof(why), "IMDSv2: no IAM role attached to "
		    "this instance (GET %s: HTTP 404)", f->url);
		deliver(f, NULL, why);
		return;
	}
	if (status != 200) {
		log_fmt(why, sizeof(why), "%s (%s %s): HTTP %d%s", what,
		    f->step == S_TOKEN ? "PUT" : "GET", f->url, status,
		    f->step == S_TOKEN ? "; no fallback to IMDSv1" : "");
		deliver(f, NULL, why);
		return;
	}
	switch (f->step) {
	case S_TOKEN:
		if (len == 0 || len > IMDS_TOKEN_MAX ||
		    !aws_creds_printable(body, len)) {
			log_fmt(why, sizeof(why), "%s (PUT %s): the token is "
			    "empty, longer than %d bytes or not printable",
			    what, f->url, IMDS_TOKEN_MAX);
			deliver(f, NULL, why);
			return;
		}
		memcpy(f->token, body, len);
		f->token[len] = '\0';
		imds_get(f, S_ROLE);
		return;
	case S_ROLE:
		if (got_role(f, body, len) != 0) {
			log_fmt(why, sizeof(why), "%s (GET %s): not a role "
			    "name: \"%s\"", what, f->url, log_escape(esc,
			    sizeof(esc), body, len));
			deliver(f, NULL, why);
			return;
		}
		imds_get(f, S_CREDS);
		return;
	case S_CONTAINER:
	case S_CREDS:
		got_json(f, body, len);
		return;
	}
}

/*
 * FULL_URI's host must be a literal loopback address (127.0.0.0/8, ::1),
 * "localhost" or an ECS/EKS agent's address, as in botocore (its
 * _ALLOWED_HOSTS and _is_loopback_address): no other name is looked up,
 * so no DNS answer decides where the Authorization token goes.
 */
static int
host_allowed(const char *url)
{
	const char *h = url + 7;
	struct in6_addr a6, e6;
	struct in_addr a4;
	char host[64];
	size_t n;

	if (h[0] == '[') {
		h++;
		n = strcspn(h, "]");
	} else
		n = strcspn(h, ":/");
	if (n == 0 || n >= sizeof(host))
		return (0);
	memcpy(host, h, n);
	host[n] = '\0';
	if (url[7] == '[') {
		return (inet_pton(AF_INET6, host, &a6) == 1 &&
		    inet_pton(AF_INET6, "fd00:ec2::23", &e6) == 1 &&
		    (IN6_IS_ADDR_LOOPBACK(&a6) ||
		    memcmp(&a6, &e6, sizeof(a6)) == 0));
	}
	/* inet_pton takes dotted quads only: not "127.1", not "127.x.com" */
	if (inet_pton(AF_INET, host, &a4) == 1)
		return ((ntohl(a4.s_addr) >> 24) == 127 ||
		    strcmp(host, "169.254.170.2") == 0 ||
		    strcmp(host, "169.254.170.23") == 0);
	return (strcasecmp(host, "localhost") == 0);
}

/* The Authorization header line, from the token file or variable. */
static int
container_auth(struct aws_fetch *f, char *why, size_t whylen)
{
	const char *file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char buf[AWS_CONTAINER_TOKEN_MAX + 1];
	size_t n;

	if (file != NULL && *file != '\0') {
		if (aws_creds_container_token(file, buf, why, whylen) != 0)
			return (-1);
		tok = buf;
	} else if (tok == NULL || *tok == '\0')
		return (0);
	else if (!aws_creds_token_legal(tok)) {
		log_fmt(why, whylen, "the container authorization token "
		    "(AWS_CONTAINER_AUTHORIZATION_TOKEN) is not a legal header "
		    "value: a line break or a control character");
		return (-1);
	}
	n = strlen(tok);
	if ((f->auth = malloc(n + 16)) == NULL) {
		log_fmt(why, whylen, "out of memory");
		explicit_bzero(buf, sizeof(buf));
		return (-1);
	}
	log_fmt(f->auth, n + 16, "Authorization: %s", tok);
	explicit_bzero(buf, sizeof(buf));
	return (0);
}

/*
 * "container credentials (http://HOST[:PORT], RELATIVE_URI)": the
 * scheme and host of ${f->url}, never its path nor any user info; short
 * enough for aws_creds.source.
 */
static void
name_endpoint(struct aws_fetch *f, int isrel)
{
	const char *p = strstr(f->url, "://");
	size_t n = 0;

	if (p != NULL)
		n = (size_t)(p - f->url) + 3 + strcspn(p + 3, "/?#@");
	if (n > 48)
		n = 48;
	log_fmt(f->what, sizeof(f->what), "container credentials (%.*s%s%s)",
	    (int)n, f->url, n > 0 ? ", " : "", isrel ? "RELATIVE_URI" :
	    "FULL_URI");
}

/* Step 3, when configured: 1 started (or failing soon), 0 not set. */
static int
container(struct aws_fetch *f)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char why[600], uwhy[96];
	int k, isrel = rel != NULL && *rel != '\0';

	f->step = S_CONTAINER;
	if (isrel)
		k = snprintf(f->url, sizeof(f->url), "%s%s", ECS_HOST, rel);
	else if (full != NULL && *full != '\0')
		k = snprintf(f->url, sizeof(f->url), "%s", full);
	else
		return (0);
	/* Scheme and host only: never the path (see the top). */
	name_endpoint(f, isrel);
	if (k < 0 || (size_t)k >= sizeof(f->url))
		log_fmt(why, sizeof(why), "container credentials: the URI "
		    "is too long");
	else if (aws_http_url_ok(f->url, uwhy, sizeof(uwhy)) != 0)
		log_fmt(why, sizeof(why), "container credentials %s: %s",
		    isrel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" :
		    "AWS_CONTAINER_CREDENTIALS_FULL_URI", uwhy);
	else if (!isrel && !host_allowed(f->url))
		log_fmt(why, sizeof(why), "%s: the host is not a loopback "
		    "address, localhost or an ECS/EKS agent address", f->what);
	else if (container_auth(f, why, sizeof(why)) == 0) {
		(void)send_req(f, "GET", f->auth);
		return (1);
	}
	fail_soon(f, why);
	return (1);
}

/* Step 4: IMDSv2 unless disabled; 0 when disabled. */
static int
imds(struct aws_fetch *f)
{
	const char *off = getenv("AWS_EC2_METADATA_DISABLED");
	const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	char why[600], uwhy[96];
	size_t n;

	if (off != NULL && strcasecmp(off, "true") == 0)
		return (0);
	if (ep == NULL || *ep == '\0')
		ep = mode != NULL && strcasecmp(mode, "IPv6") == 0 ?
		    IMDS_HOST6 : IMDS_HOST;
	n = strlen(ep);
	while (n > 0 && ep[n - 1] == '/')
		n--;
	if (n >= sizeof(f->base) || aws_http_url_ok(ep, uwhy,
	    sizeof(uwhy)) != 0) {
		log_fmt(why, sizeof(why), "IMDSv2: "
		    "AWS_EC2_METADATA_SERVICE_ENDPOINT: %s", n >=
		    sizeof(f->base) ? "too long" : uwhy);
		fail_soon(f, why);
		return (1);
	}
	memcpy(f->base, ep, n);
	f->base[n] = '\0';
	f->step = S_TOKEN;
	log_fmt(f->url, sizeof(f->url), "%s%s", f->base, IMDS_TOKEN_PATH);
	(void)send_req(f, "PUT", NULL);
	return (1);
}

/* aws_creds_fetch(loop, timeout_ms, cb, arg): see aws_creds.h. */
struct aws_fetch *
aws_creds_fetch(uv_loop_t *loop, unsigned int timeout_ms, aws_creds_cb *cb,
    void *arg)
{
	struct aws_fetch *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return (NULL);
	f->loop = loop;
	f->timeout_ms = timeout_ms;
	f->cb = cb;
	f->arg = arg;
	(void)uv_timer_init(loop, &f->defer);
	f->defer.data = f;
	if (container(f) == 0 && imds(f) == 0)
		fail_soon(f, "no credentials: no AWS_CONTAINER_CREDENTIALS_"
		    "RELATIVE_URI or _FULL_URI; IMDS disabled by "
		    "AWS_EC2_METADATA_DISABLED");
	return (f);
}

/* aws_creds_cancel(f): see aws_creds.h. */
void
aws_creds_cancel(struct aws_fetch *f)
{

	if (f == NULL || f->done)
		return;
	f->done = 1;
	aws_http_cancel(f->req);
	f->req = NULL;
	uv_close((uv_handle_t *)&f->defer, on_defer_close);
}
