/*
 * Server (and client) identity, RFC 9525.  wolfSSL 5.5.4's own check
 * matches IPs as text against dNSNames and CN, accepts partial and
 * multi-label wildcards and renders IPv6 SANs in a form no one writes, so
 * redtun decides from the typed SAN list itself.  Pure functions: the
 * fuzzer and the OpenSSL differential drive them directly.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "tls_identity.h"

int
tls_identity_is_ip(const char *host, unsigned char addr[16], size_t *len)
{

	struct in_addr a4;

	if (inet_pton(AF_INET, host, addr) == 1) {
		*len = 4;
		return (1);
	}
	/* glibc's resolver also takes "127.1", "2130706433", "0x7f.1". */
	if (inet_aton(host, &a4) == 1) {
		memcpy(addr, &a4, 4);
		*len = 4;
		return (1);
	}
	if (inet_pton(AF_INET6, host, addr) == 1) {
		*len = 16;
		return (1);
	}
	return (0);
}

static int
lower(int c)
{

	return (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/* Length without one trailing dot. */
static size_t
trim_dot(const unsigned char *p, size_t len)
{

	return (len > 0 && p[len - 1] == '.' ? len - 1 : len);
}

static int
same_ci(const unsigned char *a, const unsigned char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (lower(a[i]) != lower(b[i]))
			return (0);
	return (1);
}

/* A host name we are willing to compare: LDH labels, no empty label. */
static int
name_ok(const unsigned char *p, size_t len, int allow_star)
{
	size_t i, label = 0;

	if (len == 0 || len > 253)
		return (0);
	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (c == '.') {
			if (label == 0)
				return (0);
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    (allow_star && c == '*' && i == 0)))
			return (0);
		if (++label > 63)
			return (0);
	}
	if (label == 0)
		return (0);
	/* A numeric last label is an address in disguise, not a name. */
	for (i = len - label; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			break;
	return (i < len && !(label > 2 && p[len - label] == '0' &&
	    (p[len - label + 1] == 'x' || p[len - label + 1] == 'X')));
}

static int
dns_match(const unsigned char *host, size_t hlen, const unsigned char *san,
    size_t slen)
{
	const unsigned char *hrest, *srest;
	size_t hrl, srl, dots = 0, i;

	slen = trim_dot(san, slen);
	if (!name_ok(san, slen, 1))
		return (0);
	if (san[0] != '*')
		return (slen == hlen && same_ci(host, san, hlen));
	/* "*." then at least two labels: "*.example.test", not "*.test". */
	if (slen < 3 || san[1] != '.')
		return (0);
	srest = san + 2;
	srl = slen - 2;
	for (i = 0; i < srl; i++)
		dots += (srest[i] == '.');
	if (dots < 1)
		return (0);
	/* The wildcard stands for exactly one non-empty label. */
	hrest = memchr(host, '.', hlen);
	if (hrest == NULL || hrest == host)
		return (0);
	hrest++;
	hrl = hlen - (size_t)(hrest - host);
	return (hrl == srl && same_ci(hrest, srest, srl));
}

/* "DNS:a, IP:127.0.0.1, ..." for the mismatch sentence; bytes escaped. */
static void
list_names(const struct tls_san *sans, size_t nsans, char *out,
    size_t outlen)
{
	char one[160];
	size_t used = 0, i;

	out[0] = '\0';
	for (i = 0; i < nsans && used + 8 < outlen; i++) {
		const struct tls_san *s = &sans[i];

		if (s->type == TLS_SAN_DNS) {
			log_escape(one, sizeof(one), s->p, s->len);
		} else if (s->type == TLS_SAN_IP && (s->len == 4 ||
		    s->len == 16)) {
			inet_ntop(s->len == 4 ? AF_INET : AF_INET6, s->p, one,
			    sizeof(one));
		} else {
			continue;
		}
		used += (size_t)snprintf(out + used, outlen - used, "%s%s:%s",
		    used ? ", " : "", s->type == TLS_SAN_DNS ? "DNS" : "IP",
		    one);
		if (used >= outlen)
			used = outlen - 1;
	}
}

int
tls_identity_match(const char *host, const struct tls_san *sans,
    size_t nsans, char *why, size_t whylen)
{
	unsigned char ip[16];
	char names[200], esc[160];
	size_t iplen, hlen, i, j;
	int is_ip, usable = 0;

	/* A control byte in any name is an attack or a broken CA. */
	for (i = 0; i < nsans; i++) {
		if (sans[i].type != TLS_SAN_DNS)
			continue;
		for (j = 0; j < sans[i].len; j++) {
			if (sans[i].p[j] < 0x20 || sans[i].p[j] == 0x7f) {
				log_escape(esc, sizeof(esc), sans[i].p,
				    sans[i].len);
				snprintf(why, whylen, "certificate name "
				    "contains a %s byte (DNS:%s)",
				    sans[i].p[j] ? "control" : "NUL", esc);
				return (-1);
			}
		}
	}
	is_ip = tls_identity_is_ip(host, ip, &iplen);
	hlen = trim_dot((const unsigned char *)host, strlen(host));
	for (i = 0; i < nsans; i++) {
		const struct tls_san *s = &sans[i];

		if (is_ip && s->type == TLS_SAN_IP) {
			usable = 1;
			if (s->len == iplen && memcmp(s->p, ip, iplen) == 0)
				return (0);
		} else if (!is_ip && s->type == TLS_SAN_DNS) {
			usable = 1;
			if (name_ok((const unsigned char *)host, hlen, 0) &&
			    dns_match((const unsigned char *)host, hlen, s->p,
			    s->len))
				return (0);
		}
	}
	list_names(sans, nsans, names, sizeof(names));
	log_escape(esc, sizeof(esc), host, strlen(host));
	if (nsans == 0)
		snprintf(why, whylen, "hostname mismatch: expected %s, the "
		    "certificate has no subjectAltName (the subject CN is not"
		    " used)", esc);
	else if (!usable)
		snprintf(why, whylen, "hostname mismatch: expected %s, the "
		    "certificate has no %s subjectAltName (it has %s)", esc,
		    is_ip ? "IP address" : "DNS", names[0] ? names : "none");
	else
		snprintf(why, whylen, "hostname mismatch: expected %s, "
		    "certificate has %s", esc, names);
	return (-1);
}
