/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * SIGUSR2 re-executes drover in place: the master keeps its pid, its
 * workers and its listening sockets, and goes on supervising them (a
 * killed worker is replaced, a reload works).  If the binary cannot be
 * executed, the running image keeps running and says why.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

static int	 same_set(const unsigned long *, int, const unsigned long *,
		    int);

/* Whether every inode of a[] is in b[]. */
static int
same_set(const unsigned long *a, int na, const unsigned long *b, int nb)
{
	int	 i, k;

	for (i = 0; i < na; i++) {
		for (k = 0; k < nb; k++)
			if (a[i] == b[k])
				break;
		if (k == nb)
			return 0;
	}
	return na > 0;
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	struct tl_match		 m;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", NULL, NULL };
	unsigned long		 ino0[64], ino1[64], wino[8];
	int			 fdn[64], n0, n1, port, status, i;
	long long		 w0, w1;
	char			 body[64], *copy;

	plan_lazy();
	/* Run a copy of drover, so that the test can take it away. */
	copy = strdup(tl_fmt("%s/drover-copy", tl_tmpdir()));
	if (tl_run((const char *const[]){ "cp", tl_path("supervisor/drover"),
	    copy, NULL }, 10000, NULL) != 0)
		bail("cannot copy drover");
	setenv("TL_DROVER", copy, 1);
	argv[5] = tl_path("examples/hello-c/hello-c");
	if (tl_daemon_start(&d, argv) == -1)
		bail("cannot start drover");
	if ((j = tl_status_wait(&d, tl_pred_all_ready, NULL, 10000)) == NULL)
		bail("workers never became ready");
	w0 = tl_json_int(j, "slots.0.pid", 0);
	w1 = tl_json_int(j, "slots.1.pid", 0);
	port = tl_port(j, 0);
	tl_json_free(j);
	n0 = tl_fd_inodes(d.pid, ino0, fdn, 64);

	tl_daemon_kill(&d, SIGUSR2);
	is_int(0, tl_wait_log(&d, "upgrade: adopted 2 slots, generation 1",
	    10000), "USR2: the new image adopted both slots");
	ok(kill(d.pid, 0) == 0 && !d.exited, "the master kept its pid");
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, 10000);
	ok(j != NULL, "the cluster is ready");
	is_int(d.pid, tl_json_int(j, "pid", 0), "status.json: same pid");
	is_int(w0, tl_json_int(j, "slots.0.pid", 0), "slot 0 kept its worker");
	is_int(w1, tl_json_int(j, "slots.1.pid", 0), "slot 1 kept its worker");
	is_int(port, tl_port(j, 0), "the port is the same");
	tl_json_free(j);
	n1 = tl_fd_inodes(d.pid, ino1, fdn, 64);
	ok(n0 > 0 && same_set(ino0, n0, ino1, n1), "the master holds the "
	    "same sockets (%d before, %d after)", n0, n1);
	i = tl_fd_inodes((pid_t)w0, wino, fdn, 8);
	ok(i > 0 && same_set(wino, 1, ino1, n1), "worker 0's listening "
	    "socket is still one the master holds");
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "it serves");

	/* The adopted workers are still supervised. */
	if (kill((pid_t)w0, SIGKILL) == -1)
		sysbail("kill");
	sp.slot = 0;
	sp.oldpid = w0;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, 10000);
	ok(j != NULL, "a killed adopted worker is reaped and replaced");
	tl_json_free(j);
	tl_daemon_kill(&d, SIGHUP);
	m.path = "generation";
	m.str = NULL;
	m.num = 2;
	j = tl_status_wait(&d, tl_pred_match, &m, 15000);
	ok(j != NULL, "a reload after the upgrade reaches generation 2");
	tl_json_free(j);
	m.path = "reload.result";
	m.str = "ok";
	j = tl_status_wait(&d, tl_pred_match, &m, 15000);
	ok(j != NULL, "and finishes ok");
	tl_json_free(j);

	/* A binary that cannot be executed: the running image stays. */
	if (unlink(copy) == -1)
		sysbail("unlink %s", copy);
	tl_daemon_kill(&d, SIGUSR2);
	is_int(0, tl_wait_log(&d, "cannot re-execute", 10000),
	    "USR2 with the binary gone: the log says why");
	ok(kill(d.pid, 0) == 0, "the master still runs");
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "and it still serves");
	j = tl_status(&d);
	ok(j != NULL && tl_json_int(j, "pid", 0) == d.pid,
	    "status.json still names the master");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
	free(copy);
	return 0;
}
