#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Redis Cluster failover under load, through redtun (cluster = true). A
# python3-redis RedisCluster writer enters at 127.0.0.1:6379 and writes
# fo:N = N without pause, retrying a failed write until it succeeds, and
# logs every acknowledged write; meanwhile:
#   A. CLUSTER FAILOVER on node 2's replica (a coordinated switch);
#   B. kill -9 of node 3, a primary (its replica takes over after
#      cluster-node-timeout, 2000 ms here).
# Then: no acknowledged write is lost (every key is read back through
# redtun; "acknowledged" = SET answered OK and WAIT 1 100 saw a replica
# take it: Redis replicates asynchronously, so kill -9 may lose a write
# no replica had, with or without redtun), and after each event the writer wrote again within the
# cluster's own failover time (measured straight on the nodes: from the
# event until the replica answers ROLE master) plus 2 s. Node 1 (behind
# redtun's main port) is left alone. Prints "figure:" lines: errors seen,
# recovery and failover seconds, keys checked.
# An ioredis Cluster writer (test/node_modules; skipped without node) runs
# beside it, under the same rules.
# Runs in private mount + network namespaces (unshare -mn); skips without.
set -eu

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/netns.sh"
netns_reexec cluster-failover "$@"

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"
CLUSTER_TIMEOUT_MS=2000
. "$top_srcdir/test/cluster-lib.sh"

need_cmd redis-server redis-cli openssl timeout ip mount getent ss awk
need_redtun
cluster_need_python
W=$T/writer.log
now() { date +%s.%N; }

step "private network, certificates, a TLS cluster of 6"
cluster_net
cluster_certs
cluster_start 6

step "redtun with cluster = true"
cluster_conf 'clusterRefresh = 1;' 'clusterGrace = 60;' >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
wait_for_log "$LOG" "$CLUSTER_UP_RE" 10
wait_until 10 port_listening 6379 || fail "nothing listens on 127.0.0.1:6379"

# "okn": acknowledged but not confirmed by a replica (not checked later).
acks() { grep -Ec '^okn? ' "$W" 2>/dev/null || true; }
IO=""
if command -v node >/dev/null 2>&1 && [ -d "$top_srcdir/test/node_modules/ioredis" ]; then
	IO=$T/io-writer.log
else
	say "SKIPPED ioredis writer: node or test/node_modules/ioredis missing (scripts/bootstrap --test)"
fi
acks_after() { awk -v t="$1" '($1 == "ok" || $1 == "okn") && $3 > t' "$W" 2>/dev/null | wc -l; }
# wait_acks_after T N SECS: N writes acknowledged after time T.
wait_acks_after() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(acks_after "$1")" -ge "$2" ] && return 0
		pid_alive "$WRITER" || fail "the writer exited: $(tail -n 3 "$W")"
		sleep 0.1
	done
	return 1
}
# replica_of N: the node number of N's replica.
replica_of() {
	local id
	id=$(cluster_node_id "$1")
	ccli "$1" CLUSTER NODES | awk -v id="$id" '$3 ~ /slave/ && $4 == id {split($2, a, ":"); print a[1]}' |
		head -n 1 | sed 's/.*\.//'
}
is_master() { [ "$(ccli "$1" ROLE 2>/dev/null | head -n 1)" = master ]; }
# recovery T: seconds from T to the first acknowledged write after the
# last error of the outage that followed T (0 when nothing failed).
recovery() { # T [FILE=$W]
	awk -v t="$1" '
		$2 ~ /^[0-9]+$/ && $3 + 0 > t + 0 {
			if ($1 == "err") { last_err = $3; errs++; pending = 1 }
			else if (($1 == "ok" || $1 == "okn") && pending) { rec = $3; pending = 0 }
		}
		END {
			if (!errs) { print "0.000 0"; exit }
			if (pending) { print "inf " errs; exit }
			printf "%.3f %d\n", rec - t, errs
		}' "${2:-$W}"
}
# io_recovered NAME T F: the ioredis writer recovered after T within F + 2 s.
io_recovered() {
	local r e
	[ -n "$IO" ] || return 0
	read -r r e <<<"$(recovery "$2" "$IO")"
	figure "${1}_ioredis_recovery_s" "$r" s
	figure "${1}_ioredis_errors" "$e"
	[ "$r" != inf ] || fail "the ioredis writer did not recover ($1): $(tail -n 2 "$IO")"
	awk -v r="$r" -v f="$3" 'BEGIN { exit !(r <= f + 2) }' ||
		fail "ioredis recovery ($1) took ${r}s, the cluster ${3}s (+2 s allowed)"
}

step "a RedisCluster writer through redtun"
"$PY" "$CC_PY" writer --port 6379 --seconds 90 --out "$W" >"$T/writer.out" 2>&1 &
WRITER=$!
track_pid "$WRITER"
if [ -n "$IO" ]; then
	(cd "$top_srcdir/test" && exec node cluster_ioredis.js writer 6379 "$IO" 90) >"$T/io-writer.out" 2>&1 &
	IOW=$!
	track_pid "$IOW"
