/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * SIGUSR2 re-executes drover in place and is never an outage.  The
 * master keeps its pid, its workers and its listening sockets and goes on
 * supervising them (a killed worker is replaced, a reload works), with or
 * without a pid file (whose lock it keeps: a second master on it still
 * exits 75).  A new binary is checked first (drover -n with the same
 * command line): with the configuration file broken since start, or a
 * binary that cannot start, or none at all, the running image keeps
 * serving and says why, in the log and in status.json.  The health
 * endpoint on a unix socket survives.  Twenty upgrades interleaved with
 * worker kills, reloads and scaling, and HUP, TERM or USR2 sent 0, 1 and
 * 3 ms after a USR2, are each handled and none is fatal.  Every part runs
 * under a continuous client that must see no failed request.  A handoff
 * that names a process which is not the master's child (forged here by
 * the test standing in for the previous image) does not get it adopted:
 * it is neither shown as a worker nor signalled.  The watchdog still
 * watches an adopted worker, also once a reload that failed has given it
 * its slot back.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
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

#define WAIT_MS		15000

/* What pred_upgraded waits for. */
struct upgraded {
	long long	 done;		/* upgrade.upgrades at least this */
	long long	 requests;	/* upgrade.requests at least this */
	long long	 gen;		/* generation at least this; 0: any */
	int		 nslots;	/* slots all ready */
	int		 lapse;		/* a version said fewer, or not ready */
};

static int		 same_set(const unsigned long *, int,
			    const unsigned long *, int);
static int		 pred_upgraded(const struct tl_json *, void *);
static int		 pred_checked_after(const struct tl_json *, void *);
static double		 tl_wall(void);
static struct tl_json	*wait_upgraded(struct tl_daemon *, long long,
			    long long, long long, int);
static void		 client_done(struct tl_client *, const char *);
static void		 test_basic(int);
static void		 test_broken_file(void);
static void		 test_health_unix(void);
static void		 test_bad_binary(void);
static void		 test_twenty(void);
static void		 test_race(int, int);
static void		 handoff_forge(char **);
static void		 test_stranger(void);
static void		 test_watchdog(void);

static const char	*drover_copy;	/* the binary the tests run */
static const char	*hello;

/* Whether every inode of a[] is in b[]. */
static int
same_set(const unsigned long *a, int na, const unsigned long *b, int nb)
{
	int	 i, k;

	for (i = 0; i < na; i++) {
		for (k = 0; k < nb; k++)
			if (a[i] == b[k])
				break;
		if (k == nb)
			return 0;
	}
	return na > 0;
}

/*
 * At least so many upgrades done and requested, the last one "ok", the
 * generation as asked, nothing reloading and every slot ready.  A
 * version with another number of workers, or not ready, is noted in
 * lapse.
 */
static int
pred_upgraded(const struct tl_json *j, void *arg)
{
	struct upgraded		*u = arg;
	const char		*s;

	if (tl_json_int(j, "workers", -1) != u->nslots ||
	    tl_json_bool(j, "ready") != 1)
		u->lapse = 1;
	if (tl_json_int(j, "upgrade.upgrades", -1) < u->done ||
	    tl_json_int(j, "upgrade.requests", -1) < u->requests ||
	    (s = tl_json_str(j, "upgrade.result")) == NULL ||
	    strcmp(s, "ok") != 0 || tl_json_int(j, "generation", -1) <
	    u->gen || (s = tl_json_str(j, "state")) == NULL ||
	    strcmp(s, "running") != 0 || tl_json_len(j, "slots") !=
	    (size_t)u->nslots || tl_json_int(j, "workers", -1) != u->nslots)
		return 0;
	return tl_pred_all_ready(j, NULL);
}

static struct tl_json *
wait_upgraded(struct tl_daemon *d, long long done, long long requests,
    long long gen, int nslots)
{
	struct upgraded	 u;

	u.done = done;
	u.requests = requests;
	u.gen = gen;
	u.nslots = nslots;
	u.lapse = 0;
	return tl_status_wait(d, pred_upgraded, &u, WAIT_MS);
}

