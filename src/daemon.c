/* Daemon chores: background with a readiness pipe, pidfile, privileges. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"

/* Write end of the pipe to the waiting parent; -1 when there is none. */
static int ready_fd = -1;

static long
read_pid(const char *path)
{
	char buf[32];
	ssize_t n;
	long pid;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (errno == ENOENT ? 0 : -1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return (pid > 0 ? pid : 0);
}

/* A killed daemon may linger as a zombie until reaped: it is gone. */
static int
is_zombie(long pid)
{
	char path[64], line[128];
	int zombie = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "State:", 6) == 0)
			zombie = strchr(line, 'Z') != NULL;
	fclose(f);
	return (zombie);
}

int
daemon_pidfile_check(const char *path, char *why, size_t whylen)
{
	long pid = read_pid(path);

	if (pid < 0) {
		snprintf(why, whylen, "cannot read pidfile %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	if (pid == 0)
		return (0);
	if (pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM) &&
	    !is_zombie(pid)) {
		snprintf(why, whylen, "pidfile %s names process %ld, which is "
		    "still running: is another redtun using this "
		    "configuration?", path, pid);
		return (-1);
	}
	(void)unlink(path);
	return (0);
}

int
daemon_pidfile_write(const char *path, char *why, size_t whylen)
{
	char tmp[4096], buf[32];
	int fd, len;

	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) < 0)
		goto err;
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)len) != len) {
		close(fd);
		unlink(tmp);
		goto err;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		goto err;
	}
	return (0);
err:
	snprintf(why, whylen, "cannot write pidfile %s: %s%s", path,
	    strerror(errno), errno == EACCES ? " (its directory must be "
	    "writable by the setuid user)" : "");
	return (-1);
}

void
daemon_pidfile_remove(const char *path)
{

	if (path != NULL && read_pid(path) == (long)getpid())
		(void)unlink(path);
}

int
daemon_fork(int *parent_status)
{
	int fds[2], status;
	unsigned char code;
	pid_t pid;
	ssize_t n;

	if (pipe(fds) != 0)
		return (-1);
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return (-1);
	}
	if (pid > 0) {
		close(fds[1]);
		do {
			n = read(fds[0], &code, 1);
		} while (n < 0 && errno == EINTR);
		close(fds[0]);
		*parent_status = 2;
		if (n == 1)
			*parent_status = code;
		/* The child died before reporting: pass on what killed it. */
		else if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) != 0)
			*parent_status = WEXITSTATUS(status);
		return (1);
	}
	close(fds[0]);
	(void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	ready_fd = fds[1];
	(void)setsid();
	return (0);
}

static void
report(unsigned char code)
{

	if (ready_fd < 0)
		return;
	(void)!write(ready_fd, &code, 1);
	close(ready_fd);
	ready_fd = -1;
}

void
daemon_ready(void)
{
	int fd;

	if (ready_fd < 0)
		return;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	/* "/" always exists (the jail's after chroot); "!" because a bare
	 * cast does not silence warn_unused_result (Debian's build flags). */
	(void)!chdir("/");
	report(0);
}

void
daemon_fail(int code)
{

	report((unsigned char)code);
}

int
daemon_drop_privileges(const char *root, const char *user,
    const char *group, char *why, size_t whylen)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;

	/* Look names up before chroot: the jail may have no /etc. */
	if (user != NULL && (pw = getpwnam(user)) == NULL) {
		snprintf(why, whylen, "setuid: unknown user \"%s\"", user);
		return (-1);
	}
	if (group != NULL && (gr = getgrnam(group)) == NULL) {
		snprintf(why, whylen, "setgid: unknown group \"%s\"", group);
		return (-1);
	}
	if (root != NULL && (chroot(root) != 0 || chdir("/") != 0)) {
		snprintf(why, whylen, "chroot to %s failed: %s", root,
		    strerror(errno));
		return (-1);
	}
	/* wolfSSL opens the random device for every TLS session. */
	if (root != NULL && access("/dev/urandom", R_OK) != 0) {
		snprintf(why, whylen, "chroot: %s/dev/urandom is missing (%s); "
		    "TLS needs it inside the jail: mknod -m 444 %s/dev/urandom "
		    "c 1 9", root, strerror(errno), root);
		return (-1);
	}
	if (gr != NULL && getegid() != gr->gr_gid &&
	    (setgroups(1, &gr->gr_gid) != 0 || setgid(gr->gr_gid) != 0)) {
		snprintf(why, whylen, "setgid to %s failed: %s", group,
		    strerror(errno));
		return (-1);
	}
	if (pw != NULL && geteuid() != pw->pw_uid) {
		if (gr == NULL && (initgroups(user, pw->pw_gid) != 0 ||
		    setgid(pw->pw_gid) != 0)) {
			snprintf(why, whylen, "setgid to %s's group failed: %s",
			    user, strerror(errno));
			return (-1);
		}
		if (setuid(pw->pw_uid) != 0) {
			snprintf(why, whylen, "setuid to %s failed: %s", user,
			    strerror(errno));
			return (-1);
		}
		/* Make sure root cannot be regained. */
		if (pw->pw_uid != 0 && setuid(0) == 0) {
			snprintf(why, whylen, "setuid to %s did not drop root",
			    user);
			return (-1);
		}
	}
	return (0);
}
