/*
 * Unit tests of the AWS credential parsers: the shared credentials file
 * (botocore's configparser rules) and the JSON answer of the container
 * endpoint and IMDS; aws_creds_static over the environment and a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws_creds.h"
#include "unit_check.h"

static void
clear(struct aws_creds *c)
{

	free(c->access_key_id);
	free(c->secret_access_key);
	free(c->session_token);
	memset(c, 0, sizeof(*c));
}

/* Parse ${text} for ${profile}: the result, ${why} kept. */
static int
ini(const char *text, const char *profile, struct aws_creds *c, char *why)
{

	return (aws_creds_parse_ini(text, strlen(text), profile, "F", c, why,
	    256));
}

static void
test_ini_good(void)
{
	struct aws_creds c;
	char why[256];

	CHECK(ini("[default]\naws_access_key_id = AKID1\n"
	    "aws_secret_access_key = SEC1\n", "default", &c, why) == 1);
	CHECK(strcmp(c.access_key_id, "AKID1") == 0);
	CHECK(strcmp(c.secret_access_key, "SEC1") == 0);
	CHECK(c.session_token == NULL && c.expiration == 0);
	clear(&c);

	/* Comments, CRLF, ':' as the delimiter, keys in any case, blanks. */
	CHECK(ini("# top\r\n; also\r\n\r\n[other]\r\naws_access_key_id=X\r\n"
	    "aws_secret_access_key=Y\r\n[p]\r\n  AWS_ACCESS_KEY_ID :  A2 \r\n"
	    "\taws_secret_access_key=S2=with=equals\r\n"
	    "aws_session_token = T2 ; not a comment\r\n", "p", &c, why) == 1);
	CHECK(strcmp(c.access_key_id, "A2") == 0);
	CHECK(strcmp(c.secret_access_key, "S2=with=equals") == 0);
	CHECK(strcmp(c.session_token, "T2 ; not a comment") == 0);
	clear(&c);

	/* Lone CR ends a line too; a header keeps text up to the last ']'. */
	CHECK(ini("[q] trailing\raws_access_key_id=A\raws_secret_access_key=B",
	    "q", &c, why) == 1);
	clear(&c);
	CHECK(ini("[a]b]\naws_access_key_id=A\naws_secret_access_key=B\n",
	    "a]b", &c, why) == 1);
	clear(&c);

	/* [DEFAULT] gives its keys to every profile; the profile wins. */
	CHECK(ini("[DEFAULT]\naws_secret_access_key = DS\n"
	    "aws_session_token = DT\n[p]\naws_access_key_id = PA\n"
	    "aws_session_token = PT\n", "p", &c, why) == 1);
	CHECK(strcmp(c.secret_access_key, "DS") == 0);
	CHECK(strcmp(c.session_token, "PT") == 0);
	clear(&c);

	/* Continuation of a key we do not keep: ignored. */
	CHECK(ini("[p]\ns3 =\n  max_concurrent_requests = 2\n\n"
	    "  addressing_style = path\naws_access_key_id=A\n"
	    "aws_secret_access_key=B\n", "p", &c, why) == 1);
	clear(&c);

	/* An empty session token is no token. */
	CHECK(ini("[p]\naws_access_key_id=A\naws_secret_access_key=B\n"
	    "aws_session_token=\n", "p", &c, why) == 1);
	CHECK(c.session_token == NULL);
	clear(&c);
}

static void
test_ini_long(void)
{
	struct aws_creds c;
	char why[256];
	size_t n = 200000;
	char *t = malloc(n + 100);

	/* A long comment, a long value of another key, a long secret. */
	memset(t, 'x', n);
	t[0] = '#';
	t[n / 2] = '\n';
	memcpy(t + n / 2 + 1, "[p]\nk=", 6);
	memcpy(t + n - 49, "\naws_access_key_id=A\naws_secret_access_key=", 43);
	t[n] = '\0';
	CHECK(aws_creds_parse_ini(t, n, "p", "F", &c, why,
	    sizeof(why)) == 1);
	CHECK(c.secret_access_key != NULL &&
	    strlen(c.secret_access_key) == 6);
	clear(&c);
	free(t);
}

