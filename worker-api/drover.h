/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * libdrover: the worker side of drover(8), and of plain systemd socket
 * activation.  A worker opens a handle once; it then finds its listening
 * sockets (by index or by name), tells its supervisor that it is ready,
 * stopping or reloading, what it is doing (STATUS=) and that it is alive
 * (WATCHDOG=1), in the vocabulary of sd_notify(3).  Every call returns -1
 * and sets errno on failure; the library never exits, never prints and
 * never installs a signal handler unless asked to through
 * drover_ev_start().  See libdrover(3).
 */

#ifndef DROVER_H
#define DROVER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An opaque handle on what the worker was given. */
struct drover_worker;

/* Who started this process: the answer of drover_manager(). */
#define DROVER_MANAGER_NONE	0	/* neither: no sockets, no channel */
#define DROVER_MANAGER_SYSTEMD	1	/* systemd socket activation/notify */
#define DROVER_MANAGER_DROVER	2	/* a drover(8) master */

/* Flags for drover_open(). */
#define DROVER_UNSETENV		0x1	/* remove the variables once read */

struct ev_loop;

int		 drover_open(struct drover_worker **, int);
void		 drover_close(struct drover_worker *);
int		 drover_manager(const struct drover_worker *);

int		 drover_listen_count(const struct drover_worker *);
int		 drover_listen_fd(const struct drover_worker *, int);
int		 drover_listen_fd_by_name(const struct drover_worker *,
		    const char *);
const char	*drover_listen_name(const struct drover_worker *, int);

int		 drover_worker_id(const struct drover_worker *);
int		 drover_workers(const struct drover_worker *);
uint64_t	 drover_generation(const struct drover_worker *);

int		 drover_notify(struct drover_worker *, const char *);
int		 drover_ready(struct drover_worker *);
int		 drover_stopping(struct drover_worker *);
int		 drover_reloading(struct drover_worker *);
int		 drover_status(struct drover_worker *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));
int		 drover_watchdog(struct drover_worker *);
uint64_t	 drover_watchdog_usec(const struct drover_worker *);

int		 drover_ev_start(struct drover_worker *, struct ev_loop *,
		    void (*)(struct drover_worker *, void *), void *);
void		 drover_ev_stop(struct drover_worker *);

#ifdef __cplusplus
}
#endif

#endif /* DROVER_H */
