/*
 * libFuzzer harness: tls_verify_chain (redtun's own path building and
 * chain policy) over fuzzed certificate chains, against the trust store
 * tls_trust_load makes from $FUZZ_CERT_DIR/ca.crt (scripts/gen-test-certs;
 * scripts/fuzz and test/fuzz-replay.sh make them).  Input layout:
 *
 *   FLAGS { LENHI LENLO BLOB[LEN] } ...
 *
 * FLAGS bits 0-2: (FLAGS & 7) % 6 + 1 certificates at most (fewer if the
 * input ends first, even none); bit 3: purpose client (else server);
 * bits 4-5: host NULL, "localhost", "127.0.0.1" or "wrong.example"; bit 6:
 * verify again into a small buffer; bit 7: "sign" (below).
 *
 * A length with bit 15 set stands for a real certificate of FUZZ_CERT_DIR,
 * number (LEN >> 12) & 7 of REAL below, mutated by BLOB (LEN & 0xfff
 * bytes): each triple OFFHI OFFLO X xors X into the byte at that offset
 * (modulo the length); a last single byte T cuts T bytes off the end.  So
 * the fuzzer starts from whole, genuinely signed chains and gets deep.
 *
 * Otherwise BLOB is the certificate DER as is, or with "sign" set a
 * TBSCertificate which the harness signs with $FUZZ_CERT_DIR/ca.key
 * (ECDSA P-256 with SHA-256, or SHA-1 or SHA-384 if the TBS signature
 * field says so) after replacing the placeholder public key
 * PLACEHOLDER (04 then 64 bytes 0xca) by the CA's: fuzzed extensions,
 * names, dates, EKU and name constraints on certificates that chain to
 * the anchor, including intermediates holding the CA key.
 *
 * Every certificate gets an exact-size heap copy.  Invariants: 0, -1 or
 * -2 (no path); on -1 and -2 ${why} is set, NUL-terminated and printable; a chain accepted
 * for a host is accepted without one; a small buffer gets the same verdict
 * and a prefix of the same sentence.  ASan/UBSan/LSan do the rest.
 * FUZZ_VERBOSE set in the environment prints every verdict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include "fuzz_util.h"
#include "tls_trust.h"
#include "tls_verify.h"

#define MAX_CERTS	6
#define MAX_FILE	(64 << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The real certificates, by number; missing ones are skipped. */
static const char *const real_names[] = { "server.crt", "ca.crt",
    "client.crt", "wronghost.crt", "untrusted.crt", "other-ca.crt",
    "expired.crt", "otherclient.crt" };
static unsigned char *real[8];
static size_t real_len[8];

static struct tls_trust *trust;
static ecc_key cakey;
static WC_RNG rng;
static unsigned char capoint[65];
static int have_key, verbose;

static unsigned char *
read_file(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	unsigned char *buf;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return (NULL);
	if ((buf = malloc(MAX_FILE)) != NULL)
		*len = fread(buf, 1, MAX_FILE, f);
	fclose(f);
	return (buf);
}

