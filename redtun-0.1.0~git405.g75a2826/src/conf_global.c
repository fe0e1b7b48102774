/*
 * The top-level settings: the daemon (pid, accounts, chroot, logging,
 * foreground) and the process (workers, the overall connection limit).
 * Service defaults written at the top level are conf_service.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "addr.h"
#include "conf.h"
#include "conf_priv.h"
#include "log.h"

/* stunnel's "[facility.]level": the facility applies to syslog. */
static int
read_debug(struct conf_ctx *c, const config_setting_t *s, const char *text,
    struct conf *cf)
{
	char fac[32];
	const char *dot = strchr(text, '.');

	if (dot != NULL) {
		if ((size_t)(dot - text) >= sizeof(fac))
			return (conf_bad(c, s, "unknown syslog facility"));
		memcpy(fac, text, (size_t)(dot - text));
		fac[dot - text] = '\0';
		if (log_facility_parse(fac, &cf->facility))
			return (conf_bad(c, s, "unknown syslog facility \"%s\" "
			    "(use daemon, user, local0..local7, ...)", fac));
		text = dot + 1;
	}
	if (log_level_parse(text, &cf->debug))
		return (conf_bad(c, s, "expected 0..7 or emerg, alert, crit, "
		    "err, warning, notice, info, debug, optionally after a "
		    "facility (\"daemon.notice\"); got \"%s\"", text));
	return (0);
}

/*
 * status = "host:port" | "port" | port: where the status endpoint listens.
 * A bare port is loopback's: metrics are not for the network unless the
 * address says so.  Stored as "host:port" ("[v6]:port").
 */
static int
read_status(struct conf_ctx *c, const config_setting_t *s, struct conf *cf)
{
	struct addr_spec spec;
	char text[300], why[200];
	size_t len;

	if (config_setting_type(s) == CONFIG_TYPE_INT)
		snprintf(text, sizeof(text), "%d", config_setting_get_int(s));
	else if (config_setting_type(s) == CONFIG_TYPE_STRING)
		snprintf(text, sizeof(text), "%s", config_setting_get_string(s));
	else
		return (conf_bad(c, s, "expected \"host:port\" or a port, got "
		    "%s", conf_type_name(s)));
	if (addr_parse(text, "127.0.0.1", &spec, why, sizeof(why)))
		return (conf_bad(c, s, "%s", why));
	len = strlen(spec.host) + 16;
	if ((cf->status = malloc(len)) == NULL) {
		addr_spec_free(&spec);
		return (conf_bad(c, s, "out of memory"));
	}
	snprintf(cf->status, len, strchr(spec.host, ':') ? "[%s]:%d" : "%s:%d",
	    spec.host, spec.port);
	addr_spec_free(&spec);
	return (0);
}

static int
read_options(struct conf_ctx *c, const config_setting_t *s)
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
			return (conf_bad(c, s, "expected option names as "
			    "strings, got %s", conf_type_name(e)));
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strcmp(config_setting_get_string(e), known[k]) == 0)
				break;
		if (k == sizeof(known) / sizeof(known[0]))
			return (conf_bad(c, s, "unknown or unsupported option "
			    "\"%s\" (redtun never enables SSLv2, SSLv3, "
			    "TLSv1 or TLSv1.1 anyway)",
			    config_setting_get_string(e)));
	}
	return (0);
}

int
conf_read_globals(struct conf_ctx *c, const config_setting_t *root,
    struct conf *cf)
{
	const config_setting_t *s;
	int fips = 0;

	if ((s = config_setting_get_member(root, "pid")) &&
	    conf_get_string(c, s, &cf->pid))
		return (-1);
	if (cf->pid != NULL && cf->pid[0] != '/' && cf->pid[0] != '\0')
		return (conf_bad(c, s, "must be an absolute path"));
	if ((s = config_setting_get_member(root, "setuid")) &&
	    conf_get_string(c, s, &cf->setuid))
		return (-1);
	if ((s = config_setting_get_member(root, "setgid")) &&
	    conf_get_string(c, s, &cf->setgid))
		return (-1);
	if ((s = config_setting_get_member(root, "chroot")) &&
	    conf_get_string(c, s, &cf->chroot))
		return (-1);
	if ((s = config_setting_get_member(root, "output")) &&
	    conf_get_string(c, s, &cf->output))
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
			return (conf_bad(c, s, "expected 0..7 or a level "
			    "name, got %s", conf_type_name(s)));
		if (read_debug(c, s, text, cf))
			return (-1);
	}
	if ((s = config_setting_get_member(root, "foreground")) &&
	    conf_get_bool(c, s, &cf->foreground))
		return (-1);
	if ((s = config_setting_get_member(root, "syslog")) &&
	    conf_get_bool(c, s, &cf->syslog))
		return (-1);
	if ((s = config_setting_get_member(root, "options")) &&
	    read_options(c, s))
		return (-1);
	cf->workers = 1;
	if ((s = config_setting_get_member(root, "workers")) != NULL) {
		if (config_setting_type(s) == CONFIG_TYPE_STRING &&
		    strcmp(config_setting_get_string(s), "auto") == 0)
			cf->workers = 0;
		else if (config_setting_type(s) != CONFIG_TYPE_INT)
			return (conf_bad(c, s, "expected a number of threads "
			    "or \"auto\", got %s", conf_type_name(s)));
		else if (config_setting_get_int(s) < 1 ||
		    config_setting_get_int(s) > 64)
			return (conf_bad(c, s, "%d is out of range (1..64, or "
			    "\"auto\" for one per CPU)",
			    config_setting_get_int(s)));
		else
			cf->workers = (unsigned int)config_setting_get_int(s);
	}
	/* At the top level this is the limit over all services. */
	if ((s = config_setting_get_member(root, "maxConnections")) &&
	    conf_get_count(c, s, &cf->max_connections))
		return (-1);
	if ((s = config_setting_get_member(root, "status")) != NULL &&
	    read_status(c, s, cf))
		return (-1);
	if ((s = config_setting_get_member(root, "logFormat")) != NULL) {
		const char *v;

		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return (conf_bad(c, s, "expected \"text\" or \"json\", "
			    "got %s", conf_type_name(s)));
		v = config_setting_get_string(s);
		if (strcmp(v, "json") == 0)
			cf->log_json = 1;
		else if (strcmp(v, "text") != 0)
			return (conf_bad(c, s, "expected \"text\" or \"json\", "
			    "got \"%s\"", v));
	}
	if ((s = config_setting_get_member(root, "fips")) != NULL) {
		if (conf_get_bool(c, s, &fips))
			return (-1);
		if (fips)
			return (conf_bad(c, s, "FIPS mode is not available: "
			    "this wolfSSL is not a FIPS build"));
	}
	return (0);
}
