#ifndef REDTUN_CONF_PRINT_H
#define REDTUN_CONF_PRINT_H

#include <stdio.h>

struct conf;
struct svc_conf;

/**
 * conf_print(f, cf, scs, n):
 * Write to ${f} every effective setting of ${cf} (the globals) and of its
 * ${n} services ${scs}, defaults included: a header line naming the file,
 * then "NAME = VALUE" and "[SERVICE] NAME = VALUE" lines.  A password is
 * shown only as "(set)".
 */
void conf_print(FILE *f, const struct conf *cf,
    const struct svc_conf *const *scs, size_t n);

#endif
