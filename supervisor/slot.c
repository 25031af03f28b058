/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The slot table and its state machine.  A slot is a stable worker
 * identity with its own sockets; its state says what the slot's current
 * worker is doing or what the slot waits for, and slot_set() is the only
 * place a state changes, so every transition is logged (at debug level),
 * steers connections and reaches status.json.  Events come from libev: a
 * child exit (ev_child), the exec report pipe (ev_io), the notify channels
 * (notify.c) and the slot's timer (restart delay, ready timeout, drain
 * check).
 *
 * During a reload a slot holds two workers: the current one, of the new
 * generation, and the old one, which serves until the current one is
 * ready and is then asked to stop.  A worker's own timer sends SIGKILL
 * when it outlives the stop timeout.
 *
 * Restart policy: a worker that had been up for restart_reset is replaced
 * at once; one that dies sooner is a failure and waits a delay that
 * doubles with each consecutive failure, from restart_delay up to
 * restart_delay_max, with jitter so that slots failing together do not
 * restart together.  Every respawn is recorded; restart_budget of them
 * within restart_window puts the slot in SLOT_FAILED until the oldest
 * leaves the window.  A worker exiting 78 is never restarted.
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

/* How often a retiring slot's queue is looked at while it drains. */
#define SLOT_DRAIN_CHECK	0.05

static void	 slot_set(struct slot *, enum slot_state);
static void	 slot_spawn(struct slot *, int);
static void	 slot_exited(struct worker *, int);
static void	 slot_record(struct worker *, int, int);
static void	 slot_old_exited(struct worker *, int);
static void	 slot_schedule(struct slot *, double);
static void	 slot_kill(struct worker *, int);
static void	 slot_term(struct worker *);
static void	 slot_exec_read(struct worker *);
static void	 slot_free(void);
static void	 slot_child_cb(struct ev_loop *, ev_child *, int);
static void	 slot_exec_cb(struct ev_loop *, ev_io *, int);
static void	 slot_timer_cb(struct ev_loop *, ev_timer *, int);
static void	 slot_stop_cb(struct ev_loop *, ev_timer *, int);

static const char *const slot_names[] = {
	[SLOT_EMPTY] = "empty",
	[SLOT_STARTING] = "starting",
	[SLOT_READY] = "ready",
	[SLOT_STOPPING] = "stopping",
	[SLOT_BACKOFF] = "backoff",
	[SLOT_FAILED] = "failed",
	[SLOT_HALTED] = "halted",
	[SLOT_RETIRING] = "retiring"
};

const char *
slot_state_name(enum slot_state st)
{
	return slot_names[st];
}

/*
 * Add n empty slots at the end of the table, with their watchers.  The
 * slots are allocated one by one, since libev holds pointers to their
 * watchers and the table may grow.
 */
void
slot_add(int n)
{
	struct slot	**v, *s;
	struct worker	*w;
	int		 i, k;

	v = reallocarray(master.m_slots, master.m_nslots + n, sizeof(*v));
	if (v == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	master.m_slots = v;
	for (i = 0; i < n; i++) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
		s->s_id = master.m_nslots;
		s->s_state = SLOT_EMPTY;
		ev_timer_init(&s->s_timer, slot_timer_cb, 0, 0);
		s->s_timer.data = s;
		for (k = 0; k < 2; k++) {
			w = &s->s_wk[k];
			w->w_slot = s;
			w->w_execfd = w->w_nfd = w->w_sfd = w->w_ofd = -1;
			ev_child_init(&w->w_child, slot_child_cb, 0, 0);
			w->w_child.data = w;
			ev_io_init(&w->w_exec, slot_exec_cb, -1, EV_READ);
			w->w_exec.data = w;
			ev_timer_init(&w->w_stop, slot_stop_cb, 0, 0);
			w->w_stop.data = w;
		}
		master.m_slots[master.m_nslots++] = s;
	}
	state_changed();
}

/*
 * The number of slots the current configuration asks for; the slots
 * above it are retiring.
 */
int
slot_target(void)
{
	return master.m_conf->c_workers < master.m_nslots ?
	    master.m_conf->c_workers : master.m_nslots;
}

/*
 * The one transition function: every state change of a slot goes
 * through here.
 */
