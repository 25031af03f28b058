/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * drover(8): the master.  It reads the command line and the configuration,
 * takes the pid file, opens the listening sockets, fills the slot table
 * and runs one libev loop until it is told to stop.  Signals reach it only
 * as ev_signal events; children only as ev_child events.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

struct master	 master;

static void	 usage(FILE *, int) __attribute__((__noreturn__));
static char	**copy_environ(void);
static void	 signal_cb(struct ev_loop *, ev_signal *, int);
static void	 master_stop(int);
static void	 master_exit(void);
static int	 master_pidfile_take(const char *, pid_t *);
static void	 master_trim(void);
static void	 master_stdio(void);
static void	 master_options(int, char *[], const char ***, size_t *,
		    char **, char ***, int *, int *);
static void	 master_start(void);
static void	 master_adopt(void);
static void	 master_syserr(const char *);
static void	 master_evloop(void);
static void	 master_loop(const struct config *);
static void	 master_command(void *, const char *, const char *);

static int		 exitcode;	/* drover's, once the loop ends */
static int		 pidfd = -1;	/* the locked pid file */
static char		*pidpath;	/* its path, as configured */
static char		**env;		/* our copy of the environment */
static ev_signal	 sig_term, sig_int, sig_quit, sig_hup, sig_usr1,
			 sig_usr2, sig_ttin, sig_ttou;

static const struct option longopts[] = {
	{ "config",		required_argument,	NULL, 'c' },
	{ "workers",		required_argument,	NULL, 'w' },
	{ "listen",		required_argument,	NULL, 'l' },
	{ "state-dir",		required_argument,	NULL, 's' },
	{ "pidfile",		required_argument,	NULL, 'p' },
	{ "ready",		required_argument,	NULL, 'R' },
	{ "stop-timeout",	required_argument,	NULL, 'T' },
	{ "stop-signal",	required_argument,	NULL, 'K' },
	{ "log-format",		required_argument,	NULL, 'F' },
	{ "check",		no_argument,		NULL, 'n' },
	{ "debug",		no_argument,		NULL, 'd' },
	{ "version",		no_argument,		NULL, 'V' },
	{ "help",		no_argument,		NULL, 'h' },
	{ NULL,			0,			NULL, 0 }
};

static void
usage(FILE *fp, int code)
{
	fprintf(fp,
	    "usage: drover [-dnVh] [-c file] [-w n|auto] [-l addr] ... "
	    "[-s dir] [-p file]\n"
	    "              [--ready exec|notify] [--stop-timeout dur] "
	    "[--stop-signal sig]\n"
	    "              [--log-format text|json]\n"
	    "              [-- command [arg ...]]\n");
	exit(code);
}

/*
 * Copy the environment as we got it, before setproctitle(3) moves it:
 * workers start from this copy.
 */
static char **
copy_environ(void)
{
	extern char	**environ;
	char		**v;
	size_t		 n, i;

	for (n = 0; environ[n] != NULL; n++)
		;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		err(EXIT_OSERR, "calloc");
	for (i = 0; i < n; i++)
		if ((v[i] = strdup(environ[i])) == NULL)
			err(EXIT_OSERR, "strdup");
	return v;
}

/*
 * The command line: options are collected as key/value pairs in
 * *cliopt (*ncli entries), applied after the file through config_set(),
 * so that they mean exactly what the keys mean and override them; the
 * file goes to *conffile, the command after -- to *cmd.  -n and -d set
 * *check and *debug; -h and -V are done here.
 */
static void
master_options(int argc, char *argv[], const char ***cliopt, size_t *ncli,
    char **conffile, char ***cmd, int *check, int *debug)
{
	const char	*key;
	int		 ch;

	if ((*cliopt = calloc(2 * (size_t)argc + 2, sizeof(**cliopt))) ==
	    NULL)
		err(EXIT_OSERR, "calloc");
	while ((ch = getopt_long(argc, argv, "+c:w:l:s:p:ndVh", longopts,
	    NULL)) != -1) {
		key = NULL;
		switch (ch) {
		case 'c':
			*conffile = optarg;
			break;
		case 'w':
			key = "workers";
			break;
		case 'l':
			key = "listen";
			break;
		case 's':
			key = "state_dir";
			break;
		case 'p':
			key = "pidfile";
			break;
		case 'R':
			key = "ready";
			break;
		case 'T':
			key = "stop_timeout";
			break;
		case 'K':
			key = "stop_signal";
			break;
		case 'F':
			key = "log_format";
			break;
		case 'n':
			*check = 1;
			break;
		case 'd':
			*debug = 1;
			break;
		case 'V':
			printf("drover %s\n", PACKAGE_VERSION);
			exit(0);
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, EXIT_USAGE);
		}
		if (key != NULL) {
			(*cliopt)[(*ncli)++] = key;
			(*cliopt)[(*ncli)++] = optarg;
		}
	}
	*cmd = optind < argc ? argv + optind : NULL;
}

