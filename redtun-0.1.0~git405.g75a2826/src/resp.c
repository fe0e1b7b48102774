/*
 * The RESP scanner (resp.h): a byte-driven state machine with an explicit
 * stack of remaining element counts.  Bulk payloads are skipped by
 * counting, lines are searched with memchr; only the first RESP_CAP_LEN
 * bytes of the first RESP_CAP_ARGS strings of a frame are copied, into
 * the scanner itself, so a frame may be split at any byte.
 *
 * Replies are read strictly: every line ends with CRLF (a CR or LF inside
 * a simple line is a violation), headers are "0" or -?[1-9][0-9]* (Redis's
 * string2ll), ':' is such an integer, '(' -?[0-9]+, ',' a double (its
 * characters are checked, not its grammar; "inf", "-inf", "nan" pass),
 * '#' t or f, '_' empty; -1 is a null for '$' and '*' only.  RESP3
 * streamed types ("$?", "*?", ';' chunks, '.' end) are rejected: Redis
 * never sends them.  A verbatim string's capture is its raw payload.
 *
 * Requests are read as redis-server reads them (networking.c,
 * processMultibulkBuffer / processInlineBuffer): '*' first is a multibulk
 * of '$' bulks; a count <= 0 is an empty command (a frame, no reply); a
 * header ends at its CR and the byte after it is skipped unchecked, as
 * are the 2 bytes after a bulk payload.  Anything else is an inline
 * command up to LF; more than RESP_MAX_INLINE bytes before the LF is a
 * violation whatever the chunking (Redis fails only when they arrive
 * without it), and so is a NUL byte (Redis's strchr never finds the LF
 * past it: the command would never run).  Words split on isspace bytes
 * (a trailing CR among them); quotes are not interpreted.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

enum {
	S_TYPE,		/* at a type byte (or an inline command's start) */
	S_NUM,		/* a header's number */
	S_NUMLF,	/* the byte after a header's CR */
	S_LINE,		/* a simple line's content */
	S_BULK,		/* a bulk payload: ${rem} bytes left */
	S_CR,		/* the CR after a bulk payload */
	S_LF,		/* the LF ending a bulk or line: ${crlf} if not */
	S_INLINE,	/* an inline command, up to LF */
	S_BAD
};

struct resp_scan {
	int side, st, started;
	char t;			/* type byte of the item being read */
	const char *err, *crlf;
	int neg, ndig, zero;	/* number: sign, digits, first digit 0 */
	unsigned long long num;	/* its magnitude */
	long long rem;		/* bulk bytes left / line bytes so far */
	int inword;		/* inline: inside a word */
	int depth;
	long long left[RESP_MAX_DEPTH];	/* elements left per level */
	unsigned char attr[RESP_MAX_DEPTH];	/* level is an attribute */
	struct resp_arg *cap;	/* capture being filled, or NULL */
	uint64_t acc;		/* bytes of this frame in earlier calls */
	struct resp_frame f;
	int dirty;		/* arg slots an earlier frame filled */
	char buf[RESP_CAP_ARGS][RESP_CAP_LEN];
};

struct resp_scan *
resp_scan_new(int side)
{
	struct resp_scan *s;

	if ((s = malloc(sizeof(*s))) == NULL)
		return (NULL);
	s->side = side;
	resp_scan_reset(s);
	return (s);
}

void
resp_scan_reset(struct resp_scan *s)
{

	s->st = S_TYPE;
	s->started = 0;
	s->depth = 0;
	s->err = NULL;
	s->cap = NULL;
	s->acc = 0;
	s->dirty = 0;
	memset(&s->f, 0, sizeof(s->f));
}

void
resp_scan_free(struct resp_scan *s)
{

	free(s);
}

const struct resp_frame *
resp_scan_frame(const struct resp_scan *s)
{

	return (&s->f);
}

const char *
resp_scan_error(const struct resp_scan *s)
{

	return (s->err);
}

int
resp_scan_idle(const struct resp_scan *s)
{

	return (s->st == S_TYPE && !s->started);
}

