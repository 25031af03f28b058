/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Worker output with output = prefix.  Each worker's standard output and
 * standard error go to one pipe of its own; the master reads whole lines
 * from it and writes them to its own standard error as "slot N pid P:
 * line", so lines of different workers never mix, with their control
 * characters escaped (text_log()) and a CR before the newline dropped.
 * A line longer than OUTPUT_LINE is cut into pieces of that size.
 * Nothing here can block a worker or the master: the pipes are drained
 * as they fill (a bounded amount per wakeup), and the lines wait in one
 * queue of OUTPUT_QUEUE bytes for a sink that is slow; a line that does
 * not fit is dropped and counted (status.json, output_dropped).  The
 * master writes to a pipe or terminal through a non-blocking descriptor
 * of its own, to a socket (the journal) with MSG_DONTWAIT, and to a
 * regular file directly, so it never changes the flags of a descriptor
 * it shares.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

#define OUTPUT_LINE	4096
#define OUTPUT_QUEUE	(256 * 1024)
#define OUTPUT_BURST	16

static void	 output_read_cb(struct ev_loop *, ev_io *, int);
static void	 output_write_cb(struct ev_loop *, ev_io *, int);
static void	 output_line(struct worker *, const char *, size_t);
static void	 output_flush(void);
static void	 output_queue(const char *, size_t, const char *, size_t);
static void	 output_log(const char *, size_t);

static int	 out_fd = -1;		/* ours, non-blocking */
static int	 out_sock;		/* standard error is a socket */
static char	*out_q;			/* the queue of whole lines */
static size_t	 out_len;
static ev_io	 out_io;
static unsigned long out_dropped;

/*
 * With output = prefix, or when force is set (workers adopted in an
 * upgrade still write to pipes), get a non-blocking way to write to our
 * standard error.  Returns -1 after logging.
 */
int
output_init(int force)
{
	struct stat	 st;
	int		 fd;

	if ((master.m_conf->c_output != OUTPUT_PREFIX && !force) ||
	    out_q != NULL)
		return 0;
	out_fd = STDERR_FILENO;
	if (fstat(STDERR_FILENO, &st) == 0 && S_ISSOCK(st.st_mode))
		out_sock = 1;		/* the journal: send(MSG_DONTWAIT) */
	else if (fstat(STDERR_FILENO, &st) == 0 && !S_ISREG(st.st_mode) &&
	    (fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK |
	    O_CLOEXEC)) != -1)
		out_fd = fd;		/* a pipe or terminal of our own */
	/* A regular file is written as it is: it does not block. */
	out_q = xmalloc(OUTPUT_QUEUE);
	ev_io_init(&out_io, output_write_cb, out_fd, EV_WRITE);
	log_setsink(output_log);
	return 0;
}

/* A log line of the master's own, already formatted with its newline. */
static void
output_log(const char *line, size_t len)
{
	output_queue("", 0, line, len - 1);
}

/* Lines dropped because the sink was too slow, for status.json. */
unsigned long
output_dropped(void)
{
	return out_dropped;
}

/*
 * Before worker w is forked: the pipe its standard output and error go
 * to.  The write end goes to *wfd; -1 if the pipe cannot be made (the
 * worker then inherits the master's).
 */
int
output_open(struct worker *w, int *wfd)
{
	int	 p[2];

	w->w_ofd = -1;
	*wfd = -1;
	if (w->w_conf->c_output != OUTPUT_PREFIX)
		return 0;
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("slot %d: output pipe", w->w_slot->s_id);
		return -1;
	}
	(void)fcntl(p[0], F_SETFL, O_NONBLOCK);
	w->w_ofd = p[0];
	*wfd = p[1];
	return 0;
}

/* Once w is forked: watch its pipe. */
void
output_start(struct worker *w)
{
	if (w->w_ofd == -1)
		return;
	ev_io_init(&w->w_oio, output_read_cb, w->w_ofd, EV_READ);
	w->w_oio.data = w;
	ev_io_start(EV_DEFAULT, &w->w_oio);
}

/* w has exited: take what is left in its pipe, then close it. */
void
output_close(struct worker *w)
{
	if (w->w_ofd == -1)
		return;
	if (w->w_pid != 0)
		output_read_cb(EV_DEFAULT, &w->w_oio, EV_READ);
	if (w->w_olen > 0)
		output_line(w, w->w_obuf, w->w_olen);
	ev_io_stop(EV_DEFAULT, &w->w_oio);
	close(w->w_ofd);
	w->w_ofd = -1;
	free(w->w_obuf);
	w->w_obuf = NULL;
	w->w_olen = 0;
}

