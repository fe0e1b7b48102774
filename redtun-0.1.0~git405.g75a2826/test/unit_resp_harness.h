#ifndef REDTUN_TEST_UNIT_RESP_HARNESS_H
#define REDTUN_TEST_UNIT_RESP_HARNESS_H

/*
 * The RESP filter's unit tests' harness (unit_resp_filter.c,
 * unit_resp_reauth.c): a relay with memory sinks, hooks that count what
 * they saw, an auth hook (with_auth) that gives an IAM-like user and a
 * token of ~3 KiB, and feeding in pieces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "relay.h"
#include "resp_filter.h"

#include "unit_check.h"

struct sink {
	char out[64 * 1024];
	size_t len;
	int eofs;
	char closed[160];
	int failed;
};

static int
s_write(void *arg, const char *data, size_t len)
{
	struct sink *s = arg;

	if (len > sizeof(s->out) - s->len)
		return (-1);
	memcpy(s->out + s->len, data, len);
	s->len += len;
	return (0);
}

static size_t s_queued(void *arg) { (void)arg; return (0); }
static void s_eof(void *arg) { ((struct sink *)arg)->eofs++; }

static void
s_close_after(void *arg, const char *why)
{
	snprintf(((struct sink *)arg)->closed, 160, "%s", why);
}

static void
s_fail(void *arg, const char *why)
{
	struct sink *s = arg;

	s->failed = 1;
	snprintf(s->closed, sizeof(s->closed), "%s", why);
}

/* What the hooks saw. */
static struct {
	int prepared, prep_result, client_done, recycled, recycle_result;
	int readonly, eof_calls, want_reuse;
	int auths, reauth_sent, reauth_ok, reauth_fail;
	char why[192];
	struct resp_filter *f;
} ev;

/* The auth hook (with_auth): an IAM-like user and a token of ~3 KiB. */
static int with_auth, auth_fails;
static char token[3001];

static void
h_prepared(void *arg, int result, const char *why)
{
	(void)arg;
	ev.prepared++;
	ev.prep_result = result;
	snprintf(ev.why, sizeof(ev.why), "%s", why);
}

static void h_client_done(void *arg) { (void)arg; ev.client_done++; }

static void
h_recycled(void *arg, int result, const char *why)
{
	(void)arg;
	ev.recycled++;
	ev.recycle_result = result;
	snprintf(ev.why, sizeof(ev.why), "%s", why);
}

static void h_readonly(void *arg) { (void)arg; ev.readonly++; }

static int
h_auth(void *arg, char *user, size_t ulen, char *pass, size_t plen,
    char *why, size_t whylen)
{
	(void)arg;
	ev.auths++;
	if (auth_fails) {
		snprintf(why, whylen, "no AWS credentials yet: test");
		return (-1);
	}
	snprintf(user, ulen, "iamuser");
	snprintf(pass, plen, "%s", token);
	return (0);
}

static void
h_reauthed(void *arg, int result, const char *why)
{
	(void)arg;
	if (result == RF_SENT)
		ev.reauth_sent++;
	else if (result == RF_OK)
		ev.reauth_ok++;
	else {
		ev.reauth_fail++;
		snprintf(ev.why, sizeof(ev.why), "%s", why);
	}
}

static int
h_client_eof(void *arg)
{
	(void)arg;
	ev.eof_calls++;
	if (!ev.want_reuse || !resp_filter_reusable(ev.f))
		return (0);
	resp_filter_recycle(ev.f);
	return (1);
}

static struct sink up, down;
static struct relay *r;
static struct svc_conf sc;

static void
setup(const char *password, int role)
{
	struct relay_sink su = { s_write, s_queued, s_eof, s_close_after,
	    s_fail, &up };
	struct relay_sink sd = { s_write, s_queued, s_eof, s_close_after,
	    s_fail, &down };
	struct rf_hooks h = { h_prepared, h_client_done, h_recycled,
	    h_readonly, h_client_eof, NULL, NULL, NULL, NULL, NULL,
	    h_reauthed };

	h.auth = with_auth ? h_auth : NULL;

	relay_free(r);
	memset(&up, 0, sizeof(up));
	memset(&down, 0, sizeof(down));
	memset(&ev, 0, sizeof(ev));
	memset(&sc, 0, sizeof(sc));
	sc.password = (char *)password;
	sc.role = role;
	sc.reuse = 1;
	r = relay_new(&su, &sd);
	ev.f = resp_filter_attach(r, &sc, &h, "test");
	CHECK(ev.f != NULL);
}

/* Feed ${s} in direction ${dir}, in pieces of ${step} bytes (0: whole). */
static void
feed(int dir, const char *s, size_t step)
{
	size_t len = strlen(s), off, n;

	if (step == 0)
		step = len;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		relay_input(r, dir, s + off, n);
	}
}

static int
out_is(const struct sink *s, const char *want)
{
	if (s->len == strlen(want) && memcmp(s->out, want, s->len) == 0)
		return (1);
	fprintf(stderr, "  got %zu bytes: %.*s\n  want: %s\n", s->len,
	    (int)s->len, s->out, want);
	return (0);
}


#endif
