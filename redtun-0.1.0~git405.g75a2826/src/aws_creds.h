#ifndef REDTUN_AWS_CREDS_H
#define REDTUN_AWS_CREDS_H

/*
 * AWS credentials from the standard provider chain, in the SDKs' order:
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *      AWS_SESSION_TOKEN;
 *   2. the shared credentials file: AWS_SHARED_CREDENTIALS_FILE or
 *      ~/.aws/credentials, profile AWS_PROFILE or "default";
 *   3. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 *      (http://169.254.170.2 + it) or _FULL_URI, with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE (ECS, EKS Pod
 *      Identity);
 *   4. EC2 instance metadata, IMDSv2 only: PUT /latest/api/token, then
 *      GET the role name and its credentials; AWS_EC2_METADATA_DISABLED,
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT.
 * Steps 1 and 2 read the environment and a file (aws_creds_static: call
 * before privileges are dropped); 3 and 4 are HTTP on libuv
 * (aws_creds_fetch).  The first step that is configured decides: a
 * configured step that fails is an error, not a fall-through, as in the
 * SDKs (a profile named by AWS_PROFILE that does not exist, a file with a
 * key id and no secret, an endpoint that answers garbage).
 * Web identity (STS AssumeRoleWithWebIdentity) and ~/.aws/config are not
 * read.
 */

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct aws_creds {
	char *access_key_id;
	char *secret_access_key;	/* wiped when freed */
	char *session_token;		/* NULL for long-term keys; wiped */
	int64_t expiration;		/* Unix time; 0: does not expire */
	char source[96];		/* "environment", "shared file
					   /root/.aws/credentials [default]",
					   "container http://...",
					   "IMDSv2 role NAME" (for logs) */
};

/* aws_creds_free(c): wipe the secrets and free ${c}; NULL-safe. */
void aws_creds_free(struct aws_creds *c);

/* aws_creds_dup(c): a copy, or NULL when out of memory. */
struct aws_creds *aws_creds_dup(const struct aws_creds *c);

/**
 * aws_creds_static(out, why, whylen):
 * Steps 1 and 2.  Returns 1 with new credentials in ${out} (free with
 * aws_creds_free); 0 when neither step is configured (${why} says what
 * was looked at, e.g. "no AWS_ACCESS_KEY_ID; no /root/.aws/credentials");
 * -1 when one is configured but unusable (${why}: "FILE:LINE: ..." or
 * "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not").  Blocks
 * on a file read; never logs.
 */
int aws_creds_static(struct aws_creds **out, char *why, size_t whylen);

struct aws_fetch;

/*
 * The outcome of aws_creds_fetch: ${c} (ownership passes to the callee)
 * or NULL with ${why} ("container credentials http://...: HTTP 500",
 * "IMDSv2: PUT /latest/api/token: timed out after 1000 ms", "no
 * credentials: no AWS_ACCESS_KEY_ID; ...; IMDS disabled by
 * AWS_EC2_METADATA_DISABLED").  No secret is ever in ${why}.
 */
typedef void aws_creds_cb(void *arg, struct aws_creds *c, const char *why);

/**
 * aws_creds_fetch(loop, timeout_ms, cb, arg):
 * Steps 3 and 4 on ${loop}: the container endpoint if configured, else
 * IMDSv2 unless disabled.  Each HTTP request is bounded by ${timeout_ms}
 * and the bodies by 64 KiB; the JSON answers are read with jansson.
 * ${cb} fires once from the loop (never from inside this call) unless
 * aws_creds_cancel comes first.  Returns the fetch, or NULL when out of
 * memory.
 */
struct aws_fetch *aws_creds_fetch(uv_loop_t *loop, unsigned int timeout_ms,
    aws_creds_cb *cb, void *arg);

/* aws_creds_cancel(f): abandon ${f}; its callback will not fire. */
void aws_creds_cancel(struct aws_fetch *f);

/**
 * aws_creds_parse_json(body, len, c, why, whylen):
 * The JSON answer of the container endpoint or IMDS (AccessKeyId,
 * SecretAccessKey, Token, Expiration as ISO 8601 UTC) into ${c} (zeroed
 * first).  0, or -1 with the reason (no secret in it).  Pure: fuzzed.
 */
int aws_creds_parse_json(const char *body, size_t len, struct aws_creds *c,
    char *why, size_t whylen);

/**
 * aws_creds_parse_ini(text, len, profile, path, c, why, whylen):
 * The shared credentials file ${text} (named ${path} in messages):
 * profile ${profile}'s aws_access_key_id, aws_secret_access_key and
 * aws_session_token into ${c} (zeroed first).  Returns 1 found, 0 no such
 * profile, -1 malformed or incomplete (${why}: "PATH:LINE: ...").  Pure:
 * fuzzed.
 */
int aws_creds_parse_ini(const char *text, size_t len, const char *profile,
    const char *path, struct aws_creds *c, char *why, size_t whylen);

#endif
