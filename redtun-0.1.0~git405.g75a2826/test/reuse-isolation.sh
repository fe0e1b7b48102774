#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Upstream connection reuse (reuse = true) must be invisible: client A
# leaves every kind of connection state behind (SELECT 5, MULTI with
# queued commands, SUBSCRIBE, PSUBSCRIBE, MONITOR, CLIENT TRACKING on,
# READONLY, AUTH as another ACL user, HELLO 3, WATCH, CLIENT SETNAME, all
# of them at once) and closes; client B, on the same server connection
# (CLIENT ID equal to A's), must see a fresh one: db 0, RESP2, the
# service's user, nothing pending, no transaction, no name, no watch.
# When A left CLIENT NO-EVICT on (RESET keeps it), a BLPOP pending, or
# half a command, B must get another server connection.
#
# Clients: (a) redis-cli, (b) python3-redis, (c) raw RESP over a socket,
# (d) ioredis (test/node_modules, skipped without node). The python parts
# are test/redis_clients.py (iso). Before redtun, the same drivers run
# straight against Redis as controls: one socket without RESET must fail
# every state check (so each check can fail), with RESET between A and B
# they pass, and separate connections must show different CLIENT IDs.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli openssl timeout
need_redtun
PY=/usr/bin/python3 # python3-redis is a Debian package: not in a pyenv
[ -x "$PY" ] || skip "no /usr/bin/python3"
"$PY" -c 'import redis' 2>/dev/null || skip "python3-redis missing (scripts/bootstrap --test installs it)"
RC_PY=$top_srcdir/test/redis_clients.py
gen_certs

R=$(free_port)   # TLS redis
RCL=$(free_port) # TLS redis, cluster-enabled (READONLY exists only there)
BUS=$(free_port)
L1=$(free_port)  # service "plain": reuse, no upstream AUTH
L2=$(free_port)  # service "authd": reuse, username/password
L3=$(free_port)  # service "cl": reuse, cluster upstream
LOG=$T/redtun.log
ISO_OUT=""

step "TLS redis with ACL users, and a cluster-enabled one"
start_tls_redis r "$R"
for u in "other on >otherpass ~* &* +@all" "svcuser on >svcpass ~* &* +@all"; do
	# shellcheck disable=SC2086 # the ACL rules are words
	assert_eq "OK" "$(rcli_tls "$R" ACL SETUSER $u)" "ACL SETUSER ${u%% *}"
done
start_tls_redis cl "$RCL" --cluster-enabled yes --cluster-port "$BUS" \
	--cluster-config-file "$T/cl/nodes.conf"
rcli_tls "$RCL" ACL SETUSER other on '>otherpass' '~*' '&*' +@all >/dev/null
assert_eq "OK" "$(rcli_tls "$RCL" CLUSTER ADDSLOTSRANGE 0 16383)" "cluster slots"
cluster_ok() { rcli_tls "$RCL" CLUSTER INFO | grep -q '^cluster_state:ok'; }
wait_until 10 cluster_ok || hard_error "single-node cluster not ok"

# With several workers (REDTUN_TEST_WORKERS, the ThreadSanitizer pass) each
# has its own kept connections: B may be accepted by another worker than A
# and get one of that worker's, so "B has A's CLIENT ID" is not checked
# (the state checks still are, on a kept connection).
LOOSE=()
[ "${REDTUN_TEST_WORKERS:-1}" -le 1 ] || LOOSE=(--loose-id)
iso() { # WHAT ARGS...: run redis_clients.py iso, show its lines, set ISO_OUT
	local what=$1 rc=0
	shift
	ISO_OUT=$(timeout 120 "$PY" "$RC_PY" iso --cacert "$T/ca.crt" "$@" 2>&1) || rc=$?
	printf '%s\n' "$ISO_OUT" | sed "s/^/  $what: /" | cut -c1-300
	return "$rc"
}
iso_rt() { iso "$1" ${LOOSE[@]+"${LOOSE[@]}"} "${@:2}"; } # through redtun

step "controls straight to Redis: each check can fail, RESET clears all but NO-EVICT"
iso "raw, one socket, no RESET" --via raw --mode noreset --expect-fail \
	--port "$R" --tls --ctl-port "$R" ||
	fail "raw driver: some state left by A went unnoticed by B's checks"
