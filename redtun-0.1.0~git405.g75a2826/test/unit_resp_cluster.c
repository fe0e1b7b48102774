/*
 * The RESP filter's cluster part without sockets: a relay with memory
 * sinks, a node map with a few nodes, and server replies that name nodes
 * (MOVED/ASK, CLUSTER SLOTS/SHARDS/NODES/REPLICAS in RESP2 and RESP3,
 * inside EXEC, pipelined), fed whole and split at every byte.  What the
 * client gets is checked against the rewriters (cluster_rewrite.c) called
 * on the same frames: this tests where the filter rewrites, not how.  Then
 * the wait for a node the map does not have yet, the watermark while
 * waiting, and that a service without cluster passes bytes as they came,
 * without a copy.  Real replies of a Redis 7.0 cluster are read from
 * test/data/cluster when ${srcdir} has them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_map.h"
#include "cluster_rewrite.h"
#include "conf.h"
#include "relay.h"
#include "resp_filter.h"

#include "unit_check.h"

struct sink {
	char *out;
	size_t len, cap;
	int eofs, failed, writes, copies;
	char closed[160];
	const char *in;		/* the input being fed, to tell copies */
	size_t inlen;
};

static int
s_write(void *arg, const char *data, size_t len)
{
	struct sink *s = arg;

	if (s->in == NULL || data < s->in || data + len > s->in + s->inlen)
		s->copies++;
	s->writes++;
	if (len > s->cap - s->len) {
		s->cap = (s->len + len) * 2;
		if ((s->out = realloc(s->out, s->cap)) == NULL)
			abort();
	}
	memcpy(s->out + s->len, data, len);
	s->len += len;
	return (0);
}

static size_t s_queued(void *arg) { (void)arg; return (0); }
static void s_eof(void *arg) { ((struct sink *)arg)->eofs++; }

static void
s_close_after(void *arg, const char *why)
{
	snprintf(((struct sink *)arg)->closed, 160, "%s", why);
}

static void
s_fail(void *arg, const char *why)
{
	struct sink *s = arg;

	s->failed = 1;
	snprintf(s->closed, sizeof(s->closed), "%s", why);
}

/* The map in force, and what the hooks saw. */
static struct cmap *map;
static struct {
	int prepared, misses, client_done;
	char host[256];
	unsigned int port;
} ev;

static void
h_prepared(void *arg, int result, const char *why)
{
	(void)arg;
	(void)result;
	(void)why;
	ev.prepared++;
}

static void h_void(void *arg) { (void)arg; }
static void h_client_done(void *arg) { (void)arg; ev.client_done++; }
static int want_reuse;
static struct resp_filter *f;

/* As the tunnel: the connection is recycled if it can be. */
static int
h_client_eof(void *arg)
{
	(void)arg;
	if (!want_reuse || !resp_filter_reusable(f))
		return (0);
	resp_filter_recycle(f);
	return (1);
}
static void h_recycled(void *arg, int result, const char *why)
{
	(void)arg;
	(void)result;
	(void)why;
}

static const struct cmap *
h_map(void *arg)
{
	(void)arg;
	return (map);
}

static void
h_miss(void *arg, const char *host, unsigned int port)
{
	(void)arg;
	ev.misses++;
	snprintf(ev.host, sizeof(ev.host), "%s", host);
	ev.port = port;
}

static struct sink up, down;
static struct relay *r;
static struct svc_conf sc;

static void
setup(int cluster)
{
	struct relay_sink su = { s_write, s_queued, s_eof, s_close_after,
	    s_fail, &up };
	struct relay_sink sd = { s_write, s_queued, s_eof, s_close_after,
	    s_fail, &down };
	struct rf_hooks h = { h_prepared, h_client_done, h_recycled, h_void,
	    h_client_eof, NULL, cluster ? h_map : NULL,
	    cluster ? h_miss : NULL, NULL, NULL, NULL };

	relay_free(r);
	free(up.out);
	free(down.out);
	memset(&up, 0, sizeof(up));
	memset(&down, 0, sizeof(down));
	memset(&ev, 0, sizeof(ev));
	memset(&sc, 0, sizeof(sc));
	sc.cluster = cluster;
	r = relay_new(&su, &sd);
	f = resp_filter_attach(r, &sc, &h, "test");
	CHECK(f != NULL);
	resp_filter_prepare(f);
	CHECK(ev.prepared == 1);
}

