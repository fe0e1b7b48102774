/*
 * libFuzzer harness: tls_nc_check (NameConstraints dNSName/iPAddress over a
 * certificate's subjectAltName list).  Input layout:
 *
 *   MODE  PART  { TYPE LEN BYTES[LEN] } ...
 *
 * MODE & 3 says what PART is and how the extensions DER is made from it:
 *   0  LENHI LENLO EXT[LEN]: EXT is the whole Extensions DER, as is.
 *   1  LENHI LENLO BODY[LEN]: BODY is a NameConstraints value, put in a
 *      valid envelope (Extensions / Extension / OID 2.5.29.30 / OCTET
 *      STRING) so the fuzzer reaches the subtree code at once.
 *   2,3  K { FLAGS LEN BASE[LEN] }*K: K (mod 17) subtrees, FLAGS bit 0 =
 *      excluded (else permitted), bit 1 = iPAddress (else dNSName), bit 2 =
 *      with "minimum 0"; encoded as DER by the harness, enveloped, and the
 *      verdict compared with an independent reference model (RFC 5280,
 *      label by label).  FLAGS bit 3 starts a second permittedSubtrees or
 *      excludedSubtrees field: not DER, so tls_nc may refuse it (-2), but
 *      if it does not, it must apply every field (excluded: any; permitted:
 *      each), never silently drop one.
 * In modes 1-3 MODE bit 2 adds the [3] EXPLICIT wrapper, bit 3 the
 * critical flag, bit 4 a basicConstraints extension before, bit 5 a
 * subjectKeyIdentifier after, and bit 6 replaces the OID by 2.5.29.31
 * (crlDistributionPoints): then there is no NameConstraints and the answer
 * must be 1.  LEN fields longer than what is left take what is left.
 *
 * The rest is up to 16 SAN entries; TYPE & 3: 0 and 3 = dNSName, 1 =
 * iPAddress, 2 = the type TYPE >> 2 as is (mostly ones tls_nc ignores).
 * Every name and the extensions get an exact-size heap copy so ASan sees
 * any read past their end.
 *
 * Invariants: the return value is 1, 0, -1 or -2; on -1 ${why} is
 * NUL-terminated, printable, "exclude ..." or "do not permit ..."; without
 * a DNS/IP name never -1; without the NameConstraints OID bytes 1 or -2;
 * the verdict over a list is the first non-zero verdict over its names one
 * by one (with the same sentence); a small buffer gets the same verdict
 * and a prefix of the sentence.  FUZZ_VERBOSE set prints every verdict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "tls_identity.h"
#include "tls_nc.h"

#define MAX_SANS	16
#define MAX_SUBTREES	16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- DER building (the harness's own, independent of tls_nc.c) -------- */

/* A heap buffer of TAG LEN VALUE; frees ${v}.  NULL on no memory. */
static unsigned char *
tlv(unsigned char tag, unsigned char *v, size_t vlen, size_t *outlen)
{
	unsigned char hdr[5], *out;
	size_t h = der_header(hdr, tag, vlen);

	if ((out = malloc(h + vlen)) != NULL) {
		memcpy(out, hdr, h);
		if (vlen)
			memcpy(out + h, v, vlen);
		*outlen = h + vlen;
	}
	free(v);
	return (out);
}

/* ${a} followed by ${b}, both freed. */
static unsigned char *
cat(unsigned char *a, size_t alen, unsigned char *b, size_t blen,
    size_t *outlen)
{
	unsigned char *out = NULL;

	if (a != NULL && b != NULL && (out = malloc(alen + blen + 1)) != NULL) {
		memcpy(out, a, alen);
		memcpy(out + alen, b, blen);
		*outlen = alen + blen;
	}
	free(a);
	free(b);
	return (out);
}

static unsigned char *
dup(const void *p, size_t len)
{
	unsigned char *out = malloc(len ? len : 1);

	if (out != NULL && len)
		memcpy(out, p, len);
	return (out);
}

