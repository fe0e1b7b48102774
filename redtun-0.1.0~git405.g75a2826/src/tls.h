#ifndef REDTUN_TLS_H
#define REDTUN_TLS_H

#include <stddef.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

struct svc_conf;

/* What a wolfSSL call's return value means for the caller. */
enum tls_status {
	TLS_DONE = 0,		/* the call completed */
	TLS_WANT_READ,		/* call again when more ciphertext arrived */
	TLS_WANT_WRITE,		/* call again when the socket is writable */
	TLS_CLOSED,		/* the peer sent close_notify */
	TLS_TRUNCATED,		/* TCP closed without close_notify */
	TLS_FATAL		/* the connection is unusable */
};

struct tls_trust;

/*
 * Per-handshake verification state: what to check (set by
 * tls_verify_attach) and redtun's verdict, made by the verify callback
 * when wolfSSL reaches the leaf.
 */
struct tls_verify_info {
	const struct tls_trust *trust;	/* anchors of the generation */
	const char *host;		/* expected name; NULL for clients */
	int purpose;			/* enum tls_purpose */
	int verdict;			/* 0 not made, 1 verified, -1 refused */
	int error;			/* wolfSSL's first error, 0 if none */
	int cause;			/* tls_verify_chain's refusal, 0 if
					   none (TLS_VERIFY_*, -1) */
	char reason[320];		/* why it was refused */
};

/**
 * tls_init(void) / tls_shutdown(void):
 * Initialise and release the TLS library.  Call tls_init once in main
 * before any other thread exists.
 */
int tls_init(void);
void tls_shutdown(void);

/**
 * tls_ctx_new(sc, on_session, trust, why, whylen):
 * Build a complete context for the service ${sc}, a client context when
 * sc->client and a server context otherwise: verify mode, trust store
 * (client mode: the server's chain; server mode: client certificates, if
 * verifyChain), TLS 1.2 minimum, explicit AEAD cipher list, certificate
 * and key (read now, so a reload re-reads them).  In client mode with
 * sessionResume, session tickets are asked for and ${on_session} gets
 * each new session (it returns 1 to keep the reference, 0 to decline), as
 * for wolfSSL_CTX_sess_set_new_cb.  Server contexts never resume a
 * session: wolfSSL 5.5.4's session cache is process-wide and does not
 * check which service or trust made a session.  Nothing is taken from the
 * library defaults, which on Debian are OpenSSL-compatible (no
 * verification, anonymous and NULL suites).  With verifyChain, ${*trust}
 * gets the anchors for redtun's own policy (tls_verify.h; the caller frees
 * it), else NULL.  Returns the context or NULL with "FILE:LINE: SETTING:
 * problem" in ${why}.
 */
WOLFSSL_CTX *tls_ctx_new(const struct svc_conf *sc,
    int (*on_session)(WOLFSSL *, WOLFSSL_SESSION *),
    struct tls_trust **trust, char *why, size_t whylen);

/**
 * tls_status(ssl, ret, err):
 * Classify the return value ${ret} of wolfSSL_connect/accept/read/write/
 * shutdown on ${ssl}.  For TLS_FATAL the library error code goes to ${*err}.
 */
enum tls_status tls_status(WOLFSSL *ssl, int ret, int *err);

/**
 * tls_verify_attach(ssl, vi, trust, host, purpose):
 * Make redtun's policy (tls_verify_chain) the verdict on the peer chain
 * of ${ssl}: against ${trust}, for ${purpose}, and for ${host} unless it
 * is NULL.  ${vi}, ${trust} and ${host} must outlive the handshake.  The
 * handshake is refused unless vi->verdict ends up 1.
 */
void tls_verify_attach(WOLFSSL *ssl, struct tls_verify_info *vi,
    const struct tls_trust *trust, const char *host, int purpose);

/**
 * tls_describe_failure(ssl, err, vi, buf, len):
 * Put a sentence for a failed handshake into ${buf}: "certificate verify
 * failed: <reason>" when redtun's policy refused the chain, else the
 * library's certificate error in words, else "TLS handshake failed:
 * <library text>".  Returns ${buf}.
 */
const char *tls_describe_failure(WOLFSSL *ssl, int err,
    const struct tls_verify_info *vi, char *buf, size_t len);

/**
 * tls_fatal_text(ssl, err, buf, len):
 * Words for the fatal error ${err} on ${ssl}; for a received alert, which
 * alert and what it usually means.  Returns ${buf}.
 */
const char *tls_fatal_text(WOLFSSL *ssl, int err, char *buf, size_t len);

/* tls_error_text(err): the library's text for the error code ${err}. */
const char *tls_error_text(int err);

/**
 * tls_keypair_matches(cert, key, why, whylen):
 * Prove that the private key in the PEM file ${key} belongs to the first
 * certificate in ${cert} by a TLS handshake in memory.  Returns 0, or -1
 * with a reason in ${why}.
 */
int tls_keypair_matches(const char *cert, const char *key, char *why,
    size_t whylen);

/* tls_version_info(buf, len): "wolfSSL 5.5.4 (AES-NI: no)". */
const char *tls_version_info(char *buf, size_t len);

#endif
