/*
 * Telling the service manager what the daemon does (sd_notify(3)).  The
 * protocol is one datagram of "KEY=VALUE" lines to the AF_UNIX socket
 * named by NOTIFY_SOCKET.  libsystemd's sd_notify is used when configure
 * found it; the socket connected at start is the fallback (and the only
 * way without libsystemd): after a chroot the socket's path is gone, but
 * a connected socket still reaches it.  NOTIFY_SOCKET is left set, so
 * every reload can be reported.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "config.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "notify.h"

#define STATUS_MAX	400
#define STATUS_EVERY_MS	2000	/* STATUS refreshed at most this often */
#define IDLE_TICK_MS	5000	/* the timer's period without a watchdog */

static struct {
	int fd;				/* connected to NOTIFY_SOCKET, or -1 */
	struct sockaddr_un sun;		/* for a reconnect */
	socklen_t sunlen;
	notify_status_cb *cb;
	void *cb_arg;
	char failure[STATUS_MAX];	/* the last reload's failure, or "" */
	char last[STATUS_MAX];		/* the STATUS last sent */
	uint64_t last_ms;		/* when (uv_hrtime, ms) */
	uint64_t wd_usec;		/* 0: no watchdog */
	uv_timer_t timer;
	int timer_state;		/* 0 none, 1 running, 2 closing */
} nt = { .fd = -1 };

/* Copy ${src} into ${dst} with control and non-ASCII bytes as '?'. */
static void
clean(char *dst, size_t dstlen, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	dst[i] = '\0';
}

static int
open_socket(void)
{
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return (-1);
	if (connect(fd, (struct sockaddr *)&nt.sun, nt.sunlen) != 0) {
		close(fd);
		return (-1);
	}
	return (fd);
}

int
notify_init(void)
{
	const char *e = getenv("NOTIFY_SOCKET");
	size_t len;

	notify_close();
	nt.sunlen = 0;
	if (e == NULL || e[0] == '\0')
		return (0);
	len = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || len < 2 ||
	    len >= sizeof(nt.sun.sun_path))
		return (-1);
	memset(&nt.sun, 0, sizeof(nt.sun));
	nt.sun.sun_family = AF_UNIX;
	memcpy(nt.sun.sun_path, e, len);
	if (e[0] == '@')
		nt.sun.sun_path[0] = '\0';	/* abstract: no NUL after it */
	nt.sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (e[0] == '/'));
	/* Not reachable now: messages are dropped (a reconnect may work). */
	nt.fd = open_socket();
	return (0);
}

/*
 * Send one message.  Ours drops it if the manager cannot take it right
 * now; sd_notify's socket is blocking, but the manager reads its queue
 * (512 datagrams) at once, and we send a few a minute.
 */
