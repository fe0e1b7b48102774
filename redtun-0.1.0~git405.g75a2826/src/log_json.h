#ifndef REDTUN_LOG_JSON_H
#define REDTUN_LOG_JSON_H

/**
 * log_json_line(level, sec, msec, service, peer, event, reason, msg):
 * A log_formatter (log.h) for logFormat = "json": one compact JSON object
 * {"time":"2026-12-04T16:00:00.123Z","level":...,"service":...,"peer":...,
 * "event":...,"reason":...,"msg":...} (NULL strings as null), written by
 * jansson.  Returns a string for free(), or NULL if out of memory (the log
 * then writes the text line).
 */
char *log_json_line(const char *level, long long sec, int msec,
    const char *service, const char *peer, const char *event,
    const char *reason, const char *msg);

#endif
