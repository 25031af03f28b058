/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * drover as the init of a container, and as a subreaper.  As PID 1 of a
 * new pid namespace (unshare --pid --fork --mount-proc, which needs
 * root) the orphans of its workers become its children: it reaps them,
 * they never stay zombies, and it still stops gracefully on SIGTERM with
 * exit status 0, which unshare passes on.  Outside a namespace,
 * `subreaper = yes` makes it the parent of its workers' orphans, which it
 * reaps the same way; without it they are not its own.
 *
 * Each worker leaves an orphan behind: a subshell starts `sleep 1000` in
 * the background and exits, and writes the orphan's pid (as its own pid
 * namespace sees it) to a file before the worker says READY=1.
 */

#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/* How long a wait for something that must happen may take. */
#define WAIT_MS		10000
#define MAXKIDS		64

struct procinfo {
	char		 state;
	long long	 ppid;
	long long	 nspid;		/* the pid in its own namespace */
};

static int		 proc_info(pid_t, struct procinfo *);
static pid_t		 host_pid(pid_t, long long);
static int		 zombies_of(pid_t);
static long long	 read_pid(const char *);
static const char	*script(const char *);
static void		 kill_and_resync(struct tl_daemon *, pid_t, pid_t,
			    long long, const char *);
static void		 test_pidns(void);
static void		 test_subreaper(int);

/*
 * State and parent (from /proc/PID/stat) and the innermost pid (the last
 * field of NSpid in /proc/PID/status) of a process: 0, or -1 if there
 * is no such process.
 */
static int
proc_info(pid_t pid, struct procinfo *pi)
{
	char	*text, *p;
	int	 r = -1;

	memset(pi, 0, sizeof(*pi));
	text = tl_slurp(tl_fmt("/proc/%ld/stat", (long)pid));
	/* "pid (comm) state ppid ...": comm may hold anything. */
	if (text != NULL && (p = strrchr(text, ')')) != NULL &&
	    sscanf(p + 1, " %c %lld", &pi->state, &pi->ppid) == 2)
		r = 0;
	free(text);
	if (r == -1)
		return -1;
	text = tl_slurp(tl_fmt("/proc/%ld/status", (long)pid));
	if (text != NULL && (p = strstr(text, "\nNSpid:")) != NULL) {
		p += 7;
		while (*p != '\n' && *p != '\0') {
			pi->nspid = strtoll(p, &p, 10);
			p += strspn(p, " \t");
		}
	}
	free(text);
	return 0;
}

/* The child of parent whose pid in its own namespace is nspid, or 0. */
static pid_t
host_pid(pid_t parent, long long nspid)
{
	struct procinfo	 pi;
	pid_t		 kids[MAXKIDS];
	int		 n, i;

	n = tl_children(parent, kids, MAXKIDS);
	for (i = 0; i < n; i++)
		if (proc_info(kids[i], &pi) == 0 && pi.nspid == nspid)
			return kids[i];
	return 0;
}

/* How many children of ppid are zombies. */
static int
zombies_of(pid_t ppid)
{
	struct procinfo	 pi;
	pid_t		 kids[MAXKIDS];
	int		 n, i, z = 0;

	n = tl_children(ppid, kids, MAXKIDS);
	for (i = 0; i < n; i++)
		if (proc_info(kids[i], &pi) == 0 && pi.state == 'Z')
			z++;
	return z;
}

/* The number in file, or -1. */
static long long
read_pid(const char *file)
{
	char		*text = tl_slurp(file);
	long long	 pid = -1;

	if (text != NULL)
		pid = atoll(text);
	free(text);
	return pid > 0 ? pid : -1;
}

/* The worker: an orphan, its pid in file, READY=1, then idle. */
static const char *
script(const char *file)
{
	return tl_fmt("(sleep 1000 & echo $! > '%s'); "
	    "echo READY=1 >&$DROVER_NOTIFY_FD; exec sleep 1001", file);
}

/*
 * The orphan (host pid orphan) has been killed and has exited: kill the
 * worker too, with host pid worker and pid wpid in status.json, and wait
 * until its replacement is ready.  By then the master has been through
 * its loop, reaping whatever had ended.
 */
