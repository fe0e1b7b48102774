#!/bin/bash
# The ElastiCache IAM token (src/sigv4.c through test/sigv4_token) against
# botocore's presigner, byte for byte, over a few hundred cases from a
# fixed seed (test/sigv4_diff.py): session tokens, serverless caches, user
# ids that need encoding, several regions and times.  Skips without
# python3-botocore (a Debian package: /usr/bin/python3, not a pyenv).
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

prog="$top_builddir/test/sigv4_token"
[ -x "$prog" ] || hard_error "$prog is not built (make check builds it)"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "no /usr/bin/python3"
"$PY" -c 'import botocore' 2>/dev/null ||
	skip "no python3-botocore (scripts/bootstrap --test)"

step "redtun's tokens against botocore's"
seed=${SIGV4_DIFF_SEED:-15}
cases=${SIGV4_DIFF_CASES:-400}
rc=0
out=$("$PY" "$top_srcdir/test/sigv4_diff.py" "$prog" "$seed" "$cases" 2>&1) ||
	rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || fail "redtun's token differs from botocore's (exit $rc)"
same=$(printf '%s\n' "$out" | grep -o '[0-9]* of [0-9]* cases identical' |
	grep -o '^[0-9]*')
assert_eq "$cases" "$same" "identical cases"
figure sigv4_diff_identical "$same" cases

step "the program refuses what it must"
# An empty user and a cache that is not a host name: ERROR, no token.
line=$(printf 'AKID\tsecret\t-\tus-east-1\tmy-cache\t\t0\t1700000000\n')
assert_eq ERROR "$(printf '%s\n' "$line" | "$prog")" "empty user"
line=$(printf 'AKID\tsecret\t-\tus-east-1\tmy/cache\t75\t0\t1700000000\n')
assert_eq ERROR "$(printf '%s\n' "$line" | "$prog")" "cache with a slash"

# The fake ElastiCache the IAM end-to-end tests use must itself tell a
# good token from a bad one (a test that cannot fail proves nothing).
command -v redis-cli >/dev/null || skip "no redis-cli (redis-tools)"
step "test/fake_elasticache.py: a good token passes, bad ones fail"
gen_certs
port=$(free_port)
export FAKE_EC_AKID=AKIAFAKEEXAMPLE FAKE_EC_SECRET='fake/secret+key='
export FAKE_EC_TOKEN='sess+tok/en=' FAKE_EC_CACHE=my-cache FAKE_EC_AUTH_TTL=1
spawn "$T/fake.log" "$PY" "$top_srcdir/test/fake_elasticache.py" \
	"$T/server.crt" "$T/server.key" "$port" "$T/auth.log"
wait_for_port "$port"
user=$(printf 'iam user+1' | od -An -tx1 | tr -d ' \n')
now=$(date +%s)
mk() { # SECRET TOKEN CACHE SERVERLESS TIME
	printf '%s\t%s\t%s\tus-east-1\t%s\t%s\t%s\t%s\n' "$FAKE_EC_AKID" \
		"$1" "$2" "$3" "$user" "$4" "$5" | "$prog"
}
cli() { # TOKEN COMMAND...
	local tok=$1
	shift
	redis-cli --no-auth-warning --tls --cacert "$T/ca.crt" -p "$port" \
		--user 'iam user+1' --pass "$tok" "$@" 2>&1
}
good=$(mk "$FAKE_EC_SECRET" "$FAKE_EC_TOKEN" my-cache 0 "$now")
# The good token with its signature's last digit changed (never the same).
case $good in *0) altered=${good%?}1 ;; *) altered=${good%?}0 ;; esac
assert_eq PONG "$(cli "$good" PING)" "a good token"
assert_eq 7 "$(cli "$good" SET k 6 >/dev/null; cli "$good" INCR k)" \
	"INCR after AUTH"
