#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Real client libraries through redtun with upstream AUTH injected and
# reuse = true: python3-redis (test/redis_clients.py suite: a pipeline of
# 1000, pub/sub, BLPOP timing out and satisfied, MULTI/EXEC and a WATCH
# abort, a pool of 20 threads), ioredis (test/ioredis_check.js basic;
# skipped without node), and redis-benchmark with -k 0 (a new connection
# per request, so every one goes through reuse) without errors.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli redis-benchmark openssl timeout
need_redtun
PY=/usr/bin/python3 # python3-redis is a Debian package: not in a pyenv
[ -x "$PY" ] || skip "no /usr/bin/python3"
"$PY" -c 'import redis' 2>/dev/null || skip "python3-redis missing (scripts/bootstrap --test installs it)"
gen_certs

PW="RcPw-n4Vq8-svc"
R=$(free_port)
L=$(free_port)
LOG=$T/redtun.log

step "TLS redis (requirepass, ACL user) and redtun (password + reuse)"
start_tls_redis r "$R" --requirepass "admin-$PW"
assert_eq "OK" "$(rcli_tls "$R" -a "admin-$PW" ACL SETUSER app on ">$PW" '~*' '&*' +@all)" "ACL user app"
{
	conf_globals
	conf_workers
	echo 'services = {'
	conf_service app "$L" "$R" 'reuse = true;' 'username = "app";' "password = \"$PW\";"
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
assert_eq "app" "$(rcli "$L" ACL WHOAMI)" "ACL WHOAMI through redtun"

step "python3-redis"
rc=0
out=$(timeout 60 "$PY" "$top_srcdir/test/redis_clients.py" suite --port "$L" 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/  /'
assert_eq 0 "$rc" "python3-redis suite through redtun"
assert_contains "$out" "passed 9/9"
# The client's own AUTH (redis-py sends AUTH app PW) on top of redtun's.
rc=0
out=$(timeout 60 "$PY" "$top_srcdir/test/redis_clients.py" suite --port "$L" \
	--username app --password "$PW" 2>&1 | tail -n 1) || rc=$?
assert_eq "passed 9/9" "$out" "python3-redis suite with its own AUTH app"

step "ioredis"
if command -v node >/dev/null 2>&1 && [ -d "$top_srcdir/test/node_modules/ioredis" ]; then
	rc=0
	out=$(timeout 40 node "$top_srcdir/test/ioredis_check.js" basic "$L" 2>&1) || rc=$?
	printf '%s\n' "$out" | sed 's/^/  /'
	assert_eq 0 "$rc" "ioredis basics through redtun"
	assert_contains "$out" "passed 7/7"
else
	say "SKIPPED ioredis part: node or test/node_modules/ioredis missing (scripts/bootstrap --test)"
fi

step "redis-benchmark -k 0 (a connection per request)"
rc=0
timeout 60 redis-benchmark -h 127.0.0.1 -p "$L" -k 0 -n 2000 -c 10 -t set,get,lpush,incr -q \
	>"$T/bench.out" 2>&1 || rc=$?
sed 's/\r/\n/g' "$T/bench.out" | grep -v '^ *$' | grep -v 'rps=' | sed 's/^/  /' | tail -n 8
assert_eq 0 "$rc" "redis-benchmark exit status"
assert_file_no_match "$T/bench.out" '(ERR|Error|error|WRONGPASS|NOAUTH|reset|closed)' "redis-benchmark reported errors"
assert_eq 4 "$(tr '\r' '\n' <"$T/bench.out" | grep -Ec '^(SET|GET|LPUSH|INCR): [0-9.]+ requests per second')" \
	"redis-benchmark finished all four tests"
# Info lines saying "reused", not the ones saying "not reused".
n=$(($(log_count "$LOG" ' info .*reused') - $(log_count "$LOG" 'not reused')))
say "\"reused\" lines in the log: $n"
[ "$n" -ge 1000 ] || fail "redis-benchmark -k 0: only $n of 8000 connections reused an upstream connection"
figure benchmark_k0_reused "$n"

step "a client that half-closes and reads its 20 MB of replies slowly gets them all"
# Its upstream connection is being cleaned for reuse meanwhile: the replies
# it is owed must not be cut off by RESET's 1 s bound (TIMEOUTclose from
# the last byte applies until they are out).
"$PY" - "$L" "$PW" <<'PYEOF' >"$T/slow.out" 2>&1 || true
import socket, sys, time
port, pw = int(sys.argv[1]), sys.argv[2]
big = b"x" * (4 * 1024 * 1024)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n" % (len(big), big))
assert s.recv(16) == b"+OK\r\n"
s.close()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET big\r\n" * 5)
s.shutdown(socket.SHUT_WR)
got, t0 = 0, time.time()
while time.time() - t0 < 30:
    d = s.recv(65536)
    if not d:
        break
    got += len(d)
    time.sleep(0.002)   # a slow reader: about 3 s for 20 MB
print("received %d of %d bytes in %.1f s" % (got, 5 * (len(big) + 12), time.time() - t0))
PYEOF
cat "$T/slow.out"
assert_match "$(cat "$T/slow.out")" "^received ([0-9]+) of \1 bytes" "every owed reply reached the slow client"
assert_redtun_alive
say "ok"