static void
slot_set(struct slot *s, enum slot_state st)
{
	int	 was;

	if (s->s_state == st)
		return;
	log_debug("slot %d: %s -> %s (pid %ld, gen %llu)", s->s_id,
	    slot_names[s->s_state], slot_names[st], (long)SLOT_CUR(s)->w_pid,
	    (unsigned long long)SLOT_CUR(s)->w_gen);
	was = slot_accepting(s->s_id);
	s->s_state = st;
	if (st == SLOT_READY) {
		SLOT_CUR(s)->w_ready = 1;
		notify_watchdog_arm(SLOT_CUR(s));
	}
	if (slot_accepting(s->s_id) != was)
		listen_steer();
	state_changed();
}

/*
 * Whether slot k has a worker that accepts connections: its current
 * worker is ready, or, in a reload, its old one still serves.  New
 * connections are steered to these slots only.
 */
int
slot_accepting(int k)
{
	struct slot	*s = master.m_slots[k];

	if (s->s_state == SLOT_RETIRING)
		return 0;
	return slot_serving(k);
}

/* Whether slot k has a worker serving, retiring or not. */
int
slot_serving(int k)
{
	struct slot	*s = master.m_slots[k];
	struct worker	*old = SLOT_OLD(s);

	return s->s_state == SLOT_READY || (old->w_pid != 0 &&
	    !old->w_termsent);
}

/* Start every slot's first worker. */
void
slot_start_all(void)
{
	int	 i;

	for (i = 0; i < master.m_nslots; i++)
		slot_spawn(master.m_slots[i], 0);
}

/*
 * Start a worker of the current generation in slot s.  A restart is
 * first checked against the budget: with restart_budget respawns already
 * inside restart_window the slot waits, failed, until the oldest of them
 * leaves the window.
 */
static void
slot_spawn(struct slot *s, int restart)
{
	const struct config	*c = master.m_conf;
	struct worker		*w = SLOT_CUR(s);
	ev_tstamp		 now = ev_now(EV_DEFAULT), oldest;
	unsigned int		 budget = c->c_restart_budget;
	int			 fd;
	pid_t			 pid;

	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	if (s->s_nhist != budget) {
		/* First restart, or the budget changed in a reload. */
		free(s->s_hist);
		if ((s->s_hist = calloc(budget, sizeof(*s->s_hist))) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
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
			slot_set(s, SLOT_FAILED);
			ev_timer_set(&s->s_timer,
			    oldest + c->c_restart_window - now, 0);
			ev_timer_start(EV_DEFAULT, &s->s_timer);
			return;
		}
		s->s_hist[s->s_hist_next % budget] = now;
		s->s_hist_next = (s->s_hist_next + 1) % budget;
		s->s_restarts++;
	}

	w->w_conf = master.m_conf;
	w->w_conf->c_refs++;
	w->w_gen = master.m_gen;
	w->w_execerr = 0;
	w->w_execstep = 0;
	w->w_termsent = 0;
	w->w_ready = 0;
	w->w_killreason = NULL;
	s->s_status[0] = '\0';
	if ((pid = spawn_worker(s, w, &fd)) == -1) {
		/* fork, pipe or socketpair failed: a failed start. */
		config_release(w->w_conf);
		w->w_conf = NULL;
		s->s_failures++;
		slot_schedule(s, c->c_restart_delay_max);
		return;
	}
	w->w_pid = pid;
	w->w_started = ev_time();
	w->w_execfd = fd;
	ev_child_set(&w->w_child, pid, 0);
	ev_child_start(EV_DEFAULT, &w->w_child);
	ev_io_set(&w->w_exec, fd, EV_READ);
	ev_io_start(EV_DEFAULT, &w->w_exec);
	notify_start(w);
	output_start(w);
	log_debug("slot %d: started worker %ld (gen %llu)", s->s_id,
	    (long)pid, (unsigned long long)w->w_gen);
	slot_set(s, SLOT_STARTING);
	if (c->c_ready == READY_NOTIFY) {
		ev_timer_set(&s->s_timer, c->c_ready_timeout, 0);
		ev_timer_start(EV_DEFAULT, &s->s_timer);
	}
}

/*
 * Replace the serving worker of slot s by one of the current generation:
 * the serving one becomes the old worker and serves on until the new one
 * is ready.  A slot with no worker is simply given one.
 */
