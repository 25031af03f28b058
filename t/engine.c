/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The engine under the orders operators actually give, each a case that
 * once broke the master:
 *
 *  - TTOU, then HUP 0 to 50 ms later, under load: the retired slot's
 *    socket was closed while the reload gave the slot a new worker, which
 *    got a closed (reused) descriptor; the rollback that followed freed
 *    the slot under the exit callback (use after free, SIGSEGV).
 *  - TTOU then TTIN a few ms apart: the slot stayed retiring with no
 *    worker, ready was gone for good, the next HUP never finished.
 *  - 1000 HUP, TTIN and TTOU 2 ms apart end consistent.
 *  - Out of descriptors: TTIN adds no slot it cannot open sockets for;
 *    a reload whose workers cannot be started rolls back instead of
 *    staying in progress; TTOU still works, status.json is still
 *    written, and a killed worker is replaced once descriptors are back.
 *  - Out of descriptors during a reload: the new worker is tried again
 *    after a restart delay that doubles, not at once and over again
 *    until the retries are spent; once descriptors are back the reload
 *    goes through.
 *  - A version that says READY=1 and dies 0.3 s later, in exec and in
 *    notify mode: rolled back, with the old workers serving throughout.
 *  - A slot that fails (restart budget spent) or halts with connections
 *    queued on its socket: where the kernel migrates queues
 *    (net.ipv4.tcp_migrate_req = 1, set in a network namespace of the
 *    test's own), the other slots serve them.
 *
 * After each, the master must settle: the wanted number of slots, each
 * ready, no old worker, the reload finished, and a continuous client
 * that saw no failed request.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		20000

/* What pred_settled waits for. */
struct settle {
	int		 nslots;	/* -1: any number, as status says */
	long long	 gen;		/* 0: any */
	const char	*result;	/* reload.result, or NULL: any done */
	long long	 hups;		/* more reload.requests than this */
};

static int		 pred_settled(const struct tl_json *, void *);
static struct tl_json	*settle(struct tl_daemon *, int, long long,
			    const char *);
static struct tl_json	*hup_settle(struct tl_daemon *, int);
static void		 client_done(struct tl_client *, const char *);
static void		 test_ttou_hup(void);
static void		 test_ttou_ttin(void);
static void		 test_burst(void);
static void		 test_emfile(void);
static void		 test_retry_delay(void);
static void		 test_ready_then_die(const char *);
static int		 private_net(void);
static void		 test_failed_queue(int);

static const char	*hello;

/*
 * Settled: a status.json written after the HUP w->hups counts to, running,
 * ready, no reload under way or pending, the wanted
 * number of slots (status "workers" and the slots array agree), each
 * ready with a worker of the current generation and no old worker.
 */
static int
pred_settled(const struct tl_json *j, void *arg)
{
	const struct settle	*w = arg;
	const char		*s;
	long long		 gen = tl_json_int(j, "generation", -1);
	int			 n = (int)tl_json_int(j, "workers", -1), k;

	if (tl_json_int(j, "reload.requests", 0) <= w->hups ||
	    (s = tl_json_str(j, "state")) == NULL || strcmp(s, "running") !=
	    0 || tl_json_bool(j, "ready") != 1 ||
	    tl_json_bool(j, "reload.pending") != 0)
		return 0;
	s = tl_json_str(j, "reload.result");
	if (s != NULL && (strcmp(s, "in-progress") == 0 ||
	    strcmp(s, "rolling-back") == 0))
		return 0;
	if (w->result != NULL && (s == NULL || strcmp(s, w->result) != 0))
		return 0;
	if ((w->nslots >= 0 && n != w->nslots) || n < 1 ||
	    (int)tl_json_len(j, "slots") != n || (w->gen > 0 && gen != w->gen))
		return 0;
	for (k = 0; k < n; k++) {
		if ((s = tl_json_str(j, tl_fmt("slots.%d.state", k))) == NULL ||
		    strcmp(s, "ready") != 0 ||
		    tl_json_int(j, tl_fmt("slots.%d.pid", k), 0) <= 0 ||
		    tl_json_int(j, tl_fmt("slots.%d.generation", k), 0) !=
		    gen ||
		    !tl_json_is_null(j, tl_fmt("slots.%d.old", k)))
			return 0;
	}
	return 1;
}

static struct tl_json *
settle(struct tl_daemon *d, int nslots, long long gen, const char *result)
{
	struct settle	 w;

	w.nslots = nslots;
	w.gen = gen;
	w.result = result;
	w.hups = -1;
	return tl_status_wait(d, pred_settled, &w, WAIT_MS);
}

/*
 * A HUP, then settled on nslots slots after it: a HUP still pending in
 * the kernel may merge with this one, but one at least is taken after
 * the status.json read first.
 */
static struct tl_json *
hup_settle(struct tl_daemon *d, int nslots)
{
	struct settle	 w;
	struct tl_json	*j;

	j = tl_status(d);
	w.hups = tl_json_int(j, "reload.requests", 0);
	tl_json_free(j);
	w.nslots = nslots;
	w.gen = 0;
	w.result = NULL;
	tl_daemon_kill(d, SIGHUP);
	return tl_status_wait(d, pred_settled, &w, WAIT_MS);
}

/* Stop a continuous client and check it saw no failed request. */
static void
client_done(struct tl_client *c, const char *what)
{
	struct tl_tally	 t = { 0 };
	int		 r;

	r = tl_client_stop(c, &t);
	ok(r == 0 && t.failures == 0 && t.requests > 0, "%s: the client saw "
	    "no failed request (%ld of %ld)", what, t.failures, t.requests);
}

/* TTOU then HUP, 0 to 50 ms apart, under load. */
static void
test_ttou_hup(void)
{
	static const int	 gaps[] = { 0, 2, 10, 25, 50 };
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	size_t			 i;
	int			 good = 0, round;

	j = tl_start_conf(&d, tl_fmt("workers = 3\nlisten = 127.0.0.1:0\n"
	    "reload_grace = 100ms\ncommand = %s\n", hello), NULL, 1);
	tl_client_start(&c, tl_port(j, 0), 0);
	tl_json_free(j);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
			tl_daemon_kill(&d, SIGTTOU);
			tl_pause_ms(gaps[i]);
			tl_daemon_kill(&d, SIGHUP);
			/*
			 * The HUP reads the file again: 3 workers, and one
			 * generation more each time.
			 */
			j = settle(&d, 3, 2 + round * 5 + (long long)i, "ok");
			if (j != NULL)
				good++;
			else
				diag("TTOU, HUP %d ms later: not settled",
				    gaps[i]);
			tl_json_free(j);
		}
	}
	is_int(10, good, "TTOU then HUP 0 to 50 ms later: each time the "
	    "reload finishes ok on 3 ready slots");
	ok(tl_daemon_kill(&d, 0) == 0 && !d.exited, "TTOU then HUP: the "
	    "master lives");
	client_done(&c, "TTOU then HUP");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "TTOU then HUP: drover stops "
	    "with status 0");
}

