/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Reloads, rollbacks and scaling, against the real daemon.  SIGHUP
 * replaces every worker by one of a new generation on the very same
 * sockets, and an old worker is asked to stop only once its replacement
 * is ready, so the cluster stays ready and no client notices: twenty
 * reloads in a row under two clients (one connection per request, and
 * keep-alive) cost not one request.  A bad configuration changes
 * nothing; a new generation that crashes, never gets ready or exits 78
 * is rolled back and the old workers serve on.  A storm of HUPs settles
 * on one generation with exactly one worker per slot; TTIN and TTOU, and
 * `workers` in a reload, add and retire slots without a failed request;
 * `reload = all` starts every replacement at once.  With reload_grace = 0
 * a new worker is confirmed once ready, in both ready modes: one that
 * ends later in the reload is its slot's business, not a failed start.
 * reload_batch, by default a quarter of the workers, holds also with a
 * slot that has no worker (halted): no more slots than that have an old
 * worker at any time.  Workers that
 * must wait wait on a FIFO the test writes to: nothing here sleeps.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
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
#define WAIT_MS		15000
/* How long the test watches for something that must not happen. */
#define QUIET_MS	300
/* Reloads under continuous clients, and the requests each must make. */
#define NRELOADS	20
#define MIN_REQUESTS	200
/* TTIN and TTOU rounds under a client. */
#define NSCALE		10
/* HUPs sent in one burst. */
#define NSTORM		100

/* What a reload should have come to (pred_settled). */
struct settle {
	long long	 gen;		/* status generation; 0: any */
	const char	*result;	/* reload.result; NULL: any */
	int		 nslots;	/* workers and slots */
	int		*notready;	/* if not NULL: versions not ready */
	long long	 hups;		/* more reload.requests than this */
};

/* Settled as pred_settled, and the most slots seen with an old worker. */
struct olds {
	struct settle	 st;
	int		 most;
};

/* The paced storm: requests to wait for, versions seen pending. */
struct paced {
	long long	 want;
	int		 pending;
};

/* A reload outcome: reload.generation and reload.result. */
struct outcome {
	long long	 gen;
	const char	*result;
};

static const char	*spath(char *, size_t, int, const char *);
static long long	 slot_int(const struct tl_json *, int, const char *);
static const char	*slot_str(const struct tl_json *, int, const char *);
static void		 stop(struct tl_daemon *, const char *);
static void		 hup(struct tl_daemon *);
static int		 pred_settled(const struct tl_json *, void *);
static struct tl_json	*wait_settled(struct tl_daemon *, long long,
			    const char *, int, int *);
static int		 pred_outcome(const struct tl_json *, void *);
static int		 pred_gated(const struct tl_json *, void *);
static int		 pred_slot0_moved(const struct tl_json *, void *);
static int		 pred_nslots(const struct tl_json *, void *);
static int		 nolds(const struct tl_json *);
static int		 pred_olds(const struct tl_json *, void *);
static unsigned long	 fd3_inode(pid_t);
static char		 proc_state(pid_t);
static int		 alive(struct tl_daemon *);
static void		 check_children(const struct tl_daemon *,
			    const struct tl_json *, int, const char *);
static int		 pred_requests(const struct tl_json *, void *);
static void		 test_good(void);
static void		 test_gated(void);
static void		 test_clients(void);
static void		 test_bad_and_rollback(void);
static void		 test_crash_exec(void);
static void		 test_rollback_empty_slot(void);
static void		 test_storm(void);
static void		 test_scaling(void);
static void		 test_reload_all(void);
static void		 test_grace0(const char *);
static int		 pred_batch(const struct tl_json *, void *);
static void		 test_batch(int, const char *, int);

/* The worker almost every test runs, and the test's own directory. */
static const char	*hello;
static const char	*tdir;

/*
 * "slots.K.KEY" in buf.  Predicates run on every version of status.json,
 * so they build paths on the stack rather than with tl_fmt(), whose
 * strings live until exit.
 */
static const char *
spath(char *buf, size_t size, int k, const char *key)
{
	(void)snprintf(buf, size, "slots.%d.%s", k, key);
	return buf;
}

/* An integer of slot k, or -1. */
static long long
slot_int(const struct tl_json *j, int k, const char *key)
{
	char	 buf[64];

	return tl_json_int(j, spath(buf, sizeof(buf), k, key), -1);
}

/* A string of slot k, or "" (never NULL, so it may go to strcmp). */
static const char *
slot_str(const struct tl_json *j, int k, const char *key)
{
	char		 buf[64];
	const char	*s;

	s = tl_json_str(j, spath(buf, sizeof(buf), k, key));
	return s != NULL ? s : "";
}

/* A clean stop at the end of a part of the test. */
static void
stop(struct tl_daemon *d, const char *what)
{
	is_int(0, tl_daemon_stop(d, WAIT_MS), "%s: drover stops with status "
	    "0", what);
}

static void
hup(struct tl_daemon *d)
{
	if (tl_daemon_kill(d, SIGHUP) == -1)
		sysbail("SIGHUP to drover");
}

/*
 * The cluster is at rest: "running", the last reload's result as asked,
 * nothing pending, the generation as asked, and every one of nslots
 * slots ready with a worker of that generation and no old worker.
 */