int
resp_arg_is(const struct resp_arg *a, const char *word)
{
	size_t i;
	int x, y;

	if (!a->isstr || a->len > RESP_CAP_LEN || strlen(word) != a->len)
		return (0);
	for (i = 0; i < a->len; i++) {
		x = (unsigned char)a->p[i];
		y = (unsigned char)word[i];
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return (0);
	}
	return (1);
}

/* Append ${n} bytes of a string to the capture being filled. */
static void
cap_add(struct resp_scan *s, const char *p, size_t n)
{
	struct resp_arg *a = s->cap;
	size_t k = 0;

	if (a->len < RESP_CAP_LEN)
		k = RESP_CAP_LEN - a->len < n ? RESP_CAP_LEN - a->len : n;
	memcpy((char *)a->p + a->len, p, k);
	a->len += n;
}

/* A new capture slot (the next one), ${isstr} or not; the filled one. */
static struct resp_arg *
cap_new(struct resp_scan *s, int isstr)
{
	struct resp_arg *a = &s->f.arg[s->f.nargs];

	a->p = s->buf[s->f.nargs++];
	a->len = 0;
	a->isstr = isstr;
	return (isstr ? a : NULL);
}

/*
 * A value of type s->t begins (after its header, if any): the frame's
 * type if top-level; a capture if it is a top-level string or one of the
 * first direct elements of a top-level aggregate (not of an attribute).
 */
static void
begin_value(struct resp_scan *s, int isstr)
{

	s->cap = NULL;
	if (s->depth == 0) {
		s->f.type = s->t;
		if (isstr)
			s->cap = cap_new(s, 1);
	} else if (s->depth == 1 && !s->attr[0] &&
	    s->f.nargs < RESP_CAP_ARGS)
		s->cap = cap_new(s, isstr);
}

/*
 * A value ended: pop the levels it completes.  Returns 1 if that ends the
 * top-level frame.  An attribute that ends is not a value of its parent:
 * the value it annotates comes next.
 */
static int
value_done(struct resp_scan *s)
{
	int i;

	s->cap = NULL;
	s->st = S_TYPE;
	for (;;) {
		if (s->depth == 0)
			return (1);
		i = s->depth - 1;
		if (--s->left[i] > 0)
			return (0);
		s->depth--;
		if (s->attr[i])
			return (0);
	}
}

static void
num_start(struct resp_scan *s)
{

	s->neg = s->ndig = s->zero = 0;
	s->num = 0;
}

/* One byte of a number: "0" or -?[1-9][0-9]*, a long long.  0 or -1. */
static int
num_byte(struct resp_scan *s, int c)
{

	if (c == '-' && s->ndig == 0 && !s->neg) {
		s->neg = 1;
		return (0);
	}
	/* Negative down to LLONG_MIN (a valid ':' reply). */
	if (c < '0' || c > '9' || s->zero || (c == '0' && s->neg &&
	    s->ndig == 0) || s->num > ((unsigned long long)LLONG_MAX +
	    (unsigned)s->neg - (unsigned)(c - '0')) / 10)
		return (-1);
	if (s->ndig++ == 0 && c == '0')
		s->zero = 1;
	s->num = s->num * 10 + (unsigned)(c - '0');
	return (0);
}

/* A byte of a checked simple line (s->t), its CR ending it: why not. */
static const char *
line_byte(struct resp_scan *s, int c)
{
	int end = c == '\r';

	switch (s->t) {
	case ':':
		return ((end ? s->ndig == 0 : num_byte(s, c) != 0) ?
		    "bad number" : NULL);
	case '(':
		if (c >= '0' && c <= '9')
			s->ndig++;
		return ((end ? s->ndig == 0 : (c < '0' || c > '9') &&
		    (c != '-' || s->rem != 0)) ? "bad number" : NULL);
	case ',':
		return ((end ? s->rem == 0 : c == '\0' ||
		    strchr("0123456789.eE+-infaINFA", c) == NULL) ?
		    "bad number" : NULL);
	case '#':
		return ((end ? s->rem != 1 : s->rem != 0 || (c != 't' &&
		    c != 'f')) ? "bad boolean" : NULL);
	default:	/* '_' */
		return (end ? NULL : "bad null");
	}
}

