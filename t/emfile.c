/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The master out of descriptors (RLIMIT_NOFILE), at every point where it
 * opens one.
 *
 *  - At start, with every limit from 4 descriptors up to where none is
 *    missing: drover either exits 71 with one line that names what it
 *    could not open and why (never an abort, as libev's own when it
 *    cannot make its signal pipe), or runs, says which slot cannot get a
 *    worker, and gets every slot ready once the limit is raised under it
 *    (prlimit(2)), with no signal; a request made meanwhile is answered.
 *  - On TTIN and on a reload, with 0 to 7 descriptors to spare, plain
 *    and with output = prefix and a health endpoint (more to open): the
 *    workers serving are not disturbed (the same pids, a continuous
 *    client that sees no failure), the log says what failed, and once
 *    descriptors are back drover settles, with as many descriptors as
 *    before: none is lost on a path that failed half way.
 *
 * t/engine.t checks what the engine decides out of descriptors (a TTIN
 * refused, a reload rolled back, retried with a doubling delay).
 */

#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		20000
#define EMFILE_MSG	"Too many open files"
#define MAXFD		256
/* Quick retries and rollbacks, never failed for good. */
#define CONF		"workers = 2\nlisten = 127.0.0.1:0\n" \
			"restart_delay = 20ms\nrestart_delay_max = 200ms\n" \
			"restart_budget = 10000\nreload_retries = 2\n" \
			"reload_grace = 50ms\ncommand = %s\n"
/* One listen address, and what follows. */
#define CONF2		"workers = 2\nlisten = 127.0.0.1:0\ncommand = %s\n%s"

enum start_how {
	START_EXIT,
	START_SHORT,
	START_OK,
	START_BAD
};

static enum start_how start_limited(int);
static void	 test_start(void);
static int	 nfds(pid_t);
static int	 pred_settled(const struct tl_json *, void *);
static struct tl_json *settled(struct tl_daemon *, int);
static int	 pred_taken(const struct tl_json *, void *);
static void	 test_signals(const char *, const char *);
static void	 test_new_address(void);

static const char	*hello;

/*
 * How many descriptors pid has open, or -1; but for /dev/null: the
 * master keeps one spare (status.c), which it spends on a state file
 * when out of descriptors and opens again at the next write, whenever
 * that is.
 */
static int
nfds(pid_t pid)
{
	char	 path[64], to[64];
	ssize_t	 len;
	int	 fds[MAXFD], n, i, k;

	if ((n = tl_fd_list(pid, fds, MAXFD)) == -1)
		return -1;
	for (i = k = 0; i < n; i++) {
		(void)snprintf(path, sizeof(path), "/proc/%ld/fd/%d",
		    (long)pid, fds[i]);
		len = readlink(path, to, sizeof(to) - 1);
		to[len > 0 ? len : 0] = '\0';
		k += strcmp(to, "/dev/null") != 0;
	}
	return k;
}

/*
 * Start drover with 2 workers and a limit of k descriptors.  Returns
 * what happened: START_EXIT, it exited 71 with one line that says what it
 * could not open, promising no retry; START_SHORT, it ran short of
 * descriptors, said so, and once the limit was raised under it got ready
 * and answered the request made meanwhile; START_OK, the same with no
 * descriptor missing; START_BAD, anything else.
 */
static enum start_how
start_limited(int k)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct rlimit		 rl;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", hello, NULL };
	const char		*asan = getenv("ASAN_OPTIONS");
	char			*log, *nl;
	int			 rc, fd, status, missing;
	enum start_how		 how = START_BAD;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || setenv("TL_DAEMON_WRAPPER",
	    tl_fmt("prlimit --nofile=%d:", k), 1) == -1)
		sysbail("getrlimit or setenv");
	/* LeakSanitizer needs descriptors of its own to look at exit. */
	if (asan != NULL && setenv("ASAN_OPTIONS", tl_fmt("%s:detect_leaks=0",
	    asan), 1) == -1)
		sysbail("setenv");
	tl_start(&d, argv, 0);
	(void)unsetenv("TL_DAEMON_WRAPPER");
	if (asan != NULL && setenv("ASAN_OPTIONS", asan, 1) == -1)
		sysbail("setenv");
	if (tl_wait_log(&d, "started:", WAIT_MS) == -1) {
		rc = tl_daemon_wait(&d, WAIT_MS);
		log = tl_slurp(d.log);
		nl = log != NULL ? strchr(log, '\n') : NULL;
		if (rc == 71 && nl != NULL && nl[1] == '\0' &&
		    strstr(log, EMFILE_MSG) != NULL &&
		    strstr(log, "trying again") == NULL)
			how = START_EXIT;
		else
			diag("%d descriptors: drover exited %d: %s", k, rc,
			    log != NULL ? log : "no log");
		free(log);
		return how;
	}
	j = TL_WAIT(&d, WAIT_MS, TL_MIN("listeners.0.port", 1));
	if (j == NULL || (fd = tl_connect(tl_port(j, 0))) == -1 ||
	    tl_http_request(fd, "/", 0) == -1)
		bail("%d descriptors: cannot connect to drover", k);
	tl_json_free(j);
	tl_fd_restore(d.pid, &rl);
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	missing = tl_log_count(&d, EMFILE_MSG) > 0;
	if (j != NULL && tl_http_response(fd, WAIT_MS, &status, NULL, 0,
	    NULL) == 0 && status == 200 && tl_daemon_stop(&d, WAIT_MS) == 0)
		how = missing ? START_SHORT : START_OK;
	else
		diag("%d descriptors: drover did not get ready, or serve, or "
		    "stop, after the limit was raised", k);
	close(fd);
	tl_json_free(j);
	return how;
}

