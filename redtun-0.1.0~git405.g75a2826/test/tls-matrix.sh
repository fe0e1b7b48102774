#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Differential test of server-certificate verification (client mode) against
# OpenSSL: ~90 upstream certificates (wildcards, IP names, EKU, key usage,
# weak keys and digests, EdDSA, name constraints, validity, chain shapes,
# NUL bytes in names), all made here with the openssl CLI. For each case
# test/tls_matrix.py asks the oracle (Python's ssl = OpenSSL 3 with its
# default security level and hostname checks) and redtun (one client service
# per case in one daemon, PING through it) and compares. A case fails when
# redtun's verdict differs from OpenSSL's (unless the case table documents
# why redtun is right) or when a refusal's log line does not give the
# expected reason (the REASONS table in tls_matrix.py).
#
# Runs in a private mount + network namespace (unshare -mn) with a generated
# /etc/hosts bind-mounted over the real one; the real hosts file and trust
# store are never touched. Skips when namespaces are not available.
#
# The table goes to stdout, $T/matrix.md and $top_builddir/build/tls-matrix.md.
# TLS_MATRIX_ONLY=ERE runs only the cases whose name matches (for debugging).
set -eu

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/netns.sh"
netns_reexec tls-matrix "$@"

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd openssl python3 ip mount ss timeout
need_redtun
MATRIX_PY=$top_srcdir/test/tls_matrix.py
[ -f "$MATRIX_PY" ] || hard_error "missing $MATRIX_PY"

step "private network: loopback up"
ip link set lo up || hard_error "cannot bring lo up in the network namespace"
if ! ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128'; then
	ip -6 addr add ::1/128 dev lo 2>/dev/null || true
fi
ip -4 addr show dev lo | grep -q '127\.0\.0\.1' || hard_error "no 127.0.0.1 on lo"

step "certificates and cases"
# Chains longer than the linked wolfSSL keeps are expected to be refused.
TLS_MATRIX_LIB_DEPTH=$("$REDTUN" -V | sed -n 's/.*longest chain: \([0-9]*\) certificates.*/\1/p')
[ -n "$TLS_MATRIX_LIB_DEPTH" ] || hard_error "redtun -V does not say the longest chain"
export TLS_MATRIX_LIB_DEPTH
timeout 120 python3 "$MATRIX_PY" gen "$T/pki" >"$T/services.txt" 2>"$T/gen.log" || {
	cat "$T/gen.log" >&2
	hard_error "tls_matrix.py gen failed"
}
cat "$T/gen.log"
[ -s "$T/services.txt" ] || hard_error "no cases generated"

step "private /etc/hosts"
[ -f /etc/hosts ] || hard_error "/etc/hosts is missing: nothing to bind-mount over"
mount --bind "$T/pki/hosts" /etc/hosts || hard_error "cannot bind-mount the hosts file"
grep -q 'a\.b\.example\.test' /etc/hosts || hard_error "the private /etc/hosts is not in effect"

step "redtun: one client service per case"
# The global CAfile of conf_globals; every service sets its own.
cp "$T/pki/root.crt" "$T/ca.crt"
# Three ports per service. In this private network namespace only this test
# listens, so one look at the used ports does (free_port for each of ~300
# ports would take half a minute).
declare -A used=()
for p in $(ss -tanH | awk '{print $4}' | sed 's/.*[:.]//'); do used[$p]=1; done
next=$(free_port)
next_port() {
	local i
	for ((i = 0; i < 1000; i++)); do
		next=$((next >= 32700 ? 20000 : next + 1))
		[ -z "${used[$next]:-}" ] && { used[$next]=1; echo "$next" >>"$_PORTS_FILE"; return 0; }
	done
	hard_error "no free ports left"
}
: >"$T/ports.txt"
while read -r svc _; do
	next_port; po=$next
	next_port; pu=$next
	next_port; pa=$next
	echo "$svc $po $pu $pa" >>"$T/ports.txt"
done <"$T/services.txt"

# write_conf: the config of every service not in $T/config-refused.txt.
write_conf() {
	local svc po pu pa host cafile connect
	conf_globals
	echo 'services = {'
	while read -r svc po pu pa <&3 && read -r _ host cafile <&4; do
		grep -q "^$svc " "$T/config-refused.txt" && continue
		case $host in
		*:*) connect="[$host]:$pu" ;;
		*) connect="$host:$pu" ;;
		esac
		printf '  # case %s\n  %s = {\n    client = true;\n' "$svc" "$svc"
		printf '    accept = "127.0.0.1:%s";\n    connect = "%s";\n' "$pa" "$connect"
		printf '    CAfile = "%s";\n  };\n' "$cafile"
	done 3<"$T/ports.txt" 4<"$T/services.txt"
	echo '};'
}

# A CAfile (or anything else of a case) that redtun refuses to load is that
# case's verdict: "refuse" at startup. Take such services out one by one
# (redtun -t names the line) and record why.
: >"$T/config-refused.txt"
for ((try = 0; try < 30; try++)); do
	write_conf >"$T/redtun.conf"
	rc=0
	timeout 20 "$REDTUN" -t "$T/redtun.conf" >"$T/conftest.out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || break
	line=$(sed -n 's|^redtun: [^:]*redtun\.conf:\([0-9][0-9]*\): .*|\1|p' "$T/conftest.out" | head -n 1)
	svc=
	[ -n "$line" ] && svc=$(head -n "$line" "$T/redtun.conf" | sed -n 's/^  # case //p' | tail -n 1)
	if [ -z "$svc" ]; then
		cat "$T/conftest.out" >&2
		hard_error "redtun -t rejects the generated config (status $rc), not in a case"
	fi
	say "redtun refuses the config of $svc: $(head -n 1 "$T/conftest.out")"
	echo "$svc $(head -n 1 "$T/conftest.out" | sed 's/^redtun: [^ ]*: //')" >>"$T/config-refused.txt"
done
[ "$rc" -eq 0 ] || hard_error "redtun -t still fails after taking out $try services"
start_redtun "$T/redtun.conf"

step "oracle vs redtun"
rc=0
timeout 150 python3 "$MATRIX_PY" run "$T/pki" "$T/ports.txt" "$T/redtun.log" \
	"$T/matrix.md" "$T/config-refused.txt" || rc=$?

if [ -s "$T/matrix.md" ]; then
	out=${top_builddir}/build
	if mkdir -p "$out" 2>/dev/null && cp "$T/matrix.md" "$out/tls-matrix.md" 2>/dev/null; then
		say "table written to $out/tls-matrix.md"
	fi
fi
if [ -s "$T/pki/counts" ]; then
	read -r n_cases n_fail n_agree <"$T/pki/counts"
	figure tls_matrix_cases "$n_cases"
	figure tls_matrix_agree_with_openssl "$n_agree"
	figure tls_matrix_failing "$n_fail"
fi

case $rc in
0) ;;
1) fail "redtun's verdicts differ from the expected ones (table above)" ;;
124) hard_error "tls_matrix.py run timed out" ;;
*) hard_error "tls_matrix.py run could not carry out the test (status $rc)" ;;
esac
assert_redtun_alive "after all cases"
say "ok"
