/*
 * AWS credentials: the struct, the provider chain's first two steps (the
 * environment, the shared credentials file) and the JSON answer of the
 * container endpoint and IMDS.  The HTTP steps are in aws_fetch.c, the
 * file's grammar in aws_profile.c.  Nothing here logs; no message ever
 * holds a secret, only the names of fields.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "aws_creds.h"
#include "aws_profile.h"
#include "log.h"


#define CREDS_FILE_MAX	(1024 * 1024)
#define AKID_MAX	128
#define SECRET_MAX	1024
#define TOKEN_MAX	16384

static void
wipe_free(char *s)
{

	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/*
 * jansson's copies of the JSON text and of its strings hold the secrets:
 * its free wipes them first.  The setting is process-wide (status_render
 * uses jansson too; wiping is harmless there).  Plain malloc, and a free
 * that asks malloc for the size, so that a block jansson allocated before
 * this was set is still freed right.
 */
static void
json_wipe_free(void *p)
{

	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static void
json_wiping_init(void)
{

	json_set_alloc_funcs(malloc, json_wipe_free);
}

static void
json_wiping(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	(void)pthread_once(&once, json_wiping_init);
}

/* aws_creds_free(c): see aws_creds.h. */
void
aws_creds_free(struct aws_creds *c)
{

	if (c == NULL)
		return;
	free(c->access_key_id);
	wipe_free(c->secret_access_key);
	wipe_free(c->session_token);
	free(c);
}

/* aws_creds_dup(c): see aws_creds.h. */
struct aws_creds *
aws_creds_dup(const struct aws_creds *c)
{
	struct aws_creds *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (NULL);
	d->expiration = c->expiration;
	memcpy(d->source, c->source, sizeof(d->source));
	if ((d->access_key_id = strdup(c->access_key_id)) == NULL ||
	    (d->secret_access_key = strdup(c->secret_access_key)) == NULL ||
	    (c->session_token != NULL &&
	    (d->session_token = strdup(c->session_token)) == NULL)) {
		aws_creds_free(d);
		return (NULL);
	}
	return (d);
}

/* Digits at ${*p}: exactly ${n} of them, as a number; -1 if not. */
static int
digits(const char **p, int n)
{
	int v = 0;

	for (; n > 0; n--, (*p)++) {
		if (**p < '0' || **p > '9')
			return (-1);
		v = v * 10 + (**p - '0');
	}
	return (v);
}

/*
 * ISO 8601 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" to Unix time;
 * -1 if it is not that.
 */
static int
parse_time(const char *s, int64_t *t)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	struct tm tm;
	int off = 0, oh, om, sign;
	time_t u;

	memset(&tm, 0, sizeof(tm));
	if ((tm.tm_year = digits(&s, 4)) < 1970 || *s++ != '-' ||
	    (tm.tm_mon = digits(&s, 2)) < 1 || tm.tm_mon > 12 ||
	    *s++ != '-' || (tm.tm_mday = digits(&s, 2)) < 1 ||
	    tm.tm_mday > mdays[tm.tm_mon - 1] ||
	    (*s != 'T' && *s != 't' && *s != ' ') || (s++, 0) ||
	    (tm.tm_hour = digits(&s, 2)) < 0 || tm.tm_hour > 23 ||
	    *s++ != ':' || (tm.tm_min = digits(&s, 2)) < 0 ||
	    tm.tm_min > 59 || *s++ != ':' ||
	    (tm.tm_sec = digits(&s, 2)) < 0 || tm.tm_sec > 60)
		return (-1);
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++)
			;	/* fractions of a second: dropped */
		if (s[-1] == '.')
			return (-1);
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if ((oh = digits(&s, 2)) < 0 || oh > 23)
			return (-1);
		if (*s == ':')
			s++;
		if ((om = digits(&s, 2)) < 0 || om > 59)
			return (-1);
		off = sign * (oh * 3600 + om * 60);
	} else
		return (-1);
	if (*s != '\0')
		return (-1);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((u = timegm(&tm)) == (time_t)-1)
		return (-1);
	*t = (int64_t)u - off;
	return (0);
}

