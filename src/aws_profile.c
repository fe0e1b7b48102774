/*
 * The shared credentials file (~/.aws/credentials), read as botocore reads
 * it: Python's configparser.RawConfigParser in its default mode.  Lines
 * end at LF, CRLF or CR; whitespace around everything is dropped; full
 * lines starting with '#' or ';' are comments (no inline comments); a
 * section is "[name]" (name up to the last ']'), [DEFAULT] gives defaults
 * to every section; "key = value" or "key: value", key names folded to
 * lower case; a line indented deeper than its key continues the value;
 * anything else, a key before any section, a section or a key twice, is
 * an error for the whole file.  Only the three aws_* keys are kept.
 * Also the container authorization token file, and the token kept from it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_creds.h"
#include "aws_profile.h"
#include "log.h"


enum { K_ID, K_SECRET, K_TOKEN, K_N };
static const char *const keys[K_N] = {
	"aws_access_key_id", "aws_secret_access_key", "aws_session_token"
};

struct val {
	const char *p;		/* NULL: not given */
	size_t n;
	size_t line;
};

/* A set of byte strings (section names, "section\0key"): duplicates. */
struct set {
	char **e;
	size_t *len;
	size_t cap, n;
};

static uint32_t
hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 16777619u;
	return (h);
}

static void
set_free(struct set *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->e[i]);
	free(s->e);
	free(s->len);
	memset(s, 0, sizeof(*s));
}

/* Add ${p}; 1 if it was there, 0 added, -1 out of memory. */
static int
set_add(struct set *s, const char *p, size_t n)
{
	struct set o = *s;
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		s->cap = o.cap ? 2 * o.cap : 64;
		s->n = 0;
		s->e = calloc(s->cap, sizeof(*s->e));
		s->len = calloc(s->cap, sizeof(*s->len));
		if (s->e == NULL || s->len == NULL) {
			free(s->e);
			free(s->len);
			*s = o;
			return (-1);
		}
		for (i = 0; i < o.cap; i++)
			if (o.e[i] != NULL)
				(void)set_add(s, o.e[i], o.len[i]);
		set_free(&o);
	}
	for (i = hash(p, n) & (s->cap - 1); s->e[i] != NULL;
	    i = (i + 1) & (s->cap - 1))
		if (s->len[i] == n && memcmp(s->e[i], p, n) == 0)
			return (1);
	if ((s->e[i] = malloc(n + 1)) == NULL)
		return (-1);
	memcpy(s->e[i], p, n);
	s->e[i][n] = '\0';
	s->len[i] = n;
	s->n++;
	return (0);
}

static int
is_space(char ch)
{

	return (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' ||
	    ch == '\f');
}

/* aws_creds_printable(s, n): see aws_profile.h. */
int
aws_creds_printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return (0);
	return (1);
}

static char *
dup_n(const char *p, size_t n)
{
	char *s;

	if ((s = malloc(n + 1)) == NULL)
		return (NULL);
	memcpy(s, p, n);
	s[n] = '\0';
	return (s);
}

struct ini {
	const char *profile, *path;
	char *why;
	size_t whylen;
	struct set names;	/* "S"+section and "S"+section+"\0"+key */
	const char *sect;	/* the current section's name (in the text) */
	size_t sectlen;
	int in_prof, in_def;	/* it is [profile] or [DEFAULT] */
	int seen;
	int after_key;		/* the last line was a key: indented lines
				   continue its value */
	int key_ours;		/* that key is one we keep */
	struct val prof[K_N], def[K_N];
};

static int
bad(struct ini *p, size_t line, const char *msg)
{

	log_fmt(p->why, p->whylen, "%s:%zu: %s", p->path, line, msg);
	return (-1);
}

