/*
 * The RESP filter: request/reply matching over the relay, and what redtun
 * does with it (AUTH and ROLE in the prepare phase, READONLY on a primary
 * service, RESET for reuse).  Bytes are forwarded as they come, never
 * copied, except a short status line that may be a reply to a command of
 * our own: it is held until it is complete, then dropped or passed on.
 *
 * Matching: each command the client sends pushes the kind of reply it
 * expects on a queue (none for CLIENT REPLY OFF/SKIP'd commands, one per
 * channel for a RESP2 SUBSCRIBE, none for RESP3 (un)subscribes, whose
 * confirmations are push frames); each reply pops one.  Push frames, RESP2
 * pub/sub messages and MONITOR output are not replies.  MULTI/EXEC needs no
 * special case: each queued command gets +QUEUED, EXEC one array.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "relay.h"
#include "resp.h"
#include "resp_filter.h"

/* A reply to our own RESET or AUTH is a line far shorter than this. */
#define HOLD_MAX	64

/* Idle scanners kept per thread and side, for the next busy connection. */
#define SCAN_CACHE	64

enum q_kind {
	Q_REPLY, Q_BLOCK, Q_HELLO, Q_MONITOR, Q_RESET, Q_SUB,
	Q_OWN_AUTH, Q_OWN_ROLE, Q_OWN_RESET
};

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
	const char *name;
	struct resp_scan *up, *down;
	uint8_t *q;			/* ring of enum q_kind */
	size_t qhead, qlen, qcap;
	size_t nblock;			/* Q_BLOCK entries in the ring */
	size_t nsub;			/* Q_SUB entries in the ring */
	size_t nhello;			/* Q_HELLO entries in the ring */
	size_t nmonitor;		/* Q_MONITOR entries in the ring */
	int mode;
	int result;			/* of the prepare conversation */
	char why[128];
	uint8_t hold[HOLD_MAX];		/* a line that may be ours */
	size_t nhold;
	unsigned int holding:1;
	unsigned int proto3:1;		/* HELLO 3 */
	unsigned int sub2:1;		/* RESP2 subscribed */
	unsigned int monitor:1;
	unsigned int multi:1;
	unsigned int reply_off:1, skip_next:1;
	unsigned int unsync:1;		/* matching has stopped */
	unsigned int noevict:1, quit:1, client_bad:1;
	unsigned int no_reset:1;	/* the server does not know RESET */
	unsigned int reset_due:1;	/* RESET once owed replies are in */
};

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

/* ---- the queue of expected replies ------------------------------------ */

static void
unsync(struct resp_filter *f, const char *why)
{

	if (f->unsync)
		return;
	f->unsync = 1;
	log_msg(LOG_LVL_DEBUG, f->name, "replies no longer matched to "
	    "commands: %s", why);
}

static void
q_push(struct resp_filter *f, int kind)
{
	uint8_t *nq;
	size_t i, ncap;

	if (f->unsync)
		return;
	if (f->qlen == f->qcap) {
		if (f->qcap >= RF_QUEUE_MAX) {
			unsync(f, "too many commands in flight");
			return;
		}
		ncap = f->qcap ? f->qcap * 2 : 16;
		if ((nq = malloc(ncap)) == NULL) {
			unsync(f, "out of memory");
			return;
		}
		for (i = 0; i < f->qlen; i++)
			nq[i] = f->q[(f->qhead + i) % f->qcap];
		free(f->q);
		f->q = nq;
		f->qcap = ncap;
		f->qhead = 0;
	}
	f->q[(f->qhead + f->qlen++) % f->qcap] = (uint8_t)kind;
	f->nblock += kind == Q_BLOCK;
	f->nsub += kind == Q_SUB;
	f->nhello += kind == Q_HELLO;
	f->nmonitor += kind == Q_MONITOR;
}

static int
q_pop(struct resp_filter *f)
{
	int kind;

	if (f->qlen == 0)
		return (-1);
	kind = f->q[f->qhead];
	f->qhead = (f->qhead + 1) % f->qcap;
	f->qlen--;
	f->nblock -= kind == Q_BLOCK;
	f->nsub -= kind == Q_SUB;
	f->nhello -= kind == Q_HELLO;
	f->nmonitor -= kind == Q_MONITOR;
	return (kind);
}

static int
q_head(const struct resp_filter *f)
{

	return (f->qlen > 0 ? f->q[f->qhead] : -1);
}

/* ---- commands ----------------------------------------------------------- */

static int
is_any(const struct resp_arg *a, const char *const *words)
{

	for (; *words != NULL; words++)
		if (resp_arg_is(a, *words))
			return (1);
	return (0);
}

static const char *const subscribes[] = {
	"subscribe", "psubscribe", "ssubscribe", NULL
};

