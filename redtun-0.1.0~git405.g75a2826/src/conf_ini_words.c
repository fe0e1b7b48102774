/*
 * stunnel's value vocabularies that need more than a word's look-up:
 * OpenSSL's "options" names, "socket" settings, cipher expressions and
 * syslog "[facility.]level".
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf_ini_priv.h"

/* A cipher list of plain suite names maps; an OpenSSL expression not. */
int
ini_h_ciphers(struct ini_tx *tx)
{
	const char *v = tx->r->value, *p = v;
	size_t n, i;
	int plain = *v != '\0', sep;

	while (plain && *p != '\0') {
		n = strcspn(p, ":");
		sep = 0;
		for (i = 0; i < n; i++) {
			char c = p[i];

			if (c == '-' || c == '_')
				sep = 1;
			else if (!((c >= 'A' && c <= 'Z') ||
			    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
				plain = 0;
		}
		/* HIGH, aNULL, kRSA, AES256...: keywords have no separator. */
		if (n == 0 || !sep)
			plain = 0;
		p += n;
		if (*p == ':')
			p++;
	}
	if (plain)
		return (ini_out_set(tx, "ciphers", ini_quote(v)));
	return (ini_out_note(tx, "ciphers", "OpenSSL cipher expressions are "
	    "not evaluated; redtun keeps its allowlist of AEAD ECDHE suites"));
}

static int
prefix(const char *v, const char *p)
{
	return (strncasecmp(v, p, strlen(p)) == 0);
}

int
ini_h_options(struct ini_tx *tx)
{
	static const char *const weak[] = { "NO_SSLv2", "NO_SSLv3",
	    "NO_TLSv1", "NO_TLSv1_1", "NO_TLSv1.1", "NO_COMPRESSION" };
	static const char *const compat[] = { "DONT_INSERT_EMPTY_FRAGMENTS",
	    "ALL", "TLS_BLOCK_PADDING_BUG", "TLS_ROLLBACK_BUG", "MICROSOFT_",
	    "NETSCAPE_", "SSLREF2_", "SSLEAY_", "TLS_D5_" };
	const char *v = tx->r->value, *why = NULL;
	char what[128], esc[96];
	size_t i;

	ini_escape(esc, sizeof(esc), v, 60);
	snprintf(what, sizeof(what), "options = %s", esc);
	if (v[0] == '-')
		why = "redtun's defaults cannot be loosened";
	for (i = 0; !why && i < sizeof(weak) / sizeof(weak[0]); i++)
		if (strcasecmp(v, weak[i]) == 0)
			why = "redtun never enables SSLv2, SSLv3, TLS 1.0, "
			    "TLS 1.1 or compression";
	for (i = 0; !why && i < sizeof(compat) / sizeof(compat[0]); i++)
		if (strcasecmp(v, compat[i]) == 0 || (compat[i][strlen(compat[i])
		    - 1] == '_' && prefix(v, compat[i])))
			why = "a workaround for old TLS peers, which redtun "
			    "never talks to";
	if (why != NULL)
		return (ini_out_note(tx, what, why));
	if (strcasecmp(v, "NO_TLSv1_2") == 0 || strcasecmp(v, "NO_TLSv1.2") == 0)
		return (ini_out_set(tx, "sslVersionMin", ini_quote("TLSv1.3")));
	if (strcasecmp(v, "NO_TLSv1_3") == 0 || strcasecmp(v, "NO_TLSv1.3") == 0)
		return (ini_out_set(tx, "sslVersionMax", ini_quote("TLSv1.2")));
	if (strcasecmp(v, "CIPHER_SERVER_PREFERENCE") == 0)
		return (ini_out_note(tx, what, "redtun keeps its own suite "
		    "order"));
	if (strcasecmp(v, "SINGLE_DH_USE") == 0 ||
	    strcasecmp(v, "SINGLE_ECDH_USE") == 0)
		return (ini_out_note(tx, what, "redtun uses a fresh ECDHE key "
		    "for every handshake"));
	if (strcasecmp(v, "NO_TICKET") == 0)
		return (ini_out_note(tx, what, "redtun's server side never "
		    "resumes; sessionResume sets its client side"));
	if (strcasecmp(v, "NO_RENEGOTIATION") == 0 ||
	    strcasecmp(v, "NO_SESSION_RESUMPTION_ON_RENEGOTIATION") == 0)
		return (ini_out_note(tx, what, "redtun never renegotiates"));
	if (strcasecmp(v, "LEGACY_SERVER_CONNECT") == 0 ||
	    strcasecmp(v, "ALLOW_UNSAFE_LEGACY_RENEGOTIATION") == 0)
		return (ini_err(tx->ini, tx->r, "%s: unsafe legacy "
		    "renegotiation is never allowed", what));
	return (ini_err(tx->ini, tx->r, "options: unknown option name \"%s\"",
	    esc));
}

int
ini_h_debug(struct ini_tx *tx)
{
	static const char *const levels[] = { "emerg", "alert", "crit",
	    "err", "error", "warning", "warn", "notice", "info", "debug" };
	const char *v = tx->r->value, *dot = strchr(v, '.'), *lvl = v;
	char esc[128];
	size_t i;
	int ok = 0;

	if (dot != NULL) {
		for (i = 0; v + i < dot; i++)
			if (!((v[i] >= 'a' && v[i] <= 'z') ||
			    (v[i] >= 'A' && v[i] <= 'Z') ||
			    (v[i] >= '0' && v[i] <= '9')))
				break;
		if (i > 0 && v + i == dot)
			lvl = dot + 1;
	}
	if (strlen(lvl) == 1 && lvl[0] >= '0' && lvl[0] <= '7')
		ok = 1;
	for (i = 0; !ok && i < sizeof(levels) / sizeof(levels[0]); i++)
		ok = strcasecmp(lvl, levels[i]) == 0;
	if (!ok) {
		ini_escape(esc, sizeof(esc), v, 60);
		return (ini_err(tx->ini, tx->r, "debug: expected "
		    "[facility.]level: 0..7 or emerg, alert, crit, err, "
		    "warning, notice, info, debug; got \"%s\"", esc));
	}
	if (tx->sect > 0)
		return (ini_out_note(tx, "debug", "per-service log levels are "
		    "not supported; the global debug applies"));
	return (ini_out_set(tx, "debug", ini_quote(v)));
}

int
ini_h_socket(struct ini_tx *tx)
{
	static const char *const tuning[] = { "SO_RCVBUF", "SO_SNDBUF",
	    "SO_RCVLOWAT", "SO_SNDLOWAT", "SO_RCVTIMEO", "SO_SNDTIMEO",
	    "SO_LINGER", "SO_OOBINLINE", "SO_DEBUG", "SO_DONTROUTE",
	    "IP_TOS", "IP_TTL", "TCP_MAXSEG" };
	static const char *const binds[] = { "SO_BINDTODEVICE",
	    "IP_FREEBIND", "IP_BINDANY", "IPV6_BINDANY", "IPV6_V6ONLY",
	    "IP_TRANSPARENT" };
	const char *v = tx->r->value, *eq, *why = NULL;
	char name[32], what[128], esc[96];
	size_t n, i;
	int b = -1;

	ini_escape(esc, sizeof(esc), v, 60);
	snprintf(what, sizeof(what), "socket = %s", esc);
	if ((v[0] != 'a' && v[0] != 'l' && v[0] != 'r') || v[1] != ':' ||
	    (eq = strchr(v + 2, '=')) == NULL || (n = (size_t)(eq - v - 2))
	    == 0 || n >= sizeof(name) || eq[1] == '\0')
		return (ini_err(tx->ini, tx->r, "socket: expected "
		    "a|l|r:OPTION=VALUE, got \"%s\"", esc));
	memcpy(name, v + 2, n);
	name[n] = '\0';
	if (strcmp(eq + 1, "yes") == 0 || strcmp(eq + 1, "1") == 0)
		b = 1;
	else if (strcmp(eq + 1, "no") == 0 || strcmp(eq + 1, "0") == 0)
		b = 0;
	if (strcmp(name, "TCP_NODELAY") == 0 && b >= 0)
		why = b ? "already on for every socket" : "redtun always "
		    "sets it";
	else if (strcmp(name, "SO_REUSEADDR") == 0 && b >= 0)
		why = b ? "already on for listeners" : "redtun always sets it";
	else if (strcmp(name, "SO_KEEPALIVE") == 0 && b >= 0)
		why = b ? "redtun enables TCP keepalive (60 s) on every "
		    "connection" : "redtun always sets it";
	else if (strcmp(name, "TCP_KEEPIDLE") == 0 ||
	    strcmp(name, "TCP_KEEPINTVL") == 0 ||
	    strcmp(name, "TCP_KEEPCNT") == 0)
		why = "redtun enables TCP keepalive (60 s) on every connection";
	for (i = 0; !why && i < sizeof(tuning) / sizeof(tuning[0]); i++)
		if (strcmp(name, tuning[i]) == 0)
			why = "socket tuning is not applied; redtun keeps the "
			    "kernel's defaults";
	if (why != NULL)
		return (ini_out_note(tx, what, why));
	for (i = 0; i < sizeof(binds) / sizeof(binds[0]); i++)
		if (strcmp(name, binds[i]) == 0)
			return (ini_err(tx->ini, tx->r, "%s: changes where "
			    "redtun binds or connects, which is not supported",
			    what));
	return (ini_err(tx->ini, tx->r, "%s: unknown socket option or value",
	    what));
}

