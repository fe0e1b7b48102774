#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# workers = 2, stop with a connection held open on worker 1: worker 0 has
# drained at once, worker 1 drains until its client leaves.  In that window
# the signal handlers must still be there: SIGUSR1 (sent repeatedly, with the
# log file rotated) reopens the log, a second SIGTERM closes the held
# connection.  The process must then exit 0 and remove its pidfile.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli ss openssl timeout
need_redtun
gen_certs

UP=$(free_port)
L=$(free_port)
LOG=$T/redtun.log
start_tls_redis up "$UP"
{
	conf_globals
	echo 'workers = 2;'
	echo 'services = {'
	conf_service one "$L" "$UP" 'TIMEOUTclose = 60;'
	echo '};'
} >"$T/redtun.conf"
track_pidfile "$T/redtun.pid"
# Foreground, so that the exit status is ours to read.
spawn "$T/redtun.err" "$REDTUN" -f "$T/redtun.conf"
RT_PID=$LAST_PID
wait_until 10 port_listening "$L" || fail "redtun did not listen on $L"

fd_ping() { # FD
	printf 'PING\r\n' >&"$1"
	local line=
	read -r -t 5 -u "$1" line || true
	printf '%s' "${line%$'\r'}"
}
accepted() { log_count "$LOG" "\[one\] [^ ]+: accepted by worker [01]$"; }

step "hold one connection on worker 1 (and none on worker 0)"
held=
for ((i = 0; i < 40; i++)); do
	n_acc=$(accepted)
	exec {fd}<>"/dev/tcp/127.0.0.1/$L"
	assert_eq +PONG "$(fd_ping "$fd")" "PING on connection $i"
	got_line() { [ "$(accepted)" -gt "$n_acc" ]; }
	wait_until 5 got_line || fail "no accepted line for connection $i"
	if grep -E "\[one\] [^ ]+: accepted by worker [01]$" "$LOG" |
		sed -n "$((n_acc + 1))p" | grep -q "worker 1$"; then
		held=$fd
		break
	fi
	exec {fd}>&-
done
[ -n "$held" ] || fail "40 connections, none on worker 1"
n_w0=$i
# The ones that landed on worker 0 must be gone before the stop.
closed_all() { [ "$(log_count "$LOG" "\[one\] [^ ]+: closed: ")" -ge "$n_w0" ]; }
wait_until 10 closed_all || fail "the connections on worker 0 did not close"

step "SIGTERM: worker 0 is done, worker 1 drains"
kill -TERM "$RT_PID"
wait_for_log "$LOG" "SIGTERM: shutting down" 5
# Worker 0 has nothing to drain: its listener goes at once.
sleep 0.5

step "SIGUSR1 during the drain, with the log rotated"
mv "$LOG" "$LOG.1"
for ((k = 1; k <= 10; k++)); do
	kill -USR1 "$RT_PID" 2>/dev/null || fail "redtun is gone before SIGUSR1 #$k"
	sleep 0.2
	pid_alive "$RT_PID" || break
done
if ! pid_alive "$RT_PID"; then
	rc=0
	wait "$RT_PID" || rc=$?
	fail "redtun died during the drain after SIGUSR1 #$k (exit status $rc)"
fi
wait_for_log "$LOG" "log file reopened" 5
say "$(log_count "$LOG" "log file reopened") 'log file reopened' lines in the new file"
assert_eq +PONG "$(fd_ping "$held")" "PING on the held connection during the drain"

step "a second SIGTERM closes the held connection; exit 0"
kill -TERM "$RT_PID"
wait_for_log "$LOG" "SIGTERM again: closing all connections now" 5
wait_for_exit "$RT_PID" 10 || fail "redtun did not exit after the second SIGTERM"
rc=0
wait "$RT_PID" || rc=$?
assert_eq 0 "$rc" "exit status of redtun"
exec {held}>&-
wait_for_log "$LOG" "exiting" 5
[ ! -e "$T/redtun.pid" ] || fail "pidfile left behind"
say "ok"
