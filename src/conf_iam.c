/*
 * The ElastiCache IAM settings of a service (iamUser, iamCache, iamRegion,
 * iamServerless, iamReauth, iamLifetime, iamTokenRefresh): with iamUser
 * set, redtun authenticates upstream with AUTH iamUser TOKEN, a SigV4
 * presigned URL it makes from the AWS credentials (iam.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "conf.h"
#include "conf_priv.h"

/* ElastiCache names are at most 40 characters; room to spare. */
#define IAM_NAME_MAX	255

static int
check_chars(struct conf_ctx *c, const config_setting_t *s, const char *v,
    const char *allowed, const char *what, size_t max)
{
	size_t i;

	if (v[0] == '\0')
		return (conf_bad(c, s, "empty %s", what));
	if (strlen(v) > max)
		return (conf_bad(c, s, "the %s is longer than %zu bytes", what,
		    max));
	for (i = 0; v[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (allowed == NULL ? (ch < 0x20 || ch == 0x7f) :
		    strchr(allowed, ch) == NULL)
			return (conf_bad(c, s, "\"%s\": the %s may hold only "
			    "%s", v, what, allowed == NULL ? "printable "
			    "characters" : "lower-case letters, digits and "
			    "'-' (ElastiCache stores its ids in lower case)"));
	}
	return (0);
}

/*
 * Lower case only: ElastiCache stores ids so, and SigV4 signs the host in
 * lower case (botocore), so "MyCache" would sign differently from the URL.
 */
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-"
/* Real regions are about 15 characters; the token's scope must fit. */
#define REGION_MAX	64

static int
set_user(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	if (conf_get_string(c, s, &sc->iam_user))
		return (-1);
	/* Any printable text: it is URL-encoded into the token. */
	return (check_chars(c, s, sc->iam_user, NULL, "user id",
	    IAM_NAME_MAX));
}

static int
set_cache(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	if (conf_get_string(c, s, &sc->iam_cache))
		return (-1);
	return (check_chars(c, s, sc->iam_cache, NAME_CHARS, "cache name",
	    IAM_NAME_MAX));
}

static int
set_region(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	if (conf_get_string(c, s, &sc->iam_region))
		return (-1);
	return (check_chars(c, s, sc->iam_region, NAME_CHARS, "region",
	    REGION_MAX));
}

static int
set_serverless(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	return (conf_get_bool(c, s, &sc->iam_serverless));
}


static int
set_reauth(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (conf_get_seconds(c, s, &sc->iam_reauth, 1, 86399));
}

static int
set_lifetime(struct conf_ctx *c, const config_setting_t *s,
    struct svc_conf *sc)
{
	return (conf_get_seconds(c, s, &sc->iam_lifetime, 2, 86400));
}

/*
 * A token is valid for 900 s, and iam_auth refuses one older than 840 s:
 * a minute of slack for a late renewal.
 */
static int
set_refresh(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	return (conf_get_seconds(c, s, &sc->iam_token_refresh, 1, 780));
}

static const struct conf_setting settings[] = {
	{ "iamUser", set_user, 0 },
	{ "iamCache", set_cache, 0 },
	{ "iamRegion", set_region, 0 },
	{ "iamServerless", set_serverless, 0 },
	{ "iamReauth", set_reauth, 0 },
	{ "iamLifetime", set_lifetime, 0 },
	{ "iamTokenRefresh", set_refresh, 0 },
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

int
conf_iam_setting(const char *name)
{

	return (conf_settings_find(settings, NSETTINGS, name));
}

/*
 * The first iam* setting other than iamUser written in the service group
 * ${g} itself, or NULL.  Top-level ones are defaults for the services
 * that use IAM, and mean nothing to the others.
 */
static const config_setting_t *
other_written(const config_setting_t *g)
{
	const config_setting_t *s;
	size_t i;

	for (i = 1; i < NSETTINGS; i++)
		if ((s = config_setting_get_member(g, settings[i].name)) !=
		    NULL)
			return (s);
	return (NULL);
}

int
conf_iam_read(struct conf_ctx *c, const config_setting_t *root,
    const config_setting_t *g, struct svc_conf *sc)
{
	const config_setting_t *s;

	sc->iam_reauth = 11 * 3600;	/* ElastiCache closes at 12 h */
	sc->iam_lifetime = 12 * 3600;
	sc->iam_token_refresh = 600;	/* of the token's 900 s */
	if (conf_settings_read(c, root, g, sc, settings, NSETTINGS))
		return (-1);
	/*
	 * A top-level iamUser is a default for client-mode services that do
	 * not authenticate otherwise: a service's own password, or server
	 * mode, goes without it.
	 */
	if (sc->iam_user != NULL &&
	    config_setting_get_member(g, "iamUser") == NULL &&
	    (!sc->client || config_setting_get_member(g, "password") != NULL ||
	    config_setting_get_member(g, "passwordFile") != NULL ||
	    config_setting_get_member(g, "username") != NULL)) {
		free(sc->iam_user);
		sc->iam_user = NULL;
	}
	if (sc->iam_user == NULL) {
		if ((s = other_written(g)) != NULL)
			return (conf_bad(c, s, "needs iamUser"));
		return (0);
	}
	s = conf_setting_for(g, "iamUser");
	if (!sc->client)
		return (conf_bad(c, s, "applies only to client mode (a TLS "
		    "upstream such as ElastiCache)"));
	if (sc->username != NULL)
		return (conf_bad(c, s, "iamUser and username are both set: "
		    "iamUser is the user redtun authenticates as; keep one"));
	if (sc->password != NULL)
		return (conf_bad(c, s, "iamUser and password (or "
		    "passwordFile) are both set: with IAM the password is a "
		    "token redtun makes; keep one"));
	if (sc->iam_cache == NULL)
		return (conf_bad(c, s, "needs iamCache (the replication group "
		    "id, or the serverless cache name)"));
	if (sc->iam_region == NULL)
		return (conf_bad(c, s, "needs iamRegion (e.g. \"us-east-1\")"));
	if (sc->iam_reauth >= sc->iam_lifetime)
		return (conf_bad(c, conf_setting_for(g, "iamReauth"), "%u s "
		    "is not below iamLifetime (%u s): the connection would be "
		    "closed before it re-authenticates", sc->iam_reauth,
		    sc->iam_lifetime));
	return (0);
}

void
conf_iam_free(struct svc_conf *sc)
{

	free(sc->iam_user);
	free(sc->iam_cache);
	free(sc->iam_region);
	sc->iam_user = sc->iam_cache = sc->iam_region = NULL;
}
