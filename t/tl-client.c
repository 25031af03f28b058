/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The test library's continuous client: a process of its own that makes
 * HTTP requests to a port on 127.0.0.1 until the test tells it to stop,
 * and then reports how many it made and how many failed.  Tests run it
 * across reloads, upgrades and scaling to show that no request is lost.
 * What it asks and expects, whether it keeps connections alive, whether
 * it sends a request that died on a reused connection once more, how
 * long an answer may take and at what priority it runs are options
 * (struct tl_client_opt); tl_client_start() is the common case.  It is
 * bounded in time (TL_CLIENT_MS) whatever happens to the test.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
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
/* How long an answer may take, unless the options say. */
#define TL_CLIENT_REPLY	10000
/*
 * Starting a client and stopping it may each take one answer and this
 * much more: it says it started once its first request is over, and
 * reports once the request in flight is.
 */
#define TL_CLIENT_SLACK	5000

static void	 tl_client_run(int, int, int, const struct tl_client_opt *,
		    const char *);
static const char *tl_client_request(int *, int,
		    const struct tl_client_opt *, struct tl_tally *, int *,
		    int *);

/* Fork a client with the defaults but keepalive. */
void
tl_client_start(struct tl_client *c, int port, int keepalive)
{
	struct tl_client_opt	 o;

	memset(&o, 0, sizeof(o));
	o.keepalive = keepalive;
	tl_client_start_opt(c, port, &o);
}

/*
 * Fork a client of 127.0.0.1:port that does as opt says, its defaults
 * filled in.  It says "S" once it has made its first request.
 */
void
tl_client_start_opt(struct tl_client *c, int port,
    const struct tl_client_opt *opt)
{
	struct tl_client_opt	 o = *opt;
	struct pollfd		 pfd;
	char			 ch;
	int			 ctl[2], res[2], r, fds[256], n, i;

	if (o.path == NULL)
		o.path = "/";
	if (o.body == NULL)
		o.body = "hello\n";
	if (o.reply_ms <= 0)
		o.reply_ms = TL_CLIENT_REPLY;
	c->what = o.keepalive ? "keep-alive client" : "new-connection client";
	c->wait_ms = o.reply_ms + TL_CLIENT_SLACK;
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
		if (o.nice != 0)
			(void)setpriority(PRIO_PROCESS, 0, o.nice);
		tl_client_run(ctl[0], res[1], port, &o, c->what);
		_exit(0);
	}
	close(ctl[0]);
	close(res[1]);
	c->ctl = ctl[1];
	c->res = res[0];
	pfd.fd = c->res;
	pfd.events = POLLIN;
	while ((r = poll(&pfd, 1, c->wait_ms)) == -1 && errno == EINTR)
		continue;
	if (r != 1 || read(c->res, &ch, 1) != 1 || ch != 'S')
		bail("the %s did not start", c->what);
}

/*
 * One request on *fd, as o says, connecting first if *fd is -1 (and
 * counting the connection in t): NULL if it was answered 200 with
 * exactly o->body, else why not, with errno from the call that failed.
 * *status is the answer's status (0 if none), *closehdr whether the
 * answer said "Connection: close".
 */
static const char *
tl_client_request(int *fd, int port, const struct tl_client_opt *o,
    struct tl_tally *t, int *status, int *closehdr)
{
	char	 body[256];
	int	 r;

	*status = 0;
	*closehdr = 0;
	errno = 0;
	if (*fd == -1) {
		if ((*fd = tl_connect(port)) == -1)
			return "connect";
		t->connects++;
	}
	if (tl_http_request(*fd, o->path, o->keepalive) == -1)
		return "send";
	if ((r = tl_http_response(*fd, o->reply_ms, status, body,
	    sizeof(body), closehdr)) != 0)
		return r == -2 ? "closed without an answer" : "receive";
	if (*status != 200 || strcmp(body, o->body) != 0)
		return "wrong answer";
	return NULL;
}

/*
 * The client's loop, in the child: until ctl is written to or closed (by
 * the test, or because the test died) or TL_CLIENT_MS have passed.  A
 * connection is kept only with o->keepalive, and only until a request on
 * it fails or an answer says "Connection: close".  With o->retry, a
 * request that died on a reused connection (closed or reset, not a wrong
 * answer) is sent once more on a new one.
 */
static void
tl_client_run(int ctl, int res, int port, const struct tl_client_opt *o,
    const char *what)
{
	struct pollfd	 pfd;
	struct tl_tally	 t;
	long long	 deadline = tl_now_ms() + TL_CLIENT_MS;
	int		 fd = -1, status, closehdr, said = 0, reused = 0;
	int		 tries;
	const char	*why = NULL;

	memset(&t, 0, sizeof(t));
	for (;;) {
		pfd.fd = ctl;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) != 0 || tl_now_ms() > deadline)
			break;
		for (tries = 0; tries < 2; tries++) {
			if (fd == -1)
				reused = 0;
			why = tl_client_request(&fd, port, o, &t, &status,
			    &closehdr);
			if (why == NULL || !o->retry || !reused ||
			    strcmp(why, "wrong answer") == 0 ||
			    strcmp(why, "connect") == 0)
				break;
			/* A reused connection died: once more, anew. */
			t.retries++;
			close(fd);
			fd = -1;
		}
		t.requests++;
		if (why != NULL) {
			if (strcmp(why, "closed without an answer") == 0 ||
			    errno == ECONNRESET || errno == EPIPE)
				t.dropped++;
			if (t.failures++ < TL_CLIENT_DIAGS)
				diag("%s: request %ld failed: %s (%s, status "
				    "%d)", what, t.requests, why,
				    strerror(errno), status);
		}
		if (fd != -1 && (!o->keepalive || why != NULL || closehdr)) {
			close(fd);
			fd = -1;
		}
		reused = fd != -1;
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

/*
 * Tell the client to stop and collect its tally: 0, or -1 (the tally
 * zero, the client killed) if it does not report in time.
 */
int
tl_client_stop(struct tl_client *c, struct tl_tally *t)
{
	struct pollfd	 pfd;
	ssize_t		 n = -1;
	int		 r, st;

	memset(t, 0, sizeof(*t));
	if (write(c->ctl, "x", 1) != 1)
		sysbail("write");
	close(c->ctl);
	pfd.fd = c->res;
	pfd.events = POLLIN;
	while ((r = poll(&pfd, 1, c->wait_ms)) == -1 && errno == EINTR)
		continue;
	if (r == 1)
		n = read(c->res, t, sizeof(*t));
	close(c->res);
	if (n != (ssize_t)sizeof(*t)) {
		memset(t, 0, sizeof(*t));
		diag("the %s did not report", c->what);
		kill(c->pid, SIGKILL);
	}
	while (waitpid(c->pid, &st, 0) == -1)
		if (errno != EINTR)
			sysbail("waitpid");
	return n == (ssize_t)sizeof(*t) ? 0 : -1;
}
