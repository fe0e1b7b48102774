/*
 * redtun's own certificate policy, applied on top of wolfSSL's checks
 * from the verify callback.  wolfSSL 5.5.4 caches every intermediate it
 * has verified in the context's certificate manager (even from failed
 * handshakes), checks name constraints against the next certificate only,
 * ignores iPAddress constraints, does not chain EKU, and checks keyUsage
 * only in TLS 1.2.  So the verdict is computed here, from the anchors read
 * at load time and the chain of this one connection, with wolfCrypt's
 * certificate parser and signature check.  See docs/SECURITY.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "log.h"
#include "tls_identity.h"
#include "tls_nc.h"
#include "tls_trust.h"
#include "tls_verify.h"

#define MAX_RECEIVED	(TLS_MAX_INTERMEDIATES + 4)
#define MAX_SANS	64

/* ---- one path ---------------------------------------------------------- */

struct path {
	DecodedCert *c[TLS_MAX_INTERMEDIATES + 2];	/* leaf .. anchor */
	size_t n;					/* incl. anchor */
	DecodedCert anchor;
	int anchor_init;
	unsigned checks;		/* signature checks left */
};

/* "'CN'" of ${c} for a reason, escaped. */
static const char *
cn(const DecodedCert *c, char *buf, size_t len)
{
	char esc[96];

	if (c->subjectCN == NULL || c->subjectCNLen <= 0)
		snprintf(buf, len, "'%s'", log_escape(esc, sizeof(esc),
		    c->subject, strnlen(c->subject, sizeof(c->subject))));
	else
		snprintf(buf, len, "'%s'", log_escape(esc, sizeof(esc),
		    c->subjectCN, (size_t)c->subjectCNLen));
	return (buf);
}

/* Bounded: a peer must not make a worker verify signatures all day. */
static int
signed_by(struct path *pa, const DecodedCert *c, const DecodedCert *issuer)
{

	if (memcmp(c->issuerHash, issuer->subjectHash, KEYID_SIZE) != 0)
		return (0);
	if (pa->checks == 0)
		return (0);
	pa->checks--;
	return (wc_CheckCertSigPubKey(c->source, c->maxIdx, NULL,
	    issuer->publicKey, issuer->pubKeySize, (int)issuer->keyOID) == 0);
}

/*
 * Walk up from the leaf: at each step an anchor first (as OpenSSL's
 * trusted-first), else a not yet used certificate of this chain, whatever
 * its position (TLS 1.3 allows any order).  No backtracking.
 */
static int
build_path(const struct tls_trust *tr, DecodedCert *rc, size_t n,
    struct path *pa, char *why, size_t whylen)
{
	DecodedCert *cur = &rc[0];
	const unsigned char *der;
	unsigned used = 1;
	char name[128], leaf[128];
	size_t i, j, dlen;

	pa->n = 0;
	pa->c[pa->n++] = cur;
	pa->checks = 2 * (unsigned)n + 8;
	for (i = 0; i <= TLS_MAX_INTERMEDIATES; i++) {
		for (j = 0; (der = tls_trust_next(tr, cur->issuerHash, &j,
		    &dlen)) != NULL;) {
			wc_InitDecodedCert(&pa->anchor, der, (word32)dlen,
			    NULL);
			pa->anchor_init = 1;
			if (wc_ParseCert(&pa->anchor, CERT_TYPE, NO_VERIFY,
			    NULL) == 0 && signed_by(pa, cur, &pa->anchor)) {
				pa->c[pa->n++] = &pa->anchor;
				return (0);
			}
			wc_FreeDecodedCert(&pa->anchor);
			pa->anchor_init = 0;
		}
		for (j = 1; j < n; j++)
			if (!(used & (1u << j)) && signed_by(pa, cur, &rc[j]))
				break;
		if (j == n)
			break;
		used |= 1u << j;
		cur = &rc[j];
		pa->c[pa->n++] = cur;
	}
	if (i > TLS_MAX_INTERMEDIATES) {
		snprintf(why, whylen, "the chain has more than %d "
		    "intermediate certificates", TLS_MAX_INTERMEDIATES);
		return (-1);
	}
	if (pa->checks == 0)
		snprintf(why, whylen, "too many certificates in the chain "
		    "claim to be the issuer of %s", cn(cur, name,
		    sizeof(name)));
	else if (pa->n > 1 && (cur->selfSigned || memcmp(cur->issuerHash,
	    cur->subjectHash, KEYID_SIZE) == 0))
		snprintf(why, whylen, "certificate %s is not signed by a "
		    "trusted CA: its chain ends at the self-signed %s, which "
		    "is not a trust anchor", cn(&rc[0], leaf, sizeof(leaf)),
		    cn(cur, name, sizeof(name)));
	else if (cur->selfSigned || memcmp(cur->issuerHash, cur->subjectHash,
	    KEYID_SIZE) == 0)
		snprintf(why, whylen, "certificate %s is self-signed and not "
		    "trusted", cn(cur, name, sizeof(name)));
	else
		snprintf(why, whylen, "certificate %s is not signed by a "
		    "trusted CA (issuer '%s' is not a trust anchor or in the "
		    "chain, or its signature does not verify)",
		    cn(cur, name, sizeof(name)), log_escape(leaf, sizeof(leaf),
		    cur->issuer, strnlen(cur->issuer, sizeof(cur->issuer))));
	return (-2);
}