/* Add "S" SECTION ["\0" lower(KEY)] to the set: 1 if there, 0, -1. */
static int
seen_add(struct ini *p, const char *key, size_t kn)
{
	size_t n = 1 + p->sectlen + (key != NULL ? 1 + kn : 0), i;
	char *b;
	int rc;

	if ((b = malloc(n)) == NULL)
		return (-1);
	b[0] = 'S';
	memcpy(b + 1, p->sect, p->sectlen);
	if (key != NULL) {
		b[1 + p->sectlen] = '\0';
		for (i = 0; i < kn; i++)
			b[2 + p->sectlen + i] = (char)(key[i] >= 'A' &&
			    key[i] <= 'Z' ? key[i] - 'A' + 'a' : key[i]);
	}
	rc = set_add(&p->names, b, n);
	free(b);
	return (rc);
}

/* A "[name]" line. */
static int
section(struct ini *p, const char *s, size_t n, size_t line)
{
	int rc;

	p->sect = s;
	p->sectlen = n;
	p->in_prof = n == strlen(p->profile) &&
	    memcmp(s, p->profile, n) == 0;
	p->in_def = n == 7 && memcmp(s, "DEFAULT", 7) == 0;
	if (p->in_prof)
		p->seen = 1;
	if (p->in_def)
		return (0);	/* configparser: [DEFAULT] may come again */
	if ((rc = seen_add(p, NULL, 0)) < 0)
		return (bad(p, line, "out of memory"));
	if (rc == 1)
		return (bad(p, line, "a section appears twice"));
	return (0);
}

/* A "key = value" line (${s}: ${n} bytes, trimmed). */
static int
option(struct ini *p, const char *s, size_t n, size_t line)
{
	size_t d, kn, vs;
	struct val *v;
	int rc, k;

	for (d = 0; d < n && s[d] != '=' && s[d] != ':'; d++)
		;
	if (d == n)
		return (bad(p, line, "not a [section], a comment or "
		    "key = value"));
	for (kn = d; kn > 0 && is_space(s[kn - 1]); kn--)
		;
	if (kn == 0)
		return (bad(p, line, "a value without a key"));
	for (vs = d + 1; vs < n && is_space(s[vs]); vs++)
		;
	if ((rc = seen_add(p, s, kn)) < 0)
		return (bad(p, line, "out of memory"));
	if (rc == 1)
		return (bad(p, line, "a key appears twice in its section"));
	p->key_ours = 0;
	if (!p->in_prof && !p->in_def)
		return (0);
	for (k = 0; k < K_N; k++)
		if (strlen(keys[k]) == kn &&
		    strncasecmp(s, keys[k], kn) == 0)
			break;
	if (k == K_N)
		return (0);
	p->key_ours = 1;
	v = p->in_prof ? &p->prof[k] : &p->def[k];
	v->p = s + vs;
	v->n = n - vs;
	v->line = line;
	if (!aws_creds_printable(v->p, v->n))
		return (bad(p, line, "a control or non-ASCII character in "
		    "the value"));
	return (0);
}

/* The values found, into ${c}: 1, or 0 / -1 with ${why}. */
static int
collect(struct ini *p, struct aws_creds *c)
{
	struct val v[K_N];
	char msg[320];
	char *s[K_N] = { NULL, NULL, NULL };
	int k;

	if (!p->seen) {
		log_fmt(p->why, p->whylen, "%s: no profile [%s]", p->path,
		    p->profile);
		return (0);
	}
	for (k = 0; k < K_N; k++)
		v[k] = p->prof[k].p != NULL ? p->prof[k] : p->def[k];
	if (v[K_ID].p == NULL) {
		log_fmt(p->why, p->whylen, "%s: profile [%s] has no "
		    "aws_access_key_id", p->path, p->profile);
		return (0);
	}
	if (v[K_SECRET].p == NULL) {
		log_fmt(msg, sizeof(msg), "profile %s has aws_access_key_id "
		    "but no aws_secret_access_key", p->profile);
		return (bad(p, v[K_ID].line, msg));
	}
	if (v[K_ID].n == 0)
		return (bad(p, v[K_ID].line, "empty aws_access_key_id"));
	if (v[K_SECRET].n == 0)
		return (bad(p, v[K_SECRET].line,
		    "empty aws_secret_access_key"));
	for (k = 0; k < K_N; k++)
		if (v[k].p != NULL && v[k].n > 0 &&
		    (s[k] = dup_n(v[k].p, v[k].n)) == NULL)
			goto nomem;
	c->access_key_id = s[K_ID];
	c->secret_access_key = s[K_SECRET];
	c->session_token = s[K_TOKEN];
	return (1);
nomem:
	for (k = 0; k < K_N; k++)
		if (s[k] != NULL) {
			explicit_bzero(s[k], v[k].n);
			free(s[k]);
		}
	log_fmt(p->why, p->whylen, "%s: out of memory", p->path);
	return (-1);
}

