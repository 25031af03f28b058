/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * droverctl(8): control a running drover master and wait for the
 * outcome.  A program of its own rather than a subcommand of drover,
 * whose command line ends with the worker's command (drover [options]
 * command ...), where `drover status` would already mean "run the
 * program status".  Each command finds the master (ctl-find.c), sends it
 * the signal drover(8) documents and waits on status.json (ctl-wait.c)
 * until what it asked for is done:
 *
 *  - reload (SIGHUP) and upgrade (SIGUSR2): the master counts requests
 *    (reload.requests, upgrade.requests) and says which ones the last
 *    operation covers (reload.covers, upgrade.covers: the count when it
 *    began).  The kernel may merge two signals sent at once, so which
 *    number a caller's signal got is unknowable without order: callers
 *    take turns sending, under an flock(2) of the state directory held
 *    only until the master has counted their signal, which makes that
 *    count theirs (or later).  Then each waits for an operation that
 *    covers it to be over and exits by its result: every concurrent
 *    caller gets the outcome of one that read the configuration after
 *    it asked.
 *  - scale N: one SIGTTIN or SIGTTOU at a time, each waited for in
 *    status.json (two sent at once could merge), then until N workers
 *    are ready and no retired slot is left.
 *  - stop: SIGTERM, then until the master process is gone.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ini.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* What a wait for an operation (reload, upgrade) looks for. */
struct op {
	const char	*o_name;	/* "reload" or "upgrade" */
	double		 o_n;		/* requests, then covers, at least */
};

static void	 usage(void) __attribute__((__noreturn__));
static int	 conf_handler(void *, const char *, const char *,
		    const char *);
static void	 find(struct ctl *, const char *, const char *,
		    const char *, const char *);
static void	 turn_take(struct ctl *);
static void	 turn_give(struct ctl *);
static void	 alarm_cb(int);
static double	 member(const struct json *, const char *, const char *);
static int	 stopping(const struct json *);
static struct json *waited(struct ctl *, struct json *,
		    const char *);
static int	 pred_counted(const struct json *, void *);
static int	 pred_over(const struct json *, void *);
static int	 pred_workers_moved(const struct json *, void *);
static int	 pred_scaled(const struct json *, void *);
static int	 cmd_op(struct ctl *, int, const char *);
static int	 cmd_scale(struct ctl *, int);
static int	 cmd_stop(struct ctl *);

static const struct option longopts[] = {
	{ "config",	required_argument,	NULL,	'c' },
	{ "state-dir",	required_argument,	NULL,	's' },
	{ "pidfile",	required_argument,	NULL,	'p' },
	{ "pid",	required_argument,	NULL,	'P' },
	{ "timeout",	required_argument,	NULL,	't' },
	{ "json",	no_argument,		NULL,	'j' },
	{ "help",	no_argument,		NULL,	'h' },
	{ "version",	no_argument,		NULL,	'V' },
	{ NULL,		0,			NULL,	0 }
};

static double	 timeout = 90;

