#ifndef REDTUN_CONF_H
#define REDTUN_CONF_H

#include <stddef.h>
#include <stdio.h>

#include "addr.h"

enum failover_mode { FAILOVER_PRIO = 0, FAILOVER_RR };
enum tls_version { TLS_V1_2 = 2, TLS_V1_3 = 3 };
enum encryption_mode { ENCRYPTION_REQUIRED = 0, ENCRYPTION_PREFERRED };

/* How to read a configuration file (conf_load's ${format}). */
enum conf_format {
	CONF_FORMAT_AUTO = 0,		/* stunnel's or libconfig, by content */
	CONF_FORMAT_LIBCONFIG,
	CONF_FORMAT_STUNNEL
};
#define CONF_FORMAT_MASK	0x0f
#define CONF_NO_INCLUDE		0x10	/* or'ed in: refuse include = DIR */
#define CONF_NO_FILES		0x20	/* or'ed in: do not open or check the
					   files it names (CAfile, key,
					   passwordFile): "redtun status" */

struct conf_locs;

/* Where a setting is written, for messages. */
struct conf_loc {
	const char *file;
	int line;
};

/* One validated service section; owns all of its strings. */
/* role: which node a service wants (ROLE checked in the prepare phase). */
enum redis_role { ROLE_ANY = 0, ROLE_PRIMARY, ROLE_REPLICA };

struct svc_conf {
	char *name;
	char *file;		/* config file, for messages */
	int line;		/* line of the service group */
	int client;		/* 1: plaintext in, TLS out; 0: the reverse */
	int encryption;		/* server mode: enum encryption_mode */
	int encryption_line;
	struct addr_spec accept;
	struct addr_spec *connect;
	int *connect_line;	/* line of each connect target */
	size_t nconnect;
	int failover;		/* enum failover_mode */
	int delay;
	char *sni;		/* NULL: derived from the connect host */
	int sni_set;		/* sni given explicitly ("" disables SNI) */
	int verify_chain;	/* client: server cert; server: mTLS */
	char *check_host;	/* NULL: derived from the connect host */
	int check_ip;		/* check_host came from checkIP */
	char *cafile, *capath, *cert, *key;
	int cafile_line, capath_line, cert_line, key_line, ciphers_line;
	char *ciphers;		/* TLS 1.2 list, wolfSSL names; NULL = default */
	char *ciphersuites;	/* TLS 1.3 list, wolfSSL names; NULL = default */
	int version_min, version_max;	/* enum tls_version */
	unsigned int timeout_connect, timeout_idle, timeout_close; /* s */
	unsigned int failover_backoff;	/* s a failed target is skipped */
	unsigned int max_connections;	/* 0: no per-service limit */
	int session_resume;		/* client: resume upstream sessions */
	unsigned int prewarm;		/* client: idle TLS connections kept */
	/* Redis awareness (conf_redis.c); any of these turns the filter on */
	int reuse;			/* client: keep connections after RESET */
	unsigned int reuse_idle;	/* s a reusable connection is kept */
	unsigned int reuse_max;		/* reusable connections per target */
	char *username;			/* AUTH user; NULL: "default" */
	char *password;			/* AUTH secret; wiped when freed */
	int role;			/* enum redis_role */
	/* Redis Cluster (conf_cluster.c); cluster turns the filter on */
	int cluster;			/* client: rewrite MOVED/ASK, topology */
	char *cluster_host;		/* clusterPorts: host of node listeners */
	unsigned int cluster_port_lo, cluster_port_hi;
	unsigned int cluster_refresh;	/* s between topology refreshes */
	unsigned int cluster_grace;	/* s a departed node's port stays */
	char *cluster_node;		/* node services: "host:port" served */
	/* ElastiCache IAM (conf_iam.c); iam_user turns the filter on */
	char *iam_user;			/* AUTH user and the token's User */
	char *iam_cache;		/* replication group / serverless cache */
	char *iam_region;		/* e.g. "us-east-1" */
	int iam_serverless;		/* the token says ResourceType=... */
	unsigned int iam_reauth;	/* s after an AUTH: AUTH again */
	unsigned int iam_lifetime;	/* s the server keeps a connection
					   after its last AUTH (12 h) */
	unsigned int iam_token_refresh;	/* s a token is used; then a new one */
	struct conf_locs *locs;		/* see conf_where */
};

