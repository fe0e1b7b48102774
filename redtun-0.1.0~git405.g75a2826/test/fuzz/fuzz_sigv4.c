/*
 * libFuzzer harness: the ElastiCache IAM token (src/sigv4.c).  Input
 * layout:
 *
 *   FLAGS OUTLEN(2, LE) NOW(8, LE) AKID \0 SECRET \0 TOKEN \0 REGION \0
 *   CACHE \0 USER
 *
 * FLAGS: bit 0 serverless, bit 1 a session token, bit 2 a lifetime of
 * its own (OUTLEN's low byte); a missing field is "".
 *
 * Invariants: sigv4_uri_encode of every field either fits (the output is
 * NUL-terminated, its length the return value, made of unreserved
 * characters and %XX only, and decodes back to the field) or returns -1
 * and leaves "" whenever there is room for it; the same for the token in
 * an OUTLEN-byte buffer (heap-allocated to size, so ASan sees a byte
 * written past it): it fits exactly when the token made in a full-size
 * buffer is shorter than OUTLEN, and is then the same token; a token is
 * printable ASCII, "CACHE/?Action=connect&User=" then pairs of encoded
 * text, and ends with 64 lower-case hex digits; the same request makes
 * the same token.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NF	6

static int
hexval(char c)
{

	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

static int
is_unreserved(char c)
{

	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~');
}

/* ${enc} is unreserved characters and %XX only (and "&=" if ${query}). */
static void
check_encoded(const char *enc, size_t len, int query)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (enc[i] == '%') {
			CHECK(i + 2 < len);
			CHECK(hexval(enc[i + 1]) >= 0);
			CHECK(hexval(enc[i + 2]) >= 0);
			i += 2;
			continue;
		}
		CHECK(is_unreserved(enc[i]) ||
		    (query && (enc[i] == '&' || enc[i] == '=')));
	}
}

static void
check_encode(const char *in, size_t outlen)
{
	static char full[3 * 4096 + 1];
	char *out, *dec;
	size_t i, j;
	int n, m;

	n = sigv4_uri_encode(in, full, sizeof(full));
	CHECK(n == (int)(strlen(full)));
	check_encoded(full, (size_t)n, 0);
	/* Decodes back to the input. */
	dec = malloc((size_t)n + 1);
	CHECK(dec != NULL);
	for (i = j = 0; i < (size_t)n; j++) {
		if (full[i] == '%') {
			dec[j] = (char)(hexval(full[i + 1]) * 16 +
			    hexval(full[i + 2]));
			i += 3;
		} else
			dec[j] = full[i++];
	}
	dec[j] = '\0';
	CHECK(strcmp(dec, in) == 0);
	free(dec);

	out = malloc(outlen ? outlen : 1);
	CHECK(out != NULL);
	memset(out, 'x', outlen);
	m = sigv4_uri_encode(in, out, outlen);
	if ((size_t)n < outlen) {
		CHECK(m == n && strcmp(out, full) == 0);
	} else {
		CHECK(m == -1);
		CHECK(outlen == 0 || out[0] == '\0');
	}
	free(out);
}

static void
check_token(const char *t, size_t n, const char *cache)
{
	static const char mid[] = "/?Action=connect&User=";
	size_t i, clen = strlen(cache);

	CHECK(strlen(t) == n);
	for (i = 0; i < n; i++)
		CHECK(t[i] > 0x20 && t[i] < 0x7f);
	CHECK(n > clen + sizeof(mid) - 1 + 64);
	CHECK(strncmp(t, cache, clen) == 0);
	CHECK(strncmp(t + clen, mid, sizeof(mid) - 1) == 0);
	check_encoded(t + clen + 2, n - clen - 2, 1);
	CHECK(strncmp(t + n - 64 - 17, "&X-Amz-Signature=", 17) == 0);
	for (i = n - 64; i < n; i++)
		CHECK((t[i] >= '0' && t[i] <= '9') ||
		    (t[i] >= 'a' && t[i] <= 'f'));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char full[SIGV4_TOKEN_MAX], again[SIGV4_TOKEN_MAX];
	struct sigv4_req rq;
	char *buf, *f[NF], *p, *end, *out;
	size_t outlen, i;
	uint64_t now = 0;
	int flags, n, m;

	if (size < 11 || size > 4096)
		return (0);
	flags = data[0];
	outlen = (size_t)data[1] | (size_t)data[2] << 8;
	for (i = 0; i < 8; i++)
		now |= (uint64_t)data[3 + i] << (8 * i);
	/* The fields, NUL-separated, as C strings. */
	buf = malloc(size - 11 + 1);
	CHECK(buf != NULL);
	memcpy(buf, data + 11, size - 11);
	buf[size - 11] = '\0';
	end = buf + (size - 11);
	for (p = buf, i = 0; i < NF; i++) {
		f[i] = p <= end ? p : end;
		p = f[i] + strlen(f[i]) + 1;
	}
	for (i = 0; i < NF; i++)
		check_encode(f[i], outlen % 64 + (i * 97) % 200);

	memset(&rq, 0, sizeof(rq));
	rq.access_key_id = f[0];
	rq.secret_access_key = f[1];
	rq.session_token = (flags & 2) ? f[2] : NULL;
	rq.region = f[3];
	rq.cache = f[4];
	rq.user = f[5];
	rq.serverless = flags & 1;
	/* Mostly times X-Amz-Date can spell; sometimes any. */
	rq.now = (flags & 8) ? (int64_t)now :
	    (int64_t)(now % UINT64_C(253402300800));
	rq.expires = (flags & 4) ? (unsigned int)data[1] : 0;

	n = sigv4_elasticache_token(&rq, full, sizeof(full));
	if (n < 0)
		CHECK(full[0] == '\0');
	else {
		check_token(full, (size_t)n, rq.cache);
		CHECK((rq.serverless != 0) ==
		    (strstr(full, "&ResourceType=ServerlessCache&") != NULL));
		m = sigv4_elasticache_token(&rq, again, sizeof(again));
		CHECK(m == n && strcmp(again, full) == 0);
	}
	/* The caller's size: exact heap allocation. */
	out = malloc(outlen ? outlen : 1);
	CHECK(out != NULL);
	memset(out, 'x', outlen);
	m = sigv4_elasticache_token(&rq, out, outlen);
	if (n >= 0 && (size_t)n < outlen)
		CHECK(m == n && strcmp(out, full) == 0);
	else {
		CHECK(m == -1);
		CHECK(outlen == 0 || out[0] == '\0');
	}
	free(out);
	free(buf);
	return (0);
}
