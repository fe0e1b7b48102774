/*
 * The cluster rewriters (src/cluster_rewrite.c, cluster_nodes.c,
 * cluster_topo.c, cluster_resp.c) and the node map (cluster_map.c), over
 * replies captured from a real Redis 7.0 cluster (test/data/cluster, see
 * its README): every capture is rewritten, and the output must be one
 * RESP frame (resp.c's scanner, and hiredis for RESP2 when configure
 * found it) of the same shape, name the local listeners only (read back
 * by ctopo_parse, or line by line), keep everything else, and be a fixed
 * point (rewritten again with a map of the local listeners: same bytes).
 * Some outputs are compared byte for byte.  Then MOVED/ASK in both error
 * types, unknown nodes, and frames that are not the expected shape
 * (wrong types, huge counts, every truncation, depth bombs): CRW_BAD with
 * a reason, never a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_map.h"
#include "cluster_resp.h"
#include "cluster_rewrite.h"
#include "resp.h"

#ifdef HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

#include "unit_check.h"

#define LOCAL	"127.1.2.3"

static struct cmap *map, *local;
static const char *top = ".";
static int cases;

static char *
slurp(const char *name, size_t *len)
{
	char path[4096], *b;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/test/data/cluster/%s", top, name);
	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		exit(1);
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (b = malloc((size_t)n + 1)) == NULL ||
	    fread(b, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	fclose(f);
	*len = (size_t)n;
	return (b);
}

/* The capture cluster: nodeN.test and 127.0.0.1 on 2710N -> 1700N. */
static void
maps(void)
{
	char name[32];
	unsigned int i;

	if ((map = cmap_new(LOCAL)) == NULL ||
	    (local = cmap_new(LOCAL)) == NULL)
		exit(1);
	for (i = 1; i <= 4; i++) {
		snprintf(name, sizeof(name), "node%u.test", i);
		CHECK(cmap_add(map, name, strlen(name), 27100 + i,
		    17000 + i) == 0);
		CHECK(cmap_add(map, "127.0.0.1", 9, 27100 + i,
		    17000 + i) == 0);
		CHECK(cmap_add(local, LOCAL, strlen(LOCAL), 17000 + i,
		    17000 + i) == 0);
	}
	CHECK(cmap_count(map) == 8 && cmap_count(local) == 4);
}

static void
test_map(void)
{
	struct cmap *m;
	char name[32];
	unsigned int i;
	int bad = 0;

	CHECK(cmap_lookup(NULL, "a", 1, 1) == 0);
	if ((m = cmap_new("::1")) == NULL)
		exit(1);
	CHECK(strcmp(cmap_local_host(m), "::1") == 0);
	CHECK(cmap_lookup(m, "a", 1, 1) == 0 && cmap_count(m) == 0);
	CHECK(cmap_add(m, "Node1.Test", 10, 7000, 17000) == 0);
	CHECK(cmap_lookup(m, "NODE1.test", 10, 7000) == 17000);
	CHECK(cmap_lookup(m, "node1.test", 10, 7001) == 0);
	CHECK(cmap_lookup(m, "node1.tes", 9, 7000) == 0);
	CHECK(cmap_lookup(m, "node1.test\0", 11, 7000) == 0);
	CHECK(cmap_add(m, "node1.TEST", 10, 7000, 17009) == 0);
	CHECK(cmap_lookup(m, "node1.test", 10, 7000) == 17009);
	CHECK(cmap_count(m) == 1);
	cmap_free(m);

	/* Full at CMAP_MAX entries: no more, but replacing still works. */
	if ((m = cmap_new("h")) == NULL)
		exit(1);
	for (i = 0; i < CMAP_MAX; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		bad += cmap_add(m, name, strlen(name), i % 7 + 1,
		    i % 60000 + 1) != 0;
	}
	CHECK(bad == 0 && cmap_count(m) == CMAP_MAX);
	CHECK(cmap_add(m, "x", 1, 1, 1) == -1);
	CHECK(cmap_add(m, "N5", 2, 6, 4242) == 0);
	CHECK(cmap_lookup(m, "n5", 2, 6) == 4242);
	for (i = 0, bad = 0; i < CMAP_MAX; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		bad += cmap_lookup(m, name, strlen(name), i % 7 + 1) !=
		    (i == 5 ? 4242 : i % 60000 + 1);
	}
	CHECK(bad == 0 && cmap_count(m) == CMAP_MAX);
	cmap_free(m);
	cmap_free(NULL);
}

/* ${out} is one frame for resp.c's scanner, of ${in}'s type and count. */
static void
same_frame(const char *in, size_t inlen, const char *out, size_t outlen)
{
	struct resp_scan *s;
	struct resp_frame a, b;
	size_t used;

	if ((s = resp_scan_new(RESP_REPLIES)) == NULL)
		exit(1);
	CHECK(resp_scan(s, in, inlen, &used) == RESP_FRAME && used == inlen);
	a = *resp_scan_frame(s);
	CHECK(resp_scan(s, out, outlen, &used) == RESP_FRAME &&
	    used == outlen);
	b = *resp_scan_frame(s);
	CHECK(a.type == b.type);
	/* A string's count is its length, which changes. */
	CHECK(a.count == b.count || a.type == '$' || a.type == '=');
	resp_scan_free(s);
}

/* The same tree: types and element counts, value by value; returns
 * where ${b}'s value ends. */
static size_t
same_shape(const char *a, size_t alen, size_t ao, const char *b,
    size_t blen, size_t bo, int *ok)
{
	struct cresp x, y, e;
	const char *why;
	long long i;
	size_t ax, bx;

	if (cresp_read(a, alen, ao, &x, &why) != 0 ||
	    cresp_read(b, blen, bo, &y, &why) != 0 || x.type != y.type ||
	    x.start - ao != y.start - bo) {
		*ok = 0;
		return (0);
	}
	if (x.type == '*' || x.type == '%' || x.type == '~') {
		if (x.n != y.n) {
			*ok = 0;
			return (0);
		}
		for (i = 0, ax = x.body, bx = y.body; i < x.n && *ok; i++) {
			bx = same_shape(a, alen, ax, b, blen, bx, ok);
			if (cresp_read(a, alen, ax, &e, &why) != 0)
				*ok = 0;
			ax = e.end;
		}
	}
	return (y.end);
}

