#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Bad configurations are rejected with exit 1 and one line
#   redtun: FILE:LINE: SETTING: PROBLEM
# naming the right line and setting; nothing is started (no pidfile).
# A good configuration passes -t with "configuration OK".
#
# The cases are one table (CASES below): a configuration snippet and the
# error it must give. In a snippet the line(s) where the error may be
# reported carry a "#ERR" comment; "#ERR+" also accepts the following line
# (libconfig reports errors at end of file on the line after the last one).
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd timeout ss
need_redtun
gen_certs

L1=$(free_port)
L2=$(free_port)
# passwordFile cases: a private file and one group and others can read.
printf 'secret\n' >"$T/pw-0600"
chmod 600 "$T/pw-0600"
printf 'secret\n' >"$T/pw-0644"
chmod 644 "$T/pw-0644"

UP=$(free_port) # never started: -t must not connect anywhere
PIDFILE=$T/redtun.pid
NCASES=0

# expected_lines FILE: "3|7" from the #ERR markers.
expected_lines() {
	awk '/#ERR\+/ { printf "%s%d|%d", sep, NR, NR + 1; sep = "|"; next }
	     /#ERR/   { printf "%s%d", sep, NR; sep = "|" }' "$1"
}

# check_bad NAME SETTING_ERE [MESSAGE_SUBSTRING]: $T/NAME.conf must be
# rejected at an #ERR line, naming SETTING_ERE (and MESSAGE_SUBSTRING).
check_bad() {
	local name=$1 setting=$2 needle=${3:-} f lines rc out err line_re mode
	f=$T/$name.conf
	lines=$(expected_lines "$f")
	[ -n "$lines" ] || hard_error "case $name has no #ERR marker"

	rc=0
	timeout 10 "$REDTUN" -t "$f" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	out=$(cat "$T/$name.out")
	err=$(cat "$T/$name.err")
	[ "$rc" -eq 1 ] || fail "$name: redtun -t exited with $rc, expected 1; stderr: [$err] stdout: [$out]"
	assert_not_contains "$out$err" "configuration OK" "$name: bad config reported OK"
	line_re="^redtun: $(re_quote "$f"):($lines): ($setting)(: |\$)"
	if ! printf '%s\n' "$err" | grep -Eq -- "$line_re"; then
		printf '%s: FAIL: %s: stderr does not match /%s/\n  config:\n' "$TEST_NAME" "$name" "$line_re" >&2
		cat -n "$f" | sed 's/^/    /' >&2
		printf '  stderr: [%s]\n' "$err" >&2
		exit 1
	fi
	[ -z "$needle" ] || assert_contains "$err" "$needle" "$name: message"
	[ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] ||
		fail "$name: the error should be one line, got: [$err]"

	# Starting for real (daemon mode, and -f) must fail the same way and
	# leave no pidfile and no listener behind.
	for mode in daemon -f; do
		rc=0
		if [ "$mode" = -f ]; then
			timeout 10 "$REDTUN" -f "$f" >/dev/null 2>"$T/$name.run.err" || rc=$?
		else
			timeout 10 "$REDTUN" "$f" >/dev/null 2>"$T/$name.run.err" || rc=$?
		fi
		[ "$rc" -eq 1 ] || fail "$name: 'redtun $mode' exited with $rc, expected 1: $(cat "$T/$name.run.err")"
		grep -Eq -- "$line_re" "$T/$name.run.err" ||
			fail "$name: 'redtun $mode' stderr lacks the error: $(cat "$T/$name.run.err")"
		[ ! -e "$PIDFILE" ] || fail "$name: pidfile created for a bad config ($mode)"
		! port_listening "$L1" || fail "$name: port $L1 is listening after a bad config ($mode)"
	done
	say "ok: $name: $err"
}

G="pid = \"$PIDFILE\";
output = \"$T/redtun.log\";
debug = 7;
CAfile = \"$T/ca.crt\";"

