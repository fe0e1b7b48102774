/*
 * stunnel's configuration format read with stunnel's rules (lines,
 * sections, include) and written out as libconfig text, each setting
 * beside the stunnel line it came from.  What each option becomes is
 * conf_ini_opts.c's business.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_ini.h"
#include "conf_ini_priv.h"

#define LINE_MAX_LEN	16384		/* stunnel's CONFLINELEN */
#define INCLUDE_DEPTH	8
#define INCLUDE_FILES	256
#define INCLUDE_SIZE	(1024 * 1024)

/* ---- small helpers ------------------------------------------------------ */

int
ini_grow(void *pp, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *p, *q;

	if (need <= *cap)
		return (0);
	while (n < need)
		n *= 2;
	/* ${pp} is a T **; the array is left as it was on failure. */
	memcpy(&p, pp, sizeof(p));
	if ((q = realloc(p, n * size)) == NULL)
		return (-1);
	memcpy(pp, &q, sizeof(q));
	*cap = n;
	return (0);
}

static void
vwhere(struct ini *ini, char *out, size_t outlen, int file, int line)
{
	char name[256];

	ini_escape(name, sizeof(name), ini->files[file], 200);
	snprintf(out, outlen, "%s:%d: ", name, line);
}

static int err_at(struct ini *, int, int, const char *, va_list)
    __attribute__((format(printf, 4, 0)));

static int
err_at(struct ini *ini, int file, int line, const char *fmt, va_list ap)
{
	size_t n;

	if (ini->whylen == 0)
		return (-1);
	vwhere(ini, ini->why, ini->whylen, file, line);
	n = strlen(ini->why);
	vsnprintf(ini->why + n, ini->whylen - n, fmt, ap);
	return (-1);
}

static int
err_fl(struct ini *ini, int file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
err_fl(struct ini *ini, int file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_at(ini, file, line, fmt, ap);
	va_end(ap);
	return (-1);
}

int
ini_err(struct ini *ini, const struct ini_rec *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_at(ini, r->file, r->line, fmt, ap);
	va_end(ap);
	return (-1);
}

int
ini_oom(struct ini *ini)
{
	ini->oom = 1;
	if (ini->whylen > 0)
		snprintf(ini->why, ini->whylen, "%s: out of memory",
		    ini->files && ini->nfiles ? ini->files[0] : "stunnel");
	return (-1);
}

int
ini_notice_add(struct ini *ini, const struct ini_rec *r, const char *fmt, ...)
{
	char buf[1024];
	size_t n = 0;
	va_list ap;

	buf[0] = '\0';
	if (r != NULL)
		vwhere(ini, buf, sizeof(buf), r->file, r->line);
	n = strlen(buf);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (ini_grow(&ini->notices, &ini->noticescap,
	    ini->nnotices + 1, sizeof(char *)) != 0)
		return (ini_oom(ini));
	if ((ini->notices[ini->nnotices] = strdup(buf)) == NULL)
		return (ini_oom(ini));
	ini->nnotices++;
	return (0);
}

/* ---- reading --------------------------------------------------------------- */

static int
add_file(struct ini *ini, const char *name)
{
	if (ini_grow(&ini->files, &ini->filescap,
	    ini->nfiles + 1, sizeof(char *)) != 0)
		return (ini_oom(ini));
	if ((ini->files[ini->nfiles] = strdup(name)) == NULL)
		return (ini_oom(ini));
	return ((int)ini->nfiles++);
}

static struct ini_rec *
add_rec(struct ini *ini, int kind, int file, int line, size_t sect,
    const char *s, size_t n)
{
	struct ini_rec *r;

	if (ini_grow(&ini->recs, &ini->recscap, ini->nrecs + 1,
	    sizeof(*ini->recs)) != 0) {
		ini_oom(ini);
		return (NULL);
	}
	r = &ini->recs[ini->nrecs];
	memset(r, 0, sizeof(*r));
	r->kind = (kind == REC_COMMENT ? REC_COMMENT : kind == REC_SECTION ?
	    REC_SECTION : REC_OPTION);
	r->file = file;
	r->line = line;
	r->sect = sect;
	if ((r->text = strndup(s, n)) == NULL) {
		ini_oom(ini);
		return (NULL);
	}
	ini->nrecs++;
	return (r);
}

static int
is_space(char c)
{
	return (c == ' ' || c == '\t');
}

static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_space((*s)[*n - 1]))
		(*n)--;
}

