#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# logFormat = "json": every line of the log file is one JSON object with
# time (UTC, ISO 8601, milliseconds), level, service, peer, event, reason
# and msg.  Driven: a good connection (accepted, connected, closed), one
# whose upstream refuses the connection, one whose "server" answers in
# plaintext with quotes, backslashes, braces, ESC, NUL and UTF-8 (text a
# peer controls, logged in the reason), a reload that works, one that
# fails, and a stop.  Each line is parsed with python3's json module; the
# hostile text must stay inside its one line, escaped.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli python3 ss openssl timeout
need_redtun
gen_certs

UP=$(free_port)
GOOD=$(free_port)
DOWN=$(free_port)
DOWN_UP=$(free_port)	# nothing listens there
PLAIN=$(free_port)
PLAIN_UP=$(free_port)
start_tls_redis up "$UP"

# A "server" that answers the ClientHello in plaintext, with bytes a log
# must not pass on raw.
cat >"$T/plain.py" <<'EOF'
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
s.settimeout(0.5)
end = time.monotonic() + 60
while time.monotonic() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.settimeout(2)
    try:
        c.recv(4096)
        c.sendall(b'-ERR "q\\" }{"event":"forged"} \x1b[31m\x00\x7f caf\xc3\xa9 \xff\r\n')
    except OSError:
        pass
    c.close()
EOF
spawn "$T/plain.log" python3 "$T/plain.py" "$PLAIN_UP"
wait_for_port "$PLAIN_UP" 5

write_conf() { # [LOGFORMAT=json]
	{
		conf_globals
		echo "logFormat = \"${1:-json}\";"
		echo 'services = {'
		conf_service good "$GOOD" "$UP"
		conf_service down "$DOWN" "$DOWN_UP"
		conf_service plain "$PLAIN" "$PLAIN_UP"
		echo '};'
	} >"$T/redtun.conf.new"
	mv "$T/redtun.conf.new" "$T/redtun.conf"
}
write_conf
LOG=$T/redtun.log
start_redtun "$T/redtun.conf"

step "a good connection, a refused upstream, a plaintext server"
assert_eq PONG "$(rcli "$GOOD" ping)" "PING through the good service"
out=$(rcli "$DOWN" ping 2>&1 || true)
assert_contains "$out" "redtun [down]" "the refused upstream's reply"
out=$(rcli "$PLAIN" ping 2>&1 || true)
assert_contains "$out" "redtun [plain]" "the plaintext server's reply"
wait_for_log "$LOG" '"service":"plain".*"event":"closed"' 5

step "a reload, a failed reload, a stop"
kill -HUP "$RT_PID"
wait_for_log "$LOG" '"event":"reload"' 5
write_conf yaml
kill -HUP "$RT_PID"
wait_for_log "$LOG" '"event":"reload_failed"' 5
kill -TERM "$RT_PID"
wait_for_exit "$RT_PID" 10 || fail "redtun did not stop"

step "every line is one JSON object with the fields"
python3 - "$LOG" "$GOOD" <<'EOF' || fail "the JSON log does not hold (above)"
import datetime, json, re, sys
path, good = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
errs = []
def bad(m): errs.append(m)
for b in (b"\x1b", b"\x00", b"\x7f", b"\xff", b"\xc3"):
    if b in raw: bad("raw byte %r in the log" % b)
lines = raw.decode("ascii").split("\n")
if lines[-1] != "": bad("the log does not end with a newline")
recs = []
for n, l in enumerate(lines[:-1], 1):
    try:
        o = json.loads(l)
    except ValueError as e:
        bad("line %d is not JSON (%s): %r" % (n, e, l[:200])); continue
    if not isinstance(o, dict) or sorted(o) != sorted(
            ["time", "level", "service", "peer", "event", "reason", "msg"]):
        bad("line %d: keys %r" % (n, sorted(o) if isinstance(o, dict) else o)); continue
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]):
        bad("line %d: time %r" % (n, o["time"]))
    else:
        t = datetime.datetime.strptime(o["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
        if abs((datetime.datetime.utcnow() - t).total_seconds()) > 120:
            bad("line %d: time %s is not now (UTC)" % (n, o["time"]))
    if o["level"] not in ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"):
        bad("line %d: level %r" % (n, o["level"]))
    for k in ("service", "peer", "reason"):
        if o[k] is not None and not isinstance(o[k], str): bad("line %d: %s %r" % (n, k, o[k]))
    if not o["event"] or not o["msg"]: bad("line %d: empty event or msg" % n)
    recs.append(o)
def find(what, **kw):
    got = [o for o in recs if all(o[k] == v for k, v in kw.items())]
    if not got: bad("no line with %r (%s)" % (kw, what))
    return got
peer_re = r"127\.0\.0\.1:\d+"
for o in find("the good connection", service="good", event="accepted", level="info"):
    if not re.fullmatch(peer_re, o["peer"] or ""): bad("accepted: peer %r" % o["peer"])
    if o["msg"] != "%s: accepted by worker 0" % o["peer"]: bad("accepted: msg %r" % o["msg"])
find("upstream TLS", service="good", event="connected")
for o in find("closed", service="good", event="closed", level="notice"):
    if not re.fullmatch(peer_re, o["peer"] or ""): bad("closed: peer %r" % o["peer"])
    if not o["msg"].startswith(o["peer"] + ": closed: "): bad("closed: msg %r" % o["msg"])
for o in find("refused upstream", service="down", event="failed"):
    if not o["reason"] or not re.fullmatch(peer_re, o["peer"] or ""):
        bad("refused upstream: %r" % o)
    elif o["msg"] != o["peer"] + ": " + o["reason"]: bad("failed: msg %r" % o["msg"])
plain = find("plaintext server", service="plain", event="failed", level="err")
for o in plain:
    r = o["reason"] or ""
    if "plaintext" not in r or "\\x1b[31m" not in r or "caf\\xc3\\xa9" not in r or "\\xff" not in r:
        bad("plaintext reason not escaped as expected: %r" % r)
    if '"q\\x5c" ' not in r: bad("the quote or backslash is altered: %r" % r)
    if '{"event":"forged"}' not in r: bad("the braces and quotes are altered: %r" % r)
if any(o["event"] == "forged" for o in recs): bad("a forged event")
find("reload", event="reload", service=None, peer=None, reason=None)
for o in find("reload failed", event="reload_failed", level="err"):
    if "logFormat" not in (o["reason"] or ""): bad("reload_failed: reason %r" % o["reason"])
find("start", event="start")
find("stop", event="stop")
find("exit", event="exit")
plainlog = [o for o in recs if o["event"] == "log" and (o["peer"] or o["reason"])]
if plainlog: bad("log_msg lines with peer/reason: %r" % plainlog[:2])
print("%d JSON lines; events: %s" % (len(recs), " ".join(sorted({o["event"] for o in recs}))))
for e in errs: print("FAIL:", e)
sys.exit(1 if errs else 0)
EOF
say "JSON log OK"
