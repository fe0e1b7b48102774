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
