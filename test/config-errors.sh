#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Bad configurations are rejected with exit 1 and one line
#   redtun: FILE:LINE: SETTING: PROBLEM
# naming the right line and setting; nothing is started (no pidfile).
# A good configuration passes -t with "configuration OK".
#
# In the configs below, the line(s) where the error may be reported carry a
# "#ERR" comment; "#ERR+" also accepts the following line (libconfig reports
# errors at end of file on the line after the last one).
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd timeout ss
need_redtun
gen_certs

L1=$(free_port)
L2=$(free_port)
UP=$(free_port) # never started: -t must not connect anywhere
PIDFILE=$T/redtun.pid
NCASES=0

# expected_lines FILE: "3|7" from the #ERR markers.
expected_lines() {
	awk '/#ERR\+/ { printf "%s%d|%d", sep, NR, NR + 1; sep = "|"; next }
	     /#ERR/   { printf "%s%d", sep, NR; sep = "|" }' "$1"
}

# bad NAME SETTING_ERE [MESSAGE_SUBSTRING] < config
# Every case runs even if an earlier one failed; failures are summed up at the
# end (each case runs in a subshell, so fail() ends only that case).
FAILED=()
bad() {
	local name=$1
	cat >"$T/$name.conf"
	NCASES=$((NCASES + 1))
	if ( check_bad "$@" ); then :; else FAILED+=("$name"); fi
}

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

step "bad configurations"

bad unknown-service-setting bogus <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    bogus = 1;  #ERR
    connect = "localhost:$UP";
  };
};
EOF

bad sni-ip sni "is an IP address; SNI carries host names only" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    sni = "127.0.0.1";  #ERR
  };
};
EOF

bad checkhost-ip checkHost "is an IP address; use checkIP" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    checkHost = "::1";  #ERR
  };
};
EOF

bad checkip-name checkIP "is not an IPv4 or IPv6 address" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    checkIP = "localhost";  #ERR
  };
};
EOF

bad checkip-and-host checkIP "set only one of checkHost and checkIP" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    checkHost = "localhost";
    checkIP = "127.0.0.1";  #ERR
  };
};
EOF

bad unknown-global frobnicate <<EOF
$G
frobnicate = true;  #ERR
services = {
  primary = { client = true; accept = "127.0.0.1:$L1"; connect = "localhost:$UP"; };
};
EOF

bad global-in-service pid "global" <<EOF
$G
services = {
  primary = {
    client = true;
    pid = "$T/other.pid";  #ERR
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
  };
};
EOF

bad client-string client <<EOF
$G
services = {
  primary = {
    client = "yes";  #ERR
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
  };
};
EOF

bad timeout-string TIMEOUTconnect <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    TIMEOUTconnect = "ten";  #ERR
  };
};
EOF

bad accept-no-port accept <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "localhost";  #ERR
    connect = "localhost:$UP";
  };
};
EOF

bad accept-bad-port accept "70000" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:70000";  #ERR
    connect = "localhost:$UP";
  };
};
EOF

# Reported at the service (group) line.
bad connect-missing connect "missing" <<EOF
$G
services = {
  primary = {  #ERR
    client = true;
    accept = "127.0.0.1:$L1";
  };
};
EOF

bad connect-nocolon connect 'expected "host:port", got "nocolon"' <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "nocolon";  #ERR
  };
};
EOF

bad failover-random failover "random" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = ( "localhost:$UP", "localhost:$L2" );
    failover = "random";  #ERR
  };
};
EOF

bad version-min-tls11 sslVersionMin "TLSv1.1" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    sslVersionMin = "TLSv1.1";  #ERR
  };
};
EOF

bad version-max-sslv3 sslVersionMax "SSLv3" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    sslVersionMax = "SSLv3";  #ERR
  };
};
EOF

bad version-min-above-max 'sslVersionM(in|ax)' <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    sslVersionMin = "TLSv1.3";  #ERR
    sslVersionMax = "TLSv1.2";  #ERR
  };
};
EOF

bad fips-true fips <<EOF
$G
fips = true;  #ERR
services = {
  primary = { client = true; accept = "127.0.0.1:$L1"; connect = "localhost:$UP"; };
};
EOF

