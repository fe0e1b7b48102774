# shellcheck shell=bash disable=SC2034,SC2119,SC2120,SC2317
# (the helpers are called by the tests that source this file)
# A real TLS Redis Cluster for the cluster tests (test/cluster-*.sh).
# (private network namespace only: the tests that use it run under netns_reexec)
# Source it after test/netns.sh's netns_reexec and test/lib.sh:
#
#   . "$top_srcdir/test/netns.sh"; netns_reexec NAME "$@"
#   . "$top_srcdir/test/lib.sh"
#   . "$top_srcdir/test/cluster-lib.sh"
#   cluster_net; cluster_certs; cluster_start
#
# Node N (1..9) is a redis-server 7 on 127.0.1.N:6379, TLS only (--port 0),
# named nodeN.cluster.test in a private /etc/hosts (bind-mounted in the
# test's own mount namespace; the machine's file is never touched), with
# --tls-cluster, --tls-replication, --cluster-announce-hostname nodeN... and
# --cluster-preferred-endpoint-type hostname, so MOVED and the topology
# replies name host names, as ElastiCache does. Every node has the same
# wildcard certificate *.cluster.test from the test CA (gen_certs); a node
# listed in CLUSTER_WRONG_CERT ("3" or "3 7") gets wronghost.crt
# (wrong.example) instead: redis itself does not check host names, so the
# cluster works, but a client that does refuses it.
#
# Everything runs in the test's private network namespace, so the fixed
# ports (6379, 16379, 17001-17020) cannot collide with other tests.
#
# Functions (every wait bounded; processes are stopped by lib.sh's trap):
#   cluster_net               lo up, private /etc/hosts and nsswitch.conf
#   cluster_certs             CA (gen_certs) and the wildcard certificate
#   cluster_start [N=6]       N nodes, N/2 primaries with one replica each
#   cluster_add_node N        start node N and join it (empty primary)
#   cluster_node_pid N        its pid;  cluster_node_id N: its cluster id
#   cluster_stop              stop every node (also done by the trap)
#   ccli N ARGS...            redis-cli --tls straight to node N (admin)
#   ccli_c ARGS...            redis-cli --tls -c into the cluster (admin)
#   cluster_primary_of_slot S the node number serving slot S
#   cluster_key_on N PREFIX   a key PREFIX:i that node N serves
#   cluster_wait_ok [SECS]    until every running node says cluster_state:ok
#                             and agrees on the slot map
# Variables: CLUSTER_DOMAIN, CLUSTER_TIMEOUT_MS (cluster-node-timeout),
# CLUSTER_NODES (numbers of the running nodes).

CLUSTER_DOMAIN=cluster.test
# Steps say when they start (the cluster tests keep an eye on their time).
_CL_T0=$(date +%s%N)
step() {
	printf '\n=== %s: %s (at %d ms)\n' "$TEST_NAME" "$*" $((($(date +%s%N) - _CL_T0) / 1000000))
}
: "${CLUSTER_TIMEOUT_MS:=2000}"
: "${CLUSTER_WRONG_CERT:=}"
CLUSTER_NODES=()

cluster_ip() { echo "127.0.1.$1"; }
cluster_host() { echo "node$1.$CLUSTER_DOMAIN"; }

cluster_net() {
	local n
	ip link set lo up || hard_error "cannot bring lo up in the network namespace"
	{
		echo "127.0.0.1 localhost"
		for n in 1 2 3 4 5 6 7 8 9; do
			echo "$(cluster_ip "$n") $(cluster_host "$n")"
		done
	} >"$T/hosts"
	printf 'passwd: files\ngroup: files\nhosts: files\n' >"$T/nsswitch.conf"
	[ -e /etc/hosts ] || hard_error "/etc/hosts is missing: nothing to bind-mount over"
	mount --bind "$T/hosts" /etc/hosts || hard_error "cannot bind-mount /etc/hosts"
	if [ -e /etc/nsswitch.conf ]; then
		mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf ||
			hard_error "cannot bind-mount /etc/nsswitch.conf"
	fi
	[ "$(getent hosts "$(cluster_host 2)" | awk '{print $1}')" = "$(cluster_ip 2)" ] ||
		hard_error "the private hosts file is not in effect"
}