static int
section_name_ok(const char *s)
{
	size_t i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
		return (0);
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_'))
			return (0);
	return (1);
}

static int
open_section(struct ini *ini, struct ini_rec *r, size_t *sect)
{
	char esc[128];

	if ((r->name = strndup(r->text + 1, strlen(r->text) - 2)) == NULL)
		return (ini_oom(ini));
	ini_escape(esc, sizeof(esc), r->name, 60);
	if (!section_name_ok(r->name))
		return (ini_err(ini, r, "[%s]: redtun service names are "
		    "letters, digits, '-' and '_', starting with a letter",
		    esc));
	/* libconfig reads these as booleans, in any case, not as names. */
	if (strcasecmp(r->name, "true") == 0 ||
	    strcasecmp(r->name, "false") == 0)
		return (ini_err(ini, r, "[%s]: redtun service names cannot be "
		    "true or false (libconfig's booleans)", esc));
	if (ini_grow(&ini->sects, &ini->sectscap, ini->nsects + 1,
	    sizeof(*ini->sects)) != 0)
		return (ini_oom(ini));
	memset(&ini->sects[ini->nsects], 0, sizeof(*ini->sects));
	if ((ini->sects[ini->nsects].name = strdup(r->name)) == NULL)
		return (ini_oom(ini));
	ini->sects[ini->nsects].rec = (size_t)(r - ini->recs);
	r->sect = *sect = ini->nsects++;
	return (0);
}

static int read_text(struct ini *, int, const char *, size_t, size_t *, int,
    int);

static int
cmp_names(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static const struct ini *sort_ini;	/* for cmp_sects; single-threaded */

static int
cmp_sects(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(sort_ini->sects[x].name, sort_ini->sects[y].name);

	return (c ? c : x < y ? -1 : x > y);
}

/* The first section (in file order) whose name was taken: sorted, not
 * compared pairwise, so that many sections stay cheap. */
static int
check_duplicates(struct ini *ini)
{
	const struct ini_rec *r, *f;
	size_t *v, i, n = ini->nsects - 1, dup = 0, first = 0;
	char esc[128], file[256];

	if (n < 2)
		return (0);
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return (ini_oom(ini));
	for (i = 0; i < n; i++)
		v[i] = i + 1;
	sort_ini = ini;
	qsort(v, n, sizeof(*v), cmp_sects);
	for (i = 1; i < n; i++)
		if (strcmp(ini->sects[v[i]].name, ini->sects[v[i - 1]].name)
		    == 0 && (i < 2 || strcmp(ini->sects[v[i]].name,
		    ini->sects[v[i - 2]].name) != 0) &&
		    (dup == 0 || v[i] < dup)) {
			dup = v[i];
			first = v[i - 1];
		}
	free(v);
	if (dup == 0)
		return (0);
	r = &ini->recs[ini->sects[dup].rec];
	f = &ini->recs[ini->sects[first].rec];
	ini_escape(esc, sizeof(esc), r->name, 60);
	ini_escape(file, sizeof(file), ini->files[f->file], 200);
	return (ini_err(ini, r, "[%s]: the section is already defined at "
	    "%s:%d", esc, file, f->line));
}

/* include = DIR: its regular files in strcmp order, in the current section. */
static int
include_dir(struct ini *ini, const struct ini_rec *r, size_t *sect,
    int depth)
{
	char **names = NULL, *path = NULL, *buf = NULL, *base = NULL;
	const char *from = ini->files[r->file], *slash;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	struct stat st;
	char dir[128];
	size_t bufsize = 0;
	ssize_t got;
	int fd = -1, f, rc = -1;
	DIR *d;

	ini_escape(dir, sizeof(dir), r->value, 80);
	if (depth >= INCLUDE_DEPTH)
		return (ini_err(ini, r, "include: includes nested more than "
		    "%d deep", INCLUDE_DEPTH));
	/*
	 * A relative directory is taken from the including file's: the
	 * daemon runs in "/", and SIGHUP must find it again.
	 */
	if (r->value[0] != '/' && (slash = strrchr(from, '/')) != NULL) {
		if (asprintf(&base, "%.*s/%s", (int)(slash - from), from,
		    r->value) < 0)
			return (ini_oom(ini));
	} else if ((base = strdup(r->value)) == NULL)
		return (ini_oom(ini));
	if ((d = opendir(base)) == NULL) {
		ini_err(ini, r, "include: cannot read directory \"%s\": %s",
		    dir, strerror(errno));
		free(base);
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (ini_grow(&names, &cap, n + 1, sizeof(char *)) != 0) {
			ini_oom(ini);
			goto err;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			ini_oom(ini);
			goto err;
		}
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(char *), cmp_names);
	for (i = 0; i < n; i++) {
		free(path);
		if (asprintf(&path, "%s/%s", base, names[i]) < 0) {
			path = NULL;
			ini_oom(ini);
			goto err;
		}
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (++ini->nincluded > INCLUDE_FILES) {
			ini_err(ini, r, "include: more than %d files included",
			    INCLUDE_FILES);
			goto err;
		}
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
		    fstat(fd, &st) != 0) {
			ini_err(ini, r, "include: cannot read \"%s/%s\": %s",
			    dir, names[i], strerror(errno));
			goto err;
		}
		if (st.st_size > INCLUDE_SIZE) {
			ini_err(ini, r, "include: \"%s/%s\" is larger than "
			    "1 MiB", dir, names[i]);
			goto err;
		}
		free(buf);
		bufsize = (size_t)st.st_size + 1;
		if ((buf = malloc(bufsize)) == NULL) {
			ini_oom(ini);
			goto err;
		}
		got = read(fd, buf, (size_t)st.st_size + 1);
		if (got < 0 || got > st.st_size) {
			ini_err(ini, r, "include: cannot read \"%s/%s\": %s",
			    dir, names[i], got < 0 ? strerror(errno) :
			    "it grew while being read");
			goto err;
		}
		close(fd);
		fd = -1;
		if ((f = add_file(ini, path)) < 0 ||
		    read_text(ini, f, buf, (size_t)got, sect, depth + 1, 1))
			goto err;
	}
	rc = 0;
err:
	if (fd >= 0)
		close(fd);
	closedir(d);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(path);
	free(base);
	if (buf != NULL)
		explicit_bzero(buf, bufsize);
	free(buf);
	return (rc);
}