/* Say why (as "droverctl: why") and exit with code. */
void
ctl_fail(int code, const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("droverctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void
usage(void)
{
	fprintf(stderr, "usage: droverctl [-c file | -p pidfile | -P pid | "
	    "-s dir] [-t timeout]\n"
	    "                 status [--json] | reload | upgrade | scale N "
	    "| stop\n");
	exit(CTL_USAGE);
}

/* state_dir of the configuration file, as the master reads it. */
static int
conf_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	char	**dir = arg;

	if ((*section == '\0' || strcmp(section, "drover") == 0) &&
	    strcmp(name, "state_dir") == 0) {
		free(*dir);
		if ((*dir = strdup(value)) == NULL)
			ctl_fail(CTL_OSERR, "out of memory");
	}
	return 1;
}

/*
 * Find the master: by pid (-P), pid file (-p), state directory (-s), or
 * the state directory of the configuration file (-c) or the default one,
 * as drover itself would choose it.
 */
static void
find(struct ctl *c, const char *pid, const char *pidfile, const char *dir,
    const char *conf)
{
	char		*confdir = NULL, buf[PATH_MAX];
	const char	*e;
	long long	 n;

	if (pid != NULL) {
		n = strtonum(pid, 1, INT_MAX, &e);
		if (e != NULL)
			ctl_fail(CTL_USAGE, "-P %s: a pid is %s", pid, e);
		ctl_find_pid(c, (pid_t)n);
	} else if (pidfile != NULL)
		ctl_find_pidfile(c, pidfile);
	else if (dir != NULL)
		ctl_find_dir(c, dir);
	else {
		if (conf != NULL && ini_parse(conf, conf_handler, &confdir) < 0)
			ctl_fail(CTL_USAGE, "cannot read %s", conf);
		if (confdir == NULL && config_default_state_dir(conf, buf,
		    sizeof(buf)) == -1)
			ctl_fail(CTL_USAGE, "no default state directory (not "
			    "root, and no XDG_RUNTIME_DIR): give -s");
		ctl_find_dir(c, confdir != NULL ? confdir : strdup(buf));
	}
}

static void
alarm_cb(int sig)
{
	(void)sig;
}

/*
 * Take the turn to send a signal that must be told apart from those of
 * other droverctl commands, waiting no longer than the deadline: an
 * flock(2) of state_dir/ctl.lock, which the master never takes.  Not of
 * the directory itself, which anybody may open and lock (and so stop
 * every reload); the file is made 0600 by the first droverctl, in a
 * directory only the master's user can write, so only whoever may
 * signal the master can take the turn.
 */
static void
turn_take(struct ctl *c)
{
	struct sigaction	 sa;
	struct itimerval	 it;
	double			 left = c->c_deadline - ctl_now();

	c->c_turnfd = openat(c->c_dirfd, "ctl.lock", O_RDONLY | O_CREAT |
	    O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (c->c_turnfd == -1 && (errno == EACCES || errno == EPERM))
		ctl_fail(CTL_NOPERM, "cannot take %s/ctl.lock (%s): run as "
		    "root or as its user", c->c_where, strerror(errno));
	if (c->c_turnfd == -1)
		ctl_fail(CTL_OSERR, "%s/ctl.lock: %s", c->c_where,
		    strerror(errno));

	if (left <= 0)
		left = 0.001;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = alarm_cb;	/* no SA_RESTART: flock ends */
	(void)sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = (time_t)left;
	it.it_value.tv_usec = (suseconds_t)((left - (time_t)left) * 1e6) + 1;
	(void)setitimer(ITIMER_REAL, &it, NULL);
	if (flock(c->c_turnfd, LOCK_EX) == -1) {
		if (errno == EINTR)
			ctl_fail(CTL_TIMEOUT, "timed out waiting for another "
			    "droverctl to be done signalling");
		ctl_fail(CTL_OSERR, "flock %s: %s", c->c_where,
		    strerror(errno));
	}
	memset(&it, 0, sizeof(it));
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

static void
turn_give(struct ctl *c)
{
	(void)flock(c->c_turnfd, LOCK_UN);
	close(c->c_turnfd);
	c->c_turnfd = -1;
}

/* The number at op.key, or -1. */
static double
member(const struct json *j, const char *op, const char *key)
{
	char	 path[64];

	(void)snprintf(path, sizeof(path), "%s.%s", op, key);
	return json_num(j, path, -1);
}

static int
stopping(const struct json *j)
{
	const char	*s = json_str(j, "state");

	return s != NULL && strcmp(s, "stopping") == 0;
}

/*
 * What ctl_wait() returned: j, or fail with why there is none, what
 * being what was waited for.
 */
static struct json *
waited(struct ctl *c, struct json *j, const char *what)
{
	if (j != NULL)
		return j;
	if (errno == ESRCH)
		ctl_fail(CTL_NOMASTER, "the master (pid %ld) exited while "
		    "waiting for %s", (long)c->c_pid, what);
	ctl_fail(CTL_TIMEOUT, "timed out after %gs waiting for %s (raise "
	    "--timeout)", timeout, what);
}

/* The master counted the request: op.requests >= o_n. */
static int
pred_counted(const struct json *j, void *arg)
{
	const struct op	*o = arg;

	return stopping(j) || member(j, o->o_name, "requests") >= o->o_n;
}

/* An operation that covers the request is over. */
static int
pred_over(const struct json *j, void *arg)
{
	const struct op	*o = arg;
	const char	*r;
	char		 path[64];

	(void)snprintf(path, sizeof(path), "%s.result", o->o_name);
	r = json_str(j, path);
	return stopping(j) || (member(j, o->o_name, "covers") >= o->o_n &&
	    member(j, o->o_name, "finished") > 0 && r != NULL &&
	    strcmp(r, "in-progress") != 0 && strcmp(r, "rolling-back") != 0);
}

/*
 * reload (SIGHUP) or upgrade (SIGUSR2), named by op: send it in turn,
 * then wait for the outcome of one that covers it (see the top of this
 * file).  0 if it took, CTL_REFUSED with the reason if not.
 */
static int
cmd_op(struct ctl *c, int sig, const char *name)
{
	struct json	*j;
	struct op	 o;
	const char	*result, *err;
	char		 what[64], buf[512];

	o.o_name = name;
	(void)snprintf(what, sizeof(what), "the %s", name);
	turn_take(c);
	if ((j = ctl_read(c)) == NULL)
		ctl_fail(CTL_NOMASTER, "%s/status.json: %s", c->c_where,
		    strerror(errno));
	if (stopping(j))
		ctl_fail(CTL_NOMASTER, "the master (pid %ld) is stopping",
		    (long)c->c_pid);
	if (member(j, name, "covers") < 0 || member(j, name, "requests") < 0)
		ctl_fail(CTL_PROTOCOL, "the status.json of pid %ld has no "
		    "%s.covers: a drover older than droverctl runs there",
		    (long)c->c_pid, name);
	o.o_n = member(j, name, "requests") + 1;
	json_free(j);
	ctl_signal(c, sig);
	j = waited(c, ctl_wait(c, pred_counted, &o), what);
	o.o_n = member(j, name, "requests");
	json_free(j);
	turn_give(c);
	j = waited(c, ctl_wait(c, pred_over, &o), what);
	if (stopping(j))
		ctl_fail(CTL_NOMASTER, "the master (pid %ld) is stopping: the "
		    "%s was not done", (long)c->c_pid, name);
	(void)snprintf(what, sizeof(what), "%s.result", name);
	result = json_str(j, what);
	(void)snprintf(what, sizeof(what), "%s.error", name);
	err = json_str(j, what);
	if (err != NULL)
		(void)text_log(buf, sizeof(buf), err, strlen(err));
	if (strcmp(result, "ok") == 0) {
		printf("%s ok: generation %.0f serves\n", name,
		    json_num(j, "generation", 0));
		json_free(j);
		return CTL_OK;
	}
	fprintf(stderr, "droverctl: %s %s%s%s; generation %.0f serves\n",
	    name, result, err != NULL ? ": " : "", err != NULL ? buf : "",
	    json_num(j, "generation", 0));
	json_free(j);
	return CTL_REFUSED;
}

/* The number of workers is no longer *arg. */
static int
pred_workers_moved(const struct json *j, void *arg)
{
	return stopping(j) || json_num(j, "workers", -1) != *(double *)arg;
}

/* *arg workers, all ready, and no retiring slot left. */
static int
pred_scaled(const struct json *j, void *arg)
{
	const struct json	*s = json_get(j, "slots");
	double			 n = *(double *)arg;

	return stopping(j) || (json_num(j, "workers", -1) == n &&
	    json_num(j, "workers_ready", -1) == n && s != NULL &&
	    s->j_type == JSON_ARRAY && s->j_n == (size_t)n);
}

/*
 * scale N: one SIGTTIN or SIGTTOU at a time until status.json wants n
 * workers, then wait until they all serve.
 */
static int
cmd_scale(struct ctl *c, int n)
{
	struct json	*j;
	double		 want = n, cur;
	int		 i;

	turn_take(c);
	for (i = 0; i <= 2 * CTL_MAX_WORKERS; i++) {
		if ((j = ctl_read(c)) == NULL)
			ctl_fail(CTL_NOMASTER, "%s/status.json: %s",
			    c->c_where, strerror(errno));
		cur = json_num(j, "workers", -1);
		if (stopping(j))
			ctl_fail(CTL_NOMASTER, "the master (pid %ld) is "
			    "stopping", (long)c->c_pid);
		json_free(j);
		if (cur < 0)
			ctl_fail(CTL_PROTOCOL, "status.json has no workers");
		if (cur == want)
			break;
		ctl_signal(c, cur < want ? SIGTTIN : SIGTTOU);
		json_free(waited(c, ctl_wait(c, pred_workers_moved, &cur),
		    "the master to change the number of workers"));
	}
	turn_give(c);
	j = waited(c, ctl_wait(c, pred_scaled, &want), "the workers");
	if (stopping(j))
		ctl_fail(CTL_NOMASTER, "the master (pid %ld) is stopping",
		    (long)c->c_pid);
	json_free(j);
	printf("scale ok: %d worker%s ready\n", n, n == 1 ? "" : "s");
	return CTL_OK;
}

/* stop: SIGTERM, and wait until the master is gone. */
static int
cmd_stop(struct ctl *c)
{
	ctl_signal(c, SIGTERM);
	ctl_wait_gone(c);
	printf("stopped: pid %ld is gone\n", (long)c->c_pid);
	return CTL_OK;
}

int
main(int argc, char *argv[])
{
	struct ctl	 c;
	struct json	*j;
	const char	*dir = NULL, *conf = NULL, *pidfile = NULL;
	const char	*pid = NULL, *cmd, *e;
	int		 ch, json = 0, n = 0;

	while ((ch = getopt_long(argc, argv, "c:s:p:P:t:jhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 's': dir = optarg; break;
		case 'p': pidfile = optarg; break;
		case 'P': pid = optarg; break;
		case 'j': json = 1; break;
		case 't':
			if (config_duration(optarg, &timeout) == -1 ||
			    timeout <= 0)
				ctl_fail(CTL_USAGE, "-t %s: not a duration "
				    "(like 500ms, 90s, 5m)", optarg);
			break;
		case 'V':
			printf("droverctl %s\n", PACKAGE_VERSION);
			return CTL_OK;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cmd = argv[0];
	if (strcmp(cmd, "scale") == 0) {
		if (argc != 2)
			usage();
		n = (int)strtonum(argv[1], 1, CTL_MAX_WORKERS, &e);
		if (e != NULL)
			ctl_fail(CTL_USAGE, "scale %s: the number of workers "
			    "is %s (1 to %d)", argv[1], e, CTL_MAX_WORKERS);
	} else if (argc != 1 || (strcmp(cmd, "status") != 0 &&
	    strcmp(cmd, "reload") != 0 && strcmp(cmd, "upgrade") != 0 &&
	    strcmp(cmd, "stop") != 0))
		usage();
	if (json && strcmp(cmd, "status") != 0)
		usage();

	memset(&c, 0, sizeof(c));
	c.c_deadline = ctl_now() + timeout;
	find(&c, pid, pidfile, dir, conf);
	if (strcmp(cmd, "reload") == 0)
		return cmd_op(&c, SIGHUP, "reload");
	if (strcmp(cmd, "upgrade") == 0)
		return cmd_op(&c, SIGUSR2, "upgrade");
	if (strcmp(cmd, "scale") == 0)
		return cmd_scale(&c, n);
	if (strcmp(cmd, "stop") == 0)
		return cmd_stop(&c);
	if ((j = ctl_read(&c)) == NULL)
		ctl_fail(errno == ENOENT ? CTL_NOMASTER : CTL_PROTOCOL,
		    "%s/status.json: %s", c.c_where, errno == EBADMSG ?
		    "not JSON" : strerror(errno));
	ctl_status(j, json);
	json_free(j);
	return CTL_OK;
}
