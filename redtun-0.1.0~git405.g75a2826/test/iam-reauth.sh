#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# IAM re-authentication on live connections (tunnel_reauth.c), with the
# intervals shortened (iamReauth = 2, iamLifetime = 6, so the deadline W is
# 4 s after AUTH): an idle connection is re-authenticated; redis-benchmark
# runs through re-authentications with no error; a RESP2 subscriber, which
# never reaches a safe point, is closed before the lifetime so that it
# reconnects; with reuse = true, kept connections past iamReauth are closed
# instead of being handed out.  The TLS redis' user "iamuser" has nopass:
# any token is accepted, and INFO commandstats counts the AUTHs.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli redis-benchmark python3 timeout
need_redtun
gen_certs

DEFPW="DefPw-r8Tq2-requirepass"
R=$(free_port)
L=$(free_port)    # IAM service
LR=$(free_port)   # the same with reuse = true
CONF=$T/redtun.conf
mkdir -p "$T/home"

step "TLS redis: requirepass for default, iamuser with nopass"
start_tls_redis r "$R" --requirepass "$DEFPW"
assert_eq "OK" "$(rcli_tls "$R" -a "$DEFPW" ACL SETUSER iamuser on nopass \
	'~*' '&*' +@all)" "ACL user iamuser"

IAM=('iamUser = "iamuser";' 'iamCache = "my-cache";'
	'iamRegion = "us-east-1";' 'iamReauth = 2;' 'iamLifetime = 6;')
{
	conf_globals
	conf_workers
	echo 'services = {'
	conf_service ec "$L" "$R" "${IAM[@]}"
	conf_service ecr "$LR" "$R" "${IAM[@]}" 'reuse = true;'
	echo '};'
} >"$CONF"

rc=0
env -i PATH="$PATH" HOME="$T/home" AWS_EC2_METADATA_DISABLED=true \
	AWS_ACCESS_KEY_ID=AKIDEXAMPLEREAUTH001 \
	AWS_SECRET_ACCESS_KEY="ReauthSecret-p3Xv8-wJalrXUt" \
	timeout 20 "$REDTUN" "$CONF" >"$T/start.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "redtun started: $(cat "$T/start.out")"
RT_PID=$(redtun_pid) || fail "no pidfile"
wait_for_port "$L"
assert_eq "iamuser" "$(rcli "$L" ACL WHOAMI 2>&1)" "authenticated as iamuser"

auths() {
	rcli_tls "$R" -a "$DEFPW" INFO commandstats |
		sed -n 's/^cmdstat_auth:calls=\([0-9]*\),.*/\1/p'
}

# client.py PORT MODE: "idle" (connect, wait 3 s, PING) or "sub"
# (SUBSCRIBE, then wait for EOF); prints its local port, then the outcome.
cat >"$T/client.py" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print(s.getsockname()[1], flush=True)
if sys.argv[2] == "idle":
    time.sleep(3)
    s.sendall(b"PING\r\n")
    print(s.recv(100).decode().strip(), flush=True)
else:
    t0 = time.time()
    s.sendall(b"SUBSCRIBE ch\r\n")
    buf = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    print("eof %.1f %s" % (time.time() - t0, b"subscribe" in buf),
        flush=True)
EOF

for port in "$L" "$LR"; do
	step "port $port: an idle connection, a subscriber, redis-benchmark"
	before=$(auths)
	python3 "$T/client.py" "$port" idle >"$T/idle.out" &
	IDLE=$!
	python3 "$T/client.py" "$port" sub >"$T/sub.out" &
	SUB=$!
	# SET, pipelined, on the same 4 connections for 5 s: re-authentications in between.
	timeout 5 redis-benchmark -h 127.0.0.1 -p "$port" -c 4 -P 4 -n 100000000 \
		-t set -q >"$T/bench.out" 2>&1 || true
	wait "$IDLE" || fail "idle client failed"
	wait "$SUB" || fail "subscriber failed"
	errs=$(tr '\r' '\n' <"$T/bench.out" | grep -Ei 'err|wrong|closed' || true)
	[ -z "$errs" ] || fail "redis-benchmark saw errors: $errs"
	tr '\r' '\n' <"$T/bench.out" | grep -q 'SET: rps=' ||
		fail "redis-benchmark did not run: $(cat "$T/bench.out")"
	p=$(head -n 1 "$T/idle.out")
	assert_eq "+PONG" "$(sed -n 2p "$T/idle.out")" "idle client's PING"
	grep -q ":$p: re-authenticated (IAM)" "$T/redtun.log" ||
		fail "the idle connection (port $p) was not re-authenticated"
	read -r word secs saw <<<"$(sed -n 2p "$T/sub.out")"
	assert_eq "eof True" "$word $saw" "the subscriber was closed"
	# The limit runs from the connection's AUTH, which may predate this
	# client by up to iamReauth (2 s) on a kept connection (reuse).
	awk -v s="$secs" 'BEGIN { exit !(s >= 1.5 && s < 5.5) }' ||
		fail "subscriber closed after $secs s, not before the 6 s limit"
	n=$(grep -c "re-authenticated (IAM)" "$T/redtun.log")
	step "re-authentications so far: $n; AUTH calls at redis: $before -> $(auths)"
	[ "$n" -ge 3 ] || fail "too few re-authentications: $n"
	[ "$(auths)" -gt "$((before + 4))" ] || fail "too few AUTHs at redis"
done
grep -q "closing a RESP2 subscriber before the IAM connection limit" \
	"$T/redtun.log" || fail "no log line for the closed subscriber"
grep -q "no safe point to re-authenticate since .*(RESP2 pub/sub)" \
	"$T/redtun.log" || fail "no warning naming the reason"

step "reuse: kept connections past iamReauth are closed, not handed out"
wait_for_log "$T/redtun.log" "pooled connection closed: its AUTH is older than iamReauth" 4
assert_eq "iamuser" "$(rcli "$LR" ACL WHOAMI 2>&1)" "a new client after that"
grep -q "IAM re-authentication failed" "$T/redtun.log" &&
	fail "a re-authentication failed: $(grep -m1 'IAM re-auth' "$T/redtun.log")"
step "ok"
