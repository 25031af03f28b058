/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * libdrover in-process: the test program plays the worker.  It builds the
 * environment a manager would give it with setenv(3) and real descriptors
 * (two listening sockets moved to fds 3 and 4, one end of a socket pair at
 * fd 5 for DROVER_NOTIFY_FD, datagram sockets bound in a temporary
 * directory and in the abstract namespace for NOTIFY_SOCKET), opens a
 * handle and checks what the library finds and what it sends: manager
 * detection, listening sockets by index and by name, the slot variables,
 * strict parsing, the message format on both channels, the errors, the
 * removal of the variables, and the libev helper's watchdog timer and
 * signal watchers on real loops, bounded by a timer rather than a sleep.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "drover.h"
#include "tap.h"
#include "testlib.h"

#define NOTIFY_FD	5	/* 3 + the two listening sockets */
#define WAIT_MS		5000	/* longest wait for a message */
#define BIG		4096	/* the longest message */

/* The loop tests' state, shared with their callbacks. */
struct evtest {
	struct ev_loop		*e_loop;
	struct drover_worker	*e_dw;
	char			 e_buf[1024];
	size_t			 e_len;
	int			 e_count;	/* WATCHDOG=1 lines seen */
	int			 e_terms;	/* on_term calls */
	int			 e_argok;	/* on_term got our dw and arg */
	int			 e_timedout;
};

static void	 env_clear(void);
static void	 env_set(const char *, const char *);
static void	 env_drover(void);
static int	 move_high(int);
static int	 listener_tcp(int *);
static int	 listener_unix(const char *);
static int	 dgram_bind(const struct sockaddr_un *, socklen_t);
static int	 dgram_path(const char *);
static int	 dgram_abstract(const char *);
static void	 drain(int);
static const char *stream_got(int);
static ssize_t	 dgram_got(int, char *, size_t);
static int	 pending(int);
static const char *visible(const char *);
static const char *errname(int);
static int	 cloexec(int);
static void	 uncloexec(int);
static struct drover_worker *open_ok(int, const char *);
static void	 open_fails(int, const char *);
static void	 test_none(void);
static void	 test_nulls(void);
static void	 test_systemd(void);
static void	 test_drover(int);
static void	 test_listen_pid(void);
static void	 test_malformed(void);
static void	 test_descriptors(void);
static void	 test_stream(void);
static void	 test_message_errors(void);
static void	 test_dgram(const char *);
static void	 test_abstract(void);
static void	 test_both(const char *);
static void	 test_epipe(void);
static void	 test_watchdog_env(void);
static void	 test_unsetenv(const char *);
static void	 wd_read_cb(struct ev_loop *, ev_io *, int);
static void	 timeout_cb(struct ev_loop *, ev_timer *, int);
static void	 on_term(struct drover_worker *, void *);
static void	 test_ev_unref(void);
static void	 test_ev_watchdog(void);
static void	 test_ev_signal(struct ev_loop *, int, const char *);

/* The variables libdrover reads. */
static const char *const vars[] = {
	"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
	"DROVER_WORKER_ID", "DROVER_WORKERS", "DROVER_GENERATION",
	"DROVER_NOTIFY_FD", "NOTIFY_SOCKET",
	"WATCHDOG_PID", "WATCHDOG_USEC",
	NULL
};

static int	 testfd;	/* our end of the stream at NOTIFY_FD */

/* Remove every variable libdrover reads. */
static void
env_clear(void)
{
	int	 i;

	for (i = 0; vars[i] != NULL; i++)
		if (unsetenv(vars[i]) == -1)
			sysbail("unsetenv %s", vars[i]);
}

static void
env_set(const char *name, const char *value)
{
	if (setenv(name, value, 1) == -1)
		sysbail("setenv %s", name);
}

/*
 * What drover(8) gives slot 1 of 4 in generation 7: the two listening
 * sockets at fds 3 and 4, named, and the notify stream at fd 5.
 */
static void
env_drover(void)
{
	env_clear();
	env_set("LISTEN_PID", tl_fmt("%ld", (long)getpid()));
	env_set("LISTEN_FDS", "2");
	env_set("LISTEN_FDNAMES", "http:admin");
	env_set("DROVER_WORKER_ID", "1");
	env_set("DROVER_WORKERS", "4");
	env_set("DROVER_GENERATION", "7");
	env_set("DROVER_NOTIFY_FD", tl_fmt("%d", NOTIFY_FD));
}

/* Move fd out of the way, to 100 or above, close-on-exec. */
static int
move_high(int fd)
{
	int	 nfd;

	if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 100)) == -1)
		sysbail("F_DUPFD");
	close(fd);
	return nfd;
}

/* A TCP socket listening on 127.0.0.1 and a free port, stored in *port. */
static int
listener_tcp(int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		sysbail("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 16) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		sysbail("tcp listener");
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A unix stream socket listening at path. */
static int
listener_unix(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		sysbail("socket");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		bail("%s: path too long", path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 16) == -1)
		sysbail("unix listener %s", path);
	return fd;
}

/* A datagram socket bound to sun, as a manager's NOTIFY_SOCKET is. */
static int
dgram_bind(const struct sockaddr_un *sun, socklen_t len)
{
	int	 fd;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		sysbail("socket");
	if (bind(fd, (const struct sockaddr *)sun, len) == -1)
		sysbail("bind notify socket");
	return fd;
}

static int
dgram_path(const char *path)
{
	struct sockaddr_un	 sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		bail("%s: path too long", path);
	return dgram_bind(&sun, sizeof(sun));
}

/* A datagram socket in the abstract namespace, name without the '@'. */
static int
dgram_abstract(const char *name)
{
	struct sockaddr_un	 sun;
	size_t			 len = strlen(name);

	if (len + 1 > sizeof(sun.sun_path))
		bail("%s: name too long", name);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, name, len);
	return dgram_bind(&sun, (socklen_t)(offsetof(struct sockaddr_un,
	    sun_path) + 1 + len));
}

