#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Log forgery: names from a peer's certificate (and the client's SNI) are
# attacker-controlled bytes. redtun logs them when it refuses the peer; they
# must come out escaped (\xNN), so that no peer can start a log line of its
# own, colour or blank a terminal, or cut a line with a NUL.
#
# Client mode: four upstream TLS servers (openssl s_server) whose
# certificates carry a newline followed by a fake log line, an ESC sequence,
# a NUL byte, non-ASCII UTF-8 and an invalid UTF-8 byte:
#   usan  untrusted CA, hostile subjectAltName dNSNames (raw DER)
#   ucn   untrusted CA, no SAN, hostile CN (UTF8String)
#   wsan  trusted CA, wrong host: hostile SAN
#   wcn   trusted CA, wrong host: no SAN, hostile CN
# Server mode (mutual TLS): a client certificate of an untrusted CA with a
# hostile CN, and a hand-made ClientHello with control bytes in its SNI.
#
# With debug = 7 the log must then:
#   - have only lines that start with "YYYY-MM-DD HH:MM:SS LEVEL ",
#   - have no line starting with the forged prefix,
#   - contain the escapes \x0a \x1b \x00 (as "\x00ul-end": a name must not
#     be cut at a NUL) \xff (and \xc3\xa9 for the UTF-8,
#     unless RAW_UTF8_OK=1: then valid UTF-8 may stay raw),
#   - contain no raw ESC, NUL or 0xff byte at all.
# Every check runs; the failures are listed at the end (exit 1).
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli openssl python3 timeout ss
need_redtun
gen_certs

PY="$top_srcdir/test/mtls_matrix.py"
[ -f "$PY" ] || hard_error "missing $PY"
: "${RAW_UTF8_OK:=0}"   # 1: valid UTF-8 (é) may appear unescaped

LOG=$T/redtun.log
FAILS=()
bad() { FAILS+=("$*"); printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2; }

FORGED='2026-01-01 00:00:00 notice [svc] FORGED'
# The fake line must not be mistaken for a real one of this run.
[ "$(date +%Y-%m-%d)" != 2026-01-01 ] || skip "today is the forged date"

# ===========================================================================
step "certificates with hostile names"
cat >"$T/req.cnf" <<'EOF'
[ req ]
distinguished_name = dn
[ dn ]
EOF
# Hostile CN: a newline and a whole fake log line, ESC, UTF-8 (no NUL:
# openssl -subj cannot carry one; the SAN below has it).
HOSTILE_CN=$'h\n'"$FORGED-CN "$'\e[31m u\xc3\xa9 end'
# Hostile SAN: dNSName entries written as raw DER (IA5String bytes as given).
SAN_DER=$(python3 - "$FORGED" <<'EOF'
import sys
def tlv(tag, body):
    n = len(body)
    ln = bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else bytes([0x82, n >> 8, n & 255])
    return bytes([tag]) + ln + body
forged = sys.argv[1].encode()
# The first name has every hostile byte (NUL near its end, so that a name
# cut at the NUL shows); the others have one kind each.
names = [b"x\n" + forged + b"-SAN \x1b[31m u\xc3\xa9 \xff n\x00ul-end",
         b"e\x1b[31mred", b"n\x00ul", b"u\xc3\xa9\xe2\x9c\x93", b"b\xff\xfe"]
print(tlv(0x30, b"".join(tlv(0x82, n) for n in names)).hex())
EOF
)

