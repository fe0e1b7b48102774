#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# ElastiCache IAM in the running daemon (iam.c) and "redtun token":
# redtun authenticates upstream with AUTH iamUser TOKEN made from the AWS
# credentials of its environment, in front of a TLS redis whose ACL user
# "iamuser" has nopass (any token is accepted; the default user has a
# requirepass, so only that AUTH gets in); "redtun token CONFIG SERVICE"
# prints a token redis-cli can use; without credentials the client gets
# "-ERR redtun [SVC]: IAM: no AWS credentials (...)" and the log says why;
# SIGHUP reads the shared credentials file again; temporary credentials
# from a container endpoint (python3 http.server) are fetched again before
# they expire, a failing endpoint is logged once and retried, and expired
# credentials give the client a readable error; and no secret, session
# token or token is ever in a log or an output.  The AWS_* variables and
# HOME are set for redtun's processes only, to files under $T.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli openssl timeout python3
need_redtun
gen_certs

# Distinctive strings, so a leak anywhere is found by grep.
AKID_ENV=AKIDEXAMPLE0ENV00001
SECRET_ENV="EnvSecret-q8Zr2-wJalrXUtnFEMI"
STOKEN_ENV="EnvSession-k3Lm9-IQoJb3JpZ2luX2Vj"
AKID_F1=AKID1FILE00000000001
SECRET_F1="FileSecret1-x7Tn4-bPxRfiCYEX"
AKID_F2=AKID2FILE00000000002
SECRET_F2="FileSecret2-v5Hb1-je7MtGbClw"
STOKEN_F2="FileSession2-c2Jd6-FwoGZXIvYXdzE"
SECRET_C="ContSecret-n6Pk3-"   # + a serial, from the fake endpoint
STOKEN_C="ContSession-r9Tx5-"
SECRETS=("$SECRET_ENV" "$STOKEN_ENV" "$SECRET_F1" "$SECRET_F2" "$STOKEN_F2"
	"$SECRET_C" "$STOKEN_C")
DEFPW="DefPw-m4Wq7-requirepass"
PREFIX="my-cache/?Action=connect&User=iamuser&X-Amz-Algorithm=AWS4-HMAC-SHA256"

R=$(free_port)
L=$(free_port)   # IAM service, credentials from the environment
L2=$(free_port)  # IAM service of the second daemon (shared file)
L3=$(free_port)  # IAM service of the third daemon (container endpoint)
CP=$(free_port)  # the fake container credentials endpoint
LP=$(free_port)  # a service without IAM
CONF=$T/redtun.conf
CONF2=$T/redtun2.conf
CONF3=$T/redtun3.conf
mkdir -p "$T/home" "$T/empty"

step "TLS redis: requirepass for default, iamuser with nopass"
start_tls_redis r "$R" --requirepass "$DEFPW"
assert_eq "OK" "$(rcli_tls "$R" -a "$DEFPW" ACL SETUSER iamuser on nopass \
	'~*' '&*' +@all)" "ACL user iamuser"
assert_contains "$(rcli_tls "$R" PING 2>&1)" "NOAUTH" "redis requires AUTH"

{
	conf_globals
	conf_workers
	echo 'services = {'
	conf_service ec "$L" "$R" 'iamUser = "iamuser";' \
		'iamCache = "my-cache";' 'iamRegion = "us-east-1";'
	conf_service plain "$LP" "$R"
	echo '};'
} >"$CONF"
sed -e "s|$T/redtun.pid|$T/redtun2.pid|" -e "s|$T/redtun.log|$T/redtun2.log|" \
	-e "s|\"127.0.0.1:$L\"|\"127.0.0.1:$L2\"|" -e '/plain = {/,/};/d' \
	-e 's/  ec = {/  nocreds = {/' "$CONF" >"$CONF2"
grep -q nocreds "$CONF2" || hard_error "cannot make $CONF2"
sed -e "s|$T/redtun.pid|$T/redtun3.pid|" -e "s|$T/redtun.log|$T/redtun3.log|" \
	-e "s|\"127.0.0.1:$L\"|\"127.0.0.1:$L3\"|" -e '/plain = {/,/};/d' \
	-e 's/  ec = {/  cont = {/' "$CONF" >"$CONF3"
grep -q "cont = {" "$CONF3" || hard_error "cannot make $CONF3"

# The environment of every redtun run with credentials.
aws_env() {
	env -i PATH="$PATH" HOME="$T/home" AWS_EC2_METADATA_DISABLED=true \
		AWS_ACCESS_KEY_ID="$AKID_ENV" AWS_SECRET_ACCESS_KEY="$SECRET_ENV" \
		AWS_SESSION_TOKEN="$STOKEN_ENV" "$@"
}

