/* Parsing and printing of host:port endpoints. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

static int
parse_port(const char *s, int *port)
{
	long n = 0;

	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		n = n * 10 + (*s - '0');
		if (n > 65535)
			return (-1);
	}
	if (n == 0)
		return (-1);
	*port = (int)n;
	return (0);
}

int
addr_is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return (inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1);
}

int
addr_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return (1);
	if (inet_pton(AF_INET, host, &a4) == 1)
		return ((ntohl(a4.s_addr) >> 24) == 127);
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return (IN6_IS_ADDR_LOOPBACK(&a6));
	return (0);
}

int
addr_parse(const char *text, const char *bare_port_host,
    struct addr_spec *spec, char *why, size_t whylen)
{
	const char *colon, *host, *port;
	size_t hostlen;

	spec->host = NULL;
	if ((colon = strrchr(text, ':')) == NULL) {
		if (bare_port_host == NULL ||
		    strspn(text, "0123456789") != strlen(text)) {
			snprintf(why, whylen, "expected \"host:port\", got \"%s\"",
			    text);
			return (-1);
		}
		host = bare_port_host;
		hostlen = strlen(host);
		port = text;
	} else if (text[0] == '[') {
		if (colon == text || colon[-1] != ']') {
			snprintf(why, whylen,
			    "expected \"[IPv6]:port\", got \"%s\"", text);
			return (-1);
		}
		host = text + 1;
		hostlen = (size_t)(colon - 1 - host);
		port = colon + 1;
	} else {
		if (memchr(text, ':', (size_t)(colon - text)) != NULL) {
			snprintf(why, whylen, "IPv6 addresses must be written"
			    " as \"[addr]:port\", got \"%s\"", text);
			return (-1);
		}
		host = text;
		hostlen = (size_t)(colon - text);
		port = colon + 1;
	}
	if (hostlen == 0) {
		snprintf(why, whylen, "missing host in \"%s\"", text);
		return (-1);
	}
	if (parse_port(port, &spec->port)) {
		snprintf(why, whylen, "bad port \"%s\" in \"%s\" (1..65535)",
		    port, text);
		return (-1);
	}
	if ((spec->host = strndup(host, hostlen)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	spec->is_ip = addr_is_ip(spec->host);
	if (text[0] == '[' && !spec->is_ip) {
		snprintf(why, whylen, "\"%s\" is not an IPv6 address",
		    spec->host);
		addr_spec_free(spec);
		return (-1);
	}
	return (0);
}

void
addr_spec_free(struct addr_spec *spec)
{

	if (spec == NULL)
		return;
	free(spec->host);
	spec->host = NULL;
}

const char *
addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%d", ip, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%d", ip, ntohs(s4->sin_port));
	} else {
		snprintf(buf, len, "?");
	}
	return (buf);
}
