#ifndef REDTUN_STATUS_H
#define REDTUN_STATUS_H

/*
 * The status endpoint: a small HTTP/1.1 server on the main loop serving
 * /metrics (Prometheus text 0.0.4), /status (JSON) and /healthz, all
 * rendered from one snapshot (struct status_snap) that the runtime builds
 * on request.  The snapshot is plain data: the renderers (status_render.c)
 * need nothing else, so they are unit-tested and fuzzed without a daemon.
 */
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "stats.h"

/* A connect target of a service, as the newest generation sees it. */
struct status_target {
	char *name;		/* "host:port" as configured */
	int state;		/* 1 up (last attempt worked), 0 down, -1 unknown */
	unsigned int backoff;	/* seconds still skipped, 0 if not */
	char *why;		/* the failure behind a back-off, or NULL */
};

/* A service (configured ones first, then cluster nodes). */
struct status_service {
	char *name;
	int configured;		/* in the configuration in force */
	int node;		/* a cluster node's generation */
	int client;		/* client = true */
	char *accept;		/* "host:port" */
	size_t listening;	/* workers listening on it now */
	size_t cluster_nodes;	/* cluster = true: nodes mapped; else 0 */
	struct status_target *targets;
	size_t ntargets;
	struct stats_cell sum;	/* counters summed over workers */
};

struct status_snap {
	const char *version;	/* PACKAGE_VERSION */
	const char *wolfssl;	/* wolfSSL version string */
	const char *libuv;	/* uv_version_string() */
	int aesni;		/* the AES-NI build */
	char *config;		/* config path */
	int format_stunnel;	/* read as a stunnel file */
	uint64_t generation;	/* 1 at start, +1 per committed reload */
	double start_time;	/* unix seconds */
	double now;		/* unix seconds */
	size_t nworkers;
	uint64_t reloads_ok, reloads_failed;
	double last_reload_time;	/* unix seconds; 0: never */
	int last_reload_ok;
	char *last_reload_error;	/* NULL when it worked or none yet */
	int reloading;		/* a reload is being prepared */
	struct status_service *svcs;
	size_t nsvcs;
	struct stats_cell global;	/* the "" entry: fd_exhaustion */
};

/* status_snap_free(s): free ${s} and everything in it; NULL-safe. */
void status_snap_free(struct status_snap *s);

/**
 * status_render_metrics(s, out, outlen):
 * status_render_json(s, out, outlen):
 * The body of /metrics (text/plain; version=0.0.4) or /status
 * (application/json) for ${s}, in a new malloc'd NUL-terminated buffer
 * (caller frees) with its length in ${*outlen}; NULL on allocation
 * failure.  Label values are escaped as the exposition format requires;
 * JSON strings are jansson's.
 */
char *status_render_metrics(const struct status_snap *s, size_t *outlen);
char *status_render_json(const struct status_snap *s, size_t *outlen);

/**
 * status_healthy(s, why, whylen):
 * 1 if every configured service is listening on every worker; else 0
 * with the reason ("[redis] not listening on 1 of 2 workers").
 */
int status_healthy(const struct status_snap *s, char *why, size_t whylen);

/*
 * What the endpoint asks for on each request (main loop): a fresh
 * snapshot (NULL on allocation failure: 500), taken from the runtime.
 */
typedef struct status_snap *status_snap_fn(void *arg);

struct status_server;

/**
 * status_server_start(loop, addr, snap, arg, why, whylen):
 * Listen on ${addr} ("host:port", an IP literal or a name resolved here,
 * blocking: call before the loops serve, or from a pool thread) and
 * serve requests on ${loop}, calling ${snap}(${arg}) per request.
 * Limits: STATUS_MAX_CLIENTS connections at once (more are closed at
 * once), a request head of at most STATUS_HEAD_MAX bytes (431), a whole
 * request within STATUS_TIMEOUT_MS (408 then close), GET and HEAD only
 * (405), exact paths only (404), one request per connection
 * (Connection: close).  Returns the server, or NULL with the reason.
 */
#define STATUS_MAX_CLIENTS	16
#define STATUS_HEAD_MAX		8192
#define STATUS_TIMEOUT_MS	5000
struct status_server *status_server_start(uv_loop_t *loop, const char *addr,
    status_snap_fn *snap, void *arg, char *why, size_t whylen);

/**
 * status_server_stop(srv):
 * Close the listener and every open status connection; the memory goes
 * after the close callbacks, so the loop must run on.  NULL-safe.
 */
void status_server_stop(struct status_server *srv);

#endif