static void
send_msg(const char *msg)
{
	size_t len = strlen(msg);
	int tries;

#ifdef HAVE_LIBSYSTEMD
	if (sd_notify(0, msg) > 0)
		return;
#endif
	if (nt.sunlen == 0)
		return;
	/* The manager re-executed (its socket is new): connect once more. */
	for (tries = 0; tries < 2; tries++) {
		if (nt.fd < 0 && (nt.fd = open_socket()) < 0)
			return;
		if (send(nt.fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0 ||
		    errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		close(nt.fd);
		nt.fd = -1;
	}
}

static int
active(void)
{

	return (nt.sunlen > 0 || getenv("NOTIFY_SOCKET") != NULL);
}

static uint64_t
now_ms(void)
{

	return (uv_hrtime() / 1000000);
}

/* Append ${a}, ${b} and ${c} to the string in ${buf}, cut to fit. */
static void
append(char *buf, size_t len, const char *a, const char *b, const char *c)
{
	const char *parts[3] = { a, b, c };
	size_t o = strlen(buf), i, k;

	for (i = 0; i < 3; i++)
		for (k = 0; parts[i][k] != '\0' && o + 1 < len; k++)
			buf[o++] = parts[i][k];
	buf[o] = '\0';
}

/* The STATUS text now: the failure (if any), then the callback's. */
static void
status_text(char *buf, size_t len)
{
	char state[STATUS_MAX] = "";

	if (nt.cb != NULL)
		nt.cb(nt.cb_arg, state, sizeof(state));
	buf[0] = '\0';
	if (nt.failure[0] != '\0')
		append(buf, len, "reload failed: ", nt.failure,
		    state[0] != '\0' ? "; " : "");
	append(buf, len, state, "", "");
}

/* Append "STATUS=...\n" to ${msg} and remember it as sent. */
static void
add_status(char *msg, size_t len, const char *text)
{
	char line[STATUS_MAX];

	clean(line, sizeof(line), text);
	snprintf(msg + strlen(msg), len - strlen(msg), "STATUS=%s\n", line);
	snprintf(nt.last, sizeof(nt.last), "%s", text);
	nt.last_ms = now_ms();
}

void
notify_set_status_cb(notify_status_cb *fn, void *arg)
{

	nt.cb = fn;
	nt.cb_arg = arg;
}

void
notify_ready(const char *failure)
{
	char msg[STATUS_MAX + 64] = "READY=1\n", text[STATUS_MAX];

	if (!active())
		return;
	if (failure != NULL)
		clean(nt.failure, sizeof(nt.failure), failure);
	else
		nt.failure[0] = '\0';
	status_text(text, sizeof(text));
	if (text[0] != '\0')
		add_status(msg, sizeof(msg), text);
	send_msg(msg);
}

void
notify_reloading(void)
{
	char msg[96];
	struct timespec ts;

	if (!active())
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	send_msg(msg);
}

void
notify_stopping(void)
{

	if (active())
		send_msg("STOPPING=1\n");
}

void
notify_status(const char *fmt, ...)
{
	char text[STATUS_MAX], msg[STATUS_MAX + 16] = "";
	va_list ap;

	if (!active())
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	add_status(msg, sizeof(msg), text);
	send_msg(msg);
}

/* The watchdog's interval from the environment; 0: none asked for us. */
static uint64_t
watchdog_usec(void)
{
#ifdef HAVE_LIBSYSTEMD
	uint64_t usec = 0;

	/* Checks WATCHDOG_PID against getpid() too. */
	if (sd_watchdog_enabled(0, &usec) > 0)
		return (usec);
	return (0);
#else
	const char *e = getenv("WATCHDOG_USEC"), *p;
	unsigned long long usec, pid;
	char *end;

	if (e == NULL || e[0] < '0' || e[0] > '9')
		return (0);
	errno = 0;
	usec = strtoull(e, &end, 10);
	if (errno != 0 || *end != '\0' || usec == 0)
		return (0);
	if ((p = getenv("WATCHDOG_PID")) != NULL) {
		if (p[0] < '0' || p[0] > '9')
			return (0);
		pid = strtoull(p, &end, 10);
		if (errno != 0 || *end != '\0' ||
		    pid != (unsigned long long)getpid())
			return (0);
	}
	return (usec);
#endif
}

static void
on_tick(uv_timer_t *h)
{
	char msg[STATUS_MAX + 64] = "", text[STATUS_MAX];

	(void)h;
	if (nt.wd_usec > 0)
		strcpy(msg, "WATCHDOG=1\n");
	if (now_ms() - nt.last_ms >= STATUS_EVERY_MS) {
		status_text(text, sizeof(text));
		if (strcmp(text, nt.last) != 0)
			add_status(msg, sizeof(msg), text);
	}
	if (msg[0] != '\0')
		send_msg(msg);
}

static void
on_timer_closed(uv_handle_t *h)
{

	(void)h;
	nt.timer_state = 0;
}

int
notify_watchdog_start(uv_loop_t *loop)
{
	uint64_t ms;

	if (nt.timer_state != 0 || !active())
		return (0);
	nt.wd_usec = watchdog_usec();
	/* Half the interval, as sd_watchdog_enabled(3) advises. */
	ms = nt.wd_usec > 0 ? nt.wd_usec / 2000 : IDLE_TICK_MS;
	if (ms == 0)
		ms = 1;
	if (uv_timer_init(loop, &nt.timer) != 0)
		return (-1);
	if (uv_timer_start(&nt.timer, on_tick, ms, ms) != 0) {
		nt.timer_state = 2;
		uv_close((uv_handle_t *)&nt.timer, on_timer_closed);
		return (-1);
	}
	/* Pings alone must not keep a stopping daemon running. */
	uv_unref((uv_handle_t *)&nt.timer);
	nt.timer_state = 1;
	if (nt.wd_usec > 0)
		send_msg("WATCHDOG=1\n");
	return (0);
}

void
notify_watchdog_stop(void)
{

	if (nt.timer_state != 1)
		return;
	nt.timer_state = 2;
	uv_close((uv_handle_t *)&nt.timer, on_timer_closed);
}

void
notify_close(void)
{

	if (nt.fd >= 0)
		close(nt.fd);
	nt.fd = -1;
	nt.sunlen = 0;
	nt.cb = NULL;
	nt.cb_arg = NULL;
}
