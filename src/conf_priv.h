#ifndef REDTUN_CONF_PRIV_H
#define REDTUN_CONF_PRIV_H

/*
 * Shared between conf.c (the file, top-level settings, the services list)
 * and conf_service.c (one service section); not for other modules.
 */
#include <stddef.h>

#include <libconfig.h>

struct conf;
struct svc_conf;
struct ini;

/* What one conf_read call reports errors with. */
struct conf_ctx {
	const char *file;	/* the configuration, when libconfig has none */
	char *why;
	size_t whylen;
	const struct ini *ini;	/* a stunnel file's translation, or NULL */
	int no_files;		/* CONF_NO_FILES: names only, nothing read */
};

/**
 * conf_src(c, s, line):
 * The file where the setting ${s} is written, and its line in ${line}:
 * for a stunnel file, the line of the stunnel text it was translated
 * from.  The string lives as long as the configuration being read.
 */
const char *conf_src(const struct conf_ctx *c, const config_setting_t *s,
    int *line);

/* conf_line(c, s): the line of conf_src. */
int conf_line(const struct conf_ctx *c, const config_setting_t *s);

/* Where settings are written (conf_where); owns its strings. */
struct conf_locs {
	struct conf_loc_rec {
		char *name;
		char *file;
		int line;
	} *v;
	size_t n;
};

/**
 * conf_bad(c, s, fmt, ...):
 * Write "FILE:LINE: NAME: problem" for the setting ${s} into ${c}'s error
 * buffer.  Returns -1.
 */
