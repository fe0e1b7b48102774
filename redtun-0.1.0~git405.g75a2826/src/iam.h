#ifndef REDTUN_IAM_H
#define REDTUN_IAM_H

/*
 * ElastiCache IAM authentication for the runtime: one set of AWS
 * credentials for the process (aws_creds.h: the SDKs' provider chain), and
 * per service name a token source that keeps a fresh token (sigv4.h) for
 * the workers to send as AUTH iamUser TOKEN.
 *
 * Threads: everything that changes state (credential fetches, renewal
 * timers, commit) runs on the main loop; the workers only copy the
 * current token out under the source's mutex (iam_auth: per connection,
 * never per byte).  Renewal never waits on the data path: a token is
 * remade on the main loop every iamTokenRefresh s and whenever the
 * credentials change; temporary credentials are fetched again before
 * their Expiration (at the latest 5 minutes before, or half-way for short
 * ones), failures retried with back-off (1 s doubling to 60 s), each
 * failure logged once with its reason.
 */

#include <stddef.h>

#include <uv.h>

struct iam;
struct iam_svc;
struct svc_conf;

/**
 * iam_new(loop):
 * The IAM state of a runtime whose main loop is ${loop}.  Nothing is read
 * or fetched until iam_read_static / iam_commit.  NULL when out of memory.
 */
struct iam *iam_new(uv_loop_t *loop);

/**
 * iam_service(iam, name):
 * The token source of service ${name} (made on first use; it lives as
 * long as ${iam}, so that a reload's new generation finds it).  Any
 * thread.  NULL when out of memory.
 */
struct iam_svc *iam_service(struct iam *iam, const char *name);

/**
 * iam_read_static(iam):
 * Read the environment and the shared credentials file (aws_creds_static)
 * now, from any thread, for the next iam_commit: called when a start or a
 * reload prepares a configuration with an IAM service, so that at start
 * the file is read before privileges are dropped.  A file that has become
 * unreadable on a reload keeps the credentials already in use (logged).
 */
void iam_read_static(struct iam *iam);

/**
 * iam_commit(iam, scs, n, reread):
 * On the main loop: the services ${scs} (n of them; those without iamUser
 * are ignored) are now in force: each one's token source takes its
 * settings (copied) and gets a token at once if there are credentials;
 * sources of services no longer configured stop renewing and answer
 * iam_auth with an error.  Credentials: those iam_read_static found, else
 * the container endpoint or IMDSv2, fetched now if there are none yet or
 * ${reread} (SIGHUP).  Until the first credentials arrive, iam_auth fails
 * with the reason.
 */
void iam_commit(struct iam *iam, const struct svc_conf *const *scs, size_t n,
    int reread);

/**
 * iam_auth(s, user, ulen, token, tlen, why, whylen):
 * Any thread: copy the AUTH user (iamUser) and the current token into
 * ${user} and ${token}.  Returns 0, or -1 with the reason in ${why} (no
 * credentials yet and why; the service is not configured for IAM; the
 * token is older than its validity because the main loop stalled).
 */
int iam_auth(struct iam_svc *s, char *user, size_t ulen, char *token,
    size_t tlen, char *why, size_t whylen);

/* iam_stop(iam): on the main loop, stop every timer and fetch (shutdown).
 * iam_free(iam): free, once the loop has run the close callbacks. */
void iam_stop(struct iam *iam);
void iam_free(struct iam *iam);

/**
 * iam_token_once(sc, timeout_ms, out, outlen, why, whylen):
 * For "redtun token": the credentials from the whole chain (HTTP on a
 * private loop, each request bounded by ${timeout_ms}) and one token for
 * the service ${sc} in ${out}.  0, or -1 with the reason.  Blocks.
 */
int iam_token_once(const struct svc_conf *sc, unsigned int timeout_ms,
    char *out, size_t outlen, char *why, size_t whylen);

#endif
