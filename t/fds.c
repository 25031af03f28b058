/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * What a worker inherits: exactly its slot's listening sockets on fds 3..
 * beside 0, 1 and 2 (per-slot SO_REUSEPORT sockets for TCP, one shared
 * socket for a unix address or with reuseport = no) and its notify stream
 * right after them, the variables that describe them and none of the
 * master's own LISTEN_*, NOTIFY_SOCKET or WATCHDOG_* values, an empty
 * signal mask with no ignored signal, and SIGTERM when the master dies.
 * The same for many workers started at once, each of which shares the
 * master's descriptor table (and memory) until it leaves it
 * (spawn-clone.c), or is forked under valgrind.
 * For the descriptors the test program itself is the worker (run with
 * --worker): a dynamically linked program such as sleep(1) opens and
 * closes files of its own while it starts (ld.so, locales), so only a
 * list taken at the top of main() shows what the worker inherited.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define MAXFD	16

static int		 have_ipv6(void);
static int		 connect6(int);
static int		 get_fd(int, const char *);
static unsigned long	 inode_of(pid_t, int);
static void		 worker_main(void) __attribute__((noreturn));
static const char	*worker_fds(struct tl_daemon *, long long);
static void		 test_sockets(int);
static void		 test_serve(int);
static void		 test_names(void);
static void		 test_shared(void);
static void		 test_environ(void);
static void		*raw_signal(int, void *);
static unsigned long long
			 sigbits(const char *);
static void		 test_signals(void);
static void		 test_closed_stdio(void);
static void		 test_port0_twice(void);
static const char	*fd_target(pid_t, int);
static void		 test_many(void);

/* Whether this host can listen on [::1]. */
static int
have_ipv6(void)
{
	struct sockaddr_in6	 sin6;
	int			 fd, r;

	if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	r = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6));
	close(fd);
	return r == 0;
}