/* TTOU then TTIN a few ms apart: no wedge. */
static void
test_ttou_ttin(void)
{
	static const int	 gaps[] = { 0, 1, 5, 20, 50 };
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	size_t			 i;
	int			 good = 0;

	j = tl_start_conf(&d, tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "reload_grace = 100ms\ncommand = %s\n", hello), NULL, 1);
	tl_client_start(&c, tl_port(j, 0), 1);
	tl_json_free(j);
	for (i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
		tl_daemon_kill(&d, SIGTTOU);
		tl_pause_ms(gaps[i]);
		tl_daemon_kill(&d, SIGTTIN);
		/*
		 * Until the master has taken both signals, status.json may
		 * still be the one of before them.
		 */
		j = NULL;
		if (tl_wait_log_count(&d, "SIGTTOU", (int)i + 1, WAIT_MS) ==
		    0 && tl_wait_log_count(&d, "SIGTTIN", (int)i + 1,
		    WAIT_MS) == 0)
			j = settle(&d, 2, 0, NULL);
		if (j != NULL)
			good++;
		else
			diag("TTOU, TTIN %d ms later: not settled", gaps[i]);
		tl_json_free(j);
	}
	is_int(5, good, "TTOU then TTIN 0 to 50 ms later: back to 2 ready "
	    "slots each time");
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == 0, "TTOU then TTIN: "
	    "the ready file is there");
	tl_daemon_kill(&d, SIGHUP);
	j = settle(&d, 2, 2, "ok");
	ok(j != NULL, "TTOU then TTIN: a HUP after it finishes ok");
	tl_json_free(j);
	tl_daemon_kill(&d, SIGTTOU);
	j = settle(&d, 1, 2, "ok");
	ok(j != NULL, "TTOU then TTIN: TTOU still works");
	tl_json_free(j);
	tl_daemon_kill(&d, SIGUSR2);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("upgrade.result", "ok"));
	ok(j != NULL, "TTOU then TTIN: USR2 still works");
	tl_json_free(j);
	client_done(&c, "TTOU then TTIN");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "TTOU then TTIN: drover stops "
	    "with status 0");
}

