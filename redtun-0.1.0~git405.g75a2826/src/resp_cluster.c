/*
 * Cluster replies rewritten on the fly, for the RESP filter: MOVED/ASK
 * errors, replies to CLUSTER SLOTS/SHARDS/NODES/REPLICAS, and those
 * replies inside EXEC's array.  Only such frames are copied (held until
 * complete); the decision is made on a frame's first bytes, so every other
 * reply costs a comparison or two.  A frame naming a node the map does not
 * have yet is held with everything after it, in order, until the map has
 * it or the tunnel gives up (rcl_deliver).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_map.h"
#include "cluster_rewrite.h"
#include "log.h"
#include "relay.h"
#include "resp.h"
#include "resp_cluster.h"
#include "resp_match.h"

/* What is held. */
enum { H_NONE, H_REDIRECT, H_TOPOLOGY };

/* A buffer over this is freed once its frame is sent, not kept. */
#define KEEP_MAX	(16 * 1024)

struct buf {
	char *p;
	size_t n, cap;
};

struct rcl {
	const char *name;
	struct relay *r;
	const struct cmap *(*map)(void *);
	void (*miss)(void *, const char *, unsigned int);
	void (*rewritten)(void *);	/* counts rewrites; may be NULL */
	void *arg;
	int (*feed)(void *, const char *, size_t);
	void *fst;
	struct buf hold;		/* the frame held */
	struct buf wait;		/* server bytes after a waiting frame */
	int how;			/* H_*: what is held */
	int kind;			/* what the complete frame answers */
	unsigned int decided:1;		/* a MOVED/ASK prefix was seen */
	unsigned int waiting:1;
	unsigned int nowait:1;
	unsigned int txn:1;		/* the server took MULTI */
	unsigned int plan_full:1;	/* logged once */
	unsigned int queued;		/* +QUEUED so far in the transaction */
	unsigned int nplan;
	struct {
		unsigned int pos;	/* in EXEC's array */
		int kind;		/* enum crw_kind */
	} plan[RCL_PLAN_MAX];
};

static const char *const kind_name[] = {
	"SLOTS", "SHARDS", "NODES", "REPLICAS"
};

