#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Redis Cluster with ElastiCache IAM: cluster discovery authenticates with
# AUTH iamUser TOKEN (at start, before the first token is in force, with a
# token made on the spot; on refreshes with the runtime's), since the
# nodes refuse CLUSTER to the default user.  Without credentials redtun
# does not start and says why.
# Runs in private mount + network namespaces (unshare -mn); skips without.
set -eu

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/netns.sh"
netns_reexec iam-cluster "$@"

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"
. "$top_srcdir/test/cluster-lib.sh"

need_cmd redis-server redis-cli openssl timeout ip mount getent ss awk
need_redtun

SECRET="ClusterSecret-h5Wd8-wJalrXUtnFEMI"
IAM=('iamUser = "iamuser";' 'iamCache = "my-cluster";' 'iamRegion = "eu-west-1";')

step "private network, a TLS cluster of 6; CLUSTER for iamuser only"
cluster_net
cluster_certs
cluster_start 6
for n in 1 2 3 4 5 6; do
	assert_eq OK "$(ccli "$n" ACL SETUSER iamuser on nopass '~*' '&*' +@all)" \
		"iamuser on node $n"
	assert_eq OK "$(ccli "$n" ACL SETUSER default -cluster)" \
		"no CLUSTER for default on node $n"
done
assert_contains "$(ccli 1 CLUSTER SHARDS 2>&1)" "NOPERM" "default may not ask"

step "no AWS credentials: redtun does not start, and says why"
cluster_conf 'clusterRefresh = 1;' "${IAM[@]}" >"$T/redtun.conf"
rc=0
env -i PATH="$PATH" HOME="$T" AWS_EC2_METADATA_DISABLED=true \
	timeout 20 "$REDTUN" "$T/redtun.conf" >"$T/nocreds.out" 2>&1 || rc=$?
assert_ne 0 "$rc" "redtun without credentials exits non-zero"
assert_contains "$(cat "$T/nocreds.out")" "IAM: no AWS credentials" "says why"
assert_file_match "$LOG" "cluster discovery failed: .*IAM: no AWS credentials"
mv "$LOG" "$T/nocreds.log"

step "credentials from the environment: discovery authenticates"
rc=0
env -i PATH="$PATH" HOME="$T" AWS_EC2_METADATA_DISABLED=true \
	AWS_ACCESS_KEY_ID=AKIDCLUSTEREXAMPLE01 AWS_SECRET_ACCESS_KEY="$SECRET" \
	timeout 20 "$REDTUN" "$T/redtun.conf" >"$T/start.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "redtun started: $(cat "$T/start.out")"
RT_PID=$(redtun_pid) || fail "no pidfile"
wait_for_log "$LOG" "$CLUSTER_UP_RE" 10
wait_until 10 port_listening 6379 || fail "nothing listens on 127.0.0.1:6379"
assert_eq iamuser "$(rcli 6379 ACL WHOAMI 2>&1)" "clients are iamuser"
for i in 1 2 3 4 5 6 7 8; do
	out=$(timeout 10 redis-cli -c -p 6379 SET "iam:$i" "v$i" 2>&1)
	assert_eq OK "$out" "SET iam:$i through the cluster"
	out=$(timeout 10 redis-cli -c -p 6379 GET "iam:$i" 2>&1)
	assert_eq "v$i" "$out" "GET iam:$i through the cluster"
done

step "refreshes (every second) authenticate with the runtime's token"
n0=$(log_count "$LOG" "IAM: new token")
sleep 2.5
assert_file_no_match "$LOG" "cluster discovery failed|AUTH refused|NOPERM"
assert_redtun_alive "after refreshes"
kill_wait "$RT_PID"
wait_for_log "$LOG" "exiting" 5
say "tokens made: $(log_count "$LOG" "IAM: new token") (at start: $n0)"
hits=$(grep -rlF -- "$SECRET" "$T" || true)
assert_eq "" "$hits" "the secret found in"
say "PASS"
