/*
 * The RESP filter on a tunnel's relay, the relay's side: both directions
 * scanned (resp.c), replies matched to commands (resp_match.c), replies
 * to redtun's own commands taken out (resp_filter_own.c sends those and
 * reads their replies), READONLY on a primary service.  Bytes are forwarded as they come, never copied, except
 * a short status line that may be a reply to a command of our own: it is
 * held until it is complete, then dropped or passed on; and on a cluster
 * service, replies that name nodes (resp_cluster.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "relay.h"
#include "resp.h"
#include "resp_cluster.h"
#include "resp_filter.h"
#include "resp_filter_priv.h"
#include "resp_match.h"

/* Idle scanners kept per thread and side, for the next busy connection. */
#define SCAN_CACHE	64

/* ---- scanners: only a connection in the middle of a frame holds one --- */

static _Thread_local struct {
	struct resp_scan *s[SCAN_CACHE];
	int n;
} cache[2];		/* by enum resp_side */

static struct resp_scan *
scan_get(struct resp_scan **slot, int side)
{

	if (*slot == NULL)
		*slot = cache[side].n > 0 ? cache[side].s[--cache[side].n] :
		    resp_scan_new(side);
	return (*slot);
}

/* Between frames a scanner holds nothing: give it back. */
void
rf_scan_put(struct resp_scan **slot, int side, int force)
{

	if (*slot == NULL || (!force && !resp_scan_idle(*slot)))
		return;
	resp_scan_reset(*slot);
	if (cache[side].n < SCAN_CACHE)
		cache[side].s[cache[side].n++] = *slot;
	else
		resp_scan_free(*slot);
	*slot = NULL;
}

void
resp_filter_release_cache(void)
{
	int side;

	for (side = 0; side < 2; side++)
		while (cache[side].n > 0)
			resp_scan_free(cache[side].s[--cache[side].n]);
}

/* ---- replies ------------------------------------------------------------ */

enum { A_FORWARD, A_DROP, A_STOP, A_BAD };

/* A complete reply frame: what to do with its bytes. */
static int
on_reply(struct resp_filter *f, const struct resp_frame *fr, int held)
{
	int kind;

	if (f->mode == M_IDLE)
		return (A_STOP);	/* nobody asked */
	f->kind = -1;
	if (match_unsolicited(&f->m, fr) && f->mode != M_PREPARE && f->mode != M_REAUTH)
		return (A_FORWARD);
	/*
	 * Unsynchronised: nothing is matched, but for a re-AUTH of ours
	 * still owed: the commands queued before it were matched exactly
	 * (matching stops at a later command), so pop up to it.
	 */
	kind = f->kind = f->m.unsync && !f->reauth_sent ? -1 :
	    match_pop(&f->m);
	if (f->reset_due && f->m.qlen == 0) {
		/* The last reply the client was owed: now clean up. */
		f->reset_due = 0;
		rf_send(f, Q_OWN_RESET, "RESET", NULL, NULL);
	}
	/*
	 * Our RESET is answered by a status line, held until whole; any
	 * other reply to it was partly passed on to the client already.
	 */
	if (kind >= Q_OWN_AUTH && !held && f->mode != M_PREPARE &&
	    f->mode != M_REAUTH)
		return (A_BAD);
	if (kind >= Q_OWN_AUTH) {
		rf_own_reply(f, kind, fr);
		return (A_DROP);
	}
	if (f->mode == M_PREPARE || f->mode == M_REAUTH)
		return (A_DROP);	/* no client is owed this */
	if (f->m.unsync && kind >= 0)
		return (A_FORWARD);	/* popped up to our re-AUTH */
	match_reply(&f->m, kind, fr);
	if (f->cl != NULL && (kind != Q_REPLY || f->txn))
		f->txn = rcl_reply(f->cl, kind, fr);	/* transactions */
	if (f->sc->role == ROLE_PRIMARY && fr->type == '-' &&
	    fr->arg[0].len >= 8 && memcmp(fr->arg[0].p, "READONLY", 8) == 0)
		return (A_STOP);
	return (A_FORWARD);
}

