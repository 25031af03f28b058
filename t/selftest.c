/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * The test library tests itself: the TAP producer (run as a subprocess in
 * one of the modes below, since a failing run must really fail), the JSON
 * parser, tl_run(), the process, file and inotify waits, the HTTP client
 * against a forked server, the /proc helpers, the conditions of
 * TL_WAIT(), and tl_daemon_*(), tl_start() and tl_start_conf() with a
 * shell script standing in for drover.  Needs no drover binary.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

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

#define NTESTS	197

/* A process that blocks until the write end of its pipe is closed. */
struct blocker {
	pid_t	 b_pid;
	int	 b_fd;		/* write end; close it to release */
};

static int	 inner(const char *);
static void	 blocker_start(struct blocker *, void (*)(void *), void *);
static void	 blocker_release(struct blocker *);
static int	 run_inner(const char *, char **);
static void	 test_tap(void);
static void	 test_json(void);
static void	 test_conds(void);
static void	 test_paths_files(void);
static void	 test_run(void);
static void	 test_procs(void);
static void	 write_status(void *);
static void	 write_log(void *);
static void	 test_status_wait(void);
static void	 serve(int);
static void	 test_http(void);
static void	 test_fds(void);
static const char *fake_drover(void);
static void	 test_daemon(void);
static void	 test_start(void);
static void	 test_conf_fold(void);

static char		 self[4096];	/* this program, for inner modes */
static const char	*fake_state;
static const char	*fake_log;

/*
 * The inner modes, run by test_tap() through tl_run() on this program.
 * Each returns main's exit status.
 */
static int
inner(const char *mode)
{
	if (strcmp(mode, "pass") == 0) {
		plan(2);
		ok(1, "a");
		is_int(3, 3, "b");
	} else if (strcmp(mode, "fail") == 0) {
		plan(2);
		ok(1, "a");
		is_string("a", "b", "strings");
	} else if (strcmp(mode, "short") == 0) {
		plan(3);
		ok(1, "a");
		ok(1, "b");
	} else if (strcmp(mode, "lazy") == 0) {
		plan_lazy();
		ok(1, "a");
		ok(1, "b");
		ok(1, "c");
	} else if (strcmp(mode, "bail") == 0) {
		plan(1);
		bail("boom %d", 7);
	} else if (strcmp(mode, "skipall") == 0) {
		skip_all("no %s", "x");
	} else if (strcmp(mode, "skip") == 0) {
		plan(2);
		ok(1, "a");
		skip("why %d", 2);
	} else if (strcmp(mode, "fork") == 0) {
		pid_t	 pid;

		plan(1);
		if ((pid = fork()) == 0)
			exit(0);
		waitpid(pid, NULL, 0);
		ok(1, "parent");
	} else if (strcmp(mode, "tmpdir") == 0) {
		const char	*dir = tl_tmpdir();

		plan(1);
		ok(tl_write_file(tl_fmt("%s/f", dir), "x\n") == 0, "file");
		diag("dir %s", dir);
	} else if (strcmp(mode, "daemon") == 0) {
		struct tl_daemon	 d;
		struct tl_json		*j;
		const char		*argv[] = { NULL };

		plan(1);
		tl_daemon_start(&d, argv);
		j = tl_status_wait(&d, tl_pred_all_ready, NULL, 10000);
		ok(j != NULL, "fake daemon ready");
		diag("daemon %d worker %lld", (int)d.pid,
		    tl_json_int(j, "slots.0.pid", 0));
		tl_json_free(j);
	} else if (strcmp(mode, "unready") == 0) {
		struct tl_daemon	 d;
		const char		*argv[] = { NULL };

		plan(1);
		tl_json_free(tl_start(&d, argv, 1));
		ok(1, "not reached");
	} else if (strcmp(mode, "stray") == 0) {
		struct tl_daemon	 d;
		struct tl_json		*j;
		const char		*argv[] = { NULL };

		plan(1);
		tl_daemon_start(&d, argv);
		j = tl_status_wait(&d, tl_pred_all_ready, NULL, 10000);
		diag("worker %lld", tl_json_int(j, "slots.0.pid", 0));
		tl_json_free(j);
		is_int(0, tl_daemon_stop(&d, 10000), "stopped");
	} else
		bail("unknown mode %s", mode);
	return 0;
}

/* Fork a child that runs fn(arg) once its pipe is closed, then exits. */
static void
blocker_start(struct blocker *b, void (*fn)(void *), void *arg)
{
	int	 p[2];
	char	 c;

	if (pipe2(p, O_CLOEXEC) == -1)
		sysbail("pipe2");
	fflush(NULL);
	if ((b->b_pid = fork()) == -1)
		sysbail("fork");
	if (b->b_pid == 0) {
		close(p[1]);
		while (read(p[0], &c, 1) == -1 && errno == EINTR)
			continue;
		if (fn != NULL)
			fn(arg);
		_exit(0);
	}
	close(p[0]);
	b->b_fd = p[1];
}

static void
blocker_release(struct blocker *b)
{
	if (b->b_fd != -1)
		close(b->b_fd);
	b->b_fd = -1;
}

/* Run this program in an inner mode; exit code, output in *out. */
static int
run_inner(const char *mode, char **out)
{
	const char	*argv[] = { self, mode, NULL };

	return tl_run(argv, 10000, out);
}

