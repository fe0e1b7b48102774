/*
 * libFuzzer harness: tls_identity_match (RFC 9525 host/IP against the typed
 * subjectAltName list).  Input layout:
 *
 *   HOST NUL { TYPE LEN BYTES[LEN] } ...
 *
 * HOST is at most MAX_HOST bytes (without a NUL the whole input, cut to
 * MAX_HOST, is the host and there are no SANs).  TYPE is passed as is
 * (2 = dNSName, 7 = iPAddress, anything else must be ignored); a short last
 * entry takes what is left.  At most MAX_SANS entries.  Each name gets its
 * own exact-size heap copy so ASan sees any read past its length.
 *
 * The verdict is checked against a reference model written independently
 * below (labels split and compared one by one), and the explanation against
 * its contract: always NUL-terminated inside the buffer, printable ASCII
 * only, set on -1, naming the NUL/control byte when that is the reason, and
 * a small buffer gets a prefix of what a large one gets.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "tls_identity.h"

#define MAX_HOST	300
#define MAX_SANS	16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
lc(unsigned char c)
{

	return (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

static int
eq_ci(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
	size_t i;

	if (alen != blen)
		return (0);
	for (i = 0; i < alen; i++)
		if (lc(a[i]) != lc(b[i]))
			return (0);
	return (1);
}

/*
 * Count the labels of a name (no trailing dot) if every label is 1..63
 * letters, digits, '-' or '_' and the whole is 1..253 bytes; else 0.
 */
static size_t
labels_ok(const unsigned char *p, size_t len)
{
	size_t i, start = 0, n = 0;

	if (len == 0 || len > 253)
		return (0);
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '.') {
			unsigned char c = p[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' &&
			    c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			    c == '_'))
				return (0);
			continue;
		}
		if (i - start < 1 || i - start > 63)
			return (0);
		n++;
		if (i < len)
			start = i + 1;
	}
	/* A last label of digits only, or "0x...", makes an address. */
	for (i = start; i < len && p[i] >= '0' && p[i] <= '9'; i++)
		;
	if (i == len || (len - start > 2 && p[start] == '0' &&
	    lc(p[start + 1]) == 'x'))
		return (0);
	return (n);
}

static size_t
no_dot(const unsigned char *p, size_t len)
{

	return (len > 0 && p[len - 1] == '.' ? len - 1 : len);
}

/* The reference: 1 = should match, 0 = should not, -2 = control byte. */
static int
model(const char *host, const struct tls_san *s, size_t n)
{
	const unsigned char *h = (const unsigned char *)host, *rest;
	unsigned char ip[16];
	size_t hlen, slen, i, j, restlen;

	for (i = 0; i < n; i++)
		for (j = 0; s[i].type == TLS_SAN_DNS && j < s[i].len; j++)
			if (s[i].p[j] < 0x20 || s[i].p[j] == 0x7f)
				return (-2);
	/* glibc's resolver takes inet_aton's forms ("127.1") as IPv4. */
	if (inet_pton(AF_INET, host, ip) == 1 ||
	    inet_aton(host, (struct in_addr *)(void *)ip) == 1) {
		for (i = 0; i < n; i++)
			if (s[i].type == TLS_SAN_IP && s[i].len == 4 &&
			    memcmp(s[i].p, ip, 4) == 0)
				return (1);
		return (0);
	}
	if (inet_pton(AF_INET6, host, ip) == 1) {
		for (i = 0; i < n; i++)
			if (s[i].type == TLS_SAN_IP && s[i].len == 16 &&
			    memcmp(s[i].p, ip, 16) == 0)
				return (1);
		return (0);
	}
	hlen = no_dot(h, strlen(host));
	if (labels_ok(h, hlen) == 0)
		return (0);
	/* The host minus its first label (NULL for a one-label host). */
	rest = memchr(h, '.', hlen);
	restlen = rest != NULL ? hlen - (size_t)(rest + 1 - h) : 0;
	for (i = 0; i < n; i++) {
		if (s[i].type != TLS_SAN_DNS)
			continue;
		slen = no_dot(s[i].p, s[i].len);
		if (slen > 253)
			continue;
		if (slen >= 2 && s[i].p[0] == '*' && s[i].p[1] == '.') {
			if (rest != NULL && labels_ok(s[i].p + 2, slen - 2) >=
			    2 && eq_ci(rest + 1, restlen, s[i].p + 2, slen - 2))
				return (1);
		} else if (labels_ok(s[i].p, slen) &&
		    eq_ci(h, hlen, s[i].p, slen)) {
			return (1);
		}
	}
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_san sans[MAX_SANS];
	unsigned char *copy[MAX_SANS];
	char why[512], small[64], *host;
	const uint8_t *nul, *p, *end = data + size;
	size_t hlen, n = 0, i, smalllen;
	int rc, rc2, want;

	nul = memchr(data, '\0', size < MAX_HOST + 1 ? size : MAX_HOST + 1);
	hlen = nul != NULL ? (size_t)(nul - data) :
	    (size < MAX_HOST ? size : MAX_HOST);
	if ((host = malloc(hlen + 1)) == NULL)
		return (0);
	memcpy(host, data, hlen);
	host[hlen] = '\0';
	for (p = nul != NULL ? nul + 1 : end; p + 2 <= end && n < MAX_SANS;
	    n++) {
		size_t len = p[1];

		if (len > (size_t)(end - p - 2))
			len = (size_t)(end - p - 2);
		copy[n] = malloc(len ? len : 1);
		if (copy[n] == NULL)
			break;
		memcpy(copy[n], p + 2, len);
		sans[n].type = p[0];
		sans[n].p = copy[n];
		sans[n].len = len;
		p += 2 + len;
	}

	memset(why, 'x', sizeof(why));
	rc = tls_identity_match(host, sans, n, why, sizeof(why));
	CHECK(rc == 0 || rc == -1);
	want = model(host, sans, n);
	if (rc == 0) {
		CHECK(want == 1);
	} else {
		check_why(why, sizeof(why));
		CHECK(why[0] != '\0' && why[0] != 'x');
		CHECK(want != 1);
		if (want == -2)
			CHECK(strstr(why, "NUL") != NULL ||
			    strstr(why, "control") != NULL);
		else
			CHECK(strstr(why, "mismatch") != NULL);
	}

	/* A small buffer: same verdict, a prefix of the same sentence. */
	smalllen = 1 + size % sizeof(small);
	memset(small, 'x', sizeof(small));
	rc2 = tls_identity_match(host, sans, n, small, smalllen);
	CHECK(rc2 == rc);
	check_truncated(small, smalllen, sizeof(small), why, rc == -1);

	for (i = 0; i < n; i++)
		free(copy[i]);
	free(host);
	return (0);
}
