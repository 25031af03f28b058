/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Stopping.  TERM is graceful: `ready` goes first, a request in flight
 * completes, drover exits 0 with no process left and its files removed.
 * QUIT, and a second INT, stop at once.  A worker that ignores SIGTERM
 * gets SIGKILL after the stop timeout.  Workers that serve but ignore
 * SIGTERM (this program, run with --stubborn) are killed the stop
 * timeout after it: in a reload, which then completes, the new
 * generation serving, with no request lost but those a killed worker had
 * accepted; at drover's stop, which takes the stop timeout and exits 0;
 * and at a stop during a reload, which takes no longer.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		20000
#define STOP_MS		500

static struct tl_json *start(struct tl_daemon *, const char *);
static int	 inflight(int, const char *, long long *);
static void	 stubborn_main(void) __attribute__((__noreturn__));
static struct tl_json *stubborn_start(struct tl_daemon *);
static void	 test_stubborn_reload(void);
static void	 test_stubborn_stop(int);

static const char	*self;		/* this program */

/*
 * The worker mode of this program: ignore SIGTERM, say READY=1, then
 * answer every connection on descriptor 3, one at a time, 200 "hello\n"
 * with Connection: close, whatever it asks.  Only SIGKILL ends it.
 */
static void
stubborn_main(void)
{
	static const char	 resp[] = "HTTP/1.1 200 OK\r\nContent-Length: "
				    "6\r\nConnection: close\r\n\r\nhello\n";
	const char		*nfd = getenv("DROVER_NOTIFY_FD");
	char			 req[4096];
	size_t			 len;
	ssize_t			 n;
	int			 fd;

	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (nfd == NULL || write(atoi(nfd), "READY=1\n", 8) != 8)
		_exit(1);
	for (;;) {
		if ((fd = accept(3, NULL, NULL)) == -1)
			continue;
		for (len = 0; len < sizeof(req) - 1; len += (size_t)n) {
			if ((n = read(fd, req + len, sizeof(req) - 1 - len)) <=
			    0)
				break;
			req[len + (size_t)n] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL) {
				if (write(fd, resp, sizeof(resp) - 1) == -1)
					break;
				break;
			}
		}
		close(fd);
	}
}

/* Two stubborn workers, the stop timeout STOP_MS; ready. */
static struct tl_json *
stubborn_start(struct tl_daemon *d)
{
	return tl_start_conf(d, tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "ready = notify\nreload_grace = 100ms\nstop_timeout = %dms\n"
	    "command = %s --stubborn\n", STOP_MS, self), NULL, 1);
}

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

/*
 * A reload of stubborn workers: each old one is killed the stop timeout
 * after its SIGTERM, and the reload completes, not sooner.  A request
 * the killed worker had accepted is lost, no other.
 */
static void
test_stubborn_reload(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	pid_t			 p[2];
	double			 took;

	j = stubborn_start(&d);
	tl_pids(j, p, 2);
	tl_client_start(&c, tl_port(j, 0), 0);
	tl_json_free(j);
	tl_daemon_kill(&d, SIGHUP);
	j = tl_wait_generation(&d, 2, 2, WAIT_MS);
	ok(j != NULL, "stubborn, reload: generation 2 serves alone");
	took = tl_json_num(j, "reload.finished", 0) -
	    tl_json_num(j, "reload.started", 0);
	ok(took >= STOP_MS / 1000. && took < STOP_MS / 1000. + 10, "stubborn, "
	    "reload: it took %.2fs, not less than the stop timeout", took);
	tl_check_true(&d, j, "stubborn, reload", 0);
	tl_json_free(j);
	is_int(2, tl_log_count(&d, tl_fmt("still running %gs after SIGTERM: "
	    "sending SIGKILL", STOP_MS / 1000.)), "stubborn, reload: both old "
	    "workers were sent SIGKILL, the log says");
	ok(tl_wait_pid_gone(p[0], WAIT_MS) == 0 && tl_wait_pid_gone(p[1],
	    WAIT_MS) == 0, "stubborn, reload: both are gone");
	tl_check_client(&c, NULL, "stubborn, reload", 10, 2);
	is_int(0, tl_log_count(&d, "fatal"), "stubborn, reload: nothing "
	    "fatal");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "stubborn, reload: drover "
	    "stops with status 0");
}

/*
 * drover's stop with stubborn workers, or (during) with one of them
 * already stopping in a reload: it exits 0 once they are killed, the
 * stop timeout after the stop, not later.
 */
static void
test_stubborn_stop(int during)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*what = during ? "stubborn, stop during a "
				    "reload" : "stubborn, stop";
	pid_t			 p[2];
	long long		 t0, took;

	j = stubborn_start(&d);
	tl_pids(j, p, 2);
	tl_json_free(j);
	if (during) {
		tl_daemon_kill(&d, SIGHUP);
		j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.old.state",
		    "stopping"));
		ok(j != NULL, "%s: slot 0's old worker was sent SIGTERM",
		    what);
		tl_json_free(j);
	}
	t0 = tl_now_ms();
	tl_daemon_kill(&d, SIGTERM);
	is_int(0, tl_daemon_wait(&d, WAIT_MS), "%s: drover exits 0", what);
	took = tl_now_ms() - t0;
	ok(took < STOP_MS + 5000 && (during || took >= STOP_MS), "%s: in "
	    "%lld ms, the stop timeout (%d ms) and no more", what, took,
	    STOP_MS);
	ok(tl_wait_pid_gone(p[0], WAIT_MS) == 0 && tl_wait_pid_gone(p[1],
	    WAIT_MS) == 0, "%s: the workers are gone", what);
	ok(tl_log_count(&d, "sending SIGKILL") >= 2, "%s: killed, the log "
	    "says", what);
	ok(access(tl_fmt("%s/status.json", d.state), F_OK) == -1,
	    "%s: the state files are removed", what);
}

int
main(int argc, char *argv[])
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_match		 m;
	const char		*pidfile, *shargv[] = { "-w", "1",
				    "--stop-timeout", "300ms", "--ready",
				    "notify", "--", "/bin/sh", "-c",
				    "trap '' TERM; "
				    "echo READY=1 >&$DROVER_NOTIFY_FD; "
				    "exec sleep 600", NULL };
	long long		 w0, w1, busy;
	int			 fd, status, closehdr, rv;
	char			 body[64], *s;

	if (argc == 2 && strcmp(argv[1], "--stubborn") == 0)
		stubborn_main();
	plan_lazy();
	if ((self = realpath("/proc/self/exe", NULL)) == NULL)
		sysbail("realpath /proc/self/exe");

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
	j = tl_start(&d, shargv, 1);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	tl_daemon_kill(&d, SIGTERM);
	is_int(0, tl_daemon_wait(&d, 10000), "stop timeout: drover exits 0");
	is_int(0, tl_wait_pid_gone((pid_t)w0, 5000),
	    "stop timeout: the stubborn worker is gone");
	is_int(0, tl_wait_log(&d, "still running 0.3s after SIGTERM: sending "
	    "SIGKILL", 1000), "stop timeout: the log says so");

	test_stubborn_reload();
	test_stubborn_stop(0);
	test_stubborn_stop(1);
	return 0;
}
