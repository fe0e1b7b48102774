/*
 * "redtun -t --print-effective": every setting as redtun will run it,
 * defaults included, one per line.  Two files that print the same lines
 * run the same way, which is how a stunnel file and its --convert output
 * are compared.  Secrets are never printed.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "conf_print.h"

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"
};

/* A string quoted as libconfig writes it; NULL is "none". */
static void
put_str(FILE *f, const char *v)
{
	const unsigned char *p;

	if (v == NULL) {
		fputs("none", f);
		return;
	}
	fputc('"', f);
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* "host:port", an IPv6 literal in brackets. */
static void
put_addr(FILE *f, const struct addr_spec *a)
{
	int v6 = strchr(a->host, ':') != NULL;

	fprintf(f, "\"%s%s%s:%d\"", v6 ? "[" : "", a->host, v6 ? "]" : "",
	    a->port);
}

static void
line_str(FILE *f, const char *svc, const char *name, const char *v)
{

	if (svc != NULL)
		fprintf(f, "[%s] ", svc);
	fprintf(f, "%s = ", name);
	put_str(f, v);
	fputc('\n', f);
}

static void
line_num(FILE *f, const char *svc, const char *name, long long v)
{

	if (svc != NULL)
		fprintf(f, "[%s] ", svc);
	fprintf(f, "%s = %lld\n", name, v);
}

static void
line_bool(FILE *f, const char *svc, const char *name, int v)
{

	if (svc != NULL)
		fprintf(f, "[%s] ", svc);
	fprintf(f, "%s = %s\n", name, v ? "true" : "false");
}

static const char *
version_name(int v)
{

	return (v == TLS_V1_3 ? "TLSv1.3" : "TLSv1.2");
}

static const char *
facility_name(int fac)
{

	switch (fac) {
	case LOG_DAEMON: return ("daemon");
	case LOG_USER: return ("user");
	case LOG_AUTH: return ("auth");
	case LOG_AUTHPRIV: return ("authpriv");
	case LOG_LOCAL0: return ("local0");
	case LOG_LOCAL1: return ("local1");
	case LOG_LOCAL2: return ("local2");
	case LOG_LOCAL3: return ("local3");
	case LOG_LOCAL4: return ("local4");
	case LOG_LOCAL5: return ("local5");
	case LOG_LOCAL6: return ("local6");
	case LOG_LOCAL7: return ("local7");
	default: return ("other");
	}
}

static void
print_service(FILE *f, const struct svc_conf *sc)
{
	static const char *const roles[] = { "any", "primary", "replica" };
	const char *n = sc->name;
	size_t i;

	line_bool(f, n, "client", sc->client);
	fprintf(f, "[%s] accept = ", n);
	put_addr(f, &sc->accept);
	fprintf(f, "\n[%s] connect = [", n);
	for (i = 0; i < sc->nconnect; i++) {
		fputs(i ? ", " : " ", f);
		put_addr(f, &sc->connect[i]);
	}
	fputs(" ]\n", f);
	line_str(f, n, "failover", sc->failover == FAILOVER_RR ? "rr" : "prio");
	line_bool(f, n, "delay", sc->delay);
	line_str(f, n, "sni", sc->sni_set ? sc->sni : NULL);
	line_bool(f, n, "verifyChain", sc->verify_chain);
	line_str(f, n, sc->check_ip ? "checkIP" : "checkHost", sc->check_host);
	line_str(f, n, "CAfile", sc->cafile);
	line_str(f, n, "CApath", sc->capath);
	line_str(f, n, "cert", sc->cert);
	line_str(f, n, "key", sc->key);
	line_str(f, n, "ciphers", sc->ciphers);
	line_str(f, n, "ciphersuites", sc->ciphersuites);
	line_str(f, n, "sslVersionMin", version_name(sc->version_min));
	line_str(f, n, "sslVersionMax", version_name(sc->version_max));
	if (!sc->client)
		line_str(f, n, "encryption", sc->encryption ==
		    ENCRYPTION_PREFERRED ? "preferred" : "required");
	line_num(f, n, "TIMEOUTconnect", sc->timeout_connect);
	line_num(f, n, "TIMEOUTidle", sc->timeout_idle);
	line_num(f, n, "TIMEOUTclose", sc->timeout_close);
	line_num(f, n, "failoverBackoff", sc->failover_backoff);
	line_num(f, n, "maxConnections", sc->max_connections);
	line_bool(f, n, "sessionResume", sc->session_resume);
	line_num(f, n, "prewarm", sc->prewarm);
	line_bool(f, n, "reuse", sc->reuse);
	line_num(f, n, "reuseIdle", sc->reuse_idle);
	line_num(f, n, "reuseMax", sc->reuse_max);
	line_str(f, n, "username", sc->username);
	/* Whether there is one, never what it is. */
	line_str(f, n, "password", sc->password != NULL ? "(set)" : NULL);
	line_str(f, n, "role", roles[sc->role >= 0 && sc->role < 3 ?
	    sc->role : 0]);
	line_bool(f, n, "cluster", sc->cluster);
	if (sc->cluster) {
		fprintf(f, "[%s] clusterPorts = \"%s:%u-%u\"\n", n,
		    sc->cluster_host, sc->cluster_port_lo,
		    sc->cluster_port_hi);
		line_num(f, n, "clusterRefresh", sc->cluster_refresh);
		line_num(f, n, "clusterGrace", sc->cluster_grace);
	}
	line_str(f, n, "iamUser", sc->iam_user);
	if (sc->iam_user != NULL) {
		line_str(f, n, "iamCache", sc->iam_cache);
		line_str(f, n, "iamRegion", sc->iam_region);
		line_bool(f, n, "iamServerless", sc->iam_serverless);
		line_num(f, n, "iamReauth", sc->iam_reauth);
		line_num(f, n, "iamLifetime", sc->iam_lifetime);
		line_num(f, n, "iamTokenRefresh", sc->iam_token_refresh);
	}
}

void
conf_print(FILE *f, const struct conf *cf, const struct svc_conf *const *scs,
    size_t n)
{
	size_t i;

	fprintf(f, "# effective settings of %s\n", cf->file);
	line_str(f, NULL, "pid", cf->pid);
	line_str(f, NULL, "setuid", cf->setuid);
	line_str(f, NULL, "setgid", cf->setgid);
	line_str(f, NULL, "chroot", cf->chroot);
	line_str(f, NULL, "output", cf->output);
	fprintf(f, "debug = \"%s.%s\"\n", facility_name(cf->facility),
	    level_names[cf->debug >= 0 && cf->debug <= 7 ? cf->debug : 5]);
	line_bool(f, NULL, "fips", 0);	/* true is refused */
	line_bool(f, NULL, "foreground", cf->foreground);
	line_bool(f, NULL, "syslog", cf->syslog);
	if (cf->workers == 0)
		line_str(f, NULL, "workers", "auto");
	else
		line_num(f, NULL, "workers", cf->workers);
	line_num(f, NULL, "maxConnections", cf->max_connections);
	line_str(f, NULL, "status", cf->status);
	line_str(f, NULL, "logFormat", cf->log_json ? "json" : "text");
	for (i = 0; i < n; i++)
		print_service(f, scs[i]);
}
