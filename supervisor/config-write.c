/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Writing settings so that config-read.c reads them back the same, for
 * drover -n (and the start line, which shows the command as -n does).
 * inih's rules decide: a line holds at most INI_MAX_LINE - 1 characters;
 * a line that starts with a blank continues the value above, joined with
 * one blank; ';' after a blank starts a comment on a key's line, even in
 * quotes (not on a continuation line); blanks around a value are
 * stripped.  A command is written word by word for config_words(): in
 * single quotes where a word needs quoting, and where that would make a
 * line too long, as short as the word can be written.
 */

#include "config.h"

#include <sys/param.h>
#include <sys/types.h>

#include <ctype.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover-master.h"

static int	 config_break(const char *, size_t);
static size_t	 config_fit(const char *, size_t);
static int	 config_word_cost(int, char, char);
static void	 config_word_plain(FILE *, const char *);
static void	 config_word_short(FILE *, const char *);
static char	*config_words_text(char *const *, int);

/*
 * Whether a long value may be continued on the next line before value[i]
 * (a blank): the reader joins a continuation with one blank and inih
 * strips blanks around it, so the blank must be single; and the next
 * line must not read as a comment (';', '#') or a section ('[').
 */
static int
config_break(const char *value, size_t i)
{
	return i > 0 && value[i] == ' ' &&
	    !isspace((unsigned char)value[i - 1]) && value[i + 1] != '\0' &&
	    !isspace((unsigned char)value[i + 1]) &&
	    strchr(";#[", value[i + 1]) == NULL;
}

/*
 * How much of value goes on a line with room for room characters: all
 * of it if it fits, else up to the last place to break that fits, else
 * up to the first one (a line too long, but the shortest), else all.
 */
static size_t
config_fit(const char *value, size_t room)
{
	size_t	 len = strlen(value), i, last = 0;

	if (len <= room)
		return len;
	for (i = 1; i < len; i++) {
		if (!config_break(value, i))
			continue;
		if (i > room) {
			if (last == 0)
				last = i;
			break;
		}
		last = i;
	}
	return last != 0 ? last : len;
}

/*
 * Write key = value so that the reader reads back the same value: lines
 * of at most INI_MAX_LINE - 1 characters, a long value continued on
 * indented lines.  On the key's line, inih takes a blank followed by ';'
 * for a comment (on a continuation line, it does not): the line ends
 * before the first one.  A value whose first piece will not fit there
 * starts on the next line, after an empty one (the reader continues an
 * empty value without a blank), unless it starts with what cannot start
 * a continuation (';', '#', '['): then "key=value", where a ';' after
 * the '=' starts no comment.
 */
void
config_write_line(FILE *fp, const char *key, const char *value)
{
	size_t	 max = INI_MAX_LINE - 1, klen = strlen(key), n, semi, room;
	int	 lead = *value != '\0' && strchr(";#[", *value) != NULL;

	for (semi = 0; value[semi] != '\0'; semi++)
		if (isspace((unsigned char)value[semi]) &&
		    value[semi + 1] == ';')
			break;
	room = MIN(semi, max - klen - (lead ? 1 : 3));
	n = config_fit(value, room);
	if (n <= room || lead) {
		fprintf(fp, "%s%s%.*s\n", key, lead ? "=" : " = ", (int)n,
		    value);
		value += n;
		if (*value != '\0')
			value++;	/* the blank the reader puts back */
	} else
		fprintf(fp, "%s =\n", key);
	while (*value != '\0') {
		n = config_fit(value, max - 1);
		fprintf(fp, "\t%.*s\n", (int)n, value);
		value += n;
		if (*value != '\0')
			value++;
	}
}

/*
 * The cost of writing c, the word's character after prev (0 at its
 * start), in mode m of config_word_short(): 0 bare, 1 in '...', 2 in
 * "..."; CW_NEVER where it cannot be.  A blank other than ' ' and '\t'
 * is never bare (inih strips it at the end of a line), and a ';' after
 * a blank would start a comment (in quotes too): it goes bare, as \;.
 */
#define CW_NEVER	0x7fffffff
static int
config_word_cost(int m, char c, char prev)
{
	/* A blank bare counts one more: in quotes, a value may break there. */
	if (m == 0)
		return c == ' ' ? 3 : isspace((unsigned char)c) && c != '\t' ?
		    CW_NEVER : strchr("\t'\"\\;", c) != NULL ? 2 : 1;
	if (c == ';' && prev != 0 && isspace((unsigned char)prev))
		return CW_NEVER;
	if (m == 1)
		return c == '\'' ? CW_NEVER : 1;
	return strchr("\"\\$`", c) != NULL ? 2 : 1;
}

/*
 * Write a command word so that config_words() reads it back, as short as
 * it can be written (a long word must fit a line of the file as it did
 * when it was read): each character bare, in single or in double
 * quotes, the cheapest mix found by dynamic programming over the three.
 */
