#!/bin/bash
# scripts/bootstrap's service rule: a service that was running before an
# install is never stopped, disabled or reconfigured; one that runs only
# because the install started it is stopped and disabled, with a message.
#  1. the rule alone (svc_snapshot / svc_restore sourced from the script),
#     with fake systemctl / service / update-rc.d that record their calls;
#  2. scripts/bootstrap --test end to end with fake dpkg-query / apt-get,
#     while a real redis-server on a free port plays the "redis-server
#     service" that was already running: it must still run afterwards;
#  3. the test suite needs no system redis-server service: no test names
#     port 6379 or manages a system service.
# Nothing outside $T is changed: every system command is a fake on PATH.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd grep sed
BOOT=$top_srcdir/scripts/bootstrap
[ -f "$BOOT" ] || hard_error "no $BOOT"

FAKE=$T/bin
STATE=$T/state          # STATE/NAME exists = the service is running
CALLS=$T/calls          # one line per state-changing call
mkdir -p "$FAKE" "$STATE" "$T/init.d"
: >"$CALLS"

# systemctl is-active|stop|disable [--quiet] NAME.service
cat >"$FAKE/systemctl" <<EOF
#!/bin/bash
args=(); for a in "\$@"; do case \$a in --quiet|-q) ;; *) args+=("\$a") ;; esac; done
verb=\${args[0]}; name=\${args[1]%.service}
case \$verb in
is-active) [ -e "$STATE/\$name" ] ;;
stop) echo "systemctl stop \$name" >>"$CALLS"; f="$STATE/\$name"
	[ -s "\$f" ] && kill "\$(cat "\$f")" 2>/dev/null; rm -f "\$f" ;;
