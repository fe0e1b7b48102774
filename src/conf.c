/*
 * Configuration reader: libconfig syntax, stunnel option names.  Every
 * setting is checked for type and value here so that the daemon never
 * starts on a configuration it would only partly honour.
 */
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "log.h"

struct ctx {
	const char *file;
	char *why;
	size_t whylen;
};

/* Write "FILE:LINE: NAME: problem" for ${s} into the error buffer. */
static int bad(struct ctx *, const config_setting_t *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	char msg[512];
	const char *file = config_setting_source_file(s);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->why, c->whylen, "%s:%u: %s: %s",
	    file ? file : c->file, config_setting_source_line(s),
	    config_setting_name(s) ? config_setting_name(s) : "(root)", msg);
	return (-1);
}

static const char *
type_name(const config_setting_t *s)
{

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT: case CONFIG_TYPE_INT64: return ("a number");
	case CONFIG_TYPE_FLOAT: return ("a decimal number");
	case CONFIG_TYPE_STRING: return ("a string");
	case CONFIG_TYPE_BOOL: return ("a boolean");
	case CONFIG_TYPE_ARRAY: return ("an array");
	case CONFIG_TYPE_LIST: return ("a list");
	case CONFIG_TYPE_GROUP: return ("a group");
	default: return ("something else");
	}
}

static int
get_string(struct ctx *c, const config_setting_t *s, char **out)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return (bad(c, s, "expected a string, got %s", type_name(s)));
	v = config_setting_get_string(s);
	free(*out);
	if ((*out = strdup(v)) == NULL)
		return (bad(c, s, "out of memory"));
	return (0);
}

static int
get_path(struct ctx *c, const config_setting_t *s, char **out, int *line,
    int want_dir)
{

	if (get_string(c, s, out))
		return (-1);
	if ((*out)[0] == '\0')
		return (bad(c, s, "empty path"));
	if (access(*out, want_dir ? (R_OK | X_OK) : R_OK) != 0)
		return (bad(c, s, "cannot read \"%s\": %s", *out,
		    strerror(errno)));
	*line = config_setting_source_line(s);
	return (0);
}

static int
get_bool(struct ctx *c, const config_setting_t *s, int *out)
{

	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return (bad(c, s, "expected true or false, got %s",
		    type_name(s)));
	*out = config_setting_get_bool(s);
	return (0);
}

static int
get_seconds(struct ctx *c, const config_setting_t *s, unsigned int *out,
    unsigned int min)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return (bad(c, s, "expected a number of seconds, got %s",
		    type_name(s)));
	v = config_setting_get_int64(s);
	if (v < min || v > 86400 * 365)
		return (bad(c, s, "%lld is out of range (%u..31536000 s)", v,
		    min));
	*out = (unsigned int)v;
	return (0);
}

/* ---- TLS settings --------------------------------------------------- */

static const struct {
	const char *wolf, *openssl;
	int tls13;
} ciphers[] = {
	{ "TLS13-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256", 1 },
	{ "TLS13-AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384", 1 },
	{ "TLS13-CHACHA20-POLY1305-SHA256", "TLS_CHACHA20_POLY1305_SHA256", 1 },
	{ "ECDHE-ECDSA-AES128-GCM-SHA256", NULL, 0 },
	{ "ECDHE-RSA-AES128-GCM-SHA256", NULL, 0 },
	{ "ECDHE-ECDSA-AES256-GCM-SHA384", NULL, 0 },
	{ "ECDHE-RSA-AES256-GCM-SHA384", NULL, 0 },
	{ "ECDHE-ECDSA-CHACHA20-POLY1305", NULL, 0 },
	{ "ECDHE-RSA-CHACHA20-POLY1305", NULL, 0 },
};

const char *
conf_cipher_allowed(const char *name, int tls13)
{
	size_t i;

	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		if (ciphers[i].tls13 != tls13)
			continue;
		if (strcmp(name, ciphers[i].wolf) == 0 ||
		    (ciphers[i].openssl && strcmp(name, ciphers[i].openssl) == 0))
			return (ciphers[i].wolf);
	}
	return (NULL);
}

