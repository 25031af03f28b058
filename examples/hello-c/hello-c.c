/* SPDX-License-Identifier: ISC */

/*
 * hello-c is drover's example worker and the server its tests talk to: a
 * small HTTP/1.1 keep-alive server on libev, written against libdrover.
 * It serves the listening sockets it inherits (drover's, or systemd's
 * socket activation), tells its supervisor that it is ready once its event
 * loop runs, and reports how many connections it serves (STATUS=, at most
 * once a second).  It answers a handful of GET routes that show which
 * worker answered (/pid, /slot, /gen), stalls without blocking (/slow), and
 * dies on request (/crash, /exit).  On SIGTERM or SIGINT (delivered by
 * libdrover, which also keeps the watchdog fed) it says STOPPING=1, stops
 * accepting, finishes the requests it has, gives idle keep-alive
 * connections a linger period and exits 0 once no connection is left.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "drover.h"

#define IN_MAX		8192	/* request header limit, bytes */
#define OUT_MAX		4096	/* queued responses, bytes */
#define RESP_MAX	512	/* room one response needs in the queue */
#define IDLE_S		60.	/* idle or stalled connection timeout */
#define DRAIN_S		1.	/* wait for the client's FIN after ours */
#define PAUSE_S		.1	/* accept back-off after EMFILE and such */
#define SLOW_MAX_MS	60000
#define LINGER_MAX_MS	3600000
#define STATUS_S	1.	/* at most one STATUS= message per second */

/* c_flags */
#define C_CLOSE		0x01	/* close once the queued output is sent */
#define C_EOF		0x02	/* the client has shut down its side */
#define C_DRAIN		0x04	/* our FIN is sent; discard input until EOF */
#define C_LINGER	0x08	/* stopping, idle: the timer is the linger */
#define C_DEAD		0x10	/* I/O error: free without further ado */
#define C_SLOWKEEP	0x20	/* the pending /slow request wants keep-alive */

struct conn {
	LIST_ENTRY(conn) c_entry;
	ev_io		 c_rio;
	ev_io		 c_wio;
	ev_timer	 c_timer;	/* idle, linger or drain deadline */
	ev_timer	 c_slow;	/* a /slow response not yet due */
	int		 c_fd;
	int		 c_flags;
	size_t		 c_inlen;
	size_t		 c_outoff;
	size_t		 c_outlen;
	char		 c_in[IN_MAX];
	char		 c_out[OUT_MAX];
};

static void	 usage(int) __attribute__((noreturn));
static long long parse_ms(const char *, const char *, int);
static int	 listen_fds(void);
static void	 ready_cb(EV_P_ ev_timer *, int);
static void	 status_note(EV_P);
static void	 status_cb(EV_P_ ev_timer *, int);
static void	 accept_cb(EV_P_ ev_io *, int);
static void	 accept_pause(EV_P);
static void	 accept_resume_cb(EV_P_ ev_timer *, int);
static void	 term_cb(struct drover_worker *, void *);
static void	 conn_new(EV_P_ int);
static void	 conn_free(EV_P_ struct conn *);
static void	 conn_timer(EV_P_ struct conn *, ev_tstamp);
static void	 conn_progress(EV_P_ struct conn *);
static void	 conn_read_cb(EV_P_ ev_io *, int);
static void	 conn_write_cb(EV_P_ ev_io *, int);
static void	 conn_timer_cb(EV_P_ ev_timer *, int);
static void	 conn_slow_cb(EV_P_ ev_timer *, int);
static void	 conn_run(EV_P_ struct conn *);
static int	 conn_process(EV_P_ struct conn *);
static void	 conn_flush(EV_P_ struct conn *);
static void	 conn_update(EV_P_ struct conn *);
static void	 conn_request(EV_P_ struct conn *, char *, size_t);
static void	 conn_respond(struct conn *, const char *, const char *, int);
static int	 query_get(const char *, const char *, long long, long long,
		    long long *);
static const char *http_date(void);

