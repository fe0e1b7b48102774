/*
 * libFuzzer harness: the cluster rewriters (src/cluster_rewrite.c,
 * cluster_nodes.c, cluster_topo.c, cluster_resp.c) and the node map.
 * The input is one frame, given to crw_redirect, to crw_topology as the
 * reply of each of the four commands, and to ctopo_parse for SLOTS and
 * SHARDS, with a fixed map (the names and ports of test/data/cluster and
 * a few more, on 127.0.0.1:1700x).
 *
 * Invariants: outcomes are the documented ones; a CRW_BAD or a refused
 * parse says why in printable ASCII; a rewritten frame is one valid RESP
 * value of the same type, and rewriting it again with a map of the local
 * listeners alone (127.0.0.1:1700x -> itself) gives the same bytes: every
 * node named was moved to a local listener, and nothing else changed.  A
 * miss names a host of the input.  Discovered nodes have ports 1..65535
 * and terminated names.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_map.h"
#include "cluster_resp.h"
#include "cluster_rewrite.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cmap *map, *local;

static void
setup(void)
{
	static const char *const names[] = { "node1.test", "node2.test",
	    "node3.test", "node4.test", "127.0.0.1", "10.0.0.1", "h" };
	unsigned int i, j;
	char n[16];

	if ((map = cmap_new("127.0.0.1")) == NULL ||
	    (local = cmap_new("127.0.0.1")) == NULL)
		abort();
	for (i = 0; i < 4; i++) {
		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			if (cmap_add(map, names[j], strlen(names[j]),
			    27101 + i, 17001 + i) != 0 ||
			    cmap_add(map, names[j], strlen(names[j]),
			    7001 + i, 17001 + i) != 0)
				abort();
		CHECK(cmap_add(local, "127.0.0.1", 9, 17001 + i,
		    17001 + i) == 0);
	}
	snprintf(n, sizeof(n), "NODE1.TEST");
	CHECK(cmap_lookup(map, n, strlen(n), 27101) == 17001);
	CHECK(cmap_lookup(map, n, strlen(n), 27100) == 0);
	CHECK(cmap_count(local) == 4);
}

static void
check_miss(const struct crw_miss *miss, const uint8_t *data, size_t size)
{

	CHECK(memchr(miss->host, '\0', sizeof(miss->host)) != NULL);
	CHECK(miss->port <= 65535);
	/* The host is bytes of the input (or empty / cut to fit). */
	CHECK(miss->host[0] == '\0' || strlen(miss->host) == 255 ||
	    memmem(data, size, miss->host, strlen(miss->host)) != NULL);
}

static void
topology(int kind, const uint8_t *data, size_t size)
{
	char why[128], why2[128], *out = NULL, *out2 = NULL;
	size_t outlen = 0, outlen2 = 0;
	struct crw_miss miss;
	const char *w;
	int rc, rc2;

	memset(&miss, 0, sizeof(miss));
	rc = crw_topology(kind, (const char *)data, size, map, &out, &outlen,
	    &miss, why, sizeof(why));
	CHECK(rc >= CRW_SAME && rc <= CRW_BAD);
	CHECK((rc == CRW_DONE) == (out != NULL));
	if (rc == CRW_BAD)
		check_why(why, sizeof(why));
	if (rc == CRW_UNKNOWN)
		check_miss(&miss, data, size);
	if (rc != CRW_DONE)
		return;
	CHECK(outlen > 0 && outlen <= CRW_OUT_MAX);
	CHECK(cresp_check(out, outlen, &w) == 0);
	/* Same type (attributes in front are copied as they are). */
	CHECK(data[0] == '|' || out[0] == (char)data[0]);
	rc2 = crw_topology(kind, out, outlen, local, &out2, &outlen2, &miss,
	    why2, sizeof(why2));
	CHECK(rc2 == CRW_DONE && outlen2 == outlen &&
	    memcmp(out, out2, outlen) == 0);
	free(out2);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctopo_node *nodes;
	struct crw_miss miss;
	char why[128], *out = NULL;
	size_t outlen = 0, n, i;
	int rc, kind;

	if (map == NULL)
		setup();
	memset(&miss, 0, sizeof(miss));
	rc = crw_redirect((const char *)data, size, map, &out, &outlen,
	    &miss);
	CHECK(rc == CRW_SAME || rc == CRW_DONE || rc == CRW_UNKNOWN);
	if (rc == CRW_UNKNOWN)
		check_miss(&miss, data, size);
	if (rc == CRW_DONE) {
		CHECK(out[0] == (char)data[0] && outlen >= 8);
		CHECK(out[outlen - 2] == '\r' && out[outlen - 1] == '\n');
		CHECK(memmem(out, outlen, ":1700", 5) != NULL);
		free(out);
	}
	for (kind = CRW_SLOTS; kind <= CRW_REPLICAS; kind++)
		topology(kind, data, size);
	for (kind = CRW_SLOTS; kind <= CRW_SHARDS; kind++) {
		if (ctopo_parse(kind, (const char *)data, size, &nodes, &n,
		    why, sizeof(why)) != 0) {
			check_why(why, sizeof(why));
			CHECK(nodes == NULL && n == 0);
			continue;
		}
		for (i = 0; i < n; i++) {
			CHECK(nodes[i].port > 0 && nodes[i].port <= 65535);
			CHECK(nodes[i].id != NULL && nodes[i].ip != NULL &&
			    nodes[i].endpoint != NULL &&
			    nodes[i].hostname != NULL);
			CHECK(strlen(nodes[i].hostname) <= 255);
		}
		ctopo_free(nodes, n);
	}
	return (0);
}
