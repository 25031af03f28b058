/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * The process, file and network helpers behind t/testlib.h (the JSON parser
 * is in t/json.c).  The library keeps four lists for the exit hook it
 * registers with tap_atexit(): the daemons it started, the temporary
 * directories it made, the FIFO descriptors it holds open and the strings
 * it handed out.  At exit it shows the end of every daemon's log if a test
 * failed, stops every daemon not yet reaped (SIGSTOP first, so it cannot
 * respawn, then SIGKILL to all its children, the workers, then to the
 * daemon itself), kills every worker it has seen in a status.json and that
 * still runs (the same pid with the same start time, so a reused pid is
 * never hit), closes the FIFOs, removes the directories and frees the
 * strings.  Waiting is always poll(2) with a deadline on a pidfd, an
 * inotify descriptor, a pipe or a socket; nothing here sleeps.  Only where
 * pidfd_open(2) fails with ENOSYS (valgrind 3.19, for one, does not know
 * it) is a process's exit found by looking at /proc every TL_SLICE_MS
 * milliseconds, in the same poll(2) loop.  System failures that leave a test
 * unable to go on (fork, pipe, inotify) bail out; results a test wants to
 * assert on are returned.
 */

#include "config.h"

#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define TL_HDRMAX	16384	/* longest response head we accept */
#define TL_HTTP_MS	5000	/* tl_http_get() deadline */
#define TL_SLICE_MS	20	/* /proc checks without pidfd_open(2) */

/* What /proc/PID/stat says; pid and start time name a process for good. */
struct tl_proc {
	pid_t			 p_pid;
	int			 p_ppid;
	char			 p_state;
	unsigned long long	 p_start;
};

/* A daemon started by tl_daemon_start(), for the exit hook. */
struct tl_reg {
	pid_t		 r_pid;
	const char	*r_log;
	int		 r_reaped;
	struct tl_proc	*r_w;		/* workers seen in status.json */
	size_t		 r_nw;
};

/* One entry of /proc/PID/fd. */
struct tl_fdent {
	int		 f_fd;
	unsigned long	 f_ino;		/* socket inode, or 0 */
};

static void	 tl_register(void);
static void	 tl_cleanup(void);
static void	 tl_kill_daemon(const struct tl_reg *);
static void	 tl_show_log(const struct tl_reg *);
static void	 tl_kill_workers(struct tl_reg *);
static void	 tl_note_workers(pid_t, const struct tl_json *);
static int	 tl_rm(const char *, const struct stat *, int, struct FTW *);
static char	*tl_own(char *);
static char	*tl_xstrdup(const char *);
static char	*tl_xasprintf(const char *, ...) TL_PRINTF(1, 2);
static long long tl_deadline(int);
static int	 tl_remaining(long long);
static int	 tl_pidfd_open(pid_t);
static int	 tl_proc(pid_t, struct tl_proc *);
static int	 tl_gone(pid_t);
static int	 tl_poll(struct pollfd *, int, long long, pid_t, int, int *);
static int	 tl_decode(int);
static char	**tl_argv(const char *const [], const char *const [],
		    const char *const []);
static void	 tl_argv_free(char **);
static void	 tl_child_fd(int, int);
static void	 tl_child_signals(void);
static void	 tl_drain(int);
static int	 tl_wait_text(const char *, const char *, pid_t, int, int);
static int	 tl_readable(int, long long);
static int	 tl_recv_until(int, long long, char *, size_t, const char *,
		    size_t *);
static int	 tl_recv_body(int, long long, long long, char *, size_t,
		    size_t *);
static int	 tl_chunked(int, long long, char *, size_t, size_t *);
static int	 tl_fdents(pid_t, struct tl_fdent **);
static int	 tl_fdent_cmp(const void *, const void *);
static int	 tl_pid_cmp(const void *, const void *);
static const char *tl_env_scan(pid_t, const char *, int *);
static char	*tl_slurp_len(const char *, size_t *);

static int		  tl_registered;
static struct tl_reg	 *tl_daemons;
static size_t		  tl_ndaemons;
static char		**tl_tmpdirs;
static size_t		  tl_ntmpdirs;
static char		**tl_owned;
static size_t		  tl_nowned;
static int		 *tl_fifofds;
static size_t		  tl_nfifofds;

/* Register the exit hook once. */
static void
tl_register(void)
{
	if (tl_registered)
		return;
	tl_registered = 1;
	tap_atexit(tl_cleanup);
}

/*
 * The exit hook: show the daemons' logs if something failed, stop the
 * daemons still running, close the FIFOs tl_fifo_release() held open,
 * remove the temporary directories, free what the library owns.  It must
 * not bail: it runs inside exit().
 */
