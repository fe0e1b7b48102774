#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# ElastiCache IAM end to end, against test/fake_elasticache.py: a TLS
# server that checks each AUTH token as ElastiCache does, with botocore
# as the reference (same user, cache, region and credentials must presign
# the same URL; not expired, not from the future), and that closes a
# connection FAKE_EC_AUTH_TTL s after its last good AUTH (ElastiCache's
# 12 hours, shortened).  Through redtun, with credentials from a shared
# credentials file and AWS_PROFILE:
#   - unmodified redis-cli gets in, on a user id that needs URL encoding,
#     with reuse = true, and on a serverless cache (ResourceType);
#   - a client that stays connected past the server's limit is kept alive
#     by redtun's re-authentication (iamReauth = 2, iamLifetime = 6)
#     while redis-benchmark runs on the same tunnel, with no error; the
#     same client connected directly with one token is closed at the limit;
#   - SIGHUP with a wrong secret in the file: the client reads
#     "ERR redtun [ec]: upstream AUTH failed: WRONGPASS ..."; the right one
#     again, and it gets in;
#   - a clock 1000 s slow (REDTUN_TEST_AWS_CLOCK=-1000): expired tokens,
#     the same readable error;
#   - no secret, session token or token signature in any log or output.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-cli redis-benchmark openssl timeout
need_redtun
# python3-botocore is a Debian package: the system python, not a pyenv.
PY=/usr/bin/python3
[ -x "$PY" ] || skip "no /usr/bin/python3"
"$PY" -c 'import botocore' 2>/dev/null || skip "no python3-botocore (scripts/bootstrap --test)"
gen_certs

AKID=AKIDFAKEEC0000000001
SECRET="EcSecret-p3Vn8-wJalrXUtnFEMIbPxRf"
STOKEN="EcSession-t6Qm2-IQoJb3JpZ2luX2VjE"
WRONG="WrongSecret-h5Zc1-notthesecret00"
SECRETS=("$SECRET" "$STOKEN" "$WRONG")
USER_ENC='app user+1/é'     # needs URL encoding in the token

F=$(free_port)    # fake ElastiCache, replication group my-cache
FS=$(free_port)   # fake ElastiCache Serverless, cache my-sl
L=$(free_port)    # ec: the encoded user
LR=$(free_port)   # ecr: reuse = true
LS=$(free_port)   # sl: serverless
LX=$(free_port)   # the slow clock's daemon
CONF=$T/redtun.conf
CONFX=$T/redtun-slow.conf

step "two fake ElastiCaches (botocore checks every token)"
printf '%s %s %s\n' "$AKID" "$SECRET" "$STOKEN" >"$T/ec-creds"
spawn "$T/fake.out" env FAKE_EC_CREDS_FILE="$T/ec-creds" FAKE_EC_CACHE=my-cache \
	FAKE_EC_REGION=eu-west-1 FAKE_EC_AUTH_TTL=6 \
	"$PY" "$top_srcdir/test/fake_elasticache.py" "$T/server.crt" "$T/server.key" \
	"$F" "$T/auth.log"
spawn "$T/fake-sl.out" env FAKE_EC_CREDS_FILE="$T/ec-creds" FAKE_EC_CACHE=my-sl \
	FAKE_EC_REGION=eu-west-1 FAKE_EC_SERVERLESS=1 \
	"$PY" "$top_srcdir/test/fake_elasticache.py" "$T/server.crt" "$T/server.key" \
	"$FS" "$T/auth-sl.log"
wait_for_port "$F"
wait_for_port "$FS"

mkdir -p "$T/home/.aws"
write_creds() { # SECRET
	(umask 077 && printf '[default]\naws_access_key_id = WRONGPROFILE00000000\naws_secret_access_key = x\n\n[cache]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n' \
		"$AKID" "$1" "$STOKEN" >"$T/home/.aws/credentials.new")
	mv "$T/home/.aws/credentials.new" "$T/home/.aws/credentials"
}
write_creds "$SECRET"
{
	conf_globals
	conf_workers
	echo 'iamRegion = "eu-west-1";'
	echo 'iamReauth = 2;'
	echo 'iamLifetime = 6;'
	echo 'services = {'
	conf_service ec "$L" "$F" "iamUser = \"$USER_ENC\";" 'iamCache = "my-cache";'
	conf_service ecr "$LR" "$F" 'iamUser = "app-reuse";' 'iamCache = "my-cache";' \
		'reuse = true;'
	conf_service sl "$LS" "$FS" 'iamUser = "app-sl";' 'iamCache = "my-sl";' \
		'iamServerless = true;'
	echo '};'
} >"$CONF"
# Only redtun's processes get the AWS variables; IMDS is never asked.
aws_env() {
	env -i PATH="$PATH" HOME="$T/home" AWS_PROFILE=cache \
		AWS_EC2_METADATA_DISABLED=true "$@"
}
rc=0
aws_env timeout 20 "$REDTUN" "$CONF" >"$T/start.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "redtun started: $(cat "$T/start.out")"
RT_PID=$(redtun_pid) || fail "no pidfile"
wait_for_port "$L"