/* A blocking TCP connection to [::1]:port, or -1. */
static int
connect6(int port)
{
	struct sockaddr_in6	 sin6;
	int			 fd, saved;

	if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	sin6.sin6_port = htons((unsigned short)port);
	if (connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * GET path on the connected socket fd, which is closed; the status code,
 * or -1.
 */
static int
get_fd(int fd, const char *path)
{
	int	 status = -1;

	if (fd == -1)
		return -1;
	if (tl_http_request(fd, path, 0) == -1 ||
	    tl_http_response(fd, 5000, &status, NULL, 0, NULL) == -1)
		status = -1;
	close(fd);
	return status;
}

/* The socket inode on fd of pid, or 0. */
static unsigned long
inode_of(pid_t pid, int fd)
{
	unsigned long	 ino[MAXFD];
	int		 fdn[MAXFD], n, i;

	n = tl_fd_inodes(pid, ino, fdn, MAXFD);
	for (i = 0; i < n; i++)
		if (fdn[i] == fd)
			return ino[i];
	return 0;
}

/*
 * The worker mode of this program: before it opens anything, write "fds
 * of worker PID: 0 1 2 ..." (its descriptors as inherited) to its standard
 * output, which is the daemon's log, say READY=1 on the notify stream,
 * then wait for a signal.  No TAP output, no exit hooks: SIGTERM ends it.
 */
static void
worker_main(void)
{
	char		 line[512];
	const char	*p;
	int		 fds[64], n, i;
	size_t		 off;

	n = tl_fd_list(getpid(), fds, 64);
	off = (size_t)snprintf(line, sizeof(line), "fds of worker %ld:",
	    (long)getpid());
	for (i = 0; i < n && off < sizeof(line) - 16; i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %d",
		    fds[i]);
	line[off++] = '\n';
	if (write(STDOUT_FILENO, line, off) != (ssize_t)off)
		_exit(1);
	/* Ready (ready = notify), on the notify stream. */
	if ((p = getenv("DROVER_NOTIFY_FD")) != NULL &&
	    write(atoi(p), "READY=1\n", 8) != 8)
		_exit(1);
	for (;;)
		pause();
}

/*
 * Wait until worker pid has reported its descriptors in the daemon's log
 * and return the list, "0 1 2 ...", or "(none)".
 */
static const char *
worker_fds(struct tl_daemon *d, long long pid)
{
	const char	*needle = tl_fmt("fds of worker %lld: ", pid), *list;
	char		*log, *p;

	if (tl_wait_log(d, needle, 10000) == -1 ||
	    (log = tl_slurp(d->log)) == NULL ||
	    (p = strstr(log, needle)) == NULL)
		return "(none)";
	p += strlen(needle);
	list = tl_fmt("%.*s", (int)strcspn(p, "\n"), p);
	free(log);
	return list;
}

/*
 * NMANY workers with a TCP and a unix address and output = prefix, all
 * started at once, each ready when it says so: each inherits exactly fds
 * 0 to 5 (its own TCP socket, the shared unix one, its own notify
 * stream), however the master made it (which it says).
 */
#define NMANY	96
static void
test_many(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-d", "-w", tl_fmt("%d", NMANY),
				    "--ready", "notify", "-l", "127.0.0.1:0",
				    "-l", NULL, "--", NULL, "--worker",
				    NULL };
	const char		*how;
	char			 self[4096];
	unsigned long		 tcp[NMANY], unx = 0, strm[NMANY];
	ssize_t			 n;
	int			 k, m, good = 0;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		sysbail("readlink /proc/self/exe");
	self[n] = '\0';
	argv[8] = tl_fmt("unix:%s/many.sock", tl_tmpdir());
	argv[10] = self;
	j = tl_start_conf(&d, "output = prefix\n", argv, 1);
	for (k = 0; k < NMANY; k++) {
		long long	 pid = tl_json_int(j, tl_fmt("slots.%d.pid", k),
				    0);

		tcp[k] = strm[k] = 0;
		if (strcmp(worker_fds(&d, pid), "0 1 2 3 4 5") != 0)
			continue;
		tcp[k] = inode_of((pid_t)pid, 3);
		strm[k] = inode_of((pid_t)pid, 5);
		if (k == 0)
			unx = inode_of((pid_t)pid, 4);
		if (tcp[k] == 0 || strm[k] == 0 || unx == 0 ||
		    inode_of((pid_t)pid, 4) != unx)
			continue;
		for (m = 0; m < k; m++)
			if (tcp[m] == tcp[k] || strm[m] == strm[k] ||
			    tcp[m] == strm[k])
				break;
		good += m == k;
	}
	tl_json_free(j);
	is_int(NMANY, good, "each of %d workers started at once inherits "
	    "exactly fds 0 to 5: its own TCP socket and notify stream, the "
	    "shared unix socket", NMANY);
	/* memcheck runs no clone(2) that shares memory: it forks. */
	how = getenv("DROVER_TEST_VALGRIND") != NULL ?
	    "workers are forked: valgrind" :
	    getenv("DROVER_TEST_SANITIZED") != NULL ?
	    "workers are started with clone3, memory copied" :
	    "workers are started with clone, memory shared";
	is_int(1, tl_log_count(&d, how), "the master says once how it starts "
	    "workers: %s", how);
	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
}

/*
 * Two workers with a TCP, a unix and (if the host has it) an IPv6
 * address: each inherits exactly fds 0 to 2 + N, its own TCP sockets and
 * the shared unix one, and its own notify stream on fd 3 + N.
 */
static void
test_sockets(int v6)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "-l", NULL, "-l", "[::1]:0", "--", NULL,
				    "--worker", NULL };
	const char		*want;
	char			 self[4096];
	ssize_t			 n;
	unsigned long		 ino[2][4];
	long long		 pid[2];
	int			 k, nl = v6 ? 3 : 2;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		sysbail("readlink /proc/self/exe");
	self[n] = '\0';
	argv[5] = tl_fmt("unix:%s/s.sock", tl_tmpdir());
	argv[9] = self;
	if (!v6) {
		argv[6] = "--";
		argv[7] = self;
		argv[8] = "--worker";
		argv[9] = NULL;
	}
	j = tl_start(&d, argv, 1);
	want = v6 ? "0 1 2 3 4 5 6" : "0 1 2 3 4 5";
	for (k = 0; k < 2; k++) {
		pid[k] = tl_json_int(j, tl_fmt("slots.%d.pid", k), 0);
		is_string(want, worker_fds(&d, pid[k]),
		    "worker %d inherits exactly fds %s", k, want);
		ino[k][0] = inode_of((pid_t)pid[k], 3);
		ino[k][1] = inode_of((pid_t)pid[k], 4);
		ino[k][2] = v6 ? inode_of((pid_t)pid[k], 5) : 0;
		ino[k][3] = inode_of((pid_t)pid[k], 3 + nl);
		ok(ino[k][0] != 0 && ino[k][1] != 0 &&
		    (!v6 || ino[k][2] != 0) && ino[k][3] != 0,
		    "worker %d: fds 3 to %d are sockets", k, 3 + nl);
		is_string(tl_fmt("%d", 3 + nl), tl_env_of((pid_t)pid[k],
		    "DROVER_NOTIFY_FD"),
		    "worker %d: DROVER_NOTIFY_FD is %d, after the sockets", k,
		    3 + nl);
		is_string(v6 ? "3" : "2", tl_env_of((pid_t)pid[k],
		    "LISTEN_FDS"), "worker %d: LISTEN_FDS", k);
		is_string(v6 ? "listen0:listen1:listen2" : "listen0:listen1",
		    tl_env_of((pid_t)pid[k], "LISTEN_FDNAMES"),
		    "worker %d: LISTEN_FDNAMES", k);
		is_string(tl_fmt("%lld", pid[k]), tl_env_of((pid_t)pid[k],
		    "LISTEN_PID"), "worker %d: LISTEN_PID is its pid", k);
	}
	tl_json_free(j);
	ok(ino[0][0] != ino[1][0],
	    "fd 3 (TCP, reuseport) differs between the workers");
	ok(ino[0][1] == ino[1][1],
	    "fd 4 (unix) is the same socket in both workers");
	if (v6)
		ok(ino[0][2] != ino[1][2],
		    "fd 5 ([::1], reuseport) differs between the workers");
	else
		skip("no IPv6 loopback");
	ok(ino[0][3] != ino[1][3],
	    "each worker has its own notify stream on fd %d", 3 + nl);
	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
}