static void
tl_cleanup(void)
{
	size_t	 i;

	for (i = 0; i < tl_ndaemons; i++) {
		if (tap_failed() > 0)
			tl_show_log(&tl_daemons[i]);
		if (!tl_daemons[i].r_reaped)
			tl_kill_daemon(&tl_daemons[i]);
		tl_kill_workers(&tl_daemons[i]);
	}
	for (i = 0; i < tl_nfifofds; i++)
		close(tl_fifofds[i]);
	for (i = 0; i < tl_ntmpdirs; i++) {
		if (getenv("TL_KEEP") != NULL)
			diag("keeping %s", tl_tmpdirs[i]);
		else if (nftw(tl_tmpdirs[i], tl_rm, 16,
		    FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == -1)
			diag("cannot remove %s: %s", tl_tmpdirs[i],
			    strerror(errno));
		free(tl_tmpdirs[i]);
	}
	for (i = 0; i < tl_nowned; i++)
		free(tl_owned[i]);
	free(tl_daemons);
	free(tl_tmpdirs);
	free(tl_owned);
	free(tl_fifofds);
	tl_daemons = NULL;
	tl_tmpdirs = tl_owned = NULL;
	tl_fifofds = NULL;
	tl_ndaemons = tl_ntmpdirs = tl_nowned = tl_nfifofds = 0;
}

/*
 * Kill a daemon the test left running, and its workers, which are its
 * children (whatever status.json says: a pid read from a file could have
 * been reused by now, a child cannot while its parent is stopped).
 * Stopping the daemon first keeps it from spawning replacements meanwhile.
 */
static void
tl_kill_daemon(const struct tl_reg *r)
{
	pid_t	 kids[1024];
	int	 nkids, k;

	if (waitpid(r->r_pid, NULL, WNOHANG) == r->r_pid)
		return;
	diag("killing drover %d left running", (int)r->r_pid);
	kill(r->r_pid, SIGSTOP);
	nkids = tl_children(r->r_pid, kids, 1024);
	for (k = 0; k < nkids; k++)
		kill(kids[k], SIGKILL);
	kill(r->r_pid, SIGKILL);
	while (waitpid(r->r_pid, NULL, 0) == -1 && errno == EINTR)
		continue;
}

/*
 * Kill the workers of a daemon that are still running at exit; after a
 * clean stop there should be none, so say so when there are.
 */
static void
tl_kill_workers(struct tl_reg *r)
{
	struct tl_proc	 now;
	size_t		 i;

	for (i = 0; i < r->r_nw; i++) {
		if (tl_proc(r->r_w[i].p_pid, &now) == -1 ||
		    now.p_start != r->r_w[i].p_start ||
		    now.p_state == 'Z' || now.p_state == 'X')
			continue;
		if (r->r_reaped)
			diag("worker %d of drover %d still runs after it "
			    "exited: killing it", (int)now.p_pid,
			    (int)r->r_pid);
		kill(now.p_pid, SIGKILL);
	}
	free(r->r_w);
	r->r_w = NULL;
	r->r_nw = 0;
}

/*
 * Remember the workers a status of the daemon pid names, with their start
 * times, for tl_kill_workers().  Does nothing for a daemon we did not
 * start.
 */
static void
tl_note_workers(pid_t pid, const struct tl_json *j)
{
	const struct tl_json	*slots;
	struct tl_reg		*r = NULL;
	struct tl_proc		 pr, *nw;
	size_t			 i, k;
	long long		 wpid;

	for (i = 0; i < tl_ndaemons; i++)
		if (tl_daemons[i].r_pid == pid)
			r = &tl_daemons[i];
	if (r == NULL || (slots = tl_json_get(j, "slots")) == NULL)
		return;
	for (i = 0; i < tl_json_len(slots, NULL); i++) {
		wpid = tl_json_int(slots->j_vals[i], "pid", 0);
		if (wpid <= 1 || wpid > INT_MAX || wpid == pid)
			continue;
		if (tl_proc((pid_t)wpid, &pr) == -1 || pr.p_ppid != pid)
			continue;
		for (k = 0; k < r->r_nw; k++)
			if (r->r_w[k].p_pid == pr.p_pid &&
			    r->r_w[k].p_start == pr.p_start)
				break;
		if (k < r->r_nw)
			continue;
		if ((nw = reallocarray(r->r_w, r->r_nw + 1, sizeof(*nw))) ==
		    NULL)
			sysbail("reallocarray");
		r->r_w = nw;
		r->r_w[r->r_nw++] = pr;
	}
}

/* The last lines of a daemon's log, as diagnostics. */
static void
tl_show_log(const struct tl_reg *r)
{
	char	*text;
	size_t	 len;
	char	*tail;

	if ((text = tl_slurp(r->r_log)) == NULL)
		return;
	tail = text;
	if ((len = strlen(text)) > 4000) {
		tail = text + len - 4000;
		if (strchr(tail, '\n') != NULL)
			tail = strchr(tail, '\n') + 1;
	}
	diag("log of drover %d (%s):\n%s", (int)r->r_pid, r->r_log, tail);
	free(text);
}

static int
tl_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1 && errno != ENOENT)
		diag("cannot remove %s: %s", path, strerror(errno));
	return 0;
}

/* Take ownership of s: it is freed at exit.  Returns s. */
static char *
tl_own(char *s)
{
	char	**v;

	tl_register();
	if ((v = reallocarray(tl_owned, tl_nowned + 1, sizeof(*v))) == NULL)
		sysbail("reallocarray");
	tl_owned = v;
	tl_owned[tl_nowned++] = s;
	return s;
}

static char *
tl_xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		sysbail("strdup");
	return p;
}

static char *
tl_xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1)
		sysbail("vasprintf");
	return s;
}

/* Milliseconds on the monotonic clock; it cannot fail, so it never bails. */
long long
tl_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline for a timeout; a negative timeout never expires (-1). */
static long long
tl_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : tl_now_ms() + timeout_ms;
}

/* The poll(2) timeout left until deadline: -1 forever, 0 if passed. */
static int
tl_remaining(long long deadline)
{
	long long	 left;

	if (deadline < 0)
		return -1;
	left = deadline - tl_now_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* A pidfd for pid: -1 with ESRCH if gone, ENOSYS if unsupported. */
static int
tl_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Read /proc/PID/stat: state (field 3), parent (4) and start time (22),
 * counted after the parenthesised command name, which may itself hold
 * blanks and parentheses, hence the last ')'.  0, or -1 if there is no
 * such process.
 */
static int
tl_proc(pid_t pid, struct tl_proc *pr)
{
	char	 path[64], buf[1024], *p;
	ssize_t	 len;
	int	 fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %d"
	    " %*s %*s %*s %*s %*s %*s %*s %*s %*s"	/* fields 5-13 */
	    " %*s %*s %*s %*s %*s %*s %*s %*s"		/* fields 14-21 */
	    " %llu", &pr->p_state, &pr->p_ppid, &pr->p_start) != 3)
		return -1;
	pr->p_pid = pid;
	return 0;
}

/* Whether pid has exited (no such process, or a zombie). */
static int
tl_gone(pid_t pid)
{
	struct tl_proc	 pr;

	if (tl_proc(pid, &pr) == -1)
		return 1;
	return pr.p_state == 'Z' || pr.p_state == 'X';
}

/*
 * poll(2) on the n descriptors of pfd (at most 3) until one is ready, the
 * deadline passes, or, if pid is not 0, that process exits: then *gone is
 * set.  The exit is seen through pidfd, or if pidfd is -1 through /proc.
 * Returns 0 only when the deadline passed.  revents are set in pfd.
 */
