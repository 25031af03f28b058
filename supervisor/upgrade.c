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
 * What the new image needs is written as text lines to a memfd named in
 * DROVER_UPGRADE, each field escaped (upgrade_esc) so that any byte may
 * appear in it:
 *
 *	drover-upgrade 2
 *	gen GEN LASTGEN SERIAL
 *	fds PIDFILE STATEDIR STATELOCK HEALTH
 *	upgrade REQUESTS DONE STARTED AGAIN
 *	reload GEN RESULT STARTED FINISHED REQUESTS ERROR
 *	conf KEY VALUE			(the configuration in use, key by key)
 *	listener REUSEPORT INHERITED BACKLOG NFDS FD,FD,... ADDRESS
 *	slot ID STATE RESTARTS FAILURES PID GEN STARTED READY NFD SFD OFD PATH
 *	end
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
#define UPGRADE_VERSION		"drover-upgrade 2"
/* How long the check of a new binary may take. */
#define UPGRADE_CHECK_TIME	30.0
/* The longest line of the state, and the most lines of each kind. */
#define UPGRADE_LINE		65536
#define UPGRADE_MAXCONF		4096
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
static int	 upgrade_write(FILE *);
static void	 upgrade_conf_line(void *, const char *, const char *);
static void	 upgrade_esc(FILE *, const char *);
static int	 upgrade_unesc(char *);
static int	 upgrade_split(char *, char **, int);
static char	**upgrade_env(int);
static void	 upgrade_env_free(char **);
static void	 upgrade_fds(int);
static void	 upgrade_inherit(int, int);
static int	 upgrade_sock(int);
static int	 upgrade_mychild(pid_t);
static struct config *
		 upgrade_read(FILE *, int, int *);
static struct listener *
		 upgrade_listener(char **, int);
static void	 upgrade_prepare_cb(struct ev_loop *, ev_prepare *, int);
static void	 upgrade_child_cb(struct ev_loop *, ev_child *, int);
static void	 upgrade_out_cb(struct ev_loop *, ev_io *, int);
static void	 upgrade_timer_cb(struct ev_loop *, ev_timer *, int);

static char	**upgrade_argv;		/* our argv, copied at start */
static char	*upgrade_self;		/* the binary to execute */
static int	 upgrade_fd = -1;	/* the state, in a new image */
static char	**upgrade_lines;	/* the slot lines, in a new image */
static int	 upgrade_nlines;

