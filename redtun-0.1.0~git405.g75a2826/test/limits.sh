#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Resource limits: an accept storm past the open-file limit (no busy loop, no
# log flood, recovery), maxConnections per service and globally (and the
# default derived from RLIMIT_NOFILE), a client that never reads (memory
# stays bounded), clients that send nothing (TIMEOUTidle, server-mode sniff
# timeout) and an upstream that never finishes the TLS handshake.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli nc ss openssl timeout
need_redtun
gen_certs

now_ms() { echo $(($(date +%s%N) / 1000000)); }
REFUSED=0

R=$(free_port)      # TLS redis behind every client-mode service
P=$(free_port)      # plaintext redis behind the server-mode service
HANG=$(free_port)   # accepts TCP, never says a word
start_tls_redis r "$R"
start_plain_redis p "$P"
spawn "$T/hang.log" nc -lk 127.0.0.1 "$HANG"
wait_for_port "$HANG"

# ---------------------------------------------------------------------------
# Helpers

# A foreground redtun with its own config, log and pidfile.
# fg_conf NAME GLOBAL-LINES SERVICE-TEXT: writes $T/NAME.conf.
fg_conf() {
	{
		echo "pid = \"$T/$1.pid\";"
		echo "output = \"$T/$1.log\";"
		echo 'debug = 7;'
		echo "CAfile = \"$T/ca.crt\";"
		[ -n "$2" ] && echo "$2"
		echo 'services = {'
		echo "$3"
		echo '};'
	} >"$T/$1.conf"
	track_pidfile "$T/$1.pid"
}
# fg_start NAME PORT [NOFILE]: start it (under ulimit -n NOFILE if given),
# wait until PORT listens; sets FG_PID (redtun itself: bash execs it).
FG_PID=
fg_start() {
	local name=$1 port=$2 nofile=${3:-}
	if [ -n "$nofile" ]; then
		# shellcheck disable=SC2016 # expanded by the inner bash
		spawn "$T/$name.err" bash -c 'ulimit -n "$0" && exec "$1" -f "$2"' \
			"$nofile" "$REDTUN" "$T/$name.conf"
	else
		spawn "$T/$name.err" "$REDTUN" -f "$T/$name.conf"
	fi
	FG_PID=$LAST_PID
	if ! wait_until 10 port_listening "$port"; then
		cat "$T/$name.err" >&2
		fail "redtun $name did not start listening on $port"
	fi
	pid_alive "$FG_PID" || fail "redtun $name exited: $(cat "$T/$name.err")"
	[ -z "$nofile" ] || assert_eq "$nofile" \
		"$(awk '/^Max open files/{print $4}' "/proc/$FG_PID/limits")" "open-file limit of redtun $name"
}

# hold NAME PORT N: background client that opens N connections and keeps
# them; after 2.5 s (client mode holds a silent over-limit client 1 s for
# a command to answer with the reason) it sorts them into open / closed by
# redtun and writes "OPEN CLOSED FAILED" to $T/NAME.counts, then holds
# until $T/NAME.release exists (at most 60 s). Sets HOLD_PID.
hold() {
	local name=$1 port=$2 n=$3
	(
		set +e
		fds=()
		failed=0
		for ((i = 0; i < n; i++)); do
			if exec {fd}<>"/dev/tcp/127.0.0.1/$port"; then
				fds+=("$fd")
			else
				failed=$((failed + 1))
			fi
		done 2>/dev/null
		echo "${#fds[@]}" >"$T/$name.opened"
		sleep 2.5
		open=0 closed=0
		for fd in "${fds[@]}"; do
			read -r -t 0.05 -u "$fd" _
			if [ $? -gt 128 ]; then open=$((open + 1)); else closed=$((closed + 1)); fi
		done
		echo "$open $closed $failed" >"$T/$name.counts"
		for ((i = 0; i < 600; i++)); do
			[ -e "$T/$name.release" ] && break
			sleep 0.1
		done
	) </dev/null >"$T/$name.hold.out" 2>&1 &
	HOLD_PID=$!
	track_pid "$HOLD_PID"
}
hold_counts() { # NAME -> sets H_OPEN H_CLOSED H_FAILED
	wait_until 30 test -s "$T/$1.counts" || fail "holder $1 did not report"
	read -r H_OPEN H_CLOSED H_FAILED <"$T/$1.counts"
	say "$1: $H_OPEN connections open, $H_CLOSED closed by redtun, $H_FAILED failed to connect"
}
release() { # NAME PID
	touch "$T/$1.release"
	wait_for_exit "$2" 10 || fail "holder $1 did not exit"
}

