/*
 * Differential test of tls_identity_match (src/tls_identity.c) against
 * OpenSSL's X509_check_host / X509_check_ip_asc, the checker most TLS
 * clients use.  OpenSSL is the oracle only: it is linked into this test
 * program and nothing else.
 *
 * For each case a certificate is built in memory with the case's
 * subjectAltName entries (and the host as subject CN, which both sides
 * must ignore) and OpenSSL's verdict is compared with redtun's on the same
 * entries.  OpenSSL is asked as a careful client would ask it:
 *   - the host is an IP literal for OpenSSL when a2i_IPADDRESS parses it,
 *     and then only X509_check_ip_asc is used;
 *   - otherwise X509_check_host with X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
 *     X509_CHECK_FLAG_NEVER_CHECK_SUBJECT.
 *
 * Cases: a hand-written table (each with redtun's expected verdict and the
 * expected difference class), then a deterministic pseudo-random sweep
 * over a small alphabet of labels, wildcards and addresses.  Every
 * disagreement must fall in one of the documented classes below, decided
 * by a predicate on the inputs (and, for trailing dots, by asking OpenSSL
 * again with the dots removed); any other disagreement fails the test.
 *
 *   identity_diff [RANDOM-CASES [SEED]]     (default 200000, fixed seed)
 *
 * Exit 0 pass, 1 fail, 77 skip (built without the OpenSSL headers).
 */
#if defined(__has_include)
#if __has_include(<openssl/x509v3.h>)
#define HAVE_OPENSSL_X509V3 1
#endif
#endif

#include <stdio.h>

#ifndef HAVE_OPENSSL_X509V3
int
main(void)
{

	printf("identity_diff: SKIP: no OpenSSL headers (libssl-dev)\n");
	return (77);
}
#else

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls_identity.h"

/*
 * The known, intended differences.  Each is decided by a predicate in
 * classify(); the reason is printed with the counts.
 */
enum klass {
	K_AGREE = 0,
	K_SAN_CONTROL,
	K_IP_SYNTAX,
	K_HOST_SYNTAX,
	K_TRAILING_DOT,
	K_WILDCARD_STRICT,
	K_NUMERIC_HOST,
	K_UNEXPLAINED,
	K_NCLASS
};

static const struct {
	const char *name;
	const char *reason;
} klasses[K_NCLASS] = {
	[K_AGREE] = { "agree", "same verdict" },
	[K_SAN_CONTROL] = { "san-control",
	    "a NUL or control byte in any dNSName fails the whole certificate "
	    "in redtun (an attack or a broken CA); OpenSSL skips only an entry "
	    "with a NUL and compares other control bytes literally, so another "
	    "entry (or the same, for a host with that byte) can still match" },
	[K_IP_SYNTAX] = { "ip-syntax",
	    "redtun takes IP literals as inet_pton does (dotted quad without "
	    "leading zeros or signs, IPv6 without brackets); OpenSSL's "
	    "a2i_IPADDRESS also accepts e.g. \"01.2.3.4\" and \"+1.2.3.4\" "
	    "and then matches the iPAddress entry, which redtun refuses (the "
	    "safe direction)" },
	[K_HOST_SYNTAX] = { "host-syntax",
	    "redtun refuses to match a host that is not a name of 1..63-byte "
	    "letter/digit/-/_ labels, at most 253 bytes (empty labels, a "
	    "leading dot, '*', spaces, other bytes); OpenSSL compares such "
	    "strings literally, lets a literal '*' match a wildcard and reads "
	    "a leading dot as \"any subdomain of\"" },
	[K_TRAILING_DOT] = { "trailing-dot",
	    "redtun ignores one trailing dot on the host and on each dNSName "
	    "(\"example.test.\" is the same absolute name); OpenSSL 3.0 "
	    "compares the dot literally" },
	[K_WILDCARD_STRICT] = { "wildcard-strict",
	    "OpenSSL takes \"*.\" as a wildcard only if the rest is strict LDH "
	    "(no '_', no '-' at a label edge), else compares the pattern "
	    "literally, and never lets the wildcard match a label with '_'; "
	    "redtun uses the same letter/digit/-/_ label syntax for the host, "
	    "plain names and wildcards" },
	[K_NUMERIC_HOST] = { "numeric-host",
	    "glibc's resolver reads \"127.1\", \"01.2.3.4\", \"2130706433\" "
	    "or \"0x7f.0.0.1\" as an IPv4 address (inet_aton), so redtun "
	    "connects to that address and matches it only against iPAddress "
	    "entries, by its bytes; a numeric last label is never a DNS name "
	    "for redtun; OpenSSL compares such text against dNSNames" },
	[K_UNEXPLAINED] = { "UNEXPLAINED", "not a documented difference" },
};

