/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The health endpoint under a crowd: clients hold 100 idle connections
 * (plain connects that send nothing, and some that send half a request
 * line), and more arrive before every probe, so that every place the
 * master has for clients is always taken by an idle one.  Still each of
 * 20 probes (liveness, readiness, /status) is answered within 1 s, the
 * master keeps at most its 16 client connections open (counted in
 * /proc/PID/fd), its memory does not grow from one crowd to the next,
 * and it goes on supervising: a killed worker is replaced.  The same
 * with the health endpoint on a unix socket.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/* How long a wait for something that must happen may take. */
#define WAIT_MS		10000
/* How long a probe, connection included, may take. */
#define PROBE_MS	1000
/* The master's places for clients (health.c). */
#define MAXCONN		16
/* Idle connections at first, more before each probe, probes. */
#define NIDLE		100
#define NMORE		5
#define NPROBE		20
#define MAXFD		1024

struct crowd {
	struct sockaddr_storage	 c_ss;
	socklen_t		 c_len;
	int			 c_fd[NIDLE + NPROBE * NMORE];
	int			 c_n;
};

static int	 connect_by(const struct crowd *, int);
static int	 gather(struct crowd *, int);
static int	 probe(const struct crowd *, const char *, pid_t);
static void	 scatter(struct crowd *);
static int	 round_of(const char *, struct crowd *, pid_t, int);
static void	 test_crowd(const char *, int);

/*
 * A connection to the endpoint made within ms, or -1.  The send timeout
 * bounds connect(2): a listener that does not accept costs the deadline,
 * not the kernel's retries, and a unix socket whose queue is full is
 * waited on rather than refused.
 */