/*
 * The same addresses with hello-c: requests over the unix socket and
 * over [::1] are served, and status.json describes both listeners.
 */
static void
test_serve(int v6)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*path, *argv[] = { "-w", "2", "-l",
				    "127.0.0.1:0", "-l", NULL, "-l", "[::1]:0",
				    "--", NULL, NULL };
	int			 port6;

	path = tl_fmt("%s/s.sock", tl_tmpdir());
	argv[5] = tl_fmt("unix:%s", path);
	argv[9] = tl_path("examples/hello-c/hello-c");
	if (!v6) {
		argv[6] = "--";
		argv[7] = argv[9];
		argv[8] = NULL;
	}
	j = tl_start(&d, argv, 1);
	is_string("unix", tl_json_str(j, "listeners.1.type"),
	    "status.json: listener 1 is of type unix");
	is_string(path, tl_json_str(j, "listeners.1.path"),
	    "status.json: listener 1 has its path");
	is_int(1, tl_json_int(j, "listeners.1.sockets", -1),
	    "status.json: the unix listener has one socket");
	ok(tl_json_bool(j, "listeners.1.reuseport") == 0,
	    "status.json: the unix listener is not reuseport");
	is_int(200, get_fd(tl_connect_unix(path), "/"),
	    "GET over the unix socket: 200");
	if (v6) {
		port6 = tl_port(j, 2);
		is_string("tcp", tl_json_str(j, "listeners.2.type"),
		    "status.json: listener 2 is of type tcp");
		is_string("::1", tl_json_str(j, "listeners.2.host"),
		    "status.json: listener 2 has host ::1");
		ok(port6 > 0, "status.json: listener 2 has its port (%d)",
		    port6);
		is_int(200, get_fd(connect6(port6), "/"),
		    "GET over [::1]: 200");
	} else {
		skip("no IPv6 loopback");
		skip("no IPv6 loopback");
		skip("no IPv6 loopback");
		skip("no IPv6 loopback");
	}
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
	ok(access(path, F_OK) == -1, "the unix socket file is removed");
}

