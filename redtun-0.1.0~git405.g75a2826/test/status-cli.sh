#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# "redtun status CONFIG": a daemon with the status endpoint on and two
# client services, "good" before a real TLS redis-server and "refused"
# whose target refuses connections, one connection through each.  The
# table names both services, their mode and the down target with its
# reason, and exits 0 (every service listens); --json is JSON with both
# services; a stopped daemon is exit 2 naming the address; an answer that
# is not /status's is exit 2; a configuration without status is exit 3.
set -eu

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli ss openssl timeout python3
need_redtun
gen_certs

step "a daemon with status on, two services"
P=$(free_port); svc_add good "$P"
start_tls_redis good "$P"
P=$(free_port); svc_add refused "$P"    # nothing listens there
SP=$(free_port)
{
	echo "status = \"127.0.0.1:$SP\";"
	conf_workers
	svcs_conf
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
wait_for_port "$SP"

step "one connection through each"
assert_eq "PONG" "$(rcli "$(svc_lport good)" ping)" "good service"
out=$(rcli "$(svc_lport refused)" ping 2>&1) || true
assert_contains "$out" "ERR redtun [refused]" "the refused service's answer"

step "the table"
rc=0
timeout 10 "$REDTUN" status "$T/redtun.conf" >"$T/table.out" 2>"$T/table.err" || rc=$?
cat "$T/table.out"
assert_eq 0 "$rc" "redtun status: exit status (healthy), stderr: $(cat "$T/table.err")"
table=$(cat "$T/table.out")
assert_match "$table" '^redtun [^ ]+ \(wolfSSL .*\), config .*redtun\.conf \(generation 1\), up [0-9]+s, [0-9]+ workers?$' "header"
assert_match "$table" '^last reload: none' "no reload yet"
assert_match "$table" '^SERVICE +MODE +ACCEPT +LISTEN +ACTIVE +TOTAL +FAILED +TARGETS$' "column heads"
assert_match "$table" "^good +client +127\.0\.0\.1:$(svc_lport good) +([0-9]+)/\1 +[01] +1 +0 +1/1 up$" "good's row"
assert_match "$table" "^refused +client +127\.0\.0\.1:$(svc_lport refused) +([0-9]+)/\1 +[01] +1 +[1-9][0-9]* +0/1 up$" "refused's row"
assert_match "$table" "^  down: localhost:$(svc_uport refused) \(.*[Rr]efused.*\)$" "the down target and why"
assert_match "$table" '^health: ok$' "health"

step "--json"
rc=0
timeout 10 "$REDTUN" status --json "$T/redtun.conf" >"$T/status.json" 2>"$T/json.err" || rc=$?
assert_eq 0 "$rc" "redtun status --json: exit status, stderr: $(cat "$T/json.err")"
python3 - "$T/status.json" "$(svc_uport refused)" <<'EOF' || fail "--json: see above"
import json, sys
d = json.load(open(sys.argv[1]))
svcs = {s["name"]: s for s in d["services"]}
assert set(svcs) == {"good", "refused"}, sorted(svcs)
assert d["healthy"] is True, d.get("health_reason")
assert svcs["good"]["mode"] == "client" and svcs["good"]["connections"]["total"] == 1, svcs["good"]
t = svcs["refused"]["targets"]
assert [x["name"] for x in t] == ["localhost:" + sys.argv[2]] and t[0]["state"] == "down", t
assert "refused" in (t[0]["last_error"] or "").lower(), t
EOF
# The re-indented JSON: one member a line.
assert_file_match "$T/status.json" '^  "services": \[$' "--json is indented"

step "files the caller cannot read do not matter (names only)"
# The operator asking may not be allowed to read the CA file or key: the
# command reads the configuration for the address and opens nothing else.
grep -q 'CAfile' "$T/redtun.conf" || hard_error "the configuration names no CAfile"
sed 's|CAfile = "[^"]*"|CAfile = "'"$T"'/no-such-ca.crt"|' "$T/redtun.conf" >"$T/nofiles.conf"
rc=0
timeout 10 "$REDTUN" status "$T/nofiles.conf" >"$T/nofiles.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "a missing CAfile: exit status ($(cat "$T/nofiles.out"))"
assert_file_match "$T/nofiles.out" '^health: ok$' "a missing CAfile: the table"
rc=0
"$REDTUN" -t "$T/nofiles.conf" >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "the same file fails -t (the check is real)"

step "an answer that is not /status's: exit 2"
BP=$(free_port)
spawn "$T/bogus.log" timeout 10 python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); c.recv(4096)
c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<html>\x1b[2J</html>")
c.close()' "$BP"
wait_for_port "$BP"
sed "s/^status = .*/status = \"127.0.0.1:$BP\";/" "$T/redtun.conf" >"$T/bogus.conf"
rc=0
err=$(timeout 10 "$REDTUN" status "$T/bogus.conf" 2>&1 >/dev/null) || rc=$?
assert_eq 2 "$rc" "a bogus answer: exit status ($err)"
assert_contains "$err" "127.0.0.1:$BP: not JSON" "a bogus answer: the message"

step "the daemon stopped: exit 2, naming the address"
kill_wait "$RT_PID"
rc=0
err=$(timeout 10 "$REDTUN" status "$T/redtun.conf" 2>&1 >/dev/null) || rc=$?
assert_eq 2 "$rc" "no daemon: exit status ($err)"
assert_contains "$err" "status endpoint 127.0.0.1:$SP: cannot connect" "no daemon: the message"

step "a configuration without status: exit 3"
grep -v '^status = ' "$T/redtun.conf" >"$T/nostatus.conf"
rc=0
err=$(timeout 10 "$REDTUN" status "$T/nostatus.conf" 2>&1 >/dev/null) || rc=$?
assert_eq 3 "$rc" "no status setting: exit status ($err)"
assert_contains "$err" "no status endpoint (set status = \"127.0.0.1:9187\")"
rc=0
err=$(timeout 10 "$REDTUN" status "$T/nosuch.conf" 2>&1 >/dev/null) || rc=$?
assert_eq 3 "$rc" "no such file: exit status ($err)"

say "PASS"
