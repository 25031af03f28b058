/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Worker output with output = prefix.  A worker's standard output and
 * its standard error go to two pipes of their own, so that its lines say
 * which they came from (one pipe would mix them beyond telling); the
 * master reads whole lines from them and writes each to its own standard
 * error as "slot N pid P stdout: line" (or as a JSON object, log.c), so
 * lines of different workers never mix, with their control characters
 * escaped and a CR before the newline dropped.  A line that starts with
 * an sd-daemon(3) priority, "<0>" to "<7>", has it taken off and given to
 * log_compose(), which puts it in front of the whole line for the
 * journal; a line without one is "info", on either stream, as systemd
 * itself takes both.  A line longer than OUTPUT_LINE is cut into pieces
 * of that size, each with the first piece's priority.
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
#include <syslog.h>
#include <unistd.h>

#include "drover-master.h"

#define OUTPUT_LINE	4096
#define OUTPUT_QUEUE	(256 * 1024)
#define OUTPUT_BURST	16

static void	 output_read_cb(struct ev_loop *, ev_io *, int);
static void	 output_write_cb(struct ev_loop *, ev_io *, int);
static void	 output_line(struct outpipe *, const char *, size_t);
static void	 output_flush(void);
static void	 output_queue(const char *, size_t);
static void	 output_split(struct outpipe *, const char *, size_t);
static void	 output_pipes(struct worker *);

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
	/* The master's own lines, formatted with their newline. */
	log_setsink(output_queue);
	return 0;
}

/* Lines dropped because the sink was too slow, for status.json. */
unsigned long
output_dropped(void)
{
	return out_dropped;
}

/*
 * The pipe structures of worker w, made the first time and kept for the
 * next workers of the structure; both closed.
 */
static void
output_pipes(struct worker *w)
{
	int	 i;

	if (w->w_out == NULL)
		w->w_out = xcalloc(2, sizeof(*w->w_out));
	for (i = 0; i < 2; i++) {
		w->w_out[i].op_fd = -1;
		w->w_out[i].op_w = w;
	}
}

/* The read end of worker w's standard output (i = 0) or error, or -1. */
int
output_fd(const struct worker *w, int i)
{
	return w->w_out != NULL ? w->w_out[i].op_fd : -1;
}

/*
 * Before worker w is forked: the pipes its standard output and error go
 * to.  Their write ends go to wfd[0] and wfd[1]; -1 if the pipes cannot
 * be made (the worker then inherits the master's).
 */
int
output_open(struct worker *w, int wfd[2])
{
	int	 p[2], i;

	wfd[0] = wfd[1] = -1;
	if (w->w_conf->c_output != OUTPUT_PREFIX)
		return 0;
	output_pipes(w);
	for (i = 0; i < 2; i++) {
		if (pipe2(p, O_CLOEXEC) == -1) {
			log_warn("slot %d: output pipe", w->w_slot->s_id);
			if (i == 1) {
				close(w->w_out[0].op_fd);
				close(wfd[0]);
				w->w_out[0].op_fd = wfd[0] = -1;
			}
			return -1;
		}
		(void)fcntl(p[0], F_SETFL, O_NONBLOCK);
		w->w_out[i].op_fd = p[0];
		wfd[i] = p[1];
	}
	return 0;
}

/*
 * In a new image of an upgrade: the pipes of adopted worker w, as the
 * handoff spells them, "OFD,EFD"; an image from before the two pipes
 * wrote "OFD" alone, one pipe for both streams, whose lines are then
 * said to be on "output".  Anything but a pipe is not read.  Returns
 * -1 if field does not read.
 */