assert_contains "$ISO_OUT" "detected 12/12"
iso "python3-redis, one connection, no RESET" --via redispy --mode noreset --expect-fail \
	--port "$R" --tls --ctl-port "$R" ||
	fail "python3-redis driver: some state left by A went unnoticed"
assert_contains "$ISO_OUT" "detected 12/12"
iso "raw, cluster, no RESET" --via raw --mode noreset --expect-fail --cluster \
	--kinds readonly,setname --port "$RCL" --tls --ctl-port "$RCL" ||
	fail "READONLY left by A went unnoticed"
iso "raw, one socket, RESET between" --via raw --mode reset \
	--port "$R" --tls --ctl-port "$R" || fail "RESET did not give B a fresh connection"
iso "raw, separate connections" --via raw --mode separate --kinds select,noevict \
	--port "$R" --tls --ctl-port "$R" || fail "separate connections"
rc=0
iso "raw, separate connections, reuse expected" --via raw --mode tunnel --kinds setname \
	--port "$R" --tls --ctl-port "$R" || rc=$?
assert_eq 1 "$rc" "the CLIENT ID check must fail without reuse"
assert_contains "$ISO_OUT" "want same"

step "redtun with reuse = true"
{
	conf_globals
	conf_workers
	echo 'services = {'
	conf_service plain "$L1" "$R" 'reuse = true;'
	conf_service authd "$L2" "$R" 'reuse = true;' 'username = "svcuser";' 'password = "svcpass";'
	conf_service cl "$L3" "$RCL" 'reuse = true;'
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
assert_eq "PONG" "$(rcli "$L1" PING)" "PING through redtun"

same_total=0
count_same() {
	local n
	n=$(printf '%s\n' "$ISO_OUT" | grep -c 'ok (same server connection') || true
	same_total=$((same_total + n))
}

step "(c) raw RESP through redtun"
iso_rt "raw plain" --via raw --port "$L1" --ctl-port "$R" || fail "raw RESP: B did not see a fresh connection"
assert_contains "$ISO_OUT" "passed 14/14"
count_same
iso_rt "raw authd" --via raw --port "$L2" --ctl-port "$R" --user svcuser --park-auth ||
	fail "raw RESP (upstream AUTH): B did not see a fresh connection"
count_same
iso_rt "raw cluster" --via raw --cluster --kinds readonly,setname,hello3,multi,noevict \
	--port "$L3" --ctl-port "$RCL" || fail "raw RESP (cluster): READONLY etc."
count_same

step "(b) python3-redis through redtun"
iso_rt "python3-redis plain" --via redispy --port "$L1" --ctl-port "$R" ||
	fail "python3-redis: B did not see a fresh connection"
count_same
iso_rt "python3-redis authd" --via redispy --port "$L2" --ctl-port "$R" --user svcuser --park-auth ||
	fail "python3-redis (upstream AUTH): B did not see a fresh connection"
count_same
iso_rt "python3-redis cluster" --via redispy --cluster --kinds readonly,setname,noevict \
	--port "$L3" --ctl-port "$RCL" || fail "python3-redis (cluster): READONLY etc."
count_same

step "(a) redis-cli through redtun"
settle() { # ID reuse|noreuse: wait until redtun parked or closed it
	local r=()
	[ "$2" = noreuse ] || r=(--reuse)
	"$PY" "$RC_PY" settle --cacert "$T/ca.crt" --ctl-port "$R" --id "$1" "${r[@]}"
}
# cli_pair KIND reuse|noreuse CMD...: A runs CLIENT ID and CMDs (killed
# after 1 s when it blocks: SUBSCRIBE, MONITOR, BLPOP), B checks.
cli_pair() {
	local kind=$1 want=$2 aid bid out st nonce=n$RANDOM
	shift 2
	aid=$(printf '%s\n' 'CLIENT ID' "$@" | timeout 1 redis-cli -h 127.0.0.1 -p "$L1" | head -n 1) || true
	assert_match "$aid" '^[0-9]+$' "redis-cli A ($kind): CLIENT ID"
	st=$(settle "$aid" "$want")
	rcli_tls "$R" SET iso:w x >/dev/null
	out=$(printf '%s\n' 'CLIENT ID' "ECHO $nonce" 'GET iso:k0' 'GET iso:k5' EXEC 'GET iso:q' \
		'ACL WHOAMI' 'CLIENT GETNAME' 'CLIENT TRACKINGINFO' 'CLIENT INFO' \
		MULTI 'SET iso:wx 1' EXEC | rcli "$L1")
	bid=$(printf '%s\n' "$out" | head -n 1)
	assert_eq "$nonce|v0||ERR EXEC without MULTI|||default||flags|off|redirect|-1|prefixes|" \
		"$(printf '%s\n' "$out" | sed -n 2,15p | paste -sd '|')" "redis-cli B after A's $kind"
	assert_match "$(printf '%s\n' "$out" | sed -n 16p)" \
		' name= .*flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 .* user=default .*resp=2' \
		"redis-cli B's CLIENT INFO after A's $kind"
	assert_eq "OK|QUEUED|OK" "$(printf '%s\n' "$out" | sed -n 17,19p | paste -sd '|')" \
		"redis-cli B's MULTI/EXEC after A's $kind (a WATCH left over aborts it)"
	assert_eq "0 0" "$(rcli_tls "$R" PUBLISH iso:ch m) $(rcli_tls "$R" PUBLISH iso:p1 m)" \
		"subscribers left after A's $kind"
	if [ "$want" = reuse ] && [ ${#LOOSE[@]} -gt 0 ]; then
		: # several workers: B may get another worker's kept connection
	elif [ "$want" = reuse ]; then
		assert_eq "$aid" "$bid" "redis-cli B must get A's server connection ($kind, A's was $st)"
		same_total=$((same_total + 1))
	else
		assert_ne "$aid" "$bid" "redis-cli B must not get A's server connection ($kind)"
	fi
	say "redis-cli $kind: A=$aid ($st) B=$bid ok"
	settle "$bid" reuse >/dev/null # B's is parked before the next A
	rcli_tls "$R" DEL iso:q iso:wx >/dev/null
}
rcli_tls "$R" SET iso:k0 v0 >/dev/null
rcli_tls "$R" -n 5 SET iso:k5 v5 >/dev/null
cli_pair select reuse 'SELECT 5'
cli_pair multi reuse MULTI 'SET iso:q 1' 'INCR iso:q'
cli_pair subscribe reuse 'SUBSCRIBE iso:ch'
cli_pair psubscribe reuse 'PSUBSCRIBE iso:p*'
cli_pair monitor reuse MONITOR
cli_pair tracking reuse 'CLIENT TRACKING on' 'GET iso:k0'
cli_pair auth reuse 'AUTH other otherpass'
cli_pair hello3 reuse 'HELLO 3'
cli_pair watch reuse 'WATCH iso:w'
cli_pair setname reuse 'CLIENT SETNAME alice'
cli_pair noevict noreuse 'CLIENT NO-EVICT on'
cli_pair blpop noreuse 'BLPOP iso:empty 0'

step "(d) ioredis through redtun"
if command -v node >/dev/null 2>&1 && [ -d "$top_srcdir/test/node_modules/ioredis" ]; then
	aid=$(timeout 20 node "$top_srcdir/test/ioredis_check.js" a "$L1")
	assert_match "$aid" '^[0-9]+$' "ioredis A: CLIENT ID"
	st=$(settle "$aid" reuse)
	out=$(timeout 20 node "$top_srcdir/test/ioredis_check.js" b "$L1")
	if [ ${#LOOSE[@]} -gt 0 ]; then
		assert_eq "v0 nil nil default" "${out#* }" "ioredis B (A: db 5, connectionName, CLIENT TRACKING on)"
	else
		assert_eq "$aid v0 nil nil default" "$out" \
			"ioredis B (A: db 5, connectionName, CLIENT TRACKING on; A's was $st)"
		same_total=$((same_total + 1))
	fi
	out=$(timeout 30 node "$top_srcdir/test/ioredis_check.js" basic "$L1") ||
		fail "ioredis basics through redtun: $out"
	say "ioredis: $(printf '%s' "$out" | tail -n 1)"
else
	say "SKIPPED ioredis part: node or test/node_modules/ioredis missing (scripts/bootstrap --test)"
fi

step "redtun logged each reuse"
# Info lines saying "reused", not the ones saying "not reused".
n=$(($(log_count "$LOG" ' info .*reused') - $(log_count "$LOG" 'not reused')))
say "B got A's server connection $same_total times; \"reused\" lines in the log: $n"
{ [ "$n" -ge "$same_total" ] && [ "$n" -ge 1 ]; } || fail "only $n \"reused\" log lines for $same_total reuses"
figure reuse_pairs "$same_total"
assert_redtun_alive
say "ok"
