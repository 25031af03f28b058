/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The private header of droverctl(8), the control command of a running
 * drover master: finding the master (ctl-find.c), reading its
 * status.json (json.c, the reader the tests use too), waiting on it
 * (ctl-wait.c), showing it (ctl-status.c) and the commands that signal
 * it (ctl.c).  droverctl shares only shared.h with the master and links
 * neither libev nor the master's code.
 */

#ifndef DROVER_CTL_H
#define DROVER_CTL_H

#include <sys/types.h>

#include <stdio.h>

#include "json.h"
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

/* The master being controlled. */
struct ctl {
	const char	*c_where;	/* how it was named, for messages */
	int		 c_dirfd;	/* its state directory */
	int		 c_turnfd;	/* state_dir/ctl.lock, while locked */
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

/* ctl-wait.c */
double		 ctl_now(void);
struct json	*ctl_read(struct ctl *);
struct json	*ctl_wait(struct ctl *,
		    int (*)(const struct json *, void *), void *);
void		 ctl_wait_gone(struct ctl *);

/* ctl-status.c */
void		 ctl_status(const struct json *, int);

#endif /* DROVER_CTL_H */
