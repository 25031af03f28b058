/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * gunicorn and uvicorn from Debian, unchanged, under drover, each serving
 * a small application of ours (t/apps): gunicorn finds the inherited
 * socket itself (it reads LISTEN_FDS when LISTEN_PID is its own pid, and
 * ignores --bind then) and says READY=1 on NOTIFY_SOCKET, so it runs with
 * --ready notify; uvicorn is told --fd 3 and says nothing, so it runs
 * with --ready exec (a connection that arrives before it accepts waits in
 * the slot's socket).  For each: every worker serves; ten reloads under
 * two continuous clients (one connection per request, and keep-alive)
 * cost no request (uvicorn: see main()); a stop lets a request in flight
 * (held by the test until the server has taken SIGTERM) finish with its
 * answer, and ends without SIGKILL.  The Debian packages gunicorn and
 * python3-uvicorn must be installed (build-aux/install-deps does): their
 * absence fails the test.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		60000	/* interpreters start slowly on a busy host */
#define NRELOADS	10
#define MIN_REQUESTS	100
#define NPROBES		200
#define NSLOTS		2
#define STOP_MS		20000	/* --stop-timeout 20s */
/*
 * The clients wait this long for an answer: a request that waits in a
 * slot's queue for a worker still starting (uvicorn, ready = exec), on a
 * loaded two-core machine, is slow, not lost.  They run at nice
 * CLIENT_NICE so as not to starve that worker.
 */
#define REPLY_MS	30000
#define CLIENT_NICE	5

struct server {
	const char	*name;
	const char	*ready;		/* --ready */
	const char	*signalled;	/* its log line on SIGTERM */
	int		 closehdr;	/* its last answer says so */
	int		 retry;		/* the keep-alive client's retry */
	int		 dropped;	/* connections it may drop, at most */
	const char	*argv[12];	/* the command after -- */
};

static int	 wait_readable(int, int);
static void	 test_server(const struct server *);

/* Wait until fd is readable: 0, or -1 at the deadline. */
static int
wait_readable(int fd, int timeout_ms)
{
	struct pollfd	 pfd;
	int		 r;

	pfd.fd = fd;
	pfd.events = POLLIN;
	while ((r = poll(&pfd, 1, timeout_ms)) == -1 && errno == EINTR)
		continue;
	return r == 1 ? 0 : -1;
}

static void
test_server(const struct server *sv)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c[2];
	struct tl_client_opt	 o = { .path = "/", .body = "hello\n",
				    .reply_ms = REPLY_MS, .nice = CLIENT_NICE };
	const char		*argv[24], *what = sv->name, *mark, *gate;
	pid_t			 pids[NSLOTS];
	long long		 t0;
	int			 seen[NSLOTS] = { 0, 0 }, i, k, n, port, fd;
	int			 status, closehdr, rv, mfd, n0;
	char			 body[256], x;

	n = 0;
	argv[n++] = "-w";
	argv[n++] = "2";
	argv[n++] = "-l";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--ready";
	argv[n++] = sv->ready;
	argv[n++] = "--stop-timeout";
	argv[n++] = "20s";
	argv[n++] = "--";
	for (i = 0; sv->argv[i] != NULL; i++)
		argv[n++] = sv->argv[i];
	argv[n] = NULL;
	j = tl_start_wait(&d, argv, WAIT_MS);
	if (!ok(j != NULL, "%s: both workers are ready (--ready %s)", what,
	    sv->ready))
		return;
	port = tl_port(j, 0);
	tl_pids(j, pids, NSLOTS);
	tl_json_free(j);

	/* Which worker answered: the app says its pid and its parent's. */
	for (i = 0, n = 0; i < NPROBES && n < NSLOTS; i++) {
		long long	 pid = -1, ppid = -1;

		if (tl_http_get(port, "/pid", &status, body, sizeof(body)) ==
		    -1 || status != 200 ||
		    sscanf(body, "%lld %lld", &pid, &ppid) != 2)
			break;
		for (k = 0; k < NSLOTS; k++)
			if ((pids[k] == pid || pids[k] == ppid) && !seen[k]) {
				seen[k] = 1;
				n++;
			}
	}
	ok(n == NSLOTS, "%s: both workers answer (%d requests)", what, i);

	tl_client_start_opt(&c[0], port, &o);
	o.keepalive = 1;
	o.retry = sv->retry;
	tl_client_start_opt(&c[1], port, &o);
	is_int(NRELOADS, tl_reloads(&d, NRELOADS, NSLOTS, WAIT_MS), "%s: %d "
	    "reloads, each to the next generation", what, NRELOADS);
	/* The new-connection client may lose sv->dropped: see main(). */
	tl_check_client(&c[0], NULL, what, MIN_REQUESTS, sv->dropped);
	tl_check_client(&c[1], NULL, what, MIN_REQUESTS, 0);

	/* A request in flight when drover stops. */
	j = tl_status(&d);
	tl_pids(j, pids, NSLOTS);
	tl_json_free(j);
	mark = tl_fifo_new(tl_tmpdir(), tl_fmt("%s-mark", what));
	gate = tl_fifo_new(tl_tmpdir(), tl_fmt("%s-gate", what));
	if ((mfd = open(mark, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		sysbail("open %s", mark);
	if ((fd = tl_connect(port)) == -1 ||
	    tl_http_request(fd, tl_fmt("/gate?mark=%s&gate=%s", mark, gate),
	    1) == -1)
		sysbail("request");
	ok(wait_readable(mfd, WAIT_MS) == 0 && read(mfd, &x, 1) == 1,
	    "%s: a request is being handled", what);
	close(mfd);
	/* The workers the reloads stopped wrote the line already. */
	n0 = tl_log_count(&d, sv->signalled);
	t0 = tl_now_ms();
	if (tl_daemon_kill(&d, SIGTERM) == -1)
		sysbail("SIGTERM");
	is_int(0, tl_wait_log_count(&d, sv->signalled, n0 + NSLOTS, WAIT_MS),
	    "%s: both workers have taken SIGTERM (\"%s\" in the log %d "
	    "times more)", what, sv->signalled, NSLOTS);
	tl_fifo_release(gate);
	rv = tl_http_response(fd, WAIT_MS, &status, body, sizeof(body),
	    &closehdr);
	ok(rv == 0 && status == 200 && strcmp(body, "released\n") == 0,
	    "%s: the request in flight is answered", what);
	if (sv->closehdr)
		ok(rv == 0 && closehdr, "%s: with Connection: close", what);
	is_int(-2, tl_http_response(fd, 5000, NULL, NULL, 0, NULL),
	    "%s: then its connection is closed cleanly", what);
	close(fd);
	tl_check_stopped(&d, what, t0, STOP_MS, pids, NSLOTS, WAIT_MS);
}

int
main(void)
{
	/*
	 * gunicorn (sync workers) loses nothing.  uvicorn 0.17 (Debian 12)
	 * closes, when it stops, every connection that is not in the middle
	 * of a request (Server.shutdown, H11Protocol.shutdown): a kept-alive
	 * connection on which the client is sending its next request is
	 * closed under it, and a connection it has accepted but not served
	 * yet is closed or reset.  Clients send a request that died on a
	 * reused connection again (retry); on a new connection it is
	 * lost, at most once per stopped uvicorn here (20: two workers, ten
	 * reloads).  drover(8) cannot help it: the server closes them.
	 */
	struct server	 gunicorn = { "gunicorn", "notify",
			    "Handling signal: term", 1, 0, 0, {
			    "/usr/bin/gunicorn", "--workers", "1", "--chdir",
			    NULL, "wsgi_hello:app", NULL } };
	struct server	 uvicorn = { "uvicorn", "exec", "Shutting down", 0,
			    1, NRELOADS * NSLOTS, { "/usr/bin/python3",
			    "-m", "uvicorn", "--no-access-log", "--fd", "3",
			    "--app-dir", NULL, "asgi_hello:app", NULL } };
	const char	*apps = tl_srcpath("t/apps");
	int		 have;

	plan_lazy();
	signal(SIGPIPE, SIG_IGN);
	gunicorn.argv[4] = apps;
	uvicorn.argv[7] = apps;
	have = ok(access("/usr/bin/gunicorn", X_OK) == 0, "gunicorn is "
	    "installed");
	have &= ok(access("/usr/lib/python3/dist-packages/uvicorn/"
	    "__main__.py", R_OK) == 0, "uvicorn is installed");
	if (!have)
		bail("the Debian packages gunicorn and python3-uvicorn are "
		    "needed; build-aux/install-deps installs them");
	test_server(&gunicorn);
	test_server(&uvicorn);
	return 0;
}
