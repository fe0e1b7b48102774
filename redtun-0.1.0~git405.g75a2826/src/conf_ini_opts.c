/*
 * What each stunnel option becomes in redtun's configuration: a setting
 * (MAP), a comment and a notice (NOTE: accepted, no effect here), or an
 * error (REFUSE: redtun cannot do what the line asks, and running
 * without it would be less safe or not what the user meant).  Every
 * stunnel 5.68/5.75 option is listed, and redtun's own settings too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_ini_priv.h"

enum kind { K_BOOL, K_STR, K_INT, K_NOTE, K_REFUSE, K_NOREFUSE, K_FN };

struct opt {
	const char *name;	/* canonical spelling */
	enum kind kind;
	int scope;		/* 1: global only; 2: setuid/setgid */
	const char *why;	/* NOTE/REFUSE reason (K_NOREFUSE: refuse) */
	int (*fn)(struct ini_tx *, const struct opt *);
};

static const char *const TLS_FLOOR = "redtun never speaks TLS below 1.2";
static const char *const PINNING = "certificate pinning (verify = 3/4, "
    "verifyPeer) is not supported; use verifyChain with a CAfile that "
    "holds only the CA you trust";
static const char *const OPENSSL_ONLY = "OpenSSL engines and providers "
    "are OpenSSL-only; redtun uses wolfSSL";

/* ---- values --------------------------------------------------------------- */

static const char *
val(const struct ini_tx *tx)
{
	return (tx->r->value);
}

static int
bad_value(struct ini_tx *tx, const struct opt *o, const char *expected)
{
	char esc[128];

	ini_escape(esc, sizeof(esc), val(tx), 60);
	return (ini_err(tx->ini, tx->r, "%s: expected %s, got \"%s\"",
	    o->name, expected, esc));
}


static int
all_digits(const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if (v[i] < '0' || v[i] > '9')
			return (0);
	return (i > 0);
}

static int
set_str(struct ini_tx *tx, const char *name, const char *v)
{
	return (ini_out_set(tx, name, ini_quote(v)));
}

static int
set_bool(struct ini_tx *tx, const char *name, int b)
{
	return (ini_out_set(tx, name, strdup(b ? "true" : "false")));
}

static int
refuse(struct ini_tx *tx, const struct opt *o, const char *why)
{
	return (ini_err(tx->ini, tx->r, "%s: %s", o->name, why));
}

static int
note(struct ini_tx *tx, const struct opt *o, const char *why)
{
	return (ini_out_note(tx, o->name, why));
}

/*
 * The section's effective client mode (stunnel's default: server).  In
 * the global section, where a default applies to every later section:
 * whether every section is a client.
 */
static int
is_client(const struct ini_tx *tx)
{
	size_t i;

	if (tx->st->client >= 0)
		return (tx->st->client);
	if (tx->sect > 0 || tx->ini->nsects < 2)
		return (tx->gst->client > 0);
	for (i = 1; i < tx->ini->nsects; i++) {
		int c = tx->ini->sects[i].st.client;

		if (c < 0)
			c = tx->gst->client > 0;
		if (!c)
			return (0);
	}
	return (1);
}

/* ---- the handlers ----------------------------------------------------------- */

/*
 * accept, connect: stunnel splits "HOST:PORT" at the last ':' (":::6379"
 * is every IPv6 address); redtun wants "[v6]:port".  A bare accept port
 * listens on every interface in stunnel.
 */
static int
h_addr(struct ini_tx *tx, const struct opt *o)
{
	const char *v = val(tx), *last = strrchr(v, ':'), *p;
	size_t colons = 0;
	char *out;

	if (v[0] == '/')
		return (refuse(tx, o, "Unix-socket addresses are not "
		    "supported"));
	for (p = v; *p != '\0'; p++)
		colons += *p == ':';
	if (strcmp(o->name, "accept") == 0 && all_digits(v)) {
		if (asprintf(&out, "0.0.0.0:%s", v) < 0)
			out = NULL;
	} else if (v[0] != '[' && colons >= 2) {
		if (asprintf(&out, "[%.*s]:%s", (int)(last - v), v, last + 1) <
		    0)
			out = NULL;
	} else
		return (set_str(tx, o->name, v));
	if (out == NULL)
		return (ini_out_set(tx, o->name, NULL));
	if (set_str(tx, o->name, out)) {
		free(out);
		return (-1);
	}
	free(out);
	return (0);
}