static int
read_line(struct ini *ini, int file, int lineno, const char *s, size_t n,
    size_t *sect, int depth, int includes)
{
	struct ini_rec *r;
	const char *eq, *v;
	size_t nl, vl;
	char esc[128];

	trim(&s, &n);
	if (n == 0)
		return (0);
	if (s[0] == ';' || s[0] == '#')
		return (add_rec(ini, REC_COMMENT, file, lineno, *sect, s, n) ?
		    0 : -1);
	if ((r = add_rec(ini, REC_OPTION, file, lineno, *sect, s, n)) == NULL)
		return (-1);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		r->kind = REC_SECTION;
		return (open_section(ini, r, sect));
	}
	if ((eq = memchr(r->text, '=', n)) == NULL) {
		ini_escape(esc, sizeof(esc), r->text, 60);
		/* "password SECRET" with the '=' forgotten: keep it out. */
		if (strncasecmp(r->text, "password", 8) == 0 ||
		    strncasecmp(r->text, "protocolPassword", 16) == 0)
			snprintf(esc, sizeof(esc), "%.*s ...",
			    strncasecmp(r->text, "password", 8) == 0 ? 8 : 16,
			    r->text);
		return (ini_err(ini, r, "\"%s\": No '=' found", esc));
	}
	s = r->text;
	nl = (size_t)(eq - s);
	trim(&s, &nl);
	v = eq + 1;
	vl = n - (size_t)(v - r->text);
	trim(&v, &vl);
	if ((r->name = strndup(s, nl)) == NULL ||
	    (r->value = strndup(v, vl)) == NULL)
		return (ini_oom(ini));
	if (ini_opt_include(r->name)) {
		if (!includes)
			return (ini_err(ini, r, "include: is not allowed "
			    "here"));
		return (include_dir(ini, r, sect, depth));
	}
	return (0);
}