static int
tl_poll(struct pollfd *pfd, int n, long long deadline, pid_t pid, int pidfd,
    int *gone)
{
	struct pollfd	 all[4];
	int		 i, m = n, r, t, slices = pid != 0 && pidfd == -1;

	*gone = 0;
	for (i = 0; i < n; i++) {
		all[i] = pfd[i];
		pfd[i].revents = 0;
	}
	if (pid != 0 && pidfd != -1) {
		all[m].fd = pidfd;
		all[m].events = POLLIN;
		m++;
	}
	for (;;) {
		t = tl_remaining(deadline);
		if (slices) {
			if (tl_gone(pid)) {
				*gone = 1;
				return 1;
			}
			if (t == -1 || t > TL_SLICE_MS)
				t = TL_SLICE_MS;
		}
		if ((r = poll(all, (nfds_t)m, t)) == -1) {
			if (errno == EINTR)
				continue;
			sysbail("poll");
		}
		if (r == 0 && slices && tl_remaining(deadline) != 0)
			continue;
		break;
	}
	for (i = 0; i < n; i++)
		pfd[i].revents = all[i].revents;
	if (m > n && all[n].revents != 0)
		*gone = 1;
	return r;
}

/* A wait status as a shell would report it: code, or 128 + signal. */
static int
tl_decode(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/*
 * Paths.
 */

/*
 * The build tree: $abs_top_builddir, else two levels above the test
 * binary (three if libtool put it in t/.libs).
 */
const char *
tl_builddir(void)
{
	static char	*dir;
	char		 exe[PATH_MAX], *slash;
	const char	*env;
	ssize_t		 n;
	int		 up;

	if (dir != NULL)
		return dir;
	if ((env = getenv("abs_top_builddir")) != NULL && *env != '\0')
		return dir = tl_own(tl_xstrdup(env));
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) == -1)
		sysbail("readlink /proc/self/exe");
	exe[n] = '\0';
	for (up = 0; up < 2; up++) {
		if ((slash = strrchr(exe, '/')) == NULL || slash == exe)
			bail("cannot find the build tree from %s", exe);
		*slash = '\0';
		if (up == 1 && strcmp(slash + 1, ".libs") == 0)
			up--;
	}
	return dir = tl_own(tl_xstrdup(exe));
}

/* The source tree: $abs_top_srcdir, else the build tree. */
const char *
tl_srcdir(void)
{
	const char	*env;

	if ((env = getenv("abs_top_srcdir")) != NULL && *env != '\0')
		return env;
	return tl_builddir();
}

const char *
tl_path(const char *rel)
{
	return tl_own(tl_xasprintf("%s/%s", tl_builddir(), rel));
}

const char *
tl_srcpath(const char *rel)
{
	return tl_own(tl_xasprintf("%s/%s", tl_srcdir(), rel));
}

const char *
tl_fmt(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1)
		sysbail("vasprintf");
	return tl_own(s);
}

/*
 * Make a private directory, with an absolute path even if $TMPDIR is
 * relative, since daemons run in it.
 */
const char *
tl_tmpdir(void)
{
	const char	*base;
	char		*tmpl, *dir, **v;

	tl_register();
	if ((base = getenv("TMPDIR")) == NULL || *base == '\0')
		base = "/tmp";
	tmpl = tl_xasprintf("%s/drover-test.XXXXXX", base);
	if (mkdtemp(tmpl) == NULL)
		sysbail("mkdtemp %s", tmpl);
	if ((dir = realpath(tmpl, NULL)) == NULL)
		sysbail("realpath %s", tmpl);
	free(tmpl);
	if ((v = reallocarray(tl_tmpdirs, tl_ntmpdirs + 1, sizeof(*v))) ==
	    NULL)
		sysbail("reallocarray");
	tl_tmpdirs = v;
	tl_tmpdirs[tl_ntmpdirs++] = dir;
	return dir;
}

/*
 * Child processes.
 */

/*
 * A NULL-terminated vector of copies of the strings in a, b and c (each
 * NULL-terminated, any may be NULL): execv wants non-const strings.
 */
static char **
tl_argv(const char *const a[], const char *const b[], const char *const c[])
{
	const char *const	*parts[3] = { a, b, c };
	char			**v;
	size_t			  n = 0, i, k;

	for (k = 0; k < 3; k++)
		for (i = 0; parts[k] != NULL && parts[k][i] != NULL; i++)
			n++;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		sysbail("calloc");
	n = 0;
	for (k = 0; k < 3; k++)
		for (i = 0; parts[k] != NULL && parts[k][i] != NULL; i++)
			v[n++] = tl_xstrdup(parts[k][i]);
	return v;
}

