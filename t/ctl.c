/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * droverctl(8) against the real daemon, as an operator uses it: found by
 * its state directory, its pid file and its pid, with workers running
 * as `user = nobody`.  status shows every worker with what /proc says of
 * it, as a table and as JSON; reload waits for the outcome and exits 0
 * when it took, 1 with the reason when the configuration is invalid or
 * the new generation is rolled back; two callers at once each get the
 * outcome of a reload that covers their request, also when the second
 * asks while the first one's reload is under way; upgrade waits and
 * reports a refusal; scale adds and retires slots until that many serve;
 * stop returns once the master is gone, and times out (124) when it is
 * not.  A stale status.json or pid file naming a live process makes
 * droverctl exit 69 without signalling it, and a user who does not own
 * the master is refused (77).  Nothing here sleeps: droverctl itself
 * waits, and the test waits on it.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		15000
#define QUIET_MS	300

/* A droverctl started in the background, its output in a file. */
struct ctlrun {
	pid_t		 pid;
	const char	*out;
};

static int	 ctl(const char *, char **, const char *, const char *);
static void	 ctl_start(struct ctlrun *, const struct passwd *,
		    const char *const []);
static int	 ctl_end(struct ctlrun *, char **);
static void	 other_locks(struct tl_daemon *, const struct passwd *,
		    const char *);
static int	 has(const char *, const char *);
static void	 test_status(void);
static void	 test_reload(void);
static void	 test_concurrent(void);
static void	 test_upgrade_scale_stop(void);
static void	 test_stale(void);

static const char	*hello, *ctlbin, *tdir;

/* Whether text (may be NULL) contains needle. */
static int
has(const char *text, const char *needle)
{
	return text != NULL && strstr(text, needle) != NULL;
}

/*
 * Run droverctl with -OPT ARG (opt "s", "p", "P") and the words of cmd
 * (blank-separated); its exit code, its output in *out (if not NULL).
 */
static int
ctl(const char *opt, char **out, const char *arg, const char *cmd)
{
	const char	*argv[12];
	char		*copy, *w, *last;
	int		 n = 0, rc;

	argv[n++] = ctlbin;
	argv[n++] = tl_fmt("-%s", opt);
	argv[n++] = arg;
	argv[n++] = "-t";
	argv[n++] = "20s";
	copy = strdup(cmd);
	for (w = strtok_r(copy, " ", &last); w != NULL && n < 11;
	    w = strtok_r(NULL, " ", &last))
		argv[n++] = w;
	argv[n] = NULL;
	if (out != NULL)
		*out = NULL;
	rc = tl_run(argv, 30000, out);
	free(copy);
	return rc;
}

/*
 * Start droverctl argv in the background (as pw, if not NULL), its output
 * to a file.
 */
static void
ctl_start(struct ctlrun *r, const struct passwd *pw, const char *const argv[])
{
	static int	 serial;
	char		*v[16];
	int		 fd, n;

	r->out = tl_fmt("%s/ctl-%d.out", tdir, ++serial);
	if ((r->pid = fork()) == -1)
		bail("fork");
	if (r->pid == 0) {
		fd = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1 ||
		    (pw != NULL && tl_become(pw->pw_uid, pw->pw_gid) == -1))
			_exit(125);
		/* execv wants strings it may change: copies. */
		for (n = 0; argv[n] != NULL && n < 15; n++)
			v[n] = strdup(argv[n]);
		v[n] = NULL;
		execv(v[0], v);
		_exit(127);
	}
}

