/*
 * libFuzzer harness: stunnel's format (conf_ini) from memory.  Whatever
 * the input, a refusal is one printable sentence, and an accepted file
 * becomes text that libconfig always parses: a syntax error in generated
 * text is a bug (abort), as is a map entry past the input's last line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "conf_ini.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
count_lines(const char *p, size_t n)
{
	size_t i;
	int lines = 1;

	for (i = 0; i < n; i++)
		if (p[i] == '\n')
			lines++;
	return (lines);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *t, *src;
	char why[512], small[64];
	struct ini *ini, *again;
	int lines = count_lines(text, size), gen, line, i, ok;
	size_t len, k;
	config_t c;

	(void)ini_detect(text, size);
	(void)ini_resembles(text, size);
	if ((ini = ini_translate("fuzz.ini", text, size, 0, why,
	    sizeof(why))) == NULL) {
		check_why(why, sizeof(why));
		CHECK(why[0] != '\0');
		memset(small, 'x', sizeof(small));
		again = ini_translate("fuzz.ini", text, size, 0, small, 16);
		CHECK(again == NULL);
		check_truncated(small, 16, sizeof(small), why, 1);
		return (0);
	}
	t = ini_text(ini, &len);
	CHECK(strlen(t) == len);
	CHECK(len > 0 && t[len - 1] == '\n');
	gen = count_lines(t, len) - 1;
	for (i = 1; i <= gen; i++) {
		line = -1;
		if ((src = ini_source(ini, i, &line)) != NULL)
			CHECK(strcmp(src, "fuzz.ini") == 0 && line >= 1 &&
			    line <= lines);
		else
			CHECK(line == -1);
	}
	CHECK(ini_source(ini, gen + 1, &line) == NULL);
	CHECK(ini_source(ini, 0, &line) == NULL);
	for (k = 0; k < ini_nnotices(ini); k++) {
		const char *n = ini_notice(ini, k);

		CHECK(n != NULL && n[0] != '\0');
		check_why(n, strlen(n) + 1);
	}
	CHECK(ini_notice(ini, ini_nnotices(ini)) == NULL);
	config_init(&c);
	ok = config_read_string(&c, t);
	if (!ok) {
		line = -1;
		src = ini_source(ini, config_error_line(&c), &line);
		fprintf(stderr, "libconfig: line %d (%s:%d): %s\n%s",
		    config_error_line(&c), src ? src : "-", line,
		    config_error_text(&c), t);
		CHECK(src == NULL || line <= lines);
		abort();
	}
	config_destroy(&c);
	ini_free(ini);
	return (0);
}
