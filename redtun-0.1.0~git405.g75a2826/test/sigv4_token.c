/*
 * sigv4_token: the token maker as a filter, for test/sigv4_diff.py and
 * test/fake_elasticache.py's tests.  One case a line on stdin, fields
 * separated by tabs:
 *
 *   AKID SECRET SESSION-TOKEN(- for none) REGION CACHE USER-HEX
 *   SERVERLESS(0/1) UNIX-TIME
 *
 * USER is hex-encoded so that any bytes can be tried.  One line out per
 * case: the token, or "ERROR" when sigv4_elasticache_token refuses.
 * A malformed line is a hard error (exit 2).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

#define LINE_MAX_	(64 * 1024)
#define NFIELDS		8

static int
unhex(const char *h, char *out, size_t outlen)
{
	size_t n = strlen(h), i;
	unsigned int b;

	if (n % 2 != 0 || n / 2 >= outlen)
		return (-1);
	for (i = 0; i < n / 2; i++) {
		if (sscanf(h + 2 * i, "%2x", &b) != 1)
			return (-1);
		out[i] = (char)b;
	}
	out[n / 2] = '\0';
	return (0);
}

int
main(void)
{
	static char line[LINE_MAX_], user[LINE_MAX_ / 2], tok[SIGV4_TOKEN_MAX];
	struct sigv4_req rq;
	char *f[NFIELDS], *p, *end;
	size_t len;
	long lineno = 0;
	int i;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(stdin))
			goto bad;
		p = line;
		for (i = 0; i < NFIELDS; i++) {
			f[i] = p;
			p = strchr(p, '\t');
			if (i < NFIELDS - 1) {
				if (p == NULL)
					goto bad;
				*p++ = '\0';
			}
		}
		if (p != NULL || unhex(f[5], user, sizeof(user)))
			goto bad;
		memset(&rq, 0, sizeof(rq));
		rq.access_key_id = f[0];
		rq.secret_access_key = f[1];
		rq.session_token = strcmp(f[2], "-") == 0 ? NULL : f[2];
		rq.region = f[3];
		rq.cache = f[4];
		rq.user = user;
		rq.serverless = strcmp(f[6], "1") == 0;
		errno = 0;
		rq.now = strtoll(f[7], &end, 10);
		if (errno != 0 || *end != '\0' || end == f[7])
			goto bad;
		if (sigv4_elasticache_token(&rq, tok, sizeof(tok)) < 0)
			puts("ERROR");
		else
			puts(tok);
		explicit_bzero(line, sizeof(line));
	}
	if (fflush(stdout) != 0)
		return (1);
	return (0);
bad:
	fprintf(stderr, "sigv4_token: line %ld: malformed case\n", lineno);
	return (2);
}
