/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * One master per address, per state directory and per pid file.  A
 * second drover on an address where another socket listens exits 71
 * naming the address and the holder, starts nothing and leaves the first
 * undisturbed (SO_REUSEPORT would otherwise let it take half of the
 * connections); so does a drover started while the orphans of a master
 * killed with SIGKILL still listen.  A second master on a state
 * directory in use exits 75 naming the first one's pid and touches none
 * of its files; the checks come in order: pid file, state directory,
 * addresses.  A state directory whose master was killed is usable at
 * once.  The default state directory is one per configuration file.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/*
 * Finding who holds an address reads all of /proc/net and /proc/PID/fd:
 * under valgrind, where connections of earlier tests are still in
 * TIME_WAIT, that alone can take more than 10 s.
 */
#define WAIT_MS		tl_slow_ms(10000)

static char		*listing(const char *, int);
static const char	*holder(const struct tl_daemon *);
static int		 second_exit(struct tl_daemon *);
static void		 test_same_address(void);
static void		 test_same_unix(void);
static int		 unix_answers(const char *);
static void		 test_orphans_listen(void);
static void		 test_same_state(void);
static void		 test_killed_master_state(void);
static void		 test_reload_address(void);
static void		 test_default_state(void);

static const char	*hello;

/*
 * "(pid PID, NAME)" as drover names the master d holding an address:
 * NAME is its name as the kernel has it, drover, or the wrapper's
 * (memcheck-amd64- under make check-valgrind).
 */
static const char *
holder(const struct tl_daemon *d)
{
	const char	*name = tl_proc_status(d->pid, "Name");

	return tl_fmt("(pid %ld, %s)", (long)d->pid, name != NULL ? name :
	    "drover");
}

/*
 * What a state directory holds that its master does not rewrite by
 * itself: the entries of dir (name and inode, sorted by name; `live` and
 * status.json left out, since the master renews them) and the content of
 * its lock file, so that two snapshots compare equal only if nobody else
 * created, replaced or removed anything there.  With all set, every entry.
 */
static char *
listing(const char *dir, int all)
{
	struct dirent	**ents;
	struct stat	 st;
	char		*out = NULL, *p, *lock;
	int		 n, i;

	if ((n = scandir(dir, &ents, NULL, alphasort)) == -1)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((all || (strcmp(ents[i]->d_name, "live") != 0 &&
		    strcmp(ents[i]->d_name, "status.json") != 0)) &&
		    fstatat(AT_FDCWD, tl_fmt("%s/%s", dir, ents[i]->d_name),
		    &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    asprintf(&p, "%s%s %lu\n", out != NULL ? out : "",
		    ents[i]->d_name, (unsigned long)st.st_ino) != -1) {
			free(out);
			out = p;
		}
		free(ents[i]);
	}
	free(ents);
	if ((lock = tl_slurp(tl_fmt("%s/lock", dir))) != NULL &&
	    asprintf(&p, "%slock holds %s", out != NULL ? out : "", lock) !=
	    -1) {
		free(out);
		out = p;
	}
	free(lock);
	return out;
}

/*
 * The exit code of the second drover d, within WAIT_MS.  If it is still
 * running then, where it is (its state, the system call it is in, its
 * kernel stack where readable) is shown, for a run that found it stuck.
 */
static int
second_exit(struct tl_daemon *d)
{
	static const char *const what[] = { "stat", "wchan", "syscall",
	    "stack" };
	char	*text;
	size_t	 i;
	int	 r;

	if ((r = tl_daemon_wait(d, WAIT_MS)) != -1)
		return r;
	for (i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		text = tl_slurp(tl_fmt("/proc/%d/%s", (int)d->pid, what[i]));
		diag("second drover %d, still running: %s: %s", (int)d->pid,
		    what[i], text != NULL ? text : "(unreadable)");
		free(text);
	}
	return r;
}

