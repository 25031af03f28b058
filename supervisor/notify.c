/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The notify channels between a worker and the master, in the vocabulary
 * of sd_notify(3).  Every worker gets two, carrying the same messages:
 *
 *  - NOTIFY_SOCKET, a datagram socket of its own in state_dir/notify,
 *    so that sd_notify(3), systemd-notify and python-sdnotify work
 *    unchanged.  The socket file is mode 0600 and belongs to the worker's
 *    user, so other users cannot write to it; every datagram carries the
 *    sender's credentials, and only the worker itself or a live
 *    descendant of it is believed (notify-trust.c).  Anything else is
 *    counted as rejected and dropped.
 *  - DROVER_NOTIFY_FD, one end of a stream socket pair, one message a
 *    line, for runtimes without datagram sockets (Node.js, the shell).
 *
 * A message is lines of KEY=VALUE; READY=1, STOPPING=1, WATCHDOG=1,
 * STATUS=... and RELOADING=1 are understood, other keys ignored.  A line
 * without "=", with a key that is not [A-Z0-9_]+, or longer than
 * NOTIFY_MAX is malformed: counted, logged (escaped by text_log(), at
 * most once per slot every ten seconds) and dropped.  A worker flooding
 * its channel cannot block the master (each wakeup reads a bounded
 * amount, then lets the others run) nor grow its memory (the kernel
 * bounds the socket buffers, and the master keeps at most one partial
 * line of NOTIFY_MAX per worker).
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

/* How much one wakeup reads from one channel. */
#define NOTIFY_BURST	64

static void	 notify_dgram_cb(struct ev_loop *, ev_io *, int);
static void	 notify_stream_cb(struct ev_loop *, ev_io *, int);
static void	 notify_watchdog_cb(struct ev_loop *, ev_timer *, int);
static void	 notify_line(struct worker *, char *, size_t);
static void	 notify_complain(struct slot *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));
static void	 notify_reject(struct worker *, enum trust, pid_t);
static void	 notify_stream_read(struct worker *);

/* state_dir/notify, opened relative to the state directory. */
static int	 notify_dirfd = -1;

/*
 * Create the directory of the notify sockets, state_dir/notify: mode
 * 0711, so that a worker of another user can reach its own socket but
 * not list the others.  It is made and opened relative to the state
 * directory, which is ours alone (path.c): whatever else has the name (a
 * symbolic link, say) is removed, never followed.  At a fresh start,
 * sockets left there by a master that did not stop cleanly are removed:
 * the state directory's lock says no live master uses them.  After an
 * upgrade they are the workers' own.
 */
