#!/bin/bash
# shellcheck disable=SC2119 # helpers with optional arguments
# The Debian package (issue 16), end to end on this machine: make deb
# (lintian included), a list of the files under the system directories,
# dpkg -i, the installed layout, the units, the account, the packaged
# configuration (-t, and a start that listens on nothing), a tunnel through
# the installed binary running as the redtun account, dpkg --purge, and the
# list again: it must equal the first one.
#
# Not in TESTS (it installs a package): .ci/run's "deb" stage runs it, as
# root. Skips (77) without root or dpkg-buildpackage, or where a redtun is
# already installed (package, /usr/sbin/redtun or /etc/redtun). REDTUN_DEB
# names a .deb to test instead of building one.
#
# The machine is left as it was: on any exit the package is purged, and
# the redtun account, which a purge keeps (Debian keeps system accounts:
# files may still belong to them), is removed by this test when it made it.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i, then dpkg --purge)"
need_cmd dpkg dpkg-query dpkg-buildpackage redis-server redis-cli ss timeout
# "unknown ok not-installed", or nothing, when there is no redtun package.
pkg_state() { dpkg-query -W -f='${Status}' redtun 2>/dev/null || true; }
case $(pkg_state) in
'' | *not-installed) ;;
*) skip "a redtun package is known to dpkg here ($(pkg_state)): not touching it" ;;
esac
for f in /usr/sbin/redtun /etc/redtun /lib/systemd/system/redtun.service; do
	[ ! -e "$f" ] || skip "$f exists (make install?): not touching it"
done
had_user=0
getent passwd redtun >/dev/null && had_user=1
had_group=0
getent group redtun >/dev/null && had_group=1

# The system's directories, as a sorted list of paths. Left out, narrowly:
#  - /var/lib/dpkg: dpkg's own database (status, its -old backup, the
#    package's info files, which --purge removes, the triggers files);
#  - /var/log/dpkg.log, /var/log/alternatives.log: dpkg's logs;
#  - /var/cache/man: man-db's index, rebuilt by its trigger;
#  - /var/cache/debconf/*-old: debconf's backups, rewritten by any package;
#  - /etc/{passwd,group,shadow,gshadow}-: the account tools' backups;
#  - /var/log/journal: journald's files (a host with systemd), which
#    change on their own.
# A file of redtun's anywhere else, or a directory made for it, shows.
snapshot() {
	local d roots=(/etc /usr /var /opt /srv /run /root)
	for d in /lib /lib64 /bin /sbin; do
		[ -L "$d" ] || [ ! -d "$d" ] || roots+=("$d")
	done
	find "${roots[@]}" -xdev \
		\( -path /var/lib/dpkg -o -path /var/cache/man -o -path /var/log/journal \) \
		-prune -o -print 2>/dev/null |
		grep -Ev '^(/var/log/dpkg\.log|/var/log/alternatives\.log|/var/cache/debconf/.*-old|/etc/(passwd|group|shadow|gshadow)-)$' |
		LC_ALL=C sort
}

INSTALLED=0
RT_F=
restore() {
	set +e
	[ -z "$RT_F" ] || kill_wait "$RT_F" 5
	if [ "$INSTALLED" = 1 ]; then
		dpkg --purge redtun >"$T/purge-at-exit.log" 2>&1 ||
			cat "$T/purge-at-exit.log" >&2
	fi
	if [ "$had_user" = 0 ] && getent passwd redtun >/dev/null; then
		userdel redtun
	fi
	if [ "$had_group" = 0 ] && getent group redtun >/dev/null; then
		groupdel redtun
	fi
	set -e
}
# restore first, then lib.sh's cleanup with the test's own exit status.
on_exit() {
	local rc=$?
	restore
	(exit "$rc")
	_cleanup
}
trap on_exit EXIT
trap 'exit 99' INT TERM HUP

step "build the package (make deb: dpkg-buildpackage, lintian)"
if [ -n "${REDTUN_DEB:-}" ]; then
	DEB=$REDTUN_DEB
else
	t0=$SECONDS
	if ! make -C "$top_builddir" deb >"$T/make-deb.log" 2>&1; then
		tail -n 60 "$T/make-deb.log" >&2
		fail "make deb"
	fi
	say "make deb: $((SECONDS - t0)) s"
	sed -n '/^deb: lintian/,$p' "$T/make-deb.log"
	DEB=$(find "$top_builddir/build/deb" -maxdepth 1 -name 'redtun_*.deb' | head -n 1)
