/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Reloads, rollbacks and scaling.  SIGHUP reads the configuration anew
 * (the file, then the same command-line options as at start) into a new
 * struct config; a bad one is logged with file:line, recorded as
 * "invalid-config" and changes nothing.  A good one becomes generation
 * g+1: the listen addresses it shares with the old one keep their
 * sockets, new ones are opened.  Then every slot's worker is replaced:
 * a new worker starts on the slot's sockets while the old one serves on,
 * and the old one is asked to stop only once the new one is ready.
 * reload = rolling replaces reload_batch slots at a time and never runs
 * more than reload_batch workers beyond one per slot, so memory never
 * doubles; reload = all replaces every slot at once.
 *
 * A new worker that fails to start (exits before it is ready, misses the
 * ready timeout, exits 78) is retried with the usual backoff; after
 * reload_retries such failures, or at once on exit 78, the reload rolls
 * back: the old generation becomes current again, slots whose old worker
 * still serves get it back at once, the others get a worker of the old
 * generation the same way as in a reload.  A reload is over when every
 * slot has a ready worker of the current generation and no other worker
 * is left, so at most two generations ever run; a SIGHUP meanwhile is
 * remembered and starts one more reload afterwards.
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
static void	 reload_rollback(const char *);
static void	 reload_invalid(const char *, const char *);

/* How to read the configuration again: what main() was given. */
static const char	 *reload_file;
static const char	**reload_cli;
static size_t		  reload_ncli;
static char		**reload_cmd;

/*
 * Remember the configuration file, the command-line key/value pairs and
 * the command after --, for reload_read().
 */
void
reload_init(const char *file, const char **cli, size_t ncli, char **cmd)
{
	reload_file = file;
	reload_cli = cli;
	reload_ncli = ncli;
	reload_cmd = cmd;
}

/*
 * Build a configuration from the defaults, the file and the command
 * line, as at start.  Returns NULL after logging, with the exit status
 * that fits in *code: EXIT_USAGE for a bad option, EXIT_CONFIG else.
 */
struct config *
reload_read(int *code)
{
	struct config	*c = config_new();
	const char	*e;
	size_t		 i;
	int		 clilisten = 0;

	*code = EXIT_CONFIG;
	if (reload_file != NULL && config_load(c, reload_file) == -1)
		goto fail;
	for (i = 0; i < reload_ncli; i += 2) {
		if (strcmp(reload_cli[i], "listen") == 0 && !clilisten++)
			config_reset_listen(c);
		if (config_set(c, reload_cli[i], reload_cli[i + 1], &e) ==
		    -1) {
			log_warnx("%s", e);
			*code = EXIT_USAGE;
			goto fail;
		}
	}
	if (reload_cmd != NULL)
		config_set_argv(c, reload_cmd);
	if (config_finish(c, &e) == -1) {
		if (c->c_file != NULL)
			log_warnx("%s: %s", c->c_file, e);
		else
			log_warnx("%s", e);
		goto fail;
	}
	return c;
 fail:
	config_free(c);
	return NULL;
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
		state_changed();
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
	log_warnx("reload: %s; generation %llu keeps serving", result,
	    (unsigned long long)master.m_gen);
	state_changed();
	sdnotify_reloaded(result);
}

/*
 * Read the configuration and, if it is good, make it the current
 * generation and start replacing workers.
 */
