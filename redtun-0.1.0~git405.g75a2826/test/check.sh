#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# redtun -t checks what start and reload will need (accounts, pid and log
# directories, files readable by the setuid account) and warns about risky
# client settings; -t --probe does a real TLS handshake with every target:
# "verified" against a good server, the refusal reason against impostors.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd timeout ss redis-server redis-cli
need_redtun
gen_certs
# mktemp made $T 0700: let the setuid account see the files in it.
chmod 755 "$T"
chmod 644 "$T"/*.crt "$T"/*.key

L1=$(free_port)
UP=$(free_port)

# tcheck NAME EXPECTED_RC [ARGS...] < config: run redtun ARGS CONF; sets OUT/ERR.
tcheck() {
	local name=$1 want=$2 rc=0
	shift 2
	cat >"$T/$name.conf"
	timeout 30 "$REDTUN" "$@" "$T/$name.conf" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	OUT=$(cat "$T/$name.out")
	ERR=$(cat "$T/$name.err")
	[ "$rc" -eq "$want" ] ||
		fail "$name: redtun $* exited with $rc, expected $want; stderr: [$ERR] stdout: [$OUT]"
	say "$name: exit $rc${ERR:+; stderr: $ERR}"
}

# globals [EXTRA LINES...]: like conf_globals, plus lines.
globals() {
	conf_globals
	local l
	for l in "$@"; do echo "$l"; done
}

svc() { # [EXTRA SETTING LINES...]
	echo 'services = {'
	conf_service up "$L1" "$UP" "$@"
	echo '};'
}

step "a good configuration passes -t, without warnings"
{ globals; svc; } >"$T/next.conf"
tcheck good 0 -t <"$T/next.conf"
assert_contains "$OUT" "configuration OK"
assert_eq "" "$ERR" "no warnings for a good configuration"

if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null; then
	NOGROUP=$(id -gn nobody)
	step "as root with setuid = nobody: a good configuration passes"
	mkdir -m 755 "$T/run"
	chown nobody "$T/run"
	: >"$T/run/redtun.log"
	chown nobody "$T/run/redtun.log"
	{ globals 'setuid = "nobody";' "setgid = \"$NOGROUP\";" |
		sed -e "s|^pid = .*|pid = \"$T/run/redtun.pid\";|" \
		    -e "s|^output = .*|output = \"$T/run/redtun.log\";|"; svc; } >"$T/next.conf"
tcheck good-nobody 0 -t <"$T/next.conf"
	assert_contains "$OUT" "configuration OK"

	step "a missing setuid user fails -t"
	{ globals 'setuid = "redtun-no-such-user";'; svc; } >"$T/next.conf"
tcheck nouser 1 -t <"$T/next.conf"
	assert_match "$ERR" "^redtun: $(re_quote "$T/nouser.conf"):[0-9]+: setuid: .*redtun-no-such-user" \
		"the message names setuid and the user"
	assert_not_contains "$OUT" "configuration OK"

	step "a missing setgid group fails -t"
	{ globals 'setgid = "redtun-no-such-group";'; svc; } >"$T/next.conf"
tcheck nogroup 1 -t <"$T/next.conf"
	assert_match "$ERR" "setgid: .*redtun-no-such-group" "the message names setgid and the group"

	step "a key unreadable by the setuid account fails -t"
	cp "$T/client.key" "$T/root-only.key"
	chown root:root "$T/root-only.key"
	chmod 600 "$T/root-only.key"
	{ globals 'setuid = "nobody";' "setgid = \"$NOGROUP\";" |
		sed -e "s|^pid = .*|pid = \"$T/run/redtun.pid\";|" \
		    -e "s|^output = .*|output = \"$T/run/redtun.log\";|"
	  svc "cert = \"$T/client.crt\";" "key = \"$T/root-only.key\";"; } >"$T/next.conf"
tcheck rootkey 1 -t <"$T/next.conf"
	assert_match "$ERR" "^redtun: $(re_quote "$T/rootkey.conf"):[0-9]+: key: .*root-only\.key is not readable by user \"nobody\"" \
		"the message names the key and the account"
	assert_contains "$ERR" "Permission denied"

	step "a pid directory not writable by the setuid account fails -t"
	mkdir -m 755 "$T/rootrun"
	{ globals 'setuid = "nobody";' "setgid = \"$NOGROUP\";" |
		sed "s|^pid = .*|pid = \"$T/rootrun/redtun.pid\";|"; svc; } >"$T/next.conf"
tcheck rootrun 1 -t <"$T/next.conf"
	assert_match "$ERR" "pid: directory $(re_quote "$T/rootrun") is not writable by user \"nobody\"" \
		"the message names the directory and the account"
else
	say "not root (or no nobody account): setuid checks skipped"
fi

step "a missing pid directory fails -t"
{ globals | sed "s|^pid = .*|pid = \"$T/no-such-dir/redtun.pid\";|"; svc; } >"$T/next.conf"
tcheck nopiddir 1 -t <"$T/next.conf"
assert_match "$ERR" "^redtun: $(re_quote "$T/nopiddir.conf"):2: pid: directory $(re_quote "$T/no-such-dir") does not exist" \
	"the message names the pid directory"

step "a missing log directory fails -t"
{ globals | sed "s|^output = .*|output = \"$T/no-log-dir/redtun.log\";|"; svc; } >"$T/next.conf"
tcheck nologdir 1 -t <"$T/next.conf"
assert_match "$ERR" "output: directory $(re_quote "$T/no-log-dir") does not exist" \
	"the message names the log directory"

step "warnings: IP literal in connect, verifyChain = false, accept on all addresses"
{ globals; echo 'services = {'
  printf '  ip = {\n    client = true;\n    accept = "127.0.0.1:%s";\n    connect = "127.0.0.1:%s";\n  };\n' "$L1" "$UP"
  printf '  nv = {\n    client = true;\n    accept = "0.0.0.0:%s";\n    connect = "localhost:%s";\n    verifyChain = false;\n  };\n' "$(free_port)" "$UP"
  echo '};'; } >"$T/next.conf"
tcheck warn 0 -t <"$T/next.conf"
assert_contains "$OUT" "configuration OK" "warnings do not fail -t"
assert_match "$ERR" "^redtun: $(re_quote "$T/warn.conf"):10: connect: warning: \[ip\] 127\.0\.0\.1 is an IP address.*endpoint name" \
	"IP literal warning with its line"
assert_match "$ERR" "^redtun: $(re_quote "$T/warn.conf"):16: verifyChain: warning: \[nv\]" \
	"verifyChain = false warning with its line"
assert_match "$ERR" "^redtun: $(re_quote "$T/warn.conf"):14: accept: warning: \[nv\] .*0\.0\.0\.0" \
	"non-loopback accept warning with its line"

step "-t --probe against a good TLS redis"
start_tls_redis good "$UP"
{ globals; svc; } >"$T/next.conf"
tcheck probe-good 0 -t --probe <"$T/next.conf"
printf '%s\n' "$OUT" | sed 's/^/    | /'
assert_contains "$OUT" "service up: target localhost:$UP"
assert_match "$OUT" "address: +127\.0\.0\.1:$UP"
assert_match "$OUT" "TLS: +TLSv1\.[23], "
assert_match "$OUT" "subject: +.*CN=localhost"
assert_match "$OUT" "issuer: +.*CN="
assert_match "$OUT" "expires: +[0-9]+ days to expiry"
assert_match "$OUT" "verification: +verified"
assert_match "$OUT" "PING: +PONG"
# --probe alone implies -t.
{ globals; svc; } >"$T/next.conf"
tcheck probe-only 0 --probe <"$T/next.conf"
assert_match "$OUT" "verification: +verified"
kill_wait "$REDIS_PID"

step "-t --probe against an impostor (wrong host name)"
UP2=$(free_port)
start_tls_redis wrong "$UP2" --tls-cert-file "$T/wronghost.crt" --tls-key-file "$T/wronghost.key"
{ globals; echo 'services = {'; conf_service up "$L1" "$UP2"; echo '};'; } >"$T/next.conf"
tcheck probe-wrong 1 -t --probe <"$T/next.conf"
printf '%s\n' "$OUT" | sed 's/^/    | /'
assert_match "$OUT" "verification: +REFUSED: .*localhost" "the refusal names the expected host"
assert_not_contains "$OUT" "PONG" "no PING through a refused handshake"

step "-t --probe against an impostor (untrusted CA)"
UP3=$(free_port)
start_tls_redis untrusted "$UP3" --tls-cert-file "$T/untrusted.crt" --tls-key-file "$T/untrusted.key"
{ globals; echo 'services = {'; conf_service up "$L1" "$UP3"; echo '};'; } >"$T/next.conf"
tcheck probe-untrusted 1 -t --probe <"$T/next.conf"
printf '%s\n' "$OUT" | sed 's/^/    | /'
assert_match "$OUT" "verification: +REFUSED: " "the refusal reason is shown"

step "-t --probe with nothing listening"
UP4=$(free_port)
{ globals; echo 'services = {'; conf_service up "$L1" "$UP4"; echo '};'; } >"$T/next.conf"
tcheck probe-down 1 -t --probe <"$T/next.conf"
assert_match "$OUT" "cannot connect: " "the connect failure is shown"

say "ok"
