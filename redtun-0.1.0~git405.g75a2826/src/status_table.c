/*
 * /status's JSON as a table for "redtun status".  The answer comes from a
 * daemon that copies peer text into it (target errors), so every string
 * is escaped on its way to the terminal, and every field is optional
 * except "healthy" and "services": a newer or older daemon still prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "status_table.h"

/* Columns of the service table. */
enum { C_NAME, C_MODE, C_ACCEPT, C_LISTEN, C_ACTIVE, C_TOTAL, C_FAILED,
    C_TARGETS, NCOL };
static const char *const heads[NCOL] = {
	"SERVICE", "MODE", "ACCEPT", "LISTEN", "ACTIVE", "TOTAL", "FAILED",
	"TARGETS"
};
/* Numbers are right-aligned. */
static const int right[NCOL] = { 0, 0, 0, 0, 1, 1, 1, 0 };
#define CELL	160

/* ${o}.${key} as escaped text, or ${dflt} when absent or not a string. */
static const char *
str(json_t *o, const char *key, char *buf, size_t len,
    const char *dflt)
{
	json_t *v = json_object_get(o, key);
	const char *s;

	if (!json_is_string(v))
		return (dflt);
	s = json_string_value(v);
	return (log_escape(buf, len, s, json_string_length(v)));
}

/* ${o}.${key} as a number (integer or real), 0 when absent. */
static double
num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return (json_is_number(v) ? json_number_value(v) : 0);
}

static long long
inum(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return ((long long)json_integer_value(v));
	return ((long long)num(o, key));
}

static int
flag(json_t *o, const char *key)
{

	return (json_is_true(json_object_get(o, key)));
}

