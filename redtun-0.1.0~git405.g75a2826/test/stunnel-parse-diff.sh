#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# Issue 13, differential: every stunnel configuration of the corpus read by
# stunnel itself (/usr/bin/stunnel4) and by redtun -t.  stunnel is the
# reference for its own format:
#   - where stunnel refuses a line as malformed ("No '=' found", an option
#     name it does not know, a global option after a section, inetd mode),
#     redtun refuses the same FILE:LINE;
#   - a file redtun accepts, stunnel accepts too, unless stunnel stops at
#     one of redtun's own settings (prewarm, reuse, cluster...) or at
#     checkHost without verifyChain (redtun verifies by default), at an
#     option this stunnel lacks (redtun then notes it on that line), or at
#     a spelling redtun also takes (true/false, NO_TLSv1.3);
#   - the rest (redtun refuses what stunnel runs: protocol, exec, OCSP...)
#     is counted and listed, each with redtun's reason.
# stunnel binds and runs what it accepts, so this runs in private mount and
# network namespaces (private network namespace only), with /run and
# /dev/log private, and every stunnel is stopped before the next file.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/netns.sh"
netns_reexec stunnel-parse-diff "$@"
. "$top_srcdir/test/lib.sh"

need_cmd stunnel4 openssl timeout pkill ip
need_redtun
ip link set lo up

W=$T/c
stunnel_corpus "$W"
grep -rlZ --exclude-dir=pki '@DIR@' "$W" | xargs -0 -r sed -i "s|@DIR@|$W|g"
# stunnel's pid files and syslog stay in here.
mount -t tmpfs tmpfs /run
[ ! -e /dev/log ] || mount --bind /dev/null /dev/log

# redtun's own settings: stunnel does not know them (nor redtun's default
# verification: see below).
OWN='prewarm|reuse|reuseIdle|reuseMax|username|password|passwordFile|role|cluster|clusterPorts|clusterRefresh|clusterGrace|maxConnections|failoverBackoff|encryption|workers|sessionResume|iamUser|iamCache|iamRegion|iamServerless|iamReauth|iamLifetime|iamTokenRefresh'

# stunnel_verdict FILE: "ok", or "LINE<TAB>MESSAGE" of its first error.
stunnel_verdict() {
	local f=$1 rc=0 err
	err=$T/stunnel.err
	(cd "$W" && timeout 4 stunnel4 "$f") >/dev/null 2>"$err" || rc=$?
	pkill -f "stunnel4 $f" 2>/dev/null || :
	if [ "$rc" -ne 1 ]; then
		echo ok
		return
	fi
	# "[!] FILE:LINE: "TEXT": MESSAGE", or a message without a line.
	sed -nE "s|^\[!\] $(re_quote "$f"):([0-9]+): (.*)$|\1\t\2|p" "$err" |
		head -n 1 | grep . || printf '0\t%s\n' "$(grep -m1 '^\[!\]' "$err" || echo failed)"
}

# redtun_verdict FILE: "ok", or "LINE<TAB>MESSAGE".
redtun_verdict() {
	local f=$1 rc=0 err=$T/redtun.err
	timeout 20 "$REDTUN" -t "$f" >/dev/null 2>"$err" || rc=$?
	if [ "$rc" -eq 0 ]; then
		echo ok
		return
	fi
	grep -v ': notice: \|: warning: ' "$err" |
		sed -nE "s|^redtun: [^:]*:([0-9]+): (.*)$|\1\t\2|p" | head -n 1 |
		grep . || printf '0\t%s\n' "$(head -n 1 "$err")"
}

# Malformed files, each wrong at one line that both must name.
SVC=$'[s]\nclient = yes\naccept = 127.0.0.1:17200\nconnect = localhost:16379'
printf '%s\nthis line has no equals sign\n' "$SVC" >"$W/zz-no-equals.conf"
printf 'debug = 5\n%s\nnoSuchOption = 1\n' "$SVC" >"$W/zz-unknown.conf"
printf '%s\npid = %s/run/x.pid\n' "$SVC" "$W" >"$W/zz-global-late.conf"
printf '%s\nCLIENT = yes\nTIMEOUTidle = soon\n' "$SVC" >"$W/zz-bad-number.conf"

