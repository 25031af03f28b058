/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Checks that several tests make alike, in the same words: that a
 * continuous client lost no request (tl_check_client()), and that a
 * master stopped cleanly, within its stop timeout and with all its
 * workers (tl_check_stopped()).  This is the one file of the library
 * that reports tests (through tap.c), and each function says how many,
 * so that a test's count stays plain; the rest of the library does
 * things, says how they went and leaves the asserting to the tests.
 */

#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"
#include "tl-private.h"

#define TL_MAXKIDS	256

static const char	*tl_untrue(struct tl_daemon *, const struct tl_json *,
			    int);
static const char	*tl_untrue_pid(pid_t, long long, pid_t *, int *);

/*
 * Stop client c and check its tally: ok() that it reported, or else
 * nothing more; then that none of its requests failed or, with
 * maxdropped above 0, that those that failed were dropped by the server
 * and at most maxdropped; and that it made at least min requests.  The
 * tally goes to *t unless t is NULL.
 */
void
tl_check_client(struct tl_client *c, struct tl_tally *t, const char *what,
    long min, long maxdropped)
{
	struct tl_tally	 tally;

	if (t == NULL)
		t = &tally;
	if (tl_client_stop(c, t) == -1) {
		ok(0, "%s: the %s reported", what, c->what);
		return;
	}
	diag("%s: %s: %ld requests on %ld connections, %ld failed (%ld "
	    "dropped), %ld sent again", what, c->what, t->requests,
	    t->connects, t->failures, t->dropped, t->retries);
	if (maxdropped > 0)
		ok(t->failures == t->dropped && t->dropped <= maxdropped,
		    "%s: the %s lost only connections closed or reset by a "
		    "stopping server, at most %ld: %ld", what, c->what,
		    maxdropped, t->dropped);
	else
		is_int(0, t->failures, "%s: the %s saw no failure", what,
		    c->what);
	ok(t->requests >= min, "%s: the %s made %ld requests (at least %ld)",
	    what, c->what, t->requests, min);
}

/*
 * Check a master sent SIGTERM at t0 (tl_now_ms()): it exits 0 within
 * timeout_ms, less than its stop timeout stop_ms after t0; each of the n
 * workers pids is gone within 5 s; and its log says that none needed
 * SIGKILL.
 */
void
tl_check_stopped(struct tl_daemon *d, const char *what, long long t0,
    int stop_ms, const pid_t *pids, int n, int timeout_ms)
{
	long long	 took;
	int		 k;

	is_int(0, tl_daemon_wait(d, timeout_ms), "%s: drover exits 0", what);
	took = tl_now_ms() - t0;
	ok(took < stop_ms, "%s: the stop took %lld ms, less than the stop "
	    "timeout (%d s)", what, took, stop_ms / 1000);
	for (k = 0; k < n; k++)
		is_int(0, tl_wait_pid_gone(pids[k], 5000), "%s: worker %d is "
		    "gone", what, k);
	is_int(0, tl_log_count(d, "SIGKILL"), "%s: no worker needed SIGKILL",
	    what);
}

/*
 * Worker pid, named in a status of master, is a running child of it
 * that no other entry named: then it is added to seen[*n] and NULL is
 * returned, else what is wrong.
 */
static const char *
tl_untrue_pid(pid_t master, long long pid, pid_t *seen, int *n)
{
	struct tl_proc	 pr;
	int		 i;

	if (pid <= 1 || tl_proc((pid_t)pid, &pr) == -1)
		return tl_fmt("worker %lld does not exist", pid);
	if (pr.p_ppid != (int)master || pr.p_state == 'Z' ||
	    pr.p_state == 'X')
		return tl_fmt("worker %lld is not a running child of %d "
		    "(parent %d, state %c)", pid, (int)master, pr.p_ppid,
		    pr.p_state);
	for (i = 0; i < *n; i++)
		if (seen[i] == (pid_t)pid)
			return tl_fmt("worker %lld is named twice", pid);
	if (*n < TL_MAXKIDS)
		seen[(*n)++] = (pid_t)pid;
	return NULL;
}

