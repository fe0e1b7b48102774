#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# role = "primary" across a failover. Two TLS redis servers, on
# 127.0.0.2 and 127.0.0.3 (same port), share the name redis.failover.test
# (a private /etc/hosts says which address it has). A long-lived
# python3-redis connection writes through redtun; the roles are swapped
# with REPLICAOF (the old primary becomes a replica of the new) and the
# name is moved:
#   - the open client gets -READONLY exactly once, then redtun closes its
#     connection (so the client reconnects);
#   - a new connection reaches the new primary (ROLE master) and writes;
#   - with the name on a replica, a new connection is retried (re-resolving)
#     until TIMEOUTconnect and fails with a readable error, or reaches the
#     primary as soon as the name moves back to it;
#   - role = "replica" on a primary: used, logged once at notice.
# Runs in private mount + network namespaces (unshare -mn); skips without.
set -eu

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/netns.sh"
netns_reexec failover "$@"

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli openssl timeout ip mount getent
need_redtun
PY=/usr/bin/python3 # python3-redis is a Debian package: not in a pyenv
[ -x "$PY" ] || skip "no /usr/bin/python3"
"$PY" -c 'import redis' 2>/dev/null || skip "python3-redis missing (scripts/bootstrap --test installs it)"
RC_PY=$top_srcdir/test/redis_clients.py

NAME=redis.failover.test
A=127.0.0.2
B=127.0.0.3
TCONN=3 # TIMEOUTconnect
LOG=$T/redtun.log

step "private network and hosts file"
ip link set lo up || hard_error "cannot bring lo up in the network namespace"
ip -4 addr show dev lo | grep -q '127\.0\.0\.1' || hard_error "no 127.0.0.1 on lo"
point() { # ADDRESS: move the name (in place: the file is bind-mounted)
	printf '127.0.0.1 localhost\n%s %s\n' "$1" "$NAME" >"$T/hosts"
}
point "$A"
[ -e /etc/hosts ] || hard_error "/etc/hosts is missing: nothing to bind-mount over"
mount --bind "$T/hosts" /etc/hosts || hard_error "cannot bind-mount /etc/hosts"
assert_eq "$A" "$(getent hosts "$NAME" | awk '{print $1}')" "the private hosts file is in effect"

step "certificates for $NAME, two TLS redis servers"
gen_certs
cat >"$T/fo.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$NAME,IP:$A,IP:$B
EOF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/fo.key" 2>/dev/null
openssl req -new -key "$T/fo.key" -subj "/CN=$NAME" -out "$T/fo.csr" 2>/dev/null
openssl x509 -req -days 2 -in "$T/fo.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" \
	-set_serial "0x$(openssl rand -hex 8)" -extfile "$T/fo.ext" -out "$T/fo.crt" 2>/dev/null ||
	hard_error "cannot make the $NAME certificate"
P=$(free_port)
rcli_at() { # ADDRESS ARGS...
	local h=$1
	shift
	timeout 10 redis-cli --tls --cacert "$T/ca.crt" -h "$h" -p "$P" "$@"
}
_pong() { [ "$(rcli_at "$1" PING 2>/dev/null)" = PONG ]; }
start_at() { # NAME ADDRESS
	mkdir -p "$T/$1"
	spawn "$T/$1.out" redis-server --port 0 --tls-port "$P" --bind "$2" \
		--tls-cert-file "$T/fo.crt" --tls-key-file "$T/fo.key" \
		--tls-ca-cert-file "$T/ca.crt" --tls-auth-clients no --tls-replication yes --repl-diskless-sync-delay 0 \
		--save "" --appendonly no --daemonize no --dir "$T/$1" --logfile "$T/$1.log"
	wait_until 10 _pong "$2" ||
		hard_error "redis $1 on $2:$P did not start"
}
start_at ra "$A"
start_at rb "$B"
role() { rcli_at "$1" ROLE | head -n 1; }
rcli_at "$B" REPLICAOF "$A" "$P" >/dev/null
synced() { rcli_at "$1" INFO replication | grep -q '^master_link_status:up'; }
wait_until 10 synced "$B" || hard_error "B did not sync from A"
assert_eq "master slave" "$(role "$A") $(role "$B")" "roles before the failover"