/* The string field ${name} of ${o}: 0, 1 absent, -1 wrong (${why}). */
static int
field(json_t *o, const char *name, size_t max, char **out, char *why,
    size_t whylen)
{
	json_t *v = json_object_get(o, name);
	const char *s;
	size_t n;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return (1);
	if (!json_is_string(v)) {
		log_fmt(why, whylen, "%s is not a string", name);
		return (-1);
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0) {
		log_fmt(why, whylen, "%s is empty", name);
		return (-1);
	}
	if (n > max || !aws_creds_printable(s, n)) {
		log_fmt(why, whylen, "%s is longer than %zu bytes or holds "
		    "other than printable ASCII", name, max);
		return (-1);
	}
	if ((*out = strdup(s)) == NULL) {
		log_fmt(why, whylen, "out of memory");
		return (-1);
	}
	return (0);
}

/* aws_creds_parse_json(body, len, c, why, whylen): see aws_creds.h. */
int
aws_creds_parse_json(const char *body, size_t len, struct aws_creds *c,
    char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *root, *code;
	char *exp = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	json_wiping();
	/* jansson's own messages quote the text: only the place is safe */
	if ((root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		log_fmt(why, whylen, "malformed JSON (line %d, column %d)",
		    jerr.line, jerr.column);
		return (-1);
	}
	if (!json_is_object(root)) {
		log_fmt(why, whylen, "the JSON answer is not an object");
		goto err;
	}
	code = json_object_get(root, "Code");
	if (code != NULL && (!json_is_string(code) ||
	    strcmp(json_string_value(code), "Success") != 0)) {
		log_fmt(why, whylen, "Code is not \"Success\"");
		goto err;
	}
	if ((rc = field(root, "AccessKeyId", AKID_MAX, &c->access_key_id,
	    why, whylen)) != 0 ||
	    (rc = field(root, "SecretAccessKey", SECRET_MAX,
	    &c->secret_access_key, why, whylen)) != 0) {
		if (rc == 1)
			log_fmt(why, whylen, "no %s in the JSON answer",
			    c->access_key_id == NULL ? "AccessKeyId" :
			    "SecretAccessKey");
		goto err;
	}
	if (field(root, "Token", TOKEN_MAX, &c->session_token, why,
	    whylen) < 0 || field(root, "Expiration", 64, &exp, why,
	    whylen) < 0)
		goto err;
	if (exp != NULL && parse_time(exp, &c->expiration) != 0) {
		log_fmt(why, whylen, "Expiration is not an ISO 8601 UTC "
		    "time");
		goto err;
	}
	free(exp);
	json_decref(root);
	return (0);
err:
	free(exp);
	json_decref(root);
	free(c->access_key_id);
	wipe_free(c->secret_access_key);
	wipe_free(c->session_token);
	memset(c, 0, sizeof(*c));
	return (-1);
}

/* Step 1.  1 found, 0 not configured, -1 half configured. */
static int
from_env(struct aws_creds **out, char *why, size_t whylen)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tok = getenv("AWS_SESSION_TOKEN");
	struct aws_creds *c;

	/* Empty counts as unset, as in botocore. */
	if ((id == NULL || *id == '\0') && (sk == NULL || *sk == '\0'))
		return (0);
	if (id == NULL || *id == '\0' || sk == NULL || *sk == '\0') {
		log_fmt(why, whylen, "%s is set but %s is not",
		    id != NULL && *id != '\0' ? "AWS_ACCESS_KEY_ID" :
		    "AWS_SECRET_ACCESS_KEY", id != NULL && *id != '\0' ?
		    "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return (-1);
	}
	if (strlen(id) > AKID_MAX || !aws_creds_printable(id, strlen(id)) ||
	    strlen(sk) > SECRET_MAX || !aws_creds_printable(sk, strlen(sk)) ||
	    (tok != NULL && (strlen(tok) > TOKEN_MAX ||
	    !aws_creds_printable(tok, strlen(tok))))) {
		log_fmt(why, whylen, "AWS_ACCESS_KEY_ID, "
		    "AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is too long "
		    "or holds other than printable ASCII");
		return (-1);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->access_key_id = strdup(id)) == NULL ||
	    (c->secret_access_key = strdup(sk)) == NULL ||
	    (tok != NULL && *tok != '\0' &&
	    (c->session_token = strdup(tok)) == NULL)) {
		aws_creds_free(c);
		log_fmt(why, whylen, "out of memory");
		return (-1);
	}
	log_fmt(c->source, sizeof(c->source), "environment");
	*out = c;
	return (1);
}