static int
pred_settled(const struct tl_json *j, void *arg)
{
	const struct settle	*w = arg;
	const char		*s;
	long long		 gen = tl_json_int(j, "generation", -1);
	int			 k;

	if (w->notready != NULL && tl_json_bool(j, "ready") != 1)
		(*w->notready)++;
	if (tl_json_int(j, "reload.requests", 0) <= w->hups ||
	    (s = tl_json_str(j, "state")) == NULL ||
	    strcmp(s, "running") != 0 || tl_json_bool(j, "ready") != 1 ||
	    tl_json_bool(j, "reload.pending") == 1)
		return 0;
	if (w->result != NULL && ((s = tl_json_str(j, "reload.result")) ==
	    NULL || strcmp(s, w->result) != 0))
		return 0;
	if ((w->gen > 0 && gen != w->gen) ||
	    tl_json_int(j, "workers", -1) != w->nslots ||
	    (int)tl_json_len(j, "slots") != w->nslots)
		return 0;
	for (k = 0; k < w->nslots; k++) {
		if (strcmp(slot_str(j, k, "state"), "ready") != 0 ||
		    slot_int(j, k, "pid") <= 0 ||
		    slot_int(j, k, "generation") != gen ||
		    slot_int(j, k, "old.pid") != -1)
			return 0;
	}
	return 1;
}

static struct tl_json *
wait_settled(struct tl_daemon *d, long long gen, const char *result,
    int nslots, int *notready)
{
	struct settle	 w;

	w.gen = gen;
	w.result = result;
	w.nslots = nslots;
	w.notready = notready;
	w.hups = -1;
	return tl_status_wait(d, pred_settled, &w, WAIT_MS);
}

/* The reload of generation gen came to result, and drover runs. */
static int
pred_outcome(const struct tl_json *j, void *arg)
{
	const struct outcome	*o = arg;
	const char		*s;

	return tl_json_int(j, "reload.generation", -1) == o->gen &&
	    (s = tl_json_str(j, "reload.result")) != NULL &&
	    strcmp(s, o->result) == 0 && (s = tl_json_str(j, "state")) !=
	    NULL && strcmp(s, "running") == 0;
}

/*
 * A reload is under way and the first *arg slots each have a new worker
 * starting while the old one still serves.
 */
static int
pred_gated(const struct tl_json *j, void *arg)
{
	const char	*s;
	int		 k, n = *(int *)arg;

	if ((s = tl_json_str(j, "state")) == NULL ||
	    strcmp(s, "reloading") != 0)
		return 0;
	for (k = 0; k < n; k++)
		if (strcmp(slot_str(j, k, "state"), "starting") != 0 ||
		    slot_int(j, k, "pid") <= 0 ||
		    strcmp(slot_str(j, k, "old.state"), "serving") != 0)
			return 0;
	return 1;
}

/* Slot 0 is no longer as pred_gated() found it. */
static int
pred_slot0_moved(const struct tl_json *j, void *arg)
{
	(void)arg;
	return strcmp(slot_str(j, 0, "state"), "starting") != 0 ||
	    strcmp(slot_str(j, 0, "old.state"), "serving") != 0;
}

/*
 * *arg slots: "workers", the slot table and the sockets of listener 0
 * all say so, and every slot is ready.
 */
static int
pred_nslots(const struct tl_json *j, void *arg)
{
	int	 k, n = *(int *)arg;

	if (tl_json_int(j, "workers", -1) != n ||
	    (int)tl_json_len(j, "slots") != n ||
	    tl_json_int(j, "listeners.0.sockets", -1) != n ||
	    tl_json_bool(j, "ready") != 1)
		return 0;
	for (k = 0; k < n; k++)
		if (strcmp(slot_str(j, k, "state"), "ready") != 0)
			return 0;
	return 1;
}

/* How many slots have an old worker, serving or stopping. */
static int
nolds(const struct tl_json *j)
{
	int	 k, n = 0;

	for (k = 0; k < (int)tl_json_len(j, "slots"); k++)
		n += slot_int(j, k, "old.pid") > 0;
	return n;
}

/* pred_settled, noting the most slots with an old worker seen. */
static int
pred_olds(const struct tl_json *j, void *arg)
{
	struct olds	*o = arg;

	if (nolds(j) > o->most)
		o->most = nolds(j);
	return pred_settled(j, &o->st);
}