int
main(int argc, char *argv[])
{
	struct config	*c;
	const char	**cliopt = NULL;
	char		**cmd = NULL, *conffile = NULL;
	size_t		 ncli = 0, i;
	int		 check = 0, debug = 0, json = 0, code;

	master_stdio();
	env = copy_environ();
	upgrade_init(argc, argv, env);
	master_options(argc, argv, &cliopt, &ncli, &conffile, &cmd, &check,
	    &debug);
	/* --log-format json counts before the configuration is read. */
	for (i = 0; i < ncli; i += 2)
		if (strcmp(cliopt[i], "log_format") == 0)
			json = strcmp(cliopt[i + 1], "json") == 0;
	log_init(debug, json);
	ev_set_syserr_cb(master_syserr);
	master.m_environ = env;
	config_init_sources(conffile, cliopt, ncli, cmd);
	if (check) {
		if ((c = config_read(&code)) == NULL) {
			if (code == EXIT_USAGE)
				usage(stderr, EXIT_USAGE);
			exit(code);
		}
		config_print(c, stdout);
		/*
		 * Could workers start?  Not asked by a master about to
		 * upgrade: its workers run, and the upgrade is of drover.
		 */
		if (!upgrade_handed() && check_worker(c) > 0) {
			config_free(c);
			exit(EXIT_CONFIG);
		}
		printf("configuration ok\n");
		config_free(c);
		/* Asked by a master about to upgrade to this binary. */
		exit(upgrade_verify() == -1 ? EXIT_SOFTWARE : 0);
	}

	if (upgrade_handed())
		master_adopt();
	else
		master_start();
	master_trim();
	ev_run(EV_DEFAULT, 0);

	master_exit();
	log_info("stopped");
	return exitcode;
}

/*
 * Descriptors 0, 1 and 2 are expected open: a master started with one of
 * them closed would hand its next descriptor (the pid file, a socket) to
 * whoever writes to standard error, and to its workers.  Open /dev/null
 * on any that is closed, before anything else is opened.
 */
static void
master_stdio(void)
{
	int	 fd;

	for (fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			_exit(EXIT_OSERR);
	}
}

/*
 * A master of its own: read the configuration, take the pid file, then
 * the state directory, then the addresses (each a clear error with its
 * own exit status, before anything of another master is touched), and
 * start the workers.
 */
static void
master_start(void)
{
	struct config	*c;
	pid_t		 other;
	char		 cmd[1024], where[512];
	int		 code;

	/* Before anything takes a descriptor number a passed one has. */
	activate_init();
	/*
	 * Then the loop, before anything else opens a descriptor: out of
	 * them, that is the first and only error.  Made later, it would be
	 * made by the first use of EV_DEFAULT, which may be the cleanup
	 * after another error of the start.
	 */
	master_evloop();
	if ((c = config_read(&code)) == NULL) {
		if (code == EXIT_USAGE)
			usage(stderr, EXIT_USAGE);
		exit(code);
	}
	/* Ours from here, also on the exits below (LeakSanitizer sees it). */
	master.m_conf = c;
	if (c->c_pidfile != NULL) {
		pidfd = master_pidfile_take(c->c_pidfile, &other);
		if (pidfd == -1 && errno == EEXIST)
			fatalx(EXIT_TEMPFAIL, "pid file %s is held by "
			    "another master (pid %ld)", c->c_pidfile,
			    (long)other);
		if (pidfd == -1)
			exit(EXIT_OSERR);
		pidpath = xstrdup(c->c_pidfile);
	}
	if ((code = status_open(c->c_state_dir, &other)) != 0) {
		master_exit();
		if (code == 1)
			fatalx(EXIT_TEMPFAIL, "state directory %s is in use by "
			    "another master (pid %ld); give this one its own "
			    "(-s or state_dir)", c->c_state_dir, (long)other);
		exit(EXIT_OSERR);
	}

	master.m_gen = master.m_lastgen = 1;
	if (config_activate(c, master.m_gen) == -1) {
		master_exit();
		exit(EXIT_OSERR);
	}
	activate_done();
	output_init(0);
	c->c_refs++;

	master_loop(c);
	if (notify_init(0) == -1 || health_init(c->c_health, -1) == -1) {
		master_exit();
		exit(EXIT_OSERR);
	}
	setproctitle("master");
	/*
	 * The first status.json is written once the slots exist: one
	 * written before would show no worker wanted.
	 */
	if (slot_add(c->c_workers) == -1 || status_start(0) == -1) {
		master_exit();
		exit(EXIT_OSERR);
	}
	cmd[0] = where[0] = '\0';
	config_each(c, master_command, cmd);
	if (strcmp(c->c_argv[0], c->c_cmdpath) != 0)
		(void)snprintf(where, sizeof(where), " (%s is %s)",
		    c->c_argv[0], c->c_cmdpath);
	log_info("started: %d workers of %s, generation %llu%s",
	    master.m_nslots, cmd, (unsigned long long)master.m_gen, where);
	/* The engine starts them, in the loop's first iteration. */
	reload_due();
}

