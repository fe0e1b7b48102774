#ifndef REDTUN_SIGV4_H
#define REDTUN_SIGV4_H

/*
 * AWS Signature Version 4, query-string (presigned URL) form, as
 * ElastiCache's IAM authentication uses it: the token is the presigned
 * URL "http://CACHE/?Action=connect&User=USER[&ResourceType=...]" without
 * its scheme.  SHA-256 and HMAC from wolfCrypt; pure functions (no I/O,
 * no clock of their own), so tests diff them against botocore.
 */

#include <stddef.h>
#include <stdint.h>

/* A token is valid this long (X-Amz-Expires), as AWS documents. */
#define SIGV4_EXPIRES	900

/* Longer than any token (a session token is at most a few KiB). */
#define SIGV4_TOKEN_MAX	8192

struct sigv4_req {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;	/* NULL: long-term credentials */
	const char *region;		/* "us-east-1" */
	const char *cache;		/* the URL's host: the cache id */
	const char *user;		/* the ElastiCache user id */
	int serverless;			/* adds ResourceType=ServerlessCache */
	int64_t now;			/* Unix time the token is signed at */
	unsigned int expires;		/* s; 0 means SIGV4_EXPIRES */
};

/**
 * sigv4_elasticache_token(rq, out, outlen):
 * Write the token for ${rq} NUL-terminated into ${out}.  Returns its
 * length, or -1 if it does not fit in ${outlen} bytes or a field is
 * missing (NULL or empty, but session_token: NULL or "" means none) or
 * out of bounds (a cache that is not a plain host name [A-Za-z0-9._-],
 * a secret over 256 bytes, a time before 1970 or after 9999).  ${out}
 * then holds "" (when ${outlen} > 0).  Secrets and derived keys are wiped
 * from the stack before it returns.
 */
int sigv4_elasticache_token(const struct sigv4_req *rq, char *out,
    size_t outlen);

/**
 * sigv4_uri_encode(in, out, outlen):
 * RFC 3986 encoding as SigV4 wants it: unreserved characters
 * (A-Z a-z 0-9 - . _ ~) kept, every other byte %XX (upper case).
 * Returns the length written (NUL-terminated), or -1 if it does not fit.
 */
int sigv4_uri_encode(const char *in, char *out, size_t outlen);

/**
 * sigv4_now():
 * The current Unix time, unless the environment variable
 * REDTUN_TEST_AWS_CLOCK (tests only) says otherwise: "@T" means the fixed
 * time T, "+N" or "-N" the real time moved by N seconds.  A malformed
 * value is ignored (the real time).
 */
int64_t sigv4_now(void);

#endif
