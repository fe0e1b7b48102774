/*
 * The ElastiCache IAM token (src/sigv4.c): known answers botocore printed
 * (pinned here, so this test needs no python), the encoder, every
 * refusal (a buffer one byte short, a missing field, a cache that is not
 * a host name, a time out of range), and REDTUN_TEST_AWS_CLOCK.
 * test/iam-token-diff.sh does the wide differential against botocore.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"

#include "unit_check.h"

#define AKID	"AKIDEXAMPLE"
#define SECRET	"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* botocore 1.29.27, 2024-02-29T12:34:56Z, no session token. */
static const char kat1[] = "my-cache/?Action=connect"
    "&User=default%20user%2B%2F%3D%25%26%3F%23~%C3%A9"
    "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIDEXAMPLE%2F20240229%2Fus-east-1%2Felasticache"
    "%2Faws4_request&X-Amz-Date=20240229T123456Z&X-Amz-Expires=900"
    "&X-Amz-SignedHeaders=host&X-Amz-Signature="
    "9e511944a36c9ce5fdf901401c535937f5bdd7d14f61967761a57e4a19bf9d40";

/* A session token and a serverless cache, 2015-01-01T00:00:00Z. */
static const char kat2[] = "sls-cache/?Action=connect&User=iam-user-01"
    "&ResourceType=ServerlessCache&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=ASIAEXAMPLE%2F20150101%2Feu-west-1%2Felasticache"
    "%2Faws4_request&X-Amz-Date=20150101T000000Z&X-Amz-Expires=900"
    "&X-Amz-SignedHeaders=host"
    "&X-Amz-Security-Token=FwoGZXIvYXdzE%2B%2F%3Dtoken&X-Amz-Signature="
    "1847c546b7f3bced4d5967b202670a9f4840ab67cef89c23e514d89f5fb83959";

/* A 130-character user, 2040-12-31T23:59:59Z: the signature only. */
static const char kat3_sig[] = "&X-Amz-Signature="
    "235d0c770ac75e49c6db0389c0a404bd62d18a117686ad44dde415fdf0ca2fc3";

static struct sigv4_req
req1(void)
{
	struct sigv4_req rq;

	memset(&rq, 0, sizeof(rq));
	rq.access_key_id = AKID;
	rq.secret_access_key = SECRET;
	rq.region = "us-east-1";
	rq.cache = "my-cache";
	rq.user = "default user+/=%&?#~\xc3\xa9";
	rq.now = 1709210096;
	return (rq);
}

static int
tok(const struct sigv4_req *rq, char *out, size_t outlen)
{
	int n;

	memset(out, 'x', outlen);
	n = sigv4_elasticache_token(rq, out, outlen);
	if (n < 0)
		CHECK(outlen == 0 || out[0] == '\0');
	else
		CHECK((size_t)n == strlen(out) && (size_t)n < outlen);
	return (n);
}

static void
known_answers(void)
{
	static char out[SIGV4_TOKEN_MAX];
	struct sigv4_req rq = req1();
	char user[131];
	size_t len;
	int n;

	CHECK(tok(&rq, out, sizeof(out)) == (int)strlen(kat1));
	CHECK(strcmp(out, kat1) == 0);
	/* An empty session token is none, as in botocore. */
	rq.session_token = "";
	CHECK(tok(&rq, out, sizeof(out)) > 0 && strcmp(out, kat1) == 0);

	memset(&rq, 0, sizeof(rq));
	rq.access_key_id = "ASIAEXAMPLE";
	rq.secret_access_key = "secret/key+=";
	rq.session_token = "FwoGZXIvYXdzE+/=token";
	rq.region = "eu-west-1";
	rq.cache = "sls-cache";
	rq.user = "iam-user-01";
	rq.serverless = 1;
	rq.now = 1420070400;
	rq.expires = SIGV4_EXPIRES;
	CHECK(tok(&rq, out, sizeof(out)) == (int)strlen(kat2));
	CHECK(strcmp(out, kat2) == 0);

	rq = req1();
	memset(user, 'x', 130);
	user[130] = '\0';
	rq.user = user;
	rq.region = "ap-southeast-2";
	rq.cache = "master.rg.abc123.apse2.cache.amazonaws.com";
	rq.now = 2240611199;
	n = tok(&rq, out, sizeof(out));
	len = strlen(kat3_sig);
	CHECK(n > (int)len && strcmp(out + n - len, kat3_sig) == 0);
	CHECK(strstr(out, "X-Amz-Date=20401231T235959Z&") != NULL);

	/* Another lifetime; the epoch itself. */
	rq = req1();
	rq.expires = 60;
	CHECK(tok(&rq, out, sizeof(out)) > 0);
	CHECK(strstr(out, "&X-Amz-Expires=60&") != NULL);
	rq.now = 0;
	CHECK(tok(&rq, out, sizeof(out)) > 0);
	CHECK(strstr(out, "&X-Amz-Date=19700101T000000Z&") != NULL);
	CHECK(strstr(out, "%2F19700101%2Fus-east-1%2F") != NULL);
}

static void
enc(const char *in, const char *want)
{
	char out[256];
	int n;

	n = sigv4_uri_encode(in, out, sizeof(out));
	CHECK(n == (int)strlen(want) && strcmp(out, want) == 0);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "  encode: got [%s] want [%s]\n", out, want);
	/* Exactly enough room, then one byte short. */
	memset(out, 'x', sizeof(out));
	CHECK(sigv4_uri_encode(in, out, strlen(want) + 1) == n);
	CHECK(strcmp(out, want) == 0);
	memset(out, 'x', sizeof(out));
	CHECK(sigv4_uri_encode(in, out, strlen(want)) == -1);
	CHECK(strlen(want) == 0 || out[0] == '\0');
}

