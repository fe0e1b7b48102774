#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Issue 13, the corpus: stunnel configurations read by redtun, each either
# accepted with the expected effective settings (redtun -t
# --print-effective) and notices, or refused with the expected FILE:LINE.
#
# test/data/stunnel/corpus/ holds X.conf with X.expect:
#   line 1: "ok" or "error"; then, for ok:
#     a line of the --print-effective output, matched whole (grep -Fx);
#     "notice: TEXT"    a notice line of stderr contains TEXT;
#     "nonotice: TEXT"  no notice line contains TEXT;
#     "notices: N"      exactly N notice lines;
#     "absent: TEXT"    TEXT (a secret) is in neither stdout nor stderr;
#   for error:
#     "error: FILE:LINE: TEXT"  stderr names FILE (the basename) and LINE
#                               and contains TEXT after them.
#   @DIR@ stands for the temp copy of the corpus (certificates in
#   @DIR@/pki), in the configurations and in the expectations.
# refused.tsv describes more refused configurations, generated here, one
# per refused option or malformed line (see its header).  The AWS page's
# file (test/data/stunnel/aws-redis-cli.conf) is in the corpus too.
#
# For every accepted configuration, the round trip: redtun --convert X.conf
# > X.cfg, and redtun -t --print-effective --format libconfig X.cfg prints
# exactly what redtun -t --print-effective X.conf does (header aside).
# Then: --format libconfig on a stunnel file, a libconfig file as before,
# the hint after a libconfig syntax error, stunnel's -fd refused.
# No daemon runs: every redtun here is -t or --convert.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd openssl sed grep cmp
need_redtun

DATA=$top_srcdir/test/data/stunnel
W=$T/c

step "certificates and files the configurations name"
stunnel_corpus "$W"

# The refused rows, as configurations with their expectations.
LONG=$(head -c 17000 /dev/zero | tr '\0' a)
nrows=0
while IFS=$'\t' read -r name tpl text frag; do
	case $name in '#'* | '') continue ;; esac
	[ -n "$frag" ] || hard_error "refused.tsv: row $name has no expectation"
	f=$W/gen-$name.conf
	text=${text//@LONG@/$LONG}
	body=${text//\\n/$'\n'}
	{
		printf '; corpus (generated from refused.tsv): %s\n' "$name"
		case $tpl in
		g) printf '%s\n[svc]\nclient = yes\naccept = 127.0.0.1:17100\nconnect = localhost:16379\n' "$body" ;;
		s) printf '[svc]\nclient = yes\naccept = 127.0.0.1:17100\nconnect = localhost:16379\n%s\n' "$body" ;;
		S) printf '[svc]\nclient = no\naccept = 127.0.0.1:17100\nconnect = 127.0.0.1:16379\n%s\n' "$body" ;;
		n) printf '%s\n' "$body" ;;
		*) hard_error "refused.tsv: row $name: template $tpl" ;;
		esac
	} >"$f"
	if [[ $text == *@NUL@* ]]; then
		sed -i 's/@NUL@/\x00/' "$f"
		grep -qaP '\x00' "$f" || hard_error "no NUL written into $f"
	fi
	{
		echo error
		echo "error: gen-$name.conf:$frag"
		# A password in the row must never be printed.
		printf '%s\n' "$body" |
			sed -nE 's/^(password|protocolPassword) = (.*)/absent: \2/p'
	} >"$W/gen-$name.expect"
	nrows=$((nrows + 1))
done <"$DATA/corpus/refused.tsv"
[ "$nrows" -ge 50 ] || hard_error "refused.tsv: only $nrows rows read"

# @DIR@ in every configuration, fragment and expectation.
grep -rlZ --exclude-dir=pki '@DIR@' "$W" | xargs -0 -r sed -i "s|@DIR@|$W|g"

