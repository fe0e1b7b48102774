#ifndef REDTUN_TLS_NC_H
#define REDTUN_TLS_NC_H

#include <stddef.h>

#include "tls_identity.h"

/**
 * tls_nc_check(ext, extlen, names, nnames, why, whylen):
 * Apply the NameConstraints extension found in the DER certificate
 * extensions ${ext} (${extlen} bytes, the contents of the [3] EXPLICIT
 * wrapper or the Extensions SEQUENCE itself) to the subjectAltName entries
 * ${names} of one certificate below the constraining CA (RFC 5280
 * 4.2.1.10): dNSName and iPAddress subtrees, permitted and excluded.
 * wolfSSL 5.5.4 drops iPAddress subtrees and applies constraints only to
 * the next certificate, hence this.  Returns 1 if there is no such
 * extension, 0 if every name is allowed, -1 with the first offending name
 * in ${why} ("do not permit DNS:evil.test"), or -2 if the extension cannot
 * be parsed.
 */
int tls_nc_check(const unsigned char *ext, size_t extlen,
    const struct tls_san *names, size_t nnames, char *why, size_t whylen);

#endif
