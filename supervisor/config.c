/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The configuration and its keys.  Every key is one line of one table,
 * config_keys[], giving its name, the kind of value it takes, the member
 * of struct config that holds it, its default, its range or words, and
 * its flags.  Everything that deals with keys walks that table:
 * config_set() (for the file, the command line and an upgrade's handover
 * alike), the defaults of config_new(), config_each() (what -n prints and
 * what an upgrade hands over, in the table's order), config_free(), and
 * the manual's check in t/manlint.t, which reads the key names from the
 * table's lines.  So adding a key is one line here, one member of struct
 * config and its entry in drover.conf(5).  What each kind of value does
 * is in config-value.c; the keys that need more than their kind (a listen
 * or health address, an env entry) name a check of their own in their
 * line.  What no single key can check waits for config_finish().  The
 * file and the command line are read in config-read.c.
 */

#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

static int	 config_check_listen(const struct config *, const char *,
		    const char **);
static int	 config_check_health(const struct config *, const char *,
		    const char **);
static int	 config_check_env(const struct config *, const char *,
		    const char **);
static int	 config_check_mode(const struct config *, const char *,
		    const char **);
static int	 config_address(const char *, int, const char **);
static const struct config_key *
		 config_key(const char *);
static void	 config_print_line(void *, const char *, const char *);
static int	 config_state_dir(struct config *, const char **);
static int	 config_ids(struct config *, const char **);
static struct passwd *
		 config_getpw(const char *, const char *, const char **);
static int	 config_getgr(const char *, const char *, gid_t *,
		    const char **);
static void	 config_user_env(struct config *, const struct passwd *);
static int	 config_socket(struct config *, const char **);

/* The words of the enum keys, indexed by the enum's values. */
static const char * const config_ready_words[] = {
	[READY_EXEC] = "exec", [READY_NOTIFY] = "notify", NULL
};
static const char * const config_output_words[] = {
	[OUTPUT_INHERIT] = "inherit", [OUTPUT_PREFIX] = "prefix", NULL
};
static const char * const config_log_format_words[] = {
	[LOG_TEXT] = "text", [LOG_JSON] = "json", NULL
};
static const char * const config_reload_words[] = {
	[RELOAD_ROLLING] = "rolling", [RELOAD_ALL] = "all", NULL
};
/* The signals stop_signal may name, and their numbers, in one order. */
static const char * const config_signal_words[] = {
	"TERM", "INT", "QUIT", "HUP", "USR1", "USR2", "WINCH", NULL
};
static const int config_signal_numbers[] = {
	SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH
};
_Static_assert(sizeof(config_signal_numbers) / sizeof(int) ==
    sizeof(config_signal_words) / sizeof(char *) - 1, "one number a word");

/* An enum member is set through an int. */
_Static_assert(sizeof(enum ready_mode) == sizeof(int) &&
    sizeof(enum output_mode) == sizeof(int) &&
    sizeof(enum log_format) == sizeof(int) &&
    sizeof(enum reload_mode) == sizeof(int), "enum keys are ints");

/*
 * The keys, one line each, in the order of config_each() (so of -n and of
 * an upgrade's handover).  The macro names the kind; its arguments are
 * the key's name, its member of struct config, its default as a file
 * would write it (NULL: none, the member stays zero), then what the kind
 * needs:
 *	KEY_INT			minimum, maximum, flags (CF_OPT, CF_AUTO)
 *	KEY_DUR			minimum, maximum in milliseconds, flags
 *	KEY_BOOL		flags
 *	KEY_ENUM		its words, indexed by the enum's values
 *	KEY_SIGNAL		the same, of signal names ("SIG" optional)
 *	KEY_SIZE		minimum, maximum in bytes, flags
 *	KEY_STR			flags, a check of the value or NULL
 *	KEY_LIST		the count member, a check of each value
 *				(repeatable: each value adds an entry)
 *	KEY_WORDS		nothing (a command, split into words)
 * A timeout, restart delay or window starts at 1ms (restart_window at
 * 1s), not 0: at 0 it would switch off what it bounds, where a reader
 * might take 0 for "no limit", as systemd's timeouts do.
 * Keep each key on one line that starts with a tab, then KEY_<KIND>(
 * and the quoted name: t/manlint.t finds the key names by that form and
 * checks that drover.conf(5) documents each of them.
 */
#define CO(m)		offsetof(struct config, m)
#define YEAR_MS		(365LL * 86400 * 1000)	/* config_duration()'s max */
#define KEY_INT(n, m, def, lo, hi, fl) \
	{ n, CK_INT, CO(m), 0, def, lo, hi, NULL, fl, NULL }
#define KEY_DUR(n, m, def, lo, hi, fl) \
	{ n, CK_DURATION, CO(m), 0, def, lo, hi, NULL, fl, NULL }
#define KEY_BOOL(n, m, def, fl) \
	{ n, CK_BOOL, CO(m), 0, def, 0, 1, NULL, fl, NULL }
#define KEY_ENUM(n, m, def, words) \
	{ n, CK_ENUM, CO(m), 0, def, 0, 0, words, 0, NULL }
#define KEY_SIGNAL(n, m, def, words) \
	{ n, CK_ENUM, CO(m), 0, def, 0, 0, words, CF_SIGNAL, NULL }
#define KEY_SIZE(n, m, def, lo, hi, fl) \
	{ n, CK_SIZE, CO(m), 0, def, lo, hi, NULL, fl, NULL }
#define KEY_STR(n, m, def, fl, check) \
	{ n, CK_STRING, CO(m), 0, def, 0, 0, NULL, fl, check }
#define KEY_LIST(n, m, nm, check) \
	{ n, CK_LIST, CO(m), CO(nm), NULL, 0, 0, NULL, 0, check }
#define KEY_WORDS(n, m) \
	{ n, CK_WORDS, CO(m), 0, NULL, 0, 0, NULL, 0, NULL }

static const struct config_key config_keys[] = {
	KEY_INT("workers", c_workers, "auto", 1, DROVER_MAX_WORKERS, CF_AUTO),
	KEY_LIST("listen", c_listen, c_nlisten, config_check_listen),
	KEY_BOOL("reuseport", c_reuseport, "yes", 0),
	KEY_INT("backlog", c_backlog, "511", 1, 65535, 0),
	KEY_STR("state_dir", c_state_dir, NULL, 0, NULL),
	KEY_STR("pidfile", c_pidfile, NULL, CF_OPT, NULL),
	KEY_ENUM("ready", c_ready, "exec", config_ready_words),
	KEY_DUR("ready_timeout", c_ready_timeout, "30s", 1, YEAR_MS, 0),
	KEY_DUR("stop_timeout", c_stop_timeout, "10s", 1, YEAR_MS, 0),
	KEY_SIGNAL("stop_signal", c_stop_signal, "TERM", config_signal_words),
	KEY_DUR("restart_delay", c_restart_delay, "100ms", 1, YEAR_MS, 0),
	KEY_DUR("restart_delay_max", c_restart_delay_max, "30s", 1, YEAR_MS, 0),
	KEY_DUR("restart_reset", c_restart_reset, "10s", 1, YEAR_MS, 0),
	KEY_INT("restart_budget", c_restart_budget, "10", 1, 10000, 0),
	KEY_DUR("restart_window", c_restart_window, "60s", 1000, YEAR_MS, 0),
	KEY_DUR("watchdog", c_watchdog, NULL, 0, YEAR_MS, CF_OPT),
	KEY_DUR("reload_grace", c_reload_grace, "1s", 0, YEAR_MS, 0),
	KEY_ENUM("output", c_output, "inherit", config_output_words),
	KEY_ENUM("log_format", c_log_format, "text", config_log_format_words),
	KEY_INT("min_ready", c_min_ready, NULL, 0, DROVER_MAX_WORKERS, CF_OPT),
	KEY_BOOL("subreaper", c_subreaper, NULL, CF_OPT),
	KEY_STR("health", c_health, NULL, CF_OPT, config_check_health),
	KEY_ENUM("reload", c_reload, "rolling", config_reload_words),
	KEY_INT("reload_batch", c_reload_batch, "auto", 1, DROVER_MAX_WORKERS,
	    CF_AUTO),
	KEY_INT("reload_retries", c_reload_retries, "2", 0, 1000, 0),
	KEY_SIZE("max_memory", c_max_memory, NULL, 0, 1LL << 50, CF_OPT),
	KEY_DUR("max_age", c_max_age, NULL, 0, YEAR_MS, CF_OPT),
	KEY_STR("directory", c_directory, NULL, CF_OPT, NULL),
	KEY_LIST("env", c_env, c_nenv, config_check_env),
	KEY_STR("user", c_user, NULL, CF_OPT, NULL),
	KEY_STR("group", c_group, NULL, CF_OPT, NULL),
	/*
	 * For every unix: listen socket, not per address: an address stays
	 * the words that find its socket again at a reload or an upgrade.
	 */
	KEY_STR("socket_mode", c_socket_mode, NULL, CF_OPT, config_check_mode),
	KEY_STR("socket_owner", c_socket_owner, NULL, CF_OPT, NULL),
	KEY_STR("socket_group", c_socket_group, NULL, CF_OPT, NULL),
	KEY_WORDS("command", c_argv),
};
#define CONFIG_NKEYS	(sizeof(config_keys) / sizeof(config_keys[0]))
_Static_assert(CONFIG_NKEYS <= CONFIG_MAXKEYS, "raise CONFIG_MAXKEYS");

static char	 config_errbuf[256];	/* the message of config_set() */
static char	 config_wherebuf[PATH_MAX + 32];	/* config_where()'s */

/*
 * Return a configuration holding the defaults, each set through its key
 * as if it were written in a file.  Allocation failures at this stage are
 * fatal, and so is a default its own key refuses (a broken table).
 */
struct config *
config_new(void)
{
	struct config		*c;
	const struct config_key	*k;
	const char		*e = NULL;

	c = xcalloc(1, sizeof(*c));
	c->c_uid = c->c_sockuid = (uid_t)-1;
	c->c_gid = c->c_sockgid = (gid_t)-1;
	c->c_sockmode = -1;
	for (k = config_keys; k < config_keys + CONFIG_NKEYS; k++)
		if (k->k_def != NULL && config_value_set(c, k, k->k_def, &e) ==
		    -1)
			fatalx(EXIT_SOFTWARE, "%s: default %s = %s: %s",
			    __func__, k->k_name, k->k_def, e);
	return c;
}

/* Free a configuration: its keys' values, then what activation added. */
void
config_free(struct config *c)
{
	const struct config_key	*k;
	size_t			 i;

	if (c == NULL)
		return;
	for (k = config_keys; k < config_keys + CONFIG_NKEYS; k++)
		config_value_free(c, k);
	free(c->c_file);
	config_freev(c->c_uenv);
	for (i = 0; c->c_lis != NULL && i < c->c_nlisten; i++)
		if (c->c_lis[i] != NULL)
			listen_put(c->c_lis[i]);
	free(c->c_lis);
	config_freev(c->c_lnames);
	free(c->c_fdnames);
	free(c->c_wenv);
	free(c->c_cmdpath);
	config_freev(c->c_cmdtry);
	free(c->c_argtext);
	free(c);
}

/*
 * Put a complete configuration to use as generation gen: build the
 * workers' environment, resolve the command and open (or share, with the
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
	c->c_wenv = spawn_environ(c, master.m_environ);
	/* As execvp(3) would in the worker: with the PATH it gets. */
	c->c_cmdpath = spawn_lookup(c->c_argv[0], spawn_path(c->c_wenv));
	c->c_cmdtry = spawn_candidates(c->c_argv[0], spawn_path(c->c_wenv));
	c->c_lis = xcalloc(c->c_nlisten + 1, sizeof(*c->c_lis));
	for (i = 0; i < c->c_nlisten; i++) {
		c->c_lis[i] = listen_get(c->c_listen[i], (int)i, c, &name);
		if (c->c_lis[i] == NULL)
			return -1;
		/* The name is ours until appended, also when this fails. */
		if (group_grow(c->c_lis[i], c->c_workers > master.m_nslots ?
		    c->c_workers : master.m_nslots) == -1) {
			free(name);
			return -1;
		}
		config_append(&c->c_lnames, &n, name);
		len += strlen(name) + 1;
		free(name);
	}
	c->c_fdnames = xcalloc(1, len);
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
	free(c->c_argtext);
	c->c_argtext = NULL;
	config_set_line(c, "command", 0);
	for (; *argv != NULL; argv++)
		config_append(&c->c_argv, &n, *argv);
}