*) echo "systemctl \$verb \$name" >>"$CALLS" ;;
esac
EOF
# service NAME status|stop|start ; update-rc.d NAME disable
cat >"$FAKE/service" <<EOF
#!/bin/bash
case \$2 in
status) [ -e "$STATE/\$1" ] ;;
stop) echo "service \$1 stop" >>"$CALLS"; rm -f "$STATE/\$1" ;;
*) echo "service \$*" >>"$CALLS" ;;
esac
EOF
cat >"$FAKE/update-rc.d" <<EOF
#!/bin/bash
echo "update-rc.d \$*" >>"$CALLS"
EOF
chmod +x "$FAKE"/*
for s in redis-server haproxy; do
	printf '#!/bin/sh\n' >"$T/init.d/$s"
	chmod +x "$T/init.d/$s"
done
export PATH="$FAKE:$PATH" REDTUN_INITD="$T/init.d"

# run_rule INIT BEFORE_ACTIVE AFTER_ACTIVE: services running before the
# "install" and the ones the "install" started; prints bootstrap's output.
run_rule() {
	local init=$1 s
	rm -f "$STATE"/*
	: >"$CALLS"
	for s in $2; do touch "$STATE/$s"; done
	REDTUN_INIT=$init REDTUN_BOOTSTRAP_LIB=1 AFTER="$3" STATE="$STATE" bash -c '
		. "$1"
		before=$(svc_snapshot)
		for s in $AFTER; do touch "$STATE/$s"; done
		svc_restore "$before"' rule "$BOOT"
}

for init in systemd sysv; do
	step "$init: redis-server was running, the install started haproxy"
	out=$(run_rule "$init" redis-server haproxy)
	say "$out"
	[ -e "$STATE/redis-server" ] || fail "$init: the running redis-server was stopped"
	[ ! -e "$STATE/haproxy" ] || fail "$init: haproxy, started by the install, still runs"
	assert_file_no_match "$CALLS" 'redis-server' "$init: redis-server must not be touched"
	if [ "$init" = systemd ]; then
		assert_file_match "$CALLS" '^systemctl disable haproxy$' "haproxy disabled"
	else
		assert_file_match "$CALLS" '^update-rc.d haproxy disable$' "haproxy disabled"
	fi
	assert_contains "$out" "started the haproxy service, which was not running before: stopping and disabling it"

	step "$init: nothing ran before, the install started redis-server"
	out=$(run_rule "$init" "" redis-server)
	[ ! -e "$STATE/redis-server" ] || fail "$init: redis-server started by the install still runs"
	assert_file_match "$CALLS" 'stop redis-server$|redis-server stop$' "redis-server stopped"
	assert_file_match "$CALLS" 'disable redis-server$|redis-server disable$' "redis-server disabled"
	assert_file_no_match "$CALLS" 'haproxy' "haproxy (never running) must not be touched"
	assert_contains "$out" "redis-server"

	step "$init: redis-server ran before and after: untouched"
	out=$(run_rule "$init" redis-server redis-server)
	[ -e "$STATE/redis-server" ] || fail "$init: the running redis-server was stopped"
	assert_eq "" "$(cat "$CALLS")" "$init: no state-changing call"
	assert_eq "" "$out" "$init: nothing to say"
done

step "no init system (a container without systemd as PID 1): nothing is touched"
out=$(run_rule none "" redis-server)
assert_eq "" "$(cat "$CALLS")" "no calls without an init system"

# ---------------------------------------------------------------------------
step "scripts/bootstrap --test with an already running redis-server"
need_cmd redis-server redis-cli
PORT=$(free_port)
start_plain_redis system "$PORT"
SYS_PID=$REDIS_PID
echo "$SYS_PID" >"$STATE/redis-server"      # "redis-server.service is active"
: >"$CALLS"
# dpkg-query: redis-server and haproxy are "missing"; apt-get install
# "starts" haproxy (as its package does) and records what it installed.
cat >"$FAKE/dpkg-query" <<'EOF'
#!/bin/bash
case " $* " in *" redis-server "* | *" haproxy "*) exit 1 ;; esac
printf 'install ok installed'
EOF
cat >"$FAKE/apt-get" <<EOF
#!/bin/bash
echo "apt-get \$*" >>"$CALLS"
case " \$* " in *" install "*" haproxy"*) touch "$STATE/haproxy" ;; esac
exit 0
EOF
cat >"$FAKE/apt-cache" <<'EOF'
#!/bin/bash
[ "$1" = show ] && [ "$2" = haproxy ]
EOF
cat >"$FAKE/sudo" <<'EOF'
#!/bin/bash
exec "$@"
EOF
chmod +x "$FAKE"/*
out=$(REDTUN_INIT=systemd timeout 60 sh "$BOOT" --test 2>&1) || fail "bootstrap --test failed: $out"
say "$out"
assert_file_match "$CALLS" '^apt-get install .*redis-server' "bootstrap installed redis-server (fake)"
assert_file_match "$CALLS" '^apt-get install .*haproxy' "bootstrap installed haproxy (fake)"
pid_alive "$SYS_PID" || fail "the already running redis-server (pid $SYS_PID) was stopped"
rcli "$PORT" PING | grep -q PONG || fail "the already running redis-server does not answer"
assert_file_no_match "$CALLS" 'redis-server$|redis-server stop' "bootstrap touched the running redis-server"
assert_file_match "$CALLS" '^systemctl disable haproxy$' "haproxy (started by the install) disabled"
assert_contains "$out" "stopping and disabling it"
assert_not_contains "$out" "configure" "--test must not configure the tree"

# ---------------------------------------------------------------------------
step "the tests need no system redis-server"
cd "$top_srcdir"
# Tests in private network namespaces (netns_reexec, and what only they
# use: marked "private network namespace only") may use 6379: it is theirs.
shared=$(grep -LE 'netns_reexec|private network namespace only' test/*.sh test/*.py)
# shellcheck disable=SC2086
bad=$(grep -nE '(^|[^0-9])6379([^0-9]|$)' $shared 2>/dev/null |
	grep -vE '^test/bootstrap-service\.sh:' || true)
[ -z "$bad" ] || fail "tests that name port 6379 (the system redis-server's):
$bad"
bad=$(grep -nE '(systemctl|service) +(start|restart|is-active)[^|]*redis' test/*.sh test/lib.sh 2>/dev/null |
	grep -vE '^test/bootstrap-service\.sh:' || true)
[ -z "$bad" ] || fail "tests that use a system redis service:
$bad"
# Every redis-server a test starts gets its own port from free_port.
grep -q 'redis-server' test/lib.sh || hard_error "test/lib.sh starts no redis-server?"
assert_file_match test/lib.sh '--port "\$port"|--tls-port "\$port"' "lib.sh starts redis on the port it is given"
say "PASS"