static void
test_tap(void)
{
	char		*out, dir[256];
	struct stat	 sb;
	int		 n;

	is_int(0, run_inner("pass", &out), "passing run exits 0");
	is_string("1..2\nok 1 - a\nok 2 - b\n", out, "passing run output");
	free(out);

	is_int(1, run_inner("fail", &out), "failing run exits 1");
	ok(strstr(out, "not ok 2 - strings\n") != NULL, "not ok line");
	ok(strstr(out, "#     wanted: \"a\"\n#       seen: \"b\"\n") != NULL,
	    "is_string diagnostics");
	ok(strstr(out, "# Looks like you failed 1 test of 2.") != NULL,
	    "failure summary");
	free(out);

	is_int(1, run_inner("short", &out), "short run exits 1");
	ok(strstr(out, "planned 3 tests but ran 2") != NULL,
	    "plan mismatch reported");
	free(out);

	is_int(0, run_inner("lazy", &out), "lazy plan exits 0");
	ok(strlen(out) > 5 && strcmp(out + strlen(out) - 5, "1..3\n") == 0,
	    "lazy plan printed last");
	free(out);

	is_int(255, run_inner("bail", &out), "bail exits 255");
	ok(strstr(out, "Bail out! boom 7\n") != NULL, "bail line");
	free(out);

	is_int(0, run_inner("skipall", &out), "skip_all exits 0");
	is_string("1..0 # SKIP no x\n", out, "skip_all line");
	free(out);

	is_int(0, run_inner("skip", &out), "skip counts as passed");
	ok(strstr(out, "ok 2 # skip why 2\n") != NULL, "skip line");
	free(out);

	is_int(0, run_inner("fork", &out), "a forked child's exit is quiet");
	is_string("1..1\nok 1 - parent\n", out, "only the parent reports");
	free(out);

	is_int(0, run_inner("tmpdir", &out), "tmpdir run passes");
	n = sscanf(out, "1..1\nok 1 - file\n# dir %255s", dir);
	is_int(1, n, "tmpdir run names its directory");
	ok(n == 1 && stat(dir, &sb) == -1 && errno == ENOENT,
	    "tmpdir removed at exit");
	free(out);

	setenv("TL_KEEP", "1", 1);
	is_int(0, run_inner("tmpdir", &out), "TL_KEEP run passes");
	unsetenv("TL_KEEP");
	n = sscanf(out, "1..1\nok 1 - file\n# dir %255s", dir);
	ok(n == 1 && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode),
	    "TL_KEEP keeps the directory");
	ok(strstr(out, "# keeping ") != NULL, "TL_KEEP says so");
	if (n == 1) {
		const char	*rm[] = { "rm", "-rf", dir, NULL };

		tl_run(rm, 10000, NULL);
	}
	free(out);
}

