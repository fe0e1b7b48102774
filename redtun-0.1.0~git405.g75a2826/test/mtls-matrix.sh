#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Server mode, mutual TLS: which client certificates redtun accepts,
# differential against OpenSSL as the oracle, and session resumption that
# must never widen trust.
#
#  1. Matrix: ~20 client-certificate cases, generated here with the openssl
#     CLI. Each case's chain goes to (a) an OpenSSL server (python ssl,
#     CERT_REQUIRED, default security level 2, the clientAuth purpose) and
#     (b) redtun's mTLS service in front of a plaintext redis-server; a case
#     is accepted when PING gets +PONG. redtun must agree with OpenSSL
#     unless the case table below says otherwise (with the reason). Every
#     refusal must be logged with the reason ERE of the table. The result
#     is a markdown table: $T/mtls-matrix.md and build/mtls-matrix.md.
#  1b. Session resumption (TLS 1.2 session IDs, TLS 1.2 and 1.3 tickets):
#     a session of a service without client certificates offered to the
#     mTLS service, and a session made before the mTLS CAfile was replaced,
#     must not get a client to Redis (checked with MONITOR on the backend).
#
# Every check runs; the failures are listed at the end (exit 1).
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli openssl python3 timeout ss
need_redtun
gen_certs   # $T/ca.crt, $T/server.crt: the redtun/oracle server identity

PY="$top_srcdir/test/mtls_matrix.py"
[ -f "$PY" ] || hard_error "missing $PY"
python3 -c 'import ssl, sys; sys.exit(0 if ssl.OPENSSL_VERSION_INFO >= (1, 1, 1) else 1)' ||
	skip "python3's ssl module is older than OpenSSL 1.1.1"

LOG=$T/redtun.log
PKI=$T/pki
FAILS=()
bad() { FAILS+=("$*"); printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2; }

# ===========================================================================
# The cases. Columns (" | "-separated, spaces around fields trimmed; the
# last column is an ERE and may itself contain "|"):
#   name      the case (the certificate files are $PKI/NAME.chain, NAME.key)
#   intended  what OpenSSL must say; a difference means the PKI below is
#             wrong (the test then stops with a hard error)
#   redtun    "=" : must agree with OpenSSL; accept/refuse: redtun is
#             expected to differ from OpenSSL (then "why" says why);
#             either: not checked (only set for ed25519, see below)
#   why       a description, and the reason for a redtun override
#   log       ERE that redtun's refusal line (after "PEER: ") must match;
#             "-" : the generic "client (certificate verify failed|TLS
#             handshake failed)".  The lead may adjust these as redtun's
#             messages change; today's wording is in build/mtls-matrix.md.
CASES=$(cat <<'EOF'
good               | accept | =      | EC P-256 leaf, EKU clientAuth | -
no-eku             | accept | =      | leaf without extendedKeyUsage | -
eku-serverauth     | refuse | =      | leaf EKU serverAuth only | certificate verify failed: .*([Ee]xt(ended)? [Kk]ey [Uu]s|purpose)
int-plain          | accept | =      | root > intermediate > leaf (control for missing-int) | -
int-eku-clientauth | accept | =      | intermediate with EKU clientAuth | -
int-eku-serverauth | refuse | =      | intermediate EKU serverAuth only, leaf clientAuth | certificate verify failed: .*([Ee]xt(ended)? [Kk]ey [Uu]s|purpose)
rsa-1024           | refuse | =      | RSA-1024 leaf (security level 2) | client (certificate verify failed|TLS handshake failed): .*(RSA|key).*(small|short|weak|below)
rsa-2048           | accept | =      | RSA-2048 leaf | -
sha1-leaf          | refuse | =      | ECDSA-SHA1 signature on the leaf | certificate verify failed: .*(SHA-?1|digest|weak)
expired            | refuse | =      | 2020-01-01..2021-01-01 | certificate verify failed: .*has expired
not-yet-valid      | refuse | =      | 2040-01-01..2050-01-01 | certificate verify failed: .*is not yet valid
expired-int        | refuse | =      | intermediate 2020..2021, leaf valid | certificate verify failed: .*(intermediate.* has expired|has expired.*intermediate)
nc-evil            | refuse | =      | CA permitted;DNS:good.test, leaf DNS:evil.test | certificate verify failed: .*[Nn]ame [Cc]onstraint
nc-good            | accept | =      | CA permitted;DNS:good.test, leaf DNS:x.good.test | -
nc-grandchild-evil | refuse | =      | NC CA > unconstrained sub-CA CN=ca.good.test > DNS:evil.test | certificate verify failed: .*[Nn]ame [Cc]onstraint
int-ca-false       | refuse | =      | "intermediate" with CA:FALSE | certificate verify failed: .*(not a CA|CA:FALSE|not signed by a trusted CA)
pathlen0-violated  | refuse | =      | root > int(pathlen:0) > int > leaf | certificate verify failed: .*(path ?len|not signed by a trusted CA)
untrusted-ca       | refuse | =      | leaf of another CA | certificate verify failed: .*not signed by a trusted CA
self-signed        | refuse | =      | self-signed leaf with EKU clientAuth | certificate verify failed: .*(self-signed|not signed by a trusted CA)
missing-int        | refuse | =      | leaf of an intermediate that no client ever sent, sent without it | certificate verify failed: .*not signed by a trusted CA
missing-int-seen   | refuse | =      | leaf of the intermediate of int-plain (which sent it earlier), sent without it | certificate verify failed: .*not signed by a trusted CA
ed25519            | accept | =      | Ed25519 leaf | -
ku-keyagreement    | accept | refuse | redtun is right: EC leaf with keyUsage keyAgreement only cannot sign CertificateVerify (TLS 1.3); OpenSSL's sslclient purpose allows keyAgreement | client (certificate verify failed|TLS handshake failed): .*([Kk]ey ?[Uu]sage|digitalSignature)
no-cert            | refuse | =      | no client certificate at all | client TLS handshake failed
EOF
)
DEFAULT_REFUSAL_ERE='client (certificate verify failed|TLS handshake failed)'

