#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Client mode: TLS session resumption to the upstream (sessionResume, TLS 1.3
# and TLS 1.2, kept or dropped across SIGHUP) and the pool of pre-warmed
# upstream connections (prewarm = N: hand-out, refill, a pooled connection
# closed by the server, no state leaking from one client to the next).
# Last step: after the CAfile's content is replaced by an unrelated CA (same
# path) and a SIGHUP, an old session must not be resumed.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli nc ss openssl timeout date
need_redtun
gen_certs
cp "$T/ca.crt" "$T/ca-copy.crt"

R13=$(free_port)    # resumption, TLS 1.3 (and the sessionResume = false control)
R12=$(free_port)    # resumption, TLS 1.2
RPW=$(free_port)    # the prewarm service and its non-prewarm twin
RKILL=$(free_port)  # pooled connections killed by the server
L13=$(free_port)
L12=$(free_port)
LNORES=$(free_port)
LPW=$(free_port)
LNP=$(free_port)
LKILL=$(free_port)
LOG=$T/redtun.log

step "start the TLS redis servers"
start_tls_redis r13 "$R13"
start_tls_redis r12 "$R12"
start_tls_redis rpw "$RPW"
start_tls_redis rkill "$RKILL"

# write_conf CAFILE_OF_RES13 [EXTRA LINE FOR THE nores SERVICE]
write_conf() {
	{
		conf_globals
		echo 'services = {'
		conf_service res13 "$L13" "$R13" "CAfile = \"$1\";"
		conf_service res12 "$L12" "$R12" 'sslVersionMax = "TLSv1.2";'
		conf_service nores "$LNORES" "$R13" 'sessionResume = false;' ${2:+"$2"}
		conf_service pw "$LPW" "$RPW" 'prewarm = 2;'
		conf_service np "$LNP" "$RPW"
		conf_service pkill "$LKILL" "$RKILL" 'prewarm = 2;'
		echo '};'
	} >"$T/redtun.conf.new"
	mv "$T/redtun.conf.new" "$T/redtun.conf"
}

step "start redtun"
write_conf "$T/ca.crt"
start_redtun "$T/redtun.conf"
assert_file_match "$LOG" "\[pw\] listening on 127\.0\.0\.1:$LPW( |\$)" "listening line for pw"

# Client-side "connected to" lines of a service (pre-warmed ones excluded).
conn_lines() { grep -E "\[$1\] 127\.0\.0\.1:[0-9]+: connected to " "$LOG" || true; }
conn_count() { log_count "$LOG" "\[$1\] 127\.0\.0\.1:[0-9]+: connected to "; }
# Pre-warmed "connected to" lines of a service.
pw_count() { log_count "$LOG" "\[$1\] pre-warmed #[0-9]+: connected to "; }
count_ge() { [ "$(log_count "$LOG" "$1")" -ge "$2" ]; }

# ping_new SVC PORT: one PING on a new connection; waits for its connected
# line and prints it.
ping_new() {
	local svc=$1 port=$2 before out
	before=$(conn_count "$svc")
	out=$(rcli "$port" ping 2>&1) || true
	assert_eq "PONG" "$out" "PING via $svc"
	wait_until 5 count_ge "\[$svc\] 127\.0\.0\.1:[0-9]+: connected to " $((before + 1)) ||
		fail "no new connected line for $svc"
	conn_lines "$svc" | sed -n "$((before + 1))p"
}

# =========================================================================
step "1. resumption: TLS 1.3 (default)"
c1=$(ping_new res13 "$L13")
c2=$(ping_new res13 "$L13")
c3=$(ping_new res13 "$L13")
say "1st: ${c1#* info }"
say "2nd: ${c2#* info }"
assert_match "$c1" "connected to localhost:$R13 \(127\.0\.0\.1[^)]*\) TLSv1\.3 [A-Z0-9_-]+, certificate verified$" \
	"1st TLS 1.3 connection: a full handshake (no resumed suffix)"
assert_match "$c2" "TLSv1\.3 [A-Z0-9_-]+, session resumed$" \
	"2nd TLS 1.3 connection must resume the session"
assert_match "$c3" "TLSv1\.3 [A-Z0-9_-]+, session resumed$" \
	"3rd TLS 1.3 connection must resume the session"
assert_file_match "$LOG" "debug \[res13\] 127\.0\.0\.1:[0-9]+: full TLS handshake; 0 of 1 upstream handshakes resumed a session" \
	"debug counter after the 1st connection"
assert_file_match "$LOG" "debug \[res13\] 127\.0\.0\.1:[0-9]+: TLS session resumed; 1 of 2 upstream handshakes resumed a session" \
	"debug counter after the 2nd connection"
