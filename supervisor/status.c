/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The state files in state_dir: `live` (its mtime refreshed every second
 * by the event loop, so a stale mtime means a stuck master), `ready`
 * (present exactly while every slot has a ready worker and the master is
 * not stopping) and `status.json`.  Changes only mark the state dirty; an
 * ev_prepare watcher, just before the loop waits again, brings `ready` up
 * to date at once and writes status.json at a rate bounded by its size
 * (status_prepare_cb), so that a burst of changes costs one write and a
 * rolling reload of many workers a few writes a second, not one per step.
 * Every file is written under a temporary name and renamed, so a reader
 * never sees half a file.  The directory is locked for the master's
 * lifetime (`lock`, lock.c): two masters never share one.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

static long	 status_write(const char *, void (*)(FILE *));
static int	 status_create(const char *);
static void	 status_readyfile(int);
static void	 status_update(int);
static void	 status_prepare_cb(struct ev_loop *, ev_prepare *, int);
static void	 status_live_cb(struct ev_loop *, ev_timer *, int);
static void	 status_lazy_cb(struct ev_loop *, ev_timer *, int);

/* How late status.json may show a counter. */
#define STATUS_COUNTED	0.2
/*
 * The least time between two writes of status.json: one second per
 * STATUS_BYTESPS bytes of the last one, at most STATUS_GAPMAX.  A write
 * costs about 7 ns a byte (2.5 ms for the 350 KB of 1024 workers), so
 * writing takes a few percent of the master's time however many workers
 * there are, and a change costs no more than that however big the file;
 * a small service (under 3 KB, 8 workers) waits under a millisecond,
 * shorter than any state it shows.  The cap keeps the delay of a reader
 * short: it is reached at about 1100 workers.
 */
#define STATUS_BYTESPS	4000000.
#define STATUS_GAPMAX	0.1
/*
 * Becoming ready is written at once, out of the gap, at most once per
 * STATUS_READYGAP seconds: a start or recovery is told at once (and so
 * the service manager), a worker that makes readiness come and go as
 * fast as it can costs one write a second more.
 */
#define STATUS_READYGAP	1.
static void	 status_empty(FILE *);
static void	 status_fail(const char *);
static void	 status_fixed(void);
static void	 status_slot(FILE *, const struct slot *);
static void	 status_exit(FILE *, const struct exitinfo *);

static int		 status_dirfd = -1;
static int		 status_lockfd = -1;	/* the locked `lock` */
static int		 status_spare = -1;	/* for a write without fds */
static int		 status_retry;		/* a write failed */
static int		 status_first;		/* a start's first write */
static ev_tstamp	 status_faillog;	/* when that was said */
static unsigned long	 status_quiet;		/* failures not said since */
static int		 status_isready;	/* `ready` exists */
static int		 status_wasready;	/* ready, as last written */
static ev_tstamp	 status_readyat;	/* last readiness written early */
/* The writes of status.json, paced (pace.c). */
static struct pace	 status_pace = { .p_fn = status_flush,
    .p_max = STATUS_GAPMAX };
static ev_prepare	 status_prepare;
static ev_timer		 status_tick;
static ev_timer		 status_lazy;

/*
 * Create the state directory if needed (with its parents, as a default
 * like /run/drover/NAME needs), open it and take its lock: one master
 * per state directory.  path_opendir() refuses a directory others could
 * write in; everything in it is then created relative to its descriptor.
 * Returns 0; 1 if another master holds it (its pid in *holder), having
 * touched nothing; -1 after logging.
 */
int
status_open(const char *dir, pid_t *holder)
{
	char	*label;
	int	 held;

	if ((status_dirfd = path_opendir(dir, PATH_CREATE,
	    "state directory")) == -1)
		return -1;
	(void)xasprintf(&label, "state directory lock %s/lock", dir);
	status_lockfd = lock_take(status_dirfd, "lock", label, holder);
	held = status_lockfd == -1 && errno == EEXIST;
	free(label);
	if (status_lockfd == -1) {
		close(status_dirfd);
		status_dirfd = -1;
		return held ? 1 : -1;
	}
	return 0;
}