static void
tl_argv_free(char **v)
{
	size_t	 i;

	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* In a child: make fd available as target, without close-on-exec. */
static void
tl_child_fd(int fd, int target)
{
	if (fd == target)
		fcntl(fd, F_SETFD, 0);
	else
		dup2(fd, target);
}

/* In a child: empty signal mask and default dispositions, as at boot. */
static void
tl_child_signals(void)
{
	sigset_t	 none;
	int		 sig;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
}

/*
 * Start the daemon as described in testlib.h.  Failures of the test
 * environment (no binary, fork, pidfd) bail out.
 */
int
tl_daemon_start(struct tl_daemon *d, const char *const argv[])
{
	const char	*bin, *opts[4], *wrap[16];
	char		*wcopy = NULL, *word, *last, **vec;
	struct tl_reg	*r;
	int		 logfd, nullfd, nwrap = 0;
	pid_t		 pid;

	memset(d, 0, sizeof(*d));
	d->pidfd = -1;
	d->dir = tl_own(tl_xstrdup(tl_tmpdir()));
	d->state = tl_own(tl_xasprintf("%s/state", d->dir));
	d->log = tl_own(tl_xasprintf("%s/drover.log", d->dir));
	if ((bin = getenv("TL_DROVER")) == NULL || *bin == '\0')
		bin = tl_path("supervisor/drover");
	if (access(bin, X_OK) == -1)
		sysbail("%s (is drover built?)", bin);
	if ((word = getenv("TL_DAEMON_WRAPPER")) != NULL) {
		wcopy = tl_xstrdup(word);
		for (word = strtok_r(wcopy, " \t", &last); word != NULL;
		    word = strtok_r(NULL, " \t", &last)) {
			if (nwrap == 15)
				bail("TL_DAEMON_WRAPPER has too many words");
			wrap[nwrap++] = word;
		}
	}
	wrap[nwrap] = NULL;
	opts[0] = bin;
	opts[1] = "-s";
	opts[2] = d->state;
	opts[3] = NULL;
	vec = tl_argv(wrap, opts, argv);
	free(wcopy);

	if ((logfd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
	    O_CLOEXEC, 0644)) == -1)
		sysbail("open %s", d->log);
	if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		sysbail("open /dev/null");
	fflush(NULL);
	if ((pid = fork()) == -1)
		sysbail("fork");
	if (pid == 0) {
		tl_child_fd(nullfd, 0);
		tl_child_fd(logfd, 1);
		tl_child_fd(logfd, 2);
		tl_child_signals();
		/* Every slot transition, for t/transitions (see slot.c). */
		if (getenv("DROVER_DEBUG_TRANSITIONS") == NULL)
			(void)setenv("DROVER_DEBUG_TRANSITIONS",
			    tl_path("t/transitions.txt"), 1);
		/* A test killed outright (SIGPIPE, say) takes drover along. */
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (chdir(d->dir) == -1) {
			dprintf(2, "tl_daemon_start: chdir %s: %s\n", d->dir,
			    strerror(errno));
			_exit(127);
		}
		closefrom(3);
		execvp(vec[0], vec);
		dprintf(2, "tl_daemon_start: exec %s: %s\n", vec[0],
		    strerror(errno));
		_exit(127);
	}
	close(logfd);
	close(nullfd);
	tl_argv_free(vec);
	d->pid = pid;
	if ((d->pidfd = tl_pidfd_open(pid)) == -1 && errno != ENOSYS)
		sysbail("pidfd_open %d", (int)pid);
	r = reallocarray(tl_daemons, tl_ndaemons + 1, sizeof(*r));
	if (r == NULL)
		sysbail("reallocarray");
	tl_daemons = r;
	r[tl_ndaemons].r_pid = pid;
	r[tl_ndaemons].r_log = d->log;
	r[tl_ndaemons].r_reaped = 0;
	r[tl_ndaemons].r_w = NULL;
	r[tl_ndaemons].r_nw = 0;
	tl_ndaemons++;
	return 0;
}

int
tl_daemon_kill(struct tl_daemon *d, int sig)
{
	if (d->exited) {
		errno = ESRCH;
		return -1;
	}
	if (d->pidfd == -1)
		return kill(d->pid, sig);
	return (int)syscall(SYS_pidfd_send_signal, d->pidfd, sig, NULL, 0);
}

/*
 * Wait for the daemon's pidfd to become readable, then reap it.  Once
 * reaped, later calls return the same result at once.
 */
int
tl_daemon_wait(struct tl_daemon *d, int timeout_ms)
{
	long long	 deadline = tl_deadline(timeout_ms);
	size_t		 i;
	int		 st, gone;

	if (d->exited)
		return d->status;
	if (tl_poll(NULL, 0, deadline, d->pid, d->pidfd, &gone) == 0)
		return -1;
	while (waitpid(d->pid, &st, 0) == -1)
		if (errno != EINTR)
			sysbail("waitpid %d", (int)d->pid);
	d->status = tl_decode(st);
	d->exited = 1;
	if (d->pidfd != -1)
		close(d->pidfd);
	d->pidfd = -1;
	for (i = 0; i < tl_ndaemons; i++)
		if (tl_daemons[i].r_pid == d->pid)
			tl_daemons[i].r_reaped = 1;
	return d->status;
}

int
tl_daemon_stop(struct tl_daemon *d, int timeout_ms)
{
	if (!d->exited)
		tl_daemon_kill(d, SIGTERM);
	return tl_daemon_wait(d, timeout_ms);
}

/*
 * status.json.
 */

struct tl_json *
tl_status(const struct tl_daemon *d)
{
	struct tl_json	*j;
	char		*path, *text;

	path = tl_xasprintf("%s/status.json", d->state);
	text = tl_slurp(path);
	free(path);
	j = tl_json_parse(text);
	free(text);
	if (j != NULL)
		tl_note_workers(d->pid, j);
	return j;
}

/* Read and discard whatever an inotify descriptor has queued. */
static void
tl_drain(int ifd)
{
	char	 buf[4096];

	while (read(ifd, buf, sizeof(buf)) > 0)
		continue;
}

/*
 * Watch the state directory (or, until it exists, its parent) and test
 * every version of status.json that appears.  The watch is set before each
 * read, so no rename between the read and poll(2) goes unnoticed.  The
 * daemon's exit ends the wait after one last read.
 */