int
output_adopt(struct worker *w, const char *field)
{
	struct stat	 st;
	const char	*e;
	char		 buf[32], *comma;
	int		 i, fd;

	if (strlcpy(buf, field, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((comma = strchr(buf, ',')) != NULL)
		*comma = '\0';
	output_pipes(w);
	for (i = 0; i < 2; i++) {
		if (i == 1 && comma == NULL)
			break;
		fd = (int)strtonum(i == 0 ? buf : comma + 1, -1, INT32_MAX,
		    &e);
		if (e != NULL)
			return -1;
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
			w->w_out[i].op_fd = fd;
	}
	/* They write to pipes: keep reading them. */
	if (w->w_out[0].op_fd != -1 || w->w_out[1].op_fd != -1)
		output_init(1);
	return 0;
}

/* Once w is forked: watch its pipes. */
void
output_start(struct worker *w)
{
	struct outpipe	*op;
	int		 i;

	for (i = 0; i < 2 && w->w_out != NULL; i++) {
		op = &w->w_out[i];
		op->op_w = w;
		op->op_cut = 0;
		if (op->op_fd == -1)
			continue;
		ev_io_init(&op->op_io, output_read_cb, op->op_fd, EV_READ);
		op->op_io.data = op;
		ev_io_start(EV_DEFAULT, &op->op_io);
	}
}

/* w has exited: take what is left in its pipes, then close them. */
void
output_close(struct worker *w)
{
	struct outpipe	*op;
	int		 i;

	for (i = 0; i < 2 && w->w_out != NULL; i++) {
		op = &w->w_out[i];
		if (op->op_fd == -1)
			continue;
		if (w->w_pid != 0)
			output_read_cb(EV_DEFAULT, &op->op_io, EV_READ);
		if (op->op_len > 0)
			output_line(op, op->op_buf, op->op_len);
		ev_io_stop(EV_DEFAULT, &op->op_io);
		close(op->op_fd);
		op->op_fd = -1;
		free(op->op_buf);
		op->op_buf = NULL;
		op->op_len = 0;
	}
}

/*
 * Queue one line (without its newline) from pipe op, with its prefix
 * and escaped (log_compose()), so that a carriage return or a terminal
 * escape cannot hide the prefix or pass for a line of the master's; its
 * "<N>" is taken off unless it continues a line that was cut.
 */
static void
output_line(struct outpipe *op, const char *text, size_t len)
{
	struct worker	*w = op->op_w;
	struct logsrc	 ls;
	const char	*line;
	size_t		 n;

	if (len > 0 && text[len - 1] == '\r')
		len--;			/* CRLF ends a line too */
	if (!op->op_cut) {
		op->op_pri = LOG_INFO;
		op->op_given = 0;
		if (len >= 3 && text[0] == '<' && text[1] >= '0' &&
		    text[1] <= '7' && text[2] == '>') {
			op->op_pri = text[1] - '0';
			op->op_given = 1;
			text += 3;
			len -= 3;
		}
	}
	ls.ls_slot = w->w_slot->s_id;
	ls.ls_pid = (long)w->w_pid;
	ls.ls_gen = w->w_gen;
	ls.ls_given = op->op_given;
	if (op == &w->w_out[1])
		ls.ls_stream = "stderr";
	else
		ls.ls_stream = w->w_out[1].op_fd == -1 ? "output" : "stdout";
	n = log_compose(op->op_pri, &ls, text, len, &line);
	output_queue(line, n);
}

/*
 * Queue a line, newline included, or drop and count it if the queue has
 * no room, then write what the sink takes.
 */
static void
output_queue(const char *line, size_t len)
{
	if (out_len + len > OUTPUT_QUEUE) {
		out_dropped++;
		status_counted();
		return;
	}
	memcpy(out_q + out_len, line, len);
	out_len += len;
	output_flush();
}

/*
 * Read what the worker wrote, a bounded amount per wakeup, and queue
 * every whole line; a partial one waits in the pipe's buffer until its
 * end comes, or is cut at OUTPUT_LINE.
 */
static void
output_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct outpipe	*op = io->data;
	char		 buf[OUTPUT_LINE];
	ssize_t		 n;
	int		 i;

	(void)loop;
	(void)revents;
	for (i = 0; i < OUTPUT_BURST; i++) {
		n = read(op->op_fd, buf, sizeof(buf));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			ev_io_stop(EV_DEFAULT, io);
			return;
		}
		output_split(op, buf, (size_t)n);
	}
}

/* Queue the whole lines in len bytes read from op; keep the rest. */
static void
output_split(struct outpipe *op, const char *p, size_t len)
{
	const char	*nl;
	size_t		 take;

	for (; len > 0; p += take, len -= take) {
		nl = memchr(p, '\n', len);
		take = nl != NULL ? (size_t)(nl - p) + 1 : len;
		if (op->op_buf == NULL)
			op->op_buf = xmalloc(OUTPUT_LINE);
		if (op->op_len + take - (nl != NULL) > OUTPUT_LINE) {
			/* Cut a long line where the buffer ends. */
			take = OUTPUT_LINE - op->op_len;
			memcpy(op->op_buf + op->op_len, p, take);
			output_line(op, op->op_buf, OUTPUT_LINE);
			op->op_cut = 1;
			op->op_len = 0;
			continue;
		}
		memcpy(op->op_buf + op->op_len, p, take - (nl != NULL));
		op->op_len += take - (nl != NULL);
		if (nl != NULL) {
			output_line(op, op->op_buf, op->op_len);
			op->op_cut = 0;
			op->op_len = 0;
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
