/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The example workers under the real drover, each with --ready notify, so
 * that the notify protocol is exercised end to end: hello-c (libdrover,
 * the DROVER_NOTIFY_FD stream, STATUS=), Node.js (the stream, written by
 * hand; a graceful stop with kept-alive connections), Python (sd_notify
 * datagrams on NOTIFY_SOCKET) and a POSIX sh job-queue worker that serves
 * no socket (the stream from the shell; two workers sharing a spool).
 * node and python3 must be in PATH: CI installs them, so their absence
 * fails the test rather than skipping it.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define NJOBS		3
#define START_MS	20000	/* interpreters can be slow on a busy CI host */

static struct tl_json *start(struct tl_daemon *, const char *const [],
		    const char *);
static int	 pred_settled(const struct tl_json *, void *);
static int	 dir_empty(const char *);
static int	 pred_serving(const struct tl_json *, void *);
static int	 pred_processed(const struct tl_json *, void *);
static int	 wait_files(const char *, const char *const *, int, int);
static void	 test_hello_c(void);
static void	 test_node(void);
static void	 test_python(void);
static void	 test_shell(void);

/* Whether dir has no entry but "." and ".." (0 also if unreadable). */
static int
dir_empty(const char *dir)
{
	DIR		*dp;
	struct dirent	*de;
	int		 empty = 1;

	if ((dp = opendir(dir)) == NULL)
		return 0;
	while (empty && (de = readdir(dp)) != NULL)
		empty = strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0;
	closedir(dp);
	return empty;
}

/*
 * Every worker is ready, or some slot will not be ready soon: it halted
 * (exit 78), failed, or is backing off after a failed start.  This ends
 * the wait early when an example cannot start at all.
 */
static int
pred_settled(const struct tl_json *j, void *arg)
{
	const char	*s;
	size_t		 i, n = tl_json_len(j, "slots");

	if (tl_pred_all_ready(j, arg))
		return 1;
	for (i = 0; i < n; i++) {
		s = tl_json_str(j, tl_fmt("slots.%zu.state", i));
		if (s != NULL && (strcmp(s, "halted") == 0 ||
		    strcmp(s, "failed") == 0 || strcmp(s, "backoff") == 0))
			return 1;
	}
	return 0;
}

/*
 * Start drover with argv and wait until every worker has said READY=1.
 * Returns that status, or NULL after a failed test naming what (the
 * daemon is killed; the test library shows its log at exit).  Not
 * tl_start()'s wait, which bails out: an example that cannot start (its
 * interpreter broken, say) is one failed test, and the others still run.
 */
static struct tl_json *
start(struct tl_daemon *d, const char *const argv[], const char *what)
{
	struct tl_json	*j;
	const char	*why = NULL;
	size_t		 i;

	tl_start(d, argv, 0);
	j = tl_status_wait(d, pred_settled, NULL, START_MS);
	if (j != NULL && !tl_pred_all_ready(j, NULL)) {
		for (i = 0; i < tl_json_len(j, "slots") && why == NULL; i++)
			why = tl_json_str(j,
			    tl_fmt("slots.%zu.last_exit.status", i));
		diag("%s: a worker cannot start: %s", what,
		    why != NULL ? why : "?");
		tl_json_free(j);
		j = NULL;
	}
	ok(j != NULL, "%s: every worker says READY=1", what);
	if (j == NULL) {
		(void)tl_daemon_kill(d, SIGKILL);
		(void)tl_daemon_wait(d, 5000);
	}
	return j;
}

/* Every slot has a STATUS= text starting with "serving ". */
static int
pred_serving(const struct tl_json *j, void *arg)
{
	const char	*s;
	size_t		 i, n = tl_json_len(j, "slots");

	(void)arg;
	for (i = 0; i < n; i++) {
		s = tl_json_str(j, tl_fmt("slots.%zu.status", i));
		if (s == NULL || strncmp(s, "serving ", 8) != 0)
			return 0;
	}
	return n > 0;
}

