/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The notify protocol, end to end, with real workers: shell scripts that
 * write lines to DROVER_NOTIFY_FD, and a small Python helper that sends
 * datagrams to NOTIFY_SOCKET.  With `ready = notify` a slot is "starting"
 * until its worker says READY=1 (on either channel) and is killed after
 * ready_timeout if it never does; only the worker and its descendants are
 * believed on its socket; STATUS= text and STOPPING=1 show in status.json;
 * a silent worker is aborted by the watchdog, then killed if it ignores
 * SIGABRT; malformed and oversized messages are counted, logged with a
 * rate limit and otherwise ignored; and floods on both channels neither
 * block the master nor grow its memory.  Workers wait for the test on
 * FIFOs, so every step happens when the test says so: nothing sleeps.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/*
 * How long a wait for something that must happen may take: longer for a
 * master under valgrind, where a worker may also need the stop timeout's
 * SIGKILL (10 s) to go, if valgrind lost the SIGTERM that reached the
 * child between fork and exec.
 */
#define WAIT_MS		tl_slow_ms(10000)
/* How long the test watches for something that must not happen. */
#define QUIET_MS	300
/* The worker's end of the notify stream, in a shell script. */
#define NFD		"$DROVER_NOTIFY_FD"

/* Malformed lines the "bad" helper sends in a burst after the first four. */
#define NBURST		100
/*
 * The stream flood: 100 MB of "STATUS=flood\n", 13 bytes a line, long
 * enough (about a second) to be seen under way in status.json, which
 * shows counters and STATUS= texts within 0.2 s.
 */
#define FLOOD_BYTES	100000000LL
#define FLOOD_LINE	13LL

static long long	 ppid_of(pid_t);
static const char	*find_python(void);
static int		 no_file(const char *);
static void		 stop(struct tl_daemon *, const char *);
static void		 abandon(struct tl_daemon *, const char *);
static void		 test_gating_stream(void);
static void		 test_gating_socket(void);
static void		 test_ready_timeout(void);
static void		 test_untrusted(void);
static void		 test_descendant(void);
static void		 test_status_stopping(void);
static void		 test_watchdog(void);
static void		 test_watchdog_kill(void);
static void		 test_watchdog_stall(void);
static void		 test_malformed(void);
static void		 test_flood(void);

/* The directory of the FIFOs, the helper and the configuration files. */
static const char	*tdir;
/* The Python interpreter (its real path, not a wrapper), or NULL. */
static const char	*py;
/* The helper script, and the shell words that run it. */
static const char	*helper;

/*
 * The helper every Python worker runs: argv[1] names what it does.
 * dgram() sends one datagram to NOTIFY_SOCKET (or to path), stream()
 * writes to DROVER_NOTIFY_FD, gate() waits for the test to write a line
 * to a FIFO.  At the end it idles until it is killed, with a bound.
 */
static const char helper_py[] =
"# t/notify.t's helper: a worker (or a worker's child) speaking notify.\n"
"import ctypes, os, socket, sys, time\n"
"\n"
"def gate(path):\n"
"    with open(path) as f:\n"
"        f.readline()\n"
"\n"
"def dgram(msg, path=None):\n"
"    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
"    s.settimeout(10)\n"
"    s.sendto(msg, path or os.environ['NOTIFY_SOCKET'])\n"
"    s.close()\n"
"\n"
"def stream(msg):\n"
"    fd = int(os.environ['DROVER_NOTIFY_FD'])\n"
"    while msg:\n"
"        msg = msg[os.write(fd, msg):]\n"
"\n"
"mode = sys.argv[1]\n"
"if mode == 'ready':\n"
"    dgram(b'STATUS=waiting')\n"
"    gate(sys.argv[2])\n"
"    dgram(b'READY=1\\n')\n"
"elif mode == 'wrong':\n"
"    dgram(b'STATUS=waiting')\n"
"    gate(sys.argv[2])\n"
"    with open(sys.argv[3]) as f:\n"
"        dgram(b'READY=1', f.read().strip())\n"
"elif mode == 'ping':\n"
"    dgram(b'READY=1')\n"
"    for i in range(6000):\n"
"        dgram(b'WATCHDOG=1')\n"
"        time.sleep(0.1)\n"
"elif mode == 'child':\n"
"    # Die with the worker, whose child this is: PR_SET_PDEATHSIG, SIGKILL.\n"
"    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)\n"
"    if os.getppid() == 1:\n"
"        sys.exit(1)\n"
"    dgram(b'STATUS=child %d\\nREADY=1\\n' % os.getpid())\n"
"elif mode == 'bad':\n"
"    stream(b'garbage\\nlower=1\\n=x\\n' + b'STATUS=' + b'x' * 4993 +\n"
"        b'\\n' + b'garbage\\n' * int(sys.argv[4]) +\n"
"        b'STATUS=stream-done\\n')\n"
"    gate(sys.argv[2])\n"
"    dgram(b'STATUS=' + b'y' * 4993)\n"
"    dgram(b'STATUS=dgram-done')\n"
"    gate(sys.argv[3])\n"
"    stream(b'READY=1\\n')\n"
"elif mode == 'flood':\n"
"    dgram(b'STATUS=waiting')\n"
"    gate(sys.argv[2])\n"
"    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
"    s.connect(os.environ['NOTIFY_SOCKET'])\n"
"    s.setblocking(False)\n"
"    end = time.monotonic() + 20\n"
"    for i in range(200000):\n"
"        try:\n"
"            s.send(b'STATUS=dflood')\n"
"        except OSError:\n"
"            pass\n"
"        if i % 1000 == 0 and time.monotonic() > end:\n"
"            break\n"
"    s.settimeout(10)\n"
"    s.send(b'READY=1')\n"
"time.sleep(600)\n";

