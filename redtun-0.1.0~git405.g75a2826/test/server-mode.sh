#!/bin/bash
# Server mode: TLS in front of a plaintext redis, mutual TLS, encrypted
# replication through a client-mode/server-mode pair, and the ElastiCache
# style "preferred" -> "required" migration on one port.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli nc ss openssl timeout tcpdump
need_redtun
gen_certs

BACKEND=$(free_port)      # plaintext redis behind the server-mode redtun
S_TLS=$(free_port)        # server mode, encryption required
S_MTLS=$(free_port)       # server mode, client certificates required
S_PREF=$(free_port)       # server mode, encryption preferred
S_DOWN=$(free_port)       # server mode, backend down
DEAD=$(free_port)
C_GOOD=$(free_port)       # client mode -> S_MTLS with a certificate of our CA
C_BAD=$(free_port)        # client mode -> S_MTLS with another CA's certificate
LOG=$T/redtun.log

step "plaintext redis backend (loopback only)"
start_plain_redis backend "$BACKEND"

srv() { # NAME PORT [EXTRA LINES...]
	local name=$1 port=$2 l
	shift 2
	printf '  %s = {\n    client = false;\n    accept = "127.0.0.1:%s";\n' "$name" "$port"
	printf '    connect = "127.0.0.1:%s";\n    cert = "%s";\n    key = "%s";\n' \
		"$BACKEND" "$T/server.crt" "$T/server.key"
	for l in "$@"; do printf '    %s\n' "$l"; done
	printf '  };\n'
}
write_conf() { # ENCRYPTION of the preferred service
	{
		conf_globals
		echo 'services = {'
		srv tls "$S_TLS"
		srv mtls "$S_MTLS" 'verifyChain = true;'
		srv pref "$S_PREF" "encryption = \"$1\";"
		printf '  down = { client = false; accept = "127.0.0.1:%s"; connect = "127.0.0.1:%s"; cert = "%s"; key = "%s"; };\n' \
			"$S_DOWN" "$DEAD" "$T/server.crt" "$T/server.key"
		conf_service cgood "$C_GOOD" "$S_MTLS" "cert = \"$T/client.crt\";" "key = \"$T/client.key\";"
		conf_service cbad "$C_BAD" "$S_MTLS" "cert = \"$T/otherclient.crt\";" "key = \"$T/otherclient.key\";"
		echo '};'
	} >"$T/redtun.conf"
}
write_conf preferred
start_redtun "$T/redtun.conf"

tls_cli() { # PORT ARGS...
	local port=$1
	shift
	timeout 10 redis-cli --tls --cacert "$T/ca.crt" -h 127.0.0.1 -p "$port" "$@"
}

step "redis-cli --tls through server mode reaches the plaintext redis"
assert_eq "OK" "$(tls_cli "$S_TLS" set via-tls hello)" "SET over TLS"
assert_eq "hello" "$(rcli "$BACKEND" get via-tls)" "the key is in the plaintext backend"
wait_for_log "$LOG" "\[tls\] 127\.0\.0\.1:[0-9]+: TLS handshake done: TLSv1\.3 " 5

step "encryption = required refuses plaintext"
out=$(rcli "$S_TLS" ping 2>&1 || true)
assert_not_contains "$out" "PONG" "plaintext PING on a required port"
wait_for_log "$LOG" "\[tls\] .*refused a plaintext connection .*encryption = \"required\"" 5

step "backend down: the client is closed promptly with a reason"
out=$(tls_cli "$S_DOWN" ping 2>&1 || true)
assert_not_contains "$out" "PONG" "PING with the backend down"
wait_for_log "$LOG" "\[down\] .*upstream 127\.0\.0\.1:$DEAD: connection refused" 5

step "mutual TLS"
assert_eq "PONG" "$(tls_cli "$S_MTLS" --cert "$T/client.crt" --key "$T/client.key" ping)" \
	"redis-cli with a client certificate"
