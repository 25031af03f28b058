/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Nothing drover starts outlives it.  Workers exit when their master is
 * killed with SIGKILL (the parent-death signal), also when they run as
 * another user (`user =`: a change of credentials clears that signal, so
 * it is set after).  Each worker is a process group of its own: what a
 * worker started is killed when the worker exits, and the stop timeout's
 * SIGKILL reaches it too; after drover has exited, no process holds its
 * listening socket, and the port can be bound again.  (Workers say
 * READY=1 once they have written what the test reads.)
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		10000
#define MAXKIDS		64

static int		 read_pids(const char *, pid_t *, int);
static int		 bindable(int);
static void		 test_master_killed(const char *);
static void		 test_descendants(void);
static void		 test_stop_timeout(void);

static const char	*hello;

/* The numbers (pids, slot ids) written to file, at most max. */
static int
read_pids(const char *file, pid_t *pids, int max)
{
	char	*text, *p, *end;
	long	 v;
	int	 n = 0;

	if ((text = tl_slurp(file)) == NULL)
		return 0;
	for (p = text; n < max && *p != '\0'; p = end) {
		v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (v >= 0)
			pids[n++] = (pid_t)v;
	}
	free(text);
	return n;
}

/*
 * Whether 127.0.0.1:port can be bound by a socket without SO_REUSEPORT,
 * that is, whether no socket listens there any more.
 */
static int
bindable(int port)
{
	struct sockaddr_in	 sin;
	int			 fd, r;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		sysbail("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	r = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    listen(fd, 1) == 0;
	close(fd);
	return r;
}

/*
 * SIGKILL to the master: its workers get SIGTERM and exit, with user or
 * without (user NULL).
 */
static void
test_master_killed(const char *user)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*what = user != NULL ? tl_fmt("user = %s",
				    user) : "no user";
	const char		*uid;
	long long		 w0, w1;

	j = tl_start_conf(&d, tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "%s%s%scommand = %s\n", user != NULL ? "user = " : "",
	    user != NULL ? user : "", user != NULL ? "\n" : "", hello),
	    NULL, 1);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	w1 = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);
	if (w0 <= 0 || w1 <= 0)
		bail("no workers");
	if (user != NULL) {
		uid = tl_proc_status((pid_t)w0, "Uid");
		ok(uid != NULL && strncmp(uid, "65534", 5) == 0, "%s: the "
		    "worker runs as that user (Uid %s)", what, uid != NULL ?
		    uid : "?");
	}
	tl_daemon_kill(&d, SIGKILL);
	is_int(128 + SIGKILL, tl_daemon_wait(&d, WAIT_MS), "%s: the master "
	    "is killed", what);
	ok(tl_wait_pid_gone((pid_t)w0, WAIT_MS) == 0 &&
	    tl_wait_pid_gone((pid_t)w1, WAIT_MS) == 0, "%s: both workers "
	    "exit after it", what);
}

/*
 * A worker that starts a child holding the listening socket: when the
 * worker exits, the child goes too; after drover has stopped, the port
 * is free.
 */
static void
test_descendants(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	const char		*kids = tl_fmt("%s/kids", tl_tmpdir());
	const char		*script = tl_fmt("sleep 1000 & echo "
				    "$DROVER_WORKER_ID $! >> '%s'; exec '%s'",
				    kids, hello);
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--ready", "notify", "--", "/bin/sh", "-c",
				    script, NULL };
	pid_t			 pids[MAXKIDS];
	long long		 w0;
	int			 port, n, i, gone;

	j = tl_start(&d, argv, 1);
	port = tl_port(j, 0);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	n = read_pids(kids, pids, MAXKIDS);
	is_int(4, n, "descendants: each worker started a child");
	for (i = 0; i + 1 < n; i += 2)
		if (pids[i] > 1 || pids[i + 1] <= 1)
			bail("bad line in %s", kids);
	ok(n == 4 && kill(pids[1], 0) == 0 && kill(pids[3], 0) == 0,
	    "descendants: the children run");

	/* A worker that exits by itself takes its child along. */
	if (w0 <= 0 || kill((pid_t)w0, SIGTERM) == -1)
		bail("cannot stop worker 0");
	sp.slot = 0;
	sp.oldpid = w0;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "descendants: slot 0 has a new worker");
	tl_json_free(j);
	/* Lines are "SLOT PID". */
	for (i = 0; i < n; i += 2) {
		if (pids[i] == 1)
			ok(tl_wait_pid_gone(pids[i + 1], 0) == -1,
			    "descendants: slot 1's child still runs");
		else
			ok(tl_wait_pid_gone(pids[i + 1], WAIT_MS) == 0,
			    "descendants: the child of slot 0's worker, which "
			    "exited, is gone with it");
	}

	is_int(0, tl_daemon_stop(&d, WAIT_MS), "descendants: drover stops "
	    "with status 0");
	n = read_pids(kids, pids, MAXKIDS);
	for (i = 1, gone = 0; i < n; i += 2)
		if (tl_wait_pid_gone(pids[i], WAIT_MS) == 0)
			gone++;
	ok(n == 6 && gone == n / 2, "descendants: after drover, none of the "
	    "%d children is left", n / 2);
	ok(bindable(port), "descendants: port %d can be bound again", port);
}

/*
 * Workers and their children ignoring SIGTERM: the stop timeout's
 * SIGKILL reaches them all.
 */
static void
test_stop_timeout(void)
{
	struct tl_daemon	 d;
	const char		*kids = tl_fmt("%s/stubborn", tl_tmpdir());
	const char		*script = tl_fmt("trap '' TERM; sleep 1000 & "
				    "echo $! >> '%s'; echo $$ >> '%s'; "
				    "echo READY=1 >&$DROVER_NOTIFY_FD; wait",
				    kids, kids);
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--ready", "notify", "--stop-timeout",
				    "300ms", "--", "/bin/sh", "-c", script,
				    NULL };
	pid_t			 pids[MAXKIDS];
	struct tl_json		*j;
	int			 n, i, gone, port;

	j = tl_start(&d, argv, 1);
	port = tl_port(j, 0);
	tl_json_free(j);
	n = read_pids(kids, pids, MAXKIDS);
	is_int(4, n, "stop timeout: two workers, each with a child");
	for (i = 0; i < n; i++)
		if (pids[i] <= 1)
			bail("bad pid in %s", kids);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "stop timeout: drover stops "
	    "with status 0");
	is_int(0, tl_wait_log(&d, "sending SIGKILL", 0), "stop timeout: after "
	    "SIGKILL, as they ignore SIGTERM");
	for (i = 0, gone = 0; i < n; i++)
		if (tl_wait_pid_gone(pids[i], WAIT_MS) == 0)
			gone++;
	is_int(n, gone, "stop timeout: the workers and their children are "
	    "all gone");
	ok(bindable(port), "stop timeout: port %d can be bound again", port);
}

int
main(void)
{
	const char	*dir;

	plan_lazy();
	/*
	 * A copy of hello-c that any user can execute, whatever the
	 * permissions of the build tree.
	 */
	dir = tl_tmpdir();
	if (chmod(dir, 0755) == -1)
		sysbail("chmod %s", dir);
	hello = tl_fmt("%s/hello-c", dir);
	if (tl_run((const char *const[]){ "cp", tl_path(
	    "examples/hello-c/hello-c"), hello, NULL }, WAIT_MS, NULL) != 0)
		bail("cannot copy hello-c");
	test_master_killed(NULL);
	if (geteuid() == 0)
		test_master_killed("nobody");
	else
		diag("not root: user = is not tested");
	test_descendants();
	test_stop_timeout();
	return 0;
}
