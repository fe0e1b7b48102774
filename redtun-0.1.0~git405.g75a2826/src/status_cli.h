#ifndef REDTUN_STATUS_CLI_H
#define REDTUN_STATUS_CLI_H

/*
 * "redtun status": ask a running daemon's status endpoint for /status and
 * show it.  The exit status is the answer for scripts:
 */
#include <stddef.h>

#define STATUS_CLI_HEALTHY	0	/* every service listens */
#define STATUS_CLI_UNHEALTHY	1	/* the daemon says why */
#define STATUS_CLI_UNREACHABLE	2	/* no daemon, or a bad answer */
#define STATUS_CLI_CONFIG	3	/* no configuration, or no status */

/* Where "redtun status" looks without a CONFIG argument. */
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define STATUS_CLI_DEFAULT_CONFIG	SYSCONFDIR "/redtun/redtun.conf"

/* The most of an answer read (head and body). */
#define STATUS_CLI_MAX		(4 * 1024 * 1024)
/* Seconds for the connect, and again for the whole request and answer. */
#define STATUS_CLI_TIMEOUT	3

/**
 * status_cli(config, json, format):
 * Read ${config} (conf_load, ${format} as --format), take its status
 * address, GET /status from it and print the answer to stdout: the JSON,
 * indented, if ${json}, else a table for humans.  Problems go to stderr,
 * naming the address.  Returns one of the STATUS_CLI_* exit statuses.
 */
int status_cli(const char *config, int json, int format);

/**
 * status_cli_answer(buf, len, body, bodylen, why, whylen):
 * Split the HTTP/1.x answer ${buf} (${len} bytes, read to EOF) into its
 * body (${*body}, pointing into ${buf}, and ${*bodylen}).  Returns 0 for a
 * 200 answer whose length agrees with any Content-Length; else -1 with the
 * reason ("answered 404 Not Found", "not HTTP") in ${why}, peer text
 * escaped.
 */
int status_cli_answer(const char *buf, size_t len, const char **body,
    size_t *bodylen, char *why, size_t whylen);

#endif