/* The wall clock, in seconds, as status.json writes it. */
static double
tl_wall(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * An upgrade that began (its check started) at or after *arg went
 * through, and the cluster is ready.
 */
static int
pred_checked_after(const struct tl_json *j, void *arg)
{
	const double	*t = arg;
	const char	*s = tl_json_str(j, "upgrade.result");

	return s != NULL && strcmp(s, "ok") == 0 &&
	    tl_json_num(j, "upgrade.started", 0) >= *t - 0.001 &&
	    tl_pred_all_ready(j, NULL);
}

/* Stop a continuous client and check it saw no failure. */
static void
client_done(struct tl_client *c, const char *what)
{
	struct tl_tally	 t = { 0 };

	ok(tl_client_stop(c, &t) == 0 && t.failures == 0 && t.requests > 0,
	    "%s: the client saw no failed request (%ld of %ld)", what,
	    t.failures, t.requests);
}

/*
 * The basic upgrade: same pid, workers and sockets; an adopted worker is
 * still supervised; a reload works after it.  With a pid file, its lock
 * survives: a second master on it still exits 75.
 */
static void
test_basic(int pidfile)
{
	struct tl_daemon	 d, d2;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	struct tl_client	 c;
	struct upgraded		 u;
	const char		*what = pidfile ? "with -p" : "without -p";
	const char		*pf = tl_fmt("%s/drover.pid", tl_tmpdir());
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    pidfile ? "-p" : "--", pidfile ? pf : hello,
				    pidfile ? "--" : NULL, hello, NULL };
	const char		*argv2[] = { "-w", "1", "-l", "127.0.0.1:0",
				    "-p", pf, "--", hello, NULL };
	unsigned long		 ino0[64], ino1[64], wino[8];
	int			 fdn[64], n0, n1, port, status, i;
	long long		 w0, w1;
	char			 body[64], *text;

	j = tl_start(&d, argv, 1);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	w1 = tl_json_int(j, "slots.1.pid", 0);
	port = tl_port(j, 0);
	tl_json_free(j);
	n0 = tl_fd_inodes(d.pid, ino0, fdn, 64);
	tl_client_start(&c, port, 0);

	tl_daemon_kill(&d, SIGUSR2);
	memset(&u, 0, sizeof(u));
	u.done = u.requests = u.gen = 1;
	u.nslots = 2;
	j = tl_status_wait(&d, pred_upgraded, &u, WAIT_MS);
	ok(j != NULL, "%s: USR2: the upgrade is done and every slot ready",
	    what);
	ok(!u.lapse, "%s: no status.json written meanwhile said fewer than "
	    "2 workers, or not ready", what);
	is_int(0, tl_wait_log(&d, "upgrade: adopted 2 slots, generation 1",
	    1000), "%s: the new image adopted both slots", what);
	ok(kill(d.pid, 0) == 0 && !d.exited, "%s: the master kept its pid",
	    what);
	is_int(d.pid, tl_json_int(j, "pid", 0), "%s: status.json: same pid",
	    what);
	ok(tl_json_int(j, "slots.0.pid", 0) == w0 &&
	    tl_json_int(j, "slots.1.pid", 0) == w1, "%s: both slots kept "
	    "their workers", what);
	is_int(port, tl_port(j, 0), "%s: the port is the same", what);
	ok(tl_json_num(j, "upgrade.finished", 0) >=
	    tl_json_num(j, "upgrade.started", 1) &&
	    tl_json_is_null(j, "upgrade.error"), "%s: status.json records "
	    "the upgrade: when, and no error", what);
	tl_json_free(j);
	n1 = tl_fd_inodes(d.pid, ino1, fdn, 64);
	ok(n0 > 0 && same_set(ino0, n0, ino1, n1), "%s: the master holds the "
	    "same sockets (%d before, %d after)", what, n0, n1);
	i = tl_fd_inodes((pid_t)w0, wino, fdn, 8);
	ok(i > 0 && same_set(wino, 1, ino1, n1), "%s: worker 0's listening "
	    "socket is still one the master holds", what);
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "%s: it serves", what);
	if (pidfile) {
		text = tl_slurp(pf);
		ok(text != NULL && atol(text) == (long)d.pid, "%s: the pid "
		    "file still names the master", what);
		free(text);
		tl_start(&d2, argv2, 0);
		is_int(75, tl_daemon_wait(&d2, WAIT_MS), "%s: a second master "
		    "on the pid file still exits 75", what);
		is_int(0, tl_wait_log(&d2, tl_fmt("held by another master "
		    "(pid %ld)", (long)d.pid), 1000), "%s: naming the first",
		    what);
	}

	/* The adopted workers are still supervised. */
	tl_daemon_kill(&d, SIGHUP);
	j = wait_upgraded(&d, 1, 1, 2, 2);
	ok(j != NULL && strcmp(tl_json_str(j, "reload.result") != NULL ?
	    tl_json_str(j, "reload.result") : "", "ok") == 0, "%s: a reload "
	    "after the upgrade reaches generation 2, ok", what);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	/* SIGKILL resets what the worker serves: the client stops first. */
	client_done(&c, what);
	if (w0 <= 0 || kill((pid_t)w0, SIGKILL) == -1)
		bail("no worker in slot 0 to kill");
	sp.slot = 0;
	sp.oldpid = w0;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "%s: a killed worker is reaped and replaced", what);
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "%s: drover stops with "
	    "status 0", what);
	if (pidfile)
		ok(access(pf, F_OK) == -1 && errno == ENOENT, "%s: and removes "
		    "its pid file", what);
}