in_range() { [ "$1" -ge "$2" ] && [ "$1" -lt "$3" ]; } # VALUE MIN MAX(excl.)
count_above() { [ "$(log_count "$1" "$2")" -gt "$3" ]; } # FILE ERE N
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }

# PING over an already open descriptor: prints the reply line.
fd_ping() { # FD
	printf 'PING\r\n' >&"$1"
	local line=
	read -r -t 5 -u "$1" line || true
	printf '%s' "${line%$'\r'}"
}

# Time until redtun closes descriptor FD (read returns EOF): sets EOF_MS,
# fails on timeout.
wait_eof() { # FD TIMEOUT WHAT
	local t0 rc=0
	t0=$(now_ms)
	while :; do
		rc=0
		read -r -t "$2" -u "$1" _ || rc=$?
		[ "$rc" -eq 0 ] || break
	done
	EOF_MS=$(($(now_ms) - t0))
	[ "$rc" -le 128 ] || fail "$3: still open after $2 s"
}

# ---------------------------------------------------------------------------
step "default global limit under ulimit -n 64: (64 - 32) / 2 = 16"
LD=$(free_port)
fg_conf dflt "" "$(conf_service d "$LD" "$R")"
fg_start dflt "$LD" 64
DLOG=$T/dflt.log
wait_for_log "$DLOG" "at most 16 connections at once" 5
hold dflt "$LD" 20
hold_counts dflt
assert_eq "16 4 0" "$H_OPEN $H_CLOSED $H_FAILED" "open/closed/failed of 20 clients with the default limit 16"
REFUSED=$((REFUSED + H_CLOSED))
wait_for_log "$DLOG" "\[d\] connection limit reached \(global maxConnections = 16\): refusing 127\.0\.0\.1:[0-9]+" 5
assert_eq 16 "$(log_count "$DLOG" "\[d\] .*: accepted")" "tunnels accepted with the default limit"
n=$(log_count "$DLOG" "connection limit reached")
[ "$n" -le 2 ] || fail "$n 'connection limit reached' lines for 4 refusals within ~1 s (rate limit: 1/s)"
release dflt "$HOLD_PID"
assert_eq "PONG" "$(rcli "$LD" ping)" "PING after the default-limit clients left"
kill_wait "$FG_PID"

# ---------------------------------------------------------------------------
step "accept storm past the open-file limit (ulimit -n 64, maxConnections = 1000)"
LS=$(free_port)
fg_conf storm "maxConnections = 1000;" "$(conf_service s "$LS" "$R")"
fg_start storm "$LS" 64
SPID=$FG_PID
SLOG=$T/storm.log
wait_for_log "$SLOG" "at most 1000 connections at once \(maxConnections\)" 5
hold storm "$LS" 100
wait_until 30 test -s "$T/storm.opened" || fail "the storm clients did not finish connecting"
# Let redtun take in what it can, then watch it sit there.
sleep 1
c0=$(cpu_ticks "$SPID")
sleep 2
c1=$(cpu_ticks "$SPID")
hz=$(getconf CLK_TCK)
cpu_ms=$(((c1 - c0) * 1000 / hz))
figure storm_cpu_2s "$(awk -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN{printf "%.2f", t / hz}')" s
[ "$cpu_ms" -lt 500 ] || fail "redtun used ${cpu_ms} ms of CPU in 2 s while the storm sat there (busy loop?)"
hold_counts storm
pid_alive "$SPID" || fail "redtun died in the accept storm"
accepted=$(log_count "$SLOG" "\[s\] .*: accepted")
figure storm_connections_held "$H_OPEN" count
figure storm_connections_shed "$H_CLOSED" count
assert_eq 100 "$((H_OPEN + H_CLOSED + H_FAILED))" "storm clients accounted for"
[ "$H_OPEN" -lt 32 ] || fail "$H_OPEN tunnels open with 64 descriptors? (each needs two)"
emfile=$(log_count "$SLOG" "too many open files")
say "accepted: $accepted; 'too many open files' lines: $emfile"
figure storm_emfile_log_lines "$emfile" count
[ "$emfile" -ge 1 ] || fail "descriptor exhaustion was not logged"
[ "$emfile" -le 2 ] || fail "'too many open files' logged $emfile times (expected once per episode)"
assert_file_match "$SLOG" "cannot accept a connection: too many open files|out of file descriptors" \
	"the documented EMFILE message"
