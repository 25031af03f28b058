/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Who sent a datagram on a worker's NOTIFY_SOCKET, and whether to
 * believe it: only the worker itself or a process descended from it.
 * The socket file is mode 0600 and the worker user's, so any process of
 * that user (and root) can send to it; this decides among them.
 *
 * The kernel attaches the sender's pid to every datagram (SO_PASSCRED).
 * A pid is only a number: by the time the master reads the datagram the
 * sender may be gone and its pid given to another process.  Since Linux
 * 6.5 the kernel can also hand over a pidfd of the sender (SO_PASSPIDFD),
 * pinned to the process that sent, which tells for sure whether that
 * process is still there.  With it, the sender's ancestry is walked in
 * /proc and then the sender is confirmed to still hold its pid: so the
 * walk saw the sender and not a successor.  The walk goes up the parent
 * links once and, above the sender's parent, reads them again from the
 * top down: a link read twice the same, by a child known to be the same
 * process both times, was one parent throughout (a child whose parent
 * dies is given to a reaper that existed before, never again to that
 * pid), so no reused pid can join the chain.  A sender that is gone
 * cannot be placed in the worker's tree any more: its message is
 * rejected, as systemd does; systemd-notify and sd_notify_barrier(3)
 * wait until the message was read, by passing a descriptor with
 * BARRIER=1 that the caller closes (trust_release()) only once that
 * datagram, and so every earlier one, was handled.
 *
 * Without pidfds (older kernels, or DROVER_TEST_NO_PIDFD for the test
 * suite), the sender is the process that has its pid when the datagram
 * is read, if that process started before the datagram arrived (the
 * kernel stamps datagrams with SO_TIMESTAMPNS): a pid reused later is
 * told apart, except within the same clock tick (1/100 s), which
 * unprivileged processes cannot achieve (it takes cycling through every
 * pid).
 *
 * The cost is bounded per message: at most TRUST_DEPTH links, two reads
 * of /proc each, and two pidfd_send_signal(2) calls (or reads of the
 * pidfd's fdinfo where that call is missing), none of which blocks.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drover-master.h"

/* The most parent links between a sender and its worker. */
#define TRUST_DEPTH	32

/* Linux 6.5; glibc 2.36 has neither. */
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD	76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD	0x04
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal	424
#endif

static enum trust	 trust_walk(const struct worker *, pid_t, int,
			    const struct timespec *);
static int		 trust_alive(int);
static int		 trust_later(unsigned long long,
			    const struct timespec *);

/* Whether sockets get SO_PASSPIDFD: -1 until the first is set up. */
static int	 pidfds = -1;

/*
 * Ask the kernel to pass the sender's pidfd with every datagram on fd, a
 * worker's notify socket, or, where it cannot, the time each arrived.
 * The first call finds out which, and logs it if pidfds are missing.
 */
void
trust_setup(int fd)
{
	const char	*no;
	int		 one = 1;

	if (pidfds == -1) {
		no = getenv("DROVER_TEST_NO_PIDFD");
		pidfds = no == NULL || *no == '\0';
		if (!pidfds)
			log_info("DROVER_TEST_NO_PIDFD is set: notify senders "
			    "are known by pid and start time");
	}
	if (pidfds && setsockopt(fd, SOL_SOCKET, SO_PASSPIDFD, &one,
	    sizeof(one)) == -1) {
		log_info("the kernel passes no pidfds (SO_PASSPIDFD: %s): "
		    "notify senders are known by pid and start time",
		    strerror(errno));
		pidfds = 0;
	}
	if (!pidfds)
		(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one,
		    sizeof(one));
}

/*
 * Whether to believe the datagram msg just read from the socket of
 * worker w; the sender's pid goes to *pidp (-1 if unknown).  Nothing is
 * closed here: trust_release() does that once the message was handled.
 */
enum trust
trust_sender(const struct worker *w, struct msghdr *msg, pid_t *pidp)
{
	struct cmsghdr	*cm;
	struct ucred	 cred;
	struct timespec	 ts, *arrival = NULL;
	int		 havecred = 0, havepidfd = 0, pidfd = -1;

	*pidp = -1;
	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET)
			continue;
		if (cm->cmsg_type == SCM_CREDENTIALS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(cred))) {
			memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
			havecred = 1;
		} else if (cm->cmsg_type == SCM_PIDFD &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int))) {
			/* Below 0: the error that kept the kernel from it. */
			memcpy(&pidfd, CMSG_DATA(cm), sizeof(int));
			havepidfd = 1;
		} else if (cm->cmsg_type == SCM_TIMESTAMPNS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(ts))) {
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			arrival = &ts;
		}
	}
	/*
	 * Truncated control data (a sender passing many descriptors) may
	 * have pushed out the pidfd, which comes last.
	 */
	if (!havecred || (msg->msg_flags & MSG_CTRUNC) != 0)
		return TRUST_UNKNOWN;
	*pidp = cred.pid;
	if (w->w_closing)
		/*
		 * Read after the worker was reaped, in the same callback:
		 * its last words count, as it had that pid from before it
		 * could send until now.  Its children were given to a
		 * reaper when it died: none descends from it any more.
		 */
		return cred.pid == w->w_pid ? TRUST_OK : TRUST_FOREIGN;
	if (havepidfd)
		return pidfd < 0 ? TRUST_GONE :
		    trust_walk(w, cred.pid, pidfd, NULL);
	if (pidfds == 1)
		return TRUST_UNKNOWN;
	return trust_walk(w, cred.pid, -1, arrival);
}