/* 1000 HUP, TTIN and TTOU 2 ms apart. */
static void
test_burst(void)
{
	static const int	 sigs[] = { SIGHUP, SIGTTIN, SIGTTOU };
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	unsigned int		 seed = 1;
	int			 i;

	j = tl_start_conf(&d, tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "reload_grace = 50ms\nready = notify\ncommand = %s\n", hello),
	    NULL, 1);
	tl_client_start(&c, tl_port(j, 0), 0);
	tl_json_free(j);
	for (i = 0; i < 1000; i++) {
		tl_daemon_kill(&d, sigs[rand_r(&seed) % 3]);
		tl_pause_ms(2);
	}
	/* A last HUP: back to the file's 2 workers. */
	j = hup_settle(&d, 2);
	ok(j != NULL, "1000 signals 2 ms apart: drover settles on 2 ready "
	    "slots (generation %lld, %lld HUPs counted)",
	    tl_json_int(j, "generation", 0),
	    tl_json_int(j, "reload.requests", 0));
	tl_json_free(j);
	client_done(&c, "burst");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "burst: drover stops with "
	    "status 0");
}

/*
 * The master out of descriptors: scaling up adds nothing it cannot
 * open, a reload rolls back, TTOU works, status.json is still written,
 * and once descriptors are back a killed worker is replaced.
 */
static void
test_emfile(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	struct rlimit		 old;
	const char		*s;
	long long		 w0;

	tl_json_free(tl_start_conf(&d, tl_fmt("workers = 2\nlisten = "
	    "127.0.0.1:0\nreload_retries = 1\nrestart_delay = 10ms\n"
	    "restart_delay_max = 50ms\ncommand = %s\n", hello), NULL, 1));
	tl_fd_starve(d.pid, 0, &old);

	tl_daemon_kill(&d, SIGTTIN);
	is_int(0, tl_wait_log(&d, "cannot add 1 slots: keeping 2 workers",
	    WAIT_MS), "EMFILE: TTIN adds no slot it cannot open sockets for");
	/*
	 * The refused TTIN changes nothing status.json shows; that it is
	 * written while the master is short of descriptors is seen below,
	 * in the rolled-back reload.
	 */
	j = tl_status(&d);
	ok(tl_json_int(j, "workers", 0) == 2 && tl_json_bool(j, "ready") == 1,
	    "EMFILE: status.json says 2 workers, ready");
	tl_json_free(j);

	/* Two descriptors: the file can be read, a worker not started. */
	tl_fd_restore(d.pid, &old);
	tl_fd_starve(d.pid, 2, &old);
	tl_daemon_kill(&d, SIGHUP);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("reload.result", "rolled-back"));
	s = tl_json_str(j, "reload.error");
	ok(j != NULL && s != NULL && strstr(s, "could not be started") !=
	    NULL, "EMFILE: a reload whose workers cannot start rolls back, "
	    "as status.json written meanwhile says (%s)", s != NULL ? s :
	    "null");
	ok(j != NULL && tl_json_int(j, "workers", 0) == 2 &&
	    tl_json_bool(j, "ready") == 1, "EMFILE: 2 workers, ready, the "
	    "old ones");
	tl_json_free(j);
	tl_daemon_kill(&d, SIGTTOU);
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("workers", 1));
	ok(j != NULL, "EMFILE: TTOU still works");
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);

	if (w0 <= 0 || kill((pid_t)w0, SIGKILL) == -1)
		bail("no worker to kill");
	tl_fd_restore(d.pid, &old);
	sp.slot = 0;
	sp.oldpid = w0;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "EMFILE: with descriptors back, a killed worker is "
	    "replaced");
	tl_json_free(j);
	tl_daemon_kill(&d, SIGHUP);
	j = settle(&d, 2, 0, "ok");
	ok(j != NULL, "EMFILE: and a reload goes through");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "EMFILE: drover stops with "
	    "status 0");
}

