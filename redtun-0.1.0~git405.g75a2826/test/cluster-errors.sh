#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Redis Cluster through redtun, what goes wrong:
#   1. node 3 (a primary) presents a certificate for wrong.example, not
#      node3.cluster.test: a client sent to node 3's local port (by a
#      MOVED through redtun) gets redtun's readable "ERR redtun ..." error,
#      which redis-cli -c prints too; the other nodes still serve;
#   2. a reload (SIGHUP) whose cluster = true service now points at a
#      Redis without cluster support fails, is logged, and the old
#      configuration keeps serving (main port and node listeners);
#   3. clusterPorts with 3 ports for 6 nodes: the full range is logged as
#      an error naming the range; the ports it has are used;
#   4. cluster = true pointed at a non-cluster TLS Redis: redtun does not
#      start (exit status non-zero) and says why.
# Runs in private mount + network namespaces (unshare -mn); skips without.
set -eu

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/netns.sh"
netns_reexec cluster-errors "$@"

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"
CLUSTER_WRONG_CERT=3
. "$top_srcdir/test/cluster-lib.sh"

need_cmd redis-server redis-cli openssl timeout ip mount getent ss awk
need_redtun
if ! { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import redis.crc' 2>/dev/null; }; then
	skip "python3-redis missing (keys are placed with its CRC16)"
fi

step "private network, certificates, a TLS cluster of 6 (node 3: wrong.example)"
cluster_net
cluster_certs
cluster_start 6
# The cluster itself works: redis does not check host names.
out=$(ccli 3 PING)
assert_eq PONG "$out" "node 3 answers straight (redis-cli checks no host name)"
# And a client that checks host names refuses node 3 (the certificate is
# really wrong for the name).
if echo | timeout 5 openssl s_client -connect "$(cluster_ip 3):6379" -servername "$(cluster_host 3)" \
	-verify_hostname "$(cluster_host 3)" -verify_return_error -CAfile "$T/ca.crt" >"$T/s_client3.out" 2>&1; then
	fail "openssl s_client accepted node 3's certificate for $(cluster_host 3)"
fi

step "redtun with cluster = true"
cluster_conf 'clusterRefresh = 1;' >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
wait_for_log "$LOG" "$CLUSTER_UP_RE" 10
wait_until 10 port_listening 6379 || fail "nothing listens on 127.0.0.1:6379"

step "1. a node with a certificate for another name"
key=$(cluster_key_on 3 bad) || hard_error "no key on node 3"
out=$(rcli 6379 GET "$key" 2>&1)
assert_match "$out" "^(\(error\) )?MOVED [0-9]+ 127\.0\.0\.1:170(0[1-9]|1[0-9]|20)$" "MOVED to node 3's listener"
p3=${out##*:}
t1=$(date +%s%N)
out=$(rcli "$p3" GET "$key" 2>&1 || true)
ms=$((($(date +%s%N) - t1) / 1000000))
say "GET through node 3's port $p3 after ${ms} ms: $out"
assert_match "$out" '^(\(error\) )?(ERR|CLUSTERDOWN) redtun ' "a readable redtun error"
assert_match "$out" '(certificate|host ?name|name|verif)' "the error says what is wrong"
[ "$ms" -lt 8000 ] || fail "the error took ${ms} ms"
assert_file_match "$LOG" "$(re_quote "$(cluster_host 3)").*(certificate|name|verif)|(certificate|name|verif).*$(re_quote "$(cluster_host 3)")" \
	"the log names node 3 and the certificate problem"
out=$(rcli 6379 -c GET "$key" 2>&1 || true)
assert_match "$out" '(ERR|CLUSTERDOWN) redtun' "redis-cli -c prints the error"
# The other primaries still serve.
good=$(cluster_key_on 2 good) || hard_error "no key on node 2"
out=$(rcli 6379 -c SET "$good" x 2>&1 | grep -v '^-> ' || true)
assert_eq OK "$out" "a key on node 2 through redtun"

step "2. a reload pointing cluster = true at a non-cluster Redis keeps the old configuration"
SP=$(free_port)
start_tls_redis single "$SP"
cp "$T/redtun.conf" "$T/redtun.good.conf"
sed -i "s|connect = \".*\";|connect = \"localhost:$SP\";|" "$T/redtun.conf"
grep -q "localhost:$SP" "$T/redtun.conf" || hard_error "could not rewrite the configuration"
before=$(log_count "$LOG" 'reload')
kill -HUP "$RT_PID"
wait_for_log "$LOG" 'reload failed.*keep|keep.*(old|previous|current) conf' 20
line=$(grep -E 'reload failed.*keep|keep.*(old|previous|current) conf' "$LOG" | tail -n 1)
say "log: $line"
assert_match "$line" 'cluster' "the reload failure says it is about the cluster"
assert_redtun_alive "after the failed reload"
out=$(rcli 6379 -c SET "$good" after-reload 2>&1 | grep -v '^-> ' || true)
assert_eq OK "$out" "the old configuration still serves the main port"
[ "$(node_ports_listening)" -eq 6 ] || fail "node listeners after the failed reload: $(node_ports_listening)"
assert_file_no_match "$LOG" 'configuration reloaded' "no reload was applied"
say "reload lines: before $before, after $(log_count "$LOG" 'reload')"
kill_wait "$RT_PID" 10

step "3. clusterPorts too small: 3 ports for 6 nodes"
: >"$LOG"
CLUSTER_PORTS=127.0.0.1:17001-17003
cluster_conf 'clusterRefresh = 1;' >"$T/redtun-small.conf"
start_redtun "$T/redtun-small.conf"
# An error line (level err or worse) naming the range.
FULL_RE=' (err|error|crit|alert|emerg) .*127\.0\.0\.1:17001-17003'
wait_for_log "$LOG" "$FULL_RE" 15
line=$(grep -E "$FULL_RE" "$LOG" | head -n 1)
say "log: $line"
assert_match "$line" '(full|exhausted|no (free|local) port)' "the error says the range is full"
assert_eq 3 "$(node_ports_listening)" "the 3 ports of the range are used"
# The nodes that have a port are still reached.
out=$(rcli 6379 PING 2>&1)
assert_eq PONG "$out" "the main port serves with a full range"
kill_wait "$RT_PID" 10
CLUSTER_PORTS=127.0.0.1:17001-17020

step "4. cluster = true pointed at a non-cluster Redis: no start"
: >"$LOG"
CLUSTER_CONNECT=localhost:$SP cluster_conf >"$T/redtun-single.conf"
rc=0
timeout 20 "$REDTUN" "$T/redtun-single.conf" >"$T/single.out" 2>"$T/single.err" || rc=$?
msg="$(cat "$T/single.err" "$T/single.out" "$LOG" 2>/dev/null)"
say "exit $rc: $(printf '%s' "$msg" | tail -n 3 | tr '\n' ' ')"
[ "$rc" -ne 0 ] || fail "redtun started with cluster = true against a non-cluster Redis"
[ "$rc" -ne 124 ] || fail "redtun did not exit within 20 s"
assert_match "$msg" 'cluster' "the message names the cluster"
assert_match "$msg" '(disabled|not .*cluster|cluster support|no cluster|not enabled)' "the message says the server is no cluster"
pid=$(redtun_pid 2>/dev/null || true)
if [ -n "$pid" ] && pid_alive "$pid" && _is_redtun "$pid"; then
	fail "a redtun process (pid $pid) is running after the failed start"
fi
say "total $(elapsed)"