static void
setup(void)
{
	const char *dir = getenv("FUZZ_CERT_DIR");
	unsigned char *pem, der[4096];
	char path[4096], why[512];
	size_t i, len = 0;
	word32 idx = 0, plen = sizeof(capoint);
	int n;

	if (dir == NULL) {
		fprintf(stderr, "fuzz_chain: set FUZZ_CERT_DIR\n");
		abort();
	}
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	wolfCrypt_Init();
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if ((trust = tls_trust_load(path, NULL, why, sizeof(why))) == NULL) {
		fprintf(stderr, "fuzz_chain: %s\n", why);
		abort();
	}
	for (i = 0; i < 8; i++) {
		if ((pem = read_file(dir, real_names[i], &len)) == NULL)
			continue;
		n = wc_CertPemToDer(pem, (int)len, der, (int)sizeof(der),
		    CERT_TYPE);
		if (n > 0 && (real[i] = malloc((size_t)n)) != NULL) {
			memcpy(real[i], der, (size_t)n);
			real_len[i] = (size_t)n;
		}
		free(pem);
	}
	if (real[0] == NULL || real[1] == NULL) {
		fprintf(stderr, "fuzz_chain: no server.crt/ca.crt in %s\n",
		    dir);
		abort();
	}
	if (wc_InitRng(&rng) != 0 || wc_ecc_init(&cakey) != 0)
		abort();
	if ((pem = read_file(dir, "ca.key", &len)) != NULL) {
		n = wc_KeyPemToDer(pem, (int)len, der, (int)sizeof(der), NULL);
		if (n > 0 && wc_EccPrivateKeyDecode(der, &idx, &cakey,
		    (word32)n) == 0 && wc_ecc_export_x963(&cakey, capoint,
		    &plen) == 0 && plen == sizeof(capoint))
			have_key = 1;
		free(pem);
	}
	if (!have_key) {
		fprintf(stderr, "fuzz_chain: cannot use %s/ca.key\n", dir);
		abort();
	}
}

static int
memhas(const unsigned char *p, size_t len, const void *needle, size_t nlen)
{

	return (len >= nlen && memmem(p, len, needle, nlen) != NULL);
}

/*
 * Certificate { TBS, ecdsa-with-SHA256 (or -SHA1 / -SHA384 when the TBS
 * signature field near its start names that), signature by the CA key }.
 */