/*
 * The configuration file no longer parses: the check refuses the
 * upgrade, the running image keeps serving; once the file is good again,
 * the upgrade goes through.
 */
static void
test_broken_file(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	const char		*s;
	long long		 w0;

	j = tl_start_conf(&d, tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "command = %s\n", hello), NULL, 1);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_client_start(&c, tl_port(j, 0), 0);
	tl_json_free(j);
	tl_conf_rewrite(&d, "workers = 2\nlisten = 127.0.0.1:0\n"
	    "no_such_key = 1\ncommand = %s\n", hello);

	tl_daemon_kill(&d, SIGUSR2);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("upgrade.result", "refused"));
	ok(j != NULL, "broken file: the upgrade is refused");
	s = tl_json_str(j, "upgrade.error");
	ok(s != NULL && strstr(s, "exited 78") != NULL &&
	    strstr(s, tl_fmt("%s:3: unknown key", d.conf)) != NULL,
	    "broken file: status.json says why (%s)", s != NULL ? s : "null");
	is_int(0, tl_wait_log(&d, "upgrade refused:", 1000), "broken file: "
	    "so does the log");
	ok(tl_json_int(j, "upgrade.upgrades", -1) == 0 &&
	    tl_json_int(j, "slots.0.pid", 0) == w0 && tl_json_bool(j,
	    "ready") == 1, "broken file: no upgrade, same workers, ready");
	tl_json_free(j);
	ok(kill(d.pid, 0) == 0 && !d.exited, "broken file: the master runs");

	tl_conf_rewrite(&d, "workers = 2\nlisten = 127.0.0.1:0\ncommand = %s\n",
	    hello);
	tl_daemon_kill(&d, SIGUSR2);
	j = wait_upgraded(&d, 1, 2, 1, 2);
	ok(j != NULL, "fixed file: the next USR2 upgrades");
	tl_json_free(j);

	/*
	 * A good file that changes reuseport: the upgrade keeps what the
	 * workers run (one socket per slot); the next reload would apply it.
	 */
	tl_conf_rewrite(&d, "workers = 2\nlisten = 127.0.0.1:0\n"
	    "reuseport = no\ncommand = %s\n", hello);
	tl_daemon_kill(&d, SIGUSR2);
	j = wait_upgraded(&d, 2, 3, 1, 2);
	ok(j != NULL && tl_json_bool(j, "listeners.0.reuseport") == 1 &&
	    tl_json_int(j, "listeners.0.sockets", 0) == 2 &&
	    tl_json_is_null(j, "upgrade.error"), "reuseport changed in the "
	    "file: upgraded, the sockets are those in use");
	tl_json_free(j);
	client_done(&c, "broken file");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "broken file: drover stops "
	    "with status 0");
}

