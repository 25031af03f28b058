/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The health endpoint (health = ADDRESS): its port shows in status.json;
 * GET /healthz/liveness answers 200, /healthz/readiness 200 or 503 as
 * the ready file says (503 while a worker has not said READY=1, and
 * while a slot is halted), /status the content of status.json; other
 * methods get 405, other paths 404, an over-long request 431.  No client
 * can hold the master: a request that never ends is cut after 5 seconds
 * while others are served, and 16 idle clients neither stop the master
 * from restarting a worker nor keep a 17th from its answer: the oldest
 * of them is closed to make room.  No worker ever receives the health
 * listener.  Out of descriptors, the master neither spins nor floods its
 * log.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/* How long a wait for something that must happen may take. */
#define WAIT_MS		10000
/* The master's limits (health.c): clients at once, request timeout. */
#define MAXCONN		16
#define TIMEOUT_MS	5000

static int		 request(int, const char *, char *, size_t);
static int		 get(int, const char *, char *, size_t);
static long		 wait_closed(int, int, size_t *);
static unsigned long	 listen_inode(int);
static int		 has_inode(pid_t, unsigned long);
static long long	 cpu_ticks(pid_t);
static void		 test_emfile(void);

/*
 * Send the raw request text on a new connection to port and read one
 * response.  Returns its status, with the body in body, or -1.
 */