int conf_bad(struct conf_ctx *, const config_setting_t *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * conf_read_globals(c, root, cf):
 * Read the top-level settings of ${root} into ${cf} (conf_global.c).
 * Returns 0, or -1 with the error reported.
 */
int conf_read_globals(struct conf_ctx *c, const config_setting_t *root,
    struct conf *cf);

/* conf_type_name(s): "a string", "a number"... for messages. */
const char *conf_type_name(const config_setting_t *s);

/*
 * conf_get_string, conf_get_bool, conf_get_count(c, s, out):
 * Store the value of ${s} in ${out} (a string is copied, freeing the old
 * one; a count is 0..10000000).  On a wrong type or value report it with
 * conf_bad and return -1.
 */
int conf_get_string(struct conf_ctx *c, const config_setting_t *s, char **out);
int conf_get_bool(struct conf_ctx *c, const config_setting_t *s, int *out);
int conf_get_count(struct conf_ctx *c, const config_setting_t *s,
    unsigned int *out);

/**
 * conf_get_int(c, s, what, out):
 * The integer value of ${s} in ${out}; on another type report "expected
 * ${what}, got TYPE" and return -1.  The caller checks the range.
 */
int conf_get_int(struct conf_ctx *c, const config_setting_t *s,
    const char *what, long long *out);

/* conf_get_seconds(c, s, out, lo, hi): a number of seconds in lo..hi. */
int conf_get_seconds(struct conf_ctx *c, const config_setting_t *s,
    unsigned int *out, long long lo, long long hi);

/**
 * conf_setting_for(g, name):
 * The setting ${name} as it applies to the service group ${g}: its own, or
 * the top-level one; ${g} itself if neither is written.  For messages.
 */
const config_setting_t *conf_setting_for(const config_setting_t *g,
    const char *name);

/**
 * conf_loc_add(c, locs, name, s):
 * Record that ${name} is written where ${s} is.  Returns 0, or -1 (with
 * the error reported) when out of memory.
 */
int conf_loc_add(struct conf_ctx *c, struct conf_locs **locs,
    const char *name, const config_setting_t *s);

/* conf_locs_free(locs): free what conf_loc_add built; NULL-safe. */
void conf_locs_free(struct conf_locs *locs);

/**
 * conf_get_cipher_list(c, s, tls13, out, line):
 * Turn the list "A:B:C" of ${s} into a wolfSSL list of allowlisted TLS 1.3
 * (${tls13}) or TLS 1.2 suites in ${out} and its line in ${line}; refuse
 * any other suite by name.
 */
int conf_get_cipher_list(struct conf_ctx *c, const config_setting_t *s,
    int tls13, char **out, int *line);

/**
 * conf_get_version(c, s, is_max, out):
 * A TLS version of sslVersionMin (or sslVersionMax, ${is_max}) as an enum
 * tls_version; versions below TLS 1.2 are refused.
 */
int conf_get_version(struct conf_ctx *c, const config_setting_t *s,
    int is_max, int *out);

/**
 * conf_check_unknown(c, group, global):
 * Refuse a member of ${group} that is not a setting there: anything
 * unknown, and (in a service, ${global} false) the global-only settings.
 */
int conf_check_unknown(struct conf_ctx *c, const config_setting_t *group,
    int global);

/* A service setting: its name, its reader, where its default comes from. */
struct conf_setting {
	const char *name;
	int (*set)(struct conf_ctx *, const config_setting_t *,
	    struct svc_conf *);
	int own;	/* a top-level value is not a default for services */
};

/* conf_settings_find(t, n, name): ${name} is one of the ${n} settings ${t}. */
int conf_settings_find(const struct conf_setting *t, size_t n,
    const char *name);

/**
 * conf_settings_read(c, root, g, sc, t, n):
 * Read each of the ${n} settings ${t} for the service group ${g} into
 * ${sc}: its own value, else (unless own) the top-level one of ${root},
 * recording where it is written.  0, or -1 with the error in ${c}.
 */
int conf_settings_read(struct conf_ctx *c, const config_setting_t *root,
    const config_setting_t *g, struct svc_conf *sc,
    const struct conf_setting *t, size_t n);

/**
 * conf_read_service(c, root, g):
 * Read and check the service group ${g}, with the top-level settings of
 * ${root} as defaults.  Returns a new struct svc_conf, or NULL with the
 * error reported.
 */
struct svc_conf *conf_read_service(struct conf_ctx *c,
    const config_setting_t *root, const config_setting_t *g);

/*
 * conf_redis.c: the Redis-aware settings.  conf_redis_setting(name): one
 * of them.  conf_redis_read(c, root, g, sc): read them for the service
 * group ${g} (a top-level value is the default); 0 or -1 with the error
 * in ${c}.  conf_redis_free(sc): free them, wiping the password.
 */
int conf_redis_setting(const char *name);
int conf_redis_read(struct conf_ctx *c, const config_setting_t *root,
    const config_setting_t *g, struct svc_conf *sc);
void conf_redis_free(struct svc_conf *sc);
/* conf_redis_wipe(root): wipe libconfig's copies of every password. */
void conf_redis_wipe(config_setting_t *root);

/*
 * conf_cluster.c: the Redis Cluster settings, as conf_redis_*: setting,
 * read (after the Redis settings: it checks role), free.
 * conf_cluster_check_all(c, services, svcs, n): no clusterPorts range
 * overlaps another's or a service's accept address.
 */
int conf_cluster_setting(const char *name);
int conf_cluster_read(struct conf_ctx *c, const config_setting_t *root,
    const config_setting_t *g, struct svc_conf *sc);
int conf_cluster_check_all(struct conf_ctx *c,
    const config_setting_t *services, struct svc_conf *const *svcs,
    size_t n);
void conf_cluster_free(struct svc_conf *sc);

/*
 * conf_iam.c: the ElastiCache IAM settings, as conf_redis_*: setting,
 * read (after the Redis settings: it checks password and username), free.
 */
int conf_iam_setting(const char *name);
int conf_iam_read(struct conf_ctx *c, const config_setting_t *root,
    const config_setting_t *g, struct svc_conf *sc);
void conf_iam_free(struct svc_conf *sc);

#endif