#define MAX_SANS	8
#define MAX_NAME	300

struct san {
	int type;			/* TLS_SAN_DNS, TLS_SAN_IP, other */
	unsigned char b[MAX_NAME];
	size_t len;
};

struct kase {
	char host[MAX_NAME];
	struct san s[MAX_SANS];
	size_t n;
};

static const unsigned int ossl_flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;

/* ---- building certificates and asking OpenSSL ------------------------- */

static int
ossl_is_ip(const char *host)
{
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(host);

	if (ip == NULL)
		return (0);
	ASN1_OCTET_STRING_free(ip);
	return (1);
}

static X509 *
make_cert(const struct kase *k)
{
	GENERAL_NAMES *gens;
	X509 *x;
	size_t i;

	if ((x = X509_new()) == NULL)
		return (NULL);
	/* The host as CN: both sides must ignore it.  May not fit; fine. */
	(void)X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)k->host, -1, -1, 0);
	if (k->n == 0)
		return (x);
	if ((gens = sk_GENERAL_NAME_new_null()) == NULL)
		goto fail;
	for (i = 0; i < k->n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_STRING *s;
		int gtype;

		if (k->s[i].type == TLS_SAN_IP) {
			s = ASN1_OCTET_STRING_new();
			gtype = GEN_IPADD;
		} else {
			s = ASN1_IA5STRING_new();
			gtype = k->s[i].type == TLS_SAN_DNS ? GEN_DNS :
			    GEN_EMAIL;
		}
		if (g == NULL || s == NULL || !ASN1_STRING_set(s, k->s[i].b,
		    (int)k->s[i].len)) {
			GENERAL_NAME_free(g);
			ASN1_STRING_free(s);
			GENERAL_NAMES_free(gens);
			goto fail;
		}
		GENERAL_NAME_set0_value(g, gtype, s);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			GENERAL_NAMES_free(gens);
			goto fail;
		}
	}
	i = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0) == 1;
	GENERAL_NAMES_free(gens);
	if (i)
		return (x);
fail:
	X509_free(x);
	return (NULL);
}

/* 1 match, 0 no match, -1 could not ask (a test error). */
static int
ossl_verdict(const struct kase *k)
{
	X509 *x;
	int r;

	if ((x = make_cert(k)) == NULL)
		return (-1);
	if (ossl_is_ip(k->host))
		r = X509_check_ip_asc(x, k->host, ossl_flags);
	else
		r = X509_check_host(x, k->host, 0, ossl_flags, NULL);
	X509_free(x);
	return (r == 1);
}

/* ---- redtun's side ------------------------------------------------------ */

static int
redtun_verdict(const struct kase *k, char *why, size_t whylen)
{
	struct tls_san ts[MAX_SANS];
	size_t i;

	for (i = 0; i < k->n; i++) {
		ts[i].type = k->s[i].type;
		ts[i].p = k->s[i].b;
		ts[i].len = k->s[i].len;
	}
	why[0] = '\0';
	return (tls_identity_match(k->host, ts, k->n, why, whylen) == 0);
}

/* ---- the predicates of the documented classes ----------------------------- */

static int
tolower_ascii(int c)
{

	return (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

static int
pton_is_ip(const char *host)
{
	unsigned char a[16];

	return (inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1);
}

static int
has_control(const struct kase *k)
{
	size_t i, j;

	for (i = 0; i < k->n; i++)
		for (j = 0; k->s[i].type == TLS_SAN_DNS && j < k->s[i].len;
		    j++)
			if (k->s[i].b[j] < 0x20 || k->s[i].b[j] == 0x7f)
				return (1);
	return (0);
}

static int
ldh_(int c)
{

	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_');
}

/* The host syntax redtun compares (RFC 1123 labels, plus '_'). */
static int
host_ok(const char *host)
{
	size_t len = strlen(host), i, label = 0;

	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return (0);
	for (i = 0; i < len; i++) {
		if (host[i] == '.') {
			if (label == 0)
				return (0);
			label = 0;
		} else if (!ldh_((unsigned char)host[i]) || ++label > 63) {
			return (0);
		}
	}
	if (label == 0)
		return (0);
	/* A numeric (or 0x) last label is an address, not a name. */
	for (i = len - label; i < len && host[i] >= '0' && host[i] <= '9'; i++)
		;
	return (i < len && !(label > 2 && host[len - label] == '0' &&
	    (host[len - label + 1] | 0x20) == 'x'));
}

/* Labels of letters/digits/hyphens, no hyphen at either edge. */
static int
strict_ldh(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '.')
			continue;
		if (p[i] == '_' || !ldh_(p[i]))
			return (0);
		if (p[i] == '-' && (i == 0 || p[i - 1] == '.' ||
		    i + 1 == len || p[i + 1] == '.'))
			return (0);
	}
	return (1);
}

