/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * SIGUSR2: re-execute the drover binary in place, to upgrade drover
 * itself, without ever taking the service down.  The process stays the
 * same (its pid, so systemd's MAINPID stays true; its children, so the
 * workers keep running and are still ours to reap), and so does every
 * descriptor the master holds: the listening sockets, the health
 * endpoint's listener, the workers' notify channels and output pipes, the
 * locked pid file and the state directory with its lock.
 *
 * An upgrade goes through three steps, each of which may end it with the
 * running image still serving:
 *
 *  1. Wait until the master is settled: no reload, no retiring slot, no
 *     old worker, no worker between fork and exec.  A USR2 during any of
 *     those waits for it instead of being refused.
 *  2. Check the new binary: run it as `drover -n` with the same command
 *     line, so that it reads the same configuration file, and with the
 *     state it would adopt, which it must be able to read.  Only an exit
 *     status of 0 goes on; anything else (a file that no longer parses, a
 *     binary that cannot load its libraries, one that is gone) is logged
 *     with what the check printed, and recorded in status.json.
 *  3. Execute it, from an ev_prepare watcher, that is between two loop
 *     iterations, when no event is waiting to be handled.  Signals come
 *     through signalfd (main.c), so they are blocked: one sent during the
 *     execve(2) stays pending and the new image handles it.  If execve
 *     fails, the running image carries on and says why.
 *
 * What the new image needs (handoff.c) is written to a memfd named in
 * DROVER_UPGRADE.
 *
 * The new image runs the configuration handed over, which is what the
 * workers run, and not the file as it is now: an upgrade replaces the
 * program, a reload the configuration, so an upgrade never changes what
 * the workers run and needs no rollback of its own.  The file is read
 * once more only to say whether the next SIGHUP would take it.  Every
 * count in the state is bounded, every descriptor checked with fstat(2)
 * and every worker checked to be our child before it is adopted.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

#define UPGRADE_ENV		"DROVER_UPGRADE"
#define UPGRADE_MEMFD		"drover-upgrade"
/* How long the check of a new binary may take. */
#define UPGRADE_CHECK_TIME	30.0
/* How much of the check's output is kept for the log. */
#define UPGRADE_OUT		512

enum upgrade_step {
	UP_IDLE,
	UP_WAITING,		/* for the master to settle */
	UP_CHECKING,		/* the new binary's -n runs */
	UP_CHECKED		/* it passed: execute at the next prepare */
};

static int	 upgrade_settled(const char **);
static void	 upgrade_start(void);
static void	 upgrade_check(void);
static void	 upgrade_exec(void);
static void	 upgrade_end(const char *, const char *);
static int	 upgrade_state(void);
static char	**upgrade_env(int);
static void	 upgrade_env_free(char **);
static void	 upgrade_fds(int);
static void	 upgrade_inherit(int, int);
static void	 upgrade_prepare_cb(struct ev_loop *, ev_prepare *, int);
static void	 upgrade_child_cb(struct ev_loop *, ev_child *, int);
static void	 upgrade_out_cb(struct ev_loop *, ev_io *, int);
static void	 upgrade_timer_cb(struct ev_loop *, ev_timer *, int);

static char	**upgrade_argv;		/* our argv, copied at start */
static char	*upgrade_self;		/* the binary to execute */
static int	 upgrade_fd = -1;	/* the state, in a new image */

static enum upgrade_step upgrade_step_now;
static int	 upgrade_again;		/* another USR2 came meanwhile */
static int	 upgrade_waitlogged;
static ev_prepare upgrade_prepare;
static ev_child	 upgrade_child;
static ev_io	 upgrade_out;
static ev_timer	 upgrade_timer;
static int	 upgrade_checkfd = -1;	/* the state the check reads */
static int	 upgrade_timedout;
static char	 upgrade_outbuf[UPGRADE_OUT + 1];
static size_t	 upgrade_outlen;
/*
 * The check's argv and environment, set in its child only: a child
 * whose execve(2) fails exits with the master's memory still pointed at,
 * which tells memcheck (make check-valgrind) that this is no leak.
 */
static char	**volatile upgrade_child_argv;
static char	**volatile upgrade_child_envp;