/* Throw away whatever is waiting on fd. */
static void
drain(int fd)
{
	char	 buf[8192];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		continue;
}

/* Whether something is waiting on fd right now. */
static int
pending(int fd)
{
	struct pollfd	 pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, 0) == 1;
}

/*
 * Read from the stream fd until what arrived ends with a newline, or
 * until WAIT_MS pass without anything new.  Returns the text (a static
 * buffer), "" if nothing came.
 */
static const char *
stream_got(int fd)
{
	static char	 buf[2 * BIG];
	struct pollfd	 pfd;
	size_t		 len = 0;
	ssize_t		 n;

	buf[0] = '\0';
	while (len == 0 || buf[len - 1] != '\n') {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, WAIT_MS) != 1)
			break;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (len == sizeof(buf) - 1)
			break;
	}
	return buf;
}

/* One datagram from fd into buf (NUL-terminated): its length, or -1. */
static ssize_t
dgram_got(int fd, char *buf, size_t sz)
{
	struct pollfd	 pfd;
	ssize_t		 n;

	buf[0] = '\0';
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, WAIT_MS) != 1)
		return -1;
	if ((n = recv(fd, buf, sz - 1, MSG_DONTWAIT)) >= 0)
		buf[n] = '\0';
	return n;
}

/* s with its newlines written as \n, for a test's description. */
static const char *
visible(const char *s)
{
	char	 buf[256];
	size_t	 i;

	for (i = 0; *s != '\0' && i < sizeof(buf) - 2; s++) {
		if (*s == '\n') {
			buf[i++] = '\\';
			buf[i++] = 'n';
		} else
			buf[i++] = *s;
	}
	buf[i] = '\0';
	return tl_fmt("%s", buf);
}

/* The symbolic name of the errno values the tests expect. */
static const char *
errname(int err)
{
	switch (err) {
	case EBADF:
		return "EBADF";
	case EINVAL:
		return "EINVAL";
	case ENOTSOCK:
		return "ENOTSOCK";
	default:
		return tl_fmt("errno %d", err);
	}
}

static int
cloexec(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1)
		sysbail("F_GETFD %d", fd);
	return (fl & FD_CLOEXEC) != 0;
}

static void
uncloexec(int fd)
{
	if (fcntl(fd, F_SETFD, 0) == -1)
		sysbail("F_SETFD %d", fd);
}

/* drover_open() that must work; bails out otherwise. */
static struct drover_worker *
open_ok(int flags, const char *what)
{
	struct drover_worker	*dw;

	if (!ok(drover_open(&dw, flags) == 0, "drover_open succeeds %s",
	    what)) {
		diag("errno %d: %s", errno, strerror(errno));
		bail("cannot go on without a handle");
	}
	return dw;
}

/* drover_open() that must fail with errno err, leaving no handle. */
static void
open_fails(int err, const char *what)
{
	struct drover_worker	*dw;
	int			 r;

	/* Any non-NULL value, to see drover_open() reset it. */
	dw = (struct drover_worker *)&dw;
	errno = 0;
	r = drover_open(&dw, 0);
	if (!ok(r == -1 && errno == err && dw == NULL,
	    "drover_open fails with %s %s", errname(err), what))
		diag("returned %d, errno %d (%s)", r, errno, strerror(errno));
	if (r == 0)
		drover_close(dw);
}

/* Outside any manager: nothing, and nothing is an error but the id. */
static void
test_none(void)
{
	struct drover_worker	*dw;

	env_clear();
	drain(testfd);
	dw = open_ok(0, "without any variable");
	is_int(DROVER_MANAGER_NONE, drover_manager(dw),
	    "no manager without variables");
	is_int(0, drover_listen_count(dw), "no listening socket");
	errno = 0;
	ok(drover_listen_fd(dw, 0) == -1 && errno == ERANGE,
	    "drover_listen_fd(0) fails with ERANGE");
	errno = 0;
	ok(drover_listen_name(dw, 0) == NULL && errno == ERANGE,
	    "drover_listen_name(0) fails with ERANGE");
	errno = 0;
	ok(drover_listen_fd_by_name(dw, "unknown") == -1 && errno == ENOENT,
	    "drover_listen_fd_by_name finds nothing (ENOENT)");
	errno = 0;
	ok(drover_worker_id(dw) == -1 && errno == ENOENT,
	    "drover_worker_id is -1 with ENOENT outside drover");
	is_int(0, drover_workers(dw), "drover_workers is 0 outside drover");
	ok(drover_generation(dw) == 0, "drover_generation is 0 outside drover");
	ok(drover_watchdog_usec(dw) == 0, "no watchdog without WATCHDOG_USEC");
	is_int(0, drover_ready(dw), "drover_ready without a channel is 0");
	is_int(0, drover_status(dw, "idle"),
	    "drover_status without a channel is 0");
	ok(!pending(testfd), "and nothing is written on the stream");
	drover_close(dw);
}

