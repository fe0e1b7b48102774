#!/bin/bash
# Replay the fuzz seed corpora and every saved crash input through the
# harnesses (built without libFuzzer), under the sanitizers when the tree
# is configured with --enable-sanitizers.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

gen_certs
export FUZZ_CERT_DIR=$T
export LSAN_OPTIONS="suppressions=$top_srcdir/test/fuzz/lsan.supp:print_suppressions=0"
for n in conf ini tls identity nc chain relay resp filter cluster http sigv4 awscreds; do
	out=$("$top_builddir/test/replay_$n" "$top_srcdir/test/fuzz/corpus/$n" \
		"$top_srcdir/test/fuzz/regress/$n" 2>&1) || {
		printf '%s\n' "$out" | tail -n 30
		fail "replaying the $n fuzz inputs failed"
	}
	say "$n: $out"
	count=$(printf '%s\n' "$out" | grep -o 'replayed [0-9]*' | grep -o '[0-9]*')
	[ "$count" -ge 3 ] || fail "$n: only $count inputs replayed (corpus missing?)"
	figure "fuzz_${n}_replayed" "$count" inputs
done
