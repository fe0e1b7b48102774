#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# A listener that fails to open in the workers (listen() or uv_tcp_open
# failing, injected by test/fail_listen_shim.c through LD_PRELOAD), then
# reloads: every other service keeps its own listener and reaches its own
# redis, the failed one comes back once its accept address changes, and a
# socket that uv_tcp_open refused is not left open (bound and listening).
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli ss openssl timeout "${CC:-cc}"
need_redtun
gen_certs

SHIM=$T/fail_listen_shim.so
"${CC:-cc}" -shared -fPIC -o "$SHIM" "$top_srcdir/test/fail_listen_shim.c" -ldl ||
	hard_error "cannot build the LD_PRELOAD shim"

RA=$(free_port)
RB=$(free_port)
RC=$(free_port)
LA=$(free_port)
LB=$(free_port)      # b's accept port: its listeners fail to open
LB2=$(free_port)     # b moved here by the reload
LC=$(free_port)
LD=$(free_port)      # d: uv_tcp_open fails
LOG=$T/redtun.log
for r in a:"$RA" b:"$RB" c:"$RC"; do
	start_tls_redis "${r%%:*}" "${r#*:}"
	rcli_tls "${r#*:}" set who "${r%%:*}" >/dev/null
done

# write_conf B_PORT [WITH_D]
write_conf() {
	{
		conf_globals
		echo 'workers = 2;'
		echo 'services = {'
		conf_service a "$LA" "$RA"
		conf_service b "$1" "$RB"
		conf_service c "$LC" "$RC"
		[ -z "${2:-}" ] || conf_service d "$LD" "$RA"
		echo '};'
	} >"$T/redtun.conf"
}
# Each listening port reaches its own redis.
who() { rcli "$1" get who 2>&1 || true; }
check_routes() { # B_PORT WHEN
	assert_eq a "$(who "$LA")" "a on $LA $2"
	assert_eq b "$(who "$1")" "b on $1 $2"
	assert_eq c "$(who "$LC")" "c on $LC $2"
}
n_reloads() { log_count "$LOG" "configuration reloaded"; }
reload() {
	local n0
	n0=$(n_reloads)
	kill -HUP "$RT_PID"
	reloaded() { [ "$(n_reloads)" -gt "$n0" ]; }
	wait_until 10 reloaded || fail "no reload"
	sleep 0.3	# the workers apply the plan after the log line
}

step "start with b's listen() failing in both workers"
export REDTUN_SHIM_ARMED=$T/armed
echo "listen $LB" >"$T/armed"
write_conf "$LB"
# A shared ASan runtime (gcc's) must come first in the preload list.
preload=$(ldd "$REDTUN" 2>/dev/null | awk '/libasan|libtsan/ { printf "%s ", $3 }')
LD_PRELOAD="$preload$SHIM" start_redtun "$T/redtun.conf"
wait_for_log "$LOG" "worker [01]: \[b\] cannot listen on 127\.0\.0\.1:$LB" 5
rm -f "$T/armed"
assert_eq a "$(who "$LA")" "a on $LA at start"
assert_eq c "$(who "$LC")" "c on $LC at start"
port_listening "$LB" && fail "b listens on $LB although its listen() failed"

step "reload moving b: a and c keep their listeners, b opens on $LB2"
write_conf "$LB2"
reload
assert_file_no_match "$LOG" "reload failed" "reload"
check_routes "$LB2" "after moving b"
socks=$(ss -ltnpH "( sport = :$LC )" | grep -c "pid=$RT_PID," || true)
assert_eq 2 "$socks" "listening sockets of c (one per worker)"

step "an unchanged reload keeps all three where they are"
reload
check_routes "$LB2" "after an unchanged reload"

step "d added, its uv_tcp_open fails: no socket left behind"
echo "nonblock $LD" >"$T/armed"
write_conf "$LB2" d
reload
wait_for_log "$LOG" "worker [01]: \[d\] cannot listen on 127\.0\.0\.1:$LD" 5
rm -f "$T/armed"
socks=$(ss -ltnpH "( sport = :$LD )" | grep -c "pid=$RT_PID," || true)
assert_eq 0 "$socks" "sockets of redtun on $LD after uv_tcp_open failed"
check_routes "$LB2" "after d failed to open"

step "reload again: d's slot is empty, everything else stays aligned"
reload
wait_for_log "$LOG" "\[d\] worker [01]: not listening" 5
check_routes "$LB2" "after a reload with d still closed"
assert_redtun_alive
say "ok"