/* After an upgrade: the state directory and its lock, handed over. */
int
status_adopt(int dirfd, int lockfd)
{
	struct stat	 st;

	if (fstat(dirfd, &st) == -1 || !S_ISDIR(st.st_mode))
		return -1;
	(void)fcntl(dirfd, F_SETFD, FD_CLOEXEC);
	status_dirfd = dirfd;
	status_lockfd = lockfd;
	return 0;
}

/* The descriptors an upgrade hands over. */
void
status_fds(int *dirfd, int *lockfd)
{
	*dirfd = status_dirfd;
	*lockfd = status_lockfd;
}

/*
 * Write the first status, create `live` and start the watchers.  After
 * an upgrade, `ready` stays while the workers serve on.  At a start,
 * returns -1 after logging if the files cannot be written.  After an
 * upgrade that is no reason to stop: the previous image served with the
 * same directory, and the writes are tried again every second, as any
 * that fails.
 */
int
status_start(int upgrade)
{
	if (upgrade && faccessat(status_dirfd, "ready", F_OK,
	    AT_SYMLINK_NOFOLLOW) == 0)
		status_isready = 1;
	else
		(void)unlinkat(status_dirfd, "ready", 0);
	status_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	status_first = !upgrade;
	if ((status_write("live", status_empty) == -1 ||
	    status_write("status.json", status_json) == -1) && !upgrade)
		return -1;
	status_first = 0;
	status_wasready = status_isready;
	ev_prepare_init(&status_prepare, status_prepare_cb);
	ev_prepare_start(EV_DEFAULT, &status_prepare);
	ev_timer_init(&status_lazy, status_lazy_cb, STATUS_COUNTED, 0);
	ev_timer_init(&status_tick, status_live_cb, 1, 1);
	ev_timer_start(EV_DEFAULT, &status_tick);
	return 0;
}

/* Something status.json shows has changed. */
void
status_changed(void)
{
	master.m_dirty = 1;
}

/*
 * Only a counter or a worker's STATUS= text changed: status.json shows
 * it within STATUS_COUNTED seconds, so that a worker sending thousands of
 * messages a second costs a few writes a second, not thousands.
 */
void
status_counted(void)
{
	if (ev_is_active(&status_lazy))
		return;
	/* Set anew: a one-shot timer that expired keeps no delay. */
	ev_timer_set(&status_lazy, STATUS_COUNTED, 0);
	ev_timer_start(EV_DEFAULT, &status_lazy);
}

static void
status_lazy_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	master.m_dirty = 1;
}

static void
status_empty(FILE *fp)
{
	(void)fp;
}

/*
 * Write file in the state directory through write_cb, under a temporary
 * name first, then rename it into place.  The temporary file is always a
 * new one (whatever had its name is removed first), so no link there is
 * ever followed and no file of someone else's truncated; rename(2)
 * replaces a link at the final name rather than following it.  Returns
 * the size written, or -1.
 */
static long
status_write(const char *file, void (*write_cb)(FILE *))
{
	char	 tmp[64];
	FILE	*fp;
	long	 size;
	int	 fd;

	(void)snprintf(tmp, sizeof(tmp), ".%s.tmp", file);
	if ((fd = status_create(tmp)) == -1 && (errno == EMFILE ||
	    errno == ENFILE) && status_spare != -1) {
		/* Out of descriptors: the spare one is for this. */
		close(status_spare);
		status_spare = -1;
		fd = status_create(tmp);
	}
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		status_fail(tmp);
		if (fd != -1)
			close(fd);
		return -1;
	}
	write_cb(fp);
	if (fflush(fp) == EOF || ferror(fp) || (size = ftell(fp)) == -1) {
		status_fail(tmp);
		fclose(fp);
		return -1;
	}
	if (fclose(fp) == EOF ||
	    renameat(status_dirfd, tmp, status_dirfd, file) == -1) {
		status_fail(file);
		return -1;
	}
	if (status_spare == -1)
		status_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return size;
}

/* Create the state file name anew, for writing; -1 with errno. */
static int
status_create(const char *name)
{
	if (unlinkat(status_dirfd, name, 0) == -1 && errno != ENOENT)
		return -1;
	return openat(status_dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0644);
}