cluster_certs() {
	gen_certs
	cat >"$T/wild.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:*.$CLUSTER_DOMAIN
EOF
	if ! { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$T/wild.key" 2>/dev/null &&
		openssl req -new -key "$T/wild.key" -subj "/CN=*.$CLUSTER_DOMAIN" \
			-out "$T/wild.csr" 2>/dev/null &&
		openssl x509 -req -days 2 -in "$T/wild.csr" -CA "$T/ca.crt" \
			-CAkey "$T/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
			-extfile "$T/wild.ext" -out "$T/wild.crt" 2>/dev/null; }; then
		hard_error "cannot make the *.$CLUSTER_DOMAIN certificate"
	fi
	chmod 600 "$T/wild.key"
}

# redis-cli --tls straight to node N (bypassing redtun), bounded.
ccli() { # N ARGS...
	local n=$1
	shift
	timeout 10 redis-cli --no-auth-warning --tls --cacert "$T/ca.crt" \
		-h "$(cluster_ip "$n")" -p 6379 "$@"
}
# The same with -c, entering at the first running node.
ccli_c() {
	timeout 10 redis-cli --no-auth-warning --tls --cacert "$T/ca.crt" -c \
		-h "$(cluster_ip "${CLUSTER_NODES[0]}")" -p 6379 "$@"
}
# redis-cli --cluster (create, reshard, add-node, check), bounded by $1 s.
cluster_admin() { # SECONDS ARGS...
	local t=$1
	shift
	timeout "$t" redis-cli --no-auth-warning --tls --cacert "$T/ca.crt" --cluster "$@"
}

_cluster_pong() { [ "$(ccli "$1" PING 2>/dev/null)" = PONG ]; }

# _cluster_spawn N: start node N's redis-server.
_cluster_spawn() {
	local n=$1 crt=$T/wild.crt key=$T/wild.key w
	for w in $CLUSTER_WRONG_CERT; do
		[ "$w" = "$n" ] && { crt=$T/wronghost.crt; key=$T/wronghost.key; }
	done
	mkdir -p "$T/node$n"
	spawn "$T/node$n.out" redis-server \
		--port 0 --tls-port 6379 --bind "$(cluster_ip "$n")" \
		--bind-source-addr "$(cluster_ip "$n")" \
		--cluster-announce-ip "$(cluster_ip "$n")" \
		--tls-cluster yes --tls-replication yes --protected-mode no \
		--tls-cert-file "$crt" --tls-key-file "$key" \
		--tls-ca-cert-file "$T/ca.crt" --tls-auth-clients no \
		--cluster-enabled yes --cluster-config-file "$T/node$n/nodes.conf" \
		--cluster-node-timeout "$CLUSTER_TIMEOUT_MS" \
		--cluster-announce-hostname "$(cluster_host "$n")" \
		--cluster-preferred-endpoint-type hostname \
		--cluster-replica-validity-factor 0 \
		--repl-diskless-sync yes --repl-diskless-sync-delay 0 \
		--save "" --appendonly no --daemonize no \
		--dir "$T/node$n" --logfile "$T/node$n.log"
	echo "$LAST_PID" >"$T/node$n.pid"
	CLUSTER_NODES+=("$n")
}

_cluster_wait_up() { # N
	local n=$1 pid
	pid=$(cat "$T/node$n.pid")
	wait_until 10 _cluster_pong "$n" && return 0
	pid_alive "$pid" || { tail -n 20 "$T/node$n.log" >&2; hard_error "node$n exited during startup"; }
	tail -n 20 "$T/node$n.log" >&2
	hard_error "node$n not answering after 10 s"
}

cluster_node_pid() { cat "$T/node$1.pid"; }
cluster_node_id() { ccli "$1" CLUSTER MYID; }