/*
 * Whether pid, the sender (pinned by pidfd if not -1; else known to have
 * arrived at *arrival, if not NULL), is worker w or a live descendant.
 */
static enum trust
trust_walk(const struct worker *w, pid_t pid, int pidfd,
    const struct timespec *arrival)
{
	pid_t			 chain[TRUST_DEPTH + 1], ppid;
	unsigned long long	 start[TRUST_DEPTH + 1], st;
	int			 k, i, have;

	if (pid <= 0)
		return TRUST_FOREIGN;
	if (pidfd != -1 && !trust_alive(pidfd))
		return TRUST_GONE;
	chain[0] = pid;
	have = 0;
	if (arrival != NULL) {
		/* Without a pidfd: a pid reused after the datagram came? */
		if (spawn_procstat(pid, &chain[1], &start[0]) == -1 ||
		    trust_later(start[0], arrival))
			return TRUST_GONE;
		have = 1;
	}
	for (k = 0; chain[k] != w->w_pid; k++) {
		if (k == TRUST_DEPTH || chain[k] <= 1)
			return TRUST_FOREIGN;
		if (k >= have && spawn_procstat(chain[k], &chain[k + 1],
		    &start[k]) == -1)
			return k == 0 ? TRUST_GONE : TRUST_FOREIGN;
	}
	/* The links above the sender's parent, again, top down. */
	for (i = k - 2; i >= 0; i--)
		if (spawn_procstat(chain[i], &ppid, &st) == -1 ||
		    ppid != chain[i + 1] || st != start[i])
			return TRUST_FOREIGN;
	if (pidfd != -1 && !trust_alive(pidfd))
		return TRUST_GONE;
	return TRUST_OK;
}

/*
 * Whether the process of pidfd has not been reaped (a zombie still holds
 * its pid).  Only ESRCH says it is gone: EPERM is a process that exists.
 * Where pidfd_send_signal(2) is missing although pidfds are passed (a
 * seccomp filter, or valgrind 3.19, which does not know it), the pidfd's
 * fdinfo says the same: Pid: -1 once the process was reaped.  The first
 * ENOSYS switches to it for good.
 */
static int
trust_alive(int pidfd)
{
	static int	 nosignal;
	char		 path[64], buf[512], *p;
	ssize_t		 n;
	int		 fd;

	if (!nosignal) {
		if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0)
			return 1;
		if (errno != ENOSYS)
			return errno != ESRCH;
		nosignal = 1;
	}
	(void)snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nPid:")) == NULL)
		return 0;		/* not known to be there */
	return strtol(p + 6, NULL, 10) != -1;
}

/*
 * Whether a process that started ticks clock ticks after boot (as
 * /proc/PID/stat says) started after *arrival, a CLOCK_REALTIME stamp
 * of a datagram.  The start time is rounded down, so a process that
 * started before is never taken for a later one, unless the real-time
 * clock was stepped forward between the datagram and now.
 */
static int
trust_later(unsigned long long ticks, const struct timespec *arrival)
{
	static long	 hz;
	struct timespec	 real, boot;
	int64_t		 at;

	if (hz <= 0 && (hz = sysconf(_SC_CLK_TCK)) <= 0)
		hz = 100;
	if (clock_gettime(CLOCK_REALTIME, &real) == -1 ||
	    clock_gettime(CLOCK_BOOTTIME, &boot) == -1)
		return 0;
	/* When it arrived, in nanoseconds of CLOCK_BOOTTIME. */
	at = (int64_t)(boot.tv_sec - real.tv_sec + arrival->tv_sec) *
	    INT64_C(1000000000) + boot.tv_nsec - real.tv_nsec +
	    arrival->tv_nsec;
	return (int64_t)(ticks * (1000000000ULL / (unsigned long)hz)) > at;
}

/*
 * Close the descriptors that came with msg: the sender's pidfd and any
 * it passed (BARRIER=1's, which releases a sender waiting for it).
 */
void
trust_release(struct msghdr *msg)
{
	struct cmsghdr	*cm;
	int		 fd;
	size_t		 k, n;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET)
			continue;
		if (cm->cmsg_type == SCM_PIDFD &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int))) {
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
			if (fd >= 0)
				close(fd);
		} else if (cm->cmsg_type == SCM_RIGHTS) {
			n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (k = 0; k < n; k++) {
				memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int),
				    sizeof(fd));
				close(fd);
			}
		}
	}
}