out=$(tls_cli "$S_MTLS" ping 2>&1 || true)
assert_not_contains "$out" "PONG" "redis-cli without a client certificate"
wait_for_log "$LOG" "\[mtls\] .*client TLS handshake failed: .*certificate" 5
out=$(tls_cli "$S_MTLS" --cert "$T/otherclient.crt" --key "$T/otherclient.key" ping 2>&1 || true)
assert_not_contains "$out" "PONG" "redis-cli with another CA's certificate"
wait_for_log "$LOG" "\[mtls\] .*client certificate verify failed: certificate .*is not signed by a trusted CA" 5
assert_eq "PONG" "$(rcli "$C_GOOD" ping)" "client-mode redtun -> server-mode redtun with mTLS"
out=$(rcli "$C_BAD" ping 2>&1 || true)
assert_not_contains "$out" "PONG" "client-mode redtun with another CA's certificate"
wait_for_log "$LOG" "\[cbad\] .*unknown CA" 5

step "preferred: plaintext and TLS on one port"
assert_eq "PONG" "$(rcli "$S_PREF" ping)" "plaintext PING on the preferred port"
assert_eq "PONG" "$(tls_cli "$S_PREF" ping)" "TLS PING on the preferred port"
wait_for_log "$LOG" "\[pref\] .*plaintext connection \(encryption = \"preferred\"; 1 plaintext so far\)" 5

# Two long-lived connections: plaintext through nc, TLS through s_client.
mkfifo "$T/plain.in" "$T/tls.in"
nc 127.0.0.1 "$S_PREF" <"$T/plain.in" >"$T/plain.out" 2>&1 &
NC_PID=$!
track_pid "$NC_PID"
exec 5>"$T/plain.in"
openssl s_client -connect "127.0.0.1:$S_PREF" -CAfile "$T/ca.crt" -quiet \
	<"$T/tls.in" >"$T/tls.out" 2>"$T/tls.err" &
SC_PID=$!
track_pid "$SC_PID"
exec 6>"$T/tls.in"
printf 'PING\r\n' >&5
printf 'PING\r\n' >&6
pongs() { [ "$(grep -c '+PONG' "$1" 2>/dev/null)" -ge "$2" ]; }
wait_until 5 pongs "$T/plain.out" 1 || fail "no PONG on the open plaintext connection"
wait_until 5 pongs "$T/tls.out" 1 || fail "no PONG on the open TLS connection"

step "SIGHUP to required: plaintext closed, TLS kept, new plaintext refused"
write_conf required
kill -HUP "$RT_PID"
wait_for_log "$LOG" "configuration reloaded" 5
wait_for_log "$LOG" "\[pref\] .*encryption is now \"required\": closing this plaintext connection" 5
# nc keeps running while its stdin is open; the socket is what must be gone.
nc_port=$(ss -tnpH state established "( dport = :$S_PREF )" 2>/dev/null | grep -c "pid=$NC_PID," || true)
assert_eq "0" "$nc_port" "established plaintext connections of nc after the switch"
printf 'PING\r\n' >&5 2>/dev/null || true
sleep 0.5
assert_eq "1" "$(grep -c '+PONG' "$T/plain.out")" "PONGs on the closed plaintext connection"
printf 'PING\r\n' >&6
wait_until 5 pongs "$T/tls.out" 2 || fail "the open TLS connection stopped answering after the reload"
out=$(rcli "$S_PREF" ping 2>&1 || true)
assert_not_contains "$out" "PONG" "new plaintext connection after the switch"
assert_eq "PONG" "$(tls_cli "$S_PREF" ping)" "new TLS connection after the switch"
exec 5>&- 6>&-

step "certificate files are re-read on SIGHUP without dropping connections"
cp "$T/server.crt" "$T/server.crt.orig"
cp "$T/wronghost.crt" "$T/server.crt"
cp "$T/server.key" "$T/server.key.orig"
cp "$T/wronghost.key" "$T/server.key"
kill -HUP "$RT_PID"
wait_until 5 sh -c "[ \$(grep -c 'configuration reloaded' '$LOG') -ge 2 ]" ||
	fail "second reload not logged"