struct tl_json *
tl_status_wait(struct tl_daemon *d, int (*pred)(const struct tl_json *,
    void *), void *arg, int timeout_ms)
{
	struct pollfd	 pfd;
	struct tl_json	*j;
	long long	 deadline = tl_deadline(timeout_ms);
	char		*path, *text, *last = NULL;
	int		 ifd, wstate = -1, wdir = -1, gone = 0;
	const char	*why = "timed out";

	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		sysbail("inotify_init1");
	path = tl_xasprintf("%s/status.json", d->state);
	for (;;) {
		if (wstate == -1) {
			wstate = inotify_add_watch(ifd, d->state, IN_CREATE |
			    IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF);
			if (wstate == -1 && errno != ENOENT)
				sysbail("inotify_add_watch %s", d->state);
			if (wstate == -1 && wdir == -1) {
				wdir = inotify_add_watch(ifd, d->dir,
				    IN_CREATE | IN_MOVED_TO);
				if (wdir == -1)
					sysbail("inotify_add_watch %s",
					    d->dir);
				continue;
			}
		}
		if ((text = tl_slurp(path)) != NULL) {
			if ((j = tl_json_parse(text)) != NULL)
				tl_note_workers(d->pid, j);
			if (j != NULL && pred(j, arg)) {
				free(text);
				free(last);
				free(path);
				close(ifd);
				return j;
			}
			tl_json_free(j);
			free(last);
			last = text;
		}
		if (gone || d->exited) {
			why = "the daemon exited";
			break;
		}
		pfd.fd = ifd;
		pfd.events = POLLIN;
		if (tl_poll(&pfd, 1, deadline, d->pid, d->pidfd, &gone) == 0)
			break;
		if (pfd.revents != 0) {
			struct inotify_event	*ev;
			char			 buf[4096]
			    __attribute__((aligned(__alignof__(*ev))));
			ssize_t			 len;
			char			*p;

			while ((len = read(ifd, buf, sizeof(buf))) > 0)
				for (p = buf; p < buf + len;
				    p += sizeof(*ev) + ev->len) {
					ev = (struct inotify_event *)(void *)p;
					if (ev->wd == wstate &&
					    (ev->mask & IN_IGNORED))
						wstate = -1;
				}
		}
	}
	diag("status.json: no match (%s); last seen: %s", why,
	    last != NULL ? last : "(none)");
	free(last);
	free(path);
	close(ifd);
	return NULL;
}

int
tl_pred_all_ready(const struct tl_json *j, void *arg)
{
	const struct tl_json	*slots, *s;
	size_t			 i;

	(void)arg;
	if (tl_json_bool(j, "ready") != 1)
		return 0;
	if ((slots = tl_json_get(j, "slots")) == NULL ||
	    slots->j_type != TL_JSON_ARRAY || slots->j_n == 0)
		return 0;
	for (i = 0; i < slots->j_n; i++) {
		s = slots->j_vals[i];
		if (tl_json_str(s, "state") == NULL ||
		    strcmp(tl_json_str(s, "state"), "ready") != 0 ||
		    tl_json_int(s, "pid", 0) <= 0)
			return 0;
	}
	return 1;
}

int
tl_pred_slot_pid_changed(const struct tl_json *j, void *arg)
{
	const struct tl_slot_pid	*sp = arg;
	const struct tl_json		*s;
	const char			*state;
	char				 path[32];
	long long			 pid;

	snprintf(path, sizeof(path), "slots.%d", sp->slot);
	if ((s = tl_json_get(j, path)) == NULL)
		return 0;
	pid = tl_json_int(s, "pid", 0);
	state = tl_json_str(s, "state");
	return pid > 0 && pid != sp->oldpid && state != NULL &&
	    strcmp(state, "ready") == 0;
}

int
tl_pred_match(const struct tl_json *j, void *arg)
{
	const struct tl_match	*m = arg;
	const struct tl_json	*v;

	if ((v = tl_json_get(j, m->path)) == NULL)
		return 0;
	if (m->str != NULL)
		return v->j_type == TL_JSON_STRING &&
		    strcmp(v->j_str, m->str) == 0;
	if (v->j_type == TL_JSON_NUMBER)
		return v->j_int == m->num && (double)v->j_int == v->j_num;
	if (v->j_type == TL_JSON_BOOL)
		return v->j_bool == m->num;
	return 0;
}

int
tl_port(const struct tl_json *j, int listener)
{
	char	 path[32];

	snprintf(path, sizeof(path), "listeners.%d.port", listener);
	return (int)tl_json_int(j, path, -1);
}

/*
 * Processes.
 */

int
tl_wait_pid_gone(pid_t pid, int timeout_ms)
{
	long long	 deadline = tl_deadline(timeout_ms);
	int		 fd, gone;

	if ((fd = tl_pidfd_open(pid)) == -1) {
		if (errno == ESRCH)
			return 0;
		if (errno != ENOSYS)
			sysbail("pidfd_open %d", (int)pid);
	}
	tl_poll(NULL, 0, deadline, pid, fd, &gone);
	if (fd != -1)
		close(fd);
	return gone ? 0 : -1;
}

static int
tl_pid_cmp(const void *a, const void *b)
{
	pid_t	 x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/* Children of ppid, zombies included, from /proc. */
int
tl_children(pid_t ppid, pid_t *pids, int max)
{
	DIR		*dir;
	struct dirent	*de;
	struct tl_proc	 pr;
	int		 n = 0;

	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL && n < max) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (tl_proc((pid_t)strtol(de->d_name, NULL, 10), &pr) == 0 &&
		    pr.p_ppid == (int)ppid)
			pids[n++] = pr.p_pid;
	}
	closedir(dir);
	qsort(pids, (size_t)n, sizeof(*pids), tl_pid_cmp);
	return n;
}

/*
 * Look name up in the environment process pid started with, from
 * /proc/PID/environ: a library-owned copy of the first value, or NULL.
 * *count (if not NULL) is set to how many entries define name.
 */
static const char *
tl_env_scan(pid_t pid, const char *name, int *count)
{
	char		*buf, *p, *end;
	const char	*val = NULL;
	size_t		 len, nlen = strlen(name);

	if (count != NULL)
		*count = 0;
	if ((buf = tl_slurp_len(tl_fmt("/proc/%ld/environ", (long)pid),
	    &len)) == NULL)
		return NULL;
	end = buf + len;
	for (p = buf; p < end; p += strlen(p) + 1)
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			if (val == NULL)
				val = tl_fmt("%s", p + nlen + 1);
			if (count != NULL)
				(*count)++;
		}
	free(buf);
	return val;
}

const char *
tl_env_of(pid_t pid, const char *name)
{
	return tl_env_scan(pid, name, NULL);
}

int
tl_env_count(pid_t pid, const char *name)
{
	int	 n;

	(void)tl_env_scan(pid, name, &n);
	return n;
}

/*
 * The value of field in /proc/PID/status, after the colon and the blanks
 * that follow it, up to the end of its line.
 */
