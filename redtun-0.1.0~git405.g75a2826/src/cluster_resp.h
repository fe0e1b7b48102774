#ifndef REDTUN_CLUSTER_RESP_H
#define REDTUN_CLUSTER_RESP_H

/*
 * A reader over one complete RESP2/RESP3 frame held in memory, for the
 * cluster rewriters (cluster_rewrite.c, cluster_nodes.c, cluster_topo.c):
 * no allocation, no tree; a value is read where it starts and its
 * elements are walked one after the other.  Nothing in the frame is
 * trusted: cresp_check() validates the whole frame first (every length
 * inside it, nesting at most CRESP_DEPTH, element counts possible in the
 * bytes left), and the other functions still check their bounds.
 */

#include <stddef.h>

#define CRESP_DEPTH	32

/*
 * A value: ${type} is its type byte (attributes in front of it are
 * skipped: they stay in the frame as they are).  ${start}: offset of the
 * type byte; ${end}: offset just past the value.  Strings ('$', '!', '=',
 * '+', '-', ',', '(', '#'): payload at ${body}, ${n} bytes (for '=' the
 * "txt:" prefix included).  Aggregates ('*', '~', '>', '%'): first element
 * at ${body}, ${n} elements (a map's keys and values both counted).
 * Integers (':'): ${n} is the value.  Nulls ('_', "$-1", "*-1"): ${n} -1.
 */
struct cresp {
	char type;
	size_t start;
	size_t end;
	size_t body;
	long long n;
};

/**
 * cresp_check(f, len, why):
 * Whether ${f} of ${len} bytes is exactly one valid RESP value within the
 * bounds: 0, or -1 with a constant reason in *${why}.
 */
int cresp_check(const char *f, size_t len, const char **why);

/**
 * cresp_read(f, len, off, v, why):
 * Read the value at offset ${off} of ${f} into ${v}.  0, or -1 with a
 * constant reason in *${why}.
 */
int cresp_read(const char *f, size_t len, size_t off, struct cresp *v,
    const char **why);

/* cresp_isnull(v): a null ('_', "$-1", "*-1"). */
int cresp_isnull(const struct cresp *v);

/* cresp_isarray(v): a non-null '*' array. */
int cresp_isarray(const struct cresp *v);

/* cresp_ismap(v): a '%' map, or a '*' array of pairs (RESP2's maps). */
int cresp_ismap(const struct cresp *v);

/* cresp_isstr(v): a non-null '$' bulk, '+' simple or '=' verbatim string. */
int cresp_isstr(const struct cresp *v);

/**
 * cresp_text(f, v, p, n):
 * The text of the string ${v} (cresp_isstr; a verbatim string's without
 * its "txt:" prefix) in *${p}, *${n}.  0, or -1 if ${v} is no string.
 */
int cresp_text(const char *f, const struct cresp *v, const char **p,
    size_t *n);

/* cresp_eq(f, v, word): ${v} is a string equal to ${word}, ASCII case
 * ignored. */
int cresp_eq(const char *f, const struct cresp *v, const char *word);

/* cresp_port(v): the integer ${v} if it is one in 0..65535, else -1. */
long cresp_port(const struct cresp *v);

#endif