assert_file_match "$LOG" "debug \[res13\] 127\.0\.0\.1:[0-9]+: TLS session resumed; 2 of 3 upstream handshakes resumed a session" \
	"debug counter after the 3rd connection"

step "1. resumption: TLS 1.2 (sslVersionMax)"
c1=$(ping_new res12 "$L12")
c2=$(ping_new res12 "$L12")
c3=$(ping_new res12 "$L12")
assert_match "$c1" "connected to localhost:$R12 \(127\.0\.0\.1[^)]*\) TLSv1\.2 [A-Z0-9_-]+, certificate verified$" \
	"1st TLS 1.2 connection: a full handshake"
assert_match "$c2" "TLSv1\.2 [A-Z0-9_-]+, session resumed$" \
	"2nd TLS 1.2 connection must resume the session"
assert_match "$c3" "TLSv1\.2 [A-Z0-9_-]+, session resumed$" \
	"3rd TLS 1.2 connection must resume the session"
assert_file_match "$LOG" "debug \[res12\] 127\.0\.0\.1:[0-9]+: TLS session resumed; 1 of 2 upstream handshakes resumed a session" \
	"TLS 1.2 debug counter after the 2nd connection"

step "1. control: sessionResume = false never resumes"
for i in 1 2 3; do
	c=$(ping_new nores "$LNORES")
	assert_match "$c" "TLSv1\.3 [A-Z0-9_-]+, certificate verified$" \
		"sessionResume = false: connection $i must be a full handshake"
done
assert_file_match "$LOG" "debug \[nores\] 127\.0\.0\.1:[0-9]+: full TLS handshake; 0 of 3 upstream handshakes resumed a session" \
	"sessionResume = false: debug counter"
assert_file_no_match "$LOG" "\[nores\] .*(session resumed|TLS session resumed)" \
	"sessionResume = false: nothing resumed"

# =========================================================================
step "2. prewarm = 2: pool filled, handed out, refilled"
wait_until 10 count_ge "\[pw\] pre-warmed #[0-9]+: connected to " 2 ||
	fail "pw: 2 pre-warmed connections not made within 10s: $(grep -F '[pw]' "$LOG" | tail -n 5)"
assert_file_match "$LOG" "info \[pw\] pre-warmed #[0-9]+: connected to localhost:$RPW \(127\.0\.0\.1[^)]*\) TLSv1\.3 [A-Z0-9_-]+, certificate verified" \
	"format of the pre-warmed connected line"
assert_eq 2 "$(pw_count pw)" "pw: exactly 2 pre-warmed connections before any client"
assert_eq 0 "$(conn_count pw)" "pw: no client handshake before any client"

# ping_us PORT: one PING on a new connection (bash /dev/tcp, no process
# start in the measured interval); prints the microseconds from connect()
# to the +PONG line.
ping_us() {
	local s e fd line=
	s=${EPOCHREALTIME/[^0-9]/}
	exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'PING\r\n' >&"$fd"
	IFS= read -r -t 5 line <&"$fd" || true
	e=${EPOCHREALTIME/[^0-9]/}
	exec {fd}>&-
	[ "$line" = $'+PONG\r' ] || { say "ping_us $1: got [$(_show "$line")]"; return 1; }
	echo $((e - s))
}
us2ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
handed() {
	grep -E "\[pw\] 127\.0\.0\.1:[0-9]+: handed pre-warmed #" "$LOG" |
		sed -E 's/.*handed pre-warmed #([0-9]+) .*/\1/' || true
}
# After K hand-outs the pool of 2 has made 2 + K connections: wait for them,
# so the next client surely finds a ready pooled connection.
wait_refilled() {
	local want=$((2 + $(handed | wc -l)))
	wait_until 10 count_ge "\[pw\] pre-warmed #[0-9]+: connected to " "$want" ||
		fail "pw: the pool was not refilled ($want pre-warmed connections expected): $(grep -F '[pw]' "$LOG" | tail -n 6)"
}

us=$(ping_us "$LPW") || fail "first PING via the prewarm service"
figure prewarm_first_ping_ms "$(us2ms "$us")" ms
us=$(ping_us "$LNP") || fail "first PING via the non-prewarm service"
figure noprewarm_first_ping_ms "$(us2ms "$us")" ms
wait_for_log "$LOG" "info \[pw\] 127\.0\.0\.1:[0-9]+: handed pre-warmed #[0-9]+ \(TLSv1\.3 [A-Z0-9_-]+\), no handshake wait" 5
assert_eq 0 "$(conn_count pw)" "pw: the client must not have waited for its own handshake"
wait_for_log "$LOG" "\[np\] 127\.0\.0\.1:[0-9]+: connected to localhost:$RPW \([^)]*\) TLSv1\.3 [A-Z0-9_-]+, certificate verified$" 5
assert_file_no_match "$LOG" "\[np\] .*handed pre-warmed" "np has no pool"
assert_eq 0 "$(pw_count np)" "np has no pre-warmed connections"
wait_until 10 count_ge "\[pw\] pre-warmed #[0-9]+: connected to " 3 ||
	fail "pw: the pool was not refilled (no 3rd pre-warmed connection): $(grep -F '[pw]' "$LOG" | tail -n 5)"