/*
 * At start, every limit from 4 descriptors (ld.so needs some) to two
 * beyond the last one drover was short of.
 */
static void
test_start(void)
{
	int		 k, n[4] = { 0 }, quiet = 0;
	enum start_how	 how;

	if (getenv("TL_DAEMON_WRAPPER") != NULL &&
	    *getenv("TL_DAEMON_WRAPPER") != '\0') {
		skip("start: a wrapper needs descriptors of its own");
		return;
	}
	for (k = 4; k < 64 && quiet < 2; k++) {
		how = start_limited(k);
		n[how]++;
		quiet = how == START_OK ? quiet + 1 : 0;
	}
	diag("start, 4 to %d descriptors: %d exits, %d short then ready, %d "
	    "with enough, %d wrong", k - 1, n[START_EXIT], n[START_SHORT],
	    n[START_OK], n[START_BAD]);
	ok(n[START_BAD] == 0 && n[START_EXIT] > 0 && n[START_SHORT] > 0,
	    "start, 4 to %d descriptors: each time drover exits 71 with one "
	    "line that says what it lacked, or runs, says which slot lacks "
	    "them, and serves once the limit is raised under it", k - 1);
}

/*
 * Settled on n ready slots, each with a worker of the current
 * generation and no old one, nothing under way.
 */
static int
pred_settled(const struct tl_json *j, void *arg)
{
	const char	*s;
	int		 n = *(int *)arg;

	s = tl_json_str(j, "reload.result");
	return tl_json_int(j, "workers", -1) == n && (s == NULL ||
	    (strcmp(s, "in-progress") != 0 && strcmp(s, "rolling-back") !=
	    0)) && tl_runs_alone(j, tl_json_int(j, "generation", -1), n);
}

static struct tl_json *
settled(struct tl_daemon *d, int n)
{
	return tl_status_wait(d, pred_settled, &n, WAIT_MS);
}

/* What pred_taken waits for: the master has acted on a signal. */
struct taken {
	struct tl_daemon	*t_d;
	int			 t_emfile;	/* EMFILE lines, or -1 */
	long long		 t_hups;	/* reload.requests before */
};

/*
 * After a TTIN: a third slot, or the log says none could be added; after
 * a HUP: the reload is over, or (unless t_emfile is -1) three more
 * failures were logged.
 */
static int
pred_taken(const struct tl_json *j, void *arg)
{
	struct taken	*t = arg;
	const char	*s = tl_json_str(j, "reload.result");
	int		 emfile = tl_log_count(t->t_d, EMFILE_MSG);

	if (t->t_hups < 0)
		return tl_json_int(j, "workers", 0) == 3 ||
		    tl_log_count(t->t_d, "cannot add") > 0;
	return tl_json_int(j, "reload.requests", 0) > t->t_hups &&
	    ((t->t_emfile >= 0 && emfile >= t->t_emfile + 3) || (s != NULL &&
	    strcmp(s, "in-progress") != 0 && strcmp(s, "rolling-back") != 0));
}

/*
 * TTIN, then HUP, each with extra descriptors to spare, for extra from 0
 * to 7, under a continuous client, with more configuration.
 */
