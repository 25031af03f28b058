/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Finding a running master for droverctl(8), by its state directory, its
 * pid file or its pid, and signalling it.  A master holds an exclusive
 * flock(2) on state_dir/lock (and on its pid file) for as long as it
 * runs, across upgrades, so the master is the process that holds that
 * lock now, as /proc/locks says: a status.json or pid file left behind by
 * a master that is gone names nobody, and the pid of a process that is
 * not the holder is never signalled.  droverctl never takes the lock
 * itself, not even for a moment, so it can never make a master that
 * starts meanwhile think another one runs.  From a pid, the state
 * directory is the directory the master holds open (/proc/PID/fd) whose
 * lock it holds, reached through that descriptor, so it is found even
 * where the master sees another file system (a unit's PrivateTmp=).
 * Once found, the master is held by a pidfd (pidfd_open(2)), checked to
 * still hold the lock: from then on, signals reach that process or none,
 * even if its pid were reused.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/inotify.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

static pid_t	 find_holder(int, const char *);
static pid_t	 find_holder_st(const struct stat *);
static int	 find_state_fd(pid_t, const char *);
static void	 find_attach(struct ctl *, pid_t);

/*
 * Whether process pid has the file st open (st_dev and st_ino).  A
 * process whose descriptors we may not read is one we may not signal
 * either (both need its user's rights): it passes here, and the signal
 * then says "not permitted".
 */
static int
find_has_open(pid_t pid, const struct stat *st)
{
	struct dirent	*de;
	struct stat	 fst;
	char		 path[64];
	DIR		*d;
	int		 found = 0;

	(void)snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((d = opendir(path)) == NULL)
		return errno == EACCES;
	while (!found && (de = readdir(d)) != NULL)
		found = de->d_name[0] != '.' &&
		    fstatat(dirfd(d), de->d_name, &fst, 0) == 0 &&
		    fst.st_dev == st->st_dev && fst.st_ino == st->st_ino;
	closedir(d);
	return found;
}

/*
 * The pid of the process holding an exclusive flock(2) on the file st,
 * from /proc/locks; 0 if none.  /proc/locks names a file by its
 * inode number and the device of its file system, which stat(2) does not
 * show on every file system (btrfs subvolumes), and inode numbers repeat
 * across file systems (every tmpfs counts from 1): a line whose inode
 * matches is taken only if its pid has that very file open.
 */
static pid_t
find_holder_st(const struct stat *st)
{
	FILE		*fp;
	char		 line[256], *t[7], *last, *p;
	pid_t		 pid = 0;
	int		 n;

	if ((fp = fopen("/proc/locks", "re")) == NULL)
		return 0;
	while (pid == 0 && fgets(line, sizeof(line), fp) != NULL) {
		for (n = 0, p = strtok_r(line, " \n", &last); p != NULL &&
		    n < 7; p = strtok_r(NULL, " \n", &last))
			t[n++] = p;
		/* "1: FLOCK  ADVISORY  WRITE 123 fe:00:4567 0 EOF" */
		if (n < 6 || strcmp(t[1], "FLOCK") != 0 ||
		    strcmp(t[3], "WRITE") != 0 ||
		    (p = strrchr(t[5], ':')) == NULL ||
		    strtoull(p + 1, NULL, 10) != (unsigned long long)st->st_ino)
			continue;
		pid = (pid_t)strtol(t[4], NULL, 10);
		if (pid <= 0 || !find_has_open(pid, st))
			pid = 0;
	}
	fclose(fp);
	return pid;
}

/*
 * The holder of the lock file name in the directory dirfd, or 0.  The
 * file is not opened (it is 0600): its inode is all /proc/locks needs.
 */
static pid_t
find_holder(int dirfd, const char *name)
{
	struct stat	 st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode))
		return 0;
	return find_holder_st(&st);
}

/*
 * The master whose state directory is path.  It must exist and its lock
 * be held; the holder is the master.
 */
