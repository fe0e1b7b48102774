/*
 * redtun -t beyond the syntax: accounts, directories and files as start
 * and reload will meet them, a few warnings about risky settings, and
 * (--probe) a real TLS handshake with every client-mode target.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "check.h"
#include "conf.h"
#include "log.h"
#include "tls.h"
#include "tls_trust.h"
#include "tls_verify.h"

/* The account that writes the pidfile and re-reads files at reload. */
struct acct {
	int sw;			/* switch to it in a child (we are root) */
	const char *user;	/* setuid name, or NULL */
	uid_t uid;
	gid_t gid;
	int have_gr;		/* setgid given: that group only */
	const char *root;	/* chroot, or NULL */
	char name[160];		/* for messages */
};

static int nerrors;

/* A child's exit code: it could not become the account (no CAP_SETUID...). */
#define SWITCH_FAILED	250

static void
msg(struct conf_loc at, const char *setting, int warning, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* Settings are named where conf read them (conf_where). */
static void
msg(struct conf_loc at, const char *setting, int warning, const char *fmt,
    ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fprintf(stderr, "redtun: %s:%d: %s: %s%s\n", at.file, at.line,
	    setting, warning ? "warning: " : "", text);
	if (!warning)
		nerrors++;
}

/*
 * Try access(${path}, ${mode}) as ${a} (in a child when it must switch
 * account or chroot).  Returns 0 or the errno.
 */
static int
access_as(const struct acct *a, int jail, const char *path, int mode)
{
	int status, e;
	pid_t pid;

	if (!a->sw && !(jail && a->root != NULL))
		return (access(path, mode) == 0 ? 0 : errno);
	fflush(NULL);
	if ((pid = fork()) < 0)
		return (errno);
	if (pid == 0) {
		if (a->sw) {
			if (a->have_gr || a->user == NULL) {
				if (setgroups(1, &a->gid) != 0)
					_exit(SWITCH_FAILED);
			} else if (initgroups(a->user, a->gid) != 0)
				_exit(SWITCH_FAILED);
			if (setgid(a->gid) != 0)
				_exit(SWITCH_FAILED);
		}
		if (jail && a->root != NULL &&
		    (chroot(a->root) != 0 || chdir("/") != 0))
			_exit(SWITCH_FAILED);
		if (a->sw && setuid(a->uid) != 0)
			_exit(SWITCH_FAILED);
		_exit(access(path, mode) == 0 ? 0 : (errno ? errno : EIO));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return (errno);
	e = WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
	return (e);
}

/* "D/x" -> "D", "x" -> ".", "/x" -> "/". */
static void
dir_of(const char *path, char *buf, size_t len)
{
	const char *s = strrchr(path, '/');

	if (s == NULL)
		snprintf(buf, len, ".");
	else if (s == path)
		snprintf(buf, len, "/");
	else
		snprintf(buf, len, "%.*s", (int)(s - path), path);
}

/* A path the way an operator finds it on the host. */
static const char *
host_path(const struct acct *a, const char *path, char *buf, size_t len)
{

	if (a->root == NULL)
		return (path);
	snprintf(buf, len, "%s%s (inside the chroot jail)", a->root, path);
	return (buf);
}

static void
check_pidfile(const struct conf *cf, const struct acct *a)
{
	struct conf_loc at = conf_where(cf, NULL, "pid");
	char dir[4096], buf[4400];
	const char *shown;
	int e;

	if (cf->pid == NULL || cf->pid[0] == '\0')
		return;
	dir_of(cf->pid, dir, sizeof(dir));
	shown = host_path(a, dir, buf, sizeof(buf));
	/* Written after chroot and the privilege drop (runtime.c). */
	if ((e = access_as(a, 1, dir, F_OK)) != 0)
		msg(at, "pid", 0, "directory %s %s: the pidfile cannot be "
		    "written; create it%s%s", shown, e == ENOENT ?
		    "does not exist" : strerror(e), a->user ? " owned by " :
		    "", a->user ? a->user : "");
	else if ((e = access_as(a, 1, dir, W_OK | X_OK)) != 0)
		msg(at, "pid", 0, "directory %s is not writable by %s "
		    "(%s), which writes the pidfile after dropping privileges",
		    shown, a->name, strerror(e));
}

static void
check_output(const struct conf *cf, const struct acct *a)
{
	struct conf_loc at = conf_where(cf, NULL, "output");
	char dir[4096];
	int e, exists;

	if (cf->output == NULL)
		return;
	/* Opened at start, before chroot and the drop, by whoever starts. */
	dir_of(cf->output, dir, sizeof(dir));
	exists = access(cf->output, F_OK) == 0;
	if (!exists && access(dir, F_OK) != 0) {
		msg(at, "output", 0, "directory %s %s: the log file "
		    "cannot be created", dir, errno == ENOENT ?
		    "does not exist" : strerror(errno));
		return;
	}
	if (exists ? access(cf->output, W_OK) != 0 :
	    access(dir, W_OK | X_OK) != 0) {
		msg(at, "output", 0, "%s is not writable by the user "
		    "starting redtun: %s", exists ? cf->output : dir,
		    strerror(errno));
		return;
	}
	/* SIGUSR1 reopens it after the drop (and within the jail). */
	if (a->sw && a->root == NULL) {
		if (exists && (e = access_as(a, 0, cf->output, W_OK)) != 0)
			msg(at, "output", 1, "%s is not writable by %s "
			    "(%s): reopening it on SIGUSR1 (log rotation) will "
			    "fail", cf->output, a->name, strerror(e));
		else if (!exists)
			msg(at, "output", 1, "%s will be created by the "
			    "starting user and %s may not reopen it on SIGUSR1 "
			    "(log rotation): create it writable by that account",
			    cf->output, a->name);
	}
}

/* Files seen already (a global CAfile is every service's). */
static char **seen;
static size_t nseen;

static int
seen_before(const char *path)
{
	char **p;
	size_t i;

	for (i = 0; i < nseen; i++)
		if (strcmp(seen[i], path) == 0)
			return (1);
	if ((p = realloc(seen, (nseen + 1) * sizeof(*p))) != NULL) {
		seen = p;
		if ((seen[nseen] = strdup(path)) != NULL)
			nseen++;
	}
	return (0);
}

/* A reload re-reads ${path} as ${a}, inside the jail. */
static void
check_readable(struct conf_loc at, const char *setting, const struct acct *a,
    const char *path, int dir)
{
	char buf[4400];
	const char *shown;
	int e;

	if (path == NULL || seen_before(path))
		return;
	if (!a->sw && a->root == NULL)
		return;		/* start has just read it as the same user */
	e = access_as(a, 1, path, dir ? R_OK | X_OK : R_OK);
	if (e == 0)
		return;
	shown = host_path(a, path, buf, sizeof(buf));
	if (e == ENOENT && a->root != NULL)
		msg(at, setting, 1, "%s does not exist: a reload (SIGHUP) "
		    "after chroot will not find it", shown);
	else
		msg(at, setting, 0, "%s is not readable by %s (%s): a "
		    "reload (SIGHUP) re-reads it after privileges are dropped; "
		    "make it readable by that account (e.g. group-readable)",
		    shown, a->name, strerror(e));
}

static void
check_warnings(const struct conf *cf, const struct svc_conf *sc)
{
	struct conf_loc at;
	size_t i;

	if (!sc->client)
		return;
	if (sc->verify_chain && sc->check_host == NULL) {
		for (i = 0; i < sc->nconnect; i++) {
			if (!sc->connect[i].is_ip)
				continue;
			at = conf_where(cf, sc, "connect");
			at.line = sc->connect_line[i];
			msg(at, "connect", 1, "[%s] %s is an IP "
			    "address: server certificates (ElastiCache's among "
			    "them) name hosts, so the check against it will "
			    "likely fail; connect to the endpoint name instead "
			    "(or set checkHost)", sc->name, sc->connect[i].host);
		}
	}
	if (!sc->verify_chain)
		msg(conf_where(cf, sc, "verifyChain"), "verifyChain", 1,
		    "[%s] the server's certificate is not verified: anyone on "
		    "the path can impersonate the server and read the traffic",
		    sc->name);
	if (!addr_is_loopback(sc->accept.host))
		msg(conf_where(cf, sc, "accept"), "accept", 1,
		    "[%s] listens on %s, not a loopback address: other hosts "
		    "can reach the plaintext side of the tunnel; use "
		    "127.0.0.1 unless that is intended", sc->name,
		    sc->accept.host);
}

int
check_start(const struct conf *cf, const struct svc_conf *const *svcs,
    size_t n, const char *path)
{
	struct conf_loc su = conf_where(cf, NULL, "setuid");
	struct conf_loc jail = conf_where(cf, NULL, "chroot");
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	struct acct a;
	int degraded = 0;
	size_t i;

	nerrors = 0;
	memset(&a, 0, sizeof(a));
	a.root = cf->chroot;
	snprintf(a.name, sizeof(a.name), "the user starting redtun");
	if (cf->setuid != NULL && (pw = getpwnam(cf->setuid)) == NULL)
		msg(su, "setuid", 0, "unknown user \"%s\": start would "
		    "fail; create the account (e.g. useradd --system "
		    "--no-create-home %s)", cf->setuid, cf->setuid);
	if (cf->setgid != NULL && (gr = getgrnam(cf->setgid)) == NULL)
		msg(conf_where(cf, NULL, "setgid"), "setgid", 0, "unknown "
		    "group \"%s\": start would fail; create the group",
		    cf->setgid);
	if (nerrors)
		goto out;
	if (geteuid() == 0) {
		if (pw != NULL || gr != NULL) {
			a.sw = 1;
			a.user = cf->setuid;
			a.uid = pw != NULL ? pw->pw_uid : 0;
			a.gid = gr != NULL ? gr->gr_gid : pw->pw_gid;
			a.have_gr = gr != NULL;
			if (pw != NULL && gr != NULL)
				snprintf(a.name, sizeof(a.name), "user \"%s\" "
				    "(group \"%s\")", cf->setuid, cf->setgid);
			else if (pw != NULL)
				snprintf(a.name, sizeof(a.name), "user \"%s\"",
				    cf->setuid);
			else
				snprintf(a.name, sizeof(a.name), "group \"%s\"",
				    cf->setgid);
		}
		if ((a.sw || a.root != NULL) &&
		    access_as(&a, 1, "/", F_OK) == SWITCH_FAILED) {
			msg(a.sw ? su : jail, a.sw ? "setuid" : "chroot", 1,
			    "cannot become %s%s to check as it (missing "
			    "capabilities?): the pid directory and what "
			    "reloads read are not checked", a.sw ? a.name :
			    "the jail's root", a.root ? " in the jail" : "");
			degraded = 1;
			a.sw = 0;
			a.root = NULL;
		}
		if (a.root != NULL && !degraded) {
			if (access(a.root, X_OK) != 0)
				msg(jail, "chroot", 0,
				    "%s: %s", a.root, strerror(errno));
			else if (access_as(&a, 1, "/dev/urandom", R_OK) != 0)
				msg(jail, "chroot", 0,
				    "%s/dev/urandom is missing: TLS needs it "
				    "inside the jail: mknod -m 444 "
				    "%s/dev/urandom c 1 9", a.root, a.root);
			if (nerrors)
				goto out;
		}
	} else {
		if (pw != NULL && pw->pw_uid != geteuid())
			msg(su, "setuid", 1, "not running as root: "
			    "start can only switch to \"%s\" when started as "
			    "root; files are checked as the current user",
			    cf->setuid);
		if (a.root != NULL)
			msg(jail, "chroot", 1,
			    "not running as root: chroot needs root; files "
			    "are checked outside the jail");
		a.root = NULL;
	}
	check_output(cf, &a);
	if (degraded)
		goto warnings;
	check_pidfile(cf, &a);
	check_readable(a.root ? jail : su, a.root ? "chroot" : "setuid", &a,
	    path, 0);
	for (i = 0; i < n; i++) {
		const struct svc_conf *sc = svcs[i];

		check_readable(conf_where(cf, sc, "CAfile"), "CAfile", &a,
		    sc->cafile, 0);
		check_readable(conf_where(cf, sc, "CApath"), "CApath", &a,
		    sc->capath, 1);
		check_readable(conf_where(cf, sc, "cert"), "cert", &a,
		    sc->cert, 0);
		check_readable(conf_where(cf, sc, "key"), "key", &a, sc->key,
		    0);
	}
warnings:
	for (i = 0; i < n; i++)
		check_warnings(cf, svcs[i]);
out:
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	seen = NULL;
	nseen = 0;
	return (nerrors);
}
