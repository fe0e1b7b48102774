#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Issue 13, differential: the SAME stunnel-format file run by stunnel4
# (/usr/bin/stunnel4) and then by redtun, one at a time on the same ports,
# against the same servers.
#
#  1. A file as users write it (client = yes, accept, connect, a CAfile,
#     no verify option), three services:
#       [good]      redis.diff.test -> a TLS redis-server, certificate
#                   *.diff.test from the CA in CAfile;
#       [untrusted] evil.diff.test  -> an impostor, *.diff.test from a CA
#                   nobody trusts here;
#       [wrongname] wrong.diff.test -> an impostor, the trusted CA's
#                   certificate for another name (wrong.example).
#     Both tools carry the same redis-cli traffic through [good] with
#     identical replies (PING, SET/GET, 1000 INCRs one by one, 1000
#     pipelined PINGs).  stunnel4 also carries traffic to both impostors
#     (its default: no verification, asserted, it is the point); redtun
#     refuses both, the client reads why and the log says it.
#  2. The same services with verifyChain = yes and checkHost: both tools
#     carry [good] and both refuse the impostors.
#  3. verifyChain = yes alone: stunnel4 refuses [untrusted] but carries
#     [wrongname] (no name check); redtun refuses both (the name from
#     connect) and says so in its notice.
#
# Names come from a private /etc/hosts in a private mount + network
# namespace (unshare -mn); ports are the namespace's own.
set -eu

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/netns.sh"
netns_reexec stunnel-diff "$@"

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli openssl ip mount ss timeout
need_redtun
STUNNEL=${STUNNEL:-$(command -v stunnel4 || command -v stunnel || true)}
[ -n "$STUNNEL" ] || skip "stunnel4 not installed"
say "stunnel: $("$STUNNEL" -version 2>&1 | grep -m1 -E '^stunnel [0-9]')"

step "private network and names"
ip link set lo up || hard_error "cannot bring lo up in the network namespace"
printf '127.0.0.1 localhost\n127.0.0.2 redis.diff.test\n127.0.0.3 evil.diff.test\n127.0.0.4 wrong.diff.test\n' >"$T/hosts"
printf 'passwd: files\ngroup: files\nhosts: files\n' >"$T/nsswitch.conf"
mount --bind "$T/hosts" /etc/hosts || hard_error "cannot bind-mount /etc/hosts"
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf ||
	hard_error "cannot bind-mount /etc/nsswitch.conf"
assert_eq 127.0.0.3 "$(getent hosts evil.diff.test | awk '{print $1}')" "private /etc/hosts"

gen_certs
gen_wildcard wild ca diff.test
gen_wildcard evil other-ca diff.test

step "servers: the real one and two impostors"
start_tls_node good 127.0.0.2 "$T/wild.crt" "$T/wild.key"
start_tls_node untrusted 127.0.0.3 "$T/evil.crt" "$T/evil.key"
start_tls_node wrongname 127.0.0.4 "$T/wronghost.crt" "$T/wronghost.key"
# Each server knows who it is: a reply through a tunnel says where it went.
for n in good:127.0.0.2 untrusted:127.0.0.3 wrongname:127.0.0.4; do
	timeout 5 redis-cli --tls --insecure -h "${n#*:}" -p 6379 SET whoami "${n%%:*}" >/dev/null ||
		hard_error "cannot label ${n%%:*}"
done

