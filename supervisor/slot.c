/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The slot table and its state machine.  A slot is a stable worker
 * identity (DROVER_WORKER_ID) with its own sockets; it holds its current
 * worker and, during a reload, the old one, which serves until the
 * current one is confirmed and is then asked to stop.  Its state (what
 * status.json shows) is that of the current worker, or what the slot
 * waits for when it has none.
 *
 * How events flow.  libev reports a worker's exit and its exec (worker.c),
 * its notify messages (notify.c) and the slot's timer (restart.c).  The
 * slot functions there record what happened and apply the slot's own restart
 * policy, then mark the reload engine due (reload_due) and return.
 * Everything that involves more than one slot or a generation (replacing
 * workers in a reload, confirming them, rolling back, scaling, retiring,
 * freeing) is decided by the engine (reload.c), which runs once per loop
 * iteration from its ev_prepare watcher and calls the slot_* actions at
 * the end of this file.  No exit callback starts a worker for any other
 * purpose than its own slot's restart.
 *
 * One owner of slot state.  Every change of what a slot serves (a state
 * change, a worker started, swapped in or out, asked to stop, gone) goes
 * through slot_change(), which checks it against the transition table
 * (slot_trans: anything else is a broken invariant, exit 70), logs one
 * true line at debug level (the slot, the states, the workers involved
 * and why), re-steers connections only when the steering program no
 * longer fits the slot (group_resteer: compared with what the program
 * does, not with the state before, since an exit has already cleared the
 * worker's pid when it comes here; at once when the slot must leave it,
 * coalesced when it may join it), brings the master's counts up to
 * date (workers, slots with an old worker, serving, empty: so that no
 * event, status write or pass of the engine counts them over the whole
 * table), and marks status.json and the engine due.
 *
 * The restart policy: a worker that had been up for restart_reset is
 * replaced at once; one that dies sooner is a failure and waits a delay
 * that doubles with each consecutive failure, from restart_delay up to
 * restart_delay_max, with jitter so that slots failing together do not
 * restart together.  Every respawn is recorded; restart_budget of them
 * within restart_window puts the slot in SLOT_FAILED until the oldest
 * leaves the window.  A worker exiting 78 halts its slot.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

static void	 slot_log_change(const struct slot *, enum slot_state,
		    enum slot_op);
static void	 slot_note(enum slot_state, enum slot_state);
static void	 slot_count(struct slot *, int);
static void	 slot_verify(void);

static const char *const slot_ops[] = {
	[SLOT_OP_NONE] = "",
	[SLOT_OP_STARTED] = "started",
	[SLOT_OP_NEWCUR] = "new worker, the old one serves on",
	[SLOT_OP_REVERT] = "back to the old worker",
	[SLOT_OP_TERM_CUR] = "asked to stop",
	[SLOT_OP_TERM_OLD] = "old worker asked to stop",
	[SLOT_OP_CUR_GONE] = "worker gone",
	[SLOT_OP_OLD_GONE] = "old worker gone"
};

/*
 * Add n empty slots at the end of the table, with their sockets in every
 * reuseport group and their watchers.  The slots are allocated one by
 * one, since libev holds pointers to their watchers and the table may
 * grow.  Returns -1 after logging, having added none, when the sockets
 * cannot be opened.
 */
int
slot_add(int n)
{
	struct slot	**v, *s;
	int		 i;

	if (group_resize(master.m_nslots + n) == -1)
		return -1;
	v = xreallocarray(master.m_slots, master.m_nslots + n, sizeof(*v));
	master.m_slots = v;
	for (i = 0; i < n; i++) {
		s = xcalloc(1, sizeof(*s));
		s->s_id = master.m_nslots;
		s->s_state = SLOT_EMPTY;
		ev_timer_init(&s->s_timer, slot_timer_cb, 0, 0);
		s->s_timer.data = s;
		worker_init(&s->s_wk[0], s);
		worker_init(&s->s_wk[1], s);
		master.m_slots[master.m_nslots++] = s;
		slot_count(s, 0);
	}
	status_changed();
	return 0;
}