/* Wait for it (droverctl has its own -t); exit code, output in *out. */
static int
ctl_end(struct ctlrun *r, char **out)
{
	int	 status;

	if (waitpid(r->pid, &status, 0) == -1)
		bail("waitpid");
	*out = tl_slurp(r->out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 +
	    WTERMSIG(status);
}

/*
 * status, found three ways, of a master with a pid file and workers
 * running as nobody; and a user who does not own it cannot reload it.
 */
static void
test_status(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j, *cj;
	struct ctlrun		 r;
	struct passwd		*pw;
	const char		*pidf = tl_fmt("%s/status.pid", tdir);
	char			*out;
	pid_t			 p[2];

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\nuser = nobody\npidfile = %s\ncommand = %s\n",
	    pidf, hello), NULL, 1);
	tl_pids(j, p, 2);
	tl_json_free(j);

	is_int(0, ctl("s", &out, d.state, "status"), "status: exit 0");
	ok(has(out, "SLOT") && has(out, "RSS") && has(out, "LAST EXIT") &&
	    has(out, tl_fmt("\n0    %ld ", (long)p[0])) &&
	    has(out, tl_fmt("\n1    %ld ", (long)p[1])) &&
	    tl_count(out, " ready ") == 2, "status: a table with both workers "
	    "ready:\n%s", out != NULL ? out : "");
	ok(has(out, tl_fmt("drover pid %ld, generation 1: running, ready, "
	    "2 of 2 workers ready", (long)d.pid)), "status: the master's "
	    "line");
	free(out);

	is_int(0, ctl("s", &out, d.state, "status --json"), "status --json: "
	    "exit 0");
	cj = out != NULL ? tl_json_parse(out) : NULL;
	ok(cj != NULL, "status --json: JSON");
	is_int(2, (int)tl_json_len(cj, "slots"), "status --json: two slots");
	is_int(p[1], tl_json_int(cj, "slots.1.pid", -1), "status --json: the "
	    "pid of slot 1");
	ok(tl_json_int(cj, "slots.0.rss", -1) > 0 &&
	    tl_json_num(cj, "slots.0.uptime", -1) >= 0 &&
	    tl_json_num(cj, "slots.0.cpu", -1) >= 0, "status --json: rss, "
	    "uptime and cpu of a worker running as nobody");
	is_string("ready", tl_json_str(cj, "slots.0.state"), "status --json: "
	    "the state");
	is_int(d.pid, tl_json_int(cj, "pid", -1), "status --json: the "
	    "master's pid");
	is_int(1, tl_json_bool(cj, "ready"), "status --json: ready, true");
	tl_json_free(cj);
	free(out);

	is_int(0, ctl("p", &out, pidf, "status"), "status -p: exit 0");
	ok(has(out, tl_fmt("drover pid %ld,", (long)d.pid)), "status -p: the "
	    "master of the pid file");
	free(out);
	is_int(0, ctl("P", &out, tl_fmt("%ld", (long)d.pid), "status"),
	    "status -P: exit 0");
	ok(has(out, tl_fmt("\n1    %ld ", (long)p[1])), "status -P: found "
	    "the state directory from the pid");
	free(out);

	if ((pw = getpwnam("nobody")) == NULL)
		bail("no user nobody");
	/* nobody may read the state directory, as in /run/drover. */
	if (chmod(d.dir, 0755) == -1)
		bail("chmod %s", d.dir);
	ctl_start(&r, pw, (const char *const []){ ctlbin, "-s", d.state,
	    "reload", NULL });
	is_int(77, ctl_end(&r, &out), "another user: reload exits 77");
	ok(has(out, "run as root or as its user"), "another user: says who "
	    "may (%s)", out != NULL ? out : "");
	free(out);
	j = tl_status(&d);
	is_int(0, tl_json_int(j, "reload.requests", -1), "another user: the "
	    "master got no SIGHUP");
	tl_json_free(j);
	other_locks(&d, pw, pidf);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "status: the master stops");
}

/*
 * Another user who locks the state directory (anybody may open it) and
 * tries the lock files cannot hold up a reload, nor keep a master from
 * starting: droverctl takes its turn on state_dir/ctl.lock and the
 * master's lock and pid file are 0600.
 */