/* The parent of process pid, from /proc, or -1. */
static long long
ppid_of(pid_t pid)
{
	char		*text, *p;
	long long	 ppid = -1;

	text = tl_slurp(tl_fmt("/proc/%ld/stat", (long)pid));
	/* "pid (comm) state ppid ...": comm may hold anything. */
	if (text != NULL && (p = strrchr(text, ')')) != NULL &&
	    sscanf(p + 1, " %*c %lld", &ppid) != 1)
		ppid = -1;
	free(text);
	return ppid;
}

/*
 * The interpreter python3 runs, as an absolute path, so that a worker
 * exec'ing it is the Python process itself and not a wrapper script
 * (pyenv's shims fork); NULL if there is no python3.
 */
static const char *
find_python(void)
{
	const char *const	 argv[] = { "python3", "-c",
				    "import sys; print(sys.executable)", NULL };
	const char		*path = NULL;
	char			*out = NULL;

	if (tl_run(argv, WAIT_MS, &out) == 0 && out != NULL) {
		out[strcspn(out, "\n")] = '\0';
		if (out[0] == '/' && access(out, X_OK) == 0)
			path = tl_fmt("%s", out);
	}
	free(out);
	return path;
}

/* 1 if path does not exist. */
static int
no_file(const char *path)
{
	return access(path, F_OK) == -1 && errno == ENOENT;
}

/* Stop the daemon; every worker must be gone with it. */
static void
stop(struct tl_daemon *d, const char *what)
{
	is_int(0, tl_daemon_stop(d, WAIT_MS), "%s: drover stops with status 0",
	    what);
}

/*
 * Give up on a group whose daemon never got where the rest of the group
 * starts from, rather than let every later wait time out in turn: stop
 * it (with SIGKILL if it does not stop) and let the caller return.
 */
static void
abandon(struct tl_daemon *d, const char *what)
{
	diag("%s: giving up on the rest of this group", what);
	if (tl_daemon_stop(d, WAIT_MS) == -1) {
		(void)tl_daemon_kill(d, SIGKILL);
		(void)tl_daemon_wait(d, WAIT_MS);
	}
}

/*
 * Readiness through the stream: the worker says STATUS=waiting, waits
 * for the test, then READY=1.  Until then the slot is starting and the
 * cluster not ready.
 */
static void
test_gating_stream(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*fifo, *script;
	long long		 pid;

	fifo = tl_fifo_new(tdir, "gate-stream");
	script = tl_fmt("echo STATUS=waiting >&" NFD "; read x < '%s'; "
	    "echo READY=1 >&" NFD "; exec sleep 600", fifo);
	{
		const char *const argv[] = { "-w", "1", "--ready", "notify",
		    "--", "/bin/sh", "-c", script, NULL };

		tl_start(&d, argv, 0);
	}
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.status", "waiting"));
	ok(j != NULL, "stream: STATUS=waiting from the worker shows in "
	    "slots.0.status");
	if (j == NULL) {
		abandon(&d, "stream");
		return;
	}
	pid = tl_json_int(j, "slots.0.pid", 0);
	ok(pid > 0, "stream: slot 0 has a worker (%lld)", pid);
	is_string("starting", tl_json_str(j, "slots.0.state"),
	    "stream: the slot is starting while its worker has not sent "
	    "READY=1");
	is_int(0, tl_json_bool(j, "ready"), "stream: status.json says the "
	    "cluster is not ready");
	is_int(0, tl_json_int(j, "workers_ready", -1),
	    "stream: no worker counts as ready");
	ok(no_file(tl_fmt("%s/ready", d.state)), "stream: there is no ready "
	    "file");
	is_string("3", tl_env_of((pid_t)pid, "DROVER_NOTIFY_FD"),
	    "stream: without listeners the notify stream is fd 3");
	tl_json_free(j);
	j = TL_WAIT(&d, QUIET_MS, TL_STR("slots.0.state", "ready"));
	ok(j == NULL, "stream: the slot is still not ready %d ms later",
	    QUIET_MS);
	tl_json_free(j);

	tl_fifo_release(fifo);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.state", "ready"),
	    TL_EQ("ready", 1));
	ok(j != NULL, "stream: READY=1 on DROVER_NOTIFY_FD makes the slot "
	    "and the cluster ready");
	is_int(pid, tl_json_int(j, "slots.0.pid", 0),
	    "stream: the same worker");
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == 0,
	    "stream: the ready file exists");
	is_int(2, tl_json_int(j, "slots.0.notify.messages", -1),
	    "stream: two messages were counted");
	is_int(0, tl_json_int(j, "slots.0.notify.malformed", -1) +
	    tl_json_int(j, "slots.0.notify.rejected", -1),
	    "stream: none malformed or rejected");
	tl_json_free(j);
	stop(&d, "stream");
}