static int
request(int port, const char *text, char *body, size_t bodysz)
{
	size_t	 len = strlen(text), off = 0;
	ssize_t	 n;
	int	 fd, r, status;

	if ((fd = tl_connect(port)) == -1)
		return -1;
	while (off < len) {
		if ((n = send(fd, text + off, len - off, MSG_NOSIGNAL)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	r = tl_http_response(fd, WAIT_MS, &status, body, bodysz, NULL);
	close(fd);
	return r == 0 ? status : -1;
}

/* GET path on a new connection: the status, with the body, or -1. */
static int
get(int port, const char *path, char *body, size_t bodysz)
{
	int	 status;

	if (tl_http_get(port, path, &status, body, bodysz) == -1)
		return -1;
	return status;
}

/*
 * Wait until the peer closes fd (end of file, or a reset), reading and
 * counting whatever comes first into *got.  Returns the milliseconds it
 * took, or -1 if fd was still open after timeout_ms.
 */
static long
wait_closed(int fd, int timeout_ms, size_t *got)
{
	struct pollfd	 pfd;
	long long	 t0 = tl_now_ms(), left;
	char		 buf[4096];
	ssize_t		 n;

	*got = 0;
	for (;;) {
		if ((left = t0 + timeout_ms - tl_now_ms()) <= 0)
			return -1;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			sysbail("poll");
		}
		if (pfd.revents == 0)
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			*got += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		return (long)(tl_now_ms() - t0);
	}
}

/*
 * The inode of the TCP socket listening on 127.0.0.1:port, from
 * /proc/net/tcp, or 0.
 */
static unsigned long
listen_inode(int port)
{
	char		 line[512], want[32];
	unsigned long	 ino = 0, i;
	unsigned int	 st;
	FILE		*fp;

	snprintf(want, sizeof(want), "0100007F:%04X", port);
	if ((fp = fopen("/proc/net/tcp", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char	 local[64];

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu",
		    local, &st, &i) != 3)
			continue;
		if (strcmp(local, want) == 0 && st == 0x0A) {
			ino = i;
			break;
		}
	}
	fclose(fp);
	return ino;
}

/* Whether process pid holds the socket with inode ino. */
static int
has_inode(pid_t pid, unsigned long ino)
{
	unsigned long	 inos[256];
	int		 n, i;

	if ((n = tl_fd_inodes(pid, inos, NULL, 256)) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (inos[i] == ino)
			return 1;
	return 0;
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j, *sj;
	struct tl_slot_pid	 sp;
	const char		*dir, *fifo, *script, *stopfile;
	const char		*half = "GET /healthz/liveness HTTP/1.1\r\n"
				    "Host: x\r\n";
	char			 body[65536], big[3001];
	unsigned long		 hino;
	long long		 w0, w1, t0;
	long			 took;
	size_t			 got;
	pid_t			 kids[64];
	int			 port, hport, status, fd, i, n, leak;
	int			 idle[MAXCONN], late;

	plan_lazy();
	dir = tl_tmpdir();
	fifo = tl_fifo_new(dir, "gate");
	stopfile = tl_fmt("%s/stop", dir);
	/*
	 * Slot 0's first worker waits for the test before READY=1; slot 1's
	 * workers exit 78 (halting the slot) once the stop file exists.
	 */
	script = tl_fmt("case $DROVER_WORKER_ID in "
	    "0) [ -e '%s/passed' ] || { read x < '%s'; : > '%s/passed'; };; "
	    "1) [ -e '%s' ] && exit 78;; esac; "
	    "echo READY=1 >&$DROVER_NOTIFY_FD; exec sleep 600",
	    dir, fifo, dir, stopfile);
	{
		const char *const argv[] = { "-w", "2", "-l", "127.0.0.1:0",
		    "--", "/bin/sh", "-c", script, NULL };

		tl_start_conf(&d, "health = 127.0.0.1:0\nready = notify\n"
		    "restart_delay = 10ms\nstop_timeout = 5s\n", argv, 0);
	}

	/* Not ready yet: slot 0 waits on the FIFO. */
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.0.state", "starting"),
	    TL_STR("slots.1.state", "ready"), TL_MIN("health.port", 1));
	if (j == NULL)
		bail("slot 1 never became ready with slot 0 starting");
	hport = (int)tl_json_int(j, "health.port", -1);
	port = tl_port(j, 0);
	ok(hport > 0 && hport != port, "status.json names the health port "
	    "(%d), not the workers' (%d)", hport, port);
	is_string("127.0.0.1:0", tl_json_str(j, "health.address"),
	    "status.json shows the health address as configured");
	tl_json_free(j);
	is_int(200, get(hport, "/healthz/liveness", body, sizeof(body)),
	    "liveness answers 200 while the cluster is still starting");
	is_int(503, get(hport, "/healthz/readiness", body, sizeof(body)),
	    "readiness answers 503 while slot 0 has not said READY=1");
	is_string("not ready\n", body, "with \"not ready\"");
	ok(access(tl_fmt("%s/ready", d.state), F_OK) == -1,
	    "and there is no ready file either");

	/* Ready. */
	tl_fifo_release(fifo);
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	if (j == NULL)
		bail("the workers never became ready");
	w0 = tl_json_int(j, "slots.0.pid", 0);
	w1 = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);
	is_int(200, get(hport, "/healthz/readiness", body, sizeof(body)),
	    "readiness answers 200 once every slot is ready");
	is_string("ready\n", body, "with \"ready\"");
	is_int(200, get(hport, "/healthz/liveness", body, sizeof(body)),
	    "liveness answers 200");
	is_string("alive\n", body, "with \"alive\"");

	/* /status is status.json. */
	is_int(200, get(hport, "/status", body, sizeof(body)), "/status "
	    "answers 200");
	sj = tl_json_parse(body);
	ok(sj != NULL, "with a JSON document");
	is_int(d.pid, tl_json_int(sj, "pid", 0), "/status names the master's "
	    "pid");
	is_int(1, tl_json_bool(sj, "ready"), "/status says the cluster is "
	    "ready");
	is_int(hport, tl_json_int(sj, "health.port", 0), "/status shows the "
	    "health port");
	is_int(w0, tl_json_int(sj, "slots.0.pid", 0), "/status shows slot "
	    "0's worker");
	tl_json_free(sj);

	/* Wrong method, unknown path, a request too large. */
	is_int(405, request(hport, "POST /status HTTP/1.0\r\n"
	    "Content-Length: 0\r\n\r\n", body, sizeof(body)),
	    "POST is answered 405");
	is_int(405, request(hport, "HEAD /healthz/liveness HTTP/1.0\r\n\r\n",
	    body, sizeof(body)), "HEAD is answered 405");
	is_int(404, request(hport, "GET /nowhere HTTP/1.0\r\n\r\n", body,
	    sizeof(body)), "an unknown path is answered 404");
	is_int(404, request(hport, "GET /healthz/livenessX HTTP/1.0\r\n\r\n",
	    body, sizeof(body)), "a path that only starts like a known one is "
	    "answered 404");
	is_int(200, request(hport, "GET /healthz/readiness HTTP/1.0\n\n", body,
	    sizeof(body)), "a request ended by bare newlines is understood");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "GET /healthz/liveness HTTP/1.0\r\nX-Pad: ",
	    strlen("GET /healthz/liveness HTTP/1.0\r\nX-Pad: "));
	if ((fd = tl_connect(hport)) == -1)
		sysbail("connect");
	if (send(fd, big, strlen(big), MSG_NOSIGNAL) != (ssize_t)strlen(big))
		sysbail("send");
	if (tl_http_response(fd, WAIT_MS, &status, body, sizeof(body), NULL) ==
	    -1)
		status = -1;
	is_int(431, status, "3000 bytes without the end of the headers are "
	    "answered 431");
	ok(wait_closed(fd, WAIT_MS, &got) >= 0 && got == 0, "and the "
	    "connection is closed after the answer");
	close(fd);

	/* A client that never finishes its request. */
	if ((fd = tl_connect(hport)) == -1)
		sysbail("connect");
	t0 = tl_now_ms();
	if (send(fd, half, strlen(half), MSG_NOSIGNAL) != (ssize_t)strlen(half))
		sysbail("send");
	for (i = 0, n = 0; i < 3; i++)
		if (get(hport, "/healthz/liveness", body, sizeof(body)) ==
		    200)
			n++;
	ok(n == 3, "while a client sends half a request, others are "
	    "answered (%d of 3)", n);
	took = wait_closed(fd, WAIT_MS, &got);
	took = took >= 0 ? (long)(tl_now_ms() - t0) : -1;
	ok(took >= TIMEOUT_MS - 500 && got == 0, "the slow client is "
	    "closed without an answer after the %d ms timeout (%ld ms)",
	    TIMEOUT_MS, took);
	close(fd);

	/*
	 * Sixteen idle clients take every place, and the master still
	 * restarts a worker meanwhile.  A seventeenth is answered at once
	 * all the same: the oldest idle client is closed, unanswered, to
	 * make room for it, long before its timeout; the others stay.
	 */
	t0 = tl_now_ms();
	for (i = 0; i < MAXCONN; i++)
		if ((idle[i] = tl_connect(hport)) == -1)
			sysbail("connect");
	if (kill((pid_t)w0, SIGKILL) == -1)
		sysbail("kill %lld", w0);
	sp.slot = 0;
	sp.oldpid = w0;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL && tl_json_bool(j, "ready") == 1, "with %d idle health "
	    "clients, a killed worker is replaced and status.json rewritten",
	    MAXCONN);
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	if ((late = tl_connect(hport)) == -1)
		sysbail("connect");
	if (tl_http_request(late, "/healthz/readiness", 0) == -1)
		sysbail("send");
	if (tl_http_response(late, 1000, &status, body, sizeof(body),
	    NULL) == -1)
		status = -1;
	is_int(200, status, "with %d idle clients, the %dth is answered "
	    "within 1 s", MAXCONN, MAXCONN + 1);
	close(late);
	ok(wait_closed(idle[0], 1000, &got) >= 0 && got == 0, "the oldest "
	    "idle client is closed, unanswered, to make room");
	ok(tl_now_ms() - t0 < TIMEOUT_MS - 500, "and that was not its "
	    "timeout");
	for (i = 1, n = 0; i < MAXCONN; i++) {
		struct pollfd	 pfd = { .fd = idle[i], .events = POLLIN };

		if (poll(&pfd, 1, 0) == 0)
			n++;
	}
	is_int(MAXCONN - 1, n, "the other idle clients are still connected");
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("health.evicted", 1));
	ok(j != NULL, "status.json counts one connection evicted");
	tl_json_free(j);
	for (i = 0; i < MAXCONN; i++)
		close(idle[i]);
	is_int(200, get(hport, "/healthz/liveness", body, sizeof(body)),
	    "the endpoint serves normally afterwards");

	/* No worker has the health listener. */
	hino = listen_inode(hport);
	ok(hino != 0 && has_inode(d.pid, hino) == 1, "the master holds the "
	    "health listener (inode %lu)", hino);
	n = tl_children(d.pid, kids, 64);
	leak = 0;
	for (i = 0; i < n; i++)
		if (has_inode(kids[i], hino) == 1)
			leak++;
	ok(n >= 2 && leak == 0, "none of the master's %d children holds it",
	    n);

	/* A halted slot: not ready, 503. */
	if (tl_write_file(stopfile, "stop\n") == -1)
		sysbail("%s", stopfile);
	if (kill((pid_t)w1, SIGKILL) == -1)
		sysbail("kill %lld", w1);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("slots.1.state", "halted"));
	ok(j != NULL && tl_json_bool(j, "ready") == 0, "slot 1 is halted and "
	    "the cluster not ready");
	tl_json_free(j);
	is_int(503, get(hport, "/healthz/readiness", body, sizeof(body)),
	    "readiness answers 503 with a halted slot");
	is_int(200, get(hport, "/healthz/liveness", body, sizeof(body)),
	    "liveness still answers 200");

	is_int(0, tl_daemon_stop(&d, WAIT_MS), "drover stops with status 0");
	fd = tl_connect(hport);
	ok(fd == -1 && errno == ECONNREFUSED, "the health port is closed with "
	    "it");
	if (fd != -1)
		close(fd);
	is_int(0, tl_wait_pid_gone((pid_t)w0, WAIT_MS), "the workers are "
	    "gone");
	test_emfile();
	return 0;
}

