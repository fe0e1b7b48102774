#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# What an operator sees in everyday trouble:
#   A. exclusive ports: a second redtun (any workers value) or another
#      program on the same address is refused with exit 2 and "cannot
#      listen on ADDR: already in use by another process"; so is a reload
#      adding such an address (the old configuration keeps running);
#   B. severities: a TLS client leaving without close_notify (server mode)
#      is info, a server doing it (client mode) stays err;
#   C. a plaintext server behind "connect" fails fast with "the server
#      answered in plaintext (...): is TLS enabled on it?";
#   D. sslVersionMin/Max follow stunnel: "all" is no limit (TLS 1.2 to
#      1.3 here), versions below TLS 1.2 are refused by name.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli python3 ss openssl timeout nc
need_redtun
gen_certs

HOSTILE_PY=$top_srcdir/test/hostile_tls_server.py
UP=$(free_port)
start_tls_redis up "$UP"

# A config of client services on the given accept ports -> UP.
# write_conf FILE TAG WORKERS PORT...
write_conf() {
	local f=$1 tag=$2 workers=$3 p i=0
	shift 3
	{
		echo "pid = \"$T/$tag.pid\";"
		echo "output = \"$T/$tag.log\";"
		echo 'debug = 7;'
		echo "CAfile = \"$T/ca.crt\";"
		echo "workers = $workers;"
		echo 'services = {'
		for p in "$@"; do
			i=$((i + 1))
			conf_service "s$i" "$p" "$UP"
		done
		echo '};'
	} >"$f"
}

# start_tagged TAG CONF: a daemon with its own pidfile; sets TAG_PID.
TAG_PID=
start_tagged() {
	local tag=$1 conf=$2 rc=0
	track_pidfile "$T/$tag.pid"
	timeout 20 "$REDTUN" "$conf" >"$T/$tag-start.out" 2>"$T/$tag-start.err" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$T/$tag-start.err" >&2; fail "redtun $tag exited with $rc"; }
	TAG_PID=$(redtun_pid "$T/$tag.pid") || fail "redtun $tag wrote no pidfile"
	pid_alive "$TAG_PID" || fail "redtun $tag is not running"
}

stop_tagged() { # TAG
	local pid
	pid=$(redtun_pid "$T/$1.pid") || return 0
	kill_wait "$pid" 10
}

# refused_start TAG CONF PORT: redtun must exit 2 naming PORT as taken.
refused_start() {
	local tag=$1 conf=$2 port=$3 rc=0 err
	timeout 20 "$REDTUN" "$conf" >"$T/$tag-start.out" 2>"$T/$tag-start.err" || rc=$?
	err=$(cat "$T/$tag-start.err")
	assert_eq 2 "$rc" "$tag: exit status of a redtun whose port is taken (stderr: $err)"
	assert_contains "$err" "cannot listen on 127.0.0.1:$port: already in use by another process" \
		"$tag: the message"
	[ ! -s "$T/$tag.pid" ] || fail "$tag: a refused redtun left a pidfile"
}

# A foreign listener: python3, with or without SO_REUSEPORT.
# foreign PORT REUSEPORT(0|1): sets FOREIGN_PID once it listens.
FOREIGN_PID=
foreign() {
	spawn "$T/foreign-$1.log" python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if sys.argv[2] == "1":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(5)
print("listening", flush=True)
time.sleep(120)
' "$1" "$2"
	FOREIGN_PID=$LAST_PID
	wait_until 10 port_listening "$1" || hard_error "the foreign listener on $1 did not start"
}

# =========================================================================
step "A1. two daemons with workers = 2 on one port: the second is refused"
PA=$(free_port)
write_conf "$T/a1.conf" a1 2 "$PA"
write_conf "$T/a2.conf" a2 2 "$PA"
start_tagged a1 "$T/a1.conf"
A1_PID=$TAG_PID
refused_start a2 "$T/a2.conf" "$PA"
socks=$(ss -ltnpH "( sport = :$PA )" | grep -c "pid=$A1_PID,")
assert_eq 2 "$socks" "the first daemon keeps its two sockets"
others=$(ss -ltnpH "( sport = :$PA )" | grep -vc "pid=$A1_PID," || true)
assert_eq 0 "$others" "no other process listens on $PA"
assert_eq PONG "$(rcli "$PA" ping)" "the first daemon still serves"

step "A2. workers = 1 against a running workers = 2, and the same message"
write_conf "$T/a3.conf" a3 1 "$PA"
refused_start a3 "$T/a3.conf" "$PA"
stop_tagged a1
wait_until 10 bash -c "! ss -ltnH '( sport = :$PA )' | grep -q ." ||
	fail "port $PA still held after the first daemon stopped"