/*
 * The new image of an upgrade (SIGUSR2): take over what the previous one
 * handed over (its configuration, the pid file and state directory
 * locks, every socket and the workers) before anything that could fail.
 * Nothing is bound or opened by path again; signals sent during the
 * execve(2) are still pending and are handled once the loop runs.
 */
static void
master_adopt(void)
{
	struct config	*c;
	int		 fds[UPGRADE_NFDS];

	c = upgrade_begin(fds);
	pidfd = fds[UPGRADE_PIDFILE];
	if (c->c_pidfile != NULL)
		pidpath = xstrdup(c->c_pidfile);
	master.m_conf = c;
	if (config_activate(c, master.m_gen) == -1)
		fatalx(EXIT_SOFTWARE,
		    "upgrade: cannot take over the listeners");
	handoff_keep_listeners();
	output_init(0);
	c->c_refs++;

	master_loop(c);
	if (status_adopt(fds[UPGRADE_STATEDIR], fds[UPGRADE_STATELOCK]) ==
	    -1 || notify_init(1) == -1 ||
	    health_init(c->c_health, fds[UPGRADE_HEALTH]) == -1)
		fatalx(EXIT_SOFTWARE, "upgrade: cannot take over the state "
		    "directory or the health endpoint");
	setproctitle("master");
	handoff_slots();
	/*
	 * Only now: a status.json written before the slots are adopted
	 * would say, while the workers serve on, that none is wanted and
	 * the cluster is not ready.  Files that cannot be written (a full
	 * disk) are tried again, as by the previous image: no reason to
	 * stop serving.
	 */
	(void)status_start(1);
	upgrade_adopted();
}

/*
 * A config_each() callback: the command into arg (1024 bytes), as -n
 * prints it, each word that holds a blank or a quote in quotes, so that
 * the start line shows where each argument begins and ends.
 */
static void
master_command(void *arg, const char *key, const char *value)
{
	char	*cmd = arg;

	if (strcmp(key, "command") != 0)
		return;
	if (strlcpy(cmd, value, 1024) >= 1024)
		memcpy(cmd + 1024 - 4, "...", 4);
}

/*
 * libev could not get what it needs from the system (the descriptors of
 * its signal pipe, a poll that fails for good): instead of its abort(3),
 * a line that says what failed and why, and the exit status of a failed
 * system call.
 */
static void
master_syserr(const char *msg)
{
	fatal(EXIT_OSERR, "%s", msg);
}

/*
 * Make the event loop.  Signals come through signalfd: they stay
 * blocked, so one sent while an upgrade executes the new image waits,
 * pending, for the new image's loop instead of killing the process or
 * being lost.  Called again, it returns the loop made first.
 */
static void
master_evloop(void)
{
	if (ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD) == NULL)
		fatalx(EXIT_OSERR, "cannot initialise libev");
}