/*
 * Set one key.  On error return -1 with a message in *errstr that names
 * the problem; the caller adds where the key was written.
 */
int
config_set(struct config *c, const char *key, const char *val,
    const char **errstr)
{
	const struct config_key	*k;
	const char		*e = NULL;

	if ((k = config_key(key)) == NULL) {
		(void)snprintf(config_errbuf, sizeof(config_errbuf),
		    "unknown key \"%s\"", key);
		*errstr = config_errbuf;
		return -1;
	}
	if (config_value_set(c, k, val, &e) == -1) {
		(void)snprintf(config_errbuf, sizeof(config_errbuf),
		    "%s = %s: %s", key, val, e);
		*errstr = config_errbuf;
		return -1;
	}
	return 0;
}

/*
 * Remember that key was set on line line of the file (0: elsewhere, on
 * the command line), for config_where().
 */
void
config_set_line(struct config *c, const char *key, int line)
{
	const struct config_key	*k;

	if ((k = config_key(key)) != NULL)
		c->c_lines[k - config_keys] = line;
}

/*
 * Where key got its value, as the prefix of a message: "FILE:LINE: ",
 * or "" when it was not set in the file.  The string is overwritten by
 * the next call.
 */
const char *
config_where(const struct config *c, const char *key)
{
	const struct config_key	*k;
	int			 line = 0;

	if ((k = config_key(key)) != NULL)
		line = c->c_lines[k - config_keys];
	if (c->c_file == NULL || line <= 0)
		return "";
	(void)snprintf(config_wherebuf, sizeof(config_wherebuf), "%s:%d: ",
	    c->c_file, line);
	return config_wherebuf;
}

