#ifndef REDTUN_NOTIFY_H
#define REDTUN_NOTIFY_H

/*
 * The service manager's notification protocol (sd_notify(3)): READY,
 * RELOADING, STOPPING, STATUS and the watchdog.  Every call is a no-op
 * when NOTIFY_SOCKET is not set, never blocks, and is made from the main
 * thread only.  With libsystemd (HAVE_LIBSYSTEMD) messages go through
 * sd_notify; without it, or when sd_notify cannot reach the socket (a
 * chroot hides its path), through a datagram socket connected by
 * notify_init() before privileges are dropped.
 */
#include <stddef.h>

#include <uv.h>

/*
 * notify_status_cb(arg, buf, len): write the daemon's state ("3 services,
 * 12 connections") into ${buf} (${len} bytes, NUL-terminated).  Called on
 * the main thread from notify_ready() and the watchdog timer.
 */
typedef void notify_status_cb(void *arg, char *buf, size_t len);

/**
 * notify_init(void):
 * Read NOTIFY_SOCKET (a path, or "@name" for the abstract namespace) and
 * connect a non-blocking datagram socket to it.  Call before chroot.
 * Returns 0 (also when there is no socket, or it cannot be reached: then
 * later messages are dropped), or -1 if NOTIFY_SOCKET is malformed.
 */
int notify_init(void);

/*
 * notify_set_status_cb(fn, arg): where STATUS= lines come from; ${arg}
 * must outlive the next notify_close() or notify_set_status_cb(NULL, NULL).
 */
void notify_set_status_cb(notify_status_cb *fn, void *arg);

/**
 * notify_ready(failure):
 * READY=1 and a STATUS= line: the daemon serves (at start, after every
 * listener is bound; after a reload).  ${failure} non-NULL: the reload
 * that just ended failed for that reason (copied, escaped); the STATUS
 * line then says "reload failed: ..." until a reload succeeds.
 */
void notify_ready(const char *failure);

/*
 * notify_reloading(void): RELOADING=1 with MONOTONIC_USEC= (now, on
 * CLOCK_MONOTONIC): a SIGHUP reload has started; notify_ready() ends it.
 */
void notify_reloading(void);

/* notify_stopping(void): STOPPING=1 (SIGTERM/SIGINT: draining). */
void notify_stopping(void);

/*
 * notify_status(fmt, ...): one STATUS= line; control bytes escaped, cut
 * at 400 bytes.
 */
void notify_status(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/**
 * notify_watchdog_start(loop):
 * If the manager asked for a watchdog (WATCHDOG_USEC, and WATCHDOG_PID
 * unset or ours), send WATCHDOG=1 every WATCHDOG_USEC/2 from a timer on
 * ${loop}; with a notify socket but no watchdog the timer still runs every
 * 5 s to refresh STATUS (when it changed, at most every 2 s).  The timer
 * does not keep ${loop} alive.  Returns 0, or -1 if the timer cannot be
 * started (nothing to stop then).
 */
int notify_watchdog_start(uv_loop_t *loop);

/*
 * notify_watchdog_stop(void): stop and close the timer (its memory is
 * static; the close completes on the loop's next turn).  Safe when never
 * started or already stopped.
 */
void notify_watchdog_stop(void);

/* notify_close(void): close the socket; later messages are dropped. */
void notify_close(void);

#endif
