/*
 * What a stunnel file says about verification, read ahead of each
 * section, and the notices for the services redtun runs more securely
 * than stunnel would: stunnel verifies nothing unless told, redtun
 * verifies the chain and the host name and never speaks TLS below 1.2.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf_ini_priv.h"

int
ini_parse_bool(const char *v)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0)
		return (1);
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0)
		return (0);
	return (-1);
}

void
ini_state_note(struct ini_state *st, const struct ini_rec *r)
{
	const char *n = r->name, *v = r->value;
	int b = ini_parse_bool(v);

	if (strcasecmp(n, "client") == 0 && b >= 0)
		st->client = b;
	else if (strcasecmp(n, "verifyChain") == 0 && b >= 0) {
		st->chain = b;
		st->vlast = 'c';
	} else if (strcasecmp(n, "verify") == 0 && strlen(v) == 1 &&
	    v[0] >= '0' && v[0] <= '4') {
		st->verify = v[0] - '0';
		st->vlast = 'v';
	} else if (strcasecmp(n, "verifyPeer") == 0 && b >= 0)
		st->peer = b;
	else if (((strcasecmp(n, "sslVersion") == 0 ||
	    strcasecmp(n, "sslVersionMin") == 0) &&
	    (strcasecmp(v, "TLSv1.2") == 0 || strcasecmp(v, "TLSv1.3") == 0)) ||
	    (strcasecmp(n, "options") == 0 &&
	    (strcasecmp(v, "NO_TLSv1_2") == 0 ||
	    strcasecmp(v, "NO_TLSv1.2") == 0)))
		st->version = 1;
	else if (strcasecmp(n, "key") == 0)
		st->key = 1;
	else if ((strcasecmp(n, "checkHost") == 0 ||
	    strcasecmp(n, "checkIP") == 0) && st->check == NULL) {
		st->check = v;
		st->checkip = strcasecmp(n, "checkIP") == 0;
	} else if (strcasecmp(n, "connect") == 0 && st->connect == NULL)
		st->connect = v;
	else if (strcasecmp(n, "CAfile") == 0)
		st->cafile = v;
	else if (strcasecmp(n, "CApath") == 0)
		st->capath = v;
}

/* ---- "redtun is stricter than stunnel here" --------------------------- */

/* The host of a connect value ("host:port", "[v6]:port" or a port). */
static void
connect_host(const char *v, char *out, size_t outlen)
{
	const char *end;

	if (v[0] != '\0' && strspn(v, "0123456789") == strlen(v)) {
		snprintf(out, outlen, "127.0.0.1");
		return;
	}
	if (v[0] == '[' && (end = strchr(v, ']')) != NULL) {
		snprintf(out, outlen, "%.*s", (int)(end - v - 1), v + 1);
		return;
	}
	if ((end = strrchr(v, ':')) == NULL)
		end = v + strlen(v);
	snprintf(out, outlen, "%.*s", (int)(end - v), v);
}

static int
is_ip(const char *h)
{
	unsigned char a[16];

	return (inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) ==
	    1);
}

int
ini_state_verifies(const struct ini_state *st, int level)
{
	if (st->vlast == 'c')
		return (st->chain == 1);
	if (st->vlast == 'v')
		return (st->verify >= level);
	return (-1);
}

static int
security(struct ini *ini, const struct ini_sect *sc, const struct ini_state *g)
{
	const struct ini_state *st = &sc->st;
	const char *check, *conn, *file, *tls12;
	char host[300], h[400], t[300], path[200];
	int v, client;

	client = st->client >= 0 ? st->client : g->client > 0;
	if (!client)
		return (0);
	if ((v = ini_state_verifies(st, 1)) < 0)
		v = ini_state_verifies(g, 1);
	if (v == 0)
		return (0);
	check = st->check ? st->check : g->check;
	/* A section's targets come after the global ones: the first. */
	conn = g->connect ? g->connect : st->connect;
	if (check != NULL)
		ini_escape(host, sizeof(host), check, 100);
	else if (conn != NULL) {
		connect_host(conn, h, sizeof(h));
		ini_escape(host, sizeof(host), h, 100);
	} else
		return (0);
	if (v == 1 && check != NULL)
		return (0);
	file = st->cafile ? st->cafile : st->capath ? st->capath :
	    g->cafile ? g->cafile : g->capath;
	if (file != NULL) {
		ini_escape(path, sizeof(path), file, 100);
		snprintf(t, sizeof(t), "%s %s", file == st->cafile ||
		    file == g->cafile ? "CAfile" : "CApath", path);
	} else
		snprintf(t, sizeof(t), "the system trust store");
	tls12 = st->version || g->version ? "" : ", and uses TLS 1.2 or later";
	snprintf(h, sizeof(h), "the %s %s", is_ip(host) ? "IP address" :
	    "host name", host);
	if (v < 0)
		return (ini_notice_add(ini, NULL, "[%s] stunnel would not "
		    "verify this server; redtun verifies the chain against %s "
		    "and %s%s (set verifyChain = no to match stunnel, not "
		    "recommended)", sc->name, t, h, tls12));
	return (ini_notice_add(ini, NULL, "[%s] stunnel would accept any "
	    "certificate %s vouches for; redtun also checks %s from "
	    "connect%s (set checkHost to name another)", sc->name, t, h,
	    tls12));
}

int
ini_opt_security(struct ini *ini)
{
	size_t i;

	for (i = 1; i < ini->nsects; i++)
		if (security(ini, &ini->sects[i], &ini->sects[0].st))
			return (-1);
	return (0);
}