/* A second drover on the address of a running one. */
static void
test_same_address(void)
{
	struct tl_daemon	 d, d2;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", hello, NULL };
	const char		*argv2[] = { "-w", "2", "-l", NULL, "--", hello,
				    NULL };
	char			*log;
	long long		 w0, w1;
	int			 port, status;
	char			 body[64];

	j = tl_start(&d, argv, 1);
	port = tl_port(j, 0);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	w1 = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);

	argv2[3] = tl_fmt("127.0.0.1:%d", port);
	tl_start(&d2, argv2, 0);
	is_int(71, second_exit(&d2), "same address: the second "
	    "drover exits 71");
	log = tl_slurp(d2.log);
	ok(log != NULL && strstr(log, tl_fmt("listen 127.0.0.1:%d: Address "
	    "already in use: another process listens there (pid ", port)) !=
	    NULL, "same address: it names the address");
	ok(log != NULL && (strstr(log, holder(&d)) != NULL ||
	    strstr(log, tl_fmt("(pid %lld, hello-c)", w0)) != NULL ||
	    strstr(log, tl_fmt("(pid %lld, hello-c)", w1)) != NULL),
	    "same address: and the holder's pid, the first master or one of "
	    "its workers");
	ok(log != NULL && strstr(log, "started:") == NULL &&
	    access(tl_fmt("%s/status.json", d2.state), F_OK) == -1,
	    "same address: it started nothing");
	free(log);
	j = tl_status(&d);
	ok(j != NULL && tl_json_int(j, "slots.0.pid", 0) == w0 &&
	    tl_json_int(j, "slots.1.pid", 0) == w1 && tl_json_bool(j,
	    "ready") == 1, "same address: the first master serves on, same "
	    "workers");
	tl_json_free(j);
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "same address: the port answers");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "same address: the first "
	    "drover stops with status 0");
}

/* Whether the unix socket at path answers GET / with 200. */
static int
unix_answers(const char *path)
{
	int	 fd, status, rv;

	if ((fd = tl_connect_unix(path)) == -1)
		return 0;
	rv = tl_http_request(fd, "/", 0) == 0 &&
	    tl_http_response(fd, WAIT_MS, &status, NULL, 0, NULL) == 0 &&
	    status == 200;
	close(fd);
	return rv;
}

/*
 * A second drover on the unix socket of a running one: the socket file
 * exists and is listened on, so it is neither joined nor removed.
 */
static void
test_same_unix(void)
{
	struct tl_daemon	 d, d2;
	struct tl_json		*j;
	const char		*sock = tl_fmt("%s/app.sock", tl_tmpdir());
	const char		*addr = tl_fmt("unix:%s", sock);
	const char		*argv[] = { "-w", "1", "-l", addr, "--", hello,
				    NULL };
	char			*log;
	long long		 w0;

	j = tl_start(&d, argv, 1);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	tl_start(&d2, argv, 0);
	is_int(71, second_exit(&d2), "same unix socket: the "
	    "second drover exits 71");
	log = tl_slurp(d2.log);
	ok(log != NULL && strstr(log, tl_fmt("listen %s: Address already in "
	    "use: another process listens there (pid ", addr)) != NULL &&
	    (strstr(log, holder(&d)) != NULL ||
	    strstr(log, tl_fmt("(pid %lld, hello-c)", w0)) != NULL),
	    "same unix socket: it names the path and the holder's pid");
	ok(log != NULL && strstr(log, "started:") == NULL,
	    "same unix socket: it started nothing");
	free(log);
	ok(unix_answers(sock), "same unix socket: the first master's socket "
	    "is still there and answers");
	j = tl_status(&d);
	ok(j != NULL && tl_json_int(j, "slots.0.pid", 0) == w0,
	    "same unix socket: the first master serves on, same worker");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "same unix socket: the first "
	    "drover stops with status 0");
}

