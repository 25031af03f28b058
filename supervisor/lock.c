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
 * is taken again.  Symbolic links are not followed, and a file that is
 * not a regular one of ours is never written to (lock_unsafe()).
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
static const char *lock_unsafe(const struct stat *);
static int	 lock_open(int, const char *, const char *);

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
 * Why the file st describes is not one a lock may be taken on (and
 * written to), or NULL: it must be a regular file of ours with no other
 * name, since in a directory others can write to (a sticky /tmp) they may
 * have put theirs at the name first, or a hard link to a file of root's.
 */
static const char *
lock_unsafe(const struct stat *st)
{
	static char	 why[64];

	if (S_ISLNK(st->st_mode))
		return "is a symbolic link";
	if (!S_ISREG(st->st_mode))
		return "is not a regular file";
	if (st->st_uid != geteuid()) {
		(void)snprintf(why, sizeof(why), "is owned by uid %u, not by "
		    "drover's uid %u", (unsigned)st->st_uid,
		    (unsigned)geteuid());
		return why;
	}
	if (st->st_nlink != 1)
		return "has other names (hard links)";
	return NULL;
}

/*
 * Open the lock file path in the directory dirfd: never through a
 * symbolic link, never one lock_unsafe() refuses.  Returns the
 * descriptor; -1 after logging "label: why".
 */
static int
lock_open(int dirfd, const char *path, const char *label)
{
	struct stat	 st;
	const char	*why = NULL;
	int		 fd, saved;

	/*
	 * 0600: whoever can open the file can flock(2) it, and a reader
	 * holding a shared lock on a stale one would keep the next master
	 * from starting.
	 */
	fd = openat(dirfd, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		saved = errno;
		/* Say why rather than "permission denied" where we can. */
		if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (why = lock_unsafe(&st)) != NULL)
			log_warnx("%s %s; left alone", label, why);
		else {
			errno = saved;
			log_warn("%s", label);
		}
		return -1;
	}
	if (fstat(fd, &st) == -1 || (why = lock_unsafe(&st)) != NULL) {
		if (why == NULL)
			log_warn("%s", label);
		else
			log_warnx("%s %s; left alone", label, why);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Take the lock file path (relative to the directory dirfd) and write
 * our pid into it, once it is locked and known to be ours.  Returns the
 * locked descriptor (close-on-exec); -1 with errno EEXIST and the
 * holder's pid (0 if unknown) in *holder when another process holds it;
 * -1 with another errno after logging "label: why" on failure.
 */
int
lock_take(int dirfd, const char *path, const char *label, pid_t *holder)
{
	struct stat	 fst, pst;
	char		 buf[32];
	int		 fd, tries, n;

	*holder = 0;
	for (tries = 0; tries < 8; tries++) {
		if ((fd = lock_open(dirfd, path, label)) == -1) {
			errno = EPERM;
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK) {
				*holder = lock_holder(fd);
				errno = EEXIST;
			} else
				log_warn("%s: lock", label);
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
		log_warnx("%s keeps being replaced", label);
		errno = EAGAIN;
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	/* A file left by an older drover may still be 0644. */
	if (fchmod(fd, 0600) == -1 || ftruncate(fd, 0) == -1 ||
	    pwrite(fd, buf, (size_t)n, 0) != n) {
		log_warn("%s", label);
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