out=$(timeout 10 openssl s_client -connect "127.0.0.1:$S_TLS" -CAfile "$T/ca.crt" </dev/null 2>&1 || true)
assert_contains "$out" "CN = wrong.example" "the new certificate is served after SIGHUP"
cp "$T/server.crt.orig" "$T/server.crt"
cp "$T/server.key.orig" "$T/server.key"
assert_redtun_alive

step "encrypted replication end to end"
PRIMARY=$(free_port)
P_TLS=$(free_port)     # server-mode redtun in front of the primary
R_LOCAL=$(free_port)   # client-mode redtun the replica connects to
REPLICA=$(free_port)
start_plain_redis primary "$PRIMARY"
{
	echo "pid = \"$T/repl.pid\";"
	echo "output = \"$T/repl.log\";"
	echo 'debug = 7;'
	echo "CAfile = \"$T/ca.crt\";"
	echo 'services = {'
	printf '  primary-tls = { client = false; accept = "127.0.0.1:%s"; connect = "127.0.0.1:%s"; cert = "%s"; key = "%s"; };\n' \
		"$P_TLS" "$PRIMARY" "$T/server.crt" "$T/server.key"
	conf_service to-primary "$R_LOCAL" "$P_TLS"
	echo '};'
} >"$T/repl.conf"
track_pidfile "$T/repl.pid"
timeout 20 "$REDTUN" "$T/repl.conf" || fail "second redtun did not start"

tcpdump -i lo --immediate-mode -U -s 0 -w "$T/tls-hop.pcap" "tcp port $P_TLS" >"$T/tcpdump-tls.log" 2>&1 &
track_pid $!
tcpdump -i lo --immediate-mode -U -s 0 -w "$T/plain-hop.pcap" "tcp port $PRIMARY" >"$T/tcpdump-plain.log" 2>&1 &
track_pid $!
wait_until 5 grep -q "listening on" "$T/tcpdump-tls.log" || skip "tcpdump cannot capture on lo"
wait_until 5 grep -q "listening on" "$T/tcpdump-plain.log" || skip "tcpdump cannot capture on lo"

start_plain_redis replica "$REPLICA" --replicaof 127.0.0.1 "$R_LOCAL"
repl_up() { rcli "$REPLICA" info replication | grep -q '^master_link_status:up'; }
wait_until 15 repl_up || fail "the replica did not sync through the redtun pair"
SECRET_KEY="repl-secret-key-$$"
SECRET_VAL="repl-secret-value-$RANDOM$RANDOM"
assert_eq "OK" "$(rcli "$PRIMARY" set "$SECRET_KEY" "$SECRET_VAL")" "write on the primary"
on_replica() { [ "$(rcli "$REPLICA" get "$SECRET_KEY")" = "$SECRET_VAL" ]; }
wait_until 10 on_replica || fail "the key did not reach the replica"
sleep 0.5   # let tcpdump flush the last packets
pkill -INT -f "tcpdump -i lo --immediate-mode -U -s 0 -w $T/" || true
sleep 0.3
grep -q "\[to-primary\] .*connected to localhost:$P_TLS .*certificate verified" "$T/repl.log" ||
	fail "the replication link did not go through verified TLS"
grep -aq "$SECRET_VAL" "$T/plain-hop.pcap" ||
	fail "control: the plaintext hop capture lacks the value (capture broken?)"
if grep -aq "$SECRET_VAL" "$T/tls-hop.pcap" || grep -aq "$SECRET_KEY" "$T/tls-hop.pcap"; then
	fail "the TLS hop capture contains the key or value in clear"
fi
[ "$(stat -c %s "$T/tls-hop.pcap")" -gt 1000 ] || fail "the TLS hop capture is empty"
say "replication: key on replica, absent from TLS capture, present in plaintext capture"

assert_redtun_alive
say "PASS"