/*
 * A header ended (s->t, s->num): begin the bulk or aggregate.  Returns
 * 1 if a frame ended, 0 to go on, or a violation's reason.
 */
static const char *
header_done(struct resp_scan *s, int *framed)
{
	long long v = s->neg ? -(long long)(s->num - 1) - 1 :
	    (long long)s->num, n;
	int req = s->side == RESP_REQUESTS;

	*framed = 0;
	if (s->t == '$' || s->t == '!' || s->t == '=') {
		if (v == -1 && s->t == '$' && !req) {
			begin_value(s, 0);
			if (s->depth == 0)
				s->f.count = -1;
			*framed = value_done(s);
			return (NULL);
		}
		if (v < 0)
			return ("bad length");
		if (v > RESP_MAX_BULK)
			return ("bulk too large");
		begin_value(s, 1);
		if (s->depth == 0)
			s->f.count = v;
		s->rem = v;
		s->st = v > 0 ? S_BULK : S_CR;
		return (NULL);
	}
	/* An aggregate: * % ~ > |, or a request's * (count <= 0: empty). */
	if (v < 0 && !req && (v != -1 || s->t != '*'))
		return ("bad length");
	if (v > RESP_MAX_ELEMS)
		return ("aggregate too large");
	s->st = S_TYPE;
	if (s->t == '|') {
		if (v > 0) {
			s->attr[s->depth] = 1;
			s->left[s->depth++] = 2 * v;
		}
		return (NULL);
	}
	begin_value(s, 0);
	s->cap = NULL;
	if (s->depth == 0)
		s->f.count = v;
	n = s->t == '%' ? 2 * v : v;
	if (n <= 0) {
		*framed = value_done(s);
		return (NULL);
	}
	s->attr[s->depth] = 0;
	s->left[s->depth++] = n;
	return (NULL);
}

/* A reply's type byte ${c}; a violation's reason or NULL. */
static const char *
reply_type(struct resp_scan *s, int c)
{

	s->t = (char)c;
	s->rem = 0;
	num_start(s);
	switch (c) {
	case '+': case '-': case ':': case ',': case '(': case '#': case '_':
		s->st = S_LINE;
		begin_value(s, c != '#' && c != '_');
		return (NULL);
	case '*': case '%': case '~': case '>': case '|':
		if (s->depth == RESP_MAX_DEPTH)
			return ("nesting too deep");
		/* FALLTHROUGH */
	case '$': case '!': case '=':
		s->st = S_NUM;
		return (NULL);
	default:
		return ("unknown type byte");
	}
}

/* The bytes from ${p} to ${e}, at most ${room} + 1 (the first too many). */
static size_t
lim(const char *p, const char *e, long long room)
{

	return ((long long)(e - p) > room + 1 ? (size_t)room + 1 :
	    (size_t)(e - p));
}

/* An inline command's bytes [p, e) before its LF (or the chunk's end). */
static void
inline_words(struct resp_scan *s, const char *p, const char *e)
{
	int c;

	for (; p < e; p++) {
		c = (unsigned char)*p;
		if (c == ' ' || (c >= '\t' && c <= '\r')) {
			s->inword = 0;
			s->cap = NULL;
			continue;
		}
		if (!s->inword) {
			if (s->f.nargs == RESP_CAP_ARGS)
				return;		/* the rest is not kept */
			s->inword = 1;
			s->cap = cap_new(s, 1);
		}
		cap_add(s, p, 1);
	}
}

/*
 * The fast path, at a type byte: '*' headers, '$' bulks (header, payload
 * and CRLF) and a reply's "$-1" that are whole in [p, e) and plain (a
 * count > 0, no leading zero, at most 18 digits), as long as they come
 * and no frame ends.  Anything else is left to the byte-wise path, which
 * reads it the same way.  Returns where it stopped.
 */
