/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The libev helper of libdrover: on a loop the caller owns, a timer that
 * sends WATCHDOG=1 twice per watchdog interval, and, only if the caller
 * passes a callback, signal watchers for SIGTERM and SIGINT that call it.
 * These are the only signal handlers the library ever installs.  The
 * watchers are unreferenced (ev_unref), so they do not keep ev_run() from
 * returning once the worker's own watchers are gone: a worker that stops
 * accepting on SIGTERM and lets its connections finish simply falls out
 * of its loop.  drover_close() stops them through dw_ev_stop, so that a
 * program that never calls drover_ev_start() does not need libev at link
 * time.
 */

#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>

#include <ev.h>

#include "drover.h"
#include "libdrover-private.h"

static void	 dw_ev_watchdog_cb(struct ev_loop *, ev_timer *, int);
static void	 dw_ev_signal_cb(struct ev_loop *, ev_signal *, int);

/*
 * The watchdog timer: tell the supervisor we are alive.  A failure has
 * nowhere to go (the library does not print); the next tick tries again.
 */
static void
dw_ev_watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	(void)drover_watchdog(w->data);
}

/* SIGTERM or SIGINT: hand it to the caller's callback. */
static void
dw_ev_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct drover_worker	*dw = w->data;

	(void)loop;
	(void)revents;
	dw->dw_on_term(dw, dw->dw_arg);
}

/*
 * Start the helper's watchers on loop: the watchdog timer if
 * WATCHDOG_USEC is set for us, the signal watchers if on_term is not
 * NULL.  Returns 0, or -1 with EINVAL (no handle or loop) or EBUSY
 * (already started; drover_ev_stop() first).
 */
int
drover_ev_start(struct drover_worker *dw, struct ev_loop *loop,
    void (*on_term)(struct drover_worker *, void *), void *arg)
{
	ev_tstamp	 every;

	if (dw == NULL || loop == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (dw->dw_loop != NULL) {
		errno = EBUSY;
		return -1;
	}
	dw->dw_loop = loop;
	dw->dw_on_term = on_term;
	dw->dw_arg = arg;
	dw->dw_ev_stop = drover_ev_stop;

	ev_init(&dw->dw_wdtimer, dw_ev_watchdog_cb);
	dw->dw_wdtimer.data = dw;
	if (dw->dw_wdusec > 0) {
		every = (ev_tstamp)dw->dw_wdusec / 2e6;
		ev_timer_set(&dw->dw_wdtimer, every, every);
		/* The loop may have slept long before this call. */
		ev_now_update(loop);
		ev_timer_start(loop, &dw->dw_wdtimer);
		ev_unref(loop);
	}

	ev_signal_init(&dw->dw_sigterm, dw_ev_signal_cb, SIGTERM);
	dw->dw_sigterm.data = dw;
	ev_signal_init(&dw->dw_sigint, dw_ev_signal_cb, SIGINT);
	dw->dw_sigint.data = dw;
	if (on_term != NULL) {
		ev_signal_start(loop, &dw->dw_sigterm);
		ev_unref(loop);
		ev_signal_start(loop, &dw->dw_sigint);
		ev_unref(loop);
	}
	return 0;
}

/*
 * Stop whatever drover_ev_start() started, giving back the loop
 * references it dropped.  Once the signal watchers are stopped, SIGTERM
 * and SIGINT have their default action again.  A handle whose helper is
 * not running is left alone.
 */
void
drover_ev_stop(struct drover_worker *dw)
{
	if (dw == NULL || dw->dw_loop == NULL)
		return;
	if (ev_is_active(&dw->dw_wdtimer)) {
		ev_ref(dw->dw_loop);
		ev_timer_stop(dw->dw_loop, &dw->dw_wdtimer);
	}
	if (ev_is_active(&dw->dw_sigterm)) {
		ev_ref(dw->dw_loop);
		ev_signal_stop(dw->dw_loop, &dw->dw_sigterm);
	}
	if (ev_is_active(&dw->dw_sigint)) {
		ev_ref(dw->dw_loop);
		ev_signal_stop(dw->dw_loop, &dw->dw_sigint);
	}
	dw->dw_loop = NULL;
	dw->dw_on_term = NULL;
	dw->dw_arg = NULL;
}
