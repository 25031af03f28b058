/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The values of configuration keys, by kind (enum config_kind): how a
 * number, a duration, a boolean, one of an enum's words, a string, a
 * list or a command is read from the text of a file or an option, how it
 * is written back in the same syntax (for -n and an upgrade's handover,
 * which reads it again), and how it is freed.  Each kind is three small
 * functions, found through config_kinds[]; config.c says which key is of
 * which kind and where it is kept.  Also the syntaxes that belong to no
 * single key: durations, booleans and the words of a command.
 */

#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover-master.h"

static void	*config_member(struct config *, const struct config_key *);
static const void *
		 config_cmember(const struct config *,
		    const struct config_key *);
static int	 config_number(const struct config_key *, const char *,
		    long long *, const char **);
static int	 config_set_int(struct config *, const struct config_key *,
		    const char *, const char **);
static int	 config_set_duration(struct config *,
		    const struct config_key *, const char *, const char **);
static int	 config_set_bool(struct config *, const struct config_key *,
		    const char *, const char **);
static int	 config_set_enum(struct config *, const struct config_key *,
		    const char *, const char **);
static int	 config_set_string(struct config *, const struct config_key *,
		    const char *, const char **);
static int	 config_set_size(struct config *, const struct config_key *,
		    const char *, const char **);
static int	 config_set_list(struct config *, const struct config_key *,
		    const char *, const char **);
static int	 config_set_words(struct config *, const struct config_key *,
		    const char *, const char **);
static void	 config_show_int(const struct config *,
		    const struct config_key *,
		    void (*)(void *, const char *, const char *), void *);
static void	 config_show_duration(const struct config *,
		    const struct config_key *,
		    void (*)(void *, const char *, const char *), void *);
static void	 config_show_bool(const struct config *,
		    const struct config_key *,
		    void (*)(void *, const char *, const char *), void *);
static void	 config_show_enum(const struct config *,
		    const struct config_key *,
		    void (*)(void *, const char *, const char *), void *);
static void	 config_show_size(const struct config *,
		    const struct config_key *,
		    void (*)(void *, const char *, const char *), void *);
static void	 config_show_string(const struct config *,
		    const struct config_key *,
		    void (*)(void *, const char *, const char *), void *);
static void	 config_show_list(const struct config *,
		    const struct config_key *,
		    void (*)(void *, const char *, const char *), void *);
static void	 config_show_words(const struct config *,
		    const struct config_key *,
		    void (*)(void *, const char *, const char *), void *);
static void	 config_free_string(struct config *,
		    const struct config_key *);
static void	 config_free_vector(struct config *,
		    const struct config_key *);
static const char *
		 config_oneof(const char * const *);
static int	 config_bool(const char *, int *);
static int	 config_words(const char *, char ***, const char **);
static void	 config_fmt_duration(char *, size_t, double);
static void	 config_fmt_ms(char *, size_t, long long);

/* What each kind does: set from text, show as text, free (or NULL). */
static const struct {
	int	(*kd_set)(struct config *, const struct config_key *,
		    const char *, const char **);
	void	(*kd_show)(const struct config *, const struct config_key *,
		    void (*)(void *, const char *, const char *), void *);
	void	(*kd_free)(struct config *, const struct config_key *);
} config_kinds[] = {
	[CK_INT] =	{ config_set_int, config_show_int, NULL },
	[CK_DURATION] =	{ config_set_duration, config_show_duration, NULL },
	[CK_BOOL] =	{ config_set_bool, config_show_bool, NULL },
	[CK_ENUM] =	{ config_set_enum, config_show_enum, NULL },
	[CK_STRING] =	{ config_set_string, config_show_string,
			    config_free_string },
	[CK_LIST] =	{ config_set_list, config_show_list,
			    config_free_vector },
	[CK_WORDS] =	{ config_set_words, config_show_words,
			    config_free_vector },
	[CK_SIZE] =	{ config_set_size, config_show_size, NULL }
};

/* The units of a size, largest first: each 1024 times the next. */
static const char config_size_units[] = "TGMK";

static char	 config_whybuf[128];	/* config_oneof()'s message */

/*
 * Set key k of c from the text val, as its kind reads it.  Returns -1
 * with the reason in *errstr, c unchanged, if val is not such a value.
 */
int
config_value_set(struct config *c, const struct config_key *k,
    const char *val, const char **errstr)
{
	return config_kinds[k->k_kind].kd_set(c, k, val, errstr);
}

/*
 * Call fn(arg, name, value) for key k of c, once for each value it holds
 * (none for an optional key left unset, one per entry of a list), with
 * the value as config_value_set() reads it back.
 */
void
config_value_show(const struct config *c, const struct config_key *k,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	config_kinds[k->k_kind].kd_show(c, k, fn, arg);
}

