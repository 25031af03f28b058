/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * One master per pid file and per state directory.  Both are a file
 * holding the master's pid under an exclusive flock(2), taken without
 * waiting: a second master finds the lock held, reads the first one's pid
 * from the file and says so.  The lock lives as long as its descriptor,
 * which the master keeps for its whole life and hands over across the
 * execve(2) of an upgrade (an upgraded image adopts it instead of taking
 * it again, which it could not: the lock is held by that very
 * descriptor).  A file that is removed and created again while a lock is
 * being taken would let two masters each lock a different file, so after
 * locking, the file must still be the one at the path; if not, the lock
 * is taken again.  Symbolic links are not followed.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

static pid_t	 lock_holder(int);

/* The pid written in a lock file, or 0 if it holds none. */
static pid_t
lock_holder(int fd)
{
	char		 buf[32];
	const char	*e;
	ssize_t		 n;
	long long	 pid;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	pid = strtonum(buf, 1, INT32_MAX, &e);
	return e == NULL ? (pid_t)pid : 0;
}

/*
 * Take the lock file path (relative to the directory dirfd, or to the
 * working directory with AT_FDCWD) and write our pid into it.  Returns
 * the locked descriptor (close-on-exec); -1 with errno EEXIST and the
 * holder's pid (0 if unknown) in *holder when another process holds it;
 * -1 with another errno on failure.
 */
int
lock_take(int dirfd, const char *path, pid_t *holder)
{
	struct stat	 fst, pst;
	char		 buf[32];
	int		 fd, tries, n;

	*holder = 0;
	for (tries = 0; tries < 8; tries++) {
		fd = openat(dirfd, path, O_RDWR | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
		if (fd == -1)
			return -1;
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK) {
				*holder = lock_holder(fd);
				errno = EEXIST;
			}
			close(fd);
			return -1;
		}
		/* Still the file at the path?  Else it was replaced. */
		if (fstat(fd, &fst) == 0 && fstatat(dirfd, path, &pst,
		    AT_SYMLINK_NOFOLLOW) == 0 && fst.st_dev == pst.st_dev &&
		    fst.st_ino == pst.st_ino)
			break;
		close(fd);
	}
	if (tries == 8) {
		errno = EAGAIN;
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Let go of a lock taken with lock_take: remove the file while still
 * holding the lock, so that no other master can take it in between and
 * see it removed, then close it.
 */
void
lock_release(int dirfd, const char *path, int fd)
{
	struct stat	 fst, pst;

	if (fd == -1)
		return;
	if (fstat(fd, &fst) == 0 && fstatat(dirfd, path, &pst,
	    AT_SYMLINK_NOFOLLOW) == 0 && fst.st_dev == pst.st_dev &&
	    fst.st_ino == pst.st_ino)
		(void)unlinkat(dirfd, path, 0);
	close(fd);
}

/*
 * After an upgrade: whether fd is a lock file we hold.  It must be a
 * regular file; the lock itself came with the descriptor.
 */
int
lock_adopt(int fd)
{
	struct stat	 st;

	if (fd < 0 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}
