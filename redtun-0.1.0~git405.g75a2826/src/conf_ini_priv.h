#ifndef REDTUN_CONF_INI_PRIV_H
#define REDTUN_CONF_INI_PRIV_H

/*
 * Shared by conf_ini.c (reading stunnel's lines, writing the libconfig
 * text and its map) and conf_ini_opts.c (the option table: what each
 * stunnel option becomes); not for other modules.
 */
#include <stddef.h>

#include "conf_ini.h"

/* One stunnel line that is not blank. */
struct ini_rec {
	enum { REC_COMMENT, REC_SECTION, REC_OPTION } kind;
	int file;		/* index into ini->files */
	int line;
	size_t sect;		/* 0: the global section */
	char *text;		/* the trimmed line (no NUL inside) */
	char *name, *value;	/* REC_OPTION: both sides of '=', trimmed */
};

/* What a section (or the global section) writes, read ahead of it. */
struct ini_state {
	int client;		/* -1: not written, else 0/1 (the last one) */
	int verify;		/* -1, or 0..4 */
	int chain;		/* verifyChain: -1, 0, 1 */
	int peer;		/* verifyPeer: -1, 0, 1 */
	int vlast;		/* which of them came last: 'v', 'c' or 0 */
	int version;		/* sslVersion or sslVersionMin written */
	int key;		/* key written */
	const char *check;	/* the first checkHost/checkIP */
	int checkip;
	const char *connect;	/* the first connect */
	const char *cafile, *capath;
};

struct ini_sect {
	char *name;		/* NULL for the global section */
	size_t rec;		/* its "[name]" record */
	struct ini_state st;
};

/* One generated setting or comment of a section, before it is written. */
struct ini_out {
	const struct ini_rec *r;
	const char *name;	/* canonical setting name; NULL: a comment */
	char *val;		/* libconfig value text */
	char *why;		/* a comment's "(redtun: WHY)", or NULL */
	int dead;		/* overridden by a later one */
};

struct ini {
	char **files;
	size_t nfiles, filescap;
	struct ini_rec *recs;
	size_t nrecs, recscap;
	struct ini_sect *sects;
	size_t nsects, sectscap;
	char *text;
	size_t len, cap;
	struct ini_map {
		int file, line;
	} *map;
	size_t nmap, mapcap;
	char **notices;
	size_t nnotices, noticescap;
	size_t nincluded;	/* files read by include so far */
	char *why;
	size_t whylen;
	int oom;
};

/* Translating one section: the option handlers' view. */
struct ini_tx {
	struct ini *ini;
	size_t sect;
	const struct ini_state *st, *gst;	/* this section's, global's */
	const struct ini_rec *r;		/* the line being translated */
	struct ini_out *outs;
	size_t nouts, outscap;
	int nchecks;				/* checkHost/checkIP seen */
	const struct ini_tx *g;			/* the global section's */
};

/* Option table (conf_ini_opts.c). */

/* ini_opt_include(name): whether ${name} is "include" (any case). */
int ini_opt_include(const char *name);

/*
 * ini_opt_translate(tx): translate ${tx->r} (a REC_OPTION) into outputs
 * (ini_out_set, ini_out_comment) and notices; on an option redtun cannot
 * honour, write the error (ini_err) and return -1.
 */
int ini_opt_translate(struct ini_tx *tx);

/*
 * ini_h_options, ini_h_socket, ini_h_ciphers, ini_h_debug(tx): translate
 * ${tx->r}, an option with a vocabulary of its own (conf_ini_words.c);
 * like ini_opt_translate.
 */
int ini_h_options(struct ini_tx *tx);
int ini_h_socket(struct ini_tx *tx);
int ini_h_ciphers(struct ini_tx *tx);
int ini_h_debug(struct ini_tx *tx);

/* Read-ahead and security notices (conf_ini_secure.c). */

/* ini_parse_bool(v): stunnel's yes/no (or true/false, any case): 1, 0, -1. */
int ini_parse_bool(const char *v);

/* ini_state_note(st, r): what ${r} tells about its section. */
void ini_state_note(struct ini_state *st, const struct ini_rec *r);

/*
 * ini_state_verifies(st, level): verification as ${st} writes it: -1 not
 * written, 1 when verifyChain (or verify >= ${level}) came last, else 0.
 */
int ini_state_verifies(const struct ini_state *st, int level);

/* ini_opt_security(ini): the per-service "[NAME] ..." notices. */
int ini_opt_security(struct ini *ini);

/* Writing the text (conf_ini_emit.c). */

/* ini_emit(ini, path): the whole libconfig text and its map; -1 on error. */
int ini_emit(struct ini *ini, const char *path);

/* Helpers (conf_ini.c). */

/*
 * ini_grow(pp, cap, need, size): make the array *${pp} (a T **, of
 * ${size}-byte elements, *${cap} of them) hold ${need}.  Returns 0, or -1
 * with the array unchanged when out of memory.
 */
int ini_grow(void *pp, size_t *cap, size_t need, size_t size);

/* ini_oom(ini): "out of memory" into ini->why; -1. */
int ini_oom(struct ini *ini);

/* ini_err(ini, r, fmt, ...): "FILE:LINE: " + text into ini->why; -1. */
int ini_err(struct ini *ini, const struct ini_rec *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ini_notice_add(ini, r, fmt, ...): a notice ("FILE:LINE: " + text
 * when ${r}); -1 when out of memory. */
int ini_notice_add(struct ini *ini, const struct ini_rec *r,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * ini_out_set(tx, name, val): the setting ${name} = ${val} (libconfig
 * text, owned by the callee from now on, even on failure).
 * ini_out_comment(tx, why): the line as a comment, "(redtun: WHY)".
 * ini_out_note(tx, what, why): a comment and a notice "WHAT: WHY".
 */
int ini_out_set(struct ini_tx *tx, const char *name, char *val);
int ini_out_comment(struct ini_tx *tx, const char *why);
int ini_out_note(struct ini_tx *tx, const char *what, const char *why);

/* ini_quote(s): "s" as a libconfig string (malloc'd), NULL: no memory. */
char *ini_quote(const char *s);

/* ini_escape(out, outlen, s, max): ${s} with \xNN for non-printable
 * bytes, cut after ${max} input bytes with "..." */
void ini_escape(char *out, size_t outlen, const char *s, size_t max);

#endif
