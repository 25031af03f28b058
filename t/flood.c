/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * A notify flood on both channels during a reload.  Each worker (hello-c)
 * has a child, this program run with --flood, that sends STATUS= lines
 * on the worker's stream (DROVER_NOTIFY_FD) and STATUS= datagrams to its
 * socket (NOTIFY_SOCKET) as fast as it can for FLOOD_MS: the old
 * generation's children from when the test lets them go, the new one's
 * from their start.  Meanwhile the reload completes ok, the master
 * answers its health endpoint promptly all along, a continuous client
 * sees no failed request, and afterwards the master has as many
 * descriptors as before and no more memory than a little slack, and
 * status.json is true of its workers.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

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

#define WAIT_MS		30000
#define FLOOD_MS	1500
/* The longest a health probe may take while the master is flooded. */
#define PROBE_MS	1000
#define MAXFD		256

static void	 flood_main(const char *, int) __attribute__((__noreturn__));
static const char *conf(const char *);
static long	 probe(int);
static int	 settled_fds(pid_t, int);
static void	 test_flood(void);

static const char	*self, *hello, *gate;

/*
 * The flooder: wait for a line on the FIFO gate (unless it is "-"), then
 * for ms milliseconds send a STATUS= datagram and write a STATUS= line,
 * over and over.  It ends when the time is up or its worker's stream is
 * gone.
 */
static void
flood_main(const char *fifo, int ms)
{
	static const char	 line[] = "STATUS=flood\n";
	struct sockaddr_un	 sun;
	const char		*nfd = getenv("DROVER_NOTIFY_FD");
	const char		*path = getenv("NOTIFY_SOCKET");
	long long		 end;
	char			 c;
	int			 fd, s, i;

	signal(SIGPIPE, SIG_IGN);
	if (strcmp(fifo, "-") != 0) {
		if ((fd = open(fifo, O_RDONLY)) == -1)
			_exit(1);
		while (read(fd, &c, 1) == 1 && c != '\n')
			;
		close(fd);
	}
	if (nfd == NULL || path == NULL || strlen(path) >= sizeof(sun.sun_path))
		_exit(1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		_exit(1);
	fd = atoi(nfd);
	for (end = tl_now_ms() + ms; tl_now_ms() < end; ) {
		for (i = 0; i < 100; i++) {
			(void)send(s, "STATUS=dflood", 13, 0);
			/* One line a write: lines of the worker stay whole. */
			if (write(fd, line, sizeof(line) - 1) == -1 &&
			    errno != EINTR)
				_exit(0);
		}
	}
	_exit(0);
}

/* The configuration: flooders gated by the FIFO, or not ("-"). */
static const char *
conf(const char *fifo)
{
	return tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "health = 127.0.0.1:0\nready = notify\nreload_grace = 100ms\n"
	    "command = /bin/sh -c \"'%s' --flood '%s' %d & exec '%s'\"\n",
	    self, fifo, FLOOD_MS, hello);
}

/*
 * The master's number of descriptors once it is back to want, within
 * WAIT_MS: one it closes on an event it has still to handle (a health
 * probe's connection, say) may be open a moment longer.  If it does not
 * come back, what it is then, each descriptor shown.
 */
static int
settled_fds(pid_t pid, int want)
{
	char		 link[256];
	long long	 deadline = tl_now_ms() + WAIT_MS;
	ssize_t		 len;
	int		 fds[MAXFD], i, n;

	while ((n = tl_fd_list(pid, fds, MAXFD)) != want &&
	    tl_now_ms() < deadline)
		(void)poll(NULL, 0, 10);
	for (i = 0; n != want && i < n; i++) {
		len = readlink(tl_fmt("/proc/%d/fd/%d", (int)pid, fds[i]), link,
		    sizeof(link) - 1);
		link[len > 0 ? len : 0] = '\0';
		diag("master descriptor %d: %s", fds[i], link);
	}
	return n;
}

/* How long a GET /healthz/liveness to port takes, in ms; -1 if not 200. */
static long
probe(int port)
{
	long long	 t0 = tl_now_ms();
	int		 status;

	if (tl_http_get(port, "/healthz/liveness", &status, NULL, 0) == -1 ||
	    status != 200)
		return -1;
	return (long)(tl_now_ms() - t0);
}