/* Extensions DER holding the NameConstraints value ${body}; frees it. */
static unsigned char *
envelope(unsigned mode, unsigned char *body, size_t blen, size_t *outlen)
{
	static const unsigned char nc_oid[] = { 0x06, 0x03, 0x55, 0x1d, 0x1e };
	static const unsigned char cdp_oid[] = { 0x06, 0x03, 0x55, 0x1d, 0x1f };
	static const unsigned char crit[] = { 0x01, 0x01, 0xff };
	static const unsigned char bc[] = { 0x30, 0x0f, 0x06, 0x03, 0x55, 0x1d,
	    0x13, 0x01, 0x01, 0xff, 0x04, 0x05, 0x30, 0x03, 0x01, 0x01, 0xff };
	static const unsigned char ski[] = { 0x30, 0x0d, 0x06, 0x03, 0x55,
	    0x1d, 0x0e, 0x04, 0x06, 0x04, 0x04, 0xde, 0xad, 0xbe, 0xef };
	unsigned char *p;
	size_t len;

	p = tlv(0x04, body, blen, &len);
	if (p != NULL && (mode & 0x08))
		p = cat(dup(crit, sizeof(crit)), sizeof(crit), p, len, &len);
	if (p != NULL)
		p = cat(dup((mode & 0x40) ? cdp_oid : nc_oid, sizeof(nc_oid)),
		    sizeof(nc_oid), p, len, &len);
	if (p != NULL)
		p = tlv(0x30, p, len, &len);
	if (p != NULL && (mode & 0x10))
		p = cat(dup(bc, sizeof(bc)), sizeof(bc), p, len, &len);
	if (p != NULL && (mode & 0x20))
		p = cat(p, len, dup(ski, sizeof(ski)), sizeof(ski), &len);
	if (p != NULL)
		p = tlv(0x30, p, len, &len);
	if (p != NULL && (mode & 0x04))
		p = tlv(0xa3, p, len, &len);
	*outlen = len;
	return (p);
}

/* ---- the reference model for mode 2/3 ---------------------------------- */

struct subtree {
	int excluded, ip, min0;
	int block;			/* which [0] or [1] field holds it */
	const unsigned char *p;
	size_t len;
};

/* NameConstraints DER: each block of each kind its own [0]/[1] field. */
static unsigned char *
build_body(const struct subtree *st, size_t nst, size_t *outlen)
{
	static const unsigned char min0[] = { 0x80, 0x01, 0x00 };
	unsigned char *body, *list, *one;
	size_t blen = 0, llen, olen, j;
	int l, b, any;

	if ((body = malloc(1)) == NULL)
		return (NULL);
	for (l = 0; l < 2; l++) {
		for (b = 0; b < MAX_SUBTREES; b++) {
			if ((list = malloc(1)) == NULL)
				goto fail;
			llen = 0;
			any = 0;
			for (j = 0; j < nst; j++) {
				if (st[j].excluded != l || st[j].block != b)
					continue;
				any = 1;
				one = tlv(st[j].ip ? 0x87 : 0x82,
				    dup(st[j].p, st[j].len), st[j].len, &olen);
				if (one != NULL && st[j].min0)
					one = cat(one, olen, dup(min0,
					    sizeof(min0)), sizeof(min0), &olen);
				if (one != NULL)
					one = tlv(0x30, one, olen, &olen);
				if (one == NULL || (list = cat(list, llen, one,
				    olen, &llen)) == NULL) {
					free(list);
					goto fail;
				}
			}
			if (!any) {
				free(list);
				break;
			}
			if ((list = tlv(l ? 0xa1 : 0xa0, list, llen,
			    &llen)) == NULL)
				goto fail;
			if ((body = cat(body, blen, list, llen, &blen)) == NULL)
				return (NULL);
		}
	}
	return (tlv(0x30, body, blen, outlen));
fail:
	free(body);
	return (NULL);
}

/* Up to 128 labels of a name; -1 if one is empty or there are too many. */
static int
labels(const unsigned char *p, size_t len, const unsigned char **lab,
    size_t *lablen)
{
	size_t i, start = 0;
	int n = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '.')
			continue;
		if (i == start || n == 128)
			return (-1);
		lab[n] = p + start;
		lablen[n++] = i - start;
		start = i + 1;
	}
	return (n);
}

static int
lab_eq(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
	size_t i;

	if (al != bl)
		return (0);
	for (i = 0; i < al; i++) {
		int x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return (0);
	}
	return (1);
}

/*
 * RFC 5280: a dNSName is within a subtree if labels can be added on the
 * left of the base to make it; ".base" needs at least one; an empty base
 * holds every name.  One trailing dot of the name is not significant.
 * For an excluded subtree a wildcard name "*.S" also hits every base
 * "L.S" (one label more), since it would match that name.
 * 1, 0, or -1 when the model does not decide (empty labels and the like).
 */
