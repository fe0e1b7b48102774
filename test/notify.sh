#!/bin/bash
# The service manager's notification protocol (sd_notify(3)), spoken to a
# unix datagram socket of the test's own, as systemd would listen: READY=1
# once the accept port takes connections, a STATUS= line, WATCHDOG=1 every
# WATCHDOG_USEC/2, RELOADING=1 + MONOTONIC_USEC= on SIGHUP then READY=1 (a
# failed reload says so in STATUS=), STOPPING=1 on SIGTERM.  Then the
# abstract namespace ("@name"), and a WATCHDOG_PID that is not redtun's.
# Run against a build with libsystemd (sd_notify) and one configured
# --without-systemd (redtun's own few lines of the protocol).
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd python3 ss openssl timeout
need_redtun
gen_certs

L=$(free_port)
UP=$(free_port)
write_conf() { # [EXTRA LINE]
	{
		conf_globals
		printf '%s\n' "${1:-}"
		echo 'services = {'
		conf_service one "$L" "$UP"
		echo '};'
	} >"$T/redtun.conf.new"
	mv "$T/redtun.conf.new" "$T/redtun.conf"
}
write_conf

# The listener: one JSON line per datagram in $2: {"t": CLOCK_MONOTONIC
# in us at receipt, "msg": the text, "port_ok": whether port $3 accepted a
# TCP connection right then (checked on READY=1 only)}.  Ends after 30 s
# or once $T/stop-listener exists.
cat >"$T/listen.py" <<'EOF'
import json, os, socket, sys, time
addr, out, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
s.settimeout(0.1)
open(out + ".ready", "w").close()
end = time.monotonic() + 30
with open(out, "a", buffering=1) as f:
    while time.monotonic() < end and not os.path.exists(os.environ["T"] + "/stop-listener"):
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        rec = {"t": time.monotonic_ns() // 1000, "msg": data.decode("utf-8", "replace")}
        if "READY=1" in rec["msg"].split("\n"):
            c = socket.socket()
            c.settimeout(1)
            rec["port_ok"] = c.connect_ex(("127.0.0.1", port)) == 0
            c.close()
        f.write(json.dumps(rec) + "\n")
EOF

# The checker: python3 check.py FILE FROM WHAT [ARG]: the records of FILE
# from line FROM on show WHAT (see each case); else exit with why.
cat >"$T/check.py" <<'EOF'
import json, sys, time
path, frm, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
recs = [json.loads(l) for l in open(path)][frm:]
def fields(r):
    d = {}
    for line in r["msg"].split("\n"):
        if "=" in line:
            k, v = line.split("=", 1)
            d[k] = v
    return d
fs = [fields(r) for r in recs]
def first(key, val=None, start=0):
    for i in range(start, len(fs)):
        if key in fs[i] and (val is None or fs[i][key] == val):
            return i
    return -1
if what == "ready":            # READY=1 with the port open, STATUS= with it
    i = first("READY", "1")
    if i < 0: sys.exit("no READY=1")
    if not recs[i].get("port_ok"): sys.exit("READY=1 before the port accepted connections")
    st = fs[i].get("STATUS", "")
    if "1 service" not in st: sys.exit("STATUS=%r lacks the service count" % st)
    if any("RELOADING" in f or "STOPPING" in f for f in fs[:i]): sys.exit("RELOADING/STOPPING before READY")
elif what == "watchdog":       # N pings at least, spaced about right
    n = int(sys.argv[4])
    ts = [r["t"] for r, f in zip(recs, fs) if f.get("WATCHDOG") == "1"]
    if len(ts) < n: sys.exit("%d WATCHDOG=1, wanted %d" % (len(ts), n))
    if len(ts) > 1 and min(b - a for a, b in zip(ts, ts[1:])) < 100000:
        sys.exit("WATCHDOG=1 pings closer than 100 ms: %r" % ts)
elif what == "no-watchdog":
    if first("WATCHDOG") >= 0: sys.exit("WATCHDOG=1 sent for another pid")
elif what == "reload":         # RELOADING=1 MONOTONIC_USEC=now, then READY=1
    ok = sys.argv[4] == "ok"
    i = first("RELOADING", "1")
    if i < 0: sys.exit("no RELOADING=1")
    mono = int(fs[i].get("MONOTONIC_USEC", "-1"))
    if abs(mono - recs[i]["t"]) > 3000000:
        sys.exit("MONOTONIC_USEC=%d is not CLOCK_MONOTONIC now (%d)" % (mono, recs[i]["t"]))
    j = first("READY", "1", i + 1)
    if j < 0: sys.exit("no READY=1 after RELOADING=1")
    st = fs[j].get("STATUS", "")
    if ok and "failed" in st: sys.exit("STATUS=%r after a good reload" % st)
    if not ok and not st.startswith("reload failed: "): sys.exit("STATUS=%r after a failed reload" % st)
elif what == "stopping":
    if first("STOPPING", "1") < 0: sys.exit("no STOPPING=1")
else:
    sys.exit("unknown check " + what)
EOF

NREC=0
got() { [ -s "$OUT" ] && [ "$(wc -l <"$OUT")" -gt "$NREC" ] && python3 "$T/check.py" "$OUT" "$NREC" "$@" 2>/dev/null; }
expect() { # WHAT [ARG]: wait up to 5 s for it in the records since NREC
	wait_until 5 got "$@" || {
		python3 "$T/check.py" "$OUT" "$NREC" "$@" || true
		cat "$OUT" >&2
		fail "notify: $*"
	}
}
mark() { NREC=$(wc -l <"$OUT"); }

start_listener() { # ADDR: sets OUT, LPID
	OUT=$T/notify-$((++NLIST)).jsonl
	NREC=0
	rm -f "$T/stop-listener"
	: >"$OUT"
	spawn "$T/listener-$NLIST.log" python3 "$T/listen.py" "$1" "$OUT" "$L"
	LPID=$LAST_PID
	wait_until 5 test -e "$OUT.ready" || hard_error "the notify listener did not start"
}
stop_all() {
	kill -TERM "$RPID" 2>/dev/null || true
	wait_for_exit "$RPID" 10 || fail "redtun did not exit on SIGTERM"
	touch "$T/stop-listener"
	wait_for_exit "$LPID" 5 || true
}
NLIST=0

step "path socket: READY=1 once listening, STATUS=, watchdog every 200 ms"
start_listener "$T/notify.sock"
# exec: WATCHDOG_PID is the shell's pid, which redtun then has.
spawn "$T/redtun-1.err" env NOTIFY_SOCKET="$T/notify.sock" \
	WATCHDOG_USEC=400000 sh -c 'WATCHDOG_PID=$$ exec "$0" -f "$1"' \
	"$REDTUN" "$T/redtun.conf"
RPID=$LAST_PID
expect ready
mark
sleep 1.2
expect watchdog 4
pid_alive "$RPID" || fail "redtun died"

step "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1"
mark
kill -HUP "$RPID"
expect reload ok
wait_for_log "$T/redtun.log" "configuration reloaded"

step "SIGHUP with a broken file: RELOADING=1, READY=1, STATUS=reload failed"
cp "$T/redtun.conf" "$T/redtun.conf.good"
write_conf 'logFormat = 17;'
mark
kill -HUP "$RPID"
expect reload failed
pid_alive "$RPID" || fail "redtun died on a broken reload"
mv "$T/redtun.conf.good" "$T/redtun.conf"
mark
kill -HUP "$RPID"
expect reload ok

step "SIGTERM: STOPPING=1"
mark
kill -TERM "$RPID"
expect stopping
stop_all

step "abstract socket; WATCHDOG_PID of another process: no pings"
ABS="@redtun-notify-$$-$RANDOM"
start_listener "$ABS"
spawn "$T/redtun-2.err" env NOTIFY_SOCKET="$ABS" WATCHDOG_USEC=100000 \
	WATCHDOG_PID=1 "$REDTUN" -f "$T/redtun.conf"
RPID=$LAST_PID
expect ready
sleep 0.5
python3 "$T/check.py" "$OUT" 0 no-watchdog || fail "watchdog pings for WATCHDOG_PID=1"
mark
kill -TERM "$RPID"
expect stopping
stop_all
say "notify protocol OK"
