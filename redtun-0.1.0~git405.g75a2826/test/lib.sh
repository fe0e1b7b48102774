# shellcheck shell=bash disable=SC2120
# Common helpers for the redtun integration tests. Source it first thing:
#
#   . "${top_srcdir:-$(dirname "$0")/..}/test/lib.sh"
#
# Exit codes follow the automake convention: 0 pass, 1 fail, 77 skip,
# 99 hard error (the test could not run: missing tool, setup failure).
#
# Environment (exported by TESTS_ENVIRONMENT under "make check", optional
# when a test is run by hand):
#   top_srcdir    source tree (default: the parent of this file's directory)
#   top_builddir  build tree (default: top_srcdir)
#   REDTUN        the binary under test (default: $top_builddir/src/redtun)
#   KEEP_TMP=1    keep the per-test temp dir (its path is printed)
#   TEST_VERBOSE=1  print the commands the helpers run
#   REDTUN_TEST_WORKERS=N  "workers = N" in the configs of the tests that
#                 call conf_workers (the ThreadSanitizer pass of .ci/run)

set -eu

# ---------------------------------------------------------------------------
# Locations

_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$_lib_dir/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${REDTUN:=$top_builddir/src/redtun}"
export top_srcdir top_builddir REDTUN
GEN_CERTS="$top_srcdir/scripts/gen-test-certs"
TEST_NAME=$(basename "$0" .sh)

# Everything a test creates lives in $T.
T=$(mktemp -d "${TMPDIR:-/tmp}/redtun-$TEST_NAME.XXXXXX")
export T

_PIDS=()               # background processes started by this test
_PIDFILES=("$T/redtun.pid")   # redtun pidfiles to kill at exit
_PORTS_FILE="$T/.ports"       # ports handed out by free_port (survives $(...))
: >"$_PORTS_FILE"

# ---------------------------------------------------------------------------
# Messages and assertions

say() { printf '%s: %s\n' "$TEST_NAME" "$*"; }
step() { printf '\n=== %s: %s\n' "$TEST_NAME" "$*"; }

fail() {
	printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}

# Hard error: the test could not be carried out.
hard_error() {
	printf '%s: ERROR: %s\n' "$TEST_NAME" "$*" >&2
	exit 99
}

skip() {
	printf '%s: SKIP: %s\n' "$TEST_NAME" "${*:-skipped}" >&2
	exit 77
}

# Render a value for a failure message (shows control characters, bounded).
_show() {
	local v=$1
	if [ "${#v}" -gt 2000 ]; then
		v="${v:0:2000}... (${#1} bytes)"
	fi
	printf '%s' "$v" | cat -v
}

assert_eq() { # EXPECTED ACTUAL [WHAT]
	if [ "$1" != "$2" ]; then
		printf '%s: FAIL: %s\n  expected: [%s]\n  actual:   [%s]\n' \
			"$TEST_NAME" "${3:-values differ}" "$(_show "$1")" "$(_show "$2")" >&2
		exit 1
	fi
}

assert_ne() { # UNEXPECTED ACTUAL [WHAT]
	if [ "$1" = "$2" ]; then
		printf '%s: FAIL: %s\n  did not expect: [%s]\n' \
			"$TEST_NAME" "${3:-values are equal}" "$(_show "$2")" >&2
		exit 1
	fi
}

assert_contains() { # HAYSTACK NEEDLE [WHAT]   (fixed string)
	case $1 in
	*"$2"*) ;;
	*)
		printf '%s: FAIL: %s\n  expected to contain: [%s]\n  actual: [%s]\n' \
			"$TEST_NAME" "${3:-substring missing}" "$(_show "$2")" "$(_show "$1")" >&2
		exit 1
		;;
	esac
}

assert_not_contains() { # HAYSTACK NEEDLE [WHAT]
	case $1 in
	*"$2"*)
		printf '%s: FAIL: %s\n  expected NOT to contain: [%s]\n  actual: [%s]\n' \
			"$TEST_NAME" "${3:-unexpected substring}" "$(_show "$2")" "$(_show "$1")" >&2
		exit 1
		;;
	esac
}

assert_match() { # STRING ERE [WHAT]
	if ! printf '%s\n' "$1" | grep -Eq -- "$2"; then
		printf '%s: FAIL: %s\n  expected to match: /%s/\n  actual: [%s]\n' \
			"$TEST_NAME" "${3:-no match}" "$2" "$(_show "$1")" >&2
		exit 1
	fi
}

