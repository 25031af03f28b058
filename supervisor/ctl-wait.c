/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Reading the master's status.json and waiting on it, for droverctl(8).
 * The master renames a new status.json into place on every change
 * (status.c), so a wait is inotify on the state directory and the
 * master's pidfd in one poll(2), up to the deadline of --timeout: no
 * loop that sleeps, and a master that exits ends the wait at once.  The
 * watch is made before the first read and the events are drained before
 * each read, so a change between a read and the poll still wakes it.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* The largest status.json read: 1024 slots take well under this. */
#define CTL_STATUS_MAX	(16 * 1024 * 1024)

static void	 wait_drain(struct ctl *);
static int	 wait_events(struct ctl *);

/* Seconds on the monotonic clock. */
double
ctl_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * status.json as it is now, or NULL: errno ENOENT if there is none,
 * EBADMSG if it is not JSON.
 */
struct json *
ctl_read(struct ctl *c)
{
	struct json	*j;
	char		*buf, *nbuf;
	size_t		 len = 0, size = 65536;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = openat(c->c_dirfd, "status.json", O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return NULL;
	if ((buf = malloc(size)) == NULL)
		ctl_fail(CTL_OSERR, "out of memory");
	while ((n = read(fd, buf + len, size - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 < size)
			continue;
		if (size >= CTL_STATUS_MAX ||
		    (nbuf = realloc(buf, size * 2)) == NULL)
			break;
		buf = nbuf;
		size *= 2;
	}
	saved = errno;
	close(fd);
	if (n == -1)
		ctl_fail(CTL_OSERR, "%s/status.json: %s", c->c_where,
		    strerror(saved));
	buf[len] = '\0';
	j = json_parse(buf);
	free(buf);
	if (j == NULL || j->j_type != JSON_OBJECT) {
		json_free(j);
		errno = EBADMSG;
		return NULL;
	}
	return j;
}

/* Forget the events so far: a read follows. */
static void
wait_drain(struct ctl *c)
{
	char	 buf[4096];

	while (read(c->c_inotify, buf, sizeof(buf)) > 0)
		;
}

/*
 * Wait for a change in the state directory or the end of the master,
 * until the deadline.  1 on an event, 0 at the deadline.
 */
static int
wait_events(struct ctl *c)
{
	struct pollfd	 pfd[2];
	double		 left;
	int		 n, nfds = 1;

	pfd[0].fd = c->c_inotify;
	pfd[0].events = POLLIN;
	if (c->c_pidfd != -1) {
		pfd[1].fd = c->c_pidfd;
		pfd[1].events = POLLIN;
		nfds = 2;
	}
	for (;;) {
		if ((left = c->c_deadline - ctl_now()) <= 0)
			return 0;
		n = poll(pfd, nfds, (int)(left * 1000) + 1);
		if (n > 0)
			return 1;
		if (n == -1 && errno != EINTR)
			ctl_fail(CTL_OSERR, "poll: %s", strerror(errno));
	}
}

/*
 * Wait until pred holds for status.json and return that version; NULL
 * with errno ESRCH if the master exits first, ETIMEDOUT at the deadline.
 */
struct json *
ctl_wait(struct ctl *c, int (*pred)(const struct json *, void *),
    void *arg)
{
	struct json	*j;

	for (;;) {
		wait_drain(c);
		if ((j = ctl_read(c)) != NULL && pred(j, arg))
			return j;
		json_free(j);
		if (!ctl_alive(c)) {
			errno = ESRCH;
			return NULL;
		}
		if (!wait_events(c)) {
			errno = ETIMEDOUT;
			return NULL;
		}
	}
}

/* Wait until the master is gone; fail at the deadline. */
void
ctl_wait_gone(struct ctl *c)
{
	for (;;) {
		wait_drain(c);
		if (!ctl_alive(c))
			return;
		if (!wait_events(c))
			ctl_fail(CTL_TIMEOUT, "the master (pid %ld) still runs",
			    (long)c->c_pid);
	}
}