/*
 * A state file could not be written: say so (once a minute at most) and
 * try again at the next tick of `live`, until it works.  The first
 * writes of a start are not tried again: drover exits (71).
 */
static void
status_fail(const char *file)
{
	ev_tstamp	 now = ev_now(EV_DEFAULT);

	if (status_first) {
		log_warn("state file %s", file);
		return;
	}
	status_retry = 1;
	if (status_faillog != 0 && now - status_faillog < 60) {
		status_quiet++;
		return;
	}
	if (status_quiet > 0)
		log_warn("state file %s (%lu more failures); trying again "
		    "every second", file, status_quiet);
	else
		log_warn("state file %s; trying again every second", file);
	status_faillog = now;
	status_quiet = 0;
}

/*
 * The state files are written again after a failure: say so, with the
 * failures the log has not told, which would otherwise go untold.
 */
static void
status_fixed(void)
{
	status_retry = 0;
	if (status_faillog != 0 && status_quiet > 0)
		log_info("state files written again, after %lu more "
		    "failures", status_quiet);
	else if (status_faillog != 0)
		log_info("state files written again");
	status_faillog = 0;
	status_quiet = 0;
}

/*
 * Bring status.json and `ready` up to date now if anything changed:
 * before the master stops or executes itself anew, and when a write is
 * due (status_prepare_cb).  A write that fails is tried again at the
 * next tick, not at every iteration.
 */
void
status_flush(void)
{
	if (!master.m_dirty || status_dirfd == -1)
		return;
	status_update(status_ready());
}

/*
 * Make `ready` say ready: create or remove it.  A failure is tried again
 * at the next tick.
 */
static void
status_readyfile(int ready)
{
	if (!ready && status_isready) {
		if (unlinkat(status_dirfd, "ready", 0) == -1 && errno !=
		    ENOENT)
			status_fail("ready");
		else
			status_isready = 0;
	}
	if (ready && !status_isready &&
	    status_write("ready", status_empty) != -1)
		status_isready = 1;
}

/* Write `ready` and status.json for readiness ready. */
static void
status_update(int ready)
{
	long	 size;

	master.m_dirty = 0;
	/*
	 * `ready` is removed before and created before status.json says so:
	 * whoever sees "ready": true in status.json finds the file too.
	 */
	status_readyfile(ready);
	status_wasready = ready;
	size = status_write("status.json", status_json);
	/* A failed write keeps the gap of the last that worked. */
	pace_done(&status_pace, size != -1 ? size / STATUS_BYTESPS : -1);
	if (size != -1 && status_isready == ready && status_retry)
		status_fixed();
	/* The service manager hears it once the files say it. */
	sdnotify_state(ready, status_nready(), slot_target());
}

/*
 * Before the loop waits, if anything changed.  `ready` follows readiness
 * at once.  status.json is written at once if it says ready and no
 * longer should (so that it never says so without the file), if it does
 * not say ready and should (at most once per STATUS_READYGAP), or if the
 * gap after the last write has passed (the first change after a quiet
 * spell); else at the end of the gap (pace.c), with whatever else changed
 * meanwhile.  So readers see the last state at most a gap late, and
 * every state that lasts longer than that; a worker that makes readiness
 * come and go as fast as it can costs one write per gap, and one a second.
 */
static void
status_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	int	 ready, gained;

	(void)p;
	(void)revents;
	if (!master.m_dirty || status_dirfd == -1)
		return;
	ready = status_ready();
	gained = !status_wasready && ready &&
	    ev_now(loop) - status_readyat >= STATUS_READYGAP;
	if (gained)
		status_readyat = ev_now(loop);
	if (gained || (status_wasready && !ready) || pace_due(&status_pace))
		status_update(ready);
	else
		status_readyfile(ready);
}

/* Refresh the mtime of `live`; recreate it if someone removed it. */
void
status_live(void)
{
	if (utimensat(status_dirfd, "live", NULL, AT_SYMLINK_NOFOLLOW) == -1)
		(void)status_write("live", status_empty);
	if (status_retry)
		master.m_dirty = 1;
}

static void
status_live_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	status_live();
	/* Recycling is checked on this tick: no wake-up of its own. */
	recycle_tick();
}