static void
test_json(void)
{
	static const char *bad[] = {
		"", " ", "{", "}", "[1,]", "[,1]", "{\"a\":}", "{\"a\" 1}",
		"{a:1}", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1",
		"tru", "nul", "\"abc", "\"\\x\"", "\"\\u12g4\"",
		"\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "[1] x",
		"\"a\tb\"", "'a'", "[1 2]", "{\"a\":1 \"b\":2}", NULL
	};
	const char	*doc = "{\"version\":1,\"pid\":1234,\"state\":"
	    "\"running\",\"ready\":true,\"stopping\":false,\n"
	    "\t\"listeners\":[{\"name\":\"listen0\",\"port\":40123},"
	    "{\"name\":\"l1\",\"path\":\"/tmp/s\"}],\"slots\":[{\"id\":0,"
	    "\"pid\":1240,\"state\":\"ready\",\"last_exit\":null},{\"id\":1,"
	    "\"pid\":0,\"state\":\"backoff\",\"last_exit\":{\"signal\":9,"
	    "\"core\":false}}],\"empty\":[],\"eo\":{}} ";
	struct tl_json	*j;
	char		 deep[600];
	int		 i, nbad = 0;

	j = tl_json_parse(doc);
	ok(j != NULL && j->j_type == TL_JSON_OBJECT, "status-like document");
	is_int(1234, tl_json_int(j, "pid", -1), "top-level int");
	is_string("running", tl_json_str(j, "state"), "top-level string");
	is_int(1, tl_json_bool(j, "ready"), "true");
	is_int(0, tl_json_bool(j, "stopping"), "false");
	is_int(-1, tl_json_bool(j, "pid"), "bool of a number is -1");
	is_int(40123, tl_port(j, 0), "tl_port");
	is_int(-1, tl_port(j, 1), "tl_port without a port");
	is_int(-1, tl_port(j, 2), "tl_port past the end");
	is_string("/tmp/s", tl_json_str(j, "listeners.1.path"), "nested");
	is_int(1240, tl_json_int(j, "slots.0.pid", -1), "slots.0.pid");
	is_string("backoff", tl_json_str(j, "slots.1.state"), "slots.1.state");
	is_int(9, tl_json_int(j, "slots.1.last_exit.signal", -1), "deep path");
	is_int(1, tl_json_is_null(j, "slots.0.last_exit"), "null");
	is_int(0, tl_json_is_null(j, "slots.1.last_exit"), "not null");
	is_int(0, tl_json_is_null(j, "nosuch"), "absent is not null");
	is_int(2, (long long)tl_json_len(j, "slots"), "array length");
	is_int(0, (long long)tl_json_len(j, "empty"), "empty array");
	is_int(0, (long long)tl_json_len(j, "eo"), "empty object");
	is_int(0, (long long)tl_json_len(j, "pid"), "length of a number");
	ok(tl_json_get(j, "slots.2") == NULL, "index past the end");
	ok(tl_json_get(j, "slots.x") == NULL, "non-numeric index");
	ok(tl_json_get(j, "slots.0.pid.x") == NULL, "path through a scalar");
	ok(tl_json_get(j, "slots.") == NULL, "trailing dot");
	ok(tl_json_get(j, "") == j && tl_json_get(j, NULL) == j, "empty path");
	is_int(-7, tl_json_int(j, "state", -7), "int of a string is dflt");
	ok(tl_json_str(j, "pid") == NULL, "str of a number is NULL");
	tl_json_free(j);

	j = tl_json_parse("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC"
	    "\\ud83d\\ude00\", \"a\\u0000b\", \"\\u0041\"]");
	if (!ok(j != NULL, "escapes parse"))
		bail("cannot go on without a parsed document");
	is_string("\"\\/\b\f\n\r\t", tl_json_str(j, "0"), "simple escapes");
	is_string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", tl_json_str(j, "1"),
	    "\\u escapes and a surrogate pair to UTF-8");
	is_int(3, (long long)tl_json_get(j, "2")->j_len, "embedded NUL");
	is_string("A", tl_json_str(j, "3"), "\\u0041");
	tl_json_free(j);

	j = tl_json_parse("[0, -0, 42, -17, 1.5, 1e3, -2.5E-1, "
	    "9223372036854775807, 9223372036854775808, 1e400]");
	if (!ok(j != NULL, "numbers parse"))
		bail("cannot go on without a parsed document");
	is_int(0, tl_json_int(j, "1", 1), "-0");
	is_int(-17, tl_json_int(j, "3", 0), "negative");
	ok(tl_json_num(j, "4", 0) == 1.5 && !tl_json_get(j, "4")->j_isint,
	    "fraction");
	ok(tl_json_num(j, "5", 0) == 1000 && tl_json_int(j, "5", 0) == 1000,
	    "exponent");
	ok(tl_json_num(j, "6", 0) == -0.25, "negative exponent");
	ok(tl_json_int(j, "7", 0) == 9223372036854775807LL &&
	    tl_json_get(j, "7")->j_isint, "LLONG_MAX exact");
	ok(!tl_json_get(j, "8")->j_isint, "past LLONG_MAX is not exact");
	ok(tl_json_int(j, "9", 0) == 9223372036854775807LL, "1e400 clamps");
	tl_json_free(j);

	j = tl_json_parse(" \t\r\n[ [ ] , { } , [ [ 1 ] ] ]\n");
	ok(j != NULL && tl_json_int(j, "2.0.0", 0) == 1,
	    "white space, nesting");
	tl_json_free(j);

	for (i = 0; bad[i] != NULL; i++) {
		if ((j = tl_json_parse(bad[i])) != NULL) {
			diag("accepted bad JSON: %s", bad[i]);
			tl_json_free(j);
			nbad++;
		}
	}
	is_int(0, nbad, "every bad document is rejected");
	ok(tl_json_parse(NULL) == NULL && errno == EINVAL, "NULL text");

	memset(deep, '[', 300);
	memset(deep + 300, ']', 300);
	deep[599] = '\0';
	ok(tl_json_parse(deep) == NULL, "nesting too deep is rejected");
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = '\0';
	j = tl_json_parse(deep);
	ok(j != NULL, "nesting 100 deep is fine");
	tl_json_free(j);

	j = tl_json_parse("{\"a\":1,\"a\":2}");
	is_int(1, tl_json_int(j, "a", 0), "duplicate key: the first wins");
	tl_json_free(j);
}

/* The conditions TL_WAIT() checks, on one document. */
static void
test_conds(void)
{
	struct tl_json	*j;

	j = tl_json_parse("{\"state\":\"running\",\"ready\":true,"
	    "\"generation\":3,\"half\":1.5,\"slots\":[{\"pid\":42}]}");
	if (!ok(j != NULL, "conds: the document parses"))
		bail("cannot go on without a parsed document");
	ok(tl_pred_conds(j, (struct tl_cond[]){ TL_END }), "conds: none "
	    "holds at once");
	ok(tl_pred_conds(j, (struct tl_cond[]){ TL_STR("state", "running"),
	    TL_EQ("generation", 3), TL_EQ("ready", 1), TL_MIN("slots.0.pid",
	    42), TL_NE("generation", 2), TL_END }), "conds: all of STR, EQ "
	    "(a number, a boolean), MIN and NE hold");
	ok(!tl_pred_conds(j, (struct tl_cond[]){ TL_STR("state", "running"),
	    TL_EQ("generation", 4), TL_END }), "conds: one that fails is "
	    "enough");
	ok(!tl_pred_conds(j, (struct tl_cond[]){ TL_STR("state", "run"),
	    TL_END }), "conds: STR compares the whole string");
	ok(!tl_pred_conds(j, (struct tl_cond[]){ TL_MIN("slots.0.pid", 43),
	    TL_END }), "conds: MIN fails below");
	ok(!tl_pred_conds(j, (struct tl_cond[]){ TL_NE("generation", 3),
	    TL_END }), "conds: NE fails on equal");
	ok(!tl_pred_conds(j, (struct tl_cond[]){ TL_NE("nosuch", 3),
	    TL_END }) && !tl_pred_conds(j, (struct tl_cond[]){
	    TL_STR("nosuch", "x"), TL_END }), "conds: an absent path fails, "
	    "NE too");
	ok(!tl_pred_conds(j, (struct tl_cond[]){ TL_EQ("state", 0), TL_END })
	    && !tl_pred_conds(j, (struct tl_cond[]){ TL_STR("generation", "3"),
	    TL_END }), "conds: a string is no number, nor a number a string");
	ok(!tl_pred_conds(j, (struct tl_cond[]){ TL_EQ("half", 1), TL_END }),
	    "conds: a fraction is no integer");
	tl_json_free(j);
}