void
ctl_find_dir(struct ctl *c, const char *path)
{
	pid_t	 pid;

	c->c_where = path;
	if ((c->c_dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		if (errno == EACCES)
			ctl_fail(CTL_NOPERM, "state directory %s: %s", path,
			    strerror(errno));
		ctl_fail(CTL_NOMASTER, "no drover master runs with state "
		    "directory %s: %s", path, strerror(errno));
	}
	if ((pid = find_holder(c->c_dirfd, "lock")) == 0)
		ctl_fail(CTL_NOMASTER, "no drover master runs with state "
		    "directory %s: nobody holds %s/lock%s", path, path,
		    faccessat(c->c_dirfd, "status.json", F_OK, 0) == 0 ?
		    " (its status.json is stale)" : "");
	find_attach(c, pid);
}

/*
 * The master whose pid file is file: the pid it holds must be the
 * holder of its lock.
 */
void
ctl_find_pidfile(struct ctl *c, const char *file)
{
	struct stat	 st;
	char		 buf[32];
	ssize_t		 n;
	long		 pid;
	pid_t		 holder;
	int		 fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		ctl_fail(errno == EACCES ? CTL_NOPERM : CTL_NOMASTER,
		    "pid file %s: %s", file, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	pid = strtol(buf, NULL, 10);
	holder = fstat(fd, &st) == 0 ? find_holder_st(&st) : 0;
	close(fd);
	if (holder == 0 || pid != holder)
		ctl_fail(CTL_NOMASTER, "no drover master holds the pid file "
		    "%s%s", file, pid > 0 ? " (it is stale)" : "");
	ctl_find_pid(c, holder);
	c->c_where = file;
}

/*
 * The descriptor of the state directory of the master pid: one it holds
 * open, reached through /proc/PID/fd, whose lock it holds.  -1 if none.
 */
static int
find_state_fd(pid_t pid, const char *fddir)
{
	struct dirent	*de;
	struct stat	 st;
	char		 path[PATH_MAX];
	DIR		*d;
	int		 fd = -1;

	if ((d = opendir(fddir)) == NULL) {
		if (errno == EACCES || errno == EPERM)
			ctl_fail(CTL_NOPERM, "the descriptors of pid %ld "
			    "(%s): run as root or as its user, or name its "
			    "state directory with -s", (long)pid, fddir);
		ctl_fail(CTL_NOMASTER, "no process %ld", (long)pid);
	}
	while (fd == -1 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", fddir, de->d_name);
		if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode) ||
		    (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
		    -1)
			continue;
		if (find_holder(fd, "lock") != pid ||
		    faccessat(fd, "status.json", F_OK, 0) == -1) {
			close(fd);
			fd = -1;
		}
	}
	closedir(d);
	return fd;
}

/* The master of pid: it must hold the lock of a state directory. */
void
ctl_find_pid(struct ctl *c, pid_t pid)
{
	char	 fddir[64];

	(void)snprintf(fddir, sizeof(fddir), "/proc/%ld/fd", (long)pid);
	c->c_where = "the master";
	if ((c->c_dirfd = find_state_fd(pid, fddir)) == -1)
		ctl_fail(CTL_NOMASTER, "pid %ld is not a drover master: it "
		    "holds the lock of no state directory", (long)pid);
	find_attach(c, pid);
}

/*
 * Hold the master of pid by a pidfd and watch its state directory; the
 * lock is checked once more after pidfd_open(), so that the pidfd is of
 * the holder, not of a process that got its pid since.
 */
static void
find_attach(struct ctl *c, pid_t pid)
{
	char	 self[64];

	c->c_pid = pid;
#ifdef SYS_pidfd_open
	c->c_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#else
	c->c_pidfd = -1;
#endif
	if (c->c_pidfd == -1 && errno == ESRCH)
		ctl_fail(CTL_NOMASTER, "the master (pid %ld) is gone",
		    (long)pid);
	if (c->c_pidfd != -1)
		(void)fcntl(c->c_pidfd, F_SETFD, FD_CLOEXEC);
	if (find_holder(c->c_dirfd, "lock") != pid)
		ctl_fail(CTL_NOMASTER, "the master (pid %ld) is gone",
		    (long)pid);
	if ((c->c_inotify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) == -1)
		ctl_fail(CTL_OSERR, "inotify_init1: %s", strerror(errno));
	(void)snprintf(self, sizeof(self), "/proc/self/fd/%d", c->c_dirfd);
	if (inotify_add_watch(c->c_inotify, self, IN_MOVED_TO | IN_DELETE |
	    IN_CLOSE_WRITE) == -1)
		ctl_fail(CTL_OSERR, "inotify_add_watch %s: %s", c->c_where,
		    strerror(errno));
}

/* Send the master sig; fails with the reason if it cannot. */
void
ctl_signal(struct ctl *c, int sig)
{
	int	 rv;

#ifdef SYS_pidfd_send_signal
	if (c->c_pidfd != -1)
		rv = (int)syscall(SYS_pidfd_send_signal, c->c_pidfd, sig,
		    NULL, 0);
	else
#endif
		rv = kill(c->c_pid, sig);
	if (rv == 0)
		return;
	if (errno == EPERM)
		ctl_fail(CTL_NOPERM, "cannot signal the master (pid %ld): run "
		    "as root or as its user", (long)c->c_pid);
	if (errno == ESRCH)
		ctl_fail(CTL_NOMASTER, "the master (pid %ld) is gone",
		    (long)c->c_pid);
	ctl_fail(CTL_OSERR, "cannot signal the master (pid %ld): %s",
	    (long)c->c_pid, strerror(errno));
}

/*
 * Whether the master still runs: its pidfd is not readable (it becomes
 * so when the process exits), or without one, it still holds the lock.
 */
int
ctl_alive(struct ctl *c)
{
	struct pollfd	 pfd;

	if (c->c_pidfd == -1)
		return find_holder(c->c_dirfd, "lock") == c->c_pid;
	pfd.fd = c->c_pidfd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, 0) == 0;
}
