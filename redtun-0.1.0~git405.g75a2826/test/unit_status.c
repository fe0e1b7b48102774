/*
 * The status endpoint without a daemon: the request reader's verdicts
 * (src/status_req.c) and the renderers (src/status_render.c) over
 * hand-built snapshots: label escaping, the cumulative histogram, the
 * JSON read back with jansson, the health reasons.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stats.h"
#include "status.h"
#include "status_req.h"
#include "unit_check.h"

/* The verdict of ${req} fed whole and one byte at a time (must agree). */
static int
verdict(const char *req, int *route)
{
	struct status_req a, b;
	size_t i, n = strlen(req);
	int va, vb = 0;

	status_req_init(&a);
	va = status_req_feed(&a, req, n);
	status_req_init(&b);
	for (i = 0; i < n; i++)
		vb = status_req_feed(&b, req + i, 1);
	CHECK(va == vb);
	if (route != NULL)
		*route = a.route;
	return (va);
}

static void
test_requests(void)
{
	char *big;
	int route;

	CHECK(verdict("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &route) == 200);
	CHECK(route == STATUS_ROUTE_METRICS);
	CHECK(verdict("GET /status HTTP/1.0\r\n\r\n", &route) == 200);
	CHECK(route == STATUS_ROUTE_STATUS);
	CHECK(verdict("HEAD /healthz?verbose=1 HTTP/1.1\r\n\r\n", &route) == 200);
	CHECK(route == STATUS_ROUTE_HEALTHZ);
	CHECK(verdict("GET /metrics HTTP/1.1\r\n", NULL) == 0);
	CHECK(verdict("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	    NULL) == 405);
	CHECK(verdict("DELETE /status HTTP/1.1\r\n\r\n", NULL) == 405);
	CHECK(verdict("GET /metrics/ HTTP/1.1\r\n\r\n", NULL) == 404);
	CHECK(verdict("GET //metrics HTTP/1.1\r\n\r\n", NULL) == 404);
	CHECK(verdict("GET /../metrics HTTP/1.1\r\n\r\n", NULL) == 404);
	CHECK(verdict("GET /%6detrics HTTP/1.1\r\n\r\n", NULL) == 404);
	CHECK(verdict("GET /metricsx HTTP/1.1\r\n\r\n", NULL) == 404);
	CHECK(verdict("GET http://h/metrics HTTP/1.1\r\n\r\n", NULL) == 404);
	CHECK(verdict("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaa HTTP/1.1\r\n\r\n", NULL) == 404);
	CHECK(verdict("\x16\x03\x01\x00\x05hello\r\n\r\n", NULL) == 400);
	CHECK(verdict("GET /metrics HTTP/2.0\r\n\r\n", NULL) == 400);
	CHECK(verdict("GET /metrics\r\n\r\n", NULL) == 400);
	/* Pipelined: the first request decides, the rest is not read. */
	CHECK(verdict("GET /metrics HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\n\r\n",
	    &route) == 200 && route == STATUS_ROUTE_METRICS);

	/* The head cap: 8192 bytes may end a head, one more may not. */
	if ((big = malloc(STATUS_HEAD_MAX + 2)) == NULL)
		abort();
	memset(big, 'a', STATUS_HEAD_MAX + 1);
	memcpy(big, "GET /status HTTP/1.1\r\nX: ", 25);
	memcpy(big + STATUS_HEAD_MAX - 4, "\r\n\r\n", 5);
	CHECK(verdict(big, NULL) == 200);
	memset(big + STATUS_HEAD_MAX - 4, 'a', 4);
	memcpy(big + STATUS_HEAD_MAX - 3, "\r\n\r\n", 5);
	CHECK(verdict(big, NULL) == 431);
	free(big);
}

/* A snapshot with two services; the caller frees it with snap_free. */
static struct status_snap *
snap_new(void)
{
	struct status_snap *s;
	struct status_service *sv;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->svcs = calloc(3, sizeof(*s->svcs))) == NULL)
		abort();
	s->version = "1.2.3";
	s->wolfssl = "5.7.4";
	s->libuv = "1.48.0";
	s->aesni = 1;
	s->config = strdup("/etc/redtun/redtun.conf");
	s->generation = 3;
	s->start_time = 1700000000.5;
	s->now = 1700000010.5;
	s->nworkers = 2;
	s->reloads_ok = 2;
	s->reloads_failed = 1;
	s->last_reload_time = 1700000005;
	s->last_reload_ok = 0;
	s->last_reload_error = strdup("/etc/redtun/redtun.conf:7: syntax error");
	s->global.fd_exhaustion = 4;
	s->nsvcs = 3;

	sv = &s->svcs[0];
	sv->name = strdup("re\"d\\is\nx");
	sv->configured = 1;
	sv->client = 1;
	sv->accept = strdup("127.0.0.1:6380");
	sv->listening = 2;
	sv->ntargets = 2;
	if ((sv->targets = calloc(2, sizeof(*sv->targets))) == NULL)
		abort();
	sv->targets[0].name = strdup("cache-a:6379");
	sv->targets[0].state = 1;
	sv->targets[1].name = strdup("cache-\"b\":6379");
	sv->targets[1].state = 0;
	sv->targets[1].backoff = 7;
	sv->targets[1].why = strdup("connection refused");
	sv->sum.conn_total = 10;
	sv->sum.conn_active = 2;
	sv->sum.bytes[ST_TO_SERVER] = 100;
	sv->sum.bytes[ST_TO_CLIENT] = 200;
	sv->sum.handshakes[ST_TLS13][0] = 5;
	sv->sum.handshakes[ST_TLS13][1] = 3;
	sv->sum.handshakes[ST_TLS12][0] = 1;
	sv->sum.handshakes_failed = 2;
	sv->sum.fail[ST_FAIL_HOSTNAME] = 2;
	sv->sum.connect_bucket[0] = 1;
	sv->sum.connect_bucket[2] = 2;
	sv->sum.connect_bucket[ST_CONNECT_BUCKETS] = 1;
	sv->sum.connect_usec_sum = 3500000;
	sv->sum.connect_count = 4;
	sv->sum.reuse[ST_REUSE_KEPT] = 6;

	sv = &s->svcs[1];
	sv->name = strdup("cluster");
	sv->configured = 1;
	sv->accept = strdup("[::1]:7000");
	sv->listening = 1;
	sv->cluster_nodes = 6;
	sv->sum.redirects_rewritten = 9;

	sv = &s->svcs[2];	/* the daemon-wide entry: never a service */
	sv->name = strdup("");
	return (s);
}

static void
snap_free(struct status_snap *s)
{
	size_t i, j;

	for (i = 0; i < s->nsvcs; i++) {
		for (j = 0; j < s->svcs[i].ntargets; j++) {
			free(s->svcs[i].targets[j].name);
			free(s->svcs[i].targets[j].why);
		}
		free(s->svcs[i].targets);
		free(s->svcs[i].name);
		free(s->svcs[i].accept);
	}
	free(s->svcs);
	free(s->config);
	free(s->last_reload_error);
	free(s);
}

static int
has(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	/* ${line} as a whole line of ${text}. */
	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return (1);
		p++;
	}
	fprintf(stderr, "missing line: %s\n", line);
	return (0);
}

static size_t
count(const char *text, const char *needle)
{
	size_t n = 0;

	for (; (text = strstr(text, needle)) != NULL; text++)
		n++;
	return (n);
}

static void
test_metrics(void)
{
	struct status_snap *s = snap_new();
	const char *svc = "service=\"re\\\"d\\\\is\\nx\"";
	char line[256], *m;
	size_t len;

	if ((m = status_render_metrics(s, &len)) == NULL)
		abort();
	CHECK(strlen(m) == len && len > 0 && m[len - 1] == '\n');
	CHECK(has(m, "redtun_build_info{version=\"1.2.3\",wolfssl=\"5.7.4\","
	    "libuv=\"1.48.0\",aesni=\"true\"} 1"));
	CHECK(has(m, "redtun_start_time_seconds 1700000000.5"));
	CHECK(has(m, "redtun_config_generation 3"));
	CHECK(has(m, "redtun_reloads_total{result=\"failed\"} 1"));
	CHECK(has(m, "redtun_last_reload_success 0"));
	CHECK(has(m, "redtun_fd_exhaustion_total 4"));
	/* Escaped names: ", \ and newline. */
	snprintf(line, sizeof(line), "redtun_connections_total{%s} 10", svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_target_up{%s,"
	    "target=\"cache-\\\"b\\\":6379\"} 0", svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_target_backoff_seconds{%s,"
	    "target=\"cache-\\\"b\\\":6379\"} 7", svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_handshakes_total{%s,result=\"ok\","
	    "tls_version=\"TLSv1.3\",resumed=\"true\"} 3", svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_handshakes_total{%s,"
	    "result=\"failed\",tls_version=\"unknown\",resumed=\"false\"} 2",
	    svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_handshake_failures_total{%s,"
	    "reason=\"hostname\"} 2", svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_handshake_failures_total{%s,"
	    "reason=\"dns\"} 0", svc);
	CHECK(has(m, line));
	/* The histogram: running sums, +Inf = count. */
	snprintf(line, sizeof(line), "redtun_upstream_connect_seconds_bucket{%s,"
	    "le=\"0.0005\"} 1", svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_upstream_connect_seconds_bucket{%s,"
	    "le=\"0.001\"} 1", svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_upstream_connect_seconds_bucket{%s,"
	    "le=\"0.0025\"} 3", svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_upstream_connect_seconds_bucket{%s,"
	    "le=\"2.5\"} 3", svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_upstream_connect_seconds_bucket{%s,"
	    "le=\"+Inf\"} 4", svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_upstream_connect_seconds_sum{%s} 3.5",
	    svc);
	CHECK(has(m, line));
	snprintf(line, sizeof(line), "redtun_upstream_connect_seconds_count{%s} 4",
	    svc);
	CHECK(has(m, line));
	/* Cluster families only for cluster services; no "" service. */
	CHECK(has(m, "redtun_cluster_nodes{service=\"cluster\"} 6"));
	CHECK(has(m, "redtun_cluster_redirects_rewritten_total"
	    "{service=\"cluster\"} 9"));
	CHECK(count(m, "redtun_cluster_nodes{") == 1);
	CHECK(strstr(m, "service=\"\"") == NULL);
	/* Each family announced once. */
	CHECK(count(m, "# TYPE redtun_connections_total counter\n") == 1);
	CHECK(count(m, "# TYPE redtun_upstream_connect_seconds histogram\n")
	    == 1);
	CHECK(count(m, "# HELP ") == count(m, "# TYPE "));
	free(m);
	snap_free(s);
}

static void
test_json(void)
{
	struct status_snap *s = snap_new();
	json_error_t err;
	json_t *j, *sv, *t;
	char *txt;
	size_t len;

	if ((txt = status_render_json(s, &len)) == NULL)
		abort();
	CHECK(strlen(txt) == len && txt[len - 1] == '\n');
	j = json_loads(txt, 0, &err);
	CHECK(j != NULL);
	if (j == NULL) {
		fprintf(stderr, "%s\n%s\n", err.text, txt);
		return;
	}
	CHECK(json_integer_value(json_object_get(j, "generation")) == 3);
	CHECK(json_integer_value(json_object_get(j, "workers")) == 2);
	CHECK(json_real_value(json_object_get(j, "uptime_seconds")) == 10.0);
	CHECK(strcmp(json_string_value(json_object_get(j, "format")),
	    "libconfig") == 0);
	CHECK(json_is_true(json_object_get(j, "aesni")));
	t = json_object_get(j, "reloads");
	CHECK(json_integer_value(json_object_get(t, "failed")) == 1);
	CHECK(json_is_false(json_object_get(t, "last_ok")));
	CHECK(strstr(json_string_value(json_object_get(t, "last_error")),
	    "redtun.conf:7") != NULL);
	/* cluster listens on 1 of 2 workers. */
	CHECK(json_is_false(json_object_get(j, "healthy")));
	CHECK(strcmp(json_string_value(json_object_get(j, "health_reason")),
	    "[cluster] not listening on 1 of 2 workers") == 0);
	CHECK(json_array_size(json_object_get(j, "services")) == 2);
	sv = json_array_get(json_object_get(j, "services"), 0);
	CHECK(strcmp(json_string_value(json_object_get(sv, "name")),
	    "re\"d\\is\nx") == 0);
	CHECK(strcmp(json_string_value(json_object_get(sv, "mode")),
	    "client") == 0);
	CHECK(json_integer_value(json_object_get(json_object_get(sv,
	    "handshakes"), "ok")) == 9);
	CHECK(json_integer_value(json_object_get(json_object_get(sv,
	    "handshakes"), "resumed")) == 3);
	CHECK(json_integer_value(json_object_get(json_object_get(sv,
	    "handshakes"), "tls13")) == 8);
	CHECK(json_integer_value(json_object_get(json_object_get(sv,
	    "failures"), "hostname")) == 2);
	CHECK(json_object_size(json_object_get(sv, "failures")) == ST_FAIL_N);
	t = json_array_get(json_object_get(sv, "targets"), 1);
	CHECK(strcmp(json_string_value(json_object_get(t, "state")),
	    "down") == 0);
	CHECK(json_integer_value(json_object_get(t, "backoff_seconds")) == 7);
	CHECK(strcmp(json_string_value(json_object_get(t, "last_error")),
	    "connection refused") == 0);
	CHECK(json_is_null(json_object_get(json_array_get(json_object_get(sv,
	    "targets"), 0), "last_error")));
	json_decref(j);
	free(txt);
	snap_free(s);
}

static void
test_health(void)
{
	struct status_snap *s = snap_new();
	char why[128];

	CHECK(status_healthy(s, why, sizeof(why)) == 0);
	CHECK(strcmp(why, "[cluster] not listening on 1 of 2 workers") == 0);
	s->svcs[0].listening = 0;
	CHECK(status_healthy(s, why, sizeof(why)) == 0);
	CHECK(strstr(why, "(and 1 more services)") != NULL);
	s->svcs[0].listening = 2;
	s->svcs[1].listening = 2;
	CHECK(status_healthy(s, why, sizeof(why)) == 1);
	/* A service no longer configured does not count. */
	s->svcs[1].listening = 0;
	s->svcs[1].configured = 0;
	CHECK(status_healthy(s, why, sizeof(why)) == 1);
	snap_free(s);
}

/* A string that is not UTF-8 (a Latin-1 path in an error) is escaped,
 * not a failed render (a 500 until it changes). */
static void
test_json_latin1(void)
{
	struct status_snap *s = snap_new();
	json_t *j, *r;
	char *txt;
	size_t len;

	free(s->last_reload_error);
	s->last_reload_error = strdup("/etc/caf\xe9.conf:1: syntax error");
	txt = status_render_json(s, &len);
	CHECK(txt != NULL);
	if (txt != NULL) {
		j = json_loads(txt, 0, NULL);
		CHECK(j != NULL);
		r = json_object_get(json_object_get(j, "reloads"), "last_error");
		CHECK(json_is_string(r) && strstr(json_string_value(r),
		    "caf\\xe9.conf") != NULL);
		json_decref(j);
		free(txt);
	}
	snap_free(s);
}

int
main(void)
{

	test_requests();
	test_json_latin1();
	test_metrics();
	test_json();
	test_health();
	if (failures != 0) {
		fprintf(stderr, "unit_status: %d failures\n", failures);
		return (1);
	}
	printf("unit_status: ok\n");
	return (0);
}