/* A NULL handle or argument is EINVAL everywhere. */
static void
test_nulls(void)
{
	struct drover_worker	*dw;

	errno = 0;
	ok(drover_open(NULL, 0) == -1 && errno == EINVAL,
	    "drover_open(NULL) fails with EINVAL");
	errno = 0;
	ok(drover_open(&dw, 0x100) == -1 && errno == EINVAL,
	    "drover_open with an unknown flag fails with EINVAL");
	errno = 0;
	ok(drover_manager(NULL) == -1 && errno == EINVAL,
	    "drover_manager(NULL) fails with EINVAL");
	errno = 0;
	ok(drover_listen_count(NULL) == -1 && errno == EINVAL,
	    "drover_listen_count(NULL) fails with EINVAL");
	errno = 0;
	ok(drover_listen_name(NULL, 0) == NULL && errno == EINVAL,
	    "drover_listen_name(NULL) fails with EINVAL");
	errno = 0;
	ok(drover_notify(NULL, "READY=1") == -1 && errno == EINVAL,
	    "drover_notify(NULL) fails with EINVAL");
	errno = 0;
	ok(drover_ev_start(NULL, EV_DEFAULT, NULL, NULL) == -1 &&
	    errno == EINVAL, "drover_ev_start(NULL) fails with EINVAL");
	drover_close(NULL);
	drover_ev_stop(NULL);
	ok(1, "drover_close(NULL) and drover_ev_stop(NULL) do nothing");

	env_clear();
	dw = open_ok(0, "for the NULL argument checks");
	errno = 0;
	ok(drover_notify(dw, NULL) == -1 && errno == EINVAL,
	    "drover_notify with a NULL message fails with EINVAL");
	errno = 0;
	ok(drover_listen_fd_by_name(dw, NULL) == -1 && errno == EINVAL,
	    "drover_listen_fd_by_name(NULL) fails with EINVAL");
	errno = 0;
	ok(drover_ev_start(dw, NULL, NULL, NULL) == -1 && errno == EINVAL,
	    "drover_ev_start without a loop fails with EINVAL");
	drover_close(dw);
}

/* Plain systemd socket activation, and systemd's notify socket alone. */
static void
test_systemd(void)
{
	struct drover_worker	*dw;

	env_clear();
	env_set("LISTEN_PID", tl_fmt("%ld", (long)getpid()));
	env_set("LISTEN_FDS", "2");
	dw = open_ok(0, "with LISTEN_FDS and LISTEN_PID");
	is_int(DROVER_MANAGER_SYSTEMD, drover_manager(dw),
	    "LISTEN_FDS meant for us means systemd");
	is_int(2, drover_listen_count(dw), "two listening sockets");
	is_int(3, drover_listen_fd(dw, 0), "the first is fd 3");
	is_int(4, drover_listen_fd(dw, 1), "the second is fd 4");
	is_string("unknown", drover_listen_name(dw, 0),
	    "without LISTEN_FDNAMES the first is named \"unknown\"");
	is_string("unknown", drover_listen_name(dw, 1),
	    "and so is the second");
	is_int(3, drover_listen_fd_by_name(dw, "unknown"),
	    "looking up \"unknown\" finds the first, fd 3");
	errno = 0;
	ok(drover_worker_id(dw) == -1 && errno == ENOENT,
	    "no worker id under systemd");
	drover_close(dw);

	env_clear();
	env_set("NOTIFY_SOCKET", "/run/nonexistent/notify");
	dw = open_ok(0, "with NOTIFY_SOCKET alone");
	is_int(DROVER_MANAGER_SYSTEMD, drover_manager(dw),
	    "NOTIFY_SOCKET alone means systemd");
	is_int(0, drover_listen_count(dw), "and no listening socket");
	drover_close(dw);
}

/*
 * What drover(8) gives a worker: the manager, the sockets by index and
 * by name (and the TCP one really is our listener), the slot variables.
 */
