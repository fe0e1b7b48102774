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
assert_file_match "$out" "^## Targets: the status endpoint's cost" "the status endpoint's section"
# The figure, when gnuplot is there; no path of this machine in what is
# written (the report, the figure, its data and script).
if command -v gnuplot >/dev/null 2>&1; then
	assert_file_match "$out" '^!\[benchmark\]\(bench\.svg\)$' "the figure embedded"
	assert_file_match "$T/bench.svg" '<svg' "bench.svg drawn"
	assert_file_match "$T/bench.dat" '^W1 GET	[0-9.]+	' "bench.dat"
fi
for f in "$out" "$T/bench.svg" "$T/bench.gp" "$T/bench.dat"; do
	[ -f "$f" ] || continue
	assert_file_no_match "$f" "$T|$top_srcdir|/tmp/|/work/|/home/" "no absolute path in ${f##*/}"
done
say "ok"
