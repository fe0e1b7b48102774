#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Issue 13, the seed's own file: the AWS ElastiCache page's redis-cli.conf
# (test/data/stunnel/aws-redis-cli.conf, byte for byte, with its trailing
# space after "debug = 7"), run the way the page runs stunnel:
#
#   sudo redtun /etc/stunnel/redis-cli.conf
#
# against two TLS redis-servers (a primary and its replica) that present
# a wildcard certificate *.ssltest.wif01h.use1.cache.amazonaws.com.
# Trust comes from the namespace's own copy of the system trust store
# (/etc/ssl/certs/ca-certificates.crt = the test CA): the file names no
# CAfile, and redtun must verify anyway.
#
# Private namespaces (unshare -mn): /etc/hosts maps the two AWS names to
# 127.0.0.2 and 127.0.0.3 (an impostor waits on 127.0.0.4), /run is a
# tmpfs (the file's pid = /var/run/stunnel.pid lands there), /etc/ssl/certs
# and /etc/stunnel are temp directories.  The machine's files are never
# touched; ports 6379/6380 are the namespace's own.
set -eu

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/netns.sh"
netns_reexec stunnel-aws "$@"

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli openssl ip mount ss sha256sum timeout
need_redtun

FIXTURE=$top_srcdir/test/data/stunnel/aws-redis-cli.conf
FIXTURE_SHA256=1003d12755a663f3cf3e58cc4dffe77219967df2e8a7dade3820279769f9656c
DOMAIN=ssltest.wif01h.use1.cache.amazonaws.com
PRIMARY=primary.$DOMAIN
REPLICA=ssltest-02.$DOMAIN
CONF=/etc/stunnel/redis-cli.conf
PIDFILE=/var/run/stunnel.pid
track_pidfile "$PIDFILE"

step "the fixture is the AWS page's file, byte for byte"
[ -f "$FIXTURE" ] || hard_error "no fixture $FIXTURE"
assert_eq "$FIXTURE_SHA256" "$(sha256sum <"$FIXTURE" | cut -d' ' -f1)" \
	"sha256 of $FIXTURE (reformatted? it must stay as the AWS page lays it out)"
assert_eq 1 "$(grep -c 'debug = 7 $' "$FIXTURE")" "the trailing space after debug = 7"
assert_eq 16 "$(wc -l <"$FIXTURE")" "one option a line"

step "private network, names, /run, trust store and /etc/stunnel"
ip link set lo up || hard_error "cannot bring lo up in the network namespace"
write_hosts() { # PRIMARY_IP: rewritten in place (the bind mount keeps the inode)
	printf '127.0.0.1 localhost\n%s %s\n127.0.0.3 %s\n' "$1" "$PRIMARY" "$REPLICA" >"$T/hosts"
}
write_hosts 127.0.0.2
printf 'passwd: files\ngroup: files\nhosts: files\n' >"$T/nsswitch.conf"
mount --bind "$T/hosts" /etc/hosts || hard_error "cannot bind-mount /etc/hosts"
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf ||
	hard_error "cannot bind-mount /etc/nsswitch.conf"
assert_eq "127.0.0.2" "$(getent hosts "$PRIMARY" | awk '{print $1}')" "private /etc/hosts"
[ "$(readlink -f /var/run)" = /run ] || hard_error "/var/run is not /run here"
mount -t tmpfs -o mode=0755 tmpfs /run || hard_error "cannot mount a tmpfs over /run"
[ -z "$(ls -A /run)" ] || hard_error "/run is not the fresh tmpfs"

gen_certs
# The cache nodes' certificate: a wildcard for the replication group, from
# the test CA; the impostor's: the same name from another CA.
gen_wildcard wild ca "$DOMAIN"
gen_wildcard impostor other-ca "$DOMAIN"

[ -d /etc/ssl/certs ] || hard_error "no /etc/ssl/certs to bind-mount over"
mkdir -p "$T/certs"
cp "$T/ca.crt" "$T/certs/ca-certificates.crt"
mount --bind "$T/certs" /etc/ssl/certs || hard_error "cannot bind-mount /etc/ssl/certs"
cmp -s "$T/ca.crt" /etc/ssl/certs/ca-certificates.crt || hard_error "trust store not replaced"

# The page's path when /etc/stunnel exists (stunnel4 is installed), else
# the fixture's own path.
if [ -d /etc/stunnel ]; then
	mkdir -p "$T/etc-stunnel"
	cp "$FIXTURE" "$T/etc-stunnel/redis-cli.conf"
	mount --bind "$T/etc-stunnel" /etc/stunnel || hard_error "cannot bind-mount /etc/stunnel"
else
	CONF=$FIXTURE
fi
cmp -s "$FIXTURE" "$CONF" || hard_error "$CONF differs from the fixture"

