/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Socket activation of the master.  systemd-socket-activate (Debian's
 * systemd package) stands in for systemd: it binds, waits for the first
 * connection, then executes drover with LISTEN_FDS.  drover gives a
 * passed socket to the listen entry of the same name (LISTEN_FDNAMES) or
 * else the same address, instead of binding one of its own: the very
 * socket systemd-socket-activate opened ends up in the master and its
 * workers, and the connection that woke everything up is served.  A
 * passed socket that matches no listen entry is closed, with a warning.
 * A LISTEN_FDS that counts a descriptor that is not open, or not a
 * socket, is an error that names it (exit 71), not a reason to take the
 * master's own descriptors for passed ones.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/* How long a wait for something that must happen may take. */
#define WAIT_MS		10000
/* Attempts to find free ports before giving up. */
#define TRIES		5

static const char	*find_ssa(void);
static int		 free_port(void);
static unsigned long	 inode_at(pid_t, int);
static const char	*subst(const char *);
static void		 start(struct tl_daemon *, const char *, int,
			    const char *const []);
static long long	 get_pid(int);
static void		 test_by_name(void);
static void		 test_by_address(void);
static void		 test_bad_count(const char *, const char *,
			    const char *);

/* systemd-socket-activate, as an absolute path. */
static const char	*ssa;
/* The ports start() chose. */
static int		 ports[2];

/* The first executable systemd-socket-activate in $PATH, or NULL. */
static const char *
find_ssa(void)
{
	const char	*path = getenv("PATH"), *p, *end, *f;

	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = p + strcspn(p, ":");
		f = tl_fmt("%.*s/systemd-socket-activate", (int)(end - p), p);
		if (end > p && access(f, X_OK) == 0)
			return f;
	}
	return NULL;
}

/*
 * A TCP port on 127.0.0.1 that was free a moment ago: bound with port 0
 * and closed again.  Someone may take it meanwhile; start() retries.
 */
static int
free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		sysbail("a free port");
	close(fd);
	return ntohs(sin.sin_port);
}