/*
 * Free the retired slots at the top of the table whose workers are gone,
 * highest first, and close their sockets.  Not before the handshakes
 * begun on them have ended (SLOT_HANDSHAKE_TIME).  A slot whose queue is
 * not empty gets a drain worker first: connections can reach its socket
 * after its worker was asked to stop (handshakes that end late; when no
 * slot accepts, the kernel's hash picks any slot socket; or the slot was
 * wanted again meanwhile), and closing it would reset them.
 */
void
slot_free_retired(void)
{
	struct slot	*s;
	ev_tstamp	 wait;
	int		 n = master.m_nslots;

	while (n > 0) {
		s = master.m_slots[n - 1];
		if (s->s_state != SLOT_RETIRING || SLOT_CUR(s)->w_pid != 0 ||
		    SLOT_OLD(s)->w_pid != 0 || ev_is_active(&s->s_timer))
			break;	/* still serving */
		wait = s->s_unsteered + SLOT_HANDSHAKE_TIME -
		    ev_now(EV_DEFAULT);
		if (wait > 0) {
			slot_grace(s, wait);
			break;	/* handshakes may still end there */
		}
		if (slot_drain(s))
			break;	/* a drain worker to come */
		ev_timer_stop(EV_DEFAULT, &s->s_timer);
		log_info("slot %d: retired", s->s_id);
		slot_count(s, 1);
		free(s->s_wk[0].w_out);
		free(s->s_wk[1].w_out);
		free(s->s_hist);
		free(s);
		n--;
	}
	if (n == master.m_nslots)
		return;
	master.m_nslots = n;
	(void)group_resize(n);
	group_steer();
	status_changed();
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
 * Whether slot k has a worker serving: its current worker is ready, or
 * its old one serves on until the current one is confirmed.
 */
int
slot_serving(int k)
{
	struct slot	*s = master.m_slots[k];
	struct worker	*old = SLOT_OLD(s);

	return s->s_state == SLOT_READY || (old->w_pid != 0 &&
	    !old->w_termsent);
}

/*
 * Whether slot k takes new connections: it serves and is not retiring.
 * New connections are steered to these slots only.
 */
int
slot_accepting(int k)
{
	return master.m_slots[k]->s_state != SLOT_RETIRING && slot_serving(k);
}

/* The true line of a change: states, workers and why. */
static void
slot_log_change(const struct slot *s, enum slot_state from, enum slot_op op)
{
	const struct worker	*cur = SLOT_CUR(s), *old = SLOT_OLD(s);
	char			 o[80] = "";

	if (old->w_pid != 0)
		(void)snprintf(o, sizeof(o), "; old worker %ld (gen %llu) %s",
		    (long)old->w_pid, (unsigned long long)old->w_gen,
		    old->w_termsent ? "stopping" : "serving");
	if (cur->w_pid != 0)
		log_debug("slot %d: %s -> %s%s%s: worker %ld (gen %llu)%s",
		    s->s_id, slot_state_name(from), slot_state_name(s->s_state),
		    op != SLOT_OP_NONE ? ", " : "", slot_ops[op],
		    (long)cur->w_pid, (unsigned long long)cur->w_gen, o);
	else
		log_debug("slot %d: %s -> %s%s%s: no worker%s", s->s_id,
		    slot_state_name(from), slot_state_name(s->s_state),
		    op != SLOT_OP_NONE ? ", " : "", slot_ops[op], o);
}

/*
 * The one place where what a slot serves changes: do op (swap the
 * workers, ask one to stop, forget one that is gone), enter state to,
 * log it, re-steer if the program no longer fits it, and let the engine
 * and status.json know.  A transition the table does not allow is a
 * broken invariant: fatal.
 */
void
slot_change(struct slot *s, enum slot_state to, enum slot_op op)
{
	struct worker	*cur = SLOT_CUR(s), *old = SLOT_OLD(s);
	enum slot_state	 from = s->s_state;

	if (!slot_legal(from, to))
		fatalx(EXIT_SOFTWARE, "slot %d: no transition from %s to %s "
		    "(%s)", s->s_id, slot_state_name(from), slot_state_name(to),
		    slot_ops[op]);
	switch (op) {
	case SLOT_OP_NEWCUR:
		/* The new worker was started in the free structure. */
		s->s_cur = 1 - s->s_cur;
		break;
	case SLOT_OP_REVERT:
		worker_term(cur);
		s->s_cur = 1 - s->s_cur;
		break;
	case SLOT_OP_TERM_CUR:
		worker_term(cur);
		break;
	case SLOT_OP_TERM_OLD:
		worker_term(old);
		break;
	default:
		break;
	}
	s->s_state = to;
	cur = SLOT_CUR(s);
	if (to == SLOT_READY) {
		cur->w_ready = 1;
		/*
		 * On every entry, not only the first: a worker adopted after
		 * an upgrade, or one that said READY=1 while its slot was
		 * retiring, comes here ready already, with no watchdog yet.
		 */
		notify_watchdog_arm(cur);
	}
	slot_log_change(s, from, op);
	slot_note(from, to);
	slot_count(s, 0);
	slot_verify();
	group_resteer(s);
	/* Nobody left to serve a failed or halted slot's queue. */
	if ((to == SLOT_FAILED || to == SLOT_HALTED) && cur->w_pid == 0 &&
	    SLOT_OLD(s)->w_pid == 0 && group_slot_close(s->s_id) > 0) {
		log_info("slot %d: its sockets are closed while it is %s; "
		    "the connections queued there go to the other slots",
		    s->s_id, slot_state_name(to));
		group_steer();
	}
	status_changed();
	reload_due();
}

/*
 * Bring the master's counts up to date with slot s, after a change of it
 * (gone: it is being freed).  What each slot adds is remembered in it,
 * so a count moves by the difference.  Every change of a slot's workers
 * or state is followed by a slot_change(), which calls this.
 */
static void
slot_count(struct slot *s, int gone)
{
	int	 old, serving, empty;

	old = !gone && SLOT_OLD(s)->w_pid != 0;
	serving = !gone && slot_serving(s->s_id);
	empty = !gone && s->s_state == SLOT_EMPTY && SLOT_CUR(s)->w_pid == 0 &&
	    !old;
	master.m_nold += old - s->s_nold;
	master.m_nserving += serving - s->s_nserving;
	master.m_nempty += empty - s->s_nempty;
	s->s_nold = old;
	s->s_nserving = serving;
	s->s_nempty = empty;
}

/*
 * With DROVER_DEBUG_TRANSITIONS set (as in the tests), check the counts
 * against the table after every change: a count that drifted is a
 * broken invariant.
 */
static void
slot_verify(void)
{
	static int	 on = -1;
	struct slot	*s;
	int		 k, nw = 0, no = 0, ns = 0, ne = 0;

	if (on == -1)
		on = getenv("DROVER_DEBUG_TRANSITIONS") != NULL;
	if (!on)
		return;
	for (k = 0; k < master.m_nslots; k++) {
		s = master.m_slots[k];
		nw += (s->s_wk[0].w_pid != 0) + (s->s_wk[1].w_pid != 0);
		no += SLOT_OLD(s)->w_pid != 0;
		ns += slot_serving(k);
		ne += s->s_state == SLOT_EMPTY && s->s_wk[0].w_pid == 0 &&
		    s->s_wk[1].w_pid == 0;
	}
	if (nw != master.m_nworkers || no != master.m_nold ||
	    ns != master.m_nserving || ne != master.m_nempty)
		fatalx(EXIT_SOFTWARE, "slot counts: %d workers, %d old, %d "
		    "serving, %d empty; counted %d, %d, %d, %d", nw, no, ns, ne,
		    master.m_nworkers, master.m_nold, master.m_nserving,
		    master.m_nempty);
}

/*
 * With DROVER_DEBUG_TRANSITIONS naming a file, every state change is
 * appended to it as "FROM TO", for the test that checks the table covers
 * every transition the test suite makes.
 */
static void
slot_note(enum slot_state from, enum slot_state to)
{
	static int	 fd = -2;
	const char	*path;
	char		 line[32];
	int		 n;

	if (fd == -2)
		fd = (path = getenv("DROVER_DEBUG_TRANSITIONS")) == NULL ? -1 :
		    open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		    O_NOFOLLOW, 0644);
	if (fd == -1 || from == to)
		return;
	n = snprintf(line, sizeof(line), "%s %s\n", slot_state_name(from),
	    slot_state_name(to));
	if (write(fd, line, (size_t)n) != n)
		return;		/* the test reading the file tells */
}

