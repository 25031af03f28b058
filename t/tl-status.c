/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * Reading the daemon's status.json and waiting on it.  tl_status() reads
 * it once; tl_status_wait() tests every version the daemon writes (it
 * writes a new file and renames it over the old one) against a predicate,
 * woken by inotify on the state directory, until one satisfies it, the
 * deadline passes or the daemon exits.  The predicates here are the ones
 * several tests share; tl_pred_conds() checks a list of conditions
 * (TL_WAIT() in testlib.h), so that a test can wait for "slot 0 ready,
 * its status text so" without writing a predicate of its own;
 * tl_wait_generation() waits for a reload to be over, and tl_reloads()
 * makes several in a row.  Every worker a status names is recorded for
 * the exit hook (tl-daemon.c).
 */

#include "config.h"

#include <sys/types.h>
#include <sys/inotify.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"
#include "tl-private.h"

/* What tl_pred_generation() waits for. */
struct tl_generation {
	long long	 g_gen;
	int		 g_nslots;
};

static int	 tl_pred_generation(const struct tl_json *, void *);

/* Read status.json once; NULL if it is absent or does not parse. */
struct tl_json *
tl_status(const struct tl_daemon *d)
{
	struct tl_json	*j;
	char		*path, *text;

	path = tl_xasprintf("%s/status.json", d->state);
	text = tl_slurp(path);
	free(path);
	j = tl_json_parse(text);
	free(text);
	if (j != NULL)
		tl_note_workers(d->pid, j);
	return j;
}

/*
 * Watch the state directory (or, until it exists, its parent) and test
 * every version of status.json that appears.  The watch is set before each
 * read, so no rename between the read and poll(2) goes unnoticed.  The
 * daemon's exit ends the wait after one last read.
 */
struct tl_json *
tl_status_wait(struct tl_daemon *d, int (*pred)(const struct tl_json *,
    void *), void *arg, int timeout_ms)
{
	struct pollfd	 pfd;
	struct tl_json	*j;
	long long	 deadline = tl_deadline(timeout_ms);
	char		*path, *text, *last = NULL;
	int		 ifd, wstate = -1, wdir = -1, gone = 0;
	const char	*why = "timed out";

	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		sysbail("inotify_init1");
	path = tl_xasprintf("%s/status.json", d->state);
	for (;;) {
		if (wstate == -1) {
			wstate = inotify_add_watch(ifd, d->state, IN_CREATE |
			    IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF);
			if (wstate == -1 && errno != ENOENT)
				sysbail("inotify_add_watch %s", d->state);
			if (wstate == -1 && wdir == -1) {
				wdir = inotify_add_watch(ifd, d->dir,
				    IN_CREATE | IN_MOVED_TO);
				if (wdir == -1)
					sysbail("inotify_add_watch %s",
					    d->dir);
				continue;
			}
		}
		if ((text = tl_slurp(path)) != NULL) {
			if ((j = tl_json_parse(text)) != NULL)
				tl_note_workers(d->pid, j);
			if (j != NULL && pred(j, arg)) {
				free(text);
				free(last);
				free(path);
				close(ifd);
				return j;
			}
			tl_json_free(j);
			free(last);
			last = text;
		}
		if (gone || d->exited) {
			why = "the daemon exited";
			break;
		}
		pfd.fd = ifd;
		pfd.events = POLLIN;
		if (tl_poll(&pfd, 1, deadline, d->pid, d->pidfd, &gone) == 0)
			break;
		if (pfd.revents != 0) {
			struct inotify_event	*ev;
			char			 buf[4096]
			    __attribute__((aligned(__alignof__(*ev))));
			ssize_t			 len;
			char			*p;

			while ((len = read(ifd, buf, sizeof(buf))) > 0)
				for (p = buf; p < buf + len;
				    p += sizeof(*ev) + ev->len) {
					ev = (struct inotify_event *)(void *)p;
					if (ev->wd == wstate &&
					    (ev->mask & IN_IGNORED))
						wstate = -1;
				}
		}
	}
	diag("status.json: no match (%s); last seen: %s", why,
	    last != NULL ? last : "(none)");
	free(last);
	free(path);
	close(ifd);
	return NULL;
}

/* Every slot ready with a pid, and the cluster ready. */
int
tl_pred_all_ready(const struct tl_json *j, void *arg)
{
	const struct tl_json	*slots, *s;
	size_t			 i;

	(void)arg;
	if (tl_json_bool(j, "ready") != 1)
		return 0;
	if ((slots = tl_json_get(j, "slots")) == NULL ||
	    slots->j_type != TL_JSON_ARRAY || slots->j_n == 0)
		return 0;
	for (i = 0; i < slots->j_n; i++) {
		s = slots->j_vals[i];
		if (tl_json_str(s, "state") == NULL ||
		    strcmp(tl_json_str(s, "state"), "ready") != 0 ||
		    tl_json_int(s, "pid", 0) <= 0)
			return 0;
	}
	return 1;
}

/* Slot sp->slot is ready with a pid other than sp->oldpid. */
int
tl_pred_slot_pid_changed(const struct tl_json *j, void *arg)
{
	const struct tl_slot_pid	*sp = arg;
	const struct tl_json		*s;
	const char			*state;
	char				 path[32];
	long long			 pid;

	snprintf(path, sizeof(path), "slots.%d", sp->slot);
	if ((s = tl_json_get(j, path)) == NULL)
		return 0;
	pid = tl_json_int(s, "pid", 0);
	state = tl_json_str(s, "state");
	return pid > 0 && pid != sp->oldpid && state != NULL &&
	    strcmp(state, "ready") == 0;
}