/*
 * A reload whose new worker cannot be started (the master is out of
 * descriptors) tries again after restart_delay, doubling: after T ms
 * there have been at most 1 + log2(1 + T / 100) attempts (one more
 * allowed for the timer's granularity), where a retry at once or
 * without doubling would make many more.  Once descriptors are back the
 * reload goes through, with no rollback.
 */
static void
test_retry_delay(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct rlimit		 old;
	const char		*fail = "a new worker could not be started";
	long long		 t0, t, x;
	int			 n, most;

	tl_json_free(tl_start_conf(&d, tl_fmt("workers = 1\nlisten = "
	    "127.0.0.1:0\nreload_retries = 1000\nrestart_delay = 100ms\n"
	    "restart_delay_max = 10s\ncommand = %s\n", hello), NULL, 1));
	tl_fd_starve(d.pid, 2, &old);
	t0 = tl_now_ms();
	tl_daemon_kill(&d, SIGHUP);
	is_int(0, tl_wait_log_count(&d, fail, 5, WAIT_MS), "retry: the new "
	    "worker cannot be started, 5 times");
	n = tl_log_count(&d, fail);
	t = tl_now_ms() - t0;
	for (most = 2, x = 1 + t / 100; x >= 2; x /= 2)
		most++;
	ok(n <= most, "retry: %d attempts in %lld ms (at most %d): spaced "
	    "by a doubling restart delay", n, t, most);
	tl_fd_restore(d.pid, &old);
	j = settle(&d, 1, 2, "ok");
	ok(j != NULL, "retry: with descriptors back, the reload goes through");
	tl_json_free(j);
	is_int(0, tl_log_count(&d, "rolling back"), "retry: no rollback");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "retry: drover stops with "
	    "status 0");
}

/*
 * A new version that says READY=1 and dies 0.3 s later, serving nothing:
 * the reload rolls back, and the old workers serve throughout.  (The
 * grace is 3 s, so that a loaded machine's scheduling cannot stretch
 * those 0.3 s past it.)
 */
static void
test_ready_then_die(const char *mode)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	const char		*bad = "/bin/sh -c 'echo READY=1 "
				    ">&$DROVER_NOTIFY_FD; sleep 0.3; exit 1'";
	long long		 p0, p1;

#define DIE_CONF	"workers = 2\nlisten = 127.0.0.1:0\nready = %s\n" \
			"reload_grace = 3s\nrestart_delay = 10ms\n" \
			"command = %s\n"
	j = tl_start_conf(&d, tl_fmt(DIE_CONF, mode, hello), NULL, 1);
	p0 = tl_json_int(j, "slots.0.pid", 0);
	p1 = tl_json_int(j, "slots.1.pid", 0);
	tl_client_start(&c, tl_port(j, 0), 0);
	tl_json_free(j);
	tl_conf_rewrite(&d, DIE_CONF, mode, bad);
	tl_daemon_kill(&d, SIGHUP);
	j = settle(&d, 2, 1, "rolled-back");
	ok(j != NULL, "ready = %s: a version that dies 0.3 s after READY=1 "
	    "is rolled back", mode);
	ok(j != NULL && tl_json_int(j, "slots.0.pid", 0) == p0 &&
	    tl_json_int(j, "slots.1.pid", 0) == p1, "ready = %s: the old "
	    "workers serve on", mode);
	tl_json_free(j);
	client_done(&c, tl_fmt("ready = %s, dying version", mode));
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "ready = %s: drover stops "
	    "with status 0", mode);
}

