/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The engine: reloads, rollbacks and scaling.  It runs once per loop
 * iteration, from an ev_prepare watcher of the highest priority, when
 * something happened since it last ran (reload_due: a slot changed, a
 * HUP, a TTIN or TTOU), after every callback of the iteration and before
 * status.json is written; slot code only records events (slot.c,
 * restart.c) and this is where what follows from them is decided, in one
 * place, so that no decision runs inside another one.  Each pass:
 *
 *  1. Scaling: slots are added up to the wanted number (TTIN, a reload
 *     asking for more), a retiring slot wanted again keeps its worker,
 *     and slots above the wanted number retire (TTOU, a reload asking for
 *     fewer); scaling during a reload is merged into it, never refused.
 *  2. Outside a reload, a slot with no worker and nothing to wait for
 *     gets one of the current generation (at start, after a worker of an
 *     older generation left).
 *  3. In a reload, slot by slot: the old worker stops once the slot's new
 *     worker is confirmed; new workers start reload_batch at a time
 *     (reload = all: every slot at once), never more than reload_batch
 *     beyond one per slot, and a new worker not yet confirmed, or failing
 *     and waiting to start again, holds its place in the batch.  A new
 *     worker is confirmed when it is ready and, in exec mode, has lived
 *     reload_grace (READY=1 or not); in notify mode, the first batch must
 *     live reload_grace after READY=1 while the old workers serve on, so
 *     that a version that dies soon after it says it is ready is caught
 *     with the cluster serving; the rest are confirmed at READY=1.
 *  4. A new worker that ends before it is confirmed, or cannot be
 *     started at all (fork, pipe or socket failing), is a failed start;
 *     after reload_retries of them, or at once when one exits 78, the
 *     reload rolls back: the previous generation is current again, slots
 *     whose old worker still serves get it back at once, workers of the
 *     abandoned generation that do not serve are asked to stop, and every
 *     other slot is replaced by the previous generation as in a reload.
 *  5. Retired slots whose workers are gone are freed; a reload is over
 *     when every wanted slot runs a confirmed worker of the current
 *     generation (or is halted or failed) and no other worker is left, so
 *     at most two generations ever run.  A SIGHUP meanwhile is remembered
 *     and starts one more reload afterwards.
 *
 * SIGHUP reads the file, then the same command-line options as at start,
 * into a new struct config; a bad one is logged with file:line, recorded
 * as "invalid-config" and changes nothing; a good one becomes generation
 * g+1, sharing the listeners of the addresses it keeps.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover-master.h"

static void	 reload_begin(void);
static void	 reload_finish(void);
static void	 reload_rollback(void);
static void	 reload_invalid(const char *, const char *);
static void	 reload_engine(void);
static void	 reload_scale_slots(int);
static void	 reload_refill(int);
static void	 reload_roll(int);
static int	 reload_roll_slot(struct slot *, int *, int *, int);
static int	 reload_confirmed(const struct slot *);
static int	 reload_done(int);
static void	 reload_prepare_cb(struct ev_loop *, ev_prepare *, int);
static void	 reload_retry_cb(struct ev_loop *, ev_timer *, int);

static ev_prepare	 reload_prepare;
static ev_timer		 reload_retry;	/* a start that failed: try again */
/*
 * In a reload, the slots below this one have a worker of the current
 * generation: where the search for the next slot to replace starts.  A
 * slot keeps its generation once it has it (a restart starts the current
 * one), until a rollback changes the generation and sets this back to 0.
 */
static int		 reload_next;

/*
 * Start the engine's watcher: an ev_prepare of the highest priority, so
 * that its decisions are made before status.json is written in the same
 * iteration.
 */
void
reload_engine_init(void)
{
	ev_prepare_init(&reload_prepare, reload_prepare_cb);
	ev_set_priority(&reload_prepare, EV_MAXPRI);
	ev_prepare_start(EV_DEFAULT, &reload_prepare);
	ev_init(&reload_retry, reload_retry_cb);
}

/* Something happened that the engine must look at. */
void
reload_due(void)
{
	master.m_due = 1;
}

