/*
 * The in-memory RESP reader of the cluster rewriters (see cluster_resp.h).
 * A value's end is found by walking its elements (recursion bounded by
 * CRESP_DEPTH); every count is checked against the bytes left first (an
 * element takes at least 3 bytes), so a lying header costs nothing.
 */
#include <string.h>

#include "cluster_resp.h"

/* The CRLF ending the line at ${off}: its offset in *${eol}.  The line
 * holds no other CR or LF. */
static int
line_end(const char *f, size_t len, size_t off, size_t *eol)
{
	const char *cr;

	if (off >= len || (cr = memchr(f + off, '\r', len - off)) == NULL)
		return (-1);
	*eol = (size_t)(cr - f);
	if (*eol + 1 >= len || f[*eol + 1] != '\n' ||
	    memchr(f + off, '\n', *eol - off) != NULL)
		return (-1);
	return (0);
}

/* A decimal in ${p}, ${n} bytes: optional '-', 1..19 digits, within a
 * long long. */
static int
decimal(const char *p, size_t n, long long *x)
{
	unsigned long long v = 0;
	size_t i = 0;
	int neg = 0;

	if (n > 0 && p[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (n == i || n - i > 19)
		return (-1);
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return (-1);
		v = v * 10 + (unsigned long long)(p[i] - '0');
	}
	/* 19 digits stay below 2^64: one comparison finds an overflow. */
	if (v > 9223372036854775807ULL)
		return (-1);
	*x = neg ? -(long long)v : (long long)v;
	return (0);
}

/* The header of the value at ${off}: everything but an aggregate's end. */
static int
head(const char *f, size_t len, size_t off, struct cresp *v,
    const char **why)
{
	size_t eol, left;
	long long x;

	if (off >= len) {
		*why = "truncated frame";
		return (-1);
	}
	v->type = f[off];
	v->start = off;
	v->body = off + 1;
	if (line_end(f, len, off + 1, &eol) != 0) {
		*why = "line without CRLF";
		return (-1);
	}
	v->end = eol + 2;
	v->n = (long long)(eol - off - 1);
	left = len - v->end;
	switch (v->type) {
	case '+': case '-': case ',': case '(':
		return (0);
	case '#':
		if (v->n == 1 && (f[off + 1] == 't' || f[off + 1] == 'f'))
			return (0);
		break;
	case '_':
		if (v->n == 0) {
			v->n = -1;
			return (0);
		}
		break;
	case ':':
		if (decimal(f + off + 1, eol - off - 1, &v->n) == 0)
			return (0);
		break;
	case '$': case '!': case '=':
		if (decimal(f + off + 1, eol - off - 1, &x) != 0)
			break;
		if (x == -1 && v->type == '$') {
			v->n = -1;
			return (0);
		}
		if (x < 0)
			break;
		if ((unsigned long long)x > left || left - (size_t)x < 2 ||
		    f[v->end + x] != '\r' || f[v->end + x + 1] != '\n') {
			*why = "string length past the frame";
			return (-1);
		}
		if (v->type == '=' && (x < 4 || f[v->end + 3] != ':'))
			break;
		v->body = v->end;
		v->n = x;
		v->end += (size_t)x + 2;
		return (0);
	case '*': case '~': case '>': case '%': case '|':
		if (decimal(f + off + 1, eol - off - 1, &x) != 0)
			break;
		if (x == -1 && v->type == '*') {
			v->n = -1;
			return (0);
		}
		if (x < 0)
			break;
		/* Every element takes 3 bytes or more (checked before a map's
		 * count is doubled: no overflow). */
		if ((unsigned long long)x > left / 3 ||
		    ((v->type == '%' || v->type == '|') &&
		    (unsigned long long)x > left / 6)) {
			*why = "element count past the frame";
			return (-1);
		}
		if (v->type == '%' || v->type == '|')
			x *= 2;
		v->body = v->end;
		v->n = x;
		return (0);
	default:
		*why = "not a RESP type";
		return (-1);
	}
	*why = "malformed RESP header";
	return (-1);
}

static int
isagg(const struct cresp *v)
{

	return (v->n >= 0 && (v->type == '*' || v->type == '~' ||
	    v->type == '>' || v->type == '%' || v->type == '|'));
}

/* The value at ${off} (attributes in front included), ${depth} deep:
 * where it ends in *${end}, its header in ${v}. */
static int
skip(const char *f, size_t len, size_t off, int depth, struct cresp *v,
    const char **why)
{
	struct cresp e;
	long long i;
	size_t o;

	/* Each turn reads a header: bounded by the frame's bytes. */
	for (;;) {
		if (head(f, len, off, v, why) != 0)
			return (-1);
		if (!isagg(v))
			return (0);
		if (depth >= CRESP_DEPTH) {
			*why = "nested too deep";
			return (-1);
		}
		o = v->body;
		for (i = 0; i < v->n; i++) {
			if (skip(f, len, o, depth + 1, &e, why) != 0)
				return (-1);
			o = e.end;
		}
		v->end = o;
		if (v->type != '|')
			return (0);
		/* An attribute: the value it annotates follows. */
		off = o;
	}
}

int
cresp_check(const char *f, size_t len, const char **why)
{
	struct cresp v;

	if (skip(f, len, 0, 0, &v, why) != 0)
		return (-1);
	if (v.end != len) {
		*why = "bytes after the frame";
		return (-1);
	}
	return (0);
}

int
cresp_read(const char *f, size_t len, size_t off, struct cresp *v,
    const char **why)
{

	return (skip(f, len, off, 0, v, why));
}

int
cresp_isnull(const struct cresp *v)
{

	return (v->n == -1 && (v->type == '_' || v->type == '$' ||
	    v->type == '*'));
}

int
cresp_isarray(const struct cresp *v)
{

	return (v->type == '*' && v->n >= 0);
}

int
cresp_ismap(const struct cresp *v)
{

	return (v->type == '%' || (v->type == '*' && v->n >= 0 &&
	    v->n % 2 == 0));
}

int
cresp_isstr(const struct cresp *v)
{

	return (v->n >= 0 && (v->type == '$' || v->type == '+' ||
	    v->type == '='));
}

int
cresp_text(const char *f, const struct cresp *v, const char **p, size_t *n)
{

	if (!cresp_isstr(v))
		return (-1);
	*p = f + v->body;
	*n = (size_t)v->n;
	if (v->type == '=') {
		*p += 4;
		*n -= 4;
	}
	return (0);
}

int
cresp_eq(const char *f, const struct cresp *v, const char *word)
{
	const char *p;
	size_t n, i;
	int a, b;

	if (cresp_text(f, v, &p, &n) != 0 || n != strlen(word))
		return (0);
	for (i = 0; i < n; i++) {
		a = (unsigned char)p[i];
		b = (unsigned char)word[i];
		if (a >= 'A' && a <= 'Z')
			a += 32;
		if (b >= 'A' && b <= 'Z')
			b += 32;
		if (a != b)
			return (0);
	}
	return (1);
}

long
cresp_port(const struct cresp *v)
{

	if (v->type != ':' || v->n < 0 || v->n > 65535)
		return (-1);
	return ((long)v->n);
}
