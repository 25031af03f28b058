/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The configuration: its defaults, its keys, all set through one
 * function, config_set(), so that a key means the same wherever it is
 * written (the file, the command line, an upgrade's handover), the checks
 * that need the whole configuration, and its printing for -n and for an
 * upgrade.  The file and the command line are read in config-read.c.
 */

#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

static int	 config_bool(const char *, int *);
static int	 config_words(const char *, char ***, const char **);
static int	 config_append(char ***, size_t *, const char *);
static void	 config_freev(char **);
static void	 config_print_word(FILE *, const char *);
static void	 config_print_line(void *, const char *, const char *);
static void	 config_fmt_duration(char *, size_t, double);
static char	*config_instance(const char *);
static double	*config_durkey(struct config *, const char *);

static char	 config_errbuf[256];

/*
 * Return a configuration holding the defaults.  Allocation failures at
 * this stage are fatal: nothing runs yet.
 */
struct config *
config_new(void)
{
	struct config	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	c->c_workers = 0;
	c->c_ready = READY_EXEC;
	c->c_ready_timeout = 30;
	c->c_stop_timeout = 10;
	c->c_reuseport = 1;
	c->c_backlog = 511;
	c->c_restart_delay = 0.1;
	c->c_restart_delay_max = 30;
	c->c_restart_reset = 10;
	c->c_restart_budget = 10;
	c->c_restart_window = 60;
	c->c_uid = (uid_t)-1;
	c->c_gid = (gid_t)-1;
	c->c_reload = RELOAD_ROLLING;
	c->c_reload_batch = 1;
	c->c_reload_retries = 2;
	c->c_reload_grace = 1;
	return c;
}

void
config_free(struct config *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	free(c->c_file);
	config_freev(c->c_listen);
	free(c->c_state_dir);
	free(c->c_pidfile);
	config_freev(c->c_argv);
	free(c->c_directory);
	config_freev(c->c_env);
	free(c->c_user);
	free(c->c_group);
	free(c->c_health);
	for (i = 0; c->c_lis != NULL && i < c->c_nlisten; i++)
		if (c->c_lis[i] != NULL)
			listen_put(c->c_lis[i]);
	free(c->c_lis);
	config_freev(c->c_lnames);
	free(c->c_fdnames);
	free(c->c_wenv);
	free(c->c_cmdpath);
	free(c);
}

/*
 * Put a complete configuration to use as generation gen: resolve the
 * command, build the workers' environment and open (or share, with the
 * configuration in use) its listening sockets, for as many slots as it
 * wants.  Returns -1 after logging if a socket cannot be opened; the
 * configuration must then be freed.
 */
int
config_activate(struct config *c, uint64_t gen)
{
	size_t	 i, n = 0, len = 1;
	char	*name;

	c->c_gen = gen;
	c->c_cmdpath = spawn_resolve(c->c_argv[0]);
	c->c_wenv = spawn_environ(c, master.m_environ);
	if ((c->c_lis = calloc(c->c_nlisten + 1, sizeof(*c->c_lis))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	for (i = 0; i < c->c_nlisten; i++) {
		c->c_lis[i] = listen_get(c->c_listen[i], (int)i, c, &name);
		if (c->c_lis[i] == NULL || group_grow(c->c_lis[i],
		    c->c_workers > master.m_nslots ? c->c_workers :
		    master.m_nslots) == -1)
			return -1;
		config_append(&c->c_lnames, &n, name);
		len += strlen(name) + 1;
		free(name);
	}
	if ((c->c_fdnames = calloc(1, len)) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	for (i = 0; i < c->c_nlisten; i++) {
		if (i > 0)
			strlcat(c->c_fdnames, ":", len);
		strlcat(c->c_fdnames, c->c_lnames[i], len);
	}
	return 0;
}

/*
 * A worker running c has gone, or c stopped being current: free it once
 * nothing uses it any more.  Its listeners close when no configuration
 * uses them (listen_put).
 */
void
config_release(struct config *c)
{
	if (c != NULL && --c->c_refs <= 0)
		config_free(c);
}

/*
 * Forget the listen addresses read so far: the first -l on the command
 * line replaces the file's list instead of adding to it.
 */
void
config_reset_listen(struct config *c)
{
	config_freev(c->c_listen);
	c->c_listen = NULL;
	c->c_nlisten = 0;
}

/*
 * Replace the command with argv, word for word: -- COMMAND ARGS.
 */
void
config_set_argv(struct config *c, char **argv)
{
	size_t	 n = 0;

	config_freev(c->c_argv);
	c->c_argv = NULL;
	for (; *argv != NULL; argv++)
		config_append(&c->c_argv, &n, *argv);
}

static void
config_freev(char **v)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* strdup(3), fatal when memory is out. */
char *
config_strdup(const char *s)
{
	char	*d;

	if ((d = strdup(s)) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	return d;
}

/* Append a copy of s to the NULL-terminated vector *vp of *np entries. */
static int
config_append(char ***vp, size_t *np, const char *s)
{
	char	**v;

	v = reallocarray(*vp, *np + 2, sizeof(*v));
	if (v == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	v[*np] = config_strdup(s);
	v[++*np] = NULL;
	*vp = v;
	return 0;
}

/*
 * Parse a duration: a decimal number followed by "ms", "s", "m" or "h",
 * or no unit for seconds.  Returns 0 and the seconds in *d, or -1.
 */
int
config_duration(const char *s, double *d)
{
	char	*end;
	double	 v, mult = 1;

	/* Plain decimals only: strtod would take "nan", hex and exponents. */
	if (!isdigit((unsigned char)*s) || strspn(s, "0123456789.") == 0 ||
	    strchr(s, 'e') != NULL || strchr(s, 'x') != NULL ||
	    strchr(s, 'E') != NULL || strchr(s, 'X') != NULL)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1;
	else if (strcmp(end, "ms") == 0)
		mult = 0.001;
	else if (strcmp(end, "m") == 0)
		mult = 60;
	else if (strcmp(end, "h") == 0)
		mult = 3600;
	else
		return -1;
	v *= mult;
	if (v > 86400 * 365)
		return -1;
	*d = v;
	return 0;
}

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

	if ((w = malloc(strlen(s) + 1)) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
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

/*
 * Where the value of a duration key goes in c, or NULL if key is not one.
 */
static double *
config_durkey(struct config *c, const char *key)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} keys[] = {
		{ "ready_timeout",	offsetof(struct config, c_ready_timeout) },
		{ "stop_timeout",	offsetof(struct config, c_stop_timeout) },
		{ "restart_delay",	offsetof(struct config, c_restart_delay) },
		{ "restart_delay_max",
		    offsetof(struct config, c_restart_delay_max) },
		{ "restart_reset",	offsetof(struct config, c_restart_reset) },
		{ "restart_window",	offsetof(struct config, c_restart_window) },
		{ "watchdog",		offsetof(struct config, c_watchdog) },
		{ "reload_grace",	offsetof(struct config, c_reload_grace) }
	};
	size_t	 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i].name) == 0)
			return (double *)((char *)c + keys[i].off);
	return NULL;
}

/*
 * Set one key.  On error return -1 with a message in *errstr that names
 * the problem; the caller adds where the key was written.
 */
int
config_set(struct config *c, const char *key, const char *val,
    const char **errstr)
{
	struct listener	 l;
	const char	*e = NULL;
	char		**argv;
	long long	 n;
	double		 d, *dp;
	size_t		 i;
	int		 b;

	if (strcmp(key, "workers") == 0) {
		if (strcmp(val, "auto") == 0) {
			c->c_workers = 0;
			return 0;
		}
		n = strtonum(val, 1, DROVER_MAX_WORKERS, &e);
		if (e != NULL)
			goto bad;
		c->c_workers = (int)n;
	} else if (strcmp(key, "listen") == 0) {
		if (c->c_nlisten >= DROVER_MAX_LISTEN) {
			e = "too many listen addresses";
			goto bad;
		}
		memset(&l, 0, sizeof(l));
		if (listen_parse(val, (int)c->c_nlisten, &l, &e) == -1)
			goto bad;
		listen_close(&l);
		config_append(&c->c_listen, &c->c_nlisten, val);
	} else if (strcmp(key, "state_dir") == 0) {
		if (*val == '\0') {
			e = "empty";
			goto bad;
		}
		free(c->c_state_dir);
		c->c_state_dir = config_strdup(val);
	} else if (strcmp(key, "pidfile") == 0) {
		free(c->c_pidfile);
		c->c_pidfile = *val == '\0' ? NULL : config_strdup(val);
	} else if (strcmp(key, "ready") == 0) {
		if (strcmp(val, "exec") == 0)
			c->c_ready = READY_EXEC;
		else if (strcmp(val, "notify") == 0)
			c->c_ready = READY_NOTIFY;
		else {
			e = "must be exec or notify";
			goto bad;
		}
	} else if ((dp = config_durkey(c, key)) != NULL) {
		if (config_duration(val, &d) == -1) {
			e = "not a duration (like 250ms, 10s, 2m)";
			goto bad;
		}
		*dp = d;
	} else if (strcmp(key, "output") == 0) {
		if (strcmp(val, "inherit") == 0)
			c->c_output = OUTPUT_INHERIT;
		else if (strcmp(val, "prefix") == 0)
			c->c_output = OUTPUT_PREFIX;
		else {
			e = "must be inherit or prefix";
			goto bad;
		}
	} else if (strcmp(key, "min_ready") == 0) {
		n = strtonum(val, 0, DROVER_MAX_WORKERS, &e);
		if (e != NULL)
			goto bad;
		c->c_min_ready = (int)n;
	} else if (strcmp(key, "subreaper") == 0) {
		if (config_bool(val, &b) == -1) {
			e = "must be yes or no";
			goto bad;
		}
		c->c_subreaper = b;
	} else if (strcmp(key, "health") == 0) {
		free(c->c_health);
		c->c_health = NULL;
		if (*val == '\0')
			return 0;
		memset(&l, 0, sizeof(l));
		if (listen_parse(val, 0, &l, &e) == -1)
			goto bad;
		listen_close(&l);
		c->c_health = config_strdup(val);
	} else if (strcmp(key, "reload") == 0) {
		if (strcmp(val, "rolling") == 0)
			c->c_reload = RELOAD_ROLLING;
		else if (strcmp(val, "all") == 0)
			c->c_reload = RELOAD_ALL;
		else {
			e = "must be rolling or all";
			goto bad;
		}
	} else if (strcmp(key, "reload_batch") == 0) {
		n = strtonum(val, 1, DROVER_MAX_WORKERS, &e);
		if (e != NULL)
			goto bad;
		c->c_reload_batch = (int)n;
	} else if (strcmp(key, "reload_retries") == 0) {
		n = strtonum(val, 0, 1000, &e);
		if (e != NULL)
			goto bad;
		c->c_reload_retries = (unsigned int)n;
	} else if (strcmp(key, "reuseport") == 0) {
		if (config_bool(val, &b) == -1) {
			e = "must be yes or no";
			goto bad;
		}
		c->c_reuseport = b;
	} else if (strcmp(key, "backlog") == 0) {
		n = strtonum(val, 1, 65535, &e);
		if (e != NULL)
			goto bad;
		c->c_backlog = (int)n;
	} else if (strcmp(key, "restart_budget") == 0) {
		n = strtonum(val, 1, 10000, &e);
		if (e != NULL)
			goto bad;
		c->c_restart_budget = (unsigned int)n;
	} else if (strcmp(key, "command") == 0) {
		if (config_words(val, &argv, &e) == -1)
			goto bad;
		config_freev(c->c_argv);
		c->c_argv = argv;
	} else if (strcmp(key, "directory") == 0) {
		free(c->c_directory);
		c->c_directory = *val == '\0' ? NULL : config_strdup(val);
	} else if (strcmp(key, "env") == 0) {
		for (i = 0; isalnum((unsigned char)val[i]) || val[i] == '_';
		    i++)
			;
		if (i == 0 || val[i] != '=' || isdigit((unsigned char)*val)) {
			e = "must be NAME=VALUE";
			goto bad;
		}
		if (spawn_reserved(val)) {
			e = "that variable is set by drover";
			goto bad;
		}
		config_append(&c->c_env, &c->c_nenv, val);
	} else if (strcmp(key, "user") == 0) {
		free(c->c_user);
		c->c_user = *val == '\0' ? NULL : config_strdup(val);
	} else if (strcmp(key, "group") == 0) {
		free(c->c_group);
		c->c_group = *val == '\0' ? NULL : config_strdup(val);
	} else {
		(void)snprintf(config_errbuf, sizeof(config_errbuf),
		    "unknown key \"%s\"", key);
		*errstr = config_errbuf;
		return -1;
	}
	return 0;
 bad:
	(void)snprintf(config_errbuf, sizeof(config_errbuf),
	    "%s = %s: %s", key, val, e);
	*errstr = config_errbuf;
	return -1;
}

/*
 * The instance name of a configuration file: its base name without
 * ".conf", or "" for none, for "drover.conf" or for a name that is not
 * [A-Za-z0-9_.-]+ (never a path).  Allocated.
 */
static char *
config_instance(const char *file)
{
	const char	*base;
	char		*name;
	size_t		 len;

	if (file == NULL)
		return config_strdup("");
	base = (base = strrchr(file, '/')) != NULL ? base + 1 : file;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".conf") == 0)
		len -= 5;
	name = strndup(base, len);
	if (name == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	if (strcmp(name, "drover") == 0 || *name == '.' ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-") != len)
		*name = '\0';
	return name;
}

/*
 * Complete a configuration once every source is applied: resolve "auto",
 * the default state directory and the user, and check what no single key
 * can check.  Returns -1 with a message in *errstr.
 */
int
config_finish(struct config *c, const char **errstr)
{
	struct passwd	*pw;
	struct group	*gr;
	const char	*dir;
	char		*inst;
	long		 ncpu;

	if (c->c_argv == NULL) {
		*errstr = "no command: give one after -- or set command";
		return -1;
	}
	if (c->c_workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		c->c_workers = ncpu < 1 ? 1 : ncpu > DROVER_MAX_WORKERS ?
		    DROVER_MAX_WORKERS : (int)ncpu;
	}
	if (c->c_state_dir == NULL) {
		/*
		 * An instance of its own per configuration file: NAME.conf
		 * gets .../drover/NAME (but drover.conf just .../drover),
		 * so that masters started from different files never meet
		 * in one state directory.
		 */
		inst = config_instance(c->c_file);
		if ((dir = getenv("RUNTIME_DIRECTORY")) != NULL &&
		    *dir == '/' && strchr(dir, ':') == NULL)
			c->c_state_dir = config_strdup(dir);
		else if (geteuid() == 0) {
			if (asprintf(&c->c_state_dir, "/run/drover%s%s",
			    *inst != '\0' ? "/" : "", inst) == -1)
				fatal(EXIT_OSERR, "%s", __func__);
		} else if ((dir = getenv("XDG_RUNTIME_DIR")) != NULL &&
		    *dir == '/') {
			if (asprintf(&c->c_state_dir, "%s/drover%s%s", dir,
			    *inst != '\0' ? "/" : "", inst) == -1)
				fatal(EXIT_OSERR, "%s", __func__);
		} else {
			free(inst);
			*errstr = "no state directory: set state_dir or -s";
			return -1;
		}
		free(inst);
	}
	if (c->c_restart_delay > c->c_restart_delay_max) {
		*errstr = "restart_delay is longer than restart_delay_max";
		return -1;
	}
	if (c->c_user != NULL) {
		if ((pw = getpwnam(c->c_user)) == NULL) {
			(void)snprintf(config_errbuf, sizeof(config_errbuf),
			    "user = %s: no such user", c->c_user);
			*errstr = config_errbuf;
			return -1;
		}
		c->c_uid = pw->pw_uid;
		c->c_gid = pw->pw_gid;
	}
	if (c->c_group != NULL) {
		if ((gr = getgrnam(c->c_group)) == NULL) {
			(void)snprintf(config_errbuf, sizeof(config_errbuf),
			    "group = %s: no such group", c->c_group);
			*errstr = config_errbuf;
			return -1;
		}
		c->c_gid = gr->gr_gid;
	}
	if ((c->c_user != NULL || c->c_group != NULL) && geteuid() != 0) {
		*errstr = "user and group need drover to run as root";
		return -1;
	}
	return 0;
}

/*
 * Print a command word so that config_words() reads it back: bare when
 * it holds nothing special, else in single quotes, a quote as '\''.
 */
static void
config_print_word(FILE *fp, const char *w)
{
	if (*w != '\0' && strcspn(w, " \t'\"\\;#") == strlen(w)) {
		fputs(w, fp);
		return;
	}
	fputc('\'', fp);
	for (; *w != '\0'; w++) {
		if (*w == '\'')
			fputs("'\\''", fp);
		else
			fputc(*w, fp);
	}
	fputc('\'', fp);
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

/*
 * Call fn(arg, key, value) for every setting of c, in the file's own
 * syntax and order: what -n prints and what an upgrade hands over.
 * Optional settings left at their default are skipped.
 */
void
config_each(const struct config *c,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	static const struct {
		const char	*name;
		size_t		 off;
		int		 optional;
	} durs[] = {
		{ "ready_timeout", offsetof(struct config, c_ready_timeout), 0 },
		{ "stop_timeout", offsetof(struct config, c_stop_timeout), 0 },
		{ "restart_delay", offsetof(struct config, c_restart_delay), 0 },
		{ "restart_delay_max",
		    offsetof(struct config, c_restart_delay_max), 0 },
		{ "restart_reset", offsetof(struct config, c_restart_reset), 0 },
		{ "restart_window",
		    offsetof(struct config, c_restart_window), 0 },
		{ "watchdog", offsetof(struct config, c_watchdog), 1 },
		{ "reload_grace", offsetof(struct config, c_reload_grace), 0 }
	};
	char		 buf[64], *cmd = NULL;
	size_t		 i, len;
	double		 d;
	FILE		*fp;

	(void)snprintf(buf, sizeof(buf), "%d", c->c_workers);
	fn(arg, "workers", buf);
	for (i = 0; i < c->c_nlisten; i++)
		fn(arg, "listen", c->c_listen[i]);
	fn(arg, "reuseport", c->c_reuseport ? "yes" : "no");
	(void)snprintf(buf, sizeof(buf), "%d", c->c_backlog);
	fn(arg, "backlog", buf);
	fn(arg, "state_dir", c->c_state_dir);
	if (c->c_pidfile != NULL)
		fn(arg, "pidfile", c->c_pidfile);
	fn(arg, "ready", c->c_ready == READY_EXEC ? "exec" : "notify");
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		d = *(const double *)(const void *)((const char *)c +
		    durs[i].off);
		if (durs[i].optional && d <= 0)
			continue;
		config_fmt_duration(buf, sizeof(buf), d);
		fn(arg, durs[i].name, buf);
		if (strcmp(durs[i].name, "restart_reset") == 0) {
			(void)snprintf(buf, sizeof(buf), "%u",
			    c->c_restart_budget);
			fn(arg, "restart_budget", buf);
		}
	}
	fn(arg, "output", c->c_output == OUTPUT_PREFIX ? "prefix" : "inherit");
	if (c->c_min_ready > 0) {
		(void)snprintf(buf, sizeof(buf), "%d", c->c_min_ready);
		fn(arg, "min_ready", buf);
	}
	if (c->c_subreaper)
		fn(arg, "subreaper", "yes");
	if (c->c_health != NULL)
		fn(arg, "health", c->c_health);
	fn(arg, "reload", c->c_reload == RELOAD_ALL ? "all" : "rolling");
	(void)snprintf(buf, sizeof(buf), "%d", c->c_reload_batch);
	fn(arg, "reload_batch", buf);
	(void)snprintf(buf, sizeof(buf), "%u", c->c_reload_retries);
	fn(arg, "reload_retries", buf);
	if (c->c_directory != NULL)
		fn(arg, "directory", c->c_directory);
	for (i = 0; i < c->c_nenv; i++)
		fn(arg, "env", c->c_env[i]);
	if (c->c_user != NULL)
		fn(arg, "user", c->c_user);
	if (c->c_group != NULL)
		fn(arg, "group", c->c_group);
	if ((fp = open_memstream(&cmd, &len)) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	for (i = 0; c->c_argv[i] != NULL; i++) {
		if (i > 0)
			fputc(' ', fp);
		config_print_word(fp, c->c_argv[i]);
	}
	if (fclose(fp) == EOF)
		fatal(EXIT_OSERR, "%s", __func__);
	fn(arg, "command", cmd);
	free(cmd);
}

static void
config_print_line(void *arg, const char *key, const char *value)
{
	fprintf(arg, "%s = %s\n", key, value);
}

/*
 * Print what would run, for -n: one "key = value" line per setting, in
 * the file's own syntax.
 */
void
config_print(const struct config *c, FILE *fp)
{
	config_each(c, config_print_line, fp);
}
