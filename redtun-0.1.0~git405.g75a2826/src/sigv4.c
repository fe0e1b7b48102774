/*
 * The ElastiCache IAM token: a SigV4 presigned GET, byte for byte as
 * botocore's RequestSigner.generate_presigned_url makes it (the reference
 * AWS and redis-py document; test/sigv4_diff.py checks it).  The token is
 * written straight into the caller's buffer in botocore's order:
 *
 *   CACHE/?Action=connect&User=U[&ResourceType=ServerlessCache]
 *   &X-Amz-Algorithm=..&X-Amz-Credential=..&X-Amz-Date=..&X-Amz-Expires=..
 *   &X-Amz-SignedHeaders=host[&X-Amz-Security-Token=..]&X-Amz-Signature=..
 *
 * and the canonical request is hashed from slices of it in sorted key
 * order, so no intermediate buffer grows with the input.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"

/* AWS secret keys are 40 characters; this leaves room and bounds the key. */
#define SECRET_MAX	256

/* Unix time of 9999-12-31T23:59:59Z: X-Amz-Date has four year digits. */
#define NOW_MAX		INT64_C(253402300799)

/* SHA-256 of "": the GET has no body. */
#define EMPTY_SHA256	\
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A bounded writer over the caller's buffer; err sticks. */
struct wbuf {
	char *p;
	size_t len, cap;
	int err;
};

/* A value inside the token, by offset (the buffer is the token). */
struct slice {
	size_t off, len;
};

