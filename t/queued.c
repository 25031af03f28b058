/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Why sockets are per slot and held by the master.  Connections queued on
 * a slot's socket when its worker dies wait there and are served by the
 * replacement, not reset.  Connections made while a slot has no worker
 * are steered to the slots that have one, so they are served at once.
 * A retiring slot's socket is closed only once nothing waits there:
 * connections that reached it after its worker was asked to stop (while
 * TTIN wanted the slot back, until TTOU retired it again) are served by
 * a worker started to drain them, not reset.
 *
 * And never to a retiring slot.  During a reload whose new workers wait
 * out their grace, the old worker of slot 1 (or of both slots) dies, then
 * TTOU retires slot 1: its new worker drains the queue, is asked to stop
 * and lingers on an idle connection; the connections made then must all
 * go to slot 0, for what waits in slot 1's queue is reset when its
 * sockets close.  (bench/soak found both: the steering program was left
 * as it was when an old worker died, since the exit had cleared the pid
 * before the slot compared what it served; and with no slot ready the
 * kernel's hash fed the retiring slot too.)
 *
 * And to every slot once the cluster is ready.  Slots that become ready
 * in a burst join the steering program together at the end of a short
 * gap; `ready` must not appear before that, or the connections made as
 * soon as it does go to the few slots that joined first.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/inotify.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define NCONN	24
#define WAIT_MS	20000

struct tally {
	int	 served;
	int	 by[3];		/* old slot 0 worker, slot 1, anyone else */
};

static void	 open_all(int, int *, const char *);
static void	 read_all(int *, int, long long, long long, struct tally *);
static long long backoff(struct tl_daemon *, int, long long);
static void	 test_crash(void);
static void	 test_retire(int);
static int	 by_slot(int *, const char *);
static int	 hold(int, long long);
static void	 test_old_gone(int);
static int	 pred_old_gone(const struct tl_json *, void *);
static int	 wait_created(int, const char *, int);
static int	 listeners_queued(int);
static void	 test_ready_steered(void);

/* Open NCONN connections and send a request for path on each. */
static void
open_all(int port, int *fd, const char *path)
{
	int	 i;

	for (i = 0; i < NCONN; i++) {
		if ((fd[i] = tl_connect(port)) == -1)
			sysbail("connect");
		if (tl_http_request(fd[i], path, 0) == -1)
			sysbail("write");
	}
}

/* Read every answer within timeout_ms, counting who served it. */
static void
read_all(int *fd, int timeout_ms, long long old0, long long p1,
    struct tally *t)
{
	char	 body[64];
	int	 i, status;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < NCONN; i++) {
		if (tl_http_response(fd[i], timeout_ms, &status, body,
		    sizeof(body), NULL) == 0 && status == 200) {
			t->served++;
			t->by[atoll(body) == old0 ? 0 : atoll(body) == p1 ? 1 :
			    2]++;
		}
		close(fd[i]);
	}
}

/*
 * A worker dies with connections queued on its slot's socket: they wait
 * for its replacement.  A slot with no worker gets no new connection.
 */
