#!/bin/bash
# make install DESTDIR=...: the configuration lands where the installed
# units read it ($(sysconfdir)/redtun/redtun.conf), the installed man pages
# name that same path, the sysusers.d snippet creates the redtun account,
# the units pass systemd-analyze verify (when it exists), and a second
# install keeps a modified configuration. Nothing outside $T is touched.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd make grep sed cmp
[ -f "$top_builddir/Makefile" ] || hard_error "no Makefile in $top_builddir (configure first)"
need_redtun

# The build tree's own Makefile, but not the job server of an outer make.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
ROOT=$T/root
do_install() {
	make -C "$top_builddir" install DESTDIR="$ROOT" >"$T/install-$1.log" 2>&1 ||
		{ tail -n 30 "$T/install-$1.log" >&2; fail "make install DESTDIR=$ROOT failed ($1)"; }
}

step "first install"
do_install 1
# The directories the build was configured with.
mkvar() { make -s -C "$top_builddir" --no-print-directory -f Makefile -f - print-var <<EOF
print-var: ; @echo \$($1)
EOF
}
SYSCONFDIR=$(mkvar sysconfdir)
SBINDIR=$(mkvar sbindir)
PREFIX=$(mkvar prefix)
MANDIR=$(mkvar mandir)
DOCDIR=$(mkvar docdir)
say "prefix=$PREFIX sysconfdir=$SYSCONFDIR sbindir=$SBINDIR"
[ -n "$SYSCONFDIR" ] && [ -n "$SBINDIR" ] || hard_error "cannot read the Makefile's directories"

UNITDIR=$ROOT$PREFIX/lib/systemd/system
UNIT=$UNITDIR/redtun.service
TUNIT=$UNITDIR/redtun@.service
[ -f "$UNIT" ] || fail "no installed unit $UNIT"
[ -f "$TUNIT" ] || fail "no installed unit $TUNIT"
[ -x "$ROOT$SBINDIR/redtun" ] || fail "no installed binary $ROOT$SBINDIR/redtun"

step "the installed unit reads the installed configuration"
conf=$(sed -n 's|^ExecStart=[^ ]* -f \(.*\)$|\1|p' "$UNIT")
assert_eq "$SYSCONFDIR/redtun/redtun.conf" "$conf" "ExecStart's configuration"
[ -f "$ROOT$conf" ] || fail "the unit reads $conf, but make install put no file at $ROOT$conf"
cmp -s "$top_srcdir/etc/redtun.conf" "$ROOT$conf" ||
	fail "$ROOT$conf is not the sample etc/redtun.conf"
[ ! -e "$ROOT$SYSCONFDIR/redtun.conf" ] || fail "a stray $SYSCONFDIR/redtun.conf was installed"
exe=$(sed -n 's|^ExecStart=\([^ ]*\) .*|\1|p' "$UNIT")
assert_eq "$SBINDIR/redtun" "$exe" "ExecStart's binary"
assert_file_no_match "$UNIT" '@[a-z]+@' "unsubstituted @variables@ in the unit"
assert_file_match "$UNIT" '^RuntimeDirectory=redtun$' "RuntimeDirectory=redtun"
assert_file_match "$TUNIT" '^ExecStart=[^ ]+ -f '"$(re_quote "$SYSCONFDIR/redtun/%i.conf")"'$' \
	"the template reads $SYSCONFDIR/redtun/NAME.conf"
assert_file_match "$TUNIT" '^RuntimeDirectory=redtun/%i$' "RuntimeDirectory of the template"
for u in "$UNIT" "$TUNIT"; do
	# every path to the configuration in the unit names the same directory
	if grep -Eo '/[^ ]*/redtun/[^ ]*\.conf' "$u" | grep -v "^$(re_quote "$SYSCONFDIR")/redtun/" | grep -q .; then
		fail "$u names another configuration directory: $(grep -Eo '/[^ ]*/redtun/[^ ]*\.conf' "$u" | sort -u | tr '\n' ' ')"
	fi
done
say "unit: $exe -f $conf"