static int
buf_add(struct buf *b, const char *p, size_t n)
{
	size_t ncap;
	char *np;

	if (n == 0)
		return (0);
	if (n > b->cap - b->n) {
		for (ncap = b->cap ? b->cap : 256; ncap - b->n < n; ncap *= 2)
			;
		if ((np = realloc(b->p, ncap)) == NULL)
			return (-1);
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return (0);
}

/* Empty ${b}; a big buffer goes (one 1 MiB reply must not stay). */
static void
buf_clear(struct buf *b)
{

	b->n = 0;
	if (b->cap > KEEP_MAX) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
}

static void
no_miss(void *arg, const char *host, unsigned int port)
{

	(void)arg;
	(void)host;
	(void)port;
}

struct rcl *
rcl_new(const char *name, struct relay *r, const struct cmap *(*map)(void *),
    void (*miss)(void *, const char *, unsigned int), void *arg,
    int (*feed)(void *, const char *, size_t), void *fst)
{
	struct rcl *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	c->name = name;
	c->r = r;
	c->map = map;
	c->miss = miss != NULL ? miss : no_miss;
	c->arg = arg;
	c->feed = feed;
	c->fst = fst;
	return (c);
}

void
rcl_on_rewrite(struct rcl *c, void (*rewritten)(void *))
{

	c->rewritten = rewritten;
}

/* Out of memory: the tunnel ends (-1). */
static int
oom(struct rcl *c)
{

	relay_fail(c->r, RELAY_DOWN, "out of memory for the RESP filter");
	return (-1);
}

/* ---- which frames are held ---------------------------------------------- */

/* -1: ${p} (${n} bytes) does not start ${w}; 1: it does; 0: too short. */
static int
prefix(const char *p, size_t n, const char *w)
{
	size_t k;

	for (k = 0; k < n && w[k] != '\0'; k++)
		if (p[k] != w[k])
			return (-1);
	return (w[k] == '\0' ? 1 : 0);
}

/*
 * Whether the error frame whose first ${n} bytes are ${p} is a MOVED or
 * ASK: -1 no, 1 yes, 0 not known yet.  A RESP3 blob error has its length
 * line first.
 */
static int
redirect_verdict(const char *p, size_t n)
{
	size_t i = 1;
	int a, b;

	if (p[0] == '!') {
		while (i < n && i < 12 && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == n)
			return (0);
		if (i == 1 || p[i] != '\r')
			return (-1);
		if (++i == n)
			return (0);
		if (p[i++] != '\n')
			return (-1);
	}
	a = prefix(p + i, n - i, "MOVED ");
	b = prefix(p + i, n - i, "ASK ");
	if (a > 0 || b > 0)
		return (1);
	return (a < 0 && b < 0 ? -1 : 0);
}

int
rcl_start(struct rcl *c, const char *p, size_t n,
    const struct resp_match *m)
{
	int head;

	if (p[0] == '-' || p[0] == '!') {
		if (redirect_verdict(p, n < 32 ? n : 32) < 0)
			return (0);	/* the common error: not held */
		c->how = H_REDIRECT;
		c->decided = 0;
		return (1);
	}
	if (m->ncl == 0 || m->unsync || p[0] == '>')
		return (0);
	head = match_head(m);
	/* Inside a transaction a CLUSTER command's reply is +QUEUED. */
	if (!(Q_IS_CL(head) && !c->txn) &&
	    !(head == Q_TXEND && c->txn && c->nplan > 0))
		return (0);
	c->how = H_TOPOLOGY;
	return (1);
}

int
rcl_feed(struct rcl *c, const char *p, size_t n)
{
	char tmp[32];
	size_t k, t;

	if (c->how == H_REDIRECT) {
		if (n > RCL_REDIRECT_MAX - c->hold.n)
			return (1);
		if (!c->decided) {
			/* Undecided means under 20 bytes held. */
			k = c->hold.n < sizeof(tmp) ? c->hold.n : sizeof(tmp);
			if (k > 0)
				memcpy(tmp, c->hold.p, k);
			t = n < sizeof(tmp) - k ? n : sizeof(tmp) - k;
			memcpy(tmp + k, p, t);
			switch (redirect_verdict(tmp, k + t)) {
			case -1:
				return (1);
			case 1:
				c->decided = 1;
				break;
			default:
				break;
			}
		}
	} else if (n > CRW_OUT_MAX - c->hold.n) {
		log_msg(LOG_LVL_WARNING, c->name, "a reply to CLUSTER is over "
		    "%d bytes: passed on unchanged, not rewritten",
		    CRW_OUT_MAX);
		return (1);
	}
	return (buf_add(&c->hold, p, n) ? oom(c) : 0);
}

static void
hold_clear(struct rcl *c)
{

	c->how = H_NONE;
	c->waiting = 0;
	buf_clear(&c->hold);
}

int
rcl_release(struct rcl *c)
{
	int rc;

	if (c->how == H_NONE || c->waiting)
		return (0);
	rc = relay_emit(c->r, RELAY_DOWN, c->hold.p, c->hold.n);
	hold_clear(c);
	return (rc);
}

void
rcl_drop(struct rcl *c)
{

	hold_clear(c);
}

/* ---- transactions ------------------------------------------------------- */

int
rcl_reply(struct rcl *c, int kind, const struct resp_frame *fr)
{

	switch (kind) {
	case Q_MULTI:
		c->txn = fr->type == '+';
		c->queued = c->nplan = 0;
		break;
	case Q_TXEND:
		/* EXEC's array is rewritten by rcl_done; else forgotten. */
		c->txn = 0;
		if (fr->type != '*')
			c->nplan = 0;
		break;
	case Q_RESET:
		if (fr->type == '+')
			c->txn = c->nplan = 0;
		break;
	default:
		/* Only commands the server queued are in EXEC's array. */
		if (!c->txn || fr->type != '+' ||
		    !resp_arg_is(&fr->arg[0], "QUEUED"))
			break;
		if (Q_IS_CL(kind) && c->nplan < RCL_PLAN_MAX) {
			c->plan[c->nplan].pos = c->queued;
			c->plan[c->nplan++].kind = kind - Q_CL_SLOTS;
		} else if (Q_IS_CL(kind) && !c->plan_full) {
			c->plan_full = 1;
			log_msg(LOG_LVL_NOTICE, c->name, "over %d CLUSTER "
			    "commands in one transaction: the replies of the "
			    "others are not rewritten", RCL_PLAN_MAX);
		}
		c->queued++;
		break;
	}
	return (c->txn);
}

/*
 * EXEC's array with the elements of the plan rewritten.  With ${give_up},
 * an element naming an unknown node passes unchanged (logged).
 */
static int
exec_rewrite(struct rcl *c, const struct cmap *m, int give_up, char **out,
    size_t *outlen, struct crw_miss *miss, char *why, size_t whylen)
{
	const char *p = c->hold.p, *nl;
	struct buf o = { NULL, 0, 0 };
	struct resp_scan *s = NULL;
	size_t len = c->hold.n, pos, used;
	unsigned int idx, pi = 0;
	char *eo;
	size_t eol;
	int res = CRW_SAME, er;

	if (len < 4 || p[0] != '*' || p[1] == '-' ||
	    (nl = memchr(p, '\n', len)) == NULL)
		return (CRW_SAME);	/* an error, a null (WATCH) */
	pos = (size_t)(nl - p) + 1;
	if ((s = resp_scan_new(RESP_REPLIES)) == NULL ||
	    buf_add(&o, p, pos))
		goto oom;
	for (idx = 0; pos < len && pi < c->nplan; idx++, pos += used) {
		if (resp_scan(s, p + pos, len - pos, &used) != RESP_FRAME) {
			snprintf(why, whylen, "EXEC's array unreadable");
			res = CRW_BAD;
			goto done;
		}
		er = CRW_SAME;
		if (c->plan[pi].pos == idx) {
			er = crw_topology(c->plan[pi].kind, p + pos, used, m,
			    &eo, &eol, miss, why, whylen);
			if (er == CRW_UNKNOWN && !give_up) {
				res = CRW_UNKNOWN;
				goto done;
			}
			if (er == CRW_BAD || er == CRW_UNKNOWN)
				log_msg(LOG_LVL_WARNING, c->name, "CLUSTER %s "
				    "in a transaction: %s: passed on unchanged",
				    kind_name[c->plan[pi].kind], er == CRW_BAD ?
				    why : "a node has no local port yet");
			pi++;
		}
		if (er == CRW_DONE) {
			er = buf_add(&o, eo, eol);
			free(eo);
			res = CRW_DONE;
		} else
			er = buf_add(&o, p + pos, used);
		if (er != 0)
			goto oom;
	}
	if (res == CRW_DONE && (buf_add(&o, p + pos, len - pos) ||
	    o.n > CRW_OUT_MAX)) {
		snprintf(why, whylen, "EXEC's array too long when rewritten");
		res = CRW_BAD;
	}
done:
	resp_scan_free(s);
	if (res == CRW_DONE) {
		*out = o.p;
		*outlen = o.n;
	} else
		free(o.p);
	return (res);
oom:
	snprintf(why, whylen, "out of memory");
	res = CRW_BAD;
	goto done;
}

/* ---- sending ------------------------------------------------------------ */

/* The redirect to a node still unmapped after the wait. */
static int
try_again(struct rcl *c, const struct crw_miss *miss)
{
	char line[512], host[sizeof(miss->host)];
	unsigned char ch;
	size_t i;
	int n;

	/* A host name in a line of its own: no control bytes. */
	for (i = 0; miss->host[i] != '\0' && i < sizeof(host) - 1; i++) {
		ch = (unsigned char)miss->host[i];
		host[i] = ch < 0x21 || ch > 0x7e ? '?' : (char)ch;
	}
	host[i] = '\0';
	log_msg(LOG_LVL_WARNING, c->name, "a redirect to node %s:%u, which "
	    "has no local port yet: the client is told TRYAGAIN", host,
	    miss->port);
	n = snprintf(line, sizeof(line), "-TRYAGAIN redtun [%.64s]: no local "
	    "port for node %s:%u yet\r\n", c->name, host, miss->port);
	return (relay_emit(c->r, RELAY_DOWN, line, (size_t)n));
}

/*
 * Send the complete held frame on, rewritten with the map in force: 0, -1,
 * or 1 (a node is not mapped and not ${give_up}: waiting; ${miss} called
 * if ${first}).
 */
static int
settle(struct rcl *c, int give_up, int first)
{
	const struct cmap *m = c->map(c->arg);
	struct crw_miss miss;
	char *out = NULL, why[160], esc[300];
	size_t outlen = 0;
	int res, rc;

	why[0] = miss.host[0] = '\0';
	miss.port = 0;
	if (c->how == H_REDIRECT)
		res = crw_redirect(c->hold.p, c->hold.n, m, &out, &outlen,
		    &miss);
	else if (Q_IS_CL(c->kind))
		res = crw_topology(c->kind - Q_CL_SLOTS, c->hold.p, c->hold.n,
		    m, &out, &outlen, &miss, why, sizeof(why));
	else if (c->kind == Q_TXEND && c->nplan > 0)
		res = exec_rewrite(c, m, give_up, &out, &outlen, &miss, why,
		    sizeof(why));
	else
		res = CRW_SAME;		/* a push, or not matched after all */
	if (res == CRW_UNKNOWN && !give_up) {
		c->waiting = 1;
		if (first) {
			log_msg(LOG_LVL_INFO, c->name, "a reply names node "
			    "%s:%u, not mapped yet: held until it is",
			    log_escape(esc, sizeof(esc), miss.host,
			    strlen(miss.host)), miss.port);
			c->miss(c->arg, miss.host, miss.port);
		}
		return (1);
	}
	if (res == CRW_DONE && c->rewritten != NULL)
		c->rewritten(c->arg);
	if (res == CRW_DONE)
		rc = relay_emit(c->r, RELAY_DOWN, out, outlen);
	else if (res == CRW_UNKNOWN && c->how == H_REDIRECT)
		rc = try_again(c, &miss);
	else {
		if (res == CRW_UNKNOWN)
			log_msg(LOG_LVL_WARNING, c->name, "a reply to CLUSTER "
			    "%s names node %s:%u, which has no local port yet: "
			    "passed on unchanged", kind_name[c->kind -
			    Q_CL_SLOTS], log_escape(esc, sizeof(esc),
			    miss.host, strlen(miss.host)), miss.port);
		else if (res == CRW_BAD)
			log_msg(LOG_LVL_WARNING, c->name, "a %s could not be "
			    "rewritten (%s): passed on unchanged",
			    c->how == H_REDIRECT ? "redirect" :
			    c->kind == Q_TXEND ? "reply to EXEC" :
			    "reply to CLUSTER", c->how == H_REDIRECT ?
			    "out of memory" : why);
		rc = relay_emit(c->r, RELAY_DOWN, c->hold.p, c->hold.n);
	}
	free(out);
	if (c->how == H_TOPOLOGY && c->kind == Q_TXEND)
		c->nplan = 0;
	hold_clear(c);
	return (rc);
}

int
rcl_done(struct rcl *c, int kind)
{

	c->kind = kind;
	return (settle(c, c->nowait, 1));
}

/* ---- waiting for the map ------------------------------------------------ */

int
rcl_waiting(const struct rcl *c)
{

	return (c->waiting);
}

int
rcl_wait_add(struct rcl *c, const char *p, size_t n)
{

	if (buf_add(&c->wait, p, n))
		return (oom(c));
	if (c->wait.n <= RCL_WAIT_MAX)
		return (0);
	log_msg(LOG_LVL_WARNING, c->name, "over %d bytes of replies held for "
	    "the node map: no longer waiting", RCL_WAIT_MAX);
	return (rcl_retry(c, 1) < 0 ? -1 : 0);
}

int
rcl_retry(struct rcl *c, int give_up)
{
	char *rest;
	size_t n;
	int rc, was = c->nowait;

	if (!c->waiting)
		return (0);
	if ((rc = settle(c, give_up, 0)) != 0)
		return (rc);
	/* Handed over, not copied: what waits from now on is new. */
	rest = c->wait.p;
	n = c->wait.n;
	c->wait.p = NULL;
	c->wait.n = c->wait.cap = 0;
	/* What came after it, in order, as if it came now. */
	c->nowait = was || give_up;
	rc = n > 0 ? c->feed(c->fst, rest, n) : 0;
	c->nowait = was;
	free(rest);
	return (rc < 0 ? -1 : c->waiting);
}

size_t
rcl_held(const struct rcl *c)
{

	if (c->waiting)
		return (c->hold.n + c->wait.n);
	return (c->hold.n < RELAY_HOLD_MAX ? c->hold.n : RELAY_HOLD_MAX);
}

void
rcl_reset(struct rcl *c)
{

	free(c->hold.p);
	free(c->wait.p);
	c->hold.p = c->wait.p = NULL;
	c->hold.n = c->hold.cap = c->wait.n = c->wait.cap = 0;
	c->how = H_NONE;
	c->waiting = c->nowait = c->txn = c->plan_full = 0;
	c->queued = c->nplan = 0;
}

void
rcl_free(struct rcl *c)
{

	if (c == NULL)
		return;
	rcl_reset(c);
	free(c);
}