/*
 * The slots' "processed N jobs" texts add up to *(int *)arg jobs.
 */
static int
pred_processed(const struct tl_json *j, void *arg)
{
	const char	*s;
	size_t		 i, n = tl_json_len(j, "slots");
	int		 k, sum = 0;

	for (i = 0; i < n; i++) {
		s = tl_json_str(j, tl_fmt("slots.%zu.status", i));
		if (s == NULL || sscanf(s, "processed %d jobs", &k) != 1)
			return 0;
		sum += k;
	}
	return sum == *(const int *)arg;
}

/*
 * Wait until the n files names[] all exist in dir: 0, or -1 at the
 * deadline.  An inotify watch on dir wakes the wait whenever an entry
 * appears there; the watch is set before the first look, so that no
 * arrival falls between a look and the wait.
 */
static int
wait_files(const char *dir, const char *const *names, int n, int timeout_ms)
{
	struct pollfd	 pfd;
	long long	 deadline = tl_now_ms() + timeout_ms, left;
	char		 buf[sizeof(struct inotify_event) + NAME_MAX + 1]
			    __attribute__((aligned(8)));
	int		 fd, i, rv = -1;

	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		sysbail("inotify_init1");
	if (inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO |
	    IN_CLOSE_WRITE) == -1)
		sysbail("inotify_add_watch %s", dir);
	for (;;) {
		for (i = 0; i < n; i++)
			if (access(tl_fmt("%s/%s", dir, names[i]), F_OK) == -1)
				break;
		if (i == n) {
			rv = 0;
			break;
		}
		if ((left = deadline - tl_now_ms()) <= 0)
			break;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			sysbail("poll");
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	}
	close(fd);
	return rv;
}

/*
 * hello-c through libdrover: two workers ready over the notify stream,
 * serving, with their STATUS= text in status.json; a clean stop.
 */
static void
test_hello_c(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--ready", "notify", "--", NULL, NULL };
	long long		 pid[2];
	int			 k, status;
	char			 body[64];

	argv[7] = tl_path("examples/hello-c/hello-c");
	if ((j = start(&d, argv, "hello-c")) == NULL)
		return;
	for (k = 0; k < 2; k++) {
		pid[k] = tl_json_int(j, tl_fmt("slots.%d.pid", k), 0);
		ok(tl_json_int(j, tl_fmt("slots.%d.notify.messages", k), 0) >=
		    1, "hello-c: worker %d spoke on its notify channel", k);
		is_int(0, tl_json_int(j, tl_fmt("slots.%d.notify.malformed",
		    k), -1), "hello-c: worker %d sent no malformed message",
		    k);
	}
	ok(tl_http_get(tl_port(j, 0), "/", &status, body, sizeof(body)) ==
	    0 && status == 200 && strcmp(body, "hello\n") == 0,
	    "hello-c: GET / answers 200 hello");
	tl_json_free(j);
	j = tl_status_wait(&d, pred_serving, NULL, 5000);
	ok(j != NULL, "hello-c: every slot's status says \"serving ...\" "
	    "(STATUS= from libdrover)");
	if (j != NULL)
		diag("hello-c: slot 0 status \"%s\"",
		    tl_json_str(j, "slots.0.status"));
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 20000), "hello-c: drover exits 0 on "
	    "SIGTERM");
	for (k = 0; k < 2; k++)
		is_int(0, tl_wait_pid_gone((pid_t)pid[k], 5000),
		    "hello-c: worker %d is gone", k);
}

/*
 * The Node.js server: ready over the stream written by hand, serving;
 * on SIGTERM a request on a kept-alive connection gets the last answer
 * ("Connection: close", then a clean close), an idle kept-alive
 * connection is closed cleanly after the linger, drover exits 0.
 */
