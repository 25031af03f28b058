/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Whom the master believes on a worker's NOTIFY_SOCKET, with the
 * kernel's pidfds and without them (DROVER_TEST_NO_PIDFD, as on kernels
 * before 6.5).  No legitimate message is rejected: a shell worker runs
 * systemd-notify STATUS=... a thousand times, then READY=1, and not one
 * datagram (each call sends two, the second a BARRIER=1 with a
 * descriptor systemd-notify waits on) is rejected, as root and as user
 * nobody.  A foreign sender is never believed: the test itself, and a
 * process that sent READY=1 while the master was stopped, exited, and
 * whose pid was then given to a child of the worker (clone3(2) with
 * set_tid); that very pid, live and the worker's child, is believed.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/sched.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/* How long a wait for something that must happen may take. */
#define WAIT_MS		10000
/* How long a thousand systemd-notify calls may take, with sanitizers. */
#define MANY_MS		180000
/*
 * More descriptors than a master with one worker has (about ten), far
 * fewer than the datagrams, and room to list a leak of them.
 */
#define FEWFDS		32
#define MAXFDS		4096
/* What the log says when senders are checked without pidfds. */
#define MODE_LOG	"notify senders are known by pid and start time"

static void	 reuser_main(char *[]);
static void	 wait_line(const char *);
static void	 idle(void);
static void	 set_mode(int);
static void	 test_many(const char *, const char *, int, int);
static void	 test_reuse(const char *, int);
static int	 stop_and_wait(struct tl_daemon *);
static long	 recv_long(int, int);
static int	 kernel_pidfds(void);

/* The directory of the FIFOs, scripts and sockets. */
static const char	*tdir;
/* This program, which workers run as the reuser. */
static char		 self[4096];
/* Whether the kernel passes pidfds (Linux 6.5); else drover cannot. */
static int		 pidfds;

/* Whether a unix socket takes SO_PASSPIDFD. */
static int
kernel_pidfds(void)
{
	int	 fd, one = 1, r;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		sysbail("socket");
	r = setsockopt(fd, SOL_SOCKET, 76, &one, sizeof(one));
	close(fd);
	return r == 0;
}

/* Wait for a line on the FIFO at path (opened after the test's writer). */
static void
wait_line(const char *path)
{
	char	 c;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		_exit(2);
	while (read(fd, &c, 1) == 1 && c != '\n')
		continue;
	close(fd);
}

/* Wait to be killed, with a bound. */
static void
idle(void)
{
	(void)sleep(600);
	_exit(0);
}

/*
 * The worker of the reuse check, as "--reuser GATE TARGET RSOCK GO":
 * slot 0 waits for a line on GATE, then makes a child whose pid is the
 * one in the file TARGET (root may ask clone3(2) for one) and reports its
 * pid, or minus the errno, as a datagram to RSOCK.  The child, which
 * dies with the worker, waits for a line on GO and sends READY=1 to its
 * NOTIFY_SOCKET.  Other slots only wait.
 */
static void
reuser_main(char *argv[])
{
	struct clone_args	 ca;
	const char		*id = getenv("DROVER_WORKER_ID");
	char			*text, buf[32];
	pid_t			 tid;
	long			 pid;

	/* Said on the stream, which needs no check: it has exec'd. */
	if ((text = getenv("DROVER_NOTIFY_FD")) != NULL)
		(void)dprintf(atoi(text), "STATUS=waiting\n");
	if (id == NULL || strcmp(id, "0") != 0)
		idle();
	wait_line(argv[2]);
	if ((text = tl_slurp(argv[3])) == NULL)
		_exit(2);
	tid = (pid_t)atol(text);
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uint64_t)(uintptr_t)&tid;
	ca.set_tid_size = 1;
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() == 1)
			_exit(1);
		wait_line(argv[5]);
		(void)tl_send_dgram(getenv("NOTIFY_SOCKET"), "READY=1");
		idle();
	}
	(void)snprintf(buf, sizeof(buf), "%ld", pid == -1 ? -(long)errno :
	    pid);
	(void)tl_send_dgram(argv[4], buf);
	idle();
}

