#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Daemon life cycle: pidfile, second instance, stale pidfile, SIGHUP reload
# (good and broken), SIGUSR1 log reopen, SIGTERM/SIGINT, bind failure,
# foreground mode, -V/-h.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli nc ss openssl timeout mkfifo
need_redtun
gen_certs

UP=$(free_port)
L1=$(free_port)
L2=$(free_port)
LOG=$T/redtun.log
CONF=$T/redtun.conf
PIDFILE=$T/redtun.pid

start_tls_redis upstream "$UP"

write_conf() { # SERVICE_SPECS...   ("name:localport")
	local s
	{
		conf_globals
		echo 'services = {'
		for s in "$@"; do
			conf_service "${s%%:*}" "${s#*:}" "$UP"
		done
		echo '};'
	} >"$CONF.new"
	mv "$CONF.new" "$CONF"
}

step "command line: -V and -h"
out=$(timeout 5 "$REDTUN" -V 2>&1) || fail "redtun -V exited with $?: $out"
assert_contains "$out" "redtun" "-V output"
assert_match "$out" "[Ww]olf[Ss][Ss][Ll]" "-V names wolfSSL"
assert_match "$out" "[Ll]ibuv" "-V names libuv"
assert_match "$out" "AES-NI: (yes|no)" "-V reports AES-NI"
out=$(timeout 5 "$REDTUN" --version 2>&1) || fail "redtun --version exited with $?"
assert_contains "$out" "redtun" "--version output"
out=$(timeout 5 "$REDTUN" -h 2>&1) || fail "redtun -h exited with $?: $out"
assert_match "$out" "-t|--test-config" "-h lists the options"

step "start the daemon"
write_conf "one:$L1"
start_redtun "$CONF"
pid1=$RT_PID
assert_eq "$pid1" "$(redtun_pid)" "pidfile content"
tr '\0' ' ' <"/proc/$pid1/cmdline" | grep -q redtun || fail "pid $pid1 is not redtun"
assert_file_match "$LOG" "redtun [0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+~]* started"
assert_file_match "$LOG" "\[one\] listening on 127\.0\.0\.1:$L1( |\$)"
port_listening "$L1" || fail "port $L1 is not listening after redtun returned"
assert_eq "PONG" "$(rcli "$L1" ping)" "PING via the tunnel"
# Daemonized: not our child, and detached from our session.
ppid=$(awk '/^PPid:/{print $2}' "/proc/$pid1/status")
assert_ne "$$" "$ppid" "the daemon must not be a child of the test shell"

step "-t works while the daemon runs and does not touch it"
out=$(timeout 10 "$REDTUN" -t "$CONF" 2>&1) || fail "redtun -t exited with $?: $out"
assert_contains "$out" "configuration OK" "-t output"
assert_eq "$pid1" "$(redtun_pid)" "pidfile after -t"

step "second instance with the same config (live pidfile) -> exit 2"
rc=0
timeout 15 "$REDTUN" "$CONF" >"$T/second.out" 2>"$T/second.err" || rc=$?
assert_eq 2 "$rc" "exit status of a second instance"
err=$(cat "$T/second.out" "$T/second.err")
assert_match "$err" "($pid1|$(re_quote "$PIDFILE"))" \
	"second instance names the running pid or the pidfile"
pid_alive "$pid1" || fail "the first instance died"
assert_eq "$pid1" "$(redtun_pid)" "pidfile after the second instance"

step "an open connection survives reloads"
mkfifo "$T/sess.in"
nc -N 127.0.0.1 "$L1" <"$T/sess.in" >"$T/sess.out" 2>&1 &
sess_pid=$!
track_pid "$sess_pid"
exec 7>"$T/sess.in"
sess_send() {
	pid_alive "$sess_pid" || fail "the long-lived session ended early: $(cat "$T/sess.out")"
	printf 'ECHO %s\r\n' "$1" >&7
}
sess_send before-reload
wait_for_log "$T/sess.out" "before-reload" 5

step "SIGHUP with a new service -> it answers; old one still works"
write_conf "one:$L1" "two:$L2"
kill -HUP "$pid1"
wait_for_log "$LOG" "configuration reloaded: 2 services" 10
wait_for_port "$L2" 5
assert_eq "PONG" "$(rcli "$L2" ping)" "PING via the service added by reload"
assert_eq "PONG" "$(rcli "$L1" ping)" "PING via the old service after reload"
assert_file_match "$LOG" "\[two\] listening on 127\.0\.0\.1:$L2( |\$)"
assert_eq "$pid1" "$(redtun_pid)" "pid after reload"
sess_send after-reload
wait_for_log "$T/sess.out" "after-reload" 5

step "SIGHUP with a broken config -> old configuration kept"
good_conf=$(cat "$CONF")
printf '%s\n' "$good_conf" | sed 's/^services = {$/services = {{{ broken/' >"$CONF"
kill -HUP "$pid1"
wait_for_log "$LOG" "reload failed, keeping the old configuration" 10
assert_redtun_alive "after a failed reload"
assert_eq "PONG" "$(rcli "$L1" ping)" "service one after a failed reload"
assert_eq "PONG" "$(rcli "$L2" ping)" "service two after a failed reload"
sess_send after-failed-reload
wait_for_log "$T/sess.out" "after-failed-reload" 5

step "SIGHUP with a semantically bad config -> old configuration kept"
nfail=$(log_count "$LOG" "reload failed")
printf '%s\n' "$good_conf" | sed "s/connect = \"localhost:$UP\";/connect = \"nocolon\";/" >"$CONF"
grep -q nocolon "$CONF" || hard_error "could not write the bad config"
kill -HUP "$pid1"
wait_for_log_count() { [ "$(log_count "$LOG" "$1")" -gt "$2" ]; }
wait_until 10 wait_for_log_count "reload failed, keeping the old configuration" "$nfail" ||
	fail "no second 'reload failed' line"