# _cluster_ok: every running node says ok and all report the same slot
# owners (by CLUSTER SLOTS: start, end, primary id), and no node reports
# a link or migration in progress.
_cluster_ok() {
	local n ref="" cur
	for n in "${CLUSTER_NODES[@]}"; do
		pid_alive "$(cluster_node_pid "$n")" || continue
		ccli "$n" CLUSTER INFO 2>/dev/null | tr -d '\r' | grep -qx 'cluster_state:ok' || return 1
		cur=$(ccli "$n" CLUSTER NODES 2>/dev/null | awk '$3 ~ /master/ && $3 !~ /fail/ { s = $1; for (i = 9; i <= NF; i++) s = s " " $i; print s }' | sort) || return 1
		[ -n "$cur" ] || return 1
		case $cur in *'['*) return 1 ;; esac   # a slot migrating/importing
		if [ -z "$ref" ]; then ref=$cur; elif [ "$ref" != "$cur" ]; then return 1; fi
	done
	return 0
}

cluster_wait_ok() { # [SECS=30]
	local t=${1:-30}
	wait_until "$t" _cluster_ok && return 0
	local n
	for n in "${CLUSTER_NODES[@]}"; do
		echo "--- node$n CLUSTER NODES:" >&2
		ccli "$n" CLUSTER NODES >&2 2>&1 || true
	done
	hard_error "the cluster is not ok on every node after ${t}s"
}

_cluster_replicas_synced() {
	local n info
	for n in "${CLUSTER_NODES[@]}"; do
		pid_alive "$(cluster_node_pid "$n")" || continue
		info=$(ccli "$n" INFO replication 2>/dev/null | tr -d '\r') || return 1
		case $info in
		*role:slave*) printf '%s\n' "$info" | grep -qx 'master_link_status:up' || return 1 ;;
		esac
	done
}

# _cluster_replicas_known R: every running node lists R healthy replicas,
# each with a primary (so CLUSTER SLOTS names them everywhere).
_cluster_replicas_known() {
	local n c
	for n in "${CLUSTER_NODES[@]}"; do
		pid_alive "$(cluster_node_pid "$n")" || continue
		c=$(ccli "$n" CLUSTER NODES 2>/dev/null | awk '$3 ~ /slave/ && $3 !~ /fail|handshake/ && $4 != "-"' | wc -l)
		[ "$c" -eq "$1" ] || return 1
	done
}

# _cluster_all_online N: every running node's CLUSTER SHARDS has N nodes
# whose health is online.
_cluster_all_online() {
	local n c
	for n in "${CLUSTER_NODES[@]}"; do
		pid_alive "$(cluster_node_pid "$n")" || continue
		c=$(ccli "$n" CLUSTER SHARDS 2>/dev/null | grep -cx 'online' || true)
		[ "$c" -eq "$1" ] || return 1
	done
}

# cluster_start [N=6]: N nodes (even), created with redis-cli --cluster
# create --cluster-replicas 1; returns when the cluster is ok everywhere
# and every replica is in sync.
cluster_start() {
	local count=${1:-6} n addrs=() t0
	t0=$(date +%s%N)
	for ((n = 1; n <= count; n++)); do
		_cluster_spawn "$n"
	done
	for ((n = 1; n <= count; n++)); do
		_cluster_wait_up "$n"
		addrs+=("$(cluster_ip "$n"):6379")
	done
	cluster_admin 60 create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
		>"$T/cluster-create.out" 2>&1 || {
		tail -n 30 "$T/cluster-create.out" >&2
		hard_error "redis-cli --cluster create failed"
	}
	cluster_wait_ok 30
	wait_until 30 _cluster_replicas_synced || hard_error "replicas not in sync after 30 s"
	wait_until 20 _cluster_replicas_known $((count / 2)) ||
		hard_error "not every node knows the $((count / 2)) replicas after 20 s"
	# A replica whose replication offset is still 0 counts as "loading"
	# and CLUSTER SLOTS leaves it out: write to every shard first.
	for n in $(seq 1 30); do echo "SET cluster-lib:warm:$n 1"; done |
		ccli_c >/dev/null 2>&1 || hard_error "cannot write to the new cluster"
	wait_until 20 _cluster_all_online "$count" ||
		hard_error "not every node reports $count nodes online (CLUSTER SHARDS) after 20 s"
	say "cluster of $count nodes up in $((($(date +%s%N) - t0) / 1000000)) ms"
}