/* The same case with one trailing dot removed from the host and each name. */
static void
strip_dots(const struct kase *k, struct kase *out)
{
	size_t i, hl;

	*out = *k;
	hl = strlen(out->host);
	if (hl > 1 && out->host[hl - 1] == '.')
		out->host[hl - 1] = '\0';
	for (i = 0; i < out->n; i++)
		if (out->s[i].type == TLS_SAN_DNS && out->s[i].len > 1 &&
		    out->s[i].b[out->s[i].len - 1] == '.')
			out->s[i].len--;
}

/*
 * A wildcard entry "*.REST" with REST equal to the host minus its first
 * label, where REST is not strict LDH or the first label has a '_'.
 */
static int
wildcard_strict(const struct kase *k)
{
	const char *dot = strchr(k->host, '.');
	size_t i, j, restlen;

	if (dot == NULL)
		return (0);
	restlen = strlen(dot + 1);
	for (i = 0; i < k->n; i++) {
		const struct san *s = &k->s[i];
		int same = 1;

		if (s->type != TLS_SAN_DNS || s->len != restlen + 2 ||
		    s->b[0] != '*' || s->b[1] != '.')
			continue;
		for (j = 0; j < restlen && same; j++)
			same = tolower_ascii((unsigned char)dot[1 + j]) ==
			    tolower_ascii(s->b[2 + j]);
		if (!same)
			continue;
		if (!strict_ldh(s->b + 2, restlen) ||
		    memchr(k->host, '_', (size_t)(dot - k->host)) != NULL)
			return (1);
	}
	return (0);
}

/*
 * A host the system resolver takes as an IPv4 address (inet_aton's forms)
 * or that is an IP literal with one trailing dot, yet not an inet_pton
 * literal: redtun treats it as a DNS name.
 */
static int
numeric_host(const char *host)
{
	char t[MAX_NAME];
	struct in_addr a4;
	size_t len = strlen(host);

	if (pton_is_ip(host))
		return (0);
	if (inet_aton(host, &a4) == 1)
		return (1);
	if (len < 2 || len >= sizeof(t) || host[len - 1] != '.')
		return (0);
	memcpy(t, host, len - 1);
	t[len - 1] = '\0';
	return (pton_is_ip(t) || inet_aton(t, &a4) == 1);
}

/* Some iPAddress entry holds the bytes inet_aton reads from the host. */
static int
ip_san_equal(const struct kase *k)
{
	struct in_addr a4;
	size_t i;

	if (inet_aton(k->host, &a4) != 1)
		return (0);
	for (i = 0; i < k->n; i++)
		if (k->s[i].type == TLS_SAN_IP && k->s[i].len == 4 &&
		    memcmp(k->s[i].b, &a4, 4) == 0)
			return (1);
	return (0);
}

static enum klass
classify(const struct kase *k, int red, int oss)
{
	struct kase t;

	if (red == oss)
		return (K_AGREE);
	if (numeric_host(k->host))
		return (red && !ip_san_equal(k) ? K_UNEXPLAINED :
		    K_NUMERIC_HOST);
	if (!red && has_control(k))
		return (K_SAN_CONTROL);
	if (!red && pton_is_ip(k->host) != ossl_is_ip(k->host))
		return (K_IP_SYNTAX);
	if (!red && !pton_is_ip(k->host) && !host_ok(k->host))
		return (K_HOST_SYNTAX);
	if (red) {
		strip_dots(k, &t);
		if (ossl_verdict(&t) == 1)
			return (K_TRAILING_DOT);
		if (wildcard_strict(&t))
			return (K_WILDCARD_STRICT);
	}
	return (K_UNEXPLAINED);
}

/* ---- running and counting ---------------------------------------------------- */

static unsigned long counts[K_NCLASS], ncases, nmatch, nerrors;

