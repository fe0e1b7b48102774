/*
 * Both directions of a tunnel between the ends' I/O and a filter.  The
 * relay never touches sockets or TLS: its owner gives it sinks, so the
 * same code runs in the daemon and in the unit test that feeds a filter
 * every split of a stream.
 */
#include <stdlib.h>
#include <string.h>

#include "relay.h"

struct relay_way {
	struct relay_sink sink;
	uint64_t in, out;		/* bytes read, bytes sent on */
	unsigned int eof:1;		/* relay_eof() done */
	unsigned int shut:1;		/* the sink was half-closed */
	unsigned int closing:1;		/* close_after asked on this one */
};

struct relay {
	struct relay_way way[2];	/* by enum relay_dir */
	const struct relay_filter_ops *ops;
	void *st;
	unsigned int closing:1;		/* close_after requested */
};

struct relay *
relay_new(const struct relay_sink *up, const struct relay_sink *down)
{
	struct relay *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->way[RELAY_UP].sink = *up;
	r->way[RELAY_DOWN].sink = *down;
	return (r);
}

void
relay_set_filter(struct relay *r, const struct relay_filter_ops *ops,
    void *st)
{

	r->ops = ops;
	r->st = st;
}

int
relay_filtered(const struct relay *r)
{

	return (r->ops != NULL);
}

int
relay_emit(struct relay *r, int dir, const char *data, size_t len)
{
	struct relay_way *w = &r->way[dir];

	/*
	 * Past the half-close nothing can be sent (a filter injecting
	 * after the far side finished): dropped, as the peer would.
	 */
	if (len == 0 || w->shut || (r->closing && w->closing))
		return (0);
	w->out += len;
	return (w->sink.write(w->sink.arg, data, len));
}

int
relay_input(struct relay *r, int dir, const char *data, size_t len)
{
	struct relay_way *w = &r->way[dir];

	w->in += len;
	if (r->closing)
		return (0);	/* the filter has ended this tunnel */
	if (r->ops == NULL) {
		/* The hot path: the caller's buffer, no copy. */
		w->out += len;
		return (w->sink.write(w->sink.arg, data, len));
	}
	return (r->ops->input(r->st, r, dir, data, len));
}

int
relay_eof(struct relay *r, int dir)
{
	struct relay_way *w = &r->way[dir];

	if (w->eof)
		return (0);
	w->eof = 1;
	if (r->ops != NULL && !r->closing) {
		int rc = r->ops->eof(r->st, r, dir);

		if (rc < 0)
			return (-1);
		if (rc > 0)
			return (0);	/* the filter keeps the far side */
	}
	w->shut = 1;
	w->sink.eof(w->sink.arg);
	return (0);
}

void
relay_close_after(struct relay *r, int dir, const char *why)
{
	struct relay_way *w = &r->way[dir];

	if (r->closing)
		return;
	r->closing = 1;
	w->closing = 1;
	w->sink.close_after(w->sink.arg, why);
}

void
relay_fail(struct relay *r, int dir, const char *why)
{
	struct relay_way *w = &r->way[dir];

	r->closing = 1;
	w->sink.fail(w->sink.arg, why);
}

/* Bytes of ${dir} not yet on the wire: queued at the sink, held back. */
static size_t
backlog(const struct relay *r, int dir)
{
	const struct relay_way *w = &r->way[dir];
	size_t n = w->sink.queued(w->sink.arg);

	if (r->ops != NULL)
		n += r->ops->held(r->st, dir);
	return (n);
}

int
relay_backlogged(const struct relay *r, int dir)
{

	return (backlog(r, dir) > RELAY_HIGH);
}

int
relay_resumable(const struct relay *r, int dir)
{

	return (backlog(r, dir) <= RELAY_LOW);
}

uint64_t
relay_bytes_in(const struct relay *r, int dir)
{

	return (r->way[dir].in);
}

uint64_t
relay_bytes_out(const struct relay *r, int dir)
{

	return (r->way[dir].out);
}

void
relay_restart(struct relay *r)
{
	int d;

	for (d = 0; d < 2; d++) {
		r->way[d].in = r->way[d].out = 0;
		r->way[d].eof = r->way[d].shut = r->way[d].closing = 0;
	}
	r->closing = 0;
}

void
relay_free(struct relay *r)
{

	if (r == NULL)
		return;
	if (r->ops != NULL && r->ops->free != NULL)
		r->ops->free(r->st);
	free(r);
}