/* Feed ${len} bytes of ${s} in direction ${dir}, in pieces of ${step}. */
static void
feedn(int dir, const char *s, size_t len, size_t step)
{
	struct sink *k = dir == RELAY_UP ? &up : &down;
	size_t off, n;

	if (step == 0)
		step = len;
	k->in = s;
	k->inlen = len;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		relay_input(r, dir, s + off, n);
	}
	k->in = NULL;
}

static void
feed(int dir, const char *s, size_t step)
{
	feedn(dir, s, strlen(s), step);
}

static int
out_is(const struct sink *s, const char *want, size_t wlen)
{
	if (s->len == wlen && memcmp(s->out, want, wlen) == 0)
		return (1);
	fprintf(stderr, "  got %zu bytes: %.*s\n  want %zu: %.*s\n", s->len,
	    (int)(s->len < 400 ? s->len : 400), s->out, wlen,
	    (int)(wlen < 400 ? wlen : 400), want);
	return (0);
}

/* ---- expected output: the rewriters on the same frames ------------------ */

struct str {
	char *p;
	size_t n;
};

static void
cat(struct str *s, const char *p, size_t n)
{
	if ((s->p = realloc(s->p, s->n + n + 1)) == NULL)
		abort();
	memcpy(s->p + s->n, p, n);
	s->n += n;
	s->p[s->n] = '\0';
}

static void
cats(struct str *s, const char *p)
{
	cat(s, p, strlen(p));
}

/* ${frame} as the filter must pass it: rewritten, or as it is. */
static void
cat_redirect(struct str *s, const char *frame)
{
	struct crw_miss miss;
	char *out;
	size_t n;

	if (crw_redirect(frame, strlen(frame), map, &out, &n, &miss) ==
	    CRW_DONE) {
		cat(s, out, n);
		free(out);
	} else
		cats(s, frame);
}

static void
cat_topology(struct str *s, int kind, const char *frame, size_t len)
{
	struct crw_miss miss;
	char *out, why[128];
	size_t n;
	int rc;

	rc = crw_topology(kind, frame, len, map, &out, &n, &miss, why,
	    sizeof(why));
	if (rc == CRW_DONE) {
		cat(s, out, n);
		free(out);
	} else {
		if (rc != CRW_SAME)
			fprintf(stderr, "  (expected: topology %d gives %d: "
			    "%s)\n", kind, rc, rc == CRW_BAD ? why : "");
		cat(s, frame, len);
	}
}

/* Feed ${cmds}, then ${replies} in every step 0..${maxstep}; compare. */
static void
run(const char *name, const char *cmds, const char *replies, size_t rlen,
    const struct str *want, size_t maxstep)
{
	size_t step;

	for (step = 0; step <= maxstep; step++) {
		setup(1);
		feed(RELAY_UP, cmds, step);
		feedn(RELAY_DOWN, replies, rlen, step);
		if (!out_is(&down, want->p, want->n) || down.failed ||
		    ev.misses != 0) {
			fprintf(stderr, "%s, step %zu: misses %d%s%s\n", name,
			    step, ev.misses, down.failed ? ", failed: " : "",
			    down.closed);
			failures++;
			return;
		}
	}
	/* Cut in two at every byte. */
	for (step = 1; rlen <= 4096 && step < rlen; step++) {
		setup(1);
		feed(RELAY_UP, cmds, 0);
		feedn(RELAY_DOWN, replies, step, 0);
		feedn(RELAY_DOWN, replies + step, rlen - step, 0);
		if (!out_is(&down, want->p, want->n) || ev.misses != 0) {
			fprintf(stderr, "%s, cut at %zu\n", name, step);
			failures++;
			return;
		}
	}
}

/* ---- the map and the replies -------------------------------------------- */

static struct cmap *
map_make(int with_node4)
{
	static const struct {
		const char *name;
		unsigned int port, lport;
	} nodes[] = {
		{ "node1.test", 27101, 7001 }, { "127.0.0.1", 27101, 7001 },
		{ "node2.test", 27102, 7002 }, { "127.0.0.1", 27102, 7002 },
		{ "node3.test", 27103, 7003 }, { "127.0.0.1", 27103, 7003 },
		{ "node4.test", 27104, 7004 }, { "127.0.0.1", 27104, 7004 },
	};
	struct cmap *m = cmap_new("127.0.0.1");
	size_t i;

	CHECK(m != NULL);
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (!with_node4 && nodes[i].port == 27104)
			continue;
		CHECK(cmap_add(m, nodes[i].name, strlen(nodes[i].name),
		    nodes[i].port, nodes[i].lport) == 0);
	}
	return (m);
}

