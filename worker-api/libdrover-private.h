/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The inside of libdrover's opaque handle, shared by libdrover.c (the
 * environment, the sockets and the notify channels) and libdrover-ev.c
 * (the optional libev helper).  Nothing here is installed: programs see
 * only the incomplete type of drover.h, so the layout may change without
 * touching the ABI.  Every bit of the library's state lives in this
 * structure; there are no file-scope variables.
 */

#ifndef LIBDROVER_PRIVATE_H
#define LIBDROVER_PRIVATE_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stdint.h>

#include <ev.h>

/* The longest message drover_notify() sends: one datagram or one line. */
#define DW_NOTIFY_MAX	4096

struct drover_worker {
	int		  dw_manager;	/* DROVER_MANAGER_* */
	int		  dw_nfds;	/* listening sockets at fd 3.. */
	const char	**dw_names;	/* their names, dw_nfds of them */
	char		 *dw_namebuf;	/* LISTEN_FDNAMES, split in place */

	int		  dw_id;	/* DROVER_WORKER_ID, or -1 */
	int		  dw_workers;	/* DROVER_WORKERS, or 0 */
	uint64_t	  dw_gen;	/* DROVER_GENERATION, or 0 */

	int		  dw_streamfd;	/* DROVER_NOTIFY_FD, or -1 */
	int		  dw_dgramfd;	/* our socket to NOTIFY_SOCKET, or -1 */
	struct sockaddr_un dw_addr;	/* NOTIFY_SOCKET */
	socklen_t	  dw_addrlen;	/* 0: no NOTIFY_SOCKET */

	uint64_t	  dw_wdusec;	/* WATCHDOG_USEC, or 0 */

	/* The libev helper, set by drover_ev_start(). */
	struct ev_loop	 *dw_loop;	/* NULL: not started */
	void		(*dw_on_term)(struct drover_worker *, void *);
	void		 *dw_arg;
	void		(*dw_ev_stop)(struct drover_worker *);
	ev_timer	  dw_wdtimer;
	ev_signal	  dw_sigterm;
	ev_signal	  dw_sigint;
};

#endif /* LIBDROVER_PRIVATE_H */
