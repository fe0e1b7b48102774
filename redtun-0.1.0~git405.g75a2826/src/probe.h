#ifndef REDTUN_PROBE_H
#define REDTUN_PROBE_H

#include <stddef.h>

struct svc_conf;

/**
 * probe_targets(svcs, n):
 * Connect to every connect target of the client-mode services among the
 * ${n} services ${svcs}, do the TLS handshake with the service's own
 * context and redtun's verification, send PING, and print one block per
 * target on stdout.  Returns 0 if every target was verified, else 1.
 */
int probe_targets(const struct svc_conf *const *svcs, size_t n);

#endif
