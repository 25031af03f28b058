/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * 1000 HUP, TTIN and TTOU in a burst, in a random order (seeded:
 * DROVER_BURST_SEED, else a fixed seed, printed), sent as fast as kill(2)
 * goes, with and without a pid file, and once more yielding the CPU after
 * each, under a continuous client.  The kernel keeps one of each signal
 * pending, so most of them merge (drover takes a few to a few dozen):
 * drover takes what reaches it, one at a time, and the number of workers
 * it ends with is the one the signals it took imply.  The log says each:
 * "SIGTTIN: N workers", "SIGTTOU: N workers", and a reload's "reload:
 * generation G, N workers" (a HUP reads the file, which says 2; one
 * that comes during a reload is remembered and starts the next).
 * Replaying those lines in order must give the number of slots drover
 * settles on after a last HUP, one generation, each slot ready with no
 * old worker, status.json true of the processes, the client with no
 * failed request, the master alive and its pid file its own.
 * t/engine.t sends 1000 of them 2 ms apart.
 */

#include "config.h"

#include <sys/types.h>

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		30000
#define NSIGNALS	1000

/* What pred_settled waits for: a status written after a last HUP. */
struct settle {
	long long	 hups;		/* reload.requests before it */
};

static int	 pred_settled(const struct tl_json *, void *);
static int	 replay(const struct tl_daemon *, int *);
static void	 test_burst(int, int, unsigned int *);

static const char	*hello;

/*
 * Settled: more HUPs counted than before the last one, running, ready,
 * no reload under way or pending, each of the wanted slots (and no
 * other) ready with a worker of the current generation and no old one.
 */
static int
pred_settled(const struct tl_json *j, void *arg)
{
	const struct settle	*w = arg;
	const char		*s;
	int			 n = (int)tl_json_int(j, "workers", -1);

	return tl_json_int(j, "reload.requests", 0) > w->hups && n >= 1 &&
	    (s = tl_json_str(j, "reload.result")) != NULL &&
	    strcmp(s, "ok") == 0 &&
	    tl_runs_alone(j, tl_json_int(j, "generation", -1), n);
}

/*
 * The number of workers the lines of d's log imply, in order (see the
 * top of this file); the lines that changed it go to *taken.
 */
static int
replay(const struct tl_daemon *d, int *taken)
{
	char		*log, *p;
	int		 n = 2, v;

	*taken = 0;
	if ((log = tl_slurp(d->log)) == NULL)
		return -1;
	for (p = log; p != NULL && *p != '\0'; p = strchr(p, '\n'),
	    p = p != NULL ? p + 1 : NULL) {
		if ((p = strstr(p, "]: ")) == NULL)
			break;
		p += 3;
		if (sscanf(p, "SIGTTIN: %d workers", &v) == 1 ||
		    sscanf(p, "SIGTTOU: %d workers", &v) == 1 ||
		    sscanf(p, "reload: generation %*u, %d workers", &v) == 1) {
			n = v;
			(*taken)++;
		}
	}
	free(log);
	return n;
}

/*
 * The burst, with a pid file or not; with yield, the test yields the CPU
 * after each signal, so that the master takes more of them.
 */
static void
test_burst(int pidfile, int yield, unsigned int *seed)
{
	static const int	 sigs[] = { SIGHUP, SIGTTIN, SIGTTOU };
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	struct settle		 w;
	const char		*what = tl_fmt("%s%s", pidfile ? "with -p" :
				    "without -p", yield ? ", yielding" : "");
	const char		*pf = tl_fmt("%s/drover.pid", tl_tmpdir());
	const char		*args[] = { "-p", pf, NULL };
	int			 sent[3] = { 0 }, i, k, want, taken;
	char			*text;

	j = tl_start_conf(&d, tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "reload_grace = 50ms\ncommand = %s\n", hello), pidfile ? args :
	    NULL, 1);
	tl_client_start(&c, tl_port(j, 0), pidfile);
	tl_json_free(j);
	for (i = 0; i < NSIGNALS; i++) {
		k = rand_r(seed) % 3;
		sent[k]++;
		if (tl_daemon_kill(&d, sigs[k]) == -1)
			break;
		if (yield)
			(void)sched_yield();
	}
	ok(i == NSIGNALS, "%s: %d signals sent (%d HUP, %d TTIN, %d TTOU)",
	    what, i, sent[0], sent[1], sent[2]);

	/* A last HUP: every signal of the burst is taken by then. */
	j = tl_status(&d);
	w.hups = tl_json_int(j, "reload.requests", 0);
	tl_json_free(j);
	tl_daemon_kill(&d, SIGHUP);
	j = tl_status_wait(&d, pred_settled, &w, WAIT_MS);
	ok(j != NULL, "%s: drover settles, one generation (%lld) on every "
	    "slot, the reload ok", what, tl_json_int(j, "generation", 0));
	want = replay(&d, &taken);
	is_int(want, tl_json_int(j, "workers", -1), "%s: on the %d workers "
	    "the %d signals it took imply", what, want, taken);
	ok(tl_json_int(j, "reload.requests", 0) <= sent[0] + 1,
	    "%s: %lld HUPs counted, of %d sent", what,
	    tl_json_int(j, "reload.requests", 0), sent[0] + 1);
	tl_check_true(&d, j, what, 0);
	tl_json_free(j);
	ok(tl_daemon_kill(&d, 0) == 0 && !d.exited && tl_log_count(&d,
	    "fatal") == 0, "%s: the master lives", what);
	if (pidfile) {
		text = tl_slurp(pf);
		ok(text != NULL && atol(text) == (long)d.pid, "%s: the pid "
		    "file names the master", what);
		free(text);
	}
	tl_check_client(&c, NULL, what, 10, 0);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "%s: drover stops with "
	    "status 0", what);
	if (pidfile)
		ok(access(pf, F_OK) == -1, "%s: the pid file is removed",
		    what);
}

int
main(void)
{
	const char	*env = getenv("DROVER_BURST_SEED");
	unsigned int	 seed;

	plan_lazy();
	hello = tl_path("examples/hello-c/hello-c");
	seed = env != NULL ? (unsigned int)strtoul(env, NULL, 10) : 20261130;
	diag("seed %u (DROVER_BURST_SEED)", seed);
	test_burst(0, 0, &seed);
	test_burst(1, 0, &seed);
	test_burst(1, 1, &seed);
	return 0;
}