/* Turn "A:B:C" into a wolfSSL list, refusing anything not allowlisted. */
static int
get_cipher_list(struct ctx *c, const config_setting_t *s, int tls13,
    char **out, int *line)
{
	char *text = NULL, *tok, *save, *list = NULL;
	const char *wolf;
	size_t len = 0, n;

	if (get_string(c, s, &text))
		return (-1);
	if ((list = calloc(1, strlen(text) * 2 + 64)) == NULL)
		goto oom;
	for (tok = strtok_r(text, ":, ", &save); tok != NULL;
	    tok = strtok_r(NULL, ":, ", &save)) {
		if ((wolf = conf_cipher_allowed(tok, tls13)) == NULL) {
			bad(c, s, "\"%s\" is not allowed: redtun offers only "
			    "%s AEAD suites with ECDHE and certificate "
			    "authentication", tok, tls13 ? "TLS 1.3" :
			    "TLS 1.2");
			goto err;
		}
		n = strlen(wolf);
		if (len + n + 2 > strlen(text) * 2 + 64)
			goto oom;
		if (len > 0)
			list[len++] = ':';
		memcpy(list + len, wolf, n + 1);
		len += n;
	}
	if (len == 0) {
		bad(c, s, "empty cipher list");
		goto err;
	}
	free(text);
	free(*out);
	*out = list;
	*line = config_setting_source_line(s);
	return (0);
oom:
	bad(c, s, "out of memory");
err:
	free(text);
	free(list);
	return (-1);
}

/*
 * stunnel's meaning: "all" is no minimum (for sslVersionMin) or no maximum
 * (for sslVersionMax); redtun's range is TLS 1.2 to TLS 1.3, so "all" is
 * TLS 1.2 as a minimum and TLS 1.3 as a maximum.  Versions stunnel knows
 * below TLS 1.2 are refused, not silently raised.
 */
static int
get_version(struct ctx *c, const config_setting_t *s, int is_max, int *out)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return (bad(c, s, "expected \"TLSv1.2\", \"TLSv1.3\" or \"all\""
		    ", got %s", type_name(s)));
	v = config_setting_get_string(s);
	if (strcmp(v, "TLSv1.2") == 0)
		*out = TLS_V1_2;
	else if (strcmp(v, "TLSv1.3") == 0)
		*out = TLS_V1_3;
	else if (strcmp(v, "all") == 0)
		*out = is_max ? TLS_V1_3 : TLS_V1_2;
	else if (strcmp(v, "SSLv2") == 0 || strcmp(v, "SSLv3") == 0 ||
	    strcmp(v, "TLSv1") == 0 || strcmp(v, "TLSv1.1") == 0)
		return (bad(c, s, "\"%s\" is below redtun's floor of TLSv1.2",
		    v));
	else
		return (bad(c, s, "unknown version \"%s\" (use \"TLSv1.2\", "
		    "\"TLSv1.3\" or \"all\")", v));
	return (0);
}

/* ---- service settings ----------------------------------------------- */

static int
set_client(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{

	return (get_bool(c, s, &sc->client));
}

static int
set_accept(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	char why[256], num[16];
	const char *text;

	addr_spec_free(&sc->accept);
	if (config_setting_type(s) == CONFIG_TYPE_INT) {
		snprintf(num, sizeof(num), "%d", config_setting_get_int(s));
		text = num;
	} else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		text = config_setting_get_string(s);
	} else {
		return (bad(c, s, "expected \"host:port\" or a port, got %s",
		    type_name(s)));
	}
	if (addr_parse(text, "127.0.0.1", &sc->accept, why, sizeof(why)))
		return (bad(c, s, "%s", why));
	return (0);
}