/*
 * Once per loop iteration: run the engine while something is due.  Its
 * own actions make it due again, so a pass that changes nothing ends it;
 * the number of passes is bounded all the same.
 */
static void
reload_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	int	 n;

	(void)loop;
	(void)p;
	(void)revents;
	for (n = 0; master.m_due && n < 64; n++) {
		master.m_due = 0;
		reload_engine();
	}
}

/* A replacement that could not be started is tried again. */
static void
reload_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	reload_due();
}

/* One pass of the engine (see the top of this file). */
static void
reload_engine(void)
{
	int	 target;

	if (master.m_stopping)
		return;
	reload_scale_slots(master.m_conf->c_workers);
	target = slot_target();
	if (master.m_reloading == RELOAD_FORWARD && (master.m_reload_halt ||
	    master.m_reload_fails > master.m_conf->c_reload_retries))
		reload_rollback();
	if (master.m_reloading)
		reload_roll(target);
	else
		reload_refill(target);
	recycle_engine(target);
	slot_free_retired();
	if (master.m_reloading && reload_done(master.m_conf->c_workers))
		reload_finish();
	master_check_halted();
}

/*
 * Make the slot table as large as wanted: add slots (their workers start
 * in the same pass), keep a retiring slot that is wanted again, retire
 * the slots above.  When the sockets of new slots cannot be opened, the
 * wanted number comes down to what there is.
 */
static void
reload_scale_slots(int want)
{
	struct slot	*s;
	int		 k;

	if (master.m_nslots < want && slot_add(want - master.m_nslots) == -1) {
		log_warnx("cannot add %d slots: keeping %d workers",
		    want - master.m_nslots, master.m_nslots);
		master.m_conf->c_workers = master.m_nslots;
		if (master.m_prev != NULL)
			master.m_prev->c_workers = master.m_nslots;
		want = master.m_nslots;
	}
	for (k = 0; k < want && k < master.m_nslots; k++) {
		s = master.m_slots[k];
		if (s->s_state == SLOT_RETIRING)
			slot_unretire(s);
	}
	for (k = master.m_nslots - 1; k >= want; k--)
		slot_retire(master.m_slots[k]);
}

/*
 * Outside a reload: a wanted slot with no worker and nothing to wait for
 * gets one of the current generation.
 */
static void
reload_refill(int target)
{
	struct slot	*s;
	int		 k;

	for (k = 0; k < target && master.m_nempty > 0; k++) {
		s = master.m_slots[k];
		if (s->s_state == SLOT_EMPTY && SLOT_CUR(s)->w_pid == 0 &&
		    SLOT_OLD(s)->w_pid == 0)
			slot_spawn(s, s->s_last.x_pid != 0);
	}
}

/*
 * Whether worker w has proven itself, the one definition both the engine
 * (is the slot's new worker confirmed?) and an exit (was it a failed
 * start?) use: it has been ready and, while a reload goes forward, lived
 * its reload grace (exec mode: it only becomes ready then; notify mode:
 * the first batch must live it, see the top of this file), or there is
 * no grace.  Outside a forward reload, or going back to the previous
 * generation, which is known, ready is enough.
 */
int
reload_proven(const struct worker *w)
{
	return w->w_ready && (master.m_reloading != RELOAD_FORWARD ||
	    w->w_proven || master.m_reload_proven ||
	    w->w_conf->c_ready == READY_EXEC ||
	    w->w_conf->c_reload_grace <= 0);
}

/*
 * How many slots a rolling reload (or recycling) of target slots replaces
 * at a time: reload_batch, or by default a quarter of them, rounded up.
 * One at a time would make a reload of a thousand workers in exec mode
 * last a thousand reload_graces; a quarter makes it four, while the old
 * workers of the other three quarters serve on, and at most a quarter
 * more workers than slots run at once (Kubernetes rolls a Deployment out
 * with the same 25% of surge by default).  Up to 4 slots that is 1.
 */
int
reload_batch(const struct config *c, int target)
{
	if (c->c_reload_batch > 0)
		return c->c_reload_batch;
	return target > 4 ? (target + 3) / 4 : 1;
}