/* The inode of the socket at fd 3 of pid, or 0. */
static unsigned long
fd3_inode(pid_t pid)
{
	unsigned long	 ino[64];
	int		 fdn[64], n, i;

	if ((n = tl_fd_inodes(pid, ino, fdn, 64)) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (fdn[i] == 3)
			return ino[i];
	return 0;
}

/* The state letter of pid in /proc/PID/stat ('R', 'S', 'Z'...), or 0. */
static char
proc_state(pid_t pid)
{
	char	*text, *p, st = 0;

	if ((text = tl_slurp(tl_fmt("/proc/%d/stat", (int)pid))) == NULL)
		return 0;
	if ((p = strrchr(text, ')')) != NULL && p[1] == ' ')
		st = p[2];
	free(text);
	return st;
}

/* Whether the daemon runs: it exists and is no zombie waiting for us. */
static int
alive(struct tl_daemon *d)
{
	char	 st;

	return tl_daemon_kill(d, 0) == 0 && (st = proc_state(d->pid)) != 0 &&
	    st != 'Z' && st != 'X';
}

/*
 * 1.  A good reload: generation 2 everywhere, new pids on the same port
 * and the very same slot sockets, the old workers gone.
 */
static void
test_good(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	long long		 oldp[2], newp[2];
	unsigned long		 oldino[2], newino[2];
	int			 k, i, port, status, gen2 = 0;
	char			 body[64];

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "stop_timeout = 5s\ncommand = %s\n", hello),
	    (const char *const []){ "-d", NULL }, 1);
	port = tl_port(j, 0);
	is_int(1, tl_json_int(j, "generation", -1), "good: generation 1 at "
	    "start");
	ok(tl_json_is_null(j, "reload.result"), "good: no reload result yet");
	for (k = 0; k < 2; k++) {
		oldp[k] = slot_int(j, k, "pid");
		oldino[k] = fd3_inode((pid_t)oldp[k]);
	}
	tl_json_free(j);
	ok(oldino[0] != 0 && oldino[1] != 0 && oldino[0] != oldino[1],
	    "good: each old worker has its own slot socket at fd 3");

	hup(&d);
	j = wait_settled(&d, 2, "ok", 2, NULL);
	ok(j != NULL, "good: after HUP generation 2 is running, reload ok");
	is_int(2, tl_json_int(j, "reload.generation", -1),
	    "good: reload.generation is 2");
	is_int(1, tl_json_int(j, "reload.requests", -1),
	    "good: reload.requests counts the one HUP");
	ok(tl_json_is_null(j, "reload.error"), "good: reload.error is null");
	ok(tl_json_num(j, "reload.started", 0) > 0 &&
	    tl_json_num(j, "reload.finished", 0) >=
	    tl_json_num(j, "reload.started", 0),
	    "good: reload.started and reload.finished are set, in order");
	is_int(port, tl_port(j, 0), "good: the listener keeps its port %d",
	    port);
	for (k = 0; k < 2; k++) {
		newp[k] = slot_int(j, k, "pid");
		ok(newp[k] > 0 && newp[k] != oldp[0] && newp[k] != oldp[1],
		    "good: slot %d has a new worker (%lld, was %lld)", k,
		    newp[k], oldp[k]);
		is_int(2, slot_int(j, k, "generation"), "good: slot %d's "
		    "worker is of generation 2", k);
		newino[k] = fd3_inode((pid_t)newp[k]);
		ok(newino[k] != 0 && newino[k] == oldino[k], "good: slot %d's "
		    "new worker has the old one's socket at fd 3 (inode %lu)",
		    k, newino[k]);
	}
	tl_json_free(j);
	for (k = 0; k < 2; k++)
		is_int(0, tl_wait_pid_gone((pid_t)oldp[k], WAIT_MS),
		    "good: old worker %lld is gone", oldp[k]);
	for (i = 0; i < 8; i++)
		if (tl_http_get(port, "/gen", &status, body, sizeof(body)) ==
		    0 && status == 200 && strcmp(body, "2\n") == 0)
			gen2++;
	is_int(8, gen2, "good: every answer comes from generation 2");
	/* -d asks for every slot transition in the log, also after a reload. */
	is_int(0, tl_wait_log(&d, tl_fmt("slot 0: starting -> ready: worker "
	    "%lld (gen 2)", newp[0]), 1000), "good: -d still logs slot "
	    "transitions after the reload");
	stop(&d, "good");
}

/*
 * 2.  Old workers stop only once their replacements are ready; the
 * cluster stays ready throughout and the `ready` file never goes away.
 * A rolling reload replaces one slot at a time.
 */
static void
test_gated(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*gate = tl_fifo_new(tdir, "gate2");
	long long		 p0, p1;
	int			 one = 1, wfd, gone, written, notready = 0;

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\ncommand = %s\n", hello), NULL, 1);
	p0 = slot_int(j, 0, "pid");
	p1 = slot_int(j, 1, "pid");
	tl_json_free(j);
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == 0,
	    "gated: the ready file exists before the reload");

	wfd = tl_state_watch(d.state);
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\ncommand = /bin/sh -c 'read x < %s && exec %s'\n",
	    gate, hello);
	hup(&d);
	j = tl_status_wait(&d, pred_gated, &one, WAIT_MS);
	ok(j != NULL, "gated: slot 0 has a new worker starting and its old "
	    "one serving");
	is_int(p0, slot_int(j, 0, "old.pid"), "gated: slot 0's old worker is "
	    "the one from before");
	is_int(1, slot_int(j, 0, "old.generation"), "gated: of generation 1");
	is_int(2, slot_int(j, 0, "generation"), "gated: the starting one is "
	    "of generation 2");
	is_int(1, tl_json_bool(j, "ready"), "gated: the cluster is still "
	    "ready");
	is_int(2, tl_json_int(j, "workers_ready", -1),
	    "gated: both slots count as ready");
	is_string("in-progress", tl_json_str(j, "reload.result"),
	    "gated: reload.result is in-progress");
	is_int(p1, slot_int(j, 1, "pid"), "gated: rolling: slot 1 keeps its "
	    "worker while slot 0 is replaced");
	ok(slot_int(j, 1, "old.pid") == -1 && slot_int(j, 1, "generation") ==
	    1, "gated: rolling: slot 1 has no second worker yet");
	tl_json_free(j);
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == 0,
	    "gated: the ready file is there while the new worker starts");
	is_int(-1, tl_wait_pid_gone((pid_t)p0, QUIET_MS), "gated: the old "
	    "worker of slot 0 keeps running while its replacement is not "
	    "ready");
	j = tl_status_wait(&d, pred_slot0_moved, NULL, QUIET_MS);
	ok(j == NULL, "gated: slot 0 stays starting with its old worker "
	    "serving for %d ms", QUIET_MS);
	tl_json_free(j);

	tl_fifo_release(gate);
	tl_fifo_release(gate);
	j = wait_settled(&d, 2, "ok", 2, &notready);
	ok(j != NULL, "gated: once released, the reload finishes: generation "
	    "2, ok");
	is_int(0, notready, "gated: the cluster was ready in every status "
	    "seen until then");
	tl_json_free(j);
	is_int(0, tl_wait_pid_gone((pid_t)p0, WAIT_MS), "gated: slot 0's old "
	    "worker is gone");
	is_int(0, tl_wait_pid_gone((pid_t)p1, WAIT_MS), "gated: slot 1's old "
	    "worker is gone");
	ok(tl_state_events(wfd, &gone, &written) == 0, "gated: the watch on "
	    "the state directory lost no event");
	ok(written > 0, "gated: the watch saw status.json rewritten %d times "
	    "during the reload", written);
	is_int(0, gone, "gated: the ready file was never removed during the "
	    "reload");
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == 0,
	    "gated: the ready file exists after the reload");
	stop(&d, "gated");
}

/*
 * 3.  Twenty reloads, one after the other, under two clients that never
 * see a failure.
 */
