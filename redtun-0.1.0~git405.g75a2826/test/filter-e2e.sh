#!/bin/bash
# The relay's filter seam end to end: test/redtun_filtered is the daemon
# linked with the test-only "lines" filter (test/filter_lines.c), switched
# on by REDTUN_TEST_FILTER. Through a real TLS tunnel to a real Redis, the
# filter must rewrite replies (+string -> +STRING), answer PING itself
# (injected into the other direction; Redis never sees it), close after
# flushing "+BYE" on QUIT, keep commands split at any byte whole, and pass
# a 3 MB value unchanged under backpressure. The daemon binary has no
# filter in it at all.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli nc openssl timeout sha256sum xxd python3 nm
need_redtun
FILTERED=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}/test/redtun_filtered
[ -x "$FILTERED" ] || hard_error "no $FILTERED (make check builds it)"
gen_certs

R=$(free_port)
L=$(free_port)
LP=$(free_port)

step "the daemon does not contain the test filter"
sym=$(nm "$REDTUN" | awk '$NF == "tunnel_test_filter" { print $(NF-1) }')
assert_eq "w" "$sym" "tunnel_test_filter must be an unresolved weak symbol in src/redtun"

step "start TLS redis and the filtered daemon"
start_tls_redis r "$R"
rcli_tls "$R" set k hello >/dev/null
{
	conf_globals
	echo 'services = {'
	conf_service lines "$L" "$R"
	conf_service pooled "$LP" "$R" 'prewarm = 2;'
	echo '};'
} >"$T/redtun.conf"
REDTUN=$FILTERED REDTUN_TEST_FILTER=1 start_redtun "$T/redtun.conf"
LOG=$T/redtun.log

step "replies are rewritten, PING is answered by the filter"
assert_eq "string" "$(rcli_tls "$R" type k)" "TYPE straight to Redis"
pings() { rcli_tls "$R" info commandstats | tr -d '\r' | sed -n 's/^cmdstat_ping:calls=\([0-9]*\),.*/\1/p'; }
before=$(pings)
for port in "$L" "$LP"; do
	assert_eq "STRING" "$(rcli "$port" type k)" "TYPE through the filter (port $port)"
	assert_eq "PONG" "$(rcli "$port" ping)" "PING through the filter (port $port)"
done
assert_eq "$before" "$(pings)" "Redis must not have seen the PINGs"

step "commands split at every byte, pipelined with PING"
out=$(python3 - "$L" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for b in b"TYPE k\r\nPING\r\nGET k\r\nTYPE k\r\n":
    s.send(bytes([b]))
    time.sleep(0.002)
want = b"+STRING\r\n+PONG\r\n$5\r\nhello\r\n+STRING\r\n"
got = b""
deadline = time.time() + 10
while len(got) < len(want) and time.time() < deadline:
    chunk = s.recv(4096)
    if not chunk:
        break
    got += chunk
print(repr(got))
EOF
)
assert_eq "b'+STRING\\r\\n+PONG\\r\\n\$5\\r\\nhello\\r\\n+STRING\\r\\n'" "$out" "replies to byte-split commands"

step "a 3 MB value of short lines passes unchanged, read slowly"
head -c 1500000 /dev/urandom | xxd -p >"$T/value"
rcli_tls "$R" -x set big <"$T/value" >/dev/null
want=$(rcli_tls "$R" get big | sha256sum)
got=$(rcli "$L" get big | sha256sum)
assert_eq "$want" "$got" "GET big through the filter"
# A reader that pauses, so the relay's watermarks pause the server side.
slow=$(python3 - "$L" <<'EOF'
import hashlib, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.sendall(b"GET big\r\n")
data = b""
deadline = time.time() + 30
while time.time() < deadline:
    chunk = s.recv(16384)
    if not chunk:
        break
    data += chunk
    time.sleep(0.001)
    if data.endswith(b"\r\n") and len(data) > 3000000:
        break
body = data[data.index(b"\r\n") + 2:-2]
print(hashlib.sha256(body + b"\n").hexdigest(), len(data))
EOF
)
assert_eq "${want%% *}" "${slow%% *}" "GET big through the filter with a slow reader"

step "QUIT: +BYE is flushed, then the tunnel closes"
out=$(printf 'QUIT\r\nTYPE k\r\n' | timeout 10 nc -q 5 127.0.0.1 "$L" | tr -d '\r')
assert_eq "+BYE" "$out" "reply to QUIT (and nothing for what followed)"
wait_for_log "$LOG" "\[lines\] 127\.0\.0\.1:[0-9]+: the client said QUIT" 5

step "without REDTUN_TEST_FILTER the same binary relays unchanged"
kill_wait "$RT_PID"
REDTUN=$FILTERED start_redtun "$T/redtun.conf"
assert_eq "string" "$(rcli "$L" type k)" "TYPE through the unfiltered tunnel"
assert_redtun_alive
say "ok"