# run_t X.conf [ARGS]: redtun -t --print-effective; sets RC, $X.out, $X.err.
run_t() {
	local conf=$1
	shift
	RC=0
	timeout 20 "$REDTUN" -t --print-effective "$@" "$conf" >"$conf.out" 2>"$conf.err" || RC=$?
}

# has_msg FILE "F:LINE: OPTION: TEXT": a line of FILE has "F:LINE: OPTION"
# then ": TEXT"; the option may be followed by its value (" = VALUE"), as
# for repeated options (options, socket), where the value says which one.
# Without the "F:LINE: OPTION: " form, a plain substring match.
has_msg() {
	local file=$1 want=$2 prefix rest l after
	if [[ $want =~ ^([^:]*:[0-9]+:\ [^:\ ]+)(:(\ .*)?)$ ]]; then
		prefix=${BASH_REMATCH[1]} rest=${BASH_REMATCH[2]}
	else
		grep -qF -- "$want" "$file"
		return
	fi
	while IFS= read -r l; do
		after=${l#*"$prefix"}
		case $after in
		"$rest"*) return 0 ;;
		" = "*"$rest"*) return 0 ;;
		esac
	done < <(grep -F -- "$prefix" "$file")
	return 1
}

# check_one X.conf: its expectation.  Sets KIND (ok|error).
check_one() {
	local conf=$1 base exp line want n
	base=$(basename "$conf")
	exp=${conf%.conf}.expect
	[ -f "$exp" ] || fail "$base: no ${exp##*/}"
	KIND=$(head -n 1 "$exp")
	run_t "$conf"
	case $KIND in
	ok)
		[ "$RC" -eq 0 ] || fail "$base: redtun -t exit $RC, expected 0: $(cat "$conf.err")"
		assert_eq "# effective settings of $conf" "$(head -n 1 "$conf.out")" "$base: header line"
		;;
	error)
		[ "$RC" -eq 1 ] || fail "$base: redtun -t exit $RC, expected 1: $(cat "$conf.err" "$conf.out")"
		assert_file_no_match "$conf.out" "configuration OK" "$base: refused, yet OK on stdout"
		;;
	*) fail "${exp##*/}: first line must be ok or error, not [$KIND]" ;;
	esac
	while IFS= read -r line; do
		case $line in
		notices:*)
			want=${line#notices: }
			n=$(grep -c '^redtun: notice: ' "$conf.err" || true)
			[ "$n" -eq "$want" ] || fail "$base: $n notice lines, expected $want:
$(grep '^redtun: notice: ' "$conf.err")"
			;;
		notice:*)
			grep '^redtun: notice: ' "$conf.err" >"$conf.notices" || true
			has_msg "$conf.notices" "${line#notice: }" ||
				fail "$base: no notice contains [${line#notice: }]; stderr:
$(cat "$conf.err")"
			;;
		nonotice:*)
			! grep '^redtun: notice: ' "$conf.err" | grep -qF -- "${line#nonotice: }" ||
				fail "$base: a notice contains [${line#nonotice: }]"
			;;
		absent:*)
			! grep -qF -- "${line#absent: }" "$conf.out" "$conf.err" ||
				fail "$base: the secret [${line#absent: }] was printed"
			;;
		error:*)
			# "error: FILE:LINE: TEXT": the message names the path given
			# (or an included file's), so match from "/FILE:LINE: ".
			has_msg "$conf.err" "/${line#error: }" ||
				fail "$base: stderr lacks [.../${line#error: }]; it says:
$(cat "$conf.err")"
			;;
		*)
			grep -qFx -- "$line" "$conf.out" ||
				fail "$base: --print-effective lacks the line [$line]; it printed:
$(cat "$conf.out")"
			;;
		esac
	done < <(tail -n +2 "$exp")
	# An error says FILE:LINE and nothing is noticed after it.
	if [ "$KIND" = error ]; then
		[ "$(grep -c . "$conf.err")" -ge 1 ] || fail "$base: refused in silence"
	fi
}

