/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The optional health endpoint (health = ADDRESS): a tiny HTTP/1.0
 * server in the master's own loop, on a listener of its own that no
 * worker receives.  It answers GET /healthz/liveness (200: the loop
 * runs), GET /healthz/readiness (200 or 503, as the ready file),
 * GET /status (status.json) and GET /metrics (metrics.c), and closes
 * every connection after one answer.  It cannot block the master:
 * sockets are non-blocking, a request may be at most HEALTH_MAXREQ bytes
 * and must arrive within HEALTH_TIMEOUT seconds, and connections live in
 * a fixed table of HEALTH_MAXCONN places.  When every place is taken, a
 * new connection takes the place of the oldest, which is closed
 * unanswered (and counted): clients that connect and send nothing cannot
 * keep a probe out, since a probe sends its request at once and is
 * answered in the wakeup that accepts it, while an idle connection is
 * the oldest after HEALTH_MAXCONN newer ones.  A limit per peer would
 * not do: a probe and an abuser often share an address (the node's,
 * loopback's, a unix socket's), and the limit would keep out the probe
 * with the abuser.  Memory is the table and, per answer being written,
 * the answer's body, built for that request alone; it is freed with the
 * connection.  When accept fails for want of descriptors (or any other
 * lasting reason), the listener pauses and is tried again from a timer,
 * and the failure is logged once a minute at most: never a busy loop.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

#define HEALTH_TIMEOUT	5.0
#define HEALTH_MAXCONN	16
#define HEALTH_MAXHEAD	192
/* After a failed accept: pause this long, complain this often. */
#define HEALTH_RETRY	0.5
#define HEALTH_LOGEVERY	60.0

struct hconn {
	int		 h_fd;		/* -1: the place is free */
	unsigned long	 h_seq;		/* order of accept: the oldest goes */
	ev_io		 h_io;
	ev_timer	 h_timer;
	char		 h_req[HEALTH_MAXREQ + 1];
	size_t		 h_len;
	char		 h_head[HEALTH_MAXHEAD];	/* the answer's head */
	size_t		 h_headlen;
	const char	*h_body;	/* and its body */
	size_t		 h_bodylen;
	char		*h_own;		/* the body, if it is to be freed */
	size_t		 h_off;		/* what was written of both */
};

static void	 health_accept_cb(struct ev_loop *, ev_io *, int);
static void	 health_read_cb(struct ev_loop *, ev_io *, int);
static void	 health_write_cb(struct ev_loop *, ev_io *, int);
static void	 health_timeout_cb(struct ev_loop *, ev_timer *, int);
static void	 health_answer(struct hconn *, enum health_req);
static void	 health_reply(struct hconn *, int, const char *,
		    const char *, size_t);
static void	 health_give(struct hconn *, char *, size_t, const char *);
static void	 health_close(struct hconn *);
static struct hconn *health_place(void);
static void	 health_pause(struct ev_loop *, ev_io *);
static void	 health_port_learn(int);
static void	 health_retry_cb(struct ev_loop *, ev_timer *, int);

static struct listener	*health_l;
static ev_io		 health_io;
static struct hconn	 health_conn[HEALTH_MAXCONN];
static unsigned long	 health_seq;
static unsigned long	 health_evicted;	/* closed to make room */
static ev_timer		 health_retry;
static ev_tstamp	 health_lastlog;
static unsigned long	 health_quiet;

/*
 * Open the health listener at addr, or take fd, the one an upgrade
 * handed over.  A unix socket file left by a master that is gone is
 * removed first.  Returns -1 after logging.
 */
int
health_init(const char *addr, int fd)
{
	const char	*e;
	int		 one = 1, i;

	if (addr == NULL)
		return 0;
	for (i = 0; i < HEALTH_MAXCONN; i++)
		health_conn[i].h_fd = -1;
	health_l = xcalloc(1, sizeof(*health_l));
	if (listen_parse(addr, 0, health_l, &e) == -1) {
		log_warnx("health %s: %s", addr, e);
		return -1;
	}
	if (fd != -1) {
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		(void)fcntl(fd, F_SETFL, O_NONBLOCK);
		goto watch;
	}
	if (health_l->l_type == LISTEN_UNIX &&
	    listen_unix_free(health_l) == -1) {
		log_warn("health %s", addr);
		return -1;
	}
	fd = socket(health_l->l_ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd == -1 || (health_l->l_type == LISTEN_TCP &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1) ||
	    bind(fd, (struct sockaddr *)&health_l->l_ss,
	    health_l->l_sslen) == -1 || listen(fd, 64) == -1) {
		log_warn("health %s", addr);
		if (fd != -1)
			close(fd);
		return -1;
	}
 watch:
	health_port_learn(fd);
	ev_io_init(&health_io, health_accept_cb, fd, EV_READ);
	ev_io_start(EV_DEFAULT, &health_io);
	ev_timer_init(&health_retry, health_retry_cb, HEALTH_RETRY, 0);
	return 0;
}

/* The health listener, for an upgrade to hand over; -1 if none. */
int
health_fd(void)
{
	return health_l != NULL ? health_io.fd : -1;
}