static void
encoder(void)
{
	char out[4];

	enc("", "");
	enc("AZaz09-._~", "AZaz09-._~");
	enc(" ", "%20");
	enc("+/=", "%2B%2F%3D");
	enc("%&?#", "%25%26%3F%23");
	enc("\xc3\xa9", "%C3%A9");
	enc("\x01\x7f\x80\xff", "%01%7F%80%FF");
	enc("a b\tc\n", "a%20b%09c%0A");
	enc("!*'()", "%21%2A%27%28%29");
	CHECK(sigv4_uri_encode("a", out, 0) == -1);
	CHECK(sigv4_uri_encode("", out, 1) == 0 && out[0] == '\0');
}

static void
too_small(void)
{
	static char out[SIGV4_TOKEN_MAX];
	struct sigv4_req rq = req1();
	size_t len = strlen(kat1), i;
	int bad = 0;

	/* Every size short of the token refuses, and writes "" only. */
	for (i = 0; i <= len; i++)
		if (tok(&rq, out, i) != -1)
			bad++;
	CHECK(bad == 0);
	CHECK(tok(&rq, out, len + 1) == (int)len);
	CHECK(strcmp(out, kat1) == 0);
}

static void
refusals(void)
{
	static char out[SIGV4_TOKEN_MAX];
	static char big[SIGV4_TOKEN_MAX];
	char secret[300];
	struct sigv4_req rq;
	const char **f[5];
	size_t i;

	CHECK(sigv4_elasticache_token(NULL, out, sizeof(out)) == -1);
	rq = req1();
	f[0] = &rq.access_key_id;
	f[1] = &rq.secret_access_key;
	f[2] = &rq.region;
	f[3] = &rq.cache;
	f[4] = &rq.user;
	for (i = 0; i < 5; i++) {
		rq = req1();
		*f[i] = NULL;
		CHECK(tok(&rq, out, sizeof(out)) == -1);
		rq = req1();
		*f[i] = "";
		CHECK(tok(&rq, out, sizeof(out)) == -1);
	}
	/* The cache is a host name: nothing that would change the URL. */
	rq = req1();
	rq.cache = "my/cache";
	CHECK(tok(&rq, out, sizeof(out)) == -1);
	rq.cache = "user@host";
	CHECK(tok(&rq, out, sizeof(out)) == -1);
	rq.cache = "host:6379";
	CHECK(tok(&rq, out, sizeof(out)) == -1);
	rq.cache = "host?x";
	CHECK(tok(&rq, out, sizeof(out)) == -1);
	rq.cache = "My-Cache.example_1";
	CHECK(tok(&rq, out, sizeof(out)) > 0);
	/* Times X-Amz-Date cannot spell. */
	rq = req1();
	rq.now = -1;
	CHECK(tok(&rq, out, sizeof(out)) == -1);
	rq.now = INT64_C(253402300800);
	CHECK(tok(&rq, out, sizeof(out)) == -1);
	rq.now = INT64_C(253402300799);
	CHECK(tok(&rq, out, sizeof(out)) > 0);
	CHECK(strstr(out, "X-Amz-Date=99991231T235959Z&") != NULL);
	/* The secret's bound (AWS's are 40 characters). */
	memset(secret, 's', sizeof(secret));
	secret[256] = '\0';
	rq = req1();
	rq.secret_access_key = secret;
	CHECK(tok(&rq, out, sizeof(out)) > 0);
	secret[256] = 's';
	secret[257] = '\0';
	CHECK(tok(&rq, out, sizeof(out)) == -1);
	/* A session token too long for SIGV4_TOKEN_MAX. */
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rq = req1();
	rq.session_token = big;
	CHECK(tok(&rq, out, sizeof(out)) == -1);
	/* A region too long for the scope. */
	memset(big, 'r', 200);
	big[200] = '\0';
	rq = req1();
	rq.region = big;
	CHECK(tok(&rq, out, sizeof(out)) == -1);
}

static int64_t
now_with(const char *v)
{

	if (v == NULL)
		unsetenv("REDTUN_TEST_AWS_CLOCK");
	else
		setenv("REDTUN_TEST_AWS_CLOCK", v, 1);
	return (sigv4_now());
}

/* ${got} is the real time moved by ${off}, within a couple of seconds. */
static int
near(int64_t got, int64_t off)
{
	int64_t want = (int64_t)time(NULL) + off;

	return (got >= want - 2 && got <= want + 2);
}

static void
clock_override(void)
{
	static const char *garbage[] = { "", "abc", "@", "+", "-", "@12x",
	    "+ 5", "+-5", "@-5", "5", "@ 5", "+5s",
	    "+99999999999999999999", "-99999999999999999999",
	    "@99999999999999999999" };
	size_t i;

	CHECK(near(now_with(NULL), 0));
	CHECK(now_with("@1700000000") == 1700000000);
	CHECK(now_with("@0") == 0);
	CHECK(near(now_with("+100"), 100));
	CHECK(near(now_with("-3600"), -3600));
	CHECK(near(now_with("+0"), 0));
	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		if (!near(now_with(garbage[i]), 0)) {
			fprintf(stderr, "  clock: [%s] not ignored\n",
			    garbage[i]);
			failures++;
		}
	}
	/* Offsets that would overflow are ignored too. */
	CHECK(near(now_with("+9223372036854775807"), 0));
	CHECK(near(now_with("-9223372036854775808"), 0));
	unsetenv("REDTUN_TEST_AWS_CLOCK");
}

int
main(void)
{

	known_answers();
	encoder();
	too_small();
	refusals();
	clock_override();
	if (failures != 0) {
		fprintf(stderr, "unit_sigv4: %d failures\n", failures);
		return (1);
	}
	printf("unit_sigv4: ok\n");
	return (0);
}
