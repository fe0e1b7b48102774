/*
 * The RESP filter, the tunnel's side: redtun's own commands on the
 * connection and their replies (resp_filter.c takes those replies out of
 * the stream and hands them here).  AUTH and ROLE in the prepare phase,
 * RESET and AUTH again to clean a connection for reuse, and AUTH again
 * while a client is on it (re-authentication, e.g. an IAM token before
 * the server's connection lifetime ends), only at a safe point: where no
 * reply of the client's can be mistaken for ours and Redis accepts AUTH.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "relay.h"
#include "resp.h"
#include "resp_cluster.h"
#include "resp_filter.h"
#include "resp_filter_priv.h"
#include "resp_match.h"
#include "sigv4.h"

/* AUTH's user from hooks->auth: IAM user ids are at most 255 bytes. */
#define AUTH_USER_MAX	512
/* ... and its password: a token, whose size sigv4.h bounds. */
#define AUTH_PASS_MAX	SIGV4_TOKEN_MAX

/* A command that fits here is built on the stack; longer, on the heap. */
#define CMD_STACK	256

/* Send ${cmd} [${a1}] [${a2}] upstream as one RESP array. */
void
rf_send(struct resp_filter *f, int kind, const char *cmd, const char *a1,
    const char *a2)
{
	const char *argv[3] = { cmd, a1, a2 };
	char sbuf[CMD_STACK], *buf = sbuf;
	size_t n, i, need = 16, len[3], argc = 1 + (a1 != NULL) + (a2 != NULL);

	if (a1 == NULL)
		argv[1] = a2;
	for (i = 0; i < argc; i++)
		need += (len[i] = strlen(argv[i])) + 32;
	if (need > sizeof(sbuf) && (buf = malloc(need)) == NULL) {
		relay_fail(f->r, RELAY_UP, "out of memory for redtun's command");
		return;
	}
	n = (size_t)snprintf(buf, need, "*%zu\r\n", argc);
	for (i = 0; i < argc; i++) {
		n += (size_t)snprintf(buf + n, need - n, "$%zu\r\n", len[i]);
		memcpy(buf + n, argv[i], len[i]);
		memcpy(buf + n + len[i], "\r\n", 2);
		n += len[i] + 2;
	}
	match_push(&f->m, kind);
	(void)relay_emit(f->r, RELAY_UP, buf, n);
	explicit_bzero(buf, n);		/* it held the password */
	if (buf != sbuf)
		free(buf);
}

/* Whether AUTH is sent at all: a password, or a source of one. */
static int
has_auth(const struct resp_filter *f)
{

	return (f->h.auth != NULL || f->sc->password != NULL);
}

int
rf_send_auth(struct resp_filter *f)
{
	char *buf, *user, *pass;

	if (f->h.auth == NULL) {
		rf_send(f, Q_OWN_AUTH, "AUTH", f->sc->username,
		    f->sc->password);
		return (0);
	}
	/* A token is KiBs: not on the stack of a read callback. */
	if ((buf = calloc(1, AUTH_USER_MAX + AUTH_PASS_MAX)) == NULL) {
		snprintf(f->why, sizeof(f->why), "out of memory for AUTH");
		return (-1);
	}
	user = buf;
	pass = buf + AUTH_USER_MAX;
	f->why[0] = '\0';
	if (f->h.auth(f->h.arg, user, AUTH_USER_MAX, pass, AUTH_PASS_MAX,
	    f->why, sizeof(f->why)) != 0) {
		if (f->why[0] == '\0')
			snprintf(f->why, sizeof(f->why), "no AUTH credentials");
		explicit_bzero(buf, AUTH_USER_MAX + AUTH_PASS_MAX);
		free(buf);
		return (-1);
	}
	user[AUTH_USER_MAX - 1] = pass[AUTH_PASS_MAX - 1] = '\0';
	rf_send(f, Q_OWN_AUTH, "AUTH", user[0] != '\0' ? user : NULL, pass);
	explicit_bzero(buf, AUTH_USER_MAX + AUTH_PASS_MAX);
	free(buf);
	return (0);
}

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

/* The error text of ${a}, cut to what a log line needs. */
#define ERR_TEXT(a)	(int)((a)->len < RESP_CAP_LEN ? (a)->len : \
	RESP_CAP_LEN), (a)->p, (a)->len > RESP_CAP_LEN ? "..." : ""

/* The reply to a re-authentication: nothing of it reaches the client. */
static void
reauth_reply(struct resp_filter *f, int err, const struct resp_arg *a)
{
	char why[128];

	f->reauth_sent = 0;
	if (f->h.reauthed == NULL)
		return;
	if (err) {
		snprintf(why, sizeof(why), "upstream AUTH failed: %.*s%s",
		    ERR_TEXT(a));
		f->h.reauthed(f->h.arg, RF_FAIL, why);
	} else
		f->h.reauthed(f->h.arg, RF_OK, "");
}

