/*
 * The RESP filter's AUTH from a hook (an IAM token) and re-authentication
 * while a client is on the connection: the AUTH goes out only at a safe
 * point, its reply never reaches the client, client commands pipelined
 * behind it get their replies in order, however the server's bytes are
 * split.
 */
#include "unit_resp_harness.h"

/* The AUTH command the auth hook's user and token make. */
static const char *
auth_cmd(void)
{
	static char buf[sizeof(token) + 64];

	snprintf(buf, sizeof(buf), "*3\r\n$4\r\nAUTH\r\n$7\r\niamuser\r\n"
	    "$%zu\r\n%s\r\n", strlen(token), token);
	return (buf);
}

static void
test_auth_hook(void)
{
	char want[sizeof(token) + 128];

	memset(token, 'T', sizeof(token) - 1);
	with_auth = 1;
	setup(NULL, ROLE_PRIMARY);
	resp_filter_prepare(ev.f);
	snprintf(want, sizeof(want), "%s*1\r\n$4\r\nROLE\r\n", auth_cmd());
	CHECK(out_is(&up, want) && ev.auths == 1 && ev.prepared == 0);
	feed(RELAY_DOWN, "+OK\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n", 1);
	CHECK(ev.prepared == 1 && ev.prep_result == RF_OK && down.len == 0);

	/* No token: the prepare fails with the hook's reason, sends nothing. */
	auth_fails = 1;
	setup(NULL, ROLE_PRIMARY);
	resp_filter_prepare(ev.f);
	CHECK(ev.prepared == 1 && ev.prep_result == RF_FAIL && up.len == 0 &&
	    strcmp(ev.why, "no AWS credentials yet: test") == 0);
	auth_fails = 0;

	/* After RESET, AUTH again from the hook. */
	setup(NULL, ROLE_ANY);
	ev.want_reuse = 1;
	resp_filter_prepare(ev.f);
	feed(RELAY_DOWN, "+OK\r\n", 0);
	up.len = 0;
	CHECK(relay_eof(r, RELAY_UP) == 0);
	feed(RELAY_DOWN, "+RESET\r\n", 0);
	snprintf(want, sizeof(want), "*1\r\n$5\r\nRESET\r\n%s", auth_cmd());
	CHECK(out_is(&up, want) && ev.auths == 2);
	feed(RELAY_DOWN, "+OK\r\n", 0);
	CHECK(ev.recycled == 1 && ev.recycle_result == RF_OK);
	with_auth = 0;
}

/* A relaying connection whose AUTH (from the hook) is answered. */
static void
relaying(void)
{
	with_auth = 1;
	setup(NULL, ROLE_ANY);
	resp_filter_prepare(ev.f);
	feed(RELAY_DOWN, "+OK\r\n", 0);
	up.len = 0;
	ev.auths = 0;
}

static void
test_reauth_pipelined(void)
{
	static const char srv[] = "+OK\r\n+PONG\r\n$-1\r\n"
	    "*2\r\n$1\r\na\r\n$1\r\nb\r\n";
	char want[sizeof(token) + 128], why[128];
	size_t cut;

	for (cut = 0; cut <= sizeof(srv); cut++) {
		relaying();
		/* A reply is owed: the AUTH waits for it. */
		feed(RELAY_UP, "GET a\r\n", 0);
		CHECK(resp_filter_reauth(ev.f, why, sizeof(why)) == 0 && up.len ==
		    7 && ev.auths == 0);
		/* Then sent; the client pipelines more behind it. */
		feed(RELAY_DOWN, "$1\r\nv\r\n", 0);
		snprintf(want, sizeof(want), "GET a\r\n%s", auth_cmd());
		CHECK(out_is(&up, want) && ev.reauth_sent == 1);
		feed(RELAY_UP, "PING\r\nGET b\r\nMGET a b\r\n", 0);
		down.len = 0;
		if (cut == sizeof(srv))		/* byte by byte */
			feed(RELAY_DOWN, srv, 1);
		else {				/* two pieces */
			relay_input(r, RELAY_DOWN, srv, cut);
			relay_input(r, RELAY_DOWN, srv + cut, strlen(srv) - cut);
		}
		if (!out_is(&down, "+PONG\r\n$-1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n")
		    || ev.reauth_ok != 1) {
			fprintf(stderr, "re-AUTH pipelined, cut %zu\n", cut);
			failures++;
		}
		CHECK(resp_filter_unsafe(ev.f) == NULL);
	}
}

