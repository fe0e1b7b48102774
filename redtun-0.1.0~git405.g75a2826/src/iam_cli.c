/*
 * "redtun token CONFIG SERVICE": one ElastiCache IAM token for a service
 * of the configuration, from the AWS credential chain, on stdout; the
 * generator for redis-cli --user USER --pass "$(redtun token ...)".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "aws_creds.h"
#include "conf.h"
#include "iam.h"
#include "iam_cli.h"
#include "sigv4.h"

/* The outcome of the private loop's fetch. */
struct once {
	struct aws_creds *c;
	char why[256];
	int done;
};

static void
once_cb(void *arg, struct aws_creds *c, const char *why)
{
	struct once *o = arg;

	o->c = c;
	o->done = 1;
	if (c == NULL)
		snprintf(o->why, sizeof(o->why), "%.250s", why);
}

/* The container endpoint or IMDSv2 on a loop of our own.  Blocks. */
static struct aws_creds *
fetch_once(unsigned int timeout_ms, char *why, size_t whylen)
{
	struct aws_fetch *f;
	struct once o;
	uv_loop_t loop;

	memset(&o, 0, sizeof(o));
	if (uv_loop_init(&loop) != 0) {
		snprintf(why, whylen, "cannot create an event loop");
		return (NULL);
	}
	if ((f = aws_creds_fetch(&loop, timeout_ms, once_cb, &o)) == NULL)
		snprintf(o.why, sizeof(o.why), "out of memory");
	else
		(void)uv_run(&loop, UV_RUN_DEFAULT);
	if (f != NULL && !o.done) {
		/* Cannot happen: the loop ends only once the fetch has. */
		aws_creds_cancel(f);
		(void)uv_run(&loop, UV_RUN_DEFAULT);
		snprintf(o.why, sizeof(o.why), "the fetch did not finish");
	}
	(void)uv_loop_close(&loop);
	if (o.c == NULL)
		snprintf(why, whylen, "%s", o.why);
	return (o.c);
}

int
iam_token_once(const struct svc_conf *sc, unsigned int timeout_ms,
    char *out, size_t outlen, char *why, size_t whylen)
{
	struct aws_creds *c = NULL;
	struct sigv4_req rq;
	char w[256];
	int64_t now = sigv4_now();
	int r;

	out[0] = '\0';
	if ((r = aws_creds_static(&c, w, sizeof(w))) < 0) {
		snprintf(why, whylen, "no AWS credentials: %s", w);
		return (-1);
	}
	if (r == 0 && (c = fetch_once(timeout_ms, w, sizeof(w))) == NULL) {
		snprintf(why, whylen, "no AWS credentials: %s", strncmp(w,
		    "no credentials: ", 16) == 0 ? w + 16 : w);
		return (-1);
	}
	if (c->expiration != 0 && now >= c->expiration) {
		snprintf(why, whylen, "the AWS credentials from %s have "
		    "expired", c->source);
		aws_creds_free(c);
		return (-1);
	}
	memset(&rq, 0, sizeof(rq));
	rq.access_key_id = c->access_key_id;
	rq.secret_access_key = c->secret_access_key;
	rq.session_token = c->session_token;
	rq.region = sc->iam_region;
	rq.cache = sc->iam_cache;
	rq.user = sc->iam_user;
	rq.serverless = sc->iam_serverless;
	rq.now = now;
	r = sigv4_elasticache_token(&rq, out, outlen);
	aws_creds_free(c);
	if (r < 0) {
		snprintf(why, whylen, "cannot make the token (too long?)");
		return (-1);
	}
	return (0);
}

int
iam_cli_token(const char *path, const char *service, int format)
{
	const struct svc_conf *sc = NULL;
	struct conf *cf;
	char why[512], *tok;
	size_t i;
	int status = IAM_CLI_CONFIG;

	if ((cf = conf_load(path, format, why, sizeof(why))) == NULL) {
		fprintf(stderr, "redtun: %s\n", why);
		return (IAM_CLI_CONFIG);
	}
	for (i = 0; i < cf->nsvcs && sc == NULL; i++)
		if (strcmp(cf->svcs[i]->name, service) == 0)
			sc = cf->svcs[i];
	if (sc == NULL)
		fprintf(stderr, "redtun: %s: no service %s\n", path, service);
	else if (sc->iam_user == NULL)
		fprintf(stderr, "redtun: service %s has no iamUser\n",
		    service);
	else if ((tok = malloc(SIGV4_TOKEN_MAX)) == NULL)
		fprintf(stderr, "redtun: out of memory\n");
	else {
		if (iam_token_once(sc, IAM_CLI_TIMEOUT_MS, tok,
		    SIGV4_TOKEN_MAX, why, sizeof(why)) != 0) {
			fprintf(stderr, "redtun: %s: %s\n", service, why);
			status = IAM_CLI_NO_CREDS;
		} else {
			printf("%s\n", tok);
			status = fflush(stdout) == 0 ? 0 : IAM_CLI_NO_CREDS;
		}
		memset(tok, 0, SIGV4_TOKEN_MAX);
		free(tok);
	}
	conf_free(cf);
	return (status);
}
