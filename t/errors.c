/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Bad input: a wrong command line, a broken configuration file, a pid
 * file another master holds, an address or state directory that cannot be
 * used and a command that cannot be executed each get a clear message
 * and the exit status drover(8) documents (64, 78, 75, 71).  -n finds a
 * command or directory a worker could not use, as the user workers run
 * as; a running master logs a command that cannot be executed again
 * with each step of its throttled retries, and stops with 78 once every
 * worker exited 78.  None of them disturbs a master that is already
 * running.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define RUN_MS	10000	/* a drover that should exit at once */
#define MAXARGS	32

static const char	*drover_bin(void);
static int		 run(const char *, ...);
static int		 has(const char *);
static int		 has_line(const char *);
static void		 test_usage(const char *);
static void		 test_config(const char *);
static void		 test_check(const char *);
static void		 test_check_readback(const char *);
static int		 run_handoff(const char *, const char *);
static void		 test_handoff_bounds(const char *);
static void		 test_limits(const char *);
static void		 test_pidfile(void);
static void		 test_bind(const char *);
static void		 test_nocommand(void);
static void		 test_noexec(const char *);
static void		 test_check_worker(const char *, const char *);
static void		 test_interpreter(const char *);
static void		 test_all_halted(void);
static void		 test_halted_reload(void);

/* The output (stdout and stderr together) of the last run(). */
static char		*out;

/* The drover under test, as tl_daemon_start() finds it. */
static const char *
drover_bin(void)
{
	const char	*bin;

	if ((bin = getenv("TL_DROVER")) != NULL && *bin != '\0')
		return bin;
	return tl_path("supervisor/drover");
}

/*
 * Run drover with the given arguments (NULL-terminated) and return its
 * exit status; its output is kept in out until the next run.
 */
static int
run(const char *arg, ...)
{
	const char	*argv[MAXARGS];
	va_list		 ap;
	int		 n = 0;

	argv[n++] = drover_bin();
	va_start(ap, arg);
	for (; arg != NULL; arg = va_arg(ap, const char *)) {
		if (n == MAXARGS - 1)
			bail("run: too many arguments");
		argv[n++] = arg;
	}
	va_end(ap);
	argv[n] = NULL;
	free(out);
	out = NULL;
	return tl_run(argv, RUN_MS, &out);
}

/* Whether the output of the last run holds text; show it if not. */
static int
has(const char *text)
{
	if (out != NULL && strstr(out, text) != NULL)
		return 1;
	diag("no \"%s\" in the output:\n%s", text, out != NULL ? out : "");
	return 0;
}

/* Whether the output of the last run has line as a whole line. */
static int
has_line(const char *line)
{
	const char	*p;
	size_t		 len = strlen(line);

	for (p = out; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, line, len) == 0 &&
		    (p[len] == '\n' || p[len] == '\0'))
			return 1;
	}
	diag("no line \"%s\" in the output:\n%s", line,
	    out != NULL ? out : "");
	return 0;
}

/*
 * What -n prints reads back as the same configuration (less its last
 * line, "configuration ok"): a value longer than a line of the file is
 * continued on indented lines, a command is written as the file wrote
 * it, a ';' after a blank (a comment, even in quotes) is never written,
 * and a number that is auto by default is written auto.
 */
static void
test_check_readback(const char *st)
{
	const char	*f, *p, *q;
	char		*first, quotes[181];
	size_t		 longest = 0;
	int		 i;

	memset(quotes, '\'', sizeof(quotes) - 1);
	quotes[sizeof(quotes) - 1] = '\0';
	f = tl_conf_file("env =\n    A=1 2 ; a comment\n"
	    "command = /bin/echo a\\ \\;b\n    \"%s\"\n"
	    "    %s\n    %s\n    %s\n", quotes,
	    "one-long-word-of-the-command two-long-words-of-the-command",
	    "three-long-words-of-the-command four-long-words-of-the-cmd",
	    "five-long-words-of-the-command six-long-words-of-the-command");
	is_int(0, run("-n", "-s", st, "-c", f, NULL),
	    "-n with a command of over 199 characters exits 0");
	if ((first = strdup(out != NULL ? out : "")) == NULL)
		bail("strdup");
	for (p = first; (q = strchr(p, '\n')) != NULL; p = q + 1)
		if ((size_t)(q - p) > longest)
			longest = (size_t)(q - p);
	ok(longest <= 199, "no line it prints is over 199 characters "
	    "(longest %zu)", longest);
	if ((p = strstr(first, "configuration ok\n")) != NULL)
		first[p - first] = '\0';
	f = tl_conf_file("%s", first);
	i = run("-n", "-s", st, "-c", f, NULL);
	is_int(0, i, "what it prints reads back");
	if (out != NULL && (p = strstr(out, "configuration ok\n")) != NULL)
		out[p - out] = '\0';
	is_string(first, out, "as the same configuration");
	ok(has(tl_fmt("\"%s\"", quotes)), "the word of 180 quotes is written "
	    "as it was, in double quotes");
	ok(has_line("env = A=1 2"), "a value continued from an empty one "
	    "has no blank before it, and a continuation line its comment");
	ok(has_line("reload_batch = auto"), "the default reload_batch is "
	    "written auto, and reads back so");
	free(first);
}

