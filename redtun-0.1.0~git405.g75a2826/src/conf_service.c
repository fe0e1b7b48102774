/*
 * One service section: the per-service settings (a top-level value is the
 * default for every service), their defaults, and the checks across
 * settings (mode, cert and key, versions) that a single value cannot make.
 */
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "conf_priv.h"

static int
get_path(struct conf_ctx *c, const config_setting_t *s, char **out, int *line,
    int want_dir)
{

	if (conf_get_string(c, s, out))
		return (-1);
	if ((*out)[0] == '\0')
		return (conf_bad(c, s, "empty path"));
	if (!c->no_files && access(*out, want_dir ? (R_OK | X_OK) : R_OK) != 0)
		return (conf_bad(c, s, "cannot read \"%s\": %s", *out,
		    strerror(errno)));
	*line = conf_line(c, s);
	return (0);
}

static int
get_seconds(struct conf_ctx *c, const config_setting_t *s, unsigned int *out,
    unsigned int min)
{
	long long v = 0;

	if (conf_get_int(c, s, "a number of seconds", &v))
		return (-1);
	if (v < min || v > 86400 * 365)
		return (conf_bad(c, s, "%lld is out of range (%u..31536000 s)",
		    v, min));
	*out = (unsigned int)v;
	return (0);
}

/* ---- service settings ----------------------------------------------- */

/*
 * The address ${elem} (a "host:port" string or a bare port number, which
 * gets 127.0.0.1) into ${a}; errors are reported at the setting ${s}, with
 * ${expected} naming what it takes.
 */
static int
get_addr(struct conf_ctx *c, const config_setting_t *s,
    const config_setting_t *elem, const char *expected, struct addr_spec *a)
{
	char why[256], num[16];
	const char *text;

	if (config_setting_type(elem) == CONFIG_TYPE_INT) {
		snprintf(num, sizeof(num), "%d", config_setting_get_int(elem));
		text = num;
	} else if (config_setting_type(elem) == CONFIG_TYPE_STRING) {
		text = config_setting_get_string(elem);
	} else {
		return (conf_bad(c, s, "expected %s, got %s", expected,
		    conf_type_name(elem)));
	}
	if (addr_parse(text, "127.0.0.1", a, why, sizeof(why)))
		return (conf_bad(c, s, "%s", why));
	return (0);
}

static int
set_accept(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{

	addr_spec_free(&sc->accept);
	return (get_addr(c, s, s, "\"host:port\" or a port", &sc->accept));
}

static int
add_connect(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc,
    const config_setting_t *elem)
{

	if (get_addr(c, s, elem, "\"host:port\" or a list of them",
	    &sc->connect[sc->nconnect]))
		return (-1);
	sc->connect_line[sc->nconnect] = conf_line(c, elem);
	sc->nconnect++;
	return (0);
}

static int
set_connect(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	int i, n = 1;

	if (config_setting_is_aggregate(s))
		n = config_setting_length(s);
	if (n == 0)
		return (conf_bad(c, s, "empty list"));
	if (n > 64)
		return (conf_bad(c, s, "at most 64 targets are supported"));
	if ((sc->connect = calloc((size_t)n, sizeof(*sc->connect))) == NULL ||
	    (sc->connect_line = calloc((size_t)n, sizeof(int))) == NULL)
		return (conf_bad(c, s, "out of memory"));
	if (!config_setting_is_aggregate(s))
		return (add_connect(c, s, sc, s));
	for (i = 0; i < n; i++)
		if (add_connect(c, s, sc, config_setting_get_elem(s,
		    (unsigned int)i)))
			return (-1);
	return (0);
}

/* One of the words ${w0} and ${w1}: ${out} is 0 or 1. */
static int
get_either(struct conf_ctx *c, const config_setting_t *s, const char *w0,
    const char *w1, int *out)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return (conf_bad(c, s, "expected \"%s\" or \"%s\", got %s", w0,
		    w1, conf_type_name(s)));
	v = config_setting_get_string(s);
	if (strcmp(v, w0) != 0 && strcmp(v, w1) != 0)
		return (conf_bad(c, s, "expected \"%s\" or \"%s\", got \"%s\"",
		    w0, w1, v));
	*out = strcmp(v, w1) == 0;
	return (0);
}