/*
 * The workers of a master killed with SIGKILL outlive it (they ignore
 * SIGTERM, the parent-death signal): a new drover on their address
 * refuses to join them.
 */
static void
test_orphans_listen(void)
{
	struct tl_daemon	 d, d2;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", "/bin/sh", "-c",
				    "trap '' TERM; exec sleep 1000", NULL };
	const char		*argv2[] = { "-w", "2", "-l", NULL, "--", hello,
				    NULL };
	char			*log;
	long long		 w0, w1;
	int			 port;

	j = tl_start(&d, argv, 1);
	port = tl_port(j, 0);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	w1 = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);
	if (w0 <= 0 || w1 <= 0)
		bail("no workers");
	tl_daemon_kill(&d, SIGKILL);
	(void)tl_daemon_wait(&d, WAIT_MS);
	ok(kill((pid_t)w0, 0) == 0 && kill((pid_t)w1, 0) == 0, "orphans: the "
	    "workers, ignoring SIGTERM, outlive their master");

	argv2[3] = tl_fmt("127.0.0.1:%d", port);
	tl_start(&d2, argv2, 0);
	is_int(71, second_exit(&d2), "orphans: a new drover on "
	    "their address exits 71");
	log = tl_slurp(d2.log);
	ok(log != NULL && (strstr(log, tl_fmt("(pid %lld, sleep)", w0)) !=
	    NULL || strstr(log, tl_fmt("(pid %lld, sleep)", w1)) != NULL),
	    "orphans: naming one of them");
	free(log);
	(void)kill((pid_t)w0, SIGKILL);
	(void)kill((pid_t)w1, SIGKILL);
	ok(tl_wait_pid_gone((pid_t)w0, WAIT_MS) == 0 &&
	    tl_wait_pid_gone((pid_t)w1, WAIT_MS) == 0, "orphans: killed by "
	    "the test");
	tl_start(&d2, argv2, 0);
	j = tl_status_wait(&d2, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL && tl_port(j, 0) == port, "orphans: once they are gone, "
	    "drover starts on the address");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d2, WAIT_MS), "orphans: drover stops with "
	    "status 0");
}

/*
 * A second master on the state directory of a running one (on another
 * address): exit 75, the first one's pid named, its files untouched.
 * With the same pid file too, the pid file is what it names.
 */
