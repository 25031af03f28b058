/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * sd_notify upward: when drover runs under a service manager that gave
 * it NOTIFY_SOCKET (systemd with Type=notify or Type=notify-reload), the
 * master tells it READY=1 once the cluster can serve, a STATUS= line
 * with the generation and how many workers are ready whenever that
 * changes, RELOADING=1 with MONOTONIC_USEC when a SIGHUP arrives and
 * READY=1 with the reload's result when it is over (so a reload that was
 * rolled back or refused still ends, and says so), STOPPING=1 when it
 * stops, and WATCHDOG=1 from its own event loop when WATCHDOG_USEC asks
 * for it.  The protocol is a datagram to a unix socket, written here;
 * libsystemd is not needed.  None of these variables reach the workers.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drover-master.h"

static void	 sdnotify_send(const char *, ...)
		    __attribute__((__format__(__printf__, 1, 2)));
static void	 sdnotify_watchdog_cb(struct ev_loop *, ev_timer *, int);

static int			 sd_fd = -1;
static struct sockaddr_un	 sd_sun;
static socklen_t		 sd_len;
static int			 sd_ready;	/* READY=1 was sent */
static char			 sd_status[256];
static ev_timer			 sd_watchdog;

/*
 * Read NOTIFY_SOCKET (a path, or "@name" in the abstract namespace) and
 * WATCHDOG_USEC (for us only if WATCHDOG_PID is unset or our pid), and
 * start the watchdog pings.  Without NOTIFY_SOCKET nothing is sent.
 */
void
sdnotify_init(void)
{
	const char	*path, *usec, *pid, *e;
	long long	 us;
	size_t		 len;

	if ((path = getenv("NOTIFY_SOCKET")) == NULL ||
	    (*path != '/' && *path != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof(sd_sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET too long: not notifying the service "
		    "manager");
		return;
	}
	memset(&sd_sun, 0, sizeof(sd_sun));
	sd_sun.sun_family = AF_UNIX;
	memcpy(sd_sun.sun_path, path, len);
	if (*path == '@')
		sd_sun.sun_path[0] = '\0';
	sd_len = offsetof(struct sockaddr_un, sun_path) + len +
	    (*path == '@' ? 0 : 1);
	sd_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sd_fd == -1) {
		log_warn("NOTIFY_SOCKET");
		return;
	}
	if ((usec = getenv("WATCHDOG_USEC")) == NULL)
		return;
	pid = getenv("WATCHDOG_PID");
	if (pid != NULL && strtonum(pid, 1, INT32_MAX, &e) != getpid())
		return;
	us = strtonum(usec, 1, INT64_MAX, &e);
	if (e != NULL) {
		log_warnx("WATCHDOG_USEC=%s is %s: no watchdog pings", usec,
		    e);
		return;
	}
	ev_timer_init(&sd_watchdog, sdnotify_watchdog_cb, 0, us / 2e6);
	ev_timer_again(EV_DEFAULT, &sd_watchdog);
	sdnotify_send("WATCHDOG=1");
}

/* Send one message; a failure is logged, never fatal. */
static void
sdnotify_send(const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	if (sd_fd == -1)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sendto(sd_fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sd_sun, sd_len) == -1 && errno != EAGAIN)
		log_debug("NOTIFY_SOCKET: %s", strerror(errno));
}

static void
sdnotify_watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	sdnotify_send("WATCHDOG=1");
}

/*
 * The state changed: READY=1 the first time the cluster can serve, and
 * STATUS= whenever its text changes.
 */
void
sdnotify_state(int ready, int nready, int total)
{
	char	 status[256];

	if (sd_fd == -1 || master.m_stopping)
		return;
	(void)snprintf(status, sizeof(status), "generation %llu, %d/%d "
	    "workers ready%s", (unsigned long long)master.m_gen, nready,
	    total, master.m_reloading ? ", reloading" : "");
	if (ready && !sd_ready) {
		sd_ready = 1;
		strlcpy(sd_status, status, sizeof(sd_status));
		sdnotify_send("READY=1\nSTATUS=%s", status);
		return;
	}
	if (strcmp(status, sd_status) != 0) {
		strlcpy(sd_status, status, sizeof(sd_status));
		sdnotify_send("STATUS=%s", status);
	}
}

/*
 * A SIGHUP arrived: RELOADING=1 with the monotonic time, as
 * Type=notify-reload wants.
 */
void
sdnotify_reloading(void)
{
	struct timespec	 ts;

	if (sd_fd == -1)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sdnotify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
}

/*
 * A reload is over, however it ended: READY=1, and its result in
 * STATUS=, since the protocol has no word for a failed reload.
 */
void
sdnotify_reloaded(const char *result)
{
	if (sd_fd == -1)
		return;
	(void)snprintf(sd_status, sizeof(sd_status), "reload %s: "
	    "generation %llu serves", result,
	    (unsigned long long)master.m_gen);
	sdnotify_send("READY=1\nSTATUS=%s", sd_status);
}

/* Stopping. */
void
sdnotify_stopping(void)
{
	sdnotify_send("STOPPING=1\nSTATUS=stopping");
}