step "the installed man pages name the same path"
for m in man8/redtun.8 man5/redtun.conf.5; do
	f=$ROOT$MANDIR/$m
	[ -f "$f" ] || fail "no installed man page $f"
	assert_file_match "$f" "$(re_quote "$SYSCONFDIR/redtun/redtun.conf")" "$m names $SYSCONFDIR/redtun/redtun.conf"
	if [ "$SYSCONFDIR" != /etc ]; then
		assert_file_no_match "$f" '(^|[^a-z/])/etc/redtun/' "$m still names /etc/redtun/"
	fi
done

step "sysusers.d: the redtun account"
SU=$ROOT$PREFIX/lib/sysusers.d/redtun.conf
[ -f "$SU" ] || fail "no $SU"
assert_file_match "$SU" '^u redtun ' "a 'u redtun' line"
unit_user=$(sed -n 's/^setuid = "\(.*\)";.*/\1/p' "$ROOT$conf")
assert_eq redtun "$unit_user" "the sample's setuid account is the sysusers account"
if command -v systemd-sysusers >/dev/null 2>&1; then
	# Applied to the DESTDIR tree only (it writes $ROOT/etc/passwd, group).
	mkdir -p "$ROOT/etc"
	# The installed file itself, from stdin: systemd-sysusers reads
	# $(prefix)/lib/sysusers.d only for /usr and /usr/local.
	systemd-sysusers --root="$ROOT" - <"$SU" >"$T/sysusers.log" 2>&1 ||
		{ cat "$T/sysusers.log" >&2; fail "systemd-sysusers --root failed"; }
	assert_file_match "$ROOT/etc/passwd" '^redtun:x:[0-9]+:[0-9]+:[^:]*:/:[^:]*nologin$' "redtun in passwd"
	assert_file_match "$ROOT/etc/group" '^redtun:x:[0-9]+:' "redtun in group"
else
	say "no systemd-sysusers: not applying the snippet"
fi

step "systemd-analyze verify"
if command -v systemd-analyze >/dev/null 2>&1; then
	# A copy of each unit whose commands point into DESTDIR (verify checks
	# that they exist); the instance of the template is "check".
	SA=$T/sa
	mkdir -p "$SA"
	sed "s|$(re_quote "$SBINDIR")/redtun|$ROOT$SBINDIR/redtun|g" "$UNIT" >"$SA/redtun.service"
	sed "s|$(re_quote "$SBINDIR")/redtun|$ROOT$SBINDIR/redtun|g" "$TUNIT" >"$SA/redtun@.service"
	for u in redtun.service redtun@check.service; do
		if ! (cd "$SA" && timeout 60 systemd-analyze verify --man=no "$SA/$u") >"$T/verify-$u.log" 2>&1; then
			cat "$T/verify-$u.log" >&2
			fail "systemd-analyze verify $u"
		fi
		if grep -v '^$' "$T/verify-$u.log" | grep -q .; then
			cat "$T/verify-$u.log" >&2
			fail "systemd-analyze verify $u printed warnings"
		fi
		say "systemd-analyze verify $u: clean"
	done
else
	say "no systemd-analyze: skipping the unit verification"
fi

step "a second install keeps a modified configuration"
printf '# edited by the operator\n' >>"$ROOT$conf"
cp "$ROOT$conf" "$T/edited.conf"
do_install 2
cmp -s "$T/edited.conf" "$ROOT$conf" || fail "make install overwrote the modified $conf"
assert_file_match "$T/install-2.log" 'keeping the existing' "the second install says it kept the configuration"
cmp -s "$top_srcdir/etc/redtun.conf" "$ROOT$DOCDIR/examples/redtun.conf" ||
	fail "the sample is not in $DOCDIR/examples"

step "uninstall keeps the modified configuration"
make -C "$top_builddir" uninstall DESTDIR="$ROOT" >"$T/uninstall.log" 2>&1 ||
	{ tail -n 30 "$T/uninstall.log" >&2; fail "make uninstall failed"; }
[ -f "$ROOT$conf" ] || fail "make uninstall removed the modified $conf"
[ ! -e "$UNIT" ] || fail "make uninstall left $UNIT"
[ ! -e "$SU" ] || fail "make uninstall left $SU"
say "PASS"
