/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The test library's continuous client: a process of its own that makes
 * HTTP requests to a port on 127.0.0.1 until the test tells it to stop,
 * and then reports how many it made and how many failed.  Tests run it
 * across reloads, upgrades and scaling to show that no request is lost.
 * It is bounded in time (TL_CLIENT_MS) whatever happens to the test.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

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

/* A client gives up by itself after this long, whatever happens. */
#define TL_CLIENT_MS	120000
/* Failed requests a client describes (it counts them all). */
#define TL_CLIENT_DIAGS	5
/* How long starting and stopping a client may take. */
#define TL_CLIENT_WAIT	10000

static void	 tl_client_run(int, int, int, int, const char *);

/*
 * Fork a client of 127.0.0.1:port: one new connection per GET / or, if
 * keepalive, GETs on one connection for as long as the server keeps it.
 * It says "S" once it has made its first request.
 */
void
tl_client_start(struct tl_client *c, int port, int keepalive)
{
	struct pollfd	 pfd;
	char		 ch;
	int		 ctl[2], res[2], r, fds[256], n, i;

	c->what = keepalive ? "keep-alive client" : "new-connection client";
	if (pipe2(ctl, O_CLOEXEC) == -1 || pipe2(res, O_CLOEXEC) == -1)
		sysbail("pipe2");
	fflush(NULL);
	if ((c->pid = fork()) == -1)
		sysbail("fork");
	if (c->pid == 0) {
		/*
		 * Keep only our two pipe ends: a copy of another client's
		 * control pipe held here would keep that client from seeing
		 * the test close it.
		 */
		if ((n = tl_fd_list(getpid(), fds, 256)) == -1)
			_exit(1);
		for (i = 0; i < n; i++)
			if (fds[i] > 2 && fds[i] != ctl[0] && fds[i] != res[1])
				close(fds[i]);
		tl_client_run(ctl[0], res[1], port, keepalive, c->what);
		_exit(0);
	}
	close(ctl[0]);
	close(res[1]);
	c->ctl = ctl[1];
	c->res = res[0];
	pfd.fd = c->res;
	pfd.events = POLLIN;
	while ((r = poll(&pfd, 1, TL_CLIENT_WAIT)) == -1 && errno == EINTR)
		continue;
	if (r != 1 || read(c->res, &ch, 1) != 1 || ch != 'S')
		bail("the %s did not start", c->what);
}

/*
 * The client's loop, in the child: until ctl is written to or closed (by
 * the test, or because the test died) or TL_CLIENT_MS have passed.  A
 * request fails when the connection cannot be made, is reset or closed
 * without an answer, or the answer is not "200 hello".  On a keep-alive
 * connection an answer with "Connection: close" is no failure: the
 * client reconnects, as clients must.
 */
static void
tl_client_run(int ctl, int res, int port, int keepalive, const char *what)
{
	struct pollfd	 pfd;
	struct tl_tally	 t;
	long long	 deadline = tl_now_ms() + TL_CLIENT_MS;
	char		 body[64];
	int		 fd = -1, status, closehdr, r, said = 0;
	const char	*why;

	memset(&t, 0, sizeof(t));
	for (;;) {
		pfd.fd = ctl;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) != 0 || tl_now_ms() > deadline)
			break;
		why = NULL;
		status = 0;
		closehdr = 0;
		if (fd == -1) {
			if ((fd = tl_connect(port)) == -1)
				why = "connect";
			else
				t.connects++;
		}
		if (why == NULL && tl_http_request(fd, "/", keepalive) == -1)
			why = "send";
		if (why == NULL && (r = tl_http_response(fd, 10000, &status,
		    body, sizeof(body), &closehdr)) != 0)
			why = r == -2 ? "closed without an answer" : "receive";
		if (why == NULL && (status != 200 ||
		    strcmp(body, "hello\n") != 0))
			why = "wrong answer";
		t.requests++;
		if (why != NULL) {
			if (t.failures++ < TL_CLIENT_DIAGS)
				diag("%s: request %ld failed: %s (%s, status "
				    "%d)", what, t.requests, why,
				    strerror(errno), status);
		}
		if (fd != -1 && (!keepalive || why != NULL || closehdr)) {
			close(fd);
			fd = -1;
		}
		if (!said) {
			said = 1;
			if (write(res, "S", 1) != 1)
				_exit(1);
		}
	}
	if (fd != -1)
		close(fd);
	if (write(res, &t, sizeof(t)) != (ssize_t)sizeof(t))
		_exit(1);
}

/* Tell the client to stop and collect its tally: 0, or -1. */
int
tl_client_stop(struct tl_client *c, struct tl_tally *t)
{
	struct pollfd	 pfd;
	ssize_t		 n = -1;
	int		 r, st;

	if (write(c->ctl, "x", 1) != 1)
		sysbail("write");
	close(c->ctl);
	pfd.fd = c->res;
	pfd.events = POLLIN;
	while ((r = poll(&pfd, 1, TL_CLIENT_WAIT)) == -1 && errno == EINTR)
		continue;
	if (r == 1)
		n = read(c->res, t, sizeof(*t));
	close(c->res);
	if (n != (ssize_t)sizeof(*t)) {
		diag("the %s did not report", c->what);
		kill(c->pid, SIGKILL);
	}
	while (waitpid(c->pid, &st, 0) == -1)
		if (errno != EINTR)
			sysbail("waitpid");
	return n == (ssize_t)sizeof(*t) ? 0 : -1;
}