void
slot_replace(struct slot *s)
{
	struct worker	*cur = SLOT_CUR(s);

	if (cur->w_pid != 0 && SLOT_OLD(s)->w_pid == 0 &&
	    s->s_state == SLOT_READY) {
		s->s_cur = 1 - s->s_cur;
		log_debug("slot %d: replacing worker %ld (gen %llu)", s->s_id,
		    (long)cur->w_pid, (unsigned long long)cur->w_gen);
		slot_set(s, SLOT_EMPTY);
		s->s_failures = 0;
		slot_spawn(s, 0);
		return;
	}
	if (cur->w_pid == 0) {
		s->s_failures = 0;
		slot_spawn(s, 0);
	}
}

/*
 * Give slot s back to its old worker, which still serves, and stop the
 * current one: the step back of a rollback.
 */
void
slot_revert(struct slot *s)
{
	struct worker	*cur = SLOT_CUR(s), *old = SLOT_OLD(s);

	if (old->w_pid == 0 || old->w_termsent)
		return;
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	if (cur->w_pid != 0)
		slot_term(cur);
	s->s_cur = 1 - s->s_cur;
	slot_set(s, SLOT_EMPTY);
	s->s_failures = 0;
	s->s_delay = 0;
	slot_set(s, SLOT_READY);
}

/*
 * A slot of the current generation with no worker (waiting out a delay,
 * failed or halted) gets one at once: a reload gives it a new chance.
 */
void
slot_respawn(struct slot *s)
{
	if (SLOT_CUR(s)->w_pid != 0)
		return;
	s->s_failures = 0;
	slot_spawn(s, 0);
}

/*
 * Read the exec report pipe of w: nothing yet, an error record from the
 * child, or EOF, which means exec succeeded (the pipe was close-on-exec).
 * Closes the pipe once the answer is known.
 */
static void
slot_exec_read(struct worker *w)
{
	struct slot	*s = w->w_slot;
	int		 msg[2];
	ssize_t		 n;

	if (w->w_execfd == -1)
		return;
	n = read(w->w_execfd, msg, sizeof(msg));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	ev_io_stop(EV_DEFAULT, &w->w_exec);
	close(w->w_execfd);
	w->w_execfd = -1;
	if (n == (ssize_t)sizeof(msg)) {
		w->w_execstep = msg[0];
		w->w_execerr = msg[1] != 0 ? msg[1] : EIO;
		return;
	}
	if (n != 0)
		log_warnx("slot %d: worker %ld: bad exec report", s->s_id,
		    (long)w->w_pid);
	else
		master.m_execlogged = 0;	/* exec succeeded */
}

/*
 * The exec report pipe of a running worker: when exec succeeded, in exec
 * mode, the worker is ready.
 */
static void
slot_exec_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker	*w = io->data;
	struct slot	*s = w->w_slot;

	(void)loop;
	(void)revents;
	slot_exec_read(w);
	if (w->w_execfd != -1 || w->w_execerr != 0)
		return;
	if (w != SLOT_CUR(s) || w->w_conf->c_ready != READY_EXEC ||
	    s->s_state != SLOT_STARTING)
		return;
	if (master.m_reloading == RELOAD_FORWARD &&
	    w->w_gen == master.m_gen && w->w_conf->c_reload_grace > 0) {
		/*
		 * A reload in exec mode: the old worker is stopped only once
		 * the new one has lived reload_grace, so that a new version
		 * that dies at start is caught and rolled back.
		 */
		ev_timer_stop(EV_DEFAULT, &s->s_timer);
		ev_timer_set(&s->s_timer, w->w_conf->c_reload_grace, 0);
		ev_timer_start(EV_DEFAULT, &s->s_timer);
		return;
	}
	slot_set(s, SLOT_READY);
	if (master.m_reloading)
		reload_step();
}

static void
slot_child_cb(struct ev_loop *loop, ev_child *ch, int revents)
{
	struct worker	*w = ch->data;

	(void)revents;
	ev_child_stop(loop, ch);
	/*
	 * What is left of its process group goes with it, before anything
	 * else runs: a descendant holding the slot's socket would take
	 * connections meant for the next worker, or keep the port after
	 * drover has exited.
	 */
	(void)kill(-ch->rpid, SIGKILL);
	ev_timer_stop(loop, &w->w_stop);
	/* An exec error is written before the child exits: read it now. */
	slot_exec_read(w);
	if (w->w_execfd != -1) {
		ev_io_stop(loop, &w->w_exec);
		close(w->w_execfd);
		w->w_execfd = -1;
	}
	/* What it said last still counts (STATUS=), but changes nothing. */
	w->w_closing = 1;
	notify_close(w);
	output_close(w);
	w->w_closing = 0;
	if (w == SLOT_CUR(w->w_slot))
		slot_exited(w, ch->rstatus);
	else
		slot_old_exited(w, ch->rstatus);
	reload_step();
	master_check_done();
}