/*
 * Readiness through NOTIFY_SOCKET: slot 0 is ready at once (stream),
 * slot 1's worker is the Python helper, which sends its datagrams once
 * the test lets it.  One starting slot keeps the cluster not ready.
 */
static void
test_gating_socket(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct stat		 sb;
	const char		*fifo, *script, *sock;
	long long		 pid;

	if (py == NULL) {
		skip("socket readiness: no python3");
		return;
	}
	fifo = tl_fifo_new(tdir, "gate-socket");
	script = tl_fmt("case $DROVER_WORKER_ID in 0) echo READY=1 >&" NFD
	    "; exec sleep 600;; *) exec '%s' '%s' ready '%s';; esac", py,
	    helper, fifo);
	{
		const char *const argv[] = { "-w", "2", "--ready", "notify",
		    "--", "/bin/sh", "-c", script, NULL };

		tl_start(&d, argv, 0);
	}
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.state", "ready"),
	    TL_STR("slots.1.status", "waiting"));
	ok(j != NULL, "socket: slot 0 is ready, slot 1's STATUS=waiting "
	    "arrived by datagram");
	if (j == NULL) {
		abandon(&d, "socket");
		return;
	}
	pid = tl_json_int(j, "slots.1.pid", 0);
	is_string("starting", tl_json_str(j, "slots.1.state"),
	    "socket: slot 1 is starting");
	is_int(0, tl_json_bool(j, "ready"), "socket: one starting slot keeps "
	    "the cluster not ready");
	is_int(1, tl_json_int(j, "workers_ready", -1),
	    "socket: one worker of two is ready");
	ok(no_file(tl_fmt("%s/ready", d.state)), "socket: there is no ready "
	    "file");
	tl_json_free(j);

	sock = tl_env_of((pid_t)pid, "NOTIFY_SOCKET");
	ok(sock != NULL && strncmp(sock, tl_fmt("%s/notify/1.", d.state),
	    strlen(d.state) + 10) == 0, "socket: NOTIFY_SOCKET is "
	    "state_dir/notify/1.N (%s)", sock != NULL ? sock : "unset");
	ok(sock != NULL && stat(sock, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
	    (sb.st_mode & 07777) == 0600, "socket: it is a socket of mode "
	    "0600");
	ok(stat(tl_fmt("%s/notify", d.state), &sb) == 0 &&
	    (sb.st_mode & 07777) == 0711, "socket: the notify directory has "
	    "mode 0711");
	j = TL_WAIT(&d, QUIET_MS, TL_STR("slots.1.state", "ready"));
	ok(j == NULL, "socket: slot 1 is still not ready %d ms later",
	    QUIET_MS);
	tl_json_free(j);

	tl_fifo_release(fifo);
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "socket: READY=1 on NOTIFY_SOCKET makes slot 1 and the "
	    "cluster ready");
	is_int(pid, tl_json_int(j, "slots.1.pid", 0),
	    "socket: the same worker");
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == 0,
	    "socket: the ready file exists");
	is_int(2, tl_json_int(j, "slots.1.notify.messages", -1),
	    "socket: two datagrams were counted");
	is_int(0, tl_json_int(j, "slots.1.notify.rejected", -1),
	    "socket: none was rejected (the sender is the worker itself)");
	tl_json_free(j);
	stop(&d, "socket");
	ok(sock == NULL || no_file(sock), "socket: the socket file is "
	    "removed");
}

/*
 * A worker that never says READY=1 is killed after ready_timeout, which
 * counts as a failed start, and replaced.
 */
static void
test_ready_timeout(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char *const	 argv[] = { "-w", "1", "--", "/bin/sh", "-c",
				    "exec sleep 600", NULL };
	long long		 pid;

	tl_start_conf(&d, "ready = notify\nready_timeout = 300ms\n", argv, 0);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.state", "starting"),
	    TL_MIN("slots.0.pid", 1));
	ok(j != NULL, "timeout: the worker is starting");
	if (j == NULL) {
		abandon(&d, "timeout");
		return;
	}
	pid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);

	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.last_exit.reason",
	    "ready-timeout"));
	ok(j != NULL, "timeout: last_exit.reason is \"ready-timeout\"");
	is_int(9, tl_json_int(j, "slots.0.last_exit.signal", -1),
	    "timeout: the worker was killed by SIGKILL");
	ok(tl_json_int(j, "slots.0.failures", -1) >= 1,
	    "timeout: it counts as a failure (failures %lld)",
	    tl_json_int(j, "slots.0.failures", -1));
	is_int(0, tl_json_bool(j, "ready"), "timeout: the cluster is not "
	    "ready");
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, tl_fmt("slot 0: worker %lld not ready "
	    "after 0.3s: killing it", pid), WAIT_MS),
	    "timeout: the log says the worker was not ready after 0.3s");

	j = TL_WAIT(&d, WAIT_MS, TL_MIN("slots.0.restarts", 1),
	    TL_NE("slots.0.pid", 0), TL_NE("slots.0.pid", pid));
	ok(j != NULL, "timeout: a new worker was started (pid %lld, "
	    "restarts %lld)", tl_json_int(j, "slots.0.pid", 0),
	    tl_json_int(j, "slots.0.restarts", -1));
	tl_json_free(j);
	stop(&d, "timeout");
}

