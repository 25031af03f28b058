/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * GET /metrics on the health endpoint, read the way a user reads it: a
 * master of two hello-c workers, run as nobody with a pid file, a TCP
 * listener (a socket per slot) and a unix one (shared).  The scraped
 * values say what happened: two slots ready, with each worker's memory,
 * CPU time and start time under its pid; after a worker is killed
 * (SIGKILL), one exit by a signal and one restart; after a reload, one
 * reload ok, generation 2 and two workers stopped and replaced; after a
 * reload of a broken file, one invalid-config.  The accept queue of each
 * socket: with slot 0's worker stopped (SIGSTOP), connections wait in
 * slot 0's queue and the gauge counts them, exactly for the unix socket
 * once both workers are stopped, and it is 0 again once they are
 * served.  An upgrade refused and one done are counted, and the new
 * image shows the workers it adopted.  `promtool check metrics` (with
 * its lint) finds nothing to say of the text.  A real Prometheus server,
 * started on loopback with a one-second scrape interval, scrapes the
 * endpoint and answers a query for drover_workers_ready with 2: the test
 * waits on Prometheus's write-ahead log (inotify), which it writes once
 * per scrape, and asks again after each, never sleeping.  prometheus and
 * promtool (Debian's package prometheus; build-aux/install-deps installs
 * it) must be there: their absence fails the test rather than skipping
 * it.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		15000
#define PROM_MS		60000
/* Connections made to a stopped worker's port: some land in its queue. */
#define NTCP		32
#define NUNIX		3

static int		 scrape(int, char **);
static double		 val(const char *, const char *);
static void		 promcheck(const char *, const char *);
static int		 free_port(void);
static int		 prom_start(struct tl_daemon *, int);
static int		 prom_query(int, const char *, char *, size_t);
static int		 prom_wait(struct tl_daemon *, int, const char *,
			    const char *);
static void		 test_start(int, pid_t *);
static void		 test_kill(struct tl_daemon *, int, pid_t *);
static void		 test_reload(struct tl_daemon *, int, pid_t *);
static void		 test_queue(int, int, const char *, const pid_t *);
static void		 test_upgrade(struct tl_daemon *, int, const pid_t *);
static void		 test_prometheus(int);

static const char	*dir;
static const char	*conftext;	/* the configuration it starts with */
static char		*last;		/* the last answer scraped */
static char		 ctype[128];	/* its Content-Type */

/*
 * GET /metrics from the health port into *body (the test's until the
 * next scrape).  Returns the HTTP status, or -1.
 */
