/*
 * The Redis Cluster settings of a service (cluster, clusterPorts,
 * clusterRefresh, clusterGrace), and the settings of the per-node
 * services cluster.c makes from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "addr.h"
#include "conf.h"
#include "conf_priv.h"

/* More listeners than any real cluster has nodes, and few enough to scan. */
#define CLUSTER_PORTS_MAX	1000

static int
set_cluster(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)
{

	return (conf_get_bool(c, s, &sc->cluster));
}

/* "HOST:LO-HI" (or "[v6]:LO-HI"): where node listeners go. */
static int
set_ports(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)
{
	struct addr_spec a = { NULL, 0, 0 };
	char text[300], why[128];
	const char *v, *dash;
	char *end;
	long hi;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return (conf_bad(c, s, "expected \"HOST:FIRST-LAST\", got %s",
		    conf_type_name(s)));
	v = config_setting_get_string(s);
	if ((dash = strrchr(v, '-')) == NULL || dash < strrchr(v, ':') ||
	    (size_t)(dash - v) >= sizeof(text))
		return (conf_bad(c, s, "expected \"HOST:FIRST-LAST\" (e.g. "
		    "\"127.0.0.1:7001-7100\"), got \"%s\"", v));
	memcpy(text, v, (size_t)(dash - v));
	text[dash - v] = '\0';
	if (addr_parse(text, NULL, &a, why, sizeof(why)) != 0)
		return (conf_bad(c, s, "\"%s\": %s", v, why));
	hi = strtol(dash + 1, &end, 10);
	if (*end != '\0' || end == dash + 1 || hi < a.port || hi > 65535) {
		addr_spec_free(&a);
		return (conf_bad(c, s, "\"%s\": the last port must be a "
		    "number from %d to 65535", v, a.port));
	}
	if (hi - a.port + 1 > CLUSTER_PORTS_MAX) {
		addr_spec_free(&a);
		return (conf_bad(c, s, "\"%s\": %ld ports; at most %d", v,
		    hi - a.port + 1, CLUSTER_PORTS_MAX));
	}
	free(sc->cluster_host);
	sc->cluster_host = a.host;
	sc->cluster_port_lo = (unsigned int)a.port;
	sc->cluster_port_hi = (unsigned int)hi;
	return (0);
}


static int
set_refresh(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)
{

	return (conf_get_seconds(c, s, &sc->cluster_refresh, 1, 86400));
}

static int
set_grace(struct conf_ctx *c, const config_setting_t *s, struct svc_conf *sc)
{

	return (conf_get_seconds(c, s, &sc->cluster_grace, 0, 86400));
}

/* own: per service only (a top-level value is refused below). */
static const struct conf_setting settings[] = {
	{ "cluster", set_cluster, 1 },
	{ "clusterPorts", set_ports, 1 },
	{ "clusterRefresh", set_refresh, 0 },
	{ "clusterGrace", set_grace, 0 },
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

int
conf_cluster_setting(const char *name)
{

	return (conf_settings_find(settings, NSETTINGS, name));
}

/* Does port ${p} of host ${h} fall into ${sc}'s node listener range? */
static int
in_range(const struct svc_conf *sc, const char *h, int p)
{

	return (sc->cluster_host != NULL && strcmp(sc->cluster_host, h) == 0 &&
	    (unsigned int)p >= sc->cluster_port_lo &&
	    (unsigned int)p <= sc->cluster_port_hi);
}

int
conf_cluster_read(struct conf_ctx *c, const config_setting_t *root,
    const config_setting_t *g, struct svc_conf *sc)
{
	const config_setting_t *s;
	size_t i;

	sc->cluster_refresh = 30;
	sc->cluster_grace = 60;
	for (i = 0; i < NSETTINGS; i++)
		if (settings[i].own && (s = config_setting_get_member(root,
		    settings[i].name)) != NULL)
			return (conf_bad(c, s, "set it in the service section:"
			    " each cluster service needs its own"));
	if (conf_settings_read(c, root, g, sc, settings, NSETTINGS))
		return (-1);
	if (!sc->cluster) {
		if ((s = config_setting_get_member(g, "clusterPorts")) != NULL)
			return (conf_bad(c, s, "needs cluster = true"));
		return (0);
	}
	s = conf_setting_for(g, "cluster");
	if (!sc->client)
		return (conf_bad(c, s, "applies only to client mode (client "
		    "= true): in server mode redtun is in front of the "
		    "cluster nodes, not behind them"));
	if (sc->cluster_host == NULL)
		return (conf_bad(c, s, "needs clusterPorts, the local ports "
		    "for the node listeners (e.g. clusterPorts = "
		    "\"127.0.0.1:7001-7100\")"));
	if (sc->role != ROLE_ANY)
		return (conf_bad(c, conf_setting_for(g, "role"), "does not "
		    "apply with cluster = true: clients pick primaries and "
		    "replicas by port"));
	if (in_range(sc, sc->accept.host, sc->accept.port))
		return (conf_bad(c, conf_setting_for(g, "clusterPorts"),
		    "includes the service's own accept port %d",
		    sc->accept.port));
	return (0);
}

int
conf_cluster_check_all(struct conf_ctx *c, const config_setting_t *services,
    struct svc_conf *const *svcs, size_t n)
{
	const struct svc_conf *a, *b;
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (!(a = svcs[i])->cluster)
			continue;
		for (j = 0; j < n; j++) {
			b = svcs[j];
			if (j != i && (in_range(a, b->accept.host,
			    b->accept.port) || (j < i && b->cluster &&
			    strcmp(a->cluster_host, b->cluster_host) == 0 &&
			    a->cluster_port_lo <= b->cluster_port_hi &&
			    b->cluster_port_lo <= a->cluster_port_hi)))
				return (conf_bad(c, conf_setting_for(
				    config_setting_get_member(services,
				    a->name), "clusterPorts"), "overlaps the "
				    "ports of service \"%s\"", b->name));
		}
	}
	return (0);
}

