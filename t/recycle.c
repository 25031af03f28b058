/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Recycling.  A worker that grows past max_memory after its first request
 * is replaced: its replacement is ready before it is asked to stop (the
 * log says so in that order), no request of a continuous client fails,
 * and status.json and /metrics (health endpoint on) tell why.  A short
 * max_age under a continuous client recycles every slot several times,
 * never more than reload_batch (1) at once, with no request failed.
 */

#include "config.h"

#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		20000
#define NSEEN		64

static const char	*worker;

/*
 * The pids seen in slots, the most slots with an old worker at once, and
 * how often an old worker was seen stopping beside a replacement that was
 * ready (stopping) or not yet (early).
 */
struct seen {
	long long	 pids[NSEEN];
	int		 n;
	int		 want;
	int		 most;
	int		 nslots;
	int		 stopping;
	int		 early;
};

static int
pred_seen(const struct tl_json *j, void *arg)
{
	struct seen	*s = arg;
	const char	*st;
	char		 path[64];
	long long	 pid;
	int		 k, i, olds = 0;

	for (k = 0; k < s->nslots; k++) {
		(void)snprintf(path, sizeof(path), "slots.%d.old", k);
		olds += tl_json_get(j, path) != NULL &&
		    !tl_json_is_null(j, path);
		(void)snprintf(path, sizeof(path), "slots.%d.old.state", k);
		st = tl_json_str(j, path);
		(void)snprintf(path, sizeof(path), "slots.%d.state", k);
		if (st != NULL && strcmp(st, "stopping") == 0) {
			st = tl_json_str(j, path);
			if (st != NULL && strcmp(st, "ready") == 0)
				s->stopping++;
			else
				s->early++;
		}
		(void)snprintf(path, sizeof(path), "slots.%d.pid", k);
		if ((pid = tl_json_int(j, path, 0)) <= 0)
			continue;
		for (i = 0; i < s->n && s->pids[i] != pid; i++)
			continue;
		if (i == s->n && s->n < NSEEN)
			s->pids[s->n++] = pid;
	}
	if (olds > s->most)
		s->most = olds;
	return s->n >= s->want;
}

/* Where needle is in the log, or -1. */
static long
log_at(const struct tl_daemon *d, const char *needle)
{
	char	*log = tl_slurp(d->log), *p;
	long	 at;

	if (log == NULL)
		return -1;
	at = (p = strstr(log, needle)) != NULL ? p - log : -1;
	free(log);
	return at;
}

static void
test_memory(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	struct tl_client_opt	 o;
	struct tl_tally		 t;
	char			 body[65536];
	long long		 old[2];
	long			 ready, gone;
	int			 k, port, hport, status;

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 2\n"
	    "ready = notify\nstop_signal = INT\nhealth = 127.0.0.1:0\n"
	    "max_memory = 30M\nenv = GROW_MB=50\nenv = SLOW_MS=50\n"
	    "command = python3 %s\n", worker), NULL, 1);
	port = tl_port(j, 0);
	hport = (int)tl_json_int(j, "health.port", -1);
	for (k = 0; k < 2; k++)
		old[k] = tl_json_int(j, tl_fmt("slots.%d.pid", k), 0);
	tl_json_free(j);

	memset(&o, 0, sizeof(o));
	o.path = "/slow";
	tl_client_start_opt(&c, port, &o);
	is_int(0, tl_wait_log_count(&d, "is asked to stop", 2, WAIT_MS),
	    "memory: two workers were recycled");
	for (k = 0; k < 2; k++) {
		ready = log_at(&d, tl_fmt("recycled worker %lld (max_memory) "
		    "is asked to stop", old[k]));
		gone = log_at(&d, tl_fmt("worker %lld (gen 1) exited",
		    old[k]));
		ok(ready >= 0 && log_at(&d, tl_fmt("worker %lld (gen 1) has "
		    "used", old[k])) < ready && (gone == -1 || ready < gone),
		    "memory: worker %lld was over max_memory, and its "
		    "replacement was ready before it was asked to stop",
		    old[k]);
	}
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.last_exit.reason",
	    "max_memory"));
	ok(j != NULL, "memory: status.json says slot 0's last worker was "
	    "recycled for max_memory");
	tl_json_free(j);
	tl_check_client(&c, &t, "memory", 10, 0);
	ok(tl_http_get(hport, "/metrics", &status, body, sizeof(body)) == 0 &&
	    status == 200 && strstr(body, "reason=\"recycle\"") != NULL &&
	    strstr(body, "reason=\"max_memory\"") != NULL, "memory: "
	    "/metrics counts starts to recycle and ends for max_memory");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "memory: drover stops");
}

static void
test_age(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	struct tl_tally		 t;
	struct seen		 s;
	int			 port;

	j = tl_start_conf(&d, tl_fmt("listen = 127.0.0.1:0\nworkers = 3\n"
	    "ready = notify\nstop_signal = INT\nreload_batch = 1\n"
	    "max_age = 2s\ncommand = python3 %s\n", worker), NULL, 1);
	port = tl_port(j, 0);
	tl_json_free(j);
	tl_client_start(&c, port, 0);
	memset(&s, 0, sizeof(s));
	s.nslots = 3;
	s.want = 3 + 6;
	j = tl_status_wait(&d, pred_seen, &s, WAIT_MS);
	ok(j != NULL, "age: 6 workers were recycled (%d pids seen)", s.n);
	tl_json_free(j);
	ok(s.most == 1, "age: never more than one slot recycled at once "
	    "(%d at most)", s.most);
	ok(s.stopping > 0 && s.early == 0, "age: an old worker is asked to "
	    "stop only once its replacement is ready (seen stopping beside "
	    "a ready one %d times, beside one not ready %d times)",
	    s.stopping, s.early);
	ok(tl_log_count(&d, "max_age is 2s: recycling it") >= 6,
	    "age: the log says why");
	tl_check_client(&c, &t, "age", 10, 0);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "age: drover stops");
}

int
main(void)
{
	plan_lazy();
	signal(SIGPIPE, SIG_IGN);
	if (!tl_in_path("python3")) {
		skip_all("python3 is not in PATH");
		return 0;
	}
	worker = tl_srcpath("t/apps/slow_worker.py");
	test_memory();
	test_age();
	return 0;
}
