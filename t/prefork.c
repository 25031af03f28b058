/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Prefork: drover starts one worker per slot, each worker holds exactly
 * its own slot's socket (one SO_REUSEPORT socket per slot, all on one
 * port, all held by the master too), workers see their slot in the
 * environment, and new connections reach every worker.
 */

#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define NSLOTS	3

static int	 pred_ready(const struct tl_json *, void *);

/*
 * Every slot ready; a version that wants another number of workers is
 * noted in *arg.
 */
static int
pred_ready(const struct tl_json *j, void *arg)
{
	int	*lapse = arg;

	if (tl_json_int(j, "workers", -1) != NSLOTS)
		*lapse = 1;
	return tl_pred_all_ready(j, NULL);
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "3", "-l", "127.0.0.1:0",
				    "--", NULL, NULL };
	unsigned long		 ino[NSLOTS][8], mino[64];
	long long		 pid[NSLOTS];
	int			 fdn[8], mfdn[64], n[NSLOTS], nm, i, k, port;
	int			 seen[NSLOTS] = { 0 }, status, tries, all;
	int			 lapse = 0;
	char			 body[64], path[32];

	plan_lazy();
	argv[5] = tl_path("examples/hello-c/hello-c");
	tl_start(&d, argv, 0);
	if ((j = tl_status_wait(&d, pred_ready, &lapse, TL_READY_MS)) == NULL)
		bail("drover did not get ready");
	ok(!lapse, "every status.json since the start wanted 3 workers");
	is_int(NSLOTS, tl_json_int(j, "workers", -1), "status.json: 3 slots");
	is_int(NSLOTS, tl_json_int(j, "workers_ready", -1),
	    "status.json: 3 ready");
	is_int(d.pid, tl_json_int(j, "pid", -1), "status.json: master pid");
	is_int(1, tl_json_int(j, "generation", -1), "generation 1");
	port = tl_port(j, 0);
	ok(port > 0, "listener 0 has a bound port (%d)", port);
	is_int(NSLOTS, tl_json_int(j, "listeners.0.sockets", -1),
	    "one socket per slot");
	ok(tl_json_bool(j, "listeners.0.reuseport") == 1, "reuseport");
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == 0, "ready file");
	ok(access(tl_fmt("%s/live", d.state), F_OK) == 0, "live file");

	for (k = 0; k < NSLOTS; k++) {
		(void)snprintf(path, sizeof(path), "slots.%d.pid", k);
		pid[k] = tl_json_int(j, path, 0);
		ok(pid[k] > 0, "slot %d has a worker (%lld)", k, pid[k]);
		for (i = 0; i < k; i++)
			ok(pid[i] != pid[k], "slots %d and %d: distinct pids",
			    i, k);
		n[k] = tl_fd_inodes((pid_t)pid[k], ino[k], fdn, 8);
		is_int(2, n[k], "worker %d holds two sockets", k);
		ok(fdn[0] == 3 && fdn[1] == 4, "worker %d: its listening "
		    "socket on fd 3, its notify stream on fd 4", k);
		is_string("4", tl_env_of(pid[k], "DROVER_NOTIFY_FD"),
		    "worker %d: DROVER_NOTIFY_FD", k);
		for (i = 0; i < k; i++)
			ok(ino[i][0] != ino[k][0],
			    "workers %d and %d hold different sockets", i, k);
	}
	nm = tl_fd_inodes(d.pid, mino, mfdn, 64);
	for (k = 0; k < NSLOTS; k++) {
		for (i = 0; i < nm; i++)
			if (mino[i] == ino[k][0])
				break;
		ok(i < nm, "the master holds slot %d's socket too", k);
	}

	/* Each worker knows its slot, and sd_listen_fds(3) would work. */
	for (k = 0; k < NSLOTS; k++) {
		is_string(tl_fmt("%d", k), tl_env_of(pid[k],
		    "DROVER_WORKER_ID"), "worker %d: DROVER_WORKER_ID", k);
		is_string("3", tl_env_of(pid[k], "DROVER_WORKERS"),
		    "worker %d: DROVER_WORKERS", k);
		is_string("1", tl_env_of(pid[k], "DROVER_GENERATION"),
		    "worker %d: DROVER_GENERATION", k);
		is_string("1", tl_env_of(pid[k], "LISTEN_FDS"),
		    "worker %d: LISTEN_FDS", k);
		is_string(tl_fmt("%lld", pid[k]), tl_env_of(pid[k],
		    "LISTEN_PID"), "worker %d: LISTEN_PID is its own pid", k);
		is_string("listen0", tl_env_of(pid[k], "LISTEN_FDNAMES"),
		    "worker %d: LISTEN_FDNAMES", k);
	}

	/* New connections reach every worker (reuseport hashing). */
	all = 0;
	for (tries = 0; tries < 300 && !all; tries++) {
		if (tl_http_get(port, "/pid", &status, body,
		    sizeof(body)) == -1 || status != 200) {
			ok(0, "GET /pid failed");
			break;
		}
		for (k = 0; k < NSLOTS; k++)
			if (atoll(body) == pid[k])
				seen[k] = 1;
		all = seen[0] && seen[1] && seen[2];
	}
	ok(all, "connections reached every worker (%d connections)", tries);

	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
	for (k = 0; k < NSLOTS; k++)
		is_int(0, tl_wait_pid_gone((pid_t)pid[k], 5000),
		    "worker %d is gone", k);
	return 0;
}
