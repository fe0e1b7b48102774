#ifndef REDTUN_RESP_FILTER_PRIV_H
#define REDTUN_RESP_FILTER_PRIV_H

/*
 * Shared by the two halves of the RESP filter: resp_filter.c (the relay's
 * side: bytes in, replies matched) and resp_filter_own.c (the tunnel's
 * side: redtun's own commands, AUTH, ROLE, RESET, re-authentication).
 */

#include <stddef.h>
#include <stdint.h>

#include "resp_filter.h"
#include "resp_match.h"

struct resp_frame;
struct resp_scan;

/* A reply to our own RESET or AUTH is a line far shorter than this. */
#define HOLD_MAX	64

enum rf_mode {
	M_PREPARE,	/* our AUTH/ROLE: replies are ours, nothing forwarded */
	M_RELAY,	/* a client is on it */
	M_RECYCLE,	/* the client is done; RESET is on its way */
	M_REAUTH,	/* after RESET: AUTH again, nothing forwarded */
	M_IDLE		/* clean, waiting for the next client */
};

/* Who holds the frame being read: hold[], or cl (a cluster reply). */
enum { HOLD_OWN = 1, HOLD_CL = 2 };

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
	unsigned int reauth_due:1;	/* AUTH at the next safe point */
	unsigned int reauth_sent:1;	/* that AUTH's reply is owed to us */
	unsigned int up_eof:1;		/* the client's EOF went upstream */
};

/* resp_filter.c: the relay's filter ops; server bytes through the filter
 * (also the cluster part's way to feed held bytes again); a scanner given
 * back to the thread's cache (between frames, or ${force}). */
extern const struct relay_filter_ops rf_ops;
int rf_down(void *st, const char *data, size_t len);
void rf_scan_put(struct resp_scan **slot, int side, int force);

/*
 * resp_filter_own.c: rf_own_reply() takes the reply ${fr} to a command of
 * ours of ${kind} (Q_OWN_*), and may run hooks.  rf_send_auth() sends
 * AUTH from the hook or the configured password (0; -1 with f->why set
 * if the source failed: nothing sent).  rf_safe_point() is called by the
 * relay's side after each reply: a due re-authentication goes out if the
 * connection is at a safe point.
 */
void rf_own_reply(struct resp_filter *f, int kind,
    const struct resp_frame *fr);
int rf_send_auth(struct resp_filter *f);
void rf_send(struct resp_filter *f, int kind, const char *cmd,
    const char *a1, const char *a2);
void rf_safe_point(struct resp_filter *f);

#endif