static void
test_drover(int port)
{
	struct drover_worker	*dw;
	struct sockaddr_in	 sin;
	int			 c, a;

	env_drover();
	dw = open_ok(0, "with drover's variables");
	is_int(DROVER_MANAGER_DROVER, drover_manager(dw),
	    "DROVER_WORKER_ID means drover");
	is_int(2, drover_listen_count(dw), "two listening sockets");
	is_int(3, drover_listen_fd(dw, 0), "index 0 is fd 3");
	is_int(4, drover_listen_fd(dw, 1), "index 1 is fd 4");
	errno = 0;
	ok(drover_listen_fd(dw, 2) == -1 && errno == ERANGE,
	    "index 2 is out of range (ERANGE)");
	errno = 0;
	ok(drover_listen_fd(dw, -1) == -1 && errno == ERANGE,
	    "index -1 is out of range (ERANGE)");
	is_string("http", drover_listen_name(dw, 0), "fd 3 is named http");
	is_string("admin", drover_listen_name(dw, 1), "fd 4 is named admin");
	errno = 0;
	ok(drover_listen_name(dw, 2) == NULL && errno == ERANGE,
	    "the name of index 2 is NULL with ERANGE");
	is_int(4, drover_listen_fd_by_name(dw, "admin"), "admin is fd 4");
	is_int(3, drover_listen_fd_by_name(dw, "http"), "http is fd 3");
	errno = 0;
	ok(drover_listen_fd_by_name(dw, "nope") == -1 && errno == ENOENT,
	    "an unknown name fails with ENOENT");
	is_int(1, drover_worker_id(dw), "worker id 1");
	is_int(4, drover_workers(dw), "4 workers");
	ok(drover_generation(dw) == 7, "generation 7");

	/* The descriptor found by name accepts a connection to our port. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if ((c = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(c, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		sysbail("connect to the test listener");
	a = accept(drover_listen_fd_by_name(dw, "http"), NULL, NULL);
	ok(a >= 0, "the fd named http accepts a connection to the listener");
	if (a >= 0)
		close(a);
	close(c);
	drover_close(dw);

	env_set("DROVER_GENERATION", "18446744073709551615");
	dw = open_ok(0, "with the largest generation");
	ok(drover_generation(dw) == UINT64_MAX, "generation 2^64-1 is read");
	drover_close(dw);
}

/* LISTEN_FDS meant for another process, or with no LISTEN_PID. */
static void
test_listen_pid(void)
{
	struct drover_worker	*dw;

	env_clear();
	env_set("LISTEN_PID", tl_fmt("%ld", (long)getpid() + 1));
	env_set("LISTEN_FDS", "2");
	env_set("LISTEN_FDNAMES", "http:admin");
	dw = open_ok(0, "with another process's LISTEN_PID");
	is_int(0, drover_listen_count(dw),
	    "LISTEN_PID of another process: no socket is ours");
	errno = 0;
	ok(drover_listen_fd_by_name(dw, "http") == -1 && errno == ENOENT,
	    "and no name either");
	is_int(DROVER_MANAGER_NONE, drover_manager(dw),
	    "sockets meant for another process name no manager");
	drover_close(dw);

	/* Not even a malformed LISTEN_FDS matters then. */
	env_set("LISTEN_FDS", "junk");
	dw = open_ok(0, "with junk in another process's LISTEN_FDS");
	is_int(0, drover_listen_count(dw), "still no socket");
	drover_close(dw);

	env_clear();
	env_set("LISTEN_FDS", "2");
	dw = open_ok(0, "with LISTEN_FDS but no LISTEN_PID");
	is_int(0, drover_listen_count(dw),
	    "no LISTEN_PID: no socket, as with sd_listen_fds");
	drover_close(dw);
}

/*
 * Every variable is parsed strictly: one bad value and drover_open fails
 * with EINVAL.  The base is a valid environment, with one value changed.
 */
static void
test_malformed(void)
{
	static const struct {
		const char	*var;
		const char	*value;
	} bad[] = {
		{ "LISTEN_FDS", "" },
		{ "LISTEN_FDS", "abc" },
		{ "LISTEN_FDS", "-1" },
		{ "LISTEN_FDS", "+2" },
		{ "LISTEN_FDS", " 2" },
		{ "LISTEN_FDS", "2 " },
		{ "LISTEN_FDS", "2x" },
		{ "LISTEN_FDS", "0x2" },
		{ "LISTEN_FDS", "99999999999999999999" },
		{ "LISTEN_FDS", "2147483647" },
		{ "LISTEN_PID", "self" },
		{ "LISTEN_PID", "" },
		{ "LISTEN_FDNAMES", "http" },
		{ "LISTEN_FDNAMES", "http:admin:more" },
		{ "LISTEN_FDNAMES", "" },
		{ "DROVER_WORKER_ID", "-1" },
		{ "DROVER_WORKER_ID", "one" },
		{ "DROVER_WORKER_ID", "2147483648" },
		{ "DROVER_WORKERS", "0" },
		{ "DROVER_WORKERS", "4.0" },
		{ "DROVER_GENERATION", "18446744073709551616" },
		{ "DROVER_GENERATION", "1e3" },
		{ "DROVER_NOTIFY_FD", "-5" },
		{ "DROVER_NOTIFY_FD", "five" },
		{ "NOTIFY_SOCKET", "" },
		{ "NOTIFY_SOCKET", "relative/path" },
		{ "NOTIFY_SOCKET", "@" },
		{ "WATCHDOG_USEC", "1s" },
		{ "WATCHDOG_USEC", "" },
		{ "WATCHDOG_PID", "me" },
	};
	char	 longpath[200];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env_drover();
		env_set(bad[i].var, bad[i].value);
		open_fails(EINVAL, tl_fmt("with %s=\"%s\"", bad[i].var,
		    bad[i].value));
	}
	env_drover();
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	env_set("NOTIFY_SOCKET", longpath);
	open_fails(EINVAL, "with a NOTIFY_SOCKET too long for sun_path");
	longpath[0] = '@';
	env_set("NOTIFY_SOCKET", longpath);
	open_fails(EINVAL, "with an abstract NOTIFY_SOCKET too long");
}

/* Variables that name descriptors which are not there, or not sockets. */
static void
test_descriptors(void)
{
	int	 fd, devnull;

	/* The first closed descriptor above the ones we set up. */
	for (fd = NOTIFY_FD + 1; fcntl(fd, F_GETFD) != -1; fd++)
		continue;
	env_drover();
	if (unsetenv("LISTEN_FDNAMES") == -1)
		sysbail("unsetenv");
	env_set("LISTEN_FDS", tl_fmt("%d", fd - 3 + 1));
	open_fails(EBADF, "when LISTEN_FDS counts a closed descriptor");

	env_drover();
	env_set("DROVER_NOTIFY_FD", tl_fmt("%d", fd));
	open_fails(EBADF, "when DROVER_NOTIFY_FD is closed");

	if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		sysbail("/dev/null");
	env_set("DROVER_NOTIFY_FD", tl_fmt("%d", devnull));
	open_fails(ENOTSOCK, "when DROVER_NOTIFY_FD is not a socket");
	close(devnull);
}

