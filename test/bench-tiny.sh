#!/bin/bash
# `make bench` end to end at a tiny size: every workload runs and the report
# is written. Benchmarks are never timed assertions; this only checks that
# the tool works, so that the figures in docs/BENCHMARKS.md can be redone.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-benchmark python3
need_redtun
out=$T/bench.md
BENCH_SCALE=tiny BENCH_INSTALL=no timeout 300 "$top_srcdir/scripts/bench" --out "$out" \
	>"$T/bench.log" 2>&1 || { tail -n 30 "$T/bench.log"; fail "scripts/bench failed"; }
for w in W1 W2 W3 W4 W5; do
	assert_file_match "$out" "^## $w" "section $w in the report"
done
assert_file_match "$out" "^\| redtun \| [0-9,.]+ \|" "a redtun row with numbers"
assert_file_match "$out" "KB per connection|KB/conn" "the memory table"
say "ok"