/* Free what key k of c holds, if its kind allocates, and unset it. */
void
config_value_free(struct config *c, const struct config_key *k)
{
	if (config_kinds[k->k_kind].kd_free != NULL)
		config_kinds[k->k_kind].kd_free(c, k);
}

/* The member of c that holds key k. */
static void *
config_member(struct config *c, const struct config_key *k)
{
	return (char *)c + k->k_off;
}

static const void *
config_cmember(const struct config *c, const struct config_key *k)
{
	return (const char *)c + k->k_off;
}

/*
 * The setters, one per kind.  Each parses val for key k into its member
 * of c, or leaves c alone and returns -1 with the reason in *errstr
 * (without the key and the value, which config_set() adds).
 */

/* A number from k_min to k_max, or "auto" (0) with CF_AUTO, into *np. */
static int
config_number(const struct config_key *k, const char *val, long long *np,
    const char **errstr)
{
	if ((k->k_flags & CF_AUTO) && strcmp(val, "auto") == 0) {
		*np = 0;
		return 0;
	}
	*np = strtonum(val, k->k_min, k->k_max, errstr);
	if (*errstr == NULL)
		return 0;
	/* Out of range, or no number: say which numbers are. */
	(void)snprintf(config_whybuf, sizeof(config_whybuf),
	    "must be %sa number from %lld to %lld",
	    (k->k_flags & CF_AUTO) ? "auto or " : "", k->k_min, k->k_max);
	*errstr = config_whybuf;
	return -1;
}

static int
config_set_int(struct config *c, const struct config_key *k,
    const char *val, const char **errstr)
{
	int		*ip = config_member(c, k);
	long long	 n;

	if (config_number(k, val, &n, errstr) == -1)
		return -1;
	*ip = (int)n;
	return 0;
}

/* A duration (config_duration()) from k_min to k_max milliseconds. */
static int
config_set_duration(struct config *c, const struct config_key *k,
    const char *val, const char **errstr)
{
	double	*dp = config_member(c, k), d;
	char	 lo[32], hi[32];

	if (config_duration(val, &d) == -1) {
		*errstr = "not a duration (like 250ms, 10s, 2m)";
		return -1;
	}
	if (d * 1000 < (double)k->k_min || d * 1000 > (double)k->k_max) {
		config_fmt_ms(lo, sizeof(lo), k->k_min);
		config_fmt_ms(hi, sizeof(hi), k->k_max);
		(void)snprintf(config_whybuf, sizeof(config_whybuf),
		    "must be from %s to %s", lo, hi);
		*errstr = config_whybuf;
		return -1;
	}
	*dp = d;
	return 0;
}

/*
 * Milliseconds as a duration in the largest unit that writes them
 * whole: 1000 as "1s", 31536000000 as "8760h".
 */
static void
config_fmt_ms(char *buf, size_t len, long long ms)
{
	static const struct {
		const char	*u_name;
		long long	 u_ms;
	} units[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };
	size_t	 i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms != 0 && ms % units[i].u_ms == 0) {
			(void)snprintf(buf, len, "%lld%s", ms / units[i].u_ms,
			    units[i].u_name);
			return;
		}
	}
	(void)snprintf(buf, len, "%lld%s", ms, ms == 0 ? "s" : "ms");
}

static int
config_set_bool(struct config *c, const struct config_key *k,
    const char *val, const char **errstr)
{
	int	*bp = config_member(c, k);

	if (config_bool(val, bp) == -1) {
		*errstr = "must be yes or no";
		return -1;
	}
	return 0;
}

/* One of k_words, stored as its index: the enum's value. */
static int
config_set_enum(struct config *c, const struct config_key *k,
    const char *val, const char **errstr)
{
	int	*ip = config_member(c, k);
	int	 i;

	/* A signal may be named as kill(1) or as signal.h spells it. */
	if ((k->k_flags & CF_SIGNAL) && strncmp(val, "SIG", 3) == 0)
		val += 3;
	for (i = 0; k->k_words[i] != NULL; i++) {
		if (strcmp(val, k->k_words[i]) == 0) {
			*ip = i;
			return 0;
		}
	}
	*errstr = config_oneof(k->k_words);
	return -1;
}

/*
 * A size in bytes from k_min to k_max: a number, then K, M, G or T for
 * that many kibibytes, mebibytes, gibibytes or tebibytes.
 */