#ifdef HAVE_HIREDIS
/* hiredis reads both RESP2 frames to the same tree shape. */
static int
hi_shape(const redisReply *a, const redisReply *b)
{
	size_t i;

	if (a->type != b->type || (a->type == REDIS_REPLY_ARRAY &&
	    a->elements != b->elements))
		return (0);
	if (a->type == REDIS_REPLY_ARRAY)
		for (i = 0; i < a->elements; i++)
			if (!hi_shape(a->element[i], b->element[i]))
				return (0);
	return (1);
}

static void
hiredis_same(const char *in, size_t inlen, const char *out, size_t outlen)
{
	redisReader *r;
	void *a = NULL, *b = NULL;

	if ((r = redisReaderCreate()) == NULL)
		exit(1);
	CHECK(redisReaderFeed(r, in, inlen) == REDIS_OK &&
	    redisReaderGetReply(r, &a) == REDIS_OK && a != NULL);
	CHECK(redisReaderFeed(r, out, outlen) == REDIS_OK &&
	    redisReaderGetReply(r, &b) == REDIS_OK && b != NULL);
	CHECK(a != NULL && b != NULL && hi_shape(a, b));
	freeReplyObject(a);
	freeReplyObject(b);
	redisReaderFree(r);
}
#endif

static int
is_local_port(unsigned int p)
{

	return (p >= 17001 && p <= 17004);
}

/* Every node of a SLOTS or SHARDS reply is a local listener. */
static void
check_nodes(int kind, const char *in, size_t inlen, const char *out,
    size_t outlen)
{
	struct ctopo_node *a, *b;
	size_t na, nb, i;
	char why[128];

	CHECK(ctopo_parse(kind, in, inlen, &a, &na, why, sizeof(why)) == 0);
	CHECK(ctopo_parse(kind, out, outlen, &b, &nb, why, sizeof(why)) == 0);
	CHECK(na == 4 && nb == na);
	for (i = 0; i < nb && i < na; i++) {
		CHECK(strcmp(a[i].id, b[i].id) == 0);
		CHECK(a[i].primary == b[i].primary);
		CHECK(is_local_port(b[i].port));
		CHECK(b[i].port - 17000 == a[i].port - 27100);
		/* Unknown ("?", or "" for unknown-endpoint) stays. */
		CHECK(strcmp(b[i].endpoint, LOCAL) == 0 ||
		    (strcmp(b[i].endpoint, a[i].endpoint) == 0 &&
		    (strcmp(a[i].endpoint, "?") == 0 ||
		    a[i].endpoint[0] == '\0')));
		CHECK(strcmp(b[i].ip, LOCAL) == 0);
		CHECK(strcmp(b[i].hostname, LOCAL) == 0 ||
		    (b[i].hostname[0] == '\0' && a[i].hostname[0] == '\0'));
	}
	ctopo_free(a, na);
	ctopo_free(b, nb);
}

/* Every node line of ${p} has the local address; ${lines} counted. */
static void
check_lines(const char *p, size_t n, int *lines)
{
	char addr[128], host[64];
	const char *nl, *sp;
	unsigned int port, cport;
	int k;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (int)(nl - p) : (int)n;
		if (k > 0) {
			(*lines)++;
			sp = memchr(p, ' ', (size_t)k);
			CHECK(sp != NULL && sscanf(sp + 1, "%127s", addr) == 1);
			host[0] = '\0';
			CHECK(sscanf(addr, LOCAL ":%u@%u,%63s", &port, &cport,
			    host) >= 2);
			CHECK(is_local_port(port) && cport - 37100 ==
			    port - 17000);
			CHECK(host[0] == '\0' || strcmp(host, LOCAL) == 0);
		}
		p += k + (nl != NULL);
		n -= (size_t)k + (nl != NULL);
	}
}

static void
check_text(int kind, const char *out, size_t outlen)
{
	struct cresp v, e;
	const char *why, *p;
	size_t n, off;
	long long i;
	int lines = 0;

	CHECK(cresp_read(out, outlen, 0, &v, &why) == 0);
	if (kind == CRW_NODES) {
		CHECK(cresp_text(out, &v, &p, &n) == 0);
		check_lines(p, n, &lines);
		CHECK(lines == 4);
		return;
	}
	CHECK(v.type == '*' && v.n == 1);
	for (i = 0, off = v.body; i < v.n; i++, off = e.end) {
		CHECK(cresp_read(out, outlen, off, &e, &why) == 0);
		CHECK(cresp_text(out, &e, &p, &n) == 0);
		check_lines(p, n, &lines);
	}
	CHECK(lines == 1);
}