# Ed25519 must be accepted only when redtun -V says its wolfSSL has it
# (the default build has no --enable-ed25519); otherwise either is fine.
if ! "$REDTUN" -V 2>&1 | grep -qi 'ed25519'; then
	CASES=$(printf '%s\n' "$CASES" | sed -E 's/^(ed25519 +\| accept \| )= +\| Ed25519 leaf/\1either | Ed25519 leaf; redtun -V lists no Ed25519 support, so it may refuse/')
fi

# ===========================================================================
step "1. generate the client PKI (openssl $(openssl version | awk '{print $2}'))"
mkdir -p "$PKI/db"
: >"$PKI/db/index.txt"
echo 1000 >"$PKI/db/serial"
cat >"$PKI/ca.cnf" <<EOF
[ ca ]
default_ca = mca
[ mca ]
dir = $PKI/db
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[ anything ]
organizationName = optional
commonName = supplied
[ req ]
distinguished_name = dn
[ dn ]
EOF

key() { # NAME ec|rsa1024|rsa2048|ed25519
	case $2 in
	ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-pkeyopt ec_param_enc:named_curve -out "$PKI/$1.key" ;;
	rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2#rsa}" \
		-out "$PKI/$1.key" ;;
	ed25519) openssl genpkey -algorithm ED25519 -out "$PKI/$1.key" ;;
	esac 2>/dev/null || hard_error "key $1 ($2)"
}

CA_EXT='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid'
LEAF_EXT='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid'
CLIENT_EXT="$LEAF_EXT
extendedKeyUsage=clientAuth"

mkroot() { # NAME CN
	key "$1" ec
	openssl req -new -x509 -config "$PKI/ca.cnf" -sha256 -days 3650 \
		-key "$PKI/$1.key" -subj "/O=redtun mtls matrix/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" \
		-out "$PKI/$1.crt" 2>"$PKI/$1.err" || hard_error "root $1: $(cat "$PKI/$1.err")"
}

# issue NAME KEYTYPE ISSUER CN EXT [START END|- -] [MD]: a certificate
# signed with "openssl ca" (explicit validity dates in OpenSSL 3.0).
issue() {
	local name=$1 kt=$2 issuer=$3 cn=$4 ext=$5 start=${6:--} end=${7:--} md=${8:-sha256}
	local dates=(-days 3650)
	[ "$start" = - ] || dates=(-startdate "$start" -enddate "$end")
	key "$name" "$kt"
	printf '[ x ]\n%s\n' "$ext" >"$PKI/$name.ext"
	openssl req -new -config "$PKI/ca.cnf" -key "$PKI/$name.key" \
		-subj "/O=redtun mtls matrix/CN=$cn" -out "$PKI/$name.csr" 2>"$PKI/$name.err" ||
		hard_error "csr $name: $(cat "$PKI/$name.err")"
	openssl ca -batch -notext -preserveDN -config "$PKI/ca.cnf" \
		-cert "$PKI/$issuer.crt" -keyfile "$PKI/$issuer.key" -md "$md" \
		"${dates[@]}" -extfile "$PKI/$name.ext" -extensions x \
		-in "$PKI/$name.csr" -out "$PKI/$name.crt" >"$PKI/$name.err" 2>&1 ||
		hard_error "issue $name: $(cat "$PKI/$name.err")"
}