/* Start the next master with pidfds (0) or without (1). */
static void
set_mode(int nopidfd)
{
	if (nopidfd)
		setenv("DROVER_TEST_NO_PIDFD", "1", 1);
	else
		unsetenv("DROVER_TEST_NO_PIDFD");
}

/*
 * A shell worker (of user, or root if NULL) calls systemd-notify
 * STATUS=n0 to n<n-1>, then READY=1, and exits 1 if a call fails: the
 * slot gets ready with its first worker, every one of the 2n + 2
 * datagrams accepted and the last STATUS= shown.
 */
static void
test_many(const char *what, const char *user, int nopidfd, int n)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*gate, *script, *conf;
	long long		 t0;
	int			 fds[MAXFDS], nfd;

	if (!tl_in_path("systemd-notify")) {
		skip("%s: no systemd-notify", what);
		return;
	}
	gate = tl_fifo_new(tdir, tl_fmt("many-%d-%s", nopidfd,
	    user != NULL ? user : "root"));
	if (chmod(gate, 0644) == -1)
		sysbail("chmod %s", gate);
	script = tl_fmt("read x < '%s'; i=0; while [ $i -lt %d ]; do "
	    "systemd-notify STATUS=n$i || exit 1; i=$((i + 1)); done; "
	    "systemd-notify READY=1 || exit 1; exec sleep 600", gate, n);
	conf = tl_fmt("ready = notify\nready_timeout = %ds\n%s%s%s",
	    MANY_MS / 1000, user != NULL ? "user = " : "",
	    user != NULL ? user : "", user != NULL ? "\n" : "");
	set_mode(nopidfd);
	{
		const char *const argv[] = { "-w", "1", "--", "/bin/sh", "-c",
		    script, NULL };

		tl_start_conf(&d, conf, argv, 0);
	}
	set_mode(0);
	/* The worker's user must be able to reach the state directory. */
	if (chmod(d.dir, 0711) == -1)
		sysbail("chmod %s", d.dir);
	t0 = tl_now_ms();
	tl_fifo_release(gate);
	j = TL_WAIT(&d, MANY_MS, TL_STR("slots.0.state", "ready"));
	ok(j != NULL, "%s: %d systemd-notify STATUS= then READY=1 make the "
	    "slot ready (%lld ms)", what, n, tl_now_ms() - t0);
	tl_json_free(j);
	/* The last BARRIER=1 comes after READY=1. */
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("slots.0.notify.messages", 2LL * n +
	    2));
	is_int(0, tl_json_int(j, "slots.0.notify.rejected", -1),
	    "%s: no datagram was rejected", what);
	is_int(2LL * n + 2, tl_json_int(j, "slots.0.notify.messages", -1),
	    "%s: all %d datagrams were accepted (a STATUS= or READY=1 and a "
	    "BARRIER=1 per call)", what, 2 * n + 2);
	is_string(tl_fmt("n%d", n - 1), tl_json_str(j, "slots.0.status"),
	    "%s: the last STATUS= shows", what);
	is_int(0, tl_json_int(j, "slots.0.restarts", -1),
	    "%s: no systemd-notify call failed (the worker never exited)",
	    what);
	tl_json_free(j);
	is_int(0, tl_log_count(&d, "notify message"), "%s: the log "
	    "complains of no notify message", what);
	nfd = tl_fd_list(d.pid, fds, MAXFDS);
	ok(nfd > 0 && nfd < FEWFDS, "%s: the master holds %d descriptors, "
	    "under %d: it kept no pidfd or barrier of the %d datagrams", what,
	    nfd, FEWFDS, 2 * n + 2);
	is_int(nopidfd || !pidfds, tl_log_count(&d, MODE_LOG), "%s: the log "
	    "says %s", what, nopidfd || !pidfds ? "pidfds are not used" :
	    "nothing of pidfds");
	is_int(0, stop_and_wait(&d), "%s: drover stops with status 0", what);
}