/* The health listener's bound port (after port 0), for status.json. */
static void
health_port_learn(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (health_l->l_type != LISTEN_TCP ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET)
		health_l->l_port =
		    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else
		health_l->l_port =
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Write the health listener for status.json, or nothing. */
void
health_status(FILE *fp)
{
	if (health_l == NULL) {
		fputs("null", fp);
		return;
	}
	fputs("{\"address\": ", fp);
	status_str(fp, health_l->l_addr);
	fprintf(fp, ", \"port\": %d, \"evicted\": %lu}", health_l->l_port,
	    health_evicted);
}

/* Connections closed to make room, for the metrics. */
unsigned long
health_nevicted(void)
{
	return health_evicted;
}

/* Close the listener, at exit. */
void
health_close_all(void)
{
	if (health_l == NULL)
		return;
	ev_io_stop(EV_DEFAULT, &health_io);
	ev_timer_stop(EV_DEFAULT, &health_retry);
	close(health_io.fd);
	if (health_l->l_type == LISTEN_UNIX)
		(void)unlink(health_l->l_path);
}

/*
 * Accept what is waiting, a bounded number per wakeup, each into a place
 * of the table (health_place()), and read at once: a probe's request is
 * usually there already, and is answered before anything else can take
 * its place.
 */
static void
health_accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct hconn	*h;
	int		 fd, i;

	(void)revents;
	for (i = 0; i < HEALTH_MAXCONN; i++) {
		fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				health_pause(loop, io);
			return;
		}
		h = health_place();
		h->h_fd = fd;
		h->h_seq = ++health_seq;
		h->h_len = 0;
		h->h_req[0] = '\0';
		h->h_own = NULL;
		ev_io_init(&h->h_io, health_read_cb, fd, EV_READ);
		h->h_io.data = h;
		ev_io_start(loop, &h->h_io);
		ev_timer_init(&h->h_timer, health_timeout_cb, HEALTH_TIMEOUT,
		    0);
		h->h_timer.data = h;
		ev_timer_start(loop, &h->h_timer);
		health_read_cb(loop, &h->h_io, EV_READ);
	}
}

/*
 * A free place of the table or, when every place is taken, that of the
 * connection accepted first, closed unanswered.  Under a crowd of idle
 * clients, the one closed is always one of theirs unless a probe is
 * slower to send its request than HEALTH_MAXCONN clients to connect.
 */
static struct hconn *
health_place(void)
{
	struct hconn	*h, *old = &health_conn[0];

	for (h = health_conn; h < health_conn + HEALTH_MAXCONN; h++) {
		if (h->h_fd == -1)
			return h;
		if (h->h_seq < old->h_seq)
			old = h;
	}
	health_close(old);
	health_evicted++;
	status_counted();
	return old;
}

/*
 * Out of descriptors, or worse: the connection waits in the queue, so
 * the listener would be readable again at once.  Pause it and try again
 * later, saying so once per HEALTH_LOGEVERY.
 */
static void
health_pause(struct ev_loop *loop, ev_io *io)
{
	ev_tstamp	 now = ev_now(loop);

	if (health_lastlog == 0 || now - health_lastlog >= HEALTH_LOGEVERY) {
		if (health_quiet > 0)
			log_warnx("health: accept: %s; trying again every "
			    "%gs (%lu more times since the last line)",
			    strerror(errno), HEALTH_RETRY, health_quiet);
		else
			log_warnx("health: accept: %s; trying again every "
			    "%gs", strerror(errno), HEALTH_RETRY);
		health_lastlog = now;
		health_quiet = 0;
	} else
		health_quiet++;
	ev_io_stop(loop, io);
	ev_timer_set(&health_retry, HEALTH_RETRY, 0);
	ev_timer_start(loop, &health_retry);
}

/* The pause after a failed accept is over: listen again. */
static void
health_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	ev_io_start(loop, &health_io);
}

static void
health_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct hconn	*h = io->data;
	ssize_t		 n;

	(void)loop;
	(void)revents;
	n = read(h->h_fd, h->h_req + h->h_len, HEALTH_MAXREQ - h->h_len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		health_close(h);
		return;
	}
	h->h_len += (size_t)n;
	h->h_req[h->h_len] = '\0';
	health_answer(h, health_request(h->h_req, h->h_len));
}

/*
 * What the request head in req (len bytes so far, NUL-terminated) asks
 * for; the path in it is cut at its end.  Only the request line counts:
 * the headers are read to the blank line that ends them and ignored.
 */
enum health_req
health_request(char *req, size_t len)
{
	static const struct {
		const char	*path;
		enum health_req	 what;
	} paths[] = {
		{ "/healthz/liveness",	HREQ_LIVENESS },
		{ "/healthz/readiness",	HREQ_READINESS },
		{ "/status",		HREQ_STATUS },
		{ "/metrics",		HREQ_METRICS }
	};
	char	*sp;
	size_t	 i;

	if (strstr(req, "\r\n\r\n") == NULL && strstr(req, "\n\n") == NULL)
		return len >= HEALTH_MAXREQ ? HREQ_LARGE : HREQ_MORE;
	if (strncmp(req, "GET ", 4) != 0)
		return HREQ_METHOD;
	if ((sp = strchr(req + 4, ' ')) != NULL)
		*sp = '\0';
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (strcmp(req + 4, paths[i].path) == 0)
			return paths[i].what;
	return HREQ_NOTFOUND;
}

