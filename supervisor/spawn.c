/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Starting a worker: everything that allocates or may fail in an unsafe
 * way (the environment, the path of the command) is prepared in the
 * master; in the child only async-signal-safe steps: a descriptor table
 * of its own holding only what it takes, signal mask and dispositions
 * reset, a process group of its own, working directory and credentials,
 * then the parent-death signal (a change of credentials would clear
 * it), exec.  A failed step is written to a close-on-exec pipe, so the
 * master learns of it (and of a successful exec, by EOF) without
 * guessing from the exit status.  A child first leaves the master's
 * descriptor table and memory, which it may share (spawn-clone.c).
 */

#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/close_range.h>

#include "drover-master.h"

/* The worker's own variables, prepended to the base environment. */
#define SPAWN_NVARS	12
#define SPAWN_VARLEN	(sizeof("NOTIFY_SOCKET=") + 108)
#define SPAWN_PIDLEN	24
/* Where execvp(3) looks when there is no PATH (glibc's _CS_PATH). */
#define SPAWN_DEFPATH	"/bin:/usr/bin"
/* What the child of spawn_worker() is given. */
struct spawn_args {
	const struct config	*a_conf;
	int			 a_nkeep;	/* fds 3.. the worker keeps */
	int			 a_ntake;	/* with the report and output */
	int			 a_out;		/* output pipes after report */
	int			 a_shared;	/* the table is the master's */
	char			**a_envp;
	char			**a_pidvars;
	int			 a_npid;
	pid_t			 a_parent;
};

static int	 spawn_child(void *);

static char	*spawn_var(char [][SPAWN_VARLEN], int *, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));
__attribute__((__noreturn__)) static void
		 spawn_fail(int, int, int);
static void	 spawn_rawdefault(int);
static char	**spawn_envp(const struct slot *, const struct worker *, int,
		    char [][SPAWN_VARLEN], char **, int *, char **);

/*
 * The environment a child is about to execute with, set in the child.
 * It is the master's memory, which the master frees; a forked child
 * whose execve(2) fails exits with its copy, and keeping it pointed at
 * tells memcheck (make check-valgrind) that this is no leak.  (A child
 * that shares the master's memory sets the master's: no harm.)
 */
static char	**volatile spawn_child_envp;

/*
 * The variables spawn_worker() sets for every worker (see
 * spawn_reserved()): the one list of them.
 */
static const char * const spawn_reserved_env[] = {
	"LISTEN_", "NOTIFY_SOCKET=", "WATCHDOG_", "DROVER_", NULL
};

/*
 * Whether var (NAME=VALUE) is one of the variables drover sets for its
 * workers: their activation, notify and watchdog variables.  Such a
 * variable is never passed on from drover's own environment, and the env
 * key may not set it.  An entry of spawn_reserved_env[] ending in "_" is
 * a prefix of names, one ending in "=" a whole name.
 */
int
spawn_reserved(const char *var)
{
	size_t	 i;

	for (i = 0; spawn_reserved_env[i] != NULL; i++)
		if (strncmp(var, spawn_reserved_env[i],
		    strlen(spawn_reserved_env[i])) == 0)
			return 1;
	return 0;
}

/*
 * Build the environment workers start from: a copy of env (the master's,
 * copied before setproctitle moved it) less the variables that belong to
 * the master, then, replacing or adding, the variables of the user they
 * run as (HOME, USER, LOGNAME, SHELL with user =), then the
 * configuration's env entries.  The strings are env's and c's.
 */
char **
spawn_environ(const struct config *c, char **env)
{
	char			**v, **set;
	size_t			 n = 0, nset = 0, i, j, klen;

	for (i = 0; env[i] != NULL; i++)
		;
	for (j = 0; c->c_uenv != NULL && c->c_uenv[j] != NULL; j++)
		;
	/* What is set over env, in order: a later one wins. */
	set = xcalloc(j + c->c_nenv + 1, sizeof(*set));
	for (j = 0; c->c_uenv != NULL && c->c_uenv[j] != NULL; j++)
		set[nset++] = c->c_uenv[j];
	for (j = 0; j < c->c_nenv; j++)
		set[nset++] = c->c_env[j];
	v = xcalloc(i + nset + 1, sizeof(*v));
	for (i = 0; env[i] != NULL; i++) {
		if (spawn_reserved(env[i]))
			continue;
		for (j = 0; j < nset; j++) {
			klen = strcspn(set[j], "=") + 1;
			if (strncmp(env[i], set[j], klen) == 0)
				break;
		}
		if (j == nset)
			v[n++] = env[i];
	}
	for (j = 0; j < nset; j++) {
		klen = strcspn(set[j], "=") + 1;
		for (i = j + 1; i < nset; i++)
			if (strncmp(set[i], set[j], klen) == 0)
				break;
		if (i == nset)
			v[n++] = set[j];
	}
	v[n] = NULL;
	free(set);
	return v;
}