/* The server answered RESET: the client is let go, then AUTH again. */
static void
reset_reply(struct resp_filter *f, int err, const struct resp_arg *a)
{

	if (err || !resp_arg_is(a, "RESET")) {
		f->no_reset = 1;
		f->result = RF_FAIL;
		snprintf(f->why, sizeof(f->why), "the server does not support "
		    "RESET (Redis before 6.2?): connections are not reused");
	}
	match_client_reset(&f->m);
	f->h.client_done(f->h.arg);
	if (f->result == RF_OK && has_auth(f)) {
		f->mode = M_REAUTH;
		if (rf_send_auth(f) == 0)
			return;
		f->result = RF_FAIL;	/* f->why says why */
	}
	f->mode = M_IDLE;
	f->h.recycled(f->h.arg, f->result, f->why);
}

void
rf_own_reply(struct resp_filter *f, int kind, const struct resp_frame *fr)
{
	const struct resp_arg *a = &fr->arg[0];
	int err = fr->type == '-' || fr->type == '!';

	switch (kind) {
	case Q_OWN_AUTH:
		if (f->reauth_sent) {
			reauth_reply(f, err, a);
			return;
		}
		if (err && f->result == RF_OK) {
			f->result = RF_FAIL;
			snprintf(f->why, sizeof(f->why), "upstream AUTH failed: "
			    "%.*s%s", ERR_TEXT(a));
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
		reset_reply(f, err, a);
		return;
	default:
		break;
	}
	own_done(f);
}

/* ---- re-authentication -------------------------------------------------- */

const char *
resp_filter_unsafe(const struct resp_filter *f)
{

	if (f->mode != M_RELAY || f->up_eof)
		return ("the client is not relaying");
	if (f->m.unsync)
		return ("unsynchronised");
	if (f->m.sub2)
		return ("RESP2 pub/sub");
	if (f->m.monitor)
		return ("MONITOR");
	if (f->m.multi)
		return ("MULTI");
	if (f->m.reply_off || f->m.skip_next)
		return ("replies switched off");
	if (f->m.qlen > 0)
		return ("outstanding replies");
	if (f->up != NULL && !resp_scan_idle(f->up))
		return ("a command half sent");
	if (f->cl != NULL && rcl_waiting(f->cl))
		return ("a cluster reply held");
	return (NULL);
}

int
resp_filter_stuck(const struct resp_filter *f)
{

	return (f->m.sub2 || f->m.monitor);
}

int
resp_filter_reauth(struct resp_filter *f, char *why, size_t whylen)
{

	if (f->mode != M_RELAY || f->up_eof || f->reauth_sent ||
	    f->reauth_due || !has_auth(f)) {
		snprintf(why, whylen, "%s", f->reauth_sent || f->reauth_due ?
		    "a re-authentication is under way" : !has_auth(f) ?
		    "nothing to authenticate with" : "not relaying");
		return (-1);
	}
	if (resp_filter_unsafe(f) != NULL) {
		f->reauth_due = 1;
		return (0);
	}
	if (rf_send_auth(f) != 0) {
		snprintf(why, whylen, "%s", f->why);
		return (-1);
	}
	f->reauth_sent = 1;
	return (1);
}

void
rf_safe_point(struct resp_filter *f)
{

	if (!f->reauth_due || resp_filter_unsafe(f) != NULL)
		return;
	f->reauth_due = 0;
	if (rf_send_auth(f) != 0) {
		if (f->h.reauthed != NULL)
			f->h.reauthed(f->h.arg, RF_FAIL, f->why);
		return;
	}
	f->reauth_sent = 1;
	if (f->h.reauthed != NULL)
		f->h.reauthed(f->h.arg, RF_SENT, "");
}

/* ---- life ---------------------------------------------------------------- */

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
		    hooks->cluster_miss, hooks->arg, rf_down, f)) == NULL) {
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
	if (has_auth(f) && rf_send_auth(f) != 0) {
		/* No AUTH to send (f->why says why): nothing else either. */
		f->mode = M_RELAY;
		f->h.prepared(f->h.arg, RF_FAIL, f->why);
		return;
	}
	if (f->sc->role != ROLE_ANY)
		rf_send(f, Q_OWN_ROLE, "ROLE", NULL, NULL);
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
	f->reauth_due = 0;	/* AUTH follows RESET anyway */
	/*
	 * Not while replies are still owed: Redis would run RESET with
	 * megabytes still queued for this connection, and may close it
	 * (seen: "closed for overcoming of output buffer limits").
	 */
	if (f->m.qlen == 0)
		rf_send(f, Q_OWN_RESET, "RESET", NULL, NULL);
	else
		f->reset_due = 1;
}

void
resp_filter_restart(struct resp_filter *f)
{

	f->mode = M_RELAY;
	match_clear(&f->m);
	rf_scan_put(&f->up, RESP_REQUESTS, 1);
	rf_scan_put(&f->down, RESP_REPLIES, 1);
	f->holding = 0;
	f->txn = 0;
	f->nhold = 0;
	f->reset_due = 0;
	f->reauth_due = f->reauth_sent = f->up_eof = 0;
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
