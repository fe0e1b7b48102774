/*
 * The libconfig text of a stunnel translation: each section's outputs
 * (a repeated option's earlier values become comments, as stunnel keeps
 * the last; connect values gather into one list), every line with the
 * stunnel file and line it came from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_ini_priv.h"

void
ini_escape(char *out, size_t outlen, const char *s, size_t max)
{
	size_t o = 0, i;

	if (outlen == 0)
		return;
	for (i = 0; s[i] != '\0' && o + 8 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == max) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

char *
ini_quote(const char *s)
{
	size_t n = strlen(s), i, o = 0;
	char *q;

	if ((q = malloc(n * 4 + 3)) == NULL)
		return (NULL);
	q[o++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			q[o++] = '\\';
			q[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(q + o, 5, "\\x%02x", c);
			o += 4;
		} else
			q[o++] = (char)c;
	}
	q[o++] = '"';
	q[o] = '\0';
	return (q);
}

/* ---- the generated text --------------------------------------------------- */

static int
put(struct ini *ini, const char *s, size_t n)
{
	size_t cap = ini->cap;
	char *t = NULL;

	/* Not realloc: the old buffer may hold a password; wipe it. */
	if (ini->len + n + 1 > ini->cap) {
		if (ini_grow(&t, &cap, ini->len + n + 1, 1) != 0)
			return (ini_oom(ini));
		if (ini->text != NULL) {
			memcpy(t, ini->text, ini->len);
			explicit_bzero(ini->text, ini->cap);
			free(ini->text);
		}
		ini->text = t;
		ini->cap = cap;
	}
	memcpy(ini->text + ini->len, s, n);
	ini->len += n;
	ini->text[ini->len] = '\0';
	return (0);
}

static int
puts_(struct ini *ini, const char *s)
{
	return (put(ini, s, strlen(s)));
}

/* ${s} with bytes < 0x20 or >= 0x7f as \xNN: for '#' comments. */
static int
put_escaped(struct ini *ini, const char *s)
{
	char hex[8];
	size_t i, start = 0;

	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			continue;
		snprintf(hex, sizeof(hex), "\\x%02x", c);
		if (put(ini, s + start, i - start) || puts_(ini, hex))
			return (-1);
		start = i + 1;
	}
	return (put(ini, s + start, i - start));
}

/* End the current generated line, mapped to ${r} (NULL: no source). */
static int
endline(struct ini *ini, const struct ini_rec *r)
{
	if (puts_(ini, "\n"))
		return (-1);
	if (ini_grow(&ini->map, &ini->mapcap, ini->nmap + 1,
	    sizeof(*ini->map)) != 0)
		return (ini_oom(ini));
	ini->map[ini->nmap].file = r ? r->file : -1;
	ini->map[ini->nmap].line = r ? r->line : 0;
	ini->nmap++;
	return (0);
}

/* "  # TEXT" after a setting, or "# TEXT  (redtun: WHY)" on its own. */
static int
put_source(struct ini *ini, const struct ini_rec *r)
{
	return (puts_(ini, "  # ") || put_escaped(ini, r->text));
}

static int
put_comment(struct ini *ini, const char *indent, const struct ini_rec *r,
    const char *why)
{
	if (puts_(ini, indent) || puts_(ini, "# ") ||
	    put_escaped(ini, r->text))
		return (-1);
	if (why != NULL && (puts_(ini, "  (redtun: ") ||
	    put_escaped(ini, why) || puts_(ini, ")")))
		return (-1);
	return (endline(ini, r));
}

/* ---- one section's outputs ---------------------------------------------- */

static int
out_add(struct ini_tx *tx, const char *name, char *val, char *why)
{
	struct ini_out *o;

	if (ini_grow(&tx->outs, &tx->outscap, tx->nouts + 1,
	    sizeof(*tx->outs)) != 0) {
		free(val);
		free(why);
		return (ini_oom(tx->ini));
	}
	o = &tx->outs[tx->nouts++];
	o->r = tx->r;
	o->name = name;
	o->val = val;
	o->why = why;
	o->dead = 0;
	return (0);
}