/* The value at m->path equals m->str, or the number or boolean m->num. */
int
tl_pred_match(const struct tl_json *j, void *arg)
{
	const struct tl_match	*m = arg;
	const struct tl_json	*v;

	if ((v = tl_json_get(j, m->path)) == NULL)
		return 0;
	if (m->str != NULL)
		return v->j_type == TL_JSON_STRING &&
		    strcmp(v->j_str, m->str) == 0;
	if (v->j_type == TL_JSON_NUMBER)
		return v->j_int == m->num && (double)v->j_int == v->j_num;
	if (v->j_type == TL_JSON_BOOL)
		return v->j_bool == m->num;
	return 0;
}

/* The port of listener number listener, or -1. */
int
tl_port(const struct tl_json *j, int listener)
{
	char	 path[32];

	snprintf(path, sizeof(path), "listeners.%d.port", listener);
	return (int)tl_json_int(j, path, -1);
}

/* The pids of slots 0 to n - 1 into pids[0..n-1], 0 where there is none. */
void
tl_pids(const struct tl_json *j, pid_t *pids, int n)
{
	int	 k;

	for (k = 0; k < n; k++)
		pids[k] = tl_pid_of(j, k);
}

/* The pid of slot k, 0 if there is none. */
pid_t
tl_pid_of(const struct tl_json *j, int k)
{
	char	 path[64];

	(void)snprintf(path, sizeof(path), "slots.%d.pid", k);
	return (pid_t)tl_json_int(j, path, 0);
}

/* See testlib.h. */
int
tl_runs_alone(const struct tl_json *j, long long gen, int nslots)
{
	const char	*s;
	char		 path[64];
	int		 k;

	if ((s = tl_json_str(j, "state")) == NULL ||
	    strcmp(s, "running") != 0 || tl_json_bool(j, "ready") != 1 ||
	    tl_json_int(j, "generation", -1) != gen ||
	    tl_json_bool(j, "reload.pending") != 0 ||
	    (int)tl_json_len(j, "slots") != nslots)
		return 0;
	for (k = 0; k < nslots; k++) {
		/* On the stack: predicates run on every version seen. */
		(void)snprintf(path, sizeof(path), "slots.%d.state", k);
		if ((s = tl_json_str(j, path)) == NULL ||
		    strcmp(s, "ready") != 0)
			return 0;
		(void)snprintf(path, sizeof(path), "slots.%d.generation", k);
		if (tl_json_int(j, path, -1) != gen)
			return 0;
		(void)snprintf(path, sizeof(path), "slots.%d.old", k);
		if (!tl_json_is_null(j, path))
			return 0;
	}
	return 1;
}

/*
 * Generation arg->g_gen runs alone (tl_runs_alone()) and its reload went
 * through ("ok").
 */
static int
tl_pred_generation(const struct tl_json *j, void *arg)
{
	const struct tl_generation	*w = arg;
	const char			*s;

	return (s = tl_json_str(j, "reload.result")) != NULL &&
	    strcmp(s, "ok") == 0 && tl_runs_alone(j, w->g_gen, w->g_nslots);
}

/* Wait until generation gen runs alone on nslots slots; see testlib.h. */
struct tl_json *
tl_wait_generation(struct tl_daemon *d, long long gen, int nslots,
    int timeout_ms)
{
	struct tl_generation	 w;

	w.g_gen = gen;
	w.g_nslots = nslots;
	return tl_status_wait(d, tl_pred_generation, &w, timeout_ms);
}

/*
 * n reloads in a row from the generation status.json shows: SIGHUP, then
 * the next generation awaited.  How many were over (n if all).
 */
int
tl_reloads(struct tl_daemon *d, int n, int nslots, int timeout_ms)
{
	struct tl_json	*j;
	long long	 gen;
	int		 i;

	j = tl_status(d);
	gen = tl_json_int(j, "generation", -1);
	tl_json_free(j);
	if (gen == -1) {
		diag("tl_reloads: status.json says no generation");
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (tl_daemon_kill(d, SIGHUP) == -1)
			sysbail("SIGHUP");
		if ((j = tl_wait_generation(d, gen + 1 + i, nslots,
		    timeout_ms)) == NULL)
			break;
		tl_json_free(j);
	}
	return i;
}

/*
 * Every condition of the TL_C_END-terminated array arg holds in j: the
 * value at its path is the string (TL_C_STR) or a string that contains
 * it (TL_C_HAS), or an integer or boolean
 * equal to (TL_C_EQ), at least (TL_C_MIN) or other than (TL_C_NE) its
 * number.
 */
int
tl_pred_conds(const struct tl_json *j, void *arg)
{
	const struct tl_cond	*c;
	const struct tl_json	*v;
	long long		 n;

	for (c = arg; c->c_op != TL_C_END; c++) {
		if ((v = tl_json_get(j, c->c_path)) == NULL)
			return 0;
		if (c->c_op == TL_C_STR || c->c_op == TL_C_HAS) {
			if (v->j_type != TL_JSON_STRING ||
			    (c->c_op == TL_C_STR ? strcmp(v->j_str,
			    c->c_str) != 0 : strstr(v->j_str, c->c_str) ==
			    NULL))
				return 0;
			continue;
		}
		if (v->j_type == TL_JSON_NUMBER && v->j_isint)
			n = v->j_int;
		else if (v->j_type == TL_JSON_BOOL)
			n = v->j_bool;
		else
			return 0;
		if ((c->c_op == TL_C_EQ && n != c->c_num) ||
		    (c->c_op == TL_C_MIN && n < c->c_num) ||
		    (c->c_op == TL_C_NE && n == c->c_num))
			return 0;
	}
	return 1;
}