/* One capture: rewritten, checked; the output returned (caller frees). */
static char *
capture(const char *name, int kind, size_t *outlen)
{
	char why[128], *in, *out = NULL, *out2 = NULL;
	size_t inlen, outlen2 = 0;
	struct crw_miss miss;
	const char *w;
	int rc, ok = 1;

	cases++;
	in = slurp(name, &inlen);
	rc = crw_topology(kind, in, inlen, map, &out, outlen, &miss, why,
	    sizeof(why));
	if (rc != CRW_DONE) {
		fprintf(stderr, "%s: rc %d: %s\n", name, rc, why);
		CHECK(rc == CRW_DONE);
		free(in);
		return (NULL);
	}
	CHECK(cresp_check(out, *outlen, &w) == 0);
	same_frame(in, inlen, out, *outlen);
	(void)same_shape(in, inlen, 0, out, *outlen, 0, &ok);
	CHECK(ok);
#ifdef HAVE_HIREDIS
	if (strstr(name, "resp2") != NULL)
		hiredis_same(in, inlen, out, *outlen);
#endif
	/* No announced name or port is left. */
	CHECK(memmem(out, *outlen, ".test", 5) == NULL);
	CHECK(memmem(out, *outlen, "127.0.0.1", 9) == NULL);
	CHECK(memmem(out, *outlen, ":2710", 5) == NULL);
	if (kind == CRW_SLOTS || kind == CRW_SHARDS)
		check_nodes(kind, in, inlen, out, *outlen);
	else
		check_text(kind, out, *outlen);
	/* A fixed point: the local listeners map to themselves. */
	CHECK(crw_topology(kind, out, *outlen, local, &out2, &outlen2, &miss,
	    why, sizeof(why)) == CRW_DONE);
	CHECK(out2 != NULL && outlen2 == *outlen &&
	    memcmp(out, out2, outlen2) == 0);
	free(out2);
	free(in);
	return (out);
}

static void
test_captures(void)
{
	static const char *const setups[] = { "host", "ip", "unknown",
	    "nohost" };
	static const char *const kinds[] = { "slots", "shards", "nodes",
	    "replicas" };
	char name[64], *out;
	size_t outlen;
	int s, k, p;

	for (s = 0; s < 4; s++)
		for (k = 0; k < 4; k++)
			for (p = 2; p <= 3; p++) {
				/* REPLICAS was captured in two setups. */
				if (k == CRW_REPLICAS && s >= 2)
					continue;
				snprintf(name, sizeof(name), "%s-%s-resp%d",
				    setups[s], kinds[k], p);
				out = capture(name, k, &outlen);
				free(out);
			}
}

/* Some outputs byte for byte. */
static void
test_exact(void)
{
	static const char slots2[] =
	    "*3\r\n*4\r\n:0\r\n:5460\r\n"
	    "*4\r\n$9\r\n" LOCAL "\r\n:17001\r\n"
	    "$40\r\nd5be608ddc406ba1fe1ac93311023452f4873f23\r\n"
	    "*2\r\n$2\r\nip\r\n$9\r\n" LOCAL "\r\n"
	    "*4\r\n$9\r\n" LOCAL "\r\n:17004\r\n"
	    "$40\r\n4c0fc417f30b886fea6fc603202e8056c43ed015\r\n"
	    "*2\r\n$2\r\nip\r\n$9\r\n" LOCAL "\r\n"
	    "*3\r\n:5461\r\n:10922\r\n"
	    "*4\r\n$9\r\n" LOCAL "\r\n:17002\r\n"
	    "$40\r\n0825f45d7a16000b4d969deda33ee38a4bd9907b\r\n"
	    "*2\r\n$2\r\nip\r\n$9\r\n" LOCAL "\r\n"
	    "*3\r\n:10923\r\n:16383\r\n"
	    "*4\r\n$9\r\n" LOCAL "\r\n:17003\r\n"
	    "$40\r\n283a11d82949a2a926e0a8c7fed04e10c991b719\r\n"
	    "*2\r\n$2\r\nip\r\n$9\r\n" LOCAL "\r\n";
	/* Unknown endpoint: the null stays, ip and hostname are local. */
	static const char unknown3[] =
	    "*3\r\n*4\r\n:0\r\n:5460\r\n"
	    "*4\r\n_\r\n:17001\r\n"
	    "$40\r\nd5be608ddc406ba1fe1ac93311023452f4873f23\r\n"
	    "%2\r\n$2\r\nip\r\n$9\r\n" LOCAL "\r\n"
	    "$8\r\nhostname\r\n$9\r\n" LOCAL "\r\n";
	static const char nodes3[] =
	    "=519\r\ntxt:"
	    "d5be608ddc406ba1fe1ac93311023452f4873f23 " LOCAL ":17001@37101,"
	    LOCAL " myself,master - 0 1796373316000 1 connected 0-5460\n"
	    "4c0fc417f30b886fea6fc603202e8056c43ed015 " LOCAL ":17004@37104,"
	    LOCAL " slave d5be608ddc406ba1fe1ac93311023452f4873f23 0 "
	    "1796373319558 1 connected\n"
	    "283a11d82949a2a926e0a8c7fed04e10c991b719 " LOCAL ":17003@37103,"
	    LOCAL " master - 0 1796373318553 3 connected 10923-16383\n"
	    "0825f45d7a16000b4d969deda33ee38a4bd9907b " LOCAL ":17002@37102,"
	    LOCAL " master - 0 1796373317548 2 connected 5461-10922\n"
	    "\r\n";
	/* Node 2 announces no host name: no ",LOCAL" added. */
	static const char nohost2[] =
	    "0825f45d7a16000b4d969deda33ee38a4bd9907b " LOCAL ":17002@37102 "
	    "master - 0 1796373330604 2 connected 5461-10922\n\r\n";
	static const char replicas2[] =
	    "*1\r\n$147\r\n4c0fc417f30b886fea6fc603202e8056c43ed015 "
	    LOCAL ":17004@37104," LOCAL " slave "
	    "d5be608ddc406ba1fe1ac93311023452f4873f23 0 1796373317000 1 "
	    "connected\r\n";
	/* Node 2 with no host name: endpoint "?" kept, no hostname field. */
	static const char nohost3[] =
	    "%7\r\n$2\r\nid\r\n$40\r\n0825f45d7a16000b4d969deda33ee38a4bd9907b"
	    "\r\n$4\r\nport\r\n:17002\r\n$2\r\nip\r\n$9\r\n" LOCAL "\r\n"
	    "$8\r\nendpoint\r\n$1\r\n?\r\n$4\r\nrole\r\n";
	char *out;
	size_t n;

	out = capture("host-slots-resp2", CRW_SLOTS, &n);
	CHECK(out != NULL && n == sizeof(slots2) - 1 &&
	    memcmp(out, slots2, n) == 0);
	free(out);
	out = capture("unknown-slots-resp3", CRW_SLOTS, &n);
	CHECK(out != NULL && n > sizeof(unknown3) &&
	    memcmp(out, unknown3, sizeof(unknown3) - 1) == 0);
	free(out);
	out = capture("host-nodes-resp3", CRW_NODES, &n);
	CHECK(out != NULL && n == sizeof(nodes3) - 1 &&
	    memcmp(out, nodes3, n) == 0);
	free(out);
	out = capture("nohost-nodes-resp2", CRW_NODES, &n);
	CHECK(out != NULL && n > sizeof(nohost2) && memcmp(out + n -
	    (sizeof(nohost2) - 1), nohost2, sizeof(nohost2) - 1) == 0);
	CHECK(out != NULL && memcmp(out, "$505\r\n", 6) == 0);
	free(out);
	out = capture("host-replicas-resp2", CRW_REPLICAS, &n);
	CHECK(out != NULL && n == sizeof(replicas2) - 1 &&
	    memcmp(out, replicas2, n) == 0);
	free(out);
	out = capture("nohost-shards-resp3", CRW_SHARDS, &n);
	CHECK(out != NULL && memmem(out, n, nohost3,
	    sizeof(nohost3) - 1) != NULL);
	free(out);
}