/* aws_profile_parse(...): see aws_profile.h. */
int
aws_profile_parse(const char *text, size_t len, const char *profile,
    const char *path, struct aws_creds *c, int *seen, char *why,
    size_t whylen)
{
	struct ini p;
	size_t pos = 0, line = 0, e, a, b, indent = 0, ind;
	int have_sect = 0, rc = -1;

	memset(c, 0, sizeof(*c));
	memset(&p, 0, sizeof(p));
	p.profile = profile;
	p.path = path;
	p.why = why;
	p.whylen = whylen;
	while (pos < len) {		/* each turn consumes a line */
		line++;
		for (e = pos; e < len && text[e] != '\n' && text[e] != '\r';
		    e++)
			;
		if (memchr(text + pos, '\0', e - pos) != NULL) {
			rc = bad(&p, line, "a NUL byte");
			goto out;
		}
		for (a = pos; a < e && is_space(text[a]); a++)
			;
		for (b = e; b > a && is_space(text[b - 1]); b--)
			;
		ind = a - pos;
		pos = e + (e < len && text[e] == '\r' && e + 1 < len &&
		    text[e + 1] == '\n' ? 2 : 1);
		if (a == b || text[a] == '#' || text[a] == ';')
			continue;
		if (p.after_key && ind > indent) {
			if (p.key_ours) {
				rc = bad(&p, line, "a value on several lines");
				goto out;
			}
			continue;	/* continues a key we do not keep */
		}
		indent = ind;
		p.after_key = 0;
		if (text[a] == '[') {
			const char *r = text + b;

			while (r > text + a + 1 && r[-1] != ']')
				r--;
			if (r > text + a + 2) {
				if (section(&p, text + a + 1,
				    (size_t)(r - 1 - (text + a + 1)),
				    line) != 0)
					goto out;
				have_sect = 1;
				continue;
			}
		}
		if (!have_sect) {
			rc = bad(&p, line, "a key before any [section]");
			goto out;
		}
		if (option(&p, text + a, b - a, line) != 0)
			goto out;
		p.after_key = 1;
	}
	*seen = p.seen;
	rc = collect(&p, c);
out:
	set_free(&p.names);
	return (rc);
}

/* aws_creds_parse_ini(...): see aws_creds.h. */
int
aws_creds_parse_ini(const char *text, size_t len, const char *profile,
    const char *path, struct aws_creds *c, char *why, size_t whylen)
{
	int seen;

	return (aws_profile_parse(text, len, profile, path, c, &seen, why,
	    whylen));
}

/*
 * The token file's last good content, kept for when the file can no
 * longer be read (privileges dropped, a chroot): read first by
 * aws_creds_static, before the drop.  Wiped at exit.  Here, not in
 * aws_fetch.c: aws_creds.c calls it, and the fuzzed parsers link without
 * the HTTP code.
 */
static pthread_mutex_t tok_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;
static char *tok_file;			/* the file it came from */
static char *tok_cache;			/* (secret) */

static void
tok_forget(void)
{

	if (tok_cache != NULL) {
		explicit_bzero(tok_cache, strlen(tok_cache));
		free(tok_cache);
	}
	free(tok_file);
	tok_cache = tok_file = NULL;
}

