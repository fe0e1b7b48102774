/*
 * The AWS provider chain as the daemon runs it, from the command line, for
 * test/iam-creds.sh:  creds_probe [TIMEOUT_MS]
 * aws_creds_static, then (nothing configured) aws_creds_fetch on a fresh
 * loop.  Prints source=, akid=, secret_sha256= (a hash: never the
 * secret), token=set|none, token_sha256=, expiration=, or error=; also
 * elapsed_ms=.  Exit 0 credentials, 1 an error, 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "aws_creds.h"
#include "log.h"

static int result = 2;

static void
hash_hex(const char *s, char *out)
{
	unsigned char d[WC_SHA256_DIGEST_SIZE];
	wc_Sha256 sha;
	int i;

	wc_InitSha256(&sha);
	wc_Sha256Update(&sha, (const unsigned char *)s, (word32)strlen(s));
	wc_Sha256Final(&sha, d);
	wc_Sha256Free(&sha);
	for (i = 0; i < WC_SHA256_DIGEST_SIZE; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void
show(struct aws_creds *c, const char *why)
{
	char hex[2 * WC_SHA256_DIGEST_SIZE + 1], esc[1024];

	if (c == NULL) {
		/* As the log would show it: peer text is escaped in it. */
		printf("error=%s\n", why);
		result = 1;
		return;
	}
	printf("source=%s\n", log_escape(esc, sizeof(esc), c->source,
	    strlen(c->source)));
	printf("akid=%s\n", log_escape(esc, sizeof(esc), c->access_key_id,
	    strlen(c->access_key_id)));
	hash_hex(c->secret_access_key, hex);
	printf("secret_sha256=%s\n", hex);
	if (c->session_token != NULL) {
		hash_hex(c->session_token, hex);
		printf("token=set\ntoken_sha256=%s\n", hex);
	} else
		printf("token=none\n");
	printf("expiration=%lld\n", (long long)c->expiration);
	result = 0;
}

static void
on_fetched(void *arg, struct aws_creds *c, const char *why)
{

	*(int *)arg = 1;
	show(c, why);
	aws_creds_free(c);
}

int
main(int argc, char *argv[])
{
	struct aws_creds *c = NULL;
	unsigned int timeout = 2000;
	uv_loop_t loop;
	uint64_t t0;
	char why[512];
	int rc, fired = 0;

	if (argc > 2 || (argc == 2 && (timeout = (unsigned int)strtoul(argv[1],
	    NULL, 10)) == 0)) {
		fprintf(stderr, "usage: creds_probe [TIMEOUT_MS]\n");
		return (2);
	}
	if (uv_loop_init(&loop) != 0)
		return (2);
	t0 = uv_hrtime();
	if ((rc = aws_creds_static(&c, why, sizeof(why))) != 0) {
		show(c, why);
		aws_creds_free(c);
	} else {
		printf("static=%s\n", why);
		if (aws_creds_fetch(&loop, timeout, on_fetched, &fired) ==
		    NULL)
			return (2);
		/* The contract: never from inside aws_creds_fetch. */
		if (fired) {
			printf("error=callback fired inside aws_creds_fetch\n");
			return (2);
		}
		(void)uv_run(&loop, UV_RUN_DEFAULT);
		if (!fired) {
			printf("error=the callback never fired\n");
			return (2);
		}
	}
	printf("elapsed_ms=%llu\n",
	    (unsigned long long)((uv_hrtime() - t0) / 1000000));
	/* Every handle closed: uv_loop_close would say EBUSY otherwise. */
	if (uv_loop_close(&loop) != 0) {
		printf("error=handles left open\n");
		return (2);
	}
	return (result);
}
