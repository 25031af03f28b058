/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * libdrover without its libev helper: what a worker learns from its
 * environment (the listening sockets passed the systemd way, its slot,
 * the number of slots and its generation, its notify channels and its
 * watchdog) and the messages it sends back to its supervisor.  drover(8)
 * gives a worker two channels carrying the same sd_notify(3) vocabulary:
 * a stream socket at DROVER_NOTIFY_FD, one message a line, and a datagram
 * socket named by NOTIFY_SOCKET; systemd gives only the second.  The
 * stream is preferred when both are there.  Everything is parsed strictly
 * and checked once, in drover_open(); afterwards the handle holds all the
 * state, the functions only read it, and a failing call returns -1 (or
 * NULL) with errno set and changes nothing.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover.h"
#include "libdrover-private.h"

/* The first inherited listening socket, as in sd_listen_fds(3). */
#define DW_LISTEN_START	3

static int	 dw_parse(const char *, uint64_t, uint64_t *);
static int	 dw_env_num(const char *, uint64_t, uint64_t *);
static int	 dw_listen(struct drover_worker *);
static int	 dw_names(struct drover_worker *);
static int	 dw_ids(struct drover_worker *);
static int	 dw_channels(struct drover_worker *);
static int	 dw_watchdog_env(struct drover_worker *);
static int	 dw_cloexec(int);
static int	 dw_forget(struct drover_worker *);
static void	 dw_free(struct drover_worker *);
static int	 dw_message_ok(const char *, size_t);
static int	 dw_send_stream(int, const char *, size_t);
static int	 dw_send_dgram(struct drover_worker *, const char *, size_t);

/* Every variable drover_open() reads; DROVER_UNSETENV removes them all. */
static const char *const dw_vars[] = {
	"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
	"DROVER_WORKER_ID", "DROVER_WORKERS", "DROVER_GENERATION",
	"DROVER_NOTIFY_FD", "NOTIFY_SOCKET",
	"WATCHDOG_PID", "WATCHDOG_USEC",
	NULL
};

/*
 * Parse s as a decimal number of at most max: digits only, no sign, no
 * blanks, no empty string.  Returns 0 and stores it in *val, or -1 with
 * errno EINVAL.
 */
static int
dw_parse(const char *s, uint64_t max, uint64_t *val)
{
	uint64_t	 v = 0, d;

	if (*s == '\0')
		goto bad;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			goto bad;
		d = (uint64_t)(*s - '0');
		if (d > max || v > (max - d) / 10)
			goto bad;
		v = v * 10 + d;
	}
	*val = v;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * The number in the environment variable name: 1 with *val set, 0 if
 * the variable is not set, -1 with errno EINVAL if it is not a number
 * of at most max.
 */
static int
dw_env_num(const char *name, uint64_t max, uint64_t *val)
{
	const char	*s;

	if ((s = getenv(name)) == NULL)
		return 0;
	if (dw_parse(s, max, val) == -1)
		return -1;
	return 1;
}

/*
 * The listening sockets, as sd_listen_fds(3) finds them: LISTEN_FDS
 * descriptors from fd 3 on, but only if LISTEN_PID names this process
 * (otherwise they were meant for an ancestor and are none of ours).
 * Every one of them must be open.  Returns 1 if the variables were meant
 * for us, 0 if not, -1 with errno (EINVAL, EBADF, ENOMEM) on error.
 */
static int
dw_listen(struct drover_worker *dw)
{
	uint64_t	 pid, n, i;
	int		 r;

	if ((r = dw_env_num("LISTEN_PID", INT_MAX, &pid)) <= 0)
		return r;
	if (pid != (uint64_t)getpid())
		return 0;
	if ((r = dw_env_num("LISTEN_FDS", INT_MAX - DW_LISTEN_START,
	    &n)) <= 0)
		return r;
	for (i = 0; i < n; i++) {
		if (fcntl(DW_LISTEN_START + (int)i, F_GETFD) == -1) {
			errno = EBADF;
			return -1;
		}
	}
	dw->dw_nfds = (int)n;
	if (dw_names(dw) == -1)
		return -1;
	return 1;
}

/*
 * The names of the listening sockets: LISTEN_FDNAMES split at its
 * colons, exactly one name per socket (an empty variable is no name at
 * all), or "unknown" for each when the variable is not set, as systemd
 * does.  Returns 0, or -1 with errno EINVAL or ENOMEM.
 */
