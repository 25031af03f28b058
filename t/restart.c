/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Crash restarts: a worker killed by SIGKILL or SIGSEGV is replaced in
 * the same slot, by a new process on the very same socket (same inode),
 * the exit is logged and shown in status.json, and the other slot is
 * left alone.  The first quick death is replaced at once, however young
 * the worker; the second backs off.
 */

#include "config.h"

#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "testlib.h"

static void	 crash(struct tl_daemon *, int, int, long long);
static void	 test_young(void);

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
	ino = tl_fd_socket((pid_t)pid, 3);
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
	ino2 = tl_fd_socket((pid_t)npid, 3);
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

/*
 * With a restart delay of 30s, a young worker killed is replaced at once
 * (the old rule waited the delay, in its upper half: 15s or more); its
 * young successor killed too waits the delay.
 */
static void
test_young(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	const char		*argv[] = { "-w", "1", "-l", "127.0.0.1:0",
				    "--", NULL, NULL };
	long long		 pid, ms;
	const char		*st;

	argv[5] = tl_path("examples/hello-c/hello-c");
	j = tl_start_conf(&d, "restart_delay = 30s\nrestart_delay_max = 60s\n"
	    "restart_reset = 1h\n", argv, 1);
	pid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	if (kill((pid_t)pid, SIGKILL) == -1)
		sysbail("kill");
	sp.slot = 0;
	sp.oldpid = pid;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, 10000);
	ok(j != NULL, "young: the first quick death is replaced at once, not "
	    "after restart_delay (30s)");
	is_int(0, tl_json_int(j, "slots.0.failures", -1),
	    "young: it is not counted as a failure");
	pid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	if (pid <= 0 || kill((pid_t)pid, SIGKILL) == -1)
		sysbail("kill %lld", pid);
	j = TL_WAIT(&d, 10000, TL_STR("slots.0.state", "backoff"));
	st = tl_json_str(j, "slots.0.state");
	ms = tl_json_int(j, "slots.0.backoff_ms", -1);
	ok(st != NULL && ms >= 15000 && ms <= 30000, "young: the second "
	    "quick death backs off restart_delay, in its upper half "
	    "(%lld ms)", ms);
	is_int(1, tl_json_int(j, "slots.0.failures", -1),
	    "young: the second is failure 1");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 20000), "young: drover stops with "
	    "status 0");
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
	test_young();
	return 0;
}