/* crw_topology(${kind}, ${in}) gives ${want}: output ${exp} (DONE), the
 * miss "${exp}" (UNKNOWN), or a reason starting with ${exp} (BAD). */
static void
topo(int kind, const char *in, size_t len, int want, const char *exp)
{
	char why[128], *out = NULL, host[300];
	struct crw_miss miss;
	size_t outlen = 0;
	int rc;

	cases++;
	memset(&miss, 0, sizeof(miss));
	rc = crw_topology(kind, in, len, map, &out, &outlen, &miss, why,
	    sizeof(why));
	if (rc != want)
		fprintf(stderr, "topo %d %.40s...: rc %d (%s), want %d\n",
		    kind, in, rc, rc == CRW_BAD ? why : miss.host, want);
	CHECK(rc == want);
	CHECK((rc == CRW_DONE) == (out != NULL));
	if (rc == CRW_DONE && exp != NULL)
		CHECK(outlen == strlen(exp) && memcmp(out, exp, outlen) == 0);
	if (rc == CRW_UNKNOWN) {
		snprintf(host, sizeof(host), "%s:%u", miss.host, miss.port);
		CHECK(exp == NULL || strcmp(host, exp) == 0);
	}
	if (rc == CRW_BAD) {
		CHECK(why[0] != '\0');
		CHECK(exp == NULL || strncmp(why, exp, strlen(exp)) == 0);
	}
	free(out);
}

/* A NODES (or REPLICAS) reply of one ${type} string around ${in}, and
 * its expected rewrite around ${exp}. */
static void
text_case(int kind, char type, const char *in, int want, const char *exp)
{
	char a[1024], b[1024];
	const char *pre = kind == CRW_REPLICAS ? "*1\r\n" : "";
	const char *txt = type == '=' ? "txt:" : "";
	size_t x = type == '=' ? 4 : 0;

	snprintf(a, sizeof(a), "%s%c%zu\r\n%s%s\r\n", pre, type,
	    strlen(in) + x, txt, in);
	if (want == CRW_DONE)
		snprintf(b, sizeof(b), "%s%c%zu\r\n%s%s\r\n", pre, type,
		    strlen(exp) + x, txt, exp);
	topo(kind, a, strlen(a), want, want == CRW_DONE ? b : exp);
}

#define TOPO(k, s, want, exp)	topo(k, s, sizeof(s) - 1, want, exp)

