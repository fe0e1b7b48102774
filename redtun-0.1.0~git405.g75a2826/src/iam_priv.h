#ifndef REDTUN_IAM_PRIV_H
#define REDTUN_IAM_PRIV_H

/*
 * Shared by iam.c (token sources, commit) and iam_creds.c (the AWS
 * credentials in use, their refresh); not for other modules.
 */
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sigv4.h"

#define IAM_WHY_MAX	150		/* what a client reads: short */
#define IAM_FETCH_MS	2000		/* ms per credential request */
#define IAM_BACKOFF_MAX	60		/* s between failed fetches */

struct aws_creds;
struct aws_fetch;

struct iam_svc {
	struct iam_svc *next;
	struct iam *iam;
	char *name;
	/* Under the iam's mutex. */
	int active;			/* configured with iamUser now */
	char *user, *cache, *region;	/* settings copies */
	int serverless;
	unsigned int refresh;		/* iamTokenRefresh, s */
	char token[SIGV4_TOKEN_MAX];	/* "" when none */
	int64_t made;			/* sigv4_now() when signed */
	int64_t until;			/* their creds expire; 0: never */
	char why[IAM_WHY_MAX];		/* why there is no token (with
					   one: why it fails after until) */
};

/* What iam_read_static found, for the next commit. */
enum { ST_NONE_READ = 0, ST_CREDS, ST_UNSET, ST_ERROR };

struct iam {
	uv_loop_t *loop;
	uv_mutex_t lock;
	struct iam_svc *svcs;		/* under lock; never shrinks */
	/* Under lock: written by any thread, taken by iam_commit. */
	int st;
	struct aws_creds *st_creds;
	char st_why[256];
	/* Main loop only. */
	struct aws_creds *creds;	/* in use, or NULL */
	char cred_why[200];		/* why there are none */
	uv_timer_t cred_timer;		/* refresh before expiry, retry */
	uv_timer_t token_timer;		/* remake every token */
	int timers;			/* the timers are initialised */
	int stopped;
	struct aws_fetch *fetch;	/* container / IMDSv2, or NULL */
	unsigned int backoff;		/* s; 0 after a success */
	char last_err[256];		/* the failure logged last */
};

/* iam_say: snprintf that cuts long reasons silently (they are for people).
 * iam_iso: "2026-12-04T19:00:00Z", for logs and messages.
 * iam_wipe: zero secrets where the compiler cannot skip it. */
void iam_say(char *dst, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *iam_iso(int64_t t, char *buf, size_t len);
void iam_wipe(void *p, size_t len);

/* iam_remake_all(iam): on the main loop, sign every active source's token
 * anew from the credentials in use (or record why not). */
void iam_remake_all(struct iam *iam);

/* iam_creds_commit(iam, reread): on the main loop, take what
 * iam_read_static found, or fetch from the container endpoint or IMDSv2
 * when there are no credentials yet or ${reread}. */
void iam_creds_commit(struct iam *iam, int reread);

/* iam_creds_stop(iam): cancel the fetch in flight (shutdown). */
void iam_creds_stop(struct iam *iam);

#endif
