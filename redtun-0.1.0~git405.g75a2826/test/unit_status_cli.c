/*
 * Unit tests for "redtun status": the HTTP answer's framing
 * (status_cli_answer) and the table drawn from canned /status answers
 * (status_table_print), including hostile text from the daemon.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status_cli.h"
#include "status_table.h"

#include "unit_check.h"

#define CHECK_HAS(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || strstr(a_, b_) == NULL) {			\
		fprintf(stderr, "%s:%d: output lacks \"%s\":\n%s\n",	\
		    __FILE__, __LINE__, b_, a_ ? a_ : "(null)");	\
		failures++;						\
	}								\
} while (0)
#define CHECK_LACKS(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || strstr(a_, b_) != NULL) {			\
		fprintf(stderr, "%s:%d: output has \"%s\":\n%s\n",	\
		    __FILE__, __LINE__, b_, a_ ? a_ : "(null)");	\
		failures++;						\
	}								\
} while (0)

/* Two services, one with a target down, a cluster with two nodes, one
 * service removed by a reload; a reload that failed. */
static const char ONE[] =
    "{\"version\":\"0.9\",\"wolfssl\":\"5.5.4\",\"libuv\":\"1.44.2\","
    "\"aesni\":true,\"config\":\"/etc/redtun/redtun.conf\","
    "\"format\":\"libconfig\",\"generation\":3,\"start_time\":1700000000,"
    "\"uptime_seconds\":7385.5,\"workers\":2,"
    "\"reloads\":{\"ok\":2,\"failed\":1,\"last_time\":1700007000,"
    "\"last_ok\":false,\"last_error\":\"x.conf:3: connect: bad\","
    "\"in_progress\":false},"
    "\"healthy\":true,\"health_reason\":null,\"fd_exhaustion\":0,"
    "\"services\":["
    "{\"name\":\"redis\",\"configured\":true,\"node\":false,"
    "\"mode\":\"client\",\"accept\":\"127.0.0.1:6379\","
    "\"listening_workers\":2,\"connections\":{\"active\":3,\"total\":120},"
    "\"failures\":{\"refused\":2,\"dns\":1,\"timeout\":0},"
    "\"targets\":[{\"name\":\"primary.example:6380\",\"state\":\"down\","
    "\"backoff_seconds\":12,\"last_error\":\"connection refused\"},"
    "{\"name\":\"replica.example:6380\",\"state\":\"up\","
    "\"backoff_seconds\":0,\"last_error\":null}]},"
    "{\"name\":\"a-much-longer-service-name\",\"configured\":true,"
    "\"node\":false,\"mode\":\"server\",\"accept\":\"0.0.0.0:16379\","
    "\"listening_workers\":2,\"connections\":{\"active\":0,\"total\":7},"
    "\"failures\":{},\"targets\":[{\"name\":\"localhost:6379\","
    "\"state\":\"unknown\",\"backoff_seconds\":0,\"last_error\":null}]},"
    "{\"name\":\"cl\",\"configured\":true,\"node\":false,"
    "\"mode\":\"client\",\"accept\":\"127.0.0.1:7000\",\"cluster_nodes\":2,"
    "\"listening_workers\":2,\"connections\":{\"active\":1,\"total\":1},"
    "\"targets\":[{\"name\":\"seed:7000\",\"state\":\"up\"}]},"
    "{\"name\":\"cl@10.0.0.1:6379\",\"configured\":true,\"node\":true,"
    "\"mode\":\"client\",\"accept\":\"127.0.0.1:7001\","
    "\"listening_workers\":2,\"targets\":[{\"name\":\"10.0.0.1:6379\","
    "\"state\":\"up\"}]},"
    "{\"name\":\"cl@10.0.0.2:6379\",\"configured\":true,\"node\":true,"
    "\"mode\":\"client\",\"accept\":\"127.0.0.1:7002\","
    "\"listening_workers\":1,\"targets\":[{\"name\":\"10.0.0.2:6379\","
    "\"state\":\"down\",\"backoff_seconds\":0,\"last_error\":\"timeout\"}]},"
    "{\"name\":\"old\",\"configured\":false,\"node\":false,"
    "\"mode\":\"client\",\"accept\":\"127.0.0.1:6390\","
    "\"listening_workers\":0,\"targets\":[]}"
    "]}";