/* ---- per-certificate rules --------------------------------------------- */

/*
 * RSASSA-PSS names its hash in the parameters, and the default (absent
 * [0] hashAlgorithm) is SHA-1.
 */
static int
pss_sha1(const DecodedCert *c)
{
	static const unsigned char sha1[] = { 0x06, 0x05, 0x2b, 0x0e, 0x03,
	    0x02, 0x1a };
	const unsigned char *p = c->source + c->sigParamsIndex;
	size_t len = c->sigParamsLength, i;

	if (len < 4 || p[0] != 0x30 || p[1] >= 0x80 || p[2] != 0xa0)
		return (1);
	for (i = 2; i + sizeof(sha1) <= len; i++)
		if (memcmp(p + i, sha1, sizeof(sha1)) == 0)
			return (1);
	return (0);
}

static const char *
weak_sig(const DecodedCert *c)
{

	if (c->signatureOID == CTC_RSASSAPSS && pss_sha1(c))
		return ("rsassaPss with SHA-1");
	switch (c->signatureOID) {
	case CTC_MD2wRSA: return ("md2WithRSAEncryption");
	case CTC_MD5wRSA: return ("md5WithRSAEncryption");
	case CTC_SHAwRSA: return ("sha1WithRSAEncryption");
	case CTC_SHAwECDSA: return ("ecdsa-with-SHA1");
	case CTC_SHAwDSA: return ("dsaWithSHA1");
	default: return (NULL);
	}
}

/* Key size rule; 0 or -1 with the reason. */
static int
key_ok(const DecodedCert *c, const char *who, char *why, size_t whylen)
{
	RsaKey rsa;
	word32 idx = 0;
	int bits = 0;

	switch (c->keyOID) {
	case RSAk:
	case RSAPSSk:
		if (wc_InitRsaKey(&rsa, NULL) != 0)
			break;
		if (wc_RsaPublicKeyDecode(c->publicKey, &idx, &rsa,
		    c->pubKeySize) == 0)
			bits = wc_RsaEncryptSize(&rsa) * 8;
		wc_FreeRsaKey(&rsa);
		if (bits >= 2048)
			return (0);
		snprintf(why, whylen, "RSA key of %d bits is below the "
		    "2048-bit minimum (%s)", bits, who);
		return (-1);
	case ECDSAk:
		switch (c->pkCurveOID) {
		case ECC_SECP256R1_OID:
		case ECC_SECP384R1_OID:
		case ECC_SECP521R1_OID:
			return (0);
		default:
			snprintf(why, whylen, "EC key on a curve other than "
			    "P-256, P-384 or P-521 (%s)", who);
			return (-1);
		}
	case ED25519k:
	case ED448k:
		return (0);
	default:
		break;
	}
	snprintf(why, whylen, "unsupported public key type (%s)", who);
	return (-1);
}

static int
date_ok(const DecodedCert *c, time_t now, const char *who, char *why,
    size_t whylen)
{
	const byte *d;
	byte fmt;
	int len;
	struct tm tm;
	time_t nb = 0, na = 0;

	memset(&tm, 0, sizeof(tm));
	if (wc_GetDateInfo(c->beforeDate, c->beforeDateLen, &d, &fmt,
	    &len) == 0 && wc_GetDateAsCalendarTime(d, len, fmt, &tm) == 0)
		nb = timegm(&tm);
	memset(&tm, 0, sizeof(tm));
	if (wc_GetDateInfo(c->afterDate, c->afterDateLen, &d, &fmt,
	    &len) == 0 && wc_GetDateAsCalendarTime(d, len, fmt, &tm) == 0)
		na = timegm(&tm);
	if (nb == 0 || na == 0) {
		snprintf(why, whylen, "cannot read the validity dates (%s)",
		    who);
		return (-1);
	}
	if (now < nb) {
		snprintf(why, whylen, "certificate %s is not yet valid", who);
		return (TLS_VERIFY_DATES);
	}
	if (now > na) {
		snprintf(why, whylen, "certificate %s has expired", who);
		return (TLS_VERIFY_DATES);
	}
	return (0);
}

