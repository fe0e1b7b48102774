#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Resharding and a new node, through redtun (cluster = true, refresh 1 s):
#   - ASK: one slot set MIGRATING/IMPORTING by hand; plain redis-cli through
#     redtun gets "ASK <slot> 127.0.0.1:170xx", redis-cli -c follows it;
#   - redis-cli --cluster reshard (straight to the nodes, admin) moves 1,000
#     slots from node 1 to node 2 while a python3-redis RedisCluster client
#     reads and writes through redtun (following ASK and MOVED): no
#     wrong read, no lost write; afterwards CLUSTER SLOTS/SHARDS/NODES
#     through redtun name only local listeners;
#   - a 7th node joins (redis-cli --cluster add-node: CLUSTER MEET) and gets
#     500 slots. clusterRefresh is 3600 s until then, so the first MOVED
#     naming node 7 is what makes redtun look: that MOVED arrives naming a
#     local port that already serves node 7 (held back until it is open);
#     redtun logs (notice) the 7-node topology, and clients reach keys on
#     node 7 through 127.0.0.1:6379;
#   - a reload (SIGHUP, clusterRefresh = 1) keeps every node's local port;
#   - node 7 gives its slots back and leaves (redis-cli --cluster del-node:
#     CLUSTER FORGET everywhere; then it is stopped): its listener stays open
#     for clusterGrace (5 s here), then closes.
# Runs in private mount + network namespaces (unshare -mn); skips without.
set -eu

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/netns.sh"
netns_reexec cluster-reshard "$@"

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"
. "$top_srcdir/test/cluster-lib.sh"

need_cmd redis-server redis-cli openssl timeout ip mount getent ss awk
need_redtun
cluster_need_python

step "private network, certificates, a TLS cluster of 6"
cluster_net
cluster_certs
cluster_start 6
id1=$(cluster_node_id 1)
id2=$(cluster_node_id 2)

step "redtun with cluster = true"
GRACE=5
# No periodic refresh until the reload below: node 7 is found by a MOVED.
cluster_conf 'clusterRefresh = 3600;' "clusterGrace = $GRACE;" >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
wait_for_log "$LOG" "$CLUSTER_UP_RE" 10
wait_until 10 port_listening 6379 || fail "nothing listens on 127.0.0.1:6379"
assert_eq 6 "$(node_ports_listening)" "node listeners"