step "two TLS redis-servers: primary on 127.0.0.2, replica on 127.0.0.3"
start_tls_node primary 127.0.0.2 "$T/wild.crt" "$T/wild.key" --repl-diskless-sync-delay 0
start_tls_node replica 127.0.0.3 "$T/wild.crt" "$T/wild.key" --replicaof 127.0.0.2 6379 --tls-replication yes
wait_until 15 sh -c "timeout 5 redis-cli --tls --cacert '$T/ca.crt' -h 127.0.0.3 -p 6379 \
	INFO replication | grep -q '^master_link_status:up'" ||
	hard_error "the replica did not link to the primary in 15 s"
# The impostor: right name, certificate from a CA nobody trusts here.
start_tls_node impostor 127.0.0.4 "$T/impostor.crt" "$T/impostor.key" \
	--tls-ca-cert-file "$T/other-ca.crt"

# local_listening PORT: a listener on 127.0.0.1:PORT (the redis-servers
# have 6379 on the other addresses).
local_listening() { ss -ltnH | awk '{print $4}' | grep -qx "127\.0\.0\.1:$1"; }

# Notices: "redtun: notice: TEXT" on stderr at start and in -t; in the
# foreground the log is stderr and they are log lines ("DATE TIME notice TEXT").
NP='^redtun: notice: '
# notices FILE: the notice texts of a run, sorted.
notices() { grep -E "$NP" "$1" | sed -E "s/$NP//" | sort || true; }
# The notices the AWS file must produce: the two options lines (stunnel's
# defaults anyway) and one per service saying what redtun does that
# stunnel would not.
check_notices() { # FILE WHAT
	local f=$1 what=$2 svc host
	assert_file_match "$f" "${NP}$(re_quote "$CONF"):7: options( = NO_SSLv2)?: redtun never enables SSLv2" \
		"$what: notice for options = NO_SSLv2 (line 7)"
	assert_file_match "$f" "${NP}$(re_quote "$CONF"):8: options( = NO_SSLv3)?: redtun never enables SSLv2" \
		"$what: notice for options = NO_SSLv3 (line 8)"
	for svc in redis-cli redis-cli-replica; do
		host=$PRIMARY
		[ "$svc" = redis-cli ] || host=$REPLICA
		assert_file_match "$f" "${NP}\[$svc\] stunnel would not verify this server; redtun verifies the chain against the system trust store and the host name $(re_quote "$host")" \
			"$what: [$svc]'s notice"
		assert_file_match "$f" "${NP}\[$svc\] .*TLS 1\.2 or later" "$what: [$svc]: TLS 1.2 (the file sets no sslVersion)"
	done
	# (The log has other lines at level notice: count on stderr only.)
	[ "$NP" != '^redtun: notice: ' ] ||
		assert_eq 4 "$(notices "$f" | wc -l)" "$what: notice lines (2 options + 2 services)"
	assert_file_no_match "$f" "notice: .*:[0-9]+: (accept|connect|client|pid|setuid|setgid|delay|debug|fips)( =|:)" \
		"$what: options that map must not be noticed"
}

step "redtun -t $CONF"
rc=0
timeout 20 "$REDTUN" -t "$CONF" >"$T/t.out" 2>"$T/t.err" || rc=$?
cat "$T/t.out" "$T/t.err"
assert_eq 0 "$rc" "redtun -t exit status"
assert_file_match "$T/t.out" "configuration OK \(2 services\)" "-t: the summary"
check_notices "$T/t.err" "-t"

step "sudo redtun $CONF (daemon, as the page runs stunnel)"
rc=0
timeout 20 "$REDTUN" "$CONF" >"$T/start.out" 2>"$T/start.err" || rc=$?
cat "$T/start.out" "$T/start.err"
assert_eq 0 "$rc" "redtun $CONF exit status"
[ -s "$PIDFILE" ] || fail "no pid file $PIDFILE after redtun returned"
RT_PID=$(redtun_pid "$PIDFILE")
pid_alive "$RT_PID" || fail "pid $RT_PID from $PIDFILE is not running"
_is_redtun "$RT_PID" || fail "pid $RT_PID from $PIDFILE is not redtun"
ppid=$(awk '/^PPid:/{print $2}' "/proc/$RT_PID/status")
assert_ne "$$" "$ppid" "redtun daemonized (not a child of the test shell)"
check_notices "$T/start.err" "start"
assert_eq "$(notices "$T/t.err")" "$(notices "$T/start.err")" "-t and start print the same notices"
for p in 6379 6380; do
	local_listening "$p" || fail "nothing listens on 127.0.0.1:$p: $(ss -ltnH)"
done