/*
 * The actions the engine (reload.c) takes on a slot.
 */

/*
 * Start a worker of configuration c, of its generation, in w (a worker
 * structure of slot s), on the slot's sockets, opened again if a failed
 * or halted slot had them closed.  Returns -1 after logging when it
 * cannot be started: w then has c's generation all the same, for the
 * failed start to be counted against the right reload.  What the
 * slot's last worker said (STATUS=) is not the new one's: it is cleared.
 */
int
slot_start(struct slot *s, struct worker *w, struct config *c)
{
	s->s_statuslen = 0;
	if (group_slot_open(s->s_id) == -1 ||
	    worker_start(w, c, c->c_gen) == -1) {
		w->w_gen = c->c_gen;
		return -1;
	}
	return 0;
}

/*
 * Replace the serving worker of slot s by one of the current generation:
 * the new one starts in the slot's free worker structure and becomes
 * current; the serving one becomes the old worker and serves on until
 * the engine confirms the new one (why: a reload's START_REPLACE or
 * START_RECYCLE, for the metrics).  Returns -1 (a failed start, the slot
 * keeps its worker) when it cannot be started.
 */
int
slot_replace(struct slot *s, enum start_why why)
{
	const struct config	*c = master.m_conf;
	struct worker		*nw = SLOT_OLD(s);

	if (slot_start(s, nw, master.m_conf) == -1) {
		reload_failed_start(nw, -1);
		return -1;
	}
	master.m_starts[why]++;
	/* Only now: failed starts before this one double the retry delay. */
	s->s_failures = 0;
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	slot_change(s, SLOT_STARTING, SLOT_OP_NEWCUR);
	if (c->c_ready == READY_NOTIFY)
		slot_grace(s, c->c_ready_timeout);
	return 0;
}