step "ASK through redtun: one slot migrating from node 1 to node 2"
key=$(cluster_key_on 1 ask) || hard_error "no key in node 1's slots"
slot=$(ccli 1 CLUSTER KEYSLOT "$key")
assert_eq OK "$(ccli 2 CLUSTER SETSLOT "$slot" IMPORTING "$id1")" "SETSLOT IMPORTING"
assert_eq OK "$(ccli 1 CLUSTER SETSLOT "$slot" MIGRATING "$id2")" "SETSLOT MIGRATING"
# A key node 1 does not have, in a migrating slot: -ASK to node 2.
out=$(rcli 6379 SET "$key" asked 2>&1)
say "SET $key (slot $slot): $out"
assert_match "$out" "^(\(error\) )?ASK $slot 127\.0\.0\.1:170(0[1-9]|1[0-9]|20)$" "ASK names a local listener"
ccli 2 CONFIG RESETSTAT >/dev/null
out=$(rcli 6379 -c SET "$key" asked 2>&1 | grep -v '^-> Redirected' || true)
assert_eq OK "$out" "redis-cli -c follows the ASK"
asking=$(ccli 2 INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_asking:calls=\([0-9]*\),.*/\1/p')
[ "${asking:-0}" -ge 1 ] || fail "node 2 saw no ASKING: the ASK was not followed to it"
assert_eq asked "$(printf 'ASKING\nGET %s\n' "$key" | ccli 2 | tail -n 1)" "the key went to node 2"
for n in 1 2; do ccli "$n" CLUSTER SETSLOT "$slot" STABLE >/dev/null; done
ccli 2 DEL "$key" >/dev/null 2>&1 || true

step "reshard 1,000 slots from node 1 to node 2 under a reading and writing client"
"$PY" "$CC_PY" rw --port 6379 --seconds 120 --out "$T/rw" >"$T/rw.log" 2>&1 &
RW=$!
track_pid "$RW"
sleep 1
pid_alive "$RW" || fail "the rw client exited early: $(cat "$T/rw.log")"
for n in 1 2; do ccli "$n" CONFIG RESETSTAT >/dev/null; done
t1=$(date +%s%N)
cluster_admin 120 reshard "$(cluster_ip 1):6379" --cluster-from "$id1" --cluster-to "$id2" \
	--cluster-slots 1000 --cluster-yes >"$T/reshard.out" 2>&1 || {
	tail -n 20 "$T/reshard.out" >&2
	hard_error "redis-cli --cluster reshard failed"
}
rs_ms=$((($(date +%s%N) - t1) / 1000000))
cluster_wait_ok 30
sleep 1
touch "$T/rw.stop"
wait_for_exit "$RW" 30 || fail "the rw client did not stop"
wait "$RW" && rc=0 || rc=$?
out=$(cat "$T/rw.log")
say "$out"
asking=$(ccli 2 INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_asking:calls=\([0-9]*\),.*/\1/p')
figure reshard_ms "$rs_ms" ms
figure reshard_client_ops "$(printf '%s\n' "$out" | sed -n 's/^rw ops \([0-9]*\) .*/\1/p')"
figure reshard_client_errors "$(printf '%s\n' "$out" | sed -n 's/.* errors \([0-9]*\) .*/\1/p')"
figure reshard_asking_on_target "${asking:-0}"
figure reshard_client_moved "$(printf '%s\n' "$out" | sed -n 's/.* moved \([0-9]*\) .*/\1/p')"
figure reshard_client_ask "$(printf '%s\n' "$out" | sed -n 's/.* ask \([0-9]*\).*/\1/p')"
assert_eq 0 "$rc" "the rw client: no wrong read, no lost write ($out)"
moved=$(ccli 2 CLUSTER NODES | awk -v id="$id2" '$1 == id { n = 0; for (i = 9; i <= NF; i++) { split($i, r, "-"); n += (r[2] == "" ? 1 : r[2] - r[1] + 1) } print n }')
assert_eq $((5462 + 1000)) "$moved" "slots node 2 serves after the reshard"

step "after the reshard: the topology through redtun"
out=$("$PY" "$CC_PY" topo --port 6379 --expect-nodes 6 2>&1) || fail "topology after the reshard: $out"
printf '%s\n' "$out" | sed 's/^/  /'
assert_local_only "redis-cli CLUSTER SLOTS" "$(rcli 6379 CLUSTER SLOTS)"
# A key that moved: plain redis-cli gets MOVED to node 2's local port.
key=$(cluster_key_in mv 0-999) || hard_error "no key in slots 0-999"
out=$(rcli 6379 GET "$key" 2>&1)
assert_match "$out" "^(\(error\) )?MOVED [0-9]+ 127\.0\.0\.1:170(0[1-9]|1[0-9]|20)$" "MOVED after the reshard"
p2=${out##*:}
assert_eq "$(ccli 2 CLUSTER MYID)" "$(rcli "$p2" CLUSTER MYID)" "the MOVED port is node 2"

step "a 7th node joins and gets 500 slots"
cluster_add_node 7
say "node 7 added at $(elapsed)"
id7=$(cluster_node_id 7)
t1=$(date +%s%N)
cluster_admin 120 reshard "$(cluster_ip 1):6379" --cluster-from all --cluster-to "$id7" \
	--cluster-slots 500 --cluster-yes >"$T/reshard7.out" 2>&1 || {
	tail -n 20 "$T/reshard7.out" >&2
	hard_error "redis-cli --cluster reshard to node 7 failed"
}
cluster_wait_ok 30
say "node 7 joined and got 500 slots at $(elapsed)"
say "500 slots to node 7 in $((($(date +%s%N) - t1) / 1000000)) ms; $(node_ports_listening) node listeners"
# The first MOVED to node 7 through redtun: it names a port that already
# serves node 7, at once.
key=$(cluster_key_on 7 n7) || hard_error "no key on node 7"
ccli 7 SET "$key" seven >/dev/null
out=$(rcli 6379 GET "$key" 2>&1)
say "GET $key: $out"
assert_match "$out" "^(\(error\) )?MOVED [0-9]+ 127\.0\.0\.1:170(0[1-9]|1[0-9]|20)$" "MOVED to node 7"
p7=${out##*:}
assert_eq seven "$(rcli "$p7" GET "$key" 2>&1)" "node 7's local port serves the key right after the MOVED"
assert_eq "$id7" "$(rcli "$p7" CLUSTER MYID)" "node 7's local port is node 7"
# shellcheck disable=SC2016 # eval'd by wait_until
wait_until 15 eval '[ "$(node_ports_listening)" -ge 7 ]' ||
	fail "no 7th node listener 15 s after node 7 got slots ($(node_ports_listening) listening)"
# shellcheck disable=SC2016
wait_until 5 eval '[ "$(node_ports_logged | wc -l)" -ge 7 ]' ||
	fail "7 node listeners not logged: $(node_ports_logged | tr '\n' ' ')"
say "node 7's listener is up at $(elapsed)"
wait_for_log "$LOG" 'notice .*cluster:.*[^0-9]7 nodes' 5
# A key on node 7, through the main port.
key=$(cluster_key_on 7 n7b) || hard_error "no key on node 7"
out=$(rcli 6379 -c SET "$key" seven 2>&1 | grep -v '^-> Redirected' || true)
assert_eq OK "$out" "redis-cli -c SET of a key on node 7"
assert_eq seven "$(ccli 7 GET "$key")" "the key is on node 7"
out=$(timeout 60 "$PY" "$CC_PY" rw --port 6379 --seconds 3 --prefix after7 2>&1) ||
	fail "RedisCluster with 7 nodes: $out"
say "$out"
out=$("$PY" "$CC_PY" topo --port 6379 --expect-nodes 7 2>&1) || fail "topology with 7 nodes: $out"
printf '%s\n' "$out" | sed 's/^/  /'

step "a reload (clusterRefresh = 1) keeps every node's local port"
ports() { rcli 6379 CLUSTER NODES | awk '{ split($2, a, "@"); print $1, a[1] }' | sort; }
before=$(ports)
sed -i 's/clusterRefresh = 3600;/clusterRefresh = 1;/' "$T/redtun.conf"
n_rel=$(log_count "$LOG" 'configuration reloaded')
kill -HUP "$RT_PID"
reloaded() { [ "$(log_count "$LOG" 'configuration reloaded')" -gt "$n_rel" ]; }
wait_until 15 reloaded || fail "the reload was not done within 15 s: $(grep -E 'reload' "$LOG" | tail -n 2)"
sleep 1.5 # a refresh with the new period
assert_eq "$before" "$(ports)" "node ids and local ports across the reload"
assert_eq 7 "$(node_ports_listening)" "node listeners after the reload"

step "node 7 leaves: its listener stays for clusterGrace ($GRACE s), then closes"
cluster_admin 120 reshard "$(cluster_ip 1):6379" --cluster-from "$id7" --cluster-to "$id1" \
	--cluster-slots 500 --cluster-yes >"$T/reshard-back.out" 2>&1 || {
	tail -n 20 "$T/reshard-back.out" >&2
	hard_error "redis-cli --cluster reshard from node 7 back to node 1 failed"
}
cluster_wait_ok 30
n6=$(log_count "$LOG" 'notice .*cluster:.*[^0-9]6 nodes')
cluster_admin 30 del-node "$(cluster_ip 1):6379" "$id7" >"$T/del-node.out" 2>&1 || {
	tail -n 20 "$T/del-node.out" >&2
	hard_error "redis-cli --cluster del-node failed"
}
tl=$(date +%s%N)
# del-node leaves node 7 running, reset (CLUSTER RESET SOFT): stop it.
kill_wait "$(cluster_node_pid 7)" 5
# Forgotten everywhere; redtun's next refresh (1 s) sees it gone and says
# so (a new "6 nodes" line, after the 7-node ones).
more6() { [ "$(log_count "$LOG" 'notice .*cluster:.*[^0-9]6 nodes')" -gt "$n6" ]; }
wait_until 10 more6 || fail "redtun did not log the 6-node topology within 10 s of node 7 leaving"
t_seen=$((($(date +%s%N) - tl) / 1000000))
port_listening "$p7" || fail "node 7's port $p7 closed at once (${t_seen} ms), not after the grace period"
closed() { ! port_listening "$p7"; }
wait_until $((GRACE + 8)) closed || fail "node 7's port $p7 still open $((GRACE + 8)) s after it left"
t_closed=$((($(date +%s%N) - tl) / 1000000))
say "node 7 left: seen after ${t_seen} ms, port $p7 closed after ${t_closed} ms"
figure leave_port_closed_ms "$t_closed" ms
[ "$t_closed" -ge $(((GRACE - 1) * 1000)) ] || fail "node 7's port closed after ${t_closed} ms, before the grace of ${GRACE} s"
[ "$(node_ports_listening)" -eq 6 ] || fail "node listeners after node 7 left: $(node_ports_listening)"
out=$(timeout 60 "$PY" "$CC_PY" rw --port 6379 --seconds 2 --prefix after-leave 2>&1) ||
	fail "RedisCluster after node 7 left: $out"
say "$out"
assert_redtun_alive "at the end"
say "total $(elapsed)"