static void
test_clients(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c[2];
	struct tl_tally		 t[2];
	long long		 seen[2 * (NRELOADS + 1)];
	pid_t			 kids[8];
	int			 nseen = 0, n, k, i, port, gone, done = 0;
	int			 notready = 0;

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\nstop_timeout = 5s\ncommand = %s\n", hello),
	    NULL, 1);
	port = tl_port(j, 0);
	for (k = 0; k < 2; k++)
		seen[nseen++] = slot_int(j, k, "pid");
	tl_json_free(j);

	tl_client_start(&c[0], port, 0);
	tl_client_start(&c[1], port, 1);
	for (n = 1; n <= NRELOADS; n++) {
		hup(&d);
		if ((j = wait_settled(&d, n + 1, "ok", 2, &notready)) == NULL)
			break;
		for (k = 0; k < 2; k++)
			seen[nseen++] = slot_int(j, k, "pid");
		tl_json_free(j);
		done++;
	}
	is_int(NRELOADS, done, "clients: %d reloads done, each to the next "
	    "generation", NRELOADS);
	is_int(0, notready, "clients: the cluster was ready in every status "
	    "seen meanwhile");
	for (i = 0; i < 2; i++)
		tl_check_client(&c[i], &t[i], "clients", MIN_REQUESTS, 0);
	ok(t[1].connects > done, "clients: the keep-alive client was told "
	    "to reconnect at least once per reload (%ld connections)",
	    t[1].connects);
	for (i = 0, gone = 0; i < nseen - 2; i++)
		gone += tl_wait_pid_gone((pid_t)seen[i], WAIT_MS) == 0;
	is_int(nseen - 2, gone, "clients: all %d replaced workers are gone",
	    nseen - 2);
	n = tl_children(d.pid, kids, 8);
	is_int(2, n, "clients: drover has exactly 2 children left");
	stop(&d, "clients");
}

/*
 * 4 and 5.  A bad configuration changes nothing; a new generation that
 * crashes before it is ready, never gets ready, or exits 78 is rolled
 * back, and the old workers serve on.
 */
static void
test_bad_and_rollback(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct outcome		 o;
	const char		*s;
	long long		 p0, p1;
	int			 port, status, before;
	char			 body[64];

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\ncommand = %s\n", hello), NULL, 1);
	port = tl_port(j, 0);
	p0 = slot_int(j, 0, "pid");
	p1 = slot_int(j, 1, "pid");
	tl_json_free(j);

	/* An unknown key on line 3. */
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\nwokers = 3\n"
	    "command = %s\n", hello);
	hup(&d);
	o.gen = 2;
	o.result = "invalid-config";
	j = tl_status_wait(&d, pred_outcome, &o, WAIT_MS);
	ok(j != NULL, "bad config: reload.result is invalid-config");
	s = tl_json_str(j, "reload.error");
	ok(s != NULL && strstr(s, tl_fmt("%s:3:", d.conf)) != NULL &&
	    strstr(s, "wokers") != NULL, "bad config: reload.error names "
	    "file:line and the key (%s)", s != NULL ? s : "null");
	is_int(1, tl_json_int(j, "generation", -1), "bad config: the "
	    "generation is still 1");
	ok(slot_int(j, 0, "pid") == p0 && slot_int(j, 1, "pid") == p1,
	    "bad config: the workers are the same");
	is_int(1, tl_json_bool(j, "ready"), "bad config: still ready");
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, tl_fmt("%s:3: unknown key", d.conf), 1000),
	    "bad config: the log names file:line");
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "bad config: the port still answers");

	/* A command that fails at once; exits before it says READY=1. */
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\nrestart_delay = 50ms\n"
	    "command = /bin/sh -c 'exit 1'\n");
	hup(&d);
	o.gen = 2;
	o.result = "rolled-back";
	j = tl_status_wait(&d, pred_outcome, &o, WAIT_MS);
	ok(j != NULL, "crash: the reload of generation 2 is rolled back");
	is_int(1, tl_json_int(j, "generation", -1), "crash: generation 1 "
	    "again");
	ok(slot_int(j, 0, "pid") == p0 && slot_int(j, 1, "pid") == p1,
	    "crash: the old workers serve on (%lld, %lld)",
	    slot_int(j, 0, "pid"), slot_int(j, 1, "pid"));
	ok(slot_int(j, 0, "generation") == 1 &&
	    slot_int(j, 1, "generation") == 1, "crash: the slots are on "
	    "generation 1");
	s = tl_json_str(j, "reload.error");
	ok(s != NULL && strstr(s, "exited 1") != NULL, "crash: reload.error "
	    "says why (%s)", s != NULL ? s : "null");
	tl_json_free(j);
	j = wait_settled(&d, 1, "rolled-back", 2, NULL);
	ok(j != NULL, "crash: every slot settles on generation 1");
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, "rolling back to generation 1", 1000),
	    "crash: the log says rolling back");
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "crash: the port still answers");

	/* A worker that never says READY=1. */
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\nready_timeout = 300ms\nrestart_delay = 50ms\n"
	    "command = /bin/sh -c 'exec sleep 30'\n");
	hup(&d);
	o.gen = 3;
	j = tl_status_wait(&d, pred_outcome, &o, WAIT_MS);
	ok(j != NULL, "never ready: the reload of generation 3 is rolled "
	    "back");
	is_int(1, tl_json_int(j, "generation", -1), "never ready: generation "
	    "1 again");
	ok(slot_int(j, 0, "pid") == p0 && slot_int(j, 1, "pid") == p1,
	    "never ready: the old workers serve on");
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, "not ready after 0.3s: killing it", 1000),
	    "never ready: the log shows the ready timeout");
	j = wait_settled(&d, 1, "rolled-back", 2, NULL);
	ok(j != NULL, "never ready: every slot settles on generation 1");
	tl_json_free(j);

	/* Exit 78: the configuration is broken, roll back at once. */
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\nreload_retries = 5\n"
	    "command = /bin/sh -c 'exit 78'\n");
	before = tl_log_count(&d, "(gen 4) exited 78");
	hup(&d);
	o.gen = 4;
	j = tl_status_wait(&d, pred_outcome, &o, WAIT_MS);
	ok(j != NULL, "exit 78: the reload of generation 4 is rolled back");
	s = tl_json_str(j, "reload.error");
	ok(s != NULL && strstr(s, "exited 78") != NULL, "exit 78: "
	    "reload.error says so (%s)", s != NULL ? s : "null");
	ok(slot_int(j, 0, "pid") == p0 && slot_int(j, 1, "pid") == p1,
	    "exit 78: the old workers serve on");
	tl_json_free(j);
	is_int(1, tl_log_count(&d, "(gen 4) exited 78") - before, "exit 78: "
	    "one worker of generation 4 was tried, not reload_retries + 1");

	/* And a good reload after all that: generation 5. */
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\ncommand = %s\n", hello);
	hup(&d);
	j = wait_settled(&d, 5, "ok", 2, NULL);
	ok(j != NULL, "after the rollbacks, a good reload makes generation 5");
	is_int(port, tl_port(j, 0), "the port never changed");
	tl_json_free(j);
	is_int(0, tl_wait_pid_gone((pid_t)p0, WAIT_MS) +
	    tl_wait_pid_gone((pid_t)p1, WAIT_MS), "generation 1's workers "
	    "are gone now");
	stop(&d, "rollback");
}