/*
 * Give slot s back to its old worker, which still serves, and stop the
 * current one: the step back of a rollback.
 */
void
slot_revert(struct slot *s)
{
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	s->s_failures = 0;
	s->s_delay = 0;
	slot_change(s, SLOT_READY, SLOT_OP_REVERT);
}

/* Ask the current worker of s to stop (it is of an abandoned generation). */
void
slot_stop_current(struct slot *s)
{
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	slot_change(s, SLOT_STOPPING, SLOT_OP_TERM_CUR);
}

/* The current worker of s is confirmed: its old one may stop. */
void
slot_term_old(struct slot *s)
{
	slot_change(s, s->s_state, SLOT_OP_TERM_OLD);
}

/*
 * Retire slot s, which is above the number of slots wanted: no new
 * connection is steered to it; an old worker is asked to stop; the
 * current one drains the slot's queue and is then asked to stop; once
 * both are gone the engine frees the slot (slot_free_retired).
 */
void
slot_retire(struct slot *s)
{
	if (s->s_state == SLOT_RETIRING)
		return;
	log_info("slot %d: retiring", s->s_id);
	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	s->s_drain = ev_now(EV_DEFAULT);
	slot_change(s, SLOT_RETIRING, SLOT_OP_TERM_OLD);
	if (SLOT_CUR(s)->w_pid == 0)
		slot_drain(s);
	else if (!SLOT_CUR(s)->w_termsent)
		slot_grace(s, SLOT_DRAIN_CHECK_TIME);
}

