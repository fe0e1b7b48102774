#ifndef REDTUN_CONF_INI_H
#define REDTUN_CONF_INI_H

/*
 * stunnel's own configuration format ("key = value" lines, [sections],
 * ';' and '#' comments), translated into the libconfig text redtun reads.
 * One translation serves both loading and "redtun --convert": the text
 * carries each stunnel line as a comment beside its translation, and a
 * map takes every generated line back to the stunnel file and line, so
 * that conf.c's errors name the file the user wrote.
 */
#include <stddef.h>

struct ini;

/**
 * ini_detect(text, len):
 * Whether ${text} (${len} bytes) is a stunnel file rather than a libconfig
 * one, from its content alone: a "[name]" section line or a ';' comment
 * makes it stunnel, and so do "key = value" lines with unquoted values
 * when nothing is libconfig's own ('{', @include, a quoted value, a value
 * ending in ';').  Returns 1 for stunnel, 0 for libconfig.
 */
int ini_detect(const char *text, size_t len);

/**
 * ini_resembles(text, len):
 * Whether ${text} has any stunnel trait at all (a section line, a ';'
 * comment, an unquoted "key = value" line), for the hint after a libconfig
 * syntax error.  Returns 1 or 0.
 */
int ini_resembles(const char *text, size_t len);

/**
 * ini_translate(path, text, len, includes, why, whylen):
 * Read the stunnel configuration ${text} (${len} bytes, not necessarily
 * NUL-terminated) that came from ${path}, with stunnel's rules (global
 * options before the first section, case-insensitive option names,
 * include = DIR when ${includes} is non-zero, else include is an error).
 * Returns a new translation, or NULL with "FILE:LINE: OPTION: PROBLEM" in
 * ${why} for an option redtun cannot honour or a malformed line.  Values
 * are not checked beyond their form: conf.c checks the translation.
 */
struct ini *ini_translate(const char *path, const char *text, size_t len,
    int includes, char *why, size_t whylen);

/**
 * ini_text(ini, len):
 * The libconfig text (NUL-terminated, ${len} bytes without the NUL), owned
 * by ${ini}; it starts with a comment naming ${path}.
 */
const char *ini_text(const struct ini *ini, size_t *len);

/**
 * ini_source(ini, genline, line):
 * The stunnel file that line ${genline} (1-based) of ini_text came from,
 * with its line in ${line}; NULL (and ${line} untouched) for a generated
 * line with no source.  The string lives as long as ${ini}.
 */
const char *ini_source(const struct ini *ini, int genline, int *line);

/**
 * ini_nnotices(ini), ini_notice(ini, i):
 * The notices of the translation, each one line of printable text: first
 * "FILE:LINE: OPTION: why it has no effect here" for each option accepted
 * without meaning, in file order; then one "[SERVICE] ..." line per
 * service that redtun runs more securely than stunnel would.
 */
size_t ini_nnotices(const struct ini *ini);
const char *ini_notice(const struct ini *ini, size_t i);

/* ini_free(ini): wipe the text (it may hold a password) and free; NULL-safe. */
void ini_free(struct ini *ini);

#endif