static void
w_add(struct wbuf *w, const char *s, size_t n)
{

	if (w->err || n >= w->cap - w->len) {
		w->err = 1;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

static void
w_str(struct wbuf *w, const char *s)
{

	w_add(w, s, strlen(s));
}

static int
unreserved(unsigned char c)
{

	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~');
}

/* Append ${s} encoded; return where it landed. */
static struct slice
w_enc(struct wbuf *w, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct slice sl;
	const unsigned char *u;
	char e[3];

	sl.off = w->len;
	for (u = (const unsigned char *)s; *u != '\0' && !w->err; u++) {
		if (unreserved(*u)) {
			w_add(w, (const char *)u, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[*u >> 4];
		e[2] = hex[*u & 15];
		w_add(w, e, 3);
	}
	sl.len = w->len - sl.off;
	return (sl);
}

int
sigv4_uri_encode(const char *in, char *out, size_t outlen)
{
	struct wbuf w = { out, 0, outlen, 0 };

	if (outlen == 0)
		return (-1);
	out[0] = '\0';
	(void)w_enc(&w, in);
	if (w.err || w.len > INT_MAX) {
		out[0] = '\0';
		return (-1);
	}
	return ((int)w.len);
}

/* The cache is the URL's host: a plain name, so the URL stays one URL. */
static int
host_ok(const char *s)
{
	const unsigned char *u;

	for (u = (const unsigned char *)s; *u != '\0'; u++)
		if (!unreserved(*u) || *u == '~')
			return (0);
	return (1);
}

static int
missing(const char *s)
{

	return (s == NULL || s[0] == '\0');
}

static int
hmac(const unsigned char *key, size_t keylen, const char *msg,
    size_t msglen, unsigned char mac[WC_SHA256_DIGEST_SIZE])
{
	Hmac h;
	int rc = -1;

	if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
		goto err0;
	if (wc_HmacSetKey(&h, WC_SHA256, key, (word32)keylen) != 0 ||
	    wc_HmacUpdate(&h, (const byte *)msg, (word32)msglen) != 0 ||
	    wc_HmacFinal(&h, mac) != 0)
		goto err1;
	rc = 0;
err1:
	wc_HmacFree(&h);
err0:
	/* The state holds the key's pads. */
	explicit_bzero(&h, sizeof(h));
	return (rc);
}

static void
hexify(const unsigned char *d, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * The hex signature of ${sts} (the string to sign) under the key derived
 * from the secret, the date, the region and the service.
 */
static int
sign(const char *secret, const char *date8, const char *region,
    const char *sts, size_t stslen, char sig[2 * WC_SHA256_DIGEST_SIZE + 1])
{
	unsigned char k0[4 + SECRET_MAX];
	unsigned char ka[WC_SHA256_DIGEST_SIZE], kb[WC_SHA256_DIGEST_SIZE];
	size_t slen = strlen(secret);
	int rc = -1;

	if (slen > SECRET_MAX)
		goto err;
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen);
	if (hmac(k0, 4 + slen, date8, 8, ka) ||
	    hmac(ka, sizeof(ka), region, strlen(region), kb) ||
	    hmac(kb, sizeof(kb), "elasticache", 11, ka) ||
	    hmac(ka, sizeof(ka), "aws4_request", 12, kb) ||
	    hmac(kb, sizeof(kb), sts, stslen, ka))
		goto err;
	hexify(ka, sizeof(ka), sig);
	rc = 0;
err:
	explicit_bzero(k0, sizeof(k0));
	explicit_bzero(ka, sizeof(ka));
	explicit_bzero(kb, sizeof(kb));
	return (rc);
}

static int
sha_add(wc_Sha256 *sha, const char *s, size_t n)
{

	return (wc_Sha256Update(sha, (const byte *)s, (word32)n));
}

/* The canonical query string's pairs, in sorted key order. */
struct canon {
	struct slice user, cred, tok;
	const char *date, *expires;
	int serverless, has_tok;
};

/*
 * Hex SHA-256 of the canonical request.  The payload is the empty body's
 * hash: botocore's SigV4QueryAuth keeps UNSIGNED-PAYLOAD for S3 only.
 */
static int
canon_hash(const char *tokbuf, const struct canon *c, const char *cache,
    char hexout[2 * WC_SHA256_DIGEST_SIZE + 1])
{
	wc_Sha256 sha;
	unsigned char d[WC_SHA256_DIGEST_SIZE];
	int r = 0;

	if (wc_InitSha256(&sha) != 0)
		return (-1);
	r |= sha_add(&sha, "GET\n/\nAction=connect&", 21);
	if (c->serverless)
		r |= sha_add(&sha, "ResourceType=ServerlessCache&", 29);
	r |= sha_add(&sha, "User=", 5);
	r |= sha_add(&sha, tokbuf + c->user.off, c->user.len);
	r |= sha_add(&sha, "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
	    "&X-Amz-Credential=", 51);
	r |= sha_add(&sha, tokbuf + c->cred.off, c->cred.len);
	r |= sha_add(&sha, "&X-Amz-Date=", 12);
	r |= sha_add(&sha, c->date, strlen(c->date));
	r |= sha_add(&sha, "&X-Amz-Expires=", 15);
	r |= sha_add(&sha, c->expires, strlen(c->expires));
	if (c->has_tok) {
		r |= sha_add(&sha, "&X-Amz-Security-Token=", 22);
		r |= sha_add(&sha, tokbuf + c->tok.off, c->tok.len);
	}
	r |= sha_add(&sha, "&X-Amz-SignedHeaders=host\nhost:", 31);
	r |= sha_add(&sha, cache, strlen(cache));
	r |= sha_add(&sha, "\n\nhost\n", 7);
	r |= sha_add(&sha, EMPTY_SHA256, 64);
	r |= wc_Sha256Final(&sha, d);
	wc_Sha256Free(&sha);
	if (r != 0)
		return (-1);
	hexify(d, sizeof(d), hexout);
	return (0);
}

int
sigv4_elasticache_token(const struct sigv4_req *rq, char *out,
    size_t outlen)
{
	struct wbuf w = { out, 0, outlen, 0 };
	struct canon c;
	struct tm tm;
	time_t t;
	char date[17], expires[16], scope[128], chash[65], sig[65];
	char sts[256];
	int n;

	if (outlen == 0)
		return (-1);
	out[0] = '\0';
	if (rq == NULL || missing(rq->access_key_id) ||
	    missing(rq->secret_access_key) || missing(rq->region) ||
	    missing(rq->cache) || missing(rq->user) || !host_ok(rq->cache))
		goto err;
	if (rq->now < 0 || rq->now > NOW_MAX)
		goto err;
	t = (time_t)rq->now;
	if ((int64_t)t != rq->now)
		goto err;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm) != 16)
		goto err;
	snprintf(expires, sizeof(expires), "%u",
	    rq->expires ? rq->expires : SIGV4_EXPIRES);
	/* The scope's date and region, without the key id (encoded below). */
	n = snprintf(scope, sizeof(scope), "%.8s/%s/elasticache/aws4_request",
	    date, rq->region);
	if (n < 0 || (size_t)n >= sizeof(scope))
		goto err;

	memset(&c, 0, sizeof(c));
	c.date = date;
	c.expires = expires;
	c.serverless = rq->serverless != 0;
	c.has_tok = !missing(rq->session_token);
	w_str(&w, rq->cache);
	w_str(&w, "/?Action=connect&User=");
	c.user = w_enc(&w, rq->user);
	if (c.serverless)
		w_str(&w, "&ResourceType=ServerlessCache");
	w_str(&w, "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
	c.cred = w_enc(&w, rq->access_key_id);
	w_str(&w, "%2F");
	(void)w_enc(&w, scope);
	c.cred.len = w.len - c.cred.off;
	w_str(&w, "&X-Amz-Date=");
	w_str(&w, date);
	w_str(&w, "&X-Amz-Expires=");
	w_str(&w, expires);
	w_str(&w, "&X-Amz-SignedHeaders=host");
	if (c.has_tok) {
		w_str(&w, "&X-Amz-Security-Token=");
		c.tok = w_enc(&w, rq->session_token);
	}
	if (w.err)
		goto err;

	if (canon_hash(out, &c, rq->cache, chash))
		goto err;
	n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", date,
	    scope, chash);
	if (n < 0 || (size_t)n >= sizeof(sts))
		goto err;
	if (sign(rq->secret_access_key, date, rq->region, sts, (size_t)n, sig))
		goto err;
	w_str(&w, "&X-Amz-Signature=");
	w_str(&w, sig);
	if (w.err || w.len > INT_MAX)
		goto err;
	return ((int)w.len);

err:
	out[0] = '\0';
	return (-1);
}

int64_t
sigv4_now(void)
{
	struct timespec ts;
	const char *v = getenv("REDTUN_TEST_AWS_CLOCK");
	char *end;
	long long x;
	int64_t now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec;
	if (v == NULL || (v[0] != '@' && v[0] != '+' && v[0] != '-'))
		return (now);
	/* Digits only after the sign: strtoll would take " 5" or "+-5". */
	if (v[1] < '0' || v[1] > '9')
		return (now);
	errno = 0;
	x = strtoll(v + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return (now);
	if (v[0] == '@')
		return ((int64_t)x);
	if (v[0] == '-')
		x = -x;
	if ((x > 0 && now > INT64_MAX - x) || (x < 0 && now < INT64_MIN - x))
		return (now);
	return (now + x);
}