static void
show(const char *what, const struct kase *k, int red, int oss,
    const char *why)
{
	char esc[4 * MAX_NAME];
	size_t i;

	log_escape(esc, sizeof(esc), k->host, strlen(k->host));
	fprintf(stderr, "identity_diff: %s: host \"%s\", redtun %s, OpenSSL "
	    "%s; SANs:", what, esc, red ? "match" : "no match",
	    oss ? "match" : "no match");
	for (i = 0; i < k->n; i++) {
		if (k->s[i].type == TLS_SAN_IP) {
			size_t j;

			fprintf(stderr, " IP:");
			for (j = 0; j < k->s[i].len; j++)
				fprintf(stderr, "%02x", k->s[i].b[j]);
			continue;
		}
		log_escape(esc, sizeof(esc), k->s[i].b, k->s[i].len);
		fprintf(stderr, " %s:\"%s\"", k->s[i].type == TLS_SAN_DNS ?
		    "DNS" : "other", esc);
	}
	fprintf(stderr, "%s%s\n", why[0] ? "; why: " : "", why);
}

/* Run one case; returns its class (K_UNEXPLAINED also for a test error). */
static enum klass
run(const struct kase *k, int *redp)
{
	char why[512];
	enum klass c;
	size_t i;
	int red, oss;

	red = redtun_verdict(k, why, sizeof(why));
	oss = ossl_verdict(k);
	ncases++;
	*redp = red;
	if (oss < 0) {
		nerrors++;
		show("cannot build the certificate", k, red, 0, why);
		return (K_UNEXPLAINED);
	}
	/* redtun's explanation: set, printable, naming the cause. */
	if (!red) {
		int bad = why[0] == '\0';

		for (i = 0; why[i] != '\0'; i++)
			bad |= (unsigned char)why[i] < 0x20 ||
			    (unsigned char)why[i] >= 0x7f;
		if (has_control(k))
			bad |= strstr(why, "NUL") == NULL &&
			    strstr(why, "control") == NULL;
		else
			bad |= strstr(why, "mismatch") == NULL;
		if (bad) {
			nerrors++;
			show("bad explanation", k, red, oss, why);
		}
	}
	c = classify(k, red, oss);
	counts[c]++;
	nmatch += red && oss;
	if (c == K_UNEXPLAINED && counts[c] <= 20)
		show("UNEXPLAINED difference", k, red, oss, why);
	return (c);
}

/* ---- the hand-written table ------------------------------------------------ */

struct hsan {
	int type;		/* TLS_SAN_DNS, TLS_SAN_IP, 1 = rfc822Name */
	const char *v;		/* name, IP text, or raw bytes if len */
	size_t len;		/* 0: strlen (DNS) or inet_pton (IP) */
};

#define D(s)		{ TLS_SAN_DNS, s, 0 }
#define DN(s, n)	{ TLS_SAN_DNS, s, n }
#define IP(s)		{ TLS_SAN_IP, s, 0 }
#define IPRAW(s, n)	{ TLS_SAN_IP, s, n }
#define EMAIL(s)	{ 1, s, 0 }