void
conf_cluster_free(struct svc_conf *sc)
{

	free(sc->cluster_host);
	free(sc->cluster_node);
	sc->cluster_host = sc->cluster_node = NULL;
}

static char *
dup_or_null(const char *s, int *fail)
{
	char *d;

	if (s == NULL)
		return (NULL);
	if ((d = strdup(s)) == NULL)
		*fail = 1;
	return (d);
}

struct svc_conf *
svc_conf_node(const struct svc_conf *sc, const char *host, unsigned int port,
    const char *check, unsigned int lport)
{
	struct svc_conf *n;
	char node[300], name[400];
	int fail = 0;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return (NULL);
	/* Scalars as the service has them; every string owned anew. */
	*n = *sc;
	n->locs = NULL;
	n->connect = NULL;
	n->connect_line = NULL;
	n->nconnect = 0;
	snprintf(node, sizeof(node), "%s%s%s:%u", strchr(host, ':') ? "[" :
	    "", host, strchr(host, ':') ? "]" : "", port);
	snprintf(name, sizeof(name), "%s@%s", sc->name, node);
	n->name = dup_or_null(name, &fail);
	n->cluster_node = dup_or_null(node, &fail);
	n->file = dup_or_null(sc->file, &fail);
	n->accept.host = dup_or_null(sc->cluster_host, &fail);
	n->accept.port = (int)lport;
	n->accept.is_ip = addr_is_ip(sc->cluster_host);
	n->cluster_host = dup_or_null(sc->cluster_host, &fail);
	/* The node's own name: SNI and the identity it must prove. */
	n->sni = NULL;
	n->sni_set = 0;
	n->check_host = dup_or_null(check, &fail);
	n->check_ip = check != NULL && addr_is_ip(check);
	n->cafile = dup_or_null(sc->cafile, &fail);
	n->capath = dup_or_null(sc->capath, &fail);
	n->cert = dup_or_null(sc->cert, &fail);
	n->key = dup_or_null(sc->key, &fail);
	n->ciphers = dup_or_null(sc->ciphers, &fail);
	n->ciphersuites = dup_or_null(sc->ciphersuites, &fail);
	n->username = dup_or_null(sc->username, &fail);
	n->password = dup_or_null(sc->password, &fail);
	n->iam_user = dup_or_null(sc->iam_user, &fail);
	n->iam_cache = dup_or_null(sc->iam_cache, &fail);
	n->iam_region = dup_or_null(sc->iam_region, &fail);
	/* One target, looked up per connection: nodes move. */
	n->delay = 1;
	n->failover = FAILOVER_PRIO;
	n->prewarm = 0;
	n->max_connections = sc->max_connections;
	if ((n->connect = calloc(1, sizeof(*n->connect))) == NULL ||
	    (n->connect_line = calloc(1, sizeof(int))) == NULL)
		fail = 1;
	else {
		n->nconnect = 1;
		n->connect[0].host = dup_or_null(host, &fail);
		n->connect[0].port = (int)port;
		n->connect[0].is_ip = addr_is_ip(host);
		n->connect_line[0] = sc->line;
	}
	if (fail) {
		svc_conf_free(n);
		return (NULL);
	}
	return (n);
}