/* Unhealthy, hostile text in names and errors, no reload yet. */
static const char TWO[] =
    "{\"version\":\"0.9\",\"workers\":1,\"uptime_seconds\":59,"
    "\"format\":\"stunnel\",\"generation\":1,"
    "\"reloads\":{\"ok\":0,\"failed\":0,\"last_time\":null,"
    "\"last_ok\":null,\"last_error\":null,\"in_progress\":true},"
    "\"healthy\":false,\"health_reason\":\"[r] not listening on 1 of 1 "
    "workers\",\"fd_exhaustion\":4,"
    "\"services\":[{\"name\":\"r\\u001b[31m\",\"configured\":true,"
    "\"node\":false,\"mode\":\"client\",\"accept\":\"127.0.0.1:1\","
    "\"listening_workers\":0,\"connections\":{\"active\":0,\"total\":0},"
    "\"targets\":[{\"name\":\"h:1\",\"state\":\"down\","
    "\"backoff_seconds\":3,\"last_error\":\"bad\\nline\\u0007\"}]}]}";

/* status_table_print into a string; returns its result. */
static int
render(const char *json, int as_json, char **text)
{
	char why[256];
	size_t len;
	FILE *f;
	int rc;

	if ((f = open_memstream(text, &len)) == NULL) {
		perror("open_memstream");
		exit(99);
	}
	why[0] = '\0';
	rc = status_table_print(f, json, strlen(json), as_json, why,
	    sizeof(why));
	fclose(f);
	if (rc < 0) {
		free(*text);
		*text = strdup(why);
	}
	return (rc);
}

static void
test_table(void)
{
	char *t;

	CHECK(render(ONE, 0, &t) == 0);
	CHECK_HAS(t, "redtun 0.9 (wolfSSL 5.5.4, libuv 1.44.2, AES-NI), "
	    "config /etc/redtun/redtun.conf (generation 3), up 2h03m, "
	    "2 workers\n");
	CHECK_HAS(t, "failed: x.conf:3: connect: bad (2 ok, 1 failed)\n");
	/* Columns sized to the longest name; numbers right-aligned. */
	CHECK_HAS(t, "\nSERVICE                     MODE    ACCEPT        "
	    "  LISTEN  ACTIVE  TOTAL  FAILED  TARGETS\n");
	CHECK_HAS(t, "\nredis                       client  127.0.0.1:6379"
	    "  2/2          3    120       3  1/2 up\n");
	CHECK_HAS(t, "\na-much-longer-service-name  server  0.0.0.0:16379 "
	    "  2/2          0      7       0  0/1 up, 1 untried\n");
	CHECK_HAS(t, "\n  down: primary.example:6380 (back-off 12 s: "
	    "connection refused)\n");
	CHECK_LACKS(t, "replica.example");
	/* Nodes folded under their cluster; their down targets listed. */
	CHECK_HAS(t, "\ncl  ");
	CHECK_HAS(t, "\n  + 2 cluster nodes, 1 not listening on every "
	    "worker\n  down: 10.0.0.2:6379 (timeout)\n");
	CHECK_LACKS(t, "cl@");
	CHECK_HAS(t, "\nremoved: old (counters kept)\n");
	CHECK_HAS(t, "\nhealth: ok\n");
	free(t);

	CHECK(render(TWO, 0, &t) == 1);
	CHECK_HAS(t, "(stunnel format, generation 1), up 59s, 1 worker\n");
	CHECK_HAS(t, "last reload: none; a reload is in progress\n");
	CHECK_HAS(t, "\nr\\x1b[31m  client");
	CHECK_HAS(t, "(back-off 3 s: bad\\x0aline\\x07)\n");
	CHECK_HAS(t, "out of descriptors: 4 times\n");
	CHECK_HAS(t, "unhealthy: [r] not listening on 1 of 1 workers\n");
	CHECK(strchr(t, '\033') == NULL && strchr(t, '\007') == NULL);
	free(t);
}

