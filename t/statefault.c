/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The state directory fails under a running master and comes back.  It
 * is on a small tmpfs of its own, in a private mount namespace: the test
 * fills it up, then makes it read-only, then writable again with room.
 * Meanwhile workers are replaced (one while the disk is full; one while
 * it is read-only, whose replacement is held, so that the cluster is not
 * ready), a client keeps making requests, and the health endpoint says
 * how things are.  Requests are all answered; the failure is logged once,
 * not at every write; status.json stays as it was (stale) and so does
 * `ready`, which cannot be removed from a read-only directory, while the
 * health endpoint, which needs no disk, tells the truth; once the
 * directory is writable, the writes that failed are made again, so that
 * within about a second status.json, `ready` and `live` say what the
 * health endpoint says, and the log that they are written again.  An
 * upgrade while the directory is full serves on.  Runs only as root,
 * where a mount namespace can be made.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/* How long a wait for something that must happen may take. */
#define WAIT_MS		10000
/* How long after the directory is back the files may be wrong. */
#define BACK_MS		2000
#define NW		4
/* The tmpfs: room for the state files of a few workers. */
#define FS_OPTS		"size=256k,mode=0755"
/* What the log says of a state file that cannot be written. */
#define FAILED		"trying again every second"
/* And once they are written again, with the failures it did not say. */
#define AGAIN		"state files written again, after "

static void		 fs_make(void);
static void		 fs_unmount(void);
static void		 fs_fill(void);
static void		 fs_remount(unsigned long);
static struct tl_json	*health_status(int);
static int		 health_code(int, const char *);
static int		 same_state(const struct tl_json *,
			    const struct tl_json *);
static void		 check_files(struct tl_daemon *, int, const char *);
static long		 untold(const struct tl_daemon *);
static void		 test_upgrade_full(void);

/* The tmpfs mount point; the state directory is fs/state. */
static const char	*fs;
static const char	*filler;
static char		 state[PATH_MAX];
static char		 state2[PATH_MAX];	/* test_upgrade_full()'s */

/*
 * A private mount namespace for the test and the master it starts, and a
 * small tmpfs in it, with the state directory.  Its `lock` is a file of
 * another file system mounted there: the master keeps it open for
 * writing, and a file system with a file open for writing cannot be made
 * read-only by a remount (only by the kernel, after an error), so
 * without this the test could not do it.  Skips the test where no mount
 * namespace can be made.
 */
