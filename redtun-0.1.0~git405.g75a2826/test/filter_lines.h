#ifndef REDTUN_TEST_FILTER_LINES_H
#define REDTUN_TEST_FILTER_LINES_H

/* The "lines" test filter: see filter_lines.c for what it does. */

struct lines;
struct relay;

/**
 * filter_lines_attach(r):
 * Put a new "lines" filter on ${r} (which owns and frees it).  Returns its
 * state, for filter_lines_count(), or NULL on allocation failure.
 */
struct lines *filter_lines_attach(struct relay *r);

/* filter_lines_count(f, dir): complete lines seen in direction ${dir}. */
unsigned long filter_lines_count(const struct lines *f, int dir);

/**
 * tunnel_test_filter(r):
 * tunnel.c's test hook (test/redtun_filtered only): with the environment
 * variable REDTUN_TEST_FILTER set, every tunnel gets a "lines" filter.
 * Returns 0, or -1 on allocation failure.
 */
int tunnel_test_filter(struct relay *r);

#endif
