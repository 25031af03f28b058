/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The client processes, the who-served-it lookup and the reload wait of
 * load.h, for the tests of foreign servers under drover.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "tap.h"
#include "testlib.h"

#define LD_START_MS	15000	/* a client makes its first request */
#define LD_CLIENT_MS	120000	/* a client stops by itself after this */
/*
 * One answer may take this long: a request that waits in a slot's queue
 * for a worker that is still starting, on a loaded two-core machine,
 * is slow, not lost.
 */
#define LD_REPLY_MS	30000
#define LD_DIAGS	5	/* failed requests a client describes */

struct ld_settle {
	long long	 gen;
	int		 nslots;
};

static void	 ld_client_run(int, int, int, const char *, const char *,
		    int, const char *);
static int	 ld_pred_generation(const struct tl_json *, void *);
static unsigned long ld_peer_inode(int);

/*
 * The client's loop, in the child: until ctl is written to or closed (by
 * the test, or because the test died) or LD_CLIENT_MS have passed.
 */
static void
ld_client_run(int ctl, int res, int port, const char *path, const char *want,
    int flags, const char *what)
{
	struct pollfd	 pfd;
	struct ld_tally	 t;
	long long	 deadline = tl_now_ms() + LD_CLIENT_MS;
	char		 body[256];
	int		 fd = -1, status, closehdr, r, said = 0, reused = 0;
	int		 tries, keepalive = flags & LD_KEEPALIVE;
	const char	*why;

	memset(&t, 0, sizeof(t));
	for (;;) {
		pfd.fd = ctl;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) != 0 || tl_now_ms() > deadline)
			break;
		for (tries = 0; tries < 2; tries++) {
			why = NULL;
			status = 0;
			closehdr = 0;
			errno = 0;
			if (fd == -1) {
				reused = 0;
				if ((fd = tl_connect(port)) == -1)
					why = "connect";
				else
					t.t_connects++;
			}
			if (why == NULL &&
			    tl_http_request(fd, path, keepalive) == -1)
				why = "send";
			if (why == NULL && (r = tl_http_response(fd,
			    LD_REPLY_MS, &status, body, sizeof(body),
			    &closehdr)) != 0)
				why = r == -2 ? "closed without an answer" :
				    "receive";
			if (why == NULL && (status != 200 ||
			    strcmp(body, want) != 0))
				why = "wrong answer";
			if (why == NULL || !(flags & LD_RETRY) || !reused ||
			    strcmp(why, "wrong answer") == 0 ||
			    strcmp(why, "connect") == 0)
				break;
			/* A reused connection died: once more, anew. */
			t.t_retries++;
			close(fd);
			fd = -1;
		}
		t.t_requests++;
		if (why != NULL) {
			if (strcmp(why, "closed without an answer") == 0 ||
			    errno == ECONNRESET || errno == EPIPE)
				t.t_dropped++;
			if (t.t_failures++ < LD_DIAGS)
				diag("%s: request %ld failed: %s (%s, status "
				    "%d)", what, t.t_requests, why,
				    strerror(errno), status);
		}
		if (fd != -1 && (!keepalive || why != NULL || closehdr)) {
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

void
ld_client_start(struct ld_client *c, int port, const char *path,
    const char *want, int flags)
{
	struct pollfd	 pfd;
	char		 ch;
	int		 ctl[2], res[2], r, fds[256], n, i;

	c->c_what = flags & LD_KEEPALIVE ? "keep-alive client" :
	    "new-connection client";
	if (pipe2(ctl, O_CLOEXEC) == -1 || pipe2(res, O_CLOEXEC) == -1)
		sysbail("pipe2");
	fflush(NULL);
	if ((c->c_pid = fork()) == -1)
		sysbail("fork");
	if (c->c_pid == 0) {
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
		/*
		 * A client in a tight loop must not starve what it tests: a
		 * worker that starts during a reload (Node.js needs half a
		 * second of CPU) on a two-core CI machine that runs two
		 * tests at once.
		 */
		(void)setpriority(PRIO_PROCESS, 0, 5);
		ld_client_run(ctl[0], res[1], port, path, want, flags,
		    c->c_what);
		_exit(0);
	}
	close(ctl[0]);
	close(res[1]);
	c->c_ctl = ctl[1];
	c->c_res = res[0];
	pfd.fd = c->c_res;
	pfd.events = POLLIN;
	while ((r = poll(&pfd, 1, LD_START_MS)) == -1 && errno == EINTR)
		continue;
	if (r != 1 || read(c->c_res, &ch, 1) != 1 || ch != 'S')
		bail("the %s did not start", c->c_what);
}

int
ld_client_stop(struct ld_client *c, struct ld_tally *t)
{
	struct pollfd	 pfd;
	ssize_t		 n = -1;
	int		 r, st;

	if (write(c->c_ctl, "x", 1) != 1)
		sysbail("write");
	close(c->c_ctl);
	pfd.fd = c->c_res;
	pfd.events = POLLIN;
	while ((r = poll(&pfd, 1, LD_REPLY_MS + 5000)) == -1 && errno == EINTR)
		continue;
	if (r == 1)
		n = read(c->c_res, t, sizeof(*t));
	close(c->c_res);
	if (n != (ssize_t)sizeof(*t)) {
		diag("the %s did not report", c->c_what);
		kill(c->c_pid, SIGKILL);
	}
	while (waitpid(c->c_pid, &st, 0) == -1)
		if (errno != EINTR)
			sysbail("waitpid");
	return n == (ssize_t)sizeof(*t) ? 0 : -1;
}

/*
 * The inode of the server's end of connected socket fd, asked of the
 * kernel by its four addresses (sock_diag(7), one exact lookup; reading
 * /proc/net/tcp would cost a walk of every connection, quadratic while
 * they come and go).  0 if not found.
 */
static unsigned long
ld_peer_inode(int fd)
{
	struct sockaddr_in	 me, peer;
	struct {
		struct nlmsghdr		 nlh;
		struct inet_diag_req_v2	 r;
	}			 req;
	union {
		struct nlmsghdr		 nlh;
		char			 buf[8192];
	}			 resp;
	const struct inet_diag_msg *m;
	socklen_t		 len;
	ssize_t			 n;
	unsigned long		 ino = 0;
	int			 nl;

	len = sizeof(me);
	if (getsockname(fd, (struct sockaddr *)&me, &len) == -1)
		return 0;
	len = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &len) == -1)
		return 0;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = AF_INET;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	/* The server's end: its local address is our peer. */
	req.r.id.idiag_sport = peer.sin_port;
	req.r.id.idiag_dport = me.sin_port;
	req.r.id.idiag_src[0] = peer.sin_addr.s_addr;
	req.r.id.idiag_dst[0] = me.sin_addr.s_addr;
	req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] =
	    INET_DIAG_NOCOOKIE;
	if ((nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1)
		return 0;
	if (send(nl, &req, sizeof(req), 0) == (ssize_t)sizeof(req) &&
	    (n = recv(nl, &resp, sizeof(resp), 0)) > 0 &&
	    NLMSG_OK(&resp.nlh, (size_t)n) &&
	    resp.nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
	    resp.nlh.nlmsg_len >= NLMSG_LENGTH(sizeof(*m))) {
		m = NLMSG_DATA(&resp.nlh);
		ino = m->idiag_inode;
	}
	close(nl);
	return ino;
}

