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
 * listening socket, and the port can be bound again.  A child that
 * leaves the worker's process group (setsid) is not drover's to end: it
 * outlives its worker and drover, and with the socket it keeps the port;
 * with subreaper = yes drover reaps it, taking it for no worker.
 * (Workers say READY=1 once they have written what the test reads.)
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
static long		 ppid_of(pid_t);
static void		 test_escaped(int, int);

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
	int			 fd, r, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		sysbail("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	/* A connection of the test's in TIME_WAIT is no listener. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
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


/* The parent of process pid, from /proc/PID/status, or -1. */
static long
ppid_of(pid_t pid)
{
	const char	*s = tl_proc_status(pid, "PPid");

	return s != NULL ? atol(s) : -1;
}

/*
 * A worker that starts a child which leaves its process group (setsid),
 * keeping the listening socket or closing it (keep), then exits (the
 * test stops it): the child is not drover's to kill, and lives on.
 * Without subreaper it is not drover's child either; with it, it is,
 * and drover reaps it when it ends, as nothing else: no slot changes.
 * status.json names neither as a worker, drover serves throughout, and
 * its stop neither waits for the child nor ends it: the child holds the
 * port after drover, if it kept the socket, until the test kills it.
 */
static void
test_escaped(int keep, int subreaper)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	const char		*what = tl_fmt("escaped, %s, %s", keep ?
				    "socket kept" : "socket closed", subreaper ?
				    "subreaper" : "no subreaper");
	const char		*dir = tl_tmpdir();
	const char		*kids = tl_fmt("%s/escaped", dir);
	const char		*argv[] = { "--", "/bin/sh", "-c", NULL, NULL };
	const char		*sid;
	pid_t			 pids[MAXKIDS], esc = 0, other = 0;
	long long		 w0, restarts = -1;
	int			 port, n, i, status;

	/* The worker goes on once its child has left and written. */
	argv[3] = tl_fmt("f='%s/fifo'$DROVER_WORKER_ID; [ -p \"$f\" ] || "
	    "mkfifo \"$f\"; setsid sh -c 'echo $DROVER_WORKER_ID $$ >> "
	    "\"$1\"; echo > \"$2\"; exec sleep 1000' sh '%s' \"$f\" %s& "
	    "read x < \"$f\"; exec '%s'", dir, kids, keep ? "" : "3<&- ",
	    hello);
	j = tl_start_conf(&d, tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "ready = notify\nsubreaper = %s\n", subreaper ? "yes" : "no"),
	    argv, 1);
	port = tl_port(j, 0);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	n = read_pids(kids, pids, MAXKIDS);
	for (i = 0; i + 1 < n; i += 2)
		*(pids[i] == 0 ? &esc : &other) = pids[i + 1];
	sid = esc > 0 ? tl_proc_status(esc, "NSsid") : NULL;
	if (n != 4 || sid == NULL || atol(sid) != esc)
		diag("%s: %d numbers in %s, the child %d in session %s", what,
		    n, kids, (int)esc, sid != NULL ? sid : "none");
	ok(n == 4 && esc > 1 && other > 1 && sid != NULL && atol(sid) == esc,
	    "%s: each worker started a child in a session of its own", what);
	if (esc <= 1 || w0 <= 0)
		bail("%s: no child, or no worker", what);
	ok((tl_fd_socket(esc, 3) != 0) == keep, "%s: the child %s the listening socket",
	    what, keep ? "holds" : "does not hold");

	if (kill((pid_t)w0, SIGTERM) == -1)
		sysbail("kill %lld", w0);
	sp.slot = 0;
	sp.oldpid = w0;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "%s: slot 0's worker exited and was replaced", what);
	restarts = tl_json_int(j, "slots.0.restarts", -1);
	tl_json_free(j);
	is_int(0, kill(esc, 0), "%s: its child lives on", what);
	ok((ppid_of(esc) == d.pid) == subreaper, "%s: the child's parent is "
	    "%s drover (%ld)", what, subreaper ? "now" : "not", ppid_of(esc));
	j = tl_status(&d);
	tl_check_true(&d, j, what, subreaper);
	tl_json_free(j);
	ok(tl_http_get(port, "/", &status, NULL, 0) == 0 && status == 200,
	    "%s: drover serves", what);

	if (subreaper) {
		/* Its end: reaped, and nothing else. */
		if (kill(esc, SIGKILL) == -1)
			sysbail("kill %d", (int)esc);
		(void)tl_wait_pid_gone(esc, WAIT_MS);
		tl_daemon_kill(&d, SIGHUP);
		j = tl_wait_generation(&d, 2, 2, WAIT_MS);
		ok(j != NULL && tl_json_int(j, "slots.0.restarts", -1) ==
		    restarts, "%s: once the child ended, a reload goes "
		    "through, and slot 0 counts no restart for it", what);
		tl_json_free(j);
		ok(access(tl_fmt("/proc/%d", (int)esc), F_OK) == -1,
		    "%s: drover reaped the child", what);
		is_int(0, tl_log_count(&d, tl_fmt("worker %d ", (int)esc)),
		    "%s: and did not take it for a worker", what);
	}
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "%s: drover stops with "
	    "status 0", what);
	if (!subreaper)
		is_int(0, kill(esc, 0), "%s: the child outlives it", what);
	ok(bindable(port) == !keep, "%s: port %d %s", what, port, keep ?
	    "is still taken, by the children" : "can be bound again");
	if (keep) {
		tl_start(&d, (const char *const []){ "-w", "1", "-l",
		    tl_fmt("127.0.0.1:%d", port), "--", hello, NULL }, 0);
		is_int(71, tl_daemon_wait(&d, WAIT_MS), "%s: a drover started "
		    "again on the port exits 71", what);
		is_int(0, tl_wait_log(&d, "another process listens there "
		    "(pid ", 0), "%s: naming who holds it", what);
	}
	n = read_pids(kids, pids, MAXKIDS);
	for (i = 1; i < n; i += 2)
		(void)kill(pids[i], SIGKILL);
	for (i = 1; i < n; i += 2)
		(void)tl_wait_pid_gone(pids[i], WAIT_MS);
	ok(bindable(port), "%s: once the test killed the children, port %d "
	    "can be bound again", what, port);
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
	test_escaped(1, 0);
	test_escaped(0, 1);
	return 0;
}