static int
scrape(int hport, char **body)
{
	const char	*req = "GET /metrics HTTP/1.0\r\n\r\n";
	struct pollfd	 pfd;
	size_t		 len = 0, size = 65536;
	ssize_t		 n;
	long long	 t0 = tl_now_ms();
	char		*p;
	int		 fd, status = -1;

	free(last);
	if ((last = malloc(size)) == NULL)
		sysbail("malloc");
	*body = last;
	last[0] = '\0';
	if ((fd = tl_connect(hport)) == -1)
		return -1;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		goto done;
	for (;;) {
		if (len + 1 == size && (last = realloc(last, size *= 2)) ==
		    NULL)
			sysbail("realloc");
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(t0 + WAIT_MS - tl_now_ms())) <= 0)
			goto done;
		if ((n = read(fd, last + len, size - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	last[len] = '\0';
	*body = last;
	if ((p = strstr(last, "\r\n\r\n")) == NULL ||
	    sscanf(last, "HTTP/1.%*d %d", &status) != 1)
		goto done;
	*p = '\0';
	*body = p + 4;
	ctype[0] = '\0';
	if ((p = strstr(last, "\r\nContent-Type: ")) != NULL)
		(void)sscanf(p + 16, "%127[^\r]", ctype);
 done:
	close(fd);
	return status;
}

/*
 * The value of the sample key (the name and labels, exactly as written)
 * in the metrics text, or NAN if there is no such line.
 */
static double
val(const char *text, const char *key)
{
	const char	*p = text;
	size_t		 n = strlen(key);

	while ((p = strstr(p, key)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return NAN;
}

/* `promtool check metrics` reads the text what: no error, no lint. */
static void
promcheck(const char *text, const char *what)
{
	const char	*file = tl_fmt("%s/metrics.txt", dir);
	char		*out = NULL;
	int		 r;

	if (tl_write_file(file, "%s", text) == -1)
		sysbail("%s", file);
	r = tl_run((const char *const[]){ "sh", "-c", tl_fmt("promtool check "
	    "metrics < '%s'", file), NULL }, WAIT_MS, &out);
	ok(r == 0 && out != NULL && *out == '\0', "%s: promtool check "
	    "metrics passes, lint included (exit %d)", what, r);
	if (r != 0 && out != NULL)
		diag("promtool says:\n%s", out);
	free(out);
}

/* Slots ready, RSS and queues as they are just after the start. */
static void
test_start(int hport, pid_t *pids)
{
	char	*m;
	int	 k;

	is_int(200, scrape(hport, &m), "GET /metrics answers 200");
	is_string("text/plain; version=0.0.4; charset=utf-8", ctype,
	    "in the text format of Prometheus, version 0.0.4");
	ok(strstr(m, "# HELP drover_slots ") != NULL &&
	    strstr(m, "# TYPE drover_slots gauge\n") != NULL, "each family "
	    "has its help and type");
	ok(val(m, "drover_slots{state=\"ready\"}") == 2, "two slots ready");
	ok(val(m, "drover_slots{state=\"backoff\"}") == 0, "none in backoff "
	    "(every state is shown)");
	ok(val(m, "drover_workers_ready") == 2, "drover_workers_ready 2");
	ok(val(m, "drover_generation") == 1, "generation 1");
	ok(val(m, "drover_worker_starts_total{reason=\"new\"}") == 2,
	    "two workers started");
	for (k = 0; k < 2; k++) {
		ok(val(m, tl_fmt("drover_worker_resident_memory_bytes{slot="
		    "\"%d\",pid=\"%ld\",generation=\"1\"}", k,
		    (long)pids[k])) > 0, "slot %d's worker %ld: its resident "
		    "memory, above 0", k, (long)pids[k]);
		ok(val(m, tl_fmt("drover_worker_cpu_seconds_total{slot="
		    "\"%d\",pid=\"%ld\",generation=\"1\"}", k,
		    (long)pids[k])) >= 0, "slot %d's worker: its CPU time",
		    k);
		ok(val(m, tl_fmt("drover_worker_start_time_seconds{slot="
		    "\"%d\",pid=\"%ld\",generation=\"1\"}", k,
		    (long)pids[k])) > 1e9, "slot %d's worker: its start "
		    "time", k);
		ok(val(m, tl_fmt("drover_listen_queued_connections{listener="
		    "\"web\",slot=\"%d\"}", k)) == 0, "slot %d's TCP socket: "
		    "its accept queue, empty", k);
		ok(val(m, tl_fmt("drover_listen_backlog_connections{listener="
		    "\"web\",slot=\"%d\"}", k)) > 0, "and its limit");
	}
	ok(val(m, "drover_listen_queued_connections{listener=\"sock\"}") == 0,
	    "the shared unix socket: its accept queue, once, empty");
	ok(val(m, "drover_listen_backlog_connections{listener=\"sock\"}") > 0,
	    "and its limit");
	ok(val(m, tl_fmt("drover_listener_info{listener=\"sock\",address="
	    "\"unix:%s/sock\",type=\"unix\"}", dir)) == 1, "the listener's "
	    "name stands for its address");
	promcheck(m, "after the start");
}

/* A worker killed by SIGKILL: an exit by a signal, and a restart. */
static void
test_kill(struct tl_daemon *d, int hport, pid_t *pids)
{
	struct tl_slot_pid	 sp;
	struct tl_json		*j;
	char			*m;

	if (kill(pids[0], SIGKILL) == -1)
		sysbail("kill %ld", (long)pids[0]);
	sp.slot = 0;
	sp.oldpid = pids[0];
	if ((j = tl_status_wait(d, tl_pred_slot_pid_changed, &sp, WAIT_MS)) ==
	    NULL)
		bail("slot 0's worker was not replaced");
	is_int(200, scrape(hport, &m), "after a SIGKILL: GET /metrics");
	ok(val(m, "drover_worker_exits_total{reason=\"signaled\"}") == 1,
	    "one worker ended by a signal");
	ok(val(m, "drover_worker_exits_total{reason=\"exited\"}") == 0 &&
	    val(m, "drover_worker_exits_total{reason=\"stopped\"}") == 0,
	    "and none otherwise");
	ok(val(m, "drover_worker_starts_total{reason=\"restart\"}") == 1,
	    "one worker restarted");
	ok(val(m, "drover_slot_restarts_total{slot=\"0\"}") == 1 &&
	    val(m, "drover_slot_restarts_total{slot=\"1\"}") == 0,
	    "in slot 0");
	ok(isnan(val(m, tl_fmt("drover_worker_resident_memory_bytes{slot="
	    "\"0\",pid=\"%ld\",generation=\"1\"}", (long)pids[0]))),
	    "the dead worker is gone from the metrics");
	pids[0] = (pid_t)tl_json_int(j, "slots.0.pid", 0);
	ok(val(m, tl_fmt("drover_worker_resident_memory_bytes{slot=\"0\","
	    "pid=\"%ld\",generation=\"1\"}", (long)pids[0])) > 0, "its "
	    "replacement is there");
	tl_json_free(j);
}

/* A reload that took, and one of a broken file. */
static void
test_reload(struct tl_daemon *d, int hport, pid_t *pids)
{
	struct tl_json	*j;
	char		*m;
	double		 end;

	if (tl_daemon_kill(d, SIGHUP) == -1)
		sysbail("SIGHUP");
	if ((j = tl_wait_generation(d, 2, 2, WAIT_MS)) == NULL)
		bail("the reload did not take");
	tl_pids(j, pids, 2);
	tl_json_free(j);
	is_int(200, scrape(hport, &m), "after a reload: GET /metrics");
	ok(val(m, "drover_reloads_total{result=\"ok\"}") == 1, "one reload "
	    "ok");
	ok(val(m, "drover_reloads_total{result=\"rolled-back\"}") == 0,
	    "none rolled back");
	ok(val(m, "drover_reload_last_result{result=\"ok\"}") == 1 &&
	    val(m, "drover_reload_last_result{result=\"in-progress\"}") == 0,
	    "the last one's result: ok");
	end = val(m, "drover_reload_last_end_timestamp_seconds");
	ok(end > 1e9 && end >= val(m,
	    "drover_reload_last_start_timestamp_seconds"), "it has ended, "
	    "after it started");
	ok(val(m, "drover_reload_requests_total") == 1, "one asked for");
	ok(val(m, "drover_reload_in_progress") == 0, "none under way");
	ok(val(m, "drover_generation") == 2, "generation 2");
	ok(val(m, "drover_worker_starts_total{reason=\"replace\"}") == 2 &&
	    val(m, "drover_worker_exits_total{reason=\"stopped\"}") == 2,
	    "two workers replaced, two stopped");
	ok(val(m, tl_fmt("drover_worker_resident_memory_bytes{slot=\"1\","
	    "pid=\"%ld\",generation=\"2\"}", (long)pids[1])) > 0, "the new "
	    "workers show under generation 2");

	tl_conf_rewrite(d, "workers = banana\n");
	if (tl_daemon_kill(d, SIGHUP) == -1)
		sysbail("SIGHUP");
	j = TL_WAIT(d, WAIT_MS, TL_STR("reload.result", "invalid-config"));
	if (j == NULL)
		bail("the broken file was not refused");
	tl_json_free(j);
	is_int(200, scrape(hport, &m), "after a broken file: GET /metrics");
	ok(val(m, "drover_reloads_total{result=\"invalid-config\"}") == 1 &&
	    val(m, "drover_reloads_total{result=\"ok\"}") == 1,
	    "one reload refused, one ok");
	ok(val(m, "drover_reload_last_result{result=\"invalid-config\"}") ==
	    1 && val(m, "drover_reload_last_result{result=\"ok\"}") == 0,
	    "the last one's result: invalid-config");
	ok(val(m, "drover_generation") == 2, "generation 2 still serves");
}

/*
 * Connections pile up in the queue of a stopped worker's socket.  With
 * slot 0's worker stopped, some of NTCP connections are steered to it
 * and wait; with both stopped, the unix socket holds the NUNIX made.
 * Once the workers go on, every connection is answered and the queues
 * are empty again.
 */
static void
test_queue(int hport, int port, const char *sock, const pid_t *pids)
{
	int	 fd[NTCP + NUNIX], i, n, status;
	char	*m, body[64];

	if (kill(pids[0], SIGSTOP) == -1)
		sysbail("SIGSTOP %ld", (long)pids[0]);
	for (i = 0; i < NTCP; i++)
		if ((fd[i] = tl_connect(port)) == -1)
			sysbail("connect");
	if (kill(pids[1], SIGSTOP) == -1)
		sysbail("SIGSTOP %ld", (long)pids[1]);
	for (i = NTCP; i < NTCP + NUNIX; i++)
		if ((fd[i] = tl_connect_unix(sock)) == -1)
			sysbail("connect %s", sock);
	is_int(200, scrape(hport, &m), "workers stopped: GET /metrics");
	ok(val(m, "drover_listen_queued_connections{listener=\"web\","
	    "slot=\"0\"}") > 0, "slot 0's queue holds connections (%g of "
	    "%d)", val(m, "drover_listen_queued_connections{listener=\"web\","
	    "slot=\"0\"}"), NTCP);
	ok(val(m, "drover_listen_queued_connections{listener=\"sock\"}") ==
	    NUNIX, "the unix socket's queue holds the %d made", NUNIX);
	promcheck(m, "with queued connections");
	for (i = 0; i < 2; i++)
		if (kill(pids[i], SIGCONT) == -1)
			sysbail("SIGCONT %ld", (long)pids[i]);
	for (i = 0, n = 0; i < NTCP + NUNIX; i++) {
		if (tl_http_request(fd[i], "/pid", 0) == 0 &&
		    tl_http_response(fd[i], WAIT_MS, &status, body,
		    sizeof(body), NULL) == 0 && status == 200)
			n++;
		close(fd[i]);
	}
	is_int(NTCP + NUNIX, n, "once the workers go on, every connection "
	    "is served");
	is_int(200, scrape(hport, &m), "GET /metrics");
	ok(val(m, "drover_listen_queued_connections{listener=\"web\","
	    "slot=\"0\"}") == 0 && val(m, "drover_listen_queued_connections"
	    "{listener=\"sock\"}") == 0, "and the queues are empty again");
}

/*
 * Upgrades: one refused (the file is still broken), then one done, after
 * which the new image answers the metrics with what it was handed: the
 * same workers, the upgrade counted and the reload requests; its own
 * counters start from 0.
 */
static void
test_upgrade(struct tl_daemon *d, int hport, const pid_t *pids)
{
	struct tl_json	*j;
	char		*m;

	if (tl_daemon_kill(d, SIGUSR2) == -1)
		sysbail("SIGUSR2");
	if ((j = TL_WAIT(d, WAIT_MS, TL_STR("upgrade.result", "refused"))) ==
	    NULL)
		bail("the upgrade with a broken file was not refused");
	tl_json_free(j);
	is_int(200, scrape(hport, &m), "after a refused upgrade: "
	    "GET /metrics");
	ok(val(m, "drover_upgrades_total{result=\"refused\"}") == 1 &&
	    val(m, "drover_upgrade_last_result{result=\"refused\"}") == 1,
	    "one upgrade refused, the last one");
	tl_conf_rewrite(d, "%s", conftext);
	if (tl_daemon_kill(d, SIGUSR2) == -1)
		sysbail("SIGUSR2");
	if ((j = TL_WAIT(d, WAIT_MS, TL_STR("upgrade.result", "ok"),
	    TL_EQ("upgrade.upgrades", 1), TL_EQ("ready", 1))) == NULL)
		bail("the upgrade was not done");
	tl_json_free(j);
	is_int(200, scrape(hport, &m), "after an upgrade: GET /metrics");
	ok(val(m, "drover_upgrades_total{result=\"ok\"}") == 1 &&
	    val(m, "drover_upgrade_last_result{result=\"ok\"}") == 1 &&
	    val(m, "drover_upgrade_requests_total") == 2, "one upgrade done, "
	    "of two asked for");
	ok(val(m, "drover_reload_requests_total") == 2 &&
	    val(m, "drover_reloads_total{result=\"ok\"}") == 0,
	    "the reload requests are handed over, the new image's counters "
	    "start from 0");
	ok(val(m, "drover_slots{state=\"ready\"}") == 2 &&
	    val(m, tl_fmt("drover_worker_start_time_seconds{slot=\"0\","
	    "pid=\"%ld\",generation=\"2\"}", (long)pids[0])) > 1e9,
	    "the workers it adopted, with their start time");
}

/* A loopback port free a moment ago, for Prometheus to listen on. */
static int
free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		sysbail("a free port");
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/*
 * Start Prometheus on a loopback port, its data in dir/prom, scraping
 * the health port every second, with its log in p->log, and wait until
 * it serves; return its port.  p is filled as tl_daemon_start() would,
 * for tl_wait_log() and tl_daemon_stop(); a test killed outright takes
 * it along.
 */
static int
prom_start(struct tl_daemon *p, int hport)
{
	static char	 data[PATH_MAX], log[PATH_MAX];
	const char	*conf;
	int		 logfd, port = free_port();
	pid_t		 pid;

	memset(p, 0, sizeof(*p));
	(void)snprintf(data, sizeof(data), "%s/prom", dir);
	(void)snprintf(log, sizeof(log), "%s/prometheus.log", dir);
	p->dir = data;
	p->log = log;
	conf = tl_fmt("%s/prometheus.yml", dir);
	if (tl_write_file(conf, "global:\n  scrape_interval: 1s\n"
	    "  scrape_timeout: 1s\nscrape_configs:\n  - job_name: drover\n"
	    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n",
	    hport) == -1)
		sysbail("%s", conf);
	if ((logfd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		sysbail("%s", p->log);
	if ((pid = fork()) == -1)
		sysbail("fork");
	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(logfd, 1) == -1 || dup2(logfd, 2) == -1)
			_exit(127);
		closefrom(3);
		execlp("prometheus", "prometheus",
		    tl_fmt("--config.file=%s", conf),
		    tl_fmt("--storage.tsdb.path=%s", data),
		    tl_fmt("--web.listen-address=127.0.0.1:%d", port),
		    (char *)NULL);
		dprintf(2, "exec prometheus: %s\n", strerror(errno));
		_exit(127);
	}
	close(logfd);
	p->pid = pid;
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (tl_wait_log(p, "Server is ready to receive web requests",
	    PROM_MS) == -1)
		bail("prometheus did not start");
	return port;
}

/*
 * Ask Prometheus (on port) the instant query q: its first value, into
 * v.  Returns 0, or -1 if it has none (yet).
 */
static int
prom_query(int port, const char *q, char *v, size_t vsz)
{
	static char		 body[65536];
	struct tl_json		*j;
	const char		*s;
	int			 status, r = -1;

	if (tl_http_get(port, tl_fmt("/api/v1/query?query=%s", q), &status,
	    body, sizeof(body)) == -1 || status != 200)
		return -1;
	j = tl_json_parse(body);
	if ((s = tl_json_str(j, "data.result.0.value.1")) != NULL) {
		(void)snprintf(v, vsz, "%s", s);
		r = 0;
	}
	tl_json_free(j);
	return r;
}

/*
 * Wait until Prometheus answers the query q with want.  Prometheus
 * writes its write-ahead log at each scrape it stores: the query is
 * asked again after each write (inotify), until the deadline.  Returns
 * 0, or -1 with a diagnostic.
 */
static int
prom_wait(struct tl_daemon *p, int port, const char *q, const char *want)
{
	struct pollfd	 pfd;
	long long	 t0 = tl_now_ms();
	char		 v[64] = "", buf[4096];
	int		 ifd;

	if ((ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) == -1 ||
	    inotify_add_watch(ifd, tl_fmt("%s/wal", p->dir), IN_MODIFY |
	    IN_CREATE) == -1)
		sysbail("inotify %s/wal", p->dir);
	for (;;) {
		if (prom_query(port, q, v, sizeof(v)) == 0 &&
		    strcmp(v, want) == 0)
			break;
		pfd.fd = ifd;
		pfd.events = POLLIN;
		if (tl_now_ms() - t0 >= PROM_MS || poll(&pfd, 1,
		    (int)(t0 + PROM_MS - tl_now_ms())) <= 0) {
			diag("prometheus: %s is \"%s\", not %s, after %d ms",
			    q, v, want, PROM_MS);
			close(ifd);
			return -1;
		}
		while (read(ifd, buf, sizeof(buf)) > 0)
			continue;
	}
	close(ifd);
	return 0;
}

/* A real Prometheus scrapes the endpoint and answers queries. */
static void
test_prometheus(int hport)
{
	struct tl_daemon	 p;
	char			 v[64];
	int			 port;

	port = prom_start(&p, hport);
	is_int(0, prom_wait(&p, port, "drover_workers_ready", "2"),
	    "prometheus scrapes drover: drover_workers_ready is 2");
	ok(prom_query(port, "up%7Bjob%3D%22drover%22%7D", v, sizeof(v)) ==
	    0 && strcmp(v, "1") == 0, "its scrapes succeed (up is %s)", v);
	ok(prom_query(port, "drover_upgrades_total%7Bresult%3D%22ok%22%7D", v,
	    sizeof(v)) == 0 && strcmp(v, "1") == 0, "it knows of one upgrade "
	    "done (%s)", v);
	is_int(0, tl_daemon_stop(&p, WAIT_MS), "prometheus stops");
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*hello, *sock;
	pid_t			 pids[2];
	int			 hport, port;

	plan_lazy();
	signal(SIGPIPE, SIG_IGN);
	if (!ok(tl_in_path("prometheus") && tl_in_path("promtool"),
	    "prometheus and promtool are in PATH"))
		bail("prometheus and promtool are needed (Debian's package "
		    "prometheus); build-aux/install-deps installs them");
	/* A copy of hello-c that nobody can execute, and a unix socket. */
	dir = tl_tmpdir();
	if (chmod(dir, 0755) == -1)
		sysbail("chmod %s", dir);
	hello = tl_fmt("%s/hello-c", dir);
	if (tl_run((const char *const[]){ "cp", tl_path(
	    "examples/hello-c/hello-c"), hello, NULL }, WAIT_MS, NULL) != 0)
		bail("cannot copy hello-c");
	sock = tl_fmt("%s/sock", dir);
	conftext = tl_fmt("workers = 2\nlisten = web=127.0.0.1:0\n"
	    "listen = sock=unix:%s\nhealth = 127.0.0.1:0\nready = notify\n"
	    "user = nobody\npidfile = %s/drover.pid\ncommand = %s\n", sock,
	    dir, hello);
	j = tl_start_conf(&d, conftext, NULL, 1);
	hport = (int)tl_json_int(j, "health.port", -1);
	port = tl_port(j, 0);
	tl_pids(j, pids, 2);
	tl_json_free(j);

	test_start(hport, pids);
	test_kill(&d, hport, pids);
	test_reload(&d, hport, pids);
	test_queue(hport, port, sock, pids);
	test_upgrade(&d, hport, pids);
	test_prometheus(hport);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "drover stops with status 0");
	free(last);
	return 0;
}