const char *
tl_proc_status(pid_t pid, const char *field)
{
	char		*text, *p, *end;
	const char	*val = NULL;
	size_t		 len = strlen(field);

	if ((text = tl_slurp(tl_fmt("/proc/%ld/status", (long)pid))) == NULL)
		return NULL;
	for (p = text; p != NULL; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, field, len) == 0 && p[len] == ':') {
			p += len + 1;
			p += strspn(p, " \t");
			end = p + strcspn(p, "\n");
			val = tl_fmt("%.*s", (int)(end - p), p);
			break;
		}
	}
	free(text);
	return val;
}

/* A size field such as "VmRSS:   1234 kB" as its number of kB. */
long
tl_proc_status_kb(pid_t pid, const char *field)
{
	const char	*val;
	char		*end;
	long		 kb;

	if ((val = tl_proc_status(pid, field)) == NULL)
		return -1;
	kb = strtol(val, &end, 10);
	return end == val ? -1 : kb;
}

/*
 * Files.
 */

/*
 * Read a whole file into a NUL-terminated buffer, its length (without the
 * NUL, which may not be the first) in *lenp; NULL with errno.
 */
static char *
tl_slurp_len(const char *path, size_t *lenp)
{
	char	*buf = NULL, *nbuf;
	size_t	 len = 0, size = 0;
	ssize_t	 n;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (size - len < 2) {
			size = size ? size * 2 : 4096;
			if ((nbuf = realloc(buf, size)) == NULL)
				goto fail;
			buf = nbuf;
		}
		n = read(fd, buf + len, size - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
 fail:
	saved = errno;
	close(fd);
	free(buf);
	errno = saved;
	return NULL;
}

/* Read a whole file into a NUL-terminated buffer; NULL with errno. */
char *
tl_slurp(const char *path)
{
	size_t	 len;

	return tl_slurp_len(path, &len);
}

int
tl_count(const char *hay, const char *needle)
{
	size_t	 len;
	int	 n = 0;

	if (hay == NULL || needle == NULL || (len = strlen(needle)) == 0)
		return 0;
	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += len;
	}
	return n;
}

/* Make a FIFO named name in dir; bail out if it cannot. */
const char *
tl_fifo_new(const char *dir, const char *name)
{
	const char	*path = tl_fmt("%s/%s", dir, name);

	if (mkfifo(path, 0600) == -1)
		sysbail("mkfifo %s", path);
	return path;
}

/*
 * Let a worker waiting on a FIFO go on: write one line to it.  The FIFO
 * is opened read-write, which never blocks, and the descriptor is held
 * until exit, so the line stays there whether the worker has opened the
 * FIFO yet or not, and a worker that opens it again later (a restarted
 * one) blocks instead of reading end of file.
 */
void
tl_fifo_release(const char *path)
{
	int	*v, fd;

	tl_register();
	if ((v = reallocarray(tl_fifofds, tl_nfifofds + 1, sizeof(*v))) ==
	    NULL)
		sysbail("reallocarray");
	tl_fifofds = v;
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		sysbail("open %s", path);
	if (write(fd, "go\n", 3) != 3)
		sysbail("write %s", path);
	tl_fifofds[tl_nfifofds++] = fd;
}

/* Write to a temporary name beside path and rename, like the daemon. */
int
tl_write_file(const char *path, const char *fmt, ...)
{
	va_list	 ap;
	char	*text, *tmp;
	size_t	 len, off = 0;
	ssize_t	 n;
	int	 fd, r, saved;

	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (r == -1)
		return -1;
	len = (size_t)r;
	tmp = tl_xasprintf("%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		goto fail;
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			unlink(tmp);
			errno = saved;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) == -1 || close(fd) == -1 ||
	    rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		goto fail;
	}
	free(tmp);
	free(text);
	return 0;
 fail:
	saved = errno;
	free(tmp);
	free(text);
	errno = saved;
	return -1;
}

/*
 * Wait until the file contains needle, re-reading it on every inotify
 * IN_MODIFY.  When the writer pid (if not 0) exits, one last read decides.
 */
static int
tl_wait_text(const char *path, const char *needle, pid_t pid, int pidfd,
    int timeout_ms)
{
	struct pollfd	 pfd;
	long long	 deadline = tl_deadline(timeout_ms);
	char		*text = NULL;
	const char	*tail;
	int		 ifd, gone = 0;

	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		sysbail("inotify_init1");
	if (inotify_add_watch(ifd, path, IN_MODIFY) == -1)
		sysbail("inotify_add_watch %s", path);
	for (;;) {
		free(text);
		text = tl_slurp(path);
		if (text != NULL && strstr(text, needle) != NULL) {
			free(text);
			close(ifd);
			return 0;
		}
		if (gone)
			break;
		pfd.fd = ifd;
		pfd.events = POLLIN;
		if (tl_poll(&pfd, 1, deadline, pid, pidfd, &gone) == 0)
			break;
		tl_drain(ifd);
	}
	close(ifd);
	tail = text != NULL ? text : "";
	if (strlen(tail) > 2000)
		tail += strlen(tail) - 2000;
	diag("%s: no \"%s\" (%s); it ends with:\n%s", path, needle,
	    gone ? "the daemon exited" : "timed out", tail);
	free(text);
	return -1;
}

int
tl_wait_log(struct tl_daemon *d, const char *needle, int timeout_ms)
{
	return tl_wait_text(d->log, needle, d->exited ? 0 : d->pid, d->pidfd,
	    timeout_ms);
}

/*
 * Networking.
 */