static int
config_set_size(struct config *c, const struct config_key *k,
    const char *val, const char **errstr)
{
	long long	*np = config_member(c, k);
	long long	 n, unit = 1;
	const char	*u;
	char		*end;

	errno = 0;
	n = strtoll(val, &end, 10);
	if (end != val && *end != '\0' && end[1] == '\0' &&
	    (u = strchr(config_size_units, toupper((unsigned char)*end))) !=
	    NULL && *u != '\0') {
		unit = 1LL << (10 * (int)(sizeof(config_size_units) - 1 -
		    (size_t)(u - config_size_units)));
		end++;
	}
	if (end == val || *end != '\0' || !isdigit((unsigned char)*val) ||
	    errno != 0 || n > k->k_max / unit || n * unit < k->k_min) {
		(void)snprintf(config_whybuf, sizeof(config_whybuf),
		    "must be a size from %lld to %lldM (like 512M, 2G)",
		    k->k_min, k->k_max >> 20);
		*errstr = config_whybuf;
		return -1;
	}
	*np = n * unit;
	return 0;
}

/*
 * A string, which k_check may refuse.  Empty, it unsets an optional key
 * (CF_OPT) and is an error for any other.
 */
static int
config_set_string(struct config *c, const struct config_key *k,
    const char *val, const char **errstr)
{
	char	**sp = config_member(c, k);

	if (*val == '\0' && !(k->k_flags & CF_OPT)) {
		*errstr = "empty";
		return -1;
	}
	if (*val != '\0' && k->k_check != NULL &&
	    k->k_check(c, val, errstr) == -1)
		return -1;
	free(*sp);
	*sp = *val == '\0' ? NULL : xstrdup(val);
	return 0;
}

/* One more entry of a list, which k_check may refuse. */
static int
config_set_list(struct config *c, const struct config_key *k,
    const char *val, const char **errstr)
{
	char	***vp = config_member(c, k);
	size_t	*np = (size_t *)(void *)((char *)c + k->k_noff);

	if (k->k_check != NULL && k->k_check(c, val, errstr) == -1)
		return -1;
	config_append(vp, np, val);
	return 0;
}

/* A command, split into words (config_words()), replacing the last. */
static int
config_set_words(struct config *c, const struct config_key *k,
    const char *val, const char **errstr)
{
	char	***vp = config_member(c, k), **argv;

	if (config_words(val, &argv, errstr) == -1)
		return -1;
	config_freev(*vp);
	*vp = argv;
	/* The one command: as written, for -n to write back (it reads). */
	free(c->c_argtext);
	c->c_argtext = xstrdup(val);
	return 0;
}

/*
 * The printers, one per kind.  Each calls fn(arg, name, value) for its
 * key as the file would write it, never for an optional key left unset.
 */

static void
config_show_int(const struct config *c, const struct config_key *k,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	const int	*ip = config_cmember(c, k);
	char		 buf[32];

	if ((k->k_flags & CF_OPT) && *ip == 0)
		return;
	if ((k->k_flags & CF_AUTO) && *ip == 0)
		strlcpy(buf, "auto", sizeof(buf));
	else
		(void)snprintf(buf, sizeof(buf), "%d", *ip);
	fn(arg, k->k_name, buf);
}

static void
config_show_duration(const struct config *c, const struct config_key *k,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	const double	*dp = config_cmember(c, k);
	char		 buf[64];

	if ((k->k_flags & CF_OPT) && *dp <= 0)
		return;
	config_fmt_duration(buf, sizeof(buf), *dp);
	fn(arg, k->k_name, buf);
}

/* A size in the largest unit that writes it whole. */
static void
config_show_size(const struct config *c, const struct config_key *k,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	const long long	*np = config_cmember(c, k);
	char		 buf[32];
	size_t		 i, n = sizeof(config_size_units) - 1;
	int		 shift;

	if ((k->k_flags & CF_OPT) && *np == 0)
		return;
	for (i = 0; i < n; i++) {
		shift = 10 * (int)(n - i);
		if (*np != 0 && *np % (1LL << shift) == 0)
			break;
	}
	if (i < n)
		(void)snprintf(buf, sizeof(buf), "%lld%c", *np >> shift,
		    config_size_units[i]);
	else
		(void)snprintf(buf, sizeof(buf), "%lld", *np);
	fn(arg, k->k_name, buf);
}

static void
config_show_bool(const struct config *c, const struct config_key *k,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	const int	*bp = config_cmember(c, k);

	if ((k->k_flags & CF_OPT) && !*bp)
		return;
	fn(arg, k->k_name, *bp ? "yes" : "no");
}

static void
config_show_enum(const struct config *c, const struct config_key *k,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	const int	*ip = config_cmember(c, k);

	fn(arg, k->k_name, k->k_words[*ip]);
}

static void
config_show_string(const struct config *c, const struct config_key *k,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	char * const	*sp = config_cmember(c, k);

	if (*sp != NULL)
		fn(arg, k->k_name, *sp);
}

