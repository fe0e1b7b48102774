/* Logging: one line per event, to a file, stderr or syslog. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"
};

/*
 * One process-wide destination shared by the worker threads; the lock
 * keeps a reopen (SIGUSR1) or a new output (reload) from closing the file
 * under a writer, so every field but level is read and changed under it.
 * The level is read atomically on every call, before any work.
 */
static struct {
	FILE *file;
	char *path;
	int use_syslog;
	int level;
	int facility;
} out = { NULL, NULL, 0, LOG_LVL_NOTICE, LOG_DAEMON };
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
/* logFormat = "json": set on the main thread, read by every writer. */
static log_formatter *formatter;

int
log_open(const char *path, int use_stderr, int level)
{
	FILE *f = NULL, *oldf;
	char *copy = NULL, *oldpath;
	int use_syslog = (path == NULL && !use_stderr), was_syslog;

	if (path != NULL) {
		if ((f = fopen(path, "a")) == NULL)
			goto err0;
		if ((copy = strdup(path)) == NULL)
			goto err1;
		setvbuf(f, NULL, _IOLBF, 0);
	}
	/* Swap under the lock; close the old file once no writer can hold it. */
	pthread_mutex_lock(&out_lock);
	oldf = out.file;
	oldpath = out.path;
	was_syslog = out.use_syslog;
	out.file = f;
	out.path = copy;
	if (was_syslog && !use_syslog)
		closelog();
	if (use_syslog && !was_syslog)
		openlog("redtun", LOG_PID | LOG_NDELAY, out.facility);
	out.use_syslog = use_syslog;
	pthread_mutex_unlock(&out_lock);
	__atomic_store_n(&out.level, level, __ATOMIC_RELAXED);
	if (oldf != NULL)
		fclose(oldf);
	free(oldpath);
	return (0);

err1:
	fclose(f);
err0:
	return (-1);
}

void
log_set_facility(int facility)
{

	pthread_mutex_lock(&out_lock);
	out.facility = facility;
	pthread_mutex_unlock(&out_lock);
}

