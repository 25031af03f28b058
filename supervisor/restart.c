/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * What happens to a slot by itself: the events its workers report
 * (exited, exec'd, READY=1, STOPPING=1, RELOADING=1), its timer (restart
 * delay, failed slot's wait, reload grace, ready timeout, drain check)
 * and its own restart policy.  A worker that had been up for
 * restart_reset is replaced at once, and so is the first ready one that
 * dies sooner: a lone crash costs no more than the fork.  A second quick death
 * since the last long life is a failure and waits a delay that doubles
 * with each consecutive failure, from restart_delay up to
 * restart_delay_max, with jitter so that slots failing together do not
 * restart together.  Every respawn is recorded;
 * restart_budget of them within restart_window puts the slot in
 * SLOT_FAILED until the oldest leaves the window.  A worker exiting 78
 * halts its slot.  Each event is recorded through slot_change() (slot.c)
 * and handed to the engine (reload.c) to decide what else follows.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

static void	 slot_record(struct worker *, int, int);
static void	 slot_own_exit(struct slot *, struct worker *, int, double);

/*
 * The restart delay after one more consecutive failure: restart_delay,
 * doubling up to restart_delay_max.
 */
double
slot_delay(struct slot *s)
{
	const struct config	*c = master.m_conf;
	double			 delay = c->c_restart_delay;
	unsigned int		 i;

	s->s_failures++;
	for (i = 1; i < s->s_failures && delay < c->c_restart_delay_max; i++)
		delay *= 2;
	return delay > c->c_restart_delay_max ? c->c_restart_delay_max : delay;
}

/* Wait delay seconds (after jitter) in SLOT_BACKOFF, then respawn. */
void
slot_schedule(struct slot *s, double delay)
{
	/* Jitter: somewhere in the upper half of the delay. */
	delay = delay / 2 + delay / 2 * ((double)arc4random() / UINT32_MAX);
	s->s_delay = delay;
	slot_grace(s, delay);
	slot_change(s, SLOT_BACKOFF, SLOT_OP_NONE);
}

/* Run the slot's timer for delay seconds from now. */
void
slot_grace(struct slot *s, double delay)
{
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	ev_timer_set(&s->s_timer, delay, 0);
	ev_timer_start(EV_DEFAULT, &s->s_timer);
}

/*
 * Start a worker of the current generation in slot s, as its current
 * worker.  A restart is first checked against the budget: with
 * restart_budget respawns already inside restart_window the slot waits,
 * failed, until the oldest of them leaves the window.  A worker that
 * cannot be started (no process, no descriptor) is a failed start.
 */
void
slot_spawn(struct slot *s, int restart)
{
	const struct config	*c = master.m_conf;
	ev_tstamp		 now = ev_now(EV_DEFAULT), oldest;
	unsigned int		 budget = (unsigned int)c->c_restart_budget;

	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	if (s->s_nhist != budget) {
		/* First restart, or the budget changed in a reload. */
		free(s->s_hist);
		s->s_hist = xcalloc(budget, sizeof(*s->s_hist));
		s->s_nhist = budget;
		s->s_hist_next = 0;
	}
	if (restart) {
		oldest = s->s_hist[s->s_hist_next % budget];
		if (oldest > 0 && now - oldest < c->c_restart_window) {
			if (s->s_state != SLOT_FAILED)
				log_warnx("slot %d: restart budget spent (%u "
				    "restarts in %gs); next try in %.1fs",
				    s->s_id, budget, c->c_restart_window,
				    oldest + c->c_restart_window - now);
			slot_grace(s, oldest + c->c_restart_window - now);
			slot_change(s, SLOT_FAILED, SLOT_OP_NONE);
			return;
		}
		s->s_hist[s->s_hist_next % budget] = now;
		s->s_hist_next = (s->s_hist_next + 1) % budget;
		s->s_restarts++;
	}
	if (slot_start(s, SLOT_CUR(s), master.m_conf) == -1) {
		reload_failed_start(SLOT_CUR(s), -1);
		slot_schedule(s, slot_delay(s));
		return;
	}
	master.m_starts[restart ? START_RESTART : START_NEW]++;
	slot_change(s, SLOT_STARTING, SLOT_OP_STARTED);
	if (c->c_ready == READY_NOTIFY)
		slot_grace(s, c->c_ready_timeout);
}

/*
 * Record how worker w ended in its slot and log it: expected (asked to
 * stop, or the master stops) or not.
 */
static void
slot_record(struct worker *w, int status, int expected)
{
	struct slot	*s = w->w_slot;
	char		 how[128];

	s->s_last.x_pid = w->w_pid;
	s->s_last.x_status = status;
	s->s_last.x_execerr = w->w_execerr;
	s->s_last.x_execstep = w->w_execstep;
	s->s_last.x_reason = w->w_killreason;
	metrics_ended(w, status, expected);
	if (w->w_execerr != 0)
		spawn_report(w);
	else if (expected)
		log_info("slot %d: worker %ld (gen %llu) %s", s->s_id,
		    (long)w->w_pid, (unsigned long long)w->w_gen,
		    log_status(status, 0, how, sizeof(how)));
	else
		log_warnx("slot %d: worker %ld (gen %llu) %s after %.1fs",
		    s->s_id, (long)w->w_pid, (unsigned long long)w->w_gen,
		    log_status(status, 0, how, sizeof(how)),
		    ev_time() - w->w_started);
	w->w_pid = 0;
	master.m_nworkers--;
	config_release(w->w_conf);
	w->w_conf = NULL;
}

/*
 * Worker w has exited with the wait status status.  Record it; an old
 * worker, or a current one that was asked to stop, leaves its slot to the
 * engine; an unexpected exit of the current worker is the slot's own
 * business (slot_own_exit).
 */
void
slot_exited(struct worker *w, int status)
{
	struct slot	*s = w->w_slot;
	double		 up = ev_time() - w->w_started;
	int		 expected = master.m_stopping || w->w_termsent;
	int		 confirmed = reload_proven(w);

	if (w == SLOT_OLD(s)) {
		slot_record(w, status, expected);
		slot_change(s, s->s_state, SLOT_OP_OLD_GONE);
		return;
	}
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	slot_record(w, status, expected);
	if (s->s_state == SLOT_RETIRING) {
		slot_change(s, SLOT_RETIRING, SLOT_OP_CUR_GONE);
		/* What is still queued needs a worker before it closes. */
		if (!w->w_termsent && group_queued(s->s_id) > 0)
			slot_grace(s, slot_delay(s));
		return;
	}
	if (expected) {
		slot_change(s, SLOT_EMPTY, SLOT_OP_CUR_GONE);
		return;
	}
	/* A recycle's replacement failed: the old worker serves on. */
	if (recycle_failed(s))
		return;
	if (!confirmed)
		reload_failed_start(w, status);
	if (w->w_gen != master.m_gen) {
		/* Of a generation no longer current: the engine refills. */
		slot_change(s, SLOT_EMPTY, SLOT_OP_CUR_GONE);
		return;
	}
	slot_own_exit(s, w, status, up);
}

/*
 * The slot's own restart policy after its current worker died: halt on
 * exit 78, restart at once after a long life or after the first quick
 * death since one of a worker that was ready, else back off.  A worker
 * that could not be executed, or never became ready, backs off from the
 * first try: it is a failed start, not a crash.  (The
 * forgiveness does not cross an upgrade: a new image may forgive one
 * quick death more.)
 */
static void
slot_own_exit(struct slot *s, struct worker *w, int status, double up)
{
	if (w->w_execerr == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == EXIT_CONFIG) {
		log_warnx("slot %d: worker exited %d (its configuration is "
		    "broken): not restarting it", s->s_id, EXIT_CONFIG);
		slot_change(s, SLOT_HALTED, SLOT_OP_CUR_GONE);
		return;
	}
	if (w->w_execerr == 0 && (up >= master.m_conf->c_restart_reset ||
	    (w->w_ready && s->s_failures == 0 && !s->s_forgiven))) {
		s->s_forgiven = up < master.m_conf->c_restart_reset;
		s->s_failures = 0;
		s->s_delay = 0;
		slot_spawn(s, 1);
		return;
	}
	slot_schedule(s, slot_delay(s));
}

/*
 * The exec report of worker w says its program runs.  In exec mode that
 * makes it ready, except during a reload, where a worker of the new
 * generation is confirmed only once it has lived reload_grace.
 */
void
slot_exec_ok(struct worker *w)
{
	struct slot	*s = w->w_slot;

	master.m_execlogged = 0;
	if (w != SLOT_CUR(s) || w->w_conf->c_ready != READY_EXEC ||
	    s->s_state != SLOT_STARTING)
		return;
	/* A recycle's replacement proves itself as a reload's would. */
	if (((master.m_reloading == RELOAD_FORWARD &&
	    w->w_gen == master.m_gen) || s->s_recycle != NULL) &&
	    w->w_conf->c_reload_grace > 0) {
		slot_grace(s, w->w_conf->c_reload_grace);
		return;
	}
	slot_change(s, SLOT_READY, SLOT_OP_NONE);
}

/*
 * READY=1 from worker w.  In notify mode a starting worker is ready (its
 * ready timeout is over); during a reload, the first workers of the new
 * generation must then live reload_grace before the old ones stop
 * (reload.c).  In exec mode, READY=1 changes nothing while a worker of a
 * reload lives its grace; otherwise it ends a RELOADING=1.
 */
void
slot_notify_ready(struct worker *w)
{
	struct slot	*s = w->w_slot;

	if (w->w_closing || w != SLOT_CUR(s))
		return;
	if (s->s_state == SLOT_RETIRING && w->w_conf->c_ready ==
	    READY_NOTIFY && !w->w_ready) {
		/* Worth knowing if the slot is wanted again (unretire). */
		w->w_ready = 1;
		return;
	}
	if (s->s_state != SLOT_STARTING)
		return;
	/* It speaks, so it has exec'd: take the report first. */
	if (w->w_execfd != -1) {
		if (!worker_exec_read(w))
			return;
		slot_exec_ok(w);
	}
	if (w->w_conf->c_ready == READY_EXEC) {
		/* Only the end of a RELOADING=1; a reload grace runs on. */
		if (s->s_state == SLOT_STARTING && !ev_is_active(&s->s_timer))
			slot_change(s, SLOT_READY, SLOT_OP_NONE);
		return;
	}
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	slot_change(s, SLOT_READY, SLOT_OP_NONE);
	if (master.m_reloading == RELOAD_FORWARD && w->w_gen == master.m_gen &&
	    !master.m_reload_proven && w->w_conf->c_reload_grace > 0)
		slot_grace(s, w->w_conf->c_reload_grace);
}

/*
 * STOPPING=1: the worker is going away by itself (say, to recycle).  The
 * slot stops counting as ready and takes no new connections; when the
 * worker exits, the slot is refilled as after any exit.
 */
void
slot_notify_stopping(struct worker *w)
{
	struct slot	*s = w->w_slot;

	if (w->w_closing || w != SLOT_CUR(s) || (s->s_state != SLOT_READY &&
	    s->s_state != SLOT_STARTING))
		return;
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	log_info("slot %d: worker %ld says it is stopping", s->s_id,
	    (long)w->w_pid);
	slot_change(s, SLOT_STOPPING, SLOT_OP_NONE);
}

/* RELOADING=1: not ready until the worker sends READY=1 again. */
void
slot_notify_reloading(struct worker *w)
{
	struct slot	*s = w->w_slot;

	if (w->w_closing || w != SLOT_CUR(s) || s->s_state != SLOT_READY)
		return;
	slot_change(s, SLOT_STARTING, SLOT_OP_NONE);
}

/*
 * The slot's timer: the end of a restart delay or of a failed slot's
 * wait, a reload grace, a ready timeout, or a retiring slot's drain
 * check.
 */
void
slot_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct slot	*s = t->data;
	struct worker	*w = SLOT_CUR(s);

	(void)loop;
	(void)revents;
	switch (s->s_state) {
	case SLOT_BACKOFF:
	case SLOT_FAILED:
		slot_spawn(s, 1);
		break;
	case SLOT_STARTING:
		if (w->w_conf->c_ready == READY_EXEC) {
			/* The reload grace is over: it is confirmed. */
			w->w_proven = 1;
			slot_change(s, SLOT_READY, SLOT_OP_NONE);
			break;
		}
		log_warnx("slot %d: worker %ld not ready after %gs: killing "
		    "it", s->s_id, (long)w->w_pid,
		    w->w_conf->c_ready_timeout);
		w->w_killreason = "ready-timeout";
		worker_kill(w, SIGKILL);
		break;
	case SLOT_READY:
		/* A first worker of a reload lived its grace. */
		w->w_proven = 1;
		master.m_reload_proven = 1;
		reload_due();
		break;
	case SLOT_RETIRING:
		/*
		 * Draining: no new connection comes to this slot; once its
		 * queue is empty, or after the stop timeout, its worker may
		 * stop.
		 */
		if (w->w_pid == 0) {
			if (!slot_drain(s))
				reload_due();	/* nothing left: free it */
			break;
		}
		if (w->w_termsent)
			break;
		if (group_queued(s->s_id) > 0 && ev_now(EV_DEFAULT) -
		    s->s_drain < master.m_conf->c_stop_timeout) {
			slot_grace(s, SLOT_DRAIN_CHECK_TIME);
			break;
		}
		slot_change(s, SLOT_RETIRING, SLOT_OP_TERM_CUR);
		break;
	default:
		break;
	}
}
