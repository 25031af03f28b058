/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * status.json is written at a bounded rate while things change, and still
 * shows every settled state.  During a rolling reload of 256 workers,
 * counted on inotify, it is written at most once per gap the master keeps
 * between writes (1 ms per 4000 bytes of the file, at most 100 ms,
 * drover(8)), plus the first write at once, while one worker floods its
 * notify stream with STATUS=; a write per change, as before, is two or
 * three per slot replaced and far more.  `ready` never goes meanwhile.
 * Without any notify message or later change to write it (exec mode,
 * workers that say nothing), the state in which a reload ends is written
 * all the same, before the master's next tick.  A change of readiness is
 * still written as it happens, `ready` removed and made again, with
 * hello-c serving and a pid file.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/* How long a wait for something that must happen may take. */
#define WAIT_MS		30000
/* And the rolling reload, 256 steps of fork and exec on a busy machine. */
#define ROLL_MS		180000
/*
 * Workers: in the rolling reload (fewer with the master under a wrapper
 * such as valgrind, many times slower), in the quiet one.
 */
#define NR		256
#define NR_WRAPPED	32
#define NQ		32
/* The length of their STATUS= text, near the most status.json shows. */
#define TEXTLEN		240
/* The gap between writes (status.c): 1 ms per this many bytes, cap. */
#define BYTES_PER_MS	4000
#define GAP_MAX_MS	100

static long long	 allowed(const char *, long long);
static int		 all_gone(const pid_t *, int);
static int		 wait_tick(const char *);
static void		 stop(struct tl_daemon *, const char *);
static void		 test_rolling(void);
static void		 test_quiet_end(void);
static void		 test_readiness(void);

static const char	*tdir;
static const char	*hello;

/*
 * How many writes of status.json the master may make in ms milliseconds
 * as the file in state is now: one at once, then one per gap, and one
 * for the rounding.  The file is only larger during a reload (old workers
 * are in it), and the gap with it.
 */
static long long
allowed(const char *state, long long ms)
{
	struct stat	 st;
	double		 gap;

	if (stat(tl_fmt("%s/status.json", state), &st) == -1)
		sysbail("stat %s/status.json", state);
	gap = (double)st.st_size / BYTES_PER_MS;
	if (gap > GAP_MAX_MS)
		gap = GAP_MAX_MS;
	diag("status.json is %lld bytes: a gap of %.1f ms",
	    (long long)st.st_size, gap);
	return 2 + (long long)(ms / gap);
}

/* Wait until each of the n pids is gone; how many are not. */
static int
all_gone(const pid_t *pids, int n)
{
	int	 k, left = 0;

	for (k = 0; k < n; k++)
		if (pids[k] <= 0 || tl_wait_pid_gone(pids[k], WAIT_MS) == -1)
			left++;
	return left;
}

