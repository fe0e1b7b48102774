/*
 * Name constraints (RFC 5280 4.2.1.10) for dNSName and iPAddress, read
 * from the raw extension because wolfCrypt 5.5.4 keeps only DNS, email
 * and directory subtrees.  A bounded DER walker: definite lengths only,
 * every length checked against what is left.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "tls_nc.h"

struct tlv {
	unsigned char tag;
	const unsigned char *p;		/* contents */
	size_t len;
};

/* Read one TLV from [*pp, end); advance *pp past it.  0 or -1. */
static int
tlv_next(const unsigned char **pp, const unsigned char *end, struct tlv *t)
{
	const unsigned char *p = *pp;
	size_t len, n;

	if (end - p < 2)
		return (-1);
	t->tag = *p++;
	if ((t->tag & 0x1f) == 0x1f)	/* multi-byte tags: not in X.509 */
		return (-1);
	len = *p++;
	if (len & 0x80) {
		n = len & 0x7f;
		if (n == 0 || n > 3 || (size_t)(end - p) < n)
			return (-1);
		for (len = 0; n > 0; n--)
			len = (len << 8) | *p++;
	}
	if ((size_t)(end - p) < len)
		return (-1);
	t->p = p;
	t->len = len;
	*pp = p + len;
	return (0);
}

/* The contents of the NameConstraints OCTET STRING, or 1 if absent. */
static int
find_nc(const unsigned char *ext, size_t extlen, struct tlv *nc)
{
	static const unsigned char oid[] = { 0x55, 0x1d, 0x1e };
	const unsigned char *p = ext, *end = ext + extlen, *q, *qend;
	struct tlv seq, e, f;

	if (tlv_next(&p, end, &seq))
		return (-1);
	if (seq.tag == 0xa3) {		/* [3] EXPLICIT Extensions */
		p = seq.p;
		end = seq.p + seq.len;
		if (tlv_next(&p, end, &seq))
			return (-1);
	}
	if (seq.tag != 0x30)
		return (-1);
	for (p = seq.p, end = seq.p + seq.len; p < end;) {
		if (tlv_next(&p, end, &e) || e.tag != 0x30)
			return (-1);
		q = e.p;
		qend = e.p + e.len;
		if (tlv_next(&q, qend, &f) || f.tag != 0x06)
			return (-1);
		if (f.len != sizeof(oid) || memcmp(f.p, oid, sizeof(oid)))
			continue;
		if (tlv_next(&q, qend, &f))
			return (-1);
		if (f.tag == 0x01 && tlv_next(&q, qend, &f))	/* critical */
			return (-1);
		if (f.tag != 0x04)
			return (-1);
		nc->p = f.p;
		nc->len = f.len;
		return (0);
	}
	return (1);
}