/*
 * Run drover -n as a master about to upgrade to it does: with the state
 * it would hand over, state, in a memfd that DROVER_UPGRADE names.
 */
static int
run_handoff(const char *st, const char *state)
{
	const char	*argv[] = { "sh", "-c", "DROVER_UPGRADE=3 exec \"$0\" "
			    "-n -s \"$1\" -- /bin/true 3<\"$2\"", drover_bin(),
			    st, NULL, NULL };
	size_t		 len = strlen(state);
	int		 fd, rv;

	/* tl_run() closes the test's descriptors: the shell opens it. */
	if ((fd = memfd_create("drover-upgrade", MFD_CLOEXEC)) == -1 ||
	    write(fd, state, len) != (ssize_t)len)
		sysbail("memfd");
	argv[5] = tl_fmt("/proc/%ld/fd/%d", (long)getpid(), fd);
	free(out);
	out = NULL;
	rv = tl_run(argv, RUN_MS, &out);
	close(fd);
	return rv;
}

/*
 * The state an upgrade hands over bounds every count, however the check
 * reads it (-n): a listener of a billion sockets (the 53 bytes that once
 * asked calloc(3) for gigabytes), more listeners than a master has, and a
 * line longer than any the old master writes are each refused, with the
 * line, and exit 70, so the upgrade does not go ahead.
 */
static void
test_handoff_bounds(const char *st)
{
	const char	*head = "drover-upgrade 2\ngen 1 1 0\n"
			    "fds -1 5 6 -1\n";
	const char	*tail = "conf command /bin/true\n"
			    "slot 0 ready 0 0 0 1 0.0 1 -1 -1 -1 -\nend\n";
	const char	*lis = "listener 1 0 511 1 7:0 :0\n";
	const char	*many = "";
	char		*longline;
	size_t		 i;

	is_int(0, run_handoff(st, tl_fmt("%s%s%s", head, lis, tail)),
	    "upgrade state: a good one is ok");
	ok(has_line("upgrade state ok"), "and -n says so");
	is_int(70, run_handoff(st, tl_fmt("%slistener 1 0 511 999999999 "
	    "3:0 :0\n%s", head, tail)), "upgrade state: a listener of "
	    "999999999 sockets exits 70");
	ok(has("upgrade: the state is unreadable at line 4"),
	    "the log names its line");
	for (i = 0; i < 65; i++)
		many = tl_fmt("%s%s", many, lis);
	is_int(70, run_handoff(st, tl_fmt("%s%s%s", head, many, tail)),
	    "upgrade state: 65 listeners (at most 64) exit 70");
	ok(has("upgrade: the state is unreadable at line 68"),
	    "the log names the 65th");
	if ((longline = malloc(70000)) == NULL)
		sysbail("malloc");
	memset(longline, 'x', 69999);
	longline[69999] = '\0';
	is_int(70, run_handoff(st, tl_fmt("%sconf env A=%s\n%s", head,
	    longline, tail)), "upgrade state: a line of 70000 bytes exits 70");
	ok(has("upgrade: the state is unreadable at line 4"),
	    "the log names its line");
	free(longline);
}

/* A wrong command line exits 64 and says what is wrong. */
static void
test_usage(const char *st)
{
	is_int(64, run("--bogus", NULL), "an unknown option exits 64");
	ok(has("usage: drover"), "and prints the usage");
	ok(has("bogus"), "and names the option");

	is_int(64, run("-s", st, "-w", "0", "--", "/bin/true", NULL),
	    "-w 0 exits 64");
	ok(has("workers"), "and the message names workers");
	is_int(64, run("-s", st, "-w", "many", "--", "/bin/true", NULL),
	    "-w many exits 64");

	is_int(64, run("-s", st, "-l", "nonsense", "--", "/bin/true", NULL),
	    "-l nonsense exits 64");
	ok(has("nonsense"), "and the message names the address");
	is_int(64, run("-s", st, "-l", "[]:8080", "--", "/bin/true", NULL),
	    "-l []:8080 (an empty IPv6 host) exits 64");
	ok(has("empty IPv6 address"), "and says the IPv6 address is empty, "
	    "instead of listening on every IPv4 one");

	is_int(78, run("-s", st, "-w", "1", NULL),
	    "no command at all exits 78");
	ok(has("no command"), "and says there is no command");
	ok(access(st, F_OK) == -1, "none of these created the state directory");
}