static void
kill_and_resync(struct tl_daemon *d, pid_t orphan, pid_t worker,
    long long wpid, const char *what)
{
	struct tl_slot_pid	 sp;
	struct tl_json		*j;

	is_int(0, tl_wait_pid_gone(orphan, WAIT_MS), "%s: the killed orphan "
	    "has exited", what);
	if (kill(worker, SIGKILL) == -1)
		sysbail("kill %d", (int)worker);
	sp.slot = 0;
	sp.oldpid = wpid;
	j = tl_status_wait(d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "%s: the master still works: the killed worker is "
	    "replaced", what);
	tl_json_free(j);
}

/* drover as PID 1 of a pid namespace. */
static void
test_pidns(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct procinfo		 pi;
	const char		*dir = tl_tmpdir(), *file, *old, *wrap;
	const char *const	 probe[] = { "unshare", "--pid", "--fork",
				    "--mount-proc", "true", NULL };
	char			*out = NULL;
	pid_t			 kids[MAXKIDS], drover, worker, orphan;
	long long		 wpid, opid;
	int			 n, r;

	if (geteuid() != 0) {
		skip("pid namespace: unshare --pid needs root");
		return;
	}
	r = tl_run(probe, WAIT_MS, &out);
	ok(r == 0, "unshare --pid --fork --mount-proc works here%s%s",
	    r != 0 ? ": " : "", r != 0 && out != NULL ? out : "");
	free(out);
	if (r != 0)
		return;

	file = tl_fmt("%s/orphan", dir);
	wrap = "unshare --pid --fork --mount-proc";
	/* A wrapper the caller set (valgrind, say) runs drover, as PID 1. */
	if ((old = getenv("TL_DAEMON_WRAPPER")) != NULL && *old != '\0')
		wrap = tl_fmt("%s %s", wrap, old);
	old = old != NULL ? tl_fmt("%s", old) : NULL;
	if (setenv("TL_DAEMON_WRAPPER", wrap, 1) == -1)
		sysbail("setenv");
	{
		const char *const argv[] = { "-w", "1", "--ready", "notify",
		    "--", "/bin/sh", "-c", script(file), NULL };

		tl_start(&d, argv, 0);
	}
	if (old != NULL)
		(void)setenv("TL_DAEMON_WRAPPER", old, 1);
	else
		(void)unsetenv("TL_DAEMON_WRAPPER");

	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "pidns: the worker is ready");
	if (j == NULL) {
		(void)tl_daemon_kill(&d, SIGKILL);
		(void)tl_daemon_wait(&d, WAIT_MS);
		return;
	}
	is_int(1, tl_json_int(j, "pid", 0), "pidns: status.json says the "
	    "master is PID 1");
	wpid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);

	/* unshare -> drover (PID 1 inside) -> worker, orphan. */
	n = tl_children(d.pid, kids, MAXKIDS);
	drover = n == 1 ? kids[0] : 0;
	ok(drover > 0 && proc_info(drover, &pi) == 0 && pi.nspid == 1,
	    "pidns: unshare's one child, pid %d here, is PID 1 in its "
	    "namespace", (int)drover);
	if (drover <= 0)
		bail("pidns: no drover under unshare %d", (int)d.pid);
	worker = host_pid(drover, wpid);
	opid = read_pid(file);
	orphan = opid > 0 ? host_pid(drover, opid) : 0;
	ok(worker > 0, "pidns: the worker (%lld inside) is drover's child, "
	    "pid %d here", wpid, (int)worker);
	ok(orphan > 0, "pidns: the worker's orphan (%lld inside) was "
	    "reparented to drover, pid %d here", opid, (int)orphan);
	if (worker <= 0 || orphan <= 0)
		bail("pidns: cannot go on without the worker and its orphan");

	if (kill(orphan, SIGKILL) == -1)
		sysbail("kill %d", (int)orphan);
	kill_and_resync(&d, orphan, worker, wpid, "pidns");
	ok(proc_info(orphan, &pi) == -1, "pidns: drover reaped the orphan "
	    "(no /proc/%d)", (int)orphan);
	is_int(0, zombies_of(drover), "pidns: drover has no zombie children");

	/* SIGTERM reaches PID 1 from outside: a graceful stop, exit 0. */
	opid = read_pid(file);
	orphan = opid > 0 ? host_pid(drover, opid) : 0;
	ok(orphan > 0, "pidns: the new worker left its own orphan (pid %d "
	    "here)", (int)orphan);
	if (kill(drover, SIGTERM) == -1)
		sysbail("kill %d", (int)drover);
	is_int(0, tl_daemon_wait(&d, WAIT_MS), "pidns: SIGTERM to drover: it "
	    "stops, and unshare exits with its status 0");
	is_int(0, tl_wait_log(&d, "stopping gracefully", 0), "pidns: "
	    "gracefully, the log says");
	is_int(0, tl_wait_pid_gone(drover, WAIT_MS), "pidns: drover is gone");
	if (orphan > 0)
		is_int(0, tl_wait_pid_gone(orphan, WAIT_MS), "pidns: the "
		    "orphan left in the namespace ended with it");

	/* Another exit status comes through as well. */
	if (setenv("TL_DAEMON_WRAPPER", wrap, 1) == -1)
		sysbail("setenv");
	{
		const char *const argv[] = { "--", "/bin/true", NULL };

		tl_start_conf(&d, "wokers = 1\n", argv, 0);
	}
	if (old != NULL)
		(void)setenv("TL_DAEMON_WRAPPER", old, 1);
	else
		(void)unsetenv("TL_DAEMON_WRAPPER");
	is_int(78, tl_daemon_wait(&d, WAIT_MS), "pidns: a bad configuration: "
	    "unshare exits 78, drover's status");
}