static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);
static unsigned int	 nconns;
static ev_io		*listeners;
static int		 nlisteners;
static ev_timer		 accept_timer;
static ev_timer		 ready_timer;
static ev_timer		 status_timer;
static ev_tstamp	 status_last = -STATUS_S;
static char		 status_text[64];
static struct drover_worker *dw;
static int		 stopping;
static ev_tstamp	 linger_s = 1.;
static char		 pid_body[32], slot_body[32], gen_body[32];

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: %s [-h] [-L ms]\n"
	    "  -L, --linger MS  close idle connections MS after SIGTERM"
	    " (default 1000)\n", getprogname());
	exit(status);
}

/*
 * Parse a linger duration in milliseconds, naming its origin in the error
 * message; exit with the given status when it is not a number in range.
 */
static long long
parse_ms(const char *s, const char *what, int status)
{
	const char	*errstr;
	long long	 ms;

	ms = strtonum(s, 0, LINGER_MAX_MS, &errstr);
	if (errstr != NULL)
		errx(status, "%s \"%s\" is %s", what, s, errstr);
	return ms;
}

/*
 * Open the libdrover handle (removing the variables it reads from the
 * environment, so that nothing this worker might run inherits them) and
 * take the listening sockets it found.  A malformed variable, no socket
 * at all, or a descriptor that is not a listening socket is a
 * configuration error: exit 78, which drover does not restart.  The fds
 * are made non-blocking and close-on-exec.  Returns their number.
 */
static int
listen_fds(void)
{
	struct stat	 st;
	int		 i, n, fd, flags, on;
	socklen_t	 len;

	if (drover_open(&dw, DROVER_UNSETENV) == -1) {
		if (errno == EINVAL)
			errx(EX_CONFIG, "malformed LISTEN_*, DROVER_*, "
			    "NOTIFY_SOCKET or WATCHDOG_* variable in the "
			    "environment");
		err(EX_OSERR, "drover_open");
	}
	if ((n = drover_listen_count(dw)) <= 0)
		errx(EX_CONFIG, "no listening socket passed (LISTEN_FDS is "
		    "unset or 0, or LISTEN_PID is not my pid %ld): run me "
		    "under drover or another socket activation manager",
		    (long)getpid());

	for (i = 0; i < n; i++) {
		fd = drover_listen_fd(dw, i);
		len = sizeof(on);
		if (fd == -1 || fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode) ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) ||
		    !on)
			errx(EX_CONFIG, "fd %d (%s) is not a listening socket",
			    fd, drover_listen_name(dw, i));
		if ((flags = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
			err(EX_OSERR, "fcntl fd %d", fd);
	}
	return n;
}

/*
 * The event loop runs: tell the supervisor we are ready (the listening
 * sockets were ready all along; the loop running is what makes this
 * worker able to serve them) and say how busy we are.  A failure to tell
 * is logged, not fatal: a supervisor that stopped listening cannot be
 * helped by our exit.
 */
static void
ready_cb(EV_P_ ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	if (drover_ready(dw) == -1)
		warn("drover_ready");
	status_cb(EV_A_ &status_timer, 0);
}

/*
 * The number of connections or the stopping state changed: report it,
 * at once if the last report is STATUS_S old, else when it will be.  The
 * report itself is skipped when the text did not change in between.
 */
static void
status_note(EV_P)
{
	ev_tstamp	 delay;

	if (ev_is_active(&status_timer) || ev_is_active(&ready_timer))
		return;
	delay = status_last + STATUS_S - ev_now(EV_A);
	ev_timer_set(&status_timer, delay > 0. ? delay : 0., 0.);
	ev_timer_start(EV_A_ &status_timer);
}

/* Send STATUS= with the current text, unless it was the last one sent. */
static void
status_cb(EV_P_ ev_timer *w, int revents)
{
	char	 text[sizeof(status_text)];

	(void)w;
	(void)revents;
	if (stopping)
		(void)snprintf(text, sizeof(text), "stopping: %u connection%s "
		    "left", nconns, nconns == 1 ? "" : "s");
	else
		(void)snprintf(text, sizeof(text), "serving %u connection%s",
		    nconns, nconns == 1 ? "" : "s");
	if (strcmp(text, status_text) == 0)
		return;
	status_last = ev_now(EV_A);
	(void)strlcpy(status_text, text, sizeof(status_text));
	if (drover_status(dw, "%s", text) == -1)
		warn("drover_status");
}

