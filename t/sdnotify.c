/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * sd_notify upward: the test plays systemd.  It binds a datagram socket,
 * gives drover its path in NOTIFY_SOCKET with WATCHDOG_USEC, and reads
 * what drover says: READY=1 with a STATUS= naming the generation and the
 * ready workers, WATCHDOG=1 every half interval, RELOADING=1 with
 * MONOTONIC_USEC on SIGHUP followed by READY=1 and the reload's result
 * (also for a configuration that does not parse), STOPPING=1 on SIGTERM.
 * The workers get drover's own per-worker NOTIFY_SOCKET and none of the
 * service manager's variables.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
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
/* The watchdog interval the test asks for: pings every 200 ms. */
#define WATCHDOG_USEC	400000
#define MAXMSG		4096

static unsigned long long mono_usec(void);
static int		 wait_msg(const char *, int, int);
static void		 take(void);
static int		 count_msgs(const char *, int);
static const char	*field(const char *, const char *);

/* The socket drover talks to, and every datagram received, in order. */
static int	 sfd = -1;
static char	*msgs[MAXMSG];
static int	 nmsgs;

static unsigned long long
mono_usec(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000;
}

/*
 * Wait for a datagram at index from or later that contains needle,
 * receiving and keeping every datagram meanwhile.  Its index, or -1 at
 * the deadline.
 */
static int
wait_msg(const char *needle, int from, int timeout_ms)
{
	struct pollfd	 pfd;
	long long	 end = tl_now_ms() + timeout_ms;
	int		 i = from, left;

	for (;;) {
		for (; i < nmsgs; i++)
			if (strstr(msgs[i], needle) != NULL)
				return i;
		if ((left = (int)(end - tl_now_ms())) <= 0)
			break;
		pfd.fd = sfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) == -1 && errno != EINTR)
			sysbail("poll");
		take();
	}
	diag("no datagram with \"%s\" after #%d within %d ms; %d received",
	    needle, from, timeout_ms, nmsgs);
	return -1;
}

/* Receive and keep every datagram waiting now. */
static void
take(void)
{
	char	 buf[4097];
	ssize_t	 n;

	while ((n = recv(sfd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0) {
		if (nmsgs == MAXMSG)
			bail("too many datagrams");
		buf[n] = '\0';
		if ((msgs[nmsgs++] = strdup(buf)) == NULL)
			sysbail("strdup");
	}
}

/* How many datagrams from index from on contain needle. */
static int
count_msgs(const char *needle, int from)
{
	int	 i, n = 0;

	for (i = from; i < nmsgs; i++)
		if (strstr(msgs[i], needle) != NULL)
			n++;
	return n;
}

/*
 * The value of line "KEY=" in message msg (key includes the '='), as a
 * library-owned string, or NULL.
 */
static const char *
field(const char *msg, const char *key)
{
	const char	*p = msg;
	size_t		 len = strlen(key);

	if (msg == NULL)
		return NULL;
	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, len) == 0)
			return tl_fmt("%.*s", (int)strcspn(p + len, "\n"),
			    p + len);
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return NULL;
}