/*
 * 5, with `ready = exec`: a new command that execs and then exits 1 at
 * once.  The reload should roll back and leave the old workers serving:
 * in exec mode a new worker is confirmed only once it has lived
 * reload_grace, and the old one serves until then.
 */
static void
test_crash_exec(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct outcome		 o;
	long long		 p0, p1;
	int			 port, status;
	char			 body[64];

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "restart_delay = 50ms\ncommand = %s\n", hello), NULL, 1);
	port = tl_port(j, 0);
	p0 = slot_int(j, 0, "pid");
	p1 = slot_int(j, 1, "pid");
	tl_json_free(j);
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "restart_delay = 50ms\ncommand = /bin/sh -c 'exit 1'\n");
	hup(&d);
	o.gen = 2;
	o.result = "rolled-back";
	j = tl_status_wait(&d, pred_outcome, &o, WAIT_MS);
	ok(j != NULL, "exec crash: the reload of generation 2 is rolled back");
	is_int(1, tl_json_int(j, "generation", -1), "exec crash: generation 1 "
	    "again");
	ok(slot_int(j, 0, "pid") == p0 && slot_int(j, 1, "pid") == p1,
	    "exec crash: the old workers serve on (%lld, %lld; were %lld, "
	    "%lld)", slot_int(j, 0, "pid"), slot_int(j, 1, "pid"), p0, p1);
	tl_json_free(j);
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "exec crash: the port still answers");
	ok(alive(&d), "exec crash: drover is still running");
	stop(&d, "exec crash");
}

/*
 * A rollback caused by the failed start of a slot that had no old worker
 * (here slot 0, halted by exit 78 in generation 1): the slot must get
 * exactly one worker of generation 1 again, and drover must live on.
 * (The engine once ran inside the exit callback and started that worker
 * twice.)
 */
static void
test_rollback_empty_slot(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct outcome		 o;
	long long		 p1;
	pid_t			 kids[8];
	int			 before, n, rolled;

	tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\ncommand = /bin/sh -c "
	    "'[ $DROVER_WORKER_ID = 0 ] && exit 78; exec %s'\n", hello),
	    NULL, 0);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.state", "halted"));
	ok(j != NULL, "empty slot: slot 0 is halted by exit 78");
	tl_json_free(j);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.1.state", "ready"));
	p1 = slot_int(j, 1, "pid");
	tl_json_free(j);
	ok(p1 > 0, "empty slot: slot 1 serves");
	before = tl_log_count(&d, "(gen 1) exited 78");
	/* Slot 0 fails at once; slot 1's new worker waits, never ready. */
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\nreload_retries = 0\ncommand = /bin/sh -c "
	    "'[ $DROVER_WORKER_ID = 0 ] && exit 1; exec sleep 30'\n");
	hup(&d);
	o.gen = 2;
	o.result = "rolled-back";
	j = tl_status_wait(&d, pred_outcome, &o, WAIT_MS);
	ok((rolled = j != NULL), "empty slot: the reload is rolled back");
	if (j == NULL)
		j = tl_status(&d);
	is_int(p1, slot_int(j, 1, "pid"), "empty slot: slot 1's old worker "
	    "serves on");
	tl_json_free(j);
	/* Only worth waiting for once the rollback is over. */
	j = TL_WAIT(&d, rolled ? WAIT_MS : 0, TL_STR("slots.0.state",
	    "halted"));
	ok(j != NULL, "empty slot: slot 0 is halted again, on generation 1");
	tl_json_free(j);
	/* Anything more would show within a moment. */
	j = TL_WAIT(&d, QUIET_MS, TL_STR("slots.0.state", "starting"));
	tl_json_free(j);
	is_int(1, tl_log_count(&d, "(gen 1) exited 78") - before, "empty slot: "
	    "slot 0 got exactly one worker of generation 1 back");
	ok(alive(&d), "empty slot: drover is still running");
	n = tl_children(d.pid, kids, 8);
	ok(n == 1 && kids[0] == (pid_t)p1, "empty slot: its one child is "
	    "slot 1's worker (%d children)", n);
	stop(&d, "empty slot");
}

/*
 * The children of drover are exactly its n slots' workers, none a
 * zombie.
 */