/* utime + stime of pid, in clock ticks, or -1. */
static long long
cpu_ticks(pid_t pid)
{
	char		*text, *p;
	long long	 ut, st;

	if ((text = tl_slurp(tl_fmt("/proc/%ld/stat", (long)pid))) == NULL)
		return -1;
	/* After "pid (comm) ": state is field 3, utime 14, stime 15. */
	if ((p = strrchr(text, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut,
	    &st) != 2)
		ut = st = -1;
	free(text);
	return ut < 0 ? -1 : ut + st;
}

/*
 * Out of descriptors (RLIMIT_NOFILE lowered under the running master),
 * a client of the health endpoint cannot be accepted: the master pauses
 * the listener and tries again from a timer instead of spinning on a
 * listener that stays readable; it says so once, not at every try; and
 * once descriptors are available again the waiting client is answered.
 */
static void
test_emfile(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct rlimit		 old;
	struct pollfd		 pfd;
	const char		*argv[] = { "-w", "1", "-l", "127.0.0.1:0",
				    "--", "/bin/sleep", "1000", NULL };
	const char		*req = "GET /healthz/liveness HTTP/1.0\r\n\r\n";
	long long		 t0, t1, hz = sysconf(_SC_CLK_TCK);
	char			 buf[256], *log;
	ssize_t			 n;
	int			 hport, fd;

	j = tl_start_conf(&d, "health = 127.0.0.1:0\n", argv, 1);
	hport = (int)tl_json_int(j, "health.port", -1);
	tl_json_free(j);
	tl_fd_starve(d.pid, 0, &old);

	if ((fd = tl_connect(hport)) == -1 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		sysbail("connect to the health port");
	is_int(0, tl_wait_log(&d, "health: accept", WAIT_MS), "EMFILE: the "
	    "master says it cannot accept");
	t0 = cpu_ticks(d.pid);
	/* Two seconds in which a busy master would log and spin. */
	is_int(-1, tl_wait_log(&d, "more times since", 2000), "EMFILE: and "
	    "does not say it again within 2 s");
	t1 = cpu_ticks(d.pid);
	ok(t0 >= 0 && t1 - t0 <= hz / 5, "EMFILE: the master used %lld "
	    "ticks of CPU in those 2 s (at most %lld: no busy loop)", t1 - t0,
	    hz / 5);
	log = tl_slurp(d.log);
	is_int(1, tl_count(log, "health: accept"), "EMFILE: one line in the "
	    "log");
	free(log);

	tl_fd_restore(d.pid, &old);
	pfd.fd = fd;
	pfd.events = POLLIN;
	n = 0;
	if (poll(&pfd, 1, WAIT_MS) == 1)
		n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	ok(strncmp(buf, "HTTP/1.0 200", 12) == 0, "EMFILE: with descriptors "
	    "back, the waiting client is answered");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "EMFILE: drover stops with "
	    "status 0");
}