static int
add_connect(struct ctx *c, const config_setting_t *s, struct svc_conf *sc,
    const config_setting_t *elem)
{
	char why[256], num[16];
	const char *text;
	struct addr_spec *a = &sc->connect[sc->nconnect];

	if (config_setting_type(elem) == CONFIG_TYPE_INT) {
		snprintf(num, sizeof(num), "%d", config_setting_get_int(elem));
		text = num;
	} else if (config_setting_type(elem) == CONFIG_TYPE_STRING) {
		text = config_setting_get_string(elem);
	} else {
		return (bad(c, s, "expected \"host:port\" or a list of them, "
		    "got %s", type_name(elem)));
	}
	if (addr_parse(text, "127.0.0.1", a, why, sizeof(why)))
		return (bad(c, s, "%s", why));
	sc->nconnect++;
	return (0);
}

static int
set_connect(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	int i, n = 1;

	if (config_setting_is_aggregate(s))
		n = config_setting_length(s);
	if (n == 0)
		return (bad(c, s, "empty list"));
	if (n > 64)
		return (bad(c, s, "at most 64 targets are supported"));
	if ((sc->connect = calloc((size_t)n, sizeof(*sc->connect))) == NULL)
		return (bad(c, s, "out of memory"));
	if (!config_setting_is_aggregate(s))
		return (add_connect(c, s, sc, s));
	for (i = 0; i < n; i++)
		if (add_connect(c, s, sc, config_setting_get_elem(s,
		    (unsigned int)i)))
			return (-1);
	return (0);
}

static int
set_failover(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return (bad(c, s, "expected \"prio\" or \"rr\", got %s",
		    type_name(s)));
	v = config_setting_get_string(s);
	if (strcmp(v, "prio") == 0)
		sc->failover = FAILOVER_PRIO;
	else if (strcmp(v, "rr") == 0)
		sc->failover = FAILOVER_RR;
	else
		return (bad(c, s, "expected \"prio\" or \"rr\", got \"%s\"",
		    v));
	return (0);
}