int
ini_out_set(struct ini_tx *tx, const char *name, char *val)
{
	if (val == NULL)
		return (ini_oom(tx->ini));
	return (out_add(tx, name, val, NULL));
}

int
ini_out_comment(struct ini_tx *tx, const char *why)
{
	char *w = NULL;

	if (why != NULL && (w = strdup(why)) == NULL)
		return (ini_oom(tx->ini));
	return (out_add(tx, NULL, NULL, w));
}

int
ini_out_note(struct ini_tx *tx, const char *what, const char *why)
{
	if (ini_out_comment(tx, why))
		return (-1);
	return (ini_notice_add(tx->ini, tx->r, "%s: %s", what, why));
}

static void
outs_free(struct ini_tx *tx)
{
	size_t i;

	for (i = 0; i < tx->nouts; i++) {
		if (tx->outs[i].val != NULL) {
			explicit_bzero(tx->outs[i].val,
			    strlen(tx->outs[i].val));
			free(tx->outs[i].val);
		}
		free(tx->outs[i].why);
	}
	free(tx->outs);
	tx->outs = NULL;
	tx->nouts = tx->outscap = 0;
}

/*
 * stunnel keeps the last of a repeated option (connect gathers them all);
 * libconfig refuses a repeated name, so the earlier ones become comments.
 */
static int
outs_override(struct ini_tx *tx)
{
	const char *seen[128];
	const struct ini_rec *by[128];
	size_t nseen = 0, i, j;
	char why[300], file[256];

	for (i = tx->nouts; i-- > 0;) {
		struct ini_out *o = &tx->outs[i];

		if (o->name == NULL || strcmp(o->name, "connect") == 0)
			continue;
		for (j = 0; j < nseen; j++)
			if (strcmp(seen[j], o->name) == 0)
				break;
		if (j == nseen) {
			if (nseen < sizeof(seen) / sizeof(seen[0])) {
				seen[nseen] = o->name;
				by[nseen++] = o->r;
			}
			continue;
		}
		if (by[j]->file == o->r->file)
			snprintf(why, sizeof(why), "%s: overridden by line %d",
			    o->name, by[j]->line);
		else {
			ini_escape(file, sizeof(file),
			    tx->ini->files[by[j]->file], 200);
			snprintf(why, sizeof(why), "%s: overridden by %s:%d",
			    o->name, file, by[j]->line);
		}
		free(o->why);
		if ((o->why = strdup(why)) == NULL)
			return (ini_oom(tx->ini));
		o->dead = 1;
	}
	return (0);
}

static int
is_connect(const struct ini_out *o)
{

	return (o->name != NULL && !o->dead && strcmp(o->name, "connect") == 0);
}

/*
 * All of a section's connect values as one list, at the first one; as in
 * stunnel, a section's targets come after the global section's.
 */
static int
put_connects(struct ini *ini, struct ini_tx *tx, size_t first,
    const char *indent)
{
	const struct ini_tx *g = tx->sect > 0 ? tx->g : NULL;
	const struct ini_out *o;
	size_t i, n = 0, k = 0, ng = g != NULL ? g->nouts : 0;

	for (i = 0; i < ng; i++)
		n += is_connect(&g->outs[i]);
	for (i = first; i < tx->nouts; i++)
		n += is_connect(&tx->outs[i]);
	for (i = 0; i < ng + tx->nouts; i++) {
		o = i < ng ? &g->outs[i] : &tx->outs[i - ng];
		if ((i >= ng && i - ng < first) || !is_connect(o))
			continue;
		k++;
		if (puts_(ini, indent) ||
		    (k == 1 && puts_(ini, n == 1 ? "connect = " :
		    "connect = [ ")) || (k > 1 && puts_(ini, "  ")) ||
		    puts_(ini, o->val) ||
		    puts_(ini, n == 1 ? ";" : k < n ? "," : " ];") ||
		    put_source(ini, o->r) || endline(ini, o->r))
			return (-1);
	}
	return (0);
}