static void
test_paths_files(void)
{
	const char	*dir, *p;
	char		*text;

	ok(tl_builddir()[0] == '/', "builddir is absolute");
	ok(tl_srcdir()[0] == '/', "srcdir is absolute");
	p = tl_path("supervisor/drover");
	ok(strncmp(p, tl_builddir(), strlen(tl_builddir())) == 0 &&
	    strcmp(p + strlen(tl_builddir()), "/supervisor/drover") == 0,
	    "tl_path joins");
	is_string("x-3", tl_fmt("x-%d", 3), "tl_fmt");

	dir = tl_tmpdir();
	ok(dir[0] == '/' && access(dir, W_OK) == 0, "tmpdir is writable");
	ok(strcmp(dir, tl_tmpdir()) != 0, "each tmpdir is new");
	p = tl_fmt("%s/file", dir);
	is_int(0, tl_write_file(p, "a %s\nb\n", "x"), "tl_write_file");
	text = tl_slurp(p);
	is_string("a x\nb\n", text, "tl_slurp reads it back");
	free(text);
	is_int(0, tl_write_file(p, "%s", ""), "rewrite empty");
	text = tl_slurp(p);
	is_string("", text, "empty file");
	free(text);
	ok(tl_slurp(tl_fmt("%s/nosuch", dir)) == NULL && errno == ENOENT,
	    "tl_slurp of a missing file");
	ok(tl_write_file("/nonexistent/dir/f", "x") == -1,
	    "tl_write_file into a missing directory");

	is_int(3, tl_count("abcabcab abc", "abc"), "tl_count");
	is_int(2, tl_count("aaaa", "aa"), "tl_count does not overlap");
	is_int(0, tl_count("abc", ""), "empty needle");
	is_int(0, tl_count(NULL, "a"), "NULL haystack");
}

static void
test_run(void)
{
	const char	*echo[] = { "/bin/sh", "-c",
	    "echo hi; echo err >&2; exit 3", NULL };
	const char	*sig[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };
	const char	*none[] = { "/nonexistent/prog", NULL };
	const char	*path[] = { "true", NULL };
	const char	*hang[] = { "tail", "-f", "/dev/null", NULL };
	const char	*orphan[] = { "/bin/sh", "-c",
	    "tail -f /dev/null & echo $!", NULL };
	const char	*cat[] = { "cat", NULL };
	char		*out;
	long long	 t0;
	long		 pid;

	is_int(3, tl_run(echo, 5000, &out), "exit code");
	is_string("hi\nerr\n", out, "stdout and stderr together");
	free(out);
	is_int(128 + SIGTERM, tl_run(sig, 5000, &out), "128 + signal");
	free(out);
	is_int(127, tl_run(none, 5000, &out), "exec failure is 127");
	ok(strstr(out, "exec /nonexistent/prog") != NULL, "and says why");
	free(out);
	is_int(0, tl_run(path, 5000, NULL), "PATH lookup, output discarded");
	is_int(0, tl_run(cat, 5000, &out), "stdin is /dev/null");
	is_string("", out, "no output is an empty string");
	free(out);
	t0 = tl_now_ms();
	is_int(-1, tl_run(hang, 200, &out), "timeout returns -1");
	ok(tl_now_ms() - t0 < 5000, "and does not wait much longer");
	free(out);
	t0 = tl_now_ms();
	is_int(0, tl_run(orphan, 5000, &out),
	    "a grandchild holding the pipe does not hold us");
	ok(tl_now_ms() - t0 < 4000, "returns when the child exits");
	pid = strtol(out, NULL, 10);
	if (pid > 1)
		kill((pid_t)pid, SIGKILL);
	free(out);
}

static void
test_procs(void)
{
	struct blocker	 b;
	pid_t		 kids[16];
	int		 n, i, found = 0;
	long long	 t0;

	blocker_start(&b, NULL, NULL);
	n = tl_children(getpid(), kids, 16);
	for (i = 0; i < n; i++)
		if (kids[i] == b.b_pid)
			found = 1;
	ok(found, "tl_children lists a child");
	ok(tl_children(b.b_pid, kids, 16) == 0, "the child has no children");
	t0 = tl_now_ms();
	is_int(-1, tl_wait_pid_gone(b.b_pid, 100), "live process: timeout");
	ok(tl_now_ms() - t0 >= 90, "after the deadline");
	blocker_release(&b);
	is_int(0, tl_wait_pid_gone(b.b_pid, 5000), "exited process is gone");
	waitpid(b.b_pid, NULL, 0);
	is_int(0, tl_wait_pid_gone(b.b_pid, 5000), "reaped process is gone");
}