/* The file ${path} into ${*text}: 0, 1 absent (ENOENT), -1 (${why}). */
static int
read_file(const char *path, char **text, size_t *len, char *why,
    size_t whylen)
{
	struct stat st;
	size_t n = 0;
	ssize_t r;
	char *b;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			return (1);
		log_fmt(why, whylen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CREDS_FILE_MAX) {
		log_fmt(why, whylen, "%s: not a regular file of at most "
		    "%d bytes", path, CREDS_FILE_MAX);
		close(fd);
		return (-1);
	}
	if ((b = malloc((size_t)st.st_size + 1)) == NULL) {
		log_fmt(why, whylen, "%s: out of memory", path);
		close(fd);
		return (-1);
	}
	/* Bounded by the size seen: a file growing meanwhile is cut. */
	while (n < (size_t)st.st_size &&
	    (r = read(fd, b + n, (size_t)st.st_size - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_fmt(why, whylen, "%s: %s", path, strerror(errno));
			explicit_bzero(b, n);
			free(b);
			close(fd);
			return (-1);
		}
		n += (size_t)r;
	}
	close(fd);
	b[n] = '\0';
	*text = b;
	*len = n;
	return (0);
}

/* Where the shared file is: AWS_SHARED_CREDENTIALS_FILE or ~. */
static int
file_path(char *path, size_t pathlen, int *explicit)
{
	const char *f = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *home = getenv("HOME");
	struct passwd *pw;
	int k;

	*explicit = f != NULL && *f != '\0';
	if ((home == NULL || *home == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL)
		home = "";
	if (*explicit && strncmp(f, "~/", 2) == 0)	/* expanduser */
		k = snprintf(path, pathlen, "%s/%s", home, f + 2);
	else if (*explicit)
		k = snprintf(path, pathlen, "%s", f);
	else
		k = snprintf(path, pathlen, "%s/.aws/credentials", home);
	return (k < 0 || (size_t)k >= pathlen ? -1 : 0);
}

/* Step 2.  1 found, 0 not configured (${why} says why), -1 unusable. */
static int
from_file(struct aws_creds **out, char *why, size_t whylen)
{
	const char *prof = getenv("AWS_PROFILE");
	struct aws_creds *c;
	char path[4096];
	char *text = NULL;
	size_t len = 0;
	int explicit, named, rc, seen = 0;

	named = prof != NULL && *prof != '\0';
	if (!named)
		prof = "default";
	if (file_path(path, sizeof(path), &explicit) != 0) {
		log_fmt(why, whylen, "the credentials file's path is too "
		    "long");
		return (-1);
	}
	if ((rc = read_file(path, &text, &len, why, whylen)) < 0)
		return (-1);
	if (rc == 1) {
		log_fmt(why, whylen, "%s: no such file%s", path, explicit ?
		    " (AWS_SHARED_CREDENTIALS_FILE)" : named ?
		    " (AWS_PROFILE names a profile in it)" : "");
		return (explicit || named ? -1 : 0);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_fmt(why, whylen, "out of memory");
		rc = -1;
		goto out;
	}
	rc = aws_profile_parse(text, len, prof, path, c, &seen, why, whylen);
	if (rc == 1) {
		log_fmt(c->source, sizeof(c->source), "shared file %.60s "
		    "[%.24s]", path, prof);
		*out = c;
		c = NULL;
	} else if (rc == 0 && named && !seen) {
		log_fmt(why, whylen, "%s: no profile [%.64s] (AWS_PROFILE)",
		    path, prof);
		rc = -1;
	}
	free(c);
out:
	if (text != NULL)
		explicit_bzero(text, len);
	free(text);
	return (rc);
}

/* aws_creds_static(out, why, whylen): see aws_creds.h. */
int
aws_creds_static(struct aws_creds **out, char *why, size_t whylen)
{
	char fwhy[256];
	int rc;

	*out = NULL;
	json_wiping();
	/* Before privileges are dropped: see aws_creds.h. */
	aws_creds_token_file_load();
	if ((rc = from_env(out, why, whylen)) != 0)
		return (rc);
	if ((rc = from_file(out, fwhy, sizeof(fwhy))) < 0)
		log_fmt(why, whylen, "%s", fwhy);
	else if (rc == 0)
		log_fmt(why, whylen, "no AWS_ACCESS_KEY_ID; %s", fwhy);
	return (rc);
}

/* aws_creds_static_path(buf, len): see aws_creds.h. */
int
aws_creds_static_path(char *buf, size_t len)
{
	int explicit;

	return (file_path(buf, len, &explicit));
}