static const struct hcase {
	const char *host;
	struct hsan s[4];
	int want;		/* redtun: 1 match, 0 not */
	enum klass k;		/* the expected class of the comparison */
} hand[] = {
	/* Plain names, case, trailing dots. */
	{ "example.test", { D("example.test") }, 1, K_AGREE },
	{ "EXAMPLE.Test", { D("example.test") }, 1, K_AGREE },
	{ "example.test", { D("EXAMPLE.TEST") }, 1, K_AGREE },
	{ "www.example.test", { D("example.test") }, 0, K_AGREE },
	{ "example.test", { D("www.example.test") }, 0, K_AGREE },
	{ "example.test", { D("example.tes") }, 0, K_AGREE },
	{ "localhost", { D("localhost") }, 1, K_AGREE },
	{ "example.test.", { D("example.test") }, 1, K_TRAILING_DOT },
	{ "example.test", { D("example.test.") }, 1, K_TRAILING_DOT },
	{ "example.test.", { D("example.test.") }, 1, K_AGREE },
	{ "example.test..", { D("example.test.") }, 0, K_AGREE },
	{ "example.test..", { D("example.test..") }, 0, K_HOST_SYNTAX },
	{ "example.test", { D("example.test..") }, 0, K_AGREE },
	{ ".", { D(".") }, 0, K_HOST_SYNTAX },
	{ "", { D("") }, 0, K_AGREE },
	{ "example.test", { D(""), D("example.test") }, 1, K_AGREE },
	/* Wildcards. */
	{ "a.example.test", { D("*.example.test") }, 1, K_AGREE },
	{ "A.EXAMPLE.TEST", { D("*.Example.Test") }, 1, K_AGREE },
	{ "example.test", { D("*.example.test") }, 0, K_AGREE },
	{ "a.b.example.test", { D("*.example.test") }, 0, K_AGREE },
	{ "foo.example.test", { D("f*.example.test") }, 0, K_AGREE },
	{ "f.example.test", { D("f*.example.test") }, 0, K_AGREE },
	{ "foo.example.test", { D("*o.example.test") }, 0, K_AGREE },
	{ "a.b.example.test", { D("a.*.example.test") }, 0, K_AGREE },
	{ "a.b.example.test", { D("*.*.example.test") }, 0, K_AGREE },
	{ "a.test", { D("*.test") }, 0, K_AGREE },
	{ "test", { D("*") }, 0, K_AGREE },
	{ "a", { D("*.") }, 0, K_AGREE },
	{ "a.example.test", { D("*.example.test.") }, 1, K_TRAILING_DOT },
	{ "a.example.test.", { D("*.example.test") }, 1, K_TRAILING_DOT },
	{ "a.example.test.", { D("*.example.test.") }, 1, K_TRAILING_DOT },
	{ "a.example.test", { D("**.example.test") }, 0, K_AGREE },
	{ "a.example.test", { D("*.example..test") }, 0, K_AGREE },
	{ "-a.b.test", { D("*.b.test") }, 1, K_AGREE },
	{ "a-b.example.test", { D("*.example.test") }, 1, K_AGREE },
	{ "xn--bcher-kva.example.test", { D("*.example.test") }, 1, K_AGREE },
	{ "a.xn--bcher-kva.test", { D("*.xn--bcher-kva.test") }, 1, K_AGREE },
	{ "xn--bcher-kva.test", { D("xn--bcher-kva.test") }, 1, K_AGREE },
	{ "XN--BCHER-KVA.TEST", { D("xn--bcher-kva.test") }, 1, K_AGREE },
	{ "_srv.example.test", { D("_srv.example.test") }, 1, K_AGREE },
	{ "_srv.example.test", { D("*.example.test") }, 1, K_WILDCARD_STRICT },
	{ "a.b_c.test", { D("*.b_c.test") }, 1, K_WILDCARD_STRICT },
	{ "a.b-.test", { D("*.b-.test") }, 1, K_WILDCARD_STRICT },
	{ "a.-b.test", { D("*.-b.test") }, 1, K_WILDCARD_STRICT },
	/* Hosts redtun does not compare at all. */
	{ "*.test", { D("*.test") }, 0, K_HOST_SYNTAX },
	{ "*.example.test", { D("*.example.test") }, 0, K_HOST_SYNTAX },
	{ "f*.example.test", { D("f*.example.test") }, 0, K_HOST_SYNTAX },
	{ ".example.test", { D("a.example.test") }, 0, K_HOST_SYNTAX },
	{ ".example.test", { D("example.test") }, 0, K_AGREE },
	{ "a..example.test", { D("a..example.test") }, 0, K_HOST_SYNTAX },
	{ "a b.test", { D("a b.test") }, 0, K_HOST_SYNTAX },
	{ "a@b.test", { D("*.b.test"), D("a@b.test") }, 0, K_HOST_SYNTAX },
	{ "\xc3\xa9.test", { D("\xc3\xa9.test") }, 0, K_HOST_SYNTAX },
	/* Control bytes fail the whole certificate. */
	{ "example.test", { DN("example.test\0.evil.test", 23),
	    D("example.test") }, 0, K_SAN_CONTROL },
	{ "example.test", { DN("example.test\0", 13) }, 0, K_AGREE },
	{ "a.example.test", { D("*.example.test\x1b[31m") }, 0, K_AGREE },
	{ "a\x01.test", { D("a\x01.test") }, 0, K_SAN_CONTROL },
	{ "example.test", { D("exa\x7fmple.test"), D("example.test") }, 0,
	    K_SAN_CONTROL },
	{ "example.test", { D("x.test\n"), D("*.test"), D("example.test") },
	    0, K_SAN_CONTROL },
	/* No usable SAN: the CN (set to the host) is never used. */
	{ "example.test", { { 0, NULL, 0 } }, 0, K_AGREE },
	{ "example.test", { EMAIL("example.test") }, 0, K_AGREE },
	{ "example.test", { IP("127.0.0.1") }, 0, K_AGREE },
	{ "127.0.0.1", { { 0, NULL, 0 } }, 0, K_AGREE },
	/* Addresses. */
	{ "127.0.0.1", { IP("127.0.0.1") }, 1, K_AGREE },
	{ "127.0.0.1", { D("127.0.0.1") }, 0, K_AGREE },
	{ "127.0.0.1", { IP("127.0.0.2"), D("127.0.0.1") }, 0, K_AGREE },
	{ "127.0.0.1", { D("localhost"), IP("::1"), IP("127.0.0.1") }, 1,
	    K_AGREE },
	{ "::1", { IP("::1") }, 1, K_AGREE },
	{ "0:0:0:0:0:0:0:1", { IP("::1") }, 1, K_AGREE },
	{ "::1", { D("::1") }, 0, K_AGREE },
	{ "::1", { IP("127.0.0.1") }, 0, K_AGREE },
	{ "::ffff:127.0.0.1", { IP("127.0.0.1") }, 0, K_AGREE },
	{ "127.0.0.1", { IP("::ffff:127.0.0.1") }, 0, K_AGREE },
	{ "::ffff:127.0.0.1", { IP("::ffff:127.0.0.1") }, 1, K_AGREE },
	{ "::127.0.0.1", { IP("127.0.0.1") }, 0, K_AGREE },
	{ "2001:DB8::1", { IP("2001:db8::1") }, 1, K_AGREE },
	{ "localhost", { IP("127.0.0.1") }, 0, K_AGREE },
	{ "localhost", { IP("::1"), D("localhost") }, 1, K_AGREE },
	{ "10.0.0.1", { IPRAW("\x0a\0\0", 3), IPRAW("\x0a\0\0\x01\0", 5) },
	    0, K_AGREE },
	{ "10.0.0.1", { IPRAW("\x0a\0\0\x01", 4) }, 1, K_AGREE },
	{ "[::1]", { IP("::1") }, 0, K_AGREE },
	{ "fe80::1%lo", { IP("fe80::1") }, 0, K_AGREE },
	{ "127.1", { IP("127.0.0.1") }, 1, K_NUMERIC_HOST },
	{ "01.2.3.4", { IP("1.2.3.4") }, 1, K_AGREE },
	{ "+1.2.3.4", { IP("1.2.3.4") }, 0, K_IP_SYNTAX },
	{ "01.2.3.4", { D("01.2.3.4") }, 0, K_AGREE },
	/*
	 * Not IP literals for inet_pton, but glibc's getaddrinfo connects to
	 * 127.0.0.1 for these: redtun matches them as that address only.
	 */
	{ "127.1", { D("127.1") }, 0, K_NUMERIC_HOST },
	{ "2130706433", { D("2130706433") }, 0, K_NUMERIC_HOST },
	{ "2130706433", { IP("127.0.0.1") }, 1, K_NUMERIC_HOST },
	{ "0x7f.0.0.1", { D("0x7f.0.0.1") }, 0, K_NUMERIC_HOST },
	{ "127.0.0.1.", { D("127.0.0.1") }, 0, K_AGREE },
	{ "host.123", { D("host.123") }, 0, K_HOST_SYNTAX },
};