static void
test_crash(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_match		 m;
	struct tl_slot_pid	 sp;
	struct tally		 t;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", NULL, NULL };
	long long		 p0, p1;
	int			 fd[NCONN], port;

	/* Every exit is a quick failure, and the restart waits 1 to 2 s. */
	argv[5] = tl_path("examples/hello-c/hello-c");
	j = tl_start_conf(&d, "restart_reset = 1h\nrestart_delay = 2s\n"
	    "restart_delay_max = 2s\n", argv, 1);
	p0 = tl_json_int(j, "slots.0.pid", 0);
	p1 = tl_json_int(j, "slots.1.pid", 0);
	port = tl_port(j, 0);
	tl_json_free(j);

	/*
	 * Worker 0 hangs (SIGSTOP): connections pile up in its queue, as
	 * under a worker stuck or crashing under load.  Then it dies.
	 */
	if (kill((pid_t)p0, SIGSTOP) == -1)
		sysbail("kill");
	open_all(port, fd, "/pid");
	if (kill((pid_t)p0, SIGKILL) == -1)
		sysbail("kill");
	read_all(fd, 15000, p0, p1, &t);
	is_int(NCONN, t.served, "queued: every connection was served, none "
	    "reset");
	is_int(0, t.by[0], "queued: none by the dead worker");
	ok(t.by[2] > 0, "queued: %d waited for slot 0's replacement, %d went "
	    "to slot 1", t.by[2], t.by[1]);
	sp.slot = 0;
	sp.oldpid = p0;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, 5000);
	ok(j != NULL, "slot 0 has its replacement");
	p0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);

	/* Slot 0 empty again: new connections go to slot 1 meanwhile. */
	if (kill((pid_t)p0, SIGKILL) == -1)
		sysbail("kill");
	m.path = "slots.0.state";
	m.str = "backoff";
	j = tl_status_wait(&d, tl_pred_match, &m, 5000);
	ok(j != NULL, "slot 0 waits in backoff after its worker died");
	is_int(0, tl_json_int(j, "slots.0.pid", -1), "slot 0 has no worker");
	tl_json_free(j);
	open_all(port, fd, "/pid");
	read_all(fd, 900, p0, p1, &t);
	is_int(NCONN, t.served, "empty slot: every connection was served "
	    "within 0.9 s, none reset");
	is_int(NCONN, t.by[1], "empty slot: all by slot 1's worker");
	j = tl_status(&d);
	is_int(0, tl_json_int(j, "slots.0.pid", -1),
	    "and slot 0 was still empty meanwhile");
	tl_json_free(j);

	is_int(0, tl_daemon_stop(&d, 20000), "drover stops with status 0");
}

/*
 * Put slot k, whose worker is pid, in backoff: the first quick death of
 * a ready worker is forgiven with an immediate replacement, the second
 * waits restart_delay.  Returns the pid of the worker that died last.
 */
static long long
backoff(struct tl_daemon *d, int k, long long pid)
{
	struct tl_slot_pid	 sp;
	struct tl_json		*j;

	if (kill((pid_t)pid, SIGKILL) == -1)
		sysbail("kill");
	sp.slot = k;
	sp.oldpid = pid;
	if ((j = tl_status_wait(d, tl_pred_slot_pid_changed, &sp, 10000)) ==
	    NULL)
		bail("slot %d got no new worker", k);
	pid = tl_json_int(j, tl_fmt("slots.%d.pid", k), 0);
	tl_json_free(j);
	if (kill((pid_t)pid, SIGKILL) == -1)
		sysbail("kill");
	if ((j = TL_WAIT(d, 10000, TL_STR(tl_fmt("slots.%d.state", k),
	    "backoff"))) == NULL)
		bail("slot %d is not in backoff", k);
	tl_json_free(j);
	return pid;
}

/*
 * Slot 1 retires (TTOU) while its worker finishes a slow request: its
 * queue is empty, so the worker is asked to stop at once, and it is
 * frozen there (SIGSTOP).  With unretire, TTIN wants the slot back
 * meanwhile (it waits for that worker to go) and TTOU retires it again
 * once the connections are made.  Slot 0's worker dies twice, so that it
 * waits to restart and no slot takes connections: the kernel's hash then
 * spreads new ones over both slot sockets, slot 1's included.  When slot
 * 1's worker has gone, what waits on its socket must be served, not
 * reset when the socket closes.
 */
