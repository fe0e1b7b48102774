#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# CApath: a CA file replaced in place (same name, same inode, the directory
# untouched) must end TLS session resumption at the next reload, as a new
# CAfile does: sessions were verified under the old anchors.  The new file
# still trusts the server (another CA and the old one), so the connection
# after the reload is a full, verified handshake, and the one after it
# resumes again.  An unchanged reload keeps resuming.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli ss openssl timeout
need_redtun
gen_certs

UP=$(free_port)
L=$(free_port)
LOG=$T/redtun.log
start_tls_redis up "$UP"
mkdir "$T/capath"
cp "$T/ca.crt" "$T/capath/ca.pem"
{
	echo "pid = \"$T/redtun.pid\";"
	echo "output = \"$LOG\";"
	echo 'debug = 7;'
	echo 'services = {'
	conf_service one "$L" "$UP" "CApath = \"$T/capath\";"
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"

conn_lines() { grep -E "\[one\] 127\.0\.0\.1:[0-9]+: connected to " "$LOG" || true; }
conn_count() { log_count "$LOG" "\[one\] 127\.0\.0\.1:[0-9]+: connected to "; }
conn_more() { [ "$(conn_count)" -gt "$1" ]; }
# ping_new: one PING on a new connection; prints its "connected" line.
ping_new() {
	local before out
	before=$(conn_count)
	out=$(rcli "$L" ping 2>&1) || true
	assert_eq PONG "$out" "PING"
	wait_until 5 conn_more "$before" || fail "no new connected line"
	conn_lines | sed -n "$((before + 1))p"
}
reload() {
	local n0
	n0=$(log_count "$LOG" "configuration reloaded")
	kill -HUP "$RT_PID"
	reloaded() { [ "$(log_count "$LOG" "configuration reloaded")" -gt "$n0" ]; }
	wait_until 10 reloaded || fail "no reload"
	assert_file_no_match "$LOG" "reload failed" "reload"
	sleep 0.3	# the worker applies the plan after the log line
}

step "resumption with the CA in CApath"
c=$(ping_new)
assert_match "$c" ", certificate verified$" "first connection: full handshake"
c=$(ping_new)
assert_match "$c" ", session resumed$" "second connection resumes"

step "an unchanged reload keeps the session"
reload
c=$(ping_new)
assert_match "$c" ", session resumed$" "after an unchanged reload"

step "the CA file replaced in place: no resumption after the reload"
ino0=$(stat -c %i "$T/capath/ca.pem")
mtime0=$(stat -c %Y "$T/capath")
# In place: the same inode, the directory's entries (and mtime) unchanged.
cat "$T/other-ca.crt" "$T/ca.crt" >"$T/capath/ca.pem"
assert_eq "$ino0" "$(stat -c %i "$T/capath/ca.pem")" "inode of the replaced file"
assert_eq "$mtime0" "$(stat -c %Y "$T/capath")" "mtime of CApath"
reload
c=$(ping_new)
assert_not_contains "$c" "session resumed" \
	"a session verified under the old CApath contents was resumed"
assert_match "$c" ", certificate verified$" "full handshake after the CA changed"
c=$(ping_new)
assert_match "$c" ", session resumed$" "and the next one resumes again"
assert_redtun_alive
say "ok"
