/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Pacing work that costs in proportion to what it covers, such as
 * status.json (a write of every slot) and the steering program (made
 * over every slot, then checked and compiled by the kernel), while
 * changes come faster than it is worth doing it for each: it is done at
 * once after a quiet spell, else once at the end of a gap after the last
 * time, with whatever changed meanwhile.  The gap is in proportion to
 * what the last time cost, up to a most, so that the work takes a small
 * share of the master's time however many slots change.
 */

#include "config.h"

#include <ev.h>

#include "drover-master.h"

static void	 pace_cb(struct ev_loop *, ev_timer *, int);

/*
 * Whether the work may be done now: the gap after the last time has
 * passed.  If so the caller does it and calls pace_done(); if not, the
 * work's p_fn is called at the end of the gap, once however many times
 * this was asked meanwhile.
 */
int
pace_due(struct pace *p)
{
	ev_tstamp	 wait = p->p_last + p->p_gap - ev_now(EV_DEFAULT);

	if (wait <= 0)
		return 1;
	if (!ev_is_active(&p->p_timer)) {
		ev_timer_init(&p->p_timer, pace_cb, wait, 0);
		p->p_timer.data = p;
		ev_timer_start(EV_DEFAULT, &p->p_timer);
	}
	return 0;
}

/*
 * The work was done, and the next time should wait gap seconds (at most
 * p_max; a negative gap keeps the one before).  The gap runs from the end
 * of the work, on the clock, not on the loop's time, which is behind by
 * all the iteration did.
 */
void
pace_done(struct pace *p, ev_tstamp gap)
{
	pace_stop(p);
	p->p_last = ev_time();
	if (gap >= 0)
		p->p_gap = gap < p->p_max ? gap : p->p_max;
}

/*
 * Whether the work waits for the end of the gap: its timer runs, or has
 * expired and its callback is still to be called in this iteration of
 * the loop (another watcher's callback may come first).
 */
int
pace_pending(struct pace *p)
{
	return ev_is_active(&p->p_timer) || ev_is_pending(&p->p_timer);
}

/* No work is due any longer (a watcher never started is fine). */
void
pace_stop(struct pace *p)
{
	ev_timer_stop(EV_DEFAULT, &p->p_timer);
}

static void
pace_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct pace	*p = t->data;

	(void)loop;
	(void)revents;
	p->p_fn();
}
