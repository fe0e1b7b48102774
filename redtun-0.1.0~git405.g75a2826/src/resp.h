#ifndef REDTUN_RESP_H
#define REDTUN_RESP_H

/*
 * An incremental RESP scanner: it finds where each top-level frame ends in
 * a byte stream that arrives in chunks of any size, without copying or
 * holding the stream (bulk payloads are counted, not stored).  RESP2 and
 * RESP3, every type (attributes are part of the frame they precede; push
 * frames are frames), and inline commands on the request side.  Only a
 * small summary of each frame is kept: its type, its size, and the first
 * bytes of its first few strings (a command's name and arguments, a
 * reply's status or error text), enough to track requests and replies.
 *
 * Bounds (a stream beyond them is a protocol violation): nesting depth
 * RESP_MAX_DEPTH, elements per aggregate RESP_MAX_ELEMS, bulk length
 * RESP_MAX_BULK, inline command and simple-line lengths RESP_MAX_INLINE
 * for requests (Redis's own limit) and RESP_MAX_LINE for replies.
 */

#include <stddef.h>
#include <stdint.h>

#define RESP_MAX_DEPTH	32
#define RESP_MAX_ELEMS	(1024LL * 1024 * 1024)	/* Redis: INT_MAX args */
#define RESP_MAX_BULK	(512LL * 1024 * 1024)	/* proto-max-bulk-len */
#define RESP_MAX_INLINE	(64 * 1024)		/* PROTO_INLINE_MAX_SIZE */
#define RESP_MAX_LINE	(512LL * 1024 * 1024)

/* Strings captured per frame, and bytes kept of each. */
#define RESP_CAP_ARGS	4
#define RESP_CAP_LEN	64

/* Which side of the conversation a scanner reads. */
enum resp_side {
	RESP_REQUESTS,	/* client -> server: arrays of bulks, or inline */
	RESP_REPLIES	/* server -> client: any RESP2/RESP3 value */
};

/* resp_scan() results. */
enum resp_status {
	RESP_MORE = 0,	/* all input consumed; the frame is not complete */
	RESP_FRAME = 1,	/* a top-level frame ended: see resp_scan_frame() */
	RESP_BAD = -1	/* protocol violation: see resp_scan_error() */
};

/*
 * A complete top-level frame.  ${type} is its type byte ('*', '+', '-',
 * ':', '$', '>', '%', '~', '_', ',', '#', '(', '=', '!', ...), or 'i' for
 * an inline command; an attribute ('|') in front of a value is part of
 * the frame and does not show here.  ${count}: elements of an aggregate
 * (-1 for a null one; maps count pairs), the length of a top-level bulk,
 * blob error or verbatim string, else 0.  ${size}: bytes of the whole
 * frame, attributes included.
 *
 * Captures: for an aggregate, its first RESP_CAP_ARGS direct elements
 * that are strings (bulk, simple, verbatim, blob error, number, double,
 * big number: their text); an element that is not a string (nested
 * aggregate, null) is captured as empty with ${isstr} 0.  For a
 * top-level simple string, error, bulk, verbatim or number: arg[0] is its
 * text.  For an inline command: its first words, split on blanks (quotes
 * are not interpreted).  Each capture keeps at most RESP_CAP_LEN bytes;
 * ${len} is the full length, so ${len} > RESP_CAP_LEN means truncated.
 * The pointers stay valid until the next resp_scan() or resp_scan_reset().
 */
struct resp_arg {
	const char *p;
	size_t len;
	int isstr;
};

struct resp_frame {
	char type;
	long long count;
	uint64_t size;
	int nargs;		/* captures filled: <= RESP_CAP_ARGS */
	struct resp_arg arg[RESP_CAP_ARGS];
};

struct resp_scan;

/**
 * resp_scan_new(side):
 * A scanner for the ${side} (enum resp_side) of a connection, at the
 * start of a frame.  Returns NULL on allocation failure.
 */
struct resp_scan *resp_scan_new(int side);

/**
 * resp_scan(s, data, len, used):
 * Scan up to ${len} bytes of ${data}, stopping right after the first
 * top-level frame that completes.  *${used} is set to the bytes consumed.
 * Returns RESP_FRAME (the frame ended at data + *used), RESP_MORE (*used
 * == len, still inside a frame, or between frames), or RESP_BAD (the
 * stream is not valid RESP at data + *used; the scanner stays in that
 * state until resp_scan_reset()).  A request side with ${len} 0 is a
 * no-op returning RESP_MORE.
 */
int resp_scan(struct resp_scan *s, const char *data, size_t len,
    size_t *used);

/* resp_scan_frame(s): the frame of the last RESP_FRAME result. */
const struct resp_frame *resp_scan_frame(const struct resp_scan *s);

/* resp_scan_error(s): why the last RESP_BAD; a constant string. */
const char *resp_scan_error(const struct resp_scan *s);

/* resp_scan_idle(s): between frames (no partial frame consumed). */
int resp_scan_idle(const struct resp_scan *s);

/* resp_scan_reset(s): back to the start of a frame, error cleared. */
void resp_scan_reset(struct resp_scan *s);

/* resp_scan_free(s): NULL-safe. */
void resp_scan_free(struct resp_scan *s);

/**
 * resp_arg_is(a, word):
 * Whether the capture ${a} is a string equal to ${word}, ignoring ASCII
 * case (command names); false if the capture was truncated.
 */
int resp_arg_is(const struct resp_arg *a, const char *word);

#endif
