/*
 * logFormat = "json": log lines as JSON objects, one a line, for log
 * shippers.  jansson writes them (escaping, UTF-8 checks); log.c has
 * already escaped every string to printable ASCII, so nothing a peer sent
 * can break a line or the encoding.
 */
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "log_json.h"

char *
log_json_line(const char *level, long long sec, int msec,
    const char *service, const char *peer, const char *event,
    const char *reason, const char *msg)
{
	char stamp[64];
	struct tm tm;
	time_t t = (time_t)sec;
	json_t *o;
	char *line;

	/* UTC with milliseconds: sortable, and no time zone to guess. */
	if (gmtime_r(&t, &tm) == NULL)
		return (NULL);
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, msec);
	if ((o = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s?, s:s}",
	    "time", stamp, "level", level, "service", service, "peer", peer,
	    "event", event, "reason", reason, "msg", msg)) == NULL)
		return (NULL);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return (line);
}