step "A3. workers = 2 against a running workers = 1"
start_tagged a3 "$T/a3.conf"
refused_start a2 "$T/a2.conf" "$PA"
assert_eq PONG "$(rcli "$PA" ping)" "the workers = 1 daemon still serves"
stop_tagged a3

step "A4. a foreign listener (python3) on the port, with and without SO_REUSEPORT"
PF=$(free_port)
write_conf "$T/f2.conf" f2 2 "$PF"
write_conf "$T/f1.conf" f1 1 "$PF"
foreign "$PF" 0
refused_start f2 "$T/f2.conf" "$PF"
refused_start f1 "$T/f1.conf" "$PF"
kill_wait "$FOREIGN_PID" 5
PF=$(free_port)
write_conf "$T/f2.conf" f2 2 "$PF"
foreign "$PF" 1
refused_start f2 "$T/f2.conf" "$PF"
kill_wait "$FOREIGN_PID" 5

step "A5. a reload adding a taken address fails; a kept listener is not refused"
PK=$(free_port)
PT=$(free_port)
write_conf "$T/r.conf" r 2 "$PK"
start_tagged r "$T/r.conf"
R_PID=$TAG_PID
foreign "$PT" 0
write_conf "$T/r.conf" r 2 "$PK" "$PT"
kill -HUP "$R_PID"
wait_for_log "$T/r.log" "err reload failed, keeping the old configuration: \[s2\] cannot listen on 127\.0\.0\.1:$PT: already in use by another process" 10
assert_eq PONG "$(rcli "$PK" ping)" "the old configuration still serves"
kill_wait "$FOREIGN_PID" 5
# The same file again, now that the port is free: the kept listener on PK
# must not trip the check, and PT is added.
wait_until 10 bash -c "! ss -ltnH '( sport = :$PT )' | grep -q ." || hard_error "port $PT still held"
kill -HUP "$R_PID"
wait_for_log "$T/r.log" "configuration reloaded: 2 services" 10
assert_eq PONG "$(rcli "$PT" ping)" "the added service"
assert_eq PONG "$(rcli "$PK" ping)" "the kept service"
socks=$(ss -ltnpH "( sport = :$PK )" | grep -c "pid=$R_PID,")
assert_eq 2 "$socks" "the kept service still has one socket per worker"
# And a reload that keeps everything succeeds too.
reloads_before=$(log_count "$T/r.log" "configuration reloaded: 2 services")
kill -HUP "$R_PID"
reloaded_once_more() { [ "$(log_count "$T/r.log" "configuration reloaded: 2 services")" -gt "$reloads_before" ]; }
wait_until 10 reloaded_once_more || fail "a reload keeping every listener failed"
assert_file_no_match "$T/r.log" "reload failed.*:$PK:" "the kept listener was refused"
# Moving a listener to another spelling of an address redtun holds itself
# ("localhost", "0.0.0.0") must not be blamed on another process.
for host in localhost 0.0.0.0; do
	sed -i "s/accept = \"[^\"]*:$PK\"/accept = \"$host:$PK\"/" "$T/r.conf"
	# (not "n": wait_until has a local n, which the function would see)
	reloads_before=$(log_count "$T/r.log" "configuration reloaded: 2 services")
	kill -HUP "$R_PID"
	reloaded_again() { [ "$(log_count "$T/r.log" "configuration reloaded: 2 services")" -gt "$reloads_before" ]; }
	wait_until 10 reloaded_again || fail "moving the listener on $PK to $host: $(tail -n 3 "$T/r.log")"
	assert_eq PONG "$(rcli "$PK" ping)" "the service moved to $host:$PK"
done
assert_file_no_match "$T/r.log" ":$PK: already in use" "redtun blamed another process for its own listener"
stop_tagged r

# =========================================================================
step "B. close_notify severities"
BACKEND=$(free_port)
SM=$(free_port)       # server mode -> plaintext redis
CN=$(free_port)       # client mode -> a TLS server closing without notify
NOTIFY=$(free_port)
start_plain_redis backend "$BACKEND"
spawn "$T/py-close-no-notify.log" python3 -u "$HOSTILE_PY" --port "$NOTIFY" \
	--cert "$T/server.crt" --key "$T/server.key" --mode close-no-notify
wait_until 10 port_listening "$NOTIFY" || hard_error "hostile_tls_server.py did not start"

# C. plaintext servers: a real redis-server without TLS, and one that
# answers a ClientHello at once with an error carrying control bytes.
PLAIN=$(free_port)
EAGER=$(free_port)
CP=$(free_port)
CE=$(free_port)
start_plain_redis plain "$PLAIN"
spawn "$T/eager.log" python3 -c '
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
def serve(c):
    try:
        c.recv(4096)
        c.sendall(b"-ERR unknown command \x1b[31m\\evil " + b"x" * 100 + b"\r\n")
    finally:
        c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$EAGER"
