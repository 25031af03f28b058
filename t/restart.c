/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Crash restarts: a worker killed by SIGKILL or SIGSEGV is replaced in
 * the same slot, by a new process on the very same socket (same inode),
 * the exit is logged and shown in status.json, and the other slot is
 * left alone.
 */

#include "config.h"

#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "testlib.h"

static void	 crash(struct tl_daemon *, int, int, long long);
static unsigned long
		 fd3(pid_t);

/*
 * The socket inode on fd 3 of pid (its listening socket), or 0.  Other
 * sockets may be connections the worker has not closed yet.
 */
static unsigned long
fd3(pid_t pid)
{
	unsigned long	 ino[16];
	int		 fdn[16], n, i;

	n = tl_fd_inodes(pid, ino, fdn, 16);
	for (i = 0; i < n; i++)
		if (fdn[i] == 3)
			return ino[i];
	return 0;
}

/*
 * Kill slot k's worker with sig and check its replacement; other is the
 * pid the other slot must keep.
 */
static void
crash(struct tl_daemon *d, int k, int sig, long long other)
{
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	unsigned long		 ino, ino2;
	int			 port, status;
	long long		 pid, npid;
	char			 body[64];

	j = tl_status(d);
	pid = tl_json_int(j, tl_fmt("slots.%d.pid", k), 0);
	port = tl_port(j, 0);
	tl_json_free(j);
	ino = fd3((pid_t)pid);
	ok(ino != 0, "slot %d: the worker has its socket on fd 3", k);

	if (kill((pid_t)pid, sig) == -1)
		sysbail("kill");
	sp.slot = k;
	sp.oldpid = pid;
	j = tl_status_wait(d, tl_pred_slot_pid_changed, &sp, 10000);
	ok(j != NULL, "slot %d: a new worker after SIG%s", k,
	    sigabbrev_np(sig));
	if (j == NULL)
		return;
	npid = tl_json_int(j, tl_fmt("slots.%d.pid", k), 0);
	ok(npid > 0 && npid != pid, "slot %d: new pid %lld (was %lld)", k,
	    npid, pid);
	ino2 = fd3((pid_t)npid);
	ok(ino == ino2, "slot %d: the new worker has the same socket on fd 3 "
	    "(inode %lu)", k, ino2);
	is_int(sig, tl_json_int(j, tl_fmt("slots.%d.last_exit.signal", k), 0),
	    "slot %d: last_exit.signal", k);
	is_int(pid, tl_json_int(j, tl_fmt("slots.%d.last_exit.pid", k), 0),
	    "slot %d: last_exit.pid", k);
	ok(tl_json_int(j, tl_fmt("slots.%d.restarts", k), 0) >= 1,
	    "slot %d: restarts counted", k);
	is_int(other, tl_json_int(j, tl_fmt("slots.%d.pid", 1 - k), 0),
	    "the other slot kept its worker");
	tl_json_free(j);
	is_int(0, tl_wait_log(d, tl_fmt("slot %d: worker %lld (gen 1) killed "
	    "by signal %d (SIG%s)", k, pid, sig, sigabbrev_np(sig)), 5000),
	    "the exit is logged with slot, pid, generation and signal");
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "the port still serves");
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", NULL, NULL };
	long long		 p1;

	plan_lazy();
	argv[5] = tl_path("examples/hello-c/hello-c");
	j = tl_start(&d, argv, 1);
	p1 = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);
	crash(&d, 0, SIGKILL, p1);

	j = tl_status(&d);
	crash(&d, 1, SIGSEGV, tl_json_int(j, "slots.0.pid", 0));
	tl_json_free(j);

	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
	return 0;
}
