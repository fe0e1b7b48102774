/*
 * Matching replies to commands, for the RESP filter (resp_filter.c): each
 * complete command (match_request) pushes the kind of reply it expects on
 * a ring (none for CLIENT REPLY OFF/SKIP'd commands, one per channel for
 * a RESP2 SUBSCRIBE, none for RESP3 (un)subscribes, whose confirmations
 * are push frames); each reply pops one (match_pop, then match_reply).
 * Push frames, RESP2 pub/sub messages and MONITOR output are not replies
 * (match_unsolicited).  MULTI/EXEC needs no special case: each queued
 * command gets +QUEUED, EXEC one array; RESET is not queued.  On a cluster
 * service MULTI, EXEC/DISCARD and the CLUSTER topology commands get kinds
 * of their own, so that their replies can be rewritten (resp_cluster.c).
 *
 * Where exact matching is impossible the state is marked unsynchronised
 * (match_unsync: a debug line says why) and nothing is pushed any more.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resp.h"
#include "resp_match.h"

void
match_unsync(struct resp_match *m, const char *why)
{

	if (m->unsync)
		return;
	m->unsync = 1;
	log_msg(LOG_LVL_DEBUG, m->name, "replies no longer matched to "
	    "commands: %s", why);
}

void
match_push(struct resp_match *m, int kind)
{
	uint8_t *nq;
	size_t i, ncap;

	if (m->unsync)
		return;
	if (m->qlen == m->qcap) {
		if (m->qcap >= MATCH_QUEUE_MAX) {
			match_unsync(m, "too many commands in flight");
			return;
		}
		ncap = m->qcap ? m->qcap * 2 : 16;
		if ((nq = malloc(ncap)) == NULL) {
			match_unsync(m, "out of memory");
			return;
		}
		for (i = 0; i < m->qlen; i++)
			nq[i] = m->q[(m->qhead + i) % m->qcap];
		free(m->q);
		m->q = nq;
		m->qcap = ncap;
		m->qhead = 0;
	}
	m->q[(m->qhead + m->qlen++) % m->qcap] = (uint8_t)kind;
	if (kind == Q_REPLY)
		return;		/* the common case: nothing to count */
	m->nblock += kind == Q_BLOCK;
	m->nsub += kind == Q_SUB;
	m->nhello += kind == Q_HELLO;
	m->nmonitor += kind == Q_MONITOR;
	m->ncl += kind >= Q_TXEND && kind <= Q_CL_REPLICAS;
}

int
match_pop(struct resp_match *m)
{
	int kind;

	if (m->qlen == 0)
		return (-1);
	kind = m->q[m->qhead];
	m->qhead = (m->qhead + 1) % m->qcap;
	m->qlen--;
	if (kind == Q_REPLY)
		return (kind);
	m->nblock -= kind == Q_BLOCK;
	m->nsub -= kind == Q_SUB;
	m->nhello -= kind == Q_HELLO;
	m->nmonitor -= kind == Q_MONITOR;
	m->ncl -= kind >= Q_TXEND && kind <= Q_CL_REPLICAS;
	return (kind);
}

int
match_head(const struct resp_match *m)
{

	return (m->qlen > 0 ? m->q[m->qhead] : -1);
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
	C_UNSUB, C_MONITOR, C_HELLO, C_RESET, C_BLOCK, C_CLUSTER
};