static void
test_flood(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c;
	const char		*s;
	long			 rss0, rss1, slack, t, worst = 0, bound;
	long long		 deadline;
	pid_t			 w[2], kids[8];
	int			 fds[MAXFD], nfd0, nfd1, hport, probes = 0;
	int			 failed = 0, done = 0, k, n, nk, gone;

	j = tl_start_conf(&d, conf(gate), NULL, 1);
	hport = (int)tl_json_int(j, "health.port", -1);
	tl_client_start(&c, tl_port(j, 0), 0);
	tl_json_free(j);
	nfd0 = tl_fd_list(d.pid, fds, MAXFD);
	rss0 = tl_proc_status_kb(d.pid, "VmRSS");

	tl_fifo_release(gate);
	tl_fifo_release(gate);
	/*
	 * By the count of messages read: hello-c sends a STATUS= of its own
	 * when its connections change, so STATUS=flood is a slot's status
	 * only now and then.  hello-c sends at most one a second; its
	 * flooder fills the stream's pipe (64 KiB, 5041 lines) at least.
	 */
	j = TL_WAIT(&d, WAIT_MS, TL_MIN("slots.0.notify.messages", 1000),
	    TL_MIN("slots.1.notify.messages", 1000));
	ok(j != NULL, "flood: both workers' children flood");
	tl_json_free(j);

	/* The reload, its workers flooding from their start. */
	tl_conf_rewrite(&d, "%s", conf("-"));
	tl_daemon_kill(&d, SIGHUP);
	deadline = tl_now_ms() + WAIT_MS;
	while (!done && tl_now_ms() < deadline) {
		if ((t = probe(hport)) == -1)
			failed++;
		worst = t > worst ? t : worst;
		probes++;
		j = tl_status(&d);
		s = tl_json_str(j, "reload.result");
		done = tl_json_int(j, "reload.generation", 0) == 2 &&
		    s != NULL && strcmp(s, "in-progress") != 0;
		tl_json_free(j);
	}
	j = tl_wait_generation(&d, 2, 2, WAIT_MS);
	ok(j != NULL, "flood: the reload completes ok, generation 2 alone");
	tl_json_free(j);
	/* Under a wrapper (valgrind) everything is ten times slower. */
	bound = getenv("TL_DAEMON_WRAPPER") != NULL &&
	    *getenv("TL_DAEMON_WRAPPER") != '\0' ? 10 * PROBE_MS : PROBE_MS;
	ok(failed == 0 && worst <= bound, "flood: the health endpoint "
	    "answered each of %d probes during the reload, the slowest in "
	    "%ld ms (at most %ld)", probes, worst, bound);

	/* The new flooders end, then the master is as it was. */
	j = tl_status(&d);
	tl_pids(j, w, 2);
	for (k = 0, n = 0; k < 2; k++)
		if (w[k] > 0 && (nk = tl_children(w[k], kids + n, 8 - n)) > 0)
			n += nk;
	/* Those already done are gone, or zombies of their worker. */
	for (k = gone = 0; k < n; k++)
		gone += tl_wait_pid_gone(kids[k], WAIT_MS) == 0;
	ok(w[0] > 0 && w[1] > 0 && gone == n, "flood: the flooders of "
	    "generation 2 are done");
	tl_json_free(j);
	j = tl_status(&d);
	ok(j != NULL && tl_json_int(j, "slots.0.notify.malformed", -1) == 0 &&
	    tl_json_int(j, "slots.1.notify.malformed", -1) == 0,
	    "flood: no message was malformed (%lld and %lld read)",
	    tl_json_int(j, "slots.0.notify.messages", -1),
	    tl_json_int(j, "slots.1.notify.messages", -1));
	tl_check_true(&d, j, "flood", 0);
	tl_json_free(j);
	nfd1 = settled_fds(d.pid, nfd0);
	rss1 = tl_proc_status_kb(d.pid, "VmRSS");
	is_int(nfd0, nfd1, "flood: the master has as many descriptors as "
	    "before (%d)", nfd0);
	if (getenv("TL_DAEMON_WRAPPER") != NULL &&
	    *getenv("TL_DAEMON_WRAPPER") != '\0')
		skip("flood: VmRSS under TL_DAEMON_WRAPPER is the wrapper's");
	else if (getenv("DROVER_TEST_SANITIZED") != NULL)
		/* Freed memory stays in ASan's quarantine, up to 256 MB. */
		skip("flood: VmRSS under ASan holds its quarantine");
	else {
		slack = 1024;
		ok(rss1 > 0 && rss1 - rss0 <= slack, "flood: the master's "
		    "VmRSS after (%ld kB) is within %ld kB of before (%ld kB)",
		    rss1, slack, rss0);
	}
	tl_check_client(&c, NULL, "flood", 10, 0);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "flood: drover stops with "
	    "status 0");
}

int
main(int argc, char *argv[])
{
	if (argc == 4 && strcmp(argv[1], "--flood") == 0)
		flood_main(argv[2], atoi(argv[3]));
	plan_lazy();
	if ((self = realpath("/proc/self/exe", NULL)) == NULL)
		sysbail("realpath /proc/self/exe");
	hello = tl_path("examples/hello-c/hello-c");
	gate = tl_fifo_new(tl_tmpdir(), "gate");
	test_flood();
	return 0;
}
