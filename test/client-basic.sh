#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Client mode, the AWS ElastiCache recipe: one local port to the primary, one
# to the replica, unmodified plaintext redis-cli on the local side.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli redis-benchmark nc ss openssl timeout sha256sum base64
need_redtun
gen_certs

PASS="redtun-test-secret"
PRIMARY=$(free_port)
REPLICA=$(free_port)
AUTHED=$(free_port)
L_PRIMARY=$(free_port)
L_REPLICA=$(free_port)
L_AUTH=$(free_port)

step "start TLS redis primary, replica and a password-protected server"
start_tls_redis primary "$PRIMARY" --repl-diskless-sync-delay 0
start_tls_redis replica "$REPLICA" \
	--replicaof 127.0.0.1 "$PRIMARY" --tls-replication yes \
	--tls-client-cert-file "$T/server.crt" --tls-client-key-file "$T/server.key"
start_tls_redis authed "$AUTHED" --requirepass "$PASS"

# Replication must be up before we test it through the tunnel.
repl_up() { rcli_tls "$REPLICA" info replication | grep -q '^master_link_status:up'; }
wait_until 15 repl_up || hard_error "replica did not sync with the primary over TLS"

step "start redtun"
{
	conf_globals
	echo 'services = {'
	conf_service primary "$L_PRIMARY" "$PRIMARY"
	conf_service replica "$L_REPLICA" "$REPLICA"
	conf_service authed "$L_AUTH" "$AUTHED"
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
LOG=$T/redtun.log
assert_file_match "$LOG" "redtun [0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+~]* started" "start message"
for s in primary:$L_PRIMARY replica:$L_REPLICA authed:$L_AUTH; do
	assert_file_match "$LOG" "\[${s%%:*}\] listening on 127\.0\.0\.1:${s#*:}( |\$)" \
		"listening line for ${s%%:*}"
done
assert_file_no_match "$LOG" "certificate verification is disabled" \
	"verification must be on by default"

step "PING through both tunnels"
assert_eq "PONG" "$(rcli "$L_PRIMARY" ping)" "PING via the primary tunnel"
assert_eq "PONG" "$(rcli "$L_REPLICA" ping)" "PING via the replica tunnel"
wait_for_log "$LOG" "\[primary\] .*connected to localhost:$PRIMARY \(127\.0\.0\.1[^)]*\) TLSv1\.3 " 5
wait_for_log "$LOG" "\[replica\] .*connected to localhost:$REPLICA \(127\.0\.0\.1[^)]*\) TLSv1\.3 " 5
wait_for_log "$LOG" "\[primary\] .*accepted" 5

step "each tunnel reaches its own server"
role_p=$(rcli "$L_PRIMARY" role | head -n 1)
role_r=$(rcli "$L_REPLICA" role | head -n 1)
assert_eq "master" "$role_p" "ROLE via the primary tunnel"
assert_eq "slave" "$role_r" "ROLE via the replica tunnel"
out=$(rcli "$L_REPLICA" set should-fail 1 2>&1 || true)
assert_contains "$out" "READONLY" "writes via the replica tunnel must hit the replica"

step "SET via primary, GET via replica"
val="value-$RANDOM-$$-$(date +%s%N)"
assert_eq "OK" "$(rcli "$L_PRIMARY" set redtun:key "$val")" "SET via the primary tunnel"
assert_eq "$val" "$(rcli "$L_PRIMARY" get redtun:key)" "GET via the primary tunnel"
got_on_replica() { [ "$(rcli "$L_REPLICA" get redtun:key)" = "$val" ]; }
wait_until 10 got_on_replica ||
	fail "value not visible via the replica tunnel: [$(rcli "$L_REPLICA" get redtun:key)]"

step "AUTH with -a through the tunnel"
out=$(rcli "$L_AUTH" ping 2>&1 || true)
assert_contains "$out" "NOAUTH" "PING without a password"
out=$(rcli "$L_AUTH" -a wrong-password ping 2>&1 || true)
assert_not_contains "$out" "PONG" "PING with a wrong password"
assert_eq "PONG" "$(rcli "$L_AUTH" -a "$PASS" ping)" "PING with -a PASSWORD"
assert_eq "OK" "$(rcli "$L_AUTH" -a "$PASS" set authed:k v1)" "SET with -a PASSWORD"
assert_eq "v1" "$(rcli "$L_AUTH" -a "$PASS" get authed:k)" "GET with -a PASSWORD"

step "1 MB value round trip"
# 786432 random bytes -> exactly 1048576 base64 characters, no newline.
head -c 786432 /dev/urandom | base64 -w 0 >"$T/big.in"
assert_eq 1048576 "$(wc -c <"$T/big.in" | tr -d ' ')" "test data size"
out=$(timeout 20 redis-cli -h 127.0.0.1 -p "$L_PRIMARY" -x set redtun:big <"$T/big.in")
assert_eq "OK" "$out" "SET of the 1 MB value"
assert_eq 1048576 "$(rcli "$L_PRIMARY" strlen redtun:big)" "STRLEN of the 1 MB value"
timeout 20 redis-cli -h 127.0.0.1 -p "$L_PRIMARY" --raw get redtun:big | tr -d '\n' >"$T/big.out"
assert_eq "$(sha256sum <"$T/big.in")" "$(sha256sum <"$T/big.out")" \
	"1 MB value read back via the primary tunnel"
big_on_replica() { [ "$(rcli "$L_REPLICA" strlen redtun:big)" = 1048576 ]; }
wait_until 10 big_on_replica || fail "1 MB value did not reach the replica"
timeout 20 redis-cli -h 127.0.0.1 -p "$L_REPLICA" --raw get redtun:big | tr -d '\n' >"$T/big.out2"
assert_eq "$(sha256sum <"$T/big.in")" "$(sha256sum <"$T/big.out2")" \
	"1 MB value read back via the replica tunnel"

step "pipelined commands over raw RESP with half-close (nc -N)"
out=$(printf 'SET redtun:pipe 1\r\nINCR redtun:pipe\r\nINCR redtun:pipe\r\nGET redtun:pipe\r\n' |
	timeout 10 nc -N 127.0.0.1 "$L_PRIMARY")
# shellcheck disable=SC2016 # literal $1 in RESP
assert_eq "$(printf '+OK\r\n:2\r\n:3\r\n$1\r\n3\r')" "$out" "pipelined replies"

# A long pipeline written in one go: 2000 INCRs then GET.
{
	printf 'DEL redtun:count\r\n'
	for ((i = 0; i < 2000; i++)); do printf 'INCR redtun:count\r\n'; done
	printf 'GET redtun:count\r\n'
} >"$T/pipeline.in"
timeout 20 nc -N 127.0.0.1 "$L_PRIMARY" <"$T/pipeline.in" >"$T/pipeline.out"
assert_eq 2003 "$(wc -l <"$T/pipeline.out" | tr -d ' ')" "number of reply lines for 2002 commands"
assert_eq "$(printf ':2000\r')" "$(sed -n '2001p' "$T/pipeline.out")" "last INCR reply"
assert_eq "$(printf '2000\r')" "$(tail -n 1 "$T/pipeline.out")" "GET after 2000 INCRs"

step "raw PING with half-close; closed: line with byte counts"
out=$(printf 'PING\r\n' | timeout 10 nc -N 127.0.0.1 "$L_REPLICA")
assert_eq "$(printf '+PONG\r')" "$out" "raw PING via nc -N"
# 6 bytes "PING\r\n" to the server, 7 bytes "+PONG\r\n" back (payload bytes).
wait_for_log "$LOG" "\[replica\] .*closed: 6 bytes to server, 7 bytes to client, [0-9]+\.[0-9]{3} s" 5
assert_file_match "$LOG" "\[primary\] .*closed: [0-9]+ bytes to server, [0-9]+ bytes to client, [0-9]+\.[0-9]{3} s" \
	"closed: line for the primary service"
# The 1 MB SET must be accounted for: more than 1048576 bytes to the server.
big_closed=$(grep -E "\[primary\] .*closed: [0-9]+ bytes to server" "$LOG" |
	sed -E 's/.*closed: ([0-9]+) bytes to server.*/\1/' | sort -n | tail -n 1)
[ "${big_closed:-0}" -gt 1048576 ] ||
	fail "no closed: line counts the 1 MB SET (largest: ${big_closed:-none})"

step "concurrent clients (redis-benchmark, 20 connections)"
timeout 60 redis-benchmark -h 127.0.0.1 -p "$L_PRIMARY" -c 20 -n 2000 -t ping,set,get -q >"$T/bench.out" 2>&1 ||
	fail "redis-benchmark failed: $(tail -c 500 "$T/bench.out")"
# Progress lines are separated by CRs; keep the final ones.
out=$(tr "\r" "\n" <"$T/bench.out")
for t in PING_INLINE PING_MBULK SET GET; do
	assert_match "$out" "^$t: [0-9.]+ requests per second" "redis-benchmark $t"
done

step "log lines have the documented format"
# 2026-11-28 00:40:00 LEVEL [SERVICE] MESSAGE (global lines may lack [SERVICE])
bad=$(grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} (emerg|alert|crit|err|warning|notice|info|debug) ' "$LOG" | head -n 5 || true)
assert_eq "" "$bad" "log lines not in the documented format"
assert_redtun_alive

say "ok"