# cluster_add_node N: start node N and add it as an empty primary
# (redis-cli --cluster add-node: CLUSTER MEET); returns when every node
# knows it.
cluster_add_node() { # N
	local n=$1 id
	_cluster_spawn "$n"
	_cluster_wait_up "$n"
	cluster_admin 30 add-node "$(cluster_ip "$n"):6379" \
		"$(cluster_ip "${CLUSTER_NODES[0]}"):6379" >"$T/add-node$n.out" 2>&1 || {
		tail -n 30 "$T/add-node$n.out" >&2
		hard_error "redis-cli --cluster add-node node$n failed"
	}
	id=$(cluster_node_id "$n")
	_known_everywhere() {
		local m
		for m in "${CLUSTER_NODES[@]}"; do
			pid_alive "$(cluster_node_pid "$m")" || continue
			ccli "$m" CLUSTER NODES 2>/dev/null | grep "^$id " | grep -qv handshake || return 1
		done
	}
	wait_until 20 _known_everywhere || hard_error "node$n ($id) not known to every node after 20 s"
	cluster_wait_ok 20
}

# The node number whose address serves slot S (per node 1's view or the
# first running node's).
cluster_primary_of_slot() { # SLOT
	local s=$1 n out ip
	for n in "${CLUSTER_NODES[@]}"; do
		pid_alive "$(cluster_node_pid "$n")" || continue
		out=$(ccli "$n" CLUSTER NODES 2>/dev/null) || continue
		ip=$(printf '%s\n' "$out" | awk -v s="$s" '
			$3 ~ /master/ && $3 !~ /fail/ {
				for (i = 9; i <= NF; i++) {
					split($i, r, "-"); lo = r[1]; hi = (r[2] == "" ? r[1] : r[2])
					if (lo !~ /^\[/ && s + 0 >= lo + 0 && s + 0 <= hi + 0) {
						split($2, a, ":"); print a[1]; exit
					}
				}
			}')
		[ -n "$ip" ] && { echo "${ip##*.}"; return 0; }
	done
	return 1
}

# cluster_key_in PREFIX RANGE...: the first key PREFIX:i (i = 1, 2, ...)
# whose hash slot is in one of the RANGEs ("0-999", "42"); computed here
# (redis-py's CRC16), not asked of a server key by key.
cluster_key_in() {
	/usr/bin/python3 - "$@" <<'PY'
import sys
from redis.crc import key_slot
prefix, rs = sys.argv[1], []
for r in sys.argv[2:]:
    a, _, b = r.partition("-")
    rs.append((int(a), int(b or a)))
for i in range(1, 500000):
    k = "%s:%d" % (prefix, i)
    s = key_slot(k.encode())
    if any(a <= s <= b for a, b in rs):
        print(k)
        sys.exit(0)
sys.exit(1)
PY
}

# cluster_key_on N PREFIX: a key PREFIX:i that node N serves (by N's own
# CLUSTER NODES line); fails when N serves no slot.
cluster_key_on() {
	local ranges
	ranges=$(ccli "$1" CLUSTER NODES | awk '$3 ~ /myself/ { for (i = 9; i <= NF; i++) if ($i !~ /^\[/) printf "%s ", $i }')
	[ -n "$ranges" ] || return 1
	# shellcheck disable=SC2086 # one word a range
	cluster_key_in "$2" $ranges
}

cluster_stop() {
	local n
	for n in "${CLUSTER_NODES[@]}"; do
		kill_wait "$(cluster_node_pid "$n")" 5
	done
}

# ---------------------------------------------------------------------------
# redtun in front of the cluster

# cluster_conf [EXTRA SETTING LINES...]: the configuration of one cluster
# service "cache" on 127.0.0.1:6379, discovering through node 1 (or
# $CLUSTER_CONNECT), node listeners on $CLUSTER_PORTS (127.0.0.1:17001-17020).
: "${CLUSTER_PORTS:=127.0.0.1:17001-17020}"
cluster_conf() {
	local l
	conf_globals
	conf_workers
	# More top-level settings, e.g. status = "127.0.0.1:9187";
	[ -z "${CLUSTER_EXTRA_GLOBALS:-}" ] || printf '%s\n' "$CLUSTER_EXTRA_GLOBALS"
	echo 'services = {'
	echo '  cache = {'
	echo '    client = true;'
	echo '    accept = "127.0.0.1:6379";'
	echo "    connect = \"${CLUSTER_CONNECT:-$(cluster_host 1):6379}\";"
	echo '    cluster = true;'
	echo "    clusterPorts = \"$CLUSTER_PORTS\";"
	for l in "$@"; do
		printf '    %s\n' "$l"
	done
	echo '  };'
	# More services (whole "name = { ... };" blocks), e.g. a control.
	[ -z "${CLUSTER_EXTRA_SERVICES:-}" ] || printf '%s\n' "$CLUSTER_EXTRA_SERVICES"
	echo '};'
}

# The local ports (170xx) named in a text.
local_ports_in() { grep -Eo '127\.0\.0\.1:170[0-9][0-9]' | sort -u; }
# The node listeners redtun logged (lines naming a node and one local
# address; not the summary line naming the range "127.0.0.1:17001-17020").
node_ports_logged() { # [LOG=$T/redtun.log]
	grep -i 'node' "${1:-$T/redtun.log}" 2>/dev/null | grep -Ev '127\.0\.0\.1:[0-9]+-[0-9]+' |
		local_ports_in || true
}
# How many ports of 17001-17020 are listening.
node_ports_listening() {
	ss -ltnH | awk '{print $4}' | sort -u | grep -Ec '^127\.0\.0\.1:170(0[1-9]|1[0-9]|20)$' || true
}
# The discovery's summary: "cluster: N nodes ...".
CLUSTER_UP_RE='cluster:.*[^0-9]6 nodes'

# assert_local_only WHAT TEXT: TEXT (a reply as redis-cli prints it) names
# no cluster host name and no node address, but 127.0.0.1 and a port of
# 17001-17020. (The ports are checked by structure in cluster_clients.py
# topo: printed, a port and a slot number look alike.)
assert_local_only() { # WHAT TEXT
	local what=$1 text=$2
	assert_not_contains "$text" "$CLUSTER_DOMAIN" "$what: names a cluster host name"
	assert_not_contains "$text" "127.0.1." "$what: names a node's own address"
	assert_contains "$text" "127.0.0.1" "$what: names the local host"
	printf '%s\n' "$text" | grep -Eq '(^|[^0-9])170(0[1-9]|1[0-9]|20)([^0-9]|$)' ||
		fail "$what: names no port of 17001-17020: $(_show "$text")"
}

# Every cluster test: redtun's log, and the milliseconds since it began.
LOG=$T/redtun.log
T0=$(date +%s%N)
elapsed() { echo "$((($(date +%s%N) - T0) / 1000000)) ms"; }

# cluster_need_python: PY and CC_PY (the python3-redis RedisCluster drivers,
# test/cluster_clients.py), or skip without them.
cluster_need_python() {
	PY=/usr/bin/python3
	[ -x "$PY" ] || skip "no /usr/bin/python3"
	"$PY" -c 'import redis.cluster' 2>/dev/null ||
		skip "python3-redis (with redis.cluster) missing"
	CC_PY=${top_srcdir:?}/test/cluster_clients.py
}