static void
test_node(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_match		 m;
	const char		*argv[] = { "-w", "1", "-l", "127.0.0.1:0",
				    "--ready", "notify", "--stop-timeout",
				    "20s", "--", "/usr/bin/env", "node", NULL,
				    NULL };
	long long		 pid;
	int			 a, b, port, status, closehdr, rv;
	char			 body[64];

	if (!ok(tl_in_path("node"), "node: found in PATH")) {
		diag("node (Node.js 18 or later) is needed for this test; "
		    "CI installs it");
		return;
	}
	argv[11] = tl_srcpath("examples/node/server.js");
	if ((j = start(&d, argv, "node")) == NULL)
		return;
	port = tl_port(j, 0);
	pid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200 && strcmp(body, "hello from node\n") == 0,
	    "node: GET / answers 200 \"hello from node\"");

	/* Two kept-alive connections, each with one request answered. */
	if ((a = tl_connect(port)) == -1 || (b = tl_connect(port)) == -1)
		sysbail("connect");
	rv = tl_http_request(a, "/pid", 1) == 0 ? tl_http_response(a, 5000,
	    &status, body, sizeof(body), &closehdr) : -1;
	ok(rv == 0 && status == 200 && atoll(body) == pid && !closehdr,
	    "node: GET /pid answers the worker's pid, keep-alive");
	rv = tl_http_request(b, "/", 1) == 0 ? tl_http_response(b, 5000,
	    &status, body, sizeof(body), &closehdr) : -1;
	ok(rv == 0 && status == 200 && !closehdr,
	    "node: a second kept-alive connection");

	/* The worker has taken SIGTERM once it says so in STATUS=. */
	tl_daemon_kill(&d, SIGTERM);
	m.path = "slots.0.status";
	m.str = "stopping";
	j = tl_status_wait(&d, tl_pred_match, &m, 5000);
	ok(j != NULL, "node: the worker reports STATUS=stopping");
	tl_json_free(j);
	rv = tl_http_request(a, "/", 1) == 0 ? tl_http_response(a, 5000,
	    &status, body, sizeof(body), &closehdr) : -1;
	ok(rv == 0 && status == 200 &&
	    strcmp(body, "hello from node\n") == 0,
	    "node: while stopping, a request on a kept-alive connection is "
	    "answered");
	ok(rv == 0 && closehdr, "node: with Connection: close");
	is_int(-2, tl_http_response(a, 5000, NULL, NULL, 0, NULL),
	    "node: then that connection is closed cleanly");
	is_int(-2, tl_http_response(b, 5000, NULL, NULL, 0, NULL),
	    "node: the idle kept-alive connection is closed cleanly");
	close(a);
	close(b);
	is_int(0, tl_daemon_wait(&d, 10000), "node: drover exits 0");
	is_int(0, tl_wait_pid_gone((pid_t)pid, 5000), "node: the worker is "
	    "gone");
	is_int(0, tl_log_count(&d, "SIGKILL"), "node: no worker needed "
	    "SIGKILL");
}

/*
 * The Python server: ready through sd_notify datagrams on NOTIFY_SOCKET,
 * serving, a clean stop.
 */
static void
test_python(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "1", "-l", "127.0.0.1:0",
				    "--ready", "notify", "--stop-timeout",
				    "20s", "--", "/usr/bin/env", "python3",
				    NULL, NULL };
	long long		 pid;
	int			 port, status;
	char			 body[64];

	if (!ok(tl_in_path("python3"), "python3: found in PATH")) {
		diag("python3 is needed for this test; CI installs it");
		return;
	}
	argv[11] = tl_srcpath("examples/python/server.py");
	if ((j = start(&d, argv, "python")) == NULL)
		return;
	port = tl_port(j, 0);
	pid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200 && strcmp(body, "hello from python\n") == 0,
	    "python: GET / answers 200 \"hello from python\"");
	ok(tl_http_get(port, "/pid", &status, body, sizeof(body)) == 0 &&
	    status == 200 && atoll(body) == pid,
	    "python: GET /pid answers the worker's pid");
	is_int(0, tl_daemon_stop(&d, 10000), "python: drover exits 0 on "
	    "SIGTERM");
	is_int(0, tl_wait_pid_gone((pid_t)pid, 5000), "python: the worker is "
	    "gone");
	is_int(0, tl_log_count(&d, "SIGKILL"), "python: no worker needed "
	    "SIGKILL");
}