/* "3d04h", "2h03m", "12m05s", "45s". */
static void
duration(char *buf, size_t len, double secs)
{
	unsigned long long s = secs > 0 ? (unsigned long long)secs : 0;

	if (s >= 86400)
		snprintf(buf, len, "%llud%02lluh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(buf, len, "%llus", s);
}

/* The sum of every reason in ${svc}.failures. */
static long long
failures(json_t *svc)
{
	json_t *f = json_object_get(svc, "failures"), *v;
	const char *k;
	long long n = 0;

	json_object_foreach(f, k, v) {
		(void)k;
		if (json_is_integer(v))
			n += (long long)json_integer_value(v);
	}
	return (n);
}

/* A configured service of the table (not a node, not removed). */
static int
is_row(json_t *svc)
{

	return (json_is_object(svc) && flag(svc, "configured") &&
	    !flag(svc, "node"));
}

/* Is ${node} one of ${parent}'s cluster nodes ("parent@host:port")? */
static int
node_of(json_t *node, const char *parent)
{
	const char *n = json_string_value(json_object_get(node, "name"));
	size_t pl = strlen(parent);

	return (json_is_object(node) && flag(node, "node") && n != NULL &&
	    strncmp(n, parent, pl) == 0 && n[pl] == '@');
}

/* A text cell: ${o}.${key} escaped, or "?". */
static void
cell(char buf[CELL], json_t *o, const char *key)
{

	if (str(o, key, buf, CELL, NULL) == NULL)
		snprintf(buf, CELL, "?");
}

static void
row_cells(json_t *svc, long long workers, char cells[NCOL][CELL])
{
	json_t *conns = json_object_get(svc, "connections");
	json_t *ts = json_object_get(svc, "targets"), *t;
	size_t i, up = 0, untried = 0;

	cell(cells[C_NAME], svc, "name");
	cell(cells[C_MODE], svc, "mode");
	cell(cells[C_ACCEPT], svc, "accept");
	snprintf(cells[C_LISTEN], CELL, "%lld/%lld",
	    inum(svc, "listening_workers"), workers);
	snprintf(cells[C_ACTIVE], CELL, "%lld", inum(conns, "active"));
	snprintf(cells[C_TOTAL], CELL, "%lld", inum(conns, "total"));
	snprintf(cells[C_FAILED], CELL, "%lld", failures(svc));
	json_array_foreach(ts, i, t) {
		const char *st = json_string_value(json_object_get(t, "state"));

		if (st != NULL && strcmp(st, "up") == 0)
			up++;
		else if (st != NULL && strcmp(st, "unknown") == 0)
			untried++;
	}
	/* Unknown: not tried since start (or the reload that added it). */
	if (untried > 0)
		snprintf(cells[C_TARGETS], CELL, "%zu/%zu up, %zu untried", up,
		    json_array_size(ts), untried);
	else
		snprintf(cells[C_TARGETS], CELL, "%zu/%zu up", up,
		    json_array_size(ts));
}

/* "  down: host:port (back-off 12 s: refused)" for each down target. */
static void
down_lines(FILE *out, json_t *svc)
{
	json_t *t;
	char name[CELL], err[512];
	const char *st, *e;
	long long bo;
	size_t i;

	json_array_foreach(json_object_get(svc, "targets"), i, t) {
		st = json_string_value(json_object_get(t, "state"));
		if (st == NULL || strcmp(st, "down") != 0)
			continue;
		bo = inum(t, "backoff_seconds");
		e = str(t, "last_error", err, sizeof(err), NULL);
		fprintf(out, "  down: %s", str(t, "name", name, sizeof(name),
		    "?"));
		if (bo > 0 && e != NULL)
			fprintf(out, " (back-off %lld s: %s)\n", bo, e);
		else if (bo > 0)
			fprintf(out, " (back-off %lld s)\n", bo);
		else if (e != NULL)
			fprintf(out, " (%s)\n", e);
		else
			fprintf(out, "\n");
	}
}

/* Under a cluster service: one line for its nodes, and their down ones. */
static void
node_lines(FILE *out, json_t *svcs, json_t *parent,
    long long workers)
{
	const char *pname = json_string_value(json_object_get(parent, "name"));
	json_t *n;
	size_t i, nodes = 0, short_of = 0;

	if (pname == NULL)
		return;
	json_array_foreach(svcs, i, n) {
		if (!node_of(n, pname) || !flag(n, "configured"))
			continue;
		nodes++;
		if (inum(n, "listening_workers") < workers)
			short_of++;
	}
	if (nodes == 0 && inum(parent, "cluster_nodes") == 0)
		return;
	fprintf(out, "  + %zu cluster node%s", nodes ? nodes :
	    (size_t)inum(parent, "cluster_nodes"), nodes == 1 ? "" : "s");
	if (short_of > 0)
		fprintf(out, ", %zu not listening on every worker", short_of);
	fprintf(out, "\n");
	json_array_foreach(svcs, i, n)
		if (node_of(n, pname) && flag(n, "configured"))
			down_lines(out, n);
}

static void
header(FILE *out, json_t *root)
{
	json_t *rl = json_object_get(root, "reloads");
	char a[CELL], b[CELL], c[CELL], path[1024], up[32], when[32], err[512];
	const char *fmt;
	long long w = inum(root, "workers");
	time_t t;
	struct tm tm;

	duration(up, sizeof(up), num(root, "uptime_seconds"));
	fmt = json_string_value(json_object_get(root, "format"));
	fprintf(out, "redtun %s (wolfSSL %s, libuv %s%s), config %s "
	    "(%sgeneration %lld), up %s, %lld worker%s\n",
	    str(root, "version", a, sizeof(a), "?"),
	    str(root, "wolfssl", b, sizeof(b), "?"),
	    str(root, "libuv", c, sizeof(c), "?"),
	    flag(root, "aesni") ? ", AES-NI" : "",
	    str(root, "config", path, sizeof(path), "?"),
	    fmt != NULL && strcmp(fmt, "stunnel") == 0 ? "stunnel format, " :
	    "", inum(root, "generation"), up, w, w == 1 ? "" : "s");
	fprintf(out, "last reload: ");
	if (!json_is_number(json_object_get(rl, "last_time")))
		fprintf(out, "none");
	else {
		t = (time_t)num(rl, "last_time");
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		if (flag(rl, "last_ok"))
			fprintf(out, "%s ok", when);
		else
			fprintf(out, "%s failed: %s", when, str(rl,
			    "last_error", err, sizeof(err), "?"));
		fprintf(out, " (%lld ok, %lld failed)", inum(rl, "ok"),
		    inum(rl, "failed"));
	}
	if (flag(rl, "in_progress"))
		fprintf(out, "; a reload is in progress");
	fprintf(out, "\n");
}

/* One cell padded to ${width}; the last one of a line unpadded. */
static void
put(FILE *out, const char *text, size_t width, int right_aligned, int last)
{

	if (last)
		fprintf(out, "%s\n", text);
	else if (right_aligned)
		fprintf(out, "%*s  ", (int)width, text);
	else
		fprintf(out, "%-*s  ", (int)width, text);
}

static void
table(FILE *out, json_t *root)
{
	json_t *svcs = json_object_get(root, "services"), *s;
	char cells[NCOL][CELL], name[CELL], why[512];
	size_t width[NCOL], i, k, removed = 0;
	long long w = inum(root, "workers");

	header(out, root);
	/* Two passes over the rows: widths, then the lines. */
	for (k = 0; k < NCOL; k++)
		width[k] = strlen(heads[k]);
	json_array_foreach(svcs, i, s) {
		if (!is_row(s))
			continue;
		row_cells(s, w, cells);
		for (k = 0; k < NCOL; k++)
			if (strlen(cells[k]) > width[k])
				width[k] = strlen(cells[k]);
	}
	for (k = 0; k < NCOL; k++)
		put(out, heads[k], width[k], 0, k + 1 == NCOL);
	json_array_foreach(svcs, i, s) {
		if (!is_row(s))
			continue;
		row_cells(s, w, cells);
		for (k = 0; k < NCOL; k++)
			put(out, cells[k], width[k], right[k], k + 1 == NCOL);
		down_lines(out, s);
		node_lines(out, svcs, s, w);
	}
	json_array_foreach(svcs, i, s) {
		if (!json_is_object(s) || flag(s, "configured") ||
		    flag(s, "node"))
			continue;
		fprintf(out, "%s%s", removed++ ? ", " : "removed: ",
		    str(s, "name", name, sizeof(name), "?"));
	}
	if (removed)
		fprintf(out, " (counters kept)\n");
	if (inum(root, "fd_exhaustion") > 0)
		fprintf(out, "out of descriptors: %lld time%s\n",
		    inum(root, "fd_exhaustion"),
		    inum(root, "fd_exhaustion") == 1 ? "" : "s");
	if (flag(root, "healthy"))
		fprintf(out, "health: ok\n");
	else
		fprintf(out, "unhealthy: %s\n", str(root, "health_reason", why,
		    sizeof(why), "no reason given"));
}

int
status_table_print(FILE *out, const char *body, size_t len, int json,
    char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *root;
	int healthy;

	if ((root = json_loadb(body, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		snprintf(why, whylen, "not JSON: line %d: %s", jerr.line,
		    jerr.text);
		return (-1);
	}
	if (!json_is_object(root) ||
	    !json_is_boolean(json_object_get(root, "healthy")) ||
	    !json_is_array(json_object_get(root, "services"))) {
		snprintf(why, whylen, "not a redtun /status answer (no "
		    "\"healthy\" or \"services\")");
		json_decref(root);
		return (-1);
	}
	healthy = flag(root, "healthy");
	if (json) {
		/* Control and non-ASCII characters as \uXXXX: safe on a
		 * terminal, and still the same JSON. */
		json_dumpf(root, out, JSON_INDENT(2) |
		    JSON_ENSURE_ASCII);
		fputc('\n', out);
	} else
		table(out, root);
	json_decref(root);
	return (healthy ? 0 : 1);
}
