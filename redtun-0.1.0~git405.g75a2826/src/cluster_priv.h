#ifndef REDTUN_CLUSTER_PRIV_H
#define REDTUN_CLUSTER_PRIV_H

/*
 * Shared by cluster.c (discovery into new node tables) and
 * cluster_publish.c (commit, publish, the data path's side); not for
 * other modules.
 */
#include <stddef.h>
#include <stdint.h>

struct cmap;
struct svc;

/* One node ever seen by a cluster service, and the port it has. */
struct slot {
	char *key;		/* "endpoint:port": what keeps its port */
	char *endpoint, *ip, *hostname;
	unsigned int port;	/* announced (TLS) client port */
	unsigned int lport;	/* 0: none (the range was full) */
	int primary;
	uint64_t gone_at;	/* ms when it left; 0: present */
	struct svc *svc;	/* its generation while it listens */
};

struct table {
	struct slot *v;
	size_t n;
	char *host;		/* clusterPorts as the table was made for */
	unsigned int lo, hi;
};

struct cluster {
	char *name;
	struct clusters *cs;
	struct table t;		/* main loop (commit); read by prepare */
	struct cmap *map;	/* published; atomic */
	int asked;		/* a refresh was requested (atomic) */
};

struct clusters {
	uv_mutex_t lock;	/* the registry array and the retired maps */
	struct cluster **v;
	size_t n;
	/*
	 * Replaced maps, each freed once a publish of a commit made after
	 * it was replaced has happened: by then every worker has run a plan
	 * job since, so no callback that loaded it is still running.
	 */
	struct retired {
		struct cmap *map;
		uint64_t until;		/* free at a publish of gen > until */
	} *retired;
	size_t nretired, cretired;
	uint64_t published_gen;
	uint64_t next_gen;	/* last commit's; atomic (workers read) */
	unsigned int period;
	const int *cancel;	/* atomic: stopping, give up discoveries */
	void (*want_refresh)(void *);
	void *arg;
};

struct cluster_prep {
	struct clusters *cs;
	size_t n;
	struct prep_one {
		struct cluster *cl;
		struct table t;
		struct cmap *map;
		unsigned int refresh;	/* its clusterRefresh, s */
		char note[600];	/* what changed, for the commit's log */
		int changed;
	} *v;
};

struct cluster_pub {
	struct clusters *cs;
	uint64_t gen;
	size_t n;
	struct cluster **cl;
	struct cmap **map;
};

/* table_free(t): free a node table and its generations' references. */
void table_free(struct table *t);

#endif