# write_case KIND < snippet: the configuration of one case.
#   svc: the snippet is the body of service "primary", after the globals $G;
#   top: top-level lines after $G, then a minimal client service;
#   raw: the whole file.
write_case() {
	case $1 in
	svc)
		printf '%s\nservices = {\n  primary = {\n' "$G"
		sed 's/^/    /'
		printf '  };\n};\n'
		;;
	top)
		printf '%s\n' "$G"
		cat
		printf 'services = {\n  primary = { client = true; accept = "127.0.0.1:%s"; connect = "localhost:%s"; };\n};\n' "$L1" "$UP"
		;;
	raw) cat ;;
	*) hard_error "unknown case kind '$1'" ;;
	esac
}

trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	printf '%s' "${s%"${s##*[![:space:]]}"}"
}

# Every case runs even if an earlier one failed; failures are summed up at the
# end (each case runs in a subshell, so fail() ends only that case).
FAILED=()
run_case() { # NAME KIND SETTING_ERE MESSAGE BODY
	NCASES=$((NCASES + 1))
	printf '%s' "$5" | write_case "$2" >"$T/$1.conf"
	if (check_bad "$1" "$3" "$4"); then :; else FAILED+=("$1"); fi
}

# The table: "== NAME @ KIND @ SETTING_ERE @ MESSAGE_SUBSTRING", then the
# snippet's lines up to the next "==".
CASES=$(
	cat <<EOF
== unknown-service-setting @ svc @ bogus @
client = true;
accept = "127.0.0.1:$L1";
bogus = 1;  #ERR
connect = "localhost:$UP";
== sni-ip @ svc @ sni @ is an IP address; SNI carries host names only
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
sni = "127.0.0.1";  #ERR
== checkhost-ip @ svc @ checkHost @ is an IP address; use checkIP
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
checkHost = "::1";  #ERR
== checkip-name @ svc @ checkIP @ is not an IPv4 or IPv6 address
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
checkIP = "localhost";  #ERR
== checkip-and-host @ svc @ checkIP @ set only one of checkHost and checkIP
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
checkHost = "localhost";
checkIP = "127.0.0.1";  #ERR
== unknown-global @ top @ frobnicate @
frobnicate = true;  #ERR
== global-in-service @ svc @ pid @ global
client = true;
pid = "$T/other.pid";  #ERR
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
== client-string @ svc @ client @
client = "yes";  #ERR
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
== timeout-string @ svc @ TIMEOUTconnect @
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
TIMEOUTconnect = "ten";  #ERR
== accept-no-port @ svc @ accept @
client = true;
accept = "localhost";  #ERR
connect = "localhost:$UP";
== accept-bad-port @ svc @ accept @ 70000
client = true;
accept = "127.0.0.1:70000";  #ERR
connect = "localhost:$UP";
== connect-missing @ raw @ connect @ missing
$G
services = {
  primary = {  #ERR
    client = true;
    accept = "127.0.0.1:$L1";
  };
};
== connect-nocolon @ svc @ connect @ expected "host:port", got "nocolon"
client = true;
accept = "127.0.0.1:$L1";
connect = "nocolon";  #ERR
== failover-random @ svc @ failover @ random
client = true;
accept = "127.0.0.1:$L1";
connect = ( "localhost:$UP", "localhost:$L2" );
failover = "random";  #ERR
== version-min-tls11 @ svc @ sslVersionMin @ TLSv1.1
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
sslVersionMin = "TLSv1.1";  #ERR
== version-max-sslv3 @ svc @ sslVersionMax @ SSLv3
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
sslVersionMax = "SSLv3";  #ERR
== version-min-above-max @ svc @ sslVersionM(in|ax) @
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
sslVersionMin = "TLSv1.3";  #ERR
sslVersionMax = "TLSv1.2";  #ERR
== fips-true @ top @ fips @
fips = true;  #ERR
== server-no-cert @ raw @ cert @ required in server mode
$G
services = {
  primary = {  #ERR
    client = false;
    accept = "127.0.0.1:$L1";
    connect = "127.0.0.1:$UP";
  };
};
== server-key-mismatch @ svc @ key @ does not match the certificate
client = false;
accept = "127.0.0.1:$L1";
connect = "127.0.0.1:$UP";
cert = "$T/server.crt";
key = "$T/wronghost.key";  #ERR
== server-cert-not-pem @ svc @ cert @ cannot load certificate
client = false;
accept = "127.0.0.1:$L1";
connect = "127.0.0.1:$UP";
cert = "$T/server.key";  #ERR
key = "$T/server.key";
== encryption-client-mode @ svc @ encryption @ only to server mode
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
encryption = "preferred";  #ERR
== encryption-bad @ svc @ encryption @ "sometimes"
client = false;
accept = "127.0.0.1:$L1";
connect = "127.0.0.1:$UP";
cert = "$T/server.crt";
key = "$T/server.key";
encryption = "sometimes";  #ERR
== verify-peer @ svc @ verifyPeer @ not supported
client = false;
accept = "127.0.0.1:$L1";
connect = "127.0.0.1:$UP";
cert = "$T/server.crt";
key = "$T/server.key";
verifyPeer = true;  #ERR
== cipher-adh @ svc @ ciphers @ ADH-AES128-SHA
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
ciphers = "ADH-AES128-SHA";  #ERR
== debug-9 @ raw @ debug @
pid = "$PIDFILE";
output = "$T/redtun.log";
debug = 9;  #ERR
CAfile = "$T/ca.crt";
services = {
  primary = { client = true; accept = "127.0.0.1:$L1"; connect = "localhost:$UP"; };
};
== debug-loud @ raw @ debug @ loud
pid = "$PIDFILE";
output = "$T/redtun.log";
debug = "loud";  #ERR
CAfile = "$T/ca.crt";
services = {
  primary = { client = true; accept = "127.0.0.1:$L1"; connect = "localhost:$UP"; };
};
== debug-facility @ raw @ debug @ unknown syslog facility "kernel"
pid = "$PIDFILE";
output = "$T/redtun.log";
debug = "kernel.info";  #ERR
CAfile = "$T/ca.crt";
services = {
  primary = { client = true; accept = "127.0.0.1:$L1"; connect = "localhost:$UP"; };
};
== foreground-string @ raw @ foreground @ expected true or false
pid = "$PIDFILE";
foreground = "yes";  #ERR
CAfile = "$T/ca.crt";
services = {
  primary = { client = true; accept = "127.0.0.1:$L1"; connect = "localhost:$UP"; };
};
== syslog-in-service @ svc @ syslog @ is a global setting
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
syslog = false;  #ERR
== cafile-missing @ raw @ CAfile @ $T/no-such-ca.crt
pid = "$PIDFILE";
output = "$T/redtun.log";
debug = 7;
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    CAfile = "$T/no-such-ca.crt";  #ERR
  };
};
== cert-missing @ svc @ cert @ $T/no-such.crt
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
cert = "$T/no-such.crt";  #ERR
key = "$T/client.key";
== cert-without-key @ svc @ (cert|key) @
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
cert = "$T/client.crt";  #ERR
== options-bogus @ top @ options @ NO_BOGUS
options = [ "NO_SSLv2", "NO_BOGUS" ];  #ERR
== services-missing @ raw @ services @
# no services at all: there is no line to point at; redtun names line 1 #ERR
$G
== duplicate-accept @ raw @ accept @ $L1
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
  };
  replica = {
    client = true;
    accept = "127.0.0.1:$L1";  #ERR
    connect = "localhost:$L2";
  };
};
== username-without-password @ svc @ username @ needs password
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
username = "app";  #ERR
== password-and-file @ svc @ (password|passwordFile) @ both set
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
password = "x";  #ERR
passwordFile = "$T/pw-0600";  #ERR
== password-file-readable @ svc @ passwordFile @ chmod 600
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
passwordFile = "$T/pw-0644";  #ERR
== password-control-char @ svc @ password @ control character
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
password = "a\nb";  #ERR
== role-bogus @ svc @ role @ "primary", "replica" or "any"
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
role = "master";  #ERR
== reuse-server-mode @ svc @ reuse @ only to client mode
client = false;
accept = "127.0.0.1:$L1";
connect = "127.0.0.1:$UP";
cert = "$T/server.crt";
key = "$T/server.key";
reuse = true;  #ERR
== reuse-max-range @ svc @ reuseMax @ out of range
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
reuse = true;
reuseMax = 0;  #ERR
== cluster-without-ports @ svc @ cluster @ needs clusterPorts
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
cluster = true;  #ERR
== cluster-ports-bogus @ svc @ clusterPorts @ HOST:FIRST-LAST
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
cluster = true;
clusterPorts = "127.0.0.1:7001";  #ERR
== cluster-ports-reversed @ svc @ clusterPorts @ last port must be
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
cluster = true;
clusterPorts = "127.0.0.1:7100-7001";  #ERR
== cluster-ports-too-many @ svc @ clusterPorts @ at most 1000
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
cluster = true;
clusterPorts = "127.0.0.1:2000-9000";  #ERR
== cluster-ports-without-cluster @ svc @ clusterPorts @ needs cluster = true
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
clusterPorts = "127.0.0.1:7001-7010";  #ERR
== cluster-server-mode @ svc @ cluster @ only to client mode
client = false;
accept = "127.0.0.1:$L1";
connect = "127.0.0.1:$UP";
cert = "$T/server.crt";
key = "$T/server.key";
cluster = true;  #ERR
clusterPorts = "127.0.0.1:7001-7010";
== cluster-with-role @ svc @ role @ does not apply with cluster
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
cluster = true;
clusterPorts = "127.0.0.1:7001-7010";
role = "primary";  #ERR
== cluster-refresh-range @ svc @ clusterRefresh @ out of range
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
cluster = true;
clusterPorts = "127.0.0.1:7001-7010";
clusterRefresh = 0;  #ERR
== cluster-ports-global @ raw @ clusterPorts @ set it in the service section
$G
clusterPorts = "127.0.0.1:7001-7010";  #ERR
services = {
  a = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    cluster = true;
  };
};
== cluster-ports-overlap @ raw @ clusterPorts @ overlaps the ports of service
$G
services = {
  a = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    cluster = true;
    clusterPorts = "127.0.0.1:7001-7010";
  };
  b = {
    client = true;
    accept = "127.0.0.1:$L2";
    connect = "localhost:$UP";
    cluster = true;
    clusterPorts = "127.0.0.1:7005-7020";  #ERR
  };
};
== iam-with-password @ svc @ iamUser @ iamUser and password
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
password = "pw";
iamUser = "u";  #ERR
iamCache = "c";
iamRegion = "us-east-1";
== iam-with-username @ svc @ iamUser @ iamUser and username
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
username = "u2";
iamUser = "u";  #ERR
iamCache = "c";
iamRegion = "us-east-1";
== iam-without-cache @ svc @ iamUser @ needs iamCache
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
iamUser = "u";  #ERR
iamRegion = "us-east-1";
== iam-without-region @ svc @ iamUser @ needs iamRegion
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
iamUser = "u";  #ERR
iamCache = "c";
== iam-without-user @ svc @ iamRegion @ needs iamUser
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
iamRegion = "us-east-1";  #ERR
== iam-cache-chars @ svc @ iamCache @ letters, digits and
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
iamUser = "u";
iamCache = "MyCache";  #ERR
iamRegion = "us-east-1";
== iam-user-control @ svc @ iamUser @ printable characters
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
iamUser = "a\tb";  #ERR
iamCache = "c";
iamRegion = "us-east-1";
== iam-reauth-after-lifetime @ svc @ iamReauth @ not below iamLifetime
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
iamUser = "u";
iamCache = "c";
iamRegion = "us-east-1";
iamReauth = 50;  #ERR
iamLifetime = 40;
== iam-refresh-range @ svc @ iamTokenRefresh @ out of range
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
iamUser = "u";
iamCache = "c";
iamRegion = "us-east-1";
iamTokenRefresh = 781;  #ERR
== iam-server-mode @ svc @ iamUser @ only to client mode
client = false;
accept = "127.0.0.1:$L1";
connect = "127.0.0.1:$UP";
cert = "$T/server.crt";
key = "$T/server.key";
iamUser = "u";  #ERR
iamCache = "c";
iamRegion = "us-east-1";
== iam-region-long @ svc @ iamRegion @ longer than 64 bytes
client = true;
accept = "127.0.0.1:$L1";
connect = "localhost:$UP";
iamUser = "u";
iamCache = "c";
iamRegion = "us-east-1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";  #ERR
== syntax-missing-equals @ svc @ syntax error @
client = true;
accept "127.0.0.1:$L1";  #ERR
connect = "localhost:$UP";
== syntax-missing-brace @ raw @ syntax error @
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
  };  #ERR+
