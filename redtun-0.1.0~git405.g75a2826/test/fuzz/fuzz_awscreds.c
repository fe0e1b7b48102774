/*
 * libFuzzer harness: the AWS credential parsers, the shared credentials
 * file (aws_creds_parse_ini) and the JSON answer of the container
 * endpoint and IMDS (aws_creds_parse_json).  Input layout:
 *
 *   MODE TEXT...
 *
 * MODE's low bit: 0 the file, 1 the JSON; for the file, (MODE >> 1) % 3
 * picks the profile: "default", "p", "DEFAULT".
 *
 * Invariants: no crash, no leak; the result is one of the documented
 * values; found credentials have a non-empty printable key id and
 * secret; a refusal is a printable sentence, and for the file it starts
 * with the file's name.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_creds.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_creds(const struct aws_creds *c)
{
	size_t i;

	CHECK(c->access_key_id != NULL && c->access_key_id[0] != '\0');
	CHECK(c->secret_access_key != NULL &&
	    c->secret_access_key[0] != '\0');
	for (i = 0; c->secret_access_key[i] != '\0'; i++)
		CHECK(c->secret_access_key[i] >= 0x20 &&
		    c->secret_access_key[i] < 0x7f);
	CHECK(c->session_token == NULL || c->session_token[0] != '\0');
}

static void
release(struct aws_creds *c)
{

	free(c->access_key_id);
	free(c->secret_access_key);
	free(c->session_token);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const profiles[] = { "default", "p", "DEFAULT" };
	struct aws_creds c;
	char why[512];
	int rc;

	if (size < 1)
		return (0);
	memset(why, 0x55, sizeof(why));
	if (data[0] & 1) {
		rc = aws_creds_parse_json((const char *)data + 1, size - 1, &c,
		    why, sizeof(why));
		CHECK(rc == 0 || rc == -1);
		if (rc == 0) {
			check_creds(&c);
			release(&c);
		} else {
			check_why(why, sizeof(why));
			CHECK(c.access_key_id == NULL &&
			    c.secret_access_key == NULL);
		}
		return (0);
	}
	rc = aws_creds_parse_ini((const char *)data + 1, size - 1,
	    profiles[(data[0] >> 1) % 3], "F", &c, why, sizeof(why));
	CHECK(rc >= -1 && rc <= 1);
	if (rc == 1) {
		check_creds(&c);
		release(&c);
	} else {
		check_why(why, sizeof(why));
		CHECK(strncmp(why, "F:", 2) == 0);
		CHECK(c.access_key_id == NULL);
	}
	return (0);
}