/* health = unix:PATH: the endpoint's socket survives the upgrade. */
static void
test_health_unix(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	struct stat		 st0, st1;
	const char		*sock = tl_fmt("%s/health.sock", tl_tmpdir());
	char			 buf[512];
	ssize_t			 n;
	int			 fd, k;

	j = tl_start_conf(&d, tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "health = unix:%s\ncommand = %s\n", sock, hello), NULL, 1);
	tl_client_start(&c, tl_port(j, 0), 1);
	tl_json_free(j);
	if (stat(sock, &st0) == -1)
		sysbail("stat %s", sock);
	for (k = 1; k <= 2; k++) {
		tl_daemon_kill(&d, SIGUSR2);
		j = wait_upgraded(&d, k, k, 1, 2);
		ok(j != NULL, "health = unix: upgrade %d done", k);
		tl_json_free(j);
	}
	ok(stat(sock, &st1) == 0 && st0.st_ino == st1.st_ino,
	    "health = unix: the same socket file");
	buf[0] = '\0';
	if ((fd = tl_connect_unix(sock)) != -1) {
		n = write(fd, "GET /healthz/readiness HTTP/1.0\r\n\r\n", 35);
		if (n == 35)
			n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	ok(strncmp(buf, "HTTP/1.0 200", 12) == 0, "health = unix: the "
	    "endpoint answers 200 after the upgrades");
	client_done(&c, "health = unix");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "health = unix: drover stops "
	    "with status 0");
	ok(access(sock, F_OK) == -1, "health = unix: its socket file is "
	    "removed at the end");
}

/*
 * A new binary that cannot start (a library it cannot load), and none at
 * all: refused, the old image serves on.
 */
static void
test_bad_binary(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", hello, NULL };
	const char		*saved = tl_fmt("%s.good", drover_copy);
	const char		*s;
	int			 status;
	char			 body[64];

	j = tl_start(&d, argv, 1);
	tl_client_start(&c, tl_port(j, 0), 0);
	tl_json_free(j);
	if (rename(drover_copy, saved) == -1)
		sysbail("rename");
	if (tl_write_file(drover_copy, "#!/bin/sh\necho \"drover: error while "
	    "loading shared libraries: libev.so.4: cannot open shared object "
	    "file\" >&2\nexit 127\n") == -1 || chmod(drover_copy, 0755) == -1)
		sysbail("write %s", drover_copy);
	tl_daemon_kill(&d, SIGUSR2);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("upgrade.result", "refused"));
	s = tl_json_str(j, "upgrade.error");
	ok(s != NULL && strstr(s, "exited 127") != NULL &&
	    strstr(s, "libev.so.4") != NULL, "a binary that cannot start: "
	    "refused, and status.json says why (%s)", s != NULL ? s : "null");
	tl_json_free(j);

	if (unlink(drover_copy) == -1)
		sysbail("unlink");
	tl_daemon_kill(&d, SIGUSR2);
	is_int(0, tl_wait_log(&d, "cannot re-execute", WAIT_MS),
	    "no binary at all: the log says why");
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("upgrade.requests", 2),
	    TL_STR("upgrade.result", "refused"),
	    TL_HAS("upgrade.error", "cannot re-execute"));
	ok(j != NULL, "no binary at all: refused, and status.json says why");
	tl_json_free(j);
	ok(kill(d.pid, 0) == 0 && !d.exited, "the master still runs");
	j = tl_status(&d);
	ok(tl_http_get(tl_port(j, 0), "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "and it still serves");
	tl_json_free(j);
	if (rename(saved, drover_copy) == -1)
		sysbail("rename");
	tl_daemon_kill(&d, SIGUSR2);
	j = wait_upgraded(&d, 1, 3, 1, 2);
	ok(j != NULL, "the binary back: the upgrade goes through");
	tl_json_free(j);
	client_done(&c, "bad binary");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "bad binary: drover stops "
	    "with status 0");
}

/*
 * Twenty upgrades in a row, each right after a worker kill, a reload, a
 * TTIN or a TTOU: each is done (waiting for what is under way), and the
 * cluster settles with every slot ready.
 */