static int
read_text(struct ini *ini, int file, const char *text, size_t len,
    size_t *sect, int depth, int includes)
{
	const char *p = text, *end = text + len, *nl;
	size_t n;
	int line = 0;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl ? nl : end) - p);
		line++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (line == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
			p += 3;
			n -= 3;
		}
		if (n > LINE_MAX_LEN)
			return (err_fl(ini, file, line, "line too long "
			    "(stunnel's limit is %d bytes)", LINE_MAX_LEN));
		if (memchr(p, '\0', n) != NULL)
			return (err_fl(ini, file, line, "a NUL byte (is this "
			    "a text file?)"));
		if (read_line(ini, file, line, p, n, sect, depth, includes))
			return (-1);
		p = nl ? nl + 1 : end;
	}
	return (0);
}

/* ---- the interface ----------------------------------------------------------- */

struct ini *
ini_translate(const char *path, const char *text, size_t len, int includes,
    char *why, size_t whylen)
{
	struct ini *ini;
	size_t i, sect = 0;
	int f;

	if (whylen > 0)
		why[0] = '\0';
	if ((ini = calloc(1, sizeof(*ini))) == NULL) {
		if (whylen > 0)
			snprintf(why, whylen, "out of memory");
		return (NULL);
	}
	ini->why = why;
	ini->whylen = whylen;
	if ((f = add_file(ini, path)) < 0)
		goto err;
	if (ini_grow(&ini->sects, &ini->sectscap, 1,
	    sizeof(*ini->sects)) != 0) {
		ini_oom(ini);
		goto err;
	}
	memset(ini->sects, 0, sizeof(*ini->sects));
	ini->nsects = 1;
	if (read_text(ini, f, text, len, &sect, 0, includes))
		goto err;
	if (check_duplicates(ini))
		goto err;
	if (ini->nsects == 1) {
		err_fl(ini, f, 1, "(inetd mode): a stunnel file without "
		    "[sections] runs in inetd mode, which redtun does not "
		    "support; put the options under a [service] section");
		goto err;
	}
	for (i = 0; i < ini->nsects; i++) {
		ini->sects[i].st.client = ini->sects[i].st.verify = -1;
		ini->sects[i].st.chain = ini->sects[i].st.peer = -1;
	}
	for (i = 0; i < ini->nrecs; i++)
		if (ini->recs[i].kind == REC_OPTION)
			ini_state_note(&ini->sects[ini->recs[i].sect].st,
			    &ini->recs[i]);
	if (ini_emit(ini, path))
		goto err;
	if (ini_opt_security(ini))
		goto err;
	ini->why = NULL;
	ini->whylen = 0;
	return (ini);
err:
	if (whylen > 0 && why[0] == '\0')
		snprintf(why, whylen, "%s: cannot translate", path);
	ini_free(ini);
	return (NULL);
}

const char *
ini_text(const struct ini *ini, size_t *len)
{
	if (len != NULL)
		*len = ini->len;
	return (ini->text);
}

const char *
ini_source(const struct ini *ini, int genline, int *line)
{
	if (genline < 1 || (size_t)genline > ini->nmap ||
	    ini->map[genline - 1].file < 0)
		return (NULL);
	*line = ini->map[genline - 1].line;
	return (ini->files[ini->map[genline - 1].file]);
}

size_t
ini_nnotices(const struct ini *ini)
{
	return (ini->nnotices);
}

const char *
ini_notice(const struct ini *ini, size_t i)
{
	return (i < ini->nnotices ? ini->notices[i] : NULL);
}

static void
wipe(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
ini_free(struct ini *ini)
{
	size_t i;

	if (ini == NULL)
		return;
	for (i = 0; i < ini->nrecs; i++) {
		wipe(ini->recs[i].text);
		wipe(ini->recs[i].name);
		wipe(ini->recs[i].value);
	}
	free(ini->recs);
	for (i = 0; i < ini->nsects; i++)
		free(ini->sects[i].name);
	free(ini->sects);
	for (i = 0; i < ini->nfiles; i++)
		free(ini->files[i]);
	free(ini->files);
	for (i = 0; i < ini->nnotices; i++)
		free(ini->notices[i]);
	free(ini->notices);
	if (ini->text != NULL)
		explicit_bzero(ini->text, ini->cap);
	free(ini->text);
	free(ini->map);
	free(ini);
}