/*
 * Remember how we were started, before setproctitle(3) reuses the argv
 * area: the binary (resolved now, so that a binary replaced at the same
 * path is the one executed) and the arguments.  Take DROVER_UPGRADE out
 * of env, our copy of the environment, so that it never reaches a worker
 * nor the next upgrade.
 */
void
upgrade_init(int argc, char **argv, char **env)
{
	const char	*e;
	size_t		 i, j, len = strlen(UPGRADE_ENV);
	int		 i2;

	upgrade_argv = xcalloc(argc + 1, sizeof(char *));
	for (i2 = 0; i2 < argc; i2++)
		upgrade_argv[i2] = xstrdup(argv[i2]);
	if (strchr(argv[0], '/') != NULL)
		upgrade_self = realpath(argv[0], NULL);
	if (upgrade_self == NULL)
		upgrade_self = spawn_resolve(argv[0]);

	for (i = j = 0; env[i] != NULL; i++) {
		if (strncmp(env[i], UPGRADE_ENV "=", len + 1) == 0) {
			upgrade_fd = (int)strtonum(env[i] + len + 1, 3,
			    INT32_MAX, &e);
			if (e != NULL)
				upgrade_fd = -1;
			free(env[i]);
			continue;
		}
		env[j++] = env[i];
	}
	env[j] = NULL;
	(void)unsetenv(UPGRADE_ENV);
}

/*
 * Whether this image was started by an upgrade: DROVER_UPGRADE names a
 * memfd made for one.  Anything else in the variable is ignored with a
 * warning (a fresh start), never trusted.
 */
int
upgrade_handed(void)
{
	char	 path[64], target[128];
	ssize_t	 n;

	if (upgrade_fd == -1)
		return 0;
	(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", upgrade_fd);
	if ((n = readlink(path, target, sizeof(target) - 1)) > 0) {
		target[n] = '\0';
		if (strncmp(target, "/memfd:" UPGRADE_MEMFD,
		    sizeof("/memfd:" UPGRADE_MEMFD) - 1) == 0)
			return 1;
	}
	log_warnx("%s does not name an upgrade's state: ignored", UPGRADE_ENV);
	upgrade_fd = -1;
	return 0;
}

/* Whether an upgrade was asked for and is not over: no recycling. */
int
upgrade_busy(void)
{
	return upgrade_step_now != UP_IDLE;
}

/*
 * Whether the master is settled enough to hand over; if not, what it is
 * waiting for goes to *what.
 */
static int
upgrade_settled(const char **what)
{
	const struct slot	*s;
	int			 k;

	if (master.m_reloading) {
		*what = "the reload";
		return 0;
	}
	for (k = 0; k < master.m_nslots; k++) {
		s = master.m_slots[k];
		if (s->s_state == SLOT_RETIRING) {
			*what = "a slot to retire";
			return 0;
		}
		if (SLOT_OLD(s)->w_pid != 0 || SLOT_CUR(s)->w_termsent ||
		    SLOT_CUR(s)->w_execfd != -1) {
			*what = "a worker to start or stop";
			return 0;
		}
	}
	return 1;
}

/* Record how the upgrade ended (result, and why if not "ok"). */
static void
upgrade_end(const char *result, const char *why)
{
	struct upgradeinfo	*u = &master.m_upgrade;

	strlcpy(u->u_result, result, sizeof(u->u_result));
	strlcpy(u->u_error, why != NULL ? why : "", sizeof(u->u_error));
	u->u_finished = ev_time();
	metrics_upgraded(result);
	upgrade_step_now = UP_IDLE;
	ev_prepare_stop(EV_DEFAULT, &upgrade_prepare);
	status_changed();
}

/*
 * SIGUSR2.  An upgrade already waiting takes this request too; one being
 * checked or about to execute is followed by another.
 */
void
upgrade_request(void)
{
	master.m_upgrade.u_requests++;
	status_changed();
	if (master.m_stopping)
		return;
	switch (upgrade_step_now) {
	case UP_IDLE:
		upgrade_start();
		break;
	case UP_WAITING:
		break;
	case UP_CHECKING:
	case UP_CHECKED:
		if (!upgrade_again)
			log_info("upgrade: one is under way; another follows "
			    "it");
		upgrade_again = 1;
		break;
	}
}

static void
upgrade_start(void)
{
	struct upgradeinfo	*u = &master.m_upgrade;

	strlcpy(u->u_result, "in-progress", sizeof(u->u_result));
	u->u_error[0] = '\0';
	u->u_started = ev_time();
	u->u_finished = 0;
	upgrade_step_now = UP_WAITING;
	upgrade_waitlogged = 0;
	ev_prepare_init(&upgrade_prepare, upgrade_prepare_cb);
	ev_prepare_start(EV_DEFAULT, &upgrade_prepare);
	status_changed();
}

/*
 * Between two loop iterations: start the check once the master is
 * settled, execute once the check passed (and it is still settled), give
 * up when the master stops.
 */
static void
upgrade_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	const char	*what;

	(void)loop;
	(void)p;
	(void)revents;
	if (master.m_stopping) {
		if (upgrade_step_now == UP_CHECKING)
			(void)kill(upgrade_child.pid, SIGKILL);
		upgrade_again = 0;
		upgrade_end("cancelled", "the master is stopping");
		return;
	}
	if (upgrade_step_now != UP_WAITING && upgrade_step_now != UP_CHECKED)
		return;
	if (!upgrade_settled(&what)) {
		if (!upgrade_waitlogged++)
			log_info("upgrade: waiting for %s to finish", what);
		upgrade_step_now = UP_WAITING;	/* check again once settled */
		return;
	}
	if (upgrade_step_now == UP_WAITING)
		upgrade_check();
	else
		upgrade_exec();
}