/* The inode of the socket at descriptor fd of pid, or 0. */
static unsigned long
inode_at(pid_t pid, int fd)
{
	unsigned long	 ino[256];
	int		 fds[256], n, i;

	if ((n = tl_fd_inodes(pid, ino, fds, 256)) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (fds[i] == fd)
			return ino[i];
	return 0;
}

/* s with every PORT1 and PORT2 replaced by the ports. */
static const char *
subst(const char *s)
{
	const char	*p1, *p2, *p;

	for (;;) {
		p1 = strstr(s, "PORT1");
		p2 = strstr(s, "PORT2");
		if (p1 == NULL && p2 == NULL)
			return s;
		p = p1 == NULL || (p2 != NULL && p2 < p1) ? p2 : p1;
		s = tl_fmt("%.*s%d%s", (int)(p - s), s,
		    ports[p == p1 ? 0 : 1], p + 5);
	}
}

/*
 * Start drover with argv under systemd-socket-activate with the options
 * ssaopts, and wait until that listens on its last socket, fd lastfd.
 * PORT1 and PORT2 in ssaopts and argv stand for two free ports, chosen
 * here and left in ports[].  Retries when a port was taken meanwhile;
 * bails when systemd-socket-activate does not start for another reason.
 */
static void
start(struct tl_daemon *d, const char *ssaopts, int lastfd,
    const char *const argv[])
{
	const char	*wrap, *old, *v[32], *listening;
	int		 try, i;

	for (try = 0; try < TRIES; try++) {
		ports[0] = free_port();
		do
			ports[1] = free_port();
		while (ports[1] == ports[0]);
		wrap = tl_fmt("%s %s", ssa, subst(ssaopts));
		/*
		 * A wrapper the caller set (valgrind, say) runs drover
		 * inside ours, which passes it the sockets.
		 */
		if ((old = getenv("TL_DAEMON_WRAPPER")) != NULL &&
		    *old != '\0')
			wrap = tl_fmt("%s %s", wrap, old);
		for (i = 0; argv[i] != NULL && i < 31; i++)
			v[i] = subst(argv[i]);
		v[i] = NULL;
		old = old != NULL ? tl_fmt("%s", old) : NULL;
		if (setenv("TL_DAEMON_WRAPPER", wrap, 1) == -1)
			sysbail("setenv");
		tl_start(d, v, 0);
		if (old != NULL)
			(void)setenv("TL_DAEMON_WRAPPER", old, 1);
		else
			(void)unsetenv("TL_DAEMON_WRAPPER");
		listening = tl_fmt("Listening on 127.0.0.1:%d as %d.",
		    ports[lastfd - 3], lastfd);
		if (tl_wait_log(d, listening, WAIT_MS) == 0)
			return;
		(void)tl_daemon_stop(d, WAIT_MS);
		if (tl_wait_log(d, "Address already in use", 0) != 0)
			bail("systemd-socket-activate did not start: %s", wrap);
		diag("a port was taken meanwhile; again");
	}
	bail("no free ports after %d tries", TRIES);
}

/*
 * One request for /pid on a new connection to port: the answering
 * worker's pid, or -1.
 */
static long long
get_pid(int port)
{
	char	 body[64];
	int	 status;

	if (tl_http_get(port, "/pid", &status, body, sizeof(body)) == -1 ||
	    status != 200)
		return -1;
	return atoll(body);
}

/*
 * The socket named "web" goes to the listen entry named "web"; the
 * connection that started drover is served, and so are later ones.
 */
static void
test_by_name(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char *const	 argv[] = { "-w", "2", "-l",
				    "web=127.0.0.1:PORT1", "--",
				    tl_path("examples/hello-c/hello-c"), NULL };
	unsigned long		 ino, mino;
	long long		 pid, w;
	char			 body[64];
	int			 fd, status, k, n;

	start(&d, "-l 127.0.0.1:PORT1 --fdname=web", 3, argv);
	ino = inode_at(d.pid, 3);
	ok(ino != 0, "systemd-socket-activate listens on 127.0.0.1:%d at "
	    "fd 3 (socket inode %lu)", ports[0], ino);
	ok(access(tl_fmt("%s/status.json", d.state), F_OK) == -1,
	    "drover has not started before the first connection");

	/* The first connection starts drover, and is served. */
	if ((fd = tl_connect(ports[0])) == -1)
		sysbail("connect to %d", ports[0]);
	if (tl_http_request(fd, "/pid", 0) == -1)
		sysbail("send");
	if (tl_http_response(fd, WAIT_MS, &status, body, sizeof(body),
	    NULL) == -1)
		status = -1;
	close(fd);
	is_int(200, status, "the connection that started drover is served");
	is_int(0, tl_wait_log(&d, "socket activation: 1 socket passed by the "
	    "service manager", WAIT_MS), "the log says a socket was passed");
	is_int(0, tl_wait_log(&d, tl_fmt("listen 127.0.0.1:%d: using the "
	    "socket passed by the service manager", ports[0]), WAIT_MS),
	    "the log says the listen entry uses it");

	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "both workers are ready");
	is_int(ports[0], tl_port(j, 0), "status.json shows the passed port");
	is_string("web", tl_json_str(j, "listeners.0.name"),
	    "and the name web");
	mino = inode_at(d.pid, 3);
	is_int((long long)ino, (long long)mino, "the master (pid %d, the "
	    "same process) holds the very socket at fd 3", (int)d.pid);
	for (k = 0; k < 2; k++) {
		w = tl_json_int(j, tl_fmt("slots.%d.pid", k), 0);
		is_int((long long)ino, (long long)inode_at((pid_t)w, 3),
		    "worker %d has the passed socket at fd 3", k);
	}
	tl_json_free(j);
	for (k = 0, n = 0; k < 10; k++)
		if ((pid = get_pid(ports[0])) > 0)
			n++;
	is_int(10, n, "ten more connections are served");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "drover stops with status 0");
}

/*
 * Two passed sockets, named "other" and "extra", and one listen entry,
 * named listen0, with the first one's address: the first is taken by
 * its address, the second closed with a warning.
 */