static void
test_twenty(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c[2];
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--ready", "notify", "--", hello, NULL };
	long long		 gen = 1, pid;
	int			 i, nslots = 2, good = 0, port;

	j = tl_start(&d, argv, 1);
	port = tl_port(j, 0);
	tl_json_free(j);
	tl_client_start(&c[0], port, 0);
	tl_client_start(&c[1], port, 1);
	for (i = 0; i < 20; i++) {
		switch (i % 4) {
		case 0:
			/*
			 * A worker that goes away by itself (SIGKILL would
			 * reset the request it is serving, which is no
			 * fault of an upgrade).
			 */
			j = tl_status(&d);
			pid = tl_json_int(j, "slots.0.pid", 0);
			tl_json_free(j);
			if (pid > 0)
				(void)kill((pid_t)pid, SIGTERM);
			break;
		case 1:
			tl_daemon_kill(&d, SIGHUP);
			gen++;
			break;
		case 2:
			tl_daemon_kill(&d, SIGTTIN);
			nslots++;
			break;
		case 3:
			tl_daemon_kill(&d, SIGTTOU);
			nslots--;
			break;
		}
		tl_daemon_kill(&d, SIGUSR2);
		j = wait_upgraded(&d, i + 1, i + 1, gen, nslots);
		if (j == NULL)
			diag("upgrade %d did not settle", i + 1);
		else
			good++;
		tl_json_free(j);
	}
	is_int(20, good, "20 upgrades among kills, reloads and scaling: each "
	    "done, the cluster settled after each");
	ok(kill(d.pid, 0) == 0 && !d.exited, "twenty: the master kept its "
	    "pid");
	client_done(&c[0], "twenty, new connections");
	client_done(&c[1], "twenty, keep-alive");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "twenty: drover stops with "
	    "status 0");
}

/*
 * A signal sig sent ms milliseconds after a USR2: handled, nothing lost,
 * nothing fatal; then HUP, the kill of a worker and TERM still work.
 */
static void
test_race(int sig, int ms)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	struct tl_slot_pid	 sp;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", hello, NULL };
	const char		*what = tl_fmt("SIG%s %d ms after USR2",
				    sigabbrev_np(sig), ms);
	long long		 w0, w1, gen;
	double			 sent;
	int			 port;

	j = tl_start(&d, argv, 1);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	w1 = tl_json_int(j, "slots.1.pid", 0);
	port = tl_port(j, 0);
	tl_json_free(j);
	if (sig != SIGTERM)
		tl_client_start(&c, port, 0);
	tl_daemon_kill(&d, SIGUSR2);
	tl_pause_ms(ms);
	sent = tl_wall();
	tl_daemon_kill(&d, sig);

	if (sig == SIGTERM) {
		is_int(0, tl_daemon_wait(&d, WAIT_MS), "%s: drover stops with "
		    "status 0", what);
		ok(tl_wait_pid_gone((pid_t)w0, WAIT_MS) == 0 &&
		    tl_wait_pid_gone((pid_t)w1, WAIT_MS) == 0, "%s: and its "
		    "workers are gone", what);
		return;
	}
	if (sig == SIGHUP) {
		gen = 2;
		j = wait_upgraded(&d, 1, 1, gen, 2);
		ok(j != NULL && tl_json_int(j, "reload.requests", 0) == 1 &&
		    strcmp(tl_json_str(j, "reload.result") != NULL ?
		    tl_json_str(j, "reload.result") : "", "ok") == 0, "%s: "
		    "both handled: upgraded, and reloaded to generation 2",
		    what);
	} else {
		/*
		 * Two USR2 pending at once are one signal to the kernel;
		 * either way, an upgrade must have begun (its check) after
		 * the second was sent, and gone through.
		 */
		gen = 1;
		j = tl_status_wait(&d, pred_checked_after, &sent, WAIT_MS);
		ok(j != NULL, "%s: an upgrade checked after the second one "
		    "went through (%lld requests seen, %lld done)", what,
		    tl_json_int(j, "upgrade.requests", 0),
		    tl_json_int(j, "upgrade.upgrades", 0));
	}
	tl_json_free(j);
	ok(kill(d.pid, 0) == 0 && !d.exited, "%s: the master kept its pid",
	    what);

	/* Everything still works. */
	tl_daemon_kill(&d, SIGHUP);
	j = wait_upgraded(&d, 1, 1, gen + 1, 2);
	ok(j != NULL, "%s: then a HUP reaches generation %lld", what,
	    gen + 1);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	/* SIGKILL resets what the worker serves: the client stops first. */
	client_done(&c, what);
	if (w0 > 0)
		(void)kill((pid_t)w0, SIGKILL);
	sp.slot = 0;
	sp.oldpid = w0;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "%s: a killed worker is replaced", what);
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "%s: TERM stops drover with "
	    "status 0", what);
}

