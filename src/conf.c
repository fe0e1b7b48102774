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
#include <syslog.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "conf_ini.h"
#include "conf_priv.h"
#include "log.h"

const char *
conf_src(const struct conf_ctx *c, const config_setting_t *s, int *line)
{
	const char *file = config_setting_source_file(s);

	*line = (int)config_setting_source_line(s);
	/* An @include'd libconfig file names itself; the translation not. */
	if (file == NULL && c->ini != NULL)
		file = ini_source(c->ini, *line, line);
	return (file != NULL ? file : c->file);
}

int
conf_line(const struct conf_ctx *c, const config_setting_t *s)
{
	int line;

	(void)conf_src(c, s, &line);
	return (line);
}

int
conf_bad(struct conf_ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	char msg[512];
	const char *file;
	int line;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	file = conf_src(c, s, &line);
	snprintf(c->why, c->whylen, "%s:%d: %s: %s", file, line,
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
conf_get_seconds(struct conf_ctx *c, const config_setting_t *s,
    unsigned int *out, long long lo, long long hi)
{
	long long v = 0;

	if (conf_get_int(c, s, "a number of seconds", &v))
		return (-1);
	if (v < lo || v > hi)
		return (conf_bad(c, s, "%lld is out of range (%lld..%lld s)",
		    v, lo, hi));
	*out = (unsigned int)v;
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
	int line;
	const char *file = conf_src(c, s, &line);

	if (*locs == NULL && (*locs = calloc(1, sizeof(**locs))) == NULL)
		goto oom;
	if ((v = realloc((*locs)->v, ((*locs)->n + 1) * sizeof(*v))) == NULL)
		goto oom;
	(*locs)->v = v;
	r = &v[(*locs)->n];
	r->line = line;
	r->name = strdup(name);
	r->file = strdup(file);
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
	struct conf_loc at = { cf != NULL ? cf->file : "", 1 };

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

/* Larger than any configuration; a bound on what is read into memory. */
#define CONF_TEXT_MAX	(4u << 20)

struct conf *
conf_load(const char *path, int format, char *why, size_t whylen)
{
	struct conf *cf;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(why, whylen, "%s: cannot read: %s", path,
		    strerror(errno));
		return (NULL);
	}
	cf = conf_read(f, path, format, why, whylen);
	fclose(f);
	return (cf);
}

/* The whole stream, NUL-terminated, in ${text}; NUL bytes are refused. */
static int
slurp(FILE *f, const char *path, char **text, size_t *len, char *why,
    size_t whylen)
{
	char *buf, *nul;
	size_t n = 0, cap = 8192;
	int line = 1;

	if ((buf = malloc(cap)) == NULL)
		goto oom;
	for (;;) {
		size_t got;

		if (n + 1 == cap) {
			char *nbuf;

			if (cap >= CONF_TEXT_MAX) {
				snprintf(why, whylen, "%s: larger than %u MiB",
				    path, CONF_TEXT_MAX >> 20);
				goto err;
			}
			if ((nbuf = realloc(buf, cap * 2)) == NULL)
				goto oom;
			buf = nbuf;
			cap *= 2;
		}
		if ((got = fread(buf + n, 1, cap - 1 - n, f)) == 0)
			break;
		n += got;
	}
	if (ferror(f)) {
		snprintf(why, whylen, "%s: cannot read: %s", path,
		    strerror(errno));
		goto err;
	}
	buf[n] = '\0';
	if ((nul = memchr(buf, '\0', n)) != NULL) {
		for (char *p = buf; p < nul; p++)
			line += *p == '\n';
		snprintf(why, whylen, "%s:%d: a NUL byte: not a text file",
		    path, line);
		goto err;
	}
	*text = buf;
	*len = n;
	return (0);
oom:
	snprintf(why, whylen, "%s: out of memory", path);
err:
	if (buf != NULL)
		explicit_bzero(buf, n);
	free(buf);
	return (-1);
}

static int
stunnel_format(int format, const char *text, size_t len)
{

	switch (format & CONF_FORMAT_MASK) {
	case CONF_FORMAT_STUNNEL: return (1);
	case CONF_FORMAT_LIBCONFIG: return (0);
	default: return (ini_detect(text, len));
	}
}

/* A libconfig syntax error, with the stunnel line or a hint. */
static void
syntax_error(struct conf_ctx *c, const config_t *lc, const char *text,
    size_t len)
{
	const char *file = config_error_file(lc);
	int line = config_error_line(lc);

	if (file == NULL && c->ini != NULL) {
		file = ini_source(c->ini, line, &line);
		snprintf(c->why, c->whylen, "%s:%d: %s (in redtun's "
		    "translation of this stunnel line: a redtun bug, please "
		    "report it)", file ? file : c->file, line,
		    config_error_text(lc));
		return;
	}
	snprintf(c->why, c->whylen, "%s:%d: %s%s", file ? file : c->file,
	    line, config_error_text(lc), c->ini == NULL &&
	    ini_resembles(text, len) ? " (this looks like a stunnel "
	    "configuration: redtun reads those with --format stunnel)" : "");
}

static struct conf *conf_parse(const char *, size_t, const char *, int,
    char *, size_t);

/* Keep the translation's notices, for start, -t and reloads to print. */
static int
keep_notices(struct conf *cf, const struct ini *ini)
{
	size_t i, n = ini_nnotices(ini);

	if (n == 0)
		return (0);
	if ((cf->notices = calloc(n, sizeof(*cf->notices))) == NULL)
		return (-1);
	for (i = 0; i < n; i++) {
		if ((cf->notices[i] = strdup(ini_notice(ini, i))) == NULL)
			return (-1);
		cf->nnotices++;
	}
	return (0);
}

struct conf *
conf_read(FILE *f, const char *path, int format, char *why, size_t whylen)
{
	char *text = NULL;
	size_t len = 0;
	struct conf *cf;

	if (slurp(f, path, &text, &len, why, whylen))
		return (NULL);
	cf = conf_parse(text, len, path, format, why, whylen);
	explicit_bzero(text, len);
	free(text);
	return (cf);
}

static struct conf *
conf_parse(const char *text, size_t len, const char *path, int format,
    char *why, size_t whylen)
{
	config_t lc;
	struct conf_ctx c = { path, why, whylen, NULL,
	    (format & CONF_NO_FILES) != 0 };
	struct ini *ini = NULL;
	struct conf *cf;
	const config_setting_t *root, *services, *s;
	unsigned int i, n;

	if ((cf = calloc(1, sizeof(*cf))) == NULL ||
	    (cf->file = strdup(path)) == NULL) {
		snprintf(why, whylen, "%s: out of memory", path);
		free(cf);
		return (NULL);
	}
	cf->format = format;
	if ((cf->stunnel = stunnel_format(format, text, len)) != 0) {
		if ((ini = ini_translate(path, text, len,
		    !(format & CONF_NO_INCLUDE), why, whylen)) == NULL) {
			free(cf->file);
			free(cf);
			return (NULL);
		}
		c.ini = ini;
		text = ini_text(ini, &len);
	}
	cf->debug = LOG_LVL_NOTICE;
	cf->facility = LOG_DAEMON;
	cf->syslog = 1;
	config_init(&lc);
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		syntax_error(&c, &lc, text, len);
		goto err;
	}
	root = config_root_setting(&lc);
	if (conf_check_unknown(&c, root, 1) ||
	    conf_read_globals(&c, root, cf))
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
	/*
	 * An empty group is valid: the packaged default configuration has
	 * every service commented out and must start, listening on nothing.
	 */
	n = (unsigned int)config_setting_length(services);
	if ((cf->svcs = calloc(n ? n : 1, sizeof(*cf->svcs))) == NULL) {
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
	if (ini != NULL && keep_notices(cf, ini)) {
		snprintf(why, whylen, "%s: out of memory", path);
		goto err;
	}
	conf_redis_wipe(config_root_setting(&lc));
	config_destroy(&lc);
	ini_free(ini);
	return (cf);
err:
	conf_redis_wipe(config_root_setting(&lc));
	config_destroy(&lc);
	ini_free(ini);
	conf_free(cf);
	return (NULL);
}

int
conf_convert(const char *path, int format, FILE *out, char *why,
    size_t whylen)
{
	char *text = NULL;
	const char *lc;
	size_t len = 0, lclen;
	struct ini *ini;
	FILE *f;
	int rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(why, whylen, "%s: cannot read: %s", path,
		    strerror(errno));
		return (-1);
	}
	if (slurp(f, path, &text, &len, why, whylen))
		goto done;
	if (!stunnel_format(format, text, len)) {
		snprintf(why, whylen, "%s: already redtun's libconfig format, "
		    "not stunnel's: nothing to convert", path);
		goto done;
	}
	if ((ini = ini_translate(path, text, len, 1, why, whylen)) == NULL)
		goto done;
	lc = ini_text(ini, &lclen);
	if (fwrite(lc, 1, lclen, out) != lclen || fflush(out) != 0)
		snprintf(why, whylen, "writing the translation: %s",
		    strerror(errno));
	else
		rc = 0;
	ini_free(ini);
done:
	if (text != NULL)
		explicit_bzero(text, len);
	free(text);
	fclose(f);
	return (rc);
}

int
conf_format_parse(const char *name, int *format)
{

	if (strcmp(name, "stunnel") == 0)
		*format = CONF_FORMAT_STUNNEL;
	else if (strcmp(name, "libconfig") == 0)
		*format = CONF_FORMAT_LIBCONFIG;
	else if (strcmp(name, "auto") == 0)
		*format = CONF_FORMAT_AUTO;
	else
		return (-1);
	return (0);
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
	for (i = 0; i < cf->nnotices; i++)
		free(cf->notices[i]);
	free(cf->notices);
	free(cf->file);
	free(cf->pid);
	free(cf->status);
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