/*
 * The commands the matching cares about, found with one lookup per
 * command: most commands (GET, SET: under 4 or over 12 bytes, or another
 * first letter) cost a length check.
 */
enum cmd {
	C_OTHER, C_QUIT, C_CLIENT, C_MULTI, C_EXEC, C_DISCARD, C_SUB,
	C_UNSUB, C_MONITOR, C_HELLO, C_RESET, C_BLOCK
};

static const struct {
	const char *name;
	enum cmd cmd;
} cmds[] = {
	{ "BLPOP", C_BLOCK }, { "BRPOP", C_BLOCK }, { "BRPOPLPUSH", C_BLOCK },
	{ "BLMOVE", C_BLOCK }, { "BLMPOP", C_BLOCK }, { "BZPOPMIN", C_BLOCK },
	{ "BZPOPMAX", C_BLOCK }, { "BZMPOP", C_BLOCK }, { "CLIENT", C_CLIENT },
	{ "DISCARD", C_DISCARD }, { "EXEC", C_EXEC }, { "HELLO", C_HELLO },
	{ "MONITOR", C_MONITOR }, { "MULTI", C_MULTI },
	{ "PSUBSCRIBE", C_SUB }, { "PUNSUBSCRIBE", C_UNSUB },
	{ "QUIT", C_QUIT }, { "RESET", C_RESET }, { "SSUBSCRIBE", C_SUB },
	{ "SUBSCRIBE", C_SUB }, { "SUNSUBSCRIBE", C_UNSUB },
	{ "UNSUBSCRIBE", C_UNSUB }, { "WAIT", C_BLOCK }, { "WAITAOF", C_BLOCK },
	{ "XREAD", C_BLOCK }, { "XREADGROUP", C_BLOCK },
};

static enum cmd
classify(const struct resp_arg *a)
{
	char up[16];
	size_t i;

	if (!a->isstr || a->len < 4 || a->len > 12)
		return (C_OTHER);
	switch (a->p[0] | 0x20) {
	case 'b': case 'c': case 'd': case 'e': case 'h': case 'm': case 'p':
	case 'q': case 'r': case 's': case 'u': case 'w': case 'x':
		break;
	default:
		return (C_OTHER);
	}
	for (i = 0; i < a->len; i++)
		up[i] = (a->p[i] >= 'a' && a->p[i] <= 'z') ? a->p[i] - 32 :
		    a->p[i];
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].name[0] == up[0] && strlen(cmds[i].name) ==
		    a->len && memcmp(cmds[i].name, up, a->len) == 0)
			return (cmds[i].cmd);
	return (C_OTHER);
}

/* Commands that change how replies come: not matched inside MULTI. */
static int
changes_replies(enum cmd c, const struct resp_frame *fr)
{

	return (c == C_SUB || c == C_UNSUB || c == C_MONITOR || c == C_HELLO ||
	    c == C_RESET || (c == C_CLIENT && resp_arg_is(&fr->arg[1],
	    "REPLY")));
}

/* Arguments after the name, or -1 if not known (a long inline line). */
static long long
nargs(const struct resp_frame *fr)
{

	if (fr->type == '*')
		return (fr->count - 1);
	return (fr->nargs < RESP_CAP_ARGS ? fr->nargs - 1 : -1);
}

/* (P|S)(UN)SUBSCRIBE: RESP2 confirms each channel with a reply. */
static void
on_pubsub(struct resp_filter *f, const struct resp_frame *fr, int sub)
{
	long long n = nargs(fr), i;

	if (f->nhello > 0) {
		unsync(f, "(un)subscribe before HELLO's reply");
		return;
	}
	if (f->proto3) {
		/* Confirmations are push frames; only an arity error is not. */
		if (n == 0 && sub)
			q_push(f, Q_REPLY);
		return;
	}
	if (n < 0 || (n == 0 && sub)) {
		if (n < 0)
			unsync(f, "(un)subscribe with too many channels");
		else
			q_push(f, Q_REPLY);	/* an arity error */
		return;
	}
	if (n == 0) {
		/* Everything: one reply per channel we did not count. */
		if (f->sub2 || f->nsub > 0)
			unsync(f, "unsubscribe from every channel");
		else
			q_push(f, Q_SUB);
		return;
	}
	for (i = 0; i < n && !f->unsync; i++)
		q_push(f, Q_SUB);
}