step "redis-cli -p 6379 SET, then redis-cli -p 6380 GET"
val="v-$RANDOM-$$"
assert_eq OK "$(timeout 10 redis-cli -p 6379 SET k "$val")" "SET through [redis-cli]"
# The write reaches the replica through replication: WAIT for it (bounded).
acked=$(timeout 10 redis-cli -p 6379 WAIT 1 5000) || true
assert_eq 1 "$acked" "WAIT 1: the replica acknowledged the write"
got=
for ((i = 0; i < 50; i++)); do
	got=$(timeout 10 redis-cli -p 6380 GET k) || true
	[ "$got" = "$val" ] && break
	sleep 0.1
done
assert_eq "$val" "$got" "GET through [redis-cli-replica]"
assert_match "$(timeout 10 redis-cli -p 6380 ROLE | head -n 1)" '^slave$' "6380 reaches the replica"
assert_match "$(timeout 10 redis-cli -p 6379 ROLE | head -n 1)" '^master$' "6379 reaches the primary"

step "an impostor for $PRIMARY (certificate from another CA): refused"
write_hosts 127.0.0.4
assert_eq "127.0.0.4" "$(getent hosts "$PRIMARY" | awk '{print $1}')" "hosts now name the impostor"
# The impostor serves (stunnel would carry this traffic: test/stunnel-diff.sh).
assert_eq PONG "$(timeout 10 redis-cli --tls --insecure -h 127.0.0.4 -p 6379 PING)" "the impostor answers"
out=$(timeout 10 redis-cli --no-raw -p 6379 PING 2>&1) || true
out=$(printf '%s' "$out" | tr -d '\r' | sed '/^$/d')
say "through redtun: $out"
assert_not_contains "$out" PONG "the impostor must not be reached"
assert_match "$out" "^\(error\) ERR redtun \[redis-cli\]: upstream $(re_quote "$PRIMARY"):6379: certificate verify failed" \
	"the client reads why"
write_hosts 127.0.0.2
assert_eq "$val" "$(timeout 10 redis-cli -p 6379 GET k)" "the real primary again (delay = yes: resolved per connection)"

step "SIGTERM through the pid file"
kill -TERM "$(cat "$PIDFILE")"
wait_for_exit "$RT_PID" 15 || fail "redtun still runs 15 s after SIGTERM"
wait_until 5 test ! -e "$PIDFILE" || fail "the pid file $PIDFILE is still there"
local_listening 6379 && fail "127.0.0.1:6379 still listening after redtun stopped"

step "the log names the verification failure (redtun -f, log to stderr)"
write_hosts 127.0.0.4
spawn "$T/redtun-fg.log" "$REDTUN" -f "$CONF"
FG_PID=$LAST_PID
wait_until 10 local_listening 6379 || fail "redtun -f: nothing listens on 6379"
out=$(timeout 10 redis-cli -p 6379 PING 2>&1) || true
assert_not_contains "$out" PONG "redtun -f: the impostor must not be reached"
wait_for_log "$T/redtun-fg.log" "\[redis-cli\] 127\.0\.0\.1:[0-9]+: upstream $(re_quote "$PRIMARY"):6379: certificate verify failed" 10
assert_file_match "$T/redtun-fg.log" "certificate verify failed: .*(not signed by a trusted CA|untrusted|issuer)" \
	"the log says why the certificate failed"
NP='^[0-9-]+ [0-9:]+ notice ' check_notices "$T/redtun-fg.log" "-f (the log)"
while IFS= read -r l; do
	grep -qF -- " notice $l" "$T/redtun-fg.log" || fail "-f: the log lacks the notice [$l]"
done < <(notices "$T/start.err")

step "SIGHUP re-reads the stunnel file (as stunnel's does)"
write_hosts 127.0.0.2
kill -HUP "$FG_PID"
wait_for_log "$T/redtun-fg.log" "configuration reloaded: 2 services" 10
assert_eq "$val" "$(timeout 10 redis-cli -p 6379 GET k)" "GET after the reload"
# A line redtun refuses: the reload fails with FILE:LINE, the old
# configuration keeps serving.
# (Only on the copy in /etc/stunnel: the fixture itself is never edited.)
if [ "$CONF" != "$FIXTURE" ]; then
	printf 'protocol = smtp\n' >>"$CONF"
	kill -HUP "$FG_PID"
	wait_for_log "$T/redtun-fg.log" "reload failed, keeping the old configuration: .*$(re_quote "$CONF"):17: protocol: " 10
	pid_alive "$FG_PID" || fail "redtun -f died on a refused reload"
	assert_eq "$val" "$(timeout 10 redis-cli -p 6379 GET k)" "GET after the failed reload"
fi
kill_wait "$FG_PID" 15
pid_alive "$FG_PID" && fail "redtun -f did not stop"
say "PASS"
