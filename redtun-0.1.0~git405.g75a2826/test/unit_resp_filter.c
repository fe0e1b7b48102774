/*
 * The RESP filter without sockets: a relay with memory sinks, fed
 * conversations (client commands, server replies) byte by byte and whole.
 * Checks that bytes pass unchanged, that replies are matched to commands
 * (what is still owed, whether the connection can be reused), and the
 * conversations of redtun's own: AUTH/ROLE in the prepare phase, RESET
 * and AUTH again after the client left, READONLY on a primary service.
 */
#include "unit_resp_harness.h"

/*
 * A conversation that must leave the connection matched and reusable:
 * every command answered, bytes unchanged both ways.
 */
struct conv {
	const char *name, *cmds, *replies;
	int reusable;		/* after all replies */
	const char *pre_cmds, *pre_replies;	/* a first round, if any */
};

static const struct conv convs[] = {
	{ "pipeline", "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
	    "*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n",
	    "+OK\r\n$1\r\n1\r\n+PONG\r\n", 1, NULL, NULL },
	{ "inline and empty lines", "\r\nping\r\n\nECHO hi\n",
	    "+PONG\r\n$2\r\nhi\r\n", 1, NULL, NULL },
	{ "multi/exec", "MULTI\r\nSET a 1\r\nGET a\r\nEXEC\r\n",
	    "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\n1\r\n", 1, NULL, NULL },
	{ "reset inside multi", "MULTI\r\nSET a 1\r\nRESET\r\nPING\r\n",
	    "+OK\r\n+QUEUED\r\n+RESET\r\n+PONG\r\n", 1, NULL, NULL },
	{ "resp2 pub/sub", "SUBSCRIBE a b\r\nPING\r\nUNSUBSCRIBE a b\r\n"
	    "PING\r\n",
	    "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
	    "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
	    "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"
	    "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
	    "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n"
	    "*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$2\r\nyo\r\n"
	    "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n+PONG\r\n", 1, NULL, NULL },
	{ "resp3 push", "SUBSCRIBE a\r\nGET k\r\n",
	    ">3\r\n+subscribe\r\n+a\r\n:1\r\n"
	    ">3\r\n+message\r\n+a\r\n+x\r\n_\r\n", 1,
	    "HELLO 3\r\n", "%1\r\n+proto\r\n:3\r\n" },
	{ "resp3 unsubscribe all", "SUBSCRIBE a b\r\nUNSUBSCRIBE\r\n"
	    "PING\r\n", ">3\r\n+subscribe\r\n+a\r\n:1\r\n>3\r\n+subscribe\r\n+b\r\n:2\r\n"
	    ">3\r\n+unsubscribe\r\n+a\r\n:1\r\n"
	    ">3\r\n+unsubscribe\r\n+b\r\n:0\r\n+PONG\r\n", 1,
	    "HELLO 3\r\n", "%1\r\n+proto\r\n:3\r\n" },
	{ "subscribe before HELLO's reply", "HELLO 3\r\nSUBSCRIBE a\r\n",
	    "%1\r\n+proto\r\n:3\r\n>3\r\n+subscribe\r\n+a\r\n:1\r\n", 0, NULL, NULL },
	{ "attributes", "GET k\r\n", "|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n", 1, NULL, NULL },
	{ "client reply off/skip/on", "CLIENT REPLY OFF\r\nSET a 1\r\n"
	    "CLIENT REPLY ON\r\nCLIENT REPLY SKIP\r\nSET a 2\r\nPING\r\n",
	    "+OK\r\n+PONG\r\n", 1, NULL, NULL },
	{ "blocking pop answered", "BLPOP q 0\r\n", "*-1\r\n", 1, NULL, NULL },
	{ "blocking pop pending", "BLPOP q 0\r\nPING\r\n", "", 0, NULL, NULL },
	{ "no-evict", "CLIENT NO-EVICT on\r\n", "+OK\r\n", 0, NULL, NULL },
	{ "no-evict off again", "CLIENT NO-EVICT on\r\nCLIENT NO-EVICT off\r\n",
	    "+OK\r\n+OK\r\n", 1, NULL, NULL },
	{ "skip pending", "CLIENT REPLY SKIP\r\n", "", 0, NULL, NULL },
	{ "quit", "QUIT\r\n", "+OK\r\n", 0, NULL, NULL },
	{ "command cut short", "*2\r\n$3\r\nGET\r\n$1\r\n", "", 0, NULL, NULL },
	{ "client protocol error", "*1\r\n+PING\r\n",
	    "-ERR Protocol error: expected '$', got '+'\r\n", 0, NULL, NULL },
	{ "monitor", "PING\r\n",
	    "+PONG\r\n+1700000000.1 [0 127.0.0.1:1] \"PING\"\r\n", 1,
	    "MONITOR\r\n", "+OK\r\n" },
	{ "command pipelined after MONITOR", "MONITOR\r\nGET b\r\n",
	    "+OK\r\n$-1\r\n", 0, NULL, NULL },
	{ "unsubscribe all (unmatched)", "SUBSCRIBE a\r\nUNSUBSCRIBE\r\n",
	    "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
	    "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n", 0, NULL, NULL },
};