/* A CLUSTER SLOTS reply in RESP2 (one primary and one replica a range). */
static const char slots2[] =
    "*2\r\n"
    "*4\r\n:0\r\n:8191\r\n"
    "*4\r\n$10\r\nnode1.test\r\n:27101\r\n$3\r\nid1\r\n"
    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
    "*4\r\n$10\r\nnode2.test\r\n:27102\r\n$3\r\nid2\r\n"
    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
    "*3\r\n:8192\r\n:16383\r\n"
    "*4\r\n$10\r\nnode3.test\r\n:27103\r\n$3\r\nid3\r\n"
    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n";
/* The same in RESP3 (the metadata a map). */
static const char slots3[] =
    "*1\r\n"
    "*4\r\n:0\r\n:16383\r\n"
    "*4\r\n$10\r\nnode1.test\r\n:27101\r\n$3\r\nid1\r\n"
    "%1\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
    "*4\r\n$10\r\nnode2.test\r\n:27102\r\n$3\r\nid2\r\n"
    "%1\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n";
/* One naming node4 (not in the map of the wait tests). */
static const char slots_node4[] =
    "*1\r\n"
    "*4\r\n:0\r\n:16383\r\n"
    "*4\r\n$10\r\nnode1.test\r\n:27101\r\n$3\r\nid1\r\n"
    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
    "*4\r\n$10\r\nnode4.test\r\n:27104\r\n$3\r\nid4\r\n"
    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n";
static const char nodes_line[] =
    "id1 127.0.0.1:27101@37101,node1.test myself,master - 0 0 1 connected "
    "0-16383\n"
    "id4 127.0.0.1:27102@37102,node2.test slave id1 0 0 1 connected\n";

/* A file of test/data/cluster, or NULL. */
static char *
data_file(const char *name, size_t *len)
{
	const char *dir = getenv("srcdir");
	char path[512];
	FILE *fp;
	char *p;
	long n;

	snprintf(path, sizeof(path), "%s/test/data/cluster/%s",
	    dir != NULL ? dir : ".", name);
	if ((fp = fopen(path, "rb")) == NULL)
		return (NULL);
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 || (p = malloc((size_t)n + 1)) == NULL ||
	    fread(p, 1, (size_t)n, fp) != (size_t)n) {
		fclose(fp);
		return (NULL);
	}
	fclose(fp);
	p[n] = '\0';
	*len = (size_t)n;
	return (p);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_redirects(void)
{
	static const char *const frames[] = {
		"-MOVED 12182 node3.test:27103\r\n",
		"-ASK 5061 node2.test:27102\r\n",
		"-MOVED 3999 127.0.0.1:27101\r\n",
		"!28\r\nMOVED 12182 node3.test:27103\r\n",
		"-ERR MOVED is not the first word\r\n",
		"-MOVEDX 1 node3.test:27103\r\n",
		"-MOVED\r\n",
		"-ASKING\r\n",
		"!10\r\nERR a blob\r\n",
	};
	struct str want = { NULL, 0 };
	size_t i;

	for (i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		want.n = 0;
		cat_redirect(&want, frames[i]);
		run(frames[i], "GET foo\r\n", frames[i], strlen(frames[i]),
		    &want, strlen(frames[i]));
	}
	/* Checked by hand once: the rewriter is the other test's. */
	setup(1);
	feed(RELAY_UP, "GET foo\r\n", 0);
	feed(RELAY_DOWN, "-MOVED 12182 node3.test:27103\r\n", 1);
	CHECK(out_is(&down, "-MOVED 12182 127.0.0.1:7003\r\n", 29));

	/* Over RCL_REDIRECT_MAX: not a redirect Redis sends; unchanged. */
	{
		char big[1500];

		memset(big, 'x', sizeof(big));
		memcpy(big, "-MOVED 1 ", 9);
		memcpy(big + sizeof(big) - 2, "\r\n", 2);
		setup(1);
		feed(RELAY_UP, "GET foo\r\n", 0);
		feedn(RELAY_DOWN, big, sizeof(big), 100);
		CHECK(out_is(&down, big, sizeof(big)));
	}
	free(want.p);
}