static void
test_retire(int unretire)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tally		 t;
	const char		*what = unretire ? "retired, wanted again, "
				    "retired" : "retiring";
	const char		*st0, *st1;
	char			 body[64];
	long long		 p0, p1;
	int			 fd[NCONN], port, kfd, status, r;

	j = tl_start_conf(&d, tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "ready = notify\nrestart_reset = 1h\nrestart_delay = 6s\n"
	    "restart_delay_max = 6s\nstop_timeout = 30s\ncommand = %s\n",
	    tl_path("examples/hello-c/hello-c")), NULL, 1);
	p0 = tl_json_int(j, "slots.0.pid", 0);
	p1 = tl_json_int(j, "slots.1.pid", 0);
	port = tl_port(j, 0);
	tl_json_free(j);

	if ((kfd = hold(port, p1)) == -1)
		bail("no connection reached worker %lld", p1);
	if (tl_http_request(kfd, "/slow?ms=6000", 1) == -1)
		sysbail("write");
	tl_daemon_kill(&d, SIGTTOU);
	j = TL_WAIT(&d, 10000, TL_STR("slots.1.state", "retiring"),
	    TL_HAS("slots.1.status", "stopping"));
	ok(j != NULL, "%s: slot 1's worker is asked to stop at once", what);
	tl_json_free(j);
	if (kill((pid_t)p1, SIGSTOP) == -1)
		sysbail("kill");
	if (unretire) {
		tl_daemon_kill(&d, SIGTTIN);
		j = TL_WAIT(&d, 10000, TL_STR("slots.1.state", "stopping"));
		ok(j != NULL, "%s: TTIN wants slot 1 again; it waits for its "
		    "worker to go", what);
		tl_json_free(j);
	}
	p0 = backoff(&d, 0, p0);
	open_all(port, fd, "/pid");
	j = tl_status(&d);
	st0 = j != NULL ? tl_json_str(j, "slots.0.state") : NULL;
	st1 = j != NULL ? tl_json_str(j, "slots.1.state") : NULL;
	ok(st0 != NULL && strcmp(st0, "backoff") == 0 && st1 != NULL &&
	    strcmp(st1, unretire ? "stopping" : "retiring") == 0 &&
	    tl_json_int(j, "slots.1.pid", 0) == p1, "%s: the connections "
	    "were made while no slot took them (slot 0 %s, slot 1 %s)", what,
	    st0 != NULL ? st0 : "?", st1 != NULL ? st1 : "?");
	tl_json_free(j);
	if (unretire) {
		tl_daemon_kill(&d, SIGTTOU);
		j = TL_WAIT(&d, 10000, TL_STR("slots.1.state", "retiring"));
		tl_json_free(j);
	}
	if (kill((pid_t)p1, SIGCONT) == -1)
		sysbail("kill");
	r = tl_http_response(kfd, 10000, &status, body, sizeof(body), NULL);
	ok(r == 0 && status == 200, "%s: slot 1's worker finished its slow "
	    "request", what);
	close(kfd);
	read_all(fd, 20000, p0, p1, &t);
	is_int(NCONN, t.served, "%s: every connection was served, none reset",
	    what);
	is_int(0, tl_wait_log(&d, "slot 1: retired", 20000), "%s: then slot "
	    "1 retired", what);
	is_int(0, tl_log_count(&d, "which are reset"), "%s: the log tells of "
	    "no connection reset", what);
	is_int(0, tl_daemon_stop(&d, 20000), "%s: drover stops with status 0",
	    what);
}

/*
 * Read the answers to NCONN requests for /slot (each within 5 s) and
 * close the connections; how many said slot.
 */
static int
by_slot(int *fd, const char *slot)
{
	char	 body[64];
	int	 i, status, n = 0;

	for (i = 0; i < NCONN; i++) {
		if (tl_http_response(fd[i], 5000, &status, body, sizeof(body),
		    NULL) == 0 && status == 200 && strcmp(body, slot) == 0)
			n++;
		close(fd[i]);
	}
	return n;
}

/*
 * A keep-alive connection that worker pid has accepted and answered, held
 * idle: up to 200 tries.  The connection, or -1.
 */
static int
hold(int port, long long pid)
{
	char	 body[64];
	int	 i, fd, status;

	for (i = 0; i < 200; i++) {
		if ((fd = tl_connect(port)) == -1)
			sysbail("connect");
		if (tl_http_request(fd, "/pid", 1) == 0 &&
		    tl_http_response(fd, 5000, &status, body, sizeof(body),
		    NULL) == 0 && status == 200 && atoll(body) == pid)
			return fd;
		close(fd);
	}
	return -1;
}