/* Whether slot s serves with a confirmed current worker. */
static int
reload_confirmed(const struct slot *s)
{
	return s->s_state == SLOT_READY && reload_proven(SLOT_CUR(s));
}

/*
 * In a reload, forward or back: move every wanted slot towards a
 * confirmed worker of the current generation, a batch at a time.
 */
static void
reload_roll(int target)
{
	const struct config	*c = master.m_conf;
	int			 batch, pending = 0, extra, k;

	batch = c->c_reload == RELOAD_ALL ? target : reload_batch(c, target);
	/*
	 * The workers beyond one per slot: the slots with an old worker.
	 * (Counting workers less slots would let a slot with no worker,
	 * halted or waiting to restart, make room for one more.)
	 */
	extra = master.m_nold;
	/* First what is under way (it holds the batch), then new starts. */
	for (k = 0; k < target; k++)
		(void)reload_roll_slot(master.m_slots[k], &pending, &extra, 0);
	/* After a start that failed, none until its retry delay is over. */
	if (ev_is_active(&reload_retry))
		return;
	while (reload_next < target &&
	    SLOT_CUR(master.m_slots[reload_next])->w_gen == master.m_gen)
		reload_next++;
	for (k = reload_next; k < target && pending < batch && extra < batch;
	    k++)
		(void)reload_roll_slot(master.m_slots[k], &pending, &extra, 1);
}

/*
 * One slot of a reload.  Without start: stop an old worker whose
 * replacement is confirmed, stop a worker of the abandoned generation
 * that does not serve, give a slot with no worker at all one at once,
 * and count in *pending the slots under way.  With start, give a slot
 * still on another generation a worker of the current one.  Returns 1 if
 * the slot is under way.
 */
static int
reload_roll_slot(struct slot *s, int *pending, int *extra, int start)
{
	struct worker	*cur = SLOT_CUR(s), *old = SLOT_OLD(s);
	double		 delay;

	if (s->s_state == SLOT_RETIRING)
		return 0;
	/* Of the current generation, unless it has no worker at all. */
	if (cur->w_gen == master.m_gen && (s->s_state != SLOT_EMPTY ||
	    cur->w_pid != 0 || old->w_pid != 0)) {
		if (start)
			return 0;
		if (old->w_pid != 0 && !old->w_termsent) {
			if (!reload_confirmed(s)) {
				(*pending)++;
				return 1;
			}
			slot_term_old(s);
			return 0;
		}
		if ((cur->w_pid != 0 && !reload_confirmed(s)) ||
		    s->s_state == SLOT_BACKOFF) {
			(*pending)++;
			return 1;
		}
		return 0;
	}
	if (!start) {
		if (master.m_reloading == RELOAD_BACK && cur->w_pid != 0 &&
		    !cur->w_termsent && s->s_state != SLOT_READY)
			slot_stop_current(s);
		/*
		 * A slot with no worker at all serves nothing already: it
		 * gets one at once, whatever the batch.
		 */
		if (cur->w_pid == 0 && old->w_pid == 0 &&
		    s->s_state == SLOT_EMPTY) {
			(*pending)++;
			s->s_failures = 0;
			slot_spawn(s, s->s_last.x_pid != 0);
			return 1;
		}
		return 0;
	}
	if ((cur->w_pid != 0 && s->s_state != SLOT_READY) || old->w_pid != 0)
		return 0;	/* a worker of its own still starts or stops */
	(*pending)++;
	if (cur->w_pid == 0) {
		s->s_failures = 0;
		slot_spawn(s, 0);
		return 1;
	}
	if (slot_replace(s, START_REPLACE) == 0) {
		(*extra)++;
		return 1;
	}
	/*
	 * Counted as a failed start; try again after a restart delay,
	 * which doubles while the starts of this slot keep failing.
	 */
	delay = slot_delay(s);
	log_warnx("reload: slot %d: a new worker could not be started; "
	    "next try in %gs", s->s_id, delay);
	ev_timer_set(&reload_retry, delay, 0);
	ev_timer_start(EV_DEFAULT, &reload_retry);
	return 1;
}