/* Pipelined: plain replies, redirects and topology, in order. */
static void
test_pipeline(void)
{
	static const char cmds[] = "GET a\r\nGET b\r\n*2\r\n$7\r\ncluster\r\n"
	    "$5\r\nslots\r\nGET c\r\nCLUSTER NODES\r\nSET d 1\r\n"
	    "CLUSTER SHARDS\r\nCLUSTER SLAVES id1\r\nGET e\r\n";
	struct str replies = { NULL, 0 }, want = { NULL, 0 }, nodes = { NULL,
	    0 }, repl = { NULL, 0 };
	char hdr[32];

	snprintf(hdr, sizeof(hdr), "$%zu\r\n", strlen(nodes_line));
	cats(&nodes, hdr);
	cats(&nodes, nodes_line);
	cats(&nodes, "\r\n");
	cats(&repl, "*1\r\n$62\r\nid4 127.0.0.1:27102@37102,node2.test slave "
	    "id1 0 0 1 connected\r\n");

	cats(&replies, "$1\r\n1\r\n-MOVED 1 node2.test:27102\r\n");
	cats(&replies, slots2);
	cats(&replies, "-ERR wrong\r\n");
	cat(&replies, nodes.p, nodes.n);
	cats(&replies, "+OK\r\n-ERR This instance has cluster support "
	    "disabled\r\n");
	cat(&replies, repl.p, repl.n);
	cats(&replies, ":5\r\n");

	cats(&want, "$1\r\n1\r\n");
	cat_redirect(&want, "-MOVED 1 node2.test:27102\r\n");
	cat_topology(&want, CRW_SLOTS, slots2, strlen(slots2));
	cats(&want, "-ERR wrong\r\n");
	cat_topology(&want, CRW_NODES, nodes.p, nodes.n);
	cats(&want, "+OK\r\n-ERR This instance has cluster support "
	    "disabled\r\n");
	cat_topology(&want, CRW_REPLICAS, repl.p, repl.n);
	cats(&want, ":5\r\n");
	CHECK(want.n != replies.n || memcmp(want.p, replies.p, want.n) != 0);
	run("pipeline", cmds, replies.p, replies.n, &want, replies.n);
	free(replies.p);
	free(want.p);
	free(nodes.p);
	free(repl.p);
}

/* Topology replies, RESP2 and RESP3, from array and inline commands. */
static void
test_topology(void)
{
	static const struct {
		const char *cmd, *file;
		int kind;
	} files[] = {
		{ "CLUSTER SLOTS\r\n", "host-slots-resp2", CRW_SLOTS },
		{ "CLUSTER SLOTS\r\n", "ip-slots-resp2", CRW_SLOTS },
		{ "CLUSTER SHARDS\r\n", "host-shards-resp2", CRW_SHARDS },
		{ "CLUSTER NODES\r\n", "host-nodes-resp2", CRW_NODES },
		{ "CLUSTER REPLICAS x\r\n", "host-replicas-resp2", CRW_REPLICAS },
		{ "CLUSTER SLAVES x\r\n", "ip-replicas-resp2", CRW_REPLICAS },
		{ "CLUSTER SLOTS\r\n", "host-slots-resp3", CRW_SLOTS },
		{ "*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n", "host-shards-resp3",
		    CRW_SHARDS },
		{ "cluster nodes\r\n", "host-nodes-resp3", CRW_NODES },
		{ "CLUSTER REPLICAS x\r\n", "host-replicas-resp3", CRW_REPLICAS },
		{ "CLUSTER SHARDS\r\n", "ip-shards-resp3", CRW_SHARDS },
	};
	struct str want = { NULL, 0 };
	char *p, name[128];
	size_t i, n;
	int found = 0;

	want.n = 0;
	cat_topology(&want, CRW_SLOTS, slots2, strlen(slots2));
	CHECK(strstr(want.p, "node1.test") == NULL &&
	    strstr(want.p, ":7001\r\n") != NULL);
	run("slots resp2", "CLUSTER SLOTS\r\n", slots2, strlen(slots2), &want,
	    strlen(slots2));
	want.n = 0;
	cat_topology(&want, CRW_SLOTS, slots3, strlen(slots3));
	run("slots resp3", "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n", slots3,
	    strlen(slots3), &want, 7);
	/* Another command's reply of the same shape is not touched. */
	want.n = 0;
	cats(&want, slots2);
	run("not a CLUSTER reply", "LRANGE k 0 -1\r\n", slots2, strlen(slots2),
	    &want, 3);

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if ((p = data_file(files[i].file, &n)) == NULL)
			continue;
		found++;
		want.n = 0;
		cat_topology(&want, files[i].kind, p, n);
		CHECK(want.n != n || memcmp(want.p, p, n) != 0);
		CHECK(memmem(want.p, want.n, "node1.test", 10) == NULL);
		snprintf(name, sizeof(name), "data %s", files[i].file);
		run(name, files[i].cmd, p, n, &want, 3);
		free(p);
	}
	if (found == 0)
		fprintf(stderr, "unit_resp_cluster: no test/data/cluster under "
		    "$srcdir: real replies not tried\n");
	free(want.p);
}