/*
 * Wait delay seconds (after jitter) in SLOT_BACKOFF, then respawn.
 */
static void
slot_schedule(struct slot *s, double delay)
{
	/* Jitter: somewhere in the upper half of the delay. */
	delay = delay / 2 + delay / 2 * ((double)arc4random() / UINT32_MAX);
	s->s_delay = delay;
	slot_set(s, SLOT_BACKOFF);
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	ev_timer_set(&s->s_timer, delay, 0);
	ev_timer_start(EV_DEFAULT, &s->s_timer);
}

/*
 * Record how worker w ended in its slot and log it.  Returns the log
 * line's description in how.
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
	if (w->w_execerr != 0) {
		if (!master.m_execlogged)
			log_warnx("slot %d: cannot %s %s: %s", s->s_id,
			    spawn_step(w->w_execstep), w->w_conf->c_cmdpath,
			    strerror(w->w_execerr));
		else
			log_debug("slot %d: cannot %s %s: %s", s->s_id,
			    spawn_step(w->w_execstep), w->w_conf->c_cmdpath,
			    strerror(w->w_execerr));
		master.m_execlogged = 1;
	} else if (expected)
		log_info("slot %d: worker %ld (gen %llu) %s", s->s_id,
		    (long)w->w_pid, (unsigned long long)w->w_gen,
		    log_status(status, 0, how, sizeof(how)));
	else
		log_warnx("slot %d: worker %ld (gen %llu) %s after %.1fs",
		    s->s_id, (long)w->w_pid, (unsigned long long)w->w_gen,
		    log_status(status, 0, how, sizeof(how)),
		    ev_time() - w->w_started);
	w->w_pid = 0;
	config_release(w->w_conf);
	w->w_conf = NULL;
	state_changed();
}

/* The old worker of a slot, replaced in a reload, has ended. */
static void
slot_old_exited(struct worker *w, int status)
{
	struct slot	*s = w->w_slot;
	int		 was = slot_accepting(s->s_id);

	slot_record(w, status, w->w_termsent || master.m_stopping);
	if (slot_accepting(s->s_id) != was)
		listen_steer();
}

/*
 * The current worker w of its slot has ended with the wait status
 * status: record it and decide what the slot does next.
 */
static void
slot_exited(struct worker *w, int status)
{
	const struct config	*c = master.m_conf;
	struct slot		*s = w->w_slot;
	double			 up, delay;
	int			 expected, ready = w->w_ready, i;
	uint64_t		 gen = w->w_gen;

	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	up = ev_time() - w->w_started;
	expected = master.m_stopping || w->w_termsent;
	slot_record(w, status, expected);

	if (s->s_state == SLOT_RETIRING) {
		slot_free();
		return;
	}
	if (expected) {
		slot_set(s, SLOT_EMPTY);
		return;
	}
	if (master.m_reloading == RELOAD_FORWARD && gen == master.m_gen &&
	    !ready) {
		reload_failed_start(w, status);
		/*
		 * A rollback gave the slot back to its old worker, or already
		 * started one of the old generation in it.
		 */
		if (SLOT_CUR(s) != w || w->w_pid != 0)
			return;
	}
	if (gen != master.m_gen) {
		/* A worker of an older generation: refill with the current. */
		slot_set(s, SLOT_EMPTY);
		slot_spawn(s, 1);
		return;
	}
	if (w->w_execerr == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == EXIT_CONFIG) {
		log_warnx("slot %d: worker exited %d (its configuration is "
		    "broken): not restarting it", s->s_id, EXIT_CONFIG);
		slot_set(s, SLOT_HALTED);
		return;
	}
	if (w->w_execerr == 0 && up >= c->c_restart_reset) {
		s->s_failures = 0;
		s->s_delay = 0;
		slot_spawn(s, 1);
		return;
	}
	s->s_failures++;
	delay = c->c_restart_delay;
	for (i = 1; i < (int)s->s_failures && delay < c->c_restart_delay_max;
	    i++)
		delay *= 2;
	if (delay > c->c_restart_delay_max)
		delay = c->c_restart_delay_max;
	slot_schedule(s, delay);
}

