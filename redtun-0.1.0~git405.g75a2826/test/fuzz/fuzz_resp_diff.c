/*
 * libFuzzer harness: the RESP scanner's reply side against hiredis's
 * redisReader (test-only; see test/resp_diff.h).  Input: a reply stream.
 * It is cut to the part where the two must agree (diff_common), and both
 * must then give the same frame ends and the same verdict.  The corpus
 * and regressions are replayed by test/resp_diff in make check.
 */
#include <stdint.h>

#include "../resp_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct diff_run h, s;
	char why[160];

	if (diff_compare(data, diff_common(data, size), &h, &s, why,
	    sizeof(why)) != 0) {
		fprintf(stderr, "resp_diff: %s\n", why);
		abort();
	}
	return (0);
}