/* The stream channel: one message a line, exactly as sent. */
static void
test_stream(void)
{
	struct drover_worker	*dw;
	char			*text;

	env_drover();
	drain(testfd);
	dw = open_ok(0, "with DROVER_NOTIFY_FD");
	is_int(0, drover_ready(dw), "drover_ready on the stream returns 0");
	is_string("READY=1\n", stream_got(testfd),
	    "drover_ready writes exactly \"READY=1\\n\"");
	is_int(0, drover_stopping(dw), "drover_stopping returns 0");
	is_string("STOPPING=1\n", stream_got(testfd),
	    "drover_stopping writes \"STOPPING=1\\n\"");
	is_int(0, drover_reloading(dw), "drover_reloading returns 0");
	is_string("RELOADING=1\n", stream_got(testfd),
	    "drover_reloading writes \"RELOADING=1\\n\"");
	is_int(0, drover_watchdog(dw), "drover_watchdog returns 0");
	is_string("WATCHDOG=1\n", stream_got(testfd),
	    "drover_watchdog writes \"WATCHDOG=1\\n\"");
	is_int(0, drover_notify(dw, "STATUS=warming up\nREADY=1"),
	    "a two-line message returns 0");
	is_string("STATUS=warming up\nREADY=1\n", stream_got(testfd),
	    "a two-line message is two lines, each newline-terminated");
	is_int(0, drover_notify(dw, "READY=1\n"),
	    "a message ending in a newline returns 0");
	is_string("READY=1\n", stream_got(testfd),
	    "its newline is not doubled");
	is_int(0, drover_status(dw, "%d of %s", 3, "x\ny\r"),
	    "drover_status returns 0");
	is_string("STATUS=3 of x y \n", stream_got(testfd),
	    "drover_status formats, and newlines become spaces");
	is_int(0, drover_status(dw, "%s", ""), "an empty status returns 0");
	is_string("STATUS=\n", stream_got(testfd),
	    "an empty status is sent as \"STATUS=\"");

	/* 4096 bytes is the limit: STATUS= and 4089 more. */
	if ((text = malloc(BIG + 2)) == NULL)
		sysbail("malloc");
	memset(text, 'a', BIG + 1);
	text[BIG - 7] = '\0';
	is_int(0, drover_status(dw, "%s", text),
	    "a status making a 4096-byte message is sent");
	ok(strlen(stream_got(testfd)) == BIG + 1,
	    "all 4096 bytes and the newline arrive");
	text[BIG - 7] = 'a';
	text[BIG - 6] = '\0';
	errno = 0;
	ok(drover_status(dw, "%s", text) == -1 && errno == EMSGSIZE,
	    "a status making a 4097-byte message fails with EMSGSIZE");
	memset(text, 'a', BIG + 1);
	memcpy(text, "STATUS=", 7);
	text[BIG + 1] = '\0';
	errno = 0;
	ok(drover_notify(dw, text) == -1 && errno == EMSGSIZE,
	    "a 4097-byte drover_notify fails with EMSGSIZE");
	ok(!pending(testfd), "and nothing of them is written");
	free(text);
	drover_close(dw);
}

/* Messages that are not lines KEY=VALUE are refused, and not sent. */
static void
test_message_errors(void)
{
	static const char *const bad[] = {
		"", "\n", "READY", "ready=1", "=1", "READY=1\n\nSTATUS=x",
		"READY=1\nbogus", "READY =1", "READY=1\n\n",
	};
	struct drover_worker	*dw;
	size_t			 i;

	env_drover();
	drain(testfd);
	dw = open_ok(0, "for malformed messages");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ok(drover_notify(dw, bad[i]) == -1 && errno == EINVAL,
		    "drover_notify(\"%s\") fails with EINVAL",
		    visible(bad[i]));
	}
	ok(!pending(testfd), "nothing malformed reaches the stream");
	drover_close(dw);
}

/* The datagram channel: one datagram per message, exactly as given. */
static void
test_dgram(const char *dir)
{
	struct drover_worker	*dw;
	const char		*path = tl_fmt("%s/notify", dir);
	char			 buf[2 * BIG], *big;
	ssize_t			 n;
	int			 fd;

	fd = dgram_path(path);
	env_clear();
	env_set("NOTIFY_SOCKET", path);
	dw = open_ok(0, "with NOTIFY_SOCKET");
	is_int(0, drover_ready(dw), "drover_ready as a datagram returns 0");
	n = dgram_got(fd, buf, sizeof(buf));
	ok(n == 7 && strcmp(buf, "READY=1") == 0,
	    "the datagram is exactly \"READY=1\"");
	is_int(0, drover_notify(dw, "READY=1\nSTATUS=serving"),
	    "a two-line message returns 0");
	n = dgram_got(fd, buf, sizeof(buf));
	is_string("READY=1\nSTATUS=serving", buf,
	    "a two-line message is one datagram, unchanged");
	is_int(0, drover_status(dw, "a\nb"), "drover_status returns 0");
	n = dgram_got(fd, buf, sizeof(buf));
	is_string("STATUS=a b", buf, "a status datagram has no newline");

	if ((big = malloc(BIG + 2)) == NULL)
		sysbail("malloc");
	memset(big, 'b', BIG + 1);
	memcpy(big, "STATUS=", 7);
	big[BIG] = '\0';
	is_int(0, drover_notify(dw, big), "a 4096-byte datagram is sent");
	n = dgram_got(fd, buf, sizeof(buf));
	is_int(BIG, n, "and arrives whole");
	big[BIG] = 'b';
	big[BIG + 1] = '\0';
	errno = 0;
	ok(drover_notify(dw, big) == -1 && errno == EMSGSIZE,
	    "a 4097-byte datagram fails with EMSGSIZE");
	ok(!pending(fd), "and is not sent");
	free(big);

	/* Nobody reads the socket any more. */
	close(fd);
	errno = 0;
	ok(drover_ready(dw) == -1 && errno == ECONNREFUSED,
	    "a datagram to a closed NOTIFY_SOCKET fails with ECONNREFUSED");
	drover_close(dw);
	(void)unlink(path);
}