assert_eq 1 "$(handed | wc -l)" "pw: one hand-out"

# More samples: pooled (pw), resumed (np), full handshake (nores).
: >"$T/pw.us"; : >"$T/np.us"; : >"$T/full.us"
for i in 1 2 3 4 5; do
	wait_refilled
	ping_us "$LPW" >>"$T/pw.us" || fail "PING $i via pw"
	ping_us "$LNP" >>"$T/np.us" || fail "PING $i via np"
	ping_us "$LNORES" >>"$T/full.us" || fail "PING $i via nores"
done
figure prewarm_ping_median_ms "$(us2ms "$(median <"$T/pw.us")")" ms
figure resumed_ping_median_ms "$(us2ms "$(median <"$T/np.us")")" ms
figure full_handshake_ping_median_ms "$(us2ms "$(median <"$T/full.us")")" ms
assert_eq 6 "$(handed | wc -l)" "pw: every client got a pre-warmed connection"
assert_eq 0 "$(conn_count pw)" "pw: no client waited for a handshake"

# =========================================================================
step "4. no state from one client reaches the next (SELECT, AUTH)"
wait_refilled
out=$(printf 'SELECT 5\r\nSET isolation-key 1\r\n' | timeout 10 nc -N 127.0.0.1 "$LPW") || true
assert_eq "$(printf '+OK\r\n+OK\r')" "$out" "client A: SELECT 5 + SET"
wait_refilled
assert_eq 0 "$(rcli "$LPW" exists isolation-key)" "client B: EXISTS isolation-key in db 0"
assert_eq 1 "$(rcli_tls "$RPW" -n 5 exists isolation-key)" "the key is in db 5 (direct)"
assert_eq 0 "$(rcli_tls "$RPW" -n 0 exists isolation-key)" "the key is not in db 0 (direct)"

# AUTH: client A logs in as alice, client B must still be the default user.
assert_eq OK "$(rcli_tls "$RPW" acl setuser alice on '>alice-pw' '~*' '&*' '+@all')" "ACL SETUSER"
wait_refilled
out=$(printf 'AUTH alice alice-pw\r\nACL WHOAMI\r\n' | timeout 10 nc -N 127.0.0.1 "$LPW") || true
# shellcheck disable=SC2016 # literal $5 in RESP
assert_eq "$(printf '+OK\r\n$5\r\nalice\r')" "$out" "client A: AUTH alice, WHOAMI"
wait_refilled
assert_eq default "$(rcli "$LPW" acl whoami)" "client B after an AUTHed client: WHOAMI"

n_handed=$(handed | wc -l)
assert_eq 10 "$n_handed" "pw: every client got a pre-warmed connection"
assert_eq "$n_handed" "$(handed | sort -u | wc -l)" "a pre-warmed connection is handed out once only"
assert_eq 0 "$(conn_count pw)" "pw: no client waited for a handshake"

# =========================================================================
step "3. a pooled connection closed by the server is replaced, never handed out"
wait_until 10 count_ge "\[pkill\] pre-warmed #[0-9]+: connected to " 2 ||
	fail "pkill: pool not filled"
sleep 0.3
assert_eq 2 "$(pw_count pkill)" "pkill: 2 pooled connections"
killed=$(rcli_tls "$RKILL" client kill type normal)
assert_eq 2 "$killed" "CLIENT KILL TYPE normal kills the 2 pooled connections"
wait_until 5 count_ge "info \[pkill\] pre-warmed #[0-9]+: pre-warmed connection closed by the server" 2 ||
	fail "pkill: no 'closed by the server' lines: $(grep -F '[pkill]' "$LOG" | tail -n 6)"
wait_until 10 count_ge "\[pkill\] pre-warmed #[0-9]+: connected to " 4 ||
	fail "pkill: the pool was not refilled after the kill: $(grep -F '[pkill]' "$LOG" | tail -n 6)"
for i in 1 2 3 4; do
	assert_eq PONG "$(rcli "$LKILL" ping 2>&1)" "PING $i via pkill after the kill"
done

# Once more with no pause: a client right after the server closed the pool.
wait_until 10 count_ge "\[pkill\] pre-warmed #[0-9]+: connected to " 6 ||
	fail "pkill: pool not refilled after 4 clients"