# FILE contains a line matching ERE.
assert_file_match() { # FILE ERE [WHAT]
	if ! grep -Eq -- "$2" "$1" 2>/dev/null; then
		printf '%s: FAIL: %s\n  no line of %s matches /%s/; last lines:\n' \
			"$TEST_NAME" "${3:-pattern not found}" "$1" "$2" >&2
		tail -n 30 "$1" 2>/dev/null | sed 's/^/    | /' >&2 || true
		exit 1
	fi
}

assert_file_no_match() { # FILE ERE [WHAT]
	if grep -Eq -- "$2" "$1" 2>/dev/null; then
		printf '%s: FAIL: %s\n  %s unexpectedly matches /%s/:\n' \
			"$TEST_NAME" "${3:-pattern found}" "$1" "$2" >&2
		grep -E -- "$2" "$1" | head -n 10 | sed 's/^/    | /' >&2
		exit 1
	fi
}

# Escape a fixed string for use inside an ERE.
re_quote() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

# ---------------------------------------------------------------------------
# Waiting (every loop is bounded)

# wait_for_log FILE ERE [TIMEOUT=10]: poll every 0.1 s; fails the test on
# timeout (printing the end of FILE). Use log_has for a non-fatal check.
wait_for_log() {
	local file=$1 re=$2 timeout=${3:-10} i n
	n=$((timeout * 10))
	for ((i = 0; i < n; i++)); do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	printf '%s: FAIL: timed out after %ss waiting for /%s/ in %s; last lines:\n' \
		"$TEST_NAME" "$timeout" "$re" "$file" >&2
	tail -n 30 "$file" 2>/dev/null | sed 's/^/    | /' >&2 || true
	exit 1
}

log_has() { grep -Eq -- "$2" "$1" 2>/dev/null; }

# Number of lines of FILE matching ERE (0 when FILE is missing).
log_count() {
	local n
	n=$(grep -Ec -- "$2" "$1" 2>/dev/null) || true
	echo "${n:-0}"
}