/*
 * The PATH a command is looked up in, in environment envp: its PATH, or
 * the path execvp(3) searches when there is none.
 */
const char *
spawn_path(char **envp)
{
	for (; envp != NULL && *envp != NULL; envp++)
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	return SPAWN_DEFPATH;
}

/*
 * The paths execvp(3) would try for cmd, in order, searching path (a
 * PATH value): cmd itself if it has a slash, else each entry of path
 * joined to it (an empty entry is the working directory).  A worker
 * tries them the same way (spawn_child()), after taking its own
 * credentials and directory.  NULL-terminated and allocated.
 */
char **
spawn_candidates(const char *cmd, const char *path)
{
	const char	*p, *end;
	char		**v = NULL, *full;
	size_t		 n = 0;

	if (strchr(cmd, '/') != NULL || *cmd == '\0') {
		config_append(&v, &n, cmd);
		return v;
	}
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		if (end == p)
			(void)xasprintf(&full, "./%s", cmd);
		else
			(void)xasprintf(&full, "%.*s/%s", (int)(end - p), p,
			    cmd);
		config_append(&v, &n, full);
		free(full);
		if (*end == '\0')
			return v;
	}
}

/*
 * Find cmd as execvp(3) would in path: the first of its candidates that
 * is a regular file the caller may execute.  Returns it, or cmd itself
 * when none is, so that an exec fails with ENOENT.  Allocated.
 */
char *
spawn_lookup(const char *cmd, const char *path)
{
	char		**v, *found = NULL;
	struct stat	 st;
	size_t		 i;

	v = spawn_candidates(cmd, path);
	for (i = 0; v[i] != NULL && found == NULL; i++)
		if (stat(v[i], &st) == 0 && S_ISREG(st.st_mode) &&
		    access(v[i], X_OK) == 0)
			found = xstrdup(v[i]);
	config_freev(v);
	return found != NULL ? found : xstrdup(cmd);
}

/* Look cmd up in drover's own PATH (spawn_lookup()). */
char *
spawn_resolve(const char *cmd)
{
	const char	*path = getenv("PATH");

	return spawn_lookup(cmd, path != NULL ? path : SPAWN_DEFPATH);
}

/*
 * Add one NAME=VALUE to the worker's own variables.
 */
static char *
spawn_var(char vars[][SPAWN_VARLEN], int *nv, const char *fmt, ...)
{
	va_list	 ap;
	char	*v = vars[*nv];

	va_start(ap, fmt);
	(void)vsnprintf(v, SPAWN_VARLEN, fmt, ap);
	va_end(ap);
	(*nv)++;
	return v;
}

/*
 * The environment of worker w of slot s, with nfds listening sockets:
 * its own variables (formatted in vars; the pid variables the child
 * completes go to pidvars, *npid of them; LISTEN_FDNAMES, of any length,
 * to *names) before its configuration's base environment.  The caller
 * frees the array and *names.
 */