static void
test_reauth(void)
{
	char why[128];
	size_t step;

	for (step = 0; step <= 2; step++) {
		/* Idle: AUTH at once, its +OK dropped. */
		relaying();
		CHECK(resp_filter_reauth(ev.f, why, sizeof(why)) == 1 &&
		    resp_filter_reauth(ev.f, why, sizeof(why)) == -1);
		CHECK(out_is(&up, auth_cmd()) && ev.auths == 1);
		feed(RELAY_DOWN, "+OK\r\n", step);
		CHECK(ev.reauth_ok == 1 && ev.reauth_sent == 0 && down.len == 0);

		/* An error (longer than a held line): reported, not passed. */
		relaying();
		CHECK(resp_filter_reauth(ev.f, why, sizeof(why)) == 1);
		feed(RELAY_UP, "PING\r\n", step);
		feed(RELAY_DOWN, "-WRONGPASS invalid username-password pair or "
		    "user is disabled, and some more words\r\n+PONG\r\n", step);
		CHECK(ev.reauth_fail == 1 && ev.reauth_ok == 0 &&
		    strstr(ev.why, "upstream AUTH failed: WRONGPASS") != NULL);
		CHECK(out_is(&down, "+PONG\r\n"));

		/* Inside MULTI: deferred until EXEC's reply. */
		relaying();
		feed(RELAY_UP, "MULTI\r\nSET a 1\r\n", step);
		feed(RELAY_DOWN, "+OK\r\n+QUEUED\r\n", step);
		CHECK(resp_filter_reauth(ev.f, why, sizeof(why)) == 0 &&
		    strcmp(resp_filter_unsafe(ev.f), "MULTI") == 0);
		feed(RELAY_UP, "EXEC\r\n", step);
		CHECK(ev.auths == 0);
		feed(RELAY_DOWN, "*1\r\n+OK\r\n", step);
		CHECK(ev.auths == 1 && ev.reauth_sent == 1);
		feed(RELAY_DOWN, "+OK\r\n", step);
		CHECK(ev.reauth_ok == 1 &&
		    out_is(&down, "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n"));

		/* RESP2 subscribed: never a safe point; said stuck. */
		relaying();
		feed(RELAY_UP, "SUBSCRIBE ch\r\n", step);
		feed(RELAY_DOWN, "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
		    step);
		CHECK(resp_filter_reauth(ev.f, why, sizeof(why)) == 0 &&
		    resp_filter_stuck(ev.f) && ev.auths == 0 &&
		    strcmp(resp_filter_unsafe(ev.f), "RESP2 pub/sub") == 0);
		feed(RELAY_DOWN, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n",
		    step);
		CHECK(ev.auths == 0 && up.len == 14);

		/* CLIENT REPLY OFF: the server would not answer; not sent. */
		relaying();
		feed(RELAY_UP, "CLIENT REPLY OFF\r\nSET a 1\r\n", step);
		CHECK(resp_filter_reauth(ev.f, why, sizeof(why)) == 0);
		feed(RELAY_UP, "SET b 2\r\n", step);
		CHECK(ev.auths == 0 && !resp_filter_stuck(ev.f));

		/* The token source fails at the safe point: reported. */
		relaying();
		feed(RELAY_UP, "GET a\r\n", step);
		CHECK(resp_filter_reauth(ev.f, why, sizeof(why)) == 0);
		auth_fails = 1;
		feed(RELAY_DOWN, "$-1\r\n", step);
		auth_fails = 0;
		CHECK(ev.reauth_fail == 1 && ev.reauth_sent == 0 &&
		    strstr(ev.why, "no AWS credentials") != NULL);
		CHECK(out_is(&up, "GET a\r\n") && out_is(&down, "$-1\r\n"));

		/* Matching stops behind our AUTH: its reply still dropped. */
		relaying();
		CHECK(resp_filter_reauth(ev.f, why, sizeof(why)) == 1);
		feed(RELAY_UP, "GET a\r\nMONITOR\r\nGET b\r\n", step);
		feed(RELAY_DOWN, "+OK\r\n$-1\r\n+OK\r\n", step);
		CHECK(ev.reauth_ok == 1 && out_is(&down, "$-1\r\n+OK\r\n"));
	}
	test_reauth_pipelined();
	with_auth = 0;
}

int
main(void)
{

	test_auth_hook();
	test_reauth();
	relay_free(r);
	resp_filter_release_cache();
	if (failures > 0) {
		fprintf(stderr, "unit_resp_reauth: %d failures\n", failures);
		return (1);
	}
	printf("unit_resp_reauth: all passed\n");
	return (0);
}
