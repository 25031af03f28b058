/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Stopping.  TERM is graceful: `ready` goes first, a request in flight
 * completes, drover exits 0 with no process left and its files removed.
 * QUIT, and a second INT, stop at once.  A worker that ignores SIGTERM
 * gets SIGKILL after the stop timeout.
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

static struct tl_json *start(struct tl_daemon *, const char *);
static int	 inflight(int, const char *, long long *);

/*
 * Start drover with two hello-c workers and a pid file; return the
 * status once every worker is ready.
 */
static struct tl_json *
start(struct tl_daemon *d, const char *pidfile)
{
	const char	*argv[] = { "-w", "2", "-l", "127.0.0.1:0", "-p", NULL,
			    "--stop-timeout", "20s", "--", NULL, NULL };

	argv[5] = pidfile;
	argv[9] = tl_path("examples/hello-c/hello-c");
	return tl_start(d, argv, 1);
}

/*
 * Open a connection a worker has accepted (a first request answered on
 * it proves that), then send path on it.  Returns the descriptor; the
 * worker's pid goes to *pid.
 */
static int
inflight(int port, const char *path, long long *pid)
{
	char	 body[64];
	int	 fd, status;

	if ((fd = tl_connect(port)) == -1)
		sysbail("connect");
	if (tl_http_request(fd, "/pid", 1) == -1 ||
	    tl_http_response(fd, 5000, &status, body, sizeof(body), NULL) ==
	    -1 || status != 200)
		bail("no answer on a fresh connection");
	*pid = atoll(body);
	if (tl_http_request(fd, path, 1) == -1)
		sysbail("write");
	return fd;
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_match		 m;
	const char		*pidfile, *argv[] = { "-w", "1",
				    "--stop-timeout", "300ms", "--ready",
				    "notify", "--", "/bin/sh", "-c",
				    "trap '' TERM; "
				    "echo READY=1 >&$DROVER_NOTIFY_FD; "
				    "exec sleep 600", NULL };
	long long		 w0, w1, busy;
	int			 fd, status, closehdr, rv;
	char			 body[64], *s;

	plan_lazy();

	/* TERM with a request in flight. */
	pidfile = tl_fmt("%s/drover.pid", tl_tmpdir());
	j = start(&d, pidfile);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	w1 = tl_json_int(j, "slots.1.pid", 0);
	fd = inflight(tl_port(j, 0), "/slow?ms=1500", &busy);
	tl_json_free(j);
	s = tl_slurp(pidfile);
	ok(s != NULL && atol(s) == d.pid, "the pid file holds the master's "
	    "pid");
	free(s);
	tl_daemon_kill(&d, SIGTERM);
	m.path = "state";
	m.str = "stopping";
	j = tl_status_wait(&d, tl_pred_match, &m, 5000);
	ok(j != NULL, "status.json says stopping");
	ok(j != NULL && tl_json_bool(j, "ready") == 0, "and not ready");
	tl_json_free(j);
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == -1,
	    "the ready file is gone while the request is still in flight");
	rv = tl_http_response(fd, 10000, &status, body, sizeof(body),
	    &closehdr);
	ok(rv == 0 && status == 200 && strcmp(body, "slow\n") == 0,
	    "the request in flight completed");
	ok(rv == 0 && closehdr, "with Connection: close");
	close(fd);
	is_int(0, tl_daemon_wait(&d, 20000), "drover exits 0");
	is_int(0, tl_wait_pid_gone((pid_t)w0, 5000), "worker 0 is gone");
	is_int(0, tl_wait_pid_gone((pid_t)w1, 5000), "worker 1 is gone");
	ok(access(pidfile, F_OK) == -1, "the pid file is removed");
	ok(access(tl_fmt("%s/status.json", d.state), F_OK) == -1 &&
	    access(tl_fmt("%s/live", d.state), F_OK) == -1 &&
	    access(tl_fmt("%s/ready", d.state), F_OK) == -1,
	    "the state files are removed");

	/* QUIT: at once, even with a request in flight. */
	j = start(&d, pidfile);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	fd = inflight(tl_port(j, 0), "/slow?ms=30000", &busy);
	tl_json_free(j);
	tl_daemon_kill(&d, SIGQUIT);
	is_int(0, tl_daemon_wait(&d, 5000), "QUIT: drover exits 0 at once");
	is_int(0, tl_wait_pid_gone((pid_t)w0, 5000) +
	    tl_wait_pid_gone((pid_t)busy, 5000), "QUIT: workers gone");
	ok(tl_http_response(fd, 5000, &status, body, sizeof(body), NULL) != 0,
	    "QUIT: the long request was cut");
	close(fd);
	is_int(0, tl_wait_log(&d, "killed by signal 9 (SIGKILL)", 1000),
	    "QUIT: workers were killed");

	/* INT, then INT again. */
	j = start(&d, pidfile);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	fd = inflight(tl_port(j, 0), "/slow?ms=30000", &busy);
	tl_json_free(j);
	tl_daemon_kill(&d, SIGINT);
	m.path = "state";
	m.str = "stopping";
	j = tl_status_wait(&d, tl_pred_match, &m, 5000);
	ok(j != NULL, "INT: stopping gracefully");
	tl_json_free(j);
	ok(kill((pid_t)busy, 0) == 0, "INT: the busy worker is still "
	    "finishing its request");
	tl_daemon_kill(&d, SIGINT);
	is_int(0, tl_daemon_wait(&d, 5000), "second INT: drover exits 0");
	is_int(0, tl_wait_pid_gone((pid_t)busy, 5000),
	    "second INT: workers gone");
	close(fd);

	/* A worker that ignores SIGTERM is killed after the stop timeout. */
	j = tl_start(&d, argv, 1);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	tl_daemon_kill(&d, SIGTERM);
	is_int(0, tl_daemon_wait(&d, 10000), "stop timeout: drover exits 0");
	is_int(0, tl_wait_pid_gone((pid_t)w0, 5000),
	    "stop timeout: the stubborn worker is gone");
	is_int(0, tl_wait_log(&d, "still running 0.3s after SIGTERM: sending "
	    "SIGKILL", 1000), "stop timeout: the log says so");
	return 0;
}