/* SIGTERM, then wait for d to exit: its exit code, or -1. */
static int
stop_and_wait(struct tl_daemon *d)
{
	int	 r;

	if ((r = tl_daemon_stop(d, WAIT_MS)) == -1) {
		(void)tl_daemon_kill(d, SIGKILL);
		(void)tl_daemon_wait(d, WAIT_MS);
	}
	return r;
}

/* A number sent as a datagram to fd within timeout_ms, or -1000000. */
static long
recv_long(int fd, int timeout_ms)
{
	struct pollfd	 pfd;
	char		 buf[32];
	ssize_t		 n;

	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, timeout_ms) != 1 ||
	    (n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) <= 0)
		return -1000000;
	buf[n] = '\0';
	return atol(buf);
}

/*
 * Foreign senders on a worker's socket: the test itself (slot 1), and
 * (slot 0) a child of the test that sends READY=1 while the master is
 * stopped and exits, whose pid a child of the worker then gets.  Both are
 * rejected when the master reads them and slot 0 stays starting; then
 * that child of the worker sends READY=1 itself, which is believed.
 */
static void
test_reuse(const char *what, int nopidfd)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct sockaddr_un	 sun;
	siginfo_t		 si;
	const char		*gate, *go, *target, *rsock, *sock0, *sock1;
	long long		 w0, w1;
	long			 got;
	pid_t			 f;
	int			 rfd, st;

	gate = tl_fifo_new(tdir, tl_fmt("gate-%d", nopidfd));
	go = tl_fifo_new(tdir, tl_fmt("go-%d", nopidfd));
	target = tl_fmt("%s/target-%d", tdir, nopidfd);
	rsock = tl_fmt("%s/r%d.sock", tdir, nopidfd);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(rsock) >= sizeof(sun.sun_path))
		bail("%s: too long for a unix socket", rsock);
	memcpy(sun.sun_path, rsock, strlen(rsock));
	if ((rfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(rfd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		sysbail("%s", rsock);

	set_mode(nopidfd);
	{
		const char *const argv[] = { "-w", "2", "--", self,
		    "--reuser", gate, target, rsock, go, NULL };

		tl_start_conf(&d, "ready = notify\nready_timeout = 60s\n",
		    argv, 0);
	}
	set_mode(0);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.status", "waiting"),
	    TL_STR("slots.1.status", "waiting"));
	ok(j != NULL, "%s: both workers run and are not ready", what);
	is_string("starting", tl_json_str(j, "slots.0.state"),
	    "%s: slot 0 is starting", what);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	w1 = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);
	sock0 = tl_env_of((pid_t)w0, "NOTIFY_SOCKET");
	sock1 = tl_env_of((pid_t)w1, "NOTIFY_SOCKET");
	if (sock0 == NULL || sock1 == NULL) {
		ok(0, "%s: the workers have a NOTIFY_SOCKET", what);
		(void)stop_and_wait(&d);
		close(rfd);
		return;
	}

	/* The test itself, alive, is no descendant of worker 1. */
	is_int(7, tl_send_dgram(sock1, "READY=1"), "%s: the test sent "
	    "READY=1 to slot 1's socket", what);
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("slots.1.notify.rejected", 1));
	ok(j != NULL, "%s: slot 1 counts it rejected", what);
	is_string("starting", tl_json_str(j, "slots.1.state"),
	    "%s: slot 1 is still starting", what);
	is_int(1, tl_json_int(j, "slots.1.notify.messages", -1),
	    "%s: slot 1 accepted only its worker's STATUS=", what);
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, tl_fmt("slot 1: notify message from pid "
	    "%ld, not worker %lld or its descendant: ignored",
	    (long)getpid(), w1), WAIT_MS), "%s: the log names the test as "
	    "the sender", what);

	/* A sender that exits before the master reads it. */
	if (tl_daemon_kill(&d, SIGSTOP) == -1 || waitid(P_PID, d.pid, &si,
	    WSTOPPED | WEXITED | WNOWAIT) == -1 || si.si_code != CLD_STOPPED)
		bail("%s: cannot stop drover", what);
	if ((f = fork()) == -1)
		sysbail("fork");
	if (f == 0)
		_exit(tl_send_dgram(sock0, "READY=1") == 7 ? 0 : 1);
	while (waitpid(f, &st, 0) == -1)
		if (errno != EINTR)
			sysbail("waitpid");
	is_int(0, st, "%s: a child of the test (%ld) sent READY=1 to slot "
	    "0's socket and exited", what, (long)f);
	/*
	 * Without pidfds only the start time tells the two apart: the
	 * worker's child starts a clock tick (1/100 s) later, as any pid
	 * reuse an unprivileged process can bring about would.
	 */
	if (nopidfd || !pidfds)
		tl_pause_ms(30);
	if (tl_write_file(target, "%ld\n", (long)f) == -1)
		sysbail("%s", target);
	tl_fifo_release(gate);
	got = recv_long(rfd, WAIT_MS);
	close(rfd);
	if (got != f) {
		(void)tl_daemon_kill(&d, SIGCONT);
		skip("%s: the worker could not get pid %ld for its child "
		    "(%ld)", what, (long)f, got);
		(void)stop_and_wait(&d);
		return;
	}
	is_string(tl_fmt("%lld", w0), tl_proc_status((pid_t)got, "PPid"),
	    "%s: pid %ld now belongs to a child of worker 0", what, got);
	if (tl_daemon_kill(&d, SIGCONT) == -1)
		bail("%s: cannot continue drover", what);
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("slots.0.notify.rejected", 1));
	ok(j != NULL, "%s: slot 0 rejects READY=1 from the pid its sender "
	    "had", what);
	is_string("starting", tl_json_str(j, "slots.0.state"),
	    "%s: slot 0 is still starting", what);
	is_int(1, tl_json_int(j, "slots.0.notify.messages", -1),
	    "%s: slot 0 accepted only its worker's STATUS=", what);
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, tl_fmt("slot 0: notify message from pid "
	    "%ld, gone before it was read, so not known to descend from "
	    "worker %lld: ignored", got, w0), WAIT_MS),
	    "%s: the log says the sender was gone", what);

	/* The same pid, now a live child of the worker, is believed. */
	tl_fifo_release(go);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.state", "ready"));
	ok(j != NULL, "%s: READY=1 from the worker's child (pid %ld) makes "
	    "slot 0 ready", what, got);
	is_int(2, tl_json_int(j, "slots.0.notify.messages", -1),
	    "%s: slot 0 accepted that message", what);
	is_int(1, tl_json_int(j, "slots.0.notify.rejected", -1),
	    "%s: and rejected nothing more", what);
	tl_json_free(j);
	is_int(nopidfd || !pidfds, tl_log_count(&d, MODE_LOG), "%s: the log "
	    "says %s", what, nopidfd || !pidfds ? "pidfds are not used" :
	    "nothing of pidfds");
	is_int(0, stop_and_wait(&d), "%s: drover stops with status 0", what);
}

int
main(int argc, char *argv[])
{
	ssize_t	 n;

	if (argc == 6 && strcmp(argv[1], "--reuser") == 0)
		reuser_main(argv);
	plan_lazy();
	tdir = tl_tmpdir();
	/* Workers of user nobody run scripts from here. */
	if (chmod(tdir, 0755) == -1)
		sysbail("chmod %s", tdir);
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		sysbail("readlink /proc/self/exe");
	self[n] = '\0';
	if (!(pidfds = kernel_pidfds()))
		diag("the kernel passes no pidfds: every case runs without");

	test_many("pidfd", NULL, 0, 1000);
	test_many("no pidfd", NULL, 1, 1000);
	if (geteuid() == 0) {
		test_many("pidfd, user nobody", "nobody", 0, 300);
		test_many("no pidfd, user nobody", "nobody", 1, 300);
		test_reuse("reuse", 0);
		test_reuse("reuse, no pidfd", 1);
	} else
		diag("not root: user = and pid reuse are not tested");
	return 0;
}