/*
 * Datagrams from outside the worker's process tree are rejected: from
 * the test itself, and from the worker of another slot.
 */
static void
test_untrusted(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*fifo, *pathfile, *script, *sock;
	long long		 pid0, pid1;

	if (py == NULL) {
		skip("untrusted senders: no python3");
		return;
	}
	fifo = tl_fifo_new(tdir, "gate-wrong");
	pathfile = tl_fmt("%s/slot0-socket", tdir);
	script = tl_fmt("case $DROVER_WORKER_ID in 0) echo STATUS=waiting >&"
	    NFD "; exec sleep 600;; *) exec '%s' '%s' wrong '%s' '%s';; esac",
	    py, helper, fifo, pathfile);
	{
		const char *const argv[] = { "-w", "2", "--",
		    "/bin/sh", "-c", script, NULL };

		tl_start_conf(&d, "ready = notify\nready_timeout = 60s\n",
		    argv, 0);
	}
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.status", "waiting"),
	    TL_STR("slots.1.status", "waiting"));
	ok(j != NULL, "untrusted: both workers are up");
	if (j == NULL) {
		abandon(&d, "untrusted");
		return;
	}
	pid0 = tl_json_int(j, "slots.0.pid", 0);
	pid1 = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);
	sock = tl_env_of((pid_t)pid0, "NOTIFY_SOCKET");
	ok(sock != NULL, "untrusted: slot 0's worker has a NOTIFY_SOCKET "
	    "(%s)", sock != NULL ? sock : "unset");

	/* (a) The test is no descendant of the worker. */
	is_int(7, tl_send_dgram(sock, "READY=1"), "untrusted: the test sent "
	    "READY=1 to slot 0's socket");
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("slots.0.notify.rejected", 1));
	ok(j != NULL, "untrusted: slot 0 counts one rejected message");
	is_string("starting", tl_json_str(j, "slots.0.state"),
	    "untrusted: slot 0 is still starting");
	is_int(1, tl_json_int(j, "slots.0.notify.messages", -1),
	    "untrusted: only its worker's STATUS= counts as a message");
	is_int(0, tl_json_bool(j, "ready"), "untrusted: the cluster is not "
	    "ready");
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, tl_fmt("slot 0: notify message from pid "
	    "%ld, not worker %lld or its descendant: ignored", (long)getpid(),
	    pid0), WAIT_MS), "untrusted: the log names the sender and says it "
	    "is not the worker");

	/* (b) Slot 1's worker writes to slot 0's socket. */
	if (tl_write_file(pathfile, "%s\n", sock != NULL ? sock : "") == -1)
		sysbail("%s", pathfile);
	tl_fifo_release(fifo);
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("slots.0.notify.rejected", 2));
	ok(j != NULL, "wrong channel: READY=1 from slot 1's worker (%lld) on "
	    "slot 0's socket is rejected", pid1);
	is_string("starting", tl_json_str(j, "slots.0.state"),
	    "wrong channel: slot 0 is still starting");
	is_string("starting", tl_json_str(j, "slots.1.state"),
	    "wrong channel: slot 1 is still starting");
	is_int(0, tl_json_int(j, "slots.1.notify.rejected", -1),
	    "wrong channel: slot 1 rejected nothing");
	tl_json_free(j);
	j = TL_WAIT(&d, QUIET_MS, TL_STR("slots.0.state", "ready"));
	ok(j == NULL, "wrong channel: slot 0 is still not ready %d ms later",
	    QUIET_MS);
	tl_json_free(j);
	stop(&d, "untrusted");
}

/*
 * A descendant of the worker may speak for it: the worker (a shell) runs
 * the helper as a child, which sends STATUS= with its pid and READY=1.
 */
