/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Why sockets are per slot and held by the master: connections that
 * arrive while a slot has no worker (its worker crashed and the slot waits
 * out a restart delay) are queued on the slot's socket and served by the
 * replacement, not reset.
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

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_match		 m;
	const char		*conf, *argv[] = { "-c", NULL, "-w", "2",
				    "-l", "127.0.0.1:0", "--", NULL, NULL };
	long long		 p0, p1, np0;
	int			 fd[NCONN], i, port, status, served = 0;
	int			 byold = 0, bynew = 0, byother = 0;
	char			 body[64];

	plan_lazy();
	/* Every exit is a quick failure, and the restart waits 1 to 2 s. */
	conf = tl_fmt("%s/drover.conf", tl_tmpdir());
	tl_write_file(conf, "restart_reset = 1h\nrestart_delay = 2s\n"
	    "restart_delay_max = 2s\n");
	argv[1] = conf;
	argv[7] = tl_path("examples/hello-c/hello-c");
	if (tl_daemon_start(&d, argv) == -1)
		bail("cannot start drover");
	if ((j = tl_status_wait(&d, tl_pred_all_ready, NULL, 10000)) == NULL)
		bail("workers never became ready");
	p0 = tl_json_int(j, "slots.0.pid", 0);
	p1 = tl_json_int(j, "slots.1.pid", 0);
	port = tl_port(j, 0);
	tl_json_free(j);

	if (kill((pid_t)p0, SIGKILL) == -1)
		sysbail("kill");
	m.path = "slots.0.state";
	m.str = "backoff";
	j = tl_status_wait(&d, tl_pred_match, &m, 5000);
	ok(j != NULL, "slot 0 waits in backoff after its worker died");
	is_int(0, tl_json_int(j, "slots.0.pid", -1), "slot 0 has no worker");
	tl_json_free(j);

	/* Connect while slot 0 is empty: about half land on its socket. */
	for (i = 0; i < NCONN; i++) {
		if ((fd[i] = tl_connect(port)) == -1)
			sysbail("connect");
		if (tl_http_request(fd[i], "/pid", 0) == -1)
			sysbail("write");
	}
	j = tl_status(&d);
	ok(j != NULL && tl_json_int(j, "slots.0.pid", -1) == 0,
	    "all %d connections were made while slot 0 had no worker", NCONN);
	tl_json_free(j);

	for (i = 0; i < NCONN; i++) {
		if (tl_http_response(fd[i], 10000, &status, body, sizeof(body),
		    NULL) == 0 && status == 200) {
			served++;
			if (atoll(body) == p1)
				byother++;
			else if (atoll(body) == p0)
				byold++;
			else
				bynew++;
		}
		close(fd[i]);
	}
	is_int(NCONN, served, "every connection was served, none reset");
	is_int(0, byold, "none by the dead worker");
	ok(bynew > 0, "%d served by slot 0's replacement, %d by slot 1",
	    bynew, byother);

	j = tl_status(&d);
	np0 = tl_json_int(j, "slots.0.pid", 0);
	ok(np0 > 0 && np0 != p0, "slot 0 has its replacement (%lld)", np0);
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
	return 0;
}
