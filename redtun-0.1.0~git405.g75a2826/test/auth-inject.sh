#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Upstream AUTH injected by redtun (username, password, passwordFile):
# redtun authenticates to a TLS redis with requirepass and an ACL user
# before any client byte, so unmodified clients that know no password
# work; a wrong password gives the client
#   ERR redtun [SERVICE]: upstream AUTH failed: WRONGPASS invalid username-password pair ...
# and the connection is closed; a passwordFile readable by group or others
# is a configuration error naming file:line; a client's own AUTH still
# works; and no password ever appears in a log or in "redtun -t" output.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli openssl timeout python3
need_redtun
gen_certs

# Distinctive strings, so a leak anywhere is found by grep.
DEFPW="DefPw-q8Zr2-requirepass"
SVCPW="SvcPw-k3Lm9-acluser"
FILEPW="FilePw-x7Tn4-fromfile"
OTHERPW="OtherPw-v5Hb1-clientauth"
WRONGPW="WrongPw-c2Jd6-nottheone"
SECRETS=("$DEFPW" "$SVCPW" "$FILEPW" "$OTHERPW" "$WRONGPW")

R=$(free_port)
LPW=$(free_port)    # password only (user default)
LUSER=$(free_port)  # username + password
LFILE=$(free_port)  # username + passwordFile
LWRONG=$(free_port) # username + a wrong password
LNONE=$(free_port)  # no injection: the client authenticates itself
LOG=$T/redtun.log
CONF=$T/redtun.conf

step "TLS redis with requirepass and ACL users"
start_tls_redis r "$R" --requirepass "$DEFPW"
ctl() { rcli_tls "$R" -a "$DEFPW" "$@"; }
assert_eq "OK" "$(ctl ACL SETUSER svcuser on ">$SVCPW" ">$FILEPW" '~*' '&*' +@all)" "ACL user svcuser"
assert_eq "OK" "$(ctl ACL SETUSER other on ">$OTHERPW" '~*' '&*' +@all)" "ACL user other"
assert_contains "$(rcli_tls "$R" PING 2>&1)" "NOAUTH" "redis requires a password"

step "passwordFile: first line only, mode 0600"
(umask 077 && printf '%s\nsecond-line-ignored\n' "$FILEPW" >"$T/pw.txt")
{
	conf_globals
	conf_workers
	echo 'services = {'
	conf_service pw "$LPW" "$R" "password = \"$DEFPW\";"
	conf_service user "$LUSER" "$R" 'username = "svcuser";' "password = \"$SVCPW\";"
	conf_service file "$LFILE" "$R" 'username = "svcuser";' "passwordFile = \"$T/pw.txt\";"
	conf_service wrong "$LWRONG" "$R" 'username = "svcuser";' "password = \"$WRONGPW\";"
	conf_service none "$LNONE" "$R"
	echo '};'
} >"$CONF"
rc=0
timeout 10 "$REDTUN" -t "$CONF" >"$T/t-good.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "redtun -t on the good config: $(cat "$T/t-good.out")"
start_redtun "$CONF"

step "unmodified clients are authenticated by redtun"
assert_eq "default" "$(rcli "$LPW" ACL WHOAMI)" "ACL WHOAMI through service pw"
assert_eq "svcuser" "$(rcli "$LUSER" ACL WHOAMI)" "ACL WHOAMI through service user"
assert_eq "svcuser" "$(rcli "$LFILE" ACL WHOAMI)" "ACL WHOAMI through service file (passwordFile)"
assert_eq "OK" "$(rcli "$LUSER" SET auth:k v1)" "SET through service user"
assert_eq "v1" "$(rcli "$LFILE" GET auth:k)" "GET through service file"
assert_contains "$(rcli "$LNONE" PING 2>&1)" "NOAUTH" "service none injects nothing"