static void
test_topology_cases(void)
{
	static const char deep[] = "*1\r\n";
	struct cmap *swap, *bigmap;
	char *bomb, *big, *in, host[201];
	size_t i, n, len;
	int k;

	/* Errors and nulls pass; an empty reply needs nothing. */
	for (k = CRW_SLOTS; k <= CRW_REPLICAS; k++) {
		TOPO(k, "-ERR This instance has cluster support disabled\r\n",
		    CRW_SAME, NULL);
		TOPO(k, "!5\r\nERR x\r\n", CRW_SAME, NULL);
		TOPO(k, "_\r\n", CRW_SAME, NULL);
		TOPO(k, "$-1\r\n", CRW_SAME, NULL);
		TOPO(k, "*-1\r\n", CRW_SAME, NULL);
		TOPO(k, ":1\r\n", CRW_BAD, NULL);
		TOPO(k, "", CRW_BAD, "truncated");
		TOPO(k, "*1\r\n:1\r\n:2\r\n", CRW_BAD, "bytes after");
		TOPO(k, "*3\r\n$?\r\n", CRW_BAD, NULL);
		TOPO(k, "*2147483647\r\n:1\r\n", CRW_BAD, "element count");
		TOPO(k, "%4611686018427387904\r\n", CRW_BAD, "element count");
		TOPO(k, "*9223372036854775807\r\n", CRW_BAD, "element count");
		TOPO(k, "*99999999999999999999\r\n", CRW_BAD, "malformed");
		TOPO(k, "$9999999999\r\nab\r\n", CRW_BAD, "string length");
		TOPO(k, "*1\r\n$3\r\nab\r\n", CRW_BAD, NULL);
		TOPO(k, "*1\r\n+a\rb\r\n", CRW_BAD, "line without");
	}
	TOPO(CRW_SLOTS, "*0\r\n", CRW_SAME, NULL);
	TOPO(CRW_REPLICAS, "*0\r\n", CRW_SAME, NULL);
	TOPO(CRW_SLOTS, "%1\r\n:1\r\n:2\r\n", CRW_BAD, "CLUSTER SLOTS");
	TOPO(CRW_SLOTS, "*1\r\n*2\r\n:0\r\n:1\r\n", CRW_BAD, "slot range");
	TOPO(CRW_SLOTS, "*1\r\n*3\r\n+0\r\n:1\r\n*2\r\n$1\r\nh\r\n:7\r\n",
	    CRW_BAD, "slot range bounds");
	TOPO(CRW_SLOTS, "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$10\r\nnode1.test"
	    "\r\n$5\r\n27101\r\n", CRW_BAD, "slot node port");
	TOPO(CRW_SLOTS, "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$10\r\nnode1.test"
	    "\r\n:99999\r\n", CRW_BAD, "slot node port");
	TOPO(CRW_SLOTS, "*1\r\n*3\r\n:0\r\n:1\r\n*4\r\n$10\r\nnode1.test"
	    "\r\n:27101\r\n$1\r\ni\r\n:5\r\n", CRW_BAD, "slot node metadata");
	TOPO(CRW_SLOTS, "*1\r\n*3\r\n:0\r\n:1\r\n*4\r\n$10\r\nnode1.test"
	    "\r\n:27101\r\n$1\r\ni\r\n*1\r\n$2\r\nip\r\n", CRW_BAD,
	    "slot node metadata");
	/* Redis before 7: [ip, port] and [ip, port, id]; a simple string. */
	TOPO(CRW_SLOTS, "*1\r\n*4\r\n:0\r\n:1\r\n*2\r\n$9\r\n127.0.0.1\r\n"
	    ":27101\r\n*3\r\n+node3.test\r\n:27103\r\n$1\r\nx\r\n",
	    CRW_DONE, "*1\r\n*4\r\n:0\r\n:1\r\n*2\r\n$9\r\n" LOCAL "\r\n"
	    ":17001\r\n*3\r\n+" LOCAL "\r\n:17003\r\n$1\r\nx\r\n");
	/* Unknown: by the first name tried (the endpoint). */
	TOPO(CRW_SLOTS, "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$5\r\nother\r\n"
	    ":27101\r\n", CRW_UNKNOWN, "other:27101");
	TOPO(CRW_SLOTS, "*1\r\n*3\r\n:0\r\n:1\r\n*4\r\n_\r\n:27109\r\n"
	    "$1\r\nx\r\n%1\r\n$2\r\nip\r\n$8\r\n10.0.0.9\r\n", CRW_UNKNOWN,
	    "10.0.0.9:27109");
	/* Found by the metadata's ip when the endpoint is not mapped. */
	TOPO(CRW_SLOTS, "*1\r\n*3\r\n:0\r\n:1\r\n*4\r\n$1\r\nz\r\n:27102\r\n"
	    "$1\r\nx\r\n*4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$1\r\nk\r\n"
	    "$1\r\nv\r\n", CRW_DONE, "*1\r\n*3\r\n:0\r\n:1\r\n*4\r\n$9\r\n"
	    LOCAL "\r\n:17002\r\n$1\r\nx\r\n*4\r\n$2\r\nip\r\n$9\r\n" LOCAL
	    "\r\n$1\r\nk\r\n$1\r\nv\r\n");
	/* SHARDS over TLS: looked up by tls-port, which becomes 0. */
	TOPO(CRW_SHARDS, "*1\r\n%2\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n"
	    "*1\r\n%4\r\n$4\r\nport\r\n:6379\r\n$8\r\ntls-port\r\n:27103\r\n"
	    "$8\r\nendpoint\r\n$10\r\nnode3.test\r\n$2\r\nip\r\n$0\r\n\r\n",
	    CRW_DONE, "*1\r\n%2\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n"
	    "*1\r\n%4\r\n$4\r\nport\r\n:17003\r\n$8\r\ntls-port\r\n:0\r\n"
	    "$8\r\nendpoint\r\n$9\r\n" LOCAL "\r\n$2\r\nip\r\n$0\r\n\r\n");
	/* A TLS-only cluster: no "port"; "tls-port" is renamed "port". */
	TOPO(CRW_SHARDS, "*1\r\n%1\r\n$5\r\nnodes\r\n*1\r\n%3\r\n"
	    "$8\r\ntls-port\r\n:27103\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
	    "$8\r\ntls-port\r\n:27103\r\n", CRW_DONE,
	    "*1\r\n%1\r\n$5\r\nnodes\r\n*1\r\n%3\r\n"
	    "$4\r\nport\r\n:17003\r\n$2\r\nip\r\n$9\r\n" LOCAL "\r\n"
	    "$8\r\ntls-port\r\n:0\r\n");
	TOPO(CRW_SHARDS, "*1\r\n%1\r\n$5\r\nnodes\r\n*1\r\n%1\r\n$2\r\nip\r\n"
	    "$1\r\nx\r\n", CRW_BAD, "shard node without a port");
	TOPO(CRW_SHARDS, "*1\r\n%1\r\n$5\r\nnodes\r\n*1\r\n%2\r\n$2\r\nip\r\n"
	    "$1\r\nx\r\n$4\r\nport\r\n:1\r\n", CRW_UNKNOWN, "x:1");
	TOPO(CRW_SHARDS, "*1\r\n*3\r\n$5\r\nnodes\r\n*0\r\n:1\r\n", CRW_BAD,
	    "shard is not a map");
	TOPO(CRW_SHARDS, "*1\r\n%1\r\n$5\r\nnodes\r\n:1\r\n", CRW_BAD,
	    "shard nodes");
	TOPO(CRW_SHARDS, "*1\r\n%1\r\n$5\r\nnodes\r\n*1\r\n%1\r\n$2\r\nip\r\n"
	    ":1\r\n", CRW_BAD, "shard node address");
	/* NODES lines: noaddr, failed or handshaking strangers kept. */
	text_case(CRW_NODES, '$',
	    "aaa :0@0 noaddr,master - 0 0 0 disconnected\n"
	    "bbb 10.9.9.9:7000@17000 master,fail - 0 0 1 disconnected\n"
	    "ccc 10.9.9.8:7000@17000 handshake - 0 0 0 connected",
	    CRW_SAME, NULL);
	text_case(CRW_NODES, '=',
	    "bbb 10.9.9.9:7000@17000 master,fail - 0 0 1 disconnected\n"
	    "ccc 10.9.9.8:7000@17000 master,fail? - 0 0 0 connected\n",
	    CRW_UNKNOWN, "10.9.9.8:7000");
	/* Found by host name; old lines without a bus port; aux fields;
	 * an empty host name stays empty. */
	text_case(CRW_NODES, '$',
	    "a 10.0.0.1:27101@37101,node1.test,shard-id=5 master - 0 0 1 c\n"
	    "b 127.0.0.1:27102 master - 0 0 1 c\n"
	    "c 127.0.0.1:27103@1, master\n", CRW_DONE,
	    "a " LOCAL ":17001@37101," LOCAL ",shard-id=5 master - 0 0 1 c\n"
	    "b " LOCAL ":17002 master - 0 0 1 c\n"
	    "c " LOCAL ":17003@1, master\n");
	text_case(CRW_NODES, '=', "a 127.0.0.1:27101@1 myself,master",
	    CRW_DONE, "a " LOCAL ":17001@1 myself,master");
	text_case(CRW_NODES, '$', "ab", CRW_BAD, "node line without an");
	text_case(CRW_NODES, '$', "ab cd", CRW_BAD, "node line without fl");
	text_case(CRW_NODES, '$', "ab cd ef", CRW_BAD, "node address");
	text_case(CRW_NODES, '$', "ab c:99999 ef", CRW_BAD, "node address");
	text_case(CRW_NODES, '$', "ab c: ef", CRW_BAD, "node address");
	text_case(CRW_NODES, '$', "ab c:1x ef", CRW_BAD, "node address");
	TOPO(CRW_NODES, "+a 127.0.0.1:27101 master\r\n", CRW_BAD, NULL);
	TOPO(CRW_NODES, "*1\r\n$1\r\na\r\n", CRW_BAD, NULL);
	text_case(CRW_REPLICAS, '=', "r 127.0.0.1:27104@2 slave m", CRW_DONE,
	    "r " LOCAL ":17004@2 slave m");
	text_case(CRW_REPLICAS, '$', "r 127.0.0.1:27105@2 slave m",
	    CRW_UNKNOWN, "127.0.0.1:27105");
	TOPO(CRW_REPLICAS, "*1\r\n:1\r\n", CRW_BAD, NULL);
	/* Attributes in front are kept. */
	TOPO(CRW_REPLICAS, "|1\r\n+k\r\n+v\r\n*1\r\n$27\r\n"
	    "r 127.0.0.1:27104@2 slave m\r\n", CRW_DONE,
	    "|1\r\n+k\r\n+v\r\n*1\r\n$27\r\nr " LOCAL ":17004@2 slave m\r\n");
	TOPO(9, "*1\r\n:1\r\n", CRW_BAD, "unknown");

	/* Depth: 32 levels are RESP, 33 are not. */
	n = strlen(deep);
	bomb = malloc(40 * n + 8);
	for (i = 0; i < 40; i++)
		memcpy(bomb + i * n, deep, n);
	memcpy(bomb + 40 * n, ":1\r\n", 4);
	topo(CRW_SLOTS, bomb + 8 * n, 32 * n + 4, CRW_BAD, "slot range is");
	topo(CRW_SLOTS, bomb + 7 * n, 33 * n + 4, CRW_BAD, "nested too deep");
	topo(CRW_NODES, bomb, 40 * n + 4, CRW_BAD, "nested too deep");
	free(bomb);
	/* A chain of attributes is bounded by its bytes, not the stack. */
	n = 200000;
	bomb = malloc(n * 12 + 4);
	for (i = 0; i < n; i++)
		memcpy(bomb + i * 12, "|1\r\n:1\r\n:2\r\n", 12);
	memcpy(bomb + n * 12, "*0\r\n", 4);
	topo(CRW_SLOTS, bomb, n * 12 + 4, CRW_SAME, NULL);
	free(bomb);

	/* Every truncation of every capture: BAD, never a crash. */
	in = slurp("host-shards-resp3", &len);
	for (i = 0; i < len; i++)
		topo(CRW_SHARDS, in, i, CRW_BAD, NULL);
	free(in);
	in = slurp("nohost-nodes-resp3", &len);
	for (i = 0; i < len; i++)
		topo(CRW_NODES, in, i, CRW_BAD, NULL);
	free(in);

	/* Over CRW_OUT_MAX once rewritten: BAD. */
	memset(host, 'h', 200);
	host[200] = '\0';
	if ((bigmap = cmap_new(host)) == NULL ||
	    cmap_add(bigmap, "127.0.0.1", 9, 27101, 17001) != 0)
		exit(1);
	n = 40000;
	big = malloc(n * 26 + 32);
	len = (size_t)sprintf(big, "$%zu\r\n", n * 26);
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(big + len, "i 127.0.0.1:27101@1 x y z\n");
	len += (size_t)sprintf(big + len, "\r\n");
	topo(CRW_NODES, big, len, CRW_DONE, NULL);
	swap = map;
	map = bigmap;
	topo(CRW_NODES, big, len, CRW_BAD, "rewritten reply too large");
	map = swap;
	free(big);
	cmap_free(bigmap);
}

