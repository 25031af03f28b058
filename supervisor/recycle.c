/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Recycling: a worker whose resident memory stays above max_memory, or
 * that has lived max_age, is replaced exactly as a reload replaces one
 * slot's worker: the replacement starts on the slot's sockets while the
 * old worker serves on (slot_replace), proves itself as a reload's new
 * worker would (ready; in exec mode, reload_grace), and only then is the
 * old one sent its stop signal.  Never more than reload_batch slots
 * recycle at once, and none starts during a reload or an upgrade (one
 * under way finishes).  A replacement that dies before it is ready gives
 * the slot back to the old worker, which is tried again after a delay
 * that doubles from restart_delay up to restart_delay_max.
 *
 * What is due is found on the master's one-second tick (status.c's, that
 * refreshes `live`): no timer of its own.  The memory is that of the
 * worker process alone, its children not counted, read from
 * /proc/PID/statm once a tick and only when max_memory is set; it must
 * be over the limit RECYCLE_MEM_TICKS ticks in a row, so that a short
 * peak is no reason.  A worker's max_age is shortened by up to a tenth,
 * at random, so that workers started together do not recycle together.
 * Both limits are those of the worker's own generation.  What is due is
 * acted on by the engine (recycle_engine(), from reload.c's pass).
 */

#include "config.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover-master.h"

#define RECYCLE_MEM_TICKS	3	/* seconds over max_memory */
#define RECYCLE_JITTER		0.1	/* of max_age, at most */

static const char *recycle_due(struct worker *, ev_tstamp);
static void	 recycle_backoff(struct slot *);
static void	 recycle_set(struct slot *, const char *);

/*
 * So that the engine's pass costs nothing when nothing recycles: the
 * slots whose recycle is under way, and whether the last tick found a
 * worker due.
 */
static int	 recycle_nslots;
static int	 recycle_waiting;

/*
 * Whether worker w (ready, serving alone in its slot) is due for
 * recycling now, and why: "max_age", "max_memory" or NULL.
 */
static const char *
recycle_due(struct worker *w, ev_tstamp now)
{
	const struct config	*c = w->w_conf;
	double			 rss;

	if (c->c_max_age > 0) {
		if (w->w_deadline == 0)
			w->w_deadline = w->w_started + c->c_max_age *
			    (1 - RECYCLE_JITTER * arc4random() / UINT32_MAX);
		if (now >= w->w_deadline) {
			log_info("slot %d: worker %ld (gen %llu) is %.0fs old, "
			    "max_age is %gs: recycling it", w->w_slot->s_id,
			    (long)w->w_pid, (unsigned long long)w->w_gen,
			    now - w->w_started, c->c_max_age);
			return "max_age";
		}
	}
	if (c->c_max_memory <= 0 || metrics_proc(w->w_pid, 0, &rss) == -1)
		return NULL;
	if (rss <= (double)c->c_max_memory) {
		w->w_memticks = 0;
		return NULL;
	}
	if (++w->w_memticks < RECYCLE_MEM_TICKS)
		return NULL;
	log_info("slot %d: worker %ld (gen %llu) has used %.1fM for %ds, "
	    "max_memory is %.1fM: recycling it", w->w_slot->s_id,
	    (long)w->w_pid, (unsigned long long)w->w_gen, rss / 1048576,
	    RECYCLE_MEM_TICKS, (double)c->c_max_memory / 1048576);
	return "max_memory";
}

/*
 * The one-second tick: mark the workers that are due, and let the engine
 * run while one waits for its turn.
 */
void
recycle_tick(void)
{
	struct slot	*s;
	struct worker	*w;
	ev_tstamp	 now = ev_now(EV_DEFAULT);
	int		 k, waiting = 0;

	for (k = 0; k < master.m_nslots; k++) {
		s = master.m_slots[k];
		w = SLOT_CUR(s);
		if (s->s_state != SLOT_READY || w->w_pid == 0 ||
		    w->w_termsent || SLOT_OLD(s)->w_pid != 0)
			continue;
		if (w->w_recycle == NULL &&
		    (w->w_recycle = recycle_due(w, now)) != NULL)
			status_changed();
		waiting |= w->w_recycle != NULL;
	}
	recycle_waiting = waiting;
	if (waiting)
		reload_due();
}

/* Slot s recycles now, for why, or no longer (NULL). */
static void
recycle_set(struct slot *s, const char *why)
{
	recycle_nslots += (why != NULL) - (s->s_recycle != NULL);
	s->s_recycle = why;
}

/*
 * The engine's part: finish the recycles under way (the old worker stops
 * once its replacement is ready), then, outside a reload or an upgrade,
 * start those that are due, while fewer than reload_batch slots have an
 * old worker, serving or stopping.
 */
void
recycle_engine(int target)
{
	struct slot	*s;
	struct worker	*cur, *old;
	ev_tstamp	 now = ev_now(EV_DEFAULT);
	int		 k, busy, batch;

	for (k = 0; k < master.m_nslots && recycle_nslots > 0; k++) {
		s = master.m_slots[k];
		cur = SLOT_CUR(s);
		old = SLOT_OLD(s);
		if (s->s_recycle == NULL)
			continue;
		if (old->w_pid == 0 || old->w_termsent ||
		    s->s_state == SLOT_RETIRING) {
			/* Overtaken: the old worker left, or was stopped. */
			recycle_set(s, NULL);
			status_changed();
		} else if (s->s_state == SLOT_READY && cur->w_ready) {
			log_info("slot %d: worker %ld (gen %llu) is ready: "
			    "recycled worker %ld (%s) is asked to stop",
			    s->s_id, (long)cur->w_pid,
			    (unsigned long long)cur->w_gen, (long)old->w_pid,
			    s->s_recycle);
			old->w_killreason = s->s_recycle;
			recycle_set(s, NULL);
			s->s_recycle_fails = 0;
			slot_term_old(s);
		}
	}
	if (!recycle_waiting || master.m_reloading || master.m_stopping ||
	    upgrade_busy())
		return;
	/* A stopping old worker holds its place, as in a reload. */
	busy = master.m_nold;
	batch = reload_batch(master.m_conf, target);
	for (k = 0; k < target && busy < batch; k++) {
		s = master.m_slots[k];
		cur = SLOT_CUR(s);
		if (cur->w_recycle == NULL || s->s_state != SLOT_READY ||
		    cur->w_termsent || SLOT_OLD(s)->w_pid != 0 ||
		    now < s->s_recycle_next)
			continue;
		if (slot_replace(s, START_RECYCLE) == -1) {
			recycle_backoff(s);
			continue;
		}
		recycle_set(s, SLOT_OLD(s)->w_recycle);
		busy++;
	}
}

/*
 * A recycle of slot s failed: it is tried again after a delay that
 * doubles with each failure in a row.
 */
static void
recycle_backoff(struct slot *s)
{
	const struct config	*c = master.m_conf;
	double			 delay = c->c_restart_delay;
	unsigned int		 i;

	s->s_recycle_fails++;
	for (i = 1; i < s->s_recycle_fails && delay < c->c_restart_delay_max;
	    i++)
		delay *= 2;
	if (delay > c->c_restart_delay_max)
		delay = c->c_restart_delay_max;
	s->s_recycle_next = ev_now(EV_DEFAULT) + delay;
	log_warnx("slot %d: the replacement of a worker due for recycling "
	    "failed; the worker serves on, next try in %gs", s->s_id, delay);
}

/*
 * The current worker of slot s has ended by itself.  If it was the
 * replacement of a recycle and the old worker still serves, the slot is
 * given back to the old worker, which is tried again later: returns 1.
 * Else 0: the exit is the slot's business as any other.
 */
int
recycle_failed(struct slot *s)
{
	struct worker	*old = SLOT_OLD(s);

	if (s->s_recycle == NULL || old->w_pid == 0 || old->w_termsent)
		return 0;
	recycle_set(s, NULL);
	recycle_backoff(s);
	slot_revert(s);
	return 1;
}