static void
test_descendant(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*script, *st;
	long long		 pid, child = 0;

	if (py == NULL) {
		skip("descendant sender: no python3");
		return;
	}
	script = tl_fmt("'%s' '%s' child; exec sleep 600", py, helper);
	{
		const char *const argv[] = { "-w", "1", "--",
		    "/bin/sh", "-c", script, NULL };

		tl_start_conf(&d, "ready = notify\nready_timeout = 60s\n",
		    argv, 0);
	}
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "descendant: READY=1 from the worker's child makes the "
	    "slot ready");
	if (j == NULL) {
		abandon(&d, "descendant");
		return;
	}
	pid = tl_json_int(j, "slots.0.pid", 0);
	st = tl_json_str(j, "slots.0.status");
	if (st != NULL && strncmp(st, "child ", 6) == 0)
		child = atoll(st + 6);
	ok(child > 0 && child != pid, "descendant: the sender (%lld) is not "
	    "the worker (%lld)", child, pid);
	is_int(pid, ppid_of((pid_t)child), "descendant: the sender is the "
	    "worker's child");
	is_int(0, tl_json_int(j, "slots.0.notify.rejected", -1),
	    "descendant: nothing was rejected");
	tl_json_free(j);
	stop(&d, "descendant");
	if (child > 0)
		is_int(0, tl_wait_pid_gone((pid_t)child, WAIT_MS),
		    "descendant: the child died with the worker");
	else
		skip("descendant: no child pid");
}

/*
 * STATUS= shows in slots.N.status; STOPPING=1 makes the slot "stopping"
 * and the cluster not ready; when that worker exits, the slot is refilled.
 */
static void
test_status_stopping(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	const char		*f1 = tl_fifo_new(tdir, "stopping-1");
	const char		*f2 = tl_fifo_new(tdir, "stopping-2"), *script;
	long long		 pid;

	script = tl_fmt("echo 'STATUS=serving 42 requests' >&" NFD "; "
	    "read x < '%s'; echo STOPPING=1 >&" NFD "; read x < '%s'; exit 0",
	    f1, f2);
	{
		const char *const argv[] = { "-w", "1", "--", "/bin/sh", "-c",
		    script, NULL };

		tl_start(&d, argv, 0);
	}
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.state", "ready"),
	    TL_STR("slots.0.status", "serving 42 requests"), TL_EQ("ready", 1));
	ok(j != NULL, "status: STATUS= text shows in slots.0.status");
	if (j == NULL) {
		abandon(&d, "stopping");
		return;
	}
	pid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);

	tl_fifo_release(f1);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.state", "stopping"));
	ok(j != NULL, "stopping: STOPPING=1 makes the slot \"stopping\"");
	is_int(pid, tl_json_int(j, "slots.0.pid", 0),
	    "stopping: the worker is still there");
	is_int(0, tl_json_bool(j, "ready"), "stopping: the cluster is not "
	    "ready");
	is_int(0, tl_json_int(j, "workers_ready", -1),
	    "stopping: no worker counts as ready");
	is_string("running", tl_json_str(j, "state"),
	    "stopping: the master itself is running");
	ok(no_file(tl_fmt("%s/ready", d.state)), "stopping: the ready file "
	    "is gone");
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, tl_fmt("slot 0: worker %lld says it is "
	    "stopping", pid), WAIT_MS), "stopping: the log says so");

	tl_fifo_release(f2);
	sp.slot = 0;
	sp.oldpid = pid;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "stopping: once the worker exits, a new one (%lld) is "
	    "ready in the slot", tl_json_int(j, "slots.0.pid", 0));
	is_int(pid, tl_json_int(j, "slots.0.last_exit.pid", -1),
	    "stopping: last_exit is the stopping worker's");
	is_int(0, tl_json_int(j, "slots.0.last_exit.code", -1),
	    "stopping: which exited 0");
	ok(tl_json_int(j, "slots.0.restarts", -1) >= 1,
	    "stopping: the slot was refilled (restarts %lld)",
	    tl_json_int(j, "slots.0.restarts", -1));
	is_int(1, tl_json_bool(j, "ready"), "stopping: the cluster is ready "
	    "again");
	tl_json_free(j);
	stop(&d, "stopping");
}

/*
 * The watchdog: a worker that stops sending WATCHDOG=1 gets SIGABRT and
 * is replaced on the same listening socket.
 */