static void
config_word_short(FILE *fp, const char *w)
{
	size_t		 len = strlen(w), i;
	long long	*cost, c;
	int		*from, m, p, best, e;
	char		*mode;

	if (len == 0) {
		fputs("''", fp);
		return;
	}
	/*
	 * cost[3i+m]: w[0..i) written, ending in mode m, as the characters
	 * it takes (high half), then the bare ones (low half: of two ways
	 * as long, the one with quotes); from: the mode before.
	 */
	cost = xcalloc(3 * (len + 1), sizeof(*cost));
	from = xcalloc(3 * (len + 1), sizeof(*from));
	cost[1] = cost[2] = 1LL << 32;		/* the opening quote */
	for (i = 0; i < len; i++)
		for (m = 0; m < 3; m++) {
			cost[3 * (i + 1) + m] = LLONG_MAX;
			e = config_word_cost(m, w[i], i > 0 ? w[i - 1] : 0);
			/* A blank at the very end: inih strips it, \ or not. */
			if (m == 0 && i + 1 == len &&
			    isspace((unsigned char)w[i]))
				e = CW_NEVER;
			for (p = 0; p < 3 && e != CW_NEVER; p++) {
				if ((c = cost[3 * i + p]) == LLONG_MAX)
					continue;
				c += ((long long)(e + (p != m) * ((p != 0) +
				    (m != 0))) << 32) + (m == 0);
				if (c < cost[3 * (i + 1) + m]) {
					cost[3 * (i + 1) + m] = c;
					from[3 * (i + 1) + m] = p;
				}
			}
		}
	/* One of the modes can always write the last character. */
	for (best = -1, m = 0; m < 3; m++) {
		if ((c = cost[3 * len + m]) == LLONG_MAX)
			continue;
		c += (long long)(m != 0) << 32;		/* the closing quote */
		if (best == -1 || c < cost[3 * len + best] +
		    ((long long)(best != 0) << 32))
			best = m;
	}
	mode = xmalloc(len);
	for (i = len, m = best; i > 0; m = from[3 * i + m], i--)
		mode[i - 1] = (char)m;
	for (i = 0, p = 0; i < len; p = mode[i++]) {
		if (mode[i] != p && p != 0)
			fputc(p == 1 ? '\'' : '"', fp);
		if (mode[i] != p && mode[i] != 0)
			fputc(mode[i] == 1 ? '\'' : '"', fp);
		if (mode[i] != 1 && config_word_cost(mode[i], w[i], 0) >= 2)
			fputc('\\', fp);
		fputc(w[i], fp);
	}
	if (p != 0)
		fputc(p == 1 ? '\'' : '"', fp);
	free(mode);
	free(cost);
	free(from);
}

/*
 * Write a command word the plain way: bare when it holds nothing
 * special, else in single quotes, a quote as '\'' and a ';' after a
 * blank as '\;' (outside the quotes, where it starts no comment).
 */
static void
config_word_plain(FILE *fp, const char *w)
{
	const char	*p;

	if (*w != '\0' && strcspn(w, " \t\n\v\f\r'\"\\;#") == strlen(w)) {
		fputs(w, fp);
		return;
	}
	fputc('\'', fp);
	for (p = w; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", fp);
		else if (*p == ';' && p > w && isspace((unsigned char)p[-1]))
			fputs("'\\;'", fp);
		else
			fputc(*p, fp);
	}
	fputc('\'', fp);
}

/* The words of argv as one value, each written plain or short. */
static char *
config_words_text(char *const *argv, int shortest)
{
	char	*text = NULL;
	size_t	 i, len;
	FILE	*fp;

	if ((fp = open_memstream(&text, &len)) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	for (i = 0; argv[i] != NULL; i++) {
		if (i > 0)
			fputc(' ', fp);
		if (shortest)
			config_word_short(fp, argv[i]);
		else
			config_word_plain(fp, argv[i]);
	}
	if (fclose(fp) == EOF)
		fatal(EXIT_OSERR, "%s", __func__);
	return text;
}

/* Whether config_write_line() writes key = value in lines that read. */
int
config_fits(const char *key, const char *value)
{
	char	*text = NULL, *p, *nl;
	size_t	 len;
	FILE	*fp;
	int	 fits = 1;

	if ((fp = open_memstream(&text, &len)) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	config_write_line(fp, key, value);
	if (fclose(fp) == EOF)
		fatal(EXIT_OSERR, "%s", __func__);
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		if ((size_t)(nl - p) > INI_MAX_LINE - 1)
			fits = 0;
	free(text);
	return fits;
}

/*
 * The command argv as the value of key, for config_words() to read
 * back: plain quoting, unless a line would then be too long.  The
 * result is the caller's to free.
 */
char *
config_command_text(const char *key, char *const *argv)
{
	char	*text;

	text = config_words_text(argv, 0);
	if (config_fits(key, text))
		return text;
	free(text);
	return config_words_text(argv, 1);
}