/*
 * Whether status.json shows no old worker in slot 1 (and in slot 0 too,
 * when *both).  The master logs an exit before it updates the steering
 * program and writes status.json after: seeing the log line is not enough
 * to know where new connections go.
 */
static int
pred_old_gone(const struct tl_json *j, void *arg)
{
	int	 both = *(int *)arg;

	return tl_json_is_null(j, "slots.1.old") &&
	    (!both || tl_json_is_null(j, "slots.0.old"));
}

/* The retiring slot of the header; both: the old workers of both died. */
static void
test_old_gone(int both)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*what = both ? "retire, no slot ready" :
				    "retire after an old worker died";
	const char		*argv[] = { "-d", "-w", "2", "-l",
				    "127.0.0.1:0", "--", NULL, "-L", "30000",
				    NULL };
	long long		 p0, p1, n1;
	int			 fd[NCONN], port, held;

	argv[6] = tl_path("examples/hello-c/hello-c");
	j = tl_start_conf(&d, "reload = all\nreload_grace = 1h\n", argv, 1);
	p0 = tl_json_int(j, "slots.0.pid", 0);
	p1 = tl_json_int(j, "slots.1.pid", 0);
	port = tl_port(j, 0);
	tl_json_free(j);
	if (tl_daemon_kill(&d, SIGHUP) == -1)
		sysbail("SIGHUP to drover");
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("slots.0.old.pid", p0),
	    TL_EQ("slots.1.old.pid", p1), TL_MIN("slots.1.pid", 1),
	    TL_NE("slots.1.pid", p1));
	if (j == NULL)
		bail("%s: the reload did not start new workers", what);
	n1 = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);
	if ((held = hold(port, n1)) == -1)
		bail("%s: no connection reached slot 1's new worker", what);

	if (kill((pid_t)p1, SIGKILL) == -1 || (both &&
	    kill((pid_t)p0, SIGKILL) == -1))
		sysbail("kill");
	if (tl_wait_log(&d, tl_fmt("worker %lld (gen 1) killed", p1),
	    WAIT_MS) == -1 || (both && tl_wait_log(&d, tl_fmt("worker %lld "
	    "(gen 1) killed", p0), WAIT_MS) == -1))
		bail("%s: the master did not see the kill", what);
	if ((j = tl_status_wait(&d, pred_old_gone, &both, WAIT_MS)) == NULL)
		bail("%s: status.json still shows the old worker", what);
	tl_json_free(j);
	if (!both) {
		open_all(port, fd, "/slot");
		is_int(NCONN, by_slot(fd, "0\n"), "%s: slot 1 has no "
		    "confirmed worker: every new connection goes to slot 0",
		    what);
	}

	if (tl_daemon_kill(&d, SIGTTOU) == -1)
		sysbail("SIGTTOU to drover");
	if (tl_wait_log(&d, "slot 1: retiring -> retiring, asked to stop",
	    WAIT_MS) == -1)
		bail("%s: slot 1's worker was not asked to stop", what);
	open_all(port, fd, "/slot");
	close(held);		/* slot 1's worker exits, its sockets close */
	is_int(0, tl_wait_log(&d, "slot 1: retired", WAIT_MS), "%s: slot 1 "
	    "retired", what);
	is_int(NCONN, by_slot(fd, "0\n"), "%s: every connection made while "
	    "slot 1 retired was served by slot 0, none reset", what);
	is_int(0, tl_log_count(&d, "which are reset"), "%s: the log reports "
	    "no connection reset", what);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "%s: drover stops with "
	    "status 0", what);
}

/*
 * Wait up to ms for name to appear in the directory watched by inotify
 * descriptor fd (created or renamed there).  0, or -1 on timeout.
 */
