#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Hostile or broken upstreams must be refused: the local client promptly
# reads why as a Redis error (no PONG from the server), the log says the
# same, and the daemon keeps serving the good services.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli nc ss openssl timeout
need_redtun
gen_certs

step "start the upstream servers"
P=$(free_port); svc_add good "$P"
start_tls_redis good "$P"

P=$(free_port); svc_add untrusted "$P"
start_tls_redis untrusted "$P" --tls-cert-file "$T/untrusted.crt" --tls-key-file "$T/untrusted.key"

P=$(free_port); svc_add wronghost "$P"
start_tls_redis wronghost "$P" --tls-cert-file "$T/wronghost.crt" --tls-key-file "$T/wronghost.key"

P=$(free_port); svc_add expired "$P"
start_tls_redis expired "$P" --tls-cert-file "$T/expired.crt" --tls-key-file "$T/expired.key"

# Positive control for verifyChain = false: same untrusted server.
svc_add insecure "$(svc_uport untrusted)"

P=$(free_port); svc_add tls11 "$P"
start_s_server tls11 "$P" -tls1_1 -cert "$T/server.crt" -key "$T/server.key" \
	-cipher 'DEFAULT@SECLEVEL=0'

P=$(free_port); svc_add anon "$P"
start_s_server anon "$P" -nocert -tls1_2 -cipher 'ADH:aNULL:@SECLEVEL=0'

P=$(free_port); svc_add weak "$P"
start_s_server weak "$P" -tls1_2 -cert "$T/server.crt" -key "$T/server.key" \
	-cipher 'NULL:RC4:3DES:@SECLEVEL=0'

P=$(free_port); svc_add plaintext "$P"
start_plain_redis plaintext "$P"

P=$(free_port); svc_add refused "$P"
# Nothing listens on it: free_port checked, and we start nothing.

step "start redtun"
extra_settings() {
	case $1 in
	insecure) echo 'verifyChain = false;' ;;
	plaintext) echo 'TIMEOUTconnect = 2;' ;;
	esac
}
svcs_conf extra_settings >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
LOG=$T/redtun.log

step "positive control: the good server works"
assert_eq "PONG" "$(rcli "$(svc_lport good)" ping)" "PING via the good service"

# refused NAME ERE: PING via service NAME must fail promptly, redis-cli
# printing "ERR redtun [NAME]: upstream localhost:PORT: <ERE>", and the log
# must carry "[NAME] PEER: upstream localhost:PORT: <ERE>".
refused() {
	local name=$1 re=$2
	step "$name: must be refused ($re)"
	timed_client "$name" redis-cli -h 127.0.0.1 -p "$(svc_lport "$name")" ping
	[ "$RC" -ne 124 ] || fail "$name: the client connection was not closed within 10 s"
	[ "$MS" -lt 8000 ] || fail "$name: refusing the client took ${MS} ms"
	assert_ne "PONG" "$OUT" "$name: the client must not get a reply"
	assert_match "$OUT" "^ERR redtun \[$name\]: upstream localhost:$(svc_uport "$name"): $re" \
		"$name: the client reads why"
	wait_for_log "$LOG" "\[$name\] .*upstream localhost:$(svc_uport "$name"): $re" 5
	assert_good_serves "the $name case"
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
assert_eq "PONG" "$(rcli "$(svc_lport insecure)" ping)" "PING via verifyChain = false"
assert_file_no_match "$LOG" "\[(good|untrusted|wronghost|expired)\] certificate verification is disabled" \
	"the warning belongs to the insecure service only"

step "the daemon survived everything and still serves"
assert_survived
assert_eq "OK" "$(rcli "$(svc_lport good)" set hostile:done yes)" "SET via the good service"

say "ok"