/* NAME=ADDR names the sockets in LISTEN_FDNAMES and status.json. */
static void
test_names(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "1", "-l", "web=127.0.0.1:0",
				    "-l", NULL, "--", "/bin/sleep", "1000",
				    NULL };
	pid_t			 pid;

	argv[5] = tl_fmt("admin=unix:%s/admin.sock", tl_tmpdir());
	j = tl_start(&d, argv, 1);
	pid = (pid_t)tl_json_int(j, "slots.0.pid", 0);
	is_string("web:admin", tl_env_of(pid, "LISTEN_FDNAMES"),
	    "LISTEN_FDNAMES carries the names");
	is_string("web", tl_json_str(j, "listeners.0.name"),
	    "status.json: listener 0 is named web");
	is_string("127.0.0.1:0", tl_json_str(j, "listeners.0.address"),
	    "status.json: its address is shown without the name");
	is_string("admin", tl_json_str(j, "listeners.1.name"),
	    "status.json: listener 1 is named admin");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
}

/*
 * The same address with port 0 written twice: two listeners, each with
 * a port of its own and a socket per slot, kept through a reload.
 */
static void
test_port0_twice(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "-l", "127.0.0.1:0", "--", NULL, NULL };
	pid_t			 pid;
	int			 p0, p1;

	argv[7] = tl_path("examples/hello-c/hello-c");
	j = tl_start(&d, argv, 1);
	p0 = tl_port(j, 0);
	p1 = tl_port(j, 1);
	pid = (pid_t)tl_json_int(j, "slots.0.pid", 0);
	ok(p0 > 0 && p1 > 0 && p0 != p1, "127.0.0.1:0 twice: two ports (%d, "
	    "%d)", p0, p1);
	ok(tl_json_int(j, "listeners.0.sockets", 0) == 2 &&
	    tl_json_int(j, "listeners.1.sockets", 0) == 2, "127.0.0.1:0 "
	    "twice: a socket per slot for each");
	ok(inode_of(pid, 3) != 0 && inode_of(pid, 3) != inode_of(pid, 4),
	    "127.0.0.1:0 twice: a worker gets two sockets, not one twice");
	tl_json_free(j);
	tl_daemon_kill(&d, SIGHUP);
	j = TL_WAIT(&d, 20000, TL_STR("reload.result", "ok"));
	ok(j != NULL && tl_port(j, 0) == p0 && tl_port(j, 1) == p1,
	    "127.0.0.1:0 twice: the same two ports after a reload");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
}

/* reuseport = no: one socket, shared by both workers, still serving. */
static void
test_shared(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", NULL, NULL };
	unsigned long		 i0, i1;
	int			 status;

	argv[5] = tl_path("examples/hello-c/hello-c");
	j = tl_start_conf(&d, "reuseport = no\n", argv, 1);
	i0 = inode_of((pid_t)tl_json_int(j, "slots.0.pid", 0), 3);
	i1 = inode_of((pid_t)tl_json_int(j, "slots.1.pid", 0), 3);
	ok(i0 != 0 && i0 == i1,
	    "reuseport = no: both workers have the same socket on fd 3");
	is_int(1, tl_json_int(j, "listeners.0.sockets", -1),
	    "status.json: one socket");
	ok(tl_json_bool(j, "listeners.0.reuseport") == 0,
	    "status.json: reuseport false");
	ok(tl_http_get(tl_port(j, 0), "/", &status, NULL, 0) == 0 &&
	    status == 200, "the shared socket serves");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
}