/* The event loop and the signals it handles. */
static void
master_loop(const struct config *c)
{
	master_evloop();
	signal(SIGPIPE, SIG_IGN);
	sdnotify_init();
	/* Orphans of the workers become ours to reap (PID 1 does anyway). */
	if (c->c_subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("subreaper");
	ev_signal_init(&sig_term, signal_cb, SIGTERM);
	ev_signal_init(&sig_int, signal_cb, SIGINT);
	ev_signal_init(&sig_quit, signal_cb, SIGQUIT);
	ev_signal_init(&sig_hup, signal_cb, SIGHUP);
	ev_signal_init(&sig_usr1, signal_cb, SIGUSR1);
	ev_signal_init(&sig_usr2, signal_cb, SIGUSR2);
	ev_signal_init(&sig_ttin, signal_cb, SIGTTIN);
	ev_signal_init(&sig_ttou, signal_cb, SIGTTOU);
	ev_signal_start(EV_DEFAULT, &sig_term);
	ev_signal_start(EV_DEFAULT, &sig_int);
	ev_signal_start(EV_DEFAULT, &sig_quit);
	ev_signal_start(EV_DEFAULT, &sig_hup);
	ev_signal_start(EV_DEFAULT, &sig_usr1);
	ev_signal_start(EV_DEFAULT, &sig_usr2);
	ev_signal_start(EV_DEFAULT, &sig_ttin);
	ev_signal_start(EV_DEFAULT, &sig_ttou);
	reload_engine_init();
}

/* The pid file's locked descriptor and path, for an upgrade. */
int
master_pidfile(void)
{
	return pidfd;
}

/*
 * Start-up runs code the loop never needs again (option and INI parsing,
 * name resolution, the pid file).  Drop the code pages of every mapped
 * file from our page tables once, so that the master's RSS shows what it
 * really keeps using: the pages stay in the page cache, and the few the
 * loop needs fault back in on first use.  Only executable mappings are
 * touched: they are never written, so nothing is lost (data and RELRO
 * mappings hold relocated, private pages and are left alone).
 */
static void
master_trim(void)
{
	FILE		*fp;
	char		 line[512], perm[8];
	unsigned long	 lo, hi;

	if ((fp = fopen("/proc/self/maps", "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) != 3 ||
		    strcmp(perm, "r-xp") != 0 || strchr(line, '/') == NULL)
			continue;
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	fclose(fp);
}

/*
 * Begin stopping.  Readiness goes first (status_flush removes `ready`
 * before any worker is signalled), then the workers.
 */
static void
master_stop(int how)
{
	if (master.m_stopping >= how)
		return;
	master.m_stopping = how;
	sdnotify_stopping();
	status_changed();
	status_flush();
	log_info("stopping %s", how == STOP_NOW ? "now" : "gracefully");
	slot_stop_all(how);
	master_check_done();
}

/*
 * Once stopping and no worker is left, leave the loop.
 */
void
master_check_done(void)
{
	if (master.m_stopping && slot_nworkers() == 0)
		ev_break(EV_DEFAULT, EVBREAK_ALL);
}

/*
 * After each pass of the engine: when every wanted slot is halted (its
 * last worker exited 78, saying its configuration is broken) and no
 * worker is left at all, nothing will ever serve again.  Stop, and exit
 * 78, so that systemd (RestartPreventExitStatus=) and Kubernetes
 * (CrashLoopBackOff) see it, instead of a master that runs and serves
 * nothing.  A reload whose new workers exit 78 is rolled back before
 * this is asked, so it stops the master only if the generation it goes
 * back to exits 78 as well.
 */
void
master_check_halted(void)
{
	int	 k, target = slot_target();

	if (master.m_stopping || target == 0 || slot_nworkers() > 0)
		return;
	for (k = 0; k < target; k++)
		if (master.m_slots[k]->s_state != SLOT_HALTED)
			return;
	log_warnx("every worker exited %d (its configuration is broken) and "
	    "no slot serves: stopping, exit status %d", EXIT_CONFIG,
	    EXIT_CONFIG);
	exitcode = EXIT_CONFIG;
	master_stop(STOP_GRACEFUL);
}

/* Remove what the master created: sockets, state files, pid file. */
static void
master_exit(void)
{
	const char	*base;
	int		 dirfd;

	output_finish();
	listen_close_all();
	health_close_all();
	status_cleanup();
	if (pidfd != -1) {
		/* Removed only from a directory that is still safe. */
		dirfd = path_openparent(pidpath, &base, "pid file directory");
		lock_release(dirfd, base, pidfd);
		if (dirfd != -1)
			close(dirfd);
	}
	pidfd = -1;
}

/*
 * Take the pid file: in a directory path_openparent() trusts, never
 * through a symbolic link and never one that is not ours (lock_take()).
 * Returns its locked descriptor; -1 with errno EEXIST (the holder in
 * *other), or -1 after logging.
 */
static int
master_pidfile_take(const char *path, pid_t *other)
{
	const char	*base;
	char		*label;
	int		 dirfd, fd, saved;

	if ((dirfd = path_openparent(path, &base, "pid file directory")) ==
	    -1)
		return -1;
	(void)xasprintf(&label, "pid file %s", path);
	fd = lock_take(dirfd, base, label, other);
	saved = errno;
	free(label);
	close(dirfd);
	errno = saved;
	return fd;
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	switch (w->signum) {
	case SIGTERM:
		master_stop(STOP_GRACEFUL);
		break;
	case SIGINT:
		master_stop(master.m_stopping ? STOP_NOW : STOP_GRACEFUL);
		break;
	case SIGQUIT:
		master_stop(STOP_NOW);
		break;
	case SIGHUP:
		reload_request();
		break;
	case SIGTTIN:
		reload_scale(1);
		break;
	case SIGTTOU:
		reload_scale(-1);
		break;
	case SIGUSR1:
		log_info("SIGUSR1: the log goes to standard error, which is "
		    "never reopened; nothing to do");
		break;
	case SIGUSR2:
		upgrade_request();
		break;
	default:
		log_warnx("signal %d (SIG%s) is not handled yet; ignored",
		    w->signum, sigabbrev_np(w->signum));
		break;
	}
}