static void
test_ini_errors(void)
{
	struct aws_creds c;
	char why[256];

	CHECK(ini("[a]\nk=v\n", "default", &c, why) == 0);
	CHECK(strstr(why, "no profile [default]") != NULL);
	CHECK(ini("", "default", &c, why) == 0);
	/* A profile without a key id: not configured, as botocore. */
	CHECK(ini("[p]\naws_secret_access_key=S\n", "p", &c, why) == 0);
	CHECK(strstr(why, "has no aws_access_key_id") != NULL);

	CHECK(ini("[p]\n\naws_access_key_id = A\n", "p", &c, why) == -1);
	CHECK(strcmp(why, "F:3: profile p has aws_access_key_id but no "
	    "aws_secret_access_key") == 0);
	CHECK(c.access_key_id == NULL);

	CHECK(ini("[p]\naws_access_key_id=A\n[q]\n[p]\n", "q", &c, why) ==
	    -1);
	CHECK(strcmp(why, "F:4: a section appears twice") == 0);
	CHECK(ini("[p]\nk=1\nK = 2\n", "x", &c, why) == -1);
	CHECK(strcmp(why, "F:3: a key appears twice in its section") == 0);
	/* Two [DEFAULT] blocks are fine; a key twice across them is not. */
	CHECK(ini("[DEFAULT]\na=1\n[DEFAULT]\nb=1\n", "x", &c, why) == 0);
	CHECK(ini("[DEFAULT]\na=1\n[DEFAULT]\na=1\n", "x", &c, why) == -1);

	CHECK(ini("k=v\n[p]\n", "p", &c, why) == -1);
	CHECK(strcmp(why, "F:1: a key before any [section]") == 0);
	CHECK(ini("[p]\njust words\n", "p", &c, why) == -1);
	CHECK(strcmp(why, "F:2: not a [section], a comment or key = value")
	    == 0);
	CHECK(ini("[p]\n = v\n", "p", &c, why) == -1);
	CHECK(ini("[]\n", "p", &c, why) == -1);
	CHECK(ini("[p]\naws_access_key_id = A\n  more\n"
	    "aws_secret_access_key=B\n", "p", &c, why) == -1);
	CHECK(strcmp(why, "F:3: a value on several lines") == 0);
	CHECK(ini("[p]\naws_secret_access_key=\x01z\n", "p", &c, why) == -1);
	CHECK(ini("[p]\naws_access_key_id=A\naws_secret_access_key=\n", "p",
	    &c, why) == -1);
	CHECK(strstr(why, "empty aws_secret_access_key") != NULL);
	/* A NUL byte, and a malformed line far from the profile. */
	CHECK(aws_creds_parse_ini("[p]\nk=\0\n", 7, "p", "F", &c, why,
	    sizeof(why)) == -1);
	CHECK(strcmp(why, "F:2: a NUL byte") == 0);
	CHECK(ini("[p]\naws_access_key_id=A\naws_secret_access_key=B\n"
	    "[z]\n???\n", "p", &c, why) == -1);
	CHECK(strcmp(why, "F:5: not a [section], a comment or key = value")
	    == 0);
}

static int
json(const char *text, struct aws_creds *c, char *why)
{

	return (aws_creds_parse_json(text, strlen(text), c, why, 256));
}