chain() { # CASE CERT... : the chain the client sends, and its key
	local c=$1 f
	shift
	for f in "$@"; do cat "$PKI/$f.crt"; done >"$PKI/$c.chain"
	[ -f "$PKI/$c.key" ] || cp "$PKI/$1.key" "$PKI/$c.key"
}

mkroot root "matrix root CA"                  # the trusted client CA
mkroot other-root "matrix other CA"           # untrusted
issue int ec root "matrix intermediate" "$CA_EXT"

issue good ec root good "$CLIENT_EXT";                 chain good good
issue no-eku ec root no-eku "$LEAF_EXT";               chain no-eku no-eku
issue eku-serverauth ec root eku-serverauth "$LEAF_EXT
extendedKeyUsage=serverAuth";                          chain eku-serverauth eku-serverauth
issue int-plain ec int int-plain "$CLIENT_EXT";        chain int-plain int-plain int
issue int-ca-ca ec root "matrix int clientAuth" "$CA_EXT
extendedKeyUsage=clientAuth"
issue int-eku-clientauth ec int-ca-ca int-eku-clientauth "$CLIENT_EXT"
chain int-eku-clientauth int-eku-clientauth int-ca-ca
issue int-sa-ca ec root "matrix int serverAuth" "$CA_EXT
extendedKeyUsage=serverAuth"
issue int-eku-serverauth ec int-sa-ca int-eku-serverauth "$CLIENT_EXT"
chain int-eku-serverauth int-eku-serverauth int-sa-ca
issue rsa-1024 rsa1024 root rsa-1024 "$CLIENT_EXT";    chain rsa-1024 rsa-1024
issue rsa-2048 rsa2048 root rsa-2048 "$CLIENT_EXT";    chain rsa-2048 rsa-2048
issue sha1-leaf ec root sha1-leaf "$CLIENT_EXT" - - sha1; chain sha1-leaf sha1-leaf
issue expired ec root expired "$CLIENT_EXT" 20200101000000Z 20210101000000Z
chain expired expired
issue not-yet-valid ec root not-yet-valid "$CLIENT_EXT" 20400101000000Z 20500101000000Z
chain not-yet-valid not-yet-valid
issue old-int ec root "matrix expired intermediate" "$CA_EXT" 20200101000000Z 20210101000000Z
issue expired-int ec old-int expired-int "$CLIENT_EXT"
chain expired-int expired-int old-int
issue nc-ca ec root "matrix constrained CA" "$CA_EXT
nameConstraints=critical,permitted;DNS:good.test"
issue nc-evil ec nc-ca nc-evil "$CLIENT_EXT
subjectAltName=DNS:evil.test";                         chain nc-evil nc-evil nc-ca
issue nc-good ec nc-ca nc-good "$CLIENT_EXT
subjectAltName=DNS:x.good.test";                       chain nc-good nc-good nc-ca
issue nc-sub ec nc-ca ca.good.test "$CA_EXT"
issue nc-grandchild-evil ec nc-sub nc-grandchild-evil "$CLIENT_EXT
subjectAltName=DNS:evil.test"
chain nc-grandchild-evil nc-grandchild-evil nc-sub nc-ca
issue false-ca ec root "matrix CA:FALSE intermediate" 'basicConstraints=critical,CA:FALSE
keyUsage=critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid'
issue int-ca-false ec false-ca int-ca-false "$CLIENT_EXT"
chain int-ca-false int-ca-false false-ca
issue pl0 ec root "matrix pathlen 0" 'basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid'
issue pl0-sub ec pl0 "matrix below pathlen 0" "$CA_EXT"
issue pathlen0-violated ec pl0-sub pathlen0-violated "$CLIENT_EXT"
chain pathlen0-violated pathlen0-violated pl0-sub pl0
issue untrusted-ca ec other-root untrusted-ca "$CLIENT_EXT"; chain untrusted-ca untrusted-ca
key self-signed ec
openssl req -new -x509 -config "$PKI/ca.cnf" -sha256 -days 3650 -key "$PKI/self-signed.key" \
	-subj "/O=redtun mtls matrix/CN=self-signed" \
	-addext "basicConstraints=critical,CA:FALSE" \
	-addext "keyUsage=critical,digitalSignature" \
	-addext "extendedKeyUsage=clientAuth" \
	-out "$PKI/self-signed.crt" 2>/dev/null || hard_error "self-signed"
