/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The directories the master writes in: the state directory and the pid
 * file's.  A master usually runs as root, and both paths may lie where
 * others can write (/tmp, an application's directory), so a directory is
 * opened once, one name at a time, and everything in it is then created
 * relative to that descriptor, without following symbolic links.  On the
 * way, a symbolic link is followed only if root or the master's own user
 * owns it: whoever else planted one could aim it anywhere.  The directory
 * reached is then checked on its descriptor, so no rename or replacement
 * of the path in between can change what was checked:
 *
 *  - the state directory must belong to the master's user and be writable
 *    by nobody else.  Then nobody else can create, remove or replace a
 *    name in it, and the master may create, rename, chown and remove its
 *    files by name relative to the descriptor;
 *  - the pid file's directory must belong to root or to that user, and
 *    if others can write to it, be sticky (like /tmp): there, nobody else
 *    can remove or replace a file of ours, and lock.c refuses a pid file
 *    that is not one.
 *
 * A directory the master creates (with its missing parents) is mode 0755.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

/* How many symbolic links one path may go through, as the kernel says. */
#define PATH_MAXLINKS	40

static int	 path_walk(int, const char *, int, int *, const char *,
		    const char *);
static int	 path_step(int, const char *, int, int *, const char *,
		    const char *);

/*
 * Open the directory path relative to at, one name at a time; create
 * the names missing if create.  *nlinks counts the symbolic links
 * followed.  Returns an O_PATH descriptor, or -1 after logging "label
 * whole: why".
 */
static int
path_walk(int at, const char *path, int create, int *nlinks,
    const char *label, const char *whole)
{
	char	*copy, *name, *next;
	int	 fd, nfd;

	fd = openat(*path == '/' ? AT_FDCWD : at, *path == '/' ? "/" : ".",
	    O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		log_warn("%s %s", label, whole);
		return -1;
	}
	copy = xstrdup(path);
	for (name = copy; name != NULL && fd != -1; name = next) {
		if ((next = strchr(name, '/')) != NULL)
			*next++ = '\0';
		if (*name == '\0' || strcmp(name, ".") == 0)
			continue;
		nfd = path_step(fd, name, create, nlinks, label, whole);
		close(fd);
		fd = nfd;
	}
	free(copy);
	return fd;
}

/*
 * One name of path_walk(), in the directory dirfd: the directory it
 * names, through a symbolic link if root or we own it.  Returns an O_PATH
 * descriptor, or -1 after logging.
 */
static int
path_step(int dirfd, const char *name, int create, int *nlinks,
    const char *label, const char *whole)
{
	struct stat	 st;
	char		 link[PATH_MAX];
	ssize_t		 n;
	int		 fd;

	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && create &&
	    (mkdirat(dirfd, name, 0755) == 0 || errno == EEXIST))
		fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1) {
		log_warn("%s %s: %s", label, whole, name);
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return fd;
	if (!S_ISLNK(st.st_mode)) {
		log_warnx("%s %s: %s is not a directory", label, whole, name);
		close(fd);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		log_warnx("%s %s: %s is a symbolic link owned by uid %u, "
		    "neither root nor drover's user; not followed", label,
		    whole, name, (unsigned)st.st_uid);
		close(fd);
		return -1;
	}
	/* Read through the descriptor: the link checked is the one read. */
	n = readlinkat(fd, "", link, sizeof(link));
	close(fd);
	if (n <= 0 || (size_t)n >= sizeof(link) || ++*nlinks > PATH_MAXLINKS) {
		errno = n <= 0 ? errno : (size_t)n >= sizeof(link) ?
		    ENAMETOOLONG : ELOOP;
		log_warn("%s %s: %s", label, whole, name);
		return -1;
	}
	link[n] = '\0';
	return path_walk(dirfd, link, create, nlinks, label, whole);
}

/*
 * Open the directory path for the master to write in, creating it and
 * its missing parents if flags has PATH_CREATE, and check it: it must
 * belong to drover's user and be writable by nobody else, or, with
 * PATH_SHARED (the pid file's directory), belong to root or drover's
 * user and, if others can write to it, be sticky.  Returns an O_RDONLY
 * descriptor; -1 after logging "label path: why".
 */
int
path_opendir(const char *path, int flags, const char *label)
{
	struct stat	 st;
	uid_t		 me = geteuid();
	int		 fd, dfd, nlinks = 0, writable;

	fd = path_walk(AT_FDCWD, path, flags & PATH_CREATE, &nlinks, label,
	    path);
	if (fd == -1)
		return -1;
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(fd);
	if (dfd == -1 || fstat(dfd, &st) == -1) {
		log_warn("%s %s", label, path);
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	writable = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
	if (st.st_uid != me && (!(flags & PATH_SHARED) || st.st_uid != 0)) {
		log_warnx("%s %s is owned by uid %u, not by %s uid %u",
		    label, path, (unsigned)st.st_uid, flags & PATH_SHARED ?
		    "root or drover's" : "drover's", (unsigned)me);
		close(dfd);
		return -1;
	}
	if (writable && (!(flags & PATH_SHARED) || !(st.st_mode & S_ISVTX))) {
		log_warnx("%s %s is writable by its group or others (mode "
		    "%04o)%s", label, path, (unsigned)st.st_mode & 07777,
		    flags & PATH_SHARED ? " and not sticky" : "");
		close(dfd);
		return -1;
	}
	return dfd;
}

/*
 * Open the directory of file as path_opendir(path, PATH_SHARED, label)
 * does; *base is set to the file's name in it.
 */
int
path_openparent(const char *file, const char **base, const char *label)
{
	const char	*slash;
	char		*dir;
	int		 fd;

	if ((slash = strrchr(file, '/')) == NULL) {
		*base = file;
		return path_opendir(".", PATH_SHARED, label);
	}
	*base = slash + 1;
	dir = slash == file ? xstrdup("/") :
	    xstrndup(file, (size_t)(slash - file));
	fd = path_opendir(dir, PATH_SHARED, label);
	free(dir);
	return fd;
}