# conf FILE [SERVICE SETTING LINES]: the stunnel-format file both tools run.
conf() {
	local f=$1
	shift
	{
		echo "; stunnel-diff: one file for stunnel4 and redtun"
		echo "foreground = yes"
		echo "syslog = no"
		echo "pid = $T/diff.pid"
		echo "output = $T/diff.log"
		echo "debug = 7"
		echo "CAfile = $T/ca.crt"
		local p=7001 s host
		for s in good:redis untrusted:evil wrongname:wrong; do
			host=${s#*:}.diff.test
			echo
			echo "[${s%%:*}]"
			echo "client = yes"
			echo "accept = 127.0.0.1:$p"
			echo "connect = $host:6379"
			[ $# -eq 0 ] || printf '%s\n' "$@" | sed "s/@HOST@/$host/"
			p=$((p + 1))
		done
	} >"$f"
}
P_GOOD=7001 P_UNTRUSTED=7002 P_WRONG=7003

local_listening() { ss -ltnH | awk '{print $4}' | grep -qx "127\.0\.0\.1:$1"; }

# run_tool NAME CMD...: start a tool on the config (in the foreground, as
# the file says), wait for its three listeners.  Sets TOOL_PID.
TOOL_PID=
run_tool() {
	local name=$1 p
	shift
	rm -f "$T/diff.log" "$T/diff.pid"
	spawn "$T/$name.stderr" "$@"
	TOOL_PID=$LAST_PID
	for p in $P_GOOD $P_UNTRUSTED $P_WRONG; do
		wait_until 10 local_listening "$p" || {
			cat "$T/$name.stderr" "$T/diff.log" >&2 2>/dev/null
			fail "$name: nothing listens on 127.0.0.1:$p"
		}
	done
	pid_alive "$TOOL_PID" || fail "$name exited"
}
stop_tool() { # NAME
	kill_wait "$TOOL_PID" 15
	pid_alive "$TOOL_PID" && fail "$1 did not stop on SIGTERM"
	for p in $P_GOOD $P_UNTRUSTED $P_WRONG; do
		wait_until 5 sh -c "! ss -ltnH | awk '{print \$4}' | grep -qx '127.0.0.1:$p'" ||
			fail "$1: 127.0.0.1:$p still listening after it stopped"
	done
	[ ! -f "$T/diff.log" ] || mv "$T/diff.log" "$T/$1.log"
}

# traffic PORT OUT: the redis-cli conversation through a tunnel, its
# replies in OUT (compared between the tools).
traffic() {
	local port=$1 out=$2
	{
		timeout 10 redis-cli -p "$port" PING
		timeout 10 redis-cli -p "$port" GET whoami
		timeout 10 redis-cli -p "$port" SET "k:$port" "value with spaces"
		timeout 10 redis-cli -p "$port" GET "k:$port"
		timeout 10 redis-cli -p "$port" SET counter 0
		# 1000 commands, one round trip each.
		for ((i = 0; i < 1000; i++)); do echo "INCR counter"; done |
			timeout 30 redis-cli -p "$port"
		# 1000 commands pipelined in one stream.
		# shellcheck disable=SC2016 # RESP, not a variable
		for ((i = 0; i < 1000; i++)); do printf '*1\r\n$4\r\nPING\r\n'; done |
			timeout 30 redis-cli -p "$port" --pipe | grep -E '^errors:'
	} >"$out" 2>&1
}
EXPECT_HEAD=$(printf 'PONG\ngood\nOK\nvalue with spaces\n')

check_traffic() { # TOOL OUT
	local out=$2
	assert_eq "$EXPECT_HEAD" "$(head -n 4 "$out")" "$1: PING, GET whoami, SET, GET"
	assert_eq 1006 "$(wc -l <"$out")" "$1: reply lines"
	assert_eq "$(seq 1 1000)" "$(sed -n 6,1005p "$out")" "$1: 1000 INCR replies"
	assert_eq "errors: 0, replies: 1000" "$(tail -n 1 "$out")" "$1: 1000 pipelined PINGs"
}

# ---------------------------------------------------------------------------
step "1. the file as users write it (no verify option): stunnel4"
conf "$T/plain.conf"
cat "$T/plain.conf"
run_tool stunnel "$STUNNEL" "$T/plain.conf"
traffic $P_GOOD "$T/stunnel.traffic"
check_traffic stunnel "$T/stunnel.traffic"
# stunnel carries traffic to both impostors: it verifies nothing.
for s in untrusted:$P_UNTRUSTED wrongname:$P_WRONG; do
	assert_eq PONG "$(timeout 10 redis-cli -p "${s#*:}" PING 2>&1)" "stunnel4 [${s%%:*}]: PING"
	assert_eq "${s%%:*}" "$(timeout 10 redis-cli -p "${s#*:}" GET whoami 2>&1)" \
		"stunnel4 [${s%%:*}] reaches the impostor"
done
stop_tool stunnel
assert_file_match "$T/stunnel.log" "Service \[untrusted\] needs authentication to prevent MITM attacks" \
	"stunnel4 warns (and runs anyway)"

step "1. the same file: redtun"
run_tool redtun "$REDTUN" "$T/plain.conf"
traffic $P_GOOD "$T/redtun.traffic"
check_traffic redtun "$T/redtun.traffic"
assert_eq "$(cat "$T/stunnel.traffic")" "$(cat "$T/redtun.traffic")" "identical replies through stunnel4 and redtun"
# refused_by_redtun NAME PORT ERE: the client reads "ERR redtun [NAME]: REASON"
# (REASON matching ERE), the log has the same reason; the impostor saw no command.
refused_by_redtun() {
	local name=$1 port=$2 re=$3 out
	out=$(timeout 10 redis-cli --no-raw -p "$port" GET whoami 2>&1) || true
	out=$(printf '%s' "$out" | tr -d '\r' | sed '/^$/d')
	say "redtun [$name]: $out"
	assert_not_contains "$out" "\"$name\"" "redtun [$name] must not reach the impostor"
	assert_match "$out" "^\(error\) ERR redtun \[$name\]: upstream [a-z.]+:6379: certificate verify failed: $re" \
		"redtun [$name]: what the client reads"
	wait_for_log "$T/diff.log" "\[$name\] 127\.0\.0\.1:[0-9]+: upstream [a-z.]+:6379: certificate verify failed: $re" 5
}
refused_by_redtun untrusted $P_UNTRUSTED ".*not signed by a trusted CA"
refused_by_redtun wrongname $P_WRONG "hostname mismatch: expected wrong\.diff\.test, certificate has DNS:wrong\.example"
assert_eq "$(timeout 5 redis-cli --tls --insecure -h 127.0.0.2 -p 6379 GET k:$P_GOOD)" "value with spaces" \
	"the SET through redtun reached the real server"
stop_tool redtun
assert_file_match "$T/redtun.stderr" "notice: \[good\] stunnel would not verify this server" \
	"redtun says what it does that stunnel would not"

# ---------------------------------------------------------------------------
step "2. verifyChain = yes, CAfile, checkHost: stunnel4"
conf "$T/verify.conf" "verifyChain = yes" "checkHost = @HOST@"
grep -c '^checkHost = ' "$T/verify.conf" | grep -qx 3 || hard_error "verify.conf not written"
run_tool stunnel "$STUNNEL" "$T/verify.conf"
traffic $P_GOOD "$T/stunnel2.traffic"
check_traffic "stunnel4 (verifyChain)" "$T/stunnel2.traffic"
for s in untrusted:$P_UNTRUSTED wrongname:$P_WRONG; do
	out=$(timeout 10 redis-cli -p "${s#*:}" GET whoami 2>&1) || true
	say "stunnel4 [${s%%:*}]: $out"
	assert_not_contains "$out" "${s%%:*}" "stunnel4 with verifyChain must refuse [${s%%:*}]"
done
stop_tool stunnel
mv "$T/stunnel.log" "$T/stunnel2.log"
assert_file_match "$T/stunnel2.log" "Rejected by CERT at depth=0" "stunnel4 rejected a certificate"

step "2. the same file: redtun"
run_tool redtun "$REDTUN" "$T/verify.conf"
traffic $P_GOOD "$T/redtun2.traffic"
check_traffic "redtun (verifyChain)" "$T/redtun2.traffic"
assert_eq "$(cat "$T/stunnel2.traffic")" "$(cat "$T/redtun2.traffic")" "identical replies (verifyChain)"
refused_by_redtun untrusted $P_UNTRUSTED ".*not signed by a trusted CA"
refused_by_redtun wrongname $P_WRONG "hostname mismatch: expected wrong\.diff\.test, certificate has DNS:wrong\.example"
stop_tool redtun
# Verification written out: nothing to tell about stunnel.
assert_file_no_match "$T/redtun.stderr" "stunnel would" "no security notice when the file verifies"

# ---------------------------------------------------------------------------
step "3. verifyChain = yes without checkHost: stunnel4"
# stunnel then takes any certificate the CA vouches for, whatever its name.
conf "$T/chain.conf" "verifyChain = yes"
run_tool stunnel "$STUNNEL" "$T/chain.conf"
assert_eq good "$(timeout 10 redis-cli -p $P_GOOD GET whoami 2>&1)" "stunnel4 [good] (chain only)"
out=$(timeout 10 redis-cli -p $P_UNTRUSTED GET whoami 2>&1) || true
assert_not_contains "$out" untrusted "stunnel4 (chain only) must refuse [untrusted]"
assert_eq wrongname "$(timeout 10 redis-cli -p $P_WRONG GET whoami 2>&1)" \
	"stunnel4 (chain only) carries traffic to a certificate for another name"
stop_tool stunnel
assert_file_match "$T/stunnel.log" 'Service \[wrongname\] uses "verifyChain" without subject checks' \
	"stunnel4 warns (and runs anyway)"

step "3. the same file: redtun checks the name from connect"
run_tool redtun "$REDTUN" "$T/chain.conf"
assert_eq good "$(timeout 10 redis-cli -p $P_GOOD GET whoami 2>&1)" "redtun [good] (chain only)"
refused_by_redtun untrusted $P_UNTRUSTED ".*not signed by a trusted CA"
refused_by_redtun wrongname $P_WRONG "hostname mismatch: expected wrong\.diff\.test, certificate has DNS:wrong\.example"
stop_tool redtun
assert_file_match "$T/redtun.stderr" "notice: \[wrongname\] stunnel would accept any certificate CAfile $(re_quote "$T/ca.crt") vouches for; redtun also checks the host name wrong\.diff\.test from connect" \
	"redtun says it checks the name stunnel would not"
say "PASS"