/* ---- the relay's filter ops --------------------------------------------- */

static int
emit(struct resp_filter *f, const char *p, size_t n)
{

	if (f->mode == M_PREPARE || f->mode == M_REAUTH || n == 0)
		return (0);
	return (relay_emit(f->r, RELAY_DOWN, p, n));
}

/*
 * A line reply that may answer a command of ours is held until whole; on
 * a cluster service, in a recycle, not one known to be the client's (a
 * MOVED is rewritten).
 */
static int
want_hold(const struct resp_filter *f, char c)
{
	int head;

	if (c != '+' && c != '-')
		return (0);
	head = match_head(&f->m);
	return (head >= Q_OWN_AUTH || (f->mode == M_RECYCLE &&
	    (f->cl == NULL || head < 0 || f->m.unsync)));
}

/* A cluster service's reply that may name nodes: any other costs a test. */
static int
cl_start(struct resp_filter *f, const char *p, size_t n)
{

	if (f->cl == NULL || (p[0] != '-' && p[0] != '!' && f->m.ncl == 0) ||
	    (f->mode != M_RELAY && f->mode != M_RECYCLE))
		return (0);
	return (rcl_start(f->cl, p, n, &f->m));
}

static int
input_down(struct resp_filter *f, const char *data, size_t len)
{
	size_t pos = 0, fwd = 0, used;
	int rc, act, held, head;

	while (pos < len) {
		if (f->holding == 0 && resp_scan_idle(f->down) &&
		    (held = want_hold(f, data[pos]) ? HOLD_OWN :
		    cl_start(f, data + pos, len - pos) ? HOLD_CL : 0) != 0) {
			if (emit(f, data + fwd, pos - fwd))
				return (-1);
			f->holding = held;
			f->nhold = 0;
			fwd = pos;
		}
		rc = resp_scan(f->down, data + pos, len - pos, &used);
		if (f->holding == HOLD_CL) {
			if ((act = rcl_feed(f->cl, data + pos, used)) < 0)
				return (-1);
			if (act == 0)
				fwd = pos + used;
			else {
				f->holding = 0;	/* passed on from fwd */
				if (rcl_release(f->cl))
					return (-1);
			}
		} else if (f->holding == HOLD_OWN) {
			head = match_head(&f->m);
			if (f->nhold + used <= HOLD_MAX) {
				memcpy(f->hold + f->nhold, data + pos, used);
				f->nhold += used;
				fwd = pos + used;
			} else if (f->reauth_sent && head == Q_OWN_AUTH) {
				/* Ours for sure (a long error): dropped whole. */
				f->nhold = HOLD_MAX;
				fwd = pos + used;
			} else if (head == Q_OWN_RESET) {
				/* Never to the client: it answers our RESET. */
				relay_fail(f->r, RELAY_DOWN, "the server's reply "
				    "to redtun's RESET is too long");
				return (-1);
			} else {
				/* Too long to be ours: pass it on. */
				if (emit(f, (const char *)f->hold, f->nhold))
					return (-1);
				f->holding = 0;
			}
		}
		pos += used;
		if (rc == RESP_BAD) {
			char why[96];

			snprintf(why, sizeof(why), "server protocol violation: "
			    "%s", resp_scan_error(f->down));
			relay_fail(f->r, RELAY_DOWN, why);
			return (-1);
		}
		if (rc != RESP_FRAME)
			continue;
		/* Not holding while the hooks run (client_done flushes). */
		held = f->holding;
		f->holding = 0;
		act = on_reply(f, resp_scan_frame(f->down), held == HOLD_OWN);
		if (act == A_BAD) {
			relay_fail(f->r, RELAY_DOWN, "the server answered "
			    "a command of redtun's with something other than a "
			    "status line");
			return (-1);
		}
		if (held == HOLD_OWN && act != A_DROP &&
		    emit(f, (const char *)f->hold, f->nhold))
			return (-1);
		if (held == HOLD_CL && act == A_DROP)
			rcl_drop(f->cl);
		else if (held == HOLD_CL && (rc = rcl_done(f->cl, f->kind)) != 0)
			return (rc < 0 ? -1 : rcl_wait_add(f->cl, data + pos,
			    len - pos));	/* the rest waits behind it */
		if (act == A_STOP) {
			if (f->mode == M_IDLE) {
				relay_fail(f->r, RELAY_DOWN, "the server sent "
				    "bytes nobody asked for");
				return (-1);
			}
			if (emit(f, data + fwd, pos - fwd))
				return (-1);
			f->h.readonly(f->h.arg);
			relay_close_after(f->r, RELAY_DOWN, "the server answered "
			    "READONLY (a failover?): client closed so that it "
			    "reconnects to the primary");
			return (0);
		}
		if (act == A_DROP)
			fwd = pos;
		if (f->reauth_due)
			rf_safe_point(f);	/* AUTH goes up, not down */
	}
	if (!f->holding && emit(f, data + fwd, len - fwd))
		return (-1);
	return (0);
}

