/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * fork(2) failing in the master for want of processes (RLIMIT_NPROC),
 * at start, on TTIN and during a reload: each slot that cannot get a
 * worker says so in the log, waits its restart delay in backoff, and
 * tries again by itself; the workers already serving are not disturbed;
 * status.json says all of it truly; and once the limit is lifted
 * (prlimit(2) on the master), drover gets back to its full count of
 * workers, and the reload goes through, with no signal from anybody.
 * An upgrade (USR2), whose check of the new image is a process too,
 * fails and says why, and the next one goes through.
 *
 * Root is never held to RLIMIT_NPROC, so the master runs as a user of
 * its own, a uid no other process has (setpriv(1) in a wrapper that
 * first gives it the daemon's directory); only a process of that uid may
 * change its limits without CAP_SYS_RESOURCE, so the test lifts the
 * limit from a child that becomes that user.  The limit counts every
 * process of the uid: the master and its workers.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		20000
#define FORKFAIL	"fork: Resource temporarily unavailable"
/* Quick retries, never failed for good, a reload that waits. */
#define CONF		"listen = 127.0.0.1:0\nrestart_delay = 50ms\n" \
			"restart_delay_max = 400ms\nrestart_budget = 10000\n" \
			"reload_retries = 1000\nreload_grace = 100ms\n" \
			"command = %s/hello-c\nworkers = %d\n"

static void	 set_nproc(struct tl_daemon *, int);
static int	 pending_get(int);
static void	 test_forkfail(void);

static const char	*dir;		/* what the master's user may read */
static uid_t		 uid;

/*
 * Set the master's soft RLIMIT_NPROC to n, as its own user: 0 lifts it
 * to its hard limit.
 */
static void
set_nproc(struct tl_daemon *d, int n)
{
	struct rlimit	 rl;
	pid_t		 pid;
	int		 st;

	if ((pid = fork()) == -1)
		sysbail("fork");
	if (pid == 0) {
		if (tl_become(uid, (gid_t)uid) == -1 ||
		    prlimit(d->pid, RLIMIT_NPROC, NULL, &rl) == -1)
			_exit(1);
		rl.rlim_cur = n > 0 ? (rlim_t)n : rl.rlim_max;
		_exit(prlimit(d->pid, RLIMIT_NPROC, &rl, NULL) == -1);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			sysbail("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bail("cannot set RLIMIT_NPROC of %ld", (long)d->pid);
}

/* A connection to port with a GET / sent, its answer not read. */
static int
pending_get(int port)
{
	int	 fd;

	if ((fd = tl_connect(port)) == -1 ||
	    tl_http_request(fd, "/", 0) == -1)
		sysbail("GET / on port %d", port);
	return fd;
}

static void
test_forkfail(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	struct rlimit		 rl, low;
	const char		*conf = tl_fmt("%s/drover.conf", dir);
	const char		*wrap = tl_fmt("%s/as-user", dir);
	const char		*old = getenv("TL_DAEMON_WRAPPER");
	const char		*argv[] = { "-c", conf, NULL };
	pid_t			 p[3];
	char			 body[64];
	int			 fd, port, status, n;

	if (tl_write_file(conf, CONF, dir, 2) == -1 || tl_write_file(wrap,
	    "#!/bin/sh\nchown %ld . || exit 1\nexec setpriv --reuid=%ld "
	    "--regid=%ld --clear-groups %s \"$@\"\n", (long)uid, (long)uid,
	    (long)uid, old != NULL ? old : "") == -1 || chmod(wrap, 0755) == -1)
		sysbail("%s", dir);

	/* At start: only the master itself. */
	if (getrlimit(RLIMIT_NPROC, &rl) == -1)
		sysbail("getrlimit");
	low = rl;
	low.rlim_cur = 1;
	if (setenv("TL_DAEMON_WRAPPER", wrap, 1) == -1 ||
	    setrlimit(RLIMIT_NPROC, &low) == -1)
		sysbail("setenv or setrlimit");
	tl_start(&d, argv, 0);
	if (setrlimit(RLIMIT_NPROC, &rl) == -1)
		sysbail("setrlimit");
	if (old != NULL)
		(void)setenv("TL_DAEMON_WRAPPER", old, 1);
	else
		(void)unsetenv("TL_DAEMON_WRAPPER");
	is_int(0, tl_wait_log_count(&d, "slot 1: " FORKFAIL, 2, WAIT_MS),
	    "start: the log says each time why slot 1 has no worker: \"slot "
	    "1: " FORKFAIL "\"");
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.state", "backoff"),
	    TL_STR("slots.1.state", "backoff"), TL_MIN("slots.0.failures", 2));
	ok(j != NULL, "start: both slots wait in backoff, and try again");
	tl_check_true(&d, j, "start", 0);
	port = tl_port(j, 0);
	tl_json_free(j);
	ok(tl_daemon_kill(&d, 0) == 0 && tl_log_count(&d, "fatal") == 0,
	    "start: the master runs on");
	fd = pending_get(port);

	set_nproc(&d, 0);
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "start: once the limit is lifted, both slots get a "
	    "worker with no signal");
	tl_check_true(&d, j, "start, lifted", 0);
	tl_pids(j, p, 2);
	tl_json_free(j);
	ok(tl_http_response(fd, WAIT_MS, &status, body, sizeof(body), NULL) ==
	    0 && status == 200, "start: the request made while no worker "
	    "could start waited in the slot's queue, and is answered");
	close(fd);

	/* TTIN: room for the master and its two workers, no more. */
	tl_client_start(&c, port, 0);
	set_nproc(&d, 3);
	tl_daemon_kill(&d, SIGTTIN);
	is_int(0, tl_wait_log_count(&d, "slot 2: " FORKFAIL, 2, WAIT_MS),
	    "TTIN: slot 2 cannot get a worker, and tries again");
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("workers", 3),
	    TL_STR("slots.2.state", "backoff"));
	ok(j != NULL && tl_json_int(j, "slots.0.pid", 0) == p[0] &&
	    tl_json_int(j, "slots.1.pid", 0) == p[1] &&
	    tl_json_int(j, "workers_ready", 0) == 2, "TTIN: 3 workers wanted, "
	    "the 2 serving are the same");
	tl_check_true(&d, j, "TTIN", 0);
	tl_json_free(j);
	set_nproc(&d, 0);
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("workers", 3), TL_EQ("ready", 1),
	    TL_EQ("workers_ready", 3));
	ok(j != NULL, "TTIN: once the limit is lifted, slot 2 gets its "
	    "worker with no signal");
	tl_check_true(&d, j, "TTIN, lifted", 0);
	tl_pids(j, p, 3);
	tl_json_free(j);

	/* A reload: no process for a new worker while the old ones serve. */
	if (tl_write_file(conf, CONF, dir, 3) == -1)
		sysbail("%s", conf);
	set_nproc(&d, 4);
	n = tl_log_count(&d, FORKFAIL);
	tl_daemon_kill(&d, SIGHUP);
	is_int(0, tl_wait_log_count(&d, FORKFAIL, n + 3, WAIT_MS), "reload: "
	    "new workers cannot start, and are tried again");
	j = TL_WAIT(&d, WAIT_MS, TL_STR("reload.result", "in-progress"),
	    TL_EQ("ready", 1));
	for (n = 0; n < 3 && j != NULL && tl_json_int(j, tl_fmt("slots.%d.pid",
	    n), 0) == p[n]; n++)
		;
	is_int(3, n, "reload: in progress, ready, the 3 old workers serving "
	    "in their slots");
	tl_check_true(&d, j, "reload", 0);
	tl_json_free(j);
	set_nproc(&d, 0);
	j = tl_wait_generation(&d, 2, 3, WAIT_MS);
	ok(j != NULL, "reload: once the limit is lifted, generation 2 "
	    "replaces every worker, with no signal");
	tl_check_true(&d, j, "reload, lifted", 0);
	tl_pids(j, p, 3);
	tl_json_free(j);

	/* USR2: the new image's check cannot run. */
	set_nproc(&d, 4);
	tl_daemon_kill(&d, SIGUSR2);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("upgrade.result", "failed"));
	ok(j != NULL && tl_log_count(&d, "upgrade: " FORKFAIL) == 1,
	    "USR2: the upgrade fails, the log says why (%s)", j != NULL ?
	    tl_json_str(j, "upgrade.error") : "no status");
	tl_check_true(&d, j, "USR2", 0);
	tl_json_free(j);
	set_nproc(&d, 0);
	tl_daemon_kill(&d, SIGUSR2);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("upgrade.result", "ok"));
	ok(j != NULL && tl_json_int(j, "slots.0.pid", 0) == p[0] &&
	    tl_json_int(j, "slots.2.pid", 0) == p[2], "USR2: once the limit "
	    "is lifted, the next one goes through, with the same workers");
	tl_check_true(&d, j, "USR2, lifted", 0);
	tl_json_free(j);
	tl_check_client(&c, NULL, "fork failing", 10, 0);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "drover stops with status 0");
	ok(tl_wait_pid_gone(p[0], WAIT_MS) == 0 && tl_wait_pid_gone(p[2],
	    WAIT_MS) == 0, "no worker is left");
}

int
main(void)
{
	plan_lazy();
	if (geteuid() != 0) {
		skip_all("RLIMIT_NPROC: the test needs root to run drover as "
		    "another user");
		return 0;
	}
	if (!tl_in_path("setpriv")) {
		skip_all("setpriv(1) is missing");
		return 0;
	}
	/* A uid of our own: RLIMIT_NPROC counts all its processes. */
	uid = (uid_t)(61000 + getpid() % 4000);
	dir = tl_tmpdir();
	if (chmod(dir, 0755) == -1)
		sysbail("chmod %s", dir);
	if (tl_run((const char *const []){ "cp", tl_path(
	    "examples/hello-c/hello-c"), dir, NULL }, WAIT_MS, NULL) != 0)
		bail("cannot copy hello-c");
	test_forkfail();
	return 0;
}