static char **
spawn_envp(const struct slot *s, const struct worker *w, int nfds,
    char vars[][SPAWN_VARLEN], char **pidvars, int *npid, char **names)
{
	const struct config	*c = w->w_conf;
	char			**envp, **base = c->c_wenv;
	size_t			 nbase;
	int			 nv = 0, i;

	spawn_var(vars, &nv, "DROVER_WORKER_ID=%d", s->s_id);
	spawn_var(vars, &nv, "DROVER_GENERATION=%llu",
	    (unsigned long long)w->w_gen);
	spawn_var(vars, &nv, "DROVER_WORKERS=%d", c->c_workers);
	spawn_var(vars, &nv, "DROVER_NOTIFY_FD=%d", 3 + nfds);
	if (notify_socket_path(w) != NULL)
		spawn_var(vars, &nv, "NOTIFY_SOCKET=%s", notify_socket_path(w));
	/* The child writes its own pid over the x's. */
	if (c->c_watchdog > 0) {
		spawn_var(vars, &nv, "WATCHDOG_USEC=%llu",
		    (unsigned long long)(c->c_watchdog * 1e6));
		pidvars[(*npid)++] = spawn_var(vars, &nv, "WATCHDOG_PID=%.*s",
		    SPAWN_PIDLEN, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	}
	if (nfds > 0) {
		spawn_var(vars, &nv, "LISTEN_FDS=%d", nfds);
		pidvars[(*npid)++] = spawn_var(vars, &nv, "LISTEN_PID=%.*s",
		    SPAWN_PIDLEN, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		(void)xasprintf(names, "LISTEN_FDNAMES=%s", c->c_fdnames);
	}
	for (nbase = 0; base[nbase] != NULL; nbase++)
		;
	envp = xcalloc(nbase + nv + 2, sizeof(*envp));
	for (i = 0; i < nv; i++)
		envp[i] = vars[i];
	if (*names != NULL)
		envp[nv++] = *names;
	memcpy(envp + nv, base, (nbase + 1) * sizeof(*envp));
	return envp;
}

/*
 * Start worker w of slot s, with its notify channels, running its
 * configuration w->w_conf.  On success return its pid and the read end
 * of the exec-report pipe in *execfd; on failure log it, close what was
 * opened and return -1.
 */
pid_t
spawn_worker(struct slot *s, struct worker *w, int *execfd)
{
	const struct config	*c = w->w_conf;
	struct spawn_args	 a;
	struct spawn_saved	 sv;
	char			**envp;
	char			 vars[SPAWN_NVARS][SPAWN_VARLEN];
	char			*pidvars[2], *names = NULL;
	int			 take[SPAWN_NTAKE], nfds, ntake, p[2];
	int			 npid = 0, owfd[2];
	sigset_t		 all, old;
	pid_t			 pid;

	nfds = group_slot_fds(c, s->s_id, take, DROVER_MAX_LISTEN);
	if (notify_open(w, &take[nfds]) == -1)
		return -1;
	if (output_open(w, owfd) == -1) {
		close(take[nfds]);
		notify_close(w);
		return -1;
	}
	envp = spawn_envp(s, w, nfds, vars, pidvars, &npid, &names);

	/*
	 * Signals stay blocked across fork, so none reaches the child while
	 * it still has the master's dispositions; the child unblocks them
	 * after resetting those, and anything pending then acts as default.
	 */
	sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &old);
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("slot %d: pipe", s->s_id);
		pid = -1;
		goto done;
	}
	/*
	 * What the child takes, at 3..: the listening sockets and the
	 * notify stream, which the worker keeps; the report pipe; the
	 * output pipes, which go to 1 and 2.
	 */
	ntake = nfds + 1;
	take[ntake++] = p[1];
	if (owfd[0] != -1) {
		take[ntake++] = owfd[0];
		take[ntake++] = owfd[1];
	}
	if (spawn_place(take, ntake, nfds + 1, &sv) == -1) {
		log_warn("slot %d: descriptors for the worker", s->s_id);
		close(p[0]);
		close(p[1]);
		pid = -1;
		goto done;
	}
	a.a_conf = c;
	a.a_nkeep = nfds + 1;
	a.a_ntake = ntake;
	a.a_out = owfd[0] != -1;
	a.a_envp = envp;
	a.a_pidvars = pidvars;
	a.a_npid = npid;
	a.a_parent = getpid();
	pid = spawn_clone(spawn_child, &a, &a.a_shared);
	spawn_unplace(&sv);
	close(p[1]);
	if (pid == -1) {
		log_warn("slot %d: fork", s->s_id);
		close(p[0]);
	} else {
		/* Both sides, so that no kill(-pid) can miss the group. */
		(void)setpgid(pid, pid);
		if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
			log_warn("slot %d: fcntl", s->s_id);
		*execfd = p[0];
	}
 done:
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	close(take[nfds]);		/* the worker's end of the stream */
	if (owfd[0] != -1)
		close(owfd[0]);		/* the worker's ends of its output */
	if (owfd[1] != -1)
		close(owfd[1]);
	if (pid == -1) {
		notify_close(w);
		output_close(w);
	}
	free(names);
	free(envp);
	return pid;
}

/*
 * Give signal sig its default disposition through the system call
 * itself.  The C library refuses the two signals it reserves for threads
 * (32 and 33), but an ignored disposition of them, which some parents
 * leave, survives exec like any other.  SIG_DFL with no flags and an
 * empty mask is all zeros in every architecture's kernel sigaction.
 */
static void
spawn_rawdefault(int sig)
{
	unsigned long	 ksa[8];

	memset(ksa, 0, sizeof(ksa));
	(void)syscall(SYS_rt_sigaction, sig, ksa, NULL, (size_t)(NSIG / 8));
}

/*
 * In a child of the master, before exec: every signal back to its default
 * disposition and none blocked (the master blocks the signals it handles,
 * and dispositions and the mask survive exec).  Async-signal-safe.
 */