/* CLUSTER commands inside MULTI: their replies are in EXEC's array. */
static void
test_multi(void)
{
	struct str replies = { NULL, 0 }, want = { NULL, 0 };
	struct str nodes = { NULL, 0 };
	char hdr[32];

	snprintf(hdr, sizeof(hdr), "$%zu\r\n", strlen(nodes_line));
	cats(&nodes, hdr);
	cats(&nodes, nodes_line);
	cats(&nodes, "\r\n");

	cats(&replies, "+OK\r\n+QUEUED\r\n+QUEUED\r\n-MOVED 2 node1.test:27101"
	    "\r\n+QUEUED\r\n-EXECABORT x\r\n");
	cats(&replies, "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n");
	cats(&replies, "*4\r\n$1\r\nv\r\n");
	cats(&replies, slots2);
	cats(&replies, "+OK\r\n");
	cat(&replies, nodes.p, nodes.n);
	cats(&replies, slots2);		/* a plain one after */

	cats(&want, "+OK\r\n+QUEUED\r\n+QUEUED\r\n");
	cat_redirect(&want, "-MOVED 2 node1.test:27101\r\n");
	cats(&want, "+QUEUED\r\n-EXECABORT x\r\n");
	cats(&want, "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n");
	cats(&want, "*4\r\n$1\r\nv\r\n");
	cat_topology(&want, CRW_SLOTS, slots2, strlen(slots2));
	cats(&want, "+OK\r\n");
	cat_topology(&want, CRW_NODES, nodes.p, nodes.n);
	cat_topology(&want, CRW_SLOTS, slots2, strlen(slots2));
	run("multi/exec", "MULTI\r\nCLUSTER SLOTS\r\nGET x\r\nGET y\r\n"
	    "CLUSTER NODES\r\nEXEC\r\n"
	    "MULTI\r\nGET a\r\nCLUSTER SLOTS\r\nSET b 1\r\nCLUSTER NODES\r\n"
	    "EXEC\r\nCLUSTER SLOTS\r\n", replies.p, replies.n, &want,
	    replies.n);

	/* DISCARD, RESET and a null EXEC (WATCH) leave nothing behind. */
	replies.n = want.n = 0;
	cats(&replies, "+OK\r\n+QUEUED\r\n+OK\r\n+OK\r\n+QUEUED\r\n+RESET\r\n"
	    "+OK\r\n+QUEUED\r\n*-1\r\n+OK\r\n+QUEUED\r\n+OK\r\n");
	cats(&replies, slots2);		/* LRANGE's: not rewritten */
	cats(&replies, "+OK\r\n+QUEUED\r\n*1\r\n");
	cats(&replies, slots2);		/* the same in EXEC's: not either */
	cats(&replies, slots2);		/* CLUSTER SLOTS's: rewritten */
	cat(&want, replies.p, replies.n - strlen(slots2));
	cat_topology(&want, CRW_SLOTS, slots2, strlen(slots2));
	run("discard/reset/watch", "MULTI\r\nCLUSTER SLOTS\r\nDISCARD\r\n"
	    "MULTI\r\nCLUSTER NODES\r\nRESET\r\n"
	    "MULTI\r\nCLUSTER SLOTS\r\nEXEC\r\n"
	    "MULTI\r\nCLUSTER SLOTS\r\nDISCARD\r\nLRANGE k 0 -1\r\n"
	    "MULTI\r\nLRANGE k 0 -1\r\nEXEC\r\nCLUSTER SLOTS\r\n",
	    replies.p, replies.n, &want, 9);

	/* MULTI refused: the CLUSTER command runs at once. */
	replies.n = want.n = 0;
	cats(&replies, "-ERR MULTI refused\r\n");
	cats(&replies, slots2);
	cats(&replies, "-ERR EXEC without MULTI\r\n");
	cats(&want, "-ERR MULTI refused\r\n");
	cat_topology(&want, CRW_SLOTS, slots2, strlen(slots2));
	cats(&want, "-ERR EXEC without MULTI\r\n");
	run("multi refused", "MULTI\r\nCLUSTER SLOTS\r\nEXEC\r\n", replies.p,
	    replies.n, &want, 5);
	free(replies.p);
	free(want.p);
	free(nodes.p);
}

