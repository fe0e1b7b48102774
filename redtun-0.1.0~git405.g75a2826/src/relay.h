#ifndef REDTUN_RELAY_H
#define REDTUN_RELAY_H

/*
 * The relay: both directions of one tunnel, from the bytes an end has read
 * (plaintext, already decrypted) to the other end, through an optional
 * filter that may see, hold back, rewrite and inject bytes (the seam for
 * Redis awareness).  It owns byte counting, the watermarks and EOF
 * propagation; where bytes go is its owner's business (a relay_sink).
 * With no filter, input goes straight to the sink: zero copies.
 */

#include <stddef.h>
#include <stdint.h>

/* Opaque structures. */
struct relay;

/* Directions, named for where the bytes go. */
enum relay_dir {
	RELAY_UP = 0,	/* client -> server (commands) */
	RELAY_DOWN = 1	/* server -> client (replies) */
};

/*
 * Per-direction bounds: over RELAY_HIGH bytes queued at the destination
 * plus held by the filter, the source stops reading; it resumes at
 * RELAY_LOW.  A filter holds a partial frame of one direction only while
 * it waits for more of that same input, so it must keep such a hold under
 * RELAY_HOLD_MAX (or stream the frame): a larger hold would pause the very
 * source it waits for.
 */
#define RELAY_HIGH	(64 * 1024)
#define RELAY_LOW	(16 * 1024)
#define RELAY_HOLD_MAX	(8 * 1024)

/* Where one direction's output goes (the destination end, or a test). */
struct relay_sink {
	/* Send ${len} bytes; 0, or -1 once the owner has failed the tunnel. */
	int (*write)(void *arg, const char *data, size_t len);
	/* Bytes accepted by write() but not yet sent. */
	size_t (*queued)(void *arg);
	/* Nothing more will be written: half-close (close_notify, FIN). */
	void (*eof)(void *arg);
	/*
	 * Close the tunnel with ${why} once what was written is sent: a
	 * filter that answered the client itself and must end the tunnel.
	 */
	void (*close_after)(void *arg, const char *why);
	/* Close the tunnel now, logging ${why} (a filter found an error). */
	void (*fail)(void *arg, const char *why);
	void *arg;
};

/*
 * A filter: one instance per tunnel, seeing both directions.  Callbacks
 * run synchronously inside relay_input() / relay_eof() and must consume
 * their input before returning (the relay's buffers are reused): what is
 * emitted is passed to relay_emit(), what waits for more bytes is copied.
 */
struct relay_filter_ops {
	const char *name;
	/*
	 * ${len} bytes of direction ${dir}.  Return 0, or -1 after
	 * relay_fail() or a failed relay_emit() (the tunnel is closed).
	 */
	int (*input)(void *st, struct relay *r, int dir, const char *data,
	    size_t len);
	/*
	 * End of input in ${dir}: flush or drop what is held; 0, or -1 as
	 * input, or 1: the filter keeps the other end open (no half-close:
	 * a connection cleaned for another client).
	 */
	int (*eof)(void *st, struct relay *r, int dir);
	/* Bytes of direction ${dir} held back right now. */
	size_t (*held)(const void *st, int dir);
	/* Free ${st}; called once, from relay_free(). */
	void (*free)(void *st);
};

/**
 * relay_new(up, down):
 * Both directions of one tunnel; output of RELAY_UP goes to ${up} (the
 * server end), of RELAY_DOWN to ${down}.  The sinks are copied.  Returns
 * NULL on allocation failure.
 */
struct relay *relay_new(const struct relay_sink *up,
    const struct relay_sink *down);

/**
 * relay_set_filter(r, ops, st):
 * Put the filter ${ops} with state ${st} (owned by the relay from now on:
 * ops->free runs in relay_free) between the ends.  Call before any input.
 */
void relay_set_filter(struct relay *r, const struct relay_filter_ops *ops,
    void *st);

/* relay_filtered(r): a filter is in place. */
int relay_filtered(const struct relay *r);

/**
 * relay_input(r, dir, data, len):
 * ${len} bytes read in direction ${dir}: through the filter, if any, to
 * that direction's sink.  Returns 0, or -1 if the tunnel is closing.
 */
int relay_input(struct relay *r, int dir, const char *data, size_t len);

/**
 * relay_eof(r, dir):
 * The source of ${dir} will send nothing more: the filter may flush, then
 * the sink half-closes.  Idempotent.  Returns 0 or -1 as relay_input.
 */
int relay_eof(struct relay *r, int dir);

/**
 * relay_emit(r, dir, data, len):
 * For filters: send ${len} bytes in direction ${dir}, either the one being
 * filtered or the other (injection: a reply to the client, a command to
 * the server).  Returns 0, or -1 if the tunnel is closing.
 */
int relay_emit(struct relay *r, int dir, const char *data, size_t len);

/**
 * relay_close_after(r, dir, why):
 * For filters: end the tunnel with ${why} once the output of ${dir} so far
 * is sent; nothing more is read from either end.
 */
void relay_close_after(struct relay *r, int dir, const char *why);

/**
 * relay_fail(r, dir, why):
 * For filters: close the tunnel now because of what came in direction
 * ${dir} (e.g. a protocol violation), logging ${why}; the caller then
 * returns -1.  ${why} may come from a peer: the log escapes it.
 */
void relay_fail(struct relay *r, int dir, const char *why);

/*
 * relay_backlogged(r, dir): the source of ${dir} should stop reading
 * (queued + held > RELAY_HIGH).  relay_resumable(r, dir): it may read
 * again (queued + held <= RELAY_LOW).
 */
int relay_backlogged(const struct relay *r, int dir);
int relay_resumable(const struct relay *r, int dir);

/* relay_bytes_in/out(r, dir): bytes read from the source / sent on. */
uint64_t relay_bytes_in(const struct relay *r, int dir);
uint64_t relay_bytes_out(const struct relay *r, int dir);

/*
 * relay_restart(r): both directions start again (counts, EOF, closing),
 * for a kept connection handed to a new client; the filter stays.
 */
void relay_restart(struct relay *r);

/* relay_free(r): free the relay and its filter; NULL-safe. */
void relay_free(struct relay *r);

#endif