static void
load_hand(const struct hcase *h, struct kase *k)
{
	size_t i;

	memset(k, 0, sizeof(*k));
	snprintf(k->host, sizeof(k->host), "%s", h->host);
	for (i = 0; i < 4 && h->s[i].v != NULL; i++) {
		struct san *s = &k->s[k->n++];

		s->type = h->s[i].type;
		if (h->s[i].len) {
			s->len = h->s[i].len;
			memcpy(s->b, h->s[i].v, s->len);
		} else if (s->type == TLS_SAN_IP) {
			s->len = inet_pton(AF_INET, h->s[i].v, s->b) == 1 ? 4 :
			    inet_pton(AF_INET6, h->s[i].v, s->b) == 1 ? 16 : 0;
		} else {
			s->len = strlen(h->s[i].v);
			memcpy(s->b, h->s[i].v, s->len);
		}
	}
}

/* Long names: 63/64-byte labels, 253/254-byte names. */
static void
load_long(int which, struct kase *k)
{
	static const size_t lens[] = { 63, 64, 253, 254 };
	size_t len = lens[which / 2], i;

	memset(k, 0, sizeof(*k));
	memset(k->host, 'a', len);
	if (len > 64)		/* labels of 63 and dots */
		for (i = 63; i < len; i += 64)
			k->host[i] = '.';
	k->host[len] = '\0';
	if (len == 63 || len == 64)
		strcat(k->host, ".example.test");
	k->n = 1;
	k->s[0].type = TLS_SAN_DNS;
	if (which % 2 == 0) {
		k->s[0].len = strlen(k->host);
		memcpy(k->s[0].b, k->host, k->s[0].len);
	} else {
		/* "*." and the host minus its first label */
		const char *dot = strchr(k->host, '.');

		k->s[0].len = 2 + strlen(dot + 1);
		memcpy(k->s[0].b, "*.", 2);
		memcpy(k->s[0].b + 2, dot + 1, k->s[0].len - 2);
	}
}