static void
on_request(struct resp_filter *f, const struct resp_frame *fr)
{
	const struct resp_arg *a = fr->arg;
	enum cmd c;
	int client_reply;

	/* An empty command gets no reply. */
	if (fr->nargs == 0 || (fr->type == '*' && fr->count <= 0))
		return;
	if ((c = classify(&a[0])) == C_OTHER && !f->unsync && !f->monitor &&
	    !f->reply_off && !f->skip_next && !f->multi && f->nmonitor == 0) {
		q_push(f, Q_REPLY);	/* the common case */
		return;
	}
	if (f->nmonitor > 0 && !f->unsync)
		unsync(f, "a command before MONITOR's reply");
	if (c == C_QUIT)
		f->quit = 1;
	if (c == C_CLIENT && resp_arg_is(&a[1], "NO-EVICT"))
		f->noevict = resp_arg_is(&a[2], "ON");
	if (f->unsync)
		return;
	if (f->monitor) {
		/*
		 * MONITOR output and replies are both status lines: only
		 * RESET's can be told apart, and it ends the mode.
		 */
		if (c == C_RESET)
			q_push(f, Q_RESET);
		return;
	}
	client_reply = c == C_CLIENT && resp_arg_is(&a[1], "REPLY");
	if (f->reply_off || f->skip_next) {
		f->skip_next = 0;
		if (client_reply && resp_arg_is(&a[2], "ON")) {
			f->reply_off = 0;
			q_push(f, Q_REPLY);
		} else if (changes_replies(c, fr))
			unsync(f, "reply mode changed while replies are off");
		return;
	}
	if (f->multi) {
		/* RESET is not queued: it ends the transaction. */
		if (c == C_RESET) {
			f->multi = 0;
			q_push(f, Q_RESET);
			return;
		}
		if (c == C_EXEC || c == C_DISCARD)
			f->multi = 0;
		else if (changes_replies(c, fr)) {
			unsync(f, "reply mode changed inside MULTI");
			return;
		}
		q_push(f, Q_REPLY);	/* +QUEUED, an error, or EXEC's */
		return;
	}
	switch (c) {
	case C_CLIENT:
		if (client_reply && resp_arg_is(&a[2], "OFF"))
			f->reply_off = 1;
		else if (client_reply && resp_arg_is(&a[2], "SKIP"))
			f->skip_next = 1;
		else
			q_push(f, Q_REPLY);
		break;
	case C_MULTI:
		f->multi = 1;
		q_push(f, Q_REPLY);
		break;
	case C_SUB:
	case C_UNSUB:
		on_pubsub(f, fr, c == C_SUB);
		break;
	case C_MONITOR:
		q_push(f, Q_MONITOR);
		break;
	case C_HELLO:
		q_push(f, Q_HELLO);
		break;
	case C_RESET:
		q_push(f, Q_RESET);
		break;
	case C_BLOCK:
		q_push(f, Q_BLOCK);
		break;
	default:
		q_push(f, Q_REPLY);
		break;
	}
}

/* ---- replies ------------------------------------------------------------ */

enum { A_FORWARD, A_DROP, A_STOP, A_BAD };

/* Not a reply to anything: pushes, RESP2 messages, MONITOR output. */
static int
unsolicited(const struct resp_filter *f, const struct resp_frame *fr)
{
	static const char *const msgs[] = { "message", "pmessage", "smessage",
	    NULL };

	if (fr->type == '>')
		return (1);
	if (f->sub2 && fr->type == '*' && is_any(&fr->arg[0], msgs))
		return (1);
	return (f->monitor && !(fr->type == '+' &&
	    resp_arg_is(&fr->arg[0], "RESET")));
}

static void
client_state_reset(struct resp_filter *f)
{

	f->proto3 = f->sub2 = f->monitor = f->multi = 0;
	f->reply_off = f->skip_next = 0;
}

static void send_cmd(struct resp_filter *, int, const char *, const char *,
    const char *);