# wait_until TIMEOUT CMD...: run CMD every 0.1 s until it succeeds.
wait_until() {
	local timeout=$1 i n
	shift
	n=$((timeout * 10))
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

port_listening() { # PORT
	ss -ltnH 2>/dev/null | awk '{print $4}' | grep -Eq "[:.]$1\$"
}

wait_for_port() { # PORT [TIMEOUT=10]
	wait_until "${2:-10}" port_listening "$1" ||
		hard_error "nothing listens on port $1 after ${2:-10}s"
}

pid_alive() { # PID
	[ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null &&
		! grep -q '^State:.*[Zz]' "/proc/$1/status" 2>/dev/null
}

# wait_for_exit PID [TIMEOUT=10]: returns 1 if still alive at the end.
wait_for_exit() {
	local pid=$1 timeout=${2:-10} i n
	n=$((timeout * 10))
	for ((i = 0; i < n; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------------------
# Ports

# free_port: print a random TCP port in 20000..60000 that nothing uses and
# that was not handed out earlier in this test.
free_port() {
	local i p used
	used=$(ss -tanH 2>/dev/null | awk '{print $4}' | sed 's/.*[:.]//')
	for ((i = 0; i < 200; i++)); do
		# Below the ephemeral range (32768+), where outgoing connections
		# of parallel tests could take a port before it is bound.
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12700))
		grep -qx "$p" "$_PORTS_FILE" && continue
		printf '%s\n' "$used" | grep -qx "$p" && continue
		echo "$p" >>"$_PORTS_FILE"
		echo "$p"
		return 0
	done
	hard_error "free_port: no free port found"
}

# ---------------------------------------------------------------------------
# Processes

# spawn LOGFILE CMD...: start CMD in the background (stdin /dev/null, output to
# LOGFILE), remember its pid for cleanup, and set LAST_PID.
LAST_PID=
spawn() {
	local log=$1
	shift
	[ "${TEST_VERBOSE:-0}" = 1 ] && say "spawn: $*"
	"$@" </dev/null >"$log" 2>&1 &
	LAST_PID=$!
	_PIDS+=("$LAST_PID")
}

# Remember a pid (e.g. of something started by hand) for cleanup.
track_pid() { _PIDS+=("$1"); }
track_pidfile() { _PIDFILES+=("$1"); }

# kill_wait PID [TIMEOUT=5]: SIGTERM, bounded wait, then SIGKILL.
kill_wait() {
	local pid=$1
	pid_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for_exit "$pid" "${2:-5}"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait_for_exit "$pid" 2 || true
	fi
	wait "$pid" 2>/dev/null || true
}

# Is PID a redtun process? (guards against killing a recycled pid)
_is_redtun() {
	local exe argv0
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	case ${exe##*/} in redtun*) return 0 ;; esac
	# REDTUN may be a wrapper (valgrind, ...): look at argv[0] and argv[1].
	argv0=$(tr "\0" "\n" <"/proc/$1/cmdline" 2>/dev/null | head -n 2 | sed "s|.*/||")
	printf "%s\n" "$argv0" | grep -q "^redtun"
}

_cleanup() {
	local rc=$? pid f
	set +e
	trap - EXIT INT TERM HUP
	for f in "${_PIDFILES[@]}"; do
		[ -s "$f" ] || continue
		pid=$(head -n 1 "$f" | tr -dc '0-9')
		if [ -n "$pid" ] && pid_alive "$pid" && _is_redtun "$pid"; then
			kill_wait "$pid" 5
		fi
	done
	for pid in "${_PIDS[@]}"; do
		kill_wait "$pid" 5
	done
	[ "$rc" -ne 0 ] || _valgrind_verdict || rc=1
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		# Put the evidence into the automake .log file.
		for f in "$T"/*.log "$T"/redtun*.err; do
			[ -s "$f" ] || continue
			printf '\n--- %s (last 40 lines) ---\n' "${f#"$T"/}" >&2
			tail -n 40 "$f" >&2
		done
		# A sanitizer report may be why (a daemon that died), in full.
		for f in "$T"/asan.* "$T"/ubsan.* "$T"/tsan.*; do
			[ -s "$f" ] || continue
			printf '\n--- %s ---\n' "${f#"$T"/}" >&2
			cat "$f" >&2
		done
	fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		printf '%s: temp dir kept: %s\n' "$TEST_NAME" "$T" >&2
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
# ---------------------------------------------------------------------------
# Valgrind mode: REDTUN_VALGRIND=1 runs every redtun of the test under
# memcheck (through a wrapper, so tests need no change); at the end any
# memory error, definite leak or descriptor left open (beyond stdio and
# the listening sockets closed at exit) fails the test.  Timeouts in tests
# are generous enough for the ~20x slowdown on the control path.
if [ "${REDTUN_VALGRIND:-0}" = 1 ]; then
	_real_redtun=$REDTUN
	REDTUN=$T/redtun
	cat >"$REDTUN" <<VGEOF
#!/bin/sh
exec valgrind --quiet --leak-check=full --show-leak-kinds=definite \\
	--errors-for-leak-kinds=definite --track-fds=yes \\
	--log-file="$T/valgrind.%p.log" "$_real_redtun" "\$@"
VGEOF
	chmod +x "$REDTUN"
	export REDTUN
fi

# Sanitizer builds (configure --enable-sanitizers): a daemon's stderr is
# /dev/null, so reports go to files in $T, which the verdict below reads.
export ASAN_OPTIONS="log_path=$T/asan:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="log_path=$T/ubsan:print_stacktrace=1"
# configure --enable-tsan: the first data race ends the daemon (status 66)
# and its report fails the test.
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=$T/tsan:halt_on_error=1:exitcode=66"

_valgrind_verdict() {
	local f bad=0
	for f in "$T"/asan.* "$T"/ubsan.* "$T"/tsan.*; do
		[ -s "$f" ] || continue
		printf '%s: sanitizer report %s:\n' "$TEST_NAME" "${f#"$T"/}" >&2
		cat "$f" >&2
		bad=1
	done
	[ "${REDTUN_VALGRIND:-0}" = 1 ] || return "$bad"
	for f in "$T"/valgrind.*.log; do
		[ -s "$f" ] || continue
		if grep -Eq 'ERROR SUMMARY: [1-9]|definitely lost|Invalid (read|write|free)|uninitialised' "$f"; then
			printf '%s: valgrind found problems:\n' "$TEST_NAME" >&2
			cat "$f" >&2
			bad=1
		fi
		if grep -q 'Open file descriptor [0-9]*: *socket' "$f"; then
			printf '%s: sockets left open at exit:\n' "$TEST_NAME" >&2
			grep -A2 'Open file descriptor' "$f" >&2
			bad=1
		fi
	done
	return "$bad"
}

trap _cleanup EXIT
trap 'exit 99' INT TERM HUP

# ---------------------------------------------------------------------------
# Prerequisites

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "required command not found: $c"
	done
}

need_redtun() {
	[ -x "$REDTUN" ] || hard_error "redtun binary not found: $REDTUN (build it, or set REDTUN)"
}

gen_certs() { # [DIR=$T]
	"$GEN_CERTS" "${1:-$T}" || hard_error "gen-test-certs failed"
}

# gen_wildcard NAME CA DOMAIN: $T/NAME.key and $T/NAME.crt, an EC server
# certificate for *.DOMAIN issued by $T/CA.crt (and CA.key).
gen_wildcard() {
	printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature,keyAgreement" \
		"extendedKeyUsage=serverAuth,clientAuth" \
		"subjectAltName=DNS:*.$3" >"$T/$1.ext"
	if ! { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1.key" 2>/dev/null &&
		openssl req -new -key "$T/$1.key" -subj "/CN=*.$3" -out "$T/$1.csr" 2>/dev/null &&
		openssl x509 -req -days 2 -in "$T/$1.csr" -CA "$T/$2.crt" -CAkey "$T/$2.key" \
			-set_serial "0x$(openssl rand -hex 8)" -extfile "$T/$1.ext" \
			-out "$T/$1.crt" 2>/dev/null; }; then
		hard_error "cannot make the $1 certificate"
	fi
	chmod 600 "$T/$1.key"
}

# stunnel_corpus DIR: test/data/stunnel's corpus (and the AWS file) copied
# into DIR, with the files its configurations name: certificates in
# DIR/pki (combined.pem, combined2.pem, capath/, password), DIR/run and a
# jail.  @DIR@ is left for the caller to replace.
stunnel_corpus() {
	local w=$1
	mkdir -p "$w"
	cp -a "$top_srcdir/test/data/stunnel/corpus/." "$w/"
	cp "$top_srcdir/test/data/stunnel/aws-redis-cli.conf" "$w/"
	gen_certs "$w/pki"
	cat "$w/pki/server.crt" "$w/pki/server.key" >"$w/pki/combined.pem"
	cat "$w/pki/untrusted.crt" "$w/pki/untrusted.key" >"$w/pki/combined2.pem"
	chmod 600 "$w/pki/combined.pem" "$w/pki/combined2.pem"
	mkdir -p "$w/pki/capath" "$w/run" "$w/jail/dev"
	cp "$w/pki/ca.crt" "$w/pki/capath/"
	openssl rehash "$w/pki/capath" 2>/dev/null || hard_error "openssl rehash failed"
	: >"$w/jail/dev/urandom" # -t looks for the jail's urandom (a file will do)
	(umask 077 && printf 'file-Pa55word\n' >"$w/pki/password")
}

# ---------------------------------------------------------------------------
# Redis and other upstream servers

# redis-cli against a plaintext port (a redtun listener), bounded in time.
rcli() { # PORT ARGS...
	local port=$1
	shift
	timeout 10 redis-cli --no-auth-warning -h 127.0.0.1 -p "$port" "$@"
}

# redis-cli straight to a TLS redis (bypassing redtun).
rcli_tls() { # PORT ARGS...
	local port=$1
	shift
	timeout 10 redis-cli --no-auth-warning --tls --cacert "$T/ca.crt" \
		-h 127.0.0.1 -p "$port" "$@"
}

_redis_ready() { # PORT [--tls]
	local out
	if [ "${2:-}" = --tls ]; then
		# --insecure: hostile servers use certificates redis-cli would reject.
		out=$(timeout 3 redis-cli --tls --insecure -h 127.0.0.1 -p "$1" ping 2>&1) || true
	else
		out=$(timeout 3 redis-cli -h 127.0.0.1 -p "$1" ping 2>&1) || true
	fi
	case $out in
	*PONG* | *NOAUTH*) return 0 ;;
	esac
	return 1
}

_wait_redis() { # NAME PID PORT [--tls]
	local name=$1 pid=$2 port=$3 i
	for ((i = 0; i < 100; i++)); do
		pid_alive "$pid" || {
			tail -n 20 "$T/$name.log" >&2 2>/dev/null
			hard_error "redis '$name' exited during startup"
		}
		_redis_ready "$port" "${4:-}" && return 0
		sleep 0.1
	done
	tail -n 20 "$T/$name.log" >&2 2>/dev/null
	hard_error "redis '$name' on port $port not ready after 10s"
}

# start_tls_redis NAME PORT [EXTRA REDIS ARGS...]
# TLS-only redis on 127.0.0.1:PORT with server.crt (later arguments override
# earlier ones, so e.g. "--tls-cert-file $T/expired.crt" works). Sets
# REDIS_PID (also saved to $T/NAME.redis-pid). Log: $T/NAME.log.
REDIS_PID=
start_tls_redis() {
	local name=$1 port=$2
	shift 2
	mkdir -p "$T/$name"
	spawn "$T/$name.out" redis-server \
		--port 0 --tls-port "$port" --bind 127.0.0.1 \
		--tls-cert-file "$T/server.crt" --tls-key-file "$T/server.key" \
		--tls-ca-cert-file "$T/ca.crt" --tls-auth-clients no \
		--save "" --appendonly no --daemonize no \
		--dir "$T/$name" --logfile "$T/$name.log" "$@"
	REDIS_PID=$LAST_PID
	echo "$REDIS_PID" >"$T/$name.redis-pid"
	_wait_redis "$name" "$REDIS_PID" "$port" --tls
}

# start_plain_redis NAME PORT [EXTRA ARGS...]: plaintext redis.
start_plain_redis() {
	local name=$1 port=$2
	shift 2
	mkdir -p "$T/$name"
	spawn "$T/$name.out" redis-server \
		--port "$port" --bind 127.0.0.1 \
		--save "" --appendonly no --daemonize no \
		--dir "$T/$name" --logfile "$T/$name.log" "$@"
	REDIS_PID=$LAST_PID
	echo "$REDIS_PID" >"$T/$name.redis-pid"
	_wait_redis "$name" "$REDIS_PID" "$port"
}

# start_s_server NAME PORT [s_server ARGS...]: a long running openssl
# s_server (no -naccept) on 127.0.0.1:PORT. It runs in -www mode so it never
# reads stdin (which is /dev/null). Sets LAST_PID. Log: $T/NAME.log.
start_s_server() {
	local name=$1 port=$2 i
	shift 2
	spawn "$T/$name.log" openssl s_server -www -accept "127.0.0.1:$port" "$@"
	for ((i = 0; i < 100; i++)); do
		port_listening "$port" && return 0
		pid_alive "$LAST_PID" || break
		sleep 0.1
	done
	cat "$T/$name.log" >&2
	hard_error "openssl s_server '$name' did not start on port $port"
}

# ---------------------------------------------------------------------------
# redtun

# conf_globals: the global part of a test config (pid, log, debug, CAfile).
conf_globals() {
	cat <<EOF
# generated by $TEST_NAME
pid = "$T/redtun.pid";
output = "$T/redtun.log";
debug = 7;
CAfile = "$T/ca.crt";
EOF
}

# conf_workers: "workers = N;" when REDTUN_TEST_WORKERS is set, else nothing
# (then the default: one worker).
conf_workers() {
	[ -z "${REDTUN_TEST_WORKERS:-}" ] || echo "workers = $REDTUN_TEST_WORKERS;"
}

# conf_service NAME ACCEPT_PORT CONNECT_PORT [EXTRA SETTING LINES...]
# One client service; connect to localhost so hostname checks pass.
conf_service() {
	local name=$1 acc=$2 con=$3 l
	shift 3
	printf '  %s = {\n    client = true;\n    accept = "127.0.0.1:%s";\n    connect = "localhost:%s";\n' \
		"$name" "$acc" "$con"
	for l in "$@"; do
		printf '    %s\n' "$l"
	done
	printf '  };\n'
}

redtun_pid() { # [PIDFILE]
	local f=${1:-$T/redtun.pid}
	[ -s "$f" ] || return 1
	head -n 1 "$f" | tr -dc '0-9'
}

# start_redtun CONF: daemon mode; returns once ready (per the interface).
# Fails the test when redtun exits non-zero or no live pid is found.
# Sets RT_PID. stderr goes to $T/redtun-start.err.
RT_PID=
start_redtun() {
	local conf=$1 rc=0
	need_redtun
	timeout 20 "$REDTUN" "$conf" >"$T/redtun-start.out" 2>"$T/redtun-start.err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$T/redtun-start.err" >&2
		fail "redtun $conf exited with status $rc"
	fi
	RT_PID=$(redtun_pid) || fail "redtun returned 0 but wrote no pidfile $T/redtun.pid"
	pid_alive "$RT_PID" || fail "redtun pid $RT_PID from the pidfile is not running"
}

# Assert that the daemon is still running.
assert_redtun_alive() {
	pid_alive "${RT_PID:-}" || fail "redtun (pid ${RT_PID:-?}) is no longer running${1:+: $1}"
}

# ---------------------------------------------------------------------------
# Figures for docs/ROBUSTNESS.md

# figure NAME VALUE [UNIT]: record a measured figure of this test run; the
# lines collect in $top_builddir/test/figures.log (one "test<TAB>name<TAB>
# value<TAB>unit" line each) and scripts/robustness-report turns them into
# docs/ROBUSTNESS.md.
figure() {
	printf '%s\t%s\t%s\t%s\n' "$TEST_NAME" "$1" "$2" "${3:-}" \
		>>"${FIGURES_LOG:-$top_builddir/test/figures.log}"
	say "figure: $1 = $2${3:+ $3}"
}

# ---------------------------------------------------------------------------
# One redtun with many client-mode services, each behind its own upstream,
# and a "good" one as the positive control (test/hostile.sh,
# test/adversarial.sh).

# Registry: "name:upstream-port:local-port" for every service, in order.
SERVICES=()
# svc_add NAME UPSTREAM_PORT: register service NAME on a new local port.
svc_add() { SERVICES+=("$1:$2:$(free_port)"); }
# svc_lport NAME, svc_uport NAME: its local and upstream ports.
svc_lport() {
	local s
	for s in "${SERVICES[@]}"; do
		[ "${s%%:*}" = "$1" ] && { echo "${s##*:}"; return; }
	done
	hard_error "no service $1"
}
svc_uport() {
	local s
	for s in "${SERVICES[@]}"; do
		[ "${s%%:*}" = "$1" ] && { s=${s#*:}; echo "${s%%:*}"; return; }
	done
	hard_error "no service $1"
}

# svcs_conf [EXTRA_FN]: print a configuration with every registered service;
# "EXTRA_FN NAME" prints that service's extra settings, one a line.
svcs_conf() {
	local s name extra
	conf_globals
	echo 'services = {'
	for s in "${SERVICES[@]}"; do
		name=${s%%:*}
		extra=()
		if [ -n "${1:-}" ]; then
			mapfile -t extra < <("$1" "$name")
		fi
		conf_service "$name" "$(svc_lport "$name")" "$(svc_uport "$name")" \
			${extra[@]+"${extra[@]}"}
	done
	echo '};'
}

# timed_client NAME CMD...: run CMD (a client of service NAME) for at most
# 10 s; sets OUT (its output), RC (124: still open after 10 s) and MS.
OUT="" RC="" MS=""
timed_client() {
	local name=$1 t0 t1
	shift
	t0=$(date +%s%N)
	RC=0
	OUT=$(timeout 10 "$@" 2>&1) || RC=$?
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
	say "$name: exit $RC after ${MS} ms, output: $(printf '%s' "$OUT" | tr -d '\r' | tr '\n' ' ')"
}

# assert_closed_promptly NAME: after timed_client, the client got no reply
# and saw the close within 8 s.
assert_closed_promptly() {
	assert_not_contains "$OUT" "PONG" "$1: the client must not get a reply"
	[ "$RC" -ne 124 ] || fail "$1: the client connection was not closed within 10 s"
	[ "$MS" -lt 8000 ] || fail "$1: closing the client took ${MS} ms"
}

# assert_good_serves WHAT: redtun is alive and the "good" service answers.
assert_good_serves() {
	assert_redtun_alive "after $1"
	assert_eq "PONG" "$(rcli "$(svc_lport good)" ping)" "good service after $1"
}

# assert_survived: at the end, redtun still serves the "good" service.
assert_survived() {
	local i
	assert_redtun_alive
	for i in 1 2 3; do
		assert_eq "PONG" "$(rcli "$(svc_lport good)" ping)" "good service, final round $i"
	done
}