static unsigned char *
sign_tbs(const unsigned char *in, size_t inlen, size_t *outlen)
{
	static const unsigned char placeholder_byte = 0xca;
	static const unsigned char alg256[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
	static const unsigned char alg384[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
	static const unsigned char alg1[] = { 0x30, 0x09, 0x06, 0x07, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x04, 0x01 };
	const unsigned char *alg = alg256;
	unsigned char *tbs, *out, *q, hash[WC_SHA384_DIGEST_SIZE], sig[120];
	unsigned char bh[6], ch[6];
	word32 siglen = sizeof(sig), hashlen = WC_SHA256_DIGEST_SIZE;
	size_t i, j, bhl, chl, body, alglen = sizeof(alg256), head;
	int ret;

	if ((tbs = malloc(inlen ? inlen : 1)) == NULL)
		return (NULL);
	memcpy(tbs, in, inlen);
	for (i = 0; i + sizeof(capoint) <= inlen; i++) {
		if (tbs[i] != 0x04)
			continue;
		for (j = 1; j < sizeof(capoint) && tbs[i + j] ==
		    placeholder_byte; j++)
			;
		if (j == sizeof(capoint)) {
			memcpy(tbs + i, capoint, sizeof(capoint));
			i += sizeof(capoint) - 1;
		}
	}
	head = inlen < 64 ? inlen : 64;
	if (memhas(tbs, head, alg1 + 2, sizeof(alg1) - 2)) {
		alg = alg1;
		alglen = sizeof(alg1);
		hashlen = WC_SHA_DIGEST_SIZE;
		ret = wc_ShaHash(tbs, (word32)inlen, hash);
	} else if (memhas(tbs, head, alg384 + 2, sizeof(alg384) - 2)) {
		alg = alg384;
		hashlen = WC_SHA384_DIGEST_SIZE;
		ret = wc_Sha384Hash(tbs, (word32)inlen, hash);
	} else {
		ret = wc_Sha256Hash(tbs, (word32)inlen, hash);
	}
	if (ret != 0 || wc_ecc_sign_hash(hash, hashlen, sig, &siglen, &rng,
	    &cakey) != 0) {
		free(tbs);
		return (NULL);
	}
	bhl = der_header(bh, 0x03, siglen + 1);
	body = inlen + alglen + bhl + 1 + siglen;
	chl = der_header(ch, 0x30, body);
	if ((out = malloc(chl + body)) != NULL) {
		q = out;
		memcpy(q, ch, chl);
		q += chl;
		memcpy(q, tbs, inlen);
		q += inlen;
		memcpy(q, alg, alglen);
		q += alglen;
		memcpy(q, bh, bhl);
		q += bhl;
		*q++ = 0x00;
		memcpy(q, sig, siglen);
		*outlen = chl + body;
	}
	free(tbs);
	return (out);
}

/* Real certificate ${which} mutated as ${m} (${mlen} bytes) says. */
static unsigned char *
mutate_real(unsigned which, const unsigned char *m, size_t mlen,
    size_t *outlen)
{
	unsigned char *out;
	size_t len, i, off;

	while (real[which & 7] == NULL)
		which++;
	which &= 7;
	len = real_len[which];
	if ((out = malloc(len)) == NULL)
		return (NULL);
	memcpy(out, real[which], len);
	for (i = 0; i + 3 <= mlen; i += 3) {
		off = ((size_t)m[i] << 8 | m[i + 1]) % len;
		out[off] ^= m[i + 2];
	}
	if (mlen - i == 1 && m[i] < len)
		len -= m[i];
	*outlen = len;
	return (out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = { NULL, "localhost", "127.0.0.1",
	    "wrong.example" };
	static int ready;
	unsigned char *der[MAX_CERTS];
	size_t len[MAX_CERTS], n = 0, want, l, i, smalllen;
	const uint8_t *p = data, *end = data + size;
	char why[1024], small[48], again[1024];
	enum tls_purpose purpose;
	const char *host;
	unsigned flags;
	int rc;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1)
		return (0);
	flags = *p++;
	want = (flags & 7) % MAX_CERTS + 1;
	purpose = (flags & 8) ? TLS_PURPOSE_CLIENT : TLS_PURPOSE_SERVER;
	host = hosts[(flags >> 4) & 3];
	while (n < want && end - p >= 2) {
		l = (size_t)p[0] << 8 | p[1];
		p += 2;
		if (l & 0x8000) {
			size_t ml = l & 0xfff;

			if (ml > (size_t)(end - p))
				ml = (size_t)(end - p);
			der[n] = mutate_real((unsigned)(l >> 12) & 7, p, ml,
			    &len[n]);
			p += ml;
		} else {
			if (l > (size_t)(end - p))
				l = (size_t)(end - p);
			if (flags & 0x80) {
				der[n] = sign_tbs(p, l, &len[n]);
			} else if ((der[n] = malloc(l ? l : 1)) != NULL) {
				memcpy(der[n], p, l);
				len[n] = l;
			}
			p += l;
		}
		if (der[n] == NULL)
			break;
		n++;
	}

	memset(why, 'x', sizeof(why));
	rc = tls_verify_chain(trust, (const unsigned char *const *)der, len, n,
	    purpose, host, why, sizeof(why));
	if (verbose)
		fprintf(stderr, "fuzz_chain: %zu certificates: %d %s\n", n, rc,
		    rc ? why : "");
	CHECK(rc == 0 || rc == -1 || rc == TLS_VERIFY_NO_PATH ||
	    rc == TLS_VERIFY_IDENTITY || rc == TLS_VERIFY_DATES);
	if (rc != 0) {
		check_why(why, sizeof(why));
		CHECK(why[0] != '\0' && why[0] != 'x');
	}
	if (rc == 0 && host != NULL) {
		memset(again, 'x', sizeof(again));
		CHECK(tls_verify_chain(trust, (const unsigned char *const *)der,
		    len, n, purpose, NULL, again, sizeof(again)) == 0);
	}
	if (flags & 0x40) {
		smalllen = 1 + size % sizeof(small);
		memset(small, 'x', sizeof(small));
		CHECK(tls_verify_chain(trust, (const unsigned char *const *)der,
		    len, n, purpose, host, small, smalllen) == rc);
		check_truncated(small, smalllen, sizeof(small), why, rc != 0);
	}
	for (i = 0; i < n; i++)
		free(der[i]);
	return (0);
}