/*
 * Accept every pending connection of a listener.  An aborted connection
 * is skipped; running out of descriptors or memory (or anything else)
 * pauses all listeners briefly instead of spinning on a readable socket
 * that cannot be accepted.  The error is logged once, not at every retry.
 */
static void
accept_cb(EV_P_ ev_io *w, int revents)
{
	static int	 last_errno;
	int		 fd;

	(void)revents;
	for (;;) {
		fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			last_errno = 0;
			conn_new(EV_A_ fd);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno != last_errno)
			warn("accept (pausing)");
		last_errno = errno;
		accept_pause(EV_A);
		return;
	}
}

static void
accept_pause(EV_P)
{
	int	 i;

	for (i = 0; i < nlisteners; i++)
		ev_io_stop(EV_A_ &listeners[i]);
	ev_timer_set(&accept_timer, PAUSE_S, 0.);
	ev_timer_start(EV_A_ &accept_timer);
}

static void
accept_resume_cb(EV_P_ ev_timer *w, int revents)
{
	int	 i;

	(void)w;
	(void)revents;
	for (i = 0; i < nlisteners && !stopping; i++)
		ev_io_start(EV_A_ &listeners[i]);
}

/*
 * SIGTERM or SIGINT, through libdrover (arg is the loop): say STOPPING=1,
 * stop accepting and close our copies of the listening sockets, then let
 * every connection decide its fate in conn_update(): busy ones finish and
 * close, idle ones linger.  A repeated signal changes nothing.
 */
static void
term_cb(struct drover_worker *w, void *arg)
{
	struct ev_loop	*loop = arg;
	struct conn	*c, *tmp;
	int		 i;

	if (stopping)
		return;
	if (drover_stopping(w) == -1)
		warn("drover_stopping");
	stopping = 1;
	/* Stopping before the loop ran: never claim to be ready. */
	ev_timer_stop(EV_A_ &ready_timer);
	/* This change is worth telling at once. */
	ev_timer_stop(EV_A_ &status_timer);
	status_cb(EV_A_ &status_timer, 0);
	ev_timer_stop(EV_A_ &accept_timer);
	for (i = 0; i < nlisteners; i++) {
		ev_io_stop(EV_A_ &listeners[i]);
		close(listeners[i].fd);
	}
	LIST_FOREACH_SAFE(c, &conns, c_entry, tmp)
		conn_update(EV_A_ c);
	if (nconns == 0)
		ev_break(EV_A_ EVBREAK_ALL);
}

static void
conn_new(EV_P_ int fd)
{
	struct conn	*c;
	int		 on = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		warn("calloc");
		close(fd);
		return;
	}
	/* Fails harmlessly on unix sockets. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	c->c_fd = fd;
	ev_io_init(&c->c_rio, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->c_wio, conn_write_cb, fd, EV_WRITE);
	ev_init(&c->c_timer, conn_timer_cb);
	ev_init(&c->c_slow, conn_slow_cb);
	c->c_rio.data = c->c_wio.data = c->c_timer.data = c->c_slow.data = c;
	LIST_INSERT_HEAD(&conns, c, c_entry);
	nconns++;
	status_note(EV_A);
	conn_timer(EV_A_ c, IDLE_S);
	ev_io_start(EV_A_ &c->c_rio);
}

/* Release a connection; the last one to go ends a graceful stop. */
static void
conn_free(EV_P_ struct conn *c)
{
	ev_io_stop(EV_A_ &c->c_rio);
	ev_io_stop(EV_A_ &c->c_wio);
	ev_timer_stop(EV_A_ &c->c_timer);
	ev_timer_stop(EV_A_ &c->c_slow);
	close(c->c_fd);
	LIST_REMOVE(c, c_entry);
	free(c);
	nconns--;
	status_note(EV_A);
	if (stopping && nconns == 0)
		ev_break(EV_A_ EVBREAK_ALL);
}

/* (Re)arm the connection's one deadline, s seconds from now. */
static void
conn_timer(EV_P_ struct conn *c, ev_tstamp s)
{
	c->c_timer.repeat = s;
	ev_timer_again(EV_A_ &c->c_timer);
}