void
spawn_reset_signals(void)
{
	struct sigaction	 sa;
	sigset_t		 none;
	int			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 1; i < NSIG; i++)
		if (sigaction(i, &sa, NULL) == -1)
			spawn_rawdefault(i);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Report a failed step of the child to the master and exit. */
static void
spawn_fail(int fd, int step, int err)
{
	int	 msg[2];

	msg[0] = step;
	msg[1] = err;
	if (write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg)) {
		/* Lost, the report leaves the exit status to tell. */
	}
	_exit(err == ENOENT ? 127 : 126);
}

/*
 * The child between fork and exec, given what it takes at 3, 4, ...
 * (spawn_place): the descriptors the worker keeps, the report pipe, and
 * the output pipes if any.  It may share the master's memory, which the
 * master does not touch until it has exec'd or exited (spawn-clone.c):
 * only system calls and the small functions of this file, never a
 * return.  Only async-signal-safe calls, too: the master is
 * single-threaded, but the rule keeps this code correct if that ever
 * changes, and keeps it short.
 */
static int
spawn_child(void *arg)
{
	const struct spawn_args	*a = arg;
	const struct config	*c = a->a_conf;
	char			**envp = a->a_envp, **pidvars = a->a_pidvars;
	char			 digits[SPAWN_PIDLEN], *pidvar;
	const char		*signame;
	int			 i, n, npid = a->a_npid;
	int			 report = 3 + a->a_nkeep, eacces = 0;
	pid_t			 me;

	/*
	 * First a table of its own with only what it takes: while it is
	 * the master's, not one descriptor of it may be closed.
	 */
	if (syscall(SYS_close_range, (unsigned)(3 + a->a_ntake), ~0U,
	    CLOSE_RANGE_UNSHARE) == -1) {
		if (a->a_shared)
			spawn_fail(report, 5, errno);
		closefrom(3 + a->a_ntake);
	}
	spawn_child_envp = envp;
	spawn_reset_signals();
	/*
	 * A process group of its own: the stop timeout's SIGKILL reaches
	 * whatever the worker started, and whatever is left of it once the
	 * worker has exited is ended too (slot.c).
	 */
	(void)setpgid(0, 0);

	if (c->c_directory != NULL && chdir(c->c_directory) == -1)
		spawn_fail(report, 2, errno);
	if (c->c_gid != (gid_t)-1 && (setgroups(1, &c->c_gid) == -1 ||
	    setgid(c->c_gid) == -1))
		spawn_fail(report, 3, errno);
	if (c->c_uid != (uid_t)-1 && setuid(c->c_uid) == -1)
		spawn_fail(report, 4, errno);

	/*
	 * A worker gets its stop signal when the master dies, even by
	 * SIGKILL, so that it finishes what it serves.  Changing credentials
	 * clears the parent-death signal, so it is set after them; and if
	 * the master died before it was set, the worker goes at once.
	 */
	if (prctl(PR_SET_PDEATHSIG, config_stop_signal(c, &signame)) == -1)
		spawn_fail(report, 1, errno);
	if (getppid() != a->a_parent)
		_exit(125);

	/* With output = prefix, standard output and error go to pipes. */
	if (a->a_out && (dup2(report + 1, 1) == -1 || dup2(report + 2, 2) ==
	    -1))
		spawn_fail(report, 5, errno);
	if (a->a_out)
		closefrom(report + 1);

	me = getpid();
	n = 0;
	do {
		digits[n++] = '0' + me % 10;
		me /= 10;
	} while (me > 0);
	for (; npid > 0; npid--) {
		pidvar = strchr(pidvars[npid - 1], '=') + 1;
		for (i = 0; i < n; i++)
			pidvar[i] = digits[n - 1 - i];
		pidvar[n] = '\0';
	}

	/*
	 * The PATH search of execvp(3), as this user and from this
	 * directory: a candidate that is missing or may not be executed
	 * is passed over, any other failure ends the search.
	 */
	for (i = 0; c->c_cmdtry[i] != NULL; i++) {
		execve(c->c_cmdtry[i], c->c_argv, envp);
		if (errno == EACCES)
			eacces = 1;
		else if (errno != ENOENT && errno != ENOTDIR &&
		    errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT)
			break;
	}
	spawn_fail(report, 0, eacces && c->c_cmdtry[i] == NULL ? EACCES :
	    errno);
	_exit(126);
}

/*
 * Name the step a child reported as failed, for the log.
 */
const char *
spawn_step(int step)
{
	switch (step) {
	case 0:
		return "exec";
	case 1:
		return "set the parent-death signal for";
	case 2:
		return "change directory for";
	case 3:
		return "set the group of";
	case 4:
		return "set the user of";
	default:
		return "set up descriptors for";
	}
}