static int
h_check(struct ini_tx *tx, const struct opt *o)
{
	/* stunnel adds a section's names to the global ones: "any of". */
	if (tx->nchecks++ > 0 || (tx->sect > 0 && tx->gst->check != NULL))
		return (refuse(tx, o, "redtun checks one name or address per "
		    "service; stunnel's 'any of several' is not supported"));
	return (set_str(tx, o->name, val(tx)));
}

static int
h_verify(struct ini_tx *tx, const struct opt *o)
{
	const char *v = val(tx);

	if (strlen(v) != 1 || v[0] < '0' || v[0] > '4')
		return (bad_value(tx, o, "0..4"));
	switch (v[0]) {
	case '0':
		if (set_bool(tx, "verifyChain", 0))
			return (-1);
		if (!is_client(tx))
			return (ini_notice_add(tx->ini, tx->r, "verify: redtun "
			    "does not ask for a client certificate it would "
			    "ignore"));
		return (0);
	case '1':
		if (!is_client(tx))
			return (refuse(tx, o, "optional client certificates "
			    "(verify = 1) are not supported; use verify = 2"));
		return (set_bool(tx, "verifyChain", 1));
	case '2':
		return (set_bool(tx, "verifyChain", 1));
	default:
		return (refuse(tx, o, PINNING));
	}
}

static int
h_verify_peer(struct ini_tx *tx, const struct opt *o)
{
	int b = ini_parse_bool(val(tx));

	if (b < 0)
		return (bad_value(tx, o, "yes or no"));
	if (b)
		return (refuse(tx, o, PINNING));
	return (set_bool(tx, o->name, 0));
}

static int
h_require_cert(struct ini_tx *tx, const struct opt *o)
{
	int b = ini_parse_bool(val(tx)), on;

	if (b < 0)
		return (bad_value(tx, o, "yes or no"));
	if (!b)
		return (note(tx, o, "the default"));
	if (is_client(tx))
		return (note(tx, o, "redtun always requires the server's "
		    "certificate"));
	/* verify = 2 or more, or verifyChain, here or globally. */
	if ((on = ini_state_verifies(tx->st, 2)) < 0)
		on = ini_state_verifies(tx->gst, 2);
	if (on == 1)
		return (note(tx, o, "implied by verifyChain"));
	return (refuse(tx, o, "a client certificate required but not "
	    "verified is not supported; use verifyChain = yes with CAfile"));
}

static int
old_tls(const char *v)
{
	return (strcasecmp(v, "SSLv2") == 0 || strcasecmp(v, "SSLv3") == 0 ||
	    strcasecmp(v, "TLSv1") == 0 || strcasecmp(v, "TLSv1.1") == 0);
}

static int
h_ssl_version(struct ini_tx *tx, const struct opt *o)
{
	const char *v = val(tx), *c;

	if (strcasecmp(v, "all") == 0)
		return (note(tx, o, "redtun uses TLS 1.2 and 1.3"));
	if (old_tls(v))
		return (refuse(tx, o, TLS_FLOOR));
	if (strcasecmp(v, "TLSv1.2") == 0)
		c = "TLSv1.2";
	else if (strcasecmp(v, "TLSv1.3") == 0)
		c = "TLSv1.3";
	else
		return (bad_value(tx, o, "all, TLSv1.2 or TLSv1.3"));
	return (set_str(tx, "sslVersionMin", c) ||
	    set_str(tx, "sslVersionMax", c));
}

static int
h_version_min(struct ini_tx *tx, const struct opt *o)
{
	if (!old_tls(val(tx)))
		return (set_str(tx, o->name, val(tx)));
	if (set_str(tx, o->name, "TLSv1.2"))
		return (-1);
	return (ini_notice_add(tx->ini, tx->r, "%s: raised to TLSv1.2: %s",
	    o->name, TLS_FLOOR));
}

static int
h_version_max(struct ini_tx *tx, const struct opt *o)
{
	if (old_tls(val(tx)))
		return (refuse(tx, o, TLS_FLOOR));
	return (set_str(tx, o->name, val(tx)));
}