/* Child side of test_status_wait(): create the state dir, write twice. */
static void
write_status(void *arg)
{
	const char	*tmp = tl_fmt("%s/status.json.tmp", fake_state);
	const char	*fin = tl_fmt("%s/status.json", fake_state);

	(void)arg;
	mkdir(fake_state, 0755);
	tl_write_file(tmp, "{\"ready\":false,\"slots\":[{\"pid\":0,"
	    "\"state\":\"starting\"}]}");
	rename(tmp, fin);
	tl_write_file(tmp, "{\"ready\":true,\"generation\":1,\"slots\":"
	    "[{\"pid\":77,\"state\":\"ready\"},{\"pid\":78,\"state\":"
	    "\"ready\"}]}");
	rename(tmp, fin);
}

/* Child side of the log tests: append a line. */
static void
write_log(void *arg)
{
	int	 fd;

	if ((fd = open(fake_log, O_WRONLY | O_APPEND)) != -1) {
		dprintf(fd, "line one\n%s\n", (const char *)arg);
		close(fd);
	}
}

static void
test_status_wait(void)
{
	struct tl_daemon	 d;
	struct blocker		 b;
	struct tl_json		*j;
	struct tl_slot_pid	 sp = { 1, 78 };
	struct tl_match		 m;
	long long		 t0;
	char			 dir[512], state[600], log[600];

	memset(&d, 0, sizeof(d));
	snprintf(dir, sizeof(dir), "%s", tl_tmpdir());
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	d.dir = dir;
	d.state = state;
	d.log = log;
	fake_state = d.state;
	fake_log = d.log;
	tl_write_file(d.log, "start\n");

	blocker_start(&b, write_status, NULL);
	d.pid = b.b_pid;
	d.pidfd = (int)syscall(SYS_pidfd_open, b.b_pid, 0);
	blocker_release(&b);
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, 10000);
	ok(j != NULL, "status_wait sees the state dir appear and fill");
	is_int(78, tl_json_int(j, "slots.1.pid", 0), "the ready version");
	m.path = "slots.0.state";
	m.str = "ready";
	ok(tl_pred_match(j, &m), "tl_pred_match on a string");
	m.path = "generation";
	m.str = NULL;
	m.num = 1;
	ok(tl_pred_match(j, &m), "tl_pred_match on a number");
	m.path = "ready";
	ok(tl_pred_match(j, &m), "tl_pred_match on a boolean");
	m.num = 2;
	ok(!tl_pred_match(j, &m), "tl_pred_match mismatch");
	ok(!tl_pred_slot_pid_changed(j, &sp), "slot pid unchanged");
	sp.oldpid = 70;
	ok(tl_pred_slot_pid_changed(j, &sp), "slot pid changed");
	sp.slot = 5;
	ok(!tl_pred_slot_pid_changed(j, &sp), "no such slot");
	tl_json_free(j);

	t0 = tl_now_ms();
	m.path = "generation";
	m.num = 2;
	j = tl_status_wait(&d, tl_pred_match, &m, 20000);
	ok(j == NULL && tl_now_ms() - t0 < 10000,
	    "status_wait returns early once the writer exited");
	waitpid(d.pid, NULL, 0);
	close(d.pidfd);

	blocker_start(&b, NULL, NULL);
	d.pid = b.b_pid;
	d.pidfd = (int)syscall(SYS_pidfd_open, b.b_pid, 0);
	t0 = tl_now_ms();
	j = tl_status_wait(&d, tl_pred_match, &m, 150);
	ok(j == NULL && tl_now_ms() - t0 >= 140, "status_wait times out");
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, 150);
	ok(j != NULL, "a satisfied predicate returns at once");
	tl_json_free(j);
	blocker_release(&b);
	waitpid(d.pid, NULL, 0);
	close(d.pidfd);

	blocker_start(&b, write_log, "the needle here");
	d.pid = b.b_pid;
	d.pidfd = (int)syscall(SYS_pidfd_open, b.b_pid, 0);
	blocker_release(&b);
	is_int(0, tl_wait_log(&d, "needle", 10000), "tl_wait_log finds it");
	waitpid(d.pid, NULL, 0);
	close(d.pidfd);

	blocker_start(&b, write_log, "other words");
	d.pid = b.b_pid;
	d.pidfd = (int)syscall(SYS_pidfd_open, b.b_pid, 0);
	blocker_release(&b);
	t0 = tl_now_ms();
	is_int(-1, tl_wait_log(&d, "absent", 20000),
	    "tl_wait_log fails when the writer exits without it");
	ok(tl_now_ms() - t0 < 10000, "and does so early");
	waitpid(d.pid, NULL, 0);
	close(d.pidfd);
}

/*
 * The HTTP server for test_http(), in a child: one scripted exchange per
 * accepted connection.
 */
