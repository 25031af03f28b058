/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * Starting the real daemon and keeping track of it: tl_daemon_start()
 * runs drover in a private directory with its output in a log there, and
 * records it for the exit hook together with every worker a status.json
 * of it has named (with the worker's start time, so a reused pid is never
 * hit).  At exit tl_daemon_cleanup() shows the end of every daemon's log
 * if a test failed, stops every daemon not yet reaped (SIGSTOP first, so
 * it cannot respawn, then SIGKILL to all its children, the workers, then
 * to the daemon itself), and kills every recorded worker that still runs.
 * Failures of the test environment (no binary, fork, pidfd) bail out.
 *
 * Most tests start a master the same way, and do it through tl_start()
 * (an argument vector) or tl_start_conf() (the text of a configuration
 * file, written to a file of its own that tl_conf_rewrite() can change
 * for a reload), which bail out unless every slot gets ready: a test that
 * asserts on how a master starts uses tl_daemon_start() and waits itself,
 * or tl_start_wait(), which leaves the assertion to it and kills a master
 * that did not get ready, so that the test can go on to its next case.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"
#include "tl-private.h"

/* The longest line drover reads in a configuration file. */
#define TL_CONF_LINE	199

/* A daemon started by tl_daemon_start(), for the exit hook. */
struct tl_reg {
	pid_t		 r_pid;
	const char	*r_log;
	int		 r_reaped;
	struct tl_proc	*r_w;		/* workers seen in status.json */
	size_t		 r_nw;
};

static void	 tl_kill_daemon(const struct tl_reg *);
static void	 tl_show_log(const struct tl_reg *);
static void	 tl_kill_workers(struct tl_reg *);
static struct tl_reg *tl_reg_find(pid_t);
static struct tl_json *tl_ready(struct tl_daemon *);
static char	*tl_conf_text(const char *, va_list) TL_PRINTF(1, 0);

static struct tl_reg	 *tl_daemons;
static size_t		  tl_ndaemons;

/*
 * The daemons' part of the exit hook (see tl-path.c): show their logs if
 * something failed, kill what is left of them.  It must not bail.
 */
