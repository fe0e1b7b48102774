#ifndef REDTUN_TEST_UNIT_CHECK_H
#define REDTUN_TEST_UNIT_CHECK_H

/*
 * The unit tests' one assertion: CHECK(cond) reports FILE:LINE and the
 * condition, counts a failure in ${failures} (each test file has its own)
 * and goes on, so that one run lists every failure.
 */
#include <stdio.h>

static int failures;

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		failures++;						\
	}								\
} while (0)

#endif