static const struct {
	const char *name;
	enum cmd cmd;
} cmds[] = {
	{ "BLPOP", C_BLOCK }, { "BRPOP", C_BLOCK }, { "BRPOPLPUSH", C_BLOCK },
	{ "BLMOVE", C_BLOCK }, { "BLMPOP", C_BLOCK }, { "BZPOPMIN", C_BLOCK },
	{ "BZPOPMAX", C_BLOCK }, { "BZMPOP", C_BLOCK }, { "CLIENT", C_CLIENT },
	{ "CLUSTER", C_CLUSTER },
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

/* What a command expects on a cluster service: a topology reply? */
static int
cluster_kind(const struct resp_match *m, enum cmd c,
    const struct resp_frame *fr)
{
	static const char *const subs[] = { "SLOTS", "SHARDS", "NODES",
	    "REPLICAS", "SLAVES" };
	size_t i;

	if (c != C_CLUSTER || !m->cluster || fr->nargs < 2)
		return (Q_REPLY);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (resp_arg_is(&fr->arg[1], subs[i]))
			return (Q_CL_SLOTS + (i < 3 ? (int)i : 3));
	return (Q_REPLY);
}

/* (P|S)(UN)SUBSCRIBE: RESP2 confirms each channel with a reply. */
static void
on_pubsub(struct resp_match *m, const struct resp_frame *fr, int sub)
{
	long long n = nargs(fr), i;

	if (m->nhello > 0) {
		match_unsync(m, "(un)subscribe before HELLO's reply");
		return;
	}
	if (m->proto3) {
		/* Confirmations are push frames; only an arity error is not. */
		if (n == 0 && sub)
			match_push(m, Q_REPLY);
		return;
	}
	if (n < 0 || (n == 0 && sub)) {
		if (n < 0)
			match_unsync(m, "(un)subscribe with too many channels");
		else
			match_push(m, Q_REPLY);	/* an arity error */
		return;
	}
	if (n == 0) {
		/* Everything: one reply per channel we did not count. */
		if (m->sub2 || m->nsub > 0)
			match_unsync(m, "unsubscribe from every channel");
		else
			match_push(m, Q_SUB);
		return;
	}
	for (i = 0; i < n && !m->unsync; i++)
		match_push(m, Q_SUB);
}

void
match_request(struct resp_match *m, const struct resp_frame *fr)
{
	const struct resp_arg *a = fr->arg;
	enum cmd c;
	int client_reply;

	/* An empty command gets no reply. */
	if (fr->nargs == 0 || (fr->type == '*' && fr->count <= 0))
		return;
	if ((c = classify(&a[0])) == C_OTHER && !m->unsync && !m->monitor &&
	    !m->reply_off && !m->skip_next && !m->multi && m->nmonitor == 0) {
		match_push(m, Q_REPLY);	/* the common case */
		return;
	}
	if (m->nmonitor > 0 && !m->unsync)
		match_unsync(m, "a command before MONITOR's reply");
	if (c == C_QUIT)
		m->quit = 1;
	if (c == C_CLIENT && resp_arg_is(&a[1], "NO-EVICT"))
		m->noevict = resp_arg_is(&a[2], "ON");
	if (m->unsync)
		return;
	if (m->monitor) {
		/*
		 * MONITOR output and replies are both status lines: only
		 * RESET's can be told apart, and it ends the mode.
		 */
		if (c == C_RESET)
			match_push(m, Q_RESET);
		return;
	}
	client_reply = c == C_CLIENT && resp_arg_is(&a[1], "REPLY");
	if (m->reply_off || m->skip_next) {
		m->skip_next = 0;
		if (client_reply && resp_arg_is(&a[2], "ON")) {
			m->reply_off = 0;
			match_push(m, Q_REPLY);
		} else if (changes_replies(c, fr))
			match_unsync(m, "reply mode changed while replies are off");
		return;
	}
	if (m->multi) {
		/* RESET is not queued: it ends the transaction. */
		if (c == C_RESET) {
			m->multi = 0;
			match_push(m, Q_RESET);
			return;
		}
		if (c == C_EXEC || c == C_DISCARD) {
			m->multi = 0;
			match_push(m, m->cluster ? Q_TXEND : Q_REPLY);
			return;
		}
		if (changes_replies(c, fr)) {
			match_unsync(m, "reply mode changed inside MULTI");
			return;
		}
		/* +QUEUED or an error; a CLUSTER command's is marked. */
		match_push(m, cluster_kind(m, c, fr));
		return;
	}
	switch (c) {
	case C_CLIENT:
		if (client_reply && resp_arg_is(&a[2], "OFF"))
			m->reply_off = 1;
		else if (client_reply && resp_arg_is(&a[2], "SKIP"))
			m->skip_next = 1;
		else
			match_push(m, Q_REPLY);
		break;
	case C_MULTI:
		m->multi = 1;
		match_push(m, m->cluster ? Q_MULTI : Q_REPLY);
		break;
	case C_CLUSTER:
		match_push(m, cluster_kind(m, c, fr));
		break;
	case C_SUB:
	case C_UNSUB:
		on_pubsub(m, fr, c == C_SUB);
		break;
	case C_MONITOR:
		match_push(m, Q_MONITOR);
		break;
	case C_HELLO:
		match_push(m, Q_HELLO);
		break;
	case C_RESET:
		match_push(m, Q_RESET);
		break;
	case C_BLOCK:
		match_push(m, Q_BLOCK);
		break;
	default:
		match_push(m, Q_REPLY);
		break;
	}
}

/* Not a reply to anything: pushes, RESP2 messages, MONITOR output. */
int
match_unsolicited(const struct resp_match *m, const struct resp_frame *fr)
{
	static const char *const msgs[] = { "message", "pmessage", "smessage",
	    NULL };

	if (fr->type == '>')
		return (1);
	if (m->sub2 && fr->type == '*' && is_any(&fr->arg[0], msgs))
		return (1);
	return (m->monitor && !(fr->type == '+' &&
	    resp_arg_is(&fr->arg[0], "RESET")));
}

void
match_client_reset(struct resp_match *m)
{

	m->proto3 = m->sub2 = m->monitor = m->multi = 0;
	m->reply_off = m->skip_next = 0;
}

/* What a reply of ${kind} (from match_pop) tells of the client's state. */
void
match_reply(struct resp_match *m, int kind, const struct resp_frame *fr)
{

	if (kind < 0 && !m->unsync)
		match_unsync(m, "a reply to no command");
	switch (kind) {
	case Q_HELLO:
		if (fr->type == '%')
			m->proto3 = 1;
		else if (fr->type == '*')
			m->proto3 = 0;
		break;
	case Q_MONITOR:
		m->monitor = fr->type == '+';
		break;
	case Q_RESET:
		if (fr->type == '+')
			match_client_reset(m);
		break;
	case Q_SUB:
		if (fr->type != '*' || fr->nargs < 3)
			break;
		if (is_any(&fr->arg[0], subscribes))
			m->sub2 = 1;
		else if (fr->arg[2].len == 1 && fr->arg[2].p[0] == '0')
			m->sub2 = 0;
		break;
	default:
		break;
	}
}

int
match_clean(const struct resp_match *m)
{

	/*
	 * Checked on redis-server 7.0.15: RESET ends CLIENT REPLY OFF, but
	 * its own reply is skipped after CLIENT REPLY SKIP, and CLIENT
	 * NO-EVICT on survives it.
	 */
	return (!m->unsync && !m->noevict && !m->quit && !m->client_bad &&
	    m->nblock == 0 && !m->skip_next);
}

void
match_clear(struct resp_match *m)
{

	m->noevict = m->quit = m->client_bad = m->unsync = 0;
	match_client_reset(m);
	m->qhead = m->qlen = m->nblock = m->nsub = m->nhello = 0;
	m->nmonitor = m->ncl = 0;
}

void
match_free(struct resp_match *m)
{

	free(m->q);
	m->q = NULL;
	m->qcap = m->qlen = m->qhead = 0;
}
