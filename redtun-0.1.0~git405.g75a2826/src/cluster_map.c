/*
 * The node map: an open-addressing hash table of (name, port) -> local
 * port, names folded to ASCII lower case.  Written only while it is built
 * (cmap_add), then read-only: lookups take no lock.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_map.h"

struct cmap_ent {
	char *name;		/* lower case; NULL: empty slot */
	size_t namelen;
	unsigned int port;
	unsigned int lport;
};

struct cmap {
	char *lhost;
	struct cmap_ent *t;
	size_t cap;		/* slots: 0 or a power of two */
	size_t n;		/* entries */
};

static unsigned char
lower(unsigned char c)
{

	return (c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c);
}

/* FNV-1a over the folded name, then the port. */
static uint32_t
hash(const char *name, size_t len, unsigned int port)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ lower((unsigned char)name[i])) * 16777619u;
	h = (h ^ (port & 0xff)) * 16777619u;
	h = (h ^ (port >> 8 & 0xffffff)) * 16777619u;
	return (h);
}

static int
same(const struct cmap_ent *e, const char *name, size_t len,
    unsigned int port)
{
	size_t i;

	if (e->port != port || e->namelen != len)
		return (0);
	for (i = 0; i < len; i++)
		if ((unsigned char)e->name[i] != lower((unsigned char)name[i]))
			return (0);
	return (1);
}

/* The slot holding ${name}:${port}, or the empty slot where it would go. */
static struct cmap_ent *
slot(struct cmap_ent *t, size_t cap, const char *name, size_t len,
    unsigned int port)
{
	size_t i = hash(name, len, port) & (cap - 1);

	/* The table is never more than half full: an empty slot ends this. */
	while (t[i].name != NULL && !same(&t[i], name, len, port))
		i = (i + 1) & (cap - 1);
	return (&t[i]);
}

struct cmap *
cmap_new(const char *local_host)
{
	struct cmap *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return (NULL);
	if ((m->lhost = strdup(local_host)) == NULL) {
		free(m);
		return (NULL);
	}
	return (m);
}

static int
grow(struct cmap *m)
{
	struct cmap_ent *nt, *e;
	size_t ncap = m->cap ? m->cap * 2 : 16, i;

	if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
		return (-1);
	for (i = 0; i < m->cap; i++) {
		if (m->t[i].name == NULL)
			continue;
		e = slot(nt, ncap, m->t[i].name, m->t[i].namelen,
		    m->t[i].port);
		*e = m->t[i];
	}
	free(m->t);
	m->t = nt;
	m->cap = ncap;
	return (0);
}

int
cmap_add(struct cmap *m, const char *name, size_t namelen,
    unsigned int port, unsigned int lport)
{
	struct cmap_ent *e;
	size_t i;

	/* A full map (CMAP_MAX) is still half empty: an existing entry can
	 * be replaced. */
	if (m->cap == 0 || ((m->n + 1) * 2 > m->cap && m->n < CMAP_MAX)) {
		if (grow(m) != 0)
			return (-1);
	}
	e = slot(m->t, m->cap, name, namelen, port);
	if (e->name != NULL) {
		e->lport = lport;
		return (0);
	}
	if (m->n >= CMAP_MAX)
		return (-1);
	/* One extra byte: malloc(0) may return NULL, and NUL-terminated
	 * names read better in a debugger. */
	if ((e->name = malloc(namelen + 1)) == NULL)
		return (-1);
	for (i = 0; i < namelen; i++)
		e->name[i] = (char)lower((unsigned char)name[i]);
	e->name[namelen] = '\0';
	e->namelen = namelen;
	e->port = port;
	e->lport = lport;
	m->n++;
	return (0);
}

unsigned int
cmap_lookup(const struct cmap *m, const char *name, size_t namelen,
    unsigned int port)
{
	const struct cmap_ent *e;

	if (m == NULL || m->cap == 0)
		return (0);
	e = slot(m->t, m->cap, name, namelen, port);
	return (e->name != NULL ? e->lport : 0);
}

const char *
cmap_local_host(const struct cmap *m)
{

	return (m->lhost);
}

size_t
cmap_count(const struct cmap *m)
{

	return (m->n);
}

void
cmap_free(struct cmap *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->cap; i++)
		free(m->t[i].name);
	free(m->t);
	free(m->lhost);
	free(m);
}