/*
 * Whether the reload is over: want slots, each with a confirmed worker of
 * the current generation and no other (or halted, or failed), and no
 * slot above them left.
 */
static int
reload_done(int want)
{
	struct slot	*s;
	int		 k;

	if (master.m_nslots != want)
		return 0;
	for (k = 0; k < want; k++) {
		s = master.m_slots[k];
		if (SLOT_CUR(s)->w_gen != master.m_gen ||
		    SLOT_OLD(s)->w_pid != 0)
			return 0;
		if (s->s_state != SLOT_HALTED && s->s_state != SLOT_FAILED &&
		    !reload_confirmed(s))
			return 0;
	}
	return 1;
}

/*
 * SIGHUP.  While a reload runs, remember the request: the reload in
 * progress finishes (or rolls back) first, then one more starts.
 */
void
reload_request(void)
{
	master.m_reload.r_count++;
	if (master.m_stopping)
		return;
	sdnotify_reloading();
	if (master.m_reloading) {
		if (!master.m_reload_pending)
			log_info("reload: generation %llu is still being "
			    "rolled out; another reload follows it",
			    (unsigned long long)master.m_gen);
		master.m_reload_pending = 1;
		status_changed();
		return;
	}
	reload_begin();
}

/* Record a reload that changed nothing, with the reason. */
static void
reload_invalid(const char *result, const char *why)
{
	struct reloadinfo	*r = &master.m_reload;

	r->r_gen = master.m_lastgen + 1;
	strlcpy(r->r_result, result, sizeof(r->r_result));
	strlcpy(r->r_error, why, sizeof(r->r_error));
	r->r_started = r->r_finished = ev_time();
	metrics_reloaded(result);
	log_warnx("reload: %s; generation %llu keeps serving", result,
	    (unsigned long long)master.m_gen);
	status_changed();
	sdnotify_reloaded(result);
}

/*
 * Read the configuration and, if it is good, make it the current
 * generation; the engine starts replacing workers in this iteration.
 */
static void
reload_begin(void)
{
	struct reloadinfo	*r = &master.m_reload;
	struct config		*nc, *oc = master.m_conf;
	int			 code;

	/*
	 * Every request counted so far is answered by this reload, which
	 * reads the file now: droverctl(8) waits for one that covers its own.
	 */
	r->r_covers = r->r_count;
	if ((nc = config_read(&code)) == NULL) {
		reload_invalid("invalid-config", log_last());
		return;
	}
	/* Where the state files and the pid file are cannot change. */
	if (strcmp(nc->c_state_dir, oc->c_state_dir) != 0) {
		log_warnx("reload: state_dir cannot change while running; "
		    "keeping %s", oc->c_state_dir);
		free(nc->c_state_dir);
		nc->c_state_dir = xstrdup(oc->c_state_dir);
	}
	if (config_activate(nc, master.m_lastgen + 1) == -1) {
		config_free(nc);
		reload_invalid("failed", log_last());
		return;
	}
	master.m_lastgen++;
	master.m_prev = oc;
	master.m_conf = nc;
	nc->c_refs++;
	master.m_gen = nc->c_gen;
	master.m_reloading = RELOAD_FORWARD;
	master.m_reload_fails = 0;
	master.m_reload_halt = 0;
	master.m_reload_proven = 0;
	master.m_reload_why[0] = '\0';
	reload_next = 0;
	strlcpy(r->r_result, "in-progress", sizeof(r->r_result));
	r->r_gen = master.m_gen;
	r->r_error[0] = '\0';
	r->r_started = ev_time();
	r->r_finished = 0;
	log_info("reload: generation %llu, %d workers of %s (%s)",
	    (unsigned long long)master.m_gen, nc->c_workers, nc->c_cmdpath,
	    nc->c_reload == RELOAD_ALL ? "all at once" : "rolling");
	status_changed();
	reload_due();
}