/* A broken file exits 78 and names the file and the line. */
static void
test_config(const char *st)
{
	const char	*f;
	char		 longline[251];

	/* Without -n: a real start refuses the file just the same. */
	f = tl_conf_file("workers = 2\nwokers = 3\n");
	is_int(78, run("-s", st, "-c", f, "--", "/bin/sleep", "1000", NULL),
	    "an unknown key exits 78, also without -n");
	ok(has(tl_fmt("%s:2: unknown key \"wokers\"", f)),
	    "the message names FILE:2 and the key");
	ok(access(st, F_OK) == -1, "no state directory was created");

	/*
	 * inih takes a colon for '=' (drover.conf(5) says so), so this is
	 * the key "listen 127.0.0.1": an error all the same.
	 */
	f = tl_conf_file("workers = 2\nlisten 127.0.0.1:80\n");
	is_int(78, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "a listen line without = exits 78");
	ok(has(tl_fmt("%s:2: ", f)), "the message names FILE:2");

	f = tl_conf_file("workers = 2\nlisten\n");
	is_int(78, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "a line that is no key = value exits 78");
	ok(has(tl_fmt("%s:2: syntax error", f)),
	    "the message names FILE:2 and says syntax error");

	memset(longline, 'x', sizeof(longline) - 1);
	memcpy(longline, "command = /bin/echo ", 20);
	longline[sizeof(longline) - 1] = '\0';
	f = tl_conf_file("%s\nworkers = 2\n", longline);
	is_int(78, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "a line of 250 characters exits 78");
	ok(has(tl_fmt("%s:1: line too long", f)),
	    "the message names FILE:1 and says line too long");

	f = tl_conf_file("workers = 2\n[server]\nport = 3\n");
	is_int(78, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "a key in an unknown section exits 78");
	ok(has("unknown section [server]"), "the message names the section");
	/*
	 * inih reports a section only through the keys in it: the error must
	 * still name the header's line (2), not the first key's (3).
	 */
	ok(has(tl_fmt("%s:2: unknown section", f)),
	    "the message names the line of the section header, FILE:2");
	/* And a foreign section without any key is an error too. */
	f = tl_conf_file("workers = 2\n[server]\n");
	is_int(78, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "an empty unknown section exits 78 too");

	f = tl_conf_file("workers = 2\nstop_timeout = soon\n");
	is_int(78, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "a bad duration exits 78");
	ok(has(tl_fmt("%s:2: stop_timeout = soon", f)),
	    "the message names FILE:2, the key and the value");

	f = tl_conf_file("[drover]\n  workers = 2\n");
	is_int(78, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "an indented line right after [drover] exits 78");
	ok(has(tl_fmt("%s:2: indented line", f)),
	    "the message names FILE:2 and the indentation");

	is_int(78, run("-n", "-s", st, "-c", "/nonexistent", "--",
	    "/bin/true", NULL), "a missing configuration file exits 78");
	ok(has("/nonexistent: No such file or directory"),
	    "the message names the file and the reason");
}