assert_file_match "$LOG" "reload failed, keeping the old configuration: .*connect"
assert_eq "PONG" "$(rcli "$L1" ping)" "service one after a second failed reload"

step "SIGHUP removing a service -> its port is closed"
write_conf "one:$L1"
n1=$(log_count "$LOG" "configuration reloaded: 1 services?")
kill -HUP "$pid1"
wait_until 10 wait_for_log_count "configuration reloaded: 1 services?" "$n1" ||
	fail "no 'configuration reloaded: 1 services' line"
port_gone() { ! port_listening "$L2"; }
wait_until 5 port_gone || fail "port $L2 still listening after its service was removed"
assert_eq "PONG" "$(rcli "$L1" ping)" "service one after removing service two"
sess_send after-removal
wait_for_log "$T/sess.out" "after-removal" 5
exec 7>&- # EOF -> nc -N half-closes; the tunnel must then close the session
wait_for_exit "$sess_pid" 10 || fail "the session did not end after the client's half-close"
assert_eq 4 "$(grep -c '^\$' "$T/sess.out" || true)" "four ECHO replies in the long session"

step "SIGUSR1 after moving the log file -> new log file"
mv "$LOG" "$LOG.1"
kill -USR1 "$pid1"
wait_until 10 test -s "$LOG" || fail "no new log file after SIGUSR1"
wait_until 5 grep -q "log file reopened" "$LOG" "$LOG.1" || fail "no 'log file reopened' line"
assert_eq "PONG" "$(rcli "$L1" ping)" "PING after log reopen"
wait_for_log "$LOG" "\[one\] .*accepted" 5

step "SIGTERM -> shutdown, pidfile removed, port closed"
kill -TERM "$pid1"
wait_for_exit "$pid1" 15 || fail "redtun still running 15 s after SIGTERM"
wait_for_log "$LOG" "shutting down" 2
wait_for_log "$LOG" "exiting" 2
[ ! -e "$PIDFILE" ] || fail "pidfile $PIDFILE left behind after SIGTERM"
port_listening "$L1" && fail "port $L1 still listening after SIGTERM"

step "stale pidfile (dead pid) is replaced"
sh -c 'exit 0' &
dead=$!
wait "$dead" || true
pid_alive "$dead" && hard_error "pid $dead should be dead"
echo "$dead" >"$PIDFILE"
start_redtun "$CONF"
pid2=$RT_PID
assert_ne "$dead" "$pid2" "pid after replacing a stale pidfile"
assert_eq "PONG" "$(rcli "$L1" ping)" "PING after starting over a stale pidfile"

step "SIGINT -> shutdown too"
kill -INT "$pid2"
wait_for_exit "$pid2" 15 || fail "redtun still running 15 s after SIGINT"
[ ! -e "$PIDFILE" ] || fail "pidfile left behind after SIGINT"

step "pidfile with garbage (999999) is treated as stale"
echo 999999 >"$PIDFILE"
if pid_alive 999999; then
	say "pid 999999 exists here; skipping this case"
else
	start_redtun "$CONF"
	assert_ne 999999 "$RT_PID" "pid after replacing pidfile 999999"
	kill -TERM "$RT_PID"
	wait_for_exit "$RT_PID" 15 || fail "redtun still running after SIGTERM"
fi
rm -f "$PIDFILE"

step "bind failure: accept port already in use -> exit 2, address named"
BUSY=$(free_port)
spawn "$T/busy.out" nc -lk 127.0.0.1 "$BUSY"
wait_for_port "$BUSY" 5
{
	conf_globals
	echo 'services = {'
	conf_service busy "$BUSY" "$UP"
	echo '};'
} >"$T/busy.conf"
for mode in -f daemon; do
	rc=0
	start=$(date +%s)
	if [ "$mode" = -f ]; then
		timeout 15 "$REDTUN" -f "$T/busy.conf" >"$T/busy-$mode.out" 2>"$T/busy-$mode.err" || rc=$?
	else
		timeout 15 "$REDTUN" "$T/busy.conf" >"$T/busy-$mode.out" 2>"$T/busy-$mode.err" || rc=$?
	fi
	took=$(($(date +%s) - start))
	assert_eq 2 "$rc" "exit status on bind failure ($mode)"
	[ "$took" -le 5 ] || fail "bind failure took ${took}s to report ($mode)"
	if [ "$mode" = -f ]; then
		assert_contains "$(cat "$T/busy-$mode.err")" "127.0.0.1:$BUSY" \
			"stderr names the address that could not be bound ($mode)"
	else
		# The daemon may report it on stderr or only in its log.
		assert_contains "$(cat "$T/busy-$mode.err" "$LOG" 2>/dev/null)" "127.0.0.1:$BUSY" \
			"stderr or log names the address that could not be bound ($mode)"
	fi
	[ ! -e "$PIDFILE" ] || fail "pidfile left behind after a bind failure ($mode)"
done

step "foreground mode (-f): runs in the foreground, SIGTERM -> exit 0"
spawn "$T/fg.out" "$REDTUN" -f "$CONF"
fg_pid=$LAST_PID
wait_for_port "$L1" 10
assert_eq "PONG" "$(rcli "$L1" ping)" "PING via a foreground redtun"
kill -TERM "$fg_pid"
rc=0
wait_for_exit "$fg_pid" 15 || fail "foreground redtun still running after SIGTERM"
wait "$fg_pid" || rc=$?
assert_eq 0 "$rc" "exit status of a foreground redtun after SIGTERM"

say "ok"