int
main(void)
{
	struct sockaddr_un	 sun;
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_match		 m;
	const char		*dir, *path, *v;
	unsigned long long	 before, after, usec;
	long long		 w[2], t0;
	int			 i, r, k, wd;

	plan_lazy();
	dir = tl_tmpdir();
	path = tl_fmt("%s/notify.sock", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		bail("%s: path too long for a unix socket", path);
	memcpy(sun.sun_path, path, strlen(path));
	if ((sfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(sfd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		sysbail("%s", path);

	if (setenv("NOTIFY_SOCKET", path, 1) == -1 ||
	    setenv("WATCHDOG_USEC", tl_fmt("%d", WATCHDOG_USEC), 1) == -1)
		sysbail("setenv");
	(void)unsetenv("WATCHDOG_PID");
	{
		const char *const argv[] = { "--", "/bin/sleep", "600", NULL };

		tl_start_conf(&d, "workers = 2\n", argv, 0);
	}
	(void)unsetenv("NOTIFY_SOCKET");
	(void)unsetenv("WATCHDOG_USEC");

	/* READY=1 once both workers are ready. */
	i = wait_msg("READY=1", 0, WAIT_MS);
	ok(i >= 0, "READY=1 arrives");
	v = i >= 0 ? field(msgs[i], "STATUS=") : NULL;
	ok(v != NULL && strstr(v, "generation 1") != NULL &&
	    strstr(v, "2/2 workers ready") != NULL, "with STATUS= naming "
	    "generation 1 and 2/2 workers ready (%s)", v ? v : "none");
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "status.json agrees that the cluster is ready");
	w[0] = tl_json_int(j, "slots.0.pid", 0);
	w[1] = tl_json_int(j, "slots.1.pid", 0);
	tl_json_free(j);
	is_int(1, count_msgs("READY=1", 0), "READY=1 is sent once at start");

	/* The watchdog. */
	t0 = tl_now_ms();
	wd = count_msgs("WATCHDOG=1", 0);
	r = wait_msg("WATCHDOG=1", nmsgs, 2000);
	r = r >= 0 ? wait_msg("WATCHDOG=1", r + 1, 2000) : -1;
	ok(r >= 0, "WATCHDOG=1 twice more within %lld ms (every %d ms "
	    "asked; %d before)", tl_now_ms() - t0, WATCHDOG_USEC / 2000, wd);

	/* What the workers see. */
	for (k = 0; k < 2; k++) {
		v = tl_env_of((pid_t)w[k], "NOTIFY_SOCKET");
		ok(v != NULL && strncmp(v, tl_fmt("%s/notify/", d.state),
		    strlen(d.state) + 8) == 0, "worker %d's NOTIFY_SOCKET is "
		    "its own, under the state directory (%s)", k,
		    v ? v : "unset");
		ok(v == NULL || strcmp(v, path) != 0, "worker %d does not get "
		    "the service manager's socket", k);
		ok(tl_env_of((pid_t)w[k], "WATCHDOG_USEC") == NULL &&
		    tl_env_of((pid_t)w[k], "WATCHDOG_PID") == NULL, "worker %d "
		    "gets no WATCHDOG_USEC or WATCHDOG_PID", k);
	}

	/* A good reload. */
	before = mono_usec();
	tl_daemon_kill(&d, SIGHUP);
	i = wait_msg("RELOADING=1", 0, WAIT_MS);
	after = mono_usec();
	ok(i >= 0, "SIGHUP: RELOADING=1 arrives");
	v = i >= 0 ? field(msgs[i], "MONOTONIC_USEC=") : NULL;
	usec = v != NULL ? strtoull(v, NULL, 10) : 0;
	ok(usec >= before && usec <= after, "SIGHUP: with MONOTONIC_USEC "
	    "from CLOCK_MONOTONIC, taken when the signal came (%llu in "
	    "[%llu, %llu])", usec, before, after);
	r = i >= 0 ? wait_msg("READY=1", i + 1, WAIT_MS) : -1;
	ok(r >= 0, "SIGHUP: READY=1 follows when the reload is over");
	v = r >= 0 ? field(msgs[r], "STATUS=") : NULL;
	ok(v != NULL && strstr(v, "reload ok") != NULL &&
	    strstr(v, "generation 2") != NULL, "SIGHUP: with STATUS= saying "
	    "\"reload ok\" and generation 2 (%s)", v ? v : "none");
	m.path = "reload.result";
	m.str = "ok";
	j = tl_status_wait(&d, tl_pred_match, &m, WAIT_MS);
	ok(j != NULL && tl_json_int(j, "generation", 0) == 2, "SIGHUP: "
	    "status.json says the reload to generation 2 is ok");
	tl_json_free(j);

	/* A configuration that does not parse. */
	tl_conf_rewrite(&d, "wokers = 2\n");
	k = nmsgs;
	tl_daemon_kill(&d, SIGHUP);
	i = wait_msg("RELOADING=1", k, WAIT_MS);
	ok(i >= 0, "bad config: RELOADING=1 arrives");
	r = i >= 0 ? wait_msg("READY=1", i + 1, WAIT_MS) : -1;
	ok(r >= 0, "bad config: READY=1 follows, the old generation serving");
	v = r >= 0 ? field(msgs[r], "STATUS=") : NULL;
	ok(v != NULL && strstr(v, "invalid-config") != NULL &&
	    strstr(v, "generation 2") != NULL, "bad config: STATUS= says "
	    "invalid-config and that generation 2 serves (%s)",
	    v ? v : "none");

	/* Stopping. */
	k = nmsgs;
	tl_daemon_kill(&d, SIGTERM);
	i = wait_msg("STOPPING=1", k, WAIT_MS);
	ok(i >= 0, "SIGTERM: STOPPING=1 arrives");
	is_int(0, tl_daemon_wait(&d, WAIT_MS), "drover stops with status 0");
	take();
	is_int(0, count_msgs("READY=1", i), "no READY=1 after STOPPING=1");
	for (i = 0; i < nmsgs; i++)
		free(msgs[i]);
	close(sfd);
	return 0;
}