/*
 * A network namespace of our own, with loopback up and queue migration
 * on (net.ipv4.tcp_migrate_req is per namespace).  Returns 0, or -1 if
 * it cannot be made here.
 */
static int
private_net(void)
{
	struct ifreq	 ifr;
	int		 fd, r;

	if (unshare(CLONE_NEWNET) == -1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
	r = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (r == -1 || ioctl(fd, SIOCSIFFLAGS, &ifr) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	if ((fd = open("/proc/sys/net/ipv4/tcp_migrate_req", O_WRONLY |
	    O_CLOEXEC)) == -1)
		return -1;
	r = write(fd, "1\n", 2) == 2 ? 0 : -1;
	close(fd);
	return r;
}

/*
 * Slot 1's worker hangs (ready, never accepting) while connections queue
 * on its socket, then dies, and so does every worker after it: the slot
 * fails (exit 1, budget of 1) or halts (exit 78).  The queued
 * connections are served by slot 0.
 */
static void
test_failed_queue(int code)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*what = code == 78 ? "halted" : "failed";
	const char		*dir = tl_tmpdir();
	const char		*fifo = tl_fifo_new(dir, "hang");
	const char		*mark = tl_fmt("%s/dead", dir);
	const char		*script = tl_fmt("%s/slot1.sh", dir);
	int			 fds[40], port, n, i, served = 0, status;
	char			 body[64];

	if (tl_write_file(script, "if [ $DROVER_WORKER_ID = 0 ]; then exec "
	    "'%s'; fi\n[ -e '%s' ] && exit %d\necho READY=1 "
	    ">&$DROVER_NOTIFY_FD\nread x < '%s'\nexit %d\n", hello, mark, code,
	    fifo, code) == -1)
		sysbail("%s", script);
	tl_json_free(tl_start_conf(&d, tl_fmt("workers = 2\nlisten = "
	    "127.0.0.1:0\nready = notify\nrestart_budget = 1\n"
	    "restart_window = 1h\nrestart_delay = 10ms\ncommand = /bin/sh "
	    "%s\n", script), NULL, 1));
	j = tl_status(&d);
	port = tl_port(j, 0);
	tl_json_free(j);
	/* Steered at random among the 2 ready slots: about half queue on 1. */
	for (n = 0; n < 40; n++) {
		if ((fds[n] = tl_connect(port)) == -1 ||
		    tl_http_request(fds[n], "/", 0) == -1)
			sysbail("connect");
	}
	if (tl_write_file(mark, "dead\n") == -1)
		sysbail("%s", mark);
	tl_fifo_release(fifo);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.1.state", what));
	ok(j != NULL, "queue: slot 1 is %s", what);
	tl_json_free(j);
	for (i = 0; i < n; i++) {
		if (tl_http_response(fds[i], 5000, &status, body, sizeof(body),
		    NULL) == 0 && status == 200)
			served++;
		close(fds[i]);
	}
	is_int(n, served, "queue: all %d connections made before slot 1 was "
	    "%s are answered, those queued on its socket by slot 0", n, what);
	is_int(0, tl_wait_log(&d, "its sockets are closed while it is", 0),
	    "queue: the log says slot 1's sockets were closed");
	/* A reload gives it a new chance: its sockets come back. */
	if (unlink(mark) == -1)
		sysbail("unlink %s", mark);
	tl_daemon_kill(&d, SIGHUP);
	j = settle(&d, 2, 2, NULL);
	ok(j != NULL && tl_json_int(j, "listeners.0.sockets", 0) == 2,
	    "queue: after a reload slot 1 serves again, with its socket");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "queue: drover stops with "
	    "status 0");
}

int
main(void)
{
	plan_lazy();
	hello = tl_path("examples/hello-c/hello-c");
	test_ttou_hup();
	test_ttou_ttin();
	test_burst();
	test_emfile();
	test_retry_delay();
	test_ready_then_die("exec");
	test_ready_then_die("notify");
	if (private_net() == -1)
		bail("cannot make a network namespace (needs root): %s",
		    strerror(errno));
	test_failed_queue(1);
	test_failed_queue(78);
	return 0;
}