/* NOTIFY_SOCKET starting with '@' is in the abstract namespace. */
static void
test_abstract(void)
{
	struct drover_worker	*dw;
	const char		*name;
	char			 buf[64];
	int			 fd;

	name = tl_fmt("drover-libdrover-test-%ld", (long)getpid());
	fd = dgram_abstract(name);
	env_clear();
	env_set("NOTIFY_SOCKET", tl_fmt("@%s", name));
	dw = open_ok(0, "with an abstract NOTIFY_SOCKET");
	is_int(DROVER_MANAGER_SYSTEMD, drover_manager(dw),
	    "an abstract NOTIFY_SOCKET alone means systemd");
	is_int(0, drover_ready(dw), "drover_ready to '@name' returns 0");
	ok(dgram_got(fd, buf, sizeof(buf)) == 7 &&
	    strcmp(buf, "READY=1") == 0,
	    "the abstract socket receives \"READY=1\"");
	drover_close(dw);
	close(fd);
}

/* With both channels the stream is used, and only the stream. */
static void
test_both(const char *dir)
{
	struct drover_worker	*dw;
	const char		*path = tl_fmt("%s/both", dir);
	int			 fd;

	fd = dgram_path(path);
	env_drover();
	env_set("NOTIFY_SOCKET", path);
	drain(testfd);
	dw = open_ok(0, "with both channels");
	is_int(0, drover_ready(dw), "drover_ready with both returns 0");
	is_string("READY=1\n", stream_got(testfd),
	    "with both channels the stream gets the message");
	ok(!pending(fd), "and the datagram socket gets nothing");
	drover_close(dw);
	close(fd);
	(void)unlink(path);
}

/* A closed stream is EPIPE, and SIGPIPE does not kill us. */
static void
test_epipe(void)
{
	struct drover_worker	*dw;
	int			 sv[2];

	if (signal(SIGPIPE, SIG_DFL) == SIG_ERR)
		sysbail("signal");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		sysbail("socketpair");
	env_drover();
	env_set("DROVER_NOTIFY_FD", tl_fmt("%d", sv[1]));
	dw = open_ok(0, "with a stream whose peer will close");
	close(sv[0]);
	errno = 0;
	ok(drover_ready(dw) == -1 && errno == EPIPE,
	    "drover_ready on a closed stream fails with EPIPE");
	errno = 0;
	ok(drover_status(dw, "still here") == -1 && errno == EPIPE,
	    "and so does the next message");
	ok(1, "SIGPIPE (default action) did not kill the process");
	drover_close(dw);
	close(sv[1]);
}

/* WATCHDOG_USEC counts only for the process WATCHDOG_PID names. */
static void
test_watchdog_env(void)
{
	struct drover_worker	*dw;

	env_drover();
	env_set("WATCHDOG_USEC", "30000000");
	dw = open_ok(0, "with WATCHDOG_USEC and no WATCHDOG_PID");
	ok(drover_watchdog_usec(dw) == 30000000,
	    "WATCHDOG_USEC alone is ours: 30000000");
	drover_close(dw);

	env_set("WATCHDOG_PID", tl_fmt("%ld", (long)getpid()));
	dw = open_ok(0, "with our WATCHDOG_PID");
	ok(drover_watchdog_usec(dw) == 30000000,
	    "WATCHDOG_PID naming us: 30000000");
	drover_close(dw);

	env_set("WATCHDOG_PID", tl_fmt("%ld", (long)getpid() + 1));
	dw = open_ok(0, "with another process's WATCHDOG_PID");
	ok(drover_watchdog_usec(dw) == 0,
	    "WATCHDOG_PID naming another process: no watchdog");
	drover_close(dw);

	env_set("WATCHDOG_USEC", "junk");
	dw = open_ok(0, "with junk in another process's WATCHDOG_USEC");
	ok(drover_watchdog_usec(dw) == 0, "still no watchdog");
	drover_close(dw);

	env_set("WATCHDOG_PID", tl_fmt("%ld", (long)getpid()));
	env_set("WATCHDOG_USEC", "0");
	dw = open_ok(0, "with WATCHDOG_USEC=0");
	ok(drover_watchdog_usec(dw) == 0, "WATCHDOG_USEC=0 is off");
	drover_close(dw);
}

/*
 * DROVER_UNSETENV removes every variable read and makes the inherited
 * descriptors close-on-exec; the handle keeps what it read.  A failed
 * open changes nothing.
 */