static int
input_up(struct resp_filter *f, const char *data, size_t len)
{
	size_t pos = 0, used;
	int rc;

	while (!f->m.client_bad && pos < len) {
		rc = resp_scan(f->up, data + pos, len - pos, &used);
		pos += used;
		if (rc == RESP_FRAME)
			match_request(&f->m, resp_scan_frame(f->up));
		else if (rc == RESP_BAD) {
			/* Redis answers it and closes; we pass it on. */
			f->m.client_bad = 1;
			match_unsync(&f->m, "client protocol error");
		}
	}
	return (relay_emit(f->r, RELAY_UP, data, len));
}

/* Server bytes through the filter (relay input, or fed again). */
int
rf_down(void *st, const char *data, size_t len)
{
	struct resp_filter *f = st;
	int rc;

	if (scan_get(&f->down, RESP_REPLIES) == NULL) {
		relay_fail(f->r, RELAY_DOWN, "out of memory for the RESP filter");
		return (-1);
	}
	rc = input_down(f, data, len);
	rf_scan_put(&f->down, RESP_REPLIES, 0);
	return (rc);
}

static int
rf_input(void *st, struct relay *r, int dir, const char *data, size_t len)
{
	struct resp_filter *f = st;
	int rc;

	(void)r;
	if (dir == RELAY_UP) {
		if (scan_get(&f->up, RESP_REQUESTS) == NULL) {
			match_unsync(&f->m, "out of memory");
			f->m.client_bad = 1;
		}
		rc = input_up(f, data, len);
		rf_scan_put(&f->up, RESP_REQUESTS, f->m.client_bad);
		return (rc);
	}
	if (f->cl != NULL && rcl_waiting(f->cl))
		return (rcl_wait_add(f->cl, data, len));
	return (rf_down(f, data, len));
}

static int
rf_eof(void *st, struct relay *r, int dir)
{
	struct resp_filter *f = st;

	(void)r;
	if (dir == RELAY_DOWN) {
		/* Nothing more will come: what waits goes as it is. */
		if (f->cl != NULL && resp_filter_cluster_retry(f, 1) < 0)
			return (-1);
		if (f->holding == HOLD_OWN &&
		    emit(f, (const char *)f->hold, f->nhold))
			return (-1);
		f->holding = 0;
		return (f->cl != NULL ? rcl_release(f->cl) : 0);
	}
	if (f->mode == M_RELAY && f->h.client_eof != NULL &&
	    f->h.client_eof(f->h.arg))
		return (1);	/* no half-close: the connection is kept */
	f->up_eof = 1;		/* nothing of ours goes up after the FIN */
	return (0);
}

static size_t
rf_held(const void *st, int dir)
{
	const struct resp_filter *f = st;

	if (dir != RELAY_DOWN)
		return (0);
	return (f->nhold + (f->cl != NULL ? rcl_held(f->cl) : 0));
}

static void
rf_free(void *st)
{
	struct resp_filter *f = st;

	resp_scan_free(f->up);
	resp_scan_free(f->down);
	match_free(&f->m);
	rcl_free(f->cl);
	free(f);
}

const struct relay_filter_ops rf_ops = {
	"resp", rf_input, rf_eof, rf_held, rf_free
};