/* Remove every state file, at exit. */
void
status_cleanup(void)
{
	if (status_dirfd == -1)
		return;
	ev_prepare_stop(EV_DEFAULT, &status_prepare);
	pace_stop(&status_pace);
	ev_timer_stop(EV_DEFAULT, &status_tick);
	ev_timer_stop(EV_DEFAULT, &status_lazy);
	(void)unlinkat(status_dirfd, "ready", 0);
	(void)unlinkat(status_dirfd, "status.json", 0);
	(void)unlinkat(status_dirfd, "live", 0);
	(void)unlinkat(status_dirfd, "notify", AT_REMOVEDIR);
	lock_release(status_dirfd, "lock", status_lockfd);
	status_lockfd = -1;
	close(status_dirfd);
	status_dirfd = -1;
}

/* Write s as a JSON string (text_json()). */
void
status_str(FILE *fp, const char *s)
{
	text_json(fp, s, strlen(s));
}

/* Write s as a JSON string, or null for "". */
static void
status_nstr(FILE *fp, const char *s)
{
	if (*s != '\0')
		status_str(fp, s);
	else
		fputs("null", fp);
}

/* A number of seconds of the wall clock, or null for 0. */
static void
status_time(FILE *fp, double t)
{
	if (t > 0)
		fprintf(fp, "%.3f", t);
	else
		fputs("null", fp);
}

/*
 * The members an operation's object in status.json starts with (reload,
 * upgrade): how the last one ended and when it ran, null for none yet.
 */
void
status_outcome(FILE *fp, const char *result, const char *error,
    double started, double finished)
{
	fputs("\"result\": ", fp);
	status_nstr(fp, result);
	fputs(", \"error\": ", fp);
	status_nstr(fp, error);
	fputs(", \"started\": ", fp);
	status_time(fp, started);
	fputs(", \"finished\": ", fp);
	status_time(fp, finished);
}

/* The last_exit object of a slot. */
static void
status_exit(FILE *fp, const struct exitinfo *x)
{
	char	 how[128];

	if (x->x_pid == 0) {
		fputs("null", fp);
		return;
	}
	fprintf(fp, "{\"pid\": %ld, \"status\": ", (long)x->x_pid);
	if (x->x_execerr != 0) {
		(void)snprintf(how, sizeof(how), "cannot %s: %s",
		    spawn_step(x->x_execstep), strerror(x->x_execerr));
		status_str(fp, how);
	} else
		status_str(fp, log_status(x->x_status, 0, how, sizeof(how)));
	if (WIFEXITED(x->x_status))
		fprintf(fp, ", \"code\": %d, \"signal\": null",
		    WEXITSTATUS(x->x_status));
	else
		fprintf(fp, ", \"code\": null, \"signal\": %d",
		    WTERMSIG(x->x_status));
	fprintf(fp, ", \"core\": %s, \"reason\": ", WIFSIGNALED(x->x_status) &&
	    WCOREDUMP(x->x_status) ? "true" : "false");
	if (x->x_reason != NULL)
		status_str(fp, x->x_reason);
	else
		fputs("null", fp);
	fputc('}', fp);
}

/* One slot's object in status.json. */
static void
status_slot(FILE *fp, const struct slot *s)
{
	const struct worker	*w = SLOT_CUR(s), *old = SLOT_OLD(s);

	fprintf(fp, "{\"id\": %d, \"pid\": %ld, \"generation\": %llu, "
	    "\"state\": \"%s\", \"restarts\": %u, \"failures\": %u, "
	    "\"backoff_ms\": %lld, \"status\": ", s->s_id, (long)w->w_pid,
	    (unsigned long long)w->w_gen, slot_state_name(s->s_state),
	    s->s_restarts, s->s_failures, s->s_state == SLOT_BACKOFF ?
	    (long long)(s->s_delay * 1000 + 0.5) : 0);
	if (s->s_statuslen > 0)
		text_json(fp, s->s_status, s->s_statuslen);
	else
		fputs("null", fp);
	fprintf(fp, ", \"notify\": {\"messages\": %lu, \"malformed\": %lu, "
	    "\"rejected\": %lu}, \"old\": ", s->s_nmsg, s->s_nbad,
	    s->s_nrejected);
	if (old->w_pid != 0)
		fprintf(fp, "{\"pid\": %ld, \"generation\": %llu, \"state\": "
		    "\"%s\"}", (long)old->w_pid, (unsigned long long)old->w_gen,
		    old->w_termsent ? "stopping" : "serving");
	else
		fputs("null", fp);
	fputs(", \"recycling\": ", fp);
	if (s->s_recycle != NULL || w->w_recycle != NULL)
		status_str(fp, s->s_recycle != NULL ? s->s_recycle :
		    w->w_recycle);
	else
		fputs("null", fp);
	fputs(", \"last_exit\": ", fp);
	status_exit(fp, &s->s_last);
	fputc('}', fp);
}