static int
wait_created(int fd, const char *name, int ms)
{
	char				 buf[4096]
					    __attribute__((aligned(8)));
	const struct inotify_event	*ev;
	struct pollfd			 pfd;
	long long			 end = tl_now_ms() + ms;
	ssize_t				 n;
	size_t				 off;

	pfd.fd = fd;
	pfd.events = POLLIN;
	while (tl_now_ms() < end) {
		if (poll(&pfd, 1, (int)(end - tl_now_ms())) == -1)
			sysbail("poll");
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			for (off = 0; off < (size_t)n;
			    off += sizeof(*ev) + ev->len) {
				ev = (const struct inotify_event *)(buf + off);
				if (ev->len > 0 && strcmp(ev->name, name) == 0)
					return 0;
			}
	}
	return -1;
}

/*
 * How many TCP sockets listening on 127.0.0.1:port have connections
 * waiting in their accept queue (/proc/net/tcp gives a listener's queue
 * length as its rx_queue).
 */
static int
listeners_queued(int port)
{
	FILE		*fp;
	char		 line[512];
	unsigned int	 lport, st, rxq;
	int		 n = 0;

	if ((fp = fopen("/proc/net/tcp", "r")) == NULL)
		sysbail("/proc/net/tcp");
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, " %*u: 0100007F:%X %*X:%*X %X %*X:%X", &lport,
		    &st, &rxq) == 3 && (int)lport == port && st == 0x0A &&
		    rxq > 0)
			n++;
	fclose(fp);
	return n;
}

/*
 * The header's last case.  NREADY workers wait on a gate and say READY=1
 * together once it opens, then accept nothing (sleep); four listen
 * addresses make the steering program's gap a few milliseconds.  The
 * master is frozen (SIGSTOP) as soon as `ready` appears, so that the
 * program stays as it was then, and new connections must reach every
 * slot's socket: each waits in the accept queue of the socket the
 * program picked for it.
 */
#define NREADY	32
#define NTRIES	1000
static void
test_ready_steered(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*gate = tl_fifo_new(tl_tmpdir(), "gate");
	int			 i, k, fd, wfd, port;

	tl_start_conf(&d, tl_fmt("workers = %d\nready = notify\n"
	    "listen = 127.0.0.1:0\nlisten = 127.0.0.1:0\n"
	    "listen = 127.0.0.1:0\nlisten = 127.0.0.1:0\n"
	    "command = /bin/sh -c 'read x < %s && echo READY=1 >&"
	    "$DROVER_NOTIFY_FD && exec sleep 600'\n", NREADY, gate), NULL,
	    0);
	j = TL_WAIT(&d, WAIT_MS, TL_MIN(tl_fmt("slots.%d.pid", NREADY - 1),
	    1), TL_STR(tl_fmt("slots.%d.state", NREADY - 1), "starting"));
	if (j == NULL)
		bail("ready steered: the workers did not start");
	port = tl_port(j, 0);
	tl_json_free(j);

	if ((wfd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		sysbail("inotify_init1");
	if (inotify_add_watch(wfd, d.state, IN_CREATE | IN_MOVED_TO) == -1)
		sysbail("inotify_add_watch %s", d.state);
	for (k = 0; k < NREADY; k++)
		tl_fifo_release(gate);
	if (wait_created(wfd, "ready", WAIT_MS) == -1)
		bail("ready steered: `ready` did not appear");
	if (tl_daemon_kill(&d, SIGSTOP) == -1)
		sysbail("SIGSTOP to drover");
	close(wfd);

	/* Closed by the client, a connection stays queued all the same. */
	for (i = 0; i < NTRIES; i++) {
		if ((fd = tl_connect(port)) == -1)
			sysbail("connect");
		close(fd);
	}
	is_int(NREADY, listeners_queued(port), "ready steered: of %d "
	    "connections made as soon as `ready` appeared, some wait on "
	    "every slot's socket", NTRIES);
	if (tl_daemon_kill(&d, SIGCONT) == -1)
		sysbail("SIGCONT to drover");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "ready steered: drover stops "
	    "with status 0");
}

int
main(void)
{
	plan_lazy();
	test_crash();
	test_retire(0);
	test_retire(1);
	test_old_gone(0);
	test_old_gone(1);
	test_ready_steered();
	return 0;
}
