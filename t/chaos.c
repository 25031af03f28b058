/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Every sequence of signals ends consistent.  Random sequences (seeded:
 * DROVER_CHAOS_SEED, else a fixed seed, printed) of HUP to a good
 * configuration, HUP to one whose workers fail at start, TTIN, TTOU and
 * the kill of a random worker (SIGTERM: it goes by itself, as a crash
 * that loses nothing), 0, 2, 10 and 50 ms apart, in exec and in notify
 * mode, under a continuous client.  After each sequence a last HUP to the
 * good file must bring the master, within a bound, to: the file's number
 * of slots, each ready with a worker of the current generation and no
 * old one, the reload finished, the ready file present.  The client must
 * see no failed request: no slot stops serving without being steered
 * away first.  It runs in the sanitizer build too (make check in CI).
 */

#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		30000
#define SEQUENCES	3
#define EVENTS		25
#define NSLOTS		3

static int		 pred_settled(const struct tl_json *, void *);
static const char	*conftext(const char *, int);
static void		 kill_one(struct tl_daemon *, unsigned int *);
static void		 run(int, const char *, int, unsigned int *);

static const char	*hello;

/*
 * Settled on NSLOTS slots: more HUPs taken than *arg (so this status.json
 * is one written after the last HUP), running, ready, the last reload
 * finished and none pending, each slot ready with a worker of the current
 * generation and no old one.
 */
static int
pred_settled(const struct tl_json *j, void *arg)
{
	const char	*s;
	long long	 gen = tl_json_int(j, "generation", -1);
	int		 k;

	if (tl_json_int(j, "reload.requests", 0) <= *(long long *)arg ||
	    (s = tl_json_str(j, "state")) == NULL ||
	    strcmp(s, "running") != 0 || tl_json_bool(j, "ready") != 1 ||
	    tl_json_bool(j, "reload.pending") != 0 ||
	    (s = tl_json_str(j, "reload.result")) == NULL ||
	    strcmp(s, "ok") != 0 || tl_json_int(j, "workers", -1) != NSLOTS ||
	    tl_json_len(j, "slots") != NSLOTS)
		return 0;
	for (k = 0; k < NSLOTS; k++)
		if ((s = tl_json_str(j, tl_fmt("slots.%d.state", k))) == NULL ||
		    strcmp(s, "ready") != 0 ||
		    tl_json_int(j, tl_fmt("slots.%d.generation", k), 0) !=
		    gen || !tl_json_is_null(j, tl_fmt("slots.%d.old", k)))
			return 0;
	return 1;
}

/* The configuration: good, or with workers that exit at once. */
static const char *
conftext(const char *mode, int good)
{
	return tl_fmt("workers = %d\nlisten = 127.0.0.1:0\nready = %s\n"
	    "reload_grace = 100ms\nready_timeout = 5s\nrestart_delay = 10ms\n"
	    "restart_delay_max = 100ms\nrestart_budget = 1000\n"
	    "stop_timeout = 5s\ncommand = %s\n", NSLOTS, mode, good ? hello :
	    "/bin/sh -c 'exit 1'");
}

/*
 * SIGTERM to the worker of a random slot, if it has one that runs its
 * loop (it says "serving ..." in STATUS=): then it has its handler and
 * finishes what it accepted, like any worker stopping on its own.
 */
static void
kill_one(struct tl_daemon *d, unsigned int *seed)
{
	struct tl_json	*j;
	const char	*st;
	long long	 pid;
	unsigned int	 k;
	size_t		 n;

	if ((j = tl_status(d)) == NULL)
		return;
	if ((n = tl_json_len(j, "slots")) > 0) {
		k = (unsigned int)(rand_r(seed) % n);
		pid = tl_json_int(j, tl_fmt("slots.%u.pid", k), 0);
		st = tl_json_str(j, tl_fmt("slots.%u.status", k));
		if (pid > 0 && st != NULL && strncmp(st, "serving", 7) == 0)
			(void)kill((pid_t)pid, SIGTERM);
	}
	tl_json_free(j);
}

/*
 * SEQUENCES random sequences, gap ms apart, in mode, under a client with
 * keep-alive or a new connection per request.
 */
static void
run(int gap, const char *mode, int keepalive, unsigned int *seed)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	struct tl_tally		 t = { 0 };
	long long		 hups;
	int			 q, e, good = 0, r;

	j = tl_start_conf(&d, conftext(mode, 1), NULL, 1);
	tl_client_start(&c, tl_port(j, 0), keepalive);
	tl_json_free(j);
	for (q = 0; q < SEQUENCES; q++) {
		for (e = 0; e < EVENTS; e++) {
			switch (rand_r(seed) % 6) {
			case 0:
				tl_conf_rewrite(&d, "%s", conftext(mode, 1));
				tl_daemon_kill(&d, SIGHUP);
				break;
			case 1:
				tl_conf_rewrite(&d, "%s", conftext(mode, 0));
				tl_daemon_kill(&d, SIGHUP);
				break;
			case 2:
			case 3:
				tl_daemon_kill(&d, rand_r(seed) % 2 ?
				    SIGTTIN : SIGTTOU);
				break;
			default:
				kill_one(&d, seed);
				break;
			}
			tl_pause_ms(gap);
		}
		tl_conf_rewrite(&d, "%s", conftext(mode, 1));
		/*
		 * A HUP still pending in the kernel may merge with this one,
		 * but one at least is taken after status.json said this.
		 */
		j = tl_status(&d);
		hups = tl_json_int(j, "reload.requests", 0);
		tl_json_free(j);
		tl_daemon_kill(&d, SIGHUP);
		j = tl_status_wait(&d, pred_settled, &hups, WAIT_MS);
		if (j != NULL && access(tl_fmt("%s/ready", d.state), F_OK) == 0)
			good++;
		else
			diag("%s, %d ms: sequence %d did not settle", mode, gap,
			    q + 1);
		tl_json_free(j);
	}
	is_int(SEQUENCES, good, "%s, %d ms apart: %d random sequences of %d "
	    "signals and kills, each settled on %d ready slots", mode, gap,
	    SEQUENCES, EVENTS, NSLOTS);
	r = tl_client_stop(&c, &t);
	ok(r == 0 && t.failures == 0 && t.requests > 0, "%s, %d ms apart: the "
	    "%s client saw no failed request (%ld of %ld)", mode, gap,
	    keepalive ? "keep-alive" : "new-connection", t.failures,
	    t.requests);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "%s, %d ms apart: drover stops "
	    "with status 0", mode, gap);
}

int
main(void)
{
	static const int	 gaps[] = { 0, 2, 10, 50 };
	const char		*env = getenv("DROVER_CHAOS_SEED");
	unsigned int		 seed;
	size_t			 i;

	plan_lazy();
	hello = tl_path("examples/hello-c/hello-c");
	seed = env != NULL ? (unsigned int)strtoul(env, NULL, 10) : 20261129;
	diag("seed %u (DROVER_CHAOS_SEED)", seed);
	for (i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++)
		run(gaps[i], i % 2 ? "notify" : "exec", i / 2 % 2, &seed);
	return 0;
}
