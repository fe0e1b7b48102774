/*
 * Configuration reader: libconfig syntax, stunnel option names.  Every
 * setting is checked for type and value so that the daemon never starts on
 * a configuration it would only partly honour.  This file reads the file,
 * the top-level settings and the services list, and words every error as
 * FILE:LINE: SETTING: PROBLEM; one service section is conf_service.c's.
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
#include "conf_priv.h"
#include "log.h"

int
conf_bad(struct conf_ctx *c, const config_setting_t *s, const char *fmt, ...)
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

const char *
conf_type_name(const config_setting_t *s)
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

int
conf_get_string(struct conf_ctx *c, const config_setting_t *s, char **out)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return (conf_bad(c, s, "expected a string, got %s",
		    conf_type_name(s)));
	v = config_setting_get_string(s);
	free(*out);
	if ((*out = strdup(v)) == NULL)
		return (conf_bad(c, s, "out of memory"));
	return (0);
}


int
conf_get_bool(struct conf_ctx *c, const config_setting_t *s, int *out)
{

	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return (conf_bad(c, s, "expected true or false, got %s",
		    conf_type_name(s)));
	*out = config_setting_get_bool(s);
	return (0);
}

int
conf_get_int(struct conf_ctx *c, const config_setting_t *s, const char *what,
    long long *out)
{

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return (conf_bad(c, s, "expected %s, got %s", what,
		    conf_type_name(s)));
	*out = config_setting_get_int64(s);
	return (0);
}

int
conf_get_count(struct conf_ctx *c, const config_setting_t *s,
    unsigned int *out)
{
	long long v = 0;

	if (conf_get_int(c, s, "a number", &v))
		return (-1);
	if (v < 0 || v > 10000000)
		return (conf_bad(c, s, "%lld is out of range (0..10000000, 0 "
		    "= no limit)", v));
	*out = (unsigned int)v;
	return (0);
}

const config_setting_t *
conf_setting_for(const config_setting_t *g, const char *name)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		s = config_setting_get_member(config_setting_parent(
		    config_setting_parent(g)), name);
	return (s != NULL ? s : g);
}


/* ---- where settings are written ------------------------------------ */

int
conf_loc_add(struct conf_ctx *c, struct conf_locs **locs, const char *name,
    const config_setting_t *s)
{
	struct conf_loc_rec *v, *r;
	const char *file = config_setting_source_file(s);

	if (*locs == NULL && (*locs = calloc(1, sizeof(**locs))) == NULL)
		goto oom;
	if ((v = realloc((*locs)->v, ((*locs)->n + 1) * sizeof(*v))) == NULL)
		goto oom;
	(*locs)->v = v;
	r = &v[(*locs)->n];
	r->line = (int)config_setting_source_line(s);
	r->name = strdup(name);
	r->file = strdup(file ? file : c->file);
	if (r->name == NULL || r->file == NULL) {
		free(r->name);
		free(r->file);
		goto oom;
	}
	(*locs)->n++;
	return (0);
oom:
	return (conf_bad(c, s, "out of memory"));
}

void
conf_locs_free(struct conf_locs *locs)
{
	size_t i;

	if (locs == NULL)
		return;
	for (i = 0; i < locs->n; i++) {
		free(locs->v[i].name);
		free(locs->v[i].file);
	}
	free(locs->v);
	free(locs);
}

static const struct conf_loc_rec *
loc_find(const struct conf_locs *locs, const char *name)
{
	size_t i;

	for (i = 0; locs != NULL && i < locs->n; i++)
		if (strcmp(locs->v[i].name, name) == 0)
			return (&locs->v[i]);
	return (NULL);
}

struct conf_loc
conf_where(const struct conf *cf, const struct svc_conf *sc,
    const char *name)
{
	const struct conf_loc_rec *r;
	struct conf_loc at = { cf->file, 1 };

	if (sc != NULL) {
		at.file = sc->file;
		at.line = sc->line;
	}
	if ((r = loc_find(sc != NULL ? sc->locs : cf->locs, name)) != NULL) {
		at.file = r->file;
		at.line = r->line;
	}
	if (at.line < 1)
		at.line = 1;
	return (at);
}

/* ---- global settings ------------------------------------------------ */

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

static int
read_globals(struct conf_ctx *c, const config_setting_t *root, struct conf *cf)
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
		if (log_level_parse(text, &cf->debug))
			return (conf_bad(c, s, "expected 0..7 or emerg, "
			    "alert, crit, err, warning, notice, info, debug; "
			    "got \"%s\"", text));
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
	if ((s = config_setting_get_member(root, "fips")) != NULL) {
		if (conf_get_bool(c, s, &fips))
			return (-1);
		if (fips)
			return (conf_bad(c, s, "FIPS mode is not available: "
			    "this wolfSSL is not a FIPS build"));
	}
	return (0);
}

static int
check_duplicates(struct conf_ctx *c, const config_setting_t *services,
    struct conf *cf)
{
	size_t i, j;

	for (i = 0; i < cf->nsvcs; i++) {
		for (j = 0; j < i; j++) {
			if (!svc_conf_same_accept(cf->svcs[i], cf->svcs[j]))
				continue;
			return (conf_bad(c, conf_setting_for(
			    config_setting_get_member(services,
			    cf->svcs[i]->name), "accept"), "%s:%d is already "
			    "used by service \"%s\"", cf->svcs[i]->accept.host,
			    cf->svcs[i]->accept.port, cf->svcs[j]->name));
		}
	}
	return (conf_cluster_check_all(c, services, cf->svcs, cf->nsvcs));
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
	struct conf_ctx c = { path, why, whylen };
	struct conf *cf;
	const config_setting_t *root, *services, *s;
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
	if (conf_check_unknown(&c, root, 1) || read_globals(&c, root, cf))
		goto err;
	for (i = 0; (s = config_setting_get_elem(root, i)) != NULL; i++)
		if (conf_loc_add(&c, &cf->locs, config_setting_name(s), s))
			goto err;
	if ((services = config_setting_get_member(root, "services")) == NULL) {
		snprintf(why, whylen, "%s:1: services: missing (expected "
		    "services = { NAME = { accept = ...; connect = ...; }; })",
		    path);
		goto err;
	}
	if (!config_setting_is_group(services)) {
		conf_bad(&c, services, "expected a group of services, got %s",
		    conf_type_name(services));
		goto err;
	}
	if ((n = (unsigned int)config_setting_length(services)) == 0) {
		conf_bad(&c, services, "no services defined");
		goto err;
	}
	if ((cf->svcs = calloc(n, sizeof(*cf->svcs))) == NULL) {
		conf_bad(&c, services, "out of memory");
		goto err;
	}
	for (i = 0; i < n; i++) {
		cf->svcs[i] = conf_read_service(&c, root,
		    config_setting_get_elem(services, i));
		if (cf->svcs[i] == NULL)
			goto err;
		cf->nsvcs++;
	}
	if (check_duplicates(&c, services, cf))
		goto err;
	conf_redis_wipe(config_root_setting(&lc));
	config_destroy(&lc);
	return (cf);
err:
	conf_redis_wipe(config_root_setting(&lc));
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
	free(sc->connect_line);
	conf_locs_free(sc->locs);
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
	conf_redis_free(sc);
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
	conf_locs_free(cf->locs);
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
