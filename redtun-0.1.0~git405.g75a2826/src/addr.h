#ifndef REDTUN_ADDR_H
#define REDTUN_ADDR_H

#include <stddef.h>

/* A "host:port" endpoint as written in the configuration. */
struct addr_spec {
	char *host;	/* name or IP literal, without brackets */
	int port;	/* 1..65535 */
	int is_ip;	/* host is an IPv4 or IPv6 literal */
};

/**
 * addr_parse(text, bare_port_host, spec, why, whylen):
 * Parse "host:port", "[v6addr]:port" or, if ${bare_port_host} is not NULL,
 * a bare "port" (which then gets that host).  On success fill ${spec} (the
 * caller frees spec->host with addr_spec_free) and return 0; otherwise write
 * a short reason into ${why} and return -1.
 */
int addr_parse(const char *text, const char *bare_port_host,
    struct addr_spec *spec, char *why, size_t whylen);

/* addr_spec_free(spec): free what addr_parse allocated; NULL-safe. */
void addr_spec_free(struct addr_spec *spec);

/* addr_is_ip(host): true if ${host} is an IPv4 or IPv6 literal. */
int addr_is_ip(const char *host);

/* addr_is_loopback(host): true for 127.0.0.0/8, ::1 and "localhost". */
int addr_is_loopback(const char *host);

/**
 * addr_format(sa, buf, len):
 * Write "a.b.c.d:port" or "[v6]:port" for the sockaddr ${sa}; returns buf.
 */
struct sockaddr;
const char *addr_format(const struct sockaddr *sa, char *buf, size_t len);

#endif