/*
 * The content of status.json, also served by the health endpoint; its
 * fields are documented in drover(8).
 */
void
status_json(FILE *fp)
{
	const struct config	*c = master.m_conf;
	const struct reloadinfo	*r = &master.m_reload;
	const struct listener	*l;
	size_t			 i;
	int			 k;

	fprintf(fp, "{\n  \"version\": 1,\n  \"pid\": %ld,\n"
	    "  \"generation\": %llu,\n  \"state\": \"%s\",\n",
	    (long)getpid(), (unsigned long long)master.m_gen,
	    master.m_stopping ? "stopping" : master.m_reloading ? "reloading" :
	    "running");
	fprintf(fp, "  \"ready\": %s,\n  \"workers\": %d,\n"
	    "  \"workers_ready\": %d,\n", status_ready() ? "true" : "false",
	    slot_target(), status_nready());

	fprintf(fp, "  \"reload\": {\"generation\": %llu, ",
	    (unsigned long long)r->r_gen);
	status_outcome(fp, r->r_result, r->r_error, r->r_started,
	    r->r_finished);
	fprintf(fp, ", \"pending\": %s, \"requests\": %u, "
	    "\"covers\": %u},\n",
	    master.m_reload_pending ? "true" : "false", r->r_count,
	    r->r_covers);

	fputs("  \"upgrade\": ", fp);
	upgrade_status(fp);
	fprintf(fp, ",\n  \"output_dropped\": %lu,\n", output_dropped());
	fputs("  \"health\": ", fp);
	health_status(fp);
	fprintf(fp, ",\n  \"listeners\": [");
	for (i = 0; i < c->c_nlisten; i++) {
		l = c->c_lis[i];
		fprintf(fp, "%s\n    {\"name\": ", i > 0 ? "," : "");
		status_str(fp, c->c_lnames[i]);
		fprintf(fp, ", \"address\": ");
		status_str(fp, l->l_addr);
		if (l->l_type == LISTEN_TCP) {
			fprintf(fp, ", \"type\": \"tcp\", \"host\": ");
			status_str(fp, l->l_host);
			fprintf(fp, ", \"port\": %d", l->l_port);
		} else {
			fprintf(fp, ", \"type\": \"unix\", \"path\": ");
			status_str(fp, l->l_path);
		}
		fprintf(fp, ", \"reuseport\": %s, \"sockets\": %d}",
		    l->l_reuseport ? "true" : "false", group_open_fds(l));
	}
	fprintf(fp, "%s],\n  \"slots\": [", c->c_nlisten ? "\n  " : "");
	for (k = 0; k < master.m_nslots; k++) {
		fputs(k > 0 ? ",\n    " : "\n    ", fp);
		status_slot(fp, master.m_slots[k]);
	}
	fprintf(fp, "%s]\n}\n", master.m_nslots ? "\n  " : "");
}

/* How many of the wanted slots have a worker serving, old or new. */
int
status_nready(void)
{
	return slot_nserving();
}

/*
 * Whether the cluster can serve: every wanted slot has a worker serving
 * (of either generation during a reload) and drover is not stopping.
 * Becoming ready waits for the slots that wait to join the steering
 * program (group_joining), at most its gap: until then new connections
 * go to the others only.
 */
int
status_ready(void)
{
	int	 want = slot_target();

	if (master.m_conf->c_min_ready > 0 && master.m_conf->c_min_ready < want)
		want = master.m_conf->c_min_ready;
	return !master.m_stopping && slot_target() > 0 &&
	    status_nready() >= want && (status_isready || !group_joining());
}