/*
 * A retiring slot with no worker: connections queued on it would be
 * reset when its sockets close, so a worker drains them first, of the
 * generation known to serve (the old one while a reload goes forward).
 * One that dies is followed by another after a restart delay, for as
 * long as the stop timeout since the slot began to retire allows.
 * Returns 1 if a worker was started or will be.
 */
int
slot_drain(struct slot *s)
{
	struct config	*c = master.m_reloading == RELOAD_FORWARD ?
			    master.m_prev : master.m_conf;

	if (group_queued(s->s_id) == 0 || ev_now(EV_DEFAULT) - s->s_drain >=
	    master.m_conf->c_stop_timeout)
		return 0;
	if (slot_start(s, SLOT_CUR(s), c) == -1) {
		slot_grace(s, slot_delay(s));
		return 1;
	}
	master.m_starts[START_DRAIN]++;
	log_info("slot %d: a worker drains what is queued on it", s->s_id);
	slot_change(s, SLOT_RETIRING, SLOT_OP_STARTED);
	slot_grace(s, SLOT_DRAIN_CHECK_TIME);
	return 1;
}

/*
 * Slot s was retiring but is wanted again (TTIN, or a reload asking for
 * more workers): it keeps what it has.  A worker already asked to stop
 * goes, and the engine refills the slot after it.
 */
void
slot_unretire(struct slot *s)
{
	struct worker	*w = SLOT_CUR(s);
	const struct config *c = w->w_conf;

	ev_timer_stop(EV_DEFAULT, &s->s_timer);
	log_info("slot %d: wanted again, no longer retiring", s->s_id);
	if (w->w_pid == 0) {
		slot_change(s, SLOT_EMPTY, SLOT_OP_NONE);
		return;
	}
	if (w->w_termsent) {
		slot_change(s, SLOT_STOPPING, SLOT_OP_NONE);
		return;
	}
	if (w->w_ready) {
		slot_change(s, SLOT_READY, SLOT_OP_NONE);
		return;
	}
	/* Not ready yet: wait for it as at its start. */
	slot_change(s, SLOT_STARTING, SLOT_OP_NONE);
	if (c->c_ready == READY_NOTIFY)
		slot_grace(s, c->c_ready_timeout);
	else if (w->w_execfd == -1 && w->w_execerr == 0)
		slot_exec_ok(w);
}

/*
 * Stop every slot: with STOP_GRACEFUL send the stop signal and arm the stop
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
		for (k = 0; k < 2 && how == STOP_NOW; k++) {
			w = &s->s_wk[k];
			ev_timer_stop(EV_DEFAULT, &w->w_watchdog);
			worker_kill(w, SIGKILL);
		}
		if (how == STOP_GRACEFUL)
			slot_change(s, s->s_state, SLOT_OP_TERM_OLD);
		if (s->s_state == SLOT_RETIRING)
			slot_change(s, SLOT_RETIRING, how == STOP_GRACEFUL ?
			    SLOT_OP_TERM_CUR : SLOT_OP_NONE);
		else if (SLOT_CUR(s)->w_pid == 0)
			slot_change(s, SLOT_EMPTY, SLOT_OP_NONE);
		else
			slot_change(s, SLOT_STOPPING, how == STOP_GRACEFUL ?
			    SLOT_OP_TERM_CUR : SLOT_OP_NONE);
	}
}

/* How many worker processes are running, old ones included. */
int
slot_nworkers(void)
{
	return master.m_nworkers;
}

/*
 * How many of the wanted slots have a worker serving, old or new.  The
 * slots above them (retiring, or about to) are few.
 */
int
slot_nserving(void)
{
	int	 k, n = master.m_nserving;

	for (k = slot_target(); k < master.m_nslots; k++)
		n -= slot_serving(k);
	return n;
}

/*
 * After an upgrade: slot s had state st in the previous image, and its
 * worker, if any, is already attached.  Timers start anew.
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
	/* Made in the state it had: where it starts, not a transition. */
	s->s_state = st;
	slot_change(s, st, SLOT_OP_NONE);
	if (st == SLOT_STARTING && c->c_ready == READY_NOTIFY)
		slot_grace(s, c->c_ready_timeout);
}