/* ---- the pseudo-random sweep ---------------------------------------------- */

static uint64_t rng;

static uint32_t
rnd(uint32_t n)
{

	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((uint32_t)((rng >> 11) % n));
}

static const char *const labels[] = {
	"a", "b", "www", "example", "test", "EXAMPLE", "Test", "c0",
	"xn--p1ai", "XN--BCHER-KVA", "a_b", "_srv", "-a", "a-", "a-b", "0",
	"127", "1", "*", "f*", "", "a b", "\x01", "\xc3\xa9",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};
/* The first 8 are the ordinary ones, drawn more often. */
#define ORDINARY	8

static const char *const ips[] = {
	"127.0.0.1", "10.0.0.1", "1.2.3.4", "0.0.0.0", "255.255.255.255",
	"::1", "::", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::ffff:7f00:1",
	"fe80::1", "2001:db8::1", "2001:DB8::1", "::1.2.3.4",
	"::ffff:1.2.3.4",
	/* not for inet_pton, some for OpenSSL */
	"127.0.0.1.", "127.1", "01.2.3.4", "+1.2.3.4", "1.2.3.4 ",
	"[::1]", "fe80::1%lo", "1::2::3", "2130706433", "1.2.3.256",
	"0x7f.0.0.1",
};
#define GOOD_IPS	15

static const char *
label(void)
{

	return (labels[rnd(4) ? rnd(ORDINARY) :
	    rnd(sizeof(labels) / sizeof(labels[0]))]);
}

static void
random_name(char *out, size_t outlen, int wild)
{
	size_t n = 1 + rnd(4), i, used;

	used = (size_t)snprintf(out, outlen, "%s", wild ? "*" : label());
	for (i = 1; i < n && used < outlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, ".%s",
		    label());
	if (used < outlen - 1 && rnd(8) == 0)
		strcat(out, ".");
}

static void
set_san(struct san *s, int type, const void *p, size_t len)
{

	if (len > sizeof(s->b))
		len = sizeof(s->b);
	s->type = type;
	s->len = len;
	memcpy(s->b, p, len);
}