L=$(free_port)
LR=$(free_port)
cat >"$T/redtun.conf" <<EOF
$(conf_globals)
$(conf_workers)
delay = true;
services = {
  fo = {
    client = true;
    accept = "127.0.0.1:$L";
    connect = "$NAME:$P";
    role = "primary";
    TIMEOUTconnect = $TCONN;
  };
  rep = {
    client = true;
    accept = "127.0.0.1:$LR";
    connect = "$NAME:$P";
    role = "replica";
  };
};
EOF
start_redtun "$T/redtun.conf"

step "through redtun: the primary"
out=$("$PY" "$RC_PY" oneshot --port "$L" --seconds 5)
assert_match "$out" '^role=master set=ok ' "a new connection before the failover"

step "role = replica on a primary: used, logged once at notice"
assert_eq "master" "$(rcli "$LR" ROLE | head -n 1)" "service rep reaches the primary"
assert_eq "master" "$(rcli "$LR" ROLE | head -n 1)" "again"
n=$(log_count "$LOG" 'notice \[rep\].*(master|primary)')
assert_eq 1 "$n" "notice lines of service rep about a master"

step "an open client writing through redtun"
"$PY" "$RC_PY" writer --port "$L" --seconds 30 >"$T/writer.out" 2>&1 &
WRITER=$!
track_pid "$WRITER"
wait_for_log "$T/writer.out" '^ok 20$' 10

step "failover: B becomes the primary, A its replica, the name moves to B"
rcli_at "$B" REPLICAOF NO ONE >/dev/null
rcli_at "$A" REPLICAOF "$B" "$P" >/dev/null
point "$B"
assert_eq "slave master" "$(role "$A") $(role "$B")" "roles after the failover"
wait_until 10 synced "$A" || hard_error "A did not sync from B"
wait_for_exit "$WRITER" 15 || fail "the open client's connection was not closed after READONLY: $(tail -n 3 "$T/writer.out")"
tail -n 3 "$T/writer.out" | sed 's/^/  writer: /'
assert_eq 1 "$(log_count "$T/writer.out" '^READONLY ')" "READONLY replies the open client got"
assert_file_match "$T/writer.out" '^READONLY [0-9]+ .*READONLY|^READONLY [0-9]+ .*read only' "the READONLY text reaches the client"
assert_file_match "$T/writer.out" '^closed [0-9]+ after 1 READONLY' "then the connection is closed"

step "a new connection reaches the new primary"
out=$("$PY" "$RC_PY" oneshot --port "$L" --seconds 5)
assert_match "$out" '^role=master set=ok ' "a new connection after the failover"
assert_eq "1" "$(rcli_at "$B" GET fo:new)" "the write went to B"

step "the name on the replica: retried until TIMEOUTconnect, then a readable error"
point "$A"
t0=$(date +%s%N)
out=$(timeout 20 redis-cli -h 127.0.0.1 -p "$L" ROLE 2>&1 || true)
ms=$((($(date +%s%N) - t0) / 1000000))
say "after ${ms} ms: $out"
# Not ROLE's reply (relayed to the replica): redtun's error, saying why.
assert_match "$out" "^ERR redtun \[fo\]:.*(primary|master|role|replica|slave)" "a readable error"
assert_eq 1 "$(printf '%s\n' "$out" | wc -l)" "one error line, no ROLE reply"
[ "$ms" -ge $((TCONN * 1000 - 500)) ] || fail "gave up after ${ms} ms, before TIMEOUTconnect ($TCONN s)"
[ "$ms" -le $((TCONN * 1000 + 3000)) ] || fail "took ${ms} ms, TIMEOUTconnect is $TCONN s"
n=$(log_count "$LOG" '\[fo\].*(slave|replica|role)')
[ "$n" -ge 1 ] || fail "the log does not say why the replica was refused"
say "$n log lines about the replica"

step "the name moves back to the primary during the retries"
(sleep 1 && point "$B") &
mover=$!
t0=$(date +%s%N)
out=$("$PY" "$RC_PY" oneshot --port "$L" --seconds 10)
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$mover"
say "after ${ms} ms: $out"
assert_match "$out" '^role=master set=ok ' "reached the primary once the name moved"
[ "$ms" -ge 900 ] || fail "answered after ${ms} ms, before the name moved"
assert_redtun_alive
say "ok"