static inline const char *
items_fast(struct resp_scan *s, const char *p, const char *e, int *framed)
{
	int req = s->side == RESP_REQUESTS, d, c0, str;
	unsigned long long v;
	unsigned c;
	const char *q, *lim;
	struct resp_arg *a;

	while (e - p >= 5) {
		d = s->depth;
		if (((c0 = *p) != '$' && c0 != '*') ||
		    (req ? (c0 == '$') != (d > 0) : d == RESP_MAX_DEPTH))
			break;
		/* Up to 18 digits (no overflow), and room for CR LF. */
		str = 1;
		if (p[1] == '-') {
			if (req || c0 != '$' || memcmp(p + 1, "-1\r\n", 4) != 0)
				break;
			q = p + 3;	/* a null bulk: not a string */
			str = 0;
		} else if ((v = (unsigned char)p[1] - '0') <= 9 &&
		    p[2] == '\r') {
			q = p + 2;	/* the usual: one digit */
		} else {
			lim = e - p > 20 ? p + 19 : e - 2;
			for (q = p + 1, v = 0; q < lim &&
			    (c = (unsigned char)*q - '0') <= 9; q++)
				v = v * 10 + c;
		}
		if (!str) {
			v = 0;
		} else if (q == p + 1 || *q != '\r' || (!req && q[1] != '\n') ||
		    (p[1] == '0' && q > p + 2)) {
			break;
		} else if (c0 == '*') {
			if (v == 0 || v > RESP_MAX_ELEMS)
				break;
			str = 0;
		} else if (v > RESP_MAX_BULK || (unsigned long long)(e - q) <
		    v + 4 || (!req && (q[v + 2] != '\r' || q[v + 3] != '\n')))
			break;
		/* As begin_value(), header_done() and value_done() do. */
		if (d == 0) {
			s->f.type = (char)c0;
			s->f.count = c0 == '$' && !str ? -1 : (long long)v;
		}
		p = q + 2;
		if (((d == 0 && c0 == '$' && str) || (d == 1 && !s->attr[0] &&
		    s->f.nargs < RESP_CAP_ARGS)) && (a = cap_new(s, str))) {
			a->len = v;
			/* Fixed sizes copy fastest; past v is junk. */
			if (e - p >= RESP_CAP_LEN)
				memcpy((char *)a->p, p, RESP_CAP_LEN);
			else
				memcpy((char *)a->p, p, v);
		}
		if (c0 == '*') {
			s->attr[d] = 0;
			s->left[s->depth++] = (long long)v;
			continue;
		}
		p += str ? v + 2 : 0;
		for (;;) {	/* value_done(); s->cap, s->st are as it leaves */
			if (d == 0)
				return (*framed = 1, p);
			if (--s->left[d - 1] > 0)
				break;
			if (s->attr[s->depth = --d])
				break;
		}
	}
	return (p);
}