static void
other_locks(struct tl_daemon *d, const struct passwd *pw, const char *pidf)
{
	struct stat	 st;
	int		 p[2], status, fd;
	char		 c = 0;
	pid_t		 pid;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		sysbail("fork");
	if (pid == 0) {
		close(p[0]);
		if (tl_become(pw->pw_uid, pw->pw_gid) == -1 ||
		    (fd = open(d->state, O_RDONLY | O_DIRECTORY)) == -1 ||
		    flock(fd, LOCK_EX) == -1)
			_exit(1);
		c = openat(fd, "lock", O_RDONLY) != -1 || errno != EACCES;
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ok(read(p[0], &c, 1) == 1, "another user: holds an flock of the "
	    "state directory");
	is_int(0, c, "another user: cannot open (and lock) the master's "
	    "lock file");
	is_int(0, ctl("s", NULL, d->state, "reload"), "another user: "
	    "holding the state directory's flock does not hold up a reload");
	if (stat(pidf, &st) == -1)
		st.st_mode = 0;
	is_int(0600, st.st_mode & 07777, "the pid file is 0600 (0 if none)");
	if (stat(tl_fmt("%s/ctl.lock", d->state), &st) == -1)
		st.st_mode = 0;
	is_int(0600, st.st_mode & 07777, "ctl.lock is 0600 (0 if none)");
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, &status, 0);
	close(p[0]);
}

/*
 * reload waits for the outcome: ok, invalid-config (with file:line) and
 * rolled back (with why), the old workers serving on after both.
 */
static void
test_reload(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	char			*out;
	pid_t			 p[2], q[2];

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\ncommand = %s\n", hello), NULL, 1);
	tl_json_free(j);

	is_int(0, ctl("s", &out, d.state, "reload"), "reload: exit 0");
	ok(has(out, "reload ok: generation 2 serves"), "reload: says it took "
	    "(%s)", out != NULL ? out : "");
	free(out);
	j = tl_status(&d);
	ok(tl_json_int(j, "generation", -1) == 2 &&
	    tl_json_int(j, "workers_ready", -1) == 2 &&
	    tl_json_is_null(j, "slots.0.old") &&
	    tl_json_is_null(j, "slots.1.old"), "reload: once it returns, "
	    "generation 2 serves alone");
	tl_pids(j, p, 2);
	tl_json_free(j);

	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "wokers = 3\ncommand = %s\n", hello);
	is_int(1, ctl("s", &out, d.state, "reload"), "invalid config: exit 1");
	ok(has(out, "reload invalid-config: ") && has(out,
	    tl_fmt("%s:3:", d.conf)) && has(out, "generation 2 serves"),
	    "invalid config: says so with file:line (%s)", out != NULL ?
	    out : "");
	free(out);

	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\nrestart_delay = 50ms\n"
	    "command = /bin/sh -c 'exit 1'\n");
	is_int(1, ctl("s", &out, d.state, "reload"), "rollback: exit 1");
	ok(has(out, "reload rolled-back: ") && has(out, "exited 1") &&
	    has(out, "generation 2 serves"), "rollback: says it was rolled "
	    "back and why (%s)", out != NULL ? out : "");
	free(out);
	j = tl_status(&d);
	tl_pids(j, q, 2);
	ok(tl_json_int(j, "generation", -1) == 2 && q[0] == p[0] &&
	    q[1] == p[1] && tl_json_bool(j, "ready") == 1, "rollback: once "
	    "it returns, the old workers serve on");
	is_string("rolled-back", tl_json_str(j, "reload.result"), "rollback: "
	    "as status.json says");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "reload: the master stops");
}

/* Whether the background droverctl r still runs. */
static int
running(const struct ctlrun *r)
{
	int	 status;

	return waitpid(r->pid, &status, WNOHANG) == 0;
}

/*
 * Several callers at once each get the outcome of a reload covering
 * their request; one that asks while another's reload is under way gets
 * the next one, which read the file it wrote.
 */