static void
check_children(const struct tl_daemon *d, const struct tl_json *j, int n,
    const char *what)
{
	pid_t	 kids[16];
	int	 i, k, nk, zombies = 0, match = 0;

	nk = tl_children(d->pid, kids, 16);
	is_int(n, nk, "%s: drover has exactly %d children", what, n);
	for (i = 0; i < nk; i++) {
		if (proc_state(kids[i]) == 'Z')
			zombies++;
		for (k = 0; k < n; k++)
			if (kids[i] == slot_int(j, k, "pid"))
				match++;
	}
	is_int(0, zombies, "%s: no zombie among them", what);
	is_int(n, match, "%s: they are the slots' workers", what);
}

/* reload.requests has reached *arg; count the versions with pending. */
static int
pred_requests(const struct tl_json *j, void *arg)
{
	struct paced	*p = arg;

	if (tl_json_bool(j, "reload.pending") == 1)
		p->pending++;
	return tl_json_int(j, "reload.requests", -1) >= p->want;
}

/*
 * 6.  Storms of HUPs: a burst, which the kernel may fold into fewer
 * signals, then one HUP after the other, each as soon as drover has
 * counted the one before, so that most arrive while a reload runs and
 * must be remembered.  In the end one generation runs, one worker per
 * slot, nothing left over.
 */
static void
test_storm(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct settle		 w;
	struct paced		 p;
	long long		 gen, req, gen1, req1;
	int			 i, port, status, notready = 0;
	char			 body[64];

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "stop_timeout = 5s\ncommand = %s\n", hello), NULL, 1);
	port = tl_port(j, 0);
	tl_json_free(j);
	for (i = 0; i < NSTORM - 1; i++)
		if (kill(d.pid, SIGHUP) == -1)
			sysbail("kill");
	/*
	 * The last HUP after reading reload.requests: the storm is over
	 * only in a status.json that counts more.
	 */
	j = tl_status(&d);
	w.hups = tl_json_int(j, "reload.requests", 0);
	tl_json_free(j);
	if (kill(d.pid, SIGHUP) == -1)
		sysbail("kill");
	w.gen = 0;
	w.result = "ok";
	w.nslots = 2;
	w.notready = &notready;
	/* Each reload replaces two workers: give the storm its time. */
	j = tl_status_wait(&d, pred_settled, &w, 4 * WAIT_MS);
	ok(j != NULL, "burst: drover settles: running, reload ok, nothing "
	    "pending");
	gen1 = gen = tl_json_int(j, "generation", -1);
	req1 = req = tl_json_int(j, "reload.requests", -1);
	ok(req >= 1 && req <= NSTORM, "burst: %lld of %d HUPs arrived as "
	    "separate signals", req, NSTORM);
	ok(gen >= 2 && gen <= req + 1, "burst: generation %lld: at least one "
	    "reload, at most one per signal", gen);
	is_int(gen, tl_json_int(j, "reload.generation", -1), "burst: the last "
	    "reload is of the running generation");
	ok(slot_int(j, 0, "generation") == gen &&
	    slot_int(j, 1, "generation") == gen,
	    "burst: both slots run generation %lld", gen);
	check_children(&d, j, 2, "burst");
	tl_json_free(j);
	is_int(0, notready, "burst: the cluster was ready in every status "
	    "seen");

	memset(&p, 0, sizeof(p));
	for (i = 0; i < NSTORM; i++) {
		if (kill(d.pid, SIGHUP) == -1)
			sysbail("kill");
		p.want = req1 + i + 1;
		if ((j = tl_status_wait(&d, pred_requests, &p, WAIT_MS)) ==
		    NULL)
			break;
		tl_json_free(j);
	}
	is_int(NSTORM, i, "paced: drover counted each of %d HUPs", NSTORM);
	ok(p.pending > 0, "paced: HUPs during a reload were remembered "
	    "(reload.pending in %d versions)", p.pending);
	j = tl_status_wait(&d, pred_settled, &w, 4 * WAIT_MS);
	ok(j != NULL, "paced: drover settles: running, reload ok, nothing "
	    "pending");
	gen = tl_json_int(j, "generation", -1);
	req = tl_json_int(j, "reload.requests", -1);
	is_int(req1 + NSTORM, req, "paced: reload.requests counts them all");
	ok(gen > gen1 && gen - gen1 <= NSTORM, "paced: %lld reloads for %d "
	    "HUPs, never more than one per HUP", gen - gen1, NSTORM);
	ok(slot_int(j, 0, "generation") == gen &&
	    slot_int(j, 1, "generation") == gen,
	    "paced: both slots run generation %lld", gen);
	check_children(&d, j, 2, "paced");
	tl_json_free(j);
	is_int(0, notready, "paced: the cluster was ready in every status "
	    "seen");
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "storm: the port answers");
	stop(&d, "storm");
}

/*
 * 7.  TTIN adds a slot, TTOU retires the top one; `workers` in a reload
 * does the same; a client making a new connection per request sees no
 * failure meanwhile.
 */