/* The vocabularies of options, socket, ciphers, debug: conf_ini_words.c. */
static int
h_words(struct ini_tx *tx, const struct opt *o)
{
	if (strcmp(o->name, "options") == 0)
		return (ini_h_options(tx));
	if (strcmp(o->name, "socket") == 0)
		return (ini_h_socket(tx));
	if (strcmp(o->name, "ciphers") == 0)
		return (ini_h_ciphers(tx));
	return (ini_h_debug(tx));
}

static int
h_foreground(struct ini_tx *tx, const struct opt *o)
{
	const char *v = val(tx);
	int b = ini_parse_bool(v);

	if (strcasecmp(v, "quiet") == 0) {
		if (set_bool(tx, o->name, 1))
			return (-1);
		return (ini_notice_add(tx->ini, tx->r, "foreground: quiet: "
		    "redtun logs to 'output', or stderr without it"));
	}
	if (b < 0)
		return (bad_value(tx, o, "yes, quiet or no"));
	return (set_bool(tx, o->name, b));
}

static int
h_log(struct ini_tx *tx, const struct opt *o)
{
	if (strcasecmp(val(tx), "append") == 0)
		return (note(tx, o, "redtun appends"));
	if (strcasecmp(val(tx), "overwrite") == 0)
		return (refuse(tx, o, "redtun only appends to 'output'; "
		    "overwriting is not supported"));
	return (bad_value(tx, o, "append or overwrite"));
}

static int
h_transparent(struct ini_tx *tx, const struct opt *o)
{
	if (strcasecmp(val(tx), "none") == 0 || strcasecmp(val(tx), "no") == 0)
		return (note(tx, o, "the default"));
	return (refuse(tx, o, "transparent proxying is not supported"));
}

static int
h_protocol(struct ini_tx *tx, const struct opt *o)
{
	char esc[96];

	/* The value of protocolPassword never reaches a message. */
	if (strcmp(o->name, "protocol") == 0)
		ini_escape(esc, sizeof(esc), val(tx), 40);
	else
		snprintf(esc, sizeof(esc), "%s", o->name);
	return (ini_err(tx->ini, tx->r, "%s: protocol negotiation (%s) is not "
	    "supported: redtun speaks TLS directly", o->name, esc));
}

static int
h_include(struct ini_tx *tx, const struct opt *o)
{
	(void)o;
	return (ini_out_comment(tx, "its files follow"));
}

static int
h_workers(struct ini_tx *tx, const struct opt *o)
{
	const char *v;

	if (strcasecmp(val(tx), "auto") == 0)
		return (set_str(tx, o->name, "auto"));
	v = val(tx);
	while (v[0] == '0' && v[1] != '\0')
		v++;
	if (!all_digits(v) || strlen(v) > 9)
		return (bad_value(tx, o, "a number or auto"));
	return (ini_out_set(tx, o->name, strdup(v)));
}

#define MAP(n, k)	{ n, k, 0, NULL, NULL }
#define GMAP(n, k)	{ n, k, 1, NULL, NULL }
#define NOTE(n, w)	{ n, K_NOTE, 0, w, NULL }
#define GNOTE(n, w)	{ n, K_NOTE, 1, w, NULL }
#define REFUSE(n, w)	{ n, K_REFUSE, 0, w, NULL }
#define GREFUSE(n, w)	{ n, K_REFUSE, 1, w, NULL }
#define NOREFUSE(n, w)	{ n, K_NOREFUSE, 0, w, NULL }
#define FN(n, f)	{ n, K_FN, 0, NULL, f }
#define GFN(n, f)	{ n, K_FN, 1, NULL, f }

static const char *const SESSION_CACHE = "redtun keeps one resumable "
    "session per target and follows the server's ticket lifetime";
static const char *const RANDOM = "wolfSSL seeds from the kernel";
static const char *const GUI = "Windows GUI only";
static const char *const OCSP = "OCSP is not supported";
static const char *const EXEC = "running a local program (inetd-style "
    "exec) is not supported";
static const char *const PSK = "pre-shared keys are not supported";
static const char *const CRL = "certificate revocation lists are not "
    "supported; redtun would otherwise accept revoked certificates";