/* crw_redirect(${in}) gives ${want} and ${exp} (output, or miss). */
static void
redirect(const char *in, size_t len, const struct cmap *m, int want,
    const char *exp)
{
	char *out = NULL, host[300];
	struct crw_miss miss;
	size_t outlen = 0;
	int rc;

	cases++;
	memset(&miss, 0, sizeof(miss));
	rc = crw_redirect(in, len, m, &out, &outlen, &miss);
	if (rc != want)
		fprintf(stderr, "redirect %.*s: rc %d, want %d\n", (int)len,
		    in, rc, want);
	CHECK(rc == want);
	if (rc == CRW_DONE)
		CHECK(out != NULL && outlen == strlen(exp) &&
		    memcmp(out, exp, outlen) == 0);
	if (rc == CRW_UNKNOWN) {
		snprintf(host, sizeof(host), "%s:%u", miss.host, miss.port);
		CHECK(strcmp(host, exp) == 0);
	}
	free(out);
}

#define REDIRECT(s, want, exp)	redirect(s, sizeof(s) - 1, map, want, exp)

static void
test_redirect(void)
{
	static const char *const files[] = { "moved-resp2", "moved-resp3",
	    "ask-resp2", "ask-resp3", "other-error-resp2",
	    "other-error-resp3" };
	static const char *const want[] = {
	    "-MOVED 12182 " LOCAL ":17003\r\n",
	    "-MOVED 12182 " LOCAL ":17003\r\n",
	    "-ASK 5061 " LOCAL ":17002\r\n", "-ASK 5061 " LOCAL ":17002\r\n",
	    NULL, NULL };
	struct cmap *m6;
	char *in;
	size_t len;
	int i;

	for (i = 0; i < 6; i++) {
		in = slurp(files[i], &len);
		redirect(in, len, map, want[i] ? CRW_DONE : CRW_SAME,
		    want[i]);
		free(in);
	}
	REDIRECT("!28\r\nMOVED 12182 node3.test:27103\r\n", CRW_DONE,
	    "!27\r\nMOVED 12182 " LOCAL ":17003\r\n");
	REDIRECT("!22\r\nASK 0 NODE1.TEST:27101\r\n", CRW_DONE,
	    "!21\r\nASK 0 " LOCAL ":17001\r\n");
	REDIRECT("-MOVED 1 127.0.0.1:27104\r\n", CRW_DONE,
	    "-MOVED 1 " LOCAL ":17004\r\n");
	REDIRECT("-MOVED 1 node9.test:27101\r\n", CRW_UNKNOWN,
	    "node9.test:27101");
	REDIRECT("-ASK 1 node1.test:6379\r\n", CRW_UNKNOWN, "node1.test:6379");
	REDIRECT("-MOVED 1 :27101\r\n", CRW_UNKNOWN, ":27101");
	REDIRECT("!24\r\nMOVED 1 node9.test:27101\r\n", CRW_UNKNOWN,
	    "node9.test:27101");
	/* Not redirects, or not well formed: passed on. */
	REDIRECT("-ERR unknown command\r\n", CRW_SAME, NULL);
	REDIRECT("-MOVEDX 1 node1.test:27101\r\n", CRW_SAME, NULL);
	REDIRECT("-moved 1 node1.test:27101\r\n", CRW_SAME, NULL);
	REDIRECT("-MOVED 16384 node1.test:27101\r\n", CRW_SAME, NULL);
	REDIRECT("-MOVED x node1.test:27101\r\n", CRW_SAME, NULL);
	REDIRECT("-MOVED 1 node1.test:27101 x\r\n", CRW_SAME, NULL);
	REDIRECT("-MOVED 1 node1.test:99999\r\n", CRW_SAME, NULL);
	REDIRECT("-MOVED 1 node1.test\r\n", CRW_SAME, NULL);
	REDIRECT("-MOVED 1 node1.test:\r\n", CRW_SAME, NULL);
	REDIRECT("-MOVED 1  node1.test:27101\r\n", CRW_SAME, NULL);
	REDIRECT("-MOVED 1 node1.test:27101", CRW_SAME, NULL);
	REDIRECT("-MOVED 1 node1.test:27101\n", CRW_SAME, NULL);
	REDIRECT("-MOVED 1 no\rde1.test:27101\r\n", CRW_SAME, NULL);
	REDIRECT("!29\r\nMOVED 12182 node3.test:27103\r\n", CRW_SAME, NULL);
	REDIRECT("!29\r\nMOVED 12182 node3.test:27103\r\n", CRW_SAME, NULL);
	REDIRECT("!27\r\nMOVED 12182 node3.test:27103\r\n", CRW_SAME, NULL);
	REDIRECT("!x\r\nMOVED 12182 node3.test:27103\r\n", CRW_SAME, NULL);
	REDIRECT("!1234567\r\nMOVED 1 node3.test:27103\r\n", CRW_SAME, NULL);
	REDIRECT("+MOVED 1 node1.test:27101\r\n", CRW_SAME, NULL);
	REDIRECT("$26\r\nMOVED 1 node1.test:27101\r\n", CRW_SAME, NULL);
	REDIRECT("-MOVED\r\n", CRW_SAME, NULL);
	REDIRECT("-ASK\r\n", CRW_SAME, NULL);
	redirect("-MOVED 1 node1.test:27101\r\n", 27, NULL, CRW_UNKNOWN,
	    "node1.test:27101");
	redirect("", 0, map, CRW_SAME, NULL);
	/* IPv6 (not bracketed: the host is up to the last ':'); an unknown
	 * endpoint "?" stays "?" when the map has it. */
	if ((m6 = cmap_new("::1")) == NULL ||
	    cmap_add(m6, "fd00::5", 7, 6379, 16379) != 0 ||
	    cmap_add(m6, "?", 1, 7000, 17000) != 0)
		exit(1);
	redirect("-MOVED 7 fd00::5:6379\r\n", 23, m6, CRW_DONE,
	    "-MOVED 7 ::1:16379\r\n");
	redirect("-ASK 7 ?:7000\r\n", 15, m6, CRW_DONE, "-ASK 7 ?:17000\r\n");
	redirect("-ASK 7 ?:7001\r\n", 15, m6, CRW_UNKNOWN, "?:7001");
	cmap_free(m6);
}