/* The line of config_keys[] for key, or NULL if there is none. */
static const struct config_key *
config_key(const char *key)
{
	const struct config_key	*k;

	for (k = config_keys; k < config_keys + CONFIG_NKEYS; k++)
		if (strcmp(k->k_name, key) == 0)
			return k;
	return NULL;
}

/*
 * The checks of single keys.  Each returns 0 if val may be set in c, or
 * -1 with the reason in *errstr.
 */

/* A listen address (listen_parse()), and no more than DROVER_MAX_LISTEN. */
static int
config_check_listen(const struct config *c, const char *val,
    const char **errstr)
{
	if (c->c_nlisten >= DROVER_MAX_LISTEN) {
		*errstr = "too many listen addresses";
		return -1;
	}
	return config_address(val, (int)c->c_nlisten, errstr);
}

/* The health endpoint's address, written as a listen address. */
static int
config_check_health(const struct config *c, const char *val,
    const char **errstr)
{
	(void)c;
	return config_address(val, 0, errstr);
}

/* NAME=VALUE, NAME not a variable that drover sets (spawn_reserved()). */
static int
config_check_env(const struct config *c, const char *val,
    const char **errstr)
{
	size_t	 i;

	(void)c;
	for (i = 0; isalnum((unsigned char)val[i]) || val[i] == '_'; i++)
		;
	if (i == 0 || val[i] != '=' || isdigit((unsigned char)*val)) {
		*errstr = "must be NAME=VALUE";
		return -1;
	}
	if (spawn_reserved(val)) {
		*errstr = "that variable is set by drover";
		return -1;
	}
	return 0;
}