/* The SANs of ${c} in the form the matchers take; returns the count. */
static size_t
sans_of(const DecodedCert *c, struct tls_san *s, size_t max)
{
	const DNS_entry *e;
	size_t n = 0;

	for (e = c->altNames; e != NULL && n < max; e = e->next) {
		if (e->type != ASN_DNS_TYPE && e->type != ASN_IP_TYPE)
			continue;
		s[n].type = e->type == ASN_DNS_TYPE ? TLS_SAN_DNS : TLS_SAN_IP;
		s[n].p = (const unsigned char *)e->name;
		s[n].len = e->len > 0 ? (size_t)e->len : 0;
		n++;
	}
	return (n);
}

/* Index of the first control byte of ${p}, or -1. */
static int
control_at(const char *p, int len)
{
	int i;

	for (i = 0; p != NULL && i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return (i);
	return (-1);
}

static int
name_refused(const char *kind, const char *p, int len, char *why,
    size_t whylen)
{
	char esc[160];
	int i;

	if ((i = control_at(p, len)) < 0)
		return (0);
	snprintf(why, whylen, "certificate name contains a %s byte (%s%s)",
	    p[i] ? "control" : "NUL", kind, log_escape(esc, sizeof(esc), p,
	    (size_t)len));
	return (-1);
}

/* No name of the leaf may carry a control byte (NUL tricks, log forgery). */
static int
names_clean(const DecodedCert *c, char *why, size_t whylen)
{
	const DNS_entry *e;

	for (e = c->altNames; e != NULL; e = e->next)
		if ((e->type == ASN_DNS_TYPE || e->type == ASN_RFC822_TYPE ||
		    e->type == ASN_URI_TYPE) && name_refused("", e->name,
		    e->len, why, whylen))
			return (-1);
	for (e = c->altEmailNames; e != NULL; e = e->next)
		if (name_refused("email:", e->name, e->len, why, whylen))
			return (-1);
	return (name_refused("CN=", c->subjectCN, c->subjectCNLen, why,
	    whylen));
}

/* Rules for a CA at path position ${k} (k >= 1; the anchor is last). */
static int
ca_ok(const struct path *pa, size_t k, int purpose, const char *who,
    char *why, size_t whylen)
{
	const DecodedCert *c = pa->c[k];
	int is_anchor = (k == pa->n - 1);
	size_t below = k - 1;		/* intermediates between it and leaf */

	if (!c->isCA && !(is_anchor && c->version == 0)) {
		snprintf(why, whylen, "%s is not a CA (basicConstraints "
		    "%s)", who, c->extBasicConstSet ? "CA:FALSE" : "missing");
		return (-1);
	}
	if (c->extKeyUsageSet && !(c->extKeyUsage & KEYUSE_KEY_CERT_SIGN)) {
		snprintf(why, whylen, "%s may not sign certificates (its "
		    "keyUsage lacks keyCertSign)", who);
		return (-1);
	}
	if (c->pathLengthSet && below > c->pathLength) {
		snprintf(why, whylen, "path length constraint exceeded at "
		    "depth %zu: %s allows %u intermediate certificate%s below "
		    "it", k, who, (unsigned)c->pathLength,
		    c->pathLength == 1 ? "" : "s");
		return (-1);
	}
	if (!is_anchor && c->extExtKeyUsageSet && !(c->extExtKeyUsage &
	    (purpose | EXTKEYUSE_ANY))) {
		snprintf(why, whylen, "%s extended key usage does not allow "
		    "%s", who, purpose == EXTKEYUSE_SERVER_AUTH ?
		    "serverAuth" : "clientAuth");
		return (-1);
	}
	return (0);
}

static int
leaf_ok(const DecodedCert *c, int purpose, char *why, size_t whylen)
{

	if (c->extExtKeyUsageSet && !(c->extExtKeyUsage & purpose)) {
		snprintf(why, whylen, "certificate extended key usage does not "
		    "include %s", purpose == EXTKEYUSE_SERVER_AUTH ?
		    "serverAuth" : "clientAuth");
		return (-1);
	}
	/* Every suite redtun allows signs the handshake with this key. */
	if (c->extKeyUsageSet && !(c->extKeyUsage & KEYUSE_DIGITAL_SIG)) {
		snprintf(why, whylen, "certificate key usage lacks "
		    "digitalSignature (needed to sign the TLS handshake)");
		return (-1);
	}
	return (0);
}

static int
path_ok(struct path *pa, int purpose, char *why, size_t whylen)
{
	struct tls_san sans[MAX_SANS];
	char who[160], name[128], detail[200];
	time_t now = time(NULL);
	size_t k, b, ns;
	const char *alg;
	int r;

	for (k = 0; k < pa->n; k++) {
		const DecodedCert *c = pa->c[k];

		cn(c, name, sizeof(name));
		if (k == 0)
			snprintf(who, sizeof(who), "%s", name);
		else
			snprintf(who, sizeof(who), "%s %s", k == pa->n - 1 ?
			    "CA" : "intermediate", name);
		if ((r = date_ok(c, now, who, why, whylen)) != 0)
			return (r);
		if (key_ok(c, who, why, whylen))
			return (-1);
		if (k + 1 < pa->n && (alg = weak_sig(c))) {
			snprintf(why, whylen, "signature algorithm %s not "
			    "accepted (%s)", alg, who);
			return (-1);
		}
		if (k > 0 && ca_ok(pa, k, purpose, who, why, whylen))
			return (-1);
		/* This CA's name constraints bind everything below it. */
		for (b = 0; k > 0 && b < k; b++) {
			ns = sans_of(pa->c[b], sans, MAX_SANS);
			r = tls_nc_check(c->extensions, (size_t)(c->extensions ?
			    c->extensionsSz : 0), sans, ns, detail,
			    sizeof(detail));
			if (r == -2) {
				snprintf(why, whylen, "cannot parse the name "
				    "constraints of %s", who);
				return (-1);
			}
			if (r == -1) {
				snprintf(why, whylen, "name constraints of %s "
				    "%s", name, detail);
				return (-1);
			}
			if (r == 1)
				break;
		}
	}
	return (leaf_ok(pa->c[0], purpose, why, whylen));
}

int
tls_verify_chain(const struct tls_trust *trust,
    const unsigned char *const *der, const size_t *len, size_t n,
    enum tls_purpose purpose, const char *host, char *why, size_t whylen)
{
	struct tls_san sans[MAX_SANS];
	DecodedCert *rc;
	struct path pa;
	size_t i, parsed = 0;
	int ret = -1, eku;

	eku = purpose == TLS_PURPOSE_SERVER ? EXTKEYUSE_SERVER_AUTH :
	    EXTKEYUSE_CLIENT_AUTH;
	if (n == 0 || trust == NULL) {
		snprintf(why, whylen, "no certificate to verify");
		return (-1);
	}
	if (n > MAX_RECEIVED) {
		snprintf(why, whylen, "the peer sent %zu certificates; at most"
		    " %d are accepted", n, MAX_RECEIVED);
		return (-1);
	}
	if ((rc = calloc(n, sizeof(*rc))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	memset(&pa, 0, sizeof(pa));
	for (; parsed < n; parsed++) {
		wc_InitDecodedCert(&rc[parsed], der[parsed],
		    (word32)len[parsed], NULL);
		if (wc_ParseCert(&rc[parsed], CERT_TYPE, NO_VERIFY, NULL)) {
			snprintf(why, whylen, "cannot parse the certificate "
			    "at depth %zu", parsed);
			parsed++;
			goto done;
		}
	}
	if (names_clean(&rc[0], why, whylen))
		goto done;
	if ((ret = build_path(trust, rc, n, &pa, why, whylen)) != 0)
		goto done;
	if ((ret = path_ok(&pa, eku, why, whylen)) != 0)
		goto done;
	ret = TLS_VERIFY_IDENTITY;
	if (host != NULL && tls_identity_match(host, sans,
	    sans_of(&rc[0], sans, MAX_SANS), why, whylen))
		goto done;
	ret = 0;
done:
	if (pa.anchor_init)
		wc_FreeDecodedCert(&pa.anchor);
	for (i = 0; i < parsed; i++)
		wc_FreeDecodedCert(&rc[i]);
	free(rc);
	return (ret);
}
