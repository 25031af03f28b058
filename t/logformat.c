/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The log's formats.  With log_format = json every line the master
 * writes is one JSON object (time, level, priority, slot, pid,
 * generation, message) that a strict reader takes, its workers' lines
 * (output = prefix) too, with their stream and the priority of their
 * sd-daemon(3) "<N>" prefix, through a worker killed and replaced, a
 * reload and an upgrade (whose new image goes on reading the adopted
 * workers' two pipes), with user, pid file and health endpoint; and
 * --log-format json makes even a configuration error a JSON line.  In
 * text, a worker's "<3>" leads the whole line when standard error is the
 * journal (JOURNAL_STREAM names its device and inode, as systemd sets
 * it; here a wrapper sets it for the file the test gives drover), and
 * shows as "[err]" otherwise; "stdout" and "stderr" tell the streams
 * apart; and the start line shows the command with every argument,
 * quoted where it has a blank.  A real journal is not used: journald
 * needs systemd as PID 1, which a test cannot assume (nor a container
 * have), and drover knows the journal only by that device and inode.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/* How long a wait for something that must happen may take. */
#define WAIT_MS		10000
/* The most lines a log is read into. */
#define MAXLINES	4096

/*
 * The workers of the JSON run: a line on each stream at start, one with
 * bytes that are not UTF-8, a control, a quote and a backslash, and two
 * more lines on SIGUSR1.
 */
#define JSON_WORKER \
	"trap 'echo \"<5>usr1 out\"; echo usr1 err >&2' USR1; " \
	"echo boot out; echo '<3>boot err' >&2; " \
	"printf 'bytes \\377\\001 \"q\" \\\\ end\\n'; " \
	"while :; do sleep 600 & wait $!; done"
/* What the JSON message of that third line must be. */
#define JSON_BYTES	"bytes \xef\xbf\xbd\x01 \"q\" \\ end"

/* The worker of the text runs, and the argument with a blank after it. */
#define TEXT_WORKER \
	"echo \"<3>it failed\" >&2; echo plain out; echo \"<7>debug out\"; " \
	"exec sleep 600"
#define TEXT_ARG	"my worker"

static struct tl_json	*lines[MAXLINES];
static int		 nlines;

static int		 read_json_log(const char *);
static void		 free_lines(void);
static const char	*line_problem(const struct tl_json *);
static const struct tl_json *find_line(const char *, const char *,
			    long long);
static void		 python_check(const char *);
static void		 test_json(void);
static void		 test_json_sequence(struct tl_daemon *, long long *);
static void		 test_json_lines(long long, const long long *);
static void		 test_json_early(void);
static void		 test_journal(void);
static void		 test_text(void);

/*
 * Read every line of the log at path with the test library's JSON
 * reader into lines[]; return how many are not one object with the
 * members every line has (each is shown), or -1 if there are too many
 * lines or the last has no newline.
 */
static int
read_json_log(const char *path)
{
	char		*log, *p, *nl;
	const char	*why;
	struct tl_json	*j;
	int		 bad = 0;

	free_lines();
	if ((log = tl_slurp(path)) == NULL)
		sysbail("%s", path);
	for (p = log; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL || nlines == MAXLINES) {
			free(log);
			return -1;
		}
		*nl = '\0';
		j = tl_json_parse(p);
		if ((why = line_problem(j)) != NULL) {
			diag("not a log object (%s): %s", why, p);
			tl_json_free(j);
			bad++;
			continue;
		}
		lines[nlines++] = j;
	}
	free(log);
	return bad;
}

static void
free_lines(void)
{
	while (nlines > 0)
		tl_json_free(lines[--nlines]);
}

/* What is wrong with the members of line j, or NULL if nothing. */
static const char *
line_problem(const struct tl_json *j)
{
	static const char *const levels[] = { "emerg", "alert", "crit",
	    "err", "warning", "notice", "info", "debug" };
	const char	*t = tl_json_str(j, "time");
	const char	*lvl = tl_json_str(j, "level");
	const char	*st = tl_json_str(j, "stream");
	long long	 pri = tl_json_int(j, "priority", -1);
	int		 y, mo, da, h, mi, s, ms;
	char		 z;

	if (j == NULL || j->j_type != TL_JSON_OBJECT)
		return "no JSON object";
	if (t == NULL || strlen(t) != 24 || sscanf(t, "%4d-%2d-%2dT%2d:%2d:"
	    "%2d.%3d%c", &y, &mo, &da, &h, &mi, &s, &ms, &z) != 8 || z != 'Z')
		return "time";
	if (pri < 0 || pri > 7 || lvl == NULL || strcmp(lvl, levels[pri]) != 0)
		return "level and priority";
	if (!tl_json_is_null(j, "slot") && tl_json_int(j, "slot", -1) < 0)
		return "slot";
	if (tl_json_int(j, "pid", 0) <= 0)
		return "pid";
	if (!tl_json_is_null(j, "generation") &&
	    tl_json_int(j, "generation", 0) < 1)
		return "generation";
	if (tl_json_get(j, "stream") != NULL && (st == NULL ||
	    (strcmp(st, "stdout") != 0 && strcmp(st, "stderr") != 0)))
		return "stream";
	if (tl_json_str(j, "message") == NULL)
		return "message";
	return NULL;
}