int
resp_scan(struct resp_scan *s, const char *data, size_t len, size_t *used)
{
	const char *p = data, *e = data + len, *q, *r, *why = NULL;
	const char *fast = NULL;
	int req = s->side == RESP_REQUESTS, c, framed = 0;
	size_t n;

	if (s->st == S_BAD) {
		*used = 0;
		return (RESP_BAD);
	}
	/* A frame starts; its stale capture slots are cleared at its end. */
	if (s->st == S_TYPE && !s->started && len > 0) {
		s->f.nargs = 0;
		s->f.type = 0;
		s->f.count = 0;
		s->started = 1;
	}
	/*
	 * At a type byte, the fast path first; the byte-wise loop takes
	 * what it leaves and comes back at the next type byte (one call
	 * site: it is inlined).
	 */
again:
	if (s->st == S_TYPE && e - p >= 5 && p != fast) {
		if ((p = fast = items_fast(s, p, e, &framed)), framed)
			goto done;
	}
	while (p < e && !framed && why == NULL) {
		if (s->st == S_TYPE && e - p >= 5 && p != fast)
			goto again;
		c = (unsigned char)*p;
		switch (s->st) {
		case S_TYPE:
			if (!req) {
				why = reply_type(s, c);
			} else if (s->depth > 0) {
				/* Redis: "expected '$', got ..." */
				if (c != '$')
					why = "bulk expected";
				s->t = '$';
				num_start(s);
				s->st = S_NUM;
			} else if (c == '*') {
				s->t = '*';
				num_start(s);
				s->st = S_NUM;
			} else {
				s->f.type = 'i';
				s->rem = 0;
				s->inword = 0;
				s->cap = NULL;
				s->st = S_INLINE;
				continue;
			}
			if (why == NULL)
				p++;
			break;
		case S_NUM:
			if (c == '\r' && s->ndig > 0)
				s->st = S_NUMLF;
			else if (num_byte(s, c) != 0)
				why = "bad length";
			if (why == NULL)
				p++;
			break;
		case S_NUMLF:
			/* Redis skips the byte after a request header's CR. */
			if (c != '\n' && !req) {
				why = "line not ended by CRLF";
				break;
			}
			p++;
			why = header_done(s, &framed);
			break;
		case S_LINE:
			if (s->t == '+' || s->t == '-') {
				/* Only up to the bound: the first fault wins. */
				n = lim(p, e, RESP_MAX_LINE - s->rem);
				if ((r = memchr(p, '\r', n)) != NULL)
					n = (size_t)(r - p);
				if ((q = memchr(p, '\n', n)) != NULL) {
					p = q;
					why = "line not ended by CRLF";
					break;
				}
				if (s->rem + (long long)n > RESP_MAX_LINE) {
					p += RESP_MAX_LINE - s->rem;
					why = "line too long";
					break;
				}
				s->rem += (long long)n;
				if (s->cap != NULL)
					cap_add(s, p, n);
				if ((p += n) == e)
					break;
			} else if (c != '\r' && s->rem == RESP_MAX_LINE) {
				why = "line too long";
				break;
			} else if ((why = line_byte(s, c)) != NULL) {
				break;
			} else if (c != '\r') {
				s->rem++;
				if (s->cap != NULL)
					cap_add(s, p, 1);
				p++;
				break;
			}
			s->crlf = "line not ended by CRLF";
			s->st = S_LF;
			p++;	/* the CR */
			break;
		case S_BULK:
			n = (size_t)(e - p) < (unsigned long long)s->rem ?
			    (size_t)(e - p) : (size_t)s->rem;
			if (s->cap != NULL)
				cap_add(s, p, n);
			p += n;
			if ((s->rem -= (long long)n) == 0)
				s->st = S_CR;
			break;
		case S_CR:
			/* Redis skips a request's 2 bytes after a payload. */
			s->crlf = "bulk not followed by CRLF";
			if (c != '\r' && !req) {
				why = s->crlf;
				break;
			}
			s->st = S_LF;
			p++;
			break;
		case S_LF:
			if (c != '\n' && !req) {
				why = s->crlf;
				break;
			}
			p++;
			framed = value_done(s);
			break;
		case S_INLINE:
			n = lim(p, e, RESP_MAX_INLINE - s->rem);
			if ((q = memchr(p, '\n', n)) != NULL)
				n = (size_t)(q - p);
			if ((r = memchr(p, '\0', n)) != NULL) {
				p = r;
				why = "NUL in inline command";
				break;
			}
			if (s->rem + (long long)n > RESP_MAX_INLINE) {
				p += RESP_MAX_INLINE - s->rem;
				why = "inline command too long";
				break;
			}
			s->rem += (long long)n;
			inline_words(s, p, p + n);
			p += n;
			if (q != NULL) {
				p++;
				framed = value_done(s);
			}
			break;
		}
	}
done:
	*used = (size_t)(p - data);
	if (why != NULL) {
		s->err = why;
		s->st = S_BAD;
		return (RESP_BAD);
	}
	if (framed) {
		s->f.size = s->acc + *used;
		/* Slots past nargs read as empty: clear what is stale. */
		while (s->dirty > s->f.nargs)
			memset(&s->f.arg[--s->dirty], 0, sizeof(s->f.arg[0]));
		s->dirty = s->f.nargs;
		s->acc = 0;
		s->started = 0;
		return (RESP_FRAME);
	}
	s->acc += *used;
	return (RESP_MORE);
}
