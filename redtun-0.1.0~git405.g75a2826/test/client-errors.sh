#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Client mode: when redtun cannot give a client a working upstream, an
# unmodified redis-cli (plaintext to redtun) must print the reason as a
# Redis error, "ERR redtun [SERVICE]: REASON", in the very words of the
# log line "[SERVICE] PEER: REASON", instead of "Connection reset by
# peer".  One case each: a certificate for another host name (impostor),
# a chain from another CA, a refused connection, a name that does not
# resolve, a server that never finishes the TLS handshake, maxConnections
# reached (per service and global, and the bound of 32 refusing
# connections); a client that sends nothing is closed after about 1 s
# with nothing sent; a client that floods is answered all the same and
# redtun does not buffer its bytes.
#
# Runs in a private mount + network namespace (unshare -mn) with its own
# /etc/hosts and nsswitch.conf ("hosts: files"), so the DNS case never
# asks a DNS server.  Skips when namespaces are not available.
set -eu

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/netns.sh"
netns_reexec client-errors "$@"

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli nc ss openssl timeout python3 ip mount
need_redtun
gen_certs

step "private network and name service"
ip link set lo up || hard_error "cannot bring lo up in the network namespace"
printf '127.0.0.1 localhost\n' >"$T/hosts"
printf 'passwd: files\ngroup: files\nhosts: files\n' >"$T/nsswitch.conf"
mount --bind "$T/hosts" /etc/hosts || hard_error "cannot bind-mount /etc/hosts"
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf ||
	hard_error "cannot bind-mount /etc/nsswitch.conf"
getent hosts nosuch.redtun.test >/dev/null &&
	hard_error "nosuch.redtun.test resolves in the private namespace"

step "upstreams"
P=$(free_port); svc_add good "$P"
start_tls_redis good "$P"
P=$(free_port); svc_add impostor "$P"
start_tls_redis impostor "$P" --tls-cert-file "$T/wronghost.crt" --tls-key-file "$T/wronghost.key"
P=$(free_port); svc_add untrusted "$P"
start_tls_redis untrusted "$P" --tls-cert-file "$T/untrusted.crt" --tls-key-file "$T/untrusted.key"
P=$(free_port); svc_add refused "$P"    # nothing listens there
P=$(free_port); svc_add nodns "$P"      # connect = nosuch.redtun.test
P=$(free_port); svc_add silent "$P"     # accepts TCP, never says a word
spawn "$T/silent.log" nc -lk 127.0.0.1 "$P"
wait_for_port "$P"
svc_add limited "$(svc_uport good)"     # maxConnections = 1

extra_settings() {
	case $1 in
	silent) echo 'TIMEOUTconnect = 2;' ;;
	limited) echo 'maxConnections = 1;' ;;
	esac
}
svcs_conf extra_settings |
	sed "s|connect = \"localhost:$(svc_uport nodns)\"|connect = \"nosuch.redtun.test:$(svc_uport nodns)\"|" \
		>"$T/redtun.conf"
grep -q 'nosuch.redtun.test' "$T/redtun.conf" || hard_error "nodns config not written"
start_redtun "$T/redtun.conf"
LOG=$T/redtun.log

step "positive control"
assert_eq "PONG" "$(rcli "$(svc_lport good)" ping)" "PING via the good service"

