/*
 * "redtun status [CONFIG] [--json]": the configuration names the status
 * endpoint; one blocking GET /status (bounded in time and size) and the
 * answer printed by status_table.  No libuv: it is a short-lived client.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "net.h"
#include "status_cli.h"
#include "status_table.h"

/* Milliseconds left until ${deadline} (CLOCK_MONOTONIC), at least 0. */
static int
left_ms(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return (ms > 0 ? (int)ms : 0);
}

/* Send all of ${req}; 0 or -1 with the reason. */
static int
send_all(int fd, const char *req, size_t len, char *why, size_t whylen)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, req, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, whylen, "cannot send the request: %s",
			    errno == EAGAIN ? "timed out" : strerror(errno));
			return (-1);
		}
		req += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Read until EOF into a new buffer (${*buf}, ${*len}; caller frees),
 * at most STATUS_CLI_MAX bytes, all of it before ${deadline}.
 */
static int
recv_all(int fd, const struct timespec *deadline, char **buf, size_t *len,
    char *why, size_t whylen)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t cap = 65536, have = 0;
	char *b, *nb;
	ssize_t n;
	int ms;

	if ((b = malloc(cap)) == NULL)
		goto oom;
	for (;;) {
		if ((ms = left_ms(deadline)) == 0 ||
		    poll(&pfd, 1, ms) == 0) {
			snprintf(why, whylen, "no complete answer within %d s",
			    STATUS_CLI_TIMEOUT);
			goto err;
		}
		if (have == cap) {
			if (cap >= STATUS_CLI_MAX) {
				snprintf(why, whylen, "answer larger than %d "
				    "bytes", STATUS_CLI_MAX);
				goto err;
			}
			cap *= 2;
			if ((nb = realloc(b, cap)) == NULL)
				goto oom;
			b = nb;
		}
		if ((n = recv(fd, b + have, cap - have, 0)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(why, whylen, "reading the answer: %s",
			    strerror(errno));
			goto err;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	*buf = b;
	*len = have;
	return (0);
oom:
	snprintf(why, whylen, "out of memory");
err:
	free(b);
	return (-1);
}

int
status_cli_answer(const char *buf, size_t len, const char **body,
    size_t *bodylen, char *why, size_t whylen)
{
	const char *eol, *hend, *h, *v;
	char line[200];
	int code;
	unsigned long long clen;
	int have_clen = 0;

	if ((hend = memmem(buf, len, "\r\n\r\n", 4)) == NULL ||
	    (eol = memmem(buf, (size_t)(hend - buf) + 2, "\r\n", 2)) == NULL) {
		snprintf(why, whylen, "not an HTTP answer (%zu bytes)", len);
		return (-1);
	}
	log_escape(line, sizeof(line), buf, (size_t)(eol - buf));
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' ||
	    sscanf(buf + 9, "%3d", &code) != 1) {
		snprintf(why, whylen, "not an HTTP answer: \"%s\"", line);
		return (-1);
	}
	if (code != 200) {
		snprintf(why, whylen, "answered \"%s\"", line);
		return (-1);
	}
	/* Header lines, for Content-Length and a framing we do not read. */
	for (h = eol + 2; h < hend; h = eol + 2) {
		eol = memmem(h, (size_t)(hend + 2 - h), "\r\n", 2);
		if ((v = memchr(h, ':', (size_t)(eol - h))) == NULL)
			continue;
		if ((size_t)(v - h) == 14 &&
		    strncasecmp(h, "Content-Length", 14) == 0) {
			if (sscanf(v + 1, " %llu", &clen) != 1)
				goto badlen;
			have_clen = 1;
		} else if ((size_t)(v - h) == 17 &&
		    strncasecmp(h, "Transfer-Encoding", 17) == 0) {
			snprintf(why, whylen, "answered with a "
			    "Transfer-Encoding (expected Content-Length or "
			    "Connection: close)");
			return (-1);
		}
	}
	*body = hend + 4;
	*bodylen = len - (size_t)(*body - buf);
	if (have_clen && clen != *bodylen)
		goto badlen;
	return (0);
badlen:
	snprintf(why, whylen, "the body does not match its Content-Length");
	return (-1);
}

/* GET /status from ${addr} ("host:port"); the answer's body printed. */
static int
fetch(const char *addr, int json)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct addr_spec spec = { NULL, 0, 0 };
	struct timespec deadline;
	char why[512], req[400], port[16], *buf = NULL;
	const char *host, *body;
	size_t len, blen;
	int fd = -1, rc = STATUS_CLI_UNREACHABLE, e;

	if (addr_parse(addr, NULL, &spec, why, sizeof(why)))
		goto err;
	/* A wildcard listener answers on loopback. */
	host = strcmp(spec.host, "0.0.0.0") == 0 ? "127.0.0.1" :
	    strcmp(spec.host, "::") == 0 ? "::1" : spec.host;
	snprintf(port, sizeof(port), "%d", spec.port);
	if ((e = getaddrinfo(host, port, net_hints(&hints, 0), &res)) != 0) {
		snprintf(why, sizeof(why), "cannot resolve: %s",
		    gai_strerror(e));
		goto err;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = net_connect_timeout(ai, STATUS_CLI_TIMEOUT, why,
		    sizeof(why));
	if (fd < 0)
		goto err;
	snprintf(req, sizeof(req), "GET /status HTTP/1.1\r\nHost: %s%s%s:%d"
	    "\r\nUser-Agent: redtun-status\r\nAccept: application/json\r\n"
	    "Connection: close\r\n\r\n", strchr(host, ':') ? "[" : "", host,
	    strchr(host, ':') ? "]" : "", spec.port);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += STATUS_CLI_TIMEOUT;
	if (send_all(fd, req, strlen(req), why, sizeof(why)) ||
	    recv_all(fd, &deadline, &buf, &len, why, sizeof(why)) ||
	    status_cli_answer(buf, len, &body, &blen, why, sizeof(why)))
		goto err;
	if ((rc = status_table_print(stdout, body, blen, json, why,
	    sizeof(why))) < 0) {
		rc = STATUS_CLI_UNREACHABLE;
		goto err;
	}
	goto done;
err:
	fprintf(stderr, "redtun: status endpoint %s: %s\n", addr, why);
done:
	free(buf);
	if (fd >= 0)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	addr_spec_free(&spec);
	return (rc);
}

int
status_cli(const char *config, int json, int format)
{
	struct conf *cf;
	char why[1024];
	int rc;

	/* Names only: an operator who cannot read the key may still ask. */
	if ((cf = conf_load(config, format | CONF_NO_FILES, why,
	    sizeof(why))) == NULL) {
		fprintf(stderr, "redtun: %s\n", why);
		return (STATUS_CLI_CONFIG);
	}
	if (cf->status == NULL) {
		fprintf(stderr, "redtun: %s: no status endpoint (set status = "
		    "\"127.0.0.1:9187\")\n", config);
		conf_free(cf);
		return (STATUS_CLI_CONFIG);
	}
	rc = fetch(cf->status, json);
	conf_free(cf);
	return (rc);
}