# Not one error line per shed connection (whatever the wording).
errs=$(log_count "$SLOG" "^[0-9-]+ [0-9:]+ err ")
figure storm_err_log_lines "$errs" count
[ "$errs" -le 5 ] || fail "$errs error lines for one storm (expected one per episode); e.g. $(grep -E '^[0-9-]+ [0-9:]+ err ' "$SLOG" | sed -n '$p')"
release storm "$HOLD_PID"
wait_for_log "$SLOG" "\[s\] .*closed: " 5
# The last tunnels close once redis sees the EOF; retry briefly.
ping_ok() { [ "$(rcli "$LS" ping 2>/dev/null)" = PONG ]; }
wait_until 10 ping_ok || fail "PING after the storm did not work within 10 s"
wait_for_log "$SLOG" "accepting connections again" 5
assert_eq "PONG" "$(rcli "$LS" ping)" "second PING after the storm"
emfile=$(log_count "$SLOG" "too many open files")
[ "$emfile" -le 2 ] || fail "'too many open files' logged $emfile times in total"
kill_wait "$SPID"

# ---------------------------------------------------------------------------
step "start the main daemon"
LM=$(free_port)      # plain tunnel
L3=$(free_port)      # maxConnections = 3
LI=$(free_port)      # TIMEOUTidle = 2
LQ=$(free_port)      # server mode, client sends nothing
LH=$(free_port)      # upstream never finishes the handshake
{
	conf_globals
	conf_workers
	echo 'services = {'
	conf_service main "$LM" "$R"
	conf_service lim3 "$L3" "$R" 'maxConnections = 3;'
	conf_service idle "$LI" "$R" 'TIMEOUTidle = 2;'
	printf '  quiet = {\n    client = false;\n    accept = "127.0.0.1:%s";\n' "$LQ"
	printf '    connect = "127.0.0.1:%s";\n    cert = "%s";\n    key = "%s";\n' "$P" "$T/server.crt" "$T/server.key"
	printf '    TIMEOUTconnect = 2;\n  };\n'
	conf_service hang "$LH" "$HANG" 'TIMEOUTconnect = 2;'
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
LOG=$T/redtun.log
assert_eq "PONG" "$(rcli "$LM" ping)" "PING via main"

# ---------------------------------------------------------------------------
step "maxConnections = 3 on one service"
# The limit holds per worker (REDTUN_TEST_WORKERS, which only the main
# daemon honours: the limit and storm daemons count exactly, with one).
if [ "${REDTUN_TEST_WORKERS:-1}" = 1 ]; then
	exec {c1}<>"/dev/tcp/127.0.0.1/$L3"
	exec {c2}<>"/dev/tcp/127.0.0.1/$L3"
	exec {c3}<>"/dev/tcp/127.0.0.1/$L3"
	for fd in $c1 $c2 $c3; do
		assert_eq "+PONG" "$(fd_ping "$fd")" "PING on held connection (fd $fd)"
	done
	exec {c4}<>"/dev/tcp/127.0.0.1/$L3"
	# Client mode: its first command is answered with the reason, then
	# the connection is closed (one that sends nothing: after 1 s).
	t0=$(now_ms)
	assert_eq "-ERR redtun [lim3]: connection limit reached (maxConnections = 3)" \
		"$(fd_ping "$c4")" "the 4th connection is told why"
	wait_eof "$c4" 5 "the 4th connection over maxConnections = 3"
	EOF_MS=$(($(now_ms) - t0))
	say "4th connection answered and closed after ${EOF_MS} ms"
	[ "$EOF_MS" -lt 1000 ] || fail "the 4th connection was closed only after ${EOF_MS} ms"
	REFUSED=$((REFUSED + 1))
	exec {c4}>&-
	wait_for_log "$LOG" "\[lim3\] connection limit reached \(maxConnections = 3\): refusing 127\.0\.0\.1:[0-9]+ \([0-9]+ refused since the last message\)" 5
	for fd in $c1 $c2 $c3; do
		assert_eq "+PONG" "$(fd_ping "$fd")" "held connections still work after the refusal"
	done
	assert_eq "PONG" "$(rcli "$LM" ping)" "another service is not limited"
	n_closed=$(log_count "$LOG" "\[lim3\] .*closed: ")
	exec {c1}>&-
	wait_until 5 count_above "$LOG" "\[lim3\] .*closed: " "$n_closed" ||
		fail "redtun did not notice the closed connection"
	assert_eq "PONG" "$(rcli "$L3" ping)" "a new connection after one of three closed"
	exec {c2}>&- {c3}>&-
else
	say "skipped with ${REDTUN_TEST_WORKERS} workers (the limit is per worker)"
fi

# ---------------------------------------------------------------------------
step "global maxConnections = 2 across two services"
LG1=$(free_port)
LG2=$(free_port)
fg_conf glob "maxConnections = 2;" "$(conf_service g1 "$LG1" "$R")
$(conf_service g2 "$LG2" "$R")"
fg_start glob "$LG1"
GPID=$FG_PID
GLOG=$T/glob.log
wait_for_port "$LG2"
exec {g1}<>"/dev/tcp/127.0.0.1/$LG1"
exec {g2}<>"/dev/tcp/127.0.0.1/$LG2"
assert_eq "+PONG" "$(fd_ping "$g1")" "PING on g1"
assert_eq "+PONG" "$(fd_ping "$g2")" "PING on g2"
exec {g3}<>"/dev/tcp/127.0.0.1/$LG2"
wait_eof "$g3" 5 "a third connection over global maxConnections = 2"
# It sends nothing: redtun waits up to 1 s for a command to answer with
# the reason (REFUSE), then closes.
[ "$EOF_MS" -lt 2500 ] || fail "the third connection was closed only after ${EOF_MS} ms"
exec {g3}>&-
exec {g4}<>"/dev/tcp/127.0.0.1/$LG1"
wait_eof "$g4" 5 "a fourth connection over global maxConnections = 2"
exec {g4}>&-
REFUSED=$((REFUSED + 2))
wait_for_log "$GLOG" "\[g2\] connection limit reached \(global maxConnections = 2\): refusing " 5
wait_for_log "$GLOG" "\[g1\] connection limit reached \(global maxConnections = 2\): refusing " 5
n_closed=$(log_count "$GLOG" "closed: ")
exec {g2}>&-
wait_until 5 count_above "$GLOG" "closed: " "$n_closed" ||
	fail "redtun did not notice the closed connection"
assert_eq "PONG" "$(rcli "$LG1" ping)" "g1 after one global slot was freed"
assert_eq "+PONG" "$(fd_ping "$g1")" "the held g1 connection still works"
exec {g1}>&-
kill_wait "$GPID"
figure refused_connections "$REFUSED" count

# ---------------------------------------------------------------------------
step "slow reader: 10 x GET of a 10 MB value, never read"
assert_eq 10485760 "$(rcli "$LM" setrange big 10485759 x)" "SETRANGE big"
assert_eq 10485760 "$(rcli "$LM" strlen big)" "STRLEN big"
# One full transfer first so that one-time allocations are in the baseline.
timeout 20 redis-cli -h 127.0.0.1 -p "$LM" get big | wc -c >/dev/null
sleep 0.3
rss0=$(rss_kb "$RT_PID")
exec {slow}<>"/dev/tcp/127.0.0.1/$LM"
for ((i = 0; i < 10; i++)); do printf 'GET big\r\n'; done >&"$slow"
peak=$rss0
for ((i = 0; i < 30; i++)); do
	sleep 0.2
	r=$(rss_kb "$RT_PID")
	[ "$r" -gt "$peak" ] && peak=$r
	if [ "$i" -eq 10 ]; then
		assert_eq "PONG" "$(rcli "$LM" ping)" "another client while the slow reader is stuck"
		assert_eq "PONG" "$(rcli "$L3" ping)" "another service while the slow reader is stuck"
	fi
done
growth=$((peak - rss0))
say "VmRSS before: $rss0 KB, peak: $peak KB, growth: $growth KB"
figure slow_reader_rss_growth "$growth" KB
# The rest of the 100 MB must be waiting in redis, not in redtun.
omem=$(rcli_tls "$R" client list | sed -n 's/.* omem=\([0-9]*\) .*/\1/p' | sort -n | tail -n 1)
say "largest redis client output buffer: ${omem:-?} bytes"
[ "${omem:-0}" -gt 50000000 ] || fail "redis holds only ${omem:-0} bytes for the slow reader; was it really stuck?"
# ASan's (and TSan's) allocator and shadow memory add megabytes of their
# own; there the check only proves the growth stays far below the 100 MB sent.
limit=2048
if grep -aq -e __asan_init -e __tsan_init "$REDTUN" 2>/dev/null; then limit=32768; fi
[ "$growth" -lt "$limit" ] || fail "redtun grew by $growth KB for one slow reader (limit $limit KB; bound: 64 KiB queue + 64 KiB chunk + 20 KiB per direction)"
assert_redtun_alive
exec {slow}>&-

# ---------------------------------------------------------------------------
step "client-mode client that sends nothing: TIMEOUTidle = 2"
exec {q}<>"/dev/tcp/127.0.0.1/$LI"
wait_eof "$q" 10 "an idle connection with TIMEOUTidle = 2"
exec {q}>&-
say "idle connection closed after ${EOF_MS} ms"
figure idle_close_ms "$EOF_MS" ms
in_range "$EOF_MS" 1500 5000 ||
	fail "idle connection closed after ${EOF_MS} ms (TIMEOUTidle = 2)"
wait_for_log "$LOG" "\[idle\] 127\.0\.0\.1:[0-9]+: TIMEOUTidle exceeded" 5

step "server-mode client that sends nothing: closed after TIMEOUTconnect = 2"
exec {q}<>"/dev/tcp/127.0.0.1/$LQ"
wait_eof "$q" 10 "a silent client in server mode"
exec {q}>&-
say "silent server-mode client closed after ${EOF_MS} ms"
in_range "$EOF_MS" 1500 5000 ||
	fail "silent client closed after ${EOF_MS} ms (TIMEOUTconnect = 2)"
wait_for_log "$LOG" "\[quiet\] 127\.0\.0\.1:[0-9]+: client sent nothing for 2 s" 5

# ---------------------------------------------------------------------------
step "upstream accepts TCP but never answers the TLS handshake"
t0=$(now_ms)
out=$(rcli "$LH" ping 2>&1 || true)
ms=$(($(now_ms) - t0))
say "PING via hang: ${ms} ms: $out"
assert_not_contains "$out" "PONG" "PING through a mute upstream"
in_range "$ms" 1500 5000 || fail "the client was closed after ${ms} ms (TIMEOUTconnect = 2)"
wait_for_log "$LOG" "\[hang\] .*upstream localhost:$HANG: handshake timed out" 5

step "the daemon is still healthy"
assert_redtun_alive
assert_eq "PONG" "$(rcli "$LM" ping)" "PING via main at the end"
say "ok"
