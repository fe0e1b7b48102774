#ifndef REDTUN_STATUS_TABLE_H
#define REDTUN_STATUS_TABLE_H

/*
 * The /status JSON (its shape: docs/redtun.8, src/status_render.c) as a
 * short table for a terminal, or re-indented for --json.
 */
#include <stddef.h>
#include <stdio.h>

/**
 * status_table_print(out, body, len, json, why, whylen):
 * Parse the ${len} bytes at ${body} as /status's JSON and write to ${out}
 * the JSON indented by 2 if ${json}, else the table: a header (versions,
 * config, generation, uptime, workers), the last reload, one row per
 * configured service with its down targets under it (cluster nodes
 * folded into one line under their service; services a reload removed
 * in one "removed:" line), and the health.  Every string from the
 * answer is escaped (log_escape) before it reaches a terminal.
 * Returns 0 if the answer says healthy, 1 if not, or -1 with the reason
 * in ${why} if the body is not JSON of that shape (nothing written).
 */
int status_table_print(FILE *out, const char *body, size_t len, int json,
    char *why, size_t whylen);

#endif