static const struct opt opts[] = {
	/* Service options redtun has under the same name. */
	MAP("client", K_BOOL), MAP("delay", K_BOOL),
	MAP("verifyChain", K_BOOL), MAP("sessionResume", K_BOOL),
	FN("accept", h_addr), FN("connect", h_addr),
	MAP("failover", K_STR), MAP("CAfile", K_STR), MAP("CApath", K_STR),
	MAP("cert", K_STR), MAP("key", K_STR), MAP("sni", K_STR),
	MAP("ciphersuites", K_STR),
	FN("sslVersionMin", h_version_min), FN("sslVersionMax", h_version_max),
	FN("checkHost", h_check), FN("checkIP", h_check),
	FN("verify", h_verify), FN("verifyPeer", h_verify_peer),
	FN("requireCert", h_require_cert), FN("sslVersion", h_ssl_version),
	FN("ciphers", h_words), FN("options", h_words),
	MAP("TIMEOUTconnect", K_INT), MAP("TIMEOUTidle", K_INT),
	MAP("TIMEOUTclose", K_INT),
	FN("debug", h_words), FN("socket", h_words),
	FN("transparent", h_transparent), FN("include", h_include),
	/* Global options. */
	GMAP("pid", K_STR), { "setuid", K_STR, 2, NULL, NULL },
	{ "setgid", K_STR, 2, NULL, NULL }, GMAP("chroot", K_STR),
	GMAP("output", K_STR), GFN("foreground", h_foreground),
	GMAP("syslog", K_BOOL), GMAP("fips", K_BOOL), GFN("log", h_log),
	GFN("workers", h_workers), GMAP("status", K_STR),
	GMAP("logFormat", K_STR),
	/* Accepted without effect. */
	NOTE("curves", "redtun uses wolfSSL's default key-exchange groups "
	    "(X25519, P-256, P-384...)"),
	NOTE("curve", "redtun uses wolfSSL's default key-exchange groups "
	    "(X25519, P-256, P-384...)"),
	NOTE("TIMEOUTbusy", "redtun bounds the TLS handshake by "
	    "TIMEOUTconnect"),
	NOTE("TIMEOUTocsp", "redtun does no OCSP"),
	NOTE("sessionCacheSize", SESSION_CACHE),
	NOTE("sessionCacheTimeout", SESSION_CACHE),
	NOTE("session", SESSION_CACHE),
	NOTE("renegotiation", "redtun never renegotiates (TLS 1.3 has no "
	    "renegotiation; wolfSSL is built without it)"),
	NOTE("reset", "redtun resets on errors and closes on end of file, as "
	    "stunnel's default does"),
	NOTE("stack", "redtun has no thread per connection"),
	NOTE("logId", "redtun names connections its own way"),
	GNOTE("service", "redtun logs as 'redtun'"),
	GNOTE("RNDbytes", RANDOM), GNOTE("RNDfile", RANDOM),
	GNOTE("RNDoverwrite", RANDOM), GNOTE("EGD", RANDOM),
	GNOTE("iconActive", GUI), GNOTE("iconError", GUI),
	GNOTE("iconIdle", GUI), GNOTE("taskbar", GUI),
	NOTE("securityLevel", "redtun's floor is TLS 1.2 with AEAD ECDHE "
	    "suites"),
	NOREFUSE("libwrap", "TCP wrappers (libwrap) are not supported"),
	NOREFUSE("OCSPaia", OCSP), NOREFUSE("OCSPnonce", OCSP),
	NOREFUSE("OCSPrequire", OCSP), NOREFUSE("OCSPflag", OCSP),
	/* Refused. */
	REFUSE("OCSP", OCSP), REFUSE("CRLfile", CRL), REFUSE("CRLpath", CRL),
	REFUSE("sessiond", "a shared session cache server (sessiond) is not "
	    "supported"),
	REFUSE("ticketKeySecret", "session ticket keys are wolfSSL's own; "
	    "setting them is not supported"),
	REFUSE("ticketMacSecret", "session ticket keys are wolfSSL's own; "
	    "setting them is not supported"),
	GREFUSE("compression", "TLS compression is insecure (CRIME) and not "
	    "built"),
	REFUSE("local", "choosing the source address is not supported"),
	FN("protocol", h_protocol), FN("protocolAuthentication", h_protocol),
	FN("protocolDomain", h_protocol), FN("protocolHeader", h_protocol),
	FN("protocolHost", h_protocol), FN("protocolUsername", h_protocol),
	FN("protocolPassword", h_protocol),
	REFUSE("exec", EXEC), REFUSE("execArgs", EXEC), REFUSE("pty", EXEC),
	REFUSE("retry", EXEC),
	GREFUSE("engine", OPENSSL_ONLY), GREFUSE("engineCtrl", OPENSSL_ONLY),
	GREFUSE("engineDefault", OPENSSL_ONLY),
	REFUSE("engineId", OPENSSL_ONLY), REFUSE("engineNum", OPENSSL_ONLY),
	REFUSE("CAengine", OPENSSL_ONLY),
	GREFUSE("provider", OPENSSL_ONLY),
	GREFUSE("providerParameter", OPENSSL_ONLY),
	REFUSE("config", "OpenSSL configuration commands are OpenSSL-only; "
	    "redtun uses wolfSSL"),
	REFUSE("CAstore", "OpenSSL certificate stores are OpenSSL-only; use "
	    "CAfile or CApath"),
	REFUSE("PSKsecrets", PSK), REFUSE("PSKidentity", PSK),
	REFUSE("redirect", "redirecting clients that fail verification is "
	    "not supported"),
	REFUSE("ident", "IDENT (RFC 1413) user checks are not supported"),
	REFUSE("checkEmail", "redtun checks host names and IP addresses, not "
	    "e-mail addresses"),
	GREFUSE("setEnv", "redtun runs no programs to pass variables to"),
	/* redtun's own settings. */
	MAP("reuse", K_BOOL), MAP("cluster", K_BOOL),
	MAP("prewarm", K_INT), MAP("maxConnections", K_INT),
	MAP("reuseIdle", K_INT), MAP("reuseMax", K_INT),
	MAP("failoverBackoff", K_INT), MAP("clusterRefresh", K_INT),
	MAP("clusterGrace", K_INT),
	MAP("encryption", K_STR), MAP("username", K_STR),
	MAP("password", K_STR), MAP("passwordFile", K_STR),
	MAP("role", K_STR), MAP("clusterPorts", K_STR),
	MAP("iamUser", K_STR), MAP("iamCache", K_STR),
	MAP("iamRegion", K_STR), MAP("iamServerless", K_BOOL),
	MAP("iamReauth", K_INT), MAP("iamLifetime", K_INT),
	MAP("iamTokenRefresh", K_INT),
};

