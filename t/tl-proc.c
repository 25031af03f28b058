/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * Processes: what /proc says of them (state, parent, start time,
 * children, environment, status fields, descriptors) and waiting for
 * them.  Waiting is always poll(2) with a deadline, on the descriptors
 * a caller passes and on a pidfd for the process watched; nothing here
 * sleeps.  Only where pidfd_open(2) fails with ENOSYS (valgrind 3.19, for
 * one, does not know it) is a process's exit found by looking at /proc
 * every TL_SLICE_MS milliseconds, in the same poll(2) loop.  The other
 * files of the library wait through tl_poll().
 */

#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"
#include "tl-private.h"

#define TL_SLICE_MS	20	/* /proc checks without pidfd_open(2) */

/* One entry of /proc/PID/fd. */
struct tl_fdent {
	int		 f_fd;
	unsigned long	 f_ino;		/* socket inode, or 0 */
};

static int	 tl_gone(pid_t);
static int	 tl_pid_cmp(const void *, const void *);
static const char *tl_env_scan(pid_t, const char *, int *);
static int	 tl_fdent_cmp(const void *, const void *);
static int	 tl_fdents(pid_t, struct tl_fdent **);

/* Milliseconds on the monotonic clock; it cannot fail, so it never bails. */
long long
tl_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
tl_pause_ms(int ms)
{
	struct timespec	 ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (ms > 0 && nanosleep(&ts, &ts) == -1 && errno == EINTR)
		continue;
}

int
tl_become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
	    setuid(uid) == -1)
		return -1;
	return 0;
}

/*
 * See testlib.h: the limit is the (extra + 1)th free descriptor number,
 * so that exactly extra numbers below it are free, holes included.
 */
void
tl_fd_starve(pid_t pid, int extra, struct rlimit *old)
{
	struct rlimit	 low;
	int		 fds[1024], n, i = 0, k, nfree = 0;

	if ((n = tl_fd_list(pid, fds, 1024)) <= 0)
		bail("cannot list the descriptors of %d", (int)pid);
	for (k = 0;; k++) {
		if (i < n && fds[i] == k) {
			i++;
			continue;
		}
		if (nfree++ == extra)
			break;
	}
	if (prlimit(pid, RLIMIT_NOFILE, NULL, old) == -1)
		sysbail("prlimit %d", (int)pid);
	low.rlim_cur = (rlim_t)k;
	low.rlim_max = old->rlim_max;
	if (prlimit(pid, RLIMIT_NOFILE, &low, NULL) == -1)
		sysbail("prlimit %d", (int)pid);
}

void
tl_fd_restore(pid_t pid, const struct rlimit *old)
{
	if (prlimit(pid, RLIMIT_NOFILE, old, NULL) == -1)
		sysbail("prlimit %d", (int)pid);
}

int
tl_slow_ms(int ms)
{
	if (getenv("DROVER_TEST_VALGRIND") != NULL && ms <= INT_MAX /
	    TL_VALGRIND_SLOWER)
		return ms * TL_VALGRIND_SLOWER;
	return ms;
}

/* The deadline for a timeout; a negative timeout never expires (-1). */
long long
tl_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : tl_now_ms() + timeout_ms;
}

/* The poll(2) timeout left until deadline: -1 forever, 0 if passed. */
int
tl_remaining(long long deadline)
{
	long long	 left;

	if (deadline < 0)
		return -1;
	left = deadline - tl_now_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* A pidfd for pid: -1 with ESRCH if gone, ENOSYS if unsupported. */
int
tl_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Read /proc/PID/stat: state (field 3), parent (4) and start time (22),
 * counted after the parenthesised command name, which may itself hold
 * blanks and parentheses, hence the last ')'.  0, or -1 if there is no
 * such process.
 */
int
tl_proc(pid_t pid, struct tl_proc *pr)
{
	char	 path[64], buf[1024], *p;
	ssize_t	 len;
	int	 fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %d"
	    " %*s %*s %*s %*s %*s %*s %*s %*s %*s"	/* fields 5-13 */
	    " %*s %*s %*s %*s %*s %*s %*s %*s"		/* fields 14-21 */
	    " %llu", &pr->p_state, &pr->p_ppid, &pr->p_start) != 3)
		return -1;
	pr->p_pid = pid;
	return 0;
}