static void
serve(int lfd)
{
	static const char	*pipelined =
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"
	    "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nab\r\n3;x=y\r\ncde\r\n0\r\nTrailer: t\r\n\r\n"
	    "HTTP/1.0 404 Not Found\r\ncontent-length: 6\r\n"
	    "Connection: close\r\n\r\nsecond";
	static const char	*eof =
	    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil eof";
	static const char	*half =
	    "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc";
	struct linger		 lg = { 1, 0 };
	char			 buf[4096];
	ssize_t			 n;
	int			 fd;

	/* 1: three pipelined responses in one write, then EOF. */
	fd = accept(lfd, NULL, NULL);
	n = read(fd, buf, sizeof(buf));
	n = write(fd, pipelined, strlen(pipelined));
	close(fd);
	/* 2: a body delimited by EOF. */
	fd = accept(lfd, NULL, NULL);
	n = read(fd, buf, sizeof(buf));
	n = write(fd, eof, strlen(eof));
	close(fd);
	/* 3: reset. */
	fd = accept(lfd, NULL, NULL);
	n = read(fd, buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	/* 4: silence until the client gives up. */
	fd = accept(lfd, NULL, NULL);
	while (read(fd, buf, sizeof(buf)) > 0)
		continue;
	close(fd);
	/* 5: half a response. */
	fd = accept(lfd, NULL, NULL);
	n = read(fd, buf, sizeof(buf));
	n = write(fd, half, strlen(half));
	close(fd);
	(void)n;
}

static void
test_http(void)
{
	struct sockaddr_in	 sin;
	struct sockaddr_un	 sun;
	socklen_t		 slen = sizeof(sin);
	char			 body[64], small[4];
	int			 lfd, fd, port, status, cl, r;
	pid_t			 pid;
	char			 longpath[200];

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		sysbail("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 8) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1)
		sysbail("listen");
	port = ntohs(sin.sin_port);
	fflush(NULL);
	if ((pid = fork()) == -1)
		sysbail("fork");
	if (pid == 0) {
		serve(lfd);
		_exit(0);
	}

	fd = tl_connect(port);
	ok(fd >= 0, "tl_connect");
	is_int(0, tl_http_request(fd, "/a", 1), "request");
	r = tl_http_response(fd, 5000, &status, body, sizeof(body), &cl);
	ok(r == 0 && status == 200 && cl == 0, "first response");
	is_string("first", body, "first body, not a byte more");
	r = tl_http_response(fd, 5000, &status, small, sizeof(small), &cl);
	ok(r == 0 && status == 201, "second response (chunked)");
	is_string("abc", small, "chunked body, truncated to the buffer");
	r = tl_http_response(fd, 5000, &status, body, sizeof(body), &cl);
	ok(r == 0 && status == 404 && cl == 1,
	    "third response, with Connection: close");
	is_string("second", body, "third body");
	is_int(-2, tl_http_response(fd, 5000, &status, body, sizeof(body),
	    NULL), "clean EOF before a response is -2");
	close(fd);

	is_int(0, tl_http_get(port, "/b", &status, body, sizeof(body)),
	    "tl_http_get");
	is_string("until eof", body, "body up to EOF");

	fd = tl_connect(port);
	tl_http_request(fd, "/c", 1);
	r = tl_http_response(fd, 5000, &status, body, sizeof(body), NULL);
	ok(r == -1 && errno == ECONNRESET, "a reset is -1 with ECONNRESET");
	close(fd);

	fd = tl_connect(port);
	tl_http_request(fd, "/d", 1);
	r = tl_http_response(fd, 100, &status, NULL, 0, NULL);
	ok(r == -1 && errno == ETIMEDOUT, "silence is -1 with ETIMEDOUT");
	close(fd);

	fd = tl_connect(port);
	tl_http_request(fd, "/e", 1);
	r = tl_http_response(fd, 5000, &status, body, sizeof(body), NULL);
	ok(r == -1 && errno == EPROTO, "a short body is -1 with EPROTO");
	close(fd);

	waitpid(pid, NULL, 0);
	close(lfd);
	ok(tl_connect(port) == -1 && errno == ECONNREFUSED,
	    "tl_connect to a closed port");

	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		sysbail("socket");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", tl_tmpdir());
	if (bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(lfd, 8) == -1)
		sysbail("bind %s", sun.sun_path);
	fd = tl_connect_unix(sun.sun_path);
	ok(fd >= 0, "tl_connect_unix");
	close(fd);
	close(lfd);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	ok(tl_connect_unix(longpath) == -1 && errno == ENAMETOOLONG,
	    "unix path too long");
}

static void
test_fds(void)
{
	unsigned long	 ino[64];
	int		 fdn[64], fds[256], s, n, i, found = 0, sorted = 1;
	struct stat	 sb;

	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		sysbail("socket");
	fstat(s, &sb);
	n = tl_fd_list(getpid(), fds, 256);
	ok(n >= 1, "tl_fd_list");
	for (i = 0; i < n; i++) {
		if (fds[i] == s)
			found = 1;
		if (i > 0 && fds[i] <= fds[i - 1])
			sorted = 0;
	}
	ok(found && sorted, "lists the socket, sorted");
	n = tl_fd_inodes(getpid(), ino, fdn, 64);
	for (found = 0, i = 0; i < n; i++)
		if (fdn[i] == s && ino[i] == (unsigned long)sb.st_ino)
			found = 1;
	ok(found, "tl_fd_inodes gives the socket's inode");
	ok(tl_fd_inodes(getpid(), ino, fdn, 0) == 0, "max 0 stores nothing");
	close(s);
	ok(tl_fd_list(999999999, fds, 256) == -1, "no such process");
}

/* Write the shell script that stands in for drover. */
static const char *
fake_drover(void)
{
	const char	*path = tl_fmt("%s/fake-drover", tl_tmpdir());

	if (tl_write_file(path, "%s",
	    "#!/bin/sh\n"
	    "state=$2; shift 2\n"
	    "w=\n"
	    "trap '[ -n \"$FAKE_STRAY\" ] || [ -z \"$w\" ] || kill $w; "
	    "exit 0' TERM\n"
	    "echo \"fake drover args: $*\"\n"
	    "[ -z \"$FAKE_EXIT\" ] || exit 3\n"
	    "tail -f /dev/null &\n"
	    "w=$!\n"
	    "mkdir \"$state\"\n"
	    "printf '{\"pid\":%d,\"ready\":true,\"slots\":[{\"pid\":%d,"
	    "\"state\":\"ready\"}],\"listeners\":[{\"port\":4242}]}' $$ $w"
	    " >\"$state/status.json.tmp\"\n"
	    "mv \"$state/status.json.tmp\" \"$state/status.json\"\n"
	    "echo fake drover ready in \"$PWD\"\n"
	    "wait $w\n") == -1 || chmod(path, 0755) == -1)
		sysbail("%s", path);
	return path;
}

static void
test_daemon(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "2", "--", "x y", NULL };
	char			*out;
	long long		 worker = 0;
	int			 dpid = 0, n;

	setenv("TL_DROVER", fake_drover(), 1);
	is_int(0, tl_daemon_start(&d, argv), "tl_daemon_start");
	ok(d.pid > 0 && !d.exited, "started");
	is_string(tl_fmt("%s/state", d.dir), d.state, "state in dir");
	is_string(tl_fmt("%s/drover.log", d.dir), d.log, "log in dir");
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, 10000);
	ok(j != NULL, "all ready");
	is_int(4242, tl_port(j, 0), "port from status.json");
	worker = tl_json_int(j, "slots.0.pid", 0);
	ok(worker > 0, "worker pid");
	tl_json_free(j);
	j = tl_status(&d);
	ok(j != NULL && tl_json_int(j, "pid", 0) == d.pid, "tl_status");
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, "fake drover args: -w 2 -- x y\n", 10000),
	    "argv reached the daemon after -s STATE");
	is_int(0, tl_wait_log(&d, tl_fmt("ready in %s\n", d.dir), 10000),
	    "it runs in its directory");
	is_int(-1, tl_daemon_wait(&d, 50), "tl_daemon_wait times out");
	is_int(0, tl_daemon_stop(&d, 10000), "SIGTERM, exit 0");
	ok(d.exited && d.status == 0 && d.pidfd == -1, "reaped");
	is_int(0, tl_daemon_wait(&d, 0), "waiting again gives the same");
	ok(tl_daemon_kill(&d, SIGTERM) == -1 && errno == ESRCH,
	    "no signal after reaping");
	is_int(0, tl_wait_pid_gone((pid_t)worker, 10000), "worker gone");

	is_int(0, run_inner("daemon", &out), "a test that leaves drover up");
	n = sscanf(strstr(out, "# daemon ") ? strstr(out, "# daemon ") : "",
	    "# daemon %d worker %lld", &dpid, &worker);
	ok(n == 2 && strstr(out, "# killing drover") != NULL,
	    "has it killed at exit");
	ok(n == 2 && tl_wait_pid_gone(dpid, 5000) == 0 &&
	    tl_wait_pid_gone((pid_t)worker, 5000) == 0,
	    "daemon and worker are gone");
	free(out);

	setenv("FAKE_STRAY", "1", 1);
	is_int(0, run_inner("stray", &out), "a daemon that leaves a worker");
	unsetenv("FAKE_STRAY");
	n = sscanf(strstr(out, "# worker ") ? strstr(out, "# worker ") : "",
	    "# worker %lld", &worker);
	ok(n == 1 && strstr(out, "still runs after it exited") != NULL &&
	    tl_wait_pid_gone((pid_t)worker, 5000) == 0,
	    "the stray worker is reported and killed at exit");
	free(out);
	unsetenv("TL_DROVER");
}