pid_t
ld_served_by(int fd, const pid_t *pids, int n)
{
	unsigned long	 want, ino[256];
	int		 fdn[256], i, k, m;

	if ((want = ld_peer_inode(fd)) == 0)
		return -1;
	for (k = 0; k < n; k++) {
		if (pids[k] <= 0 ||
		    (m = tl_fd_inodes(pids[k], ino, fdn, 256)) == -1)
			continue;
		for (i = 0; i < m; i++)
			if (ino[i] == want)
				return pids[k];
	}
	return -1;
}

static int
ld_pred_generation(const struct tl_json *j, void *arg)
{
	const struct ld_settle	*w = arg;
	const char		*s;
	char			 path[64];
	int			 k;

	if ((s = tl_json_str(j, "state")) == NULL ||
	    strcmp(s, "running") != 0 || tl_json_bool(j, "ready") != 1 ||
	    tl_json_int(j, "generation", -1) != w->gen ||
	    (s = tl_json_str(j, "reload.result")) == NULL ||
	    strcmp(s, "ok") != 0 || tl_json_bool(j, "reload.pending") == 1 ||
	    (int)tl_json_len(j, "slots") != w->nslots)
		return 0;
	for (k = 0; k < w->nslots; k++) {
		/* On the stack: predicates run on every version seen. */
		(void)snprintf(path, sizeof(path), "slots.%d.state", k);
		if ((s = tl_json_str(j, path)) == NULL ||
		    strcmp(s, "ready") != 0)
			return 0;
		(void)snprintf(path, sizeof(path), "slots.%d.generation", k);
		if (tl_json_int(j, path, -1) != w->gen)
			return 0;
		(void)snprintf(path, sizeof(path), "slots.%d.old.pid", k);
		if (tl_json_int(j, path, -1) != -1)
			return 0;
	}
	return 1;
}

struct tl_json *
ld_wait_generation(struct tl_daemon *d, long long gen, int nslots,
    int timeout_ms)
{
	struct ld_settle	 w;

	w.gen = gen;
	w.nslots = nslots;
	return tl_status_wait(d, ld_pred_generation, &w, timeout_ms);
}

void
ld_pids(const struct tl_json *j, pid_t *pids, int n)
{
	int	 k;

	for (k = 0; k < n; k++)
		pids[k] = (pid_t)tl_json_int(j, tl_fmt("slots.%d.pid", k), 0);
}

int
ld_in_path(const char *name)
{
	const char	*path = getenv("PATH");
	char		*copy, *dir, *last;
	int		 found = 0;

	if (path == NULL || (copy = strdup(path)) == NULL)
		return 0;
	for (dir = strtok_r(copy, ":", &last); dir != NULL && !found;
	    dir = strtok_r(NULL, ":", &last))
		found = access(tl_fmt("%s/%s", dir, name), X_OK) == 0;
	free(copy);
	return found;
}
