/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * What the files of the test library share among themselves and no test
 * should call: string ownership and the exit hook (tl-path.c), the
 * daemons' and the FIFOs' parts of that hook (tl-daemon.c, tl-file.c),
 * deadlines, /proc and poll(2) with a process watched (tl-proc.c), and
 * the child prologue shared by tl_daemon_start() and tl_run() (tl-run.c).
 * Tests include testlib.h only.
 */

#ifndef DROVER_TL_PRIVATE_H
#define DROVER_TL_PRIVATE_H

#include <sys/types.h>

#include <poll.h>
#include <stdarg.h>

#include "testlib.h"

/* What /proc/PID/stat says; pid and start time name a process for good. */
struct tl_proc {
	pid_t			 p_pid;
	int			 p_ppid;
	char			 p_state;
	unsigned long long	 p_start;
};

/* tl-path.c: the exit hook, registered once; strings freed at exit. */
void		 tl_register(void);
char		*tl_own(char *);
char		*tl_xstrdup(const char *);
char		*tl_vxasprintf(const char *, va_list) TL_PRINTF(1, 0);
char		*tl_xasprintf(const char *, ...) TL_PRINTF(1, 2);

/* tl-daemon.c: the daemons' part of the exit hook; workers to kill then. */
void		 tl_daemon_cleanup(void);
void		 tl_note_workers(pid_t, const struct tl_json *);

/* tl-file.c: the FIFOs' part of the exit hook; a file and its length. */
void		 tl_fifo_cleanup(void);
char		*tl_slurp_len(const char *, size_t *);

/*
 * tl-proc.c: deadlines (a negative timeout never expires), pidfds, /proc,
 * and poll(2) on at most 3 descriptors plus a process's exit.
 */
long long	 tl_deadline(int);
int		 tl_remaining(long long);
int		 tl_pidfd_open(pid_t);
int		 tl_proc(pid_t, struct tl_proc *);
int		 tl_poll(struct pollfd *, int, long long, pid_t, int, int *);
int		 tl_decode(int);

/* tl-run.c: argument vectors and the child's prologue. */
char		**tl_argv(const char *const [], const char *const [],
		    const char *const []);
void		 tl_argv_free(char **);
void		 tl_child_fd(int, int);
void		 tl_child_signals(void);

#endif /* DROVER_TL_PRIVATE_H */