/* A list: one call per entry, in order. */
static void
config_show_list(const struct config *c, const struct config_key *k,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	char ** const	*vp = config_cmember(c, k);
	size_t		 i;

	for (i = 0; *vp != NULL && (*vp)[i] != NULL; i++)
		fn(arg, k->k_name, (*vp)[i]);
}

/*
 * A command: the text it was read from, or its words (given after --),
 * quoted so that config_words() reads them back.
 */
static void
config_show_words(const struct config *c, const struct config_key *k,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	char ** const	*vp = config_cmember(c, k);
	char		*cmd;

	if (*vp == NULL)
		return;
	if (c->c_argtext != NULL) {
		fn(arg, k->k_name, c->c_argtext);
		return;
	}
	cmd = config_command_text(k->k_name, *vp);
	fn(arg, k->k_name, cmd);
	free(cmd);
}

/* The destructors of the kinds that allocate. */

static void
config_free_string(struct config *c, const struct config_key *k)
{
	char	**sp = config_member(c, k);

	free(*sp);
	*sp = NULL;
}

static void
config_free_vector(struct config *c, const struct config_key *k)
{
	char	***vp = config_member(c, k);

	config_freev(*vp);
	*vp = NULL;
}

/*
 * "must be a, b or c" for the words of an enum, for its error message.
 * The text lives until the next call.
 */
static const char *
config_oneof(const char * const *words)
{
	size_t	 i;

	strlcpy(config_whybuf, "must be ", sizeof(config_whybuf));
	for (i = 0; words[i] != NULL; i++) {
		if (i > 0)
			strlcat(config_whybuf, words[i + 1] != NULL ? ", " :
			    " or ", sizeof(config_whybuf));
		strlcat(config_whybuf, words[i], sizeof(config_whybuf));
	}
	return config_whybuf;
}

/* Free a NULL-terminated vector of strings and the strings. */
void
config_freev(char **v)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Append a copy of s to the NULL-terminated vector *vp of *np entries. */
void
config_append(char ***vp, size_t *np, const char *s)
{
	char	**v;

	v = xreallocarray(*vp, *np + 2, sizeof(*v));
	v[*np] = xstrdup(s);
	v[++*np] = NULL;
	*vp = v;
}

/* A boolean: yes, true, on or 1, no, false, off or 0, in any case. */
static int
config_bool(const char *s, int *b)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
	    strcasecmp(s, "on") == 0 || strcmp(s, "1") == 0)
		*b = 1;
	else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
	    strcasecmp(s, "off") == 0 || strcmp(s, "0") == 0)
		*b = 0;
	else
		return -1;
	return 0;
}

/*
 * Split a command into words the way a shell would split a simple
 * command, without any expansion: blanks separate words, '...' is
 * literal, "..." allows \" \\ \$ \` escapes, and a backslash outside
 * quotes takes the next character literally.
 */
static int
config_words(const char *s, char ***argvp, const char **errstr)
{
	char	**v = NULL, *w;
	size_t	 n = 0, len = 0;
	int	 inword = 0;
	char	 q = 0;

	w = xcalloc(1, strlen(s) + 1);
	for (;; s++) {
		if (q == '\'') {
			if (*s == '\0')
				goto unterminated;
			if (*s == '\'')
				q = 0;
			else
				w[len++] = *s;
			continue;
		}
		if (q == '"') {
			if (*s == '\0')
				goto unterminated;
			if (*s == '"')
				q = 0;
			else if (*s == '\\' && s[1] != '\0' &&
			    strchr("\"\\$`", s[1]) != NULL)
				w[len++] = *++s;
			else
				w[len++] = *s;
			continue;
		}
		if (*s == '\0' || *s == ' ' || *s == '\t') {
			if (inword) {
				w[len] = '\0';
				config_append(&v, &n, w);
				len = 0;
				inword = 0;
			}
			if (*s == '\0')
				break;
			continue;
		}
		inword = 1;
		if (*s == '\'' || *s == '"')
			q = *s;
		else if (*s == '\\') {
			if (s[1] == '\0') {
				*errstr = "trailing backslash";
				goto fail;
			}
			w[len++] = *++s;
		} else
			w[len++] = *s;
	}
	free(w);
	if (n == 0) {
		*errstr = "empty command";
		config_freev(v);
		return -1;
	}
	*argvp = v;
	return 0;
 unterminated:
	*errstr = q == '\'' ? "unterminated '" : "unterminated \"";
 fail:
	free(w);
	config_freev(v);
	return -1;
}

/* A duration as config_duration() reads it back, to the microsecond. */
static void
config_fmt_duration(char *buf, size_t len, double d)
{
	size_t	 n;

	(void)snprintf(buf, len, "%.6f", d);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	strlcat(buf, "s", len);
}