/*
 * Outside a namespace: with subreaper = yes a worker's orphan is
 * drover's child and is reaped; without it, it is not drover's.
 */
static void
test_subreaper(int on)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct procinfo		 pi;
	const char		*dir = tl_tmpdir(), *file, *what;
	long long		 wpid, opid;
	pid_t			 orphan;

	what = on ? "subreaper" : "no subreaper";
	file = tl_fmt("%s/orphan", dir);
	{
		const char *const argv[] = { "-w", "1", "--ready", "notify",
		    "--", "/bin/sh", "-c", script(file), NULL };

		tl_start_conf(&d, tl_fmt("subreaper = %s\n",
		    on ? "yes" : "no"), argv, 0);
	}
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "%s: the worker is ready", what);
	wpid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	opid = read_pid(file);
	ok(opid > 0 && proc_info((pid_t)opid, &pi) == 0, "%s: the worker "
	    "left an orphan (%lld)", what, opid);
	if (opid <= 0)
		bail("%s: no orphan", what);
	orphan = (pid_t)opid;

	if (!on) {
		ok(pi.ppid != d.pid, "%s: the orphan's parent is not drover "
		    "(%lld)", what, pi.ppid);
		(void)kill(orphan, SIGKILL);
		is_int(0, tl_wait_pid_gone(orphan, WAIT_MS), "%s: the orphan "
		    "is killed", what);
		is_int(0, tl_daemon_stop(&d, WAIT_MS), "%s: drover stops with "
		    "status 0", what);
		return;
	}

	is_int(d.pid, pi.ppid, "%s: the orphan's parent is drover", what);
	if (kill(orphan, SIGKILL) == -1)
		sysbail("kill %d", (int)orphan);
	kill_and_resync(&d, orphan, (pid_t)wpid, wpid, what);
	ok(proc_info(orphan, &pi) == -1, "%s: drover reaped the orphan (no "
	    "/proc/%d)", what, (int)orphan);
	is_int(0, zombies_of(d.pid), "%s: drover has no zombie children",
	    what);

	/* The replacement's orphan: ours to end. */
	opid = read_pid(file);
	ok(opid > 0 && opid != orphan && proc_info((pid_t)opid, &pi) == 0 &&
	    pi.ppid == d.pid, "%s: the new worker's orphan is drover's "
	    "child too", what);
	if (opid > 0 && opid != orphan) {
		(void)kill((pid_t)opid, SIGKILL);
		(void)tl_wait_pid_gone((pid_t)opid, WAIT_MS);
	}
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "%s: drover stops with status "
	    "0", what);
}

int
main(void)
{
	plan_lazy();
	test_pidns();
	test_subreaper(1);
	test_subreaper(0);
	return 0;
}