chain self-signed self-signed
issue unseen-int ec root "matrix intermediate never sent" "$CA_EXT"
issue missing-int ec unseen-int missing-int "$CLIENT_EXT"; chain missing-int missing-int
issue missing-int-seen ec int missing-int-seen "$CLIENT_EXT"; chain missing-int-seen missing-int-seen
issue ed25519 ed25519 root ed25519 "$CLIENT_EXT";      chain ed25519 ed25519
issue ku-keyagreement ec root ku-keyagreement 'basicConstraints=critical,CA:FALSE
keyUsage=critical,keyAgreement
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid'
chain ku-keyagreement ku-keyagreement

# The cases file of the python driver: name, chain, key.
field() { # LINE N: the Nth " | "-separated field (N=5: the rest), trimmed
	printf '%s\n' "$1" | awk -v n="$2" '{
		for (i = 1; i < n; i++) { p = index($0, " | "); if (p == 0) { $0 = ""; break } $0 = substr($0, p + 3) }
		if (n < 5 && (p = index($0, " | ")) > 0) $0 = substr($0, 1, p - 1)
		gsub(/^[ \t]+|[ \t]+$/, ""); print }'
}
: >"$T/cases.tsv"
while IFS= read -r line; do
	name=$(field "$line" 1)
	if [ "$name" = no-cert ]; then
		printf '%s\t-\t-\n' "$name" >>"$T/cases.tsv"
	else
		[ -s "$PKI/$name.chain" ] || hard_error "no chain for case $name"
		printf '%s\t%s\t%s\n' "$name" "$PKI/$name.chain" "$PKI/$name.key" >>"$T/cases.tsv"
	fi
done <<<"$CASES"
NCASES=$(wc -l <"$T/cases.tsv")
say "$NCASES client certificate cases"

# ===========================================================================
step "start the backends and redtun (services matrix, plain, mtls)"
BK_MATRIX=$(free_port)
BK_PLAIN=$(free_port)
BK_MTLS=$(free_port)
S_MATRIX=$(free_port)
S_PLAIN=$(free_port)
S_MTLS=$(free_port)
start_plain_redis bk-matrix "$BK_MATRIX"
start_plain_redis bk-plain "$BK_PLAIN"
start_plain_redis bk-mtls "$BK_MTLS"
cp "$PKI/root.crt" "$T/mtls-ca.crt"   # replaced in step 1b-b