static int
set_failover(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{

	/* FAILOVER_PRIO = 0, FAILOVER_RR = 1 */
	return (get_either(c, s, "prio", "rr", &sc->failover));
}

static int
set_sni(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{

	sc->sni_set = 1;
	if (conf_get_string(c, s, &sc->sni))
		return (-1);
	/* RFC 6066: SNI carries host names only. */
	if (addr_is_ip(sc->sni))
		return (conf_bad(c, s, "\"%s\" is an IP address; SNI carries "
		    "host names only (RFC 6066)", sc->sni));
	return (0);
}

/* checkHost takes a DNS name, checkIP an address: never one for the other. */
static int
set_check(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc,
    int ip)
{

	if (sc->check_host != NULL && sc->check_ip != ip)
		return (conf_bad(c, s,
		    "set only one of checkHost and checkIP"));
	free(sc->check_host);
	sc->check_host = NULL;
	sc->check_ip = ip;
	if (conf_get_string(c, s, &sc->check_host))
		return (-1);
	if (sc->check_host[0] == '\0')
		return (conf_bad(c, s, "empty %s", ip ? "address" :
		    "host name"));
	if (ip && !addr_is_ip(sc->check_host))
		return (conf_bad(c, s, "\"%s\" is not an IPv4 or IPv6 address",
		    sc->check_host));
	if (!ip && addr_is_ip(sc->check_host))
		return (conf_bad(c, s, "\"%s\" is an IP address; use checkIP",
		    sc->check_host));
	return (0);
}

static int
set_check_host(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{

	return (set_check(c, s, sc, 0));
}

static int
set_check_ip(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{

	return (set_check(c, s, sc, 1));
}

#define SVC_PATH(fn, field, dir)					\
static int								\
fn(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)	\
{									\
	return (get_path(c, s, &sc->field, &sc->field##_line, dir));	\
}
SVC_PATH(set_cafile, cafile, 0)
SVC_PATH(set_capath, capath, 1)
SVC_PATH(set_cert, cert, 0)
SVC_PATH(set_key, key, 0)

/* The settings that are one value of one type. */
#define SVC_BOOL(fn, field)						\
static int								\
fn(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)	\
{									\
	return (conf_get_bool(c, s, &sc->field));			\
}
SVC_BOOL(set_client, client)
SVC_BOOL(set_delay, delay)
SVC_BOOL(set_session_resume, session_resume)
SVC_BOOL(set_verify_chain, verify_chain)

#define SVC_SECONDS(fn, field, min)					\
static int								\
fn(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)	\
{									\
	return (get_seconds(c, s, &sc->field, min));			\
}
SVC_SECONDS(set_tconnect, timeout_connect, 1)
SVC_SECONDS(set_tidle, timeout_idle, 0)
SVC_SECONDS(set_tclose, timeout_close, 0)
SVC_SECONDS(set_backoff, failover_backoff, 0)


static int
set_prewarm(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{

	if (conf_get_count(c, s, &sc->prewarm))
		return (-1);
	if (sc->prewarm > 1000)
		return (conf_bad(c, s, "at most 1000 pre-warmed connections"));
	return (0);
}

static int
set_verify_peer(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	int on = 0;

	if (conf_get_bool(c, s, &on))
		return (-1);
	if (on)
		return (conf_bad(c, s, "certificate pinning (verifyPeer = "
		    "true) is not supported; use verifyChain = true with a "
		    "CAfile that holds only the CA you trust"));
	return (0);
}

static int
set_encryption(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{

	/* ENCRYPTION_REQUIRED = 0, ENCRYPTION_PREFERRED = 1 */
	if (get_either(c, s, "required", "preferred", &sc->encryption))
		return (-1);
	sc->encryption_line = conf_line(c, s);
	return (0);
}

static int
set_ciphers(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	return (conf_get_cipher_list(c, s, 0, &sc->ciphers,
	    &sc->ciphers_line));
}

static int
set_ciphersuites(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	return (conf_get_cipher_list(c, s, 1, &sc->ciphersuites,
	    &sc->ciphers_line));
}

static int
set_vmin(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	return (conf_get_version(c, s, 0, &sc->version_min));
}

static int
set_vmax(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	return (conf_get_version(c, s, 1, &sc->version_max));
}

static int
set_maxconn(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	return (conf_get_count(c, s, &sc->max_connections));
}

static const struct conf_setting svc_settings[] = {
	{ "client", set_client, 0 },
	{ "accept", set_accept, 0 },
	{ "connect", set_connect, 0 },
	{ "failover", set_failover, 0 },
	{ "delay", set_delay, 0 },
	{ "sni", set_sni, 0 },
	{ "verifyChain", set_verify_chain, 0 },
	{ "checkHost", set_check_host, 0 },
	{ "checkIP", set_check_ip, 0 },
	{ "verifyPeer", set_verify_peer, 0 },
	{ "encryption", set_encryption, 0 },
	{ "CAfile", set_cafile, 0 },
	{ "CApath", set_capath, 0 },
	{ "cert", set_cert, 0 },
	{ "key", set_key, 0 },
	{ "ciphers", set_ciphers, 0 },
	{ "ciphersuites", set_ciphersuites, 0 },
	{ "sslVersionMin", set_vmin, 0 },
	{ "sslVersionMax", set_vmax, 0 },
	{ "TIMEOUTconnect", set_tconnect, 0 },
	{ "TIMEOUTidle", set_tidle, 0 },
	{ "TIMEOUTclose", set_tclose, 0 },
	{ "failoverBackoff", set_backoff, 0 },
	{ "maxConnections", set_maxconn, 1 },
	{ "sessionResume", set_session_resume, 0 },
	{ "prewarm", set_prewarm, 0 },
};
#define NSVC_SETTINGS (sizeof(svc_settings) / sizeof(svc_settings[0]))


static const char *const global_only[] = {
	"pid", "setuid", "setgid", "chroot", "debug", "output", "options",
	"fips", "services", "workers", "foreground", "syslog", "status",
	"logFormat",
};

int
conf_settings_find(const struct conf_setting *t, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(name, t[i].name) == 0)
			return (1);
	return (0);
}

int
conf_settings_read(struct conf_ctx *c, const config_setting_t *root,
    const config_setting_t *g, struct svc_conf *sc,
    const struct conf_setting *t, size_t n)
{
	const config_setting_t *s;
	size_t i;

	/* A service's own value wins over the global default. */
	for (i = 0; i < n; i++) {
		s = config_setting_get_member(g, t[i].name);
		if (s == NULL && !t[i].own)
			s = config_setting_get_member(root, t[i].name);
		if (s == NULL)
			continue;
		if (t[i].set(c, s, sc) ||
		    conf_loc_add(c, &sc->locs, t[i].name, s))
			return (-1);
	}
	return (0);
}

static int
is_svc_setting(const char *name)
{

	return (conf_settings_find(svc_settings, NSVC_SETTINGS, name) ||
	    conf_redis_setting(name));
}

static int
is_global_setting(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(global_only) / sizeof(global_only[0]); i++)
		if (strcmp(name, global_only[i]) == 0)
			return (1);
	return (is_svc_setting(name));
}

/* Settings that only make sense per service may not appear globally. */
int
conf_check_unknown(struct conf_ctx *c, const config_setting_t *group,
    int global)
{
	const config_setting_t *m;
	unsigned int i;

	for (i = 0; (m = config_setting_get_elem(group, i)) != NULL; i++) {
		const char *name = config_setting_name(m);

		if (global ? is_global_setting(name) : is_svc_setting(name))
			continue;
		if (!global && is_global_setting(name))
			return (conf_bad(c, m, "is a global setting; move it "
			    "to the top level of the file"));
		return (conf_bad(c, m, "unknown setting"));
	}
	return (0);
}

/* Settings that belong to only one of the two modes. */
static int
check_mode(struct conf_ctx *c, const config_setting_t *g,
    struct svc_conf *sc)
{

	if (sc->client) {
		if (sc->encryption_line)
			return (conf_bad(c, conf_setting_for(g, "encryption"),
			    "applies only to server mode (client = false)"));
		return (0);
	}
	if (sc->prewarm > 0)
		return (conf_bad(c, conf_setting_for(g, "prewarm"), "applies "
		    "only to client mode: in server mode the upstream is "
		    "plaintext"));
	if (sc->sni_set)
		return (conf_bad(c, conf_setting_for(g, "sni"), "is a "
		    "client-mode setting; server-mode virtual hosts are not "
		    "supported"));
	if (sc->check_host != NULL)
		return (conf_bad(c, conf_setting_for(g, sc->check_ip ?
		    "checkIP" : "checkHost"), "is not supported in server "
		    "mode; client certificates are checked against "
		    "CAfile/CApath only"));
	if (sc->cert == NULL) {
		snprintf(c->why, c->whylen, "%s:%d: cert: required in server "
		    "mode (service \"%s\" has client = false)", sc->file,
		    sc->line, sc->name);
		return (-1);
	}
	/* Trusting every public CA for client certificates lets anyone in. */
	if (sc->verify_chain && sc->cafile == NULL && sc->capath == NULL)
		return (conf_bad(c, conf_setting_for(g, "verifyChain"),
		    "client certificate checks in server mode need CAfile or "
		    "CApath naming the CA that issues them"));
	return (0);
}

static int
check_service(struct conf_ctx *c, const config_setting_t *g,
    struct svc_conf *sc)
{
	size_t i;

	if (sc->accept.host == NULL) {
		snprintf(c->why, c->whylen, "%s:%d: accept: missing in "
		    "service \"%s\"", sc->file, sc->line, sc->name);
		return (-1);
	}
	if (sc->nconnect == 0) {
		snprintf(c->why, c->whylen, "%s:%d: connect: missing in "
		    "service \"%s\"", sc->file, sc->line, sc->name);
		return (-1);
	}
	if (sc->verify_chain < 0)
		sc->verify_chain = sc->client;
	if (check_mode(c, g, sc))
		return (-1);
	if (sc->version_min > sc->version_max) {
		const config_setting_t *s = config_setting_get_member(g,
		    "sslVersionMax");
		if (s == NULL)
			s = g;
		return (conf_bad(c, s, "sslVersionMax is below sslVersionMin"
		    ));
	}
	if ((sc->cert == NULL) != (sc->key == NULL)) {
		const config_setting_t *s = config_setting_get_member(g,
		    sc->cert ? "cert" : "key");
		if (s == NULL)
			s = g;
		return (conf_bad(c, s, "cert and key must be given together"));
	}
	for (i = 0; i < sc->nconnect; i++) {
		if (sc->connect[i].port == sc->accept.port &&
		    strcmp(sc->connect[i].host, sc->accept.host) == 0) {
			const config_setting_t *s =
			    config_setting_get_member(g, "connect");
			return (conf_bad(c, s ? s : g, "connects to its own "
			    "accept address"));
		}
	}
	return (0);
}

struct svc_conf *
conf_read_service(struct conf_ctx *c, const config_setting_t *root,
    const config_setting_t *g)
{
	struct svc_conf *sc;

	if (!config_setting_is_group(g)) {
		conf_bad(c, g, "a service must be a group { ... }, got %s",
		    conf_type_name(g));
		return (NULL);
	}
	if (conf_check_unknown(c, g, 0))
		return (NULL);
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		goto oom;
	if ((sc->name = strdup(config_setting_name(g))) == NULL ||
	    (sc->file = strdup(conf_src(c, g, &sc->line))) == NULL)
		goto oom;
	sc->client = 1;
	sc->delay = 1;
	sc->verify_chain = -1;	/* default depends on the mode */
	sc->encryption = ENCRYPTION_REQUIRED;
	sc->failover = FAILOVER_PRIO;
	sc->version_min = TLS_V1_2;
	sc->version_max = TLS_V1_3;
	sc->timeout_connect = 10;
	sc->timeout_idle = 0;
	sc->timeout_close = 10;
	sc->failover_backoff = 30;
	sc->session_resume = 1;

	if (conf_settings_read(c, root, g, sc, svc_settings, NSVC_SETTINGS) ||
	    conf_redis_read(c, root, g, sc) || check_service(c, g, sc))
		goto err;
	return (sc);
oom:
	conf_bad(c, g, "out of memory");
err:
	svc_conf_free(sc);
	return (NULL);
}

