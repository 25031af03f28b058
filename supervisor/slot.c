/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The slot table and its state machine.  A slot is a stable worker
 * identity with its own sockets; its state says what the slot is waiting
 * for, and slot_set() is the only place a state changes, so every
 * transition is logged (at debug level) and reaches status.json.  Events
 * come from libev: a child exit (ev_child), the exec report pipe (ev_io)
 * and the slot's one timer (restart delay, ready timeout, stop timeout).
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

static void	 slot_set(struct slot *, enum slot_state);
static void	 slot_spawn(struct slot *, int);
static void	 slot_exited(struct slot *, int);
static void	 slot_schedule(struct slot *, double);
static void	 slot_kill(struct slot *, int);
static void	 slot_exec_read(struct worker *);
static void	 slot_child_cb(struct ev_loop *, ev_child *, int);
static void	 slot_exec_cb(struct ev_loop *, ev_io *, int);
static void	 slot_timer_cb(struct ev_loop *, ev_timer *, int);

static const char *const slot_names[] = {
	[SLOT_EMPTY] = "empty",
	[SLOT_STARTING] = "starting",
	[SLOT_READY] = "ready",
	[SLOT_STOPPING] = "stopping",
	[SLOT_BACKOFF] = "backoff",
	[SLOT_FAILED] = "failed",
	[SLOT_HALTED] = "halted"
};

const char *
slot_state_name(enum slot_state st)
{
	return slot_names[st];
}

/*
 * Allocate n empty slots and their watchers.
 */