step "valid tokens: a user id that needs encoding, reuse, serverless"
assert_eq "PONG" "$(rcli "$L" PING 2>&1)" "PING through ec"
assert_eq "OK" "$(rcli "$L" SET iamkey v1 2>&1)" "SET through ec"
assert_eq "v1" "$(rcli "$L" GET iamkey 2>&1)" "GET through ec"
assert_eq "PONG" "$(rcli "$LR" PING 2>&1)" "PING through ecr (reuse)"
assert_eq "v1" "$(rcli "$LR" GET iamkey 2>&1)" "GET through ecr, again reused"
assert_eq "PONG" "$(rcli "$LS" PING 2>&1)" "PING through the serverless service"
# The fake escapes the space in its log as \x20.
assert_file_match "$T/auth.log" 'AUTH ok .*user=app.x20user\+1/é cache=my-cache'

assert_file_match "$T/auth-sl.log" "AUTH ok .*user=app-sl cache=my-sl"
assert_file_no_match "$T/auth.log" "AUTH fail"
assert_file_no_match "$T/auth-sl.log" "AUTH fail"
figure iam_fake_auth_ok "$(grep -c 'AUTH ok' "$T/auth.log")"

step "past the server's 6 s limit: re-authentication keeps a live client"
cat >"$T/client.py" <<'EOF'
import socket, ssl, sys, time
# client.py PORT SECONDS [TLS-CA TOKEN USER]: PING every 0.2 s; print how
# long the connection lived and how many PONGs came back.
port, secs = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=3)
if len(sys.argv) > 3:
    ctx = ssl.create_default_context(cafile=sys.argv[3])
    s = ctx.wrap_socket(s, server_hostname="localhost")
    tok, user = sys.argv[4].encode(), sys.argv[5].encode()
    s.sendall(b"*3\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
              % (len(user), user, len(tok), tok))
    if not s.recv(64).startswith(b"+OK"):
        print("auth refused"); sys.exit(1)
t0, pongs = time.time(), 0
while time.time() - t0 < secs:
    try:
        s.sendall(b"PING\r\n")
        r = s.recv(64)
    except OSError:
        r = b""
    if not r:
        break
    pongs += r.count(b"+PONG")
    time.sleep(0.2)
print("%s %.1f %d" % ("open" if time.time() - t0 >= secs else "closed",
    time.time() - t0, pongs), flush=True)
EOF
tok=$(aws_env "$REDTUN" token "$CONF" ecr) || fail "redtun token failed"
before=$(grep -c 'AUTH ok' "$T/auth.log")
"$PY" "$T/client.py" "$L" 9 >"$T/live.out" &
LIVE=$!
"$PY" "$T/client.py" "$F" 9 "$T/ca.crt" "$tok" app-reuse >"$T/direct.out" &
DIRECT=$!
timeout 8 redis-benchmark -h 127.0.0.1 -p "$LR" -c 4 -n 100000000 -t ping -q \
	>"$T/bench.out" 2>&1 || true
wait "$LIVE" || fail "the client through redtun failed: $(cat "$T/live.out")"
wait "$DIRECT" || fail "the direct client failed: $(cat "$T/direct.out")"
read -r state secs pongs <"$T/live.out"
assert_eq open "$state" "the client through redtun stayed connected 9 s ($secs s, $pongs PONGs)"
[ "$pongs" -ge 30 ] || fail "only $pongs PONGs through redtun in 9 s"
read -r dstate dsecs _ <"$T/direct.out"
assert_eq closed "$dstate" "the direct client, one token, is closed at the server's limit"
awk -v s="$dsecs" 'BEGIN { exit !(s >= 5 && s < 8) }' ||
	fail "the direct client was closed after $dsecs s, not at the 6 s limit"
