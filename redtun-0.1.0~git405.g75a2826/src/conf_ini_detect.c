/*
 * Which format a configuration file is in, from its content alone: redtun
 * reads stunnel's files as they are, and hints at stunnel's format after
 * a libconfig syntax error.
 */
#include <string.h>

#include "conf_ini.h"

static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

static int
is_section_line(const char *s, size_t n)
{
	trim(&s, &n);
	return (n >= 2 && s[0] == '[' && s[n - 1] == ']' &&
	    memchr(s, '=', n) == NULL && memchr(s, '"', n) == NULL);
}

/*
 * The traits of ${text}: 1 section, 2 ';' comment, 4 plain key = value;
 * 8 libconfig's own (@include, a quoted value, a value ending in ';').
 */
static int
traits(const char *text, size_t len, int *brace)
{
	const char *p = text, *end = text + len, *nl, *s, *eq;
	size_t n;
	int t = 0;

	*brace = memchr(text, '{', len) != NULL;
	for (; p < end; p = nl ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		s = p;
		n = (size_t)((nl ? nl : end) - p);
		if (p == text && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			n -= 3;
		}
		if (n > 0 && s[n - 1] == '\r')
			n--;
		trim(&s, &n);
		if (n == 0 || s[0] == '#' || s[0] == '/')
			continue;
		if (n >= 8 && memcmp(s, "@include", 8) == 0) {
			t |= 8;
			continue;
		}
		if (is_section_line(s, n))
			t |= 1;
		else if (s[0] == ';' && n > 1)
			t |= 2;
		else if ((eq = memchr(s, '=', n)) != NULL && eq > s) {
			const char *v = eq + 1;
			size_t vl = n - (size_t)(v - s);

			trim(&v, &vl);
			/* libconfig's values are quoted or end with ';' (a
			 * comment may follow). */
			if (vl > 0 && v[0] != '"' && v[0] != '[' &&
			    v[0] != '(' && v[0] != '{' &&
			    memchr(v, ';', vl) == NULL && v[vl - 1] != ',')
				t |= 4;
			else if (vl > 0)
				t |= 8;
		}
	}
	return (t);
}

int
ini_detect(const char *text, size_t len)
{
	int brace, t = traits(text, len, &brace);

	return ((t & 3) != 0 || ((t & 4) && !brace && !(t & 8)));
}

int
ini_resembles(const char *text, size_t len)
{
	int brace;

	return ((traits(text, len, &brace) & 7) != 0);
}