/*
 * Write the state to a new memfd, positioned at its start.  Returns the
 * descriptor (not close-on-exec: it is for the next image), or -1 after
 * logging.
 */
static int
upgrade_state(void)
{
	FILE	*fp;
	int	 fd, dfd;

	if ((fd = memfd_create(UPGRADE_MEMFD, 0)) == -1) {
		log_warn("upgrade: memfd_create");
		return -1;
	}
	if ((dfd = dup(fd)) == -1 || (fp = fdopen(dfd, "w")) == NULL) {
		log_warn("upgrade: cannot write the state");
		if (dfd != -1)
			close(dfd);
		close(fd);
		return -1;
	}
	if (handoff_write(fp, upgrade_again) == -1 || fclose(fp) == EOF ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		log_warn("upgrade: cannot write the state");
		close(fd);
		return -1;
	}
	return fd;
}

/* The environment of the new image: ours, and the state's descriptor. */
static char **
upgrade_env(int fd)
{
	char	**envp;
	size_t	 n;

	for (n = 0; master.m_environ[n] != NULL; n++)
		;
	envp = xcalloc(n + 2, sizeof(*envp));
	memcpy(envp, master.m_environ, n * sizeof(*envp));
	(void)xasprintf(&envp[n], "%s=%d", UPGRADE_ENV, fd);
	envp[n + 1] = NULL;
	return envp;
}

/* Free what upgrade_env allocated: the array and its last entry. */
static void
upgrade_env_free(char **envp)
{
	size_t	 n;

	for (n = 0; envp[n] != NULL; n++)
		;
	if (n > 0)
		free(envp[n - 1]);
	free(envp);
}

/*
 * Step 2: run the new binary with -n, our arguments and the state, its
 * output captured for the log.
 */