static void
test_same_state(void)
{
	struct tl_daemon	 d, d2;
	struct tl_json		*j;
	const char		*pf = tl_fmt("%s/drover.pid", tl_tmpdir());
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--ready", "notify", "-p", pf, "--", hello,
				    NULL };
	const char		*argv2[] = { "-s", NULL, "-w", "1", "-l",
				    "127.0.0.1:0", "--", hello, NULL };
	const char		*argv3[] = { "-s", NULL, "-p", pf, "-w", "1",
				    "-l", "127.0.0.1:0", "--", hello, NULL };
	char			*log, *before, *nbefore, *after, *nafter;
	int			 status;
	char			 body[64];

	tl_json_free(tl_start(&d, argv, 1));
	before = listing(d.state, 0);
	nbefore = listing(tl_fmt("%s/notify", d.state), 1);
	ok(before != NULL && strstr(before, "\nlock ") != NULL &&
	    strstr(before, tl_fmt("lock holds %ld\n", (long)d.pid)) != NULL,
	    "same state: the state directory holds its lock file, with the "
	    "master's pid");

	/* The library passes its own -s first; the later one wins. */
	argv2[1] = d.state;
	tl_start(&d2, argv2, 0);
	is_int(75, second_exit(&d2), "same state: the second "
	    "master exits 75");
	log = tl_slurp(d2.log);
	ok(log != NULL && strstr(log, tl_fmt("state directory %s is in use "
	    "by another master (pid %ld)", d.state, (long)d.pid)) != NULL,
	    "same state: naming the directory and the first one's pid");
	ok(log != NULL && strstr(log, "started:") == NULL, "same state: it "
	    "started nothing");
	free(log);
	after = listing(d.state, 0);
	nafter = listing(tl_fmt("%s/notify", d.state), 1);
	ok(before != NULL && after != NULL && strcmp(before, after) == 0 &&
	    nbefore != NULL && nafter != NULL && strcmp(nbefore, nafter) == 0,
	    "same state: ready, the lock and the notify sockets are "
	    "untouched");
	free(after);
	free(nafter);

	argv3[1] = d.state;
	tl_start(&d2, argv3, 0);
	is_int(75, second_exit(&d2), "same pid file and state: "
	    "exit 75");
	log = tl_slurp(d2.log);
	ok(log != NULL && strstr(log, tl_fmt("pid file %s is held by "
	    "another master (pid %ld)", pf, (long)d.pid)) != NULL &&
	    strstr(log, "state directory") == NULL, "same pid file and "
	    "state: the pid file is checked first");
	free(log);
	after = listing(d.state, 0);
	ok(after != NULL && strcmp(before, after) == 0, "same pid file and "
	    "state: the state directory is untouched");
	free(after);
	free(before);
	free(nbefore);

	j = tl_status(&d);
	ok(j != NULL && tl_json_int(j, "pid", 0) == d.pid &&
	    tl_json_bool(j, "ready") == 1 && tl_http_get(tl_port(j, 0), "/",
	    &status, body, sizeof(body)) == 0 && status == 200, "same state: "
	    "status.json is the first master's, which serves on");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "same state: the first "
	    "drover stops with status 0");
	ok(access(tl_fmt("%s/lock", d.state), F_OK) == -1 &&
	    access(tl_fmt("%s/status.json", d.state), F_OK) == -1,
	    "same state: and leaves no lock nor status behind");
}

/*
 * A master killed with SIGKILL leaves its lock file, but not its lock:
 * the next master takes the directory at once, and clears the notify
 * sockets it left.
 */
static void
test_killed_master_state(void)
{
	struct tl_daemon	 d, d2;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "1", "-l", "127.0.0.1:0",
				    "--", hello, NULL };
	const char		*argv2[] = { "-s", NULL, "-w", "1", "-l",
				    "127.0.0.1:0", "--", hello, NULL };
	char			*n;
	long long		 w0;

	j = tl_start(&d, argv, 1);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	tl_daemon_kill(&d, SIGKILL);
	(void)tl_daemon_wait(&d, WAIT_MS);
	if (w0 > 0)
		(void)tl_wait_pid_gone((pid_t)w0, WAIT_MS);
	ok(access(tl_fmt("%s/lock", d.state), F_OK) == 0, "killed master: "
	    "its lock file is left");
	argv2[1] = d.state;
	tl_start(&d2, argv2, 0);
	d2.state = d.state;	/* where it writes, its -s being the last */
	/* The dead master's status.json is still there: wait for ours. */
	tl_json_free(TL_WAIT(&d2, WAIT_MS, TL_EQ("pid", d2.pid)));
	j = tl_status_wait(&d2, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL && tl_json_int(j, "pid", 0) == d2.pid, "killed master: "
	    "a new master takes its state directory");
	tl_json_free(j);
	n = listing(tl_fmt("%s/notify", d.state), 1);
	ok(n != NULL && tl_count(n, "\n") == 3, "killed master: its notify "
	    "sockets are cleared (left: ., .. and the new worker's)");
	free(n);
	is_int(0, tl_daemon_stop(&d2, WAIT_MS), "killed master: the new "
	    "drover stops with status 0");
}

/*
 * A reload that adds an address in use by another process fails, and
 * the running generation serves on.
 */
