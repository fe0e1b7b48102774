# Sourced by tests that need their own /etc/hosts, resolver, ports or trust
# store, before test/lib.sh (so no temp dir is made outside):
#   . "$top_srcdir/test/netns.sh"; netns_reexec NAME "$@"
# Re-runs the calling script in private mount and network namespaces
# (unshare -mn, or -rmn as non-root), once; exits 77 (SKIP) without them.
# Inside, REDTUN_IN_NETNS=1 is set and netns_reexec returns.
netns_reexec() { # NAME ARGS...
	local name=$1 ns
	shift
	[ -z "${REDTUN_IN_NETNS:-}" ] || return 0
	if ! command -v unshare >/dev/null 2>&1; then
		echo "$name: SKIP: unshare not found" >&2
		exit 77
	elif unshare -mn true 2>/dev/null; then
		ns="-mn"
	elif unshare -rmn true 2>/dev/null; then
		ns="-rmn"
	else
		echo "$name: SKIP: cannot create a mount+network namespace (unshare -mn)" >&2
		exit 77
	fi
	REDTUN_IN_NETNS=1 exec unshare "$ns" bash "$0" "$@"
}

# start_tls_node NAME IP CERT KEY [ARGS...]: a TLS-only redis-server on
# IP:6379 (inside netns_reexec only: that 6379 is the namespace's own)
# with CERT and KEY, its files in $T/NAME*; waits for PING (not verifying:
# impostors use it too).
start_tls_node() {
	local name=$1 ip=$2 cert=$3 key=$4 i
	shift 4
	[ -n "${REDTUN_IN_NETNS:-}" ] ||
		hard_error "start_tls_node outside a private network namespace"
	mkdir -p "$T/$name"
	spawn "$T/$name.out" redis-server --port 0 --tls-port 6379 --bind "$ip" \
		--tls-cert-file "$cert" --tls-key-file "$key" \
		--tls-ca-cert-file "$T/ca.crt" --tls-auth-clients no \
		--save "" --appendonly no --daemonize no \
		--dir "$T/$name" --logfile "$T/$name.log" "$@"
	for ((i = 0; i < 100; i++)); do
		[ "$(timeout 5 redis-cli --tls --insecure -h "$ip" -p 6379 PING 2>/dev/null)" = PONG ] &&
			return 0
		pid_alive "$LAST_PID" || break
		sleep 0.1
	done
	hard_error "redis $name on $ip:6379 did not start"
}