/* Whether pid has exited (no such process, or a zombie). */
static int
tl_gone(pid_t pid)
{
	struct tl_proc	 pr;

	if (tl_proc(pid, &pr) == -1)
		return 1;
	return pr.p_state == 'Z' || pr.p_state == 'X';
}

/*
 * poll(2) on the n descriptors of pfd (at most 3) until one is ready, the
 * deadline passes, or, if pid is not 0, that process exits: then *gone is
 * set.  The exit is seen through pidfd, or if pidfd is -1 through /proc.
 * Returns 0 only when the deadline passed.  revents are set in pfd.
 */
int
tl_poll(struct pollfd *pfd, int n, long long deadline, pid_t pid, int pidfd,
    int *gone)
{
	struct pollfd	 all[4];
	int		 i, m = n, r, t, slices = pid != 0 && pidfd == -1;

	*gone = 0;
	for (i = 0; i < n; i++) {
		all[i] = pfd[i];
		pfd[i].revents = 0;
	}
	if (pid != 0 && pidfd != -1) {
		all[m].fd = pidfd;
		all[m].events = POLLIN;
		m++;
	}
	for (;;) {
		t = tl_remaining(deadline);
		if (slices) {
			if (tl_gone(pid)) {
				*gone = 1;
				return 1;
			}
			if (t == -1 || t > TL_SLICE_MS)
				t = TL_SLICE_MS;
		}
		if ((r = poll(all, (nfds_t)m, t)) == -1) {
			if (errno == EINTR)
				continue;
			sysbail("poll");
		}
		if (r == 0 && slices && tl_remaining(deadline) != 0)
			continue;
		break;
	}
	for (i = 0; i < n; i++)
		pfd[i].revents = all[i].revents;
	if (m > n && all[n].revents != 0)
		*gone = 1;
	return r;
}

/* A wait status as a shell would report it: code, or 128 + signal. */
int
tl_decode(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/* Wait for any process, not only a child, to exit. */
int
tl_wait_pid_gone(pid_t pid, int timeout_ms)
{
	long long	 deadline = tl_deadline(timeout_ms);
	int		 fd, gone;

	if ((fd = tl_pidfd_open(pid)) == -1) {
		if (errno == ESRCH)
			return 0;
		if (errno != ENOSYS)
			sysbail("pidfd_open %d", (int)pid);
	}
	tl_poll(NULL, 0, deadline, pid, fd, &gone);
	if (fd != -1)
		close(fd);
	return gone ? 0 : -1;
}

/* A qsort(3) comparison of pids. */
static int
tl_pid_cmp(const void *a, const void *b)
{
	pid_t	 x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/* Children of ppid, zombies included, from /proc. */
int
tl_children(pid_t ppid, pid_t *pids, int max)
{
	DIR		*dir;
	struct dirent	*de;
	struct tl_proc	 pr;
	int		 n = 0;

	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL && n < max) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (tl_proc((pid_t)strtol(de->d_name, NULL, 10), &pr) == 0 &&
		    pr.p_ppid == (int)ppid)
			pids[n++] = pr.p_pid;
	}
	closedir(dir);
	qsort(pids, (size_t)n, sizeof(*pids), tl_pid_cmp);
	return n;
}

/*
 * Look name up in the environment process pid started with, from
 * /proc/PID/environ: a library-owned copy of the first value, or NULL.
 * *count (if not NULL) is set to how many entries define name.
 */
static const char *
tl_env_scan(pid_t pid, const char *name, int *count)
{
	char		*buf, *p, *end;
	const char	*val = NULL;
	size_t		 len, nlen = strlen(name);

	if (count != NULL)
		*count = 0;
	if ((buf = tl_slurp_len(tl_fmt("/proc/%ld/environ", (long)pid),
	    &len)) == NULL)
		return NULL;
	end = buf + len;
	for (p = buf; p < end; p += strlen(p) + 1)
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			if (val == NULL)
				val = tl_fmt("%s", p + nlen + 1);
			if (count != NULL)
				(*count)++;
		}
	free(buf);
	return val;
}

/* The first value of name in pid's starting environment, or NULL. */
const char *
tl_env_of(pid_t pid, const char *name)
{
	return tl_env_scan(pid, name, NULL);
}

