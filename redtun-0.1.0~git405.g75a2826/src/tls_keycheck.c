/*
 * Does a private key belong to its certificate?  wolfSSL 5.5.4's
 * wolfSSL_CTX_check_private_key() accepted an ECDSA key of another
 * certificate, so we prove it the way a peer would: a TLS handshake in
 * memory between a throwaway server using the pair and a client that
 * checks the server's signature (but not its chain).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "tls.h"

struct pipe {
	unsigned char buf[16 * 1024];
	size_t len;
};

struct duplex {
	struct pipe *in, *out;
};

static int
pipe_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct pipe *p = ((struct duplex *)ctx)->in;
	size_t n = p->len < (size_t)sz ? p->len : (size_t)sz;

	(void)ssl;
	if (n == 0)
		return (WOLFSSL_CBIO_ERR_WANT_READ);
	memcpy(buf, p->buf, n);
	memmove(p->buf, p->buf + n, p->len - n);
	p->len -= n;
	return ((int)n);
}

static int
pipe_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct pipe *p = ((struct duplex *)ctx)->out;

	(void)ssl;
	if ((size_t)sz > sizeof(p->buf) - p->len)
		return (WOLFSSL_CBIO_ERR_WANT_WRITE);
	memcpy(p->buf + p->len, buf, (size_t)sz);
	p->len += (size_t)sz;
	return (sz);
}

static WOLFSSL *
endpoint(WOLFSSL_CTX *ctx, struct duplex *d)
{
	WOLFSSL *ssl;

	if (ctx == NULL || (ssl = wolfSSL_new(ctx)) == NULL)
		return (NULL);
	wolfSSL_SSLSetIORecv(ssl, pipe_recv);
	wolfSSL_SSLSetIOSend(ssl, pipe_send);
	wolfSSL_SetIOReadCtx(ssl, d);
	wolfSSL_SetIOWriteCtx(ssl, d);
	return (ssl);
}

/* One handshake step of one side; -1 on a real failure. */
static int
step(WOLFSSL *ssl, int (*fn)(WOLFSSL *), int *done)
{
	int rc;

	if (*done)
		return (0);
	if ((rc = fn(ssl)) == WOLFSSL_SUCCESS) {
		*done = 1;
		return (0);
	}
	return (wolfSSL_get_error(ssl, rc) == WOLFSSL_ERROR_WANT_READ ? 0 : -1);
}

int
tls_keypair_matches(const char *cert, const char *key, char *why,
    size_t whylen)
{
	/* Reloads run this on a pool thread: no static buffers. */
	struct pipe *c2s, *s2c;
	struct duplex cd, sd;
	WOLFSSL_CTX *sctx, *cctx;
	WOLFSSL *s = NULL, *c = NULL;
	int i, sdone = 0, cdone = 0, ret = -1;

	c2s = calloc(1, sizeof(*c2s));
	s2c = calloc(1, sizeof(*s2c));
	cd.in = sd.out = s2c;
	cd.out = sd.in = c2s;
	sctx = wolfSSL_CTX_new(wolfTLS_server_method());
	cctx = wolfSSL_CTX_new(wolfTLS_client_method());
	if (c2s == NULL || s2c == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (sctx == NULL || cctx == NULL ||
	    wolfSSL_CTX_use_certificate_chain_file(sctx, cert) !=
	    WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(sctx, key, WOLFSSL_FILETYPE_PEM) !=
	    WOLFSSL_SUCCESS) {
		snprintf(why, whylen, "cannot load the pair");
		goto out;
	}
	/* Only the key proof matters here, not whom the cert names. */
	wolfSSL_CTX_set_verify(cctx, WOLFSSL_VERIFY_NONE, NULL);
	if ((s = endpoint(sctx, &sd)) == NULL ||
	    (c = endpoint(cctx, &cd)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	for (i = 0; i < 16 && !(sdone && cdone); i++)
		if (step(c, wolfSSL_connect, &cdone) ||
		    step(s, wolfSSL_accept, &sdone))
			break;
	if (sdone && cdone)
		ret = 0;
	else
		snprintf(why, whylen, "a test handshake with this pair failed:"
		    " %s", tls_error_text(wolfSSL_get_error(c, 0) ?
		    wolfSSL_get_error(c, 0) : wolfSSL_get_error(s, 0)));
out:
	wolfSSL_free(c);
	wolfSSL_free(s);
	wolfSSL_CTX_free(cctx);
	wolfSSL_CTX_free(sctx);
	free(s2c);
	free(c2s);
	return (ret);
}