static void
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
			/* The reload grace is over: it counts as ready. */
			slot_set(s, SLOT_READY);
			reload_step();
			break;
		}
		log_warnx("slot %d: worker %ld not ready after %gs: killing "
		    "it", s->s_id, (long)w->w_pid,
		    w->w_conf->c_ready_timeout);
		w->w_killreason = "ready-timeout";
		slot_kill(w, SIGKILL);
		break;
	case SLOT_RETIRING:
		/*
		 * Draining: no new connection comes to this slot; once its
		 * queue is empty, or after the stop timeout, its worker may
		 * stop.
		 */
		if (w->w_pid == 0 || w->w_termsent)
			break;
		if (listen_queued(s->s_id) > 0 && ev_now(EV_DEFAULT) -
		    s->s_drain < master.m_conf->c_stop_timeout) {
			ev_timer_set(t, SLOT_DRAIN_CHECK, 0);
			ev_timer_start(EV_DEFAULT, t);
			break;
		}
		slot_term(w);
		break;
	default:
		break;
	}
}

/* The stop timeout of worker w ran out: SIGKILL. */
static void
slot_stop_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	(void)loop;
	(void)revents;
	log_warnx("slot %d: worker %ld still running %gs after SIGTERM: "
	    "sending SIGKILL", w->w_slot->s_id, (long)w->w_pid,
	    master.m_conf->c_stop_timeout);
	slot_kill(w, SIGKILL);
}

/*
 * Send sig to worker w.  SIGKILL goes to its whole process group, so
 * that nothing it started outlives it (a worker started by an older
 * drover leads no group: then to the worker alone).
 */
static void
slot_kill(struct worker *w, int sig)
{
	if (w->w_pid <= 0)
		return;
	if (sig == SIGKILL && kill(-w->w_pid, sig) == 0)
		return;
	if (kill(w->w_pid, sig) == -1 && errno != ESRCH)
		log_warn("slot %d: kill %ld", w->w_slot->s_id,
		    (long)w->w_pid);
}

/*
 * Ask worker w to stop: SIGTERM now, SIGKILL after the stop timeout.
 */
static void
slot_term(struct worker *w)
{
	double	 t = master.m_conf->c_stop_timeout;

	if (w->w_pid == 0 || w->w_termsent)
		return;
	w->w_termsent = 1;
	ev_timer_stop(EV_DEFAULT, &w->w_watchdog);
	slot_kill(w, SIGTERM);
	ev_timer_set(&w->w_stop, t, 0);
	ev_timer_start(EV_DEFAULT, &w->w_stop);
	state_changed();
}

/*
 * After an upgrade: slot s had state st in the previous image, and its
 * worker, if any, is already in place.  Timers start anew.
 */
void
slot_adopt(struct slot *s, enum slot_state st)
{
	const struct config	*c = master.m_conf;

	if (SLOT_CUR(s)->w_pid == 0 && st != SLOT_HALTED) {
		/* It waited to be restarted: restart it soon. */
		slot_schedule(s, c->c_restart_delay);
		return;
	}
	slot_set(s, st);
	if (st == SLOT_STARTING && c->c_ready == READY_NOTIFY) {
		ev_timer_set(&s->s_timer, c->c_ready_timeout, 0);
		ev_timer_start(EV_DEFAULT, &s->s_timer);
	}
}

/* The current worker of s is ready: the old one may stop. */
void
slot_term_old(struct slot *s)
{
	slot_term(SLOT_OLD(s));
}

/*
 * Retire slot s, which is above the number of slots wanted: no new
 * connection is steered to it; its worker drains the slot's queue and
 * is then asked to stop; once it is gone the slot's sockets are closed
 * (slot_free).
 */
void
slot_retire(struct slot *s)
{
	struct worker	*old = SLOT_OLD(s);

	if (s->s_state == SLOT_RETIRING)
		return;
	log_info("slot %d: retiring", s->s_id);
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	slot_term(old);
	slot_set(s, SLOT_RETIRING);
	s->s_drain = ev_now(EV_DEFAULT);
	if (SLOT_CUR(s)->w_pid == 0) {
		slot_free();
		return;
	}
	ev_timer_set(&s->s_timer, SLOT_DRAIN_CHECK, 0);
	ev_timer_start(EV_DEFAULT, &s->s_timer);
}