assert_eq hi "$(cli "$good" ECHO hi)" "ECHO after AUTH"
n=0
for bad in "$(mk wrong-secret "$FAKE_EC_TOKEN" my-cache 0 "$now")" \
	"$(mk "$FAKE_EC_SECRET" - my-cache 0 "$now")" \
	"$(mk "$FAKE_EC_SECRET" "$FAKE_EC_TOKEN" my-cache 0 $((now - 901)))" \
	"$(mk "$FAKE_EC_SECRET" "$FAKE_EC_TOKEN" my-cache 0 $((now + 400)))" \
	"$(mk "$FAKE_EC_SECRET" "$FAKE_EC_TOKEN" my-cache 1 "$now")" \
	"$(mk "$FAKE_EC_SECRET" "$FAKE_EC_TOKEN" other-cache 0 "$now")" \
	"$altered"; do
	out=$(cli "$bad" PING)
	assert_contains "$out" "WRONGPASS invalid username-password pair" \
		"bad token $n"
	n=$((n + 1))
done
out=$(redis-cli --tls --cacert "$T/ca.crt" -p "$port" PING 2>&1)
assert_contains "$out" "NOAUTH Authentication required" "no AUTH"
ok=$(grep -c '^AUTH ok ' "$T/auth.log" || :)
bad=$(grep -c '^AUTH fail ' "$T/auth.log" || :)
assert_eq "4 $n" "$ok $bad" "AUTH log lines (ok, fail)"
for r in "signature mismatch" "session token mismatch" "expired" \
	"in the future" "serverless flag mismatch" "another cache"; do
	grep -q "reason=.*$r" "$T/auth.log" || fail "no refusal for: $r"
done
# The fake logs no secret and no token.
if grep -qF -e "$FAKE_EC_SECRET" -e "$FAKE_EC_TOKEN" -e "${good#*Signature=}" \
	"$T/auth.log" "$T/fake.log"; then
	fail "the fake logged a secret"
fi
say "fake ElastiCache: 4 good AUTHs passed, $n bad tokens refused"

step "the fake closes a connection FAKE_EC_AUTH_TTL after its last AUTH"
# One connection: AUTH, AUTH again 0.6 s later (which extends it), a PING
# past the first AUTH's deadline, then MULTI queues an AUTH; the close
# comes about 1 s after the last good AUTH.
"$PY" - "$port" "$T/ca.crt" "$good" >"$T/ttl.out" 2>&1 <<'PY' ||
import socket, ssl, sys, time
port, ca, tok = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
s.settimeout(5)
def cmd(*a):
    s.sendall(b"*%d\r\n" % len(a) + b"".join(
        b"$%d\r\n%s\r\n" % (len(x), x) for x in a))
    return s.recv(4096)
auth = (b"AUTH", b"iam user+1", tok)
print(cmd(*auth), cmd(b"MULTI"), cmd(*auth), cmd(b"EXEC"))
time.sleep(0.6)
print(cmd(*auth))
time.sleep(0.6)
print(cmd(b"PING"))
t = time.monotonic()
print(s.recv(4096), round(time.monotonic() - t, 1))
PY
	fail "the TTL client failed: $(cat "$T/ttl.out")"
cat "$T/ttl.out"
assert_eq "b'+OK\r\n' b'+OK\r\n' b'+QUEUED\r\n' b'*1\r\n+OK\r\n'" \
	"$(sed -n 1p "$T/ttl.out")" "AUTH, MULTI, AUTH queued, EXEC"
assert_eq "b'+OK\r\n'" "$(sed -n 2p "$T/ttl.out")" "AUTH again"
assert_eq "b'+PONG\r\n'" "$(sed -n 3p "$T/ttl.out")" "PING after 1.2 s"
assert_contains "$(sed -n 4p "$T/ttl.out")" "b''" "closed"
grep -q '^CLOSE conn=[0-9]* n=3 ' "$T/auth.log" ||
	fail "no CLOSE line after 3 AUTHs: $(grep CLOSE "$T/auth.log")"