/* A blocking TCP connection to 127.0.0.1:port, or -1 with errno. */
int
tl_connect(int port)
{
	struct sockaddr_in	 sin;
	int			 fd, saved;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
tl_connect_unix(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * Send a GET for path, with "Connection: close" unless keepalive.  Uses
 * MSG_NOSIGNAL: a closed peer is EPIPE, never SIGPIPE.
 */
int
tl_http_request(int fd, const char *path, int keepalive)
{
	char	*req;
	size_t	 len, off = 0;
	ssize_t	 n;
	int	 r, saved;

	r = asprintf(&req, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path,
	    keepalive ? "" : "Connection: close\r\n");
	if (r == -1)
		return -1;
	len = (size_t)r;
	while (off < len) {
		n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			free(req);
			errno = saved;
			return -1;
		}
		off += (size_t)n;
	}
	free(req);
	return 0;
}

/* Wait until fd is readable: 1, or 0 with ETIMEDOUT at the deadline. */
static int
tl_readable(int fd, long long deadline)
{
	struct pollfd	 pfd;
	int		 r;

	pfd.fd = fd;
	pfd.events = POLLIN;
	while ((r = poll(&pfd, 1, tl_remaining(deadline))) == -1)
		if (errno != EINTR)
			return -1;
	if (r == 0) {
		errno = ETIMEDOUT;
		return 0;
	}
	return 1;
}

/*
 * Read from a stream socket up to and including the terminator, never a
 * byte beyond it: peek, look for the terminator (which may straddle what
 * was read before), then consume exactly what belongs to us.  Whatever
 * follows (a pipelined response) stays in the socket.  Returns 0 with the
 * text NUL-terminated in buf, -2 on EOF before any byte, -1 with errno.
 */
static int
tl_recv_until(int fd, long long deadline, char *buf, size_t cap,
    const char *term, size_t *lenp)
{
	size_t	 len = 0, tlen = strlen(term), from, take;
	ssize_t	 n;
	char	*hit;
	int	 r;

	for (;;) {
		if ((r = tl_readable(fd, deadline)) <= 0)
			return -1;
		n = recv(fd, buf + len, cap - 1 - len, MSG_PEEK | MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			if (len == 0)
				return -2;
			errno = EPROTO;
			return -1;
		}
		from = len >= tlen - 1 ? len - (tlen - 1) : 0;
		hit = memmem(buf + from, len + (size_t)n - from, term, tlen);
		take = hit != NULL ? (size_t)(hit - buf) + tlen - len :
		    (size_t)n;
		while (take > 0) {
			n = recv(fd, buf + len, take, MSG_DONTWAIT);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n == 0)
					errno = EPROTO;
				return -1;
			}
			len += (size_t)n;
			take -= (size_t)n;
		}
		buf[len] = '\0';
		if (hit != NULL) {
			*lenp = len;
			return 0;
		}
		if (len == cap - 1) {
			errno = EMSGSIZE;
			return -1;
		}
	}
}

/*
 * Read want bytes of body (want < 0: until EOF), keeping what fits in
 * body[0 .. bodysz - 1) from offset *got on.
 */
static int
tl_recv_body(int fd, long long deadline, long long want, char *body,
    size_t bodysz, size_t *got)
{
	char	 buf[4096];
	size_t	 chunk, keep;
	ssize_t	 n;
	int	 r;

	while (want != 0) {
		chunk = sizeof(buf);
		if (want > 0 && (long long)chunk > want)
			chunk = (size_t)want;
		if ((r = tl_readable(fd, deadline)) <= 0)
			return -1;
		n = recv(fd, buf, chunk, MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			if (want < 0)
				return 0;
			errno = EPROTO;
			return -1;
		}
		if (body != NULL && bodysz > 0 && *got < bodysz - 1) {
			keep = bodysz - 1 - *got;
			if (keep > (size_t)n)
				keep = (size_t)n;
			memcpy(body + *got, buf, keep);
			*got += keep;
		}
		if (want > 0)
			want -= n;
	}
	return 0;
}

/* Read a chunked body and its trailer. */
static int
tl_chunked(int fd, long long deadline, char *body, size_t bodysz,
    size_t *got)
{
	char		 line[256], *end;
	size_t		 len;
	unsigned long	 size;

	for (;;) {
		if (tl_recv_until(fd, deadline, line, sizeof(line), "\r\n",
		    &len) != 0)
			goto bad;
		errno = 0;
		size = strtoul(line, &end, 16);
		if (end == line || errno != 0 || size > LLONG_MAX)
			goto bad;
		if (size == 0)
			break;
		if (tl_recv_body(fd, deadline, (long long)size, body, bodysz,
		    got) == -1)
			return -1;
		if (tl_recv_until(fd, deadline, line, sizeof(line), "\r\n",
		    &len) != 0 || len != 2)
			goto bad;
	}
	do {
		if (tl_recv_until(fd, deadline, line, sizeof(line), "\r\n",
		    &len) != 0)
			goto bad;
	} while (len != 2);
	return 0;
 bad:
	if (errno == 0 || errno == EAGAIN)
		errno = EPROTO;
	return -1;
}

/*
 * Read one response: its head byte-exact, then a Content-Length, chunked
 * or read-to-EOF body.  Responses to HEAD are not supported.
 */
int
tl_http_response(int fd, int timeout_ms, int *status, char *body,
    size_t bodysz, int *close_hdr)
{
	char		 head[TL_HDRMAX], *line, *next, *val;
	long long	 deadline = tl_deadline(timeout_ms), clen = -1;
	size_t		 len, got = 0;
	int		 code, r, chunked = 0, conn_close = 0;

	if (body != NULL && bodysz > 0)
		body[0] = '\0';
	if ((r = tl_recv_until(fd, deadline, head, sizeof(head), "\r\n\r\n",
	    &len)) != 0)
		return r;
	if (strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ' ||
	    sscanf(head + 9, "%3d", &code) != 1 || code < 100) {
		errno = EPROTO;
		return -1;
	}
	for (line = strstr(head, "\r\n") + 2; *line != '\r'; line = next) {
		next = strstr(line, "\r\n");
		*next = '\0';
		next += 2;
		if ((val = strchr(line, ':')) == NULL)
			continue;
		*val++ = '\0';
		val += strspn(val, " \t");
		if (strcasecmp(line, "Content-Length") == 0) {
			char	*end;

			errno = 0;
			clen = strtoll(val, &end, 10);
			if (errno != 0 || end == val || clen < 0) {
				errno = EPROTO;
				return -1;
			}
		} else if (strcasecmp(line, "Transfer-Encoding") == 0 &&
		    strcasestr(val, "chunked") != NULL)
			chunked = 1;
		else if (strcasecmp(line, "Connection") == 0 &&
		    strcasestr(val, "close") != NULL)
			conn_close = 1;
	}
	if (status != NULL)
		*status = code;
	if (close_hdr != NULL)
		*close_hdr = conn_close;
	if (code < 200 || code == 204 || code == 304)
		r = 0;
	else if (chunked)
		r = tl_chunked(fd, deadline, body, bodysz, &got);
	else
		r = tl_recv_body(fd, deadline, clen, body, bodysz, &got);
	if (body != NULL && bodysz > 0)
		body[got] = '\0';
	return r;
}

