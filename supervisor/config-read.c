/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Reading the configuration from its sources: the defaults, then the
 * file, then the command-line options, then the command after --, the
 * same way at start, at every reload and when an upgrade checks the file
 * (config_read()).  The file is read through our own line reader, which
 * counts lines for "file:line" errors, refuses lines longer than inih's
 * buffer (inih would cut them silently and parse the tail as a new line)
 * and marks indented lines, which inih hands over as continuations of
 * the previous value.  Entries are collected first and applied after the
 * whole file parsed, so that a continued value is checked whole.  Every
 * key, from the file or an option, is set through config_set().
 */

#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover-master.h"

/* One key = value of the file, with its line, continuations joined. */
struct entry {
	char	*e_key;
	char	*e_value;
	int	 e_line;
};

/* What the reader and the handler share while one file is parsed. */
struct parse {
	FILE		*p_fp;
	int		 p_line;	/* the line just read */
	int		 p_cont;	/* it starts with a blank */
	int		 p_toolong;	/* first over-long line, or 0 */
	size_t		 p_toolen;
	int		 p_badsect;	/* first line in a foreign section */
	int		 p_badindent;	/* first indented line that continues
					   nothing */
	int		 p_newsect;	/* a section began after the last key */
	char		*p_sect;
	struct entry	*p_ent;
	size_t		 p_nent;
	char		*p_buf;
	size_t		 p_bufsz;
};

static char	*config_reader(char *, int, void *);
static int	 config_handler(void *, const char *, const char *,
		    const char *);
static void	 config_section(struct parse *);
static void	 config_comment(char *);
static int	 config_load(struct config *, const char *);

/* Where the configuration comes from: what main() was given. */
static const char	 *config_file;
static const char	**config_cli;
static size_t		  config_ncli;
static char		**config_cmd;

/*
 * The line reader handed to inih.  It reads whole lines, however long,
 * and copies at most num - 1 characters for inih: a longer line is
 * recorded as an error instead of being cut.  It also records whether the
 * line is indented, which is how inih recognises a continuation.
 */
static char *
config_reader(char *str, int num, void *arg)
{
	struct parse	*p = arg;
	char		*text;
	ssize_t		 len;

	if ((len = getline(&p->p_buf, &p->p_bufsz, p->p_fp)) == -1)
		return NULL;
	p->p_line++;
	if (len > 0 && p->p_buf[len - 1] == '\n')
		p->p_buf[--len] = '\0';
	if (len > 0 && p->p_buf[len - 1] == '\r')
		p->p_buf[--len] = '\0';
	if (len > num - 1) {
		if (p->p_toolong == 0) {
			p->p_toolong = p->p_line;
			p->p_toolen = (size_t)len;
		}
		str[0] = '\0';
		p->p_cont = 0;
		return str;
	}
	/* Blank as inih sees it (isspace(3)): \v and \f too. */
	for (text = p->p_buf; isspace((unsigned char)*text); text++)
		continue;
	p->p_cont = text > p->p_buf;
	if (*text == '[')
		config_section(p);
	if (p->p_cont)
		config_comment(text);
	memcpy(str, p->p_buf, strlen(p->p_buf) + 1);
	return str;
}

/*
 * End a continuation line at its comment, a ';' after a blank, as inih
 * ends the line of a key (it keeps the comment of a continuation line,
 * which drover.conf(5) says is one).
 */
static void
config_comment(char *text)
{
	for (; *text != '\0'; text++)
		if (isspace((unsigned char)*text) && text[1] == ';') {
			*text = '\0';
			return;
		}
}

/*
 * A section header: only [drover] is known.  Checked here, on the header
 * line itself, so that an unknown section is an error even with no key.
 */
static void
config_section(struct parse *p)
{
	const char	*name = p->p_buf;
	size_t		 len;

	while (isspace((unsigned char)*name))
		name++;
	name++;		/* the '[' */
	len = strcspn(name, "]");

	p->p_newsect = 1;
	if (name[len] != ']' || p->p_badsect != 0)
		return;		/* inih reports the syntax error */
	if (len == 6 && strncmp(name, "drover", 6) == 0)
		return;
	p->p_badsect = p->p_line;
	p->p_sect = xstrndup(name, len);
}

/*
 * Called by inih for each key, and for each continuation line with the
 * key of the line it continues.
 */