void
tl_daemon_cleanup(void)
{
	size_t	 i;

	for (i = 0; i < tl_ndaemons; i++) {
		if (tap_failed() > 0)
			tl_show_log(&tl_daemons[i]);
		if (!tl_daemons[i].r_reaped)
			tl_kill_daemon(&tl_daemons[i]);
		tl_kill_workers(&tl_daemons[i]);
	}
	free(tl_daemons);
	tl_daemons = NULL;
	tl_ndaemons = 0;
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
void
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

/*
 * Start the daemon as described in testlib.h.  Failures of the test
 * environment (no binary, fork, pidfd) bail out.
 */
int
tl_daemon_start(struct tl_daemon *d, const char *const argv[])
{
	const char	*bin, *opts[4], *wrap[16], *trans;
	char		*wcopy = NULL, *word, *last, **vec;
	struct tl_reg	*r;
	int		 logfd, nullfd, nwrap = 0;
	pid_t		 pid;

	trans = tl_path("t/transitions.txt");
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
			(void)setenv("DROVER_DEBUG_TRANSITIONS", trans, 1);
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

/* Send sig to the daemon, through its pidfd while there is one. */
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

/* SIGTERM, unless already reaped, then tl_daemon_wait(). */
int
tl_daemon_stop(struct tl_daemon *d, int timeout_ms)
{
	if (!d->exited)
		tl_daemon_kill(d, SIGTERM);
	return tl_daemon_wait(d, timeout_ms);
}

/* The registry entry of the daemon pid, or NULL. */
static struct tl_reg *
tl_reg_find(pid_t pid)
{
	size_t	 i;

	for (i = 0; i < tl_ndaemons; i++)
		if (tl_daemons[i].r_pid == pid)
			return &tl_daemons[i];
	return NULL;
}

/*
 * Wait until every slot of d is ready and return that status; if that
 * does not come within TL_READY_MS (tl_slow_ms()), show the end of the
 * log and bail out, saying whether the daemon exited (it is reaped then)
 * or timed out.
 */
static struct tl_json *
tl_ready(struct tl_daemon *d)
{
	struct tl_json	*j;
	struct tl_reg	*r;
	int		 st;

	if ((j = tl_status_wait(d, tl_pred_all_ready, NULL,
	    tl_slow_ms(TL_READY_MS))) != NULL)
		return j;
	st = tl_daemon_wait(d, 0);
	if ((r = tl_reg_find(d->pid)) != NULL)
		tl_show_log(r);
	if (st != -1)
		bail("drover %d exited %d before every slot was ready",
		    (int)d->pid, st);
	bail("drover %d: not every slot was ready within %d ms", (int)d->pid,
	    tl_slow_ms(TL_READY_MS));
}

/* Start drover with argv and, with wait_ready, wait for it; see testlib.h. */
struct tl_json *
tl_start(struct tl_daemon *d, const char *const argv[], int wait_ready)
{
	if (tl_daemon_start(d, argv) == -1)
		bail("cannot start drover");
	return wait_ready ? tl_ready(d) : NULL;
}

/*
 * Start drover with argv and wait up to timeout_ms for every slot to be
 * ready: that status, or NULL once the daemon is killed and reaped.
 */
struct tl_json *
tl_start_wait(struct tl_daemon *d, const char *const argv[], int timeout_ms)
{
	struct tl_json	*j;

	if (tl_daemon_start(d, argv) == -1)
		bail("cannot start drover");
	if ((j = tl_status_wait(d, tl_pred_all_ready, NULL, timeout_ms)) ==
	    NULL) {
		(void)tl_daemon_kill(d, SIGKILL);
		(void)tl_daemon_wait(d, 5000);
	}
	return j;
}

/*
 * Write conftext to a new configuration file and start drover on it, with
 * extra after "-c FILE"; see tl_start().
 */
struct tl_json *
tl_start_conf(struct tl_daemon *d, const char *conftext,
    const char *const extra[], int wait_ready)
{
	const char	**argv, *conf;
	size_t		  n = 0, i;

	conf = tl_conf_file("%s", conftext);
	while (extra != NULL && extra[n] != NULL)
		n++;
	if ((argv = calloc(n + 3, sizeof(*argv))) == NULL)
		sysbail("calloc");
	argv[0] = "-c";
	argv[1] = conf;
	for (i = 0; i < n; i++)
		argv[i + 2] = extra[i];
	if (tl_daemon_start(d, argv) == -1)
		bail("cannot start drover");
	free(argv);
	d->conf = conf;
	return wait_ready ? tl_ready(d) : NULL;
}

/*
 * The text of fmt, with every key line longer than drover reads
 * (TL_CONF_LINE) continued on indented lines, so that paths of a deep
 * build directory (make distcheck's) do not make a test's configuration
 * an error.  The reader joins a continuation with one blank, so a line
 * is broken only at a single blank not followed by what would start a
 * comment or a section, and the value reads back the same.  A line that
 * cannot be broken short enough is left whole, for the tests of that
 * error.
 */
static char *
tl_conf_text(const char *fmt, va_list ap)
{
	const char	*line, *end, *p, *q, *cut;
	char		*text, *out, *o, *start;
	size_t		 room;

	text = tl_vxasprintf(fmt, ap);
	/* A break makes a blank five characters, and takes at least two. */
	if ((out = malloc(strlen(text) * 3 + 1)) == NULL)
		sysbail("malloc");
	o = out;
	for (line = text; *line != '\0'; line = end) {
		end = line + strcspn(line, "\n");
		start = o;
		p = line;
		room = TL_CONF_LINE;
		while ((size_t)(end - p) > room &&
		    strchr(" \t;#[", *line) == NULL) {
			for (q = p + 1, cut = NULL; q <= p + room; q++)
				if (*q == ' ' && strchr(" \t", q[-1]) == NULL &&
				    strchr(" \t;#[\n", q[1]) == NULL)
					cut = q;
			if (cut == NULL) {
				o = start;	/* cannot: leave it whole */
				p = line;
				break;
			}
			memcpy(o, p, (size_t)(cut - p));
			o += cut - p;
			memcpy(o, "\n    ", 5);
			o += 5;
			p = cut + 1;
			room = TL_CONF_LINE - 4;
		}
		if (*end == '\n')
			end++;
		memcpy(o, p, (size_t)(end - p));
		o += end - p;
	}
	*o = '\0';
	free(text);
	return out;
}

/* drover.conf in a fresh temporary directory, holding the text. */
const char *
tl_conf_file(const char *fmt, ...)
{
	const char	*path;
	va_list		 ap;
	char		*text;

	va_start(ap, fmt);
	text = tl_conf_text(fmt, ap);
	va_end(ap);
	path = tl_fmt("%s/drover.conf", tl_tmpdir());
	if (tl_write_file(path, "%s", text) == -1)
		sysbail("write %s", path);
	free(text);
	return path;
}

/* Replace the text of d's configuration file, atomically. */
void
tl_conf_rewrite(const struct tl_daemon *d, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;

	if (d->conf == NULL)
		bail("tl_conf_rewrite: drover %d has no configuration file of "
		    "tl_start_conf()", (int)d->pid);
	va_start(ap, fmt);
	text = tl_conf_text(fmt, ap);
	va_end(ap);
	if (tl_write_file(d->conf, "%s", text) == -1)
		sysbail("write %s", d->conf);
	free(text);
}