# hostile NAME CA KIND(san|cn) [EKU]
hostile() {
	local name=$1 ca=$2 kind=$3 eku=${4:-serverAuth}
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-pkeyopt ec_param_enc:named_curve -out "$T/$name.key" 2>/dev/null
	openssl req -new -config "$T/req.cnf" -utf8 -key "$T/$name.key" \
		-subj "/O=redtun log forgery/CN=$HOSTILE_CN" -out "$T/$name.csr" 2>"$T/$name.err" ||
		hard_error "csr $name: $(cat "$T/$name.err")"
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature"
		echo "extendedKeyUsage=$eku"
		[ "$kind" = cn ] || echo "subjectAltName=DER:$SAN_DER"
	} >"$T/$name.ext"
	openssl x509 -req -sha256 -days 30 -in "$T/$name.csr" -CA "$T/$ca.crt" \
		-CAkey "$T/$ca.key" -set_serial "0x$(openssl rand -hex 8)" \
		-extfile "$T/$name.ext" -out "$T/$name.crt" 2>"$T/$name.err" ||
		hard_error "sign $name: $(cat "$T/$name.err")"
}
hostile usan other-ca san
hostile ucn other-ca cn
hostile wsan ca san
hostile wcn ca cn
hostile hclient other-ca cn clientAuth
openssl x509 -in "$T/usan.crt" -noout -ext subjectAltName 2>/dev/null | cat -v | sed 's/^/    /'

# ===========================================================================
step "upstream servers, a plaintext backend and redtun"
declare -A UP LOCAL
for s in usan ucn wsan wcn; do
	UP[$s]=$(free_port)
	LOCAL[$s]=$(free_port)
	start_s_server "up-$s" "${UP[$s]}" -cert "$T/$s.crt" -key "$T/$s.key"
done
BACKEND=$(free_port)
S_MTLS=$(free_port)
start_plain_redis backend "$BACKEND"
{
	conf_globals
	echo 'services = {'
	for s in usan ucn wsan wcn; do
		conf_service "$s" "${LOCAL[$s]}" "${UP[$s]}"
	done
	printf '  srvm = {\n    client = false;\n    accept = "127.0.0.1:%s";\n' "$S_MTLS"
	printf '    connect = "127.0.0.1:%s";\n    cert = "%s";\n    key = "%s";\n' \
		"$BACKEND" "$T/server.crt" "$T/server.key"
	printf '    verifyChain = true;\n    CAfile = "%s";\n  };\n' "$T/ca.crt"
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"

# ===========================================================================
step "client mode: connect through each service (all must be refused)"
for s in usan ucn wsan wcn; do
	out=$(rcli "${LOCAL[$s]}" ping 2>&1 || true)
	case $out in *PONG*) bad "$s: PING got through a hostile upstream" ;; esac
	if ! wait_until 5 grep -aq "\[$s\] .*upstream localhost:${UP[$s]}: certificate verify failed" "$LOG"; then
		bad "$s: no 'upstream localhost:${UP[$s]}: certificate verify failed' line"
	fi
done

step "server mode: client certificate with a hostile CN, and a hostile SNI"
cat >"$T/plan.tsv" <<EOF
ctx	hcli	tls13	$T/hclient.crt	$T/hclient.key
probe	hostile-cn	hcli	$S_MTLS	probe-hostile-cn
EOF
timeout 60 python3 "$PY" resume --plan "$T/plan.tsv" --server-ca "$T/ca.crt" >"$T/probe.out" 2>&1 ||
	hard_error "probe driver failed: $(cat "$T/probe.out")"
grep -q 'reply=+OK' "$T/probe.out" && bad "srvm: a client of an untrusted CA got through"
CPORT=$(grep -o 'port=[0-9]*' "$T/probe.out" | head -n 1 | cut -d= -f2)
wait_until 5 grep -aq "\[srvm\] 127\.0\.0\.1:$CPORT: client certificate verify failed" "$LOG" ||
	bad "srvm: no 'client certificate verify failed' line for 127.0.0.1:$CPORT"
SNI_HEX=$(printf 's\n%s-SNI\033[31m' "$FORGED" | od -An -tx1 | tr -d ' \n')00
SPORT=$(timeout 20 python3 "$PY" hello --port "$S_MTLS" --sni-hex "$SNI_HEX" 2>"$T/hello.err" | head -n 1) ||
	true
[ -n "$SPORT" ] || bad "the hand-made ClientHello could not be sent: $(cat "$T/hello.err")"
wait_until 5 grep -aq "\[srvm\] 127\.0\.0\.1:$SPORT: closed" "$LOG" ||
	say "note: no closed line for the SNI probe (127.0.0.1:$SPORT)"