fi
[ -f "$DEB" ] || hard_error "no package: ${DEB:-none}"
VERSION=$(dpkg-deb -f "$DEB" Version)
say "package: ${DEB##*/} (version $VERSION)"
dpkg-deb -c "$DEB" | awk '{ print "  " $1, $2, $6 }'

step "the file list before installing"
snapshot >"$T/before.list"
say "$(wc -l <"$T/before.list") paths"

step "dpkg -i"
INSTALLED=1
dpkg -i "$DEB" >"$T/install.log" 2>&1 || {
	cat "$T/install.log" >&2
	fail "dpkg -i $DEB"
}
assert_eq "install ok installed" "$(dpkg-query -W -f='${Status}' redtun)" "package state"

step "layout, conffile, units"
for f in /usr/sbin/redtun /etc/redtun/redtun.conf /etc/logrotate.d/redtun \
	/lib/systemd/system/redtun.service /lib/systemd/system/redtun@.service \
	/usr/lib/sysusers.d/redtun.conf /usr/share/man/man8/redtun.8.gz \
	/usr/share/man/man5/redtun.conf.5.gz /usr/share/doc/redtun/README.gz \
	/usr/share/doc/redtun/copyright \
	/usr/share/doc/redtun/examples/stunnel-redis-cli.conf \
	/usr/share/doc/redtun/examples/redtun-server.conf \
	/usr/share/doc/redtun/examples/redtun-iam.conf; do
	[ -e "$f" ] || fail "$f is not installed"
done
assert_contains "$(dpkg-query -W -f='${Conffiles}' redtun)" "/etc/redtun/redtun.conf" \
	"the configuration is a conffile"
assert_file_match /etc/redtun/redtun.conf '^services = \{ \};' "no service in the default"
assert_file_no_match /etc/redtun/redtun.conf '^[[:space:]]*accept[[:space:]]*=' \
	"every accept line is commented out"
# Enabled like Debian's stunnel4: the plain unit at install, the template
# per instance only.
[ -L /etc/systemd/system/multi-user.target.wants/redtun.service ] ||
	fail "redtun.service is not enabled"
! ls /etc/systemd/system/multi-user.target.wants/redtun@* >/dev/null 2>&1 ||
	fail "an instance of redtun@.service is enabled"
if [ -d /run/systemd/system ]; then
	systemctl cat redtun.service >"$T/cat.log" 2>&1 || fail "systemctl cat redtun.service"
	systemctl cat 'redtun@.service' >"$T/cat@.log" 2>&1 || fail "systemctl cat redtun@.service"
	assert_file_match "$T/cat@.log" '^ExecStart=/usr/sbin/redtun -f /etc/redtun/%i\.conf$'
elif command -v systemd-analyze >/dev/null 2>&1; then
	# No systemd here: check the installed units the way systemd reads them.
	for u in redtun.service redtun@check.service; do
		timeout 60 systemd-analyze verify --man=no "$u" >"$T/verify-$u.log" 2>&1 ||
			{ cat "$T/verify-$u.log" >&2; fail "systemd-analyze verify $u"; }
		! grep -q . "$T/verify-$u.log" ||
			{ cat "$T/verify-$u.log" >&2; fail "systemd-analyze verify $u printed warnings"; }
	done
fi
assert_file_match /lib/systemd/system/redtun@.service \
	'^ExecStart=/usr/sbin/redtun -f /etc/redtun/%i\.conf$' "the template's command"
if command -v logrotate >/dev/null 2>&1; then
	logrotate -d /etc/logrotate.d/redtun >"$T/logrotate.log" 2>&1 ||
		{ cat "$T/logrotate.log" >&2; fail "logrotate -d /etc/logrotate.d/redtun"; }
fi

step "redtun -V; the wolfSSL linked in"
V=$(/usr/sbin/redtun -V)
printf '%s\n' "$V" | sed 's/^/  /'
assert_match "$V" "^redtun $(re_quote "$VERSION")\$" "redtun -V names the package version"
if [ "$(dpkg-deb -f "$DEB" Architecture)" = amd64 ]; then
	assert_match "$V" 'AES-NI: yes' "the AES-NI wolfSSL"
	assert_not_contains "$(ldd /usr/sbin/redtun)" libwolfssl "wolfSSL linked statically"
	assert_not_contains "$(dpkg-deb -f "$DEB" Depends)" libwolfssl "no libwolfssl dependency"