EOF
)

step "bad configurations"
name="" kind="" setting="" needle="" body=""
while IFS= read -r line; do
	if [ "${line#== }" = "$line" ]; then
		body+="$line"$'\n'
		continue
	fi
	[ -z "$name" ] || run_case "$name" "$kind" "$setting" "$needle" "$body"
	IFS=@ read -r name kind setting needle <<<"${line#== }"
	name=$(trim "$name") kind=$(trim "$kind")
	setting=$(trim "$setting") needle=$(trim "$needle")
	body=""
done <<<"$CASES"
[ -z "$name" ] || run_case "$name" "$kind" "$setting" "$needle" "$body"
[ "$NCASES" -eq "$(grep -c '^== ' <<<"$CASES")" ] ||
	hard_error "ran $NCASES cases of the table's $(grep -c '^== ' <<<"$CASES")"

# The check itself must be able to fail: the last case, expecting another
# setting, must not pass.
step "a wrong expectation fails"
if (check_bad "$name" wrongSetting) >/dev/null 2>&1; then
	fail "check_bad accepted $name with a wrong setting"
fi

step "missing config file"
rc=0
timeout 10 "$REDTUN" -t "$T/does-not-exist.conf" >/dev/null 2>"$T/missing.err" || rc=$?
assert_eq 1 "$rc" "exit status for a missing config file"
assert_file_match "$T/missing.err" \
	"^redtun: $(re_quote "$T/does-not-exist.conf"): cannot read: No such file or directory" \
	"message for a missing config file"