/* Answer what the request asks for, once it is all in. */
static void
health_answer(struct hconn *h, enum health_req what)
{
	char	*body = NULL;
	size_t	 len = 0;
	FILE	*fp;

	switch (what) {
	case HREQ_MORE:
		break;
	case HREQ_LARGE:
		health_reply(h, 431, "request too large\n", "text/plain", 0);
		break;
	case HREQ_METHOD:
		health_reply(h, 405, "only GET\n", "text/plain", 0);
		break;
	case HREQ_LIVENESS:
		health_reply(h, 200, "alive\n", "text/plain", 0);
		break;
	case HREQ_READINESS:
		if (status_ready())
			health_reply(h, 200, "ready\n", "text/plain", 0);
		else
			health_reply(h, 503, "not ready\n", "text/plain", 0);
		break;
	case HREQ_STATUS:
		if ((fp = open_memstream(&body, &len)) == NULL) {
			health_reply(h, 500, "no memory\n", "text/plain", 0);
			break;
		}
		status_json(fp);
		if (fclose(fp) == EOF) {
			free(body);
			health_reply(h, 500, "no memory\n", "text/plain", 0);
			break;
		}
		health_give(h, body, len, "application/json");
		break;
	case HREQ_METRICS:
		if (metrics_build(&body, &len) == -1) {
			health_reply(h, 500, "cannot build the metrics\n",
			    "text/plain", 0);
			break;
		}
		health_give(h, body, len, METRICS_TYPE);
		break;
	case HREQ_NOTFOUND:
		health_reply(h, 404, "not found\n", "text/plain", 0);
		break;
	}
}

/*
 * Answer 200 with body, of len bytes, which the connection owns from now
 * on and frees when it closes (the answer of a single request: a scrape
 * leaves nothing behind).
 */
static void
health_give(struct hconn *h, char *body, size_t len, const char *type)
{
	h->h_own = body;
	health_reply(h, 200, body, type, len);
}

/*
 * Queue an answer (body stays where it is: a constant, or the buffer
 * the connection owns) and write what the socket takes now; the
 * connection closes once it is written.  h may be closed on return.
 */
static void
health_reply(struct hconn *h, int code, const char *body, const char *type,
    size_t len)
{
	const char	*reason;
	int		 n;

	if (len == 0)
		len = strlen(body);
	switch (code) {
	case 200:
		reason = "OK";
		break;
	case 404:
		reason = "Not Found";
		break;
	case 405:
		reason = "Method Not Allowed";
		break;
	case 431:
		reason = "Request Header Fields Too Large";
		break;
	case 503:
		reason = "Service Unavailable";
		break;
	default:
		reason = "Error";
		break;
	}
	n = snprintf(h->h_head, sizeof(h->h_head), "HTTP/1.0 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", code, reason, type, len);
	if (n < 0 || (size_t)n >= sizeof(h->h_head)) {
		health_close(h);
		return;
	}
	h->h_headlen = (size_t)n;
	h->h_body = body;
	h->h_bodylen = len;
	h->h_off = 0;
	ev_io_stop(EV_DEFAULT, &h->h_io);
	ev_io_init(&h->h_io, health_write_cb, h->h_fd, EV_WRITE);
	h->h_io.data = h;
	ev_io_start(EV_DEFAULT, &h->h_io);
	health_write_cb(EV_DEFAULT, &h->h_io, EV_WRITE);
}

/* Write what is left of the head and the body, in one call. */
static void
health_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct hconn	*h = io->data;
	struct iovec	 iov[2];
	struct msghdr	 msg;
	ssize_t		 n;
	int		 i = 0;

	(void)loop;
	(void)revents;
	if (h->h_off < h->h_headlen) {
		iov[i].iov_base = h->h_head + h->h_off;
		iov[i++].iov_len = h->h_headlen - h->h_off;
		iov[i].iov_base = (char *)(uintptr_t)h->h_body;
		iov[i++].iov_len = h->h_bodylen;
	} else {
		iov[i].iov_base = (char *)(uintptr_t)h->h_body +
		    (h->h_off - h->h_headlen);
		iov[i++].iov_len = h->h_bodylen - (h->h_off - h->h_headlen);
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = i;
	n = sendmsg(h->h_fd, &msg, MSG_NOSIGNAL);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || (h->h_off += (size_t)n) == h->h_headlen + h->h_bodylen)
		health_close(h);
}

static void
health_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	health_close(t->data);
}

/* Done with a client, answered or not: its place is free again. */
static void
health_close(struct hconn *h)
{
	ev_io_stop(EV_DEFAULT, &h->h_io);
	ev_timer_stop(EV_DEFAULT, &h->h_timer);
	close(h->h_fd);
	h->h_fd = -1;
	free(h->h_own);
	h->h_own = NULL;
}