errs=$(tr '\r' '\n' <"$T/bench.out" | grep -Ei 'err|wrong|closed' || true)
[ -z "$errs" ] || fail "redis-benchmark saw errors: $errs"
tr '\r' '\n' <"$T/bench.out" | grep -q 'PING_INLINE: rps=\|PING_MBULK: rps=\|PING.*requests per second' ||
	fail "redis-benchmark did not run: $(tail -c 300 "$T/bench.out")"
re=$(grep -c 're-authenticated (IAM)' "$T/redtun.log" || true)
[ "$re" -ge 4 ] || fail "only $re re-authentications in the log"
# The fake counts good AUTHs per connection: n=3 or more is a connection
# authenticated at least twice again.
grep -Eq 'AUTH ok conn=[0-9]+ n=([3-9]|[1-9][0-9])' "$T/auth.log" ||
	fail "no connection was re-authenticated twice at the fake"
assert_file_no_match "$T/auth.log" "AUTH fail"
closes=$(grep -c '^CLOSE' "$T/auth.log" || true)
say "through redtun: open after $secs s ($pongs PONGs); direct: closed after $dsecs s;" \
	"$re re-authentications logged, $(($(grep -c 'AUTH ok' "$T/auth.log") - before)) good AUTHs" \
	"at the fake, $closes connections it closed at its limit"
figure iam_reauth_logged "$re"
figure iam_live_client_secs "$secs"
figure iam_direct_client_closed_secs "$dsecs"

step "SIGHUP with a wrong secret: the client reads WRONGPASS; then the right one"
write_creds "$WRONG"
kill -HUP "$RT_PID"
wait_for_log "$T/redtun.log" "configuration (re)?loaded" 10
out=""
for _ in $(seq 1 30); do
	out=$(rcli "$L" PING 2>&1) || true
	case $out in *WRONGPASS*) break ;; esac
	sleep 0.2
done
assert_contains "$out" "ERR redtun [ec]: upstream AUTH failed: WRONGPASS invalid username-password pair" \
	"the client's error"
assert_file_match "$T/redtun.log" "upstream AUTH failed: WRONGPASS"
write_creds "$SECRET"
kill -HUP "$RT_PID"
out=""
for _ in $(seq 1 30); do
	out=$(rcli "$L" PING 2>&1) || true
	[ "$out" = PONG ] && break
	sleep 0.2
done
assert_eq "PONG" "$out" "the right secret again: PING through ec"
assert_redtun_alive "after two reloads"

step "a clock 1000 s slow: expired tokens, a readable error"
sed -e "s|$T/redtun.pid|$T/redtun-slow.pid|" -e "s|$T/redtun.log|$T/redtun-slow.log|" \
	-e "s|\"127.0.0.1:$L\"|\"127.0.0.1:$LX\"|" -e '/  ecr = {/,/  };/d' \
	-e '/  sl = {/,/  };/d' "$CONF" >"$CONFX"
rc=0
aws_env REDTUN_TEST_AWS_CLOCK=-1000 timeout 20 "$REDTUN" "$CONFX" \
	>"$T/start-slow.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "the slow clock's redtun started: $(cat "$T/start-slow.out")"
track_pidfile "$T/redtun-slow.pid"
wait_for_port "$LX"
out=$(rcli "$LX" PING 2>&1) || true
assert_contains "$out" "ERR redtun [ec]: upstream AUTH failed: WRONGPASS" "expired: the client's error"
assert_file_match "$T/auth.log" "AUTH fail .*expired"

step "no secret, session token or signature in any log or output"
sig=${tok##*X-Amz-Signature=}
[ "${#sig}" -eq 64 ] || fail "cannot find the token's signature"
leaks=""
for s in "${SECRETS[@]}" "$sig"; do
	f=$(grep -rlF --exclude=credentials --exclude=ec-creds -- "$s" "$T" || true)
	[ -z "$f" ] || leaks="$leaks ${s:0:12}...: $f"
done
[ -z "$leaks" ] || fail "secrets in:$leaks"
say "ok: $(grep -c 'AUTH ok' "$T/auth.log") good and $(grep -c 'AUTH fail' "$T/auth.log") refused AUTHs at the fake"