/* A file mode in octal, at most 0777: "0660", "660". */
static int
config_check_mode(const struct config *c, const char *val,
    const char **errstr)
{
	(void)c;
	if (strlen(val) > 4 || strspn(val, "01234567") != strlen(val) ||
	    strtol(val, NULL, 8) > 0777) {
		*errstr = "must be an octal mode from 0 to 0777, like 0660";
		return -1;
	}
	return 0;
}

/*
 * Whether val parses as the address at position index of a listen list;
 * nothing is opened.
 */
static int
config_address(const char *val, int index, const char **errstr)
{
	struct listener	 l;

	memset(&l, 0, sizeof(l));
	if (listen_parse(val, index, &l, errstr) == -1)
		return -1;
	listen_close(&l);
	return 0;
}

/*
 * The default state directory, for a configuration that sets none: an
 * instance of its own per configuration file, NAME.conf getting
 * .../drover/NAME (but drover.conf just .../drover), so that masters
 * started from different files never meet in one state directory.
 * Returns -1 with a message in *errstr when there is no place for it.
 */
static int
config_state_dir(struct config *c, const char **errstr)
{
	char	 dir[PATH_MAX];

	if (config_default_state_dir(c->c_file, dir, sizeof(dir)) == -1) {
		*errstr = "no state directory: set state_dir or -s";
		return -1;
	}
	c->c_state_dir = xstrdup(dir);
	return 0;
}