/* How many entries of pid's starting environment define name. */
int
tl_env_count(pid_t pid, const char *name)
{
	int	 n;

	(void)tl_env_scan(pid, name, &n);
	return n;
}

/*
 * The value of field in /proc/PID/status, after the colon and the blanks
 * that follow it, up to the end of its line.
 */
const char *
tl_proc_status(pid_t pid, const char *field)
{
	char		*text, *p, *end;
	const char	*val = NULL;
	size_t		 len = strlen(field);

	if ((text = tl_slurp(tl_fmt("/proc/%ld/status", (long)pid))) == NULL)
		return NULL;
	for (p = text; p != NULL; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, field, len) == 0 && p[len] == ':') {
			p += len + 1;
			p += strspn(p, " \t");
			end = p + strcspn(p, "\n");
			val = tl_fmt("%.*s", (int)(end - p), p);
			break;
		}
	}
	free(text);
	return val;
}

/* A size field such as "VmRSS:   1234 kB" as its number of kB. */
long
tl_proc_status_kb(pid_t pid, const char *field)
{
	const char	*val;
	char		*end;
	long		 kb;

	if ((val = tl_proc_status(pid, field)) == NULL)
		return -1;
	kb = strtol(val, &end, 10);
	return end == val ? -1 : kb;
}

/* A qsort(3) comparison of fd entries, by number. */
static int
tl_fdent_cmp(const void *a, const void *b)
{
	const struct tl_fdent	*x = a, *y = b;

	return x->f_fd < y->f_fd ? -1 : x->f_fd > y->f_fd;
}

/*
 * Every fd of pid with its socket inode (0 if not a socket), sorted; the
 * descriptor used to read the directory is left out when pid is us.
 */
static int
tl_fdents(pid_t pid, struct tl_fdent **out)
{
	DIR		*dir;
	struct dirent	*de;
	struct tl_fdent	*v = NULL, *nv;
	char		 path[64], link[64];
	ssize_t		 len;
	int		 n = 0, self, fd;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	self = pid == getpid() ? dirfd(dir) : -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if ((fd = (int)strtol(de->d_name, NULL, 10)) == self)
			continue;
		if ((nv = reallocarray(v, (size_t)n + 1, sizeof(*v))) == NULL)
			sysbail("reallocarray");
		v = nv;
		v[n].f_fd = fd;
		v[n].f_ino = 0;
		len = readlinkat(dirfd(dir), de->d_name, link,
		    sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			if (sscanf(link, "socket:[%lu]", &v[n].f_ino) != 1)
				v[n].f_ino = 0;
		}
		n++;
	}
	closedir(dir);
	if (n > 0)
		qsort(v, (size_t)n, sizeof(*v), tl_fdent_cmp);
	*out = v;
	return n;
}

/* The sockets among pid's fds: inode and fd number, by fd number. */
int
tl_fd_inodes(pid_t pid, unsigned long *ino, int *fdnum, int max)
{
	struct tl_fdent	*v;
	int		 n, i, k = 0;

	if ((n = tl_fdents(pid, &v)) == -1)
		return -1;
	for (i = 0; i < n && k < max; i++) {
		if (v[i].f_ino == 0)
			continue;
		if (ino != NULL)
			ino[k] = v[i].f_ino;
		if (fdnum != NULL)
			fdnum[k] = v[i].f_fd;
		k++;
	}
	free(v);
	return k;
}

/* The inode of the socket on descriptor fd of pid; 0 if none. */
unsigned long
tl_fd_socket(pid_t pid, int fd)
{
	struct tl_fdent	*v;
	unsigned long	 ino = 0;
	int		 n, i;

	if ((n = tl_fdents(pid, &v)) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (v[i].f_fd == fd)
			ino = v[i].f_ino;
	free(v);
	return ino;
}

/* Every fd number of pid, sorted, at most max of them. */
int
tl_fd_list(pid_t pid, int *fds, int max)
{
	struct tl_fdent	*v;
	int		 n, i;

	if ((n = tl_fdents(pid, &v)) == -1)
		return -1;
	for (i = 0; i < n && i < max; i++)
		fds[i] = v[i].f_fd;
	free(v);
	return i;
}