# refused_with NAME ERE: "redis-cli PING" via service NAME must print
# "(error) ERR redtun [NAME]: REASON" with REASON matching ERE, and the
# log must carry "[NAME] PEER: REASON" with that very REASON.
REASON=
refused_with() {
	local name=$1 re=$2 prefix
	step "$name: the client reads why ($re)"
	timed_client "$name" redis-cli --no-raw -h 127.0.0.1 -p "$(svc_lport "$name")" ping
	[ "$RC" -ne 124 ] || fail "$name: redis-cli still waiting after 10 s"
	assert_not_contains "$OUT" "PONG" "$name: no reply from a server"
	assert_not_contains "$OUT" "Connection reset" "$name: a bare close"
	OUT=$(printf '%s' "$OUT" | tr -d '\r' | sed '/^$/d')
	prefix="(error) ERR redtun [$name]: "
	case $OUT in
	"$prefix"*) ;;
	*) fail "$name: redis-cli printed [$OUT], not [$prefix...]" ;;
	esac
	REASON=${OUT#"$prefix"}
	assert_match "$REASON" "$re" "$name: the reason the client read"
	# One line: nothing after the reason.
	assert_eq 1 "$(printf '%s\n' "$OUT" | wc -l)" "$name: lines printed by redis-cli"
	# The log line has the same words (grep -F: a fixed string).
	wait_until 5 grep -qF -- "[$name] 127.0.0.1:" "$LOG" || fail "$name: nothing logged"
	grep -F -- "[$name] 127.0.0.1:" "$LOG" | grep -qF -- ": $REASON" ||
		fail "$name: no log line carries the reason [$REASON]"
	assert_file_match "$LOG" "\[$name\] 127\.0\.0\.1:[0-9]+: $(re_quote "$REASON")\$" \
		"$name: the log line ends with the client's reason"
}

refused_with impostor "^upstream localhost:$(svc_uport impostor): certificate verify failed: hostname mismatch: expected localhost, certificate has DNS:wrong\.example"
refused_with untrusted "^upstream localhost:$(svc_uport untrusted): certificate verify failed: .*not signed by a trusted CA"
refused_with refused "^upstream localhost:$(svc_uport refused): connection refused$"
refused_with nodns "^upstream nosuch\.redtun\.test:$(svc_uport nodns): cannot resolve nosuch\.redtun\.test: "
# A silent server: the handshake times out (or, after 1 s of silence, the
# plaintext probe decides): whichever reason redtun logs, the client reads.
refused_with silent "^upstream localhost:$(svc_uport silent): (handshake timed out after 2 s|TLS handshake failed)"
[ "$MS" -ge 1500 ] || fail "silent: refused after only $MS ms (TIMEOUTconnect = 2)"
[ "$MS" -lt 6000 ] || fail "silent: the reply took $MS ms"

step "limited: maxConnections = 1 reached"
exec {held}<>"/dev/tcp/127.0.0.1/$(svc_lport limited)"
printf 'PING\r\n' >&"$held"
line=
read -r -t 5 -u "$held" line || true
assert_eq "+PONG" "${line%$'\r'}" "the one allowed connection works"
timed_client limited redis-cli --no-raw -h 127.0.0.1 -p "$(svc_lport limited)" ping
assert_eq "(error) ERR redtun [limited]: connection limit reached (maxConnections = 1)" \
	"$(printf '%s' "$OUT" | tr -d '\r' | sed '/^$/d')" "limited: what redis-cli printed"
assert_file_match "$LOG" "\[limited\] connection limit reached \(maxConnections = 1\): refusing 127\.0\.0\.1:[0-9]+" \
	"limited: the log says the same"
# A flood of over-limit clients: at most 32 (REFUSING_MAX, one worker)
# wait for their first command; the rest are closed at once, as before.
python3 - "$(svc_lport limited)" >"$T/bound.out" 2>&1 <<'EOF' || fail "refusing bound: $(cat "$T/bound.out")"
import socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]
time.sleep(0.4)
def closed(s):
    s.setblocking(False)
    try:
        return s.recv(100) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
early = sum(closed(s) for s in socks)
time.sleep(1.6)
late = sum(closed(s) for s in socks)
print("40 silent over-limit clients: %d closed at once, %d after 2 s" % (early, late))
if early != 8 or late != 40:
    sys.exit("expected 8 closed at once (40 - 32 refusing) and all 40 after 2 s")
EOF
say "$(cat "$T/bound.out")"
# The refusal must not use up the service's one slot: after the held
# connection closes, a new client is served at once.
exec {held}>&-
wait_for_log "$LOG" "\[limited\] .*closed: [0-9]+ bytes to server, 7 bytes to client" 5
assert_eq "PONG" "$(rcli "$(svc_lport limited)" ping)" "limited: served again after the held connection closed"