/* -n prints the settings that would be used; options beat the file. */
static void
test_check(const char *st)
{
	const char	*f;
	char		 cwdbuf[4096];

	f = tl_conf_file("workers = 2\ncommand = /bin/echo a\n    b\n");
	is_int(0, run("-n", "-s", st, "-c", f, NULL),
	    "-n with a valid file exits 0");
	ok(has_line("command = /bin/echo a b"),
	    "a command continued on an indented line is joined with a space");
	ok(access(st, F_OK) == -1, "-n created no state directory");

	/* Any blank starts a continuation, as inih reads the file. */
	f = tl_conf_file("workers = 2\ncommand = /bin/echo a\n\vb\n\fc\n");
	is_int(0, run("-n", "-s", st, "-c", f, NULL),
	    "-n with lines that begin with \\v and \\f exits 0");
	ok(has_line("command = /bin/echo a b c"), "a line that begins with "
	    "\\v or \\f continues the value, as one indented with spaces");

	is_int(0, run("-n", "-s", st, "--", "/bin/echo", "a b", NULL),
	    "-n with a command word holding a blank exits 0");
	ok(has_line("command = /bin/echo 'a b'"),
	    "that word is printed quoted");

	is_int(0, run("-n", "-s", "relative/state", "--", "/bin/true", NULL),
	    "-n with a relative state directory exits 0");
	ok(has_line(tl_fmt("state_dir = %s/relative/state", getcwd(cwdbuf,
	    sizeof(cwdbuf)))), "which is made absolute from the working "
	    "directory, for the paths workers get in it");

	is_int(0, run("-V", NULL), "-V exits 0");
	is_string(tl_fmt("drover %s\n", PACKAGE_VERSION), out,
	    "-V prints the name and version");

	f = tl_conf_file("workers = 5\nlisten = 127.0.0.1:81\n"
	    "listen = 127.0.0.1:83\ncommand = /bin/echo file\n");
	is_int(0, run("-n", "-s", st, "-c", f, NULL), "-n shows the file");
	ok(has_line("workers = 5") && has_line("listen = 127.0.0.1:81") &&
	    has_line("listen = 127.0.0.1:83") &&
	    has_line("command = /bin/echo file"),
	    "with the file's workers, listen list and command");
	is_int(0, run("-n", "-s", st, "-c", f, "-w", "2", NULL),
	    "-n -w 2 exits 0");
	ok(has_line("workers = 2") && tl_count(out, "workers = 5") == 0,
	    "-w 2 overrides workers = 5");
	is_int(0, run("-n", "-s", st, "-c", f, "-l", "127.0.0.1:82", NULL),
	    "-n -l exits 0");
	ok(has_line("listen = 127.0.0.1:82") && tl_count(out, "listen =") ==
	    1, "-l replaces the file's listen list");
	is_int(0, run("-n", "-s", st, "-c", f, "--", "/bin/echo", "x", NULL),
	    "-n -- /bin/echo x exits 0");
	ok(has_line("command = /bin/echo x"),
	    "the command after -- replaces the file's command");
}

/*
 * Values that would switch off a protection are errors that give the
 * range, named at their file and line; so are an empty IPv6 host and a
 * bad socket_mode.  The values whose 0 means something documented (a
 * watchdog off, no reload grace) are taken.
 */
static void
test_limits(const char *st)
{
	static const struct {
		const char	*text;	/* line 2 of the file */
		const char	*why;
	} bad[] = {
		{ "listen = []:80",
		    "empty IPv6 address (all of them is [::])" },
		{ "health = []:81", "empty IPv6 address" },
		{ "restart_window = 0", "must be from 1s to 8760h" },
		{ "restart_window = 999ms", "must be from 1s to 8760h" },
		{ "restart_delay = 0", "must be from 1ms to 8760h" },
		{ "restart_delay_max = 0", "must be from 1ms to 8760h" },
		{ "restart_reset = 0", "must be from 1ms to 8760h" },
		{ "ready_timeout = 0", "must be from 1ms to 8760h" },
		{ "stop_timeout = 0s", "must be from 1ms to 8760h" },
		{ "workers = 0", "must be auto or a number from 1 to 1024" },
		{ "restart_budget = 0", "must be a number from 1 to 10000" },
		{ "socket_mode = 888", "must be an octal mode from 0 to 0777" },
		{ "socket_mode = 01777",
		    "must be an octal mode from 0 to 0777" },
	};
	const char	*f;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = tl_conf_file("workers = 2\n%s\n", bad[i].text);
		is_int(78, run("-n", "-s", st, "-c", f, "--", "/bin/true",
		    NULL), "%s exits 78", bad[i].text);
		ok(has(tl_fmt("%s:2: %s: %s", f, bad[i].text, bad[i].why)),
		    "and the message names FILE:2 and says: %s", bad[i].why);
	}
	/* restart_delay is checked before restart_delay_max is read. */
	f = tl_conf_file("restart_delay = 0\nrestart_delay_max = 0\n");
	is_int(78, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "restart_delay and restart_delay_max both 0 exit 78");
	ok(has(tl_fmt("%s:1: restart_delay = 0: must be from 1ms", f)),
	    "the message names the first of them, at FILE:1");
	is_int(64, run("-n", "-s", st, "--stop-timeout", "0", "--",
	    "/bin/true", NULL), "--stop-timeout 0 exits 64");
	ok(has("stop_timeout = 0: must be from 1ms to 8760h"),
	    "and the message gives the range");

	f = tl_conf_file("socket_owner = no-such-user-here\n");
	is_int(78, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "an unknown socket_owner exits 78");
	ok(has(tl_fmt("%s: socket_owner = no-such-user-here: no such user",
	    f)), "and the message names the file, the key and the user");
	f = tl_conf_file("socket_group = no-such-group-here\n");
	is_int(78, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "an unknown socket_group exits 78");
	ok(has("socket_group = no-such-group-here: no such group"),
	    "and the message names the key and the group");

	f = tl_conf_file("watchdog = 0\nreload_grace = 0\n"
	    "socket_mode = 0660\n");
	is_int(0, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "watchdog = 0 (off), reload_grace = 0 and socket_mode = 0660 "
	    "are taken");
	ok(tl_count(out, "watchdog") == 0 && has_line("reload_grace = 0s") &&
	    has_line("socket_mode = 0660"), "-n shows no watchdog, "
	    "reload_grace = 0s and the mode as written");
	ok(access(st, F_OK) == -1, "none of these created the state "
	    "directory");
}

