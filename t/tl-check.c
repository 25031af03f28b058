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

#include "tap.h"
#include "testlib.h"

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