/*
 * The master's own activation, notify and watchdog variables do not reach
 * workers; other variables and the configuration's env entries do.
 */
static void
test_environ(void)
{
	static const char *const mine[] = { "LISTEN_FDS", "LISTEN_PID",
	    "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
	    "TEST_MARK", "DROVER_TEST_MARK" };
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "1", "-l", "127.0.0.1:0",
				    "--", "/bin/sleep", "1000", NULL };
	const char		*ns;
	size_t			 i;
	pid_t			 pid;

	if (setenv("LISTEN_FDS", "7", 1) == -1 ||
	    setenv("LISTEN_PID", "1", 1) == -1 ||
	    setenv("LISTEN_FDNAMES", "a:b:c:d:e:f:g", 1) == -1 ||
	    setenv("NOTIFY_SOCKET", "/x", 1) == -1 ||
	    setenv("WATCHDOG_USEC", "5", 1) == -1 ||
	    setenv("WATCHDOG_PID", "1", 1) == -1 ||
	    setenv("TEST_MARK", "1", 1) == -1 ||
	    setenv("DROVER_TEST_MARK", "1", 1) == -1)
		sysbail("setenv");
	j = tl_start_conf(&d, "env = FOO=bar\n", argv, 1);
	for (i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
		if (unsetenv(mine[i]) == -1)
			sysbail("unsetenv");
	pid = (pid_t)tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);

	is_string("1", tl_env_of(pid, "LISTEN_FDS"),
	    "the worker's LISTEN_FDS is its real count, not the master's 7");
	is_int(1, tl_env_count(pid, "LISTEN_FDS"),
	    "LISTEN_FDS appears once");
	is_string(tl_fmt("%ld", (long)pid), tl_env_of(pid, "LISTEN_PID"),
	    "LISTEN_PID is the worker's pid, not the master's 1");
	is_int(1, tl_env_count(pid, "LISTEN_PID"),
	    "LISTEN_PID appears once");
	is_string("listen0", tl_env_of(pid, "LISTEN_FDNAMES"),
	    "LISTEN_FDNAMES is the worker's");
	is_int(1, tl_env_count(pid, "LISTEN_FDNAMES"),
	    "LISTEN_FDNAMES appears once");
	ns = tl_env_of(pid, "NOTIFY_SOCKET");
	ok(ns != NULL && strncmp(ns, tl_fmt("%s/notify/", d.state),
	    strlen(d.state) + 8) == 0, "NOTIFY_SOCKET is the worker's own, "
	    "in the state directory, not the master's /x (%s)",
	    ns != NULL ? ns : "unset");
	is_int(1, tl_env_count(pid, "NOTIFY_SOCKET"),
	    "NOTIFY_SOCKET appears once");
	ok(tl_env_of(pid, "WATCHDOG_USEC") == NULL,
	    "WATCHDOG_USEC does not reach the worker");
	ok(tl_env_of(pid, "WATCHDOG_PID") == NULL,
	    "WATCHDOG_PID does not reach the worker");
	ok(tl_env_of(pid, "DROVER_TEST_MARK") == NULL,
	    "DROVER_* variables do not reach the worker");
	is_string("1", tl_env_of(pid, "TEST_MARK"),
	    "an ordinary variable reaches the worker");
	is_string("bar", tl_env_of(pid, "FOO"),
	    "env = FOO=bar from the configuration reaches the worker");
	is_string("0", tl_env_of(pid, "DROVER_WORKER_ID"),
	    "DROVER_WORKER_ID is drover's own");
	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
}