/*
 * tl_conf_file() continues a line too long for drover on indented lines
 * that read back the same, and leaves alone a comment and a line that
 * cannot be broken short enough.
 */
static void
test_conf_fold(void)
{
	char		 value[401], whole[260], joined[512];
	char		*text, *l, *nl;
	size_t		 i, longest = 0, lines = 0, n = 0;
	int		 indented = 1;

	for (i = 0; i + 10 < sizeof(value); i += 10)
		memcpy(value + i, "/a/b/c/d/ ", 10);
	value[i - 1] = '\0';
	text = tl_slurp(tl_conf_file("workers = 2\ncommand = %s\n; %s\n",
	    value, value));
	joined[0] = '\0';
	ok(strstr(text, tl_fmt("\n; %s\n", value)) != NULL, "tl_conf_file: "
	    "a long comment line is left whole");
	for (l = text; (nl = strchr(l, '\n')) != NULL; l = nl + 1) {
		*nl = '\0';
		if (*l != ';' && strlen(l) > longest)
			longest = strlen(l);
		if (lines++ > 1 && *l != ';')
			indented &= strncmp(l, "    ", 4) == 0 && l[4] != ' ';
		if (lines > 1 && *l != ';' && n < sizeof(joined))
			n += (size_t)snprintf(joined + n, sizeof(joined) - n,
			    "%s%s", lines > 2 ? " " : "",
			    lines > 2 ? l + 4 : l);
	}
	ok(lines >= 5 && longest <= 199 && indented, "tl_conf_file: a key "
	    "line of %zu characters is continued on indented lines of at most "
	    "199 (%zu lines, the longest %zu)", strlen(value) + 10, lines,
	    longest);
	is_string(tl_fmt("command = %s", value), joined, "tl_conf_file: "
	    "joined with one blank, the continued lines read back the same");
	free(text);

	memset(whole, 'x', sizeof(whole) - 1);
	whole[sizeof(whole) - 1] = '\0';
	memcpy(whole, "command = /bin/echo ", 20);
	text = tl_slurp(tl_conf_file("%s\n", whole));
	is_string(tl_fmt("%s\n", whole), text, "tl_conf_file: a line that "
	    "cannot be broken short enough is left whole");
	free(text);
}

