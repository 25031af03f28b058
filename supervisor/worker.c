/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * A worker process, as the master sees it: starting one (spawn.c forks
 * it) or taking one over after an upgrade, with the same watchers either
 * way (worker_attach); the exec report pipe; the signals the master sends
 * it and the stop timeout after its stop signal.  Its libev callbacks
 * only report to the worker's slot (slot.c): it exited, its exec
 * succeeded.  SIGKILL goes to the worker's whole process group, and when
 * a worker has exited whatever is left of its group is killed too, so
 * nothing a worker started outlives it.
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

static void	 worker_child_cb(struct ev_loop *, ev_child *, int);
static void	 worker_exec_cb(struct ev_loop *, ev_io *, int);
static void	 worker_stop_cb(struct ev_loop *, ev_timer *, int);

/* Set up the watchers of a worker structure, once, when its slot is made. */
void
worker_init(struct worker *w, struct slot *s)
{
	w->w_slot = s;
	w->w_execfd = w->w_nfd = w->w_sfd = -1;
	ev_child_init(&w->w_child, worker_child_cb, 0, 0);
	w->w_child.data = w;
	ev_io_init(&w->w_exec, worker_exec_cb, -1, EV_READ);
	w->w_exec.data = w;
	ev_timer_init(&w->w_stop, worker_stop_cb, 0, 0);
	w->w_stop.data = w;
}

/*
 * Watch worker w, whose process pid is running (just forked, or handed
 * over by an upgrade): its exit, its exec report pipe execfd (or -1 when
 * it has exec'd already), its notify channels and its output.
 */
void
worker_attach(struct worker *w, pid_t pid, int execfd)
{
	w->w_pid = pid;
	master.m_nworkers++;
	w->w_execfd = execfd;
	ev_child_set(&w->w_child, pid, 0);
	ev_child_start(EV_DEFAULT, &w->w_child);
	if (execfd != -1) {
		ev_io_set(&w->w_exec, execfd, EV_READ);
		ev_io_start(EV_DEFAULT, &w->w_exec);
	}
	notify_start(w);
	output_start(w);
}

/*
 * Start a worker of configuration c, generation gen, in w (of slot s):
 * fork it with its channels and attach it.  Returns -1 after logging
 * when it cannot be started (fork, pipe, socket pair: out of processes
 * or descriptors).
 */
int
worker_start(struct worker *w, struct config *c, uint64_t gen)
{
	int	 fd;
	pid_t	 pid;

	w->w_conf = c;
	c->c_refs++;
	w->w_gen = gen;
	w->w_execerr = 0;
	w->w_execstep = 0;
	w->w_termsent = 0;
	w->w_ready = 0;
	w->w_proven = 0;
	w->w_killreason = NULL;
	w->w_recycle = NULL;
	w->w_memticks = 0;
	w->w_deadline = 0;
	if ((pid = spawn_worker(w->w_slot, w, &fd)) == -1) {
		config_release(w->w_conf);
		w->w_conf = NULL;
		return -1;
	}
	w->w_started = ev_time();
	worker_attach(w, pid, fd);
	log_debug("slot %d: started worker %ld (gen %llu)", w->w_slot->s_id,
	    (long)pid, (unsigned long long)gen);
	return 0;
}

/*
 * Read the exec report pipe of w: nothing yet, an error record from the
 * child, or EOF, which means exec succeeded (the pipe was close-on-exec).
 * Closes the pipe once the answer is known.  Returns 1 when exec is known
 * to have succeeded, 0 otherwise.
 */
int
worker_exec_read(struct worker *w)
{
	int	 msg[2];
	ssize_t	 n;

	if (w->w_execfd == -1)
		return w->w_execerr == 0;
	n = read(w->w_execfd, msg, sizeof(msg));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	ev_io_stop(EV_DEFAULT, &w->w_exec);
	close(w->w_execfd);
	w->w_execfd = -1;
	if (n == (ssize_t)sizeof(msg)) {
		w->w_execstep = msg[0];
		w->w_execerr = msg[1] != 0 ? msg[1] : EIO;
		return 0;
	}
	if (n != 0)
		log_warnx("slot %d: worker %ld: bad exec report",
		    w->w_slot->s_id, (long)w->w_pid);
	return n == 0;
}

/*
 * Send sig to worker w.  SIGKILL goes to its whole process group, so
 * that nothing it started outlives it (a worker started by an older
 * drover leads no group: then to the worker alone).
 */
void
worker_kill(struct worker *w, int sig)
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
 * Ask worker w to stop: its stop signal now, SIGKILL after the stop
 * timeout.  The signal is that of its own generation's configuration:
 * a reload that changes stop_signal stops the old workers as they
 * expect to be stopped.  Only slot.c calls this, through slot_change(),
 * which owns what a slot serves.
 */
void
worker_term(struct worker *w)
{
	double		 t = master.m_conf->c_stop_timeout;
	const char	*name;

	if (w->w_pid == 0 || w->w_termsent)
		return;
	w->w_termsent = 1;
	ev_timer_stop(EV_DEFAULT, &w->w_watchdog);
	worker_kill(w, config_stop_signal(w->w_conf, &name));
	ev_timer_set(&w->w_stop, t, 0);
	ev_timer_start(EV_DEFAULT, &w->w_stop);
}

/*
 * The worker has exited: stop watching it, read what it said last and
 * tell its slot.
 */
static void
worker_child_cb(struct ev_loop *loop, ev_child *ch, int revents)
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
	(void)worker_exec_read(w);
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
	slot_exited(w, ch->rstatus);
	master_check_done();
}

/* The exec report pipe: EOF means the worker's program runs. */
static void
worker_exec_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker	*w = io->data;

	(void)loop;
	(void)revents;
	if (worker_exec_read(w) && w->w_execfd == -1)
		slot_exec_ok(w);
}

/* The stop timeout of worker w ran out: SIGKILL. */
static void
worker_stop_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;
	const char	*name;

	(void)loop;
	(void)revents;
	(void)config_stop_signal(w->w_conf, &name);
	log_warnx("slot %d: worker %ld still running %gs after SIG%s: "
	    "sending SIGKILL", w->w_slot->s_id, (long)w->w_pid,
	    master.m_conf->c_stop_timeout, name);
	worker_kill(w, SIGKILL);
}