#define TRYAGAIN4 "-TRYAGAIN redtun [test]: no local port for node " \
    "node4.test:27104 yet\r\n"

/* A node the map does not have: held, in order, until it has it. */
static void
test_wait(void)
{
	struct cmap *full = map, *part = map_make(0);
	struct str want = { NULL, 0 };
	char big[70 * 1024];
	size_t step, i;

	for (step = 0; step <= 2; step++) {
		map = part;
		setup(1);
		feed(RELAY_UP, "GET a\r\nGET b\r\nGET c\r\nGET d\r\n", step);
		feed(RELAY_DOWN, "$1\r\n1\r\n-MOVED 9 node4.test:27104\r\n"
		    "$1\r\n3\r\n", step);
		CHECK(ev.misses == 1 && strcmp(ev.host, "node4.test") == 0 &&
		    ev.port == 27104);
		CHECK(out_is(&down, "$1\r\n1\r\n", 7));
		feed(RELAY_DOWN, ":4\r\n", step);
		CHECK(out_is(&down, "$1\r\n1\r\n", 7));
		CHECK(resp_filter_cluster_retry(f, 0) == 1);
		CHECK(ev.misses == 1 && down.len == 7);
		CHECK(!resp_filter_reusable(f));	/* replies held */
		map = full;
		CHECK(resp_filter_cluster_retry(f, 0) == 0);
		CHECK(resp_filter_reusable(f));
		want.n = 0;
		cats(&want, "$1\r\n1\r\n");
		cat_redirect(&want, "-MOVED 9 node4.test:27104\r\n");
		cats(&want, "$1\r\n3\r\n:4\r\n");
		CHECK(out_is(&down, want.p, want.n));
		CHECK(resp_filter_cluster_retry(f, 0) == 0);
		/* And on as usual. */
		feed(RELAY_UP, "CLUSTER SLOTS\r\n", step);
		feed(RELAY_DOWN, slots_node4, step);
		cat_topology(&want, CRW_SLOTS, slots_node4,
		    strlen(slots_node4));
		CHECK(out_is(&down, want.p, want.n));

		/* Given up: TRYAGAIN for a redirect... */
		map = part;
		setup(1);
		feed(RELAY_UP, "GET a\r\nGET b\r\n", step);
		feed(RELAY_DOWN, "-ASK 9 node4.test:27104\r\n+OK\r\n", step);
		CHECK(ev.misses == 1 && down.len == 0);
		CHECK(resp_filter_cluster_retry(f, 1) == 0);
		want.n = 0;
		cats(&want, TRYAGAIN4);
		cats(&want, "+OK\r\n");
		CHECK(out_is(&down, want.p, want.n));
		/* ...a topology reply unchanged. */
		setup(1);
		feed(RELAY_UP, "CLUSTER SLOTS\r\nPING\r\n", step);
		feed(RELAY_DOWN, slots_node4, step);
		feed(RELAY_DOWN, "+PONG\r\n", step);
		CHECK(ev.misses == 1 && down.len == 0);
		CHECK(resp_filter_cluster_retry(f, 1) == 0);
		want.n = 0;
		cats(&want, slots_node4);
		cats(&want, "+PONG\r\n");
		CHECK(out_is(&down, want.p, want.n));

		/* Two unknown nodes: the second waits again. */
		map = cmap_new("127.0.0.1");
		setup(1);
		feed(RELAY_UP, "GET a\r\nGET b\r\nGET c\r\n", step);
		feed(RELAY_DOWN, "-MOVED 1 node1.test:27101\r\n-MOVED 2 "
		    "node4.test:27104\r\n:3\r\n", step);
		CHECK(ev.misses == 1 && strcmp(ev.host, "node1.test") == 0);
		cmap_free(map);
		map = part;
		CHECK(resp_filter_cluster_retry(f, 0) == 1);
		CHECK(ev.misses == 2 && strcmp(ev.host, "node4.test") == 0);
		want.n = 0;
		cat_redirect(&want, "-MOVED 1 node1.test:27101\r\n");
		CHECK(out_is(&down, want.p, want.n));
		map = full;
		CHECK(resp_filter_cluster_retry(f, 0) == 0);
		cat_redirect(&want, "-MOVED 2 node4.test:27104\r\n");
		cats(&want, ":3\r\n");
		CHECK(out_is(&down, want.p, want.n));

		/* The server's EOF while waiting: delivered as given up. */
		map = part;
		setup(1);
		feed(RELAY_UP, "GET a\r\nGET b\r\n", step);
		feed(RELAY_DOWN, "-MOVED 9 node4.test:27104\r\n$2\r\nxy", step);
		CHECK(relay_eof(r, RELAY_DOWN) == 0);
		want.n = 0;
		cats(&want, TRYAGAIN4);
		cats(&want, "$2\r\nxy");
		CHECK(out_is(&down, want.p, want.n));
		CHECK(down.eofs == 1);
	}

	/* The watermark: held bytes count while waiting (the server pauses). */
	map = part;
	setup(1);
	feed(RELAY_UP, "GET a\r\nGET b\r\n", 0);
	feed(RELAY_DOWN, "-MOVED 9 node4.test:27104\r\n", 0);
	CHECK(!relay_backlogged(r, RELAY_DOWN));
	memset(big, 'v', sizeof(big));
	i = (size_t)snprintf(big, 32, "$%zu\r\n", sizeof(big) - 10);
	memset(big + i, 'v', sizeof(big) - i);
	memcpy(big + sizeof(big) - 2, "\r\n", 2);
	feedn(RELAY_DOWN, big, sizeof(big), 16384);
	CHECK(relay_backlogged(r, RELAY_DOWN));
	map = full;
	CHECK(resp_filter_cluster_retry(f, 0) == 0);
	CHECK(!relay_backlogged(r, RELAY_DOWN));
	want.n = 0;
	cat_redirect(&want, "-MOVED 9 node4.test:27104\r\n");
	CHECK(down.len == want.n + sizeof(big) &&
	    memcmp(down.out, want.p, want.n) == 0 &&
	    memcmp(down.out + want.n, big, sizeof(big)) == 0);

	/* Over RCL_WAIT_MAX held: given up, all delivered in order. */
	map = part;
	setup(1);
	feed(RELAY_UP, "GET a\r\n", 0);
	for (i = 0; i < 5; i++)
		feed(RELAY_UP, "GET b\r\n", 0);
	feed(RELAY_DOWN, "-MOVED 9 node4.test:27104\r\n", 0);
	for (i = 0; i < 4; i++) {
		CHECK(down.len == 0);
		feedn(RELAY_DOWN, big, sizeof(big), 65536);
	}
	CHECK(down.len == strlen(TRYAGAIN4) + 4 * sizeof(big) &&
	    memcmp(down.out, TRYAGAIN4, strlen(TRYAGAIN4)) == 0);
	CHECK(resp_filter_cluster_retry(f, 0) == 0);
	feedn(RELAY_DOWN, big, sizeof(big), 0);	/* not held any more */
	CHECK(down.len == strlen(TRYAGAIN4) + 5 * sizeof(big) && !down.failed);

	map = full;
	cmap_free(part);
	free(want.p);
}

