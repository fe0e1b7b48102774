#ifndef REDTUN_TLS_TRUST_H
#define REDTUN_TLS_TRUST_H

#include <stddef.h>
#include <stdint.h>

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
 * tls_trust_next(trust, subject, cursor, len):
 * The next anchor from position ${*cursor} whose subject name hash (as
 * wolfCrypt's DecodedCert.subjectHash) equals ${subject}: returns its DER
 * and puts its length in ${*len}, advancing ${*cursor}; NULL when there is
 * no more.  Start with *cursor = 0.
 */
const unsigned char *tls_trust_next(const struct tls_trust *trust,
    const unsigned char *subject, size_t *cursor, size_t *len);

#endif