/* Wait for the master's next tick, when it touches `live`: 0, or -1. */
static int
wait_tick(const char *state)
{
	struct pollfd	 pfd;
	char		 buf[4096] __attribute__((aligned(8)));
	long long	 end = tl_now_ms() + 5000;
	ssize_t		 n;
	int		 seen = 0;

	if ((pfd.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		sysbail("inotify_init1");
	if (inotify_add_watch(pfd.fd, tl_fmt("%s/live", state), IN_ATTRIB) ==
	    -1)
		sysbail("inotify_add_watch %s/live", state);
	pfd.events = POLLIN;
	while (!seen && tl_now_ms() < end) {
		if (poll(&pfd, 1, (int)(end - tl_now_ms())) == -1 &&
		    errno != EINTR)
			sysbail("poll");
		while ((n = read(pfd.fd, buf, sizeof(buf))) > 0)
			seen = 1;
	}
	close(pfd.fd);
	return seen ? 0 : -1;
}

static void
stop(struct tl_daemon *d, const char *what)
{
	is_int(0, tl_daemon_stop(d, WAIT_MS), "%s: drover stops with status "
	    "0", what);
}

/*
 * A rolling reload of 256 workers in notify mode, one slot at a time.
 * Each worker is a shell that says a long STATUS= and READY=1 and
 * becomes sleep(1); the new one of slot 0 also starts awk(1) flooding
 * its notify stream with STATUS= (a write per line, so that nothing is
 * cut into) until the stream is closed.  Each slot replaced is three
 * changes (started, ready, old one gone) in three loop iterations.
 */
static void
test_rolling(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*script, *st;
	const char		*wrapper = getenv("TL_DAEMON_WRAPPER");
	char			 text[TEXTLEN + 1];
	pid_t			 old[NR];
	long long		 t0, ms, most;
	int			 wfd, gone, written, nr = NR;

	if (wrapper != NULL && *wrapper != '\0')
		nr = NR_WRAPPED;
	memset(text, 'x', TEXTLEN);
	text[TEXTLEN] = '\0';
	script = tl_fmt("%s/rolling.sh", tdir);
	if (tl_write_file(script,
	    "if [ \"$DROVER_GENERATION\" = 2 ] && "
	    "[ \"$DROVER_WORKER_ID\" = 0 ]; then\n"
	    "\tawk 'BEGIN { for (;;) { print \"STATUS=flood \" i++; "
	    "fflush() } }' >&\"$DROVER_NOTIFY_FD\" 2>/dev/null &\n"
	    "fi\n"
	    "printf 'STATUS=%s\\nREADY=1\\n' >&\"$DROVER_NOTIFY_FD\"\n"
	    "exec sleep 3600\n", text) == -1)
		sysbail("%s", script);
	j = tl_start_conf(&d, tl_fmt("workers = %d\nready = notify\n"
	    "reload_batch = 1\nreload_grace = 0\ncommand = /bin/sh %s\n", nr,
	    script), NULL, 1);
	tl_pids(j, old, nr);
	tl_json_free(j);

	wfd = tl_state_watch(d.state);
	t0 = tl_now_ms();
	if (tl_daemon_kill(&d, SIGHUP) == -1)
		sysbail("SIGHUP");
	j = tl_wait_generation(&d, 2, nr, ROLL_MS);
	ms = tl_now_ms() - t0;
	ok(j != NULL, "rolling: the reload of %d workers ends, generation 2 "
	    "ready everywhere (%lld ms)", nr, ms);
	st = j != NULL ? tl_json_str(j, "slots.0.status") : NULL;
	ok(st != NULL && strncmp(st, "flood ", 6) == 0, "rolling: slot 0's "
	    "STATUS= flood shows");
	tl_json_free(j);
	ok(tl_state_events(wfd, &gone, &written) == 0, "rolling: the watch "
	    "on the state directory lost no event");
	most = allowed(d.state, ms);
	ok(written > 0 && written <= most, "rolling: status.json was written "
	    "%d times in the %lld ms of the reload, at most %lld", written, ms,
	    most);
	is_int(0, gone, "rolling: `ready` never went");
	is_int(0, all_gone(old, nr), "rolling: every old worker is gone");
	stop(&d, "rolling");
}

/*
 * A reload of 32 workers in exec mode, all at once, that say nothing (no
 * notify message, no output): the end of the reload is the last change,
 * and nothing else makes the master write but its tick, once a second.
 * The reload starts just after a tick; the state it ends in shows before
 * the next, not with it.
 */
static void
test_quiet_end(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	pid_t			 old[NQ];
	long long		 t0, t1, t2, most;
	int			 wfd, gone, written;

	j = tl_start_conf(&d, tl_fmt("workers = %d\nready = exec\n"
	    "reload_batch = %d\nreload_grace = 0\ncommand = /bin/sleep 3600\n",
	    NQ, NQ), NULL, 1);
	tl_pids(j, old, NQ);
	tl_json_free(j);

	wfd = tl_state_watch(d.state);
	if (wait_tick(d.state) == -1)
		bail("quiet: the master does not touch live every second");
	t0 = tl_now_ms();
	if (tl_daemon_kill(&d, SIGHUP) == -1)
		sysbail("SIGHUP");
	is_int(0, all_gone(old, NQ), "quiet: every old worker is gone after "
	    "the reload");
	t1 = tl_now_ms();
	j = tl_wait_generation(&d, 2, NQ, WAIT_MS);
	t2 = tl_now_ms();
	ok(j != NULL, "quiet: status.json shows the reload ended, generation "
	    "2 everywhere, %lld ms after the last old worker exited", t2 - t1);
	tl_json_free(j);
	/* The next tick is a second after the one before the reload. */
	if (t1 - t0 > 600)
		skip("quiet: the reload took %lld ms, too close to the next "
		    "tick to tell", t1 - t0);
	else
		ok(t2 - t0 < 950, "quiet: it shows before the master's next "
		    "tick (%lld ms after the last)", t2 - t0);
	ok(tl_state_events(wfd, &gone, &written) == 0, "quiet: the watch on "
	    "the state directory lost no event");
	most = allowed(d.state, t2 - t0);
	ok(written > 0 && written <= most, "quiet: status.json was written "
	    "%d times in the %lld ms of the reload, at most %lld", written,
	    t2 - t0, most);
	is_int(0, gone, "quiet: `ready` never went");
	stop(&d, "quiet");
}

/*
 * Four hello-c, with a pid file: slot 1's worker is killed and its
 * replacement held before it starts.  status.json says the cluster is
 * not ready, and `ready` is gone; let go, both say it is ready again.
 */
static void
test_readiness(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*script, *gate, *hold;
	char			 body[64];
	pid_t			 p1;
	int			 wfd, gone, written, port, status;

	gate = tl_fifo_new(tdir, "gate");
	hold = tl_fmt("%s/hold", tdir);
	script = tl_fmt("%s/hold.sh", tdir);
	if (tl_write_file(script,
	    "if [ \"$DROVER_WORKER_ID\" = 1 ] && [ -e %s ]; then\n"
	    "\tread x < %s\n"
	    "fi\n"
	    "exec %s\n", hold, gate, hello) == -1)
		sysbail("%s", script);
	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 4\n"
	    "ready = notify\npidfile = %s/pid\ncommand = /bin/sh %s\n", tdir,
	    script), NULL, 1);
	port = tl_port(j, 0);
	p1 = tl_pid_of(j, 1);
	tl_json_free(j);
	if (tl_write_file(hold, "hold\n") == -1)
		sysbail("%s", hold);
	wfd = tl_state_watch(d.state);
	if (p1 <= 0 || kill(p1, SIGKILL) == -1)
		sysbail("kill slot 1's worker %ld", (long)p1);
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("ready", 0), TL_EQ("workers_ready", 3),
	    TL_STR("slots.1.state", "starting"));
	ok(j != NULL, "readiness: with slot 1's worker killed and its "
	    "replacement held, status.json says not ready");
	tl_json_free(j);
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == -1 && errno == ENOENT,
	    "readiness: `ready` is gone");
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "readiness: the other workers answer");
	tl_fifo_release(gate);
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("ready", 1), TL_EQ("workers_ready", 4));
	ok(j != NULL, "readiness: let go, slot 1 is ready and status.json "
	    "says the cluster is");
	tl_json_free(j);
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == 0,
	    "readiness: `ready` is there again");
	ok(tl_state_events(wfd, &gone, &written) == 0 && gone == 1,
	    "readiness: `ready` went once (%d)", gone);
	stop(&d, "readiness");
}

int
main(void)
{
	plan_lazy();
	tdir = tl_tmpdir();
	hello = tl_path("examples/hello-c/hello-c");
	test_rolling();
	test_quiet_end();
	test_readiness();
	return 0;
}