static void
fs_make(void)
{
	const char	*disklock;

	if (geteuid() != 0)
		skip_all("needs root, for a mount namespace");
	if (unshare(CLONE_NEWNS) == -1)
		skip_all("cannot make a mount namespace: %s",
		    strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		sysbail("make / private");
	fs = tl_fmt("%s/fs", tl_tmpdir());
	filler = tl_fmt("%s/filler", fs);
	if (mkdir(fs, 0755) == -1)
		sysbail("mkdir %s", fs);
	if (mount("tmpfs", fs, "tmpfs", MS_NOSUID | MS_NODEV, FS_OPTS) == -1)
		sysbail("mount a tmpfs on %s", fs);
	tap_atexit(fs_unmount);
	/* Made here, so that tl_status_wait() can watch it from the start. */
	(void)snprintf(state, sizeof(state), "%s/state", fs);
	if (mkdir(state, 0755) == -1)
		sysbail("mkdir %s", state);
	disklock = tl_fmt("%s/lock", tl_tmpdir());
	if (tl_write_file(disklock, "%s", "") == -1 ||
	    chmod(disklock, 0600) == -1 ||
	    tl_write_file(tl_fmt("%s/lock", state), "%s", "") == -1 ||
	    chmod(tl_fmt("%s/lock", state), 0600) == -1)
		sysbail("lock files");
	if (mount(disklock, tl_fmt("%s/lock", state), NULL, MS_BIND, NULL) ==
	    -1)
		sysbail("mount %s on %s/lock", disklock, state);
}

/*
 * At exit, after the master is gone or killed: detach the tmpfs (and the
 * lock on it), leaving an empty directory for the library to remove.
 */
static void
fs_unmount(void)
{
	if (umount2(fs, MNT_DETACH) == -1)
		diag("umount %s: %s", fs, strerror(errno));
}

/* Fill the tmpfs up to the last byte. */
static void
fs_fill(void)
{
	static const char	 block[4096];
	size_t			 n = sizeof(block);
	int			 fd;

	if ((fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		sysbail("open %s", filler);
	while (n > 0)
		if (write(fd, block, n) == -1) {
			if (errno != ENOSPC)
				sysbail("write %s", filler);
			n /= 2;
		}
	close(fd);
}

/*
 * Remount the tmpfs with flags (MS_RDONLY, or 0 for read-write).  The
 * master may have a state file open for writing just then: try again,
 * 10 ms later, up to 100 times.
 */
static void
fs_remount(unsigned long flags)
{
	int	 i;

	for (i = 0; mount(NULL, fs, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV |
	    flags, FS_OPTS) == -1; i++) {
		if (errno != EBUSY || i == 100)
			sysbail("remount %s", fs);
		tl_pause_ms(10);
	}
}

/* The health endpoint's /status, parsed, or NULL. */
static struct tl_json *
health_status(int hport)
{
	static char	 body[65536];
	int		 status;

	if (tl_http_get(hport, "/status", &status, body, sizeof(body)) ==
	    -1 || status != 200)
		return NULL;
	return tl_json_parse(body);
}

/* The status code of GET path on the health endpoint, or -1. */
static int
health_code(int hport, const char *path)
{
	char	 body[256];
	int	 status;

	if (tl_http_get(hport, path, &status, body, sizeof(body)) == -1)
		return -1;
	return status;
}

/* Whether two statuses agree on readiness and on every slot's worker. */
static int
same_state(const struct tl_json *a, const struct tl_json *b)
{
	char	 path[64];
	int	 k;

	if (a == NULL || b == NULL || tl_json_bool(a, "ready") !=
	    tl_json_bool(b, "ready") || tl_json_int(a, "workers_ready", -1) !=
	    tl_json_int(b, "workers_ready", -1))
		return 0;
	for (k = 0; k < NW; k++) {
		(void)snprintf(path, sizeof(path), "slots.%d.state", k);
		if (tl_pid_of(a, k) != tl_pid_of(b, k) ||
		    tl_json_str(a, path) == NULL || tl_json_str(b, path) ==
		    NULL || strcmp(tl_json_str(a, path),
		    tl_json_str(b, path)) != 0)
			return 0;
	}
	return 1;
}

/*
 * The state files say what the health endpoint says: status.json the
 * same readiness and workers, `ready` there exactly if ready, `live`
 * touched within two seconds.  Four tests.
 */
static void
check_files(struct tl_daemon *d, int hport, const char *what)
{
	struct tl_json	*j, *h;
	struct stat	 st;
	int		 ready;

	j = tl_status(d);
	h = health_status(hport);
	ok(same_state(j, h), "%s: status.json says what the health "
	    "endpoint says", what);
	ready = h != NULL && tl_json_bool(h, "ready") == 1;
	is_int(ready, access(tl_fmt("%s/ready", d->state), F_OK) == 0,
	    "%s: `ready` is %s", what, ready ? "there" : "gone");
	is_int(ready ? 200 : 503, health_code(hport, "/healthz/readiness"),
	    "%s: and the health endpoint's readiness says so", what);
	ok(stat(tl_fmt("%s/live", d->state), &st) == 0 &&
	    time(NULL) - st.st_mtime <= 2, "%s: `live` was touched within "
	    "two seconds", what);
	tl_json_free(j);
	tl_json_free(h);
}

/* The failures the log says it did not tell, once written again. */
static long
untold(const struct tl_daemon *d)
{
	char	*log, *p;
	long	 n = -1;

	if ((log = tl_slurp(d->log)) == NULL)
		sysbail("%s", d->log);
	if ((p = strstr(log, AGAIN)) != NULL)
		n = strtol(p + strlen(AGAIN), NULL, 10);
	free(log);
	return n;
}

/*
 * An upgrade (USR2) while the state directory is full: the new image
 * takes the workers over and serves on, as the previous one did with the
 * same directory, instead of exiting for want of room for its first
 * status.json (which took the workers with it); once there is room,
 * status.json says the upgrade went through.
 */
static void
test_upgrade_full(void)
{
	struct tl_daemon	 d;
	struct tl_client	 c;
	struct tl_json		*j, *h;
	const char		*s;
	pid_t			 p0, p1;
	int			 hport;

	/* Made here, as state, for tl_status_wait() to watch. */
	(void)snprintf(state2, sizeof(state2), "%s/state2", fs);
	if (mkdir(state2, 0755) == -1)
		sysbail("mkdir %s", state2);
	tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "health = 127.0.0.1:0\ncommand = %s\n",
	    tl_path("examples/hello-c/hello-c")),
	    (const char *const []){ "-s", state2, NULL }, 0);
	d.state = state2;
	if ((j = tl_status_wait(&d, tl_pred_all_ready, NULL, TL_READY_MS)) ==
	    NULL)
		bail("upgrade, full: drover did not get ready");
	hport = (int)tl_json_int(j, "health.port", -1);
	p0 = tl_pid_of(j, 0);
	p1 = tl_pid_of(j, 1);
	tl_client_start(&c, tl_port(j, 0), 0);
	tl_json_free(j);

	fs_fill();
	tl_daemon_kill(&d, SIGUSR2);
	is_int(0, tl_wait_log(&d, "upgrade: adopted 2 slots", WAIT_MS),
	    "upgrade, full: the new image adopted the workers");
	h = health_status(hport);
	s = h != NULL ? tl_json_str(h, "upgrade.result") : NULL;
	ok(s != NULL && strcmp(s, "ok") == 0 && tl_pid_of(h, 0) == p0 &&
	    tl_pid_of(h, 1) == p1, "upgrade, full: it serves on; the health "
	    "endpoint says the upgrade is done, with the same workers");
	tl_json_free(h);
	ok(tl_daemon_wait(&d, 0) == -1 && tl_wait_pid_gone(p0, 0) == -1 &&
	    tl_wait_pid_gone(p1, 0) == -1, "upgrade, full: the master and its "
	    "workers live");
	if (unlink(filler) == -1)
		sysbail("unlink %s", filler);
	j = TL_WAIT(&d, BACK_MS, TL_STR("upgrade.result", "ok"),
	    TL_EQ("slots.0.pid", p0));
	ok(j != NULL, "upgrade, full: once there is room, status.json says "
	    "so within %d ms", BACK_MS);
	tl_json_free(j);
	tl_check_client(&c, NULL, "upgrade, full", 1, 0);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "upgrade, full: drover stops "
	    "with status 0");
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_client	 c;
	struct tl_json		*j, *h;
	const char		*tdir, *script, *gate, *hold;
	long long		 t0, ms;
	pid_t			 p0, p1, n0;
	int			 port, hport;

	plan_lazy();
	fs_make();
	tdir = tl_tmpdir();
	gate = tl_fifo_new(tdir, "gate");
	hold = tl_fmt("%s/hold", tdir);
	script = tl_fmt("%s/worker.sh", tdir);
	if (tl_write_file(script,
	    "if [ \"$DROVER_WORKER_ID\" = 1 ] && [ -e %s ]; then\n"
	    "\tread x < %s\n"
	    "fi\n"
	    "exec %s\n", hold, gate, tl_path("examples/hello-c/hello-c")) ==
	    -1)
		sysbail("%s", script);
	/* The last -s is the one drover takes: the state is on the tmpfs. */
	tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = %d\n"
	    "ready = notify\nhealth = 127.0.0.1:0\npidfile = %s/pid\n"
	    "command = /bin/sh %s\n", NW, tdir, script),
	    (const char *const []){ "-d", "-s", state, NULL }, 0);
	d.state = state;
	if ((j = tl_status_wait(&d, tl_pred_all_ready, NULL, TL_READY_MS)) ==
	    NULL)
		bail("drover did not get ready");
	port = tl_port(j, 0);
	hport = (int)tl_json_int(j, "health.port", -1);
	p0 = tl_pid_of(j, 0);
	p1 = tl_pid_of(j, 1);
	tl_json_free(j);
	tl_client_start(&c, port, 0);
	check_files(&d, hport, "at first");

	/* Full: slot 0's worker is replaced. */
	fs_fill();
	if (kill(p0, SIGTERM) == -1)
		sysbail("kill %ld", (long)p0);
	is_int(0, tl_wait_log_count(&d, "slot 0: starting -> ready", 2,
	    WAIT_MS), "full: slot 0 has a new worker, ready");
	is_int(0, tl_wait_log(&d, FAILED, WAIT_MS), "full: the log says a "
	    "state file cannot be written");
	h = health_status(hport);
	n0 = tl_pid_of(h, 0);
	ok(n0 > 0 && n0 != p0, "full: the health endpoint shows slot 0's new "
	    "worker %ld", (long)n0);
	tl_json_free(h);
	j = tl_status(&d);
	is_int(p0, tl_pid_of(j, 0), "full: status.json still shows the old "
	    "one, %ld", (long)p0);
	tl_json_free(j);

	/* Read-only: slot 1's worker is replaced, the new one held. */
	fs_remount(MS_RDONLY);
	if (tl_write_file(hold, "hold\n") == -1)
		sysbail("%s", hold);
	if (kill(p1, SIGTERM) == -1)
		sysbail("kill %ld", (long)p1);
	is_int(0, tl_wait_log_count(&d, "slot 1: started worker", 2,
	    WAIT_MS), "read-only: slot 1 has a new worker, held");
	is_int(503, health_code(hport, "/healthz/readiness"), "read-only: "
	    "the health endpoint says the cluster is not ready");
	ok(access(tl_fmt("%s/ready", state), F_OK) == 0, "read-only: `ready` "
	    "cannot be removed: it stays");
	j = tl_status(&d);
	is_int(1, tl_json_bool(j, "ready"), "read-only: status.json, stale, "
	    "still says ready too");
	tl_json_free(j);
	is_int(1, tl_log_count(&d, FAILED), "read-only: the log said it "
	    "once, for all the writes that failed");

	/* Back, writable, with room: everything right within a second. */
	fs_remount(0);
	if (unlink(filler) == -1)
		sysbail("unlink %s", filler);
	t0 = tl_now_ms();
	j = TL_WAIT(&d, BACK_MS, TL_EQ("ready", 0),
	    TL_EQ("slots.0.pid", n0), TL_STR("slots.1.state", "starting"));
	ms = tl_now_ms() - t0;
	ok(j != NULL, "back: status.json shows slot 0's new worker and slot "
	    "1 starting within %d ms (%lld ms)", BACK_MS, ms);
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, AGAIN, WAIT_MS), "back: the log says the "
	    "state files are written again");
	ok(untold(&d) >= 2, "back: after %ld more failures, which it had not "
	    "told", untold(&d));
	check_files(&d, hport, "back");

	/* Let go: ready again. */
	tl_fifo_release(gate);
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("ready", 1), TL_EQ("workers_ready", NW));
	ok(j != NULL, "ready: slot 1 let go, status.json says ready");
	tl_json_free(j);
	check_files(&d, hport, "ready");
	tl_check_client(&c, NULL, "statefault", 1, 0);
	is_int(1, tl_log_count(&d, FAILED), "the log said it once in all");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "drover stops with status 0");
	test_upgrade_full();
	return 0;
}