static void
test_unsetenv(const char *dir)
{
	struct drover_worker	*dw;
	const char		*path = tl_fmt("%s/unset", dir);
	int			 i, gone, fd;

	fd = dgram_path(path);
	env_drover();
	env_set("NOTIFY_SOCKET", path);
	env_set("WATCHDOG_USEC", "1000000");
	env_set("WATCHDOG_PID", tl_fmt("%ld", (long)getpid()));
	uncloexec(3);
	uncloexec(4);
	uncloexec(NOTIFY_FD);
	drain(testfd);

	env_set("DROVER_WORKERS", "many");
	errno = 0;
	ok(drover_open(&dw, DROVER_UNSETENV) == -1 && errno == EINVAL,
	    "DROVER_UNSETENV with a bad variable fails with EINVAL");
	ok(getenv("LISTEN_FDS") != NULL && getenv("NOTIFY_SOCKET") != NULL,
	    "and the environment is left as it was");
	ok(!cloexec(NOTIFY_FD), "and the notify fd is not close-on-exec");
	env_set("DROVER_WORKERS", "4");

	dw = open_ok(DROVER_UNSETENV, "with DROVER_UNSETENV");
	for (gone = 1, i = 0; vars[i] != NULL; i++) {
		if (getenv(vars[i]) != NULL) {
			diag("%s is still set", vars[i]);
			gone = 0;
		}
	}
	ok(gone, "DROVER_UNSETENV removed every variable it read");
	ok(cloexec(NOTIFY_FD), "the notify fd is now close-on-exec");
	ok(cloexec(3) && cloexec(4),
	    "the listening sockets are now close-on-exec");
	is_int(2, drover_listen_count(dw), "the handle still has 2 sockets");
	is_int(4, drover_listen_fd_by_name(dw, "admin"),
	    "and their names");
	is_int(1, drover_worker_id(dw), "and the worker id");
	ok(drover_watchdog_usec(dw) == 1000000, "and the watchdog interval");
	is_int(0, drover_ready(dw), "drover_ready still works");
	is_string("READY=1\n", stream_got(testfd),
	    "on the stream, read before the variables went");
	drover_close(dw);
	uncloexec(3);
	uncloexec(4);
	uncloexec(NOTIFY_FD);
	close(fd);
	(void)unlink(path);
}

/* Count the WATCHDOG=1 lines on the stream; stop the loop at two. */
static void
wd_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct evtest	*e = w->data;
	ssize_t		 n;
	char		*p, *nl;

	(void)revents;
	n = recv(w->fd, e->e_buf + e->e_len, sizeof(e->e_buf) - 1 - e->e_len,
	    MSG_DONTWAIT);
	if (n <= 0) {
		ev_break(loop, EVBREAK_ONE);
		return;
	}
	e->e_len += (size_t)n;
	e->e_buf[e->e_len] = '\0';
	p = e->e_buf;
	while ((nl = strchr(p, '\n')) != NULL) {
		*nl = '\0';
		if (strcmp(p, "WATCHDOG=1") == 0)
			e->e_count++;
		else
			diag("unexpected line \"%s\"", p);
		p = nl + 1;
	}
	e->e_len = strlen(p);
	memmove(e->e_buf, p, e->e_len + 1);
	if (e->e_count >= 2)
		ev_break(loop, EVBREAK_ONE);
}

/* The bound of every loop test. */
static void
timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct evtest	*e = w->data;

	(void)revents;
	e->e_timedout = 1;
	ev_break(loop, EVBREAK_ONE);
}

/* The on_term callback: note the call and stop the loop. */
static void
on_term(struct drover_worker *dw, void *arg)
{
	struct evtest	*e = arg;

	e->e_terms++;
	e->e_argok = dw == e->e_dw;
	ev_break(e->e_loop, EVBREAK_ONE);
}

/*
 * The helper's watchers are unreferenced: with nothing else on the loop,
 * ev_run() returns at once instead of sending watchdog messages forever.
 * An alarm guards the test against a loop that never returns.
 */
static void
test_ev_unref(void)
{
	struct drover_worker	*dw;
	struct ev_loop		*loop;

	if ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL)
		bail("ev_loop_new");
	env_drover();
	env_set("WATCHDOG_USEC", "20000");
	dw = open_ok(0, "for the unreferenced watchers");
	is_int(0, drover_ev_start(dw, loop, NULL, NULL),
	    "drover_ev_start on a private loop returns 0");
	alarm(10);
	ev_run(loop, 0);
	alarm(0);
	ok(1, "ev_run returns with only the helper's watchers left");
	drover_ev_stop(dw);
	drover_ev_stop(dw);
	ok(1, "drover_ev_stop twice is harmless");
	drover_close(dw);
	ev_loop_destroy(loop);
	drain(testfd);
}

/*
 * WATCHDOG_USEC=20000: the helper sends WATCHDOG=1 every 10 ms on a
 * private loop; count two on the stream, within 5 s.
 */
