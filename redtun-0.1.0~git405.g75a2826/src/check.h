#ifndef REDTUN_CHECK_H
#define REDTUN_CHECK_H

#include <stddef.h>

struct conf;
struct svc_conf;

/**
 * check_start(cf, svcs, n, path):
 * The checks of "redtun -t" beyond the syntax: that start and later
 * reloads will find what they need.  The setuid/setgid accounts exist;
 * the pid file's directory (inside the chroot jail, written after the
 * privilege drop) and the log file's directory exist and are writable by
 * whoever writes them; the configuration ${path} and every CAfile, CApath,
 * cert and key of the ${n} services ${svcs} are readable by the account
 * that re-reads them at reload.  Accesses are tried in a child process
 * switched to that account (and chroot) when running as root.  Errors go
 * to stderr as "redtun: FILE:LINE: SETTING: problem", warnings as
 * "redtun: FILE:LINE: SETTING: warning: ...".  Returns the number of
 * errors.
 */
int check_start(const struct conf *cf, const struct svc_conf *const *svcs,
    size_t n, const char *path);

#endif
