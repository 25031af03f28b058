/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The master's configuration: struct config, the key table's types and
 * the functions of config*.c, check.c and cpus.c.  Included by
 * drover-master.h.
 */

#ifndef DROVER_CONFIG_H
#define DROVER_CONFIG_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct listener;

#define CONFIG_MAXKEYS		64	/* keys in config.c's table, at most */

/* How a reload replaces workers. */
enum reload_mode {
	RELOAD_ROLLING,		/* c_reload_batch slots at a time */
	RELOAD_ALL		/* every slot at once */
};

/* Where workers' standard output and error go. */
enum output_mode {
	OUTPUT_INHERIT,		/* the master's own */
	OUTPUT_PREFIX		/* through the master, line by line */
};

/* How the master writes its log lines (log.c). */
enum log_format {
	LOG_TEXT,		/* "drover[PID]: ", "slot N pid P stdout: " */
	LOG_JSON		/* one JSON object per line */
};

/* When a worker counts as ready. */
enum ready_mode {
	READY_EXEC,		/* as soon as exec succeeded */
	READY_NOTIFY		/* when it sends READY=1 */
};

/*
 * A complete configuration: built from the defaults, then the file, then
 * the command line.  Nothing in it refers to a running process, so a new
 * one can be parsed and thrown away without disturbing anything.
 */
struct config {
	char		*c_file;	/* the file read, or NULL */
	int		 c_lines[CONFIG_MAXKEYS];	/* per key, the line of
					   c_file that set it (0: none) */
	int		 c_workers;	/* slots; 0 means one per CPU */
	char		**c_listen;	/* listen addresses as written */
	size_t		 c_nlisten;
	char		*c_state_dir;
	char		*c_pidfile;
	enum ready_mode	 c_ready;
	double		 c_ready_timeout;
	double		 c_stop_timeout;
	int		 c_stop_signal;	/* the index of its word (config.c) */
	int		 c_reuseport;
	int		 c_backlog;
	double		 c_restart_delay;
	double		 c_restart_delay_max;
	double		 c_restart_reset;
	int		 c_restart_budget;
	double		 c_restart_window;
	char		**c_argv;	/* the worker command, NULL-ended */
	char		*c_argtext;	/* the text it was read from, or NULL
					   (given after --) */
	char		*c_directory;
	char		**c_env;	/* NAME=VALUE for workers */
	size_t		 c_nenv;
	char		*c_user;
	char		*c_group;
	uid_t		 c_uid;		/* resolved from c_user, or -1 */
	gid_t		 c_gid;
	char		**c_uenv;	/* HOME, USER, LOGNAME and SHELL of
					   c_user, as NAME=VALUE, or NULL */
	char		*c_socket_mode;	/* for unix: listen sockets */
	char		*c_socket_owner;
	char		*c_socket_group;
	int		 c_sockmode;	/* from c_socket_mode, or -1 */
	uid_t		 c_sockuid;	/* from c_socket_owner, or -1 */
	gid_t		 c_sockgid;	/* from c_socket_group, or -1 */
	double		 c_watchdog;	/* 0: off */
	int		 c_min_ready;	/* 0: every slot */
	int		 c_subreaper;
	enum output_mode c_output;
	enum log_format	 c_log_format;
	char		*c_health;	/* the health endpoint's address */
	enum reload_mode c_reload;
	int		 c_reload_batch;	/* 0: auto (reload_batch()) */
	int		 c_reload_retries;
	double		 c_reload_grace;	/* a new worker proves itself */
	long long	 c_max_memory;	/* bytes of RSS; 0: no limit */
	double		 c_max_age;	/* seconds; 0: no limit */

	/* Set when the configuration is put to use (config_activate). */
	uint64_t	 c_gen;		/* its generation */
	int		 c_refs;	/* workers running it, +1 if current */
	struct listener	**c_lis;	/* its listeners, in listen order */
	char		**c_lnames;	/* their LISTEN_FDNAMES names */
	char		*c_fdnames;	/* the LISTEN_FDNAMES value */
	char		**c_wenv;	/* the environment workers start from */
	char		*c_cmdpath;	/* c_argv[0] resolved through PATH */
	char		**c_cmdtry;	/* what a worker tries to execute */
};

/*
 * A configuration key: one line of the key table in config.c, saying
 * which member of struct config holds it and what kind of value it
 * takes.  config-value.c parses, prints and frees values by kind.
 */
enum config_kind {
	CK_INT,		/* an int from k_min to k_max */
	CK_DURATION,	/* seconds in a double; k_min, k_max in milliseconds */
	CK_BOOL,	/* an int, 0 or 1 */
	CK_ENUM,	/* an enum: the index of its word in k_words */
	CK_STRING,	/* a char * */
	CK_LIST,	/* a char ** and its count: each value adds one */
	CK_WORDS,	/* a char **: a command, split into words */
	CK_SIZE		/* bytes in a long long, k_min to k_max */
};

struct config_key {
	const char		*k_name;
	enum config_kind	 k_kind;
	size_t			 k_off;		/* its member */
	size_t			 k_noff;	/* a list's count member */
	const char		*k_def;		/* as written, or NULL */
	long long		 k_min;
	long long		 k_max;
	const char * const	*k_words;	/* an enum's, by value */
	int			 k_flags;
	/* A check of the value beyond its kind's, or NULL. */
	int			(*k_check)(const struct config *, const char *,
				    const char **);
};

#define CF_OPT		0x01	/* may stay unset: printed only when set
				   (not 0 nor NULL); "" unsets a string */
#define CF_AUTO		0x02	/* a number: "auto" stands for 0 */
#define CF_SIGNAL	0x04	/* an enum of signal names: "SIG" may
				   precede the word */

/* config.c */
struct config *
	 config_new(void);
void	 config_free(struct config *);
int	 config_set(struct config *, const char *, const char *,
	    const char **);
int	 config_finish(struct config *, const char **);
void	 config_reset_listen(struct config *);
void	 config_set_argv(struct config *, char **);
void	 config_print(const struct config *, FILE *);
void	 config_each(const struct config *,
	    void (*)(void *, const char *, const char *), void *);
int	 config_activate(struct config *, uint64_t);
void	 config_release(struct config *);
void	 config_set_line(struct config *, const char *, int);
const char *
	 config_where(const struct config *, const char *);
int	 config_stop_signal(const struct config *, const char **);

/* config-value.c */
int	 config_value_set(struct config *, const struct config_key *,
	    const char *, const char **);
void	 config_value_show(const struct config *, const struct config_key *,
	    void (*)(void *, const char *, const char *), void *);
void	 config_value_free(struct config *, const struct config_key *);
void	 config_append(char ***, size_t *, const char *);
void	 config_freev(char **);

/* check.c */
int	 check_worker(const struct config *);

/* cpus.c */
int	 cpus_usable(void);

/* config-write.c */
void	 config_write_line(FILE *, const char *, const char *);
int	 config_fits(const char *, const char *);
char	*config_command_text(const char *, char *const *);

/* config-read.c */
void	 config_init_sources(const char *, const char **, size_t, char **);
struct config *
	 config_read(int *);

#endif /* DROVER_CONFIG_H */