/*
 * A second master with the pid file of a running one exits 75, names the
 * first one's pid, and leaves the first one alone.
 */
static void
test_pidfile(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*pidfile, *argv[] = { "-w", "2", "-l",
				    "127.0.0.1:0", "-p", NULL, "--", NULL,
				    NULL };
	char			*text, body[64];
	long long		 p0, p1;
	pid_t			 kids[8];
	int			 port, status, nkids;

	pidfile = tl_fmt("%s/drover.pid", tl_tmpdir());
	argv[5] = pidfile;
	argv[7] = tl_path("examples/hello-c/hello-c");
	j = tl_start(&d, argv, 1);
	p0 = tl_json_int(j, "slots.0.pid", 0);
	p1 = tl_json_int(j, "slots.1.pid", 0);
	port = tl_port(j, 0);
	tl_json_free(j);
	text = tl_slurp(pidfile);
	ok(text != NULL && atoll(text) == d.pid,
	    "the pid file holds the master's pid");
	free(text);

	/* Same pid file, state directory and port: it must touch none. */
	is_int(75, run("-s", d.state, "-p", pidfile, "-w", "2", "-l",
	    tl_fmt("127.0.0.1:%d", port), "--",
	    tl_path("examples/hello-c/hello-c"), NULL),
	    "a second master with the same pid file exits 75");
	ok(has(tl_fmt("pid file %s is held by another master (pid %ld)",
	    pidfile, (long)d.pid)), "and names the first master's pid");

	j = tl_status(&d);
	is_int(d.pid, tl_json_int(j, "pid", 0),
	    "status.json still shows the first master");
	ok(tl_json_int(j, "slots.0.pid", 0) == p0 &&
	    tl_json_int(j, "slots.1.pid", 0) == p1,
	    "status.json shows the same workers");
	ok(tl_pred_all_ready(j, NULL), "status.json: still ready");
	tl_json_free(j);
	nkids = tl_children(d.pid, kids, 8);
	ok(nkids == 2 && ((kids[0] == p0 && kids[1] == p1) ||
	    (kids[0] == p1 && kids[1] == p0)),
	    "the first master has its two workers and no other child");
	text = tl_slurp(pidfile);
	ok(text != NULL && atoll(text) == d.pid,
	    "the pid file still holds the first master's pid");
	free(text);
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == 0,
	    "the ready file is still there");
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "the first master still serves HTTP");
	is_int(0, tl_daemon_stop(&d, 20000), "the first master stops with 0");
	ok(access(pidfile, F_OK) == -1, "and removes its pid file");
}

/*
 * An address in use and a state directory that cannot be created are
 * system errors at start: 71.
 */
static void
test_bind(const char *st)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	/* A listener without SO_REUSEPORT: nobody may join its port. */
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		sysbail("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		sysbail("listen on 127.0.0.1:0");
	is_int(71, run("-s", st, "-w", "2", "-l",
	    tl_fmt("127.0.0.1:%d", ntohs(sin.sin_port)), "--", "/bin/sleep",
	    "1000", NULL), "an address already in use exits 71");
	ok(has("Address already in use"), "and says Address already in use");
	ok(has(tl_fmt("127.0.0.1:%d", ntohs(sin.sin_port))),
	    "and names the address");
	ok(access(tl_fmt("%s/status.json", st), F_OK) == -1,
	    "no status.json is left behind");
	close(fd);

	is_int(71, run("-s", "/proc/nonexistent/x", "-w", "1", "--",
	    "/bin/sleep", "1000", NULL),
	    "a state directory that cannot be created exits 71");
	ok(has("/proc/nonexistent/x"), "and the message names it");
}

/*
 * A command that does not exist: the master keeps running, retries each
 * slot with a growing delay instead of a fork storm, and says so again
 * as it retries: once a second at most, one line for all the slots.
 */
