#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Adversarial TLS servers behind client-mode services: servers that speak
# TLS badly on purpose (garbage before/after the handshake, truncated and
# oversized records, a close without close_notify, a renegotiation request,
# a TLS 1.0 only server). Each bad tunnel must be closed with an "err" line
# naming the problem in words, the local client must see the close promptly,
# and the daemon must keep serving the good service.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli nc ss openssl timeout mkfifo python3
need_redtun
gen_certs

HOSTILE_PY="$top_srcdir/test/hostile_tls_server.py"
[ -r "$HOSTILE_PY" ] || hard_error "missing $HOSTILE_PY"
LOG=$T/redtun.log

step "start the upstream servers"
P=$(free_port); svc_add good "$P"
start_tls_redis good "$P"

# Every Python mode twice: once pinned to TLS 1.2, once to TLS 1.3; the
# service is called MODE-12 / MODE-13.
PY_MODES=(garbage-during-handshake garbage-after-handshake truncated-record
	oversized-record close-no-notify)
for mode in "${PY_MODES[@]}"; do
	for v in 12 13; do
		P=$(free_port); svc_add "$mode-$v" "$P"
		spawn "$T/py-$mode-$v.log" python3 -u "$HOSTILE_PY" --port "$P" \
			--cert "$T/server.crt" --key "$T/server.key" --mode "$mode" \
			--tls "${v:0:1}.${v:1:1}"
		pypid=$LAST_PID
		wait_until 10 port_listening "$P" || {
			cat "$T/py-$mode-$v.log" >&2
			hard_error "hostile_tls_server.py --mode $mode --tls $v did not start"
		}
		pid_alive "$pypid" || hard_error "hostile_tls_server.py --mode $mode died"
	done
done

# Renegotiation: a TLS 1.2 s_server in interactive mode; its stdin is a fifo
# that this shell keeps open (fd 7), so it can be told to send a HelloRequest.
P=$(free_port); svc_add reneg "$P"
mkfifo "$T/reneg.in"
exec 7<>"$T/reneg.in"
openssl s_server -accept "127.0.0.1:$P" -tls1_2 -cert "$T/server.crt" \
	-key "$T/server.key" <"$T/reneg.in" >"$T/reneg.log" 2>&1 &
RENEG_PID=$!
track_pid "$RENEG_PID"
wait_until 10 port_listening "$P" || { cat "$T/reneg.log" >&2; hard_error "s_server (reneg) did not start"; }

P=$(free_port); svc_add tls10 "$P"
start_s_server tls10 "$P" -tls1 -cert "$T/server.crt" -key "$T/server.key" \
	-cipher 'DEFAULT@SECLEVEL=0'

step "start redtun"
short_timeout() { echo 'TIMEOUTconnect = 5;'; }
svcs_conf short_timeout >"$T/redtun.conf"
# Service names with dashes must be quoted for libconfig? Check -t first.
if ! timeout 10 "$REDTUN" -t "$T/redtun.conf" >"$T/t.out" 2>&1; then
	cat "$T/t.out" >&2
	hard_error "redtun -t rejected the generated configuration"
fi
start_redtun "$T/redtun.conf"

step "positive control: the good server works"
assert_eq "PONG" "$(rcli "$(svc_lport good)" ping)" "PING via the good service"

# probe NAME: send an inline PING through service NAME with nc and wait until
# the tunnel closes (nc exits only on network EOF; stdin EOF does not end
# it). Sets OUT, RC, MS.
probe() {
	timed_client "$1" nc 127.0.0.1 "$(svc_lport "$1")" < <(printf 'PING\r\n')
}

# the err line of service NAME (last one)
err_line() { grep -E " err \[$1\] " "$LOG" | tail -n 1; }

HOSTILE=0
# hostile NAME ERE: the tunnel must be closed promptly without a reply, with
# an err line "[NAME] PEER: ERE", and the good service must keep working.
hostile() {
	local name=$1 re=$2 line
	step "$name: must be closed with a reason"
	HOSTILE=$((HOSTILE + 1))
	probe "$name"
	assert_closed_promptly "$name"
	wait_for_log "$LOG" " err \[$name\] 127\.0\.0\.1:[0-9]+: $re" 5
	line=$(err_line "$name")
	say "$name: logged: ${line#* err }"
	assert_not_contains "$line" "unknown error" "$name: the reason must be in words"
	assert_match "${line#*: }" "[a-z]{4,} [a-z]{2,}" "$name: the reason must be in words"
	figure "close_ms_$name" "$MS" ms
	assert_good_serves "the $name case"
}