step "the global limit: maxConnections = 1 at the top level"
GP=$(free_port)
{
	echo "pid = \"$T/g.pid\";"
	echo "output = \"$T/g.log\";"
	echo 'debug = 7;'
	echo "CAfile = \"$T/ca.crt\";"
	echo 'maxConnections = 1;'
	echo 'services = {'
	conf_service g "$GP" "$(svc_uport good)"
	echo '};'
} >"$T/g.conf"
track_pidfile "$T/g.pid"
timeout 20 "$REDTUN" "$T/g.conf" >"$T/g.err" 2>&1 || fail "redtun g.conf: $(cat "$T/g.err")"
exec {gheld}<>"/dev/tcp/127.0.0.1/$GP"
printf 'PING\r\n' >&"$gheld"
line=
read -r -t 5 -u "$gheld" line || true
assert_eq "+PONG" "${line%$'\r'}" "the one connection the global limit allows"
timed_client g redis-cli --no-raw -h 127.0.0.1 -p "$GP" ping
assert_eq "(error) ERR redtun [g]: connection limit reached (global maxConnections = 1)" \
	"$(printf '%s' "$OUT" | tr -d '\r' | sed '/^$/d')" "g: what redis-cli printed"
assert_file_match "$T/g.log" "\[g\] connection limit reached \(global maxConnections = 1\): refusing 127\.0\.0\.1:[0-9]+" \
	"g: the log says the same"
exec {gheld}>&-

step "a client that sends nothing: closed after about 1 s, nothing sent"
python3 - "$(svc_lport refused)" >"$T/silent-client.out" 2>&1 <<'EOF' || fail "silent client: $(cat "$T/silent-client.out")"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
t0 = time.monotonic()
got = b""
while True:
    b = s.recv(4096)          # raises on timeout (5 s)
    if not b:
        break
    got += b
ms = int((time.monotonic() - t0) * 1000)
print("closed after %d ms, %d bytes received" % (ms, len(got)))
if got:
    sys.exit("received %r from a refusing tunnel without asking" % got)
if not 700 <= ms <= 2500:
    sys.exit("closed after %d ms, not about 1 s" % ms)
EOF
say "$(cat "$T/silent-client.out")"
wait_for_log "$LOG" "\[refused\] .*: the client sent no command within 1000 ms: closed without a reply" 5

step "a client that floods: answered, its bytes dropped, not buffered"
rss0=$(awk '/^VmRSS:/{print $2}' "/proc/$RT_PID/status")
python3 - "$(svc_lport refused)" "$(svc_uport refused)" >"$T/flood.out" 2>&1 <<'EOF' || fail "flood: $(cat "$T/flood.out")"
import socket, sys, time, select
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.setblocking(False)
chunk = b"SET k " + b"x" * 65536 + b"\r\n"
sent, got, t0 = 0, b"", time.monotonic()
# Send as fast as redtun reads for up to 3 s (its FIN after the reply
# does not stop us: it reads and drops until it closes), reading the reply.
eof = False
while time.monotonic() - t0 < 3:
    r, w, _ = select.select([] if eof else [s], [s], [], 0.5)
    if r:
        try:
            b = s.recv(4096)
        except ConnectionResetError:
            break
        eof = not b
        got += b
    if w:
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            pass
        except (BrokenPipeError, ConnectionResetError):
            break
print("sent %d bytes, received %r" % (sent, got))
want = b"-ERR redtun [refused]: upstream localhost:%s: connection refused\r\n" % sys.argv[2].encode()
if not got.startswith(want):
    sys.exit("expected %r first" % want)
if sent < 1 << 20:
    sys.exit("only %d bytes sent: redtun did not read (drop) them" % sent)
EOF
say "$(cut -c1-200 "$T/flood.out")"
rss1=$(awk '/^VmRSS:/{print $2}' "/proc/$RT_PID/status")
say "redtun RSS ${rss0} kB before the flood, ${rss1} kB after"
[ "$((rss1 - rss0))" -lt 4096 ] || fail "RSS grew by $((rss1 - rss0)) kB during a flood of a refusing tunnel"

step "the daemon survived and serves"
assert_survived
say "ok"