rc=0
timeout 10 "$REDTUN" "$T/does-not-exist.conf" >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "exit status for a missing config file (daemon mode)"

step "a good configuration passes -t"
cat >"$T/good.conf" <<EOF
# a comment
$G
options = [ "NO_SSLv2", "NO_SSLv3" ];
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    TIMEOUTconnect = 5;
    sslVersionMin = "TLSv1.2";
    sslVersionMax = "TLSv1.3";
  };
  replica = {
    client = true;
    accept = $L2;
    connect = ( "localhost:$UP", "127.0.0.1:$UP" );
    failover = "rr";
    cert = "$T/client.crt";
    key = "$T/client.key";
  };
};
EOF
rc=0
out=$(timeout 10 "$REDTUN" -t "$T/good.conf" 2>&1) || rc=$?
assert_eq 0 "$rc" "redtun -t on a good config (output: $out)"
assert_contains "$out" "configuration OK" "redtun -t output"
[ ! -e "$PIDFILE" ] || fail "-t created the pidfile"
! port_listening "$L1" || fail "-t left port $L1 listening"
out=$(timeout 10 "$REDTUN" --test-config "$T/good.conf" 2>&1) || fail "--test-config failed: $out"
assert_contains "$out" "configuration OK" "redtun --test-config output"

