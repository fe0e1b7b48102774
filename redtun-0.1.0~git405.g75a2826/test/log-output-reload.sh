#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# workers = 2 under load (a new connection per request, every one logged)
# while reloads move the log between files (output changes each time): the
# file must not be closed under a worker that writes to it.  Traffic keeps
# flowing, no crash, and after the last reload both workers' lines land in
# the new file only.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli redis-benchmark ss openssl timeout
need_redtun
gen_certs

UP=$(free_port)
L=$(free_port)
RELOADS=${LOG_RELOADS:-40}
start_tls_redis up "$UP"

write_conf() { # K: log to $T/out-(K % 3).log
	{
		echo "pid = \"$T/redtun.pid\";"
		echo "output = \"$T/out-$(($1 % 3)).log\";"
		echo 'debug = 7;'
		echo "CAfile = \"$T/ca.crt\";"
		echo 'workers = 2;'
		echo 'services = {'
		conf_service one "$L" "$UP"
		echo '};'
	} >"$T/redtun.conf.new"
	mv "$T/redtun.conf.new" "$T/redtun.conf"
	LOG=$T/out-$(($1 % 3)).log
}
write_conf 0
start_redtun "$T/redtun.conf"
assert_eq PONG "$(rcli "$L" ping)" "PING"

step "redis-benchmark, a connection per request, with $RELOADS reloads moving the log"
timeout 120 redis-benchmark -h 127.0.0.1 -p "$L" -n 200000 -c 8 -k 0 \
	-t ping_inline -q >"$T/bench.out" 2>&1 &
BENCH_PID=$!
track_pid "$BENCH_PID"
sleep 0.5
reloads() { cat "$T"/out-*.log 2>/dev/null | grep -c "configuration reloaded" || true; }
for ((k = 1; k <= RELOADS; k++)); do
	pid_alive "$BENCH_PID" || break
	write_conf "$k"
	n0=$(reloads)
	kill -HUP "$RT_PID"
	reloaded() { [ "$(reloads)" -gt "$n0" ]; }
	wait_until 10 reloaded || fail "reload $k not done within 10 s"
	assert_redtun_alive "after reload $k"
	sleep 0.05
done
done_k=$((k - 1))
pid_alive "$BENCH_PID" || fail "redis-benchmark ended before the reloads ($done_k done); raise -n"
kill "$BENCH_PID" 2>/dev/null || true
wait "$BENCH_PID" 2>/dev/null || true
say "$done_k reloads under load"
[ "$done_k" -ge 20 ] || fail "only $done_k reloads"
assert_redtun_alive "after the reloads"
assert_eq 0 "$(cat "$T"/out-*.log | grep -c "reload failed" || true)" "failed reloads"
served=$(cat "$T"/out-*.log | grep -Ec "\[one\] [^ ]+: closed: " || true)
say "$served connections logged as closed"
[ "$served" -ge 200 ] || fail "only $served connections served during the reloads"

step "the last output file gets every worker's lines, the others none"
assert_file_match "$LOG" "configuration reloaded" "the reload line in the new file"
sleep 0.5
for f in "$T"/out-*.log; do
	[ "$f" = "$LOG" ] || cp "$f" "$f.before"
done
on_worker() { grep -Eq "\[one\] [^ ]+: accepted by worker $1\$" "$LOG"; }
for ((i = 0; i < 60; i++)); do
	assert_eq PONG "$(rcli "$L" ping)" "PING $i after the reloads"
	on_worker 0 && on_worker 1 && break
done
on_worker 0 || fail "no line of worker 0 in $LOG"
on_worker 1 || fail "no line of worker 1 in $LOG"
for f in "$T"/out-*.log; do
	[ "$f" = "$LOG" ] || cmp -s "$f" "$f.before" || fail "$f still written after the log moved to $LOG"
done
assert_redtun_alive
say "ok"
