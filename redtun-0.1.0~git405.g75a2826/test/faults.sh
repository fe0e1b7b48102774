#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Fault injection: an upstream killed mid-stream and restarted, a connect
# name that stops resolving and comes back, a black-holed first target with
# failover (and failoverBackoff skipping it afterwards), and the daemon
# itself killed with SIGKILL and restarted over its stale pidfile.  Each time
# the affected clients must be closed promptly with a reason in the log, and
# everything else must keep working.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli nc ss openssl timeout head wc unshare mount ip nft
[ "$(id -u)" = 0 ] || skip "needs root (mount and network namespaces)"
need_redtun
gen_certs

LOG=$T/redtun.log
INJECTED=0
SURVIVED=0
injected() { INJECTED=$((INJECTED + 1)); say "fault #$INJECTED: $*"; }
survived() { SURVIVED=$((SURVIVED + 1)); say "fault survived ($SURVIVED/$INJECTED)"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Network namespace for the black-hole case: unique name, removed at exit
# (after lib.sh's own cleanup has killed what ran inside it).
NS=redtun-faults-$$
ns_cleanup() {
	local rc=$?
	set +e
	local pid
	for pid in ${NS_PIDS[@]+"${NS_PIDS[@]}"}; do
		kill_wait "$pid" 5
	done
	ip netns del "$NS" 2>/dev/null
	(exit "$rc")
	_cleanup
}
NS_PIDS=()
trap ns_cleanup EXIT
ip netns del "$NS" 2>/dev/null || true

PA=$(free_port)     # TLS redis "a" (killed and restarted)
PB=$(free_port)     # TLS redis "b" (stays up)
LA=$(free_port)
LB=$(free_port)

step "start two TLS redis servers and redtun with one service for each"
start_tls_redis a "$PA"
start_tls_redis b "$PB"
{
	conf_globals
	echo 'services = {'
	conf_service a "$LA" "$PA"
	conf_service b "$LB" "$PB"
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
assert_eq "PONG" "$(rcli "$LA" ping)" "PING via a"
assert_eq "PONG" "$(rcli "$LB" ping)" "PING via b"

# ---------------------------------------------------------------------------
step "upstream killed (SIGKILL) while a client pulls a big reply"
# 4 MiB value, 25 pipelined GETs = 100 MiB of replies. The client reads
# slowly (256 KiB at a time), so the stream is certainly in flight.
assert_eq 4194304 "$(rcli "$LA" setrange big 4194303 x)" "SETRANGE big"
NGET=25
TOTAL=$((NGET * (4194304 + 11)))
pull() { # PORT
	local total=0 n
	exec 7<>"/dev/tcp/127.0.0.1/$1"
	for ((n = 0; n < NGET; n++)); do printf 'GET big\r\n'; done >&7
	while :; do
		if [ -e "$T/pull.fast" ]; then
			# Upstream killed: drain what is in flight at full speed.
			n=$(cat <&7 | wc -c)
			total=$((total + n))
			break
		fi
		n=$(head -c 262144 <&7 | wc -c)
		[ "$n" -gt 0 ] || break
		total=$((total + n))
		echo "$total" >"$T/pull.progress"
		sleep 0.01
	done
	now_ms >"$T/pull.eof"
	echo "$total" >"$T/pull.total"
}
pull "$LA" </dev/null >"$T/pull.out" 2>&1 &
PULL_PID=$!
track_pid "$PULL_PID"
progress() { cat "$T/pull.progress" 2>/dev/null || echo 0; }
pulling() { [ "$(progress)" -ge 4194304 ]; }
wait_until 15 pulling || fail "the client did not receive 4 MiB within 15 s (got $(progress))"
# The tunnel for this pull is the newest one accepted by service a.
PEER=$(grep -E "\[a\] [^ ]+: accepted" "$LOG" | tail -n 1 | sed -E 's/.*\[a\] ([^ ]+): accepted.*/\1/')
[ -n "$PEER" ] || fail "no 'accepted' line for the pulling client"
injected "kill -9 of redis a after $(progress) of $TOTAL bytes"
t_kill=$(now_ms)
kill -KILL "$(cat "$T/a.redis-pid")"
touch "$T/pull.fast"
wait_for_exit "$PULL_PID" 10 || fail "the client connection was still open 10 s after the upstream died"
[ -s "$T/pull.eof" ] || fail "the client ended without seeing EOF: $(cat "$T/pull.out")"
close_ms=$(($(cat "$T/pull.eof") - t_kill))
got=$(cat "$T/pull.total")
say "client saw the close ${close_ms} ms after the kill, having read $got of $TOTAL bytes"
figure upstream_kill_close_ms "$close_ms" ms
[ "$close_ms" -lt 5000 ] || fail "the client saw the close only after ${close_ms} ms"
[ "$got" -lt "$TOTAL" ] || fail "the client got the whole reply; the kill was not mid-stream"
PEER_RE=$(re_quote "$PEER")
wait_for_log "$LOG" "\[a\] $PEER_RE: closed: " 5
assert_file_match "$LOG" " err \[a\] $PEER_RE: " \
	"an error line for the connection whose upstream died mid-stream"
assert_redtun_alive "after the upstream was killed"
assert_eq "PONG" "$(rcli "$LB" ping)" "PING via b while a is down"
out=$(rcli "$LA" ping 2>&1 || true)
assert_not_contains "$out" "PONG" "PING via a while redis a is down"
wait_for_log "$LOG" "\[a\] .*upstream localhost:$PA: connection refused" 5
survived

# ---------------------------------------------------------------------------
step "upstream restarted on the same port: new connections work at once"
start_tls_redis a "$PA"
assert_eq "PONG" "$(rcli "$LA" ping)" "first PING via a after the restart"
assert_eq "OK" "$(rcli "$LA" set after-restart 1)" "SET via a after the restart"
assert_eq "PONG" "$(rcli "$LB" ping)" "PING via b"
assert_eq "$RT_PID" "$(redtun_pid)" "redtun was not restarted"

# ---------------------------------------------------------------------------
step "upstream killed while a long pipeline is being written"
# 200000 INCRs (~2.2 MB) written in 64 KiB pieces; redis dies after a few
# of them, so redtun's writes to it fail while the client is still sending.
{
	for ((i = 0; i < 200000; i++)); do printf 'INCR pipe\r\n'; done
} >"$T/pipeline.in"
# A slow writer: the pipeline trickles in 64 KiB pieces.
trickle() {
	local i
	exec 7<>"/dev/tcp/127.0.0.1/$1"
	cat <&7 >"$T/trickle.replies" &
	for ((i = 0; i < 34; i++)); do
		dd if="$T/pipeline.in" bs=65536 skip="$i" count=1 status=none >&7 2>/dev/null || break
		echo "$i" >"$T/trickle.progress"
		sleep 0.02
	done
	wait
	now_ms >"$T/trickle.eof"
}
trickle "$LA" </dev/null >"$T/trickle.out" 2>&1 &
TR_PID=$!
track_pid "$TR_PID"
trickling() { [ "$(cat "$T/trickle.progress" 2>/dev/null || echo 0)" -ge 5 ]; }
wait_until 15 trickling || fail "the pipelining client made no progress"
PEER=$(grep -E "\[a\] [^ ]+: accepted" "$LOG" | tail -n 1 | sed -E 's/.*\[a\] ([^ ]+): accepted.*/\1/')
injected "kill -9 of redis a during a pipeline (piece $(cat "$T/trickle.progress") of 34)"
t_kill=$(now_ms)
kill -KILL "$(cat "$T/a.redis-pid")"
wait_for_exit "$TR_PID" 10 || fail "the pipelining client was still connected 10 s after the upstream died"
close_ms=$(($(cat "$T/trickle.eof") - t_kill))
say "pipelining client saw the close ${close_ms} ms after the kill"
[ "$close_ms" -lt 5000 ] || fail "the pipelining client saw the close only after ${close_ms} ms"
PEER_RE=$(re_quote "$PEER")
wait_for_log "$LOG" "\[a\] $PEER_RE: closed: " 5
assert_file_match "$LOG" " err \[a\] $PEER_RE: " \
	"an error line for the pipelining connection"
assert_redtun_alive "after the second upstream kill"
assert_eq "PONG" "$(rcli "$LB" ping)" "PING via b"
start_tls_redis a "$PA"
assert_eq "PONG" "$(rcli "$LA" ping)" "PING via a after the second restart"
survived

# ---------------------------------------------------------------------------
step "redtun killed with SIGKILL, restarted over the stale pidfile"
old=$RT_PID
injected "kill -9 of redtun (pid $old)"
kill -KILL "$old"
wait_for_exit "$old" 10 || fail "redtun survived SIGKILL?"
# The daemon's parent is init; wait until it has reaped the zombie, so the
# pid is really free (a zombie still answers kill -0).
gone() { [ ! -e "/proc/$old" ]; }
wait_until 10 gone || say "pid $old is still a zombie after 10 s"
[ -s "$T/redtun.pid" ] || fail "the pidfile should still be there after SIGKILL"
assert_eq "$old" "$(redtun_pid)" "stale pidfile content"
start_redtun "$T/redtun.conf"
assert_ne "$old" "$RT_PID" "new pid after the restart"
assert_eq "$RT_PID" "$(redtun_pid)" "the pidfile names the new process"
assert_eq "PONG" "$(rcli "$LA" ping)" "PING via a after the daemon restart"
assert_eq "PONG" "$(rcli "$LB" ping)" "PING via b after the daemon restart"
survived

# ---------------------------------------------------------------------------
step "a connect name that stops resolving, then resolves again"
# redtun runs in a private mount namespace whose /etc/hosts is $T/hosts
# (rewritten in place, so the bind mount sees every version) and whose
# nsswitch.conf says "hosts: files", so no DNS server is involved.
LN=$(free_port)
hosts_with() { printf '127.0.0.1 localhost\n'; [ "${1:-}" = name ] && printf '127.0.0.1 redtun-fault.test\n'; return 0; }
hosts_with name >"$T/hosts"
printf 'passwd: files\ngroup: files\nhosts: files\n' >"$T/nsswitch.conf"
{
	echo "pid = \"$T/named.pid\";"
	echo "output = \"$T/named.log\";"
	echo 'debug = 7;'
	echo "CAfile = \"$T/ca.crt\";"
	echo 'services = {'
	printf '  named = {\n    client = true;\n    accept = "127.0.0.1:%s";\n' "$LN"
	printf '    connect = "redtun-fault.test:%s";\n    delay = true;\n' "$PB"
	printf '    checkHost = "localhost";\n    sni = "localhost";\n    TIMEOUTconnect = 3;\n  };\n'
	echo '};'
} >"$T/named.conf"
track_pidfile "$T/named.pid"
NLOG=$T/named.log
# shellcheck disable=SC2016 # expanded by the inner bash
unshare -m --propagation private bash -c \
	'mount --bind "$1/hosts" /etc/hosts && mount --bind "$1/nsswitch.conf" /etc/nsswitch.conf && exec "$2" -f "$1/named.conf"' \
	_ "$T" "$REDTUN" </dev/null >"$T/named.err" 2>&1 &
NAMED_PID=$!
track_pid "$NAMED_PID"
wait_until 10 port_listening "$LN" || {
	cat "$T/named.err" >&2
	hard_error "redtun in the mount namespace did not start"
}
assert_eq "PONG" "$(rcli "$LN" ping)" "PING via redtun-fault.test while it resolves"
wait_for_log "$NLOG" "\[named\] .*connected to redtun-fault\.test:$PB " 5

injected "redtun-fault.test removed from /etc/hosts"
hosts_with >"$T/hosts"
t0=$(now_ms)
out=$(rcli "$LN" ping 2>&1 || true)
ms=$(($(now_ms) - t0))
say "PING with the name gone: ${ms} ms: $out"
assert_not_contains "$out" "PONG" "PING while the name does not resolve"
[ "$ms" -lt 5000 ] || fail "the client waited ${ms} ms for the resolution failure"
wait_for_log "$NLOG" "\[named\] .*cannot resolve redtun-fault\.test" 5
pid_alive "$NAMED_PID" || fail "redtun in the mount namespace died"

hosts_with name >"$T/hosts"
assert_eq "PONG" "$(rcli "$LN" ping)" "PING after the name is back"
assert_eq "PONG" "$(rcli "$LN" ping)" "second PING after the name is back"
pid_alive "$NAMED_PID" || fail "redtun in the mount namespace died"
survived
kill_wait "$NAMED_PID" 10

# ---------------------------------------------------------------------------
step "black-holed first target: connect timeout, failover, then backoff"
ip netns add "$NS" || skip "cannot create a network namespace"
nsx() { ip netns exec "$NS" "$@"; }
nsx ip link set lo up
DEAD=$(free_port)
GOOD=$(free_port)
LF=$(free_port)
nsx nft add table inet t
nsx nft add chain inet t in '{ type filter hook input priority 0; }'
nsx nft add rule inet t in tcp dport "$DEAD" drop

mkdir -p "$T/nsredis"
spawn "$T/nsredis.out" ip netns exec "$NS" redis-server \
	--port 0 --tls-port "$GOOD" --bind 127.0.0.1 \
	--tls-cert-file "$T/server.crt" --tls-key-file "$T/server.key" \
	--tls-ca-cert-file "$T/ca.crt" --tls-auth-clients no \
	--save "" --appendonly no --daemonize no \
	--dir "$T/nsredis" --logfile "$T/nsredis.log"
NS_PIDS+=("$LAST_PID")
ns_redis_up() { nsx timeout 3 redis-cli --tls --insecure -h 127.0.0.1 -p "$GOOD" ping | grep -q PONG; }
wait_until 10 ns_redis_up || hard_error "redis in the namespace did not start"

{
	echo "pid = \"$T/fo.pid\";"
	echo "output = \"$T/fo.log\";"
	echo 'debug = 7;'
	echo "CAfile = \"$T/ca.crt\";"
	echo 'services = {'
	printf '  fo = {\n    client = true;\n    accept = "127.0.0.1:%s";\n' "$LF"
	printf '    connect = ["localhost:%s", "localhost:%s"];\n' "$DEAD" "$GOOD"
	printf '    failover = "prio";\n    TIMEOUTconnect = 2;\n    failoverBackoff = 30;\n  };\n'
	echo '};'
} >"$T/fo.conf"
track_pidfile "$T/fo.pid"
FLOG=$T/fo.log
spawn "$T/fo.err" ip netns exec "$NS" "$REDTUN" -f "$T/fo.conf"
FO_PID=$LAST_PID
NS_PIDS+=("$FO_PID")
fo_listening() { nsx ss -ltnH | awk '{print $4}' | grep -Eq "[:.]$LF\$"; }
wait_until 10 fo_listening || {
	cat "$T/fo.err" >&2
	fail "redtun in the network namespace did not start"
}
# Control: the black hole really swallows connects.
if nsx timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$DEAD" 2>/dev/null; then
	hard_error "the nft rule does not black-hole port $DEAD"
fi

injected "SYNs to localhost:$DEAD dropped"
ping_ms() { # -> sets PING_OUT, PING_MS
	local t0
	t0=$(now_ms)
	PING_OUT=$(nsx timeout 10 redis-cli -h 127.0.0.1 -p "$LF" ping 2>&1 || true)
	PING_MS=$(($(now_ms) - t0))
}
ping_ms
say "first connection: ${PING_MS} ms: $PING_OUT"
assert_eq "PONG" "$PING_OUT" "first PING (fails over to localhost:$GOOD)"
[ "$PING_MS" -ge 1500 ] || fail "the first PING took only ${PING_MS} ms; the dead target was not tried first?"
[ "$PING_MS" -lt 6000 ] || fail "the first PING took ${PING_MS} ms (TIMEOUTconnect = 2)"
figure failover_first_connect_ms "$PING_MS" ms
assert_file_match "$FLOG" "\[fo\] .*upstream localhost:$DEAD .*connect timed out" \
	"connect timeout logged for the dead target"
assert_file_match "$FLOG" "\[fo\] .*connected to localhost:$GOOD " "connected via the second target"

max=0
for i in 1 2 3 4 5; do
	ping_ms
	assert_eq "PONG" "$PING_OUT" "PING $i during the backoff"
	say "connection $((i + 1)): ${PING_MS} ms"
	[ "$PING_MS" -gt "$max" ] && max=$PING_MS
done
figure failover_fast_connect_ms "$max" ms
[ "$max" -lt 1000 ] || fail "a connection during the backoff took ${max} ms (the dead target was retried?)"
assert_file_match "$FLOG" "\[fo\] .*skipping localhost:$DEAD for [0-9]+s more \(it failed: connect timed out\)" \
	"skipping line during the backoff"
n=$(log_count "$FLOG" "upstream localhost:$DEAD \\([^)]*\\): connect timed out")
assert_eq 1 "$n" "the dead target must be tried once, not per connection"
pid_alive "$FO_PID" || fail "redtun in the network namespace died"
survived

# ---------------------------------------------------------------------------
step "the main daemon is still healthy"
assert_redtun_alive
assert_eq "PONG" "$(rcli "$LA" ping)" "PING via a at the end"
assert_eq "PONG" "$(rcli "$LB" ping)" "PING via b at the end"

figure faults_injected "$INJECTED" count
figure faults_survived "$SURVIVED" count
assert_eq "$INJECTED" "$SURVIVED" "faults survived"
say "ok"