/*
 * As the previous image of an upgrade would, in the process that then
 * executes the new one: hand over (argv: --handoff PID DROVER -s STATE
 * ...) a state directory and a slot whose worker is PID, a process that
 * is not a child of the master, then execute DROVER with the rest of
 * argv.  Run as the daemon wrapper (TL_DAEMON_WRAPPER).
 */
static void
handoff_forge(char **argv)
{
	const char	*state = argv[5];
	char		 num[16], lock[4096];
	int		 dirfd, lockfd, mfd;

	if (argv[3] == NULL || argv[4] == NULL || strcmp(argv[4], "-s") != 0 ||
	    state == NULL)
		errx(126, "usage: --handoff PID DROVER -s STATE ...");
	(void)snprintf(lock, sizeof(lock), "%s/lock", state);
	if (mkdir(state, 0755) == -1 ||
	    (dirfd = open(state, O_RDONLY | O_DIRECTORY)) == -1 ||
	    (lockfd = open(lock, O_RDWR | O_CREAT, 0644)) == -1 ||
	    (mfd = memfd_create("drover-upgrade", 0)) == -1)
		err(126, "%s", state);
	dprintf(mfd, "drover-upgrade 2\ngen 1 1 0\nfds -1 %d %d -1\n"
	    "upgrade 1 0 0.0 0\nreload 0 - 0.0 0.0 0 -\nconf workers 1\n"
	    "conf state_dir %s\nconf command /bin/sleep%%201000\n"
	    "slot 0 ready 0 0 %s 1 0.0 1 -1 -1 -1 -\nend\n", dirfd, lockfd,
	    state, argv[2]);
	(void)snprintf(num, sizeof(num), "%d", mfd);
	if (lseek(mfd, 0, SEEK_SET) == -1 ||
	    setenv("DROVER_UPGRADE", num, 1) == -1)
		err(126, "memfd");
	execv(argv[3], argv + 3);
	err(126, "%s", argv[3]);
}

/*
 * The state handed over names, as slot 0's worker, a process the test
 * started (a sibling of the master, not its child): the new image says
 * so, starts a worker of its own, and leaves that process alone, also
 * when it stops.
 */
static void
test_stranger(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "--", "/bin/sleep", "1000", NULL };
	char			 self[4096];
	ssize_t			 n;
	pid_t			 stranger, kids[4];
	long long		 pid;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		sysbail("readlink /proc/self/exe");
	self[n] = '\0';
	fflush(NULL);
	if ((stranger = fork()) == -1)
		sysbail("fork");
	if (stranger == 0) {
		execl("/bin/sleep", "sleep", "1000", (char *)NULL);
		_exit(127);
	}
	if (setenv("TL_DAEMON_WRAPPER", tl_fmt("%s --handoff %ld", self,
	    (long)stranger), 1) == -1)
		sysbail("setenv");
	tl_start(&d, argv, 0);
	(void)unsetenv("TL_DAEMON_WRAPPER");
	is_int(0, tl_wait_log(&d, tl_fmt("upgrade: slot 0: pid %ld is not a "
	    "child of this master: not adopted", (long)stranger), WAIT_MS),
	    "stranger: the new image refuses pid %ld, not its child",
	    (long)stranger);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.state", "ready"),
	    TL_NE("slots.0.pid", stranger), TL_NE("slots.0.pid", 0));
	ok(j != NULL, "stranger: slot 0 gets a worker of its own");
	pid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	ok(tl_children(d.pid, kids, 4) == 1 && kids[0] == pid,
	    "stranger: which is the master's only child");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "stranger: drover stops with 0");
	ok(kill(stranger, 0) == 0 && waitpid(stranger, NULL, WNOHANG) == 0,
	    "stranger: pid %ld was never signalled: it runs on",
	    (long)stranger);
	(void)kill(stranger, SIGKILL);
	(void)waitpid(stranger, NULL, 0);
}

/*
 * A worker that stops sending WATCHDOG=1 after an upgrade, or after an
 * upgrade and a reload that rolled back to it, is aborted and replaced:
 * the new image watches the workers it adopted.  Each worker pings until
 * the file silent.PID (its pid) appears.
 */
