#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Redis Cluster through redtun (cluster = true): a real TLS cluster of 6
# redis-server 7 (3 primaries, 3 replicas, host names announced,
# test/cluster-lib.sh) behind one redtun service on 127.0.0.1:6379, and
# unmodified clients that know only that address:
#   - redtun logs the discovery and one listener per node (17001-17020);
#   - CLUSTER SLOTS, SHARDS, NODES and REPLICAS, in RESP2 and RESP3, one by
#     one, pipelined and inside MULTI/EXEC, name only 127.0.0.1 and ports of
#     17001-17020 (checked by structure and as redis-cli prints them); a
#     MOVED does too (plain redis-cli, pipelined, queued in MULTI), and the
#     port it names serves the key;
#   - redis-cli -c: SET/GET of 1,000 keys spread over every slot range (one
#     session each) and a session whose commands hop between nodes;
#   - python3-redis RedisCluster: pipelines, scan_iter over all nodes;
#   - ioredis Cluster with scaleReads "slave": the replicas got the GETs;
#   - redis-benchmark --cluster -n 20000 -t get,set.
# Runs in private mount + network namespaces (unshare -mn); skips without.
set -eu

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/netns.sh"
netns_reexec cluster-clients "$@"

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"
. "$top_srcdir/test/cluster-lib.sh"

need_cmd redis-server redis-cli redis-benchmark openssl timeout ip mount getent ss
need_redtun
cluster_need_python

step "private network, certificates, a TLS cluster of 6"
cluster_net
cluster_certs
cluster_start 6

step "redtun with cluster = true"
# A control: the same node behind a service without cluster = true (its
# replies are not rewritten, so the checks below must fail on it).
CLUSTER_EXTRA_SERVICES="  control = { client = true; accept = \"127.0.0.1:6380\"; connect = \"$(cluster_host 1):6379\"; };"
# The status endpoint (port 9187 is this namespace's own).
CLUSTER_EXTRA_GLOBALS='status = "127.0.0.1:9187";'
cluster_conf 'clusterRefresh = 1;' 'clusterGrace = 60;' >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
wait_for_log "$LOG" "$CLUSTER_UP_RE" 10
wait_until 10 port_listening 6379 || fail "nothing listens on 127.0.0.1:6379"
# One listener a node, each logged with its address.
n_logged=$(node_ports_logged | wc -l)
assert_eq 6 "$n_logged" "node listeners logged (lines naming node and 127.0.0.1:170xx)"
n_listen=$(node_ports_listening)
assert_eq 6 "$n_listen" "ports of 17001-17020 listening"
say "redtun up with 6 node listeners at $(elapsed)"

step "the topology through redtun names only local listeners"
id1=$(cluster_node_id 1)
# One by one, pipelined and inside MULTI/EXEC, RESP2 and RESP3; with a MOVED
# (a key on node 2) pipelined and queued in a transaction.
mkey=$(cluster_key_on 2 mvp) || hard_error "no key on node 2"
out=$("$PY" "$CC_PY" topo --port 6379 --id "$id1" --expect-nodes 6 --moved-key "$mkey") ||
	fail "topology replies through redtun: $out"
printf '%s\n' "$out" | sed 's/^/  /'
for cmd in "CLUSTER SLOTS" "CLUSTER SHARDS" "CLUSTER NODES" "CLUSTER REPLICAS $id1"; do
	# shellcheck disable=SC2086 # the command's words
	out=$(rcli 6379 $cmd 2>&1)
	assert_local_only "redis-cli $cmd" "$out"
	# shellcheck disable=SC2086
	out=$(rcli 6379 -3 $cmd 2>&1)
	assert_local_only "redis-cli -3 $cmd" "$out"
done

# The checks can fail: the control service passes the nodes' own replies.
if out=$("$PY" "$CC_PY" topo --port 6380 --moved-key "$mkey" 2>&1); then
	fail "the topology checks passed on unrewritten replies: $out"
fi
assert_contains "$out" "FAIL: " "the checker's verdict on unrewritten replies"
say "control (cluster = false): $(printf '%s\n' "$out" | grep -c '^FAIL: ') problems found, e.g. $(printf '%s\n' "$out" | grep -m1 '^FAIL: ')"
if (assert_local_only "control" "$(rcli 6380 CLUSTER SLOTS)") 2>/dev/null; then
	fail "assert_local_only passed on an unrewritten CLUSTER SLOTS"
fi

