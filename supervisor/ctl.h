/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The private header of droverctl(8), the control command of a running
 * drover master: finding the master (ctl-find.c), reading its
 * status.json (ctl-json.c), waiting on it (ctl-wait.c), showing it
 * (ctl-status.c) and the commands that signal it (ctl.c).  droverctl
 * shares only shared.h with the master and links neither libev nor the
 * master's code.
 */

#ifndef DROVER_CTL_H
#define DROVER_CTL_H

#include <sys/types.h>

#include <stdio.h>

#include "shared.h"

/* Exit codes, documented in droverctl(8). */
#define CTL_OK		0
#define CTL_REFUSED	1	/* the master refused, failed, rolled back */
#define CTL_USAGE	64
#define CTL_NOMASTER	69	/* none runs there, or it went away */
#define CTL_OSERR	71
#define CTL_PROTOCOL	76	/* status.json is not what was expected */
#define CTL_NOPERM	77
#define CTL_TIMEOUT	124

/* The most slots a master has (DROVER_MAX_WORKERS). */
#define CTL_MAX_WORKERS	1024

/* A JSON value of status.json (ctl-json.c). */
enum ctl_jtype {
	CJ_NULL,
	CJ_BOOL,
	CJ_NUM,
	CJ_STR,
	CJ_ARR,
	CJ_OBJ
};

struct ctl_json {
	enum ctl_jtype	  j_type;
	double		  j_num;	/* CJ_NUM; CJ_BOOL: 0 or 1 */
	char		 *j_str;	/* CJ_STR */
	size_t		  j_n;		/* members or elements */
	char		**j_keys;	/* CJ_OBJ */
	struct ctl_json	**j_vals;
};

/* The master being controlled. */
struct ctl {
	const char	*c_where;	/* how it was named, for messages */
	int		 c_dirfd;	/* its state directory */
	pid_t		 c_pid;
	int		 c_pidfd;	/* -1 where pidfd_open(2) is missing */
	int		 c_inotify;	/* watches the state directory */
	double		 c_deadline;	/* CLOCK_MONOTONIC seconds */
};

/* ctl.c */
void		 ctl_fail(int, const char *, ...)
		    __attribute__((__noreturn__))
		    __attribute__((__format__(__printf__, 2, 3)));

/* ctl-find.c */
void		 ctl_find_dir(struct ctl *, const char *);
void		 ctl_find_pidfile(struct ctl *, const char *);
void		 ctl_find_pid(struct ctl *, pid_t);
void		 ctl_signal(struct ctl *, int);
int		 ctl_alive(struct ctl *);

/* ctl-json.c */
struct ctl_json	*ctl_json_parse(const char *);
void		 ctl_json_free(struct ctl_json *);
const struct ctl_json *
		 ctl_json_get(const struct ctl_json *, const char *);
double		 ctl_json_num(const struct ctl_json *, const char *, double);
const char	*ctl_json_str(const struct ctl_json *, const char *);

/* ctl-wait.c */
double		 ctl_now(void);
struct ctl_json	*ctl_read(struct ctl *);
struct ctl_json	*ctl_wait(struct ctl *,
		    int (*)(const struct ctl_json *, void *), void *);
void		 ctl_wait_gone(struct ctl *);

/* ctl-status.c */
void		 ctl_status(const struct ctl_json *, int);

#endif /* DROVER_CTL_H */
