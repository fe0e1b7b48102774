#ifndef REDTUN_RUNTIME_H
#define REDTUN_RUNTIME_H

struct conf;
struct svc;

/**
 * runtime_run(path, cf, svcs, foreground, debug_override):
 * Run the daemon: bind a listener per service generation in ${svcs}
 * (cf->nsvcs of them; ownership of ${cf} and the ${svcs} references passes
 * here), drop privileges, write the pidfile, report readiness, then serve
 * until SIGTERM/SIGINT.  SIGHUP reloads from ${path} (prepared on libuv's
 * thread pool, committed on the loop; see reload.h); SIGUSR1 reopens the
 * log.  ${debug_override} >= 0 pins the log level over the file's.
 * Returns the process exit status: 0 after a clean stop, 2 if startup
 * failed (the reason has been printed to stderr and logged).
 */
int runtime_run(const char *path, struct conf *cf, struct svc **svcs,
    int foreground, int debug_override);

#endif