int
tl_http_get(int port, const char *path, int *status, char *body,
    size_t bodysz)
{
	int	 fd, r, saved;

	if ((fd = tl_connect(port)) == -1)
		return -1;
	r = tl_http_request(fd, path, 0);
	if (r == 0)
		r = tl_http_response(fd, TL_HTTP_MS, status, body, bodysz,
		    NULL);
	saved = errno;
	close(fd);
	errno = saved;
	return r == 0 ? 0 : -1;
}

/*
 * Descriptors.
 */

static int
tl_fdent_cmp(const void *a, const void *b)
{
	const struct tl_fdent	*x = a, *y = b;

	return x->f_fd < y->f_fd ? -1 : x->f_fd > y->f_fd;
}

/*
 * Every fd of pid with its socket inode (0 if not a socket), sorted; the
 * descriptor used to read the directory is left out when pid is us.
 */
static int
tl_fdents(pid_t pid, struct tl_fdent **out)
{
	DIR		*dir;
	struct dirent	*de;
	struct tl_fdent	*v = NULL, *nv;
	char		 path[64], link[64];
	ssize_t		 len;
	int		 n = 0, self, fd;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	self = pid == getpid() ? dirfd(dir) : -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if ((fd = (int)strtol(de->d_name, NULL, 10)) == self)
			continue;
		if ((nv = reallocarray(v, (size_t)n + 1, sizeof(*v))) == NULL)
			sysbail("reallocarray");
		v = nv;
		v[n].f_fd = fd;
		v[n].f_ino = 0;
		len = readlinkat(dirfd(dir), de->d_name, link,
		    sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			if (sscanf(link, "socket:[%lu]", &v[n].f_ino) != 1)
				v[n].f_ino = 0;
		}
		n++;
	}
	closedir(dir);
	if (n > 0)
		qsort(v, (size_t)n, sizeof(*v), tl_fdent_cmp);
	*out = v;
	return n;
}

/* The sockets among pid's fds: inode and fd number, by fd number. */
int
tl_fd_inodes(pid_t pid, unsigned long *ino, int *fdnum, int max)
{
	struct tl_fdent	*v;
	int		 n, i, k = 0;

	if ((n = tl_fdents(pid, &v)) == -1)
		return -1;
	for (i = 0; i < n && k < max; i++) {
		if (v[i].f_ino == 0)
			continue;
		if (ino != NULL)
			ino[k] = v[i].f_ino;
		if (fdnum != NULL)
			fdnum[k] = v[i].f_fd;
		k++;
	}
	free(v);
	return k;
}

int
tl_fd_list(pid_t pid, int *fds, int max)
{
	struct tl_fdent	*v;
	int		 n, i;

	if ((n = tl_fdents(pid, &v)) == -1)
		return -1;
	for (i = 0; i < n && i < max; i++)
		fds[i] = v[i].f_fd;
	free(v);
	return i;
}

/*
 * Commands.
 */

/*
 * Run argv with its output in a pipe.  The pipe is read until the process
 * exits (its pidfd becomes readable), then drained without blocking, so a
 * grandchild that keeps the pipe open cannot hold us up.
 */
int
tl_run(const char *const argv[], int timeout_ms, char **output)
{
	struct pollfd	 pfd;
	long long	 deadline = tl_deadline(timeout_ms);
	char		**vec, *buf = NULL, *nbuf;
	size_t		 len = 0, size = 0;
	ssize_t		 n;
	pid_t		 pid;
	int		 p[2], nullfd, pidfd, st, r, gone, code = -1, piped = 1;

	if (pipe2(p, O_CLOEXEC) == -1)
		sysbail("pipe2");
	if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		sysbail("open /dev/null");
	vec = tl_argv(argv, NULL, NULL);
	fflush(NULL);
	if ((pid = fork()) == -1)
		sysbail("fork");
	if (pid == 0) {
		tl_child_fd(nullfd, 0);
		tl_child_fd(p[1], 1);
		tl_child_fd(p[1], 2);
		tl_child_signals();
		closefrom(3);
		execvp(vec[0], vec);
		dprintf(2, "tl_run: exec %s: %s\n", vec[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	close(nullfd);
	tl_argv_free(vec);
	if ((pidfd = tl_pidfd_open(pid)) == -1 && errno != ENOSYS)
		sysbail("pidfd_open %d", (int)pid);
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
		sysbail("fcntl");
	for (;;) {
		pfd.fd = piped ? p[0] : -1;
		pfd.events = POLLIN;
		if ((r = tl_poll(&pfd, 1, deadline, pid, pidfd, &gone)) == 0) {
			kill(pid, SIGKILL);
			diag("tl_run: %s timed out, killed", argv[0]);
		}
		while (piped) {
			if (size - len < 2) {
				size = size ? size * 2 : 4096;
				if ((nbuf = realloc(buf, size)) == NULL)
					sysbail("realloc");
				buf = nbuf;
			}
			n = read(p[0], buf + len, size - len - 1);
			if (n > 0)
				len += (size_t)n;
			else if (n == 0)
				piped = 0;
			else if (errno != EINTR)
				break;
		}
		if (r == 0 || gone)
			break;
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			sysbail("waitpid %d", (int)pid);
	if (r != 0)
		code = tl_decode(st);
	if (pidfd != -1)
		close(pidfd);
	close(p[0]);
	if (output != NULL) {
		if (buf == NULL && (buf = malloc(1)) == NULL)
			sysbail("malloc");
		buf[len] = '\0';
		*output = buf;
	} else
		free(buf);
	return code;
}
