#ifndef REDTUN_TLS_VERIFY_H
#define REDTUN_TLS_VERIFY_H

#include <stddef.h>
#include <stdint.h>

/* What the peer's certificate must be good for. */
enum tls_purpose {
	TLS_PURPOSE_SERVER = 0,		/* client mode: serverAuth */
	TLS_PURPOSE_CLIENT		/* server mode, mTLS: clientAuth */
};

/* The longest path redtun builds: leaf, intermediates, anchor. */
#define TLS_MAX_INTERMEDIATES	16

struct tls_trust;

/**
 * tls_trust_load(cafile, capath, why, whylen):
 * Read the trust anchors redtun's own path validation uses: the PEM
 * certificates of ${cafile} and of every regular file in ${capath}; with
 * both NULL, the system bundle.  The same files are given to wolfSSL, but
 * redtun's verdict depends only on these anchors and the chain received on
 * one connection, never on intermediates the library remembered.  Returns
 * the read-only store (safe to share between threads), or NULL with the
 * problem in ${why}.
 */
struct tls_trust *tls_trust_load(const char *cafile, const char *capath,
    char *why, size_t whylen);

/* tls_trust_free(trust): release ${trust}; NULL is fine. */
void tls_trust_free(struct tls_trust *trust);

/**
 * tls_trust_fingerprint(trust, h):
 * Fold the bytes of every anchor of ${trust} into the FNV-1a hash ${h}
 * and return it: equal fingerprints mean the same trust, whatever file
 * layout it came from.
 */
uint64_t tls_trust_fingerprint(const struct tls_trust *trust, uint64_t h);

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
 * (tls_identity_match).  Returns 0, -2 when no path to an anchor was
 * found, or -1 for any other refusal, with one sentence naming the cause
 * and the certificate in ${why}.
 */
int tls_verify_chain(const struct tls_trust *trust,
    const unsigned char *const *der, const size_t *len, size_t n,
    enum tls_purpose purpose, const char *host, char *why, size_t whylen);

#endif