struct conf {
	char *file;
	int format;		/* as asked (enum conf_format), for reloads */
	int stunnel;		/* read as stunnel's format */
	char **notices;		/* stunnel options without effect here, ... */
	size_t nnotices;	/* ... and what redtun does more securely */
	char *pid, *setuid, *setgid, *chroot, *output;
	int debug;
	int facility;		/* syslog facility (debug = "daemon.info") */
	int foreground;		/* stay in the foreground, as -f */
	int syslog;		/* 0: a daemon without output logs nowhere */
	unsigned int max_connections;	/* all services; 0: from the fd limit */
	unsigned int workers;		/* event-loop threads; 0: one per CPU */
	char *status;		/* status endpoint "host:port" (a bare port
				   is 127.0.0.1's); NULL: off */
	int log_json;		/* logFormat = "json": one object a line */
	struct svc_conf **svcs;
	size_t nsvcs;
	struct conf_locs *locs;		/* see conf_where */
};

/**
 * conf_load(path, format, why, whylen):
 * Read and validate the configuration file ${path}, in libconfig syntax or
 * stunnel's (${format}, enum conf_format: by content unless forced).
 * Returns a new struct conf (free with conf_free), or NULL with a one-line
 * message of the form "FILE:LINE: SETTING: PROBLEM" in ${why}.  No file
 * other than ${path} (and its @includes, or stunnel's include = DIR) is
 * opened except to check that CAfile, CApath, cert and key are readable.
 */
struct conf *conf_load(const char *path, int format, char *why,
    size_t whylen);

/**
 * conf_read(f, path, format, why, whylen):
 * As conf_load, reading the text from the open stream ${f}; ${path} names
 * it in messages.  The fuzzers feed this from memory.
 */
struct conf *conf_read(FILE *f, const char *path, int format, char *why,
    size_t whylen);

/**
 * conf_convert(path, format, out, why, whylen):
 * Write the libconfig translation of the stunnel file ${path} to ${out},
 * each stunnel line as a comment beside its translation; a file that is
 * libconfig (by content, or ${format}) is an error.  Returns 0, or -1
 * with the problem in ${why}.
 */
int conf_convert(const char *path, int format, FILE *out, char *why,
    size_t whylen);

/* conf_format_parse(name, format): "stunnel", "libconfig" or "auto". */
int conf_format_parse(const char *name, int *format);

/**
 * conf_where(cf, sc, name):
 * Where the setting ${name} is written: for the service ${sc}, the one that
 * applies to it (its own, or the top-level default); with ${sc} NULL, the
 * top-level one.  If it is not written: the service's group, or line 1 of
 * the file.  The file name lives as long as ${cf} and ${sc}.  This is how
 * messages after loading (redtun -t) name a line without reading the file
 * again.  ${cf} may be NULL when ${sc} is not (tls.c has only the
 * service).
 */
struct conf_loc conf_where(const struct conf *cf, const struct svc_conf *sc,
    const char *name);

/* conf_free(conf): free a configuration; NULL-safe. */
void conf_free(struct conf *conf);

/* svc_conf_free(sc): free one service section; NULL-safe. */
void svc_conf_free(struct svc_conf *sc);

/*
 * svc_conf_redis(sc): the service needs the RESP filter (reuse, AUTH or a
 * role check); without it, bytes pass untouched.
 */
int svc_conf_redis(const struct svc_conf *sc);

/**
 * svc_conf_node(sc, host, port, check, lport):
 * The settings of one node of the cluster service ${sc}: ${sc}'s, with
 * connect = ${host}:${port} (looked up per connection), the identity
 * ${check} (NULL: ${host}) and accept = clusterPorts' host:${lport}; named
 * "SERVICE@HOST:PORT".  NULL if out of memory.
 */
struct svc_conf *svc_conf_node(const struct svc_conf *sc, const char *host,
    unsigned int port, const char *check, unsigned int lport);

/**
 * svc_conf_same_accept(a, b): true if both services listen on the same
 * host and port (so a reload can keep the listening socket).
 */
int svc_conf_same_accept(const struct svc_conf *a, const struct svc_conf *b);

/**
 * conf_cipher_allowed(name, tls13, wolfname):
 * Look up ${name} (an OpenSSL or wolfSSL suite name) in the allowlist of
 * AEAD, ECDHE, certificate-authenticated suites for TLS 1.3 (${tls13}) or
 * TLS 1.2.  Returns the wolfSSL spelling, or NULL if not allowed.
 */
const char *conf_cipher_allowed(const char *name, int tls13);

#endif