bad server-no-cert cert "required in server mode" <<EOF
$G
services = {
  primary = {  #ERR
    client = false;
    accept = "127.0.0.1:$L1";
    connect = "127.0.0.1:$UP";
  };
};
EOF

bad server-key-mismatch key "does not match the certificate" <<EOF
$G
services = {
  primary = {
    client = false;
    accept = "127.0.0.1:$L1";
    connect = "127.0.0.1:$UP";
    cert = "$T/server.crt";
    key = "$T/wronghost.key";  #ERR
  };
};
EOF

bad server-cert-not-pem cert "cannot load certificate" <<EOF
$G
services = {
  primary = {
    client = false;
    accept = "127.0.0.1:$L1";
    connect = "127.0.0.1:$UP";
    cert = "$T/server.key";  #ERR
    key = "$T/server.key";
  };
};
EOF

bad encryption-client-mode encryption "only to server mode" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    encryption = "preferred";  #ERR
  };
};
EOF

bad encryption-bad encryption '"sometimes"' <<EOF
$G
services = {
  primary = {
    client = false;
    accept = "127.0.0.1:$L1";
    connect = "127.0.0.1:$UP";
    cert = "$T/server.crt";
    key = "$T/server.key";
    encryption = "sometimes";  #ERR
  };
};
EOF

bad verify-peer verifyPeer "not supported" <<EOF
$G
services = {
  primary = {
    client = false;
    accept = "127.0.0.1:$L1";
    connect = "127.0.0.1:$UP";
    cert = "$T/server.crt";
    key = "$T/server.key";
    verifyPeer = true;  #ERR
  };
};
EOF

bad cipher-adh ciphers "ADH-AES128-SHA" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    ciphers = "ADH-AES128-SHA";  #ERR
  };
};
EOF

bad debug-9 debug <<EOF
pid = "$PIDFILE";
output = "$T/redtun.log";
debug = 9;  #ERR
CAfile = "$T/ca.crt";
services = {
  primary = { client = true; accept = "127.0.0.1:$L1"; connect = "localhost:$UP"; };
};
EOF

bad debug-loud debug "loud" <<EOF
pid = "$PIDFILE";
output = "$T/redtun.log";
debug = "loud";  #ERR
CAfile = "$T/ca.crt";
services = {
  primary = { client = true; accept = "127.0.0.1:$L1"; connect = "localhost:$UP"; };
};
EOF

bad cafile-missing CAfile "$T/no-such-ca.crt" <<EOF
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
EOF

bad cert-missing cert "$T/no-such.crt" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    cert = "$T/no-such.crt";  #ERR
    key = "$T/client.key";
  };
};
EOF

bad cert-without-key '(cert|key)' <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
    cert = "$T/client.crt";  #ERR
  };
};
EOF

bad options-bogus options "NO_BOGUS" <<EOF
$G
options = [ "NO_SSLv2", "NO_BOGUS" ];  #ERR
services = {
  primary = { client = true; accept = "127.0.0.1:$L1"; connect = "localhost:$UP"; };
};
EOF

# No services at all: there is no line to point at; any line will do.
printf '%s\n' "$G" >"$T/services-missing.conf"
rc=0
timeout 10 "$REDTUN" -t "$T/services-missing.conf" >/dev/null 2>"$T/services-missing.err" || rc=$?
assert_eq 1 "$rc" "services-missing: exit status"
assert_file_match "$T/services-missing.err" \
	"^redtun: $(re_quote "$T/services-missing.conf"):[0-9]+: services: " "services-missing: message"
NCASES=$((NCASES + 1))

bad duplicate-accept accept "$L1" <<EOF
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
EOF

bad syntax-missing-equals "syntax error" <<EOF
$G
services = {
  primary = {
    client = true;
    accept "127.0.0.1:$L1";  #ERR
    connect = "localhost:$UP";
  };
};
EOF

bad syntax-missing-brace "syntax error" <<EOF
$G
services = {
  primary = {
    client = true;
    accept = "127.0.0.1:$L1";
    connect = "localhost:$UP";
  };  #ERR+
EOF

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

if [ ${#FAILED[@]} -gt 0 ]; then
	fail "${#FAILED[@]} of $NCASES bad-config cases failed: ${FAILED[*]}"
fi
say "ok: $NCASES bad configurations rejected"
