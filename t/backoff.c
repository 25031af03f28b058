/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * A crash loop: a worker that dies at once (before it is known to be
 * ready, or just after: the first of those deaths is restarted at once)
 * is restarted after a delay that doubles with each failure, with
 * jitter, up to restart_delay_max;
 * after restart_budget restarts inside restart_window the slot is
 * "failed" and stops being restarted until the window frees up.
 */

#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "testlib.h"

#define BUDGET	5

/* What the observer saw: the backoff_ms for each failure count. */
struct seen {
	long long	 delay[16];
};

static int	 observe(const struct tl_json *, void *);

/*
 * Record the delay of each failure count while the slot waits; done
 * when the slot is failed.
 */
static int
observe(const struct tl_json *j, void *arg)
{
	struct seen	*sn = arg;
	const char	*st = tl_json_str(j, "slots.0.state");
	long long	 f = tl_json_int(j, "slots.0.failures", 0);

	if (st != NULL && strcmp(st, "backoff") == 0 && f > 0 && f < 16)
		sn->delay[f] = tl_json_int(j, "slots.0.backoff_ms", -1);
	return st != NULL && strcmp(st, "failed") == 0;
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct seen		 sn;
	const char		*argv[] = { "-w", "1", "--", "/bin/sh", "-c",
				    "exit 3", NULL };
	long long		 want, f, n = 0;

	plan_lazy();
	tl_start_conf(&d, tl_fmt("restart_delay = 100ms\n"
	    "restart_delay_max = 800ms\nrestart_budget = %d\n"
	    "restart_window = 1h\n", BUDGET), argv, 0);

	memset(&sn, 0xff, sizeof(sn));
	j = tl_status_wait(&d, observe, &sn, 20000);
	ok(j != NULL, "the crash-looping slot ends up failed");
	if (j == NULL)
		bail("no failed state");

	/* Delay for failure f: 100ms doubling, capped, in its upper half. */
	for (f = 1; f <= BUDGET; f++) {
		if (sn.delay[f] < 0)
			continue;
		n++;
		want = 100LL << (f - 1);
		if (want > 800)
			want = 800;
		ok(sn.delay[f] >= want / 2 && sn.delay[f] <= want,
		    "failure %lld: backoff %lld ms within [%lld, %lld]", f,
		    sn.delay[f], want / 2, want);
	}
	ok(n >= 3, "saw the backoff of %lld failures", n);
	ok(sn.delay[1] >= 0 && sn.delay[4] >= 0 && sn.delay[4] > sn.delay[1],
	    "the backoff grew (%lld ms, then %lld ms)", sn.delay[1],
	    sn.delay[4]);

	is_string("failed", tl_json_str(j, "slots.0.state"), "state failed");
	is_int(BUDGET, tl_json_int(j, "slots.0.restarts", -1),
	    "it was restarted restart_budget times");
	is_int(0, tl_json_int(j, "slots.0.pid", -1), "no worker runs");
	is_int(3, tl_json_int(j, "slots.0.last_exit.code", -1),
	    "last_exit.code is the worker's exit status");
	is_string("exited 3", tl_json_str(j, "slots.0.last_exit.status"),
	    "last_exit.status spells it");
	ok(tl_json_bool(j, "ready") == 0, "the cluster is not ready");
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, "slot 0: restart budget spent (5 restarts "
	    "in 3600s)", 5000), "the log says the budget is spent");

	/* Nothing is restarted while the window is full. */
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, 1500);
	ok(j == NULL, "no restart while the budget is spent");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 10000), "drover stops with status 0");
	return 0;
}