/*
 * The shell job-queue worker, two of them on one spool and no socket:
 * ready, every job done exactly once, the count in STATUS=, and a prompt
 * exit 0 on SIGTERM (well before the stop timeout).
 */
static void
test_shell(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "2", "--ready", "notify",
				    "--stop-timeout", "20s", "--",
				    "/usr/bin/env", NULL, "/bin/sh", NULL,
				    NULL };
	const char		*spool, *names[NJOBS] = { "job0", "job1",
				    "job2" };
	long long		 pid[2], t0;
	char			*s;
	int			 i, k, njobs = NJOBS, rv;

	spool = tl_fmt("%s/spool", tl_tmpdir());
	if (mkdir(spool, 0755) == -1 ||
	    mkdir(tl_fmt("%s/new", spool), 0755) == -1 ||
	    mkdir(tl_fmt("%s/work", spool), 0755) == -1 ||
	    mkdir(tl_fmt("%s/done", spool), 0755) == -1)
		sysbail("mkdir %s", spool);
	argv[8] = tl_fmt("SPOOL=%s", spool);
	argv[10] = tl_srcpath("examples/shell/worker.sh");
	if ((j = start(&d, argv, "shell")) == NULL)
		return;
	is_int(0, tl_json_len(j, "listeners"), "shell: no listener");
	for (k = 0; k < 2; k++)
		pid[k] = tl_json_int(j, tl_fmt("slots.%d.pid", k), 0);
	tl_json_free(j);

	/* Job i holds 10 * (i + 1) bytes; written aside, then renamed. */
	for (i = 0; i < NJOBS; i++) {
		if (tl_write_file(tl_fmt("%s/.%s", spool, names[i]), "%0*d",
		    10 * (i + 1), 0) == -1)
			sysbail("write a job");
		if (rename(tl_fmt("%s/.%s", spool, names[i]),
		    tl_fmt("%s/new/%s", spool, names[i])) == -1)
			sysbail("rename a job into %s/new", spool);
	}
	rv = wait_files(tl_fmt("%s/done", spool), names, NJOBS, 10000);
	ok(rv == 0, "shell: all %d jobs are done", NJOBS);
	for (i = 0; i < NJOBS; i++) {
		s = tl_slurp(tl_fmt("%s/done/%s", spool, names[i]));
		ok(s != NULL && atoi(s) == 10 * (i + 1),
		    "shell: %s counted %d bytes", names[i], 10 * (i + 1));
		free(s);
	}
	j = tl_status_wait(&d, pred_processed, &njobs, 5000);
	ok(j != NULL, "shell: the workers' STATUS= texts add up to %d jobs "
	    "processed", NJOBS);
	tl_json_free(j);
	ok(dir_empty(tl_fmt("%s/new", spool)) &&
	    dir_empty(tl_fmt("%s/work", spool)),
	    "shell: nothing is left in new/ or work/");

	t0 = tl_now_ms();
	is_int(0, tl_daemon_stop(&d, 15000), "shell: drover exits 0 on "
	    "SIGTERM");
	ok(tl_now_ms() - t0 < 5000, "shell: the idle workers stop at once "
	    "(%lld ms), not after the stop timeout", tl_now_ms() - t0);
	for (k = 0; k < 2; k++)
		is_int(0, tl_wait_pid_gone((pid_t)pid[k], 5000),
		    "shell: worker %d is gone", k);
	is_int(0, tl_log_count(&d, "SIGKILL"), "shell: no worker needed "
	    "SIGKILL");
}

int
main(void)
{
	plan_lazy();
	test_hello_c();
	test_node();
	test_python();
	test_shell();
	return 0;
}