static int
lower(int c)
{

	return (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/* dNSName ${n} is within subtree ${b}: equal, or ends in ".b" (or "b"
 * when ${b} starts with a dot).  Case-insensitive, one trailing dot
 * ignored on both. */
static int
dns_within(const unsigned char *n, size_t nl, const unsigned char *b,
    size_t bl)
{
	size_t i;

	if (bl > 0 && b[bl - 1] == '.')
		bl--;
	if (bl == 0)
		return (1);		/* an empty base is every name */
	if (nl > 0 && n[nl - 1] == '.')
		nl--;
	if (nl < bl)
		return (0);
	for (i = 0; i < bl; i++)
		if (lower(n[nl - bl + i]) != lower(b[i]))
			return (0);
	return (nl == bl || b[0] == '.' || n[nl - bl - 1] == '.');
}

/*
 * A wildcard "*.S" stands for every "L.S": it hits an excluded base that
 * is one such name, not only bases it lies within.
 */
static int
wildcard_covers(const unsigned char *n, size_t nl, const unsigned char *b,
    size_t bl)
{
	const unsigned char *dot;

	if (nl < 3 || n[0] != '*' || n[1] != '.')
		return (0);
	if (bl > 0 && b[bl - 1] == '.')
		bl--;
	if (bl == 0 || b[0] == '.' || (dot = memchr(b, '.', bl)) == NULL ||
	    dot == b)
		return (0);
	dot++;
	return (dns_within(n + 2, nl - 2, dot, bl - (size_t)(dot - b)) &&
	    dns_within(dot, bl - (size_t)(dot - b), n + 2, nl - 2));
}

static int
ip_within(const unsigned char *a, size_t al, const unsigned char *b,
    size_t bl)
{
	size_t i;

	if (bl != 2 * al)
		return (0);
	for (i = 0; i < al; i++)
		if ((a[i] & b[al + i]) != (b[i] & b[al + i]))
			return (0);
	return (1);
}

/*
 * For name ${s}: does the subtree list ${l} (GeneralSubtrees contents)
 * hold a subtree of the same type (*typed = 1) and does one contain it?
 */
static int
in_subtrees(const struct tlv *l, const struct tls_san *s, int excluded,
    int *typed)
{
	const unsigned char *p = l->p, *end = l->p + l->len, *q;
	struct tlv st, gn;
	int hit = 0;

	*typed = 0;
	while (p < end) {
		if (tlv_next(&p, end, &st) || st.tag != 0x30)
			return (-1);
		q = st.p;
		if (tlv_next(&q, st.p + st.len, &gn))
			return (-1);
		if (s->type == TLS_SAN_DNS && gn.tag == 0x82) {
			*typed = 1;
			hit |= dns_within(s->p, s->len, gn.p, gn.len) ||
			    (excluded && wildcard_covers(s->p, s->len, gn.p,
			    gn.len));
		} else if (s->type == TLS_SAN_IP && gn.tag == 0x87) {
			*typed = 1;
			hit |= ip_within(s->p, s->len, gn.p, gn.len);
		}
	}
	return (hit);
}

static void
describe(const struct tls_san *s, char *out, size_t outlen)
{
	char esc[128];

	if (s->type == TLS_SAN_IP && (s->len == 4 || s->len == 16)) {
		inet_ntop(s->len == 4 ? AF_INET : AF_INET6, s->p, esc,
		    sizeof(esc));
		snprintf(out, outlen, "IP:%s", esc);
	} else if (s->type == TLS_SAN_IP) {
		snprintf(out, outlen, "IP:(%zu bytes)", s->len);
	} else {
		log_escape(esc, sizeof(esc), s->p, s->len);
		snprintf(out, outlen, "DNS:%s", esc);
	}
}

int
tls_nc_check(const unsigned char *ext, size_t extlen,
    const struct tls_san *names, size_t nnames, char *why, size_t whylen)
{
	struct tlv nc, seq, permitted = { 0, NULL, 0 }, excluded = { 0, NULL, 0 };
	const unsigned char *p, *end;
	char name[160];
	size_t i;
	int r, typed;

	if (ext == NULL || extlen == 0)
		return (1);
	if ((r = find_nc(ext, extlen, &nc)) != 0)
		return (r == 1 ? 1 : -2);
	p = nc.p;
	end = nc.p + nc.len;
	if (tlv_next(&p, end, &seq) || seq.tag != 0x30)
		return (-2);
	for (p = seq.p, end = seq.p + seq.len; p < end;) {
		struct tlv t;

		if (tlv_next(&p, end, &t))
			return (-2);
		/* A repeated field is bad DER; never let it hide a list. */
		if (t.tag == 0xa0 && permitted.p == NULL)
			permitted = t;
		else if (t.tag == 0xa1 && excluded.p == NULL)
			excluded = t;
		else
			return (-2);
	}
	for (i = 0; i < nnames; i++) {
		const struct tls_san *s = &names[i];

		if (s->type != TLS_SAN_DNS && s->type != TLS_SAN_IP)
			continue;
		describe(s, name, sizeof(name));
		if (excluded.p != NULL) {
			if ((r = in_subtrees(&excluded, s, 1, &typed)) < 0)
				return (-2);
			if (r) {
				snprintf(why, whylen, "exclude %s", name);
				return (-1);
			}
		}
		if (permitted.p != NULL) {
			if ((r = in_subtrees(&permitted, s, 0, &typed)) < 0)
				return (-2);
			if (typed && !r) {
				snprintf(why, whylen, "do not permit %s", name);
				return (-1);
			}
		}
	}
	return (0);
}