/*
 * Queue one line of worker w (without its newline), with its prefix and
 * escaped by text_log(), so that a carriage return or a terminal escape
 * cannot hide the prefix or pass for a line of the master's; drop it if
 * the queue is full.
 */
static void
output_line(struct worker *w, const char *text, size_t len)
{
	char	 prefix[64], esc[4 * OUTPUT_LINE + 1];
	size_t	 elen;
	int	 n;

	n = snprintf(prefix, sizeof(prefix), "slot %d pid %ld: ",
	    w->w_slot->s_id, (long)w->w_pid);
	if (len > 0 && text[len - 1] == '\r')
		len--;			/* CRLF ends a line too */
	elen = text_log(esc, sizeof(esc), text, len);
	if (n > 0)
		output_queue(prefix, (size_t)n, esc, elen);
}

/*
 * Queue prefix and text as one line, or drop and count it if the queue
 * has no room, then write what the sink takes.
 */
static void
output_queue(const char *prefix, size_t plen, const char *text, size_t len)
{
	if (out_len + plen + len + 1 > OUTPUT_QUEUE) {
		out_dropped++;
		status_counted();
		return;
	}
	memcpy(out_q + out_len, prefix, plen);
	memcpy(out_q + out_len + plen, text, len);
	out_len += plen + len;
	out_q[out_len++] = '\n';
	output_flush();
}

/*
 * Read what the worker wrote, a bounded amount per wakeup, and queue
 * every whole line; a partial one waits in the worker's buffer until its
 * end comes, or is cut at OUTPUT_LINE.
 */
static void
output_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker	*w = io->data;
	char		 buf[OUTPUT_LINE], *p, *nl;
	size_t		 len, take;
	ssize_t		 n;
	int		 i;

	(void)loop;
	(void)revents;
	for (i = 0; i < OUTPUT_BURST; i++) {
		n = read(w->w_ofd, buf, sizeof(buf));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			ev_io_stop(EV_DEFAULT, io);
			return;
		}
		for (p = buf, len = (size_t)n; len > 0;
		    p += take, len -= take) {
			nl = memchr(p, '\n', len);
			take = nl != NULL ? (size_t)(nl - p) + 1 : len;
			if (w->w_obuf == NULL)
				w->w_obuf = xmalloc(OUTPUT_LINE);
			if (w->w_olen + take - (nl != NULL) > OUTPUT_LINE) {
				/* Cut a long line where the buffer ends. */
				take = OUTPUT_LINE - w->w_olen;
				memcpy(w->w_obuf + w->w_olen, p, take);
				output_line(w, w->w_obuf, OUTPUT_LINE);
				w->w_olen = 0;
				continue;
			}
			memcpy(w->w_obuf + w->w_olen, p, take - (nl != NULL));
			w->w_olen += take - (nl != NULL);
			if (nl != NULL) {
				output_line(w, w->w_obuf, w->w_olen);
				w->w_olen = 0;
			}
		}
	}
}

/* Write as much of the queue as the sink takes now. */
static void
output_flush(void)
{
	ssize_t	 n;

	while (out_len > 0) {
		if (out_sock)
			n = send(out_fd, out_q, out_len, MSG_DONTWAIT |
			    MSG_NOSIGNAL);
		else
			n = write(out_fd, out_q, out_len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			ev_io_start(EV_DEFAULT, &out_io);
			return;
		}
		if (n <= 0) {
			/* The sink is gone: what is queued is lost. */
			out_dropped++;
			out_len = 0;
			break;
		}
		memmove(out_q, out_q + n, out_len - (size_t)n);
		out_len -= (size_t)n;
	}
	ev_io_stop(EV_DEFAULT, &out_io);
}

/*
 * At exit: give the sink up to a second to take what is queued, then
 * write the master's last lines directly.
 */
void
output_finish(void)
{
	struct pollfd	 pfd;

	if (out_q == NULL)
		return;
	pfd.fd = out_fd;
	pfd.events = POLLOUT;
	while (out_len > 0 && poll(&pfd, 1, 1000) == 1)
		output_flush();
	log_setsink(NULL);
}

/* Before an upgrade's execve: write what the sink takes now. */
void
output_drain(void)
{
	if (out_q != NULL)
		output_flush();
}

static void
output_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	(void)loop;
	(void)io;
	(void)revents;
	output_flush();
}