static void
test_nocommand(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*st, *argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", "/nonexistent/cmd", NULL };
	const char		*msg = "cannot exec /nonexistent/cmd: No such "
				    "file or directory";
	char			*log;
	long long		 t0, elapsed, b2, b4, restarts;
	int			 lines;

	t0 = tl_now_ms();
	tl_start(&d, argv, 0);
	j = TL_WAIT(&d, 10000, TL_MIN("slots.0.failures", 2));
	ok(j != NULL, "slot 0 fails twice");
	b2 = tl_json_int(j, "slots.0.backoff_ms", -1);
	tl_json_free(j);
	j = TL_WAIT(&d, 10000, TL_MIN("slots.0.failures", 4));
	elapsed = tl_now_ms() - t0;
	ok(j != NULL, "slot 0 fails four times");
	b4 = tl_json_int(j, "slots.0.backoff_ms", -1);
	restarts = tl_json_int(j, "slots.0.restarts", -1);
	ok(restarts >= 3 && restarts <= 10,
	    "slot 0 was restarted %lld times, not in a fork storm", restarts);
	/* Three delays, jittered within [d/2, d] of 100, 200, 400 ms. */
	ok(elapsed >= 50 + 100 + 200,
	    "four failures took %lld ms, at least 350 ms of backoff",
	    elapsed);
	ok(b2 > 0 && b4 > b2, "backoff_ms grows (%lld ms, then %lld ms)",
	    b2, b4);
	st = tl_json_str(j, "slots.0.last_exit.status");
	ok(st != NULL && strstr(st, "No such file or directory") != NULL,
	    "last_exit.status gives the reason (%s)", st ? st : "none");
	is_int(127, tl_json_int(j, "slots.0.last_exit.code", -1),
	    "last_exit.code is 127 for ENOENT");
	is_string("running", tl_json_str(j, "state"), "the master runs on");
	tl_json_free(j);

	/* Reported again as it retries, not once and then silently. */
	is_int(0, tl_wait_log_count(&d, msg, 3, 15000),
	    "the failure is logged again as the slots retry (3 times)");
	elapsed = tl_now_ms() - t0;
	j = tl_status(&d);
	log = tl_slurp(d.log);
	lines = tl_count(log, msg);
	ok(lines <= elapsed / 1000 + 1, "at most once a second: %d lines "
	    "in %lld ms", lines, elapsed);
	ok(tl_json_int(j, "slots.0.restarts", 0) + tl_json_int(j,
	    "slots.1.restarts", 0) + 2 > lines, "fewer lines than failed "
	    "starts of the two slots (%lld and %lld restarts)",
	    tl_json_int(j, "slots.0.restarts", 0),
	    tl_json_int(j, "slots.1.restarts", 0));
	ok(tl_count(log, "not logged since the last report") >= 1,
	    "a line counts the failures it stands for");
	tl_json_free(j);
	free(log);
	is_int(-1, tl_daemon_wait(&d, 0), "the master has not exited");
	is_int(0, tl_daemon_stop(&d, 20000), "SIGTERM: drover exits 0");
}

/* A command that is not executable: logged, and the master runs on. */
static void
test_noexec(const char *dir)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*cmd, *argv[] = { "-w", "1", "--", NULL, NULL };

	cmd = tl_fmt("%s/notexec", dir);
	if (tl_write_file(cmd, "#!/bin/sh\nexit 0\n") == -1)
		sysbail("write %s", cmd);
	argv[3] = cmd;
	tl_start(&d, argv, 0);
	is_int(0, tl_wait_log(&d, tl_fmt("cannot exec %s: Permission denied",
	    cmd), 10000), "a mode 0644 command: the log says Permission "
	    "denied");
	j = TL_WAIT(&d, 10000, TL_MIN("slots.0.failures", 2));
	ok(j != NULL, "the slot keeps retrying");
	is_int(126, tl_json_int(j, "slots.0.last_exit.code", -1),
	    "last_exit.code is 126");
	tl_json_free(j);
	is_int(-1, tl_daemon_wait(&d, 0), "the master has not exited");
	is_int(0, tl_daemon_stop(&d, 20000), "SIGTERM: drover exits 0");
}

/*
 * -n checks that a worker could start: the command is found (in the PATH
 * workers get) and may be executed, a #! line names an interpreter that
 * exists, and the directory can be entered, all as the user workers run
 * as.  Each problem names the file and line of its key and exits 78.
 */