step "MOVED through plain redis-cli (no -c)"
# A key that node 1 (behind the main port) does not serve.
key=$(cluster_key_on 2 mv) || hard_error "no key on node 2"
ccli_c SET "$key" moved-value >/dev/null
out=$(rcli 6379 GET "$key" 2>&1)
say "GET $key: $out"
assert_match "$out" "^(\(error\) )?MOVED [0-9]+ 127\.0\.0\.1:170(0[1-9]|1[0-9]|20)$" "MOVED names a local listener"
mport=${out##*:}
assert_eq "moved-value" "$(rcli "$mport" GET "$key")" "the port MOVED names serves the key"

step "redis-cli -c: 1,000 keys, one session to SET, one to GET"
for i in $(seq 1 1000); do echo "SET ck:$i v$i"; done >"$T/set.cmds"
for i in $(seq 1 1000); do echo "GET ck:$i"; done >"$T/get.cmds"
t1=$(date +%s%N)
timeout 60 redis-cli -c -h 127.0.0.1 -p 6379 <"$T/set.cmds" >"$T/set.out" 2>&1 ||
	fail "redis-cli -c SET session: $(tail -n 3 "$T/set.out")"
assert_eq 1000 "$(grep -c '^OK$' "$T/set.out" || true)" "OK replies to 1000 SETs"
timeout 60 redis-cli -c -h 127.0.0.1 -p 6379 <"$T/get.cmds" >"$T/get.raw" 2>&1 ||
	fail "redis-cli -c GET session: $(tail -n 3 "$T/get.raw")"
redirects=$(grep -c '^-> Redirected' "$T/get.raw" || true)
grep -v '^-> Redirected' "$T/get.raw" >"$T/get.out" || true
say "the GET session was redirected $redirects times"
[ "$redirects" -ge 2 ] || fail "the GET session was redirected only $redirects times: not cross-node"
assert_file_no_match "$T/get.raw" '^-> Redirected.*(cluster\.test|127\.0\.1\.|:6379$)' "redirects name local listeners only"
seq 1 1000 | sed 's/^/v/' >"$T/get.want"
diff -q "$T/get.want" "$T/get.out" >/dev/null ||
	fail "GET session differs: $(diff "$T/get.want" "$T/get.out" | head -n 5 | tr '\n' ' ')"
say "2000 commands in two redis-cli -c sessions: $((($(date +%s%N) - t1) / 1000000)) ms"
# Spread: every primary holds some of the keys (seen straight on the nodes).
total=0
for n in 1 2 3; do
	c=$(timeout 20 redis-cli --tls --cacert "$T/ca.crt" -h "$(cluster_ip "$n")" -p 6379 \
		--scan --pattern 'ck:*' | wc -l)
	say "node$n holds $c of the ck: keys"
	[ "$c" -gt 200 ] || fail "node$n holds only $c of 1000 keys: not spread over the slots"
	total=$((total + c))
done
assert_eq 1000 "$total" "keys on the primaries"

step "redis-cli -c: one session hopping between nodes"
# Keys on three different nodes, touched in turn; every reply is checked.
if ! { k1=$(cluster_key_on 1 hop) && k2=$(cluster_key_on 2 hop) && k3=$(cluster_key_on 3 hop); }; then
	hard_error "no keys on every primary"
fi
: >"$T/hop.cmds"
: >"$T/hop.want"
for r in $(seq 1 30); do
	for k in "$k1" "$k2" "$k3"; do
		echo "INCR $k" >>"$T/hop.cmds"
		echo "$r" >>"$T/hop.want"
	done
	echo "GET $k2" >>"$T/hop.cmds"
	echo "$r" >>"$T/hop.want"
done
timeout 60 redis-cli -c -h 127.0.0.1 -p 6379 <"$T/hop.cmds" >"$T/hop.raw" 2>&1 ||
	fail "redis-cli -c hopping session: $(tail -n 3 "$T/hop.raw")"
hops=$(grep -c '^-> Redirected' "$T/hop.raw" || true)
grep -v '^-> Redirected' "$T/hop.raw" >"$T/hop.out" || true
[ "$hops" -ge 60 ] || fail "the hopping session was redirected only $hops times"
diff -q "$T/hop.want" "$T/hop.out" >/dev/null ||
	fail "hopping session differs: $(diff "$T/hop.want" "$T/hop.out" | head -n 5 | tr '\n' ' ')"
say "120 commands over 3 nodes in one session, $hops redirects: ok"

step "python3-redis RedisCluster: pipelines, scan_iter over all nodes"
out=$(timeout 60 "$PY" "$CC_PY" suite --port 6379 2>&1) || fail "RedisCluster suite: $out"
printf '%s\n' "$out" | sed 's/^/  /'
nodes=$(printf '%s\n' "$out" | sed -n 's/^nodes //p')
for hp in $nodes; do
	assert_match "$hp" '^127\.0\.0\.1:(6379|170(0[1-9]|1[0-9]|20))$' "a node of RedisCluster's view"
done

step "ioredis Cluster with scaleReads: slave"
if command -v node >/dev/null 2>&1 && [ -d "$top_srcdir/test/node_modules/ioredis" ]; then
	for n in 1 2 3 4 5 6; do ccli "$n" CONFIG RESETSTAT >/dev/null; done
	out=$(cd "$top_srcdir/test" && timeout 60 node cluster_ioredis.js 6379 2>&1) ||
		fail "ioredis Cluster: $out"
	printf '%s\n' "$out" | sed 's/^/  /'
	assert_contains "$out" "passed 5/5" "ioredis checks"
	for hp in $(printf '%s\n' "$out" | sed -n 's/^nodes \(master\|slave\) //p'); do
		assert_match "$hp" '^127\.0\.0\.1:170(0[1-9]|1[0-9]|20)$' "a node of ioredis's view"
	done
	# The reads went to the replicas, through their node ports.
	for n in 1 2 3 4 5 6; do
		role=$(ccli "$n" ROLE | head -n 1)
		gets=$(ccli "$n" INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p')
		say "node$n ($role): ${gets:-0} GETs"
		if [ "$role" = slave ] && [ "${gets:-0}" -eq 0 ]; then
			fail "replica node$n got no GET from ioredis (scaleReads: slave)"
		fi
	done
else
	say "SKIPPED ioredis part: node or test/node_modules/ioredis missing (scripts/bootstrap --test)"
fi

step "redis-benchmark --cluster through redtun"
t1=$(date +%s%N)
out=$(timeout 120 redis-benchmark --cluster -h 127.0.0.1 -p 6379 -n 20000 -c 20 -t get,set -q 2>&1) ||
	fail "redis-benchmark --cluster: $(printf '%s' "$out" | tail -n 5)"
out=$(printf '%s\n' "$out" | tr '\r' '\n' | grep -E '^(SET|GET|Cluster|Master|Error|ERR)' || true)
printf '%s\n' "$out" | sed 's/^/  /'
assert_match "$out" '^SET: [0-9.]+ requests per second' "redis-benchmark SET"
assert_match "$out" '^GET: [0-9.]+ requests per second' "redis-benchmark GET"
assert_not_contains "$out" "Error" "redis-benchmark errors"
# It found the primaries by CLUSTER NODES through redtun: local listeners.
assert_not_contains "$out" "$CLUSTER_DOMAIN" "redis-benchmark's view of the primaries"
assert_not_contains "$out" "127.0.1." "redis-benchmark's view of the primaries"
say "redis-benchmark --cluster: $((($(date +%s%N) - t1) / 1000000)) ms"

step "the status endpoint: the nodes are the cluster service's"
# Node listeners count and report under their service (no series per
# node name), the MOVED rewritten above are counted, every node listens.
python3 - "${REDTUN_TEST_WORKERS:-1}" <<'EOF' || fail "the status endpoint's view of the cluster: see above"
import json, re, sys, urllib.request
workers = int(sys.argv[1])
get = lambda p: urllib.request.urlopen("http://127.0.0.1:9187" + p, timeout=5).read().decode()
st = json.loads(get("/status"))
svcs = {s["name"]: s for s in st["services"]}
assert set(svcs) == {"cache", "control"}, sorted(svcs)
c = svcs["cache"]
assert c["cluster_nodes"] == 6, c["cluster_nodes"]
assert c["listening_workers"] == workers, (c["listening_workers"], workers)
assert len(c["targets"]) >= 7, c["targets"]          # the seed + 6 nodes
assert c["redirects_rewritten"] >= 1, c["redirects_rewritten"]
assert c["connections"]["total"] >= 10, c["connections"]
assert st["healthy"] is True, st["health_reason"]
m = get("/metrics")
assert re.search(r'^redtun_cluster_nodes\{service="cache"\} 6$', m, re.M), "cluster_nodes"
r = re.search(r'^redtun_cluster_redirects_rewritten_total\{service="cache"\} (\d+)$', m, re.M)
assert r and int(r.group(1)) >= 1, "redirects_rewritten_total"
assert "@" not in "".join(re.findall(r'service="([^"]*)"', m)), "a per-node series"
print("status: cache has %d targets, %d connections, %d redirects rewritten" %
      (len(c["targets"]), c["connections"]["total"], c["redirects_rewritten"]))
EOF

assert_redtun_alive "at the end"
assert_file_no_match "$LOG" '(crit|alert|emerg)' "no critical log lines"
say "total $(elapsed)"