static void
tok_wipe_at_exit(void)
{

	(void)pthread_mutex_lock(&tok_lock);
	tok_forget();
	(void)pthread_mutex_unlock(&tok_lock);
}

static void
tok_init(void)
{

	(void)atexit(tok_wipe_at_exit);
}

/* Keep ${tok}, read from ${file}; out of memory only loses the cache. */
static void
tok_keep(const char *file, const char *tok)
{

	(void)pthread_once(&tok_once, tok_init);
	(void)pthread_mutex_lock(&tok_lock);
	tok_forget();
	if ((tok_cache = strdup(tok)) == NULL ||
	    (tok_file = strdup(file)) == NULL)
		tok_forget();
	(void)pthread_mutex_unlock(&tok_lock);
}

/* The kept token of ${file} into ${buf}; 0, or -1 if there is none. */
static int
tok_kept(const char *file, char *buf, size_t len)
{
	int rc = -1;

	(void)pthread_mutex_lock(&tok_lock);
	if (tok_cache != NULL && strcmp(tok_file, file) == 0 &&
	    strlen(tok_cache) < len) {
		memcpy(buf, tok_cache, strlen(tok_cache) + 1);
		rc = 0;
	}
	(void)pthread_mutex_unlock(&tok_lock);
	return (rc);
}

/* aws_creds_token_legal(tok): see aws_profile.h. */
int
aws_creds_token_legal(const char *tok)
{
	size_t n = strlen(tok);

	return (n <= AWS_CONTAINER_TOKEN_MAX && strpbrk(tok, "\r\n") == NULL &&
	    aws_creds_printable(tok, n));
}

/*
 * The token file ${file} into ${buf} (AWS_CONTAINER_TOKEN_MAX + 1 bytes): 0; -1 it
 * cannot be read; -2 it is not a legal token (${why} either way).
 */
static int
tok_read(const char *file, char *buf, char *why, size_t whylen)
{
	size_t n;
	FILE *fp;

	if ((fp = fopen(file, "re")) == NULL) {
		log_fmt(why, whylen, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: "
		    "%s", file, strerror(errno));
		return (-1);
	}
	setbuf(fp, NULL);	/* no stdio copy of the token to wipe */
	n = fread(buf, 1, AWS_CONTAINER_TOKEN_MAX + 1, fp);
	fclose(fp);
	if (n > AWS_CONTAINER_TOKEN_MAX) {
		log_fmt(why, whylen, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: "
		    "longer than %d bytes", file, AWS_CONTAINER_TOKEN_MAX);
		explicit_bzero(buf, AWS_CONTAINER_TOKEN_MAX + 1);
		return (-2);
	}
	buf[n] = '\0';
	if (strlen(buf) != n || !aws_creds_token_legal(buf)) {
		log_fmt(why, whylen, "the container authorization token "
		    "(AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) is not a legal "
		    "header value: a line break or a control character");
		explicit_bzero(buf, AWS_CONTAINER_TOKEN_MAX + 1);
		return (-2);
	}
	return (0);
}

/* aws_creds_token_file_load(): see aws_profile.h. */
void
aws_creds_token_file_load(void)
{
	const char *file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	char buf[AWS_CONTAINER_TOKEN_MAX + 1], why[8];

	if (file == NULL || *file == '\0')
		return;
	if (tok_read(file, buf, why, sizeof(why)) == 0)
		tok_keep(file, buf);
	explicit_bzero(buf, sizeof(buf));
}

/* aws_creds_container_token(file, buf, why, whylen): see aws_profile.h. */
int
aws_creds_container_token(const char *file, char *buf, char *why,
    size_t whylen)
{
	int rc;

	/* Read at each fetch (EKS rotates the file's token); the last good
	 * one if the file has become unreadable. */
	if ((rc = tok_read(file, buf, why, whylen)) == 0)
		tok_keep(file, buf);
	else if (rc == -1 && tok_kept(file, buf, AWS_CONTAINER_TOKEN_MAX +
	    1) == 0)
		rc = 0;
	return (rc == 0 ? 0 : -1);
}