static int
config_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct parse	*p = arg;
	struct entry	*ent;
	char		*v;

	if (*section != '\0' && strcmp(section, "drover") != 0)
		return 1;	/* config_section() recorded it */
	if (p->p_cont && (p->p_nent == 0 || p->p_newsect)) {
		/* inih takes this as a key; we refuse the ambiguity. */
		if (p->p_badindent == 0)
			p->p_badindent = p->p_line;
		return 1;
	}
	if (p->p_cont) {
		ent = &p->p_ent[p->p_nent - 1];
		/* Continuing an empty value adds no blank before it. */
		(void)xasprintf(&v, "%s%s%s", ent->e_value,
		    *ent->e_value != '\0' ? " " : "", value);
		free(ent->e_value);
		ent->e_value = v;
		return 1;
	}
	p->p_ent = xreallocarray(p->p_ent, p->p_nent + 1, sizeof(*ent));
	ent = &p->p_ent[p->p_nent++];
	ent->e_key = xstrdup(name);
	ent->e_value = xstrdup(value);
	ent->e_line = p->p_line;
	p->p_newsect = 0;
	return 1;
}

/*
 * Read a configuration file into c.  On error, log "file:line: message"
 * and return -1; c may then hold part of the file and must be discarded.
 */
static int
config_load(struct config *c, const char *file)
{
	struct parse	 p;
	const char	*e;
	size_t		 i;
	int		 rv = -1, line;

	memset(&p, 0, sizeof(p));
	free(c->c_file);
	c->c_file = xstrdup(file);
	if ((p.p_fp = fopen(file, "r")) == NULL) {
		log_warn("%s", file);
		return -1;
	}
	line = ini_parse_stream(config_reader, &p, config_handler, &p);
	if (ferror(p.p_fp)) {
		log_warn("%s", file);
		goto done;
	}
	if (p.p_toolong != 0 && (line == 0 || p.p_toolong <= line)) {
		log_warnx("%s:%d: line too long (%zu characters, at most %d);"
		    " continue a long value on an indented next line", file,
		    p.p_toolong, p.p_toolen, INI_MAX_LINE - 1);
		goto done;
	}
	if (line > 0) {
		log_warnx("%s:%d: syntax error (expected key = value or "
		    "[section])", file, line);
		goto done;
	}
	if (p.p_badindent != 0) {
		log_warnx("%s:%d: indented line continues no value (a key "
		    "starts at the beginning of its line)", file,
		    p.p_badindent);
		goto done;
	}
	if (p.p_badsect != 0) {
		log_warnx("%s:%d: unknown section [%s] (keys go before any "
		    "section or in [drover])", file, p.p_badsect, p.p_sect);
		goto done;
	}
	for (i = 0; i < p.p_nent; i++) {
		if (config_set(c, p.p_ent[i].e_key, p.p_ent[i].e_value,
		    &e) == -1) {
			log_warnx("%s:%d: %s", file, p.p_ent[i].e_line, e);
			goto done;
		}
		config_set_line(c, p.p_ent[i].e_key, p.p_ent[i].e_line);
	}
	rv = 0;
 done:
	for (i = 0; i < p.p_nent; i++) {
		free(p.p_ent[i].e_key);
		free(p.p_ent[i].e_value);
	}
	free(p.p_ent);
	free(p.p_sect);
	free(p.p_buf);
	fclose(p.p_fp);
	return rv;
}

/*
 * Remember the configuration file, the command-line key/value pairs and
 * the command after --, for config_read().
 */
void
config_init_sources(const char *file, const char **cli, size_t ncli,
    char **cmd)
{
	config_file = file;
	config_cli = cli;
	config_ncli = ncli;
	config_cmd = cmd;
}

/*
 * Build a configuration from the defaults, the file and the command
 * line, as at start.  Returns NULL after logging, with the exit status
 * that fits in *code: EXIT_USAGE for a bad option, EXIT_CONFIG else.
 */
struct config *
config_read(int *code)
{
	struct config	*c = config_new();
	const char	*e;
	size_t		 i;
	int		 clilisten = 0;

	*code = EXIT_CONFIG;
	if (config_file != NULL && config_load(c, config_file) == -1)
		goto fail;
	for (i = 0; i < config_ncli; i += 2) {
		if (strcmp(config_cli[i], "listen") == 0 && !clilisten++)
			config_reset_listen(c);
		if (config_set(c, config_cli[i], config_cli[i + 1], &e) ==
		    -1) {
			log_warnx("%s", e);
			*code = EXIT_USAGE;
			goto fail;
		}
		config_set_line(c, config_cli[i], 0);
	}
	if (config_cmd != NULL)
		config_set_argv(c, config_cmd);
	if (config_finish(c, &e) == -1) {
		if (c->c_file != NULL)
			log_warnx("%s: %s", c->c_file, e);
		else
			log_warnx("%s", e);
		goto fail;
	}
	return c;
 fail:
	config_free(c);
	return NULL;
}