static void
upgrade_check(void)
{
	char		**argv, **envp;
	int		 p[2], null, argc, i;
	sigset_t	 all, old;
	pid_t		 pid;

	upgrade_outlen = 0;
	upgrade_timedout = 0;
	/*
	 * A request from now on is answered by this check, or another; those
	 * counted so far by this one.
	 */
	master.m_upgrade.u_started = ev_time();
	master.m_upgrade.u_covers = master.m_upgrade.u_requests;
	status_changed();
	if ((upgrade_checkfd = upgrade_state()) == -1) {
		upgrade_end("failed", "cannot write the state");
		return;
	}
	for (argc = 0; upgrade_argv[argc] != NULL; argc++)
		;
	argv = xcalloc(argc + 2, sizeof(*argv));
	argv[0] = upgrade_self;
	argv[1] = "-n";
	for (i = 1; i < argc; i++)
		argv[i + 1] = upgrade_argv[i];
	envp = upgrade_env(upgrade_checkfd);
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("upgrade: pipe");
		goto fail;
	}
	sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == 0) {
		upgrade_child_argv = argv;
		upgrade_child_envp = envp;
		spawn_reset_signals();
		null = open("/dev/null", O_RDONLY);
		if (null == -1 || dup2(null, 0) == -1 || dup2(p[1], 1) == -1 ||
		    dup2(p[1], 2) == -1)
			_exit(126);
		execve(upgrade_self, argv, envp);
		dprintf(2, "cannot re-execute %s: %s\n", upgrade_self,
		    strerror(errno));
		_exit(127);
	}
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (pid == -1) {
		log_warn("upgrade: fork");
		close(p[0]);
		goto fail;
	}
	(void)fcntl(p[0], F_SETFL, O_NONBLOCK);
	ev_io_init(&upgrade_out, upgrade_out_cb, p[0], EV_READ);
	ev_io_start(EV_DEFAULT, &upgrade_out);
	ev_child_init(&upgrade_child, upgrade_child_cb, pid, 0);
	ev_child_start(EV_DEFAULT, &upgrade_child);
	ev_timer_init(&upgrade_timer, upgrade_timer_cb, UPGRADE_CHECK_TIME, 0);
	ev_timer_start(EV_DEFAULT, &upgrade_timer);
	upgrade_step_now = UP_CHECKING;
	log_info("upgrade: checking %s with the configuration", upgrade_self);
	free(argv);
	upgrade_env_free(envp);
	return;
 fail:
	free(argv);
	upgrade_env_free(envp);
	close(upgrade_checkfd);
	upgrade_checkfd = -1;
	upgrade_end("failed", "cannot run the check");
}

/* What the check prints: keep the tail, for the log. */
static void
upgrade_out_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	char	 buf[1024];
	ssize_t	 n;
	size_t	 keep;

	(void)loop;
	(void)revents;
	while ((n = read(io->fd, buf, sizeof(buf))) > 0) {
		if ((size_t)n >= UPGRADE_OUT) {
			memcpy(upgrade_outbuf, buf + n - UPGRADE_OUT,
			    UPGRADE_OUT);
			upgrade_outlen = UPGRADE_OUT;
			continue;
		}
		keep = upgrade_outlen + n > UPGRADE_OUT ?
		    UPGRADE_OUT - (size_t)n : upgrade_outlen;
		memmove(upgrade_outbuf, upgrade_outbuf + upgrade_outlen - keep,
		    keep);
		memcpy(upgrade_outbuf + keep, buf, (size_t)n);
		upgrade_outlen = keep + (size_t)n;
	}
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		ev_io_stop(EV_DEFAULT, io);
		close(io->fd);
		io->fd = -1;
	}
}

static void
upgrade_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	upgrade_timedout = 1;
	(void)kill(upgrade_child.pid, SIGKILL);
}

/*
 * The check is over.  Exit 0: execute at the next prepare.  Anything
 * else: the upgrade is refused, with the last line the check printed.
 */
