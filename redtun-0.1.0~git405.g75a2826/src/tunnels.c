/*
 * The registry of one loop's tunnels: what a graceful stop waits for, what
 * the limits count, and the out-of-descriptors episode that all of them
 * share (logged once, not per connection).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "service.h"
#include "tunnel.h"
#include "tunnel_priv.h"

struct tunnels {
	struct tunnel *head;
	size_t count;
	size_t refusing;	/* in T_REFUSE: no upstream, not counted */
	int worker;		/* for log lines */
	int out_of_fds;		/* until a tunnel closes */
	int exhaustion_logged;	/* until a tunnel gets going again */
	uint64_t exhaustion_at;	/* uv_now() of that message */
	unsigned long shed;	/* connections shed meanwhile */
	void (*on_empty)(void *);
	void *on_empty_arg;
	struct stats_cell *global;	/* the "" entry: fd_exhaustion */
	tunnels_keep_fn *keep;		/* where reusable connections go */
	void *keep_arg;
};

/* ---- registry --------------------------------------------------------- */

struct tunnels *
tunnels_new(int worker)
{
	struct tunnels *set = calloc(1, sizeof(struct tunnels));

	if (set != NULL)
		set->worker = worker;
	return (set);
}

void
tunnels_free(struct tunnels *set)
{

	free(set);
}

size_t
tunnels_count(const struct tunnels *set)
{

	return (set->count);
}

void
tunnels_fd_exhausted(struct tunnels *set, uv_loop_t *loop)
{
	uint64_t now = uv_now(loop);

	set->out_of_fds = 1;
	/* Once per episode, and an episode lasts at least ten seconds. */
	if (set->exhaustion_logged ||
	    (set->exhaustion_at != 0 && now - set->exhaustion_at < 10000))
		return;
	set->exhaustion_logged = 1;
	set->exhaustion_at = now;
	STATS_INC(set->global, fd_exhaustion);
	set->shed = 0;
	log_msg(LOG_LVL_ERR, NULL, "out of file descriptors (too many open "
	    "files) with %zu connections open: shedding new connections "
	    "until some close (raise the open-file limit or lower "
	    "maxConnections)", set->count);
}

int
tunnels_fd_trouble(const struct tunnels *set)
{

	return (set->out_of_fds || set->exhaustion_logged);
}

int
tunnels_out_of_fds(const struct tunnels *set)
{

	return (set->out_of_fds);
}

void
tunnels_note_shed(struct tunnels *set)
{

	set->shed++;
}

size_t
tunnels_refusing(const struct tunnels *set)
{

	return (set->refusing);
}

void
tunnels_note_refusing(struct tunnels *set, int delta)
{

	if (delta > 0)
		set->refusing++;
	else if (set->refusing > 0)
		set->refusing--;
}

size_t
tunnels_count_service(const struct tunnels *set, const char *name)
{
	const struct tunnel *t;
	size_t n = 0;

	for (t = set->head; t != NULL; t = t->next)
		n += (t->state != T_DEAD && t->state != T_REFUSE &&
		    strcmp(svc_name(t->svc), name) == 0);
	return (n);
}

void
tunnels_on_empty(struct tunnels *set, void (*cb)(void *), void *arg)
{

	set->on_empty = cb;
	set->on_empty_arg = arg;
	if (set->count == 0 && cb != NULL)
		cb(arg);
}

void
tunnels_close_all(struct tunnels *set, const char *why)
{
	struct tunnel *t;

	for (t = set->head; t != NULL; t = t->next)
		tunnel_finish(t, LOG_LVL_NOTICE, "%s", why);
}

void
tunnels_close_plaintext(struct tunnels *set, const char *name,
    const char *why)
{
	struct tunnel *t;

	for (t = set->head; t != NULL; t = t->next)
		if (t->plaintext && strcmp(svc_name(t->svc), name) == 0)
			tunnel_finish(t, LOG_LVL_NOTICE, "%s", why);
}

void
tunnels_add(struct tunnels *set, struct tunnel *t)
{

	t->next = set->head;
	if (set->head != NULL)
		set->head->prev = t;
	set->head = t;
	set->count++;
}

void
tunnels_remove(struct tunnels *set, struct tunnel *t)
{

	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		set->head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	/* Descriptors came back: let the next connection try. */
	set->out_of_fds = 0;
	if (--set->count == 0 && set->on_empty != NULL)
		set->on_empty(set->on_empty_arg);
}

void
tunnels_note_relay(struct tunnels *set)
{

	if (!set->exhaustion_logged)
		return;
	set->exhaustion_logged = 0;
	log_msg(LOG_LVL_NOTICE, NULL, "accepting connections again (%lu shed "
	    "while out of descriptors)", set->shed);
}

int
tunnels_worker(const struct tunnels *set)
{

	return (set->worker);
}

void
tunnels_set_stats(struct tunnels *set, struct stats_cell *global)
{

	set->global = global;
}

void
tunnels_set_keeper(struct tunnels *set, tunnels_keep_fn *keep, void *arg)
{

	set->keep = keep;
	set->keep_arg = arg;
}

int
tunnels_keep(struct tunnels *set, struct tunnel *t)
{

	return (set->keep != NULL ? set->keep(set->keep_arg, t, t->svc) : -1);
}

void
tunnels_drop_pooled(struct tunnels *set, const struct svc *svc,
    const char *upaddr, const char *why)
{
	struct tunnel *t, *next;

	for (t = set->head; t != NULL; t = next) {
		next = t->next;
		if (t->state == T_POOLED && t->svc == svc &&
		    strcmp(t->upaddr, upaddr) == 0)
			tunnel_finish(t, LOG_LVL_INFO, "%s", why);
	}
}
