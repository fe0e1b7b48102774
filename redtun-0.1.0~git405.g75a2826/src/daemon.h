#ifndef REDTUN_DAEMON_H
#define REDTUN_DAEMON_H

#include <stddef.h>

/**
 * daemon_pidfile_check(path, why, whylen):
 * Returns 0 if ${path} does not exist or names a process that is gone (the
 * stale file is removed), or -1 with a message in ${why} if it names a
 * running process or cannot be read.
 */
int daemon_pidfile_check(const char *path, char *why, size_t whylen);

/**
 * daemon_pidfile_write(path, why, whylen):
 * Write our pid to ${path} (created 0644, replaced atomically).  Returns 0
 * or -1 with a message in ${why}.
 */
int daemon_pidfile_write(const char *path, char *why, size_t whylen);

/* daemon_pidfile_remove(path): remove the pidfile if it is still ours. */
void daemon_pidfile_remove(const char *path);

/**
 * daemon_fork(parent_status):
 * Go to the background.  The calling process waits until the child calls
 * daemon_ready() or daemon_fail() (or dies), then gets 1 back with the
 * child's startup status in ${*parent_status}: it should clean up and exit
 * with it, so "redtun CONFIG" returns only once the daemon listens.
 * Returns 0 in the child, or -1 if fork failed.
 */
int daemon_fork(int *parent_status);

/**
 * daemon_ready(void):
 * Tell the waiting parent that startup succeeded and detach stdio.  A
 * no-op if daemon_fork() was not called.
 */
void daemon_ready(void);

/* daemon_fail(code): tell the waiting parent to exit with ${code}. */
void daemon_fail(int code);

/**
 * daemon_drop_privileges(root, user, group, why, whylen):
 * chroot to ${root}, then switch to ${group} and ${user} (each may be
 * NULL).  Must be called after every privileged socket is bound.  Returns
 * 0 or -1 with a message in ${why}.
 */
int daemon_drop_privileges(const char *root, const char *user,
    const char *group, char *why, size_t whylen);

#endif