/*
 * Free the retired slots at the top of the table whose workers are gone,
 * highest first, and close their sockets: a reuseport group renumbers
 * its sockets when one leaves, except when it is the last one, so the
 * slots leave from the top.
 */
static void
slot_free(void)
{
	struct slot	*s;

	while (master.m_nslots > 0) {
		s = master.m_slots[master.m_nslots - 1];
		if (s->s_state != SLOT_RETIRING || SLOT_CUR(s)->w_pid != 0 ||
		    SLOT_OLD(s)->w_pid != 0)
			break;
		ev_timer_stop(EV_DEFAULT, &s->s_timer);
		listen_shrink(s->s_id);
		log_info("slot %d: retired", s->s_id);
		free(s->s_hist);
		free(s);
		master.m_nslots--;
	}
	listen_steer();
	state_changed();
}

/*
 * Stop every slot: with STOP_GRACEFUL send SIGTERM and arm the stop
 * timeout, after which SIGKILL follows; with STOP_NOW send SIGKILL at
 * once.  Slots without a worker become empty.
 */
void
slot_stop_all(int how)
{
	struct slot	*s;
	struct worker	*w;
	int		 i, k;

	for (i = 0; i < master.m_nslots; i++) {
		s = master.m_slots[i];
		ev_timer_stop(EV_DEFAULT, &s->s_timer);
		for (k = 0; k < 2; k++) {
			w = &s->s_wk[k];
			if (w->w_pid == 0)
				continue;
			if (how == STOP_NOW) {
				ev_timer_stop(EV_DEFAULT, &w->w_watchdog);
				slot_kill(w, SIGKILL);
			} else
				slot_term(w);
		}
		if (SLOT_CUR(s)->w_pid == 0)
			slot_set(s, SLOT_EMPTY);
		else if (s->s_state != SLOT_RETIRING)
			slot_set(s, SLOT_STOPPING);
	}
}

/* How many worker processes are running, old ones included. */
int
slot_nworkers(void)
{
	int	 i, n = 0;

	for (i = 0; i < master.m_nslots; i++)
		n += (master.m_slots[i]->s_wk[0].w_pid != 0) +
		    (master.m_slots[i]->s_wk[1].w_pid != 0);
	return n;
}

/*
 * READY=1 from worker w: a starting slot is ready (the ready timeout is
 * over); in exec mode, or after RELOADING=1, it simply is ready again.
 */
void
slot_notify_ready(struct worker *w)
{
	struct slot	*s = w->w_slot;

	if (w->w_closing || w != SLOT_CUR(s) || s->s_state != SLOT_STARTING)
		return;
	/* It speaks, so it has exec'd: take the report first. */
	slot_exec_read(w);
	if (w->w_execfd != -1 || w->w_execerr != 0)
		return;
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	slot_set(s, SLOT_READY);
	if (master.m_reloading)
		reload_step();
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
	slot_set(s, SLOT_STOPPING);
}

/* RELOADING=1: not ready until the worker sends READY=1 again. */
void
slot_notify_reloading(struct worker *w)
{
	struct slot	*s = w->w_slot;

	if (w->w_closing || w != SLOT_CUR(s) || s->s_state != SLOT_READY)
		return;
	slot_set(s, SLOT_STARTING);
}

/*
 * The watchdog of w expired: a worker silent for longer than watchdog
 * gets SIGABRT, so it can dump core; if it is still there a stop timeout
 * later, SIGKILL.  Its slot is refilled as after any exit.
 */
void
slot_watchdog(struct worker *w)
{
	struct slot	*s = w->w_slot;

	if (!w->w_wdfired) {
		log_warnx("slot %d: worker %ld sent no WATCHDOG=1 for %gs: "
		    "sending SIGABRT", s->s_id, (long)w->w_pid,
		    w->w_conf->c_watchdog);
		w->w_killreason = "watchdog";
		slot_kill(w, SIGABRT);
	} else {
		log_warnx("slot %d: worker %ld still running after SIGABRT: "
		    "sending SIGKILL", s->s_id, (long)w->w_pid);
		slot_kill(w, SIGKILL);
	}
}
