/*
 * The RESP filter on a tunnel's relay: both directions scanned (resp.c),
 * replies matched to commands (resp_match.c), and what redtun does with
 * that: AUTH and ROLE in the prepare phase, READONLY on a primary service,
 * RESET for reuse.  Bytes are forwarded as they come, never copied, except
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
#include "resp_match.h"

/* A reply to our own RESET or AUTH is a line far shorter than this. */
#define HOLD_MAX	64

/* Idle scanners kept per thread and side, for the next busy connection. */
#define SCAN_CACHE	64

enum rf_mode {
	M_PREPARE,	/* our AUTH/ROLE: replies are ours, nothing forwarded */
	M_RELAY,	/* a client is on it */
	M_RECYCLE,	/* the client is done; RESET is on its way */
	M_REAUTH,	/* after RESET: AUTH again, nothing forwarded */
	M_IDLE		/* clean, waiting for the next client */
};

struct resp_filter {
	struct relay *r;
	const struct svc_conf *sc;
	struct rf_hooks h;
	struct resp_scan *up, *down;
	struct resp_match m;		/* which reply answers what */
	struct rcl *cl;			/* a cluster service's rewriting */
	int kind;			/* what the last reply answered */
	int mode;
	int result;			/* of the prepare conversation */
	char why[128];
	uint8_t hold[HOLD_MAX];		/* a line that may be ours */
	size_t nhold;
	int holding;			/* the frame being read: HOLD_* */
	unsigned int no_reset:1;	/* the server does not know RESET */
	unsigned int reset_due:1;	/* RESET once owed replies are in */
	unsigned int txn:1;		/* cl: the server took MULTI */
};

/* Who holds the frame being read: hold[], or cl (a cluster reply). */
enum { HOLD_OWN = 1, HOLD_CL = 2 };
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
static void
scan_put(struct resp_scan **slot, int side, int force)
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

static void send_cmd(struct resp_filter *, int, const char *, const char *,
    const char *);

/* The prepare conversation or the re-AUTH after RESET is over. */
static void
own_done(struct resp_filter *f)
{

	if (match_head(&f->m) >= Q_OWN_AUTH)
		return;		/* more of ours to come */
	if (f->mode == M_PREPARE) {
		f->mode = M_RELAY;
		f->h.prepared(f->h.arg, f->result, f->why);
	} else if (f->mode == M_REAUTH) {
		f->mode = M_IDLE;
		f->h.recycled(f->h.arg, f->result, f->why);
	}
}

static void
own_reply(struct resp_filter *f, int kind, const struct resp_frame *fr)
{
	const struct resp_arg *a = &fr->arg[0];
	int err = fr->type == '-' || fr->type == '!';

	switch (kind) {
	case Q_OWN_AUTH:
		if (err && f->result == RF_OK) {
			f->result = RF_FAIL;
			snprintf(f->why, sizeof(f->why), "upstream AUTH failed: "
			    "%.*s%s", (int)(a->len < RESP_CAP_LEN ? a->len :
			    RESP_CAP_LEN), a->p, a->len > RESP_CAP_LEN ? "..." :
			    "");
		}
		break;
	case Q_OWN_ROLE:
		if (f->result != RF_OK)
			break;
		if (err || fr->type != '*' || !a->isstr) {
			f->result = RF_FAIL;
			if (err)
				snprintf(f->why, sizeof(f->why), "upstream ROLE "
				    "failed: %.*s", (int)(a->len < RESP_CAP_LEN ?
				    a->len : RESP_CAP_LEN), a->p);
			else
				snprintf(f->why, sizeof(f->why), "upstream ROLE "
				    "failed: unexpected reply");
		} else if (f->sc->role == ROLE_PRIMARY &&
		    !resp_arg_is(a, "master")) {
			f->result = RF_RETRY;
			snprintf(f->why, sizeof(f->why), "upstream is not the "
			    "primary (ROLE says %.*s); role = primary",
			    (int)(a->len < 16 ? a->len : 16), a->p);
		} else if (f->sc->role == ROLE_REPLICA &&
		    resp_arg_is(a, "master"))
			snprintf(f->why, sizeof(f->why), "upstream is a "
			    "primary (ROLE says master), used anyway with "
			    "role = replica");
		break;
	case Q_OWN_RESET:
		if (err || !resp_arg_is(a, "RESET")) {
			f->no_reset = 1;
			f->result = RF_FAIL;
			snprintf(f->why, sizeof(f->why), "the server does not "
			    "support RESET (Redis before 6.2?): connections "
			    "are not reused");
		}
		match_client_reset(&f->m);
		f->h.client_done(f->h.arg);
		if (f->result == RF_OK && f->sc->password != NULL) {
			f->mode = M_REAUTH;
			send_cmd(f, Q_OWN_AUTH, "AUTH", f->sc->username,
			    f->sc->password);
			return;
		}
		f->mode = M_IDLE;
		f->h.recycled(f->h.arg, f->result, f->why);
		return;
	default:
		break;
	}
	own_done(f);
}

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
	kind = f->kind = f->m.unsync ? -1 : match_pop(&f->m);
	if (f->reset_due && f->m.qlen == 0) {
		/* The last reply the client was owed: now clean up. */
		f->reset_due = 0;
		send_cmd(f, Q_OWN_RESET, "RESET", NULL, NULL);
	}
	/*
	 * Our RESET is answered by a status line, held until whole; any
	 * other reply to it was partly passed on to the client already.
	 */
	if (kind >= Q_OWN_AUTH && !held && f->mode != M_PREPARE &&
	    f->mode != M_REAUTH)
		return (A_BAD);
	if (kind >= Q_OWN_AUTH) {
		own_reply(f, kind, fr);
		return (A_DROP);
	}
	if (f->mode == M_PREPARE || f->mode == M_REAUTH)
		return (A_DROP);	/* no client is owed this */
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
	int rc, act, held;

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
			if (f->nhold + used > HOLD_MAX &&
			    match_head(&f->m) == Q_OWN_RESET) {
				/* Never to the client: it answers our RESET. */
				relay_fail(f->r, RELAY_DOWN, "the server's reply "
				    "to redtun's RESET is too long");
				return (-1);
			}
			if (f->nhold + used > HOLD_MAX) {
				/* Too long to be ours: pass it on. */
				if (emit(f, (const char *)f->hold, f->nhold))
					return (-1);
				f->holding = 0;
			} else {
				memcpy(f->hold + f->nhold, data + pos, used);
				f->nhold += used;
				fwd = pos + used;
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
			    "redtun's RESET with something other than a status "
			    "line");
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
static int
down(void *st, const char *data, size_t len)
{
	struct resp_filter *f = st;
	int rc;

	if (scan_get(&f->down, RESP_REPLIES) == NULL) {
		relay_fail(f->r, RELAY_DOWN, "out of memory for the RESP filter");
		return (-1);
	}
	rc = input_down(f, data, len);
	scan_put(&f->down, RESP_REPLIES, 0);
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
		scan_put(&f->up, RESP_REQUESTS, f->m.client_bad);
		return (rc);
	}
	if (f->cl != NULL && rcl_waiting(f->cl))
		return (rcl_wait_add(f->cl, data, len));
	return (down(f, data, len));
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

