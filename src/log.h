#ifndef REDTUN_LOG_H
#define REDTUN_LOG_H

#include <stddef.h>

/* Levels are syslog's, so "debug = 7" means what it means in stunnel. */
enum log_level {
	LOG_LVL_EMERG = 0, LOG_LVL_ALERT, LOG_LVL_CRIT, LOG_LVL_ERR,
	LOG_LVL_WARNING, LOG_LVL_NOTICE, LOG_LVL_INFO, LOG_LVL_DEBUG
};

/**
 * log_open(path, use_stderr, level):
 * Send log lines to the file ${path} (appended) if it is not NULL, else to
 * stderr if ${use_stderr}, else to syslog.  Only lines at ${level} or more
 * severe are written.  Returns 0, or -1 with errno set if the file cannot be
 * opened (the previous destination is then kept).  Safe while other
 * threads write lines: the old file is closed once none can be using it.
 */
int log_open(const char *path, int use_stderr, int level);

/*
 * log_set_facility(facility): the syslog facility (LOG_DAEMON unless
 * changed) for the next log_open that opens syslog.
 */
void log_set_facility(int facility);

/*
 * log_facility_parse(text, facility): ${text} as a syslog facility name
 * (daemon, user, local0..local7...; any case).  Returns 0 or -1.
 */
int log_facility_parse(const char *text, int *facility);

/* log_set_level(level): change the threshold (used on reload and -d). */
void log_set_level(int level);

/**
 * log_reopen(void):
 * Reopen the log file (SIGUSR1, after rotation).  Returns 0 or -1; on
 * failure the old file stays open.
 */
int log_reopen(void);

/* log_close(void): close the file or syslog; later lines go to stderr. */
void log_close(void);

/**
 * log_msg(level, service, fmt, ...):
 * Write one line "DATE TIME LEVEL [service] message".  ${service} may be
 * NULL for daemon-wide lines.  Control and non-ASCII bytes in the
 * formatted message are escaped as \xNN, so text that came from a peer
 * can never start a line of its own or carry terminal sequences; pass
 * peer strings through log_escape first so that their backslashes are
 * escaped too.
 */
void log_msg(int level, const char *service, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * log_ev(level, service, peer, event, reason, fmt, ...):
 * log_msg() with the fields a machine reads: ${peer} ("ADDR:PORT" of the
 * client, or NULL), ${event} (a fixed word: "accepted", "failed",
 * "closed", "reload", "reload_failed", "start", "stop", "exit"...) and
 * ${reason} (why it failed, or NULL).  In text format the line is exactly
 * log_msg(level, service, fmt, ...)'s; in JSON format (log_set_formatter)
 * they become fields of the object.  Every string is escaped as the
 * message is.
 */
void log_ev(int level, const char *service, const char *peer,
    const char *event, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/*
 * log_formatter(level, time, service, peer, event, reason, msg):
 * One log line (without its newline) as a string the log frees (free()),
 * or NULL to write the text line instead.  ${level} is a name ("info");
 * ${time} is seconds and milliseconds since the epoch; ${service},
 * ${peer} and ${reason} may be NULL; every string is already escaped
 * (printable ASCII only).  Called by any thread, outside the log's lock.
 */
typedef char *log_formatter(const char *level, long long sec, int msec,
    const char *service, const char *peer, const char *event,
    const char *reason, const char *msg);

/*
 * log_set_formatter(fn): format every later line with ${fn} (logFormat =
 * "json": log_json_line), or as text with NULL.  Applied at start and on
 * reload, like the level.
 */
void log_set_formatter(log_formatter *fn);

/**
 * log_escape(dst, dstlen, src, srclen):
 * Copy the ${srclen} bytes at ${src} (which may hold NULs) into ${dst} as
 * a NUL-terminated string with every control byte, non-ASCII byte, DEL
 * and backslash written as \xNN, cut (with "...") to fit
 * ${dstlen}.  For anything a peer sent.  Returns ${dst}.
 */
char *log_escape(char *dst, size_t dstlen, const void *src, size_t srclen);

/*
 * log_fmt(buf, len, fmt, ...): snprintf for messages, where cutting a long
 * one short is fine (no truncation warning at each call).
 */
void log_fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * log_level_parse(text, level):
 * Parse "0".."7" or a syslog level name ("err", "warning", ...).  Returns 0
 * and sets ${*level}, or -1.
 */
int log_level_parse(const char *text, int *level);

#endif