step "top-level IAM settings are defaults for the services that use IAM"
{
	echo "pid = \"$PIDFILE\";"
	echo 'iamRegion = "us-east-1";'
	echo 'iamUser = "app-user";'
	echo 'iamCache = "my-cache";'
	echo 'services = {'
	echo "  iam = { client = true; accept = \"127.0.0.1:$L1\"; connect = \"localhost:$UP\"; };"
	echo "  pw = { client = true; accept = \"127.0.0.1:$L2\"; connect = \"localhost:$UP\"; password = \"x\"; };"
	echo "  srv = { client = false; accept = \"127.0.0.1:$(free_port)\"; connect = \"127.0.0.1:$UP\"; cert = \"$T/server.crt\"; key = \"$T/server.key\"; };"
	echo '};'
} >"$T/iam-globals.conf"
out=$(timeout 10 "$REDTUN" -t --print-effective "$T/iam-globals.conf" 2>&1) ||
	fail "global IAM defaults refused: $out"
assert_contains "$out" '[iam] iamUser = "app-user"' "a client service inherits iamUser"
assert_contains "$out" '[iam] iamRegion = "us-east-1"' "... and iamRegion"
assert_contains "$out" '[pw] iamUser = none' "a service with its own password does not"
assert_contains "$out" '[srv] iamUser = none' "a server-mode service does not"
EXAMPLE=$top_srcdir/etc/redtun-iam.conf
sed -E '/^[[:space:]]*(setuid|setgid|pid)[[:space:]]*=/d' "$EXAMPLE" >"$T/iam-example.conf"
out=$(timeout 10 "$REDTUN" -t "$T/iam-example.conf" 2>&1) || fail "redtun -t $EXAMPLE failed: $out"
assert_contains "$out" "configuration OK" "redtun -t $EXAMPLE"