static int
ref_dns(const unsigned char *n, size_t nl, const unsigned char *b, size_t bl,
    int excluded)
{
	const unsigned char *nlab[128], *blab[128];
	size_t nll[128], bll[128];
	int nn, bn, i, strict = 0;

	if (nl > 0 && n[nl - 1] == '.')
		nl--;
	if ((nn = labels(n, nl, nlab, nll)) < 0)
		return (-1);
	if (bl == 0)
		return (1);
	if (b[0] == '.') {
		strict = 1;
		b++;
		bl--;
	}
	if ((bn = labels(b, bl, blab, bll)) < 0)
		return (-1);
	if (excluded && !strict && nn >= 2 && bn == nn && nll[0] == 1 &&
	    nlab[0][0] == '*') {
		for (i = 1; i < nn; i++)
			if (!lab_eq(nlab[i], nll[i], blab[i], bll[i]))
				break;
		if (i == nn)
			return (1);
	}
	if (nn < bn + strict)
		return (0);
	for (i = 1; i <= bn; i++)
		if (!lab_eq(nlab[nn - i], nll[nn - i], blab[bn - i],
		    bll[bn - i]))
			return (0);
	return (1);
}

static int
ref_ip(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
	size_t i;

	if ((al != 4 && al != 16) || (bl != 8 && bl != 32))
		return (-1);
	if (bl != 2 * al)
		return (0);
	for (i = 0; i < al; i++)
		if (((a[i] ^ b[i]) & b[al + i]) != 0)
			return (0);
	return (1);
}

/* 0, -1 with *excl and *which set, or -3 when the model does not decide. */
static int
model(const struct subtree *st, size_t nst, const struct tls_san *s,
    size_t ns, int *excl, size_t *which)
{
	size_t i, j;
	int r, typed, hit, pass, b;

	for (i = 0; i < ns; i++) {
		int ip = s[i].type == TLS_SAN_IP;

		if (s[i].type != TLS_SAN_DNS && !ip)
			continue;
		/*
		 * Excluded first: a name in any excluded subtree fails.  Then
		 * each permitted field (DER has one; with several, as a
		 * conservative reading, each) holding subtrees of the name's
		 * type must have one containing it.
		 */
		for (pass = 1; pass >= 0; pass--) {
			for (b = 0; b < MAX_SUBTREES; b++) {
				typed = hit = 0;
				for (j = 0; j < nst; j++) {
					if (st[j].excluded != pass ||
					    st[j].ip != ip ||
					    (pass == 0 && st[j].block != b))
						continue;
					typed = 1;
					r = ip ? ref_ip(s[i].p, s[i].len,
					    st[j].p, st[j].len) :
					    ref_dns(s[i].p, s[i].len, st[j].p,
					    st[j].len, pass);
					if (r < 0)
						return (-3);
					hit |= r;
				}
				if ((pass == 1 && hit) || (pass == 0 && typed &&
				    !hit)) {
					*excl = pass;
					*which = i;
					return (-1);
				}
				if (pass == 1)
					break;
			}
		}
	}
	return (0);
}

/* ---- checks ------------------------------------------------------------ */

