/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * stop_signal: a worker written for PM2 stops gracefully on SIGINT and
 * dies at once on SIGTERM.  With stop_signal = INT, reloads under
 * continuous clients whose requests are slow, so that the old worker
 * always has some in flight when it is asked to stop, lose none; each
 * generation keeps its own signal, so a reload to stop_signal = TERM
 * still stops the INT workers it replaces gracefully, and the reload
 * after it, which stops TERM workers, loses a request it had in flight
 * (one of 3 s, sent before the reload): the test can fail.
 * drover's own stop uses the signal too, and --stop-signal sets it.
 */

#include "config.h"

#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		20000
#define NCLIENTS	3

static const char	*worker;

static const char *
conf(const char *sig)
{
	return tl_fmt("listen = 127.0.0.1:0\nworkers = 1\nready = notify\n"
	    "stop_timeout = 10s\n%s%s%senv = SLOW_MS=300\n"
	    "command = python3 %s\n", sig != NULL ? "stop_signal = " : "",
	    sig != NULL ? sig : "", sig != NULL ? "\n" : "", worker);
}

/* Start the clients: slow requests, one connection each. */
static void
clients(struct tl_client *c, int port)
{
	struct tl_client_opt	 o;
	int			 i;

	memset(&o, 0, sizeof(o));
	o.path = "/slow";
	o.reply_ms = 5000;
	for (i = 0; i < NCLIENTS; i++)
		tl_client_start_opt(&c[i], port, &o);
}

/*
 * A request of 3 s sent to the one worker before a reload: connected and
 * sent, its answer read by long_done().
 */
static int
long_start(int port)
{
	int	 fd;

	if ((fd = tl_connect(port)) == -1 ||
	    tl_http_request(fd, "/slow?ms=3000", 0) == -1)
		sysbail("a request of 3s to port %d", port);
	return fd;
}

/* Whether the request on fd was answered 200 within 10 s. */
static int
long_done(int fd)
{
	char	 body[64];
	int	 status = 0, rv;

	rv = tl_http_response(fd, 10000, &status, body, sizeof(body), NULL);
	close(fd);
	return rv == 0 && status == 200;
}

/* HUP, and wait for generation gen alone on the one slot. */
static int
reload(struct tl_daemon *d, long long gen)
{
	struct tl_json	*j;

	if (tl_daemon_kill(d, SIGHUP) == -1)
		sysbail("SIGHUP to drover");
	j = tl_wait_generation(d, gen, 1, WAIT_MS);
	tl_json_free(j);
	return j != NULL;
}

/* The failed requests of the clients, stopped. */
static long
failures(struct tl_client *c, long *requests)
{
	struct tl_tally	 t;
	long		 n = 0;
	int		 i;

	*requests = 0;
	for (i = 0; i < NCLIENTS; i++) {
		if (tl_client_stop(&c[i], &t) == -1)
			return -1;
		n += t.failures;
		*requests += t.requests;
	}
	return n;
}

static void
test_reloads(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c[NCLIENTS];
	long			 nfail, nreq;
	long long		 t0;
	pid_t			 pid;
	int			 port, i, fd;

	j = tl_start_conf(&d, conf("SIGINT"), NULL, 1);
	port = tl_port(j, 0);
	tl_json_free(j);

	clients(c, port);
	fd = long_start(port);
	for (i = 0; i < 2; i++)
		ok(reload(&d, 2 + i), "INT: reload %d done", i + 1);
	ok(long_done(fd), "INT: a request of 3s in flight through the "
	    "reload was answered");
	nfail = failures(c, &nreq);
	is_int(0, nfail, "INT: no request failed in 2 reloads (%ld made)",
	    nreq);
	ok(nreq > 10, "INT: the clients made requests all along (%ld)",
	    nreq);

	/* The INT workers of generation 3 are stopped with INT still. */
	tl_conf_rewrite(&d, "%s", conf(NULL));
	clients(c, port);
	ok(reload(&d, 4), "to TERM: reload done");
	nfail = failures(c, &nreq);
	is_int(0, nfail, "to TERM: the workers of the INT generation were "
	    "stopped with SIGINT: no request failed (%ld made)", nreq);

	/* Now TERM workers are replaced: SIGTERM kills them mid-request. */
	fd = long_start(port);
	ok(reload(&d, 5), "TERM: reload done");
	ok(!long_done(fd), "TERM: the request of 3s in flight when the "
	    "worker got SIGTERM was lost: without stop_signal the test "
	    "fails");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "TERM: drover stops");

	/* --stop-signal, and drover's own stop with it. */
	j = tl_start_conf(&d, conf(NULL), (const char *const []){
	    "--stop-signal", "INT", NULL }, 1);
	pid = (pid_t)tl_json_int(j, "slots.0.pid", 0);
	port = tl_port(j, 0);
	tl_json_free(j);
	clients(c, port);
	tl_pause_ms(100);
	t0 = tl_now_ms();
	if (tl_daemon_kill(&d, SIGTERM) == -1)
		sysbail("SIGTERM to drover");
	is_int(0, tl_daemon_wait(&d, WAIT_MS), "--stop-signal INT: drover "
	    "stops with status 0");
	nfail = failures(c, &nreq);
	ok(tl_now_ms() - t0 < 5000 && tl_wait_pid_gone(pid, WAIT_MS) == 0,
	    "--stop-signal INT: the worker finished in time");
	ok(nfail > 0 || nreq > 0, "--stop-signal INT: clients ran");
	is_int(0, tl_log_count(&d, "SIGKILL"), "--stop-signal INT: no "
	    "worker needed SIGKILL");
	is_int(0, tl_log_count(&d, "killed by"), "--stop-signal INT: the "
	    "worker exited by itself, not by a signal");
}

/* A name that is not a signal drover sends is refused, naming the line. */
static void
test_bad(void)
{
	const char	*f;
	char		*out = NULL;
	int		 rc;

	f = tl_conf_file("listen = 127.0.0.1:0\nstop_signal = KILL\n"
	    "command = /bin/true\n");
	rc = tl_run((const char *const []){ tl_path("supervisor/drover"),
	    "-n", "-c", f, NULL }, WAIT_MS, &out);
	is_int(78, rc, "bad: stop_signal = KILL: exit 78");
	ok(out != NULL && strstr(out, ":2: stop_signal = KILL: must be "
	    "TERM, INT") != NULL, "bad: the message names the line and the "
	    "signals allowed");
	free(out);
	rc = tl_run((const char *const []){ tl_path("supervisor/drover"),
	    "-n", "--stop-signal", "SIGQUIT", "-l", "127.0.0.1:0", "--",
	    "/bin/true", NULL }, WAIT_MS, &out);
	ok(rc == 0 && out != NULL && strstr(out, "stop_signal = QUIT\n") !=
	    NULL, "-n shows --stop-signal SIGQUIT as stop_signal = QUIT");
	free(out);
}

int
main(void)
{
	plan_lazy();
	signal(SIGPIPE, SIG_IGN);
	if (!tl_in_path("python3")) {
		skip_all("python3 is not in PATH");
		return 0;
	}
	worker = tl_srcpath("t/apps/slow_worker.py");
	test_bad();
	test_reloads();
	return 0;
}