/* Bytes moved: push the idle deadline back, unless lingering or draining. */
static void
conn_progress(EV_P_ struct conn *c)
{
	if (!(c->c_flags & (C_LINGER | C_DRAIN)))
		conn_timer(EV_A_ c, IDLE_S);
}

static void
conn_read_cb(EV_P_ ev_io *w, int revents)
{
	struct conn	*c = w->data;
	char		 junk[1024];
	ssize_t		 n;

	(void)revents;
	if (c->c_flags & C_DRAIN) {
		n = recv(c->c_fd, junk, sizeof(junk), 0);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			c->c_flags |= C_DEAD;
	} else {
		n = recv(c->c_fd, c->c_in + c->c_inlen,
		    sizeof(c->c_in) - c->c_inlen, 0);
		if (n > 0) {
			c->c_inlen += n;
			conn_progress(EV_A_ c);
		} else if (n == 0)
			c->c_flags |= C_EOF;
		else if (errno != EAGAIN && errno != EINTR)
			c->c_flags |= C_DEAD;
		conn_run(EV_A_ c);
	}
	conn_update(EV_A_ c);
}

static void
conn_write_cb(EV_P_ ev_io *w, int revents)
{
	struct conn	*c = w->data;

	(void)revents;
	conn_run(EV_A_ c);
	conn_update(EV_A_ c);
}

/* Idle timeout, end of the linger after a stop, or drain timeout. */
static void
conn_timer_cb(EV_P_ ev_timer *w, int revents)
{
	(void)revents;
	conn_free(EV_A_ w->data);
}

static void
conn_slow_cb(EV_P_ ev_timer *w, int revents)
{
	struct conn	*c = w->data;

	(void)revents;
	conn_respond(c, "200 OK", "slow\n", c->c_flags & C_SLOWKEEP);
	conn_run(EV_A_ c);
	conn_update(EV_A_ c);
}

/*
 * Answer the buffered requests and send the answers, for as long as both
 * make progress: sending frees room in the output queue for the answers to
 * further pipelined requests.
 */
static void
conn_run(EV_P_ struct conn *c)
{
	int	 n;

	do {
		n = conn_process(EV_A_ c);
		conn_flush(EV_A_ c);
	} while (n > 0 && !(c->c_flags & C_DEAD) &&
	    c->c_outoff == c->c_outlen);
}

/*
 * Take complete requests (up to CRLFCRLF) off the input buffer and queue
 * their responses, while there is room in the output queue and no /slow
 * response or close is pending.  A header that fills the buffer without
 * ending gets 431.  Returns the number of requests taken.
 */
static int
conn_process(EV_P_ struct conn *c)
{
	char	*end;
	size_t	 len, skip;
	int	 n = 0;

	while (!(c->c_flags & (C_CLOSE | C_DEAD)) &&
	    !ev_is_active(&c->c_slow) &&
	    sizeof(c->c_out) - c->c_outlen >= RESP_MAX) {
		/* Empty lines before a request line are allowed. */
		for (skip = 0; skip + 1 < c->c_inlen &&
		    c->c_in[skip] == '\r' && c->c_in[skip + 1] == '\n';)
			skip += 2;
		if (skip > 0) {
			memmove(c->c_in, c->c_in + skip, c->c_inlen - skip);
			c->c_inlen -= skip;
		}
		end = memmem(c->c_in, c->c_inlen, "\r\n\r\n", 4);
		if (end == NULL) {
			if (c->c_inlen == sizeof(c->c_in)) {
				conn_respond(c, "431 Request Header Fields "
				    "Too Large", "header too large\n", 0);
				c->c_inlen = 0;
			}
			break;
		}
		len = end + 4 - c->c_in;
		c->c_flags &= ~C_LINGER;
		conn_timer(EV_A_ c, IDLE_S);
		conn_request(EV_A_ c, c->c_in, len);
		memmove(c->c_in, c->c_in + len, c->c_inlen - len);
		c->c_inlen -= len;
		n++;
	}
	return n;
}

