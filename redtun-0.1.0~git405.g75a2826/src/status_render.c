/*
 * The status endpoint's bodies, from a snapshot alone: /metrics in the
 * Prometheus text format 0.0.4, /status as JSON (jansson does the
 * escaping), and the /healthz verdict.  No I/O, no globals: unit-tested
 * over hand-built snapshots (test/unit_status.c).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stats.h"
#include "log.h"
#include "status.h"

/* ---- /metrics ------------------------------------------------------------ */

/*
 * ${v} in the shortest %g form that reads back exactly (Prometheus takes
 * any float syntax; the shortest keeps "le" labels as written in the
 * bounds table).
 */
static const char *
fmt_double(char *buf, size_t len, double v)
{
	int prec;

	if (isinf(v))
		return (v > 0 ? "+Inf" : "-Inf");
	if (isnan(v))
		return ("NaN");
	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return (buf);
	}
	snprintf(buf, len, "%.17g", v);
	return (buf);
}

/* A label value as the exposition format wants it: \\, \" and \n. */
static void
put_label(FILE *f, const char *v)
{

	for (; *v != '\0'; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* "# HELP" and "# TYPE", once per family. */
static void
family(FILE *f, const char *name, const char *type, const char *help)
{

	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * name{service="S"[,KEY="V"][,raw]} and a space: ${V} is escaped here,
 * ${raw} is label text already safe (names from the tables); either may
 * be NULL.  The caller prints the value.
 */
static void
series2(FILE *f, const char *name, const struct status_service *sv,
    const char *key, const char *v, const char *raw)
{

	fprintf(f, "%s{service=\"", name);
	put_label(f, sv->name);
	fputc('"', f);
	if (key != NULL) {
		fprintf(f, ",%s=\"", key);
		put_label(f, v);
		fputc('"', f);
	}
	if (raw != NULL)
		fprintf(f, ",%s", raw);
	fputs("} ", f);
}

static void
series(FILE *f, const char *name, const struct status_service *sv,
    const char *raw)
{

	series2(f, name, sv, NULL, NULL, raw);
}

/* A service shows in the per-service families (not the "" entry). */
static int
shown(const struct status_service *sv)
{

	return (sv->name != NULL && sv->name[0] != '\0');
}

/* One value per service: ${get}(sv) for every service shown. */
static void
per_service(FILE *f, const struct status_snap *s, const char *name,
    const char *type, const char *help,
    int64_t (*get)(const struct status_service *), int cluster_only)
{
	size_t i;

	family(f, name, type, help);
	for (i = 0; i < s->nsvcs; i++) {
		if (!shown(&s->svcs[i]) ||
		    (cluster_only && s->svcs[i].cluster_nodes == 0))
			continue;
		series(f, name, &s->svcs[i], NULL);
		fprintf(f, "%" PRId64 "\n", get(&s->svcs[i]));
	}
}

static int64_t g_listening(const struct status_service *sv)
{ return ((int64_t)sv->listening); }
static int64_t g_active(const struct status_service *sv)
{ return (sv->sum.conn_active); }
static int64_t g_total(const struct status_service *sv)
{ return ((int64_t)sv->sum.conn_total); }
static int64_t g_limit(const struct status_service *sv)
{ return ((int64_t)sv->sum.limit_rejections); }
static int64_t g_nodes(const struct status_service *sv)
{ return ((int64_t)sv->cluster_nodes); }
static int64_t g_redirects(const struct status_service *sv)
{ return ((int64_t)sv->sum.redirects_rewritten); }

/* The daemon-wide families. */
static void
render_global(FILE *f, const struct status_snap *s)
{
	char b[32];

	family(f, "redtun_build_info", "gauge",
	    "Versions of redtun and its libraries; always 1.");
	fputs("redtun_build_info{version=\"", f);
	put_label(f, s->version != NULL ? s->version : "");
	fputs("\",wolfssl=\"", f);
	put_label(f, s->wolfssl != NULL ? s->wolfssl : "");
	fputs("\",libuv=\"", f);
	put_label(f, s->libuv != NULL ? s->libuv : "");
	fprintf(f, "\",aesni=\"%s\"} 1\n", s->aesni ? "true" : "false");

	family(f, "redtun_start_time_seconds", "gauge",
	    "Start time of the process since the Unix epoch.");
	fprintf(f, "redtun_start_time_seconds %s\n",
	    fmt_double(b, sizeof(b), s->start_time));
	family(f, "redtun_workers", "gauge", "Worker loops.");
	fprintf(f, "redtun_workers %zu\n", s->nworkers);
	family(f, "redtun_config_generation", "gauge",
	    "Configuration generation: 1 at start, +1 per committed reload.");
	fprintf(f, "redtun_config_generation %" PRIu64 "\n", s->generation);

	family(f, "redtun_reloads_total", "counter", "Reloads by result.");
	fprintf(f, "redtun_reloads_total{result=\"ok\"} %" PRIu64 "\n",
	    s->reloads_ok);
	fprintf(f, "redtun_reloads_total{result=\"failed\"} %" PRIu64 "\n",
	    s->reloads_failed);
	family(f, "redtun_last_reload_timestamp_seconds", "gauge",
	    "Time of the last reload since the Unix epoch; 0 if none.");
	fprintf(f, "redtun_last_reload_timestamp_seconds %s\n",
	    fmt_double(b, sizeof(b), s->last_reload_time));
	family(f, "redtun_last_reload_success", "gauge",
	    "1 if the last reload worked (or there was none), else 0.");
	fprintf(f, "redtun_last_reload_success %d\n",
	    s->last_reload_time == 0 || s->last_reload_ok ? 1 : 0);

	family(f, "redtun_fd_exhaustion_total", "counter",
	    "Episodes of running out of file descriptors.");
	fprintf(f, "redtun_fd_exhaustion_total %" PRIu64 "\n",
	    s->global.fd_exhaustion);
}

/* Families with labels beyond "service". */
static void
render_labelled(FILE *f, const struct status_snap *s)
{
	const struct status_service *sv;
	char lab[128], b[32];
	uint64_t cum;
	size_t i, j, r;
	int k;

	family(f, "redtun_bytes_total", "counter",
	    "Bytes relayed, by direction.");
	for (i = 0; i < s->nsvcs; i++) {
		if (!shown(sv = &s->svcs[i]))
			continue;
		for (k = 0; k < ST_DIR_N; k++) {
			snprintf(lab, sizeof(lab), "direction=\"%s\"",
			    stats_dir_names[k]);
			series(f, "redtun_bytes_total", sv, lab);
			fprintf(f, "%" PRIu64 "\n", sv->sum.bytes[k]);
		}
	}

	family(f, "redtun_handshakes_total", "counter",
	    "TLS handshakes by result, version and resumption.");
	for (i = 0; i < s->nsvcs; i++) {
		if (!shown(sv = &s->svcs[i]))
			continue;
		for (k = 0; k < ST_TLSV_N; k++)
			for (r = 0; r < 2; r++) {
				snprintf(lab, sizeof(lab), "result=\"ok\","
				    "tls_version=\"%s\",resumed=\"%s\"",
				    stats_tlsver_names[k],
				    r ? "true" : "false");
				series(f, "redtun_handshakes_total", sv, lab);
				fprintf(f, "%" PRIu64 "\n",
				    sv->sum.handshakes[k][r]);
			}
		series(f, "redtun_handshakes_total", sv, "result=\"failed\","
		    "tls_version=\"unknown\",resumed=\"false\"");
		fprintf(f, "%" PRIu64 "\n", sv->sum.handshakes_failed);
	}

	family(f, "redtun_handshake_failures_total", "counter",
	    "Connections that failed before relaying, by reason.");
	for (i = 0; i < s->nsvcs; i++) {
		if (!shown(sv = &s->svcs[i]))
			continue;
		for (k = 0; k < ST_FAIL_N; k++) {
			snprintf(lab, sizeof(lab), "reason=\"%s\"",
			    stats_fail_names[k]);
			series(f, "redtun_handshake_failures_total", sv, lab);
			fprintf(f, "%" PRIu64 "\n", sv->sum.fail[k]);
		}
	}

	family(f, "redtun_upstream_connect_seconds", "histogram",
	    "Time to connect (TCP) to an upstream target.");
	for (i = 0; i < s->nsvcs; i++) {
		if (!shown(sv = &s->svcs[i]))
			continue;
		/* The cells count per bucket; Prometheus wants running sums. */
		cum = 0;
		for (j = 0; j <= ST_CONNECT_BUCKETS; j++) {
			cum += sv->sum.connect_bucket[j];
			snprintf(lab, sizeof(lab), "le=\"%s\"",
			    j < ST_CONNECT_BUCKETS ? fmt_double(b, sizeof(b),
			    stats_connect_bounds[j]) : "+Inf");
			series(f, "redtun_upstream_connect_seconds_bucket", sv,
			    lab);
			fprintf(f, "%" PRIu64 "\n", cum);
		}
		series(f, "redtun_upstream_connect_seconds_sum", sv, NULL);
		fprintf(f, "%s\n", fmt_double(b, sizeof(b),
		    (double)sv->sum.connect_usec_sum / 1e6));
		series(f, "redtun_upstream_connect_seconds_count", sv, NULL);
		fprintf(f, "%" PRIu64 "\n", sv->sum.connect_count);
	}

	family(f, "redtun_target_up", "gauge",
	    "1 if the last attempt on the target worked, else 0.");
	for (i = 0; i < s->nsvcs; i++) {
		if (!shown(sv = &s->svcs[i]))
			continue;
		for (j = 0; j < sv->ntargets; j++)
			if (sv->targets[j].state >= 0) {
				series2(f, "redtun_target_up", sv, "target",
				    sv->targets[j].name, NULL);
				fprintf(f, "%d\n", sv->targets[j].state > 0);
			}
	}
	family(f, "redtun_target_backoff_seconds", "gauge",
	    "Seconds the target is still skipped after failures.");
	for (i = 0; i < s->nsvcs; i++) {
		if (!shown(sv = &s->svcs[i]))
			continue;
		for (j = 0; j < sv->ntargets; j++) {
			series2(f, "redtun_target_backoff_seconds", sv,
			    "target", sv->targets[j].name, NULL);
			fprintf(f, "%u\n", sv->targets[j].backoff);
		}
	}

	family(f, "redtun_pool_connections", "gauge",
	    "Idle upstream connections held, by kind.");
	for (i = 0; i < s->nsvcs; i++) {
		if (!shown(sv = &s->svcs[i]))
			continue;
		for (k = 0; k < ST_POOL_N; k++) {
			snprintf(lab, sizeof(lab), "kind=\"%s\"",
			    stats_pool_names[k]);
			series(f, "redtun_pool_connections", sv, lab);
			fprintf(f, "%" PRId64 "\n", sv->sum.pool[k]);
		}
	}
	family(f, "redtun_reuse_total", "counter",
	    "Upstream connections kept, reused or discarded after a client.");
	for (i = 0; i < s->nsvcs; i++) {
		if (!shown(sv = &s->svcs[i]))
			continue;
		for (k = 0; k < ST_REUSE_N; k++) {
			snprintf(lab, sizeof(lab), "result=\"%s\"",
			    stats_reuse_names[k]);
			series(f, "redtun_reuse_total", sv, lab);
			fprintf(f, "%" PRIu64 "\n", sv->sum.reuse[k]);
		}
	}
}

/**
 * status_render_metrics(s, outlen):
 * See status.h.  Families are contiguous, each with HELP and TYPE; every
 * service but the daemon-wide "" entry is listed, removed ones included,
 * so that counters stay monotonic.
 */
char *
status_render_metrics(const struct status_snap *s, size_t *outlen)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0;
	int bad;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return (NULL);
	render_global(f, s);
	per_service(f, s, "redtun_service_listening", "gauge",
	    "Workers listening for the service.", g_listening, 0);
	per_service(f, s, "redtun_connections_active", "gauge",
	    "Client connections open now.", g_active, 0);
	per_service(f, s, "redtun_connections_total", "counter",
	    "Client connections accepted.", g_total, 0);
	per_service(f, s, "redtun_limit_rejections_total", "counter",
	    "Connections shed by maxConnections or lack of descriptors.",
	    g_limit, 0);
	render_labelled(f, s);
	per_service(f, s, "redtun_cluster_nodes", "gauge",
	    "Cluster nodes mapped to local ports.", g_nodes, 1);
	per_service(f, s, "redtun_cluster_redirects_rewritten_total",
	    "counter", "Cluster MOVED/ASK and topology replies rewritten.",
	    g_redirects, 1);
	bad = ferror(f);
	if (fclose(f) != 0 || bad || buf == NULL) {
		free(buf);
		return (NULL);
	}
	*outlen = len;
	return (buf);
}

/* ---- /status -------------------------------------------------------------- */

/*
 * Builders that remember a failure instead of checking every call: a NULL
 * value (jansson's allocation failure) makes the object set fail, which
 * sets ${*bad}.
 */
static void
put(json_t *o, const char *k, json_t *v, int *bad)
{

	if (json_object_set_new(o, k, v) != 0)
		*bad = 1;
}

static void
add(json_t *a, json_t *v, int *bad)
{

	if (json_array_append_new(a, v) != 0)
		*bad = 1;
}

static json_t *
jint(uint64_t v)
{

	return (json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v));
}

static json_t *
jstr(const char *v)
{
	char buf[1024];
	json_t *j;

	if (v == NULL)
		return (json_null());
	/* Not UTF-8 (a Latin-1 path in an error, say): escaped, not a 500. */
	if ((j = json_string(v)) == NULL)
		j = json_string(log_escape(buf, sizeof(buf), v, strlen(v)));
	return (j);
}

static json_t *
target_json(const struct status_target *t, int *bad)
{
	json_t *o;

	if ((o = json_object()) == NULL) {
		*bad = 1;
		return (NULL);
	}
	put(o, "name", jstr(t->name), bad);
	put(o, "state", json_string(t->state > 0 ? "up" : t->state == 0 ?
	    "down" : "unknown"), bad);
	put(o, "backoff_seconds", jint(t->backoff), bad);
	put(o, "last_error", jstr(t->why), bad);
	return (o);
}

static json_t *
service_json(const struct status_service *sv, int *bad)
{
	const struct stats_cell *c = &sv->sum;
	json_t *o, *x;
	uint64_t resumed = 0, ok = 0, v[ST_TLSV_N] = { 0 };
	size_t i;
	int k;

	if ((o = json_object()) == NULL) {
		*bad = 1;
		return (NULL);
	}
	put(o, "name", jstr(sv->name), bad);
	put(o, "configured", json_boolean(sv->configured), bad);
	put(o, "node", json_boolean(sv->node), bad);
	put(o, "mode", json_string(sv->client ? "client" : "server"), bad);
	put(o, "accept", jstr(sv->accept), bad);
	put(o, "listening_workers", jint(sv->listening), bad);

	if ((x = json_object()) != NULL) {
		put(x, "active", json_integer(c->conn_active), bad);
		put(x, "total", jint(c->conn_total), bad);
	}
	put(o, "connections", x, bad);
	if ((x = json_object()) != NULL)
		for (k = 0; k < ST_DIR_N; k++)
			put(x, stats_dir_names[k], jint(c->bytes[k]), bad);
	put(o, "bytes", x, bad);

	for (k = 0; k < ST_TLSV_N; k++) {
		v[k] = c->handshakes[k][0] + c->handshakes[k][1];
		ok += v[k];
		resumed += c->handshakes[k][1];
	}
	if ((x = json_object()) != NULL) {
		put(x, "ok", jint(ok), bad);
		put(x, "resumed", jint(resumed), bad);
		put(x, "failed", jint(c->handshakes_failed), bad);
		put(x, "tls12", jint(v[ST_TLS12]), bad);
		put(x, "tls13", jint(v[ST_TLS13]), bad);
	}
	put(o, "handshakes", x, bad);
	if ((x = json_object()) != NULL)
		for (k = 0; k < ST_FAIL_N; k++)
			put(x, stats_fail_names[k], jint(c->fail[k]), bad);
	put(o, "failures", x, bad);
	if ((x = json_object()) != NULL)
		for (k = 0; k < ST_POOL_N; k++)
			put(x, stats_pool_names[k],
			    json_integer(c->pool[k]), bad);
	put(o, "pool", x, bad);
	if ((x = json_object()) != NULL)
		for (k = 0; k < ST_REUSE_N; k++)
			put(x, stats_reuse_names[k], jint(c->reuse[k]), bad);
	put(o, "reuse", x, bad);
	put(o, "limit_rejections", jint(c->limit_rejections), bad);
	put(o, "cluster_nodes", jint(sv->cluster_nodes), bad);
	put(o, "redirects_rewritten", jint(c->redirects_rewritten), bad);

	if ((x = json_array()) != NULL)
		for (i = 0; i < sv->ntargets; i++)
			add(x, target_json(&sv->targets[i], bad), bad);
	put(o, "targets", x, bad);
	return (o);
}

/**
 * status_render_json(s, outlen):
 * See status.h; the shape is docs/redtun.conf.5's (and `redtun status`
 * reads it).  One line, with a final newline.
 */
char *
status_render_json(const struct status_snap *s, size_t *outlen)
{
	json_t *o, *x;
	char *txt, *buf = NULL, why[256];
	size_t i, len;
	int bad = 0, healthy;

	if ((o = json_object()) == NULL)
		return (NULL);
	put(o, "version", jstr(s->version), &bad);
	put(o, "wolfssl", jstr(s->wolfssl), &bad);
	put(o, "libuv", jstr(s->libuv), &bad);
	put(o, "aesni", json_boolean(s->aesni), &bad);
	put(o, "config", jstr(s->config), &bad);
	put(o, "format", json_string(s->format_stunnel ? "stunnel" :
	    "libconfig"), &bad);
	put(o, "generation", jint(s->generation), &bad);
	put(o, "start_time", jint((uint64_t)s->start_time), &bad);
	put(o, "uptime_seconds", json_real(s->now > s->start_time ?
	    s->now - s->start_time : 0), &bad);
	put(o, "workers", jint(s->nworkers), &bad);

	if ((x = json_object()) != NULL) {
		put(x, "ok", jint(s->reloads_ok), &bad);
		put(x, "failed", jint(s->reloads_failed), &bad);
		put(x, "last_time", s->last_reload_time > 0 ?
		    jint((uint64_t)s->last_reload_time) : json_null(), &bad);
		put(x, "last_ok", s->last_reload_time > 0 ?
		    json_boolean(s->last_reload_ok) : json_null(), &bad);
		put(x, "last_error", jstr(s->last_reload_error), &bad);
		put(x, "in_progress", json_boolean(s->reloading), &bad);
	}
	put(o, "reloads", x, &bad);

	healthy = status_healthy(s, why, sizeof(why));
	put(o, "healthy", json_boolean(healthy), &bad);
	put(o, "health_reason", healthy ? json_null() : json_string(why),
	    &bad);
	put(o, "fd_exhaustion", jint(s->global.fd_exhaustion), &bad);

	if ((x = json_array()) != NULL)
		for (i = 0; i < s->nsvcs; i++)
			if (shown(&s->svcs[i]))
				add(x, service_json(&s->svcs[i], &bad), &bad);
	put(o, "services", x, &bad);

	txt = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (txt == NULL)
		return (NULL);
	len = strlen(txt);
	if ((buf = malloc(len + 2)) != NULL) {
		memcpy(buf, txt, len);
		buf[len++] = '\n';
		buf[len] = '\0';
		*outlen = len;
	}
	free(txt);
	return (buf);
}

/* ---- /healthz ------------------------------------------------------------- */

/**
 * status_healthy(s, why, whylen):
 * See status.h.  The reason names the first service short of workers and
 * how many more are.
 */
int
status_healthy(const struct status_snap *s, char *why, size_t whylen)
{
	const struct status_service *first = NULL, *sv;
	size_t i, more = 0;

	for (i = 0; i < s->nsvcs; i++) {
		sv = &s->svcs[i];
		if (!shown(sv) || !sv->configured || sv->listening >= s->nworkers)
			continue;
		if (first == NULL)
			first = sv;
		else
			more++;
	}
	if (first == NULL) {
		if (whylen > 0)
			why[0] = '\0';
		return (1);
	}
	if (more > 0)
		snprintf(why, whylen, "[%s] not listening on %zu of %zu workers"
		    " (and %zu more services)", first->name,
		    s->nworkers - first->listening, s->nworkers, more);
	else
		snprintf(why, whylen, "[%s] not listening on %zu of %zu workers",
		    first->name, s->nworkers - first->listening, s->nworkers);
	return (0);
}
