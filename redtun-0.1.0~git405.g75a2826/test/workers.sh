#!/bin/bash
# workers = N: one event loop per thread on SO_REUSEPORT listeners; every
# worker serves connections, and reloads and stops reach all of them.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli ss openssl timeout
need_redtun
gen_certs

UP=$(free_port)
L1=$(free_port)
L2=$(free_port)
LOG=$T/redtun.log
start_tls_redis up "$UP"

write_conf() { # EXTRA-SERVICE(0|1)
	{
		conf_globals
		echo 'workers = 2;'
		echo 'services = {'
		conf_service one "$L1" "$UP"
		[ "$1" = 0 ] || conf_service two "$L2" "$UP"
		echo '};'
	} >"$T/redtun.conf"
}
write_conf 0
start_redtun "$T/redtun.conf"

step "two event-loop threads, two listening sockets on one port"
threads=$(awk '/^Threads:/ {print $2}' "/proc/$RT_PID/status")
[ "$threads" -ge 2 ] || fail "redtun has $threads threads with workers = 2"
socks=$(ss -ltnpH "( sport = :$L1 )" | grep -c "pid=$RT_PID,")
assert_eq 2 "$socks" "listening sockets on port $L1 (SO_REUSEPORT, one per worker)"
figure worker_threads "$threads" threads

step "connections land on every worker"
served_by_all() { # SERVICE
	local w
	for w in 0 1; do
		grep -Eq "\[$1\] [^ ]+: accepted by worker $w\$" "$LOG" || return 1
	done
}
for ((i = 0; i < 60; i++)); do
	assert_eq PONG "$(rcli "$L1" ping)" "PING $i"
	served_by_all one && break
done
served_by_all one || fail "60 connections did not reach both workers"
w0=$(grep -Ec "\[one\] [^ ]+: accepted by worker 0$" "$LOG")
w1=$(grep -Ec "\[one\] [^ ]+: accepted by worker 1$" "$LOG")
say "worker 0: $w0 connections, worker 1: $w1"
figure worker_split "$w0/$w1" connections

step "a reload adds a service on every worker"
write_conf 1
kill -HUP "$RT_PID"
wait_for_log "$LOG" "configuration reloaded: 2 services" 10
socks=$(ss -ltnpH "( sport = :$L2 )" | grep -c "pid=$RT_PID,")
assert_eq 2 "$socks" "listening sockets for the added service"
for ((i = 0; i < 60; i++)); do
	assert_eq PONG "$(rcli "$L2" ping)" "PING $i on the added service"
	served_by_all two && break
done
served_by_all two || fail "the added service was not served by both workers"

step "a reload removes it from every worker"
write_conf 0
kill -HUP "$RT_PID"
wait_for_log "$LOG" "configuration reloaded: 1 services" 10
gone() { ! port_listening "$L2"; }
wait_until 5 gone || fail "port $L2 still listening after the service was removed"
assert_eq PONG "$(rcli "$L1" ping)" "PING on the kept service"

step "SIGTERM stops all workers"
kill -TERM "$RT_PID"
wait_for_exit "$RT_PID" 15 || fail "redtun with 2 workers did not exit"
wait_for_log "$LOG" "exiting" 5
[ ! -e "$T/redtun.pid" ] || fail "pidfile left behind"
say "ok"