static void
test_watchdog(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	const char *const	 argv[] = { "-w", "1",
				    "-l", "127.0.0.1:0", "--", "/bin/sh", "-c",
				    "i=0; while [ $i -lt 4 ]; do "
				    "echo WATCHDOG=1 >&" NFD "; sleep 0.1; "
				    "i=$((i + 1)); done; exec sleep 600",
				    NULL };
	unsigned long		 ino[8], ino2[8];
	long long		 pid, pid2;
	int			 fdn[8], n;

	tl_start_conf(&d, "watchdog = 300ms\nstop_timeout = 300ms\n", argv,
	    0);
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "watchdog: the worker is ready");
	if (j == NULL) {
		abandon(&d, "watchdog");
		return;
	}
	pid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	/* It lives for 0.4 s of pings plus the 0.3 s watchdog: look now. */
	is_string("300000", tl_env_of((pid_t)pid, "WATCHDOG_USEC"),
	    "watchdog: WATCHDOG_USEC=300000 in the worker's environment");
	is_string(tl_fmt("%lld", pid), tl_env_of((pid_t)pid, "WATCHDOG_PID"),
	    "watchdog: WATCHDOG_PID is the worker's pid");
	is_string("4", tl_env_of((pid_t)pid, "DROVER_NOTIFY_FD"),
	    "watchdog: with one listener the notify stream is fd 4");
	n = tl_fd_inodes((pid_t)pid, ino, fdn, 8);
	ok(n >= 1 && fdn[0] == 3, "watchdog: the worker holds its listening "
	    "socket on fd 3");

	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.last_exit.reason",
	    "watchdog"));
	ok(j != NULL, "watchdog: last_exit.reason is \"watchdog\"");
	is_int(pid, tl_json_int(j, "slots.0.last_exit.pid", -1),
	    "watchdog: the exit is the first worker's");
	is_int(6, tl_json_int(j, "slots.0.last_exit.signal", -1),
	    "watchdog: the worker was killed by SIGABRT");
	ok(tl_json_int(j, "slots.0.notify.messages", -1) >= 4,
	    "watchdog: its WATCHDOG=1 messages were counted (%lld)",
	    tl_json_int(j, "slots.0.notify.messages", -1));
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, tl_fmt("slot 0: worker %lld sent no "
	    "WATCHDOG=1 for 0.3s: sending SIGABRT", pid), WAIT_MS),
	    "watchdog: the log says it sent no WATCHDOG=1");

	sp.slot = 0;
	sp.oldpid = pid;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "watchdog: a new worker is ready");
	pid2 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	n = tl_fd_inodes((pid_t)pid2, ino2, fdn, 8);
	ok(n >= 1 && fdn[0] == 3 && ino2[0] == ino[0], "watchdog: the new "
	    "worker (%lld) has the same listening socket on fd 3", pid2);
	stop(&d, "watchdog");
}

/*
 * A worker that ignores SIGABRT is killed a stop timeout after it.
 */
static void
test_watchdog_kill(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char *const	 argv[] = { "-w", "1", "--",
				    "/bin/sh", "-c",
				    "trap '' ABRT; exec sleep 600", NULL };
	long long		 pid;

	tl_start_conf(&d, "watchdog = 300ms\nstop_timeout = 300ms\n", argv,
	    0);
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "stubborn: the worker is ready");
	if (j == NULL) {
		abandon(&d, "stubborn");
		return;
	}
	pid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.last_exit.reason",
	    "watchdog"));
	ok(j != NULL, "stubborn: last_exit.reason is \"watchdog\"");
	is_int(pid, tl_json_int(j, "slots.0.last_exit.pid", -1),
	    "stubborn: the exit is the first worker's");
	is_int(9, tl_json_int(j, "slots.0.last_exit.signal", -1),
	    "stubborn: the worker ignoring SIGABRT was killed by SIGKILL");
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, tl_fmt("slot 0: worker %lld sent no "
	    "WATCHDOG=1 for 0.3s: sending SIGABRT", pid), WAIT_MS),
	    "stubborn: SIGABRT came first");
	is_int(0, tl_wait_log(&d, tl_fmt("slot 0: worker %lld still running "
	    "after SIGABRT: sending SIGKILL", pid), WAIT_MS),
	    "stubborn: the log says it was still running after SIGABRT");
	stop(&d, "stubborn");
}

/*
 * Malformed and oversized messages on both channels are counted and
 * ignored, logged at most once in a burst, and a good READY=1 after them
 * still works.
 */
static void
test_malformed(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*f1, *f2, *script;
	char			*log;
	int			 n;

	if (py == NULL) {
		skip("malformed messages: no python3");
		return;
	}
	f1 = tl_fifo_new(tdir, "bad-1");
	f2 = tl_fifo_new(tdir, "bad-2");
	script = tl_fmt("exec '%s' '%s' bad '%s' '%s' %d", py, helper, f1, f2,
	    NBURST);
	{
		const char *const argv[] = { "-w", "1", "--",
		    "/bin/sh", "-c", script, NULL };

		tl_start_conf(&d, "ready = notify\nready_timeout = 60s\n",
		    argv, 0);
	}
	/* garbage, lower=1, =x, a 5000-byte line, then NBURST garbage. */
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.status", "stream-done"));
	ok(j != NULL, "malformed: the worker's stream was read up to its "
	    "last line");
	if (j == NULL) {
		abandon(&d, "malformed");
		return;
	}
	is_int(4 + NBURST, tl_json_int(j, "slots.0.notify.malformed", -1),
	    "malformed: \"garbage\", \"lower=1\", \"=x\", the 5000-byte line "
	    "and %d more were counted", NBURST);
	is_int(1, tl_json_int(j, "slots.0.notify.messages", -1),
	    "malformed: only the STATUS= line counts as a message");
	is_string("starting", tl_json_str(j, "slots.0.state"),
	    "malformed: the slot is still starting");
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, "slot 0: malformed notify message "
	    "\"garbage\": ignored", WAIT_MS), "malformed: the log has a "
	    "\"malformed notify message\" line");
	log = tl_slurp(d.log);
	n = tl_count(log, "malformed notify message");
	ok(n >= 1 && n <= 2, "malformed: logging is rate-limited (%d lines "
	    "for %d malformed messages)", n, 4 + NBURST);
	free(log);

	tl_fifo_release(f1);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.status", "dgram-done"));
	ok(j != NULL, "oversized: the datagrams after it were read");
	is_int(5 + NBURST, tl_json_int(j, "slots.0.notify.malformed", -1),
	    "oversized: the 5000-byte datagram was counted as malformed");
	is_string("starting", tl_json_str(j, "slots.0.state"),
	    "oversized: the slot is still starting");
	is_int(0, tl_json_int(j, "slots.0.notify.rejected", -1),
	    "oversized: nothing was rejected");
	tl_json_free(j);

	tl_fifo_release(f2);
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "malformed: a valid READY=1 afterwards makes the slot "
	    "ready");
	is_int(3, tl_json_int(j, "slots.0.notify.messages", -1),
	    "malformed: three good messages in all");
	tl_json_free(j);
	log = tl_slurp(d.log);
	n = tl_count(log, "malformed notify message");
	ok(n <= 2, "malformed: still at most two such log lines (%d)", n);
	free(log);
	stop(&d, "malformed");
}

