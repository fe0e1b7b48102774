/*
 * The Redis-aware settings of a service: connection reuse, the AUTH it
 * injects upstream and the role it wants.  Any of them switches the RESP
 * filter on; without them a service never parses a byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "conf_priv.h"

/* Longer than any real secret; keeps a wrong file from being sent. */
#define PASSWORD_MAX	4096

static int
set_reuse(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (conf_get_bool(c, s, &sc->reuse));
}

static int
set_reuse_idle(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	long long v = 0;

	if (conf_get_int(c, s, "a number of seconds", &v))
		return (-1);
	if (v < 1 || v > 86400)
		return (conf_bad(c, s, "%lld is out of range (1..86400 s)", v));
	sc->reuse_idle = (unsigned int)v;
	return (0);
}

static int
set_reuse_max(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	if (conf_get_count(c, s, &sc->reuse_max))
		return (-1);
	if (sc->reuse_max < 1 || sc->reuse_max > 10000)
		return (conf_bad(c, s, "%u is out of range (1..10000)",
		    sc->reuse_max));
	return (0);
}

/* A value that goes into a RESP command as one argument. */
static int
check_word(struct conf_ctx *c, const config_setting_t *s, const char *v,
    const char *what)
{
	size_t i;

	if (v[0] == '\0')
		return (conf_bad(c, s, "empty %s", what));
	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return (conf_bad(c, s, "the %s holds a control "
			    "character", what));
	if (i > PASSWORD_MAX)
		return (conf_bad(c, s, "the %s is longer than %d bytes", what,
		    PASSWORD_MAX));
	return (0);
}

static int
set_username(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	if (conf_get_string(c, s, &sc->username))
		return (-1);
	return (check_word(c, s, sc->username, "user name"));
}

static void
wipe(char **p)
{
	if (*p == NULL)
		return;
	explicit_bzero(*p, strlen(*p));
	free(*p);
	*p = NULL;
}

static int
set_password(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	if (sc->password != NULL)
		return (conf_bad(c, s, "password and passwordFile are both "
		    "set; keep one"));
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return (conf_bad(c, s, "expected a string, got %s",
		    conf_type_name(s)));
	if (check_word(c, s, config_setting_get_string(s), "password"))
		return (-1);
	if ((sc->password = strdup(config_setting_get_string(s))) == NULL)
		return (conf_bad(c, s, "out of memory"));
	return (0);
}

/*
 * The first line of a file only root (or the owner) can read, as ssh
 * insists for private keys: a secret readable by group or others is
 * refused rather than sent.
 */
static int
set_password_file(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	char buf[PASSWORD_MAX + 2];
	const char *path;
	struct stat st;
	size_t n;
	FILE *f;
	int rc = -1;

	if (sc->password != NULL)
		return (conf_bad(c, s, "password and passwordFile are both "
		    "set; keep one"));
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return (conf_bad(c, s, "expected a path, got %s",
		    conf_type_name(s)));
	path = config_setting_get_string(s);
	if (c->no_files) {
		/* Only the names are wanted: a placeholder, never sent. */
		if ((sc->password = strdup("-")) == NULL)
			return (conf_bad(c, s, "out of memory"));
		return (0);
	}
	if ((f = fopen(path, "re")) == NULL)
		return (conf_bad(c, s, "cannot read \"%s\": %s", path,
		    strerror(errno)));
	if (fstat(fileno(f), &st) != 0) {
		conf_bad(c, s, "cannot stat \"%s\": %s", path,
		    strerror(errno));
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		conf_bad(c, s, "\"%s\" is readable or writable by group or "
		    "others (mode %04o); chmod 600 it", path,
		    (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	if (fgets(buf, sizeof(buf), f) == NULL) {
		conf_bad(c, s, "\"%s\" is empty", path);
		goto out;
	}
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n > PASSWORD_MAX) {
		conf_bad(c, s, "the first line of \"%s\" is longer than %d "
		    "bytes", path, PASSWORD_MAX);
		goto out;
	}
	buf[n] = '\0';
	if (check_word(c, s, buf, "password"))
		goto out;
	if ((sc->password = strdup(buf)) == NULL) {
		conf_bad(c, s, "out of memory");
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	fclose(f);
	return (rc);
}

static int
set_role(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	static const char *const words[] = { "any", "primary", "replica" };
	const char *v;
	int i;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return (conf_bad(c, s, "expected \"primary\", \"replica\" or "
		    "\"any\", got %s", conf_type_name(s)));
	v = config_setting_get_string(s);
	for (i = 0; i < 3; i++) {
		if (strcmp(v, words[i]) == 0) {
			sc->role = i;	/* enum redis_role order */
			return (0);
		}
	}
	return (conf_bad(c, s, "expected \"primary\", \"replica\" or \"any\", "
	    "got \"%s\"", v));
}

static const struct conf_setting settings[] = {
	{ "reuse", set_reuse, 0 },
	{ "reuseIdle", set_reuse_idle, 0 },
	{ "reuseMax", set_reuse_max, 0 },
	{ "username", set_username, 0 },
	{ "password", set_password, 0 },
	{ "passwordFile", set_password_file, 0 },
	{ "role", set_role, 0 },
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

int
conf_redis_setting(const char *name)
{

	return (conf_settings_find(settings, NSETTINGS, name) ||
	    conf_cluster_setting(name) || conf_iam_setting(name));
}

int
conf_redis_read(struct conf_ctx *c, const config_setting_t *root,
    const config_setting_t *g, struct svc_conf *sc)
{

	sc->reuse_idle = 60;
	sc->reuse_max = 64;
	if (conf_settings_read(c, root, g, sc, settings, NSETTINGS) ||
	    conf_iam_read(c, root, g, sc))
		return (-1);
	if (sc->username != NULL && sc->password == NULL)
		return (conf_bad(c, conf_setting_for(g, "username"), "needs "
		    "password or passwordFile"));
	if (sc->reuse && !sc->client)
		return (conf_bad(c, conf_setting_for(g, "reuse"), "applies "
		    "only to client mode: in server mode the upstream is a "
		    "plaintext connection, cheap to open"));
	return (conf_cluster_read(c, root, g, sc));
}

void
conf_redis_free(struct svc_conf *sc)
{
	wipe(&sc->password);
	free(sc->username);
	sc->username = NULL;
	conf_cluster_free(sc);
	conf_iam_free(sc);
}

/* libconfig's own copy of a password setting: wiped before it is freed. */
static void
wipe_setting(config_setting_t *g)
{
	config_setting_t *s;
	const char *v;

	if (g == NULL || (s = config_setting_get_member(g, "password")) ==
	    NULL || config_setting_type(s) != CONFIG_TYPE_STRING ||
	    (v = config_setting_get_string(s)) == NULL)
		return;
	explicit_bzero((char *)(uintptr_t)v, strlen(v));
}

void
conf_redis_wipe(config_setting_t *root)
{
	config_setting_t *services, *g;
	unsigned int i;

	if (root == NULL)
		return;
	wipe_setting(root);
	if ((services = config_setting_get_member(root, "services")) == NULL ||
	    !config_setting_is_group(services))
		return;
	for (i = 0; (g = config_setting_get_elem(services, i)) != NULL; i++)
		if (config_setting_is_group(g))
			wipe_setting(g);
}

int
svc_conf_redis(const struct svc_conf *sc)
{
	return (sc->reuse || sc->password != NULL || sc->role != ROLE_ANY ||
	    sc->cluster || sc->iam_user != NULL);
}