static void
test_check_worker(const char *dir, const char *st)
{
	const char	*f, *script, *tool;

	script = tl_fmt("%s/app.js", dir);
	if (tl_write_file(script, "#!/usr/bin/nodee\nconsole.log(1)\n") ==
	    -1 || chmod(script, 0755) == -1)
		sysbail("write %s", script);
	is_int(78, run("-n", "-s", st, "--", script, NULL),
	    "-n: a script whose interpreter is missing exits 78");
	ok(has(tl_fmt("command: %s: interpreter /usr/bin/nodee not found",
	    script)), "and names the interpreter");
	ok(out == NULL || strstr(out, "configuration ok") == NULL,
	    "and does not say configuration ok");

	is_int(78, run("-n", "-s", st, "--", "nodee-drover-test", "app.js",
	    NULL), "-n: a command not in PATH exits 78");
	ok(has("command: nodee-drover-test not found in PATH ("),
	    "and says it is not in PATH, showing the PATH");
	is_int(78, run("-n", "-s", st, "--", tl_fmt("%s/notexec", dir), NULL),
	    "-n: a command of mode 0644 exits 78");
	ok(has(tl_fmt("command: %s/notexec: Permission denied", dir)),
	    "and says Permission denied");

	f = tl_conf_file("workers = 1\ndirectory = /nonexistent/dir\n"
	    "command = /bin/true\n");
	is_int(78, run("-n", "-s", st, "-c", f, NULL),
	    "-n: a directory that does not exist exits 78");
	ok(has(tl_fmt("%s:2: directory = /nonexistent/dir: No such file or "
	    "directory", f)), "and names FILE:2, the key and the reason");
	f = tl_conf_file("workers = 1\n\ncommand = /nonexistent/bin/x --flag"
	    "\n");
	is_int(78, run("-n", "-s", st, "-c", f, NULL),
	    "-n: a command file that does not exist exits 78");
	ok(has(tl_fmt("%s:3: command: /nonexistent/bin/x: No such file or "
	    "directory", f)), "and names FILE:3 and the file");
	is_int(0, run("-n", "-s", st, "-c", f, "--", "/bin/true", NULL),
	    "the command after -- replaces it: exit 0");
	ok(has_line("configuration ok"), "configuration ok");

	/* The PATH searched is the one workers get. */
	tool = tl_fmt("%s/bin/drover-test-tool", dir);
	if (mkdir(tl_fmt("%s/bin", dir), 0755) == -1 ||
	    tl_write_file(tool, "#!/bin/sh\nexit 0\n") == -1 ||
	    chmod(tool, 0755) == -1)
		sysbail("write %s", tool);
	f = tl_conf_file("env = PATH=%s/bin:/usr/bin:/bin\n"
	    "command = drover-test-tool\n", dir);
	is_int(0, run("-n", "-s", st, "-c", f, NULL), "-n: a command found "
	    "in the PATH set by env exits 0");

	if (geteuid() != 0) {
		skip("the checks as user nobody need root");
		return;
	}
	/* The test directory is root's, mode 0700: nobody cannot enter. */
	f = tl_conf_file("user = nobody\ncommand = %s\n", tool);
	is_int(78, run("-n", "-s", st, "-c", f, NULL), "-n: a command in a "
	    "directory only root may enter, with user = nobody, exits 78");
	ok(has(tl_fmt("%s:2: command: %s: Permission denied (as user nobody)",
	    f, tool)), "and says Permission denied as user nobody");
	f = tl_conf_file("user = nobody\ndirectory = %s\ncommand = /bin/true"
	    "\n", dir);
	is_int(78, run("-n", "-s", st, "-c", f, NULL), "-n: a directory "
	    "nobody cannot enter exits 78");
	ok(has(tl_fmt("%s:2: directory = %s: Permission denied (as user "
	    "nobody)", f, dir)), "and says so with FILE:2");
	f = tl_conf_file("user = nobody\ndirectory = /\ncommand = true\n");
	is_int(0, run("-n", "-s", st, "-c", f, NULL), "-n: user = nobody, "
	    "directory = / and command = true exit 0");
	f = tl_conf_file("user = nobody\nenv = PATH=%s/bin:/usr/bin:/bin\n"
	    "command = drover-test-tool\n", dir);
	is_int(78, run("-n", "-s", st, "-c", f, NULL), "-n: a PATH entry "
	    "that only root may search does not count for user = nobody");
	ok(has("drover-test-tool not found in PATH"), "it is not found");
}

/*
 * A script whose #! line names a missing interpreter: execve(2) says
 * only "No such file or directory"; the log names the interpreter.  A
 * command not in PATH says so.
 */