/* Send as much of the output queue as the socket takes. */
static void
conn_flush(EV_P_ struct conn *c)
{
	ssize_t	 n;

	while (c->c_outoff < c->c_outlen && !(c->c_flags & C_DEAD)) {
		n = send(c->c_fd, c->c_out + c->c_outoff,
		    c->c_outlen - c->c_outoff, MSG_NOSIGNAL);
		if (n > 0) {
			c->c_outoff += n;
			conn_progress(EV_A_ c);
		} else if (n == -1 && errno == EAGAIN)
			return;
		else if (n == 0 || errno != EINTR)
			c->c_flags |= C_DEAD;
	}
	c->c_outoff = c->c_outlen = 0;
}

/*
 * Bring the watchers in line with the connection's state, or free it.  This
 * is the last thing every event on a connection does, and the only place
 * besides the timer that frees one.  A connection that is done writing
 * after "Connection: close" sends its FIN; if the client has sent more
 * than we took (pipelined requests, a body), it then waits briefly for the
 * client's FIN, discarding input, so that unread data cannot turn our close
 * into a reset that destroys the response.  While stopping, an idle
 * connection lingers for linger_s or goes at once.
 */
static void
conn_update(EV_P_ struct conn *c)
{
	ssize_t	 n;
	int	 pending, rd;
	char	 ch;

	if (c->c_flags & C_DEAD) {
		conn_free(EV_A_ c);
		return;
	}
	pending = c->c_outoff < c->c_outlen;
	if (pending)
		ev_io_start(EV_A_ &c->c_wio);
	else
		ev_io_stop(EV_A_ &c->c_wio);
	if (ev_is_active(&c->c_slow)) {
		ev_io_stop(EV_A_ &c->c_rio);
		ev_timer_stop(EV_A_ &c->c_timer);
		return;
	}
	if (!pending && (c->c_flags & (C_CLOSE | C_EOF))) {
		if (c->c_flags & C_EOF) {
			conn_free(EV_A_ c);
			return;
		}
		if (!(c->c_flags & C_DRAIN)) {
			shutdown(c->c_fd, SHUT_WR);
			n = c->c_inlen > 0 ? 1 :
			    recv(c->c_fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
			if (n <= 0) {
				conn_free(EV_A_ c);
				return;
			}
			c->c_flags |= C_DRAIN;
			conn_timer(EV_A_ c, DRAIN_S);
		}
		ev_io_start(EV_A_ &c->c_rio);
		return;
	}
	if (stopping && !pending && !(c->c_flags & C_LINGER)) {
		if (linger_s == 0.) {
			conn_free(EV_A_ c);
			return;
		}
		c->c_flags |= C_LINGER;
		conn_timer(EV_A_ c, linger_s);
	}
	rd = !(c->c_flags & (C_CLOSE | C_EOF)) &&
	    c->c_inlen < sizeof(c->c_in) &&
	    sizeof(c->c_out) - c->c_outlen >= RESP_MAX;
	if (rd)
		ev_io_start(EV_A_ &c->c_rio);
	else
		ev_io_stop(EV_A_ &c->c_rio);
	if (!ev_is_active(&c->c_timer))
		ev_timer_again(EV_A_ &c->c_timer);
}

/*
 * Parse one request (len bytes ending in CRLFCRLF, modified in place) and
 * queue its response, start its /slow timer, or die as it asks.
 * HTTP/1.1 keeps the connection unless the client says "close"; HTTP/1.0
 * only with "keep-alive".  A request with a body is answered and the
 * connection closed, since the body is never read.
 */
static void
conn_request(EV_P_ struct conn *c, char *req, size_t len)
{
	char		*line, *p, *e, *method, *target, *version, *query;
	char		*name, *value, *tok;
	const char	*errstr;
	long long	 v;
	int		 http10, keep, tok_close = 0, tok_keep = 0, body = 0;

	if (memchr(req, '\0', len) != NULL)
		goto bad;
	req[len - 2] = '\0';	/* "line\r\n...line\r\n" remains */

	line = req;
	p = strstr(line, "\r\n");
	*p = '\0';
	p += 2;
	if (strpbrk(line, "\r\n") != NULL)
		goto bad;
	method = line;
	if ((target = strchr(method, ' ')) == NULL)
		goto bad;
	*target++ = '\0';
	if ((version = strchr(target, ' ')) == NULL)
		goto bad;
	*version++ = '\0';
	if (*method == '\0' || *target != '/')
		goto bad;
	if (strncmp(version, "HTTP/1.", 7) != 0 || version[7] < '0' ||
	    version[7] > '9' || version[8] != '\0') {
		if (strncmp(version, "HTTP/", 5) == 0) {
			conn_respond(c, "505 HTTP Version Not Supported",
			    "version not supported\n", 0);
			return;
		}
		goto bad;
	}
	http10 = version[7] == '0';

	while (*p != '\0') {
		line = p;
		e = strstr(p, "\r\n");
		*e = '\0';
		p = e + 2;
		if (strpbrk(line, "\r\n") != NULL || *line == ' ' ||
		    *line == '\t' || (value = strchr(line, ':')) == NULL ||
		    value == line || value[-1] == ' ' || value[-1] == '\t')
			goto bad;
		name = line;
		*value++ = '\0';
		value += strspn(value, " \t");
		for (e = value + strlen(value); e > value &&
		    (e[-1] == ' ' || e[-1] == '\t'); e--)
			e[-1] = '\0';
		if (strcasecmp(name, "Connection") == 0) {
			while ((tok = strsep(&value, ",")) != NULL) {
				tok += strspn(tok, " \t");
				tok[strcspn(tok, " \t")] = '\0';
				if (strcasecmp(tok, "close") == 0)
					tok_close = 1;
				else if (strcasecmp(tok, "keep-alive") == 0)
					tok_keep = 1;
			}
		} else if (strcasecmp(name, "Content-Length") == 0) {
			if (value[strspn(value, "0123456789")] != '\0')
				goto bad;
			v = strtonum(value, 0, LLONG_MAX, &errstr);
			if (errstr != NULL)
				goto bad;
			if (v > 0)
				body = 1;
		} else if (strcasecmp(name, "Transfer-Encoding") == 0)
			body = 1;
	}
	keep = !tok_close && (!http10 || tok_keep) && !body;

	if (strcmp(method, "GET") != 0) {
		conn_respond(c, "405 Method Not Allowed",
		    "method not allowed\n", keep);
		return;
	}
	if (body) {
		conn_respond(c, "413 Content Too Large",
		    "request bodies are not accepted\n", 0);
		return;
	}
	if ((query = strchr(target, '?')) != NULL)
		*query++ = '\0';
	if (strcmp(target, "/") == 0)
		conn_respond(c, "200 OK", "hello\n", keep);
	else if (strcmp(target, "/pid") == 0)
		conn_respond(c, "200 OK", pid_body, keep);
	else if (strcmp(target, "/slot") == 0)
		conn_respond(c, "200 OK", slot_body, keep);
	else if (strcmp(target, "/gen") == 0)
		conn_respond(c, "200 OK", gen_body, keep);
	else if (strcmp(target, "/slow") == 0) {
		if (query_get(query, "ms", 0, SLOW_MAX_MS, &v) == -1) {
			conn_respond(c, "400 Bad Request",
			    "ms must be 0..60000\n", keep);
			return;
		}
		if (keep)
			c->c_flags |= C_SLOWKEEP;
		else
			c->c_flags &= ~C_SLOWKEEP;
		ev_timer_set(&c->c_slow, v / 1000., 0.);
		ev_timer_start(EV_A_ &c->c_slow);
	} else if (strcmp(target, "/crash") == 0)
		abort();
	else if (strcmp(target, "/exit") == 0) {
		if (query_get(query, "code", 0, 255, &v) == -1) {
			conn_respond(c, "400 Bad Request",
			    "code must be 0..255\n", keep);
			return;
		}
		exit((int)v);
	} else
		conn_respond(c, "404 Not Found", "not found\n", keep);
	return;
bad:
	conn_respond(c, "400 Bad Request", "bad request\n", 0);
}

/*
 * Queue a response with the given status and body.  Every response says
 * whether the connection stays open; it does not once we are stopping.
 */
static void
conn_respond(struct conn *c, const char *status, const char *body, int keep)
{
	size_t	 room = sizeof(c->c_out) - c->c_outlen;
	int	 n;

	if (!keep || stopping)
		c->c_flags |= C_CLOSE;
	n = snprintf(c->c_out + c->c_outlen, room,
	    "HTTP/1.1 %s\r\n"
	    "Date: %s\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: %s\r\n"
	    "%s"
	    "\r\n"
	    "%s",
	    status, http_date(), strlen(body),
	    (c->c_flags & C_CLOSE) ? "close" : "keep-alive",
	    strncmp(status, "405", 3) == 0 ? "Allow: GET\r\n" : "", body);
	if (n < 0 || (size_t)n >= room) {
		warnx("response does not fit the output queue");
		c->c_flags |= C_DEAD;
		return;
	}
	c->c_outlen += n;
}

/*
 * Look up name=NUMBER in a query string (which may be NULL).  Sets *v and
 * returns 0 when present and in [min, max]; sets *v to 0 and returns 0 when
 * absent; returns -1 when malformed or out of range.
 */
static int
query_get(const char *query, const char *name, long long min, long long max,
    long long *v)
{
	const char	*p, *errstr;
	char		 buf[32];
	size_t		 nlen = strlen(name), vlen;

	*v = 0;
	for (p = query; p != NULL && *p != '\0'; p = strchr(p, '&')) {
		if (*p == '&')
			p++;
		if (strncmp(p, name, nlen) != 0 || p[nlen] != '=')
			continue;
		p += nlen + 1;
		vlen = strcspn(p, "&");
		if (vlen >= sizeof(buf))
			return -1;
		memcpy(buf, p, vlen);
		buf[vlen] = '\0';
		*v = strtonum(buf, min, max, &errstr);
		return errstr == NULL ? 0 : -1;
	}
	return 0;
}

/* The Date header's value, formatted at most once a second. */
static const char *
http_date(void)
{
	static char	 buf[40];
	static time_t	 last = -1;
	time_t		 now = time(NULL);
	struct tm	 tm;

	if (now != last && gmtime_r(&now, &tm) != NULL &&
	    strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
		last = now;
	return buf;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "linger",	required_argument,	NULL,	'L' },
		{ "help",	no_argument,		NULL,	'h' },
		{ NULL,		0,			NULL,	0 }
	};
	struct ev_loop	*loop;
	const char	*s;
	int		 ch, i, id;
	uint64_t	 gen;

	if ((s = getenv("HELLO_LINGER_MS")) != NULL)
		linger_s = parse_ms(s, "HELLO_LINGER_MS", EX_CONFIG) / 1000.;
	while ((ch = getopt_long(argc, argv, "hL:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'L':
			linger_s = parse_ms(optarg, "linger", EX_USAGE) / 1000.;
			break;
		case 'h':
			usage(0);
		default:
			usage(EX_USAGE);
		}
	}
	if (optind != argc)
		usage(EX_USAGE);

	nlisteners = listen_fds();
	snprintf(pid_body, sizeof(pid_body), "%ld\n", (long)getpid());
	if ((id = drover_worker_id(dw)) >= 0)
		snprintf(slot_body, sizeof(slot_body), "%d\n", id);
	else
		strlcpy(slot_body, "-\n", sizeof(slot_body));
	if ((gen = drover_generation(dw)) > 0)
		snprintf(gen_body, sizeof(gen_body), "%llu\n",
		    (unsigned long long)gen);
	else
		strlcpy(gen_body, "-\n", sizeof(gen_body));
	signal(SIGPIPE, SIG_IGN);

	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		errx(EX_OSERR, "cannot initialise libev");
	if ((listeners = calloc(nlisteners, sizeof(*listeners))) == NULL)
		err(EX_OSERR, "calloc");
	for (i = 0; i < nlisteners; i++) {
		ev_io_init(&listeners[i], accept_cb, drover_listen_fd(dw, i),
		    EV_READ);
		ev_io_start(loop, &listeners[i]);
	}
	ev_init(&accept_timer, accept_resume_cb);
	ev_init(&status_timer, status_cb);
	ev_timer_init(&ready_timer, ready_cb, 0., 0.);
	ev_timer_start(loop, &ready_timer);
	if (drover_ev_start(dw, loop, term_cb, loop) == -1)
		err(EX_OSERR, "drover_ev_start");

	ev_run(loop, 0);

	drover_ev_stop(dw);
	drover_close(dw);
	free(listeners);
	ev_loop_destroy(loop);
	return 0;
}
