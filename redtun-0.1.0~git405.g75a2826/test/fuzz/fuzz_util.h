/*
 * Shared by the harnesses of the certificate code: the invariant check,
 * the rule every refusal text must keep, and a DER header writer.
 * Header-only: each harness is its own program.
 */
#ifndef REDTUN_FUZZ_UTIL_H
#define REDTUN_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

/* ${why} is a terminated, printable ASCII sentence within ${whylen}. */
static inline void
check_why(const char *why, size_t whylen)
{
	size_t i;

	CHECK(memchr(why, '\0', whylen) != NULL);
	for (i = 0; why[i] != '\0'; i++)
		CHECK((unsigned char)why[i] >= 0x20 &&
		    (unsigned char)why[i] < 0x7f);
}

/*
 * The same call with a ${smalllen}-byte buffer ${small} (of ${size}
 * bytes, pre-filled with 'x') gave a refusal when ${refused}: the text
 * must be the start of the full sentence ${why}, and nothing past
 * ${smalllen} may be written.
 */
static inline void
check_truncated(const char *small, size_t smalllen, size_t size,
    const char *why, int refused)
{
	size_t i;

	if (refused) {
		check_why(small, smalllen);
		CHECK(strlen(small) == (strlen(why) < smalllen - 1 ?
		    strlen(why) : smalllen - 1));
		CHECK(strncmp(small, why, strlen(small)) == 0);
	}
	for (i = smalllen; i < size; i++)
		CHECK(small[i] == 'x');
}

/* Write the DER header of ${tag} for a ${len}-byte value (<= 5 bytes). */
static inline size_t
der_header(unsigned char *out, unsigned char tag, size_t len)
{
	size_t h = 0, n;

	out[h++] = tag;
	if (len < 0x80) {
		out[h++] = (unsigned char)len;
		return (h);
	}
	n = len < 0x100 ? 1 : len < 0x10000 ? 2 : 3;
	out[h++] = (unsigned char)(0x80 | n);
	while (n-- > 0)
		out[h++] = (unsigned char)(len >> (8 * n));
	return (h);
}

#endif