/*
 * The first line read whose stream is stream (NULL: a line of the
 * master's, without one) and whose message starts with msg, of pid if
 * not 0.
 */
static const struct tl_json *
find_line(const char *stream, const char *msg, long long pid)
{
	const char	*st, *m;
	int		 i;

	for (i = 0; i < nlines; i++) {
		st = tl_json_str(lines[i], "stream");
		m = tl_json_str(lines[i], "message");
		if ((stream == NULL ? st != NULL : st == NULL ||
		    strcmp(st, stream) != 0) || strncmp(m, msg, strlen(msg)))
			continue;
		if (pid == 0 || tl_json_int(lines[i], "pid", 0) == pid)
			return lines[i];
	}
	return NULL;
}

/* Python's strict reader takes every line of the log at path. */
static void
python_check(const char *path)
{
	const char *const argv[] = { "python3", "-c",
	    "import json, sys\n"
	    "keys = {'time', 'level', 'priority', 'slot', 'pid',\n"
	    "    'generation', 'message'}\n"
	    "text = open(sys.argv[1], 'rb').read().decode('utf-8', 'strict')\n"
	    "assert text.endswith('\\n')\n"
	    "for n, line in enumerate(text.split('\\n')[:-1]):\n"
	    "    o = json.loads(line)\n"
	    "    if not isinstance(o, dict) or not keys <= o.keys():\n"
	    "        sys.exit('line %d: %r' % (n + 1, line))\n",
	    path, NULL };
	char	*out = NULL;
	int	 r;

	if (!tl_in_path("python3")) {
		skip("no python3 for the strict reader");
		return;
	}
	r = tl_run(argv, WAIT_MS, &out);
	is_int(0, r, "python3: every line is strict UTF-8 JSON with every "
	    "member%s%s", out != NULL && *out != '\0' ? ": " : "",
	    out != NULL ? out : "");
	free(out);
}

/*
 * JSON: two workers as nobody, a pid file and a health endpoint, debug
 * lines too; a worker killed, a reload, an upgrade, a worker of the old
 * image writing on both its streams after it; then every line read.
 */
static void
test_json(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*dir = tl_tmpdir();
	long long		 pids[4];
	int			 bad;

	{
		const char *const argv[] = { "-d", "-p",
		    tl_fmt("%s/drover.pid", dir), "--", "/bin/sh", "-c",
		    JSON_WORKER, NULL };

		j = tl_start_conf(&d, "log_format = json\noutput = prefix\n"
		    "workers = 2\nlisten = 127.0.0.1:0\nuser = nobody\n"
		    "health = 127.0.0.1:0\nrestart_delay = 10ms\n", argv, 1);
	}
	pids[0] = tl_json_int(j, "slots.0.pid", 0);
	pids[1] = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);
	test_json_sequence(&d, pids);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "json: drover stops with "
	    "status 0");
	bad = read_json_log(d.log);
	is_int(0, bad, "json: every one of the %d lines of the log is a JSON "
	    "object with time, level, priority, slot, pid, generation and "
	    "message", nlines);
	ok(nlines > 20, "json: there are many of them (%d)", nlines);
	python_check(d.log);
	test_json_lines(d.pid, pids);
	free_lines();
}

/*
 * The sequence: slot 0's worker killed (pids[2], its replacement), a
 * reload to generation 2, an upgrade, and SIGUSR1 to slot 1's worker of
 * generation 2 (pids[3]), which writes a line on each stream.
 */
static void
test_json_sequence(struct tl_daemon *d, long long *pids)
{
	struct tl_json		*j;
	struct tl_slot_pid	 sp = { 0, pids[0] };

	is_int(0, tl_wait_log_count(d, "\"message\":\"boot err\"", 2,
	    WAIT_MS), "json: both workers' first lines are logged");
	if (kill((pid_t)pids[0], SIGKILL) == -1)
		sysbail("kill");
	j = tl_status_wait(d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "json: slot 0's killed worker is replaced");
	pids[2] = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	tl_daemon_kill(d, SIGHUP);
	j = tl_wait_generation(d, 2, 2, WAIT_MS);
	ok(j != NULL, "json: a reload to generation 2 is done");
	pids[3] = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);
	tl_daemon_kill(d, SIGUSR2);
	j = TL_WAIT(d, WAIT_MS, TL_STR("upgrade.result", "ok"),
	    TL_EQ("slots.1.pid", pids[3]));
	ok(j != NULL, "json: an upgrade is done, slot 1 keeps its worker");
	tl_json_free(j);
	if (kill((pid_t)pids[3], SIGUSR1) == -1)
		sysbail("kill");
	is_int(0, tl_wait_log(d, "\"message\":\"usr1 err\"", WAIT_MS),
	    "json: after the upgrade, the adopted worker's lines come");
	is_int(0, tl_wait_log(d, "\"message\":\"usr1 out\"", WAIT_MS),
	    "json: on both streams");
}