/*
 * Set the disposition of a signal with the raw system call, which unlike
 * sigaction(3) also reaches the two real-time signals glibc keeps for
 * itself (32 and 33).  Every field but the handler is zero, so the
 * layout of the kernel's struct after the handler does not matter.
 * Returns the previous handler, or SIG_ERR.
 */
static void *
raw_signal(int sig, void *handler)
{
	struct {
		void		*ks_handler;
		unsigned long	 ks_flags;
		void		*ks_restorer;
		unsigned long	 ks_mask[2];
	} act, old;

	memset(&act, 0, sizeof(act));
	memset(&old, 0, sizeof(old));
	act.ks_handler = handler;
	if (syscall(SYS_rt_sigaction, sig, &act, &old, (size_t)8) == -1)
		return SIG_ERR;
	return old.ks_handler;
}

/* The bits of a SigBlk or SigIgn value, or ~0 if there is none. */
static unsigned long long
sigbits(const char *hex)
{
	return hex != NULL ? strtoull(hex, NULL, 16) : ~0ULL;
}

/*
 * A worker starts with no blocked and no ignored signal, whatever the
 * master had, and gets SIGTERM when its master dies, even by SIGKILL.
 * The master is started through env(1) with signals ignored and blocked
 * (as a shell or service manager may leave them), and with signals 32
 * and 33 ignored, as GNU make 4.3 leaves them through glibc's
 * posix_spawn(3).
 */
static void
test_signals(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "1", "--", "/bin/sleep",
				    "1000", NULL };
	const char		*wrapper, *blk, *ign;
	unsigned long long	 rt = 3ULL << 31, mblk, mign;
	void			*old32, *old33;
	pid_t			 pid;
	int			 wrapped;

	/* env(1) of coreutils 9 can ignore and block signals for us. */
	wrapped = tl_run((const char *const []){ "env",
	    "--ignore-signal=ALRM", "--block-signal=PROF", "true", NULL },
	    5000, NULL) == 0;
	wrapper = getenv("TL_DAEMON_WRAPPER");
	if (wrapped && setenv("TL_DAEMON_WRAPPER", tl_fmt("env "
	    "--ignore-signal=ALRM,URG --block-signal=PROF,WINCH %s",
	    wrapper != NULL ? wrapper : ""), 1) == -1)
		sysbail("setenv");
	old32 = raw_signal(32, SIG_IGN);
	old33 = raw_signal(33, SIG_IGN);
	j = tl_start(&d, argv, 1);
	if (old32 != SIG_ERR)
		raw_signal(32, old32);
	if (old33 != SIG_ERR)
		raw_signal(33, old33);
	if (wrapper != NULL)
		setenv("TL_DAEMON_WRAPPER", wrapper, 1);
	else
		unsetenv("TL_DAEMON_WRAPPER");
	pid = (pid_t)tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);

	mblk = sigbits(tl_proc_status(d.pid, "SigBlk"));
	mign = sigbits(tl_proc_status(d.pid, "SigIgn"));
	diag("the master: SigBlk %016llx, SigIgn %016llx", mblk, mign);
	if (wrapped)
		ok(mblk != 0 && (mign & ~rt & ~(1ULL << (SIGPIPE - 1))) != 0,
		    "the master runs with signals blocked and ignored");
	else
		skip("env(1) cannot block or ignore signals");
	blk = tl_proc_status(pid, "SigBlk");
	ign = tl_proc_status(pid, "SigIgn");
	is_string("0000000000000000", blk, "the worker's signal mask is empty");
	ok(sigbits(ign) != ~0ULL && (sigbits(ign) & ~rt) == 0,
	    "the worker ignores none of the signals 1 to 31 and 34 to 64 "
	    "(SigIgn %s)", ign != NULL ? ign : "none");
	/*
	 * glibc's sigaction(3) refuses signals 32 and 33, so only the raw
	 * system call resets them; an ignored disposition survives exec.
	 * Under make check (GNU make 4.3 through posix_spawn) the master
	 * always inherits them ignored.
	 */
	if ((mign & rt) == rt)
		ok((sigbits(ign) & rt) == 0,
		    "the worker does not ignore signals 32 and 33 either");
	else
		skip("signals 32 and 33 could not be ignored in the master");

	if (tl_daemon_kill(&d, SIGKILL) == -1)
		sysbail("kill drover");
	is_int(128 + SIGKILL, tl_daemon_wait(&d, 5000),
	    "the master is killed by SIGKILL");
	is_int(0, tl_wait_pid_gone(pid, 5000),
	    "its worker is gone within 5 s (parent-death signal)");
}

