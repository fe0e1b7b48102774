#ifndef REDTUN_TLS_IDENTITY_H
#define REDTUN_TLS_IDENTITY_H

#include <stddef.h>

/* GeneralName tags of the subjectAltName entries redtun looks at. */
#define TLS_SAN_DNS	2
#define TLS_SAN_IP	7

/* One subjectAltName entry as the certificate carries it (not owned). */
struct tls_san {
	int type;			/* TLS_SAN_DNS, TLS_SAN_IP or other */
	const unsigned char *p;		/* dNSName bytes or 4/16 address bytes */
	size_t len;
};

/**
 * tls_identity_match(host, sans, nsans, why, whylen):
 * Decide whether a certificate whose subjectAltName list is ${sans}
 * (${nsans} entries) is for ${host} (RFC 9525).  An IP literal (v4 or v6,
 * IPv6 without brackets) matches only iPAddress entries, byte for byte.
 * A DNS name matches only dNSName entries, ignoring case and one trailing
 * dot; a wildcard is allowed only as the whole left-most label with at
 * least two labels after it, and never matches an IP.  The subject CN is
 * never used: a certificate without a usable SAN does not match.  A NUL or
 * other control byte in any dNSName fails the check outright.  Returns 0
 * on a match, or -1 with a sentence in ${why} (names escaped by the log).
 */
int tls_identity_match(const char *host, const struct tls_san *sans,
    size_t nsans, char *why, size_t whylen);

/**
 * tls_identity_is_ip(host, addr, len):
 * If ${host} is an IPv4 or IPv6 literal, put its bytes in ${addr} (16
 * bytes of room), their count in ${*len}, and return 1; else return 0.
 */
int tls_identity_is_ip(const char *host, unsigned char addr[16], size_t *len);

#endif