/* What the lines say, read by read_json_log(); master is its pid. */
static void
test_json_lines(long long master, const long long *pids)
{
	const struct tl_json	*l;
	const char		*m;

	l = find_line(NULL, "started: 2 workers of /bin/sh -c '", 0);
	ok(l != NULL && tl_json_is_null(l, "slot") && tl_json_int(l, "pid",
	    0) == master && tl_json_int(l, "generation", 0) == 1,
	    "json: the start line, with the whole command, is the master's "
	    "(slot null, its pid, generation 1)");
	m = tl_json_str(l, "message");
	ok(m != NULL && strstr(m, "do sleep 600 & wait $!; done', "
	    "generation 1") != NULL, "json: it ends with the end of the "
	    "command");
	l = find_line("stdout", "boot out", pids[0]);
	ok(l != NULL && tl_json_int(l, "slot", -1) == 0 &&
	    tl_json_int(l, "generation", 0) == 1 &&
	    tl_json_int(l, "priority", 0) == 6, "json: a worker's line on "
	    "stdout: its slot, pid, generation, stream, priority 6 (info)");
	l = find_line("stderr", "boot err", pids[1]);
	ok(l != NULL && tl_json_int(l, "slot", -1) == 1 &&
	    tl_json_int(l, "priority", 0) == 3 &&
	    strcmp(tl_json_str(l, "level"), "err") == 0 &&
	    strcmp(tl_json_str(l, "message"), "boot err") == 0, "json: "
	    "\"<3>boot err\" on stderr: stream stderr, priority 3 (err), "
	    "the message without its \"<3>\"");
	l = find_line("stdout", "bytes ", pids[1]);
	ok(l != NULL && strcmp(tl_json_str(l, "message"), JSON_BYTES) == 0,
	    "json: bytes that are not UTF-8 are U+FFFD, a control, a quote "
	    "and a backslash are kept as they were");
	l = find_line(NULL, tl_fmt("slot 0: worker %lld (gen 1) killed by "
	    "signal 9", pids[0]), 0);
	ok(l != NULL && tl_json_int(l, "slot", -1) == 0 && tl_json_int(l,
	    "pid", 0) == pids[0] && tl_json_int(l, "generation", 0) == 1,
	    "json: the master's line about the killed worker has its slot, "
	    "pid and generation");
	l = find_line("stdout", "boot out", pids[2]);
	ok(l != NULL && tl_json_int(l, "slot", -1) == 0, "json: so do the "
	    "lines of its replacement");
	l = find_line("stderr", "usr1 err", pids[3]);
	ok(l != NULL && tl_json_int(l, "generation", 0) == 2 &&
	    tl_json_int(l, "priority", 0) == 6, "json: after the reload and "
	    "the upgrade, a worker's stderr line: generation 2, stderr");
	l = find_line("stdout", "usr1 out", pids[3]);
	ok(l != NULL && tl_json_int(l, "priority", 0) == 5, "json: and its "
	    "\"<5>\" line on stdout, priority 5 (notice)");
	ok(find_line(NULL, "upgrade: adopted 2 slots", master) != NULL,
	    "json: the new image writes JSON too");
}

/*
 * --log-format json, and a configuration error: the error is a JSON
 * line already, and drover exits 78.
 */
static void
test_json_early(void)
{
	struct tl_daemon	 d;
	const char		*conf = tl_conf_file("workers = 2\n"
				    "no_such_key = 1\ncommand = /bin/true\n");
	const char *const	 argv[] = { "--log-format", "json", "-c", conf,
				    NULL };
	const struct tl_json	*l;
	int			 bad;

	if (tl_daemon_start(&d, argv) == -1)
		sysbail("drover");
	is_int(78, tl_daemon_wait(&d, WAIT_MS), "--log-format json: a bad "
	    "key: exit 78");
	bad = read_json_log(d.log);
	is_int(0, bad, "--log-format json: every line is a JSON object (%d)",
	    nlines);
	l = find_line(NULL, tl_fmt("%s:2: unknown key", conf), 0);
	ok(l != NULL && strcmp(tl_json_str(l, "level"), "warning") == 0 &&
	    tl_json_is_null(l, "generation"), "--log-format json: the error "
	    "is one, a warning before any generation");
	free_lines();
}