/* What in status j of master d is not true (tl_check_true()), or NULL. */
static const char *
tl_untrue(struct tl_daemon *d, const struct tl_json *j, int others)
{
	static const char *const with[] = { "ready", "starting", "stopping",
	    NULL };
	static const char *const without[] = { "empty", "backoff", "failed",
	    "halted", NULL };
	pid_t		 seen[TL_MAXKIDS], kids[TL_MAXKIDS];
	const char	*st, *bad, *os;
	long long	 pid, opid;
	int		 n, k, i, nseen = 0, nkids, nready = 0, has, file, want;

	if (j == NULL)
		return "no status.json";
	if (tl_json_int(j, "pid", 0) != d->pid)
		return tl_fmt("pid %lld, not %d", tl_json_int(j, "pid", 0),
		    (int)d->pid);
	n = (int)tl_json_len(j, "slots");
	want = (int)tl_json_int(j, "workers", -1);
	if (want < 0 || want > n)
		return tl_fmt("%d workers but %d slots", want, n);
	for (k = 0; k < n; k++) {
		st = tl_json_str(j, tl_fmt("slots.%d.state", k));
		pid = tl_json_int(j, tl_fmt("slots.%d.pid", k), 0);
		opid = tl_json_int(j, tl_fmt("slots.%d.old.pid", k), 0);
		os = tl_json_str(j, tl_fmt("slots.%d.old.state", k));
		if (st == NULL)
			return tl_fmt("slot %d has no state", k);
		if ((k >= want) != (strcmp(st, "retiring") == 0))
			return tl_fmt("slot %d of %d wanted is %s", k, want,
			    st);
		for (has = -1, i = 0; with[i] != NULL; i++)
			if (strcmp(st, with[i]) == 0)
				has = 1;
		for (i = 0; without[i] != NULL; i++)
			if (strcmp(st, without[i]) == 0)
				has = 0;
		if (has != -1 && has != (pid > 0))
			return tl_fmt("slot %d is %s with pid %lld", k, st,
			    pid);
		if ((pid > 0 && (bad = tl_untrue_pid(d->pid, pid, seen,
		    &nseen)) != NULL) || (opid > 0 && (bad =
		    tl_untrue_pid(d->pid, opid, seen, &nseen)) != NULL))
			return tl_fmt("slot %d: %s", k, bad);
		if (k < want)
			nready += strcmp(st, "ready") == 0 || (opid > 0 &&
			    os != NULL && strcmp(os, "serving") == 0);
	}
	if (tl_json_int(j, "workers_ready", -1) != nready)
		return tl_fmt("workers_ready %lld, but %d slots serve",
		    tl_json_int(j, "workers_ready", -1), nready);
	if ((nkids = tl_children(d->pid, kids, TL_MAXKIDS)) == -1)
		return "cannot list the master's children";
	if (!others && nkids != nseen)
		return tl_fmt("the master has %d children, status.json names "
		    "%d workers", nkids, nseen);
	file = access(tl_fmt("%s/ready", d->state), F_OK) == 0;
	if (file != tl_json_bool(j, "ready"))
		return tl_fmt("ready is %s but the ready file is %s",
		    tl_json_bool(j, "ready") ? "true" : "false", file ?
		    "there" : "missing");
	return NULL;
}

/* See testlib.h. */
int
tl_check_true(struct tl_daemon *d, const struct tl_json *j,
    const char *what, int others)
{
	const char	*bad = tl_untrue(d, j, others);

	if (bad != NULL)
		diag("%s: status.json: %s", what, bad);
	ok(bad == NULL, "%s: status.json is true of the master's workers "
	    "(%lld slots, %lld ready)", what, tl_json_int(j, "workers", -1),
	    tl_json_int(j, "workers_ready", -1));
	return bad == NULL;
}