static void
test_json(void)
{
	char *t;

	CHECK(render(TWO, 1, &t) == 1);
	CHECK_HAS(t, "{\n  \"version\": \"0.9\",\n");
	CHECK_HAS(t, "\"r\\u001B[31m\"");
	CHECK(strchr(t, '\033') == NULL);
	free(t);
	CHECK(render(ONE, 1, &t) == 0);
	CHECK_HAS(t, "\"cl@10.0.0.2:6379\"");
	free(t);
}

static void
test_bad_json(void)
{
	char *t;

	CHECK(render("", 0, &t) == -1);
	CHECK_HAS(t, "not JSON");
	free(t);
	CHECK(render("[1,2]", 0, &t) == -1);
	CHECK_HAS(t, "not a redtun /status answer");
	free(t);
	CHECK(render("{\"healthy\":\"yes\",\"services\":[]}", 1, &t) == -1);
	free(t);
	CHECK(render("{\"healthy\":true,\"healthy\":false,\"services\":[]}",
	    0, &t) == -1);
	free(t);
	/* The least answer that is one. */
	CHECK(render("{\"healthy\":true,\"services\":[]}", 0, &t) == 0);
	CHECK_HAS(t, "redtun ? (wolfSSL ?, libuv ?)");
	free(t);
}

static int
answer(const char *a, const char **body, size_t *blen, char *why,
    size_t whylen)
{

	return (status_cli_answer(a, strlen(a), body, blen, why, whylen));
}

static void
test_answer(void)
{
	const char *body;
	char why[256];
	size_t blen;

	CHECK(answer("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: 2\r\nConnection: close\r\n\r\n{}", &body, &blen,
	    why, sizeof(why)) == 0 && blen == 2 && memcmp(body, "{}", 2) == 0);
	CHECK(answer("HTTP/1.0 200 OK\r\n\r\n{\"a\":1}", &body, &blen, why,
	    sizeof(why)) == 0 && blen == 7);
	CHECK(answer("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n{}", &body,
	    &blen, why, sizeof(why)) == -1);
	CHECK_HAS(why, "Content-Length");
	CHECK(answer("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
	    &body, &blen, why, sizeof(why)) == -1);
	CHECK_HAS(why, "answered \"HTTP/1.1 404 Not Found\"");
	CHECK(answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\n{}\r\n0\r\n\r\n", &body, &blen, why, sizeof(why)) == -1);
	CHECK_HAS(why, "Transfer-Encoding");
	CHECK(answer("SSH-2.0-OpenSSH_9.2\r\n", &body, &blen, why,
	    sizeof(why)) == -1);
	CHECK_HAS(why, "not an HTTP answer");
	CHECK(answer("HTTP/1.1 500 \033[2J\r\n\r\n", &body, &blen, why,
	    sizeof(why)) == -1);
	CHECK_HAS(why, "\\x1b[2J");
	CHECK(answer("", &body, &blen, why, sizeof(why)) == -1);
	CHECK(answer("HTTP/1.1 200 OK\r\nX: y\r\n\r\n", &body, &blen, why,
	    sizeof(why)) == 0 && blen == 0);
}

int
main(void)
{

	test_answer();
	test_table();
	test_json();
	test_bad_json();
	if (failures) {
		fprintf(stderr, "unit_status_cli: %d failure(s)\n", failures);
		return (1);
	}
	printf("unit_status_cli: ok\n");
	return (0);
}
