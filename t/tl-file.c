/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * Files: reading a whole file, counting in text (the daemon's log, say),
 * writing a file atomically (a temporary name and rename(2), as the
 * daemon writes its own), FIFOs that gate workers, and waiting until a
 * file (the daemon's log) says something, woken by inotify, and which
 * state files came and went while a test did something.  The
 * descriptors of FIFOs tl_fifo_release() wrote to are held open until
 * the exit hook (tl-path.c) calls tl_fifo_cleanup().
 */

#include "config.h"

#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"
#include "tl-private.h"

static void	 tl_drain(int);
static int	 tl_wait_text(const char *, const char *, int, pid_t, int,
		    int);

static int		 *tl_fifofds;
static size_t		  tl_nfifofds;

/*
 * The FIFOs' part of the exit hook (see tl-path.c): close the
 * descriptors tl_fifo_release() held open.
 */
void
tl_fifo_cleanup(void)
{
	size_t	 i;

	for (i = 0; i < tl_nfifofds; i++)
		close(tl_fifofds[i]);
	free(tl_fifofds);
	tl_fifofds = NULL;
	tl_nfifofds = 0;
}

/*
 * Read a whole file into a NUL-terminated buffer, its length (without the
 * NUL, which may not be the first) in *lenp; NULL with errno.
 */
char *
tl_slurp_len(const char *path, size_t *lenp)
{
	char	*buf = NULL, *nbuf;
	size_t	 len = 0, size = 0;
	ssize_t	 n;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (size - len < 2) {
			size = size ? size * 2 : 4096;
			if ((nbuf = realloc(buf, size)) == NULL)
				goto fail;
			buf = nbuf;
		}
		n = read(fd, buf + len, size - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
 fail:
	saved = errno;
	close(fd);
	free(buf);
	errno = saved;
	return NULL;
}

/* Read a whole file into a NUL-terminated buffer; NULL with errno. */
char *
tl_slurp(const char *path)
{
	size_t	 len;

	return tl_slurp_len(path, &len);
}

/* Non-overlapping occurrences of needle in hay (0 if either is NULL). */
int
tl_count(const char *hay, const char *needle)
{
	size_t	 len;
	int	 n = 0;

	if (hay == NULL || needle == NULL || (len = strlen(needle)) == 0)
		return 0;
	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += len;
	}
	return n;
}

/* Occurrences of needle in the log of d, or -1 if it cannot be read. */
int
tl_log_count(const struct tl_daemon *d, const char *needle)
{
	char	*text;
	int	 n;

	if ((text = tl_slurp(d->log)) == NULL)
		return -1;
	n = tl_count(text, needle);
	free(text);
	return n;
}

/* Make a FIFO named name in dir; bail out if it cannot. */
const char *
tl_fifo_new(const char *dir, const char *name)
{
	const char	*path = tl_fmt("%s/%s", dir, name);

	if (mkfifo(path, 0600) == -1)
		sysbail("mkfifo %s", path);
	return path;
}

/*
 * Let a worker waiting on a FIFO go on: write one line to it.  The FIFO
 * is opened read-write, which never blocks, and the descriptor is held
 * until exit, so the line stays there whether the worker has opened the
 * FIFO yet or not, and a worker that opens it again later (a restarted
 * one) blocks instead of reading end of file.
 */
void
tl_fifo_release(const char *path)
{
	int	*v, fd;

	tl_register();
	if ((v = reallocarray(tl_fifofds, tl_nfifofds + 1, sizeof(*v))) ==
	    NULL)
		sysbail("reallocarray");
	tl_fifofds = v;
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		sysbail("open %s", path);
	if (write(fd, "go\n", 3) != 3)
		sysbail("write %s", path);
	tl_fifofds[tl_nfifofds++] = fd;
}

/* Write to a temporary name beside path and rename, like the daemon. */
int
tl_write_file(const char *path, const char *fmt, ...)
{
	va_list	 ap;
	char	*text, *tmp;
	size_t	 len, off = 0;
	ssize_t	 n;
	int	 fd, r, saved;

	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (r == -1)
		return -1;
	len = (size_t)r;
	tmp = tl_xasprintf("%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		goto fail;
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			unlink(tmp);
			errno = saved;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) == -1 || close(fd) == -1 ||
	    rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		goto fail;
	}
	free(tmp);
	free(text);
	return 0;
 fail:
	saved = errno;
	free(tmp);
	free(text);
	errno = saved;
	return -1;
}

/* Read and discard whatever an inotify descriptor has queued. */
static void
tl_drain(int ifd)
{
	char	 buf[4096];

	while (read(ifd, buf, sizeof(buf)) > 0)
		continue;
}

/*
 * Wait until the file contains needle at least n times, re-reading it on
 * every inotify IN_MODIFY.  When the writer pid (if not 0) exits, one
 * last read decides.
 */
static int
tl_wait_text(const char *path, const char *needle, int n, pid_t pid,
    int pidfd, int timeout_ms)
{
	struct pollfd	 pfd;
	long long	 deadline = tl_deadline(timeout_ms);
	char		*text = NULL;
	const char	*tail;
	int		 ifd, gone = 0;

	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		sysbail("inotify_init1");
	if (inotify_add_watch(ifd, path, IN_MODIFY) == -1)
		sysbail("inotify_add_watch %s", path);
	for (;;) {
		free(text);
		text = tl_slurp(path);
		if (text != NULL && tl_count(text, needle) >= n) {
			free(text);
			close(ifd);
			return 0;
		}
		if (gone)
			break;
		pfd.fd = ifd;
		pfd.events = POLLIN;
		if (tl_poll(&pfd, 1, deadline, pid, pidfd, &gone) == 0)
			break;
		tl_drain(ifd);
	}
	close(ifd);
	tail = text != NULL ? text : "";
	if (strlen(tail) > 2000)
		tail += strlen(tail) - 2000;
	diag("%s: \"%s\" not %d times (%s); it ends with:\n%s", path,
	    needle, n, gone ? "the daemon exited" : "timed out", tail);
	free(text);
	return -1;
}

/* Wait until the daemon's log holds needle; see tl_wait_text(). */
int
tl_wait_log(struct tl_daemon *d, const char *needle, int timeout_ms)
{
	return tl_wait_log_count(d, needle, 1, timeout_ms);
}

/* Wait until the daemon's log holds needle n times. */
int
tl_wait_log_count(struct tl_daemon *d, const char *needle, int n,
    int timeout_ms)
{
	return tl_wait_text(d->log, needle, n, d->exited ? 0 : d->pid,
	    d->pidfd, timeout_ms);
}

/* Watch dir for files leaving it (and status.json arriving). */
int
tl_state_watch(const char *dir)
{
	int	 fd;

	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		sysbail("inotify_init1");
	if (inotify_add_watch(fd, dir, IN_DELETE | IN_MOVED_FROM |
	    IN_MOVED_TO) == -1)
		sysbail("inotify_add_watch %s", dir);
	return fd;
}

/*
 * Read what the watch saw: how often `ready` left (deleted or renamed
 * away) and how often status.json was renamed into place.  -1 if the
 * event queue overflowed, so that nothing can be told.
 */
int
tl_state_events(int fd, int *gone, int *written)
{
	char				 buf[65536]
					    __attribute__((aligned(8)));
	const struct inotify_event	*ev;
	ssize_t				 n;
	size_t				 off;
	int				 overflow = 0;

	*gone = *written = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < (size_t)n;
		    off += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(buf + off);
			if (ev->mask & IN_Q_OVERFLOW)
				overflow = 1;
			if (ev->len == 0)
				continue;
			if (strcmp(ev->name, "ready") == 0 &&
			    (ev->mask & (IN_DELETE | IN_MOVED_FROM)))
				(*gone)++;
			if (strcmp(ev->name, "status.json") == 0 &&
			    (ev->mask & IN_MOVED_TO))
				(*written)++;
		}
	}
	if (n == -1 && errno != EAGAIN)
		sysbail("read inotify");
	close(fd);
	return overflow ? -1 : 0;
}
