/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Why sockets are per slot and held by the master.  Connections queued on
 * a slot's socket when its worker dies wait there and are served by the
 * replacement, not reset.  Connections made while a slot has no worker
 * are steered to the slots that have one, so they are served at once.
 */

#include "config.h"

#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define NCONN	24

struct tally {
	int	 served;
	int	 by[3];		/* old slot 0 worker, slot 1, anyone else */
};

static void	 open_all(int, int *);
static void	 read_all(int *, int, long long, long long, struct tally *);

/* Open NCONN connections and send a request on each. */
static void
open_all(int port, int *fd)
{
	int	 i;

	for (i = 0; i < NCONN; i++) {
		if ((fd[i] = tl_connect(port)) == -1)
			sysbail("connect");
		if (tl_http_request(fd[i], "/pid", 0) == -1)
			sysbail("write");
	}
}

/* Read every answer within timeout_ms, counting who served it. */
static void
read_all(int *fd, int timeout_ms, long long old0, long long p1,
    struct tally *t)
{
	char	 body[64];
	int	 i, status;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < NCONN; i++) {
		if (tl_http_response(fd[i], timeout_ms, &status, body,
		    sizeof(body), NULL) == 0 && status == 200) {
			t->served++;
			t->by[atoll(body) == old0 ? 0 : atoll(body) == p1 ? 1 :
			    2]++;
		}
		close(fd[i]);
	}
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_match		 m;
	struct tl_slot_pid	 sp;
	struct tally		 t;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", NULL, NULL };
	long long		 p0, p1;
	int			 fd[NCONN], port;

	plan_lazy();
	/* Every exit is a quick failure, and the restart waits 1 to 2 s. */
	argv[5] = tl_path("examples/hello-c/hello-c");
	j = tl_start_conf(&d, "restart_reset = 1h\nrestart_delay = 2s\n"
	    "restart_delay_max = 2s\n", argv, 1);
	p0 = tl_json_int(j, "slots.0.pid", 0);
	p1 = tl_json_int(j, "slots.1.pid", 0);
	port = tl_port(j, 0);
	tl_json_free(j);

	/*
	 * Worker 0 hangs (SIGSTOP): connections pile up in its queue, as
	 * under a worker stuck or crashing under load.  Then it dies.
	 */
	if (kill((pid_t)p0, SIGSTOP) == -1)
		sysbail("kill");
	open_all(port, fd);
	if (kill((pid_t)p0, SIGKILL) == -1)
		sysbail("kill");
	read_all(fd, 15000, p0, p1, &t);
	is_int(NCONN, t.served, "queued: every connection was served, none "
	    "reset");
	is_int(0, t.by[0], "queued: none by the dead worker");
	ok(t.by[2] > 0, "queued: %d waited for slot 0's replacement, %d went "
	    "to slot 1", t.by[2], t.by[1]);
	sp.slot = 0;
	sp.oldpid = p0;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, 5000);
	ok(j != NULL, "slot 0 has its replacement");
	p0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);

	/* Slot 0 empty again: new connections go to slot 1 meanwhile. */
	if (kill((pid_t)p0, SIGKILL) == -1)
		sysbail("kill");
	m.path = "slots.0.state";
	m.str = "backoff";
	j = tl_status_wait(&d, tl_pred_match, &m, 5000);
	ok(j != NULL, "slot 0 waits in backoff after its worker died");
	is_int(0, tl_json_int(j, "slots.0.pid", -1), "slot 0 has no worker");
	tl_json_free(j);
	open_all(port, fd);
	read_all(fd, 900, p0, p1, &t);
	is_int(NCONN, t.served, "empty slot: every connection was served "
	    "within 0.9 s, none reset");
	is_int(NCONN, t.by[1], "empty slot: all by slot 1's worker");
	j = tl_status(&d);
	is_int(0, tl_json_int(j, "slots.0.pid", -1),
	    "and slot 0 was still empty meanwhile");
	tl_json_free(j);

	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
	return 0;
}
