/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * output = prefix: what workers write to standard output and standard
 * error reaches the master's log one line at a time, as "slot N pid P
 * stdout: text" or "... stderr: text"; a line longer than 4096 bytes is
 * cut into prefixed pieces of at most 4096; a last line without a
 * newline is written when the worker
 * exits.  A worker writing 50 MB as fast as it can neither holds up the
 * master (another slot's worker is replaced meanwhile) nor grows its
 * memory, and with the log in a regular file nothing is dropped:
 * output_dropped in status.json stays 0 and every byte arrives.  With
 * the master's standard error a pipe that nobody reads, a flood is
 * dropped and counted instead, and the master still goes on working.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
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
/* The master's limit on a line (output.c). */
#define LINE_MAX_OUT	4096
/* The long line, and the flood: 781250 lines of 64 bytes. */
#define LONG_LINE	10000
#define FLOOD_BYTES	50000000LL
#define FLOOD_TEXT	"flood-flood-flood-flood-flood-" \
			"flood-flood-flood-flood-flood-flo"

struct scan {
	long long	 lines;		/* lines with the prefix */
	long long	 bytes;		/* their text and newline */
	long long	 longest;
	int		 lens[8];	/* lengths of the first lines of x */
	int		 nlens;
	long long	 stray;		/* lines neither drover's nor slots' */
};

static void		 scan_log(const char *, const char *, struct scan *);
static void		 test_pipe_sink(void);

/*
 * Read the log line by line: count the lines that start with prefix and
 * their bytes, note the lengths of the first ones made of 'x' only, and
 * count lines that are neither the master's own ("drover[") nor a
 * worker's ("slot ").
 */
static void
scan_log(const char *path, const char *prefix, struct scan *sc)
{
	char	*line = NULL;
	size_t	 cap = 0, plen = strlen(prefix);
	ssize_t	 len;
	FILE	*fp;

	memset(sc, 0, sizeof(*sc));
	if ((fp = fopen(path, "re")) == NULL)
		sysbail("%s", path);
	while ((len = getline(&line, &cap, fp)) != -1) {
		if (strncmp(line, "drover[", 7) != 0 &&
		    strncmp(line, "slot ", 5) != 0)
			sc->stray++;
		if (strncmp(line, prefix, plen) != 0)
			continue;
		sc->lines++;
		sc->bytes += len - (long long)plen;
		if (len - (long long)plen - 1 > sc->longest)
			sc->longest = len - (long long)plen - 1;
		if (line[plen] == 'x' && sc->nlens < 8 &&
		    strspn(line + plen, "x") == (size_t)(len - plen - 1))
			sc->lens[sc->nlens++] = (int)(len - plen - 1);
	}
	free(line);
	fclose(fp);
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	struct scan		 sc;
	const char		*dir, *f0, *f1, *script, *prefix, *st;
	long long		 w0, w1, w2, t0;
	long			 rss0, rss1;
	char			 tail[2048];
	int			 r;

	plan_lazy();
	dir = tl_tmpdir();
	f0 = tl_fifo_new(dir, "gate-0");
	f1 = tl_fifo_new(dir, "gate-1");
	/*
	 * Slot 0 writes to both streams, a long line, then waits for the
	 * test and exits 78 (not restarted) with a line unfinished.  Slot 1
	 * waits for the test, then floods.  Slot 2 idles.
	 */
	script = tl_fmt("case $DROVER_WORKER_ID in "
	    "0) echo 'hello stdout'; echo 'hello stderr' >&2; "
	    "head -c %d /dev/zero | tr '\\0' x; echo; read x < '%s'; "
	    "printf 'no newline at the end'; exit 78;; "
	    "1) read x < '%s'; echo STATUS=flooding >&$DROVER_NOTIFY_FD; "
	    "yes %s | head -c %lld; echo; "
	    "echo STATUS=flood-done >&$DROVER_NOTIFY_FD; exec sleep 600;; "
	    "*) exec sleep 600;; esac", LONG_LINE, f0, f1, FLOOD_TEXT,
	    FLOOD_BYTES);
	{
		const char *const argv[] = { "-w", "3", "--", "/bin/sh", "-c",
		    script, NULL };

		j = tl_start_conf(&d, "output = prefix\nrestart_delay = 10ms\n",
		    argv, 1);
	}
	w0 = tl_json_int(j, "slots.0.pid", 0);
	w1 = tl_json_int(j, "slots.1.pid", 0);
	w2 = tl_json_int(j, "slots.2.pid", 0);
	is_int(0, tl_json_int(j, "output_dropped", -1), "status.json has "
	    "output_dropped, 0");
	tl_json_free(j);

	/* Lines, prefixed. */
	prefix = tl_fmt("slot 0 pid %lld stdout: ", w0);
	is_int(0, tl_wait_log(&d, tl_fmt("\n%shello stdout\n", prefix),
	    WAIT_MS), "a line on standard output reaches the log as \"%s"
	    "hello stdout\"", prefix);
	is_int(0, tl_wait_log(&d, tl_fmt("\nslot 0 pid %lld stderr: hello "
	    "stderr\n", w0), WAIT_MS), "a line on standard error too, "
	    "marked stderr");
	memset(tail, 'x', LONG_LINE - 2 * LINE_MAX_OUT);
	tail[LONG_LINE - 2 * LINE_MAX_OUT] = '\0';
	is_int(0, tl_wait_log(&d, tl_fmt("\n%s%s\n", prefix, tail), WAIT_MS),
	    "the end of a %d-byte line arrives", LONG_LINE);
	scan_log(d.log, prefix, &sc);
	ok(sc.nlens == 3 && sc.lens[0] == LINE_MAX_OUT &&
	    sc.lens[1] == LINE_MAX_OUT &&
	    sc.lens[2] == LONG_LINE - 2 * LINE_MAX_OUT, "in three prefixed "
	    "pieces of %d, %d and %d bytes (%d pieces: %d, %d, %d)",
	    LINE_MAX_OUT, LINE_MAX_OUT, LONG_LINE - 2 * LINE_MAX_OUT,
	    sc.nlens, sc.lens[0], sc.lens[1], sc.lens[2]);

	/* A last line without a newline, when the worker exits. */
	tl_fifo_release(f0);
	is_int(0, tl_wait_log(&d, tl_fmt("\n%sno newline at the end\n",
	    prefix), WAIT_MS), "a last line without a newline is written, "
	    "ended, when the worker exits");
	{
		struct tl_match	 m = { "slots.0.state", "halted", 0 };

		j = tl_status_wait(&d, tl_pred_match, &m, WAIT_MS);
		ok(j != NULL, "slot 0 is halted (exit 78)");
		tl_json_free(j);
	}

	/*
	 * The flood.  Slot 2's worker is killed as it starts: its
	 * replacement comes while the master has 50 MB to carry.
	 */
	rss0 = tl_proc_status_kb(d.pid, "VmRSS");
	ok(rss0 > 0, "the master's VmRSS before the flood is %ld kB", rss0);
	t0 = tl_now_ms();
	tl_fifo_release(f1);
	if (kill((pid_t)w2, SIGKILL) == -1)
		sysbail("kill %lld", w2);
	sp.slot = 2;
	sp.oldpid = w2;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "slot 2's killed worker is replaced during the flood "
	    "(%lld ms)", tl_now_ms() - t0);
	st = j != NULL ? tl_json_str(j, "slots.1.status") : NULL;
	diag("slot 1's status then: %s", st != NULL ? st : "(none)");
	tl_json_free(j);
	{
		struct tl_match	 m = { "slots.1.status", "flood-done", 0 };

		j = tl_status_wait(&d, tl_pred_match, &m, 60000);
	}
	ok(j != NULL, "the flood is over (%lld ms)", tl_now_ms() - t0);
	is_int(0, tl_json_int(j, "output_dropped", -1), "output_dropped is "
	    "still 0: a regular file takes everything");
	is_int(w1, tl_json_int(j, "slots.1.pid", 0), "the flooding worker "
	    "was never blocked into a restart");
	tl_json_free(j);
	rss1 = tl_proc_status_kb(d.pid, "VmRSS");
	if (getenv("TL_DAEMON_WRAPPER") != NULL &&
	    *getenv("TL_DAEMON_WRAPPER") != '\0')
		skip("VmRSS under TL_DAEMON_WRAPPER (%ld kB, then %ld kB)",
		    rss0, rss1);
	else
		ok(rss1 > 0 && rss1 - rss0 <= 2048, "the master's VmRSS after "
		    "the flood (%ld kB) is within 2 MiB of before (%ld kB)",
		    rss1, rss0);

	r = tl_daemon_stop(&d, WAIT_MS);
	is_int(0, r, "drover stops with status 0");
	prefix = tl_fmt("slot 1 pid %lld stdout: ", w1);
	scan_log(d.log, prefix, &sc);
	is_int(FLOOD_BYTES + 1, sc.bytes, "every byte of the flood is in the "
	    "log, in %lld prefixed lines", sc.lines);
	is_int((long long)strlen(FLOOD_TEXT), sc.longest, "no flood line is "
	    "longer than written");
	is_int(0, sc.stray, "every line of the log is the master's or a "
	    "prefixed worker line: nothing interleaved");
	test_pipe_sink();
	return 0;
}

