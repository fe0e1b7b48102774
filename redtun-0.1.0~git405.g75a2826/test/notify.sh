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

# The listener, for every ADDR OUT pair: one JSON line per datagram to
# ADDR in OUT: {"t": CLOCK_MONOTONIC in us at receipt, "msg": the text,
# "port_ok": whether port PORT accepted a TCP connection right then
# (checked on READY=1 only)}.  Ends after 40 s or once $T/stop-listener
# exists.  One process for both sockets: python3 starts slowly on a busy
# machine.
cat >"$T/listen.py" <<'EOF'
import json, os, select, socket, sys, time
port, pairs = int(sys.argv[1]), sys.argv[2:]
socks = {}
for addr, out in zip(pairs[::2], pairs[1::2]):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
    socks[s] = open(out, "a", buffering=1)
open(os.environ["T"] + "/listener.ready", "w").close()
end = time.monotonic() + 40
while time.monotonic() < end and not os.path.exists(os.environ["T"] + "/stop-listener"):
    for s in select.select(list(socks), [], [], 0.1)[0]:
        data = s.recv(65536)
        rec = {"t": time.monotonic_ns() // 1000, "msg": data.decode("utf-8", "replace")}
        if "READY=1" in rec["msg"].split("\n"):
            c = socket.socket()
            c.settimeout(1)
            rec["port_ok"] = c.connect_ex(("127.0.0.1", port)) == 0
            c.close()
        socks[s].write(json.dumps(rec) + "\n")
EOF

# The checker: python3 check.py FILE FROM WHAT [ARG]: the records of FILE
# from line FROM on show WHAT (see each case); else exit with why.  Run
# once for all cases at the end (verify); the waits before use grep.
cat >"$T/check.py" <<'EOF'
import json, re, sys
def check(path, frm, what, *arg):
  recs = [json.loads(l) for l in open(path)][int(frm):]
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
      if i < 0: return ("no READY=1")
      if not recs[i].get("port_ok"): return ("READY=1 before the port accepted connections")
      st = fs[i].get("STATUS", "")
      if not re.match(r"1 service, 0 connections$", st): return ("STATUS=%r: not \"1 service, 0 connections\"" % st)
      if any("RELOADING" in f or "STOPPING" in f for f in fs[:i]): return ("RELOADING/STOPPING before READY")
  elif what == "watchdog":       # N pings at least, spaced about right
      n = int(arg[0])
      ts = [r["t"] for r, f in zip(recs, fs) if f.get("WATCHDOG") == "1"]
      if len(ts) < n: return ("%d WATCHDOG=1, wanted %d" % (len(ts), n))
      # Stamped on receipt: a stall on a loaded machine can deliver two
      # back to back, so judge the average pace, not one gap (every
      # 200 ms expected; a ping loop gone wild would be far faster).
      if len(ts) > 2 and ts[-1] - ts[0] < (len(ts) - 2) * 150000:
          return ("WATCHDOG=1 pings faster than every 150 ms: %r" % ts)
      if ts[n - 1] - ts[0] > (n - 1) * 400000 + 600000:
          return ("WATCHDOG=1 pings further apart than WATCHDOG_USEC: %r" % ts)
  elif what == "no-watchdog":
      if first("WATCHDOG") >= 0: return ("WATCHDOG=1 sent for another pid")
  elif what == "reload":         # RELOADING=1 MONOTONIC_USEC=now, then READY=1
      ok = arg[0] == "ok"
      i = first("RELOADING", "1")
      if i < 0: return ("no RELOADING=1")
      mono = int(fs[i].get("MONOTONIC_USEC", "-1"))
      if abs(mono - recs[i]["t"]) > 3000000:
          return ("MONOTONIC_USEC=%d is not CLOCK_MONOTONIC now (%d)" % (mono, recs[i]["t"]))
      j = first("READY", "1", i + 1)
      if j < 0: return ("no READY=1 after RELOADING=1")
      st = fs[j].get("STATUS", "")
      if ok and "failed" in st: return ("STATUS=%r after a good reload" % st)
      if not ok and not st.startswith("reload failed: "): return ("STATUS=%r after a failed reload" % st)
  elif what == "stopping":
      if first("STOPPING", "1") < 0: return ("no STOPPING=1")
  else:
      return ("unknown check " + what)
  return None
bad = 0
for spec in sys.argv[1:]:
  why = check(*spec.split(" "))
  if why:
    print("notify: FAIL: %s: %s" % (spec, why))
    bad = 1
sys.exit(bad)
EOF

NREC=0
CHECKS=()
since() { tail -n "+$((NREC + 1))" "$OUT"; }
# The cheap part of each check, polled while waiting.
seen() { # WHAT [ARG]
	case $1 in
	ready) since | grep -q 'READY=1' ;;
	watchdog) [ "$(since | grep -c 'WATCHDOG=1')" -ge "$2" ] ;;
	reload) since | grep -A 1000 'RELOADING=1' | grep -q 'READY=1' ;;
	stopping) since | grep -q 'STOPPING=1' ;;
	esac
}
expect() { # WHAT [ARG]: wait up to 5 s for it; checked in full by verify
	wait_until 5 seen "$@" || { cat "$OUT" >&2; fail "notify: no $*"; }
	CHECKS+=("$OUT $NREC $*")
}
verify() { # every check at once: python3 is slow to start
	python3 "$T/check.py" "${CHECKS[@]}" || {
		cat "$T"/*.jsonl >&2
		fail "the notifications (above)"
	}
}
mark() { NREC=$(wc -l <"$OUT"); }
stop_redtun() {
	kill -TERM "$RPID" 2>/dev/null || true
	wait_for_exit "$RPID" 10 || fail "redtun did not exit on SIGTERM"
}

ABS="@redtun-notify-$$-$RANDOM"
: >"$T/path.jsonl"
: >"$T/abs.jsonl"
spawn "$T/listener.log" python3 "$T/listen.py" "$L" "$T/notify.sock" \
	"$T/path.jsonl" "$ABS" "$T/abs.jsonl"
wait_until 10 test -e "$T/listener.ready" || hard_error "the notify listener did not start"

step "path socket: READY=1 once listening, STATUS=, watchdog every 200 ms"
OUT=$T/path.jsonl
# exec: WATCHDOG_PID is the shell's pid, which redtun then has.
spawn "$T/redtun-1.err" env NOTIFY_SOCKET="$T/notify.sock" \
	WATCHDOG_USEC=400000 sh -c 'WATCHDOG_PID=$$ exec "$0" -f "$1"' \
	"$REDTUN" "$T/redtun.conf"
RPID=$LAST_PID
expect ready
mark
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
stop_redtun

step "abstract socket; WATCHDOG_PID of another process: no pings"
OUT=$T/abs.jsonl
NREC=0
spawn "$T/redtun-2.err" env NOTIFY_SOCKET="$ABS" WATCHDOG_USEC=100000 \
	WATCHDOG_PID=1 "$REDTUN" -f "$T/redtun.conf"
RPID=$LAST_PID
expect ready
sleep 0.5
CHECKS+=("$OUT 0 no-watchdog")
mark
kill -TERM "$RPID"
expect stopping
stop_redtun
verify
say "notify protocol OK"