/*
 * tl_conf_file(), tl_start() and tl_start_conf(), with the fake drover:
 * the file and the arguments it gets, the status once ready, and a
 * daemon that exits before it is ready.
 */
static void
test_start(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*f1, *f2, *argv[] = { "-w", "1", NULL };
	const char		*extra[] = { "-w", "2", "--", "x y", NULL };
	char			*text, *out;

	f1 = tl_conf_file("workers = %d\n", 3);
	f2 = tl_conf_file("workers = 4\n");
	text = tl_slurp(f1);
	is_string("workers = 3\n", text, "tl_conf_file writes the text");
	free(text);
	ok(strcmp(f1, f2) != 0 && strlen(f1) > 12 &&
	    strcmp(f1 + strlen(f1) - 12, "/drover.conf") == 0,
	    "each file is drover.conf in a directory of its own");

	setenv("TL_DROVER", fake_drover(), 1);
	ok(tl_start(&d, argv, 0) == NULL && d.pid > 0 && d.conf == NULL,
	    "tl_start without waiting: started, no status, no file");
	is_int(0, tl_wait_log(&d, "fake drover args: -w 1\n", 10000),
	    "tl_start: argv reached the daemon after -s STATE");
	is_int(0, tl_daemon_stop(&d, 10000), "tl_start: stopped");

	j = tl_start(&d, argv, 1);
	ok(j != NULL && tl_pred_all_ready(j, NULL) &&
	    tl_json_int(j, "pid", 0) == d.pid, "tl_start waiting: the status "
	    "with every slot ready");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 10000), "tl_start waiting: stopped");

	j = tl_start_conf(&d, "workers = 5\n", extra, 1);
	ok(j != NULL && tl_pred_all_ready(j, NULL), "tl_start_conf: the "
	    "status with every slot ready");
	tl_json_free(j);
	ok(d.conf != NULL && strncmp(d.conf, d.dir, strlen(d.dir)) != 0,
	    "tl_start_conf: the file is in a directory of its own (%s)",
	    d.conf != NULL ? d.conf : "none");
	text = d.conf != NULL ? tl_slurp(d.conf) : NULL;
	is_string("workers = 5\n", text, "tl_start_conf: the file holds the "
	    "text");
	free(text);
	is_int(0, tl_wait_log(&d, tl_fmt("fake drover args: -c %s -w 2 -- "
	    "x y\n", d.conf), 10000), "tl_start_conf: -c FILE, then extra");
	tl_conf_rewrite(&d, "workers = %d\n", 6);
	text = tl_slurp(d.conf);
	is_string("workers = 6\n", text, "tl_conf_rewrite replaces the text");
	free(text);
	is_int(0, tl_daemon_stop(&d, 10000), "tl_start_conf: stopped");

	ok(tl_start_conf(&d, "", NULL, 0) == NULL && d.conf != NULL,
	    "tl_start_conf without extra nor waiting");
	is_int(0, tl_wait_log(&d, tl_fmt("fake drover args: -c %s\n", d.conf),
	    10000), "tl_start_conf: -c FILE alone");
	is_int(0, tl_daemon_stop(&d, 10000), "and stopped");

	setenv("FAKE_EXIT", "1", 1);
	is_int(255, run_inner("unready", &out), "tl_start waiting on a "
	    "daemon that exits at once bails out");
	unsetenv("FAKE_EXIT");
	ok(out != NULL && strstr(out, "Bail out! drover ") != NULL &&
	    strstr(out, " exited 3 before every slot was ready") != NULL,
	    "saying it exited, and how");
	ok(out != NULL && strstr(out, "# log of drover ") != NULL &&
	    strstr(out, "# fake drover args:") != NULL, "showing its log");
	ok(out != NULL && strstr(out, "not reached") == NULL, "and nothing "
	    "after");
	free(out);
	unsetenv("TL_DROVER");
}

int
main(int argc, char *argv[])
{
	ssize_t	 n;

	if (argc > 1)
		return inner(argv[1]);
	plan(NTESTS);
	/* Not "/proc/self/exe" itself: under valgrind that is valgrind. */
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		sysbail("readlink /proc/self/exe");
	self[n] = '\0';
	test_tap();
	test_json();
	test_conds();
	test_paths_files();
	test_run();
	test_procs();
	test_status_wait();
	test_http();
	test_fds();
	test_daemon();
	test_start();
	test_conf_fold();
	return 0;
}