static int
dw_names(struct drover_worker *dw)
{
	const char	*s;
	char		*p;
	int		 i;

	dw->dw_names = calloc(dw->dw_nfds > 0 ? (size_t)dw->dw_nfds : 1,
	    sizeof(*dw->dw_names));
	if (dw->dw_names == NULL)
		return -1;
	if ((s = getenv("LISTEN_FDNAMES")) == NULL) {
		for (i = 0; i < dw->dw_nfds; i++)
			dw->dw_names[i] = "unknown";
		return 0;
	}
	if ((dw->dw_namebuf = strdup(s)) == NULL)
		return -1;
	i = 0;
	for (p = dw->dw_namebuf; p != NULL && *s != '\0'; ) {
		if (i == dw->dw_nfds)
			goto bad;
		dw->dw_names[i++] = p;
		if ((p = strchr(p, ':')) != NULL)
			*p++ = '\0';
	}
	if (i != dw->dw_nfds)
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * What drover(8) tells its workers about themselves: the slot number,
 * the number of slots and the generation.  Returns 0, or -1 with errno
 * EINVAL when one is not a number in range.
 */
static int
dw_ids(struct drover_worker *dw)
{
	uint64_t	 v;
	int		 r;

	if ((r = dw_env_num("DROVER_WORKER_ID", INT_MAX, &v)) == -1)
		return -1;
	if (r == 1)
		dw->dw_id = (int)v;
	if ((r = dw_env_num("DROVER_WORKERS", INT_MAX, &v)) == -1)
		return -1;
	if (r == 1) {
		if (v == 0) {
			errno = EINVAL;
			return -1;
		}
		dw->dw_workers = (int)v;
	}
	if ((r = dw_env_num("DROVER_GENERATION", UINT64_MAX, &v)) == -1)
		return -1;
	if (r == 1)
		dw->dw_gen = v;
	return 0;
}

/*
 * The notify channels.  DROVER_NOTIFY_FD must name an open socket
 * (-1 with EBADF or ENOTSOCK otherwise).  NOTIFY_SOCKET must be an
 * absolute path or, starting with '@', a name in the abstract namespace,
 * and fit in a sockaddr_un (-1 with EINVAL otherwise).  The datagram
 * socket itself is made on first use.
 */
static int
dw_channels(struct drover_worker *dw)
{
	struct stat	 st;
	const char	*s;
	uint64_t	 fd;
	size_t		 len;
	int		 r;

	if ((r = dw_env_num("DROVER_NOTIFY_FD", INT_MAX, &fd)) == -1)
		return -1;
	if (r == 1) {
		if (fstat((int)fd, &st) == -1) {
			errno = EBADF;
			return -1;
		}
		if (!S_ISSOCK(st.st_mode)) {
			errno = ENOTSOCK;
			return -1;
		}
		dw->dw_streamfd = (int)fd;
	}

	if ((s = getenv("NOTIFY_SOCKET")) == NULL)
		return 0;
	len = strlen(s);
	memset(&dw->dw_addr, 0, sizeof(dw->dw_addr));
	dw->dw_addr.sun_family = AF_UNIX;
	if (s[0] == '/' && len < sizeof(dw->dw_addr.sun_path)) {
		memcpy(dw->dw_addr.sun_path, s, len + 1);
		dw->dw_addrlen = (socklen_t)(offsetof(struct sockaddr_un,
		    sun_path) + len + 1);
	} else if (s[0] == '@' && len > 1 &&
	    len <= sizeof(dw->dw_addr.sun_path)) {
		/* sun_path[0] stays '\0': the abstract namespace. */
		memcpy(dw->dw_addr.sun_path + 1, s + 1, len - 1);
		dw->dw_addrlen = (socklen_t)(offsetof(struct sockaddr_un,
		    sun_path) + len);
	} else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * The watchdog interval, as sd_watchdog_enabled(3) finds it: WATCHDOG_USEC
 * counts only if WATCHDOG_PID is not set or names this process.  Returns
 * 0, or -1 with errno EINVAL for a malformed variable.
 */
static int
dw_watchdog_env(struct drover_worker *dw)
{
	uint64_t	 pid, usec;
	int		 r;

	if ((r = dw_env_num("WATCHDOG_PID", INT_MAX, &pid)) == -1)
		return -1;
	if (r == 1 && pid != (uint64_t)getpid())
		return 0;
	if ((r = dw_env_num("WATCHDOG_USEC", UINT64_MAX, &usec)) == -1)
		return -1;
	if (r == 1)
		dw->dw_wdusec = usec;
	return 0;
}

/* Set FD_CLOEXEC on fd.  Returns 0, or -1 with errno. */
static int
dw_cloexec(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1)
		return -1;
	if (fl & FD_CLOEXEC)
		return 0;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

/*
 * DROVER_UNSETENV: once the environment is gone, a program this process
 * executes could not know what its descriptors are, so the listening
 * sockets and the notify stream become close-on-exec before the variables
 * are removed.  Returns 0, or -1 with errno (and the environment intact).
 */
static int
dw_forget(struct drover_worker *dw)
{
	int	 i;

	for (i = 0; i < dw->dw_nfds; i++)
		if (dw_cloexec(DW_LISTEN_START + i) == -1)
			return -1;
	if (dw->dw_streamfd != -1 && dw_cloexec(dw->dw_streamfd) == -1)
		return -1;
	for (i = 0; dw_vars[i] != NULL; i++)
		(void)unsetenv(dw_vars[i]);
	return 0;
}

/* Free a handle and what it owns, keeping errno. */
static void
dw_free(struct drover_worker *dw)
{
	int	 saved = errno;

	if (dw->dw_dgramfd != -1)
		(void)close(dw->dw_dgramfd);
	free(dw->dw_names);
	free(dw->dw_namebuf);
	free(dw);
	errno = saved;
}

/*
 * Read the environment into a new handle.  Which manager started us:
 * drover if DROVER_WORKER_ID is set; systemd if the listening sockets
 * were meant for this process or NOTIFY_SOCKET is set; else nobody, which
 * is no error.  On failure nothing is changed: the environment and the
 * descriptors stay as they were and *dwp is NULL.
 */
int
drover_open(struct drover_worker **dwp, int flags)
{
	struct drover_worker	*dw;
	int			 listening;

	if (dwp == NULL || (flags & ~DROVER_UNSETENV) != 0) {
		errno = EINVAL;
		return -1;
	}
	*dwp = NULL;
	if ((dw = calloc(1, sizeof(*dw))) == NULL)
		return -1;
	dw->dw_id = -1;
	dw->dw_streamfd = -1;
	dw->dw_dgramfd = -1;

	if ((listening = dw_listen(dw)) == -1 || dw_ids(dw) == -1 ||
	    dw_channels(dw) == -1 || dw_watchdog_env(dw) == -1)
		goto fail;
	if (dw->dw_id != -1)
		dw->dw_manager = DROVER_MANAGER_DROVER;
	else if (listening || dw->dw_addrlen != 0)
		dw->dw_manager = DROVER_MANAGER_SYSTEMD;
	else
		dw->dw_manager = DROVER_MANAGER_NONE;
	if ((flags & DROVER_UNSETENV) && dw_forget(dw) == -1)
		goto fail;
	*dwp = dw;
	return 0;
fail:
	dw_free(dw);
	return -1;
}

/*
 * Free the handle, stopping the libev watchers first if they run.  The
 * inherited descriptors (listening sockets, notify stream) stay open:
 * they belong to the process, not to the handle.
 */
void
drover_close(struct drover_worker *dw)
{
	if (dw == NULL)
		return;
	if (dw->dw_loop != NULL && dw->dw_ev_stop != NULL)
		dw->dw_ev_stop(dw);
	dw_free(dw);
}

int
drover_manager(const struct drover_worker *dw)
{
	if (dw == NULL) {
		errno = EINVAL;
		return -1;
	}
	return dw->dw_manager;
}

int
drover_listen_count(const struct drover_worker *dw)
{
	if (dw == NULL) {
		errno = EINVAL;
		return -1;
	}
	return dw->dw_nfds;
}

int
drover_listen_fd(const struct drover_worker *dw, int idx)
{
	if (dw == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (idx < 0 || idx >= dw->dw_nfds) {
		errno = ERANGE;
		return -1;
	}
	return DW_LISTEN_START + idx;
}

/* The first listening socket called name, or -1 with ENOENT. */
int
drover_listen_fd_by_name(const struct drover_worker *dw, const char *name)
{
	int	 i;

	if (dw == NULL || name == NULL) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < dw->dw_nfds; i++)
		if (strcmp(dw->dw_names[i], name) == 0)
			return DW_LISTEN_START + i;
	errno = ENOENT;
	return -1;
}

const char *
drover_listen_name(const struct drover_worker *dw, int idx)
{
	if (dw == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (idx < 0 || idx >= dw->dw_nfds) {
		errno = ERANGE;
		return NULL;
	}
	return dw->dw_names[idx];
}

int
drover_worker_id(const struct drover_worker *dw)
{
	if (dw == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (dw->dw_id == -1) {
		errno = ENOENT;
		return -1;
	}
	return dw->dw_id;
}

int
drover_workers(const struct drover_worker *dw)
{
	if (dw == NULL) {
		errno = EINVAL;
		return -1;
	}
	return dw->dw_workers;
}

uint64_t
drover_generation(const struct drover_worker *dw)
{
	if (dw == NULL) {
		errno = EINVAL;
		return 0;
	}
	return dw->dw_gen;
}

uint64_t
drover_watchdog_usec(const struct drover_worker *dw)
{
	if (dw == NULL) {
		errno = EINVAL;
		return 0;
	}
	return dw->dw_wdusec;
}

/*
 * Whether msg (len bytes, no NUL inside) is one or more lines KEY=VALUE
 * with KEY in [A-Z0-9_]+, separated by newlines, with at most one
 * newline at the end.  The master would count anything else as
 * malformed, so it is refused before it is sent.
 */
static int
dw_message_ok(const char *msg, size_t len)
{
	const char	*p = msg, *end = msg + len, *eol, *k;

	if (len > 0 && end[-1] == '\n')
		end--;
	if (p == end)
		return 0;
	for (;;) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		for (k = p; k < eol && ((*k >= 'A' && *k <= 'Z') ||
		    (*k >= '0' && *k <= '9') || *k == '_'); k++)
			continue;
		if (k == p || k == eol || *k != '=')
			return 0;
		if (eol == end)
			return 1;
		p = eol + 1;
	}
}

/*
 * Send msg on the stream channel, newline-terminated, in one send(2)
 * when the kernel takes it (so that lines from several processes sharing
 * the channel do not mix), finishing a partial write otherwise.  A
 * non-blocking descriptor is waited on with poll(2).  MSG_NOSIGNAL turns
 * a closed channel into EPIPE instead of SIGPIPE.
 */
static int
dw_send_stream(int fd, const char *msg, size_t len)
{
	char		 buf[DW_NOTIFY_MAX + 1];
	struct pollfd	 pfd;
	size_t		 off;
	ssize_t		 n;

	memcpy(buf, msg, len);
	if (buf[len - 1] != '\n')
		buf[len++] = '\n';
	for (off = 0; off < len; ) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

/*
 * Send msg as one datagram to NOTIFY_SOCKET, from a socket of our own
 * made on first use and kept (close-on-exec) until drover_close().
 */
static int
dw_send_dgram(struct drover_worker *dw, const char *msg, size_t len)
{
	ssize_t	 n;

	if (dw->dw_dgramfd == -1) {
		dw->dw_dgramfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (dw->dw_dgramfd == -1)
			return -1;
	}
	do {
		n = sendto(dw->dw_dgramfd, msg, len, MSG_NOSIGNAL,
		    (const struct sockaddr *)&dw->dw_addr, dw->dw_addrlen);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/*
 * Send one message of lines KEY=VALUE to the supervisor: on the stream
 * channel if there is one, else as a datagram to NOTIFY_SOCKET, else
 * nowhere (and that is success, as for sd_notify(3)).  The message is
 * checked first, so that its fate does not depend on the channel: over
 * DW_NOTIFY_MAX bytes is EMSGSIZE, anything but KEY=VALUE lines EINVAL.
 */
int
drover_notify(struct drover_worker *dw, const char *msg)
{
	size_t	 len;

	if (dw == NULL || msg == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((len = strlen(msg)) > DW_NOTIFY_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (!dw_message_ok(msg, len)) {
		errno = EINVAL;
		return -1;
	}
	if (dw->dw_streamfd != -1)
		return dw_send_stream(dw->dw_streamfd, msg, len);
	if (dw->dw_addrlen != 0)
		return dw_send_dgram(dw, msg, len);
	return 0;
}

int
drover_ready(struct drover_worker *dw)
{
	return drover_notify(dw, "READY=1");
}

int
drover_stopping(struct drover_worker *dw)
{
	return drover_notify(dw, "STOPPING=1");
}

int
drover_reloading(struct drover_worker *dw)
{
	return drover_notify(dw, "RELOADING=1");
}

int
drover_watchdog(struct drover_worker *dw)
{
	return drover_notify(dw, "WATCHDOG=1");
}

/*
 * STATUS= followed by the formatted text, on one line: newlines and
 * carriage returns in the text become spaces.  A text that makes the
 * message longer than DW_NOTIFY_MAX is EMSGSIZE; nothing is truncated.
 */
int
drover_status(struct drover_worker *dw, const char *fmt, ...)
{
	static const char	 key[] = "STATUS=";
	char			 buf[DW_NOTIFY_MAX + 1], *p;
	va_list			 ap;
	int			 n;

	if (dw == NULL || fmt == NULL) {
		errno = EINVAL;
		return -1;
	}
	memcpy(buf, key, sizeof(key) - 1);
	va_start(ap, fmt);
	n = vsnprintf(buf + sizeof(key) - 1, sizeof(buf) - sizeof(key) + 1,
	    fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(buf) - sizeof(key) + 1) {
		errno = EMSGSIZE;
		return -1;
	}
	for (p = buf + sizeof(key) - 1; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return drover_notify(dw, buf);
}