fi

step "the redtun account"
PW=$(getent passwd redtun) || fail "no redtun account after install"
say "$PW"
assert_match "$PW" '^redtun:x:[0-9]+:[0-9]+:[^:]*:/:/usr/sbin/nologin$' "a system account"
getent group redtun >/dev/null || fail "no redtun group"

step "redtun -t /etc/redtun/redtun.conf, and a start that listens on nothing"
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }
if [ -d /run/systemd/system ]; then
	# The package started redtun.service on the default configuration.
	/usr/sbin/redtun -t /etc/redtun/redtun.conf || fail "redtun -t /etc/redtun/redtun.conf"
	systemctl is-active --quiet redtun.service || {
		systemctl status redtun.service >&2 || :
		fail "redtun.service is not running after the install"
	}
	main=$(systemctl show -p MainPID --value redtun.service)
	assert_eq "$(id -u redtun)" "$(uid_of "$main")" "redtun.service runs as the redtun account"
else
	# No systemd (CI): the unit's RuntimeDirectory made by hand, and
	# removed before the purge; redtun -f as the unit would run it.
	install -d -o redtun -g redtun /run/redtun
	/usr/sbin/redtun -t /etc/redtun/redtun.conf >"$T/t.log" 2>&1 ||
		{ cat "$T/t.log" >&2; fail "redtun -t /etc/redtun/redtun.conf"; }
	cat "$T/t.log"
	spawn "$T/default.log" /usr/sbin/redtun -f /etc/redtun/redtun.conf
	RT_F=$LAST_PID
	wait_for_log "$T/default.log" 'started: 0 services' 10
	assert_eq "$(id -u redtun)" "$(uid_of "$RT_F")" "redtun runs as the redtun account"
	kill_wait "$RT_F" 5
	RT_F=
	assert_file_match "$T/default.log" 'exiting' "a clean exit on SIGTERM"
	rm -rf /run/redtun
fi

step "a tunnel through the installed redtun, as the redtun account"
gen_certs
# The account reads nothing here after the start (the files are read as
# root before it drops), but it must reach its working directory.
chmod 0755 "$T"
UP=$(free_port)
L=$(free_port)
start_tls_redis up "$UP"
cat >"$T/tunnel.conf" <<EOF
setuid = "redtun";
setgid = "redtun";
debug = "info";
CAfile = "$T/ca.crt";
services = {
$(conf_service tunnel "$L" "$UP")
};
EOF
spawn "$T/tunnel.log" /usr/sbin/redtun -f "$T/tunnel.conf"
RT_F=$LAST_PID
wait_for_port "$L" 10
assert_eq "$(id -u redtun)" "$(uid_of "$RT_F")" "the tunnel runs as the redtun account"
assert_eq "PONG" "$(rcli "$L" ping)" "PING through the tunnel"
wait_for_log "$T/tunnel.log" "\[tunnel\] .*connected to localhost:$UP .*TLSv1\.3" 5
kill_wait "$RT_F" 5
RT_F=

step "dpkg --purge"
dpkg --purge redtun >"$T/purge.log" 2>&1 || { cat "$T/purge.log" >&2; fail "dpkg --purge redtun"; }
INSTALLED=0
case $(pkg_state) in
'' | *not-installed) ;;
*) fail "redtun is still known to dpkg after the purge: $(pkg_state)" ;;
esac
for f in /usr/sbin/redtun /etc/redtun /etc/logrotate.d/redtun \
	/etc/systemd/system/multi-user.target.wants/redtun.service /var/log/redtun; do
	if [ -e "$f" ] || [ -L "$f" ]; then fail "$f is left after the purge"; fi
done
# Kept by the package (Debian practice for system accounts); removed by
# restore() when this test made it.
getent passwd redtun >/dev/null || say "note: the purge removed the account"
restore

step "the file list after the purge equals the one before"
snapshot >"$T/after.list"
if ! diff -u "$T/before.list" "$T/after.list" >"$T/list.diff"; then
	cat "$T/list.diff" >&2
	fail "the purge left the machine changed (diff above: - gone, + left)"
fi
say "$(wc -l <"$T/after.list") paths, the same as before"