srv() { # NAME PORT BACKEND [EXTRA LINES...]
	local name=$1 port=$2 bk=$3 l
	shift 3
	printf '  %s = {\n    client = false;\n    accept = "127.0.0.1:%s";\n' "$name" "$port"
	printf '    connect = "127.0.0.1:%s";\n    cert = "%s";\n    key = "%s";\n' \
		"$bk" "$T/server.crt" "$T/server.key"
	for l in "$@"; do printf '    %s\n' "$l"; done
	printf '  };\n'
}
{
	conf_globals
	echo 'services = {'
	srv matrix "$S_MATRIX" "$BK_MATRIX" 'verifyChain = true;' "CAfile = \"$PKI/root.crt\";"
	srv plain "$S_PLAIN" "$BK_PLAIN" 'verifyChain = false;'
	srv mtls "$S_MTLS" "$BK_MTLS" 'verifyChain = true;' "CAfile = \"$T/mtls-ca.crt\";"
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
wait_for_port "$S_MATRIX" 5

# Lines of redtun's log about the connection from local port PORT.
peer_lines() { grep -aF "] 127.0.0.1:$1: " "$LOG" || true; }
peer_closed() { grep -aqF "] 127.0.0.1:$1: closed:" "$LOG"; }

# ===========================================================================
step "1. the matrix: OpenSSL oracle vs redtun"
timeout 300 python3 "$PY" matrix --cases "$T/cases.tsv" --server-ca "$T/ca.crt" \
	--oracle-cert "$T/server.crt" --oracle-key "$T/server.key" \
	--client-ca "$PKI/root.crt" --redtun-port "$S_MATRIX" \
	>"$T/matrix.tsv" 2>"$T/matrix.err" || {
	cat "$T/matrix.err" >&2
	hard_error "the matrix driver failed"
}
[ "$(wc -l <"$T/matrix.tsv")" -eq "$NCASES" ] || {
	cat "$T/matrix.err" >&2
	hard_error "the matrix driver reported $(wc -l <"$T/matrix.tsv") of $NCASES cases"
}

MD=$T/mtls-matrix.md
{
	echo "# redtun mTLS client-certificate matrix"
	echo
	echo "OpenSSL oracle: $(python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)'), security level 2, purpose sslclient."
	echo "redtun: $("$REDTUN" -V 2>&1 | tr '\n' ' ')"
	echo
	echo "| case | OpenSSL | redtun | expected | ok | note |"
	echo "|---|---|---|---|---|---|"
} >"$MD"
nbad=0
while IFS=$'\t' read -r name ov od rv rd rport; do
	line=$(printf '%s\n' "$CASES" | grep -E "^$name +\|")
	intended=$(field "$line" 2)
	override=$(field "$line" 3)
	why=$(field "$line" 4)
	ere=$(field "$line" 5)
	[ "$ere" = - ] && ere=$DEFAULT_REFUSAL_ERE
	if [ "$ov" != "$intended" ]; then
		cat "$MD" >&2
		hard_error "PKI problem: OpenSSL says $ov for $name ($od), the case wants $intended"
	fi
	expected=$ov
	[ "$override" = = ] || expected=$override
	ok=yes
	note=$why
	[ "$override" = = ] || note="override: $why"
	[ "$ov" = accept ] || note="$note; OpenSSL: $od"
	# redtun's log of this connection
	if [ "$rport" -gt 0 ]; then wait_until 5 peer_closed "$rport" || true; fi
	plines=$(peer_lines "$rport")
	if [ "$expected" != either ] && [ "$rv" != "$expected" ]; then
		ok=NO
		bad "matrix $name: redtun ${rv}s, expected $expected (OpenSSL: $ov${od:+, $od}; client saw: $rd); redtun log: $(printf '%s' "$plines" | grep -v ': closed:' | sed 's/^[0-9-]* [0-9:]* //' | tr '\n' ' ')"
	elif [ "$rv" = refuse ]; then
		if ! printf '%s\n' "$plines" | grep -Eq -- "] 127\.0\.0\.1:$rport: .*($ere)"; then
			ok=NO
			bad "matrix $name: refused, but no log line matches /$ere/; lines: $(printf '%s' "$plines" | tr '\n' ' ')"
			note="$note; log reason mismatch"
		fi
		if printf '%s\n' "$plines" | grep -q 'certificate verified'; then
			ok=NO
			bad "matrix $name: refused but logged 'certificate verified'"
		fi
	else
		if ! printf '%s\n' "$plines" | grep -q 'TLS handshake done: .*client certificate verified'; then
			ok=NO
			bad "matrix $name: accepted without a 'client certificate verified' line"
		fi
	fi
	reason=$(printf '%s\n' "$plines" | grep -Eo 'client (certificate verify failed|TLS handshake failed)[^|]*' | head -n 1 | cut -c1-120)
	[ "$ok" = yes ] || nbad=$((nbad + 1))
	printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$ov" "$rv" "$expected" "$ok" \
		"$(printf '%s%s' "$note" "${reason:+; redtun: $reason}" | sed 's/|/\\|/g')" >>"$MD"
done <"$T/matrix.tsv"
echo >>"$MD"
echo "$((NCASES - nbad)) of $NCASES cases as expected." >>"$MD"
cat "$MD"
if mkdir -p "$top_builddir/build" 2>/dev/null && [ -w "$top_builddir/build" ]; then
	cp "$MD" "$top_builddir/build/mtls-matrix.md" && say "table written to $top_builddir/build/mtls-matrix.md"
fi
assert_redtun_alive "after the matrix"

# ===========================================================================
step "1b. session resumption must never widen trust"
monitor() { # NAME PORT: record every command that reaches the backend
	spawn "$T/monitor-$1.out" timeout 600 redis-cli -h 127.0.0.1 -p "$2" MONITOR
	wait_until 5 grep -q '^OK' "$T/monitor-$1.out" || hard_error "MONITOR on $1 did not start"
}
monitor plain "$BK_PLAIN"
monitor mtls "$BK_MTLS"

# The reload of step b: another CA's certificate in the mTLS CAfile.
cat >"$T/reload.sh" <<EOF
#!/bin/bash
n=\$(grep -c 'configuration reloaded' "$LOG" || true)
cp "$PKI/other-root.crt" "$T/mtls-ca.crt"
kill -HUP $RT_PID
for ((i = 0; i < 100; i++)); do
	[ "\$(grep -c 'configuration reloaded' "$LOG" || true)" -gt "\$n" ] && exit 0
	sleep 0.1
done
echo "reload not logged" >&2
exit 1
EOF
chmod +x "$T/reload.sh"

G=$PKI/good
# The tab separated plan of the python driver (see test/mtls_matrix.py).
plan() { local IFS=$'\t'; printf '%s\n' "$*" >>"$T/plan.tsv"; }
: >"$T/plan.tsv"
plan ctx nocert12 tls12                 # session IDs only (OP_NO_TICKET)
plan ctx nocert12t tls12-ticket
plan ctx nocert13 tls13
plan ctx cert12 tls12 "$G.chain" "$G.key"
plan ctx cert13 tls13 "$G.chain" "$G.key"
plan probe a-seed nocert12 "$S_PLAIN" probe-a-seed save=a
plan probe a-control nocert12 "$S_PLAIN" probe-a-control use=a
plan probe a-cross nocert12 "$S_MTLS" probe-a-cross use=a
plan probe c12-seed nocert12t "$S_PLAIN" probe-c12-seed save=c12
plan probe c12-cross nocert12t "$S_MTLS" probe-c12-cross use=c12
plan probe c13-seed nocert13 "$S_PLAIN" probe-c13-seed save=c13
plan probe c13-cross nocert13 "$S_MTLS" probe-c13-cross use=c13
plan probe d12-full cert12 "$S_MTLS" probe-d12-full save=d12
plan probe d12-resume cert12 "$S_MTLS" probe-d12-resume use=d12
plan probe d13-full cert13 "$S_MTLS" probe-d13-full save=d13
plan probe d13-resume cert13 "$S_MTLS" probe-d13-resume use=d13
plan probe b-seed cert12 "$S_MTLS" probe-b-seed save=b
plan run "$T/reload.sh"
plan probe b-resume cert12 "$S_MTLS" probe-b-resume use=b
plan probe b-full cert12 "$S_MTLS" probe-b-full
timeout 300 python3 "$PY" resume --plan "$T/plan.tsv" --server-ca "$T/ca.crt" \
	>"$T/resume.out" 2>"$T/resume.err" || {
	cat "$T/resume.out" "$T/resume.err" >&2
	hard_error "the resumption driver failed"
}
sed 's/^/    /' "$T/resume.out"

# Let both MONITORs catch up: a sentinel written straight to each backend.
rcli "$BK_PLAIN" set sentinel-1b 1 >/dev/null
rcli "$BK_MTLS" set sentinel-1b 1 >/dev/null
wait_until 5 grep -q sentinel-1b "$T/monitor-plain.out" || hard_error "MONITOR plain lags"
wait_until 5 grep -q sentinel-1b "$T/monitor-mtls.out" || hard_error "MONITOR mtls lags"

res() { # LABEL FIELD: a field of a probe's result line
	awk -F'\t' -v l="$1" -v f="$2=" '$1 == "probe" && $2 == l {
		for (i = 3; i <= NF; i++) if (index($i, f) == 1) print substr($i, length(f) + 1) }' "$T/resume.out"
}
reached() { # LABEL: did probe-LABEL reach a redis (MONITOR or a GET)?
	grep -q "\"probe-$1\"" "$T/monitor-plain.out" "$T/monitor-mtls.out" && return 0
	[ -n "$(rcli "$BK_MTLS" get "probe-$1")" ] && return 0
	[ -n "$(rcli "$BK_PLAIN" get "probe-$1")" ]
}
# must_refuse LABEL WHAT: the probe must not get through, not resume, and
# redtun must not call it verified.
must_refuse() {
	local l=$1 what=$2 port lines
	port=$(res "$l" port)
	if [ -n "$port" ] && [ "$port" != 0 ]; then wait_until 5 peer_closed "$port" || true; fi
	lines=$(peer_lines "$port")
	if [ "$(res "$l" reply)" = "+OK" ]; then
		bad "1b $l ($what): SET answered +OK through mtls (reused=$(res "$l" reused))"
	fi
	if reached "$l"; then
		bad "1b $l ($what): probe-$l reached Redis: $(grep -h "probe-$l" "$T"/monitor-*.out | head -n 1)"
	fi
	if [ "$(res "$l" reused)" = 1 ]; then
		bad "1b $l ($what): the session was resumed"
	fi
	if printf '%s\n' "$lines" | grep -q 'certificate verified'; then
		bad "1b $l ($what): redtun logged: $(printf '%s\n' "$lines" | grep 'certificate verified' | head -n 1)"
	fi
	if ! printf '%s\n' "$lines" | grep -Eq "$DEFAULT_REFUSAL_ERE"; then
		bad "1b $l ($what): no refusal line in redtun's log for 127.0.0.1:$port; lines: $(printf '%s' "$lines" | tr '\n' ' ')"
	fi
	say "1b $l: reused=$(res "$l" reused) reply=$(res "$l" reply) err=$(res "$l" err)"
}
must_pass() { # LABEL WHAT
	local l=$1
	if [ "$(res "$l" reply)" != "+OK" ]; then
		bad "1b $l ($2): expected +OK, got '$(res "$l" reply)' $(res "$l" err)"
	elif ! grep -q "\"probe-$l\"" "$T/monitor-plain.out" "$T/monitor-mtls.out"; then
		bad "1b $l ($2): +OK but probe-$l is not in MONITOR"
	fi
}
# A resumed session on mtls: its log line says "resumed", never "verified".
resumed_log_ok() { # LABEL
	local l=$1 port lines
	[ "$(res "$l" reused)" = 1 ] || { say "1b $l: not resumed (reused=$(res "$l" reused)); log check n/a"; return 0; }
	port=$(res "$l" port)
	wait_until 5 peer_closed "$port" || true
	lines=$(peer_lines "$port" | grep 'TLS handshake done' || true)
	printf '%s\n' "$lines" | grep -q 'resumed' ||
		bad "1b $l: resumed session, but the handshake line does not say 'resumed': $lines"
	if printf '%s\n' "$lines" | grep -q 'verified'; then
		bad "1b $l: resumed session logged as 'verified': $lines"
	fi
}