/*
 * Floods: slot 0 writes 20 MB of STATUS= lines on its stream, slot 1
 * sends datagrams as fast as it can, and meanwhile slot 2's READY=1 is
 * acted on promptly, and the master's memory does not grow.
 */
static void
test_flood(void)
{
	long		 slack;
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*f0, *f1, *f2, *script;
	long long		 t0, lines;
	long			 rss0, rss1;

	if (py == NULL) {
		skip("flood: no python3");
		return;
	}
	f0 = tl_fifo_new(tdir, "flood-0");
	f1 = tl_fifo_new(tdir, "flood-1");
	f2 = tl_fifo_new(tdir, "flood-2");
	/*
	 * head cuts the last line short: the lone echo ends it, so that
	 * READY=1 is a line of its own.
	 */
	script = tl_fmt("case $DROVER_WORKER_ID in "
	    "0) echo STATUS=waiting >&" NFD "; read x < '%s'; "
	    "yes STATUS=flood | head -c %lld >&" NFD "; echo >&" NFD "; "
	    "echo READY=1 >&" NFD "; exec sleep 600;; "
	    "1) exec '%s' '%s' flood '%s';; "
	    "*) echo STATUS=waiting >&" NFD "; read x < '%s'; "
	    "echo READY=1 >&" NFD "; exec sleep 600;; esac",
	    f0, FLOOD_BYTES, py, helper, f1, f2);
	{
		const char *const argv[] = { "-w", "3", "--",
		    "/bin/sh", "-c", script, NULL };

		tl_start_conf(&d, "ready = notify\nready_timeout = 60s\n",
		    argv, 0);
	}
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.status", "waiting"),
	    TL_STR("slots.1.status", "waiting"),
	    TL_STR("slots.2.status", "waiting"));
	ok(j != NULL, "flood: the three workers are up and waiting");
	if (j == NULL) {
		abandon(&d, "flood");
		return;
	}
	tl_json_free(j);
	rss0 = tl_proc_status_kb(d.pid, "VmRSS");
	ok(rss0 > 0, "flood: the master's VmRSS before is %ld kB", rss0);

	tl_fifo_release(f0);
	tl_fifo_release(f1);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.status", "flood"),
	    TL_STR("slots.1.status", "dflood"));
	ok(j != NULL, "flood: both floods are under way");
	tl_json_free(j);
	t0 = tl_now_ms();
	tl_fifo_release(f2);
	j = TL_WAIT(&d, 5000, TL_STR("slots.2.state", "ready"));
	ok(j != NULL, "flood: slot 2's READY=1 is acted on during the flood "
	    "(%lld ms)", tl_now_ms() - t0);
	if (j != NULL)
		diag("when slot 2 was ready, slot 0 was %s and slot 1 %s",
		    tl_json_str(j, "slots.0.state"),
		    tl_json_str(j, "slots.1.state"));
	tl_json_free(j);

	j = tl_status_wait(&d, tl_pred_all_ready, NULL, 60000);
	ok(j != NULL, "flood: the flooders' READY=1 after their floods made "
	    "the cluster ready");
	/* waiting, every full line, the one echo completed, READY=1. */
	lines = 1 + FLOOD_BYTES / FLOOD_LINE + (FLOOD_BYTES % FLOOD_LINE != 0)
	    + 1;
	is_int(lines, tl_json_int(j, "slots.0.notify.messages", -1),
	    "flood: every line of the stream flood was read");
	is_int(0, tl_json_int(j, "slots.0.notify.malformed", -1) +
	    tl_json_int(j, "slots.1.notify.malformed", -1) +
	    tl_json_int(j, "slots.1.notify.rejected", -1),
	    "flood: nothing was malformed or rejected");
	ok(tl_json_int(j, "slots.1.notify.messages", -1) >= 3,
	    "flood: datagrams were read (%lld)",
	    tl_json_int(j, "slots.1.notify.messages", -1));
	tl_json_free(j);
	rss1 = tl_proc_status_kb(d.pid, "VmRSS");
	/* Under a wrapper (valgrind) VmRSS is mostly the wrapper's own. */
	if (getenv("TL_DAEMON_WRAPPER") != NULL &&
	    *getenv("TL_DAEMON_WRAPPER") != '\0')
		skip("flood: VmRSS under TL_DAEMON_WRAPPER (%ld kB, then %ld "
		    "kB)", rss0, rss1);
	else {
		/*
		 * A sanitizer's allocator keeps freed memory in quarantine
		 * and maps shadow memory: allow it 32 MiB, which still
		 * fails on an allocation kept per message (1.5 million of
		 * them, at least 32 bytes each with redzones).
		 */
		slack = getenv("DROVER_TEST_SANITIZED") != NULL ? 32768 : 1024;
		ok(rss1 > 0 && labs(rss1 - rss0) <= slack, "flood: the "
		    "master's VmRSS after the flood (%ld kB) is within %ld kB "
		    "of before (%ld kB)", rss1, slack, rss0);
	}
	stop(&d, "flood");
}