static void
random_case(struct kase *k)
{
	char name[MAX_NAME];
	unsigned char a[16];
	size_t i, hl;
	int host_ip;

	memset(k, 0, sizeof(*k));
	host_ip = rnd(5) == 0;
	if (host_ip) {
		snprintf(k->host, sizeof(k->host), "%s",
		    ips[rnd(5) ? rnd(GOOD_IPS) :
		    rnd(sizeof(ips) / sizeof(ips[0]))]);
	} else {
		random_name(k->host, sizeof(k->host) - 2, 0);
		if (rnd(30) == 0)
			memmove(k->host + 1, k->host, strlen(k->host) + 1),
			    k->host[0] = '.';
	}
	hl = strlen(k->host);
	k->n = rnd(6);
	if (k->n > 4)
		k->n = 1;
	for (i = 0; i < k->n; i++) {
		struct san *s = &k->s[i];
		const char *src;
		uint32_t r = rnd(20);

		if (r < 9 && !host_ip) {
			/* The host, mutated. */
			size_t j;

			set_san(s, TLS_SAN_DNS, k->host, hl);
			for (j = 0; j < s->len; j++)
				if (rnd(6) == 0 && s->b[j] >= 'a' &&
				    s->b[j] <= 'z')
					s->b[j] -= 'a' - 'A';
			if (rnd(3) == 0) {
				/* wildcard the first label */
				const unsigned char *dot = memchr(s->b, '.',
				    s->len);

				if (dot != NULL) {
					size_t rest = s->len -
					    (size_t)(dot - s->b);

					memmove(s->b + 1, dot, rest);
					s->b[0] = rnd(10) ? '*' : 'f';
					s->len = 1 + rest;
				}
			}
			if (rnd(8) == 0 && s->len < sizeof(s->b))
				s->b[s->len++] = '.';
			else if (rnd(8) == 0 && s->len > 1 &&
			    s->b[s->len - 1] == '.')
				s->len--;
			if (rnd(25) == 0 && s->len > 0)
				s->b[rnd((uint32_t)s->len)] =
				    "\0\x01\n\x1b\x7f"[rnd(5)];
		} else if (r < 13) {
			random_name(name, sizeof(name), rnd(3) == 0);
			set_san(s, TLS_SAN_DNS, name, strlen(name));
		} else if (r < 18) {
			/* An address: the host's, a listed one, or odd. */
			src = host_ip && rnd(2) ? k->host :
			    ips[rnd(GOOD_IPS)];
			if (rnd(10) == 0) {
				set_san(s, TLS_SAN_DNS, src, strlen(src));
			} else if (inet_pton(AF_INET, src, a) == 1) {
				set_san(s, TLS_SAN_IP, a, rnd(12) ? 4 :
				    rnd(4));
			} else if (inet_pton(AF_INET6, src, a) == 1) {
				set_san(s, TLS_SAN_IP, a, rnd(12) ? 16 :
				    4 + rnd(12));
			} else {
				set_san(s, TLS_SAN_IP, "\x7f\0\0\x01", 4);
			}
		} else if (r < 19) {
			set_san(s, 1, k->host, hl);	/* rfc822Name */
		} else {
			/* A few raw bytes from a tiny alphabet. */
			size_t j, n = rnd(8);

			for (j = 0; j < n; j++)
				name[j] = "a.*-_\0\x01\x80" "A."[rnd(10)];
			set_san(s, TLS_SAN_DNS, name, n);
		}
	}
}

int
main(int argc, char *argv[])
{
	unsigned long nrandom = 200000, i, hand_bad = 0;
	struct kase k;
	int red, c;

	if (argc > 1)
		nrandom = strtoul(argv[1], NULL, 10);
	rng = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x9e3779b97f4a7c15ULL;
	if (rng == 0)
		rng = 1;

	for (i = 0; i < sizeof(hand) / sizeof(hand[0]) + 8; i++) {
		int want;

		if (i < sizeof(hand) / sizeof(hand[0])) {
			load_hand(&hand[i], &k);
			want = hand[i].want;
		} else {
			load_long((int)(i - sizeof(hand) / sizeof(hand[0])),
			    &k);
			/* 63 and 253 bytes are fine, 64 and 254 are not */
			want = (i - sizeof(hand) / sizeof(hand[0])) / 2 % 2 ==
			    0;
		}
		c = (int)run(&k, &red);
		if (red != want || (i < sizeof(hand) / sizeof(hand[0]) &&
		    c != (int)hand[i].k) ||
		    (i >= sizeof(hand) / sizeof(hand[0]) &&
		    c != (want ? K_AGREE : K_HOST_SYNTAX))) {
			hand_bad++;
			fprintf(stderr, "identity_diff: table case %lu: redtun "
			    "%d (want %d), class %s (want %s)\n", i, red, want,
			    klasses[c].name, klasses[i < sizeof(hand) /
			    sizeof(hand[0]) ? hand[i].k : want ? K_AGREE :
			    K_HOST_SYNTAX].name);
			show("table case", &k, red, -1, "");
		}
	}
	printf("identity_diff: table: %lu cases, %lu wrong\n", ncases,
	    hand_bad);

	for (i = 0; i < nrandom; i++) {
		random_case(&k);
		run(&k, &red);
	}
	printf("identity_diff: %lu cases (%lu table, %lu random), %lu agree "
	    "(%lu both match), %lu documented differences, "
	    "%lu unexplained, %lu errors\n", ncases, ncases - nrandom,
	    nrandom, counts[K_AGREE], nmatch, ncases - counts[K_AGREE] -
	    counts[K_UNEXPLAINED], counts[K_UNEXPLAINED], nerrors);
	for (c = K_SAN_CONTROL; c < K_UNEXPLAINED; c++)
		printf("identity_diff: class %s: %lu (%s)\n", klasses[c].name,
		    counts[c], klasses[c].reason);
	return (hand_bad || counts[K_UNEXPLAINED] || nerrors ? 1 : 0);
}

#endif /* HAVE_OPENSSL_X509V3 */