sleep 0.3
assert_eq 2 "$(rcli_tls "$RKILL" client kill type normal)" "second CLIENT KILL"
for i in 1 2 3 4; do
	assert_eq PONG "$(rcli "$LKILL" ping 2>&1)" "PING $i via pkill right after the kill"
done
wait_until 5 count_ge "\[pkill\] pre-warmed #[0-9]+: pre-warmed connection closed by the server" 4 ||
	fail "pkill: 4 'closed by the server' lines expected: $(grep -F '[pkill]' "$LOG" | tail -n 8)"
dead=$(grep -E "\[pkill\] pre-warmed #[0-9]+: pre-warmed connection closed by the server" "$LOG" |
	sed -E 's/.*pre-warmed #([0-9]+): .*/\1/')
assert_eq 4 "$(printf '%s\n' "$dead" | sort -u | wc -l)" "4 distinct pooled connections closed by the server"
for d in $dead; do
	assert_file_no_match "$LOG" "\[pkill\] .*handed pre-warmed #$d " \
		"a killed connection (pre-warmed #$d) was handed to a client"
done
assert_eq 8 "$(log_count "$LOG" "\[pkill\] .*handed pre-warmed #")" "pkill: 8 clients got pooled connections"
assert_file_no_match "$LOG" " (err|warning) \[pkill\] " "pkill: no errors or warnings"

# =========================================================================
step "1. resumption across SIGHUP"
# a) the same file: nothing changes.
n=$(log_count "$LOG" "configuration reloaded")
kill -HUP "$RT_PID"
wait_until 10 count_ge "configuration reloaded" $((n + 1)) || fail "no reload"
c=$(ping_new res13 "$L13")
assert_match "$c" ", session resumed$" "after an unchanged SIGHUP, res13 must still resume"
c=$(ping_new res12 "$L12")
assert_match "$c" ", session resumed$" "after an unchanged SIGHUP, res12 must still resume"

# b) another service changes; res13 does not.
write_conf "$T/ca.crt" "TIMEOUTidle = 300;"
kill -HUP "$RT_PID"
wait_until 10 count_ge "configuration reloaded" $((n + 2)) || fail "no reload"
assert_file_no_match "$LOG" "reload failed" "reload"
c=$(ping_new res13 "$L13")
assert_match "$c" ", session resumed$" "after a SIGHUP changing another service, res13 must still resume"

# c) res13's CAfile changes (same content, another path): sessions dropped.
write_conf "$T/ca-copy.crt" "TIMEOUTidle = 300;"
kill -HUP "$RT_PID"
wait_until 10 count_ge "configuration reloaded" $((n + 3)) || fail "no reload"
assert_file_no_match "$LOG" "reload failed" "reload"
c=$(ping_new res13 "$L13")
assert_match "$c" "TLSv1\.3 [A-Z0-9_-]+, certificate verified$" \
	"after CAfile changed, the next res13 connection must be a full handshake"
c=$(ping_new res13 "$L13")
assert_match "$c" ", session resumed$" "and the one after resumes again"
c=$(ping_new res12 "$L12")
assert_match "$c" ", session resumed$" "res12 (unchanged) still resumes"

assert_file_no_match "$LOG" " (err|crit|alert|emerg) " "no errors in the log"

# d) the same CAfile path, new content: another CA that does not sign the
# server's certificate. A reload re-reads the CAfile, so a session verified
# under the old CA must not be resumed: the next connection does a full
# handshake, and its verification fails.
cp "$T/other-ca.crt" "$T/ca-copy.crt.new"
mv "$T/ca-copy.crt.new" "$T/ca-copy.crt"
kill -HUP "$RT_PID"
wait_until 10 count_ge "configuration reloaded" $((n + 4)) || fail "no reload"
before=$(log_count "$LOG" "\[res13\] 127\.0\.0\.1:[0-9]+: (connected to|upstream )")
out=$(rcli "$L13" ping 2>&1) || true
wait_until 5 count_ge "\[res13\] 127\.0\.0\.1:[0-9]+: (connected to|upstream )" $((before + 1)) ||
	fail "res13: no outcome logged for the connection after the CA content changed"
last=$(grep -E "\[res13\] 127\.0\.0\.1:[0-9]+: (connected to|upstream )" "$LOG" | tail -n 1)
assert_not_contains "$last" "session resumed" \
	"CAfile now holds an unrelated CA: a session verified under the old CA was resumed"
assert_match "$last" "certificate verify failed: certificate .*is not signed by a trusted CA" \
	"CAfile now holds an unrelated CA: the server's certificate must be rejected"
assert_not_contains "$out" "PONG" "no PONG through an untrusted server"
assert_redtun_alive
say "ok"