static enum upgrade_step upgrade_step_now;
static int	 upgrade_again;		/* another USR2 came meanwhile */
static int	 upgrade_waitlogged;
static ev_prepare upgrade_prepare;
static ev_child	 upgrade_child;
static ev_io	 upgrade_out;
static ev_timer	 upgrade_timer;
static int	 upgrade_checkfd = -1;	/* the state the check reads */
static int	 upgrade_timedout;
static int	 upgrade_fdsv[UPGRADE_NFDS];	/* handed over, in a new image */
static char	 upgrade_outbuf[UPGRADE_OUT + 1];
static size_t	 upgrade_outlen;

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

	if ((upgrade_argv = calloc(argc + 1, sizeof(char *))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	for (i2 = 0; i2 < argc; i2++)
		if ((upgrade_argv[i2] = strdup(argv[i2])) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
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
	upgrade_step_now = UP_IDLE;
	ev_prepare_stop(EV_DEFAULT, &upgrade_prepare);
	state_changed();
}

/*
 * SIGUSR2.  An upgrade already waiting takes this request too; one being
 * checked or about to execute is followed by another.
 */
void
upgrade_request(void)
{
	master.m_upgrade.u_requests++;
	state_changed();
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
	state_changed();
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
	if (upgrade_write(fp) == -1 || fclose(fp) == EOF ||
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
	if ((envp = calloc(n + 2, sizeof(*envp))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	memcpy(envp, master.m_environ, n * sizeof(*envp));
	if (asprintf(&envp[n], "%s=%d", UPGRADE_ENV, fd) == -1)
		fatal(EXIT_OSERR, "%s", __func__);
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
	/* A request from now on is answered by this check, or another. */
	master.m_upgrade.u_started = ev_time();
	state_changed();
	if ((upgrade_checkfd = upgrade_state()) == -1) {
		upgrade_end("failed", "cannot write the state");
		return;
	}
	for (argc = 0; upgrade_argv[argc] != NULL; argc++)
		;
	if ((argv = calloc(argc + 2, sizeof(*argv))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
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
	state_flush();
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
		upgrade_inherit(w->w_ofd, keep);
	}
	state_fds(&dirfd, &lockfd);
	upgrade_inherit(dirfd, keep);
	upgrade_inherit(lockfd, keep);
	upgrade_inherit(master_pidfile(), keep);
	upgrade_inherit(health_fd(), keep);
}

/*
 * Write s as one field: bytes outside printable ASCII, blanks and '%'
 * as %XX; the empty string as "-" (and "-" itself escaped).
 */
static void
upgrade_esc(FILE *fp, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	if (*p == '\0') {
		fputc('-', fp);
		return;
	}
	for (; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '%' ||
		    (*p == '-' && p == (const unsigned char *)s && p[1] == '\0'))
			fprintf(fp, "%%%02X", *p);
		else
			fputc(*p, fp);
	}
}

/* Undo upgrade_esc in place; -1 if malformed. */
static int
upgrade_unesc(char *s)
{
	char	*d = s, hex[3];

	if (strcmp(s, "-") == 0) {
		*s = '\0';
		return 0;
	}
	for (; *s != '\0'; s++) {
		if (*s != '%') {
			*d++ = *s;
			continue;
		}
		if (!isxdigit((unsigned char)s[1]) ||
		    !isxdigit((unsigned char)s[2]))
			return -1;
		hex[0] = s[1];
		hex[1] = s[2];
		hex[2] = '\0';
		*d = (char)strtol(hex, NULL, 16);
		if (*d == '\0')
			return -1;
		d++;
		s += 2;
	}
	*d = '\0';
	return 0;
}

static void
upgrade_conf_line(void *arg, const char *key, const char *value)
{
	FILE	*fp = arg;

	fputs("conf ", fp);
	upgrade_esc(fp, key);
	fputc(' ', fp);
	upgrade_esc(fp, value);
	fputc('\n', fp);
}

/* Write the state a new image adopts; -1 on error. */
static int
upgrade_write(FILE *fp)
{
	const struct reloadinfo		*r = &master.m_reload;
	const struct upgradeinfo	*u = &master.m_upgrade;
	const struct listener		*l;
	const struct slot		*s;
	const struct worker		*w;
	size_t				 i;
	int				 k, dirfd, lockfd;

	state_fds(&dirfd, &lockfd);
	fprintf(fp, "%s\ngen %llu %llu %lu\n", UPGRADE_VERSION,
	    (unsigned long long)master.m_gen,
	    (unsigned long long)master.m_lastgen, master.m_serial);
	fprintf(fp, "fds %d %d %d %d\n", master_pidfile(), dirfd, lockfd,
	    health_fd());
	fprintf(fp, "upgrade %u %u %.6f %d\n", u->u_requests, u->u_done,
	    u->u_started, upgrade_again);
	fprintf(fp, "reload %llu ", (unsigned long long)r->r_gen);
	upgrade_esc(fp, r->r_result);
	fprintf(fp, " %.6f %.6f %u ", r->r_started, r->r_finished,
	    r->r_count);
	upgrade_esc(fp, r->r_error);
	fputc('\n', fp);
	config_each(master.m_conf, upgrade_conf_line, fp);
	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		fprintf(fp, "listener %d %d %d %d ", l->l_reuseport,
		    l->l_inherited, l->l_backlog, l->l_nfds);
		for (k = 0; k < l->l_nfds; k++)
			fprintf(fp, "%s%d", k > 0 ? "," : "", l->l_fds[k]);
		fputc(' ', fp);
		upgrade_esc(fp, l->l_addr);
		fputc('\n', fp);
	}
	for (k = 0; k < master.m_nslots; k++) {
		s = master.m_slots[k];
		w = SLOT_CUR(s);
		fprintf(fp, "slot %d %s %u %u %ld %llu %.6f %d %d %d %d ",
		    s->s_id, slot_state_name(s->s_state), s->s_restarts,
		    s->s_failures, (long)w->w_pid,
		    (unsigned long long)w->w_gen, w->w_started, w->w_ready,
		    w->w_nfd, w->w_sfd, w->w_ofd);
		upgrade_esc(fp, w->w_npath != NULL ? w->w_npath : "");
		fputc('\n', fp);
	}
	fputs("end\n", fp);
	return fflush(fp) == EOF || ferror(fp) ? -1 : 0;
}

/*
 * Split line into at most max fields separated by single blanks; returns
 * how many, or -1 if there are more.
 */
static int
upgrade_split(char *line, char **f, int max)
{
	char	*p;
	int	 n = 0;

	line[strcspn(line, "\n")] = '\0';
	for (p = line; p != NULL && *p != '\0'; n++) {
		if (n == max)
			return -1;
		f[n] = p;
		if ((p = strchr(p, ' ')) != NULL)
			*p++ = '\0';
	}
	return n;
}

/* Whether fd is an open socket. */
static int
upgrade_sock(int fd)
{
	struct stat	 st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Whether pid is a child of this process (running or a zombie). */
static int
upgrade_mychild(pid_t pid)
{
	char	 path[64], buf[512], *p;
	FILE	*fp;
	long	 ppid;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	p = fgets(buf, sizeof(buf), fp);
	fclose(fp);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return 0;
	return ppid == (long)getpid();
}

/*
 * A listener line (fields after "listener"): its sockets are taken as
 * they are; the address is what the kernel says they are bound to, so
 * nothing is resolved again.  NULL if the line is bad.
 */
static struct listener *
upgrade_listener(char **f, int dry)
{
	struct listener		*l;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	const char		*e;
	char			*p, *q;
	int			 nfds, k;

	nfds = (int)strtonum(f[3], 1, DROVER_MAX_WORKERS, &e);
	if (e != NULL || upgrade_unesc(f[5]) == -1)
		return NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->l_fds = calloc(nfds, sizeof(int))) == NULL ||
	    (l->l_addr = strdup(f[5])) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	l->l_reuseport = f[0][0] == '1';
	l->l_inherited = f[1][0] == '1';
	l->l_backlog = (int)strtonum(f[2], 1, 65535, &e);
	if (e != NULL)
		goto bad;
	for (p = f[4], k = 0; k < nfds; k++, p = q + 1) {
		l->l_fds[k] = (int)strtol(p, &q, 10);
		if (q == p || (*q != ',' && *q != '\0') ||
		    (*q == '\0' && k + 1 < nfds) || (*q == ',' && k + 1 ==
		    nfds) || (!dry && !upgrade_sock(l->l_fds[k])))
			goto bad;
		l->l_nfds = k + 1;
	}
	if (dry)
		return l;
	for (k = 0; k < nfds; k++)
		(void)fcntl(l->l_fds[k], F_SETFD, FD_CLOEXEC);
	l->l_sslen = sizeof(l->l_ss);
	if (getsockname(l->l_fds[0], (struct sockaddr *)&l->l_ss,
	    &l->l_sslen) == -1)
		goto bad;
	sin = (struct sockaddr_in *)&l->l_ss;
	sin6 = (struct sockaddr_in6 *)&l->l_ss;
	switch (l->l_ss.ss_family) {
	case AF_INET:
		l->l_type = LISTEN_TCP;
		l->l_port = ntohs(sin->sin_port);
		inet_ntop(AF_INET, &sin->sin_addr, l->l_host,
		    sizeof(l->l_host));
		break;
	case AF_INET6:
		l->l_type = LISTEN_TCP;
		l->l_port = ntohs(sin6->sin6_port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, l->l_host,
		    sizeof(l->l_host));
		break;
	case AF_UNIX:
		l->l_type = LISTEN_UNIX;
		if (strncmp(l->l_addr, "unix:", 5) != 0 ||
		    (l->l_path = strdup(l->l_addr + 5)) == NULL)
			goto bad;
		break;
	default:
		goto bad;
	}
	return l;
 bad:
	l->l_nfds = 0;		/* not ours to close */
	listen_close(l);
	free(l);
	return NULL;
}

/*
 * Read the state from fp.  With dry set (drover -n checking it for a
 * master about to upgrade), only check it; else take over its listeners
 * and descriptors (fds[]).  Returns the configuration handed over, or
 * NULL after logging, with the line in *lineno.
 */
static struct config *
upgrade_read(FILE *fp, int dry, int *lineno)
{
	struct config	*c = config_new();
	struct listener	*l, **v;
	char		*line = NULL, *raw = NULL, *f[16];
	const char	*e;
	size_t		 sz = 0;
	ssize_t		 len;
	unsigned long long gen, lastgen;
	int		 n, nconf = 0, nslot = 0, seen = 0, fdsv[UPGRADE_NFDS];

	*lineno = 0;
	while ((len = getline(&line, &sz, fp)) != -1) {
		++*lineno;
		if (len > UPGRADE_LINE)
			goto bad;
		if (*lineno == 1) {
			if (strcmp(line, UPGRADE_VERSION "\n") != 0)
				goto bad;
			continue;
		}
		if (strncmp(line, "slot ", 5) == 0 && !dry &&
		    (raw = strdup(line)) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
		n = upgrade_split(line, f, 16);
		if (n < 1)
			goto bad;
		if (strcmp(f[0], "end") == 0 && n == 1) {
			seen |= 1;
			break;
		} else if (strcmp(f[0], "gen") == 0 && n == 4) {
			gen = strtonum(f[1], 1, INT64_MAX, &e);
			if (e == NULL)
				lastgen = strtonum(f[2], 1, INT64_MAX, &e);
			if (e == NULL)
				master.m_serial = strtonum(f[3], 0, INT64_MAX,
				    &e);
			if (e != NULL || lastgen < gen)
				goto bad;
			master.m_gen = gen;
			master.m_lastgen = lastgen;
			seen |= 2;
		} else if (strcmp(f[0], "fds") == 0 && n == 5) {
			for (n = 0; n < UPGRADE_NFDS; n++) {
				fdsv[n] = (int)strtonum(f[n + 1], -1,
				    INT32_MAX, &e);
				if (e != NULL)
					goto bad;
			}
			if (!dry)
				memcpy(upgrade_fdsv, fdsv, sizeof(fdsv));
			seen |= 4;
		} else if (strcmp(f[0], "upgrade") == 0 && n == 5) {
			master.m_upgrade.u_requests = (unsigned int)strtonum(
			    f[1], 0, UINT32_MAX, &e);
			if (e == NULL)
				master.m_upgrade.u_done = (unsigned int)
				    strtonum(f[2], 0, UINT32_MAX, &e);
			if (e != NULL)
				goto bad;
			master.m_upgrade.u_started = strtod(f[3], NULL);
			upgrade_again = f[4][0] == '1';
		} else if (strcmp(f[0], "reload") == 0 && n == 7) {
			if (upgrade_unesc(f[2]) == -1 ||
			    upgrade_unesc(f[6]) == -1)
				goto bad;
			master.m_reload.r_gen = strtonum(f[1], 0, INT64_MAX,
			    &e);
			if (e == NULL)
				master.m_reload.r_count = (unsigned int)
				    strtonum(f[5], 0, UINT32_MAX, &e);
			if (e != NULL)
				goto bad;
			strlcpy(master.m_reload.r_result, f[2],
			    sizeof(master.m_reload.r_result));
			master.m_reload.r_started = strtod(f[3], NULL);
			master.m_reload.r_finished = strtod(f[4], NULL);
			strlcpy(master.m_reload.r_error, f[6],
			    sizeof(master.m_reload.r_error));
		} else if (strcmp(f[0], "conf") == 0 && n == 3) {
			if (++nconf > UPGRADE_MAXCONF ||
			    upgrade_unesc(f[1]) == -1 ||
			    upgrade_unesc(f[2]) == -1)
				goto bad;
			if (config_set(c, f[1], f[2], &e) == -1) {
				log_warnx("upgrade: the configuration handed "
				    "over: %s", e);
				goto fail;
			}
		} else if (strcmp(f[0], "listener") == 0 && n == 7) {
			if (master.m_nlis >= DROVER_MAX_LISTEN ||
			    (l = upgrade_listener(f + 1, dry)) == NULL)
				goto bad;
			if (dry) {
				free(l->l_fds);
				free(l->l_addr);
				free(l);
				continue;
			}
			v = reallocarray(master.m_lis, master.m_nlis + 1,
			    sizeof(*v));
			if (v == NULL)
				fatal(EXIT_OSERR, "%s", __func__);
			master.m_lis = v;
			master.m_lis[master.m_nlis++] = l;
		} else if (strcmp(f[0], "slot") == 0 && n == 13) {
			if (++nslot > DROVER_MAX_WORKERS)
				goto bad;
			if (dry)
				continue;
			upgrade_lines = reallocarray(upgrade_lines,
			    upgrade_nlines + 1, sizeof(char *));
			if (upgrade_lines == NULL)
				fatal(EXIT_OSERR, "%s", __func__);
			upgrade_lines[upgrade_nlines++] = raw;
			raw = NULL;
		} else
			goto bad;
		free(raw);
		raw = NULL;
	}
	free(line);
	line = NULL;
	if (seen != 7 || nslot == 0 || ferror(fp))
		goto bad;
	if (config_finish(c, &e) == -1) {
		log_warnx("upgrade: the configuration handed over: %s", e);
		goto fail;
	}
	return c;
 bad:
	log_warnx("upgrade: the state is unreadable at line %d", *lineno);
 fail:
	free(raw);
	free(line);
	config_free(c);
	return NULL;
}

/*
 * drover -n, run by a master about to upgrade to this binary: check that
 * the state it would hand over can be read.  Returns 0 when there is
 * none or it is good (and says so), -1 after logging otherwise.
 */
int
upgrade_verify(void)
{
	struct config	*c;
	FILE		*fp;
	int		 line;

	if (!upgrade_handed())
		return 0;
	if ((fp = fdopen(upgrade_fd, "r")) == NULL) {
		log_warn("upgrade: the state");
		return -1;
	}
	c = upgrade_read(fp, 1, &line);
	fclose(fp);
	if (c == NULL)
		return -1;
	config_free(c);
	printf("upgrade state ok\n");
	return 0;
}

/*
 * In a new image: read the state, take over its listeners (so that the
 * configuration finds them open instead of binding anew) and return the
 * configuration handed over, with the descriptors of the pid file, the
 * state directory and its lock and the health listener in fds.  The slot
 * lines wait for upgrade_slots().  A state that cannot be read is fatal
 * (EXIT_SOFTWARE): the descriptors it names could not be trusted.
 */
struct config *
upgrade_begin(int *fds)
{
	struct upgradeinfo	*u = &master.m_upgrade;
	struct config		*c;
	FILE			*fp;
	int			 line, i;

	if ((fp = fdopen(upgrade_fd, "r")) == NULL)
		fatal(EXIT_SOFTWARE, "upgrade: the state");
	c = upgrade_read(fp, 0, &line);
	fclose(fp);
	if (c == NULL)
		fatalx(EXIT_SOFTWARE, "upgrade: cannot take over");
	for (i = 0; i < UPGRADE_NFDS; i++)
		fds[i] = upgrade_fdsv[i];
	if ((fds[UPGRADE_PIDFILE] != -1 &&
	    lock_adopt(fds[UPGRADE_PIDFILE]) == -1) ||
	    (fds[UPGRADE_PIDFILE] == -1) != (c->c_pidfile == NULL) ||
	    lock_adopt(fds[UPGRADE_STATELOCK]) == -1 ||
	    (fds[UPGRADE_HEALTH] != -1 && !upgrade_sock(fds[UPGRADE_HEALTH])) ||
	    (fds[UPGRADE_HEALTH] == -1) != (c->c_health == NULL))
		fatalx(EXIT_SOFTWARE, "upgrade: a descriptor handed over is "
		    "not what it should be");
	strlcpy(u->u_result, "ok", sizeof(u->u_result));
	u->u_error[0] = '\0';
	u->u_finished = ev_time();
	u->u_done++;
	return c;
}

/*
 * In a new image, once the configuration is active: a listener it does
 * not use (there should be none) is closed.
 */
void
upgrade_keep_listeners(void)
{
	size_t	 i;

	for (i = 0; i < master.m_nlis; i++) {
		if (master.m_lis[i]->l_refs > 0)
			continue;
		log_warnx("upgrade: listen %s is not configured: closed",
		    master.m_lis[i]->l_addr);
		master.m_lis[i]->l_refs = 1;
		listen_put(master.m_lis[i--]);
	}
}

/*
 * In a new image: adopt the slots and their workers, which are our
 * children already, then read the configuration file once, to say
 * whether the next SIGHUP would take it.
 */
void
upgrade_slots(void)
{
	struct upgradeinfo	*u = &master.m_upgrade;
	struct config		*c = master.m_conf, *fc;
	struct slot		*s;
	struct worker		*w;
	char			*f[16];
	const char		*e;
	unsigned long long	 gen;
	long			 pid;
	int			 n, st, nf, code;

	for (n = 0; n < upgrade_nlines; n++) {
		nf = upgrade_split(upgrade_lines[n], f, 16);
		for (st = SLOT_EMPTY; st <= SLOT_RETIRING; st++)
			if (strcmp(f[2], slot_state_name(st)) == 0)
				break;
		pid = strtonum(f[5], 0, INT32_MAX, &e);
		if (nf != 13 || strtonum(f[1], 0, DROVER_MAX_WORKERS, NULL) !=
		    n || st > SLOT_RETIRING || e != NULL ||
		    upgrade_unesc(f[12]) == -1)
			fatalx(EXIT_SOFTWARE, "upgrade: bad slot %d", n);
		slot_add(1);
		s = master.m_slots[n];
		w = SLOT_CUR(s);
		s->s_restarts = (unsigned int)strtonum(f[3], 0, UINT32_MAX,
		    NULL);
		s->s_failures = (unsigned int)strtonum(f[4], 0, UINT32_MAX,
		    NULL);
		if (pid > 0 && !upgrade_mychild((pid_t)pid)) {
			log_warnx("upgrade: slot %d: pid %ld is not a child "
			    "of this master: not adopted", n, pid);
			pid = 0;
		}
		if (pid > 0) {
			gen = strtonum(f[6], 1, INT64_MAX, NULL);
			w->w_pid = (pid_t)pid;
			w->w_gen = gen;
			w->w_conf = c;
			c->c_refs++;
			w->w_started = strtod(f[7], NULL);
			w->w_ready = f[8][0] == '1';
			w->w_nfd = (int)strtonum(f[9], -1, INT32_MAX, NULL);
			w->w_sfd = (int)strtonum(f[10], -1, INT32_MAX, NULL);
			w->w_ofd = (int)strtonum(f[11], -1, INT32_MAX, NULL);
			if (!upgrade_sock(w->w_nfd))
				w->w_nfd = -1;
			if (!upgrade_sock(w->w_sfd))
				w->w_sfd = -1;
			upgrade_inherit(w->w_nfd, 0);
			upgrade_inherit(w->w_sfd, 0);
			if (w->w_ofd != -1) {
				/* It writes to a pipe: keep reading it. */
				output_init(1);
				upgrade_inherit(w->w_ofd, 0);
			}
			if (*f[12] != '\0' && w->w_nfd != -1 &&
			    (w->w_npath = strdup(f[12])) == NULL)
				fatal(EXIT_OSERR, "%s", __func__);
			ev_child_set(&w->w_child, w->w_pid, 0);
			ev_child_start(EV_DEFAULT, &w->w_child);
			notify_start(w);
			output_start(w);
		}
		slot_adopt(s, (enum slot_state)st);
		free(upgrade_lines[n]);
	}
	free(upgrade_lines);
	upgrade_lines = NULL;
	/*
	 * Children that ended while we were exec'ing: their SIGCHLD is still
	 * pending, but one may have come before the old image's last reap.
	 * One more makes the loop reap whatever is there.
	 */
	(void)raise(SIGCHLD);
	log_info("upgrade: adopted %d slots, generation %llu", n,
	    (unsigned long long)master.m_gen);
	state_changed();

	if ((fc = reload_read(&code)) == NULL) {
		(void)snprintf(u->u_error, sizeof(u->u_error), "the "
		    "configuration file does not parse (%s); the "
		    "configuration in use carries on", log_last());
		log_warnx("upgrade: %s", u->u_error);
	} else
		config_free(fc);
	if (upgrade_again) {
		upgrade_again = 0;
		upgrade_start();
	}
}

/* The upgrade object of status.json. */
void
upgrade_status(FILE *fp)
{
	const struct upgradeinfo	*u = &master.m_upgrade;

	fputs("{\"result\": ", fp);
	if (u->u_result[0] != '\0')
		state_str(fp, u->u_result);
	else
		fputs("null", fp);
	fputs(", \"error\": ", fp);
	if (u->u_error[0] != '\0')
		state_str(fp, u->u_error);
	else
		fputs("null", fp);
	fprintf(fp, ", \"started\": ");
	if (u->u_started > 0)
		fprintf(fp, "%.3f", u->u_started);
	else
		fputs("null", fp);
	fprintf(fp, ", \"finished\": ");
	if (u->u_finished > 0)
		fprintf(fp, "%.3f", u->u_finished);
	else
		fputs("null", fp);
	fprintf(fp, ", \"upgrades\": %u, \"requests\": %u}", u->u_done,
	    u->u_requests);
}
