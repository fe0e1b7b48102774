#!/bin/bash
# The ElastiCache IAM token (src/sigv4.c through test/sigv4_token) against
# botocore's presigner, byte for byte, over a few hundred cases from a
# fixed seed (test/sigv4_diff.py): session tokens, serverless caches, user
# ids that need encoding, several regions and times.  Skips without
# python3-botocore (a Debian package: /usr/bin/python3, not a pyenv).
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

prog="$top_builddir/test/sigv4_token"
[ -x "$prog" ] || hard_error "$prog is not built (make check builds it)"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "no /usr/bin/python3"
"$PY" -c 'import botocore' 2>/dev/null ||
	skip "no python3-botocore (scripts/bootstrap --test)"

step "redtun's tokens against botocore's"
seed=${SIGV4_DIFF_SEED:-15}
cases=${SIGV4_DIFF_CASES:-400}
rc=0
out=$("$PY" "$top_srcdir/test/sigv4_diff.py" "$prog" "$seed" "$cases" 2>&1) ||
	rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || fail "redtun's token differs from botocore's (exit $rc)"
same=$(printf '%s\n' "$out" | grep -o '[0-9]* of [0-9]* cases identical' |
	grep -o '^[0-9]*')
assert_eq "$cases" "$same" "identical cases"
figure sigv4_diff_identical "$same" cases

step "the program refuses what it must"
# An empty user and a cache that is not a host name: ERROR, no token.
line=$(printf 'AKID\tsecret\t-\tus-east-1\tmy-cache\t\t0\t1700000000\n')
assert_eq ERROR "$(printf '%s\n' "$line" | "$prog")" "empty user"
line=$(printf 'AKID\tsecret\t-\tus-east-1\tmy/cache\t75\t0\t1700000000\n')
assert_eq ERROR "$(printf '%s\n' "$line" | "$prog")" "cache with a slash"