void
slot_init(int n)
{
	struct slot	*s;
	int		 i;

	master.m_nslots = n;
	if ((master.m_slots = calloc(n, sizeof(*s))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	for (i = 0; i < n; i++) {
		s = &master.m_slots[i];
		s->s_id = i;
		s->s_state = SLOT_EMPTY;
		s->s_w.w_slot = s;
		s->s_w.w_execfd = -1;
		s->s_w.w_nfd = -1;
		s->s_w.w_sfd = -1;
		s->s_hist = calloc(master.m_conf->c_restart_budget,
		    sizeof(*s->s_hist));
		if (s->s_hist == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
		ev_timer_init(&s->s_timer, slot_timer_cb, 0, 0);
		s->s_timer.data = s;
		ev_child_init(&s->s_w.w_child, slot_child_cb, 0, 0);
		s->s_w.w_child.data = &s->s_w;
		ev_io_init(&s->s_w.w_exec, slot_exec_cb, -1, EV_READ);
		s->s_w.w_exec.data = &s->s_w;
	}
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
	    slot_names[s->s_state], slot_names[st], (long)s->s_w.w_pid,
	    (unsigned long long)s->s_w.w_gen);
	was = slot_accepting(s->s_id);
	s->s_state = st;
	if (st == SLOT_READY)
		notify_watchdog_arm(&s->s_w);
	if (slot_accepting(s->s_id) != was)
		listen_steer();
	state_changed();
}

/*
 * Whether slot k has a worker that accepts connections: new connections
 * are steered to these slots only.
 */
int
slot_accepting(int k)
{
	return master.m_slots[k].s_state == SLOT_READY;
}

/* Start every slot's first worker. */
void
slot_start_all(void)
{
	int	 i;

	for (i = 0; i < master.m_nslots; i++)
		slot_spawn(&master.m_slots[i], 0);
}

/*
 * Start a worker in slot s.  A restart is first checked against the
 * budget: with restart_budget respawns already inside restart_window the
 * slot waits, failed, until the oldest of them leaves the window.
 */
static void
slot_spawn(struct slot *s, int restart)
{
	const struct config	*c = master.m_conf;
	struct worker		*w = &s->s_w;
	ev_tstamp		 now = ev_now(EV_DEFAULT), oldest;
	int			 fd;
	pid_t			 pid;

	if (restart) {
		oldest = s->s_hist[s->s_hist_next];
		if (oldest > 0 && now - oldest < c->c_restart_window) {
			if (s->s_state != SLOT_FAILED)
				log_warnx("slot %d: restart budget spent (%u "
				    "restarts in %gs); next try in %.1fs",
				    s->s_id, c->c_restart_budget,
				    c->c_restart_window,
				    oldest + c->c_restart_window - now);
			slot_set(s, SLOT_FAILED);
			ev_timer_stop(EV_DEFAULT, &s->s_timer);
			ev_timer_set(&s->s_timer,
			    oldest + c->c_restart_window - now, 0);
			ev_timer_start(EV_DEFAULT, &s->s_timer);
			return;
		}
		s->s_hist[s->s_hist_next] = now;
		s->s_hist_next = (s->s_hist_next + 1) % c->c_restart_budget;
		s->s_restarts++;
	}

	w->w_gen = master.m_gen;
	w->w_execerr = 0;
	w->w_execstep = 0;
	w->w_termsent = 0;
	w->w_killreason = NULL;
	free(s->s_status);
	s->s_status = NULL;
	if ((pid = spawn_worker(s, &fd)) == -1) {
		/* fork or pipe failed: a failed start, with backoff. */
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
	log_debug("slot %d: started worker %ld (gen %llu)", s->s_id,
	    (long)pid, (unsigned long long)w->w_gen);
	slot_set(s, SLOT_STARTING);
	if (c->c_ready == READY_NOTIFY) {
		ev_timer_stop(EV_DEFAULT, &s->s_timer);
		ev_timer_set(&s->s_timer, c->c_ready_timeout, 0);
		ev_timer_start(EV_DEFAULT, &s->s_timer);
	}
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
	if (n != 0) {
		log_warnx("slot %d: worker %ld: bad exec report", s->s_id,
		    (long)w->w_pid);
		return;
	}
	/* exec succeeded: in exec mode, that is ready. */
	master.m_execlogged = 0;
	if (master.m_conf->c_ready == READY_EXEC && s->s_state ==
	    SLOT_STARTING)
		slot_set(s, SLOT_READY);
}

static void
slot_exec_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	(void)loop;
	(void)revents;
	slot_exec_read(io->data);
}

static void
slot_child_cb(struct ev_loop *loop, ev_child *ch, int revents)
{
	struct worker	*w = ch->data;

	(void)revents;
	ev_child_stop(loop, ch);
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
	w->w_closing = 0;
	slot_exited(w->w_slot, ch->rstatus);
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
 * The worker of slot s has ended with the wait status status: log it,
 * record it, and decide what the slot does next.
 */
static void
slot_exited(struct slot *s, int status)
{
	const struct config	*c = master.m_conf;
	struct worker		*w = &s->s_w;
	char			 how[128];
	double			 up, delay;
	int			 expected, i;

	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	up = ev_time() - w->w_started;
	expected = master.m_stopping || w->w_termsent;
	s->s_last.x_pid = w->w_pid;
	s->s_last.x_status = status;
	s->s_last.x_execerr = w->w_execerr;
	s->s_last.x_execstep = w->w_execstep;
	s->s_last.x_reason = w->w_killreason;
	if (w->w_execerr != 0) {
		if (!master.m_execlogged)
			log_warnx("slot %d: cannot %s %s: %s", s->s_id,
			    spawn_step(w->w_execstep), master.m_cmdpath,
			    strerror(w->w_execerr));
		else
			log_debug("slot %d: cannot %s %s: %s", s->s_id,
			    spawn_step(w->w_execstep), master.m_cmdpath,
			    strerror(w->w_execerr));
		master.m_execlogged = 1;
	} else if (expected)
		log_info("slot %d: worker %ld (gen %llu) %s", s->s_id,
		    (long)w->w_pid, (unsigned long long)w->w_gen,
		    log_status(status, 0, how, sizeof(how)));
	else
		log_warnx("slot %d: worker %ld (gen %llu) %s after %.1fs",
		    s->s_id, (long)w->w_pid, (unsigned long long)w->w_gen,
		    log_status(status, 0, how, sizeof(how)), up);
	w->w_pid = 0;
	state_changed();

	if (expected) {
		slot_set(s, SLOT_EMPTY);
		master_check_done();
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

	(void)loop;
	(void)revents;
	switch (s->s_state) {
	case SLOT_BACKOFF:
	case SLOT_FAILED:
		slot_spawn(s, 1);
		break;
	case SLOT_STARTING:
		log_warnx("slot %d: worker %ld not ready after %gs: killing "
		    "it", s->s_id, (long)s->s_w.w_pid,
		    master.m_conf->c_ready_timeout);
		s->s_w.w_killreason = "ready-timeout";
		slot_kill(s, SIGKILL);
		break;
	case SLOT_STOPPING:
		log_warnx("slot %d: worker %ld still running %gs after "
		    "SIGTERM: sending SIGKILL", s->s_id, (long)s->s_w.w_pid,
		    master.m_conf->c_stop_timeout);
		slot_kill(s, SIGKILL);
		break;
	default:
		break;
	}
}

static void
slot_kill(struct slot *s, int sig)
{
	if (s->s_w.w_pid > 0 && kill(s->s_w.w_pid, sig) == -1 &&
	    errno != ESRCH)
		log_warn("slot %d: kill %ld", s->s_id, (long)s->s_w.w_pid);
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
	int		 i;

	for (i = 0; i < master.m_nslots; i++) {
		s = &master.m_slots[i];
		if (s->s_w.w_pid == 0) {
			ev_timer_stop(EV_DEFAULT, &s->s_timer);
			slot_set(s, SLOT_EMPTY);
			continue;
		}
		ev_timer_stop(EV_DEFAULT, &s->s_w.w_watchdog);
		if (how == STOP_NOW) {
			slot_kill(s, SIGKILL);
			continue;
		}
		if (s->s_w.w_termsent)
			continue;
		s->s_w.w_termsent = 1;
		slot_kill(s, SIGTERM);
		slot_set(s, SLOT_STOPPING);
		ev_timer_stop(EV_DEFAULT, &s->s_timer);
		ev_timer_set(&s->s_timer, master.m_conf->c_stop_timeout, 0);
		ev_timer_start(EV_DEFAULT, &s->s_timer);
	}
}

/* How many slots are in state st. */
int
slot_count(enum slot_state st)
{
	int	 i, n = 0;

	for (i = 0; i < master.m_nslots; i++)
		if (master.m_slots[i].s_state == st)
			n++;
	return n;
}

/* How many worker processes are running. */
int
slot_nworkers(void)
{
	int	 i, n = 0;

	for (i = 0; i < master.m_nslots; i++)
		if (master.m_slots[i].s_w.w_pid != 0)
			n++;
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

	if (w->w_closing || s->s_state != SLOT_STARTING)
		return;
	/* It speaks, so it has exec'd: take the report first. */
	slot_exec_read(w);
	if (w->w_execfd != -1 || w->w_execerr != 0)
		return;
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	slot_set(s, SLOT_READY);
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

	if (w->w_closing || (s->s_state != SLOT_READY &&
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

	if (w->w_closing || s->s_state != SLOT_READY)
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
		    master.m_conf->c_watchdog);
		w->w_killreason = "watchdog";
		slot_kill(s, SIGABRT);
	} else {
		log_warnx("slot %d: worker %ld still running after SIGABRT: "
		    "sending SIGKILL", s->s_id, (long)w->w_pid);
		slot_kill(s, SIGKILL);
	}
}