/* A topology reply larger than the watermark's hold: not all counted. */
static void
test_big_topology(void)
{
	struct str reply = { NULL, 0 }, want = { NULL, 0 };
	char line[200], hdr[32];
	size_t i, half;
	int n;

	for (i = 0; i < 2000; i++) {
		n = snprintf(line, sizeof(line), "id%04zu 127.0.0.1:%u@3%u,"
		    "node%u.test master - 0 0 1 connected\n", i,
		    27101 + (unsigned)(i % 3), 7101 + (unsigned)(i % 3),
		    1 + (unsigned)(i % 3));
		cat(&want, line, (size_t)n);
	}
	snprintf(hdr, sizeof(hdr), "$%zu\r\n", want.n);
	cats(&reply, hdr);
	cat(&reply, want.p, want.n);
	cats(&reply, "\r\n");
	want.n = 0;
	cat_topology(&want, CRW_NODES, reply.p, reply.n);
	CHECK(reply.n > RELAY_HIGH);

	setup(1);
	feed(RELAY_UP, "CLUSTER NODES\r\n", 0);
	half = reply.n / 2;
	feedn(RELAY_DOWN, reply.p, half, 4096);
	CHECK(down.len == 0 && !relay_backlogged(r, RELAY_DOWN));
	feedn(RELAY_DOWN, reply.p + half, reply.n - half, 4096);
	CHECK(out_is(&down, want.p, want.n));
	free(reply.p);
	free(want.p);
}