static void
test_conversations(void)
{
	size_t i, step;

	for (i = 0; i < sizeof(convs) / sizeof(convs[0]); i++) {
		for (step = 0; step <= 3; step++) {
			setup(NULL, ROLE_ANY);
			resp_filter_prepare(ev.f);
			CHECK(ev.prepared == 1 && ev.prep_result == RF_OK);
			if (convs[i].pre_cmds != NULL) {
				feed(RELAY_UP, convs[i].pre_cmds, step);
				feed(RELAY_DOWN, convs[i].pre_replies, step);
				up.len = down.len = 0;
			}
			feed(RELAY_UP, convs[i].cmds, step);
			feed(RELAY_DOWN, convs[i].replies, step);
			if (!out_is(&up, convs[i].cmds) ||
			    !out_is(&down, convs[i].replies) ||
			    resp_filter_reusable(ev.f) != convs[i].reusable) {
				fprintf(stderr, "conversation \"%s\", step %zu: "
				    "reusable %d\n", convs[i].name, step,
				    resp_filter_reusable(ev.f));
				failures++;
			}
		}
	}
}

static void
test_prepare(void)
{
	size_t step;

	for (step = 0; step <= 1; step++) {
		setup("s3cret", ROLE_PRIMARY);
		resp_filter_prepare(ev.f);
		CHECK(out_is(&up, "*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n"
		    "*1\r\n$4\r\nROLE\r\n"));
		CHECK(ev.prepared == 0);
		feed(RELAY_DOWN, "+OK\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n",
		    step);
		CHECK(ev.prepared == 1 && ev.prep_result == RF_OK);
		CHECK(down.len == 0);	/* nothing reaches a client */

		setup("bad", ROLE_PRIMARY);
		resp_filter_prepare(ev.f);
		feed(RELAY_DOWN, "-WRONGPASS invalid username-password pair\r\n"
		    "-NOAUTH Authentication required.\r\n", step);
		CHECK(ev.prepared == 1 && ev.prep_result == RF_FAIL);
		CHECK(strstr(ev.why, "upstream AUTH failed: WRONGPASS") != NULL);

		setup(NULL, ROLE_PRIMARY);
		resp_filter_prepare(ev.f);
		feed(RELAY_DOWN, "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n"
		    ":6379\r\n$9\r\nconnected\r\n:1\r\n", step);
		CHECK(ev.prepared == 1 && ev.prep_result == RF_RETRY);
	}
}

static void
test_recycle(void)
{
	size_t step;

	for (step = 0; step <= 2; step++) {
		setup("pw", ROLE_ANY);
		ev.want_reuse = 1;
		resp_filter_prepare(ev.f);
		feed(RELAY_DOWN, "+OK\r\n", step);
		up.len = 0;
		/* A command whose reply is still owed when the client ends. */
		feed(RELAY_UP, "SELECT 5\r\nGET a\r\n", step);
		feed(RELAY_DOWN, "+OK\r\n", step);
		CHECK(relay_eof(r, RELAY_UP) == 0);
		CHECK(ev.eof_calls == 1 && up.eofs == 0);  /* no half-close */
		/* RESET only once the owed reply is in. */
		CHECK(out_is(&up, "SELECT 5\r\nGET a\r\n"));
		feed(RELAY_DOWN, "$1\r\nv\r\n", step);
		CHECK(out_is(&up, "SELECT 5\r\nGET a\r\n*1\r\n$5\r\nRESET\r\n"));
		feed(RELAY_DOWN, "+RESET\r\n", step);
		CHECK(out_is(&down, "+OK\r\n$1\r\nv\r\n"));
		CHECK(ev.client_done == 1 && ev.recycled == 0);
		feed(RELAY_DOWN, "+OK\r\n", step);
		CHECK(ev.recycled == 1 && ev.recycle_result == RF_OK);
		CHECK(out_is(&down, "+OK\r\n$1\r\nv\r\n"));

		/* A server without RESET (Redis < 6.2). */
		setup(NULL, ROLE_ANY);
		ev.want_reuse = 1;
		resp_filter_prepare(ev.f);
		CHECK(relay_eof(r, RELAY_UP) == 0);
		feed(RELAY_DOWN, "-ERR unknown command 'RESET'\r\n", step);
		CHECK(ev.recycled == 1 && ev.recycle_result == RF_FAIL);
		CHECK(resp_filter_no_reset(ev.f));
		CHECK(down.len == 0);
	}
	/* Not reusable: a normal half-close. */
	setup(NULL, ROLE_ANY);
	ev.want_reuse = 1;
	resp_filter_prepare(ev.f);
	feed(RELAY_UP, "BLPOP q 0\r\n", 0);
	CHECK(relay_eof(r, RELAY_UP) == 0);
	CHECK(up.eofs == 1 && ev.recycled == 0);
}

static void
test_readonly_and_violation(void)
{
	setup(NULL, ROLE_ANY);
	feed(RELAY_UP, "SET a 1\r\n", 0);
	feed(RELAY_DOWN, "-READONLY You can't write\r\n", 0);
	CHECK(ev.readonly == 0 && down.closed[0] == '\0');

	setup(NULL, ROLE_PRIMARY);
	feed(RELAY_UP, "SET a 1\r\nSET b 2\r\n", 0);
	feed(RELAY_DOWN, "-READONLY You can't write\r\n-READONLY again\r\n",
	    0);
	CHECK(ev.readonly == 1);
	CHECK(strstr(down.closed, "READONLY") != NULL);
	CHECK(out_is(&down, "-READONLY You can't write\r\n"));

	setup(NULL, ROLE_ANY);
	feed(RELAY_UP, "GET a\r\n", 0);
	feed(RELAY_DOWN, "?oops\r\n", 0);
	CHECK(down.failed && strstr(down.closed, "protocol violation") != NULL);
}

int
main(void)
{

	test_conversations();
	test_prepare();
	test_recycle();
	test_readonly_and_violation();
	relay_free(r);
	resp_filter_release_cache();
	if (failures > 0) {
		fprintf(stderr, "unit_resp_filter: %d failures\n", failures);
		return (1);
	}
	printf("unit_resp_filter: all passed\n");
	return (0);
}