/*
 * The master's standard error is a FIFO that the test holds open for
 * reading but never reads (a log collector that is stuck), with the
 * smallest pipe buffer.  A wrapper script puts it there, so the master
 * keeps its pid.
 */
static void
test_pipe_sink(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	const char		*dir = tl_tmpdir(), *fifo, *gate, *wrap;
	const char		*old, *script;
	long long		 w1;
	int			 rfd;

	fifo = tl_fifo_new(dir, "stderr");
	gate = tl_fifo_new(dir, "gate");
	if ((rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		sysbail("open %s", fifo);
	if (fcntl(rfd, F_SETPIPE_SZ, 4096) == -1)
		diag("F_SETPIPE_SZ: %s", strerror(errno));
	wrap = tl_fmt("%s/wrap", dir);
	if (tl_write_file(wrap, "#!/bin/sh\nexec \"$@\" 2>'%s'\n", fifo) ==
	    -1 || chmod(wrap, 0755) == -1)
		sysbail("%s", wrap);
	/* A wrapper the caller set (valgrind, say) runs drover inside ours. */
	if ((old = getenv("TL_DAEMON_WRAPPER")) != NULL && *old != '\0') {
		old = tl_fmt("%s", old);
		wrap = tl_fmt("%s %s", wrap, old);
	}
	script = tl_fmt("case $DROVER_WORKER_ID in "
	    "0) read x < '%s'; yes pipe-flood | head -c %lld; "
	    "echo STATUS=done >&$DROVER_NOTIFY_FD; exec sleep 600;; "
	    "*) exec sleep 600;; esac", gate, FLOOD_BYTES / 10);
	if (setenv("TL_DAEMON_WRAPPER", wrap, 1) == -1)
		sysbail("setenv");
	{
		const char *const argv[] = { "-w", "2", "--", "/bin/sh", "-c",
		    script, NULL };

		j = tl_start_conf(&d, "output = prefix\nrestart_delay = 10ms\n",
		    argv, 1);
	}
	if (old != NULL)
		(void)setenv("TL_DAEMON_WRAPPER", old, 1);
	else
		(void)unsetenv("TL_DAEMON_WRAPPER");
	w1 = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);

	tl_fifo_release(gate);
	{
		struct tl_match	 m = { "slots.0.status", "done", 0 };

		j = tl_status_wait(&d, tl_pred_match, &m, 60000);
	}
	ok(j != NULL, "pipe: a flood of %lld bytes ends although nobody "
	    "reads the master's standard error", FLOOD_BYTES / 10);
	ok(tl_json_int(j, "output_dropped", 0) > 0, "pipe: the lines that "
	    "did not fit are dropped and counted (output_dropped %lld)",
	    tl_json_int(j, "output_dropped", 0));
	tl_json_free(j);

	/*
	 * The master logs the death of a worker ("slot 1: worker ... killed
	 * by signal 9") to the same full pipe.  It must not block on it: a
	 * blocking write(2) of its own log lines to descriptor 2 would hang
	 * it in pipe_write until someone reads, and the worker would not be
	 * replaced.
	 */
	if (kill((pid_t)w1, SIGKILL) == -1)
		sysbail("kill %lld", w1);
	sp.slot = 1;
	sp.oldpid = w1;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, 5000);
	ok(j != NULL, "pipe: with its standard error full, the master still "
	    "replaces a killed worker");
	tl_json_free(j);

	/* Let go of the pipe: writes to it fail from now on (EPIPE). */
	close(rfd);
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "pipe: once the pipe has no reader, the worker is "
	    "replaced");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "pipe: drover stops with "
	    "status 0");
}