/* The prepare conversation or the re-AUTH after RESET is over. */
static void
own_done(struct resp_filter *f)
{

	if (q_head(f) >= Q_OWN_AUTH)
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
		client_state_reset(f);
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
	if (unsolicited(f, fr) && f->mode != M_PREPARE && f->mode != M_REAUTH)
		return (A_FORWARD);
	kind = f->unsync ? -1 : q_pop(f);
	if (f->reset_due && f->qlen == 0) {
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
	if (kind < 0 && !f->unsync)
		unsync(f, "a reply to no command");
	switch (kind) {
	case Q_HELLO:
		if (fr->type == '%')
			f->proto3 = 1;
		else if (fr->type == '*')
			f->proto3 = 0;
		break;
	case Q_MONITOR:
		f->monitor = fr->type == '+';
		break;
	case Q_RESET:
		if (fr->type == '+')
			client_state_reset(f);
		break;
	case Q_SUB:
		if (fr->type != '*' || fr->nargs < 3)
			break;
		if (is_any(&fr->arg[0], subscribes))
			f->sub2 = 1;
		else if (fr->arg[2].len == 1 && fr->arg[2].p[0] == '0')
			f->sub2 = 0;
		break;
	default:
		break;
	}
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

/* A line reply that may answer a command of ours is held until whole. */
static int
want_hold(const struct resp_filter *f, char c)
{

	return ((c == '+' || c == '-') && (f->mode == M_RECYCLE ||
	    q_head(f) >= Q_OWN_AUTH));
}

static int
input_down(struct resp_filter *f, const char *data, size_t len)
{
	size_t pos = 0, fwd = 0, used;
	int rc, act, held;

	while (pos < len) {
		if (!f->holding && resp_scan_idle(f->down) &&
		    want_hold(f, data[pos])) {
			if (emit(f, data + fwd, pos - fwd))
				return (-1);
			f->holding = 1;
			f->nhold = 0;
			fwd = pos;
		}
		rc = resp_scan(f->down, data + pos, len - pos, &used);
		if (f->holding) {
			if (f->nhold + used > HOLD_MAX &&
			    q_head(f) == Q_OWN_RESET) {
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
		act = on_reply(f, resp_scan_frame(f->down), held);
		if (act == A_BAD) {
			relay_fail(f->r, RELAY_DOWN, "the server answered "
			    "redtun's RESET with something other than a status "
			    "line");
			return (-1);
		}
		if (held && act != A_DROP &&
		    emit(f, (const char *)f->hold, f->nhold))
			return (-1);
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

	while (!f->client_bad && pos < len) {
		rc = resp_scan(f->up, data + pos, len - pos, &used);
		pos += used;
		if (rc == RESP_FRAME)
			on_request(f, resp_scan_frame(f->up));
		else if (rc == RESP_BAD) {
			/* Redis answers it and closes; we pass it on. */
			f->client_bad = 1;
			unsync(f, "client protocol error");
		}
	}
	return (relay_emit(f->r, RELAY_UP, data, len));
}

static int
rf_input(void *st, struct relay *r, int dir, const char *data, size_t len)
{
	struct resp_filter *f = st;
	int rc;

	(void)r;
	if (dir == RELAY_UP) {
		if (scan_get(&f->up, RESP_REQUESTS) == NULL) {
			unsync(f, "out of memory");
			f->client_bad = 1;
		}
		rc = input_up(f, data, len);
		scan_put(&f->up, RESP_REQUESTS, f->client_bad);
		return (rc);
	}
	if (scan_get(&f->down, RESP_REPLIES) == NULL) {
		relay_fail(f->r, RELAY_DOWN, "out of memory for the RESP filter");
		return (-1);
	}
	rc = input_down(f, data, len);
	scan_put(&f->down, RESP_REPLIES, 0);
	return (rc);
}

static int
rf_eof(void *st, struct relay *r, int dir)
{
	struct resp_filter *f = st;

	(void)r;
	if (dir == RELAY_DOWN) {
		if (f->holding && emit(f, (const char *)f->hold, f->nhold))
			return (-1);
		f->holding = 0;
		return (0);
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

	return (dir == RELAY_DOWN ? f->nhold : 0);
}

static void
rf_free(void *st)
{
	struct resp_filter *f = st;

	resp_scan_free(f->up);
	resp_scan_free(f->down);
	free(f->q);
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
	q_push(f, kind);
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
	f->name = name;
	f->mode = M_RELAY;
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
	if (f->qlen == 0) {
		f->mode = M_RELAY;
		f->h.prepared(f->h.arg, RF_OK, "");
	}
}

int
resp_filter_reusable(const struct resp_filter *f)
{

	/*
	 * Checked on redis-server 7.0.15: RESET ends CLIENT REPLY OFF, but
	 * its own reply is skipped after CLIENT REPLY SKIP, and CLIENT
	 * NO-EVICT on survives it.
	 */
	return (f->mode == M_RELAY && !f->unsync && !f->noevict && !f->quit &&
	    !f->client_bad && !f->no_reset && f->nblock == 0 &&
	    !f->skip_next && (f->up == NULL || resp_scan_idle(f->up)));
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
	if (f->qlen == 0)
		send_cmd(f, Q_OWN_RESET, "RESET", NULL, NULL);
	else
		f->reset_due = 1;
}

void
resp_filter_restart(struct resp_filter *f)
{

	f->mode = M_RELAY;
	f->noevict = f->quit = f->client_bad = f->unsync = 0;
	client_state_reset(f);
	scan_put(&f->up, RESP_REQUESTS, 1);
	scan_put(&f->down, RESP_REPLIES, 1);
	f->qhead = f->qlen = f->nblock = f->nsub = f->nhello = 0;
	f->nmonitor = 0;
	f->holding = 0;
	f->nhold = 0;
	f->reset_due = 0;
}

int
resp_filter_no_reset(const struct resp_filter *f)
{

	return (f->no_reset);
}
