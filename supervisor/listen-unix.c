/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The files of unix: listen addresses: parsing "unix:/PATH", making way
 * for a socket where a master that is gone left one, and giving a bound
 * socket the mode, owner and group of socket_mode, socket_owner and
 * socket_group, so that a proxy running as another user may connect to
 * it.  The socket itself is opened in listen.c like any other.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

/* Fill l for "unix:/PATH".  Returns -1 with a message in *errstr. */
int
listen_parse_unix(const char *addr, struct listener *l, const char **errstr)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&l->l_ss;

	l->l_type = LISTEN_UNIX;
	if (addr[5] != '/') {
		*errstr = "a unix socket path must be absolute";
		return -1;
	}
	if (strlen(addr + 5) >= sizeof(sun->sun_path)) {
		*errstr = "unix socket path too long";
		return -1;
	}
	sun->sun_family = AF_UNIX;
	strlcpy(sun->sun_path, addr + 5, sizeof(sun->sun_path));
	l->l_sslen = sizeof(*sun);
	l->l_path = xstrdup(addr + 5);
	return 0;
}

/*
 * Make way for a unix socket at l's path: a socket file left by a master
 * that is gone is removed; one that still accepts connections belongs to
 * a live process and is an error (EADDRINUSE), as is anything that is
 * not a socket (EEXIST).
 */
int
listen_unix_free(const struct listener *l)
{
	struct stat	 st;
	int		 fd, rv;

	if (lstat(l->l_path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rv = connect(fd, (const struct sockaddr *)&l->l_ss, l->l_sslen);
	close(fd);
	if (rv == 0) {
		errno = EADDRINUSE;
		return -1;
	}
	return unlink(l->l_path);
}

/*
 * Give the socket file at l's path the owner, group and mode l asks for
 * (l_uid, l_gid, l_mode; -1 leaves each as it is).  listen_socket()
 * calls this between bind(2) and listen(2), so that no connection is
 * ever accepted under other permissions; a reload, on a socket it keeps.
 * The file is reached through its directory and never through a
 * symbolic link: whatever was put in the socket's place since it was
 * bound is refused, never followed to some other file.  Returns -1 after
 * logging.
 */
int
listen_unix_perms(const struct listener *l)
{
	struct stat	 st;
	const char	*base;
	char		*dir;
	int		 dfd = -1, rv = -1;

	if (l->l_mode == -1 && l->l_uid == (uid_t)-1 &&
	    l->l_gid == (gid_t)-1)
		return 0;
	base = strrchr(l->l_path, '/') + 1;	/* the path is absolute */
	dir = base - 1 == l->l_path ? xstrdup("/") :
	    xstrndup(l->l_path, base - 1 - l->l_path);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		log_warn("listen %s: %s", l->l_addr, l->l_path);
		goto done;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("listen %s: %s is no longer the socket drover "
		    "bound", l->l_addr, l->l_path);
		goto done;
	}
	if ((l->l_uid != (uid_t)-1 || l->l_gid != (gid_t)-1) &&
	    fchownat(dfd, base, l->l_uid, l->l_gid,
	    AT_SYMLINK_NOFOLLOW) == -1) {
		log_warn("listen %s: socket_owner, socket_group: chown %s",
		    l->l_addr, l->l_path);
		goto done;
	}
	if (l->l_mode != -1 && fchmodat(dfd, base, (mode_t)l->l_mode,
	    AT_SYMLINK_NOFOLLOW) == -1) {
		log_warn("listen %s: socket_mode: chmod %s", l->l_addr,
		    l->l_path);
		goto done;
	}
	rv = 0;
 done:
	if (dfd != -1)
		close(dfd);
	free(dir);
	return rv;
}
