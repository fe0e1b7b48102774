/*
 * Trust anchors for redtun's own path validation, read from the same
 * files wolfSSL is given.  Read-only once loaded, so worker threads share
 * them without locks.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include "tls_trust.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define MAX_ANCHORS	4096
#define MAX_PEM		(8 << 20)

struct anchor {
	unsigned char *der;
	size_t len;
	unsigned char subject[KEYID_SIZE];
};

struct tls_trust {
	struct anchor *a;
	size_t n;
};

static int
add_anchor(struct tls_trust *tr, const unsigned char *der, size_t len)
{
	DecodedCert dc;
	struct anchor *na;
	int ret;

	if (tr->n >= MAX_ANCHORS)
		return (0);
	wc_InitDecodedCert(&dc, der, (word32)len, NULL);
	ret = wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL);
	if (ret == 0 && (na = realloc(tr->a, (tr->n + 1) * sizeof(*na))) !=
	    NULL) {
		tr->a = na;
		na = &tr->a[tr->n];
		memcpy(na->subject, dc.subjectHash, KEYID_SIZE);
		if ((na->der = malloc(len)) != NULL) {
			memcpy(na->der, der, len);
			na->len = len;
			tr->n++;
		}
	}
	wc_FreeDecodedCert(&dc);
	/* An unparsable entry of a system bundle is skipped, as wolfSSL does. */
	return (0);
}

/* Every "BEGIN CERTIFICATE" block of the PEM file ${path}. */
static int
load_pem_file(struct tls_trust *tr, const char *path, char *why,
    size_t whylen)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	unsigned char *buf = NULL, *der = NULL;
	char *p, *q;
	FILE *f;
	long sz;
	int n;

	if ((f = fopen(path, "rb")) == NULL)
		goto err0;
	if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || sz > MAX_PEM ||
	    fseek(f, 0, SEEK_SET))
		goto err1;
	if ((buf = malloc((size_t)sz + 1)) == NULL ||
	    (der = malloc((size_t)sz + 1)) == NULL)
		goto err1;
	if (fread(buf, 1, (size_t)sz, f) != (size_t)sz)
		goto err1;
	buf[sz] = '\0';
	for (p = (char *)buf; (p = strstr(p, begin)) != NULL; p = q) {
		if ((q = strstr(p, end)) == NULL)
			break;
		q += sizeof(end) - 1;
		n = wc_CertPemToDer((unsigned char *)p, (int)(q - p), der,
		    (int)sz, CERT_TYPE);
		if (n > 0)
			add_anchor(tr, der, (size_t)n);
	}
	free(der);
	free(buf);
	fclose(f);
	return (0);

err1:
	free(der);
	free(buf);
	fclose(f);
err0:
	snprintf(why, whylen, "cannot read \"%s\"", path);
	return (-1);
}

static int
load_dir(struct tls_trust *tr, const char *dir, char *why, size_t whylen)
{
	char path[4096];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		snprintf(why, whylen, "cannot read the directory \"%s\"", dir);
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			(void)load_pem_file(tr, path, why, whylen);
	}
	closedir(d);
	return (0);
}

struct tls_trust *
tls_trust_load(const char *cafile, const char *capath, char *why,
    size_t whylen)
{
	struct tls_trust *tr;

	if ((tr = calloc(1, sizeof(*tr))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (NULL);
	}
	if (cafile == NULL && capath == NULL)
		cafile = SYSTEM_CA_BUNDLE;
	if (cafile != NULL && load_pem_file(tr, cafile, why, whylen))
		goto err;
	if (capath != NULL && load_dir(tr, capath, why, whylen))
		goto err;
	if (tr->n == 0) {
		snprintf(why, whylen, "no usable CA certificate in \"%s\"",
		    cafile ? cafile : capath);
		goto err;
	}
	return (tr);
err:
	tls_trust_free(tr);
	return (NULL);
}

uint64_t
tls_trust_fingerprint(const struct tls_trust *tr, uint64_t h)
{
	size_t i, j;

	for (i = 0; i < tr->n; i++) {
		for (j = 0; j < tr->a[i].len; j++)
			h = (h ^ tr->a[i].der[j]) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return (h);
}

void
tls_trust_free(struct tls_trust *tr)
{
	size_t i;

	if (tr == NULL)
		return;
	for (i = 0; i < tr->n; i++)
		free(tr->a[i].der);
	free(tr->a);
	free(tr);
}

const unsigned char *
tls_trust_next(const struct tls_trust *tr, const unsigned char *subject,
    size_t *cursor, size_t *len)
{

	for (; *cursor < tr->n; (*cursor)++) {
		if (memcmp(tr->a[*cursor].subject, subject, KEYID_SIZE) == 0) {
			*len = tr->a[*cursor].len;
			return (tr->a[(*cursor)++].der);
		}
	}
	return (NULL);
}
