#ifndef REDTUN_TLS_VERIFY_H
#define REDTUN_TLS_VERIFY_H

#include <stddef.h>

/* What the peer's certificate must be good for. */
enum tls_purpose {
	TLS_PURPOSE_SERVER = 0,		/* client mode: serverAuth */
	TLS_PURPOSE_CLIENT		/* server mode, mTLS: clientAuth */
};

/* The longest path redtun builds: leaf, intermediates, anchor. */
#define TLS_MAX_INTERMEDIATES	16

struct tls_trust;

/**
 * tls_verify_chain(trust, der, len, n, purpose, host, why, whylen):
 * The whole verification policy for the ${n} DER certificates ${der}[i]
 * (${len}[i] bytes) a peer sent, leaf first: build a path from the leaf
 * through the received certificates to an anchor of ${trust} (trusted
 * first, no memory between calls), then check every certificate of it:
 * validity dates, signatures (no MD5/SHA-1 below the anchor), key sizes
 * (RSA >= 2048, EC >= 256 bits), CA flag, keyCertSign, path length, name
 * constraints of every CA over everything below it, extended key usage
 * for ${purpose} on the leaf and intermediates, digitalSignature on the
 * leaf.  If ${host} is not NULL, the leaf must be for it
 * (tls_identity_match).  Returns 0, or with one sentence naming the
 * cause and the certificate in ${why}: TLS_VERIFY_NO_PATH when no path to
 * an anchor was found, TLS_VERIFY_DATES when a certificate of the path has
 * expired or is not yet valid, TLS_VERIFY_IDENTITY when the path is good
 * but the leaf is not for ${host}, or -1 for any other refusal (the
 * counters' handshake failure reasons).
 */
#define TLS_VERIFY_NO_PATH	(-2)
#define TLS_VERIFY_IDENTITY	(-3)
#define TLS_VERIFY_DATES	(-4)
int tls_verify_chain(const struct tls_trust *trust,
    const unsigned char *const *der, const size_t *len, size_t n,
    enum tls_purpose purpose, const char *host, char *why, size_t whylen);

#endif