/*
 * The password entry of the user name that key is set to, or NULL with
 * a message in *errstr.  It lives until the next lookup.
 */
static struct passwd *
config_getpw(const char *key, const char *name, const char **errstr)
{
	struct passwd	*pw;

	if ((pw = getpwnam(name)) == NULL) {
		(void)snprintf(config_errbuf, sizeof(config_errbuf),
		    "%s = %s: no such user", key, name);
		*errstr = config_errbuf;
	}
	return pw;
}

/* The id of the group name that key is set to; -1 with *errstr if none. */
static int
config_getgr(const char *key, const char *name, gid_t *gid,
    const char **errstr)
{
	struct group	*gr;

	if ((gr = getgrnam(name)) == NULL) {
		(void)snprintf(config_errbuf, sizeof(config_errbuf),
		    "%s = %s: no such group", key, name);
		*errstr = config_errbuf;
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

/*
 * The variables that say who a process runs as, for workers that run as
 * user pw: what login(1) sets, so that they never see the master's (a
 * HOME of root's, say).  An empty shell in the password file means
 * /bin/sh, as passwd(5) says.  env entries still replace them
 * (spawn_environ()).
 */
static void
config_user_env(struct config *c, const struct passwd *pw)
{
	const char	*vars[][2] = { { "HOME", pw->pw_dir },
			    { "USER", pw->pw_name }, { "LOGNAME", pw->pw_name },
			    { "SHELL", *pw->pw_shell != '\0' ? pw->pw_shell :
			    "/bin/sh" } };
	size_t		 i, n = 0;
	char		*v;

	config_freev(c->c_uenv);
	c->c_uenv = NULL;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		(void)xasprintf(&v, "%s=%s", vars[i][0], vars[i][1]);
		config_append(&c->c_uenv, &n, v);
		free(v);
	}
}

/*
 * Resolve user and group to the ids workers run as, and the user to its
 * variables.  Returns -1 with a message in *errstr for an unknown name,
 * or if drover cannot change ids.
 */
static int
config_ids(struct config *c, const char **errstr)
{
	struct passwd	*pw;

	if (c->c_user != NULL) {
		if ((pw = config_getpw("user", c->c_user, errstr)) == NULL)
			return -1;
		c->c_uid = pw->pw_uid;
		c->c_gid = pw->pw_gid;
		config_user_env(c, pw);
	}
	if (c->c_group != NULL &&
	    config_getgr("group", c->c_group, &c->c_gid, errstr) == -1)
		return -1;
	if ((c->c_user != NULL || c->c_group != NULL) && geteuid() != 0) {
		*errstr = "user and group need drover to run as root";
		return -1;
	}
	return 0;
}

/*
 * Resolve socket_owner and socket_group to ids and socket_mode to a
 * mode, for listen.c to give the files of unix: listen sockets.  Whether
 * drover may give a file away is for chown(2) to say, at the bind: a
 * non-root master may still give its sockets one of its own groups.
 * Returns -1 with a message in *errstr.
 */
static int
config_socket(struct config *c, const char **errstr)
{
	struct passwd	*pw;

	if (c->c_socket_owner != NULL) {
		if ((pw = config_getpw("socket_owner", c->c_socket_owner,
		    errstr)) == NULL)
			return -1;
		c->c_sockuid = pw->pw_uid;
	}
	if (c->c_socket_group != NULL && config_getgr("socket_group",
	    c->c_socket_group, &c->c_sockgid, errstr) == -1)
		return -1;
	if (c->c_socket_mode != NULL)
		c->c_sockmode = (int)strtol(c->c_socket_mode, NULL, 8);
	return 0;
}

/*
 * Complete a configuration once every source is applied: resolve "auto",
 * the default state directory and the user, and check what no single key
 * can check.  Returns -1 with a message in *errstr.
 */
int
config_finish(struct config *c, const char **errstr)
{
	char	 cwd[PATH_MAX], *abs;

	if (c->c_argv == NULL) {
		*errstr = "no command: give one after -- or set command";
		return -1;
	}
	if (c->c_workers == 0)
		c->c_workers = cpus_usable();
	if (c->c_state_dir == NULL && config_state_dir(c, errstr) == -1)
		return -1;
	/*
	 * Absolute, since workers get paths in it (NOTIFY_SOCKET, which
	 * sd_notify(3) takes only absolute) and may run elsewhere
	 * (directory).
	 */
	if (*c->c_state_dir != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			*errstr = "state_dir is relative and the working "
			    "directory cannot be known";
			return -1;
		}
		(void)xasprintf(&abs, "%s/%s", cwd, c->c_state_dir);
		free(c->c_state_dir);
		c->c_state_dir = abs;
	}
	if (c->c_restart_delay > c->c_restart_delay_max) {
		*errstr = "restart_delay is longer than restart_delay_max";
		return -1;
	}
	if (config_ids(c, errstr) == -1)
		return -1;
	return config_socket(c, errstr);
}

/*
 * Call fn(arg, key, value) for every setting of c, in the file's own
 * syntax and in the order of config_keys[]: what -n prints and what an
 * upgrade hands over.  Optional settings left unset are skipped.
 */
void
config_each(const struct config *c,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	const struct config_key	*k;

	for (k = config_keys; k < config_keys + CONFIG_NKEYS; k++)
		config_value_show(c, k, fn, arg);
}

static void
config_print_line(void *arg, const char *key, const char *value)
{
	config_write_line(arg, key, value);
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

/*
 * The signal that asks a worker of c to stop (stop_signal): its number,
 * and its name without "SIG" in *name.
 */
int
config_stop_signal(const struct config *c, const char **name)
{
	*name = config_signal_words[c->c_stop_signal];
	return config_signal_numbers[c->c_stop_signal];
}