static void
upgrade_child_cb(struct ev_loop *loop, ev_child *ch, int revents)
{
	char	 how[128], why[1024], *last, *p;

	(void)revents;
	ev_child_stop(loop, ch);
	ev_timer_stop(loop, &upgrade_timer);
	if (upgrade_out.fd != -1)
		upgrade_out_cb(loop, &upgrade_out, EV_READ);
	if (upgrade_out.fd != -1) {
		ev_io_stop(loop, &upgrade_out);
		close(upgrade_out.fd);
		upgrade_out.fd = -1;
	}
	close(upgrade_checkfd);
	upgrade_checkfd = -1;
	if (upgrade_step_now != UP_CHECKING)
		return;		/* cancelled meanwhile */
	if (WIFEXITED(ch->rstatus) && WEXITSTATUS(ch->rstatus) == 0 &&
	    !upgrade_timedout) {
		upgrade_step_now = UP_CHECKED;
		return;
	}
	/* The last non-empty line of its output says why. */
	upgrade_outbuf[upgrade_outlen] = '\0';
	while (upgrade_outlen > 0 && isspace((unsigned char)
	    upgrade_outbuf[upgrade_outlen - 1]))
		upgrade_outbuf[--upgrade_outlen] = '\0';
	last = (p = strrchr(upgrade_outbuf, '\n')) != NULL ? p + 1 :
	    upgrade_outbuf;
	for (p = last; *p != '\0'; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	if (upgrade_timedout)
		(void)snprintf(how, sizeof(how), "took longer than %gs",
		    UPGRADE_CHECK_TIME);
	else
		log_status(ch->rstatus, 0, how, sizeof(how));
	(void)snprintf(why, sizeof(why), "%s -n %s%s%s", upgrade_self, how,
	    *last != '\0' ? ": " : "", last);
	log_warnx("upgrade refused: %s; this image keeps serving", why);
	upgrade_end("refused", why);
	if (upgrade_again) {
		upgrade_again = 0;
		upgrade_start();
	}
}

/*
 * Step 3: hand everything over and execute the new image.  Returns only
 * if that failed, after saying why.
 */
static void
upgrade_exec(void)
{
	char		**envp, why[192];
	sigset_t	 all, old;
	int		 fd, saved;

	if ((fd = upgrade_state()) == -1) {
		upgrade_end("failed", "cannot write the state");
		return;
	}
	envp = upgrade_env(fd);
	log_info("upgrade: executing %s", upgrade_self);
	status_flush();
	output_drain();
	sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &old);
	upgrade_fds(1);
	execve(upgrade_self, upgrade_argv, envp);
	saved = errno;
	upgrade_fds(0);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	close(fd);
	upgrade_env_free(envp);
	(void)snprintf(why, sizeof(why), "cannot re-execute %s: %s",
	    upgrade_self, strerror(saved));
	log_warnx("upgrade: %s; this image keeps running", why);
	upgrade_end("failed", why);
	if (upgrade_again) {
		upgrade_again = 0;
		upgrade_start();
	}
}

/* Let fd survive execve (keep) or not. */
static void
upgrade_inherit(int fd, int keep)
{
	if (fd >= 0)
		(void)fcntl(fd, F_SETFD, keep ? 0 : FD_CLOEXEC);
}

/*
 * Make every descriptor the new image adopts survive execve (keep = 1),
 * or close-on-exec again (keep = 0, after a failed execve).
 */
static void
upgrade_fds(int keep)
{
	struct listener	*l;
	struct worker	*w;
	size_t		 i;
	int		 k, dirfd, lockfd;

	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		for (k = 0; k < l->l_nfds; k++)
			upgrade_inherit(l->l_fds[k], keep);
	}
	for (k = 0; k < master.m_nslots; k++) {
		w = SLOT_CUR(master.m_slots[k]);
		upgrade_inherit(w->w_nfd, keep);
		upgrade_inherit(w->w_sfd, keep);
		upgrade_inherit(output_fd(w, 0), keep);
		upgrade_inherit(output_fd(w, 1), keep);
	}
	status_fds(&dirfd, &lockfd);
	upgrade_inherit(dirfd, keep);
	upgrade_inherit(lockfd, keep);
	upgrade_inherit(master_pidfile(), keep);
	upgrade_inherit(health_fd(), keep);
}














/* The upgrade object of status.json. */
void
upgrade_status(FILE *fp)
{
	const struct upgradeinfo	*u = &master.m_upgrade;

	fputc('{', fp);
	status_outcome(fp, u->u_result, u->u_error, u->u_started,
	    u->u_finished);
	fprintf(fp, ", \"upgrades\": %u, \"requests\": %u, "
	    "\"covers\": %u}", u->u_done, u->u_requests, u->u_covers);
}

/*
 * drover -n, run by a master about to upgrade to this binary: check that
 * the state it would hand over can be read.  Returns 0 when there is
 * none or it is good, -1 after logging otherwise.
 */
int
upgrade_verify(void)
{
	return upgrade_handed() ? handoff_verify(upgrade_fd) : 0;
}

/*
 * In a new image: take over what the previous one handed over (see
 * handoff_take), remembering whether another upgrade was asked for.
 */
struct config *
upgrade_begin(int *fds)
{
	return handoff_take(upgrade_fd, fds, &upgrade_again);
}

/*
 * In a new image, once the slots are adopted: a USR2 that came while the
 * previous image checked this binary starts another upgrade now.
 */
void
upgrade_adopted(void)
{
	if (upgrade_again) {
		upgrade_again = 0;
		upgrade_start();
	}
}