static void
test_watchdog(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	const char		*dir = tl_tmpdir();
	const char		*script = tl_fmt("%s/pinger.sh", dir);
	long long		 pid;

	if (tl_write_file(script, "while [ ! -e '%s/silent.'$$ ]; do\n"
	    "\techo WATCHDOG=1 >&$DROVER_NOTIFY_FD\n\tsleep 0.1\ndone\n"
	    "exec sleep 600\n", dir) == -1)
		sysbail("%s", script);
#define WD_CONF	"workers = 1\nlisten = 127.0.0.1:0\nwatchdog = 1s\n" \
		"stop_timeout = 1s\nreload_retries = 0\ncommand = %s\n"
	tl_json_free(tl_start_conf(&d, tl_fmt(WD_CONF, tl_fmt("/bin/sh %s",
	    script)), NULL, 1));

	tl_daemon_kill(&d, SIGUSR2);
	j = wait_upgraded(&d, 1, 1, 1, 1);
	ok(j != NULL, "watchdog: upgraded");
	pid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	if (tl_write_file(tl_fmt("%s/silent.%lld", dir, pid), "\n") == -1)
		sysbail("silent");
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("slots.0.last_exit.pid", pid),
	    TL_STR("slots.0.last_exit.reason", "watchdog"),
	    TL_EQ("slots.0.last_exit.signal", SIGABRT));
	ok(j != NULL, "watchdog: a worker adopted by an upgrade that falls "
	    "silent is aborted (SIGABRT)");
	tl_json_free(j);
	sp.slot = 0;
	sp.oldpid = pid;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "watchdog: and replaced");
	tl_json_free(j);

	/* Upgrade, then a reload that fails gives the slot back to it. */
	tl_daemon_kill(&d, SIGUSR2);
	j = wait_upgraded(&d, 2, 2, 1, 1);
	pid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	tl_conf_rewrite(&d, WD_CONF, "/bin/false");
	tl_daemon_kill(&d, SIGHUP);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("reload.result", "rolled-back"),
	    TL_STR("slots.0.state", "ready"), TL_EQ("slots.0.pid", pid));
	ok(j != NULL, "watchdog: a reload after the upgrade rolls back to "
	    "the adopted worker");
	tl_json_free(j);
	if (tl_write_file(tl_fmt("%s/silent.%lld", dir, pid), "\n") == -1)
		sysbail("silent");
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("slots.0.last_exit.pid", pid),
	    TL_STR("slots.0.last_exit.reason", "watchdog"),
	    TL_EQ("slots.0.last_exit.signal", SIGABRT));
	ok(j != NULL, "watchdog: once silent, it is aborted (SIGABRT)");
	tl_json_free(j);
	sp.oldpid = pid;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "watchdog: and replaced");
	tl_json_free(j);
#undef WD_CONF
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "watchdog: drover stops with "
	    "status 0");
}

int
main(int argc, char *argv[])
{
	static const int	 sigs[] = { SIGHUP, SIGTERM, SIGUSR2 };
	static const int	 gaps[] = { 0, 1, 3 };
	struct rlimit		 rl = { 0, 0 };
	char			*copy;
	size_t			 i, k;

	if (argc > 1 && strcmp(argv[1], "--handoff") == 0)
		handoff_forge(argv);
	plan_lazy();
	/* The watchdog test's workers die of SIGABRT: no core files. */
	(void)setrlimit(RLIMIT_CORE, &rl);
	/* Run a copy of drover, so that the test can replace it. */
	copy = strdup(tl_fmt("%s/drover-copy", tl_tmpdir()));
	if (tl_run((const char *const[]){ "cp", tl_path("supervisor/drover"),
	    copy, NULL }, 10000, NULL) != 0)
		bail("cannot copy drover");
	drover_copy = copy;
	setenv("TL_DROVER", copy, 1);
	hello = tl_path("examples/hello-c/hello-c");

	test_basic(0);
	test_basic(1);
	test_broken_file();
	test_health_unix();
	test_bad_binary();
	test_twenty();
	test_watchdog();
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		for (k = 0; k < sizeof(gaps) / sizeof(gaps[0]); k++)
			test_race(sigs[i], gaps[k]);
	test_stranger();
	free(copy);
	return 0;
}