static const struct ctopo_node *
node(const struct ctopo_node *v, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strncmp(v[i].id, id, 8) == 0)
			return (&v[i]);
	return (NULL);
}

/* One discovery: node ${id} as ${ep}, ${ip}, ${host}. */
static void
discover(const char *name, int kind, const char *id, const char *ep,
    const char *ip, const char *host, unsigned int port, int primary)
{
	const struct ctopo_node *x;
	struct ctopo_node *v;
	char why[128], *in;
	size_t len, n;

	cases++;
	in = slurp(name, &len);
	CHECK(ctopo_parse(kind, in, len, &v, &n, why, sizeof(why)) == 0);
	CHECK(n == 4);
	CHECK((x = node(v, n, id)) != NULL);
	if (x != NULL) {
		if (strcmp(x->endpoint, ep) != 0 || strcmp(x->ip, ip) != 0 ||
		    strcmp(x->hostname, host) != 0)
			fprintf(stderr, "%s: %s %s %s %u\n", name, x->endpoint,
			    x->ip, x->hostname, x->port);
		CHECK(strcmp(x->endpoint, ep) == 0);
		CHECK(strcmp(x->ip, ip) == 0);
		CHECK(strcmp(x->hostname, host) == 0);
		CHECK(x->port == port && x->primary == primary);
		CHECK(x->failed == 0 && strlen(x->id) == 40);
	}
	ctopo_free(v, n);
	free(in);
}