static void
test_ev_watchdog(void)
{
	struct evtest		 e;
	struct ev_loop		*loop;
	ev_io			 io;
	ev_timer		 deadline;
	ev_tstamp		 t0;

	memset(&e, 0, sizeof(e));
	if ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL)
		bail("ev_loop_new");
	e.e_loop = loop;
	env_drover();
	env_set("WATCHDOG_USEC", "20000");
	env_set("WATCHDOG_PID", tl_fmt("%ld", (long)getpid()));
	drain(testfd);
	e.e_dw = open_ok(0, "with WATCHDOG_USEC=20000");
	is_int(0, drover_ev_start(e.e_dw, loop, NULL, NULL),
	    "drover_ev_start with a watchdog returns 0");
	errno = 0;
	ok(drover_ev_start(e.e_dw, loop, NULL, NULL) == -1 && errno == EBUSY,
	    "starting it twice fails with EBUSY");

	ev_io_init(&io, wd_read_cb, testfd, EV_READ);
	io.data = &e;
	ev_io_start(loop, &io);
	ev_timer_init(&deadline, timeout_cb, 5., 0.);
	deadline.data = &e;
	ev_timer_start(loop, &deadline);
	ev_now_update(loop);
	t0 = ev_now(loop);
	ev_run(loop, 0);
	ok(!e.e_timedout && e.e_count >= 2,
	    "two WATCHDOG=1 lines arrive within 5 s (%d seen)", e.e_count);
	ok(ev_now(loop) - t0 >= 0.015,
	    "not before one and a half intervals of 10 ms have passed");

	/* Stopped, nothing more comes; restarted, it goes on. */
	drover_ev_stop(e.e_dw);
	e.e_count = 0;
	ev_timer_stop(loop, &deadline);
	ev_timer_set(&deadline, 0.05, 0.);
	ev_timer_start(loop, &deadline);
	e.e_timedout = 0;
	drain(testfd);
	ev_run(loop, 0);
	ok(e.e_timedout && e.e_count == 0,
	    "after drover_ev_stop no WATCHDOG=1 comes in 50 ms");
	is_int(0, drover_ev_start(e.e_dw, loop, NULL, NULL),
	    "drover_ev_start again after drover_ev_stop returns 0");
	e.e_timedout = 0;
	ev_timer_stop(loop, &deadline);
	ev_timer_set(&deadline, 5., 0.);
	ev_timer_start(loop, &deadline);
	ev_run(loop, 0);
	ok(!e.e_timedout && e.e_count >= 2,
	    "and the watchdog messages come again");

	/* drover_close stops the running watchers itself. */
	drover_close(e.e_dw);
	ev_timer_stop(loop, &deadline);
	ev_io_stop(loop, &io);
	ev_run(loop, EVRUN_NOWAIT);
	ok(1, "drover_close with the watchers running leaves the loop sane");
	ev_loop_destroy(loop);
	drain(testfd);
}

/*
 * The signal watchers call on_term with the handle and the argument.
 * raise() is delivered to libev's handler at once, and the loop runs the
 * callback on its next iteration, bounded by a 5 s timer.
 */
static void
test_ev_signal(struct ev_loop *loop, int sig, const char *what)
{
	struct evtest		 e;
	struct sigaction	 sa;
	ev_timer		 deadline;

	memset(&e, 0, sizeof(e));
	e.e_loop = loop;
	env_drover();
	e.e_dw = open_ok(0, tl_fmt("for %s", what));
	is_int(0, drover_ev_start(e.e_dw, loop, on_term, &e),
	    "drover_ev_start with on_term returns 0 (%s)", what);
	ev_timer_init(&deadline, timeout_cb, 5., 0.);
	deadline.data = &e;
	ev_timer_start(loop, &deadline);
	if (raise(sig) != 0)
		sysbail("raise");
	ev_run(loop, 0);
	ev_timer_stop(loop, &deadline);
	ok(!e.e_timedout && e.e_terms == 1, "%s calls on_term once", what);
	ok(e.e_argok, "on_term gets the handle and the argument (%s)", what);
	drover_ev_stop(e.e_dw);
	if (sigaction(sig, NULL, &sa) == -1)
		sysbail("sigaction");
	ok(sa.sa_handler == SIG_DFL,
	    "after drover_ev_stop the signal has its default action (%s)",
	    what);
	drover_close(e.e_dw);
}

int
main(void)
{
	struct ev_loop	*loop;
	const char	*dir;
	int		 tcp, un, sv[2], tcpport;

	plan_lazy();
	dir = tl_tmpdir();

	/*
	 * The listening sockets go to fds 3 and 4 and the worker's end of
	 * the notify stream to fd 5, as drover passes them.  Everything is
	 * moved high first, so that nothing of ours sits on 3..5 when the
	 * dup2() calls land there.
	 */
	tcp = move_high(listener_tcp(&tcpport));
	un = move_high(listener_unix(tl_fmt("%s/listen.sock", dir)));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		sysbail("socketpair");
	sv[1] = move_high(sv[1]);
	testfd = move_high(sv[0]);
	if (dup2(tcp, 3) == -1 || dup2(un, 4) == -1 ||
	    dup2(sv[1], NOTIFY_FD) == -1)
		sysbail("dup2");
	close(tcp);
	close(un);
	close(sv[1]);

	test_none();
	test_nulls();
	test_systemd();
	test_drover(tcpport);
	test_listen_pid();
	test_malformed();
	test_descriptors();
	test_stream();
	test_message_errors();
	test_dgram(dir);
	test_abstract();
	test_both(dir);
	test_epipe();
	test_watchdog_env();
	test_unsetenv(dir);
	test_ev_unref();
	test_ev_watchdog();
	test_ev_signal(EV_DEFAULT, SIGTERM, "SIGTERM on the default loop");
	if ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL)
		bail("ev_loop_new");
	test_ev_signal(loop, SIGINT, "SIGINT on a private loop");
	ev_loop_destroy(loop);
	env_clear();
	return 0;
}
