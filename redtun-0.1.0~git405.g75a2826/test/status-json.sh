#!/bin/bash
# /status (issue 14) read with python3's json module against known state:
# services, mode, accept, listening workers, targets; a reload (generation
# 2, reloads.ok 1) and a failed one (reloads.failed 1, last_error with
# file:line, generation kept, endpoint serving); workers = 2; /healthz.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli python3 ss openssl timeout
need_redtun
gen_certs

UP=$(free_port)
DEAD=$(free_port) # nothing listens there
L1=$(free_port)
L2=$(free_port)
SP=$(free_port)
C="python3 $top_srcdir/test/status_http_client.py $SP"
start_tls_redis up "$UP"

# conf WORKERS [EXTRA SERVICE]: the configuration.
conf() {
	conf_globals
	echo "status = \"127.0.0.1:$SP\";"
	echo "workers = $1;"
	echo 'services = {'
	conf_service cache "$L1" "$UP"
	printf '  down = {\n    client = true;\n    accept = "127.0.0.1:%s";\n' "$L2"
	printf '    connect = "localhost:%s";\n  };\n' "$DEAD"
	[ -z "${2:-}" ] || printf '%s\n' "$2"
	echo '};'
}

# body PATH: the body of GET PATH.
body() { $C get "$1" | sed '1,/^$/d'; }

# check PYTHON-EXPR...: each expression, over j (the /status JSON), true.
check() {
	body /status >"$T/status.json"
	python3 - "$T/status.json" "$@" <<'PY' || fail "/status: $(cat "$T/status.json")"
import json, sys
j = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in j["services"]}
for e in sys.argv[2:]:
    if not eval(e):
        print("false: " + e, file=sys.stderr)
        sys.exit(1)
PY
}

run_workers() {
	local w=$1
	step "workers = $w: start"
	conf "$w" >"$T/redtun.conf"
	start_redtun "$T/redtun.conf"
	wait_for_port "$SP"
	assert_eq "PONG" "$(rcli "$L1" ping)" "PING through cache"
	rcli "$L2" ping >/dev/null 2>&1 || true # marks the target down

	step "workers = $w: /status against the known state"
	check "j['workers'] == $w" "j['generation'] == 1" \
		"j['config'] == '$T/redtun.conf'" "j['format'] == 'libconfig'" \
		"j['healthy'] is True" "j['health_reason'] is None" \
		"j['reloads'] == {'ok': 0, 'failed': 0, 'last_time': None, 'last_ok': None, 'last_error': None, 'in_progress': False}" \
		"isinstance(j['aesni'], bool) and j['version'] and j['wolfssl'] and j['libuv']" \
		"j['uptime_seconds'] >= 0 and j['start_time'] > 1600000000" \
		"sorted(s) == ['cache', 'down']" \
		"s['cache']['mode'] == 'client' and s['cache']['configured'] is True" \
		"s['cache']['node'] is False" \
		"s['cache']['accept'] == '127.0.0.1:$L1'" \
		"s['cache']['listening_workers'] == $w" \
		"s['down']['listening_workers'] == $w" \
		"s['cache']['connections']['total'] >= 1" \
		"s['cache']['targets'] == [{'name': 'localhost:$UP', 'state': 'up', 'backoff_seconds': 0, 'last_error': None}]" \
		"s['down']['targets'][0]['name'] == 'localhost:$DEAD'" \
		"s['down']['targets'][0]['state'] == 'down'" \
		"s['down']['failures']['refused'] >= 1" \
		"set(s['cache']['failures']) == {'verify_chain', 'hostname', 'expired', 'protocol_version', 'alert', 'timeout', 'refused', 'dns', 'limit', 'other'}"
	assert_eq "ok" "$(body /healthz)" "/healthz"

	step "workers = $w: a reload with a new service: generation 2"
	conf "$w" "$(conf_service extra "$(free_port)" "$UP")" >"$T/redtun.conf"
	kill -HUP "$RT_PID"
	# The commit bumps the generation, then each worker applies its plan:
	# the new listener is up on every worker a moment later.
	wait_until 10 check "j['generation'] == 2" \
		"'extra' in s and s['extra']['listening_workers'] == $w" ||
		fail "generation 2 with extra listening not reached: $(cat "$T/status.json")"
	check "j['reloads']['ok'] == 1" "j['reloads']['failed'] == 0" \
		"j['reloads']['last_ok'] is True" "j['reloads']['last_time'] > 0"

	step "workers = $w: a failed reload: counted, generation kept"
	printf 'services = {\n  broken = ;\n' >"$T/redtun.conf"
	kill -HUP "$RT_PID"
	wait_until 10 check "j['reloads']['failed'] == 1" ||
		fail "failed reload not counted: $(cat "$T/status.json")"
	check "j['generation'] == 2" "j['reloads']['ok'] == 1" \
		"j['reloads']['last_ok'] is False" \
		"'redtun.conf:2' in j['reloads']['last_error']" \
		"j['healthy'] is True"
	assert_eq "PONG" "$(rcli "$L1" ping)" "PING after the failed reload"
	assert_eq "ok" "$(body /healthz)" "/healthz after the failed reload"
	kill_wait "$RT_PID"
}

run_workers 1
run_workers 2