static void
test_by_address(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char *const	 argv[] = { "-w", "1", "-l", "127.0.0.1:PORT1",
				    "--", tl_path("examples/hello-c/hello-c"),
				    NULL };
	unsigned long		 ino3, ino4, inos[256];
	int			 fd, k, n, held;

	start(&d, "-l 127.0.0.1:PORT1 -l 127.0.0.1:PORT2 "
	    "--fdname=other:extra", 4, argv);
	ino3 = inode_at(d.pid, 3);
	ino4 = inode_at(d.pid, 4);
	ok(ino3 != 0 && ino4 != 0, "address: two sockets at fds 3 and 4");
	ok(get_pid(ports[0]) > 0, "address: the first connection is served");
	is_int(0, tl_wait_log(&d, "socket activation: 2 sockets passed",
	    WAIT_MS), "address: the log says two sockets were passed");
	is_int(0, tl_wait_log(&d, tl_fmt("listen 127.0.0.1:%d: using the "
	    "socket passed by the service manager", ports[0]), WAIT_MS),
	    "address: the listen entry takes the socket of its address, "
	    "whatever its name");
	is_int(0, tl_wait_log(&d, "socket activation: descriptor 4 named "
	    "extra matches no listen address: closed", WAIT_MS),
	    "address: the other socket is closed with a warning");
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "address: the worker is ready");
	tl_json_free(j);
	is_int((long long)ino3, (long long)inode_at(d.pid, 3),
	    "address: the master holds the first socket");
	n = tl_fd_inodes(d.pid, inos, NULL, 256);
	for (k = 0, held = 0; k < n; k++)
		if (inos[k] == ino4)
			held++;
	ok(n > 0 && held == 0, "address: and not the second");
	fd = tl_connect(ports[1]);
	ok(fd == -1 && errno == ECONNREFUSED, "address: port %d refuses "
	    "connections", ports[1]);
	if (fd != -1)
		close(fd);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "address: drover stops with "
	    "status 0");
}

/*
 * systemd-socket-activate passes one socket, fd 3, and a script between
 * it and drover (so in the same process: LISTEN_PID stays right) runs
 * the shell code prelude, which changes LISTEN_FDS: drover must exit 71
 * with the message why, before it opens anything.
 */
static void
test_bad_count(const char *what, const char *prelude, const char *why)
{
	struct tl_daemon	 d;
	const char		*script, *argv[] = { "-w", "1", "-l",
				    "127.0.0.1:PORT1", "--",
				    tl_path("examples/hello-c/hello-c"), NULL };
	int			 fd;

	script = tl_fmt("%s/between", tl_tmpdir());
	if (tl_write_file(script, "#!/bin/sh\n%s\nexec \"$@\"\n",
	    prelude) == -1 || chmod(script, 0755) == -1)
		sysbail("%s", script);
	start(&d, tl_fmt("-l 127.0.0.1:PORT1 %s", script), 3, argv);
	/* The first connection makes it execute drover. */
	if ((fd = tl_connect(ports[0])) == -1)
		sysbail("connect to %d", ports[0]);
	is_int(71, tl_daemon_wait(&d, WAIT_MS), "%s: drover exits 71", what);
	is_int(0, tl_wait_log(&d, why, 0), "%s: the log says \"%s\"", what,
	    why);
	close(fd);
	if (d.exited == 0)
		(void)tl_daemon_stop(&d, WAIT_MS);
}

int
main(void)
{
	plan_lazy();
	if ((ssa = find_ssa()) == NULL)
		bail("systemd-socket-activate is not in PATH: this test needs "
		    "it (Debian: apt-get install systemd)");
	test_by_name();
	test_by_address();
	test_bad_count("LISTEN_FDS=5 with one socket passed",
	    "LISTEN_FDS=5; export LISTEN_FDS", "socket activation: "
	    "LISTEN_FDS=5, but descriptor 4 is not open");
	test_bad_count("LISTEN_FDS=2 with fd 4 a file",
	    "exec 4</dev/null; LISTEN_FDS=2; export LISTEN_FDS",
	    "socket activation: LISTEN_FDS=2, but descriptor 4 is not a "
	    "socket");
	return 0;
}
