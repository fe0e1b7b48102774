/*
 * redtun --probe: for each client-mode target, a blocking connect, the TLS
 * handshake with the service's own settings and redtun's verification,
 * and a PING: the "does it really work from here" step of an install.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "net.h"
#include "probe.h"
#include "tls.h"
#include "tls_trust.h"
#include "tls_verify.h"

static void
show_name(const char *label, WOLFSSL_X509_NAME *name)
{
	char raw[512], esc[1024];

	if (name == NULL || wolfSSL_X509_NAME_oneline(name, raw,
	    sizeof(raw)) == NULL)
		snprintf(raw, sizeof(raw), "?");
	printf("  %-13s %s\n", label, log_escape(esc, sizeof(esc), raw,
	    strlen(raw)));
}

static void
show_cert(WOLFSSL *ssl)
{
	WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(ssl);
	const WOLFSSL_ASN1_TIME *na;
	int days = 0, secs = 0;

	if (x == NULL) {
		printf("  %-13s none received\n", "certificate:");
		return;
	}
	show_name("subject:", wolfSSL_X509_get_subject_name(x));
	show_name("issuer:", wolfSSL_X509_get_issuer_name(x));
	na = wolfSSL_X509_get_notAfter(x);
	if (na != NULL && wolfSSL_ASN1_TIME_diff(&days, &secs, NULL, na) ==
	    WOLFSSL_SUCCESS) {
		if (days > 0 || (days == 0 && secs >= 0))
			printf("  %-13s %d days to expiry\n", "expires:", days);
		else
			printf("  %-13s EXPIRED %d days ago\n", "expires:",
			    -days);
	} else
		printf("  %-13s unknown\n", "expires:");
	wolfSSL_X509_free(x);
}

/* Send PING and show the first line of the reply. */
static void
ping(WOLFSSL *ssl)
{
	char buf[512], esc[1100];
	int n, got = 0;
	char *nl;

	if (wolfSSL_write(ssl, "PING\r\n", 6) != 6) {
		printf("  %-13s cannot send\n", "PING:");
		return;
	}
	while (got < (int)sizeof(buf) - 1) {
		n = wolfSSL_read(ssl, buf + got, (int)sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += n;
		if (memchr(buf, '\n', (size_t)got) != NULL)
			break;
	}
	if (got <= 0) {
		printf("  %-13s no reply\n", "PING:");
		return;
	}
	buf[got] = '\0';
	if ((nl = memchr(buf, '\n', (size_t)got)) != NULL)
		got = (int)(nl - buf);
	if (got > 0 && buf[got - 1] == '\r')
		got--;
	if (got > 0 && buf[0] == '+')
		printf("  %-13s %s\n", "PING:", log_escape(esc, sizeof(esc),
		    buf + 1, (size_t)got - 1));
	else
		printf("  %-13s %s\n", "PING:", log_escape(esc, sizeof(esc),
		    buf, (size_t)got));
}

/* One target: returns 1 if verified. */
static int
probe_target(const struct svc_conf *sc, WOLFSSL_CTX *ctx,
    const struct tls_trust *trust, const struct addr_spec *t)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct tls_verify_info vi;
	char port[16], why[512], addr[128], reason[512], esc[1100];
	const char *sni, *expected;
	WOLFSSL *ssl = NULL;
	unsigned int secs = sc->timeout_connect ? sc->timeout_connect : 10;
	int fd = -1, rc, ok = 0, err;

	printf("service %s: target %s%s%s:%d\n", sc->name,
	    strchr(t->host, ':') ? "[" : "", t->host,
	    strchr(t->host, ':') ? "]" : "", t->port);
	snprintf(port, sizeof(port), "%d", t->port);
	if ((rc = getaddrinfo(t->host, port, net_hints(&hints, 0),
	    &res)) != 0) {
		printf("  %-13s cannot resolve: %s\n", "address:",
		    gai_strerror(rc));
		goto out;
	}
	snprintf(why, sizeof(why), "no address");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		addr_format(ai->ai_addr, addr, sizeof(addr));
		if ((fd = net_connect_timeout(ai, secs, why, sizeof(why))) >= 0)
			break;
		printf("  %-13s %s: %s\n", "address:", addr, why);
	}
	if (fd < 0)
		goto out;
	printf("  %-13s %s\n", "address:", addr);
	if ((ssl = wolfSSL_new(ctx)) == NULL ||
	    wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS) {
		printf("  %-13s cannot create a TLS session\n", "TLS:");
		goto out;
	}
	/* As handshake.c: SNI for host names only, redtun's own verdict. */
	sni = sc->sni_set ? sc->sni : (addr_is_ip(t->host) ? NULL : t->host);
	if (sni != NULL && sni[0] != '\0')
		(void)wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, sni,
		    (unsigned short)strlen(sni));
	expected = sc->check_host ? sc->check_host : t->host;
	memset(&vi, 0, sizeof(vi));
	if (sc->verify_chain)
		tls_verify_attach(ssl, &vi, trust, expected,
		    TLS_PURPOSE_SERVER);
	if ((rc = wolfSSL_connect(ssl)) != WOLFSSL_SUCCESS) {
		err = wolfSSL_get_error(ssl, rc);
		show_cert(ssl);
		tls_describe_failure(ssl, err, &vi, reason, sizeof(reason));
		printf("  %-13s REFUSED: %s\n", "verification:",
		    log_escape(esc, sizeof(esc), reason, strlen(reason)));
		goto out;
	}
	printf("  %-13s %s, %s\n", "TLS:", wolfSSL_get_version(ssl),
	    wolfSSL_get_cipher_name(ssl));
	show_cert(ssl);
	if (!sc->verify_chain)
		printf("  %-13s NOT VERIFIED (verifyChain = false)\n",
		    "verification:");
	else if (vi.verdict == 1) {
		printf("  %-13s verified (for \"%s\")\n", "verification:",
		    expected);
		ok = 1;
	} else
		printf("  %-13s REFUSED: %s\n", "verification:",
		    vi.reason[0] ? vi.reason : "no verdict");
	ping(ssl);
	(void)wolfSSL_shutdown(ssl);
out:
	if (ssl != NULL)
		wolfSSL_free(ssl);
	if (fd >= 0)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	printf("\n");
	return (ok);
}

int
probe_targets(const struct svc_conf *const *svcs, size_t n)
{
	struct tls_trust *trust;
	WOLFSSL_CTX *ctx;
	char why[512];
	size_t i, k, bad = 0;

	for (i = 0; i < n; i++) {
		const struct svc_conf *sc = svcs[i];

		if (!sc->client) {
			printf("service %s: server mode: not probed\n\n",
			    sc->name);
			continue;
		}
		trust = NULL;
		if ((ctx = tls_ctx_new(sc, NULL, &trust, why,
		    sizeof(why))) == NULL) {
			printf("service %s: %s\n\n", sc->name, why);
			bad++;
			continue;
		}
		for (k = 0; k < sc->nconnect; k++)
			if (!probe_target(sc, ctx, trust, &sc->connect[k]))
				bad++;
		wolfSSL_CTX_free(ctx);
		tls_trust_free(trust);
	}
	fflush(stdout);
	return (bad ? 1 : 0);
}