# round_trip X.conf: --convert, then the libconfig text's effective settings.
round_trip() {
	local conf=$1 base cfg rc=0
	base=$(basename "$conf")
	cfg=${conf%.conf}.cfg
	timeout 20 "$REDTUN" --convert "$conf" >"$cfg" 2>"$cfg.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "$base: --convert exit $rc: $(cat "$cfg.err")"
	[ -s "$cfg" ] || fail "$base: --convert printed nothing"
	run_t "$cfg" --format libconfig
	[ "$RC" -eq 0 ] || fail "$base: the converted file fails -t (exit $RC): $(cat "$cfg.err")
$(cat -n "$cfg")"
	if ! diff <(tail -n +2 "$conf.out") <(tail -n +2 "$cfg.out") >"$cfg.diff"; then
		cat "$cfg.diff" >&2
		fail "$base: the converted file's effective settings differ (< stunnel file, > converted)"
	fi
}

step "every configuration of the corpus"
total=0 accepted=0 refused=0 trips=0 converted_refused=0
for conf in "$W"/*.conf; do
	check_one "$conf"
	total=$((total + 1))
	if [ "$KIND" = ok ]; then
		accepted=$((accepted + 1))
		round_trip "$conf"
		trips=$((trips + 1))
	else
		refused=$((refused + 1))
		# --convert: a line the translation refuses is refused with the same
		# FILE:LINE; a value only conf.c refuses (fips = yes, a Unix
		# socket, a server without cert) may be converted, but the
		# converted file must be refused by -t just the same.
		rc=0
		timeout 20 "$REDTUN" --convert "$conf" >"$conf.cvt" 2>"$conf.cvt.err" || rc=$?
		case $rc in
		1)
			[ ! -s "$conf.cvt" ] || fail "$(basename "$conf"): --convert refused it but printed: $(head -c 300 "$conf.cvt")"
			has_msg "$conf.cvt.err" "$(grep -m1 '^error: ' "${conf%.conf}.expect" | sed 's/^error: /\//')" ||
				fail "$(basename "$conf"): --convert does not name the same FILE:LINE: $(cat "$conf.cvt.err")"
			;;
		0)
			run_t "$conf.cvt" --format libconfig
			[ "$RC" -eq 1 ] || fail "$(basename "$conf"): converted, and the converted file passes -t (exit $RC)"
			converted_refused=$((converted_refused + 1))
			;;
		*) fail "$(basename "$conf"): --convert exit $rc: $(cat "$conf.cvt.err")" ;;
		esac
	fi
done
say "$total configs: $accepted accepted, $refused refused, round trip $trips/$accepted"
say "($converted_refused of the refused ones are refused by the settings check, after a translation --convert prints)"
figure corpus_configs "$total"
figure corpus_accepted "$accepted"
[ "$total" -ge 25 ] || fail "only $total configurations in the corpus"
if [ "$accepted" -lt 10 ] || [ "$refused" -lt 10 ]; then
	fail "the corpus must have both kinds (10 of each at least)"
fi

step "the AWS file's effective settings, whole"
# The AWS page's file: every setting, so that a change of any default
# shows here.
[ -f "$DATA/aws-redis-cli.effective" ] || hard_error "no $DATA/aws-redis-cli.effective"
diff "$DATA/aws-redis-cli.effective" <(tail -n +2 "$W/aws-redis-cli.conf.out") ||
	fail "the AWS file's effective settings changed (< expected, > now)"
# The same, converted and read back as libconfig (the round trip above
# compared them already; this names the file the user would keep).
diff "$DATA/aws-redis-cli.effective" <(tail -n +2 "$W/aws-redis-cli.cfg.out") ||
	fail "the converted AWS file's effective settings differ"

step "--format libconfig on a stunnel file: refused, with a hint"
rc=0
out=$(timeout 20 "$REDTUN" -t --format libconfig "$W/aws-redis-cli.conf" 2>&1) || rc=$?
say "$out"
assert_eq 1 "$rc" "--format libconfig on a stunnel file"
assert_contains "$out" "--format stunnel" "the error suggests --format stunnel"

step "a libconfig file still loads (detected, and with --format libconfig)"
cp "$W/pki/ca.crt" "$T/ca.crt"   # conf_globals names it
{
	conf_globals
	echo 'services = {'
	conf_service one 17201 16379
	echo '};'
} >"$T/native.conf"
for args in "" "--format libconfig"; do
	rc=0
	# shellcheck disable=SC2086
	timeout 20 "$REDTUN" -t $args "$T/native.conf" >"$T/native.out" 2>"$T/native.err" || rc=$?
	assert_eq 0 "$rc" "redtun -t $args native.conf: $(cat "$T/native.err")"
	assert_file_match "$T/native.out" "configuration OK \(1 services?\)" "-t $args on a libconfig file"
	assert_file_no_match "$T/native.err" "notice:" "no stunnel notices for a libconfig file"
done
run_t "$T/native.conf"
assert_eq 0 "$RC" "--print-effective on a libconfig file"
assert_eq "# effective settings of $T/native.conf" "$(head -n 1 "$T/native.conf.out")" "header (libconfig)"
assert_file_match "$T/native.conf.out" '^\[one\] accept = "127\.0\.0\.1:17201"$' "--print-effective (libconfig): accept"
assert_file_match "$T/native.conf.out" '^\[one\] connect = \[ "localhost:16379" \]$' "--print-effective (libconfig): connect"
assert_file_match "$T/native.conf.out" "^debug = " "--print-effective (libconfig): the global debug"

step "--format stunnel on a libconfig file: an error with FILE:LINE"
rc=0
out=$(timeout 20 "$REDTUN" -t --format stunnel "$T/native.conf" 2>&1) || rc=$?
say "$out"
assert_eq 1 "$rc" "--format stunnel on a libconfig file"
assert_contains "$out" "$T/native.conf:" "the error names the file"

step "a libconfig syntax error in a file that looks like stunnel's: the hint"
printf 'client = yes\naccept = 127.0.0.1:17301\nconnect = { localhost:16379 }\n' >"$T/hybrid.conf"
rc=0
out=$(timeout 20 "$REDTUN" -t "$T/hybrid.conf" 2>&1) || rc=$?
say "$out"
assert_eq 1 "$rc" "a file with '{' and key = value lines"
assert_contains "$out" "--format stunnel" "the syntax error suggests --format stunnel"

step "stunnel's -fd N is refused with a clear message"
rc=0
out=$(timeout 20 "$REDTUN" -fd 3 3<"$W/aws-redis-cli.conf" 2>&1) || rc=$?
say "$out"
[ "$rc" -ne 0 ] || fail "redtun -fd 3 exited 0"
assert_contains "$out" "-fd" "the message names -fd"
assert_not_contains "$out" "Segmentation" "-fd"

step "stunnel's other words: Windows service options and OpenSSL lists refused, -version works"
for w in -install -uninstall -start -stop -reload -reopen -exit -quiet; do
	rc=0
	out=$(timeout 20 "$REDTUN" "$w" 2>&1) || rc=$?
	assert_eq 1 "$rc" "redtun $w: exit status"
	assert_contains "$out" "redtun: $w is a Windows service option of stunnel" "redtun $w"
done
for w in -sockets -options; do
	rc=0
	out=$(timeout 20 "$REDTUN" "$w" 2>&1) || rc=$?
	assert_eq 1 "$rc" "redtun $w: exit status"
	assert_contains "$out" "redtun: $w lists stunnel's OpenSSL settings" "redtun $w"
done
out=$(timeout 20 "$REDTUN" -version) || fail "redtun -version failed"
assert_match "$out" "^redtun [0-9]" "redtun -version"
say "PASS"