fi
wait_acks_after 0 300 20 || fail "the writer did not get 300 writes through in 20 s: $(tail -n 3 "$W")"
say "writer at $(acks) acknowledged writes ($(elapsed))"

step "A. CLUSTER FAILOVER on node 2's replica"
R2=$(replica_of 2)
[ -n "$R2" ] || hard_error "node 2 has no replica"
ta=$(now)
say "CLUSTER FAILOVER at $ta"
assert_eq OK "$(ccli "$R2" CLUSTER FAILOVER)" "CLUSTER FAILOVER on node$R2"
wait_until 15 is_master "$R2" || fail "node$R2 did not become a primary within 15 s"
fa=$(awk -v a="$ta" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
wait_acks_after "$ta" 300 $((CLUSTER_TIMEOUT_MS / 1000 + 10)) ||
	fail "no 300 writes after the manual failover: $(tail -n 3 "$W")"
read -r ra ea <<<"$(recovery "$ta")"
figure manual_failover_s "$fa" s
figure manual_recovery_s "$ra" s
figure manual_errors "$ea"
[ "$ra" != inf ] || fail "the writer did not recover after CLUSTER FAILOVER"
awk -v r="$ra" -v f="$fa" 'BEGIN { exit !(r <= f + 2) }' ||
	fail "recovery after CLUSTER FAILOVER took ${ra}s, the cluster ${fa}s (+2 s allowed)"
io_recovered manual "$ta" "$fa"

step "B. kill -9 of node 3 (a primary)"
R3=$(replica_of 3)
[ -n "$R3" ] || hard_error "node 3 has no replica"
wait_acks_after "$(now)" 100 10 || fail "the writer stalled before the kill"
tb=$(now)
say "killing node 3 at $tb"
pid3=$(cluster_node_pid 3)
{ kill -KILL "$pid3"; wait "$pid3"; } 2>/dev/null || true
wait_until 30 is_master "$R3" || fail "node$R3 did not take over from node 3 within 30 s"
fb=$(awk -v a="$tb" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
say "node$R3 is the primary $fb s after the kill"
wait_acks_after "$tb" 300 $((CLUSTER_TIMEOUT_MS / 1000 + 15)) ||
	fail "no 300 writes after the kill: $(tail -n 3 "$W")"
read -r rb eb <<<"$(recovery "$tb")"
figure kill_failover_s "$fb" s
figure kill_recovery_s "$rb" s
figure kill_errors "$eb"
[ "$rb" != inf ] || fail "the writer did not recover after node 3 was killed"
awk -v r="$rb" -v f="$fb" 'BEGIN { exit !(r <= f + 2) }' ||
	fail "recovery after the kill took ${rb}s, the cluster ${fb}s (+2 s allowed)"
if [ -n "$IO" ]; then
	# The ioredis writer, too, wrote again after the kill.
	for ((i = 0; i < 100; i++)); do
		[ "$(awk -v t="$tb" '($1 == "ok" || $1 == "okn") && $3 > t' "$IO" | wc -l)" -ge 50 ] && break
		sleep 0.1
	done
fi
io_recovered kill "$tb" "$fb"

step "stop the writer, read every acknowledged key back"
touch "$W.stop"
wait_for_exit "$WRITER" 15 || fail "the writer did not stop"
if [ -n "$IO" ]; then
	touch "$IO.stop"
	wait_for_exit "$IOW" 15 || fail "the ioredis writer did not stop"
	out=$(timeout 60 "$PY" "$CC_PY" check --port 6379 --acked "$IO" --prefix iofo 2>&1) ||
		fail "acknowledged ioredis writes lost (CLUSTER FAILOVER at $ta, kill at $tb): $out"
	say "ioredis: $out"
	figure ioredis_keys_checked "$(printf '%s\n' "$out" | sed -n 's/^checked \([0-9]*\) .*/\1/p')"
fi
grep '^err ' "$W" | cut -d' ' -f4- | sed 's/[0-9]\{2,\}/N/g' | sort | uniq -c | sort -rn | head -n 5 |
	sed 's/^/  errors: /'
figure errors_total "$(grep -c '^err ' "$W" || true)"
out=$(timeout 60 "$PY" "$CC_PY" check --port 6379 --acked "$W" 2>&1) ||
	fail "acknowledged writes lost (CLUSTER FAILOVER at $ta, kill at $tb): $out"
say "$out"
figure keys_checked "$(printf '%s\n' "$out" | sed -n 's/^checked \([0-9]*\) .*/\1/p')"
assert_match "$out" '^checked [0-9]+ missing 0 wrong 0$' "every acknowledged write is there"

step "the topology through redtun after both failovers"
out=$("$PY" "$CC_PY" topo --port 6379 2>&1) || fail "topology replies after the failovers: $out"
printf '%s\n' "$out" | sed 's/^/  /'
assert_redtun_alive "at the end"
say "total $(elapsed)"
