/*
 * libFuzzer harness: bytes from a hostile upstream server, fed to a real
 * client-mode tunnel through real loopback sockets and the same libuv and
 * wolfSSL code paths the daemon uses.  The first input byte picks when the
 * bytes arrive: even = instead of a ServerHello (during the handshake),
 * odd = right after a genuine TLS handshake with a harness server.
 * FUZZ_CERT_DIR must hold ca.crt, server.crt and server.key (made by
 * scripts/gen-test-certs; scripts/fuzz does that).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "conf.h"
#include "listener.h"
#include "log.h"
#include "service.h"
#include "tls.h"
#include "tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct tunnels *set;
static WOLFSSL_CTX *server_ctx;
static int upstream_listen = -1;
static int local_port;

static int
listen_any(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		abort();
	*port = ntohs(sa.sin_port);
	return (fd);
}

static void
setup(void)
{
	const char *dir = getenv("FUZZ_CERT_DIR");
	char text[1024], why[512], path[512];
	struct conf *cf;
	struct svc *svc;
	int up_port, tmp;
	FILE *f;

	if (dir == NULL) {
		fprintf(stderr, "set FUZZ_CERT_DIR\n");
		abort();
	}
	tls_init();
	log_open(NULL, 1, LOG_LVL_EMERG);
	uv_loop_init(&loop);
	set = tunnels_new(0);
	upstream_listen = listen_any(&up_port);
	close(listen_any(&local_port));	/* a free port for the tunnel */
	snprintf(text, sizeof(text), "services = { f = { accept = "
	    "\"127.0.0.1:%d\"; connect = \"localhost:%d\"; CAfile = "
	    "\"%s/ca.crt\"; TIMEOUTconnect = 2; TIMEOUTclose = 1; }; };",
	    local_port, up_port, dir);
	if ((f = fmemopen(text, strlen(text), "r")) == NULL ||
	    (cf = conf_read(f, "fuzz", CONF_FORMAT_LIBCONFIG, why,
	    sizeof(why))) == NULL) {
		fprintf(stderr, "fuzz config: %s\n", why);
		abort();
	}
	fclose(f);
	if ((svc = svc_new(cf->svcs[0], why, sizeof(why))) == NULL ||
	    listener_new(&loop, set, svc, why, sizeof(why)) == NULL) {
		fprintf(stderr, "fuzz service: %s\n", why);
		abort();
	}
	cf->svcs[0] = NULL;
	svc_unref(svc);
	conf_free(cf);
	server_ctx = wolfSSL_CTX_new(wolfTLS_server_method());
	snprintf(path, sizeof(path), "%s/server.crt", dir);
	tmp = wolfSSL_CTX_use_certificate_chain_file(server_ctx, path);
	snprintf(path, sizeof(path), "%s/server.key", dir);
	if (tmp != WOLFSSL_SUCCESS || wolfSSL_CTX_use_PrivateKey_file(
	    server_ctx, path, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
		abort();
}

/* One turn of the event loop plus a short wait on the harness sockets. */
static void
turn(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	uv_run(&loop, UV_RUN_NOWAIT);
	if (fd >= 0)
		(void)poll(&p, 1, 1);
}

static void
drain(int fd)
{
	char buf[4096];

	while (fd >= 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct sockaddr_in sa;
	WOLFSSL *ssl = NULL;
	int cli, up = -1, i, rc;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size == 0)
		return (0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)local_port);
	cli = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	(void)connect(cli, (struct sockaddr *)&sa, sizeof(sa));
	for (i = 0; i < 2000 && up < 0; i++) {
		turn(upstream_listen);
		up = accept4(upstream_listen, NULL, NULL, SOCK_NONBLOCK);
	}
	if (up < 0)
		goto out;
	if (data[0] & 1) {
		ssl = wolfSSL_new(server_ctx);
		wolfSSL_set_fd(ssl, up);
		for (i = 0; i < 2000; i++) {
			rc = wolfSSL_accept(ssl);
			if (rc == WOLFSSL_SUCCESS)
				break;
			rc = wolfSSL_get_error(ssl, rc);
			if (rc != WOLFSSL_ERROR_WANT_READ &&
			    rc != WOLFSSL_ERROR_WANT_WRITE)
				break;
			turn(up);
		}
		(void)send(cli, "PING\r\n", 6, MSG_NOSIGNAL);
	}
	(void)send(up, data + 1, size - 1, MSG_NOSIGNAL);
	for (i = 0; i < 5; i++) {
		turn(cli);
		drain(cli);
		drain(up);
	}
	/* End the connection from both sides; the tunnel must wind down. */
	shutdown(up, SHUT_WR);
	shutdown(cli, SHUT_WR);
	for (i = 0; i < 3000 && tunnels_count(set) > 0; i++) {
		turn(cli);
		drain(cli);
		drain(up);
	}
	if (tunnels_count(set) > 0) {
		fprintf(stderr, "tunnel did not finish after both sides "
		    "closed\n");
		abort();
	}
out:
	if (ssl != NULL)
		wolfSSL_free(ssl);
	if (up >= 0)
		close(up);
	close(cli);
	for (i = 0; i < 5; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	return (0);
}