step "1b-a. TLS 1.2 session ID of 'plain' offered to 'mtls'"
must_pass a-seed "seed session on plain"
if [ "$(res a-control reused)" = 1 ]; then
	say "control: the session resumes on plain itself"
else
	say "note: the session does not resume even on plain (reused=$(res a-control reused)): no server-mode resumption at all"
fi
must_refuse a-cross "session of plain, no certificate"

step "1b-c. tickets of 'plain' (TLS 1.2 and 1.3) offered to 'mtls'"
must_pass c12-seed "TLS 1.2 ticket seed"
say "TLS 1.2 seed session has a ticket: $(res c12-seed ticket)"
must_refuse c12-cross "TLS 1.2 ticket of plain"
must_pass c13-seed "TLS 1.3 ticket seed"
say "TLS 1.3 seed session has a ticket: $(res c13-seed ticket)"
must_refuse c13-cross "TLS 1.3 ticket of plain"

step "1b-d. positive control: a valid client certificate on 'mtls'"
for l in d12-full d13-full; do
	must_pass "$l" "full handshake with a good certificate"
	p=$(res "$l" port)
	wait_until 5 peer_closed "$p" || true
	peer_lines "$p" | grep -q 'TLS handshake done: .*client certificate verified' ||
		bad "1b $l: no 'client certificate verified' line"
done
for l in d12-resume d13-resume; do
	say "1b $l: reused=$(res "$l" reused) reply=$(res "$l" reply)"
	resumed_log_ok "$l"
done

step "1b-b. session made before the mTLS CAfile was replaced"
must_pass b-seed "seed session with a good certificate"
must_refuse b-resume "old session after the CA change"
must_refuse b-full "full handshake with the old certificate after the CA change"

assert_redtun_alive "after the resumption probes"

# ===========================================================================
if [ "${#FAILS[@]}" -gt 0 ]; then
	printf '\n%s: %d failure(s):\n' "$TEST_NAME" "${#FAILS[@]}" >&2
	printf '  - %s\n' "${FAILS[@]}" >&2
	exit 1
fi
say "PASS"