for v in 12 13; do
	vv=TLSv1\\.${v:1:1}
	hostile "garbage-during-handshake-$v" \
		"upstream localhost:$(svc_uport "garbage-during-handshake-$v"): TLS handshake failed: "
	assert_file_no_match "$LOG" "\[garbage-during-handshake-$v\] .*connected to " \
		"garbage instead of a ServerHello must never count as connected"
	hostile "garbage-after-handshake-$v" "TLS error from server: "
	assert_file_match "$LOG" "\[garbage-after-handshake-$v\] .*connected to .* $vv " \
		"garbage-after-handshake-$v: the handshake completed with the pinned version"
	# A record cut short by a TCP close is a truncation, not a clean EOF.
	hostile "truncated-record-$v" \
		"(TLS error from server: |the server closed the connection without TLS close_notify: .*truncated)"
	hostile "oversized-record-$v" "TLS error from server: "

	name=close-no-notify-$v
	step "$name: the reply arrives, then the tunnel ends as EOF"
	HOSTILE=$((HOSTILE + 1))
	probe "$name"
	assert_contains "$OUT" "+PONG" "$name: the reply sent before the close must reach the client"
	[ "$RC" -ne 124 ] || fail "$name: the client connection was not closed within 10 s"
	[ "$MS" -lt 8000 ] || fail "$name: closing the client took ${MS} ms"
	wait_for_log "$LOG" "\[$name\] 127\.0\.0\.1:[0-9]+: closed: 6 bytes to server, 7 bytes to client" 5
	assert_file_match "$LOG" "\[$name\] .*connected to .* $vv " \
		"$name: the handshake completed with the pinned version"
	figure "close_ms_$name" "$MS" ms
	if log_has "$LOG" " err \[$name\] "; then
		say "$name logged: $(err_line "$name")"
	fi
	assert_good_serves "$name"
done

step "reneg: the server asks for a renegotiation in the middle of a tunnel"
HOSTILE=$((HOSTILE + 1))
mkfifo "$T/renegc.in"
nc 127.0.0.1 "$(svc_lport reneg)" <"$T/renegc.in" >"$T/renegc.out" 2>&1 &
RNC_PID=$!
track_pid "$RNC_PID"
exec 8>"$T/renegc.in"
printf 'before-reneg\r\n' >&8
wait_until 10 grep -q before-reneg "$T/reneg.log" ||
	fail "reneg: the s_server never received the data sent through the tunnel"
wait_for_log "$LOG" "\[reneg\] .*connected to .* TLSv1\.2 " 5
printf 'hello-1\n' >&7
wait_until 5 grep -q hello-1 "$T/renegc.out" ||
	fail "reneg: data from s_server did not reach the client before the renegotiation"
printf 'r\n' >&7
wait_until 5 grep -Eqi "renegotiat|SSL_do_handshake|HelloRequest" "$T/reneg.log" ||
	fail "reneg: s_server did not report the renegotiation request"
sleep 1
# Whatever happened, the tunnel must be either gone or still working.
printf 'hello-2\n' >&7 2>/dev/null || true
printf 'after-reneg\r\n' >&8 2>/dev/null || true
kept=0
if wait_until 5 grep -q hello-2 "$T/renegc.out"; then
	kept=1
fi
if [ "$kept" = 1 ]; then
	say "reneg: the tunnel kept working after the HelloRequest (it was ignored)"
	wait_until 5 grep -q after-reneg "$T/reneg.log" ||
		fail "reneg: the server->client direction works but client->server does not"
	pid_alive "$RNC_PID" || fail "reneg: data flowed but nc exited"
else
	# Not working any more: then it must be closed, with a reason.
	wait_for_exit "$RNC_PID" 8 ||
		fail "reneg: the tunnel neither works nor was closed (hung)"
	wait_for_log "$LOG" " err \[reneg\] 127\.0\.0\.1:[0-9]+: " 5
	say "reneg: tunnel closed: $(err_line reneg)"
fi
figure reneg_tunnel_kept_working "$kept" bool
grep -E "\[reneg\]" "$LOG" | sed 's/^/    | /'
exec 8>&-
wait_for_exit "$RNC_PID" 10 || fail "reneg: the tunnel was not closed after the client closed"
assert_good_serves "the renegotiation request"

step "tls10: a TLS 1.0 only server is refused"
hostile tls10 "upstream localhost:$(svc_uport tls10): TLS handshake failed: .*protocol version"
assert_file_no_match "$LOG" "\[tls10\] .*connected to " "TLS 1.0 must never count as connected"

step "the daemon survived everything and still serves"
assert_survived
assert_file_no_match "$LOG" " (emerg|alert|crit) " "no emergency/critical log lines"
assert_file_no_match "$LOG" " err \[good\] " "no errors on the good service"
figure hostile_peers "$HOSTILE" peers
exec 7>&-
say "ok"