static void
test_interpreter(const char *dir)
{
	struct tl_daemon	 d;
	const char		*argv[] = { "-w", "1", "--", NULL, NULL };

	/*
	 * valgrind cannot give a forked child the failure of an execve(2)
	 * that its own checks passed (the interpreter is looked for only
	 * then): it ends the child with status 101 instead.
	 */
	if (getenv("DROVER_TEST_VALGRIND") != NULL)
		skip("valgrind ends a child whose execve fails late (101)");
	else {
		argv[3] = tl_fmt("%s/app.js", dir);
		tl_start(&d, argv, 0);
		is_int(0, tl_wait_log(&d, tl_fmt("slot 0: cannot exec %s: "
		    "interpreter /usr/bin/nodee not found", argv[3]), 10000),
		    "the log names the missing interpreter");
		is_int(0, tl_daemon_stop(&d, 20000), "SIGTERM: drover exits "
		    "0");
	}

	argv[3] = "nodee-drover-test";
	tl_start(&d, argv, 0);
	is_int(0, tl_wait_log(&d, "slot 0: cannot exec nodee-drover-test: "
	    "not found in PATH (", 10000),
	    "a command not in PATH: the log says so");
	is_int(0, tl_daemon_stop(&d, 20000), "SIGTERM: drover exits 0");
}

/*
 * Every worker exits 78: nothing will ever serve, so drover stops and
 * exits 78, for systemd and Kubernetes to see, and cleans up.
 */
static void
test_all_halted(void)
{
	struct tl_daemon	 d;
	const char		*pidfile, *argv[] = { "-w", "2", "-l",
				    "127.0.0.1:0", "-p", NULL, "--", "/bin/sh",
				    "-c", "exit 78", NULL };

	pidfile = tl_fmt("%s/drover.pid", tl_tmpdir());
	argv[5] = pidfile;
	tl_start(&d, argv, 0);
	is_int(78, tl_daemon_wait(&d, 20000), "every worker exits 78: "
	    "drover exits 78");
	ok(tl_log_count(&d, "every worker exited 78 (its configuration is "
	    "broken) and no slot serves: stopping, exit status 78") == 1,
	    "the log says why");
	ok(access(pidfile, F_OK) == -1 && access(tl_fmt("%s/live", d.state),
	    F_OK) == -1, "the pid file and the live file are removed");
}

/*
 * A reload to workers that exit 78 rolls back; the master serves on
 * with the previous generation, and still stops with 0.
 */
static void
test_halted_reload(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*hello = tl_path("examples/hello-c/hello-c");
	char			 body[64];
	int			 status;

	j = tl_start_conf(&d, tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "command = %s\n", hello), NULL, 1);
	tl_json_free(j);
	tl_conf_rewrite(&d, "workers = 2\nlisten = 127.0.0.1:0\n"
	    "command = /bin/sh -c 'exit 78'\n");
	tl_daemon_kill(&d, SIGHUP);
	j = TL_WAIT(&d, 20000, TL_STR("reload.result", "rolled-back"),
	    TL_EQ("ready", 1));
	ok(j != NULL, "a reload whose workers exit 78 is rolled back");
	ok(j != NULL && strstr(tl_json_str(j, "reload.error") ?
	    tl_json_str(j, "reload.error") : "", "78") != NULL,
	    "reload.error says they exited 78 (%s)",
	    j != NULL ? tl_json_str(j, "reload.error") : "none");
	ok(tl_http_get(tl_port(j, 0), "/", &status, body, sizeof(body)) ==
	    0 && status == 200, "generation 1 serves");
	tl_json_free(j);
	is_int(-1, tl_daemon_wait(&d, 0), "the master has not exited");
	is_int(0, tl_daemon_stop(&d, 20000), "SIGTERM: drover exits 0");
}

int
main(void)
{
	const char	*dir;

	plan_lazy();
	dir = tl_tmpdir();
	/* Never created by a run that fails: its absence is checked. */
	test_usage(tl_fmt("%s/state", dir));
	test_config(tl_fmt("%s/state", dir));
	test_check(tl_fmt("%s/state", dir));
	test_check_readback(tl_fmt("%s/state", dir));
	test_handoff_bounds(tl_fmt("%s/state", dir));
	test_limits(tl_fmt("%s/state", dir));
	test_pidfile();
	test_bind(tl_fmt("%s/state", dir));
	test_nocommand();
	test_noexec(dir);
	test_check_worker(dir, tl_fmt("%s/state", dir));
	test_interpreter(dir);
	test_all_halted();
	test_halted_reload();
	free(out);
	return 0;
}