static void
test_json(void)
{
	struct aws_creds c;
	char why[256];

	CHECK(json("{\"Code\":\"Success\",\"LastUpdated\":\"2024-05-01T10:00:"
	    "00Z\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAX\","
	    "\"SecretAccessKey\":\"sekrit\",\"Token\":\"tok\","
	    "\"Expiration\":\"2024-05-01T16:00:00Z\"}", &c, why) == 0);
	CHECK(strcmp(c.access_key_id, "ASIAX") == 0);
	CHECK(strcmp(c.session_token, "tok") == 0);
	CHECK(c.expiration == 1714579200);
	clear(&c);
	/* Fractions of a second, an offset, no expiration at all. */
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
	    "\"Expiration\":\"2024-05-01T16:00:00.123456Z\"}", &c, why) == 0);
	CHECK(c.expiration == 1714579200 && c.session_token == NULL);
	clear(&c);
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
	    "\"Expiration\":\"2024-05-01T16:00:00+00:00\"}", &c, why) == 0);
	CHECK(c.expiration == 1714579200);
	clear(&c);
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
	    "\"Expiration\":\"2024-05-01T18:00:00.5+02:00\"}", &c, why) == 0);
	CHECK(c.expiration == 1714579200);
	clear(&c);
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
	    "\"Token\":null}", &c, why) == 0);
	CHECK(c.expiration == 0 && c.session_token == NULL);
	clear(&c);

	/* Errors name the field, never the secret. */
	CHECK(json("{\"SecretAccessKey\":\"S\"}", &c, why) == -1);
	CHECK(strcmp(why, "no AccessKeyId in the JSON answer") == 0);
	CHECK(json("{\"AccessKeyId\":\"A\"}", &c, why) == -1);
	CHECK(strcmp(why, "no SecretAccessKey in the JSON answer") == 0);
	CHECK(c.access_key_id == NULL);
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":7}", &c, why)
	    == -1);
	CHECK(strcmp(why, "SecretAccessKey is not a string") == 0);
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"\"}", &c,
	    why) == -1);
	CHECK(json("{\"Code\":\"AssumeRoleUnauthorizedAccess\","
	    "\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", &c, why) == -1);
	CHECK(strstr(why, "Code") != NULL);
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
	    "\"Expiration\":\"tomorrow\"}", &c, why) == -1);
	CHECK(strcmp(why, "Expiration is not an ISO 8601 UTC time") == 0);
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
	    "\"Expiration\":\"2024-02-30T00:00:00Z\"}", &c, why) == -1);
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
	    "\"Expiration\":\"2024-05-01T16:00:00\"}", &c, why) == -1);
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
	    "\"Expiration\":\"2024-05-01T16:00:00.Z\"}", &c, why) == -1);
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
	    "\"Expiration\":\"2024-05-01T16:00:00Zjunk\"}", &c, why) == -1);
	CHECK(json("[1]", &c, why) == -1);
	CHECK(json("{\"AccessKeyId\":\"A\",\"AccessKeyId\":\"B\"}", &c, why)
	    == -1);
	/* jansson would quote the text near the error: we do not. */
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"TOPSECRET"
	    "\"x}", &c, why) == -1);
	CHECK(strstr(why, "TOPSECRET") == NULL);
	CHECK(strncmp(why, "malformed JSON", 14) == 0);
	CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"a\\nb\"}",
	    &c, why) == -1);
	CHECK(strstr(why, "a\nb") == NULL);
}

static void
test_static(void)
{
	char path[] = "/tmp/unit_aws_creds.XXXXXX";
	struct aws_creds *c, *d;
	char why[256];
	FILE *f;
	int fd;

	unsetenv("AWS_PROFILE");
	setenv("HOME", "/nonexistent-home", 1);
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	setenv("AWS_ACCESS_KEY_ID", "EA", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "ES", 1);
	setenv("AWS_SESSION_TOKEN", "ET", 1);
	CHECK(aws_creds_static(&c, why, sizeof(why)) == 1);
	CHECK(c != NULL && strcmp(c->source, "environment") == 0);
	CHECK(c != NULL && strcmp(c->session_token, "ET") == 0);
	d = aws_creds_dup(c);
	CHECK(d != NULL && strcmp(d->secret_access_key, "ES") == 0);
	aws_creds_free(c);
	aws_creds_free(d);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	CHECK(aws_creds_static(&c, why, sizeof(why)) == -1 && c == NULL);
	CHECK(strcmp(why, "AWS_ACCESS_KEY_ID is set but "
	    "AWS_SECRET_ACCESS_KEY is not") == 0);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SESSION_TOKEN");
	CHECK(aws_creds_static(&c, why, sizeof(why)) == 0);
	CHECK(strcmp(why, "no AWS_ACCESS_KEY_ID; /nonexistent-home/.aws/"
	    "credentials: no such file") == 0);
	setenv("AWS_PROFILE", "x", 1);
	CHECK(aws_creds_static(&c, why, sizeof(why)) == -1);

	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		CHECK(0);
		return;
	}
	fputs("[x]\naws_access_key_id=FA\naws_secret_access_key=FS\n", f);
	fclose(f);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	CHECK(aws_creds_static(&c, why, sizeof(why)) == 1);
	CHECK(c != NULL && strncmp(c->source, "shared file ", 12) == 0);
	aws_creds_free(c);
	setenv("AWS_PROFILE", "y", 1);
	CHECK(aws_creds_static(&c, why, sizeof(why)) == -1);
	CHECK(strstr(why, "no profile [y] (AWS_PROFILE)") != NULL);
	unlink(path);
	unsetenv("AWS_PROFILE");
	CHECK(aws_creds_static(&c, why, sizeof(why)) == -1);
	CHECK(strstr(why, "(AWS_SHARED_CREDENTIALS_FILE)") != NULL);
}

int
main(void)
{

	test_ini_good();
	test_ini_long();
	test_ini_errors();
	test_json();
	test_static();
	if (failures != 0) {
		fprintf(stderr, "unit_aws_creds: %d failures\n", failures);
		return (1);
	}
	printf("unit_aws_creds: all passed\n");
	return (0);
}
