/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * A retiring slot keeps its sockets open a while after new connections
 * stopped reaching it, so that a handshake begun just before, whose end
 * was still on its way, is served and not reset.  Over a network that is
 * the client's ACK one round trip late; here the workers make the kernel
 * wait for the request itself (TCP_DEFER_ACCEPT, as nginx's `deferred`
 * and many servers set it), which holds the connection half-open on the
 * socket of the slot the steering program picked until the client
 * writes.  With three slots (ready = notify: a worker is ready once
 * hello-c runs, after the option is set), connections are made and left
 * silent; SIGTTOU retires slot 2, its worker (which accepted none of
 * them, and lingers on nothing: -L 0) stops at once; once the master has
 * seen it go, every client sends its request, and every one must be
 * answered, those on slot 2 by a worker that drains its queue.  Closing
 * the sockets as the worker went reset them.  (t/reload's new-connection
 * client saw such a reset during TTIN/TTOU rounds.)
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

#define WAIT_MS	20000
#define NCONN	30

/* The worker: defer accept on its socket (descriptor 3), then hello-c. */
#define DEFER	"import os, socket, sys\n" \
		"from socket import IPPROTO_TCP, TCP_DEFER_ACCEPT\n" \
		"s = socket.socket(fileno=3)\n" \
		"s.setsockopt(IPPROTO_TCP, TCP_DEFER_ACCEPT, 30)\n" \
		"s.detach()\n" \
		"os.execv(sys.argv[1], sys.argv[1:])\n"

static int	 pred_slot2_empty(const struct tl_json *, void *);

/* Slot 2 has no worker any longer, or is gone. */
static int
pred_slot2_empty(const struct tl_json *j, void *arg)
{
	(void)arg;
	return tl_json_int(j, "slots.2.id", -1) == -1 ||
	    tl_json_int(j, "slots.2.pid", -1) == 0;
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "3", "--ready", "notify",
				    "-l", "127.0.0.1:0", "--",
				    "/usr/bin/python3", "-c", DEFER, NULL,
				    "-L", "0", NULL };
	char			 body[64];
	long long		 p2;
	int			 fd[NCONN], i, port, status, served = 0;

	plan_lazy();
	argv[10] = tl_path("examples/hello-c/hello-c");
	j = tl_start(&d, argv, 1);
	port = tl_port(j, 0);
	p2 = tl_json_int(j, "slots.2.pid", 0);
	tl_json_free(j);

	for (i = 0; i < NCONN; i++)
		if ((fd[i] = tl_connect(port)) == -1)
			sysbail("connect");
	if (tl_daemon_kill(&d, SIGTTOU) == -1)
		sysbail("SIGTTOU to drover");
	is_int(0, tl_wait_pid_gone((pid_t)p2, WAIT_MS), "slot 2's worker, "
	    "which accepted nothing, stops at once");
	j = tl_status_wait(&d, pred_slot2_empty, NULL, WAIT_MS);
	ok(j != NULL, "the master saw it go");
	tl_json_free(j);

	for (i = 0; i < NCONN; i++)
		if (tl_http_request(fd[i], "/pid", 0) == -1)
			sysbail("write");
	for (i = 0; i < NCONN; i++) {
		if (tl_http_response(fd[i], 10000, &status, body, sizeof(body),
		    NULL) == 0 && status == 200)
			served++;
		close(fd[i]);
	}
	is_int(NCONN, served, "every connection begun before the retire was "
	    "served, none reset");
	is_int(0, tl_wait_log(&d, "slot 2: retired", WAIT_MS), "then slot 2 "
	    "retired");
	is_int(1, tl_log_count(&d, "slot 2: a worker drains what is queued"),
	    "a worker drained slot 2's queue");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "drover stops with status 0");
	return 0;
}