static void
test_concurrent(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct ctlrun		 r[4];
	const char		*gate = tl_fifo_new(tdir, "gate");
	char			*out;
	long long		 gen;
	int			 i, good = 0;

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\ncommand = %s\n", hello), NULL, 1);
	tl_json_free(j);
	for (i = 0; i < 4; i++)
		ctl_start(&r[i], NULL, (const char *const []){ ctlbin, "-s",
		    d.state, "-t", "20s", "reload", NULL });
	for (i = 0; i < 4; i++) {
		if (ctl_end(&r[i], &out) == 0 && has(out, "reload ok: "))
			good++;
		else
			diag("caller %d: %s", i, out != NULL ? out : "");
		free(out);
	}
	is_int(4, good, "four at once: each says its reload took");
	j = tl_status(&d);
	is_int(4, tl_json_int(j, "reload.requests", -1), "four at once: the "
	    "master counted four requests (none merged)");
	is_int(4, tl_json_int(j, "reload.covers", -1), "four at once: the "
	    "last reload covers them all");
	gen = tl_json_int(j, "generation", -1) + 2;
	tl_json_free(j);

	/* The first caller's reload waits on the gate. */
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\ncommand = /bin/sh -c 'read x < %s && exec %s'\n",
	    gate, hello);
	ctl_start(&r[0], NULL, (const char *const []){ ctlbin, "-s", d.state,
	    "-t", "20s", "reload", NULL });
	j = TL_WAIT(&d, WAIT_MS, TL_STR("reload.result", "in-progress"),
	    TL_EQ("reload.requests", 5));
	ok(j != NULL, "gated: the first caller's reload is under way");
	tl_json_free(j);
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 3\n"
	    "ready = notify\ncommand = %s\n", hello);
	ctl_start(&r[1], NULL, (const char *const []){ ctlbin, "-s", d.state,
	    "-t", "20s", "reload", NULL });
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("reload.requests", 6),
	    TL_EQ("reload.pending", 1));
	ok(j != NULL, "gated: the second caller's request is pending");
	tl_json_free(j);
	ok(running(&r[0]) && running(&r[1]), "gated: neither caller returns "
	    "while the reload is under way");
	tl_fifo_release(gate);
	tl_fifo_release(gate);
	is_int(0, ctl_end(&r[1], &out), "gated: the second caller exits 0");
	ok(has(out, tl_fmt("reload ok: generation %lld serves", gen)),
	    "gated: with the reload that read its file (%s)", out != NULL ?
	    out : "");
	free(out);
	j = tl_status(&d);
	ok(tl_json_int(j, "generation", -1) == gen &&
	    tl_json_int(j, "workers", -1) == 3 &&
	    tl_json_int(j, "workers_ready", -1) == 3, "gated: once it "
	    "returns, three workers of its generation serve");
	tl_json_free(j);
	is_int(0, ctl_end(&r[0], &out), "gated: the first caller exits 0");
	free(out);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "concurrent: the master stops");
}

/*
 * upgrade (ok, and refused), scale up and down, stop; and a stop that
 * cannot finish in time.
 */