static int
put_outs(struct ini *ini, struct ini_tx *tx, const char *indent)
{
	int connects = 0, keydefault;
	size_t i;

	/* stunnel's key defaults to cert (an explicit global key is kept). */
	keydefault = !tx->st->key && (tx->sect == 0 || !tx->gst->key);
	for (i = 0; i < tx->nouts; i++) {
		struct ini_out *o = &tx->outs[i];

		if (o->name == NULL || o->dead) {
			if (put_comment(ini, indent, o->r, o->why))
				return (-1);
			continue;
		}
		if (strcmp(o->name, "connect") == 0) {
			if (!connects++ && put_connects(ini, tx, i, indent))
				return (-1);
			continue;
		}
		if (puts_(ini, indent) || puts_(ini, o->name) ||
		    puts_(ini, " = ") || puts_(ini, o->val) ||
		    puts_(ini, ";") || put_source(ini, o->r) ||
		    endline(ini, o->r))
			return (-1);
		if (keydefault && strcmp(o->name, "cert") == 0 &&
		    (puts_(ini, indent) || puts_(ini, "key = ") ||
		    puts_(ini, o->val) || puts_(ini, ";") ||
		    put_source(ini, o->r) || endline(ini, o->r)))
			return (-1);
	}
	return (0);
}

/*
 * Translate and write section ${s} (0: the global settings).  The global
 * section's translation is kept in ${g} (freed by the caller) for the
 * sections after it.
 */
static int
put_section(struct ini *ini, size_t s, size_t *next, struct ini_tx *g)
{
	struct ini_tx tx;
	struct ini_sect *sc = &ini->sects[s];
	const char *indent = s ? "    " : "";
	size_t i = *next;
	int rc = -1;

	memset(&tx, 0, sizeof(tx));
	tx.ini = ini;
	tx.sect = s;
	tx.st = &sc->st;
	tx.gst = &ini->sects[0].st;
	tx.g = g;
	if (s > 0) {
		tx.r = &ini->recs[sc->rec];
		if (puts_(ini, "  ") || puts_(ini, sc->name) ||
		    puts_(ini, " = {") || put_source(ini, tx.r) ||
		    endline(ini, tx.r))
			goto err;
		if (sc->st.client < 0 && tx.gst->client < 0 &&
		    (puts_(ini, indent) || puts_(ini, "client = false;  # "
		    "stunnel's default: server mode") || endline(ini, tx.r)))
			goto err;
	}
	/* A section's lines are contiguous: only "[name]" changes it. */
	for (; i < ini->nrecs && ini->recs[i].sect == s; i++) {
		tx.r = &ini->recs[i];
		if (tx.r->kind == REC_SECTION)
			continue;
		if (tx.r->kind == REC_COMMENT) {
			if (ini_out_comment(&tx, NULL))
				goto err;
		} else if (ini_opt_translate(&tx))
			goto err;
	}
	if (outs_override(&tx) || put_outs(ini, &tx, indent))
		goto err;
	if (s > 0 && (puts_(ini, "  };") || endline(ini, NULL)))
		goto err;
	*next = i;
	rc = 0;
	if (s == 0) {
		*g = tx;
		return (0);
	}
err:
	outs_free(&tx);
	return (rc);
}


int
ini_emit(struct ini *ini, const char *path)
{
	struct ini_tx g;
	size_t i, next = 0;
	int rc = -1;

	if (puts_(ini, "# redtun configuration converted from stunnel's ") ||
	    put_escaped(ini, path) || puts_(ini, " by redtun --convert") ||
	    endline(ini, NULL) ||
	    puts_(ini, "# (each setting is followed by the stunnel line it "
	    "came from)") || endline(ini, NULL))
		return (-1);
	memset(&g, 0, sizeof(g));
	if (put_section(ini, 0, &next, &g))
		return (-1);
	if (puts_(ini, "services = {") || endline(ini, NULL))
		goto err;
	for (i = 1; i < ini->nsects; i++)
		if (put_section(ini, i, &next, &g))
			goto err;
	if (puts_(ini, "};") || endline(ini, NULL))
		goto err;
	rc = 0;
err:
	outs_free(&g);
	return (rc);
}