static void
test_scaling(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	struct tl_tally		 t;
	long long		 p0, p1, p2;
	int			 three = 3, two = 2, i;

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "stop_timeout = 5s\ncommand = %s\n", hello), NULL, 1);
	p0 = slot_int(j, 0, "pid");
	p1 = slot_int(j, 1, "pid");
	is_int(2, tl_json_int(j, "listeners.0.sockets", -1), "scale: 2 "
	    "sockets at start");
	tl_client_start(&c, tl_port(j, 0), 0);
	tl_json_free(j);

	if (tl_daemon_kill(&d, SIGTTIN) == -1)
		sysbail("SIGTTIN to drover");
	j = tl_status_wait(&d, pred_nslots, &three, WAIT_MS);
	ok(j != NULL, "TTIN: 3 workers, 3 slots ready, 3 sockets");
	p2 = slot_int(j, 2, "pid");
	ok(p2 > 0 && p2 != p0 && p2 != p1, "TTIN: slot 2 has a worker of its "
	    "own");
	ok(slot_int(j, 0, "pid") == p0 && slot_int(j, 1, "pid") == p1,
	    "TTIN: slots 0 and 1 keep their workers");
	is_int(1, tl_json_int(j, "generation", -1), "TTIN: no new "
	    "generation");
	tl_json_free(j);

	if (tl_daemon_kill(&d, SIGTTOU) == -1)
		sysbail("SIGTTOU to drover");
	j = tl_status_wait(&d, pred_nslots, &two, WAIT_MS);
	ok(j != NULL, "TTOU: 2 workers, the top slot gone, 2 sockets");
	ok(slot_int(j, 0, "pid") == p0 && slot_int(j, 1, "pid") == p1,
	    "TTOU: slots 0 and 1 keep their workers");
	tl_json_free(j);
	is_int(0, tl_wait_pid_gone((pid_t)p2, WAIT_MS), "TTOU: slot 2's "
	    "worker has exited");
	is_int(0, tl_wait_log(&d, "slot 2: retired", WAIT_MS), "TTOU: the log "
	    "says slot 2 retired");
	for (i = 0; i < NSCALE; i++) {
		if (tl_daemon_kill(&d, SIGTTIN) == -1)
			sysbail("SIGTTIN to drover");
		if ((j = tl_status_wait(&d, pred_nslots, &three, WAIT_MS)) ==
		    NULL)
			break;
		p2 = slot_int(j, 2, "pid");
		tl_json_free(j);
		if (tl_daemon_kill(&d, SIGTTOU) == -1)
			sysbail("SIGTTOU to drover");
		if ((j = tl_status_wait(&d, pred_nslots, &two, WAIT_MS)) ==
		    NULL)
			break;
		tl_json_free(j);
		if (tl_wait_pid_gone((pid_t)p2, WAIT_MS) == -1)
			break;
	}
	is_int(NSCALE, i, "TTIN and TTOU: %d more rounds of 3 slots and back "
	    "to 2", NSCALE);

	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 3\n"
	    "stop_timeout = 5s\ncommand = %s\n", hello);
	hup(&d);
	j = wait_settled(&d, 2, "ok", 3, NULL);
	ok(j != NULL, "workers = 3: generation 2 runs on 3 slots");
	is_int(3, tl_json_int(j, "listeners.0.sockets", -1), "workers = 3: 3 "
	    "sockets");
	p2 = slot_int(j, 2, "pid");
	tl_json_free(j);

	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "stop_timeout = 5s\ncommand = %s\n", hello);
	hup(&d);
	j = wait_settled(&d, 3, "ok", 2, NULL);
	ok(j != NULL, "workers = 2: generation 3 runs on 2 slots");
	is_int(2, tl_json_int(j, "listeners.0.sockets", -1), "workers = 2: 2 "
	    "sockets");
	tl_json_free(j);
	is_int(0, tl_wait_pid_gone((pid_t)p2, WAIT_MS), "workers = 2: the "
	    "retired slot's worker has exited");

	if (tl_client_stop(&c, &t) == 0) {
		diag("%s: %ld requests, %ld failed", c.what, t.requests,
		    t.failures);
		is_int(0, t.failures, "scale: the client saw no failure");
		ok(t.requests >= MIN_REQUESTS, "scale: the client made %ld "
		    "requests (at least %d)", t.requests, MIN_REQUESTS);
	} else
		ok(0, "scale: the client reported");
	stop(&d, "scale");
}

/*
 * 8.  reload = all: every slot's replacement starts at once, before any
 * old worker stops.
 */
static void
test_reload_all(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*gate = tl_fifo_new(tdir, "gate8");
	long long		 p0, p1;
	int			 two = 2, notready = 0;

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\nreload = all\ncommand = %s\n", hello), NULL, 1);
	p0 = slot_int(j, 0, "pid");
	p1 = slot_int(j, 1, "pid");
	tl_json_free(j);
	tl_conf_rewrite(&d, "listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\nreload = all\n"
	    "command = /bin/sh -c 'read x < %s && exec %s'\n", gate, hello);
	hup(&d);
	j = tl_status_wait(&d, pred_gated, &two, WAIT_MS);
	ok(j != NULL, "all: both slots have a new worker starting while "
	    "their old ones serve");
	ok(slot_int(j, 0, "old.pid") == p0 && slot_int(j, 1, "old.pid") == p1,
	    "all: the old workers are the ones from before");
	is_int(1, tl_json_bool(j, "ready"), "all: the cluster is ready "
	    "meanwhile");
	tl_json_free(j);
	is_int(-1, tl_wait_pid_gone((pid_t)p0, QUIET_MS), "all: no old "
	    "worker stops before its replacement is ready");
	tl_fifo_release(gate);
	tl_fifo_release(gate);
	j = wait_settled(&d, 2, "ok", 2, &notready);
	ok(j != NULL, "all: once released, generation 2 runs, reload ok");
	is_int(0, notready, "all: the cluster was ready in every status seen "
	    "until then");
	tl_json_free(j);
	is_int(0, tl_wait_pid_gone((pid_t)p0, WAIT_MS) +
	    tl_wait_pid_gone((pid_t)p1, WAIT_MS), "all: the old workers are "
	    "gone");
	stop(&d, "all");
}

/*
 * reload_grace = 0: a new worker is confirmed as soon as it is ready, its
 * old worker is asked to stop, and it counts as proven for good.  Here
 * the old workers take their time to stop (until the test releases
 * them), so the reload is still under way when slot 0's confirmed new
 * worker is killed: that is a restart of slot 0, not a failed start,
 * and with reload_retries = 0 it must not roll the reload back.
 */