static void
test_upgrade_scale_stop(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*pidf = tl_fmt("%s/upgrade.pid", tdir);
	const char		*good;
	char			*out;

	good = tl_fmt("listen = 127.0.0.1:0\nworkers = 2\nready = notify\n"
	    "user = nobody\npidfile = %s\ncommand = %s\n", pidf, hello);
	j = tl_start_conf(&d, good, NULL, 1);
	tl_json_free(j);

	is_int(0, ctl("p", &out, pidf, "upgrade"), "upgrade: exit 0");
	ok(has(out, "upgrade ok"), "upgrade: says it took (%s)", out != NULL ?
	    out : "");
	free(out);
	j = tl_status(&d);
	ok(tl_json_int(j, "upgrade.upgrades", -1) == 1 &&
	    tl_json_int(j, "pid", -1) == d.pid, "upgrade: once it returns, "
	    "the same pid runs the new image");
	tl_json_free(j);
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\nwokers = 3\n");
	is_int(1, ctl("p", &out, pidf, "upgrade"), "refused upgrade: exit 1");
	ok(has(out, "upgrade refused: ") && has(out, "wokers"), "refused "
	    "upgrade: says why (%s)", out != NULL ? out : "");
	free(out);
	tl_conf_rewrite(&d, "%s", good);

	is_int(0, ctl("s", &out, d.state, "scale 3"), "scale 3: exit 0");
	free(out);
	j = tl_status(&d);
	ok(tl_json_int(j, "workers_ready", -1) == 3 &&
	    tl_json_len(j, "slots") == 3, "scale 3: once it returns, three "
	    "workers serve");
	tl_json_free(j);
	is_int(0, ctl("s", &out, d.state, "scale 1"), "scale 1: exit 0");
	free(out);
	j = tl_status(&d);
	ok(tl_json_int(j, "workers_ready", -1) == 1 &&
	    tl_json_len(j, "slots") == 1, "scale 1: once it returns, one "
	    "slot is left");
	tl_json_free(j);
	is_int(64, ctl("s", &out, d.state, "scale 0"), "scale 0: exit 64");
	free(out);

	is_int(0, ctl("s", &out, d.state, "stop"), "stop: exit 0");
	free(out);
	is_int(0, tl_daemon_wait(&d, 0), "stop: once it returns, the master "
	    "has exited 0");
	is_int(69, ctl("s", &out, d.state, "status"), "stopped: status exits "
	    "69");
	free(out);

	/* A worker that ignores SIGTERM keeps the master for stop_timeout. */
	j = tl_start_conf(&d, "workers = 1\nready = exec\nstop_timeout = 30s\n"
	    "command = /bin/sh -c 'trap \"\" TERM; exec sleep 60'\n", NULL, 1);
	tl_json_free(j);
	is_int(124, ctl("s", &out, d.state, "-t 300ms stop"), "slow stop: "
	    "exit 124 at the deadline");
	ok(has(out, "still runs"), "slow stop: says so (%s)", out != NULL ?
	    out : "");
	free(out);
	is_int(0, kill(d.pid, 0), "slow stop: the master is still there");
	tl_daemon_kill(&d, SIGQUIT);
	tl_daemon_wait(&d, WAIT_MS);
}

/*
 * A status.json, pid file or pid that names a live process that is no
 * master: droverctl exits 69 and signals nothing.
 */
static void
test_stale(void)
{
	const char	*dir = tl_fmt("%s/stale", tdir);
	const char	*pidf = tl_fmt("%s/stale.pid", tdir);
	char		*out;
	pid_t		 pid;
	int		 status;

	if ((pid = fork()) == -1)
		bail("fork");
	if (pid == 0) {
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	if (mkdir(dir, 0755) == -1 ||
	    tl_write_file(tl_fmt("%s/status.json", dir), "{\"pid\": %ld, "
	    "\"state\": \"running\", \"reload\": {\"requests\": 0, "
	    "\"covers\": 0}}\n", (long)pid) == -1 ||
	    tl_write_file(tl_fmt("%s/lock", dir), "%ld\n", (long)pid) == -1 ||
	    tl_write_file(pidf, "%ld\n", (long)pid) == -1)
		bail("cannot write the stale files");
	is_int(69, ctl("s", &out, dir, "reload"), "stale status.json: exit 69");
	ok(has(out, "stale"), "stale status.json: says so (%s)", out != NULL ?
	    out : "");
	free(out);
	is_int(69, ctl("p", &out, pidf, "stop"), "stale pid file: exit 69");
	ok(has(out, "stale"), "stale pid file: says so (%s)", out != NULL ?
	    out : "");
	free(out);
	is_int(69, ctl("P", &out, tl_fmt("%ld", (long)pid), "stop"), "a pid "
	    "that is no master: exit 69");
	free(out);
	is_int(0, waitpid(pid, &status, WNOHANG), "stale: the process they "
	    "name got no signal");
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, &status, 0);
}

int
main(void)
{
	plan_lazy();
	signal(SIGPIPE, SIG_IGN);
	hello = tl_path("examples/hello-c/hello-c");
	ctlbin = tl_path("supervisor/droverctl");
	if (access(hello, X_OK) == -1 || access(ctlbin, X_OK) == -1)
		bail("%s or %s is not built", hello, ctlbin);
	tdir = tl_tmpdir();

	test_status();
	test_reload();
	test_concurrent();
	test_upgrade_scale_stop();
	test_stale();
	return 0;
}