static const struct opt *
find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (strcasecmp(opts[i].name, name) == 0)
			return (&opts[i]);
	return (NULL);
}

int
ini_opt_include(const char *name)
{
	return (strcasecmp(name, "include") == 0);
}

int
ini_opt_translate(struct ini_tx *tx)
{
	const struct opt *o = find(tx->r->name);
	const char *v = val(tx);
	char esc[128];
	int b;

	if (o == NULL) {
		ini_escape(esc, sizeof(esc), tx->r->name, 60);
		return (ini_err(tx->ini, tx->r, "%s: unknown option", esc));
	}
	if (tx->sect > 0 && o->scope == 1)
		return (ini_err(tx->ini, tx->r, "%s: is a global option; "
		    "stunnel accepts it only before the first [section]",
		    o->name));
	if (tx->sect > 0 && o->scope == 2)
		return (ini_err(tx->ini, tx->r, "%s: applies to Unix-socket "
		    "accept addresses, which redtun does not support",
		    o->name));
	switch (o->kind) {
	case K_BOOL:
		if ((b = ini_parse_bool(v)) < 0)
			return (bad_value(tx, o, "yes or no"));
		return (set_bool(tx, o->name, b));
	case K_STR:
		return (set_str(tx, o->name, v));
	case K_INT:
		while (v[0] == '0' && v[1] != '\0')
			v++;	/* libconfig might read 0123 as octal */
		/* Nine digits stay below 2^31: libconfig keeps 32 bits. */
		if (!all_digits(v) || strlen(v) > 9)
			return (bad_value(tx, o, "a number up to 999999999"));
		return (ini_out_set(tx, o->name, strdup(v)));
	case K_NOTE:
		return (note(tx, o, o->why));
	case K_REFUSE:
		return (refuse(tx, o, o->why));
	case K_NOREFUSE:
		if (strcasecmp(v, "no") == 0)
			return (note(tx, o, "the default"));
		return (refuse(tx, o, o->why));
	case K_FN:
		return (o->fn(tx, o));
	}
	return (-1);
}