static const struct relay_filter_ops rf_ops = {
	"resp", rf_input, rf_eof, rf_held, rf_free
};

/* ---- the tunnel's side -------------------------------------------------- */

/* Send ${cmd} [${a1}] [${a2}] upstream as one RESP array. */
static void
send_cmd(struct resp_filter *f, int kind, const char *cmd, const char *a1,
    const char *a2)
{
	const char *argv[3] = { cmd, a1, a2 };
	char buf[2 * 4096 + 128];
	size_t n = 0, i, argc = 1 + (a1 != NULL) + (a2 != NULL);
	int w;

	if (a1 == NULL)
		argv[1] = a2;
	w = snprintf(buf, sizeof(buf), "*%zu\r\n", argc);
	n = (size_t)w;
	for (i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);

		w = snprintf(buf + n, sizeof(buf) - n, "$%zu\r\n%s\r\n", l,
		    argv[i]);
		n += (size_t)w;
	}
	match_push(&f->m, kind);
	(void)relay_emit(f->r, RELAY_UP, buf, n);
	explicit_bzero(buf, sizeof(buf));	/* it held the password */
}

struct resp_filter *
resp_filter_attach(struct relay *r, const struct svc_conf *sc,
    const struct rf_hooks *hooks, const char *name)
{
	struct resp_filter *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return (NULL);
	f->r = r;
	f->sc = sc;
	f->h = *hooks;
	f->m.name = name;
	f->mode = M_RELAY;
	if (hooks->cluster_map != NULL) {
		if ((f->cl = rcl_new(name, r, hooks->cluster_map,
		    hooks->cluster_miss, hooks->arg, down, f)) == NULL) {
			free(f);
			return (NULL);
		}
		rcl_on_rewrite(f->cl, hooks->cluster_rewritten);
		f->m.cluster = 1;
	}
	relay_set_filter(r, &rf_ops, f);
	return (f);
}

void
resp_filter_prepare(struct resp_filter *f)
{

	f->mode = M_PREPARE;
	f->result = RF_OK;
	f->why[0] = '\0';
	if (f->sc->password != NULL)
		send_cmd(f, Q_OWN_AUTH, "AUTH", f->sc->username,
		    f->sc->password);
	if (f->sc->role != ROLE_ANY)
		send_cmd(f, Q_OWN_ROLE, "ROLE", NULL, NULL);
	if (f->m.qlen == 0) {
		f->mode = M_RELAY;
		f->h.prepared(f->h.arg, RF_OK, "");
	}
}

int
resp_filter_reusable(const struct resp_filter *f)
{

	/* Not with replies held for the node map: that ends as it is. */
	return (f->mode == M_RELAY && !f->no_reset && match_clean(&f->m) &&
	    (f->up == NULL || resp_scan_idle(f->up)) &&
	    (f->cl == NULL || !rcl_waiting(f->cl)));
}

void
resp_filter_recycle(struct resp_filter *f)
{

	f->mode = M_RECYCLE;
	f->result = RF_OK;
	f->why[0] = '\0';
	/*
	 * Not while replies are still owed: Redis would run RESET with
	 * megabytes still queued for this connection, and may close it
	 * (seen: "closed for overcoming of output buffer limits").
	 */
	if (f->m.qlen == 0)
		send_cmd(f, Q_OWN_RESET, "RESET", NULL, NULL);
	else
		f->reset_due = 1;
}

void
resp_filter_restart(struct resp_filter *f)
{

	f->mode = M_RELAY;
	match_clear(&f->m);
	scan_put(&f->up, RESP_REQUESTS, 1);
	scan_put(&f->down, RESP_REPLIES, 1);
	f->holding = 0;
	f->txn = 0;
	f->nhold = 0;
	f->reset_due = 0;
	if (f->cl != NULL)
		rcl_reset(f->cl);
}

int
resp_filter_no_reset(const struct resp_filter *f)
{

	return (f->no_reset);
}

int
resp_filter_cluster_retry(struct resp_filter *f, int give_up)
{

	return (f->cl != NULL ? rcl_retry(f->cl, give_up) : 0);
}