static void
test_reload_address(void)
{
	struct tl_daemon	 d, d2;
	struct tl_json		*j;
	const char		*argv2[] = { "-w", "1", "-l", "127.0.0.1:0",
				    "--", hello, NULL };
	const char		*err;
	int			 other;

	j = tl_start(&d2, argv2, 1);
	other = tl_port(j, 0);
	tl_json_free(j);
	tl_json_free(tl_start_conf(&d, tl_fmt("workers = 1\n"
	    "listen = 127.0.0.1:0\ncommand = %s\n", hello), NULL, 1));
	tl_conf_rewrite(&d, "workers = 1\nlisten = 127.0.0.1:0\n"
	    "listen = 127.0.0.1:%d\ncommand = %s\n", other, hello);
	tl_daemon_kill(&d, SIGHUP);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("reload.result", "failed"));
	err = tl_json_str(j, "reload.error");
	ok(j != NULL && err != NULL && strstr(err, tl_fmt("127.0.0.1:%d",
	    other)) != NULL && strstr(err, holder(&d2)) != NULL, "reload: "
	    "an address in use fails the reload, naming it and its holder "
	    "(%s)", err != NULL ? err : "null");
	ok(j != NULL && tl_json_int(j, "generation", 0) == 1 &&
	    tl_json_bool(j, "ready") == 1, "reload: generation 1 serves on");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "reload: drover stops with "
	    "status 0");
	is_int(0, tl_daemon_stop(&d2, WAIT_MS), "reload: the other drover "
	    "stops with status 0");
}

/*
 * The default state directory: one per configuration file, drover.conf
 * keeping the plain one; RUNTIME_DIRECTORY wins.  Read from -n.  Under
 * /run/drover as root, else under $XDG_RUNTIME_DIR (set here).
 */
static void
test_default_state(void)
{
	const char	*dir = tl_tmpdir(), *base;
	char		*out = NULL;

	setenv("XDG_RUNTIME_DIR", dir, 1);
	base = geteuid() == 0 ? "/run/drover" : tl_fmt("%s/drover", dir);
	if (tl_write_file(tl_fmt("%s/api.conf", dir), "command = %s\n",
	    hello) == -1 || tl_write_file(tl_fmt("%s/drover.conf", dir),
	    "command = %s\n", hello) == -1)
		sysbail("write");
	unsetenv("RUNTIME_DIRECTORY");
	is_int(0, tl_run((const char *const[]){ tl_path("supervisor/drover"),
	    "-n", "-c", tl_fmt("%s/api.conf", dir), NULL }, WAIT_MS, &out),
	    "default state: -n api.conf");
	ok(out != NULL && strstr(out, tl_fmt("\nstate_dir = %s/api\n",
	    base)) != NULL, "default state: api.conf gets %s/api", base);
	free(out);
	is_int(0, tl_run((const char *const[]){ tl_path("supervisor/drover"),
	    "-n", "-c", tl_fmt("%s/drover.conf", dir), NULL }, WAIT_MS, &out),
	    "default state: -n drover.conf");
	ok(out != NULL && strstr(out, tl_fmt("\nstate_dir = %s\n", base)) !=
	    NULL, "default state: drover.conf keeps %s", base);
	free(out);
	setenv("RUNTIME_DIRECTORY", "/run/drover/web", 1);
	is_int(0, tl_run((const char *const[]){ tl_path("supervisor/drover"),
	    "-n", "-c", tl_fmt("%s/api.conf", dir), NULL }, WAIT_MS, &out),
	    "default state: -n with RUNTIME_DIRECTORY");
	ok(out != NULL && strstr(out, "\nstate_dir = /run/drover/web\n") !=
	    NULL, "default state: RUNTIME_DIRECTORY (the unit's instance) "
	    "wins");
	free(out);
	unsetenv("RUNTIME_DIRECTORY");
}

int
main(void)
{
	plan_lazy();
	hello = tl_path("examples/hello-c/hello-c");
	test_same_address();
	test_same_unix();
	test_orphans_listen();
	test_same_state();
	test_killed_master_state();
	test_reload_address();
	test_default_state();
	return 0;
}