assert_redtun_alive "after the hostile peers"
sleep 0.3

# ===========================================================================
step "the log"
say "lines that mention the hostile names (cat -v):"
grep -an 'FORGED\|verify failed' "$LOG" | cat -v | sed 's/^/    /' || true

TS_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} (emerg|alert|crit|err|warning|notice|info|debug) '
n=$(grep -avcE "$TS_RE" "$LOG" || true)
[ "$n" = 0 ] || bad "$n log line(s) do not start with a timestamp and a level: $(grep -avE "$TS_RE" "$LOG" | head -n 5 | cat -v | tr '\n' '|')"
FORGED_RE="^$(re_quote "$FORGED")"
n=$(grep -acE "$FORGED_RE" "$LOG" || true)
[ "$n" = 0 ] || bad "$n log line(s) start with the forged prefix: $(grep -aE "$FORGED_RE" "$LOG" | head -n 3 | cat -v | tr '\n' '|')"

# Wherever the forged text shows, it follows an escaped newline.
n=$(grep -a 'FORGED' "$LOG" | grep -cvF "\\x0a$FORGED" || true)
[ "$n" = 0 ] || bad "$n log line(s) show the forged text without the escaped newline before it: $(grep -a 'FORGED' "$LOG" | grep -vF "\\x0a$FORGED" | head -n 3 | cat -v | tr '\n' '|')"

count_bytes() { # OCTAL: raw occurrences of that byte in the log
	tr -dc "\\$1" <"$LOG" | wc -c
}
for b in "033:ESC" "000:NUL" "377:0xff" "376:0xfe"; do
	n=$(count_bytes "${b%%:*}")
	[ "$n" -eq 0 ] || bad "the log contains $n raw ${b#*:} byte(s)"
done
if [ "$RAW_UTF8_OK" != 1 ]; then
	n=$(LC_ALL=C tr -dc '\200-\377' <"$LOG" | wc -c)
	[ "$n" -eq 0 ] || bad "the log contains $n raw non-ASCII byte(s) (RAW_UTF8_OK=1 allows valid UTF-8)"
fi

has_esc() { grep -aqF -- "$1" "$LOG"; }
for e in '\x0a' '\x1b' '\x00ul-end' '\xff'; do
	has_esc "$e" || bad "the log lacks the escape $e"
done
[ "$RAW_UTF8_OK" = 1 ] || has_esc '\xc3\xa9' || bad 'the log lacks the escape \xc3\xa9 (é)'

# Each path logs the name, escaped: the refusal line itself contains "\x0a"
# followed by the forged text. wcn (no SAN, wrong host) need not name the
# CN, which is not used for the host check; if it does, escaped.
ESCAPED_RE="$(re_quote '\x0a')$(re_quote "$FORGED")"
for s in usan ucn wsan wcn; do
	line=$(grep -a "\[$s\] .*upstream localhost:${UP[$s]}: certificate verify failed" "$LOG" | head -n 1)
	if [ "$s" = wcn ] && ! printf '%s\n' "$line" | grep -q 'FORGED'; then
		say "wcn: the refusal line does not name the CN (allowed)"
		continue
	fi
	printf '%s\n' "$line" | grep -qE "$ESCAPED_RE" ||
		bad "$s: the refusal line does not carry the escaped name: $(printf '%s' "$line" | cat -v)"
done
line=$(grep -a "\[srvm\] 127\.0\.0\.1:$CPORT: client certificate verify failed" "$LOG" | head -n 1)
printf '%s\n' "$line" | grep -qE "$ESCAPED_RE" ||
	bad "srvm: the client certificate refusal line does not carry the escaped CN: $(printf '%s' "$line" | cat -v)"

# ===========================================================================
if [ "${#FAILS[@]}" -gt 0 ]; then
	printf '\n%s: %d failure(s):\n' "$TEST_NAME" "${#FAILS[@]}" >&2
	printf '  - %s\n' "${FAILS[@]}" >&2
	exit 1
fi
say "PASS"