static void
test_discovery(void)
{
	struct ctopo_node *v;
	char why[128], small[8];
	size_t n, i;
	int k;

	for (k = CRW_SLOTS; k <= CRW_SHARDS; k++) {
		const char *s = k == CRW_SLOTS ? "slots" : "shards";
		char name[64];
		int p;

		for (p = 2; p <= 3; p++) {
#define NAME(setup)	(snprintf(name, sizeof(name), "%s-%s-resp%d", setup, \
			    s, p), name)
			discover(NAME("host"), k, "d5be608d", "node1.test",
			    "127.0.0.1", "node1.test", 27101, 1);
			discover(NAME("host"), k, "4c0fc417", "node4.test",
			    "127.0.0.1", "node4.test", 27104, 0);
			discover(NAME("ip"), k, "283a11d8", "127.0.0.1",
			    "127.0.0.1", "node3.test", 27103, 1);
			/* Unknown endpoint: "" as MOVED names it (null
			 * in SLOTS). */
			discover(NAME("unknown"), k, "0825f45d", "",
			    "127.0.0.1", "node2.test", 27102, 1);
			discover(NAME("nohost"), k, "0825f45d", "?",
			    "127.0.0.1", "", 27102, 1);
#undef NAME
		}
	}
	/* Refusals say why: an error reply's text, printable. */
#define PARSE(k, s, w)	ctopo_parse(k, s, sizeof(s) - 1, &v, &n, w, sizeof(w))
	CHECK(PARSE(CRW_SLOTS, "-ERR no\x01 cluster\r\n", why) == -1 &&
	    strcmp(why, "ERR no? cluster") == 0);
	CHECK(v == NULL && n == 0);
	CHECK(PARSE(CRW_SHARDS, "_\r\n", why) == -1 &&
	    strcmp(why, "null reply") == 0);
	CHECK(PARSE(CRW_NODES, "*0\r\n", why) == -1 && why[0] != '\0');
	CHECK(PARSE(CRW_SLOTS, "*0\r\n", why) == 0 && n == 0);
	ctopo_free(v, n);
	CHECK(PARSE(CRW_SLOTS, "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\na"
	    "\r\n:0\r\n", why) == -1 && strcmp(why, "slot node without a "
	    "port") == 0);
	CHECK(PARSE(CRW_SHARDS, "*1\r\n%1\r\n$5\r\nnodes\r\n*1\r\n%1"
	    "\r\n$2\r\nip\r\n$1\r\nx\r\n", why) == -1 &&
	    strcmp(why, "shard node without a port") == 0);
	CHECK(PARSE(CRW_SHARDS, "*1\r\n%1\r\n$5\r\nnodes\r\n*1\r\n%1"
	    "\r\n$2\r\nip\r\n$1\r\nx\r\n", small) == -1 &&
	    strcmp(small, "shard n") == 0);
	CHECK(PARSE(CRW_SHARDS, "*2\r\n", why) == -1 &&
	    strcmp(why, "element count past the frame") == 0);
	/* A failed node, tls-port preferred, a Redis 6 SLOTS ([ip, port]). */
	CHECK(PARSE(CRW_SHARDS, "*1\r\n%1\r\n$5\r\nnodes\r\n*1\r\n%3"
	    "\r\n$4\r\nport\r\n:1\r\n$8\r\ntls-port\r\n:2\r\n$6\r\n"
	    "health\r\n$4\r\nfail\r\n", why) == 0 && n == 1 &&
	    v[0].port == 2 && v[0].failed == 1 && v[0].primary == 0);
	ctopo_free(v, n);
	CHECK(PARSE(CRW_SLOTS, "*2\r\n*3\r\n:0\r\n:1\r\n*2\r\n$2\r\nip"
	    "\r\n:7\r\n*4\r\n:2\r\n:3\r\n*2\r\n$2\r\nip\r\n:7\r\n"
	    "*2\r\n$2\r\nip\r\n:9\r\n", why) == 0 && n == 2);
	for (i = 0; i < n; i++)
		CHECK(strcmp(v[i].ip, "ip") == 0 && v[i].hostname[0] == '\0' &&
		    v[i].primary == (v[i].port == 7));
	ctopo_free(v, n);
}

int
main(void)
{

	if (getenv("top_srcdir") != NULL)
		top = getenv("top_srcdir");
	maps();
	test_map();
	test_captures();
	test_exact();
	test_topology_cases();
	test_redirect();
	test_discovery();
	cmap_free(map);
	cmap_free(local);
	printf("unit_cluster_rewrite: %d cases, %d failures\n", cases,
	    failures);
	return (failures ? 1 : 0);
}
