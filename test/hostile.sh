#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Hostile or broken upstreams must be refused: the local client sees the
# connection closed promptly (no PONG), the log says why, and the daemon keeps
# serving the good services.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli nc ss openssl timeout
need_redtun
gen_certs

# name:upstream-port:local-port for every service, in order.
SERVICES=()
add() { SERVICES+=("$1:$2:$(free_port)"); }
lport() { local s; for s in "${SERVICES[@]}"; do [ "${s%%:*}" = "$1" ] && { echo "${s##*:}"; return; }; done; hard_error "no service $1"; }
uport() { local s; for s in "${SERVICES[@]}"; do [ "${s%%:*}" = "$1" ] && { s=${s#*:}; echo "${s%%:*}"; return; }; done; hard_error "no service $1"; }

step "start the upstream servers"
P=$(free_port); add good "$P"
start_tls_redis good "$P"

P=$(free_port); add untrusted "$P"
start_tls_redis untrusted "$P" --tls-cert-file "$T/untrusted.crt" --tls-key-file "$T/untrusted.key"

P=$(free_port); add wronghost "$P"
start_tls_redis wronghost "$P" --tls-cert-file "$T/wronghost.crt" --tls-key-file "$T/wronghost.key"

P=$(free_port); add expired "$P"
start_tls_redis expired "$P" --tls-cert-file "$T/expired.crt" --tls-key-file "$T/expired.key"

# Positive control for verifyChain = false: same untrusted server.
add insecure "$(uport untrusted)"

P=$(free_port); add tls11 "$P"
start_s_server tls11 "$P" -tls1_1 -cert "$T/server.crt" -key "$T/server.key" \
	-cipher 'DEFAULT@SECLEVEL=0'

P=$(free_port); add anon "$P"
start_s_server anon "$P" -nocert -tls1_2 -cipher 'ADH:aNULL:@SECLEVEL=0'

P=$(free_port); add weak "$P"
start_s_server weak "$P" -tls1_2 -cert "$T/server.crt" -key "$T/server.key" \
	-cipher 'NULL:RC4:3DES:@SECLEVEL=0'

P=$(free_port); add plaintext "$P"
start_plain_redis plaintext "$P"

P=$(free_port); add refused "$P"
# Nothing listens on it: free_port checked, and we start nothing.

step "start redtun"
{
	conf_globals
	echo 'services = {'
	for s in "${SERVICES[@]}"; do
		name=${s%%:*}
		extra=()
		case $name in
		insecure) extra=('verifyChain = false;') ;;
		plaintext) extra=('TIMEOUTconnect = 2;') ;;
		esac
		conf_service "$name" "$(lport "$name")" "$(uport "$name")" ${extra[@]+"${extra[@]}"}
	done
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
LOG=$T/redtun.log

step "positive control: the good server works"
assert_eq "PONG" "$(rcli "$(lport good)" ping)" "PING via the good service"

# refused NAME ERE: PING via service NAME must fail promptly and the log must
# carry "[NAME] PEER: upstream localhost:PORT: <ERE>".
refused() {
	local name=$1 re=$2 port up out rc t0 t1 ms
	port=$(lport "$name")
	up=$(uport "$name")
	step "$name: must be refused ($re)"
	t0=$(date +%s%N)
	rc=0
	out=$(timeout 10 redis-cli -h 127.0.0.1 -p "$port" ping 2>&1) || rc=$?
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	say "$name: redis-cli exit $rc after ${ms} ms: $out"
	assert_not_contains "$out" "PONG" "$name: the client must not get a reply"
	[ "$rc" -ne 124 ] || fail "$name: the client connection was not closed within 10 s"
	[ "$ms" -lt 8000 ] || fail "$name: closing the client took ${ms} ms"
	wait_for_log "$LOG" "\[$name\] .*upstream localhost:$up: $re" 5
	assert_redtun_alive "after the $name case"
	assert_eq "PONG" "$(rcli "$(lport good)" ping)" "good service after the $name case"
}

refused untrusted "certificate verify failed: .*not signed by a trusted CA"
refused wronghost "certificate verify failed: hostname mismatch"
assert_file_match "$LOG" "\[wronghost\] .*hostname mismatch: expected localhost, certificate has .*wrong\.example" \
	"hostname mismatch names both names"
refused expired "certificate verify failed: certificate .*has expired"
refused tls11 "TLS handshake failed"
refused anon "TLS handshake failed"
refused weak "TLS handshake failed"
# A plaintext Redis never answers a ClientHello; redtun asks it PING on a
# second connection after 1 s of silence (test/ops-behaviour.sh times it).
refused plaintext "TLS handshake failed: the server answered in plaintext \(\"\+PONG\" to a PING\): is TLS enabled on it\?"
refused refused "connection refused"

step "nothing bad got as far as 'connected to'"
for s in untrusted wronghost expired tls11 anon weak plaintext refused; do
	assert_file_no_match "$LOG" "\[$s\] .*connected to " "$s must never be reported as connected"
done

step "verifyChain = false: warning logged, untrusted server accepted"
assert_file_match "$LOG" "\[insecure\] certificate verification is disabled" "warning for verifyChain = false"
assert_eq "PONG" "$(rcli "$(lport insecure)" ping)" "PING via verifyChain = false"
assert_file_no_match "$LOG" "\[(good|untrusted|wronghost|expired)\] certificate verification is disabled" \
	"the warning belongs to the insecure service only"

step "the daemon survived everything and still serves"
assert_redtun_alive
for i in 1 2 3; do
	assert_eq "PONG" "$(rcli "$(lport good)" ping)" "good service, final round $i"
done
assert_eq "OK" "$(rcli "$(lport good)" set hostile:done yes)" "SET via the good service"

say "ok"