step "AUTH is sent before any client byte"
# A client that connects and sends nothing: its server connection must
# already be authenticated as svcuser (last command AUTH).
python3 - "$LUSER" >"$T/silent.out" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
time.sleep(6)
EOF
track_pid $!
silent_auth() { ctl CLIENT LIST | grep -E ' user=svcuser ' | grep -q ' cmd=auth '; }
wait_until 5 silent_auth || fail "no upstream connection authenticated as svcuser before the client spoke: $(ctl CLIENT LIST)"

step "a client's own AUTH still works"
assert_eq "other" "$(rcli "$LUSER" --user other --pass "$OTHERPW" ACL WHOAMI)" "client AUTH over injected AUTH"
assert_eq "PONG" "$(rcli "$LNONE" -a "$DEFPW" PING)" "client AUTH through service none"
out=$(rcli "$LUSER" --user other --pass "$WRONGPW" ACL WHOAMI 2>&1 || true)
assert_contains "$out" "WRONGPASS" "a client's wrong AUTH is the client's own error"

step "a wrong password: the client gets the error, then the connection closes"
out=$(rcli "$LWRONG" --no-raw PING 2>&1 || true)
assert_match "$out" '^\(error\) ERR redtun \[wrong\]: upstream AUTH failed: WRONGPASS invalid username-password pair' \
	"redis-cli through service wrong"
out=$(python3 - "$LWRONG" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"PING\r\n")
data, t0 = b"", time.time()
try:
    while time.time() - t0 < 5:
        chunk = s.recv(4096)
        if not chunk:
            print("closed after %r" % data.decode(errors="replace"))
            break
        data += chunk
    else:
        print("still open after %r" % data)
except socket.timeout:
    print("still open after %r" % data)
except ConnectionResetError:
    print("reset after %r" % data)
EOF
)
assert_match "$out" "^closed after '-ERR redtun \[wrong\]: upstream AUTH failed: WRONGPASS[^']*\\\\r\\\\n'\$" \
	"raw client through service wrong: one error line, then EOF"
wait_for_log "$LOG" '\[wrong\].*upstream AUTH failed' 5

step "passwordFile readable by group or others is a configuration error"
cp "$T/pw.txt" "$T/pw644.txt"
chmod 0644 "$T/pw644.txt"
sed "s|$T/pw.txt|$T/pw644.txt|" "$CONF" >"$T/bad.conf"
line=$(grep -n 'pw644.txt' "$T/bad.conf" | cut -d: -f1)
rc=0
timeout 10 "$REDTUN" -t "$T/bad.conf" >"$T/t-bad.out" 2>&1 || rc=$?
out=$(cat "$T/t-bad.out")
assert_eq 1 "$rc" "redtun -t with a 0644 passwordFile (output: $out)"
assert_contains "$out" "$T/bad.conf:$line" "the error names the config file:line"
assert_contains "$out" "passwordFile" "the error names the setting"
chmod 0640 "$T/pw644.txt"
rc=0
timeout 10 "$REDTUN" -t "$T/bad.conf" >"$T/t-bad640.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "redtun -t with a 0640 passwordFile: $(cat "$T/t-bad640.out")"

step "no password in any log or -t output"
# -t of a config that does not parse past the passwords, too.
timeout 10 "$REDTUN" -t "$T/bad.conf" >"$T/t-bad2.out" 2>&1 || true
kill_wait "$RT_PID"
n=0
for f in "$LOG" "$T"/redtun-start.* "$T"/t-*.out; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	for s in "${SECRETS[@]}"; do
		if grep -qF -- "$s" "$f"; then
			fail "password $s appears in ${f#"$T"/}: $(grep -F -- "$s" "$f" | head -n 3)"
		fi
	done
done
assert_ne 0 "$(wc -l <"$LOG")" "the log is not empty"
say "searched $n files ($(wc -l <"$LOG") log lines) for ${#SECRETS[@]} passwords: none found"
say "ok"