step "credentials from the environment: clients get in as iamuser"
rc=0
aws_env timeout 20 "$REDTUN" "$CONF" >"$T/start.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "redtun started: $(cat "$T/start.out")"
RT_PID=$(redtun_pid) || fail "no pidfile"
wait_for_port "$L"
assert_eq "PONG" "$(rcli "$L" PING 2>&1)" "PING through redtun"
assert_eq "OK" "$(rcli "$L" SET iamkey v1 2>&1)" "SET through redtun"
assert_eq "v1" "$(rcli "$L" GET iamkey 2>&1)" "GET through redtun"
assert_eq "iamuser" "$(rcli "$L" ACL WHOAMI 2>&1)" "authenticated as iamuser"
wait_for_log "$T/redtun.log" "IAM: AWS credentials from environment \(key id AKIDEXAM\.\.\., with a session token\)" 5
assert_contains "$(rcli "$LP" PING 2>&1)" "NOAUTH" "the service without IAM sends no AUTH"

step "redtun token CONFIG SERVICE"
rc=0
tok=$(aws_env timeout 10 "$REDTUN" token "$CONF" ec 2>"$T/token.err") || rc=$?
assert_eq 0 "$rc" "redtun token: $(cat "$T/token.err")"
assert_eq "" "$(cat "$T/token.err")" "nothing on stderr"
assert_eq 1 "$(printf '%s\n' "$tok" | wc -l)" "one line"
case $tok in
"$PREFIX"*) ;;
*) fail "the token does not start with $PREFIX: ${tok:0:120}" ;;
esac
assert_contains "$tok" "X-Amz-Security-Token=" "the session token is in the token"
assert_contains "$tok" "X-Amz-Expires=900" "valid for 900 s"
echo "$tok" >"$T/token.txt"
assert_eq "iamuser" "$(rcli_tls "$R" --user iamuser --pass "$tok" ACL WHOAMI 2>&1)" \
	"redis-cli --user iamuser --pass \"\$(redtun token ...)\""
rc=0
aws_env "$REDTUN" token "$CONF" nosuch >/dev/null 2>"$T/token-nosvc.err" || rc=$?
assert_eq 1 "$rc" "unknown service: exit 1"
assert_contains "$(cat "$T/token-nosvc.err")" "redtun: " "a redtun: message"
assert_contains "$(cat "$T/token-nosvc.err")" "nosuch" "names the service"
rc=0
aws_env "$REDTUN" token "$CONF" plain >/dev/null 2>"$T/token-plain.err" || rc=$?
assert_eq 1 "$rc" "service without iamUser: exit 1"
assert_contains "$(cat "$T/token-plain.err")" "service plain has no iamUser"
rc=0
env -i PATH="$PATH" HOME="$T/empty" AWS_EC2_METADATA_DISABLED=true \
	"$REDTUN" token "$CONF" ec >"$T/token-none.out" 2>"$T/token-none.err" || rc=$?
assert_eq 2 "$rc" "no credentials: exit 2 ($(cat "$T/token-none.err"))"
assert_eq "" "$(cat "$T/token-none.out")" "nothing on stdout"
assert_contains "$(cat "$T/token-none.err")" "no AWS credentials" "says why"
assert_contains "$("$REDTUN" -h)" "redtun token" "redtun -h names the subcommand"

step "no credentials: the client reads why"
shared=$T/shared-credentials
rc=0
env -i PATH="$PATH" HOME="$T/empty" AWS_EC2_METADATA_DISABLED=true \
	AWS_SHARED_CREDENTIALS_FILE="$shared" \
	timeout 20 "$REDTUN" "$CONF2" >"$T/start2.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "second redtun started: $(cat "$T/start2.out")"
RT2_PID=$(redtun_pid "$T/redtun2.pid") || fail "no second pidfile"
track_pidfile "$T/redtun2.pid"
wait_for_port "$L2"
wait_for_log "$T/redtun2.log" "IAM: cannot (get|read) AWS credentials" 5
out=$(rcli "$L2" PING 2>&1) || true
assert_contains "$out" "redtun [nocreds]: IAM: no AWS credentials (" "the client's error"
[ "${#out}" -lt 200 ] || fail "the error is too long to read: $out"