static int
set_sni(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{

	sc->sni_set = 1;
	if (get_string(c, s, &sc->sni))
		return (-1);
	/* RFC 6066: SNI carries host names only. */
	if (addr_is_ip(sc->sni))
		return (bad(c, s, "\"%s\" is an IP address; SNI carries host "
		    "names only (RFC 6066)", sc->sni));
	return (0);
}

/* checkHost takes a DNS name, checkIP an address: never one for the other. */
static int
set_check(struct ctx *c, const config_setting_t *s, struct svc_conf *sc,
    int ip)
{

	if (sc->check_host != NULL && sc->check_ip != ip)
		return (bad(c, s, "set only one of checkHost and checkIP"));
	free(sc->check_host);
	sc->check_host = NULL;
	sc->check_ip = ip;
	if (get_string(c, s, &sc->check_host))
		return (-1);
	if (sc->check_host[0] == '\0')
		return (bad(c, s, "empty %s", ip ? "address" : "host name"));
	if (ip && !addr_is_ip(sc->check_host))
		return (bad(c, s, "\"%s\" is not an IPv4 or IPv6 address",
		    sc->check_host));
	if (!ip && addr_is_ip(sc->check_host))
		return (bad(c, s, "\"%s\" is an IP address; use checkIP",
		    sc->check_host));
	return (0);
}

static int
set_check_host(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{

	return (set_check(c, s, sc, 0));
}

static int
set_check_ip(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{

	return (set_check(c, s, sc, 1));
}

#define SVC_PATH(fn, field, dir)					\
static int								\
fn(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)	\
{									\
	return (get_path(c, s, &sc->field, &sc->field##_line, dir));	\
}
SVC_PATH(set_cafile, cafile, 0)
SVC_PATH(set_capath, capath, 1)
SVC_PATH(set_cert, cert, 0)
SVC_PATH(set_key, key, 0)

static int
set_delay(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (get_bool(c, s, &sc->delay));
}

static int
get_count(struct ctx *c, const config_setting_t *s, unsigned int *out)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return (bad(c, s, "expected a number, got %s", type_name(s)));
	v = config_setting_get_int64(s);
	if (v < 0 || v > 10000000)
		return (bad(c, s, "%lld is out of range (0..10000000, 0 = no "
		    "limit)", v));
	*out = (unsigned int)v;
	return (0);
}

static int
set_prewarm(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{

	if (get_count(c, s, &sc->prewarm))
		return (-1);
	if (sc->prewarm > 1000)
		return (bad(c, s, "at most 1000 pre-warmed connections"));
	return (0);
}

static int
set_session_resume(struct ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	return (get_bool(c, s, &sc->session_resume));
}

static int
set_verify_chain(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (get_bool(c, s, &sc->verify_chain));
}

static int
set_verify_peer(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	int on = 0;

	if (get_bool(c, s, &on))
		return (-1);
	if (on)
		return (bad(c, s, "certificate pinning (verifyPeer = true) is "
		    "not supported; use verifyChain = true with a CAfile that "
		    "holds only the CA you trust"));
	return (0);
}

static int
set_encryption(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return (bad(c, s, "expected \"required\" or \"preferred\", "
		    "got %s", type_name(s)));
	v = config_setting_get_string(s);
	if (strcmp(v, "required") == 0)
		sc->encryption = ENCRYPTION_REQUIRED;
	else if (strcmp(v, "preferred") == 0)
		sc->encryption = ENCRYPTION_PREFERRED;
	else
		return (bad(c, s, "expected \"required\" or \"preferred\", "
		    "got \"%s\"", v));
	sc->encryption_line = config_setting_source_line(s);
	return (0);
}

static int
set_ciphers(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (get_cipher_list(c, s, 0, &sc->ciphers, &sc->ciphers_line));
}

static int
set_ciphersuites(struct ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	return (get_cipher_list(c, s, 1, &sc->ciphersuites, &sc->ciphers_line));
}

static int
set_vmin(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (get_version(c, s, 0, &sc->version_min));
}

static int
set_vmax(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (get_version(c, s, 1, &sc->version_max));
}

static int
set_tconnect(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (get_seconds(c, s, &sc->timeout_connect, 1));
}

static int
set_tidle(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (get_seconds(c, s, &sc->timeout_idle, 0));
}

static int
set_tclose(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (get_seconds(c, s, &sc->timeout_close, 0));
}

static int
set_backoff(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (get_seconds(c, s, &sc->failover_backoff, 0));
}

static int
set_maxconn(struct ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (get_count(c, s, &sc->max_connections));
}

static const struct {
	const char *name;
	int (*set)(struct ctx *, const config_setting_t *, struct svc_conf *);
	int own;	/* a top-level value is not a default for services */
} svc_settings[] = {
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
	"fips", "services", "workers",
};

static int
is_svc_setting(const char *name)
{
	size_t i;

	for (i = 0; i < NSVC_SETTINGS; i++)
		if (strcmp(name, svc_settings[i].name) == 0)
			return (1);
	return (0);
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
static int
check_unknown(struct ctx *c, const config_setting_t *group, int global)
{
	const config_setting_t *m;
	unsigned int i;

	for (i = 0; (m = config_setting_get_elem(group, i)) != NULL; i++) {
		const char *name = config_setting_name(m);

		if (global ? is_global_setting(name) : is_svc_setting(name))
			continue;
		if (!global && is_global_setting(name))
			return (bad(c, m, "is a global setting; move it to the "
			    "top level of the file"));
		return (bad(c, m, "unknown setting"));
	}
	return (0);
}

/* The setting ${name} as it applies to a service, for messages. */
static const config_setting_t *
where(const config_setting_t *g, const char *name)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		s = config_setting_get_member(config_setting_parent(
		    config_setting_parent(g)), name);
	return (s != NULL ? s : g);
}

/* Settings that belong to only one of the two modes. */
static int
check_mode(struct ctx *c, const config_setting_t *g, struct svc_conf *sc)
{

	if (sc->client) {
		if (sc->encryption_line)
			return (bad(c, where(g, "encryption"), "applies only "
			    "to server mode (client = false)"));
		return (0);
	}
	if (sc->prewarm > 0)
		return (bad(c, where(g, "prewarm"), "applies only to client "
		    "mode: in server mode the upstream is plaintext"));
	if (sc->sni_set)
		return (bad(c, where(g, "sni"), "is a client-mode setting; "
		    "server-mode virtual hosts are not supported"));
	if (sc->check_host != NULL)
		return (bad(c, where(g, sc->check_ip ? "checkIP" :
		    "checkHost"), "is not supported in "
		    "server mode; client certificates are checked against "
		    "CAfile/CApath only"));
	if (sc->cert == NULL) {
		snprintf(c->why, c->whylen, "%s:%d: cert: required in server "
		    "mode (service \"%s\" has client = false)", sc->file,
		    sc->line, sc->name);
		return (-1);
	}
	/* Trusting every public CA for client certificates lets anyone in. */
	if (sc->verify_chain && sc->cafile == NULL && sc->capath == NULL)
		return (bad(c, where(g, "verifyChain"), "client certificate "
		    "checks in server mode need CAfile or CApath naming the "
		    "CA that issues them"));
	return (0);
}

static int
check_service(struct ctx *c, const config_setting_t *g, struct svc_conf *sc)
{
	size_t i;

	if (sc->accept.host == NULL) {
		snprintf(c->why, c->whylen, "%s:%d: accept: missing in service "
		    "\"%s\"", sc->file, sc->line, sc->name);
		return (-1);
	}
	if (sc->nconnect == 0) {
		snprintf(c->why, c->whylen, "%s:%d: connect: missing in service"
		    " \"%s\"", sc->file, sc->line, sc->name);
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
		return (bad(c, s, "sslVersionMax is below sslVersionMin"));
	}
	if ((sc->cert == NULL) != (sc->key == NULL)) {
		const config_setting_t *s = config_setting_get_member(g,
		    sc->cert ? "cert" : "key");
		if (s == NULL)
			s = g;
		return (bad(c, s, "cert and key must be given together"));
	}
	for (i = 0; i < sc->nconnect; i++) {
		if (sc->connect[i].port == sc->accept.port &&
		    strcmp(sc->connect[i].host, sc->accept.host) == 0) {
			const config_setting_t *s =
			    config_setting_get_member(g, "connect");
			return (bad(c, s ? s : g, "connects to its own accept "
			    "address"));
		}
	}
	return (0);
}

static struct svc_conf *
read_service(struct ctx *c, const config_setting_t *root,
    const config_setting_t *g)
{
	struct svc_conf *sc;
	const config_setting_t *s;
	size_t i;

	if (!config_setting_is_group(g)) {
		bad(c, g, "a service must be a group { ... }, got %s",
		    type_name(g));
		return (NULL);
	}
	if (check_unknown(c, g, 0))
		return (NULL);
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		goto oom;
	sc->line = (int)config_setting_source_line(g);
	if ((sc->name = strdup(config_setting_name(g))) == NULL ||
	    (sc->file = strdup(config_setting_source_file(g) ?
	    config_setting_source_file(g) : c->file)) == NULL)
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

	/* A service's own value wins over the global default. */
	for (i = 0; i < NSVC_SETTINGS; i++) {
		s = config_setting_get_member(g, svc_settings[i].name);
		if (s == NULL && !svc_settings[i].own)
			s = config_setting_get_member(root,
			    svc_settings[i].name);
		if (s != NULL && svc_settings[i].set(c, s, sc))
			goto err;
	}
	if (check_service(c, g, sc))
		goto err;
	return (sc);
oom:
	bad(c, g, "out of memory");
err:
	svc_conf_free(sc);
	return (NULL);
}

/* ---- global settings ------------------------------------------------ */

static int
read_options(struct ctx *c, const config_setting_t *s)
{
	static const char *const known[] = {
		"NO_SSLv2", "NO_SSLv3", "NO_TLSv1", "NO_TLSv1.1", "NO_TLSv1_1",
		"NO_COMPRESSION",
	};
	const config_setting_t *e;
	unsigned int i, n = 1;
	size_t k;

	if (config_setting_is_aggregate(s))
		n = (unsigned int)config_setting_length(s);
	for (i = 0; i < n; i++) {
		e = config_setting_is_aggregate(s) ?
		    config_setting_get_elem(s, i) : s;
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return (bad(c, s, "expected option names as strings, "
			    "got %s", type_name(e)));
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strcmp(config_setting_get_string(e), known[k]) == 0)
				break;
		if (k == sizeof(known) / sizeof(known[0]))
			return (bad(c, s, "unknown or unsupported option "
			    "\"%s\" (redtun never enables SSLv2, SSLv3, "
			    "TLSv1 or TLSv1.1 anyway)",
			    config_setting_get_string(e)));
	}
	return (0);
}

static int
read_globals(struct ctx *c, const config_setting_t *root, struct conf *cf)
{
	const config_setting_t *s;
	int fips = 0;

	if ((s = config_setting_get_member(root, "pid")) &&
	    get_string(c, s, &cf->pid))
		return (-1);
	if (cf->pid != NULL && cf->pid[0] != '/' && cf->pid[0] != '\0')
		return (bad(c, s, "must be an absolute path"));
	if ((s = config_setting_get_member(root, "setuid")) &&
	    get_string(c, s, &cf->setuid))
		return (-1);
	if ((s = config_setting_get_member(root, "setgid")) &&
	    get_string(c, s, &cf->setgid))
		return (-1);
	if ((s = config_setting_get_member(root, "chroot")) &&
	    get_string(c, s, &cf->chroot))
		return (-1);
	if ((s = config_setting_get_member(root, "output")) &&
	    get_string(c, s, &cf->output))
		return (-1);
	if ((s = config_setting_get_member(root, "debug")) != NULL) {
		char num[16];
		const char *text = num;

		if (config_setting_type(s) == CONFIG_TYPE_INT)
			snprintf(num, sizeof(num), "%d",
			    config_setting_get_int(s));
		else if (config_setting_type(s) == CONFIG_TYPE_STRING)
			text = config_setting_get_string(s);
		else
			return (bad(c, s, "expected 0..7 or a level name, got "
			    "%s", type_name(s)));
		if (log_level_parse(text, &cf->debug))
			return (bad(c, s, "expected 0..7 or emerg, alert, crit,"
			    " err, warning, notice, info, debug; got \"%s\"",
			    text));
	}
	if ((s = config_setting_get_member(root, "options")) &&
	    read_options(c, s))
		return (-1);
	cf->workers = 1;
	if ((s = config_setting_get_member(root, "workers")) != NULL) {
		if (config_setting_type(s) == CONFIG_TYPE_STRING &&
		    strcmp(config_setting_get_string(s), "auto") == 0)
			cf->workers = 0;
		else if (config_setting_type(s) != CONFIG_TYPE_INT)
			return (bad(c, s, "expected a number of threads or "
			    "\"auto\", got %s", type_name(s)));
		else if (config_setting_get_int(s) < 1 ||
		    config_setting_get_int(s) > 64)
			return (bad(c, s, "%d is out of range (1..64, or "
			    "\"auto\" for one per CPU)",
			    config_setting_get_int(s)));
		else
			cf->workers = (unsigned int)config_setting_get_int(s);
	}
	/* At the top level this is the limit over all services. */
	if ((s = config_setting_get_member(root, "maxConnections")) &&
	    get_count(c, s, &cf->max_connections))
		return (-1);
	if ((s = config_setting_get_member(root, "fips")) != NULL) {
		if (get_bool(c, s, &fips))
			return (-1);
		if (fips)
			return (bad(c, s, "FIPS mode is not available: this "
			    "wolfSSL is not a FIPS build"));
	}
	return (0);
}

static int
check_duplicates(struct ctx *c, const config_setting_t *services,
    struct conf *cf)
{
	size_t i, j;

	for (i = 0; i < cf->nsvcs; i++) {
		for (j = 0; j < i; j++) {
			if (!svc_conf_same_accept(cf->svcs[i], cf->svcs[j]))
				continue;
			return (bad(c, where(config_setting_get_member(services,
			    cf->svcs[i]->name), "accept"), "%s:%d is already "
			    "used by service \"%s\"", cf->svcs[i]->accept.host,
			    cf->svcs[i]->accept.port, cf->svcs[j]->name));
		}
	}
	return (0);
}

struct conf *
conf_load(const char *path, char *why, size_t whylen)
{
	struct conf *cf;
	FILE *f;

	/* libconfig reports I/O errors without a file name or errno. */
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(why, whylen, "%s: cannot read: %s", path,
		    strerror(errno));
		return (NULL);
	}
	cf = conf_read(f, path, why, whylen);
	fclose(f);
	return (cf);
}

struct conf *
conf_read(FILE *f, const char *path, char *why, size_t whylen)
{
	config_t lc;
	struct ctx c = { path, why, whylen };
	struct conf *cf;
	const config_setting_t *root, *services;
	unsigned int i, n;

	if ((cf = calloc(1, sizeof(*cf))) == NULL ||
	    (cf->file = strdup(path)) == NULL) {
		snprintf(why, whylen, "%s: out of memory", path);
		free(cf);
		return (NULL);
	}
	cf->debug = LOG_LVL_NOTICE;
	config_init(&lc);
	if (config_read(&lc, f) != CONFIG_TRUE) {
		snprintf(why, whylen, "%s:%d: %s", config_error_file(&lc) ?
		    config_error_file(&lc) : path, config_error_line(&lc),
		    config_error_text(&lc));
		goto err;
	}
	root = config_root_setting(&lc);
	if (check_unknown(&c, root, 1) || read_globals(&c, root, cf))
		goto err;
	if ((services = config_setting_get_member(root, "services")) == NULL) {
		snprintf(why, whylen, "%s:1: services: missing (expected "
		    "services = { NAME = { accept = ...; connect = ...; }; })",
		    path);
		goto err;
	}
	if (!config_setting_is_group(services)) {
		bad(&c, services, "expected a group of services, got %s",
		    type_name(services));
		goto err;
	}
	if ((n = (unsigned int)config_setting_length(services)) == 0) {
		bad(&c, services, "no services defined");
		goto err;
	}
	if ((cf->svcs = calloc(n, sizeof(*cf->svcs))) == NULL) {
		bad(&c, services, "out of memory");
		goto err;
	}
	for (i = 0; i < n; i++) {
		cf->svcs[i] = read_service(&c, root,
		    config_setting_get_elem(services, i));
		if (cf->svcs[i] == NULL)
			goto err;
		cf->nsvcs++;
	}
	if (check_duplicates(&c, services, cf))
		goto err;
	config_destroy(&lc);
	return (cf);
err:
	config_destroy(&lc);
	conf_free(cf);
	return (NULL);
}

void
svc_conf_free(struct svc_conf *sc)
{
	size_t i;

	if (sc == NULL)
		return;
	for (i = 0; i < sc->nconnect; i++)
		addr_spec_free(&sc->connect[i]);
	free(sc->connect);
	addr_spec_free(&sc->accept);
	free(sc->name);
	free(sc->file);
	free(sc->sni);
	free(sc->check_host);
	free(sc->cafile);
	free(sc->capath);
	free(sc->cert);
	free(sc->key);
	free(sc->ciphers);
	free(sc->ciphersuites);
	free(sc);
}

void
conf_free(struct conf *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->nsvcs; i++)
		svc_conf_free(cf->svcs[i]);
	free(cf->svcs);
	free(cf->file);
	free(cf->pid);
	free(cf->setuid);
	free(cf->setgid);
	free(cf->chroot);
	free(cf->output);
	free(cf);
}

int
svc_conf_same_accept(const struct svc_conf *a, const struct svc_conf *b)
{

	return (a->accept.port == b->accept.port &&
	    strcmp(a->accept.host, b->accept.host) == 0);
}