int
notify_init(int upgrade)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 sdir, lock, fd;

	(void)xasprintf(&master.m_notifydir, "%s/notify",
	    master.m_conf->c_state_dir);
	status_fds(&sdir, &lock);
	if (mkdirat(sdir, "notify", 0711) == -1 && errno == EEXIST &&
	    fstatat(sdir, "notify", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISDIR(st.st_mode) && unlinkat(sdir, "notify", 0) == 0)
		(void)mkdirat(sdir, "notify", 0711);
	notify_dirfd = openat(sdir, "notify", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (notify_dirfd == -1 || fstat(notify_dirfd, &st) == -1) {
		log_warn("notify directory %s", master.m_notifydir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		log_warnx("notify directory %s is owned by uid %u, not by "
		    "drover's uid %u", master.m_notifydir,
		    (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if (fchmod(notify_dirfd, 0711) == -1) {
		log_warn("notify directory %s", master.m_notifydir);
		return -1;
	}
	if (upgrade || (fd = openat(notify_dirfd, ".", O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_type == DT_SOCK)
			(void)unlinkat(notify_dirfd, de->d_name, 0);
	closedir(d);
	return 0;
}

/*
 * Open the channels of worker w before it is forked: the datagram socket
 * (its path in w->w_npath, or none if the path would be too long) and
 * the stream pair, whose worker end goes to *workerfd.  Returns -1 after
 * logging if the stream pair cannot be made.
 */
int
notify_open(struct worker *w, int *workerfd)
{
	const struct config	*c = w->w_conf;
	struct sockaddr_un	 sun, bsun;
	static int		 toolong;
	const char		*name;
	mode_t			 mask;
	int			 sv[2], one = 1, fd, bound;

	w->w_nfd = w->w_sfd = -1;
	w->w_npath = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("slot %d: socketpair", w->w_slot->s_id);
		return -1;
	}
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1 ||
	    shutdown(sv[0], SHUT_WR) == -1)
		log_warn("slot %d: notify stream", w->w_slot->s_id);
	w->w_sfd = sv[0];
	*workerfd = sv[1];

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%d.%lu",
	    master.m_notifydir, w->w_slot->s_id, ++master.m_serial) >=
	    (int)sizeof(sun.sun_path)) {
		if (!toolong++)
			log_warnx("%s: too long for a unix socket path; "
			    "workers get DROVER_NOTIFY_FD but no "
			    "NOTIFY_SOCKET", master.m_notifydir);
		return 0;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		log_warn("slot %d: notify socket", w->w_slot->s_id);
		return 0;
	}
	/*
	 * bind(2) takes a path: the notify directory's descriptor through
	 * /proc/self/fd, so that the socket is made in the directory that
	 * was checked even if a directory above it is renamed meanwhile
	 * (the full path only where /proc is not mounted).  The socket file
	 * is then handled by its name in that directory, ours alone: mode
	 * 0600 through the umask, since a chmod(2) would follow whatever is
	 * at the path, and the owner without following a link.
	 */
	name = sun.sun_path + strlen(master.m_notifydir) + 1;
	bsun = sun;
	if (snprintf(bsun.sun_path, sizeof(bsun.sun_path),
	    "/proc/self/fd/%d/%s", notify_dirfd, name) >=
	    (int)sizeof(bsun.sun_path) || access("/proc/self/fd", F_OK) == -1)
		bsun = sun;
	(void)unlinkat(notify_dirfd, name, 0);
	mask = umask(0177);
	bound = bind(fd, (struct sockaddr *)&bsun, sizeof(bsun));
	(void)umask(mask);
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1 ||
	    bound == -1 || (c->c_uid != (uid_t)-1 && fchownat(notify_dirfd,
	    name, c->c_uid, c->c_gid, AT_SYMLINK_NOFOLLOW) == -1)) {
		log_warn("slot %d: notify socket %s", w->w_slot->s_id,
		    sun.sun_path);
		close(fd);
		if (bound == 0)
			(void)unlinkat(notify_dirfd, name, 0);
		return 0;
	}
	w->w_nfd = fd;
	w->w_npath = xstrdup(sun.sun_path);
	return 0;
}

/* The NOTIFY_SOCKET of w, or NULL. */
const char *
notify_socket_path(const struct worker *w)
{
	return w->w_npath;
}

/* Start watching the channels of w once it is forked. */
void
notify_start(struct worker *w)
{
	if (w->w_nfd != -1) {
		trust_setup(w->w_nfd);
		ev_io_init(&w->w_nio, notify_dgram_cb, w->w_nfd, EV_READ);
		w->w_nio.data = w;
		ev_io_start(EV_DEFAULT, &w->w_nio);
	}
	if (w->w_sfd != -1) {
		ev_io_init(&w->w_sio, notify_stream_cb, w->w_sfd, EV_READ);
		w->w_sio.data = w;
		ev_io_start(EV_DEFAULT, &w->w_sio);
	}
	ev_init(&w->w_watchdog, notify_watchdog_cb);
	w->w_watchdog.data = w;
	w->w_wdfired = 0;
}

/*
 * Close the channels of w, once it has exited: what it wrote last is
 * read first, then the sockets are closed and the socket file removed.
 */
void
notify_close(struct worker *w)
{
	ev_timer_stop(EV_DEFAULT, &w->w_watchdog);
	if (w->w_nfd != -1) {
		if (w->w_pid != 0)
			notify_dgram_cb(EV_DEFAULT, &w->w_nio, EV_READ);
		ev_io_stop(EV_DEFAULT, &w->w_nio);
		close(w->w_nfd);
		w->w_nfd = -1;
	}
	if (w->w_npath != NULL) {
		(void)unlinkat(notify_dirfd, strrchr(w->w_npath, '/') + 1, 0);
		free(w->w_npath);
		w->w_npath = NULL;
	}
	if (w->w_sfd != -1) {
		if (w->w_pid != 0)
			notify_stream_read(w);
		ev_io_stop(EV_DEFAULT, &w->w_sio);
		close(w->w_sfd);
		w->w_sfd = -1;
	}
	free(w->w_line);
	w->w_line = NULL;
	w->w_linelen = 0;
	w->w_discard = 0;
}

/*
 * Log a complaint about slot s, at most once every ten seconds per slot,
 * saying how many were not logged in between.
 */
static void
notify_complain(struct slot *s, const char *fmt, ...)
{
	char		 msg[512];
	va_list		 ap;
	ev_tstamp	 now = ev_now(EV_DEFAULT);

	if (s->s_lastlog != 0 && now - s->s_lastlog < 10) {
		s->s_quiet++;
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->s_quiet > 0)
		log_warnx("slot %d: %s (%lu more not logged)", s->s_id, msg,
		    s->s_quiet);
	else
		log_warnx("slot %d: %s", s->s_id, msg);
	s->s_lastlog = now;
	s->s_quiet = 0;
}

/*
 * Datagrams on the NOTIFY_SOCKET of a worker: check who sent each
 * (notify-trust.c), and read at most NOTIFY_BURST of them per wakeup.
 * The descriptors that came with a datagram are closed only once it was
 * handled, and so every one before it: a sender waiting for that
 * (BARRIER=1) is still there when its own datagram is checked.
 */
static void
notify_dgram_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker	*w = io->data;
	struct slot	*s = w->w_slot;
	struct msghdr	 msg;
	struct iovec	 iov;
	char		 buf[NOTIFY_MAX + 1];
	union {
		struct cmsghdr	 align;
		char		 space[TRUST_CMSG_SPACE];
	} control;
	enum trust	 t;
	ssize_t		 n;
	pid_t		 pid;
	int		 i;

	(void)loop;
	(void)revents;
	for (i = 0; i < NOTIFY_BURST; i++) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf) - 1;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control.space;
		msg.msg_controllen = sizeof(control.space);
		n = recvmsg(w->w_nfd, &msg, MSG_TRUNC | MSG_CMSG_CLOEXEC |
		    MSG_DONTWAIT);
		if (n == -1)
			return;
		if ((t = trust_sender(w, &msg, &pid)) != TRUST_OK)
			notify_reject(w, t, pid);
		else if ((size_t)n > sizeof(buf) - 1 ||
		    (msg.msg_flags & MSG_TRUNC) != 0) {
			s->s_nbad++;
			status_counted();
			notify_complain(s, "notify message of %zd bytes, over "
			    "%d: ignored", n, NOTIFY_MAX);
		} else {
			buf[n] = '\0';
			notify_message(w, buf, (size_t)n);
		}
		trust_release(&msg);
	}
}