static int
connect_by(const struct crowd *c, int ms)
{
	struct timeval	 tv;
	int		 fd;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if ((fd = socket(c->c_ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) == -1)
		sysbail("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		sysbail("SO_SNDTIMEO");
	if (connect(fd, (const struct sockaddr *)&c->c_ss, c->c_len) ==
	    -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Open n more idle connections, every third sending half a request
 * line; returns how many could be made.  A crowd may well connect
 * faster than the master accepts, and a SYN dropped by a full queue is
 * sent again a second later: they have WAIT_MS each.
 */
static int
gather(struct crowd *c, int n)
{
	static const char	 half[] = "GET /healthz/liven";
	int			 i, made = 0, fd;

	for (i = 0; i < n; i++) {
		if ((fd = connect_by(c, WAIT_MS)) == -1)
			continue;
		if (c->c_n % 3 == 2)
			(void)send(fd, half, sizeof(half) - 1, MSG_NOSIGNAL);
		c->c_fd[c->c_n++] = fd;
		made++;
	}
	return made;
}

/* Close every idle connection. */
static void
scatter(struct crowd *c)
{
	while (c->c_n > 0)
		close(c->c_fd[--c->c_n]);
}

/*
 * GET path, all within PROBE_MS: 1 if it is answered 200 with what it
 * should say (/status: the master's pid), else 0.
 */
static int
probe(const struct crowd *c, const char *path, pid_t master)
{
	static char		 body[65536];
	struct tl_json		*j;
	long long		 deadline = tl_now_ms() + PROBE_MS, left;
	int			 fd, status = -1, good;

	if ((fd = connect_by(c, PROBE_MS)) == -1) {
		diag("%s: no connection within %d ms", path, PROBE_MS);
		return 0;
	}
	left = deadline - tl_now_ms();
	if (tl_http_request(fd, path, 0) == -1 || left <= 0 ||
	    tl_http_response(fd, (int)left, &status, body, sizeof(body),
	    NULL) == -1) {
		diag("%s: no answer within %d ms", path, PROBE_MS);
		close(fd);
		return 0;
	}
	close(fd);
	if (strcmp(path, "/status") == 0) {
		j = tl_json_parse(body);
		good = tl_json_int(j, "pid", 0) == master;
		tl_json_free(j);
	} else
		good = strcmp(body, strcmp(path, "/healthz/liveness") == 0 ?
		    "alive\n" : "ready\n") == 0;
	if (status != 200 || !good)
		diag("%s: answered %d \"%.40s\"", path, status, body);
	return status == 200 && good;
}

/*
 * One crowd: NIDLE idle connections, then NPROBE probes, each after
 * NMORE more idle ones.  Checks that every connection and probe made it
 * and that the master held at most MAXCONN more descriptors than with
 * no client (nfd0).  Returns the number of idle connections made.
 */
static int
round_of(const char *what, struct crowd *c, pid_t master, int nfd0)
{
	static const char *const paths[] = { "/healthz/liveness",
				    "/healthz/readiness", "/status" };
	int			 fds[MAXFD];
	int			 i, made, answered = 0, nfd, most = 0;

	made = gather(c, NIDLE);
	for (i = 0; i < NPROBE; i++) {
		made += gather(c, NMORE);
		answered += probe(c, paths[i % 3], master);
		if ((nfd = tl_fd_list(master, fds, MAXFD)) > most)
			most = nfd;
	}
	is_int(NIDLE + NPROBE * NMORE, made, "%s: %d idle connections were "
	    "made", what, NIDLE + NPROBE * NMORE);
	is_int(NPROBE, answered, "%s: every one of %d probes among them was "
	    "answered within %d ms", what, NPROBE, PROBE_MS);
	ok(most > 0 && most <= nfd0 + MAXCONN, "%s: the master had at most "
	    "%d descriptors open (%d without clients, at most %d more)",
	    what, most, nfd0, MAXCONN);
	return made;
}

static void
test_crowd(const char *what, int unixsock)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	struct crowd		 c;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", "/bin/sleep", "1000", NULL };
	const char		*sock;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&c.c_ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&c.c_ss;
	int			 fds[MAXFD], nfd0;
	long			 rss1, rss2, slack;
	long long		 w0;

	memset(&c, 0, sizeof(c));
	sock = tl_fmt("%s/health.sock", tl_tmpdir());
	if (unixsock)
		j = tl_start_conf(&d, tl_fmt("health = unix:%s\n", sock), argv,
		    1);
	else
		j = tl_start_conf(&d, "health = 127.0.0.1:0\n", argv, 1);
	if (unixsock) {
		sun->sun_family = AF_UNIX;
		if (strlcpy(sun->sun_path, sock, sizeof(sun->sun_path)) >=
		    sizeof(sun->sun_path))
			bail("%s: too long", sock);
		c.c_len = sizeof(*sun);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)tl_json_int(j,
		    "health.port", 0));
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		c.c_len = sizeof(*sin);
	}
	w0 = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	nfd0 = tl_fd_list(d.pid, fds, MAXFD);

	(void)round_of(what, &c, d.pid, nfd0);
	/* With the crowd still there, the master supervises. */
	if (kill((pid_t)w0, SIGKILL) == -1)
		sysbail("kill %lld", w0);
	sp.slot = 0;
	sp.oldpid = w0;
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "%s: with the crowd there, a killed worker is replaced",
	    what);
	ok(tl_json_int(j, "health.evicted", 0) >= NIDLE, "%s: status.json "
	    "counts the idle connections closed to make room (%lld)", what,
	    tl_json_int(j, "health.evicted", 0));
	tl_json_free(j);
	scatter(&c);

	/* Everything has been done once: now the memory must stay. */
	rss1 = tl_proc_status_kb(d.pid, "VmRSS");
	(void)round_of(tl_fmt("%s, again", what), &c, d.pid, nfd0);
	rss2 = tl_proc_status_kb(d.pid, "VmRSS");
	/*
	 * 64 kB is less than what one allocation kept per connection would
	 * take (220 of them); a sanitizer's allocator keeps what is freed
	 * in quarantine for a while, so allow it 1 MiB.
	 */
	slack = getenv("DROVER_TEST_SANITIZED") != NULL ? 1024 : 64;
	/*
	 * Under a wrapper (valgrind) VmRSS is mostly the wrapper's own, and
	 * memcheck holds freed blocks back (20 MB of them) to catch late
	 * use.
	 */
	if (getenv("TL_DAEMON_WRAPPER") != NULL &&
	    *getenv("TL_DAEMON_WRAPPER") != '\0')
		skip("%s: VmRSS under TL_DAEMON_WRAPPER (%ld kB, then %ld kB)",
		    what, rss1, rss2);
	else
		ok(rss1 > 0 && rss2 > 0 && rss2 - rss1 <= slack, "%s: the "
		    "master's memory did not grow with the second crowd "
		    "(VmRSS %ld kB, then %ld kB; at most %ld more)", what,
		    rss1, rss2, slack);
	scatter(&c);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "%s: drover stops with status "
	    "0", what);
}

int
main(void)
{
	plan_lazy();
	test_crowd("tcp", 0);
	test_crowd("unix", 1);
	return 0;
}
