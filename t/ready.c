/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The state files as probes see them: the mtime of `live` moves on
 * while the master runs; with min_ready the `ready` file needs only that
 * many serving slots (a halted one does not take it away); and on
 * SIGTERM `ready` is gone before any worker is asked to stop: each
 * worker looks for it at the moment its SIGTERM arrives.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/stat.h>

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

/* How long a wait for something that must happen may take. */
#define WAIT_MS		10000

static int		 wait_touched(const char *, int);
static int		 mtime_after(const struct timespec *,
			    const struct timespec *);
static void		 test_live(void);
static void		 test_min_ready(void);
static void		 test_ready_first(void);

/*
 * Wait until `live` in dir is touched (IN_ATTRIB: utimensat) or
 * replaced (IN_MOVED_TO), at most timeout_ms.  0, or -1 on timeout.
 */
static int
wait_touched(const char *dir, int timeout_ms)
{
	struct inotify_event	*ev;
	struct pollfd		 pfd;
	char			 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	long long		 end = tl_now_ms() + timeout_ms;
	ssize_t			 len;
	char			*p;
	int			 ifd, left;

	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		sysbail("inotify_init1");
	if (inotify_add_watch(ifd, dir, IN_ATTRIB | IN_MOVED_TO) == -1)
		sysbail("inotify_add_watch %s", dir);
	while ((left = (int)(end - tl_now_ms())) > 0) {
		pfd.fd = ifd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) == -1 && errno != EINTR)
			sysbail("poll");
		while ((len = read(ifd, buf, sizeof(buf))) > 0) {
			for (p = buf; p < buf + len;
			    p += sizeof(*ev) + ev->len) {
				ev = (struct inotify_event *)(void *)p;
				if (ev->len > 0 &&
				    strcmp(ev->name, "live") == 0) {
					close(ifd);
					return 0;
				}
			}
		}
	}
	close(ifd);
	return -1;
}

/* Whether a is later than b. */
static int
mtime_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec &&
	    a->tv_nsec > b->tv_nsec);
}

/* The mtime of `live` advances, twice, a second or so apart. */
static void
test_live(void)
{
	struct tl_daemon	 d;
	struct stat		 st0, st1, st2;
	const char		*live;
	const char *const	 argv[] = { "-w", "1", "--", "/bin/sleep",
				    "600", NULL };
	long long		 t0, gap;
	int			 r;

	tl_json_free(tl_start(&d, argv, 1));
	live = tl_fmt("%s/live", d.state);
	ok(stat(live, &st0) == 0, "live exists while the master runs");
	t0 = tl_now_ms();
	r = wait_touched(d.state, 3000) == 0 && stat(live, &st1) == 0 &&
	    mtime_after(&st1.st_mtim, &st0.st_mtim);
	ok(r, "live is touched within 3 s and its mtime moves on (%lld ms)",
	    tl_now_ms() - t0);
	t0 = tl_now_ms();
	r = wait_touched(d.state, 3000) == 0 && stat(live, &st2) == 0 &&
	    mtime_after(&st2.st_mtim, &st1.st_mtim);
	ok(r, "and again (%lld ms)", tl_now_ms() - t0);
	/* A timer that fired late may fire the next time early: not 1 s. */
	gap = (st2.st_mtim.tv_sec - st1.st_mtim.tv_sec) * 1000 +
	    (st2.st_mtim.tv_nsec - st1.st_mtim.tv_nsec) / 1000000;
	ok(gap >= 100, "the two touches are %lld ms apart, not a busy loop",
	    gap);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "live: drover stops with "
	    "status 0");
	ok(access(live, F_OK) == -1, "live is removed at exit");
}

/*
 * min_ready = 1 with two slots, one of them halted (its worker exits
 * 78): the cluster counts as ready.
 */
static void
test_min_ready(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char *const	 argv[] = { "-w", "2", "--",
				    "/bin/sh", "-c",
				    "[ $DROVER_WORKER_ID = 1 ] && exit 78; "
				    "exec sleep 600", NULL };

	tl_start_conf(&d, "min_ready = 1\n", argv, 0);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.state", "ready"),
	    TL_STR("slots.1.state", "halted"));
	ok(j != NULL, "min_ready: slot 0 is ready and slot 1 halted");
	is_int(1, tl_json_bool(j, "ready"), "min_ready: status.json says "
	    "ready with 1 of 2 slots serving");
	is_int(1, tl_json_int(j, "workers_ready", -1), "min_ready: "
	    "workers_ready is 1");
	is_int(2, tl_json_int(j, "workers", -1), "min_ready: of 2 workers");
	tl_json_free(j);
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == 0, "min_ready: the "
	    "ready file exists");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "min_ready: drover stops with "
	    "status 0");
}

/*
 * SIGTERM: every worker, when its own SIGTERM arrives, writes down
 * whether the ready file is still there.  It must already be gone.
 */
static void
test_ready_first(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*dir = tl_tmpdir(), *script;
	char			*out;
	int			 k;

	/*
	 * Workers run in the daemon's directory, where the state directory
	 * is "state".  The trap is set before READY=1, so no SIGTERM can
	 * come before it; `wait` returns at once when a trapped signal
	 * arrives.
	 */
	script = tl_fmt("trap 'if [ -e state/ready ]; then r=present; "
	    "else r=absent; fi; echo $r > \"%s/seen.$DROVER_WORKER_ID\"; "
	    "kill $!; exit 0' TERM; sleep 600 & "
	    "echo READY=1 >&$DROVER_NOTIFY_FD; wait", dir);
	{
		const char *const argv[] = { "-w", "2", "--ready", "notify",
		    "--", "/bin/sh", "-c", script, NULL };

		tl_start(&d, argv, 0);
	}
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "TERM: both workers are ready");
	tl_json_free(j);
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == 0, "TERM: the ready "
	    "file exists before SIGTERM");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "TERM: drover stops with "
	    "status 0");
	for (k = 0; k < 2; k++) {
		out = tl_slurp(tl_fmt("%s/seen.%d", dir, k));
		is_string("absent\n", out, "TERM: when worker %d got SIGTERM, "
		    "the ready file was already gone", k);
		free(out);
	}
}

int
main(void)
{
	plan_lazy();
	test_live();
	test_min_ready();
	test_ready_first();
	return 0;
}