/*
 * A master stopped for three times the watchdog while its workers ping
 * on time, on the stream (slot 0) and on the socket (slot 1): once it
 * runs again it reads the pings that wait for it before it judges, and
 * kills nobody.  The workers ping every 0.1 s against a watchdog of 1 s
 * (from their READY=1), which leaves room for a loaded machine and for a
 * master under valgrind.
 */
static void
test_watchdog_stall(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	siginfo_t		 si;
	const char		*script;
	long long		 w0, w1, m0, m1;

	if (py == NULL) {
		skip("watchdog stall: no python3");
		return;
	}
	script = tl_fmt("case $DROVER_WORKER_ID in 0) echo READY=1 >&" NFD
	    "; while :; do echo WATCHDOG=1 >&" NFD "; sleep 0.1; done;; "
	    "*) exec %s %s ping;; esac", py, helper);
	{
		const char *const argv[] = { "-w", "2", "--", "/bin/sh", "-c",
		    script, NULL };

		j = tl_start_conf(&d, "ready = notify\nwatchdog = 1s\n",
		    argv, 1);
	}
	w0 = tl_json_int(j, "slots.0.pid", 0);
	w1 = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);
	j = TL_WAIT(&d, WAIT_MS, TL_MIN("slots.0.notify.messages", 3),
	    TL_MIN("slots.1.notify.messages", 3));
	ok(j != NULL, "stall: the workers ping");
	m0 = tl_json_int(j, "slots.0.notify.messages", 0);
	m1 = tl_json_int(j, "slots.1.notify.messages", 0);
	tl_json_free(j);

	if (tl_daemon_kill(&d, SIGSTOP) == -1 || waitid(P_PID, d.pid, &si,
	    WSTOPPED | WEXITED | WNOWAIT) == -1 || si.si_code != CLD_STOPPED)
		bail("stall: cannot stop drover");
	tl_pause_ms(3000);
	if (tl_daemon_kill(&d, SIGCONT) == -1)
		bail("stall: cannot continue drover");
	/* What came during the stall, and then some. */
	j = TL_WAIT(&d, WAIT_MS, TL_MIN("slots.0.notify.messages", m0 + 35),
	    TL_MIN("slots.1.notify.messages", m1 + 35));
	ok(j != NULL && tl_json_int(j, "slots.0.pid", 0) == w0 &&
	    tl_json_int(j, "slots.0.restarts", -1) == 0,
	    "stall: the worker pinging on the stream is kept");
	ok(j != NULL && tl_json_int(j, "slots.1.pid", 0) == w1 &&
	    tl_json_int(j, "slots.1.restarts", -1) == 0,
	    "stall: the worker pinging on the socket is kept");
	tl_json_free(j);
	is_int(0, tl_log_count(&d, "sent no WATCHDOG=1"), "stall: the log "
	    "says nothing of a missed WATCHDOG=1");
	stop(&d, "stall");
}

int
main(void)
{
	struct rlimit	 rl = { 0, 0 };

	plan_lazy();
	/* Workers die of SIGABRT here: no core files. */
	(void)setrlimit(RLIMIT_CORE, &rl);
	tdir = tl_tmpdir();
	if ((py = find_python()) == NULL)
		diag("no python3: the datagram tests are skipped");
	else {
		helper = tl_fmt("%s/helper.py", tdir);
		if (tl_write_file(helper, "%s", helper_py) == -1)
			sysbail("%s", helper);
	}

	test_gating_stream();
	test_gating_socket();
	test_ready_timeout();
	test_untrusted();
	test_descendant();
	test_status_stopping();
	test_watchdog();
	test_watchdog_kill();
	test_watchdog_stall();
	test_malformed();
	test_flood();
	return 0;
}