int
log_facility_parse(const char *text, int *facility)
{
	static const struct { const char *name; int value; } names[] = {
		{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
		{ "cron", LOG_CRON }, { "daemon", LOG_DAEMON },
		{ "ftp", LOG_FTP }, { "kern", LOG_KERN }, { "lpr", LOG_LPR },
		{ "mail", LOG_MAIL }, { "news", LOG_NEWS },
		{ "syslog", LOG_SYSLOG }, { "user", LOG_USER },
		{ "uucp", LOG_UUCP }, { "local0", LOG_LOCAL0 },
		{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
		{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
		{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
		{ "local7", LOG_LOCAL7 },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(text, names[i].name) == 0) {
			*facility = names[i].value;
			return (0);
		}
	}
	return (-1);
}

void
log_set_level(int level)
{

	__atomic_store_n(&out.level, level, __ATOMIC_RELAXED);
}

int
log_reopen(void)
{
	FILE *f, *oldf;
	char *path;

	/* The path changes only on this (the main) thread; copy it anyway. */
	pthread_mutex_lock(&out_lock);
	path = out.path != NULL ? strdup(out.path) : NULL;
	pthread_mutex_unlock(&out_lock);
	if (path == NULL)
		return (0);
	f = fopen(path, "a");
	free(path);
	if (f == NULL)
		return (-1);
	setvbuf(f, NULL, _IOLBF, 0);
	pthread_mutex_lock(&out_lock);
	oldf = out.file;
	out.file = f;
	pthread_mutex_unlock(&out_lock);
	if (oldf != NULL)
		fclose(oldf);
	return (0);
}

void
log_close(void)
{
	FILE *oldf;
	char *oldpath;

	pthread_mutex_lock(&out_lock);
	oldf = out.file;
	oldpath = out.path;
	if (out.use_syslog)
		closelog();
	out.file = NULL;
	out.path = NULL;
	out.use_syslog = 0;
	pthread_mutex_unlock(&out_lock);
	if (oldf != NULL)
		fclose(oldf);
	free(oldpath);
}

/* ${backslash}: escape '\\' too (peer strings; not the final pass over a
 * line, which would escape the escapes). */
static char *
escape(char *dst, size_t dstlen, const void *src, size_t srclen,
    int backslash)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = src;
	size_t i, o = 0;

	if (dstlen == 0)
		return (dst);
	for (i = 0; i < srclen; i++) {
		int plain = s[i] >= 0x20 && s[i] < 0x7f &&
		    !(backslash && s[i] == '\\');
		size_t need = plain ? 1 : 4;

		/* Room for this byte and, if more follow, the "...". */
		if (o + need + (i + 1 < srclen ? 3 : 0) >= dstlen) {
			if (o + 3 < dstlen) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (plain) {
			dst[o++] = (char)s[i];
			continue;
		}
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[s[i] >> 4];
		dst[o++] = hex[s[i] & 15];
	}
	dst[o] = '\0';
	return (dst);
}

void
log_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

char *
log_escape(char *dst, size_t dstlen, const void *src, size_t srclen)
{

	/* A backslash too: "\x0a" in a name must not pass for an escape. */
	return (escape(dst, dstlen, src, srclen, 1));
}

void
log_set_formatter(log_formatter *fn)
{

	__atomic_store_n(&formatter, fn, __ATOMIC_RELEASE);
}

/* ${fn}'s line for one event, its strings escaped first; NULL: text. */
static char *
format_line(log_formatter *fn, int level, const struct timespec *ts,
    const char *service, const char *peer, const char *event,
    const char *reason, const char *msg)
{
	char svc[128], pr[96], ev[64], why[1400];

	if (service != NULL)
		escape(svc, sizeof(svc), service, strlen(service), 0);
	if (peer != NULL)
		escape(pr, sizeof(pr), peer, strlen(peer), 0);
	escape(ev, sizeof(ev), event, strlen(event), 0);
	if (reason != NULL)
		escape(why, sizeof(why), reason, strlen(reason), 0);
	return (fn(level_names[level], (long long)ts->tv_sec,
	    (int)(ts->tv_nsec / 1000000), service ? svc : NULL,
	    peer ? pr : NULL, ev, reason ? why : NULL, msg));
}

static void vlog(int, const char *, const char *, const char *,
    const char *, const char *, va_list) __attribute__((format(printf, 6, 0)));

static void
vlog(int level, const char *service, const char *peer, const char *event,
    const char *reason, const char *fmt, va_list ap)
{
	char raw[1024], msg[1400];
	char stamp[32], *line = NULL;
	log_formatter *fn;
	struct timespec ts;
	struct tm tm;

	if (level > __atomic_load_n(&out.level, __ATOMIC_RELAXED))
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	/* One choke point: whatever a caller passed on from a peer. */
	escape(msg, sizeof(msg), raw, strlen(raw), 0);

	clock_gettime(CLOCK_REALTIME, &ts);
	if ((fn = __atomic_load_n(&formatter, __ATOMIC_ACQUIRE)) != NULL)
		line = format_line(fn, level, &ts, service, peer, event,
		    reason, msg);
	if (line == NULL) {
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	}
	pthread_mutex_lock(&out_lock);
	if (out.use_syslog) {
		if (line != NULL)
			syslog(level, "%s", line);
		else if (service != NULL)
			syslog(level, "[%s] %s", service, msg);
		else
			syslog(level, "%s", msg);
	} else if (line != NULL) {
		fprintf(out.file != NULL ? out.file : stderr, "%s\n", line);
	} else {
		fprintf(out.file != NULL ? out.file : stderr,
		    "%s %s %s%s%s%s\n", stamp, level_names[level],
		    service ? "[" : "", service ? service : "",
		    service ? "] " : "", msg);
	}
	pthread_mutex_unlock(&out_lock);
	free(line);
}

void
log_msg(int level, const char *service, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, service, NULL, "log", NULL, fmt, ap);
	va_end(ap);
}

void
log_ev(int level, const char *service, const char *peer, const char *event,
    const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, service, peer, event, reason, fmt, ap);
	va_end(ap);
}

int
log_level_parse(const char *text, int *level)
{
	char *end;
	long n;
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(text, level_names[i]) == 0) {
			*level = (int)i;
			return (0);
		}
	}
	if (strcasecmp(text, "error") == 0 || strcasecmp(text, "warn") == 0) {
		*level = (text[0] | 0x20) == 'e' ? LOG_LVL_ERR :
		    LOG_LVL_WARNING;
		return (0);
	}
	errno = 0;
	n = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || n < 0 || n > 7)
		return (-1);
	*level = (int)n;
	return (0);
}