wait_until 10 port_listening "$EAGER" || hard_error "the eager plaintext server did not start"

# D. a TLS 1.2-only server for sslVersionMin = "all".
TLS12=$(free_port)
C12=$(free_port)
C13=$(free_port)
start_tls_redis tls12 "$TLS12" --tls-protocols TLSv1.2

{
	conf_globals
	echo 'services = {'
	printf '  sm = {\n    client = false;\n    accept = "127.0.0.1:%s";\n    connect = "127.0.0.1:%s";\n    cert = "%s";\n    key = "%s";\n  };\n' \
		"$SM" "$BACKEND" "$T/server.crt" "$T/server.key"
	conf_service cn "$CN" "$NOTIFY"
	conf_service cp "$CP" "$PLAIN" 'TIMEOUTconnect = 10;'
	conf_service ce "$CE" "$EAGER" 'TIMEOUTconnect = 10;'
	conf_service v12 "$C12" "$TLS12" 'sslVersionMin = "all";' 'sslVersionMax = "all";'
	conf_service v13 "$C13" "$UP" 'sslVersionMin = "all";' 'sslVersionMax = "all";'
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
LOG=$T/redtun.log

step "B1. server mode: a TLS client leaving without close_notify is info"
# A client that sends PING over TLS, reads the reply and drops TCP with no
# close_notify (what redis-cli --tls does on exit).
python3 - "$SM" "$T/ca.crt" <<'PYEOF' >"$T/b1.out" 2>&1 || fail "the TLS client failed: $(cat "$T/b1.out")"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.sendall(b"PING\r\n")
print(s.recv(100))
# Close the TCP connection under TLS: no close_notify is sent.
raw2 = socket.socket(fileno=s.detach())
raw2.close()
PYEOF
assert_contains "$(cat "$T/b1.out")" "PONG" "PING through server mode"
wait_for_log "$LOG" " info \[sm\] 127\.0\.0\.1:[0-9]+: the client closed the connection without TLS close_notify: the data may be truncated" 5
assert_file_no_match "$LOG" " err \[sm\] .*close_notify" "a client leaving without close_notify is not an error"
# redis-cli --tls itself: whatever it sends, never an err line.
assert_eq PONG "$(timeout 10 redis-cli --tls --cacert "$T/ca.crt" -h 127.0.0.1 -p "$SM" ping)" "redis-cli --tls via server mode"
wait_for_log "$LOG" "\[sm\] 127\.0\.0\.1:[0-9]+: closed: 14 bytes to server, 7 bytes to client" 5
assert_file_no_match "$LOG" " err \[sm\] " "no err line for normal server-mode clients"

step "B2. client mode: a server closing without close_notify stays err"
# nc keeps the client side open, so the server's close comes first.
out=$( (printf 'PING\r\n'; sleep 3) | timeout 10 nc -q 1 127.0.0.1 "$CN" 2>&1 || true)
assert_contains "$out" "+PONG" "the reply before the close reaches the client"
wait_for_log "$LOG" " err \[cn\] 127\.0\.0\.1:[0-9]+: the server closed the connection without TLS close_notify: the data may be truncated" 5

# =========================================================================
# plaintext_case SERVICE PORT ERE MAX_MS
plaintext_case() {
	local name=$1 port=$2 re=$3 max=$4 rc=0 out t0 t1 ms
	# Under valgrind the control path is ~20x slower; still far below 10 s.
	[ "${REDTUN_VALGRIND:-0}" != 1 ] || max=$((max + 4000))
	t0=$(date +%s%N)
	out=$(timeout 15 redis-cli -h 127.0.0.1 -p "$port" ping 2>&1) || rc=$?
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	say "$name: redis-cli exit $rc after $ms ms: $out"
	assert_ne "PONG" "$out" "$name: the client must not get a reply"
	# The client reads the log's reason, escaped as there (no raw bytes).
	assert_match "$out" "^ERR redtun \[$name\]: upstream localhost:[0-9]+: TLS handshake failed: the server answered in plaintext" \
		"$name: the client reads why"
	assert_not_contains "$out" $'\x1b' "$name: no raw escape byte to the client"
	[ "$ms" -lt "$max" ] || fail "$name: the failure took $ms ms (TIMEOUTconnect = 10 s), expected < $max ms"
	wait_for_log "$LOG" "$re" 5
	figure "plaintext_fail_ms_$name" "$ms" ms
}

step "C1. a plaintext redis-server behind connect: hint within 2 s"
plaintext_case cp "$CP" \
	" err \[cp\] 127\.0\.0\.1:[0-9]+: upstream localhost:$PLAIN: TLS handshake failed: the server answered in plaintext \(\"\+PONG\" to a PING\): is TLS enabled on it\?" 2000
assert_file_no_match "$LOG" "\[cp\] .*(handshake timed out|connected to )" "no timeout, no connection"

step "C2. a plaintext server answering the ClientHello: quoted, escaped, cut"
plaintext_case ce "$CE" \
	" err \[ce\] 127\.0\.0\.1:[0-9]+: upstream localhost:$EAGER: TLS handshake failed: the server answered in plaintext \(\"-ERR unknown command \\\\x1b\[31m\\\\x5cevil x+\.\.\.\"\): is TLS enabled on it\?" 1000
line=$(grep -E "\[ce\] .*answered in plaintext" "$LOG" | head -n 1)
quoted=${line#*plaintext (\"}
quoted=${quoted%%\"): is TLS*}
quoted=${quoted%...}
# 60 bytes of the server's line, each escaped byte counting once.
raw=$(printf '%s' "$quoted" | sed 's/\\x[0-9a-f][0-9a-f]/E/g')
assert_eq 60 "${#raw}" "bytes of the server's reply quoted ($quoted)"
assert_file_no_match "$LOG" $'\x1b' "no raw escape byte in the log"

step "C3. the daemon still serves TLS upstreams normally"
assert_eq PONG "$(rcli "$C13" ping)" "PING via a TLS server (no plaintext probe misfire)"

# =========================================================================
step "D1. sslVersionMin/Max = \"all\": TLS 1.2 to TLS 1.3"
assert_eq PONG "$(rcli "$C12" ping)" "sslVersionMin = all reaches a TLS 1.2-only server"
wait_for_log "$LOG" "\[v12\] .*connected to localhost:$TLS12 .* TLSv1\.2 " 5
assert_eq PONG "$(rcli "$C13" ping)" "sslVersionMax = all still negotiates TLS 1.3"
wait_for_log "$LOG" "\[v13\] .*connected to localhost:$UP .* TLSv1\.3 " 5
assert_redtun_alive

step "D2. versions below TLS 1.2 are refused by name"
# version_case NAME SETTING VALUE
version_case() {
	local name=$1 setting=$2 value=$3 rc=0 err line
	{
		conf_globals | sed "s#$T/redtun.pid#$T/$name.pid#"
		echo 'services = {'
		echo '  v = {'
		echo '    client = true;'
		echo "    accept = \"127.0.0.1:$(free_port)\";"
		echo "    connect = \"localhost:$UP\";"
		echo "    $setting = \"$value\";"
		echo '  };'
		echo '};'
	} >"$T/$name.conf"
	line=$(grep -n "$setting" "$T/$name.conf" | cut -d: -f1)
	timeout 10 "$REDTUN" -t "$T/$name.conf" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	err=$(cat "$T/$name.err")
	assert_eq 1 "$rc" "$name: exit status ($err)"
	assert_eq "redtun: $T/$name.conf:$line: $setting: \"$value\" is below redtun's floor of TLSv1.2" \
		"$err" "$name: message"
}
version_case min-tls11 sslVersionMin TLSv1.1
version_case min-tls1 sslVersionMin TLSv1
version_case min-sslv3 sslVersionMin SSLv3
version_case max-tls11 sslVersionMax TLSv1.1

step "D3. \"all\" passes -t for both; an unknown value names the choices"
for s in 'sslVersionMin = "all";' 'sslVersionMax = "all";' 'sslVersionMin = "all"; sslVersionMax = "TLSv1.2";'; do
	{
		conf_globals | sed "s#$T/redtun.pid#$T/d3.pid#"
		echo 'services = {'
		conf_service v "$(free_port)" "$UP" "$s"
		echo '};'
	} >"$T/d3.conf"
	out=$(timeout 10 "$REDTUN" -t "$T/d3.conf" 2>&1) || fail "-t refused [$s]: $out"
	assert_contains "$out" "configuration OK" "-t with [$s]"
done
{
	conf_globals | sed "s#$T/redtun.pid#$T/d4.pid#"
	echo 'services = {'
	conf_service v "$(free_port)" "$UP" 'sslVersionMax = "TLSv1.4";'
	echo '};'
} >"$T/d4.conf"
rc=0
out=$(timeout 10 "$REDTUN" -t "$T/d4.conf" 2>&1) || rc=$?
assert_eq 1 "$rc" "unknown version"
assert_contains "$out" "sslVersionMax: unknown version \"TLSv1.4\" (use \"TLSv1.2\", \"TLSv1.3\" or \"all\")" "unknown version message"

assert_redtun_alive
say "ok"