/* Every slot runs the current generation: the reload is over. */
static void
reload_finish(void)
{
	struct reloadinfo	*r = &master.m_reload;
	struct config		*prev;

	strlcpy(r->r_result, master.m_reloading == RELOAD_BACK ?
	    "rolled-back" : "ok", sizeof(r->r_result));
	r->r_finished = ev_time();
	metrics_reloaded(r->r_result);
	log_info("reload: %s, generation %llu serves",
	    master.m_reloading == RELOAD_BACK ? "rolled back" : "done",
	    (unsigned long long)master.m_gen);
	sdnotify_reloaded(r->r_result);
	master.m_reloading = 0;
	ev_timer_stop(EV_DEFAULT, &reload_retry);
	prev = master.m_prev;
	master.m_prev = NULL;
	config_release(prev);
	status_changed();
	if (master.m_reload_pending) {
		master.m_reload_pending = 0;
		reload_begin();
	}
}

/*
 * Worker w ended before it was confirmed (status: its wait status), or
 * could not be started (-1).  If it is of the generation being rolled
 * out, that is a failed start of the reload: count it, and remember why,
 * for the engine.  Exit 78 says its configuration is broken.
 */
void
reload_failed_start(struct worker *w, int status)
{
	char	 how[128];

	if (master.m_reloading != RELOAD_FORWARD || w->w_gen != master.m_gen)
		return;
	master.m_reload_fails++;
	if (status == -1)
		strlcpy(how, "could not be started", sizeof(how));
	else
		log_status(status, w->w_execerr, how, sizeof(how));
	(void)snprintf(master.m_reload_why, sizeof(master.m_reload_why),
	    "slot %d: a new worker %s", w->w_slot->s_id, how);
	if (status != -1 && w->w_execerr == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == EXIT_CONFIG)
		master.m_reload_halt = 1;
	reload_due();
}

/*
 * Give up the generation being rolled out and go back to the previous
 * one: slots whose old worker still serves get it back at once.
 */
static void
reload_rollback(void)
{
	struct reloadinfo	*r = &master.m_reload;
	struct config		*failed = master.m_conf;
	struct slot		*s;
	char			 why[256];
	int			 k;

	if (master.m_reload_halt)
		strlcpy(why, master.m_reload_why, sizeof(why));
	else
		(void)snprintf(why, sizeof(why), "%d failed starts, the last: "
		    "%s", master.m_reload_fails, master.m_reload_why);
	log_warnx("reload: generation %llu failed (%s): rolling back to "
	    "generation %llu", (unsigned long long)failed->c_gen, why,
	    (unsigned long long)master.m_prev->c_gen);
	strlcpy(r->r_error, why, sizeof(r->r_error));
	strlcpy(r->r_result, "rolling-back", sizeof(r->r_result));
	master.m_conf = master.m_prev;
	master.m_prev = failed;
	master.m_gen = master.m_conf->c_gen;
	master.m_reloading = RELOAD_BACK;
	reload_next = 0;
	ev_timer_stop(EV_DEFAULT, &reload_retry);
	for (k = 0; k < master.m_nslots; k++) {
		s = master.m_slots[k];
		if (SLOT_OLD(s)->w_pid != 0 && !SLOT_OLD(s)->w_termsent &&
		    s->s_state != SLOT_RETIRING)
			slot_revert(s);
	}
	status_changed();
}

/*
 * TTIN and TTOU: one slot more or fewer.  The engine adds the slot
 * (its sockets join every reuseport group) or retires the top one; in a
 * reload, the change applies to both generations, so that a rollback
 * keeps it.
 */
void
reload_scale(int delta)
{
	struct config	*c = master.m_conf;
	int		 n = c->c_workers + delta;

	if (master.m_stopping)
		return;
	if (n < 1 || n > DROVER_MAX_WORKERS) {
		log_warnx("%s ignored: %d workers is the %s", delta > 0 ?
		    "SIGTTIN" : "SIGTTOU", c->c_workers, delta > 0 ?
		    "most" : "fewest");
		return;
	}
	c->c_workers = n;
	if (master.m_prev != NULL)
		master.m_prev->c_workers = n;
	log_info("%s: %d workers", delta > 0 ? "SIGTTIN" : "SIGTTOU", n);
	status_changed();
	reload_due();
}