/* A datagram from pid, which t says not to believe: count it, say why. */
static void
notify_reject(struct worker *w, enum trust t, pid_t pid)
{
	struct slot	*s = w->w_slot;

	s->s_nrejected++;
	status_counted();
	if (t == TRUST_UNKNOWN)
		notify_complain(s, "notify message without its sender's "
		    "credentials (or with too many descriptors): ignored");
	else if (t == TRUST_GONE)
		notify_complain(s, "notify message from pid %ld, gone before "
		    "it was read, so not known to descend from worker %ld: "
		    "ignored", (long)pid, (long)w->w_pid);
	else
		notify_complain(s, "notify message from pid %ld, not worker "
		    "%ld or its descendant: ignored", (long)pid,
		    (long)w->w_pid);
}

/*
 * The stream channel: read what is there (a bounded amount per wakeup),
 * act on every complete line, keep a partial one.
 */
static void
notify_stream_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	(void)loop;
	(void)revents;
	notify_stream_read(io->data);
}

static void
notify_stream_read(struct worker *w)
{
	char		 buf[NOTIFY_MAX + 1];
	ssize_t		 n;
	int		 i;

	for (i = 0; i < NOTIFY_BURST; i++) {
		n = read(w->w_sfd, buf, sizeof(buf) - 1);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* EOF: the worker and its children closed it. */
			ev_io_stop(EV_DEFAULT, &w->w_sio);
			return;
		}
		notify_stream_feed(w, buf, (size_t)n);
	}
}

/*
 * Bytes read from the stream channel of w (a separate function so that
 * t/fuzz/ can call it): act on every complete line, keep a partial one
 * in w_line, skip the rest of an over-long one.
 */
void
notify_stream_feed(struct worker *w, char *buf, size_t n)
{
	struct slot	*s = w->w_slot;
	char		*nl, *p;
	size_t		 len, take;

	for (p = buf, len = n; len > 0; p += take, len -= take) {
		nl = memchr(p, '\n', len);
		take = nl != NULL ? (size_t)(nl - p) + 1 : len;
		if (w->w_discard) {
			if (nl != NULL)
				w->w_discard = 0;
			continue;
		}
		if (w->w_linelen + take - (nl != NULL) > NOTIFY_MAX) {
			s->s_nbad++;
			status_counted();
			notify_complain(s, "notify line over %d bytes: "
			    "ignored", NOTIFY_MAX);
			w->w_linelen = 0;
			w->w_discard = nl == NULL;
			continue;
		}
		if (nl != NULL && w->w_linelen == 0) {
			notify_line(w, p, take - 1);
			continue;
		}
		if (w->w_line == NULL)
			w->w_line = xmalloc(NOTIFY_MAX + 1);
		memcpy(w->w_line + w->w_linelen, p, take);
		w->w_linelen += take;
		if (nl != NULL) {
			notify_line(w, w->w_line, w->w_linelen - 1);
			w->w_linelen = 0;
		}
	}
}

/* A datagram: one or more lines. */
void
notify_message(struct worker *w, char *buf, size_t len)
{
	char	*nl;
	size_t	 take;

	for (; len > 0; buf += take, len -= take) {
		nl = memchr(buf, '\n', len);
		take = nl != NULL ? (size_t)(nl - buf) + 1 : len;
		notify_line(w, buf, take - (nl != NULL));
	}
}