static int
memhas(const unsigned char *p, size_t len, const void *needle, size_t nlen)
{

	return (len >= nlen && memmem(p, len, needle, nlen) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_san sans[MAX_SANS];
	struct subtree st[MAX_SUBTREES];
	unsigned char *copy[MAX_SANS], *ext = NULL;
	char why[512], one[512], small[40];
	const uint8_t *p = data, *end = data + size;
	size_t extlen = 0, n = 0, nst = 0, i, len, smalllen, which = 0;
	unsigned mode;
	int rc, r1, want = 0, excl = 0, dnsip = 0, first, dupfield = 0;

	if (size < 1)
		return (0);
	mode = *p++;
	if ((mode & 3) < 2) {
		len = end - p >= 2 ? (size_t)(p[0] << 8 | p[1]) : 0;
		p += end - p >= 2 ? 2 : end - p;
		if (len > (size_t)(end - p))
			len = (size_t)(end - p);
		ext = dup(p, len);
		extlen = len;
		p += len;
		if ((mode & 3) == 1 && ext != NULL)
			ext = envelope(mode, ext, extlen, &extlen);
	} else {
		unsigned char *body;
		size_t k, blen;
		int nblk[2] = { 0, 0 }, l;

		k = p < end ? *p++ % (MAX_SUBTREES + 1) : 0;
		for (; nst < k && end - p >= 2; nst++) {
			len = p[1];
			if (len > (size_t)(end - p - 2))
				len = (size_t)(end - p - 2);
			l = st[nst].excluded = p[0] & 1;
			st[nst].ip = (p[0] >> 1) & 1;
			st[nst].min0 = (p[0] >> 2) & 1;
			if (nblk[l] == 0 || (p[0] & 8))
				nblk[l]++;
			st[nst].block = nblk[l] - 1;
			if (nblk[l] > 1)
				dupfield = 1;
			st[nst].p = p + 2;
			st[nst].len = len;
			p += 2 + len;
		}
		if ((body = build_body(st, nst, &blen)) != NULL)
			ext = envelope(mode, body, blen, &extlen);
	}
	if (ext == NULL)
		goto out;

	for (; end - p >= 2 && n < MAX_SANS; n++) {
		len = p[1];
		if (len > (size_t)(end - p - 2))
			len = (size_t)(end - p - 2);
		if ((copy[n] = dup(p + 2, len)) == NULL)
			break;
		switch (p[0] & 3) {
		case 1:
			sans[n].type = TLS_SAN_IP;
			break;
		case 2:
			sans[n].type = p[0] >> 2;
			break;
		default:
			sans[n].type = TLS_SAN_DNS;
			break;
		}
		if (sans[n].type == TLS_SAN_DNS || sans[n].type == TLS_SAN_IP)
			dnsip = 1;
		sans[n].p = copy[n];
		sans[n].len = len;
		p += 2 + len;
	}

	memset(why, 'x', sizeof(why));
	rc = tls_nc_check(ext, extlen, sans, n, why, sizeof(why));
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_nc: %zu names: %d %s\n", n, rc,
		    rc == -1 ? why : "");
	CHECK(rc == 1 || rc == 0 || rc == -1 || rc == -2);
	if (rc == -1) {
		check_why(why, sizeof(why));
		CHECK(strncmp(why, "exclude ", 8) == 0 ||
		    strncmp(why, "do not permit ", 14) == 0);
		CHECK(dnsip);
	}
	if (!memhas(ext, extlen, "\x55\x1d\x1e", 3))
		CHECK(rc == 1 || rc == -2);
	if ((mode & 3) != 0) {
		/* A valid envelope: found or not, never unparsable there. */
		if (mode & 0x40)
			CHECK(rc == 1);
		else
			CHECK(rc != 1);
	}
	if ((mode & 3) >= 2 && !(mode & 0x40)) {
		/* Well-formed subtrees: the model has the verdict. */
		want = model(st, nst, sans, n, &excl, &which);
		if (want != -3 && dupfield && rc == -2) {
			want = -3;	/* rejecting the non-DER encoding is fine */
		} else if (want != -3) {
			CHECK(rc == want);
			if (rc == -1)
				CHECK(strncmp(why, excl ? "exclude " :
				    "do not permit ", excl ? 8 : 14) == 0);
		}
	}

	/* The list's verdict is the first non-zero verdict of its names. */
	first = 0;
	for (i = 0; i < n; i++) {
		memset(one, 'x', sizeof(one));
		r1 = tls_nc_check(ext, extlen, &sans[i], 1, one, sizeof(one));
		CHECK(r1 == 1 || r1 == 0 || r1 == -1 || r1 == -2);
		if (r1 == 1 || rc == 1) {
			CHECK(r1 == rc);
			continue;
		}
		if (first == 0 && r1 != 0) {
			first = r1;
			CHECK(rc == r1);
			if (r1 == -1) {
				CHECK(strcmp(one, why) == 0);
				if (want == -1)
					CHECK(i == which);
			}
		}
	}
	if (n > 0 && rc != 1 && first == 0)
		CHECK(rc == 0);

	/* A small buffer: same verdict, a prefix of the same sentence. */
	smalllen = 1 + size % sizeof(small);
	memset(small, 'x', sizeof(small));
	CHECK(tls_nc_check(ext, extlen, sans, n, small, smalllen) == rc);
	check_truncated(small, smalllen, sizeof(small), why, rc == -1);

	for (i = 0; i < n; i++)
		free(copy[i]);
out:
	free(ext);
	return (0);
}