/* Where descriptor fd of pid points, or "" (library-owned). */
static const char *
fd_target(pid_t pid, int fd)
{
	char	 buf[512];
	ssize_t	 n;

	n = readlink(tl_fmt("/proc/%ld/fd/%d", (long)pid, fd), buf,
	    sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return tl_fmt("%s", buf);
}

/*
 * Started with descriptors 0, 1 and 2 closed, drover opens /dev/null on
 * them before anything else: the pid file and the sockets get other
 * numbers, and the workers get /dev/null too, not a socket or the pid
 * file.
 */
static void
test_closed_stdio(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*pf = tl_fmt("%s/drover.pid", tl_tmpdir());
	const char		*wrap = tl_fmt("%s/closed-stdio", tl_tmpdir());
	const char		*argv[] = { "-w", "1", "-l", "127.0.0.1:0",
				    "-p", pf, "--", "/bin/sleep", "1000",
				    NULL };
	const char		*old = getenv("TL_DAEMON_WRAPPER");
	pid_t			 w;
	int			 fd, fds[256], n, at;

	if (tl_write_file(wrap, "#!/bin/sh\nexec %s \"$@\" <&- >&- 2>&-\n",
	    old != NULL ? old : "") == -1 || chmod(wrap, 0755) == -1)
		sysbail("%s", wrap);
	setenv("TL_DAEMON_WRAPPER", wrap, 1);
	j = tl_start(&d, argv, 1);
	if (old != NULL)
		setenv("TL_DAEMON_WRAPPER", old, 1);
	else
		unsetenv("TL_DAEMON_WRAPPER");
	w = (pid_t)tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	for (fd = 0; fd < 3; fd++)
		is_string("/dev/null", fd_target(d.pid, fd), "closed stdio: "
		    "the master's fd %d is /dev/null", fd);
	n = tl_fd_list(d.pid, fds, 256);
	for (fd = 0, at = -1; fd < n; fd++)
		if (strcmp(fd_target(d.pid, fds[fd]), pf) == 0)
			at = fds[fd];
	ok(at > 2, "closed stdio: the pid file is at fd %d, not 0 to 2", at);
	for (fd = 0; fd < 3; fd++)
		is_string("/dev/null", fd_target(w, fd), "closed stdio: the "
		    "worker's fd %d is /dev/null", fd);
	ok(strncmp(fd_target(w, 3), "socket:", 7) == 0, "closed stdio: the "
	    "worker's fd 3 is its listening socket");
	is_int(0, tl_daemon_stop(&d, 10000), "closed stdio: drover stops "
	    "with status 0");
}

int
main(int argc, char *argv[])
{
	int	 v6;

	if (argc == 2 && strcmp(argv[1], "--worker") == 0)
		worker_main();
	plan_lazy();
	if (!(v6 = have_ipv6()))
		diag("no IPv6 loopback: the [::1] checks are skipped");
	test_sockets(v6);
	test_serve(v6);
	test_names();
	test_port0_twice();
	test_shared();
	test_environ();
	test_signals();
	test_closed_stdio();
	test_many();
	return 0;
}