/*
 * Text, standard error the journal: a wrapper sets JOURNAL_STREAM to the
 * device and inode of the standard error it hands drover, as systemd
 * does.  Every line then starts with "<N>": the worker's own, or 6.
 */
static void
test_journal(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*dir = tl_tmpdir(), *wrap, *old, *p;
	char			*log;
	long long		 w;
	int			 bad = 0;

	wrap = tl_fmt("%s/journal", dir);
	if (tl_write_file(wrap, "#!/bin/sh\nJOURNAL_STREAM=$(stat -L -c "
	    "%%d:%%i /proc/self/fd/2) exec \"$@\"\n") == -1 ||
	    chmod(wrap, 0755) == -1)
		sysbail("%s", wrap);
	/* A wrapper the caller set (valgrind, say) runs inside ours. */
	if ((old = getenv("TL_DAEMON_WRAPPER")) != NULL && *old != '\0') {
		old = tl_fmt("%s", old);
		wrap = tl_fmt("%s %s", wrap, old);
	}
	if (setenv("TL_DAEMON_WRAPPER", wrap, 1) == -1)
		sysbail("setenv");
	{
		const char *const argv[] = { "--", "/bin/sh", "-c",
		    TEXT_WORKER, TEXT_ARG, NULL };

		j = tl_start_conf(&d, "output = prefix\nworkers = 1\n", argv,
		    1);
	}
	if (old != NULL)
		(void)setenv("TL_DAEMON_WRAPPER", old, 1);
	else
		(void)unsetenv("TL_DAEMON_WRAPPER");
	w = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, tl_fmt("\n<3>slot 0 pid %lld stderr: it "
	    "failed\n", w), WAIT_MS), "journal: the worker's \"<3>\" leads "
	    "the whole line: \"<3>slot 0 pid %lld stderr: it failed\"", w);
	is_int(0, tl_wait_log(&d, tl_fmt("\n<6>slot 0 pid %lld stdout: "
	    "plain out\n", w), WAIT_MS), "journal: a line without one is "
	    "<6>, on stdout");
	is_int(0, tl_wait_log(&d, tl_fmt("\n<7>slot 0 pid %lld stdout: "
	    "debug out\n", w), WAIT_MS), "journal: \"<7>\" on stdout");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "journal: drover stops with "
	    "status 0");
	if ((log = tl_slurp(d.log)) == NULL)
		sysbail("%s", d.log);
	ok(strncmp(log, "<6>started: 1 workers of /bin/sh -c '", 37) == 0,
	    "journal: the master's lines have their priority too, and no "
	    "name or pid of their own: %.50s", log);
	for (p = log; *p != '\0'; p = strchr(p, '\n') + 1) {
		if (p[0] != '<' || p[1] < '0' || p[1] > '7' || p[2] != '>')
			bad++;
		if (strchr(p, '\n') == NULL)
			break;
	}
	is_int(0, bad, "journal: every line starts with <0> to <7>");
	free(log);
}

/*
 * Text, standard error not the journal (JOURNAL_STREAM set, but to
 * another file): "[err]" after the stream instead, and the start line
 * with the argument that has a blank in quotes.
 */
static void
test_text(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	long long		 w;

	if (setenv("JOURNAL_STREAM", "1:1", 1) == -1)
		sysbail("setenv");
	{
		const char *const argv[] = { "--", "/bin/sh", "-c",
		    TEXT_WORKER, TEXT_ARG, NULL };

		j = tl_start_conf(&d, "output = prefix\nworkers = 1\n", argv,
		    1);
	}
	(void)unsetenv("JOURNAL_STREAM");
	w = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, tl_fmt("\nslot 0 pid %lld stderr [err]: it "
	    "failed\n", w), WAIT_MS), "text: \"<3>\" shows as [err] after "
	    "the stream");
	is_int(0, tl_wait_log(&d, tl_fmt("\nslot 0 pid %lld stdout: plain "
	    "out\n", w), WAIT_MS), "text: a line without one shows none");
	is_int(0, tl_wait_log(&d, tl_fmt("\nslot 0 pid %lld stdout [debug]: "
	    "debug out\n", w), WAIT_MS), "text: \"<7>\" is [debug]");
	is_int(0, tl_wait_log(&d, tl_fmt("drover[%ld]: started: 1 workers of "
	    "/bin/sh -c '%s' '%s', generation 1\n", (long)d.pid,
	    TEXT_WORKER, TEXT_ARG), WAIT_MS), "text: the start line names "
	    "the whole command, the argument with a blank in quotes");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "text: drover stops with "
	    "status 0");
}

int
main(void)
{
	plan_lazy();
	test_json();
	test_json_early();
	test_journal();
	test_text();
	return 0;
}