static void
reload_begin(void)
{
	struct reloadinfo	*r = &master.m_reload;
	struct config		*nc, *oc = master.m_conf;
	int			 code;

	if ((nc = reload_read(&code)) == NULL) {
		reload_invalid("invalid-config", log_last());
		return;
	}
	/* Where the state files and the pid file are cannot change. */
	if (strcmp(nc->c_state_dir, oc->c_state_dir) != 0) {
		log_warnx("reload: state_dir cannot change while running; "
		    "keeping %s", oc->c_state_dir);
		free(nc->c_state_dir);
		if ((nc->c_state_dir = strdup(oc->c_state_dir)) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
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
	r->r_gen = master.m_gen;
	strlcpy(r->r_result, "in-progress", sizeof(r->r_result));
	r->r_error[0] = '\0';
	r->r_started = ev_time();
	r->r_finished = 0;
	log_info("reload: generation %llu, %d workers of %s (%s)",
	    (unsigned long long)master.m_gen, nc->c_workers, nc->c_cmdpath,
	    nc->c_reload == RELOAD_ALL ? "all at once" : "rolling");
	state_changed();
	reload_step();
}

/*
 * Move the reload on: start replacements as the batch allows, stop old
 * workers whose replacement is ready, retire slots above the wanted
 * number, and finish when all is done.  Outside a reload it only makes
 * the slot table as large as wanted.  Called after every event that may
 * matter: a worker ready, a worker gone, a HUP.
 */
void
reload_step(void)
{
	const struct config	*c = master.m_conf;
	struct slot		*s;
	struct worker		*cur, *old;
	int			 target = c->c_workers, k, n, first;
	int			 batch, pending = 0, extra;

	if (master.m_stopping)
		return;
	if (master.m_nslots < target) {
		first = master.m_nslots;
		slot_add(target - first);
		for (k = first; k < target; k++)
			slot_respawn(master.m_slots[k]);
	}
	if (!master.m_reloading)
		return;

	n = master.m_nslots < target ? master.m_nslots : target;
	/*
	 * Old workers whose replacement is ready may go.  A replacement
	 * still starting, or failing and waiting to start again, holds its
	 * place in the batch: a rollout never runs ahead of a failure.
	 */
	for (k = 0; k < n; k++) {
		s = master.m_slots[k];
		old = SLOT_OLD(s);
		cur = SLOT_CUR(s);
		if (old->w_pid != 0 && !old->w_termsent &&
		    s->s_state == SLOT_READY)
			slot_term_old(s);
		else if ((old->w_pid != 0 && !old->w_termsent) ||
		    (cur->w_gen == master.m_gen && (s->s_state ==
		    SLOT_STARTING || s->s_state == SLOT_BACKOFF)))
			pending++;
	}

	batch = c->c_reload == RELOAD_ALL ? target : c->c_reload_batch;
	extra = slot_nworkers() - master.m_nslots;
	for (k = 0; k < n && pending < batch && extra < batch; k++) {
		s = master.m_slots[k];
		cur = SLOT_CUR(s);
		if (s->s_state == SLOT_RETIRING || cur->w_gen == master.m_gen)
			continue;
		if (cur->w_pid == 0) {
			slot_respawn(s);
			continue;
		}
		if (s->s_state != SLOT_READY)
			continue;	/* an old worker still starting */
		slot_replace(s);
		pending++;
		extra++;
	}

	/*
	 * Done with the wanted slots?  Then retire the ones above.  A slot
	 * of the current generation that is halted or has spent its restart
	 * budget is settled too: waiting for it would hold the reload, and
	 * every later one, forever.
	 */
	for (k = 0; k < n; k++) {
		s = master.m_slots[k];
		if (SLOT_CUR(s)->w_gen != master.m_gen ||
		    SLOT_OLD(s)->w_pid != 0 || (s->s_state != SLOT_READY &&
		    s->s_state != SLOT_HALTED && s->s_state != SLOT_FAILED))
			return;
	}
	for (k = master.m_nslots - 1; k >= target; k--)
		slot_retire(master.m_slots[k]);
	if (master.m_nslots == target)
		reload_finish();
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
	log_info("reload: %s, generation %llu serves",
	    master.m_reloading == RELOAD_BACK ? "rolled back" : "done",
	    (unsigned long long)master.m_gen);
	sdnotify_reloaded(r->r_result);
	master.m_reloading = 0;
	prev = master.m_prev;
	master.m_prev = NULL;
	config_release(prev);
	state_changed();
	if (master.m_reload_pending) {
		master.m_reload_pending = 0;
		reload_begin();
	}
}

/*
 * A worker of the generation being rolled out ended before it was ready.
 * Exit 78 says its configuration is broken: roll back at once; other
 * failures are tolerated reload_retries times.
 */
void
reload_failed_start(struct worker *w, int status)
{
	char	 how[128], why[192];

	master.m_reload_fails++;
	log_status(status, w->w_execerr, how, sizeof(how));
	if (w->w_execerr == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == EXIT_CONFIG) {
		(void)snprintf(why, sizeof(why), "slot %d: a new worker %s",
		    w->w_slot->s_id, how);
		reload_rollback(why);
	} else if (master.m_reload_fails > master.m_conf->c_reload_retries) {
		(void)snprintf(why, sizeof(why), "%u failed starts, the "
		    "last in slot %d: %s", master.m_reload_fails,
		    w->w_slot->s_id, how);
		reload_rollback(why);
	}
}

/*
 * Give up the generation being rolled out and go back to the previous
 * one.
 */
static void
reload_rollback(const char *why)
{
	struct reloadinfo	*r = &master.m_reload;
	struct config		*failed = master.m_conf;
	struct slot		*s;
	int			 k;

	if (master.m_prev == NULL || master.m_reloading != RELOAD_FORWARD)
		return;
	log_warnx("reload: generation %llu failed (%s): rolling back to "
	    "generation %llu", (unsigned long long)failed->c_gen, why,
	    (unsigned long long)master.m_prev->c_gen);
	strlcpy(r->r_error, why, sizeof(r->r_error));
	strlcpy(r->r_result, "rolling-back", sizeof(r->r_result));
	master.m_conf = master.m_prev;
	master.m_prev = failed;
	master.m_gen = master.m_conf->c_gen;
	master.m_reloading = RELOAD_BACK;
	for (k = master.m_nslots - 1; k >= 0; k--) {
		s = master.m_slots[k];
		if (k >= master.m_conf->c_workers)
			slot_retire(s);
		else
			slot_revert(s);
	}
	state_changed();
	reload_step();
}

/*
 * TTIN and TTOU: one slot more or fewer.  A slot added joins every
 * reuseport group and gets a worker; the top slot retires (slot_retire).
 * Not while a reload runs: its target would be a moving one.
 */
void
reload_scale(int delta)
{
	struct config	*c = master.m_conf;
	int		 n = c->c_workers + delta;
	size_t		 i;

	if (master.m_stopping)
		return;
	if (master.m_reloading) {
		log_warnx("%s ignored: a reload is in progress",
		    delta > 0 ? "SIGTTIN" : "SIGTTOU");
		return;
	}
	if (n < 1 || n > DROVER_MAX_WORKERS) {
		log_warnx("%s ignored: %d workers is the %s", delta > 0 ?
		    "SIGTTIN" : "SIGTTOU", c->c_workers, delta > 0 ?
		    "most" : "fewest");
		return;
	}
	for (i = 0; i < c->c_nlisten; i++)
		if (listen_grow(c->c_lis[i], n) == -1)
			return;
	c->c_workers = n;
	log_info("%s: %d workers", delta > 0 ? "SIGTTIN" : "SIGTTOU", n);
	if (delta < 0)
		slot_retire(master.m_slots[n]);
	reload_step();
	state_changed();
}