/*
 * Whether file is a script whose #! line names an interpreter that
 * cannot be executed: then its path goes to interp (len bytes) and
 * access(2)'s errno for it (ENOENT: it does not exist) is returned, as
 * execve(2) returns it for the script.  0 otherwise: not a script, not
 * readable, or its interpreter is there.  The kernel reads no more than
 * the first 256 bytes of a script for its #! line either.
 */
int
spawn_interpreter(const char *file, char *interp, size_t len)
{
	char	 buf[256];
	ssize_t	 n;
	size_t	 i, j;
	int	 fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 3 || buf[0] != '#' || buf[1] != '!')
		return 0;
	buf[n] = '\0';
	i = 2 + strspn(buf + 2, " \t");
	j = i + strcspn(buf + i, " \t\r\n");
	if (j == i)
		return 0;
	buf[j] = '\0';
	strlcpy(interp, buf + i, len);
	return access(interp, X_OK) == 0 ? 0 : errno;
}

/*
 * Log why worker w could not be started, from its exec report: the
 * step, the command and the reason, naming the directory or the user
 * when that step failed, and the interpreter when the command is a
 * script whose #! line points nowhere (execve(2) then says ENOENT of a
 * file that exists).  A slot that cannot start keeps trying with a
 * growing delay, and says so again: at most once a second and once per
 * restart delay, so that one line stands for all the slots failing
 * together and counts the failures it stands for; and at once after a
 * start succeeded (master.m_execlogged is 0 again).
 */
void
spawn_report(const struct worker *w)
{
	static ev_tstamp	 last;
	static unsigned long	 quiet;
	const struct slot	*s = w->w_slot;
	const struct config	*c = w->w_conf;
	ev_tstamp		 now = ev_now(EV_DEFAULT);
	char			 why[PATH_MAX + 64], more[96] = "";
	char			 interp[PATH_MAX];

	if (master.m_execlogged && (now - last < 1.0 || now - last <
	    s->s_delay)) {
		quiet++;
		return;
	}
	strlcpy(why, strerror(w->w_execerr), sizeof(why));
	if (w->w_execstep == 0 && w->w_execerr == ENOENT &&
	    strchr(c->c_cmdpath, '/') == NULL)
		(void)snprintf(why, sizeof(why), "not found in PATH (%s)",
		    spawn_path(c->c_wenv));
	else if (w->w_execstep == 0 && w->w_execerr == ENOENT &&
	    spawn_interpreter(c->c_cmdpath, interp, sizeof(interp)) == ENOENT)
		(void)snprintf(why, sizeof(why), "interpreter %s not found",
		    interp);
	else if (w->w_execstep == 2)
		(void)snprintf(why, sizeof(why), "%s: %s", c->c_directory,
		    strerror(w->w_execerr));
	else if (w->w_execstep == 3 || w->w_execstep == 4)
		(void)snprintf(why, sizeof(why), "%s %s: %s",
		    w->w_execstep == 3 ? "group" : "user", w->w_execstep == 3 &&
		    c->c_group != NULL ? c->c_group : c->c_user,
		    strerror(w->w_execerr));
	if (quiet > 0)
		(void)snprintf(more, sizeof(more), "; %lu not logged since "
		    "the last report", quiet);
	log_warnx("slot %d: cannot %s %s: %s (failed start %u in a row%s)",
	    s->s_id, spawn_step(w->w_execstep), c->c_cmdpath, why,
	    s->s_failures + 1, more);
	master.m_execlogged = 1;
	last = now;
	quiet = 0;
}

/*
 * The parent of process pid, from /proc/PID/stat, or -1 if it cannot be
 * read.
 */
pid_t
spawn_ppid(pid_t pid)
{
	pid_t	 ppid;

	return spawn_procstat(pid, &ppid, NULL) == -1 ? -1 : ppid;
}

/*
 * The parent of process pid and, if start is not NULL, when it started
 * (in clock ticks after boot), from /proc/PID/stat ("pid (comm) state
 * ppid ...", comm holding anything).  -1 if it cannot be read.
 */
int
spawn_procstat(pid_t pid, pid_t *ppidp, unsigned long long *start)
{
	char			 path[64], buf[512], *p;
	FILE			*fp;
	long			 ppid;
	unsigned long long	 st;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), fp);
	fclose(fp);
	/* Fields 3 to 22: state, ppid, 17 others, starttime. */
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u "
	    "%*u %*d %*d %*d %*d %*d %*d %llu", &ppid, &st) != 2)
		return -1;
	*ppidp = (pid_t)ppid;
	if (start != NULL)
		*start = st;
	return 0;
}