/* After the client's last command, a redirect still goes rewritten. */
static void
test_recycle(void)
{
	struct str want = { NULL, 0 };
	size_t step;

	want_reuse = 1;
	for (step = 0; step <= 3; step++) {
		setup(1);
		feed(RELAY_UP, "GET a\r\nGET b\r\n", step);
		CHECK(relay_eof(r, RELAY_UP) == 0 && up.eofs == 0);
		feed(RELAY_DOWN, "-MOVED 1 node1.test:27101\r\n-ERR x\r\n",
		    step);
		CHECK(memmem(up.out, up.len, "RESET", 5) != NULL);
		feed(RELAY_DOWN, "+RESET\r\n", step);
		want.n = 0;
		cat_redirect(&want, "-MOVED 1 node1.test:27101\r\n");
		cats(&want, "-ERR x\r\n");
		CHECK(out_is(&down, want.p, want.n));
		CHECK(ev.client_done == 1);	/* the client is let go */
	}
	want_reuse = 0;
	free(want.p);
}

/* Without cluster (and with it, for replies naming no node): no copy. */
static void
test_untouched(void)
{
	static const char replies[] = "+OK\r\n$1\r\nv\r\n-MOVED 1 "
	    "node1.test:27101\r\n:1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n-ERR x\r\n";
	static const char plain[] = "+OK\r\n$1\r\nv\r\n-ERR MOVED\r\n:1\r\n"
	    "*2\r\n$1\r\na\r\n$1\r\nb\r\n-ERR x\r\n%1\r\n+a\r\n:1\r\n";
	size_t step;

	for (step = 0; step <= 3; step++) {
		setup(0);
		feed(RELAY_UP, "SET a 1\r\nGET a\r\nGET b\r\nINCR c\r\n"
		    "LRANGE l 0 1\r\nCLUSTER SLOTS\r\nGET d\r\n", step);
		feed(RELAY_DOWN, replies, step);
		feed(RELAY_DOWN, slots2, step);
		feed(RELAY_DOWN, "$-1\r\n", step);
		CHECK(down.copies == 0);
		CHECK(down.len == strlen(replies) + strlen(slots2) + 5 &&
		    memcmp(down.out, replies, strlen(replies)) == 0);

		setup(1);
		feed(RELAY_UP, "SET a 1\r\nGET a\r\nGET b\r\nINCR c\r\n"
		    "LRANGE l 0 1\r\nGET e\r\nHGETALL h\r\n", step);
		feed(RELAY_DOWN, plain, step);
		CHECK(out_is(&down, plain, strlen(plain)));
		/* Whole: every reply in one write of the input. */
		if (step == 0)
			CHECK(down.copies == 0 && down.writes == 1);
	}
}

int
main(void)
{

	map = map_make(1);
	test_redirects();
	test_pipeline();
	test_topology();
	test_multi();
	test_wait();
	test_big_topology();
	test_recycle();
	test_untouched();
	relay_free(r);
	resp_filter_release_cache();
	free(up.out);
	free(down.out);
	cmap_free(map);
	if (failures > 0) {
		fprintf(stderr, "unit_resp_cluster: %d failures\n", failures);
		return (1);
	}
	printf("unit_resp_cluster: all passed\n");
	return (0);
}