step "etc/redtun.conf from the repository"
EXAMPLE=$top_srcdir/etc/redtun.conf
if [ ! -f "$EXAMPLE" ]; then
	say "no $EXAMPLE yet; not checked"
else
	cafile=$(sed -n 's/^[[:space:]]*CAfile[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$EXAMPLE" | head -n 1)
	if [ -n "$cafile" ] && [ ! -r "$cafile" ]; then
		say "$EXAMPLE: its CAfile $cafile does not exist here; not checked"
	else
		# The account and directories it names are the installed
		# system's (-t checks them there); here only the rest is checked.
		sed -E '/^[[:space:]]*(setuid|setgid|pid|output)[[:space:]]*=/d' \
			"$EXAMPLE" >"$T/example.conf"
		out=$(timeout 10 "$REDTUN" -t "$T/example.conf" 2>&1) || fail "redtun -t $EXAMPLE (without setuid, setgid, pid, output) failed: $out"
		assert_contains "$out" "configuration OK" "redtun -t $EXAMPLE"
	fi
fi

step "etc/stunnel-redis-cli.conf: the AWS recipe, read as stunnel's"
EXAMPLE=$top_srcdir/etc/stunnel-redis-cli.conf
sed -E '/^[[:space:]]*(setuid|setgid|pid)[[:space:]]*=/d' "$EXAMPLE" >"$T/stunnel-example.conf"
out=$(timeout 10 "$REDTUN" -t --print-effective "$T/stunnel-example.conf" 2>&1) ||
	fail "redtun -t $EXAMPLE (without setuid, setgid, pid) failed: $out"
for svc in redis-cli redis-cli-replica; do
	assert_contains "$out" "[$svc] verifyChain = true" "$EXAMPLE: [$svc] verified"
	assert_contains "$out" "notice: [$svc] stunnel would not verify this server" "$EXAMPLE: [$svc] notice"
done

if [ ${#FAILED[@]} -gt 0 ]; then
	fail "${#FAILED[@]} of $NCASES bad-config cases failed: ${FAILED[*]}"
fi
say "ok: $NCASES bad configurations rejected"