/*
 * One KEY=VALUE line from worker w (not NUL-terminated): check it and
 * act on it.  Empty lines are nothing.
 */
static void
notify_line(struct worker *w, char *line, size_t len)
{
	struct slot	*s = w->w_slot;
	const char	*eq;
	char		 esc[4 * 64 + 1];
	size_t		 klen, i, n;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return;
	eq = memchr(line, '=', len);
	klen = eq != NULL ? (size_t)(eq - line) : 0;
	for (i = 0; i < klen; i++)
		if (!((line[i] >= 'A' && line[i] <= 'Z') ||
		    (line[i] >= '0' && line[i] <= '9') || line[i] == '_'))
			break;
	if (klen == 0 || i < klen) {
		s->s_nbad++;
		status_counted();
		/* The worker's bytes, escaped, NULs included. */
		(void)text_log(esc, sizeof(esc), line, len > 64 ? 64 : len);
		notify_complain(s, "malformed notify message \"%s\": "
		    "ignored", esc);
		return;
	}
	s->s_nmsg++;
	status_counted();
#define IS(k)	(klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
	if (IS("READY") && len == klen + 2 && eq[1] == '1')
		slot_notify_ready(w);
	else if (IS("STOPPING") && len == klen + 2 && eq[1] == '1')
		slot_notify_stopping(w);
	else if (IS("RELOADING") && len == klen + 2 && eq[1] == '1')
		slot_notify_reloading(w);
	else if (IS("WATCHDOG") && len == klen + 2 && eq[1] == '1') {
		if (!w->w_closing && ev_is_active(&w->w_watchdog) &&
		    !w->w_wdfired) {
			ev_timer_again(EV_DEFAULT, &w->w_watchdog);
			w->w_wdping = 1;
		}
	} else if (IS("STATUS") && w == SLOT_CUR(s)) {
		/*
		 * Copied into the slot as it is, NULs and all (status.json
		 * escapes it): a flood of them allocates nothing.
		 */
		n = len - klen - 1 < NOTIFY_STATUS ? len - klen - 1 :
		    NOTIFY_STATUS;
		/* Never cut a UTF-8 sequence in two. */
		while (n > 0 && n < len - klen - 1 &&
		    ((unsigned char)eq[1 + n] & 0xc0) == 0x80)
			n--;
		memcpy(s->s_status, eq + 1, n);
		s->s_statuslen = n;
	}
#undef IS
}

/*
 * Arm the watchdog of w: it must send WATCHDOG=1 at least every
 * c_watchdog seconds from now on.  Idempotent: a running watchdog keeps
 * its deadline, and one that has fired (SIGABRT sent) or was stopped
 * with the worker (asked to stop) is not armed again.
 */
void
notify_watchdog_arm(struct worker *w)
{
	double	 t = w->w_conf->c_watchdog;

	if (t <= 0 || ev_is_active(&w->w_watchdog) || w->w_wdfired ||
	    w->w_termsent)
		return;
	w->w_watchdog.repeat = t;
	ev_timer_again(EV_DEFAULT, &w->w_watchdog);
}

/*
 * The watchdog of a worker expired: a worker silent for longer than
 * watchdog gets SIGABRT, so it can dump core; if it is still there a
 * stop timeout later, SIGKILL (with its process group).  Its slot is
 * refilled as after any exit.  What the worker sent is read first: a
 * master that was stopped or starved for longer than watchdog finds the
 * timer expired and the worker's pings waiting at once, and libev runs
 * the timer first; a WATCHDOG=1 among them rearms the timer instead.
 */
static void
notify_watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	(void)revents;
	if (!w->w_wdfired) {
		w->w_wdping = 0;
		if (w->w_nfd != -1)
			notify_dgram_cb(loop, &w->w_nio, EV_READ);
		if (w->w_sfd != -1 && ev_is_active(&w->w_sio))
			notify_stream_read(w);
		if (w->w_wdping)
			return;
		log_warnx("slot %d: worker %ld sent no WATCHDOG=1 for %gs: "
		    "sending SIGABRT", w->w_slot->s_id, (long)w->w_pid,
		    w->w_conf->c_watchdog);
		w->w_killreason = "watchdog";
		worker_kill(w, SIGABRT);
		w->w_wdfired = 1;
		t->repeat = w->w_conf->c_stop_timeout > 0 ?
		    w->w_conf->c_stop_timeout : 1;
		ev_timer_again(EV_DEFAULT, t);
		return;
	}
	log_warnx("slot %d: worker %ld still running after SIGABRT: sending "
	    "SIGKILL", w->w_slot->s_id, (long)w->w_pid);
	worker_kill(w, SIGKILL);
	ev_timer_stop(EV_DEFAULT, t);
}
