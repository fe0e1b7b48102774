/*
 * The counters' registry (see stats.h): entries by service name, created
 * on first use under a mutex and never freed before the registry; cells
 * written by one worker each with relaxed atomics, summed on request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "stats.h"

const double stats_connect_bounds[ST_CONNECT_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5
};

const char *const stats_fail_names[ST_FAIL_N] = {
	"verify_chain", "hostname", "expired", "protocol_version", "alert",
	"timeout", "refused", "dns", "limit", "other"
};
const char *const stats_reuse_names[ST_REUSE_N] = {
	"kept", "reused", "discarded"
};
const char *const stats_pool_names[ST_POOL_N] = { "prewarm", "reuse" };
const char *const stats_dir_names[ST_DIR_N] = { "to_server", "to_client" };
const char *const stats_tlsver_names[ST_TLSV_N] = { "TLSv1.2", "TLSv1.3" };

struct stats_svc {
	struct stats_svc *next;		/* creation order */
	char *name;
	size_t ncells;
	struct stats_cell *cells;	/* aligned: one line-set per worker */
};

struct stats {
	uv_mutex_t lock;		/* creation and the list */
	size_t nworkers;
	struct stats_svc *head, **tail;
};

struct stats *
stats_new(size_t nworkers)
{
	struct stats *st;

	if (nworkers == 0 || (st = calloc(1, sizeof(*st))) == NULL)
		return (NULL);
	if (uv_mutex_init(&st->lock) != 0) {
		free(st);
		return (NULL);
	}
	st->nworkers = nworkers;
	st->tail = &st->head;
	return (st);
}

void
stats_free(struct stats *st)
{
	struct stats_svc *e, *next;

	if (st == NULL)
		return;
	for (e = st->head; e != NULL; e = next) {
		next = e->next;
		free(e->cells);
		free(e->name);
		free(e);
	}
	uv_mutex_destroy(&st->lock);
	free(st);
}

static struct stats_svc *
entry_new(const char *name, size_t ncells)
{
	struct stats_svc *e;
	size_t size = ncells * sizeof(struct stats_cell);

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return (NULL);
	/* aligned_alloc wants a multiple of the alignment: a cell is one. */
	if ((e->name = strdup(name)) == NULL ||
	    (e->cells = aligned_alloc(_Alignof(struct stats_cell), size)) ==
	    NULL) {
		free(e->name);
		free(e);
		return (NULL);
	}
	memset(e->cells, 0, size);
	e->ncells = ncells;
	return (e);
}

struct stats_svc *
stats_service(struct stats *st, const char *name)
{
	struct stats_svc *e;

	if (st == NULL || name == NULL)
		return (NULL);
	uv_mutex_lock(&st->lock);
	for (e = st->head; e != NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			goto out;
	if ((e = entry_new(name, st->nworkers)) != NULL) {
		*st->tail = e;
		st->tail = &e->next;
	}
out:
	uv_mutex_unlock(&st->lock);
	return (e);
}

struct stats_cell *
stats_cell(struct stats_svc *e, size_t worker)
{

	if (e == NULL || worker >= e->ncells)
		return (NULL);
	return (&e->cells[worker]);
}

void
stats_note_connect(struct stats_cell *c, uint64_t usec)
{
	size_t b;

	if (c == NULL)
		return;
	/* Bounds are in seconds; compare in microseconds, exactly. */
	for (b = 0; b < ST_CONNECT_BUCKETS; b++)
		if ((double)usec <= stats_connect_bounds[b] * 1e6)
			break;
	STATS_INC(c, connect_bucket[b]);
	STATS_ADD(c, connect_usec_sum, usec);
	STATS_INC(c, connect_count);
}

#define LOAD(p)	__atomic_load_n((p), __ATOMIC_RELAXED)

static void
add_cell(struct stats_cell *o, const struct stats_cell *c)
{
	size_t i, j;

	o->conn_total += LOAD(&c->conn_total);
	o->conn_active += LOAD(&c->conn_active);
	for (i = 0; i < ST_DIR_N; i++)
		o->bytes[i] += LOAD(&c->bytes[i]);
	for (i = 0; i < ST_TLSV_N; i++)
		for (j = 0; j < 2; j++)
			o->handshakes[i][j] += LOAD(&c->handshakes[i][j]);
	o->handshakes_failed += LOAD(&c->handshakes_failed);
	for (i = 0; i < ST_FAIL_N; i++)
		o->fail[i] += LOAD(&c->fail[i]);
	for (i = 0; i <= ST_CONNECT_BUCKETS; i++)
		o->connect_bucket[i] += LOAD(&c->connect_bucket[i]);
	o->connect_usec_sum += LOAD(&c->connect_usec_sum);
	o->connect_count += LOAD(&c->connect_count);
	for (i = 0; i < ST_POOL_N; i++)
		o->pool[i] += LOAD(&c->pool[i]);
	for (i = 0; i < ST_REUSE_N; i++)
		o->reuse[i] += LOAD(&c->reuse[i]);
	o->redirects_rewritten += LOAD(&c->redirects_rewritten);
	o->fd_exhaustion += LOAD(&c->fd_exhaustion);
	o->limit_rejections += LOAD(&c->limit_rejections);
	o->listening += LOAD(&c->listening);
}

void
stats_sum(const struct stats_svc *e, struct stats_cell *out)
{
	size_t k;

	memset(out, 0, sizeof(*out));
	for (k = 0; e != NULL && k < e->ncells; k++)
		add_cell(out, &e->cells[k]);
}

void
stats_each(struct stats *st,
    void (*cb)(void *arg, const char *name, const struct stats_svc *e),
    void *arg)
{
	struct stats_svc *e;

	if (st == NULL)
		return;
	/*
	 * Entries are only ever appended, and a pool thread may append one
	 * (a reload): read the list under the lock, call without it.
	 */
	uv_mutex_lock(&st->lock);
	e = st->head;
	uv_mutex_unlock(&st->lock);
	for (; e != NULL; ) {
		struct stats_svc *next;

		cb(arg, e->name, e);
		uv_mutex_lock(&st->lock);
		next = e->next;
		uv_mutex_unlock(&st->lock);
		e = next;
	}
}