static void
test_grace0(const char *mode)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*what = tl_fmt("grace 0, ready = %s", mode);
	const char		*fifo = tl_fifo_new(tdir, tl_fmt("linger-%s",
				    mode));
	const char		*script = tl_fmt("%s/grace0-%s.sh", tdir, mode);
	long long		 p0;

	if (tl_write_file(script, "[ $DROVER_GENERATION = 1 ] && "
	    "trap 'read x < %s; exit 0' TERM\n"
	    "echo READY=1 >&$DROVER_NOTIFY_FD\nsleep 600 & wait $!\n",
	    fifo) == -1)
		sysbail("%s", script);
	tl_json_free(tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\n"
	    "workers = 2\nready = %s\nreload_grace = 0\nreload_retries = 0\n"
	    "restart_delay = 10ms\nstop_timeout = 60s\ncommand = /bin/sh %s\n",
	    mode, script), NULL, 1));
	hup(&d);
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("slots.0.generation", 2),
	    TL_STR("slots.0.state", "ready"),
	    TL_STR("slots.0.old.state", "stopping"));
	ok(j != NULL, "%s: slot 0's new worker is confirmed, its old one "
	    "stops", what);
	p0 = slot_int(j, 0, "pid");
	tl_json_free(j);
	if (p0 <= 0 || kill((pid_t)p0, SIGKILL) == -1)
		sysbail("kill slot 0's new worker");
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("slots.0.last_exit.pid", p0));
	ok(j != NULL && strcmp(tl_json_str(j, "reload.result") != NULL ?
	    tl_json_str(j, "reload.result") : "", "in-progress") == 0,
	    "%s: once it is killed, the reload goes on", what);
	tl_json_free(j);
	tl_fifo_release(fifo);
	tl_fifo_release(fifo);
	j = wait_settled(&d, 2, "ok", 2, NULL);
	ok(j != NULL, "%s: generation 2 runs, reload ok", what);
	tl_json_free(j);
	is_int(0, tl_log_count(&d, "rolling back"), "%s: no rollback", what);
	stop(&d, what);
}

/*
 * The first n slots run a confirmed worker of generation 2 beside an old
 * one that stops.
 */
static int
pred_batch(const struct tl_json *j, void *arg)
{
	char	 p[64];
	int	 k, n = *(int *)arg;

	for (k = 0; k < n; k++)
		if (slot_int(j, k, "generation") != 2 ||
		    strcmp(slot_str(j, k, "state"), "ready") != 0 ||
		    tl_json_str(j, spath(p, sizeof(p), k, "old.state")) ==
		    NULL || strcmp(tl_json_str(j, p), "stopping") != 0)
			return 0;
	return 1;
}

/*
 * reload_batch (conf, a line of the file, or "" for the default, which
 * must come to batch with nworkers workers) is how many slots are
 * replaced at a time, and how many workers at most run beyond one per
 * slot, also when a slot has no worker at all (here the last one, halted
 * by exit 78): no slot gets its new worker while batch others have an
 * old worker that still stops.  The old workers take their time to stop,
 * until the test releases them.
 */
static void
test_batch(int nworkers, const char *conf, int batch)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct olds		 o;
	const char		*what = tl_fmt("batch %d of %d workers%s",
				    batch, nworkers, *conf ? "" : " (auto)");
	const char		*fifo = tl_fifo_new(tdir, tl_fmt("linger-"
				    "batch%d", nworkers));
	const char		*script = tl_fmt("%s/batch%d.sh", tdir,
				    nworkers);
	char			 p[64];
	int			 k;

	if (tl_write_file(script, "if [ $DROVER_GENERATION = 1 ]; then\n"
	    "\t[ $DROVER_WORKER_ID = %d ] && exit 78\n"
	    "\ttrap 'read x < %s; exit 0' TERM\nfi\n"
	    "sleep 600 & wait $!\n", nworkers - 1, fifo) == -1)
		sysbail("%s", script);
	tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = %d\n%s"
	    "reload_grace = 0\nstop_timeout = 60s\ncommand = /bin/sh %s\n",
	    nworkers, conf, script), NULL, 0);
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("workers_ready", nworkers - 1),
	    TL_STR(spath(p, sizeof(p), nworkers - 1, "state"), "halted"));
	ok(j != NULL, "%s: all ready but the last slot, halted", what);
	tl_json_free(j);
	hup(&d);
	j = tl_status_wait(&d, pred_batch, &batch, WAIT_MS);
	ok(j != NULL, "%s: the first %d slots' new workers are confirmed, "
	    "their old ones stop", what, batch);
	is_int(batch, nolds(j), "%s: they alone have an old worker "
	    "meanwhile", what);
	is_int(1, j != NULL ? slot_int(j, batch, "generation") : 0,
	    "%s: slot %d waits for them, on generation 1", what, batch);
	o.most = nolds(j);
	tl_json_free(j);
	for (k = 0; k < nworkers - 1; k++)
		tl_fifo_release(fifo);
	o.st.gen = 2;
	o.st.result = "ok";
	o.st.nslots = nworkers;
	o.st.notready = NULL;
	o.st.hups = -1;
	j = tl_status_wait(&d, pred_olds, &o, WAIT_MS);
	ok(j != NULL, "%s: generation 2 runs in every slot, reload ok", what);
	tl_json_free(j);
	ok(o.most <= batch, "%s: never more than %d slots with an old worker "
	    "in the versions of status.json seen (%d at most)", what, batch,
	    o.most);
	stop(&d, what);
}

int
main(void)
{
	plan_lazy();
	signal(SIGPIPE, SIG_IGN);
	hello = tl_path("examples/hello-c/hello-c");
	if (access(hello, X_OK) == -1)
		bail("%s is not built", hello);
	tdir = tl_tmpdir();

	test_good();
	test_gated();
	test_clients();
	test_bad_and_rollback();
	test_crash_exec();
	test_rollback_empty_slot();
	test_storm();
	test_scaling();
	test_reload_all();
	test_grace0("exec");
	test_grace0("notify");
	test_batch(3, "reload_batch = 1\n", 1);
	test_batch(8, "", 2);
	return 0;
}