step "each corpus file, by stunnel4 and by redtun -t"
n=0 both_ok=0 same_line=0 by_design=0 own=0 malformed=0
for f in "$W"/*.conf; do
	base=${f##*/}
	s=$(stunnel_verdict "$f")
	r=$(redtun_verdict "$f")
	n=$((n + 1))
	sline=${s%%$'\t'*} smsg=${s#*$'\t'}
	rline=${r%%$'\t'*} rmsg=${r#*$'\t'}
	if [ "$s" = ok ] && [ "$r" = ok ]; then
		both_ok=$((both_ok + 1))
		echo "  both accept: $base"
		continue
	fi
	if [ "$r" = ok ]; then
		# Only redtun's own settings may make stunnel refuse a file
		# redtun runs.
		if [[ $smsg =~ ^\"($OWN)\ *= ]]; then
			own=$((own + 1))
			echo "  stunnel stops at redtun's own setting: $base:$sline: $smsg"
			continue
		fi
		# stunnel wants verifyChain before checkHost means anything;
		# redtun verifies by default, so checkHost alone is enough.
		if [[ $smsg == *'Either "verifyChain" or "verifyPeer" has to be enabled'* ]]; then
			own=$((own + 1))
			echo "  stunnel needs verifyChain for checkHost, redtun verifies by default: $base"
			continue
		fi
		# An option this stunnel (5.68, Linux) does not know (Windows,
		# or 5.75's): redtun may accept it, but with a notice on that line.
		if [[ $smsg == *"Specified option name is not valid here"* ]] &&
			grep -q "^redtun: notice: $(re_quote "$f"):$sline: " "$T/redtun.err"; then
			own=$((own + 1))
			echo "  stunnel 5.68 does not know it, redtun notes it: $base:$sline: $smsg"
			continue
		fi
		# Spellings stunnel's OpenSSL tables lack but whose meaning is
		# plain (true/false, NO_TLSv1.3 for NO_TLSv1_3): redtun takes them.
		if [[ $smsg == *"needs to be either 'yes' or 'no'"* ||
			$smsg == *"Illegal TLS option"* ]]; then
			own=$((own + 1))
			echo "  redtun takes a spelling stunnel does not: $base:$sline: $smsg"
			continue
		fi
		fail "$base: redtun accepts what stunnel refuses at line $sline: $smsg"
	fi
	if [ "$s" != ok ]; then
		case $smsg in
		*"No '=' found"* | *"Specified option name is not valid here"* | \
			*"Global option"* | *"Each service must define two endpoints"* | \
			*"Invalid"* | *"Illegal"*)
			[ "$rline" = "$sline" ] ||
				fail "$base: stunnel refuses line $sline ($smsg), redtun line $rline ($rmsg)"
			[[ $base != zz-* ]] || malformed=$((malformed + 1))
			;;
		esac
		[ "$rline" != "$sline" ] || same_line=$((same_line + 1))
		echo "  both refuse: $base: stunnel line $sline ($smsg); redtun line $rline ($rmsg)"
		continue
	fi
	by_design=$((by_design + 1))
	echo "  redtun refuses what stunnel runs: $base:$rline: $rmsg"
done
[ "$n" -ge 25 ] || fail "only $n corpus files"
# Both readers must have accepted some files, and refused some: a run where
# stunnel never started (or redtun refused everything) proves nothing.
[ "$both_ok" -ge 5 ] || fail "only $both_ok files accepted by both"
[ "$by_design" -ge 3 ] || fail "only $by_design refused by redtun alone"
[ "$malformed" -eq 4 ] || fail "$malformed of the 4 malformed files refused by both at the same line"
echo "stunnel-parse-diff: $n files: $both_ok accepted by both, $same_line refused by both at the same line, $by_design refused by redtun only (unsupported options), $own refused by stunnel only (redtun settings, checkHost without verifyChain, options 5.68 lacks, spellings)"
say "PASS"