static void
test_signals(const char *what, const char *more)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	struct taken		 t;
	struct rlimit		 old;
	pid_t			 p[2];
	int			 base, extra, same = 0, back = 0, n;

	j = tl_start_conf(&d, tl_fmt(CONF "%s", hello, more), NULL, 1);
	tl_client_start(&c, tl_port(j, 0), 0);
	tl_json_free(j);
	base = nfds(d.pid);
	t.t_d = &d;
	for (extra = 0; extra <= 7; extra++) {
		j = settled(&d, 2);
		tl_pids(j, p, 2);
		tl_json_free(j);

		/* TTIN: the slot's sockets, then its worker's channels. */
		t.t_hups = -1;
		n = tl_log_count(&d, "cannot add");
		tl_fd_starve(d.pid, extra, &old);
		tl_daemon_kill(&d, SIGTTIN);
		j = tl_status_wait(&d, pred_taken, &t, WAIT_MS);
		tl_json_free(j);
		tl_fd_restore(d.pid, &old);
		if (tl_log_count(&d, "cannot add") == n) {
			j = settled(&d, 3);
			tl_json_free(j);
			tl_daemon_kill(&d, SIGTTOU);
		}
		j = settled(&d, 2);
		if (j != NULL && tl_json_int(j, "slots.0.pid", 0) == p[0] &&
		    tl_json_int(j, "slots.1.pid", 0) == p[1])
			same++;
		else
			diag("%s, TTIN with %d to spare: slots 0 and 1 "
			    "changed", what, extra);
		tl_json_free(j);
		if (nfds(d.pid) == base)
			back++;
		else
			diag("%s, TTIN with %d to spare: %d descriptors, "
			    "not %d", what, extra, nfds(d.pid), base);

		/* HUP: the file, then each new worker. */
		j = tl_status(&d);
		t.t_hups = tl_json_int(j, "reload.requests", 0);
		t.t_emfile = tl_log_count(&d, EMFILE_MSG);
		tl_json_free(j);
		tl_fd_starve(d.pid, extra, &old);
		tl_daemon_kill(&d, SIGHUP);
		j = tl_status_wait(&d, pred_taken, &t, WAIT_MS);
		tl_json_free(j);
		tl_fd_restore(d.pid, &old);
		j = settled(&d, 2);
		tl_check_true(&d, j, tl_fmt("%s, HUP with %d to spare (%s)",
		    what, extra, j != NULL ? tl_json_str(j, "reload.result") :
		    "?"), 0);
		tl_json_free(j);
		if (nfds(d.pid) == base)
			back++;
		else
			diag("%s, HUP with %d to spare: %d descriptors, "
			    "not %d", what, extra, nfds(d.pid), base);
	}
	is_int(8, same, "%s, TTIN with 0 to 7 descriptors to spare: the "
	    "workers serving are the same each time", what);
	is_int(16, back, "%s, TTIN and HUP with 0 to 7 descriptors to "
	    "spare: the master has its %d descriptors again each time", what,
	    base);
	ok(tl_log_count(&d, EMFILE_MSG) > 0, "%s: the log says what could "
	    "not be opened (%d lines)", what, tl_log_count(&d, EMFILE_MSG));
	tl_check_client(&c, NULL, what, 10, 0);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "%s: drover stops with status "
	    "0", what);
}

/*
 * A reload that adds a listen address, short of descriptors for its
 * sockets or its workers (0 to 3 to spare): it fails or rolls back,
 * says why, the old generation serves on, and nothing it opened or
 * allocated is left (the sanitizer
 * build's LeakSanitizer checks the latter at drover's exit).  With the
 * descriptors back, the address is added.
 */
static void
test_new_address(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct rlimit		 old;
	struct taken		 t;
	const char		*s;
	long long		 hups;
	pid_t			 p[2];
	int			 base, extra, good = 0;

	j = tl_start_conf(&d, tl_fmt(CONF2, hello, ""), NULL, 1);
	tl_pids(j, p, 2);
	tl_json_free(j);
	base = nfds(d.pid);
	tl_conf_rewrite(&d, CONF2, hello, "listen = 127.0.0.1:0\n");
	for (extra = 0; extra <= 3; extra++) {
		j = tl_status(&d);
		hups = tl_json_int(j, "reload.requests", 0);
		tl_json_free(j);
		tl_fd_starve(d.pid, extra, &old);
		tl_daemon_kill(&d, SIGHUP);
		t.t_d = &d;
		t.t_hups = hups;
		t.t_emfile = -1;
		j = tl_status_wait(&d, pred_taken, &t, WAIT_MS);
		tl_fd_restore(d.pid, &old);
		s = j != NULL && tl_json_str(j, "reload.error") != NULL ?
		    tl_fmt("%s", tl_json_str(j, "reload.error")) : NULL;
		tl_json_free(j);
		j = settled(&d, 2);
		if (s != NULL && tl_json_int(j, "generation", 0) == 1 &&
		    tl_json_int(j, "slots.0.pid", 0) == p[0] &&
		    tl_json_int(j, "slots.1.pid", 0) == p[1] &&
		    nfds(d.pid) == base)
			good++;
		else
			diag("new address, %d to spare: %s, %d descriptors",
			    extra, s != NULL ? s : "no error", nfds(d.pid));
		tl_json_free(j);
	}
	is_int(4, good, "new address, 0 to 3 descriptors to spare: the "
	    "reload fails or rolls back and says why, the same workers serve, "
	    "the master has its %d descriptors", base);
	tl_daemon_kill(&d, SIGHUP);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("reload.result", "ok"));
	tl_json_free(j);
	j = settled(&d, 2);
	ok(j != NULL && tl_json_len(j, "listeners") == 2, "new address: with "
	    "descriptors back, the reload adds it");
	tl_check_true(&d, j, "new address", 0);
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "new address: drover stops "
	    "with status 0 (and, sanitized, nothing leaked)");
}

int
main(void)
{
	plan_lazy();
	hello = tl_path("examples/hello-c/hello-c");
	test_start();
	test_signals("plain", "");
	test_signals("output = prefix, health", "output = prefix\n"
	    "health = 127.0.0.1:0\n");
	test_new_address();
	return 0;
}