step "SIGHUP reads the shared credentials file again"
reloads() { log_count "$T/redtun2.log" "configuration reloaded"; }
reloaded() { [ "$(reloads)" -gt "$HUP_BEFORE" ]; }
hup() { # wait for the reload to be done
	local n
	n=$(reloads)
	kill -HUP "$RT2_PID"
	HUP_BEFORE=$n
	wait_until 10 reloaded || fail "no reload after SIGHUP"
}
(umask 077 && printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$AKID_F1" "$SECRET_F1" >"$shared")
hup
wait_for_log "$T/redtun2.log" "IAM: AWS credentials from shared file .* \(key id AKID1FIL\.\.\.\)" 5
assert_eq "iamuser" "$(rcli "$L2" ACL WHOAMI 2>&1)" "after the reload: authenticated"
(umask 077 && printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n' \
	"$AKID_F2" "$SECRET_F2" "$STOKEN_F2" >"$shared")
hup
wait_for_log "$T/redtun2.log" "IAM: AWS credentials from shared file .* \(key id AKID2FIL\.\.\., with a session token\)" 5
assert_eq "iamuser" "$(rcli "$L2" ACL WHOAMI 2>&1)" "after the second reload"
# A file that became unusable keeps the credentials in use.
printf '[default]\naws_access_key_id = %s\n' "$AKID_F1" >"$shared"
hup
wait_for_log "$T/redtun2.log" "IAM: cannot read AWS credentials: .*; keeping those from shared file" 5
assert_eq "iamuser" "$(rcli "$L2" ACL WHOAMI 2>&1)" "still authenticated"

step "container credentials: refreshed before they expire"
# Credentials valid for 4 s: fetched again 2 s in (half-way, for short
# ones); "fail" in $T/mode makes the endpoint answer 500.
cat >"$T/creds_server.py" <<'EOF'
import datetime, http.server, json, sys
port, state = int(sys.argv[1]), sys.argv[2]
n = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global n
        n += 1
        with open(state + "/hits", "a") as f:
            f.write("%d\n" % n)
        mode = open(state + "/mode").read().strip()
        if mode == "fail":
            body, code = b"busy", 500
        else:
            exp = datetime.datetime.now(datetime.timezone.utc) + \
                datetime.timedelta(seconds=4)
            body = json.dumps({"AccessKeyId": "AKID%04dCONTAINER" % n,
                "SecretAccessKey": "ContSecret-n6Pk3-%d" % n,
                "Token": "ContSession-r9Tx5-%d" % n,
                "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
            code = 200
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
echo ok >"$T/mode"
spawn "$T/creds_server.log" python3 "$T/creds_server.py" "$CP" "$T"
wait_for_port "$CP"
rc=0
env -i PATH="$PATH" HOME="$T/empty" AWS_EC2_METADATA_DISABLED=true \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$CP/creds" \
	timeout 20 "$REDTUN" "$CONF3" >"$T/start3.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "third redtun started: $(cat "$T/start3.out")"
RT3_PID=$(redtun_pid "$T/redtun3.pid") || fail "no third pidfile"
track_pidfile "$T/redtun3.pid"
wait_for_port "$L3"
wait_for_log "$T/redtun3.log" "IAM: AWS credentials from container .*\(key id AKID0001\.\.\., with a session token\), expiring at" 5
assert_eq "iamuser" "$(rcli "$L3" ACL WHOAMI 2>&1)" "container credentials"
wait_for_log "$T/redtun3.log" "key id AKID0002\.\.\." 5
echo fail >"$T/mode"
wait_for_log "$T/redtun3.log" "IAM: cannot refresh AWS credentials: .*500.*; retrying in 1 s \(those from container .* are valid until" 5
assert_eq "iamuser" "$(rcli "$L3" ACL WHOAMI 2>&1)" "the valid credentials still serve"
# Retried (1 s, then 2 s later), the same failure logged only once.
retried() { [ "$(wc -l <"$T/hits")" -ge 4 ]; }
wait_until 5 retried || fail "no retry: $(wc -l <"$T/hits") requests"
assert_eq 1 "$(log_count "$T/redtun3.log" "cannot refresh AWS credentials")" "logged once"
# Past their expiry, the client learns why.
expired() { rcli "$L3" PING 2>&1 | grep -q expired; }
wait_until 5 expired || fail "no expiry error: $(rcli "$L3" PING 2>&1)"
out=$(rcli "$L3" PING 2>&1) || true
assert_contains "$out" "redtun [cont]: IAM: AWS credentials from container http://127.0.0.1:$CP/creds expired at" "the client's error"
echo ok >"$T/mode"
wait_for_log "$T/redtun3.log" "key id AKID000[4-9]\.\.\." 8
assert_eq "iamuser" "$(rcli "$L3" ACL WHOAMI 2>&1)" "the endpoint is back"

step "stop the daemons cleanly"
kill_wait "$RT3_PID"
kill_wait "$RT2_PID"
kill_wait "$RT_PID"
wait_for_log "$T/redtun.log" "exiting" 5
wait_for_log "$T/redtun2.log" "exiting" 5
wait_for_log "$T/redtun3.log" "exiting" 5
for f in "$T"/redtun*.log; do
	assert_file_no_match "$f" "handles still open"
done

step "no secret, session token or token in any log or output"
for s in "${SECRETS[@]}"; do
	# The token carries the session token (X-Amz-Security-Token).
	hits=$(grep -rlF --exclude=shared-credentials --exclude=token.txt \
		--exclude=creds_server.py \
		-- "$s" "$T" || true)
	assert_eq "" "$hits" "secret ${s:0:12}... found in"
done
hits=$(grep -rlF --exclude=token.txt -- "X-Amz-Signature" "$T" || true)
assert_eq "" "$hits" "a token found in"
say "PASS"
